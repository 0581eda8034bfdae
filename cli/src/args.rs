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

    /// Start, stop or inspect the background daemon (mwsd).
    #[command(verbatim_doc_comment, subcommand)]
    Daemon(DaemonCommand),

    /// Inspect the plugins mwsd found (output formats, alert policies).
    #[command(subcommand)]
    Plugins(PluginsCommand),

    /// List the alerts plugins raise now (e.g. proxy tokens past their maximum age).
    Alerts {
        #[command(flatten)]
        output: JsonFlag,
    },

    /// Follow changes to the workspace (tokens, members) as they happen.
    ///
    /// Runs until interrupted. With --json, one JSON object per line:
    /// type, time, workspace, and the object before and after the change.
    Watch {
        #[command(flatten)]
        output: JsonFlag,
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
        #[arg(verbatim_doc_comment, short = 'e', long, value_name = "TEXT")]
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
        token_id: String,
        /// The setting to change; only `name` is supported.
        #[arg(verbatim_doc_comment)]
        setting: String,
        value: String,
    },

    /// Allow a proxy token to authenticate to an environment.
    #[command(verbatim_doc_comment, arg_required_else_help = true)]
    Allow {
        token_id: String,
        environment_name: String,
    },

    /// Revoke a proxy token’s access to an environment.
    #[command(verbatim_doc_comment, arg_required_else_help = true)]
    Revoke {
        token_id: String,
        environment_name: String,
    },

    /// Delete a proxy token from the current Workspace.
    #[command(verbatim_doc_comment, arg_required_else_help = true)]
    Delete {
        token_id: String,
        /// Run without pausing for confirmation.
        #[arg(verbatim_doc_comment, short, long)]
        yes: bool,
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
