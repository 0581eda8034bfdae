//! `mws member-tokens list|delete|disable|enable` (members' API tokens).

use super::shared::{success, unique};
use crate::args::MemberTokensCommand as Args;
use crate::output::emit;
use crate::render::{admin, json, time};
use crate::request::{self, unexpected};
use crate::{confirm, term};
use mws_ipc::{Freshness, MemberToken, MemberTokenCommand, Response, WorkspaceCommand};
use std::process::ExitCode;

pub fn run(profile: Option<String>, command: Args) -> anyhow::Result<ExitCode> {
    match command {
        Args::List { json } => {
            let tokens = list(profile)?;
            let tz = time::local_zone();
            emit(&if json {
                json::member_tokens(&tokens, &tz)
            } else {
                admin::member_tokens_table(&tokens, &tz, term::width())
            })?;
        }
        Args::Delete {
            token_id,
            allow_missing,
            yes,
        } => {
            if !yes {
                confirm::or_abort(&format!(
                    "Are you sure you want to irrevocably delete the Token '{token_id}'?"
                ))?;
            }
            let command = MemberTokenCommand::Delete {
                token_id: token_id.clone(),
                allow_missing,
            };
            mutate(profile, command)?;
            success(&format!("Deleted Token `{token_id}`."))?;
        }
        Args::Disable {
            token_ids,
            all,
            yes,
        } => {
            // The official order: resolve --all, then ask, then disable.
            let token_ids = if all {
                list(profile.clone())?
                    .into_iter()
                    .filter(|t| !t.disabled)
                    .map(|t| t.token_id)
                    .collect()
            } else {
                token_ids
            };
            let token_ids = unique(token_ids);
            if !yes {
                confirm::or_abort(if all {
                    "Are you sure you want to disable all your tokens?"
                } else {
                    "Are you sure you want to disable the specified token(s)?"
                })?;
            }
            let count = token_ids.len();
            mutate(profile, MemberTokenCommand::Disable { token_ids })?;
            success(&format!("Disabled {count} {}.", tokens_word(count)))?;
        }
        Args::Enable { token_ids, yes } => {
            if !yes {
                confirm::or_abort("Are you sure you want to enable the specified token(s)?")?;
            }
            let token_ids = unique(token_ids);
            let count = token_ids.len();
            mutate(profile, MemberTokenCommand::Enable { token_ids })?;
            success(&format!("Enabled {count} {}.", tokens_word(count)))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn tokens_word(count: usize) -> &'static str {
    if count == 1 {
        "token"
    } else {
        "tokens"
    }
}

fn list(profile: Option<String>) -> anyhow::Result<Vec<MemberToken>> {
    match request::workspace(
        profile,
        Freshness::default(),
        WorkspaceCommand::MemberTokens(MemberTokenCommand::List),
    )? {
        Response::MemberTokens(tokens) => Ok(tokens),
        other => Err(unexpected(&other)),
    }
}

fn mutate(profile: Option<String>, command: MemberTokenCommand) -> anyhow::Result<()> {
    request::mutate(profile, WorkspaceCommand::MemberTokens(command))
}
