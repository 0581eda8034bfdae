//! Webhooks for real: mwsd with the bundled `webhook` sink plugin, a real
//! gnome-keyring holding the signing secret, and a real HTTP receiver
//! (tests/webhooks/receiver.py) that verifies every Standard Webhooks
//! signature with its own implementation (Python's `hmac`, checked against
//! the spec's example). Covered: signed deliveries in both formats,
//! at-least-once delivery across a `kill -9` mid-delivery (same
//! `webhook-id`, nothing lost), retries with backoff after a 500, give-up
//! and `mws webhooks retry`, the bounded queue's overflow in `mws daemon
//! status`, expiry alerts to an `alert.*` endpoint, and the webhook
//! metrics through a real Prometheus parser.

use mws_e2e::plugins::{install, json_of};
use mws_e2e::{
    eventually, ok, prometheus, start_emulator, stderr, venv_python, workspace_root, Emulator,
    SessionBus, World,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long anything asynchronous may take on a loaded CI machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// The receiver process and its folder.
struct Receiver {
    dir: PathBuf,
    port: u16,
    child: Child,
}

impl Receiver {
    fn start(dir: &Path) -> Receiver {
        std::fs::create_dir_all(dir).unwrap();
        let script = workspace_root().join("tests/webhooks/receiver.py");
        let child = Command::new(venv_python("http.server"))
            .arg(&script)
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python for the webhook receiver");
        let port = eventually("the receiver's start", PATIENCE, || {
            let text = std::fs::read_to_string(dir.join("port")).map_err(|e| e.to_string())?;
            Ok(text.trim().parse().unwrap())
        });
        Receiver {
            dir: dir.to_path_buf(),
            port,
            child,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join(name), text).unwrap();
    }

    fn hold(&self) {
        self.write("hold", "");
    }

    fn release(&self) {
        let _ = std::fs::remove_file(self.dir.join("hold"));
    }

    /// Every request received so far.
    fn log(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("log"))
            .unwrap_or_default()
            .lines()
            .map(json_of)
            .collect()
    }

    /// Waits until `done` holds of the log; returns the log.
    fn wait(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        eventually(&format!("receiver: {what}"), PATIENCE, || {
            let log = self.log();
            if done(&log) {
                Ok(log)
            } else {
                Err(format!("{log:#?}"))
            }
        })
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.release();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A world whose mwsd has a real keyring, the webhook plugin, the emulator
/// and `config` as its config file.
fn webhook_world(config: &str) -> (World, SessionBus, Emulator) {
    let mut world = World::new();
    let bus = SessionBus::with_keyring(&mut world);
    world.set("MWS_KEYRING", "secret-service");
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    world.set("MWS_POLL_INTERVAL_SECS", "3600");
    install(&world, "webhook");
    let path = world.path("config/mws/config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, config).unwrap();
    (world, bus, emulator)
}

/// A Standard Webhooks secret (the spec's example one).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Stores `SECRET` for endpoint `name` through the CLI, and gives it to
/// the receiver.
fn share_secret(world: &World, receiver: &Receiver, name: &str) {
    let out = world.mws_with_stdin(
        &["webhooks", "secret", name, "--secret-stdin"],
        &format!("{SECRET}\n"),
    );
    assert!(ok(&out).contains("in the keyring"), "{}", ok(&out));
    receiver.write("secret", SECRET);
}

/// Creates a proxy token through mws; returns its id.
fn create_token(world: &World, name: &str) -> String {
    let created = json_of(&ok(&world.mws(&[
        "proxy-tokens",
        "create",
        "--name",
        name,
        "--json",
    ])));
    created["Modal-Key"].as_str().unwrap().to_string()
}

fn token_events<'a>(log: &'a [Value], kind: &str) -> Vec<&'a Value> {
    log.iter().filter(|r| r["body"]["type"] == kind).collect()
}

fn created_id(request: &Value) -> &str {
    request["body"]["data"]["after"]["token_id"]
        .as_str()
        .unwrap_or("")
}

fn webhooks_json(world: &World) -> Value {
    json_of(&ok(&world.mws(&["webhooks", "list", "--json"])))
}

/// Polls `mws webhooks list --json` until `done` holds of it.
fn report_until(world: &World, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    eventually(what, PATIENCE, || {
        let report = webhooks_json(world);
        if done(&report) {
            Ok(report)
        } else {
            Err(report.to_string())
        }
    })
}

/// Polls `mws daemon status --json` until `done` holds of it.
fn status_until(world: &World, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    eventually(what, PATIENCE, || {
        let status = json_of(&ok(&world.mws(&["daemon", "status", "--json"])));
        if done(&status) {
            Ok(status)
        } else {
            Err(status.to_string())
        }
    })
}

fn endpoint<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no endpoint {name}: {report}"))
}

fn outbox_files(world: &World) -> Vec<String> {
    let dir = world.path("state/mws/outbox");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn events_arrive_signed_in_both_formats_and_are_counted() {
    let receiver_dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(receiver_dir.path());
    let config = format!(
        "[webhooks.endpoints.team]\nurl = \"{}\"\nevents = [\"token.*\"]\n\n\
         [webhooks.endpoints.chat]\nurl = \"{}\"\nformat = \"slack\"\nevents = [\"token.created\"]\n",
        receiver.url("/hooks/team?key=private-path"),
        receiver.url("/slack/T000/B000/XXXX"),
    );
    let (world, bus, _emulator) = webhook_world(&config);
    share_secret(&world, &receiver, "team");

    // The secret is in the keyring, under the endpoint's name.
    let found = Command::new("secret-tool")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .args(["lookup", "service", "mws", "username", "webhook:team"])
        .output()
        .expect("secret-tool (Debian package libsecret-tools)");
    assert_eq!(String::from_utf8_lossy(&found.stdout).trim(), SECRET);

    ok(&world.mws(&["proxy-tokens", "list"])); // the cache's baseline
    let id = create_token(&world, "ci-deploy");
    let log = receiver.wait("a signed token.created and its Slack line", |log| {
        log.iter()
            .any(|r| r["path"] == "/hooks/team?key=private-path")
            && log.iter().any(|r| r["path"] == "/slack/T000/B000/XXXX")
    });
    let team: Vec<&Value> = log
        .iter()
        .filter(|r| r["path"] == "/hooks/team?key=private-path")
        .collect();
    assert_eq!(team.len(), 1, "{log:#?}");
    let request = team[0];
    assert_eq!(request["verified"], true, "signature: {request}");
    assert!(
        request["id"].as_str().unwrap().starts_with("msg_"),
        "{request}"
    );
    assert_eq!(request["content_type"], "application/json");
    assert_eq!(request["body"]["type"], "token.created");
    assert_eq!(created_id(request), id);
    assert_eq!(request["body"]["data"]["after"]["name"], "ci-deploy");
    assert_eq!(request["body"]["data"]["workspace"], "acme-ml");
    // The webhook-timestamp is now (seconds), the payload's timestamp RFC 3339.
    let sent: f64 = request["timestamp"].as_str().unwrap().parse().unwrap();
    assert!((sent - request["at"].as_f64().unwrap()).abs() < 60.0);
    assert!(request["body"]["timestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let slack = log
        .iter()
        .find(|r| r["path"] == "/slack/T000/B000/XXXX")
        .unwrap();
    let text = slack["body"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("*Proxy token created* in acme-ml: ") && text.contains(&id),
        "{text}"
    );
    // No secret for the Slack endpoint: sent unsigned (Slack ignores it).
    assert_eq!(slack["signature"], "");

    // A deletion goes to `token.*` only.
    ok(&world.mws(&["proxy-tokens", "delete", &id, "-y"]));
    let log = receiver.wait("token.deleted", |log| {
        !token_events(log, "token.deleted").is_empty()
    });
    assert!(token_events(&log, "token.deleted")[0]["verified"] == true);

    // `mws webhooks test` sends to that one endpoint whatever its patterns.
    let out = world.mws(&["webhooks", "test", "chat"]);
    assert!(ok(&out).contains("Queued a test delivery"), "{}", ok(&out));
    let log = receiver.wait("the test delivery", |log| {
        log.iter().any(|r| {
            r["body"]["text"]
                .as_str()
                .unwrap_or("")
                .contains("Test delivery")
        })
    });
    assert_eq!(log.len(), 4, "{log:#?}");

    // What was delivered is counted; the outbox is empty again; the list
    // shows the endpoint's host and port, never its path.
    // The receiver logs a request before mwsd has read its answer.
    let report = report_until(&world, "four deliveries counted", |r| {
        endpoint(r, "team")["delivered"] == 2 && endpoint(r, "chat")["delivered"] == 2
    });
    assert_eq!(endpoint(&report, "team")["delivered"], 2, "{report}");
    assert_eq!(endpoint(&report, "team")["has_secret"], true, "{report}");
    assert_eq!(endpoint(&report, "chat")["delivered"], 2, "{report}");
    assert_eq!(report["queued"], 0);
    assert_eq!(report["sinks"], serde_json::json!(["webhook"]));
    let listed = ok(&world.mws(&["webhooks", "list"]));
    assert!(
        listed.contains(&format!("http://127.0.0.1:{}", receiver.port)),
        "{listed}"
    );
    for shown in [
        &listed,
        &report.to_string(),
        &ok(&world.mws(&["daemon", "status"])),
    ] {
        assert!(
            !shown.contains("private-path") && !shown.contains("T000"),
            "{shown}"
        );
        assert!(!shown.contains(SECRET), "{shown}");
    }
    assert!(
        outbox_files(&world).is_empty(),
        "{:?}",
        outbox_files(&world)
    );
    // The secret is in no file mws wrote.
    for dir in ["config", "state", "data", "cache", "home"] {
        let out = Command::new("grep")
            .args(["-r", "-l", SECRET])
            .arg(world.path(dir))
            .output()
            .unwrap();
        assert!(
            out.stdout.is_empty(),
            "the secret is in {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // The metrics, through a real Prometheus parser.
    let metrics = ok(&world.mws(&["metrics"]));
    let samples = prometheus::parse(&metrics);
    let sample = |name: &str, labels: &[(&str, &str)]| prometheus::value(&samples, name, labels);
    assert_eq!(
        sample(
            "mws_webhook_deliveries_total",
            &[("endpoint", "team"), ("result", "delivered")]
        ),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample("mws_webhook_queue_depth", &[("endpoint", "team")]),
        Some(0.0),
        "{metrics}"
    );
    assert!(!metrics.contains("private-path") && !metrics.contains(SECRET));
}

#[test]
fn a_delivery_cut_by_kill_9_arrives_again_with_the_same_id_and_nothing_is_lost() {
    let receiver_dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(receiver_dir.path());
    let config = format!(
        "[webhooks]\nretry_base_secs = 0.2\ntimeout_secs = 120\n\n[webhooks.endpoints.team]\nurl = \"{}\"\n",
        receiver.url("/team"),
    );
    let (world, _bus, _emulator) = webhook_world(&config);
    share_secret(&world, &receiver, "team");
    ok(&world.mws(&["proxy-tokens", "list"]));

    // The first delivery is held open by the receiver; the next two wait
    // behind it in the outbox.
    receiver.hold();
    let ids: Vec<String> = ["one", "two", "three"]
        .iter()
        .map(|name| create_token(&world, name))
        .collect();
    receiver.wait("the first delivery", |log| !log.is_empty());
    report_until(&world, "three deliveries queued", |r| r["queued"] == 3);
    assert_eq!(outbox_files(&world).len(), 3, "{:?}", outbox_files(&world));
    let first = receiver.log()[0].clone();
    assert_eq!(first["status"], "held");

    let pid = world.daemon_pid().expect("mwsd runs");
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    eventually("mwsd's end after SIGKILL", PATIENCE, || {
        match unsafe { libc::kill(pid as i32, 0) } {
            0 => Err(format!("mwsd {pid} still runs")),
            _ => Ok(()),
        }
    });

    // The next command starts a new daemon, which reads the outbox and
    // sends everything; the held request was never answered, so it is sent
    // again under the same webhook-id.
    ok(&world.mws(&["daemon", "start"]));
    let log = receiver.wait("every event after the restart", |log| {
        let answered: Vec<&str> = log
            .iter()
            .filter(|r| r["status"] == 200)
            .map(created_id)
            .collect();
        ids.iter().all(|id| answered.contains(&id.as_str()))
    });
    receiver.release();
    for request in &log {
        assert_eq!(request["verified"], true, "{request}");
    }
    let again: Vec<&Value> = log.iter().filter(|r| r["id"] == first["id"]).collect();
    assert_eq!(
        again.len(),
        2,
        "the cut delivery, then its redelivery: {log:#?}"
    );
    assert_eq!(created_id(again[0]), created_id(again[1]));
    assert_eq!(again[0]["body"], again[1]["body"], "the same bytes again");
    // Each event has one id, in the order the events happened.
    let mut order: Vec<&str> = Vec::new();
    for request in &log {
        let id = created_id(request);
        if !order.contains(&id) {
            order.push(id);
        }
    }
    assert_eq!(order, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let distinct: std::collections::HashSet<&str> =
        log.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(distinct.len(), 3, "{log:#?}");
    eventually("an empty outbox", PATIENCE, || match outbox_files(&world) {
        files if files.is_empty() => Ok(()),
        files => Err(format!("{files:?}")),
    });
}

#[test]
fn a_receiver_that_fails_gets_the_event_after_backoff_and_given_up_ones_can_be_retried() {
    let receiver_dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(receiver_dir.path());
    receiver.write("statuses", "500,500,200");
    let config = format!(
        "[webhooks]\nretry_base_secs = 0.4\ngive_up_after_secs = 3\n\n[webhooks.endpoints.team]\nurl = \"{}\"\n",
        receiver.url("/team"),
    );
    let (world, _bus, _emulator) = webhook_world(&config);
    share_secret(&world, &receiver, "team");
    ok(&world.mws(&["proxy-tokens", "list"]));

    let id = create_token(&world, "flaky");
    let log = receiver.wait("a 200 after two 500s", |log| {
        log.iter().any(|r| r["status"] == 200)
    });
    assert_eq!(log.len(), 3, "{log:#?}");
    for request in &log {
        assert_eq!(
            request["id"], log[0]["id"],
            "one webhook-id for every attempt"
        );
        assert_eq!(created_id(request), id);
        assert_eq!(request["verified"], true);
    }
    // Backoff: 0.4 s, then 0.8 s, each scaled by jitter into [0.5, 1).
    let gap = |a: &Value, b: &Value| b["at"].as_f64().unwrap() - a["at"].as_f64().unwrap();
    assert!(gap(&log[0], &log[1]) >= 0.2 - 0.05, "{log:#?}");
    assert!(gap(&log[1], &log[2]) >= 0.4 - 0.05, "{log:#?}");
    // The receiver logs the 200 before mwsd has read the answer: wait for
    // the daemon to count it.
    let report = report_until(&world, "the delivery counted", |r| {
        endpoint(r, "team")["delivered"] == 1
    });
    let team = endpoint(&report, "team");
    assert_eq!(
        (team["delivered"].as_u64(), team["retries"].as_u64()),
        (Some(1), Some(2)),
        "{report}"
    );
    assert_eq!(team["last_error"], Value::Null, "{report}");

    // A receiver that keeps failing: given up on after give_up_after_secs,
    // kept on disk, and sent again by `mws webhooks retry`.
    receiver.write("statuses", "503");
    let id = create_token(&world, "doomed");
    let report = report_until(&world, "a delivery given up on", |r| {
        endpoint(r, "team")["failed"] == 1
    });
    let team = endpoint(&report, "team");
    assert_eq!(team["queued"], 0, "{report}");
    assert!(
        team["last_error"].as_str().unwrap().contains("503"),
        "{report}"
    );
    assert_eq!(
        outbox_files(&world).len(),
        0,
        "given up on: not in the queue"
    );
    let status = ok(&world.mws(&["daemon", "status"]));
    assert!(status.contains("webhooks:"), "{status}");
    let tries = receiver.log().len();
    receiver.write("statuses", "200");
    let out = ok(&world.mws(&["webhooks", "retry", "team"]));
    assert!(out.contains("Queued 1 delivery again"), "{out}");
    let log = receiver.wait("the retried delivery", |log| {
        log[tries..].iter().any(|r| r["status"] == 200)
    });
    let delivered = log.iter().rev().find(|r| r["status"] == 200).unwrap();
    assert_eq!(created_id(delivered), id);
    let report = report_until(&world, "the retried delivery counted", |r| {
        endpoint(r, "team")["delivered"] == 2
    });
    assert_eq!(endpoint(&report, "team")["failed"], 0, "{report}");
}

#[test]
fn deliveries_left_by_an_endpoint_taken_out_of_the_config_can_be_purged() {
    let receiver_dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(receiver_dir.path());
    let team = format!(
        "[webhooks.endpoints.team]\nurl = \"{}\"\n",
        receiver.url("/team")
    );
    // `old` has no signing secret: its attempts fail, and the next one is
    // a minute away.
    let config = format!(
        "[webhooks]\nretry_base_secs = 60\n\n{team}\n[webhooks.endpoints.old]\nurl = \"{}\"\n",
        receiver.url("/old"),
    );
    let (world, _bus, _emulator) = webhook_world(&config);
    share_secret(&world, &receiver, "team");
    ok(&world.mws(&["proxy-tokens", "list"]));
    create_token(&world, "left-behind");
    report_until(&world, "team delivered, old failed once", |r| {
        endpoint(r, "team")["delivered"] == 1 && endpoint(r, "old")["retries"] == 1
    });

    // `old` leaves the config; its delivery stays, named, and counts
    // against the queue's bound.
    std::fs::write(
        world.path("config/mws/config.toml"),
        format!("[webhooks]\nretry_base_secs = 60\n\n{team}"),
    )
    .unwrap();
    let report = report_until(&world, "old no longer configured", |r| {
        r["endpoints"].as_array().unwrap().len() == 1
    });
    assert_eq!(report["orphaned"], 1, "{report}");
    assert_eq!(report["queued"], 1, "{report}");
    assert_eq!(report["orphaned_endpoints"], serde_json::json!(["old"]));
    let listed = ok(&world.mws(&["webhooks", "list"]));
    assert!(
        listed.contains(
            "1 for endpoints no longer configured (old: `mws webhooks purge NAME` removes them)"
        ),
        "{listed}"
    );
    assert_eq!(outbox_files(&world).len(), 1, "{:?}", outbox_files(&world));

    // A name that is neither configured nor in the outbox is an error.
    let out = world.mws(&["webhooks", "purge", "olld"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "Error: no webhook endpoint named 'olld' in [webhooks.endpoints] (configured: team)\n"
    );
    assert_eq!(outbox_files(&world).len(), 1);

    let out = json_of(&ok(&world.mws(&["webhooks", "purge", "old", "--json"])));
    assert_eq!(
        out,
        serde_json::json!({"endpoint": "old", "removed": 1, "sending": 0})
    );
    assert!(
        outbox_files(&world).is_empty(),
        "{:?}",
        outbox_files(&world)
    );
    let report = webhooks_json(&world);
    assert_eq!(report["orphaned"], 0, "{report}");
    assert_eq!(report["queued"], 0, "{report}");
    assert_eq!(report["orphaned_endpoints"], serde_json::json!([]));
    // Nothing comes back with a new daemon, and nothing was sent to `old`.
    ok(&world.mws(&["daemon", "restart"]));
    let report = webhooks_json(&world);
    assert_eq!(
        report["orphaned_endpoints"],
        serde_json::json!([]),
        "{report}"
    );
    assert!(
        receiver.log().iter().all(|r| r["path"] != "/old"),
        "{:#?}",
        receiver.log()
    );
    // A configured endpoint with nothing waiting: nothing to remove.
    let out = ok(&world.mws(&["webhooks", "purge", "team"]));
    assert_eq!(
        out,
        "Removed 0 deliveries to webhook endpoint 'team' from the outbox.\n"
    );
}

#[test]
fn a_full_queue_drops_and_counts_what_does_not_fit() {
    let receiver_dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(receiver_dir.path());
    let config = format!(
        "[webhooks]\nmax_queue = 1\ntimeout_secs = 120\n\n[webhooks.endpoints.team]\nurl = \"{}\"\n",
        receiver.url("/team"),
    );
    let (world, _bus, _emulator) = webhook_world(&config);
    share_secret(&world, &receiver, "team");
    ok(&world.mws(&["proxy-tokens", "list"]));
    receiver.hold();
    let first = create_token(&world, "fits");
    receiver.wait("the first delivery", |log| !log.is_empty());
    create_token(&world, "dropped-1");
    create_token(&world, "dropped-2");
    let status = status_until(&world, "two deliveries dropped", |s| {
        s["webhooks"]["dropped"] == 2
    });
    assert_eq!(status["webhooks"]["queued"], 1, "{status}");
    let text = ok(&world.mws(&["daemon", "status"]));
    assert!(
        text.contains("1 endpoint, 1 queued (at most 1), 2 dropped"),
        "{text}"
    );
    let samples = prometheus::parse(&ok(&world.mws(&["metrics"])));
    let dropped = prometheus::value(&samples, "mws_webhook_dropped_total", &[]);
    assert_eq!(dropped, Some(2.0), "{samples:?}");
    // Released, the held request is answered 200: the delivery that fit is
    // the only one there is.
    receiver.release();
    report_until(&world, "the held delivery delivered", |r| {
        endpoint(r, "team")["delivered"] == 1
    });
    let log = receiver.log();
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(created_id(&log[0]), first);
}

#[test]
fn bad_webhook_input_is_refused_clearly() {
    let (world, _bus, _emulator) =
        webhook_world("[webhooks.endpoints.team]\nurl = \"https://hooks.example.com/x\"\n");
    // An unknown endpoint, a secret that is not whsec_, a test with none.
    let out = world.mws(&["webhooks", "test", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no webhook endpoint named 'nope'"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("team"),
        "names the known ones: {}",
        stderr(&out)
    );
    let out = world.mws_with_stdin(
        &["webhooks", "secret", "team", "--secret-stdin"],
        "hunter2\n",
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("whsec_"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
    let out = world.mws(&["webhooks", "secret", "team"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("--secret-stdin"), "{}", stderr(&out));
    // `--generate` prints the new secret once; it signs from then on.
    let out = json_of(&ok(&world.mws(&[
        "webhooks",
        "secret",
        "team",
        "--generate",
        "--json",
    ])));
    assert!(
        out["generated"].as_str().unwrap().starts_with("whsec_"),
        "{out}"
    );
    let report = webhooks_json(&world);
    assert_eq!(endpoint(&report, "team")["has_secret"], true, "{report}");
    ok(&world.mws(&["webhooks", "secret", "team", "--delete"]));
    let report = webhooks_json(&world);
    assert_eq!(endpoint(&report, "team")["has_secret"], false, "{report}");

    // A config with a plain-http URL to another host is refused, named,
    // and the daemon keeps running.
    std::fs::write(
        world.path("config/mws/config.toml"),
        "[webhooks.endpoints.team]\nurl = \"http://hooks.example.com/secret-path\"\n",
    )
    .unwrap();
    let status = status_until(&world, "a config error", |s| {
        !s["config_errors"].as_array().unwrap().is_empty()
    });
    let error = status["config_errors"][0].as_str().unwrap();
    assert!(error.contains("webhooks.endpoints.team"), "{error}");
    assert!(
        !error.contains("secret-path"),
        "the URL's path is not shown: {error}"
    );
}

#[test]
fn expiry_alerts_reach_the_team_channel() {
    let receiver_dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(receiver_dir.path());
    let config = format!(
        "[webhooks.endpoints.team]\nurl = \"{}\"\nevents = [\"alert.*\"]\n",
        receiver.url("/team"),
    );
    let (world, _bus, _emulator) = webhook_world(&config);
    install(&world, "expiry");
    share_secret(&world, &receiver, "team");
    // `mws alerts` has the credentials judged now: the seeded nightly-eval
    // expires within three days.
    ok(&world.mws(&["alerts", "--fail-on", "never"]));
    let log = receiver.wait("the service user's expiry alert", |log| {
        log.iter().any(|r| {
            r["body"]["type"] == "alert.service_user_expiry"
                && r["body"]["data"]["after"]["token_id"] == "nightly-eval"
        })
    });
    let alert = log
        .iter()
        .find(|r| r["body"]["data"]["after"]["token_id"] == "nightly-eval")
        .unwrap();
    assert_eq!(alert["verified"], true, "{alert}");
    assert_eq!(
        alert["body"]["data"]["after"]["level"], "critical",
        "{alert}"
    );
    assert!(
        alert["body"]["data"]["after"]["fix"]
            .as_str()
            .unwrap()
            .starts_with("mws service-users create"),
        "{alert}"
    );
    // Nothing but alerts went to an endpoint that asked for alerts only.
    assert!(
        log.iter()
            .all(|r| r["body"]["type"].as_str().unwrap().starts_with("alert.")),
        "{log:#?}"
    );
}
