//! Plugins: output formats and alert policies from dynamic libraries, kept
//! out of the daemon's address space.
//!
//! The daemon never loads a plugin itself. It finds candidate files and
//! checks them ([`discover`]), then hands them to a plugin host, a child
//! process (`mwsd --plugin-host`, [`child`]) started with no environment and
//! so no credentials, over a pipe ([`protocol`], [`host`]). A plugin that
//! returns an error or panics costs that one request a clear error. A plugin
//! that kills the host (abort, segfault) or hangs is *quarantined* — not
//! loaded again until its file changes — and a new host is started with the
//! others; the daemon, its cache and the other plugins are untouched.
//! Libraries are never unloaded: any change to the set of files means a new
//! host.
//!
//! Uses: `Request::Render` (`--format NAME`) goes to the plugin offering that
//! format; every fresh token list goes, as the `tokens.refreshed` event, to
//! the plugins that want it, whose alerts are announced once per token and
//! level ([`alerts`]) as `alert.<kind>` events (to `mws watch` subscribers
//! and desktop notifications) and listed by `Request::Alerts`.
//!
//! The set of files is re-read when a plugin folder changes (notify), and
//! checked again on every plugin request and token refresh, so a plugin
//! added or replaced while the daemon runs is picked up either way.

pub mod alerts;
pub mod child;
pub mod discover;
pub mod host;
pub mod protocol;

use crate::workspace::SharedSettings;
use discover::{Candidate, FileId};
use host::{Host, HostError};
use mws_ipc::{Alert, ErrorKind, ErrorReply, Event, PluginInfo, PluginState, ProxyToken};
use protocol::{FromHost, ToHost};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, mpsc, watch};

/// The event policy plugins get after each token refresh.
pub const TOKENS_REFRESHED: &str = "tokens.refreshed";
/// Default time a plugin call may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Refreshes waiting to be judged; more are dropped (the next poll judges
/// the list again anyway).
const QUEUE: usize = 64;
/// Quiet time after the last file event in a plugin folder.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// `[plugins]` in mws's config file.
///
/// ```toml
/// [plugins]
/// dirs = ["~/src/my-plugins"]   # besides $XDG_DATA_HOME/mws/plugins
/// timeout_secs = 10             # per call
///
/// [plugins.expiry]              # passed to the plugin named `expiry`, as JSON
/// max_age_days = 90
/// warn_days = 14
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSettings {
    pub dirs: Vec<PathBuf>,
    pub timeout: Duration,
    /// Each plugin's own table, by plugin name.
    pub config: BTreeMap<String, Value>,
}

impl Default for PluginSettings {
    fn default() -> Self {
        Self {
            dirs: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            config: BTreeMap::new(),
        }
    }
}

impl PluginSettings {
    /// Reads the `[plugins]` table (absent = defaults).
    pub fn parse(table: Option<&toml::Value>) -> Result<Self, String> {
        let mut settings = Self::default();
        let Some(table) = table else {
            return Ok(settings);
        };
        let Some(table) = table.as_table() else {
            return Err("[plugins] must be a table".into());
        };
        for (key, value) in table {
            match (key.as_str(), value) {
                ("dirs", toml::Value::Array(items)) => {
                    for item in items {
                        let Some(dir) = item.as_str().filter(|d| !d.is_empty()) else {
                            return Err("[plugins] dirs must be a list of folder names".into());
                        };
                        settings.dirs.push(expand_home(dir));
                    }
                }
                ("dirs", _) => return Err("[plugins] dirs must be a list of folder names".into()),
                ("timeout_secs", v) => match v.as_float().or(v.as_integer().map(|i| i as f64)) {
                    Some(secs) if secs > 0.0 && secs.is_finite() => {
                        settings.timeout = Duration::from_secs_f64(secs)
                    }
                    _ => return Err("[plugins] timeout_secs must be a number above 0".into()),
                },
                (name, toml::Value::Table(_)) => {
                    let json = serde_json::to_value(value)
                        .map_err(|e| format!("[plugins.{name}] cannot be passed on: {e}"))?;
                    settings.config.insert(name.to_string(), json);
                }
                (other, _) => {
                    return Err(format!(
                        "[plugins] unknown key '{other}' (known: dirs, timeout_secs, and a table per plugin)"
                    ))
                }
            }
        }
        Ok(settings)
    }
}

fn expand_home(dir: &str) -> PathBuf {
    match dir.strip_prefix("~/") {
        Some(rest) => {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/".into())).join(rest)
        }
        None => PathBuf::from(dir),
    }
}

/// Told about every token list fetched from the server.
///
/// Implementations must return at once (the caller is a request or the
/// poller); [`Plugins`] queues the list and judges it on its own task.
pub trait TokenObserver: Send + Sync {
    fn tokens_refreshed(&self, server_url: &str, workspace: &str, tokens: &[ProxyToken]);
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

fn internal(message: impl Into<String>) -> ErrorReply {
    ErrorReply {
        kind: ErrorKind::Internal,
        message: message.into(),
    }
}

/// One token refresh waiting to be judged.
struct Refreshed {
    server_url: String,
    workspace: String,
    tokens: Vec<ProxyToken>,
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
    /// Results of the file checks, per file version.
    checks: HashMap<PathBuf, (Option<FileId>, Result<(), String>)>,
    watched: Vec<PathBuf>,
}

/// The daemon's plugin manager.
pub struct Plugins {
    events: broadcast::Sender<Event>,
    settings: SharedSettings,
    /// The `mwsd` executable to run as host; unset = plugins disabled.
    exe: OnceLock<PathBuf>,
    state: tokio::sync::Mutex<State>,
    book: Mutex<alerts::Book>,
    queue: OnceLock<mpsc::Sender<Refreshed>>,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Plugins {
    /// A manager that does nothing until [`Plugins::start`].
    pub fn new(events: broadcast::Sender<Event>, settings: SharedSettings) -> Self {
        Self {
            events,
            settings,
            exe: OnceLock::new(),
            state: tokio::sync::Mutex::new(State::default()),
            book: Mutex::new(alerts::Book::default()),
            queue: OnceLock::new(),
            watcher: Mutex::new(None),
        }
    }

    /// Enables plugins, hosted by `exe --plugin-host` (call once, on the
    /// runtime): starts the refresh judge and the folder watcher, and loads
    /// what is there.
    pub fn start(self: &Arc<Self>, exe: PathBuf, mut shutdown: watch::Receiver<bool>) {
        if self.exe.set(exe).is_err() {
            return;
        }
        let (tx, mut rx) = mpsc::channel::<Refreshed>(QUEUE);
        let _ = self.queue.set(tx);
        let (changed_tx, mut changed_rx) = mpsc::unbounded_channel::<()>();
        match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok() {
                let _ = changed_tx.send(());
            }
        }) {
            Ok(w) => *self.watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(w),
            Err(e) => tracing::warn!("plugin folders are not watched: {e}"),
        }
        let this = self.clone();
        tokio::spawn(async move {
            this.refresh().await;
            loop {
                tokio::select! {
                    got = rx.recv() => match got {
                        Some(refreshed) => this.judge(refreshed).await,
                        None => return,
                    },
                    got = changed_rx.recv() => {
                        if got.is_none() { return }
                        // Debounce: a copy arrives as several events.
                        while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, changed_rx.recv()).await {}
                        this.refresh().await;
                    }
                    _ = shutdown.changed() => return,
                }
            }
        });
    }

    /// Re-reads the plugin folders now.
    pub async fn refresh(&self) {
        let mut state = self.state.lock().await;
        self.ensure_current(&mut state).await;
    }

    fn settings(&self) -> PluginSettings {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .plugins
            .clone()
    }

    fn watch(&self, state: &mut State, dirs: &[PathBuf]) {
        use notify::Watcher;
        let mut watcher = self.watcher.lock().unwrap_or_else(|p| p.into_inner());
        let Some(watcher) = watcher.as_mut() else {
            return;
        };
        for dir in dirs {
            if !state.watched.contains(dir) && dir.is_dir() {
                match watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                    Ok(()) => state.watched.push(dir.clone()),
                    Err(e) => tracing::debug!(dir = %dir.display(), "cannot watch: {e}"),
                }
            }
        }
    }

    /// Makes the host match the files on disk: rescans, and rebuilds when
    /// anything changed or the host is gone.
    async fn ensure_current(&self, state: &mut State) {
        if self.exe.get().is_none() {
            return;
        }
        let settings = self.settings();
        let dirs = discover::dirs(&settings.dirs);
        self.watch(state, &dirs);
        let scan = discover::scan(&dirs);
        let fingerprint: Fingerprint = scan
            .iter()
            .map(|(c, _)| (c.path.clone(), c.id, c.problem.clone()))
            .collect();
        let needs_host = state.entries.iter().any(|e| e.index.is_some());
        let host_alive = match state.host.as_mut() {
            Some(host) => host.is_alive(),
            None => !needs_host,
        };
        if state.fingerprint.as_ref() == Some(&fingerprint) && host_alive {
            return;
        }
        if !host_alive && state.fingerprint.as_ref() == Some(&fingerprint) {
            tracing::warn!("the plugin host exited by itself; starting a new one");
        }
        self.rebuild(state, scan, &settings).await;
        state.fingerprint = Some(fingerprint);
    }

    /// Starts a new host and loads every file that passes the checks.
    async fn rebuild(
        &self,
        state: &mut State,
        scan: Vec<(Candidate, Option<std::fs::Metadata>)>,
        settings: &PluginSettings,
    ) {
        if let Some(mut old) = state.host.take() {
            old.kill().await;
        }
        // A quarantine lasts until the file changes or goes.
        state
            .quarantine
            .retain(|path, q| scan.iter().any(|(c, _)| &c.path == path && c.id == q.id));
        let mut checked: Vec<(Candidate, Result<(), String>)> = Vec::new();
        for (candidate, meta) in scan {
            let result = match (&candidate.problem, &meta) {
                (Some(problem), _) => Err(problem.clone()),
                (None, None) => Err("cannot read the file".to_string()),
                (None, Some(meta)) => match state.checks.get(&candidate.path) {
                    Some((id, result)) if *id == candidate.id => result.clone(),
                    _ => {
                        let result = discover::check_file(&candidate.path, meta);
                        state
                            .checks
                            .insert(candidate.path.clone(), (candidate.id, result.clone()));
                        result
                    }
                },
            };
            checked.push((candidate, result));
        }
        let exe = self.exe.get().cloned().unwrap_or_default();
        // Each pass either loads everything or quarantines one more file
        // (the one that crashed the host) and starts over with a new host.
        for _ in 0..=checked.len() {
            state.entries.clear();
            if self.load_all(state, &checked, &exe, settings).await {
                break;
            }
        }
        let loaded = state.entries.iter().filter(|e| e.index.is_some()).count();
        tracing::info!(
            files = state.entries.len(),
            loaded,
            "plugins {}",
            if state.host.is_some() {
                "loaded"
            } else {
                "found (no host needed)"
            }
        );
    }

    /// One loading pass; false when the host died and the pass must be redone.
    async fn load_all(
        &self,
        state: &mut State,
        checked: &[(Candidate, Result<(), String>)],
        exe: &Path,
        settings: &PluginSettings,
    ) -> bool {
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
            if let Err(problem) = result {
                info.reason = Some(problem.clone());
                state
                    .entries
                    .push(Entry::unloaded(info, path, candidate.id));
                continue;
            }
            if let Some(q) = state.quarantine.get(&path) {
                if let Some(known) = &q.info {
                    info = known.clone();
                }
                info.state = PluginState::Quarantined;
                info.reason = Some(q.reason.clone());
                state
                    .entries
                    .push(Entry::unloaded(info, path, candidate.id));
                continue;
            }
            if state.host.is_none() {
                match Host::spawn(exe, settings.timeout).await {
                    Ok(host) => state.host = Some(host),
                    Err(e) => {
                        tracing::error!("{e}");
                        info.reason = Some(e.to_string());
                        state
                            .entries
                            .push(Entry::unloaded(info, path, candidate.id));
                        continue;
                    }
                }
            }
            let Some(host) = state.host.as_mut() else {
                continue;
            };
            let request = ToHost::Load {
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
                    if let Some(other) = state
                        .entries
                        .iter()
                        .find(|e| e.index.is_some() && e.info.name == name)
                    {
                        info.reason = Some(format!(
                            "another plugin named '{name}' is loaded from {}",
                            other.path.display()
                        ));
                        state
                            .entries
                            .push(Entry::unloaded(info, path, candidate.id));
                        continue;
                    }
                    info.state = PluginState::Loaded;
                    tracing::info!(plugin = %name, path = %path.display(), "plugin loaded");
                    state.entries.push(Entry {
                        info,
                        path,
                        id: candidate.id,
                        index: Some(plugin),
                    });
                }
                Ok(FromHost::Refused { reason }) => {
                    tracing::warn!(path = %path.display(), "plugin refused: {reason}");
                    info.reason = Some(reason);
                    state
                        .entries
                        .push(Entry::unloaded(info, path, candidate.id));
                }
                Ok(other) => {
                    self.quarantine(
                        state,
                        &path,
                        candidate.id,
                        None,
                        format!("answered a load with {}", other.name()),
                    )
                    .await;
                    return false;
                }
                Err(e) => {
                    self.quarantine(
                        state,
                        &path,
                        candidate.id,
                        None,
                        format!("{e} while loading"),
                    )
                    .await;
                    return false;
                }
            }
        }
        true
    }

    /// Records a quarantine and drops the host (it is dead or untrusted).
    async fn quarantine(
        &self,
        state: &mut State,
        path: &Path,
        id: Option<FileId>,
        info: Option<PluginInfo>,
        reason: String,
    ) {
        tracing::error!(path = %path.display(), "plugin quarantined: {reason}");
        state.quarantine.insert(
            path.to_path_buf(),
            Quarantined {
                id,
                reason: format!("{reason}; quarantined until the file changes"),
                info,
            },
        );
        if let Some(mut host) = state.host.take() {
            host.kill().await;
        }
        state.fingerprint = None;
    }

    /// Calls plugin `entry` in the host; a crash or hang quarantines it and
    /// brings up a new host for the others.
    async fn call(
        &self,
        state: &mut State,
        entry: usize,
        request: ToHost,
        doing: &str,
    ) -> Result<String, String> {
        let timeout = self.settings().timeout;
        let (name, index, path, id) = {
            let e = &state.entries[entry];
            (e.info.name.clone(), e.index, e.path.clone(), e.id)
        };
        let Some(host) = state.host.as_mut().filter(|_| index.is_some()) else {
            return Err(format!("plugin '{name}' is not loaded"));
        };
        let result = host.call(&request, timeout).await;
        match result {
            Ok(FromHost::Output { text }) => {
                state.entries[entry].info.last_error = None;
                Ok(text)
            }
            Ok(FromHost::Failed { reason }) => {
                tracing::warn!(plugin = %name, "{doing}: {reason}");
                state.entries[entry].info.last_error = Some(reason.clone());
                Err(format!("plugin '{name}' failed while {doing}: {reason}"))
            }
            Ok(other) => {
                let reason = format!("answered {doing} with {}", other.name());
                let info = state.entries[entry].info.clone();
                self.quarantine(state, &path, id, Some(info), reason.clone())
                    .await;
                self.ensure_current(state).await;
                Err(format!("plugin '{name}' {reason}; it is quarantined"))
            }
            Err(e @ (HostError::Died(_) | HostError::TimedOut(_) | HostError::Spawn(_))) => {
                let reason = format!("{e} while {doing}");
                let info = state.entries[entry].info.clone();
                self.quarantine(state, &path, id, Some(info), reason.clone())
                    .await;
                // The other plugins get a new host at once.
                self.ensure_current(state).await;
                Err(format!(
                    "plugin '{name}' {reason}; it is quarantined until its file changes"
                ))
            }
        }
    }

    /// Every plugin file and its state (`mws plugins list`).
    pub async fn list(&self) -> Vec<PluginInfo> {
        let mut state = self.state.lock().await;
        self.ensure_current(&mut state).await;
        state.entries.iter().map(|e| e.info.clone()).collect()
    }

    /// The formats `--format` accepts now: `json` and every loaded plugin's.
    fn formats(state: &State) -> Vec<String> {
        let mut formats = vec!["json".to_string()];
        for e in state.entries.iter().filter(|e| e.index.is_some()) {
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
    pub async fn render(&self, format: &str, kind: &str, json: &str) -> Result<String, ErrorReply> {
        if self.exe.get().is_none() {
            return Err(internal("plugins are not enabled in this daemon"));
        }
        let rows: Value = serde_json::from_str(json).map_err(|e| ErrorReply {
            kind: ErrorKind::BadRequest,
            message: format!("the rows to render are not valid JSON: {e}"),
        })?;
        let mut state = self.state.lock().await;
        self.ensure_current(&mut state).await;
        let Some(entry) = state
            .entries
            .iter()
            .position(|e| e.index.is_some() && e.info.formats.iter().any(|f| f == format))
        else {
            return Err(ErrorReply {
                kind: ErrorKind::BadRequest,
                message: format!(
                    "unknown format '{format}' (available: {})",
                    Self::formats(&state).join(", ")
                ),
            });
        };
        let name = state.entries[entry].info.name.clone();
        let config = self
            .settings()
            .config
            .get(&name)
            .cloned()
            .unwrap_or(json!({}));
        let input = json!({"format": format, "kind": kind, "rows": rows, "config": config});
        let request = ToHost::Render {
            plugin: state.entries[entry].index.unwrap_or_default(),
            format: format.to_string(),
            input: input.to_string(),
        };
        self.call(
            &mut state,
            entry,
            request,
            &format!("rendering format '{format}'"),
        )
        .await
        .map_err(internal)
    }

    /// The current alerts (`mws alerts`).
    pub fn alerts(&self) -> Vec<Alert> {
        self.book.lock().unwrap_or_else(|p| p.into_inner()).all()
    }

    /// Hands a fresh token list to every plugin that wants it, and
    /// announces new alerts.
    async fn judge(&self, refreshed: Refreshed) {
        let mut state = self.state.lock().await;
        self.ensure_current(&mut state).await;
        let wanting: Vec<(usize, String, usize)> = state
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.info.events.iter().any(|ev| ev == TOKENS_REFRESHED))
            .filter_map(|(i, e)| e.index.map(|index| (i, e.info.name.clone(), index)))
            .collect();
        let settings = self.settings();
        for (entry, name, index) in wanting {
            let time = now();
            let input = json!({
                "event": TOKENS_REFRESHED,
                "server_url": refreshed.server_url,
                "workspace": refreshed.workspace,
                "now": time,
                "tokens": refreshed.tokens,
                "config": settings.config.get(&name).cloned().unwrap_or(json!({})),
            });
            let request = ToHost::Event {
                plugin: index,
                event: TOKENS_REFRESHED.to_string(),
                input: input.to_string(),
            };
            let doing = format!("handling '{TOKENS_REFRESHED}'");
            // A crash shifts entries around (new host): re-find by name.
            let Some(entry) = state
                .entries
                .get(entry)
                .filter(|e| e.info.name == name && e.index == Some(index))
                .map(|_| entry)
            else {
                continue;
            };
            let output = match self.call(&mut state, entry, request, &doing).await {
                Ok(output) => output,
                Err(e) => {
                    tracing::warn!("{e}");
                    continue;
                }
            };
            let verdicts = match alerts::parse(&output, &name) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(plugin = %name, "{e}");
                    if let Some(entry) = state.entries.get_mut(entry) {
                        entry.info.last_error = Some(e);
                    }
                    continue;
                }
            };
            let fresh = self.book.lock().unwrap_or_else(|p| p.into_inner()).update(
                &refreshed.server_url,
                &refreshed.workspace,
                &name,
                verdicts,
                time,
            );
            for alert in fresh {
                tracing::info!(plugin = %name, token = %alert.token_id, level = %alert.level, "alert");
                let _ = self.events.send(Event {
                    kind: format!("alert.{}", alert.kind),
                    time,
                    workspace: alert.workspace.clone(),
                    server_url: alert.server_url.clone(),
                    before: "null".into(),
                    after: serde_json::to_string(&alert).unwrap_or_default(),
                });
            }
        }
    }
}

impl TokenObserver for Plugins {
    fn tokens_refreshed(&self, server_url: &str, workspace: &str, tokens: &[ProxyToken]) {
        let Some(queue) = self.queue.get() else {
            return;
        };
        let refreshed = Refreshed {
            server_url: server_url.to_string(),
            workspace: workspace.to_string(),
            tokens: tokens.to_vec(),
        };
        if queue.try_send(refreshed).is_err() {
            tracing::debug!("plugin queue full; this refresh is not judged");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read() {
        let table: toml::Table = "[plugins]\ndirs = ['/opt/p', '~/q']\ntimeout_secs = 2\n[plugins.expiry]\nmax_age_days = 30\n"
            .parse()
            .unwrap();
        let s = PluginSettings::parse(table.get("plugins")).unwrap();
        assert_eq!(s.dirs[0], PathBuf::from("/opt/p"));
        assert!(s.dirs[1].ends_with("q"));
        assert_eq!(s.timeout, Duration::from_secs(2));
        assert_eq!(s.config["expiry"], json!({"max_age_days": 30}));
    }

    #[test]
    fn bad_settings_are_named() {
        for (text, word) in [
            ("[plugins]\ndirs = 'x'", "dirs"),
            ("[plugins]\ntimeout_secs = 0", "timeout_secs"),
            ("[plugins]\nwhat = 1", "what"),
        ] {
            let table: toml::Table = text.parse().unwrap();
            let err = PluginSettings::parse(table.get("plugins")).unwrap_err();
            assert!(err.contains(word), "{err}");
        }
    }
}
