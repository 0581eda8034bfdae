//! Workspace settings, and the caller's own credential (`TokenInfoGet`).

use super::{Session, UpstreamError};
use crate::error::Error;
use crate::events;
use crate::upstream::MutationKey;
use mws_ipc::{TokenInfo, WorkspaceSettings};
use std::time::Duration;

/// A protobuf timestamp in Unix seconds (`0` when absent).
pub(super) fn proto_timestamp(ts: Option<&mws_modal_api::prost_types::Timestamp>) -> f64 {
    ts.map(|t| t.seconds as f64 + f64::from(t.nanos) / 1e9)
        .unwrap_or(0.0)
}

impl Session {
    async fn fetch_settings(&self) -> Result<WorkspaceSettings, UpstreamError> {
        let response = self.upstream.workspace_settings().await?;
        Ok(WorkspaceSettings {
            default_environment: response.default_environment_name,
            image_builder_version: response.image_builder_version,
        })
    }

    /// The workspace's settings, from the cache when younger than `max_age`.
    pub(crate) async fn workspace_settings(
        &self,
        max_age: Duration,
    ) -> Result<WorkspaceSettings, UpstreamError> {
        self.read(
            &self.settings,
            max_age,
            || self.fetch_settings(),
            |a, b| events::diff_settings(a, b).into_iter().collect(),
        )
        .await
    }

    /// Sets one setting (`default-environment` or `image-builder-version`).
    pub(crate) async fn set_setting(
        &self,
        setting: &str,
        value: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<(), Error> {
        match setting {
            "image-builder-version" => {
                self.upstream
                    .set_image_builder_version(value, mutation)
                    .await?
            }
            "default-environment" => {
                self.upstream
                    .set_default_environment(value, mutation)
                    .await?
            }
            other => return Err(Error::BadRequest(format!("unknown setting '{other}'"))),
        }
        self.reread(
            &self.settings,
            || self.fetch_settings(),
            |a, b| events::diff_settings(a, b).into_iter().collect(),
        )
        .await;
        Ok(())
    }

    /// What the server says of the credential itself.
    pub(crate) async fn token_info(&self) -> Result<TokenInfo, UpstreamError> {
        let info = self.upstream.token_info().await?;
        let (owner, owner_kind) = match (&info.service_user_identity, &info.user_identity) {
            (Some(service_user), _) => (service_user.service_user_name.clone(), "service_user"),
            (None, Some(user)) => (user.username.clone(), "user"),
            (None, None) => (String::new(), ""),
        };
        Ok(TokenInfo {
            token_id: info.token_id,
            token_name: info.token_name,
            workspace_name: info.workspace_name,
            owner,
            owner_kind: owner_kind.to_string(),
            created_at: proto_timestamp(info.created_at.as_ref()),
            expires_at: proto_timestamp(info.expires_at.as_ref()),
        })
    }
}
