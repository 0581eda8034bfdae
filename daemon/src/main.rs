//! `mwsd`: runs the daemon in the foreground (for service managers), or as
//! auto-started by `mws` with `--ready-fd`, through which it reports once its
//! socket is bound (`ok`), that another daemon already runs
//! (`already-running`, exit 3), or why it could not start (`error: …`).
//!
//! Under systemd (`mws daemon install-service`) the socket is systemd's:
//! mwsd takes the listening socket it is passed (`LISTEN_FDS`/`LISTEN_PID`,
//! socket activation), neither creates nor removes the socket file, and
//! reports readiness with `sd_notify` (`READY=1`, for `Type=notify`).

mod log_file;

use anyhow::{Context, Result};
use clap::Parser;
use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::unix::uds_local_socket::tokio::Listener as UdsListener;
use mws_ipc::paths;
use mwsd::{Daemon, LocalSettings, UpstreamSettings};
use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

/// Exit code when another daemon already serves this user's socket.
const EXIT_ALREADY_RUNNING: i32 = 3;
/// The most `MWS_CA_CERT` may hold (a system's whole bundle is ~200 KiB).
const MAX_CA_CERT_LEN: u64 = 4 * 1024 * 1024;

#[derive(Parser, Debug)]
#[command(
    name = "mwsd",
    version,
    about = "The mws daemon: holds credentials, talks to Modal, serves `mws`."
)]
struct Args {
    /// File descriptor to report readiness on (used by `mws` when it starts the daemon).
    #[arg(long, value_name = "FD")]
    ready_fd: Option<i32>,
    /// Write logs to this file instead of stderr (default when started by `mws`:
    /// $XDG_STATE_HOME/mws/mwsd.log).
    #[arg(long, value_name = "PATH")]
    log_file: Option<PathBuf>,
    /// Log verbosely (same as MWS_LOG=debug).
    #[arg(short, long)]
    verbose: bool,
    /// Internal: run as the plugin host (started by the daemon itself).
    #[arg(long, hide = true)]
    plugin_host: bool,
}

/// Reports start-up progress to the process that started us, if any.
struct Readiness(Option<File>);

impl Readiness {
    fn new(fd: Option<i32>) -> Self {
        // SAFETY: the fd was handed to us by our parent for exactly this use;
        // we own it from here on.
        Self(
            fd.filter(|fd| *fd > 2)
                .map(|fd| unsafe { File::from_raw_fd(fd) }),
        )
    }
    fn say(&mut self, line: &str) {
        if let Some(mut file) = self.0.take() {
            let _ = file.write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// `$XDG_STATE_HOME/mws/mwsd.log`; a relative `XDG_STATE_HOME` is ignored,
/// as the XDG spec says.
fn default_log_file() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/".into()))
                .join(".local/state")
        });
    state.join("mws").join("mwsd.log")
}

fn init_logging(args: &Args) -> Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = if args.verbose {
        EnvFilter::new("debug")
    } else {
        EnvFilter::try_from_env("MWS_LOG").unwrap_or_else(|_| EnvFilter::new("info"))
    };
    let log_file = args
        .log_file
        .clone()
        .or_else(|| args.ready_fd.map(|_| default_log_file()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match log_file {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let file = log_file::CappedFile::open(&path, log_file::cap_from_env())
                .with_context(|| format!("cannot open log file {}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(log_file::LogWriter::file(file)))
                .init();
        }
        None => builder
            .with_writer(std::sync::Mutex::new(log_file::LogWriter::stderr()))
            .init(),
    }
    Ok(())
}

/// Takes the per-user instance lock; `None` when another daemon holds it.
fn take_instance_lock(dir: &std::path::Path) -> Result<Option<File>> {
    let path = dir.join(paths::LOCK_NAME);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(file)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => {
            Err(std::io::Error::from(e)).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

fn main() {
    let args = Args::parse();
    if args.plugin_host {
        // A child of the daemon, with no credentials (see the plugins module).
        mwsd::harden_process();
        std::process::exit(mwsd::plugin_host_main());
    }
    // Before any thread exists (the variables are unset here) and before
    // anything could open fd 3.
    let activated = match systemd_socket() {
        Ok(socket) => socket,
        Err(e) => {
            eprintln!("mwsd: {e:#}");
            std::process::exit(1);
        }
    };
    mwsd::harden_process();
    let mut readiness = Readiness::new(args.ready_fd);
    if let Err(e) = init_logging(&args) {
        readiness.say(&format!("error: {e:#}"));
        eprintln!("mwsd: {e:#}");
        std::process::exit(1);
    }
    // Clients, watch streams and upstream connections are descriptors: use
    // what the hard limit allows, not a 1024 soft default.
    let open_files = mwsd::raise_open_files_limit();
    tracing::debug!(?open_files, "open-files limit");
    match start(&args, &mut readiness, activated) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            tracing::error!("{e:#}");
            readiness.say(&format!("error: {e:#}"));
            eprintln!("mwsd: {e:#}");
            std::process::exit(1);
        }
    }
}

/// The listening socket systemd passed (socket activation), if any.
fn systemd_socket() -> Result<Option<OwnedFd>> {
    // SAFETY: called first thing in `main`, while the process has a single
    // thread, so unsetting LISTEN_PID / LISTEN_FDS races no reader.
    let mut fds =
        unsafe { sd_notify::listen_fds_and_unset_env() }.context("bad LISTEN_FDS from systemd")?;
    match fds.len() {
        0 => Ok(None),
        1 => {
            let raw = fds.next().context("LISTEN_FDS")?;
            // SAFETY: systemd passed this descriptor for this process to own
            // (LISTEN_PID is ours); nothing else in the process uses it.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let stat = rustix::fs::fstat(&fd).context("the socket systemd passed")?;
            if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Socket {
                anyhow::bail!("systemd passed fd {raw}, which is not a socket");
            }
            Ok(Some(fd))
        }
        n => anyhow::bail!(
            "systemd passed {n} sockets; mwsd.socket must have exactly one ListenStream"
        ),
    }
}

fn start(args: &Args, readiness: &mut Readiness, activated: Option<OwnedFd>) -> Result<i32> {
    let _ = args;
    let activated_by_systemd = activated.is_some();
    let dir = paths::runtime_dir();
    paths::ensure_runtime_dir(&dir)?;
    let Some(_lock) = take_instance_lock(&dir)? else {
        readiness.say("already-running");
        eprintln!("mwsd: another daemon is already running for this user");
        return Ok(EXIT_ALREADY_RUNNING);
    };
    let socket = paths::socket_path(&dir);
    // We hold the instance lock, so a socket file left behind is stale —
    // unless systemd made it and listens on it for us.
    if !activated_by_systemd {
        match std::fs::remove_file(&socket) {
            Ok(()) => tracing::info!("removed stale socket {}", socket.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", socket.display())),
        }
    }

    // Every start-up input is read before the daemon reports ready, so a bad
    // one reaches the user on their first call as a one-line error.
    let mut upstream_settings = UpstreamSettings::default();
    if let Some(path) = std::env::var_os("MWS_CA_CERT").filter(|v| !v.is_empty()) {
        let path = std::path::Path::new(&path);
        upstream_settings.extra_ca_pem = Some(
            mwsd::read_regular_file(path, MAX_CA_CERT_LEN)
                .with_context(|| format!("cannot read MWS_CA_CERT {}", path.display()))?,
        );
    }
    // A bad config file or `MWS_*` variable is not fatal: the defaults stand
    // in for it and `mws daemon status` says what is wrong.
    let loaded = mwsd::load_settings(&mwsd::settings_file());
    if let Some(e) = &loaded.file_error {
        tracing::warn!("{e}; using defaults");
    }
    if let Some(e) = &loaded.env_error {
        tracing::warn!("{e}");
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = match activated {
            Some(fd) => {
                let listener = UdsListener::try_from(fd)
                    .context("cannot listen on the socket systemd passed")?;
                Listener::from(listener)
            }
            None => listen(&socket)?,
        };
        tracing::info!(
            pid = std::process::id(),
            socket = %socket.display(),
            systemd = activated_by_systemd,
            "mwsd {} listening",
            env!("CARGO_PKG_VERSION")
        );
        readiness.say("ok");
        if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
            tracing::warn!("cannot tell systemd that mwsd is ready: {e}");
        }

        let daemon = Arc::new(Daemon::new(
            socket.clone(),
            upstream_settings,
            LocalSettings::from_env(),
            loaded.settings,
        ));
        daemon.set_config_error("mws config", loaded.file_error.map(|e| e.to_string()));
        daemon.set_config_error("mws environment", loaded.env_error);
        mwsd::spawn_notifications(daemon.clone());
        // The plugin host is this very executable; /proc/self/exe still
        // works after the file is replaced by an upgrade.
        let proc_exe = PathBuf::from("/proc/self/exe");
        let exe = match proc_exe.exists() {
            true => Ok(proc_exe),
            false => std::env::current_exe(),
        };
        match exe {
            Ok(exe) => daemon.start_plugins(exe),
            Err(e) => tracing::warn!("plugins disabled: cannot find mwsd's own path: {e}"),
        }
        daemon.start_config_watcher();
        daemon.watch_default_identity();
        mwsd::start_metrics_endpoint(&daemon);
        mwsd::run(daemon, listener, shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    if !activated_by_systemd {
        let _ = std::fs::remove_file(&socket);
    }
    Ok(0)
}

/// Binds the socket file (mode 0600) when mwsd starts by itself.
fn listen(socket: &std::path::Path) -> Result<Listener> {
    let name = socket
        .to_path_buf()
        .to_fs_name::<GenericFilePath>()
        .context("invalid socket path")?;
    let listener = ListenerOptions::new()
        .name(name)
        .reclaim_name(true)
        .create_tokio()
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", socket.display()))?;
    Ok(listener)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}
