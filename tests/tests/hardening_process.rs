//! Process hygiene and the plugin host's confinement, with real processes:
//! descriptors a caller holds (a `flock` on fd 9) are not kept by the daemon
//! `mws` starts nor by its plugin host; the daemon raises its open-files
//! limit, closes idle connections and logs "too many open files" once per
//! interval; a plugin behind a symlink into a folder others can write is
//! refused; the plugin host runs with no_new_privs, a seccomp filter (no
//! kernel keyring, no sockets), memory and process limits, its protocol
//! pipes out of the way and checked by request id; a plugin's children die
//! with the host. C plugins are compiled with `cc` for the probes.
//!
//! The machine runs the tests as root: RLIMIT_NPROC is not enforced for
//! root, so only its value is checked.

use mws_e2e::plugins::compile_c;
use mws_e2e::{bin, bin_dir, ok, start_emulator, stderr, workspace_root, Emulator, World};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Builds the csv plugin once per test process; returns its folder.
fn plugin_dir() -> &'static Path {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = bin_dir();
    BUILT.get_or_init(|| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--quiet", "-p", "mws-plugin-csv"])
            .current_dir(workspace_root())
            .status()
            .expect("cargo build of the csv plugin");
        assert!(status.success(), "building the csv plugin failed");
    });
    dir
}

fn csv_library() -> PathBuf {
    plugin_dir().join("libmws_plugin_csv.so")
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn plugins_folder(world: &World) -> PathBuf {
    let dir = world.path("data/mws/plugins");
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o700);
    dir
}

/// Copies `source` into `dir` as `name` (temporary name, mode, rename).
fn install_into(dir: &Path, source: &Path, name: &str, mode: u32) -> PathBuf {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::copy(source, &tmp).unwrap();
    set_mode(&tmp, mode);
    let target = dir.join(name);
    std::fs::rename(&tmp, &target).unwrap();
    target
}

fn world_with_emulator() -> (World, Emulator) {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    world.set("MWS_POLL_INTERVAL_SECS", "3600");
    (world, emulator)
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
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

/// Parent pid of `pid`, from /proc/<pid>/stat.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// The daemon's plugin host (waits for it to appear).
fn plugin_host(daemon: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let hosts: Vec<u32> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
            .filter(|pid| parent_of(*pid) == Some(daemon))
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains("--plugin-host"))
                    .unwrap_or(false)
            })
            .collect();
        if hosts.len() == 1 {
            return hosts[0];
        }
        assert!(
            Instant::now() < deadline,
            "expected one plugin host, found {hosts:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every open descriptor of `pid` and what it points at.
fn fds_of(pid: u32) -> Vec<(i32, String)> {
    let mut fds: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"))
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_string_lossy().parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((fd, target.display().to_string()))
        })
        .collect();
    fds.sort();
    fds
}

/// A line `name:   value` of /proc/<pid>/status.
fn status_field(pid: u32, name: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

/// The soft and hard values of a line of /proc/<pid>/limits.
fn limit_of(pid: u32, name: &str) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/limits"));
    let mut words = line[name.len()..].split_whitespace();
    (
        words.next().unwrap().to_string(),
        words.next().unwrap().to_string(),
    )
}

fn log_of(world: &World) -> String {
    std::fs::read_to_string(world.path("state/mws/mwsd.log")).unwrap_or_default()
}

#[test]
fn a_callers_lock_is_not_kept_by_the_daemon_it_starts_nor_by_the_plugin_host() {
    let (world, _emulator) = world_with_emulator();
    install_into(
        &plugins_folder(&world),
        &csv_library(),
        "libmws_plugin_csv.so",
        0o644,
    );
    // A script that serialises itself with flock(1) and calls mws, which
    // starts the daemon.
    let lock = world.path("caller.lock");
    let status = world
        .command("sh")
        .args([
            "-c",
            r#"exec 9>"$LOCK"; flock 9 || exit 9; "$MWS" plugins list >/dev/null || exit 1"#,
        ])
        .env("LOCK", &lock)
        .env("MWS", bin("mws"))
        .status()
        .expect("sh");
    assert!(status.success(), "the script failed: {status}");
    let daemon = world.daemon_pid().expect("the daemon runs");

    // The script is gone: its lock must be free although the daemon runs.
    let file = std::fs::File::open(&lock).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own.
    let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    let host = plugin_host(daemon);
    let lock_name = lock.display().to_string();
    for (who, pid) in [("mwsd", daemon), ("plugin host", host)] {
        let fds = fds_of(pid);
        eprintln!("{who} (pid {pid}) fds: {fds:?}");
        assert!(
            !fds.iter().any(|(_, target)| target == &lock_name),
            "{who} holds the caller's lock file: {fds:?}"
        );
    }
    assert!(taken, "the caller's flock is still held after it exited");

    // The daemon's stdio goes nowhere (or to its log), and its only
    // descriptors are its own: sockets, its lock and log, pipes to the
    // host, event queues.
    let log = world.path("state/mws/mwsd.log").display().to_string();
    for (fd, target) in fds_of(daemon) {
        if fd <= 2 {
            assert!(
                target == "/dev/null" || target == log,
                "mwsd fd {fd} -> {target}"
            );
        }
        assert!(
            target.starts_with("socket:")
                || target.starts_with("pipe:")
                || target.starts_with("anon_inode:")
                || target == "/dev/null"
                || target == log
                || target.starts_with(world.path("run").to_str().unwrap()),
            "mwsd has an unexpected descriptor {fd} -> {target}"
        );
    }
    // The host: stdin /dev/null, stdout and stderr the pipe to the daemon's
    // log, the two protocol pipes, the plugin files it loaded.
    let host_fds = fds_of(host);
    assert_eq!(host_fds[0], (0, "/dev/null".to_string()), "{host_fds:?}");
    for (fd, target) in &host_fds {
        assert!(
            target == "/dev/null" || target.starts_with("pipe:") || target.ends_with(".so"),
            "the plugin host has an unexpected descriptor {fd} -> {target}: {host_fds:?}"
        );
    }
}

#[test]
fn the_daemon_raises_its_open_files_limit() {
    let (world, _emulator) = world_with_emulator();
    let out = world
        .command("prlimit")
        .arg("--nofile=256:4096")
        .arg("--")
        .arg(bin("mws"))
        .args(["daemon", "start"])
        .output()
        .expect("prlimit (util-linux)");
    ok(&out);
    let daemon = world.daemon_pid().expect("daemon");
    let limit = limit_of(daemon, "Max open files");
    eprintln!("mwsd started under 256:4096 runs with {limit:?}");
    assert_eq!(limit, ("4096".to_string(), "4096".to_string()));
}

/// One JSON-lines hello on a fresh connection; returns the stream after it.
fn hello(world: &World) -> (UnixStream, BufReader<UnixStream>) {
    let stream = UnixStream::connect(world.path("run/mws/mwsd.sock")).expect("daemon socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream.try_clone().unwrap();
    writeln!(
        writer,
        "{}",
        serde_json::json!({"protocol_version": mws_ipc::PROTOCOL_VERSION, "client_version": "idle-test", "features": []})
    )
    .unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains("protocol_version"), "{line}");
    (stream, reader)
}

#[test]
fn a_connection_idle_after_its_hello_is_closed_after_the_configured_time() {
    let (mut world, _emulator) = world_with_emulator();
    world.set("MWS_IDLE_CONNECTION_SECS", "1");
    ok(&world.mws(&["daemon", "start"]));
    let daemon = world.daemon_pid().expect("daemon");
    // A watch stream sends nothing either, but it is not idle.
    let (mut watch, _lines) = world.watch_json();

    let (_stream, mut reader) = hello(&world);
    let started = Instant::now();
    let mut rest = Vec::new();
    let read = reader.read_to_end(&mut rest);
    let took = started.elapsed();
    eprintln!("idle connection closed after {took:?}: {read:?}");
    assert!(
        read.is_ok(),
        "the idle connection was still open after {took:?}: {read:?}"
    );
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
    // A connection in use is not cut: one request after another pause
    // shorter than the limit is answered.
    let (mut stream, mut reader) = hello(&world);
    std::thread::sleep(Duration::from_millis(400));
    writeln!(stream, "{}", serde_json::json!("Status")).unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains(&daemon.to_string()), "{line}");

    assert!(
        watch.try_wait().unwrap().is_none(),
        "the watch stream was cut"
    );
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(world.daemon_pid(), Some(daemon));
}

#[test]
fn too_many_open_files_is_logged_once_per_interval_and_the_daemon_recovers() {
    let (world, _emulator) = world_with_emulator();
    ok(&world.mws(&["daemon", "start"]));
    let daemon = world.daemon_pid().expect("daemon");
    // Let start-up settle (plugin manager, watchers).
    std::thread::sleep(Duration::from_millis(500));
    let open = fds_of(daemon).len() as u64;
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let low = libc::rlimit {
        rlim_cur: open + 3,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit on a process of ours with valid pointers; the hard
    // limit is only read (set to what it is below).
    unsafe {
        assert_eq!(
            libc::prlimit(
                daemon as i32,
                libc::RLIMIT_NOFILE,
                std::ptr::null(),
                &mut old
            ),
            0
        );
        let low = libc::rlimit {
            rlim_max: old.rlim_max,
            ..low
        };
        assert_eq!(
            libc::prlimit(
                daemon as i32,
                libc::RLIMIT_NOFILE,
                &low,
                std::ptr::null_mut()
            ),
            0,
            "prlimit: {}",
            std::io::Error::last_os_error()
        );
    }
    let cpu = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let cpu_before = cpu(daemon);
    let held: Vec<UnixStream> = (0..30)
        .map(|_| UnixStream::connect(world.path("run/mws/mwsd.sock")).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let cpu_ticks = cpu(daemon) - cpu_before;
    let log = log_of(&world);
    let lines = log
        .lines()
        .filter(|l| l.contains("Too many open files"))
        .count();
    eprintln!("EMFILE for 3 s: {lines} log line(s), {cpu_ticks} CPU ticks");
    // Restore the limit and let go.
    // SAFETY: as above.
    unsafe {
        libc::prlimit(
            daemon as i32,
            libc::RLIMIT_NOFILE,
            &old,
            std::ptr::null_mut(),
        );
    }
    drop(held);
    assert_eq!(lines, 1, "expected one 'too many open files' line:\n{log}");
    // The line says what happens to clients meanwhile and how often it is
    // logged.
    let line = log
        .lines()
        .find(|l| l.contains("Too many open files"))
        .unwrap_or_default();
    assert!(
        line.contains("wait in the socket's backlog") && line.contains("at most once every 60 s"),
        "{line}"
    );
    // Not spinning: well under a second of CPU in 3 s (100 ticks a second).
    assert!(cpu_ticks < 100, "the accept loop spun: {cpu_ticks} ticks");
    // The daemon serves again.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if world.daemon_pid() == Some(daemon) {
            break;
        }
        assert!(Instant::now() < deadline, "the daemon did not recover");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_plugin_behind_a_symlink_into_a_folder_others_can_write_is_refused() {
    let (world, _emulator) = world_with_emulator();
    let plugins_dir = plugins_folder(&world);
    // Shared folders outside the plugin folder: one writable by everyone,
    // one by its group, one safe.
    let mut targets = Vec::new();
    for (name, mode) in [("open", 0o777), ("group", 0o775), ("safe", 0o755)] {
        let dir = world.path(&format!("shared-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        set_mode(&dir, mode);
        let file = install_into(&dir, &csv_library(), &format!("lib{name}.so"), 0o644);
        std::os::unix::fs::symlink(&file, plugins_dir.join(format!("lib{name}.so"))).unwrap();
        targets.push((name, dir));
    }
    let list = plugins(&world);
    let by_file = |file: &str| -> &Value {
        list.iter()
            .find(|p| p["path"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("{file} not listed: {list:?}"))
    };
    for (name, dir) in &targets {
        let p = by_file(&format!("lib{name}.so"));
        eprintln!("lib{name}.so: {} {}", p["state"], p["reason"]);
        if *name == "safe" {
            assert_eq!(p["state"], "loaded", "{p}");
            continue;
        }
        assert_eq!(p["state"], "refused", "{p}");
        let reason = p["reason"].as_str().unwrap();
        assert!(
            reason.contains(&dir.display().to_string()) && reason.contains("writable by"),
            "{reason}"
        );
    }
    let table = ok(&world.mws(&["plugins", "list"]));
    assert!(table.contains("writable by group and others"), "{table}");
}

/// A C plugin that reports what the plugin host can reach (`probe`) and
/// starts a long-running child (`spawn`).
const PROBE: &str = r#"
#define _GNU_SOURCE
#include "mws_plugin.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int32_t done(char *text, uint8_t **output, size_t *output_len) {
    *output = (uint8_t *)text;
    *output_len = strlen(text);
    return MWS_OK;
}

static int32_t render(const uint8_t *name, size_t name_len, const uint8_t *input,
                      size_t input_len, uint8_t **output, size_t *output_len) {
    (void)input; (void)input_len;
    char *buf = malloc(65536);
    size_t cap = 65536, n = 0;
    if (name_len == 5 && memcmp(name, "spawn", 5) == 0) {
        pid_t child = fork();
        if (child == 0) {
            execl("/bin/sleep", "sleep", "600", (char *)0);
            _exit(127);
        }
        snprintf(buf, cap, "{\"child\":%d}", (int)child);
        return done(buf, output, output_len);
    }
    long key = syscall(SYS_keyctl, 10 /* KEYCTL_SEARCH */, -4 /* @u */, "user", KEY_DESC, 0);
    int key_errno = key < 0 ? errno : 0;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    int socket_errno = s < 0 ? errno : 0;
    if (s >= 0) close(s);
    void *big = malloc((size_t)2 << 30);
    int big_ok = big != NULL;
    free(big);
    n += snprintf(buf + n, cap - n,
                  "{\"key\":%ld,\"key_errno\":%d,\"socket_errno\":%d,\"malloc_2g\":%s,"
                  "\"pid\":%d,\"pgrp\":%d,\"fds\":[",
                  key, key_errno, socket_errno, big_ok ? "true" : "false",
                  (int)getpid(), (int)getpgrp());
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int first = 1;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd == dirfd(d)) continue;
        char path[64], target[512];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(path, target, sizeof target - 1);
        target[len < 0 ? 0 : len] = 0;
        for (char *c = target; *c; c++) if (*c == '"' || *c == '\\') *c = '_';
        n += snprintf(buf + n, cap - n, "%s[%d,\"%s\"]", first ? "" : ",", fd, target);
        first = 0;
    }
    if (d) closedir(d);
    snprintf(buf + n, cap - n, "]}");
    return done(buf, output, output_len);
}

static void free_buffer(uint8_t *p, size_t n) { (void)n; free(p); }

static const mws_plugin d = { MWS_PLUGIN_ABI_VERSION, sizeof(mws_plugin), "probe", "1.0.0",
                              "probe,spawn", "", render, 0, free_buffer };
const mws_plugin *mws_plugin_entry(void) { return &d; }
"#;

fn install_probe(world: &World, key_desc: &str) {
    let source = format!("#define KEY_DESC \"{key_desc}\"\n{PROBE}");
    let library = compile_c(world, &source, "probe");
    install_into(
        &plugins_folder(world),
        &library,
        "libmws_plugin_probe.so",
        0o644,
    );
}

/// Adds a key to the user keyring (`@u`), where mws's keyutils backend
/// keeps API secrets; removed on drop.
struct UserKey(i64);

impl UserKey {
    fn add(description: &str) -> UserKey {
        let kind = std::ffi::CString::new("user").unwrap();
        let desc = std::ffi::CString::new(description).unwrap();
        let payload = b"as-not-for-plugins";
        // SAFETY: add_key(2) with valid C strings and a payload buffer.
        let id = unsafe {
            libc::syscall(
                libc::SYS_add_key,
                kind.as_ptr(),
                desc.as_ptr(),
                payload.as_ptr(),
                payload.len(),
                -4i32, // KEY_SPEC_USER_KEYRING
            )
        };
        assert!(
            id > 0,
            "add_key to @u failed: {}",
            std::io::Error::last_os_error()
        );
        UserKey(id)
    }
}

impl Drop for UserKey {
    fn drop(&mut self) {
        // SAFETY: keyctl(KEYCTL_INVALIDATE, id).
        unsafe {
            libc::syscall(libc::SYS_keyctl, 21, self.0);
        }
    }
}

#[test]
fn the_plugin_host_is_confined() {
    let (mut world, _emulator) = world_with_emulator();
    world.set("MWS_PLUGIN_MAX_MEMORY_MIB", "512");
    let desc = format!("mws-probe-{}", std::process::id());
    let _key = UserKey::add(&desc);
    install_probe(&world, &desc);
    let out = ok(&world.mws(&["members", "list", "--format", "probe"]));
    let probe = json_of(&out);
    eprintln!("probe: {probe}");
    let daemon = world.daemon_pid().expect("daemon");
    let host = plugin_host(daemon);
    assert_eq!(probe["pid"], host, "the probe ran in the plugin host");

    // No new privileges, a seccomp filter.
    assert_eq!(status_field(host, "NoNewPrivs"), "1");
    assert_eq!(status_field(host, "Seccomp"), "2");
    // The kernel keyring (where the keyutils backend keeps API secrets)
    // and sockets (the daemon's own socket, the Secret Service's bus) are
    // out of reach.
    assert_eq!(probe["key"], -1, "a plugin read the user keyring: {probe}");
    assert_eq!(probe["key_errno"], libc::EPERM, "{probe}");
    assert_eq!(probe["socket_errno"], libc::EPERM, "{probe}");
    // Memory: the configured address-space limit.
    assert_eq!(
        limit_of(host, "Max address space"),
        ("536870912".to_string(), "536870912".to_string())
    );
    assert_eq!(probe["malloc_2g"], false, "{probe}");
    // Processes: a finite limit below the daemon's.
    let (host_procs, _) = limit_of(host, "Max processes");
    let (daemon_procs, _) = limit_of(daemon, "Max processes");
    let host_procs: u64 = host_procs.parse().expect("a finite process limit");
    assert!(
        daemon_procs == "unlimited" || host_procs < daemon_procs.parse::<u64>().unwrap(),
        "host {host_procs}, daemon {daemon_procs}"
    );
    // The protocol pipes are not at the low descriptor numbers a plugin
    // would try first: 0 is /dev/null, 1 and 2 the log pipe, and nothing
    // else below 10 is a pipe.
    let fds: Vec<(i64, String)> = probe["fds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f[0].as_i64().unwrap(), f[1].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(fds[0], (0, "/dev/null".to_string()), "{fds:?}");
    assert_eq!(fds[1].1, fds[2].1, "stdout is the log pipe: {fds:?}");
    for (fd, target) in &fds {
        assert!(
            *fd <= 2 || *fd >= 10 || !target.starts_with("pipe:"),
            "a protocol pipe at fd {fd}: {fds:?}"
        );
    }
}

#[test]
fn a_plugins_children_die_with_the_plugin_host() {
    let (world, _emulator) = world_with_emulator();
    install_probe(&world, "unused");
    let spawn = |world: &World| -> u32 {
        let out = json_of(&ok(&world.mws(&["members", "list", "--format", "spawn"])));
        let child = out["child"].as_u64().unwrap() as u32;
        assert!(alive(child), "the plugin's child did not start");
        child
    };
    let gone_within = |pid: u32, limit: Duration| -> bool {
        let started = Instant::now();
        let deadline = started + limit;
        while alive(pid) {
            if Instant::now() > deadline {
                // SAFETY: kill(2); the test's own leftover.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                eprintln!(
                    "child {pid} still alive after {limit:?}: {:?}",
                    std::fs::read_to_string(format!("/proc/{pid}/stat"))
                );
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("child {pid} gone after {:?}", started.elapsed());
        true
    };

    // The daemon stops: the host and its group go.
    let child = spawn(&world);
    ok(&world.mws(&["daemon", "stop"]));
    assert!(
        gone_within(child, Duration::from_secs(5)),
        "a plugin's child outlived `mws daemon stop`"
    );

    // The daemon is killed: the host gets its death signal and takes its
    // group with it.
    let child = spawn(&world);
    let daemon = world.daemon_pid().expect("daemon");
    // SAFETY: kill(2) of this test's daemon.
    unsafe { libc::kill(daemon as i32, libc::SIGKILL) };
    assert!(
        gone_within(child, Duration::from_secs(5)),
        "a plugin's child outlived a daemon killed with SIGKILL"
    );

    // The host is replaced (a plugin file changed): the old group goes.
    let child = spawn(&world);
    install_into(
        &plugins_folder(&world),
        &csv_library(),
        "libmws_plugin_csv.so",
        0o644,
    );
    assert_eq!(plugin(&plugins(&world), "csv")["state"], "loaded");
    assert!(
        gone_within(child, Duration::from_secs(5)),
        "a plugin's child outlived its plugin host"
    );
}

/// A C plugin that finds the plugin host's write pipes and writes `frame`
/// to them before answering, as plugin code trying to forge the host's
/// answer would.
fn forger(frame: &str) -> String {
    let escaped = frame.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        r#"
#include "mws_plugin.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char FRAME[] = "{escaped}";

static int32_t render(const uint8_t *name, size_t name_len, const uint8_t *input,
                      size_t input_len, uint8_t **output, size_t *output_len) {{
    (void)name; (void)name_len; (void)input; (void)input_len;
    uint32_t len = (uint32_t)strlen(FRAME);
    unsigned char head[4] = {{ len >> 24, len >> 16, len >> 8, len }};
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {{
        int fd = atoi(e->d_name);
        struct stat st;
        if (fd <= 2 || fd == dirfd(d) || fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) continue;
        if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_WRONLY) continue;
        if (write(fd, head, 4) == 4 && write(fd, FRAME, len) == (ssize_t)len) {{}}
    }}
    if (d) closedir(d);
    char *text = malloc(8);
    strcpy(text, "genuine");
    *output = (uint8_t *)text;
    *output_len = 7;
    return MWS_OK;
}}

static void free_buffer(uint8_t *p, size_t n) {{ (void)n; free(p); }}

static const mws_plugin d = {{ MWS_PLUGIN_ABI_VERSION, sizeof(mws_plugin), "forger", "1.0.0",
                              "forge", "", render, 0, free_buffer }};
const mws_plugin *mws_plugin_entry(void) {{ return &d; }}
"#
    )
}

#[test]
fn an_answer_forged_by_plugin_code_is_detected_and_the_host_restarted() {
    for (label, frame) in [
        // The answer as the protocol framed it before request ids.
        ("without an id", r#"{"Output":{"text":"forged"}}"#),
        // With a guessed request id.
        (
            "with a guessed id",
            r#"{"id":1,"body":{"Output":{"text":"forged"}}}"#,
        ),
    ] {
        let (world, _emulator) = world_with_emulator();
        let library = compile_c(&world, &forger(frame), "forger");
        install_into(
            &plugins_folder(&world),
            &library,
            "libmws_plugin_forger.so",
            0o644,
        );
        install_into(
            &plugins_folder(&world),
            &csv_library(),
            "libmws_plugin_csv.so",
            0o644,
        );
        let out = world.mws(&["members", "list", "--format", "forge"]);
        let printed = String::from_utf8_lossy(&out.stdout);
        eprintln!(
            "{label}: exit {:?}, stdout {printed:?}, stderr {}",
            out.status.code(),
            stderr(&out).trim()
        );
        assert!(
            !printed.contains("forged"),
            "{label}: a forged answer was taken: {printed}"
        );
        assert_eq!(out.status.code(), Some(1), "{label}: {printed}");
        let err = stderr(&out);
        assert!(err.contains("quarantined"), "{label}: {err}");
        let list = plugins(&world);
        assert_eq!(plugin(&list, "forger")["state"], "quarantined", "{label}");
        // The other plugins work, in a new host.
        assert!(
            ok(&world.mws(&["members", "list", "--format", "csv"])).starts_with("name,"),
            "{label}"
        );
    }
}
