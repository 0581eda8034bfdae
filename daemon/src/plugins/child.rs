//! `mwsd --plugin-host`: the process that loads plugins.
//!
//! Started by the daemon with an empty environment (no `MODAL_*` variables,
//! no secrets, no socket path), in a process group of its own, with
//! `PR_SET_PDEATHSIG` (`host.rs`), it reads [`ToHost`] frames on stdin and
//! answers [`FromHost`] frames on stdout, one at a time, each under its
//! request's id, until stdin closes. Whatever a plugin does wrong short of
//! crashing (an error, a panic caught by its macro, a broken rule) becomes a
//! `Failed` answer; if a plugin crashes this process, the daemon sees the
//! pipe close and quarantines it.
//!
//! Before loading anything, the host
//!
//! - moves the protocol pipes off fds 0 and 1 to descriptors from
//!   [`PIPE_FD_MIN`] up (stdin becomes `/dev/null`, stdout goes to stderr),
//!   so a plugin that prints cannot corrupt the protocol (its output lands in
//!   the daemon's log) and a plugin trying the low descriptors finds nothing;
//! - makes the parent-death signal (`SIGTERM`), and the end of the request
//!   pipe, kill its whole process group, so the plugins' children die with
//!   it;
//! - confines itself ([`confine`](super::confine)).
//!
//! A library is loaded from the descriptor the daemon opened and checked,
//! as `/proc/self/fd/N` (never by its path, which could have been swapped
//! since), and that descriptor is closed once it is loaded.

use super::protocol::{self, Envelope, FromHost, ToHost};
use mws_plugin_api::host::LoadedPlugin;
use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

/// The lowest descriptor the protocol pipes are moved to.
pub(crate) const PIPE_FD_MIN: i32 = 100;

/// A copy of `fd`, close-on-exec, at `PIPE_FD_MIN` or above if the
/// open-files limit allows, else at 3 or above.
///
/// # Safety
/// `fd` must be open.
unsafe fn dup_high(fd: i32) -> i32 {
    // SAFETY: F_DUPFD_CLOEXEC on an open descriptor.
    unsafe {
        let high = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, PIPE_FD_MIN);
        if high >= 0 {
            high
        } else {
            libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3)
        }
    }
}

/// Moves fds 0 and 1 out of the way; returns the protocol's reader and writer.
fn take_pipes() -> std::io::Result<(File, File)> {
    // SAFETY: plain fd syscalls on fds this process owns; each new fd is
    // owned by exactly one `File` from here on.
    unsafe {
        let input = dup_high(0);
        let output = dup_high(1);
        if input < 0 || output < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        if null < 0 || libc::dup2(null, 0) < 0 || libc::dup2(2, 1) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::close(null);
        Ok((File::from_raw_fd(input), File::from_raw_fd(output)))
    }
}

fn call(plugins: &[LoadedPlugin], index: usize, render: bool, name: &str, input: &str) -> FromHost {
    let Some(plugin) = plugins.get(index) else {
        return FromHost::Failed {
            reason: format!("no plugin number {index} in this host"),
        };
    };
    let result = if render {
        plugin.render(name, input.as_bytes())
    } else {
        plugin.on_event(name, input.as_bytes())
    };
    match result {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => FromHost::Output { text },
            Err(_) => FromHost::Failed {
                reason: "returned output that is not UTF-8".into(),
            },
        },
        Err(e) => FromHost::Failed {
            reason: e.to_string(),
        },
    }
}

/// The parent-death signal: the daemon is gone, so is everything here.
extern "C" fn on_daemon_death(_: libc::c_int) {
    // SAFETY: kill(2) is async-signal-safe; 0 is this process's own group,
    // which it leads (setpgid in host.rs).
    unsafe { libc::kill(0, libc::SIGKILL) };
}

/// Makes `SIGTERM` (the parent-death signal) kill the whole group.
fn kill_group_on_term() -> std::io::Result<()> {
    let handler: extern "C" fn(libc::c_int) = on_daemon_death;
    // SAFETY: installs a handler that only calls kill(2).
    let previous = unsafe { libc::signal(libc::SIGTERM, handler as libc::sighandler_t) };
    if previous == libc::SIG_ERR {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Loads the library open on `fd`, then closes `fd`.
fn load(fd: i32, path: &str, protected: &[i32]) -> Result<LoadedPlugin, String> {
    if fd <= 2 || protected.contains(&fd) {
        return Err(format!("descriptor {fd} is not a plugin file"));
    }
    // SAFETY: the daemon handed this descriptor to this process for this
    // one load; nothing else owns it, and it is closed when `_file` drops.
    let _file = unsafe { OwnedFd::from_raw_fd(fd) };
    let via = format!("/proc/self/fd/{fd}");
    // SAFETY: running a library's initialisers and trusting its descriptor
    // is what this process is for: if it crashes, only this process goes,
    // and the daemon quarantines the file.
    unsafe { LoadedPlugin::load(Path::new(&via)) }.map_err(|e| e.to_string().replace(&via, path))
}

/// Runs the host until the daemon closes the pipe; returns the exit code.
pub fn main() -> i32 {
    let (mut input, mut output) = match take_pipes() {
        Ok(pipes) => pipes,
        Err(e) => {
            eprintln!("plugin host: cannot set up its pipes: {e}");
            return 1;
        }
    };
    use std::os::fd::AsRawFd;
    let protected = [input.as_raw_fd(), output.as_raw_fd()];
    if let Err(e) = kill_group_on_term() {
        eprintln!("plugin host: plugins' children may outlive it: {e}");
    }
    for e in super::confine::apply() {
        eprintln!("plugin host: {e}");
    }
    let ready = Envelope {
        id: 0,
        body: FromHost::Ready,
    };
    if protocol::write_sync(&mut output, &ready).is_err() {
        return 1;
    }
    let mut plugins: Vec<LoadedPlugin> = Vec::new();
    loop {
        let Envelope { id, body: request } = match protocol::read_sync(&mut input) {
            Ok(request) => request,
            Err(protocol::FrameError::Closed) => {
                // The daemon closed the pipe: it is done with this host or
                // gone. A daemon killed outright closes its descriptors
                // before the parent-death signal is sent, so the end of the
                // pipe may come first and must take the group too.
                on_daemon_death(libc::SIGTERM);
                return 0;
            }
            Err(e) => {
                eprintln!("plugin host: bad request from the daemon: {e}");
                return 1;
            }
        };
        let answer = match request {
            ToHost::Load { fd, path } => match load(fd, &path, &protected) {
                Ok(plugin) => {
                    let answer = FromHost::Loaded {
                        plugin: plugins.len(),
                        name: plugin.name.clone(),
                        version: plugin.version.clone(),
                        formats: plugin.formats.clone(),
                        events: plugin.events.clone(),
                    };
                    plugins.push(plugin);
                    answer
                }
                Err(reason) => FromHost::Refused { reason },
            },
            ToHost::Render {
                plugin,
                format,
                input,
            } => call(&plugins, plugin, true, &format, &input),
            ToHost::Event {
                plugin,
                event,
                input,
            } => call(&plugins, plugin, false, &event, &input),
        };
        let written = match protocol::write_sync(&mut output, &Envelope { id, body: answer }) {
            // Nothing was written yet: say why instead of the output.
            Err(protocol::FrameError::TooLarge(len)) => protocol::write_sync(
                &mut output,
                &Envelope {
                    id,
                    body: FromHost::Failed {
                        reason: format!("returned output too large to pass on ({len} bytes)"),
                    },
                },
            ),
            other => other,
        };
        if let Err(e) = written {
            eprintln!("plugin host: cannot answer the daemon: {e}");
            return 1;
        }
    }
}
