//! `mws exec` and `mws env`: the selected identity's credential handed to
//! the client, so that Modal's own tools (`modal deploy`, the Python SDK)
//! work with a secret that lives only in the keyring.
//!
//! The secret crosses the private socket (same uid, checked per peer) and
//! nothing else: it is not logged, and the client puts it in a child's
//! environment or on its own stdout only. Nothing is asked of Modal; for
//! `--profile local` the embedded emulator is started if needed, as for any
//! other command.

use crate::error::Error;
use crate::state::Daemon;
use mws_ipc::{ExportedCredential, Response, Selection};

pub(super) async fn export(daemon: &Daemon, selection: &Selection) -> Result<Response, Error> {
    let identity = daemon.resolve(selection).await?;
    Ok(Response::Credential(ExportedCredential {
        token_id: identity.token_id.clone(),
        token_secret: identity.token_secret.clone(),
        server_url: identity.server_url.clone(),
        profile: identity.profile.clone().unwrap_or_default(),
    }))
}
