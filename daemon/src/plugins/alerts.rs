//! The current alerts, and which of them were already announced.
//!
//! Policy plugins are stateless: each time an identity's credentials are
//! refreshed they return every credential's current verdict. The book turns
//! that into announcements *once per credential and level*: an alert is
//! announced (an event for `mws watch` and desktop notifications) the first
//! time it appears, and again only after it cleared (a `warning` that becomes
//! `critical` or `expired` is a new level, so it is announced too).
//! `mws alerts` shows the current ones.
//!
//! Alerts are kept per scope — (server, workspace, identity, plugin) — and a
//! judgement replaces its scope's alerts only. Two identities of one
//! workspace see the same service users: an alert is announced when no scope
//! held it before, and listed once. Every update is O(n) in the alerts
//! involved (hash maps, no nested scans), and a plugin's answer is capped at
//! [`MAX_ALERTS_PER_PLUGIN`] (the rest is counted and reported).
//!
//! The book is persisted ([`Book::to_file`] / [`Book::from_file`], under
//! `$XDG_STATE_HOME/mws/alerts.json`), so a restarted daemon neither
//! announces again what it already announced nor forgets current alerts
//! before its first judgement.

use mws_ipc::Alert;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Most alerts one plugin may hold in one scope.
pub(crate) const MAX_ALERTS_PER_PLUGIN: usize = 10_000;

/// One verdict as a plugin returned it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    pub kind: String,
    pub id: String,
    pub level: String,
    pub message: String,
    pub owner: String,
    pub expires_at: f64,
    pub fix: String,
}

/// A plugin's answer: its verdicts, and how many it returned beyond the cap.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub verdicts: Vec<Verdict>,
    pub dropped: usize,
}

fn word(value: Option<&Value>, key: &str, default: Option<&str>) -> Result<String, String> {
    let text = match value {
        None | Some(Value::Null) => default
            .map(str::to_string)
            .ok_or_else(|| format!("an alert has no \"{key}\""))?,
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(format!("an alert's \"{key}\" is not a string")),
    };
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok {
        return Err(format!(
            "an alert's \"{key}\" '{text}' is not a short [a-z0-9_-] word"
        ));
    }
    Ok(text)
}

/// One line of at most `max` characters, control characters as spaces.
fn line(value: Option<&Value>, key: &str, max: usize) -> Result<String, String> {
    match value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(max)
            .collect()),
        Some(_) => Err(format!("an alert's \"{key}\" is not a string")),
    }
}

/// Parses a policy plugin's answer: `{"alerts": [{"id" (or "token_id"),
/// "level", "message", "kind"?, "owner"?, "expires_at"?, "fix"?}, …]}`.
/// `kind` defaults to the plugin's name. Verdicts beyond
/// [`MAX_ALERTS_PER_PLUGIN`] are counted, not kept.
pub(crate) fn parse(output: &str, plugin: &str) -> Result<Parsed, String> {
    let doc: Value =
        serde_json::from_str(output).map_err(|e| format!("returned invalid JSON: {e}"))?;
    let items = doc
        .get("alerts")
        .and_then(Value::as_array)
        .ok_or("returned no \"alerts\" array")?;
    let mut parsed = Parsed {
        verdicts: Vec::with_capacity(items.len().min(MAX_ALERTS_PER_PLUGIN)),
        dropped: items.len().saturating_sub(MAX_ALERTS_PER_PLUGIN),
    };
    for item in items.iter().take(MAX_ALERTS_PER_PLUGIN) {
        if !item.is_object() {
            return Err("an alert is not a JSON object".into());
        }
        let id = match item.get("id").or_else(|| item.get("token_id")) {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 200 => s.clone(),
            _ => return Err("an alert has no \"id\" (or \"token_id\") string".into()),
        };
        let message = match item.get("message") {
            Some(v @ Value::String(_)) => line(Some(v), "message", 500)?,
            _ => return Err("an alert has no \"message\" string".into()),
        };
        let expires_at = match item.get("expires_at") {
            None | Some(Value::Null) => 0.0,
            Some(v) => v
                .as_f64()
                .filter(|t| t.is_finite() && *t >= 0.0 && *t < 1e11)
                .ok_or("an alert's \"expires_at\" is not a time in Unix seconds")?,
        };
        parsed.verdicts.push(Verdict {
            kind: word(item.get("kind"), "kind", Some(plugin))?,
            level: word(item.get("level"), "level", None)?,
            id,
            message,
            owner: line(item.get("owner"), "owner", 200)?,
            expires_at,
            fix: line(item.get("fix"), "fix", 300)?,
        });
    }
    Ok(parsed)
}

/// Where a judgement applies: (server, workspace, identity, plugin).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Scope {
    pub server_url: String,
    pub workspace: String,
    /// The token id of the identity whose view was judged.
    pub identity: String,
    pub plugin: String,
}

/// What makes two alerts the same announcement.
type Key = (String, String, String, String, String);

fn key(alert: &Alert) -> Key {
    (
        alert.server_url.clone(),
        alert.workspace.clone(),
        alert.kind.clone(),
        alert.token_id.clone(),
        alert.level.clone(),
    )
}

/// What one judgement did to the book.
pub(crate) struct Update {
    /// Alerts to announce (held by no scope before).
    pub fresh: Vec<Alert>,
    /// False when the scope holds exactly the alerts it held before.
    pub changed: bool,
}

/// Which alerts hold now, per scope.
#[derive(Default)]
pub(crate) struct Book {
    current: HashMap<Scope, Vec<Alert>>,
    /// How many scopes hold each alert.
    holders: HashMap<Key, usize>,
}

/// The book as persisted.
#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    scopes: Vec<(Scope, Vec<Alert>)>,
}

impl Book {
    /// Replaces one scope's alerts with a fresh judgement.
    pub(crate) fn update(&mut self, scope: &Scope, verdicts: Vec<Verdict>, now: f64) -> Update {
        let previous = self.remove(scope);
        let before: HashMap<Key, f64> = previous.iter().map(|a| (key(a), a.since)).collect();
        let mut fresh = Vec::new();
        let mut current: Vec<Alert> = Vec::with_capacity(verdicts.len());
        let mut seen: HashSet<Key> = HashSet::with_capacity(verdicts.len());
        for v in verdicts {
            let mut alert = Alert {
                plugin: scope.plugin.clone(),
                kind: v.kind,
                level: v.level,
                workspace: scope.workspace.clone(),
                server_url: scope.server_url.clone(),
                token_id: v.id,
                message: v.message,
                since: now,
                owner: v.owner,
                expires_at: v.expires_at,
                fix: v.fix,
            };
            let k = key(&alert);
            if !seen.insert(k.clone()) {
                continue; // the plugin said it twice
            }
            match before.get(&k) {
                Some(since) => alert.since = *since,
                None if !self.holders.contains_key(&k) => fresh.push(alert.clone()),
                None => {}
            }
            current.push(alert);
        }
        let changed = seen.len() != before.len() || seen.iter().any(|k| !before.contains_key(k));
        for k in seen {
            *self.holders.entry(k).or_default() += 1;
        }
        if !current.is_empty() {
            self.current.insert(scope.clone(), current);
        }
        Update { fresh, changed }
    }

    fn remove(&mut self, scope: &Scope) -> Vec<Alert> {
        let previous = self.current.remove(scope).unwrap_or_default();
        for alert in &previous {
            let k = key(alert);
            if let Some(n) = self.holders.get_mut(&k) {
                *n -= 1;
                if *n == 0 {
                    self.holders.remove(&k);
                }
            }
        }
        previous
    }

    /// Forgets the alerts of plugins no longer loaded.
    pub(crate) fn retain_plugins(&mut self, loaded: &HashSet<String>) {
        let gone: Vec<Scope> = self
            .current
            .keys()
            .filter(|s| !loaded.contains(&s.plugin))
            .cloned()
            .collect();
        for scope in gone {
            self.remove(&scope);
        }
    }

    /// Every current alert once, ordered by server, workspace, credential,
    /// kind and level.
    pub(crate) fn all(&self) -> Vec<Alert> {
        let mut seen = HashSet::new();
        let mut all: Vec<Alert> = self
            .current
            .values()
            .flatten()
            .filter(|a| seen.insert(key(a)))
            .cloned()
            .collect();
        all.sort_by(|a, b| {
            (&a.server_url, &a.workspace, &a.token_id, &a.kind, &a.level).cmp(&(
                &b.server_url,
                &b.workspace,
                &b.token_id,
                &b.kind,
                &b.level,
            ))
        });
        all
    }

    /// The book as a file's contents.
    pub(crate) fn to_file(&self) -> Vec<u8> {
        let stored = Stored {
            version: 1,
            scopes: self
                .current
                .iter()
                .map(|(s, a)| (s.clone(), a.clone()))
                .collect(),
        };
        serde_json::to_vec(&stored).unwrap_or_default()
    }

    /// A book from a file's contents (an unreadable file is an empty book).
    pub(crate) fn from_file(bytes: &[u8]) -> Result<Self, String> {
        let stored: Stored =
            serde_json::from_slice(bytes).map_err(|e| format!("not an alert record: {e}"))?;
        if stored.version != 1 {
            return Err(format!(
                "alert record version {} is unknown",
                stored.version
            ));
        }
        let mut book = Book::default();
        for (scope, alerts) in stored.scopes {
            for alert in &alerts {
                *book.holders.entry(key(alert)).or_default() += 1;
            }
            book.current.insert(scope, alerts);
        }
        Ok(book)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(id: &str, level: &str) -> Verdict {
        Verdict {
            kind: "token_age".into(),
            id: id.into(),
            level: level.into(),
            message: format!("{id} {level}"),
            owner: String::new(),
            expires_at: 0.0,
            fix: String::new(),
        }
    }

    fn scope(workspace: &str, identity: &str) -> Scope {
        Scope {
            server_url: "u".into(),
            workspace: workspace.into(),
            identity: identity.into(),
            plugin: "expiry".into(),
        }
    }

    #[test]
    fn announced_once_per_credential_and_level() {
        let mut book = Book::default();
        let s = scope("w", "ak-1");
        let fresh = book.update(&s, vec![verdict("wk-1", "warning")], 1.0).fresh;
        assert_eq!(fresh.len(), 1);
        for t in 2..5 {
            assert!(book
                .update(&s, vec![verdict("wk-1", "warning")], t as f64)
                .fresh
                .is_empty());
        }
        assert_eq!(book.all()[0].since, 1.0);
        let expired = book.update(&s, vec![verdict("wk-1", "expired")], 9.0).fresh;
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].level, "expired");
        // Cleared, then back: announced again.
        assert!(book.update(&s, vec![], 10.0).fresh.is_empty());
        assert!(book.all().is_empty());
        assert_eq!(
            book.update(&s, vec![verdict("wk-1", "expired")], 11.0)
                .fresh
                .len(),
            1
        );
    }

    #[test]
    fn scopes_are_separate_and_shared_alerts_are_announced_once() {
        let mut book = Book::default();
        book.update(&scope("a", "ak-1"), vec![verdict("wk-1", "warning")], 1.0);
        book.update(&scope("b", "ak-1"), vec![], 1.0);
        assert_eq!(book.all().len(), 1);
        // A second identity of workspace a sees the same alert: not news.
        assert!(book
            .update(&scope("a", "ak-2"), vec![verdict("wk-1", "warning")], 2.0)
            .fresh
            .is_empty());
        assert_eq!(book.all().len(), 1);
        // One identity stops seeing it; the other still does.
        book.update(&scope("a", "ak-1"), vec![], 3.0);
        assert_eq!(book.all().len(), 1);
    }

    #[test]
    fn a_persisted_book_announces_nothing_again() {
        let mut book = Book::default();
        let s = scope("w", "ak-1");
        book.update(
            &s,
            vec![verdict("wk-1", "warning"), verdict("wk-2", "expired")],
            1.0,
        );
        let mut restored = Book::from_file(&book.to_file()).unwrap();
        assert_eq!(restored.all(), book.all());
        let fresh = restored
            .update(
                &s,
                vec![verdict("wk-1", "warning"), verdict("wk-3", "warning")],
                5.0,
            )
            .fresh;
        assert_eq!(fresh.len(), 1);
        assert_eq!(fresh[0].token_id, "wk-3");
        assert_eq!(restored.all().len(), 2);
        assert!(Book::from_file(b"garbage").is_err());
    }

    #[test]
    fn unloaded_plugins_lose_their_alerts() {
        let mut book = Book::default();
        book.update(&scope("w", "ak-1"), vec![verdict("wk-1", "warning")], 1.0);
        book.retain_plugins(&HashSet::new());
        assert!(book.all().is_empty());
        // ... and the alert is news again if it comes back.
        assert_eq!(
            book.update(&scope("w", "ak-1"), vec![verdict("wk-1", "warning")], 2.0)
                .fresh
                .len(),
            1
        );
    }

    #[test]
    fn many_alerts_are_capped_and_counted() {
        let items: Vec<String> = (0..MAX_ALERTS_PER_PLUGIN + 5)
            .map(|i| format!(r#"{{"id":"wk-{i}","level":"info","message":"m"}}"#))
            .collect();
        let parsed = parse(&format!(r#"{{"alerts":[{}]}}"#, items.join(",")), "p").unwrap();
        assert_eq!(parsed.verdicts.len(), MAX_ALERTS_PER_PLUGIN);
        assert_eq!(parsed.dropped, 5);
        let mut book = Book::default();
        let fresh = book.update(&scope("w", "ak-1"), parsed.verdicts, 1.0).fresh;
        assert_eq!(fresh.len(), MAX_ALERTS_PER_PLUGIN);
    }

    #[test]
    fn plugin_output_is_checked() {
        let ok = parse(
            r#"{"alerts":[{"token_id":"wk-1","level":"warning","message":"old\nish","owner":"ada","expires_at":5,"fix":"mws x"}]}"#,
            "expiry",
        )
        .unwrap()
        .verdicts;
        assert_eq!(ok[0].kind, "expiry");
        assert_eq!(ok[0].message, "old ish");
        assert_eq!(ok[0].owner, "ada");
        assert_eq!(ok[0].expires_at, 5.0);
        assert_eq!(ok[0].fix, "mws x");
        assert!(parse("nope", "p").unwrap_err().contains("invalid JSON"));
        assert!(parse("{}", "p").unwrap_err().contains("alerts"));
        assert!(parse(r#"{"alerts":[{"level":"x","message":""}]}"#, "p")
            .unwrap_err()
            .contains("id"));
        assert!(parse(
            r#"{"alerts":[{"id":"a","level":"Bad Level","message":""}]}"#,
            "p"
        )
        .unwrap_err()
        .contains("level"));
        assert!(parse(
            r#"{"alerts":[{"id":"a","level":"info","message":"","expires_at":1e300}]}"#,
            "p"
        )
        .unwrap_err()
        .contains("expires_at"));
    }
}
