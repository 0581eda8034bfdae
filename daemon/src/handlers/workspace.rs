//! `Request::Workspace`: resolves the identity, opens its session, works out
//! how fresh a read must be, and routes the command to its group's handler.

use super::context::Context;
use super::{alerts, member_tokens, members, proxy_tokens, service_users, settings};
use crate::error::Error;
use crate::state::Daemon;
use crate::upstream::MutationKey;
use mws_ipc::{Freshness, Response, Selection, WorkspaceCommand};
use std::time::Duration;

pub(super) async fn handle(
    daemon: &Daemon,
    selection: &Selection,
    freshness: Freshness,
    command: WorkspaceCommand,
    idempotency_key: Option<&str>,
) -> Result<Response, Error> {
    let mutation = match idempotency_key.map(MutationKey::parse) {
        None => None,
        Some(Some(key)) => Some(key),
        Some(None) => return Err(Error::BadRequest("idempotency_key must be a UUID".into())),
    };
    let identity = daemon.resolve(selection).await?;
    let session = daemon.session_for(&identity)?;
    session.begin().await?;
    let max_age = match (freshness.fresh, freshness.max_age_secs) {
        (true, _) => Duration::ZERO,
        (false, Some(secs)) => Duration::from_secs(secs),
        (false, None) => daemon.current_settings().max_age,
    };
    let cx = Context {
        session: session.clone(),
        max_age,
        mutation,
    };
    let response = match command {
        WorkspaceCommand::MembersList => members::list(&cx).await?,
        WorkspaceCommand::TokensList { environment } => {
            proxy_tokens::list(&cx, environment.as_deref()).await?
        }
        WorkspaceCommand::TokenCreate { name } => {
            proxy_tokens::create(&cx, name.as_deref().unwrap_or("")).await?
        }
        WorkspaceCommand::TokenUpdateName { token_id, name } => {
            proxy_tokens::rename(&cx, &token_id, &name).await?
        }
        WorkspaceCommand::TokenDelete { token_id } => proxy_tokens::delete(&cx, &token_id).await?,
        WorkspaceCommand::TokenAllow {
            token_id,
            environment,
        } => proxy_tokens::set_environment(&cx, &token_id, &environment, true).await?,
        WorkspaceCommand::TokenRevoke {
            token_id,
            environment,
        } => proxy_tokens::set_environment(&cx, &token_id, &environment, false).await?,
        WorkspaceCommand::Settings(command) => settings::handle(&cx, command).await?,
        WorkspaceCommand::ServiceUsers(command) => service_users::handle(&cx, command).await?,
        WorkspaceCommand::MemberTokens(command) => member_tokens::handle(&cx, command).await?,
        WorkspaceCommand::TokenRotate { token_id, keep_old } => {
            proxy_tokens::rotate(&cx, &token_id, keep_old).await?
        }
        WorkspaceCommand::Alerts => alerts::check(daemon, &cx).await?,
    };
    // Only an identity the server accepted is worth polling.
    daemon.keep_polling(&session);
    Ok(response)
}
