//! `mws exec` and `mws env`: the selected credential handed to Modal's own
//! tools, which read `MODAL_TOKEN_ID`, `MODAL_TOKEN_SECRET` and
//! `MODAL_SERVER_URL` before any profile. After `mws auth import --scrub`
//! the secret lives only in the keyring, so this is how `modal deploy` or
//! a script using the Modal SDK gets it (as `aws-vault exec` or `op run`
//! do for theirs).
//!
//! The secret goes into the child's environment (`exec`) or to stdout
//! (`env`) and nowhere else: never on a command line, never in a file.
//! `exec` replaces this process (execvp), so nothing lingers between the
//! user and the command: exit status, signals, job control and the
//! terminal are the command's own.

use crate::args::EnvShell;
use crate::client::Retry;
use crate::output::emit;
use crate::request::{send, unexpected};
use mws_ipc::{ExportedCredential, Request, Response, Selection};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

/// The variables set, in order.
const NAMES: [&str; 3] = ["MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET", "MODAL_SERVER_URL"];

fn credential(profile: Option<String>) -> anyhow::Result<ExportedCredential> {
    let request = Request::Credential {
        selection: Selection::from_env(profile, |name| std::env::var_os(name)),
    };
    match send(&request, Retry::Safe)? {
        Response::Credential(credential) => Ok(credential),
        other => Err(unexpected(&other)),
    }
}

fn values(credential: &ExportedCredential) -> [&str; 3] {
    [
        &credential.token_id,
        credential.token_secret.expose(),
        &credential.server_url,
    ]
}

/// `mws exec -- COMMAND [ARGS…]`.
pub(super) fn exec(profile: Option<String>, command: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let Some((program, args)) = command.split_first() else {
        anyhow::bail!("no command to run");
    };
    let credential = credential(profile)?;
    let mut child = std::process::Command::new(program);
    child.args(args);
    for (name, value) in NAMES.iter().zip(values(&credential)) {
        child.env(name, value);
    }
    // The profile's values are complete: a MODAL_PROFILE naming another
    // profile must not mix in its settings.
    child.env_remove("MODAL_PROFILE");
    // Returns only when the program could not be started.
    let error = child.exec();
    let code = match error.kind() {
        std::io::ErrorKind::NotFound => 127,
        _ => 126,
    };
    eprintln!("Error: cannot run {}: {error}", program.to_string_lossy());
    Ok(ExitCode::from(code))
}

/// `mws env [--shell sh|fish|json] [--reveal]`.
pub(super) fn env(
    profile: Option<String>,
    shell: EnvShell,
    reveal: bool,
) -> anyhow::Result<ExitCode> {
    if crate::term::is_tty(1) && !reveal {
        anyhow::bail!(
            "refusing to print the API secret to a terminal; use `eval \"$(mws env)\"`, `mws exec -- COMMAND`, or --reveal"
        );
    }
    let credential = credential(profile)?;
    let pairs = NAMES.iter().zip(values(&credential));
    let text: String = match shell {
        EnvShell::Sh => pairs
            .map(|(name, value)| format!("export {name}={}\n", sh_quote(value)))
            .collect(),
        EnvShell::Fish => pairs
            .map(|(name, value)| format!("set -gx {name} {};\n", fish_quote(value)))
            .collect(),
        EnvShell::Json => {
            let map: serde_json::Map<String, serde_json::Value> = pairs
                .map(|(name, value)| (name.to_string(), value.into()))
                .collect();
            format!("{}\n", serde_json::Value::Object(map))
        }
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// POSIX shell single quotes (`'` becomes `'\''`).
fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// fish single quotes (`\` and `'` escaped).
fn fish_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_each_shell() {
        assert_eq!(sh_quote("as-a'b"), r"'as-a'\''b'");
        assert_eq!(fish_quote(r"a\b'c"), r"'a\\b\'c'");
    }
}
