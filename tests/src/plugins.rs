//! Plugins in tests: the bundled plugins built by cargo, installed into a
//! test world's plugin folder the way a user should, and a `mws watch
//! --json` subscriber (resumed with `--since` or not) that collects events.

use crate::{bin_dir, workspace_root, World};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

/// Builds the plugin cdylibs once per test process; returns their folder.
pub fn plugin_dir() -> &'static Path {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = bin_dir();
    BUILT.get_or_init(|| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--quiet"])
            .args([
                "-p",
                "mws-plugin-csv",
                "-p",
                "mws-plugin-expiry",
                "-p",
                "mws-plugin-webhook",
            ])
            .args(["-p", "mws-plugin-testing"])
            .current_dir(workspace_root())
            .status()
            .expect("cargo build of the plugins");
        assert!(status.success(), "building the plugins failed");
    });
    dir
}

pub fn plugins_folder(world: &World) -> PathBuf {
    let dir = world.path("data/mws/plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// Installs a file as a plugin the way a user should: copy to a temporary
/// name, set the mode, rename into place.
pub fn install_file(world: &World, source: &Path, name: &str, mode: u32) -> PathBuf {
    let dir = plugins_folder(world);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::copy(source, &tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).unwrap();
    let target = dir.join(name);
    std::fs::rename(&tmp, &target).unwrap();
    target
}

/// Installs one of the workspace's plugins (`csv`, `expiry`, `webhook`, `testing`).
pub fn install(world: &World, plugin: &str) -> PathBuf {
    let name = format!("libmws_plugin_{plugin}.so");
    install_file(world, &plugin_dir().join(&name), &name, 0o644)
}

/// Parses JSON text, or fails the test showing it.
pub fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A `mws watch --json` subscriber.
pub struct Watcher {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watcher {
    pub fn start(world: &World) -> Watcher {
        let (child, lines) = world.watch_json();
        Watcher { child, lines }
    }

    /// `mws watch --json --since CURSOR`.
    pub fn since(world: &World, cursor: &str) -> Watcher {
        let (child, lines) = world.watch_json_with(&["--since", cursor]);
        Watcher { child, lines }
    }

    /// The next line, waiting at most `limit`.
    pub fn next(&self, limit: Duration) -> Option<Value> {
        self.lines.recv_timeout(limit).ok().map(|l| json_of(&l))
    }

    /// The next `n` lines, each within `limit` of the one before; fails the
    /// test showing what came when fewer arrive.
    pub fn take(&self, n: usize, limit: Duration) -> Vec<Value> {
        let mut lines = Vec::with_capacity(n);
        while lines.len() < n {
            match self.next(limit) {
                Some(line) => lines.push(line),
                None => panic!(
                    "{} of {n} watch lines arrived within {limit:?} each: {lines:?}",
                    lines.len()
                ),
            }
        }
        lines
    }

    /// Every event received within `window`.
    pub fn collect(&self, window: Duration) -> Vec<Value> {
        let deadline = Instant::now() + window;
        let mut events = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            events.push(json_of(&line));
        }
        events
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Compiles C source into a shared library with `cc`.
pub fn compile_c(world: &World, source: &str, name: &str) -> PathBuf {
    let dir = world.path("c");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let out = dir.join(format!("lib{name}.so"));
    let result = Command::new("cc")
        .args(["-shared", "-fPIC", "-Wall", "-Werror", "-I"])
        .arg(workspace_root().join("plugins/api/include"))
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("cc (a C compiler) is needed for this test");
    assert!(
        result.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    out
}
