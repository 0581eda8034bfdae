//! Plugins end to end: real cdylibs built by cargo (and a C plugin compiled
//! with `cc` from docs/plugins.md), loaded by a real daemon's plugin host,
//! against a real emulator.

use mws_e2e::plugins::{
    compile_c, install, install_file, json_of, plugin_dir, plugins_folder, Watcher,
};
use mws_e2e::{ok, start_emulator, stderr, workspace_root, Emulator, SessionBus, World};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::Command;
use std::time::{Duration, Instant};

const DAY: f64 = 86_400.0;

fn world_with_emulator() -> (World, Emulator) {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    (world, emulator)
}

fn plugins(world: &World) -> Vec<Value> {
    json_of(&ok(&world.mws(&["plugins", "list", "--json"])))
        .as_array()
        .unwrap()
        .clone()
}

fn plugin<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no plugin {name} in {list:?}"))
}

/// One request over the daemon's JSON-lines protocol.
fn raw_request(world: &World, request: Value) -> Value {
    let socket = world.path("run/mws/mwsd.sock");
    let stream = std::os::unix::net::UnixStream::connect(&socket).expect("daemon socket");
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    for message in [
        json!({"protocol_version": mws_ipc::PROTOCOL_VERSION, "client_version": "plugins-test", "features": []}),
        request,
    ] {
        writeln!(writer, "{message}").unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    json_of(&line)
}

/// A fenced block of docs/plugins.md, by its info string (e.g. `c example`).
fn docs_block(info: &str) -> String {
    let docs = std::fs::read_to_string(workspace_root().join("docs/plugins.md")).unwrap();
    let fence = format!("```{info}\n");
    let start = docs
        .find(&fence)
        .unwrap_or_else(|| panic!("docs/plugins.md has no ```{info} block"))
        + fence.len();
    let end = start + docs[start..].find("\n```").expect("closing fence");
    docs[start..=end].to_string()
}

fn csv_fields(line: &str) -> usize {
    // Count fields of a line without quoted commas.
    line.split(',').count()
}

#[test]
fn csv_output_quotes_commas_quotes_newlines_and_non_ascii() {
    let (mut world, emulator) = world_with_emulator();
    world.set("TZ", "Asia/Tokyo");
    install(&world, "csv");
    let made: Value = json_of(
        &emulator
            .admin(&[
                "admin",
                "--json",
                "token",
                "create",
                "--name",
                "say \"hi\", Zoë 日本",
                "--created-at",
                "1700000000",
            ])
            .unwrap(),
    );
    let id = made["token_id"].as_str().unwrap();

    let csv = ok(&world.mws(&["proxy-tokens", "list", "--format", "csv"]));
    let tokens = json_of(&ok(&world.mws(&["proxy-tokens", "list", "--json"])));
    let tokens = tokens.as_array().unwrap();
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines[0], "name,token_id,created_at,created_by,scoped");
    assert_eq!(lines.len(), tokens.len() + 1, "{csv}");
    assert!(!csv.contains('\u{feff}'), "no byte-order mark");
    // Timestamps exactly as --json prints them (in the CLI's time zone).
    let ours = tokens.iter().find(|t| t["token_id"] == id).unwrap();
    let created = ours["created_at"].as_str().unwrap();
    assert!(created.ends_with("+09:00"), "{created}");
    let expected = format!("\"say \"\"hi\"\", Zoë 日本\",{id},{created},ada,false");
    assert!(
        lines.contains(&expected.as_str()),
        "{expected} not in\n{csv}"
    );

    let members = ok(&world.mws(&["members", "list", "--format", "csv"]));
    let count = json_of(&ok(&world.mws(&["members", "list", "--json"])))
        .as_array()
        .unwrap()
        .len();
    let lines: Vec<&str> = members.split_terminator("\r\n").collect();
    assert_eq!(lines[0], "name,email,role,user_id,joined,last_active");
    assert_eq!(lines.len(), count + 1);
    assert!(lines.iter().all(|l| csv_fields(l) == 6), "{members}");

    // Newlines and CRs (which Modal's names cannot hold) through the same
    // daemon and plugin, straight over the socket.
    let answer = raw_request(
        &world,
        json!({"Render": {"format": "csv", "kind": "tokens",
            "json": json!([{"name": "two\nlines", "token_id": "wk-1", "created_at": null,
                            "created_by": "cr\rhere", "scoped": true}]).to_string()}}),
    );
    assert_eq!(
        answer["Rendered"],
        "name,token_id,created_at,created_by,scoped\r\n\"two\nlines\",wk-1,,\"cr\rhere\",true\r\n"
    );

    // --format json is --json; an unknown format lists the available ones.
    assert_eq!(
        ok(&world.mws(&["proxy-tokens", "list", "--format", "json"])),
        ok(&world.mws(&["proxy-tokens", "list", "--json"]))
    );
    let out = world.mws(&["members", "list", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown format 'xml' (available: json, csv)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn expiry_alerts_fire_once_at_the_right_threshold_and_reach_watchers() {
    let (mut world, emulator) = world_with_emulator();
    let (_bus, notifications) = SessionBus::with_notifications(&mut world);
    world.set("MWS_POLL_INTERVAL_SECS", "1");
    let config = world.path("config/mws/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[plugins.expiry]\nmax_age_days = 90\nwarn_days = 14\n",
    )
    .unwrap();
    install(&world, "expiry");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let token = |name: &str, age_days: f64| -> String {
        let created = format!("{}", (now - age_days * DAY) as i64);
        let made = json_of(
            &emulator
                .admin(&[
                    "admin",
                    "--json",
                    "token",
                    "create",
                    "--name",
                    name,
                    "--created-at",
                    &created,
                ])
                .unwrap(),
        );
        made["token_id"].as_str().unwrap().to_string()
    };
    let fresh = token("fresh", 10.0);
    let aging = token("aging", 80.0);
    let old = token("old", 100.0);

    ok(&world.mws(&["daemon", "start"]));
    let watcher = Watcher::start(&world);
    // Several polls: each alert must arrive exactly once.
    let events = watcher.collect(Duration::from_secs(5));
    let alerts: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "alert.token_age")
        .collect();
    let seen: Vec<(String, String)> = alerts
        .iter()
        .map(|e| {
            (
                e["after"]["token_id"].as_str().unwrap().to_string(),
                e["after"]["level"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // (The demo seed's own tokens are old, so they are announced too.)
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "announced twice: {seen:?}");
    assert!(
        seen.contains(&(aging.clone(), "warning".into())),
        "{seen:?}"
    );
    assert!(seen.contains(&(old.clone(), "expired".into())), "{seen:?}");
    assert!(!seen.iter().any(|(id, _)| *id == fresh), "{seen:?}");

    // Warnings exist, so `mws alerts` fails (exit 1) for scripts; with
    // `--fail-on never` it lists them and succeeds.
    let strict = world.mws(&["alerts", "--json"]);
    assert_eq!(strict.status.code(), Some(1), "{}", stderr(&strict));
    let listed = json_of(&ok(&world.mws(&["alerts", "--json", "--fail-on", "never"])));
    assert_eq!(listed, json_of(&String::from_utf8_lossy(&strict.stdout)));
    let listed = listed.as_array().unwrap();
    let mut current: Vec<(String, String)> = listed
        .iter()
        .filter(|a| a["kind"] == "token_age")
        .map(|a| {
            (
                a["token_id"].as_str().unwrap().to_string(),
                a["level"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    current.sort();
    assert_eq!(current, unique, "{listed:?}");
    let old_alert = listed.iter().find(|a| a["token_id"] == old).unwrap();
    assert_eq!(old_alert["level"], "expired");
    assert_eq!(old_alert["plugin"], "expiry");
    assert!(
        old_alert["message"]
            .as_str()
            .unwrap()
            .contains("100 days old"),
        "{old_alert}"
    );
    let table = ok(&world.mws(&["alerts", "--fail-on", "never"]));
    assert!(table.starts_with("LEVEL"), "{table}");
    assert!(
        table.contains(&aging) && table.contains("warning"),
        "{table}"
    );

    // A stricter policy (hot-reloaded): the aging token crosses into
    // `expired`, announced once; nothing else is announced again.
    let tmp = config.with_extension("tmp");
    std::fs::write(
        &tmp,
        "[plugins.expiry]\nmax_age_days = 70\nwarn_days = 14\n",
    )
    .unwrap();
    std::fs::rename(&tmp, &config).unwrap();
    let events = watcher.collect(Duration::from_secs(5));
    let again: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["type"] == "alert.token_age")
        .map(|e| {
            (
                e["after"]["token_id"].as_str().unwrap().to_string(),
                e["after"]["level"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(again, vec![(aging.clone(), "expired".to_string())]);

    // And they reached the desktop.
    let log = std::fs::read_to_string(&notifications).unwrap_or_default();
    // (The title names the level; the kind of credential is in the
    // message, since alerts cover every kind of credential.)
    assert!(
        log.contains("\"Credential expired\" \"Proxy token "),
        "{log}"
    );
    assert!(
        log.contains("\"Credential expiring soon\" \"Proxy token "),
        "{log}"
    );
}

#[test]
fn a_panicking_plugin_fails_only_that_request() {
    let (world, _emulator) = world_with_emulator();
    install(&world, "testing");
    install(&world, "csv");
    let out = world.mws(&["proxy-tokens", "list", "--format", "panic"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("plugin 'testing' failed while rendering format 'panic': panicked: testing plugin panicked on purpose"),
        "{err}"
    );
    let out = world.mws(&["proxy-tokens", "list", "--format", "fail"]);
    assert!(stderr(&out).contains("testing plugin refused on purpose"));
    let out = world.mws(&["proxy-tokens", "list", "--format", "garbage"]);
    assert!(stderr(&out).contains("returned output that is not UTF-8"));
    // Still loaded, and the others work.
    let list = plugins(&world);
    assert_eq!(plugin(&list, "testing")["state"], "loaded");
    assert!(ok(&world.mws(&["members", "list", "--format", "csv"])).starts_with("name,"));
}

/// Child processes of `pid` whose command line contains `needle`.
fn children_with(pid: u32, needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
        if ppid == Some(pid) && String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(child);
        }
    }
    found
}

#[test]
fn an_aborting_plugin_is_quarantined_and_nothing_else_is_hurt() {
    let (world, emulator) = world_with_emulator();
    install(&world, "csv");
    install(&world, "expiry");
    install(&world, "testing");
    let before = ok(&world.mws(&["proxy-tokens", "list", "--json"]));
    let daemon = world.daemon_pid().expect("daemon running");
    let calls = emulator.count("WebhookTokenList");

    // The plugin host holds no credentials: its environment is empty.
    ok(&world.mws(&["plugins", "list"]));
    let hosts = children_with(daemon, "--plugin-host");
    assert_eq!(hosts.len(), 1, "one plugin host");
    let environ = std::fs::read(format!("/proc/{}/environ", hosts[0])).unwrap();
    assert!(environ.is_empty(), "{}", String::from_utf8_lossy(&environ));

    let out = world.mws(&["proxy-tokens", "list", "--format", "abort"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("plugin 'testing' crashed the plugin host (killed by signal 6 (SIGABRT)) while rendering format 'abort'; it is quarantined"),
        "{err}"
    );

    // Same daemon, same cache (no new upstream call), other plugins fine.
    assert_eq!(world.daemon_pid(), Some(daemon));
    world.mws(&["proxy-tokens", "list", "--json"]);
    assert_eq!(ok(&world.mws(&["proxy-tokens", "list", "--json"])), before);
    assert!(emulator.count("WebhookTokenList") <= calls + 1);
    assert!(ok(&world.mws(&["proxy-tokens", "list", "--format", "csv"])).starts_with("name,"));
    let list = plugins(&world);
    let t = plugin(&list, "testing");
    assert_eq!(t["state"], "quarantined", "{t}");
    assert!(t["reason"].as_str().unwrap().contains("SIGABRT"), "{t}");
    assert_eq!(plugin(&list, "csv")["state"], "loaded");
    assert_eq!(plugin(&list, "expiry")["state"], "loaded");
    let table = ok(&world.mws(&["plugins", "list"]));
    assert!(table.contains("quarantined"), "{table}");
    // A new host is running, without the quarantined plugin's formats.
    assert_eq!(children_with(daemon, "--plugin-host").len(), 1);
    let out = world.mws(&["proxy-tokens", "list", "--format", "panic"]);
    assert!(
        stderr(&out).contains("unknown format 'panic'"),
        "{}",
        stderr(&out)
    );

    // Replacing the file (a fixed version) lifts the quarantine.
    install_file(
        &world,
        &plugin_dir().join("libmws_plugin_testing.so"),
        "libmws_plugin_testing.so",
        0o644,
    );
    assert_eq!(plugin(&plugins(&world), "testing")["state"], "loaded");
}

#[test]
fn files_that_break_the_rules_are_refused_with_the_reason() {
    let (world, _emulator) = world_with_emulator();
    install(&world, "csv");
    let csv = plugin_dir().join("libmws_plugin_csv.so");
    install_file(&world, &csv, "world-writable.so", 0o666);
    install_file(&world, &csv, "group-writable.so", 0o664);
    let text = world.path("notes.txt");
    std::fs::write(&text, "not a library\n").unwrap();
    install_file(&world, &text, "notes.so", 0o644);
    let bad_abi = compile_c(
        &world,
        r#"#include "mws_plugin.h"
static void free_buffer(uint8_t *p, size_t n) { (void)p; (void)n; }
static const mws_plugin d = { 99u, sizeof(mws_plugin), "future", "9.0", "", "", 0, 0, free_buffer };
const mws_plugin *mws_plugin_entry(void) { return &d; }
"#,
        "future",
    );
    install_file(&world, &bad_abi, "libfuture.so", 0o644);
    let no_entry = compile_c(&world, "int not_a_plugin(void) { return 1; }\n", "plain");
    install_file(&world, &no_entry, "libplain.so", 0o644);

    let list = plugins(&world);
    let reason = |file: &str| -> String {
        let p = list
            .iter()
            .find(|p| p["path"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("{file} not listed: {list:?}"));
        assert_eq!(p["state"], "refused", "{p}");
        p["reason"].as_str().unwrap().to_string()
    };
    assert!(reason("world-writable.so").contains("writable by group and others (mode 0666)"));
    assert!(reason("group-writable.so").contains("writable by group (mode 0664)"));
    assert_eq!(reason("notes.so"), "not a shared library (no ELF header)");
    assert_eq!(
        reason("libfuture.so"),
        "wrong ABI version 99 (this mws speaks version 1)"
    );
    assert_eq!(
        reason("libplain.so"),
        "has no `mws_plugin_entry` symbol (not an mws plugin)"
    );
    assert_eq!(plugin(&list, "csv")["state"], "loaded");
    // The table says the same.
    let table = ok(&world.mws(&["plugins", "list"]));
    assert!(table.contains("refused: wrong ABI version 99"), "{table}");
}

#[test]
fn the_c_plugin_from_the_docs_works_through_the_same_abi() {
    let (world, _emulator) = world_with_emulator();
    // The header shown in the docs is the real one.
    let header =
        std::fs::read_to_string(workspace_root().join("plugins/api/include/mws_plugin.h")).unwrap();
    assert_eq!(docs_block("c mws_plugin.h"), header);

    let library = compile_c(&world, &docs_block("c example"), "rowcount");
    install_file(&world, &library, "libmws_plugin_rowcount.so", 0o644);
    let list = plugins(&world);
    let p = plugin(&list, "rowcount");
    assert_eq!(p["state"], "loaded", "{p}");
    assert_eq!(p["version"], "1.0.0");
    assert_eq!(p["formats"], json!(["count"]));

    let members = json_of(&ok(&world.mws(&["members", "list", "--json"])));
    let n = members.as_array().unwrap().len();
    assert_eq!(
        ok(&world.mws(&["members", "list", "--format", "count"])),
        format!("{n} {}\n", if n == 1 { "row" } else { "rows" })
    );
    let tokens = json_of(&ok(&world.mws(&["proxy-tokens", "list", "--json"])));
    let n = tokens.as_array().unwrap().len();
    assert_eq!(
        ok(&world.mws(&["proxy-tokens", "list", "--format", "count"])),
        format!("{n} {}\n", if n == 1 { "row" } else { "rows" })
    );
}

#[test]
fn a_plugin_added_while_the_daemon_runs_is_picked_up() {
    let (world, _emulator) = world_with_emulator();
    plugins_folder(&world);
    ok(&world.mws(&["daemon", "start"]));
    let out = world.mws(&["proxy-tokens", "list", "--format", "csv"]);
    assert!(
        stderr(&out).contains("unknown format 'csv' (available: json)"),
        "{}",
        stderr(&out)
    );
    install(&world, "csv");
    // Noticed by the folder watcher, without any request in between.
    std::thread::sleep(Duration::from_secs(1));
    let log = std::fs::read_to_string(world.path("state/mws/mwsd.log")).unwrap_or_default();
    assert!(log.contains("plugin loaded"), "{log}");
    assert!(ok(&world.mws(&["proxy-tokens", "list", "--format", "csv"])).starts_with("name,"));
}

#[test]
fn a_hanging_plugin_is_stopped_at_the_timeout_and_quarantined() {
    let (world, _emulator) = world_with_emulator();
    let config = world.path("config/mws/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[plugins]\ntimeout_secs = 1\n").unwrap();
    install(&world, "testing");
    install(&world, "csv");
    let started = Instant::now();
    let out = world.mws(&["members", "list", "--format", "slow"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("plugin 'testing' did not answer within 1 s; the plugin host was stopped while rendering format 'slow'; it is quarantined"),
        "{err}"
    );
    let list = plugins(&world);
    assert_eq!(plugin(&list, "testing")["state"], "quarantined");
    assert!(ok(&world.mws(&["members", "list", "--format", "csv"])).starts_with("name,"));
}

#[test]
fn status_and_plugins_list_answer_while_a_plugin_hangs() {
    let (world, _emulator) = world_with_emulator();
    let config = world.path("config/mws/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[plugins]\ntimeout_secs = 8\n").unwrap();
    install(&world, "testing");
    // The daemon and its host are up before the hang starts.
    assert!(plugins(&world).iter().any(|p| p["name"] == "testing"));
    let hung = std::thread::scope(|scope| {
        let render = scope.spawn(|| world.mws(&["members", "list", "--format", "slow"]));
        // Give the render time to reach the plugin.
        std::thread::sleep(Duration::from_millis(500));
        let started = Instant::now();
        let status = world.mws(&["daemon", "status", "--json"]);
        let status_took = started.elapsed();
        let started = Instant::now();
        let list = world.mws(&["plugins", "list", "--json"]);
        let list_took = started.elapsed();
        let render_still_running = !render.is_finished();
        eprintln!(
            "while a plugin hangs: daemon status {status_took:?}, plugins list {list_took:?}"
        );
        assert!(status.status.success(), "{}", stderr(&status));
        assert!(list.status.success(), "{}", stderr(&list));
        let listed = json_of(&String::from_utf8_lossy(&list.stdout));
        assert!(listed.to_string().contains("testing"), "{listed}");
        let _ = render.join();
        render_still_running
    });
    assert!(
        hung,
        "daemon status and plugins list must answer while the plugin call is still hanging"
    );
}

/// A C plugin that answers every judgement with `count` alerts.
const FLOOD_PLUGIN: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mws_plugin.h"

#define COUNT 200000

static int32_t on_event(const uint8_t *name, size_t name_len, const uint8_t *input,
                        size_t input_len, uint8_t **output, size_t *output_len) {
    (void)name; (void)name_len; (void)input; (void)input_len;
    size_t cap = 64 + (size_t)COUNT * 64;
    char *out = malloc(cap);
    if (!out) return MWS_ERROR;
    size_t len = (size_t)sprintf(out, "{\"alerts\":[");
    for (int i = 0; i < COUNT; i++) {
        len += (size_t)sprintf(out + len, "%s{\"id\":\"c%d\",\"level\":\"info\",\"message\":\"m\"}",
                               i ? "," : "", i);
    }
    len += (size_t)sprintf(out + len, "]}");
    *output = (uint8_t *)out;
    *output_len = len;
    return MWS_OK;
}

static void free_buffer(uint8_t *ptr, size_t len) { (void)len; free(ptr); }

static const mws_plugin PLUGIN = {
    MWS_PLUGIN_ABI_VERSION, sizeof(mws_plugin), "flood", "1.0.0", "",
    "credentials.refreshed", NULL, on_event, free_buffer,
};

const mws_plugin *mws_plugin_entry(void) { return &PLUGIN; }
"#;

#[test]
fn a_flood_of_alerts_is_capped_counted_and_stalls_nobody() {
    let (world, _emulator) = world_with_emulator();
    let library = compile_c(&world, FLOOD_PLUGIN, "flood");
    install_file(&world, &library, "libflood.so", 0o644);
    ok(&world.mws(&["members", "list", "--json"]));

    // Judging 200,000 alerts runs while cached reads are made.
    let judging = {
        let world_env = world.env.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let out = Command::new(mws_e2e::bin("mws"))
                .env_clear()
                .envs(&world_env)
                .args(["alerts", "--json", "--fail-on", "never"])
                .output()
                .unwrap();
            (out, started.elapsed())
        })
    };
    let mut reads = Vec::new();
    while !judging.is_finished() {
        let started = Instant::now();
        ok(&world.mws(&["members", "list", "--json"]));
        reads.push(started.elapsed());
    }
    let (out, judged_in) = judging.join().unwrap();
    let alerts = json_of(&ok(&out));
    let flood = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["plugin"] == "flood")
        .count();
    // Capped at 10,000, and the rest counted where the user looks.
    assert_eq!(flood, 10_000);
    let list = plugins(&world);
    let error = plugin(&list, "flood")["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(error, "returned 200000 alerts; kept the first 10000");
    reads.sort();
    eprintln!(
        "200,000 alerts judged in {judged_in:?}; {} cached reads meanwhile, median {:?}, max {:?}",
        reads.len(),
        reads.get(reads.len() / 2),
        reads.last()
    );
}
