//! What is generated from the command-line definitions themselves: shell
//! completion scripts and the man page, so they never drift from `--help`.
//! `scripts/install.sh` installs both where shells and `man` look.

use crate::args::{Cli, CompletionShell};
use crate::output::emit;
use std::process::ExitCode;

/// `mws completions SHELL`.
pub(super) fn completions(shell: CompletionShell) -> anyhow::Result<ExitCode> {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(shell),
        &mut command,
        "mws",
        &mut out,
    );
    emit(&String::from_utf8_lossy(&out))?;
    Ok(ExitCode::SUCCESS)
}

/// `mws man`: mws(1) in roff.
pub(super) fn man() -> anyhow::Result<ExitCode> {
    let command = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(command).render(&mut out)?;
    emit(&String::from_utf8_lossy(&out))?;
    Ok(ExitCode::SUCCESS)
}
