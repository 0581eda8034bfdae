//! Which credentials a request runs as.
//!
//! The CLI sends what it saw (`--profile`, `MODAL_*` variables, HOME); this
//! module applies the official Modal client's rules to it, so that `mws` and
//! `modal` pick the same identity from the same environment:
//!
//! 1. the config file is `MODAL_CONFIG_PATH`, else `~/.modal.toml`; each
//!    top-level table is a profile;
//! 2. the profile is `--profile`, else `MODAL_PROFILE`, else the one with
//!    `active = true`, else `default` (more than one active profile is an
//!    error, and so is "several profiles, none active");
//! 3. `MODAL_TOKEN_ID`, `MODAL_TOKEN_SECRET`, `MODAL_SERVER_URL` and
//!    `MODAL_ENVIRONMENT` override the profile's values.
//!
//! The profile name `local` is built in (the embedded emulator) unless the
//! config file defines a profile of that name; environment variables do not
//! override the built-in profile's credentials.

use mws_ipc::{Secret, Selection};
use std::path::{Path, PathBuf};

/// Where Modal's API lives when nothing says otherwise.
pub const DEFAULT_SERVER_URL: &str = "https://api.modal.com";
/// The built-in profile that runs the embedded emulator.
pub const LOCAL_PROFILE: &str = "local";

/// Credentials and settings resolved for one request.
#[derive(Debug, Clone)]
pub struct Identity {
    pub server_url: String,
    pub token_id: String,
    pub token_secret: Secret,
    /// Profile the values came from (for messages), if any.
    pub profile: Option<String>,
}

/// What a selection resolves to.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// A real (or user-configured) Modal server; the secret is chosen by
    /// the daemon ([`Candidate::into_identity`]).
    Remote(Candidate),
    /// The built-in `local` profile: the daemon's embedded emulator.
    Local,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("Could not read the Modal config file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("Invalid Modal config file {path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("More than one Modal profile is active. Please fix by editing your Modal config file ({0}).")]
    SeveralActive(String),
    #[error("No Modal profile is active. Please fix by choosing one with --profile or MODAL_PROFILE, or by editing your Modal config file ({0}).")]
    NoneActive(String),
    #[error("Modal profile '{profile}' was not found in {path}. Use --profile with one of its profiles, or `--profile local` for the embedded emulator.")]
    UnknownProfile { profile: String, path: String },
    #[error("Token missing. Could not authenticate client. Log in with `mws auth set --token-id ak-…` (the secret goes to the OS keyring), set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET, or add a profile to {0}; or try `mws --profile local …` for the embedded emulator.")]
    TokenMissing(String),
    #[error("Token secret for '{token_id}' (profile '{profile}') is not in MODAL_TOKEN_SECRET, the keyring, or {path}. Run `mws auth set --profile {profile} --token-id {token_id}`, or set MODAL_TOKEN_SECRET.")]
    SecretMissing {
        token_id: String,
        profile: String,
        path: String,
    },
    #[error("Invalid server URL '{0}': it must start with http:// or https://")]
    BadServerUrl(String),
}

impl ConfigError {
    /// True when the problem is missing credentials rather than a bad file.
    pub fn is_credentials(&self) -> bool {
        matches!(
            self,
            ConfigError::TokenMissing(_) | ConfigError::SecretMissing { .. }
        )
    }
}

/// One profile table of the config file.
#[derive(Debug, Default, Clone)]
struct Profile {
    token_id: Option<String>,
    token_secret: Option<Secret>,
    server_url: Option<String>,
    active: bool,
}

/// The config file path a selection points at.
pub fn config_path(selection: &Selection) -> PathBuf {
    if let Some(path) = selection.config_path.as_deref().filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let home = selection
        .home
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".to_string());
    PathBuf::from(home).join(".modal.toml")
}

/// Reads the profiles of a config file; a missing file has none. Only a
/// regular file of at most 1 MiB is read. Blocks on the file system (from
/// async code, call it off the runtime's workers).
fn read_profiles(path: &Path) -> Result<Vec<(String, Profile)>, ConfigError> {
    let shown = path.display().to_string();
    let text = match crate::files::read_text(path, crate::files::CONFIG_CAP) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => {
            return Err(ConfigError::Unreadable {
                path: shown,
                reason: e.to_string(),
            })
        }
    };
    parse_profiles(&text).map_err(|reason| ConfigError::Invalid {
        path: shown,
        reason,
    })
}

/// Parses the profiles of a config file's text; the error is one line.
fn parse_profiles(text: &str) -> Result<Vec<(String, Profile)>, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().replace('\n', " "))?;
    let mut profiles = Vec::new();
    for (name, value) in table {
        let Some(values) = value.as_table() else {
            continue;
        };
        let string = |key: &str| -> Result<Option<String>, String> {
            match values.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("profile '{name}': `{key}` must be a string")),
            }
        };
        let active = match values.get("active") {
            None => false,
            Some(toml::Value::Boolean(b)) => *b,
            Some(_) => return Err(format!("profile '{name}': `active` must be true or false")),
        };
        profiles.push((
            name.clone(),
            Profile {
                token_id: string("token_id")?,
                token_secret: string("token_secret")?.map(Secret::new),
                server_url: string("server_url")?,
                active,
            },
        ));
    }
    Ok(profiles)
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.is_empty())
}

/// Identifies a version of a file cheaply: (mtime in ns, size, inode).
type Fingerprint = Option<(i128, u64, u64)>;

fn fingerprint(path: &Path) -> Fingerprint {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((
        meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
        meta.size(),
        meta.ino(),
    ))
}

struct Entry {
    fingerprint: Fingerprint,
    /// The fingerprint of the file the kept profiles came from; `None` when
    /// they came from no file (it did not exist).
    fingerprint_of_profiles: Fingerprint,
    /// The last profiles that parsed (kept when a later edit does not).
    profiles: Option<Vec<(String, Profile)>>,
    /// Why the current version of the file is not usable, if it is not.
    error: Option<ConfigError>,
}

/// The Modal config files the daemon has seen, parsed once per version.
///
/// A request stats its config file (cheap) and re-reads it only when it
/// changed, so an edit is honoured by the very next call. When an edit does
/// not parse, the last good profiles stay in use and the error is reported by
/// [`ProfileStore::errors`] (shown in `mws daemon status`).
#[derive(Default)]
pub struct ProfileStore {
    entries: std::sync::Mutex<std::collections::HashMap<PathBuf, Entry>>,
}

/// What a reload changed, for dropping sessions of changed identities.
#[derive(Debug, Default)]
pub struct Reload {
    /// `(server_url, token_id)` pairs whose profile changed or vanished.
    pub changed_identities: Vec<(String, String)>,
}

fn identities_of(profiles: &[(String, Profile)]) -> Vec<(String, String, String)> {
    profiles
        .iter()
        .filter_map(|(_, p)| {
            let id = p.token_id.clone()?;
            let url = p
                .server_url
                .clone()
                .unwrap_or_else(|| DEFAULT_SERVER_URL.to_string())
                .trim_end_matches('/')
                .to_string();
            let secret = p
                .token_secret
                .as_ref()
                .map(|s| s.expose().to_string())
                .unwrap_or_default();
            Some((url, id, secret))
        })
        .collect()
}

impl ProfileStore {
    /// (Re)loads `path` if it changed since last seen. Returns what changed,
    /// and whether the path is new to the store. Blocks on the file system
    /// (call it off the runtime's workers); the store's lock is never held
    /// while a file is read, so `errors` answers whatever a read is stuck on.
    pub fn refresh(&self, path: &Path) -> (Reload, bool) {
        let current = fingerprint(path);
        let is_new = {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            match entries.get(path) {
                Some(entry) if entry.fingerprint == current => return (Reload::default(), false),
                Some(_) => false,
                None => true,
            }
        };
        let loaded = read_profiles(path);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.entry(path.to_owned()).or_insert(Entry {
            fingerprint: None,
            fingerprint_of_profiles: None,
            profiles: None,
            error: None,
        });
        entry.fingerprint = current;
        let mut reload = Reload::default();
        match loaded {
            Ok(profiles) => {
                entry.fingerprint_of_profiles = current;
                if let Some(old) = &entry.profiles {
                    let new_ids = identities_of(&profiles);
                    for old_id in identities_of(old) {
                        if !new_ids.contains(&old_id) {
                            reload.changed_identities.push((old_id.0, old_id.1));
                        }
                    }
                }
                entry.profiles = Some(profiles);
                entry.error = None;
            }
            Err(e) => {
                if entry.fingerprint_of_profiles.is_some() {
                    tracing::warn!("{e}; keeping the last good version");
                } else {
                    // The last "good" version was no file at all: nothing
                    // worth keeping, so calls report the error.
                    entry.profiles = None;
                }
                entry.error = Some(e);
            }
        }
        (reload, is_new)
    }

    /// Resolves a selection against the cached version of its config file.
    /// Returns the resolution and whether the file was new to the store.
    /// Blocks on the file system, like [`ProfileStore::refresh`].
    pub fn resolve(&self, selection: &Selection) -> (Result<Resolved, ConfigError>, bool) {
        let path = config_path(selection);
        let (_, is_new) = self.refresh(&path);
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let result = match entries.get(&path).map(|e| (&e.profiles, &e.error)) {
            Some((Some(profiles), _)) => resolve_with(selection, &path, profiles),
            Some((None, Some(error))) => Err(error.clone()),
            Some((None, None)) | None => resolve_with(selection, &path, &[]),
        };
        (result, is_new)
    }

    /// Problems with config files whose last good version is in use.
    pub fn errors(&self) -> Vec<String> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut errors: Vec<String> = entries
            .values()
            .filter_map(|e| e.error.as_ref().map(|e| e.to_string()))
            .collect();
        errors.sort();
        errors
    }

    /// Every config file path seen so far.
    pub fn paths(&self) -> Vec<PathBuf> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.keys().cloned().collect()
    }
}

fn resolve_with(
    selection: &Selection,
    path: &Path,
    profiles: &[(String, Profile)],
) -> Result<Resolved, ConfigError> {
    let shown = path.display().to_string();

    let explicit = non_empty(&selection.profile).or_else(|| non_empty(&selection.env_profile));
    let active: Vec<&String> = profiles
        .iter()
        .filter(|(_, p)| p.active)
        .map(|(n, _)| n)
        .collect();
    if active.len() > 1 {
        return Err(ConfigError::SeveralActive(shown));
    }
    let name = match &explicit {
        Some(name) => name.clone(),
        None => match active.first() {
            Some(name) => (*name).clone(),
            None => "default".to_string(),
        },
    };
    // The official client's check: several profiles, none active, and
    // the default one asked for (also when a [default] table exists).
    if profiles.len() > 1 && active.is_empty() && name == "default" {
        return Err(ConfigError::NoneActive(shown));
    }
    let profile = profiles.iter().find(|(n, _)| *n == name).map(|(_, p)| p);

    if name == LOCAL_PROFILE && profile.is_none() {
        return Ok(Resolved::Local);
    }
    // A profile that is not in the file only matters when the environment
    // does not hold the credentials itself (then the official client would
    // say "token missing"; we name the profile instead).
    if explicit.is_some() && profile.is_none() && non_empty(&selection.token_id).is_none() {
        return Err(ConfigError::UnknownProfile {
            profile: name,
            path: shown,
        });
    }

    let profile = profile.cloned().unwrap_or_default();
    let token_id = non_empty(&selection.token_id).or(profile.token_id.filter(|t| !t.is_empty()));
    let server_url = non_empty(&selection.server_url)
        .or(profile.server_url)
        .unwrap_or_else(|| DEFAULT_SERVER_URL.to_string());
    if !(server_url.starts_with("http://") || server_url.starts_with("https://")) {
        return Err(ConfigError::BadServerUrl(server_url));
    }
    let Some(token_id) = token_id else {
        return Err(ConfigError::TokenMissing(shown));
    };
    Ok(Resolved::Remote(Candidate {
        server_url: server_url.trim_end_matches('/').to_string(),
        token_id,
        env_secret: selection.token_secret.clone().filter(|s| !s.is_empty()),
        file_secret: profile.token_secret.filter(|s| !s.is_empty()),
        profile: name,
        config_path: shown,
    }))
}

/// An identity whose secret is still to be chosen: the daemon looks in the
/// keyring between the environment and the file.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub server_url: String,
    pub token_id: String,
    /// `MODAL_TOKEN_SECRET`, if set.
    pub env_secret: Option<Secret>,
    /// `token_secret` in the profile, if still there.
    pub file_secret: Option<Secret>,
    pub profile: String,
    pub config_path: String,
}

/// Where a secret came from (never the secret itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    Environment,
    Keyring,
    File,
}

impl SecretSource {
    pub fn name(self) -> &'static str {
        match self {
            SecretSource::Environment => "environment",
            SecretSource::Keyring => "keyring",
            SecretSource::File => "file",
        }
    }
}

impl Candidate {
    /// Whether the keyring needs asking (no secret in the environment).
    pub fn needs_keyring(&self) -> bool {
        self.env_secret.is_none()
    }

    /// Picks the secret: environment, then keyring, then file.
    pub fn into_identity(
        self,
        keyring_secret: Option<Secret>,
    ) -> Result<(Identity, SecretSource), ConfigError> {
        let (secret, source) = if let Some(s) = self.env_secret {
            (s, SecretSource::Environment)
        } else if let Some(s) = keyring_secret {
            (s, SecretSource::Keyring)
        } else if let Some(s) = self.file_secret {
            (s, SecretSource::File)
        } else {
            return Err(ConfigError::SecretMissing {
                token_id: self.token_id,
                profile: self.profile,
                path: self.config_path,
            });
        };
        Ok((
            Identity {
                server_url: self.server_url,
                token_id: self.token_id,
                token_secret: secret,
                profile: Some(self.profile),
            },
            source,
        ))
    }
}

/// A profile as `mws auth list` shows it (never the secret).
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSummary {
    pub name: String,
    pub token_id: Option<String>,
    pub server_url: String,
    pub has_file_secret: bool,
    pub active: bool,
}

/// The profiles of a config file, for `mws auth`.
pub fn summarize(path: &Path) -> Result<Vec<ProfileSummary>, ConfigError> {
    Ok(read_profiles(path)?
        .into_iter()
        .map(|(name, p)| ProfileSummary {
            name,
            token_id: p.token_id,
            server_url: p
                .server_url
                .unwrap_or_else(|| DEFAULT_SERVER_URL.to_string()),
            has_file_secret: p.token_secret.map(|s| !s.is_empty()).unwrap_or(false),
            active: p.active,
        })
        .collect())
}

/// The profile name a selection points at (`--profile`, `MODAL_PROFILE`,
/// the active one, else `default`), for commands that write a profile.
pub fn selected_profile_name(selection: &Selection) -> Result<String, ConfigError> {
    if let Some(name) = non_empty(&selection.profile).or_else(|| non_empty(&selection.env_profile))
    {
        return Ok(name);
    }
    let path = config_path(selection);
    let profiles = read_profiles(&path)?;
    Ok(profiles
        .iter()
        .find(|(_, p)| p.active)
        .map(|(n, _)| n.clone())
        .unwrap_or_else(|| "default".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resolves without the store's caching.
    fn resolve(selection: &Selection) -> Result<Resolved, ConfigError> {
        let path = config_path(selection);
        let profiles = read_profiles(&path)?;
        resolve_with(selection, &path, &profiles)
    }

    fn selection_with_file(text: &str) -> (tempfile::TempDir, Selection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("modal.toml");
        std::fs::write(&path, text).unwrap();
        let selection = Selection {
            config_path: Some(path.display().to_string()),
            ..Default::default()
        };
        (dir, selection)
    }

    fn remote(r: Resolved) -> Identity {
        match r {
            Resolved::Remote(c) => c.into_identity(None).unwrap().0,
            Resolved::Local => panic!("expected a remote identity"),
        }
    }

    const TWO_PROFILES: &str = r#"
[work]
token_id = "ak-work"
token_secret = "as-work"
active = true

[play]
token_id = "ak-play"
token_secret = "as-play"
server_url = "http://127.0.0.1:1234/"
"#;

    #[test]
    fn active_profile_is_used() {
        let (_d, sel) = selection_with_file(TWO_PROFILES);
        let id = remote(resolve(&sel).unwrap());
        assert_eq!(id.token_id, "ak-work");
        assert_eq!(id.server_url, DEFAULT_SERVER_URL);
    }

    #[test]
    fn explicit_profile_wins_over_env_profile_and_active() {
        let (_d, mut sel) = selection_with_file(TWO_PROFILES);
        sel.env_profile = Some("work".into());
        sel.profile = Some("play".into());
        let id = remote(resolve(&sel).unwrap());
        assert_eq!(id.token_id, "ak-play");
        assert_eq!(id.server_url, "http://127.0.0.1:1234");
    }

    #[test]
    fn env_vars_override_profile_values() {
        let (_d, mut sel) = selection_with_file(TWO_PROFILES);
        sel.token_id = Some("ak-env".into());
        sel.token_secret = Some(Secret::new("as-env".into()));
        let id = remote(resolve(&sel).unwrap());
        assert_eq!(id.token_id, "ak-env");
        assert_eq!(id.token_secret.expose(), "as-env");
    }

    #[test]
    fn two_active_profiles_are_an_error() {
        let (_d, sel) = selection_with_file("[a]\nactive = true\n[b]\nactive = true\n");
        assert!(matches!(resolve(&sel), Err(ConfigError::SeveralActive(_))));
    }

    #[test]
    fn several_profiles_none_active_is_an_error() {
        let (_d, sel) = selection_with_file("[a]\ntoken_id='ak-a'\n[b]\ntoken_id='ak-b'\n");
        assert!(matches!(resolve(&sel), Err(ConfigError::NoneActive(_))));
    }

    #[test]
    fn unknown_explicit_profile_is_an_error() {
        let (_d, mut sel) = selection_with_file(TWO_PROFILES);
        sel.profile = Some("nope".into());
        assert!(matches!(
            resolve(&sel),
            Err(ConfigError::UnknownProfile { .. })
        ));
    }

    #[test]
    fn credentials_in_the_environment_win_over_an_unknown_profile() {
        let (_d, mut sel) = selection_with_file(TWO_PROFILES);
        sel.env_profile = Some("nope".into());
        sel.token_id = Some("ak-env".into());
        sel.token_secret = Some(Secret::new("as-env".into()));
        assert_eq!(remote(resolve(&sel).unwrap()).token_id, "ak-env");
    }

    #[test]
    fn several_profiles_none_active_is_an_error_even_with_a_default_table() {
        let (_d, sel) = selection_with_file("[default]\ntoken_id='ak-d'\n[b]\ntoken_id='ak-b'\n");
        assert!(matches!(resolve(&sel), Err(ConfigError::NoneActive(_))));
    }

    #[test]
    fn local_is_built_in_unless_defined() {
        let (_d, mut sel) = selection_with_file(TWO_PROFILES);
        sel.profile = Some("local".into());
        assert!(matches!(resolve(&sel), Ok(Resolved::Local)));
        let (_d, mut sel) = selection_with_file("[local]\ntoken_id='ak-l'\ntoken_secret='as-l'\n");
        sel.profile = Some("local".into());
        assert_eq!(remote(resolve(&sel).unwrap()).token_id, "ak-l");
    }

    #[test]
    fn nothing_configured_says_token_missing() {
        let sel = Selection {
            config_path: Some("/nonexistent/modal.toml".into()),
            ..Default::default()
        };
        let err = resolve(&sel).unwrap_err();
        assert!(err.is_credentials());
        assert!(err.to_string().contains("--profile local"), "{err}");
    }

    #[test]
    fn store_keeps_last_good_profiles_and_reports_changes() {
        let (dir, sel) = selection_with_file(TWO_PROFILES);
        let path = dir.path().join("modal.toml");
        let store = ProfileStore::default();
        let (resolved, is_new) = store.resolve(&sel);
        assert!(is_new);
        assert_eq!(remote(resolved.unwrap()).token_id, "ak-work");

        // Garbage: the last good profiles stay in use, the error is reported.
        std::fs::write(&path, "[[[ nope").unwrap();
        let (resolved, is_new) = store.resolve(&sel);
        assert!(!is_new);
        assert_eq!(remote(resolved.unwrap()).token_id, "ak-work");
        assert_eq!(store.errors().len(), 1);

        // A rotated secret: the old identity is reported as changed.
        std::fs::write(&path, TWO_PROFILES.replace("as-work", "as-work2")).unwrap();
        let (reload, _) = store.refresh(&path);
        assert_eq!(
            reload.changed_identities,
            vec![(DEFAULT_SERVER_URL.to_string(), "ak-work".to_string())]
        );
        let (resolved, _) = store.resolve(&sel);
        assert_eq!(remote(resolved.unwrap()).token_secret.expose(), "as-work2");
        assert!(store.errors().is_empty());
    }

    #[test]
    fn garbage_written_where_there_was_no_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("modal.toml");
        let selection = Selection {
            config_path: Some(path.display().to_string()),
            ..Default::default()
        };
        let store = ProfileStore::default();
        assert!(matches!(
            store.resolve(&selection).0,
            Err(ConfigError::TokenMissing(_))
        ));
        std::fs::write(&path, "[[[ nope").unwrap();
        assert!(matches!(
            store.resolve(&selection).0,
            Err(ConfigError::Invalid { .. })
        ));
    }

    #[test]
    fn garbage_file_is_a_one_line_error() {
        let (_d, sel) = selection_with_file("[[[ not toml");
        let err = resolve(&sel).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { .. }));
        assert!(!err.to_string().contains('\n'), "{err}");
    }

    #[test]
    fn keyring_secret_sits_between_environment_and_file() {
        let (_d, mut sel) = selection_with_file(TWO_PROFILES);
        let Resolved::Remote(candidate) = resolve(&sel).unwrap() else {
            panic!("remote expected")
        };
        let (id, source) = candidate
            .clone()
            .into_identity(Some(Secret::new("as-keyring".into())))
            .unwrap();
        assert_eq!(
            (id.token_secret.expose(), source),
            ("as-keyring", SecretSource::Keyring)
        );
        let (id, source) = candidate.into_identity(None).unwrap();
        assert_eq!(
            (id.token_secret.expose(), source),
            ("as-work", SecretSource::File)
        );
        sel.token_secret = Some(Secret::new("as-env".into()));
        let Resolved::Remote(candidate) = resolve(&sel).unwrap() else {
            panic!("remote expected")
        };
        assert!(!candidate.needs_keyring());
        let (_, source) = candidate
            .into_identity(Some(Secret::new("as-k".into())))
            .unwrap();
        assert_eq!(source, SecretSource::Environment);
    }

    #[test]
    fn secret_missing_names_the_profile_but_not_a_secret() {
        let (_d, sel) = selection_with_file("[w]\ntoken_id='ak-w'\nactive=true\n");
        let err = match resolve(&sel).unwrap() {
            Resolved::Remote(c) => c.into_identity(None).unwrap_err(),
            Resolved::Local => panic!("remote expected"),
        };
        assert!(matches!(err, ConfigError::SecretMissing { .. }));
        assert!(err.to_string().contains("'w'"));
    }
}
