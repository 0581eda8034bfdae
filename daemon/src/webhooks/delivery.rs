//! One attempt: a signed POST to an endpoint, and what came of it.
//!
//! The client follows no redirect (a signed message goes where it was
//! configured to go, or fails), sends `content-type: application/json` and
//! the three Standard Webhooks headers, gives the whole attempt the
//! endpoint's timeout, uses no proxy from the environment, and reads nothing of the answer but its status: a
//! receiver that answers slowly or at length cannot hold mws. Errors are
//! reported without the URL, whose path may be a secret. TLS is rustls
//! (ring) with the system's root certificates, as for Modal.

use super::signature::Key;
use std::sync::Arc;
use std::time::Duration;

/// How long connecting may take, within the attempt's timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Anything else, in one line (`HTTP 500`, `timed out`, …): try again later.
    Failed(String),
}

/// The HTTP client every attempt shares.
#[derive(Clone)]
pub(crate) struct Sender {
    client: reqwest::Client,
}

/// One message to send.
pub(crate) struct Message<'a> {
    pub url: &'a reqwest::Url,
    pub id: &'a str,
    pub body: String,
    /// `None`: sent unsigned (a Slack endpoint without a secret).
    pub key: Option<&'a Key>,
    pub timeout: Duration,
}

impl Sender {
    /// Builds the client; reads the system's root certificates (blocking:
    /// call it off the async workers).
    pub(crate) fn new() -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::debug!("a system root certificate was not read: {error}");
        }
        let (added, _) = roots.add_parsable_certificates(found.certs);
        tracing::debug!(roots = added, "webhook TLS roots");
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would see every body: none.
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("mws/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client setup: {}", one_line(&e)))?;
        Ok(Self { client })
    }

    /// Sends one attempt, signed with this moment's timestamp.
    pub(crate) async fn send(&self, message: Message<'_>) -> Outcome {
        let timestamp = crate::events::now() as i64;
        let mut request = self
            .client
            .post(message.url.clone())
            .timeout(message.timeout)
            .header("content-type", "application/json")
            .header("webhook-id", message.id)
            .header("webhook-timestamp", timestamp.to_string());
        if let Some(key) = message.key {
            request = request.header(
                "webhook-signature",
                key.sign(message.id, timestamp, message.body.as_bytes()),
            );
        }
        match request.body(message.body).send().await {
            Ok(response) if response.status().is_success() => Outcome::Delivered,
            Ok(response) => {
                let status = response.status();
                Outcome::Failed(format!(
                    "HTTP {}{}",
                    status.as_u16(),
                    status
                        .canonical_reason()
                        .map(|r| format!(" {r}"))
                        .unwrap_or_default()
                ))
            }
            Err(e) => Outcome::Failed(one_line(&e)),
        }
    }
}

/// A reqwest error and its causes in one line, without the URL.
fn one_line(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_redirect() || error.status().is_some_and(|s| s.is_redirection()) {
        "redirected (not followed)"
    } else {
        "failed"
    };
    let mut text = kind.to_string();
    let mut source = error.source();
    let mut seen = 0;
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !cause.is_empty() && !text.contains(&cause) && seen < 3 {
            text.push_str(": ");
            text.push_str(&cause);
            seen += 1;
        }
        source = cause_of(source);
    }
    text.replace(['\n', '\r'], " ")
}

fn cause_of<'a>(
    error: Option<&'a (dyn std::error::Error + 'static)>,
) -> Option<&'a (dyn std::error::Error + 'static)> {
    error.and_then(|e| e.source())
}
