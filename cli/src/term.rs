//! What the CLI needs to know about its terminal: the width tables are fitted
//! to, whether a stream is a terminal, and whether to use colour. Asked only
//! when needed (a `--json` call never queries the terminal).

use std::os::fd::RawFd;

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

fn tty_width(fd: RawFd) -> Option<usize> {
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) };
    (rc == 0).then_some(size.ws_col as usize)
}

/// True when `fd` is a terminal.
pub fn is_tty(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// Colour for a stream: only on a terminal, and not with `NO_COLOR` or a
/// dumb terminal.
pub fn color(fd: RawFd) -> bool {
    is_tty(fd)
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}
