//! What several command groups print the same way: success lines and usage
//! errors found after parsing.

use crate::args::Cli;
use crate::output::{self, emit};
use crate::term;

/// Prints a usage error for a subcommand the way clap does, and exits 2.
pub fn usage_error(path: &[&str], message: &str) -> ! {
    let mut command = <Cli as clap::CommandFactory>::command();
    command.build();
    let mut sub = &mut command;
    for name in path {
        sub = sub
            .find_subcommand_mut(name)
            .expect("usage_error is called with a declared subcommand path");
    }
    sub.error(clap::error::ErrorKind::InvalidValue, message)
        .exit()
}

/// `✓ <message>` on stdout (the tick green on a terminal).
pub fn success(message: &str) -> anyhow::Result<()> {
    emit(&format!("{} {message}\n", output::tick(term::color(1))))
}
