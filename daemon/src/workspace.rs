//! Runs workspace commands for one identity and turns Modal's messages into
//! the IPC types the CLI renders.
//!
//! A [`Session`] is the daemon's state for one identity: its upstream client,
//! the workspace name (looked up once, as the official client "hydrates" the
//! workspace before every command) and the environment name → id mapping that
//! `allow`/`revoke` need.

use crate::upstream::{Upstream, UpstreamError};
use mws_ipc::{
    CreatedToken, ErrorKind, ErrorReply, Member, ProxyToken, Response, Secret, WorkspaceCommand,
};
use mws_modal_api::proto;
use std::collections::HashMap;
use std::sync::Mutex;

/// The daemon's state for one identity.
pub struct Session {
    pub upstream: Upstream,
    workspace: tokio::sync::OnceCell<String>,
    environment_ids: Mutex<HashMap<String, String>>,
}

/// Converts one member as Modal sends it.
pub fn member_from_proto(item: &proto::WorkspaceMembersListItem) -> Member {
    let role = proto::MemberRole::try_from(item.member_role).unwrap_or_default();
    Member {
        name: item.member_displayname.clone(),
        email: item.email.clone(),
        role: mws_modal_api::member_role_name(role).to_string(),
        user_id: item.user_id.clone(),
        joined_at: item.joined_at,
        last_active_at: item.last_active_at,
    }
}

/// Converts one proxy token as Modal sends it.
pub fn token_from_proto(token: &proto::WebhookToken) -> ProxyToken {
    ProxyToken {
        token_id: token.token_id.clone(),
        name: token.name.clone(),
        created_at: token.created_at,
        created_by: token
            .created_by
            .as_ref()
            .map(|u| u.username.clone())
            .unwrap_or_default(),
        scoped: token.scoped,
    }
}

fn bad_request(message: impl Into<String>) -> ErrorReply {
    ErrorReply {
        kind: ErrorKind::BadRequest,
        message: message.into(),
    }
}

impl Session {
    pub fn new(upstream: Upstream) -> Self {
        Self {
            upstream,
            workspace: tokio::sync::OnceCell::new(),
            environment_ids: Mutex::new(HashMap::new()),
        }
    }

    /// The workspace's name, looked up once per identity.
    pub async fn workspace_name(&self) -> Result<String, UpstreamError> {
        self.workspace
            .get_or_try_init(|| async {
                let response = self.upstream.workspace_name_lookup().await?;
                Ok(response.workspace_name)
            })
            .await
            .cloned()
    }

    /// The workspace name if it was already looked up.
    pub fn known_workspace_name(&self) -> Option<String> {
        self.workspace.get().cloned()
    }

    async fn environment_id(&self, name: &str) -> Result<String, UpstreamError> {
        if let Some(id) = self
            .environment_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(id.clone());
        }
        let id = self.upstream.environment_lookup(name).await?;
        self.environment_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), id.clone());
        Ok(id)
    }

    /// Forgets a cached environment id (e.g. after the server says it is gone).
    fn forget_environment(&self, name: &str) {
        self.environment_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    /// Runs one command against the server.
    pub async fn run(&self, command: &WorkspaceCommand) -> Result<Response, ErrorReply> {
        self.workspace_name().await?;
        match command {
            WorkspaceCommand::MembersList => {
                let response = self.upstream.members_list().await?;
                Ok(Response::Members(
                    response.members.iter().map(member_from_proto).collect(),
                ))
            }
            WorkspaceCommand::TokensList { environment } => {
                let response = match environment {
                    Some(env) => self.upstream.token_list_for_environment(env).await?,
                    None => self.upstream.token_list().await?,
                };
                Ok(Response::Tokens(
                    response.tokens.iter().map(token_from_proto).collect(),
                ))
            }
            WorkspaceCommand::TokenCreate { name } => {
                let response = self
                    .upstream
                    .token_create(name.as_deref().unwrap_or(""))
                    .await?;
                Ok(Response::Created(CreatedToken {
                    token_id: response.token_id.clone(),
                    token_secret: Secret::new(response.token_secret.clone()),
                }))
            }
            WorkspaceCommand::TokenUpdateName { token_id, name } => {
                if token_id.is_empty() {
                    return Err(bad_request("TOKEN_ID must not be empty"));
                }
                self.upstream.token_update(token_id, name).await?;
                Ok(Response::Ok)
            }
            WorkspaceCommand::TokenAllow {
                token_id,
                environment,
            } => {
                let env_id = self.environment_id(environment).await?;
                let result = self.upstream.token_environment_add(token_id, &env_id).await;
                if result.is_err() {
                    self.forget_environment(environment);
                }
                result?;
                Ok(Response::Ok)
            }
            WorkspaceCommand::TokenRevoke {
                token_id,
                environment,
            } => {
                let env_id = self.environment_id(environment).await?;
                let result = self
                    .upstream
                    .token_environment_remove(token_id, &env_id)
                    .await;
                if result.is_err() {
                    self.forget_environment(environment);
                }
                result?;
                Ok(Response::Ok)
            }
            WorkspaceCommand::TokenDelete { token_id } => {
                if token_id.is_empty() {
                    return Err(bad_request("TOKEN_ID must not be empty"));
                }
                self.upstream.token_delete(token_id).await?;
                Ok(Response::Ok)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_without_creator_has_empty_created_by() {
        let token = proto::WebhookToken {
            token_id: "wk-1".into(),
            created_at: 1.5,
            scoped: true,
            name: "ci".into(),
            created_by: None,
        };
        let converted = token_from_proto(&token);
        assert_eq!(converted.created_by, "");
        assert!(converted.scoped);
    }

    #[test]
    fn member_roles_get_user_facing_names() {
        let item = proto::WorkspaceMembersListItem {
            member_displayname: "Ada".into(),
            member_role: proto::MemberRole::Manager as i32,
            ..Default::default()
        };
        assert_eq!(member_from_proto(&item).role, "manager");
    }
}
