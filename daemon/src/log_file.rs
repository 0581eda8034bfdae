//! Where mwsd's log lines go: a size-capped file (or stderr), with repeated
//! identical warnings rate-limited.
//!
//! The file (`$XDG_STATE_HOME/mws/mwsd.log` when started by `mws`) is
//! rotated when it would grow past [`MAX_LOG_BYTES`] (`MWS_LOG_MAX_BYTES`
//! overrides it, at least [`MIN_LOG_BYTES`]): it becomes `mwsd.log.1`
//! (replacing the previous one) and a new file is started, at start-up too
//! if the file is already over the cap. The log never takes more than twice
//! the cap on disk.
//!
//! A `WARN` or `ERROR` line identical to one written less than
//! [`REPEAT_WINDOW`] ago (timestamp aside) is not written; the next one
//! written after the window says how many were left out. Lines of other
//! levels are never held back (`MWS_LOG=debug` shows everything).
//!
//! tracing-subscriber's `fmt` layer formats each event into one buffer and
//! hands it over in one `write_all`, so one `write` here is one line.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The largest the log file grows before it is rotated.
pub const MAX_LOG_BYTES: u64 = 10 * 1024 * 1024;
/// The smallest cap `MWS_LOG_MAX_BYTES` may set.
pub const MIN_LOG_BYTES: u64 = 16 * 1024;
/// How long an identical warning is held back after it was written.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(600);
/// How many distinct recent warnings are remembered.
const REMEMBERED: usize = 64;

/// The cap from `MWS_LOG_MAX_BYTES`, else [`MAX_LOG_BYTES`].
pub fn cap_from_env() -> u64 {
    std::env::var("MWS_LOG_MAX_BYTES")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|v| v.max(MIN_LOG_BYTES))
        .unwrap_or(MAX_LOG_BYTES)
}

/// A log file that rotates itself to `<name>.1` at its cap.
pub struct CappedFile {
    path: PathBuf,
    file: File,
    written: u64,
    cap: u64,
}

fn open_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    // An older file may have been created with wider permissions.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    Ok(file)
}

impl CappedFile {
    /// Opens (appends to) the log at `path`; rotates it first if it is
    /// already at or over `cap`.
    pub fn open(path: &Path, cap: u64) -> io::Result<CappedFile> {
        let file = open_append(path)?;
        let written = file.metadata()?.len();
        let mut log = CappedFile {
            path: path.to_path_buf(),
            file,
            written,
            cap,
        };
        if written >= cap {
            log.rotate()?;
        }
        Ok(log)
    }

    fn rotate(&mut self) -> io::Result<()> {
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, &old)?;
        self.file = open_append(&self.path)?;
        self.written = 0;
        Ok(())
    }

    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.written > 0 && self.written + line.len() as u64 > self.cap {
            // If the rename fails (e.g. the folder became read-only), keep
            // writing where we are rather than lose lines.
            let _ = self.rotate();
        }
        self.file.write_all(line)?;
        self.written += line.len() as u64;
        Ok(())
    }
}

/// Identical warnings seen recently: line (timestamp aside) -> when it was
/// last written and how many were held back since.
#[derive(Default)]
struct Repeats {
    seen: HashMap<Vec<u8>, (Instant, u64)>,
}

impl Repeats {
    /// The line to write for `line` now, or `None` to hold it back.
    fn admit(&mut self, line: &[u8], now: Instant) -> Option<Vec<u8>> {
        // `2026-01-01T00:00:00.000000Z  WARN target: message fields`
        let Some(space) = line.iter().position(|b| *b == b' ') else {
            return Some(line.to_vec());
        };
        let key = &line[space..];
        let level = without_colours(key);
        let level = level.trim_ascii_start();
        if !(level.starts_with(b"WARN") || level.starts_with(b"ERROR")) {
            return Some(line.to_vec());
        }
        match self.seen.get_mut(key) {
            Some((last, held)) if now.duration_since(*last) < REPEAT_WINDOW => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                let held_back = std::mem::take(held);
                *last = now;
                if held_back == 0 {
                    return Some(line.to_vec());
                }
                let body = line.strip_suffix(b"\n").unwrap_or(line);
                let mut out = body.to_vec();
                out.extend_from_slice(
                    format!(
                        " ({held_back} identical line{} left out in the {} min before)\n",
                        if held_back == 1 { "" } else { "s" },
                        REPEAT_WINDOW.as_secs() / 60
                    )
                    .as_bytes(),
                );
                Some(out)
            }
            None => {
                if self.seen.len() >= REMEMBERED {
                    // Forget the stalest.
                    if let Some(stalest) = self
                        .seen
                        .iter()
                        .min_by_key(|(_, (last, _))| *last)
                        .map(|(k, _)| k.clone())
                    {
                        self.seen.remove(&stalest);
                    }
                }
                self.seen.insert(key.to_vec(), (now, 0));
                Some(line.to_vec())
            }
        }
    }
}

/// The first bytes of `text` without ANSI colour sequences (stderr on a
/// terminal is coloured).
fn without_colours(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bytes = text.iter().take(64);
    while let Some(&b) = bytes.next() {
        if b == 0x1b {
            // ESC [ parameters final-letter
            for &c in bytes.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(b);
        }
    }
    out
}

enum Sink {
    File(CappedFile),
    Stderr,
}

/// The daemon's log writer (wrapped in a `Mutex` for tracing-subscriber).
pub struct LogWriter {
    sink: Sink,
    repeats: Repeats,
}

impl LogWriter {
    pub fn file(file: CappedFile) -> LogWriter {
        LogWriter {
            sink: Sink::File(file),
            repeats: Repeats::default(),
        }
    }

    pub fn stderr() -> LogWriter {
        LogWriter {
            sink: Sink::Stderr,
            repeats: Repeats::default(),
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(line) = self.repeats.admit(buf, Instant::now()) {
            match &mut self.sink {
                Sink::File(file) => file.write_line(&line)?,
                Sink::Stderr => io::stderr().write_all(&line)?,
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::File(file) => file.file.flush(),
            Sink::Stderr => io::stderr().flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_rotates_at_its_cap_and_never_takes_more_than_twice_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mwsd.log");
        let cap = MIN_LOG_BYTES;
        let mut writer = LogWriter::file(CappedFile::open(&path, cap).unwrap());
        let line = format!(
            "2026-01-01T00:00:00.000000Z  INFO mwsd: {}\n",
            "x".repeat(100)
        );
        for _ in 0..1000 {
            writer.write_all(line.as_bytes()).unwrap();
        }
        let size = |p: &Path| std::fs::metadata(p).unwrap().len();
        let rotated = dir.path().join("mwsd.log.1");
        assert!(size(&path) <= cap, "{}", size(&path));
        assert!(size(&rotated) <= cap, "{}", size(&rotated));
        assert!(size(&rotated) > cap - line.len() as u64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_file_over_the_cap_is_rotated_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mwsd.log");
        std::fs::write(&path, vec![b'x'; MIN_LOG_BYTES as usize + 1]).unwrap();
        let _log = CappedFile::open(&path, MIN_LOG_BYTES).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert!(dir.path().join("mwsd.log.1").exists());
    }

    #[test]
    fn identical_warnings_are_held_back_and_counted() {
        let mut repeats = Repeats::default();
        let start = Instant::now();
        let warn = |ts: &str| format!("{ts}  WARN mwsd::session: poll failed: refused\n");
        let info = |ts: &str| format!("{ts}  INFO mwsd: listening\n");
        assert!(repeats.admit(warn("t0").as_bytes(), start).is_some());
        for i in 1..=5 {
            let now = start + Duration::from_secs(i);
            assert!(repeats
                .admit(warn(&format!("t{i}")).as_bytes(), now)
                .is_none());
            // Other levels pass, repeated or not.
            assert!(repeats
                .admit(info(&format!("t{i}")).as_bytes(), now)
                .is_some());
        }
        // Coloured (stderr on a terminal) is recognised too.
        let coloured = "\u{1b}[2mt0\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m mwsd: x\n";
        assert!(repeats.admit(coloured.as_bytes(), start).is_some());
        assert!(repeats.admit(coloured.as_bytes(), start).is_none());
        // Another warning is not held back by the first.
        let other = "t6  WARN mwsd::session: poll failed: timed out\n";
        assert!(repeats.admit(other.as_bytes(), start).is_some());
        let later = start + REPEAT_WINDOW + Duration::from_secs(6);
        let line = repeats.admit(warn("t9").as_bytes(), later).unwrap();
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "t9  WARN mwsd::session: poll failed: refused (5 identical lines left out in the 10 min before)\n"
        );
    }
}
