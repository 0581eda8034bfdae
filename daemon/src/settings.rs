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
//! ```
//!
//! Why 5 seconds: someone who just changed a token on Modal's dashboard and
//! runs `mws` again sees it after at most a few seconds, while a script that
//! calls `mws` in a tight loop makes at most one upstream call per collection
//! every 5 seconds. `--max-age 0` / `MWS_MAX_AGE=0` always asks the server.

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

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub max_age: Duration,
    pub poll_interval: Duration,
    pub idle_after: Duration,
    pub notifications: bool,
    pub notify_events: Vec<String>,
    /// `[plugins]`: extra folders, call timeout, each plugin's own table.
    pub plugins: PluginSettings,
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
                // The expiry plugin's alert (any `alert.*` kind may be named).
                "alert.token_age",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            plugins: PluginSettings::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("Invalid mws config file {path}: {reason}")]
pub struct SettingsError {
    pub path: String,
    pub reason: String,
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

fn seconds(table: &toml::Table, section: &str, key: &str) -> Result<Option<Duration>, String> {
    let Some(value) = table.get(section).and_then(|s| s.get(key)) else {
        return Ok(None);
    };
    match value {
        toml::Value::Integer(n) if *n >= 0 => Ok(Some(Duration::from_secs(*n as u64))),
        toml::Value::Float(f) if *f >= 0.0 && f.is_finite() => {
            Ok(Some(Duration::from_secs_f64(*f)))
        }
        _ => Err(format!(
            "[{section}] {key} must be a non-negative number of seconds"
        )),
    }
}

/// Parses a config file's text over the defaults.
pub fn parse(text: &str) -> Result<Settings, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().replace('\n', " "))?;
    let mut settings = Settings {
        plugins: PluginSettings::parse(table.get("plugins"))?,
        ..Settings::default()
    };
    if let Some(d) = seconds(&table, "cache", "max_age_secs")? {
        settings.max_age = d;
    }
    if let Some(d) = seconds(&table, "poll", "interval_secs")? {
        if d.is_zero() {
            return Err("[poll] interval_secs must be above 0".into());
        }
        settings.poll_interval = d;
    }
    if let Some(d) = seconds(&table, "poll", "idle_after_secs")? {
        settings.idle_after = d;
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

/// Applies `MWS_*` overrides from the daemon's environment.
pub fn apply_env(settings: &mut Settings) {
    let secs = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(Duration::from_secs_f64)
    };
    if let Some(d) = secs("MWS_POLL_INTERVAL_SECS").filter(|d| !d.is_zero()) {
        settings.poll_interval = d;
    }
    if let Some(d) = secs("MWS_IDLE_AFTER_SECS") {
        settings.idle_after = d;
    }
    if let Some(d) = secs("MWS_DEFAULT_MAX_AGE_SECS") {
        settings.max_age = d;
    }
}

/// Loads settings from a file (missing = defaults) plus the environment.
pub fn load(path: &Path) -> Result<Settings, SettingsError> {
    let mut settings = match std::fs::read_to_string(path) {
        Ok(text) => parse(&text).map_err(|reason| SettingsError {
            path: path.display().to_string(),
            reason,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
        Err(e) => {
            return Err(SettingsError {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        }
    };
    apply_env(&mut settings);
    Ok(settings)
}

/// Default time a plugin call may take.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

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

#[cfg(test)]
mod tests {
    use super::*;
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
            ("[plugins]\nwhat = 1", "what"),
        ] {
            let table: toml::Table = text.parse().unwrap();
            let err = PluginSettings::parse(table.get("plugins")).unwrap_err();
            assert!(err.contains(word), "{err}");
        }
    }
}
