//! `mws metrics` and the `[metrics] listen` endpoint, read by a real
//! Prometheus text-format parser (the Python `prometheus_client` package's
//! `text_string_to_metric_families`), checked against what the workspace
//! holds as `mws` lists it, and the endpoint against hostile clients.

use mws_e2e::plugins::json_of;
use mws_e2e::prometheus::{parse, value};
use mws_e2e::{ok, start_emulator, World};
use std::io::{Read, Write};
use std::net::TcpStream;

use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn metrics_count_what_the_workspace_holds_for_a_real_parser() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    world.set("MWS_POLL_INTERVAL_SECS", "3600");
    let port = free_port();
    let config = world.path("config/mws/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();

    let members = json_of(&ok(&world.mws(&["members", "list", "--json"])));
    let tokens = json_of(&ok(&world.mws(&["proxy-tokens", "list", "--json"])));
    let users = json_of(&ok(&world.mws(&["service-users", "list", "--json"])));
    let member_tokens = json_of(&ok(&world.mws(&["member-tokens", "list", "--json"])));
    ok(&world.mws(&["proxy-tokens", "list", "--json"])); // a cache hit

    let text = ok(&world.mws(&["metrics"]));
    let samples = parse(&text);
    let ws = "acme-ml";
    for role in ["owner", "manager", "member"] {
        let want = members
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"].as_str().unwrap().eq_ignore_ascii_case(role))
            .count() as f64;
        let got = value(
            &samples,
            "mws_members",
            &[("workspace", ws), ("role", role)],
        );
        assert_eq!(got.unwrap_or(0.0), want, "{role}: {text}");
    }
    let scoped = tokens
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["scoped"] == true)
        .count() as f64;
    assert_eq!(
        value(
            &samples,
            "mws_proxy_tokens",
            &[("workspace", ws), ("scoped", "true")]
        ),
        Some(scoped)
    );
    assert_eq!(
        value(
            &samples,
            "mws_proxy_tokens",
            &[("workspace", ws), ("scoped", "false")]
        ),
        Some(tokens.as_array().unwrap().len() as f64 - scoped)
    );
    assert_eq!(
        value(&samples, "mws_service_users", &[("workspace", ws)]),
        Some(users.as_array().unwrap().len() as f64)
    );
    let disabled = member_tokens
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["disabled"] == true)
        .count() as f64;
    assert_eq!(
        value(
            &samples,
            "mws_member_tokens",
            &[("workspace", ws), ("disabled", "true")]
        ),
        Some(disabled)
    );
    // nightly-eval expires three days after seeding.
    let until = value(
        &samples,
        "mws_seconds_until_expiry",
        &[("workspace", ws), ("kind", "service_user")],
    )
    .unwrap();
    assert!(
        (2.0 * 86_400.0..=3.0 * 86_400.0).contains(&until),
        "{until}"
    );
    // Upstream calls by method, with a latency histogram; cache reads.
    assert_eq!(
        value(
            &samples,
            "mws_upstream_calls_total",
            &[("method", "WebhookTokenList")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "mws_upstream_call_seconds_count",
            &[("method", "WebhookTokenList")]
        ),
        Some(1.0)
    );
    assert!(value(&samples, "mws_cache_reads_total", &[("result", "hit")]).unwrap() >= 1.0);
    assert!(value(&samples, "mws_ipc_requests_total", &[("kind", "workspace")]).unwrap() >= 5.0);
    // No token id, secret or credential anywhere.
    for secret in [&emulator.token_secret, &emulator.token_id] {
        assert!(!text.contains(secret.as_str()), "{secret} in the metrics");
    }
    for t in tokens.as_array().unwrap() {
        assert!(!text.contains(t["token_id"].as_str().unwrap()));
    }

    // The same over HTTP, for Prometheus.
    let answer = http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    let over_http = parse(body);
    assert_eq!(
        value(&over_http, "mws_service_users", &[("workspace", ws)]),
        Some(users.as_array().unwrap().len() as f64)
    );
    // Hostile clients: another path, another method, a huge head, garbage,
    // a silent one — each gets an error or a closed connection, and the
    // daemon answers on.
    assert!(http(port, b"GET /secrets HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    assert!(http(port, b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
    assert_eq!(http(port, &vec![b'A'; 64 * 1024]), "");
    let _silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(http(port, b"\x00\xff garbage\r\n\r\n").starts_with("HTTP/1.1 405"));
    ok(&world.mws(&["members", "list"]));
}

#[test]
fn a_bad_metrics_address_is_a_config_error_in_status() {
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    let config = world.path("config/mws/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[metrics]\nlisten = \"everywhere\"\n").unwrap();
    ok(&world.mws(&["daemon", "start"]));
    let status = ok(&world.mws(&["daemon", "status"]));
    assert!(
        status.contains(
            "[metrics] listen: 'everywhere' is not an address and port like \"127.0.0.1:9464\""
        ),
        "{status}"
    );
    // The rest works, and `mws metrics` still answers.
    parse(&ok(&world.mws(&["metrics"])));
}
