//! Process hardening applied before the daemon touches any secret, and the
//! daemon's open-files limit.
//!
//! `PR_SET_DUMPABLE 0` stops core dumps and ptrace attaches by other
//! processes of the same user, and makes `/proc/<pid>/mem` and friends
//! root-only; `RLIMIT_CORE 0` is the belt to that braces on systems where a
//! core pattern would still write something. The plugin host applies the
//! same (it runs this executable).
//!
//! The soft `RLIMIT_NOFILE` is often 1024 while the hard one is far higher:
//! every client connection, watch stream and upstream connection is a
//! descriptor, so the daemon raises its soft limit to the hard one (at most
//! [`MAX_OPEN_FILES`]) rather than refuse clients at 1024. The daemon only
//! uses epoll, never `select`, so a descriptor above 1024 is no problem.

use rustix::process::{
    getrlimit, set_dumpable_behavior, setrlimit, DumpableBehavior, Resource, Rlimit,
};

/// The most the soft open-files limit is raised to (the kernel's default
/// `fs.nr_open`).
pub const MAX_OPEN_FILES: u64 = 1 << 20;

/// Applies the hardening; failures are logged, not fatal (the daemon still
/// works, just with less protection).
pub fn apply() {
    if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
        tracing::warn!("could not disable core dumps (PR_SET_DUMPABLE): {e}");
    }
    let zero = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    if let Err(e) = setrlimit(Resource::Core, zero) {
        tracing::warn!("could not set RLIMIT_CORE to 0: {e}");
    }
}

/// Raises the soft open-files limit toward the hard one; returns the limit
/// in force afterwards (`None`: unlimited or unknown).
pub fn raise_open_files_limit() -> Option<u64> {
    let limit = getrlimit(Resource::Nofile);
    let target = limit.maximum.unwrap_or(MAX_OPEN_FILES).min(MAX_OPEN_FILES);
    if limit.current.is_some_and(|current| current < target) {
        let raised = Rlimit {
            current: Some(target),
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::debug!(from = ?limit.current, to = target, "open-files limit raised");
                return Some(target);
            }
            Err(e) => tracing::warn!(
                "could not raise the open-files limit from {:?} to {target}: {e}",
                limit.current
            ),
        }
    }
    limit.current
}
