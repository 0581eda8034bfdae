//! The deliveries in memory, mirroring the outbox on disk, with what is
//! counted about them.
//!
//! Every question the daemon asks often — is the queue full, what is this
//! endpoint's next delivery — is answered from an index of waiting
//! deliveries per endpoint, not by walking the whole queue: with
//! `max_queue` at its maximum (a million) and one endpoint down, a walk
//! per event or per dispatch would hold the lock for milliseconds and make
//! filling a backlog quadratic. Deliveries enter and leave only through
//! [`Queue::insert`] and [`Queue::remove`], which keep the index true.

use super::outbox::Pending;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What is counted per endpoint since the daemon started.
#[derive(Debug, Default, Clone)]
pub(super) struct Tally {
    pub delivered: u64,
    pub retries: u64,
    pub last_error: Option<String>,
    pub last_delivered_at: Option<f64>,
}

#[derive(Default)]
pub(super) struct Queue {
    /// Every delivery on disk (waiting or given up on), by number.
    deliveries: BTreeMap<u64, Pending>,
    /// The numbers of the waiting (not given up on) ones, per endpoint, in
    /// order.
    waiting: HashMap<String, BTreeSet<u64>>,
    pub next_seq: u64,
    pub tallies: HashMap<String, Tally>,
    pub dropped: u64,
    pub missed_events: u64,
    /// The deliveries an attempt is under way for (purge leaves them).
    pub sending: HashSet<u64>,
}

impl Queue {
    /// Adds a delivery, or replaces the one with its number.
    pub fn insert(&mut self, pending: Pending) {
        self.remove(pending.seq);
        if !pending.failed {
            self.waiting
                .entry(pending.endpoint.clone())
                .or_default()
                .insert(pending.seq);
        }
        self.deliveries.insert(pending.seq, pending);
    }

    /// Takes a delivery out.
    pub fn remove(&mut self, seq: u64) -> Option<Pending> {
        let pending = self.deliveries.remove(&seq)?;
        if let Some(seqs) = self.waiting.get_mut(&pending.endpoint) {
            seqs.remove(&seq);
            if seqs.is_empty() {
                self.waiting.remove(&pending.endpoint);
            }
        }
        Some(pending)
    }

    /// Every delivery, waiting or given up on, in order.
    pub fn all(&self) -> impl Iterator<Item = &Pending> {
        self.deliveries.values()
    }

    /// How many wait, all endpoints.
    pub fn waiting_count(&self) -> u64 {
        self.waiting.values().map(|s| s.len() as u64).sum()
    }

    /// How many wait for `endpoint`.
    pub fn waiting_for(&self, endpoint: &str) -> u64 {
        self.waiting.get(endpoint).map_or(0, |s| s.len() as u64)
    }

    /// The endpoints something waits for.
    pub fn waiting_endpoints(&self) -> impl Iterator<Item = &str> {
        self.waiting.keys().map(String::as_str)
    }

    /// `endpoint`'s oldest waiting delivery: the next to send.
    pub fn head(&self, endpoint: &str) -> Option<&Pending> {
        let seq = self.waiting.get(endpoint)?.first()?;
        self.deliveries.get(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(seq: u64, endpoint: &str, failed: bool) -> Pending {
        Pending {
            seq,
            id: format!("msg_{seq}"),
            endpoint: endpoint.into(),
            event: "token.created".into(),
            created_at: 1.0,
            attempts: 0,
            next_attempt_at: 1.0,
            last_error: None,
            failed,
        }
    }

    #[test]
    fn the_index_follows_every_change() {
        let mut queue = Queue::default();
        queue.insert(pending(3, "b", false));
        queue.insert(pending(1, "a", false));
        queue.insert(pending(2, "a", false));
        queue.insert(pending(4, "a", true));
        assert_eq!(queue.waiting_count(), 3);
        assert_eq!(queue.waiting_for("a"), 2);
        assert_eq!(queue.head("a").map(|p| p.seq), Some(1));
        assert_eq!(queue.head("b").map(|p| p.seq), Some(3));
        // Given up on: no longer waiting, still held.
        queue.insert(pending(1, "a", true));
        assert_eq!(queue.head("a").map(|p| p.seq), Some(2));
        assert_eq!(queue.waiting_count(), 2);
        assert_eq!(queue.all().count(), 4);
        // Queued again.
        queue.insert(pending(4, "a", false));
        assert_eq!(queue.waiting_for("a"), 2);
        assert_eq!(queue.remove(2).map(|p| p.seq), Some(2));
        assert_eq!(queue.head("a").map(|p| p.seq), Some(4));
        assert!(queue.remove(2).is_none());
        queue.remove(3);
        assert_eq!(queue.head("b"), None);
        assert_eq!(queue.waiting_endpoints().collect::<Vec<_>>(), ["a"]);
    }
}
