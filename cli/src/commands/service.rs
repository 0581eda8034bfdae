//! `mws daemon install-service` / `uninstall-service`: systemd user units
//! for mwsd, socket-activated.
//!
//! `mwsd.socket` listens on the same path `mws` uses
//! (`$XDG_RUNTIME_DIR/mws/mwsd.sock`, i.e. `%t/mws/mwsd.sock`), with the
//! folder and socket modes mws checks (0700, 0600); the first connection
//! starts `mwsd.service`, which takes the socket from systemd and reports
//! readiness with sd_notify (`Type=notify`). `mws daemon stop` ends the
//! daemon, not the socket: the next command starts it again. Without
//! systemd, `mws` keeps starting mwsd by itself.

use crate::autostart;
use crate::output::emit;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const SOCKET_UNIT: &str = "mwsd.socket";
const SERVICE_UNIT: &str = "mwsd.service";

/// `$XDG_CONFIG_HOME/systemd/user` (absolute only), else
/// `~/.config/systemd/user`.
fn unit_dir() -> anyhow::Result<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".config"))
        })
        .ok_or_else(|| anyhow::anyhow!("neither XDG_CONFIG_HOME nor HOME is an absolute path"))?;
    Ok(config.join("systemd").join("user"))
}

fn socket_unit() -> String {
    "[Unit]\n\
     Description=mws daemon socket (Modal workspaces)\n\
     Documentation=https://example.invalid/mws/docs/ipc.md\n\
     \n\
     [Socket]\n\
     ListenStream=%t/mws/mwsd.sock\n\
     SocketMode=0600\n\
     DirectoryMode=0700\n\
     \n\
     [Install]\n\
     WantedBy=sockets.target\n"
        .to_string()
}

fn service_unit(mwsd: &Path) -> String {
    format!(
        "[Unit]\n\
         Description=mws daemon (Modal workspaces)\n\
         Requires={SOCKET_UNIT}\n\
         After={SOCKET_UNIT}\n\
         \n\
         [Service]\n\
         Type=notify\n\
         ExecStart={}\n\
         Restart=on-failure\n\
         # mwsd's log goes to the journal: journalctl --user -u mwsd\n",
        systemd_quote(&mwsd.to_string_lossy())
    )
}

/// A path as one systemd command-line word.
fn systemd_quote(path: &str) -> String {
    if path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        path.to_string()
    } else {
        format!(
            "\"{}\"",
            path.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('%', "%%")
        )
    }
}

/// Writes `text` to `path` through a temporary file and a rename.
fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

fn systemctl(args: &[&str]) -> anyhow::Result<()> {
    systemctl_with(args, std::process::Stdio::inherit())
}

fn systemctl_with(args: &[&str], stderr: std::process::Stdio) -> anyhow::Result<()> {
    let status = std::process::Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stderr(stderr)
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run systemctl: {e}"))?;
    if !status.success() {
        anyhow::bail!("`systemctl --user {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

pub(super) fn install(enable: bool) -> anyhow::Result<ExitCode> {
    let mwsd = autostart::locate()?;
    let mwsd = std::fs::canonicalize(&mwsd)
        .map_err(|e| anyhow::anyhow!("cannot find mwsd at {}: {e}", mwsd.display()))?;
    let dir = unit_dir()?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    write_file(&dir.join(SOCKET_UNIT), &socket_unit())?;
    write_file(&dir.join(SERVICE_UNIT), &service_unit(&mwsd))?;
    let mut text = format!(
        "Wrote {} and {} (mwsd: {}).\n",
        dir.join(SOCKET_UNIT).display(),
        dir.join(SERVICE_UNIT).display(),
        mwsd.display()
    );
    if enable {
        systemctl(&["daemon-reload"])?;
        systemctl(&["enable", "--now", SOCKET_UNIT])?;
        text.push_str("Enabled and started mwsd.socket.\n");
    } else {
        text.push_str(
            "Enable them with: systemctl --user daemon-reload && systemctl --user enable --now mwsd.socket\n",
        );
    }
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn uninstall() -> anyhow::Result<ExitCode> {
    let dir = unit_dir()?;
    let units = [dir.join(SOCKET_UNIT), dir.join(SERVICE_UNIT)];
    if !units.iter().any(|u| u.exists()) {
        emit(&format!("No mwsd units in {}.\n", dir.display()))?;
        return Ok(ExitCode::SUCCESS);
    }
    // Best effort: without a running user systemd there is nothing to stop.
    let quiet = std::process::Stdio::null;
    let _ = systemctl_with(&["disable", "--now", SOCKET_UNIT, SERVICE_UNIT], quiet());
    for unit in &units {
        match std::fs::remove_file(unit) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot remove {}: {e}", unit.display()),
        }
    }
    let _ = systemctl_with(&["daemon-reload"], quiet());
    emit(&format!(
        "Removed mwsd.socket and mwsd.service from {}.\n",
        dir.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_runs_mwsd_by_its_absolute_path_quoted_for_systemd() {
        let unit = service_unit(Path::new("/opt/my tools/100%/mwsd"));
        assert!(
            unit.contains("ExecStart=\"/opt/my tools/100%%/mwsd\"\n"),
            "{unit}"
        );
        assert!(service_unit(Path::new("/usr/bin/mwsd")).contains("ExecStart=/usr/bin/mwsd\n"));
        assert!(socket_unit().contains("ListenStream=%t/mws/mwsd.sock\n"));
    }
}
