//! Fault suite: the daemon killed with `kill -9` at random moments, upstream
//! faults injected at the emulator (`serve --fault-*`), and servers that
//! cannot be reached. What a user must be able to rely on: a create that
//! reported success exists exactly once; a failure left nothing behind, or the
//! one thing it did is there exactly once; errors say what happened; the next
//! call works. Every test ends with a scan for leaked secrets.
//!
//! Figures are printed on stderr (run with `--nocapture`) and recorded in
//! docs/reliability.md.

mod support;

use mws_e2e::{ok, start_emulator, stderr, stdout, Emulator, World};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use support::{assert_no_secrets, Rng};

/// A world with an emulator (started with `args`) in its folder, the daemon
/// logging everything (so the secret scan covers trace output) and no
/// background polling.
fn world_with_emulator(args: &[&str]) -> (World, Emulator) {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), args).expect("emulator");
    world.use_emulator(&emulator);
    world.set("MWS_LOG", "trace");
    world.set("MWS_POLL_INTERVAL_SECS", "3600");
    (world, emulator)
}

/// The proxy tokens as the official CLI sees them: name -> token ids.
fn tokens_by_name(world: &World) -> BTreeMap<String, Vec<String>> {
    let listed: Value = serde_json::from_str(&ok(&world.modal(&[
        "workspace",
        "proxy-tokens",
        "list",
        "--json",
    ])))
    .expect("official JSON");
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for token in listed.as_array().expect("array") {
        by_name
            .entry(token["name"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(token["token_id"].as_str().unwrap_or_default().to_string());
    }
    by_name
}

/// The call log's lines.
fn call_log(emulator: &Emulator) -> Vec<Value> {
    std::fs::read_to_string(&emulator.call_log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Lines of the call log grouped by idempotency key (one logical call each).
fn by_key(lines: &[Value], method: &str) -> HashMap<String, Vec<Value>> {
    let mut keys: HashMap<String, Vec<Value>> = HashMap::new();
    for line in lines.iter().filter(|l| l["method"] == method) {
        let key = line["idempotency_key"].as_str().unwrap_or("").to_string();
        keys.entry(key).or_default().push(line.clone());
    }
    keys
}

/// A create that ran a handler and was not a replay: a token was made.
fn made_a_token(line: &Value) -> bool {
    line["code"] == "OK" && line["replayed"] == false
}

/// An error as the user sees it: one `Error: …` line on stderr, exit 1, no stdout.
#[track_caller]
fn assert_clear_error(out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    assert!(stdout(out).is_empty(), "stdout on failure: {}", stdout(out));
    let err = stderr(out);
    assert!(err.starts_with("Error: "), "unclear error: {err}");
    assert!(err.len() < 400, "error too long: {err}");
}

/// True while `pid` runs (a zombie waiting for a reaper does not count: the
/// auto-started daemon's parent is gone, and PID 1 may be slow to reap).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

enum Created {
    Ok { token_id: String },
    Failed,
}

#[test]
fn daemon_killed_at_random_moments_loses_no_mutation() {
    let (world, emulator) = world_with_emulator(&[]);
    let mut rng = Rng::new("kill -9");
    const ROUNDS: usize = 50;
    let mut creates: Vec<(String, Created)> = Vec::new();
    let mut deleted: Vec<String> = Vec::new();
    let mut delete_unknown: Vec<String> = Vec::new();
    let mut secrets = vec![emulator.token_secret.clone()];
    let mut commands = 0usize;
    let mut failures = 0usize;

    for round in 0..ROUNDS {
        // The first call after each kill works (it starts a new daemon).
        ok(&world.mws(&["proxy-tokens", "list", "--json"]));
        let pid = world.daemon_pid().expect("a daemon runs") as i32;
        let kill_after = Duration::from_micros(rng.below(40_000));
        let killer = std::thread::spawn(move || {
            std::thread::sleep(kill_after);
            // SAFETY: kill(2) of the daemon's pid, read just before.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        });
        let mut step = 0;
        while !killer.is_finished() || step == 0 {
            step += 1;
            commands += 1;
            let live: Vec<&String> = creates
                .iter()
                .filter_map(|(_, c)| match c {
                    Created::Ok { token_id } => Some(token_id),
                    Created::Failed => None,
                })
                .filter(|id| !deleted.contains(id) && !delete_unknown.contains(id))
                .collect();
            match rng.below(5) {
                0..=2 => {
                    let name = format!("kill-{round}-{step}");
                    let out = world.mws(&["proxy-tokens", "create", "--name", &name, "--json"]);
                    if out.status.success() {
                        let created: Value = serde_json::from_slice(&out.stdout).expect("json");
                        secrets.push(created["Modal-Secret"].as_str().unwrap().to_string());
                        let token_id = created["Modal-Key"].as_str().unwrap().to_string();
                        creates.push((name, Created::Ok { token_id }));
                    } else {
                        assert_clear_error(&out);
                        // A create is resent once, with the same key, to the
                        // next daemon; it fails only when that one dies too,
                        // and the user is told to check.
                        assert!(
                            stderr(&out).contains("mws proxy-tokens list"),
                            "{}",
                            stderr(&out)
                        );
                        failures += 1;
                        creates.push((name, Created::Failed));
                    }
                }
                3 if !live.is_empty() => {
                    let id = live[rng.below(live.len() as u64) as usize].clone();
                    let out = world.mws(&["proxy-tokens", "delete", &id, "--yes"]);
                    if out.status.success() {
                        deleted.push(id);
                    } else {
                        assert_clear_error(&out);
                        failures += 1;
                        delete_unknown.push(id);
                    }
                }
                _ => {
                    let out = world.mws(&["proxy-tokens", "list", "--json"]);
                    // A read is retried on a fresh daemon: it never fails here.
                    ok(&out);
                }
            }
        }
        killer.join().expect("killer");
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // After the last kill, too.
    ok(&world.mws(&["proxy-tokens", "list", "--json"]));

    let truth = tokens_by_name(&world);
    let mut lost = 0;
    let mut failed_but_made = 0;
    for (name, created) in &creates {
        let ids = truth.get(name).cloned().unwrap_or_default();
        assert!(ids.len() <= 1, "{name} exists {} times: {ids:?}", ids.len());
        match created {
            Created::Ok { token_id } => {
                if deleted.contains(token_id) {
                    assert!(ids.is_empty(), "deleted {token_id} is still there");
                } else if delete_unknown.contains(token_id) {
                    // Its delete was interrupted: either outcome is fine.
                } else {
                    if ids.as_slice() != std::slice::from_ref(token_id) {
                        lost += 1;
                    }
                    assert_eq!(
                        ids,
                        std::slice::from_ref(token_id),
                        "created {name} is missing"
                    );
                }
            }
            Created::Failed => failed_but_made += ids.len(),
        }
    }
    // Every logical create (one idempotency key) made at most one token.
    let lines = call_log(&emulator);
    for (key, attempts) in by_key(&lines, "WebhookTokenCreate") {
        let made = attempts.iter().filter(|l| made_a_token(l)).count();
        assert!(made <= 1, "key {key} made {made} tokens");
    }
    let ok_creates = creates
        .iter()
        .filter(|(_, c)| matches!(c, Created::Ok { .. }))
        .count();
    let scan = assert_no_secrets(&world, &secrets);
    eprintln!(
        "kill -9: {ROUNDS} kills survived, {commands} commands, {} creates ({ok_creates} reported \
         success, {} reported failure of which {failed_but_made} had reached the server), \
         {} deletes ok, {} deletes interrupted, {failures} clear failures, mutations lost = {lost}; \
         secret scan: {} secrets, {} files ({} bytes), {} processes",
        creates.len(),
        creates.len() - ok_creates,
        deleted.len(),
        delete_unknown.len(),
        scan.secrets,
        scan.files,
        scan.bytes,
        scan.processes
    );
    assert_eq!(lost, 0);
}

#[test]
fn upstream_faults_are_retried_and_creates_happen_once() {
    let (world, emulator) = world_with_emulator(&[
        "--fault-unavailable-rate",
        "0.2",
        "--fault-drop-rate",
        "0.15",
        "--fault-delay-ms",
        "150",
        "--fault-delay-rate",
        "0.1",
        "--fault-seed",
        "20250101",
    ]);
    let mut secrets = vec![emulator.token_secret.clone()];
    let (mut reads, mut read_failures) = (0, 0);
    let mut created: Vec<(String, Option<String>)> = Vec::new();

    for i in 0..30 {
        for args in [
            ["proxy-tokens", "list", "--json", "--fresh"],
            ["members", "list", "--json", "--fresh"],
        ] {
            reads += 1;
            let out = world.mws(&args);
            if !out.status.success() {
                read_failures += 1;
                assert_clear_error(&out);
            }
        }
        let name = format!("fault-{i}");
        let out = world.mws(&["proxy-tokens", "create", "--name", &name, "--json"]);
        if out.status.success() {
            let json: Value = serde_json::from_slice(&out.stdout).expect("json");
            secrets.push(json["Modal-Secret"].as_str().unwrap().to_string());
            created.push((name, Some(json["Modal-Key"].as_str().unwrap().to_string())));
        } else {
            assert_clear_error(&out);
            created.push((name, None));
        }
    }

    let lines = call_log(&emulator);
    let faults: usize = lines.iter().filter(|l| l.get("fault").is_some()).count();
    let unavailable = lines.iter().filter(|l| l["fault"] == "unavailable").count();
    let dropped = lines.iter().filter(|l| l["fault"] == "drop").count();
    let delayed_calls = lines.len(); // delays are not logged; see the rate.
    let replays = lines.iter().filter(|l| l["replayed"] == true).count();

    // A logical call ends in failure only if every attempt was faulted.
    for method in [
        "WebhookTokenList",
        "WorkspaceMembersList",
        "WebhookTokenCreate",
    ] {
        for (key, attempts) in by_key(&lines, method) {
            let last = attempts.last().unwrap();
            let succeeded = last["code"] == "OK" && last.get("fault").is_none();
            if !succeeded {
                assert!(
                    attempts.iter().all(|l| l.get("fault").is_some()),
                    "{method} {key} failed without an injected fault: {attempts:?}"
                );
            }
        }
    }
    // Every logical create made at most one token, and a create retried after
    // a dropped connection got the stored answer.
    let creates = by_key(&lines, "WebhookTokenCreate");
    let mut retried_creates = 0;
    for (key, attempts) in &creates {
        let made = attempts.iter().filter(|l| made_a_token(l)).count();
        assert!(made <= 1, "key {key} made {made} tokens: {attempts:?}");
        if attempts.len() > 1 {
            retried_creates += 1;
        }
        if attempts.first().is_some_and(|l| l["fault"] == "drop") && attempts.len() > 1 {
            assert!(
                attempts[1..].iter().any(|l| l["replayed"] == true)
                    || attempts[1..].iter().all(|l| l["fault"] == "unavailable"),
                "a create retried after a drop was not replayed: {attempts:?}"
            );
        }
    }
    assert!(replays > 0, "no create was replayed; raise the drop rate");

    let truth = tokens_by_name(&world);
    let mut lost = 0;
    let mut failed_but_made = 0;
    for (name, token_id) in &created {
        let ids = truth.get(name).cloned().unwrap_or_default();
        match token_id {
            Some(id) => {
                if ids.as_slice() != std::slice::from_ref(id) {
                    lost += 1;
                }
                assert_eq!(ids, std::slice::from_ref(id), "{name}");
            }
            None => {
                assert!(ids.len() <= 1, "{name}: {ids:?}");
                failed_but_made += ids.len();
            }
        }
    }
    let scan = assert_no_secrets(&world, &secrets);
    eprintln!(
        "upstream faults: {} calls reached the emulator, {faults} faults injected \
         ({unavailable} UNAVAILABLE, {dropped} dropped connections; 10% delayed 150 ms), \
         {replays} replayed answers; {reads} reads, {read_failures} failed after all retries; \
         {} creates ({} retried, {} failed, {failed_but_made} of those made a token), \
         mutations lost = {lost}, duplicates = 0; secret scan: {} files, {} processes",
        delayed_calls,
        created.len(),
        retried_creates,
        created.iter().filter(|(_, c)| c.is_none()).count(),
        scan.files,
        scan.processes
    );
    assert_eq!(lost, 0);
}

#[test]
fn a_slow_server_is_waited_for_not_mistaken_for_a_dead_one() {
    // Longer than the daemon's HTTP/2 keep-alive interval: the server's PING
    // acknowledgement keeps the call alive while its handler is slow.
    let (world, emulator) =
        world_with_emulator(&["--fault-delay-ms", "6000", "--fault-delay-rate", "1"]);
    let started = Instant::now();
    let out = ok(&world.mws(&["proxy-tokens", "list", "--json"]));
    assert!(out.contains("wk-"), "{out}");
    assert!(started.elapsed() >= Duration::from_secs(6));
    assert_eq!(emulator.count("WebhookTokenList"), 1, "no retry was needed");
}

/// Runs `mws members list` against `url` and checks the error a user gets.
fn assert_unreachable_is_clear(url: &str) -> Duration {
    let mut world = World::new();
    world
        .set("MODAL_SERVER_URL", url)
        .set("MODAL_TOKEN_ID", "ak-unreachable")
        .set("MODAL_TOKEN_SECRET", "as-unreachablesecret");
    // Built (or found up to date) before the clock starts.
    let _ = mws_e2e::bin("mws");
    let started = Instant::now();
    let out = world.mws(&["members", "list"]);
    let took = started.elapsed();
    assert_clear_error(&out);
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "Error: Could not connect to the Modal server at {url}"
        )),
        "{err}"
    );
    assert!(!err.contains("unreachablesecret"));
    // "About ten seconds"; the bound is generous for a loaded machine.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    took
}

#[test]
fn unreachable_servers_fail_clearly_within_about_ten_seconds() {
    // Nothing listens: refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = assert_unreachable_is_clear(&format!("http://127.0.0.1:{port}"));

    // Something accepts the connection and never says a word (a hung server,
    // a black-holing proxy): the unanswered HTTP/2 PING gives it away.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            match listener.accept() {
                Ok((conn, _)) => held.push(conn),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
            if held.len() > 16 {
                break;
            }
        }
    });
    let silent = assert_unreachable_is_clear(&url);
    drop(holder);
    eprintln!("unreachable: refused in {refused:?}, silent server in {silent:?}");
}
