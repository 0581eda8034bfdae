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
        let credentials = cx.session.credentials(cx.max_age).await?;
        let wait = daemon.current_settings().plugins.timeout + SLACK;
        daemon.plugins.judge(credentials, wait).await;
    }
    Ok(Response::AlertReport(AlertReport {
        alerts: daemon.plugins.alerts(),
        judges,
    }))
}
