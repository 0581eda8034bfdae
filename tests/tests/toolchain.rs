//! mws in the rest of a user's toolchain, with real processes: `mws exec`
//! and `mws env` handing a keyring-only credential to the official `modal`
//! CLI (gnome-keyring on a private D-Bus), and `mws prompt` answering from
//! the daemon's cache — silent and quick with no daemon or a stopped one.

use mws_e2e::plugins::json_of;
use mws_e2e::{bin, ok, start_emulator, stderr, stdout, Emulator, SessionBus, World};
use std::time::{Duration, Instant};

/// A world whose only copy of the secret, after `auth import --scrub`, is
/// in a real gnome-keyring: ~/.modal.toml keeps the token id and URL.
fn scrubbed_world() -> (World, SessionBus, Emulator) {
    let mut world = World::new();
    let bus = SessionBus::with_keyring(&mut world);
    world.set("MWS_KEYRING", "secret-service");
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    std::fs::write(
        world.path("home/.modal.toml"),
        format!(
            "[work]\ntoken_id = \"{}\"\ntoken_secret = \"{}\"\nserver_url = \"{}\"\nactive = true\n",
            emulator.token_id, emulator.token_secret, emulator.url
        ),
    )
    .unwrap();
    ok(&world.mws(&["auth", "import", "--scrub"]));
    let file = std::fs::read_to_string(world.path("home/.modal.toml")).unwrap();
    assert!(!file.contains(&emulator.token_secret), "{file}");
    (world, bus, emulator)
}

#[test]
fn exec_hands_the_keyring_credential_to_the_official_cli() {
    let (world, _bus, emulator) = scrubbed_world();
    // Alone, the official CLI has no secret any more.
    let alone = world.modal(&["workspace", "members", "list", "--json"]);
    assert_ne!(alone.status.code(), Some(0), "{}", stdout(&alone));

    // Under `mws exec` it works, and sees what mws sees.
    let modal = mws_e2e::official_cli();
    let out = world
        .command(bin("mws"))
        .arg("exec")
        .arg("--")
        .arg(&modal)
        .args(["workspace", "members", "list", "--json"])
        .output()
        .unwrap();
    let theirs = json_of(&ok(&out));
    let ours = json_of(&ok(&world.mws(&["members", "list", "--json"])));
    assert_eq!(theirs, ours);

    // The command's exit status and signals are its own.
    let out = world.mws(&["exec", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    let out = world.mws(&["exec", "--", "sh", "-c", "kill -TERM $$"]);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGTERM));
    // It is the command itself, not a wrapper: the same process.
    let child = world
        .command(bin("mws"))
        .args(["exec", "--", "sh", "-c", "echo $$"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(ok(&out), format!("{pid}\n"));
    // The variables, and no MODAL_PROFILE pointing elsewhere.
    let out = world.mws(&[
        "exec",
        "--",
        "sh",
        "-c",
        "echo \"$MODAL_TOKEN_ID $MODAL_SERVER_URL ${MODAL_PROFILE:-none}\"",
    ]);
    let line = stdout(&out);
    assert_eq!(
        line,
        format!("{} {} none\n", emulator.token_id, emulator.url)
    );
    let out = world
        .command(bin("mws"))
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            "printf %s \"$MODAL_TOKEN_SECRET\"",
        ])
        .output()
        .unwrap();
    assert_eq!(ok(&out), emulator.token_secret);

    // A command that does not exist: 127, like a shell.
    let out = world.mws(&["exec", "--", "no-such-command-anywhere"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).starts_with("Error: cannot run no-such-command-anywhere: "),
        "{}",
        stderr(&out)
    );
    // No command: a usage error.
    assert_eq!(world.mws(&["exec"]).status.code(), Some(2));
}

#[test]
fn env_prints_the_credential_for_eval_but_not_to_a_terminal() {
    let (world, _bus, emulator) = scrubbed_world();
    let text = ok(&world.mws(&["env"]));
    assert_eq!(
        text,
        format!(
            "export MODAL_TOKEN_ID='{}'\nexport MODAL_TOKEN_SECRET='{}'\nexport MODAL_SERVER_URL='{}'\n",
            emulator.token_id, emulator.token_secret, emulator.url
        )
    );
    // eval'd by a real shell, the official CLI works.
    let modal = mws_e2e::official_cli();
    let script = format!(
        "eval \"$({} env)\" && {} workspace members list --json",
        bin("mws").display(),
        modal.display()
    );
    let out = world.command("sh").args(["-c", &script]).output().unwrap();
    json_of(&ok(&out));
    let fish = ok(&world.mws(&["env", "--shell", "fish"]));
    assert!(
        fish.starts_with(&format!(
            "set -gx MODAL_TOKEN_ID '{}';\n",
            emulator.token_id
        )),
        "{fish}"
    );
    let json = json_of(&ok(&world.mws(&["env", "--shell", "json"])));
    assert_eq!(json["MODAL_TOKEN_SECRET"], emulator.token_secret.as_str());

    // On a terminal: refused, unless --reveal.
    let (shown, code) = world.mws_on_a_terminal(&["env"], "");
    assert_eq!(code, Some(1), "{shown}");
    assert!(
        shown.contains("refusing to print the API secret to a terminal"),
        "{shown}"
    );
    assert!(!shown.contains(&emulator.token_secret));
    let (shown, code) = world.mws_on_a_terminal(&["env", "--reveal"], "");
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains(&emulator.token_secret));
}

/// Runs `mws prompt ARGS`, timed.
fn prompt(world: &World, args: &[&str]) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let mut all = vec!["prompt"];
    all.extend(args);
    let out = world.mws(&all);
    (out, started.elapsed())
}

#[test]
fn prompt_answers_from_the_cache_and_is_silent_without_a_daemon() {
    mws_e2e::plugins::plugin_dir();
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    // The credential in use expires in two and a half days.
    let expires = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 2.5 * 86_400.0) as i64;
    let made = json_of(
        &emulator
            .admin(&[
                "admin",
                "--json",
                "member-token",
                "add",
                "--member",
                "ada@acme-ml.example",
                "--expires-at",
                &expires.to_string(),
            ])
            .unwrap(),
    );
    std::fs::write(
        world.path("home/.modal.toml"),
        format!(
            "[work]\ntoken_id = \"{}\"\ntoken_secret = \"{}\"\nserver_url = \"{}\"\nactive = true\n",
            made["token_id"].as_str().unwrap(),
            made["token_secret"].as_str().unwrap(),
            emulator.url
        ),
    )
    .unwrap();
    world.unset("MWS_BUNDLED_PLUGINS");
    world.set("MWS_POLL_INTERVAL_SECS", "3600");

    // No daemon: nothing printed, success, and no daemon started.
    let (out, took) = prompt(&world, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
    assert!(world.daemon_pid().is_none(), "prompt started a daemon");
    eprintln!("prompt without a daemon: {took:?}");

    // A daemon judging the default profile from its start.
    ok(&world.mws(&["daemon", "start"]));
    let deadline = Instant::now() + Duration::from_secs(20);
    let line = loop {
        let (out, _) = prompt(
            &world,
            &["--format", "{profile}@{workspace} {alert} [{level}]"],
        );
        let line = stdout(&out);
        if line.contains('⚠') || Instant::now() > deadline {
            break line;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(line, "work@acme-ml ⚠ token expires in 2d [critical]\n");
    // It never calls Modal.
    let calls = emulator.calls().len();
    let mut took = Vec::new();
    for _ in 0..20 {
        let (out, t) = prompt(&world, &[]);
        assert_eq!(stdout(&out), "acme-ml ⚠ token expires in 2d\n");
        took.push(t);
    }
    assert_eq!(emulator.calls().len(), calls, "prompt called the server");
    took.sort();
    eprintln!(
        "prompt, warm median of 20 (process start included): {:?}",
        took[10]
    );

    // A daemon that does not answer (stopped): silent, and the prompt
    // does not wait for it.
    let pid = world.daemon_pid().unwrap() as i32;
    // SAFETY: kill(2) with SIGSTOP/SIGCONT on the daemon's pid.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let (out, took) = prompt(&world, &[]);
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    assert!(
        took < Duration::from_secs(2),
        "waited {took:?} for a stopped daemon"
    );
    eprintln!("prompt with a stopped daemon: {took:?}");
}

/// What the completion engine offers for the last word of `words`, as
/// fish's completion script would ask for it.
fn complete(world: &World, words: &[&str]) -> Vec<String> {
    let out = world
        .command(bin("mws"))
        .env("COMPLETE", "fish")
        .arg("--")
        .args(words)
        .output()
        .unwrap();
    ok(&out)
        .lines()
        .map(|line| line.split('\t').next().unwrap().to_string())
        .filter(|word| !word.starts_with('-'))
        .collect()
}

fn ids_of(world: &World, args: &[&str], key: &str) -> Vec<String> {
    let mut ids: Vec<String> = json_of(&ok(&world.mws(args)))
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn completion_offers_cached_names_and_never_calls_modal() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    world.set("MWS_POLL_INTERVAL_SECS", "3600");
    let config = world.path("config/mws/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[webhooks.endpoints.team]\nurl = \"https://hooks.example.com/t\"\n\n\
         [webhooks.endpoints.chat]\nurl = \"https://hooks.example.com/c\"\nformat = \"slack\"\n",
    )
    .unwrap();
    // The registration script for each shell.
    assert!(ok(&world.mws(&["completions", "bash"]))
        .contains("complete -o nospace -o bashdefault -o nosort -F _clap_complete_mws mws"));
    assert!(
        ok(&world.mws(&["completions", "zsh"])).contains("compdef _clap_dynamic_completer_mws mws")
    );
    assert!(ok(&world.mws(&["completions", "fish"]))
        .contains("complete --keep-order --exclusive --command mws"));

    // No daemon: nothing, at once, and no daemon started.
    assert!(complete(&world, &["mws", "proxy-tokens", "delete", ""]).is_empty());
    assert!(world.daemon_pid().is_none());

    let tokens = ids_of(&world, &["proxy-tokens", "list", "--json"], "token_id");
    let users = ids_of(&world, &["service-users", "list", "--json"], "name");
    let member_tokens = ids_of(&world, &["member-tokens", "list", "--json"], "token_id");
    ok(&world.mws(&["proxy-tokens", "list", "-e", "prod"]));
    let calls = emulator.calls().len();

    assert_eq!(
        complete(&world, &["mws", "proxy-tokens", "delete", ""]),
        tokens
    );
    assert_eq!(
        complete(&world, &["mws", "workspace", "proxy-tokens", "rotate", ""]),
        tokens
    );
    let first = &tokens[0][..5];
    let narrowed = complete(&world, &["mws", "proxy-tokens", "delete", first]);
    assert!(narrowed.iter().all(|id| id.starts_with(first)) && !narrowed.is_empty());
    assert_eq!(
        complete(&world, &["mws", "service-users", "info", ""]),
        users
    );
    assert_eq!(
        complete(&world, &["mws", "member-tokens", "disable", "x", ""]),
        member_tokens
    );
    // Environments the daemon has met; never file names.
    let envs = complete(&world, &["mws", "proxy-tokens", "list", "-e", ""]);
    assert!(envs.contains(&"prod".to_string()), "{envs:?}");
    assert!(envs.iter().all(|e| !e.contains('/')), "{envs:?}");
    // Webhook endpoints, from the config.
    assert_eq!(
        complete(&world, &["mws", "webhooks", "test", ""]),
        ["chat", "team"]
    );
    assert_eq!(
        complete(&world, &["mws", "webhooks", "purge", "t"]),
        ["team"]
    );
    assert_eq!(
        emulator.calls().len(),
        calls,
        "completion called the server"
    );
}
