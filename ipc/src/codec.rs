//! Framing and encoding. Sync `Read`/`Write` helpers for the CLI, plus the
//! pure pieces (header check, payload codec) an async server reuses.

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

/// Length of the frame announced by a 4-byte header, refused if too large.
pub fn frame_len(header: [u8; 4]) -> Result<usize, CodecError> {
    let len = u32::from_be_bytes(header) as u64;
    if len > MAX_FRAME_LEN as u64 {
        return Err(CodecError::TooLarge(len));
    }
    Ok(len as usize)
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
    let bytes = match encoding {
        Encoding::Binary => encode_frame(message)?,
        Encoding::JsonLines => encode_json_line(message)?,
    };
    writer.write_all(&bytes)?;
    writer.flush()?;
    Ok(())
}

/// Reads one binary frame and decodes it.
pub fn read_frame<R: Read, T: DeserializeOwned>(reader: &mut R) -> Result<T, CodecError> {
    let mut header = [0u8; 4];
    if let Err(e) = reader.read_exact(&mut header) {
        return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
            CodecError::Closed
        } else {
            CodecError::Io(e)
        });
    }
    let len = frame_len(header)?;
    let mut payload = vec![0u8; len];
    reader.read_exact(&mut payload).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            CodecError::Malformed("frame truncated".into())
        } else {
            CodecError::Io(e)
        }
    })?;
    decode_payload(&payload)
}

/// Reads one JSON line (bounded by [`MAX_FRAME_LEN`]) and decodes it.
pub fn read_json_line<R: BufRead, T: DeserializeOwned>(reader: &mut R) -> Result<T, CodecError> {
    let mut line = Vec::new();
    let read = reader
        .take(MAX_FRAME_LEN as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Err(CodecError::Closed);
    }
    if line.len() > MAX_FRAME_LEN {
        return Err(CodecError::TooLarge(line.len() as u64));
    }
    decode_json_line(&line)
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
        assert!(frame_len([b'{', 0, 0, 0]).is_err());
    }
}
