//! A cached value with single-flight refreshes.
//!
//! A [`Slot`] holds the last answer for one collection (members, tokens, the
//! tokens of one environment) and when its fetch *started*. Readers say how
//! old an answer they accept; the slot's async mutex is held across a fetch,
//! so concurrent readers of a cold or expired slot wait for the one fetch in
//! flight and then take its answer (or its error) instead of calling
//! upstream themselves. A reader never accepts an answer whose fetch started
//! before a mutation invalidated the slot, which is what read-your-writes
//! needs.

use std::future::Future;
use std::time::{Duration, Instant};

struct State<T, E> {
    value: Option<(T, Instant)>,
    /// The last fetch's error, with the time that fetch finished.
    error: Option<(E, Instant)>,
    /// When the last successful refresh finished (for status).
    refreshed: Option<Instant>,
}

/// One cached collection; `E` is the fetch's error, shared by every reader
/// that waited for that fetch.
pub(crate) struct Slot<T, E> {
    state: tokio::sync::Mutex<State<T, E>>,
}

/// What a read returned and where from.
pub(crate) struct Read<T> {
    pub value: T,
    /// The answer that was cached before this read, if it was replaced by a
    /// new fetch (for change detection).
    pub previous: Option<T>,
}

impl<T: Clone, E: Clone> Default for Slot<T, E> {
    fn default() -> Self {
        Self {
            state: tokio::sync::Mutex::new(State {
                value: None,
                error: None,
                refreshed: None,
            }),
        }
    }
}

impl<T: Clone, E: Clone> Slot<T, E> {
    /// Returns a cached answer no older than `max_age`, or fetches one. Reads
    /// that arrive while a fetch is in flight share its result.
    pub async fn get<F, Fut>(&self, max_age: Duration, fetch: F) -> Result<Read<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let asked = Instant::now();
        let mut state = self.state.lock().await;
        if let Some((value, started)) = &state.value {
            if started.elapsed() <= max_age {
                return Ok(Read {
                    value: value.clone(),
                    previous: None,
                });
            }
        }
        // A fetch that failed while we waited for the lock answers us too.
        if let Some((error, finished)) = &state.error {
            if *finished >= asked && max_age > Duration::ZERO {
                return Err(error.clone());
            }
        }
        Self::fetch_locked(&mut state, fetch).await
    }

    /// Fetches now, whatever is cached (a poll, or `--fresh`).
    pub async fn refresh<F, Fut>(&self, fetch: F) -> Result<Read<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut state = self.state.lock().await;
        Self::fetch_locked(&mut state, fetch).await
    }

    async fn fetch_locked<F, Fut>(state: &mut State<T, E>, fetch: F) -> Result<Read<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let started = Instant::now();
        match fetch().await {
            Ok(value) => {
                let previous = state
                    .value
                    .replace((value.clone(), started))
                    .map(|(v, _)| v);
                state.error = None;
                state.refreshed = Some(Instant::now());
                Ok(Read { value, previous })
            }
            Err(error) => {
                state.error = Some((error.clone(), Instant::now()));
                Err(error)
            }
        }
    }

    /// Forgets the cached answer so the next read fetches. Waits for a fetch
    /// in flight, so its (possibly stale) answer is dropped too.
    pub async fn invalidate(&self) {
        let mut state = self.state.lock().await;
        state.value = None;
        state.error = None;
    }

    /// The cached answer, whatever its age; `None` when there is none or a
    /// fetch holds the slot (never waits).
    pub fn peek(&self) -> Option<T> {
        let state = self.state.try_lock().ok()?;
        state.value.as_ref().map(|(value, _)| value.clone())
    }

    /// Age of the cached answer and time since the last refresh, for status;
    /// `None` while a fetch holds the slot.
    pub fn ages(&self) -> Option<(Option<Duration>, Option<Duration>)> {
        let state = self.state.try_lock().ok()?;
        Some((
            state.value.as_ref().map(|(_, s)| s.elapsed()),
            state.refreshed.map(|r| r.elapsed()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn concurrent_cold_reads_fetch_once() {
        let slot = Arc::new(Slot::<u32, String>::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let slot = slot.clone();
            let calls = calls.clone();
            tasks.push(tokio::spawn(async move {
                slot.get(Duration::from_secs(5), || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(7)
                })
                .await
                .map(|r| r.value)
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), 7);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn max_age_zero_always_fetches() {
        let slot = Slot::<u32, String>::default();
        let calls = AtomicUsize::new(0);
        for _ in 0..3 {
            slot.get(Duration::ZERO, || async {
                Ok(calls.fetch_add(1, Ordering::SeqCst) as u32)
            })
            .await
            .unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn invalidate_forces_a_fetch_and_errors_are_shared_not_cached() {
        let slot = Slot::<u32, String>::default();
        let read = slot
            .get(Duration::from_secs(60), || async { Ok(1) })
            .await
            .unwrap();
        assert_eq!(read.value, 1);
        let read = slot
            .get(Duration::from_secs(60), || async { Ok(2) })
            .await
            .unwrap();
        assert_eq!(read.value, 1, "served from the cache");
        slot.invalidate().await;
        let read = slot
            .get(Duration::from_secs(60), || async { Ok(3) })
            .await
            .unwrap();
        assert_eq!(read.value, 3);
        let err = slot.refresh(|| async { Err("boom".to_string()) }).await;
        assert!(err.is_err());
        // The failed refresh did not throw away the good answer.
        let read = slot
            .get(Duration::from_secs(60), || async { Ok(4) })
            .await
            .unwrap();
        assert_eq!(read.value, 3);
    }
}
