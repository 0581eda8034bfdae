//! The bus: how the daemon's events get from who notices them to who
//! follows them.
//!
//! Sessions and the plugin manager [`Bus::publish`] typed
//! [`DaemonEvent`]s; the daemon's own followers (desktop notifications, the
//! plugin manager) take every one from a broadcast channel, and the public
//! ones are also numbered in the [`Journal`] that `watch` subscribers
//! resume from. Kept apart from `events` (what an event is) and `journal`
//! (how public ones are kept) so neither needs the other's half.

use crate::events::DaemonEvent;
use crate::journal::Journal;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Events waiting for the slowest follower; one that falls further behind
/// misses events.
const CAPACITY: usize = 1024;

/// The bus: a broadcast channel of [`DaemonEvent`]s for the daemon's own
/// followers, and the [`Journal`] that numbers the public ones for `watch`
/// subscribers.
#[derive(Clone)]
pub(crate) struct Bus {
    sender: broadcast::Sender<DaemonEvent>,
    journal: Arc<Journal>,
}

impl Default for Bus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            journal: Arc::new(Journal::default()),
        }
    }
}

impl Bus {
    pub(crate) fn publish(&self, event: DaemonEvent) {
        self.journal.record(&event);
        // No subscriber is not an error.
        let _ = self.sender.send(event);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<DaemonEvent> {
        self.sender.subscribe()
    }

    /// The numbered public events (`watch` streams subscribe there).
    pub(crate) fn journal(&self) -> &Journal {
        &self.journal
    }
}
