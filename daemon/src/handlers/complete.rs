//! Shell completion of token ids, service-user names and environment names
//! (`mws proxy-tokens delete <TAB>`): from what the daemon last heard for
//! the selected identity, never from Modal — a completion must answer at
//! once, and a tab press is no reason to call a server. An identity the
//! daemon has not met completes nothing. Webhook endpoint names come from
//! the config and the outbox, whoever asks.

use crate::state::Daemon;
use mws_ipc::{CompletionKind, Response, Selection};

pub(super) async fn complete(
    daemon: &Daemon,
    selection: &Selection,
    kind: CompletionKind,
) -> Response {
    if kind == CompletionKind::WebhookEndpoints {
        let report = daemon.webhooks.report();
        let mut names: Vec<String> = report.endpoints.into_iter().map(|e| e.name).collect();
        names.extend(report.orphaned_endpoints);
        names.sort();
        names.dedup();
        return Response::Names(names);
    }
    let names = match daemon.credentials.peek(selection).await {
        Some((_, server_url, token_id)) => daemon
            .known_session(&server_url, &token_id)
            .map(|session| session.known_names(kind))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Response::Names(names)
}
