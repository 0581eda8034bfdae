//! The `webhook` sink: which endpoints get each workspace event, and the
//! body each gets.
//!
//! mwsd hands every public event (`token.created`, `member.role_changed`,
//! `alert.expiry`, …) to the plugins that want `workspace.event`, with the
//! endpoints configured in `[webhooks.endpoints]`:
//!
//! ```json
//! {"event": "workspace.event", "now": 1.8e9,
//!  "change": {"type": "token.created", "time": …, "workspace": "acme", "server_url": …,
//!             "title": "Proxy token created", "detail": "wk-1 ('ci')",
//!             "before": null, "after": {…}, "instance": "…", "seq": 7},
//!  "endpoints": [{"name": "team", "format": "standard", "events": ["token.*"]}],
//!  "config": {}}
//! ```
//!
//! and this plugin answers `{"deliveries": [{"endpoint", "body"}]}`: one per
//! endpoint whose patterns match the event's type (`*`, `PREFIX.*`, or the
//! type itself; `webhook.test`, sent by `mws webhooks test`, always
//! matches). The body is a Standard Webhooks payload — `{"type",
//! "timestamp" (RFC 3339, UTC), "data"}` with the change as `data` — or, for
//! `format = "slack"`, `{"text": "*Title* in workspace: detail"}`, which
//! Slack's incoming webhooks (and Mattermost's, Discord's `/slack`) accept.
//! Signing, the outbox and retries are mwsd's: this plugin has no network.

use serde_json::{json, Value};

/// The event kind `mws webhooks test` sends: matches every endpoint.
const TEST: &str = "webhook.test";

/// True when `pattern` selects events of type `kind`.
fn matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// RFC 3339 in UTC, whole seconds (`2026-12-02T10:00:00Z`).
fn rfc3339(unix: f64) -> Result<String, String> {
    if !unix.is_finite() {
        return Err("the event's time is not a number".into());
    }
    let at = time::OffsetDateTime::from_unix_timestamp(unix.floor() as i64)
        .map_err(|_| format!("the event's time {unix} is out of range"))?;
    at.format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| e.to_string())
}

/// Slack's mrkdwn treats `&`, `<` and `>` as markup: escape them.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The body for one endpoint format.
fn body(format: &str, change: &Value) -> Result<Value, String> {
    let kind = text(change, "type");
    match format {
        "standard" => {
            let time = change
                .get("time")
                .and_then(Value::as_f64)
                .unwrap_or(f64::NAN);
            Ok(json!({"type": kind, "timestamp": rfc3339(time)?, "data": change}))
        }
        "slack" => {
            let title = match text(change, "title") {
                "" => kind,
                title => title,
            };
            let mut line = format!("*{}*", slack_escape(title));
            let workspace = text(change, "workspace");
            if !workspace.is_empty() {
                line.push_str(&format!(" in {}", slack_escape(workspace)));
            }
            let detail = text(change, "detail");
            if !detail.is_empty() {
                line.push_str(&format!(": {}", slack_escape(detail)));
            }
            Ok(json!({ "text": line }))
        }
        other => Err(format!("unknown endpoint format '{other}'")),
    }
}

/// Answers one `workspace.event`.
pub fn deliveries(input: &[u8]) -> Result<Value, String> {
    let doc: Value =
        serde_json::from_slice(input).map_err(|e| format!("input is not valid JSON: {e}"))?;
    let change = doc.get("change").ok_or("input has no \"change\"")?;
    let kind = change
        .get("type")
        .and_then(Value::as_str)
        .ok_or("the change has no \"type\"")?;
    let endpoints = doc
        .get("endpoints")
        .and_then(Value::as_array)
        .ok_or("input has no \"endpoints\" list")?;
    let mut out = Vec::new();
    for endpoint in endpoints {
        let name = text(endpoint, "name");
        if name.is_empty() {
            return Err("an endpoint has no \"name\"".into());
        }
        let wanted = kind == TEST
            || endpoint
                .get("events")
                .and_then(Value::as_array)
                .is_some_and(|patterns| {
                    patterns
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|p| matches(p, kind))
                });
        if wanted {
            let format = match text(endpoint, "format") {
                "" => "standard",
                format => format,
            };
            out.push(json!({"endpoint": name, "body": body(format, change)?}));
        }
    }
    Ok(json!({ "deliveries": out }))
}

fn on_event(event: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    match event {
        "workspace.event" => deliveries(input).map(|v| v.to_string().into_bytes()),
        other => Err(format!("unexpected event '{other}'")),
    }
}

mws_plugin_api::export_plugin! {
    name: "webhook",
    version: env!("CARGO_PKG_VERSION"),
    formats: "",
    events: "workspace.event",
    render: None,
    on_event: Some(on_event),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: &str, endpoints: Value) -> Vec<u8> {
        json!({
            "event": "workspace.event",
            "now": 1_800_000_000.5,
            "change": {"type": kind, "time": 1_800_000_000.5, "workspace": "acme",
                       "title": "Proxy token created", "detail": "wk-1 ('<ci>')",
                       "before": null, "after": {"token_id": "wk-1"}},
            "endpoints": endpoints,
            "config": {},
        })
        .to_string()
        .into_bytes()
    }

    fn to(answer: &Value) -> Vec<&str> {
        answer["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["endpoint"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn patterns_choose_the_endpoints() {
        let endpoints = json!([
            {"name": "all", "format": "standard", "events": ["*"]},
            {"name": "tokens", "format": "standard", "events": ["token.*"]},
            {"name": "exact", "format": "standard", "events": ["token.deleted"]},
            {"name": "alerts", "format": "standard", "events": ["alert.*"]},
            {"name": "none", "format": "standard", "events": []},
        ]);
        let answer = deliveries(&input("token.created", endpoints.clone())).unwrap();
        assert_eq!(to(&answer), ["all", "tokens"]);
        let answer = deliveries(&input("token.deleted", endpoints.clone())).unwrap();
        assert_eq!(to(&answer), ["all", "tokens", "exact"]);
        // A prefix is matched at the dot: "token.*" is not "tokens.…".
        assert!(!matches("token.*", "tokens.created"));
        let answer = deliveries(&input(TEST, endpoints)).unwrap();
        assert_eq!(to(&answer), ["all", "tokens", "exact", "alerts", "none"]);
    }

    #[test]
    fn the_standard_body_is_type_timestamp_and_data() {
        let endpoints = json!([{"name": "t", "format": "standard", "events": ["*"]}]);
        let answer = deliveries(&input("token.created", endpoints)).unwrap();
        let body = &answer["deliveries"][0]["body"];
        assert_eq!(body["type"], "token.created");
        assert_eq!(body["timestamp"], "2027-01-15T08:00:00Z");
        assert_eq!(body["data"]["after"]["token_id"], "wk-1");
    }

    #[test]
    fn the_slack_body_is_one_escaped_line() {
        let endpoints = json!([{"name": "s", "format": "slack", "events": ["*"]}]);
        let answer = deliveries(&input("token.created", endpoints)).unwrap();
        assert_eq!(
            answer["deliveries"][0]["body"],
            json!({"text": "*Proxy token created* in acme: wk-1 ('&lt;ci&gt;')"})
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(deliveries(b"nope").unwrap_err().contains("not valid JSON"));
        assert!(deliveries(b"{}").unwrap_err().contains("change"));
        let no_name = input("x", json!([{"events": ["*"]}]));
        assert!(deliveries(&no_name).unwrap_err().contains("name"));
        let bad_format = input(
            "x",
            json!([{"name": "a", "format": "xml", "events": ["*"]}]),
        );
        assert!(deliveries(&bad_format).unwrap_err().contains("xml"));
        let nan =
            br#"{"change":{"type":"x","time":null},"endpoints":[{"name":"a","events":["*"]}]}"#;
        assert!(deliveries(nan).unwrap_err().contains("time"));
    }
}
