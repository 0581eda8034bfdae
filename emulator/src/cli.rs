//! The command line: `serve`, `credentials`, `seed` and `admin`.
//!
//! The argument structs live in the library (not in `main.rs`) so that the
//! names other crates and tests rely on are defined in one reviewed place, and
//! so that the admin operations (which change the workspace the way someone
//! using Modal's dashboard would) are plain functions over a [`Store`] that
//! return what to print. `main.rs` only parses, dispatches and prints.
//!
//! Admin commands work while a server runs on the same file: each is one
//! SQLite write transaction, and `busy_timeout` makes it wait its turn.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mws_modal_api::proto;
use serde_json::{json, Value};

use crate::store::{
    self, EnvRole, Member, MemberToken, NewMember, NewMemberToken, NewProxyToken, NewServiceUser,
    ServiceUser, Store,
};

#[derive(Debug, Parser)]
#[command(
    name = "mws-emulator",
    version,
    about = "A local Modal-compatible control plane (gRPC + SQLite)",
    propagate_version = true
)]
pub struct Cli {
    /// The SQLite store (created if missing).
    #[arg(long, global = true, env = "MWS_EMULATOR_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Modal's gRPC API until SIGTERM or SIGINT.
    Serve(ServeArgs),
    /// Manage API credentials (`ak-`/`as-` pairs) for clients.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Fill an empty store with sample data.
    #[command(subcommand)]
    Seed(SeedCommand),
    /// Change the workspace as an administrator would in Modal's dashboard.
    Admin(AdminArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeedKind {
    /// Members of every role, a few proxy tokens, environments `main` and `prod`.
    Demo,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Once listening, write {"url", "pid", "tls"} as JSON to this file (atomically).
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seed an empty store before serving (prints the credential once).
    #[arg(long, value_name = "KIND")]
    pub seed: Option<SeedKind>,
    /// Append one JSON line per RPC handled to this file.
    #[arg(long, value_name = "FILE")]
    pub call_log: Option<PathBuf>,
    /// Fault injection: answer this share of calls UNAVAILABLE without running them.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub fault_unavailable_rate: f64,
    /// Fault injection: run this share of calls, then drop their connection before answering.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub fault_drop_rate: f64,
    /// Fault injection: hold delayed calls back this long before running them.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub fault_delay_ms: u64,
    /// Fault injection: share of calls that are delayed by --fault-delay-ms.
    #[arg(long, value_name = "RATE", default_value_t = 1.0)]
    pub fault_delay_rate: f64,
    /// Fault injection: seed of the random choices (random when absent).
    #[arg(long, value_name = "SEED")]
    pub fault_seed: Option<u64>,
}

impl ServeArgs {
    /// The `--fault-*` flags, checked.
    pub fn fault_options(&self) -> Result<crate::faults::FaultOptions, String> {
        let options = crate::faults::FaultOptions {
            unavailable_rate: self.fault_unavailable_rate,
            drop_rate: self.fault_drop_rate,
            delay: std::time::Duration::from_millis(self.fault_delay_ms),
            delay_rate: self.fault_delay_rate,
            seed: self.fault_seed,
        };
        options.validate()?;
        Ok(options)
    }
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Create an API token (`ak-`/`as-`) for a member (default: the first owner).
    Create {
        /// The member's email; without it, the workspace's first owner (created if none).
        #[arg(long, value_name = "EMAIL")]
        member: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SeedCommand {
    /// Seed the demo workspace if the store is empty.
    Demo {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Print what was done as one JSON object.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add, remove or re-role members.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Create, rename, delete, allow and revoke proxy tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Add or remove environments.
    #[command(subcommand)]
    Env(EnvCommand),
    /// Rename the workspace.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Add, remove and give roles to service users.
    #[command(subcommand)]
    ServiceUser(ServiceUserCommand),
    /// Add, disable, enable and remove members' API tokens.
    #[command(subcommand)]
    MemberToken(MemberTokenCommand),
    /// Change workspace settings (default environment, image builder version).
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Insert many members and tokens in one transaction (for benchmarks).
    Bulk {
        #[arg(long, default_value_t = 0)]
        members: usize,
        #[arg(long, default_value_t = 0)]
        tokens: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Member,
    Manager,
    Owner,
}

impl RoleArg {
    pub fn to_proto(self) -> proto::MemberRole {
        match self {
            RoleArg::Member => proto::MemberRole::User,
            RoleArg::Manager => proto::MemberRole::Manager,
            RoleArg::Owner => proto::MemberRole::Owner,
        }
    }
}

fn parse_unix_time(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a Unix time in seconds"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("'{s}' is not a Unix time in seconds"));
    }
    Ok(v)
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a member.
    Add {
        email: String,
        /// Display name (default: the username).
        #[arg(long, value_name = "DISPLAYNAME")]
        name: Option<String>,
        /// Username (default: derived from the email).
        #[arg(long)]
        username: Option<String>,
        #[arg(long, value_enum, default_value = "member")]
        role: RoleArg,
        /// When they joined, in Unix seconds (default: now).
        #[arg(long, value_name = "UNIX", value_parser = parse_unix_time)]
        joined_at: Option<f64>,
    },
    /// Remove a member (their API tokens stop working).
    Remove { email: String },
    /// Change a member's role.
    SetRole {
        email: String,
        #[arg(value_enum)]
        role: RoleArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a proxy token; prints its id (and, with --json, its secret).
    Create {
        /// The member who creates it (default: the first owner).
        #[arg(long = "as", value_name = "EMAIL")]
        as_member: Option<String>,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        scoped: bool,
        /// Creation time in Unix seconds (default: now).
        #[arg(long, value_name = "UNIX_SECONDS", value_parser = parse_unix_time)]
        created_at: Option<f64>,
    },
    /// Rename a proxy token ("" clears the name).
    Rename { token_id: String, name: String },
    /// Delete a proxy token.
    Delete { token_id: String },
    /// Allow a proxy token in an environment.
    Allow { token_id: String, env: String },
    /// Revoke a proxy token's access to an environment.
    Revoke { token_id: String, env: String },
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Add an environment.
    Add { name: String },
    /// Remove an environment (not the default one).
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Rename the workspace.
    Rename { name: String },
}

/// `ENV=ROLE` (role: contributor, viewer or no-access).
fn parse_env_role(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((env, role)) if !env.is_empty() && !role.is_empty() => {
            Ok((env.to_string(), role.to_string()))
        }
        _ => Err(format!("'{s}' is not ENV=ROLE (e.g. main=contributor)")),
    }
}

#[derive(Debug, Subcommand)]
pub enum ServiceUserCommand {
    /// Add a service user; prints its token id (and, with --json, its secret).
    Add {
        name: String,
        /// Expires this many seconds from now (default: never).
        #[arg(long, value_name = "N", conflicts_with = "expires_at")]
        expires_in_secs: Option<u32>,
        /// Expires at this Unix time (may be in the past: an expired service user).
        #[arg(long, value_name = "UNIX", value_parser = parse_unix_time)]
        expires_at: Option<f64>,
        /// The member who created it (default: the first owner).
        #[arg(long, value_name = "EMAIL")]
        created_by: Option<String>,
        /// Creation time in Unix seconds (default: now).
        #[arg(long, value_name = "UNIX", value_parser = parse_unix_time)]
        created_at: Option<f64>,
        /// A role in an environment, e.g. main=contributor (repeatable).
        #[arg(long = "role", value_name = "ENV=ROLE", value_parser = parse_env_role)]
        roles: Vec<(String, String)>,
    },
    /// Remove a service user (its credential stops working).
    Remove { name: String },
    /// Set a service user's role in an environment (no-access removes it).
    SetRole {
        name: String,
        env: String,
        /// contributor, viewer or no-access.
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberTokenCommand {
    /// Add an API token for a member; prints its id (and, with --json, its secret).
    Add {
        /// The member's email.
        #[arg(long, value_name = "EMAIL")]
        member: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Creation time in Unix seconds (default: now).
        #[arg(long, value_name = "UNIX", value_parser = parse_unix_time)]
        created_at: Option<f64>,
        /// Expires at this Unix time (may be in the past; default: never).
        #[arg(long, value_name = "UNIX", value_parser = parse_unix_time)]
        expires_at: Option<f64>,
        /// Recorded last use in Unix seconds (default: never used).
        #[arg(long, value_name = "UNIX", value_parser = parse_unix_time)]
        last_used_at: Option<f64>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Disable a member token (it stops authenticating until enabled).
    Disable { token_id: String },
    /// Enable a disabled member token.
    Enable { token_id: String },
    /// Remove a member token.
    Remove { token_id: String },
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Make an environment the workspace's default.
    SetDefaultEnv { name: String },
    /// Set the image builder version (2023.12, 2024.04, 2024.10, 2025.06, PREVIEW).
    SetImageBuilderVersion {
        #[arg(value_name = "VERSION")]
        image_builder_version: String,
    },
}

/// What a command did: a line for people and an object for scripts.
#[derive(Debug)]
pub struct Report {
    pub text: String,
    pub json: Value,
}

impl Report {
    pub fn render(&self, as_json: bool) -> String {
        if as_json {
            self.json.to_string()
        } else {
            self.text.clone()
        }
    }
}

pub fn member_json(m: &Member) -> Value {
    json!({
        "member_id": m.member_id,
        "user_id": m.user_id,
        "email": m.email,
        "username": m.username,
        "name": m.display_name,
        "role": m.role_name(),
        "joined_at": m.joined_at,
        "last_active_at": m.last_active_at,
    })
}

pub fn token_json(t: &proto::WebhookToken) -> Value {
    json!({
        "token_id": t.token_id,
        "name": t.name,
        "scoped": t.scoped,
        "created_at": t.created_at,
        "created_by": t.created_by.as_ref().map(|c| c.username.clone()),
    })
}

pub fn service_user_json(su: &ServiceUser) -> Value {
    json!({
        "service_user_id": su.service_user_id,
        "name": su.name,
        "token_id": su.token_id,
        "created_by": su.created_by,
        "created_at": su.created_at,
        "expires_at": su.expires_at,
        "environment_roles": su.roles.iter()
            .map(|r| (r.environment_name.clone(), json!(r.role.as_str())))
            .collect::<serde_json::Map<_, _>>(),
    })
}

pub fn member_token_json(t: &MemberToken) -> Value {
    json!({
        "token_id": t.token_id,
        "name": t.name,
        "member": t.email,
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "last_used_at": t.last_used_at,
        "disabled": t.disabled,
    })
}

/// `credentials create`.
pub fn create_credentials(store: &Store, member: Option<&str>) -> store::Result<Report> {
    store.write(|c| {
        let m = match member {
            Some(email) => store::member_by_email(c, email)?,
            None => store::ensure_owner(c)?,
        };
        let (token_id, token_secret) = store::create_api_token(c, m.pk)?;
        Ok(Report {
            text: format!("token_id={token_id}\ntoken_secret={token_secret}"),
            json: json!({
                "token_id": token_id,
                "token_secret": token_secret,
                "member": m.email,
            }),
        })
    })
}

/// Runs one admin command in one write transaction.
pub fn run_admin(store: &Store, command: &AdminCommand) -> store::Result<Report> {
    store.write(|c| match command {
        AdminCommand::Member(MemberCommand::Add {
            email,
            name,
            username,
            role,
            joined_at,
        }) => {
            let m = store::add_member(
                c,
                NewMember {
                    email,
                    display_name: name.as_deref(),
                    username: username.as_deref(),
                    role: role.to_proto(),
                    joined_at: *joined_at,
                },
            )?;
            Ok(Report {
                text: format!(
                    "Added member {} ({}, username {}) as {}",
                    m.email,
                    m.member_id,
                    m.username,
                    m.role_name()
                ),
                json: json!({"action": "member.add", "member": member_json(&m)}),
            })
        }
        AdminCommand::Member(MemberCommand::Remove { email }) => {
            let m = store::remove_member(c, email)?;
            Ok(Report {
                text: format!("Removed member {} ({})", m.email, m.member_id),
                json: json!({"action": "member.remove", "member": member_json(&m)}),
            })
        }
        AdminCommand::Member(MemberCommand::SetRole { email, role }) => {
            let (m, old) = store::set_member_role(c, email, role.to_proto())?;
            let old = mws_modal_api::member_role_name(old);
            Ok(Report {
                text: format!(
                    "Changed the role of {} from {old} to {}",
                    m.email,
                    m.role_name()
                ),
                json: json!({"action": "member.set-role", "member": member_json(&m), "old_role": old}),
            })
        }
        AdminCommand::Token(TokenCommand::Create {
            as_member,
            name,
            scoped,
            created_at,
        }) => {
            let creator = match as_member {
                Some(email) => store::member_by_email(c, email)?,
                None => store::ensure_owner(c)?,
            };
            let (t, secret) = store::create_proxy_token(
                c,
                NewProxyToken {
                    created_by: Some(creator.pk),
                    name,
                    scoped: *scoped,
                    created_at: *created_at,
                },
            )?;
            let mut j = token_json(&t);
            j["action"] = json!("token.create");
            j["token_secret"] = json!(secret);
            Ok(Report {
                text: t.token_id.clone(),
                json: j,
            })
        }
        AdminCommand::Token(TokenCommand::Rename { token_id, name }) => {
            let t = store::rename_proxy_token(c, token_id, name)?;
            Ok(Report {
                text: format!("Renamed proxy token {} to {}", t.token_id, store::quote(name)),
                json: json!({"action": "token.rename", "token": token_json(&t)}),
            })
        }
        AdminCommand::Token(TokenCommand::Delete { token_id }) => {
            let t = store::delete_proxy_token(c, token_id)?;
            Ok(Report {
                text: format!("Deleted proxy token {}", t.token_id),
                json: json!({"action": "token.delete", "token": token_json(&t)}),
            })
        }
        AdminCommand::Token(TokenCommand::Allow { token_id, env }) => {
            store::proxy_token(c, token_id)?;
            let e = store::env_by_name(c, env)?;
            let changed = store::allow_token(c, token_id, &e)?;
            Ok(Report {
                text: format!(
                    "Allowed proxy token {token_id} in environment {}{}",
                    e.name,
                    if changed { "" } else { " (already allowed)" }
                ),
                json: json!({"action": "token.allow", "token_id": token_id, "environment": e.name,
                             "environment_id": e.environment_id, "changed": changed}),
            })
        }
        AdminCommand::Token(TokenCommand::Revoke { token_id, env }) => {
            store::proxy_token(c, token_id)?;
            let e = store::env_by_name(c, env)?;
            let changed = store::revoke_token(c, token_id, &e)?;
            Ok(Report {
                text: format!(
                    "Revoked proxy token {token_id}'s access to environment {}{}",
                    e.name,
                    if changed { "" } else { " (was not allowed)" }
                ),
                json: json!({"action": "token.revoke", "token_id": token_id, "environment": e.name,
                             "environment_id": e.environment_id, "changed": changed}),
            })
        }
        AdminCommand::Env(EnvCommand::Add { name }) => {
            let e = store::create_env(c, name)?;
            Ok(Report {
                text: format!("Added environment {} ({})", e.name, e.environment_id),
                json: json!({"action": "env.add", "environment": e.name, "environment_id": e.environment_id}),
            })
        }
        AdminCommand::Env(EnvCommand::Remove { name }) => {
            let e = store::remove_env(c, name)?;
            Ok(Report {
                text: format!("Removed environment {} ({})", e.name, e.environment_id),
                json: json!({"action": "env.remove", "environment": e.name, "environment_id": e.environment_id}),
            })
        }
        AdminCommand::Workspace(WorkspaceCommand::Rename { name }) => {
            let old = store::rename_workspace(c, name)?;
            Ok(Report {
                text: format!("Renamed workspace {old} to {name}"),
                json: json!({"action": "workspace.rename", "old_name": old, "name": name}),
            })
        }
        AdminCommand::ServiceUser(ServiceUserCommand::Add {
            name,
            expires_in_secs,
            expires_at,
            created_by,
            created_at,
            roles,
        }) => {
            let creator = match created_by {
                Some(email) => store::member_by_email(c, email)?,
                None => store::ensure_owner(c)?,
            };
            let expires_at =
                expires_at.or(expires_in_secs.map(|n| store::now() + f64::from(n)));
            let (mut su, secret) = store::create_service_user(
                c,
                NewServiceUser {
                    name,
                    scoped: false,
                    created_by: Some(creator.pk),
                    created_at: *created_at,
                    expires_at,
                },
            )?;
            for (env, role) in roles {
                let role = EnvRole::parse(role)?;
                let env = store::env_by_name(c, env)?;
                store::set_service_user_role(c, &su, &env, role)?;
            }
            if !roles.is_empty() {
                su = store::service_user_by_pk(c, su.pk)?;
            }
            let mut j = json!({"action": "service-user.add", "service_user": service_user_json(&su)});
            j["token_id"] = json!(su.token_id);
            j["token_secret"] = json!(secret);
            Ok(Report {
                text: format!(
                    "Added service user {} ({}) with token {}",
                    su.name, su.service_user_id, su.token_id
                ),
                json: j,
            })
        }
        AdminCommand::ServiceUser(ServiceUserCommand::Remove { name }) => {
            let su = store::delete_service_user(c, "", name)?;
            Ok(Report {
                text: format!("Removed service user {} ({})", su.name, su.service_user_id),
                json: json!({"action": "service-user.remove", "service_user": service_user_json(&su)}),
            })
        }
        AdminCommand::ServiceUser(ServiceUserCommand::SetRole { name, env, role }) => {
            let role = EnvRole::parse(role)?;
            let su = store::service_user_by_name(c, name)?;
            let e = store::env_by_name(c, env)?;
            let old = store::set_service_user_role(c, &su, &e, role)?;
            Ok(Report {
                text: format!(
                    "Changed service user {}'s role in environment {} from {} to {}",
                    su.name,
                    e.name,
                    old.as_str(),
                    role.as_str()
                ),
                json: json!({"action": "service-user.set-role", "name": su.name,
                             "environment": e.name, "old_role": old.as_str(), "role": role.as_str()}),
            })
        }
        AdminCommand::MemberToken(MemberTokenCommand::Add {
            member,
            name,
            created_at,
            expires_at,
            last_used_at,
            disabled,
        }) => {
            let m = store::member_by_email(c, member)?;
            let (t, secret) = store::create_member_token(
                c,
                NewMemberToken {
                    member_pk: m.pk,
                    name,
                    created_at: *created_at,
                    expires_at: *expires_at,
                    last_used_at: *last_used_at,
                    disabled: *disabled,
                },
            )?;
            Ok(Report {
                text: t.token_id.clone(),
                json: json!({"action": "member-token.add", "token": member_token_json(&t),
                             "token_id": t.token_id, "token_secret": secret}),
            })
        }
        AdminCommand::MemberToken(MemberTokenCommand::Disable { token_id }) => {
            let before = store::set_member_token_disabled(c, token_id, true)?;
            let t = store::member_token(c, token_id)?;
            Ok(Report {
                text: format!(
                    "Disabled token {}{}",
                    t.token_id,
                    if before.disabled { " (already disabled)" } else { "" }
                ),
                json: json!({"action": "member-token.disable", "token": member_token_json(&t),
                             "changed": !before.disabled}),
            })
        }
        AdminCommand::MemberToken(MemberTokenCommand::Enable { token_id }) => {
            let before = store::set_member_token_disabled(c, token_id, false)?;
            let t = store::member_token(c, token_id)?;
            Ok(Report {
                text: format!(
                    "Enabled token {}{}",
                    t.token_id,
                    if before.disabled { "" } else { " (was not disabled)" }
                ),
                json: json!({"action": "member-token.enable", "token": member_token_json(&t),
                             "changed": before.disabled}),
            })
        }
        AdminCommand::MemberToken(MemberTokenCommand::Remove { token_id }) => {
            let t = store::delete_member_token(c, token_id)?;
            Ok(Report {
                text: format!("Removed token {} of {}", t.token_id, t.email),
                json: json!({"action": "member-token.remove", "token": member_token_json(&t)}),
            })
        }
        AdminCommand::Settings(SettingsCommand::SetDefaultEnv { name }) => {
            let (old, e) = store::set_default_env(c, name)?;
            Ok(Report {
                text: format!("Changed the default environment from {old} to {}", e.name),
                json: json!({"action": "settings.set-default-env", "old": old, "new": e.name}),
            })
        }
        AdminCommand::Settings(SettingsCommand::SetImageBuilderVersion {
            image_builder_version: version,
        }) => {
            let old = store::set_image_builder_version(c, version)?;
            Ok(Report {
                text: format!("Changed the image builder version from {old} to {version}"),
                json: json!({"action": "settings.set-image-builder-version", "old": old, "new": version}),
            })
        }
        AdminCommand::Bulk { members, tokens } => {
            let r = store::bulk_insert(c, *members, *tokens)?;
            Ok(Report {
                text: format!(
                    "Added {} members and {} proxy tokens",
                    r.members, r.tokens
                ),
                json: json!({"action": "bulk", "members": r.members, "tokens": r.tokens}),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn db_is_global() {
        let a =
            Cli::try_parse_from(["mws-emulator", "--db", "x.db", "seed", "demo"]).expect("parse");
        assert_eq!(a.db.as_deref(), Some(std::path::Path::new("x.db")));
        let b = Cli::try_parse_from([
            "mws-emulator",
            "admin",
            "env",
            "add",
            "prod",
            "--db",
            "y.db",
            "--json",
        ])
        .expect("parse");
        assert_eq!(b.db.as_deref(), Some(std::path::Path::new("y.db")));
        match b.command {
            Command::Admin(a) => assert!(a.json),
            other => panic!("unexpected {other:?}"),
        }
    }
}
