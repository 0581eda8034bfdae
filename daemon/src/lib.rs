//! mwsd: the daemon behind `mws`.
//!
//! It is the only process that talks to Modal and the only one that sees the
//! API secret. The CLI (and editor clients) send typed requests over a
//! private local socket ([`server`] accepts, [`connection`] frames); each
//! request goes to its handler ([`handlers`]), which resolves the identity it
//! runs as ([`credentials`], [`config`]), takes that identity's [`session`]
//! (its gRPC client, [`upstream`], and its caches, [`cache`]) from the shared
//! [`state`], and answers; errors become the wire's form once ([`error`]).
//! What sessions notice goes on one typed event bus ([`bus`] of
//! [`events`]) that `watch` streams (numbered for resuming, [`journal`]), desktop notifications ([`desktop`]) and the plugin
//! manager ([`plugins`]) follow; sink plugins turn events into signed
//! webhook deliveries that [`webhooks`] queues on disk and sends. The built-in `local` profile runs an
//! embedded `mws-emulator` ([`local`]). docs/architecture.md walks one
//! request through all of it.
//!
//! Only what `main.rs` needs is public; every module is private to the
//! crate, so the compiler finds dead code.

mod accept_backoff;
mod bus;
mod cache;
mod config;
mod connection;
mod credentials;
mod desktop;
mod error;
mod events;
mod files;
mod handlers;
mod hardening;
mod journal;
mod local;
mod metrics;
mod metrics_http;
mod modal_config;
mod plugins;
mod reload;
mod secrets;
mod server;
mod session;
mod setting_values;
mod settings;
mod state;
mod state_dir;
mod sync;
mod upstream;
mod webhooks;

pub use desktop::spawn as spawn_notifications;
pub use files::{read_regular_file, FileError};
pub use hardening::{apply as harden_process, raise_open_files_limit};
pub use local::LocalSettings;
pub use plugins::child::main as plugin_host_main;
pub use server::run;
pub use settings::{config_file as settings_file, load as load_settings, Settings};
pub use state::Daemon;
pub use upstream::UpstreamSettings;

/// Serves `/metrics` when `[metrics] listen` is set (read at start).
pub fn start_metrics_endpoint(daemon: &std::sync::Arc<Daemon>) {
    if let Some(addr) = daemon.current_settings().metrics_listen {
        metrics_http::spawn(daemon.clone(), addr);
    }
}
