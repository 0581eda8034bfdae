//! IPC throughput: requests per second over one persistent connection to a
//! running `mwsd`, with `mws-ipc`'s own codec (what `mws` does once per
//! call), for `Ping` and for a cached `TokensList`.
//!
//! Usage: `mws-bench-ipc [SECONDS]` with the environment `mws` would have
//! (XDG_RUNTIME_DIR, MODAL_SERVER_URL, MODAL_TOKEN_ID, MODAL_TOKEN_SECRET).
//! Prints one JSON object.

use mws_ipc::codec::{encode_frame, read_frame};
use mws_ipc::{
    ClientHello, Freshness, Request, Response, Secret, Selection, ServerHello, WorkspaceCommand,
    PROTOCOL_VERSION,
};
use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

fn run(seconds: f64, request: &Request) -> (u64, f64, Vec<f64>) {
    let path = mws_ipc::paths::socket_path(&mws_ipc::paths::runtime_dir());
    let stream = UnixStream::connect(&path).expect("connect to mwsd (run `mws daemon start`)");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let hello = ClientHello {
        protocol_version: PROTOCOL_VERSION,
        client_version: "mws-bench".into(),
        features: vec![],
    };
    writer.write_all(&encode_frame(&hello).unwrap()).unwrap();
    let server: ServerHello = read_frame(&mut reader).expect("hello");
    assert!(server.error.is_none(), "{:?}", server.error);
    let frame = encode_frame(request).unwrap();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut count = 0u64;
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        let t = Instant::now();
        writer.write_all(&frame).unwrap();
        let response: Response = read_frame(&mut reader).expect("response");
        if let Response::Error(e) = &response {
            panic!("daemon error: {}", e.message);
        }
        if count.is_multiple_of(16) {
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
        count += 1;
    }
    (count, started.elapsed().as_secs_f64(), samples)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let tokens = Request::Workspace {
        selection: Selection {
            token_id: env("MODAL_TOKEN_ID"),
            token_secret: env("MODAL_TOKEN_SECRET").map(Secret::new),
            server_url: env("MODAL_SERVER_URL"),
            home: env("HOME"),
            config_path: env("MODAL_CONFIG_PATH"),
            ..Default::default()
        },
        freshness: Freshness {
            max_age_secs: Some(3600),
            fresh: false,
        },
        command: WorkspaceCommand::TokensList { environment: None },
        idempotency_key: None,
    };
    let mut out = serde_json::Map::new();
    for (name, request) in [("ping", Request::Ping), ("tokens_list_cached", tokens)] {
        let (count, elapsed, samples) = run(seconds, &request);
        out.insert(
            name.into(),
            serde_json::json!({
                "requests": count,
                "seconds": elapsed,
                "requests_per_second": count as f64 / elapsed,
                "median_round_trip_us": median(samples),
            }),
        );
    }
    println!("{}", serde_json::Value::Object(out));
}
