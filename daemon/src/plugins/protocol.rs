//! The pipe protocol between the daemon and its plugin host.
//!
//! Each message is a frame: a 4-byte big-endian length, then that many bytes
//! of JSON, an [`Envelope`] of a request id and the message ([`ToHost`] one
//! way, [`FromHost`] the other), read by the same `mws_ipc::frame` decoder
//! as the daemon's socket. The daemon sends one request and reads one
//! answer, strictly in turn; the answer carries the request's id, a random
//! 64-bit number chosen per request, and the host announces itself with
//! [`FromHost::Ready`] (id 0) before anything else.
//!
//! Trust: the daemon treats every frame from the host as untrusted (a
//! plugin runs in that process): lengths are checked before allocating, and
//! a frame that does not decode, or answers another id than the request's,
//! ends the host like a crash would. Plugin code that finds the pipe and
//! writes a frame of its own (to forge an answer, or a stale one from a
//! thread) cannot know the id, so its frame is caught instead of taken for
//! the answer, and the answers after it are not shifted by one.

use mws_ipc::codec::CodecError;
use mws_ipc::frame::{self, FrameDecoder, Framing};
use serde::{Deserialize, Serialize};

/// Largest frame either side accepts: the 16 MiB IPC limit for the data,
/// plus room for the envelope and JSON escaping.
pub const MAX_FRAME_LEN: usize = 40 * 1024 * 1024;

/// One frame's contents: the request id and the message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Envelope<T> {
    /// The request's id; an answer repeats it (`Ready`: 0).
    pub id: u64,
    pub body: T,
}

/// A request from the daemon.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ToHost {
    /// Load the library open on the host's descriptor `fd` (inherited from
    /// the daemon, which checked that open file), through
    /// `/proc/self/fd/<fd>`; `path` names it in messages. Answered with
    /// `Loaded` or `Refused`; the host closes `fd` either way.
    Load { fd: i32, path: String },
    /// Call plugin number `plugin`'s `render`; answered with `Output` or `Failed`.
    Render {
        plugin: usize,
        format: String,
        input: String,
    },
    /// Call plugin number `plugin`'s `on_event`; answered with `Output` or `Failed`.
    Event {
        plugin: usize,
        event: String,
        input: String,
    },
}

/// An answer from the host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum FromHost {
    /// The host is up and reads requests.
    Ready,
    /// A library was loaded; `plugin` numbers it for later calls.
    Loaded {
        plugin: usize,
        name: String,
        version: String,
        formats: Vec<String>,
        events: Vec<String>,
    },
    /// A library was not loaded, and why (one line).
    Refused { reason: String },
    /// A call's output (UTF-8; the host refuses other bytes).
    Output { text: String },
    /// A call failed (the plugin's error, its panic, or a broken rule).
    Failed { reason: String },
}

impl FromHost {
    /// The message's name, for errors (never its contents).
    pub fn name(&self) -> &'static str {
        match self {
            FromHost::Ready => "Ready",
            FromHost::Loaded { .. } => "Loaded",
            FromHost::Refused { .. } => "Refused",
            FromHost::Output { .. } => "Output",
            FromHost::Failed { .. } => "Failed",
        }
    }
}

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the other side closed the pipe")]
    Closed,
    #[error("frame of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("undecodable frame: {0}")]
    Malformed(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Encodes one frame.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, FrameError> {
    let json = serde_json::to_vec(message).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if json.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(json.len()));
    }
    let mut frame = Vec::with_capacity(4 + json.len());
    frame.extend_from_slice(&(json.len() as u32).to_be_bytes());
    frame.extend_from_slice(&json);
    Ok(frame)
}

fn decode<T: for<'de> Deserialize<'de>>(payload: &[u8]) -> Result<T, FrameError> {
    serde_json::from_slice(payload).map_err(|e| FrameError::Malformed(e.to_string()))
}

impl From<CodecError> for FrameError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Closed => FrameError::Closed,
            CodecError::TooLarge(len) => FrameError::TooLarge(len as usize),
            CodecError::Malformed(reason) => FrameError::Malformed(reason),
            CodecError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                FrameError::Closed
            }
            CodecError::Io(e) => FrameError::Io(e),
        }
    }
}

/// A decoder for this pipe's frames.
pub fn decoder() -> FrameDecoder {
    FrameDecoder::new(Framing::LengthPrefixed, MAX_FRAME_LEN)
}

/// Blocking read of one frame (the host side).
pub fn read_sync<T, R>(reader: &mut R) -> Result<T, FrameError>
where
    T: for<'de> Deserialize<'de>,
    R: std::io::Read,
{
    decode(&frame::read_prefixed(reader, MAX_FRAME_LEN)?)
}

/// Blocking write of one frame (the host side).
pub fn write_sync<T: Serialize, W: std::io::Write>(
    writer: &mut W,
    message: &T,
) -> Result<(), FrameError> {
    writer.write_all(&encode(message)?)?;
    writer.flush()?;
    Ok(())
}

/// Reads one frame (the daemon side).
pub async fn read_async<T, R>(reader: &mut R, decoder: &mut FrameDecoder) -> Result<T, FrameError>
where
    T: for<'de> Deserialize<'de>,
    R: tokio::io::AsyncBufRead + Unpin,
{
    decode(&crate::connection::read_frame(reader, decoder).await?)
}

/// Writes one frame (the daemon side).
pub async fn write_async<T: Serialize, W: tokio::io::AsyncWrite + Unpin>(
    writer: &mut W,
    message: &T,
) -> Result<(), FrameError> {
    use tokio::io::AsyncWriteExt;
    let frame = encode(message)?;
    match writer.write_all(&frame).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    writer.flush().await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            FrameError::Closed
        } else {
            e.into()
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let message = Envelope {
            id: u64::MAX,
            body: ToHost::Render {
                plugin: 2,
                format: "csv".into(),
                input: "[\"é\"]".into(),
            },
        };
        let frame = encode(&message).unwrap();
        let back: Envelope<ToHost> = read_sync(&mut &frame[..]).unwrap();
        assert_eq!(back, message);
        // An answer without an envelope (the protocol before ids) does not
        // decode.
        let bare = encode(&FromHost::Output { text: "x".into() }).unwrap();
        assert!(matches!(
            read_sync::<Envelope<FromHost>, _>(&mut &bare[..]),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn oversized_and_truncated_frames_are_refused() {
        let huge = (MAX_FRAME_LEN as u32 + 1).to_be_bytes();
        assert!(matches!(
            read_sync::<FromHost, _>(&mut &huge[..]),
            Err(FrameError::TooLarge(_))
        ));
        assert!(matches!(
            read_sync::<FromHost, _>(&mut &[][..]),
            Err(FrameError::Closed)
        ));
        assert!(matches!(
            read_sync::<FromHost, _>(&mut &[0u8, 0][..]),
            Err(FrameError::Malformed(_))
        ));
        let garbage = [0u8, 0, 0, 2, b'{', b'x'];
        assert!(matches!(
            read_sync::<FromHost, _>(&mut &garbage[..]),
            Err(FrameError::Malformed(_))
        ));
    }
}
