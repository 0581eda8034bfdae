//! Desktop notifications for workspace changes and alerts (urgency rising
//! with the alert's level), over the freedesktop
//! notification API on the session D-Bus (notify-rust's async zbus client, on
//! the daemon's tokio runtime; never a blocking call).
//!
//! Best effort: with no session bus or no notification server the first
//! failure is logged once and shown in `mws daemon status`; nothing else is
//! affected, and a later success clears it.

use crate::events::{describe, DaemonEvent};
use crate::state::Daemon;
use std::sync::Arc;
use tokio::sync::broadcast;

/// The summary and body shown for an event: the shared wording, with the
/// workspace after it.
fn notification(event: &DaemonEvent) -> (String, String) {
    let description = describe(event);
    let (_, workspace) = event.place();
    let body = if workspace.is_empty() {
        description.detail
    } else {
        format!("{} in workspace '{workspace}'", description.detail)
    };
    (description.title, body)
}

/// Sends notifications for the daemon's events until it stops.
pub fn spawn(daemon: Arc<Daemon>) {
    let mut events: broadcast::Receiver<DaemonEvent> = daemon.bus.subscribe();
    let mut shutdown = daemon.shutdown_signal();
    tokio::spawn(async move {
        let mut failing = false;
        set_state(&daemon, "enabled (no notification sent yet)");
        loop {
            let event = tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = shutdown.changed() => return,
            };
            let settings = daemon.current_settings();
            if !settings.notifications {
                set_state(&daemon, "disabled in config");
                continue;
            }
            let Some(kind) = event.kind() else {
                continue;
            };
            if !settings.notifies(&kind) {
                continue;
            }
            let (summary, body) = notification(&event);
            let result = notify_rust::Notification::new()
                .appname("mws")
                .summary(&summary)
                .body(&body)
                .urgency(urgency(&event))
                .show_async()
                .await;
            match result {
                Ok(_) => {
                    failing = false;
                    set_state(&daemon, "enabled");
                }
                Err(e) => {
                    let reason = e.to_string().replace('\n', " ");
                    if !failing {
                        tracing::warn!("desktop notifications unavailable: {reason}");
                    }
                    failing = true;
                    set_state(&daemon, &format!("unavailable: {reason}"));
                }
            }
        }
    });
}

/// Urgency rises with an alert's level: `info` low, `warning` normal,
/// `critical` and `expired` critical; workspace changes are normal.
fn urgency(event: &DaemonEvent) -> notify_rust::Urgency {
    match event {
        DaemonEvent::Alert(alert) => match mws_ipc::alert_level_rank(&alert.level) {
            0 | 1 => notify_rust::Urgency::Low,
            2 => notify_rust::Urgency::Normal,
            _ => notify_rust::Urgency::Critical,
        },
        _ => notify_rust::Urgency::Normal,
    }
}

fn set_state(daemon: &Daemon, state: &str) {
    daemon.set_notification_state(state);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Change, WorkspaceEvent};
    use mws_ipc::ProxyToken;

    #[test]
    fn token_created_names_token_and_workspace() {
        let event = DaemonEvent::Workspace(WorkspaceEvent {
            time: 0.0,
            workspace: "acme".into(),
            server_url: "http://x".into(),
            change: Change::TokenCreated(ProxyToken {
                token_id: "wk-1".into(),
                name: "ci".into(),
                ..Default::default()
            }),
        });
        let (summary, body) = notification(&event);
        assert_eq!(summary, "Proxy token created");
        assert_eq!(body, "wk-1 ('ci') in workspace 'acme'");
    }
}
