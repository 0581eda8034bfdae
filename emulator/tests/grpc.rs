//! The real `mws-emulator` binary, driven over loopback by a tonic client:
//! every method, every error path, idempotent replays, restarts, `kill -9`,
//! concurrent writers (server and admin CLI on one file), TLS, start-up errors.

mod common;

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{credentials, emu, emu_json, emu_ok, key, req, Creds, Server};
use mws_modal_api::proto::{self, ObjectCreationType};
use mws_modal_api::ModalClientClient;
use tonic::transport::Channel;
use tonic::Code;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// A temp dir with a store that has an owner credential.
fn setup() -> (tempfile::TempDir, std::path::PathBuf, Creds) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("emu.db");
    let creds = credentials(&db, None);
    (dir, db, creds)
}

async fn create_token(
    c: &mut ModalClientClient<Channel>,
    creds: &Creds,
    name: &str,
    scoped: bool,
) -> proto::TokenCreateResponse {
    c.webhook_token_create(req(
        proto::WebhookTokenCreateRequest {
            scoped,
            name: name.into(),
        },
        creds,
        Some(&key()),
    ))
    .await
    .expect("create")
    .into_inner()
}

async fn list_tokens(
    c: &mut ModalClientClient<Channel>,
    creds: &Creds,
) -> Vec<proto::WebhookToken> {
    c.webhook_token_list(req((), creds, Some(&key())))
        .await
        .expect("list")
        .into_inner()
        .tokens
}

async fn list_for_env(
    c: &mut ModalClientClient<Channel>,
    creds: &Creds,
    env: &str,
) -> Result<Vec<String>, tonic::Status> {
    c.webhook_token_list_for_environment(req(
        proto::WebhookTokenListForEnvironmentRequest {
            environment_name: env.into(),
        },
        creds,
        Some(&key()),
    ))
    .await
    .map(|r| {
        r.into_inner()
            .tokens
            .into_iter()
            .map(|t| t.token_id)
            .collect()
    })
}

async fn env_lookup(
    c: &mut ModalClientClient<Channel>,
    creds: &Creds,
    name: &str,
    creation: ObjectCreationType,
) -> Result<proto::EnvironmentGetOrCreateResponse, tonic::Status> {
    c.environment_get_or_create(req(
        proto::EnvironmentGetOrCreateRequest {
            deployment_name: name.into(),
            object_creation_type: creation as i32,
        },
        creds,
        Some(&key()),
    ))
    .await
    .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_happy_path() {
    let (dir, db, creds) = setup();
    let server = Server::start(dir.path(), &db);
    assert_eq!(server.ready["tls"], false);
    assert_eq!(server.ready["pid"].as_u64(), Some(server.pid as u64));
    assert!(server.url.starts_with("http://127.0.0.1:"));
    assert!(server
        .stdout()
        .contains(&format!("mws-emulator listening on {}", server.url)));
    let mut c = server.client().await;

    let hello = c
        .client_hello(req((), &creds, None))
        .await
        .expect("hello")
        .into_inner();
    assert!(hello.warning.is_empty());

    let ws = c
        .workspace_name_lookup(req((), &creds, Some(&key())))
        .await
        .expect("lookup")
        .into_inner();
    assert_eq!(ws.workspace_name, "local-workspace");
    assert_eq!(ws.username, "local-workspace");

    // Members: the owner `credentials create` made.
    let members = c
        .workspace_members_list(req((), &creds, Some(&key())))
        .await
        .expect("members")
        .into_inner()
        .members;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].member_role, proto::MemberRole::Owner as i32);
    assert_eq!(members[0].email, "owner@example.com");
    assert!(members[0].member_id.starts_with("mb-"));
    assert!(members[0].user_id.starts_with("us-"));
    assert!(members[0].joined_at > 0.0);

    // Environments.
    let envs = c
        .environment_list(req((), &creds, Some(&key())))
        .await
        .expect("envs")
        .into_inner()
        .items;
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0].name, "main");
    assert!(envs[0].default);
    assert!(envs[0].environment_id.starts_with("en-"));
    c.environment_create(req(
        proto::EnvironmentCreateRequest {
            name: "prod".into(),
            ..Default::default()
        },
        &creds,
        Some(&key()),
    ))
    .await
    .expect("create prod");
    let prod = env_lookup(&mut c, &creds, "prod", ObjectCreationType::Unspecified)
        .await
        .expect("lookup prod");
    assert!(prod.environment_id.starts_with("en-"));
    assert_eq!(
        prod.metadata.as_ref().map(|m| m.name.as_str()),
        Some("prod")
    );
    let main = env_lookup(&mut c, &creds, "", ObjectCreationType::Unspecified)
        .await
        .expect("default env");
    assert_eq!(main.environment_id, envs[0].environment_id);
    let staging = env_lookup(
        &mut c,
        &creds,
        "staging",
        ObjectCreationType::CreateIfMissing,
    )
    .await
    .expect("create staging");
    let again = env_lookup(
        &mut c,
        &creds,
        "staging",
        ObjectCreationType::CreateIfMissing,
    )
    .await
    .expect("get staging");
    assert_eq!(staging.environment_id, again.environment_id);
    let envs = c
        .environment_list(req((), &creds, Some(&key())))
        .await
        .expect("envs")
        .into_inner()
        .items;
    let names: Vec<_> = envs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["main", "prod", "staging"]);

    // Proxy tokens.
    let t0 = now();
    let a = create_token(&mut c, &creds, "alpha", false).await;
    let b = create_token(&mut c, &creds, "", true).await;
    for t in [&a, &b] {
        assert!(
            t.token_id.starts_with("wk-") && t.token_id.len() == 25,
            "{}",
            t.token_id
        );
        assert!(t.token_secret.starts_with("ws-") && t.token_secret.len() >= 25);
    }
    assert_ne!(a.token_id, b.token_id);
    let tokens = list_tokens(&mut c, &creds).await;
    assert_eq!(
        tokens
            .iter()
            .map(|t| t.token_id.as_str())
            .collect::<Vec<_>>(),
        [a.token_id.as_str(), b.token_id.as_str()],
        "creation order"
    );
    assert_eq!(tokens[0].name, "alpha");
    assert!(!tokens[0].scoped);
    assert!(tokens[1].scoped);
    assert!((tokens[0].created_at - t0).abs() < 60.0);
    let by = tokens[0].created_by.as_ref().expect("created_by");
    assert_eq!(by.username, "owner");
    assert_eq!(by.user_id, members[0].user_id);

    let updated = c
        .webhook_token_update(req(
            proto::WebhookTokenUpdateRequest {
                token_id: a.token_id.clone(),
                name: "Überwachung 監視".into(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.name, "Überwachung 監視");
    assert_eq!(updated.token_id, a.token_id);
    // Empty name clears.
    let cleared = c
        .webhook_token_update(req(
            proto::WebhookTokenUpdateRequest {
                token_id: a.token_id.clone(),
                name: String::new(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .expect("clear")
        .into_inner();
    assert_eq!(cleared.name, "");

    // Associations: b is scoped, allowed only in prod; a is unscoped.
    assert_eq!(
        list_for_env(&mut c, &creds, "prod").await.expect("prod"),
        vec![a.token_id.clone()]
    );
    for _ in 0..2 {
        // Allowing twice is fine.
        c.webhook_token_environment_add(req(
            proto::WebhookTokenEnvironmentAddRequest {
                token_id: b.token_id.clone(),
                environment_id: prod.environment_id.clone(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .expect("add");
    }
    let envs_of_b = c
        .webhook_token_environment_list(req(
            proto::WebhookTokenEnvironmentListRequest {
                token_id: b.token_id.clone(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .expect("env list")
        .into_inner()
        .environment_ids;
    assert_eq!(envs_of_b, vec![prod.environment_id.clone()]);
    assert_eq!(
        list_for_env(&mut c, &creds, "prod").await.expect("prod"),
        [a.token_id.clone(), b.token_id.clone()]
    );
    assert_eq!(
        list_for_env(&mut c, &creds, "main").await.expect("main"),
        vec![a.token_id.clone()]
    );
    c.webhook_token_environment_remove(req(
        proto::WebhookTokenEnvironmentRemoveRequest {
            token_id: b.token_id.clone(),
            environment_id: prod.environment_id.clone(),
        },
        &creds,
        Some(&key()),
    ))
    .await
    .expect("remove");
    assert_eq!(
        list_for_env(&mut c, &creds, "prod").await.expect("prod"),
        vec![a.token_id.clone()]
    );

    c.webhook_token_delete(req(
        proto::TokenDeleteRequest {
            token_id: a.token_id.clone(),
        },
        &creds,
        Some(&key()),
    ))
    .await
    .expect("delete");
    let tokens = list_tokens(&mut c, &creds).await;
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].token_id, b.token_id);

    // Every call was logged, with the caller and no secrets.
    let calls = server.calls();
    assert!(calls.len() >= 20, "{} calls logged", calls.len());
    let log_text = std::fs::read_to_string(&server.call_log).expect("log");
    assert!(!log_text.contains(&creds.token_secret));
    assert!(!log_text.contains(&a.token_secret));
    for call in &calls {
        assert_eq!(call["token_id"], creds.token_id.as_str());
        assert_eq!(call["code"], "OK");
        assert_eq!(call["replayed"], false);
    }
    assert_eq!(calls[0]["method"], "ClientHello");
    assert!(calls[0]["idempotency_key"].is_null());
    assert_eq!(calls[1]["method"], "WorkspaceNameLookup");
    assert!(calls[1]["idempotency_key"].is_string());
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_paths() {
    let (dir, db, creds) = setup();
    let server = Server::start(dir.path(), &db);
    let mut c = server.client().await;

    // Authentication.
    let bad = [
        Creds {
            token_id: creds.token_id.clone(),
            token_secret: "as-wrong".into(),
        },
        Creds {
            token_id: "ak-unknown".into(),
            token_secret: creds.token_secret.clone(),
        },
        Creds {
            token_id: "wk-proxy".into(),
            token_secret: "ws-proxy".into(),
        },
    ];
    for b in &bad {
        let e = c
            .webhook_token_list(req((), b, None))
            .await
            .expect_err("must fail");
        assert_eq!(e.code(), Code::Unauthenticated);
        assert_eq!(e.message(), "Invalid token ID or token secret.");
    }
    let e = c
        .workspace_members_list(tonic::Request::new(()))
        .await
        .expect_err("no credentials");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert_eq!(e.message(), "Invalid token ID or token secret.");

    // A removed member's credential stops working.
    emu_ok(&db, &["admin", "member", "add", "temp@example.com"]);
    let temp = credentials(&db, Some("temp@example.com"));
    c.webhook_token_list(req((), &temp, None))
        .await
        .expect("member can list");
    emu_ok(&db, &["admin", "member", "remove", "temp@example.com"]);
    let e = c
        .webhook_token_list(req((), &temp, None))
        .await
        .expect_err("removed");
    assert_eq!(e.code(), Code::Unauthenticated);

    // Unknown token, for every method that takes one.
    let main_id = env_lookup(&mut c, &creds, "main", ObjectCreationType::Unspecified)
        .await
        .expect("main")
        .environment_id;
    let unknown = "wk-doesnotexist".to_string();
    let errs = vec![
        c.webhook_token_update(req(
            proto::WebhookTokenUpdateRequest {
                token_id: unknown.clone(),
                name: "x".into(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .map(|_| ())
        .expect_err("update"),
        c.webhook_token_delete(req(
            proto::TokenDeleteRequest {
                token_id: unknown.clone(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .map(|_| ())
        .expect_err("delete"),
        c.webhook_token_environment_add(req(
            proto::WebhookTokenEnvironmentAddRequest {
                token_id: unknown.clone(),
                environment_id: main_id.clone(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .map(|_| ())
        .expect_err("add"),
        c.webhook_token_environment_remove(req(
            proto::WebhookTokenEnvironmentRemoveRequest {
                token_id: unknown.clone(),
                environment_id: main_id.clone(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .map(|_| ())
        .expect_err("remove"),
        c.webhook_token_environment_list(req(
            proto::WebhookTokenEnvironmentListRequest {
                token_id: unknown.clone(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .map(|_| ())
        .expect_err("env list"),
    ];
    for e in errs {
        assert_eq!(e.code(), Code::NotFound, "{e:?}");
        assert_eq!(e.message(), "Proxy token 'wk-doesnotexist' not found.");
    }

    // Empty token id.
    let e = c
        .webhook_token_delete(req(
            proto::TokenDeleteRequest {
                token_id: String::new(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .expect_err("empty id");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(e.message(), "Missing proxy token ID.");

    // A secret passed as an id is never echoed back.
    let t = create_token(&mut c, &creds, "t", false).await;
    let e = c
        .webhook_token_delete(req(
            proto::TokenDeleteRequest {
                token_id: t.token_secret.clone(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .expect_err("secret as id");
    assert_eq!(e.code(), Code::NotFound);
    assert!(!e.message().contains(&t.token_secret));

    // Unknown environment: by id and by name.
    let e = c
        .webhook_token_environment_add(req(
            proto::WebhookTokenEnvironmentAddRequest {
                token_id: t.token_id.clone(),
                environment_id: "en-nope".into(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .expect_err("unknown env id");
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(e.message(), "Environment 'en-nope' not found.");
    let e = c
        .webhook_token_environment_add(req(
            proto::WebhookTokenEnvironmentAddRequest {
                token_id: t.token_id.clone(),
                environment_id: String::new(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .expect_err("empty env id");
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = list_for_env(&mut c, &creds, "nope")
        .await
        .expect_err("unknown env");
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(e.message(), "Environment 'nope' not found.");
    let e = env_lookup(&mut c, &creds, "nope", ObjectCreationType::Unspecified)
        .await
        .expect_err("lookup only");
    assert_eq!(e.code(), Code::NotFound);
    let e = env_lookup(
        &mut c,
        &creds,
        "main",
        ObjectCreationType::CreateFailIfExists,
    )
    .await
    .expect_err("exists");
    assert_eq!(e.code(), Code::AlreadyExists);
    let e = c
        .environment_create(req(
            proto::EnvironmentCreateRequest {
                name: "main".into(),
                ..Default::default()
            },
            &creds,
            Some(&key()),
        ))
        .await
        .expect_err("exists");
    assert_eq!(e.code(), Code::AlreadyExists);
    for bad_name in ["", "-x", "en-abc", "has space", &"x".repeat(65)] {
        let e = c
            .environment_create(req(
                proto::EnvironmentCreateRequest {
                    name: bad_name.into(),
                    ..Default::default()
                },
                &creds,
                Some(&key()),
            ))
            .await
            .expect_err("bad env name");
        assert_eq!(e.code(), Code::InvalidArgument, "{bad_name:?}");
        assert!(e.message().starts_with("Invalid environment name"));
    }

    // Oversized and control-character names.
    let e = c
        .webhook_token_create(req(
            proto::WebhookTokenCreateRequest {
                scoped: false,
                name: "é".repeat(101),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .expect_err("too long");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        e.message(),
        "Proxy token name is too long (101 characters; the limit is 100)."
    );
    create_token(&mut c, &creds, &"é".repeat(100), false).await;
    let e = c
        .webhook_token_update(req(
            proto::WebhookTokenUpdateRequest {
                token_id: t.token_id.clone(),
                name: "a\nb".into(),
            },
            &creds,
            Some(&key()),
        ))
        .await
        .expect_err("control chars");
    assert_eq!(e.code(), Code::InvalidArgument);

    // Methods the emulator does not implement (not in our proto).
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    grpc.ready().await.expect("ready");
    let path =
        tonic::codegen::http::uri::PathAndQuery::from_static("/modal.client.ModalClient/AppList");
    let e = grpc
        .unary::<(), (), _>(
            req((), &creds, None),
            path,
            tonic_prost::ProstCodec::default(),
        )
        .await
        .expect_err("unknown method");
    assert_eq!(e.code(), Code::Unimplemented);
    assert_eq!(
        e.message(),
        "Method AppList is not implemented by mws-emulator."
    );

    // Nothing was created by the failures above.
    let tokens = list_tokens(&mut c, &creds).await;
    assert_eq!(tokens.len(), 2);
    let calls = server.calls();
    assert!(calls
        .iter()
        .any(|c| c["method"] == "AppList" && c["code"] == "UNIMPLEMENTED"));
    assert!(calls.iter().any(|c| c["code"] == "UNAUTHENTICATED"));
    assert!(calls.iter().any(|c| c["code"] == "NOT_FOUND"));
    assert!(calls.iter().any(|c| c["code"] == "INVALID_ARGUMENT"));
    let log_text = std::fs::read_to_string(&server.call_log).expect("log");
    assert!(!log_text.contains("as-"), "no API secret in the call log");
    assert!(!log_text.contains(&t.token_secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_replays() {
    let (dir, db, creds) = setup();
    let server = Server::start(dir.path(), &db);
    let mut c = server.client().await;

    // A retried create yields exactly one token, and the same answer.
    let k = key();
    let make = |name: &str| proto::WebhookTokenCreateRequest {
        scoped: false,
        name: name.into(),
    };
    let first = c
        .webhook_token_create(req(make("once"), &creds, Some(&k)))
        .await
        .expect("first")
        .into_inner();
    let second = c
        .webhook_token_create(req(make("once"), &creds, Some(&k)))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(first, second);
    // Even with a different body, the key decides: the stored first answer.
    let third = c
        .webhook_token_create(req(make("other"), &creds, Some(&k)))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(first, third);
    assert_eq!(list_tokens(&mut c, &creds).await.len(), 1);

    // The same key from another credential is another call.
    emu_ok(&db, &["admin", "member", "add", "bob@example.com"]);
    let bob = credentials(&db, Some("bob@example.com"));
    let bobs = c
        .webhook_token_create(req(make("bob"), &bob, Some(&k)))
        .await
        .expect("bob")
        .into_inner();
    assert_ne!(bobs.token_id, first.token_id);
    assert_eq!(list_tokens(&mut c, &creds).await.len(), 2);

    // The same key for a different method is refused, and changes nothing.
    let e = c
        .webhook_token_delete(req(
            proto::TokenDeleteRequest {
                token_id: first.token_id.clone(),
            },
            &creds,
            Some(&k),
        ))
        .await
        .expect_err("key reused for another method");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("WebhookTokenCreate"));
    assert_eq!(list_tokens(&mut c, &creds).await.len(), 2);

    // A retried delete answers OK again (not NOT_FOUND).
    let dk = key();
    for _ in 0..3 {
        c.webhook_token_delete(req(
            proto::TokenDeleteRequest {
                token_id: first.token_id.clone(),
            },
            &creds,
            Some(&dk),
        ))
        .await
        .expect("delete and replays");
    }
    // A retried update returns the first answer even after a later change.
    let uk = key();
    let upd = |name: &str| proto::WebhookTokenUpdateRequest {
        token_id: bobs.token_id.clone(),
        name: name.into(),
    };
    let u1 = c
        .webhook_token_update(req(upd("v1"), &creds, Some(&uk)))
        .await
        .expect("u1")
        .into_inner();
    c.webhook_token_update(req(upd("v2"), &creds, Some(&key())))
        .await
        .expect("u2");
    let u1b = c
        .webhook_token_update(req(upd("v1"), &creds, Some(&uk)))
        .await
        .expect("u1 replay")
        .into_inner();
    assert_eq!(u1, u1b);
    let tokens = list_tokens(&mut c, &creds).await;
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].name, "v2", "a replay changes nothing");

    // Errors are not stored: after a failure, the same key can succeed.
    let ek = key();
    let e = c
        .environment_create(req(
            proto::EnvironmentCreateRequest {
                name: "main".into(),
                ..Default::default()
            },
            &creds,
            Some(&ek),
        ))
        .await
        .expect_err("exists");
    assert_eq!(e.code(), Code::AlreadyExists);

    let calls = server.calls();
    let replayed: Vec<_> = calls
        .iter()
        .filter(|c| c["replayed"] == true)
        .map(|c| c["method"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        replayed,
        [
            "WebhookTokenCreate",
            "WebhookTokenCreate",
            "WebhookTokenDelete",
            "WebhookTokenDelete",
            "WebhookTokenUpdate"
        ]
    );
    let replay_line = calls
        .iter()
        .find(|c| c["replayed"] == true)
        .expect("replay");
    assert_eq!(replay_line["idempotency_key"], k.as_str());
    assert_eq!(replay_line["code"], "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_and_idempotency_survive_restart() {
    let (dir, db, creds) = setup();
    let mut server = Server::start(dir.path(), &db);
    let mut c = server.client().await;
    let k = key();
    let created = c
        .webhook_token_create(req(
            proto::WebhookTokenCreateRequest {
                scoped: true,
                name: "persist".into(),
            },
            &creds,
            Some(&k),
        ))
        .await
        .expect("create")
        .into_inner();
    let before = list_tokens(&mut c, &creds).await;
    drop(c);
    server.stop();

    let server = Server::start(dir.path(), &db);
    let mut c = server.client().await;
    assert_eq!(list_tokens(&mut c, &creds).await, before);
    let replay = c
        .webhook_token_create(req(
            proto::WebhookTokenCreateRequest {
                scoped: true,
                name: "persist".into(),
            },
            &creds,
            Some(&k),
        ))
        .await
        .expect("replay after restart")
        .into_inner();
    assert_eq!(replay, created);
    assert_eq!(list_tokens(&mut c, &creds).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_cleanly_with_open_connection() {
    let (dir, db, creds) = setup();
    let mut server = Server::start(dir.path(), &db);
    let mut c = server.client().await;
    list_tokens(&mut c, &creds).await;
    // The client keeps its connection open; the server still stops.
    let status = server.signal_and_wait(libc::SIGINT);
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_loses_no_acknowledged_write() {
    let (dir, db, creds) = setup();
    let mut server = Server::start(dir.path(), &db);
    let channel = server.channel().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut writers = Vec::new();
    for w in 0..4 {
        let mut c = ModalClientClient::new(channel.clone());
        let creds = creds.clone();
        let tx = tx.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let r = c
                    .webhook_token_create(req(
                        proto::WebhookTokenCreateRequest {
                            scoped: false,
                            name: format!("w{w}-{i}"),
                        },
                        &creds,
                        Some(&key()),
                    ))
                    .await;
                match r {
                    Ok(resp) => {
                        if tx.send(resp.into_inner().token_id).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    drop(tx);
    // Let some writes through, then kill the server mid-stream.
    let mut acked = HashSet::new();
    while acked.len() < 60 {
        match rx.recv().await {
            Some(id) => {
                acked.insert(id);
            }
            None => break,
        }
    }
    server.kill9();
    for w in writers {
        let _ = w.await;
    }
    while let Ok(id) = rx.try_recv() {
        acked.insert(id);
    }
    assert!(acked.len() >= 60);

    let server = Server::start(dir.path(), &db);
    let mut c = server.client().await;
    let stored: HashSet<String> = list_tokens(&mut c, &creds)
        .await
        .into_iter()
        .map(|t| t.token_id)
        .collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_and_admin_cli() {
    let (dir, db, creds) = setup();
    let server = Server::start(dir.path(), &db);
    let channel = server.channel().await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let mut c = ModalClientClient::new(channel.clone());
        let creds = creds.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..20 {
                let r = c
                    .webhook_token_create(req(
                        proto::WebhookTokenCreateRequest {
                            scoped: i % 2 == 0,
                            name: format!("grpc-{w}-{i}"),
                        },
                        &creds,
                        Some(&key()),
                    ))
                    .await
                    .expect("create under contention");
                ids.push(r.into_inner().token_id);
            }
            ids
        }));
    }
    // Meanwhile, another process writes to the same file.
    let db2 = db.clone();
    let admin = tokio::task::spawn_blocking(move || {
        let mut ids = Vec::new();
        for i in 0..10 {
            let out = emu_ok(
                &db2,
                &["admin", "token", "create", "--name", &format!("cli-{i}")],
            );
            ids.push(out.trim().to_string());
        }
        ids
    });
    let mut all = HashSet::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all.extend(admin.await.expect("admin"));
    assert_eq!(all.len(), 170);
    let mut c = ModalClientClient::new(channel);
    let listed: HashSet<String> = list_tokens(&mut c, &creds)
        .await
        .into_iter()
        .map(|t| t.token_id)
        .collect();
    assert_eq!(listed, all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_changes_show_up_over_grpc() {
    let (dir, db, creds) = setup();
    let server = Server::start(dir.path(), &db);
    let mut c = server.client().await;

    let v = emu_json(
        &db,
        &[
            "admin",
            "member",
            "add",
            "zoe@example.com",
            "--name",
            "Zoë Ødegaard",
            "--role",
            "manager",
            "--joined-at",
            "1700000000",
        ],
    );
    assert_eq!(v["action"], "member.add");
    assert_eq!(v["member"]["role"], "manager");
    assert_eq!(v["member"]["username"], "zoe");
    let text = emu_ok(&db, &["admin", "member", "add", "sam@example.com"]);
    assert!(text.starts_with("Added member sam@example.com ("), "{text}");
    assert_eq!(text.lines().count(), 1);
    let members = c
        .workspace_members_list(req((), &creds, None))
        .await
        .expect("members")
        .into_inner()
        .members;
    assert_eq!(members.len(), 3);
    let zoe = members
        .iter()
        .find(|m| m.email == "zoe@example.com")
        .expect("zoe");
    assert_eq!(zoe.member_displayname, "Zoë Ødegaard");
    assert_eq!(zoe.member_role, proto::MemberRole::Manager as i32);
    assert_eq!(zoe.joined_at, 1_700_000_000.0);

    emu_ok(
        &db,
        &["admin", "member", "set-role", "sam@example.com", "owner"],
    );
    emu_ok(&db, &["admin", "member", "remove", "zoe@example.com"]);
    let members = c
        .workspace_members_list(req((), &creds, None))
        .await
        .expect("members")
        .into_inner()
        .members;
    assert_eq!(members.len(), 2);
    assert!(members
        .iter()
        .any(|m| m.email == "sam@example.com" && m.member_role == proto::MemberRole::Owner as i32));

    // Tokens created as another member, renamed, allowed, revoked, deleted.
    let v = emu_json(
        &db,
        &[
            "admin",
            "token",
            "create",
            "--as",
            "sam@example.com",
            "--name",
            "from-cli",
            "--scoped",
            "--created-at",
            "1600000000",
        ],
    );
    let tid = v["token_id"].as_str().expect("token_id").to_string();
    assert!(v["token_secret"]
        .as_str()
        .expect("secret")
        .starts_with("ws-"));
    let tokens = list_tokens(&mut c, &creds).await;
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].token_id, tid);
    assert_eq!(tokens[0].created_at, 1_600_000_000.0);
    assert!(tokens[0].scoped);
    assert_eq!(
        tokens[0].created_by.as_ref().map(|u| u.username.as_str()),
        Some("sam")
    );

    emu_ok(&db, &["admin", "env", "add", "prod"]);
    emu_ok(&db, &["admin", "token", "allow", &tid, "prod"]);
    assert_eq!(
        list_for_env(&mut c, &creds, "prod").await.expect("prod"),
        vec![tid.clone()]
    );
    emu_ok(&db, &["admin", "token", "revoke", &tid, "prod"]);
    assert!(list_for_env(&mut c, &creds, "prod")
        .await
        .expect("prod")
        .is_empty());
    emu_ok(&db, &["admin", "token", "rename", &tid, "renamed"]);
    assert_eq!(list_tokens(&mut c, &creds).await[0].name, "renamed");
    emu_ok(&db, &["admin", "workspace", "rename", "acme"]);
    let ws = c
        .workspace_name_lookup(req((), &creds, None))
        .await
        .expect("lookup")
        .into_inner();
    assert_eq!(ws.workspace_name, "acme");
    emu_ok(&db, &["admin", "env", "remove", "prod"]);
    let e = list_for_env(&mut c, &creds, "prod")
        .await
        .expect_err("gone");
    assert_eq!(e.code(), Code::NotFound);
    let v = emu_json(&db, &["admin", "token", "delete", &tid]);
    assert_eq!(v["action"], "token.delete");
    assert!(list_tokens(&mut c, &creds).await.is_empty());

    // Admin errors: one line, exit 1. Usage errors: exit 2.
    for args in [
        vec!["admin", "token", "delete", "wk-nope"],
        vec!["admin", "member", "remove", "nobody@example.com"],
        vec!["admin", "env", "remove", "main"],
        vec!["admin", "member", "add", "sam@example.com"],
        vec!["admin", "token", "allow", "wk-nope", "main"],
        vec!["admin", "workspace", "rename", "has space"],
        vec!["admin", "token", "rename", "wk-nope", "x"],
    ] {
        let out = emu(&db, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("Error: "), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(out.stdout.is_empty());
    }
    let out = emu(
        &db,
        &["admin", "member", "set-role", "sam@example.com", "admin"],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = emu(&db, &["admin", "bogus"]);
    assert_eq!(out.status.code(), Some(2));

    // Bulk insert with non-ASCII names.
    let v = emu_json(&db, &["admin", "bulk", "--members", "50", "--tokens", "30"]);
    assert_eq!(v["members"], 50);
    let members = c
        .workspace_members_list(req((), &creds, None))
        .await
        .expect("members")
        .into_inner()
        .members;
    assert_eq!(members.len(), 52);
    assert!(members.iter().any(|m| !m.member_displayname.is_ascii()));
    assert_eq!(list_tokens(&mut c, &creds).await.len(), 30);
}

#[test]
fn removing_last_owner_is_refused_but_second_owner_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("o.db");
    emu_ok(
        &db,
        &["admin", "member", "add", "a@example.com", "--role", "owner"],
    );
    let out = emu(
        &db,
        &["admin", "member", "set-role", "a@example.com", "member"],
    );
    assert_eq!(out.status.code(), Some(1));
    emu_ok(
        &db,
        &["admin", "member", "add", "b@example.com", "--role", "owner"],
    );
    emu_ok(
        &db,
        &["admin", "member", "set-role", "a@example.com", "member"],
    );
    emu_ok(&db, &["admin", "member", "remove", "a@example.com"]);
    // A removed member can be added again.
    emu_ok(&db, &["admin", "member", "add", "a@example.com"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_demo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.db");
    let server = Server::start_with(dir.path(), &db, &["--seed", "demo"]);
    // The credential is printed once, before the listening line.
    let out = server.stdout();
    let mut lines = out.lines();
    let seeded: serde_json::Value =
        serde_json::from_str(lines.next().expect("seed line")).expect("seed JSON");
    assert_eq!(seeded["seeded"], true);
    assert!(lines
        .next()
        .expect("listening")
        .starts_with("mws-emulator listening on "));
    let creds = Creds {
        token_id: seeded["token_id"].as_str().expect("id").into(),
        token_secret: seeded["token_secret"].as_str().expect("secret").into(),
    };
    let mut c = server.client().await;
    let ws = c
        .workspace_name_lookup(req((), &creds, None))
        .await
        .expect("lookup")
        .into_inner();
    assert_eq!(ws.workspace_name, "acme-ml");
    let members = c
        .workspace_members_list(req((), &creds, None))
        .await
        .expect("members")
        .into_inner()
        .members;
    let roles: HashSet<i32> = members.iter().map(|m| m.member_role).collect();
    assert_eq!(roles.len(), 3, "members of every role");
    let tokens = list_tokens(&mut c, &creds).await;
    assert!(tokens.len() >= 3);
    let scoped: Vec<_> = tokens.iter().filter(|t| t.scoped).collect();
    assert_eq!(scoped.len(), 1);
    let prod = list_for_env(&mut c, &creds, "prod").await.expect("prod");
    assert!(prod.contains(&scoped[0].token_id));
    let main = list_for_env(&mut c, &creds, "main").await.expect("main");
    assert!(!main.contains(&scoped[0].token_id));

    // Seeding again does nothing.
    let v = emu_json(&db, &["seed", "demo"]);
    assert_eq!(v, serde_json::json!({"seeded": false}));
    assert_eq!(list_tokens(&mut c, &creds).await, tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls() {
    let (dir, db, creds) = setup();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("cert");
    let cert_pem = ck.cert.pem();
    let cert = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert, &cert_pem).expect("write cert");
    std::fs::write(&key_path, ck.signing_key.serialize_pem()).expect("write key");
    let server = Server::start_with(
        dir.path(),
        &db,
        &[
            "--tls-cert",
            cert.to_str().expect("utf-8"),
            "--tls-key",
            key_path.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(server.ready["tls"], true);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(&cert_pem))
        .domain_name("localhost");
    let channel = tonic::transport::Endpoint::from_shared(server.url.clone())
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls config")
        .connect()
        .await
        .expect("TLS connect");
    let mut c = ModalClientClient::new(channel);
    let t = create_token(&mut c, &creds, "over-tls", false).await;
    assert_eq!(list_tokens(&mut c, &creds).await[0].token_id, t.token_id);

    // A plain-text client cannot talk to the TLS port.
    let plain = tonic::transport::Endpoint::from_shared(server.url.replace("https", "http"))
        .expect("endpoint")
        .connect()
        .await;
    if let Ok(ch) = plain {
        let mut c = ModalClientClient::new(ch);
        assert!(c.webhook_token_list(req((), &creds, None)).await.is_err());
    }
}

#[test]
fn startup_errors_are_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let serve = |db: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["serve", "--ready-file"];
        let ready = dir.path().join("never-ready.json");
        let ready = ready.to_str().expect("utf-8").to_string();
        args.push(&ready);
        args.extend_from_slice(extra);
        let out = emu(db, &args);
        assert!(!dir.path().join("never-ready.json").exists());
        out
    };

    // Not a database.
    let junk = dir.path().join("junk.db");
    std::fs::write(
        &junk,
        b"this is not a database, just some text padding ".repeat(200),
    )
    .expect("write");
    let out = serve(&junk, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("Error: "), "{err}");
    assert!(err.contains("not an SQLite database"), "{err}");
    assert!(err.contains("junk.db"), "{err}");

    // A real store, then its pages damaged.
    let good = dir.path().join("good.db");
    emu_ok(
        &good,
        &["admin", "bulk", "--members", "300", "--tokens", "300"],
    );
    let mut bytes = std::fs::read(&good).expect("read");
    let len = bytes.len();
    assert!(len > 16 * 4096, "store has several pages");
    for b in &mut bytes[4096..len - 4096] {
        *b ^= 0x5a;
    }
    std::fs::write(&good, &bytes).expect("write");
    let _ = std::fs::remove_file(dir.path().join("good.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("good.db-shm"));
    let out = serve(&good, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("corrupt") || err.contains("malformed"),
        "{err}"
    );

    // Missing folder.
    let out = serve(&dir.path().join("no/such/dir/x.db"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));

    // Bad TLS material.
    let cert = dir.path().join("bad.pem");
    std::fs::write(&cert, "not a pem").expect("write");
    let db = dir.path().join("ok.db");
    let out = serve(
        &db,
        &[
            "--tls-cert",
            cert.to_str().expect("utf-8"),
            "--tls-key",
            cert.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS"));

    // Missing --db is a usage error.
    let out = std::process::Command::new(common::BIN)
        .args(["seed", "demo"])
        .env_remove("MWS_EMULATOR_DB")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    // --db after the subcommand works too, and the env var.
    let out = std::process::Command::new(common::BIN)
        .args(["seed", "demo", "--json"])
        .env("MWS_EMULATOR_DB", dir.path().join("env.db"))
        .output()
        .expect("run");
    assert!(out.status.success());
}
