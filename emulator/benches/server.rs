//! Server-side speed of the two big listings: `WorkspaceMembersList` over
//! 5,000 members and `WebhookTokenList` over 2,000 tokens.
//!
//! Not part of `cargo test`. Run with
//! `cargo bench -p mws-emulator --bench server` (or `bench/emulator_server.sh`).
//!
//! The server runs in-process through [`mws_emulator::run`] with a call log;
//! the figures are the handler times the server itself logs (`elapsed_us`:
//! authentication, the SQLite query and building the answer), plus the
//! round trip a tonic client sees over loopback (adds encoding and HTTP/2).
//! Environment: `BENCH_MEMBERS`, `BENCH_TOKENS`, `BENCH_CALLS` override the sizes.

use std::time::{Duration, Instant};

use mws_emulator::cli::{run_admin, AdminCommand};
use mws_emulator::{store, ServeOptions, Store};
use mws_modal_api::{headers, ModalClientClient};
use prost::Message;
use tonic::metadata::MetadataValue;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn summary(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "  {label:<28} median {:>7.2} ms   p90 {:>7.2} ms   min {:>7.2} ms   (n={})",
        percentile(&ms, 0.5),
        percentile(&ms, 0.9),
        ms.first().copied().unwrap_or(f64::NAN),
        ms.len()
    );
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let members = env_usize("BENCH_MEMBERS", 5_000);
    let tokens = env_usize("BENCH_TOKENS", 2_000);
    let calls = env_usize("BENCH_CALLS", 30);

    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let log = dir.path().join("calls.jsonl");
    let store = Store::open(&db)?;
    let t = Instant::now();
    run_admin(&store, &AdminCommand::Bulk { members, tokens })?;
    let (token_id, token_secret) = store.write(|c| {
        let owner = store::ensure_owner(c)?;
        store::create_api_token(c, owner.pk)
    })?;
    println!(
        "mws-emulator bench: {members} members, {tokens} proxy tokens (bulk insert {:.0} ms), {calls} calls each",
        t.elapsed().as_secs_f64() * 1e3
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let options = ServeOptions {
            tls: None,
            call_log: Some(log.clone()),
            faults: Default::default(),
        };
        let server = tokio::spawn(mws_emulator::run(listener, store, options, async {
            let _ = stop_rx.await;
        }));
        let channel = tonic::transport::Endpoint::from_shared(url)?
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await?;
        let mut client =
            ModalClientClient::new(channel).max_decoding_message_size(64 * 1024 * 1024);
        let request = || {
            let mut r = tonic::Request::new(());
            let md = r.metadata_mut();
            md.insert(
                headers::TOKEN_ID,
                MetadataValue::try_from(token_id.as_str()).expect("ascii"),
            );
            md.insert(
                headers::TOKEN_SECRET,
                MetadataValue::try_from(token_secret.as_str()).expect("ascii"),
            );
            r
        };

        let mut members_rtt = Vec::new();
        let mut tokens_rtt = Vec::new();
        let mut members_bytes = 0;
        let mut tokens_bytes = 0;
        // Warm-up (connections, SQLite page cache, statement cache).
        for _ in 0..3 {
            client.workspace_members_list(request()).await?;
            client.webhook_token_list(request()).await?;
        }
        let _ = std::fs::write(&log, b"");
        for _ in 0..calls {
            let t = Instant::now();
            let r = client.workspace_members_list(request()).await?.into_inner();
            members_rtt.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(r.members.len() >= members);
            members_bytes = r.encoded_len();
            let t = Instant::now();
            let r = client.webhook_token_list(request()).await?.into_inner();
            tokens_rtt.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(r.tokens.len(), tokens);
            tokens_bytes = r.encoded_len();
        }
        let _ = stop_tx.send(());
        server.await??;

        let text = std::fs::read_to_string(&log)?;
        let mut server_ms = std::collections::BTreeMap::<String, Vec<f64>>::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let method = v["method"].as_str().unwrap_or_default().to_string();
            let us = v["elapsed_us"].as_f64().unwrap_or(f64::NAN);
            server_ms.entry(method).or_default().push(us / 1e3);
        }
        println!("server-side handler time (from the call log):");
        summary(
            &format!("WorkspaceMembersList ({members})"),
            server_ms.remove("WorkspaceMembersList").unwrap_or_default(),
        );
        summary(
            &format!("WebhookTokenList ({tokens})"),
            server_ms.remove("WebhookTokenList").unwrap_or_default(),
        );
        println!("client round trip over loopback (tonic, h2c):");
        summary(
            &format!("WorkspaceMembersList ({} KB)", members_bytes / 1024),
            members_rtt,
        );
        summary(
            &format!("WebhookTokenList ({} KB)", tokens_bytes / 1024),
            tokens_rtt,
        );
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(())
}
