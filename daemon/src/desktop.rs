//! Desktop notifications for workspace changes, over the freedesktop
//! notification API on the session D-Bus (notify-rust's async zbus client, on
//! the daemon's tokio runtime; never a blocking call).
//!
//! Best effort: with no session bus or no notification server the first
//! failure is logged once and shown in `mws daemon status`; nothing else is
//! affected, and a later success clears it.

use crate::server::Daemon;
use mws_ipc::Event;
use std::sync::Arc;
use tokio::sync::broadcast;

/// The summary and body shown for an event.
pub fn describe(event: &Event) -> (String, String) {
    let after: serde_json::Value = serde_json::from_str(&event.after).unwrap_or_default();
    let before: serde_json::Value = serde_json::from_str(&event.before).unwrap_or_default();
    let obj = if after.is_null() { &before } else { &after };
    let field = |key: &str| {
        obj.get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let named = |id: String, name: String| {
        if name.is_empty() {
            id
        } else {
            format!("{id} ('{name}')")
        }
    };
    let workspace = if event.workspace.is_empty() {
        String::new()
    } else {
        format!(" in workspace '{}'", event.workspace)
    };
    let token = named(field("token_id"), field("name"));
    let member = {
        let name = field("name");
        let email = field("email");
        match (name.is_empty(), email.is_empty()) {
            (false, false) => format!("{name} <{email}>"),
            (false, true) => name,
            _ => email,
        }
    };
    match event.kind.as_str() {
        "token.created" => ("Proxy token created".into(), format!("{token}{workspace}")),
        "token.deleted" => ("Proxy token deleted".into(), format!("{token}{workspace}")),
        "token.renamed" => (
            "Proxy token renamed".into(),
            format!(
                "{}: '{}' → '{}'{workspace}",
                field("token_id"),
                before.get("name").and_then(|v| v.as_str()).unwrap_or(""),
                field("name")
            ),
        ),
        "token.environments_changed" => (
            "Proxy token environments changed".into(),
            format!("{}{workspace}", field("token_id")),
        ),
        "member.joined" => ("Member joined".into(), format!("{member}{workspace}")),
        "member.left" => ("Member left".into(), format!("{member}{workspace}")),
        "member.role_changed" => (
            "Member role changed".into(),
            format!(
                "{member}: {} → {}{workspace}",
                before.get("role").and_then(|v| v.as_str()).unwrap_or(""),
                field("role")
            ),
        ),
        alert if alert.starts_with("alert.") => {
            // A plugin's alert (see crate::plugins): its message says it all.
            let title = match field("level").as_str() {
                "expired" => "Proxy token expired",
                "warning" => "Proxy token expiring soon",
                _ => "mws alert",
            };
            (title.into(), format!("{}{workspace}", field("message")))
        }
        other => (
            format!("Workspace change: {other}"),
            workspace.trim().to_string(),
        ),
    }
}

/// Sends notifications for the daemon's events until it stops.
pub fn spawn(daemon: Arc<Daemon>) {
    let mut events: broadcast::Receiver<Event> = daemon.subscribe();
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
            let settings = daemon
                .settings
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if !settings.notifications {
                set_state(&daemon, "disabled in config");
                continue;
            }
            if !settings.notify_events.contains(&event.kind) {
                continue;
            }
            let (summary, body) = describe(&event);
            let result = notify_rust::Notification::new()
                .appname("mws")
                .summary(&summary)
                .body(&body)
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

fn set_state(daemon: &Daemon, state: &str) {
    *daemon
        .notification_state
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = state.to_string();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, before: &str, after: &str) -> Event {
        Event {
            kind: kind.into(),
            time: 0.0,
            workspace: "acme".into(),
            server_url: String::new(),
            before: before.into(),
            after: after.into(),
        }
    }

    #[test]
    fn token_created_names_token_and_workspace() {
        let (summary, body) = describe(&event(
            "token.created",
            "null",
            r#"{"token_id":"wk-1","name":"ci"}"#,
        ));
        assert_eq!(summary, "Proxy token created");
        assert_eq!(body, "wk-1 ('ci') in workspace 'acme'");
    }

    #[test]
    fn role_change_shows_both_roles() {
        let (_, body) = describe(&event(
            "member.role_changed",
            r#"{"name":"Ada","email":"ada@x","role":"member"}"#,
            r#"{"name":"Ada","email":"ada@x","role":"owner"}"#,
        ));
        assert_eq!(body, "Ada <ada@x>: member → owner in workspace 'acme'");
    }
}
