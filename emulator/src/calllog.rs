//! The call log: one JSON line per RPC handled, for tests and benchmarks.
//!
//! Other crates' tests count upstream calls with it (e.g. "the daemon's cache
//! answered, so the emulator saw no second `WebhookTokenList`"), so each line
//! is written before the answer leaves the server, with one `write` on a file
//! opened for appending. Secrets never appear: the token id is logged only
//! when it has the shape of an `ak-` id.
//!
//! Line format:
//! `{"method": "WebhookTokenList", "token_id": "ak-…"|null, "idempotency_key": "…"|null,
//!   "code": "OK", "replayed": false, "elapsed_us": 123}`
//! (`elapsed_us`: time spent in the server handler, for benchmarks), plus
//! `"fault": "unavailable"|"drop"` on calls that got an injected fault.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// One handled call.
#[derive(Debug, serde::Serialize)]
pub struct CallRecord<'a> {
    pub method: &'a str,
    pub token_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub code: &'static str,
    pub replayed: bool,
    pub elapsed_us: u64,
    /// The injected fault (`"unavailable"`, `"drop"`), only on faulted calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<&'static str>,
}

/// An append-only JSON-lines file.
pub struct CallLog {
    file: Mutex<File>,
}

impl CallLog {
    pub fn open(path: &Path) -> std::io::Result<CallLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(CallLog {
            file: Mutex::new(file),
        })
    }

    /// Appends one line. A failure to log is reported, never fatal to the call.
    pub fn record(&self, record: &CallRecord<'_>) {
        let mut line = match serde_json::to_vec(record) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode call log line");
                return;
            }
        };
        line.push(b'\n');
        let Ok(mut file) = self.file.lock() else {
            return;
        };
        if let Err(e) = file.write_all(&line) {
            tracing::warn!(error = %e, "cannot write call log");
        }
    }
}
