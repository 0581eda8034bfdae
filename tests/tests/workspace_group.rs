//! End-to-end conformance of `mws settings`, `mws service-users` and
//! `mws member-tokens` with `modal workspace …` (modal 1.6.4): the real
//! emulator, daemon and official client on the same state, stdout, stderr
//! and exit code compared byte for byte.

use mws_e2e::{ok, start_emulator, stderr, stdout, Emulator, World};
use std::process::Output;

/// A world on a fresh demo emulator (owner credential). The daemon it starts
/// serves every read fresh, so admin changes are seen at once.
fn world() -> (World, Emulator) {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    world.set("MWS_DEFAULT_MAX_AGE_SECS", "0");
    world.set("TZ", "Asia/Kolkata");
    (world, emulator)
}

fn admin(emulator: &Emulator, args: &[&str]) -> String {
    let mut all = vec!["admin"];
    all.extend(args);
    emulator.admin(&all).expect("mws-emulator admin")
}

/// `modal workspace ARGS` and `mws ARGS`: same stdout, stderr, exit code.
/// `official` is run first; `between` then restores the state for mws.
fn same_with(world: &World, args: &[&str], between: impl FnOnce()) -> Output {
    let mut official_args = vec!["workspace"];
    official_args.extend(args);
    let official = world.modal(&official_args);
    between();
    let ours = world.mws(args);
    // The caller's own token's `last_used_at` moves with every call (the
    // server records each use), so times are compared apart, within 5 s.
    let (ours_text, ours_times) = without_seconds(&stdout(&ours));
    let (theirs_text, theirs_times) = without_seconds(&stdout(&official));
    assert_eq!(
        (ours_text, ours.status.code()),
        (theirs_text, official.status.code()),
        "stdout / exit of `{}` differ; mws stderr: {}",
        args.join(" "),
        stderr(&ours)
    );
    assert_close(&ours_times, &theirs_times);
    assert_eq!(
        stderr(&ours).lines().next(),
        stderr(&official).lines().next(),
        "stderr of `{}` differs",
        args.join(" ")
    );
    ours
}

fn same(world: &World, args: &[&str]) -> Output {
    same_with(world, args, || {})
}

#[test]
fn settings_list_and_set_match_the_official_cli() {
    let (mut world, emulator) = world();
    same(&world, &["settings", "list"]);
    same(&world, &["settings", "list", "--json"]);
    world.set("COLUMNS", "40");
    same(&world, &["settings", "list"]);
    world.set("COLUMNS", "120");
    let out = same_with(
        &world,
        &["settings", "set", "default-environment", "prod"],
        || {
            admin(&emulator, &["settings", "set-default-env", "main"]);
        },
    );
    assert_eq!(
        stdout(&out),
        "✓ default-environment: updated from main to prod\n"
    );
    // The same spelling as the official CLI works too.
    let out = world.mws(&["workspace", "settings", "list", "--json"]);
    assert!(ok(&out).contains("\"value\": \"prod\""), "{}", stdout(&out));
    // Refused changes: a ✗ line on stdout and exit 1.
    let out = same(
        &world,
        &["settings", "set", "image-builder-versio", "2025.06"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("✗ image-builder-versio: "));
    same(
        &world,
        &["settings", "set", "default-environment", "nosuchenv"],
    );
}

#[test]
fn service_users_list_and_info_match_the_official_cli() {
    let (mut world, emulator) = world();
    admin(
        &emulator,
        &[
            "service-user",
            "add",
            "release-bot",
            "--created-at",
            "1740000000",
            "--expires-at",
            "1900000000",
            "--role",
            "main=viewer",
            "--role",
            "prod=contributor",
        ],
    );
    admin(&emulator, &["service-user", "add", "no-access-bot"]);
    for columns in ["60", "80", "120"] {
        world.set("COLUMNS", columns);
        same(&world, &["service-users", "list"]);
        for name in ["ci-deployer", "release-bot", "no-access-bot"] {
            same(&world, &["service-users", "info", name]);
        }
    }
    same(&world, &["service-users", "list", "--json"]);
    for name in ["ci-deployer", "release-bot", "no-access-bot"] {
        same(&world, &["service-users", "info", name, "--json"]);
    }
    let out = same(&world, &["service-users", "info", "no-access-bot"]);
    assert!(stdout(&out).contains("⚠ This Service User does not have access to any Environments."));
    let out = same(&world, &["service-users", "info", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    // Empty list.
    for name in [
        "ci-deployer",
        "nightly-eval",
        "release-bot",
        "no-access-bot",
    ] {
        admin(&emulator, &["service-user", "remove", name]);
    }
    same(&world, &["service-users", "list"]);
    let out = same(&world, &["service-users", "list", "--json"]);
    assert_eq!(stdout(&out), "[]\n");
}

/// Replaces the credential in a `create` output so two runs compare: ids
/// and secrets cut to their prefix, and the part of one folded onto the
/// next line (a narrow console) masked.
/// Times of day (from [`without_seconds`]) at most 5 s apart, pairwise.
fn assert_close(ours: &[i64], theirs: &[i64]) {
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(theirs) {
        let apart = (a - b).rem_euclid(86_400).min((b - a).rem_euclid(86_400));
        assert!(apart <= 5, "{a} vs {b} seconds of the day");
    }
}

/// `text` with every `HH:MM:SS` time replaced by `hh:mm:ss`, and those
/// times in seconds of the day, in order.
fn without_seconds(text: &str) -> (String, Vec<i64>) {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut seconds = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let time = i + 8 <= chars.len()
            && chars[i..i + 8].iter().enumerate().all(|(k, c)| {
                if k == 2 || k == 5 {
                    *c == ':'
                } else {
                    c.is_ascii_digit()
                }
            });
        if time {
            out.push_str("hh:mm:ss");
            let field = |k: usize| -> i64 {
                chars[i + k..i + k + 2]
                    .iter()
                    .collect::<String>()
                    .parse()
                    .unwrap()
            };
            seconds.push(field(0) * 3600 + field(3) * 60 + field(6));
            i += 8;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    (out, seconds)
}

fn without_credential(text: &str) -> String {
    let cut: String = text
        .split_inclusive(['\n', ' ', '"', '='])
        .map(|word| {
            let bare = word.trim_end_matches(['\n', ' ', '"', '=']);
            if bare.starts_with("ak-") || bare.starts_with("as-") {
                word.replacen(bare, &bare[..3], 1)
            } else {
                word.to_owned()
            }
        })
        .collect();
    let mut out = String::new();
    let mut previous = String::new();
    for line in cut.split_inclusive('\n') {
        let folded = (previous.trim_end().ends_with("ak-") || previous.trim_end().ends_with("as-"))
            && !line.trim().is_empty()
            && line.trim().chars().all(|c| c.is_ascii_alphanumeric());
        let line = if folded {
            line.chars()
                .map(|c| if c.is_ascii_alphanumeric() { 'x' } else { c })
                .collect()
        } else {
            line.to_owned()
        };
        out.push_str(&line);
        previous = line;
    }
    out
}

#[test]
fn service_users_create_prints_the_secret_once_like_the_official_cli() {
    let (mut world, _emulator) = world();
    for (columns, name, extra) in [
        ("80", "bot-a", vec![]),
        ("120", "bot-b", vec!["--expires-in", "2h"]),
        ("40", "bot-c", vec!["--expires-in", "3600"]),
        ("80", "bot-d", vec!["--json"]),
        ("80", "bot-e", vec!["--expires-in", "7d", "--json"]),
    ] {
        world.set("COLUMNS", columns);
        // Names are unique: each CLI creates its own, of the same length.
        let (theirs_name, ours_name) = (format!("{name}1"), format!("{name}2"));
        let mut official_args = vec!["workspace", "service-users", "create", &theirs_name];
        official_args.extend(&extra);
        let official = world.modal(&official_args);
        let mut args = vec!["service-users", "create", &ours_name];
        args.extend(&extra);
        let ours = world.mws(&args);
        assert_eq!(ours.status.code(), Some(0), "{}", stderr(&ours));
        // The two creations are a moment apart, so an expiry may differ in
        // its seconds: times are compared apart, within 5 s.
        let (ours_text, ours_secs) = without_seconds(&stdout(&ours));
        let (theirs_text, theirs_secs) = without_seconds(&stdout(&official));
        assert_eq!(
            without_credential(&ours_text).replace(&ours_name, &theirs_name),
            without_credential(&theirs_text),
            "{args:?} at COLUMNS={columns}"
        );
        assert_close(&ours_secs, &theirs_secs);
        assert!(stdout(&ours).contains("as-"), "the secret is shown once");
    }
}

#[test]
fn bad_expires_in_is_a_usage_error_like_the_official_cli() {
    let (world, emulator) = world();
    for value in ["5x", "0", "-5", "1.5h", "1w"] {
        let args = ["service-users", "create", "x", "--expires-in", value];
        let official = world.modal(&[&["workspace"], &args[..]].concat());
        let ours = world.mws(&[&["workspace"], &args[..]].concat());
        assert_eq!(ours.status.code(), Some(2));
        assert_eq!(official.status.code(), Some(2));
        assert!(stdout(&ours).is_empty());
        assert_eq!(
            stderr(&ours),
            stderr(&official).replace("modal workspace", "mws workspace"),
            "--expires-in {value}"
        );
    }
    assert_eq!(emulator.count("ServiceUserCreate"), 0);
}

#[test]
fn service_users_delete_and_set_role_match_the_official_cli() {
    let (world, emulator) = world();
    let add = || {
        admin(&emulator, &["service-user", "add", "temp-bot"]);
    };
    add();
    same_with(&world, &["service-users", "delete", "temp-bot", "-y"], add);
    same(
        &world,
        &[
            "service-users",
            "delete",
            "temp-bot",
            "--allow-missing",
            "-y",
        ],
    );
    let out = same(&world, &["service-users", "delete", "temp-bot", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    // No terminal: the prompt, then the hint to use --yes; nothing deleted.
    let out = same(&world, &["service-users", "delete", "ci-deployer"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(ok(&world.mws(&["service-users", "info", "ci-deployer"])).contains("ci-deployer"));

    // set-role: the four official outcomes.
    let reset = |role: &str| {
        admin(
            &emulator,
            &["service-user", "set-role", "ci-deployer", "prod", role],
        );
    };
    same_with(
        &world,
        &["service-users", "set-role", "ci-deployer", "prod", "viewer"],
        || reset("no-access"),
    );
    same(
        &world,
        &["service-users", "set-role", "ci-deployer", "prod", "viewer"],
    );
    same_with(
        &world,
        &[
            "service-users",
            "set-role",
            "ci-deployer",
            "prod",
            "no-access",
        ],
        || reset("viewer"),
    );
    let out = same(
        &world,
        &[
            "service-users",
            "set-role",
            "ci-deployer",
            "prod",
            "no-access",
        ],
    );
    assert!(stdout(&out).contains("does not have access to Environment prod already"));
    same(
        &world,
        &["service-users", "set-role", "nobody", "prod", "viewer"],
    );
}

#[test]
fn member_tokens_match_the_official_cli() {
    let (mut world, emulator) = world();
    for columns in ["60", "80", "120"] {
        world.set("COLUMNS", columns);
        same(&world, &["member-tokens", "list"]);
    }
    same(&world, &["member-tokens", "list", "--json"]);
    let id = |name: &str| {
        admin(
            &emulator,
            &[
                "member-token",
                "add",
                "--member",
                "grace@acme-ml.example",
                "--name",
                name,
            ],
        )
        .trim()
        .to_string()
    };
    let (a, b) = (id("a"), id("b"));
    // Disable two ids given three times: the official count is 2.
    same_with(
        &world,
        &["member-tokens", "disable", &a, &b, &a, "-y"],
        || {
            admin(&emulator, &["member-token", "enable", &a]);
            admin(&emulator, &["member-token", "enable", &b]);
        },
    );
    // With a disabled token, the Disabled column appears.
    let out = same(&world, &["member-tokens", "list"]);
    assert!(stdout(&out).contains("Disabled"));
    same_with(
        &world,
        &["member-tokens", "enable", &a, &b, "--yes"],
        || {
            admin(&emulator, &["member-token", "disable", &a]);
            admin(&emulator, &["member-token", "disable", &b]);
        },
    );
    // Prompts without a terminal: nothing changes.
    same(&world, &["member-tokens", "disable", &a]);
    same(&world, &["member-tokens", "enable", &a]);
    same(&world, &["member-tokens", "delete", &a]);
    same(&world, &["member-tokens", "disable", "--all"]);
    // Delete (each CLI its own token), then again with and without
    // --allow-missing.
    let c = id("c");
    let official = world.modal(&["workspace", "member-tokens", "delete", &c, "-y"]);
    let ours = world.mws(&["member-tokens", "delete", &a, "-y"]);
    assert_eq!(stdout(&ours), stdout(&official).replace(&c, &a));
    assert_eq!(stdout(&ours), format!("✓ Deleted Token `{a}`.\n"));
    same(
        &world,
        &["member-tokens", "delete", &a, "--allow-missing", "-y"],
    );
    let out = same(&world, &["member-tokens", "delete", &a, "-y"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn permission_denied_reads_like_the_official_cli_for_a_plain_member() {
    let (mut world, emulator) = world();
    let credential: serde_json::Value = serde_json::from_str(
        &emulator
            .admin(&[
                "credentials",
                "create",
                "--member",
                "alan@acme-ml.example",
                "--json",
            ])
            .expect("member credential"),
    )
    .expect("json");
    world.set("MODAL_TOKEN_ID", credential["token_id"].as_str().unwrap());
    world.set(
        "MODAL_TOKEN_SECRET",
        credential["token_secret"].as_str().unwrap(),
    );
    for args in [
        vec!["settings", "list"],
        vec!["settings", "set", "default-environment", "prod"],
        vec!["service-users", "list"],
        vec!["service-users", "info", "ci-deployer"],
        vec!["service-users", "create", "sneaky"],
        vec!["service-users", "delete", "ci-deployer", "-y"],
    ] {
        let out = same(&world, &args);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
    }
    // A plain member sees (only) their own tokens.
    same(&world, &["member-tokens", "list", "--json"]);
}

#[test]
fn usage_errors_have_the_official_shape() {
    let (world, _emulator) = world();
    for args in [
        vec!["proxy-tokens", "delete", "a", "b"],
        vec!["proxy-tokens", "delete", "a", "b", "c"],
        vec!["proxy-tokens", "list", "--bogus"],
        vec!["proxy-tokens", "list", "-e"],
        vec!["service-users", "create", "x", "--expires-in"],
        vec!["member-tokens", "disable", "a", "--bogus"],
        vec!["settings", "set", "x"],
        vec!["nope"],
    ] {
        let mut official_args = vec!["workspace"];
        official_args.extend(&args);
        let official = world.modal(&official_args);
        let ours = world.mws(&official_args);
        assert_eq!(ours.status.code(), Some(2), "{args:?}");
        assert_eq!(official.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&ours),
            stderr(&official).replace("modal workspace", "mws workspace"),
            "{args:?}"
        );
    }
}

#[test]
fn auth_check_and_daemon_status_show_the_credential() {
    let (world, _emulator) = world();
    let out = world.mws(&["auth", "check"]);
    let text = ok(&out);
    assert!(text.contains("owner:"), "{text}");
    assert!(text.contains("expires:    never"), "{text}");
    let status = ok(&world.mws(&["daemon", "status"]));
    assert!(status.contains("owner:"), "{status}");
}
