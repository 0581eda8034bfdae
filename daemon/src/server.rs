//! The IPC server: the accept loop and the per-connection handler.
//!
//! [`run`] accepts connections on the private socket, at most
//! [`MAX_CONNECTIONS`] at a time (fewer when the open-files limit is low; a
//! client over the limit is answered with a one-line error, not left
//! hanging), and gives each its task; a failed accept (out of descriptors)
//! is retried with a pause and logged once a minute ([`AcceptBackoff`]). A
//! connection checks the peer's uid, picks the encoding from the first byte,
//! exchanges hellos, then answers requests in order through
//! [`handlers::handle`]; one that sends nothing for `[connections]
//! idle_secs` between requests is closed, so forgotten clients do not hold
//! slots and descriptors; a `Watch` request turns it into a stream of events
//! (never idle), resumed from the client's cursor when it gives one (see
//! `journal`). A malformed frame gets an error reply (when the framing is
//! still intact) and the connection is closed, so nothing a client sends can
//! take the daemon down. Business logic lives in `handlers`; framing in
//! `connection`. See `docs/ipc.md`.

use crate::accept_backoff::AcceptBackoff;
use crate::connection::Connection;
use crate::handlers;
use crate::journal::{Stamped, Start};
use crate::session::Session;
use crate::state::Daemon;
use interprocess::local_socket::tokio::{prelude::*, Listener, Stream};
use mws_ipc::codec::CodecError;
use mws_ipc::{
    Cursor, Encoding, ErrorKind, Request, Response, Selection, ServerHello, PROTOCOL_VERSION,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{broadcast, Semaphore};

/// How long a client may take to send its hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client over the connection limit may take to be told so.
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);
/// Connections served at once; more are told the daemon is busy.
pub const MAX_CONNECTIONS: usize = 1024;
/// Descriptors kept for everything but client connections (log, lock,
/// upstream connections, the plugin host's pipes, files being read).
const RESERVED_FDS: u64 = 64;

/// The connection limit under an open-files limit of `open_files`: never
/// more connections than there are descriptors for.
fn connection_limit(open_files: Option<u64>) -> usize {
    match open_files {
        None => MAX_CONNECTIONS,
        Some(n) => n
            .saturating_sub(RESERVED_FDS)
            .clamp(8, MAX_CONNECTIONS as u64) as usize,
    }
}
/// A `watch` stream's keep-alive: the watched identity stays "in use".
const KEEPALIVE: Duration = Duration::from_secs(30);

type SocketConnection<'a> = Connection<BufReader<&'a Stream>, &'a Stream>;

/// A `Watch` request, with the protocol its client speaks.
struct Watch {
    selection: Option<Selection>,
    since: Option<Cursor>,
    protocol_version: u32,
}

/// Serves `listener` until a `Shutdown` request or `external_shutdown`
/// completes. Open connections are dropped when it returns.
pub async fn run(
    daemon: Arc<Daemon>,
    listener: Listener,
    external_shutdown: impl std::future::Future<Output = ()>,
) {
    let mut shutdown = daemon.shutdown_signal();
    let limit =
        connection_limit(rustix::process::getrlimit(rustix::process::Resource::Nofile).current);
    let slots = Arc::new(Semaphore::new(limit));
    let mut backoff = AcceptBackoff::default();
    tokio::pin!(external_shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => {
                    backoff.succeeded();
                    match slots.clone().try_acquire_owned() {
                        Ok(slot) => {
                            let daemon = daemon.clone();
                            tokio::spawn(async move {
                                serve_connection(&daemon, conn).await;
                                drop(slot);
                            });
                        }
                        Err(_) => {
                            tracing::warn!(limit, "connection limit reached");
                            tokio::spawn(tell_busy(conn, limit));
                        }
                    }
                }
                Err(e) => {
                    let (pause, line) = backoff.failed(&e, std::time::Instant::now());
                    if let Some(line) = line {
                        tracing::warn!("{line}");
                    }
                    tokio::time::sleep(pause).await;
                }
            },
            _ = shutdown.changed() => break,
            _ = &mut external_shutdown => break,
        }
    }
    tracing::info!("shutting down");
}

/// Answers a client over the connection limit with an error, briefly.
async fn tell_busy(conn: Stream, limit: usize) {
    let busy = async {
        let Some(mut conn) = open(&conn).await else {
            return;
        };
        if conn.read_hello().await.is_err() || conn.write(&hello()).await.is_err() {
            return;
        }
        let _ = conn.read::<Request>().await;
        let _ = conn
            .write(&Response::error(
                ErrorKind::Internal,
                format!(
                    "mwsd is serving its maximum of {limit} connections; try again in a moment"
                ),
            ))
            .await;
    };
    let _ = tokio::time::timeout(BUSY_TIMEOUT, busy).await;
}

fn hello() -> ServerHello {
    ServerHello {
        protocol_version: PROTOCOL_VERSION,
        daemon_version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        features: Vec::new(),
        error: None,
    }
}

/// Oldest protocol a JSON-lines client may speak: JSON is self-describing
/// and every change since has been additive (new requests, new answers, new
/// fields), so editor integrations keep working across daemon upgrades.
/// Binary clients (`mws`) ship with their daemon and must match exactly.
const MIN_JSON_PROTOCOL_VERSION: u32 = 2;

fn speaks(encoding: Encoding, version: u32) -> bool {
    match encoding {
        Encoding::Binary => version == PROTOCOL_VERSION,
        Encoding::JsonLines => (MIN_JSON_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&version),
    }
}

/// Waits for the first byte and sets up the connection in its encoding.
async fn open(conn: &Stream) -> Option<SocketConnection<'_>> {
    let mut reader = BufReader::new(conn);
    let encoding = match tokio::time::timeout(HELLO_TIMEOUT, reader.fill_buf()).await {
        Ok(Ok([])) | Err(_) => return None,
        Ok(Ok(buffered)) => Encoding::detect(buffered[0]),
        Ok(Err(e)) => {
            tracing::debug!("read error before hello: {e}");
            return None;
        }
    };
    Some(Connection::new(reader, conn, encoding))
}

/// True when the peer runs as this daemon's user.
fn peer_is_me(conn: &Stream) -> bool {
    match conn.peer_creds() {
        Ok(creds) if creds.euid() == Some(mws_ipc::paths::current_uid()) => true,
        Ok(creds) => {
            tracing::warn!(peer_uid = ?creds.euid(), "refused a connection from another user");
            false
        }
        Err(e) => {
            tracing::warn!("could not read peer credentials, refusing: {e}");
            false
        }
    }
}

/// Serves one connection until the client hangs up or misbehaves.
async fn serve_connection(daemon: &Daemon, conn: Stream) {
    if !peer_is_me(&conn) {
        return;
    }
    let Some(mut conn) = open(&conn).await else {
        return;
    };
    let client = match tokio::time::timeout(HELLO_TIMEOUT, conn.read_hello()).await {
        Ok(Ok(hello)) => hello,
        Ok(Err(e)) => {
            let reply = Response::error(ErrorKind::Protocol, format!("expected a hello: {e}"));
            let _ = conn.write(&reply).await;
            return;
        }
        Err(_) => return,
    };
    let mut answer = hello();
    if !speaks(conn.encoding(), client.protocol_version) {
        answer.error = Some(format!(
            "protocol version {} is not supported (this daemon speaks {PROTOCOL_VERSION})",
            client.protocol_version
        ));
    }
    if conn.write(&answer).await.is_err() || answer.error.is_some() {
        return;
    }

    loop {
        let idle = daemon
            .settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .idle_connection;
        let request: Request = match tokio::time::timeout(idle, conn.read()).await {
            Err(_) => {
                tracing::debug!("closed a connection idle for {} s", idle.as_secs_f64());
                return;
            }
            Ok(Ok(request)) => request,
            Ok(Err(CodecError::Closed)) => return,
            Ok(Err(e)) => {
                tracing::debug!("bad frame from client: {e}");
                let reply = Response::error(ErrorKind::Protocol, format!("bad request: {e}"));
                let _ = conn.write(&reply).await;
                return;
            }
        };
        if let Request::Watch { selection, since } = request {
            let watch = Watch {
                selection,
                since,
                protocol_version: client.protocol_version,
            };
            stream_events(daemon, watch, &mut conn).await;
            return;
        }
        let response = handlers::handle(daemon, request).await;
        if let Err(e) = conn.write(&response).await {
            if let CodecError::TooLarge(len) = e {
                // Too large to send: say so instead of a cut connection.
                let reply = Response::error(
                    ErrorKind::Internal,
                    format!("the answer ({len} bytes) is larger than the protocol allows"),
                );
                if conn.write(&reply).await.is_ok() {
                    continue;
                }
            }
            return;
        }
    }
}

/// The session a `watch` follows: resolved, looked up, and polled.
async fn watch_session(daemon: &Daemon, selection: &Selection) -> Result<Arc<Session>, Response> {
    let to_reply = |e: crate::error::Error| Response::Error(e.reply());
    let identity = daemon.resolve(selection).await.map_err(to_reply)?;
    let session = daemon.session_for(&identity).map_err(to_reply)?;
    session
        .begin()
        .await
        .map_err(|e| to_reply(crate::error::Error::from(e)))?;
    daemon.keep_polling(&session);
    Ok(session)
}

/// Streams events to a subscriber until it hangs up or the daemon stops:
/// first, with a `since` cursor, what it missed (or why it cannot have it),
/// then live events. A subscriber that falls behind is told how many events
/// it missed.
async fn stream_events(daemon: &Daemon, watch: Watch, conn: &mut SocketConnection<'_>) {
    let _counted = daemon.count_subscriber();
    let journal = daemon.bus.journal();
    // Taken before the session is resolved: nothing published meanwhile is
    // lost.
    let subscription = match journal.subscribe(watch.since.as_ref()) {
        Ok(subscription) => subscription,
        Err(e) => {
            let _ = conn
                .write(&Response::error(ErrorKind::BadRequest, e.to_string()))
                .await;
            return;
        }
    };
    let mut events = subscription.live;
    let mut shutdown = daemon.shutdown_signal();
    // Watching an identity keeps it polled, and narrows the stream to it.
    let watched = match &watch.selection {
        Some(selection) => match watch_session(daemon, selection).await {
            Ok(session) => Some(session),
            Err(reply) => {
                let _ = conn.write(&reply).await;
                return;
            }
        },
        None => None,
    };
    if conn.write(&Response::Ok).await.is_err() {
        return;
    }
    let instance = journal.instance().to_string();
    let (opening, replay) = match subscription.start {
        Start::Live { seq } => (Response::Watching { instance, seq }, Vec::new()),
        Start::Replay { seq, events } => (Response::Watching { instance, seq }, events),
        Start::Resync { reason, seq } => (
            Response::Resync {
                reason,
                instance,
                seq,
            },
            Vec::new(),
        ),
    };
    // Clients of protocols 2–5 know neither message (and sent no cursor).
    let resync = matches!(opening, Response::Resync { .. });
    if (watch.protocol_version >= 6 || resync) && conn.write(&opening).await.is_err() {
        return;
    }
    for stamped in replay {
        if let Some(message) = wire_event(&stamped, watched.as_deref()) {
            if conn.write(&message).await.is_err() {
                return;
            }
        }
    }
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    loop {
        let message = tokio::select! {
            event = events.recv() => match event {
                Ok(stamped) => match wire_event(&stamped, watched.as_deref()) {
                    Some(message) => message,
                    None => continue,
                },
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a watcher fell behind");
                    Response::Lagged { missed }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            closed = conn.closed() => {
                // The client hung up (or broke the protocol by talking).
                if closed { return }
                continue;
            },
            _ = keepalive.tick() => {
                if let Some(session) = &watched {
                    session.touch();
                }
                continue;
            }
            _ = shutdown.changed() => return,
        };
        if conn.write(&message).await.is_err() {
            return;
        }
    }
}

/// The message a subscriber gets for an event, if it is about the watched
/// identity.
fn wire_event(stamped: &Stamped, watched: Option<&Session>) -> Option<Response> {
    if let Some(session) = watched {
        if !session.owns(&stamped.event) {
            return None;
        }
    }
    Some(Response::Event(stamped.wire.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_limit_follows_the_open_files_limit() {
        assert_eq!(connection_limit(None), MAX_CONNECTIONS);
        assert_eq!(connection_limit(Some(1 << 20)), MAX_CONNECTIONS);
        assert_eq!(connection_limit(Some(256)), 192);
        assert_eq!(connection_limit(Some(10)), 8);
    }
}
