//! Serving: the tonic server around [`Dispatch`], over h2c or rustls.
//!
//! Like mini-redis's `server::run`, [`run`] takes an already bound listener
//! and a shutdown future, so the binary, the tests and the benchmark all start
//! the same server: the caller picks the port (0 in tests) and decides what
//! "stop" means (SIGTERM/SIGINT in the binary).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::calllog::CallLog;
use crate::faults::{FaultOptions, Faults, FaultyStream};
use crate::service::{Dispatch, Emulator};
use crate::store::Store;

/// After the shutdown signal, connections get this long to finish before the
/// server stops anyway (a client that keeps an idle connection open must not
/// keep the process alive).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A PEM certificate chain and private key for HTTPS.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.write_str("TlsIdentity { .. }")
    }
}

#[derive(Debug, Default)]
pub struct ServeOptions {
    /// Serve HTTPS with this identity; plain HTTP/2 (h2c) when `None`.
    pub tls: Option<TlsIdentity>,
    /// Append one JSON line per call to this file.
    pub call_log: Option<PathBuf>,
    /// Faults to inject (see [`crate::faults`]); none by default.
    pub faults: FaultOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open call log {path}: {error}")]
    CallLog {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("invalid TLS certificate or key: {0}")]
    Tls(String),
    #[error("server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

fn tls_config(tls: &TlsIdentity) -> ServerTlsConfig {
    ServerTlsConfig::new().identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem))
}

/// Checks that a certificate and key can be served, so that a bad pair is
/// reported at start-up, before the emulator says it is ready.
pub fn check_tls(tls: &TlsIdentity) -> Result<(), ServeError> {
    Server::builder()
        .tls_config(tls_config(tls))
        .map(|_| ())
        .map_err(|e| ServeError::Tls(tls_error_text(&e)))
}

/// tonic's transport error prints only "transport error"; the cause says what
/// is wrong with the certificate or key.
fn tls_error_text(e: &tonic::transport::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// Serves the emulator on `listener` until `shutdown` completes, then stops
/// accepting, lets calls in flight finish (up to a grace period) and returns.
pub async fn run(
    listener: TcpListener,
    store: Store,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let log = match &options.call_log {
        Some(path) => Some(Arc::new(CallLog::open(path).map_err(|source| {
            ServeError::CallLog {
                path: path.clone(),
                error: source,
            }
        })?)),
        None => None,
    };
    let faults = options
        .faults
        .any()
        .then(|| Arc::new(Faults::new(options.faults.clone())));
    let dispatch = Dispatch::new(Emulator::new(store, log)).with_faults(faults);
    let mut builder = Server::builder();
    if let Some(tls) = &options.tls {
        builder = builder
            .tls_config(tls_config(tls))
            .map_err(|e| ServeError::Tls(tls_error_text(&e)))?;
    }
    // Each connection is wrapped so that a fault can cut it (see
    // `crate::faults`); without faults the wrapper only forwards.
    let incoming = TcpListenerStream::new(listener).map(|accepted| {
        accepted.map(|stream| {
            let _ = stream.set_nodelay(true);
            FaultyStream::new(stream)
        })
    });
    let (fired_tx, mut fired_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = fired_tx.send(true);
    };
    let serve = builder.serve_with_incoming_shutdown(dispatch, incoming, signal);
    tokio::pin!(serve);
    tokio::select! {
        result = &mut serve => Ok(result?),
        _ = async {
            let _ = fired_rx.wait_for(|fired| *fired).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("connections still open after the grace period; stopping anyway");
            Ok(())
        }
    }
}
