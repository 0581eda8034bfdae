//! `mws proxy-tokens list|create|update|allow|revoke|delete`.

use super::shared::success;
use crate::args::{FreshnessArgs, ProxyTokensCommand};
use crate::confirm;
use crate::output::emit;
use crate::plugins::{self, Output};
use crate::render::{self, json};
use crate::request::{self, unexpected};
use crate::{term, validate};
use mws_ipc::{Freshness, Response, WorkspaceCommand};
use std::process::ExitCode;

pub fn run(profile: Option<String>, command: ProxyTokensCommand) -> anyhow::Result<ExitCode> {
    match command {
        ProxyTokensCommand::List {
            environment,
            output,
            format,
            freshness,
        } => {
            let response = request::workspace(
                profile,
                freshness.into(),
                WorkspaceCommand::TokensList { environment },
            )?;
            let Response::Tokens(tokens) = response else {
                return Err(unexpected(&response));
            };
            let tz = render::time::local_zone();
            let text = match format.output(output.json) {
                Output::Json => json::tokens(&tokens, &tz),
                Output::Table => render::tokens_table(&tokens, &tz, term::width()),
                Output::Plugin(name) => {
                    plugins::render("tokens", name, json::tokens(&tokens, &tz))?
                }
            };
            emit(&text)?;
        }
        ProxyTokensCommand::Create { name, output } => {
            let response = request::workspace(
                profile,
                Freshness::default(),
                WorkspaceCommand::TokenCreate { name },
            )?;
            let Response::Created(token) = response else {
                return Err(unexpected(&response));
            };
            let text = if output.json {
                json::created(&token)
            } else {
                render::created_box(&token, term::width())
            };
            crate::output::emit_secret(
                &text,
                &format!("Proxy token {}", render::py_repr(&token.token_id)),
                &format!(
                    "delete it with `mws proxy-tokens delete {} --yes` and create another",
                    token.token_id
                ),
            )?;
        }
        ProxyTokensCommand::Update {
            token_id,
            setting,
            value,
        } => {
            if setting != "name" {
                crate::usage::fail(&format!(
                    "Unknown proxy token setting {}. Supported settings: name.",
                    render::py_repr(&setting)
                ));
            }
            request::mutate(
                profile,
                WorkspaceCommand::TokenUpdateName {
                    token_id: token_id.clone(),
                    name: value,
                },
            )?;
            success(&format!(
                "Updated proxy token {}",
                render::py_repr(&token_id)
            ))?;
        }
        ProxyTokensCommand::Allow {
            token_id,
            environment_name,
        } => environment_access(profile, token_id, environment_name, true)?,
        ProxyTokensCommand::Revoke {
            token_id,
            environment_name,
        } => environment_access(profile, token_id, environment_name, false)?,
        ProxyTokensCommand::Delete { token_id, yes } => {
            if !yes {
                confirm::or_abort(&format!(
                    "Are you sure you want to delete proxy token {}? Requests using this token will be rejected.",
                    render::py_repr(&token_id)
                ))?;
            }
            request::mutate(
                profile,
                WorkspaceCommand::TokenDelete {
                    token_id: token_id.clone(),
                },
            )?;
            success(&format!(
                "Deleted proxy token {}",
                render::py_repr(&token_id)
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl From<FreshnessArgs> for Freshness {
    fn from(args: FreshnessArgs) -> Self {
        Freshness {
            max_age_secs: args.max_age,
            fresh: args.fresh,
        }
    }
}

/// `allow` / `revoke`: checks the environment name before anything is sent.
fn environment_access(
    profile: Option<String>,
    token_id: String,
    environment: String,
    allow: bool,
) -> anyhow::Result<()> {
    validate::environment_name(&environment)?;
    let (token, env) = (render::py_repr(&token_id), render::py_repr(&environment));
    let (command, done) = if allow {
        (
            WorkspaceCommand::TokenAllow {
                token_id,
                environment,
            },
            format!("Allowed proxy token {token} to authenticate to environment {env}"),
        )
    } else {
        (
            WorkspaceCommand::TokenRevoke {
                token_id,
                environment,
            },
            format!("Revoked proxy token {token} access to environment {env}"),
        )
    };
    request::mutate(profile, command)?;
    success(&done)?;
    Ok(())
}
