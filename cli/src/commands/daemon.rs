//! `mws daemon start|stop|status|restart`: the daemon's own life cycle.
//! Unlike the workspace commands, `status` and `stop` never start a daemon.

use crate::args::DaemonCommand;
use crate::client::{Client, ClientError, Exchange, Retry};
use crate::output::emit;
use crate::request::{answer, unexpected};
use mws_ipc::{DaemonStatus, Request, Response};
use std::process::ExitCode;

pub fn run(command: DaemonCommand) -> anyhow::Result<ExitCode> {
    let client = Client::new();
    match command {
        DaemonCommand::Start => start(&client)?,
        DaemonCommand::Stop => stop(&client)?,
        DaemonCommand::Restart => {
            stop(&client)?;
            start(&client)?;
        }
        DaemonCommand::InstallService { enable } => return super::service::install(enable),
        DaemonCommand::UninstallService => return super::service::uninstall(),
        DaemonCommand::Status { output } => {
            let exchange = match client.request_running(&Request::Status) {
                Ok(exchange) => exchange,
                Err(ClientError::NotRunning) if !output.json => {
                    emit("mwsd is not running\n")?;
                    return Ok(ExitCode::FAILURE);
                }
                Err(e) => return Err(e.into()),
            };
            let status = match answer(exchange.response)? {
                Response::Status(status) => status,
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
    let Exchange { hello, started, .. } = client.request(&Request::Ping, Retry::Safe)?;
    if started {
        emit(&format!("mwsd started (pid {})\n", hello.pid))
    } else {
        emit(&format!("mwsd is already running (pid {})\n", hello.pid))
    }
}

fn stop(client: &Client) -> anyhow::Result<()> {
    match client.request_running(&Request::Shutdown) {
        Ok(exchange) => {
            match answer(exchange.response)? {
                Response::Ok => {}
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
        Err(e) => Err(e.into()),
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
        if let Some(info) = &identity.token_info {
            out.push_str(&crate::render::token_info_lines(
                info,
                &crate::render::time::local_zone(),
                "    ",
            ));
        }
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
    let webhooks = &status.webhooks;
    if !webhooks.endpoints.is_empty() || webhooks.queued > 0 || webhooks.dropped > 0 {
        out.push_str("webhooks:\n");
        out.push_str(&super::webhooks::report_text(webhooks, "  "));
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
