//! Fuzzing the frame decoder with proptest: whatever bytes arrive on the
//! socket, decoding returns a value or an error — it never panics and never
//! refuses a frame within the cap or accepts one above it. Valid frames with
//! bytes flipped, cut or appended are tried as well as pure noise.
//!
//! Runs for `MWS_FUZZ_SECS` seconds (default 3; CI runs a longer bounded
//! pass in release mode, see `.ci/run`) and prints how many inputs it tried.

use mws_ipc::codec::{
    decode_hello_payload, decode_payload, encode_frame, encode_json_line, read_frame,
    read_json_line, CodecError,
};
use mws_ipc::frame::FrameDecoder;
use mws_ipc::{
    ClientHello, Encoding, Freshness, Request, Response, Selection, WorkspaceCommand, MAX_FRAME_LEN,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::time::{Duration, Instant};

fn budget() -> Duration {
    Duration::from_secs_f64(
        std::env::var("MWS_FUZZ_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0),
    )
}

/// Valid frames to start mutations from.
fn seeds() -> Vec<Vec<u8>> {
    let workspace = |command| Request::Workspace {
        selection: Selection {
            profile: Some("prod".into()),
            server_url: Some("http://127.0.0.1:1".into()),
            ..Default::default()
        },
        freshness: Freshness {
            max_age_secs: Some(5),
            fresh: false,
        },
        command,
        idempotency_key: None,
    };
    vec![
        encode_frame(&ClientHello {
            protocol_version: 1,
            client_version: "0.1.0".into(),
            features: vec!["x".into()],
        })
        .unwrap(),
        encode_frame(&Request::Ping).unwrap(),
        encode_frame(&Request::Status).unwrap(),
        encode_frame(&workspace(WorkspaceCommand::MembersList)).unwrap(),
        encode_frame(&workspace(WorkspaceCommand::TokenCreate {
            name: Some("ci-🚀".into()),
        }))
        .unwrap(),
        encode_frame(&workspace(WorkspaceCommand::TokenAllow {
            token_id: "wk-x".into(),
            environment: "prod".into(),
        }))
        .unwrap(),
        encode_frame(&Response::Pong).unwrap(),
        encode_json_line(&Request::Status).unwrap(),
    ]
}

/// What the daemon does with a connection's bytes, arriving in chunks of
/// `chunk` bytes: the encoding chosen by the first byte, one shared frame
/// decoder, the first frame decoded as a hello, the others as requests.
/// Returns the error that ended the stream, if any.
fn serve_like_the_daemon(bytes: &[u8], chunk: usize) -> Option<CodecError> {
    let encoding = Encoding::detect(*bytes.first()?);
    let mut decoder: FrameDecoder = encoding.decoder();
    let mut rest = bytes;
    let mut frames = 0usize;
    loop {
        if let Some(frame) = decoder.frame() {
            let decoded = if frames == 0 {
                encoding.decode_hello(&frame).map(|_| ())
            } else {
                encoding.decode::<Request>(&frame).map(|_| ())
            };
            frames += 1;
            if let Err(e) = decoded {
                return Some(e);
            }
            continue;
        }
        if rest.is_empty() {
            return Some(decoder.end_of_stream());
        }
        let piece = &rest[..chunk.min(rest.len())];
        match decoder.feed(piece) {
            Ok(taken) => {
                assert!(taken <= piece.len(), "took more than it was given");
                assert!(taken > 0, "a decoder without a frame must make progress");
                rest = &rest[taken..];
            }
            Err(e) => return Some(e),
        }
    }
}

/// Every decoder on one input; panics only if a decoder misbehaves.
fn decode_everything(bytes: &[u8]) {
    let mut errors = Vec::new();
    // The daemon's own path, with the bytes split as a socket might.
    for chunk in [1, 3, 4096, usize::MAX] {
        errors.extend(serve_like_the_daemon(bytes, chunk));
    }
    // The CLI's whole-frame readers (header + payload).
    for result in [
        read_frame::<_, Request>(&mut &bytes[..]).map(|_| ()),
        read_frame::<_, ClientHello>(&mut &bytes[..]).map(|_| ()),
        read_frame::<_, Response>(&mut &bytes[..]).map(|_| ()),
        read_json_line::<_, Request>(&mut &bytes[..]).map(|_| ()),
        read_json_line::<_, ClientHello>(&mut &bytes[..]).map(|_| ()),
    ] {
        errors.extend(result.err());
    }
    for error in errors {
        if let CodecError::TooLarge(n) = error {
            assert!(
                n > MAX_FRAME_LEN as u64,
                "refused a frame within the cap: {n}"
            );
        }
    }
    // Payload decoders on the raw bytes.
    let _ = decode_payload::<Request>(bytes);
    let _ = decode_payload::<Response>(bytes);
    let _ = decode_hello_payload(bytes);
    if bytes.len() >= 4 {
        let announced = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let refused = Encoding::Binary.decoder().feed(&bytes[..4]).is_err();
        assert_eq!(refused, announced > MAX_FRAME_LEN);
    }
    // A decoded request re-encodes to something that decodes to itself.
    if let Ok(request) = read_frame::<_, Request>(&mut &bytes[..]) {
        let again = encode_frame(&request).expect("re-encode");
        let back: Request = read_frame(&mut &again[..]).expect("decode again");
        assert_eq!(back, request);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Cut(usize),
    Append(Vec<u8>),
    Length(u32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Cut),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Mutation::Append),
        any::<u32>().prop_map(Mutation::Length),
    ]
}

fn mutate(mut frame: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::Flip(i, b) if !frame.is_empty() => {
                let i = i % frame.len();
                frame[i] ^= b;
            }
            Mutation::Cut(i) if !frame.is_empty() => frame.truncate(i % frame.len()),
            Mutation::Append(extra) => frame.extend_from_slice(extra),
            Mutation::Length(len) if frame.len() >= 4 => {
                frame[..4].copy_from_slice(&len.to_be_bytes());
            }
            _ => {}
        }
    }
    frame
}

/// A 32-byte seed: the clock (printed, so a failure can be replayed with
/// `MWS_FUZZ_SEED`) plus the batch number.
fn seed_bytes(batch: u64) -> [u8; 32] {
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| {
        let seed = std::env::var("MWS_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0)
            });
        eprintln!("codec fuzz: MWS_FUZZ_SEED={seed}");
        seed
    });
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&base.to_le_bytes());
    bytes[8..16].copy_from_slice(&batch.to_le_bytes());
    bytes
}

#[test]
fn frame_decoder_survives_hostile_bytes() {
    let seeds = seeds();
    let noise = proptest::collection::vec(any::<u8>(), 0..2048);
    // Noise behind a plausible length prefix gets past the header check.
    let prefixed = proptest::collection::vec(any::<u8>(), 0..2048).prop_map(|body| {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend(body);
        frame
    });
    let count = seeds.len();
    let mutated = (0..count, proptest::collection::vec(mutation(), 1..6))
        .prop_map(move |(i, ms)| mutate(seeds[i].clone(), &ms));
    let strategy = prop_oneof![noise, prefixed, mutated];

    const BATCH: u32 = 2_000;
    let deadline = Instant::now() + budget();
    let tried = std::cell::Cell::new(0u64);
    let mut batch = 0u64;
    while batch == 0 || Instant::now() < deadline {
        // A fresh runner per batch (a runner counts its cases across runs),
        // seeded differently each time.
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: BATCH,
                failure_persistence: None,
                ..Config::default()
            },
            proptest::test_runner::TestRng::from_seed(
                proptest::test_runner::RngAlgorithm::ChaCha,
                &seed_bytes(batch),
            ),
        );
        runner
            .run(&strategy, |bytes| {
                tried.set(tried.get() + 1);
                decode_everything(&bytes);
                Ok(())
            })
            .expect("a decoder misbehaved");
        batch += 1;
    }
    let tried = tried.get();
    eprintln!("codec fuzz: {tried} inputs tried in {:?}", budget());
}
