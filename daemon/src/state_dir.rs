//! Where the daemon keeps what must outlive it but is no configuration:
//! `$XDG_STATE_HOME/mws/` (else `~/.local/state/mws/`). As the XDG spec
//! says, a relative `XDG_STATE_HOME` is ignored.

use std::path::PathBuf;

/// The daemon's state folder (not created here).
pub(crate) fn state_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/".into()))
                .join(".local/state")
        })
        .join("mws")
}

/// The alert record (see `plugins::alerts`).
pub(crate) fn alerts_file() -> PathBuf {
    state_dir().join("alerts.json")
}

/// The webhook outbox (see `webhooks::outbox`).
pub(crate) fn outbox_dir() -> PathBuf {
    state_dir().join("outbox")
}
