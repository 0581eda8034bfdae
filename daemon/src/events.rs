//! The daemon's events: one typed enum on one bus.
//!
//! Sessions publish what they noticed ([`Change`]s found by diffing two
//! snapshots of a collection, and, whenever a credential list was fetched,
//! everything known of the identity's credentials as
//! [`DaemonEvent::CredentialsRefreshed`]); the plugin manager publishes the
//! alerts its plugins raise. Everybody else subscribes: `mws watch`
//! connections, desktop notifications, and the plugin manager itself —
//! nobody calls anybody as a side effect of a fetch.
//!
//! Only the public events ([`DaemonEvent::to_wire`]) leave the daemon, as
//! [`mws_ipc::Event`]s whose JSON is the same as it always was; [`describe`]
//! is the one wording of an event for people, used by `mws watch` (through
//! the event's `title`/`detail`) and by desktop notifications.
//!
//! Tokens are matched by `token_id`, members by `user_id` (by email when a
//! server sends no user id). The first snapshot of an identity is a baseline
//! and produces no events.

use mws_ipc::{
    Alert, Event, Member, MemberToken, ProxyToken, ServiceUser, TokenInfo, WorkspaceSettings,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// What changed in a workspace.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    TokenCreated(ProxyToken),
    /// `before` is unknown when no earlier list was cached.
    TokenDeleted {
        token_id: String,
        before: Option<ProxyToken>,
    },
    TokenRenamed {
        before: Option<ProxyToken>,
        after: ProxyToken,
    },
    TokenEnvironmentsChanged {
        token_id: String,
        /// Environment ids, sorted.
        before: Vec<String>,
        after: Vec<String>,
    },
    MemberJoined(Member),
    MemberLeft(Member),
    MemberRoleChanged {
        before: Member,
        after: Member,
    },
    ServiceUserCreated(ServiceUser),
    ServiceUserDeleted(ServiceUser),
    ServiceUserRoleChanged {
        before: ServiceUser,
        after: ServiceUser,
    },
    MemberTokenCreated(MemberToken),
    MemberTokenDeleted(MemberToken),
    MemberTokenDisabled(MemberToken),
    MemberTokenEnabled(MemberToken),
    SettingsChanged {
        before: WorkspaceSettings,
        after: WorkspaceSettings,
    },
}

impl Change {
    /// The event's public name.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Change::TokenCreated(_) => "token.created",
            Change::TokenDeleted { .. } => "token.deleted",
            Change::TokenRenamed { .. } => "token.renamed",
            Change::TokenEnvironmentsChanged { .. } => "token.environments_changed",
            Change::MemberJoined(_) => "member.joined",
            Change::MemberLeft(_) => "member.left",
            Change::MemberRoleChanged { .. } => "member.role_changed",
            Change::ServiceUserCreated(_) => "service_user.created",
            Change::ServiceUserDeleted(_) => "service_user.deleted",
            Change::ServiceUserRoleChanged { .. } => "service_user.role_changed",
            Change::MemberTokenCreated(_) => "member_token.created",
            Change::MemberTokenDeleted(_) => "member_token.deleted",
            Change::MemberTokenDisabled(_) => "member_token.disabled",
            Change::MemberTokenEnabled(_) => "member_token.enabled",
            Change::SettingsChanged { .. } => "settings.changed",
        }
    }

    /// Every kind a [`Change`] can have (for checking config files).
    pub(crate) const KINDS: &'static [&'static str] = &[
        "token.created",
        "token.deleted",
        "token.renamed",
        "token.environments_changed",
        "member.joined",
        "member.left",
        "member.role_changed",
        "service_user.created",
        "service_user.deleted",
        "service_user.role_changed",
        "member_token.created",
        "member_token.deleted",
        "member_token.disabled",
        "member_token.enabled",
        "settings.changed",
    ];

    /// The objects before and after, as the wire shows them.
    fn before_after(&self) -> (Value, Value) {
        match self {
            Change::TokenCreated(t) => (Value::Null, of(t)),
            Change::TokenDeleted { token_id, before } => (
                before
                    .as_ref()
                    .map(of)
                    .unwrap_or_else(|| json!({ "token_id": token_id })),
                Value::Null,
            ),
            Change::TokenRenamed { before, after } => (
                before
                    .as_ref()
                    .map(of)
                    .unwrap_or_else(|| json!({ "token_id": after.token_id })),
                of(after),
            ),
            Change::TokenEnvironmentsChanged {
                token_id,
                before,
                after,
            } => (
                json!({"token_id": token_id, "environment_ids": before}),
                json!({"token_id": token_id, "environment_ids": after}),
            ),
            Change::MemberJoined(m) => (Value::Null, of(m)),
            Change::MemberLeft(m) => (of(m), Value::Null),
            Change::MemberRoleChanged { before, after } => (of(before), of(after)),
            Change::ServiceUserCreated(u) => (Value::Null, of(u)),
            Change::ServiceUserDeleted(u) => (of(u), Value::Null),
            Change::ServiceUserRoleChanged { before, after } => (of(before), of(after)),
            Change::MemberTokenCreated(t) => (Value::Null, of(t)),
            Change::MemberTokenDeleted(t) => (of(t), Value::Null),
            Change::MemberTokenDisabled(t) | Change::MemberTokenEnabled(t) => {
                let mut before = t.clone();
                before.disabled = !t.disabled;
                (of(&before), of(t))
            }
            Change::SettingsChanged { before, after } => (of(before), of(after)),
        }
    }
}

fn of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A change, stamped with where and when it was noticed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WorkspaceEvent {
    pub time: f64,
    pub workspace: String,
    pub server_url: String,
    pub change: Change,
}

/// Everything an identity knows of its workspace's credentials, for the
/// plugins that judge them. Each list is the last one fetched (`None`:
/// never fetched, or the identity may not read it), so a snapshot never
/// forgets a kind because another kind was just refreshed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub(crate) struct Credentials {
    pub server_url: String,
    pub workspace: String,
    /// The identity's own token id (alerts are kept per identity).
    #[serde(skip)]
    pub identity: String,
    /// The identity's own credential, as `TokenInfoGet` describes it.
    pub credential: Option<TokenInfo>,
    pub proxy_tokens: Option<Vec<ProxyToken>>,
    pub service_users: Option<Vec<ServiceUser>>,
    pub member_tokens: Option<Vec<MemberToken>>,
}

/// Everything published on the bus.
#[derive(Debug, Clone)]
pub(crate) enum DaemonEvent {
    Workspace(WorkspaceEvent),
    /// An alert a plugin raised (announced once per subject and level).
    Alert(Alert),
    /// Internal: a credential list was fetched; never streamed.
    CredentialsRefreshed(Arc<Credentials>),
}

impl DaemonEvent {
    /// The public name (`token.created`, `alert.token_age`, …), or `None`
    /// for internal events.
    pub(crate) fn kind(&self) -> Option<String> {
        match self {
            DaemonEvent::Workspace(e) => Some(e.change.kind().to_string()),
            DaemonEvent::Alert(a) => Some(format!("alert.{}", a.kind)),
            DaemonEvent::CredentialsRefreshed(_) => None,
        }
    }

    /// Where the event happened: (server URL, workspace).
    pub(crate) fn place(&self) -> (&str, &str) {
        match self {
            DaemonEvent::Workspace(e) => (&e.server_url, &e.workspace),
            DaemonEvent::Alert(a) => (&a.server_url, &a.workspace),
            DaemonEvent::CredentialsRefreshed(r) => (&r.server_url, &r.workspace),
        }
    }

    /// The event as subscribers receive it; `None` for internal events.
    pub(crate) fn to_wire(&self) -> Option<Event> {
        let (kind, time, before, after) = match self {
            DaemonEvent::Workspace(e) => {
                let (before, after) = e.change.before_after();
                (e.change.kind().to_string(), e.time, before, after)
            }
            DaemonEvent::Alert(a) => (
                format!("alert.{}", a.kind),
                a.since,
                Value::Null,
                serde_json::to_value(a).unwrap_or(Value::Null),
            ),
            DaemonEvent::CredentialsRefreshed(_) => return None,
        };
        let (server_url, workspace) = self.place();
        let description = describe(self);
        Some(Event {
            kind,
            time,
            workspace: workspace.to_string(),
            server_url: server_url.to_string(),
            before: before.to_string(),
            after: after.to_string(),
            title: description.title,
            detail: description.detail,
            // Stamped by the journal.
            instance: String::new(),
            seq: 0,
        })
    }
}

/// An event in words: a title (a notification's summary) and what it is
/// about (`mws watch`'s last column; a notification's body with the
/// workspace after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Description {
    pub title: String,
    pub detail: String,
}

fn token_label(token: &ProxyToken) -> String {
    if token.name.is_empty() {
        token.token_id.clone()
    } else {
        format!("{} ('{}')", token.token_id, token.name)
    }
}

fn member_label(member: &Member) -> String {
    match (member.name.is_empty(), member.email.is_empty()) {
        (false, false) => format!("{} <{}>", member.name, member.email),
        (false, true) => member.name.clone(),
        _ => member.email.clone(),
    }
}

fn roles_label(user: &ServiceUser) -> String {
    if user.environment_roles.is_empty() {
        return "no environment access".to_string();
    }
    user.environment_roles
        .iter()
        .map(|r| format!("{}={}", r.environment, r.role))
        .collect::<Vec<_>>()
        .join(", ")
}

fn member_token_label(token: &MemberToken) -> String {
    let mut label = token.token_id.clone();
    if !token.name.is_empty() {
        label.push_str(&format!(" ('{}')", token.name));
    }
    if !token.username.is_empty() {
        label.push_str(&format!(" of {}", token.username));
    }
    label
}

fn settings_label(before: &WorkspaceSettings, after: &WorkspaceSettings) -> String {
    let mut changed = Vec::new();
    if before.default_environment != after.default_environment {
        changed.push(format!(
            "default-environment: {} → {}",
            before.default_environment, after.default_environment
        ));
    }
    if before.image_builder_version != after.image_builder_version {
        changed.push(format!(
            "image-builder-version: {} → {}",
            before.image_builder_version, after.image_builder_version
        ));
    }
    changed.join(", ")
}

/// The one wording of an event for people.
pub(crate) fn describe(event: &DaemonEvent) -> Description {
    let (title, detail) = match event {
        DaemonEvent::Workspace(e) => match &e.change {
            Change::TokenCreated(t) => ("Proxy token created", token_label(t)),
            Change::TokenDeleted { token_id, before } => (
                "Proxy token deleted",
                before
                    .as_ref()
                    .map(token_label)
                    .unwrap_or_else(|| token_id.clone()),
            ),
            Change::TokenRenamed { before, after } => (
                "Proxy token renamed",
                format!(
                    "{}: '{}' → '{}'",
                    after.token_id,
                    before.as_ref().map(|t| t.name.as_str()).unwrap_or(""),
                    after.name
                ),
            ),
            Change::TokenEnvironmentsChanged { token_id, .. } => {
                ("Proxy token environments changed", token_id.clone())
            }
            Change::MemberJoined(m) => ("Member joined", member_label(m)),
            Change::MemberLeft(m) => ("Member left", member_label(m)),
            Change::MemberRoleChanged { before, after } => (
                "Member role changed",
                format!("{}: {} → {}", member_label(after), before.role, after.role),
            ),
            Change::ServiceUserCreated(u) => ("Service user created", u.name.clone()),
            Change::ServiceUserDeleted(u) => ("Service user deleted", u.name.clone()),
            Change::ServiceUserRoleChanged { after, .. } => (
                "Service user roles changed",
                format!("{}: {}", after.name, roles_label(after)),
            ),
            Change::MemberTokenCreated(t) => ("Member token created", member_token_label(t)),
            Change::MemberTokenDeleted(t) => ("Member token deleted", member_token_label(t)),
            Change::MemberTokenDisabled(t) => ("Member token disabled", member_token_label(t)),
            Change::MemberTokenEnabled(t) => ("Member token enabled", member_token_label(t)),
            Change::SettingsChanged { before, after } => {
                ("Workspace settings changed", settings_label(before, after))
            }
        },
        DaemonEvent::Alert(a) => {
            let title = match a.level.as_str() {
                "expired" => "Credential expired",
                "critical" => "Credential expires in days",
                "warning" => "Credential expiring soon",
                "info" => "Credential notice",
                _ => "mws alert",
            };
            (title, a.message.clone())
        }
        DaemonEvent::CredentialsRefreshed(r) => ("Credentials refreshed", r.workspace.clone()),
    };
    Description {
        title: title.to_string(),
        detail,
    }
}

/// Seconds since the epoch, now.
pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// What changed between two lists whose items `key` identifies: items
/// new in `after`, items gone from it, and (by `changed`) items in both.
fn diff_by<T, K: Eq + std::hash::Hash>(
    before: &[T],
    after: &[T],
    key: impl Fn(&T) -> K,
    created: impl Fn(&T) -> Change,
    deleted: impl Fn(&T) -> Change,
    changed: impl Fn(&T, &T) -> Option<Change>,
) -> Vec<Change> {
    let old: HashMap<K, &T> = before.iter().map(|t| (key(t), t)).collect();
    let new: HashMap<K, &T> = after.iter().map(|t| (key(t), t)).collect();
    let mut changes = Vec::new();
    for item in after {
        match old.get(&key(item)) {
            None => changes.push(created(item)),
            Some(previous) => changes.extend(changed(previous, item)),
        }
    }
    for item in before {
        if !new.contains_key(&key(item)) {
            changes.push(deleted(item));
        }
    }
    changes
}

/// What changed between two token lists.
pub(crate) fn diff_tokens(before: &[ProxyToken], after: &[ProxyToken]) -> Vec<Change> {
    diff_by(
        before,
        after,
        |t| t.token_id.clone(),
        |t| Change::TokenCreated(t.clone()),
        |t| Change::TokenDeleted {
            token_id: t.token_id.clone(),
            before: Some(t.clone()),
        },
        |old, new| {
            (old.name != new.name).then(|| Change::TokenRenamed {
                before: Some(old.clone()),
                after: new.clone(),
            })
        },
    )
}

fn member_key(member: &Member) -> String {
    if member.user_id.is_empty() {
        member.email.clone()
    } else {
        member.user_id.clone()
    }
}

/// What changed between two member lists.
pub(crate) fn diff_members(before: &[Member], after: &[Member]) -> Vec<Change> {
    diff_by(
        before,
        after,
        member_key,
        |m| Change::MemberJoined(m.clone()),
        |m| Change::MemberLeft(m.clone()),
        |old, new| {
            (old.role != new.role).then(|| Change::MemberRoleChanged {
                before: old.clone(),
                after: new.clone(),
            })
        },
    )
}

/// What changed between two service-user lists (matched by id).
pub(crate) fn diff_service_users(before: &[ServiceUser], after: &[ServiceUser]) -> Vec<Change> {
    diff_by(
        before,
        after,
        |u| u.service_user_id.clone(),
        |u| Change::ServiceUserCreated(u.clone()),
        |u| Change::ServiceUserDeleted(u.clone()),
        |old, new| {
            let mut a = old.environment_roles.clone();
            let mut b = new.environment_roles.clone();
            a.sort_by(|x, y| x.environment.cmp(&y.environment));
            b.sort_by(|x, y| x.environment.cmp(&y.environment));
            (a != b).then(|| Change::ServiceUserRoleChanged {
                before: old.clone(),
                after: new.clone(),
            })
        },
    )
}

/// What changed between two member-token lists.
pub(crate) fn diff_member_tokens(before: &[MemberToken], after: &[MemberToken]) -> Vec<Change> {
    diff_by(
        before,
        after,
        |t| t.token_id.clone(),
        |t| Change::MemberTokenCreated(t.clone()),
        |t| Change::MemberTokenDeleted(t.clone()),
        |old, new| match (old.disabled, new.disabled) {
            (false, true) => Some(Change::MemberTokenDisabled(new.clone())),
            (true, false) => Some(Change::MemberTokenEnabled(new.clone())),
            _ => None,
        },
    )
}

/// A change of the workspace's settings.
pub(crate) fn diff_settings(
    before: &WorkspaceSettings,
    after: &WorkspaceSettings,
) -> Option<Change> {
    (before != after).then(|| Change::SettingsChanged {
        before: before.clone(),
        after: after.clone(),
    })
}

/// A change of a scoped token's environments.
pub(crate) fn environments_change(
    token_id: &str,
    before: &[String],
    after: &[String],
) -> Option<Change> {
    let mut before = before.to_vec();
    let mut after = after.to_vec();
    before.sort();
    after.sort();
    (after != before).then(|| Change::TokenEnvironmentsChanged {
        token_id: token_id.to_string(),
        before,
        after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: &str, name: &str) -> ProxyToken {
        ProxyToken {
            token_id: id.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn member(id: &str, role: &str) -> Member {
        Member {
            user_id: id.into(),
            role: role.into(),
            ..Default::default()
        }
    }

    fn kinds(changes: &[Change]) -> Vec<&'static str> {
        changes.iter().map(Change::kind).collect()
    }

    #[test]
    fn token_changes_are_named() {
        let before = vec![token("wk-1", "a"), token("wk-2", "b")];
        let after = vec![token("wk-2", "b2"), token("wk-3", "c")];
        assert_eq!(
            kinds(&diff_tokens(&before, &after)),
            vec!["token.renamed", "token.created", "token.deleted"]
        );
    }

    #[test]
    fn unchanged_lists_have_no_changes() {
        let list = vec![token("wk-1", "a")];
        assert!(diff_tokens(&list, &list).is_empty());
        let members = vec![member("us-1", "owner")];
        assert!(diff_members(&members, &members).is_empty());
    }

    #[test]
    fn member_changes_are_named() {
        let before = vec![member("us-1", "owner"), member("us-2", "member")];
        let after = vec![member("us-2", "manager"), member("us-3", "member")];
        assert_eq!(
            kinds(&diff_members(&before, &after)),
            vec!["member.role_changed", "member.joined", "member.left"]
        );
    }

    #[test]
    fn environment_order_does_not_matter() {
        let a = vec!["en-1".to_string(), "en-2".to_string()];
        let b = vec!["en-2".to_string(), "en-1".to_string()];
        assert!(environments_change("wk-1", &a, &b).is_none());
        assert!(environments_change("wk-1", &a, &b[..1]).is_some());
    }

    fn stamped(change: Change) -> DaemonEvent {
        DaemonEvent::Workspace(WorkspaceEvent {
            time: 1.0,
            workspace: "acme".into(),
            server_url: "http://x".into(),
            change,
        })
    }

    #[test]
    fn wire_json_is_unchanged_for_a_cold_rename() {
        let wire = stamped(Change::TokenRenamed {
            before: None,
            after: token("wk-1", "b"),
        })
        .to_wire()
        .unwrap();
        assert_eq!(wire.kind, "token.renamed");
        assert_eq!(wire.before, r#"{"token_id":"wk-1"}"#);
        assert!(wire.after.contains(r#""name":"b""#), "{}", wire.after);
        assert_eq!(wire.detail, "wk-1: '' → 'b'");
    }

    #[test]
    fn descriptions_name_the_subject() {
        let created = describe(&stamped(Change::TokenCreated(token("wk-1", "ci"))));
        assert_eq!(created.title, "Proxy token created");
        assert_eq!(created.detail, "wk-1 ('ci')");
        let mut ada = member("us-1", "member");
        ada.name = "Ada".into();
        ada.email = "ada@example.com".into();
        let mut promoted = ada.clone();
        promoted.role = "manager".into();
        let changed = describe(&stamped(Change::MemberRoleChanged {
            before: ada,
            after: promoted,
        }));
        assert_eq!(changed.detail, "Ada <ada@example.com>: member → manager");
    }

    #[test]
    fn internal_events_never_leave_the_daemon() {
        let refreshed = DaemonEvent::CredentialsRefreshed(Arc::new(Credentials {
            server_url: "http://x".into(),
            workspace: "acme".into(),
            ..Credentials::default()
        }));
        assert!(refreshed.to_wire().is_none());
        assert!(refreshed.kind().is_none());
    }
}
