//! The daemon's one error type.
//!
//! Every module keeps its own `thiserror` enum (upstream, credentials,
//! keyring, config files, the local emulator, plugins, webhooks); [`Error`] gathers
//! them with their sources, and [`Error::reply`] is the only place where
//! one becomes the wire's [`ErrorReply`] — its kind (which the CLI turns
//! into wording and an exit code) and its one-line message. The emulator's
//! `store::Error` + `status_of` is the same pattern on the server side.

use crate::config::ConfigError;
use crate::local::LocalError;
use crate::modal_config::EditError;
use crate::plugins::PluginError;
use crate::secrets::KeyringError;
use crate::upstream::UpstreamError;
use crate::webhooks::WebhookError;
use mws_ipc::{ErrorKind, ErrorReply};

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Resolving credentials from the environment and the Modal config file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// Editing the Modal config file.
    #[error(transparent)]
    ModalConfig(#[from] EditError),
    #[error(transparent)]
    Local(#[from] LocalError),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// A request the CLI should not have sent (a bad argument it missed).
    #[error("{0}")]
    BadRequest(String),
    /// Credentials that cannot be used (e.g. not an API token id).
    #[error("{0}")]
    Credentials(String),
    /// The daemon's own files (e.g. a rotation plan) could not be written.
    #[error("{0}")]
    State(String),
}

impl Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Upstream(UpstreamError::InvalidUrl { .. }) => ErrorKind::Config,
            Error::Upstream(UpstreamError::Unreachable { .. }) => ErrorKind::Unreachable,
            Error::Upstream(UpstreamError::Status { .. } | UpstreamError::BadAnswer(_)) => {
                ErrorKind::Server
            }
            Error::Config(e) if e.is_credentials() => ErrorKind::Credentials,
            Error::Config(_) | Error::ModalConfig(_) => ErrorKind::Config,
            Error::Keyring(_) | Error::Credentials(_) => ErrorKind::Credentials,
            Error::Local(_) | Error::State(_) => ErrorKind::Internal,
            Error::Plugin(e) if e.is_bad_request() => ErrorKind::BadRequest,
            Error::Plugin(_) => ErrorKind::Internal,
            Error::BadRequest(_) => ErrorKind::BadRequest,
            Error::Webhook(WebhookError::UnknownEndpoint { .. } | WebhookError::BadSecret(_)) => {
                ErrorKind::BadRequest
            }
            Error::Webhook(WebhookError::Keyring(_)) => ErrorKind::Credentials,
            Error::Webhook(_) => ErrorKind::Internal,
        }
    }

    /// The error as the client receives it: the one conversion.
    pub(crate) fn reply(&self) -> ErrorReply {
        ErrorReply {
            kind: self.kind(),
            message: self.to_string().replace('\n', " "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_source() {
        let unreachable = Error::from(UpstreamError::Unreachable {
            url: "https://x".into(),
            cause: "refused".into(),
            maybe_applied: false,
        });
        let reply = unreachable.reply();
        assert_eq!(reply.kind, ErrorKind::Unreachable);
        assert_eq!(
            reply.message,
            "Could not connect to the Modal server at https://x: refused"
        );
        let server = Error::from(UpstreamError::Status {
            code: tonic::Code::NotFound,
            message: "No such token".into(),
            maybe_applied: false,
        });
        assert_eq!(server.reply().kind, ErrorKind::Server);
        assert_eq!(server.reply().message, "No such token");
        assert_eq!(
            Error::BadRequest("x\ny".into()).reply().message,
            "x y",
            "messages are one line"
        );
    }
}
