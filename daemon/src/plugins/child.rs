//! `mwsd --plugin-host`: the process that loads plugins.
//!
//! Started by the daemon with an empty environment (no `MODAL_*` variables,
//! no secrets, no socket path) and `PR_SET_PDEATHSIG`, it reads
//! [`ToHost`] frames on stdin and answers [`FromHost`] frames on stdout, one
//! at a time, until stdin closes. Whatever a plugin does wrong short of
//! crashing (an error, a panic caught by its macro, a broken rule) becomes a
//! `Failed` answer; if a plugin crashes this process, the daemon sees the
//! pipe close and quarantines it.
//!
//! Before loading anything, the protocol pipes are moved off fds 0 and 1
//! (stdin becomes `/dev/null`, stdout goes to stderr), so a plugin that
//! prints cannot corrupt the protocol; its output lands in the daemon's log.

use super::protocol::{self, FromHost, ToHost};
use mws_plugin_api::host::LoadedPlugin;
use std::fs::File;
use std::os::fd::FromRawFd;
use std::path::Path;

/// Moves fds 0 and 1 out of the way; returns the protocol's reader and writer.
fn take_pipes() -> std::io::Result<(File, File)> {
    // SAFETY: plain fd syscalls on fds this process owns; each new fd is
    // owned by exactly one `File` from here on.
    unsafe {
        let input = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3);
        let output = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
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

/// Runs the host until the daemon closes the pipe; returns the exit code.
pub fn main() -> i32 {
    let (mut input, mut output) = match take_pipes() {
        Ok(pipes) => pipes,
        Err(e) => {
            eprintln!("plugin host: cannot set up its pipes: {e}");
            return 1;
        }
    };
    if protocol::write_sync(&mut output, &FromHost::Ready).is_err() {
        return 1;
    }
    let mut plugins: Vec<LoadedPlugin> = Vec::new();
    loop {
        let request: ToHost = match protocol::read_sync(&mut input) {
            Ok(request) => request,
            Err(protocol::FrameError::Closed) => return 0,
            Err(e) => {
                eprintln!("plugin host: bad request from the daemon: {e}");
                return 1;
            }
        };
        let answer = match request {
            ToHost::Load { path } => {
                // SAFETY: running a library's initialisers and trusting its
                // descriptor is what this process is for: if it crashes, only
                // this process goes, and the daemon quarantines the file.
                match unsafe { LoadedPlugin::load(Path::new(&path)) } {
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
                    Err(e) => FromHost::Refused {
                        reason: e.to_string(),
                    },
                }
            }
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
        let written = match protocol::write_sync(&mut output, &answer) {
            // Nothing was written yet: say why instead of the output.
            Err(protocol::FrameError::TooLarge(len)) => protocol::write_sync(
                &mut output,
                &FromHost::Failed {
                    reason: format!("returned output too large to pass on ({len} bytes)"),
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
