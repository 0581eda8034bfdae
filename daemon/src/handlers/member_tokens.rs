//! `mws member-tokens list|delete|disable|enable`.

use super::context::Context;
use crate::error::Error;
use mws_ipc::{MemberTokenCommand, Response};

pub(super) async fn handle(cx: &Context, command: MemberTokenCommand) -> Result<Response, Error> {
    let session = &cx.session;
    let mutation = cx.mutation.as_ref();
    Ok(match command {
        MemberTokenCommand::List => {
            Response::MemberTokens(session.member_tokens(cx.max_age).await?)
        }
        MemberTokenCommand::Delete {
            token_id,
            allow_missing,
        } => {
            session
                .delete_member_token(&token_id, allow_missing, mutation)
                .await?;
            Response::Ok
        }
        MemberTokenCommand::Disable { token_ids } => {
            session
                .set_member_tokens_enabled(&token_ids, false, mutation)
                .await?;
            Response::Ok
        }
        MemberTokenCommand::Enable { token_ids } => {
            session
                .set_member_tokens_enabled(&token_ids, true, mutation)
                .await?;
            Response::Ok
        }
    })
}
