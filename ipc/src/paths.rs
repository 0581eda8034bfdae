//! Where the daemon's socket lives, and the checks that keep other users out.
//!
//! `$XDG_RUNTIME_DIR/mws/` when that variable is set to an absolute path, else
//! `/tmp/mws-<uid>/` (the XDG spec says a relative path is to be ignored).
//! The folder is created with mode 0700; an existing one is refused if it is a
//! symlink, is owned by another user, or is open to group or others. Anyone who
//! cannot enter the folder cannot reach the socket; the daemon also checks the
//! uid of every peer.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of the daemon's socket inside the runtime folder.
pub const SOCKET_NAME: &str = "mwsd.sock";
/// File name of the start-up lock inside the runtime folder.
pub const LOCK_NAME: &str = "mwsd.lock";

#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("socket folder {0} is a symlink; refusing to use it")]
    Symlink(PathBuf),
    #[error(
        "socket folder {path} is owned by uid {owner}, not by you (uid {me}); refusing to use it"
    )]
    ForeignOwner { path: PathBuf, owner: u32, me: u32 },
    #[error("socket folder {path} has mode {mode:o}; it must be 0700 (run: chmod 700 {path})")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("socket folder {0} exists but is not a folder")]
    NotADirectory(PathBuf),
    #[error("cannot create socket folder {path}: {error}")]
    Create { path: PathBuf, error: io::Error },
}

/// The current user's uid (the one uid helper of mws).
pub fn current_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// The runtime folder for this user, from the given `XDG_RUNTIME_DIR` value;
/// an empty or relative one is ignored.
pub fn runtime_dir_from(xdg_runtime_dir: Option<&str>) -> PathBuf {
    match xdg_runtime_dir {
        Some(dir) if Path::new(dir).is_absolute() => Path::new(dir).join("mws"),
        _ => PathBuf::from(format!("/tmp/mws-{}", current_uid())),
    }
}

/// The runtime folder for this user, from the process environment.
pub fn runtime_dir() -> PathBuf {
    runtime_dir_from(std::env::var("XDG_RUNTIME_DIR").ok().as_deref())
}

/// The user's plugin folder: `$XDG_DATA_HOME/mws/plugins` when that is an
/// absolute path, else `~/.local/share/mws/plugins` (what `mws plugins
/// list` names when it is empty, and where the daemon looks first).
pub fn plugins_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/".into()))
                .join(".local/share")
        })
        .join("mws")
        .join("plugins")
}

/// The socket path inside a runtime folder.
pub fn socket_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(SOCKET_NAME)
}

/// Checks an existing runtime folder: a real folder, ours, mode 0700.
pub fn check_runtime_dir(dir: &Path) -> Result<(), PathError> {
    let meta = fs::symlink_metadata(dir).map_err(|error| PathError::Create {
        path: dir.to_owned(),
        error,
    })?;
    if meta.file_type().is_symlink() {
        return Err(PathError::Symlink(dir.to_owned()));
    }
    if !meta.is_dir() {
        return Err(PathError::NotADirectory(dir.to_owned()));
    }
    let me = current_uid();
    if meta.uid() != me {
        return Err(PathError::ForeignOwner {
            path: dir.to_owned(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(PathError::Permissions {
            path: dir.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Creates the runtime folder (0700) if missing, then checks it.
pub fn ensure_runtime_dir(dir: &Path) -> Result<(), PathError> {
    if let Some(parent) = dir.parent() {
        if !parent.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|error| PathError::Create {
                    path: parent.to_owned(),
                    error,
                })?;
        }
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(error) => {
            return Err(PathError::Create {
                path: dir.to_owned(),
                error,
            })
        }
    }
    check_runtime_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_runtime_dir_is_used_when_set() {
        assert_eq!(
            runtime_dir_from(Some("/run/user/1000")),
            PathBuf::from("/run/user/1000/mws")
        );
        let fallback = runtime_dir_from(None);
        assert!(fallback.starts_with("/tmp"));
        assert!(fallback
            .to_string_lossy()
            .ends_with(&current_uid().to_string()));
        // Empty and relative values are ignored, as the XDG spec says.
        for ignored in ["", "run", "./run", "run/user/1000"] {
            assert_eq!(runtime_dir_from(Some(ignored)), fallback, "{ignored:?}");
        }
    }

    #[test]
    fn creates_private_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run/mws");
        ensure_runtime_dir(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn refuses_symlinked_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fs::DirBuilder::new().mode(0o700).create(&real).unwrap();
        let link = tmp.path().join("mws");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(
            ensure_runtime_dir(&link),
            Err(PathError::Symlink(_))
        ));
    }

    #[test]
    fn refuses_open_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("mws");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let err = ensure_runtime_dir(&dir).unwrap_err();
        assert!(err.to_string().contains("chmod 700"), "{err}");
    }
}
