//! Reading files whose path a user controls (mws's config, `~/.modal.toml`,
//! `MWS_CA_CERT`) without letting the path wedge the daemon.
//!
//! Only regular files are read: the path is stat'ed first (a device or a FIFO
//! is never opened), then opened with `O_NONBLOCK` (opening a FIFO swapped in
//! meanwhile does not wait for a writer) and the opened descriptor fstat'ed
//! again; at most `cap` bytes are read. The functions here block: async code
//! calls them through [`off_worker`], so a slow file system holds a thread of
//! the blocking pool, never one of the runtime's workers.

use rustix::fs::{FileType, Mode, OFlags};
use std::io::Read;
use std::path::Path;

/// The most a config file may hold (they are a few hundred bytes).
pub(crate) const CONFIG_CAP: u64 = 1024 * 1024;

/// Why a file could not be read. The messages leave the path out: callers
/// name the file in their own words.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("it does not exist")]
    NotFound,
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("it is {size} bytes long, over the limit of {cap} bytes")]
    TooLarge { size: u64, cap: u64 },
    #[error("it is not UTF-8 text")]
    NotText,
    #[error("{0}")]
    Io(std::io::Error),
}

impl FileError {
    fn io(e: impl Into<std::io::Error>) -> Self {
        let e = e.into();
        if e.kind() == std::io::ErrorKind::NotFound {
            FileError::NotFound
        } else {
            FileError::Io(e)
        }
    }
}

fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a folder",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO (named pipe)",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        _ => "not a regular file",
    }
}

fn check(stat: &rustix::fs::Stat, cap: u64) -> Result<(), FileError> {
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        return Err(FileError::NotRegular(kind_name(kind)));
    }
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    if size > cap {
        return Err(FileError::TooLarge { size, cap });
    }
    Ok(())
}

/// Reads a regular file of at most `cap` bytes (following symbolic links).
/// Blocks: from async code, call it through [`off_worker`].
pub fn read_regular_file(path: &Path, cap: u64) -> Result<Vec<u8>, FileError> {
    // Refuse a FIFO or a device before opening it (opening one can block
    // or have side effects)…
    check(&rustix::fs::stat(path).map_err(FileError::io)?, cap)?;
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(FileError::io)?;
    // …and check what was opened, in case the path changed in between.
    let stat = rustix::fs::fstat(&fd).map_err(FileError::io)?;
    check(&stat, cap)?;
    let mut bytes = Vec::with_capacity(usize::try_from(stat.st_size).unwrap_or(0));
    // A file that grows while it is read still stops at the cap.
    std::fs::File::from(fd)
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(FileError::io)?;
    let size = bytes.len() as u64;
    if size > cap {
        return Err(FileError::TooLarge { size, cap });
    }
    Ok(bytes)
}

/// [`read_regular_file`] for a text file; `Ok(None)` when it does not exist.
pub(crate) fn read_text(path: &Path, cap: u64) -> Result<Option<String>, FileError> {
    match read_regular_file(path, cap) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| FileError::NotText),
        Err(FileError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to `path` for this user only (mode 0600): to a temporary
/// file beside it, synced, then renamed into place, so a reader (or a
/// daemon restarted after a crash) sees the old file or the new one, never
/// half of one. Creates the folder if needed.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Runs blocking work (file system calls) on the runtime's blocking pool, so
/// that a slow disk or file system never holds up one of its workers.
pub(crate) async fn off_worker<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        // The work panicked: carry on unwinding here, as if it ran inline.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled only when the runtime shuts down, which drops this task
        // too.
        Err(_) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(&path, "x = 1\n").unwrap();
        assert_eq!(read_regular_file(&path, CONFIG_CAP).unwrap(), b"x = 1\n");
        assert_eq!(read_text(&path, CONFIG_CAP).unwrap().unwrap(), "x = 1\n");
        assert!(read_text(&dir.path().join("none"), CONFIG_CAP)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &path, Mode::from_raw_mode(0o600)).unwrap();
        let err = read_regular_file(&path, CONFIG_CAP).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
    }

    #[test]
    fn devices_folders_and_big_files_are_refused() {
        let err = read_regular_file(Path::new("/dev/zero"), CONFIG_CAP).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(matches!(
            read_regular_file(&link, CONFIG_CAP),
            Err(FileError::NotRegular(_))
        ));
        assert!(matches!(
            read_regular_file(dir.path(), CONFIG_CAP),
            Err(FileError::NotRegular("a folder"))
        ));
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'#'; 2048]).unwrap();
        let err = read_regular_file(&big, 1024).unwrap_err();
        assert!(matches!(
            err,
            FileError::TooLarge {
                size: 2048,
                cap: 1024
            }
        ));
        assert!(err.to_string().contains("limit of 1024 bytes"), "{err}");
        std::fs::write(&big, vec![0xff; 8]).unwrap();
        assert!(matches!(
            read_text(&big, CONFIG_CAP),
            Err(FileError::NotText)
        ));
    }
}
