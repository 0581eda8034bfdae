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

use common::{emu_json, emu_ok, Creds, Server};
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
