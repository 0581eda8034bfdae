//! The daemon's handle on one plugin-host child process.
//!
//! [`Host::spawn`] starts `mwsd --plugin-host` with a cleared environment
//! (the host never sees `MODAL_*` variables, the keyring or the daemon's
//! socket path), `/` as its folder, and `PR_SET_PDEATHSIG` so it dies with
//! the daemon. [`Host::call`] sends one request and waits for its answer
//! within a timeout; when the pipe closes instead, the host is reaped and
//! the error says how it ended (e.g. `killed by signal 6 (SIGABRT)`), which
//! the caller turns into a quarantine of the plugin it was calling.

use super::protocol::{self, FrameError, FromHost, ToHost};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Longest line of the host's stderr copied into the daemon's log.
const MAX_LOG_LINE: usize = 1000;

/// Why a call got no answer.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The host process ended (crashed) during the call.
    #[error("crashed the plugin host ({0})")]
    Died(String),
    /// No answer within the timeout; the host was killed.
    #[error("did not answer within {0} s; the plugin host was stopped")]
    TimedOut(u64),
    /// The host could not be started.
    #[error("cannot start the plugin host: {0}")]
    Spawn(String),
}

/// A running plugin host.
pub struct Host {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    decoder: mws_ipc::frame::FrameDecoder,
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGTRAP => "SIGTRAP",
        _ => "signal",
    }
}

/// How a process ended, in words.
fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("it exited with code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal} ({})", signal_name(signal)),
        _ => "it ended".to_string(),
    }
}

impl Host {
    /// Starts a host from the `mwsd` executable at `exe` and waits for its
    /// `Ready`.
    pub async fn spawn(exe: &Path, timeout: Duration) -> Result<Host, HostError> {
        let mut command = Command::new(exe);
        command
            .arg("--plugin-host")
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // PR_SET_PDEATHSIG fires when the *thread* that forked exits; hosts
        // are spawned from async tasks, i.e. on tokio worker threads, which
        // live as long as the daemon's runtime.
        // SAFETY: prctl is async-signal-safe and touches no memory of ours;
        // this runs in the child between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| HostError::Spawn(format!("{}: {e}", exe.display())))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(HostError::Spawn("its pipes are missing".into()));
        };
        let pid = child.id().unwrap_or_default();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim().is_empty() {
                    continue;
                }
                let line: String = line.chars().take(MAX_LOG_LINE).collect();
                tracing::warn!(target: "mwsd::plugin_host", pid, "{line}");
            }
        });
        let mut host = Host {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            decoder: protocol::decoder(),
        };
        match host.read(timeout).await? {
            FromHost::Ready => {
                tracing::info!(pid, "plugin host started");
                Ok(host)
            }
            other => {
                host.kill().await;
                Err(HostError::Spawn(format!(
                    "unexpected first message {}",
                    other.name()
                )))
            }
        }
    }

    /// True while the process has not exited.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the host (it has nothing to save).
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    /// How the host ended, after its pipe closed.
    async fn death(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(Ok(status)) => describe(status),
            _ => {
                self.kill().await;
                "its pipe closed".to_string()
            }
        }
    }

    async fn read(&mut self, timeout: Duration) -> Result<FromHost, HostError> {
        match tokio::time::timeout(
            timeout,
            protocol::read_async(&mut self.stdout, &mut self.decoder),
        )
        .await
        {
            Ok(Ok(message)) => Ok(message),
            Ok(Err(FrameError::Closed)) | Ok(Err(FrameError::Io(_))) => {
                Err(HostError::Died(self.death().await))
            }
            Ok(Err(e)) => {
                // A frame that does not decode: the process is not to be
                // trusted any more.
                self.kill().await;
                Err(HostError::Died(format!("it sent a bad frame: {e}")))
            }
            Err(_) => {
                self.kill().await;
                Err(HostError::TimedOut(timeout.as_secs().max(1)))
            }
        }
    }

    /// Sends one request and waits for its answer.
    pub async fn call(
        &mut self,
        request: &ToHost,
        timeout: Duration,
    ) -> Result<FromHost, HostError> {
        match tokio::time::timeout(timeout, protocol::write_async(&mut self.stdin, request)).await {
            Ok(Ok(())) => {}
            Ok(Err(FrameError::TooLarge(len))) => {
                return Ok(FromHost::Failed {
                    reason: format!("input of {len} bytes is too large"),
                })
            }
            Ok(Err(_)) => return Err(HostError::Died(self.death().await)),
            Err(_) => {
                self.kill().await;
                return Err(HostError::TimedOut(timeout.as_secs().max(1)));
            }
        }
        self.read(timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn deaths_are_described() {
        assert_eq!(
            describe(std::process::ExitStatus::from_raw(libc::SIGABRT)),
            "killed by signal 6 (SIGABRT)"
        );
        assert_eq!(
            describe(std::process::ExitStatus::from_raw(3 << 8)),
            "it exited with code 3"
        );
    }
}
