//! `mws settings list|set` (workspace manager or owner).

use super::shared::say;
use crate::args::SettingsCommand as Args;
use crate::output::emit;
use crate::render::{admin, json};
use crate::request::{self, unexpected};
use crate::term;
use mws_ipc::{Freshness, Response, SettingsCommand, WorkspaceCommand};
use std::process::ExitCode;

pub fn run(profile: Option<String>, command: Args) -> anyhow::Result<ExitCode> {
    match command {
        Args::List { output } => {
            let settings = match ask(profile, SettingsCommand::List)? {
                Response::Settings(settings) => settings,
                other => return Err(unexpected(&other)),
            };
            emit(&if output.json {
                json::settings(&settings)
            } else {
                admin::settings_table(&settings, term::width())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Args::Set { setting, value } => {
            let command = SettingsCommand::Set {
                setting: setting.clone(),
                value: value.clone(),
            };
            match ask(profile, command)? {
                Response::SettingSet {
                    previous,
                    error: None,
                } => {
                    say(&format!("✓ {setting}: updated from {previous} to {value}"))?;
                    Ok(ExitCode::SUCCESS)
                }
                // The official CLI reports a refused change on stdout, exit 1.
                Response::SettingSet {
                    error: Some(error), ..
                } => {
                    say(&format!("✗ {setting}: {error}"))?;
                    Ok(ExitCode::FAILURE)
                }
                other => Err(unexpected(&other)),
            }
        }
    }
}

fn ask(profile: Option<String>, command: SettingsCommand) -> anyhow::Result<Response> {
    request::workspace(
        profile,
        Freshness::default(),
        WorkspaceCommand::Settings(command),
    )
}
