//! One peer's stream of frames, on the daemon's async runtime.
//!
//! Framing is `mws_ipc::frame`'s [`FrameDecoder`], the same sans-IO code
//! the CLI and the fuzzer run; this module only moves bytes between a
//! buffered async stream and it, so a client socket and the plugin host's
//! pipe are read the same way. Nothing here decides what a message means.

use mws_ipc::codec::CodecError;
use mws_ipc::frame::FrameDecoder;
use mws_ipc::Encoding;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

/// Reads one frame's payload, consuming exactly its bytes from `reader`.
pub(crate) async fn read_frame<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    decoder: &mut FrameDecoder,
) -> Result<Vec<u8>, CodecError> {
    loop {
        if let Some(frame) = decoder.frame() {
            return Ok(frame);
        }
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Err(decoder.end_of_stream());
        }
        let taken = decoder.feed(available)?;
        reader.consume(taken);
    }
}

/// A client connection: its encoding (chosen by its first byte) and the
/// decoder that keeps a partly received frame between reads.
pub(crate) struct Connection<R, W> {
    reader: R,
    writer: W,
    encoding: Encoding,
    decoder: FrameDecoder,
}

impl<R: AsyncBufRead + Unpin, W: AsyncWrite + Unpin> Connection<R, W> {
    pub(crate) fn new(reader: R, writer: W, encoding: Encoding) -> Self {
        Self {
            reader,
            writer,
            encoding,
            decoder: encoding.decoder(),
        }
    }

    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The client's hello, decoded leniently (a newer client may append
    /// fields).
    pub(crate) async fn read_hello(&mut self) -> Result<mws_ipc::ClientHello, CodecError> {
        let frame = read_frame(&mut self.reader, &mut self.decoder).await?;
        self.encoding.decode_hello(&frame)
    }

    /// The next message.
    pub(crate) async fn read<T: DeserializeOwned>(&mut self) -> Result<T, CodecError> {
        let frame = read_frame(&mut self.reader, &mut self.decoder).await?;
        self.encoding.decode(&frame)
    }

    /// Writes one message. A message too large to send is an error here,
    /// before anything is written.
    pub(crate) async fn write<T: Serialize>(&mut self, message: &T) -> Result<(), CodecError> {
        let bytes = self.encoding.encode(message)?;
        self.writer.write_all(&bytes).await?;
        self.writer.flush().await?;
        Ok(())
    }

    /// Waits until the client sends anything or hangs up (a subscriber
    /// only listens): `true` when it hung up or broke the protocol.
    pub(crate) async fn closed(&mut self) -> bool {
        match self.reader.fill_buf().await {
            Ok([]) | Err(_) => true,
            Ok(bytes) => {
                let n = bytes.len();
                self.reader.consume(n);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mws_ipc::{Request, Response};

    #[tokio::test]
    async fn frames_are_read_and_written_in_both_encodings() {
        for encoding in [Encoding::Binary, Encoding::JsonLines] {
            let mut bytes = encoding
                .encode(&mws_ipc::ClientHello {
                    protocol_version: 3,
                    client_version: "t".into(),
                    features: vec![],
                })
                .unwrap();
            bytes.extend(encoding.encode(&Request::Ping).unwrap());
            let mut out = Vec::new();
            let mut conn = Connection::new(&bytes[..], &mut out, encoding);
            assert_eq!(conn.read_hello().await.unwrap().protocol_version, 3);
            assert_eq!(conn.read::<Request>().await.unwrap(), Request::Ping);
            assert!(matches!(
                conn.read::<Request>().await,
                Err(CodecError::Closed)
            ));
            conn.write(&Response::Pong).await.unwrap();
            assert_eq!(out, encoding.encode(&Response::Pong).unwrap());
        }
    }
}
