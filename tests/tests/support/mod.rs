//! Helpers shared by the fault and security suites (`faults.rs`,
//! `security.rs`): a small seeded random generator (the tests print their
//! seed, `MWS_TEST_SEED` replays one) and the secret scan.

#![allow(dead_code)]

use mws_e2e::World;
use std::path::Path;

/// xorshift64*: good enough to pick moments and commands, and replayable.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `MWS_TEST_SEED`, else from the clock; prints the seed.
    pub fn new(test: &str) -> Rng {
        let seed = std::env::var("MWS_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            })
            | 1;
        eprintln!("{test}: seed {seed} (replay with MWS_TEST_SEED={seed})");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the secret scan looked at.
#[derive(Debug, Default)]
pub struct Scan {
    pub files: usize,
    pub bytes: u64,
    pub processes: usize,
    pub secrets: usize,
}

fn scan_dir(dir: &Path, secrets: &[String], scan: &mut Scan) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            scan_dir(&path, secrets, scan);
        } else if meta.is_file() && !is_server_store(&path) {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            scan.files += 1;
            scan.bytes += bytes.len() as u64;
            for secret in secrets {
                assert!(
                    !contains(&bytes, secret.as_bytes()),
                    "a secret ({}…) is written in {}",
                    &secret[..6.min(secret.len())],
                    path.display()
                );
            }
        }
    }
}

/// The emulator's SQLite files are the *server's* store, not the client's:
/// to replay a create whose answer was lost, it keeps that answer (with the
/// new proxy token's secret) in its idempotency table for 7 days, as Modal
/// must. They are left out of the scan.
fn is_server_store(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("emulator.db"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts that none of `secrets` (API and proxy-token secrets) is in any
/// file under the world's root (HOME, XDG folders with the daemon's log, the
/// emulator's call log and ready file; not the emulator's own SQLite store,
/// see [`is_server_store`]) or in the argv of any process on the machine.
pub fn assert_no_secrets(world: &World, secrets: &[String]) -> Scan {
    let secrets: Vec<String> = secrets.iter().filter(|s| s.len() >= 8).cloned().collect();
    let mut scan = Scan {
        secrets: secrets.len(),
        ..Scan::default()
    };
    scan_dir(world.root.path(), &secrets, &mut scan);
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for entry in procs.flatten() {
            let name = entry.file_name();
            if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            scan.processes += 1;
            for secret in &secrets {
                assert!(
                    !contains(&cmdline, secret.as_bytes()),
                    "a secret is in the argv of pid {}: {}",
                    name.to_string_lossy(),
                    String::from_utf8_lossy(&cmdline).replace('\0', " ")
                );
            }
        }
    }
    assert!(
        scan.files > 0,
        "the scan found no files under {}",
        world.root.path().display()
    );
    scan
}
