//! Finding plugin files, and the checks a file must pass before the plugin
//! host may even open it.
//!
//! Folders: `$XDG_DATA_HOME/mws/plugins/` (else `~/.local/share/mws/plugins/`)
//! and those named by `[plugins] dirs` in mws's config file, in that order;
//! then the **bundled** plugins that come with mwsd, so that they work
//! without a manual copy: every file in `<prefix>/lib/mws/plugins/` for an
//! mwsd installed as `<prefix>/bin/mwsd` (what `scripts/install.sh` does),
//! and, for an mwsd run from cargo's `target/<profile>/`, the bundled
//! libraries beside it by name ([`BUNDLED`]; never the other libraries a
//! build leaves there, e.g. the test plugin). A bundled file whose file name
//! a user folder already has is skipped: the user's copy wins. `[plugins]
//! bundled = false` or `MWS_BUNDLED_PLUGINS=0` turns bundled plugins off.
//!
//! Every regular file in a folder that does not start with `.` is a
//! candidate (symlinks are followed; the target is what is checked). A
//! candidate, bundled or not, is refused, with a message naming the rule,
//! when:
//!
//! - its folder or the file is owned by another user (a plugin runs as you);
//! - its folder or the file is writable by group or others (anyone who can
//!   replace it could run code as you);
//! - it is not a shared library (checked from its first bytes, so the host
//!   never `dlopen`s a text file).
//!
//! The ABI checks (entry symbol, version, descriptor) happen in the host.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What identifies one version of a file: a replaced or rewritten file is a
/// new plugin (and leaves quarantine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub mode: u32,
    pub uid: u32,
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            mode: meta.mode(),
            uid: meta.uid(),
        }
    }
}

/// One file found in a plugin folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    pub id: Option<FileId>,
    /// Why it may not be loaded, if it may not.
    pub problem: Option<String>,
}

/// The bundled plugins' file names, as cargo builds them.
pub const BUNDLED: &[&str] = &["libmws_plugin_csv.so", "libmws_plugin_expiry.so"];

/// The folders to search: the default one, then the configured ones.
pub fn dirs(configured: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = vec![mws_ipc::paths::plugins_dir()];
    for dir in configured {
        if !dirs.contains(dir) {
            dirs.push(dir.clone());
        }
    }
    dirs
}

/// True unless `MWS_BUNDLED_PLUGINS` is `0`, `false` or `no`.
pub fn bundled_enabled_by_env() -> bool {
    !matches!(
        std::env::var("MWS_BUNDLED_PLUGINS").as_deref(),
        Ok("0" | "false" | "no")
    )
}

/// Where the plugins bundled with the mwsd at `exe` are: the install
/// prefix's `lib/mws/plugins` folder (all of it), and the named libraries
/// beside the executable (cargo's layout).
pub fn bundled(exe: &Path) -> (Option<PathBuf>, Vec<PathBuf>) {
    let Some(bin) = exe.parent() else {
        return (None, Vec::new());
    };
    let folder = bin
        .parent()
        .map(|prefix| prefix.join("lib").join("mws").join("plugins"))
        .filter(|dir| dir.is_dir());
    let beside = BUNDLED
        .iter()
        .map(|name| bin.join(name))
        .filter(|path| path.is_file())
        .collect();
    (folder, beside)
}

fn me() -> u32 {
    mws_ipc::paths::current_uid()
}

/// The ownership and permission rules, for a folder or a file.
fn check_owner_and_mode(what: &str, path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    let uid = me();
    if meta.uid() != uid {
        return Err(format!(
            "{what} {} is owned by uid {}, not by you (uid {uid})",
            path.display(),
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => "group and others",
            (true, false) => "group",
            _ => "others",
        };
        return Err(format!(
            "{what} {} is writable by {who} (mode {mode:04o}); `chmod go-w` it",
            path.display()
        ));
    }
    Ok(())
}

/// Checks one candidate file (ownership, mode, library header).
pub fn check_file(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    check_owner_and_mode("file", path, meta)?;
    mws_plugin_api::host::check_library_file(path).map_err(|e| e.to_string())
}

/// Lists the candidates of every folder, in folder order then by name,
/// then the bundled ones (`folder`'s files and the `beside` files) whose
/// file name no earlier folder has. Only metadata is read; [`check_file`]
/// is run for files that changed.
pub fn scan(
    dirs: &[PathBuf],
    (folder, beside): (Option<PathBuf>, Vec<PathBuf>),
) -> Vec<(Candidate, Option<std::fs::Metadata>)> {
    let mut found = scan_folders(dirs);
    let mut bundled = folder.map(|dir| scan_folders(&[dir])).unwrap_or_default();
    for path in beside {
        let Some(dir) = path.parent() else { continue };
        let (Ok(dir_meta), Ok(meta)) = (std::fs::metadata(dir), std::fs::metadata(&path)) else {
            continue;
        };
        bundled.push((
            Candidate {
                problem: check_owner_and_mode("folder", dir, &dir_meta).err(),
                id: Some(FileId::of(&meta)),
                path,
            },
            Some(meta),
        ));
    }
    for (candidate, meta) in bundled {
        let name = candidate.path.file_name();
        if !found.iter().any(|(c, _)| c.path.file_name() == name) {
            found.push((candidate, meta));
        }
    }
    found
}

fn scan_folders(dirs: &[PathBuf]) -> Vec<(Candidate, Option<std::fs::Metadata>)> {
    let mut found = Vec::new();
    for dir in dirs {
        let Ok(dir_meta) = std::fs::metadata(dir) else {
            continue; // a folder that does not exist has no plugins
        };
        if !dir_meta.is_dir() {
            continue;
        }
        let dir_problem = check_owner_and_mode("folder", dir, &dir_meta).err();
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .collect();
        files.sort();
        for path in files {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue; // vanished, or a dangling symlink
            };
            if !meta.is_file() {
                continue;
            }
            found.push((
                Candidate {
                    path,
                    id: Some(FileId::of(&meta)),
                    problem: dir_problem.clone(),
                },
                Some(meta),
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writable_files_and_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = dir.path().join("libx.so");
        std::fs::write(&file, b"\x7fELF").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        let err = check_file(&file, &meta).unwrap_err();
        assert!(
            err.contains("writable by group and others (mode 0666)"),
            "{err}"
        );

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        let err = check_file(&file, &meta).unwrap_err();
        assert!(err.contains("not a shared library"), "{err}");

        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let found = scan(&[dir.path().to_path_buf()], (None, Vec::new()));
        assert_eq!(found.len(), 1);
        let problem = found[0].0.problem.clone().unwrap();
        assert!(problem.starts_with("folder"), "{problem}");
    }

    #[test]
    fn hidden_files_and_missing_folders_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".partial"), b"").unwrap();
        assert!(scan(
            &[dir.path().to_path_buf(), dir.path().join("nope")],
            (None, Vec::new())
        )
        .is_empty());
    }

    #[test]
    fn a_users_plugin_wins_over_the_bundled_one_of_the_same_name() {
        let user = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        for dir in [user.path(), bin.path()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(user.path().join("libmws_plugin_csv.so"), b"\x7fELF").unwrap();
        for name in [
            "libmws_plugin_csv.so",
            "libmws_plugin_expiry.so",
            "libmws_plugin_testing.so",
        ] {
            std::fs::write(bin.path().join(name), b"\x7fELF").unwrap();
        }
        let found = scan(
            &[user.path().to_path_buf()],
            bundled(&bin.path().join("mwsd")),
        );
        let paths: Vec<PathBuf> = found.into_iter().map(|(c, _)| c.path).collect();
        assert_eq!(
            paths,
            vec![
                user.path().join("libmws_plugin_csv.so"),
                bin.path().join("libmws_plugin_expiry.so"),
            ]
        );
    }
}
