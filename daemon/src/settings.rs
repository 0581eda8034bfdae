//! The daemon's own settings: cache ages, polling, notifications.
//!
//! Read from `$XDG_CONFIG_HOME/mws/config.toml` (else
//! `~/.config/mws/config.toml`), then overridden by `MWS_*` variables in the
//! daemon's environment. Every key is optional:
//!
//! ```toml
//! [cache]
//! max_age_secs = 5        # reads younger than this are served from memory
//!
//! [poll]
//! interval_secs = 30      # background refresh of identities in use
//! idle_after_secs = 600   # stop polling an identity nobody asked about
//!
//! [notifications]
//! enabled = true
//! events = ["token.created", "token.deleted", "member.joined", "member.left"]
//!
//! [connections]
//! idle_secs = 600         # close a client connection silent this long after its hello
//!
//! [metrics]
//! listen = "127.0.0.1:9464"   # serve /metrics to Prometheus (off by default; read at start)
//!
//! [webhooks]                  # see `webhooks::settings`
//! [webhooks.endpoints.team]
//! url = "https://hooks.example.com/mws"
//! ```
//!
//! A number of seconds is between 0 and
//! [`MAX_SECS`](crate::setting_values::MAX_SECS) (a year); anything
//! else (`1e300`, `-5`, `nan`, a string) makes the file invalid: its last
//! good version (at start, the defaults) stays in use and `mws daemon status`
//! names the key and the value. A bad `MWS_*_SECS` variable is ignored and
//! named there too.
//!
//! Why 5 seconds: someone who just changed a token on Modal's dashboard and
//! runs `mws` again sees it after at most a few seconds, while a script that
//! calls `mws` in a tight loop makes at most one upstream call per collection
//! every 5 seconds. `--max-age 0` / `MWS_MAX_AGE=0` always asks the server.

use crate::files::{read_text, FileError, CONFIG_CAP};
use crate::setting_values::{checked_count, checked_secs, range, toml_secs, Floor};
use crate::webhooks::settings::WebhookSettings;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Settings shared by the daemon, its sessions and the plugin manager
/// (replaced whole on a hot reload).
pub(crate) type SharedSettings = Arc<RwLock<Settings>>;

/// Default maximum age of a cached read.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5);
/// Default interval between background refreshes.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);
/// Default idle time after which an identity is no longer polled.
pub const DEFAULT_IDLE_AFTER: Duration = Duration::from_secs(600);
/// Scoped tokens whose environments are checked per poll (bounded work).
pub const SCOPED_CHECKS_PER_POLL: usize = 20;
/// Default time a client connection may stay silent after its hello (a
/// `watch` stream is never idle).
pub const DEFAULT_IDLE_CONNECTION: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub max_age: Duration,
    pub poll_interval: Duration,
    pub idle_after: Duration,
    pub notifications: bool,
    pub notify_events: Vec<String>,
    /// `[connections] idle_secs`: a connection silent this long between
    /// requests is closed.
    pub idle_connection: Duration,
    /// `[plugins]`: extra folders, call timeout, each plugin's own table.
    pub plugins: PluginSettings,
    /// `[metrics] listen`: where to serve `/metrics` (off when `None`).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `[webhooks]`: endpoints and delivery (see `webhooks::settings`).
    pub(crate) webhooks: WebhookSettings,
}

impl Settings {
    /// True when events of `kind` raise a desktop notification
    /// (`alert.*` in the list stands for every alert kind).
    pub(crate) fn notifies(&self, kind: &str) -> bool {
        self.notify_events
            .iter()
            .any(|e| e == kind || (e == "alert.*" && kind.starts_with("alert.")))
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_age: DEFAULT_MAX_AGE,
            poll_interval: DEFAULT_POLL_INTERVAL,
            idle_after: DEFAULT_IDLE_AFTER,
            notifications: true,
            notify_events: [
                "token.created",
                "token.deleted",
                "member.joined",
                "member.left",
                "service_user.created",
                "service_user.deleted",
                // Every plugin's alerts (or name one: `alert.token_age`).
                "alert.*",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            idle_connection: DEFAULT_IDLE_CONNECTION,
            plugins: PluginSettings::default(),
            metrics_listen: None,
            webhooks: WebhookSettings::default(),
        }
    }
}

/// Why mws's config file could not be used (its last good version, or the
/// defaults, stay in use).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("Could not read the mws config file {path}: {source}")]
    Unreadable { path: String, source: FileError },
    #[error("Invalid mws config file {path}: {reason}")]
    Invalid { path: String, reason: String },
}

/// Where mws's own config file lives.
pub fn config_file() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/".into())).join(".config")
        });
    base.join("mws").join("config.toml")
}

fn seconds(
    table: &toml::Table,
    section: &str,
    key: &str,
    floor: Floor,
) -> Result<Option<Duration>, String> {
    match table.get(section).and_then(|s| s.get(key)) {
        None => Ok(None),
        Some(value) => toml_secs(&format!("{section}.{key}"), value, floor).map(Some),
    }
}

/// A TOML syntax error in one line, with the line it is on (TOML's own
/// message does not always name the key: `integer … as i128`).
fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().replace('\n', " ");
    let Some(before) = e.span().and_then(|span| text.get(..span.start)) else {
        return message;
    };
    let number = before.matches('\n').count() + 1;
    let line: String = text
        .lines()
        .nth(number - 1)
        .unwrap_or_default()
        .trim()
        .chars()
        .take(60)
        .collect();
    format!("line {number} `{line}`: {message}")
}

/// Parses a config file's text over the defaults.
pub fn parse(text: &str) -> Result<Settings, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| syntax_error(text, &e))?;
    let mut settings = Settings {
        plugins: PluginSettings::parse(table.get("plugins"))?,
        webhooks: WebhookSettings::parse(table.get("webhooks"))?,
        ..Settings::default()
    };
    if let Some(d) = seconds(&table, "cache", "max_age_secs", Floor::Zero)? {
        settings.max_age = d;
    }
    if let Some(d) = seconds(&table, "poll", "interval_secs", Floor::AboveZero)? {
        settings.poll_interval = d;
    }
    if let Some(d) = seconds(&table, "poll", "idle_after_secs", Floor::Zero)? {
        settings.idle_after = d;
    }
    if let Some(d) = seconds(&table, "connections", "idle_secs", Floor::AboveZero)? {
        settings.idle_connection = d;
    }
    if let Some(metrics) = table.get("metrics") {
        match metrics.get("listen") {
            None => {}
            Some(toml::Value::String(addr)) => {
                settings.metrics_listen = Some(addr.parse().map_err(|_| {
                    format!("[metrics] listen: '{addr}' is not an address and port like \"127.0.0.1:9464\"")
                })?)
            }
            Some(_) => {
                return Err(
                    "[metrics] listen must be an address and port like \"127.0.0.1:9464\"".into(),
                )
            }
        }
    }
    if let Some(notifications) = table.get("notifications") {
        match notifications.get("enabled") {
            None => {}
            Some(toml::Value::Boolean(b)) => settings.notifications = *b,
            Some(_) => return Err("[notifications] enabled must be true or false".into()),
        }
        match notifications.get("events") {
            None => {}
            Some(toml::Value::Array(items)) => {
                let mut events = Vec::new();
                for item in items {
                    let Some(name) = item.as_str() else {
                        return Err("[notifications] events must be a list of strings".into());
                    };
                    if !crate::events::Change::KINDS.contains(&name) && !name.starts_with("alert.")
                    {
                        return Err(format!(
                            "[notifications] unknown event '{name}' (known: {})",
                            crate::events::Change::KINDS.join(", ")
                        ));
                    }
                    events.push(name.to_string());
                }
                settings.notify_events = events;
            }
            Some(_) => return Err("[notifications] events must be a list of strings".into()),
        }
    }
    Ok(settings)
}

/// Applies `MWS_*` overrides read through `var`; a variable that is not a
/// usable number of seconds is ignored, and named in the returned errors.
fn apply_vars(settings: &mut Settings, var: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut errors = Vec::new();
    let mut secs = |name: &str, floor: Floor| -> Option<Duration> {
        let raw = var(name)?;
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        let shown: String = raw.chars().take(40).collect();
        let checked = match raw.parse::<f64>() {
            Ok(value) => checked_secs(name, &shown, value, floor),
            Err(_) => Err(format!(
                "{name}: '{shown}' is not a number of seconds ({})",
                range(floor)
            )),
        };
        checked.map_err(|e| errors.push(e)).ok()
    };
    if let Some(d) = secs("MWS_POLL_INTERVAL_SECS", Floor::AboveZero) {
        settings.poll_interval = d;
    }
    if let Some(d) = secs("MWS_IDLE_AFTER_SECS", Floor::Zero) {
        settings.idle_after = d;
    }
    if let Some(d) = secs("MWS_DEFAULT_MAX_AGE_SECS", Floor::Zero) {
        settings.max_age = d;
    }
    if let Some(d) = secs("MWS_IDLE_CONNECTION_SECS", Floor::AboveZero) {
        settings.idle_connection = d;
    }
    if let Some(raw) = var("MWS_PLUGIN_MAX_MEMORY_MIB").filter(|v| !v.trim().is_empty()) {
        let raw = raw.trim();
        let value = match raw.parse::<i64>() {
            Ok(n) => toml::Value::Integer(n),
            Err(_) => toml::Value::String(raw.chars().take(40).collect()),
        };
        match checked_count(
            "MWS_PLUGIN_MAX_MEMORY_MIB",
            &value,
            MIN_PLUGIN_MEMORY_MIB,
            MAX_PLUGIN_MEMORY_MIB,
        ) {
            Ok(mib) => settings.plugins.max_memory_mib = mib,
            Err(e) => errors.push(e),
        }
    }
    errors
}

/// Applies `MWS_*` overrides from the daemon's environment; returns the
/// variables ignored, and why.
fn apply_env(settings: &mut Settings) -> Vec<String> {
    apply_vars(settings, |name| {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    })
}

/// What [`load`] found.
#[derive(Debug)]
pub struct Loaded {
    /// The settings to use: the file's (the defaults when it is missing or
    /// unusable) with the usable `MWS_*` variables applied.
    pub settings: Settings,
    /// Why the file could not be used, if it could not.
    pub file_error: Option<SettingsError>,
    /// The `MWS_*` variables that were ignored, and why (one line).
    pub env_error: Option<String>,
}

/// Loads settings from a file (missing = defaults) plus the environment.
/// Never fails: a bad file or variable is reported in the result. Blocks on
/// the file system (from async code, call it off the runtime's workers).
pub fn load(path: &Path) -> Loaded {
    let shown = || path.display().to_string();
    let (mut settings, file_error) = match read_text(path, CONFIG_CAP) {
        Ok(None) => (Settings::default(), None),
        Ok(Some(text)) => match parse(&text) {
            Ok(settings) => (settings, None),
            Err(reason) => (
                Settings::default(),
                Some(SettingsError::Invalid {
                    path: shown(),
                    reason,
                }),
            ),
        },
        Err(source) => (
            Settings::default(),
            Some(SettingsError::Unreadable {
                path: shown(),
                source,
            }),
        ),
    };
    let env_errors = apply_env(&mut settings);
    Loaded {
        settings,
        file_error,
        env_error: (!env_errors.is_empty()).then(|| format!("{}; ignored", env_errors.join("; "))),
    }
}

/// Default time a plugin call may take.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default address-space limit of the plugin host (`RLIMIT_AS`), in MiB.
pub(crate) const DEFAULT_PLUGIN_MEMORY_MIB: u64 = 1024;
/// The range `max_memory_mib` takes: below 64 MiB the host itself cannot
/// start; 1 TiB is beyond any need.
const MIN_PLUGIN_MEMORY_MIB: u64 = 64;
const MAX_PLUGIN_MEMORY_MIB: u64 = 1 << 20;
/// Default `RLIMIT_NPROC` of the plugin host. The kernel counts it per user
/// (every thread of the uid), so it cannot be "a few": it caps a fork bomb
/// started by plugin code at this many tasks of yours in all.
pub(crate) const DEFAULT_PLUGIN_PROCESSES: u64 = 4096;
const MAX_PLUGIN_PROCESSES: u64 = 1 << 22;

/// `[plugins]` in mws's config file.
///
/// ```toml
/// [plugins]
/// dirs = ["~/src/my-plugins"]   # besides $XDG_DATA_HOME/mws/plugins
/// bundled = true                # the plugins that come with mwsd
/// timeout_secs = 10             # per call
/// max_memory_mib = 1024         # the host's address-space limit (RLIMIT_AS)
/// max_processes = 4096          # the host's RLIMIT_NPROC (counted per user)
///
/// [plugins.expiry]              # passed to the plugin named `expiry`, as JSON
/// max_age_days = 90
/// warn_days = 14
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSettings {
    pub dirs: Vec<PathBuf>,
    /// Whether the plugins bundled with mwsd are loaded (`bundled`).
    pub bundled: bool,
    pub timeout: Duration,
    /// The host's address-space limit, in MiB.
    pub max_memory_mib: u64,
    /// The host's process limit (`RLIMIT_NPROC`).
    pub max_processes: u64,
    /// Each plugin's own table, by plugin name.
    pub config: BTreeMap<String, Value>,
}

impl Default for PluginSettings {
    fn default() -> Self {
        Self {
            dirs: Vec::new(),
            bundled: true,
            timeout: DEFAULT_TIMEOUT,
            max_memory_mib: DEFAULT_PLUGIN_MEMORY_MIB,
            max_processes: DEFAULT_PLUGIN_PROCESSES,
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
                ("bundled", toml::Value::Boolean(on)) => settings.bundled = *on,
                ("bundled", _) => return Err("[plugins] bundled must be true or false".into()),
                ("timeout_secs", v) => {
                    settings.timeout = toml_secs("plugins.timeout_secs", v, Floor::AboveZero)?
                }
                ("max_memory_mib", v) => {
                    settings.max_memory_mib = checked_count(
                        "plugins.max_memory_mib",
                        v,
                        MIN_PLUGIN_MEMORY_MIB,
                        MAX_PLUGIN_MEMORY_MIB,
                    )?
                }
                ("max_processes", v) => {
                    settings.max_processes =
                        checked_count("plugins.max_processes", v, 1, MAX_PLUGIN_PROCESSES)?
                }
                (name, toml::Value::Table(_)) => {
                    let json = serde_json::to_value(value)
                        .map_err(|e| format!("[plugins.{name}] cannot be passed on: {e}"))?;
                    settings.config.insert(name.to_string(), json);
                }
                (other, _) => {
                    return Err(format!(
                        "[plugins] unknown key '{other}' (known: dirs, bundled, timeout_secs, max_memory_mib, max_processes, and a table per plugin)"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setting_values::MAX_SECS;
    use serde_json::json;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(parse("").unwrap(), Settings::default());
    }

    #[test]
    fn values_are_read() {
        let s = parse(
            "[cache]\nmax_age_secs = 0\n[poll]\ninterval_secs = 2.5\n[notifications]\nenabled = false\nevents = ['token.renamed']\n",
        )
        .unwrap();
        assert_eq!(s.max_age, Duration::ZERO);
        assert_eq!(s.poll_interval, Duration::from_millis(2500));
        assert!(!s.notifications);
        assert_eq!(s.notify_events, vec!["token.renamed".to_string()]);
    }

    #[test]
    fn bad_numbers_are_errors_never_panics() {
        for (value, shown) in [
            ("1e300", "1e300 is out of range (above 0, up to 31536000)"),
            ("-5", "-5 is out of range"),
            ("-0.5", "-0.5 is out of range"),
            ("nan", "nan is not a number"),
            ("+inf", "inf is out of range"),
            ("-inf", "-inf is out of range"),
            ("9223372036854775807", "9223372036854775807 is out of range"),
            ("31536001", "31536001 is out of range"),
            ("1e-300", "1e-300 is out of range"),
            ("0", "0 is out of range"),
            ("'30'", "\"30\" is not a number of seconds"),
            ("true", "true is not a number of seconds"),
        ] {
            let err = parse(&format!("[poll]\ninterval_secs = {value}\n")).unwrap_err();
            assert!(
                err.starts_with("poll.interval_secs: ") && err.contains(shown),
                "{value}: {err}"
            );
        }
        for (section, key) in [("cache", "max_age_secs"), ("poll", "idle_after_secs")] {
            for value in [
                "1e300",
                "-5",
                "nan",
                "inf",
                "1e19",
                "18446744073709551615.0",
            ] {
                let err = parse(&format!("[{section}]\n{key} = {value}\n")).unwrap_err();
                assert!(err.starts_with(&format!("{section}.{key}: ")), "{err}");
                assert!(err.contains("(0 to 31536000)"), "{err}");
            }
        }
        // Integers beyond i64 are TOML errors, reported with their line.
        let err = parse("[poll]\ninterval_secs = 18446744073709551616\n").unwrap_err();
        assert!(
            err.starts_with("line 2 `interval_secs = 18446744073709551616`: "),
            "{err}"
        );
        // The bounds themselves are fine.
        let s = parse("[cache]\nmax_age_secs = 0\n[poll]\ninterval_secs = 31536000\nidle_after_secs = 31536000.0\n").unwrap();
        assert_eq!(s.poll_interval, Duration::from_secs(MAX_SECS));
        assert_eq!(s.idle_after, Duration::from_secs(MAX_SECS));
        assert_eq!(s.max_age, Duration::ZERO);
        // Arithmetic the poller does on the largest interval cannot overflow.
        assert!(s.poll_interval.checked_mul(256).is_some());
        assert!(s.poll_interval.checked_mul(2).is_some());
    }

    /// A stand-in for the environment.
    fn vars(pairs: &[(&'static str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn bad_variables_are_ignored_and_named() {
        for value in [
            "1e300",
            "-5",
            "nan",
            "NaN",
            "inf",
            "18446744073709551616",
            "abc",
            "0",
        ] {
            let mut settings = Settings::default();
            let errors = apply_vars(
                &mut settings,
                vars(&[
                    ("MWS_POLL_INTERVAL_SECS", value),
                    ("MWS_IDLE_AFTER_SECS", " 7 "),
                ]),
            );
            assert_eq!(errors.len(), 1, "{value}: {errors:?}");
            assert!(
                errors[0].starts_with("MWS_POLL_INTERVAL_SECS: "),
                "{errors:?}"
            );
            assert_eq!(settings.poll_interval, DEFAULT_POLL_INTERVAL);
            assert_eq!(settings.idle_after, Duration::from_secs(7));
        }
        let mut settings = Settings::default();
        let errors = apply_vars(
            &mut settings,
            vars(&[
                ("MWS_POLL_INTERVAL_SECS", "2.5"),
                ("MWS_DEFAULT_MAX_AGE_SECS", "1e300"),
                ("MWS_IDLE_AFTER_SECS", ""),
            ]),
        );
        assert_eq!(settings.poll_interval, Duration::from_millis(2500));
        assert_eq!(settings.max_age, DEFAULT_MAX_AGE);
        assert_eq!(settings.idle_after, DEFAULT_IDLE_AFTER);
        assert_eq!(
            errors,
            vec!["MWS_DEFAULT_MAX_AGE_SECS: 1e300 is out of range (0 to 31536000)".to_string()]
        );
    }

    #[test]
    fn connection_and_plugin_limits_are_checked() {
        let s = parse(
            "[connections]\nidle_secs = 2.5\n[plugins]\nmax_memory_mib = 512\nmax_processes = 64\n",
        )
        .unwrap();
        assert_eq!(s.idle_connection, Duration::from_millis(2500));
        assert_eq!(s.plugins.max_memory_mib, 512);
        assert_eq!(s.plugins.max_processes, 64);
        for value in ["0", "1e300", "nan", "-1"] {
            let err = parse(&format!("[connections]\nidle_secs = {value}\n")).unwrap_err();
            assert!(err.starts_with("connections.idle_secs: "), "{err}");
        }
        let mut settings = Settings::default();
        let errors = apply_vars(
            &mut settings,
            vars(&[
                ("MWS_IDLE_CONNECTION_SECS", "1"),
                ("MWS_PLUGIN_MAX_MEMORY_MIB", "1e300"),
            ]),
        );
        assert_eq!(settings.idle_connection, Duration::from_secs(1));
        assert_eq!(settings.plugins.max_memory_mib, DEFAULT_PLUGIN_MEMORY_MIB);
        assert_eq!(
            errors,
            vec![
                "MWS_PLUGIN_MAX_MEMORY_MIB: \"1e300\" is not a whole number from 64 to 1048576"
                    .to_string()
            ]
        );
        let errors = apply_vars(
            &mut settings,
            vars(&[
                ("MWS_IDLE_CONNECTION_SECS", "0"),
                ("MWS_PLUGIN_MAX_MEMORY_MIB", " 512 "),
            ]),
        );
        assert_eq!(settings.plugins.max_memory_mib, 512);
        assert_eq!(settings.idle_connection, Duration::from_secs(1));
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn an_unusable_file_gives_defaults_and_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let loaded = load(&path);
        assert!(loaded.file_error.is_none());
        std::fs::write(&path, "[poll]\ninterval_secs = 1e300\n").unwrap();
        let loaded = load(&path);
        assert_eq!(loaded.settings.poll_interval, DEFAULT_POLL_INTERVAL);
        let err = loaded.file_error.unwrap().to_string();
        assert!(
            err.contains("poll.interval_secs: 1e300 is out of range"),
            "{err}"
        );
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let err = load(&path).file_error.unwrap().to_string();
        assert!(
            err.contains("character device, not a regular file"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert!(parse("[poll]\ninterval_secs = -1")
            .unwrap_err()
            .contains("interval_secs"));
        assert!(parse("[notifications]\nevents = ['nope']")
            .unwrap_err()
            .contains("nope"));
        assert!(parse("[[[").is_err());
    }

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
            (
                "[plugins]\ntimeout_secs = 1e300",
                "plugins.timeout_secs: 1e300",
            ),
            ("[plugins]\ntimeout_secs = nan", "plugins.timeout_secs: nan"),
            ("[plugins]\ntimeout_secs = -1", "plugins.timeout_secs: -1"),
            ("[plugins]\nwhat = 1", "what"),
            (
                "[plugins]\nmax_memory_mib = 1e300",
                "plugins.max_memory_mib: 1e300 is not a whole number from 64 to 1048576",
            ),
            (
                "[plugins]\nmax_memory_mib = 9223372036854775807",
                "plugins.max_memory_mib: 9223372036854775807 is out of range",
            ),
            ("[plugins]\nmax_memory_mib = -1", "-1 is out of range"),
            ("[plugins]\nmax_processes = 0", "plugins.max_processes: 0"),
        ] {
            let table: toml::Table = text.parse().unwrap();
            let err = PluginSettings::parse(table.get("plugins")).unwrap_err();
            assert!(err.contains(word), "{err}");
        }
    }
}
