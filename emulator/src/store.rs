//! The emulator's state, in one SQLite file.
//!
//! Why SQLite: the emulator must keep a workspace across restarts, survive a
//! `kill -9` without losing an acknowledged write, and let `mws-emulator admin`
//! (a separate process) change the workspace while a server runs on the same
//! file. SQLite in WAL mode with `synchronous=FULL` gives all three: a commit is
//! on disk before we answer, readers never block the writer, and
//! `busy_timeout` makes the two processes take turns instead of failing.
//!
//! Layout:
//! - the schema is a list of migrations applied in order, tracked in
//!   `PRAGMA user_version`; the file is marked as ours with
//!   `PRAGMA application_id` so that pointing `--db` at some other SQLite file
//!   is refused rather than "migrated";
//! - [`Store`] is a cheap, cloneable handle with a small pool of connections;
//!   every call is blocking, so async callers run it on `spawn_blocking`;
//! - the query functions take a `&Connection` (a `Transaction` derefs to one),
//!   so the caller decides the transaction boundaries: the gRPC service puts a
//!   mutation and its idempotency record in one `BEGIN IMMEDIATE` transaction.
//!
//! Secrets (API token secrets, proxy token secrets) are stored only as SHA-256
//! digests and compared in constant time.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mws_modal_api::proto;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use subtle::ConstantTimeEq;

use crate::ids;

/// `PRAGMA application_id` of an mws-emulator store ("mwse").
pub const APPLICATION_ID: i32 = 0x6d77_7365;

/// How long a connection waits for another writer (the server or an admin
/// command in another process) before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle connections kept for reuse.
const MAX_IDLE: usize = 8;

/// Longest proxy token name accepted, in characters.
pub const MAX_TOKEN_NAME_CHARS: usize = 100;

/// Longest environment or workspace name accepted, in characters (the official
/// client's own rule for environment names).
pub const MAX_ENV_NAME_CHARS: usize = 64;

/// Longest `x-idempotency-key` accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 256;

/// Idempotency records older than this are pruned when a store is opened.
const IDEMPOTENCY_RETENTION_SECS: f64 = 7.0 * 24.0 * 3600.0;

/// The image builder version of a new workspace.
pub const IMAGE_BUILDER_VERSION: &str = "2025.06";

/// Image builder versions `WorkspaceSetImageBuilderVersion` accepts (Modal's
/// published ones, oldest first, and `PREVIEW`).
pub const IMAGE_BUILDER_VERSIONS: &[&str] =
    &["2023.12", "2024.04", "2024.10", "2025.06", "PREVIEW"];

/// Longest service user name accepted, in characters.
pub const MAX_SERVICE_USER_NAME_CHARS: usize = 64;

/// A read records a credential's use only if the recorded `last_used_at` is
/// at least this old, so that a burst of reads does not queue on the write
/// lock (writes record it in their own transaction, to the microsecond).
pub const LAST_USED_GRANULARITY_SECS: f64 = 1.0;

/// Schema migrations, applied in order; `user_version` = number applied.
/// Never edit a released migration; append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
    CREATE TABLE workspace (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        workspace_id  TEXT NOT NULL,
        name          TEXT NOT NULL,
        created_at    REAL NOT NULL
    );
    CREATE TABLE members (
        pk              INTEGER PRIMARY KEY AUTOINCREMENT,
        member_id       TEXT NOT NULL UNIQUE,
        user_id         TEXT NOT NULL UNIQUE,
        email           TEXT NOT NULL,
        username        TEXT NOT NULL,
        display_name    TEXT NOT NULL,
        role            INTEGER NOT NULL,
        joined_at       REAL NOT NULL,
        last_active_at  REAL NOT NULL DEFAULT 0,
        deleted_at      REAL
    );
    CREATE UNIQUE INDEX members_current_email ON members(email) WHERE deleted_at IS NULL;
    CREATE TABLE api_tokens (
        pk             INTEGER PRIMARY KEY AUTOINCREMENT,
        token_id       TEXT NOT NULL UNIQUE,
        secret_sha256  BLOB NOT NULL,
        member_pk      INTEGER NOT NULL REFERENCES members(pk),
        created_at     REAL NOT NULL
    );
    CREATE TABLE environments (
        pk              INTEGER PRIMARY KEY AUTOINCREMENT,
        environment_id  TEXT NOT NULL UNIQUE,
        name            TEXT NOT NULL UNIQUE,
        webhook_suffix  TEXT NOT NULL,
        created_at      REAL NOT NULL,
        is_default      INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE proxy_tokens (
        pk             INTEGER PRIMARY KEY AUTOINCREMENT,
        token_id       TEXT NOT NULL UNIQUE,
        secret_sha256  BLOB NOT NULL,
        name           TEXT NOT NULL DEFAULT '',
        scoped         INTEGER NOT NULL,
        created_at     REAL NOT NULL,
        created_by     INTEGER REFERENCES members(pk)
    );
    CREATE TABLE proxy_token_environments (
        token_pk        INTEGER NOT NULL REFERENCES proxy_tokens(pk) ON DELETE CASCADE,
        environment_pk  INTEGER NOT NULL REFERENCES environments(pk) ON DELETE CASCADE,
        PRIMARY KEY (token_pk, environment_pk)
    ) WITHOUT ROWID;
    CREATE INDEX proxy_token_environments_env ON proxy_token_environments(environment_pk);
    CREATE TABLE idempotency (
        caller      TEXT NOT NULL,
        key         TEXT NOT NULL,
        method      TEXT NOT NULL,
        response    BLOB NOT NULL,
        created_at  REAL NOT NULL,
        PRIMARY KEY (caller, key)
    ) WITHOUT ROWID;
    "#,
    // 2: workspace settings, member token details, service users.
    r#"
    ALTER TABLE workspace ADD COLUMN image_builder_version TEXT NOT NULL DEFAULT '2025.06';
    ALTER TABLE api_tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
    ALTER TABLE api_tokens ADD COLUMN expires_at REAL;
    ALTER TABLE api_tokens ADD COLUMN last_used_at REAL NOT NULL DEFAULT 0;
    ALTER TABLE api_tokens ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX api_tokens_member ON api_tokens(member_pk);
    CREATE TABLE service_users (
        pk               INTEGER PRIMARY KEY AUTOINCREMENT,
        service_user_id  TEXT NOT NULL UNIQUE,
        name             TEXT NOT NULL UNIQUE,
        token_id         TEXT NOT NULL UNIQUE,
        secret_sha256    BLOB NOT NULL,
        scoped           INTEGER NOT NULL DEFAULT 0,
        created_by       INTEGER REFERENCES members(pk),
        created_at       REAL NOT NULL,
        last_used_at     REAL NOT NULL DEFAULT 0,
        expires_at       REAL
    );
    CREATE TABLE service_user_roles (
        service_user_pk  INTEGER NOT NULL REFERENCES service_users(pk) ON DELETE CASCADE,
        environment_pk   INTEGER NOT NULL REFERENCES environments(pk) ON DELETE CASCADE,
        role             TEXT NOT NULL CHECK (role IN ('viewer', 'contributor')),
        PRIMARY KEY (service_user_pk, environment_pk)
    ) WITHOUT ROWID;
    CREATE INDEX service_user_roles_env ON service_user_roles(environment_pk);
    "#,
];

/// What can go wrong in a store operation. The first variants are answers to
/// the caller (they map to gRPC codes and to `Error: …` lines in the admin
/// CLI); the others are problems with the store itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("Invalid token ID or token secret.")]
    Unauthenticated,
    #[error("cannot open store {path}: {detail}")]
    Open { path: PathBuf, detail: String },
    #[error("store {path} was written by a newer mws-emulator (schema version {found}, this build knows {known})")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("store {path} is corrupt: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("stored data is invalid: {0}")]
    BadData(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Seconds since the Unix epoch, as Modal's wire format carries them.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A value safe to echo in an error message: at most 64 characters, control
/// characters escaped, and never something that looks like a secret.
pub fn quote(value: &str) -> String {
    if value.starts_with("as-") || value.starts_with("ws-") {
        return "<a secret, not an ID>".to_string();
    }
    let mut out = String::from("'");
    for (i, c) in value.chars().enumerate() {
        if i == 64 {
            out.push('…');
            break;
        }
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A handle on the store: cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// When this process last recorded each credential's use (see
    /// [`Store::claim_use_record`]).
    recent_use: Mutex<HashMap<String, f64>>,
}

/// [`Inner::recent_use`] is cleared when it grows past this many entries.
const MAX_RECENT_USE: usize = 10_000;

/// A pooled connection; goes back to the pool when dropped.
pub struct PooledConn {
    store: Store,
    conn: Option<Connection>,
}

impl Deref for PooledConn {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Only `None` during drop.
        self.conn.as_ref().expect("pooled connection present")
    }
}

impl DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("pooled connection present")
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A connection left inside a transaction (a panic mid-call) is
            // not reused.
            if !conn.is_autocommit() {
                return;
            }
            if let Ok(mut idle) = self.store.inner.idle.lock() {
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
            }
        }
    }
}

fn open_error(path: &Path, e: &rusqlite::Error) -> Error {
    let detail = match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            "the file is not an SQLite database (corrupt, or not an mws-emulator store)".to_string()
        }
        Some(ErrorCode::DatabaseCorrupt) => "the database file is corrupt".to_string(),
        Some(ErrorCode::CannotOpen) => {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            match parent {
                Some(p) if !p.is_dir() => format!("folder {} does not exist", p.display()),
                _ => format!("{e}"),
            }
        }
        Some(ErrorCode::ReadOnly) | Some(ErrorCode::PermissionDenied) => {
            format!("permission denied ({e})")
        }
        _ => format!("{e}"),
    };
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => Error::Corrupt {
            path: path.to_path_buf(),
            detail,
        },
        _ => Error::Open {
            path: path.to_path_buf(),
            detail,
        },
    }
}

fn open_connection(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, &e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| open_error(path, &e))?;
    // journal_mode is persistent in the file, but setting it is cheap and
    // also the first statement that reads the header: a non-database file
    // fails here with NOTADB.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| open_error(path, &e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Open {
            path: path.to_path_buf(),
            detail: format!("cannot switch to WAL mode (journal_mode is {mode})"),
        });
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(|e| open_error(path, &e))?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the store at `path`, checks that it is an
    /// mws-emulator store and intact, and applies pending migrations.
    pub fn open(path: &Path) -> Result<Store> {
        let mut conn = open_connection(path)?;
        let app_id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| open_error(path, &e))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| open_error(path, &e))?;
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| open_error(path, &e))?;
        if app_id != APPLICATION_ID && (app_id != 0 || tables > 0) {
            return Err(Error::Open {
                path: path.to_path_buf(),
                detail: "the file is an SQLite database but not an mws-emulator store".into(),
            });
        }
        if version > MIGRATIONS.len() as i64 {
            return Err(Error::TooNew {
                path: path.to_path_buf(),
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        let check: String = conn
            .query_row("PRAGMA quick_check(5)", [], |r| r.get(0))
            .map_err(|e| open_error(path, &e))?;
        if check != "ok" {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                detail: check.lines().collect::<Vec<_>>().join("; "),
            });
        }
        migrate(&mut conn).map_err(|e| match e {
            Error::Sqlite(e) => open_error(path, &e),
            other => other,
        })?;
        let store = Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                idle: Mutex::new(vec![conn]),
                recent_use: Mutex::new(HashMap::new()),
            }),
        };
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Whether a read by `token_id` at `at` should record the credential's
    /// use: true at most once per [`LAST_USED_GRANULARITY_SECS`] per
    /// credential in this process, so that a burst of concurrent reads makes
    /// one write, not one each. (The caller also skips the write when the
    /// stored `last_used_at` is that recent, e.g. after a restart.)
    pub fn claim_use_record(&self, token_id: &str, at: f64) -> bool {
        let Ok(mut recent) = self.inner.recent_use.lock() else {
            return true;
        };
        if recent
            .get(token_id)
            .is_some_and(|&t| at - t < LAST_USED_GRANULARITY_SECS)
        {
            return false;
        }
        if recent.len() >= MAX_RECENT_USE {
            recent.clear();
        }
        recent.insert(token_id.to_string(), at);
        true
    }

    /// A connection from the pool (or a new one).
    pub fn conn(&self) -> Result<PooledConn> {
        let reused = self.inner.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match reused {
            Some(c) => c,
            None => open_connection(&self.inner.path)?,
        };
        Ok(PooledConn {
            store: self.clone(),
            conn: Some(conn),
        })
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction and commits if it succeeds.
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in a read transaction (one consistent snapshot).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&tx)?;
        tx.finish()?;
        Ok(out)
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read again inside the write lock: another process may have migrated.
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
    }
    tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))?;
    ensure_workspace(&tx)?;
    tx.execute(
        "DELETE FROM idempotency WHERE created_at < ?1",
        params![now() - IDEMPOTENCY_RETENTION_SECS],
    )?;
    tx.commit()?;
    Ok(())
}

/// A fresh store holds a workspace and its default environment `main`, as a
/// new Modal workspace does.
fn ensure_workspace(conn: &Connection) -> Result<()> {
    let exists: Option<i64> = conn
        .query_row("SELECT id FROM workspace WHERE id = 1", [], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        let t = now();
        conn.execute(
            "INSERT INTO workspace (id, workspace_id, name, created_at) VALUES (1, ?1, ?2, ?3)",
            params![ids::workspace_id(), "local-workspace", t],
        )?;
        conn.execute(
            "INSERT INTO environments (environment_id, name, webhook_suffix, created_at, is_default)
             VALUES (?1, 'main', '', ?2, 1)",
            params![ids::environment_id(), t],
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Validation

/// Token names (`kind` is "Proxy token" or "Token"): at most
/// [`MAX_TOKEN_NAME_CHARS`] characters, no control characters.
fn validate_token_name(kind: &str, name: &str) -> Result<()> {
    let n = name.chars().count();
    if n > MAX_TOKEN_NAME_CHARS {
        return Err(Error::InvalidArgument(format!(
            "{kind} name is too long ({n} characters; the limit is {MAX_TOKEN_NAME_CHARS})."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(format!(
            "{kind} name must not contain control characters."
        )));
    }
    Ok(())
}

/// Service user names: 1–64 characters, letters, digits, '-' and '_'.
pub fn validate_service_user_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_SERVICE_USER_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "Invalid service user name: {}. Names are 1-{MAX_SERVICE_USER_NAME_CHARS} characters: letters, digits, '-' and '_'.",
            quote(name)
        )))
    }
}

/// Environment (and workspace) names: 1–64 characters, `[a-zA-Z0-9]` then
/// `[a-zA-Z0-9-_.]*`, and not starting with `en-` (which would read as an id).
pub fn validate_env_name(kind: &str, name: &str) -> Result<()> {
    let ok_first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let len = name.chars().count();
    if name.is_empty()
        || len > MAX_ENV_NAME_CHARS
        || !ok_first
        || !ok_rest
        || name.starts_with("en-")
    {
        return Err(Error::InvalidArgument(format!(
            "Invalid {kind} name: {}. Names are 1-{MAX_ENV_NAME_CHARS} characters: letters, digits, '-', '_' and '.', starting with a letter or digit, and not starting with 'en-'.",
            quote(name)
        )));
    }
    Ok(())
}

fn require_id(kind: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::InvalidArgument(format!("Missing {kind} ID.")));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Workspace

#[derive(Debug, Clone)]
pub struct Workspace {
    pub workspace_id: String,
    pub name: String,
    pub image_builder_version: String,
}

pub fn workspace(conn: &Connection) -> Result<Workspace> {
    Ok(conn
        .prepare_cached(
            "SELECT workspace_id, name, image_builder_version FROM workspace WHERE id = 1",
        )?
        .query_row([], |r| {
            Ok(Workspace {
                workspace_id: r.get(0)?,
                name: r.get(1)?,
                image_builder_version: r.get(2)?,
            })
        })?)
}

/// The default environment's name and the image builder version.
pub fn workspace_settings(conn: &Connection) -> Result<proto::WorkspaceSettingsResponse> {
    Ok(proto::WorkspaceSettingsResponse {
        default_environment_name: env_by_name(conn, "")?.name,
        image_builder_version: workspace(conn)?.image_builder_version,
    })
}

/// Makes `name` the default environment; returns (old default, new default).
pub fn set_default_env(conn: &Connection, name: &str) -> Result<(String, Environment)> {
    if name.is_empty() {
        return Err(Error::InvalidArgument("Missing environment name.".into()));
    }
    let env = env_by_name(conn, name)?;
    let old = env_by_name(conn, "")?.name;
    conn.execute(
        "UPDATE environments SET is_default = (pk = ?1)",
        params![env.pk],
    )?;
    Ok((old, env_by_name(conn, name)?))
}

/// Sets the image builder version (one of [`IMAGE_BUILDER_VERSIONS`]);
/// returns the old one.
pub fn set_image_builder_version(conn: &Connection, version: &str) -> Result<String> {
    if !IMAGE_BUILDER_VERSIONS.contains(&version) {
        return Err(Error::InvalidArgument(format!(
            "Unknown image builder version {}. Known versions: {}.",
            quote(version),
            IMAGE_BUILDER_VERSIONS.join(", ")
        )));
    }
    let old = workspace(conn)?.image_builder_version;
    conn.execute(
        "UPDATE workspace SET image_builder_version = ?1 WHERE id = 1",
        params![version],
    )?;
    Ok(old)
}

/// Renames the workspace; returns the old name.
pub fn rename_workspace(conn: &Connection, name: &str) -> Result<String> {
    validate_env_name("workspace", name)?;
    let old = workspace(conn)?.name;
    conn.execute("UPDATE workspace SET name = ?1 WHERE id = 1", params![name])?;
    Ok(old)
}

/// True when nothing has been put in the workspace yet (no members, no proxy
/// tokens): `seed demo` only fills such a store.
pub fn is_empty(conn: &Connection) -> Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT (SELECT count(*) FROM members) + (SELECT count(*) FROM proxy_tokens)",
        [],
        |r| r.get(0),
    )?;
    Ok(n == 0)
}

// ---------------------------------------------------------------------------
// Members

#[derive(Debug, Clone)]
pub struct Member {
    pub pk: i64,
    pub member_id: String,
    pub user_id: String,
    pub email: String,
    pub username: String,
    pub display_name: String,
    /// The role for permissions (a number the emulator does not know counts
    /// as a plain member).
    pub role: proto::MemberRole,
    /// The role as stored, sent to clients as is: a store edited by hand can
    /// show what a client does with a role Modal may add later.
    pub stored_role: i32,
    pub joined_at: f64,
    pub last_active_at: f64,
}

impl Member {
    pub fn to_proto(&self) -> proto::WorkspaceMembersListItem {
        proto::WorkspaceMembersListItem {
            member_id: self.member_id.clone(),
            member_displayname: self.display_name.clone(),
            member_role: self.stored_role,
            joined_at: self.joined_at,
            last_active_at: self.last_active_at,
            deleted_at: 0.0,
            user_id: self.user_id.clone(),
            identity_provider_type: proto::IdentityProviderType::Github as i32,
            email: self.email.clone(),
            avatar_url: String::new(),
            idp_external_id: String::new(),
        }
    }

    pub fn role_name(&self) -> &'static str {
        mws_modal_api::member_role_name(self.role)
    }
}

const MEMBER_COLUMNS: &str =
    "pk, member_id, user_id, email, username, display_name, role, joined_at, last_active_at";

fn member_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Member> {
    let role: i32 = r.get(6)?;
    Ok(Member {
        pk: r.get(0)?,
        member_id: r.get(1)?,
        user_id: r.get(2)?,
        email: r.get(3)?,
        username: r.get(4)?,
        display_name: r.get(5)?,
        role: proto::MemberRole::try_from(role).unwrap_or(proto::MemberRole::User),
        stored_role: role,
        joined_at: r.get(7)?,
        last_active_at: r.get(8)?,
    })
}

/// Current (not removed) members, in the order they joined the store.
pub fn list_members(conn: &Connection) -> Result<Vec<Member>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE deleted_at IS NULL ORDER BY pk"
    ))?;
    let rows = stmt.query_map([], member_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn member_by_email(conn: &Connection, email: &str) -> Result<Member> {
    conn.query_row(
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE email = ?1 AND deleted_at IS NULL"),
        params![email],
        member_from_row,
    )
    .optional()?
    .ok_or_else(|| Error::NotFound(format!("No member with email {}.", quote(email))))
}

/// The earliest-joined current owner, if any.
pub fn first_owner(conn: &Connection) -> Result<Option<Member>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {MEMBER_COLUMNS} FROM members WHERE deleted_at IS NULL AND role = ?1 ORDER BY pk LIMIT 1"
            ),
            params![proto::MemberRole::Owner as i32],
            member_from_row,
        )
        .optional()?)
}

/// The first owner, creating `owner@example.com` if the workspace has none.
pub fn ensure_owner(conn: &Connection) -> Result<Member> {
    if let Some(m) = first_owner(conn)? {
        return Ok(m);
    }
    add_member(
        conn,
        NewMember {
            email: "owner@example.com",
            display_name: Some("owner"),
            username: None,
            role: proto::MemberRole::Owner,
            joined_at: None,
        },
    )
}

fn validate_email(email: &str) -> Result<()> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_control() || c.is_whitespace())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "Invalid email address {}.",
            quote(email)
        )))
    }
}

/// `alice.smith+x@example.com` -> `alice-smith-x`.
fn username_from_email(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    let mut out: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out = out.trim_matches('-').to_string();
    if out.is_empty() {
        out = "user".into();
    }
    out.truncate(39);
    out
}

fn unique_username(conn: &Connection, base: &str) -> Result<String> {
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM members WHERE username = ?1 AND deleted_at IS NULL LIMIT 1",
    )?;
    let mut candidate = base.to_string();
    let mut n = 1;
    while stmt.exists(params![candidate])? {
        n += 1;
        candidate = format!("{base}{n}");
    }
    Ok(candidate)
}

pub struct NewMember<'a> {
    pub email: &'a str,
    pub display_name: Option<&'a str>,
    pub username: Option<&'a str>,
    pub role: proto::MemberRole,
    pub joined_at: Option<f64>,
}

pub fn add_member(conn: &Connection, new: NewMember<'_>) -> Result<Member> {
    validate_email(new.email)?;
    if new.role == proto::MemberRole::Unspecified {
        return Err(Error::InvalidArgument("A member needs a role.".into()));
    }
    if let Some(name) = new.display_name {
        if name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Error::InvalidArgument(
                "Display name must be at most 100 characters, without control characters.".into(),
            ));
        }
    }
    let exists: bool = conn
        .prepare_cached("SELECT 1 FROM members WHERE email = ?1 AND deleted_at IS NULL")?
        .exists(params![new.email])?;
    if exists {
        return Err(Error::AlreadyExists(format!(
            "{} is already a member of the workspace.",
            quote(new.email)
        )));
    }
    let username = match new.username {
        Some(u) => {
            validate_env_name("username", u)?;
            u.to_string()
        }
        None => unique_username(conn, &username_from_email(new.email))?,
    };
    let display_name = new.display_name.unwrap_or(&username).to_string();
    let joined_at = new.joined_at.unwrap_or_else(now);
    conn.execute(
        "INSERT INTO members (member_id, user_id, email, username, display_name, role, joined_at, last_active_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)",
        params![
            ids::member_id(),
            ids::user_id(),
            new.email,
            username,
            display_name,
            new.role as i32,
            joined_at
        ],
    )?;
    let pk = conn.last_insert_rowid();
    Ok(conn.query_row(
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE pk = ?1"),
        params![pk],
        member_from_row,
    )?)
}

fn owner_count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM members WHERE deleted_at IS NULL AND role = ?1",
        params![proto::MemberRole::Owner as i32],
        |r| r.get(0),
    )?)
}

/// Removes a member (kept as a removed row so their tokens still name them);
/// their API tokens stop working. The last owner cannot be removed.
pub fn remove_member(conn: &Connection, email: &str) -> Result<Member> {
    let m = member_by_email(conn, email)?;
    if m.role == proto::MemberRole::Owner && owner_count(conn)? <= 1 {
        return Err(Error::FailedPrecondition(format!(
            "{} is the workspace's last owner; make someone else an owner first.",
            quote(email)
        )));
    }
    conn.execute(
        "UPDATE members SET deleted_at = ?1 WHERE pk = ?2",
        params![now(), m.pk],
    )?;
    Ok(m)
}

/// Changes a member's role; returns the member (with the new role) and the old role.
pub fn set_member_role(
    conn: &Connection,
    email: &str,
    role: proto::MemberRole,
) -> Result<(Member, proto::MemberRole)> {
    let mut m = member_by_email(conn, email)?;
    let old = m.role;
    if old == proto::MemberRole::Owner && role != old && owner_count(conn)? <= 1 {
        return Err(Error::FailedPrecondition(format!(
            "{} is the workspace's last owner; make someone else an owner first.",
            quote(email)
        )));
    }
    conn.execute(
        "UPDATE members SET role = ?1 WHERE pk = ?2",
        params![role as i32, m.pk],
    )?;
    m.role = role;
    Ok((m, old))
}

// ---------------------------------------------------------------------------
// API tokens (the credentials clients authenticate with)
//
// Two kinds of principal hold `ak-`/`as-` credentials: members (any number of
// member tokens each, in `api_tokens`) and service users (exactly one
// credential each, kept on the `service_users` row). Both are looked up by
// token id; the answer to any failure is the same UNAUTHENTICATED.

/// Who is calling: a member (with their role) or a service user.
#[derive(Debug, Clone)]
pub enum Principal {
    Member {
        pk: i64,
        user_id: String,
        username: String,
        role: proto::MemberRole,
    },
    ServiceUser {
        pk: i64,
        service_user_id: String,
        name: String,
    },
}

/// The authenticated caller of a gRPC method.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub principal: Principal,
    /// The credential's recorded last use before this call (0: never).
    pub last_used_at: f64,
}

impl Caller {
    /// The calling member's row key (`None` for a service user).
    pub fn member_pk(&self) -> Option<i64> {
        match &self.principal {
            Principal::Member { pk, .. } => Some(*pk),
            Principal::ServiceUser { .. } => None,
        }
    }

    /// Whether the caller is a workspace manager or owner. Service users are
    /// not: at the workspace level they count as plain members.
    pub fn is_manager(&self) -> bool {
        matches!(
            &self.principal,
            Principal::Member { role, .. }
                if matches!(role, proto::MemberRole::Manager | proto::MemberRole::Owner)
        )
    }

    /// PERMISSION_DENIED unless the caller is a manager or owner; `what` says
    /// what they tried ("manage service users").
    pub fn require_manager(&self, what: &str) -> Result<()> {
        if self.is_manager() {
            Ok(())
        } else {
            Err(Error::PermissionDenied(format!(
                "Only workspace managers and owners can {what}."
            )))
        }
    }
}

/// Creates an `ak-`/`as-` pair for a member; only the secret's digest is kept.
pub fn create_api_token(conn: &Connection, member_pk: i64) -> Result<(String, String)> {
    let (token, secret) = create_member_token(
        conn,
        NewMemberToken {
            member_pk,
            ..NewMemberToken::default()
        },
    )?;
    Ok((token.token_id, secret))
}

/// A stored credential, member's or service user's.
struct CredentialRow {
    secret_sha256: Vec<u8>,
    disabled: bool,
    expires_at: Option<f64>,
    last_used_at: f64,
    principal: Principal,
}

/// Checks an `ak-`/`as-` pair at time `at`. Unknown ids, wrong secrets,
/// tokens of removed members, disabled or expired member tokens, and deleted
/// or expired service users all get the same answer.
pub fn authenticate(
    conn: &Connection,
    token_id: Option<&str>,
    secret: Option<&str>,
    at: f64,
) -> Result<Caller> {
    let (Some(token_id), Some(secret)) = (token_id, secret) else {
        return Err(Error::Unauthenticated);
    };
    let presented = ids::secret_digest(secret);
    let matches = |stored: &[u8]| {
        stored.len() == presented.len() && bool::from(stored.ct_eq(presented.as_slice()))
    };
    let member = conn
        .prepare_cached(
            "SELECT t.secret_sha256, t.disabled, t.expires_at, t.last_used_at,
                    m.pk, m.user_id, m.username, m.role
             FROM api_tokens t JOIN members m ON m.pk = t.member_pk
             WHERE t.token_id = ?1 AND m.deleted_at IS NULL",
        )?
        .query_row(params![token_id], |r| {
            let role: i32 = r.get(7)?;
            Ok(CredentialRow {
                secret_sha256: r.get(0)?,
                disabled: r.get::<_, i64>(1)? != 0,
                expires_at: r.get(2)?,
                last_used_at: r.get(3)?,
                principal: Principal::Member {
                    pk: r.get(4)?,
                    user_id: r.get(5)?,
                    username: r.get(6)?,
                    role: proto::MemberRole::try_from(role).unwrap_or(proto::MemberRole::User),
                },
            })
        })
        .optional()?;
    let found = match member {
        Some(row) => Some(row),
        None => conn
            .prepare_cached(
                "SELECT secret_sha256, expires_at, last_used_at, pk, service_user_id, name
                 FROM service_users WHERE token_id = ?1",
            )?
            .query_row(params![token_id], |r| {
                Ok(CredentialRow {
                    secret_sha256: r.get(0)?,
                    disabled: false,
                    expires_at: r.get(1)?,
                    last_used_at: r.get(2)?,
                    principal: Principal::ServiceUser {
                        pk: r.get(3)?,
                        service_user_id: r.get(4)?,
                        name: r.get(5)?,
                    },
                })
            })
            .optional()?,
    };
    match found {
        Some(row)
            if matches(&row.secret_sha256)
                && !row.disabled
                && row.expires_at.is_none_or(|e| e > at) =>
        {
            Ok(Caller {
                token_id: token_id.to_string(),
                principal: row.principal,
                last_used_at: row.last_used_at,
            })
        }
        _ => Err(Error::Unauthenticated),
    }
}

/// Records that the caller's credential was used at `at`.
pub fn record_use(conn: &Connection, caller: &Caller, at: f64) -> Result<()> {
    let sql = match caller.principal {
        Principal::Member { .. } => "UPDATE api_tokens SET last_used_at = ?1 WHERE token_id = ?2",
        Principal::ServiceUser { .. } => {
            "UPDATE service_users SET last_used_at = ?1 WHERE token_id = ?2"
        }
    };
    conn.prepare_cached(sql)?
        .execute(params![at, caller.token_id])?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Member tokens (`api_tokens`)

/// A member's API token, with its member, as `TokensList` shows it.
#[derive(Debug, Clone)]
pub struct MemberToken {
    pub pk: i64,
    pub token_id: String,
    pub name: String,
    pub created_at: f64,
    pub expires_at: Option<f64>,
    pub last_used_at: f64,
    pub disabled: bool,
    pub member_pk: i64,
    pub member_id: String,
    pub user_id: String,
    pub email: String,
    pub member_displayname: String,
}

impl MemberToken {
    pub fn to_proto(&self, workspace_id: &str) -> proto::tokens_list_response::Token {
        proto::tokens_list_response::Token {
            token_id: self.token_id.clone(),
            created_at: self.created_at,
            workspace_id: workspace_id.to_string(),
            user_id: self.user_id.clone(),
            last_used_at: self.last_used_at,
            member_displayname: self.member_displayname.clone(),
            member_id: self.member_id.clone(),
            identity_provider_type: proto::IdentityProviderType::Github as i32,
            member_avatar_url: String::new(),
            name: self.name.clone(),
            expires_at: self.expires_at.unwrap_or(0.0),
            disabled: self.disabled,
        }
    }
}

const MEMBER_TOKEN_SELECT: &str =
    "SELECT t.pk, t.token_id, t.name, t.created_at, t.expires_at, t.last_used_at, t.disabled,
            m.pk, m.member_id, m.user_id, m.email, m.display_name
     FROM api_tokens t JOIN members m ON m.pk = t.member_pk
     WHERE m.deleted_at IS NULL";

fn member_token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MemberToken> {
    Ok(MemberToken {
        pk: r.get(0)?,
        token_id: r.get(1)?,
        name: r.get(2)?,
        created_at: r.get(3)?,
        expires_at: r.get(4)?,
        last_used_at: r.get(5)?,
        disabled: r.get::<_, i64>(6)? != 0,
        member_pk: r.get(7)?,
        member_id: r.get(8)?,
        user_id: r.get(9)?,
        email: r.get(10)?,
        member_displayname: r.get(11)?,
    })
}

/// A member token by id (tokens of removed members are gone).
pub fn member_token(conn: &Connection, token_id: &str) -> Result<MemberToken> {
    require_id("token", token_id)?;
    conn.prepare_cached(&format!("{MEMBER_TOKEN_SELECT} AND t.token_id = ?1"))?
        .query_row(params![token_id], member_token_from_row)
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("Token {} not found.", quote(token_id))))
}

/// Member tokens in creation order: all of them, or one member's.
pub fn list_member_tokens(conn: &Connection, member_pk: Option<i64>) -> Result<Vec<MemberToken>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{MEMBER_TOKEN_SELECT} AND (?1 IS NULL OR m.pk = ?1) ORDER BY t.pk"
    ))?;
    let rows = stmt.query_map(params![member_pk], member_token_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

#[derive(Debug, Clone, Default)]
pub struct NewMemberToken<'a> {
    pub member_pk: i64,
    pub name: &'a str,
    /// Default: now.
    pub created_at: Option<f64>,
    /// `None`: never expires.
    pub expires_at: Option<f64>,
    /// Default: never used (0).
    pub last_used_at: Option<f64>,
    pub disabled: bool,
}

/// Creates a member token; returns it and its secret (shown once; only the
/// digest is stored).
pub fn create_member_token(
    conn: &Connection,
    new: NewMemberToken<'_>,
) -> Result<(MemberToken, String)> {
    validate_token_name("Token", new.name)?;
    let token_id = ids::api_token_id();
    let secret = ids::api_token_secret();
    conn.prepare_cached(
        "INSERT INTO api_tokens (token_id, secret_sha256, member_pk, created_at, name, expires_at, last_used_at, disabled)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        token_id,
        ids::secret_digest(&secret).as_slice(),
        new.member_pk,
        new.created_at.unwrap_or_else(now),
        new.name,
        new.expires_at,
        new.last_used_at.unwrap_or(0.0),
        new.disabled as i64,
    ])?;
    Ok((member_token(conn, &token_id)?, secret))
}

/// Deletes a member token; it stops authenticating at once.
pub fn delete_member_token(conn: &Connection, token_id: &str) -> Result<MemberToken> {
    let t = member_token(conn, token_id)?;
    conn.execute("DELETE FROM api_tokens WHERE pk = ?1", params![t.pk])?;
    Ok(t)
}

/// Disables or enables a member token; returns it as it was before.
pub fn set_member_token_disabled(
    conn: &Connection,
    token_id: &str,
    disabled: bool,
) -> Result<MemberToken> {
    let t = member_token(conn, token_id)?;
    conn.execute(
        "UPDATE api_tokens SET disabled = ?1 WHERE pk = ?2",
        params![disabled as i64, t.pk],
    )?;
    Ok(t)
}

// ---------------------------------------------------------------------------
// Service users

/// A service user's access to an environment (no row: no access).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvRole {
    Viewer,
    Contributor,
    NoAccess,
}

impl EnvRole {
    /// Parses Modal's `role_str` (`viewer`, `contributor`, `no-access`).
    pub fn parse(s: &str) -> Result<EnvRole> {
        match s {
            "viewer" => Ok(EnvRole::Viewer),
            "contributor" => Ok(EnvRole::Contributor),
            "no-access" => Ok(EnvRole::NoAccess),
            other => Err(Error::InvalidArgument(format!(
                "Invalid environment role {}. Roles are contributor, viewer and no-access.",
                quote(other)
            ))),
        }
    }

    pub fn from_proto(role: proto::EnvironmentRole) -> Option<EnvRole> {
        match role {
            proto::EnvironmentRole::Viewer => Some(EnvRole::Viewer),
            proto::EnvironmentRole::Contributor => Some(EnvRole::Contributor),
            proto::EnvironmentRole::NoAccess => Some(EnvRole::NoAccess),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EnvRole::Viewer => "viewer",
            EnvRole::Contributor => "contributor",
            EnvRole::NoAccess => "no-access",
        }
    }

    pub fn to_proto(self) -> proto::EnvironmentRole {
        match self {
            EnvRole::Viewer => proto::EnvironmentRole::Viewer,
            EnvRole::Contributor => proto::EnvironmentRole::Contributor,
            EnvRole::NoAccess => proto::EnvironmentRole::NoAccess,
        }
    }
}

/// A service user's role in one environment.
#[derive(Debug, Clone)]
pub struct EnvRoleEntry {
    pub environment_id: String,
    pub environment_name: String,
    pub role: EnvRole,
}

#[derive(Debug, Clone)]
pub struct ServiceUser {
    pub pk: i64,
    pub service_user_id: String,
    pub name: String,
    pub token_id: String,
    pub scoped: bool,
    /// The creator's username ("" if unknown).
    pub created_by: String,
    pub created_by_user_id: String,
    pub created_at: f64,
    pub last_used_at: f64,
    pub expires_at: Option<f64>,
    /// In environment creation order.
    pub roles: Vec<EnvRoleEntry>,
}

impl ServiceUser {
    pub fn to_proto(&self) -> proto::ServiceUser {
        proto::ServiceUser {
            name: self.name.clone(),
            token_id: self.token_id.clone(),
            created_by: self.created_by.clone(),
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            created_by_avatar_url: String::new(),
            service_user_id: self.service_user_id.clone(),
            status: "active".into(),
            scoped: self.scoped,
            environment_roles: self
                .roles
                .iter()
                .map(|r| proto::service_user::EnvironmentRoleEntry {
                    environment_id: r.environment_id.clone(),
                    role: r.role.to_proto() as i32,
                    environment_name: r.environment_name.clone(),
                    role_str: r.role.as_str().into(),
                    environment_role_definition: None,
                })
                .collect(),
            expires_at: self.expires_at.unwrap_or(0.0),
        }
    }
}

const SERVICE_USER_COLUMNS: &str =
    "SELECT s.pk, s.service_user_id, s.name, s.token_id, s.scoped, m.username, m.user_id,
            s.created_at, s.last_used_at, s.expires_at
     FROM service_users s LEFT JOIN members m ON m.pk = s.created_by";

/// Live service users only (`?1` = now): an expired one is gone, as Modal
/// deletes it.
const LIVE_SERVICE_USERS: &str = "WHERE (s.expires_at IS NULL OR s.expires_at > ?1)";

/// A service user by row key, expired or not (for the admin CLI).
pub fn service_user_by_pk(conn: &Connection, pk: i64) -> Result<ServiceUser> {
    let su = conn
        .prepare_cached(&format!("{SERVICE_USER_COLUMNS} WHERE s.pk = ?1"))?
        .query_row(params![pk], service_user_from_row)?;
    with_roles(conn, su)
}

fn service_user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ServiceUser> {
    Ok(ServiceUser {
        pk: r.get(0)?,
        service_user_id: r.get(1)?,
        name: r.get(2)?,
        token_id: r.get(3)?,
        scoped: r.get::<_, i64>(4)? != 0,
        created_by: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        created_by_user_id: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
        created_at: r.get(7)?,
        last_used_at: r.get(8)?,
        expires_at: r.get(9)?,
        roles: Vec::new(),
    })
}

fn with_roles(conn: &Connection, mut su: ServiceUser) -> Result<ServiceUser> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.environment_id, e.name, r.role FROM service_user_roles r
         JOIN environments e ON e.pk = r.environment_pk
         WHERE r.service_user_pk = ?1 ORDER BY e.pk",
    )?;
    let rows = stmt.query_map(params![su.pk], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (environment_id, environment_name, role) = row?;
        su.roles.push(EnvRoleEntry {
            environment_id,
            environment_name,
            role: EnvRole::parse(&role)
                .map_err(|_| Error::BadData(format!("service user role {role:?}")))?,
        });
    }
    Ok(su)
}

fn service_user_not_found(what: &str) -> Error {
    Error::NotFound(format!("Service user {} not found.", quote(what)))
}

/// A live service user by name.
pub fn service_user_by_name(conn: &Connection, name: &str) -> Result<ServiceUser> {
    if name.is_empty() {
        return Err(Error::InvalidArgument("Missing service user name.".into()));
    }
    let su = conn
        .prepare_cached(&format!(
            "{SERVICE_USER_COLUMNS} {LIVE_SERVICE_USERS} AND s.name = ?2"
        ))?
        .query_row(params![now(), name], service_user_from_row)
        .optional()?
        .ok_or_else(|| service_user_not_found(name))?;
    with_roles(conn, su)
}

/// A live service user by id, or by name when the id is empty; when both
/// are given they must name the same service user.
pub fn service_user_by_id_or_name(
    conn: &Connection,
    service_user_id: &str,
    name: &str,
) -> Result<ServiceUser> {
    if service_user_id.is_empty() {
        return service_user_by_name(conn, name);
    }
    let su = conn
        .prepare_cached(&format!(
            "{SERVICE_USER_COLUMNS} {LIVE_SERVICE_USERS} AND s.service_user_id = ?2 AND (?3 = '' OR s.name = ?3)"
        ))?
        .query_row(params![now(), service_user_id, name], service_user_from_row)
        .optional()?
        .ok_or_else(|| service_user_not_found(if name.is_empty() { service_user_id } else { name }))?;
    with_roles(conn, su)
}

/// Live service users, in creation order.
pub fn list_service_users(conn: &Connection) -> Result<Vec<ServiceUser>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SERVICE_USER_COLUMNS} {LIVE_SERVICE_USERS} ORDER BY s.pk"
    ))?;
    let rows = stmt
        .query_map(params![now()], service_user_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(|su| with_roles(conn, su)).collect()
}

#[derive(Debug, Clone, Default)]
pub struct NewServiceUser<'a> {
    pub name: &'a str,
    pub scoped: bool,
    /// The member who creates it.
    pub created_by: Option<i64>,
    /// Default: now.
    pub created_at: Option<f64>,
    /// `None`: never expires.
    pub expires_at: Option<f64>,
}

/// Creates a service user and its credential; returns it and the secret
/// (shown once; only the digest is stored). A name is free again once its
/// service user is deleted or has expired.
pub fn create_service_user(
    conn: &Connection,
    new: NewServiceUser<'_>,
) -> Result<(ServiceUser, String)> {
    validate_service_user_name(new.name)?;
    // An expired service user is gone (Modal deletes it); drop its row now
    // so that the name can be used again.
    conn.execute(
        "DELETE FROM service_users WHERE name = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2",
        params![new.name, now()],
    )?;
    let taken = conn
        .prepare_cached("SELECT 1 FROM service_users WHERE name = ?1")?
        .exists(params![new.name])?;
    if taken {
        return Err(Error::AlreadyExists(format!(
            "Service user {} already exists.",
            quote(new.name)
        )));
    }
    let token_id = ids::api_token_id();
    let secret = ids::api_token_secret();
    conn.prepare_cached(
        "INSERT INTO service_users (service_user_id, name, token_id, secret_sha256, scoped, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        ids::service_user_id(),
        new.name,
        token_id,
        ids::secret_digest(&secret).as_slice(),
        new.scoped as i64,
        new.created_by,
        new.created_at.unwrap_or_else(now),
        new.expires_at,
    ])?;
    Ok((service_user_by_pk(conn, conn.last_insert_rowid())?, secret))
}

/// Deletes a service user (by id, or by name); its credential stops working.
pub fn delete_service_user(
    conn: &Connection,
    service_user_id: &str,
    name: &str,
) -> Result<ServiceUser> {
    if service_user_id.is_empty() && name.is_empty() {
        return Err(Error::InvalidArgument(
            "Missing service user name or ID.".into(),
        ));
    }
    let su = service_user_by_id_or_name(conn, service_user_id, name)?;
    conn.execute("DELETE FROM service_users WHERE pk = ?1", params![su.pk])?;
    Ok(su)
}

/// Sets a service user's role in an environment (`NoAccess` removes it);
/// returns the role it had before.
pub fn set_service_user_role(
    conn: &Connection,
    su: &ServiceUser,
    env: &Environment,
    role: EnvRole,
) -> Result<EnvRole> {
    let old = su
        .roles
        .iter()
        .find(|r| r.environment_id == env.environment_id)
        .map_or(EnvRole::NoAccess, |r| r.role);
    match role {
        EnvRole::NoAccess => conn.execute(
            "DELETE FROM service_user_roles WHERE service_user_pk = ?1 AND environment_pk = ?2",
            params![su.pk, env.pk],
        )?,
        _ => conn.execute(
            "INSERT INTO service_user_roles (service_user_pk, environment_pk, role) VALUES (?1, ?2, ?3)
             ON CONFLICT (service_user_pk, environment_pk) DO UPDATE SET role = excluded.role",
            params![su.pk, env.pk, role.as_str()],
        )?,
    };
    Ok(old)
}

// ---------------------------------------------------------------------------
// Environments

#[derive(Debug, Clone)]
pub struct Environment {
    pub pk: i64,
    pub environment_id: String,
    pub name: String,
    pub webhook_suffix: String,
    pub created_at: f64,
    pub is_default: bool,
    /// The workspace's image builder version (environments do not override it).
    pub image_builder_version: String,
}

impl Environment {
    pub fn settings(&self) -> proto::EnvironmentSettings {
        proto::EnvironmentSettings {
            image_builder_version: self.image_builder_version.clone(),
            webhook_suffix: self.webhook_suffix.clone(),
            max_concurrent_gpus: 0,
            max_concurrent_tasks: 0,
            block_unauthenticated_resources: false,
        }
    }

    pub fn to_list_item(&self) -> proto::EnvironmentListItem {
        proto::EnvironmentListItem {
            name: self.name.clone(),
            webhook_suffix: self.webhook_suffix.clone(),
            created_at: self.created_at,
            default: self.is_default,
            is_managed: false,
            environment_id: self.environment_id.clone(),
            environment_type: proto::EnvironmentType::Public as i32,
            image_builder_version: self.image_builder_version.clone(),
            ..Default::default()
        }
    }

    pub fn to_get_or_create(&self) -> proto::EnvironmentGetOrCreateResponse {
        proto::EnvironmentGetOrCreateResponse {
            environment_id: self.environment_id.clone(),
            metadata: Some(proto::EnvironmentMetadata {
                name: self.name.clone(),
                settings: Some(self.settings()),
                environment_type: proto::EnvironmentType::Public as i32,
            }),
        }
    }
}

const ENV_COLUMNS: &str = "pk, environment_id, name, webhook_suffix, created_at, is_default,
     (SELECT image_builder_version FROM workspace WHERE id = 1)";

fn env_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Environment> {
    Ok(Environment {
        pk: r.get(0)?,
        environment_id: r.get(1)?,
        name: r.get(2)?,
        webhook_suffix: r.get(3)?,
        created_at: r.get(4)?,
        is_default: r.get::<_, i64>(5)? != 0,
        image_builder_version: r.get(6)?,
    })
}

fn env_not_found(name: &str) -> Error {
    Error::NotFound(format!("Environment {} not found.", quote(name)))
}

/// Looks an environment up by name; the empty name means the default one.
pub fn env_by_name(conn: &Connection, name: &str) -> Result<Environment> {
    let found = if name.is_empty() {
        conn.query_row(
            &format!(
                "SELECT {ENV_COLUMNS} FROM environments WHERE is_default = 1 ORDER BY pk LIMIT 1"
            ),
            [],
            env_from_row,
        )
        .optional()?
    } else {
        conn.prepare_cached(&format!(
            "SELECT {ENV_COLUMNS} FROM environments WHERE name = ?1"
        ))?
        .query_row(params![name], env_from_row)
        .optional()?
    };
    found.ok_or_else(|| env_not_found(name))
}

pub fn env_by_id(conn: &Connection, environment_id: &str) -> Result<Environment> {
    require_id("environment", environment_id)?;
    conn.prepare_cached(&format!(
        "SELECT {ENV_COLUMNS} FROM environments WHERE environment_id = ?1"
    ))?
    .query_row(params![environment_id], env_from_row)
    .optional()?
    .ok_or_else(|| env_not_found(environment_id))
}

pub fn list_envs(conn: &Connection) -> Result<Vec<Environment>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ENV_COLUMNS} FROM environments ORDER BY pk"
    ))?;
    let rows = stmt.query_map([], env_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn create_env(conn: &Connection, name: &str) -> Result<Environment> {
    validate_env_name("environment", name)?;
    let exists = conn
        .prepare_cached("SELECT 1 FROM environments WHERE name = ?1")?
        .exists(params![name])?;
    if exists {
        return Err(Error::AlreadyExists(format!(
            "Environment {} already exists.",
            quote(name)
        )));
    }
    conn.execute(
        "INSERT INTO environments (environment_id, name, webhook_suffix, created_at, is_default)
         VALUES (?1, ?2, ?2, ?3, 0)",
        params![ids::environment_id(), name, now()],
    )?;
    env_by_name(conn, name)
}

/// Removes an environment and its token associations. The default
/// environment cannot be removed.
pub fn remove_env(conn: &Connection, name: &str) -> Result<Environment> {
    if name.is_empty() {
        return Err(Error::InvalidArgument("Missing environment name.".into()));
    }
    let env = env_by_name(conn, name)?;
    if env.is_default {
        return Err(Error::FailedPrecondition(format!(
            "Environment {} is the workspace's default environment and cannot be removed.",
            quote(name)
        )));
    }
    conn.execute("DELETE FROM environments WHERE pk = ?1", params![env.pk])?;
    Ok(env)
}

// ---------------------------------------------------------------------------
// Proxy tokens

const TOKEN_SELECT: &str =
    "SELECT t.pk, t.token_id, t.created_at, t.scoped, t.name, m.user_id, m.username
     FROM proxy_tokens t LEFT JOIN members m ON m.pk = t.created_by";

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, proto::WebhookToken)> {
    let user_id: Option<String> = r.get(5)?;
    let username: Option<String> = r.get(6)?;
    Ok((
        r.get(0)?,
        proto::WebhookToken {
            token_id: r.get(1)?,
            created_at: r.get(2)?,
            scoped: r.get::<_, i64>(3)? != 0,
            name: r.get(4)?,
            created_by: user_id.map(|user_id| proto::UserIdentity {
                user_id,
                username: username.unwrap_or_default(),
            }),
        },
    ))
}

fn token_not_found(token_id: &str) -> Error {
    Error::NotFound(format!("Proxy token {} not found.", quote(token_id)))
}

/// Finds a proxy token by id: (row key, wire form).
pub fn proxy_token(conn: &Connection, token_id: &str) -> Result<(i64, proto::WebhookToken)> {
    require_id("proxy token", token_id)?;
    conn.prepare_cached(&format!("{TOKEN_SELECT} WHERE t.token_id = ?1"))?
        .query_row(params![token_id], token_from_row)
        .optional()?
        .ok_or_else(|| token_not_found(token_id))
}

pub struct NewProxyToken<'a> {
    pub created_by: Option<i64>,
    pub name: &'a str,
    pub scoped: bool,
    pub created_at: Option<f64>,
}

/// Creates a proxy token; returns the new token and its secret (shown once).
pub fn create_proxy_token(
    conn: &Connection,
    new: NewProxyToken<'_>,
) -> Result<(proto::WebhookToken, String)> {
    validate_token_name("Proxy token", new.name)?;
    let token_id = ids::proxy_token_id();
    let secret = ids::proxy_token_secret();
    conn.prepare_cached(
        "INSERT INTO proxy_tokens (token_id, secret_sha256, name, scoped, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        token_id,
        ids::secret_digest(&secret).as_slice(),
        new.name,
        new.scoped as i64,
        new.created_at.unwrap_or_else(now),
        new.created_by
    ])?;
    let (_, token) = proxy_token(conn, &token_id)?;
    Ok((token, secret))
}

/// Renames a proxy token (an empty name clears it); returns the updated token.
pub fn rename_proxy_token(
    conn: &Connection,
    token_id: &str,
    name: &str,
) -> Result<proto::WebhookToken> {
    let (pk, _) = proxy_token(conn, token_id)?;
    validate_token_name("Proxy token", name)?;
    conn.execute(
        "UPDATE proxy_tokens SET name = ?1 WHERE pk = ?2",
        params![name, pk],
    )?;
    Ok(proxy_token(conn, token_id)?.1)
}

pub fn delete_proxy_token(conn: &Connection, token_id: &str) -> Result<proto::WebhookToken> {
    let (pk, token) = proxy_token(conn, token_id)?;
    conn.execute("DELETE FROM proxy_tokens WHERE pk = ?1", params![pk])?;
    Ok(token)
}

/// All proxy tokens, in creation order.
pub fn list_proxy_tokens(conn: &Connection) -> Result<Vec<proto::WebhookToken>> {
    let mut stmt = conn.prepare_cached(&format!("{TOKEN_SELECT} ORDER BY t.pk"))?;
    let rows = stmt.query_map([], token_from_row)?;
    Ok(rows
        .map(|r| r.map(|(_, t)| t))
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The tokens that authenticate in an environment: those allowed in it, plus
/// every unscoped token (an unscoped token authenticates everywhere). In
/// creation order. Unknown environment: NOT_FOUND.
pub fn list_proxy_tokens_for_env(
    conn: &Connection,
    environment_name: &str,
) -> Result<Vec<proto::WebhookToken>> {
    let env = env_by_name(conn, environment_name)?;
    let mut stmt = conn.prepare_cached(&format!(
        "{TOKEN_SELECT} WHERE t.scoped = 0 OR EXISTS (
             SELECT 1 FROM proxy_token_environments e
             WHERE e.token_pk = t.pk AND e.environment_pk = ?1)
         ORDER BY t.pk"
    ))?;
    let rows = stmt.query_map(params![env.pk], token_from_row)?;
    Ok(rows
        .map(|r| r.map(|(_, t)| t))
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Allows a token in an environment. Allowing twice is not an error.
pub fn allow_token(conn: &Connection, token_id: &str, env: &Environment) -> Result<bool> {
    let (pk, _) = proxy_token(conn, token_id)?;
    let n = conn.execute(
        "INSERT OR IGNORE INTO proxy_token_environments (token_pk, environment_pk) VALUES (?1, ?2)",
        params![pk, env.pk],
    )?;
    Ok(n > 0)
}

/// Revokes a token's access to an environment. Revoking an association that
/// does not exist is not an error (the end state is what was asked for).
pub fn revoke_token(conn: &Connection, token_id: &str, env: &Environment) -> Result<bool> {
    let (pk, _) = proxy_token(conn, token_id)?;
    let n = conn.execute(
        "DELETE FROM proxy_token_environments WHERE token_pk = ?1 AND environment_pk = ?2",
        params![pk, env.pk],
    )?;
    Ok(n > 0)
}

/// Ids of the environments a token is allowed in, in environment creation order.
pub fn token_environments(conn: &Connection, token_id: &str) -> Result<Vec<String>> {
    let (pk, _) = proxy_token(conn, token_id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT e.environment_id FROM proxy_token_environments a
         JOIN environments e ON e.pk = a.environment_pk
         WHERE a.token_pk = ?1 ORDER BY e.pk",
    )?;
    let rows = stmt.query_map(params![pk], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
}

// ---------------------------------------------------------------------------
// Idempotency records

/// The stored first answer to `(caller, key)`: (method, encoded response).
pub fn idempotency_get(
    conn: &Connection,
    caller: &str,
    key: &str,
) -> Result<Option<(String, Vec<u8>)>> {
    Ok(conn
        .prepare_cached("SELECT method, response FROM idempotency WHERE caller = ?1 AND key = ?2")?
        .query_row(params![caller, key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub fn idempotency_put(
    conn: &Connection,
    caller: &str,
    key: &str,
    method: &str,
    response: &[u8],
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO idempotency (caller, key, method, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![caller, key, method, response, now()])?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Bulk data for benchmarks

const FIRST_NAMES: &[&str] = &[
    "Ada", "Zoë", "José", "Łukasz", "美咲", "Ngozi", "Søren", "Ana", "Björn", "Chloé", "Dmitri",
    "Émile", "Fatima", "Gökhan", "Hana", "Ífeoma", "Jürgen", "Kenji", "Leïla", "Miloš",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Müller",
    "García",
    "Nowak",
    "佐藤",
    "Okafor",
    "Kierkegaard",
    "Pérez",
    "Åström",
    "Dubois",
    "Иванов",
    "Zoltán",
    "Al-Sayed",
    "Yılmaz",
    "Kim",
    "Ødegaard",
];

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct BulkResult {
    pub members: usize,
    pub tokens: usize,
}

/// Adds `members` members and `tokens` proxy tokens (created by those or
/// existing members), with non-ASCII names. Call inside one transaction.
pub fn bulk_insert(conn: &Connection, members: usize, tokens: usize) -> Result<BulkResult> {
    let batch = ids::random_id("")[..8].to_ascii_lowercase();
    let t0 = now();
    let mut member_pks: Vec<i64> = Vec::with_capacity(members);
    {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO members (member_id, user_id, email, username, display_name, role, joined_at, last_active_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for i in 0..members {
            let first = FIRST_NAMES[i % FIRST_NAMES.len()];
            let last = LAST_NAMES[(i / FIRST_NAMES.len()) % LAST_NAMES.len()];
            let role = if i % 100 == 0 {
                proto::MemberRole::Owner
            } else if i % 20 == 0 {
                proto::MemberRole::Manager
            } else {
                proto::MemberRole::User
            };
            let username = format!("bulk-{batch}-{i}");
            stmt.execute(params![
                ids::member_id(),
                ids::user_id(),
                format!("{username}@bulk.example.com"),
                username,
                format!("{first} {last} {i}"),
                role as i32,
                t0 - 86_400.0 * 365.0 + i as f64 * 60.0,
                if i % 3 == 0 {
                    0.0
                } else {
                    t0 - i as f64 * 17.0
                },
            ])?;
            member_pks.push(conn.last_insert_rowid());
        }
    }
    if tokens > 0 && member_pks.is_empty() {
        member_pks.push(ensure_owner(conn)?.pk);
    }
    {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO proxy_tokens (token_id, secret_sha256, name, scoped, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for i in 0..tokens {
            let secret = ids::proxy_token_secret();
            let name = match i % 4 {
                0 => format!("webhook-{i}"),
                1 => format!("Überwachung {i}"),
                2 => format!("デプロイ-{i}"),
                _ => String::new(),
            };
            stmt.execute(params![
                ids::proxy_token_id(),
                ids::secret_digest(&secret).as_slice(),
                name,
                (i % 5 == 0) as i64,
                t0 - (tokens - i) as f64,
                member_pks[i % member_pks.len()],
            ])?;
        }
    }
    Ok(BulkResult { members, tokens })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        (dir, store)
    }

    #[test]
    fn fresh_store_has_workspace_and_main() {
        let (_d, store) = temp_store();
        store
            .read(|c| {
                assert_eq!(workspace(c)?.name, "local-workspace");
                let envs = list_envs(c)?;
                assert_eq!(envs.len(), 1);
                assert_eq!(envs[0].name, "main");
                assert!(envs[0].is_default);
                assert!(is_empty(c)?);
                Ok(())
            })
            .expect("read");
    }

    #[test]
    fn reopen_keeps_data_and_ids() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        let ws = {
            let store = Store::open(&path).expect("open");
            store.read(workspace).expect("ws")
        };
        let store = Store::open(&path).expect("reopen");
        assert_eq!(
            store.read(workspace).expect("ws").workspace_id,
            ws.workspace_id
        );
    }

    #[test]
    fn refuses_foreign_and_garbage_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5a_u8; 8192]).expect("write");
        let err = Store::open(&garbage).err().expect("must fail").to_string();
        assert!(err.contains("not an SQLite database"), "{err}");

        let foreign = dir.path().join("foreign.db");
        let c = Connection::open(&foreign).expect("open");
        c.execute_batch("CREATE TABLE t(x)").expect("create");
        drop(c);
        let err = Store::open(&foreign).err().expect("must fail").to_string();
        assert!(err.contains("not an mws-emulator store"), "{err}");

        let missing = dir.path().join("no/such/dir/s.db");
        let err = Store::open(&missing).err().expect("must fail").to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn authenticate_checks_secret_and_membership() {
        let (_d, store) = temp_store();
        let (id, secret) = store
            .write(|c| {
                let owner = ensure_owner(c)?;
                create_api_token(c, owner.pk)
            })
            .expect("token");
        store
            .read(|c| {
                assert!(authenticate(c, Some(&id), Some(&secret), now()).is_ok());
                assert!(matches!(
                    authenticate(c, Some(&id), Some("as-wrong"), now()),
                    Err(Error::Unauthenticated)
                ));
                assert!(matches!(
                    authenticate(c, None, Some(&secret), now()),
                    Err(Error::Unauthenticated)
                ));
                Ok(())
            })
            .expect("read");
        // The secret itself is not in the file.
        let conn = store.conn().expect("conn");
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM api_tokens WHERE secret_sha256 = ?1",
                params![secret.as_bytes()],
                |r| r.get(0),
            )
            .expect("q");
        assert_eq!(n, 0);
    }

    #[test]
    fn disabled_and_expired_credentials_are_rejected_alike() {
        let (_d, store) = temp_store();
        let t = now();
        let (ok, disabled, expired, su, su_old) = store
            .write(|c| {
                let owner = ensure_owner(c)?;
                let mk = |disabled: bool, expires_at: Option<f64>| {
                    create_member_token(
                        c,
                        NewMemberToken {
                            member_pk: owner.pk,
                            expires_at,
                            disabled,
                            ..NewMemberToken::default()
                        },
                    )
                };
                let su = |name: &str, expires_at: Option<f64>| {
                    create_service_user(
                        c,
                        NewServiceUser {
                            name,
                            created_by: Some(owner.pk),
                            expires_at,
                            ..NewServiceUser::default()
                        },
                    )
                };
                Ok((
                    mk(false, Some(t + 60.0))?,
                    mk(true, None)?,
                    mk(false, Some(t - 1.0))?,
                    su("bot", None)?,
                    su("old-bot", Some(t - 1.0))?,
                ))
            })
            .expect("write");
        store
            .read(|c| {
                let auth = |(tok, secret): &(MemberToken, String)| {
                    authenticate(c, Some(&tok.token_id), Some(secret), t)
                };
                assert!(auth(&ok).is_ok());
                assert!(matches!(auth(&disabled), Err(Error::Unauthenticated)));
                assert!(matches!(auth(&expired), Err(Error::Unauthenticated)));
                let caller = authenticate(c, Some(&su.0.token_id), Some(&su.1), t)?;
                assert!(matches!(caller.principal, Principal::ServiceUser { .. }));
                assert!(!caller.is_manager());
                assert!(matches!(
                    authenticate(c, Some(&su_old.0.token_id), Some(&su_old.1), t),
                    Err(Error::Unauthenticated)
                ));
                assert!(matches!(
                    authenticate(c, Some(&su.0.token_id), Some("as-wrong"), t),
                    Err(Error::Unauthenticated)
                ));
                let names: Vec<_> = list_service_users(c)?.into_iter().map(|s| s.name).collect();
                assert_eq!(names, ["bot"]);
                Ok(())
            })
            .expect("read");
    }

    #[test]
    fn a_burst_of_reads_claims_one_use_record_per_second() {
        let (_d, store) = temp_store();
        assert!(store.claim_use_record("ak-a", 100.0));
        assert!(!store.claim_use_record("ak-a", 100.5));
        assert!(store.claim_use_record("ak-b", 100.5), "per credential");
        assert!(store.claim_use_record("ak-a", 101.0));
    }

    #[test]
    fn a_version_1_store_is_migrated_and_its_credentials_keep_working() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v1.db");
        let secret = "as-v1secret";
        {
            let c = Connection::open(&path).expect("open");
            c.execute_batch(MIGRATIONS[0]).expect("v1 schema");
            c.execute_batch(&format!(
                "PRAGMA user_version = 1; PRAGMA application_id = {APPLICATION_ID};"
            ))
            .expect("mark");
            c.execute(
                "INSERT INTO workspace (id, workspace_id, name, created_at) VALUES (1, 'ac-x', 'old', 0)",
                [],
            )
            .expect("ws");
            c.execute(
                "INSERT INTO members (member_id, user_id, email, username, display_name, role, joined_at)
                 VALUES ('mb-1', 'us-1', 'o@example.com', 'o', 'O', 3, 0)",
                [],
            )
            .expect("member");
            c.execute(
                "INSERT INTO api_tokens (token_id, secret_sha256, member_pk, created_at) VALUES ('ak-v1', ?1, 1, 5)",
                params![ids::secret_digest(secret).as_slice()],
            )
            .expect("token");
        }
        let store = Store::open(&path).expect("migrate");
        store
            .read(|c| {
                let caller = authenticate(c, Some("ak-v1"), Some(secret), now())?;
                assert!(caller.is_manager());
                assert_eq!(caller.last_used_at, 0.0);
                let t = member_token(c, "ak-v1")?;
                assert_eq!(
                    (t.name.as_str(), t.expires_at, t.disabled),
                    ("", None, false)
                );
                assert_eq!(workspace(c)?.image_builder_version, IMAGE_BUILDER_VERSION);
                Ok(())
            })
            .expect("read");
    }

    #[test]
    fn tokens_and_environments() {
        let (_d, store) = temp_store();
        store
            .write(|c| {
                let owner = ensure_owner(c)?;
                let prod = create_env(c, "prod")?;
                let (a, _) = create_proxy_token(
                    c,
                    NewProxyToken {
                        created_by: Some(owner.pk),
                        name: "a",
                        scoped: true,
                        created_at: None,
                    },
                )?;
                let (b, _) = create_proxy_token(
                    c,
                    NewProxyToken {
                        created_by: Some(owner.pk),
                        name: "b",
                        scoped: false,
                        created_at: None,
                    },
                )?;
                assert!(list_proxy_tokens_for_env(c, "prod")?
                    .iter()
                    .all(|t| t.token_id == b.token_id));
                assert!(allow_token(c, &a.token_id, &prod)?);
                assert!(!allow_token(c, &a.token_id, &prod)?);
                let ids: Vec<_> = list_proxy_tokens_for_env(c, "prod")?
                    .into_iter()
                    .map(|t| t.token_id)
                    .collect();
                assert_eq!(ids, vec![a.token_id.clone(), b.token_id.clone()]);
                assert_eq!(
                    token_environments(c, &a.token_id)?,
                    vec![prod.environment_id.clone()]
                );
                assert!(matches!(
                    list_proxy_tokens_for_env(c, "nope"),
                    Err(Error::NotFound(_))
                ));
                assert!(matches!(
                    rename_proxy_token(c, &a.token_id, &"x".repeat(101)),
                    Err(Error::InvalidArgument(_))
                ));
                remove_env(c, "prod")?;
                assert!(token_environments(c, &a.token_id)?.is_empty());
                assert!(matches!(
                    remove_env(c, "main"),
                    Err(Error::FailedPrecondition(_))
                ));
                delete_proxy_token(c, &a.token_id)?;
                assert!(matches!(
                    delete_proxy_token(c, &a.token_id),
                    Err(Error::NotFound(_))
                ));
                Ok(())
            })
            .expect("write");
    }

    #[test]
    fn members_lifecycle() {
        let (_d, store) = temp_store();
        store
            .write(|c| {
                let owner = ensure_owner(c)?;
                let m = add_member(
                    c,
                    NewMember {
                        email: "zoë@example.com",
                        display_name: Some("Zoë"),
                        username: None,
                        role: proto::MemberRole::User,
                        joined_at: Some(1_700_000_000.0),
                    },
                )?;
                assert_eq!(m.username, "zo");
                assert!(matches!(
                    add_member(
                        c,
                        NewMember {
                            email: "zoë@example.com",
                            display_name: None,
                            username: None,
                            role: proto::MemberRole::User,
                            joined_at: None,
                        }
                    ),
                    Err(Error::AlreadyExists(_))
                ));
                assert!(matches!(
                    remove_member(c, &owner.email),
                    Err(Error::FailedPrecondition(_))
                ));
                set_member_role(c, "zoë@example.com", proto::MemberRole::Owner)?;
                remove_member(c, &owner.email)?;
                let list = list_members(c)?;
                assert_eq!(list.len(), 1);
                assert_eq!(list[0].role, proto::MemberRole::Owner);
                Ok(())
            })
            .expect("write");
    }

    #[test]
    fn quote_hides_secrets_and_controls() {
        assert_eq!(quote("ws-abc"), "<a secret, not an ID>");
        assert_eq!(quote("a\nb"), "'a\\nb'");
        assert!(quote(&"x".repeat(200)).ends_with("…'"));
    }
}
