//! The published protocol: docs/ipc.schema.json checked with a real
//! validator (Python `jsonschema`, Draft 2020-12) against a recorded
//! JSON-lines session with a real daemon — hellos, reads of every kind,
//! auth, status, a mutation, errors, watch streams with events, a replay
//! and a resync — and against one message of every `Request` and
//! `Response` variant serialized by `mws-ipc` itself (so a variant added
//! without its schema fails here). Negative controls prove the schema
//! refuses what it must.

use mws_e2e::{ok, start_emulator, venv_python, workspace_root, World};
use mws_ipc::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// What the validator is asked: a message and the `$defs` entry it must
/// (or, for a negative control, must not) match.
struct Recording {
    lines: Vec<Value>,
}

impl Recording {
    fn add(&mut self, def: &str, message: &Value, valid: bool) {
        self.lines
            .push(json!({"def": def, "message": message, "valid": valid}));
    }
}

/// One JSON-lines connection whose every line is recorded.
struct Connection<'r> {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    recording: &'r mut Recording,
}

impl<'r> Connection<'r> {
    fn open(world: &World, recording: &'r mut Recording) -> Self {
        let stream = UnixStream::connect(world.path("run/mws/mwsd.sock")).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Connection {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            recording,
        }
    }

    /// Opens a connection and exchanges hellos at `version`.
    fn hello(world: &World, recording: &'r mut Recording, version: u32) -> Self {
        let mut conn = Connection::open(world, recording);
        conn.send(
            "ClientHello",
            &json!({"protocol_version": version, "client_version": "ipc_schema", "features": []}),
        );
        let hello = conn.receive("ServerHello");
        assert_eq!(hello["error"], Value::Null, "{hello}");
        conn
    }

    fn send(&mut self, def: &str, message: &Value) {
        self.send_as(def, message, true);
    }

    /// Sends a message recorded as one the schema must accept (`valid`) or
    /// refuse.
    fn send_as(&mut self, def: &str, message: &Value, valid: bool) {
        self.recording.add(def, message, valid);
        let mut line = serde_json::to_vec(message).unwrap();
        line.push(b'\n');
        self.writer.write_all(&line).expect("send");
    }

    fn receive(&mut self, def: &str) -> Value {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a line from mwsd");
        assert!(!line.is_empty(), "mwsd closed the connection");
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not JSON from mwsd ({e}): {line:?}"));
        self.recording.add(def, &message, true);
        message
    }

    /// A request and its answer.
    fn ask(&mut self, request: Value) -> Value {
        self.send("Request", &request);
        self.receive("Response")
    }
}

/// The variant name of an externally tagged message.
fn variant(message: &Value) -> String {
    match message {
        Value::String(name) => name.clone(),
        Value::Object(map) if map.len() == 1 => map.keys().next().unwrap().clone(),
        other => panic!("not an enum value: {other}"),
    }
}

fn workspace(selection: &Value, command: Value) -> Value {
    json!({"Workspace": {"selection": selection, "freshness": {}, "command": command}})
}

/// Records a whole session with a real daemon; returns the answers' variants.
fn record_session(world: &World, recording: &mut Recording) -> Vec<String> {
    let env = &world.env;
    let selection = json!({
        "token_id": env["MODAL_TOKEN_ID"],
        "token_secret": env["MODAL_TOKEN_SECRET"],
        "server_url": env["MODAL_SERVER_URL"],
        "config_path": env["MODAL_CONFIG_PATH"],
        "home": env["HOME"],
    });
    let mut answers = Vec::new();

    // A watcher first, so that the changes below are events.
    let mut watch_recording = Recording { lines: Vec::new() };
    let mut watcher = Connection::hello(world, &mut watch_recording, PROTOCOL_VERSION);
    assert_eq!(
        watcher.ask(json!({"Watch": {"selection": selection}})),
        "Ok"
    );
    let watching = watcher.receive("Response");
    assert_eq!(variant(&watching), "Watching", "{watching}");
    let instance = watching["Watching"]["instance"].clone();

    let mut conn = Connection::hello(world, recording, PROTOCOL_VERSION);
    let requests = [
        json!("Ping"),
        json!("Status"),
        json!({"Auth": {"selection": {"config_path": env["MODAL_CONFIG_PATH"], "home": env["HOME"]}, "command": "List"}}),
        workspace(&selection, json!("MembersList")),
        workspace(&selection, json!({"TokensList": {"environment": null}})),
        workspace(&selection, json!({"MemberTokens": "List"})),
        workspace(&selection, json!({"ServiceUsers": "List"})),
        workspace(&selection, json!({"Settings": "List"})),
        workspace(&selection, json!("Alerts")),
        json!("Plugins"),
        json!("Alerts"),
        json!({"Prompt": {"selection": selection}}),
        json!({"Complete": {"selection": selection, "kind": "Environments"}}),
        json!("Metrics"),
        json!({"Webhooks": "List"}),
        json!({"Render": {"format": "no-such-format", "kind": "tokens", "json": "[]"}}),
        workspace(
            &selection,
            json!({"TokenDelete": {"token_id": "wk-nosuchtoken"}}),
        ),
    ];
    for request in requests {
        answers.push(variant(&conn.ask(request)));
    }
    // Changes, with idempotency keys as mws sends them.
    let mut change = |command: Value, key: &str| {
        let mut request = workspace(&selection, command);
        request["Workspace"]["idempotency_key"] = json!(key);
        conn.ask(request)
    };
    let created = change(
        json!({"TokenCreate": {"name": "schema"}}),
        "6d1f7a3e-0000-4000-8000-000000000001",
    );
    answers.push(variant(&created));
    let token_id = created["Created"]["token_id"].clone();
    let renamed = change(
        json!({"TokenUpdateName": {"token_id": token_id, "name": "schema-2"}}),
        "6d1f7a3e-0000-4000-8000-000000000002",
    );
    answers.push(variant(&renamed));
    drop(conn);

    // The watcher's events, then a replay after the first and a resync.
    let first = watcher.receive("Response");
    let second = watcher.receive("Response");
    assert_eq!(variant(&first), "Event", "{first}");
    assert_eq!(second["Event"]["kind"], "token.renamed", "{second}");
    answers.extend([variant(&first), variant(&second)]);
    drop(watcher);
    recording.lines.extend(watch_recording.lines);

    let since = json!({"instance": instance, "seq": first["Event"]["seq"]});
    let mut resumed = Connection::hello(world, recording, PROTOCOL_VERSION);
    assert_eq!(
        resumed.ask(json!({"Watch": {"selection": selection, "since": since}})),
        "Ok"
    );
    let watching = resumed.receive("Response");
    let replayed = resumed.receive("Response");
    assert_eq!(replayed, second, "the replay is the event missed");
    answers.extend([variant(&watching), variant(&replayed)]);
    drop(resumed);

    let mut restarted = Connection::hello(world, recording, PROTOCOL_VERSION);
    let since = json!({"instance": "an-earlier-daemon", "seq": 3});
    assert_eq!(
        restarted.ask(json!({"Watch": {"selection": null, "since": since}})),
        "Ok"
    );
    let resync = restarted.receive("Response");
    assert_eq!(resync["Resync"]["reason"], "other_instance", "{resync}");
    answers.push(variant(&resync));
    drop(restarted);

    // A protocol 2 client still speaks; a bad request is a protocol error.
    let mut old = Connection::hello(world, recording, 2);
    answers.push(variant(&old.ask(json!("Ping"))));
    old.send_as("Request", &json!({"NoSuchRequest": {}}), false);
    let error = old.receive("Response");
    assert_eq!(error["Error"]["kind"], "Protocol", "{error}");
    answers.push(variant(&error));
    drop(old);
    // A first line that is not a hello (a JSON line starts with `{`).
    let mut rude = Connection::open(world, recording);
    rude.send("Request", &json!({"Watch": {}}));
    let error = rude.receive("DaemonMessage");
    assert_eq!(error["Error"]["kind"], "Protocol", "{error}");
    answers
}

/// The position of a request variant, by an exhaustive match: a variant
/// added to `Request` stops this file from compiling until it has a sample.
fn request_index(request: &Request) -> usize {
    match request {
        Request::Ping => 0,
        Request::Workspace { .. } => 1,
        Request::Status => 2,
        Request::Shutdown => 3,
        Request::Auth { .. } => 4,
        Request::Watch { .. } => 5,
        Request::Render { .. } => 6,
        Request::Plugins => 7,
        Request::Alerts => 8,
        Request::Credential { .. } => 9,
        Request::Prompt { .. } => 10,
        Request::Complete { .. } => 11,
        Request::Metrics => 12,
        Request::Webhooks(_) => 13,
    }
}
const REQUEST_VARIANTS: usize = 14;

/// As [`request_index`], for responses.
fn response_index(response: &Response) -> usize {
    match response {
        Response::Pong => 0,
        Response::Ok => 1,
        Response::Members(_) => 2,
        Response::Tokens(_) => 3,
        Response::Created(_) => 4,
        Response::Status(_) => 5,
        Response::Auth(_) => 6,
        Response::Event(_) => 7,
        Response::Error(_) => 8,
        Response::Rendered(_) => 9,
        Response::Plugins(_) => 10,
        Response::Alerts(_) => 11,
        Response::Settings(_) => 12,
        Response::SettingSet { .. } => 13,
        Response::ServiceUsers(_) => 14,
        Response::ServiceUser(_) => 15,
        Response::CreatedServiceUser(_) => 16,
        Response::RoleSet { .. } => 17,
        Response::MemberTokens(_) => 18,
        Response::Rotated(_) => 19,
        Response::AlertReport(_) => 20,
        Response::Lagged { .. } => 21,
        Response::Credential(_) => 22,
        Response::Prompt(_) => 23,
        Response::Watching { .. } => 24,
        Response::Resync { .. } => 25,
        Response::Names(_) => 26,
        Response::Metrics(_) => 27,
        Response::Webhooks(_) => 28,
        Response::WebhookSecret(_) => 29,
        Response::WebhookQueued(_) => 30,
        Response::WebhookPurged { .. } => 31,
    }
}
const RESPONSE_VARIANTS: usize = 32;

fn selection() -> Selection {
    Selection {
        profile: Some("prod".into()),
        token_secret: Some(Secret::new("as-x".into())),
        ..Default::default()
    }
}

fn sample_requests() -> Vec<Request> {
    let command = |command| Request::Workspace {
        selection: selection(),
        freshness: Freshness {
            max_age_secs: Some(5),
            fresh: false,
        },
        command,
        idempotency_key: Some("k".into()),
    };
    let mut requests = vec![
        Request::Ping,
        Request::Status,
        Request::Shutdown,
        Request::Plugins,
        Request::Alerts,
        Request::Metrics,
        Request::Watch {
            selection: None,
            since: Some(Cursor {
                instance: None,
                seq: 4,
            }),
        },
        Request::Render {
            format: "csv".into(),
            kind: "members".into(),
            json: "[]".into(),
        },
        Request::Credential {
            selection: selection(),
        },
        Request::Prompt {
            selection: Selection::default(),
        },
        Request::Complete {
            selection: selection(),
            kind: CompletionKind::Environments,
        },
    ];
    let commands = [
        WorkspaceCommand::MembersList,
        WorkspaceCommand::Alerts,
        WorkspaceCommand::TokensList {
            environment: Some("prod".into()),
        },
        WorkspaceCommand::TokenCreate { name: None },
        WorkspaceCommand::TokenUpdateName {
            token_id: "wk-1".into(),
            name: "n".into(),
        },
        WorkspaceCommand::TokenAllow {
            token_id: "wk-1".into(),
            environment: "prod".into(),
        },
        WorkspaceCommand::TokenRevoke {
            token_id: "wk-1".into(),
            environment: "prod".into(),
        },
        WorkspaceCommand::TokenDelete {
            token_id: "wk-1".into(),
        },
        WorkspaceCommand::TokenRotate {
            token_id: "wk-1".into(),
            keep_old: true,
        },
        WorkspaceCommand::Settings(SettingsCommand::List),
        WorkspaceCommand::Settings(SettingsCommand::Set {
            setting: "default-environment".into(),
            value: "prod".into(),
        }),
        WorkspaceCommand::ServiceUsers(ServiceUserCommand::List),
        WorkspaceCommand::ServiceUsers(ServiceUserCommand::Info { name: "ci".into() }),
        WorkspaceCommand::ServiceUsers(ServiceUserCommand::Create {
            name: "ci".into(),
            expires_in_secs: Some(3600),
        }),
        WorkspaceCommand::ServiceUsers(ServiceUserCommand::Delete {
            name: "ci".into(),
            allow_missing: true,
        }),
        WorkspaceCommand::ServiceUsers(ServiceUserCommand::SetRole {
            name: "ci".into(),
            environment: "prod".into(),
            role: "viewer".into(),
        }),
        WorkspaceCommand::MemberTokens(MemberTokenCommand::List),
        WorkspaceCommand::MemberTokens(MemberTokenCommand::Delete {
            token_id: "ak-1".into(),
            allow_missing: false,
        }),
        WorkspaceCommand::MemberTokens(MemberTokenCommand::Disable {
            token_ids: vec!["ak-1".into()],
        }),
        WorkspaceCommand::MemberTokens(MemberTokenCommand::Enable {
            token_ids: vec!["ak-1".into()],
        }),
    ];
    requests.extend(commands.into_iter().map(command));
    let auth = [
        AuthCommand::List,
        AuthCommand::Remove,
        AuthCommand::Check,
        AuthCommand::Import {
            all: true,
            scrub: false,
        },
        AuthCommand::Set {
            token_id: "ak-1".into(),
            server_url: None,
            secret: Secret::new("as-1".into()),
            verify: true,
        },
    ];
    requests.extend(auth.into_iter().map(|command| Request::Auth {
        selection: selection(),
        command,
    }));
    let webhooks = [
        WebhookCommand::List,
        WebhookCommand::SetSecret {
            name: "team".into(),
            secret: Some(Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into())),
        },
        WebhookCommand::SetSecret {
            name: "team".into(),
            secret: None,
        },
        WebhookCommand::DeleteSecret {
            name: "team".into(),
        },
        WebhookCommand::Test {
            name: "team".into(),
        },
        WebhookCommand::Retry {
            name: "team".into(),
        },
        WebhookCommand::Purge {
            name: "old-team".into(),
        },
    ];
    requests.extend(webhooks.into_iter().map(Request::Webhooks));
    requests
}

fn alert() -> Alert {
    Alert {
        plugin: "expiry".into(),
        kind: "token_age".into(),
        level: "warning".into(),
        since: 1.5,
        expires_at: 2.0,
        ..Default::default()
    }
}

fn webhook_report() -> WebhookReport {
    WebhookReport {
        endpoints: vec![WebhookEndpoint {
            name: "team".into(),
            target: "https://hooks.example.com".into(),
            format: "standard".into(),
            events: vec!["token.*".into()],
            has_secret: Some(true),
            last_error: Some("HTTP 500".into()),
            next_attempt_at: Some(2.5),
            ..Default::default()
        }],
        queued: 1,
        max_queue: 10,
        orphaned: 2,
        orphaned_endpoints: vec!["old-team".into()],
        sinks: vec!["webhook".into()],
        outbox: "/state/outbox".into(),
        ..Default::default()
    }
}

fn sample_responses() -> Vec<Response> {
    let created = CreatedToken {
        token_id: "wk-1".into(),
        token_secret: Secret::new("ws-1".into()),
    };
    let service_user = ServiceUser {
        environment_roles: vec![EnvironmentRole {
            environment: "prod".into(),
            role: "viewer".into(),
        }],
        ..Default::default()
    };
    let plugin = PluginInfo {
        name: "csv".into(),
        version: "1".into(),
        path: "/p".into(),
        formats: vec!["csv".into()],
        events: vec![],
        state: PluginState::Quarantined,
        reason: Some("crashed".into()),
        last_error: None,
    };
    let status = DaemonStatus {
        identities: vec![IdentityStatus {
            workspace: Some("acme".into()),
            members_age_secs: Some(0.5),
            token_info: Some(TokenInfo::default()),
            ..Default::default()
        }],
        plugins: vec![plugin.clone()],
        instance: "i".into(),
        last_event_seq: 3,
        webhooks: webhook_report(),
        ..Default::default()
    };
    vec![
        Response::Pong,
        Response::Ok,
        Response::Members(vec![Member::default()]),
        Response::Tokens(vec![ProxyToken::default()]),
        Response::Created(created.clone()),
        Response::Status(status),
        Response::Auth(AuthReport {
            profiles: vec![AuthProfile {
                workspace: Some("acme".into()),
                token_info: Some(TokenInfo::default()),
                ..Default::default()
            }],
            notes: vec!["n".into()],
            ..Default::default()
        }),
        Response::Event(Event {
            before: "null".into(),
            after: "{}".into(),
            seq: 9,
            ..Default::default()
        }),
        Response::error(ErrorKind::Unreachable, "down"),
        Response::Rendered("a,b\n".into()),
        Response::Plugins(vec![plugin]),
        Response::Alerts(vec![alert()]),
        Response::Settings(WorkspaceSettings::default()),
        Response::SettingSet {
            previous: "main".into(),
            error: Some("no".into()),
        },
        Response::ServiceUsers(vec![service_user.clone()]),
        Response::ServiceUser(service_user),
        Response::CreatedServiceUser(CreatedServiceUser {
            service_user_id: "su-1".into(),
            token_id: "ak-1".into(),
            token_secret: Secret::new("as-1".into()),
            expires_at: 0.0,
        }),
        Response::RoleSet {
            previous: "no-access".into(),
        },
        Response::MemberTokens(vec![MemberToken::default()]),
        Response::Rotated(RotatedToken {
            old_token_id: "wk-0".into(),
            name: "n".into(),
            created,
            environments: vec!["en-1".into()],
            environments_missing: vec![],
            old_deleted: false,
            failure: Some("delete failed".into()),
        }),
        Response::AlertReport(AlertReport {
            alerts: vec![alert()],
            judges: vec!["expiry".into()],
        }),
        Response::Lagged { missed: 12 },
        Response::Credential(ExportedCredential {
            token_id: "ak-1".into(),
            token_secret: Secret::new("as-1".into()),
            server_url: "http://x".into(),
            profile: String::new(),
        }),
        Response::Prompt(PromptInfo {
            profile: "p".into(),
            workspace: "acme".into(),
            alert: Some(alert()),
        }),
        Response::Names(vec!["main".into(), "prod".into()]),
        Response::Metrics("# TYPE mws_members gauge\nmws_members 3\n".into()),
        Response::Watching {
            instance: "i".into(),
            seq: 0,
        },
        Response::Webhooks(webhook_report()),
        Response::WebhookSecret(Some(Secret::new("whsec_x".into()))),
        Response::WebhookSecret(None),
        Response::WebhookQueued(2),
        Response::WebhookPurged {
            removed: 3,
            sending: 1,
        },
        Response::Resync {
            reason: ResyncReason::TooOld,
            instance: "i".into(),
            seq: 2000,
        },
    ]
}

/// Messages the schema must refuse.
fn negative_controls(recording: &mut Recording) {
    let mut event = serde_json::to_value(Response::Event(Event::default())).unwrap();
    event["Event"]["colour"] = json!("red");
    let refused = [
        ("Request", json!("Pong")),
        ("Request", json!({"Watch": {"since": {"seq": -1}}})),
        ("Request", json!({"Workspace": {"selection": {}}})),
        ("Response", json!({"Event": {"kind": "token.created"}})),
        ("Response", event),
        (
            "Response",
            json!({"Resync": {"reason": "bored", "instance": "i", "seq": 0}}),
        ),
        ("Response", json!({"Lagged": {"missed": 1}, "Ok": null})),
        ("ServerHello", json!({"protocol_version": 6})),
        ("Request", json!({"Webhooks": {"Test": {}}})),
        (
            "Response",
            json!({"Webhooks": {"endpoints": [{"name": "t", "target": "https://x", "format": "xml"}]}}),
        ),
    ];
    for (def, message) in refused {
        recording.add(def, &message, false);
    }
}

fn validate(python: &Path, recording: &Recording, dir: &Path) -> Value {
    let path = dir.join("recording.jsonl");
    let text: String = recording.lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let out = Command::new(python)
        .arg(workspace_root().join("tests/schema/validate.py"))
        .arg(workspace_root().join("docs/ipc.schema.json"))
        .arg(&path)
        .output()
        .expect("running the validator");
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schema validation failed ({:?}):\n{summary}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&summary).expect("the validator's summary")
}

#[test]
fn a_recorded_session_and_every_variant_match_the_published_schema() {
    // A real validator, or a clear failure (never a skip).
    let python = venv_python("jsonschema");
    let mut world = World::new();
    let emulator = start_emulator(&world.path("emu"), &[]).expect("emulator");
    world.use_emulator(&emulator);
    std::fs::write(
        world.path("home/.modal.toml"),
        format!(
            "[acme]\ntoken_id = \"{}\"\ntoken_secret = \"{}\"\nserver_url = \"{}\"\nactive = true\n",
            emulator.token_id, emulator.token_secret, emulator.url
        ),
    )
    .unwrap();
    ok(&world.mws(&["daemon", "start"]));

    let mut recording = Recording { lines: Vec::new() };
    let answers = record_session(&world, &mut recording);
    let recorded = recording.lines.len();
    let expected = [
        "Pong",
        "Status",
        "Auth",
        "Members",
        "Tokens",
        "MemberTokens",
        "ServiceUsers",
        "Settings",
        "AlertReport",
        "Plugins",
        "Alerts",
        "Prompt",
        "Names",
        "Metrics",
        "Webhooks",
        "Error",
        "Error",
        "Created",
        "Ok",
        "Event",
        "Event",
        "Watching",
        "Event",
        "Resync",
        "Pong",
        "Error",
    ];
    assert_eq!(answers, expected);

    let requests = sample_requests();
    let mut seen = [false; REQUEST_VARIANTS];
    for request in &requests {
        seen[request_index(request)] = true;
        recording.add("Request", &serde_json::to_value(request).unwrap(), true);
    }
    assert!(seen.iter().all(|s| *s), "a Request variant has no sample");
    let responses = sample_responses();
    let mut seen = [false; RESPONSE_VARIANTS];
    for response in &responses {
        seen[response_index(response)] = true;
        recording.add("Response", &serde_json::to_value(response).unwrap(), true);
    }
    assert!(seen.iter().all(|s| *s), "a Response variant has no sample");
    let hello = ServerHello {
        protocol_version: PROTOCOL_VERSION,
        daemon_version: "0".into(),
        pid: 1,
        features: vec![],
        error: Some("refused".into()),
    };
    recording.add("ServerHello", &serde_json::to_value(hello).unwrap(), true);
    negative_controls(&mut recording);

    let summary = validate(&python, &recording, world.root.path());
    eprintln!(
        "{recorded} recorded lines, {} request and {} response samples: {summary}",
        requests.len(),
        responses.len()
    );
    let valid: BTreeMap<String, u64> = serde_json::from_value(summary["valid"].clone()).unwrap();
    assert_eq!(
        valid.values().sum::<u64>() as usize,
        recorded - 1 + requests.len() + responses.len() + 1
    );
    // The negative controls and the unknown request sent in the session.
    assert_eq!(summary["refused"], 11);
}
