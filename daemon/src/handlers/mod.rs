//! One handler per request kind: each turns a typed request into calls on
//! the daemon's state and a typed answer. The server routes here; nothing in
//! this folder touches a socket or a frame.
//!
//! Every handler returns `Result<_, Error>`; [`handle`] is where an error
//! becomes the wire's `ErrorReply` ([`Error::reply`]), once. A new command
//! group is a new file here (and in `workspace`'s routing), not a longer
//! match elsewhere.

mod alerts;
mod auth;
mod complete;
mod context;
mod credential;
mod member_tokens;
mod members;
mod plugins;
mod prompt;
mod proxy_tokens;
mod service_users;
mod settings;
mod status;
mod webhooks;
mod workspace;

use crate::error::Error;
use crate::state::Daemon;
use mws_ipc::{Request, Response};

/// Answers one request (other than `Watch`, which the connection streams).
pub(crate) async fn handle(daemon: &Daemon, request: Request) -> Response {
    crate::metrics::ipc_request(request.name());
    let result = match request {
        Request::Ping => Ok(Response::Pong),
        Request::Status => Ok(Response::Status(status::status(daemon))),
        Request::Shutdown => {
            daemon.request_shutdown();
            Ok(Response::Ok)
        }
        Request::Workspace {
            selection,
            freshness,
            command,
            idempotency_key,
        } => {
            workspace::handle(
                daemon,
                &selection,
                freshness,
                command,
                idempotency_key.as_deref(),
            )
            .await
        }
        Request::Auth { selection, command } => auth::handle(daemon, &selection, command)
            .await
            .map(Response::Auth),
        Request::Watch { .. } => Err(Error::BadRequest(
            "watch is handled by the connection".into(),
        )),
        Request::Render { format, kind, json } => {
            plugins::render(daemon, &format, &kind, &json).await
        }
        Request::Plugins => Ok(plugins::list(daemon).await),
        Request::Alerts => Ok(plugins::alerts(daemon)),
        Request::Credential { selection } => credential::export(daemon, &selection).await,
        Request::Prompt { selection } => Ok(prompt::prompt(daemon, &selection).await),
        Request::Metrics => Ok(Response::Metrics(metrics(daemon))),
        Request::Complete { selection, kind } => {
            Ok(complete::complete(daemon, &selection, kind).await)
        }
        Request::Webhooks(command) => webhooks::handle(daemon, command).await,
    };
    result.unwrap_or_else(|e| Response::Error(e.reply()))
}

/// `mws metrics`: counters, and gauges from what the daemon knows now.
pub(crate) fn metrics(daemon: &Daemon) -> String {
    let levels: Vec<String> = daemon
        .plugins
        .alerts()
        .into_iter()
        .map(|a| a.level)
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    crate::metrics::render(
        &daemon.workspace_views(),
        &levels,
        &daemon.webhooks.report(),
        now,
    )
}
