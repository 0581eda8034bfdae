//! The daemon's handle on one plugin-host child process.
//!
//! [`Host::spawn`] starts `mwsd --plugin-host` with a cleared environment
//! (the host never sees `MODAL_*` variables or the daemon's socket path),
//! `/` as its folder, and between fork and exec:
//!
//! - no descriptor but its stdio and the plugin files it is to load
//!   (`mws_ipc::inherit`), so it holds no lock, socket or pipe of the
//!   daemon's or of whoever started the daemon;
//! - a process group of its own, which [`Host::kill`] (and dropping the
//!   handle) kills whole, so a plugin's children go with the host;
//! - `PR_SET_PDEATHSIG` with `SIGTERM`, which the host turns into killing
//!   its group (`child.rs`), so a daemon killed with `SIGKILL` still takes
//!   the host and the plugins' children with it;
//! - `RLIMIT_AS` and `RLIMIT_NPROC` from `[plugins]`.
//!
//! [`Host::call`] sends one request, under a fresh random id, and waits for
//! the answer to that id within a timeout; when the pipe closes instead, the
//! host is reaped and the error says how it ended (e.g. `killed by signal 6
//! (SIGABRT)`); an answer to another id, or a frame that does not decode, is
//! plugin code writing to the pipe, and the host is killed. The caller turns
//! either into a quarantine of the plugin it was calling.

use super::protocol::{self, Envelope, FrameError, FromHost, ToHost};
use std::os::fd::RawFd;
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
    /// A frame the host did not write for this request (plugin code wrote
    /// to the protocol pipe); the host was killed.
    #[error("wrote to the plugin host's protocol pipe ({0}); the plugin host was stopped")]
    Forged(String),
    /// The host could not be started.
    #[error("cannot start the plugin host: {0}")]
    Spawn(String),
}

/// The limits a host runs under.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// `RLIMIT_AS`, in bytes.
    pub memory_bytes: u64,
    /// `RLIMIT_NPROC`.
    pub processes: u64,
}

/// A running plugin host.
pub struct Host {
    child: Child,
    /// Its process id, which is also its process group's.
    pid: Option<i32>,
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
    /// Starts a host from the `mwsd` executable at `exe`, handing it the
    /// descriptors `files` (plugin files to load, close-on-exec in the
    /// daemon), and waits for its `Ready`.
    pub async fn spawn(
        exe: &Path,
        timeout: Duration,
        limits: Limits,
        files: Vec<RawFd>,
    ) -> Result<Host, HostError> {
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
        let daemon = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the child between fork and exec and
        // makes only system calls (setpgid, prctl, setrlimit, getppid,
        // close_range, fcntl): async-signal-safe, no allocation.
        unsafe {
            command.pre_exec(move || {
                let fail = || Err(std::io::Error::last_os_error());
                if libc::setpgid(0, 0) != 0 {
                    return fail();
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0) != 0 {
                    return fail();
                }
                // The daemon died before the line above: nobody will
                // send the signal.
                if libc::getppid() != daemon {
                    return Err(std::io::Error::other("the daemon is gone"));
                }
                for (resource, value) in [
                    (libc::RLIMIT_AS, limits.memory_bytes),
                    (libc::RLIMIT_NPROC, limits.processes),
                ] {
                    let limit = libc::rlimit {
                        rlim_cur: value as libc::rlim_t,
                        rlim_max: value as libc::rlim_t,
                    };
                    if libc::setrlimit(resource, &limit) != 0 {
                        return fail();
                    }
                }
                mws_ipc::inherit::keep_only(&files)
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
            pid: i32::try_from(pid).ok().filter(|p| *p > 0),
            child,
            stdin,
            stdout: BufReader::new(stdout),
            decoder: protocol::decoder(),
        };
        match host.read(0, timeout).await? {
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
        let alive = matches!(self.child.try_wait(), Ok(None));
        if !alive {
            self.forget_group();
        }
        alive
    }

    /// After the host was reaped: what its plugins started goes too (the
    /// group's id stays taken while any member lives), then the id is
    /// forgotten, so that it is never signalled once it may be reused.
    fn forget_group(&mut self) {
        if let Some(pid) = self.pid.take() {
            // SAFETY: kill(2) of the group the reaped host led.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }

    /// Kills the host's process group: the host and whatever its plugins
    /// started (unless they left the group).
    fn kill_group(&mut self) {
        if let Some(pid) = self.pid {
            // SAFETY: kill(2) of the group this host leads; it exists as
            // long as `child` is not reaped, so the id is not reused.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        let _ = self.child.start_kill();
    }

    /// Stops the host and its group (it has nothing to save).
    pub async fn kill(&mut self) {
        self.kill_group();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        self.forget_group();
    }

    /// How the host ended, after its pipe closed.
    async fn death(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(Ok(status)) => {
                self.forget_group();
                describe(status)
            }
            _ => {
                self.kill().await;
                "its pipe closed".to_string()
            }
        }
    }

    /// Reads the answer to request `id`.
    async fn read(&mut self, id: u64, timeout: Duration) -> Result<FromHost, HostError> {
        match tokio::time::timeout(
            timeout,
            protocol::read_async::<Envelope<FromHost>, _>(&mut self.stdout, &mut self.decoder),
        )
        .await
        {
            Ok(Ok(answer)) if answer.id == id => Ok(answer.body),
            Ok(Ok(answer)) => {
                // Not the host's answer to this request: the process is
                // not to be trusted any more.
                self.kill().await;
                Err(HostError::Forged(format!(
                    "a frame for request id {}, not {id}",
                    answer.id
                )))
            }
            Ok(Err(FrameError::Closed)) | Ok(Err(FrameError::Io(_))) => {
                Err(HostError::Died(self.death().await))
            }
            Ok(Err(e)) => {
                self.kill().await;
                Err(HostError::Forged(format!(
                    "a frame that does not decode: {e}"
                )))
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
        // Random, so that plugin code cannot guess it; never 0 (`Ready`).
        let id = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
        let request = Envelope { id, body: request };
        match tokio::time::timeout(timeout, protocol::write_async(&mut self.stdin, &request)).await
        {
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
        self.read(id, timeout).await
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if self.pid.is_some() {
            self.kill_group();
        }
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
