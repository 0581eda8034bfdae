//! Which identity a request runs as, and the secrets that go with it.
//!
//! `config` applies the official client's rules to what the CLI saw
//! (environment variables, `--profile`, the Modal config file); this module
//! adds what only the daemon has: the OS keyring (looked up between the
//! environment and the file, and cached in memory so a warm call never
//! touches it), and the built-in `local` profile's embedded emulator.

use crate::config::{self, Identity, ProfileStore, Resolved};
use crate::error::Error;
use crate::files::off_worker;
use crate::local::{LocalEmulator, LocalSettings};
use crate::secrets::{Keyring, KeyringError};
use crate::sync::lock;
use mws_ipc::{Secret, Selection};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a keyring miss is remembered.
const MISS_TTL: Duration = Duration::from_secs(30);

type KeyringCache = HashMap<String, (Option<Secret>, Instant)>;

/// The daemon's view of credentials.
pub(crate) struct Credentials {
    /// Shared with the blocking pool, where config files are read.
    profiles: Arc<ProfileStore>,
    keyring: Result<Keyring, KeyringError>,
    /// Secrets read from the keyring; misses are remembered briefly.
    keyring_cache: Mutex<KeyringCache>,
    keyring_warned: AtomicBool,
    local_settings: LocalSettings,
    local: tokio::sync::Mutex<Option<LocalEmulator>>,
    local_url: Mutex<Option<String>>,
}

impl Credentials {
    pub(crate) fn new(local_settings: LocalSettings) -> Self {
        Self {
            profiles: Arc::new(ProfileStore::default()),
            keyring: Keyring::start(),
            keyring_cache: Mutex::new(HashMap::new()),
            keyring_warned: AtomicBool::new(false),
            local_settings,
            local: tokio::sync::Mutex::new(None),
            local_url: Mutex::new(None),
        }
    }

    /// The Modal config files read so far, with their last good contents.
    pub(crate) fn profiles(&self) -> &ProfileStore {
        &self.profiles
    }

    /// The keyring, or why there is none.
    pub(crate) fn keyring(&self) -> Result<&Keyring, Error> {
        self.keyring.as_ref().map_err(|e| Error::Keyring(e.clone()))
    }

    /// The keyring's name for reports (`none` without one).
    pub(crate) fn backend_name(&self) -> &'static str {
        self.keyring
            .as_ref()
            .map(|k| k.backend_name())
            .unwrap_or("none")
    }

    /// URL of the embedded emulator, once started.
    pub(crate) fn local_url(&self) -> Option<String> {
        lock(&self.local_url).clone()
    }

    /// Resolves the identity a request runs as; `is_new_file` is told the
    /// config file when it is read for the first time (to watch it).
    pub(crate) async fn resolve(
        &self,
        selection: &Selection,
        is_new_file: impl FnOnce(&Path),
    ) -> Result<Identity, Error> {
        // The config file is read (or stat'ed) off the runtime's workers: a
        // slow file system holds up this request only.
        let (profiles, owned) = (self.profiles.clone(), selection.clone());
        let (resolved, is_new) = off_worker(move || profiles.resolve(&owned)).await;
        if is_new {
            is_new_file(&config::config_path(selection));
        }
        match resolved? {
            Resolved::Remote(candidate) => {
                let keyring_secret = if candidate.needs_keyring() {
                    match self.keyring_secret(&candidate.token_id).await {
                        Ok(secret) => secret,
                        Err(e) if candidate.file_secret.is_some() => {
                            if !self.keyring_warned.swap(true, Ordering::Relaxed) {
                                tracing::warn!("{e}; using the secret in the config file");
                            }
                            None
                        }
                        Err(e) => return Err(e.into()),
                    }
                } else {
                    None
                };
                Ok(candidate
                    .into_identity(keyring_secret)
                    .map(|(identity, _)| identity)?)
            }
            Resolved::Local => self.local_identity().await,
        }
    }

    /// Which identity a selection names — `(profile, server URL, token
    /// id)` — from the config files alone: no keyring, no emulator started
    /// (`None` for `local` when its emulator is not running). For answers
    /// that must never wait, like a shell prompt's.
    pub(crate) async fn peek(&self, selection: &Selection) -> Option<(String, String, String)> {
        let (profiles, owned) = (self.profiles.clone(), selection.clone());
        let (resolved, _) = off_worker(move || profiles.resolve(&owned)).await;
        match resolved.ok()? {
            Resolved::Remote(candidate) => {
                Some((candidate.profile, candidate.server_url, candidate.token_id))
            }
            Resolved::Local => {
                let local = self.local.try_lock().ok()?;
                let running = local.as_ref()?;
                Some((
                    config::LOCAL_PROFILE.to_string(),
                    running.url.clone(),
                    running.token_id.clone(),
                ))
            }
        }
    }

    /// The keyring's secret for a token id, cached in memory.
    pub(crate) async fn keyring_secret(
        &self,
        token_id: &str,
    ) -> Result<Option<Secret>, KeyringError> {
        if let Some((secret, at)) = lock(&self.keyring_cache).get(token_id) {
            if secret.is_some() || at.elapsed() < MISS_TTL {
                return Ok(secret.clone());
            }
        }
        let keyring = self.keyring.as_ref().map_err(Clone::clone)?;
        let secret = keyring.get(token_id).await?;
        lock(&self.keyring_cache).insert(token_id.to_string(), (secret.clone(), Instant::now()));
        Ok(secret)
    }

    /// Drops a cached keyring secret (after `auth set/import/remove`).
    pub(crate) fn forget_keyring_secret(&self, token_id: &str) {
        lock(&self.keyring_cache).remove(token_id);
    }

    /// The identity of the embedded emulator, starting it if needed.
    async fn local_identity(&self) -> Result<Identity, Error> {
        let mut local = self.local.lock().await;
        if let Some(running) = local.as_mut() {
            if !running.is_running() {
                tracing::warn!("local emulator exited; starting a new one");
                *local = None;
            }
        }
        let emulator = match local.take() {
            Some(emulator) => emulator,
            None => {
                let emulator = LocalEmulator::start(&self.local_settings).await?;
                *lock(&self.local_url) = Some(emulator.url.clone());
                emulator
            }
        };
        let identity = Identity {
            server_url: emulator.url.clone(),
            token_id: emulator.token_id.clone(),
            token_secret: emulator.token_secret.clone(),
            profile: Some(config::LOCAL_PROFILE.to_string()),
        };
        *local = Some(emulator);
        Ok(identity)
    }
}
