//! `[metrics] listen`: `/metrics` over HTTP for a Prometheus scraper.
//!
//! Deliberately tiny — one GET, `Connection: close` — and defensive, since
//! anything that can reach the port can talk to it: at most 16 connections
//! at once, a request head of at most 8 KiB read within 5 s, and the answer
//! written within 5 s; anything else is a 4xx and a closed connection. The
//! text holds counts and workspace names, never a token id or a secret;
//! still, listen on loopback unless the host is yours.

use crate::state::Daemon;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

const MAX_CONNECTIONS: usize = 16;
const MAX_HEAD: usize = 8 * 1024;
const DEADLINE: Duration = Duration::from_secs(5);

/// Binds `addr` and serves until the daemon shuts down; a bind failure is
/// logged and shown in `mws daemon status`.
pub(crate) fn spawn(daemon: Arc<Daemon>, addr: SocketAddr) {
    tokio::spawn(async move {
        let listener = match TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(e) => {
                let error = format!("[metrics] listen {addr}: {e}");
                tracing::warn!("{error}");
                daemon.set_config_error("metrics", Some(error));
                return;
            }
        };
        tracing::info!(%addr, "serving metrics");
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut shutdown = daemon.shutdown_signal();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        continue; // dropped: closed at once
                    };
                    let daemon = daemon.clone();
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(DEADLINE * 2, serve(&daemon, stream)).await;
                        drop(slot);
                    });
                }
                _ = shutdown.changed() => break,
            }
        }
    });
}

async fn serve(daemon: &Daemon, mut stream: TcpStream) {
    let head = match tokio::time::timeout(DEADLINE, read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return,
    };
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => ("200 OK", crate::handlers::metrics(daemon)),
        ("GET", _) => ("404 Not Found", "Not found: try /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "Only GET\n".to_string()),
    };
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(DEADLINE, stream.write_all(answer.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// The request head up to its blank line; `None` when it is too long or
/// the peer goes away first.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Some(String::from_utf8_lossy(&head).into_owned());
        }
        if head.len() > MAX_HEAD {
            return None;
        }
    }
}
