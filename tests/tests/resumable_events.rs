//! Resumable events with the real binaries: a `mws watch --since` that
//! reconnects gets exactly the events it missed, in order; a cursor older
//! than the daemon's buffer of 1,024 events, or one of a daemon that has
//! since restarted, gets an explicit resync line instead of a silent gap.

use mws_e2e::plugins::Watcher;
use mws_e2e::{ok, start_emulator, stdout, Emulator, World};
use serde_json::Value;
use std::time::Duration;

/// Within a poll interval (1 s) plus slack for a loaded machine.
const LIMIT: Duration = Duration::from_secs(10);
/// How long a stream is watched for lines that must not come.
const QUIET: Duration = Duration::from_millis(1500);

fn world_with_daemon() -> (World, Emulator) {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    world.set("MWS_POLL_INTERVAL_SECS", "1");
    ok(&world.mws(&["daemon", "start"]));
    // The identity's first lists are a baseline, not events.
    ok(&world.mws(&["proxy-tokens", "list"]));
    ok(&world.mws(&["members", "list"]));
    (world, emulator)
}

/// `INSTANCE:SEQ` of an event line.
fn cursor_of(event: &Value) -> String {
    let instance = event["instance"].as_str().expect("instance");
    let seq = event["seq"].as_u64().expect("seq");
    assert!(!instance.is_empty() && seq > 0, "{event}");
    format!("{instance}:{seq}")
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

fn create_token(world: &World, name: &str) -> String {
    let created: Value = serde_json::from_str(&ok(&world.mws(&[
        "proxy-tokens",
        "create",
        "--name",
        name,
        "--json",
    ])))
    .expect("json");
    created["Modal-Key"].as_str().expect("token id").to_string()
}

fn status(world: &World) -> Value {
    serde_json::from_str(&ok(&world.mws(&["daemon", "status", "--json"]))).expect("json")
}

/// The first event of the stream (a token created through mws) and its
/// cursor; the watcher is gone when this returns.
fn first_event(world: &World) -> (Value, String) {
    let watcher = Watcher::start(world);
    create_token(world, "first");
    let event = watcher.next(LIMIT).expect("the first event");
    assert_eq!(event["type"], "token.created", "{event}");
    let cursor = cursor_of(&event);
    (event, cursor)
}

#[test]
fn a_watcher_that_reconnects_gets_exactly_the_events_it_missed_in_order() {
    let (world, emulator) = world_with_daemon();
    // Stays connected throughout: what the reconnecting watcher must match.
    let reference = Watcher::start(&world);
    let (first, cursor) = first_event(&world);
    assert_eq!(reference.next(LIMIT).as_ref(), Some(&first));

    // Missed while disconnected: changes through mws (sent at once) and in
    // the dashboard (noticed by the poller).
    let second = create_token(&world, "second");
    ok(&world.mws(&["proxy-tokens", "update", &second, "name", "renamed"]));
    emulator
        .admin(&[
            "admin",
            "member",
            "add",
            "late@example.com",
            "--name",
            "Late",
        ])
        .expect("admin member add");
    let third = create_token(&world, "third");
    ok(&world.mws(&["proxy-tokens", "delete", &third, "-y"]));
    let missed = reference.take(5, LIMIT);
    let mut kinds: Vec<&str> = missed.iter().map(|e| e["type"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "member.joined",
            "token.created",
            "token.created",
            "token.deleted",
            "token.renamed"
        ]
    );

    let resumed = Watcher::since(&world, &cursor);
    let replayed = resumed.take(5, LIMIT);
    assert_eq!(replayed, missed, "the replay is the reference's stream");
    let s = first["seq"].as_u64().unwrap();
    assert_eq!(seqs(&replayed), (s + 1..=s + 5).collect::<Vec<_>>());
    assert!(
        replayed.iter().all(|e| e["instance"] == first["instance"]),
        "{replayed:?}"
    );
    assert_eq!(resumed.next(QUIET), None, "nothing twice, nothing more");

    // Then it follows live events like any watcher.
    create_token(&world, "live");
    let live = resumed.next(LIMIT).expect("a live event after the replay");
    assert_eq!(live["seq"].as_u64(), Some(s + 6), "{live}");
    assert_eq!(reference.next(LIMIT).as_ref(), Some(&live));
}

#[test]
fn a_cursor_older_than_the_buffer_is_told_to_resync() {
    let (world, emulator) = world_with_daemon();
    let (first, cursor) = first_event(&world);
    let (instance, s) = (
        first["instance"].as_str().unwrap(),
        first["seq"].as_u64().unwrap(),
    );

    // 1,100 tokens appear in the dashboard at once; the next read notices
    // all of them: 1,100 events, more than the daemon keeps.
    emulator
        .admin(&["admin", "bulk", "--tokens", "1100"])
        .expect("admin bulk");
    ok(&world.mws(&["proxy-tokens", "list", "--fresh"]));
    let last = s + 1100;
    let status = status(&world);
    assert_eq!(status["instance"], instance);
    assert_eq!(status["last_event_seq"].as_u64(), Some(last));

    // The oldest cursor still resumable replays all 1,024 kept events…
    let oldest = Watcher::since(&world, &format!("{instance}:{}", last - 1024));
    let replayed = oldest.take(1024, LIMIT);
    assert_eq!(seqs(&replayed), (last - 1023..=last).collect::<Vec<_>>());
    assert!(replayed.iter().all(|e| e["type"] == "token.created"));
    assert_eq!(oldest.next(QUIET), None);

    // … one older, and the first event's cursor, are too old.
    for too_old in [format!("{instance}:{}", last - 1025), cursor] {
        let watcher = Watcher::since(&world, &too_old);
        let line = watcher.next(LIMIT).expect("a resync line");
        assert_eq!(
            line,
            serde_json::json!({"type": "resync", "reason": "too_old", "instance": instance, "seq": last}),
            "for {too_old}"
        );
        assert_eq!(watcher.next(QUIET), None, "no partial replay for {too_old}");
    }

    // In words for people, the same.
    let mut human = world
        .command(mws_e2e::bin("mws"))
        .args(["watch", "--since", &format!("{instance}:{s}")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("mws watch");
    let lines = mws_e2e::lines_of(human.stdout.take().unwrap());
    let line = lines.recv_timeout(LIMIT).expect("a resync sentence");
    let _ = human.kill();
    let _ = human.wait();
    assert_eq!(
        line,
        format!(
            "resync: events after {instance}:{s} are no longer held (mwsd keeps the last 1,024); \
             list again to see the current state; following from #{last}"
        )
    );
}

#[test]
fn after_a_daemon_restart_the_old_cursor_is_named_another_instance() {
    let (world, _emulator) = world_with_daemon();
    let (first, cursor) = first_event(&world);
    let old_instance = first["instance"].as_str().unwrap().to_string();

    ok(&world.mws(&["daemon", "stop"]));
    ok(&world.mws(&["daemon", "start"]));
    let new_instance = status(&world)["instance"].as_str().unwrap().to_string();
    assert_ne!(new_instance, old_instance, "a new instance id per start");
    assert_eq!(status(&world)["last_event_seq"].as_u64(), Some(0));

    let watcher = Watcher::since(&world, &cursor);
    let line = watcher.next(LIMIT).expect("a resync line");
    assert_eq!(
        line,
        serde_json::json!({"type": "resync", "reason": "other_instance", "instance": new_instance, "seq": 0}),
    );
    // The stream goes on with the new instance's numbers.
    create_token(&world, "after-restart");
    let event = watcher.next(LIMIT).expect("a live event");
    assert_eq!(event["type"], "token.created");
    assert_eq!(cursor_of(&event), format!("{new_instance}:1"));

    // A bare number past the new instance's last event is an old one too;
    // its own id with such a number is refused as made up.
    let bare = Watcher::since(&world, "7");
    assert_eq!(bare.next(LIMIT).unwrap()["reason"], "other_instance");
    let made_up = world.mws(&["watch", "--since", &format!("{new_instance}:7")]);
    assert_eq!(made_up.status.code(), Some(1), "{}", stdout(&made_up));
    let stderr = mws_e2e::stderr(&made_up);
    assert!(
        stderr.contains("is ahead of this daemon's last event (1)"),
        "{stderr}"
    );
}
