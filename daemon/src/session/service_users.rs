//! Service users: list, info, create, delete, and roles per environment.

use super::settings_group::proto_timestamp;
use super::{Session, UpstreamError};
use crate::error::Error;
use crate::events;
use crate::upstream::MutationKey;
use mws_ipc::{CreatedServiceUser, EnvironmentRole, Secret, ServiceUser};
use mws_modal_api::proto;
use std::time::Duration;

fn service_user_from_proto(user: &proto::ServiceUser) -> ServiceUser {
    let mut environment_roles: Vec<EnvironmentRole> = Vec::new();
    for entry in &user.environment_roles {
        // Later entries win, as in the official client's dict.
        match environment_roles
            .iter_mut()
            .find(|r| r.environment == entry.environment_name)
        {
            Some(existing) => existing.role = entry.role_str.clone(),
            None => environment_roles.push(EnvironmentRole {
                environment: entry.environment_name.clone(),
                role: entry.role_str.clone(),
            }),
        }
    }
    ServiceUser {
        service_user_id: user.service_user_id.clone(),
        name: user.name.clone(),
        token_id: user.token_id.clone(),
        created_by: user.created_by.clone(),
        created_at: user.created_at,
        last_used_at: user.last_used_at,
        expires_at: user.expires_at,
        environment_roles,
    }
}

fn is_not_found(e: &UpstreamError) -> bool {
    e.code() == Some(tonic::Code::NotFound)
}

impl Session {
    async fn fetch_service_users(&self) -> Result<Vec<ServiceUser>, UpstreamError> {
        let response = self.upstream.service_user_list().await?;
        let list: Vec<_> = response
            .service_users
            .iter()
            .map(service_user_from_proto)
            .collect();
        self.record(super::Known::ServiceUsers(list.clone()));
        Ok(list)
    }

    async fn reread_service_users(&self) {
        self.reread(
            &self.service_users,
            || self.fetch_service_users(),
            |a, b| events::diff_service_users(a, b),
        )
        .await;
    }

    /// The service users, from the cache when younger than `max_age`.
    pub(crate) async fn service_users(
        &self,
        max_age: Duration,
    ) -> Result<Vec<ServiceUser>, UpstreamError> {
        self.read(
            &self.service_users,
            max_age,
            || self.fetch_service_users(),
            |a, b| events::diff_service_users(a, b),
        )
        .await
    }

    /// One service user, asked of the server (its NOT_FOUND is the answer
    /// for an unknown name).
    pub(crate) async fn service_user(&self, name: &str) -> Result<ServiceUser, UpstreamError> {
        let response = self.upstream.service_user_info(name).await?;
        Ok(response
            .service_user
            .as_ref()
            .map(service_user_from_proto)
            .unwrap_or_default())
    }

    pub(crate) async fn create_service_user(
        &self,
        name: &str,
        expires_in_secs: Option<i64>,
        mutation: Option<&MutationKey>,
    ) -> Result<CreatedServiceUser, Error> {
        let seconds = match expires_in_secs {
            None => 0,
            Some(secs) => u32::try_from(secs).ok().filter(|s| *s > 0).ok_or_else(|| {
                Error::BadRequest(format!(
                    "--expires-in must be between 1 and {} seconds",
                    u32::MAX
                ))
            })?,
        };
        let created = self
            .upstream
            .service_user_create(name, seconds, mutation)
            .await?;
        self.reread_service_users().await;
        Ok(CreatedServiceUser {
            service_user_id: created.service_user_id.clone(),
            token_id: created.token_id.clone(),
            token_secret: Secret::new(created.token_secret.clone()),
            expires_at: proto_timestamp(created.expires_at.as_ref()),
        })
    }

    /// Deletes a service user; with `allow_missing`, one that does not
    /// exist is not an error.
    pub(crate) async fn delete_service_user(
        &self,
        name: &str,
        allow_missing: bool,
        mutation: Option<&MutationKey>,
    ) -> Result<(), Error> {
        match self.upstream.service_user_delete(name, mutation).await {
            Ok(()) => {}
            Err(e) if allow_missing && is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        self.reread_service_users().await;
        Ok(())
    }

    /// Sets a service user's role in an environment; returns the role it
    /// had there before (`no-access` when none), looked up first as the
    /// official client does.
    pub(crate) async fn set_service_user_role(
        &self,
        name: &str,
        environment: &str,
        role: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<String, Error> {
        let before = self.service_user(name).await?;
        let previous = before
            .environment_roles
            .iter()
            .find(|r| r.environment == environment)
            .map(|r| r.role.clone())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "no-access".to_string());
        if role.is_empty() {
            return Err(Error::BadRequest(
                "Invalid argument: `role` must not be empty.".into(),
            ));
        }
        let env_id = self.environment_id(environment).await?;
        self.upstream
            .environment_role_set(name, &env_id, role, mutation)
            .await?;
        self.reread_service_users().await;
        Ok(previous)
    }
}
