//! The IPC client: one round trip per command, and a daemon when there is none.
//!
//! Fast path (a warm daemon): one `lstat` of the socket folder (it must be
//! ours and private before we send a secret through it), `connect`, a single
//! `write` carrying the `ClientHello` frame and the `Request` frame, then the
//! reads for the `ServerHello` and the `Response`. Nothing else.
//!
//! Slow paths:
//! * no socket, or connection refused (a stale socket): auto-start, see
//!   [`crate::autostart`], then try again;
//! * a daemon of another protocol version (its hello says `error`, carries
//!   another version, or cannot even be decoded): stop it (SIGTERM to its
//!   pid, read from the socket's peer credentials when possible), wait for it
//!   to exit, start ours;
//! * the daemon hangs up before its hello: it was going away and has not read
//!   our request (the daemon answers the hello before it reads any request),
//!   so starting a new one and sending again is safe;
//! * the daemon hangs up after its hello but before the response: a request
//!   sent with [`Retry::Safe`] is resent once to a fresh daemon. That covers
//!   reads, and (since protocol 2) workspace mutations too: each carries an
//!   idempotency key from which the daemon derives its upstream keys, so a
//!   resent mutation gets the first answer replayed by the server instead of
//!   making a second change. A request sent with [`Retry::Unsafe`] (`mws
//!   auth`, whose keyring and config changes carry no key, and the daemon's
//!   own `Status`/`Shutdown`) is not resent: the user is told the outcome is
//!   unknown ([`ClientError::OutcomeUnknown`]).

use crate::autostart;
use interprocess::local_socket::{prelude::*, GenericFilePath, Stream};
use mws_ipc::codec::{self, CodecError};
use mws_ipc::paths::{self, PathError};
use mws_ipc::{ClientHello, Request, Response, ServerHello, PROTOCOL_VERSION};
use rustix::process::{Pid, Signal};
use std::io::{self, BufReader, Write};
use std::path::Path;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// How long we wait for an answer. Upstream calls are bounded by the daemon
/// (a few seconds); this only guards against a daemon that hangs.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a replaced or stopped daemon gets to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("cannot connect to mwsd at {path}: {error}")]
    Connect { path: PathBuf, error: io::Error },
    #[error("cannot talk to mwsd: {0}")]
    Io(io::Error),
    #[error("mwsd sent a malformed answer: {0}")]
    Malformed(String),
    #[error("mwsd did not answer within {} s", RESPONSE_TIMEOUT.as_secs())]
    Timeout,
    /// The daemon died while handling a [`Retry::Unsafe`] request.
    #[error(
        "mwsd stopped before answering, so the outcome is unknown: the change may or may not have \
         been made. Check with `mws proxy-tokens list`."
    )]
    OutcomeUnknown,
    #[error("mwsd stopped before answering, twice; if this was a change, check with `mws proxy-tokens list` whether it was made, and see mwsd's log ($XDG_STATE_HOME/mws/mwsd.log)")]
    DaemonDied,
    #[error("mwsd (pid {pid}) speaks another protocol and did not exit when asked to; stop it with `kill {pid}`")]
    WouldNotExit { pid: i32 },
    #[error("a daemon of another protocol version answers on {0} and its pid is unknown; stop it and retry")]
    UnknownMismatch(PathBuf),
    #[error(transparent)]
    Start(#[from] autostart::StartError),
    #[error("mwsd is not running")]
    NotRunning,
    #[error("stopped an mwsd of another protocol version")]
    StoppedOther,
}

/// Whether resending a request after the daemon died mid-way is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Reads, and workspace mutations with an idempotency key (the next
    /// daemon's upstream call replays the first one's answer): send again.
    Safe,
    /// Changes without an idempotency key (`mws auth`): the first attempt
    /// may have taken effect, so report [`ClientError::OutcomeUnknown`].
    Unsafe,
}

/// One attempt's failure, and what to do about it.
enum Failure {
    /// Nobody listens: start a daemon.
    NoDaemon,
    /// A daemon of another protocol answered; stop it (pid if known).
    Mismatch(Option<i32>),
    /// The daemon hung up before its hello: the request was not read.
    GoneBeforeHello,
    /// The daemon hung up after its hello, before the response.
    GoneBeforeResponse,
    Fatal(ClientError),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Fatal(e)
    }
}

/// A successful exchange.
pub struct Exchange {
    pub hello: ServerHello,
    pub response: Response,
    /// True when this call started the daemon.
    pub started: bool,
}

pub struct Client {
    runtime_dir: PathBuf,
    socket: PathBuf,
    /// The daemon program to start; `None`: find it (see `autostart`).
    program: Option<PathBuf>,
}

impl Client {
    /// The client for this user's daemon (`$XDG_RUNTIME_DIR/mws/mwsd.sock`
    /// or `/tmp/mws-<uid>/mwsd.sock`).
    pub fn new() -> Self {
        let runtime_dir = paths::runtime_dir();
        Self::at(runtime_dir, None)
    }

    /// A client for the daemon of `runtime_dir`, started from `program`.
    pub fn at(runtime_dir: PathBuf, program: Option<PathBuf>) -> Self {
        let socket = paths::socket_path(&runtime_dir);
        Client {
            runtime_dir,
            socket,
            program,
        }
    }

    /// Sends `request`, starting (or replacing) the daemon as needed.
    pub fn request(&self, request: &Request, retry: Retry) -> Result<Exchange, ClientError> {
        self.run(request, retry, true)
    }

    /// Sends `request` to a running daemon only; `NotRunning` otherwise.
    pub fn request_running(&self, request: &Request) -> Result<Exchange, ClientError> {
        self.run(request, Retry::Unsafe, false)
    }

    /// Sends `request` to a running daemon, waiting `within` at most for
    /// each step; no daemon is started or replaced, nothing is resent. For
    /// answers that must never hold the user up (a shell prompt's).
    pub fn request_within(
        &self,
        request: &Request,
        within: Duration,
    ) -> Result<Response, ClientError> {
        match self.attempt(&encode(request)?, within) {
            Ok((_, response)) => Ok(response),
            Err(Failure::Fatal(e)) => Err(e),
            Err(_) => Err(ClientError::NotRunning),
        }
    }

    fn run(&self, request: &Request, retry: Retry, start: bool) -> Result<Exchange, ClientError> {
        let frames = encode(request)?;
        let mut started = false;
        let mut resent = false;
        // Each pass either succeeds, fails for good, or fixes one problem
        // (no daemon, wrong daemon, dead daemon); a few passes are plenty.
        for _ in 0..4 {
            let failure = match self.attempt(&frames, RESPONSE_TIMEOUT) {
                Ok((hello, response)) => {
                    return Ok(Exchange {
                        hello,
                        response,
                        started,
                    })
                }
                Err(failure) => failure,
            };
            match failure {
                Failure::Fatal(e) => return Err(e),
                Failure::NoDaemon | Failure::GoneBeforeHello if !start => {
                    return Err(ClientError::NotRunning)
                }
                Failure::NoDaemon | Failure::GoneBeforeHello => {}
                Failure::Mismatch(pid) => {
                    let pid =
                        pid.ok_or_else(|| ClientError::UnknownMismatch(self.socket.clone()))?;
                    self.stop_process(pid)?;
                    if !start {
                        return Err(ClientError::StoppedOther);
                    }
                }
                Failure::GoneBeforeResponse => {
                    if retry == Retry::Unsafe {
                        return Err(ClientError::OutcomeUnknown);
                    }
                    if resent {
                        return Err(ClientError::DaemonDied);
                    }
                    resent = true;
                }
            }
            autostart::start(
                &self.runtime_dir,
                || self.answers(),
                self.program.as_deref(),
            )?;
            started = true;
        }
        Err(ClientError::DaemonDied)
    }

    /// One connection: hello + request in one write, hello + response back.
    fn attempt(
        &self,
        frames: &[u8],
        timeout: Duration,
    ) -> Result<(ServerHello, Response), Failure> {
        match paths::check_runtime_dir(&self.runtime_dir) {
            Ok(()) => {}
            Err(PathError::Create { error, .. }) if error.kind() == io::ErrorKind::NotFound => {
                return Err(Failure::NoDaemon)
            }
            Err(e) => return Err(Failure::Fatal(e.into())),
        }
        let stream = match connect(&self.socket) {
            Ok(stream) => stream,
            Err(e) if is_absent(&e) => return Err(Failure::NoDaemon),
            Err(source) => {
                return Err(Failure::Fatal(ClientError::Connect {
                    path: self.socket.clone(),
                    error: source,
                }))
            }
        };
        stream
            .set_recv_timeout(Some(timeout))
            .map_err(ClientError::Io)?;
        stream
            .set_send_timeout(Some(timeout))
            .map_err(ClientError::Io)?;
        if let Err(e) = (&stream).write_all(frames) {
            // Not all of the request reached the daemon, so it cannot act on it.
            return Err(if is_hangup(&e) {
                Failure::GoneBeforeHello
            } else {
                Failure::Fatal(ClientError::Io(e))
            });
        }
        let mut reader = BufReader::with_capacity(64 * 1024, &stream);
        let hello: ServerHello = match codec::read_frame(&mut reader) {
            Ok(hello) => hello,
            Err(CodecError::Closed) => return Err(Failure::GoneBeforeHello),
            Err(CodecError::Io(e)) if is_hangup(&e) => return Err(Failure::GoneBeforeHello),
            Err(CodecError::Io(e)) if is_timeout(&e) => {
                return Err(Failure::Fatal(ClientError::Timeout))
            }
            Err(CodecError::Io(e)) => return Err(Failure::Fatal(ClientError::Io(e))),
            // A hello we cannot decode comes from another protocol.
            Err(CodecError::Malformed(_) | CodecError::TooLarge(_)) => {
                return Err(Failure::Mismatch(peer_pid(&stream)))
            }
        };
        if hello.error.is_some() || hello.protocol_version != PROTOCOL_VERSION {
            let pid = peer_pid(&stream).or_else(|| i32::try_from(hello.pid).ok());
            return Err(Failure::Mismatch(pid));
        }
        match codec::read_frame::<_, Response>(&mut reader) {
            Ok(response) => Ok((hello, response)),
            Err(CodecError::Closed) => Err(Failure::GoneBeforeResponse),
            Err(CodecError::Io(e)) if is_hangup(&e) => Err(Failure::GoneBeforeResponse),
            Err(CodecError::Io(e)) if is_timeout(&e) => Err(Failure::Fatal(ClientError::Timeout)),
            Err(CodecError::Io(e)) => Err(Failure::Fatal(ClientError::Io(e))),
            Err(e @ (CodecError::Malformed(_) | CodecError::TooLarge(_))) => {
                Err(Failure::Fatal(ClientError::Malformed(e.to_string())))
            }
        }
    }

    /// Opens a stream of events (`Request::Watch`), starting the daemon if
    /// needed. The first answer (`Ok` or an error) is checked here.
    pub fn subscribe(&self, request: &Request) -> Result<Subscription, ClientError> {
        // Make sure a daemon of our version runs (this starts one if not).
        self.request(&Request::Ping, Retry::Safe)?;
        let stream = connect(&self.socket).map_err(|source| ClientError::Connect {
            path: self.socket.clone(),
            error: source,
        })?;
        let frames = encode(request)?;
        (&stream).write_all(&frames).map_err(ClientError::Io)?;
        let mut reader = BufReader::with_capacity(64 * 1024, stream);
        let read = |reader: &mut BufReader<Stream>| -> Result<Response, ClientError> {
            codec::read_frame::<_, Response>(reader).map_err(|e| match e {
                CodecError::Closed => ClientError::DaemonDied,
                CodecError::Io(e) => ClientError::Io(e),
                other => ClientError::Malformed(other.to_string()),
            })
        };
        let hello: ServerHello =
            codec::read_frame(&mut reader).map_err(|e| ClientError::Malformed(e.to_string()))?;
        if hello.error.is_some() || hello.protocol_version != PROTOCOL_VERSION {
            return Err(ClientError::UnknownMismatch(self.socket.clone()));
        }
        let first = read(&mut reader)?;
        Ok(Subscription {
            first: Some(first),
            reader,
        })
    }

    /// True when something accepts connections on the socket.
    pub fn answers(&self) -> bool {
        connect(&self.socket).is_ok()
    }

    /// Waits (bounded) until the daemon with `pid` has exited and its socket
    /// no longer answers.
    pub fn wait_gone(&self, pid: Option<i32>) -> bool {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            let alive = pid.is_some_and(process_alive);
            if !alive && !self.answers() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Asks a daemon to exit (SIGTERM), then insists (SIGKILL).
    pub fn stop_process(&self, pid: i32) -> Result<(), ClientError> {
        if pid <= 1 || pid == std::process::id() as i32 {
            return Err(ClientError::UnknownMismatch(self.socket.clone()));
        }
        signal(pid, Signal::TERM);
        if self.wait_gone(Some(pid)) {
            return Ok(());
        }
        signal(pid, Signal::KILL);
        if self.wait_gone(Some(pid)) {
            return Ok(());
        }
        Err(ClientError::WouldNotExit { pid })
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

/// A stream of responses after a `Watch` request.
pub struct Subscription {
    first: Option<Response>,
    reader: BufReader<Stream>,
}

impl Subscription {
    /// The next response; `None` when the daemon hangs up.
    pub fn next_response(&mut self) -> Option<Result<Response, ClientError>> {
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        match codec::read_frame::<_, Response>(&mut self.reader) {
            Ok(response) => Some(Ok(response)),
            Err(CodecError::Closed) => None,
            Err(CodecError::Io(e)) if is_hangup(&e) => None,
            Err(CodecError::Io(e)) => Some(Err(ClientError::Io(e))),
            Err(e) => Some(Err(ClientError::Malformed(e.to_string()))),
        }
    }
}

/// The hello and the request, framed, ready for a single write.
/// The buffer is zeroed when dropped: it may carry the API secret.
fn encode(request: &Request) -> Result<Zeroizing<Vec<u8>>, ClientError> {
    let hello = ClientHello {
        protocol_version: PROTOCOL_VERSION,
        client_version: env!("CARGO_PKG_VERSION").to_owned(),
        features: Vec::new(),
    };
    let mut frames =
        codec::encode_frame(&hello).map_err(|e| ClientError::Malformed(e.to_string()))?;
    let request = Zeroizing::new(
        codec::encode_frame(request).map_err(|e| ClientError::Malformed(e.to_string()))?,
    );
    frames.extend_from_slice(&request);
    Ok(Zeroizing::new(frames))
}

/// Errors meaning "no daemon here": no socket file, or nobody listening.
fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

fn is_hangup(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sends `sig` to `pid`; a process that is already gone is no error here
/// (the caller waits for it to be gone anyway).
fn signal(pid: i32, sig: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

fn process_alive(pid: i32) -> bool {
    let Some(pid_) = Pid::from_raw(pid) else {
        return false;
    };
    // Signal 0 only checks that the process exists (EPERM: it does, not ours).
    let exists = matches!(
        rustix::process::test_kill_process(pid_),
        Ok(()) | Err(rustix::io::Errno::PERM)
    );
    exists && !is_zombie(pid)
}

/// True when `pid` has exited but not been reaped yet. A detached daemon's
/// parent is init, which may reap it late; an exited daemon is gone for us.
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the parenthesised command name.
            let after = stat.rsplit_once(')')?.1;
            after.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(false)
}

/// Connects to the daemon's socket (an `interprocess` local socket: a Unix
/// domain socket here).
fn connect(path: &Path) -> io::Result<Stream> {
    let name = path.to_fs_name::<GenericFilePath>()?;
    Stream::connect(name)
}

/// The pid of the process at the other end of the socket.
fn peer_pid(stream: &Stream) -> Option<i32> {
    stream
        .peer_creds()
        .ok()
        .and_then(|creds| creds.pid())
        .filter(|pid| *pid > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mws_ipc::{ErrorKind, WorkspaceCommand};
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixListener;
    use std::thread::JoinHandle;

    /// How the fake daemon treats one connection.
    #[derive(Clone, Copy)]
    enum Behaviour {
        Answer,
        HangUpAfterHello,
        WrongVersion,
    }

    struct World {
        _dir: tempfile::TempDir,
        runtime: PathBuf,
    }

    fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let runtime = dir.path().join("mws");
        paths::ensure_runtime_dir(&runtime).unwrap();
        World { _dir: dir, runtime }
    }

    /// Serves one connection per behaviour, in order; returns the requests.
    fn fake_daemon(runtime: &std::path::Path, script: Vec<Behaviour>) -> JoinHandle<Vec<Request>> {
        let listener = UnixListener::bind(paths::socket_path(runtime)).unwrap();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            for behaviour in script {
                // Connections that close before a hello are probes
                // ("is a daemon there?"); skip them as mwsd does.
                let (stream, mut reader, hello) = loop {
                    let (stream, _) = listener.accept().unwrap();
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    if let Ok(hello) = codec::read_frame::<_, ClientHello>(&mut reader) {
                        break (stream, reader, hello);
                    }
                };
                assert_eq!(hello.protocol_version, PROTOCOL_VERSION);
                let request: Request = codec::read_frame(&mut reader).unwrap();
                seen.push(request.clone());
                let server_hello = ServerHello {
                    protocol_version: match behaviour {
                        Behaviour::WrongVersion => PROTOCOL_VERSION + 1,
                        _ => PROTOCOL_VERSION,
                    },
                    daemon_version: "test".into(),
                    pid: std::process::id(),
                    features: vec![],
                    error: None,
                };
                (&stream)
                    .write_all(&codec::encode_frame(&server_hello).unwrap())
                    .unwrap();
                if let Behaviour::Answer = behaviour {
                    let response = match request {
                        Request::Ping => Response::Pong,
                        _ => Response::error(ErrorKind::Server, "canned"),
                    };
                    (&stream)
                        .write_all(&codec::encode_frame(&response).unwrap())
                        .unwrap();
                }
            }
            seen
        })
    }

    /// A stand-in for mwsd that reports `line` on its ready fd and exits.
    fn fake_mwsd(world: &World, line: &str) -> PathBuf {
        let path = world.runtime.parent().unwrap().join("fake-mwsd");
        std::fs::write(
            &path,
            format!("#!/bin/bash\n[ \"$1\" = --ready-fd ] || exit 9\necho '{line}' >&\"$2\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn list() -> Request {
        Request::Workspace {
            selection: Default::default(),
            freshness: Default::default(),
            command: WorkspaceCommand::MembersList,
            idempotency_key: None,
        }
    }

    fn delete() -> Request {
        Request::Workspace {
            selection: Default::default(),
            freshness: Default::default(),
            command: WorkspaceCommand::TokenDelete {
                token_id: "wk-1".into(),
            },
            idempotency_key: None,
        }
    }

    #[test]
    fn one_round_trip() {
        let w = world();
        let daemon = fake_daemon(&w.runtime, vec![Behaviour::Answer]);
        let client = Client::at(w.runtime.clone(), None);
        let exchange = client.request(&Request::Ping, Retry::Safe).unwrap();
        assert_eq!(exchange.response, Response::Pong);
        assert!(!exchange.started);
        assert_eq!(daemon.join().unwrap(), vec![Request::Ping]);
    }

    #[test]
    fn hello_and_request_travel_in_one_write() {
        let frames = encode(&list()).unwrap();
        let mut reader = frames.as_slice();
        let _: ClientHello = codec::read_frame(&mut reader).unwrap();
        let request: Request = codec::read_frame(&mut reader).unwrap();
        assert_eq!(request, list());
        assert!(reader.read(&mut [0u8; 1]).unwrap() == 0);
    }

    #[test]
    fn not_running_without_a_socket() {
        let w = world();
        let client = Client::at(w.runtime.join("absent"), None);
        assert!(matches!(
            client.request_running(&Request::Status),
            Err(ClientError::NotRunning)
        ));
    }

    #[test]
    fn foreign_socket_folder_is_refused() {
        let w = world();
        std::fs::set_permissions(&w.runtime, std::fs::Permissions::from_mode(0o755)).unwrap();
        let client = Client::at(w.runtime.clone(), None);
        let err = client.request(&list(), Retry::Safe).err().unwrap();
        assert!(err.to_string().contains("chmod 700"), "{err}");
    }

    #[test]
    fn unsafe_request_is_not_resent_when_the_daemon_dies() {
        let w = world();
        let daemon = fake_daemon(&w.runtime, vec![Behaviour::HangUpAfterHello]);
        let program = fake_mwsd(&w, "already-running");
        let client = Client::at(w.runtime.clone(), Some(program));
        let err = client.request(&delete(), Retry::Unsafe).err().unwrap();
        assert!(matches!(err, ClientError::OutcomeUnknown), "{err}");
        assert!(err.to_string().contains("mws proxy-tokens list"));
        assert_eq!(daemon.join().unwrap().len(), 1);
    }

    #[test]
    fn read_is_retried_once_when_the_daemon_dies() {
        let w = world();
        let daemon = fake_daemon(
            &w.runtime,
            vec![Behaviour::HangUpAfterHello, Behaviour::Answer],
        );
        // The "new" daemon reports that one is already running: ours.
        let program = fake_mwsd(&w, "already-running");
        let client = Client::at(w.runtime.clone(), Some(program));
        let exchange = client.request(&list(), Retry::Safe).unwrap();
        assert!(matches!(exchange.response, Response::Error(_)));
        assert_eq!(daemon.join().unwrap(), vec![list(), list()]);
    }

    #[test]
    fn autostart_reports_the_daemons_error() {
        let w = world();
        let program = fake_mwsd(&w, "error: cannot bind the socket");
        let client = Client::at(w.runtime.clone(), Some(program));
        let err = client.request(&list(), Retry::Safe).err().unwrap();
        assert_eq!(
            err.to_string(),
            "mwsd failed to start: cannot bind the socket"
        );
    }

    #[test]
    fn autostart_notices_a_silent_exit() {
        let w = world();
        let program = fake_mwsd(&w, "");
        std::fs::write(&program, "#!/bin/sh\nexit 7\n").unwrap();
        let client = Client::at(w.runtime.clone(), Some(program));
        let err = client.request(&list(), Retry::Safe).err().unwrap();
        assert!(
            err.to_string().contains("exited before it was ready"),
            "{err}"
        );
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let w = world();
        let client = Client::at(w.runtime.clone(), Some(w.runtime.join("no-such-mwsd")));
        let err = client.request(&list(), Retry::Safe).err().unwrap();
        assert!(err.to_string().starts_with("cannot start "), "{err}");
    }

    #[test]
    fn wrong_version_daemon_is_never_confused_with_us() {
        let w = world();
        // The fake daemon runs in this process, so "stopping" it must not
        // signal us: pid checks refuse our own pid.
        let daemon = fake_daemon(&w.runtime, vec![Behaviour::WrongVersion]);
        let client = Client::at(w.runtime.clone(), None);
        let err = client.request(&list(), Retry::Safe).err().unwrap();
        assert!(matches!(err, ClientError::UnknownMismatch(_)), "{err}");
        daemon.join().unwrap();
    }
}
