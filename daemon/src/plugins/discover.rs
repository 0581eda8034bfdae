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
//! - a folder on the file's real path (a symlink's target included, up to
//!   `/`) is owned by another user than you or root, or is writable by group
//!   or others without the sticky bit (`/tmp` is fine: nobody else can
//!   rename what is yours in it);
//! - it is not a shared library (checked from its first bytes, so the host
//!   never `dlopen`s a text file).
//!
//! The file is opened once ([`open_checked`]); the checks read that open
//! descriptor (`fstat`, its first bytes, its real path from
//! `/proc/self/fd`), and the host loads that same descriptor, so no swap of
//! the file between the check and the load can slip another file in.
//! The ABI checks (entry symbol, version, descriptor) happen in the host.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
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
pub const BUNDLED: &[&str] = &[
    "libmws_plugin_csv.so",
    "libmws_plugin_expiry.so",
    "libmws_plugin_webhook.so",
];

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
    check_mode(what, path, meta.mode())
}

/// The mode rule: not writable by group or others.
fn check_mode(what: &str, path: &Path, mode: u32) -> Result<(), String> {
    let mode = mode & 0o7777;
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

/// A folder on a plugin's real path: owned by you or root, and not
/// writable by others unless sticky.
fn check_folder_on_path(dir: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("folder {}: {e}", dir.display()))?;
    if meta.uid() != 0 && meta.uid() != me() {
        return check_owner_and_mode("folder", dir, &meta);
    }
    let sticky = meta.mode() & 0o1000 != 0;
    if sticky {
        return Ok(());
    }
    // Owned by you or root: only the mode is left to check.
    check_mode("folder", dir, meta.mode())
}

/// A plugin file open for the host: checked through this descriptor.
#[derive(Debug)]
pub struct Opened {
    pub file: File,
    /// The identity of what was opened (which may differ from the scan's,
    /// if the file was replaced in between).
    pub id: FileId,
}

/// Opens `path` once and checks that open file: a regular file, owned by
/// you and not writable by others, every folder on its real path safe
/// ([`check_folder_on_path`]), and a shared library by its first bytes.
pub fn open_checked(path: &Path) -> Result<Opened, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        // A FIFO swapped in after the scan must not block the manager.
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot open it: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    check_owner_and_mode("file", path, &meta)?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .or_else(|_| std::fs::canonicalize(path))
        .map_err(|e| format!("cannot resolve its real path: {e}"))?;
    let through = || match real != path {
        true => format!(" ({} leads there)", path.display()),
        false => String::new(),
    };
    for dir in real.ancestors().skip(1) {
        check_folder_on_path(dir).map_err(|e| format!("{e}{}", through()))?;
    }
    mws_plugin_api::host::check_library(&file).map_err(|e| e.to_string())?;
    Ok(Opened {
        file,
        id: FileId::of(&meta),
    })
}

/// Lists the candidates of every folder, in folder order then by name,
/// then the bundled ones (`folder`'s files and the `beside` files) whose
/// file name no earlier folder has. Only metadata is read; [`open_checked`]
/// is run when the host is rebuilt.
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
        let err = open_checked(&file).unwrap_err();
        assert!(
            err.contains("writable by group and others (mode 0666)"),
            "{err}"
        );

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = open_checked(&file).unwrap_err();
        assert!(err.contains("not a shared library"), "{err}");

        // Through a symlink into a folder others can write.
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::copy(&file, shared.join("liby.so")).unwrap();
        let link = dir.path().join("liby.so");
        std::os::unix::fs::symlink(shared.join("liby.so"), &link).unwrap();
        let err = open_checked(&link).unwrap_err();
        assert!(
            err.contains(&format!(
                "folder {} is writable by group and others",
                shared.display()
            )),
            "{err}"
        );
        assert!(err.contains("liby.so leads there"), "{err}");

        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let found = scan(&[dir.path().to_path_buf()], (None, Vec::new()));
        assert_eq!(found.len(), 2);
        for (candidate, _) in found {
            let problem = candidate.problem.unwrap();
            assert!(problem.starts_with("folder"), "{problem}");
        }
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
