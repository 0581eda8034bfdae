//! Helpers shared by the integration tests: run the real `mws-emulator`
//! binary in a temp dir, wait for its ready file, talk to it with tonic.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mws_modal_api::headers;
use mws_modal_api::ModalClientClient;
use serde_json::Value;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

pub const BIN: &str = env!("CARGO_BIN_EXE_mws-emulator");

/// An `ak-`/`as-` pair.
#[derive(Clone, Debug)]
pub struct Creds {
    pub token_id: String,
    pub token_secret: String,
}

/// Runs `mws-emulator --db DB args…` to completion.
pub fn emu(db: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("MWS_EMULATOR_DB")
        .output()
        .expect("run mws-emulator")
}

/// Like [`emu`], but asserts success and returns stdout.
pub fn emu_ok(db: &Path, args: &[&str]) -> String {
    let out = emu(db, args);
    assert!(
        out.status.success(),
        "mws-emulator {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Like [`emu_ok`] with `--json` appended; parses the one JSON line.
pub fn emu_json(db: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = emu_ok(db, &a);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("bad JSON {out:?}: {e}"))
}

pub fn credentials(db: &Path, member: Option<&str>) -> Creds {
    let mut args = vec!["credentials", "create", "--json"];
    if let Some(m) = member {
        args.push("--member");
        args.push(m);
    }
    let out = emu_ok(db, &args);
    let v: Value = serde_json::from_str(out.trim()).expect("credentials JSON");
    Creds {
        token_id: v["token_id"].as_str().expect("token_id").to_string(),
        token_secret: v["token_secret"]
            .as_str()
            .expect("token_secret")
            .to_string(),
    }
}

/// A running `mws-emulator serve`. Killed (SIGKILL) on drop if still running.
pub struct Server {
    pub dir: PathBuf,
    pub db: PathBuf,
    pub url: String,
    pub pid: u32,
    pub call_log: PathBuf,
    pub ready: Value,
    pub stdout_path: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Starts a server on `db` (in `dir`) and waits until it is ready.
    pub fn start(dir: &Path, db: &Path) -> Server {
        Server::start_with(dir, db, &[])
    }

    pub fn start_with(dir: &Path, db: &Path, extra: &[&str]) -> Server {
        let stamp = uuid::Uuid::new_v4().simple().to_string();
        let ready_file = dir.join(format!("ready-{stamp}.json"));
        let call_log = dir.join("calls.jsonl");
        let stdout_path = dir.join(format!("stdout-{stamp}.txt"));
        let stderr_path = dir.join(format!("stderr-{stamp}.txt"));
        let child = Command::new(BIN)
            .arg("serve")
            .arg("--db")
            .arg(db)
            .arg("--ready-file")
            .arg(&ready_file)
            .arg("--call-log")
            .arg(&call_log)
            .args(extra)
            .env_remove("MWS_EMULATOR_DB")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .expect("spawn mws-emulator serve");
        let mut server = Server {
            dir: dir.to_path_buf(),
            db: db.to_path_buf(),
            url: String::new(),
            pid: child.id(),
            call_log,
            ready: Value::Null,
            stdout_path,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready_file) {
                let v: Value = serde_json::from_str(&text).expect("ready file is JSON");
                server.url = v["url"].as_str().expect("url").to_string();
                server.ready = v;
                break;
            }
            if let Some(child) = server.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "mws-emulator serve exited early ({status}): {}",
                        std::fs::read_to_string(&stderr_path).unwrap_or_default()
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "mws-emulator not ready after 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// Sends `signal` and waits for the exit status.
    pub fn signal_and_wait(&mut self, signal: i32) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM; asserts a clean exit (code 0).
    pub fn stop(&mut self) {
        let status = self.signal_and_wait(libc::SIGTERM);
        assert_eq!(status.code(), Some(0), "clean exit after SIGTERM");
    }

    pub fn kill9(&mut self) {
        let _ = self.signal_and_wait(libc::SIGKILL);
    }

    /// The call log as parsed lines.
    pub fn calls(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.call_log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("call log line is JSON"))
            .collect()
    }

    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(self.url.clone())
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("connect")
    }

    pub async fn client(&self) -> ModalClientClient<Channel> {
        ModalClientClient::new(self.channel().await)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A request with credentials and, optionally, an idempotency key.
pub fn req<T>(msg: T, creds: &Creds, key: Option<&str>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    let md = r.metadata_mut();
    md.insert(
        headers::TOKEN_ID,
        MetadataValue::try_from(creds.token_id.as_str()).expect("ascii"),
    );
    md.insert(
        headers::TOKEN_SECRET,
        MetadataValue::try_from(creds.token_secret.as_str()).expect("ascii"),
    );
    md.insert(headers::CLIENT_TYPE, MetadataValue::from_static("1"));
    md.insert(headers::CLIENT_VERSION, MetadataValue::from_static("1.6.4"));
    if let Some(k) = key {
        md.insert(
            headers::IDEMPOTENCY_KEY,
            MetadataValue::try_from(k).expect("ascii"),
        );
    }
    r
}

/// A fresh idempotency key, as the official client sends on every call.
pub fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}
