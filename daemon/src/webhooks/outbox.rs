//! The outbox: every delivery waiting, one file each, so that a daemon
//! killed at any moment (even mid-request) sends it after it restarts, under
//! the same `webhook-id`.
//!
//! A delivery is written (synced, renamed into place, mode 0600) *before*
//! its first attempt and removed only after a receiver answered 2xx: at
//! least once, never silently lost. Files are
//! `$XDG_STATE_HOME/mws/outbox/<seq>.json` (the number keeps the order);
//! a delivery given up on moves to `outbox/failed/`, where `mws webhooks
//! retry` finds it. A file holds the event's JSON body as sent (no secret:
//! the signature is made per attempt, with the key from the keyring), the
//! endpoint's name, its attempts and the time of the next one. A file that
//! cannot be read back is left where it is and named in the log.

use crate::files::{read_regular_file, write_private};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// The largest body a sink may hand over (a Slack message or an event's
/// JSON is a few KiB).
pub(crate) const MAX_BODY: usize = 256 * 1024;
/// The largest outbox file read back.
const MAX_FILE: u64 = 1024 * 1024;
/// Numbers above this are not ours (a renamed or planted file): left alone,
/// so that numbering never nears `u64::MAX`.
const MAX_SEQ: u64 = 1 << 53;

/// What a sink plugin asked to send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Delivery {
    pub endpoint: String,
    /// The event's kind (`token.created`), for the log and status.
    pub event: String,
    /// The exact bytes to POST (JSON).
    pub body: String,
}

/// A delivery in the queue, without its body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pending {
    pub seq: u64,
    /// `msg_…`: the `webhook-id` of every attempt.
    pub id: String,
    pub endpoint: String,
    pub event: String,
    pub created_at: f64,
    pub attempts: u32,
    pub next_attempt_at: f64,
    pub last_error: Option<String>,
    /// Given up on (in `failed/`).
    pub failed: bool,
}

/// One outbox file.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    id: String,
    endpoint: String,
    event: String,
    created_at: f64,
    attempts: u32,
    next_attempt_at: f64,
    #[serde(default)]
    last_error: Option<String>,
    body: String,
}

impl Record {
    fn pending(self, seq: u64, failed: bool) -> (Pending, String) {
        (
            Pending {
                seq,
                id: self.id,
                endpoint: self.endpoint,
                event: self.event,
                created_at: self.created_at,
                attempts: self.attempts,
                next_attempt_at: self.next_attempt_at,
                last_error: self.last_error,
                failed,
            },
            self.body,
        )
    }

    fn of(p: &Pending, body: String) -> Self {
        Record {
            id: p.id.clone(),
            endpoint: p.endpoint.clone(),
            event: p.event.clone(),
            created_at: p.created_at,
            attempts: p.attempts,
            next_attempt_at: p.next_attempt_at,
            last_error: p.last_error.clone(),
            body,
        }
    }
}

/// The outbox folder. Every method blocks on the disk: call them through
/// `files::off_worker`.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, seq: u64, failed: bool) -> PathBuf {
        let name = format!("{seq:020}.json");
        if failed {
            self.dir.join("failed").join(name)
        } else {
            self.dir.join(name)
        }
    }

    /// Writes a new delivery (or an updated one), synced.
    pub(crate) fn write(&self, p: &Pending, body: &str) -> io::Result<()> {
        let bytes = serde_json::to_vec(&Record::of(p, body.to_string()))?;
        write_private(&self.path(p.seq, p.failed), &bytes)
    }

    /// The body to send.
    pub(crate) fn body(&self, p: &Pending) -> io::Result<String> {
        Ok(self.read(&self.path(p.seq, p.failed), p.seq, p.failed)?.1)
    }

    /// Records a failed attempt (attempts, next time, error) in the file.
    pub(crate) fn update(&self, p: &Pending) -> io::Result<()> {
        let body = self.body(p)?;
        self.write(p, &body)
    }

    /// Removes a delivered one.
    pub(crate) fn remove(&self, p: &Pending) -> io::Result<()> {
        match std::fs::remove_file(self.path(p.seq, p.failed)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Moves a delivery between the queue and `failed/` (`p.failed` says
    /// where it goes), recording its state.
    pub(crate) fn move_to(&self, p: &Pending) -> io::Result<()> {
        let from = self.path(p.seq, !p.failed);
        let (_, body) = self.read(&from, p.seq, !p.failed)?;
        self.write(p, &body)?;
        std::fs::remove_file(from)
    }

    fn read(&self, path: &Path, seq: u64, failed: bool) -> io::Result<(Pending, String)> {
        let bytes = read_regular_file(path, MAX_FILE).map_err(io::Error::other)?;
        let record: Record = serde_json::from_slice(&bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(record.pending(seq, failed))
    }

    /// The numbered files, in the queue and in `failed/`: (path, number,
    /// given up on). Names only; nothing is read.
    fn numbered(&self) -> Vec<(PathBuf, u64, bool)> {
        let mut files = Vec::new();
        for failed in [false, true] {
            let dir = if failed {
                self.dir.join("failed")
            } else {
                self.dir.clone()
            };
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(seq) = name
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .and_then(|n| n.parse::<u64>().ok())
                    .filter(|seq| *seq <= MAX_SEQ)
                else {
                    continue;
                };
                files.push((entry.path(), seq, failed));
            }
        }
        files
    }

    /// The highest number any file has, readable or not: new numbers go
    /// above it, so an unreadable file is never overwritten. From the names
    /// alone, so it is quick however large the outbox is.
    pub(crate) fn highest(&self) -> u64 {
        self.numbered().iter().map(|f| f.1).max().unwrap_or(0)
    }

    /// Everything on disk numbered up to `up_to`, in order: the queue, then
    /// what was given up on. Files that cannot be read are skipped and
    /// named in the log.
    pub(crate) fn load(&self, up_to: u64) -> Vec<Pending> {
        let mut found = Vec::new();
        for (path, seq, failed) in self.numbered() {
            if seq > up_to {
                continue;
            }
            match self.read(&path, seq, failed) {
                Ok((pending, _)) => found.push(pending),
                Err(e) => tracing::warn!(
                    file = %path.display(),
                    "an outbox file cannot be read, and stays where it is: {e}"
                ),
            }
        }
        found.sort_by_key(|p| (p.failed, p.seq));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(seq: u64) -> Pending {
        Pending {
            seq,
            id: format!("msg_{seq}"),
            endpoint: "team".into(),
            event: "token.created".into(),
            created_at: 1.0,
            attempts: 0,
            next_attempt_at: 0.0,
            last_error: None,
            failed: false,
        }
    }

    #[test]
    fn deliveries_survive_a_new_outbox_and_move_to_failed_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("outbox"));
        outbox.write(&pending(2), "{\"b\":2}").unwrap();
        outbox.write(&pending(1), "{\"b\":1}").unwrap();
        std::fs::write(outbox.dir().join("00000000000000000009.json"), "not json").unwrap();
        std::fs::write(outbox.dir().join("18446744073709551615.json"), "{}").unwrap();
        let again = Outbox::new(dir.path().join("outbox"));
        assert_eq!(again.highest(), 9, "the unreadable file's number is taken");
        assert_eq!(again.load(1).len(), 1, "only up to the number asked");
        let loaded = again.load(again.highest());
        assert_eq!(loaded.iter().map(|p| p.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(again.body(&loaded[0]).unwrap(), "{\"b\":1}");

        let mut p = loaded[0].clone();
        p.attempts = 3;
        p.last_error = Some("HTTP 500".into());
        again.update(&p).unwrap();
        p.failed = true;
        again.move_to(&p).unwrap();
        let loaded = again.load(9);
        assert_eq!(loaded.len(), 2);
        assert!(loaded[1].failed && loaded[1].attempts == 3);
        assert_eq!(again.body(&loaded[1]).unwrap(), "{\"b\":1}");
        let mut p = loaded[1].clone();
        p.failed = false;
        again.move_to(&p).unwrap();
        again.remove(&p).unwrap();
        again.remove(&p).unwrap();
        assert_eq!(again.load(9).len(), 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(outbox.dir().join("00000000000000000002.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
