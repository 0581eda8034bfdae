//! Sinks: plugins that turn the daemon's public events into webhook
//! deliveries.
//!
//! A plugin that lists `workspace.event` among its events is a sink. Every
//! public event the journal numbers (`token.created`, `alert.expiry`, …) is
//! handed to each sink with the configured endpoints — name, format and
//! event patterns — and the sink answers which endpoints get it and with
//! what body:
//!
//! ```json
//! {"deliveries": [{"endpoint": "team", "body": {"type": "token.created", …}}]}
//! ```
//!
//! The sink decides *what* is sent; the daemon does the sending
//! ([`crate::webhooks`]): plugins run in a host that cannot open a socket,
//! and the outbox, the signing keys and the retries belong to the daemon.
//! `mws webhooks test NAME` sends a `webhook.test` event to one endpoint,
//! which a sink delivers whatever that endpoint's patterns are. The plugin
//! ABI is unchanged (v1): a sink is a plugin that handles one more event.

use super::{Entry, Manager, PluginError, Plugins};
use crate::webhooks::{Delivery, MAX_BODY};
use mws_ipc::Event;
use mws_ipc::PluginState;
use serde_json::{json, Value};

/// The event a sink plugin lists.
const WORKSPACE_EVENT: &str = "workspace.event";
/// The kind of the event `mws webhooks test` sends.
const WEBHOOK_TEST: &str = "webhook.test";
/// Most deliveries one answer may ask for (the rest are dropped and named).
const MAX_DELIVERIES: usize = 64;

fn is_sink(entry: &Entry) -> bool {
    entry.index.is_some() && entry.info.events.iter().any(|e| e == WORKSPACE_EVENT)
}

/// A JSON text from the journal as a value (`null` when it is not JSON).
fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// What a sink gets about one event.
fn change(wire: &Event) -> Value {
    json!({
        "type": wire.kind,
        "time": wire.time,
        "workspace": wire.workspace,
        "server_url": wire.server_url,
        "title": wire.title,
        "detail": wire.detail,
        "before": parsed(&wire.before),
        "after": parsed(&wire.after),
        "instance": wire.instance,
        "seq": wire.seq,
    })
}

/// A sink's answer as deliveries; an error names what is wrong with it.
fn parse_deliveries(output: &str, kind: &str) -> Result<(Vec<Delivery>, usize), String> {
    let value: Value =
        serde_json::from_str(output).map_err(|e| format!("its answer is not JSON: {e}"))?;
    let list = match value.get("deliveries") {
        Some(Value::Array(list)) => list,
        None | Some(Value::Null) => return Ok((Vec::new(), 0)),
        Some(_) => return Err("its \"deliveries\" is not a list".into()),
    };
    let mut deliveries = Vec::new();
    for item in list.iter().take(MAX_DELIVERIES) {
        let endpoint = match item.get("endpoint") {
            Some(Value::String(name)) => name.clone(),
            _ => return Err("a delivery has no \"endpoint\" string".into()),
        };
        let body = match item.get("body") {
            None | Some(Value::Null) => return Err("a delivery has no \"body\"".into()),
            Some(body) => body.to_string(),
        };
        if body.len() > MAX_BODY {
            return Err(format!(
                "a delivery's body is {} bytes (the limit is {MAX_BODY})",
                body.len()
            ));
        }
        deliveries.push(Delivery {
            endpoint,
            event: kind.to_string(),
            body,
        });
    }
    Ok((deliveries, list.len().saturating_sub(MAX_DELIVERIES)))
}

impl Manager {
    /// Hands one public event to every sink and queues what they answer;
    /// with `only`, to that endpoint alone (a test). Returns how many
    /// deliveries were queued.
    pub(super) async fn sink(
        &mut self,
        wire: &Event,
        only: Option<&str>,
    ) -> Result<u64, PluginError> {
        let endpoints: Vec<Value> = self
            .webhooks
            .endpoints()
            .into_iter()
            .filter(|e| only.is_none_or(|name| e.name == name))
            .map(|e| json!({"name": e.name, "format": e.format.name(), "events": e.events}))
            .collect();
        if endpoints.is_empty() {
            return Ok(0);
        }
        self.ensure_current().await;
        let sinks: Vec<(usize, String, usize)> = self
            .state
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| is_sink(e))
            .filter_map(|(i, e)| Some((i, e.info.name.clone(), e.index?)))
            .collect();
        if sinks.is_empty() {
            if only.is_some() {
                return Err(PluginError::Call(format!(
                    "no loaded plugin handles '{WORKSPACE_EVENT}' (the bundled 'webhook' plugin does: see `mws plugins list`)"
                )));
            }
            return Ok(0);
        }
        let settings = self.settings();
        let mut queued = 0;
        let mut problems = Vec::new();
        for (entry, name, index) in sinks {
            let config = settings.config.get(&name).cloned().unwrap_or(json!({}));
            let input = json!({
                "event": WORKSPACE_EVENT,
                "now": crate::events::now(),
                "change": change(wire),
                "endpoints": endpoints,
                "config": config,
            });
            let doing = format!("handling '{}'", wire.kind);
            let output = match self
                .call_event(
                    entry,
                    (&name, index),
                    WORKSPACE_EVENT,
                    input.to_string(),
                    &doing,
                )
                .await
            {
                // A crash moved the entries (a new host): skip this sink.
                None => continue,
                Some(Ok(output)) => output,
                Some(Err(e)) => {
                    problems.push(e);
                    continue;
                }
            };
            let (mut deliveries, extra) = match parse_deliveries(&output, &wire.kind) {
                Ok(parsed) => parsed,
                Err(e) => {
                    let e = format!("plugin '{name}' answered '{}' wrongly: {e}", wire.kind);
                    self.sink_problem(entry, &e);
                    problems.push(e);
                    continue;
                }
            };
            if extra > 0 {
                let e = format!(
                    "plugin '{name}' asked for {} deliveries of one event; the first {MAX_DELIVERIES} are queued",
                    deliveries.len() + extra
                );
                self.sink_problem(entry, &e);
                problems.push(e);
            }
            if let Some(only) = only {
                deliveries.retain(|d| d.endpoint == only);
            }
            match self.webhooks.accept(&name, deliveries).await {
                Ok(n) => queued += n,
                Err(e) => {
                    self.sink_problem(entry, &e);
                    problems.push(e);
                }
            }
        }
        self.publish();
        if only.is_some() && queued == 0 {
            let why = if problems.is_empty() {
                "the sink plugins sent nothing".to_string()
            } else {
                problems.join("; ")
            };
            return Err(PluginError::Call(format!(
                "no test delivery was queued: {why}"
            )));
        }
        Ok(queued)
    }

    /// Sends a `webhook.test` event to `endpoint` alone.
    pub(super) async fn sink_test(&mut self, endpoint: &str) -> Result<u64, PluginError> {
        let event = test_event(endpoint, self.bus.journal().instance());
        self.sink(&event, Some(endpoint)).await
    }

    /// Logs a sink's problem and records it where `mws plugins list` shows it.
    fn sink_problem(&mut self, entry: usize, problem: &str) {
        tracing::warn!("{problem}");
        self.note(entry, problem.to_string());
    }
}

impl Plugins {
    /// The loaded sink plugins, from the published snapshot (never waits
    /// for a plugin).
    pub(crate) fn sinks(&self) -> Vec<String> {
        self.snapshot()
            .into_iter()
            .filter(|p| {
                p.state == PluginState::Loaded && p.events.iter().any(|e| e == WORKSPACE_EVENT)
            })
            .map(|p| p.name)
            .collect()
    }
}

/// The event `mws webhooks test NAME` sends.
fn test_event(endpoint: &str, instance: &str) -> Event {
    Event {
        kind: WEBHOOK_TEST.to_string(),
        time: crate::events::now(),
        workspace: String::new(),
        server_url: String::new(),
        before: "null".into(),
        after: "null".into(),
        title: "Test delivery".into(),
        detail: format!("mwsd's test of webhook endpoint '{endpoint}'"),
        instance: instance.to_string(),
        seq: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_read_and_bodies_kept_as_compact_json() {
        let (d, extra) = parse_deliveries(
            r#"{"deliveries":[{"endpoint":"team","body":{"a": 1}}]}"#,
            "token.created",
        )
        .unwrap();
        assert_eq!(extra, 0);
        assert_eq!(d[0].endpoint, "team");
        assert_eq!(d[0].body, r#"{"a":1}"#);
        assert_eq!(d[0].event, "token.created");
        assert!(parse_deliveries("{}", "x").unwrap().0.is_empty());
    }

    #[test]
    fn wrong_answers_are_named() {
        for (bad, says) in [
            ("nope", "not JSON"),
            (r#"{"deliveries":3}"#, "not a list"),
            (r#"{"deliveries":[{"body":{}}]}"#, "\"endpoint\""),
            (r#"{"deliveries":[{"endpoint":"t"}]}"#, "\"body\""),
        ] {
            let e = parse_deliveries(bad, "x").unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let huge = format!(
            r#"{{"deliveries":[{{"endpoint":"t","body":"{}"}}]}}"#,
            "x".repeat(MAX_BODY)
        );
        assert!(parse_deliveries(&huge, "x").unwrap_err().contains("limit"));
    }

    #[test]
    fn too_many_deliveries_are_cut_and_counted() {
        let one = r#"{"endpoint":"t","body":1}"#;
        let list = vec![one; MAX_DELIVERIES + 3].join(",");
        let (d, extra) = parse_deliveries(&format!(r#"{{"deliveries":[{list}]}}"#), "x").unwrap();
        assert_eq!((d.len(), extra), (MAX_DELIVERIES, 3));
    }
}
