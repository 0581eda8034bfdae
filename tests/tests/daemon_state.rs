//! The daemon's state: cache ages and single flight (counted at the
//! emulator), read-your-writes, change events to subscribers, desktop
//! notifications over a real D-Bus, config hot-reload.

use mws_e2e::{ok, start_emulator, stdout, workspace_root, Emulator, SessionBus, World};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn world_with_emulator() -> (World, Emulator) {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    (world, emulator)
}

#[test]
fn reads_inside_the_max_age_make_no_upstream_call() {
    let (mut world, emulator) = world_with_emulator();
    world.set("MWS_MAX_AGE", "3600");
    let first = ok(&world.mws(&["proxy-tokens", "list", "--json"]));
    for _ in 0..5 {
        assert_eq!(ok(&world.mws(&["proxy-tokens", "list", "--json"])), first);
    }
    assert_eq!(emulator.count("WebhookTokenList"), 1);
    // The workspace lookup happens once per identity, not once per command.
    assert_eq!(emulator.count("WorkspaceNameLookup"), 1);

    // --fresh forces one upstream read; MWS_MAX_AGE=0 always asks.
    ok(&world.mws(&["proxy-tokens", "list", "--fresh"]));
    assert_eq!(emulator.count("WebhookTokenList"), 2);
    world.set("MWS_MAX_AGE", "0");
    for _ in 0..3 {
        ok(&world.mws(&["proxy-tokens", "list"]));
    }
    assert_eq!(emulator.count("WebhookTokenList"), 5);
    // --max-age on the command line wins over the environment.
    ok(&world.mws(&["proxy-tokens", "list", "--max-age", "3600"]));
    assert_eq!(emulator.count("WebhookTokenList"), 5);
}

#[test]
fn every_mutation_is_visible_to_the_next_read() {
    let (mut world, _emulator) = world_with_emulator();
    world.set("MWS_MAX_AGE", "3600");
    let list = |world: &World, extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["proxy-tokens", "list", "--json"];
        args.extend(extra);
        serde_json::from_str(&ok(&world.mws(&args))).expect("json")
    };
    let find = |tokens: &serde_json::Value, id: &str| {
        tokens
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["token_id"] == id)
            .cloned()
    };
    // Warm every cache first.
    list(&world, &[]);
    list(&world, &["-e", "prod"]);

    let created: serde_json::Value = serde_json::from_str(&ok(&world.mws(&[
        "proxy-tokens",
        "create",
        "--name",
        "first",
        "--json",
    ])))
    .unwrap();
    let id = created["Modal-Key"].as_str().unwrap().to_string();
    assert_eq!(find(&list(&world, &[]), &id).unwrap()["name"], "first");

    ok(&world.mws(&["proxy-tokens", "update", &id, "name", "second"]));
    assert_eq!(find(&list(&world, &[]), &id).unwrap()["name"], "second");

    ok(&world.mws(&["proxy-tokens", "allow", &id, "prod"]));
    assert!(find(&list(&world, &["-e", "prod"]), &id).is_some());

    ok(&world.mws(&["proxy-tokens", "delete", &id, "-y"]));
    assert!(find(&list(&world, &[]), &id).is_none());
    assert!(find(&list(&world, &["-e", "prod"]), &id).is_none());
}

#[test]
fn a_hundred_concurrent_cold_reads_make_one_call() {
    let (world, emulator) = world_with_emulator();
    ok(&world.mws(&["daemon", "start"]));
    let outputs = world.mws_concurrently(100, &["members", "list", "--json"]);
    let first = ok(&outputs[0]);
    for out in &outputs {
        assert_eq!(ok(out), first);
    }
    assert_eq!(emulator.count("WorkspaceMembersList"), 1);
    assert_eq!(emulator.count("WorkspaceNameLookup"), 1);
}

/// A running `examples/watch.py`, its lines delivered through a channel.
struct Watcher {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watcher {
    fn start(world: &World) -> Watcher {
        let mut child = world
            .command("python3")
            .arg(workspace_root().join("examples/watch.py"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 examples/watch.py");
        // Wait until it is subscribed (it says so on stderr).
        let stderr = child.stderr.take().unwrap();
        let mut stderr = BufReader::new(stderr);
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "subscribed", "watch.py: {line}");
        let lines = mws_e2e::lines_of(child.stdout.take().unwrap());
        Watcher { child, lines }
    }

    /// The next event of `kind`, waiting at most `limit`.
    fn next(&self, kind: &str, limit: Duration) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {kind} event within {limit:?}"));
            let event: serde_json::Value = serde_json::from_str(&line).expect("json line");
            if event["type"] == kind {
                return event;
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn dashboard_changes_and_mws_changes_reach_a_watcher() {
    let (mut world, emulator) = world_with_emulator();
    world.set("MWS_POLL_INTERVAL_SECS", "1");
    ok(&world.mws(&["daemon", "start"]));
    let watcher = Watcher::start(&world);
    // Let the poller take its baseline.
    std::thread::sleep(Duration::from_millis(1500));
    // Within one poll interval plus a second (plus slack for a loaded CI).
    let limit = Duration::from_secs(1 + 1 + 3);

    let made = emulator
        .admin(&[
            "admin",
            "--json",
            "token",
            "create",
            "--name",
            "from-dashboard",
        ])
        .expect("admin create");
    let event = watcher.next("token.created", limit);
    assert_eq!(event["after"]["name"], "from-dashboard", "{event} / {made}");
    assert_eq!(event["before"], serde_json::Value::Null);
    assert_eq!(event["workspace"], "acme-ml");

    emulator
        .admin(&[
            "admin",
            "member",
            "add",
            "newbie@example.com",
            "--name",
            "Newbie",
        ])
        .expect("admin member add");
    let event = watcher.next("member.joined", limit);
    assert_eq!(event["after"]["email"], "newbie@example.com");
    emulator
        .admin(&[
            "admin",
            "member",
            "set-role",
            "newbie@example.com",
            "manager",
        ])
        .expect("set-role");
    let event = watcher.next("member.role_changed", limit);
    assert_eq!(event["before"]["role"], "member");
    assert_eq!(event["after"]["role"], "manager");

    // A change through mws goes out at once, without waiting for a poll.
    world.set("MWS_POLL_INTERVAL_SECS", "3600");
    let created: serde_json::Value = serde_json::from_str(&ok(&world.mws(&[
        "proxy-tokens",
        "create",
        "--name",
        "via-mws",
        "--json",
    ])))
    .unwrap();
    let event = watcher.next("token.created", Duration::from_secs(3));
    assert_eq!(event["after"]["token_id"], created["Modal-Key"]);
    let id = created["Modal-Key"].as_str().unwrap();
    ok(&world.mws(&["proxy-tokens", "update", id, "name", "renamed"]));
    let event = watcher.next("token.renamed", Duration::from_secs(3));
    assert_eq!(event["after"]["name"], "renamed");
    ok(&world.mws(&["proxy-tokens", "delete", id, "-y"]));
    let event = watcher.next("token.deleted", Duration::from_secs(3));
    assert_eq!(event["before"]["token_id"], id);

    let status: serde_json::Value =
        serde_json::from_str(&ok(&world.mws(&["daemon", "status", "--json"]))).unwrap();
    assert_eq!(status["subscribers"], 1, "{status}");
}

#[test]
fn token_changes_raise_desktop_notifications() {
    let (mut world, _emulator) = world_with_emulator();
    let (_bus, log_path) = SessionBus::with_notifications(&mut world);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let created: serde_json::Value = serde_json::from_str(&ok(&world.mws(&[
        "proxy-tokens",
        "create",
        "--name",
        "notify-me",
        "--json",
    ])))
    .unwrap();
    let id = created["Modal-Key"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log().contains("Notify") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = log();
    let line = log
        .lines()
        .find(|l| l.contains("Notify"))
        .unwrap_or_else(|| panic!("no Notify call recorded: {log}"));
    assert!(line.contains("\"mws\""), "app name: {line}");
    assert!(line.contains("Proxy token created"), "summary: {line}");
    assert!(
        line.contains(&id) && line.contains("notify-me"),
        "body: {line}"
    );
    assert!(!line.contains(created["Modal-Secret"].as_str().unwrap()));
    let status: serde_json::Value =
        serde_json::from_str(&ok(&world.mws(&["daemon", "status", "--json"]))).unwrap();
    assert_eq!(status["notifications"], "enabled", "{status}");
}

#[test]
fn no_notification_server_changes_nothing_else() {
    let (mut world, _emulator) = world_with_emulator();
    world.set("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    ok(&world.mws(&["proxy-tokens", "create", "--name", "quiet"]));
    assert!(ok(&world.mws(&["proxy-tokens", "list"])).contains("quiet"));
    let status: serde_json::Value =
        serde_json::from_str(&ok(&world.mws(&["daemon", "status", "--json"]))).unwrap();
    assert!(
        status["notifications"]
            .as_str()
            .unwrap_or("")
            .starts_with("unavailable"),
        "{status}"
    );
}

fn write_atomically(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn config_edits_are_picked_up_and_garbage_is_survived() {
    let world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    let second: serde_json::Value = serde_json::from_str(
        &emulator
            .admin(&["credentials", "create", "--json"])
            .unwrap(),
    )
    .unwrap();
    let config = world.path("home/.modal.toml");
    let profile = |id: &str, secret: &str| {
        format!(
            "# my profiles\n[work]\ntoken_id = \"{id}\"\ntoken_secret = \"{secret}\"\nserver_url = \"{}\"\nactive = true\n",
            emulator.url
        )
    };
    write_atomically(
        &config,
        &profile(&emulator.token_id, &emulator.token_secret),
    );
    ok(&world.mws(&["proxy-tokens", "list"]));
    let callers = |emulator: &Emulator| -> Vec<String> {
        std::fs::read_to_string(&emulator.call_log)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["token_id"].as_str().map(String::from))
            .collect()
    };
    assert_eq!(callers(&emulator).last().unwrap(), &emulator.token_id);

    // Another credential, written the way editors do (new file + rename):
    // the very next call uses it.
    let id2 = second["token_id"].as_str().unwrap();
    write_atomically(
        &config,
        &profile(id2, second["token_secret"].as_str().unwrap()),
    );
    ok(&world.mws(&["proxy-tokens", "list", "--fresh"]));
    assert_eq!(callers(&emulator).last().unwrap(), id2);

    // Garbage: calls keep working with the last good profiles, and the
    // status says what is wrong.
    write_atomically(&config, "[work\ntoken_id = ");
    let out = ok(&world.mws(&["proxy-tokens", "list", "--fresh"]));
    assert!(out.contains("┏"), "{out}");
    assert_eq!(callers(&emulator).last().unwrap(), id2);
    let status = world.mws(&["daemon", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    let errors = status["config_errors"].to_string();
    assert!(errors.contains(".modal.toml"), "{status}");
}

#[test]
fn mws_watch_streams_json_lines() {
    let (world, _emulator) = world_with_emulator();
    let (mut child, lines) = world.watch_json();
    let created: serde_json::Value = serde_json::from_str(&ok(&world.mws(&[
        "proxy-tokens",
        "create",
        "--name",
        "watched",
        "--json",
    ])))
    .unwrap();
    let line = lines
        .recv_timeout(Duration::from_secs(5))
        .expect("an event line");
    let event: serde_json::Value = serde_json::from_str(&line).expect("one JSON object per line");
    assert_eq!(event["type"], "token.created");
    assert_eq!(event["workspace"], "acme-ml");
    assert_eq!(event["after"]["token_id"], created["Modal-Key"]);
    assert_eq!(event["after"]["name"], "watched");
    assert!(
        event["time"].as_str().unwrap().ends_with("+00:00"),
        "{event}"
    );
    assert!(!line.contains(created["Modal-Secret"].as_str().unwrap()));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_scoped_token_allowed_elsewhere_is_an_event() {
    let (mut world, emulator) = world_with_emulator();
    let made: serde_json::Value = serde_json::from_str(
        &emulator
            .admin(&[
                "admin",
                "--json",
                "token",
                "create",
                "--name",
                "scoped-one",
                "--scoped",
            ])
            .expect("admin create"),
    )
    .expect("json");
    let id = made["token_id"].as_str().expect("token_id").to_string();
    world.set("MWS_POLL_INTERVAL_SECS", "1");
    ok(&world.mws(&["daemon", "start"]));
    let watcher = Watcher::start(&world);
    // Two polls: one sees the token, the next one records its environments.
    std::thread::sleep(Duration::from_millis(2500));
    emulator
        .admin(&["admin", "token", "allow", &id, "main"])
        .expect("admin allow");
    let event = watcher.next("token.environments_changed", Duration::from_secs(5));
    assert_eq!(event["after"]["token_id"], id.as_str());
    let before = event["before"]["environment_ids"].as_array().unwrap().len();
    let after = event["after"]["environment_ids"].as_array().unwrap().len();
    assert_eq!(after, before + 1, "{event}");
}
