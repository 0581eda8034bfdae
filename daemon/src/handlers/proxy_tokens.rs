//! `mws proxy-tokens …`: list (all, or usable in one environment), create,
//! rename, delete, allow, revoke and rotate.

use super::context::Context;
use crate::error::Error;
use mws_ipc::Response;

pub(super) async fn list(cx: &Context, environment: Option<&str>) -> Result<Response, Error> {
    let tokens = match environment {
        None => cx.session.tokens(cx.max_age).await?,
        Some(environment) => {
            cx.session
                .environment_tokens(environment, cx.max_age)
                .await?
        }
    };
    Ok(Response::Tokens(tokens))
}

pub(super) async fn create(cx: &Context, name: &str) -> Result<Response, Error> {
    let created = cx.session.create_token(name, cx.mutation.as_ref()).await?;
    Ok(Response::Created(created))
}

pub(super) async fn rename(cx: &Context, token_id: &str, name: &str) -> Result<Response, Error> {
    cx.session
        .rename_token(token_id, name, cx.mutation.as_ref())
        .await?;
    Ok(Response::Ok)
}

pub(super) async fn delete(cx: &Context, token_id: &str) -> Result<Response, Error> {
    cx.session
        .delete_token(token_id, cx.mutation.as_ref())
        .await?;
    Ok(Response::Ok)
}

pub(super) async fn rotate(
    cx: &Context,
    token_id: &str,
    keep_old: bool,
) -> Result<Response, Error> {
    let rotated = cx
        .session
        .rotate_token(token_id, keep_old, cx.mutation.as_ref())
        .await?;
    Ok(Response::Rotated(rotated))
}

pub(super) async fn set_environment(
    cx: &Context,
    token_id: &str,
    environment: &str,
    allow: bool,
) -> Result<Response, Error> {
    cx.session
        .set_token_environment(token_id, environment, allow, cx.mutation.as_ref())
        .await?;
    Ok(Response::Ok)
}
