//! API secrets in the OS keyring.
//!
//! Every keyring call runs on one dedicated thread behind a channel, and the
//! daemon waits for each with a timeout: a locked keyring can block forever
//! (waiting for an unlock prompt nobody sees), and that must never stall the
//! async runtime. Entries are named service `mws`, user `<token id>`, so
//! `secret-tool lookup service mws username ak-…` finds them.
//!
//! Backends (`MWS_KEYRING`, default `auto`):
//! * `secret-service` — the freedesktop Secret Service over D-Bus
//!   (gnome-keyring, KWallet): persistent, the normal choice on a desktop;
//! * `keyutils` — the Linux kernel key store (the user keyring), for
//!   machines where no Secret Service runs; it does **not** survive a reboot;
//! * `auto` — Secret Service when it answers, else keyutils;
//! * on macOS the Keychain and on Windows the Credential Manager.

use mws_ipc::Secret;
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Keyring service name for every mws entry.
pub const SERVICE: &str = "mws";
/// How long one keyring call may take before we give up on it.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Which store holds secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    SecretService,
    KeyUtils,
    Platform,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::SecretService => "Secret Service (D-Bus)",
            Backend::KeyUtils => "kernel keyutils",
            Backend::Platform => {
                if cfg!(target_os = "macos") {
                    "macOS Keychain"
                } else {
                    "Windows Credential Manager"
                }
            }
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum KeyringError {
    #[error("No keyring is available ({backend}): {reason}. Start a Secret Service (e.g. gnome-keyring), set MWS_KEYRING=keyutils, or use MODAL_TOKEN_ID/MODAL_TOKEN_SECRET.")]
    Unavailable {
        backend: &'static str,
        reason: String,
    },
    #[error("The keyring ({backend}) is locked: {reason}. Unlock it and try again, or use MODAL_TOKEN_ID/MODAL_TOKEN_SECRET.")]
    Locked {
        backend: &'static str,
        reason: String,
    },
    #[error("The keyring ({backend}) did not answer within {secs} s; it may be locked waiting for an unlock prompt. Unlock it, or use MODAL_TOKEN_ID/MODAL_TOKEN_SECRET.", secs = CALL_TIMEOUT.as_secs())]
    TimedOut { backend: &'static str },
    #[error("Keyring error ({backend}): {reason}")]
    Other {
        backend: &'static str,
        reason: String,
    },
    #[error("Invalid MWS_KEYRING value '{0}': use auto, secret-service or keyutils")]
    BadChoice(String),
}

enum Op {
    Get(String),
    Set(String, Secret),
    Delete(String),
}

type Reply = oneshot::Sender<Result<Option<Secret>, KeyringError>>;

/// Handle to the keyring thread (clones share it).
#[derive(Clone)]
pub struct Keyring {
    jobs: mpsc::Sender<(Op, Reply)>,
    choice: Choice,
    /// The backend `auto` settled on, once the worker has probed.
    chosen: std::sync::Arc<std::sync::OnceLock<Backend>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Auto,
    Fixed(Backend),
}

fn parse_choice(value: Option<&str>) -> Result<Choice, KeyringError> {
    match value.map(str::trim).unwrap_or("") {
        "" | "auto" => Ok(Choice::Auto),
        "secret-service" | "secretservice" => Ok(Choice::Fixed(Backend::SecretService)),
        "keyutils" | "linux-keyutils" => Ok(Choice::Fixed(Backend::KeyUtils)),
        other => Err(KeyringError::BadChoice(other.to_string())),
    }
}

impl Keyring {
    /// Starts the keyring thread with the backend chosen by `MWS_KEYRING`.
    pub fn start() -> Result<Self, KeyringError> {
        let choice = if cfg!(target_os = "linux") {
            parse_choice(std::env::var("MWS_KEYRING").ok().as_deref())?
        } else {
            Choice::Fixed(Backend::Platform)
        };
        let (jobs, rx) = mpsc::channel::<(Op, Reply)>();
        let chosen = std::sync::Arc::new(std::sync::OnceLock::new());
        let worker_chosen = chosen.clone();
        std::thread::Builder::new()
            .name("mwsd-keyring".into())
            .spawn(move || worker(rx, choice, worker_chosen))
            .map_err(|e| KeyringError::Other {
                backend: "keyring thread",
                reason: e.to_string(),
            })?;
        Ok(Self {
            jobs,
            choice,
            chosen,
        })
    }

    /// The backend's name for messages (`auto` names both).
    pub fn backend_name(&self) -> &'static str {
        match (self.choice, self.chosen.get().copied()) {
            (Choice::Fixed(b), _) | (Choice::Auto, Some(b)) => b.name(),
            (Choice::Auto, None) => "Secret Service, else kernel keyutils",
        }
    }

    async fn call(&self, op: Op) -> Result<Option<Secret>, KeyringError> {
        let (tx, rx) = oneshot::channel();
        let backend = self.backend_name();
        self.jobs.send((op, tx)).map_err(|_| KeyringError::Other {
            backend,
            reason: "the keyring thread stopped".into(),
        })?;
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(KeyringError::Other {
                backend,
                reason: "the keyring thread stopped".into(),
            }),
            Err(_) => Err(KeyringError::TimedOut { backend }),
        }
    }

    /// The secret stored for a token id, if any.
    pub async fn get(&self, token_id: &str) -> Result<Option<Secret>, KeyringError> {
        self.call(Op::Get(token_id.to_string())).await
    }

    /// Stores the secret for a token id.
    pub async fn set(&self, token_id: &str, secret: Secret) -> Result<(), KeyringError> {
        self.call(Op::Set(token_id.to_string(), secret))
            .await
            .map(|_| ())
    }

    /// Deletes the secret for a token id; `true` if there was one.
    pub async fn delete(&self, token_id: &str) -> Result<bool, KeyringError> {
        self.call(Op::Delete(token_id.to_string()))
            .await
            .map(|r| r.is_some())
    }
}

/// Runs on the keyring thread: one call at a time, in order.
fn worker(
    rx: mpsc::Receiver<(Op, Reply)>,
    choice: Choice,
    chosen: std::sync::Arc<std::sync::OnceLock<Backend>>,
) {
    let mut resolved: Option<Backend> = match choice {
        Choice::Fixed(b) => Some(b),
        Choice::Auto => None,
    };
    while let Ok((op, reply)) = rx.recv() {
        let backend = match resolved {
            Some(b) => b,
            None => {
                let b = probe();
                resolved = Some(b);
                let _ = chosen.set(b);
                tracing::info!(backend = b.name(), "keyring backend chosen");
                b
            }
        };
        let result = run(backend, op);
        let _ = reply.send(result);
    }
}

/// Picks Secret Service if it answers a lookup, else keyutils.
fn probe() -> Backend {
    #[cfg(target_os = "linux")]
    {
        match store::get(Backend::SecretService, "mws-probe") {
            Ok(_) => Backend::SecretService,
            Err(e) => {
                tracing::info!("Secret Service unavailable ({e}); using kernel keyutils");
                Backend::KeyUtils
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        Backend::Platform
    }
}

fn run(backend: Backend, op: Op) -> Result<Option<Secret>, KeyringError> {
    match op {
        Op::Get(user) => store::get(backend, &user),
        Op::Set(user, secret) => store::set(backend, &user, &secret).map(|_| None),
        Op::Delete(user) => store::delete(backend, &user).map(|found| {
            // `Some` only signals "there was one"; carries no secret.
            found.then(|| Secret::new(String::new()))
        }),
    }
}

mod store {
    //! Thin blocking wrappers over the keyring crate with explicit stores.
    use super::{Backend, KeyringError, SERVICE};
    use mws_ipc::Secret;

    fn entry(backend: Backend, user: &str) -> Result<keyring::Entry, KeyringError> {
        let built: Result<keyring::Entry, keyring::Error> = match backend {
            #[cfg(target_os = "linux")]
            Backend::SecretService => {
                keyring::secret_service::SsCredential::new_with_target(None, SERVICE, user)
                    .map(|c| keyring::Entry::new_with_credential(Box::new(c)))
            }
            #[cfg(target_os = "linux")]
            Backend::KeyUtils => {
                keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, user)
                    .map(|c| keyring::Entry::new_with_credential(Box::new(c)))
            }
            _ => keyring::Entry::new(SERVICE, user),
        };
        built.map_err(|e| map(backend, e))
    }

    pub fn map(backend: Backend, error: keyring::Error) -> KeyringError {
        let backend_name = backend.name();
        let reason = error.to_string().replace('\n', " ");
        match error {
            keyring::Error::NoStorageAccess(_) => {
                if reason.to_lowercase().contains("lock") {
                    KeyringError::Locked {
                        backend: backend_name,
                        reason,
                    }
                } else {
                    KeyringError::Unavailable {
                        backend: backend_name,
                        reason,
                    }
                }
            }
            keyring::Error::PlatformFailure(_) => KeyringError::Unavailable {
                backend: backend_name,
                reason,
            },
            _ => KeyringError::Other {
                backend: backend_name,
                reason,
            },
        }
    }

    pub fn get(backend: Backend, user: &str) -> Result<Option<Secret>, KeyringError> {
        #[cfg(target_os = "linux")]
        if backend == Backend::KeyUtils {
            return super::keyutils::get(user);
        }
        match entry(backend, user)?.get_password() {
            Ok(secret) => Ok(Some(Secret::new(secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map(backend, e)),
        }
    }

    pub fn set(backend: Backend, user: &str, secret: &Secret) -> Result<(), KeyringError> {
        #[cfg(target_os = "linux")]
        if backend == Backend::KeyUtils {
            return super::keyutils::set(user, secret);
        }
        entry(backend, user)?
            .set_password(secret.expose())
            .map_err(|e| map(backend, e))
    }

    pub fn delete(backend: Backend, user: &str) -> Result<bool, KeyringError> {
        #[cfg(target_os = "linux")]
        if backend == Backend::KeyUtils {
            return super::keyutils::delete(user);
        }
        match entry(backend, user)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(map(backend, e)),
        }
    }
}

#[cfg(target_os = "linux")]
mod keyutils {
    //! The kernel key store, used directly through linux-keyutils: keyring's
    //! own keyutils store also links every key into the *persistent*
    //! keyring, which containers and some kernels do not offer, and then
    //! fails. We keep keys in the user keyring (`@u`): it lives as long as
    //! any process of the user does, is readable only by that user, and is
    //! gone after a reboot.
    use super::{Backend, KeyringError, SERVICE};
    use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};
    use mws_ipc::Secret;

    fn description(user: &str) -> String {
        format!("{SERVICE}:{user}")
    }

    fn fail(e: KeyError) -> KeyringError {
        KeyringError::Unavailable {
            backend: Backend::KeyUtils.name(),
            reason: format!("{e:?}"),
        }
    }

    fn user_keyring() -> Result<KeyRing, KeyringError> {
        KeyRing::from_special_id(KeyRingIdentifier::User, true).map_err(fail)
    }

    pub fn get(user: &str) -> Result<Option<Secret>, KeyringError> {
        let ring = user_keyring()?;
        match ring.search(&description(user)) {
            Ok(key) => {
                let bytes = key.read_to_vec().map_err(fail)?;
                String::from_utf8(bytes)
                    .map(|s| Some(Secret::new(s)))
                    .map_err(|_| KeyringError::Other {
                        backend: Backend::KeyUtils.name(),
                        reason: "stored secret is not UTF-8".into(),
                    })
            }
            Err(KeyError::KeyDoesNotExist) => Ok(None),
            Err(e) => Err(fail(e)),
        }
    }

    pub fn set(user: &str, secret: &Secret) -> Result<(), KeyringError> {
        user_keyring()?
            .add_key(&description(user), secret.expose().as_bytes())
            .map(|_| ())
            .map_err(fail)
    }

    pub fn delete(user: &str) -> Result<bool, KeyringError> {
        let ring = user_keyring()?;
        match ring.search(&description(user)) {
            Ok(key) => key.invalidate().map(|_| true).map_err(fail),
            Err(KeyError::KeyDoesNotExist) => Ok(false),
            Err(e) => Err(fail(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_is_parsed() {
        assert_eq!(parse_choice(None).unwrap(), Choice::Auto);
        assert_eq!(
            parse_choice(Some("keyutils")).unwrap(),
            Choice::Fixed(Backend::KeyUtils)
        );
        let err = parse_choice(Some("vault")).unwrap_err();
        assert!(err.to_string().contains("vault"));
    }

    #[test]
    fn errors_name_the_fix() {
        let err = KeyringError::TimedOut {
            backend: Backend::SecretService.name(),
        };
        let text = err.to_string();
        assert!(
            text.contains("Secret Service") && text.contains("Unlock"),
            "{text}"
        );
    }
}
