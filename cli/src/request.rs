//! One way to ask the daemon something: send a request, turn its `Error`
//! answer into [`CommandError::Daemon`], hand back every other answer.
//! Each command then takes the one answer kind it expects and reports any
//! other by name ([`unexpected`]).

use crate::client::{Client, Exchange, Retry};
use crate::output::CommandError;
use mws_ipc::{Freshness, Request, Response, WorkspaceCommand};

/// The daemon's answer, its `Error` turned into a [`CommandError`].
pub fn answer(response: Response) -> Result<Response, CommandError> {
    match response {
        Response::Error(reply) => Err(CommandError::Daemon(reply)),
        response => Ok(response),
    }
}

/// An answer of the wrong kind, named.
pub fn unexpected(response: &Response) -> anyhow::Error {
    CommandError::Unexpected(response.name()).into()
}

/// Sends `request` (starting the daemon if needed) and returns its answer.
pub fn send(request: &Request, retry: Retry) -> anyhow::Result<Response> {
    let Exchange { response, .. } = Client::new().request(request, retry)?;
    Ok(answer(response)?)
}

/// Runs one workspace command as the identity the environment selects.
pub fn workspace(
    profile: Option<String>,
    freshness: Freshness,
    command: WorkspaceCommand,
) -> anyhow::Result<Response> {
    // A mutation carries a key of its own choosing, from which the daemon
    // derives its upstream idempotency keys: if the daemon dies mid-request,
    // resending the same request to the next daemon replays the first
    // answer instead of making a second change. So both kinds are safe to
    // resend once.
    let idempotency_key = command
        .is_mutation()
        .then(|| uuid::Uuid::new_v4().to_string());
    let request = Request::Workspace {
        selection: mws_ipc::Selection::from_env(profile, |name| std::env::var_os(name)),
        freshness,
        command,
        idempotency_key,
    };
    // `request` (and the secret in its selection) is dropped, and zeroed,
    // when this returns.
    send(&request, Retry::Safe)
}

/// A workspace mutation whose success answer is `Ok`.
pub fn mutate(profile: Option<String>, command: WorkspaceCommand) -> anyhow::Result<()> {
    match workspace(profile, Freshness::default(), command)? {
        Response::Ok => Ok(()),
        other => Err(unexpected(&other)),
    }
}
