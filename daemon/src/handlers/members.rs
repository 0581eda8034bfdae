//! `mws members list`.

use super::context::Context;
use crate::error::Error;
use mws_ipc::Response;

pub(super) async fn list(cx: &Context) -> Result<Response, Error> {
    Ok(Response::Members(cx.session.members(cx.max_age).await?))
}
