//! mwsd: the daemon behind `mws`.
//!
//! It is the only process that talks to Modal and the only one that sees the
//! API secret. The CLI (and editor clients) send typed requests over a private
//! local socket ([`server`]); the daemon resolves which credentials a request
//! runs as ([`config`]), keeps one gRPC client per identity ([`upstream`]),
//! runs the command ([`workspace`]) and answers. The built-in `local` profile
//! runs an embedded `mws-emulator` ([`local`]).

pub mod auth;
pub mod cache;
pub mod config;
pub mod desktop;
pub mod events;
pub mod hardening;
pub mod local;
pub mod plugins;
pub mod reload;
pub mod secrets;
pub mod server;
pub mod settings;
pub mod upstream;
pub mod workspace;

pub use server::{run, Daemon};
