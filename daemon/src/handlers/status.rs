//! `mws daemon status`: a snapshot of the daemon, built from in-memory
//! state only (no upstream call, no plugin call), so it answers at once
//! whatever else is stuck (the webhook queue included).

use crate::state::Daemon;
use mws_ipc::{DaemonStatus, PROTOCOL_VERSION};

pub(super) fn status(daemon: &Daemon) -> DaemonStatus {
    DaemonStatus {
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        protocol_version: PROTOCOL_VERSION,
        uptime_secs: daemon.started.elapsed().as_secs(),
        socket: daemon.socket.display().to_string(),
        identities: daemon.identity_statuses(),
        local_emulator: daemon.credentials.local_url(),
        config_errors: daemon.config_errors(),
        subscribers: daemon
            .subscribers
            .load(std::sync::atomic::Ordering::Relaxed),
        notifications: daemon.notification_state(),
        plugins: daemon.plugins.snapshot(),
        instance: daemon.bus.journal().instance().to_string(),
        last_event_seq: daemon.bus.journal().last_seq(),
        webhooks: super::webhooks::report(daemon),
    }
}
