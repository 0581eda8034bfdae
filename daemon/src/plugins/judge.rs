//! Alert policies: handing an identity's credentials to the plugins that
//! judge them, and keeping the alert book (and its file) up to date.
//!
//! Two plugin events exist. `credentials.refreshed` carries everything the
//! identity knows of its workspace's credentials — its own credential, proxy
//! tokens, service users, member tokens, each `null` when unknown — and is
//! what the bundled `expiry` plugin wants. `tokens.refreshed` (the first
//! event, kept for plugins written against it) carries the proxy tokens
//! only. The manager keeps the last record of every identity, so a plugin
//! that is loaded or reloaded is asked about all of them at once, and alerts
//! hold from the moment a plugin appears, not from the next poll.

use super::alerts::{self, Scope};
use super::judging::{record_key, CREDENTIALS_REFRESHED, TOKENS_REFRESHED};
use super::{Entry, Manager};
use crate::events::{Credentials, DaemonEvent};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;

/// The event a loaded plugin wants for judging, if any.
fn judging_event(entry: &Entry) -> Option<&'static str> {
    entry.index?;
    let wants = |event: &str| entry.info.events.iter().any(|e| e == event);
    if wants(CREDENTIALS_REFRESHED) {
        Some(CREDENTIALS_REFRESHED)
    } else if wants(TOKENS_REFRESHED) {
        Some(TOKENS_REFRESHED)
    } else {
        None
    }
}

impl Manager {
    /// The loaded plugins that judge credentials.
    pub(super) fn judges(&self) -> Vec<String> {
        self.state
            .entries
            .iter()
            .filter(|e| judging_event(e).is_some())
            .map(|e| e.info.name.clone())
            .collect()
    }

    /// After the set of judges changed: forget the alerts of plugins gone,
    /// and judge every known identity again.
    pub(super) async fn judge_again_if_judges_changed(&mut self) {
        let judges = self.judges();
        if judges == self.judged_by {
            return;
        }
        self.judged_by = judges.clone();
        let loaded: HashSet<String> = judges.into_iter().collect();
        self.book
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain_plugins(&loaded);
        let records: Vec<Arc<Credentials>> = self.latest.values().cloned().collect();
        for record in records {
            self.judge(&record).await;
        }
        self.save_book().await;
    }

    /// Hands one identity's credentials to every plugin that judges them,
    /// and announces new alerts on the bus.
    pub(super) async fn judge(&mut self, credentials: &Arc<Credentials>) {
        self.latest
            .insert(record_key(credentials), credentials.clone());
        self.ensure_current().await;
        let wanting: Vec<(usize, String, usize, &'static str)> = self
            .state
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let event = judging_event(e)?;
                Some((i, e.info.name.clone(), e.index?, event))
            })
            .collect();
        let settings = self.settings();
        let mut changed = false;
        for (entry, name, index, event) in wanting {
            if event == TOKENS_REFRESHED && credentials.proxy_tokens.is_none() {
                continue;
            }
            let now = crate::events::now();
            let config = settings.config.get(&name).cloned().unwrap_or(json!({}));
            let input = if event == CREDENTIALS_REFRESHED {
                json!({
                    "event": event,
                    "server_url": credentials.server_url,
                    "workspace": credentials.workspace,
                    "now": now,
                    "credential": credentials.credential,
                    "proxy_tokens": credentials.proxy_tokens,
                    "service_users": credentials.service_users,
                    "member_tokens": credentials.member_tokens,
                    "config": config,
                })
            } else {
                json!({
                    "event": event,
                    "server_url": credentials.server_url,
                    "workspace": credentials.workspace,
                    "now": now,
                    "tokens": credentials.proxy_tokens,
                    "config": config,
                })
            };
            let doing = format!("handling '{event}'");
            let output = match self
                .call_event(entry, (&name, index), event, input.to_string(), &doing)
                .await
            {
                // A crash moved the entries: the next judgement covers it.
                None => continue,
                Some(Ok(output)) => output,
                Some(Err(e)) => {
                    tracing::warn!("{e}");
                    continue;
                }
            };
            let parsed = match alerts::parse(&output, &name) {
                Ok(parsed) => parsed,
                Err(e) => {
                    tracing::warn!(plugin = %name, "{e}");
                    self.note(entry, e);
                    continue;
                }
            };
            if parsed.dropped > 0 {
                let note = format!(
                    "returned {} alerts; kept the first {}",
                    parsed.verdicts.len() + parsed.dropped,
                    alerts::MAX_ALERTS_PER_PLUGIN
                );
                tracing::warn!(plugin = %name, "{note}");
                self.note(entry, note);
            }
            let scope = Scope {
                server_url: credentials.server_url.clone(),
                workspace: credentials.workspace.clone(),
                identity: credentials.identity.clone(),
                plugin: name.clone(),
            };
            let verdicts = parsed.verdicts;
            let book = self.book.clone();
            // Updating a large book is CPU work: off the async workers.
            let update = tokio::task::spawn_blocking(move || {
                book.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .update(&scope, verdicts, now)
            })
            .await;
            let Ok(update) = update else { continue };
            changed |= update.changed;
            for alert in update.fresh {
                tracing::info!(plugin = %name, id = %alert.token_id, level = %alert.level, "alert");
                self.bus.publish(DaemonEvent::Alert(alert));
            }
        }
        self.publish();
        if changed {
            self.save_book().await;
        }
    }

    /// Writes the alert record (off the async workers, no lock held while
    /// writing).
    pub(super) async fn save_book(&self) {
        let Some(path) = self.book_file.clone() else {
            return;
        };
        let book = self.book.clone();
        let result = tokio::task::spawn_blocking(move || {
            let bytes = book.lock().unwrap_or_else(|p| p.into_inner()).to_file();
            crate::files::write_private(&path, &bytes)
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("cannot write the alert record: {e}"),
            Err(e) => tracing::warn!("writing the alert record failed: {e}"),
        }
    }
}
