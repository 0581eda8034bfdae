//! Modal's control-plane API as mws speaks it.
//!
//! The `.proto` in `proto/` is our own subset, written from the wire facts
//! (service `modal.client.ModalClient`, message field numbers). This crate only
//! holds generated types plus the few constants both sides of the wire must
//! agree on (metadata header names, the client version we emulate, the
//! user-facing names of enum values). Business logic lives in the daemon and
//! the emulator.

#![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]

/// Generated messages, client and server for package `modal.client`.
pub mod proto {
    tonic::include_proto!("modal.client");
}

/// The well-known types the generated code uses (`prost_types::Timestamp`),
/// re-exported so users of this crate name the same version.
pub use prost_types;
pub use proto::modal_client_client::ModalClientClient;
pub use proto::modal_client_server::{ModalClient, ModalClientServer};

/// gRPC metadata keys Modal's official client sends on every call.
pub mod headers {
    pub const TOKEN_ID: &str = "x-modal-token-id";
    pub const TOKEN_SECRET: &str = "x-modal-token-secret";
    pub const CLIENT_TYPE: &str = "x-modal-client-type";
    pub const CLIENT_VERSION: &str = "x-modal-client-version";
    pub const PLATFORM: &str = "x-modal-platform";
    pub const NODE: &str = "x-modal-node";
    pub const PYTHON_VERSION: &str = "x-modal-python-version";
    pub const TIMESTAMP: &str = "x-modal-timestamp";
    pub const IDEMPOTENCY_KEY: &str = "x-idempotency-key";
    pub const RETRY_ATTEMPT: &str = "x-retry-attempt";
    pub const RETRY_DELAY: &str = "x-retry-delay";
}

/// `x-modal-client-type` value for an ordinary client (CLIENT_TYPE_CLIENT).
pub const CLIENT_TYPE_CLIENT: &str = "1";

/// The official Modal client version whose protocol this crate implements; the
/// default value of `x-modal-client-version`.
pub const MODAL_CLIENT_VERSION: &str = "1.6.4";

/// Prefixes of the four kinds of token string.
pub mod prefixes {
    pub const API_TOKEN_ID: &str = "ak-";
    pub const API_TOKEN_SECRET: &str = "as-";
    pub const PROXY_TOKEN_ID: &str = "wk-";
    pub const PROXY_TOKEN_SECRET: &str = "ws-";
}

/// The name Modal shows users for a member role (`member`, `manager`, `owner`).
pub fn member_role_name(role: proto::MemberRole) -> &'static str {
    match role {
        proto::MemberRole::User => "member",
        proto::MemberRole::Manager => "manager",
        proto::MemberRole::Owner => "owner",
        proto::MemberRole::Unspecified => "unspecified",
    }
}

/// Parses a user-facing role name back into a [`proto::MemberRole`].
pub fn member_role_from_name(name: &str) -> Option<proto::MemberRole> {
    match name {
        "member" | "user" => Some(proto::MemberRole::User),
        "manager" => Some(proto::MemberRole::Manager),
        "owner" => Some(proto::MemberRole::Owner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for role in [
            proto::MemberRole::User,
            proto::MemberRole::Manager,
            proto::MemberRole::Owner,
        ] {
            assert_eq!(member_role_from_name(member_role_name(role)), Some(role));
        }
        assert_eq!(member_role_from_name("admin"), None);
    }

    #[test]
    fn token_delete_request_uses_field_two() {
        use prost::Message;
        let bytes = proto::TokenDeleteRequest {
            token_id: "wk-x".into(),
        }
        .encode_to_vec();
        // Field 2, wire type 2 (length-delimited) => tag byte 0x12.
        assert_eq!(bytes[0], 0x12);
    }

    #[test]
    fn added_messages_use_modal_field_numbers() {
        use prost::Message;
        // EnvironmentRoleSetRequest: environment_id=1, role_str=5, service_user_name=6.
        let bytes = proto::EnvironmentRoleSetRequest {
            environment_id: "e".into(),
            role_str: "r".into(),
            service_user_name: "s".into(),
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(bytes, [0x0a, 1, b'e', 0x2a, 1, b'r', 0x32, 1, b's']);
        // TokenInfoGetResponse: service_user_identity=5, token_name=8.
        let bytes = proto::TokenInfoGetResponse {
            service_user_identity: Some(proto::ServiceUserIdentity {
                service_user_name: "n".into(),
                ..Default::default()
            }),
            token_name: "t".into(),
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(bytes, [0x2a, 3, 0x12, 1, b'n', 0x42, 1, b't']);
    }
}
