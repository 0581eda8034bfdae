//! `mws service-users list|info|create|delete|set-role`.

use super::context::Context;
use crate::error::Error;
use mws_ipc::{Response, ServiceUserCommand};

pub(super) async fn handle(cx: &Context, command: ServiceUserCommand) -> Result<Response, Error> {
    let session = &cx.session;
    let mutation = cx.mutation.as_ref();
    Ok(match command {
        ServiceUserCommand::List => {
            Response::ServiceUsers(session.service_users(cx.max_age).await?)
        }
        ServiceUserCommand::Info { name } => {
            Response::ServiceUser(session.service_user(&name).await?)
        }
        ServiceUserCommand::Create {
            name,
            expires_in_secs,
        } => Response::CreatedServiceUser(
            session
                .create_service_user(&name, expires_in_secs, mutation)
                .await?,
        ),
        ServiceUserCommand::Delete {
            name,
            allow_missing,
        } => {
            session
                .delete_service_user(&name, allow_missing, mutation)
                .await?;
            Response::Ok
        }
        ServiceUserCommand::SetRole {
            name,
            environment,
            role,
        } => Response::RoleSet {
            previous: session
                .set_service_user_role(&name, &environment, &role, mutation)
                .await?,
        },
    })
}
