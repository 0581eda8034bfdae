//! The command line, declared with clap. Help texts follow the official
//! `modal workspace` reference so that users of one recognise the other; the
//! official spelling (`mws workspace proxy-tokens …`) works as well as the
//! short one (`mws proxy-tokens …`).
//!
//! A new command group means: its enum here, one arm in `commands::run`,
//! and a file of its own under `commands/`.

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "A fast, native companion for Modal workspaces.";

const LONG_ABOUT: &str = "A fast, native companion for Modal workspaces.

Every command is answered by a background daemon (mwsd), started on first use, \
which holds the connection to Modal and a short-lived cache. Credentials are \
chosen as by the official client: --profile, MODAL_PROFILE, MODAL_TOKEN_ID / \
MODAL_TOKEN_SECRET, MODAL_SERVER_URL and ~/.modal.toml (or MODAL_CONFIG_PATH). \
`--profile local` uses a built-in local emulator.";

const WORKSPACE_HELP: &str = "Interact with the current Modal Workspace.

A Workspace is the top-level account that owns your Modal resources. Use these \
commands to manage workspace-level settings such as proxy tokens.";

const PROXY_TOKENS_HELP: &str = "Manage the proxy tokens of the current Workspace.

Proxy tokens provide authentication to HTTP interfaces on Modal Servers and Web \
Functions. They are passed as request headers (Modal-Key and Modal-Secret). See \
https://modal.com/docs/guide/webhook-proxy-auth for more information.

Proxy tokens and secrets have wk- and ws- prefixes, respectively. They cannot be \
interchanged with API tokens (which use ak- and as- prefixes).

On workspaces with RBAC enabled, tokens are scoped to specific environments; use \
the allow and revoke commands to manage environment associations.";

const SETTINGS_HELP: &str = "Manage workspace settings. Must be workspace manager or owner.";

const SETTINGS_SET_HELP: &str = "Update a workspace setting. Must be workspace manager or owner.

The following settings can be updated:
- image-builder-version: The image builder version determines the software included in our base images.
- default-environment: The default environment to use when the environment is omitted from SDK or CLI methods.

Usage:
- mws settings set image-builder-version 2025.06
- mws settings set default-environment main";

const SERVICE_USERS_HELP: &str = "Manage Service Users. Must be workspace manager or owner.

Service users are programmatic accounts that allow automated systems to interact with Modal. \
They're ideal for CI/CD pipelines, automated deployments, and other workflows that need to \
authenticate.

Service User credentials are typically made available to a process as environment variables:

  export MODAL_TOKEN_ID=your-token-id
  export MODAL_TOKEN_SECRET=your-token-secret

A newly created Service User has no permissions by default. In order to interact with a specific \
Environment, Service Users must be granted explicit permissions.

See https://modal.com/docs/guide/service-users for more information.";

const SERVICE_USERS_CREATE_HELP: &str = "Create a Service User in this workspace.

In order to run this command, you must have at least Manager level permissions in the Workspace.

By default, Service Users have no permissions. To explicitly grant the Service User permissions \
to interact with a given environment, use `mws service-users set-role`.

Optionally, you can also specify an expiration window by passing --expires-in. After the \
specified amount of time elapses, this Service User will be deleted, and any credentials \
associated with this Service User will stop working. The option expects a positive integer \
value, optionally suffixed by the units s, m, h, or d, meaning seconds, minutes, hours, and days \
respectively. If no suffix is provided, the value is interpreted as seconds. If --expires-in is \
not provided, the newly created Service User will never expire.

Examples:

  mws service-users create test-1
  mws service-users create test-2 --expires-in 3600
  mws service-users create test-3 --expires-in 1h
  mws service-users create test-4 --expires-in 365d --json";

const MEMBER_TOKENS_HELP: &str = "Manage Member API Tokens.

All Member Tokens are associated with a unique Member of the Workspace. Any requests to Modal \
using a Token are authenticated as the associated Member (and as such, are governed by the \
permissions that have been assigned to the specific Member).

This CLI allows users to list and delete the tokens associated to themselves. Workspace Owners \
and Managers can list all tokens in their Workspace, and can delete any of them.";

const UPDATE_HELP: &str = "Update a proxy token in the current Workspace.

The following settings can be updated:

- name: A name to help identify the token. Pass an empty value to remove it.

Example:

  mws proxy-tokens update wk-123 name production-webhooks";

const CREATE_HELP: &str = "Create a proxy token in the current Workspace.

The new token's ID and secret will be printed to stdout. The secret is only \
shown at creation time and cannot be retrieved later.";

#[derive(Parser, Debug)]
#[command(
    name = "mws",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    disable_help_subcommand = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Use this profile of ~/.modal.toml (`local`: the built-in emulator).
    #[arg(verbatim_doc_comment, long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// View the members of the current Workspace.
    #[command(verbatim_doc_comment, subcommand)]
    Members(MembersCommand),

    /// Manage the proxy tokens of the current Workspace.
    #[command(verbatim_doc_comment, subcommand, long_about = PROXY_TOKENS_HELP)]
    ProxyTokens(ProxyTokensCommand),

    /// Interact with the current Modal Workspace.
    #[command(verbatim_doc_comment, subcommand, long_about = WORKSPACE_HELP)]
    Workspace(WorkspaceCommand),

    /// Manage workspace settings. Must be workspace manager or owner.
    #[command(verbatim_doc_comment, subcommand, long_about = SETTINGS_HELP)]
    Settings(SettingsCommand),

    /// Manage Service Users. Must be workspace manager or owner.
    #[command(verbatim_doc_comment, subcommand, long_about = SERVICE_USERS_HELP)]
    ServiceUsers(ServiceUsersCommand),

    /// Manage Member API Tokens.
    #[command(verbatim_doc_comment, subcommand, long_about = MEMBER_TOKENS_HELP)]
    MemberTokens(MemberTokensCommand),

    /// Start, stop or inspect the background daemon (mwsd).
    #[command(verbatim_doc_comment, subcommand)]
    Daemon(DaemonCommand),

    /// Inspect the plugins mwsd found (output formats, alert policies).
    #[command(subcommand)]
    Plugins(PluginsCommand),

    /// List what alert plugins say of the workspace's credentials now: tokens
    /// and service users about to expire or expired, your own credential's
    /// expiry, unused or disabled member tokens, old proxy tokens.
    ///
    /// Exits 1 when an alert is at or above --fail-on (default: warning), so
    /// `mws alerts` in cron or CI fails before a credential expires.
    Alerts {
        #[command(flatten)]
        output: JsonFlag,
        /// Exit 1 when an alert is at least this level.
        #[arg(long, value_name = "LEVEL", default_value = "warning",
              value_parser = ["info", "warning", "critical", "expired", "never"])]
        fail_on: String,
        #[command(flatten)]
        freshness: FreshnessArgs,
    },

    /// Run a command with the selected credential in its environment.
    ///
    /// COMMAND runs with MODAL_TOKEN_ID, MODAL_TOKEN_SECRET and MODAL_SERVER_URL
    /// of the selected profile, taken from the daemon (and so from the OS
    /// keyring): `modal deploy`, `modal run` and scripts using the Modal SDK
    /// work after `mws auth import --scrub` removed the secret from
    /// ~/.modal.toml. The secret is never on a command line or in a file.
    /// mws replaces itself with COMMAND, so its exit status, signals and
    /// terminal are COMMAND's own.
    ///
    ///   mws exec -- modal deploy app.py
    ///   mws --profile work exec -- python train.py
    #[command(verbatim_doc_comment)]
    Exec {
        /// The command and its arguments.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMMAND"
        )]
        command: Vec<std::ffi::OsString>,
    },

    /// Print the selected credential as environment variables.
    ///
    /// For `eval "$(mws env)"` (sh, bash, zsh), `mws env --shell fish | source`,
    /// or --shell json. Refuses to print the secret to a terminal unless --reveal.
    #[command(verbatim_doc_comment)]
    Env {
        /// The syntax to print.
        #[arg(long, value_enum, default_value = "sh")]
        shell: EnvShell,
        /// Print even when stdout is a terminal (the secret will be on screen).
        #[arg(long)]
        reveal: bool,
    },

    /// Print the daemon's metrics in the Prometheus text format.
    ///
    /// Counts of members by role, proxy tokens, service users and member tokens,
    /// seconds to the nearest expiry per credential kind, alerts by level (for
    /// the workspaces the daemon has met), and upstream calls, errors, latency,
    /// cache hits and IPC requests since it started. Never calls Modal. To have
    /// Prometheus scrape it, set `[metrics] listen = "127.0.0.1:9464"` in
    /// ~/.config/mws/config.toml.
    #[command(verbatim_doc_comment)]
    Metrics,

    /// Webhook endpoints: their queue, signing secrets, a test delivery.
    ///
    /// Endpoints are configured in [webhooks.endpoints.NAME] of
    /// ~/.config/mws/config.toml (url, format = "standard" | "slack", events);
    /// their signing secrets live in the OS keyring. See docs/team.md.
    #[command(subcommand, verbatim_doc_comment)]
    Webhooks(WebhooksCommand),

    /// Print a one-line segment for a shell prompt: profile, workspace, alert.
    ///
    /// Answered from the daemon's cache only: never calls Modal and never starts
    /// the daemon. Prints nothing (and exits 0) when the daemon is not running or
    /// does not answer within 50 ms. See docs/shell.md for bash, zsh, fish and
    /// starship snippets.
    ///
    /// Placeholders: {profile} {workspace} {alert} (e.g. "⚠ token expires in 3d",
    /// empty when there is none) {level}. Default: "{workspace} {alert}".
    #[command(verbatim_doc_comment)]
    Prompt {
        /// The template.
        #[arg(long, value_name = "TEMPLATE", default_value = "{workspace} {alert}")]
        format: String,
    },

    /// Follow changes to the workspace (tokens, members) as they happen.
    ///
    /// Runs until interrupted. With --json, one JSON object per line:
    /// type, time, workspace, the object before and after the change, and
    /// the event's instance and seq (for --since).
    Watch {
        #[command(flatten)]
        output: JsonFlag,
        /// Resume after this event: INSTANCE:SEQ (an event's `instance` and
        /// `seq` in --json lines), or SEQ of the running daemon. Missed events
        /// still held (the last 1,024) come first; otherwise a resync line says
        /// the cursor is too old or the daemon restarted.
        #[arg(long, value_name = "CURSOR")]
        since: Option<mws_ipc::Cursor>,
    },

    /// Keep API secrets in the OS keyring instead of ~/.modal.toml.
    #[command(subcommand)]
    Auth(AuthCommand),

    /// Print a shell completion script (e.g. `mws completions bash > ~/.local/share/bash-completion/completions/mws`).
    #[command(verbatim_doc_comment)]
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },

    /// Print the man page (roff), e.g. `mws man > ~/.local/share/man/man1/mws.1`.
    #[command(verbatim_doc_comment)]
    Man,
}

/// `mws env --shell`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvShell {
    Sh,
    Fish,
    Json,
}

/// `mws workspace …`: the official CLI's spelling of the same commands.
#[derive(Subcommand, Debug)]
pub enum WorkspaceCommand {
    /// View the members of the current Workspace.
    #[command(verbatim_doc_comment, subcommand)]
    Members(MembersCommand),

    /// Manage the proxy tokens of the current Workspace.
    #[command(verbatim_doc_comment, subcommand, long_about = PROXY_TOKENS_HELP)]
    ProxyTokens(ProxyTokensCommand),

    /// Manage workspace settings. Must be workspace manager or owner.
    #[command(verbatim_doc_comment, subcommand, long_about = SETTINGS_HELP)]
    Settings(SettingsCommand),

    /// Manage Service Users. Must be workspace manager or owner.
    #[command(verbatim_doc_comment, subcommand, long_about = SERVICE_USERS_HELP)]
    ServiceUsers(ServiceUsersCommand),

    /// Manage Member API Tokens.
    #[command(verbatim_doc_comment, subcommand, long_about = MEMBER_TOKENS_HELP)]
    MemberTokens(MemberTokensCommand),
}

#[derive(Subcommand, Debug)]
pub enum SettingsCommand {
    /// View the current settings for the workspace.
    #[command(verbatim_doc_comment)]
    List {
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Update a workspace setting. Must be workspace manager or owner.
    #[command(verbatim_doc_comment, long_about = SETTINGS_SET_HELP, arg_required_else_help = true)]
    Set { setting: String, value: String },
}

#[derive(Subcommand, Debug)]
pub enum ServiceUsersCommand {
    /// Create a Service User in this workspace.
    #[command(verbatim_doc_comment, long_about = SERVICE_USERS_CREATE_HELP, arg_required_else_help = true)]
    Create {
        name: String,
        /// Expiration time. Accepts integers (interpreted as seconds), as well as values suffixed by `s`, `m`, `h`, or `d`.
        #[arg(
            verbatim_doc_comment,
            long,
            value_name = "TEXT",
            allow_hyphen_values = true
        )]
        expires_in: Option<String>,
        /// Output as JSON.
        #[arg(verbatim_doc_comment, long)]
        json: bool,
    },
    /// List all Service Users in this workspace.
    #[command(verbatim_doc_comment)]
    List {
        /// Output as JSON.
        #[arg(verbatim_doc_comment, long)]
        json: bool,
    },
    /// Delete a Service User in this Workspace.
    ///
    /// Note that this action is irreversible. Any existing processes / scripts that use the
    /// credentials associated with the target Service User will stop being able to authenticate
    /// with Modal.
    #[command(arg_required_else_help = true)]
    Delete {
        #[arg(add = crate::complete::service_users())]
        name: String,
        /// Don't error if the Service User doesn't exist.
        #[arg(verbatim_doc_comment, long)]
        allow_missing: bool,
        /// Run without pausing for confirmation.
        #[arg(verbatim_doc_comment, short, long)]
        yes: bool,
    },
    /// Inspect a Service User in this workspace.
    #[command(verbatim_doc_comment, arg_required_else_help = true)]
    Info {
        #[arg(add = crate::complete::service_users())]
        name: String,
        /// Output as JSON.
        #[arg(verbatim_doc_comment, long)]
        json: bool,
    },
    /// Update a Service User's role in a specific Environment.
    ///
    /// Examples:
    ///
    ///   mws service-users set-role test-service-user main contributor
    ///   mws service-users set-role test-service-user prod no-access
    #[command(verbatim_doc_comment, arg_required_else_help = true)]
    SetRole {
        #[arg(add = crate::complete::service_users())]
        service_user_name: String,
        #[arg(add = crate::complete::environments())]
        environment_name: String,
        role: String,
    },
    /// Explain how to replace a Service User's credential (mws only).
    ///
    /// Modal cannot issue a new credential for an existing Service User, so
    /// this prints the commands that replace it with a new one holding the
    /// same environment roles, and changes nothing.
    #[command(arg_required_else_help = true)]
    Rotate {
        #[arg(add = crate::complete::service_users())]
        name: String,
        /// The new Service User's expiration (as for `create`).
        #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
        expires_in: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum MemberTokensCommand {
    /// List Member Tokens in the Workspace. Workspace Managers and Owners can see all tokens in the
    /// Workspace.
    #[command(verbatim_doc_comment)]
    List {
        /// Output as JSON.
        #[arg(verbatim_doc_comment, long)]
        json: bool,
    },
    /// Delete a Member Token in this Workspace.
    ///
    /// Note that this action is irreversible. This will immediately invalidate the target token
    /// and will render it unable to authenticate with Modal.
    #[command(arg_required_else_help = true)]
    Delete {
        #[arg(add = crate::complete::member_tokens())]
        token_id: String,
        /// Don't error if the Token doesn't exist.
        #[arg(verbatim_doc_comment, long)]
        allow_missing: bool,
        /// Run without pausing for confirmation.
        #[arg(verbatim_doc_comment, short, long)]
        yes: bool,
    },
    /// Disable member tokens in this Workspace.
    ///
    /// A token which is disabled cannot be used to authenticate with Modal. However, it can be
    /// re-enabled at any point using `mws member-tokens enable`.
    ///
    /// You can pass the --all option to disable all of the tokens you have created. If you are a
    /// Manager or above, this will disable all the tokens in your Workspace.
    #[command(arg_required_else_help = true)]
    Disable {
        #[arg(add = crate::complete::member_tokens())]
        token_ids: Vec<String>,
        /// Disable all tokens you have access to.
        #[arg(verbatim_doc_comment, long)]
        all: bool,
        /// Run without pausing for confirmation.
        #[arg(verbatim_doc_comment, short, long)]
        yes: bool,
    },
    /// Enable member tokens in this Workspace.
    ///
    /// This is the opposite operation to disabling a token - given a disabled token, this command
    /// will re-enable it, allowing it to authenticate with Modal.
    #[command(arg_required_else_help = true)]
    Enable {
        #[arg(add = crate::complete::member_tokens())]
        token_ids: Vec<String>,
        /// Run without pausing for confirmation.
        #[arg(verbatim_doc_comment, short, long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum MembersCommand {
    /// List the members of the current Workspace.
    #[command(verbatim_doc_comment)]
    List {
        #[command(flatten)]
        output: JsonFlag,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        freshness: FreshnessArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProxyTokensCommand {
    /// List the proxy tokens of the current Workspace.
    #[command(verbatim_doc_comment)]
    List {
        /// Only list tokens associated with this environment. Lists all tokens when omitted.
        #[arg(verbatim_doc_comment, short = 'e', long, value_name = "TEXT",
              add = crate::complete::environments())]
        environment: Option<String>,
        #[command(flatten)]
        output: JsonFlag,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        freshness: FreshnessArgs,
    },

    /// Create a proxy token in the current Workspace.
    #[command(verbatim_doc_comment, long_about = CREATE_HELP)]
    Create {
        /// Name to help identify the token.
        #[arg(verbatim_doc_comment, long, value_name = "NAME")]
        name: Option<String>,
        #[command(flatten)]
        output: JsonFlag,
    },

    /// Update a proxy token in the current Workspace.
    #[command(verbatim_doc_comment, long_about = UPDATE_HELP, arg_required_else_help = true)]
    Update {
        #[arg(add = crate::complete::proxy_tokens())]
        token_id: String,
        /// The setting to change; only `name` is supported.
        #[arg(verbatim_doc_comment)]
        setting: String,
        value: String,
    },

    /// Allow a proxy token to authenticate to an environment.
    #[command(verbatim_doc_comment, arg_required_else_help = true)]
    Allow {
        #[arg(add = crate::complete::proxy_tokens())]
        token_id: String,
        #[arg(add = crate::complete::environments())]
        environment_name: String,
    },

    /// Revoke a proxy token’s access to an environment.
    #[command(verbatim_doc_comment, arg_required_else_help = true)]
    Revoke {
        #[arg(add = crate::complete::proxy_tokens())]
        token_id: String,
        #[arg(add = crate::complete::environments())]
        environment_name: String,
    },

    /// Delete a proxy token from the current Workspace.
    #[command(verbatim_doc_comment, arg_required_else_help = true)]
    Delete {
        #[arg(add = crate::complete::proxy_tokens())]
        token_id: String,
        /// Run without pausing for confirmation.
        #[arg(verbatim_doc_comment, short, long)]
        yes: bool,
    },

    /// Replace a proxy token (mws only): a new token with the same name, scope
    /// and environments, its secret shown once, then the old one deleted.
    ///
    /// Done exactly once even if mwsd dies midway (running it again finishes
    /// the same rotation). If a step fails, nothing is undone: mws says what
    /// exists now and what to run.
    #[command(arg_required_else_help = true)]
    Rotate {
        #[arg(add = crate::complete::proxy_tokens())]
        token_id: String,
        /// Keep the old token (delete it yourself once nothing uses it).
        #[arg(long)]
        keep_old: bool,
        /// Run without pausing for confirmation.
        #[arg(short, long)]
        yes: bool,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Store an API token's secret in the keyring for a profile.
    ///
    /// The secret is read from a hidden prompt, or from standard input with
    /// --secret-stdin; never from the command line. It is checked against the
    /// server first unless --no-verify. The profile (token id, server URL)
    /// is written to ~/.modal.toml without its secret.
    Set {
        /// The API token id (ak-…).
        #[arg(long, value_name = "ak-…")]
        token_id: String,
        /// The server URL to store in the profile.
        #[arg(long, value_name = "URL")]
        server_url: Option<String>,
        /// Read the secret from standard input (one line).
        #[arg(long)]
        secret_stdin: bool,
        /// Save without asking the server whether the credential works.
        #[arg(long)]
        no_verify: bool,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Move secrets found in ~/.modal.toml into the keyring.
    Import {
        /// Every profile of the file, not only the selected one.
        #[arg(long, conflicts_with = "profile")]
        all: bool,
        /// Then remove token_secret from the file (keeping everything else).
        #[arg(long)]
        scrub: bool,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// List profiles and where each one's secret lives (never the secret).
    List {
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Delete the selected profile's secret from the keyring.
    Remove {
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Ask the server whether the selected credential works.
    Check {
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum WebhooksCommand {
    /// List the configured endpoints, their queue and what was delivered.
    List {
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Store an endpoint's signing secret (whsec_…) in the OS keyring.
    ///
    /// The secret is read from a hidden prompt, or from standard input with
    /// --secret-stdin; never from the command line. With --generate, mwsd
    /// makes a new one and prints it once, to give to the receiver.
    #[command(verbatim_doc_comment)]
    Secret {
        /// The endpoint's name in [webhooks.endpoints].
        #[arg(add = crate::complete::webhook_endpoints())]
        name: String,
        /// Make a new random secret and print it.
        #[arg(long, conflicts_with_all = ["secret_stdin", "delete"])]
        generate: bool,
        /// Read the secret from standard input (one line).
        #[arg(long, conflicts_with = "delete")]
        secret_stdin: bool,
        /// Remove the endpoint's secret from the keyring.
        #[arg(long)]
        delete: bool,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Queue a test event (webhook.test) for one endpoint.
    Test {
        /// The endpoint's name in [webhooks.endpoints].
        #[arg(add = crate::complete::webhook_endpoints())]
        name: String,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Queue again the deliveries to an endpoint that were given up on.
    Retry {
        /// The endpoint's name in [webhooks.endpoints].
        #[arg(add = crate::complete::webhook_endpoints())]
        name: String,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Remove every delivery to an endpoint from the outbox.
    ///
    /// Waiting and given-up deliveries alike, never sent. Works for an
    /// endpoint no longer in the config too, whose deliveries otherwise
    /// stay on disk and count against max_queue.
    #[command(verbatim_doc_comment)]
    Purge {
        /// The endpoint's name, configured or not (as `mws webhooks list` shows it).
        #[arg(add = crate::complete::webhook_endpoints())]
        name: String,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum DaemonCommand {
    /// Start mwsd unless it is already running.
    #[command(verbatim_doc_comment)]
    Start,
    /// Stop mwsd.
    #[command(verbatim_doc_comment)]
    Stop,
    /// Show mwsd's pid, version, uptime, socket and the identities it serves.
    #[command(verbatim_doc_comment)]
    Status {
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Stop mwsd, then start it again.
    #[command(verbatim_doc_comment)]
    Restart,
    /// Write systemd user units (mwsd.socket + mwsd.service) so that systemd
    /// starts mwsd on the first connection to its socket.
    ///
    /// Units go to $XDG_CONFIG_HOME/systemd/user/ (default ~/.config/systemd/user/).
    /// With --enable, also runs `systemctl --user daemon-reload` and
    /// `systemctl --user enable --now mwsd.socket`.
    #[command(verbatim_doc_comment)]
    InstallService {
        /// Enable and start the socket unit now.
        #[arg(long)]
        enable: bool,
    },
    /// Stop and remove the systemd user units written by install-service.
    #[command(verbatim_doc_comment)]
    UninstallService,
}

#[derive(Subcommand, Debug)]
pub enum PluginsCommand {
    /// List every plugin file found: name, version, path, capabilities and
    /// state (loaded, refused and why, quarantined).
    List {
        #[command(flatten)]
        output: JsonFlag,
    },
}

/// `--format NAME`: `table` (default), `json`, or a format a plugin offers.
#[derive(Args, Debug, Clone)]
pub struct FormatArg {
    /// Output format: table, json, or one a plugin offers (e.g. csv; see `mws plugins list`).
    #[arg(long, value_name = "NAME", conflicts_with = "json")]
    pub format: Option<String>,
}

#[derive(Args, Debug, Clone, Copy)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(verbatim_doc_comment, long)]
    pub json: bool,
}

/// How fresh an answer must be; reads only.
#[derive(Args, Debug, Clone, Copy)]
pub struct FreshnessArgs {
    /// Accept a cached answer up to SECS seconds old (0: always ask Modal).
    #[arg(verbatim_doc_comment, long, value_name = "SECS", env = "MWS_MAX_AGE")]
    pub max_age: Option<u64>,
    /// Ask Modal now instead of answering from the daemon's cache.
    #[arg(verbatim_doc_comment, long)]
    pub fresh: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

impl From<CompletionShell> for clap_complete::Shell {
    fn from(shell: CompletionShell) -> Self {
        match shell {
            CompletionShell::Bash => clap_complete::Shell::Bash,
            CompletionShell::Zsh => clap_complete::Shell::Zsh,
            CompletionShell::Fish => clap_complete::Shell::Fish,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn official_spelling_parses() {
        let cli = Cli::try_parse_from([
            "mws",
            "workspace",
            "proxy-tokens",
            "list",
            "-e",
            "prod",
            "--json",
            "--profile",
            "p",
        ])
        .unwrap();
        assert_eq!(cli.profile.as_deref(), Some("p"));
        assert!(matches!(
            cli.command,
            Command::Workspace(WorkspaceCommand::ProxyTokens(ProxyTokensCommand::List {
                environment: Some(_),
                output: JsonFlag { json: true },
                ..
            }))
        ));
    }

    #[test]
    fn delete_takes_short_yes() {
        let cli = Cli::try_parse_from(["mws", "proxy-tokens", "delete", "wk-1", "-y"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::ProxyTokens(ProxyTokensCommand::Delete { yes: true, .. })
        ));
    }

    #[test]
    fn unknown_flags_are_usage_errors() {
        let err = Cli::try_parse_from(["mws", "members", "list", "--bogus"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
