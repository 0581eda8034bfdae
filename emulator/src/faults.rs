//! Fault injection, for testing clients against an unreliable server.
//!
//! `serve --fault-unavailable-rate R --fault-drop-rate R --fault-delay-ms N
//! [--fault-delay-rate R] [--fault-seed S]` makes the emulator misbehave on a
//! share of the calls to the methods it implements, decided per call by one
//! seeded random generator:
//!
//! - **unavailable**: the call is answered UNAVAILABLE before it is
//!   authenticated or run, so nothing changes (the case a retry is for);
//! - **drop**: the call runs and commits, then the TCP connection it came on
//!   is shut down before the answer leaves, so the client sees a transport
//!   error although the server changed state (the case idempotency keys are
//!   for: a retry with the same key gets the stored answer);
//! - **delay**: the answer is held back by a fixed time before the handler
//!   runs (a slow server).
//!
//! The two failure kinds are exclusive on a call (`unavailable` is drawn
//! first); the delay is drawn independently. Every faulted call has a
//! `"fault"` field in the call log. With no `--fault-*` flag nothing of this
//! runs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What to inject, from the `serve --fault-*` flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultOptions {
    /// Share of calls answered UNAVAILABLE without running (0..=1).
    pub unavailable_rate: f64,
    /// Share of calls whose connection is dropped after they ran (0..=1).
    pub drop_rate: f64,
    /// Delay added to a delayed call.
    pub delay: Duration,
    /// Share of calls that are delayed (0..=1; only when `delay` > 0).
    pub delay_rate: f64,
    /// Seed of the generator; random when `None`.
    pub seed: Option<u64>,
}

impl FaultOptions {
    /// True when some fault would ever be injected.
    pub fn any(&self) -> bool {
        self.unavailable_rate > 0.0
            || self.drop_rate > 0.0
            || (!self.delay.is_zero() && self.delay_rate > 0.0)
    }

    /// Checks the rates (each within 0..=1, failures together at most 1).
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("--fault-unavailable-rate", self.unavailable_rate),
            ("--fault-drop-rate", self.drop_rate),
            ("--fault-delay-rate", self.delay_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, not {rate}"));
            }
        }
        if self.unavailable_rate + self.drop_rate > 1.0 {
            return Err("--fault-unavailable-rate plus --fault-drop-rate must not exceed 1".into());
        }
        Ok(())
    }
}

/// The failure injected into one call (also a request extension, so the
/// handler can log it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Unavailable,
    Drop,
}

impl Fault {
    /// The call log's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Unavailable => "unavailable",
            Fault::Drop => "drop",
        }
    }
}

/// What happens to one call.
#[derive(Debug, Clone, Copy, Default)]
pub struct Decision {
    pub fault: Option<Fault>,
    pub delay: Option<Duration>,
}

/// The seeded dice.
pub struct Faults {
    options: FaultOptions,
    rng: Mutex<StdRng>,
}

impl Faults {
    pub fn new(options: FaultOptions) -> Faults {
        let rng = match options.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Faults {
            options,
            rng: Mutex::new(rng),
        }
    }

    /// Decides the fate of one call.
    pub fn roll(&self) -> Decision {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let failure: f64 = rng.random();
        let slow: f64 = rng.random();
        let o = &self.options;
        let fault = if failure < o.unavailable_rate {
            Some(Fault::Unavailable)
        } else if failure < o.unavailable_rate + o.drop_rate {
            Some(Fault::Drop)
        } else {
            None
        };
        let delay = (!o.delay.is_zero() && slow < o.delay_rate).then_some(o.delay);
        Decision { fault, delay }
    }
}

/// A handle on one accepted TCP connection that can cut it: a duplicate of
/// its socket, so `shutdown(2)` reaches the same connection whatever layer
/// (h2c or TLS) tonic put on top. Set as the connection's info, it is in
/// every request's extensions.
#[derive(Clone, Debug)]
pub struct ConnHandle {
    pub remote: Option<SocketAddr>,
    socket: Option<Arc<std::net::TcpStream>>,
}

impl ConnHandle {
    /// Shuts the connection down in both directions (the peer sees it drop).
    pub fn cut(&self) {
        if let Some(socket) = &self.socket {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// A TCP stream whose connection info is a [`ConnHandle`].
pub struct FaultyStream {
    inner: tokio::net::TcpStream,
    handle: ConnHandle,
}

impl FaultyStream {
    pub fn new(inner: tokio::net::TcpStream) -> FaultyStream {
        use std::os::fd::AsFd;
        let socket = inner
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(|fd| Arc::new(std::net::TcpStream::from(fd)));
        let handle = ConnHandle {
            remote: inner.peer_addr().ok(),
            socket,
        };
        FaultyStream { inner, handle }
    }
}

impl tonic::transport::server::Connected for FaultyStream {
    type ConnectInfo = ConnHandle;

    fn connect_info(&self) -> ConnHandle {
        self.handle.clone()
    }
}

impl tokio::io::AsyncRead for FaultyStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for FaultyStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Finds the connection handle in a request's extensions (h2c or TLS).
pub fn conn_handle(extensions: &tonic::codegen::http::Extensions) -> Option<ConnHandle> {
    extensions.get::<ConnHandle>().cloned().or_else(|| {
        extensions
            .get::<tonic::transport::server::TlsConnectInfo<ConnHandle>>()
            .map(|info| info.get_ref().clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_roughly_honoured_and_seeded() {
        let options = FaultOptions {
            unavailable_rate: 0.2,
            drop_rate: 0.1,
            delay: Duration::from_millis(5),
            delay_rate: 0.5,
            seed: Some(7),
        };
        let a = Faults::new(options.clone());
        let b = Faults::new(options);
        let (mut unavailable, mut dropped, mut delayed) = (0, 0, 0);
        for _ in 0..10_000 {
            let (x, y) = (a.roll(), b.roll());
            assert_eq!(x.fault, y.fault, "same seed, same faults");
            match x.fault {
                Some(Fault::Unavailable) => unavailable += 1,
                Some(Fault::Drop) => dropped += 1,
                None => {}
            }
            delayed += usize::from(x.delay.is_some());
        }
        assert!((1_700..2_300).contains(&unavailable), "{unavailable}");
        assert!((700..1_300).contains(&dropped), "{dropped}");
        assert!((4_500..5_500).contains(&delayed), "{delayed}");
    }

    #[test]
    fn bad_rates_are_refused() {
        let mut o = FaultOptions {
            unavailable_rate: 1.5,
            ..Default::default()
        };
        assert!(o.validate().is_err());
        o.unavailable_rate = 0.6;
        o.drop_rate = 0.6;
        assert!(o.validate().unwrap_err().contains("exceed 1"));
        o.drop_rate = 0.4;
        assert!(o.validate().is_ok());
        assert!(o.any());
        assert!(!FaultOptions::default().any());
    }
}
