//! examples/watch.mjs, the Node.js client, with real `node` against a real
//! daemon: events arrive; a cursor given with `--since` replays exactly
//! what followed it; and when the daemon restarts the client reconnects by
//! itself with its last cursor and reports the other-instance resync, then
//! follows the new daemon's events.

use mws_e2e::{lines_of, ok, start_emulator, workspace_root, World};
use serde_json::{json, Value};
use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Within a poll interval (1 s) and a reconnection (at most 2 s apart),
/// with slack for a loaded machine.
const LIMIT: Duration = Duration::from_secs(15);

/// A running `node examples/watch.mjs`, killed on drop.
struct NodeWatcher {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl NodeWatcher {
    fn start(world: &World, args: &[&str]) -> NodeWatcher {
        let mut child = world
            .command("node")
            .arg(workspace_root().join("examples/watch.mjs"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect(
                "node (Debian package nodejs; scripts/test.sh installs it) runs examples/watch.mjs",
            );
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        let watcher = NodeWatcher {
            child,
            stdout,
            stderr,
        };
        watcher.note("subscribed: ");
        watcher
    }

    /// Waits for a stderr line starting with `prefix`; returns it.
    fn note(&self, prefix: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("watch.mjs never said '{prefix}…'; it said {seen:?}"),
            }
        }
    }

    /// The next stdout line, as JSON.
    fn next(&self) -> Value {
        let line = self
            .stdout
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("watch.mjs printed nothing within {LIMIT:?}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Nothing more on stdout for a while.
    fn quiet(&self) {
        if let Ok(line) = self.stdout.recv_timeout(Duration::from_millis(1500)) {
            panic!("watch.mjs printed more than expected: {line}");
        }
    }
}

impl Drop for NodeWatcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn create_token(world: &World, name: &str) {
    ok(&world.mws(&["proxy-tokens", "create", "--name", name]));
}

fn instance(world: &World) -> String {
    let status: Value =
        serde_json::from_str(&ok(&world.mws(&["daemon", "status", "--json"]))).unwrap();
    status["instance"].as_str().unwrap().to_string()
}

#[test]
fn the_node_client_follows_events_resumes_and_survives_a_daemon_restart() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    world.set("MWS_POLL_INTERVAL_SECS", "1");
    ok(&world.mws(&["daemon", "start"]));
    ok(&world.mws(&["proxy-tokens", "list"]));
    ok(&world.mws(&["members", "list"]));
    let first_instance = instance(&world);

    let watcher = NodeWatcher::start(&world, &[]);
    // A change through mws, and one in the dashboard (found by polling).
    create_token(&world, "from-mws");
    let created = watcher.next();
    assert_eq!(created["type"], "token.created", "{created}");
    assert_eq!(created["after"]["name"], "from-mws");
    assert_eq!(created["instance"], first_instance.as_str());
    emulator
        .admin(&[
            "admin",
            "member",
            "add",
            "node@example.com",
            "--name",
            "Node",
        ])
        .expect("admin member add");
    let joined = watcher.next();
    assert_eq!(joined["type"], "member.joined", "{joined}");
    assert_eq!(joined["after"]["email"], "node@example.com");
    assert_eq!(
        joined["seq"].as_u64(),
        Some(created["seq"].as_u64().unwrap() + 1)
    );

    // A second client resuming after the first event gets exactly the one
    // that followed it.
    let since = format!("{first_instance}:{}", created["seq"]);
    let resumed = NodeWatcher::start(&world, &["--since", &since]);
    assert_eq!(
        resumed.next(),
        joined,
        "the replay of what followed {since}"
    );
    resumed.quiet();
    drop(resumed);

    // The daemon restarts; the client notices, reconnects with its last
    // cursor and is told that it belongs to another instance.
    ok(&world.mws(&["daemon", "stop"]));
    let away = watcher.note("disconnected from mwsd");
    assert!(
        away.ends_with(&format!("since {first_instance}:{}", joined["seq"])),
        "{away}"
    );
    ok(&world.mws(&["daemon", "start"]));
    let second_instance = instance(&world);
    assert_ne!(second_instance, first_instance);
    let resync = watcher.next();
    assert_eq!(
        resync,
        json!({"type": "resync", "reason": "other_instance", "instance": second_instance, "seq": 0})
    );
    let notice = watcher.note("resync: ");
    assert!(
        notice.contains(&format!("mwsd restarted since {first_instance}:")),
        "{notice}"
    );

    // And it follows the new daemon's events.
    create_token(&world, "after-restart");
    let event = watcher.next();
    assert_eq!(event["type"], "token.created", "{event}");
    assert_eq!(event["after"]["name"], "after-restart");
    assert_eq!(
        (event["instance"].as_str(), event["seq"].as_u64()),
        (Some(second_instance.as_str()), Some(1))
    );
}
