//! The current alerts, and which of them were already announced.
//!
//! Policy plugins are stateless: on every token refresh they return every
//! token's current verdict. The book turns that into announcements *once
//! per token and level*: an alert is announced (an event for `mws watch`
//! and desktop notifications) the first time it appears, and again only
//! after it cleared (a warning that becomes `expired` is a new level, so it
//! is announced too). `mws alerts` shows the current ones.
//!
//! Alerts are kept per (server, workspace, plugin): a refresh replaces that
//! scope's alerts and leaves other workspaces' alone. The book lives in
//! memory, so a restarted daemon announces current alerts once more.

use mws_ipc::Alert;
use serde_json::Value;
use std::collections::HashMap;

/// One verdict as a plugin returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub kind: String,
    pub token_id: String,
    pub level: String,
    pub message: String,
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

/// Parses a policy plugin's answer: `{"alerts": [{"token_id", "level",
/// "message", "kind"?}, …]}`. `kind` defaults to the plugin's name.
pub fn parse(output: &str, plugin: &str) -> Result<Vec<Verdict>, String> {
    let doc: Value =
        serde_json::from_str(output).map_err(|e| format!("returned invalid JSON: {e}"))?;
    let items = doc
        .get("alerts")
        .and_then(Value::as_array)
        .ok_or("returned no \"alerts\" array")?;
    let mut verdicts = Vec::with_capacity(items.len());
    for item in items {
        if !item.is_object() {
            return Err("an alert is not a JSON object".into());
        }
        let token_id = match item.get("token_id") {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 200 => s.clone(),
            _ => return Err("an alert has no \"token_id\" string".into()),
        };
        let message = match item.get("message") {
            Some(Value::String(s)) => s
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(500)
                .collect(),
            _ => return Err("an alert has no \"message\" string".into()),
        };
        verdicts.push(Verdict {
            kind: word(item.get("kind"), "kind", Some(plugin))?,
            level: word(item.get("level"), "level", None)?,
            token_id,
            message,
        });
    }
    Ok(verdicts)
}

/// Which alerts hold now, per scope.
#[derive(Default)]
pub struct Book {
    /// (server_url, workspace, plugin) → current alerts.
    current: HashMap<(String, String, String), Vec<Alert>>,
}

impl Book {
    /// Replaces one scope's alerts with a fresh judgement; returns the
    /// alerts to announce (new tokens or new levels).
    pub fn update(
        &mut self,
        server_url: &str,
        workspace: &str,
        plugin: &str,
        verdicts: Vec<Verdict>,
        now: f64,
    ) -> Vec<Alert> {
        let key = (
            server_url.to_string(),
            workspace.to_string(),
            plugin.to_string(),
        );
        let previous = self.current.remove(&key).unwrap_or_default();
        let mut fresh = Vec::new();
        let mut current = Vec::with_capacity(verdicts.len());
        for v in verdicts {
            let before = previous
                .iter()
                .find(|a| a.token_id == v.token_id && a.kind == v.kind && a.level == v.level);
            let alert = Alert {
                plugin: plugin.to_string(),
                kind: v.kind,
                level: v.level,
                workspace: workspace.to_string(),
                server_url: server_url.to_string(),
                token_id: v.token_id,
                message: v.message,
                since: before.map(|a| a.since).unwrap_or(now),
            };
            if before.is_none()
                && !current.iter().any(|a: &Alert| {
                    a.token_id == alert.token_id && a.kind == alert.kind && a.level == alert.level
                })
            {
                fresh.push(alert.clone());
            }
            current.push(alert);
        }
        if !current.is_empty() {
            self.current.insert(key, current);
        }
        fresh
    }

    /// Every current alert, ordered by server, workspace, token, level.
    pub fn all(&self) -> Vec<Alert> {
        let mut all: Vec<Alert> = self.current.values().flatten().cloned().collect();
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(token: &str, level: &str) -> Verdict {
        Verdict {
            kind: "token_age".into(),
            token_id: token.into(),
            level: level.into(),
            message: format!("{token} {level}"),
        }
    }

    #[test]
    fn announced_once_per_token_and_level() {
        let mut book = Book::default();
        let fresh = book.update("u", "w", "expiry", vec![verdict("wk-1", "warning")], 1.0);
        assert_eq!(fresh.len(), 1);
        for t in 2..5 {
            let again = book.update(
                "u",
                "w",
                "expiry",
                vec![verdict("wk-1", "warning")],
                t as f64,
            );
            assert!(again.is_empty());
        }
        assert_eq!(book.all()[0].since, 1.0);
        let expired = book.update("u", "w", "expiry", vec![verdict("wk-1", "expired")], 9.0);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].level, "expired");
        // Cleared, then back: announced again.
        assert!(book.update("u", "w", "expiry", vec![], 10.0).is_empty());
        assert!(book.all().is_empty());
        assert_eq!(
            book.update("u", "w", "expiry", vec![verdict("wk-1", "expired")], 11.0)
                .len(),
            1
        );
    }

    #[test]
    fn scopes_are_separate() {
        let mut book = Book::default();
        book.update("u", "a", "expiry", vec![verdict("wk-1", "warning")], 1.0);
        book.update("u", "b", "expiry", vec![], 1.0);
        assert_eq!(book.all().len(), 1);
    }

    #[test]
    fn plugin_output_is_checked() {
        let ok = parse(
            r#"{"alerts":[{"token_id":"wk-1","level":"warning","message":"old\nish"}]}"#,
            "expiry",
        )
        .unwrap();
        assert_eq!(ok[0].kind, "expiry");
        assert_eq!(ok[0].message, "old ish");
        assert!(parse("nope", "p").unwrap_err().contains("invalid JSON"));
        assert!(parse("{}", "p").unwrap_err().contains("alerts"));
        assert!(parse(r#"{"alerts":[{"level":"x","message":""}]}"#, "p")
            .unwrap_err()
            .contains("token_id"));
        assert!(parse(
            r#"{"alerts":[{"token_id":"a","level":"Bad Level","message":""}]}"#,
            "p"
        )
        .unwrap_err()
        .contains("level"));
    }
}
