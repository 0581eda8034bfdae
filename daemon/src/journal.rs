//! The numbered record of public events, so a `watch` subscriber that
//! reconnects gets what it missed, or is told plainly that it cannot.
//!
//! Every public event the bus carries is stamped here with this daemon
//! instance's id (a random UUID per start) and the next sequence number,
//! kept in a bounded buffer of the last [`HISTORY`] events, and sent to the
//! live subscribers. [`Journal::subscribe`] takes the live receiver and the
//! events after a client's cursor under one lock, so nothing published in
//! between is lost or sent twice. A cursor of another instance (the daemon
//! restarted) or one older than the buffer is answered with a
//! [`ResyncReason`] rather than a silent gap.
//!
//! Internal events (credential snapshots for the plugins) are never stamped:
//! numbers are only given to what a subscriber can see.

use crate::events::DaemonEvent;
use mws_ipc::{Cursor, Event, ResyncReason};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Events kept for replay; a subscriber further behind resyncs. The same
/// as the live channel's capacity: one that falls further behind while
/// connected is told how many it missed (`Lagged`).
pub(crate) const HISTORY: usize = 1024;

/// A public event with its number and its wire form (instance and seq
/// filled in).
#[derive(Debug)]
pub(crate) struct Stamped {
    pub event: DaemonEvent,
    pub wire: Event,
}

/// Where a new subscription starts.
#[derive(Debug)]
pub(crate) enum Start {
    /// From the daemon's last event (`seq`), no cursor given.
    Live { seq: u64 },
    /// The cursor resumes: these events follow it (oldest first), then the
    /// live ones. `seq` is the cursor's.
    Replay { seq: u64, events: Vec<Arc<Stamped>> },
    /// The cursor cannot resume; live from the daemon's last event (`seq`).
    Resync { reason: ResyncReason, seq: u64 },
}

/// A subscription: where it starts, and the live events after that.
pub(crate) struct Subscription {
    pub start: Start,
    pub live: broadcast::Receiver<Arc<Stamped>>,
}

/// A cursor no daemon could have handed out.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CursorError {
    #[error("cursor {cursor} is ahead of this daemon's last event ({last}): it was not handed out by this daemon")]
    Ahead { cursor: Cursor, last: u64 },
}

struct Inner {
    /// The last sequence number given (0: none yet).
    last: u64,
    history: VecDeque<Arc<Stamped>>,
    capacity: usize,
}

/// This daemon instance's numbered events.
pub(crate) struct Journal {
    instance: String,
    inner: Mutex<Inner>,
    live: broadcast::Sender<Arc<Stamped>>,
}

impl Default for Journal {
    fn default() -> Self {
        Self::new(uuid::Uuid::new_v4().to_string(), HISTORY)
    }
}

impl Journal {
    fn new(instance: String, capacity: usize) -> Self {
        Self {
            instance,
            inner: Mutex::new(Inner {
                last: 0,
                history: VecDeque::with_capacity(capacity),
                capacity,
            }),
            live: broadcast::channel(capacity.max(1)).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This instance's id.
    pub(crate) fn instance(&self) -> &str {
        &self.instance
    }

    /// The last sequence number given (0: none yet).
    pub(crate) fn last_seq(&self) -> u64 {
        self.lock().last
    }

    /// Stamps a public event, keeps it and sends it to live subscribers;
    /// internal events are ignored.
    pub(crate) fn record(&self, event: &DaemonEvent) {
        let Some(mut wire) = event.to_wire() else {
            return;
        };
        let mut inner = self.lock();
        inner.last += 1;
        wire.instance = self.instance.clone();
        wire.seq = inner.last;
        let stamped = Arc::new(Stamped {
            event: event.clone(),
            wire,
        });
        if inner.history.len() == inner.capacity {
            inner.history.pop_front();
        }
        if inner.capacity > 0 {
            inner.history.push_back(stamped.clone());
        }
        // No subscriber is not an error. Sent under the lock: a subscriber
        // taken between stamping and sending would get this event twice.
        let _ = self.live.send(stamped);
    }

    /// A live subscription, resumed after `since` when given.
    pub(crate) fn subscribe(&self, since: Option<&Cursor>) -> Result<Subscription, CursorError> {
        let inner = self.lock();
        let start = match since {
            None => Start::Live { seq: inner.last },
            Some(cursor) => self.resume(&inner, cursor)?,
        };
        Ok(Subscription {
            start,
            live: self.live.subscribe(),
        })
    }

    fn resume(&self, inner: &Inner, cursor: &Cursor) -> Result<Start, CursorError> {
        let resync = |reason| Start::Resync {
            reason,
            seq: inner.last,
        };
        let ours = cursor
            .instance
            .as_deref()
            .is_none_or(|i| i == self.instance);
        if !ours {
            return Ok(resync(ResyncReason::OtherInstance));
        }
        if cursor.seq > inner.last {
            // A bare number past our last event was numbered by an earlier
            // instance; our own instance id with it is a made-up cursor.
            return match cursor.instance {
                None => Ok(resync(ResyncReason::OtherInstance)),
                Some(_) => Err(CursorError::Ahead {
                    cursor: cursor.clone(),
                    last: inner.last,
                }),
            };
        }
        // The first event kept; everything after the cursor must be kept.
        let first = inner.last + 1 - inner.history.len() as u64;
        if cursor.seq + 1 < first {
            return Ok(resync(ResyncReason::TooOld));
        }
        let events = inner
            .history
            .iter()
            .filter(|e| e.wire.seq > cursor.seq)
            .cloned()
            .collect();
        Ok(Start::Replay {
            seq: cursor.seq,
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Change, WorkspaceEvent};
    use mws_ipc::ProxyToken;

    fn event(n: u64) -> DaemonEvent {
        DaemonEvent::Workspace(WorkspaceEvent {
            time: n as f64,
            workspace: "acme".into(),
            server_url: "http://x".into(),
            change: Change::TokenCreated(ProxyToken {
                token_id: format!("wk-{n}"),
                ..Default::default()
            }),
        })
    }

    fn journal(capacity: usize, events: u64) -> Journal {
        let journal = Journal::new("i1".into(), capacity);
        for n in 1..=events {
            journal.record(&event(n));
        }
        journal
    }

    fn cursor(instance: Option<&str>, seq: u64) -> Cursor {
        Cursor {
            instance: instance.map(String::from),
            seq,
        }
    }

    fn replayed(journal: &Journal, since: Cursor) -> Vec<u64> {
        match journal.subscribe(Some(&since)).unwrap().start {
            Start::Replay { events, .. } => events.iter().map(|e| e.wire.seq).collect(),
            other => panic!("not a replay: {other:?}"),
        }
    }

    fn resync(journal: &Journal, since: Cursor) -> ResyncReason {
        match journal.subscribe(Some(&since)).unwrap().start {
            Start::Resync { reason, seq } => {
                assert_eq!(seq, journal.last_seq());
                reason
            }
            other => panic!("not a resync: {other:?}"),
        }
    }

    #[test]
    fn events_are_numbered_from_one_with_the_instance() {
        let journal = journal(4, 2);
        let mut sub = journal.subscribe(None).unwrap();
        assert!(matches!(sub.start, Start::Live { seq: 2 }));
        journal.record(&event(3));
        let next = sub.live.try_recv().unwrap();
        assert_eq!((next.wire.instance.as_str(), next.wire.seq), ("i1", 3));
    }

    #[test]
    fn a_cursor_in_the_buffer_replays_exactly_what_follows_it() {
        let journal = journal(4, 6);
        assert_eq!(replayed(&journal, cursor(Some("i1"), 2)), vec![3, 4, 5, 6]);
        assert_eq!(replayed(&journal, cursor(Some("i1"), 5)), vec![6]);
        assert_eq!(replayed(&journal, cursor(None, 6)), Vec::<u64>::new());
        assert_eq!(
            resync(&journal, cursor(Some("i1"), 1)),
            ResyncReason::TooOld
        );
        assert_eq!(resync(&journal, cursor(None, 0)), ResyncReason::TooOld);
    }

    #[test]
    fn a_fresh_daemon_resumes_cursor_zero() {
        let journal = journal(4, 0);
        assert_eq!(replayed(&journal, cursor(Some("i1"), 0)), Vec::<u64>::new());
    }

    #[test]
    fn another_instance_is_named_as_such() {
        let journal = journal(4, 3);
        assert_eq!(
            resync(&journal, cursor(Some("i0"), 2)),
            ResyncReason::OtherInstance
        );
        assert_eq!(
            resync(&journal, cursor(None, 9)),
            ResyncReason::OtherInstance
        );
        assert!(journal.subscribe(Some(&cursor(Some("i1"), 9))).is_err());
    }

    #[test]
    fn internal_events_get_no_number() {
        let journal = journal(4, 1);
        journal.record(&DaemonEvent::CredentialsRefreshed(Default::default()));
        assert_eq!(journal.last_seq(), 1);
    }
}
