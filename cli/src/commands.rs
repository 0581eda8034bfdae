//! What each command does: check its arguments, build one `Request`, send it,
//! render the `Response`. Nothing here talks to Modal or reads credentials;
//! the daemon does both.
//!
//! Adding a command: a variant in `args.rs`, an arm in [`run`], usually a
//! `WorkspaceCommand` (or new `Request`) in `mws-ipc`, and a renderer.

use crate::args::{
    Cli, Command, DaemonCommand, FreshnessArgs, MembersCommand, PluginsCommand, ProxyTokensCommand,
    WorkspaceCommand as Spelling,
};
use crate::client::{Client, ClientError, Exchange, Retry};
use crate::confirm::{self, Answer};
use crate::plugins::{self, Output};
use crate::render::{self, json};
use crate::{selection, term, validate};
use anyhow::Context as _;
use mws_ipc::{DaemonStatus, ErrorReply, Freshness, Request, Response, WorkspaceCommand};
use std::io::Write;
use std::process::ExitCode;

/// Failures with their own presentation (see `main.rs`).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The daemon's error, shown verbatim after `Error: `.
    #[error("{}", .0.message)]
    Daemon(ErrorReply),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    InvalidEnvironment(#[from] validate::InvalidEnvironmentName),
    /// The user declined, or could not be asked; printed as is.
    #[error("{0}")]
    Aborted(&'static str),
    #[error("unexpected answer from mwsd: {0}")]
    Unexpected(String),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let profile = cli.profile;
    match cli.command {
        Command::Members(command) | Command::Workspace(Spelling::Members(command)) => {
            members(profile, command)
        }
        Command::ProxyTokens(command) | Command::Workspace(Spelling::ProxyTokens(command)) => {
            proxy_tokens(profile, command)
        }
        Command::Daemon(command) => daemon(command),
        Command::Plugins(PluginsCommand::List { output }) => plugins::list(output),
        Command::Alerts { output } => plugins::alerts(output),
        Command::Watch { output } => crate::watch::run(profile, output.json),
        Command::Auth(command) => crate::auth::run(profile, command),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(
                clap_complete::Shell::from(shell),
                &mut command,
                "mws",
                &mut out,
            );
            emit(&String::from_utf8_lossy(&out))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn members(profile: Option<String>, command: MembersCommand) -> anyhow::Result<ExitCode> {
    let MembersCommand::List {
        output,
        format,
        freshness,
    } = command;
    let response = workspace(profile, freshness.into(), WorkspaceCommand::MembersList)?;
    let Response::Members(list) = response else {
        return Err(unexpected(&response));
    };
    let sorted = render::sort_members(&list);
    let tz = render::time::local_zone();
    let text = match format.output(output.json) {
        Output::Json => json::members(&sorted, &tz),
        Output::Table => render::members_table(&sorted, &tz, term::width()),
        Output::Plugin(name) => plugins::render("members", name, json::members(&sorted, &tz))?,
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn proxy_tokens(profile: Option<String>, command: ProxyTokensCommand) -> anyhow::Result<ExitCode> {
    match command {
        ProxyTokensCommand::List {
            environment,
            output,
            format,
            freshness,
        } => {
            let response = workspace(
                profile,
                freshness.into(),
                WorkspaceCommand::TokensList { environment },
            )?;
            let Response::Tokens(tokens) = response else {
                return Err(unexpected(&response));
            };
            let tz = render::time::local_zone();
            let text = match format.output(output.json) {
                Output::Json => json::tokens(&tokens, &tz),
                Output::Table => render::tokens_table(&tokens, &tz, term::width()),
                Output::Plugin(name) => {
                    plugins::render("tokens", name, json::tokens(&tokens, &tz))?
                }
            };
            emit(&text)?;
        }
        ProxyTokensCommand::Create { name, output } => {
            let response = workspace(
                profile,
                Freshness::default(),
                WorkspaceCommand::TokenCreate { name },
            )?;
            let Response::Created(token) = response else {
                return Err(unexpected(&response));
            };
            let text = if output.json {
                json::created(&token)
            } else {
                render::created_box(&token, term::width())
            };
            emit(&text)?;
        }
        ProxyTokensCommand::Update {
            token_id,
            setting,
            value,
        } => {
            if setting != "name" {
                usage_error(
                    &["proxy-tokens", "update"],
                    &format!(
                        "Unknown proxy token setting {}. Supported settings: name.",
                        render::py_repr(&setting)
                    ),
                );
            }
            mutate(
                profile,
                WorkspaceCommand::TokenUpdateName {
                    token_id: token_id.clone(),
                    name: value,
                },
            )?;
            success(&format!(
                "Updated proxy token {}",
                render::py_repr(&token_id)
            ))?;
        }
        ProxyTokensCommand::Allow {
            token_id,
            environment_name,
        } => environment_access(profile, token_id, environment_name, true)?,
        ProxyTokensCommand::Revoke {
            token_id,
            environment_name,
        } => environment_access(profile, token_id, environment_name, false)?,
        ProxyTokensCommand::Delete { token_id, yes } => {
            if !yes {
                let message = format!(
                    "Are you sure you want to delete proxy token {}? Requests using this token will be rejected.",
                    render::py_repr(&token_id)
                );
                match confirm::ask(&message, term::is_tty(0))
                    .context("cannot ask for confirmation")?
                {
                    Answer::Yes => {}
                    Answer::No => return Err(CommandError::Aborted("Aborted!").into()),
                    Answer::NoTerminal => {
                        return Err(CommandError::Aborted(confirm::NO_TERMINAL).into())
                    }
                }
            }
            mutate(
                profile,
                WorkspaceCommand::TokenDelete {
                    token_id: token_id.clone(),
                },
            )?;
            success(&format!(
                "Deleted proxy token {}",
                render::py_repr(&token_id)
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl From<FreshnessArgs> for Freshness {
    fn from(args: FreshnessArgs) -> Self {
        Freshness {
            max_age_secs: args.max_age,
            fresh: args.fresh,
        }
    }
}

/// `allow` / `revoke`: checks the environment name before anything is sent.
fn environment_access(
    profile: Option<String>,
    token_id: String,
    environment: String,
    allow: bool,
) -> anyhow::Result<()> {
    validate::environment_name(&environment).map_err(CommandError::from)?;
    let (token, env) = (render::py_repr(&token_id), render::py_repr(&environment));
    let (command, done) = if allow {
        (
            WorkspaceCommand::TokenAllow {
                token_id,
                environment,
            },
            format!("Allowed proxy token {token} to authenticate to environment {env}"),
        )
    } else {
        (
            WorkspaceCommand::TokenRevoke {
                token_id,
                environment,
            },
            format!("Revoked proxy token {token} access to environment {env}"),
        )
    };
    mutate(profile, command)?;
    success(&done)?;
    Ok(())
}

/// Sends one workspace command and returns the daemon's non-error answer.
fn workspace(
    profile: Option<String>,
    freshness: Freshness,
    command: WorkspaceCommand,
) -> Result<Response, CommandError> {
    // A mutation carries a key of its own choosing, from which the daemon
    // derives its upstream idempotency keys: if the daemon dies mid-request,
    // resending the same request to the next daemon replays the first
    // answer instead of making a second change. So both kinds are safe to
    // resend once.
    let idempotency_key = command
        .is_mutation()
        .then(|| uuid::Uuid::new_v4().to_string());
    let request = Request::Workspace {
        selection: selection::from_env(profile, |name| std::env::var_os(name)),
        freshness,
        command,
        idempotency_key,
    };
    let retry = Retry::Safe;
    let exchange = Client::new().request(&request, retry)?;
    // `request` (and the secret in its selection) is dropped, and zeroed, here.
    drop(request);
    match exchange.response {
        Response::Error(reply) => Err(CommandError::Daemon(reply)),
        response => Ok(response),
    }
}

/// A mutation whose success answer is `Ok`.
fn mutate(profile: Option<String>, command: WorkspaceCommand) -> Result<(), CommandError> {
    match workspace(profile, Freshness::default(), command)? {
        Response::Ok => Ok(()),
        other => Err(CommandError::Unexpected(describe(&other))),
    }
}

fn daemon(command: DaemonCommand) -> anyhow::Result<ExitCode> {
    let client = Client::new();
    match command {
        DaemonCommand::Start => start(&client)?,
        DaemonCommand::Stop => stop(&client)?,
        DaemonCommand::Restart => {
            stop(&client)?;
            start(&client)?;
        }
        DaemonCommand::Status { output } => {
            let exchange = match client.request_running(&Request::Status) {
                Ok(exchange) => exchange,
                Err(ClientError::NotRunning) if !output.json => {
                    emit("mwsd is not running\n")?;
                    return Ok(ExitCode::FAILURE);
                }
                Err(e) => return Err(CommandError::from(e).into()),
            };
            let status = match exchange.response {
                Response::Status(status) => status,
                Response::Error(reply) => return Err(CommandError::Daemon(reply).into()),
                other => return Err(unexpected(&other)),
            };
            if output.json {
                let mut text = serde_json::to_string_pretty(&status)?;
                text.push('\n');
                emit(&text)?;
            } else {
                emit(&status_text(&status))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn start(client: &Client) -> anyhow::Result<()> {
    let Exchange { hello, started, .. } = client
        .request(&Request::Ping, Retry::Safe)
        .map_err(CommandError::from)?;
    if started {
        emit(&format!("mwsd started (pid {})\n", hello.pid))
    } else {
        emit(&format!("mwsd is already running (pid {})\n", hello.pid))
    }
}

fn stop(client: &Client) -> anyhow::Result<()> {
    match client.request_running(&Request::Shutdown) {
        Ok(exchange) => {
            match exchange.response {
                Response::Ok => {}
                Response::Error(reply) => return Err(CommandError::Daemon(reply).into()),
                other => return Err(unexpected(&other)),
            }
            let pid = i32::try_from(exchange.hello.pid).ok();
            if !client.wait_gone(pid) {
                anyhow::bail!(
                    "mwsd (pid {}) was asked to stop but is still running",
                    exchange.hello.pid
                );
            }
            emit("mwsd stopped\n")
        }
        Err(ClientError::NotRunning) => emit("mwsd is not running\n"),
        Err(ClientError::StoppedOther) => emit("mwsd stopped\n"),
        Err(e) => Err(CommandError::from(e).into()),
    }
}

/// `mws daemon status` for people.
fn status_text(status: &DaemonStatus) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mwsd {} is running (pid {}, protocol {})",
        status.version, status.pid, status.protocol_version
    );
    let _ = writeln!(out, "uptime:     {}", uptime(status.uptime_secs));
    let _ = writeln!(out, "socket:     {}", status.socket);
    let mut upstreams: Vec<&str> = status
        .identities
        .iter()
        .map(|i| i.server_url.as_str())
        .collect();
    upstreams.sort_unstable();
    upstreams.dedup();
    let _ = writeln!(
        out,
        "upstream:   {}",
        if upstreams.is_empty() {
            "(none yet)".to_owned()
        } else {
            upstreams.join(", ")
        }
    );
    if let Some(url) = &status.local_emulator {
        let _ = writeln!(out, "emulator:   {url} (profile local)");
    }
    let _ = writeln!(out, "identities: {}", status.identities.len());
    for identity in &status.identities {
        let workspace = identity
            .workspace
            .as_deref()
            .map(|w| format!(" workspace {w},"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} at {}:{} {} calls, {} errors",
            identity.token_id,
            identity.server_url,
            workspace,
            identity.upstream_calls,
            identity.upstream_errors
        );
        let age = |secs: Option<f64>| secs.map_or("-".to_owned(), |s| uptime(s as u64));
        let _ = writeln!(
            out,
            "    cache: members {}, tokens {}; polling: {}",
            age(identity.members_age_secs),
            age(identity.tokens_age_secs),
            if identity.polling {
                format!("on (last {} ago)", age(identity.last_poll_secs_ago))
            } else {
                "off".to_owned()
            }
        );
        if let Some(error) = &identity.last_error {
            let _ = writeln!(out, "    last error: {error}");
        }
    }
    let _ = writeln!(out, "watchers:   {}", status.subscribers);
    if !status.notifications.is_empty() {
        let _ = writeln!(out, "notifications: {}", status.notifications);
    }
    for error in &status.config_errors {
        let _ = writeln!(out, "config error: {error}");
    }
    if !status.plugins.is_empty() {
        let _ = writeln!(out, "plugins:    {}", status.plugins.len());
    }
    for plugin in &status.plugins {
        let state = match plugin.state {
            mws_ipc::PluginState::Loaded => "loaded".to_string(),
            mws_ipc::PluginState::Refused => {
                format!("refused: {}", plugin.reason.as_deref().unwrap_or(""))
            }
            mws_ipc::PluginState::Quarantined => {
                format!("quarantined: {}", plugin.reason.as_deref().unwrap_or(""))
            }
        };
        let _ = writeln!(
            out,
            "  {} {} ({}): {state}",
            plugin.name, plugin.version, plugin.path
        );
    }
    out
}

fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s:02}s"),
        (0, _, _) => format!("{h}h {m:02}m {s:02}s"),
        _ => format!("{d}d {h:02}h {m:02}m"),
    }
}

/// Prints a usage error for a subcommand the way clap does, and exits 2.
fn usage_error(path: &[&str], message: &str) -> ! {
    let mut command = <Cli as clap::CommandFactory>::command();
    command.build();
    let mut sub = &mut command;
    for name in path {
        sub = sub
            .find_subcommand_mut(name)
            .expect("usage_error is called with a declared subcommand path");
    }
    sub.error(clap::error::ErrorKind::InvalidValue, message)
        .exit()
}

/// `✓ <message>` on stdout (the tick green on a terminal).
fn success(message: &str) -> anyhow::Result<()> {
    let tick = if term::color(1) {
        "\u{1b}[32m✓\u{1b}[0m"
    } else {
        "✓"
    };
    emit(&format!("{tick} {message}\n"))
}

/// Writes all of `text` to stdout at once. A closed pipe (`mws … | head`)
/// is not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).context("cannot write to stdout"),
    }
}

fn describe(response: &Response) -> String {
    match response {
        Response::Pong => "Pong".into(),
        Response::Ok => "Ok".into(),
        Response::Members(_) => "Members".into(),
        Response::Tokens(_) => "Tokens".into(),
        Response::Created(_) => "Created".into(),
        Response::Status(_) => "Status".into(),
        Response::Event(_) => "Event".into(),
        Response::Error(e) => format!("Error({})", e.message),
        // Answers added to the protocol later.
        #[allow(unreachable_patterns)]
        _ => "an answer of another kind".into(),
    }
}

fn unexpected(response: &Response) -> anyhow::Error {
    CommandError::Unexpected(describe(response)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_compact() {
        assert_eq!(uptime(5), "5s");
        assert_eq!(uptime(65), "1m 05s");
        assert_eq!(uptime(3 * 3600 + 7), "3h 00m 07s");
        assert_eq!(uptime(2 * 86_400 + 3600), "2d 01h 00m");
    }

    #[test]
    fn status_lists_identities_and_upstreams() {
        let status = DaemonStatus {
            pid: 42,
            version: "0.1.0".into(),
            protocol_version: 1,
            uptime_secs: 61,
            socket: "/run/mws/mwsd.sock".into(),
            identities: vec![mws_ipc::IdentityStatus {
                server_url: "https://api.modal.com".into(),
                token_id: "ak-1".into(),
                workspace: Some("acme".into()),
                upstream_calls: 3,
                upstream_errors: 1,
                last_error: Some("boom".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = status_text(&status);
        assert!(text.contains("pid 42"), "{text}");
        assert!(text.contains("upstream:   https://api.modal.com"), "{text}");
        assert!(
            text.contains("ak-1 at https://api.modal.com: workspace acme, 3 calls, 1 errors"),
            "{text}"
        );
        assert!(text.contains("last error: boom"), "{text}");
    }
}
