//! The workspace administration methods (settings, service users, member
//! tokens, `TokenInfoGet`) over gRPC against the real `mws-emulator` binary:
//! happy paths, permissions, NOT_FOUND and validation errors, expired and
//! disabled credentials, `last_used_at`, idempotent replays, the admin verbs
//! that set up that state, and what `seed demo` puts there.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{credentials, emu, emu_json, emu_ok, key, req, Creds, Server};
use mws_modal_api::proto::{self, ObjectCreationType};
use mws_modal_api::ModalClientClient;
use serde_json::Value;
use tonic::transport::Channel;
use tonic::Code;

type Client = ModalClientClient<Channel>;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

const INVALID: &str = "Invalid token ID or token secret.";

/// A store with an owner (`owner@example.com`), a manager (grace) and two
/// plain members (alan, kate), and a credential for each.
struct Team {
    dir: tempfile::TempDir,
    db: std::path::PathBuf,
    owner: Creds,
    manager: Creds,
    alan: Creds,
    kate: Creds,
}

fn team() -> Team {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("ws.db");
    let owner = credentials(&db, None);
    emu_ok(
        &db,
        &[
            "admin",
            "member",
            "add",
            "grace@example.com",
            "--role",
            "manager",
        ],
    );
    emu_ok(&db, &["admin", "member", "add", "alan@example.com"]);
    emu_ok(&db, &["admin", "member", "add", "kate@example.com"]);
    emu_ok(&db, &["admin", "env", "add", "prod"]);
    let manager = credentials(&db, Some("grace@example.com"));
    let alan = credentials(&db, Some("alan@example.com"));
    let kate = credentials(&db, Some("kate@example.com"));
    Team {
        dir,
        db,
        owner,
        manager,
        alan,
        kate,
    }
}

fn creds_of(v: &Value) -> Creds {
    Creds {
        token_id: v["token_id"].as_str().expect("token_id").into(),
        token_secret: v["token_secret"].as_str().expect("token_secret").into(),
    }
}

async fn settings(c: &mut Client, who: &Creds) -> Result<(String, String), tonic::Status> {
    c.workspace_settings(req((), who, Some(&key())))
        .await
        .map(|r| {
            let r = r.into_inner();
            (r.default_environment_name, r.image_builder_version)
        })
}

async fn name_lookup(c: &mut Client, who: &Creds) -> Result<(), tonic::Status> {
    c.workspace_name_lookup(req((), who, Some(&key())))
        .await
        .map(|_| ())
}

async fn service_users(c: &mut Client, who: &Creds) -> Vec<proto::ServiceUser> {
    c.service_user_list(req((), who, Some(&key())))
        .await
        .expect("service user list")
        .into_inner()
        .service_users
}

async fn su_info(
    c: &mut Client,
    who: &Creds,
    name: &str,
) -> Result<proto::ServiceUser, tonic::Status> {
    c.service_user_info(req(
        proto::ServiceUserInfoRequest {
            service_user_name: name.into(),
        },
        who,
        Some(&key()),
    ))
    .await
    .map(|r| r.into_inner().service_user.expect("service_user"))
}

async fn su_create(
    c: &mut Client,
    who: &Creds,
    name: &str,
    expires_in_seconds: u32,
    idem: &str,
) -> Result<proto::ServiceUserCreateResponse, tonic::Status> {
    c.service_user_create(req(
        proto::ServiceUserCreateRequest {
            name: name.into(),
            scoped: false,
            expires_in_seconds,
        },
        who,
        Some(idem),
    ))
    .await
    .map(|r| r.into_inner())
}

async fn set_role(
    c: &mut Client,
    who: &Creds,
    service_user: &str,
    environment_id: &str,
    role: &str,
) -> Result<(), tonic::Status> {
    c.environment_role_set(req(
        proto::EnvironmentRoleSetRequest {
            environment_id: environment_id.into(),
            service_user_name: service_user.into(),
            role_str: role.into(),
            ..Default::default()
        },
        who,
        Some(&key()),
    ))
    .await
    .map(|_| ())
}

async fn env_id(c: &mut Client, who: &Creds, name: &str) -> String {
    c.environment_get_or_create(req(
        proto::EnvironmentGetOrCreateRequest {
            deployment_name: name.into(),
            object_creation_type: ObjectCreationType::Unspecified as i32,
        },
        who,
        Some(&key()),
    ))
    .await
    .expect("environment lookup")
    .into_inner()
    .environment_id
}

async fn tokens(c: &mut Client, who: &Creds) -> Vec<proto::tokens_list_response::Token> {
    c.tokens_list(req((), who, Some(&key())))
        .await
        .expect("tokens list")
        .into_inner()
        .tokens
}

async fn token_ids(c: &mut Client, who: &Creds) -> Vec<String> {
    tokens(c, who)
        .await
        .into_iter()
        .map(|t| t.token_id)
        .collect()
}

async fn disable(
    c: &mut Client,
    who: &Creds,
    ids: &[&str],
    idem: &str,
) -> Result<(), tonic::Status> {
    c.token_disable(req(
        proto::TokenDisableRequest {
            token_ids: ids.iter().map(|s| s.to_string()).collect(),
        },
        who,
        Some(idem),
    ))
    .await
    .map(|_| ())
}

async fn enable(c: &mut Client, who: &Creds, ids: &[&str]) -> Result<(), tonic::Status> {
    c.token_enable(req(
        proto::TokenEnableRequest {
            token_ids: ids.iter().map(|s| s.to_string()).collect(),
        },
        who,
        Some(&key()),
    ))
    .await
    .map(|_| ())
}

async fn delete_token(
    c: &mut Client,
    who: &Creds,
    id: &str,
    idem: &str,
) -> Result<(), tonic::Status> {
    c.token_delete(req(
        proto::TokenDeleteRequest {
            token_id: id.into(),
        },
        who,
        Some(idem),
    ))
    .await
    .map(|_| ())
}

fn assert_status(r: Result<impl std::fmt::Debug, tonic::Status>, code: Code, message: &str) {
    let e = r.expect_err("must fail");
    assert_eq!(e.code(), code, "{e:?}");
    assert_eq!(e.message(), message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_read_and_write_need_a_manager() {
    let t = team();
    let server = Server::start(t.dir.path(), &t.db);
    let mut c = server.client().await;

    assert_eq!(
        settings(&mut c, &t.owner).await.expect("owner"),
        ("main".to_string(), "2025.06".to_string())
    );
    let denied_read = "Only workspace managers and owners can view workspace settings.";
    let denied_write = "Only workspace managers and owners can change workspace settings.";
    assert_status(
        settings(&mut c, &t.alan).await,
        Code::PermissionDenied,
        denied_read,
    );

    // Image builder version: a known one is taken and shows everywhere.
    let r = c
        .workspace_set_image_builder_version(req(
            proto::WorkspaceSetImageBuilderVersionRequest {
                new_image_builder_version: "2024.10".into(),
            },
            &t.manager,
            Some(&key()),
        ))
        .await
        .expect("manager sets version")
        .into_inner();
    assert_eq!(r.image_builder_version, "2024.10");
    assert_eq!(
        settings(&mut c, &t.owner).await.expect("settings").1,
        "2024.10"
    );
    let hello = c
        .client_hello(req((), &t.alan, None))
        .await
        .expect("hello")
        .into_inner();
    assert_eq!(hello.image_builder_version, "2024.10");
    let envs = c
        .environment_list(req((), &t.alan, None))
        .await
        .expect("envs")
        .into_inner()
        .items;
    assert!(envs.iter().all(|e| e.image_builder_version == "2024.10"));
    for (who, version, code, message) in [
        (
            &t.owner,
            "2099.01",
            Code::InvalidArgument,
            "Unknown image builder version '2099.01'. Known versions: 2023.12, 2024.04, 2024.10, 2025.06, PREVIEW.",
        ),
        (&t.alan, "2025.06", Code::PermissionDenied, denied_write),
    ] {
        let r = c
            .workspace_set_image_builder_version(req(
                proto::WorkspaceSetImageBuilderVersionRequest {
                    new_image_builder_version: version.into(),
                },
                who,
                Some(&key()),
            ))
            .await;
        assert_status(r, code, message);
    }
    assert_eq!(
        settings(&mut c, &t.owner).await.expect("settings").1,
        "2024.10"
    );

    // Default environment.
    let k = key();
    c.workspace_set_default_environment(req(
        proto::WorkspaceSetDefaultEnvironmentRequest {
            environment_name: "prod".into(),
        },
        &t.owner,
        Some(&k),
    ))
    .await
    .expect("set default");
    assert_eq!(
        settings(&mut c, &t.manager).await.expect("settings").0,
        "prod"
    );
    // The empty name now means prod.
    let prod_id = env_id(&mut c, &t.owner, "prod").await;
    assert_eq!(env_id(&mut c, &t.owner, "").await, prod_id);
    let listed = c
        .environment_list(req((), &t.owner, None))
        .await
        .expect("envs")
        .into_inner()
        .items;
    let defaults: Vec<_> = listed
        .iter()
        .filter(|e| e.default)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(defaults, ["prod"]);

    // A replay changes nothing: back to main by admin, then the same key again.
    emu_ok(&t.db, &["admin", "settings", "set-default-env", "main"]);
    c.workspace_set_default_environment(req(
        proto::WorkspaceSetDefaultEnvironmentRequest {
            environment_name: "prod".into(),
        },
        &t.owner,
        Some(&k),
    ))
    .await
    .expect("replay");
    assert_eq!(
        settings(&mut c, &t.owner).await.expect("settings").0,
        "main"
    );
    assert!(server
        .calls()
        .iter()
        .any(|l| l["method"] == "WorkspaceSetDefaultEnvironment" && l["replayed"] == true));

    for (who, name, code, message) in [
        (
            &t.owner,
            "nope",
            Code::NotFound,
            "Environment 'nope' not found.",
        ),
        (
            &t.owner,
            "",
            Code::InvalidArgument,
            "Missing environment name.",
        ),
        (&t.alan, "prod", Code::PermissionDenied, denied_write),
    ] {
        let r = c
            .workspace_set_default_environment(req(
                proto::WorkspaceSetDefaultEnvironmentRequest {
                    environment_name: name.into(),
                },
                who,
                Some(&key()),
            ))
            .await;
        assert_status(r, code, message);
    }
    assert_eq!(
        settings(&mut c, &t.owner).await.expect("settings").0,
        "main"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_users_lifecycle_and_credentials() {
    let t = team();
    let server = Server::start(t.dir.path(), &t.db);
    let mut c = server.client().await;
    let denied = "Only workspace managers and owners can manage service users.";

    // Create; a replay with the same key returns the same credential.
    let k = key();
    let created = su_create(&mut c, &t.manager, "ci-bot", 0, &k)
        .await
        .expect("create");
    assert!(created.token_id.starts_with("ak-"));
    assert!(created.token_secret.starts_with("as-"));
    assert!(created.service_user_id.starts_with("su-"));
    assert_eq!(created.expires_at, None, "never expires");
    let again = su_create(&mut c, &t.manager, "ci-bot", 0, &k)
        .await
        .expect("replay");
    assert_eq!(again, created);
    let listed = service_users(&mut c, &t.owner).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "ci-bot");
    assert_eq!(listed[0].token_id, created.token_id);
    assert_eq!(listed[0].service_user_id, created.service_user_id);
    assert_eq!(listed[0].created_by, "grace");
    assert_eq!(listed[0].expires_at, 0.0);
    assert_eq!(listed[0].last_used_at, 0.0, "not used yet");
    assert!((listed[0].created_at - now()).abs() < 60.0);

    // The credential authenticates, as a service user.
    let bot = Creds {
        token_id: created.token_id.clone(),
        token_secret: created.token_secret.clone(),
    };
    let before = now();
    name_lookup(&mut c, &bot).await.expect("service user works");
    let info = c
        .token_info_get(req(proto::TokenInfoGetRequest {}, &bot, None))
        .await
        .expect("token info")
        .into_inner();
    assert_eq!(info.token_id, bot.token_id);
    assert_eq!(info.user_identity, None);
    let sui = info.service_user_identity.expect("service user identity");
    assert_eq!(sui.service_user_name, "ci-bot");
    assert_eq!(sui.service_user_id, created.service_user_id);
    assert_eq!(sui.created_by.expect("created_by").username, "grace");
    assert_eq!(info.expires_at, None);
    let used = su_info(&mut c, &t.owner, "ci-bot")
        .await
        .expect("info")
        .last_used_at;
    assert!(used >= before - 1.0, "last_used_at {used} recorded");
    // A service user is a plain member for workspace administration.
    assert_status(
        c.service_user_list(req((), &bot, None)).await,
        Code::PermissionDenied,
        denied,
    );
    assert_status(
        settings(&mut c, &bot).await,
        Code::PermissionDenied,
        "Only workspace managers and owners can view workspace settings.",
    );
    assert!(tokens(&mut c, &bot).await.is_empty(), "no member tokens");

    // Validation and permissions.
    assert_status(
        su_create(&mut c, &t.owner, "ci-bot", 0, &key()).await,
        Code::AlreadyExists,
        "Service user 'ci-bot' already exists.",
    );
    assert_status(
        su_create(&mut c, &t.owner, "bad name!", 0, &key()).await,
        Code::InvalidArgument,
        "Invalid service user name: 'bad name!'. Names are 1-64 characters: letters, digits, '-' and '_'.",
    );
    assert_status(
        su_create(&mut c, &t.alan, "mine", 0, &key()).await,
        Code::PermissionDenied,
        denied,
    );
    assert_status(
        su_info(&mut c, &t.owner, "nope").await,
        Code::NotFound,
        "Service user 'nope' not found.",
    );
    assert_status(
        su_info(&mut c, &t.alan, "ci-bot").await,
        Code::PermissionDenied,
        denied,
    );
    assert_eq!(service_users(&mut c, &t.owner).await.len(), 1);

    // Expiry: a future one is reported as a Timestamp and as seconds.
    let t0 = now();
    let expiring = su_create(&mut c, &t.owner, "hourly", 3600, &key())
        .await
        .expect("expiring");
    let ts = expiring.expires_at.expect("expires_at");
    assert!((ts.seconds as f64 - (t0 + 3600.0)).abs() < 60.0, "{ts:?}");
    let info = su_info(&mut c, &t.owner, "hourly").await.expect("info");
    assert!((info.expires_at - (t0 + 3600.0)).abs() < 60.0);
    // One that has expired stops authenticating and is gone.
    let short = su_create(&mut c, &t.owner, "short-lived", 1, &key())
        .await
        .expect("short");
    let short_creds = Creds {
        token_id: short.token_id.clone(),
        token_secret: short.token_secret.clone(),
    };
    name_lookup(&mut c, &short_creds)
        .await
        .expect("valid at first");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_status(
        name_lookup(&mut c, &short_creds).await,
        Code::Unauthenticated,
        INVALID,
    );
    assert_status(
        su_info(&mut c, &t.owner, "short-lived").await,
        Code::NotFound,
        "Service user 'short-lived' not found.",
    );
    let names: Vec<_> = service_users(&mut c, &t.owner)
        .await
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["ci-bot", "hourly"]);
    // Its name is free again.
    su_create(&mut c, &t.owner, "short-lived", 0, &key())
        .await
        .expect("name reused");

    // Environment roles.
    let main = env_id(&mut c, &t.owner, "main").await;
    let prod = env_id(&mut c, &t.owner, "prod").await;
    set_role(&mut c, &t.owner, "ci-bot", &main, "contributor")
        .await
        .expect("contributor");
    set_role(&mut c, &t.manager, "ci-bot", &prod, "viewer")
        .await
        .expect("viewer");
    let roles = |su: &proto::ServiceUser| -> Vec<(String, String, i32)> {
        su.environment_roles
            .iter()
            .map(|r| (r.environment_name.clone(), r.role_str.clone(), r.role))
            .collect()
    };
    let su = su_info(&mut c, &t.owner, "ci-bot").await.expect("info");
    assert_eq!(
        roles(&su),
        [
            (
                "main".to_string(),
                "contributor".to_string(),
                proto::EnvironmentRole::Contributor as i32
            ),
            (
                "prod".to_string(),
                "viewer".to_string(),
                proto::EnvironmentRole::Viewer as i32
            ),
        ]
    );
    assert_eq!(su.environment_roles[0].environment_id, main);
    set_role(&mut c, &t.owner, "ci-bot", &main, "viewer")
        .await
        .expect("change");
    set_role(&mut c, &t.owner, "ci-bot", &prod, "no-access")
        .await
        .expect("remove");
    let su = su_info(&mut c, &t.owner, "ci-bot").await.expect("info");
    assert_eq!(
        roles(&su),
        [(
            "main".to_string(),
            "viewer".to_string(),
            proto::EnvironmentRole::Viewer as i32
        )]
    );
    for (who, name, env, role, code, message) in [
        (
            &t.owner,
            "ci-bot",
            main.as_str(),
            "admin",
            Code::InvalidArgument,
            "Invalid environment role 'admin'. Roles are contributor, viewer and no-access.",
        ),
        (
            &t.owner,
            "ci-bot",
            "en-doesnotexist",
            "viewer",
            Code::NotFound,
            "Environment 'en-doesnotexist' not found.",
        ),
        (
            &t.owner,
            "ghost",
            main.as_str(),
            "viewer",
            Code::NotFound,
            "Service user 'ghost' not found.",
        ),
        (
            &t.owner,
            "",
            main.as_str(),
            "viewer",
            Code::InvalidArgument,
            "Missing service user name or ID.",
        ),
        (
            &t.alan,
            "ci-bot",
            main.as_str(),
            "viewer",
            Code::PermissionDenied,
            "Only workspace managers and owners can set environment roles.",
        ),
    ] {
        assert_status(set_role(&mut c, who, name, env, role).await, code, message);
    }

    // Delete: the credential stops working; a second delete is NOT_FOUND.
    let del = |name: &str, id: &str| proto::ServiceUserDeleteRequest {
        service_user_name: name.into(),
        service_user_id: id.into(),
    };
    assert_status(
        c.service_user_delete(req(del("ci-bot", ""), &t.alan, Some(&key())))
            .await,
        Code::PermissionDenied,
        denied,
    );
    let k = key();
    c.service_user_delete(req(del("ci-bot", ""), &t.owner, Some(&k)))
        .await
        .expect("delete");
    assert_status(
        name_lookup(&mut c, &bot).await,
        Code::Unauthenticated,
        INVALID,
    );
    // Replayed: OK again, nothing else happens.
    c.service_user_delete(req(del("ci-bot", ""), &t.owner, Some(&k)))
        .await
        .expect("replayed delete");
    assert_status(
        c.service_user_delete(req(del("ci-bot", ""), &t.owner, Some(&key())))
            .await,
        Code::NotFound,
        "Service user 'ci-bot' not found.",
    );
    assert_status(
        c.service_user_delete(req(del("", ""), &t.owner, Some(&key())))
            .await,
        Code::InvalidArgument,
        "Missing service user name or ID.",
    );
    // By id.
    c.service_user_delete(req(
        del("", &expiring.service_user_id),
        &t.owner,
        Some(&key()),
    ))
    .await
    .expect("delete by id");
    let names: Vec<_> = service_users(&mut c, &t.owner)
        .await
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["short-lived"]);
    // The secret never reaches the call log.
    let log = std::fs::read_to_string(&server.call_log).expect("log");
    assert!(!log.contains(&created.token_secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_tokens_permissions_and_state() {
    let t = team();
    let k1 = creds_of(&emu_json(
        &t.db,
        &[
            "admin",
            "member-token",
            "add",
            "--member",
            "kate@example.com",
            "--name",
            "kate-laptop",
        ],
    ));
    let server = Server::start(t.dir.path(), &t.db);
    let mut c = server.client().await;
    let denied = "Only workspace managers and owners can manage other members' tokens.";

    // Who sees what.
    let all = token_ids(&mut c, &t.owner).await;
    assert_eq!(
        all,
        [
            t.owner.token_id.clone(),
            t.manager.token_id.clone(),
            t.alan.token_id.clone(),
            t.kate.token_id.clone(),
            k1.token_id.clone(),
        ]
    );
    assert_eq!(token_ids(&mut c, &t.manager).await, all);
    assert_eq!(
        token_ids(&mut c, &t.alan).await,
        vec![t.alan.token_id.clone()]
    );
    assert_eq!(
        token_ids(&mut c, &t.kate).await,
        [t.kate.token_id.clone(), k1.token_id.clone()]
    );
    let listed = tokens(&mut c, &t.owner).await;
    let k1_row = listed
        .iter()
        .find(|x| x.token_id == k1.token_id)
        .expect("k1");
    assert_eq!(k1_row.name, "kate-laptop");
    assert_eq!(k1_row.member_displayname, "kate");
    assert!(k1_row.user_id.starts_with("us-"));
    assert!(k1_row.member_id.starts_with("mb-"));
    assert!(k1_row.workspace_id.starts_with("ac-"));
    assert!(!k1_row.disabled);
    assert_eq!(k1_row.expires_at, 0.0);
    assert_eq!(k1_row.last_used_at, 0.0, "never used");

    // last_used_at follows use; the member's last_active_at does not move.
    let members_before = c
        .workspace_members_list(req((), &t.owner, None))
        .await
        .expect("members")
        .into_inner()
        .members;
    let before = now();
    name_lookup(&mut c, &k1).await.expect("k1 works");
    let used = tokens(&mut c, &t.owner)
        .await
        .into_iter()
        .find(|x| x.token_id == k1.token_id)
        .expect("k1")
        .last_used_at;
    assert!(used >= before - 0.01 && used <= now() + 0.01, "{used}");
    let members_after = c
        .workspace_members_list(req((), &t.owner, None))
        .await
        .expect("members")
        .into_inner()
        .members;
    assert_eq!(members_before, members_after);

    // A plain member cannot touch someone else's token, not even in a batch
    // with their own (all or nothing).
    assert_status(
        delete_token(&mut c, &t.alan, &k1.token_id, &key()).await,
        Code::PermissionDenied,
        denied,
    );
    assert_status(
        disable(&mut c, &t.alan, &[&t.alan.token_id, &k1.token_id], &key()).await,
        Code::PermissionDenied,
        denied,
    );
    assert_status(
        enable(&mut c, &t.alan, &[&k1.token_id]).await,
        Code::PermissionDenied,
        denied,
    );
    name_lookup(&mut c, &t.alan)
        .await
        .expect("alan not disabled");
    name_lookup(&mut c, &k1).await.expect("k1 not disabled");

    // Disabled: rejected like a wrong secret; enabled again: works.
    let k = key();
    disable(&mut c, &t.manager, &[&k1.token_id], &k)
        .await
        .expect("disable");
    assert_status(
        name_lookup(&mut c, &k1).await,
        Code::Unauthenticated,
        INVALID,
    );
    let row = tokens(&mut c, &t.kate)
        .await
        .into_iter()
        .find(|x| x.token_id == k1.token_id)
        .expect("still listed");
    assert!(row.disabled);
    enable(&mut c, &t.kate, &[&k1.token_id])
        .await
        .expect("kate enables her own");
    name_lookup(&mut c, &k1).await.expect("enabled again");
    // Replaying the disable changes nothing.
    disable(&mut c, &t.manager, &[&k1.token_id], &k)
        .await
        .expect("replayed disable");
    name_lookup(&mut c, &k1).await.expect("still enabled");
    // A member may disable their own token, even the one they call with.
    disable(&mut c, &t.kate, &[&t.kate.token_id], &key())
        .await
        .expect("disable own");
    assert_status(
        name_lookup(&mut c, &t.kate).await,
        Code::Unauthenticated,
        INVALID,
    );

    // Unknown tokens.
    assert_status(
        delete_token(&mut c, &t.owner, "ak-doesnotexist", &key()).await,
        Code::NotFound,
        "Token 'ak-doesnotexist' not found.",
    );
    assert_status(
        disable(&mut c, &t.owner, &["ak-doesnotexist"], &key()).await,
        Code::NotFound,
        "Token 'ak-doesnotexist' not found.",
    );
    assert_status(
        delete_token(&mut c, &t.owner, "", &key()).await,
        Code::InvalidArgument,
        "Missing token ID.",
    );

    // Expired: listed, but rejected.
    let old = creds_of(&emu_json(
        &t.db,
        &[
            "admin",
            "member-token",
            "add",
            "--member",
            "alan@example.com",
            "--name",
            "old",
            "--expires-at",
            "1700000000",
        ],
    ));
    assert_status(
        name_lookup(&mut c, &old).await,
        Code::Unauthenticated,
        INVALID,
    );
    let row = tokens(&mut c, &t.alan)
        .await
        .into_iter()
        .find(|x| x.token_id == old.token_id)
        .expect("expired still listed");
    assert_eq!(row.expires_at, 1_700_000_000.0);

    // TokenInfoGet for a member token.
    let future = (now() + 86_400.0).floor();
    let named = creds_of(&emu_json(
        &t.db,
        &[
            "admin",
            "member-token",
            "add",
            "--member",
            "alan@example.com",
            "--name",
            "alan-cli",
            "--expires-at",
            &future.to_string(),
        ],
    ));
    let info = c
        .token_info_get(req(proto::TokenInfoGetRequest {}, &named, None))
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.token_id, named.token_id);
    assert_eq!(info.token_name, "alan-cli");
    assert_eq!(info.workspace_name, "local-workspace");
    assert!(info.workspace_id.starts_with("ac-"));
    assert_eq!(info.user_identity.expect("user").username, "alan");
    assert_eq!(info.service_user_identity, None);
    assert_eq!(info.expires_at.expect("expires").seconds, future as i64);
    assert!(info.created_at.expect("created").seconds > 0);

    // Delete: own token by a member; a replay is answered from the record.
    let k = key();
    delete_token(&mut c, &t.alan, &named.token_id, &k)
        .await
        .expect("delete own");
    assert_status(
        name_lookup(&mut c, &named).await,
        Code::Unauthenticated,
        INVALID,
    );
    delete_token(&mut c, &t.alan, &named.token_id, &k)
        .await
        .expect("replayed delete");
    assert_status(
        delete_token(&mut c, &t.alan, &named.token_id, &key()).await,
        Code::NotFound,
        &format!("Token '{}' not found.", named.token_id),
    );
    // An owner deletes anyone's.
    delete_token(&mut c, &t.owner, &k1.token_id, &key())
        .await
        .expect("owner deletes kate's");
    assert_status(
        name_lookup(&mut c, &k1).await,
        Code::Unauthenticated,
        INVALID,
    );
    let replays = server
        .calls()
        .iter()
        .filter(|l| {
            (l["method"] == "TokenDelete" || l["method"] == "TokenDisable") && l["replayed"] == true
        })
        .count();
    assert_eq!(replays, 2);

    // A removed member's tokens are gone from the list.
    emu_ok(&t.db, &["admin", "member", "remove", "alan@example.com"]);
    let ids = token_ids(&mut c, &t.owner).await;
    assert!(!ids.contains(&t.alan.token_id));
    assert!(!ids.contains(&old.token_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_record_use_at_most_once_a_second() {
    let t = team();
    let server = Server::start(t.dir.path(), &t.db);
    let mut c = server.client().await;
    let last_used = |list: Vec<proto::tokens_list_response::Token>, id: &str| {
        list.into_iter()
            .find(|x| x.token_id == id)
            .expect("token")
            .last_used_at
    };
    name_lookup(&mut c, &t.alan).await.expect("first");
    let first = last_used(tokens(&mut c, &t.owner).await, &t.alan.token_id);
    assert!(first > 0.0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = now();
    name_lookup(&mut c, &t.alan).await.expect("second");
    let second = last_used(tokens(&mut c, &t.owner).await, &t.alan.token_id);
    assert!(
        second >= before - 0.01 && second > first,
        "{first} {second}"
    );
    // A write records it at once, even inside the second.
    disable(&mut c, &t.alan, &[], &key())
        .await
        .expect("empty disable");
    let third = last_used(tokens(&mut c, &t.owner).await, &t.alan.token_id);
    assert!(third > second, "{second} {third}");
}

#[test]
fn admin_verbs_for_service_users_tokens_and_settings() {
    let t = team();
    let db = &t.db;

    let v = emu_json(
        db,
        &[
            "admin",
            "service-user",
            "add",
            "deployer",
            "--created-by",
            "grace@example.com",
            "--role",
            "main=contributor",
            "--role",
            "prod=viewer",
            "--expires-in-secs",
            "7200",
        ],
    );
    assert_eq!(v["action"], "service-user.add");
    assert!(v["token_secret"]
        .as_str()
        .expect("secret")
        .starts_with("as-"));
    let su = &v["service_user"];
    assert_eq!(su["name"], "deployer");
    assert_eq!(su["created_by"], "grace");
    assert_eq!(
        su["environment_roles"],
        serde_json::json!({"main": "contributor", "prod": "viewer"})
    );
    let expires = su["expires_at"].as_f64().expect("expires_at");
    assert!((expires - (now() + 7200.0)).abs() < 60.0);
    let text = emu_ok(db, &["admin", "service-user", "add", "plain"]);
    assert!(
        text.starts_with("Added service user plain (su-") && text.contains(" with token ak-"),
        "{text}"
    );
    let v = emu_json(
        db,
        &[
            "admin",
            "service-user",
            "set-role",
            "plain",
            "main",
            "viewer",
        ],
    );
    assert_eq!(
        v,
        serde_json::json!({"action": "service-user.set-role", "name": "plain",
                           "environment": "main", "old_role": "no-access", "role": "viewer"})
    );
    let v = emu_json(db, &["admin", "service-user", "remove", "plain"]);
    assert_eq!(v["action"], "service-user.remove");
    let out = emu(db, &["admin", "service-user", "remove", "plain"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Error: Service user 'plain' not found."
    );
    let out = emu(
        db,
        &["admin", "service-user", "add", "x", "--role", "main=owner"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid environment role 'owner'"));
    // Already expired (for tests of expired credentials): it is created but
    // cannot be used or seen.
    let v = emu_json(
        db,
        &[
            "admin",
            "service-user",
            "add",
            "gone",
            "--expires-at",
            "1000",
        ],
    );
    assert_eq!(v["service_user"]["expires_at"], 1000.0);

    let v = emu_json(
        db,
        &[
            "admin",
            "member-token",
            "add",
            "--member",
            "alan@example.com",
            "--name",
            "n",
            "--disabled",
            "--last-used-at",
            "1750000000",
            "--created-at",
            "1740000000",
        ],
    );
    assert_eq!(v["action"], "member-token.add");
    let id = v["token_id"].as_str().expect("id").to_string();
    assert_eq!(
        v["token"],
        serde_json::json!({"token_id": id, "name": "n", "member": "alan@example.com",
            "created_at": 1740000000.0, "expires_at": null, "last_used_at": 1750000000.0,
            "disabled": true})
    );
    let text = emu_ok(db, &["admin", "member-token", "enable", &id]);
    assert_eq!(text.trim(), format!("Enabled token {id}"));
    let v = emu_json(db, &["admin", "member-token", "disable", &id]);
    assert_eq!(v["action"], "member-token.disable");
    assert_eq!(v["changed"], true);
    assert_eq!(v["token"]["disabled"], true);
    let text = emu_ok(db, &["admin", "member-token", "disable", &id]);
    assert_eq!(
        text.trim(),
        format!("Disabled token {id} (already disabled)")
    );
    let v = emu_json(db, &["admin", "member-token", "remove", &id]);
    assert_eq!(v["action"], "member-token.remove");
    let out = emu(db, &["admin", "member-token", "remove", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!("Error: Token '{id}' not found.")
    );
    let out = emu(
        db,
        &[
            "admin",
            "member-token",
            "add",
            "--member",
            "nobody@example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(1));

    let v = emu_json(db, &["admin", "settings", "set-default-env", "prod"]);
    assert_eq!(
        v,
        serde_json::json!({"action": "settings.set-default-env", "old": "main", "new": "prod"})
    );
    let text = emu_ok(
        db,
        &["admin", "settings", "set-image-builder-version", "PREVIEW"],
    );
    assert_eq!(
        text.trim(),
        "Changed the image builder version from 2025.06 to PREVIEW"
    );
    let out = emu(
        db,
        &["admin", "settings", "set-image-builder-version", "1999.01"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("Error: Unknown image builder version '1999.01'."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_demo_has_service_users_and_member_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.db");
    let seeded_at = now();
    let v = emu_json(&db, &["seed", "demo"]);
    let ada = creds_of(&v);
    let server = Server::start(dir.path(), &db);
    let mut c = server.client().await;

    let sus = service_users(&mut c, &ada).await;
    let names: Vec<_> = sus.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["ci-deployer", "nightly-eval"]);
    assert_eq!(sus[0].expires_at, 0.0);
    assert_eq!(sus[0].created_by, "ada");
    assert_eq!(sus[0].environment_roles.len(), 1);
    assert_eq!(sus[0].environment_roles[0].environment_name, "main");
    assert_eq!(sus[0].environment_roles[0].role_str, "contributor");
    let three_days = 3.0 * 86_400.0;
    assert!(
        (sus[1].expires_at - (seeded_at + three_days)).abs() < 120.0,
        "{}",
        sus[1].expires_at
    );
    assert_eq!(sus[1].created_by, "grace");
    assert_eq!(sus[1].environment_roles[0].environment_name, "prod");
    assert_eq!(sus[1].environment_roles[0].role_str, "viewer");

    let toks = tokens(&mut c, &ada).await;
    let rows: Vec<_> = toks
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.member_displayname.as_str(),
                t.disabled,
                t.expires_at > 0.0 && t.expires_at < now(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("grace-laptop", "Grace Hopper", false, false),
            ("alan-notebook", "Alan Turing", false, true),
            ("alan-ci", "Alan Turing", true, false),
            ("margaret-cli", "Margaret Hamilton", false, false),
            ("", "Ada Lovelace", false, false),
        ]
    );
    assert_eq!(toks[4].token_id, ada.token_id, "the printed credential");
    // The demo's members and proxy tokens are unchanged.
    let members = c
        .workspace_members_list(req((), &ada, None))
        .await
        .expect("members")
        .into_inner()
        .members;
    assert_eq!(members.len(), 5);
    let proxy = c
        .webhook_token_list(req((), &ada, None))
        .await
        .expect("proxy tokens")
        .into_inner()
        .tokens;
    assert_eq!(proxy.len(), 4);
}
