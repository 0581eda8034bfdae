//! Encoding of messages into frames and back. The framing itself (where a
//! frame ends, how large it may be) is [`crate::frame`]; this module turns
//! payloads into messages, and offers the synchronous readers the CLI uses,
//! built on the same [`FrameDecoder`] the daemon runs on untrusted bytes.

use crate::frame::{self, FrameDecoder, Framing};
use serde::{de::DeserializeOwned, Serialize};
use std::io::{self, BufRead, Read, Write};

/// Largest frame (or JSON line) either side accepts: 16 MiB. A workspace of
/// 5,000 members encodes to well under 2 MiB.
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// The two encodings a connection can use (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Binary,
    JsonLines,
}

impl Encoding {
    /// How frames of this encoding are delimited.
    pub fn framing(self) -> Framing {
        match self {
            Encoding::Binary => Framing::LengthPrefixed,
            Encoding::JsonLines => Framing::Lines,
        }
    }

    /// A decoder for this encoding's frames, at the protocol's size limit.
    pub fn decoder(self) -> FrameDecoder {
        FrameDecoder::new(self.framing(), MAX_FRAME_LEN)
    }

    /// Decodes one frame's payload as produced by [`Encoding::decoder`].
    pub fn decode<T: DeserializeOwned>(self, payload: &[u8]) -> Result<T, CodecError> {
        match self {
            Encoding::Binary => decode_payload(payload),
            Encoding::JsonLines => decode_json_line(payload),
        }
    }

    /// Decodes a client's hello leniently (see [`decode_hello_payload`]).
    pub fn decode_hello(self, payload: &[u8]) -> Result<crate::ClientHello, CodecError> {
        match self {
            Encoding::Binary => decode_hello_payload(payload),
            Encoding::JsonLines => decode_json_line(payload),
        }
    }

    /// Encodes one message as a frame of this encoding.
    pub fn encode<T: Serialize>(self, message: &T) -> Result<Vec<u8>, CodecError> {
        match self {
            Encoding::Binary => encode_frame(message),
            Encoding::JsonLines => encode_json_line(message),
        }
    }

    /// Which encoding a connection uses, judged by its first byte.
    pub fn detect(first_byte: u8) -> Encoding {
        if first_byte == b'{' {
            Encoding::JsonLines
        } else {
            Encoding::Binary
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("frame of {0} bytes exceeds the maximum of {MAX_FRAME_LEN} bytes")]
    TooLarge(u64),
    #[error("connection closed")]
    Closed,
    #[error("i/o error on the daemon socket: {0}")]
    Io(#[from] io::Error),
    #[error("malformed message: {0}")]
    Malformed(String),
}

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_FRAME_LEN>()
}

/// Encodes a message as one binary frame (header + payload).
pub fn encode_frame<T: Serialize>(message: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = vec![0u8; 4];
    bincode::serde::encode_into_std_write(message, &mut out, bincode_config())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    let len = out.len() - 4;
    if len > MAX_FRAME_LEN {
        return Err(CodecError::TooLarge(len as u64));
    }
    out[..4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(out)
}

/// Decodes a binary frame's payload. Trailing bytes are an error.
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, CodecError> {
    let (value, used) = bincode::serde::decode_from_slice(payload, bincode_config())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if used != payload.len() {
        return Err(CodecError::Malformed(format!(
            "{} trailing bytes after the message",
            payload.len() - used
        )));
    }
    Ok(value)
}

/// Decodes a binary hello payload, ignoring trailing bytes: a newer client may
/// append fields to its hello, and the version check must still work.
pub fn decode_hello_payload(payload: &[u8]) -> Result<crate::ClientHello, CodecError> {
    bincode::serde::decode_from_slice(payload, bincode_config())
        .map(|(hello, _)| hello)
        .map_err(|e| CodecError::Malformed(e.to_string()))
}

/// Encodes a message as one JSON line (with the newline).
pub fn encode_json_line<T: Serialize>(message: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = serde_json::to_vec(message).map_err(|e| CodecError::Malformed(e.to_string()))?;
    if out.len() > MAX_FRAME_LEN {
        return Err(CodecError::TooLarge(out.len() as u64));
    }
    out.push(b'\n');
    Ok(out)
}

/// Decodes one JSON line (with or without its newline).
pub fn decode_json_line<T: DeserializeOwned>(line: &[u8]) -> Result<T, CodecError> {
    serde_json::from_slice(line).map_err(|e| CodecError::Malformed(e.to_string()))
}

/// Writes one message in the given encoding.
pub fn write_message<W: Write, T: Serialize>(
    writer: &mut W,
    encoding: Encoding,
    message: &T,
) -> Result<(), CodecError> {
    writer.write_all(&encoding.encode(message)?)?;
    writer.flush()?;
    Ok(())
}

/// Reads one binary frame and decodes it, reading nothing past its end.
pub fn read_frame<R: Read, T: DeserializeOwned>(reader: &mut R) -> Result<T, CodecError> {
    decode_payload(&frame::read_prefixed(reader, MAX_FRAME_LEN)?)
}

/// Reads one JSON line (bounded by [`MAX_FRAME_LEN`]) and decodes it.
pub fn read_json_line<R: BufRead, T: DeserializeOwned>(reader: &mut R) -> Result<T, CodecError> {
    let mut decoder = Encoding::JsonLines.decoder();
    decode_json_line(&frame::read_buffered(reader, &mut decoder)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Request, Response, WorkspaceCommand};

    #[test]
    fn binary_round_trip() {
        let request = Request::Workspace {
            selection: Default::default(),
            freshness: Default::default(),
            command: WorkspaceCommand::TokensList {
                environment: Some("prod".into()),
            },
            idempotency_key: None,
        };
        let bytes = encode_frame(&request).unwrap();
        let back: Request = read_frame(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn json_round_trip() {
        let bytes = encode_json_line(&Response::Pong).unwrap();
        assert_eq!(bytes, b"\"Pong\"\n");
        let back: Response = read_json_line(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, Response::Pong);
    }

    #[test]
    fn oversized_header_is_refused_before_allocation() {
        let frame = [0xFFu8, 0xFF, 0xFF, 0xFF];
        let err = read_frame::<_, Request>(&mut frame.as_slice()).unwrap_err();
        assert!(matches!(err, CodecError::TooLarge(0xFFFF_FFFF)), "{err}");
    }

    #[test]
    fn garbage_payload_is_malformed_not_panic() {
        let mut frame = vec![0, 0, 0, 3];
        frame.extend_from_slice(&[0xFF, 0xFE, 0xFD]);
        let err = read_frame::<_, Request>(&mut frame.as_slice()).unwrap_err();
        assert!(matches!(err, CodecError::Malformed(_)), "{err}");
    }

    #[test]
    fn truncated_frame_is_malformed() {
        let mut frame = encode_frame(&Request::Status).unwrap();
        frame.truncate(frame.len() - 1);
        frame[3] += 5;
        let err = read_frame::<_, Request>(&mut frame.as_slice()).unwrap_err();
        assert!(matches!(err, CodecError::Malformed(_)), "{err}");
    }

    #[test]
    fn json_lines_detected_by_first_byte() {
        assert_eq!(Encoding::detect(b'{'), Encoding::JsonLines);
        assert_eq!(Encoding::detect(0), Encoding::Binary);
        // A binary header starting with '{' would announce > MAX_FRAME_LEN.
        assert!(Encoding::Binary.decoder().feed(&[b'{', 0, 0, 0]).is_err());
    }
}
