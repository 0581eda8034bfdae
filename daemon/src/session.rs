//! Runs workspace commands for one identity, with a cache, change events and a
//! background poller.
//!
//! A [`Session`] is the daemon's state for one identity `(server_url,
//! token_id)`: its upstream client, the workspace name (looked up once, as the
//! official client "hydrates" the workspace before every command), cached
//! collections ([`Slot`]s), and what it last saw of each scoped token's
//! environments. Reads are served from the cache while young enough;
//! mutations go upstream and then refresh the token list at once, so the next
//! read reflects them (read-your-writes) and their event goes out immediately.

use crate::cache::Slot;
use crate::events::{self, Change};
use crate::settings::{self, Settings};
use crate::upstream::{MutationKey, Upstream, UpstreamError};
use mws_ipc::{
    CreatedToken, ErrorKind, ErrorReply, Event, Freshness, Member, ProxyToken, Response, Secret,
    WorkspaceCommand,
};
use mws_modal_api::proto;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

/// Settings shared by the daemon and every session (hot-reloaded).
pub type SharedSettings = Arc<RwLock<Settings>>;

/// Longest wait between polls while the server keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ages shown by `mws daemon status`.
#[derive(Debug, Clone, Default)]
pub struct CacheAges {
    pub members: Option<Duration>,
    pub tokens: Option<Duration>,
    pub last_poll: Option<Duration>,
    pub polling: bool,
}

/// The daemon's state for one identity.
pub struct Session {
    pub upstream: Upstream,
    workspace: tokio::sync::OnceCell<String>,
    environment_ids: Mutex<HashMap<String, String>>,
    members: Slot<Vec<Member>>,
    tokens: Slot<Vec<ProxyToken>>,
    environment_tokens: Mutex<HashMap<String, Arc<Slot<Vec<ProxyToken>>>>>,
    token_environments: Mutex<HashMap<String, Vec<String>>>,
    scoped_cursor: AtomicUsize,
    last_used: Mutex<Instant>,
    last_poll: Mutex<Option<Instant>>,
    polling: AtomicBool,
    retired: AtomicBool,
    events: broadcast::Sender<Event>,
    /// Told about every token list fetched (plugins: expiry alerts).
    token_observer: std::sync::OnceLock<Arc<dyn crate::plugins::TokenObserver>>,
}

/// Converts one member as Modal sends it.
pub fn member_from_proto(item: &proto::WorkspaceMembersListItem) -> Member {
    let role = proto::MemberRole::try_from(item.member_role).unwrap_or_default();
    Member {
        name: item.member_displayname.clone(),
        email: item.email.clone(),
        role: mws_modal_api::member_role_name(role).to_string(),
        user_id: item.user_id.clone(),
        joined_at: item.joined_at,
        last_active_at: item.last_active_at,
    }
}

/// Converts one proxy token as Modal sends it.
pub fn token_from_proto(token: &proto::WebhookToken) -> ProxyToken {
    ProxyToken {
        token_id: token.token_id.clone(),
        name: token.name.clone(),
        created_at: token.created_at,
        created_by: token
            .created_by
            .as_ref()
            .map(|u| u.username.clone())
            .unwrap_or_default(),
        scoped: token.scoped,
    }
}

fn bad_request(message: impl Into<String>) -> ErrorReply {
    ErrorReply {
        kind: ErrorKind::BadRequest,
        message: message.into(),
    }
}

/// A poll interval with ±10% jitter, so identities do not poll in lockstep.
fn jittered(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let factor = 0.9 + (nanos % 1000) as f64 / 5000.0;
    base.mul_f64(factor)
}

impl Session {
    pub fn new(upstream: Upstream, events: broadcast::Sender<Event>) -> Self {
        Self {
            upstream,
            workspace: tokio::sync::OnceCell::new(),
            environment_ids: Mutex::new(HashMap::new()),
            members: Slot::default(),
            tokens: Slot::default(),
            environment_tokens: Mutex::new(HashMap::new()),
            token_environments: Mutex::new(HashMap::new()),
            scoped_cursor: AtomicUsize::new(0),
            last_used: Mutex::new(Instant::now()),
            last_poll: Mutex::new(None),
            polling: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            events,
            token_observer: std::sync::OnceLock::new(),
        }
    }

    /// Sets who is told about every fetched token list (once per session).
    pub fn set_token_observer(&self, observer: Arc<dyn crate::plugins::TokenObserver>) {
        let _ = self.token_observer.set(observer);
    }

    /// The workspace's name, looked up once per identity.
    pub async fn workspace_name(&self) -> Result<String, UpstreamError> {
        self.workspace
            .get_or_try_init(|| async {
                let response = self.upstream.workspace_name_lookup().await?;
                Ok(response.workspace_name)
            })
            .await
            .cloned()
    }

    /// The workspace name if it was already looked up.
    pub fn known_workspace_name(&self) -> Option<String> {
        self.workspace.get().cloned()
    }

    /// How long since anyone used this identity.
    pub fn idle_for(&self) -> Duration {
        lock(&self.last_used).elapsed()
    }

    /// True while a background poller runs for this identity.
    pub fn is_polling(&self) -> bool {
        self.polling.load(Ordering::SeqCst)
    }

    /// Marks the identity as in use (keeps its poller alive).
    pub fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }

    /// True when an event is about this session's workspace.
    pub fn owns(&self, event: &Event) -> bool {
        event.server_url == self.upstream.server_url
            && self
                .known_workspace_name()
                .map(|w| w == event.workspace)
                .unwrap_or(true)
    }

    /// Marks the session as no longer in use (credentials changed); its
    /// poller stops at its next wake-up.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
    }

    pub fn ages(&self) -> CacheAges {
        let (members, _) = self.members.ages().unwrap_or_default();
        let (tokens, _) = self.tokens.ages().unwrap_or_default();
        CacheAges {
            members,
            tokens,
            last_poll: lock(&self.last_poll).map(|t| t.elapsed()),
            polling: self.polling.load(Ordering::SeqCst),
        }
    }

    fn emit(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let workspace = self.known_workspace_name().unwrap_or_default();
        for change in changes {
            tracing::info!(kind = change.kind, %workspace, "workspace change");
            let _ = self.events.send(events::to_event(
                change,
                &workspace,
                &self.upstream.server_url,
            ));
        }
    }

    async fn fetch_members(&self) -> Result<Vec<Member>, ErrorReply> {
        let response = self.upstream.members_list().await?;
        Ok(response.members.iter().map(member_from_proto).collect())
    }

    async fn fetch_tokens(&self) -> Result<Vec<ProxyToken>, ErrorReply> {
        let response = self.upstream.token_list().await?;
        let tokens: Vec<ProxyToken> = response.tokens.iter().map(token_from_proto).collect();
        if let Some(observer) = self.token_observer.get() {
            let workspace = self.known_workspace_name().unwrap_or_default();
            observer.tokens_refreshed(&self.upstream.server_url, &workspace, &tokens);
        }
        Ok(tokens)
    }

    async fn environment_id(&self, name: &str) -> Result<String, UpstreamError> {
        if let Some(id) = lock(&self.environment_ids).get(name) {
            return Ok(id.clone());
        }
        let id = self.upstream.environment_lookup(name).await?;
        lock(&self.environment_ids).insert(name.to_string(), id.clone());
        Ok(id)
    }

    fn environment_slot(&self, name: &str) -> Arc<Slot<Vec<ProxyToken>>> {
        lock(&self.environment_tokens)
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    fn max_age(freshness: &Freshness, settings: &Settings) -> Duration {
        match freshness.max_age_secs {
            Some(secs) => Duration::from_secs(secs),
            None => settings.max_age,
        }
    }

    /// Runs one command, from the cache where allowed.
    pub async fn run(
        &self,
        command: &WorkspaceCommand,
        freshness: &Freshness,
        settings: &Settings,
        mutation: Option<&MutationKey>,
    ) -> Result<Response, ErrorReply> {
        *lock(&self.last_used) = Instant::now();
        self.workspace_name().await?;
        let max_age = if freshness.fresh {
            Duration::ZERO
        } else {
            Self::max_age(freshness, settings)
        };
        match command {
            WorkspaceCommand::MembersList => {
                let read = self.members.get(max_age, || self.fetch_members()).await?;
                if let Some(previous) = &read.previous {
                    self.emit(events::diff_members(previous, &read.value));
                }
                Ok(Response::Members(read.value))
            }
            WorkspaceCommand::TokensList { environment: None } => {
                let read = self.tokens.get(max_age, || self.fetch_tokens()).await?;
                if let Some(previous) = &read.previous {
                    self.emit(events::diff_tokens(previous, &read.value));
                }
                Ok(Response::Tokens(read.value))
            }
            WorkspaceCommand::TokensList {
                environment: Some(env),
            } => {
                let slot = self.environment_slot(env);
                let read = slot
                    .get(max_age, || async {
                        let response = self.upstream.token_list_for_environment(env).await?;
                        Ok(response.tokens.iter().map(token_from_proto).collect())
                    })
                    .await?;
                Ok(Response::Tokens(read.value))
            }
            _ => self.mutate(command, mutation).await,
        }
    }

    async fn mutate(
        &self,
        command: &WorkspaceCommand,
        mutation: Option<&MutationKey>,
    ) -> Result<Response, ErrorReply> {
        let response = match command {
            WorkspaceCommand::TokenCreate { name } => {
                let created = self
                    .upstream
                    .token_create(name.as_deref().unwrap_or(""), mutation)
                    .await?;
                Response::Created(CreatedToken {
                    token_id: created.token_id.clone(),
                    token_secret: Secret::new(created.token_secret.clone()),
                })
            }
            WorkspaceCommand::TokenUpdateName { token_id, name } => {
                if token_id.is_empty() {
                    return Err(bad_request("TOKEN_ID must not be empty"));
                }
                self.upstream.token_update(token_id, name, mutation).await?;
                Response::Ok
            }
            WorkspaceCommand::TokenDelete { token_id } => {
                if token_id.is_empty() {
                    return Err(bad_request("TOKEN_ID must not be empty"));
                }
                self.upstream.token_delete(token_id, mutation).await?;
                Response::Ok
            }
            WorkspaceCommand::TokenAllow {
                token_id,
                environment,
            }
            | WorkspaceCommand::TokenRevoke {
                token_id,
                environment,
            } => {
                let allow = matches!(command, WorkspaceCommand::TokenAllow { .. });
                let env_id = self.environment_id(environment).await?;
                let result = if allow {
                    self.upstream
                        .token_environment_add(token_id, &env_id, mutation)
                        .await
                } else {
                    self.upstream
                        .token_environment_remove(token_id, &env_id, mutation)
                        .await
                };
                if let Err(e) = result {
                    lock(&self.environment_ids).remove(environment.as_str());
                    return Err(e);
                }
                self.after_environment_change(token_id, &env_id, allow)
                    .await;
                Response::Ok
            }
            WorkspaceCommand::MembersList | WorkspaceCommand::TokensList { .. } => {
                return Err(bad_request("not a mutation"))
            }
            WorkspaceCommand::Settings(_)
            | WorkspaceCommand::ServiceUsers(_)
            | WorkspaceCommand::MemberTokens(_) => {
                return Err(bad_request("this command is not supported by this daemon yet"))
            }
        };
        self.after_token_mutation(command, &response).await;
        Ok(response)
    }

    /// After a mutation: drop per-environment lists, refresh the token list
    /// (read-your-writes) and emit what changed.
    async fn after_token_mutation(&self, command: &WorkspaceCommand, response: &Response) {
        let slots: Vec<_> = lock(&self.environment_tokens).values().cloned().collect();
        for slot in slots {
            slot.invalidate().await;
        }
        match self.tokens.refresh(|| self.fetch_tokens()).await {
            Ok(read) => match &read.previous {
                Some(previous) => self.emit(events::diff_tokens(previous, &read.value)),
                None => self.emit(synthesize(command, response, &read.value)),
            },
            Err(e) => {
                // The mutation itself succeeded; make sure no stale list is served.
                tracing::warn!("refresh after a mutation failed: {}", e.message);
                self.tokens.invalidate().await;
            }
        }
    }

    async fn after_environment_change(&self, token_id: &str, env_id: &str, allowed: bool) {
        let before = lock(&self.token_environments).get(token_id).cloned();
        let after = match self.upstream.token_environment_list(token_id).await {
            Ok(list) => list,
            Err(_) => return,
        };
        let before = before.unwrap_or_else(|| {
            let mut derived: Vec<String> = after.iter().filter(|e| *e != env_id).cloned().collect();
            if !allowed {
                derived.push(env_id.to_string());
            }
            derived
        });
        lock(&self.token_environments).insert(token_id.to_string(), after.clone());
        if let Some(change) = events::environments_change(token_id, &before, &after) {
            self.emit(vec![change]);
        }
    }

    /// One background refresh: members, tokens, and a bounded batch of
    /// scoped tokens' environments.
    async fn poll_once(&self) -> Result<(), ErrorReply> {
        self.workspace_name().await?;
        let read = self.members.refresh(|| self.fetch_members()).await?;
        if let Some(previous) = &read.previous {
            self.emit(events::diff_members(previous, &read.value));
        }
        let read = self.tokens.refresh(|| self.fetch_tokens()).await?;
        if let Some(previous) = &read.previous {
            self.emit(events::diff_tokens(previous, &read.value));
        }
        let scoped: Vec<&ProxyToken> = read.value.iter().filter(|t| t.scoped).collect();
        if !scoped.is_empty() {
            let start = self.scoped_cursor.load(Ordering::Relaxed) % scoped.len();
            let batch = scoped.len().min(settings::SCOPED_CHECKS_PER_POLL);
            for i in 0..batch {
                let token = scoped[(start + i) % scoped.len()];
                let after = self
                    .upstream
                    .token_environment_list(&token.token_id)
                    .await?;
                let before =
                    lock(&self.token_environments).insert(token.token_id.clone(), after.clone());
                if let Some(before) = before {
                    if let Some(change) =
                        events::environments_change(&token.token_id, &before, &after)
                    {
                        self.emit(vec![change]);
                    }
                }
            }
            self.scoped_cursor.store(start + batch, Ordering::Relaxed);
        }
        let live: std::collections::HashSet<&str> =
            read.value.iter().map(|t| t.token_id.as_str()).collect();
        lock(&self.token_environments).retain(|id, _| live.contains(id.as_str()));
        *lock(&self.last_poll) = Some(Instant::now());
        Ok(())
    }

    /// Starts the background poller unless one runs.
    pub fn ensure_poller(
        self: &Arc<Self>,
        settings: SharedSettings,
        shutdown: watch::Receiver<bool>,
    ) {
        if self.polling.swap(true, Ordering::SeqCst) {
            return;
        }
        let session = self.clone();
        tokio::spawn(async move {
            session.poll_loop(settings, shutdown).await;
            session.polling.store(false, Ordering::SeqCst);
        });
    }

    async fn poll_loop(&self, settings: SharedSettings, mut shutdown: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        loop {
            let current = settings.read().unwrap_or_else(|p| p.into_inner()).clone();
            let wait = if failures == 0 {
                jittered(current.poll_interval)
            } else {
                (current.poll_interval * 2u32.saturating_pow(failures)).min(MAX_BACKOFF)
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            if self.retired.load(Ordering::SeqCst) {
                return;
            }
            if lock(&self.last_used).elapsed() > current.idle_after {
                tracing::debug!(server = %self.upstream.server_url, "identity idle; polling stops");
                return;
            }
            match self.poll_once().await {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures = (failures + 1).min(8);
                    tracing::warn!(server = %self.upstream.server_url, "poll failed: {}", e.message);
                }
            }
        }
    }
}

/// Events for a mutation when there was no earlier list to compare with.
fn synthesize(
    command: &WorkspaceCommand,
    response: &Response,
    after: &[ProxyToken],
) -> Vec<Change> {
    let find = |id: &str| after.iter().find(|t| t.token_id == id);
    let json = |t: &ProxyToken| serde_json::to_value(t).unwrap_or_default();
    let id_only = |id: &str| serde_json::json!({ "token_id": id });
    match (command, response) {
        (WorkspaceCommand::TokenCreate { .. }, Response::Created(created)) => {
            find(&created.token_id)
                .map(|t| Change {
                    kind: events::TOKEN_CREATED,
                    before: serde_json::Value::Null,
                    after: json(t),
                })
                .into_iter()
                .collect()
        }
        (WorkspaceCommand::TokenUpdateName { token_id, .. }, _) => find(token_id)
            .map(|t| Change {
                kind: events::TOKEN_RENAMED,
                before: id_only(token_id),
                after: json(t),
            })
            .into_iter()
            .collect(),
        (WorkspaceCommand::TokenDelete { token_id }, _) => vec![Change {
            kind: events::TOKEN_DELETED,
            before: id_only(token_id),
            after: serde_json::Value::Null,
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_without_creator_has_empty_created_by() {
        let token = proto::WebhookToken {
            token_id: "wk-1".into(),
            created_at: 1.5,
            scoped: true,
            name: "ci".into(),
            created_by: None,
        };
        let converted = token_from_proto(&token);
        assert_eq!(converted.created_by, "");
        assert!(converted.scoped);
    }

    #[test]
    fn member_roles_get_user_facing_names() {
        let item = proto::WorkspaceMembersListItem {
            member_displayname: "Ada".into(),
            member_role: proto::MemberRole::Manager as i32,
            ..Default::default()
        };
        assert_eq!(member_from_proto(&item).role, "manager");
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let base = Duration::from_secs(10);
        for _ in 0..100 {
            let d = jittered(base);
            assert!(
                d >= Duration::from_secs(9) && d <= Duration::from_secs(11),
                "{d:?}"
            );
        }
    }

    #[test]
    fn cold_create_still_produces_an_event() {
        let after = vec![ProxyToken {
            token_id: "wk-new".into(),
            ..Default::default()
        }];
        let changes = synthesize(
            &WorkspaceCommand::TokenCreate { name: None },
            &Response::Created(CreatedToken {
                token_id: "wk-new".into(),
                token_secret: Secret::new("ws-x".into()),
            }),
            &after,
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].kind, events::TOKEN_CREATED);
    }
}
