//! A proxy-token age policy: every token older than the maximum age is
//! `expired`, every token within the warning window before it a `warning`.
//!
//! The daemon calls this plugin with the `tokens.refreshed` event after each
//! refresh of a workspace's token list, passing the plugin's table from
//! mws's config file:
//!
//! ```toml
//! [plugins.expiry]
//! max_age_days = 90   # default 90
//! warn_days = 14      # default 14; 0 = no warnings, only expiry
//! ```
//!
//! The plugin is stateless: it judges the list it is given and returns
//! every token's current verdict. Raising an alert once per token and level
//! (not on every poll) is the daemon's job.

use serde_json::{json, Value};

const DAY: f64 = 86_400.0;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Policy {
    max_age_days: f64,
    warn_days: f64,
}

fn number(config: &Value, key: &str, default: f64) -> Result<f64, String> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_f64()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| format!("[plugins.expiry] {key} must be a non-negative number of days")),
    }
}

fn policy(config: &Value) -> Result<Policy, String> {
    let policy = Policy {
        max_age_days: number(config, "max_age_days", 90.0)?,
        warn_days: number(config, "warn_days", 14.0)?,
    };
    if policy.max_age_days <= 0.0 {
        return Err("[plugins.expiry] max_age_days must be above 0".into());
    }
    Ok(policy)
}

fn days(n: f64) -> String {
    let rounded = n.floor() as i64;
    if rounded == 1 {
        "1 day".into()
    } else {
        format!("{rounded} days")
    }
}

/// Judges every token of a `tokens.refreshed` event.
pub fn judge(input: &[u8]) -> Result<Value, String> {
    let doc: Value =
        serde_json::from_slice(input).map_err(|e| format!("input is not valid JSON: {e}"))?;
    let policy = policy(doc.get("config").unwrap_or(&Value::Null))?;
    let now = doc
        .get("now")
        .and_then(Value::as_f64)
        .ok_or("input has no \"now\" time")?;
    let tokens = doc
        .get("tokens")
        .and_then(Value::as_array)
        .ok_or("input has no \"tokens\" array")?;
    let mut alerts = Vec::new();
    for token in tokens {
        let id = token.get("token_id").and_then(Value::as_str).unwrap_or("");
        let created = token
            .get("created_at")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        if id.is_empty() || created <= 0.0 {
            continue; // no id or no creation time: nothing to judge
        }
        let name = token.get("name").and_then(Value::as_str).unwrap_or("");
        let label = if name.is_empty() {
            id.to_string()
        } else {
            format!("{id} ('{name}')")
        };
        let age = (now - created).max(0.0) / DAY;
        let left = policy.max_age_days - age;
        let (level, message) = if left <= 0.0 {
            (
                "expired",
                format!(
                    "Proxy token {label} is {} old, past the maximum age of {}; rotate it",
                    days(age),
                    days(policy.max_age_days)
                ),
            )
        } else if left <= policy.warn_days {
            (
                "warning",
                format!(
                    "Proxy token {label} is {} old and reaches the maximum age of {} in {}",
                    days(age),
                    days(policy.max_age_days),
                    days(left.ceil())
                ),
            )
        } else {
            continue;
        };
        alerts.push(json!({
            "kind": "token_age",
            "token_id": id,
            "level": level,
            "message": message,
        }));
    }
    Ok(json!({ "alerts": alerts }))
}

fn on_event(event: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    match event {
        "tokens.refreshed" => judge(input).map(|v| v.to_string().into_bytes()),
        other => Err(format!("unexpected event '{other}'")),
    }
}

mws_plugin_api::export_plugin! {
    name: "expiry",
    version: env!("CARGO_PKG_VERSION"),
    formats: "",
    events: "tokens.refreshed",
    render: None,
    on_event: Some(on_event),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(config: Value, ages_days: &[f64]) -> Vec<(String, String)> {
        let now = 1_800_000_000.0;
        let tokens: Vec<Value> = ages_days
            .iter()
            .enumerate()
            .map(|(i, d)| json!({"token_id": format!("wk-{i}"), "name": "", "created_at": now - d * DAY}))
            .collect();
        let input = json!({"now": now, "tokens": tokens, "config": config}).to_string();
        judge(input.as_bytes()).unwrap()["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["token_id"].as_str().unwrap().to_string(),
                    a["level"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn thresholds() {
        let got = levels(
            json!({"max_age_days": 90, "warn_days": 14}),
            &[10.0, 75.9, 76.1, 89.9, 90.0, 400.0],
        );
        let want: Vec<(String, String)> = [
            (2, "warning"),
            (3, "warning"),
            (4, "expired"),
            (5, "expired"),
        ]
        .iter()
        .map(|(i, l)| (format!("wk-{i}"), l.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn defaults_and_no_warnings() {
        assert_eq!(levels(Value::Null, &[80.0]).len(), 1);
        assert_eq!(levels(json!({"warn_days": 0}), &[80.0]).len(), 0);
    }

    #[test]
    fn bad_config_and_input_are_errors() {
        let bad = json!({"now": 1.0, "tokens": [], "config": {"max_age_days": "soon"}}).to_string();
        assert!(judge(bad.as_bytes()).unwrap_err().contains("max_age_days"));
        assert!(judge(b"[").unwrap_err().contains("JSON"));
        assert!(judge(b"{\"now\": 1}").unwrap_err().contains("tokens"));
    }

    #[test]
    fn unset_creation_times_are_skipped() {
        let input =
            json!({"now": 1e9, "tokens": [{"token_id": "wk-1", "created_at": 0.0}]}).to_string();
        assert_eq!(judge(input.as_bytes()).unwrap()["alerts"], json!([]));
    }
}
