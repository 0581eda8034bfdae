//! What is generated from the command-line definitions themselves: shell
//! completion registration and the man page, so they never drift from
//! `--help`.
//! `scripts/install.sh` installs both where shells and `man` look.

use crate::args::{Cli, CompletionShell};
use crate::output::emit;
use std::process::ExitCode;

/// `mws completions SHELL`: the script that registers dynamic completion
/// (on each tab the shell runs `COMPLETE=SHELL mws -- WORDS…`; see
/// `crate::complete`).
pub(super) fn completions(shell: CompletionShell) -> anyhow::Result<ExitCode> {
    let name = match shell {
        CompletionShell::Bash => "bash",
        CompletionShell::Zsh => "zsh",
        CompletionShell::Fish => "fish",
    };
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells
        .completer(name)
        .ok_or_else(|| anyhow::anyhow!("no completion support for {name}"))?;
    let mut out = Vec::new();
    completer.write_registration("COMPLETE", "mws", "mws", "mws", &mut out)?;
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
