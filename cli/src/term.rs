//! What the CLI needs to know about its terminal: the width tables are fitted
//! to, whether a stream is a terminal, and whether to use colour. Asked only
//! when needed (a `--json` call never queries the terminal).

use std::os::fd::{AsFd, BorrowedFd, RawFd};

/// Width of tables: `COLUMNS` when it is a number, else the width of the
/// first of stdin/stdout/stderr that is a terminal, else 80 (rich's rule).
pub fn width() -> usize {
    if let Some(columns) = std::env::var_os("COLUMNS") {
        if let Some(n) = columns.to_str().and_then(|s| s.parse::<usize>().ok()) {
            if n > 0 {
                return n;
            }
        }
    }
    for fd in 0..3 {
        if let Some(n) = tty_width(fd) {
            if n > 0 {
                return n;
            }
            break;
        }
    }
    80
}

/// Python's `shutil.get_terminal_size().columns`: `COLUMNS` when it is a
/// positive number, else the width of stdout when it is a terminal, else 80.
pub fn stdout_columns() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .or_else(|| tty_width(1).filter(|&n| n > 0))
        .unwrap_or(80)
}

fn tty_width(fd: RawFd) -> Option<usize> {
    let size = with_std_fd(fd, |fd| rustix::termios::tcgetwinsize(fd).ok()).flatten()?;
    Some(usize::from(size.ws_col))
}

/// True when `fd` (0, 1 or 2) is a terminal.
pub fn is_tty(fd: RawFd) -> bool {
    with_std_fd(fd, |fd| rustix::termios::isatty(fd)).unwrap_or(false)
}

/// Runs `f` on standard stream `fd` (0, 1 or 2); `None` for any other fd.
fn with_std_fd<T>(fd: RawFd, f: impl FnOnce(BorrowedFd<'_>) -> T) -> Option<T> {
    match fd {
        0 => Some(f(std::io::stdin().as_fd())),
        1 => Some(f(std::io::stdout().as_fd())),
        2 => Some(f(std::io::stderr().as_fd())),
        _ => None,
    }
}

/// Colour for a stream: only on a terminal, and not with `NO_COLOR` or a
/// dumb terminal.
pub fn color(fd: RawFd) -> bool {
    is_tty(fd)
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}
