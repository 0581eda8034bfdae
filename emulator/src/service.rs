//! The gRPC service: Modal's `modal.client.ModalClient` methods on top of the store.
//!
//! Every handler goes through [`Emulator::handle`], which owns the parts the
//! methods share, so that each method body is only its own semantics:
//! - authentication by `x-modal-token-id` / `x-modal-token-secret` (API tokens
//!   in the store; the same UNAUTHENTICATED answer for every failure);
//! - idempotency for mutating methods: the first successful answer to an
//!   `x-idempotency-key` from a credential is stored in the same `BEGIN
//!   IMMEDIATE` transaction as the mutation, and a repeat returns those bytes
//!   and changes nothing;
//! - running SQLite on the blocking pool, never on the async runtime;
//! - mapping store errors to gRPC codes with messages a user can act on;
//! - one call-log line per call (see [`crate::calllog`]).
//!
//! [`Dispatch`] sits in front of the generated server and answers methods the
//! emulator does not implement with UNIMPLEMENTED naming the method (the
//! generated code would answer with an empty message).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use mws_modal_api::headers;
use mws_modal_api::prost_types;
use mws_modal_api::proto::{self, ObjectCreationType};
use mws_modal_api::{ModalClient, ModalClientServer};
use prost::Message;
use rusqlite::{Connection, TransactionBehavior};
use tonic::body::Body;
use tonic::codegen::http;
use tonic::codegen::Service;
use tonic::{Code, Request, Response, Status};

use crate::calllog::{CallLog, CallRecord};
use crate::faults::{self, Decision, Fault, Faults};
use crate::ids;
use crate::store::{self, Caller, Error, Store};

/// gRPC service name, as in `/modal.client.ModalClient/<Method>`.
pub const SERVICE_NAME: &str = "modal.client.ModalClient";

/// The methods this emulator implements; everything else is UNIMPLEMENTED.
pub const IMPLEMENTED_METHODS: &[&str] = &[
    "ClientHello",
    "WorkspaceNameLookup",
    "WorkspaceMembersList",
    "WebhookTokenCreate",
    "WebhookTokenUpdate",
    "WebhookTokenDelete",
    "WebhookTokenList",
    "WebhookTokenListForEnvironment",
    "WebhookTokenEnvironmentAdd",
    "WebhookTokenEnvironmentRemove",
    "WebhookTokenEnvironmentList",
    "EnvironmentGetOrCreate",
    "EnvironmentList",
    "EnvironmentCreate",
    "WorkspaceSettings",
    "WorkspaceSetDefaultEnvironment",
    "WorkspaceSetImageBuilderVersion",
    "ServiceUserList",
    "ServiceUserCreate",
    "ServiceUserDelete",
    "ServiceUserInfo",
    "EnvironmentRoleSet",
    "TokensList",
    "TokenDelete",
    "TokenDisable",
    "TokenEnable",
    "TokenInfoGet",
];

/// Whether a method changes state (and so takes part in idempotency).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

/// Credentials and keys read from a call's metadata.
struct CallMeta {
    token_id: Option<String>,
    token_secret: Option<String>,
    idempotency_key: Option<String>,
}

impl CallMeta {
    fn from_metadata(md: &tonic::metadata::MetadataMap) -> CallMeta {
        let get = |k: &str| md.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        CallMeta {
            token_id: get(headers::TOKEN_ID),
            token_secret: get(headers::TOKEN_SECRET),
            idempotency_key: get(headers::IDEMPOTENCY_KEY).filter(|k| !k.is_empty()),
        }
    }

    /// The presented token id if it is safe to log (an `ak-` id, not a secret
    /// pasted into the wrong header).
    fn loggable_token_id(&self) -> Option<String> {
        self.token_id
            .as_deref()
            .filter(|t| ids::looks_like("ak-", t))
            .map(str::to_string)
    }

    fn loggable_key(&self) -> Option<String> {
        self.idempotency_key
            .as_deref()
            .filter(|k| k.len() <= store::MAX_IDEMPOTENCY_KEY_LEN)
            .map(str::to_string)
    }
}

/// The `modal.client.ModalClient` implementation.
#[derive(Clone)]
pub struct Emulator {
    store: Store,
    log: Option<Arc<CallLog>>,
}

/// Maps a store error to the gRPC status a Modal client expects.
pub fn status_of(e: &Error) -> Status {
    match e {
        Error::NotFound(m) => Status::not_found(m.clone()),
        Error::InvalidArgument(m) => Status::invalid_argument(m.clone()),
        Error::AlreadyExists(m) => Status::already_exists(m.clone()),
        Error::FailedPrecondition(m) => Status::failed_precondition(m.clone()),
        Error::PermissionDenied(m) => Status::permission_denied(m.clone()),
        Error::Unauthenticated => Status::unauthenticated(e.to_string()),
        other => {
            tracing::error!(error = %other, "store error");
            // SQLITE_BUSY after the busy timeout: worth a retry.
            if let Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) = other {
                if f.code == rusqlite::ErrorCode::DatabaseBusy
                    || f.code == rusqlite::ErrorCode::DatabaseLocked
                {
                    return Status::unavailable("The emulator's store is busy; try again.");
                }
            }
            Status::internal("The emulator's store failed; see its log.")
        }
    }
}

/// Upper-case gRPC code name, as written in the call log.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

fn unimplemented_status(path: &str) -> Status {
    let name = path.trim_start_matches('/');
    let name = name
        .strip_prefix(SERVICE_NAME)
        .and_then(|s| s.strip_prefix('/'))
        .unwrap_or(name);
    Status::unimplemented(format!("Method {name} is not implemented by mws-emulator."))
}

/// The outcome of the blocking part of a call.
type Outcome<Resp> = Result<(Resp, bool), Error>;

impl Emulator {
    pub fn new(store: Store, log: Option<Arc<CallLog>>) -> Emulator {
        Emulator { store, log }
    }

    /// Authenticates, runs `f` on the blocking pool (in a write transaction
    /// with idempotency for [`Kind::Write`]), logs the call and maps errors.
    async fn handle<Req, Resp, F>(
        &self,
        method: &'static str,
        kind: Kind,
        request: Request<Req>,
        f: F,
    ) -> Result<Response<Resp>, Status>
    where
        Req: Send + 'static,
        Resp: Message + Default + Send + 'static,
        F: FnOnce(&Connection, &Caller, Req) -> Result<Resp, Error> + Send + 'static,
    {
        let started = Instant::now();
        let meta = CallMeta::from_metadata(request.metadata());
        let fault = request.extensions().get::<Fault>().map(|f| f.name());
        let req = request.into_inner();
        let store = self.store.clone();
        let log = self.log.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let outcome = execute(&store, method, kind, &meta, req, f);
            let (code, replayed) = match &outcome {
                Ok((_, replayed)) => (Code::Ok, *replayed),
                Err(e) => (status_of(e).code(), false),
            };
            if let Some(log) = &log {
                log.record(&CallRecord {
                    method,
                    token_id: meta.loggable_token_id(),
                    idempotency_key: meta.loggable_key(),
                    code: code_name(code),
                    replayed,
                    elapsed_us: started.elapsed().as_micros() as u64,
                    fault,
                });
            }
            outcome
        })
        .await;
        match joined {
            Ok(Ok((resp, _))) => Ok(Response::new(resp)),
            Ok(Err(e)) => Err(status_of(&e)),
            Err(join) => {
                tracing::error!(method, error = %join, "handler failed");
                Err(Status::internal(format!(
                    "{method} failed inside mws-emulator."
                )))
            }
        }
    }
}

fn execute<Req, Resp, F>(
    store: &Store,
    method: &'static str,
    kind: Kind,
    meta: &CallMeta,
    req: Req,
    f: F,
) -> Outcome<Resp>
where
    Resp: Message + Default,
    F: FnOnce(&Connection, &Caller, Req) -> Result<Resp, Error>,
{
    let mut conn = store.conn()?;
    let at = store::now();
    let caller = store::authenticate(
        &conn,
        meta.token_id.as_deref(),
        meta.token_secret.as_deref(),
        at,
    )?;
    // The credential's `last_used_at`: a write records it in its own
    // transaction; a read (or a write that fails) in a short one of its own,
    // unless the recorded use is under a second old (in the store, or by
    // another call of this process: concurrent reads make one write).
    let record_use_apart = |conn: &mut Connection| -> Result<(), Error> {
        if at - caller.last_used_at < store::LAST_USED_GRANULARITY_SECS
            || !store.claim_use_record(&caller.token_id, at)
        {
            return Ok(());
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        store::record_use(&tx, &caller, at)?;
        tx.commit()?;
        Ok(())
    };
    match kind {
        Kind::Read => {
            record_use_apart(&mut conn)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let resp = f(&tx, &caller, req)?;
            tx.finish()?;
            Ok((resp, false))
        }
        Kind::Write => {
            let outcome = execute_write(&mut conn, method, meta, &caller, at, req, f);
            if outcome.is_err() {
                record_use_apart(&mut conn)?;
            }
            outcome
        }
    }
}

/// The write part of [`execute`]: idempotency record, mutation and the
/// credential's use in one `BEGIN IMMEDIATE` transaction.
fn execute_write<Req, Resp, F>(
    conn: &mut Connection,
    method: &'static str,
    meta: &CallMeta,
    caller: &Caller,
    at: f64,
    req: Req,
    f: F,
) -> Outcome<Resp>
where
    Resp: Message + Default,
    F: FnOnce(&Connection, &Caller, Req) -> Result<Resp, Error>,
{
    let key = meta.idempotency_key.as_deref();
    if let Some(k) = key {
        if k.len() > store::MAX_IDEMPOTENCY_KEY_LEN {
            return Err(Error::InvalidArgument(format!(
                "x-idempotency-key is too long (the limit is {} bytes).",
                store::MAX_IDEMPOTENCY_KEY_LEN
            )));
        }
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    store::record_use(&tx, caller, at)?;
    if let Some(k) = key {
        if let Some((first_method, bytes)) = store::idempotency_get(&tx, &caller.token_id, k)? {
            if first_method != method {
                return Err(Error::InvalidArgument(format!(
                    "Idempotency key {} was already used for {first_method}, not {method}.",
                    store::quote(k)
                )));
            }
            let resp = Resp::decode(bytes.as_slice())
                .map_err(|e| Error::BadData(format!("stored {method} answer: {e}")))?;
            // Keep the recorded use; nothing else changes.
            tx.commit()?;
            return Ok((resp, true));
        }
    }
    let resp = f(&tx, caller, req)?;
    if let Some(k) = key {
        store::idempotency_put(&tx, &caller.token_id, k, method, &resp.encode_to_vec())?;
    }
    tx.commit()?;
    Ok((resp, false))
}

#[tonic::async_trait]
impl ModalClient for Emulator {
    async fn client_hello(
        &self,
        request: Request<()>,
    ) -> Result<Response<proto::ClientHelloResponse>, Status> {
        self.handle("ClientHello", Kind::Read, request, |c, _, ()| {
            Ok(proto::ClientHelloResponse {
                warning: String::new(),
                image_builder_version: store::workspace(c)?.image_builder_version,
                server_warnings: vec![],
            })
        })
        .await
    }

    async fn workspace_name_lookup(
        &self,
        request: Request<()>,
    ) -> Result<Response<proto::WorkspaceNameLookupResponse>, Status> {
        self.handle("WorkspaceNameLookup", Kind::Read, request, |c, _, ()| {
            let ws = store::workspace(c)?;
            // Modal's `username` here is the workspace's own name (the
            // official client names profiles after it).
            Ok(proto::WorkspaceNameLookupResponse {
                workspace_name: ws.name.clone(),
                username: ws.name,
            })
        })
        .await
    }

    async fn workspace_members_list(
        &self,
        request: Request<()>,
    ) -> Result<Response<proto::WorkspaceMembersListResponse>, Status> {
        self.handle("WorkspaceMembersList", Kind::Read, request, |c, _, ()| {
            let members = store::list_members(c)?;
            Ok(proto::WorkspaceMembersListResponse {
                members: members.iter().map(store::Member::to_proto).collect(),
            })
        })
        .await
    }

    async fn webhook_token_create(
        &self,
        request: Request<proto::WebhookTokenCreateRequest>,
    ) -> Result<Response<proto::TokenCreateResponse>, Status> {
        self.handle(
            "WebhookTokenCreate",
            Kind::Write,
            request,
            |c, caller, req| {
                let (token, secret) = store::create_proxy_token(
                    c,
                    store::NewProxyToken {
                        created_by: caller.member_pk(),
                        name: &req.name,
                        scoped: req.scoped,
                        created_at: None,
                    },
                )?;
                Ok(proto::TokenCreateResponse {
                    token_id: token.token_id,
                    token_secret: secret,
                })
            },
        )
        .await
    }

    async fn webhook_token_update(
        &self,
        request: Request<proto::WebhookTokenUpdateRequest>,
    ) -> Result<Response<proto::WebhookToken>, Status> {
        self.handle("WebhookTokenUpdate", Kind::Write, request, |c, _, req| {
            store::rename_proxy_token(c, &req.token_id, &req.name)
        })
        .await
    }

    async fn webhook_token_delete(
        &self,
        request: Request<proto::TokenDeleteRequest>,
    ) -> Result<Response<()>, Status> {
        self.handle("WebhookTokenDelete", Kind::Write, request, |c, _, req| {
            store::delete_proxy_token(c, &req.token_id).map(|_| ())
        })
        .await
    }

    async fn webhook_token_list(
        &self,
        request: Request<()>,
    ) -> Result<Response<proto::WebhookTokenListResponse>, Status> {
        self.handle("WebhookTokenList", Kind::Read, request, |c, _, ()| {
            Ok(proto::WebhookTokenListResponse {
                tokens: store::list_proxy_tokens(c)?,
            })
        })
        .await
    }

    async fn webhook_token_list_for_environment(
        &self,
        request: Request<proto::WebhookTokenListForEnvironmentRequest>,
    ) -> Result<Response<proto::WebhookTokenListResponse>, Status> {
        self.handle(
            "WebhookTokenListForEnvironment",
            Kind::Read,
            request,
            |c, _, req| {
                Ok(proto::WebhookTokenListResponse {
                    tokens: store::list_proxy_tokens_for_env(c, &req.environment_name)?,
                })
            },
        )
        .await
    }

    async fn webhook_token_environment_add(
        &self,
        request: Request<proto::WebhookTokenEnvironmentAddRequest>,
    ) -> Result<Response<()>, Status> {
        self.handle(
            "WebhookTokenEnvironmentAdd",
            Kind::Write,
            request,
            |c, _, req| {
                // Token first: "unknown token" is the likelier mistake.
                store::proxy_token(c, &req.token_id)?;
                let env = store::env_by_id(c, &req.environment_id)?;
                store::allow_token(c, &req.token_id, &env).map(|_| ())
            },
        )
        .await
    }

    async fn webhook_token_environment_remove(
        &self,
        request: Request<proto::WebhookTokenEnvironmentRemoveRequest>,
    ) -> Result<Response<()>, Status> {
        self.handle(
            "WebhookTokenEnvironmentRemove",
            Kind::Write,
            request,
            |c, _, req| {
                store::proxy_token(c, &req.token_id)?;
                let env = store::env_by_id(c, &req.environment_id)?;
                store::revoke_token(c, &req.token_id, &env).map(|_| ())
            },
        )
        .await
    }

    async fn webhook_token_environment_list(
        &self,
        request: Request<proto::WebhookTokenEnvironmentListRequest>,
    ) -> Result<Response<proto::WebhookTokenEnvironmentListResponse>, Status> {
        self.handle(
            "WebhookTokenEnvironmentList",
            Kind::Read,
            request,
            |c, _, req| {
                Ok(proto::WebhookTokenEnvironmentListResponse {
                    environment_ids: store::token_environments(c, &req.token_id)?,
                })
            },
        )
        .await
    }

    async fn environment_get_or_create(
        &self,
        request: Request<proto::EnvironmentGetOrCreateRequest>,
    ) -> Result<Response<proto::EnvironmentGetOrCreateResponse>, Status> {
        let creation = ObjectCreationType::try_from(request.get_ref().object_creation_type)
            .unwrap_or(ObjectCreationType::Unspecified);
        // A plain lookup is a read; only a request to create writes (and so
        // is idempotent).
        let kind = match creation {
            ObjectCreationType::CreateIfMissing | ObjectCreationType::CreateFailIfExists => {
                Kind::Write
            }
            _ => Kind::Read,
        };
        self.handle("EnvironmentGetOrCreate", kind, request, move |c, _, req| {
            let name = req.deployment_name.as_str();
            match creation {
                ObjectCreationType::Unspecified => {
                    Ok(store::env_by_name(c, name)?.to_get_or_create())
                }
                ObjectCreationType::CreateIfMissing => match store::env_by_name(c, name) {
                    Ok(env) => Ok(env.to_get_or_create()),
                    Err(Error::NotFound(_)) => Ok(store::create_env(c, name)?.to_get_or_create()),
                    Err(e) => Err(e),
                },
                ObjectCreationType::CreateFailIfExists => {
                    Ok(store::create_env(c, name)?.to_get_or_create())
                }
                other => Err(Error::InvalidArgument(format!(
                    "Object creation type {} is not supported for environments.",
                    other.as_str_name()
                ))),
            }
        })
        .await
    }

    async fn environment_list(
        &self,
        request: Request<()>,
    ) -> Result<Response<proto::EnvironmentListResponse>, Status> {
        self.handle("EnvironmentList", Kind::Read, request, |c, _, ()| {
            Ok(proto::EnvironmentListResponse {
                items: store::list_envs(c)?
                    .iter()
                    .map(store::Environment::to_list_item)
                    .collect(),
            })
        })
        .await
    }

    async fn environment_create(
        &self,
        request: Request<proto::EnvironmentCreateRequest>,
    ) -> Result<Response<()>, Status> {
        self.handle("EnvironmentCreate", Kind::Write, request, |c, _, req| {
            store::create_env(c, &req.name).map(|_| ())
        })
        .await
    }

    async fn workspace_settings(
        &self,
        request: Request<()>,
    ) -> Result<Response<proto::WorkspaceSettingsResponse>, Status> {
        self.handle("WorkspaceSettings", Kind::Read, request, |c, caller, ()| {
            caller.require_manager("view workspace settings")?;
            store::workspace_settings(c)
        })
        .await
    }

    async fn workspace_set_default_environment(
        &self,
        request: Request<proto::WorkspaceSetDefaultEnvironmentRequest>,
    ) -> Result<Response<()>, Status> {
        self.handle(
            "WorkspaceSetDefaultEnvironment",
            Kind::Write,
            request,
            |c, caller, req| {
                caller.require_manager("change workspace settings")?;
                store::set_default_env(c, &req.environment_name).map(|_| ())
            },
        )
        .await
    }

    async fn workspace_set_image_builder_version(
        &self,
        request: Request<proto::WorkspaceSetImageBuilderVersionRequest>,
    ) -> Result<Response<proto::WorkspaceSetImageBuilderVersionResponse>, Status> {
        self.handle(
            "WorkspaceSetImageBuilderVersion",
            Kind::Write,
            request,
            |c, caller, req| {
                caller.require_manager("change workspace settings")?;
                store::set_image_builder_version(c, &req.new_image_builder_version)?;
                Ok(proto::WorkspaceSetImageBuilderVersionResponse {
                    image_builder_version: req.new_image_builder_version,
                })
            },
        )
        .await
    }

    async fn service_user_list(
        &self,
        request: Request<()>,
    ) -> Result<Response<proto::ServiceUserListResponse>, Status> {
        self.handle("ServiceUserList", Kind::Read, request, |c, caller, ()| {
            caller.require_manager("manage service users")?;
            Ok(proto::ServiceUserListResponse {
                service_users: store::list_service_users(c)?
                    .iter()
                    .map(store::ServiceUser::to_proto)
                    .collect(),
            })
        })
        .await
    }

    async fn service_user_create(
        &self,
        request: Request<proto::ServiceUserCreateRequest>,
    ) -> Result<Response<proto::ServiceUserCreateResponse>, Status> {
        self.handle(
            "ServiceUserCreate",
            Kind::Write,
            request,
            |c, caller, req| {
                caller.require_manager("manage service users")?;
                // proto3: 0 is "not set", i.e. never expires.
                let expires_at = (req.expires_in_seconds > 0)
                    .then(|| store::now() + f64::from(req.expires_in_seconds));
                let (su, secret) = store::create_service_user(
                    c,
                    store::NewServiceUser {
                        name: &req.name,
                        scoped: req.scoped,
                        created_by: caller.member_pk(),
                        created_at: None,
                        expires_at,
                    },
                )?;
                Ok(proto::ServiceUserCreateResponse {
                    token_id: su.token_id,
                    token_secret: secret,
                    service_user_id: su.service_user_id,
                    expires_at: su.expires_at.map(timestamp),
                })
            },
        )
        .await
    }

    async fn service_user_delete(
        &self,
        request: Request<proto::ServiceUserDeleteRequest>,
    ) -> Result<Response<()>, Status> {
        self.handle(
            "ServiceUserDelete",
            Kind::Write,
            request,
            |c, caller, req| {
                caller.require_manager("manage service users")?;
                store::delete_service_user(c, &req.service_user_id, &req.service_user_name)
                    .map(|_| ())
            },
        )
        .await
    }

    async fn service_user_info(
        &self,
        request: Request<proto::ServiceUserInfoRequest>,
    ) -> Result<Response<proto::ServiceUserInfoResponse>, Status> {
        self.handle("ServiceUserInfo", Kind::Read, request, |c, caller, req| {
            caller.require_manager("manage service users")?;
            Ok(proto::ServiceUserInfoResponse {
                service_user: Some(
                    store::service_user_by_name(c, &req.service_user_name)?.to_proto(),
                ),
            })
        })
        .await
    }

    async fn environment_role_set(
        &self,
        request: Request<proto::EnvironmentRoleSetRequest>,
    ) -> Result<Response<()>, Status> {
        self.handle(
            "EnvironmentRoleSet",
            Kind::Write,
            request,
            |c, caller, req| {
                caller.require_manager("set environment roles")?;
                if req.service_user_id.is_empty() && req.service_user_name.is_empty() {
                    return Err(Error::InvalidArgument(if req.user_id.is_empty() {
                        "Missing service user name or ID.".into()
                    } else {
                        "mws-emulator keeps environment roles for service users only; set service_user_name or service_user_id.".into()
                    }));
                }
                let role = if req.role_str.is_empty() {
                    proto::EnvironmentRole::try_from(req.role)
                        .ok()
                        .and_then(store::EnvRole::from_proto)
                        .ok_or_else(|| Error::InvalidArgument("Missing environment role.".into()))?
                } else {
                    store::EnvRole::parse(&req.role_str)?
                };
                let env = if req.environment_id.is_empty() && !req.environment_name.is_empty() {
                    store::env_by_name(c, &req.environment_name)?
                } else {
                    store::env_by_id(c, &req.environment_id)?
                };
                let su = store::service_user_by_id_or_name(
                    c,
                    &req.service_user_id,
                    &req.service_user_name,
                )?;
                store::set_service_user_role(c, &su, &env, role).map(|_| ())
            },
        )
        .await
    }

    async fn tokens_list(
        &self,
        request: Request<()>,
    ) -> Result<Response<proto::TokensListResponse>, Status> {
        self.handle("TokensList", Kind::Read, request, |c, caller, ()| {
            // Managers and owners see every member token; a member sees
            // their own; a service user has none.
            let tokens = match (caller.is_manager(), caller.member_pk()) {
                (true, _) => store::list_member_tokens(c, None)?,
                (false, Some(pk)) => store::list_member_tokens(c, Some(pk))?,
                (false, None) => Vec::new(),
            };
            let workspace_id = store::workspace(c)?.workspace_id;
            Ok(proto::TokensListResponse {
                tokens: tokens.iter().map(|t| t.to_proto(&workspace_id)).collect(),
            })
        })
        .await
    }

    async fn token_delete(
        &self,
        request: Request<proto::TokenDeleteRequest>,
    ) -> Result<Response<()>, Status> {
        self.handle("TokenDelete", Kind::Write, request, |c, caller, req| {
            let token = store::member_token(c, &req.token_id)?;
            may_manage_token(caller, &token)?;
            store::delete_member_token(c, &req.token_id).map(|_| ())
        })
        .await
    }

    async fn token_disable(
        &self,
        request: Request<proto::TokenDisableRequest>,
    ) -> Result<Response<()>, Status> {
        self.handle("TokenDisable", Kind::Write, request, |c, caller, req| {
            set_tokens_disabled(c, caller, &req.token_ids, true)
        })
        .await
    }

    async fn token_enable(
        &self,
        request: Request<proto::TokenEnableRequest>,
    ) -> Result<Response<()>, Status> {
        self.handle("TokenEnable", Kind::Write, request, |c, caller, req| {
            set_tokens_disabled(c, caller, &req.token_ids, false)
        })
        .await
    }

    async fn token_info_get(
        &self,
        request: Request<proto::TokenInfoGetRequest>,
    ) -> Result<Response<proto::TokenInfoGetResponse>, Status> {
        self.handle("TokenInfoGet", Kind::Read, request, |c, caller, _| {
            let ws = store::workspace(c)?;
            let mut resp = proto::TokenInfoGetResponse {
                token_id: caller.token_id.clone(),
                workspace_id: ws.workspace_id,
                workspace_name: ws.name,
                ..Default::default()
            };
            match &caller.principal {
                store::Principal::Member {
                    user_id, username, ..
                } => {
                    let token = store::member_token(c, &caller.token_id)?;
                    resp.user_identity = Some(proto::UserIdentity {
                        user_id: user_id.clone(),
                        username: username.clone(),
                    });
                    resp.created_at = Some(timestamp(token.created_at));
                    resp.expires_at = token.expires_at.map(timestamp);
                    resp.token_name = token.name;
                }
                store::Principal::ServiceUser { name, .. } => {
                    let su = store::service_user_by_name(c, name)?;
                    resp.service_user_identity = Some(proto::ServiceUserIdentity {
                        service_user_id: su.service_user_id,
                        service_user_name: su.name,
                        created_by: (!su.created_by_user_id.is_empty()).then_some(
                            proto::UserIdentity {
                                user_id: su.created_by_user_id,
                                username: su.created_by,
                            },
                        ),
                    });
                    resp.created_at = Some(timestamp(su.created_at));
                    resp.expires_at = su.expires_at.map(timestamp);
                }
            }
            Ok(resp)
        })
        .await
    }
}

/// Unix seconds as a `google.protobuf.Timestamp`.
fn timestamp(secs: f64) -> prost_types::Timestamp {
    let whole = secs.floor();
    prost_types::Timestamp {
        seconds: whole as i64,
        nanos: ((secs - whole) * 1e9) as i32,
    }
}

/// A member may manage their own tokens; managers and owners anyone's.
fn may_manage_token(caller: &Caller, token: &store::MemberToken) -> Result<(), Error> {
    if caller.is_manager() || caller.member_pk() == Some(token.member_pk) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(
            "Only workspace managers and owners can manage other members' tokens.".into(),
        ))
    }
}

/// `TokenDisable` / `TokenEnable`: all the tokens or none (one transaction).
fn set_tokens_disabled(
    c: &Connection,
    caller: &Caller,
    token_ids: &[String],
    disabled: bool,
) -> Result<(), Error> {
    for token_id in token_ids {
        let token = store::member_token(c, token_id)?;
        may_manage_token(caller, &token)?;
        store::set_member_token_disabled(c, token_id, disabled)?;
    }
    Ok(())
}

/// The HTTP/2 service the server runs: implemented methods go to the
/// generated [`ModalClientServer`]; any other path (another method of
/// `ModalClient`, or another service) gets UNIMPLEMENTED naming it.
#[derive(Clone)]
pub struct Dispatch {
    inner: ModalClientServer<Emulator>,
    log: Option<Arc<CallLog>>,
    faults: Option<Arc<Faults>>,
}

impl Dispatch {
    pub fn new(emulator: Emulator) -> Dispatch {
        let log = emulator.log.clone();
        // Modal's client sends up to a few MB; answers for 5,000 members are
        // about 1 MB. Allow generous sizes either way.
        let inner = ModalClientServer::new(emulator)
            .max_decoding_message_size(16 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024);
        Dispatch {
            inner,
            log,
            faults: None,
        }
    }

    /// Injects faults into calls of implemented methods (see [`crate::faults`]).
    pub fn with_faults(mut self, faults: Option<Arc<Faults>>) -> Dispatch {
        self.faults = faults;
        self
    }
}

/// Runs one call of an implemented method with the fault the dice chose.
async fn call_with_faults(
    mut inner: ModalClientServer<Emulator>,
    log: Option<Arc<CallLog>>,
    decision: Decision,
    mut req: http::Request<Body>,
) -> Result<http::Response<Body>, Infallible> {
    if let Some(delay) = decision.delay {
        tokio::time::sleep(delay).await;
    }
    match decision.fault {
        None => inner.call(req).await,
        Some(Fault::Unavailable) => {
            if let Some(log) = log {
                let md = tonic::metadata::MetadataMap::from_headers(req.headers().clone());
                let meta = CallMeta::from_metadata(&md);
                let method = method_name(req.uri().path());
                let _ = tokio::task::spawn_blocking(move || {
                    log.record(&CallRecord {
                        method: &method,
                        token_id: meta.loggable_token_id(),
                        idempotency_key: meta.loggable_key(),
                        code: code_name(Code::Unavailable),
                        replayed: false,
                        elapsed_us: 0,
                        fault: Some(Fault::Unavailable.name()),
                    })
                })
                .await;
            }
            Ok(
                Status::unavailable(
                    "Injected fault: mws-emulator is pretending to be unavailable.",
                )
                .into_http(),
            )
        }
        Some(Fault::Drop) => {
            let conn = faults::conn_handle(req.extensions());
            req.extensions_mut().insert(Fault::Drop);
            // The handler runs and commits; then the connection goes away
            // before the answer can leave.
            let response = inner.call(req).await;
            if let Some(conn) = conn {
                conn.cut();
            }
            response
        }
    }
}

/// The method name of a request path, for the call log.
fn method_name(path: &str) -> String {
    path.trim_start_matches('/')
        .strip_prefix(SERVICE_NAME)
        .and_then(|s| s.strip_prefix('/'))
        .unwrap_or(path.trim_start_matches('/'))
        .chars()
        .take(200)
        .collect()
}

fn implemented(path: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|p| p.strip_prefix(SERVICE_NAME))
        .and_then(|p| p.strip_prefix('/'))
        .is_some_and(|m| IMPLEMENTED_METHODS.contains(&m))
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

impl Service<http::Request<Body>> for Dispatch {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let path = req.uri().path().to_string();
        if implemented(&path) {
            let mut inner = self.inner.clone();
            if let Some(faults) = &self.faults {
                let decision = faults.roll();
                let log = self.log.clone();
                return Box::pin(call_with_faults(inner, log, decision, req));
            }
            return Box::pin(async move { inner.call(req).await });
        }
        let md = tonic::metadata::MetadataMap::from_headers(req.headers().clone());
        let meta = CallMeta::from_metadata(&md);
        let log = self.log.clone();
        Box::pin(async move {
            let status = unimplemented_status(&path);
            if let Some(log) = log {
                let method = method_name(&path);
                let token_id = meta.loggable_token_id();
                let idempotency_key = meta.loggable_key();
                let _ = tokio::task::spawn_blocking(move || {
                    log.record(&CallRecord {
                        method: &method,
                        token_id,
                        idempotency_key,
                        code: code_name(Code::Unimplemented),
                        replayed: false,
                        elapsed_us: 0,
                        fault: None,
                    })
                })
                .await;
            }
            Ok(status.into_http())
        })
    }
}

impl tonic::server::NamedService for Dispatch {
    const NAME: &'static str = SERVICE_NAME;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implemented_paths() {
        assert!(implemented("/modal.client.ModalClient/WebhookTokenList"));
        assert!(implemented("/modal.client.ModalClient/WorkspaceSettings"));
        assert!(!implemented("/modal.client.ModalClient/AppList"));
        assert!(!implemented("/other.Service/WebhookTokenList"));
        assert!(!implemented("/modal.client.ModalClient/"));
    }

    #[test]
    fn unimplemented_message_names_method() {
        let s = unimplemented_status("/modal.client.ModalClient/AppList");
        assert_eq!(s.code(), Code::Unimplemented);
        assert_eq!(
            s.message(),
            "Method AppList is not implemented by mws-emulator."
        );
        let s = unimplemented_status("/grpc.health.v1.Health/Check");
        assert!(s.message().contains("grpc.health.v1.Health/Check"));
    }
}
