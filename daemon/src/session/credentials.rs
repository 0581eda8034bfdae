//! What an identity knows of its workspace's credentials, for the plugins
//! that judge them (expiry alerts).
//!
//! Every fetch of a credential list (proxy tokens, service users, member
//! tokens, the identity's own token info) records its answer here and
//! publishes the whole record as [`DaemonEvent::CredentialsRefreshed`]. The
//! record keeps the last answer of each kind, so refreshing one kind never
//! makes another look empty to a plugin (which would clear its alerts and
//! announce them again later). A kind the identity may not read
//! (`PERMISSION_DENIED`, e.g. service users for a plain member) stays `None`
//! and is not asked again by the poller.
//!
//! Nothing is published until the record is complete — every kind known
//! or denied, and the token info asked — because a judge given a partial
//! record (say, just after a restart, before the service users were read)
//! would retire the alerts of the missing kinds and announce them again
//! once they arrive.

use super::{lock, Known, Session, UpstreamError};
use crate::events::{Credentials, DaemonEvent};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tonic::Code;

impl Session {
    /// Records a fetched list and publishes the whole record once it is
    /// complete.
    pub(super) fn record(&self, known: Known) {
        let snapshot = {
            let mut record = lock(&self.credentials);
            match known {
                Known::ProxyTokens(list) => record.proxy_tokens = Some(list),
                Known::ServiceUsers(list) => record.service_users = Some(list),
                Known::MemberTokens(list) => record.member_tokens = Some(list),
                Known::Credential(info) => record.credential = Some(info),
            }
            record.workspace = self.known_workspace_name().unwrap_or_default();
            if !self.is_complete(&record) {
                return;
            }
            Arc::new(record.clone())
        };
        self.bus
            .publish(DaemonEvent::CredentialsRefreshed(snapshot));
    }

    /// True when every kind is known or may not be read, and the token
    /// info was asked for (the server may not say).
    fn is_complete(&self, record: &Credentials) -> bool {
        record.proxy_tokens.is_some()
            && (record.service_users.is_some() || self.service_users_denied.load(Ordering::Relaxed))
            && (record.member_tokens.is_some() || self.member_tokens_denied.load(Ordering::Relaxed))
            && self.token_info.initialized()
    }

    /// The record, if complete enough to judge (see the module doc).
    pub(crate) fn complete_credentials(&self) -> Option<Arc<Credentials>> {
        let record = self.known_credentials();
        self.is_complete(&record).then_some(record)
    }

    /// Names for shell completion, from the last answers only (see
    /// `handlers::complete`).
    pub(crate) fn known_names(&self, kind: mws_ipc::CompletionKind) -> Vec<String> {
        use mws_ipc::CompletionKind;
        let record = lock(&self.credentials);
        let mut names: Vec<String> = match kind {
            CompletionKind::ProxyTokens => record
                .proxy_tokens
                .iter()
                .flatten()
                .map(|t| t.token_id.clone())
                .collect(),
            CompletionKind::ServiceUsers => record
                .service_users
                .iter()
                .flatten()
                .map(|u| u.name.clone())
                .collect(),
            CompletionKind::MemberTokens => record
                .member_tokens
                .iter()
                .flatten()
                .map(|t| t.token_id.clone())
                .collect(),
            CompletionKind::Environments => {
                drop(record);
                self.known_environments()
            }
            // Not an identity's: `handlers::complete` answers from the config.
            CompletionKind::WebhookEndpoints => Vec::new(),
        };
        names.sort();
        names.dedup();
        names
    }

    /// The record as it is, complete or not.
    fn known_credentials(&self) -> Arc<Credentials> {
        let mut record = lock(&self.credentials).clone();
        record.workspace = self.known_workspace_name().unwrap_or_default();
        Arc::new(record)
    }

    /// Notes that the identity may not read a kind (so polls skip it), and
    /// passes any other error on.
    fn denied(&self, kind: &'static str, error: UpstreamError) -> Option<UpstreamError> {
        if error.code() == Some(Code::PermissionDenied) {
            tracing::debug!(kind, "not readable by this identity; not polled");
            match kind {
                "service users" => self.service_users_denied.store(true, Ordering::Relaxed),
                _ => self.member_tokens_denied.store(true, Ordering::Relaxed),
            }
            None
        } else {
            Some(error)
        }
    }

    /// Brings every credential list up to `max_age` (each from the cache
    /// when young enough) and returns the record when it is complete
    /// (`None` when a list could not be read this time). Only the proxy
    /// tokens are required; a list this identity may not read is left out.
    pub(crate) async fn credentials(
        &self,
        max_age: Duration,
    ) -> Result<Option<Arc<Credentials>>, UpstreamError> {
        self.begin().await?;
        self.tokens(max_age).await?;
        if let Err(e) = self.service_users(max_age).await {
            if let Some(e) = self.denied("service users", e) {
                tracing::debug!("service users unavailable for alerts: {e}");
            }
        }
        if let Err(e) = self.member_tokens(max_age).await {
            if let Some(e) = self.denied("member tokens", e) {
                tracing::debug!("member tokens unavailable for alerts: {e}");
            }
        }
        Ok(self.complete_credentials())
    }

    /// The poller's share: the credential lists a plain listing does not
    /// refresh, unless the identity may not read them.
    pub(super) async fn poll_credentials(&self) {
        if !self.service_users_denied.load(Ordering::Relaxed) {
            if let Err(e) = self.service_users(Duration::ZERO).await {
                if let Some(e) = self.denied("service users", e) {
                    tracing::debug!("service users poll failed: {e}");
                }
            }
        }
        if !self.member_tokens_denied.load(Ordering::Relaxed) {
            if let Err(e) = self.member_tokens(Duration::ZERO).await {
                if let Some(e) = self.denied("member tokens", e) {
                    tracing::debug!("member tokens poll failed: {e}");
                }
            }
        }
    }
}
