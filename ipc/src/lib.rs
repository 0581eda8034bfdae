//! The protocol between `mws` (and editor clients) and the `mwsd` daemon.
//!
//! Pure types, the one frame decoder every reader of the socket and of the
//! plugin pipe uses ([`frame`]), the codec ([`codec`]) and the socket path
//! rules; no async runtime, so the tiny synchronous CLI can link it. The whole protocol is documented in
//! `docs/ipc.md`; this module doc is the short version.
//!
//! # Framing
//!
//! A connection starts in one of two encodings, chosen by its first byte:
//!
//! * **binary** (the CLI): every message is a frame, a 4-byte big-endian
//!   length followed by that many bytes of bincode 2 (serde, standard config).
//!   A length above [`MAX_FRAME_LEN`] is refused *before* anything is
//!   allocated.
//! * **JSON lines** (editors, shells, scripts): the first byte is `{`. Every
//!   message is one line of UTF-8 JSON (same types, serde's external tagging),
//!   at most [`MAX_FRAME_LEN`] bytes. A binary length prefix can never start with
//!   `{` (0x7B...) because that would exceed the maximum, so the two cannot be
//!   confused.
//!
//! # Handshake
//!
//! The first message on a connection is a [`ClientHello`]; the daemon answers
//! with a [`ServerHello`]. The major protocol version ([`PROTOCOL_VERSION`])
//! must match exactly: a daemon that gets another one answers with a
//! `ServerHello` whose `error` says so and closes, and the CLI replaces a daemon
//! of another version. Unknown `features` are ignored on both sides.
//!
//! After the hello, the client sends [`Request`]s and reads one [`Response`]
//! for each, in order; a `Watch` request turns the connection into a stream of
//! `Response::Event` until the client hangs up. Events are numbered per
//! daemon instance, so a client that reconnects can resume ([`Cursor`]).
//!
//! # Trust boundary
//!
//! The socket lives in a folder that only its owner can enter (see
//! [`paths`]), and the daemon checks each peer's uid; anything that arrives is
//! still treated as untrusted input: a malformed frame gets an error reply or a
//! closed connection, never a crash.

pub mod codec;
mod cursor;
pub mod frame;
pub mod inherit;
pub mod paths;
mod selection;
mod types;

pub use codec::{CodecError, Encoding, MAX_FRAME_LEN};
pub use cursor::{Cursor, CursorParseError, ResyncReason};
pub use types::*;

/// Major version of this protocol. Peers with different values do not talk.
/// 2: `Request::Workspace` carries the client's idempotency key.
/// 3: settings, service users, member tokens; token info in auth and status.
/// 4: alerts judged per identity (`WorkspaceCommand::Alerts`), alerts name
///    owner, expiry and fix; `proxy-tokens rotate`.
/// 5: `Credential` (for `mws exec` / `mws env`) and `Prompt`.
/// 6: resumable events: `instance`/`seq` on events, `Watch { since }`,
///    `Watching` and `Resync` on watch streams; the instance in status.
/// 7: webhooks (`Request::Webhooks`, the webhook queue in status).
pub const PROTOCOL_VERSION: u32 = 7;
