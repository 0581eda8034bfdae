//! Credentials in the OS keyring, for real: gnome-keyring's Secret Service on
//! a private D-Bus, and the kernel keyutils store. Checked from outside with
//! `secret-tool` and `keyctl`, the tools a user would use.

use mws_e2e::{ok, start_emulator, stderr, Emulator, SessionBus, World};
use std::process::{Command, Output};

/// A world whose daemon uses a fresh, unlocked gnome-keyring.
fn keyring_world() -> (World, SessionBus, Emulator) {
    let mut world = World::new();
    let bus = SessionBus::with_keyring(&mut world);
    world.set("MWS_KEYRING", "secret-service");
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    (world, bus, emulator)
}

/// `mws [--profile P] auth set` for an emulator's credential, the secret on stdin.
fn auth_set(world: &World, emulator: &Emulator, secret: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "auth",
        "set",
        "--token-id",
        &emulator.token_id,
        "--server-url",
        &emulator.url,
        "--secret-stdin",
    ];
    args.extend(extra);
    world.mws_with_stdin(&args, &format!("{secret}\n"))
}

fn secret_tool_lookup(bus: &SessionBus, token_id: &str) -> String {
    let out = Command::new("secret-tool")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .args(["lookup", "service", "mws", "username", token_id])
        .output()
        .expect("secret-tool (Debian package libsecret-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn auth_set_keeps_the_secret_in_the_keyring_only() {
    let (world, bus, emulator) = keyring_world();
    let mut world = world;
    world.set("MODAL_PROFILE", "work");
    let out = auth_set(&world, &emulator, &emulator.token_secret, &[]);
    world.unset("MODAL_PROFILE");
    let said = ok(&out);
    assert!(
        said.contains("workspace 'acme-ml'"),
        "checked with the server: {said}"
    );
    assert!(said.contains("Secret Service"), "{said}");
    assert_eq!(
        secret_tool_lookup(&bus, &emulator.token_id),
        emulator.token_secret
    );

    let config = std::fs::read_to_string(world.path("home/.modal.toml")).unwrap();
    assert!(config.contains(&emulator.token_id), "{config}");
    assert!(!config.contains(&emulator.token_secret), "{config}");

    // No secret in any variable or file: the commands work from the keyring.
    ok(&world.mws(&["proxy-tokens", "list"]));
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&world.mws(&["auth", "list", "--json"]))).unwrap();
    assert_eq!(listed["profiles"][0]["profile"], "work");
    assert_eq!(listed["profiles"][0]["secret_location"], "keyring");
    let checked = ok(&world.mws(&["auth", "check"]));
    assert!(checked.contains("acme-ml"), "{checked}");

    // Removed from the keyring: the profile's secret is now nowhere, and the
    // error says so and what to do.
    ok(&world.mws(&["auth", "remove"]));
    assert_eq!(secret_tool_lookup(&bus, &emulator.token_id), "");
    ok(&world.mws(&["daemon", "restart"]));
    let out = world.mws(&["proxy-tokens", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("profile 'work'") && err.contains("mws auth set"),
        "{err}"
    );
}

#[test]
fn auth_set_refuses_a_wrong_secret_and_stores_nothing() {
    let (world, bus, emulator) = keyring_world();
    let out = auth_set(&world, &emulator, "as-not-the-right-one", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("Error: Invalid token ID or token secret."),
        "{}",
        stderr(&out)
    );
    assert_eq!(secret_tool_lookup(&bus, &emulator.token_id), "");
    assert!(!world.path("home/.modal.toml").exists());

    // Without --secret-stdin and without a terminal there is no way in.
    let out = world.mws(&["auth", "set", "--token-id", &emulator.token_id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--secret-stdin"), "{}", stderr(&out));
}

#[test]
fn import_with_scrub_moves_secrets_and_keeps_the_rest_of_the_file() {
    let (world, bus, emulator) = keyring_world();
    let other = start_emulator(&world.path("emu2"), &[]).expect("second emulator");
    let original = format!(
        "# Modal profiles, hand-edited\n\
         [work]  # the day job\n\
         token_id = \"{}\"\n\
         token_secret = \"{}\"  # to be moved\n\
         server_url = \"{}\"\n\
         active = true\n\
         environment = \"prod\"\n\
         \n\
         [side]\n\
         token_id = \"{}\"\n\
         token_secret = \"{}\"\n\
         server_url = \"{}\"\n",
        emulator.token_id,
        emulator.token_secret,
        emulator.url,
        other.token_id,
        other.token_secret,
        other.url
    );
    let path = world.path("home/.modal.toml");
    std::fs::write(&path, &original).unwrap();

    let out = world.mws(&["auth", "import", "--all", "--scrub"]);
    ok(&out);
    assert!(
        stderr(&out).contains("MODAL_TOKEN_SECRET"),
        "warns about the official client: {}",
        stderr(&out)
    );
    assert_eq!(
        secret_tool_lookup(&bus, &emulator.token_id),
        emulator.token_secret
    );
    assert_eq!(
        secret_tool_lookup(&bus, &other.token_id),
        other.token_secret
    );

    let scrubbed = std::fs::read_to_string(&path).unwrap();
    assert!(!scrubbed.contains("token_secret"), "{scrubbed}");
    let expected: String = original
        .lines()
        .filter(|l| !l.starts_with("token_secret"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(scrubbed, expected, "everything but the secrets is intact");

    ok(&world.mws(&["proxy-tokens", "list"]));
    ok(&world.mws(&["--profile", "side", "proxy-tokens", "list"]));
}

#[test]
fn keyring_unavailable_is_an_actionable_error() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.set("MWS_KEYRING", "secret-service");
    world.set("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    let out = auth_set(&world, &emulator, &emulator.token_secret, &["--no-verify"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("Secret Service"), "names the backend: {err}");
    assert!(err.contains("MWS_KEYRING=keyutils"), "names a fix: {err}");
    assert!(!err.contains(&emulator.token_secret));
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn keyutils_backend_works_without_a_secret_service() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.set("MWS_KEYRING", "keyutils");
    let out = auth_set(&world, &emulator, &emulator.token_secret, &[]);
    assert!(ok(&out).contains("kernel keyutils"), "{}", stdout_of(&out));
    // Seen from outside, with keyctl.
    let id = Command::new("keyctl")
        .args([
            "search",
            "@u",
            "user",
            &format!("mws:{}", emulator.token_id),
        ])
        .output()
        .expect("keyctl (Debian package keyutils)");
    let id = String::from_utf8_lossy(&id.stdout).trim().to_string();
    assert!(!id.is_empty(), "key not found in the user keyring");
    let printed = Command::new("keyctl")
        .args(["print", &id])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&printed.stdout).trim(),
        emulator.token_secret
    );
    ok(&world.mws(&["proxy-tokens", "list"]));
    ok(&world.mws(&["auth", "remove"]));
}

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `root` (recursively) whose bytes contain `needle`.
fn files_containing(
    root: &std::path::Path,
    needle: &str,
    skip: &dyn Fn(&std::path::Path) -> bool,
) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && !skip(&path) {
                if let Ok(bytes) = std::fs::read(&path) {
                    if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                        found.push(path.display().to_string());
                    }
                }
            }
        }
    }
    found
}

/// Processes whose argv contains `needle`.
fn processes_with_argv_containing(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            if cmdline
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
            {
                found.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
            }
        }
    }
    found
}

#[test]
fn no_secret_in_logs_files_or_argv_even_at_trace_level() {
    let (mut world, _bus, emulator) = keyring_world();
    world.set("MWS_LOG", "trace");
    ok(&auth_set(&world, &emulator, &emulator.token_secret, &[]));
    let created: serde_json::Value = serde_json::from_str(&ok(&world.mws(&[
        "proxy-tokens",
        "create",
        "--name",
        "hygiene",
        "--json",
    ])))
    .unwrap();
    let proxy_secret = created["Modal-Secret"].as_str().unwrap().to_string();
    let id = created["Modal-Key"].as_str().unwrap().to_string();
    let argv_seen = processes_with_argv_containing(&emulator.token_secret);
    for args in [
        vec!["members", "list"],
        vec!["members", "list", "--json"],
        vec!["proxy-tokens", "list", "--json"],
        vec!["proxy-tokens", "list", "-e", "prod"],
        vec!["proxy-tokens", "update", &id, "name", "renamed"],
        vec!["proxy-tokens", "allow", &id, "prod"],
        vec!["proxy-tokens", "revoke", &id, "prod"],
        vec!["proxy-tokens", "update", "wk-missing", "name", "x"],
        vec!["auth", "list"],
        vec!["auth", "check"],
        vec!["daemon", "status", "--json"],
    ] {
        let out = world.mws(&args);
        assert!(!String::from_utf8_lossy(&out.stderr).contains(&emulator.token_secret));
    }
    // A wrong secret in the environment must not show up either.
    world.set("MODAL_TOKEN_ID", emulator.token_id.clone());
    world.set("MODAL_TOKEN_SECRET", "as-wrong-secret-for-hygiene");
    world.set("MODAL_SERVER_URL", emulator.url.clone());
    let out = world.mws(&["proxy-tokens", "list"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wrong-secret-for-hygiene"));
    world
        .unset("MODAL_TOKEN_ID")
        .unset("MODAL_TOKEN_SECRET")
        .unset("MODAL_SERVER_URL");
    ok(&world.mws(&["proxy-tokens", "delete", &id, "-y"]));

    let log = std::fs::read_to_string(world.path("state/mws/mwsd.log")).expect("daemon log");
    assert!(
        log.lines().count() > 20,
        "trace logging is on: {} lines",
        log.lines().count()
    );
    // The emulator's SQLite store is the server's side (it keeps replayable
    // answers for idempotency); everything else of this user is checked.
    let skip = |p: &std::path::Path| p.to_string_lossy().contains("emulator.db");
    for secret in [
        emulator.token_secret.as_str(),
        proxy_secret.as_str(),
        "as-wrong-secret-for-hygiene",
    ] {
        assert!(!log.contains(secret), "secret in the daemon log");
        let files = files_containing(world.root.path(), secret, &skip);
        assert!(files.is_empty(), "secret found in {files:?}");
    }
    assert!(argv_seen.is_empty(), "secret in argv: {argv_seen:?}");
    let argv_now = processes_with_argv_containing(&emulator.token_secret);
    assert!(argv_now.is_empty(), "secret in argv: {argv_now:?}");
}

#[test]
fn a_locked_keyring_is_an_actionable_error() {
    let (world, bus, emulator) = keyring_world();
    ok(&auth_set(&world, &emulator, &emulator.token_secret, &[]));
    // Lock the login collection the way a screen locker would.
    let locked = Command::new("dbus-send")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/collection/login",
        ])
        .output()
        .unwrap();
    assert!(
        locked.status.success(),
        "{}",
        String::from_utf8_lossy(&locked.stderr)
    );
    // A new daemon has no cached secret and must ask the locked keyring.
    ok(&world.mws(&["daemon", "restart"]));
    let out = world.mws(&["proxy-tokens", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("Error: "), "{err}");
    assert!(err.contains("Secret Service"), "names the backend: {err}");
    assert!(
        err.to_lowercase().contains("unlock"),
        "says how to fix it: {err}"
    );
    assert!(!err.contains(&emulator.token_secret));
}

#[test]
fn auth_set_prompts_on_a_terminal_without_echo() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.set("MWS_KEYRING", "keyutils");
    let (screen, code) = world.mws_on_a_terminal(
        &[
            "auth",
            "set",
            "--token-id",
            &emulator.token_id,
            "--server-url",
            &emulator.url,
        ],
        &format!("{}\n", emulator.token_secret),
    );
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("Token secret"), "a prompt: {screen}");
    assert!(screen.contains("workspace 'acme-ml'"), "{screen}");
    assert!(
        !screen.contains(&emulator.token_secret),
        "the secret was echoed: {screen}"
    );
    ok(&world.mws(&["proxy-tokens", "list"]));
    ok(&world.mws(&["auth", "remove"]));
}
