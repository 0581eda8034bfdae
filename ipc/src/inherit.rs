//! What a process started by `mws` or `mwsd` inherits: its stdio and the
//! descriptors named for it, nothing else.
//!
//! A descriptor without `FD_CLOEXEC` survives `exec`: a shell's `exec 9>lock;
//! flock 9`, a pipe a caller reads to its end, a socket. A daemon that
//! inherits one holds the caller's lock, or the caller's reader never sees
//! EOF, for as long as the daemon runs. Rust opens its own descriptors
//! close-on-exec, but inherited ones are not, so both hand-offs — `mws`
//! starting `mwsd` (`cli/src/autostart.rs`) and `mwsd` starting its plugin
//! host (`daemon/src/plugins/host.rs`) — call [`keep_only`] between `fork`
//! and `exec`.
//!
//! It marks every descriptor from 3 up close-on-exec (not closed: the
//! standard library's own error pipe must stay open until `exec`) with one
//! `close_range(CLOSE_RANGE_CLOEXEC)` (Linux 5.11), else one `fcntl` per
//! possible descriptor up to the open-files limit, then clears the flag on
//! the descriptors named.

use std::io;
use std::os::fd::RawFd;

/// Most descriptors the fallback loop visits (a kernel without
/// `close_range` and an open-files limit in the millions).
const FALLBACK_MAX_FDS: libc::rlim_t = 1 << 16;

/// Makes every descriptor from 3 up close-on-exec, except `keep`, whose
/// flag is cleared so that they survive `exec`.
///
/// Meant for `CommandExt::pre_exec`: it only makes system calls (no
/// allocation, no lock), so it is async-signal-safe.
pub fn keep_only(keep: &[RawFd]) -> io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes flags.
    let done = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    } == 0;
    if !done {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills the struct we pass.
        let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            limit.rlim_cur.min(FALLBACK_MAX_FDS)
        } else {
            FALLBACK_MAX_FDS
        };
        for fd in 3..max as RawFd {
            // SAFETY: F_SETFD on a descriptor that may not exist (EBADF,
            // ignored).
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
    for &fd in keep {
        // SAFETY: flag changes on a descriptor the caller names.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags == -1 || unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) } == -1
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    /// Clears `FD_CLOEXEC`, as a shell's `exec 9>file` leaves it.
    fn inheritable(file: &std::fs::File) {
        let fd = file.as_raw_fd();
        // SAFETY: flag change on a descriptor we own.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }

    #[test]
    fn only_the_named_descriptors_reach_the_child() {
        let dir = tempfile::tempdir().unwrap();
        let leaked = std::fs::File::create(dir.path().join("leaked")).unwrap();
        let kept = std::fs::File::create(dir.path().join("kept")).unwrap();
        inheritable(&leaked);
        let kept_fd = kept.as_raw_fd();
        let mut command = Command::new("sh");
        command.args(["-c", "ls -l /proc/self/fd/"]);
        // SAFETY: keep_only is async-signal-safe.
        unsafe { command.pre_exec(move || keep_only(&[kept_fd])) };
        let out = command.output().unwrap();
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(listing.contains("kept"), "{listing}");
        assert!(!listing.contains("leaked"), "{listing}");
    }
}
