//! mws-emulator: a local Modal-compatible control plane.
//!
//! It speaks Modal's gRPC API (`modal.client.ModalClient`: the methods of the
//! `modal workspace` group — members, proxy tokens, settings, service users,
//! member tokens — and their neighbours) closely enough that
//! Modal's official Python client works against it unchanged, and keeps its
//! state in one SQLite file. mws's tests, benchmarks and offline demos run
//! against it instead of api.modal.com.
//!
//! The crate is a library plus a thin binary, so tests and benchmarks can run
//! the same server in-process:
//! - [`store`]: schema, migrations and queries (SQLite, WAL, FULL sync);
//! - [`service`]: the tonic service: authentication, idempotency, errors;
//! - [`server`]: [`server::run`] serves a listener until a shutdown future fires;
//! - [`faults`]: injected failures (`serve --fault-*`) for client tests;
//! - [`calllog`]: the JSON-lines call log other crates' tests count calls with;
//! - [`seed`]: the demo workspace;
//! - [`cli`]: the command line and the admin operations;
//! - [`ids`]: random ids and secrets.
//!
//! See `docs/emulator.md` for the commands and the semantics chosen.

pub mod calllog;
pub mod cli;
pub mod faults;
pub mod ids;
pub mod seed;
pub mod server;
pub mod service;
pub mod store;

pub use server::{run, ServeOptions, TlsIdentity};
pub use store::Store;
