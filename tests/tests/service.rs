//! mwsd under a service manager: socket activation and readiness, with
//! systemd's own `systemd-socket-activate` passing the listening socket
//! (`LISTEN_FDS`/`LISTEN_PID`) exactly as `mwsd.socket` would, and a real
//! datagram socket as `NOTIFY_SOCKET`; and the units `mws daemon
//! install-service` writes. (This machine runs no user systemd — no systemd
//! is PID 1 in the container — so `systemctl --user enable` is not run,
//! and `systemd-analyze verify --user` cannot start a manager to check the
//! units.)

use mws_e2e::{bin, ok, stdout, World};
use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn mwsd_takes_the_socket_systemd_passes_and_says_it_is_ready() {
    let world = World::new();
    let run = world.path("run/mws");
    std::fs::create_dir_all(&run).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = run.join("mwsd.sock");
    let notify_path = world.path("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();

    let mut activator = world
        .command("systemd-socket-activate")
        .arg("-l")
        .arg(&socket)
        .args(
            world
                .env
                .keys()
                .flat_map(|key| ["-E".to_string(), key.clone()]),
        )
        .arg("-E")
        .arg(format!("NOTIFY_SOCKET={}", notify_path.display()))
        .arg(bin("mwsd"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-socket-activate (Debian package systemd)");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(std::time::Instant::now() < deadline, "no socket");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The first command connects to systemd's socket; mwsd is started by
    // the activator, not by mws.
    let listed = ok(&world.mws(&["--profile", "local", "members", "list", "--json"]));
    assert!(listed.contains("ada@acme-ml.example"), "{listed}");
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).expect("READY=1 from mwsd");
    assert_eq!(&buf[..n], b"READY=1\n");
    let status: serde_json::Value =
        serde_json::from_str(&ok(&world.mws(&["daemon", "status", "--json"]))).unwrap();
    // systemd-socket-activate execs mwsd: same process.
    assert_eq!(status["pid"].as_u64(), Some(u64::from(activator.id())));

    // Stopping the daemon leaves systemd's socket file alone.
    ok(&world.mws(&["daemon", "stop"]));
    let exited = activator.wait().unwrap();
    assert!(exited.success(), "{exited}");
    assert!(socket.exists(), "mwsd removed the socket systemd owns");
}

#[test]
fn install_service_writes_units_for_this_mwsd_and_uninstall_removes_them() {
    let mut world = World::new();
    world.set("MWSD_PATH", bin("mwsd").display().to_string());
    // No user systemd here: `systemctl --user` fails and is only tried by
    // uninstall (best effort) — keep it from touching the host's.
    world.set("PATH", "/usr/bin:/bin");
    let out = world.mws(&["daemon", "install-service"]);
    let text = ok(&out);
    let units = world.path("config/systemd/user");
    assert!(
        text.contains("systemctl --user enable --now mwsd.socket"),
        "{text}"
    );
    let socket_unit = std::fs::read_to_string(units.join("mwsd.socket")).unwrap();
    assert!(
        socket_unit.contains("ListenStream=%t/mws/mwsd.sock\n"),
        "{socket_unit}"
    );
    assert!(socket_unit.contains("SocketMode=0600\n"));
    let service_unit = std::fs::read_to_string(units.join("mwsd.service")).unwrap();
    let mwsd = std::fs::canonicalize(bin("mwsd")).unwrap();
    assert!(
        service_unit.contains(&format!("ExecStart={}\n", mwsd.display())),
        "{service_unit}"
    );
    assert!(service_unit.contains("Type=notify\n"));

    let out = world.mws(&["daemon", "uninstall-service"]);
    assert!(
        stdout(&out).starts_with("Removed mwsd.socket and mwsd.service"),
        "{}",
        stdout(&out)
    );
    assert!(!units.join("mwsd.socket").exists());
    assert!(!units.join("mwsd.service").exists());
    let out = world.mws(&["daemon", "uninstall-service"]);
    assert!(ok(&out).starts_with("No mwsd units in "));
}

#[test]
fn install_script_puts_programs_plugins_man_page_and_completions_where_tools_look() {
    mws_e2e::plugins::plugin_dir(); // the plugins, built beside the programs
    let mut world = World::new();
    let prefix = world.path("prefix");
    let out = world
        .command(mws_e2e::workspace_root().join("scripts/install.sh"))
        .arg(&prefix)
        .env("MWS_INSTALL_NO_BUILD", "1")
        .env("MWS_INSTALL_FROM", mws_e2e::bin_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "bin/mws",
        "bin/mwsd",
        "bin/mws-emulator",
        "lib/mws/plugins/libmws_plugin_csv.so",
        "lib/mws/plugins/libmws_plugin_expiry.so",
        "lib/mws/plugins/libmws_plugin_webhook.so",
        "share/bash-completion/completions/mws",
        "share/zsh/site-functions/_mws",
        "share/fish/vendor_completions.d/mws.fish",
    ] {
        assert!(prefix.join(file).is_file(), "{file} not installed");
    }
    assert!(!prefix
        .join("lib/mws/plugins/libmws_plugin_testing.so")
        .exists());
    let man = std::fs::read_to_string(prefix.join("share/man/man1/mws.1")).unwrap();
    assert!(man.contains(".TH mws 1"), "{man}");

    // The installed mwsd finds the installed plugins, with real paths.
    world.set("MWS_BUNDLED_PLUGINS", "1");
    world.set(
        "PATH",
        format!("{}:/usr/bin:/bin", prefix.join("bin").display()),
    );
    let installed = prefix.join("bin/mws");
    let out = world
        .command(&installed)
        .args(["plugins", "list"])
        .output()
        .unwrap();
    let listed = ok(&out);
    let plugins = prefix.join("lib/mws/plugins");
    assert!(
        listed.contains(&format!("{}/libmws_plugin_expiry.so", plugins.display())),
        "{listed}"
    );
    assert!(!listed.contains('$'), "{listed}");
    let csv = world
        .command(&installed)
        .args(["--profile", "local", "members", "list", "--format", "csv"])
        .output()
        .unwrap();
    assert!(ok(&csv).starts_with("name,email,role"), "{}", ok(&csv));
    ok(&world
        .command(&installed)
        .args(["daemon", "stop"])
        .output()
        .unwrap());
}
