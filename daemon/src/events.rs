//! Change detection: compares two snapshots of a collection and names what
//! changed, as the events `mws watch` subscribers and notifications see.
//!
//! Tokens are matched by `token_id`, members by `user_id` (by email when a
//! server sends no user id). The first snapshot of an identity is a baseline
//! and produces no events.

use mws_ipc::{Event, Member, ProxyToken};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// One change, before it is stamped with time and workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: &'static str,
    pub before: Value,
    pub after: Value,
}

pub const TOKEN_CREATED: &str = "token.created";
pub const TOKEN_DELETED: &str = "token.deleted";
pub const TOKEN_RENAMED: &str = "token.renamed";
pub const TOKEN_ENVIRONMENTS_CHANGED: &str = "token.environments_changed";
pub const MEMBER_JOINED: &str = "member.joined";
pub const MEMBER_LEFT: &str = "member.left";
pub const MEMBER_ROLE_CHANGED: &str = "member.role_changed";
/// A proxy token reached a threshold of the expiry plugin's age policy
/// (emitted by [`crate::plugins`], once per token and level).
pub const ALERT_TOKEN_AGE: &str = "alert.token_age";

/// Every event kind the daemon emits.
pub const ALL_KINDS: &[&str] = &[
    TOKEN_CREATED,
    TOKEN_DELETED,
    TOKEN_RENAMED,
    TOKEN_ENVIRONMENTS_CHANGED,
    MEMBER_JOINED,
    MEMBER_LEFT,
    MEMBER_ROLE_CHANGED,
    ALERT_TOKEN_AGE,
];

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// What changed between two token lists.
pub fn diff_tokens(before: &[ProxyToken], after: &[ProxyToken]) -> Vec<Change> {
    let old: HashMap<&str, &ProxyToken> = before.iter().map(|t| (t.token_id.as_str(), t)).collect();
    let new: HashMap<&str, &ProxyToken> = after.iter().map(|t| (t.token_id.as_str(), t)).collect();
    let mut changes = Vec::new();
    for token in after {
        match old.get(token.token_id.as_str()) {
            None => changes.push(Change {
                kind: TOKEN_CREATED,
                before: Value::Null,
                after: json(token),
            }),
            Some(previous) if previous.name != token.name => changes.push(Change {
                kind: TOKEN_RENAMED,
                before: json(*previous),
                after: json(token),
            }),
            Some(_) => {}
        }
    }
    for token in before {
        if !new.contains_key(token.token_id.as_str()) {
            changes.push(Change {
                kind: TOKEN_DELETED,
                before: json(token),
                after: Value::Null,
            });
        }
    }
    changes
}

fn member_key(member: &Member) -> &str {
    if member.user_id.is_empty() {
        &member.email
    } else {
        &member.user_id
    }
}

/// What changed between two member lists.
pub fn diff_members(before: &[Member], after: &[Member]) -> Vec<Change> {
    let old: HashMap<&str, &Member> = before.iter().map(|m| (member_key(m), m)).collect();
    let new: HashMap<&str, &Member> = after.iter().map(|m| (member_key(m), m)).collect();
    let mut changes = Vec::new();
    for member in after {
        match old.get(member_key(member)) {
            None => changes.push(Change {
                kind: MEMBER_JOINED,
                before: Value::Null,
                after: json(member),
            }),
            Some(previous) if previous.role != member.role => changes.push(Change {
                kind: MEMBER_ROLE_CHANGED,
                before: json(*previous),
                after: json(member),
            }),
            Some(_) => {}
        }
    }
    for member in before {
        if !new.contains_key(member_key(member)) {
            changes.push(Change {
                kind: MEMBER_LEFT,
                before: json(member),
                after: Value::Null,
            });
        }
    }
    changes
}

/// A change of a scoped token's environments.
pub fn environments_change(token_id: &str, before: &[String], after: &[String]) -> Option<Change> {
    let mut b = before.to_vec();
    let mut a = after.to_vec();
    b.sort();
    a.sort();
    (a != b).then(|| Change {
        kind: TOKEN_ENVIRONMENTS_CHANGED,
        before: serde_json::json!({"token_id": token_id, "environment_ids": b}),
        after: serde_json::json!({"token_id": token_id, "environment_ids": a}),
    })
}

/// Stamps a change into an [`Event`].
pub fn to_event(change: Change, workspace: &str, server_url: &str) -> Event {
    Event {
        kind: change.kind.to_string(),
        time: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64(),
        workspace: workspace.to_string(),
        server_url: server_url.to_string(),
        before: change.before.to_string(),
        after: change.after.to_string(),
    }
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

    #[test]
    fn token_changes_are_named() {
        let before = vec![token("wk-1", "a"), token("wk-2", "b")];
        let after = vec![token("wk-2", "b2"), token("wk-3", "c")];
        let kinds: Vec<_> = diff_tokens(&before, &after)
            .iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(kinds, vec![TOKEN_RENAMED, TOKEN_CREATED, TOKEN_DELETED]);
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
        let kinds: Vec<_> = diff_members(&before, &after)
            .iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(kinds, vec![MEMBER_ROLE_CHANGED, MEMBER_JOINED, MEMBER_LEFT]);
    }

    #[test]
    fn environment_order_does_not_matter() {
        let a = vec!["en-1".to_string(), "en-2".to_string()];
        let b = vec!["en-2".to_string(), "en-1".to_string()];
        assert!(environments_change("wk-1", &a, &b).is_none());
        assert!(environments_change("wk-1", &a, &b[..1]).is_some());
    }
}
