//! What each command does: check its arguments, build one request, send it
//! (see [`crate::request`]), render the answer. Nothing here talks to Modal
//! or reads credentials; the daemon does both.
//!
//! One file per command group, one function per command: adding a group is
//! a new file here, its arguments in `args.rs`, one arm in [`run`], and
//! usually a `WorkspaceCommand` (or new `Request`) in `mws-ipc`.

mod alerts;
mod daemon;
mod exec;
mod generated;
mod member_tokens;
mod members;
mod metrics;
mod prompt;
mod proxy_tokens;
mod service;
mod service_users;
mod settings;
mod shared;
mod webhooks;

use crate::args::{Cli, Command, PluginsCommand, WorkspaceCommand as Spelling};
use crate::plugins;
use std::process::ExitCode;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let profile = cli.profile;
    match cli.command {
        Command::Members(command) | Command::Workspace(Spelling::Members(command)) => {
            members::run(profile, command)
        }
        Command::ProxyTokens(command) | Command::Workspace(Spelling::ProxyTokens(command)) => {
            proxy_tokens::run(profile, command)
        }
        Command::Settings(command) | Command::Workspace(Spelling::Settings(command)) => {
            settings::run(profile, command)
        }
        Command::ServiceUsers(command) | Command::Workspace(Spelling::ServiceUsers(command)) => {
            service_users::run(profile, command)
        }
        Command::MemberTokens(command) | Command::Workspace(Spelling::MemberTokens(command)) => {
            member_tokens::run(profile, command)
        }
        Command::Daemon(command) => daemon::run(command),
        Command::Plugins(PluginsCommand::List { output }) => plugins::list(output),
        Command::Alerts {
            output,
            fail_on,
            freshness,
        } => alerts::run(profile, output, &fail_on, freshness.into()),
        Command::Exec { command } => exec::exec(profile, command),
        Command::Env { shell, reveal } => exec::env(profile, shell, reveal),
        Command::Prompt { format } => prompt::run(profile, &format),
        Command::Metrics => metrics::run(),
        Command::Webhooks(command) => webhooks::run(command),
        Command::Watch { output, since } => crate::watch::run(profile, output.json, since),
        Command::Auth(command) => crate::auth::run(profile, command),
        Command::Completions { shell } => generated::completions(shell),
        Command::Man => generated::man(),
    }
}
