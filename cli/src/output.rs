//! What `mws` writes, and the errors that have their own presentation.
//!
//! A leaf module (it uses nothing else of the crate) so that every other
//! module can print and fail the same way without importing `commands`:
//! that is how the CLI has no import cycles.
//!
//! Writing is broken-pipe-safe: `mws … | head` closes stdout early, and that
//! is not an error (the official CLI exits quietly too) — except for a secret
//! shown once ([`emit_secret`]). Any other failure to write is an error
//! (exit 1): stdout full (`>/dev/full`), or closed before mws started
//! (`>&-`, which Rust's runtime would silently turn into /dev/null).

use mws_ipc::ErrorReply;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether fd 1 was closed when the process started. Rust's runtime opens
/// /dev/null on a closed fd 0–2 before `main`, so writes would "succeed";
/// this is looked at earlier, by a function in `.init_array` (run by the
/// C runtime before `main`).
static STDOUT_CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static NOTE_CLOSED_STDOUT: extern "C" fn() = note_closed_stdout;

#[cfg(target_os = "linux")]
extern "C" fn note_closed_stdout() {
    // SAFETY: F_GETFD on fd 1 only reads the descriptor's flags; it fails
    // (EBADF) exactly when fd 1 is not open.
    if unsafe { libc::fcntl(1, libc::F_GETFD) } == -1 {
        STDOUT_CLOSED_AT_START.store(true, Ordering::Relaxed);
    }
}

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

/// Fails when stdout was closed before mws started: checked before any
/// command runs, so that nothing is changed whose outcome cannot be shown.
pub fn check_stdout_open() -> anyhow::Result<()> {
    if STDOUT_CLOSED_AT_START.load(Ordering::Relaxed) {
        anyhow::bail!(
            "cannot write to stdout: it is closed, so nothing was done (to discard the output, use >/dev/null)"
        );
    }
    Ok(())
}

/// Writes all of `text` to stdout at once and flushes it.
pub fn write_stdout(text: &str) -> std::io::Result<Written> {
    if STDOUT_CLOSED_AT_START.load(Ordering::Relaxed) {
        return Err(std::io::Error::other("it was closed when mws started"));
    }
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

/// Writes `text`, which holds a secret shown only once, to stdout. If it
/// cannot be written (stdout full or closed, or the reader gone), the error
/// says that `created` was made and how to get rid of it (`remedy`): the
/// secret is lost.
pub fn emit_secret(text: &str, created: &str, remedy: &str) -> anyhow::Result<()> {
    let cause = match write_stdout(text) {
        Ok(Written::Yes) => return Ok(()),
        Ok(Written::ReaderGone) => "the reader of stdout went away".to_string(),
        Err(e) => format!("cannot write to stdout: {e}"),
    };
    anyhow::bail!(
        "{created} was created, but its secret could not be printed ({cause}); \
         it is shown only once: {remedy}"
    )
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
