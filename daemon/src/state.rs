//! The daemon's shared state: one [`Daemon`] behind an `Arc`, owned by no
//! connection.
//!
//! It holds what outlives a request — settings, credentials, the sessions
//! per identity, the event bus, the plugin manager's and the webhooks'
//! handles, the shutdown
//! signal — and the small status facts `mws daemon status` reports. Locks
//! here guard in-memory maps only and are never held across an await or
//! any I/O: a slow server, keyring or plugin cannot block another request.

use crate::bus::Bus;
use crate::config::Identity;
use crate::credentials::Credentials;
use crate::error::Error;
use crate::local::LocalSettings;
use crate::plugins::Plugins;
use crate::reload::ConfigWatcher;
use crate::session::Session;
use crate::settings::{Settings, SharedSettings};
use crate::sync::lock;
use crate::upstream::{Upstream, UpstreamSettings};
use crate::webhooks::Webhooks;
use mws_ipc::{IdentityStatus, Secret, Selection};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Key of a session: one identity, and a digest of the secret it was opened
/// with, so that a request with a wrong secret never reads the cache that a
/// right one filled (it gets its own session, and the server's verdict).
type IdentityKey = (String, String, u64);

fn secret_digest(secret: &Secret) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // A per-process random key: the digest means nothing outside this daemon.
    static KEYS: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    let mut hasher = KEYS.get_or_init(Default::default).build_hasher();
    hasher.write(secret.expose().as_bytes());
    hasher.finish()
}

/// The daemon's shared state.
pub struct Daemon {
    pub(crate) started: Instant,
    pub(crate) socket: PathBuf,
    pub(crate) upstream_settings: UpstreamSettings,
    pub(crate) settings: SharedSettings,
    pub(crate) credentials: Credentials,
    sessions: Mutex<HashMap<IdentityKey, Arc<Session>>>,
    pub(crate) bus: Bus,
    shutdown: watch::Sender<bool>,
    pub(crate) plugins: Plugins,
    pub(crate) webhooks: Arc<Webhooks>,
    watcher: OnceLock<Arc<ConfigWatcher>>,
    /// Configuration problems the daemon keeps running despite.
    config_errors: Mutex<Vec<String>>,
    /// Desktop notification state, for status.
    notification_state: Mutex<String>,
    /// `watch` subscribers connected now.
    pub(crate) subscribers: AtomicU32,
}

impl Daemon {
    pub fn new(
        socket: PathBuf,
        upstream_settings: UpstreamSettings,
        local_settings: LocalSettings,
        settings: Settings,
    ) -> Self {
        Self {
            started: Instant::now(),
            socket,
            upstream_settings,
            settings: Arc::new(RwLock::new(settings)),
            credentials: Credentials::new(local_settings),
            sessions: Mutex::new(HashMap::new()),
            bus: Bus::default(),
            shutdown: watch::channel(false).0,
            plugins: Plugins::default(),
            webhooks: Arc::new(Webhooks::default()),
            watcher: OnceLock::new(),
            config_errors: Mutex::new(Vec::new()),
            notification_state: Mutex::new("not started".to_string()),
            subscribers: AtomicU32::new(0),
        }
    }

    /// A copy of the current settings.
    pub(crate) fn current_settings(&self) -> Settings {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Asks the accept loop to stop.
    pub fn request_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// A receiver that changes to `true` when the daemon stops.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Starts the plugin manager, hosted by `exe --plugin-host`, and the
    /// webhook dispatcher its sink plugins feed.
    pub fn start_plugins(&self, exe: PathBuf) {
        self.webhooks.start(
            crate::state_dir::outbox_dir(),
            self.settings.clone(),
            self.credentials.keyring().ok().cloned(),
            self.shutdown_signal(),
        );
        self.plugins.start(
            exe,
            Some(crate::state_dir::alerts_file()),
            self.bus.clone(),
            self.settings.clone(),
            self.webhooks.clone(),
            self.shutdown_signal(),
        );
    }

    /// Starts watching config files for changes (call once, on the runtime).
    pub fn start_config_watcher(self: &Arc<Self>) {
        let daemon = Arc::downgrade(self);
        let watcher = ConfigWatcher::start(self.shutdown_signal(), move || {
            if let Some(daemon) = daemon.upgrade() {
                daemon.reload_configs();
            }
        });
        for path in self.credentials.profiles().paths() {
            watcher.watch(&path);
        }
        let _ = self.watcher.set(watcher);
    }

    /// Resolves the identity a request runs as.
    pub(crate) async fn resolve(&self, selection: &Selection) -> Result<Identity, Error> {
        self.credentials
            .resolve(selection, |path| {
                if let Some(watcher) = self.watcher.get() {
                    // Adding a watch touches the file system: not on a worker.
                    let (watcher, path) = (watcher.clone(), path.to_owned());
                    tokio::task::spawn_blocking(move || watcher.watch(&path));
                }
            })
            .await
    }

    /// Re-reads every config file the daemon knows (after a file event).
    /// Blocks on the file system: the watcher runs it on the blocking pool.
    pub(crate) fn reload_configs(&self) {
        let profiles = self.credentials.profiles();
        for path in profiles.paths() {
            let (reload, _) = profiles.refresh(&path);
            if !reload.changed_identities.is_empty() {
                tracing::info!(
                    file = %path.display(),
                    identities = reload.changed_identities.len(),
                    "credentials changed; dropping their caches"
                );
                self.retain_sessions(|url, id| {
                    !reload
                        .changed_identities
                        .iter()
                        .any(|(u, i)| u == url && i == id)
                });
            }
        }
        let loaded = crate::settings::load(&crate::settings::config_file());
        match loaded.file_error {
            None => {
                let mut current = self.settings.write().unwrap_or_else(|p| p.into_inner());
                if *current != loaded.settings {
                    tracing::info!("mws settings reloaded");
                    *current = loaded.settings;
                }
                drop(current);
                self.set_config_error("mws config", None);
            }
            Some(e) => {
                tracing::warn!("{e}; keeping the last good settings");
                self.set_config_error("mws config", Some(e.to_string()));
            }
        }
        self.set_config_error("mws environment", loaded.env_error);
    }

    /// Records (or clears, with `None`) a configuration problem for `status`.
    pub fn set_config_error(&self, source: &str, error: Option<String>) {
        let mut errors = lock(&self.config_errors);
        errors.retain(|e| !e.starts_with(source));
        if let Some(error) = error {
            errors.push(format!("{source}: {error}"));
        }
    }

    /// Configuration problems, this daemon's and the Modal config files'.
    pub(crate) fn config_errors(&self) -> Vec<String> {
        let mut errors = lock(&self.config_errors).clone();
        errors.extend(self.credentials.profiles().errors());
        errors
    }

    pub(crate) fn set_notification_state(&self, state: &str) {
        *lock(&self.notification_state) = state.to_string();
    }

    pub(crate) fn notification_state(&self) -> String {
        lock(&self.notification_state).clone()
    }

    /// The session of an identity, opened on first use.
    /// The session of an identity the daemon has already met, if any
    /// (whatever its secret); never creates one.
    pub(crate) fn known_session(&self, server_url: &str, token_id: &str) -> Option<Arc<Session>> {
        lock(&self.sessions)
            .iter()
            .find(|((url, id, _), _)| url == server_url && id == token_id)
            .map(|(_, session)| session.clone())
    }

    pub(crate) fn session_for(&self, identity: &Identity) -> Result<Arc<Session>, Error> {
        let key = (
            identity.server_url.clone(),
            identity.token_id.clone(),
            secret_digest(&identity.token_secret),
        );
        let mut sessions = lock(&self.sessions);
        if let Some(session) = sessions.get(&key) {
            return Ok(session.clone());
        }
        // Forget identities nobody used for a while (their poller has
        // stopped), so that, say, many mistyped secrets do not pile up.
        let idle_after = self.current_settings().idle_after;
        sessions.retain(|_, s| s.is_polling() || s.idle_for() <= idle_after);
        let session = Arc::new(Session::new(
            Upstream::new(identity, &self.upstream_settings)?,
            self.bus.clone(),
        ));
        sessions.insert(key, session.clone());
        Ok(session)
    }

    /// Starts the session's poller unless it runs (an identity the server
    /// accepted is worth polling).
    /// From the start: the identity the daemon's own environment selects
    /// (as the CLI's would: `MODAL_TOKEN_*`, `MODAL_PROFILE`, the active
    /// profile of the Modal config file) has its credentials read and
    /// judged at once and is then polled, so alerts hold before any command
    /// runs. An identity that does not resolve or answer is left alone, and
    /// nothing is asked when no plugin judges credentials.
    pub fn watch_default_identity(self: &Arc<Self>) {
        let daemon = self.clone();
        tokio::spawn(async move {
            // Only worth the calls when a plugin judges credentials.
            if crate::plugins::judges_in(&daemon.plugins.list().await).is_empty() {
                return;
            }
            let selection = Selection::from_env(None, |name| std::env::var_os(name));
            let identity = match daemon.resolve(&selection).await {
                Ok(identity) => identity,
                Err(e) => {
                    tracing::info!("no identity to watch from the start: {e}");
                    return;
                }
            };
            let session = match daemon.session_for(&identity) {
                Ok(session) => session,
                Err(e) => {
                    tracing::info!("no identity to watch from the start: {e}");
                    return;
                }
            };
            match session.credentials(Duration::ZERO).await {
                Ok(_) => daemon.keep_polling(&session),
                Err(e) => tracing::info!("the default identity does not answer: {e}"),
            }
        });
    }

    pub(crate) fn keep_polling(&self, session: &Arc<Session>) {
        session.ensure_poller(self.settings.clone(), self.shutdown_signal());
    }

    /// Drops sessions whose identity is `(server_url, token_id)` for which
    /// `keep` says no (after a config reload).
    pub(crate) fn retain_sessions(&self, keep: impl Fn(&str, &str) -> bool) {
        lock(&self.sessions).retain(|(url, id, _), session| {
            let kept = keep(url, id);
            if !kept {
                session.retire();
            }
            kept
        });
    }

    /// Each known workspace once (the first identity's view of it), for
    /// metrics.
    pub(crate) fn workspace_views(&self) -> Vec<crate::metrics::WorkspaceView> {
        let sessions: Vec<Arc<Session>> = lock(&self.sessions).values().cloned().collect();
        let mut views: Vec<crate::metrics::WorkspaceView> = Vec::new();
        for view in sessions.iter().filter_map(|s| s.metrics_view()) {
            if !views.iter().any(|v| v.workspace == view.workspace) {
                views.push(view);
            }
        }
        views.sort_by(|a, b| a.workspace.cmp(&b.workspace));
        views
    }

    /// Each identity in use, for `status`.
    pub(crate) fn identity_statuses(&self) -> Vec<IdentityStatus> {
        let sessions: Vec<Arc<Session>> = lock(&self.sessions).values().cloned().collect();
        let mut identities: Vec<IdentityStatus> = sessions.iter().map(|s| s.status()).collect();
        identities.sort_by(|a, b| (&a.server_url, &a.token_id).cmp(&(&b.server_url, &b.token_id)));
        identities
    }

    /// Counts a `watch` subscriber for as long as the guard lives.
    pub(crate) fn count_subscriber(&self) -> SubscriberGuard<'_> {
        self.subscribers.fetch_add(1, Ordering::Relaxed);
        SubscriberGuard(&self.subscribers)
    }
}

/// Counts a `watch` subscriber for as long as it lives (also when its task
/// is cancelled).
pub(crate) struct SubscriberGuard<'a>(&'a AtomicU32);

impl Drop for SubscriberGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
