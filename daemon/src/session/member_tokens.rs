//! Members' API tokens: list, delete, disable and enable.

use super::{Session, UpstreamError};
use crate::error::Error;
use crate::events;
use crate::upstream::MutationKey;
use mws_ipc::MemberToken;
use mws_modal_api::proto;
use std::time::Duration;

fn member_token_from_proto(token: &proto::tokens_list_response::Token) -> MemberToken {
    MemberToken {
        token_id: token.token_id.clone(),
        name: token.name.clone(),
        user_id: token.user_id.clone(),
        username: token.member_displayname.clone(),
        created_at: token.created_at,
        last_used_at: token.last_used_at,
        expires_at: token.expires_at,
        disabled: token.disabled,
    }
}

impl Session {
    async fn fetch_member_tokens(&self) -> Result<Vec<MemberToken>, UpstreamError> {
        let response = self.upstream.member_token_list().await?;
        let list: Vec<_> = response
            .tokens
            .iter()
            .map(member_token_from_proto)
            .collect();
        self.record(super::Known::MemberTokens(list.clone()));
        Ok(list)
    }

    async fn reread_member_tokens(&self) {
        self.reread(
            &self.member_tokens,
            || self.fetch_member_tokens(),
            |a, b| events::diff_member_tokens(a, b),
        )
        .await;
    }

    /// The member tokens the caller may see, from the cache when younger
    /// than `max_age`.
    pub(crate) async fn member_tokens(
        &self,
        max_age: Duration,
    ) -> Result<Vec<MemberToken>, UpstreamError> {
        self.read(
            &self.member_tokens,
            max_age,
            || self.fetch_member_tokens(),
            |a, b| events::diff_member_tokens(a, b),
        )
        .await
    }

    /// Deletes a member token; with `allow_missing`, one that does not
    /// exist is not an error.
    pub(crate) async fn delete_member_token(
        &self,
        token_id: &str,
        allow_missing: bool,
        mutation: Option<&MutationKey>,
    ) -> Result<(), Error> {
        match self.upstream.member_token_delete(token_id, mutation).await {
            Ok(()) => {}
            Err(e) if allow_missing && e.code() == Some(tonic::Code::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        self.reread_member_tokens().await;
        Ok(())
    }

    /// Disables (`enable` false) or enables member tokens.
    pub(crate) async fn set_member_tokens_enabled(
        &self,
        token_ids: &[String],
        enable: bool,
        mutation: Option<&MutationKey>,
    ) -> Result<(), Error> {
        self.upstream
            .member_tokens_set_enabled(token_ids, enable, mutation)
            .await?;
        self.reread_member_tokens().await;
        Ok(())
    }
}
