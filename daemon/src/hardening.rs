//! Process hardening applied before the daemon touches any secret.
//!
//! `PR_SET_DUMPABLE 0` stops core dumps and ptrace attaches by other
//! processes of the same user, and makes `/proc/<pid>/mem` and friends
//! root-only; `RLIMIT_CORE 0` is the belt to that braces on systems where a
//! core pattern would still write something.

/// Applies the hardening; failures are logged, not fatal (the daemon still
/// works, just with less protection).
pub fn apply() {
    // SAFETY: both calls take plain integers / a pointer to a valid struct.
    unsafe {
        if libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 {
            tracing::warn!("could not disable core dumps (PR_SET_DUMPABLE)");
        }
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::setrlimit(libc::RLIMIT_CORE, &zero) != 0 {
            tracing::warn!("could not set RLIMIT_CORE to 0");
        }
    }
}

/// True when this process may not dump core (for tests and `status`).
pub fn is_dumpable() -> bool {
    // SAFETY: PR_GET_DUMPABLE takes no pointers.
    unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 }
}
