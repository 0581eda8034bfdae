//! The expiry policy: every credential of a workspace judged against its
//! expiry date (or, for proxy tokens, which have none, their age).
//!
//! The daemon calls this plugin with the `credentials.refreshed` event each
//! time an identity's credential lists are refreshed (and with
//! `tokens.refreshed`, proxy tokens only, from daemons that predate it):
//!
//! | kind | what | levels |
//! |---|---|---|
//! | `credential_expiry` | the identity's own credential (what mws and every Modal tool use) | warning, critical, expired |
//! | `service_user_expiry` | service users | warning, critical, expired |
//! | `member_token_expiry` | members' API tokens | warning, critical, expired |
//! | `member_token_disabled` | a disabled member token | info |
//! | `member_token_stale` | a member token unused for `stale_days` | info |
//! | `token_age` | proxy tokens, by age against `max_age_days` | warning, critical, expired |
//!
//! Thresholds, from mws's config file (each kind's table overrides the
//! plugin's own for that kind):
//!
//! ```toml
//! [plugins.expiry]
//! warn_days = 14        # "warning" this many days before expiry (0 = none)
//! critical_days = 3     # "critical" this many days before
//! stale_days = 90       # member tokens unused this long (0 = off)
//! max_age_days = 90     # proxy tokens: the age at which they "expire"
//! [plugins.expiry.credential]       # also: service_users, member_tokens, proxy_tokens
//! warn_days = 30
//! ```
//!
//! The plugin is stateless: it judges what it is given and returns every
//! credential's current verdict. Announcing each once per level (not on
//! every poll) is the daemon's job. Each alert names its kind, id, owner,
//! expiry and the command that fixes it.

use serde_json::{json, Value};

const DAY: f64 = 86_400.0;

/// One kind's thresholds, in days.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Policy {
    warn_days: f64,
    critical_days: f64,
    stale_days: f64,
    max_age_days: f64,
}

fn number(table: &Value, key: &str, default: f64, place: &str) -> Result<f64, String> {
    match table.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_f64()
            .filter(|n| n.is_finite() && (0.0..=36_500.0).contains(n))
            .ok_or_else(|| format!("[{place}] {key} must be a number of days from 0 to 36500")),
    }
}

/// The policy for one kind: the plugin's table, then the kind's own.
fn policy(config: &Value, kind: &str) -> Result<Policy, String> {
    let base = Policy {
        warn_days: number(config, "warn_days", 14.0, "plugins.expiry")?,
        critical_days: number(config, "critical_days", 3.0, "plugins.expiry")?,
        stale_days: number(config, "stale_days", 90.0, "plugins.expiry")?,
        max_age_days: number(config, "max_age_days", 90.0, "plugins.expiry")?,
    };
    let own = config.get(kind).cloned().unwrap_or(Value::Null);
    if !own.is_null() && !own.is_object() {
        return Err(format!("[plugins.expiry.{kind}] must be a table"));
    }
    let place = format!("plugins.expiry.{kind}");
    let policy = Policy {
        warn_days: number(&own, "warn_days", base.warn_days, &place)?,
        critical_days: number(&own, "critical_days", base.critical_days, &place)?,
        stale_days: number(&own, "stale_days", base.stale_days, &place)?,
        max_age_days: number(&own, "max_age_days", base.max_age_days, &place)?,
    };
    if policy.max_age_days <= 0.0 {
        return Err(format!("[{place}] max_age_days must be above 0"));
    }
    Ok(policy)
}

fn days(n: f64) -> String {
    let whole = n.floor() as i64;
    if whole == 1 {
        "1 day".into()
    } else {
        format!("{whole} days")
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
fn date(unix: f64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix as i64) {
        Ok(t) => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        Err(_) => "an unknown date".into(),
    }
}

/// Where a credential stands against its expiry: the level and how to say
/// when, or `None` when it is not close.
fn expiry_level(now: f64, expires_at: f64, policy: &Policy) -> Option<(&'static str, String)> {
    let left = expires_at - now;
    if left <= 0.0 {
        Some(("expired", format!("expired on {}", date(expires_at))))
    } else if left <= policy.critical_days * DAY {
        Some((
            "critical",
            format!(
                "expires in {}, on {}",
                days((left / DAY).ceil()),
                date(expires_at)
            ),
        ))
    } else if left <= policy.warn_days * DAY {
        Some((
            "warning",
            format!(
                "expires in {}, on {}",
                days((left / DAY).ceil()),
                date(expires_at)
            ),
        ))
    } else {
        None
    }
}

fn text<'a>(item: &'a Value, key: &str) -> &'a str {
    item.get(key).and_then(Value::as_str).unwrap_or("")
}

fn time_of(item: &Value, key: &str) -> f64 {
    item.get(key)
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite())
        .unwrap_or(0.0)
}

fn list<'a>(doc: &'a Value, key: &str) -> Result<&'a [Value], String> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("input's \"{key}\" is not a list")),
    }
}

fn named(id: &str, name: &str) -> String {
    if name.is_empty() {
        id.to_string()
    } else {
        format!("{id} ('{name}')")
    }
}

struct Judge<'a> {
    now: f64,
    config: &'a Value,
    alerts: Vec<Value>,
    /// The caller's own credential when it was judged by its expiry: as a
    /// member token it is not announced a second time.
    own_credential: String,
}

impl Judge<'_> {
    #[allow(clippy::too_many_arguments)]
    fn alert(
        &mut self,
        kind: &str,
        id: &str,
        level: &str,
        owner: &str,
        expires_at: f64,
        message: String,
        fix: String,
    ) {
        self.alerts.push(json!({
            "kind": kind,
            "id": id,
            "level": level,
            "owner": owner,
            "expires_at": if expires_at > 0.0 { json!(expires_at) } else { Value::Null },
            "message": message,
            "fix": fix,
        }));
    }

    fn credential(&mut self, info: &Value) -> Result<(), String> {
        let id = text(info, "token_id");
        let expires_at = time_of(info, "expires_at");
        if id.is_empty() || expires_at <= 0.0 {
            return Ok(());
        }
        let policy = policy(self.config, "credential")?;
        self.own_credential = id.to_string();
        if let Some((level, when)) = expiry_level(self.now, expires_at, &policy) {
            let owner = text(info, "owner");
            let service_user = text(info, "owner_kind") == "service_user";
            let fix = if service_user {
                format!("mws service-users rotate {owner}, then mws auth set --token-id NEW_ID")
            } else {
                "modal token new".to_string()
            };
            let message = format!(
                "Your credential {} (of {}) {when}: mws and every Modal tool using it stop working then",
                named(id, text(info, "token_name")),
                if owner.is_empty() { "you" } else { owner },
            );
            self.alert(
                "credential_expiry",
                id,
                level,
                owner,
                expires_at,
                message,
                fix,
            );
        }
        Ok(())
    }

    fn service_users(&mut self, users: &[Value]) -> Result<(), String> {
        let policy = policy(self.config, "service_users")?;
        for user in users {
            let name = text(user, "name");
            let expires_at = time_of(user, "expires_at");
            if name.is_empty() || expires_at <= 0.0 {
                continue;
            }
            if let Some((level, when)) = expiry_level(self.now, expires_at, &policy) {
                let owner = text(user, "created_by");
                let message = format!(
                    "Service user '{name}'{} {when}",
                    if owner.is_empty() {
                        String::new()
                    } else {
                        format!(" (created by {owner})")
                    }
                );
                let fix = format!("mws service-users create {name}-2 --expires-in 90d");
                self.alert(
                    "service_user_expiry",
                    name,
                    level,
                    owner,
                    expires_at,
                    message,
                    fix,
                );
            }
        }
        Ok(())
    }

    fn member_tokens(&mut self, tokens: &[Value]) -> Result<(), String> {
        let policy = policy(self.config, "member_tokens")?;
        for token in tokens {
            let id = text(token, "token_id");
            if id.is_empty() {
                continue;
            }
            let owner = text(token, "username");
            let label = format!(
                "Member token {} of {}",
                named(id, text(token, "name")),
                if owner.is_empty() {
                    "an unknown member"
                } else {
                    owner
                }
            );
            let expires_at = time_of(token, "expires_at");
            if token.get("disabled").and_then(Value::as_bool) == Some(true) {
                self.alert(
                    "member_token_disabled",
                    id,
                    "info",
                    owner,
                    expires_at,
                    format!("{label} is disabled"),
                    format!("mws member-tokens delete {id}"),
                );
                continue;
            }
            if expires_at > 0.0 && id != self.own_credential {
                if let Some((level, when)) = expiry_level(self.now, expires_at, &policy) {
                    self.alert(
                        "member_token_expiry",
                        id,
                        level,
                        owner,
                        expires_at,
                        format!("{label} {when}"),
                        "modal token new".to_string(),
                    );
                    continue;
                }
            }
            if policy.stale_days > 0.0 {
                let last_used = time_of(token, "last_used_at");
                let since = if last_used > 0.0 {
                    last_used
                } else {
                    time_of(token, "created_at")
                };
                let idle = (self.now - since) / DAY;
                if since > 0.0 && idle >= policy.stale_days {
                    let what = if last_used > 0.0 {
                        "has not been used"
                    } else {
                        "has never been used"
                    };
                    self.alert(
                        "member_token_stale",
                        id,
                        "info",
                        owner,
                        expires_at,
                        format!("{label} {what} for {}", days(idle)),
                        format!("mws member-tokens disable {id}"),
                    );
                }
            }
        }
        Ok(())
    }

    fn proxy_tokens(&mut self, tokens: &[Value]) -> Result<(), String> {
        let policy = policy(self.config, "proxy_tokens")?;
        for token in tokens {
            let id = text(token, "token_id");
            let created = time_of(token, "created_at");
            if id.is_empty() || created <= 0.0 {
                continue; // no id or no creation time: nothing to judge
            }
            let label = named(id, text(token, "name"));
            let age = (self.now - created).max(0.0) / DAY;
            let reaches = created + policy.max_age_days * DAY;
            let Some((level, _)) = expiry_level(self.now, reaches, &policy) else {
                continue;
            };
            let message = if level == "expired" {
                format!(
                    "Proxy token {label} is {} old, past the maximum age of {}",
                    days(age),
                    days(policy.max_age_days)
                )
            } else {
                format!(
                    "Proxy token {label} is {} old and reaches the maximum age of {} in {}",
                    days(age),
                    days(policy.max_age_days),
                    days(((reaches - self.now) / DAY).ceil())
                )
            };
            self.alert(
                "token_age",
                id,
                level,
                text(token, "created_by"),
                0.0,
                message,
                format!("mws proxy-tokens rotate {id}"),
            );
        }
        Ok(())
    }
}

/// Judges every credential of a `credentials.refreshed` (or
/// `tokens.refreshed`) event.
pub fn judge(input: &[u8]) -> Result<Value, String> {
    let doc: Value =
        serde_json::from_slice(input).map_err(|e| format!("input is not valid JSON: {e}"))?;
    let now = doc
        .get("now")
        .and_then(Value::as_f64)
        .filter(|n| n.is_finite())
        .ok_or("input has no \"now\" time")?;
    let config = doc.get("config").cloned().unwrap_or(Value::Null);
    if !config.is_null() && !config.is_object() {
        return Err("[plugins.expiry] must be a table".into());
    }
    let mut judge = Judge {
        now,
        config: &config,
        alerts: Vec::new(),
        own_credential: String::new(),
    };
    if doc.get("event").and_then(Value::as_str) == Some("tokens.refreshed")
        || doc.get("tokens").is_some()
    {
        let tokens = doc
            .get("tokens")
            .and_then(Value::as_array)
            .ok_or("input has no \"tokens\" array")?;
        judge.proxy_tokens(tokens)?;
    } else {
        if let Some(info) = doc.get("credential").filter(|v| v.is_object()) {
            judge.credential(info)?;
        }
        judge.service_users(list(&doc, "service_users")?)?;
        judge.member_tokens(list(&doc, "member_tokens")?)?;
        judge.proxy_tokens(list(&doc, "proxy_tokens")?)?;
    }
    Ok(json!({ "alerts": judge.alerts }))
}

fn on_event(event: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    match event {
        "credentials.refreshed" | "tokens.refreshed" => {
            judge(input).map(|v| v.to_string().into_bytes())
        }
        other => Err(format!("unexpected event '{other}'")),
    }
}

mws_plugin_api::export_plugin! {
    name: "expiry",
    version: env!("CARGO_PKG_VERSION"),
    formats: "",
    events: "credentials.refreshed",
    render: None,
    on_event: Some(on_event),
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_800_000_000.0;

    fn verdicts(input: Value) -> Vec<(String, String, String)> {
        judge(input.to_string().as_bytes()).unwrap()["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["kind"].as_str().unwrap().to_string(),
                    a["id"].as_str().unwrap().to_string(),
                    a["level"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn proxy_levels(config: Value, ages_days: &[f64]) -> Vec<(String, String)> {
        let tokens: Vec<Value> = ages_days
            .iter()
            .enumerate()
            .map(|(i, d)| json!({"token_id": format!("wk-{i}"), "name": "", "created_at": NOW - d * DAY}))
            .collect();
        verdicts(json!({"event": "credentials.refreshed", "now": NOW, "proxy_tokens": tokens, "config": config}))
            .into_iter()
            .map(|(_, id, level)| (id, level))
            .collect()
    }

    #[test]
    fn proxy_tokens_by_age() {
        let got = proxy_levels(
            json!({"max_age_days": 90, "warn_days": 14}),
            &[10.0, 75.9, 76.1, 87.5, 89.9, 90.0, 400.0],
        );
        let want: Vec<(String, String)> = [
            (2, "warning"),
            (3, "critical"),
            (4, "critical"),
            (5, "expired"),
            (6, "expired"),
        ]
        .iter()
        .map(|(i, l)| (format!("wk-{i}"), l.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn the_first_event_still_works() {
        let input = json!({"event": "tokens.refreshed", "now": NOW, "tokens": [{"token_id": "wk-1", "created_at": NOW - 100.0 * DAY}]});
        assert_eq!(
            verdicts(input),
            vec![("token_age".into(), "wk-1".into(), "expired".into())]
        );
    }

    #[test]
    fn every_kind_is_judged_with_its_own_thresholds() {
        let input = json!({
            "event": "credentials.refreshed",
            "now": NOW,
            "credential": {"token_id": "ak-me", "token_name": "", "owner": "ada", "owner_kind": "user", "created_at": NOW - DAY, "expires_at": NOW + 20.0 * DAY},
            "service_users": [
                {"name": "ci", "created_by": "ada", "expires_at": NOW + 2.5 * DAY},
                {"name": "forever", "created_by": "ada", "expires_at": 0.0},
                {"name": "later", "created_by": "ada", "expires_at": NOW + 60.0 * DAY}
            ],
            "member_tokens": [
                {"token_id": "ak-gone", "username": "alan", "expires_at": NOW - DAY, "last_used_at": NOW - DAY, "disabled": false},
                {"token_id": "ak-off", "username": "alan", "expires_at": 0.0, "disabled": true},
                {"token_id": "ak-idle", "username": "grace", "created_at": NOW - 200.0 * DAY, "last_used_at": NOW - 100.0 * DAY, "expires_at": 0.0, "disabled": false},
                {"token_id": "ak-busy", "username": "grace", "created_at": NOW - 200.0 * DAY, "last_used_at": NOW - DAY, "expires_at": 0.0, "disabled": false}
            ],
            "proxy_tokens": null,
            "config": {"warn_days": 14, "credential": {"warn_days": 30}}
        });
        let got = verdicts(input);
        assert_eq!(
            got,
            vec![
                ("credential_expiry".into(), "ak-me".into(), "warning".into()),
                ("service_user_expiry".into(), "ci".into(), "critical".into()),
                (
                    "member_token_expiry".into(),
                    "ak-gone".into(),
                    "expired".into()
                ),
                (
                    "member_token_disabled".into(),
                    "ak-off".into(),
                    "info".into()
                ),
                ("member_token_stale".into(), "ak-idle".into(), "info".into()),
            ]
        );
    }

    #[test]
    fn alerts_name_owner_date_and_fix() {
        let input = json!({
            "now": NOW,
            "service_users": [{"name": "ci", "created_by": "ada", "expires_at": NOW + 2.5 * DAY}],
        });
        let out = judge(input.to_string().as_bytes()).unwrap();
        let alert = &out["alerts"][0];
        assert_eq!(alert["owner"], "ada");
        assert_eq!(alert["expires_at"], json!(NOW + 2.5 * DAY));
        assert_eq!(
            alert["fix"],
            "mws service-users create ci-2 --expires-in 90d"
        );
        let message = alert["message"].as_str().unwrap();
        assert!(
            message.contains("expires in 3 days, on 2027-01-17"),
            "{message}"
        );
    }

    #[test]
    fn bad_config_and_input_are_errors() {
        let bad =
            json!({"now": 1.0, "proxy_tokens": [], "config": {"max_age_days": "soon"}}).to_string();
        assert!(judge(bad.as_bytes()).unwrap_err().contains("max_age_days"));
        let huge =
            json!({"now": 1.0, "config": {"service_users": {"warn_days": 1e300}}}).to_string();
        assert!(judge(huge.as_bytes()).unwrap_err().contains("warn_days"));
        assert!(judge(b"[").unwrap_err().contains("JSON"));
        assert!(judge(b"{\"now\": 1, \"event\": \"tokens.refreshed\"}")
            .unwrap_err()
            .contains("tokens"));
        assert!(judge(b"{\"now\": 1, \"service_users\": 5}")
            .unwrap_err()
            .contains("service_users"));
    }

    #[test]
    fn unset_times_are_skipped() {
        let input = json!({"now": 1e9, "proxy_tokens": [{"token_id": "wk-1", "created_at": 0.0}], "service_users": [{"name": "x", "expires_at": 0.0}]});
        assert_eq!(
            judge(input.to_string().as_bytes()).unwrap()["alerts"],
            json!([])
        );
    }
}
