//! Editing the Modal config file (`~/.modal.toml`, `MODAL_CONFIG_PATH`).
//!
//! `mws auth` moves secrets out of this file into the keyring and writes
//! the non-secret part of a profile (token id, server URL) back, where the
//! official client also finds it. Edits are format-preserving (toml_edit:
//! comments, order and unrelated keys survive) and atomic (a temporary file
//! in the same folder, fsync, rename), so a crash never leaves a
//! half-written config. Reading it to resolve credentials is `config`'s job.
//! Everything here blocks on the file system: handlers call it off the
//! runtime's workers.

use crate::files::{self, FileError};
use std::io::Write;
use std::path::Path;

/// Why the Modal config file could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EditError {
    #[error("Could not read {path}: {source}")]
    Read { path: String, source: FileError },
    #[error("Invalid Modal config file {path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("'{profile}' in {path} is not a table")]
    NotATable { profile: String, path: String },
    #[error("Could not {what} {path}: {source}")]
    Write {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
}

/// Reads the config file's text (a regular file of at most 1 MiB); `None`
/// when there is none.
fn read_text(path: &Path) -> Result<Option<String>, EditError> {
    files::read_text(path, files::CONFIG_CAP).map_err(|source| EditError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Reads the config file as an editable document (a missing file is empty).
pub(crate) fn read_document(path: &Path) -> Result<toml_edit::DocumentMut, EditError> {
    let text = read_text(path)?.unwrap_or_default();
    text.parse::<toml_edit::DocumentMut>()
        .map_err(|e| EditError::Invalid {
            path: path.display().to_string(),
            reason: e.message().replace('\n', " "),
        })
}

/// Reads the config file as plain TOML (for reading values out of it).
pub(crate) fn read_table(path: &Path) -> Result<toml::Table, EditError> {
    let text = read_text(path)?.ok_or_else(|| EditError::Read {
        path: path.display().to_string(),
        source: FileError::NotFound,
    })?;
    text.parse()
        .map_err(|e: toml::de::Error| EditError::Invalid {
            path: path.display().to_string(),
            reason: e.message().replace('\n', " "),
        })
}

/// Replaces `path` with `contents` atomically, keeping its permissions
/// (0600 for a new file).
pub(crate) fn write_atomically(path: &Path, contents: &str) -> Result<(), EditError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |what: &'static str, source: std::io::Error| EditError::Write {
        what,
        path: path.display().to_string(),
        source,
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
pub(crate) fn write_profile(
    path: &Path,
    profile: &str,
    token_id: &str,
    server_url: Option<&str>,
) -> Result<(), EditError> {
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
        return Err(EditError::NotATable {
            profile: profile.to_string(),
            path: path.display().to_string(),
        });
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
pub(crate) fn scrub_secrets(path: &Path, profiles: &[String]) -> Result<(), EditError> {
    let mut doc = read_document(path)?;
    for name in profiles {
        if let Some(table) = doc.get_mut(name).and_then(|t| t.as_table_like_mut()) {
            table.remove("token_secret");
        }
    }
    write_atomically(path, &doc.to_string())
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
    fn a_fifo_or_a_device_is_refused_and_left_alone() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".modal.toml");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &path,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        let err = write_profile(&path, "p", "ak-1", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("FIFO (named pipe), not a regular file"),
            "{err}"
        );
        assert!(std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_fifo());
        let err = read_table(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(err.contains("character device"), "{err}");
    }

    #[test]
    fn garbage_config_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".modal.toml");
        std::fs::write(&path, "[[[").unwrap();
        let err = scrub_secrets(&path, &[]).unwrap_err().to_string();
        assert!(err.contains("Invalid Modal config file"), "{err}");
    }
}
