//! `mws alerts [--json] [--fail-on LEVEL]`: what the alert plugins say of
//! the selected identity's credentials (judged by the daemon now, from its
//! cache when young enough), and every other alert the daemon holds.
//!
//! Made for scripts too: the exit code is 1 when an alert is at or above
//! `--fail-on` (default `warning`), and "No alerts." is only said when a
//! plugin actually judged the credentials — with none loaded, the command
//! fails and says so, since silence would then mean nothing.

use crate::args::JsonFlag;
use crate::output::emit;
use crate::plugins::{columns, pretty};
use crate::render;
use crate::request::{self, unexpected};
use mws_ipc::{alert_level_rank, Alert, Freshness, Response, WorkspaceCommand};
use serde::Serialize;
use std::process::ExitCode;

#[derive(Serialize)]
struct AlertJson<'a> {
    level: &'a str,
    kind: &'a str,
    token_id: &'a str,
    owner: &'a str,
    expires_at: Option<String>,
    workspace: &'a str,
    server_url: &'a str,
    message: &'a str,
    fix: &'a str,
    plugin: &'a str,
    since: Option<String>,
}

/// True when `alert` reaches the `--fail-on` level.
fn fails(alert: &Alert, fail_on: &str) -> bool {
    fail_on != "never" && alert_level_rank(&alert.level) >= alert_level_rank(fail_on)
}

pub fn run(
    profile: Option<String>,
    output: JsonFlag,
    fail_on: &str,
    freshness: Freshness,
) -> anyhow::Result<ExitCode> {
    let response = request::workspace(profile, freshness, WorkspaceCommand::Alerts)?;
    let Response::AlertReport(report) = response else {
        return Err(unexpected(&response));
    };
    if report.judges.is_empty() {
        anyhow::bail!(
            "no alert plugin is loaded, so nothing checked the credentials (see `mws plugins list`; the bundled 'expiry' plugin does this)"
        );
    }
    let alerts = &report.alerts;
    let tz = render::time::local_zone();
    let text = if output.json {
        let rows: Vec<AlertJson<'_>> = alerts
            .iter()
            .map(|a| AlertJson {
                level: &a.level,
                kind: &a.kind,
                token_id: &a.token_id,
                owner: &a.owner,
                expires_at: render::time::json_timestamp(a.expires_at, &tz),
                workspace: &a.workspace,
                server_url: &a.server_url,
                message: &a.message,
                fix: &a.fix,
                plugin: &a.plugin,
                since: render::time::json_timestamp(a.since, &tz),
            })
            .collect();
        pretty(&rows)?
    } else if alerts.is_empty() {
        "No alerts.\n".to_string()
    } else {
        let mut rows = vec![vec![
            "LEVEL".to_string(),
            "ID".into(),
            "OWNER".into(),
            "EXPIRES".into(),
            "WORKSPACE".into(),
            "MESSAGE".into(),
        ]];
        for a in alerts {
            rows.push(vec![
                a.level.clone(),
                a.token_id.clone(),
                a.owner.clone(),
                render::time::json_timestamp(a.expires_at, &tz)
                    .map(|t| t.chars().take(16).collect())
                    .unwrap_or_else(|| "-".into()),
                a.workspace.clone(),
                if a.fix.is_empty() {
                    a.message.clone()
                } else {
                    format!("{} Fix: {}", a.message, a.fix)
                },
            ]);
        }
        columns(&rows)
            .iter()
            .map(|l| format!("{}\n", l.trim_end()))
            .collect()
    };
    emit(&text)?;
    Ok(if alerts.iter().any(|a| fails(a, fail_on)) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(level: &str) -> Alert {
        Alert {
            level: level.into(),
            ..Alert::default()
        }
    }

    #[test]
    fn fail_on_compares_levels() {
        assert!(fails(&alert("warning"), "warning"));
        assert!(fails(&alert("expired"), "warning"));
        assert!(!fails(&alert("info"), "warning"));
        assert!(fails(&alert("info"), "info"));
        assert!(!fails(&alert("critical"), "expired"));
        assert!(!fails(&alert("expired"), "never"));
    }
}
