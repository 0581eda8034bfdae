//! Process hardening applied before the daemon touches any secret.
//!
//! `PR_SET_DUMPABLE 0` stops core dumps and ptrace attaches by other
//! processes of the same user, and makes `/proc/<pid>/mem` and friends
//! root-only; `RLIMIT_CORE 0` is the belt to that braces on systems where a
//! core pattern would still write something. The plugin host applies the
//! same (it runs this executable).

use rustix::process::{set_dumpable_behavior, setrlimit, DumpableBehavior, Resource, Rlimit};

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
