//! The built-in `local` profile: an `mws-emulator` child process on loopback.
//!
//! On first use the daemon seeds a store under the user's data folder with the
//! demo workspace, mints a credential for itself (kept in memory only; the
//! store keeps just its hash), and serves the store on `127.0.0.1:0`. The child
//! is told to die with the daemon (`PR_SET_DEATHSIG`), so a `kill -9` of the
//! daemon leaves no orphan; the next daemon starts a new one on the same store.

use mws_ipc::Secret;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the emulator may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the embedded emulator keeps its store and which binary runs it.
#[derive(Debug, Clone)]
pub struct LocalSettings {
    pub data_dir: PathBuf,
    pub emulator_bin: PathBuf,
}

impl LocalSettings {
    /// `$XDG_DATA_HOME/mws/local` (else `~/.local/share/mws/local`), and the
    /// `mws-emulator` binary from `MWS_EMULATOR_PATH`, the daemon's own folder,
    /// or `PATH`.
    pub fn from_env() -> Self {
        // A relative XDG_DATA_HOME is ignored, as the XDG spec says.
        let data_home = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/".into()))
                    .join(".local/share")
            });
        Self {
            data_dir: data_home.join("mws").join("local"),
            emulator_bin: find_sibling_binary("mws-emulator", "MWS_EMULATOR_PATH"),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("emulator.db")
    }
}

/// Finds a helper binary: `$ENV_VAR`, then next to this executable, then PATH.
pub fn find_sibling_binary(name: &str, env_var: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var).filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from(name)
}

/// A running embedded emulator and the credential the daemon uses with it.
pub struct LocalEmulator {
    pub url: String,
    pub token_id: String,
    pub token_secret: Secret,
    child: Child,
}

/// Why the embedded emulator could not be started (one line).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct LocalError(String);

fn failure(message: impl Into<String>) -> LocalError {
    LocalError(message.into())
}

fn emulator_command(settings: &LocalSettings) -> Command {
    let mut command = Command::new(&settings.emulator_bin);
    command
        .arg("--db")
        .arg(settings.db_path())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe; it only marks this child to receive
    // SIGTERM when the daemon (its parent) dies.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    command
}

/// Runs a one-shot emulator subcommand and returns its stdout.
async fn run_once(settings: &LocalSettings, args: &[&str]) -> Result<Vec<u8>, LocalError> {
    let output = emulator_command(settings)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(|e| {
            failure(format!(
                "Could not run {} for the local profile: {e}",
                settings.emulator_bin.display()
            ))
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stderr.lines().last().unwrap_or("").trim().to_string();
        return Err(failure(format!(
            "mws-emulator {} failed: {line}",
            args.join(" ")
        )));
    }
    Ok(output.stdout)
}

fn ensure_private_dir(dir: &Path) -> Result<(), LocalError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| failure(format!("Could not create {}: {e}", dir.display())))
}

impl LocalEmulator {
    /// Seeds (first time only), mints a credential and starts serving.
    pub(crate) async fn start(settings: &LocalSettings) -> Result<Self, LocalError> {
        ensure_private_dir(&settings.data_dir)?;
        // The seed's own credential is printed once and dropped here: the
        // daemon mints its own below, so seeding stays idempotent.
        run_once(settings, &["seed", "demo", "--json"]).await?;
        let credential = run_once(settings, &["credentials", "create", "--json"]).await?;
        let credential: serde_json::Value = serde_json::from_slice(&credential).map_err(|e| {
            failure(format!(
                "mws-emulator printed an unreadable credential: {e}"
            ))
        })?;
        let field = |key: &str| {
            credential
                .get(key)
                .and_then(|v| v.as_str())
                .map(String::from)
        };
        let (Some(token_id), Some(token_secret)) = (field("token_id"), field("token_secret"))
        else {
            return Err(failure("mws-emulator printed no credential"));
        };

        let mut child = emulator_command(settings)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                failure(format!(
                    "Could not start {}: {e}",
                    settings.emulator_bin.display()
                ))
            })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| failure("mws-emulator has no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("mws-emulator listening on ") {
                    return Some(url.trim().to_string());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| failure("The local emulator did not start listening"))?;
        // Keep draining its stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        tracing::info!(%url, "local emulator started");
        Ok(Self {
            url,
            token_id,
            token_secret: Secret::new(token_secret),
            child,
        })
    }

    /// True while the child process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}
