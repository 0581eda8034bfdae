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
