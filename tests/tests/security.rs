//! Security suite: hostile bytes on the daemon's socket, other users, unsafe
//! socket folders, and a scan for leaked secrets after each test.
//!
//! The machine runs the tests as root; "another user" is `nobody`, reached
//! with `setpriv --reuid nobody --regid nogroup --clear-groups`. Figures are
//! printed on stderr (`--nocapture`) and recorded in docs/reliability.md.

mod support;

use mws_e2e::{ok, start_emulator, stderr, Emulator, World};
use mws_ipc::codec::{encode_frame, read_frame};
use mws_ipc::{ClientHello, ErrorKind, Request, Response, ServerHello, PROTOCOL_VERSION};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{assert_no_secrets, Rng};

fn world_with_emulator() -> (World, Emulator) {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    world.set("MWS_LOG", "trace");
    world.set("MWS_POLL_INTERVAL_SECS", "3600");
    (world, emulator)
}

fn socket_path(world: &World) -> PathBuf {
    world.path("run/mws/mwsd.sock")
}

fn connect(world: &World) -> UnixStream {
    let stream = UnixStream::connect(socket_path(world)).expect("connect to mwsd");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
}

fn hello(version: u32) -> Vec<u8> {
    encode_frame(&ClientHello {
        protocol_version: version,
        client_version: "security-suite".into(),
        features: vec![],
    })
    .unwrap()
}

/// Reads until the daemon closes the connection; panics if it does not
/// within the read timeout. Returns what it sent.
fn read_to_close(stream: &mut UnixStream) -> Vec<u8> {
    let mut out = Vec::new();
    match stream.read_to_end(&mut out) {
        Ok(_) => out,
        // A reset (we may still have been writing) is a close too.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => out,
        Err(e) => panic!("the daemon kept a hostile connection open: {e}"),
    }
}

/// Reads one binary frame from `bytes` (what the daemon sent before closing).
macro_rules! first_frame {
    ($bytes:expr) => {
        read_frame(&mut &$bytes[..]).expect("a well-formed frame from the daemon")
    };
}

fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn hostile_ipc_input_leaves_the_daemon_up_bounded_and_serving() {
    let (world, emulator) = world_with_emulator();
    let expected = ok(&world.mws(&["proxy-tokens", "list", "--json"]));
    let pid = world.daemon_pid().expect("daemon");
    let rss_before = status_field(pid, "VmRSS");
    let fds_before = open_fds(pid);
    let mut rng = Rng::new("hostile ipc");
    let mut inputs = 0usize;

    // A well-formed client keeps being served throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let client = {
        let (stop, served) = (stop.clone(), served.clone());
        let mut command = world.command(mws_e2e::bin("mws"));
        command.args(["proxy-tokens", "list", "--json"]);
        let expected = expected.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let out = command.output().expect("mws");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
                served.fetch_add(1, Ordering::SeqCst);
            }
        })
    };

    // 1. Random garbage, binary and JSON-looking.
    for i in 0..300 {
        let len = 1 + rng.below(4096) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if i % 3 == 0 {
            bytes[0] = b'{';
        }
        if i % 3 == 1 {
            // A sane length prefix in front of garbage.
            let body = (len as u32).to_be_bytes();
            bytes.splice(0..0, body);
        }
        let mut s = connect(&world);
        let _ = s.write_all(&bytes);
        let _ = s.write_all(b"\n");
        let _ = s.shutdown(std::net::Shutdown::Write);
        read_to_close(&mut s);
        inputs += 1;
    }

    // 2. Truncated frames: a hello cut at every length, then a hello followed
    // by a request cut at every length.
    let good_hello = hello(PROTOCOL_VERSION);
    let request = encode_frame(&Request::Status).unwrap();
    for cut in 0..good_hello.len() {
        let mut s = connect(&world);
        s.write_all(&good_hello[..cut]).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        read_to_close(&mut s);
        inputs += 1;
    }
    for cut in 0..request.len() {
        let mut s = connect(&world);
        s.write_all(&good_hello).unwrap();
        s.write_all(&request[..cut]).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let answer = read_to_close(&mut s);
        let server: ServerHello = first_frame!(answer);
        assert!(server.error.is_none());
        inputs += 1;
    }

    // 3. A 4 GiB length prefix, and one just over the cap: refused, nothing
    // allocated, the connection closed.
    for header in [
        [0xFFu8, 0xFF, 0xFF, 0xFF],
        (16u32 * 1024 * 1024 + 1).to_be_bytes(),
    ] {
        let mut s = connect(&world);
        s.write_all(&header).unwrap();
        let answer = read_to_close(&mut s);
        match first_frame!(answer) {
            Response::Error(e) => assert_eq!(e.kind, ErrorKind::Protocol, "{}", e.message),
            other => panic!("expected a protocol error, got {other:?}"),
        }
        // ...and after the hello, too.
        let mut s = connect(&world);
        s.write_all(&good_hello).unwrap();
        s.write_all(&header).unwrap();
        let answer = read_to_close(&mut s);
        let mut rest = &answer[..];
        let _: ServerHello = read_frame(&mut rest).unwrap();
        match read_frame::<_, Response>(&mut rest).unwrap() {
            Response::Error(e) => assert_eq!(e.kind, ErrorKind::Protocol),
            other => panic!("expected a protocol error, got {other:?}"),
        }
        inputs += 2;
    }

    // 4. A wrong protocol version, binary and JSON: a hello that says why.
    let mut s = connect(&world);
    s.write_all(&hello(PROTOCOL_VERSION + 98)).unwrap();
    let answer = read_to_close(&mut s);
    let server: ServerHello = first_frame!(answer);
    assert_eq!(server.protocol_version, PROTOCOL_VERSION);
    let error = server.error.expect("a version error");
    assert!(
        error.contains(&format!("protocol version {}", PROTOCOL_VERSION + 98)),
        "{error}"
    );
    let mut s = connect(&world);
    // One past the newest: a JSON client may speak 2 up to the current one.
    let too_new = PROTOCOL_VERSION + 1;
    s.write_all(
        format!(
            "{{\"protocol_version\": {too_new}, \"client_version\": \"x\", \"features\": []}}\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let answer = String::from_utf8(read_to_close(&mut s)).unwrap();
    assert!(
        answer.contains(&format!("protocol version {too_new}")),
        "{answer}"
    );
    inputs += 2;

    // 5. A JSON line longer than the cap, without a newline.
    let mut s = connect(&world);
    let mut line = b"{\"protocol_version\": 1, \"client_version\": \"".to_vec();
    line.resize(16 * 1024 * 1024 + 100, b'a');
    let _ = s.write_all(&line);
    read_to_close(&mut s);
    inputs += 1;

    // 6. Many half-sent frames held open at once: the daemon's memory grows
    // with the bytes it was sent, not with the lengths it was promised.
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut s = connect(&world);
        s.write_all(&good_hello).unwrap();
        s.write_all(&(16u32 * 1024 * 1024).to_be_bytes()).unwrap();
        s.write_all(&[0u8; 4096]).unwrap();
        held.push(s);
        inputs += 1;
    }
    std::thread::sleep(Duration::from_millis(300));
    let rss_holding = status_field(pid, "VmRSS");
    drop(held);

    // 7. 10,000 connections opened and dropped, every other one after a
    // partial header.
    for i in 0..10_000 {
        let mut s = connect(&world);
        if i % 2 == 0 {
            let _ = s.write_all(&good_hello[..2]);
        }
        drop(s);
        inputs += 1;
    }

    stop.store(true, Ordering::SeqCst);
    client
        .join()
        .expect("the well-formed client was always served");

    // The same daemon still answers, and let go of what it held.
    assert_eq!(
        ok(&world.mws(&["proxy-tokens", "list", "--json"])),
        expected
    );
    assert_eq!(world.daemon_pid(), Some(pid), "the daemon was replaced");
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds(pid) > fds_before + 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let fds_after = open_fds(pid);
    assert!(
        fds_after <= fds_before + 4,
        "fds {fds_before} -> {fds_after}"
    );
    let rss_after = status_field(pid, "VmRSS");
    let hwm = status_field(pid, "VmHWM");
    eprintln!(
        "hostile ipc: {inputs} hostile inputs, {} well-formed calls served meanwhile; daemon RSS \
         {rss_before} kB before, {rss_holding} kB holding 200 promised 16 MiB frames, \
         {rss_after} kB after (peak {hwm} kB); fds {fds_before} -> {fds_after}",
        served.load(Ordering::SeqCst)
    );
    assert!(served.load(Ordering::SeqCst) > 0);
    // Bounded: 200 x 16 MiB promised would be 3.2 GB.
    assert!(
        hwm < 512 * 1024,
        "daemon peak RSS {hwm} kB after hostile input"
    );
    assert!(
        rss_after < rss_before + 128 * 1024,
        "daemon RSS {rss_before} -> {rss_after} kB"
    );
    assert_no_secrets(&world, std::slice::from_ref(&emulator.token_secret));
}

/// Runs `program args` as `nobody` and returns (exit ok, stdout + stderr).
fn as_nobody(world: &World, program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "nobody",
            "--regid",
            "nogroup",
            "--clear-groups",
            "--",
            program,
        ])
        .args(args)
        .env_clear()
        .envs(&world.env)
        .stdin(Stdio::null())
        .output()
        .expect("setpriv (util-linux)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A Python snippet (system python, readable by nobody) that connects to
/// the socket, sends a JSON hello and prints what comes back.
const PY_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect refused:", type(e).__name__); sys.exit(0)
try:
    s.sendall(b'{"protocol_version": 1, "client_version": "intruder", "features": []}\n')
    s.settimeout(10)
    data = s.recv(65536)
except (BrokenPipeError, ConnectionResetError):
    data = b''
print("answer:", repr(data))
"#;

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn another_user_cannot_reach_the_daemon() {
    let (world, emulator) = world_with_emulator();
    ok(&world.mws(&["proxy-tokens", "list"]));
    let dir = world.path("run/mws");
    let sock = socket_path(&world);
    let meta = std::fs::symlink_metadata(&dir).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o700, "socket folder mode");
    assert_eq!(meta.uid(), mws_ipc::paths::current_uid());
    let meta = std::fs::symlink_metadata(&sock).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600, "socket mode");

    // nobody cannot even get to the socket.
    let sock_str = sock.to_str().unwrap();
    let (_, out) = as_nobody(&world, "/usr/bin/python3", &["-c", PY_CLIENT, sock_str]);
    assert!(out.contains("connect refused: PermissionError"), "{out}");
    // Nor through mws, with this world's settings.
    let mws = mws_e2e::bin("mws");
    let (success, out) = as_nobody(&world, mws.to_str().unwrap(), &["proxy-tokens", "list"]);
    assert!(!success, "{out}");
    assert!(out.starts_with("Error: "), "{out}");

    // Open every door on purpose: the daemon still checks the peer's uid
    // and hangs up on nobody without a word.
    let doors = [
        (world.root.path().to_path_buf(), 0o711),
        (world.path("run"), 0o711),
        (dir.clone(), 0o711),
        (sock.clone(), 0o666),
    ];
    let saved: Vec<u32> = doors
        .iter()
        .map(|(p, _)| std::fs::metadata(p).unwrap().mode() & 0o777)
        .collect();
    for (path, mode) in &doors {
        set_mode(path, *mode);
    }
    let (_, out) = as_nobody(&world, "/usr/bin/python3", &["-c", PY_CLIENT, sock_str]);
    for ((path, _), mode) in doors.iter().zip(&saved) {
        set_mode(path, *mode);
    }
    assert!(out.contains("answer: b''"), "nobody got an answer: {out}");
    let log = std::fs::read_to_string(world.path("state/mws/mwsd.log")).unwrap();
    assert!(
        log.contains("refused a connection from another user"),
        "no refusal in the log"
    );
    // The owner is still served by the same daemon.
    ok(&world.mws(&["proxy-tokens", "list"]));
    assert_no_secrets(&world, std::slice::from_ref(&emulator.token_secret));
}

#[test]
fn unsafe_socket_folders_are_refused() {
    let (mut world, emulator) = world_with_emulator();
    let dir = world.path("run/mws");
    let mwsd = mws_e2e::bin("mwsd");

    let refused = |world: &World, needle: &str| {
        let out = world.mws(&["proxy-tokens", "list"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).starts_with("Error: "), "{}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
        // The daemon refuses it on its own as well.
        let out = world.command(&mwsd).output().expect("mwsd");
        assert!(!out.status.success());
        assert!(stderr(&out).contains(needle), "mwsd: {}", stderr(&out));
    };

    // A symlink to a private folder somewhere else.
    let elsewhere = world.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    set_mode(&elsewhere, 0o700);
    std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
    refused(&world, "is a symlink; refusing");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    std::fs::remove_file(&dir).unwrap();

    // A folder owned by someone else.
    std::fs::create_dir(&dir).unwrap();
    set_mode(&dir, 0o700);
    // SAFETY: chown(2) on a path we created, with a valid C string.
    let c = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::chown(c.as_ptr(), 65534, 65534) }, 0);
    refused(&world, "owned by uid 65534");
    std::fs::remove_dir(&dir).unwrap();

    // A folder open to others.
    std::fs::create_dir(&dir).unwrap();
    set_mode(&dir, 0o755);
    refused(&world, "chmod 700");
    set_mode(&dir, 0o700);

    // Fixed: it works.
    world.set("MWS_LOG", "info");
    ok(&world.mws(&["proxy-tokens", "list"]));
    assert_no_secrets(&world, std::slice::from_ref(&emulator.token_secret));
}
