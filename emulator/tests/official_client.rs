//! Conformance: Modal's official client (`modal==1.6.4`, unchanged) against a
//! real `mws-emulator`.
//!
//! The CLI is found at `$MWS_MODAL_CLI`, else `<workspace>/.venv/bin/modal`.
//! If it is missing the tests fail (never skip) and say how to install it.
//! Each run gets its own HOME and a `MODAL_CONFIG_PATH` that does not exist,
//! so the user's `~/.modal.toml` is never read; `TZ=UTC` makes timestamps
//! comparable; a wide `COLUMNS` keeps tables from wrapping.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{credentials, emu_json, emu_ok, Creds, Server};
use serde_json::{json, Value};

fn modal_cli() -> PathBuf {
    if let Some(p) = std::env::var_os("MWS_MODAL_CLI") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let cli = root.join(".venv/bin/modal");
    assert!(
        cli.exists(),
        "Modal's official CLI was not found at {} (or $MWS_MODAL_CLI). Install it with:\n  \
         python3 -m venv {root}/.venv && {root}/.venv/bin/pip install modal==1.6.4",
        cli.display(),
        root = root.display()
    );
    cli
}

/// The official CLI pointed at `server` with `creds` (or none).
struct Modal {
    cli: PathBuf,
    home: tempfile::TempDir,
    url: String,
    creds: Option<Creds>,
}

impl Modal {
    fn new(server: &Server, creds: Option<Creds>) -> Modal {
        Modal {
            cli: modal_cli(),
            home: tempfile::tempdir().expect("home"),
            url: server.url.clone(),
            creds,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.cli);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("MODAL_CONFIG_PATH", self.home.path().join("absent.toml"))
            .env("MODAL_SERVER_URL", &self.url)
            .env("TZ", "UTC")
            .env("COLUMNS", "250")
            .env("LANG", "C.UTF-8")
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(std::process::Stdio::null());
        if let Some(c) = &self.creds {
            cmd.env("MODAL_TOKEN_ID", &c.token_id)
                .env("MODAL_TOKEN_SECRET", &c.token_secret);
        }
        cmd.output().expect("run the official modal CLI")
    }

    /// Runs, asserts exit 0, returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "modal {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.ok(&a);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("modal {args:?}: bad JSON {out:?}: {e}"))
    }

    /// The same CLI and server with other credentials.
    fn as_(&self, server: &Server, creds: &Creds) -> Modal {
        Modal::new(server, Some(creds.clone()))
    }

    /// Runs, asserts exit 1 and that stdout contains `needle` (for commands
    /// that report errors on stdout, like `settings set`).
    fn fails_on_stdout(&self, args: &[&str], needle: &str) {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "modal {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(needle),
            "modal {args:?}: {needle:?} not in {stdout:?}"
        );
    }

    /// Runs, asserts exit 1 with `Error: <message>` on stderr and nothing on stdout.
    fn fails(&self, args: &[&str], message: &str) {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "modal {args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("Error: {message}")),
            "modal {args:?}: expected 'Error: {message}' in {stderr:?}"
        );
        assert!(
            out.stdout.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// A seeded emulator and its printed credential.
fn seeded(dir: &Path) -> (Server, Creds) {
    let db = dir.join("official.db");
    let v = emu_json(&db, &["seed", "demo"]);
    assert_eq!(v["seeded"], true);
    let creds = Creds {
        token_id: v["token_id"].as_str().expect("token_id").into(),
        token_secret: v["token_secret"].as_str().expect("token_secret").into(),
    };
    (Server::start(dir, &db), creds)
}

fn token_ids(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|t| t["token_id"].as_str().expect("token_id").to_string())
        .collect()
}

fn count_calls(server: &Server, method: &str) -> usize {
    server
        .calls()
        .iter()
        .filter(|c| c["method"] == method)
        .count()
}

#[test]
fn listings_match_the_store_and_admin_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, creds) = seeded(dir.path());
    let db = server.db.clone();
    let modal = Modal::new(&server, Some(creds));

    let members = modal.json(&["workspace", "members", "list"]);
    assert_eq!(
        members,
        json!([
            {"name": "Ada Lovelace", "email": "ada@acme-ml.example", "role": "owner",
             "user_id": members[0]["user_id"], "joined": "2024-03-04 09:15:00+00:00",
             "last_active": "2025-06-24 10:30:00+00:00"},
            {"name": "Alan Turing", "email": "alan@acme-ml.example", "role": "member",
             "user_id": members[1]["user_id"], "joined": "2024-06-20 08:00:00+00:00",
             "last_active": "2025-06-14 11:20:00+00:00"},
            {"name": "Grace Hopper", "email": "grace@acme-ml.example", "role": "manager",
             "user_id": members[2]["user_id"], "joined": "2024-03-11 10:00:00+00:00",
             "last_active": "2025-06-23 12:00:00+00:00"},
            {"name": "Katherine Johnson", "email": "katherine@acme-ml.example", "role": "member",
             "user_id": members[3]["user_id"], "joined": "2025-01-15 10:00:00+00:00",
             "last_active": null},
            {"name": "Margaret Hamilton", "email": "margaret@acme-ml.example", "role": "owner",
             "user_id": members[4]["user_id"], "joined": "2024-03-05 09:13:20+00:00",
             "last_active": "2025-06-21 10:00:00+00:00"},
        ])
    );
    for m in members.as_array().expect("array") {
        assert!(m["user_id"].as_str().expect("user_id").starts_with("us-"));
    }
    let table = modal.ok(&["workspace", "members", "list"]);
    for needle in [
        "Name",
        "Email",
        "Last active",
        "Ada Lovelace",
        "grace@acme-ml.example",
        "manager",
    ] {
        assert!(table.contains(needle), "{needle} missing from\n{table}");
    }

    let tokens = modal.json(&["workspace", "proxy-tokens", "list"]);
    let all = token_ids(&tokens);
    assert_eq!(
        tokens
            .as_array()
            .expect("array")
            .iter()
            .map(|t| (
                t["name"].as_str().unwrap_or_default(),
                t["created_at"].as_str().unwrap_or_default(),
                t["created_by"].as_str().unwrap_or_default(),
                t["scoped"].as_bool().expect("bool"),
            ))
            .collect::<Vec<_>>(),
        [
            ("ci-deploy", "2025-01-10 09:06:40+00:00", "ada", false),
            (
                "grafana-webhook",
                "2025-02-19 21:20:00+00:00",
                "grace",
                false
            ),
            ("prod-ingest", "2025-04-18 18:13:20+00:00", "grace", true),
            ("", "2025-05-23 11:33:20+00:00", "alan", false),
        ]
    );
    let table = modal.ok(&["workspace", "proxy-tokens", "list"]);
    assert!(table.contains("prod-ingest") && table.contains("True") && table.contains("False"));

    // -e: tokens allowed in the environment plus unscoped ones.
    let prod = token_ids(&modal.json(&["workspace", "proxy-tokens", "list", "-e", "prod"]));
    assert_eq!(prod, all);
    let main = token_ids(&modal.json(&["workspace", "proxy-tokens", "list", "-e", "main"]));
    assert_eq!(main, [all[0].clone(), all[1].clone(), all[3].clone()]);
    modal.fails(
        &["workspace", "proxy-tokens", "list", "-e", "nope"],
        "Environment 'nope' not found.",
    );

    // Changes made with `mws-emulator admin` show up in the next listing.
    emu_ok(
        &db,
        &[
            "admin",
            "member",
            "add",
            "bob@acme-ml.example",
            "--name",
            "Bob",
            "--joined-at",
            "1700000000",
        ],
    );
    emu_ok(
        &db,
        &[
            "admin",
            "member",
            "set-role",
            "alan@acme-ml.example",
            "manager",
        ],
    );
    emu_ok(
        &db,
        &["admin", "member", "remove", "katherine@acme-ml.example"],
    );
    let created = emu_json(
        &db,
        &[
            "admin",
            "token",
            "create",
            "--as",
            "bob@acme-ml.example",
            "--name",
            "bobs-token",
        ],
    );
    let bob_token = created["token_id"].as_str().expect("token_id").to_string();
    emu_ok(&db, &["admin", "token", "rename", &all[0], "ci-deploy-v2"]);
    emu_ok(&db, &["admin", "token", "delete", &all[1]]);
    emu_ok(&db, &["admin", "token", "revoke", &all[2], "prod"]);
    emu_ok(&db, &["admin", "env", "add", "staging"]);
    emu_ok(&db, &["admin", "token", "allow", &all[2], "staging"]);

    let members = modal.json(&["workspace", "members", "list"]);
    let rows: Vec<(String, String)> = members
        .as_array()
        .expect("array")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_string(),
                m["role"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("Ada Lovelace", "owner"),
        ("Alan Turing", "manager"),
        ("Bob", "member"),
        ("Grace Hopper", "manager"),
        ("Margaret Hamilton", "owner"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(rows, expected);
    assert_eq!(members[2]["joined"], "2023-11-14 22:13:20+00:00");

    let tokens = modal.json(&["workspace", "proxy-tokens", "list"]);
    assert_eq!(
        token_ids(&tokens),
        [
            all[0].clone(),
            all[2].clone(),
            all[3].clone(),
            bob_token.clone()
        ]
    );
    assert_eq!(tokens[0]["name"], "ci-deploy-v2");
    assert_eq!(tokens[3]["created_by"], "bob");
    let prod = token_ids(&modal.json(&["workspace", "proxy-tokens", "list", "-e", "prod"]));
    assert_eq!(prod, [all[0].clone(), all[3].clone(), bob_token.clone()]);
    let staging = token_ids(&modal.json(&["workspace", "proxy-tokens", "list", "-e", "staging"]));
    assert_eq!(
        staging,
        [all[0].clone(), all[2].clone(), all[3].clone(), bob_token]
    );

    // Workspace rename is visible to the lookup the client makes first.
    emu_ok(&db, &["admin", "workspace", "rename", "acme-renamed"]);
    modal.ok(&["workspace", "members", "list", "--json"]);
}

#[test]
fn proxy_token_lifecycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, creds) = seeded(dir.path());
    let db = server.db.clone();
    let modal = Modal::new(&server, Some(creds));

    let created = modal.json(&[
        "workspace",
        "proxy-tokens",
        "create",
        "--name",
        "from-official",
    ]);
    let id = created["Modal-Key"]
        .as_str()
        .expect("Modal-Key")
        .to_string();
    let secret = created["Modal-Secret"]
        .as_str()
        .expect("Modal-Secret")
        .to_string();
    assert!(id.starts_with("wk-") && secret.starts_with("ws-"));
    assert_eq!(created["Authorization"], format!("Bearer {id}.{secret}"));
    assert_eq!(count_calls(&server, "WebhookTokenCreate"), 1);

    let table = modal.ok(&["workspace", "proxy-tokens", "create"]);
    assert!(
        table.contains("Modal-Key: wk-") && table.contains("Authorization: Bearer wk-"),
        "{table}"
    );

    let tokens = modal.json(&["workspace", "proxy-tokens", "list"]);
    let mine = tokens
        .as_array()
        .expect("array")
        .iter()
        .find(|t| t["token_id"] == id.as_str())
        .expect("created token listed");
    assert_eq!(mine["name"], "from-official");
    assert_eq!(mine["created_by"], "ada");
    assert_eq!(mine["scoped"], false);
    assert_eq!(tokens.as_array().expect("array").len(), 6);

    let out = modal.ok(&[
        "workspace",
        "proxy-tokens",
        "update",
        &id,
        "name",
        "renamed",
    ]);
    assert!(
        out.contains(&format!("✓ Updated proxy token '{id}'")),
        "{out}"
    );
    let tokens = modal.json(&["workspace", "proxy-tokens", "list"]);
    assert!(tokens
        .as_array()
        .expect("array")
        .iter()
        .any(|t| t["token_id"] == id.as_str() && t["name"] == "renamed"));

    // allow / revoke on a scoped token (created as an admin would).
    let scoped = emu_ok(
        &db,
        &["admin", "token", "create", "--scoped", "--name", "scoped"],
    )
    .trim()
    .to_string();
    let in_prod =
        |m: &Modal| token_ids(&m.json(&["workspace", "proxy-tokens", "list", "-e", "prod"]));
    assert!(!in_prod(&modal).contains(&scoped));
    let out = modal.ok(&["workspace", "proxy-tokens", "allow", &scoped, "prod"]);
    assert!(
        out.replace('\n', " ").contains(&format!(
            "✓ Allowed proxy token '{scoped}' to authenticate to environment 'prod'"
        )),
        "{out}"
    );
    assert!(in_prod(&modal).contains(&scoped));
    let out = modal.ok(&["workspace", "proxy-tokens", "revoke", &scoped, "prod"]);
    assert!(
        out.replace('\n', " ").contains(&format!(
            "✓ Revoked proxy token '{scoped}' access to environment 'prod'"
        )),
        "{out}"
    );
    assert!(!in_prod(&modal).contains(&scoped));

    let out = modal.ok(&["workspace", "proxy-tokens", "delete", &id, "--yes"]);
    assert!(
        out.contains(&format!("✓ Deleted proxy token '{id}'")),
        "{out}"
    );
    let tokens = token_ids(&modal.json(&["workspace", "proxy-tokens", "list"]));
    assert!(!tokens.contains(&id));
    assert_eq!(tokens.len(), 6);

    // Error paths: the server's message, verbatim, exit 1.
    modal.fails(
        &[
            "workspace",
            "proxy-tokens",
            "update",
            "wk-nope",
            "name",
            "x",
        ],
        "Proxy token 'wk-nope' not found.",
    );
    modal.fails(
        &["workspace", "proxy-tokens", "delete", &id, "--yes"],
        &format!("Proxy token '{id}' not found."),
    );
    modal.fails(
        &["workspace", "proxy-tokens", "allow", &scoped, "staging"],
        "Environment 'staging' not found.",
    );
    modal.fails(
        &["workspace", "proxy-tokens", "allow", "wk-nope", "prod"],
        "Proxy token 'wk-nope' not found.",
    );
    modal.fails(
        &["workspace", "proxy-tokens", "revoke", "wk-nope", "prod"],
        "Proxy token 'wk-nope' not found.",
    );
    let long = "x".repeat(101);
    modal.fails(
        &[
            "workspace",
            "proxy-tokens",
            "update",
            &scoped,
            "name",
            &long,
        ],
        "Proxy token name is too long (101 characters; the limit is 100).",
    );
    // None of the failures changed anything.
    assert_eq!(
        token_ids(&modal.json(&["workspace", "proxy-tokens", "list"])),
        tokens
    );
}

#[test]
fn authentication_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, creds) = seeded(dir.path());

    let wrong = Modal::new(
        &server,
        Some(Creds {
            token_id: creds.token_id.clone(),
            token_secret: "as-wrongwrongwrongwrongwr".into(),
        }),
    );
    wrong.fails(
        &["workspace", "members", "list"],
        "Invalid token ID or token secret.",
    );
    wrong.fails(
        &["workspace", "proxy-tokens", "list", "--json"],
        "Invalid token ID or token secret.",
    );
    let calls = server.calls();
    assert!(
        calls.iter().all(|c| c["code"] == "UNAUTHENTICATED"),
        "{calls:?}"
    );
    assert!(!std::fs::read_to_string(&server.call_log)
        .expect("log")
        .contains("as-wrong"));

    // Without credentials the official client refuses before calling.
    let before = server.calls().len();
    let none = Modal::new(&server, None);
    none.fails(
        &["workspace", "members", "list"],
        "Token missing. Could not authenticate client.",
    );
    assert_eq!(server.calls().len(), before);

    // With the right credential, the same command works.
    let ok = Modal::new(&server, Some(creds));
    ok.json(&["workspace", "members", "list"]);
}

/// The official client's TLS path: `https://` to an emulator serving a
/// self-signed certificate. The client is unchanged; only its trust store is
/// pointed at our CA (it trusts `certifi`'s bundle, so a `sitecustomize` on
/// `PYTHONPATH` makes `certifi.where()` return our certificate, as a user
/// adding a corporate CA would).
#[test]
fn tls_with_official_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("cert");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).expect("cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("key");
    let site = dir.path().join("site");
    std::fs::create_dir(&site).expect("site dir");
    std::fs::write(
        site.join("sitecustomize.py"),
        "import os\nimport certifi\n_ca = os.environ.get('MWS_TEST_CA')\nif _ca:\n    certifi.where = lambda: _ca\n",
    )
    .expect("sitecustomize");

    let db = dir.path().join("tls.db");
    let v = emu_json(&db, &["seed", "demo"]);
    let creds = Creds {
        token_id: v["token_id"].as_str().expect("token_id").into(),
        token_secret: v["token_secret"].as_str().expect("token_secret").into(),
    };
    let server = Server::start_with(
        dir.path(),
        &db,
        &[
            "--tls-cert",
            cert.to_str().expect("utf-8"),
            "--tls-key",
            key.to_str().expect("utf-8"),
        ],
    );
    assert!(server.url.starts_with("https://127.0.0.1:"));
    let modal = Modal::new(&server, Some(creds));
    let run = |args: &[&str]| {
        let mut cmd = Command::new(&modal.cli);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", modal.home.path())
            .env("MODAL_CONFIG_PATH", modal.home.path().join("absent.toml"))
            .env("MODAL_SERVER_URL", &modal.url)
            .env("TZ", "UTC")
            .env("PYTHONPATH", &site)
            .env("MWS_TEST_CA", &cert)
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(std::process::Stdio::null());
        if let Some(c) = &modal.creds {
            cmd.env("MODAL_TOKEN_ID", &c.token_id)
                .env("MODAL_TOKEN_SECRET", &c.token_secret);
        }
        cmd.output().expect("run the official modal CLI")
    };
    let out = run(&["workspace", "proxy-tokens", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tokens: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(tokens.as_array().expect("array").len(), 4);
    assert_eq!(count_calls(&server, "WebhookTokenList"), 1);
}

/// Unix seconds as the official CLI prints them in JSON with `TZ=UTC`.
fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Whether `shown` is `utc(t)` for some `t` in `from..=to`.
fn shown_between(shown: &Value, from: i64, to: i64) -> bool {
    (from..=to).any(|t| shown.as_str() == Some(utc(t).as_str()))
}

fn creds_of(v: &Value) -> Creds {
    Creds {
        token_id: v["token_id"].as_str().expect("token_id").into(),
        token_secret: v["token_secret"].as_str().expect("token_secret").into(),
    }
}

#[test]
fn utc_formats_like_the_official_cli() {
    assert_eq!(utc(1_709_543_700), "2024-03-04 09:15:00+00:00");
    assert_eq!(utc(1_735_689_600), "2025-01-01 00:00:00+00:00");
    assert_eq!(utc(951_782_400), "2000-02-29 00:00:00+00:00");
}

#[test]
fn workspace_settings_list_and_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, creds) = seeded(dir.path());
    let owner = Modal::new(&server, Some(creds));
    let alan = owner.as_(
        &server,
        &credentials(&server.db, Some("alan@acme-ml.example")),
    );
    let grace = owner.as_(
        &server,
        &credentials(&server.db, Some("grace@acme-ml.example")),
    );

    assert_eq!(
        owner.json(&["workspace", "settings", "list"]),
        json!([
            {"setting": "default-environment", "value": "main"},
            {"setting": "image-builder-version", "value": "2025.06"},
        ])
    );
    let table = grace.ok(&["workspace", "settings", "list"]);
    for needle in ["Setting", "Value", "default-environment", "main", "2025.06"] {
        assert!(table.contains(needle), "{needle} missing from\n{table}");
    }

    let out = owner.ok(&[
        "workspace",
        "settings",
        "set",
        "image-builder-version",
        "2024.10",
    ]);
    assert_eq!(
        out.trim(),
        "✓ image-builder-version: updated from 2025.06 to 2024.10"
    );
    let out = grace.ok(&[
        "workspace",
        "settings",
        "set",
        "default-environment",
        "prod",
    ]);
    assert_eq!(
        out.trim(),
        "✓ default-environment: updated from main to prod"
    );
    assert_eq!(
        owner.json(&["workspace", "settings", "list"]),
        json!([
            {"setting": "default-environment", "value": "prod"},
            {"setting": "image-builder-version", "value": "2024.10"},
        ])
    );
    assert_eq!(count_calls(&server, "WorkspaceSetImageBuilderVersion"), 1);
    assert_eq!(count_calls(&server, "WorkspaceSetDefaultEnvironment"), 1);

    // Errors: `settings set` reports them on stdout with a cross, exit 1.
    owner.fails_on_stdout(
        &["workspace", "settings", "set", "image-builder-version", "2099.01"],
        "✗ image-builder-version: Unknown image builder version '2099.01'. Known versions: 2023.12, 2024.04, 2024.10, 2025.06, PREVIEW.",
    );
    owner.fails_on_stdout(
        &[
            "workspace",
            "settings",
            "set",
            "default-environment",
            "nope",
        ],
        "✗ default-environment: Environment 'nope' not found.",
    );
    // A plain member may neither read nor change them.
    alan.fails(
        &["workspace", "settings", "list"],
        "Only workspace managers and owners can view workspace settings.",
    );
    alan.fails(
        &[
            "workspace",
            "settings",
            "set",
            "default-environment",
            "main",
        ],
        "Only workspace managers and owners can view workspace settings.",
    );
    assert_eq!(
        owner.json(&["workspace", "settings", "list"])[0]["value"],
        "prod",
        "nothing changed"
    );
}

#[test]
fn service_users_create_list_info_set_role_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded_from = unix_now();
    let (server, creds) = seeded(dir.path());
    let seeded_to = unix_now();
    let owner = Modal::new(&server, Some(creds));
    let alan = owner.as_(
        &server,
        &credentials(&server.db, Some("alan@acme-ml.example")),
    );
    let three_days = 3 * 86_400;

    // The seeded ones.
    let list = owner.json(&["workspace", "service-users", "list"]);
    let rows = list.as_array().expect("array");
    assert_eq!(rows.len(), 2);
    assert!(rows[0]["service_user_id"]
        .as_str()
        .expect("id")
        .starts_with("su-"));
    assert!(rows[0]["token_id"].as_str().expect("id").starts_with("ak-"));
    assert_eq!(
        rows[0],
        json!({"name": "ci-deployer", "service_user_id": rows[0]["service_user_id"],
               "token_id": rows[0]["token_id"], "created_by": "ada",
               "created_at": "2025-01-16 04:00:00+00:00", "last_used_at": null,
               "expires_at": null, "environment_roles": {"main": "contributor"}})
    );
    assert_eq!(
        rows[1],
        json!({"name": "nightly-eval", "service_user_id": rows[1]["service_user_id"],
               "token_id": rows[1]["token_id"], "created_by": "grace",
               "created_at": "2025-06-15 15:06:40+00:00", "last_used_at": null,
               "expires_at": rows[1]["expires_at"], "environment_roles": {"prod": "viewer"}})
    );
    assert!(
        shown_between(
            &rows[1]["expires_at"],
            seeded_from + three_days,
            seeded_to + three_days
        ),
        "nightly-eval expires three days after the seed: {}",
        rows[1]["expires_at"]
    );
    let table = owner.ok(&["workspace", "service-users", "list"]);
    for needle in [
        "Name",
        "Token ID",
        "Created By",
        "Expires",
        "ci-deployer",
        "nightly-eval",
        "grace",
    ] {
        assert!(table.contains(needle), "{needle} missing from\n{table}");
    }

    // Create: JSON, with an expiry, and the human form.
    let bot = owner.json(&["workspace", "service-users", "create", "bot"]);
    assert_eq!(bot["expires_at"], Value::Null);
    assert!(bot["token_id"].as_str().expect("id").starts_with("ak-"));
    assert!(bot["token_secret"]
        .as_str()
        .expect("secret")
        .starts_with("as-"));
    let before = unix_now();
    let hourly = owner.json(&[
        "workspace",
        "service-users",
        "create",
        "hourly",
        "--expires-in",
        "1h",
    ]);
    let after = unix_now();
    assert!(
        shown_between(&hourly["expires_at"], before + 3600, after + 3600),
        "{}",
        hourly["expires_at"]
    );
    let text = owner.ok(&["workspace", "service-users", "create", "bot3"]);
    assert!(
        text.contains("✓ Successfully created Service User bot3."),
        "{text}"
    );
    assert!(text.contains("export MODAL_TOKEN_ID=ak-"), "{text}");
    assert!(text.contains("export MODAL_TOKEN_SECRET=as-"), "{text}");

    // Its credential works, as a service user.
    let bot_modal = owner.as_(&server, &creds_of(&bot));
    let info = bot_modal.ok(&["token", "info"]);
    assert!(
        info.contains(&format!("Token: {}", bot["token_id"].as_str().expect("id"))),
        "{info}"
    );
    assert!(info.contains("Workspace: acme-ml (ac-"), "{info}");
    assert!(info.contains("Service User: bot (su-"), "{info}");
    assert!(info.contains("Created By: ada (us-"), "{info}");

    // Info.
    let i = owner.json(&["workspace", "service-users", "info", "bot"]);
    assert_eq!(i["name"], "bot");
    assert_eq!(i["token_id"], bot["token_id"]);
    assert_eq!(i["created_by"], "ada");
    assert_eq!(i["environment_roles"], json!({}));
    assert!(i["last_used_at"].is_string(), "used by token info: {i}");
    let text = owner.ok(&["workspace", "service-users", "info", "bot"]);
    assert!(
        text.contains("This Service User does not have access to any Environments."),
        "{text}"
    );

    // Roles.
    let set_role = |env: &str, role: &str| {
        owner
            .ok(&["workspace", "service-users", "set-role", "bot", env, role])
            .trim()
            .to_string()
    };
    assert_eq!(
        set_role("main", "contributor"),
        "✓ Updated Service User bot's role in Environment main to Contributor."
    );
    assert_eq!(
        set_role("main", "contributor"),
        "Service User bot is already a Contributor in Environment main. Role was not updated."
    );
    assert_eq!(
        set_role("prod", "viewer"),
        "✓ Updated Service User bot's role in Environment prod to Viewer."
    );
    assert_eq!(
        owner.json(&["workspace", "service-users", "info", "bot"])["environment_roles"],
        json!({"main": "contributor", "prod": "viewer"})
    );
    let text = owner.ok(&["workspace", "service-users", "info", "bot"]);
    assert!(
        text.contains("Environment Access:") && text.contains("Contributor"),
        "{text}"
    );
    assert_eq!(
        set_role("main", "no-access"),
        "✓ Revoked Service User bot's access to Environment main."
    );
    assert_eq!(
        owner.json(&["workspace", "service-users", "info", "bot"])["environment_roles"],
        json!({"prod": "viewer"})
    );

    // Errors.
    owner.fails(
        &["workspace", "service-users", "create", "bot"],
        "Service user 'bot' already exists.",
    );
    owner.fails(
        &["workspace", "service-users", "create", "bad name"],
        "Invalid service user name: 'bad name'. Names are 1-64 characters: letters, digits, '-' and '_'.",
    );
    owner.fails(
        &["workspace", "service-users", "info", "ghost"],
        "Service user 'ghost' not found.",
    );
    owner.fails(
        &[
            "workspace",
            "service-users",
            "set-role",
            "bot",
            "main",
            "admin",
        ],
        "Invalid environment role 'admin'. Roles are contributor, viewer and no-access.",
    );
    owner.fails(
        &[
            "workspace",
            "service-users",
            "set-role",
            "bot",
            "nope",
            "viewer",
        ],
        "Environment 'nope' not found.",
    );
    owner.fails(
        &[
            "workspace",
            "service-users",
            "set-role",
            "ghost",
            "main",
            "viewer",
        ],
        "Service user 'ghost' not found.",
    );
    let denied = "Only workspace managers and owners can manage service users.";
    alan.fails(&["workspace", "service-users", "list"], denied);
    alan.fails(&["workspace", "service-users", "create", "mine"], denied);
    alan.fails(
        &["workspace", "service-users", "delete", "bot", "-y"],
        denied,
    );
    bot_modal.fails(&["workspace", "service-users", "list"], denied);

    // Delete: the credential stops working; --allow-missing tolerates NOT_FOUND.
    let out = owner.ok(&["workspace", "service-users", "delete", "bot", "-y"]);
    assert_eq!(out.trim(), "✓ Deleted Service User `bot`.");
    bot_modal.fails(&["token", "info"], "Invalid token ID or token secret.");
    owner.fails(
        &["workspace", "service-users", "delete", "bot", "-y"],
        "Service user 'bot' not found.",
    );
    let out = owner.ok(&[
        "workspace",
        "service-users",
        "delete",
        "bot",
        "-y",
        "--allow-missing",
    ]);
    assert_eq!(out.trim(), "✓ Deleted Service User `bot`.");
    let names: Vec<_> = owner
        .json(&["workspace", "service-users", "list"])
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(names, ["ci-deployer", "nightly-eval", "hourly", "bot3"]);

    // An expired service user's credential is refused.
    let gone = creds_of(&emu_json(
        &server.db,
        &[
            "admin",
            "service-user",
            "add",
            "gone",
            "--expires-at",
            "1000",
        ],
    ));
    owner
        .as_(&server, &gone)
        .fails(&["token", "info"], "Invalid token ID or token secret.");
}

#[test]
fn member_tokens_list_delete_disable_enable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, creds) = seeded(dir.path());
    let owner = Modal::new(&server, Some(creds.clone()));
    let alan_creds = credentials(&server.db, Some("alan@acme-ml.example"));
    let alan = owner.as_(&server, &alan_creds);

    // The seeded tokens, as an owner sees them (all of them).
    let list = owner.json(&["workspace", "member-tokens", "list"]);
    let rows = list.as_array().expect("array");
    assert_eq!(rows.len(), 6, "{list}");
    let id = |i: usize| rows[i]["token_id"].as_str().expect("id").to_string();
    let uid = |i: usize| rows[i]["user_id"].clone();
    assert_eq!(
        rows[..4],
        [
            json!({"name": "grace-laptop", "token_id": id(0), "user_id": uid(0),
                   "username": "Grace Hopper", "created_at": "2025-02-25 16:13:20+00:00",
                   "last_used_at": "2025-06-23 12:00:00+00:00", "expires_at": null,
                   "disabled": false}),
            json!({"name": "alan-notebook", "token_id": id(1), "user_id": uid(1),
                   "username": "Alan Turing", "created_at": "2024-08-30 06:40:00+00:00",
                   "last_used_at": "2024-12-24 00:26:40+00:00",
                   "expires_at": "2025-01-01 00:00:00+00:00", "disabled": false}),
            json!({"name": "alan-ci", "token_id": id(2), "user_id": uid(2),
                   "username": "Alan Turing", "created_at": "2025-04-24 13:06:40+00:00",
                   "last_used_at": "2025-04-30 08:00:00+00:00", "expires_at": null,
                   "disabled": true}),
            json!({"name": "margaret-cli", "token_id": id(3), "user_id": uid(3),
                   "username": "Margaret Hamilton", "created_at": "2025-05-29 06:26:40+00:00",
                   "last_used_at": null, "expires_at": null, "disabled": false}),
        ]
    );
    // Ada's printed credential, used by these very calls; then Alan's.
    assert_eq!(rows[4]["token_id"], creds.token_id.as_str());
    assert_eq!(rows[4]["name"], Value::Null);
    assert_eq!(rows[4]["username"], "Ada Lovelace");
    assert!(rows[4]["last_used_at"].is_string(), "{}", rows[4]);
    assert_eq!(rows[5]["token_id"], alan_creds.token_id.as_str());
    let (grace_laptop, alan_notebook, alan_ci, margaret_cli) = (id(0), id(1), id(2), id(3));
    let table = owner.ok(&["workspace", "member-tokens", "list"]);
    for needle in [
        "Token ID",
        "Created By",
        "Expires",
        "Disabled",
        "True",
        "grace-laptop",
        "Margaret Hamilton",
        "2025-01-01 00:00",
    ] {
        assert!(table.contains(needle), "{needle} missing from\n{table}");
    }

    // `modal token info` for a member token.
    let info = owner.ok(&["token", "info"]);
    assert!(
        info.contains(&format!("Token: {}", creds.token_id)),
        "{info}"
    );
    assert!(info.contains("User: ada (us-"), "{info}");

    // A plain member sees and manages only their own.
    let mine: Vec<_> = alan
        .json(&["workspace", "member-tokens", "list"])
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t["token_id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(
        mine,
        [
            alan_notebook.clone(),
            alan_ci.clone(),
            alan_creds.token_id.clone()
        ]
    );
    let denied = "Only workspace managers and owners can manage other members' tokens.";
    alan.fails(
        &["workspace", "member-tokens", "delete", &grace_laptop, "-y"],
        denied,
    );
    alan.fails(
        &["workspace", "member-tokens", "disable", &grace_laptop, "-y"],
        denied,
    );
    let out = alan.ok(&["workspace", "member-tokens", "enable", &alan_ci, "-y"]);
    assert_eq!(out.trim(), "✓ Enabled 1 token.");

    // An owner disables, enables and deletes anyone's.
    let out = owner.ok(&[
        "workspace",
        "member-tokens",
        "disable",
        &grace_laptop,
        &margaret_cli,
        "-y",
    ]);
    assert_eq!(out.trim(), "✓ Disabled 2 tokens.");
    let disabled = |m: &Modal| -> Vec<(String, bool)> {
        m.json(&["workspace", "member-tokens", "list"])
            .as_array()
            .expect("array")
            .iter()
            .map(|t| {
                (
                    t["token_id"].as_str().expect("id").to_string(),
                    t["disabled"].as_bool().expect("bool"),
                )
            })
            .collect()
    };
    let state = disabled(&owner);
    for (t, d) in &state {
        let expect = *t == grace_laptop || *t == margaret_cli;
        assert_eq!(*d, expect, "{t}: {state:?}");
    }
    let out = owner.ok(&["workspace", "member-tokens", "enable", &grace_laptop, "-y"]);
    assert_eq!(out.trim(), "✓ Enabled 1 token.");
    let out = owner.ok(&["workspace", "member-tokens", "delete", &margaret_cli, "-y"]);
    assert_eq!(out.trim(), format!("✓ Deleted Token `{margaret_cli}`."));
    owner.fails(
        &["workspace", "member-tokens", "delete", &margaret_cli, "-y"],
        &format!("Token '{margaret_cli}' not found."),
    );
    let out = owner.ok(&[
        "workspace",
        "member-tokens",
        "delete",
        "ak-doesnotexist",
        "-y",
        "--allow-missing",
    ]);
    assert_eq!(out.trim(), "✓ Deleted Token `ak-doesnotexist`.");
    owner.fails(
        &[
            "workspace",
            "member-tokens",
            "enable",
            "ak-doesnotexist",
            "-y",
        ],
        "Token 'ak-doesnotexist' not found.",
    );
    assert!(!disabled(&owner).iter().any(|(t, _)| *t == margaret_cli));

    // A disabled credential is refused like a wrong one; enabled, it works.
    let g = creds_of(&emu_json(
        &server.db,
        &[
            "admin",
            "member-token",
            "add",
            "--member",
            "grace@acme-ml.example",
            "--name",
            "grace-ci",
        ],
    ));
    let grace = owner.as_(&server, &g);
    grace.json(&["workspace", "member-tokens", "list"]);
    owner.ok(&["workspace", "member-tokens", "disable", &g.token_id, "-y"]);
    grace.fails(
        &["workspace", "member-tokens", "list"],
        "Invalid token ID or token secret.",
    );
    owner.ok(&["workspace", "member-tokens", "enable", &g.token_id, "-y"]);
    let info = grace.ok(&["token", "info"]);
    assert!(info.contains("Name: grace-ci"), "{info}");
    // An expired one too.
    let old = creds_of(&emu_json(
        &server.db,
        &[
            "admin",
            "member-token",
            "add",
            "--member",
            "grace@acme-ml.example",
            "--expires-at",
            "1000",
        ],
    ));
    owner.as_(&server, &old).fails(
        &["workspace", "members", "list"],
        "Invalid token ID or token secret.",
    );

    // `disable --all` as a plain member: all of their own, their current
    // credential included, and nobody else's.
    let out = alan.ok(&["workspace", "member-tokens", "disable", "--all", "-y"]);
    assert_eq!(out.trim(), "✓ Disabled 3 tokens.");
    alan.fails(
        &["workspace", "member-tokens", "list"],
        "Invalid token ID or token secret.",
    );
    for (t, d) in disabled(&owner) {
        let alans = [&alan_notebook, &alan_ci, &alan_creds.token_id].contains(&&t);
        assert_eq!(d, alans, "{t}");
    }
}
