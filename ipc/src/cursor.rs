//! Where a `Watch` stream stands, so a client that reconnects can ask for
//! what it missed instead of missing it silently.
//!
//! Every public event carries the daemon instance that numbered it (a random
//! id per daemon start) and its sequence number (1, 2, … per instance). A
//! client that reconnects sends the last pair it saw as `since`; the daemon
//! replays what it still holds after it, or answers [`ResyncReason`]: the
//! cursor is older than what it keeps, or was numbered by another instance
//! (the daemon restarted), and the client must list again.
//!
//! The text form, `INSTANCE:SEQ` (or a bare `SEQ`, taken as of the running
//! daemon), is what `mws watch --since` reads.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A position in a daemon's event stream: the last event a client saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cursor {
    /// The daemon instance that numbered the event; `None`: the running one
    /// (a restart then goes unnoticed when the number is still in range).
    #[serde(default)]
    pub instance: Option<String>,
    /// The sequence number of the last event seen; `0`: none yet.
    pub seq: u64,
}

/// Why a `since` cursor cannot be resumed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResyncReason {
    /// Events after the cursor were already dropped from the daemon's buffer.
    TooOld,
    /// The cursor was numbered by another daemon instance: the daemon
    /// restarted (or the cursor names no event this daemon sent).
    OtherInstance,
}

impl ResyncReason {
    /// The wire name (`too_old`, `other_instance`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResyncReason::TooOld => "too_old",
            ResyncReason::OtherInstance => "other_instance",
        }
    }
}

/// A cursor's text that is neither `SEQ` nor `INSTANCE:SEQ`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a cursor: use SEQ or INSTANCE:SEQ (the `instance` and `seq` of an event)")]
pub struct CursorParseError(String);

impl FromStr for Cursor {
    type Err = CursorParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CursorParseError(text.to_string());
        let (instance, seq) = match text.rsplit_once(':') {
            Some((instance, seq)) if !instance.trim().is_empty() => {
                (Some(instance.trim().to_string()), seq)
            }
            Some(_) => return Err(bad()),
            None => (None, text),
        };
        let seq = seq.trim().parse::<u64>().map_err(|_| bad())?;
        Ok(Cursor { instance, seq })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.instance {
            Some(instance) => write!(f, "{instance}:{}", self.seq),
            None => write!(f, "{}", self.seq),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_and_print_alike() {
        let full: Cursor = "4b1c-9e:17".parse().unwrap();
        assert_eq!(full.instance.as_deref(), Some("4b1c-9e"));
        assert_eq!(full.seq, 17);
        assert_eq!(full.to_string(), "4b1c-9e:17");
        let bare: Cursor = "3".parse().unwrap();
        assert_eq!(
            bare,
            Cursor {
                instance: None,
                seq: 3
            }
        );
        assert_eq!(bare.to_string(), "3");
        for bad in ["", ":3", "x", "a:b", "a:-1"] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad}");
        }
    }

    #[test]
    fn reasons_have_snake_case_wire_names() {
        let json = serde_json::to_string(&ResyncReason::OtherInstance).unwrap();
        assert_eq!(json, r#""other_instance""#);
        assert_eq!(ResyncReason::TooOld.as_str(), "too_old");
    }
}
