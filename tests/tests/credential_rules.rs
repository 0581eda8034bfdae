//! Which credentials a command runs as, checked against the official client
//! on every combination of: what the Modal config file holds, which profile
//! `MODAL_PROFILE` names, and whether `MODAL_TOKEN_ID`/`MODAL_TOKEN_SECRET`
//! are set. Both CLIs must succeed or fail together, and print the same
//! listing when they succeed (error wording differs on purpose where mws
//! names the profile; see docs/differences.md).

use mws_e2e::{start_emulator, stderr, stdout, World};

#[test]
fn environment_profile_and_file_combine_like_the_official_client() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.set("MODAL_SERVER_URL", emulator.url.clone());
    let profile = |name: &str, active: bool| {
        format!(
            "[{name}]\ntoken_id = \"{}\"\ntoken_secret = \"{}\"\nserver_url = \"{}\"\n{}",
            emulator.token_id,
            emulator.token_secret,
            emulator.url,
            if active { "active = true\n" } else { "" }
        )
    };
    let files: Vec<(&str, Option<String>)> = vec![
        ("no file", None),
        ("one profile", Some(profile("work", false))),
        (
            "two, none active",
            Some(profile("work", false) + &profile("play", false)),
        ),
        (
            "two, one active",
            Some(profile("work", true) + &profile("play", false)),
        ),
        (
            "two, both active",
            Some(profile("work", true) + &profile("play", true)),
        ),
        (
            "default and another, none active",
            Some(profile("default", false) + &profile("play", false)),
        ),
    ];
    let config = world.path("home/.modal.toml");
    let mut checked = 0;
    for (file_name, contents) in &files {
        match contents {
            Some(text) => std::fs::write(&config, text).unwrap(),
            None => {
                let _ = std::fs::remove_file(&config);
            }
        }
        for modal_profile in [None, Some("work"), Some("nope"), Some("default")] {
            for env_credentials in [false, true] {
                match modal_profile {
                    Some(name) => world.set("MODAL_PROFILE", name),
                    None => world.unset("MODAL_PROFILE"),
                };
                if env_credentials {
                    world.set("MODAL_TOKEN_ID", emulator.token_id.clone());
                    world.set("MODAL_TOKEN_SECRET", emulator.token_secret.clone());
                } else {
                    world.unset("MODAL_TOKEN_ID");
                    world.unset("MODAL_TOKEN_SECRET");
                }
                let case = format!(
                    "{file_name}, MODAL_PROFILE={modal_profile:?}, credentials in env: {env_credentials}"
                );
                let official = world.modal(&["workspace", "members", "list", "--json"]);
                let ours = world.mws(&["members", "list", "--json"]);
                assert_eq!(
                    ours.status.success(),
                    official.status.success(),
                    "{case}: official {:?} ({}), mws {:?} ({})",
                    official.status.code(),
                    stderr(&official).trim(),
                    ours.status.code(),
                    stderr(&ours).trim()
                );
                if official.status.success() {
                    assert_eq!(stdout(&ours), stdout(&official), "{case}");
                } else {
                    assert_eq!(ours.status.code(), Some(1), "{case}: {}", stderr(&ours));
                }
                checked += 1;
            }
        }
    }
    eprintln!("credential rules: {checked} combinations agree with the official client");
}
