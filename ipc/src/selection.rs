//! Which credentials a request runs as. The CLI reads no config file and no
//! keyring: it forwards what it sees in its own environment and command line
//! as a [`Selection`], and the daemon resolves it by the official client's
//! rules. The API secret (`MODAL_TOKEN_SECRET`) lives in a zeroizing
//! [`Secret`] for the one request it is needed for.

use crate::{Secret, Selection};
use std::ffi::OsString;
use std::path::Path;

impl Selection {
    /// Builds the selection from `--profile` and an environment lookup (the
    /// CLI's own; the daemon's for the identity it watches from the start).
    pub fn from_env(profile: Option<String>, var: impl Fn(&str) -> Option<OsString>) -> Selection {
        let text = |name: &str| var(name).map(|v| v.to_string_lossy().into_owned());
        Selection {
            profile,
            env_profile: text("MODAL_PROFILE"),
            config_path: text("MODAL_CONFIG_PATH").map(absolute),
            home: text("HOME"),
            token_id: text("MODAL_TOKEN_ID"),
            // into_string reuses the buffer: no stray copy of the secret.
            token_secret: var("MODAL_TOKEN_SECRET").map(|v| {
                Secret::new(
                    v.into_string()
                        .unwrap_or_else(|v| v.to_string_lossy().into_owned()),
                )
            }),
            server_url: text("MODAL_SERVER_URL"),
            environment: text("MODAL_ENVIRONMENT"),
        }
    }
}

/// The daemon runs in another folder, so a relative config path is made
/// absolute against ours.
fn absolute(path: String) -> String {
    if path.is_empty() || Path::new(&path).is_absolute() {
        return path;
    }
    match std::env::current_dir() {
        Ok(dir) => dir.join(&path).to_string_lossy().into_owned(),
        Err(_) => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn forwards_the_environment() {
        let env: HashMap<&str, &str> = [
            ("MODAL_PROFILE", "prod"),
            ("MODAL_CONFIG_PATH", "/etc/modal.toml"),
            ("HOME", "/home/me"),
            ("MODAL_TOKEN_ID", "ak-1"),
            ("MODAL_TOKEN_SECRET", "as-2"),
            ("MODAL_SERVER_URL", "http://localhost:1"),
            ("MODAL_ENVIRONMENT", "dev"),
        ]
        .into_iter()
        .collect();
        let s = Selection::from_env(Some("cli".into()), |k| env.get(k).map(OsString::from));
        assert_eq!(s.profile.as_deref(), Some("cli"));
        assert_eq!(s.env_profile.as_deref(), Some("prod"));
        assert_eq!(s.config_path.as_deref(), Some("/etc/modal.toml"));
        assert_eq!(s.home.as_deref(), Some("/home/me"));
        assert_eq!(s.token_id.as_deref(), Some("ak-1"));
        assert_eq!(s.token_secret.as_ref().map(Secret::expose), Some("as-2"));
        assert_eq!(s.server_url.as_deref(), Some("http://localhost:1"));
        assert_eq!(s.environment.as_deref(), Some("dev"));
    }

    #[test]
    fn relative_config_path_becomes_absolute() {
        let s = Selection::from_env(None, |k| {
            (k == "MODAL_CONFIG_PATH").then(|| "cfg.toml".into())
        });
        let path = s.config_path.unwrap();
        assert!(Path::new(&path).is_absolute(), "{path}");
        assert!(path.ends_with("cfg.toml"));
        assert_eq!(s.token_secret, None);
    }
}
