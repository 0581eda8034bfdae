//! Hardening of what the daemon reads from paths and variables a user
//! controls: bad numbers in `config.toml` or `MWS_*_SECS` are config errors
//! (never a panic, a dead daemon or a dead reload task), and a config path
//! that is a FIFO, a device or a huge file is refused with a clear error while
//! the daemon keeps answering.
//!
//! Every command runs under a generous "does not hang" bound; the times
//! measured are printed on stderr (`--nocapture`) and recorded in
//! docs/reliability.md.

use mws_e2e::{start_emulator, stderr, stdout, Emulator, World};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// How long any one command may take before the test calls it a hang (the
/// behaviour is "well under a second").
const HANG: Duration = Duration::from_secs(20);

/// Runs `mws ARGS` in `world` (with `env` on top), killing it after `limit`;
/// returns its output and how long it took. Fails the test on a hang.
fn mws_within(
    world: &World,
    env: &[(&str, &str)],
    args: &[&str],
    limit: Duration,
) -> (Output, Duration) {
    let started = Instant::now();
    let child = world
        .command(mws_e2e::bin("mws"))
        .envs(env.iter().copied())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mws");
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => (output.expect("wait for mws"), started.elapsed()),
        Err(_) => {
            // SAFETY: kill(2) on the pid of the child this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!(
                "`mws {}` did not answer within {limit:?} (hang)",
                args.join(" ")
            );
        }
    }
}

/// `mws ARGS` must succeed within the bound; returns stdout and the time.
#[track_caller]
fn ok_within(world: &World, args: &[&str]) -> (String, Duration) {
    let (out, took) = mws_within(world, &[], args, HANG);
    assert!(
        out.status.success(),
        "`mws {}` failed ({:?}):\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    (stdout(&out), took)
}

/// `mws daemon status --json`, within the bound.
fn status(world: &World) -> Value {
    let (out, _) = ok_within(world, &["daemon", "status", "--json"]);
    serde_json::from_str(&out).expect("status JSON")
}

/// The config errors `status` reports, one string.
fn config_errors(world: &World) -> String {
    let status = status(world);
    status["config_errors"]
        .as_array()
        .expect("config_errors")
        .iter()
        .map(|e| e.as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits (bounded) until the reported config errors satisfy `done`.
#[track_caller]
fn wait_for_errors(world: &World, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + HANG;
    loop {
        let errors = config_errors(world);
        if done(&errors) {
            return errors;
        }
        assert!(
            Instant::now() < deadline,
            "status never showed {what} (the reload task died or hangs?); config errors now: {errors:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn daemon_pid(world: &World) -> u64 {
    status(world)["pid"].as_u64().expect("pid")
}

/// mws's own config file in `world`.
fn mws_config(world: &World) -> PathBuf {
    let path = world.path("config/mws/config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).expect("mkdir config/mws");
    path
}

/// Replaces `path` the way editors do (new file, then rename).
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A FIFO at a path. On drop, a reader stuck opening it (the bug this suite
/// guards against) is let go, so a failing run leaves no wedged daemon.
struct Fifo(PathBuf);

impl Fifo {
    fn make(path: &Path) -> Fifo {
        let _ = std::fs::remove_file(path);
        let made = std::process::Command::new("mkfifo")
            .arg("-m")
            .arg("600")
            .arg(path)
            .status()
            .expect("mkfifo (coreutils)");
        assert!(made.success(), "mkfifo {}", path.display());
        Fifo(path.to_owned())
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening for writing without blocking succeeds only if a reader
        // waits; closing it at once gives that reader an empty file.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.0);
    }
}

/// A world using `emulator`, with no background polling to get in the way.
fn world_on(emulator: &Emulator) -> World {
    let mut world = World::new();
    world.use_emulator(emulator);
    world
}

#[test]
fn bad_numbers_in_config_toml_at_start_leave_the_defaults_and_an_error() {
    let root = tempfile::tempdir().expect("tmp");
    let emulator = start_emulator(&root.path().join("emu"), &[]).expect("emulator");
    for (text, expected) in [
        (
            "[poll]\ninterval_secs = 1e300\n",
            "poll.interval_secs: 1e300 is out of range",
        ),
        (
            "[poll]\ninterval_secs = -5\n",
            "poll.interval_secs: -5 is out of range",
        ),
        (
            "[poll]\ninterval_secs = nan\n",
            "poll.interval_secs: nan is not a number",
        ),
        (
            "[poll]\ninterval_secs = inf\n",
            "poll.interval_secs: inf is out of range",
        ),
        // Beyond i64: TOML itself refuses it; the error names the line.
        (
            "[poll]\ninterval_secs = 18446744073709551616\n",
            "line 2 `interval_secs = 18446744073709551616`",
        ),
        (
            "[poll]\ninterval_secs = 9223372036854775807\n",
            "poll.interval_secs: 9223372036854775807 is out of range",
        ),
        (
            "[poll]\nidle_after_secs = 1e300\n",
            "poll.idle_after_secs: 1e300 is out of range",
        ),
        (
            "[cache]\nmax_age_secs = 1e300\n",
            "cache.max_age_secs: 1e300 is out of range",
        ),
        (
            "[cache]\nmax_age_secs = 1.8e19\n",
            "cache.max_age_secs: 1.8e19 is out of range",
        ),
        (
            "[plugins]\ntimeout_secs = 1e300\n",
            "plugins.timeout_secs: 1e300 is out of range",
        ),
    ] {
        let world = world_on(&emulator);
        std::fs::write(mws_config(&world), text).expect("write config");
        let (_, took) = ok_within(&world, &["members", "list", "--json"]);
        let errors = config_errors(&world);
        assert!(
            errors.contains("mws config: Invalid mws config file") && errors.contains(expected),
            "{text:?}: config errors {errors:?}"
        );
        eprintln!(
            "config.toml {:?}: daemon up, first call {took:?}; status: {errors}",
            text.trim()
        );
    }
}

#[test]
fn bad_mws_secs_variables_are_ignored_and_named() {
    let root = tempfile::tempdir().expect("tmp");
    let emulator = start_emulator(&root.path().join("emu"), &[]).expect("emulator");
    for (name, value, expected) in [
        (
            "MWS_POLL_INTERVAL_SECS",
            "1e300",
            "MWS_POLL_INTERVAL_SECS: 1e300 is out of range",
        ),
        (
            "MWS_POLL_INTERVAL_SECS",
            "-5",
            "MWS_POLL_INTERVAL_SECS: -5 is out of range",
        ),
        (
            "MWS_POLL_INTERVAL_SECS",
            "nan",
            "MWS_POLL_INTERVAL_SECS: nan is not a number",
        ),
        (
            "MWS_POLL_INTERVAL_SECS",
            "18446744073709551616",
            "MWS_POLL_INTERVAL_SECS: 18446744073709551616 is out of range",
        ),
        (
            "MWS_POLL_INTERVAL_SECS",
            "soon",
            "MWS_POLL_INTERVAL_SECS: 'soon' is not a number",
        ),
        (
            "MWS_IDLE_AFTER_SECS",
            "1e300",
            "MWS_IDLE_AFTER_SECS: 1e300 is out of range",
        ),
        (
            "MWS_DEFAULT_MAX_AGE_SECS",
            "1e300",
            "MWS_DEFAULT_MAX_AGE_SECS: 1e300 is out of range",
        ),
        (
            "MWS_DEFAULT_MAX_AGE_SECS",
            "-1",
            "MWS_DEFAULT_MAX_AGE_SECS: -1 is out of range",
        ),
    ] {
        let mut world = world_on(&emulator);
        world.set(name, value);
        let (_, took) = ok_within(&world, &["members", "list", "--json"]);
        let errors = config_errors(&world);
        assert!(
            errors.contains("mws environment: ") && errors.contains(expected),
            "{name}={value}: config errors {errors:?}"
        );
        eprintln!("{name}={value}: daemon up, first call {took:?}; status: {errors}");
    }
}

#[test]
fn bad_numbers_in_a_hot_reload_keep_the_last_good_settings() {
    let root = tempfile::tempdir().expect("tmp");
    let emulator = start_emulator(&root.path().join("emu"), &[]).expect("emulator");
    let world = world_on(&emulator);
    let config = mws_config(&world);
    // The last good settings: every read asks the server.
    write_atomically(&config, "[cache]\nmax_age_secs = 0\n");
    ok_within(&world, &["members", "list"]);
    let pid = daemon_pid(&world);
    let reads = || emulator.count("WorkspaceMembersList");
    let before = reads();
    ok_within(&world, &["members", "list"]);
    assert_eq!(reads(), before + 1, "max_age_secs = 0 is in use");

    for bad in ["1e300", "-5", "nan", "18446744073709551616", "1e19"] {
        write_atomically(
            &config,
            &format!("[cache]\nmax_age_secs = 0\n[poll]\ninterval_secs = {bad}\n"),
        );
        let errors = wait_for_errors(&world, &format!("the error for {bad}"), |e| {
            e.contains("mws config: Invalid mws config file")
        });
        eprintln!("hot reload of interval_secs = {bad}: {errors}");
        // The last good settings (max_age 0, not the default 5 s) stay.
        let before = reads();
        ok_within(&world, &["members", "list"]);
        ok_within(&world, &["members", "list"]);
        assert_eq!(reads(), before + 2, "last good settings kept after {bad}");
        // Back to a good file in between, so that each bad one is a change.
        write_atomically(&config, "[cache]\nmax_age_secs = 0\n");
        wait_for_errors(&world, "no error", |e| !e.contains("mws config"));
    }

    // The reload task is alive: a new good file is applied.
    write_atomically(&config, "[cache]\nmax_age_secs = 3600\n");
    std::thread::sleep(Duration::from_millis(600));
    ok_within(&world, &["members", "list"]);
    let before = reads();
    ok_within(&world, &["members", "list"]);
    assert_eq!(reads(), before, "max_age_secs = 3600 was applied");
    assert_eq!(daemon_pid(&world), pid, "the daemon never died");
}

/// What a config path can be instead of a small regular file.
enum Hostile {
    Fifo,
    DevZero,
    Huge,
}

impl Hostile {
    /// Puts it at `path`; returns a guard to keep and the words the error says.
    fn place(&self, path: &Path) -> (Option<Fifo>, &'static str) {
        let _ = std::fs::remove_file(path);
        match self {
            Hostile::Fifo => (
                Some(Fifo::make(path)),
                "it is a FIFO (named pipe), not a regular file",
            ),
            Hostile::DevZero => {
                std::os::unix::fs::symlink("/dev/zero", path).expect("symlink");
                (None, "it is a character device, not a regular file")
            }
            Hostile::Huge => {
                // 50 MiB of valid TOML (comments), so only its size is wrong.
                let line = format!("# {}\n", "x".repeat(1021));
                let block = line.repeat(1024);
                let mut file = std::fs::File::create(path).expect("create");
                for _ in 0..50 {
                    std::io::Write::write_all(&mut file, block.as_bytes()).expect("write");
                }
                (None, "bytes long, over the limit of 1048576 bytes")
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Hostile::Fifo => "a FIFO",
            Hostile::DevZero => "a symlink to /dev/zero",
            Hostile::Huge => "a 50 MiB file",
        }
    }
}

#[test]
fn a_config_toml_that_is_a_fifo_a_device_or_huge_is_refused_at_start() {
    let root = tempfile::tempdir().expect("tmp");
    let emulator = start_emulator(&root.path().join("emu"), &[]).expect("emulator");
    for hostile in [Hostile::Fifo, Hostile::DevZero, Hostile::Huge] {
        let mut world = world_on(&emulator);
        world.set("MWS_MAX_AGE", "3600");
        let (_fifo, expected) = hostile.place(&mws_config(&world));
        let (_, start) = ok_within(&world, &["members", "list", "--json"]);
        let started = Instant::now();
        let errors = config_errors(&world);
        let status_took = started.elapsed();
        assert!(
            errors.contains("mws config: Could not read the mws config file")
                && errors.contains(expected),
            "{}: config errors {errors:?}",
            hostile.name()
        );
        let calls = emulator.count("WorkspaceMembersList");
        let (_, cached) = ok_within(&world, &["members", "list", "--json"]);
        assert_eq!(
            emulator.count("WorkspaceMembersList"),
            calls,
            "served from the cache"
        );
        eprintln!(
            "config.toml is {} at start: first call (daemon start) {start:?}, status {status_took:?}, cached members list {cached:?}; status: {errors}",
            hostile.name()
        );
    }
}

#[test]
fn a_config_toml_replaced_by_a_fifo_a_device_or_huge_is_refused_on_reload() {
    let root = tempfile::tempdir().expect("tmp");
    let emulator = start_emulator(&root.path().join("emu"), &[]).expect("emulator");
    let mut world = world_on(&emulator);
    world.set("MWS_MAX_AGE", "3600");
    let config = mws_config(&world);
    write_atomically(&config, "[cache]\nmax_age_secs = 5\n");
    ok_within(&world, &["members", "list"]);
    let pid = daemon_pid(&world);
    for hostile in [Hostile::Fifo, Hostile::DevZero, Hostile::Huge] {
        // Made beside the file, then renamed over it in one step.
        let staged = config.with_extension("staged");
        let (_fifo, expected) = hostile.place(&staged);
        std::fs::rename(&staged, &config).expect("rename over config.toml");
        let errors = wait_for_errors(&world, expected, |e| e.contains(expected));
        let calls = emulator.count("WorkspaceMembersList");
        let (_, status_took) = ok_within(&world, &["daemon", "status"]);
        let (_, cached) = ok_within(&world, &["members", "list"]);
        assert_eq!(
            emulator.count("WorkspaceMembersList"),
            calls,
            "served from the cache"
        );
        eprintln!(
            "config.toml replaced by {} (hot reload): status {status_took:?}, cached members list {cached:?}; status: {errors}",
            hostile.name()
        );
        let _ = std::fs::remove_file(&config);
        write_atomically(&config, "[cache]\nmax_age_secs = 5\n");
        wait_for_errors(&world, "no error", |e| !e.contains("mws config"));
    }
    assert_eq!(daemon_pid(&world), pid, "the daemon never died");
}

#[test]
fn a_modal_toml_that_is_a_fifo_or_a_device_fails_clearly_while_others_are_served() {
    let root = tempfile::tempdir().expect("tmp");
    let emulator = start_emulator(&root.path().join("emu"), &[]).expect("emulator");
    let mut world = world_on(&emulator);
    world.set("MWS_MAX_AGE", "3600");
    ok_within(&world, &["members", "list"]);
    let pid = daemon_pid(&world);
    let calls = emulator.count("WorkspaceMembersList");
    for hostile in [Hostile::Fifo, Hostile::DevZero, Hostile::Huge] {
        let path = world.path("home/hostile.modal.toml");
        let (_fifo, expected) = hostile.place(&path);
        let shown = path.display().to_string();
        let env = [("MODAL_CONFIG_PATH", shown.as_str())];
        // Several at once, with status and cached reads of another
        // identity's config in between.
        let stuck: Vec<_> = (0..3)
            .map(|_| {
                let world_env = env.map(|(k, v)| (k.to_string(), v.to_string()));
                let mut command = world.command(mws_e2e::bin("mws"));
                command
                    .envs(world_env)
                    .args(["members", "list"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                command.spawn().expect("spawn mws")
            })
            .collect();
        let (_, status_took) = ok_within(&world, &["daemon", "status"]);
        let (_, cached) = ok_within(&world, &["members", "list"]);
        for child in stuck {
            let pid = child.id() as i32;
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(child.wait_with_output());
            });
            let out = match rx.recv_timeout(HANG) {
                Ok(out) => out.expect("wait"),
                Err(_) => {
                    // SAFETY: kill(2) on the pid of a child this test started.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    panic!(
                        "mws members list with {} as MODAL_CONFIG_PATH hangs",
                        hostile.name()
                    );
                }
            };
            check_clear_error(&out, &shown, expected);
        }
        for args in [
            &["members", "list"][..],
            &["auth", "list"],
            &["auth", "import"],
        ] {
            let (out, took) = mws_within(&world, &env, args, HANG);
            check_clear_error(&out, &shown, expected);
            eprintln!(
                "MODAL_CONFIG_PATH is {}: `mws {}` failed clearly in {took:?}",
                hostile.name(),
                args.join(" ")
            );
        }
        eprintln!(
            "MODAL_CONFIG_PATH is {}: meanwhile status {status_took:?}, cached members list {cached:?}",
            hostile.name()
        );
        let _ = std::fs::remove_file(&path);
    }
    assert_eq!(
        emulator.count("WorkspaceMembersList"),
        calls,
        "every other read was cached"
    );
    assert_eq!(daemon_pid(&world), pid, "the daemon never died");
}

/// Exit 1 and one `Error:` line naming the file and what is wrong with it.
#[track_caller]
fn check_clear_error(out: &Output, path: &str, expected: &str) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout {} stderr {err}",
        stdout(out)
    );
    assert!(err.starts_with("Error: "), "{err}");
    assert!(err.contains(path) && err.contains(expected), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
