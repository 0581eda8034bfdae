//! What the accept loop does when `accept` fails.
//!
//! The usual failure is running out of descriptors (`EMFILE`, `ENFILE`):
//! the listening socket stays readable while the backlog holds clients, so
//! retrying at once spins a core, and logging each attempt fills the log
//! with the same line. Instead the loop waits, doubling from 50 ms to 1 s
//! while failures continue (clients stay queued in the kernel's backlog and
//! are served once descriptors are free), and the failure is logged once per
//! [`LOG_INTERVAL`], with the number of failures left out since the last
//! line.

use std::time::{Duration, Instant};

/// First pause after a failed accept.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
/// Longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// At most one log line per this interval.
pub(crate) const LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Failures since the last success, and the last time one was logged.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    pause: Option<Duration>,
    logged_at: Option<Instant>,
    left_out: u64,
}

impl AcceptBackoff {
    /// A connection was accepted: the next failure pauses briefly again.
    pub(crate) fn succeeded(&mut self) {
        self.pause = None;
    }

    /// Records a failure at `now`; returns how long to wait before the next
    /// attempt and the line to log, if one is due.
    pub(crate) fn failed(
        &mut self,
        error: &std::io::Error,
        now: Instant,
    ) -> (Duration, Option<String>) {
        let pause = self.pause.map_or(FIRST_PAUSE, |p| (p * 2).min(MAX_PAUSE));
        self.pause = Some(pause);
        let due = self
            .logged_at
            .is_none_or(|at| now.saturating_duration_since(at) >= LOG_INTERVAL);
        if !due {
            self.left_out += 1;
            return (pause, None);
        }
        let mut line = format!("accept failed: {error}");
        if matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
            line.push_str(
                "; new connections wait in the socket's backlog until descriptors are free",
            );
        }
        if self.left_out > 0 {
            line.push_str(&format!(
                " ({} more failures since the last line)",
                self.left_out
            ));
        }
        line.push_str(&format!(
            "; logged at most once every {} s",
            LOG_INTERVAL.as_secs()
        ));
        self.logged_at = Some(now);
        self.left_out = 0;
        (pause, Some(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_and_are_logged_once_per_interval() {
        let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
        let mut backoff = AcceptBackoff::default();
        let start = Instant::now();
        let mut lines = Vec::new();
        let mut pauses = Vec::new();
        for i in 0..100u32 {
            let (pause, line) =
                backoff.failed(&emfile, start + Duration::from_millis(i as u64 * 10));
            pauses.push(pause);
            lines.extend(line);
        }
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("Too many open files"), "{}", lines[0]);
        assert_eq!(pauses[0], FIRST_PAUSE);
        assert_eq!(pauses[1], FIRST_PAUSE * 2);
        assert_eq!(*pauses.last().unwrap(), MAX_PAUSE);
        let (_, line) = backoff.failed(&emfile, start + LOG_INTERVAL * 2);
        assert!(line.unwrap().contains("(99 more failures"));
        backoff.succeeded();
        assert_eq!(backoff.failed(&emfile, start).0, FIRST_PAUSE);
    }
}
