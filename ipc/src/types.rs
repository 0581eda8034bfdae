//! Message types. Every field is plain data so that bincode (binary clients)
//! and serde_json (JSON-lines clients) encode them alike.

use crate::cursor::{Cursor, ResyncReason};
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::Zeroize;

/// A secret string (API secret, proxy-token secret). Not `Debug`-printable,
/// zeroed on drop. Serializes as a plain string: it only ever crosses the
/// private socket.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    /// The secret's text. Call only where it is sent or stored, never logged.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// First message of every connection, from the client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClientHello {
    pub protocol_version: u32,
    /// Version of the client program (e.g. the `mws` crate version).
    pub client_version: String,
    /// Optional features the client would like; unknown ones are ignored.
    pub features: Vec<String>,
}

/// The daemon's answer to [`ClientHello`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerHello {
    pub protocol_version: u32,
    pub daemon_version: String,
    pub pid: u32,
    /// Features of the client's list that the daemon supports.
    pub features: Vec<String>,
    /// Set when the daemon refuses the connection (e.g. version mismatch).
    pub error: Option<String>,
}

/// Which credentials a request runs as, as the CLI saw them in its own
/// environment. The daemon resolves this by the official client's rules
/// (env vars first, then the profile in the config file).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Selection {
    /// `--profile` on the command line (wins over `MODAL_PROFILE`).
    pub profile: Option<String>,
    /// `MODAL_PROFILE`.
    pub env_profile: Option<String>,
    /// `MODAL_CONFIG_PATH`, else `~/.modal.toml` resolved with the CLI's HOME.
    pub config_path: Option<String>,
    /// The CLI's `HOME`, to find `~/.modal.toml` when no path is given.
    pub home: Option<String>,
    pub token_id: Option<String>,
    pub token_secret: Option<Secret>,
    pub server_url: Option<String>,
    pub environment: Option<String>,
}

/// How fresh a read must be.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Freshness {
    /// Maximum age of a cached answer in seconds; `None` = daemon default,
    /// `Some(0)` = always ask the server.
    pub max_age_secs: Option<u64>,
    /// Force one upstream read.
    pub fresh: bool,
}

/// A command to run against a workspace.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum WorkspaceCommand {
    MembersList,
    TokensList {
        environment: Option<String>,
    },
    TokenCreate {
        name: Option<String>,
    },
    TokenUpdateName {
        token_id: String,
        name: String,
    },
    TokenAllow {
        token_id: String,
        environment: String,
    },
    TokenRevoke {
        token_id: String,
        environment: String,
    },
    TokenDelete {
        token_id: String,
    },
    /// `mws settings …`
    Settings(SettingsCommand),
    /// `mws service-users …`
    ServiceUsers(ServiceUserCommand),
    /// `mws member-tokens …`
    MemberTokens(MemberTokenCommand),
    /// `mws proxy-tokens rotate`: a new token with the old one's name, scope
    /// and environments, then (unless `keep_old`) the old one deleted. A
    /// mutation: one idempotency key covers every step. Answered with
    /// [`Response::Rotated`], also when a step after the creation failed.
    TokenRotate {
        token_id: String,
        keep_old: bool,
    },
    /// `mws alerts`: judge this identity's credentials now (from the cache
    /// when young enough) and answer every current alert with
    /// [`Response::AlertReport`].
    Alerts,
}

impl WorkspaceCommand {
    /// True for commands that change the workspace.
    pub fn is_mutation(&self) -> bool {
        match self {
            WorkspaceCommand::MembersList
            | WorkspaceCommand::TokensList { .. }
            | WorkspaceCommand::Alerts => false,
            WorkspaceCommand::Settings(command) => !matches!(command, SettingsCommand::List),
            WorkspaceCommand::ServiceUsers(command) => !matches!(
                command,
                ServiceUserCommand::List | ServiceUserCommand::Info { .. }
            ),
            WorkspaceCommand::MemberTokens(command) => !matches!(command, MemberTokenCommand::List),
            _ => true,
        }
    }
}

/// `mws settings …` (workspace settings; manager or owner).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum SettingsCommand {
    /// Answered with [`Response::Settings`].
    List,
    /// `setting` is `default-environment` or `image-builder-version` (the
    /// daemon checks, after reading the current settings, as the official
    /// client does). Answered with [`Response::SettingSet`].
    Set { setting: String, value: String },
}

/// `mws service-users …` (manager or owner).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ServiceUserCommand {
    /// Answered with [`Response::ServiceUsers`].
    List,
    /// Answered with [`Response::ServiceUser`].
    Info { name: String },
    /// `expires_in_secs` already parsed and checked positive by the client.
    /// Answered with [`Response::CreatedServiceUser`].
    Create {
        name: String,
        expires_in_secs: Option<i64>,
    },
    /// With `allow_missing`, NOT_FOUND from the server is success.
    /// Answered with [`Response::Ok`].
    Delete { name: String, allow_missing: bool },
    /// `role` as typed (`contributor`, `viewer`, `no-access`). Answered with
    /// [`Response::RoleSet`] carrying the role before the change.
    SetRole {
        name: String,
        environment: String,
        role: String,
    },
}

/// `mws member-tokens …` (API tokens of members).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum MemberTokenCommand {
    /// Answered with [`Response::MemberTokens`].
    List,
    /// With `allow_missing`, NOT_FOUND from the server is success.
    Delete {
        token_id: String,
        allow_missing: bool,
    },
    /// Ids de-duplicated by the client (`--all` is resolved by the client
    /// from a `List`, as the official CLI does). Answered with `Ok`.
    Disable {
        token_ids: Vec<String>,
    },
    Enable {
        token_ids: Vec<String>,
    },
}

/// `mws auth …`: credentials in the OS keyring.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum AuthCommand {
    /// Store a secret for a profile (checked against the server first unless
    /// `verify` is false). The secret crosses the socket once, here.
    Set {
        token_id: String,
        server_url: Option<String>,
        secret: Secret,
        verify: bool,
    },
    /// Move `token_secret`s from the Modal config file into the keyring;
    /// with `scrub`, then remove them from the file.
    Import { all: bool, scrub: bool },
    /// Profiles and where each one's secret lives.
    List,
    /// Delete the selected profile's secret from the keyring.
    Remove,
    /// Ask the server whether the selected credential works.
    Check,
}

/// One profile as `mws auth` reports it. Never carries a secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AuthProfile {
    pub profile: String,
    pub token_id: String,
    pub server_url: String,
    /// `keyring`, `file`, `environment`, `keyring+file`, or `missing`.
    pub secret_location: String,
    pub active: bool,
    /// The workspace, when the command asked the server.
    pub workspace: Option<String>,
    /// What the server says of the credential (`auth check`).
    pub token_info: Option<TokenInfo>,
}

/// The caller's own credential, as `TokenInfoGet` describes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TokenInfo {
    pub token_id: String,
    /// The token's name, `""` if none.
    pub token_name: String,
    pub workspace_name: String,
    /// The user's username, or the service user's name.
    pub owner: String,
    /// `user` or `service_user`.
    pub owner_kind: String,
    /// Unix seconds; `0` when unknown.
    pub created_at: f64,
    /// Unix seconds; `0` when it never expires.
    pub expires_at: f64,
}

/// Answer to every [`AuthCommand`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AuthReport {
    pub profiles: Vec<AuthProfile>,
    /// The keyring backend in use.
    pub backend: String,
    /// The Modal config file concerned.
    pub config_path: String,
    /// Warnings for the user (printed on stderr).
    pub notes: Vec<String>,
}

/// Everything a client can ask the daemon.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Request {
    /// Liveness check; answered with [`Response::Pong`].
    Ping,
    /// Run a workspace command as the selected identity.
    Workspace {
        #[serde(default)]
        selection: Selection,
        #[serde(default)]
        freshness: Freshness,
        command: WorkspaceCommand,
        /// For mutations: a UUID the client chose for this logical change.
        /// The daemon derives its upstream idempotency keys from it, so a
        /// client that resends the mutation after the daemon died gets the
        /// first answer replayed instead of a second change.
        #[serde(default)]
        idempotency_key: Option<String>,
    },
    /// Daemon status; answered with [`Response::Status`].
    Status,
    /// Stop the daemon; answered with [`Response::Ok`] before it exits.
    Shutdown,
    /// Manage credentials; `selection` names the profile (`--profile`) and
    /// the config file.
    Auth {
        #[serde(default)]
        selection: Selection,
        command: AuthCommand,
    },
    /// Subscribe to change events for the selected identity (or all when
    /// `selection` is `None`); the connection then carries `Response::Event`s.
    /// With `since` (protocol 6), first the events after that cursor still
    /// held, or [`Response::Resync`] when it cannot be resumed.
    Watch {
        selection: Option<Selection>,
        #[serde(default)]
        since: Option<Cursor>,
    },
    /// Render rows in a plugin's output format (`--format NAME`); answered
    /// with [`Response::Rendered`]. `json` is the exact text `--json` would
    /// print for the same rows (a JSON array, timestamps already in the
    /// client's time zone); `kind` names the table (`members`, `tokens`).
    Render {
        format: String,
        kind: String,
        json: String,
    },
    /// Every plugin file the daemon found, loaded or not; answered with
    /// [`Response::Plugins`].
    Plugins,
    /// Every alert the daemon holds now, without judging anything first
    /// (protocol 2 and 3 clients); answered with [`Response::Alerts`].
    /// Current clients send `WorkspaceCommand::Alerts`.
    Alerts,
    /// The selected identity's credential, secret included, for `mws exec`
    /// and `mws env` to hand to other Modal tools; answered with
    /// [`Response::Credential`] (protocol 5). Nothing is asked of Modal.
    Credential {
        #[serde(default)]
        selection: Selection,
    },
    /// Names for shell completion (token ids, service users, environment
    /// names) from what the daemon has cached for the selected identity —
    /// never a call to Modal; answered with [`Response::Names`]
    /// (protocol 5).
    Complete {
        #[serde(default)]
        selection: Selection,
        kind: CompletionKind,
    },
    /// The daemon's metrics in the Prometheus text format; answered with
    /// [`Response::Metrics`] (protocol 5). Nothing is asked of Modal.
    Metrics,
    /// A shell prompt's segment for the selected identity, from what the
    /// daemon already knows (never a call to Modal); answered with
    /// [`Response::Prompt`] (protocol 5).
    Prompt {
        #[serde(default)]
        selection: Selection,
    },
    /// Webhook endpoints: their state, their signing secrets, a test
    /// delivery (protocol 7). Nothing is asked of Modal.
    Webhooks(WebhookCommand),
}

/// What `mws webhooks …` asks of the daemon.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum WebhookCommand {
    /// Every configured endpoint and the queue; answered with
    /// [`Response::Webhooks`].
    List,
    /// Store endpoint `name`'s signing secret in the keyring: `secret`, or
    /// a new random one when `None`; answered with
    /// [`Response::WebhookSecret`] (the secret only when generated). The
    /// secret crosses the socket once, here.
    SetSecret {
        name: String,
        secret: Option<Secret>,
    },
    /// Forget endpoint `name`'s signing secret; answered with `Ok`.
    DeleteSecret { name: String },
    /// Queue a `webhook.test` event for endpoint `name` (through the sink
    /// plugin, like any event); answered with [`Response::WebhookQueued`].
    Test { name: String },
    /// Queue again the deliveries to endpoint `name` that were given up
    /// on; answered with [`Response::WebhookQueued`].
    Retry { name: String },
    /// Remove every delivery to endpoint `name` (configured or no longer
    /// configured) from the outbox, waiting or given up on; answered with
    /// [`Response::WebhookPurged`].
    Purge { name: String },
}

/// One configured webhook endpoint, as `mws webhooks list` shows it. Never
/// carries the secret, nor the URL's path or query (which may hold one).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WebhookEndpoint {
    pub name: String,
    /// `scheme://host[:port]` only.
    pub target: String,
    /// `standard` or `slack`.
    pub format: String,
    /// Event patterns it receives (`token.*`, `alert.*`, `*`, exact kinds).
    pub events: Vec<String>,
    /// Whether a signing secret is in the keyring (`None`: not known yet,
    /// the keyring has not answered).
    pub has_secret: Option<bool>,
    /// Deliveries waiting (including the one in flight).
    pub queued: u64,
    /// Delivered (2xx) since the daemon started.
    pub delivered: u64,
    /// Attempts that failed and were retried, since the daemon started.
    pub retries: u64,
    /// Deliveries given up on (kept on disk; `mws webhooks retry`).
    pub failed: u64,
    /// Why the last attempt failed, if it did (one line).
    pub last_error: Option<String>,
    /// Unix seconds of the last delivery that succeeded.
    pub last_delivered_at: Option<f64>,
    /// Unix seconds of the next attempt, when one is waiting.
    pub next_attempt_at: Option<f64>,
}

/// The webhook queue, for `mws webhooks list` and `mws daemon status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WebhookReport {
    pub endpoints: Vec<WebhookEndpoint>,
    /// Deliveries waiting, all endpoints.
    pub queued: u64,
    /// The most that may wait (`[webhooks] max_queue`).
    pub max_queue: u64,
    /// Deliveries not queued because the queue was full, since start.
    pub dropped: u64,
    /// Events the sink could not keep up with (missed), since start.
    pub missed_events: u64,
    /// Deliveries waiting for an endpoint no longer configured.
    pub orphaned: u64,
    /// The names of endpoints no longer configured that still have
    /// deliveries in the outbox (waiting or given up on), for `mws webhooks
    /// purge`.
    #[serde(default)]
    pub orphaned_endpoints: Vec<String>,
    /// The loaded plugins that turn events into deliveries (`workspace.event`).
    pub sinks: Vec<String>,
    /// Where the queue is kept on disk.
    pub outbox: String,
}

/// What `Request::Complete` asks for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum CompletionKind {
    ProxyTokens,
    ServiceUsers,
    MemberTokens,
    Environments,
    /// Webhook endpoint names: the configured ones, and those no longer
    /// configured that still hold deliveries (protocol 7).
    WebhookEndpoints,
}

/// `Request::Credential`'s answer: what `MODAL_TOKEN_ID`,
/// `MODAL_TOKEN_SECRET` and `MODAL_SERVER_URL` should say.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExportedCredential {
    pub token_id: String,
    pub token_secret: Secret,
    pub server_url: String,
    /// The profile it came from (`""` for the environment).
    pub profile: String,
}

/// `Request::Prompt`'s answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PromptInfo {
    /// The profile in use (`""` when the credential came from the
    /// environment).
    pub profile: String,
    /// The workspace, when the daemon has met this identity (`""` if not).
    pub workspace: String,
    /// The most urgent alert of that workspace at `warning` or above.
    pub alert: Option<Alert>,
}

/// A workspace member, as the server sent it (timestamps in Unix seconds,
/// `<= 0` meaning unset). Rendering is the client's job: it knows the user's
/// time zone and terminal.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Member {
    pub name: String,
    pub email: String,
    /// `member`, `manager` or `owner`.
    pub role: String,
    pub user_id: String,
    pub joined_at: f64,
    pub last_active_at: f64,
}

/// A proxy token (never its secret).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProxyToken {
    pub token_id: String,
    pub name: String,
    pub created_at: f64,
    /// The creator's username, `""` if none.
    pub created_by: String,
    pub scoped: bool,
}

/// Workspace settings (`settings list`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkspaceSettings {
    pub default_environment: String,
    pub image_builder_version: String,
}

/// A service user's role in one environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EnvironmentRole {
    pub environment: String,
    /// As the server names it (`role_str`), e.g. `contributor`.
    pub role: String,
}

/// A service user (never its secret). Timestamps in Unix seconds, `0` = unset.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ServiceUser {
    pub service_user_id: String,
    pub name: String,
    pub token_id: String,
    pub created_by: String,
    pub created_at: f64,
    pub last_used_at: f64,
    pub expires_at: f64,
    /// In the server's order; an environment appears at most once.
    pub environment_roles: Vec<EnvironmentRole>,
}

/// A freshly created service user with its credential (shown once).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreatedServiceUser {
    pub service_user_id: String,
    pub token_id: String,
    pub token_secret: Secret,
    /// Unix seconds; `0` when it never expires.
    pub expires_at: f64,
}

/// A member's API token (never its secret). Timestamps in Unix seconds,
/// `0` = unset.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MemberToken {
    pub token_id: String,
    /// `""` when it has none.
    pub name: String,
    pub user_id: String,
    /// The member's display name.
    pub username: String,
    pub created_at: f64,
    pub last_used_at: f64,
    pub expires_at: f64,
    pub disabled: bool,
}

/// A freshly created proxy token, with its secret (shown once).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreatedToken {
    pub token_id: String,
    pub token_secret: Secret,
}

/// What kind of failure an [`ErrorReply`] is; the CLI maps it to an exit code
/// and the wording around the message.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ErrorKind {
    /// The server answered with an error; `message` is its text, verbatim.
    Server,
    /// The server could not be reached.
    Unreachable,
    /// No usable credentials.
    Credentials,
    /// The config file (e.g. `~/.modal.toml`) is unreadable or invalid.
    Config,
    /// The request itself is invalid (bad argument the CLI did not catch).
    BadRequest,
    /// A protocol error on the socket (malformed frame, wrong version).
    Protocol,
    /// Anything else inside the daemon.
    Internal,
}

/// An error the daemon reports for one request. `message` is one line, fit to
/// print after `Error: `, and never contains a secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorReply {
    pub kind: ErrorKind,
    pub message: String,
}

/// One identity (server URL + token id) the daemon has in use.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IdentityStatus {
    pub server_url: String,
    pub token_id: String,
    pub workspace: Option<String>,
    /// Number of upstream RPCs made for this identity.
    pub upstream_calls: u64,
    /// Number of upstream RPCs that failed.
    pub upstream_errors: u64,
    /// The most recent upstream error, if any.
    pub last_error: Option<String>,
    /// Age in seconds of the cached member list, if any.
    pub members_age_secs: Option<f64>,
    /// Age in seconds of the cached token list, if any.
    pub tokens_age_secs: Option<f64>,
    /// Seconds since the last background refresh, if any.
    pub last_poll_secs_ago: Option<f64>,
    /// Whether a background poller runs for this identity.
    pub polling: bool,
    /// The credential itself, when the daemon has asked (`TokenInfoGet`).
    pub token_info: Option<TokenInfo>,
}

/// Answer to [`Request::Status`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DaemonStatus {
    pub pid: u32,
    pub version: String,
    pub protocol_version: u32,
    pub uptime_secs: u64,
    pub socket: String,
    pub identities: Vec<IdentityStatus>,
    /// URL of the embedded emulator when the `local` profile is in use.
    pub local_emulator: Option<String>,
    /// Problems with configuration the daemon keeps running despite.
    pub config_errors: Vec<String>,
    /// Number of `watch` subscribers connected.
    pub subscribers: u32,
    /// Desktop notification state, e.g. `enabled`, `disabled`, or why
    /// unavailable.
    pub notifications: String,
    /// Every plugin file found, with its state.
    #[serde(default)]
    pub plugins: Vec<PluginInfo>,
    /// This daemon instance's id, as its events carry it (protocol 6).
    #[serde(default)]
    pub instance: String,
    /// The sequence number of its last event (`0`: none yet).
    #[serde(default)]
    pub last_event_seq: u64,
    /// The webhook queue (protocol 7).
    #[serde(default)]
    pub webhooks: WebhookReport,
}

/// A change noticed in a workspace, streamed to `Watch` subscribers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// e.g. `token.created`, `member.role_changed`.
    pub kind: String,
    /// Unix seconds when the daemon noticed it.
    pub time: f64,
    pub workspace: String,
    pub server_url: String,
    /// JSON text of the object before the change (`null` for creations).
    pub before: String,
    /// JSON text of the object after the change (`null` for deletions).
    pub after: String,
    /// The event in words, as desktop notifications show it: a title
    /// (`Proxy token created`) …
    #[serde(default)]
    pub title: String,
    /// … and what it is about (`wk-1 ('ci')`), without the workspace.
    #[serde(default)]
    pub detail: String,
    /// The daemon instance that numbered it (random per daemon start).
    #[serde(default)]
    pub instance: String,
    /// Its number, 1, 2, … per instance, over all identities: a stream
    /// narrowed to one identity sees gaps.
    #[serde(default)]
    pub seq: u64,
}

/// Everything the daemon answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Response {
    Pong,
    /// A command that changed something succeeded and has nothing to show.
    Ok,
    Members(Vec<Member>),
    Tokens(Vec<ProxyToken>),
    Created(CreatedToken),
    Status(DaemonStatus),
    Auth(AuthReport),
    Event(Event),
    Error(ErrorReply),
    /// Output of a plugin's format, to print as is.
    Rendered(String),
    Plugins(Vec<PluginInfo>),
    Alerts(Vec<Alert>),
    Settings(WorkspaceSettings),
    /// `settings set`: the value before; `error` set when the server refused
    /// the change (the CLI prints the official `✗ SETTING: …` line).
    SettingSet {
        previous: String,
        error: Option<String>,
    },
    ServiceUsers(Vec<ServiceUser>),
    ServiceUser(ServiceUser),
    CreatedServiceUser(CreatedServiceUser),
    /// `service-users set-role`: the role before the change (`no-access`
    /// when the service user had none in that environment).
    RoleSet {
        previous: String,
    },
    MemberTokens(Vec<MemberToken>),
    /// `proxy-tokens rotate`: what exists now.
    Rotated(RotatedToken),
    /// `WorkspaceCommand::Alerts`.
    AlertReport(AlertReport),
    /// On a `Watch` stream: the subscriber fell behind and `missed` events
    /// were dropped for it; resync with a fresh listing.
    Lagged {
        missed: u64,
    },
    /// `Request::Credential`.
    Credential(ExportedCredential),
    /// `Request::Prompt`.
    Prompt(PromptInfo),
    /// `Request::Complete`: sorted, without duplicates.
    Names(Vec<String>),
    /// `Request::Metrics`: the Prometheus text exposition.
    Metrics(String),
    /// On a `Watch` stream of a protocol 6 client, after `Ok`: the cursor
    /// the stream starts from (the `since` being resumed, else the daemon's
    /// last event; `seq` 0: none yet). Keep it until events arrive.
    Watching {
        instance: String,
        seq: u64,
    },
    /// On a `Watch` stream, instead of `Watching`: the `since` cursor cannot
    /// be resumed (`reason`); the stream goes on from the daemon's last
    /// event (`instance`, `seq`). List again to resync.
    Resync {
        reason: ResyncReason,
        instance: String,
        seq: u64,
    },
    /// `WebhookCommand::List`.
    Webhooks(WebhookReport),
    /// `WebhookCommand::SetSecret`: the generated secret, to give the
    /// receiver (`None` when the caller supplied it).
    WebhookSecret(Option<Secret>),
    /// `WebhookCommand::Test` / `Retry`: how many deliveries were queued.
    WebhookQueued(u64),
    /// `WebhookCommand::Purge`: deliveries removed, and those left because
    /// an attempt was under way.
    WebhookPurged {
        removed: u64,
        sending: u64,
    },
}

/// Where a plugin file stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum PluginState {
    /// Loaded in the plugin host; its formats and events are in use.
    Loaded,
    /// Not loaded: the file failed a check (owner, permissions, not a
    /// library, no entry symbol, wrong ABI version); `reason` says which.
    Refused,
    /// It crashed the plugin host (or hung); not loaded again until the
    /// file changes. `reason` says what happened.
    Quarantined,
}

/// One plugin file, as `mws plugins list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PluginInfo {
    /// The plugin's own name; the file name when it never loaded.
    pub name: String,
    /// The plugin's version, `""` when it never loaded.
    pub version: String,
    pub path: String,
    /// Output formats it renders (`--format NAME`).
    pub formats: Vec<String>,
    /// Events it wants (e.g. `tokens.refreshed`).
    pub events: Vec<String>,
    pub state: PluginState,
    /// Why it is refused or quarantined.
    pub reason: Option<String>,
    /// The last error one of its calls returned, if any.
    pub last_error: Option<String>,
}

/// A condition a plugin raised, e.g. a credential about to expire.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    /// The plugin that raised it.
    pub plugin: String,
    /// What is judged, e.g. `token_age`, `service_user_expiry`; events
    /// carry it as `alert.<kind>`.
    pub kind: String,
    /// `info`, `warning`, `critical` or `expired` (in rising order; see
    /// [`alert_level_rank`]); a plugin may use other words, ranked lowest.
    pub level: String,
    pub workspace: String,
    pub server_url: String,
    /// The credential concerned: a token id, or a service user's name.
    pub token_id: String,
    /// One line for people.
    pub message: String,
    /// Unix seconds when the daemon first raised it at this level.
    pub since: f64,
    /// Who the credential belongs to (`""` when unknown).
    #[serde(default)]
    pub owner: String,
    /// Unix seconds when the credential expires (`0`: no expiry date).
    #[serde(default)]
    pub expires_at: f64,
    /// The command that fixes it (`""` when the plugin names none).
    #[serde(default)]
    pub fix: String,
}

/// The order of alert levels: `info` < `warning` < `critical` < `expired`;
/// any other word ranks below `info`.
pub fn alert_level_rank(level: &str) -> u8 {
    match level {
        "info" => 1,
        "warning" => 2,
        "critical" => 3,
        "expired" => 4,
        _ => 0,
    }
}

/// Answer to `WorkspaceCommand::Alerts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AlertReport {
    /// Every current alert, of every identity the daemon watches.
    pub alerts: Vec<Alert>,
    /// The loaded plugins that judge credentials; empty means nothing
    /// judged them (so no alerts is no news).
    pub judges: Vec<String>,
}

/// What `proxy-tokens rotate` did; each step after the creation may have
/// failed, and `failure` then says which and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RotatedToken {
    pub old_token_id: String,
    pub name: String,
    /// The new token and its secret (shown once).
    pub created: CreatedToken,
    /// Environment ids the new token was allowed in (a scoped token's).
    pub environments: Vec<String>,
    /// Environment ids the old token had but the new one could not get.
    pub environments_missing: Vec<String>,
    pub old_deleted: bool,
    /// The step that failed, in one line (`None`: all done).
    pub failure: Option<String>,
}

impl Request {
    /// The variant's name (e.g. for counting requests by kind).
    pub fn name(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::Workspace { .. } => "workspace",
            Request::Status => "status",
            Request::Shutdown => "shutdown",
            Request::Auth { .. } => "auth",
            Request::Watch { .. } => "watch",
            Request::Render { .. } => "render",
            Request::Plugins => "plugins",
            Request::Alerts => "alerts",
            Request::Credential { .. } => "credential",
            Request::Complete { .. } => "complete",
            Request::Metrics => "metrics",
            Request::Prompt { .. } => "prompt",
            Request::Webhooks(_) => "webhooks",
        }
    }
}

impl Response {
    /// The variant's name, for messages about an unexpected answer.
    pub fn name(&self) -> &'static str {
        match self {
            Response::Pong => "Pong",
            Response::Ok => "Ok",
            Response::Members(_) => "Members",
            Response::Tokens(_) => "Tokens",
            Response::Created(_) => "Created",
            Response::Status(_) => "Status",
            Response::Auth(_) => "Auth",
            Response::Event(_) => "Event",
            Response::Error(_) => "Error",
            Response::Rendered(_) => "Rendered",
            Response::Plugins(_) => "Plugins",
            Response::Alerts(_) => "Alerts",
            Response::Rotated(_) => "Rotated",
            Response::AlertReport(_) => "AlertReport",
            Response::Settings(_) => "Settings",
            Response::SettingSet { .. } => "SettingSet",
            Response::ServiceUsers(_) => "ServiceUsers",
            Response::ServiceUser(_) => "ServiceUser",
            Response::CreatedServiceUser(_) => "CreatedServiceUser",
            Response::RoleSet { .. } => "RoleSet",
            Response::MemberTokens(_) => "MemberTokens",
            Response::Lagged { .. } => "Lagged",
            Response::Credential(_) => "Credential",
            Response::Prompt(_) => "Prompt",
            Response::Names(_) => "Names",
            Response::Metrics(_) => "Metrics",
            Response::Watching { .. } => "Watching",
            Response::Resync { .. } => "Resync",
            Response::Webhooks(_) => "Webhooks",
            Response::WebhookSecret(_) => "WebhookSecret",
            Response::WebhookQueued(_) => "WebhookQueued",
            Response::WebhookPurged { .. } => "WebhookPurged",
        }
    }

    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Self {
        Response::Error(ErrorReply {
            kind,
            message: message.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_not_debug_printed() {
        let selection = Selection {
            token_secret: Some(Secret::new("as-verysecret".into())),
            ..Default::default()
        };
        let shown = format!("{selection:?}");
        assert!(!shown.contains("verysecret"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn mutations_are_classified() {
        assert!(!WorkspaceCommand::MembersList.is_mutation());
        assert!(!WorkspaceCommand::TokensList { environment: None }.is_mutation());
        assert!(WorkspaceCommand::TokenDelete {
            token_id: "wk-1".into()
        }
        .is_mutation());
        assert!(
            !WorkspaceCommand::ServiceUsers(ServiceUserCommand::Info { name: "ci".into() })
                .is_mutation()
        );
        assert!(WorkspaceCommand::MemberTokens(MemberTokenCommand::Enable {
            token_ids: vec!["ak-1".into()]
        })
        .is_mutation());
        assert!(!WorkspaceCommand::Settings(SettingsCommand::List).is_mutation());
    }
}
