//! What `mws` writes, and the errors that have their own presentation.
//!
//! A leaf module (it uses nothing else of the crate) so that every other
//! module can print and fail the same way without importing `commands`:
//! that is how the CLI has no import cycles.
//!
//! Writing is broken-pipe-safe: `mws … | head` closes stdout early, and that
//! is not an error (the official CLI exits quietly too).

use mws_ipc::ErrorReply;
use std::io::Write;

/// Failures with their own presentation (see `main.rs`). Other errors (the
/// client's, invalid arguments) travel as plain `anyhow` errors.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The daemon's error, shown verbatim after `Error: `.
    #[error("{}", .0.message)]
    Daemon(ErrorReply),
    /// The user declined, or could not be asked; printed as is.
    #[error("{0}")]
    Aborted(&'static str),
    /// The daemon answered with a response of another kind (its name).
    #[error("unexpected answer from mwsd: {0}")]
    Unexpected(&'static str),
}

/// Whether a write reached its reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Yes,
    /// The reader went away (a closed pipe).
    ReaderGone,
}

/// Writes all of `text` to stdout at once and flushes it.
pub fn write_stdout(text: &str) -> std::io::Result<Written> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(Written::Yes),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Written::ReaderGone),
        Err(e) => Err(e),
    }
}

/// Writes `text` to stdout; a closed pipe is not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    write_stdout(text)
        .map(|_| ())
        .context("cannot write to stdout")
}

/// `✓` (green on a terminal), the official CLI's mark for success.
pub fn tick(color: bool) -> &'static str {
    if color {
        "\u{1b}[32m✓\u{1b}[0m"
    } else {
        "✓"
    }
}

/// `✗` (red on a terminal), the official CLI's mark for a refused change.
pub fn cross(color: bool) -> &'static str {
    if color {
        "\u{1b}[31m✗\u{1b}[0m"
    } else {
        "✗"
    }
}

/// `Error:` (bold red on a terminal), the prefix of every error line.
pub fn error_prefix(color: bool) -> &'static str {
    if color {
        "\u{1b}[1;31mError:\u{1b}[0m"
    } else {
        "Error:"
    }
}
