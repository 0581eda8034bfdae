//! `mws proxy-tokens list|create|update|allow|revoke|delete|rotate`.

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
        ProxyTokensCommand::Rotate {
            token_id,
            keep_old,
            yes,
            output,
        } => rotate(profile, token_id, keep_old, yes, output.json)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `rotate`: the new secret is printed whatever happened after its
/// creation; a step that failed then becomes the error, saying what exists
/// now and what to run.
fn rotate(
    profile: Option<String>,
    token_id: String,
    keep_old: bool,
    yes: bool,
    json_output: bool,
) -> anyhow::Result<()> {
    if !yes && !keep_old {
        confirm::or_abort(&format!(
            "Are you sure you want to rotate proxy token {}? A new token replaces it and the old one is deleted: requests using it will be rejected.",
            render::py_repr(&token_id)
        ))?;
    }
    let response = request::workspace(
        profile,
        Freshness::default(),
        WorkspaceCommand::TokenRotate {
            token_id: token_id.clone(),
            keep_old,
        },
    )?;
    let Response::Rotated(rotated) = response else {
        return Err(unexpected(&response));
    };
    let text = if json_output {
        json::rotated(&rotated)
    } else {
        render::created_box(&rotated.created, term::width())
    };
    let (old, new) = (
        render::py_repr(&rotated.old_token_id),
        render::py_repr(&rotated.created.token_id),
    );
    crate::output::emit_secret(
        &text,
        &format!("The replacement {new} of proxy token {old}"),
        &format!(
            "rotate it in turn with `mws proxy-tokens rotate {} --yes` for a secret you can see",
            rotated.created.token_id
        ),
    )?;
    if let Some(failure) = &rotated.failure {
        let mut todo = Vec::new();
        if !rotated.environments_missing.is_empty() {
            todo.push(format!(
                "allow {new} in the environments it lacks (ids {}) with `mws proxy-tokens allow {} ENVIRONMENT`",
                rotated.environments_missing.join(", "),
                rotated.created.token_id
            ));
        }
        if !rotated.old_deleted && !keep_old {
            todo.push(format!(
                "delete the old token with `mws proxy-tokens delete {} --yes`",
                rotated.old_token_id
            ));
        }
        anyhow::bail!(
            "the rotation of proxy token {old} stopped: {failure}. Now the new token {new} exists (its secret is above) and the old token {old} {}. To finish: {}.",
            if rotated.old_deleted { "is deleted" } else { "still exists" },
            if todo.is_empty() { "nothing left".to_string() } else { todo.join(", then ") }
        );
    }
    if json_output {
        return Ok(());
    }
    let environments = match rotated.environments.len() {
        0 => String::new(),
        1 => " and its environment".to_string(),
        n => format!(" and its {n} environments"),
    };
    let old_fate = if rotated.old_deleted {
        "the old one is deleted".to_string()
    } else {
        format!(
            "the old one is kept; delete it with `mws proxy-tokens delete {}` once nothing uses it",
            rotated.old_token_id
        )
    };
    success(&format!(
        "Rotated proxy token {old}: {new} has its name{environments}; {old_fate}."
    ))?;
    Ok(())
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
