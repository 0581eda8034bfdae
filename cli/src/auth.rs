//! `mws auth …`: puts API secrets into the OS keyring (through the daemon,
//! which is the only process that talks to the keyring and to Modal).
//!
//! The secret for `auth set` comes from a hidden prompt on a terminal or from
//! standard input with `--secret-stdin` — never from argv, where every user
//! of the machine could read it. It is sent to the daemon once and the
//! buffer is zeroed.

use crate::args::{AuthCommand as Args, JsonFlag};
use crate::client::Retry;
use crate::output::{self, emit};
use crate::request::{self, unexpected};
use crate::secret_input::read_secret;
use crate::term;
use mws_ipc::{AuthCommand, AuthReport, Request, Response};
use std::process::ExitCode;

/// Keyring changes carry no idempotency key, so a request is never resent
/// to a second daemon (`Retry::Unsafe`).
fn send(profile: Option<String>, command: AuthCommand) -> anyhow::Result<AuthReport> {
    let request = Request::Auth {
        selection: mws_ipc::Selection::from_env(profile, |name| std::env::var_os(name)),
        command,
    };
    // `request` (with any secret in it) is zeroed when this returns.
    match request::send(&request, Retry::Unsafe)? {
        Response::Auth(report) => Ok(report),
        other => Err(unexpected(&other)),
    }
}

fn print(
    report: &AuthReport,
    output: JsonFlag,
    lines: impl Fn(&AuthReport) -> String,
) -> anyhow::Result<()> {
    for note in &report.notes {
        eprintln!("Note: {note}");
    }
    let text = if output.json {
        let mut text = serde_json::to_string_pretty(report)?;
        text.push('\n');
        text
    } else {
        lines(report)
    };
    emit(&text)
}

/// One success line per profile of a report, from a template with
/// `{profile}`, `{token}` and `{backend}`.
fn per_profile(report: &AuthReport, template: &str) -> String {
    report
        .profiles
        .iter()
        .map(|p| {
            let line = template
                .replace("{profile}", &p.profile)
                .replace("{token}", &p.token_id)
                .replace("{backend}", &report.backend);
            format!("{} {line}\n", check())
        })
        .collect()
}

fn check() -> &'static str {
    output::tick(term::color(1))
}

pub fn run(profile: Option<String>, command: Args) -> anyhow::Result<ExitCode> {
    match command {
        Args::Set {
            token_id,
            server_url,
            secret_stdin,
            no_verify,
            output,
        } => {
            let secret = read_secret(secret_stdin, "Token secret (as-…): ")?;
            let report = send(
                profile,
                AuthCommand::Set {
                    token_id,
                    server_url,
                    secret,
                    verify: !no_verify,
                },
            )?;
            print(&report, output, |r| {
                r.profiles
                    .iter()
                    .map(|p| {
                        let workspace = p
                            .workspace
                            .as_deref()
                            .map(|w| format!(", workspace '{w}'"))
                            .unwrap_or_default();
                        format!(
                            "{} Saved the secret of {} (profile '{}'{workspace}) in the keyring ({}); profile written to {}\n",
                            check(),
                            p.token_id,
                            p.profile,
                            r.backend,
                            r.config_path
                        )
                    })
                    .collect()
            })?;
        }
        Args::Import { all, scrub, output } => {
            if all && profile.is_some() {
                // clap cannot see a global --profile given before `auth`.
                crate::usage::fail("The argument '--all' cannot be used with '--profile <NAME>'");
            }
            let report = send(profile, AuthCommand::Import { all, scrub })?;
            print(&report, output, |r| {
                if r.profiles.is_empty() {
                    return format!("No token_secret found in {}\n", r.config_path);
                }
                per_profile(r, "Moved the secret of profile '{profile}' ({token}) into the keyring ({backend})")
            })?;
        }
        Args::List { output } => {
            let report = send(profile, AuthCommand::List)?;
            print(&report, output, |r| {
                let mut rows = vec![[
                    "PROFILE".to_string(),
                    "TOKEN ID".into(),
                    "SERVER".into(),
                    "SECRET".into(),
                ]];
                for p in &r.profiles {
                    let name = if p.active {
                        format!("{} (active)", p.profile)
                    } else {
                        p.profile.clone()
                    };
                    rows.push([
                        name,
                        p.token_id.clone(),
                        p.server_url.clone(),
                        p.secret_location.clone(),
                    ]);
                }
                let widths: Vec<usize> = (0..4)
                    .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
                    .collect();
                let mut text = String::new();
                for row in rows {
                    let line: Vec<String> = row
                        .iter()
                        .enumerate()
                        .map(|(i, cell)| format!("{cell:<width$}", width = widths[i]))
                        .collect();
                    text.push_str(line.join("  ").trim_end());
                    text.push('\n');
                }
                text.push_str(&format!(
                    "config: {}\nkeyring: {}\n",
                    r.config_path, r.backend
                ));
                text
            })?;
        }
        Args::Remove { output } => {
            let report = send(profile, AuthCommand::Remove)?;
            print(&report, output, |r| {
                per_profile(r, "Removed the secret of profile '{profile}' ({token}) from the keyring ({backend})")
            })?;
        }
        Args::Check { output } => {
            let report = send(profile, AuthCommand::Check)?;
            print(&report, output, |r| {
                let tz = crate::render::time::local_zone();
                r.profiles
                    .iter()
                    .map(|p| {
                        let mut text = format!(
                            "{} {} works: workspace '{}' at {}\n",
                            check(),
                            p.token_id,
                            p.workspace.as_deref().unwrap_or(""),
                            p.server_url
                        );
                        if let Some(info) = &p.token_info {
                            text.push_str(&crate::render::token_info_lines(info, &tz, "  "));
                        }
                        text
                    })
                    .collect()
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
