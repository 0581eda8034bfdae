//! `mws auth …`: moving API secrets out of `~/.modal.toml` into the keyring.
//!
//! The non-secret part of a profile (token id, server URL) stays in the Modal
//! config file, where the official client also finds it; only `token_secret`
//! moves. Edits to that file are format-preserving (toml_edit: comments,
//! order and unrelated keys survive) and atomic (a temporary file in the same
//! folder, fsync, rename), so a crash never leaves a half-written config.

use crate::config::{self, ConfigError, Identity, SecretSource};
use crate::secrets::Keyring;
use crate::server::Daemon;
use crate::upstream::Upstream;
use mws_ipc::{AuthProfile, AuthReport, ErrorKind, ErrorReply, Selection};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

fn reply(kind: ErrorKind, message: impl Into<String>) -> ErrorReply {
    ErrorReply {
        kind,
        message: message.into(),
    }
}

fn config_error(e: ConfigError) -> ErrorReply {
    reply(ErrorKind::Config, e.to_string())
}

/// Reads the config file as an editable document (a missing file is empty).
pub fn read_document(path: &Path) -> Result<toml_edit::DocumentMut, ErrorReply> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(reply(
                ErrorKind::Config,
                format!("Could not read {}: {e}", path.display()),
            ))
        }
    };
    text.parse::<toml_edit::DocumentMut>().map_err(|e| {
        reply(
            ErrorKind::Config,
            format!(
                "Invalid Modal config file {}: {}",
                path.display(),
                e.message().replace('\n', " ")
            ),
        )
    })
}

/// Replaces `path` with `contents` atomically, keeping its permissions
/// (0600 for a new file).
pub fn write_atomically(path: &Path, contents: &str) -> Result<(), ErrorReply> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |what: &str, e: std::io::Error| {
        reply(
            ErrorKind::Config,
            format!("Could not {what} {}: {e}", path.display()),
        )
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| fail("create the folder of", e))?;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0o600);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    let tmp = dir.join(format!(".{name}.mws-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail("write", e));
    }
    Ok(())
}

/// Sets `[profile] token_id` (and `server_url`) and removes any
/// `token_secret` there: the secret now lives in the keyring. Marks the
/// profile active when no profile is.
pub fn write_profile(
    path: &Path,
    profile: &str,
    token_id: &str,
    server_url: Option<&str>,
) -> Result<(), ErrorReply> {
    let mut doc = read_document(path)?;
    let any_active = doc.iter().any(|(_, item)| {
        item.get("active")
            .and_then(|a| a.as_bool())
            .unwrap_or(false)
    });
    if !doc.contains_key(profile) {
        doc[profile] = toml_edit::table();
    }
    let Some(table) = doc[profile].as_table_like_mut() else {
        return Err(reply(
            ErrorKind::Config,
            format!("'{profile}' in {} is not a table", path.display()),
        ));
    };
    table.insert("token_id", toml_edit::value(token_id));
    if let Some(url) = server_url {
        table.insert("server_url", toml_edit::value(url));
    }
    table.remove("token_secret");
    if !any_active {
        table.insert("active", toml_edit::value(true));
    }
    write_atomically(path, &doc.to_string())
}

/// Removes `token_secret` from the named profiles; everything else stays.
pub fn scrub_secrets(path: &Path, profiles: &[String]) -> Result<(), ErrorReply> {
    let mut doc = read_document(path)?;
    for name in profiles {
        if let Some(table) = doc.get_mut(name).and_then(|t| t.as_table_like_mut()) {
            table.remove("token_secret");
        }
    }
    write_atomically(path, &doc.to_string())
}

/// Where a profile's secret lives, for `auth list`.
pub async fn locate(
    keyring: Option<&Keyring>,
    selection: &Selection,
    summary: &config::ProfileSummary,
    selected: &str,
) -> String {
    let Some(token_id) = &summary.token_id else {
        return "missing".into();
    };
    let env = summary.name == selected
        && selection
            .token_secret
            .as_ref()
            .map(|s| !s.is_empty())
            .unwrap_or(false);
    let in_keyring = match keyring {
        Some(k) => matches!(k.get(token_id).await, Ok(Some(_))),
        None => false,
    };
    let mut places = Vec::new();
    if env {
        places.push(SecretSource::Environment.name());
    }
    if in_keyring {
        places.push(SecretSource::Keyring.name());
    }
    if summary.has_file_secret {
        places.push(SecretSource::File.name());
    }
    if places.is_empty() {
        "missing".into()
    } else {
        places.join("+")
    }
}

/// The profiles of the selection's config file as `auth list` shows them.
pub async fn list(
    keyring: Option<&Keyring>,
    selection: &Selection,
) -> Result<AuthReport, ErrorReply> {
    let path = config::config_path(selection);
    let summaries = config::summarize(&path).map_err(config_error)?;
    let selected = config::selected_profile_name(selection).unwrap_or_default();
    let mut profiles = Vec::new();
    for summary in &summaries {
        profiles.push(AuthProfile {
            profile: summary.name.clone(),
            token_id: summary.token_id.clone().unwrap_or_default(),
            server_url: summary.server_url.clone(),
            secret_location: locate(keyring, selection, summary, &selected).await,
            active: summary.active,
            workspace: None,
            token_info: None,
        });
    }
    Ok(AuthReport {
        profiles,
        backend: keyring
            .map(|k| k.backend_name())
            .unwrap_or("none")
            .to_string(),
        config_path: path.display().to_string(),
        notes: Vec::new(),
    })
}

impl Daemon {
    pub(crate) fn keyring(&self) -> Result<&crate::secrets::Keyring, ErrorReply> {
        self.keyring.as_ref().map_err(|e| ErrorReply {
            kind: ErrorKind::Credentials,
            message: e.to_string(),
        })
    }

    /// The keyring's secret for a token id, cached in memory.
    pub(crate) async fn keyring_secret(
        &self,
        token_id: &str,
    ) -> Result<Option<mws_ipc::Secret>, crate::secrets::KeyringError> {
        const MISS_TTL: Duration = Duration::from_secs(30);
        if let Some((secret, at)) = self
            .keyring_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token_id)
        {
            if secret.is_some() || at.elapsed() < MISS_TTL {
                return Ok(secret.clone());
            }
        }
        let keyring = self.keyring.as_ref().map_err(Clone::clone)?;
        let secret = keyring.get(token_id).await?;
        self.keyring_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token_id.to_string(), (secret.clone(), Instant::now()));
        Ok(secret)
    }

    fn forget_keyring_secret(&self, token_id: &str) {
        self.keyring_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token_id);
    }

    /// Checks a credential against its server (uncached): the workspace name.
    async fn verify(&self, identity: &Identity) -> Result<String, ErrorReply> {
        let upstream = Upstream::new(identity, &self.upstream_settings)?;
        Ok(upstream.workspace_name_lookup().await?.workspace_name)
    }

    pub(crate) async fn auth(
        &self,
        selection: &Selection,
        command: mws_ipc::AuthCommand,
    ) -> Result<mws_ipc::AuthReport, ErrorReply> {
        use mws_ipc::{AuthCommand, AuthProfile, AuthReport};
        let path = config::config_path(selection);
        let config_error = |e: config::ConfigError| ErrorReply {
            kind: ErrorKind::Config,
            message: e.to_string(),
        };
        let profile_name = config::selected_profile_name(selection).map_err(config_error)?;
        let backend = |k: &crate::secrets::Keyring| k.backend_name().to_string();
        match command {
            AuthCommand::Set {
                token_id,
                server_url,
                secret,
                verify,
            } => {
                if !token_id.starts_with(mws_modal_api::prefixes::API_TOKEN_ID) {
                    return Err(ErrorReply {
                        kind: ErrorKind::BadRequest,
                        message: format!("Token id '{token_id}' is not an API token id (they start with ak-; proxy tokens wk-… cannot be used here)"),
                    });
                }
                if !secret
                    .expose()
                    .starts_with(mws_modal_api::prefixes::API_TOKEN_SECRET)
                {
                    return Err(ErrorReply {
                        kind: ErrorKind::BadRequest,
                        message: "The secret is not an API token secret (they start with as-)"
                            .into(),
                    });
                }
                let existing = config::summarize(&path)
                    .map_err(config_error)?
                    .into_iter()
                    .find(|p| p.name == profile_name);
                let url = server_url
                    .clone()
                    .or_else(|| selection.server_url.clone().filter(|u| !u.is_empty()))
                    .or(existing.map(|p| p.server_url))
                    .unwrap_or_else(|| config::DEFAULT_SERVER_URL.to_string());
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(config_error(config::ConfigError::BadServerUrl(url)));
                }
                let identity = Identity {
                    server_url: url.trim_end_matches('/').to_string(),
                    token_id: token_id.clone(),
                    token_secret: secret.clone(),
                    profile: Some(profile_name.clone()),
                };
                let workspace = if verify {
                    Some(self.verify(&identity).await?)
                } else {
                    None
                };
                let keyring = self.keyring()?;
                keyring
                    .set(&token_id, secret)
                    .await
                    .map_err(|e| ErrorReply {
                        kind: ErrorKind::Credentials,
                        message: e.to_string(),
                    })?;
                self.forget_keyring_secret(&token_id);
                crate::auth::write_profile(&path, &profile_name, &token_id, server_url.as_deref())?;
                Ok(AuthReport {
                    profiles: vec![AuthProfile {
                        profile: profile_name,
                        token_id,
                        server_url: identity.server_url,
                        secret_location: "keyring".into(),
                        active: true,
                        workspace,
                        token_info: None,
                    }],
                    backend: backend(keyring),
                    config_path: path.display().to_string(),
                    notes: Vec::new(),
                })
            }
            AuthCommand::Import { all, scrub } => {
                let keyring = self.keyring()?;
                let text = std::fs::read_to_string(&path).map_err(|e| ErrorReply {
                    kind: ErrorKind::Config,
                    message: format!("Could not read {}: {e}", path.display()),
                })?;
                let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ErrorReply {
                    kind: ErrorKind::Config,
                    message: format!(
                        "Invalid Modal config file {}: {}",
                        path.display(),
                        e.message().replace('\n', " ")
                    ),
                })?;
                let mut imported = Vec::new();
                let mut notes = Vec::new();
                for (name, value) in &table {
                    if !all && *name != profile_name {
                        continue;
                    }
                    let get = |k: &str| value.get(k).and_then(|v| v.as_str()).unwrap_or("");
                    let (token_id, secret) = (get("token_id"), get("token_secret"));
                    if token_id.is_empty() || secret.is_empty() {
                        if !all {
                            notes.push(format!(
                                "Profile '{name}' has no token_secret in {}",
                                path.display()
                            ));
                        }
                        continue;
                    }
                    keyring
                        .set(token_id, mws_ipc::Secret::new(secret.to_string()))
                        .await
                        .map_err(|e| ErrorReply {
                            kind: ErrorKind::Credentials,
                            message: e.to_string(),
                        })?;
                    self.forget_keyring_secret(token_id);
                    imported.push(AuthProfile {
                        profile: name.clone(),
                        token_id: token_id.to_string(),
                        server_url: value
                            .get("server_url")
                            .and_then(|v| v.as_str())
                            .unwrap_or(config::DEFAULT_SERVER_URL)
                            .to_string(),
                        secret_location: if scrub { "keyring" } else { "keyring+file" }.into(),
                        active: value
                            .get("active")
                            .and_then(|v| v.as_bool())
                            .unwrap_or(false),
                        workspace: None,
                        token_info: None,
                    });
                }
                if !all && imported.is_empty() && !table.contains_key(&profile_name) {
                    return Err(config_error(config::ConfigError::UnknownProfile {
                        profile: profile_name,
                        path: path.display().to_string(),
                    }));
                }
                if scrub && !imported.is_empty() {
                    let names: Vec<String> = imported.iter().map(|p| p.profile.clone()).collect();
                    crate::auth::scrub_secrets(&path, &names)?;
                    notes.push(format!(
                        "Removed token_secret from {} for {}. The official Python client (`modal`) will now need MODAL_TOKEN_SECRET for these profiles.",
                        path.display(),
                        names.join(", ")
                    ));
                }
                Ok(AuthReport {
                    profiles: imported,
                    backend: backend(keyring),
                    config_path: path.display().to_string(),
                    notes,
                })
            }
            AuthCommand::List => crate::auth::list(self.keyring.as_ref().ok(), selection).await,
            AuthCommand::Remove => {
                let keyring = self.keyring()?;
                let summary = config::summarize(&path)
                    .map_err(config_error)?
                    .into_iter()
                    .find(|p| p.name == profile_name);
                let Some(token_id) = summary.as_ref().and_then(|s| s.token_id.clone()) else {
                    return Err(config_error(config::ConfigError::UnknownProfile {
                        profile: profile_name,
                        path: path.display().to_string(),
                    }));
                };
                let found = keyring.delete(&token_id).await.map_err(|e| ErrorReply {
                    kind: ErrorKind::Credentials,
                    message: e.to_string(),
                })?;
                self.forget_keyring_secret(&token_id);
                if !found {
                    return Err(ErrorReply {
                        kind: ErrorKind::Credentials,
                        message: format!("No secret for '{token_id}' (profile '{profile_name}') in the keyring ({}).", keyring.backend_name()),
                    });
                }
                let mut notes = Vec::new();
                if summary.map(|s| s.has_file_secret).unwrap_or(false) {
                    notes.push(format!(
                        "Profile '{profile_name}' still has a token_secret in {}.",
                        path.display()
                    ));
                }
                Ok(AuthReport {
                    profiles: vec![AuthProfile {
                        profile: profile_name,
                        token_id,
                        secret_location: "removed".into(),
                        ..Default::default()
                    }],
                    backend: backend(keyring),
                    config_path: path.display().to_string(),
                    notes,
                })
            }
            AuthCommand::Check => {
                let identity = self.resolve(selection).await?;
                let workspace = self.verify(&identity).await?;
                Ok(AuthReport {
                    profiles: vec![AuthProfile {
                        profile: identity.profile.clone().unwrap_or_default(),
                        token_id: identity.token_id.clone(),
                        server_url: identity.server_url.clone(),
                        secret_location: String::new(),
                        active: true,
                        workspace: Some(workspace),
                        token_info: None,
                    }],
                    backend: self
                        .keyring
                        .as_ref()
                        .map(|k| k.backend_name().to_string())
                        .unwrap_or_default(),
                    config_path: path.display().to_string(),
                    notes: Vec::new(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"# my Modal profiles
[work]   # the day job
token_id = "ak-1"
token_secret = "as-1"   # plaintext, for now
active = true
environment = "prod"

[play]
token_id = "ak-2"
token_secret = "as-2"
"#;

    #[test]
    fn scrub_removes_only_secrets_and_keeps_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".modal.toml");
        std::fs::write(&path, CONFIG).unwrap();
        scrub_secrets(&path, &["work".to_string()]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("as-1"), "{text}");
        assert!(text.contains("as-2"));
        assert!(text.contains("# my Modal profiles"));
        assert!(text.contains("# the day job"));
        assert!(text.contains(r#"environment = "prod""#));
    }

    #[test]
    fn write_profile_keeps_permissions_and_drops_the_old_secret() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".modal.toml");
        std::fs::write(&path, CONFIG).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_profile(&path, "play", "ak-3", Some("http://127.0.0.1:9")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#"token_id = "ak-3""#));
        assert!(!text.contains("as-2"));
        assert!(text.contains("as-1"), "other profiles are untouched");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn new_file_gets_an_active_profile_and_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/.modal.toml");
        write_profile(&path, "default", "ak-9", None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("active = true"), "{text}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn garbage_config_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".modal.toml");
        std::fs::write(&path, "[[[").unwrap();
        let err = scrub_secrets(&path, &[]).unwrap_err();
        assert!(
            err.message.contains("Invalid Modal config file"),
            "{}",
            err.message
        );
    }
}
