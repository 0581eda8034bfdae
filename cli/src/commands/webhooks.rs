//! `mws webhooks list|secret|test|retry|purge`: the webhook endpoints
//! configured in `[webhooks.endpoints]`, their queue, their signing secrets
//! (kept in the OS keyring by the daemon; a secret is read from a hidden
//! prompt or standard input, never argv), a test delivery, and what to do
//! with deliveries that did not go out.

use crate::args::{JsonFlag, WebhooksCommand};
use crate::client::Retry;
use crate::output::emit;
use crate::plugins::{columns, pretty};
use crate::render;
use crate::request::{send, unexpected};
use crate::secret_input::read_secret;
use mws_ipc::{Request, Response, WebhookCommand, WebhookEndpoint, WebhookReport};
use serde_json::json;
use std::process::ExitCode;

pub(super) fn run(command: WebhooksCommand) -> anyhow::Result<ExitCode> {
    match command {
        WebhooksCommand::List { output } => list(output),
        WebhooksCommand::Secret {
            name,
            generate,
            secret_stdin,
            delete,
            output,
        } => secret(&name, generate, secret_stdin, delete, output),
        WebhooksCommand::Test { name, output } => test(&name, output),
        WebhooksCommand::Retry { name, output } => retry(&name, output),
        WebhooksCommand::Purge { name, output } => purge(&name, output),
    }
}

/// The changes carry no idempotency key: never resent to a second daemon.
fn ask(command: WebhookCommand, retry: Retry) -> anyhow::Result<Response> {
    send(&Request::Webhooks(command), retry)
}

fn list(output: JsonFlag) -> anyhow::Result<ExitCode> {
    let response = ask(WebhookCommand::List, Retry::Safe)?;
    let Response::Webhooks(report) = response else {
        return Err(unexpected(&response));
    };
    if output.json {
        emit(&pretty(&report)?)?;
    } else {
        emit(&report_text(&report, ""))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The queue's summary line, then one table row per endpoint, each line
/// after `indent`.
pub(crate) fn report_text(report: &WebhookReport, indent: &str) -> String {
    if report.endpoints.is_empty() && report.queued == 0 && report.orphaned_endpoints.is_empty() {
        return format!(
            "{indent}No webhook endpoints are configured (add [webhooks.endpoints.NAME] to ~/.config/mws/config.toml).\n"
        );
    }
    let mut out = format!("{indent}{}\n", summary(report));
    if report.sinks.is_empty() {
        out.push_str(&format!(
            "{indent}No sink plugin is loaded, so no event becomes a delivery (the bundled 'webhook' plugin does this: see `mws plugins list`).\n"
        ));
    }
    let tz = render::time::local_zone();
    let mut rows = vec![vec![
        "NAME".to_string(),
        "TARGET".into(),
        "FORMAT".into(),
        "SECRET".into(),
        "QUEUED".into(),
        "DELIVERED".into(),
        "RETRIES".into(),
        "FAILED".into(),
        "LAST ERROR".into(),
    ]];
    for e in &report.endpoints {
        rows.push(vec![
            e.name.clone(),
            e.target.clone(),
            e.format.clone(),
            secret_state(e).into(),
            e.queued.to_string(),
            e.delivered.to_string(),
            e.retries.to_string(),
            e.failed.to_string(),
            last_error(e, &tz),
        ]);
    }
    for line in columns(&rows) {
        out.push_str(indent);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn summary(report: &WebhookReport) -> String {
    let mut text = format!(
        "{} endpoint{}, {} queued (at most {}), {} dropped, {} missed events",
        report.endpoints.len(),
        if report.endpoints.len() == 1 { "" } else { "s" },
        report.queued,
        report.max_queue,
        report.dropped,
        report.missed_events,
    );
    if report.orphaned > 0 {
        text.push_str(&format!(
            ", {} for endpoints no longer configured",
            report.orphaned
        ));
    }
    if !report.orphaned_endpoints.is_empty() {
        text.push_str(&format!(
            " ({}: `mws webhooks purge NAME` removes them)",
            report.orphaned_endpoints.join(", ")
        ));
    }
    text
}

fn secret_state(endpoint: &WebhookEndpoint) -> &'static str {
    match (endpoint.format.as_str(), endpoint.has_secret) {
        (_, Some(true)) => "yes",
        ("slack", _) => "-",
        (_, Some(false)) => "missing",
        (_, None) => "?",
    }
}

fn last_error(endpoint: &WebhookEndpoint, tz: &jiff::tz::TimeZone) -> String {
    let Some(error) = &endpoint.last_error else {
        return "-".into();
    };
    match endpoint
        .next_attempt_at
        .and_then(|at| render::time::json_timestamp(at, tz))
    {
        Some(at) => format!("{error} (next attempt {at})"),
        None => error.clone(),
    }
}

fn secret(
    name: &str,
    generate: bool,
    secret_stdin: bool,
    delete: bool,
    output: JsonFlag,
) -> anyhow::Result<ExitCode> {
    if delete {
        let response = ask(
            WebhookCommand::DeleteSecret {
                name: name.to_string(),
            },
            Retry::Unsafe,
        )?;
        let Response::Ok = response else {
            return Err(unexpected(&response));
        };
        return answer(
            output,
            json!({"endpoint": name, "secret": "deleted"}),
            format!("Removed the signing secret of webhook endpoint '{name}' from the keyring.\n"),
        );
    }
    let secret = if generate {
        None
    } else {
        Some(read_secret(secret_stdin, "Signing secret (whsec_…): ")?)
    };
    let response = ask(
        WebhookCommand::SetSecret {
            name: name.to_string(),
            secret,
        },
        Retry::Unsafe,
    )?;
    let Response::WebhookSecret(generated) = response else {
        return Err(unexpected(&response));
    };
    match (generated, output.json) {
        (Some(secret), true) => emit(&pretty(
            &json!({"endpoint": name, "secret": "stored", "generated": secret.expose()}),
        )?)?,
        (Some(secret), false) => emit(&format!(
            "Stored a new signing secret for webhook endpoint '{name}' in the keyring.\nGive it to the receiver (it is not shown again):\n{}\n",
            secret.expose()
        ))?,
        (None, true) => emit(&pretty(&json!({"endpoint": name, "secret": "stored"}))?)?,
        (None, false) => emit(&format!(
            "Stored the signing secret of webhook endpoint '{name}' in the keyring.\n"
        ))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the JSON form with --json, else the sentence.
fn answer(output: JsonFlag, json: serde_json::Value, text: String) -> anyhow::Result<ExitCode> {
    if output.json {
        emit(&pretty(&json)?)?;
    } else {
        emit(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `test` and `retry`: how many deliveries were queued.
fn queued(command: WebhookCommand) -> anyhow::Result<u64> {
    match ask(command, Retry::Unsafe)? {
        Response::WebhookQueued(queued) => Ok(queued),
        other => Err(unexpected(&other)),
    }
}

fn test(name: &str, output: JsonFlag) -> anyhow::Result<ExitCode> {
    let queued = queued(WebhookCommand::Test {
        name: name.to_string(),
    })?;
    answer(
        output,
        json!({"endpoint": name, "queued": queued}),
        format!(
            "Queued a test delivery for webhook endpoint '{name}'; `mws webhooks list` shows how it went.\n"
        ),
    )
}

fn retry(name: &str, output: JsonFlag) -> anyhow::Result<ExitCode> {
    let queued = queued(WebhookCommand::Retry {
        name: name.to_string(),
    })?;
    answer(
        output,
        json!({"endpoint": name, "queued": queued}),
        format!(
            "Queued {queued} deliver{} again for webhook endpoint '{name}'.\n",
            if queued == 1 { "y" } else { "ies" }
        ),
    )
}

fn purge(name: &str, output: JsonFlag) -> anyhow::Result<ExitCode> {
    let response = ask(
        WebhookCommand::Purge {
            name: name.to_string(),
        },
        Retry::Unsafe,
    )?;
    let Response::WebhookPurged { removed, sending } = response else {
        return Err(unexpected(&response));
    };
    answer(
        output,
        json!({"endpoint": name, "removed": removed, "sending": sending}),
        purged_text(name, removed, sending),
    )
}

fn purged_text(name: &str, removed: u64, sending: u64) -> String {
    let mut text = format!(
        "Removed {removed} deliver{} to webhook endpoint '{name}' from the outbox.\n",
        if removed == 1 { "y" } else { "ies" }
    );
    if sending > 0 {
        text.push_str(&format!(
            "{sending} being sent right now {} left to its attempt.\n",
            if sending == 1 { "was" } else { "were" }
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(name: &str, format: &str, has_secret: Option<bool>) -> WebhookEndpoint {
        WebhookEndpoint {
            name: name.into(),
            target: "https://hooks.example.com".into(),
            format: format.into(),
            has_secret,
            ..Default::default()
        }
    }

    #[test]
    fn nothing_configured_says_how_to_configure() {
        let text = report_text(&WebhookReport::default(), "");
        assert!(text.contains("[webhooks.endpoints.NAME]"), "{text}");
    }

    #[test]
    fn a_report_shows_the_queue_and_each_endpoint() {
        let report = WebhookReport {
            endpoints: vec![
                endpoint("team", "standard", Some(false)),
                WebhookEndpoint {
                    queued: 2,
                    retries: 3,
                    last_error: Some("HTTP 500".into()),
                    ..endpoint("chat", "slack", None)
                },
            ],
            queued: 2,
            max_queue: 10,
            dropped: 4,
            missed_events: 1,
            sinks: vec!["webhook".into()],
            ..Default::default()
        };
        let text = report_text(&report, "  ");
        assert!(
            text.starts_with("  2 endpoints, 2 queued (at most 10), 4 dropped, 1 missed events\n"),
            "{text}"
        );
        assert!(text.contains("missing"), "{text}");
        assert!(text.contains("HTTP 500"), "{text}");
        assert!(!text.contains("No sink plugin"), "{text}");
    }

    #[test]
    fn deliveries_left_by_a_removed_endpoint_are_named_with_the_way_out() {
        let report = WebhookReport {
            queued: 3,
            max_queue: 10,
            orphaned: 3,
            orphaned_endpoints: vec!["old-team".into(), "pager".into()],
            ..Default::default()
        };
        let text = report_text(&report, "");
        assert!(
            text.starts_with("0 endpoints, 3 queued (at most 10), 0 dropped, 0 missed events, 3 for endpoints no longer configured (old-team, pager: `mws webhooks purge NAME` removes them)\n"),
            "{text}"
        );
        // Only given-up deliveries left (none waiting): still named.
        let report = WebhookReport {
            orphaned_endpoints: vec!["old-team".into()],
            ..Default::default()
        };
        assert!(report_text(&report, "").contains("old-team"));
    }

    #[test]
    fn a_purge_says_what_it_removed_and_what_it_left() {
        assert_eq!(
            purged_text("team", 1, 0),
            "Removed 1 delivery to webhook endpoint 'team' from the outbox.\n"
        );
        assert_eq!(
            purged_text("team", 0, 1),
            "Removed 0 deliveries to webhook endpoint 'team' from the outbox.\n1 being sent right now was left to its attempt.\n"
        );
    }
}
