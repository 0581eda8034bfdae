//! Dynamic shell completion: `mws proxy-tokens delete <TAB>` offers the
//! token ids the daemon has cached for this identity, `-e <TAB>` the
//! environment names it has met, and so on — never a call to Modal, never
//! file names, and nothing at all (at once) when no daemon answers within
//! 50 ms.
//!
//! The shell script that `mws completions SHELL` prints (clap_complete's
//! environment-driven engine) runs `COMPLETE=SHELL mws -- WORDS…` on each
//! tab; `main` hands that to clap_complete, which calls the completers
//! below for the arguments that name workspace objects.

use crate::client::Client;
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use mws_ipc::{CompletionKind, Request, Response, Selection};
use std::ffi::OsStr;
use std::time::Duration;

/// The most a tab press waits for the daemon.
const BUDGET: Duration = Duration::from_millis(50);

/// Names of `kind` starting with what was typed.
fn names(kind: CompletionKind, current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(typed) = current.to_str() else {
        return Vec::new();
    };
    let request = Request::Complete {
        // The completer sees only the word being completed, so a --profile
        // earlier on the line is not known here; MODAL_PROFILE and the
        // active profile are.
        selection: Selection::from_env(None, |name| std::env::var_os(name)),
        kind,
    };
    match Client::new().request_within(&request, BUDGET) {
        Ok(Response::Names(names)) => names
            .into_iter()
            .filter(|name| name.starts_with(typed))
            .map(CompletionCandidate::new)
            .collect(),
        _ => Vec::new(),
    }
}

pub fn proxy_tokens() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| names(CompletionKind::ProxyTokens, current))
}

pub fn service_users() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| names(CompletionKind::ServiceUsers, current))
}

pub fn member_tokens() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| names(CompletionKind::MemberTokens, current))
}

pub fn webhook_endpoints() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| names(CompletionKind::WebhookEndpoints, current))
}

pub fn environments() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| names(CompletionKind::Environments, current))
}
