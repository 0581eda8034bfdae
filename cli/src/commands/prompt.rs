//! `mws prompt`: a one-line segment for a shell prompt — profile,
//! workspace and the most urgent alert — answered from the daemon's cache.
//!
//! A prompt runs before every command line, so this must never hold the
//! user up: it asks a running daemon only (never starts one), gives it 50 ms
//! in all, and on any failure (no daemon, a hung one, an old one, an error)
//! prints nothing and exits 0. The daemon answers without calling Modal.

use crate::client::Client;
use crate::output::emit;
use mws_ipc::{Alert, PromptInfo, Request, Response, Selection};
use std::process::ExitCode;
use std::time::Duration;

/// The whole budget of a prompt.
const BUDGET: Duration = Duration::from_millis(50);

const DAY: f64 = 86_400.0;

pub(super) fn run(profile: Option<String>, template: &str) -> anyhow::Result<ExitCode> {
    let request = Request::Prompt {
        selection: Selection::from_env(profile, |name| std::env::var_os(name)),
    };
    let info = match Client::new().request_within(&request, BUDGET) {
        Ok(Response::Prompt(info)) => info,
        _ => return Ok(ExitCode::SUCCESS),
    };
    let line = render(template, &info, now());
    if !line.is_empty() {
        // A closed or full stdout is not worth an error in a prompt.
        let _ = emit(&format!("{line}\n"));
    }
    Ok(ExitCode::SUCCESS)
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Fills the template's placeholders, then drops the spaces an empty one
/// leaves behind.
fn render(template: &str, info: &PromptInfo, now: f64) -> String {
    let alert = info
        .alert
        .as_ref()
        .map(|a| short_alert(a, now))
        .unwrap_or_default();
    let level = info.alert.as_ref().map(|a| a.level.as_str()).unwrap_or("");
    let filled = template
        .replace("{profile}", &info.profile)
        .replace("{workspace}", &info.workspace)
        .replace("{alert}", &alert)
        .replace("{level}", level);
    filled.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `⚠ token expires in 3d`, `✗ service user ci expired`, …
fn short_alert(alert: &Alert, now: f64) -> String {
    let what = match alert.kind.as_str() {
        "credential_expiry" => "token".to_string(),
        "service_user_expiry" => format!("service user {}", alert.token_id),
        "member_token_expiry" => "member token".to_string(),
        "token_age" => "proxy token".to_string(),
        other => other.replace('_', " "),
    };
    if alert.level == "expired" {
        return format!("✗ {what} expired");
    }
    if alert.expires_at > now {
        let left = alert.expires_at - now;
        let when = if left >= DAY {
            format!("{}d", (left / DAY).floor() as u64)
        } else {
            format!("{}h", (left / 3600.0).ceil() as u64)
        };
        return format!("⚠ {what} expires in {when}");
    }
    format!("⚠ {what}: {}", alert.level)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(alert: Option<Alert>) -> PromptInfo {
        PromptInfo {
            profile: "work".into(),
            workspace: "acme".into(),
            alert,
        }
    }

    fn alert(kind: &str, level: &str, expires_at: f64) -> Alert {
        Alert {
            kind: kind.into(),
            level: level.into(),
            expires_at,
            token_id: "nightly".into(),
            ..Alert::default()
        }
    }

    #[test]
    fn placeholders_are_filled_and_empty_ones_leave_no_gap() {
        assert_eq!(render("{workspace} {alert}", &info(None), 0.0), "acme");
        assert_eq!(
            render(
                "{profile}@{workspace} {alert}",
                &info(Some(alert("credential_expiry", "critical", 3.5 * DAY))),
                0.0
            ),
            "work@acme ⚠ token expires in 3d"
        );
        assert_eq!(
            render(
                "{alert} [{level}]",
                &info(Some(alert("service_user_expiry", "expired", 1.0))),
                2.0
            ),
            "✗ service user nightly expired [expired]"
        );
        assert_eq!(
            render(
                "{alert}",
                &info(Some(alert("member_token_expiry", "critical", 7200.0))),
                0.0
            ),
            "⚠ member token expires in 2h"
        );
    }
}
