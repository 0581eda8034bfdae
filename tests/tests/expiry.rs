//! Expiry alerts on every credential kind, with the bundled `expiry` plugin
//! found beside mwsd (no copy into a plugin folder), against the emulator's
//! demo workspace: a service user expiring three days after seeding, a
//! member token already expired, one disabled, one unused for a long time,
//! proxy tokens old enough to "expire" by age — plus, made here, the
//! caller's own credential expiring in five days and a service user
//! expiring in ten.
//!
//! Also: `mws alerts` as a script check (exit codes by `--fail-on`), the
//! error when no alert plugin is loaded, alerts announced from the daemon's
//! first second without any listing and not again after a restart, and
//! `proxy-tokens rotate` keeping name, scope and environments, exactly once
//! when the daemon is killed midway.

use mws_e2e::plugins::{json_of, plugin_dir};
use mws_e2e::{ok, start_emulator, stderr, stdout, Emulator, World};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const DAY: f64 = 86_400.0;

/// The UTC date `days` from now, as `YYYY-MM-DD`.
fn date_in(days: f64) -> String {
    let out = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", (now() + days * DAY) as i64),
            "+%F",
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A world on the demo emulator with the bundled plugins on.
fn world_with_bundled_plugins(emulator_args: &[&str]) -> (World, Emulator) {
    plugin_dir(); // builds the bundled plugins beside mwsd
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), emulator_args).expect("emulator");
    world.use_emulator(&emulator);
    world.unset("MWS_BUNDLED_PLUGINS");
    (world, emulator)
}

/// A member token of Ada (an owner) expiring in `days`: (id, secret).
fn credential_expiring_in(emulator: &Emulator, days: f64) -> (String, String) {
    let expires = format!("{}", (now() + days * DAY) as i64);
    let made = json_of(
        &emulator
            .admin(&[
                "admin",
                "--json",
                "member-token",
                "add",
                "--member",
                "ada@acme-ml.example",
                "--name",
                "ada-short",
                "--expires-at",
                &expires,
            ])
            .unwrap(),
    );
    (
        made["token_id"].as_str().unwrap().to_string(),
        made["token_secret"].as_str().unwrap().to_string(),
    )
}

/// `mws alerts --json --fail-on never`, keyed by (kind, credential).
fn alerts_of(world: &World) -> BTreeMap<(String, String), Value> {
    let listed = json_of(&ok(&world.mws(&["alerts", "--json", "--fail-on", "never"])));
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                (
                    a["kind"].as_str().unwrap().to_string(),
                    a["token_id"].as_str().unwrap().to_string(),
                ),
                a.clone(),
            )
        })
        .collect()
}

/// Member token ids by name, as `mws member-tokens list --json` shows them.
fn member_token_ids(world: &World) -> BTreeMap<String, String> {
    json_of(&ok(&world.mws(&["member-tokens", "list", "--json"])))
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| {
            Some((
                t["name"].as_str()?.to_string(),
                t["token_id"].as_str()?.to_string(),
            ))
        })
        .collect()
}

#[test]
fn every_kind_of_credential_is_judged_at_its_level_with_owner_date_and_fix() {
    let (mut world, emulator) = world_with_bundled_plugins(&[]);
    let (own_id, own_secret) = credential_expiring_in(&emulator, 5.0);
    world.set("MODAL_TOKEN_ID", own_id.clone());
    world.set("MODAL_TOKEN_SECRET", own_secret);
    emulator
        .admin(&[
            "admin",
            "service-user",
            "add",
            "soon-svc",
            "--expires-in-secs",
            "864000",
        ])
        .unwrap();

    // The bundled plugins were found beside mwsd, not in a plugin folder.
    let listed = json_of(&ok(&world.mws(&["plugins", "list", "--json"])));
    let paths: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with("/libmws_plugin_expiry.so") && !p.contains("$")),
        "{listed}"
    );
    assert!(!paths.iter().any(|p| p.contains("testing")), "{listed}");
    assert!(!world.path("data/mws/plugins").exists());

    let tokens = member_token_ids(&world);
    let alerts = alerts_of(&world);
    let level = |kind: &str, id: &str| -> String {
        let alert = alerts
            .get(&(kind.to_string(), id.to_string()))
            .unwrap_or_else(|| panic!("no {kind} alert for {id}: {alerts:#?}"));
        alert["level"].as_str().unwrap().to_string()
    };
    assert_eq!(level("credential_expiry", &own_id), "warning");
    assert_eq!(level("service_user_expiry", "nightly-eval"), "critical");
    assert_eq!(level("service_user_expiry", "soon-svc"), "warning");
    assert_eq!(
        level("member_token_expiry", &tokens["alan-notebook"]),
        "expired"
    );
    // The caller's own token is announced once, as the credential in use.
    assert!(!alerts.contains_key(&("member_token_expiry".to_string(), own_id.clone())));
    assert_eq!(level("member_token_disabled", &tokens["alan-ci"]), "info");
    assert_eq!(level("member_token_stale", &tokens["grace-laptop"]), "info");
    assert_eq!(level("member_token_stale", &tokens["margaret-cli"]), "info");
    assert!(
        alerts
            .iter()
            .any(|((kind, _), a)| kind == "token_age" && a["level"] == "expired"),
        "the demo's old proxy tokens: {alerts:#?}"
    );
    // Nothing about credentials that are fine.
    assert!(
        !alerts.keys().any(|(_, id)| id == "staging-deployer"),
        "{alerts:#?}"
    );

    // Each names the owner, the date and the fixing command.
    let own = &alerts[&("credential_expiry".to_string(), own_id.clone())];
    assert_eq!(own["owner"], "ada", "{own}");
    assert!(
        own["expires_at"]
            .as_str()
            .unwrap()
            .starts_with(&date_in(5.0)),
        "{own}"
    );
    assert_eq!(own["fix"], "modal token new");
    assert!(
        own["message"]
            .as_str()
            .unwrap()
            .contains("expires in 5 days"),
        "{own}"
    );
    let nightly = &alerts[&(
        "service_user_expiry".to_string(),
        "nightly-eval".to_string(),
    )];
    assert!(
        nightly["fix"]
            .as_str()
            .unwrap()
            .starts_with("mws service-users create nightly-eval"),
        "{nightly}"
    );
    assert!(!nightly["owner"].as_str().unwrap().is_empty(), "{nightly}");
    let notebook = &alerts[&(
        "member_token_expiry".to_string(),
        tokens["alan-notebook"].clone(),
    )];
    assert_eq!(notebook["owner"], "Alan Turing", "{notebook}");
    assert!(
        notebook["message"].as_str().unwrap().contains("2025-01-01"),
        "{notebook}"
    );
    let table = ok(&world.mws(&["alerts", "--fail-on", "never"]));
    assert!(table.starts_with("LEVEL"), "{table}");
    assert!(table.contains("Fix: modal token new"), "{table}");

    // Thresholds per kind in [plugins.expiry]: service users warned a
    // month ahead... and proxy tokens never "expire" by age.
    let config = world.path("config/mws/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[plugins.expiry]\nmax_age_days = 36500\n[plugins.expiry.service_users]\ncritical_days = 0\n",
    )
    .unwrap();
    ok(&world.mws(&["daemon", "restart"]));
    let alerts = alerts_of(&world);
    assert!(
        !alerts.keys().any(|(kind, _)| kind == "token_age"),
        "{alerts:#?}"
    );
    assert_eq!(
        alerts[&(
            "service_user_expiry".to_string(),
            "nightly-eval".to_string()
        )]["level"],
        "warning"
    );
}

#[test]
fn alerts_exit_code_follows_fail_on_for_scripts() {
    let (mut world, emulator) = world_with_bundled_plugins(&[]);
    let config = world.path("config/mws/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    // Proxy tokens are not judged by age here.
    std::fs::write(&config, "[plugins.expiry]\nmax_age_days = 36500\n").unwrap();
    let code = |world: &World, fail_on: &str| -> Option<i32> {
        let out = world.mws(&["alerts", "--fail-on", fail_on]);
        assert!(
            stderr(&out).is_empty() || out.status.code() == Some(1),
            "{}",
            stderr(&out)
        );
        out.status.code()
    };
    // The demo has an expired member token (alan-notebook).
    assert_eq!(code(&world, "expired"), Some(1));
    assert_eq!(world.mws(&["alerts"]).status.code(), Some(1));
    assert_eq!(code(&world, "never"), Some(0));
    // Gone the expired token, "expired" passes and "critical" still fails
    // (nightly-eval expires within three days).
    let id = member_token_ids(&world)["alan-notebook"].clone();
    ok(&world.mws(&["member-tokens", "delete", &id, "--yes"]));
    assert_eq!(code(&world, "expired"), Some(0));
    assert_eq!(code(&world, "critical"), Some(1));
    // Only infos left (disabled and unused member tokens) once the
    // service users are gone: the default (warning) passes, info fails.
    ok(&world.mws(&["service-users", "delete", "nightly-eval", "--yes"]));
    assert_eq!(world.mws(&["alerts"]).status.code(), Some(0));
    assert_eq!(code(&world, "info"), Some(1));
    let out = world.mws(&["alerts", "--fail-on", "sometimes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Without an alert plugin nothing was checked: that is an error, not
    // "No alerts".
    world.set("MWS_BUNDLED_PLUGINS", "0");
    ok(&world.mws(&["daemon", "restart"]));
    let out = world.mws(&["alerts"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "Error: no alert plugin is loaded, so nothing checked the credentials (see `mws plugins list`; the bundled 'expiry' plugin does this)\n"
    );
    drop(emulator);
}

/// Notification lines for `mws` in the recording server's log.
fn notifications(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("Notify"))
        .map(String::from)
        .collect()
}

#[test]
fn alerts_are_true_from_the_first_second_and_not_announced_again_after_a_restart() {
    let (mut world, emulator) = world_with_bundled_plugins(&[]);
    let (_bus, log) = mws_e2e::SessionBus::with_notifications(&mut world);
    // The credential comes from ~/.modal.toml, as a user's would: the
    // daemon watches it from its start, before any command names it.
    let (id, secret) = credential_expiring_in(&emulator, 5.0);
    std::fs::write(
        world.path("home/.modal.toml"),
        format!(
            "[default]\ntoken_id = \"{id}\"\ntoken_secret = \"{secret}\"\nserver_url = \"{}\"\nactive = true\n",
            emulator.url
        ),
    )
    .unwrap();
    for key in ["MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET", "MODAL_SERVER_URL"] {
        world.unset(key);
    }
    world.set("MWS_POLL_INTERVAL_SECS", "1");
    let config = world.path("config/mws/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[plugins.expiry]\nmax_age_days = 36500\nstale_days = 0\n[notifications]\nevents = [\"alert.*\"]\n",
    )
    .unwrap();

    let started = Instant::now();
    ok(&world.mws(&["daemon", "start"]));
    // No listing, no command but `daemon start`: the alerts come anyway.
    let expected = [
        "Credential expired",
        "Credential expires in days",
        "Credential expiring soon",
    ];
    while !expected
        .iter()
        .all(|title| notifications(&log).iter().any(|l| l.contains(title)))
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:#?}",
            notifications(&log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "alerts announced {:?} after `mws daemon start`",
        started.elapsed()
    );
    // Several polls later, each was announced once.
    std::thread::sleep(Duration::from_secs(3));
    let first = notifications(&log);
    let mut unique = first.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), first.len(), "{first:#?}");
    // Urgency rises with the level (critical for expired and critical,
    // normal for warnings; the freedesktop hint byte is 2 or 1).
    let line = |title: &str| first.iter().find(|l| l.contains(title)).unwrap().clone();
    for (title, urgency) in [
        ("Credential expired", 2),
        ("Credential expires in days", 2),
        ("Credential expiring soon", 1),
        ("Credential notice", 0),
    ] {
        assert!(
            line(title).contains(&format!("{{\"urgency\": {urgency}}}")),
            "{title}: {first:#?}"
        );
    }
    // The credential in use is named once, not again as a member token.
    assert_eq!(
        first.iter().filter(|l| l.contains(&id)).count(),
        1,
        "{first:#?}"
    );
    let before = alerts_of(&world);

    // A restart neither announces them again nor forgets them.
    ok(&world.mws(&["daemon", "stop"]));
    ok(&world.mws(&["daemon", "start"]));
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(notifications(&log), first);
    let after = alerts_of(&world);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (key, alert) in &before {
        assert_eq!(alert["since"], after[key]["since"], "{key:?}");
    }
    assert!(world.path("state/mws/alerts.json").is_file());
}

/// The proxy tokens as `mws proxy-tokens list --json` shows them (for one
/// environment with `-e`).
fn proxy_tokens(world: &World, environment: Option<&str>) -> Vec<Value> {
    let mut args = vec!["proxy-tokens", "list", "--json", "--fresh"];
    if let Some(env) = environment {
        args.extend(["-e", env]);
    }
    json_of(&ok(&world.mws(&args))).as_array().unwrap().clone()
}

fn scoped_token(emulator: &Emulator, name: &str) -> String {
    let made = json_of(
        &emulator
            .admin(&[
                "admin", "--json", "token", "create", "--scoped", "--name", name,
            ])
            .unwrap(),
    );
    let id = made["token_id"].as_str().unwrap().to_string();
    emulator
        .admin(&["admin", "token", "allow", &id, "prod"])
        .unwrap();
    id
}

#[test]
fn rotate_keeps_name_scope_and_environments() {
    let (world, emulator) = world_with_bundled_plugins(&[]);
    let old = scoped_token(&emulator, "ci-hook");
    let in_prod = |world: &World| -> Vec<String> {
        proxy_tokens(world, Some("prod"))
            .iter()
            .filter(|t| t["name"] == "ci-hook")
            .map(|t| t["token_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(in_prod(&world), vec![old.clone()]);
    let out = world.mws(&["proxy-tokens", "rotate", &old, "--yes", "--json"]);
    let rotated = json_of(&ok(&out));
    let new = rotated["Modal-Key"].as_str().unwrap().to_string();
    assert!(rotated["Modal-Secret"].as_str().unwrap().starts_with("ws-"));
    assert_eq!(rotated["replaced_token_id"], old.as_str());
    assert_eq!(rotated["name"], "ci-hook");
    assert_eq!(rotated["old_deleted"], true);
    // The same name, allowed in the same environment; the old one gone.
    assert_eq!(in_prod(&world), vec![new.clone()]);
    let all = proxy_tokens(&world, None);
    assert!(
        !all.iter().any(|t| t["token_id"] == old.as_str()),
        "{all:?}"
    );
    // Still scoped: not usable in `main`, where it was never allowed.
    assert!(!proxy_tokens(&world, Some("main"))
        .iter()
        .any(|t| t["token_id"] == new.as_str()));

    // --keep-old leaves the old one for the user to delete.
    let out = world.mws(&["proxy-tokens", "rotate", &new, "--keep-old"]);
    let text = ok(&out);
    assert!(
        text.replace('\n', " ").contains("the old one is kept"),
        "{text}"
    );
    assert_eq!(in_prod(&world).len(), 2);
    // A token that does not exist is a clear error.
    let out = world.mws(&["proxy-tokens", "rotate", "wk-nope", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("Error: "), "{}", stderr(&out));
}

/// The end of mwsd's log (every daemon of the world appends to it), to say
/// why a round failed.
fn log_tail(world: &World) -> String {
    let log = std::fs::read_to_string(world.path("state/mws/mwsd.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[test]
fn rotate_happens_exactly_once_when_the_daemon_is_killed_midway() {
    // Every upstream call takes 200 ms, so the kills land inside the steps.
    let (world, emulator) =
        world_with_bundled_plugins(&["--fault-delay-ms", "200", "--fault-delay-rate", "1"]);
    let mut survived = 0;
    for (round, delay_ms) in [100u64, 300, 500, 700, 900, 1200].into_iter().enumerate() {
        let name = format!("rot-{round}");
        let old = scoped_token(&emulator, &name);
        ok(&world.mws(&["daemon", "start"]));
        let pid = world.daemon_pid().expect("daemon pid") as i32;
        let child = world
            .command(mws_e2e::bin("mws"))
            .args(["proxy-tokens", "rotate", &old, "--yes", "--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        // SAFETY: kill(2) of the daemon's pid, read just before.
        let killed = unsafe { libc::kill(pid, libc::SIGKILL) } == 0;
        let out = child.wait_with_output().unwrap();
        let named: Vec<Value> = proxy_tokens(&world, Some("prod"))
            .into_iter()
            .filter(|t| t["name"] == name.as_str())
            .collect();
        // Exactly one token of that name, and not the old one.
        assert_eq!(
            named.len(),
            1,
            "round {round} (kill at {delay_ms} ms): {named:?}; {}",
            stderr(&out)
        );
        let survivor = named[0]["token_id"].as_str().unwrap();
        assert_ne!(
            survivor,
            old,
            "round {round}: not rotated; {}\nmwsd.log, last lines:\n{}",
            stderr(&out),
            log_tail(&world)
        );
        if out.status.success() {
            let rotated = json_of(&stdout(&out));
            assert_eq!(rotated["Modal-Key"], survivor, "round {round}");
            survived += 1;
        } else {
            panic!(
                "round {round} (kill at {delay_ms} ms, killed: {killed}): {}\nmwsd.log, last lines:\n{}",
                stderr(&out),
                log_tail(&world)
            );
        }
    }
    eprintln!("rotate under kill -9: {survived}/6 rotations completed exactly once");
}
