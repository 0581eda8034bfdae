//! `mws auth …`: credentials in the OS keyring, one function per command.
//!
//! The non-secret part of a profile (token id, server URL) stays in the
//! Modal config file, where the official client also finds it; only
//! `token_secret` moves (the file edits are `modal_config`'s). Each command
//! answers with an [`AuthReport`] that never carries a secret.

use crate::config::{self, ConfigError, Identity, SecretSource};
use crate::error::Error;
use crate::files::off_worker;
use crate::modal_config;
use crate::secrets::Keyring;
use crate::state::Daemon;
use crate::upstream::Upstream;
use mws_ipc::{AuthCommand, AuthProfile, AuthReport, Secret, Selection};
use std::path::Path;

pub(super) async fn handle(
    daemon: &Daemon,
    selection: &Selection,
    command: AuthCommand,
) -> Result<AuthReport, Error> {
    match command {
        AuthCommand::Set {
            token_id,
            server_url,
            secret,
            verify,
        } => set(daemon, selection, token_id, server_url, secret, verify).await,
        AuthCommand::Import { all, scrub } => import(daemon, selection, all, scrub).await,
        AuthCommand::List => list(daemon, selection).await,
        AuthCommand::Remove => remove(daemon, selection).await,
        AuthCommand::Check => check(daemon, selection).await,
    }
}

/// Runs `work` on the Modal config file off the runtime's workers (it reads
/// or edits the file; a slow file system holds up this request only).
async fn on_file<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce(&Path) -> T + Send + 'static,
) -> T {
    let path = path.to_owned();
    off_worker(move || work(&path)).await
}

/// The profile name the selection points at (reads the file when neither
/// `--profile` nor `MODAL_PROFILE` names one).
async fn selected_profile_name(selection: &Selection) -> Result<String, ConfigError> {
    let selection = selection.clone();
    off_worker(move || config::selected_profile_name(&selection)).await
}

fn report(
    daemon: &Daemon,
    path: &Path,
    profiles: Vec<AuthProfile>,
    notes: Vec<String>,
) -> AuthReport {
    AuthReport {
        profiles,
        backend: daemon.credentials.backend_name().to_string(),
        config_path: path.display().to_string(),
        notes,
    }
}

/// Checks a credential against its server (uncached): the workspace name.
async fn verify(daemon: &Daemon, identity: &Identity) -> Result<String, Error> {
    let upstream = Upstream::new(identity, &daemon.upstream_settings)?;
    Ok(upstream.workspace_name_lookup().await?.workspace_name)
}

/// `mws auth set`: stores a secret (checked first unless `verify` is false)
/// and points the profile at it.
async fn set(
    daemon: &Daemon,
    selection: &Selection,
    token_id: String,
    server_url: Option<String>,
    secret: Secret,
    verify_first: bool,
) -> Result<AuthReport, Error> {
    let path = config::config_path(selection);
    let profile_name = selected_profile_name(selection).await?;
    if !token_id.starts_with(mws_modal_api::prefixes::API_TOKEN_ID) {
        return Err(Error::BadRequest(format!("Token id '{token_id}' is not an API token id (they start with ak-; proxy tokens wk-… cannot be used here)")));
    }
    if !secret
        .expose()
        .starts_with(mws_modal_api::prefixes::API_TOKEN_SECRET)
    {
        return Err(Error::BadRequest(
            "The secret is not an API token secret (they start with as-)".into(),
        ));
    }
    let existing = on_file(&path, config::summarize)
        .await?
        .into_iter()
        .find(|p| p.name == profile_name);
    let url = server_url
        .clone()
        .or_else(|| selection.server_url.clone().filter(|u| !u.is_empty()))
        .or(existing.map(|p| p.server_url))
        .unwrap_or_else(|| config::DEFAULT_SERVER_URL.to_string());
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::BadServerUrl(url).into());
    }
    let identity = Identity {
        server_url: url.trim_end_matches('/').to_string(),
        token_id: token_id.clone(),
        token_secret: secret.clone(),
        profile: Some(profile_name.clone()),
    };
    let workspace = if verify_first {
        Some(verify(daemon, &identity).await?)
    } else {
        None
    };
    daemon.credentials.keyring()?.set(&token_id, secret).await?;
    daemon.credentials.forget_keyring_secret(&token_id);
    let (name, id) = (profile_name.clone(), token_id.clone());
    on_file(&path, move |path| {
        modal_config::write_profile(path, &name, &id, server_url.as_deref())
    })
    .await?;
    let profile = AuthProfile {
        profile: profile_name,
        token_id,
        server_url: identity.server_url,
        secret_location: "keyring".into(),
        active: true,
        workspace,
        token_info: None,
    };
    Ok(report(daemon, &path, vec![profile], Vec::new()))
}

/// `mws auth import`: copies `token_secret`s from the Modal config file into
/// the keyring; with `scrub`, then removes them from the file.
async fn import(
    daemon: &Daemon,
    selection: &Selection,
    all: bool,
    scrub: bool,
) -> Result<AuthReport, Error> {
    let path = config::config_path(selection);
    let profile_name = selected_profile_name(selection).await?;
    let keyring = daemon.credentials.keyring()?;
    let table = on_file(&path, modal_config::read_table).await?;
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
            .set(token_id, Secret::new(secret.to_string()))
            .await?;
        daemon.credentials.forget_keyring_secret(token_id);
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
        return Err(ConfigError::UnknownProfile {
            profile: profile_name,
            path: path.display().to_string(),
        }
        .into());
    }
    if scrub && !imported.is_empty() {
        let names: Vec<String> = imported.iter().map(|p| p.profile.clone()).collect();
        let scrubbed = names.clone();
        on_file(&path, move |path| {
            modal_config::scrub_secrets(path, &scrubbed)
        })
        .await?;
        notes.push(format!(
            "Removed token_secret from {} for {}. The official Python client (`modal`) will now need MODAL_TOKEN_SECRET for these profiles.",
            path.display(),
            names.join(", ")
        ));
    }
    Ok(report(daemon, &path, imported, notes))
}

/// `mws auth remove`: deletes the selected profile's secret from the keyring.
async fn remove(daemon: &Daemon, selection: &Selection) -> Result<AuthReport, Error> {
    let path = config::config_path(selection);
    let profile_name = selected_profile_name(selection).await?;
    let keyring = daemon.credentials.keyring()?;
    let summary = on_file(&path, config::summarize)
        .await?
        .into_iter()
        .find(|p| p.name == profile_name);
    let Some(token_id) = summary.as_ref().and_then(|s| s.token_id.clone()) else {
        return Err(ConfigError::UnknownProfile {
            profile: profile_name,
            path: path.display().to_string(),
        }
        .into());
    };
    let found = keyring.delete(&token_id).await?;
    daemon.credentials.forget_keyring_secret(&token_id);
    if !found {
        return Err(Error::Credentials(format!(
            "No secret for '{token_id}' (profile '{profile_name}') in the keyring ({}).",
            keyring.backend_name()
        )));
    }
    let mut notes = Vec::new();
    if summary.map(|s| s.has_file_secret).unwrap_or(false) {
        notes.push(format!(
            "Profile '{profile_name}' still has a token_secret in {}.",
            path.display()
        ));
    }
    let profile = AuthProfile {
        profile: profile_name,
        token_id,
        secret_location: "removed".into(),
        ..Default::default()
    };
    Ok(report(daemon, &path, vec![profile], notes))
}

/// `mws auth check`: asks the server whether the selected credential works.
async fn check(daemon: &Daemon, selection: &Selection) -> Result<AuthReport, Error> {
    let path = config::config_path(selection);
    let identity = daemon.resolve(selection).await?;
    let workspace = verify(daemon, &identity).await?;
    // What the server says of the credential (name, owner, expiry); a
    // server that does not know TokenInfoGet still passed the check.
    let token_info = match daemon.session_for(&identity) {
        Ok(session) => session.credential_info().await,
        Err(_) => None,
    };
    let profile = AuthProfile {
        profile: identity.profile.clone().unwrap_or_default(),
        token_id: identity.token_id.clone(),
        server_url: identity.server_url.clone(),
        secret_location: String::new(),
        active: true,
        workspace: Some(workspace),
        token_info,
    };
    let mut report = report(daemon, &path, vec![profile], Vec::new());
    if daemon.credentials.keyring().is_err() {
        report.backend = String::new();
    }
    Ok(report)
}

/// Where a profile's secret lives, for `auth list`.
async fn locate(
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

/// `mws auth list`: the profiles of the selection's config file and where
/// each one's secret lives.
async fn list(daemon: &Daemon, selection: &Selection) -> Result<AuthReport, Error> {
    let keyring = daemon.credentials.keyring().ok();
    let path = config::config_path(selection);
    let summaries = on_file(&path, config::summarize).await?;
    let selected = selected_profile_name(selection).await.unwrap_or_default();
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
        backend: daemon.credentials.backend_name().to_string(),
        config_path: path.display().to_string(),
        notes: Vec::new(),
    })
}
