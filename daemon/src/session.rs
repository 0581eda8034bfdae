//! The daemon's state for one identity, and what it can do with it.
//!
//! A [`Session`] belongs to one identity `(server_url, token_id)`: its
//! upstream client, the workspace name (looked up once, as the official
//! client "hydrates" the workspace before every command), cached
//! collections ([`Slot`]s), what it last saw of each scoped token's
//! environments, and a background poller. Reads are served from the cache
//! while young enough; mutations go upstream and then refresh the token list
//! at once, so the next read reflects them (read-your-writes) and their
//! event goes out immediately. What it notices is published on the event
//! bus; turning requests into these calls is `handlers`' job.

use crate::bus::Bus;
use crate::cache::Slot;
use crate::error::Error;
use crate::events::{self, Change, Credentials, DaemonEvent, WorkspaceEvent};
use crate::settings::{self, SharedSettings};
use crate::sync::lock;
use crate::upstream::{MutationKey, Upstream, UpstreamError};
use mws_ipc::{
    CreatedToken, Member, MemberToken, ProxyToken, Secret, ServiceUser, TokenInfo,
    WorkspaceSettings,
};
use mws_modal_api::proto;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Longest wait between polls while the server keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Ages shown by `mws daemon status`.
#[derive(Debug, Clone, Default)]
pub(crate) struct CacheAges {
    pub members: Option<Duration>,
    pub tokens: Option<Duration>,
    pub last_poll: Option<Duration>,
    pub polling: bool,
}

mod credentials;
mod member_tokens;
mod rotation;
mod service_users;
mod settings_group;

type ListSlot<T> = Slot<Vec<T>, UpstreamError>;

/// One kind of credential list a session keeps for the judges.
pub(super) enum Known {
    ProxyTokens(Vec<ProxyToken>),
    ServiceUsers(Vec<ServiceUser>),
    MemberTokens(Vec<MemberToken>),
    Credential(TokenInfo),
}

/// The daemon's state for one identity.
pub(crate) struct Session {
    pub upstream: Upstream,
    workspace: tokio::sync::OnceCell<String>,
    environment_ids: Mutex<HashMap<String, String>>,
    members: ListSlot<Member>,
    tokens: ListSlot<ProxyToken>,
    environment_tokens: Mutex<HashMap<String, Arc<ListSlot<ProxyToken>>>>,
    settings: Slot<WorkspaceSettings, UpstreamError>,
    service_users: ListSlot<ServiceUser>,
    member_tokens: ListSlot<MemberToken>,
    /// The credential itself, as `TokenInfoGet` describes it (asked once,
    /// with the first command, for `status`; `None` when the server would
    /// not say).
    token_info: tokio::sync::OnceCell<Option<TokenInfo>>,
    /// The last answer of each credential list, for the judges
    /// ([`credentials`]).
    credentials: Mutex<Credentials>,
    service_users_denied: AtomicBool,
    member_tokens_denied: AtomicBool,
    token_environments: Mutex<HashMap<String, Vec<String>>>,
    scoped_cursor: AtomicUsize,
    last_used: Mutex<Instant>,
    last_poll: Mutex<Option<Instant>>,
    polling: AtomicBool,
    retired: AtomicBool,
    bus: Bus,
}

/// Converts one member as Modal sends it. A role the official client does
/// not know fails the listing with its own message, rather than showing a
/// made-up one.
fn member_from_proto(item: &proto::WorkspaceMembersListItem) -> Result<Member, UpstreamError> {
    let role = match proto::MemberRole::try_from(item.member_role) {
        Ok(
            role
            @ (proto::MemberRole::User | proto::MemberRole::Manager | proto::MemberRole::Owner),
        ) => mws_modal_api::member_role_name(role),
        _ => {
            return Err(UpstreamError::BadAnswer(format!(
                "Unknown workspace member role: {}",
                item.member_role
            )))
        }
    };
    Ok(Member {
        name: item.member_displayname.clone(),
        email: item.email.clone(),
        role: role.to_string(),
        user_id: item.user_id.clone(),
        joined_at: item.joined_at,
        last_active_at: item.last_active_at,
    })
}

/// Converts one proxy token as Modal sends it.
fn token_from_proto(token: &proto::WebhookToken) -> ProxyToken {
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
    pub(crate) fn new(upstream: Upstream, bus: Bus) -> Self {
        let credentials = Mutex::new(Credentials {
            server_url: upstream.server_url.clone(),
            identity: upstream.token_id.clone(),
            ..Credentials::default()
        });
        Self {
            credentials,
            service_users_denied: AtomicBool::new(false),
            member_tokens_denied: AtomicBool::new(false),
            upstream,
            workspace: tokio::sync::OnceCell::new(),
            environment_ids: Mutex::new(HashMap::new()),
            members: Slot::default(),
            tokens: Slot::default(),
            environment_tokens: Mutex::new(HashMap::new()),
            settings: Slot::default(),
            service_users: Slot::default(),
            member_tokens: Slot::default(),
            token_info: tokio::sync::OnceCell::new(),
            token_environments: Mutex::new(HashMap::new()),
            scoped_cursor: AtomicUsize::new(0),
            last_used: Mutex::new(Instant::now()),
            last_poll: Mutex::new(None),
            polling: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            bus,
        }
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
    pub(crate) fn owns(&self, event: &DaemonEvent) -> bool {
        let (server_url, workspace) = event.place();
        server_url == self.upstream.server_url
            && self
                .known_workspace_name()
                .map(|w| w == workspace)
                .unwrap_or(true)
    }

    /// Marks the session as no longer in use (credentials changed); its
    /// poller stops at its next wake-up.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
    }

    fn ages(&self) -> CacheAges {
        let (members, _) = self.members.ages().unwrap_or_default();
        let (tokens, _) = self.tokens.ages().unwrap_or_default();
        CacheAges {
            members,
            tokens,
            last_poll: lock(&self.last_poll).map(|t| t.elapsed()),
            polling: self.polling.load(Ordering::SeqCst),
        }
    }

    /// This identity as `mws daemon status` shows it.
    pub(crate) fn status(&self) -> mws_ipc::IdentityStatus {
        let ages = self.ages();
        let stats = &self.upstream.stats;
        mws_ipc::IdentityStatus {
            members_age_secs: ages.members.map(|d| d.as_secs_f64()),
            tokens_age_secs: ages.tokens.map(|d| d.as_secs_f64()),
            last_poll_secs_ago: ages.last_poll.map(|d| d.as_secs_f64()),
            polling: ages.polling,
            server_url: self.upstream.server_url.clone(),
            token_id: self.upstream.token_id.clone(),
            workspace: self.known_workspace_name(),
            upstream_calls: stats.calls.load(Ordering::Relaxed),
            upstream_errors: stats.errors.load(Ordering::Relaxed),
            last_error: lock(&stats.last_error).clone(),
            token_info: self.token_info.get().cloned().flatten(),
        }
    }

    fn emit(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let workspace = self.known_workspace_name().unwrap_or_default();
        let time = events::now();
        for change in changes {
            tracing::info!(kind = change.kind(), %workspace, "workspace change");
            self.bus.publish(DaemonEvent::Workspace(WorkspaceEvent {
                time,
                workspace: workspace.clone(),
                server_url: self.upstream.server_url.clone(),
                change,
            }));
        }
    }

    async fn fetch_members(&self) -> Result<Vec<Member>, UpstreamError> {
        let response = self.upstream.members_list().await?;
        response.members.iter().map(member_from_proto).collect()
    }

    async fn fetch_tokens(&self) -> Result<Vec<ProxyToken>, UpstreamError> {
        let response = self.upstream.token_list().await?;
        let tokens: Vec<ProxyToken> = response.tokens.iter().map(token_from_proto).collect();
        self.record(Known::ProxyTokens(tokens.clone()));
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

    fn environment_slot(&self, name: &str) -> Arc<ListSlot<ProxyToken>> {
        lock(&self.environment_tokens)
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// This identity's workspace as metrics show it, from its last answers
    /// (`None` before its workspace is known).
    pub(crate) fn metrics_view(&self) -> Option<crate::metrics::WorkspaceView> {
        let workspace = self.known_workspace_name()?;
        let mut by_role: std::collections::BTreeMap<String, usize> = Default::default();
        for member in self.members.peek().unwrap_or_default() {
            *by_role.entry(member.role).or_default() += 1;
        }
        Some(crate::metrics::WorkspaceView {
            workspace,
            members_by_role: by_role.into_iter().collect(),
            credentials: lock(&self.credentials).clone(),
        })
    }

    /// Every environment name this session has met: looked up, listed
    /// tokens for, seen on a token, or the default one.
    fn known_environments(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.environment_ids).keys().cloned().collect();
        names.extend(lock(&self.environment_tokens).keys().cloned());
        names.extend(lock(&self.token_environments).values().flatten().cloned());
        if let Some(settings) = self.settings.peek() {
            names.push(settings.default_environment.clone());
        }
        names.retain(|name| !name.is_empty());
        names
    }

    /// Marks the identity as used and makes sure its workspace is known
    /// (the official client looks it up before every command).
    pub(crate) async fn begin(&self) -> Result<(), UpstreamError> {
        self.touch();
        self.workspace_name().await?;
        self.credential_info().await;
        Ok(())
    }

    /// Reads a collection through its slot (from the cache when younger
    /// than `max_age`) and emits what changed since the cached answer.
    async fn read<T, F, Fut>(
        &self,
        slot: &Slot<T, UpstreamError>,
        max_age: Duration,
        fetch: F,
        diff: impl Fn(&T, &T) -> Vec<Change>,
    ) -> Result<T, UpstreamError>
    where
        T: Clone,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, UpstreamError>>,
    {
        let fetched = AtomicBool::new(false);
        let read = slot
            .get(max_age, || {
                fetched.store(true, Ordering::Relaxed);
                fetch()
            })
            .await?;
        crate::metrics::cache_read(!fetched.load(Ordering::Relaxed));
        if let Some(previous) = &read.previous {
            self.emit(diff(previous, &read.value));
        }
        Ok(read.value)
    }

    /// After a mutation: reads the collection again (read-your-writes) and
    /// emits what changed; a failed read leaves the slot empty, so no stale
    /// answer is served.
    async fn reread<T, F, Fut>(
        &self,
        slot: &Slot<T, UpstreamError>,
        fetch: F,
        diff: impl Fn(&T, &T) -> Vec<Change>,
    ) where
        T: Clone,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, UpstreamError>>,
    {
        if let Err(e) = self.read(slot, Duration::ZERO, fetch, diff).await {
            tracing::warn!("refresh after a mutation failed: {e}");
            slot.invalidate().await;
        }
    }

    /// The members, from the cache when younger than `max_age`.
    pub(crate) async fn members(&self, max_age: Duration) -> Result<Vec<Member>, UpstreamError> {
        self.read(
            &self.members,
            max_age,
            || self.fetch_members(),
            |a, b| events::diff_members(a, b),
        )
        .await
    }

    /// The proxy tokens, from the cache when younger than `max_age`.
    pub(crate) async fn tokens(&self, max_age: Duration) -> Result<Vec<ProxyToken>, UpstreamError> {
        self.read(
            &self.tokens,
            max_age,
            || self.fetch_tokens(),
            |a, b| events::diff_tokens(a, b),
        )
        .await
    }

    /// Polls the rest of the workspace group: the settings once a request
    /// has read them (they need a manager's rights), and the credential
    /// lists the judges need unless this identity may not read them. A
    /// failure here is logged, not fatal to the poll.
    async fn poll_workspace_group(&self) -> Result<(), UpstreamError> {
        if matches!(self.settings.ages(), Some((Some(_), _))) {
            if let Err(e) = self.workspace_settings(Duration::ZERO).await {
                tracing::debug!("settings poll failed: {e}");
            }
        }
        self.poll_credentials().await;
        Ok(())
    }

    /// What the server says of the credential itself, asked once (for
    /// `auth check`, `status` and the judges); `None` when it would not say.
    pub(crate) async fn credential_info(&self) -> Option<TokenInfo> {
        self.token_info
            .get_or_init(|| async {
                let info = self
                    .token_info()
                    .await
                    .map_err(|e| tracing::debug!("token info unavailable: {e}"))
                    .ok();
                if let Some(info) = &info {
                    self.record(Known::Credential(info.clone()));
                }
                info
            })
            .await
            .clone()
    }

    /// The proxy tokens usable in one environment.
    pub(crate) async fn environment_tokens(
        &self,
        environment: &str,
        max_age: Duration,
    ) -> Result<Vec<ProxyToken>, UpstreamError> {
        let slot = self.environment_slot(environment);
        let read = slot
            .get(max_age, || async {
                let response = self
                    .upstream
                    .token_list_for_environment(environment)
                    .await?;
                Ok(response.tokens.iter().map(token_from_proto).collect())
            })
            .await?;
        Ok(read.value)
    }

    pub(crate) async fn create_token(
        &self,
        name: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<CreatedToken, Error> {
        let created = self.upstream.token_create(name, false, mutation).await?;
        self.after_token_mutation(|after| {
            after
                .iter()
                .find(|t| t.token_id == created.token_id)
                .map(|t| Change::TokenCreated(t.clone()))
        })
        .await;
        Ok(CreatedToken {
            token_id: created.token_id.clone(),
            token_secret: Secret::new(created.token_secret.clone()),
        })
    }

    pub(crate) async fn rename_token(
        &self,
        token_id: &str,
        name: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<(), Error> {
        if token_id.is_empty() {
            return Err(Error::BadRequest("TOKEN_ID must not be empty".into()));
        }
        self.upstream.token_update(token_id, name, mutation).await?;
        self.after_token_mutation(|after| {
            after
                .iter()
                .find(|t| t.token_id == token_id)
                .map(|t| Change::TokenRenamed {
                    before: None,
                    after: t.clone(),
                })
        })
        .await;
        Ok(())
    }

    pub(crate) async fn delete_token(
        &self,
        token_id: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<(), Error> {
        if token_id.is_empty() {
            return Err(Error::BadRequest("TOKEN_ID must not be empty".into()));
        }
        self.upstream.token_delete(token_id, mutation).await?;
        self.after_token_mutation(|_| {
            Some(Change::TokenDeleted {
                token_id: token_id.to_string(),
                before: None,
            })
        })
        .await;
        Ok(())
    }

    /// Allows (`allow`) or revokes a proxy token in an environment.
    pub(crate) async fn set_token_environment(
        &self,
        token_id: &str,
        environment: &str,
        allow: bool,
        mutation: Option<&MutationKey>,
    ) -> Result<(), Error> {
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
            lock(&self.environment_ids).remove(environment);
            return Err(e.into());
        }
        self.after_environment_change(token_id, &env_id, allow)
            .await;
        self.after_token_mutation(|_| None).await;
        Ok(())
    }

    /// After a mutation: drop per-environment lists, refresh the token list
    /// (read-your-writes) and emit what changed; with no earlier list to
    /// compare with, `cold` names the change from the new list.
    async fn after_token_mutation(&self, cold: impl FnOnce(&[ProxyToken]) -> Option<Change>) {
        let slots: Vec<_> = lock(&self.environment_tokens).values().cloned().collect();
        for slot in slots {
            slot.invalidate().await;
        }
        match self.tokens.refresh(|| self.fetch_tokens()).await {
            Ok(read) => match &read.previous {
                Some(previous) => self.emit(events::diff_tokens(previous, &read.value)),
                None => self.emit(cold(&read.value).into_iter().collect()),
            },
            Err(e) => {
                // The mutation itself succeeded; make sure no stale list is served.
                tracing::warn!("refresh after a mutation failed: {e}");
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
    async fn poll_once(&self) -> Result<(), UpstreamError> {
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
        self.poll_workspace_group().await?;
        let live: std::collections::HashSet<&str> =
            read.value.iter().map(|t| t.token_id.as_str()).collect();
        lock(&self.token_environments).retain(|id, _| live.contains(id.as_str()));
        *lock(&self.last_poll) = Some(Instant::now());
        Ok(())
    }

    /// Starts the background poller unless one runs.
    pub(crate) fn ensure_poller(
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
                    tracing::warn!(server = %self.upstream.server_url, "poll failed: {e}");
                }
            }
        }
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
        assert_eq!(member_from_proto(&item).unwrap().role, "manager");
        for unknown in [0, 7] {
            let item = proto::WorkspaceMembersListItem {
                member_role: unknown,
                ..Default::default()
            };
            let err = member_from_proto(&item).unwrap_err().to_string();
            assert_eq!(err, format!("Unknown workspace member role: {unknown}"));
        }
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
}
