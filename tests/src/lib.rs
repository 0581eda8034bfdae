//! Helpers shared by the end-to-end tests: a private world per test (HOME,
//! XDG folders, a daemon socket of its own), real `mws-emulator` servers, and
//! the real `mws` / `mwsd` binaries run as processes.
//!
//! The binaries are built once per test process with `cargo build --bins`, so
//! a test never runs a stale daemon or emulator.

pub mod plugins;
pub mod prometheus;

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root (where Cargo.toml and .venv live).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

static BIN_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Folder holding the built binaries (`target/debug` or `target/release`).
pub fn bin_dir() -> &'static Path {
    BIN_DIR.get_or_init(|| {
        let root = workspace_root();
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--quiet",
                "-p",
                "mws",
                "-p",
                "mwsd",
                "-p",
                "mws-emulator",
            ])
            .current_dir(&root)
            .status()
            .expect("cargo build of the binaries under test");
        assert!(
            status.success(),
            "building mws, mwsd and mws-emulator failed"
        );
        // The test executable lives in target/<profile>/deps/.
        let exe = std::env::current_exe().expect("current exe");
        exe.parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>")
            .to_path_buf()
    })
}

/// Path of one built binary.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// The official Modal CLI (`modal==1.6.4`): `MWS_MODAL_CLI`, else `.venv/bin/modal`.
/// Fails (never skips) when it is missing.
pub fn official_cli() -> PathBuf {
    let path = std::env::var_os("MWS_MODAL_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/modal"));
    assert!(
        path.is_file(),
        "the official Modal CLI is missing at {}: run scripts/test.sh, or \
         `python3 -m venv .venv && .venv/bin/pip install modal==1.6.4`",
        path.display()
    );
    path
}

/// The Python of the test prerequisites (`.venv`: modal, jsonschema):
/// `MWS_MODAL_PYTHON`, else `.venv/bin/python`. Fails (never skips) when it
/// is missing or lacks `module`.
pub fn venv_python(module: &str) -> PathBuf {
    let path = std::env::var_os("MWS_MODAL_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    let found = Command::new(&path)
        .args(["-c", &format!("import {module}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "Python package `{module}` is missing in {}: run scripts/test.sh, or \
         `{} -m pip install {module}` (MWS_MODAL_PYTHON picks another Python)",
        path.display(),
        path.display()
    );
    path
}

/// A running `mws-emulator serve`, killed on drop.
pub struct Emulator {
    pub url: String,
    pub db: PathBuf,
    pub call_log: PathBuf,
    pub token_id: String,
    pub token_secret: String,
    child: Child,
}

impl Emulator {
    /// Runs `mws-emulator --db DB <args>` and returns its stdout; fails on a
    /// non-zero exit.
    pub fn admin(&self, args: &[&str]) -> Result<String> {
        emulator_cli(&self.db, args)
    }

    /// The RPC method names in the call log, in order.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.call_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("method").and_then(|m| m.as_str()).map(String::from))
            .collect()
    }

    /// How many times `method` was called.
    pub fn count(&self, method: &str) -> usize {
        self.calls().iter().filter(|m| *m == method).count()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a one-shot emulator command against a store.
pub fn emulator_cli(db: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new(bin("mws-emulator"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .context("running mws-emulator")?;
    if !output.status.success() {
        bail!(
            "mws-emulator {:?} failed: {}",
            args,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// Starts an emulator on a fresh store in `dir`, seeded with the demo
/// workspace, with its own credential.
pub fn start_emulator(dir: &Path, extra_args: &[&str]) -> Result<Emulator> {
    std::fs::create_dir_all(dir)?;
    let db = dir.join("emulator.db");
    let call_log = dir.join("calls.jsonl");
    let ready = dir.join("ready.json");
    let _ = std::fs::remove_file(&ready);
    emulator_cli(&db, &["seed", "demo", "--json"])?;
    let credential: serde_json::Value =
        serde_json::from_str(&emulator_cli(&db, &["credentials", "create", "--json"])?)?;
    let child = Command::new(bin("mws-emulator"))
        .arg("--db")
        .arg(&db)
        .args(["serve", "--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready)
        .arg("--call-log")
        .arg(&call_log)
        .args(extra_args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting mws-emulator")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                if let Some(url) = v.get("url").and_then(|u| u.as_str()) {
                    break url.to_string();
                }
            }
        }
        if Instant::now() > deadline {
            bail!("mws-emulator did not write {}", ready.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let field = |k: &str| {
        credential
            .get(k)
            .and_then(|v| v.as_str())
            .map(String::from)
            .with_context(|| format!("credential has no {k}"))
    };
    Ok(Emulator {
        url,
        db,
        call_log,
        token_id: field("token_id")?,
        token_secret: field("token_secret")?,
        child,
    })
}

/// A private world for one test: HOME, XDG folders, its own daemon socket.
pub struct World {
    pub root: tempfile::TempDir,
    pub env: BTreeMap<String, String>,
}

impl World {
    pub fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("mws-e2e-")
            .tempdir()
            .expect("temp dir");
        let mut env = BTreeMap::new();
        for (key, sub) in [
            ("HOME", "home"),
            ("XDG_RUNTIME_DIR", "run"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_STATE_HOME", "state"),
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_CACHE_HOME", "cache"),
        ] {
            let path = root.path().join(sub);
            std::fs::create_dir_all(&path).expect("mkdir");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700));
            }
            env.insert(key.to_string(), path.display().to_string());
        }
        env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        // The plugins bundled with mwsd (beside it in target/debug) are off
        // unless a test turns them on: most tests install exactly the
        // plugins they test.
        env.insert("MWS_BUNDLED_PLUGINS".into(), "0".into());
        env.insert("TZ".into(), "UTC".into());
        env.insert("COLUMNS".into(), "120".into());
        env.insert("LANG".into(), "C.UTF-8".into());
        env.insert(
            "MODAL_CONFIG_PATH".into(),
            root.path().join("home/.modal.toml").display().to_string(),
        );
        World { root, env }
    }

    pub fn path(&self, sub: &str) -> PathBuf {
        self.root.path().join(sub)
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.env.insert(key.to_string(), value.into());
        self
    }

    pub fn unset(&mut self, key: &str) -> &mut Self {
        self.env.remove(key);
        self
    }

    /// Points MODAL_SERVER_URL / MODAL_TOKEN_ID / MODAL_TOKEN_SECRET at an emulator.
    pub fn use_emulator(&mut self, emulator: &Emulator) -> &mut Self {
        self.set("MODAL_SERVER_URL", emulator.url.clone());
        self.set("MODAL_TOKEN_ID", emulator.token_id.clone());
        self.set("MODAL_TOKEN_SECRET", emulator.token_secret.clone())
    }

    /// A command for a binary with exactly this world's environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env_clear().envs(&self.env).stdin(Stdio::null());
        command
    }

    /// Runs `mws ARGS` and waits for it.
    pub fn mws(&self, args: &[&str]) -> Output {
        self.command(bin("mws"))
            .args(args)
            .output()
            .expect("running mws")
    }

    /// Runs `mws ARGS` with `input` on its standard input, and waits for it.
    pub fn mws_with_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command(bin("mws"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running mws");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("writing mws's stdin");
        child.wait_with_output().expect("waiting for mws")
    }

    /// Runs `mws ARGS` on a pseudo-terminal (`script` from util-linux),
    /// typing `input` once a prompt had time to appear; returns what the
    /// terminal showed and the exit code.
    pub fn mws_on_a_terminal(&self, args: &[&str], input: &str) -> (String, Option<i32>) {
        let command = std::iter::once(bin("mws").display().to_string())
            .chain(args.iter().map(|a| format!("'{a}'")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = self
            .command("script")
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script (util-linux)");
        std::thread::sleep(Duration::from_millis(500));
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("type");
        drop(stdin);
        let out = child.wait_with_output().expect("wait for script");
        (stdout(&out), out.status.code())
    }

    /// Runs the official CLI (`modal ARGS`) in this world.
    pub fn modal(&self, args: &[&str]) -> Output {
        self.command(official_cli())
            .args(args)
            .output()
            .expect("running modal")
    }

    /// Runs `n` copies of `mws ARGS` at once and waits for all of them.
    pub fn mws_concurrently(&self, n: usize, args: &[&str]) -> Vec<Output> {
        let children: Vec<Child> = (0..n)
            .map(|_| {
                self.command(bin("mws"))
                    .args(args)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn mws")
            })
            .collect();
        children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait for mws"))
            .collect()
    }

    /// Starts `mws watch --json` and waits until the daemon counts it; its
    /// lines arrive through the returned channel. The child is the caller's
    /// to kill.
    pub fn watch_json(&self) -> (Child, std::sync::mpsc::Receiver<String>) {
        self.watch_json_with(&[])
    }

    /// [`World::watch_json`] with more arguments (e.g. `--since CURSOR`).
    pub fn watch_json_with(&self, extra: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
        let before = self.subscribers();
        let mut child = self
            .command(bin("mws"))
            .args(["watch", "--json"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mws watch");
        let lines = lines_of(child.stdout.take().expect("stdout"));
        self.wait_for_subscribers(before + 1);
        (child, lines)
    }

    /// How many watch subscribers the daemon counts (0 when none runs).
    fn subscribers(&self) -> u64 {
        let out = self.mws(&["daemon", "status", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|s| s["subscribers"].as_u64())
            .unwrap_or(0)
    }

    /// Waits until the daemon counts at least `n` watch subscribers.
    pub fn wait_for_subscribers(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.subscribers() >= n {
                return;
            }
            assert!(Instant::now() < deadline, "no watch subscriber appeared");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's socket folder, created 0700 as the daemon would.
    pub fn socket_dir(&self) -> PathBuf {
        let dir = self.path("run/mws");
        std::fs::create_dir_all(&dir).expect("mkdir run/mws");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .expect("chmod 700");
        }
        dir
    }

    /// The pid of this world's daemon, if one answers.
    pub fn daemon_pid(&self) -> Option<u32> {
        let out = self.mws(&["daemon", "status", "--json"]);
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v.get("pid").and_then(|p| p.as_u64()).map(|p| p as u32)
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // Stop this world's daemon, if any, so tests leave nothing running.
        // Never panic here: a panic while unwinding aborts the test binary.
        if std::thread::panicking() && BIN_DIR.get().is_none() {
            return;
        }
        let Some(dir) = BIN_DIR.get() else { return };
        let mws = dir.join("mws");
        if !mws.is_file() {
            return;
        }
        let _ = self
            .command(mws)
            .args(["daemon", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A private D-Bus session bus, with optional real services on it: an
/// unlocked gnome-keyring (Secret Service) and a notification server that
/// records what it receives (python3-dbusmock). Everything is killed on drop.
pub struct SessionBus {
    pub address: String,
    children: Vec<Child>,
}

impl SessionBus {
    pub fn start() -> SessionBus {
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus) is needed for this test");
        let mut address = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(bus.stdout.take().expect("stdout")),
            &mut address,
        )
        .expect("bus address");
        let address = address.trim().to_string();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        SessionBus {
            address,
            children: vec![bus],
        }
    }

    /// A bus with a recording notification server, made this world's
    /// session bus; returns it and the file the calls are logged to.
    pub fn with_notifications(world: &mut World) -> (SessionBus, PathBuf) {
        let mut bus = SessionBus::start();
        let log = world.path("notifications.log");
        bus.start_notifications(&log);
        world.set("DBUS_SESSION_BUS_ADDRESS", bus.address.clone());
        (bus, log)
    }

    /// A bus with an unlocked gnome-keyring, made this world's session bus.
    pub fn with_keyring(world: &mut World) -> SessionBus {
        let mut bus = SessionBus::start();
        bus.start_keyring(world);
        world.set("DBUS_SESSION_BUS_ADDRESS", bus.address.clone());
        bus
    }

    /// True when `name` has an owner on this bus.
    pub fn has_owner(&self, name: &str) -> bool {
        Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
            ])
            .arg(format!("string:{name}"))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
            .unwrap_or(false)
    }

    fn wait_for(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.has_owner(name) {
            assert!(
                Instant::now() < deadline,
                "{name} did not appear on the bus"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts gnome-keyring's Secret Service for `world`, unlocked.
    pub fn start_keyring(&mut self, world: &World) {
        let mut child = world
            .command("gnome-keyring-daemon")
            .args(["--unlock", "--foreground", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (Debian package gnome-keyring) is needed for this test");
        // The login keyring's password, then EOF: it starts unlocked.
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"mws-test-password").expect("password");
        drop(stdin);
        self.children.push(child);
        self.wait_for("org.freedesktop.secrets");
    }

    /// Starts a notification server that logs every call to `log`.
    pub fn start_notifications(&mut self, log: &Path) {
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "dbusmock", "--template", "notification_daemon", "-l"])
            .arg(log)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3-dbusmock (Debian package) is needed for this test");
        self.children.push(child);
        self.wait_for("org.freedesktop.Notifications");
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `check` every 50 ms until it gives a value, and returns it; fails
/// the test naming `what` (and the last thing `check` saw) after `patience`.
pub fn eventually<T>(
    what: &str,
    patience: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + patience;
    loop {
        match check() {
            Ok(value) => return value,
            Err(seen) if Instant::now() >= deadline => {
                panic!("{what} did not happen within {patience:?}; last seen: {seen}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Delivers a child's output lines through a channel, read on a thread.
pub fn lines_of(output: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(output)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    lines
}

/// stdout as UTF-8.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr as UTF-8.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success and returns stdout.
#[track_caller]
pub fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "command failed ({:?}):\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
    stdout(output)
}
