//! `--json` output, byte for byte what the official CLI prints for the same
//! data and time zone: 2-space indentation, keys in its order, raw UTF-8
//! (only `"`, `\` and control characters are escaped, as Python's
//! `json.dumps(ensure_ascii=False)` does), `null` for unset timestamps, `[]`
//! for an empty list, and a final newline.

use super::time::json_timestamp;
use jiff::tz::TimeZone;
use mws_ipc::{
    CreatedServiceUser, CreatedToken, EnvironmentRole, Member, MemberToken, ProxyToken,
    RotatedToken, ServiceUser, WorkspaceSettings,
};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

#[derive(Serialize)]
struct MemberJson<'a> {
    name: &'a str,
    email: &'a str,
    role: &'a str,
    user_id: &'a str,
    joined: Option<String>,
    last_active: Option<String>,
}

#[derive(Serialize)]
struct TokenJson<'a> {
    name: &'a str,
    token_id: &'a str,
    created_at: Option<String>,
    created_by: &'a str,
    scoped: bool,
}

#[derive(Serialize)]
struct CreatedJson<'a> {
    #[serde(rename = "Modal-Key")]
    key: &'a str,
    #[serde(rename = "Modal-Secret")]
    secret: &'a str,
    #[serde(rename = "Authorization")]
    authorization: String,
}

#[derive(Serialize)]
struct SettingJson<'a> {
    setting: &'a str,
    value: &'a str,
}

/// A service user's roles by environment, as the official client's dict:
/// in the server's order, a repeated environment keeping its first place
/// and its last role.
pub fn role_map(roles: &[EnvironmentRole]) -> Vec<(&str, &str)> {
    let mut map: Vec<(&str, &str)> = Vec::with_capacity(roles.len());
    for r in roles {
        match map.iter_mut().find(|(env, _)| *env == r.environment) {
            Some(entry) => entry.1 = &r.role,
            None => map.push((&r.environment, &r.role)),
        }
    }
    map
}

struct Roles<'a>(&'a [EnvironmentRole]);

impl Serialize for Roles<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let map = role_map(self.0);
        let mut out = serializer.serialize_map(Some(map.len()))?;
        for (environment, role) in map {
            out.serialize_entry(environment, role)?;
        }
        out.end()
    }
}

#[derive(Serialize)]
struct ServiceUserJson<'a> {
    name: &'a str,
    service_user_id: &'a str,
    token_id: &'a str,
    created_by: &'a str,
    created_at: Option<String>,
    last_used_at: Option<String>,
    expires_at: Option<String>,
    environment_roles: Roles<'a>,
}

impl<'a> ServiceUserJson<'a> {
    fn new(u: &'a ServiceUser, tz: &TimeZone) -> Self {
        ServiceUserJson {
            name: &u.name,
            service_user_id: &u.service_user_id,
            token_id: &u.token_id,
            created_by: &u.created_by,
            created_at: json_timestamp(u.created_at, tz),
            last_used_at: json_timestamp(u.last_used_at, tz),
            expires_at: json_timestamp(u.expires_at, tz),
            environment_roles: Roles(&u.environment_roles),
        }
    }
}

#[derive(Serialize)]
struct CreatedServiceUserJson<'a> {
    token_id: &'a str,
    token_secret: &'a str,
    expires_at: Option<String>,
}

#[derive(Serialize)]
struct MemberTokenJson<'a> {
    /// `null` when the token has no name.
    name: Option<&'a str>,
    token_id: &'a str,
    user_id: &'a str,
    username: &'a str,
    created_at: Option<String>,
    last_used_at: Option<String>,
    expires_at: Option<String>,
    disabled: bool,
}

fn pretty<T: Serialize>(value: &T) -> String {
    // Serializing plain structs of strings cannot fail.
    let mut out = serde_json::to_string_pretty(value).unwrap_or_default();
    out.push('\n');
    out
}

/// Members, already in display order (see [`super::sort_members`]).
pub fn members(members: &[&Member], tz: &TimeZone) -> String {
    let rows: Vec<MemberJson<'_>> = members
        .iter()
        .map(|m| MemberJson {
            name: &m.name,
            email: &m.email,
            role: &m.role,
            user_id: &m.user_id,
            joined: json_timestamp(m.joined_at, tz),
            last_active: json_timestamp(m.last_active_at, tz),
        })
        .collect();
    pretty(&rows)
}

/// Proxy tokens, in the server's order.
pub fn tokens(tokens: &[ProxyToken], tz: &TimeZone) -> String {
    let rows: Vec<TokenJson<'_>> = tokens
        .iter()
        .map(|t| TokenJson {
            name: &t.name,
            token_id: &t.token_id,
            created_at: json_timestamp(t.created_at, tz),
            created_by: &t.created_by,
            scoped: t.scoped,
        })
        .collect();
    pretty(&rows)
}

/// A new proxy token with its secret: the one time it is shown.
pub fn created(token: &CreatedToken) -> String {
    pretty(&CreatedJson {
        key: &token.token_id,
        secret: token.token_secret.expose(),
        authorization: super::bearer(token),
    })
}

#[derive(Serialize)]
struct RotatedJson<'a> {
    #[serde(flatten)]
    created: CreatedJson<'a>,
    replaced_token_id: &'a str,
    name: &'a str,
    old_deleted: bool,
    environments: &'a [String],
    environments_missing: &'a [String],
}

/// `proxy-tokens rotate --json` (mws only): `create`'s keys, and what
/// happened to the old token.
pub fn rotated(rotated: &RotatedToken) -> String {
    let token = &rotated.created;
    pretty(&RotatedJson {
        created: CreatedJson {
            key: &token.token_id,
            secret: token.token_secret.expose(),
            authorization: super::bearer(token),
        },
        replaced_token_id: &rotated.old_token_id,
        name: &rotated.name,
        old_deleted: rotated.old_deleted,
        environments: &rotated.environments,
        environments_missing: &rotated.environments_missing,
    })
}

/// `settings list --json` (the official `display_table` keys).
pub fn settings(settings: &WorkspaceSettings) -> String {
    pretty(&[
        SettingJson {
            setting: "default-environment",
            value: &settings.default_environment,
        },
        SettingJson {
            setting: "image-builder-version",
            value: &settings.image_builder_version,
        },
    ])
}

/// `service-users list --json`.
pub fn service_users(users: &[ServiceUser], tz: &TimeZone) -> String {
    let rows: Vec<ServiceUserJson<'_>> =
        users.iter().map(|u| ServiceUserJson::new(u, tz)).collect();
    pretty(&rows)
}

/// `service-users info --json`.
pub fn service_user(user: &ServiceUser, tz: &TimeZone) -> String {
    pretty(&ServiceUserJson::new(user, tz))
}

/// `service-users create --json`: `expires_at` only when an expiry was
/// asked for.
pub fn created_service_user(user: &CreatedServiceUser, expires: bool, tz: &TimeZone) -> String {
    pretty(&CreatedServiceUserJson {
        token_id: &user.token_id,
        token_secret: user.token_secret.expose(),
        expires_at: if expires {
            json_timestamp(user.expires_at, tz)
        } else {
            None
        },
    })
}

/// `member-tokens list --json`.
pub fn member_tokens(tokens: &[MemberToken], tz: &TimeZone) -> String {
    let rows: Vec<MemberTokenJson<'_>> = tokens
        .iter()
        .map(|t| MemberTokenJson {
            name: (!t.name.is_empty()).then_some(t.name.as_str()),
            token_id: &t.token_id,
            user_id: &t.user_id,
            username: &t.username,
            created_at: json_timestamp(t.created_at, tz),
            last_used_at: json_timestamp(t.last_used_at, tz),
            expires_at: json_timestamp(t.expires_at, tz),
            disabled: t.disabled,
        })
        .collect();
    pretty(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mws_ipc::Secret;

    fn member(name: &str, joined: f64, active: f64) -> Member {
        Member {
            name: name.into(),
            email: format!("{}@example.com", name.to_lowercase()),
            role: "member".into(),
            user_id: format!("us-{name}"),
            joined_at: joined,
            last_active_at: active,
        }
    }

    #[test]
    fn empty_lists() {
        assert_eq!(members(&[], &TimeZone::UTC), "[]\n");
        assert_eq!(tokens(&[], &TimeZone::UTC), "[]\n");
    }

    #[test]
    fn member_bytes() {
        let m = member("Zoë \"Z\" 日本", 1_700_000_000.9, 0.0);
        let out = members(&[&m], &TimeZone::UTC);
        assert_eq!(
            out,
            "[\n  {\n    \"name\": \"Zoë \\\"Z\\\" 日本\",\n    \"email\": \"zoë \\\"z\\\" 日本@example.com\",\n    \"role\": \"member\",\n    \"user_id\": \"us-Zoë \\\"Z\\\" 日本\",\n    \"joined\": \"2023-11-14 22:13:20+00:00\",\n    \"last_active\": null\n  }\n]\n"
        );
    }

    #[test]
    fn token_bytes() {
        let t = ProxyToken {
            token_id: "wk-1".into(),
            name: "a\tb\u{1}".into(),
            created_at: 1_700_000_000.0,
            created_by: "".into(),
            scoped: true,
        };
        assert_eq!(
            tokens(&[t], &TimeZone::UTC),
            "[\n  {\n    \"name\": \"a\\tb\\u0001\",\n    \"token_id\": \"wk-1\",\n    \"created_at\": \"2023-11-14 22:13:20+00:00\",\n    \"created_by\": \"\",\n    \"scoped\": true\n  }\n]\n"
        );
    }

    #[test]
    fn created_bytes() {
        let token = CreatedToken {
            token_id: "wk-abc".into(),
            token_secret: Secret::new("ws-def".into()),
        };
        assert_eq!(
            created(&token),
            "{\n  \"Modal-Key\": \"wk-abc\",\n  \"Modal-Secret\": \"ws-def\",\n  \"Authorization\": \"Bearer wk-abc.ws-def\"\n}\n"
        );
    }
}
