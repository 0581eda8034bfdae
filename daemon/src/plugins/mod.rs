//! Plugins: output formats and alert policies from dynamic libraries, kept
//! out of the daemon's address space.
//!
//! The daemon never loads a plugin itself. It finds candidate files — the
//! user's and those bundled with mwsd — opens
//! each once and checks it through that descriptor ([`discover`]), then
//! hands the open descriptors to a plugin host, a child process (`mwsd
//! --plugin-host`, [`child`]) started with no environment and so no
//! credentials, no other descriptor, a process group of its own and limits
//! ([`host`]), which confines itself further ([`confine`]) and loads them
//! through `/proc/self/fd`; requests and answers travel over a pipe, each
//! under a random request id ([`protocol`]). A plugin that
//! returns an error or panics costs that one request a clear error. A plugin
//! that kills the host (abort, segfault) or hangs is *quarantined* — not
//! loaded again until its file changes — and a new host is started with the
//! others; the daemon, its cache and the other plugins are untouched.
//! Libraries are never unloaded: any change to the set of files means a new
//! host.
//!
//! One task, the [`Manager`], owns the host and everything about it; the
//! rest of the daemon holds a [`Plugins`] handle that sends it commands over
//! a channel and reads a published snapshot, so `mws daemon status` and
//! `mws plugins list` never wait behind a plugin that hangs.
//!
//! Uses: `Request::Render` (`--format NAME`) goes to the plugin offering that
//! format. The manager subscribes to the daemon's event bus like every other
//! consumer: each identity's credentials (`DaemonEvent::CredentialsRefreshed`)
//! go to the plugins that judge them ([`judge`]), whose alerts are announced
//! once per credential and level ([`alerts`]) back on the bus
//! (`DaemonEvent::Alert`, streamed as `alert.<kind>`) and listed by
//! `mws alerts`, which can also ask for a judgement and wait for it.
//! Every public event the journal numbers goes to the *sink* plugins (those
//! that want `workspace.event`), whose answers become webhook deliveries
//! ([`sink`], [`crate::webhooks`]); a sink that falls behind the journal's
//! buffer has the events it missed counted, not replayed.
//!
//! The set of files is re-read when a plugin folder changes (notify), and
//! checked again on every plugin request and token refresh, so a plugin
//! added or replaced while the daemon runs is picked up either way.

pub mod alerts;
pub mod child;
mod confine;
pub mod discover;
pub mod host;
mod judge;
mod judging;
pub mod protocol;
mod sink;

pub(crate) use judging::judges_in;

use crate::bus::Bus;
use crate::events::{Credentials, DaemonEvent};
use crate::journal::Stamped;
use crate::settings::{PluginSettings, SharedSettings};
use crate::webhooks::Webhooks;
use discover::{Candidate, FileId};
use host::{Host, HostError};
use mws_ipc::{Alert, PluginInfo, PluginState};
use protocol::{FromHost, ToHost};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Commands waiting for the manager.
const QUEUE: usize = 64;
/// How long `plugins list` waits for the manager to re-read the folders
/// before answering with the last published snapshot.
const LIST_WAIT: Duration = Duration::from_millis(500);
/// Quiet time after the last file event in a plugin folder.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Why a plugin request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PluginError {
    #[error("plugins are not enabled in this daemon")]
    Disabled,
    #[error("the plugin manager has stopped")]
    Stopped,
    #[error("the rows to render are not valid JSON: {0}")]
    BadRows(String),
    #[error("unknown format '{format}' (available: {available})")]
    UnknownFormat { format: String, available: String },
    /// A plugin's call failed (its error, a crash or a hang); one line.
    #[error("{0}")]
    Call(String),
}

impl PluginError {
    /// True when the request itself was wrong (not the plugin).
    pub(crate) fn is_bad_request(&self) -> bool {
        matches!(
            self,
            PluginError::BadRows(_) | PluginError::UnknownFormat { .. }
        )
    }
}

/// What the rest of the daemon asks of the manager.
enum Command {
    Render {
        format: String,
        kind: String,
        json: String,
        reply: oneshot::Sender<Result<String, PluginError>>,
    },
    /// Re-read the folders now; the reply says it is done.
    Refresh { reply: oneshot::Sender<()> },
    /// Judge one identity's credentials now; the reply says it is done.
    Judge {
        credentials: Arc<Credentials>,
        reply: oneshot::Sender<()>,
    },
    /// Send a test event to one webhook endpoint through the sinks; the
    /// reply is how many deliveries were queued.
    SinkTest {
        endpoint: String,
        reply: oneshot::Sender<Result<u64, PluginError>>,
    },
}

/// One plugin file as the current host sees it.
struct Entry {
    info: PluginInfo,
    path: PathBuf,
    id: Option<FileId>,
    /// Its number in the host, when loaded.
    index: Option<usize>,
}

impl Entry {
    /// A plugin file that is not loaded (refused, quarantined, or no host).
    fn unloaded(info: PluginInfo, path: PathBuf, id: Option<FileId>) -> Self {
        Entry {
            info,
            path,
            id,
            index: None,
        }
    }
}

/// A file that crashed or hung a host, with the file version that did.
struct Quarantined {
    id: Option<FileId>,
    reason: String,
    info: Option<PluginInfo>,
}

type Fingerprint = Vec<(PathBuf, Option<FileId>, Option<String>)>;

#[derive(Default)]
struct State {
    host: Option<Host>,
    fingerprint: Option<Fingerprint>,
    entries: Vec<Entry>,
    quarantine: HashMap<PathBuf, Quarantined>,
    watched: Vec<PathBuf>,
}

/// The handle the daemon holds: a channel to the manager task and what it
/// publishes. Every method answers without waiting for a plugin.
#[derive(Default)]
pub(crate) struct Plugins {
    commands: OnceLock<mpsc::Sender<Command>>,
    /// Every plugin file and its state, as of the manager's last change.
    snapshot: Arc<Mutex<Vec<PluginInfo>>>,
    book: Arc<Mutex<alerts::Book>>,
}

/// The task that owns the plugin host.
struct Manager {
    bus: Bus,
    settings: SharedSettings,
    /// The `mwsd` executable run as host.
    exe: PathBuf,
    state: State,
    snapshot: Arc<Mutex<Vec<PluginInfo>>>,
    book: Arc<Mutex<alerts::Book>>,
    /// Where the book is kept between runs (`None`: memory only).
    book_file: Option<PathBuf>,
    /// The last credentials of every identity, for judging them again when
    /// a plugin is (re)loaded.
    latest: HashMap<judging::RecordKey, Arc<Credentials>>,
    /// The judges the book was last brought up to date with.
    judged_by: Vec<String>,
    watcher: Option<notify::RecommendedWatcher>,
    /// Where sink plugins' deliveries go.
    webhooks: Arc<Webhooks>,
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Plugins {
    /// Enables plugins, hosted by `exe --plugin-host` (call once, on the
    /// runtime): starts the manager task, which reads the alert record
    /// (`book_file`), watches the folders, loads what is there and follows
    /// the bus until `shutdown`.
    pub(crate) fn start(
        &self,
        exe: PathBuf,
        book_file: Option<PathBuf>,
        bus: Bus,
        settings: SharedSettings,
        webhooks: Arc<Webhooks>,
        shutdown: watch::Receiver<bool>,
    ) {
        let (tx, rx) = mpsc::channel(QUEUE);
        if self.commands.set(tx).is_err() {
            return;
        }
        let (changed_tx, changed_rx) = mpsc::unbounded_channel::<()>();
        let watcher =
            match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if event.is_ok() {
                    let _ = changed_tx.send(());
                }
            }) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!("plugin folders are not watched: {e}");
                    None
                }
            };
        let events = bus.subscribe();
        // Without a cursor, a subscription cannot fail: it starts live.
        let public = bus.journal().subscribe(None).ok().map(|s| s.live);
        let manager = Manager {
            bus,
            settings,
            exe,
            state: State::default(),
            snapshot: self.snapshot.clone(),
            book: self.book.clone(),
            book_file,
            latest: HashMap::new(),
            judged_by: Vec::new(),
            watcher,
            webhooks,
        };
        tokio::spawn(manager.run(rx, events, public, changed_rx, shutdown));
    }

    /// Every plugin file and its state (`mws plugins list`): the folders
    /// are re-read first unless the manager is busy (e.g. with a plugin
    /// that hangs), in which case the last published list is the answer.
    pub(crate) async fn list(&self) -> Vec<PluginInfo> {
        if let Some(commands) = self.commands.get() {
            let (reply, done) = oneshot::channel();
            if commands.try_send(Command::Refresh { reply }).is_ok() {
                let _ = tokio::time::timeout(LIST_WAIT, done).await;
            }
        }
        self.snapshot()
    }

    /// The last published list, without waiting (`mws daemon status`).
    pub(crate) fn snapshot(&self) -> Vec<PluginInfo> {
        self.snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Renders rows (the client's `--json` text) with the plugin that offers
    /// `format`.
    pub(crate) async fn render(
        &self,
        format: &str,
        kind: &str,
        json: &str,
    ) -> Result<String, PluginError> {
        let commands = self.commands.get().ok_or(PluginError::Disabled)?;
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::Render {
                format: format.to_string(),
                kind: kind.to_string(),
                json: json.to_string(),
                reply,
            })
            .await
            .map_err(|_| PluginError::Stopped)?;
        answer.await.map_err(|_| PluginError::Stopped)?
    }

    /// The current alerts (`mws alerts`).
    pub(crate) fn alerts(&self) -> Vec<Alert> {
        self.book.lock().unwrap_or_else(|p| p.into_inner()).all()
    }

    /// Sends a `webhook.test` event to `endpoint` through the sink plugins;
    /// returns how many deliveries were queued.
    pub(crate) async fn sink_test(&self, endpoint: &str) -> Result<u64, PluginError> {
        let commands = self.commands.get().ok_or(PluginError::Disabled)?;
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::SinkTest {
                endpoint: endpoint.to_string(),
                reply,
            })
            .await
            .map_err(|_| PluginError::Stopped)?;
        answer.await.map_err(|_| PluginError::Stopped)?
    }

    /// Has one identity's credentials judged now, waiting at most `wait`
    /// (a plugin that hangs is stopped at its own timeout; the book keeps
    /// what it had).
    pub(crate) async fn judge(&self, credentials: Arc<Credentials>, wait: Duration) {
        let Some(commands) = self.commands.get() else {
            return;
        };
        let (reply, done) = oneshot::channel();
        let sent = commands.send(Command::Judge { credentials, reply });
        if tokio::time::timeout(wait, async {
            if sent.await.is_ok() {
                let _ = done.await;
            }
        })
        .await
        .is_err()
        {
            tracing::warn!("alerts answered without waiting longer for the plugins");
        }
    }
}

/// The next public event, or never when there is no subscription.
async fn next_public(
    public: &mut Option<broadcast::Receiver<Arc<Stamped>>>,
) -> Result<Arc<Stamped>, broadcast::error::RecvError> {
    match public {
        Some(live) => live.recv().await,
        None => std::future::pending().await,
    }
}

impl Manager {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut events: broadcast::Receiver<DaemonEvent>,
        mut public: Option<broadcast::Receiver<Arc<Stamped>>>,
        mut changed: mpsc::UnboundedReceiver<()>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let book = judging::load_book(self.book_file.clone()).await;
        *self.book.lock().unwrap_or_else(|p| p.into_inner()) = book;
        self.ensure_current().await;
        loop {
            self.judge_again_if_judges_changed().await;
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Render { format, kind, json, reply }) => {
                        let _ = reply.send(self.render(&format, &kind, &json).await);
                    }
                    Some(Command::Refresh { reply }) => {
                        self.ensure_current().await;
                        let _ = reply.send(());
                    }
                    Some(Command::Judge { credentials, reply }) => {
                        self.judge(&credentials).await;
                        let _ = reply.send(());
                    }
                    Some(Command::SinkTest { endpoint, reply }) => {
                        let _ = reply.send(self.sink_test(&endpoint).await);
                    }
                    None => return,
                },
                event = events.recv() => match event {
                    Ok(DaemonEvent::CredentialsRefreshed(credentials)) => {
                        // A poll refreshes several lists in a row: judge
                        // each identity's latest record once.
                        let mut records = HashMap::new();
                        records.insert(judging::record_key(&credentials), credentials);
                        while let Ok(event) = events.try_recv() {
                            if let DaemonEvent::CredentialsRefreshed(c) = event {
                                records.insert(judging::record_key(&c), c);
                            }
                        }
                        for credentials in records.into_values() {
                            self.judge(&credentials).await;
                        }
                    }
                    Ok(_) => {}
                    // The next refresh is judged again anyway.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                stamped = next_public(&mut public) => match stamped {
                    Ok(stamped) => {
                        if let Err(e) = self.sink(&stamped.wire, None).await {
                            tracing::warn!("{e}");
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        if !self.webhooks.endpoints().is_empty() {
                            self.webhooks.count_missed(missed);
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => public = None,
                },
                got = changed.recv() => {
                    if got.is_none() { return }
                    // Debounce: a copy arrives as several events.
                    while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, changed.recv()).await {}
                    self.ensure_current().await;
                }
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Makes the published list match the manager's state.
    fn publish(&self) {
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) =
            self.state.entries.iter().map(|e| e.info.clone()).collect();
    }

    fn settings(&self) -> PluginSettings {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .plugins
            .clone()
    }

    fn watch(&mut self, dirs: &[PathBuf]) {
        use notify::Watcher;
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        for dir in dirs {
            if !self.state.watched.contains(dir) && dir.is_dir() {
                match watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                    Ok(()) => self.state.watched.push(dir.clone()),
                    Err(e) => tracing::debug!(dir = %dir.display(), "cannot watch: {e}"),
                }
            }
        }
    }

    /// Makes the host match the files on disk: rescans, and rebuilds when
    /// anything changed or the host is gone.
    async fn ensure_current(&mut self) {
        let settings = self.settings();
        let dirs = discover::dirs(&settings.dirs);
        // Bundled plugins are found from mwsd's real path (`self.exe` may be
        // /proc/self/exe, which has no useful folder).
        let bundled = match std::env::current_exe() {
            Ok(exe) if settings.bundled && discover::bundled_enabled_by_env() => {
                discover::bundled(&exe)
            }
            _ => (None, Vec::new()),
        };
        self.watch(&dirs);
        self.watch(bundled.0.as_slice());
        let scan = discover::scan(&dirs, bundled);
        let fingerprint: Fingerprint = scan
            .iter()
            .map(|(c, _)| (c.path.clone(), c.id, c.problem.clone()))
            .collect();
        let needs_host = self.state.entries.iter().any(|e| e.index.is_some());
        let host_alive = match self.state.host.as_mut() {
            Some(host) => host.is_alive(),
            None => !needs_host,
        };
        if self.state.fingerprint.as_ref() == Some(&fingerprint) && host_alive {
            return;
        }
        if !host_alive && self.state.fingerprint.as_ref() == Some(&fingerprint) {
            tracing::warn!("the plugin host exited by itself; starting a new one");
        }
        self.rebuild(scan, &settings).await;
        self.state.fingerprint = Some(fingerprint);
        self.publish();
    }

    /// Starts a new host and loads every file that passes the checks.
    async fn rebuild(
        &mut self,
        scan: Vec<(Candidate, Option<std::fs::Metadata>)>,
        settings: &PluginSettings,
    ) {
        if let Some(mut old) = self.state.host.take() {
            old.kill().await;
        }
        // A quarantine lasts until the file changes or goes.
        self.state
            .quarantine
            .retain(|path, q| scan.iter().any(|(c, _)| &c.path == path && c.id == q.id));
        // Each file is opened once here and checked through that
        // descriptor, which the hosts of this rebuild inherit and load.
        let mut checked: Vec<(Candidate, Result<discover::Opened, String>)> = Vec::new();
        for (mut candidate, meta) in scan {
            let result = match (&candidate.problem, &meta) {
                (Some(problem), _) => Err(problem.clone()),
                (None, None) => Err("cannot read the file".to_string()),
                (None, Some(_)) => discover::open_checked(&candidate.path),
            };
            if let Ok(opened) = &result {
                candidate.id = Some(opened.id);
            }
            checked.push((candidate, result));
        }
        let exe = self.exe.clone();
        // Each pass either loads everything or quarantines one more file
        // (the one that crashed the host) and starts over with a new host.
        for _ in 0..=checked.len() {
            self.state.entries.clear();
            if self.load_all(&checked, &exe, settings).await {
                break;
            }
        }
        let loaded = self
            .state
            .entries
            .iter()
            .filter(|e| e.index.is_some())
            .count();
        tracing::info!(
            files = self.state.entries.len(),
            loaded,
            "plugins {}",
            if self.state.host.is_some() {
                "loaded"
            } else {
                "found (no host needed)"
            }
        );
    }

    /// One loading pass; false when the host died and the pass must be redone.
    async fn load_all(
        &mut self,
        checked: &[(Candidate, Result<discover::Opened, String>)],
        exe: &Path,
        settings: &PluginSettings,
    ) -> bool {
        // The host inherits the files it is to load, and nothing else.
        let files: Vec<RawFd> = checked
            .iter()
            .filter(|(c, _)| !self.state.quarantine.contains_key(&c.path))
            .filter_map(|(_, r)| r.as_ref().ok().map(|o| o.file.as_raw_fd()))
            .collect();
        let limits = host::Limits {
            memory_bytes: settings.max_memory_mib.saturating_mul(1024 * 1024),
            processes: settings.max_processes,
        };
        for (candidate, result) in checked {
            let path = candidate.path.clone();
            let mut info = PluginInfo {
                name: file_name(&path),
                version: String::new(),
                path: path.display().to_string(),
                formats: Vec::new(),
                events: Vec::new(),
                state: PluginState::Refused,
                reason: None,
                last_error: None,
            };
            let opened = match result {
                Ok(opened) => opened,
                Err(problem) => {
                    info.reason = Some(problem.clone());
                    self.state
                        .entries
                        .push(Entry::unloaded(info, path, candidate.id));
                    continue;
                }
            };
            if let Some(q) = self.state.quarantine.get(&path) {
                if let Some(known) = &q.info {
                    info = known.clone();
                }
                info.state = PluginState::Quarantined;
                info.reason = Some(q.reason.clone());
                self.state
                    .entries
                    .push(Entry::unloaded(info, path, candidate.id));
                continue;
            }
            if self.state.host.is_none() {
                match Host::spawn(exe, settings.timeout, limits, files.clone()).await {
                    Ok(host) => self.state.host = Some(host),
                    Err(e) => {
                        tracing::error!("{e}");
                        info.reason = Some(e.to_string());
                        self.state
                            .entries
                            .push(Entry::unloaded(info, path, candidate.id));
                        continue;
                    }
                }
            }
            let Some(host) = self.state.host.as_mut() else {
                continue;
            };
            let request = ToHost::Load {
                fd: opened.file.as_raw_fd(),
                path: path.display().to_string(),
            };
            match host.call(&request, settings.timeout).await {
                Ok(FromHost::Loaded {
                    plugin,
                    name,
                    version,
                    formats,
                    events,
                }) => {
                    info.name = name.clone();
                    info.version = version;
                    info.events = events;
                    info.formats = formats
                        .into_iter()
                        .filter(|f| {
                            let builtin = f == "json";
                            if builtin {
                                tracing::warn!(plugin = %name, "format 'json' is built in; the plugin's is ignored");
                            }
                            !builtin
                        })
                        .collect();
                    if let Some(other) = self
                        .state
                        .entries
                        .iter()
                        .find(|e| e.index.is_some() && e.info.name == name)
                    {
                        info.reason = Some(format!(
                            "another plugin named '{name}' is loaded from {}",
                            other.path.display()
                        ));
                        self.state
                            .entries
                            .push(Entry::unloaded(info, path, candidate.id));
                        continue;
                    }
                    info.state = PluginState::Loaded;
                    tracing::info!(plugin = %name, path = %path.display(), "plugin loaded");
                    self.state.entries.push(Entry {
                        info,
                        path,
                        id: candidate.id,
                        index: Some(plugin),
                    });
                }
                Ok(FromHost::Refused { reason }) => {
                    tracing::warn!(path = %path.display(), "plugin refused: {reason}");
                    info.reason = Some(reason);
                    self.state
                        .entries
                        .push(Entry::unloaded(info, path, candidate.id));
                }
                Ok(other) => {
                    self.quarantine(
                        &path,
                        candidate.id,
                        None,
                        format!("answered a load with {}", other.name()),
                    )
                    .await;
                    return false;
                }
                Err(e) => {
                    self.quarantine(&path, candidate.id, None, format!("{e} while loading"))
                        .await;
                    return false;
                }
            }
        }
        true
    }

    /// Records a quarantine and drops the host (it is dead or untrusted).
    async fn quarantine(
        &mut self,
        path: &Path,
        id: Option<FileId>,
        info: Option<PluginInfo>,
        reason: String,
    ) {
        tracing::error!(path = %path.display(), "plugin quarantined: {reason}");
        self.state.quarantine.insert(
            path.to_path_buf(),
            Quarantined {
                id,
                reason: format!("{reason}; quarantined until the file changes"),
                info,
            },
        );
        if let Some(mut host) = self.state.host.take() {
            host.kill().await;
        }
        self.state.fingerprint = None;
    }

    /// Calls plugin `entry` in the host; a crash or hang quarantines it and
    /// brings up a new host for the others.
    async fn call(&mut self, entry: usize, request: ToHost, doing: &str) -> Result<String, String> {
        let timeout = self.settings().timeout;
        let (name, index, path, id) = {
            let e = &self.state.entries[entry];
            (e.info.name.clone(), e.index, e.path.clone(), e.id)
        };
        let Some(host) = self.state.host.as_mut().filter(|_| index.is_some()) else {
            return Err(format!("plugin '{name}' is not loaded"));
        };
        let result = host.call(&request, timeout).await;
        match result {
            Ok(FromHost::Output { text }) => {
                self.state.entries[entry].info.last_error = None;
                Ok(text)
            }
            Ok(FromHost::Failed { reason }) => {
                tracing::warn!(plugin = %name, "{doing}: {reason}");
                self.state.entries[entry].info.last_error = Some(reason.clone());
                Err(format!("plugin '{name}' failed while {doing}: {reason}"))
            }
            Ok(other) => {
                let reason = format!("answered {doing} with {}", other.name());
                let info = self.state.entries[entry].info.clone();
                self.quarantine(&path, id, Some(info), reason.clone()).await;
                self.ensure_current().await;
                Err(format!("plugin '{name}' {reason}; it is quarantined"))
            }
            Err(
                e @ (HostError::Died(_)
                | HostError::TimedOut(_)
                | HostError::Spawn(_)
                | HostError::Forged(_)),
            ) => {
                let reason = format!("{e} while {doing}");
                let info = self.state.entries[entry].info.clone();
                self.quarantine(&path, id, Some(info), reason.clone()).await;
                // The other plugins get a new host at once.
                self.ensure_current().await;
                Err(format!(
                    "plugin '{name}' {reason}; it is quarantined until its file changes"
                ))
            }
        }
    }

    /// Calls `on_event` of the plugin listed as `entry` (named `name`,
    /// number `index` in the host) — unless a crash since it was listed
    /// brought up a new host and moved the entries: then `None`.
    async fn call_event(
        &mut self,
        entry: usize,
        (name, index): (&str, usize),
        event: &str,
        input: String,
        doing: &str,
    ) -> Option<Result<String, String>> {
        self.state
            .entries
            .get(entry)
            .filter(|e| e.info.name == name && e.index == Some(index))?;
        let request = ToHost::Event {
            plugin: index,
            event: event.to_string(),
            input,
        };
        Some(self.call(entry, request, doing).await)
    }

    /// Records a plugin's problem where `mws plugins list` shows it.
    fn note(&mut self, entry: usize, problem: String) {
        if let Some(entry) = self.state.entries.get_mut(entry) {
            entry.info.last_error = Some(problem);
        }
    }

    /// The formats `--format` accepts now: `json` and every loaded plugin's.
    fn formats(&self) -> Vec<String> {
        let mut formats = vec!["json".to_string()];
        for e in self.state.entries.iter().filter(|e| e.index.is_some()) {
            for f in &e.info.formats {
                if !formats.contains(f) {
                    formats.push(f.clone());
                }
            }
        }
        formats[1..].sort();
        formats
    }

    /// Renders rows (the client's `--json` text) with the plugin that offers
    /// `format`.
    async fn render(
        &mut self,
        format: &str,
        kind: &str,
        json: &str,
    ) -> Result<String, PluginError> {
        let rows: Value =
            serde_json::from_str(json).map_err(|e| PluginError::BadRows(e.to_string()))?;
        self.ensure_current().await;
        let Some(entry) = self
            .state
            .entries
            .iter()
            .position(|e| e.index.is_some() && e.info.formats.iter().any(|f| f == format))
        else {
            return Err(PluginError::UnknownFormat {
                format: format.to_string(),
                available: self.formats().join(", "),
            });
        };
        let name = self.state.entries[entry].info.name.clone();
        let config = self
            .settings()
            .config
            .get(&name)
            .cloned()
            .unwrap_or(json!({}));
        let input = json!({"format": format, "kind": kind, "rows": rows, "config": config});
        let request = ToHost::Render {
            plugin: self.state.entries[entry].index.unwrap_or_default(),
            format: format.to_string(),
            input: input.to_string(),
        };
        let result = self
            .call(entry, request, &format!("rendering format '{format}'"))
            .await
            .map_err(PluginError::Call);
        self.publish();
        result
    }
}
