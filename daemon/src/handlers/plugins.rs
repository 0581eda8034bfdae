//! `--format NAME`, `mws plugins list` and `mws alerts`: answered by the
//! plugin manager's handle, which never waits behind a plugin.

use crate::error::Error;
use crate::state::Daemon;
use mws_ipc::Response;

pub(super) async fn render(
    daemon: &Daemon,
    format: &str,
    kind: &str,
    json: &str,
) -> Result<Response, Error> {
    Ok(Response::Rendered(
        daemon.plugins.render(format, kind, json).await?,
    ))
}

pub(super) async fn list(daemon: &Daemon) -> Response {
    Response::Plugins(daemon.plugins.list().await)
}

pub(super) fn alerts(daemon: &Daemon) -> Response {
    Response::Alerts(daemon.plugins.alerts())
}
