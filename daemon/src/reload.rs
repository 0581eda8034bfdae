//! Config hot-reload: watches the Modal config files the daemon has used and
//! mws's own config file, through their parent folders (editors replace files
//! rather than write them in place), debounced.
//!
//! On a change it calls back (the daemon's `reload_configs`): Modal
//! profiles are re-read and the sessions (cache, poller) of identities whose
//! credentials changed are dropped; mws's settings are re-read and applied. A file that no longer parses keeps its last good
//! version in use and its error shows in `mws daemon status`.
//!
//! Correctness does not depend on the watcher: every request also checks its
//! config file's fingerprint, so the next call after an edit uses it even if
//! the file-system event has not arrived yet.

use notify::{RecursiveMode, Watcher};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Quiet time after the last file event before reloading.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// Watches folders on behalf of the daemon.
pub(crate) struct ConfigWatcher {
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
    watched: Mutex<HashSet<PathBuf>>,
}

impl ConfigWatcher {
    /// Starts the watcher and the task that calls `on_change` (debounced)
    /// until `shutdown`. `on_change` reads files, so it runs on the blocking
    /// pool, one call at a time.
    pub(crate) fn start(
        mut shutdown: watch::Receiver<bool>,
        on_change: impl Fn() + Send + Sync + 'static,
    ) -> Arc<Self> {
        let on_change = Arc::new(on_change);
        let (tx, mut rx) = mpsc::unbounded_channel::<()>();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok() {
                let _ = tx.send(());
            }
        });
        let watcher = match watcher {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!("config hot-reload unavailable: {e}");
                None
            }
        };
        let this = Arc::new(Self {
            watcher: Mutex::new(watcher),
            watched: Mutex::new(HashSet::new()),
        });
        this.watch(&crate::settings::config_file());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    got = rx.recv() => if got.is_none() { return },
                    _ = shutdown.changed() => return,
                }
                // Debounce: wait until events stop for a moment.
                loop {
                    match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                        Ok(Some(())) => continue,
                        Ok(None) => return,
                        Err(_) => break,
                    }
                }
                let on_change = on_change.clone();
                // Even a bug that panics in there leaves this task watching.
                if let Err(e) = tokio::task::spawn_blocking(move || on_change()).await {
                    tracing::error!("config reload failed: {e}");
                }
            }
        });
        this
    }

    /// Watches the folder holding `file` (once).
    pub(crate) fn watch(&self, file: &Path) {
        let Some(dir) = file.parent().map(Path::to_path_buf) else {
            return;
        };
        let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        if watched.contains(&dir) {
            return;
        }
        let mut watcher = self.watcher.lock().unwrap_or_else(|p| p.into_inner());
        let Some(watcher) = watcher.as_mut() else {
            return;
        };
        match watcher.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                tracing::debug!(dir = %dir.display(), "watching for config changes");
                watched.insert(dir);
            }
            // A folder that does not exist yet is checked again next time.
            Err(e) => tracing::debug!(dir = %dir.display(), "cannot watch: {e}"),
        }
    }
}
