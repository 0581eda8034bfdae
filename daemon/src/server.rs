//! The IPC server: accepts connections on the private socket, checks the
//! peer, negotiates the encoding and protocol version, and answers requests.
//!
//! Every connection is a task; a malformed frame gets an error reply (when the
//! framing is still intact) and the connection is closed, so nothing a client
//! sends can take the daemon down. See `docs/ipc.md`.

use crate::config::{self, Identity, Resolved};
use crate::local::{LocalEmulator, LocalSettings};
use crate::settings::Settings;
use crate::upstream::{MutationKey, Upstream, UpstreamSettings};
use crate::workspace::{Session, SharedSettings};
use interprocess::local_socket::tokio::{prelude::*, Listener, Stream};
use mws_ipc::codec::{self, CodecError, Encoding, MAX_FRAME_LEN};
use mws_ipc::{
    ClientHello, DaemonStatus, ErrorKind, ErrorReply, Event, IdentityStatus, Request, Response,
    Selection, ServerHello, WorkspaceCommand, PROTOCOL_VERSION,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{broadcast, watch};

/// How long a client may take to send its hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Key of a session: one identity, and a digest of the secret it was opened
/// with, so that a request with a wrong secret never reads the cache that a
/// right one filled (it gets its own session, and the server's verdict).
type IdentityKey = (String, String, u64);

fn secret_digest(secret: &mws_ipc::Secret) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // A per-process random key: the digest means nothing outside this daemon.
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let mut hasher = KEYS.get_or_init(Default::default).build_hasher();
    hasher.write(secret.expose().as_bytes());
    hasher.finish()
}

/// The daemon's shared state.
pub struct Daemon {
    started: Instant,
    socket: PathBuf,
    pub(crate) upstream_settings: UpstreamSettings,
    local_settings: LocalSettings,
    pub settings: SharedSettings,
    config_errors: Mutex<Vec<String>>,
    profiles: crate::config::ProfileStore,
    watcher: std::sync::OnceLock<Arc<crate::reload::ConfigWatcher>>,
    pub notification_state: Mutex<String>,
    watchers: std::sync::atomic::AtomicU32,
    pub(crate) keyring: Result<crate::secrets::Keyring, crate::secrets::KeyringError>,
    /// Secrets read from the keyring, so a warm call never touches it; misses
    /// are remembered briefly.
    pub(crate) keyring_cache: Mutex<HashMap<String, (Option<mws_ipc::Secret>, Instant)>>,
    keyring_warned: std::sync::atomic::AtomicBool,
    sessions: Mutex<HashMap<IdentityKey, Arc<Session>>>,
    local: tokio::sync::Mutex<Option<LocalEmulator>>,
    local_url: Mutex<Option<String>>,
    events: broadcast::Sender<Event>,
    shutdown: watch::Sender<bool>,
    /// Plugin formats and alert policies (hosted in a child process).
    pub plugins: Arc<crate::plugins::Plugins>,
}

impl Daemon {
    pub fn new(
        socket: PathBuf,
        upstream_settings: UpstreamSettings,
        local_settings: LocalSettings,
        settings: Settings,
    ) -> Self {
        let (events, _) = broadcast::channel(1024);
        let (shutdown, _) = watch::channel(false);
        let settings = Arc::new(std::sync::RwLock::new(settings));
        let plugins = Arc::new(crate::plugins::Plugins::new(
            events.clone(),
            settings.clone(),
        ));
        Self {
            started: Instant::now(),
            socket,
            upstream_settings,
            local_settings,
            settings,
            config_errors: Mutex::new(Vec::new()),
            profiles: crate::config::ProfileStore::default(),
            watcher: std::sync::OnceLock::new(),
            notification_state: Mutex::new("not started".to_string()),
            watchers: std::sync::atomic::AtomicU32::new(0),
            keyring: crate::secrets::Keyring::start(),
            keyring_cache: Mutex::new(HashMap::new()),
            keyring_warned: std::sync::atomic::AtomicBool::new(false),
            sessions: Mutex::new(HashMap::new()),
            local: tokio::sync::Mutex::new(None),
            local_url: Mutex::new(None),
            events,
            shutdown,
            plugins,
        }
    }

    /// Asks the accept loop to stop.
    pub fn request_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    fn session_for(&self, identity: &Identity) -> Result<Arc<Session>, ErrorReply> {
        let key = (
            identity.server_url.clone(),
            identity.token_id.clone(),
            secret_digest(&identity.token_secret),
        );
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(session) = sessions.get(&key) {
            return Ok(session.clone());
        }
        // Forget identities nobody used for a while (their poller has
        // stopped), so that, say, many mistyped secrets do not pile up.
        let idle_after = self
            .settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .idle_after;
        sessions.retain(|_, s| s.is_polling() || s.idle_for() <= idle_after);
        let session = Arc::new(Session::new(
            Upstream::new(identity, &self.upstream_settings)?,
            self.events.clone(),
        ));
        session.set_token_observer(self.plugins.clone());
        sessions.insert(key, session.clone());
        Ok(session)
    }

    /// The identity of the embedded emulator, starting it if needed.
    async fn local_identity(&self) -> Result<Identity, ErrorReply> {
        let mut local = self.local.lock().await;
        if let Some(running) = local.as_mut() {
            if !running.is_running() {
                tracing::warn!("local emulator exited; starting a new one");
                *local = None;
            }
        }
        if local.is_none() {
            let emulator = LocalEmulator::start(&self.local_settings).await?;
            *self.local_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(emulator.url.clone());
            *local = Some(emulator);
        }
        let emulator = local.as_ref().expect("started above");
        Ok(Identity {
            server_url: emulator.url.clone(),
            token_id: emulator.token_id.clone(),
            token_secret: emulator.token_secret.clone(),
            profile: Some(config::LOCAL_PROFILE.to_string()),
        })
    }

    /// Starts watching config files for changes (call once, on the runtime).
    pub fn start_config_watcher(self: &Arc<Self>) {
        let watcher = crate::reload::ConfigWatcher::start(self.clone());
        for path in self.profiles.paths() {
            watcher.watch(&path);
        }
        let _ = self.watcher.set(watcher);
    }

    /// Re-reads every config file the daemon knows (after a file event).
    pub fn reload_configs(&self) {
        for path in self.profiles.paths() {
            let (reload, _) = self.profiles.refresh(&path);
            if !reload.changed_identities.is_empty() {
                tracing::info!(
                    file = %path.display(),
                    identities = reload.changed_identities.len(),
                    "credentials changed; dropping their caches"
                );
                self.retain_sessions(|url, id| {
                    !reload
                        .changed_identities
                        .iter()
                        .any(|(u, i)| u == url && i == id)
                });
            }
        }
        let file = crate::settings::config_file();
        match crate::settings::load(&file) {
            Ok(settings) => {
                let mut current = self.settings.write().unwrap_or_else(|p| p.into_inner());
                if *current != settings {
                    tracing::info!("mws settings reloaded");
                    *current = settings;
                }
                drop(current);
                self.set_config_error("mws config", None);
            }
            Err(e) => {
                tracing::warn!("{e}; keeping the last good settings");
                self.set_config_error("mws config", Some(e.to_string()));
            }
        }
    }

    pub(crate) async fn resolve(&self, selection: &Selection) -> Result<Identity, ErrorReply> {
        let (resolved, is_new) = self.profiles.resolve(selection);
        if is_new {
            if let Some(watcher) = self.watcher.get() {
                watcher.watch(&config::config_path(selection));
            }
        }
        match resolved {
            Ok(Resolved::Remote(candidate)) => {
                let keyring_secret = if candidate.needs_keyring() {
                    match self.keyring_secret(&candidate.token_id).await {
                        Ok(secret) => secret,
                        Err(e) if candidate.file_secret.is_some() => {
                            if !self.keyring_warned.swap(true, Ordering::Relaxed) {
                                tracing::warn!("{e}; using the secret in the config file");
                            }
                            None
                        }
                        Err(e) => {
                            return Err(ErrorReply {
                                kind: ErrorKind::Credentials,
                                message: e.to_string(),
                            })
                        }
                    }
                } else {
                    None
                };
                candidate
                    .into_identity(keyring_secret)
                    .map(|(identity, _)| identity)
                    .map_err(|e| ErrorReply {
                        kind: ErrorKind::Credentials,
                        message: e.to_string(),
                    })
            }
            Ok(Resolved::Local) => self.local_identity().await,
            Err(e) => Err(ErrorReply {
                kind: if e.is_credentials() {
                    ErrorKind::Credentials
                } else {
                    ErrorKind::Config
                },
                message: e.to_string(),
            }),
        }
    }

    /// Subscribes to change events.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// A receiver that changes to `true` when the daemon stops.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Records (or clears, with `None`) a configuration problem for `status`.
    pub fn set_config_error(&self, source: &str, error: Option<String>) {
        let mut errors = self.config_errors.lock().unwrap_or_else(|p| p.into_inner());
        errors.retain(|e| !e.starts_with(source));
        if let Some(error) = error {
            errors.push(format!("{source}: {error}"));
        }
    }

    /// Drops sessions whose identity is `(server_url, token_id)` for which
    /// `keep` says no (after a config reload).
    pub fn retain_sessions(&self, keep: impl Fn(&str, &str) -> bool) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|(url, id, _), session| {
            let kept = keep(url, id);
            if !kept {
                session.retire();
            }
            kept
        });
    }

    /// The session a `watch` follows: resolved, looked up, and polled.
    async fn watch_session(&self, selection: &Selection) -> Result<Arc<Session>, ErrorReply> {
        let identity = self.resolve(selection).await?;
        let session = self.session_for(&identity)?;
        session.touch();
        session.workspace_name().await?;
        session.ensure_poller(self.settings.clone(), self.shutdown.subscribe());
        Ok(session)
    }

    async fn workspace(
        &self,
        selection: &Selection,
        freshness: &mws_ipc::Freshness,
        command: &WorkspaceCommand,
        mutation: Option<&MutationKey>,
    ) -> Response {
        let identity = match self.resolve(selection).await {
            Ok(identity) => identity,
            Err(e) => return Response::Error(e),
        };
        let session = match self.session_for(&identity) {
            Ok(session) => session,
            Err(e) => return Response::Error(e),
        };
        let settings = self
            .settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match session.run(command, freshness, &settings, mutation).await {
            Ok(response) => {
                // Only an identity the server accepted is worth polling.
                session.ensure_poller(self.settings.clone(), self.shutdown.subscribe());
                response
            }
            Err(e) => Response::Error(e),
        }
    }

    fn status(&self) -> DaemonStatus {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let mut identities: Vec<IdentityStatus> = sessions
            .values()
            .map(|s| {
                let ages = s.ages();
                IdentityStatus {
                    members_age_secs: ages.members.map(|d| d.as_secs_f64()),
                    tokens_age_secs: ages.tokens.map(|d| d.as_secs_f64()),
                    last_poll_secs_ago: ages.last_poll.map(|d| d.as_secs_f64()),
                    polling: ages.polling,
                    server_url: s.upstream.server_url.clone(),
                    token_id: s.upstream.token_id.clone(),
                    workspace: s.known_workspace_name(),
                    upstream_calls: s.upstream.stats.calls.load(Ordering::Relaxed),
                    upstream_errors: s.upstream.stats.errors.load(Ordering::Relaxed),
                    last_error: s
                        .upstream
                        .stats
                        .last_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone(),
                    token_info: None,
                }
            })
            .collect();
        identities.sort_by(|a, b| (&a.server_url, &a.token_id).cmp(&(&b.server_url, &b.token_id)));
        DaemonStatus {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol_version: PROTOCOL_VERSION,
            uptime_secs: self.started.elapsed().as_secs(),
            socket: self.socket.display().to_string(),
            identities,
            local_emulator: self
                .local_url
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            config_errors: {
                let mut errors = self
                    .config_errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                errors.extend(self.profiles.errors());
                errors
            },
            subscribers: self.watchers.load(Ordering::Relaxed),
            notifications: self
                .notification_state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            plugins: Vec::new(),
        }
    }

    /// Answers one request (other than `Watch`, which streams).
    pub async fn handle(&self, request: Request) -> Response {
        match request {
            Request::Ping => Response::Pong,
            Request::Status => {
                let mut status = self.status();
                status.plugins = self.plugins.list().await;
                Response::Status(status)
            }
            Request::Shutdown => {
                self.request_shutdown();
                Response::Ok
            }
            Request::Workspace {
                selection,
                freshness,
                command,
                idempotency_key,
            } => {
                let mutation = match idempotency_key.as_deref().map(MutationKey::parse) {
                    None => None,
                    Some(Some(key)) => Some(key),
                    Some(None) => {
                        return Response::error(
                            ErrorKind::BadRequest,
                            "idempotency_key must be a UUID",
                        )
                    }
                };
                self.workspace(&selection, &freshness, &command, mutation.as_ref())
                    .await
            }
            Request::Auth { selection, command } => match self.auth(&selection, command).await {
                Ok(report) => Response::Auth(report),
                Err(e) => Response::Error(e),
            },
            Request::Watch { .. } => {
                Response::error(ErrorKind::BadRequest, "watch is handled by the connection")
            }
            Request::Render { format, kind, json } => {
                match self.plugins.render(&format, &kind, &json).await {
                    Ok(text) => Response::Rendered(text),
                    Err(e) => Response::Error(e),
                }
            }
            Request::Plugins => Response::Plugins(self.plugins.list().await),
            Request::Alerts => Response::Alerts(self.plugins.alerts()),
        }
    }
}

/// Reads one message in the connection's encoding.
async fn read_message<R, T>(reader: &mut BufReader<R>, encoding: Encoding) -> Result<T, CodecError>
where
    R: AsyncRead + Unpin,
    T: serde::de::DeserializeOwned,
{
    match encoding {
        Encoding::Binary => {
            let mut header = [0u8; 4];
            match reader.read_exact(&mut header).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(CodecError::Closed)
                }
                Err(e) => return Err(CodecError::Io(e)),
            }
            let len = codec::frame_len(header)?;
            let payload = read_payload(reader, len).await?;
            codec::decode_payload(&payload)
        }
        Encoding::JsonLines => {
            let mut line = Vec::new();
            let read = (&mut *reader)
                .take(MAX_FRAME_LEN as u64 + 1)
                .read_until(b'\n', &mut line)
                .await?;
            if read == 0 {
                return Err(CodecError::Closed);
            }
            if line.len() > MAX_FRAME_LEN {
                return Err(CodecError::TooLarge(line.len() as u64));
            }
            codec::decode_json_line(&line)
        }
    }
}

async fn write_message<W, T>(
    writer: &mut W,
    encoding: Encoding,
    message: &T,
) -> Result<(), CodecError>
where
    W: AsyncWrite + Unpin,
    T: serde::Serialize,
{
    let bytes = match encoding {
        Encoding::Binary => codec::encode_frame(message)?,
        Encoding::JsonLines => codec::encode_json_line(message)?,
    };
    writer.write_all(&bytes).await?;
    writer.flush().await?;
    Ok(())
}

/// Reads a frame's payload of `len` bytes. Memory grows with the bytes that
/// actually arrive, not with the length a peer announced: a client that
/// announces 16 MiB and sends nothing costs nothing.
async fn read_payload<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    len: usize,
) -> Result<Vec<u8>, CodecError> {
    let mut payload = Vec::with_capacity(len.min(64 * 1024));
    (&mut *reader)
        .take(len as u64)
        .read_to_end(&mut payload)
        .await?;
    if payload.len() < len {
        return Err(CodecError::Malformed("frame truncated".into()));
    }
    Ok(payload)
}

/// Decodes a hello leniently: a newer client may append fields we ignore.
async fn read_hello<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    encoding: Encoding,
) -> Result<ClientHello, CodecError> {
    match encoding {
        Encoding::JsonLines => read_message(reader, encoding).await,
        Encoding::Binary => {
            let mut header = [0u8; 4];
            reader
                .read_exact(&mut header)
                .await
                .map_err(|_| CodecError::Closed)?;
            let len = codec::frame_len(header)?;
            let payload = read_payload(reader, len).await?;
            codec::decode_hello_payload(&payload)
        }
    }
}

/// Serves one connection until the client hangs up or misbehaves.
async fn serve_connection(daemon: Arc<Daemon>, conn: Stream) {
    match conn.peer_creds() {
        Ok(creds) => {
            let me = mws_ipc::paths::current_uid();
            if creds.euid() != Some(me) {
                tracing::warn!(peer_uid = ?creds.euid(), "refused a connection from another user");
                return;
            }
        }
        Err(e) => {
            tracing::warn!("could not read peer credentials, refusing: {e}");
            return;
        }
    }
    // `&Stream` reads and writes; sharing it avoids the deprecated split.
    let mut send = &conn;
    let mut reader = BufReader::new(&conn);
    let encoding = match tokio::time::timeout(HELLO_TIMEOUT, reader.fill_buf()).await {
        Ok(Ok([])) | Err(_) => return,
        Ok(Ok(buffered)) => Encoding::detect(buffered[0]),
        Ok(Err(e)) => {
            tracing::debug!("read error before hello: {e}");
            return;
        }
    };

    let hello = match tokio::time::timeout(HELLO_TIMEOUT, read_hello(&mut reader, encoding)).await {
        Ok(Ok(hello)) => hello,
        Ok(Err(e)) => {
            let _ = write_message(
                &mut send,
                encoding,
                &Response::error(ErrorKind::Protocol, format!("expected a hello: {e}")),
            )
            .await;
            return;
        }
        Err(_) => return,
    };
    let compatible = hello.protocol_version == PROTOCOL_VERSION;
    let server_hello = ServerHello {
        protocol_version: PROTOCOL_VERSION,
        daemon_version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        features: Vec::new(),
        error: (!compatible).then(|| {
            format!(
                "protocol version {} is not supported (this daemon speaks {PROTOCOL_VERSION})",
                hello.protocol_version
            )
        }),
    };
    if write_message(&mut send, encoding, &server_hello)
        .await
        .is_err()
        || !compatible
    {
        return;
    }

    loop {
        let request: Request = match read_message(&mut reader, encoding).await {
            Ok(request) => request,
            Err(CodecError::Closed) => return,
            Err(e) => {
                tracing::debug!("bad frame from client: {e}");
                let _ = write_message(
                    &mut send,
                    encoding,
                    &Response::error(ErrorKind::Protocol, format!("bad request: {e}")),
                )
                .await;
                return;
            }
        };
        if let Request::Watch { selection } = request {
            stream_events(&daemon, selection, &mut reader, &mut send, encoding).await;
            return;
        }
        let response = daemon.handle(request).await;
        if write_message(&mut send, encoding, &response).await.is_err() {
            return;
        }
    }
}

/// Counts a `watch` subscriber for as long as it lives (also when its task
/// is cancelled).
struct CountedWatcher<'a>(&'a std::sync::atomic::AtomicU32);

impl<'a> CountedWatcher<'a> {
    fn new(count: &'a std::sync::atomic::AtomicU32) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for CountedWatcher<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Streams events to a subscriber until it hangs up or the daemon stops.
async fn stream_events<R, W>(
    daemon: &Daemon,
    selection: Option<Selection>,
    reader: &mut R,
    send: &mut W,
    encoding: Encoding,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let _counted = CountedWatcher::new(&daemon.watchers);
    let mut events = daemon.events.subscribe();
    let mut shutdown = daemon.shutdown.subscribe();
    // Watching an identity keeps it polled, and narrows the stream to it.
    let watched = match &selection {
        Some(selection) => match daemon.watch_session(selection).await {
            Ok(session) => Some(session),
            Err(e) => {
                let _ = write_message(send, encoding, &Response::Error(e)).await;
                return;
            }
        },
        None => None,
    };
    if write_message(send, encoding, &Response::Ok).await.is_err() {
        return;
    }
    let mut keepalive = tokio::time::interval(Duration::from_secs(30));
    let mut scratch = [0u8; 64];
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    if let Some(session) = &watched {
                        if !session.owns(&event) {
                            continue;
                        }
                    }
                    if write_message(send, encoding, &Response::Event(event)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "a watcher fell behind");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            read = reader.read(&mut scratch) => match read {
                // The client hung up (or broke the protocol by talking).
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = keepalive.tick() => {
                if let Some(session) = &watched {
                    session.touch();
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Serves `listener` until a `Shutdown` request or `external_shutdown`
/// completes. Open connections are dropped when it returns.
pub async fn run(
    daemon: Arc<Daemon>,
    listener: Listener,
    external_shutdown: impl std::future::Future<Output = ()>,
) {
    let mut shutdown = daemon.shutdown.subscribe();
    tokio::pin!(external_shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => {
                    tokio::spawn(serve_connection(daemon.clone(), conn));
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break,
            _ = &mut external_shutdown => break,
        }
    }
    tracing::info!("shutting down");
}
