//! What judging shares with the plugin manager, without the manager: the
//! two judging events, which identity a credential record belongs to, which
//! loaded plugins judge, and the alert book's file
//! (`$XDG_STATE_HOME/mws/alerts.json`, read and written off the async
//! workers). The judging itself is `judge`'s.

use super::alerts::Book;
use crate::events::Credentials;
use mws_ipc::PluginState;
use std::path::{Path, PathBuf};

/// Everything known of an identity's credentials (see the module doc).
pub(crate) const CREDENTIALS_REFRESHED: &str = "credentials.refreshed";
/// A fresh proxy-token list (the first plugin event).
pub(crate) const TOKENS_REFRESHED: &str = "tokens.refreshed";

/// Largest alert record the daemon reads back.
const MAX_BOOK_FILE: u64 = 64 * 1024 * 1024;

/// Which identity a record belongs to.
pub(super) type RecordKey = (String, String, String);

pub(super) fn record_key(credentials: &Credentials) -> RecordKey {
    (
        credentials.server_url.clone(),
        credentials.workspace.clone(),
        credentials.identity.clone(),
    )
}

/// The plugins judging credentials in a published list (`mws alerts`).
pub(crate) fn judges_in(plugins: &[mws_ipc::PluginInfo]) -> Vec<String> {
    plugins
        .iter()
        .filter(|p| p.state == PluginState::Loaded)
        .filter(|p| {
            p.events
                .iter()
                .any(|e| e == CREDENTIALS_REFRESHED || e == TOKENS_REFRESHED)
        })
        .map(|p| p.name.clone())
        .collect()
}

/// Reads the alert record (off the async workers); a missing file is an
/// empty book, a bad one is logged and replaced.
pub(super) async fn load_book(path: Option<PathBuf>) -> Book {
    let Some(path) = path else {
        return Book::default();
    };
    let read = tokio::task::spawn_blocking(move || read_record(&path)).await;
    match read {
        Ok(Ok(Some(book))) => book,
        Ok(Ok(None)) => Book::default(),
        Ok(Err(e)) => {
            tracing::warn!("the alert record is ignored: {e}");
            Book::default()
        }
        Err(e) => {
            tracing::warn!("reading the alert record failed: {e}");
            Book::default()
        }
    }
}

fn read_record(path: &Path) -> Result<Option<Book>, String> {
    use crate::files::{read_regular_file, FileError};
    match read_regular_file(path, MAX_BOOK_FILE) {
        Ok(bytes) => Book::from_file(&bytes).map(Some),
        Err(FileError::NotFound) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
    .map_err(|e| format!("{}: {e}", path.display()))
}
