//! `mws alerts`: the identity's credentials judged now (from the cache when
//! young enough), then every alert the daemon holds, with the names of the
//! plugins that judge — so "no alerts" is only said when someone looked.

use super::context::Context;
use crate::error::Error;
use crate::state::Daemon;
use mws_ipc::{AlertReport, Response};
use std::time::Duration;

/// Longer than a plugin may take (its timeout) before the answer goes out
/// with the alerts held so far.
const SLACK: Duration = Duration::from_secs(2);

pub(super) async fn check(daemon: &Daemon, cx: &Context) -> Result<Response, Error> {
    // Re-reads the plugin folders first, so a plugin just installed counts.
    let judges = crate::plugins::judges_in(&daemon.plugins.list().await);
    if !judges.is_empty() {
        // A list that could not be read this time leaves the alerts as
        // last judged (a partial record would retire some).
        if let Some(credentials) = cx.session.credentials(cx.max_age).await? {
            let wait = daemon.current_settings().plugins.timeout + SLACK;
            daemon.plugins.judge(credentials, wait).await;
        }
    }
    let mut alerts = daemon.plugins.alerts();
    alerts.sort_by(most_urgent_first);
    Ok(Response::AlertReport(AlertReport { alerts, judges }))
}

/// Highest level first; within a level, the soonest expiry (none last),
/// then by workspace, kind and credential, so the order is stable.
pub(super) fn most_urgent_first(a: &mws_ipc::Alert, b: &mws_ipc::Alert) -> std::cmp::Ordering {
    let expiry = |alert: &mws_ipc::Alert| {
        if alert.expires_at > 0.0 {
            alert.expires_at
        } else {
            f64::INFINITY
        }
    };
    mws_ipc::alert_level_rank(&b.level)
        .cmp(&mws_ipc::alert_level_rank(&a.level))
        .then(expiry(a).total_cmp(&expiry(b)))
        .then_with(|| a.workspace.cmp(&b.workspace))
        .then_with(|| a.kind.cmp(&b.kind))
        .then_with(|| a.token_id.cmp(&b.token_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mws_ipc::Alert;

    fn alert(level: &str, expires_at: f64, id: &str) -> Alert {
        Alert {
            level: level.into(),
            expires_at,
            token_id: id.into(),
            ..Alert::default()
        }
    }

    #[test]
    fn the_most_urgent_alert_comes_first() {
        let mut alerts = [
            alert("info", 0.0, "a"),
            alert("warning", 0.0, "b"),
            alert("expired", 0.0, "c"),
            alert("critical", 200.0, "d"),
            alert("critical", 100.0, "e"),
            alert("expired", 50.0, "f"),
        ];
        alerts.sort_by(most_urgent_first);
        let ids: Vec<&str> = alerts.iter().map(|a| a.token_id.as_str()).collect();
        assert_eq!(ids, ["f", "c", "e", "d", "b", "a"]);
    }
}
