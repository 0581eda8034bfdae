//! The confirmation destructive commands ask for (click's `confirm`), with
//! the official CLI's prompt and its refusal to guess when nobody can
//! answer (`confirm_or_suggest_yes`).

use crate::output::CommandError;
use crate::term;
use anyhow::Context as _;
use std::io::{BufRead, Write};

/// The user's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// stdin is not a terminal: the prompt was shown and the caller must stop.
    NoTerminal,
}

/// Printed on stderr when stdin is not a terminal.
pub const NO_TERMINAL: &str =
    "Aborted: no interactive terminal detected. Rerun with --yes (-y) to skip confirmation.";

/// Asks `message [y/N]: ` (default no). Without a terminal on stdin it only
/// prints the prompt (as the official CLI does) and answers `NoTerminal`.
pub fn ask(message: &str, stdin_is_tty: bool) -> std::io::Result<Answer> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !stdin_is_tty {
        writeln!(out, "{message} [y/N]: ")?;
        out.flush()?;
        return Ok(Answer::NoTerminal);
    }
    let stdin = std::io::stdin();
    ask_with(message, &mut stdin.lock(), &mut out)
}

/// Asks `message`; anything but yes stops the command with the official
/// CLI's words (`Aborted!`, or the hint to use `--yes` without a terminal).
pub fn or_abort(message: &str) -> anyhow::Result<()> {
    match ask(message, term::is_tty(0)).context("cannot ask for confirmation")? {
        Answer::Yes => Ok(()),
        Answer::No => Err(CommandError::Aborted("Aborted!").into()),
        Answer::NoTerminal => Err(CommandError::Aborted(NO_TERMINAL).into()),
    }
}

/// The prompt loop over any reader and writer (click's `confirm`: `y`/`yes`
/// or `n`/`no` in any case, empty = no, anything else asks again).
pub fn ask_with(
    message: &str,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> std::io::Result<Answer> {
    loop {
        write!(out, "{message} [y/N]: ")?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            writeln!(out)?;
            return Ok(Answer::No);
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Ok(Answer::Yes),
            "n" | "no" | "" => return Ok(Answer::No),
            _ => writeln!(out, "Error: invalid input")?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> (Answer, String) {
        let mut out = Vec::new();
        let answer = ask_with("Delete?", &mut input.as_bytes(), &mut out).unwrap();
        (answer, String::from_utf8(out).unwrap())
    }

    #[test]
    fn answers() {
        assert_eq!(run("y\n").0, Answer::Yes);
        assert_eq!(run("YES\n").0, Answer::Yes);
        assert_eq!(run("\n").0, Answer::No);
        assert_eq!(run("n\n").0, Answer::No);
        assert_eq!(run("").0, Answer::No);
        let (answer, shown) = run("maybe\ny\n");
        assert_eq!(answer, Answer::Yes);
        assert_eq!(
            shown,
            "Delete? [y/N]: Error: invalid input\nDelete? [y/N]: "
        );
    }
}
