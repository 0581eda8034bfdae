//! End-to-end tests of `mws`: real `mws`, `mwsd` and `mws-emulator`
//! processes, and the official `modal` CLI as the reference.

use mws_e2e::{ok, start_emulator, stderr, stdout, Emulator, World};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// An emulator whose workspace has awkward names: non-ASCII, wide (CJK),
/// empty, very long, and names whose sort order differs by case.
fn awkward_emulator(world: &World) -> Emulator {
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    for (email, name, role, joined) in [
        ("zoe@example.com", "Zoë Ångström", "member", "1700000000.75"),
        ("yamada@example.com", "山田太郎", "manager", "1710000000"),
        ("empty@example.com", "", "member", "1690000000"),
        ("bob@example.com", "Bob", "member", "1720000000.999"),
        ("alice@example.com", "alice", "member", "1720000001"),
        (
            "long@example.com",
            "A very long display name that keeps going well past any sensible column width",
            "member",
            "1730000000",
        ),
    ] {
        emulator
            .admin(&[
                "admin",
                "member",
                "add",
                email,
                "--name",
                name,
                "--role",
                role,
                "--joined-at",
                joined,
            ])
            .expect("add member");
    }
    for (name, created_at) in [
        ("déploiement-🚀", "1741000000.5"),
        ("日本語のトークン名", "1742000000"),
        (
            "an extremely long proxy token name that will never fit in a narrow terminal",
            "1743000000",
        ),
    ] {
        emulator
            .admin(&[
                "admin",
                "token",
                "create",
                "--name",
                name,
                "--created-at",
                created_at,
            ])
            .expect("create token");
    }
    emulator
}

#[test]
fn local_profile_runs_the_main_job_on_a_fresh_machine() {
    let world = World::new();
    let out = world.mws(&["--profile", "local", "proxy-tokens", "list", "--json"]);
    let tokens: serde_json::Value = serde_json::from_str(&ok(&out)).expect("json");
    let tokens = tokens.as_array().expect("array");
    assert!(
        tokens.len() >= 3,
        "demo workspace has a few tokens: {tokens:?}"
    );
    assert!(
        tokens.iter().any(|t| t["scoped"] == true),
        "one demo token is scoped"
    );
    // The daemon was started on demand and is still there for the next call.
    assert!(world.daemon_pid().is_some());
    let members = ok(&world.mws(&["--profile", "local", "members", "list"]));
    assert!(members.contains("┏"), "a table: {members}");
}

#[test]
fn json_output_is_byte_identical_to_the_official_cli() {
    let mut world = World::new();
    let emulator = awkward_emulator(&world);
    world.use_emulator(&emulator);
    for tz in ["UTC", "Asia/Kolkata", "America/Phoenix"] {
        world.set("TZ", tz);
        for args in [
            vec!["members", "list", "--json"],
            vec!["proxy-tokens", "list", "--json"],
            vec!["proxy-tokens", "list", "-e", "prod", "--json"],
        ] {
            let mut official_args = vec!["workspace"];
            official_args.extend(&args);
            let official = world.modal(&official_args);
            let ours = world.mws(&args);
            assert_eq!(
                stdout(&ours),
                ok(&official),
                "`{}` differs in TZ={tz}; mws stderr: {}",
                args.join(" "),
                stderr(&ours)
            );
            assert!(ours.status.success());
        }
    }
}

#[test]
fn tables_match_the_official_cli_at_each_width() {
    let mut world = World::new();
    let emulator = awkward_emulator(&world);
    world.use_emulator(&emulator);
    world.set("TZ", "Asia/Kolkata");
    for columns in ["60", "80", "120"] {
        world.set("COLUMNS", columns);
        for args in [vec!["members", "list"], vec!["proxy-tokens", "list"]] {
            let mut official_args = vec!["workspace"];
            official_args.extend(&args);
            let official = ok(&world.modal(&official_args));
            let ours = ok(&world.mws(&args));
            assert_eq!(ours, official, "`{}` at COLUMNS={columns}", args.join(" "));
        }
    }
}

#[test]
fn every_mutation_round_trips_and_the_official_cli_sees_it() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);

    let created: serde_json::Value = serde_json::from_str(&ok(&world.mws(&[
        "proxy-tokens",
        "create",
        "--name",
        "ci",
        "--json",
    ])))
    .expect("create --json");
    let key = created["Modal-Key"]
        .as_str()
        .expect("Modal-Key")
        .to_string();
    let secret = created["Modal-Secret"].as_str().expect("Modal-Secret");
    assert!(key.starts_with("wk-") && secret.starts_with("ws-"));
    assert_eq!(
        created["Authorization"].as_str(),
        Some(format!("Bearer {key}.{secret}").as_str())
    );
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Modal-Key", "Modal-Secret", "Authorization"]);

    // Read-your-writes: the very next listing has it.
    let listed = ok(&world.mws(&["proxy-tokens", "list", "--json"]));
    assert!(listed.contains(&key), "{listed}");

    let out = ok(&world.mws(&["proxy-tokens", "update", &key, "name", "renamed"]));
    assert_eq!(out, format!("✓ Updated proxy token '{key}'\n"));
    let official = ok(&world.modal(&["workspace", "proxy-tokens", "list", "--json"]));
    assert!(official.contains("\"renamed\""), "{official}");

    let out = ok(&world.mws(&["proxy-tokens", "allow", &key, "prod"]));
    assert_eq!(
        out,
        format!("✓ Allowed proxy token '{key}' to authenticate to environment 'prod'\n")
    );
    let out = ok(&world.mws(&["proxy-tokens", "revoke", &key, "prod"]));
    assert_eq!(
        out,
        format!("✓ Revoked proxy token '{key}' access to environment 'prod'\n")
    );

    // An empty value clears the name.
    ok(&world.mws(&["proxy-tokens", "update", &key, "name", ""]));
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&world.mws(&["proxy-tokens", "list", "--json"]))).unwrap();
    let token = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token_id"] == key.as_str())
        .expect("token listed");
    assert_eq!(token["name"], "");

    let out = ok(&world.mws(&["proxy-tokens", "delete", &key, "--yes"]));
    assert_eq!(out, format!("✓ Deleted proxy token '{key}'\n"));
    let listed = ok(&world.mws(&["proxy-tokens", "list", "--json"]));
    assert!(
        !listed.contains(&key),
        "deleted token still listed: {listed}"
    );
    let official = ok(&world.modal(&["workspace", "proxy-tokens", "list", "--json"]));
    assert!(!official.contains(&key));
    // Exactly one create reached the server.
    assert_eq!(emulator.count("WebhookTokenCreate"), 1);
}

#[test]
fn server_errors_read_like_the_official_cli() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    for args in [
        vec!["proxy-tokens", "update", "wk-doesnotexist", "name", "x"],
        vec!["proxy-tokens", "delete", "wk-doesnotexist", "--yes"],
        vec!["proxy-tokens", "allow", "wk-doesnotexist", "prod"],
        vec!["proxy-tokens", "allow", "wk-doesnotexist", "nosuchenv"],
        vec!["proxy-tokens", "list", "-e", "nosuchenv"],
    ] {
        let ours = world.mws(&args);
        let mut official_args = vec!["workspace"];
        official_args.extend(&args);
        let official = world.modal(&official_args);
        assert_eq!(ours.status.code(), Some(1), "{args:?}");
        assert_eq!(official.status.code(), Some(1), "{args:?}");
        assert!(stdout(&ours).is_empty(), "{args:?}: {}", stdout(&ours));
        assert!(stderr(&ours).starts_with("Error: "), "{}", stderr(&ours));
        // The first line is the server's message, verbatim, as `modal` shows it.
        let first = stderr(&official).lines().next().unwrap_or("").to_string();
        assert_eq!(
            stderr(&ours).lines().next().unwrap_or(""),
            first,
            "{args:?}"
        );
    }
}

#[test]
fn an_unknown_member_role_is_an_error_like_the_official_cli() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    world.set("MWS_MAX_AGE", "0");
    for role in ["0", "7"] {
        // A role the client does not know (as a newer Modal might send).
        let status = std::process::Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
                 c.execute(\"UPDATE members SET role={role} WHERE email='alan@acme-ml.example'\"); c.commit()"
            ))
            .arg(&emulator.db)
            .status()
            .expect("python3");
        assert!(status.success());
        for json in [false, true] {
            let mut args = vec!["members", "list"];
            if json {
                args.push("--json");
            }
            let ours = world.mws(&args);
            let mut official_args = vec!["workspace"];
            official_args.extend(&args);
            let official = world.modal(&official_args);
            assert_eq!(ours.status.code(), Some(1), "{role}: {}", stdout(&ours));
            assert_eq!(official.status.code(), Some(1), "{role}");
            assert_eq!(stdout(&ours), stdout(&official), "{role}");
            assert_eq!(
                stderr(&ours).lines().next(),
                stderr(&official).lines().next(),
                "{role}"
            );
            assert!(
                stderr(&ours).contains(&format!("Unknown workspace member role: {role}")),
                "{}",
                stderr(&ours)
            );
        }
    }
}

#[test]
fn bad_input_is_refused_before_any_call() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    ok(&world.mws(&["proxy-tokens", "list"]));
    let calls_before = emulator.calls().len();

    for name in ["_bad", "en-prod", "has space", &"x".repeat(65)] {
        let out = world.mws(&["proxy-tokens", "allow", "wk-x", name]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).starts_with(&format!("Error: Invalid Environment name: '{name}'.")),
            "{}",
            stderr(&out)
        );
    }

    // delete without --yes, stdin not a terminal: prompt, then refuse.
    let out = world.mws(&["proxy-tokens", "delete", "wk-x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(
            "Are you sure you want to delete proxy token 'wk-x'? Requests using this token will be rejected. [y/N]: "
        ) || stderr(&out).contains("Are you sure you want to delete proxy token 'wk-x'?"),
        "{} / {}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stderr(&out).contains(
        "Aborted: no interactive terminal detected. Rerun with --yes (-y) to skip confirmation."
    ));

    // Only `name` can be updated: a usage error.
    let out = world.mws(&["proxy-tokens", "update", "wk-x", "colour", "red"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = world.mws(&["proxy-tokens", "list", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));

    assert_eq!(
        emulator.calls().len(),
        calls_before,
        "no RPC for refused input: {:?}",
        &emulator.calls()[calls_before..]
    );
}

#[test]
fn credential_problems_are_clear() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");

    // Nothing configured at all.
    let out = world.mws(&["proxy-tokens", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("Error: Token missing."), "{err}");
    assert!(err.contains("--profile local"), "{err}");

    // A wrong secret: the server's verdict, and the secret is not echoed.
    world.use_emulator(&emulator);
    world.set("MODAL_TOKEN_SECRET", "as-wrongwrongwrong");
    let out = world.mws(&["proxy-tokens", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("Error: Invalid token ID or token secret."),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("wrongwrong"));

    // The right secret, in the same daemon, works: no mixing.
    world.set("MODAL_TOKEN_SECRET", emulator.token_secret.clone());
    ok(&world.mws(&["proxy-tokens", "list"]));
    // ...and the wrong one still fails: a cache filled with the right secret
    // is not served to the wrong one.
    world.set("MODAL_TOKEN_SECRET", "as-wrongwrongwrong");
    assert_eq!(world.mws(&["proxy-tokens", "list"]).status.code(), Some(1));
}

#[test]
fn unreachable_server_fails_fast_naming_the_url() {
    let mut world = World::new();
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    world
        .set("MODAL_SERVER_URL", url.clone())
        .set("MODAL_TOKEN_ID", "ak-x")
        .set("MODAL_TOKEN_SECRET", "as-x");
    let started = Instant::now();
    let out = world.mws(&["members", "list"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&url), "{}", stderr(&out));
    assert!(
        took < Duration::from_secs(15),
        "took {took:?}; the official CLI's minute of retries is what we avoid"
    );
}

#[test]
fn official_spelling_is_accepted() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    let short = ok(&world.mws(&["proxy-tokens", "list", "--json"]));
    let long = ok(&world.mws(&["workspace", "proxy-tokens", "list", "--json"]));
    assert_eq!(short, long);
    let short = ok(&world.mws(&["members", "list", "--json"]));
    let long = ok(&world.mws(&["workspace", "members", "list", "--json"]));
    assert_eq!(short, long);
}

#[test]
fn version_help_and_completions() {
    let world = World::new();
    let out = ok(&world.mws(&["--version"]));
    assert!(out.starts_with("mws "), "{out}");
    let out = ok(&world.mws(&["proxy-tokens", "list", "--help"]));
    assert!(out.contains("--environment"), "{out}");
    assert!(out.contains("--json"));
    // Each shell's script asks `mws` itself on a tab press (dynamic
    // completion; what it offers is checked in toolchain.rs).
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(&world.mws(&["completions", shell]));
        assert!(
            out.contains("COMPLETE") && out.contains("mws"),
            "{shell}: {out}"
        );
    }
    let offered = world
        .command(mws_e2e::bin("mws"))
        .env("COMPLETE", "fish")
        .args(["--", "mws", "proxy-t"])
        .output()
        .unwrap();
    assert!(ok(&offered).starts_with("proxy-tokens"), "{}", ok(&offered));
    let out = world.mws(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Lines in the daemon log that announce a daemon start.
fn daemon_starts(world: &World) -> usize {
    std::fs::read_to_string(world.path("state/mws/mwsd.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("listening"))
        .count()
}

#[test]
fn fifty_concurrent_first_calls_start_one_daemon() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    let outputs = world.mws_concurrently(50, &["proxy-tokens", "list", "--json"]);
    let first = ok(&outputs[0]);
    for out in &outputs {
        assert_eq!(ok(out), first);
    }
    assert_eq!(daemon_starts(&world), 1, "exactly one daemon started");
}

#[test]
fn killed_daemon_is_replaced_by_the_next_call() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    let before = ok(&world.mws(&["proxy-tokens", "list", "--json"]));
    let pid = world.daemon_pid().expect("daemon runs");
    // SAFETY: plain kill(2) of a pid we just read.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(5);
    // SAFETY: signal 0 only checks for existence.
    while unsafe { libc::kill(pid as i32, 0) } == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // The socket file is still there, but nobody answers: the next call
    // starts a new daemon and succeeds.
    let after = ok(&world.mws(&["proxy-tokens", "list", "--json"]));
    assert_eq!(before, after);
    let new_pid = world.daemon_pid().expect("a new daemon");
    assert_ne!(pid, new_pid);
}

#[test]
fn two_profiles_at_once_stay_separate() {
    let world = World::new();
    let a = start_emulator(&world.path("emu-a"), &[]).expect("emulator a");
    let b = start_emulator(&world.path("emu-b"), &[]).expect("emulator b");
    b.admin(&["admin", "token", "create", "--name", "only-in-b"])
        .expect("token in b");
    std::fs::write(
        world.path("home/.modal.toml"),
        format!(
            "[a]\ntoken_id = \"{}\"\ntoken_secret = \"{}\"\nserver_url = \"{}\"\nactive = true\n\n\
             [b]\ntoken_id = \"{}\"\ntoken_secret = \"{}\"\nserver_url = \"{}\"\n",
            a.token_id, a.token_secret, a.url, b.token_id, b.token_secret, b.url
        ),
    )
    .unwrap();
    for _ in 0..3 {
        let in_a = ok(&world.mws(&["proxy-tokens", "list", "--json"]));
        let in_b = ok(&world.mws(&["--profile", "b", "proxy-tokens", "list", "--json"]));
        assert!(!in_a.contains("only-in-b"));
        assert!(in_b.contains("only-in-b"));
    }
    // MODAL_PROFILE selects too.
    let mut world = world;
    world.set("MODAL_PROFILE", "b");
    assert!(ok(&world.mws(&["proxy-tokens", "list"])).contains("only-in-b"));
}

#[test]
fn https_with_a_private_ca() {
    let mut world = World::new();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("certificate");
    let cert = world.path("cert.pem");
    let key = world.path("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let emulator = start_emulator(
        &world.path("emu"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .expect("tls emulator");
    assert!(emulator.url.starts_with("https://"), "{}", emulator.url);
    world.use_emulator(&emulator);
    world.set("MWS_CA_CERT", cert.display().to_string());
    let out = ok(&world.mws(&["proxy-tokens", "list", "--json"]));
    assert!(out.contains("wk-"), "{out}");
}

#[test]
fn stale_socket_file_is_replaced() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    let dir = world.socket_dir();
    // A socket nobody listens on any more (as after a crash).
    let listener = std::os::unix::net::UnixListener::bind(dir.join("mwsd.sock")).unwrap();
    drop(listener);
    assert!(dir.join("mwsd.sock").exists());
    ok(&world.mws(&["proxy-tokens", "list"]));
}

#[test]
fn a_daemon_of_another_protocol_version_is_replaced() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    let dir = world.socket_dir();
    // An "old daemon": answers every hello with protocol version 99.
    let hello = mws_ipc::codec::encode_frame(&mws_ipc::ServerHello {
        protocol_version: 99,
        daemon_version: "0.0.1".into(),
        pid: 0,
        features: vec![],
        error: Some("protocol version 1 is not supported".into()),
    })
    .unwrap();
    let hex: String = hello.iter().map(|b| format!("{b:02x}")).collect();
    let script = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(bytes.fromhex(sys.argv[2]))
    c.close()
"#;
    let mut old = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(dir.join("mwsd.sock"))
        .arg(hex)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(old.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");

    let out = ok(&world.mws(&["proxy-tokens", "list", "--json"]));
    assert!(out.contains("wk-"), "{out}");
    // The old daemon was asked to go (SIGTERM) and a current one answers.
    let status = old.wait().expect("old daemon exits");
    assert!(!status.success(), "stopped by a signal: {status:?}");
    let pid = world.daemon_pid().expect("a current daemon");
    assert_ne!(pid, old.id());
}

#[test]
fn delete_asks_on_a_terminal_and_obeys_the_answer() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    let created: serde_json::Value =
        serde_json::from_str(&ok(&world.mws(&["proxy-tokens", "create", "--json"]))).unwrap();
    let id = created["Modal-Key"].as_str().unwrap().to_string();

    let (screen, code) = world.mws_on_a_terminal(&["proxy-tokens", "delete", &id], "n\n");
    assert!(
        screen.contains(&format!(
            "Are you sure you want to delete proxy token '{id}'? Requests using this token will be rejected. [y/N]: "
        )),
        "{screen}"
    );
    assert_eq!(code, Some(1), "{screen}");
    assert!(ok(&world.mws(&["proxy-tokens", "list", "--json"])).contains(&id));
    assert_eq!(emulator.count("WebhookTokenDelete"), 0);

    let (screen, code) = world.mws_on_a_terminal(&["proxy-tokens", "delete", &id], "y\n");
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains(&format!("Deleted proxy token '{id}'")),
        "{screen}"
    );
    assert!(!ok(&world.mws(&["proxy-tokens", "list", "--json"])).contains(&id));
}
