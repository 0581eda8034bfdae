//! `mws webhooks …`: the endpoints and their queue, their signing secrets
//! (kept in the keyring), a test delivery, re-queuing what was given up on
//! and purging an endpoint's deliveries. The state is the webhooks
//! handle's; a test goes through the sink plugins like any event.

use crate::error::Error;
use crate::state::Daemon;
use mws_ipc::{Response, WebhookCommand, WebhookReport};

pub(super) async fn handle(daemon: &Daemon, command: WebhookCommand) -> Result<Response, Error> {
    match command {
        WebhookCommand::List => Ok(Response::Webhooks(report(daemon))),
        WebhookCommand::SetSecret { name, secret } => {
            let keyring = daemon.credentials.keyring()?;
            let generated = daemon.webhooks.set_secret(&name, secret, keyring).await?;
            Ok(Response::WebhookSecret(generated))
        }
        WebhookCommand::DeleteSecret { name } => {
            let keyring = daemon.credentials.keyring()?;
            daemon.webhooks.delete_secret(&name, keyring).await?;
            Ok(Response::Ok)
        }
        WebhookCommand::Test { name } => {
            daemon.webhooks.check_endpoint(&name)?;
            Ok(Response::WebhookQueued(
                daemon.plugins.sink_test(&name).await?,
            ))
        }
        WebhookCommand::Retry { name } => {
            Ok(Response::WebhookQueued(daemon.webhooks.retry(&name).await?))
        }
        WebhookCommand::Purge { name } => {
            let purged = daemon.webhooks.purge(&name).await?;
            Ok(Response::WebhookPurged {
                removed: purged.removed,
                sending: purged.sending,
            })
        }
    }
}

/// The queue and endpoints, with the sink plugins loaded now (from the
/// plugin manager's published snapshot: never waits for a plugin).
pub(super) fn report(daemon: &Daemon) -> WebhookReport {
    let mut report = daemon.webhooks.report();
    report.sinks = daemon.plugins.sinks();
    report
}
