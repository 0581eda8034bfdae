//! The `[webhooks]` table of mws's config file: where events go and how
//! hard mws tries.
//!
//! ```toml
//! [webhooks]
//! max_queue = 10000            # deliveries waiting, all endpoints; more are dropped (and counted)
//! retry_base_secs = 2          # first retry after 1–2 s, then doubling (with jitter) …
//! retry_max_secs = 3600        # … up to an hour between attempts
//! give_up_after_secs = 86400   # a delivery still failing a day later is set aside (`mws webhooks retry`)
//! timeout_secs = 10            # one attempt, connection to answer
//!
//! [webhooks.endpoints.team]     # a name: [a-z0-9_-], 1 to 64 bytes
//! url = "https://hooks.example.com/mws"
//! format = "standard"          # Standard Webhooks JSON (default), or "slack" ({"text": …})
//! events = ["token.*", "alert.*"]   # patterns: "*", "PREFIX.*" or a kind (default ["*"])
//! insecure_http = false        # allow http:// to a host that is not this machine
//! ```
//!
//! The signing secret is never here: it is in the keyring (`mws webhooks
//! secret NAME`). A URL must be `https://`, or `http://` to a loopback
//! address; mws shows only its scheme, host and port, because the path of
//! some receivers' URLs (Slack's) is itself a secret.

use crate::setting_values::{checked_count, toml_secs, Floor};
use std::time::Duration;

/// Default most deliveries waiting.
pub(crate) const DEFAULT_MAX_QUEUE: u64 = 10_000;
const MAX_MAX_QUEUE: u64 = 1_000_000;

/// How a delivery's body is shaped (by the sink plugin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `{"type", "timestamp", "data"}`, as the Standard Webhooks spec suggests.
    Standard,
    /// `{"text": …}`: what Slack's (and Mattermost's, Discord's `/slack`)
    /// incoming webhooks take.
    Slack,
}

impl Format {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Standard => "standard",
            Format::Slack => "slack",
        }
    }
}

/// One endpoint.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Endpoint {
    pub name: String,
    pub url: reqwest::Url,
    pub format: Format,
    pub events: Vec<String>,
}

impl Endpoint {
    /// `scheme://host[:port]`: what may be shown of the URL.
    pub(crate) fn target(&self) -> String {
        let host = self.url.host_str().unwrap_or("");
        match self.url.port() {
            Some(port) => format!("{}://{host}:{port}", self.url.scheme()),
            None => format!("{}://{host}", self.url.scheme()),
        }
    }
}

/// The whole `[webhooks]` table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WebhookSettings {
    /// Sorted by name.
    pub endpoints: Vec<Endpoint>,
    pub max_queue: u64,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub give_up_after: Duration,
    pub timeout: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            max_queue: DEFAULT_MAX_QUEUE,
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(86_400),
            timeout: Duration::from_secs(10),
        }
    }
}

impl WebhookSettings {
    pub(crate) fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    /// Reads the `[webhooks]` table (absent: none configured).
    pub(crate) fn parse(table: Option<&toml::Value>) -> Result<Self, String> {
        let mut settings = Self::default();
        let Some(table) = table else {
            return Ok(settings);
        };
        let Some(table) = table.as_table() else {
            return Err("[webhooks] must be a table".into());
        };
        for (key, value) in table {
            match key.as_str() {
                "max_queue" => {
                    settings.max_queue =
                        checked_count("webhooks.max_queue", value, 1, MAX_MAX_QUEUE)?
                }
                "retry_base_secs" => {
                    settings.retry_base =
                        toml_secs("webhooks.retry_base_secs", value, Floor::AboveZero)?
                }
                "retry_max_secs" => {
                    settings.retry_max =
                        toml_secs("webhooks.retry_max_secs", value, Floor::AboveZero)?
                }
                "give_up_after_secs" => {
                    settings.give_up_after =
                        toml_secs("webhooks.give_up_after_secs", value, Floor::AboveZero)?
                }
                "timeout_secs" => {
                    settings.timeout = toml_secs("webhooks.timeout_secs", value, Floor::AboveZero)?
                }
                "endpoints" => {
                    let Some(endpoints) = value.as_table() else {
                        return Err("[webhooks.endpoints] must be a table of endpoints".into());
                    };
                    for (name, endpoint) in endpoints {
                        settings.endpoints.push(parse_endpoint(name, endpoint)?);
                    }
                }
                other => {
                    return Err(format!(
                        "[webhooks] unknown key '{other}' (known: max_queue, retry_base_secs, retry_max_secs, give_up_after_secs, timeout_secs, endpoints)"
                    ))
                }
            }
        }
        if settings.retry_max < settings.retry_base {
            settings.retry_max = settings.retry_base;
        }
        settings.endpoints.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(settings)
    }
}

/// An endpoint name: `[a-z0-9_-]`, 1 to 64 bytes.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// An event pattern: `*`, `PREFIX.*` or a kind, of `[a-z0-9._-]`.
fn valid_pattern(pattern: &str) -> bool {
    let stem = pattern.strip_suffix('*').unwrap_or(pattern);
    (pattern == "*" || !stem.is_empty())
        && pattern.len() <= 128
        && (stem.is_empty() || !pattern.ends_with('*') || stem.ends_with('.'))
        && stem.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn parse_endpoint(name: &str, value: &toml::Value) -> Result<Endpoint, String> {
    let at = format!("[webhooks.endpoints.{name}]");
    if !valid_name(name) {
        return Err(format!(
            "{at}: an endpoint name is 1 to 64 of a-z, 0-9, '_' and '-'"
        ));
    }
    let Some(table) = value.as_table() else {
        return Err(format!("{at} must be a table"));
    };
    let mut url = None;
    let mut format = Format::Standard;
    let mut events = vec!["*".to_string()];
    let mut insecure_http = false;
    for (key, value) in table {
        match (key.as_str(), value) {
            ("url", toml::Value::String(text)) => {
                // The URL may hold a secret: the message never shows it.
                let parsed = reqwest::Url::parse(text)
                    .map_err(|e| format!("{at} url is not a URL ({e})"))?;
                url = Some(parsed);
            }
            ("url", _) => return Err(format!("{at} url must be a string")),
            ("format", toml::Value::String(text)) => {
                format = match text.as_str() {
                    "standard" => Format::Standard,
                    "slack" => Format::Slack,
                    other => {
                        let shown: String = other.chars().take(40).collect();
                        return Err(format!(
                            "{at} format '{shown}' is not 'standard' or 'slack'"
                        ));
                    }
                }
            }
            ("format", _) => return Err(format!("{at} format must be 'standard' or 'slack'")),
            ("events", toml::Value::Array(items)) => {
                events.clear();
                for item in items {
                    match item.as_str() {
                        Some(p) if valid_pattern(p) => events.push(p.to_string()),
                        _ => {
                            let shown: String = item.to_string().chars().take(40).collect();
                            return Err(format!(
                                "{at} events: {shown} is not a pattern (\"*\", \"token.*\", \"alert.*\" or a kind like \"token.created\")"
                            ));
                        }
                    }
                }
            }
            ("events", _) => return Err(format!("{at} events must be a list of patterns")),
            ("insecure_http", toml::Value::Boolean(b)) => insecure_http = *b,
            ("insecure_http", _) => {
                return Err(format!("{at} insecure_http must be true or false"))
            }
            (other, _) => {
                return Err(format!(
                    "{at} unknown key '{other}' (known: url, format, events, insecure_http)"
                ))
            }
        }
    }
    let Some(url) = url else {
        return Err(format!("{at} has no url"));
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) || insecure_http => {}
        "http" => {
            return Err(format!(
                "{at} url is http:// to another machine: use https://, or set insecure_http = true"
            ))
        }
        other => {
            let shown: String = other.chars().take(20).collect();
            return Err(format!("{at} url scheme '{shown}' is not https or http"));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{at} url has no host"));
    }
    Ok(Endpoint {
        name: name.to_string(),
        url,
        format,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebhookSettings, String> {
        let table: toml::Table = text.parse().unwrap();
        WebhookSettings::parse(table.get("webhooks"))
    }

    #[test]
    fn endpoints_are_read_with_defaults() {
        let s = parse(
            r#"
            [webhooks]
            max_queue = 5
            retry_base_secs = 0.2
            [webhooks.endpoints.team]
            url = "https://hooks.example.com/services/T000/SECRETPATH?x=1"
            format = "slack"
            events = ["token.*", "alert.*"]
            [webhooks.endpoints.local]
            url = "http://127.0.0.1:8080/hook"
            "#,
        )
        .unwrap();
        assert_eq!(s.max_queue, 5);
        assert_eq!(s.retry_base, Duration::from_millis(200));
        assert_eq!(s.endpoints.len(), 2);
        assert_eq!(s.endpoints[0].name, "local");
        assert_eq!(s.endpoints[0].format, Format::Standard);
        assert_eq!(s.endpoints[0].events, vec!["*"]);
        assert_eq!(s.endpoints[0].target(), "http://127.0.0.1:8080");
        let team = s.endpoint("team").unwrap();
        assert_eq!(team.format, Format::Slack);
        assert_eq!(team.target(), "https://hooks.example.com");
    }

    #[test]
    fn bad_endpoints_are_named_without_their_url() {
        let err = |t: &str| parse(t).unwrap_err();
        let e = err("[webhooks.endpoints.x]\nurl = \"http://example.com/SECRETPATH\"");
        assert!(
            e.contains("insecure_http") && !e.contains("SECRETPATH"),
            "{e}"
        );
        assert!(parse(
            "[webhooks.endpoints.x]\nurl = \"http://example.com/a\"\ninsecure_http = true"
        )
        .is_ok());
        let e = err("[webhooks.endpoints.x]\nurl = \"ftp://example.com/a\"");
        assert!(e.contains("scheme 'ftp'"), "{e}");
        let e = err("[webhooks.endpoints.Team]\nurl = \"https://e.com\"");
        assert!(e.contains("endpoint name"), "{e}");
        let e = err("[webhooks.endpoints.x]\nformat = \"slack\"");
        assert!(e.contains("has no url"), "{e}");
        let e = err("[webhooks.endpoints.x]\nurl = \"https://e.com\"\nevents = [\"to*ken\"]");
        assert!(e.contains("is not a pattern"), "{e}");
        let e = err("[webhooks]\nmax_queue = 1e300");
        assert!(e.contains("webhooks.max_queue"), "{e}");
        let e = err("[webhooks]\nretry_base_secs = nan");
        assert!(e.contains("webhooks.retry_base_secs"), "{e}");
        let e = err("[webhooks]\nurl = \"https://e.com\"");
        assert!(e.contains("unknown key 'url'"), "{e}");
    }

    #[test]
    fn patterns() {
        for good in [
            "*",
            "token.*",
            "alert.*",
            "token.created",
            "alert.token_age",
        ] {
            assert!(valid_pattern(good), "{good}");
        }
        for bad in ["", "tok*", "token.*.x", "TOKEN.*", "a b", "**"] {
            assert!(!valid_pattern(bad), "{bad}");
        }
    }
}
