//! Starting `mwsd` when nobody answers on the socket. The contract with the
//! daemon is in `docs/ipc.md` ("Starting the daemon"):
//!
//! 1. take `<runtime dir>/mwsd.start.lock` (blocking `flock`), so that many
//!    first calls at once start exactly one daemon;
//! 2. try the socket again: another `mws` may have started it meanwhile;
//! 3. run `mwsd --ready-fd N` (`MWSD_PATH`, else next to this executable,
//!    else on `PATH`) in a new session, stdio on `/dev/null`, with the write
//!    end of a pipe as fd N and no other descriptor (`mws_ipc::inherit`);
//! 4. read one line from the pipe, with a deadline (no blind sleeps):
//!    `ok` (socket bound), `already-running` (another daemon holds the
//!    instance lock: use it), or `error: <message>`.
//!
//! The daemon gets neither `MODAL_TOKEN_ID` nor `MODAL_TOKEN_SECRET` from the
//! shell that happened to start it: credentials travel with each request.

use mws_ipc::paths::{self, PathError};
use rustix::fs::FlockOperation;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// File name of the start-up lock inside the runtime folder.
pub const START_LOCK_NAME: &str = "mwsd.start.lock";

/// How long a starting daemon has to bind its socket.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("cannot take the start-up lock {path}: {error}")]
    Lock { path: PathBuf, error: io::Error },
    #[error("cannot find mwsd (not next to mws, not on PATH); set MWSD_PATH to its location")]
    NotFound,
    #[error("cannot start {path}: {error}")]
    Spawn { path: PathBuf, error: io::Error },
    #[error("mwsd failed to start: {0}")]
    Failed(String),
    #[error("mwsd exited before it was ready ({0}); see its log in $XDG_STATE_HOME/mws/mwsd.log")]
    Exited(String),
    #[error("mwsd did not report ready within {} s", READY_TIMEOUT.as_secs())]
    Timeout,
    #[error("cannot start mwsd: {0}")]
    Io(#[from] io::Error),
}

/// Starts a daemon (`program`, else the one [`locate`] finds) unless one
/// answers (`answers()`, the caller's probe of the socket) once we hold the
/// lock. The probe is passed in so that this module needs nothing of the
/// client that calls it.
pub fn start(
    runtime_dir: &Path,
    answers: impl Fn() -> bool,
    program: Option<&Path>,
) -> Result<(), StartError> {
    paths::ensure_runtime_dir(runtime_dir)?;
    let _lock = lock(&runtime_dir.join(START_LOCK_NAME))?;
    if answers() {
        return Ok(());
    }
    match program {
        Some(program) => spawn_and_wait(program),
        None => spawn_and_wait(&locate()?),
    }
    // The lock is released when `_lock` is dropped.
}

/// Opens and exclusively locks the start-up lock (blocking).
fn lock(path: &Path) -> Result<File, StartError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|error| StartError::Lock {
            path: path.to_owned(),
            error,
        })?;
    match flock(&file, FlockOperation::LockExclusive) {
        Ok(()) => Ok(file),
        Err(error) => Err(StartError::Lock {
            path: path.to_owned(),
            error,
        }),
    }
}

/// `flock(2)` on a file we hold, retried when a signal interrupts it.
pub fn flock(file: &File, operation: FlockOperation) -> io::Result<()> {
    loop {
        match rustix::fs::flock(file, operation) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Where `mwsd` is: `MWSD_PATH`, else next to this executable, else `PATH`.
pub fn locate() -> Result<PathBuf, StartError> {
    if let Some(path) = std::env::var_os("MWSD_PATH").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    if let Ok(exe) = std::env::current_exe() {
        let sibling = exe.with_file_name("mwsd");
        if is_executable(&sibling) {
            return Ok(sibling);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("mwsd"))
        .find(|candidate| is_executable(candidate))
        .ok_or(StartError::NotFound)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A pipe whose ends are both close-on-exec and above the stdio numbers
/// (the child's stdio is replaced, which must not clobber the ready fd).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills two descriptors, which we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((above_stdio(read)?, above_stdio(write)?))
}

fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor that we then own.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

fn spawn_and_wait(program: &Path) -> Result<(), StartError> {
    let (read, write) = pipe()?;
    let ready_fd = write.as_raw_fd();
    let mut command = Command::new(program);
    command
        .arg("--ready-fd")
        .arg(ready_fd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir("/")
        .env_remove("MODAL_TOKEN_ID")
        .env_remove("MODAL_TOKEN_SECRET");
    // SAFETY: the closure runs between fork and exec and makes only system
    // calls (setsid, close_range, fcntl), which are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            // A session of its own: the daemon outlives this terminal.
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            // The ready fd survives exec; nothing else of ours or of our
            // caller's does (a script's `flock` on fd 9 is released when the
            // script exits, not when the daemon does).
            mws_ipc::inherit::keep_only(&[ready_fd])
        });
    }
    let mut child = command.spawn().map_err(|error| StartError::Spawn {
        path: program.to_owned(),
        error,
    })?;
    // Our copy of the write end must go, or we would never see EOF.
    drop(write);
    let line = match read_line(File::from(read), READY_TIMEOUT) {
        Ok(line) => line,
        Err(e) => {
            // A daemon that cannot say whether it is ready is not left behind.
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    interpret(&line, &mut child)
}

/// Acts on the daemon's one-line report.
fn interpret(line: &str, child: &mut Child) -> Result<(), StartError> {
    match line {
        "ok" => Ok(()),
        "already-running" => {
            reap(child);
            Ok(())
        }
        _ => {
            let status = reap(child);
            if let Some(message) = line.strip_prefix("error:") {
                Err(StartError::Failed(message.trim().to_owned()))
            } else if line.is_empty() {
                Err(StartError::Exited(status))
            } else {
                Err(StartError::Failed(format!("unexpected report {line:?}")))
            }
        }
    }
}

/// Collects a child that said it is exiting; one that does not exit within
/// a second is killed, so we never hang on it.
fn reap(child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.to_string(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                return child
                    .wait()
                    .map_or_else(|e| e.to_string(), |s| s.to_string());
            }
        }
    }
}

/// Reads up to the first newline (or EOF) within `timeout`.
fn read_line(mut file: File, timeout: Duration) -> Result<String, StartError> {
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    while !buf.contains(&b'\n') && buf.len() < 4096 {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(StartError::Timeout);
        }
        let mut pfd = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = remaining.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        if rc == 0 {
            return Err(StartError::Timeout);
        }
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let text = String::from_utf8_lossy(&buf);
    Ok(text.lines().next().unwrap_or("").trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_the_first_line() {
        let (read, write) = pipe().unwrap();
        let mut w = File::from(write);
        w.write_all(b"ok\nignored").unwrap();
        drop(w);
        assert_eq!(
            read_line(File::from(read), Duration::from_secs(1)).unwrap(),
            "ok"
        );
    }

    #[test]
    fn eof_without_a_line_is_empty() {
        let (read, write) = pipe().unwrap();
        drop(write);
        assert_eq!(
            read_line(File::from(read), Duration::from_secs(1)).unwrap(),
            ""
        );
    }

    #[test]
    fn silence_times_out() {
        let (read, _write) = pipe().unwrap();
        let started = Instant::now();
        let err = read_line(File::from(read), Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, StartError::Timeout), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn start_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(START_LOCK_NAME);
        let held = lock(&path).unwrap();
        let other = File::open(&path).unwrap();
        assert!(
            flock(&other, FlockOperation::NonBlockingLockExclusive).is_err(),
            "a second exclusive lock must fail while held"
        );
        drop(held);
        flock(&other, FlockOperation::NonBlockingLockExclusive).unwrap();
    }

    #[test]
    fn pipe_ends_are_above_stdio() {
        let (read, write) = pipe().unwrap();
        assert!(read.as_raw_fd() > 2 && write.as_raw_fd() > 2);
    }
}
