//! `mws service-users create|list|info|delete|set-role` (workspace manager
//! or owner). The secret of a new service user is printed once, as the
//! official CLI prints it, and never stored. `rotate` (mws only) explains
//! how to replace one, since Modal cannot renew a service user's credential.

use super::shared::{say, success};
use crate::args::ServiceUsersCommand as Args;
use crate::output::emit;
use crate::render::{admin, json, time};
use crate::request::{self, unexpected};
use crate::{confirm, term, usage, validate};
use mws_ipc::{Freshness, Response, ServiceUserCommand, WorkspaceCommand};
use std::process::ExitCode;

pub fn run(profile: Option<String>, command: Args) -> anyhow::Result<ExitCode> {
    match command {
        Args::Create {
            name,
            expires_in,
            json,
        } => create(profile, name, expires_in, json)?,
        Args::List { json } => {
            let users = match ask(profile, ServiceUserCommand::List)? {
                Response::ServiceUsers(users) => users,
                other => return Err(unexpected(&other)),
            };
            let tz = time::local_zone();
            emit(&if json {
                json::service_users(&users, &tz)
            } else {
                admin::service_users_table(&users, &tz, term::width())
            })?;
        }
        Args::Info { name, json } => {
            let user = match ask(profile, ServiceUserCommand::Info { name })? {
                Response::ServiceUser(user) => user,
                other => return Err(unexpected(&other)),
            };
            let tz = time::local_zone();
            emit(&if json {
                json::service_user(&user, &tz)
            } else {
                admin::service_user_info(&user, &tz, term::width())
            })?;
        }
        Args::Delete {
            name,
            allow_missing,
            yes,
        } => {
            if !yes {
                confirm::or_abort(&format!(
                    "Are you sure you want to irrevocably delete the Service User '{name}' and its associated credentials?"
                ))?;
            }
            let command = ServiceUserCommand::Delete {
                name: name.clone(),
                allow_missing,
            };
            match ask(profile, command)? {
                Response::Ok => success(&format!("Deleted Service User `{name}`."))?,
                other => return Err(unexpected(&other)),
            }
        }
        Args::SetRole {
            service_user_name: name,
            environment_name: environment,
            role,
        } => {
            let command = ServiceUserCommand::SetRole {
                name: name.clone(),
                environment: environment.clone(),
                role: role.clone(),
            };
            let previous = match ask(profile, command)? {
                Response::RoleSet { previous } => previous,
                other => return Err(unexpected(&other)),
            };
            say(&role_message(&name, &environment, &role, &previous))?;
        }
        Args::Rotate { name, expires_in } => {
            let expires = expires_in.as_deref().unwrap_or("90d");
            if let Err(e) = validate::expires_in(expires) {
                usage::fail(&e.to_string());
            }
            let user = match ask(profile, ServiceUserCommand::Info { name: name.clone() })? {
                Response::ServiceUser(user) => user,
                other => return Err(unexpected(&other)),
            };
            emit(&rotation_plan(&user, expires))?;
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ask(profile: Option<String>, command: ServiceUserCommand) -> anyhow::Result<Response> {
    request::workspace(
        profile,
        Freshness::default(),
        WorkspaceCommand::ServiceUsers(command),
    )
}

/// What to run instead of an in-place rotation (Modal has no call that
/// gives an existing service user a new credential, and deleting it first
/// would cut off whatever uses it).
fn rotation_plan(user: &mws_ipc::ServiceUser, expires: &str) -> String {
    let new = format!("{}-2", user.name);
    let mut text = format!(
        "Modal cannot issue a new credential for an existing Service User, so '{}' is not rotated in place (nothing was changed). Replace it:\n\n  mws service-users create {new} --expires-in {expires}\n",
        user.name
    );
    for role in &user.environment_roles {
        text.push_str(&format!(
            "  mws service-users set-role {new} {} {}\n",
            role.environment, role.role
        ));
    }
    text.push_str(&format!(
        "\nthen give the new credential to whatever uses '{}', and finally:\n\n  mws service-users delete {} --yes\n",
        user.name, user.name
    ));
    text
}

fn create(
    profile: Option<String>,
    name: String,
    expires_in: Option<String>,
    as_json: bool,
) -> anyhow::Result<()> {
    let expires_in_secs = match expires_in.as_deref().map(validate::expires_in) {
        None => None,
        Some(Ok(seconds)) => Some(seconds),
        Some(Err(e)) => usage::fail(&e.to_string()),
    };
    let command = ServiceUserCommand::Create {
        name: name.clone(),
        expires_in_secs,
    };
    let user = match ask(profile, command)? {
        Response::CreatedServiceUser(user) => user,
        other => return Err(unexpected(&other)),
    };
    let tz = time::local_zone();
    let text = if as_json {
        json::created_service_user(&user, expires_in_secs.is_some(), &tz)
    } else {
        let mut text = admin::created_service_user(
            &name,
            &user,
            expires_in_secs.is_some(),
            &tz,
            term::width(),
            term::stdout_columns().min(80),
        );
        if term::color(1) {
            text = text.replacen('✓', crate::output::tick(true), 1);
        }
        text
    };
    crate::output::emit_secret(
        &text,
        &format!("Service User '{name}'"),
        &format!("delete it with `mws service-users delete {name} --yes` and create it again"),
    )
}

/// The official CLI's four outcomes of `set-role`, given the role before.
pub fn role_message(name: &str, environment: &str, role: &str, previous: &str) -> String {
    if role == previous {
        if role == "no-access" {
            format!(
                "Service User {name} does not have access to Environment {environment} already. Role was not updated."
            )
        } else {
            format!(
                "Service User {name} is already a {} in Environment {environment}. Role was not updated.",
                admin::capitalize(role)
            )
        }
    } else if role == "no-access" {
        format!("✓ Revoked Service User {name}'s access to Environment {environment}.")
    } else {
        format!(
            "✓ Updated Service User {name}'s role in Environment {environment} to {}.",
            admin::capitalize(role)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_role_says_what_changed() {
        assert_eq!(
            role_message("ci", "main", "contributor", "no-access"),
            "✓ Updated Service User ci's role in Environment main to Contributor."
        );
        assert_eq!(
            role_message("ci", "main", "no-access", "viewer"),
            "✓ Revoked Service User ci's access to Environment main."
        );
        assert_eq!(
            role_message("ci", "main", "viewer", "viewer"),
            "Service User ci is already a Viewer in Environment main. Role was not updated."
        );
        assert_eq!(
            role_message("ci", "prod", "no-access", "no-access"),
            "Service User ci does not have access to Environment prod already. Role was not updated."
        );
    }
}
