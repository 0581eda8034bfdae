//! `mws prompt`: a shell prompt's segment, from what the daemon already
//! knows. A prompt runs before every command line, so this never calls
//! Modal, never reads the keyring and never starts the local emulator: the
//! profile comes from the config files (cached), the workspace from the
//! identity's session if the daemon has met it, and the alert from the
//! alert book: the one about the credential in use first.

use crate::state::Daemon;
use mws_ipc::{alert_level_rank, Alert, PromptInfo, Response, Selection};

/// Alerts below this rank (`info`) are not worth a prompt's space.
const MIN_RANK: u8 = 2;

pub(super) async fn prompt(daemon: &Daemon, selection: &Selection) -> Response {
    let Some((profile, server_url, token_id)) = daemon.credentials.peek(selection).await else {
        return Response::Prompt(PromptInfo::default());
    };
    let workspace = daemon
        .known_session(&server_url, &token_id)
        .and_then(|session| session.known_workspace_name())
        .unwrap_or_default();
    let alert = if workspace.is_empty() {
        None
    } else {
        most_urgent(daemon.plugins.alerts(), &server_url, &workspace, &token_id)
    };
    Response::Prompt(PromptInfo {
        profile,
        workspace,
        alert,
    })
}

/// The alert about the credential in use, if there is one — it is what
/// stops every Modal tool of this shell — else the highest-level alert of
/// the workspace (soonest expiry first).
fn most_urgent(
    alerts: Vec<Alert>,
    server_url: &str,
    workspace: &str,
    token_id: &str,
) -> Option<Alert> {
    alerts
        .into_iter()
        .filter(|a| a.server_url == server_url && a.workspace == workspace)
        .filter(|a| alert_level_rank(&a.level) >= MIN_RANK)
        .min_by(|a, b| {
            let own = |alert: &Alert| alert.token_id != token_id;
            own(a)
                .cmp(&own(b))
                .then_with(|| super::alerts::most_urgent_first(a, b))
        })
}
