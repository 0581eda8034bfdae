//! `mws`: a tiny synchronous CLI for Modal workspaces. It parses the command
//! line, forwards one request to the `mwsd` daemon over a local socket
//! (starting the daemon if needed) and renders the answer like the official
//! `modal workspace` CLI does. It never talks to Modal and never reads
//! credentials itself.
//!
//! Exit codes: 0 success, 1 error (`Error: …` on stderr), 2 usage error.

mod args;
mod auth;
mod autostart;
mod client;
mod commands;
mod complete;
mod confirm;
mod output;
mod plugins;
mod render;
mod request;
mod secret_input;
mod term;
mod usage;
mod validate;
mod watch;

use clap::Parser as _;
use output::CommandError;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `COMPLETE=SHELL mws -- WORDS…`, run by the completion script on a
    // tab press: answer and exit (see `complete`).
    clap_complete::CompleteEnv::with_factory(<args::Cli as clap::CommandFactory>::command)
        .complete();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match args::Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(error) => usage::exit_on_parse_error(error, &argv),
    };
    if let Err(error) = output::check_stdout_open() {
        report(&error);
        return ExitCode::FAILURE;
    }
    match commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            report(&error);
            ExitCode::FAILURE
        }
    }
}

/// Prints an error on stderr: `Error: <message>` (the prefix bold red on a
/// terminal), or an abort notice as it is.
fn report(error: &anyhow::Error) {
    if let Some(CommandError::Aborted(message)) = error.downcast_ref::<CommandError>() {
        eprintln!("{message}");
        return;
    }
    eprintln!("{} {error:#}", output::error_prefix(term::color(2)));
}
