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
    pub plugins: crate::plugins::PluginSettings,
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
            plugins: crate::plugins::PluginSettings::default(),
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
        plugins: crate::plugins::PluginSettings::parse(table.get("plugins"))?,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
