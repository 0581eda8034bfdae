//! One gRPC client per identity `(server_url, token_id)`.
//!
//! Every call carries the metadata Modal's official client sends (credentials,
//! client type and version, a fresh idempotency key per logical call reused on
//! each retry, the attempt number). Transient statuses are retried a bounded
//! number of times with exponential backoff; everything else fails at once.
//!
//! Deadlines: one logical call — DNS, TCP connect, TLS handshake, HTTP/2
//! setup, every attempt and its whole answer, backoff included — ends within
//! [`CALL_DEADLINE`] (10 s), instead of the official client's minute of
//! retries. Each attempt runs under what is left of it
//! (`tokio::time::timeout`), so a server that accepts and never speaks, a TLS
//! handshake that never finishes, or an answer trickled a byte a second all
//! end there, reported as [`UpstreamError::Unreachable`] naming the URL ("no
//! answer within 10 s"); a mutation cut off that way may have been made, and
//! its error says so (`maybe_applied`). Inside that bound, a refused or
//! unroutable connection fails an attempt within [`CONNECT_TIMEOUT`], a
//! stalled TLS handshake within [`TLS_HANDSHAKE_TIMEOUT`] (so the channel
//! reconnects afresh next time), and a connection gone silent is noticed by
//! an unanswered HTTP/2 PING ([`KEEPALIVE_INTERVAL`] + [`KEEPALIVE_TIMEOUT`]);
//! no new attempt starts once a call has used [`RETRY_BUDGET`]. A server that
//! is not a gRPC server (an HTTP/1.1 web server, an HTTP/2 one without
//! `grpc-status`, garbage, plain text on an https:// URL) fails at once with
//! "Could not connect to the Modal server at URL: …; check MODAL_SERVER_URL".

use crate::config::Identity;
use mws_ipc::Secret;
use mws_modal_api::{headers, proto, ModalClientClient};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};

/// Retries after the first attempt (as the official client does).
pub const MAX_RETRIES: u32 = 3;
/// Backoff before the first retry; doubles after each.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// How long one logical call may take in all, every attempt included.
pub const CALL_DEADLINE: Duration = Duration::from_secs(10);
/// How long one attempt may take to open its TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one attempt may take for its TLS handshake (https:// only).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// With a call open and nothing heard from the server for this long, send an
/// HTTP/2 PING (a live server acknowledges it at once, even while a slow
/// handler runs; nothing is sent on a connection without open calls).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// An unacknowledged PING fails the connection after this long.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// No retry starts after a logical call has taken this long (a retry then
/// has at least 2 s of [`CALL_DEADLINE`] left).
pub const RETRY_BUDGET: Duration = Duration::from_secs(8);

/// What a user can check when the server at the URL is not Modal's API.
const CHECK_URL: &str = "check MODAL_SERVER_URL (or the profile's server_url)";

/// The client's key for one mutation (a UUID it chose). Each upstream
/// method gets its own key derived from it (UUIDv5), so the two calls of
/// `allow` never share one, and a resent mutation derives the same keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MutationKey(uuid::Uuid);

impl MutationKey {
    /// Parses the client's key; anything but a UUID is refused.
    pub fn parse(text: &str) -> Option<Self> {
        uuid::Uuid::parse_str(text).ok().map(MutationKey)
    }

    /// A key for one part of this mutation (e.g. one environment of a
    /// rotation), derived so that a resent mutation derives the same one.
    pub fn derive(&self, part: &str) -> Self {
        MutationKey(uuid::Uuid::new_v5(&self.0, part.as_bytes()))
    }

    /// The key itself, e.g. to name what is kept about this mutation.
    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }

    /// The `x-idempotency-key` for one upstream method of this mutation.
    pub fn for_method(&self, method: &str) -> String {
        uuid::Uuid::new_v5(&self.0, method.as_bytes()).to_string()
    }
}

/// Settings shared by every upstream client of the daemon.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Value of `x-modal-client-version`.
    pub client_version: String,
    /// Extra CA certificate (PEM) to trust for https:// servers.
    pub extra_ca_pem: Option<Vec<u8>>,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            client_version: std::env::var("MWS_MODAL_CLIENT_VERSION")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| mws_modal_api::MODAL_CLIENT_VERSION.to_string()),
            extra_ca_pem: None,
        }
    }
}

/// Counters shown by `mws daemon status`.
#[derive(Debug, Default)]
pub struct UpstreamStats {
    pub calls: AtomicU64,
    pub errors: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

/// A gRPC client bound to one identity.
pub struct Upstream {
    pub server_url: String,
    pub token_id: String,
    secret: Secret,
    client: ModalClientClient<Channel>,
    client_version: AsciiMetadataValue,
    node: AsciiMetadataValue,
    pub stats: UpstreamStats,
}

/// Why an upstream call failed. Every message is one line a user can act
/// on; the server's own text is kept verbatim (the official client prints
/// it as is).
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum UpstreamError {
    #[error("Invalid server URL '{url}': {detail}")]
    InvalidUrl { url: String, detail: String },
    /// The server was never reached (refused, unroutable, silent, TLS), did
    /// not answer within [`CALL_DEADLINE`], or is no gRPC server.
    #[error("Could not connect to the Modal server at {url}: {cause}{}", if *.maybe_applied { MAYBE_APPLIED } else { "" })]
    Unreachable {
        url: String,
        cause: String,
        /// A change cut off by the deadline may have been made.
        maybe_applied: bool,
    },
    /// The server answered, but with something the official client refuses
    /// (e.g. a member role it does not know); the message is the client's.
    #[error("{0}")]
    BadAnswer(String),
    /// The server answered with an error status.
    #[error("{message}{}", if *.maybe_applied { MAYBE_APPLIED } else { "" })]
    Status {
        code: Code,
        message: String,
        /// A change whose attempts all failed in transit may still have
        /// been made by one of them.
        maybe_applied: bool,
    },
}

const MAYBE_APPLIED: &str =
    " (the change may or may not have been made; check with `mws proxy-tokens list`)";

impl UpstreamError {
    /// The gRPC status code, when the server answered.
    pub(crate) fn code(&self) -> Option<Code> {
        match self {
            UpstreamError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Statuses worth another attempt (the official client's list).
fn is_transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::Internal
            | Code::Unknown
            | Code::Cancelled
            | Code::DeadlineExceeded
    )
}

/// The innermost cause of an error, for "could not connect" messages.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// True when a status stands for "never reached the server" rather than an
/// answer from it.
fn is_transport_failure(status: &Status) -> bool {
    use std::error::Error;
    status.code() == Code::Unavailable
        && status
            .source()
            .map(|s| s.downcast_ref::<tonic::transport::Error>().is_some() || s.source().is_some())
            .unwrap_or(false)
}

/// Why a status shows the server is not a gRPC server at all, if it does:
/// an HTTP answer without `grpc-status` (a web server or proxy), or bytes
/// that are not HTTP/2 (an HTTP/1.1 server, garbage).
fn not_grpc(status: &Status) -> Option<String> {
    let message = status.message();
    if let Some(code) =
        message.strip_prefix("grpc-status header missing, mapped from HTTP status code ")
    {
        return Some(format!(
            "it answered HTTP status {code} without a gRPC status, so it is no gRPC server"
        ));
    }
    if message.starts_with("h2 protocol error") {
        return Some(format!("it does not speak gRPC over HTTP/2 ({message})"));
    }
    None
}

/// A TLS failure that means the server does not speak TLS at all (an
/// https:// URL pointing at a plain-text server).
fn not_tls(cause: &str) -> bool {
    cause.contains("InvalidContentType") || cause.contains("corrupt message")
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn ascii(value: &str) -> AsciiMetadataValue {
    AsciiMetadataValue::try_from(value).unwrap_or_else(|_| AsciiMetadataValue::from_static(""))
}

impl Upstream {
    /// Builds a client for an identity; connects lazily on the first call.
    pub fn new(identity: &Identity, settings: &UpstreamSettings) -> Result<Self, UpstreamError> {
        let url = identity.server_url.clone();
        let bad_url = |e: &dyn std::fmt::Display| UpstreamError::InvalidUrl {
            url: url.clone(),
            detail: e.to_string(),
        };
        let user_agent = format!(
            "modal-client/{} ({}; mws/{})",
            settings.client_version,
            std::env::consts::OS,
            env!("CARGO_PKG_VERSION")
        );
        let mut endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| bad_url(&e))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .user_agent(user_agent)
            .map_err(|e| bad_url(&e))?;
        if url.starts_with("https://") {
            let mut tls = ClientTlsConfig::new()
                .with_native_roots()
                .timeout(TLS_HANDSHAKE_TIMEOUT);
            if let Some(pem) = &settings.extra_ca_pem {
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            endpoint = endpoint.tls_config(tls).map_err(|e| bad_url(&e))?;
        }
        let channel = endpoint.connect_lazy();
        Ok(Self {
            server_url: url,
            token_id: identity.token_id.clone(),
            secret: identity.token_secret.clone(),
            client: ModalClientClient::new(channel).max_decoding_message_size(64 * 1024 * 1024),
            client_version: ascii(&settings.client_version),
            node: ascii(&host_name()),
            stats: UpstreamStats::default(),
        })
    }

    fn decorate(&self, metadata: &mut MetadataMap, key: &str, attempt: u32, delay: Duration) {
        metadata.insert(headers::TOKEN_ID, ascii(&self.token_id));
        if let Ok(mut value) = AsciiMetadataValue::try_from(self.secret.expose()) {
            value.set_sensitive(true);
            metadata.insert(headers::TOKEN_SECRET, value);
        }
        metadata.insert(
            headers::CLIENT_TYPE,
            AsciiMetadataValue::from_static(mws_modal_api::CLIENT_TYPE_CLIENT),
        );
        metadata.insert(headers::CLIENT_VERSION, self.client_version.clone());
        metadata.insert(
            headers::PLATFORM,
            ascii(&format!(
                "{}-{}",
                std::env::consts::OS,
                std::env::consts::ARCH
            )),
        );
        metadata.insert(headers::NODE, self.node.clone());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        metadata.insert(headers::TIMESTAMP, ascii(&format!("{now:.6}")));
        metadata.insert(headers::IDEMPOTENCY_KEY, ascii(key));
        metadata.insert(headers::RETRY_ATTEMPT, ascii(&attempt.to_string()));
        if attempt > 0 {
            metadata.insert(
                headers::RETRY_DELAY,
                ascii(&format!("{:.3}", delay.as_secs_f64())),
            );
        }
    }

    /// Runs one logical call: one idempotency key, bounded retries. The key
    /// comes from the client's mutation key when there is one, so a mutation
    /// resent by the CLI after a daemon crash is replayed, not repeated.
    async fn call<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        message: Req,
        mutation: Option<&MutationKey>,
        send: F,
    ) -> Result<Resp, UpstreamError>
    where
        Req: Clone,
        F: Fn(ModalClientClient<Channel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let started = std::time::Instant::now();
        let result = self.attempts(method, message, mutation, send).await;
        crate::metrics::upstream_call(method, started.elapsed(), result.is_err());
        result
    }

    /// [`Self::call`]'s attempts, retries and deadline.
    async fn attempts<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        message: Req,
        mutation: Option<&MutationKey>,
        send: F,
    ) -> Result<Resp, UpstreamError>
    where
        Req: Clone,
        F: Fn(ModalClientClient<Channel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let key = match mutation {
            Some(mutation) => mutation.for_method(method),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let started = std::time::Instant::now();
        let mut delay = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            let mut request = tonic::Request::new(message.clone());
            self.decorate(request.metadata_mut(), &key, attempt, delay);
            self.stats.calls.fetch_add(1, Ordering::Relaxed);
            let left = CALL_DEADLINE.saturating_sub(started.elapsed());
            let Ok(result) = tokio::time::timeout(left, send(self.client.clone(), request)).await
            else {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    method,
                    attempt,
                    "upstream call: no answer before the deadline"
                );
                // The request may have reached the server: a change may
                // have been made.
                let error = UpstreamError::Unreachable {
                    url: self.server_url.clone(),
                    cause: format!("no answer within {} s", CALL_DEADLINE.as_secs()),
                    maybe_applied: mutation.is_some(),
                };
                return Err(self.failed(error));
            };
            match result {
                Ok(response) => return Ok(response.into_inner()),
                Err(status) => {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(method, attempt, code = ?status.code(), message = status.message(), "upstream call failed");
                    // A server that is not gRPC will not become one on a
                    // retry (a proxy's 502/503/504 may: those are retried).
                    let hopeless =
                        not_grpc(&status).is_some() && status.code() != Code::Unavailable;
                    if is_transient(status.code())
                        && !hopeless
                        && attempt < MAX_RETRIES
                        && started.elapsed() + delay < RETRY_BUDGET
                    {
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                        delay *= 2;
                        continue;
                    }
                    let mut error = self.map_status(&status);
                    // A change whose attempts all failed in transit may still
                    // have been made by one of them: say so.
                    if let UpstreamError::Status { maybe_applied, .. } = &mut error {
                        *maybe_applied =
                            mutation.is_some() && attempt > 0 && is_transient(status.code());
                    }
                    return Err(self.failed(error));
                }
            }
        }
    }

    /// Records a call's final error for `mws daemon status`.
    fn failed(&self, error: UpstreamError) -> UpstreamError {
        *self
            .stats
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
        error
    }

    fn map_status(&self, status: &Status) -> UpstreamError {
        if let Some(why) = not_grpc(status) {
            return UpstreamError::Unreachable {
                url: self.server_url.clone(),
                cause: format!("{}; {CHECK_URL}", why.replace('\n', " ")),
                maybe_applied: false,
            };
        }
        if is_transport_failure(status) {
            use std::error::Error;
            let mut cause = status
                .source()
                .map(root_cause)
                .unwrap_or_else(|| status.message().to_string())
                .replace('\n', " ");
            if not_tls(&cause) {
                cause = format!("it does not speak TLS ({cause}); {CHECK_URL}");
            }
            return UpstreamError::Unreachable {
                url: self.server_url.clone(),
                cause,
                maybe_applied: false,
            };
        }
        let message = status.message().trim();
        let message = if message.is_empty() {
            format!("{:?}", status.code())
        } else {
            message.replace('\n', " ")
        };
        UpstreamError::Status {
            code: status.code(),
            message,
            maybe_applied: false,
        }
    }

    pub async fn workspace_name_lookup(
        &self,
    ) -> Result<proto::WorkspaceNameLookupResponse, UpstreamError> {
        self.call("WorkspaceNameLookup", (), None, |mut c, r| async move {
            c.workspace_name_lookup(r).await
        })
        .await
    }

    pub async fn members_list(&self) -> Result<proto::WorkspaceMembersListResponse, UpstreamError> {
        self.call("WorkspaceMembersList", (), None, |mut c, r| async move {
            c.workspace_members_list(r).await
        })
        .await
    }

    pub async fn token_list(&self) -> Result<proto::WebhookTokenListResponse, UpstreamError> {
        self.call("WebhookTokenList", (), None, |mut c, r| async move {
            c.webhook_token_list(r).await
        })
        .await
    }

    pub async fn token_list_for_environment(
        &self,
        environment_name: &str,
    ) -> Result<proto::WebhookTokenListResponse, UpstreamError> {
        let request = proto::WebhookTokenListForEnvironmentRequest {
            environment_name: environment_name.to_string(),
        };
        self.call(
            "WebhookTokenListForEnvironment",
            request,
            None,
            |mut c, r| async move { c.webhook_token_list_for_environment(r).await },
        )
        .await
    }

    pub async fn token_create(
        &self,
        name: &str,
        scoped: bool,
        mutation: Option<&MutationKey>,
    ) -> Result<proto::TokenCreateResponse, UpstreamError> {
        let request = proto::WebhookTokenCreateRequest {
            scoped,
            name: name.to_string(),
        };
        self.call(
            "WebhookTokenCreate",
            request,
            mutation,
            |mut c, r| async move { c.webhook_token_create(r).await },
        )
        .await
    }

    pub async fn token_update(
        &self,
        token_id: &str,
        name: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<proto::WebhookToken, UpstreamError> {
        let request = proto::WebhookTokenUpdateRequest {
            token_id: token_id.to_string(),
            name: name.to_string(),
        };
        self.call(
            "WebhookTokenUpdate",
            request,
            mutation,
            |mut c, r| async move { c.webhook_token_update(r).await },
        )
        .await
    }

    pub async fn token_delete(
        &self,
        token_id: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<(), UpstreamError> {
        let request = proto::TokenDeleteRequest {
            token_id: token_id.to_string(),
        };
        self.call(
            "WebhookTokenDelete",
            request,
            mutation,
            |mut c, r| async move { c.webhook_token_delete(r).await },
        )
        .await
    }

    /// Looks an environment up by name (never creates it).
    pub async fn environment_lookup(&self, name: &str) -> Result<String, UpstreamError> {
        let request = proto::EnvironmentGetOrCreateRequest {
            deployment_name: name.to_string(),
            object_creation_type: proto::ObjectCreationType::Unspecified as i32,
        };
        let response = self
            .call(
                "EnvironmentGetOrCreate",
                request,
                None,
                |mut c, r| async move { c.environment_get_or_create(r).await },
            )
            .await?;
        Ok(response.environment_id)
    }

    pub async fn token_environment_add(
        &self,
        token_id: &str,
        environment_id: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<(), UpstreamError> {
        let request = proto::WebhookTokenEnvironmentAddRequest {
            token_id: token_id.to_string(),
            environment_id: environment_id.to_string(),
        };
        self.call(
            "WebhookTokenEnvironmentAdd",
            request,
            mutation,
            |mut c, r| async move { c.webhook_token_environment_add(r).await },
        )
        .await
    }

    pub async fn token_environment_remove(
        &self,
        token_id: &str,
        environment_id: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<(), UpstreamError> {
        let request = proto::WebhookTokenEnvironmentRemoveRequest {
            token_id: token_id.to_string(),
            environment_id: environment_id.to_string(),
        };
        self.call(
            "WebhookTokenEnvironmentRemove",
            request,
            mutation,
            |mut c, r| async move { c.webhook_token_environment_remove(r).await },
        )
        .await
    }
}

impl Upstream {
    /// The environments a proxy token is allowed in.
    pub async fn token_environment_list(
        &self,
        token_id: &str,
    ) -> Result<Vec<String>, UpstreamError> {
        let request = proto::WebhookTokenEnvironmentListRequest {
            token_id: token_id.to_string(),
        };
        let response = self
            .call(
                "WebhookTokenEnvironmentList",
                request,
                None,
                |mut c, r| async move { c.webhook_token_environment_list(r).await },
            )
            .await?;
        Ok(response.environment_ids)
    }
}

/// The rest of the `modal workspace` group: settings, service users,
/// member tokens, and the caller's own credential.
impl Upstream {
    pub async fn workspace_settings(
        &self,
    ) -> Result<proto::WorkspaceSettingsResponse, UpstreamError> {
        self.call("WorkspaceSettings", (), None, |mut c, r| async move {
            c.workspace_settings(r).await
        })
        .await
    }

    pub async fn set_default_environment(
        &self,
        name: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<(), UpstreamError> {
        let request = proto::WorkspaceSetDefaultEnvironmentRequest {
            environment_name: name.to_string(),
        };
        self.call(
            "WorkspaceSetDefaultEnvironment",
            request,
            mutation,
            |mut c, r| async move { c.workspace_set_default_environment(r).await },
        )
        .await
    }

    pub async fn set_image_builder_version(
        &self,
        version: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<(), UpstreamError> {
        let request = proto::WorkspaceSetImageBuilderVersionRequest {
            new_image_builder_version: version.to_string(),
        };
        self.call(
            "WorkspaceSetImageBuilderVersion",
            request,
            mutation,
            |mut c, r| async move { c.workspace_set_image_builder_version(r).await },
        )
        .await
        .map(|_| ())
    }

    pub async fn service_user_list(&self) -> Result<proto::ServiceUserListResponse, UpstreamError> {
        self.call("ServiceUserList", (), None, |mut c, r| async move {
            c.service_user_list(r).await
        })
        .await
    }

    pub async fn service_user_info(
        &self,
        name: &str,
    ) -> Result<proto::ServiceUserInfoResponse, UpstreamError> {
        let request = proto::ServiceUserInfoRequest {
            service_user_name: name.to_string(),
        };
        self.call("ServiceUserInfo", request, None, |mut c, r| async move {
            c.service_user_info(r).await
        })
        .await
    }

    pub async fn service_user_create(
        &self,
        name: &str,
        expires_in_secs: u32,
        mutation: Option<&MutationKey>,
    ) -> Result<proto::ServiceUserCreateResponse, UpstreamError> {
        let request = proto::ServiceUserCreateRequest {
            name: name.to_string(),
            expires_in_seconds: expires_in_secs,
            ..Default::default()
        };
        self.call(
            "ServiceUserCreate",
            request,
            mutation,
            |mut c, r| async move { c.service_user_create(r).await },
        )
        .await
    }

    pub async fn service_user_delete(
        &self,
        name: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<(), UpstreamError> {
        let request = proto::ServiceUserDeleteRequest {
            service_user_name: name.to_string(),
            ..Default::default()
        };
        self.call(
            "ServiceUserDelete",
            request,
            mutation,
            |mut c, r| async move { c.service_user_delete(r).await },
        )
        .await
    }

    pub async fn environment_role_set(
        &self,
        service_user_name: &str,
        environment_id: &str,
        role: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<(), UpstreamError> {
        let request = proto::EnvironmentRoleSetRequest {
            service_user_name: service_user_name.to_string(),
            environment_id: environment_id.to_string(),
            role_str: role.to_string(),
            ..Default::default()
        };
        self.call(
            "EnvironmentRoleSet",
            request,
            mutation,
            |mut c, r| async move { c.environment_role_set(r).await },
        )
        .await
    }

    pub async fn member_token_list(&self) -> Result<proto::TokensListResponse, UpstreamError> {
        self.call("TokensList", (), None, |mut c, r| async move {
            c.tokens_list(r).await
        })
        .await
    }

    pub async fn member_token_delete(
        &self,
        token_id: &str,
        mutation: Option<&MutationKey>,
    ) -> Result<(), UpstreamError> {
        let request = proto::TokenDeleteRequest {
            token_id: token_id.to_string(),
        };
        self.call("TokenDelete", request, mutation, |mut c, r| async move {
            c.token_delete(r).await
        })
        .await
    }

    /// Disables (`enable` false) or enables member tokens.
    pub async fn member_tokens_set_enabled(
        &self,
        token_ids: &[String],
        enable: bool,
        mutation: Option<&MutationKey>,
    ) -> Result<(), UpstreamError> {
        if enable {
            let request = proto::TokenEnableRequest {
                token_ids: token_ids.to_vec(),
            };
            self.call("TokenEnable", request, mutation, |mut c, r| async move {
                c.token_enable(r).await
            })
            .await
        } else {
            let request = proto::TokenDisableRequest {
                token_ids: token_ids.to_vec(),
            };
            self.call("TokenDisable", request, mutation, |mut c, r| async move {
                c.token_disable(r).await
            })
            .await
        }
    }

    pub async fn token_info(&self) -> Result<proto::TokenInfoGetResponse, UpstreamError> {
        self.call(
            "TokenInfoGet",
            proto::TokenInfoGetRequest {},
            None,
            |mut c, r| async move { c.token_info_get(r).await },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_statuses_match_the_official_client() {
        for code in [
            Code::Unavailable,
            Code::Internal,
            Code::Unknown,
            Code::Cancelled,
            Code::DeadlineExceeded,
        ] {
            assert!(is_transient(code), "{code:?}");
        }
        for code in [
            Code::NotFound,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::InvalidArgument,
            Code::ResourceExhausted,
        ] {
            assert!(!is_transient(code), "{code:?}");
        }
    }

    #[tokio::test]
    async fn unreachable_server_is_reported_with_its_url() {
        // Port 1 on loopback: nothing listens, the connection is refused.
        let identity = Identity {
            server_url: "http://127.0.0.1:1".into(),
            token_id: "ak-x".into(),
            token_secret: Secret::new("as-x".into()),
            profile: None,
        };
        let upstream = Upstream::new(&identity, &UpstreamSettings::default()).unwrap();
        let err = upstream.token_list().await.unwrap_err();
        assert!(matches!(&err, UpstreamError::Unreachable { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("http://127.0.0.1:1"), "{message}");
        assert!(!message.contains("as-x"));
        // One first attempt plus the retries.
        assert_eq!(upstream.stats.calls.load(Ordering::Relaxed), 4);
    }
}
