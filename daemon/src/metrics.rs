//! Prometheus metrics (`mws metrics`, and `[metrics] listen` for a
//! scraper): what the daemon did — upstream calls, errors and latency by
//! method, cache hits and misses, IPC requests by kind — counted as it
//! happens, and what it knows of each workspace — members by role, proxy
//! tokens, service users, member tokens, seconds to the nearest expiry of
//! each credential kind, alerts by level — read at scrape time from the
//! sessions' last answers (a scrape never calls Modal). Webhooks: attempts
//! by endpoint and result, retries, deliveries given up on or dropped, and
//! the queue's depth per endpoint.
//!
//! Labels are method names, kinds, roles, levels, workspace names and
//! webhook endpoint names: never a token id, a secret, a server URL's
//! credentials or a webhook URL (whose path may be a secret).

use crate::events::Credentials;
use mws_ipc::WebhookReport;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::sync::OnceLock;
use std::time::Duration;

/// The counters that live as long as the daemon.
struct Counters {
    registry: Registry,
    upstream_calls: IntCounterVec,
    upstream_errors: IntCounterVec,
    upstream_seconds: HistogramVec,
    cache: IntCounterVec,
    ipc_requests: IntCounterVec,
    webhook_attempts: IntCounterVec,
    webhook_retries: IntCounterVec,
    webhook_given_up: IntCounterVec,
    webhook_dropped: IntCounterVec,
}

fn counters() -> &'static Counters {
    static COUNTERS: OnceLock<Counters> = OnceLock::new();
    COUNTERS.get_or_init(|| {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let counter = IntCounterVec::new(Opts::new(name, help), labels)
                .expect("a valid metric definition");
            registry
                .register(Box::new(counter.clone()))
                .expect("registered once");
            counter
        };
        let upstream_calls = counter(
            "mws_upstream_calls_total",
            "Calls to Modal's API, by gRPC method.",
            &["method"],
        );
        let upstream_errors = counter(
            "mws_upstream_errors_total",
            "Calls to Modal's API that failed, by gRPC method.",
            &["method"],
        );
        let cache = counter(
            "mws_cache_reads_total",
            "Reads of a cached collection, by result (hit: answered from the cache).",
            &["result"],
        );
        let ipc_requests = counter(
            "mws_ipc_requests_total",
            "Requests answered on the local socket, by kind.",
            &["kind"],
        );
        let webhook_attempts = counter(
            "mws_webhook_deliveries_total",
            "Webhook delivery attempts, by endpoint and result (delivered: a 2xx answer).",
            &["endpoint", "result"],
        );
        let webhook_retries = counter(
            "mws_webhook_retries_total",
            "Webhook deliveries scheduled again after a failed attempt, by endpoint.",
            &["endpoint"],
        );
        let webhook_given_up = counter(
            "mws_webhook_given_up_total",
            "Webhook deliveries set aside after failing for give_up_after_secs, by endpoint.",
            &["endpoint"],
        );
        let webhook_dropped = counter(
            "mws_webhook_dropped_total",
            "Webhook deliveries not queued because the queue was full or the outbox could not be written.",
            &[],
        );
        // Shown as 0 from the start: "nothing dropped" is worth a sample.
        webhook_dropped.with_label_values::<&str>(&[]);
        let upstream_seconds = HistogramVec::new(
            HistogramOpts::new(
                "mws_upstream_call_seconds",
                "Time a call to Modal's API took, retries included, by gRPC method.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method"],
        )
        .expect("a valid metric definition");
        registry
            .register(Box::new(upstream_seconds.clone()))
            .expect("registered once");
        Counters {
            registry,
            upstream_calls,
            upstream_errors,
            upstream_seconds,
            cache,
            webhook_attempts,
            webhook_retries,
            webhook_given_up,
            webhook_dropped,
            ipc_requests,
        }
    })
}

/// One call to Modal finished.
pub(crate) fn upstream_call(method: &str, took: Duration, failed: bool) {
    let counters = counters();
    counters.upstream_calls.with_label_values(&[method]).inc();
    if failed {
        counters.upstream_errors.with_label_values(&[method]).inc();
    }
    counters
        .upstream_seconds
        .with_label_values(&[method])
        .observe(took.as_secs_f64());
}

/// A cached collection was read: from the cache (`hit`) or not.
pub(crate) fn cache_read(hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    counters().cache.with_label_values(&[result]).inc();
}

/// A request arrived on the socket.
pub(crate) fn ipc_request(kind: &str) {
    counters().ipc_requests.with_label_values(&[kind]).inc();
}

/// A webhook attempt finished: delivered (2xx) or not.
pub(crate) fn webhook_attempt(endpoint: &str, delivered: bool) {
    let result = if delivered { "delivered" } else { "failed" };
    counters()
        .webhook_attempts
        .with_label_values(&[endpoint, result])
        .inc();
}

/// A failed webhook delivery was scheduled again.
pub(crate) fn webhook_retry(endpoint: &str) {
    counters()
        .webhook_retries
        .with_label_values(&[endpoint])
        .inc();
}

/// A webhook delivery was given up on.
pub(crate) fn webhook_given_up(endpoint: &str) {
    counters()
        .webhook_given_up
        .with_label_values(&[endpoint])
        .inc();
}

/// A webhook delivery was dropped (queue full, outbox not writable).
pub(crate) fn webhook_dropped() {
    counters()
        .webhook_dropped
        .with_label_values::<&str>(&[])
        .inc();
}

/// What one workspace looks like, from an identity's last answers.
pub(crate) struct WorkspaceView {
    pub workspace: String,
    pub members_by_role: Vec<(String, usize)>,
    pub credentials: Credentials,
}

/// The text exposition of everything: the counters, then gauges built now
/// from `workspaces` and the alerts' levels at `now` (Unix seconds).
pub(crate) fn render(
    workspaces: &[WorkspaceView],
    alert_levels: &[String],
    webhooks: &WebhookReport,
    now: f64,
) -> String {
    let registry = Registry::new();
    let gauge = |name: &str, help: &str, labels: &[&str]| {
        let gauge = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid");
        registry.register(Box::new(gauge.clone())).expect("once");
        gauge
    };
    let members = gauge(
        "mws_members",
        "Workspace members, by role.",
        &["workspace", "role"],
    );
    let proxy_tokens = gauge(
        "mws_proxy_tokens",
        "Proxy tokens, by whether they are scoped to environments.",
        &["workspace", "scoped"],
    );
    let service_users = gauge("mws_service_users", "Service users.", &["workspace"]);
    let member_tokens = gauge(
        "mws_member_tokens",
        "Members' API tokens, by whether they are disabled.",
        &["workspace", "disabled"],
    );
    let alerts = gauge("mws_alerts", "Alerts held now, by level.", &["level"]);
    let queue_depth = gauge(
        "mws_webhook_queue_depth",
        "Webhook deliveries waiting, by endpoint.",
        &["endpoint"],
    );
    let set_aside = gauge(
        "mws_webhook_failed",
        "Webhook deliveries given up on and kept (mws webhooks retry), by endpoint.",
        &["endpoint"],
    );
    for endpoint in &webhooks.endpoints {
        queue_depth
            .with_label_values(&[&endpoint.name])
            .set(endpoint.queued as i64);
        set_aside
            .with_label_values(&[&endpoint.name])
            .set(endpoint.failed as i64);
    }
    let expiry = GaugeVec::new(
        Opts::new(
            "mws_seconds_until_expiry",
            "Seconds until the nearest expiry (negative: already expired), by credential kind.",
        ),
        &["workspace", "kind"],
    )
    .expect("valid");
    registry.register(Box::new(expiry.clone())).expect("once");

    for view in workspaces {
        let ws = view.workspace.as_str();
        for (role, count) in &view.members_by_role {
            members.with_label_values(&[ws, role]).set(*count as i64);
        }
        let known = &view.credentials;
        if let Some(tokens) = &known.proxy_tokens {
            let scoped = tokens.iter().filter(|t| t.scoped).count();
            proxy_tokens
                .with_label_values(&[ws, "true"])
                .set(scoped as i64);
            proxy_tokens
                .with_label_values(&[ws, "false"])
                .set((tokens.len() - scoped) as i64);
        }
        if let Some(users) = &known.service_users {
            service_users
                .with_label_values(&[ws])
                .set(users.len() as i64);
            if let Some(at) = nearest(users.iter().map(|u| u.expires_at)) {
                expiry
                    .with_label_values(&[ws, "service_user"])
                    .set(at - now);
            }
        }
        if let Some(tokens) = &known.member_tokens {
            let disabled = tokens.iter().filter(|t| t.disabled).count();
            member_tokens
                .with_label_values(&[ws, "true"])
                .set(disabled as i64);
            member_tokens
                .with_label_values(&[ws, "false"])
                .set((tokens.len() - disabled) as i64);
            let live = tokens.iter().filter(|t| !t.disabled).map(|t| t.expires_at);
            if let Some(at) = nearest(live) {
                expiry
                    .with_label_values(&[ws, "member_token"])
                    .set(at - now);
            }
        }
        if let Some(info) = &known.credential {
            if info.expires_at > 0.0 {
                expiry
                    .with_label_values(&[ws, "credential"])
                    .set(info.expires_at - now);
            }
        }
    }
    for level in ["info", "warning", "critical", "expired"] {
        let held = alert_levels.iter().filter(|l| *l == level).count();
        alerts.with_label_values(&[level]).set(held as i64);
    }

    let mut families = counters().registry.gather();
    families.extend(registry.gather());
    let mut text = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&families, &mut text) {
        tracing::warn!("metrics could not be encoded: {e}");
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// The earliest of some expiry times (`<= 0`: never), if any.
fn nearest(times: impl Iterator<Item = f64>) -> Option<f64> {
    times
        .filter(|t| *t > 0.0 && t.is_finite())
        .min_by(f64::total_cmp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mws_ipc::{ProxyToken, ServiceUser};

    #[test]
    fn gauges_count_what_the_workspace_holds_and_name_no_token() {
        upstream_call("TokenList", Duration::from_millis(3), false);
        let credentials = Credentials {
            workspace: "acme".into(),
            proxy_tokens: Some(vec![
                ProxyToken {
                    token_id: "wk-secretish".into(),
                    scoped: true,
                    ..ProxyToken::default()
                },
                ProxyToken::default(),
            ]),
            service_users: Some(vec![ServiceUser {
                expires_at: 1_000.0 + 3.0 * 86_400.0,
                ..ServiceUser::default()
            }]),
            ..Credentials::default()
        };
        let text = render(
            &[WorkspaceView {
                workspace: "acme".into(),
                members_by_role: vec![("owner".into(), 2)],
                credentials,
            }],
            &["warning".into(), "warning".into()],
            &WebhookReport {
                endpoints: vec![mws_ipc::WebhookEndpoint {
                    name: "team".into(),
                    target: "https://hooks.example.com".into(),
                    queued: 3,
                    failed: 1,
                    ..Default::default()
                }],
                ..Default::default()
            },
            1_000.0,
        );
        for line in [
            "mws_members{role=\"owner\",workspace=\"acme\"} 2",
            "mws_proxy_tokens{scoped=\"true\",workspace=\"acme\"} 1",
            "mws_seconds_until_expiry{kind=\"service_user\",workspace=\"acme\"} 259200",
            "mws_alerts{level=\"warning\"} 2",
            "# TYPE mws_upstream_call_seconds histogram",
            "mws_webhook_queue_depth{endpoint=\"team\"} 3",
            "mws_webhook_failed{endpoint=\"team\"} 1",
            "mws_webhook_dropped_total 0",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
        assert!(!text.contains("wk-secretish"));
        assert!(!text.contains("hooks.example.com"), "{text}");
    }
}
