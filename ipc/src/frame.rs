//! Framing without I/O: bytes in, frames out.
//!
//! Every reader of untrusted bytes in mws — the CLI reading the daemon, the
//! daemon reading a client, the daemon reading its plugin host — feeds what
//! its socket or pipe has buffered into a [`FrameDecoder`] and takes whole
//! frames out. The decoder never touches a socket, so the same code runs in
//! the synchronous CLI, on the daemon's tokio runtime and under the fuzzer
//! (`ipc/tests/codec_fuzz.rs`), and it is the only place where a frame's
//! size is checked:
//!
//! * a length-prefixed frame (4-byte big-endian length, then the payload) is
//!   refused as soon as its header announces more than the limit, before
//!   anything is allocated for it, and its buffer grows with the bytes that
//!   arrive, not with the length announced: a peer that announces 16 MiB and
//!   sends nothing costs nothing;
//! * a line (JSON lines) is refused once it passes the limit without a
//!   newline.
//!
//! [`FrameDecoder::feed`] takes only the bytes of the frame in progress and
//! says how many it took, so a caller that reads from a buffered stream
//! never consumes bytes of the next frame: a frame reader can be created per
//! message (the CLI) or kept per connection (the daemon) alike.

use crate::codec::CodecError;

/// How frames are delimited on a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A 4-byte big-endian length, then that many bytes.
    LengthPrefixed,
    /// Bytes up to and including a newline (the newline is part of the frame).
    Lines,
}

/// Collects the bytes of one frame at a time.
#[derive(Debug)]
pub struct FrameDecoder {
    framing: Framing,
    max_len: usize,
    header: [u8; 4],
    header_len: usize,
    /// Payload length announced by the header (length-prefixed frames).
    expected: Option<usize>,
    buf: Vec<u8>,
    complete: bool,
}

/// How much a decoder reserves ahead of the bytes that arrived.
const RESERVE_AHEAD: usize = 64 * 1024;

impl FrameDecoder {
    /// A decoder for frames of at most `max_len` payload bytes.
    pub fn new(framing: Framing, max_len: usize) -> Self {
        Self {
            framing,
            max_len,
            header: [0; 4],
            header_len: 0,
            expected: None,
            buf: Vec::new(),
            complete: false,
        }
    }

    /// The largest payload this decoder accepts.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Takes bytes of the frame in progress from `input` and returns how
    /// many it took (all of them, or up to the end of the frame). Once a
    /// frame is complete it takes nothing until [`FrameDecoder::frame`]
    /// hands the frame out.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, CodecError> {
        if self.complete {
            return Ok(0);
        }
        match self.framing {
            Framing::LengthPrefixed => self.feed_prefixed(input),
            Framing::Lines => self.feed_line(input),
        }
    }

    fn feed_prefixed(&mut self, input: &[u8]) -> Result<usize, CodecError> {
        let mut taken = 0;
        if self.expected.is_none() {
            let want = (4 - self.header_len).min(input.len());
            self.header[self.header_len..self.header_len + want].copy_from_slice(&input[..want]);
            self.header_len += want;
            taken += want;
            if self.header_len < 4 {
                return Ok(taken);
            }
            let len = u32::from_be_bytes(self.header) as u64;
            if len > self.max_len as u64 {
                return Err(CodecError::TooLarge(len));
            }
            let len = len as usize;
            self.expected = Some(len);
            self.buf = Vec::with_capacity(len.min(RESERVE_AHEAD));
        }
        let expected = self.expected.unwrap_or_default();
        let want = (expected - self.buf.len()).min(input.len() - taken);
        self.buf.extend_from_slice(&input[taken..taken + want]);
        taken += want;
        self.complete = self.buf.len() == expected;
        Ok(taken)
    }

    fn feed_line(&mut self, input: &[u8]) -> Result<usize, CodecError> {
        let (want, found) = match input.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (input.len(), false),
        };
        // The newline does not count towards the limit.
        let content = self.buf.len() + want - usize::from(found);
        if content > self.max_len {
            return Err(CodecError::TooLarge(content as u64));
        }
        self.buf.extend_from_slice(&input[..want]);
        self.complete = found;
        Ok(want)
    }

    /// How many more bytes the frame in progress needs at least (length-
    /// prefixed frames; `1` for lines, whose end is unknown until it comes).
    /// A reader without its own buffer reads at most this much, so it never
    /// takes bytes of the next frame from the stream.
    pub fn wants(&self) -> usize {
        if self.complete {
            return 0;
        }
        match (self.framing, self.expected) {
            (Framing::Lines, _) => 1,
            (Framing::LengthPrefixed, None) => 4 - self.header_len,
            (Framing::LengthPrefixed, Some(len)) => len - self.buf.len(),
        }
    }

    /// The completed frame's payload (for lines: with its newline), if one
    /// is complete; the decoder is then ready for the next frame.
    pub fn frame(&mut self) -> Option<Vec<u8>> {
        if !self.complete {
            return None;
        }
        self.complete = false;
        self.header_len = 0;
        self.expected = None;
        Some(std::mem::take(&mut self.buf))
    }

    /// True between frames: nothing of a next frame has arrived.
    pub fn is_idle(&self) -> bool {
        !self.complete && self.header_len == 0 && self.buf.is_empty()
    }

    /// The error for a stream that ended now: a clean close between frames,
    /// a truncated frame otherwise.
    pub fn end_of_stream(&self) -> CodecError {
        if self.is_idle() {
            CodecError::Closed
        } else {
            CodecError::Malformed("frame truncated".into())
        }
    }
}

/// Reads one frame's payload from a reader without a buffer of its own,
/// never reading past the frame's end. For length-prefixed frames.
pub fn read_prefixed<R: std::io::Read>(
    reader: &mut R,
    max_len: usize,
) -> Result<Vec<u8>, CodecError> {
    let mut decoder = FrameDecoder::new(Framing::LengthPrefixed, max_len);
    let mut chunk = [0u8; 64 * 1024];
    loop {
        if let Some(frame) = decoder.frame() {
            return Ok(frame);
        }
        let want = decoder.wants().clamp(1, chunk.len());
        let read = match reader.read(&mut chunk[..want]) {
            Ok(0) => return Err(decoder.end_of_stream()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CodecError::Io(e)),
        };
        decoder.feed(&chunk[..read])?;
    }
}

/// Reads one frame from a buffered reader, consuming exactly its bytes.
pub fn read_buffered<R: std::io::BufRead>(
    reader: &mut R,
    decoder: &mut FrameDecoder,
) -> Result<Vec<u8>, CodecError> {
    loop {
        if let Some(frame) = decoder.frame() {
            return Ok(frame);
        }
        let available = match reader.fill_buf() {
            Ok([]) => return Err(decoder.end_of_stream()),
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CodecError::Io(e)),
        };
        let taken = decoder.feed(available)?;
        reader.consume(taken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixed(payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn frames_arrive_in_any_chunks() {
        let mut stream = prefixed(b"hello");
        stream.extend(prefixed(b""));
        stream.extend(prefixed(b"world!"));
        for chunk in 1..=stream.len() {
            let mut decoder = FrameDecoder::new(Framing::LengthPrefixed, 16);
            let mut frames = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let piece = &rest[..chunk.min(rest.len())];
                let taken = decoder.feed(piece).unwrap();
                rest = &rest[taken..];
                if let Some(frame) = decoder.frame() {
                    frames.push(frame);
                }
            }
            assert_eq!(frames, vec![b"hello".to_vec(), vec![], b"world!".to_vec()]);
            assert!(decoder.is_idle());
        }
    }

    #[test]
    fn oversized_header_is_refused_before_any_payload() {
        let mut decoder = FrameDecoder::new(Framing::LengthPrefixed, 10);
        let err = decoder.feed(&11u32.to_be_bytes()).unwrap_err();
        assert!(matches!(err, CodecError::TooLarge(11)), "{err}");
        let mut decoder = FrameDecoder::new(Framing::LengthPrefixed, 10);
        assert_eq!(decoder.feed(&10u32.to_be_bytes()).unwrap(), 4);
        assert_eq!(decoder.wants(), 10);
    }

    #[test]
    fn announced_length_is_not_allocated_up_front() {
        let mut decoder = FrameDecoder::new(Framing::LengthPrefixed, usize::MAX >> 1);
        decoder.feed(&u32::MAX.to_be_bytes()).unwrap();
        assert!(decoder.buf.capacity() <= RESERVE_AHEAD);
    }

    #[test]
    fn lines_stop_at_the_newline_and_respect_the_limit() {
        let mut decoder = FrameDecoder::new(Framing::Lines, 5);
        assert_eq!(decoder.feed(b"abc\ndef").unwrap(), 4);
        assert_eq!(decoder.frame().unwrap(), b"abc\n");
        assert_eq!(decoder.feed(b"de").unwrap(), 2);
        assert!(decoder.frame().is_none());
        assert!(matches!(
            decoder.feed(b"fghi"),
            Err(CodecError::TooLarge(6))
        ));
        let mut decoder = FrameDecoder::new(Framing::Lines, 5);
        assert_eq!(decoder.feed(b"12345\n").unwrap(), 6);
        assert!(decoder.frame().is_some());
    }

    #[test]
    fn end_of_stream_tells_close_from_truncation() {
        let mut decoder = FrameDecoder::new(Framing::LengthPrefixed, 10);
        assert!(matches!(decoder.end_of_stream(), CodecError::Closed));
        decoder.feed(&[0, 0]).unwrap();
        assert!(matches!(decoder.end_of_stream(), CodecError::Malformed(_)));
    }

    #[test]
    fn readers_never_take_the_next_frame() {
        let mut stream = prefixed(b"one");
        stream.extend(prefixed(b"two"));
        let mut reader = &stream[..];
        assert_eq!(read_prefixed(&mut reader, 10).unwrap(), b"one");
        assert_eq!(read_prefixed(&mut reader, 10).unwrap(), b"two");
        assert!(matches!(
            read_prefixed(&mut reader, 10),
            Err(CodecError::Closed)
        ));
        let mut buffered = std::io::BufReader::new(&b"a\nb\n"[..]);
        let mut decoder = FrameDecoder::new(Framing::Lines, 10);
        assert_eq!(read_buffered(&mut buffered, &mut decoder).unwrap(), b"a\n");
        assert_eq!(read_buffered(&mut buffered, &mut decoder).unwrap(), b"b\n");
    }
}
