//! Small hardening items: a relative `XDG_RUNTIME_DIR` is ignored (the XDG
//! spec), stdout full or closed is an error and never a silent exit 0 (a
//! created secret that could not be printed is said to exist), and mwsd's
//! log is size-capped and rotated, with repeated identical warnings held
//! back.
//!
//! Figures are printed on stderr (run with `--nocapture`) and recorded in
//! docs/reliability.md.

use mws_e2e::{bin, ok, start_emulator, stderr, stdout, World};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn world_with_emulator() -> (World, mws_e2e::Emulator) {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    world.set("MWS_POLL_INTERVAL_SECS", "3600");
    (world, emulator)
}

/// The ids of the proxy tokens called `name`.
fn tokens_named(world: &World, name: &str) -> Vec<String> {
    let listed: serde_json::Value = serde_json::from_str(&ok(&world.mws(&[
        "proxy-tokens",
        "list",
        "--json",
        "--fresh",
    ])))
    .expect("JSON");
    listed
        .as_array()
        .expect("array")
        .iter()
        .filter(|t| t["name"] == name)
        .map(|t| t["token_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_relative_xdg_runtime_dir_is_ignored() {
    // The fallback folder, /tmp/mws-<uid>, is the machine's: the daemon
    // runs in a mount namespace of its own where a folder of this world is
    // bound over it, so nothing outside the test is touched.
    // Only the commands in the namespace get the relative value: the
    // world's own clean-up must not reach the machine's fallback folder.
    let world = World::new();
    let cwd = world.path("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let fallback = world.path("fallback");
    std::fs::create_dir_all(&fallback).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fallback, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let uid = unsafe { libc::getuid() };
    let script = r#"set -e
target=/tmp/mws-$MWS_TEST_UID
mkdir -p -m 700 "$target"
mount --bind "$MWS_TEST_FALLBACK" "$target"
"$MWS_TEST_BIN" daemon start >/dev/null
"$MWS_TEST_BIN" daemon status --json
"$MWS_TEST_BIN" daemon stop >/dev/null
"#;
    let out = world
        .command("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("XDG_RUNTIME_DIR", "relative/run")
        .env("MWS_TEST_UID", uid.to_string())
        .env("MWS_TEST_FALLBACK", &fallback)
        .env("MWS_TEST_BIN", bin("mws"))
        .current_dir(&cwd)
        .output()
        .expect("unshare (util-linux; the suite runs as root)");
    let status: serde_json::Value = serde_json::from_str(&ok(&out)).expect("status JSON");
    assert_eq!(
        status["socket"],
        format!("/tmp/mws-{uid}/mwsd.sock"),
        "{status}"
    );
    assert!(
        !cwd.join("relative").exists(),
        "a folder was made relative to the working directory"
    );
    // The daemon really used the (bound) fallback folder.
    assert!(fallback.join("mwsd.lock").exists());
}

#[test]
fn stdout_full_or_closed_is_an_error_and_a_lost_secret_is_named() {
    let (world, _emulator) = world_with_emulator();

    // A read to /dev/full: exit 1, one line.
    let out = world
        .command(bin("mws"))
        .args(["members", "list"])
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("Error: cannot write to stdout: "),
        "{}",
        stderr(&out)
    );

    // A create to /dev/full: the token exists, its secret is lost, and
    // the error says which token and what to do.
    let out = world
        .command(bin("mws"))
        .args(["proxy-tokens", "create", "--name", "to-dev-full"])
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let made = tokens_named(&world, "to-dev-full");
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(
        err.starts_with(&format!(
            "Error: Proxy token '{}' was created, but its secret could not be printed",
            made[0]
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("mws proxy-tokens delete {} --yes", made[0])),
        "{err}"
    );

    // stdout closed (`>&-`): refused before anything is done.
    let out = world
        .command("sh")
        .args(["-c", "exec \"$0\" \"$@\" >&-"])
        .arg(bin("mws"))
        .args(["proxy-tokens", "create", "--name", "stdout-closed"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("stdout") && err.contains("closed"), "{err}");
    assert!(tokens_named(&world, "stdout-closed").is_empty());
    // `>/dev/null` is still fine.
    let out = world
        .command(bin("mws"))
        .args(["members", "list"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The reader gone before the secret was printed (`| true`).
    let mut child = world
        .command(bin("mws"))
        .args(["proxy-tokens", "create", "--name", "reader-gone"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("was created, but its secret could not be printed"),
        "{err}"
    );
    assert_eq!(tokens_named(&world, "reader-gone").len(), 1);
    // A read whose reader goes away (`| head`) stays quiet, as the
    // official CLI does.
    let mut child = world
        .command(bin("mws"))
        .args(["members", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn the_daemon_log_is_capped_and_rotated() {
    let (mut world, _emulator) = world_with_emulator();
    const CAP: u64 = 16 * 1024;
    world
        .set("MWS_LOG", "trace")
        .set("MWS_LOG_MAX_BYTES", CAP.to_string());
    let log = world.path("state/mws/mwsd.log");
    let rotated = world.path("state/mws/mwsd.log.1");
    let mut calls = 0;
    let started = Instant::now();
    // Until the log has been rotated twice over: well past twice the cap.
    let mut logged_before = 0;
    let mut rotations = 0;
    while rotations < 3 {
        ok(&world.mws(&["proxy-tokens", "list", "--fresh"]));
        calls += 1;
        let now = size(&log);
        if now < logged_before {
            rotations += 1;
        }
        logged_before = now;
        assert!(size(&log) <= CAP, "{} bytes", size(&log));
        assert!(size(&rotated) <= CAP, "{} bytes", size(&rotated));
        assert!(calls < 2000, "the log never rotated");
    }
    // Nothing else beside the two files.
    let files: Vec<_> = std::fs::read_dir(world.path("state/mws"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("mwsd.log"))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    eprintln!(
        "log cap {CAP} bytes: {calls} traced calls in {:?}, {rotations} rotations; \
         mwsd.log {} bytes, mwsd.log.1 {} bytes",
        started.elapsed(),
        size(&log),
        size(&rotated)
    );
}

#[test]
fn a_repeated_warning_is_logged_once() {
    let (mut world, emulator) = world_with_emulator();
    world
        .set("MWS_LOG", "debug")
        .set("MWS_POLL_INTERVAL_SECS", "0.2");
    ok(&world.mws(&["members", "list"]));
    // The server goes away; the poller fails again and again.
    drop(emulator);
    let log = world.path("state/mws/mwsd.log");
    let count = |needle: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    // Each failed poll logs its upstream failures at debug level (never
    // held back); wait for several polls.
    while count("poll failed") + count("upstream call failed") < 12 {
        assert!(Instant::now() < deadline, "the poller did not run");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    let polls = count("upstream call failed");
    let warnings = count("poll failed: ");
    eprintln!(
        "repeated warning: {polls} failed upstream attempts, {warnings} 'poll failed' line(s)"
    );
    assert!(polls >= 8, "{polls}");
    assert_eq!(warnings, 1, "{}", std::fs::read_to_string(&log).unwrap());
}
