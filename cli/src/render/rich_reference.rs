//! Byte-for-byte comparison with the official CLI. Runs the official client
//! (modal==1.6.4, and the rich it ships with) on the same data, time zones
//! and widths, and compares with our renderers: tables and wrapped console
//! lines through rich itself, and `members list`, `proxy-tokens list` /
//! `create`, `settings list`, `service-users list` / `info` / `create` (the
//! one-time secret block included) and `member-tokens list` through the
//! official commands with the network answer canned (`rich_reference.py`).
//!
//! Needs Python with modal==1.6.4: `MWS_MODAL_PYTHON`, else
//! `<workspace>/.venv/bin/python`. Missing Python is a failure, not a skip.
//!
//! Only zones without DST are compared for timestamps: across a DST change
//! the official CLI applies today's offset to every date, and we do not.

use super::{created_box, json, members_table, sort_members, tokens_table};
use crate::render::table::{Table, HEAVY_HEAD};
use jiff::tz::TimeZone;
use mws_ipc::{
    CreatedServiceUser, CreatedToken, EnvironmentRole, Member, MemberToken, ProxyToken, Secret,
    ServiceUser, WorkspaceSettings,
};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const SCRIPT: &str = include_str!("rich_reference.py");

fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("MWS_MODAL_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        path.exists(),
        "these tests compare with the official Modal CLI and need it installed: run \
         `python3 -m venv .venv && .venv/bin/pip install modal==1.6.4` at the workspace root, \
         or set MWS_MODAL_PYTHON to a python that has modal==1.6.4 (looked for {})",
        path.display()
    );
    path
}

/// Renders every case with the official code; one Python process for all.
fn reference(cases: &[Value]) -> Vec<String> {
    let mut child = Command::new(python())
        .arg("-c")
        .arg(SCRIPT)
        .env("PYTHONIOENCODING", "utf-8")
        .env_remove("NO_COLOR")
        .env_remove("FORCE_COLOR")
        .env_remove("MODAL_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run the reference python");
    let input = serde_json::to_vec(cases).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "reference renderer failed (is modal==1.6.4 installed in that python?):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("reference output is a JSON list")
}

fn role_number(role: &str) -> u8 {
    match role {
        "member" => 1,
        "manager" => 2,
        "owner" => 3,
        other => panic!("role {other}"),
    }
}

fn member(name: &str, email: &str, role: &str, user_id: &str, joined: f64, active: f64) -> Member {
    Member {
        name: name.into(),
        email: email.into(),
        role: role.into(),
        user_id: user_id.into(),
        joined_at: joined,
        last_active_at: active,
    }
}

fn members() -> Vec<Member> {
    vec![
        member(
            "alice",
            "alice@example.com",
            "owner",
            "us-a1",
            1_700_000_000.5,
            1_710_000_000.999_999_7,
        ),
        member(
            "Bob",
            "bob@example.com",
            "manager",
            "us-b2",
            1_690_000_000.0,
            0.0,
        ),
        member(
            "",
            "nameless@example.com",
            "member",
            "us-n3",
            1_600_000_000.25,
            -5.0,
        ),
        member(
            "李小龙 Bruce",
            "bruce@example.com",
            "member",
            "us-c4",
            1_650_000_000.0,
            1_720_000_000.0,
        ),
        member(
            "Zoë \"Z\" Quintana-Villanueva de la Rosa y Montenegro",
            "zoe.quintana.villanueva@a-rather-long-domain-name.example.com",
            "member",
            "us-z5",
            1_000_000_000.0,
            1_730_000_000.123,
        ),
        member(
            "dup",
            "dup1@example.com",
            "member",
            "us-d6",
            1_500_000_000.0,
            0.0,
        ),
        member(
            "dup",
            "dup2@example.com",
            "member",
            "us-d7",
            1_500_000_001.0,
            1_500_000_002.0,
        ),
        member(
            "Émile 🎉",
            "emile@example.com",
            "member",
            "us-e8",
            1_600_000_000.0,
            0.0,
        ),
    ]
}

fn tokens() -> Vec<ProxyToken> {
    let token = |id: &str, name: &str, created: f64, by: &str, scoped: bool| ProxyToken {
        token_id: id.into(),
        name: name.into(),
        created_at: created,
        created_by: by.into(),
        scoped,
    };
    vec![
        token(
            "wk-Zz9aB3xQ7mN2pL5kJ8hG4f",
            "production-webhooks",
            1_700_000_000.75,
            "alice",
            true,
        ),
        token("wk-Aa1bC2dE3fG4hI5jK6lM7n", "", 1_690_000_000.0, "", false),
        token(
            "wk-Mm0nO9pQ8rS7tU6vW5xY4z",
            "ステージング環境の長い名前",
            0.0,
            "bob",
            false,
        ),
        token(
            "wk-Qq1wE2rT3yU4iO5pA6sD7f",
            "a name long enough to need wrapping when the terminal is narrow",
            1_710_000_000.0,
            "a-very-long-username-indeed",
            true,
        ),
    ]
}

const ZONES: [&str; 4] = ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/Phoenix"];
const WIDTHS: [usize; 4] = [40, 60, 80, 120];

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|e| panic!("time zone {name}: {e} (install tzdata)"))
}

/// Compares each pair, reporting every mismatch at once.
fn compare(labels: &[String], ours: &[String], theirs: &[String]) {
    assert_eq!(ours.len(), theirs.len());
    let mut failures = Vec::new();
    for ((label, ours), theirs) in labels.iter().zip(ours).zip(theirs) {
        if ours != theirs {
            failures.push(format!("--- {label}\nours:\n{ours}\nofficial:\n{theirs}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn members_and_tokens_match_the_official_cli() {
    let members = members();
    let tokens = tokens();
    let member_data: Vec<Value> = members
        .iter()
        .map(|m| {
            json!({"name": m.name, "email": m.email, "role": role_number(&m.role),
                   "user_id": m.user_id, "joined_at": m.joined_at, "last_active_at": m.last_active_at})
        })
        .collect();
    let token_data: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({"token_id": t.token_id, "name": t.name, "created_at": t.created_at,
                   "created_by": t.created_by, "scoped": t.scoped})
        })
        .collect();

    let (mut cases, mut labels, mut ours) = (Vec::new(), Vec::new(), Vec::new());
    for name in ZONES {
        let tz = zone(name);
        let sorted = sort_members(&members);
        for (kind, data) in [("members", &member_data), ("tokens", &token_data)] {
            cases.push(json!({"kind": kind, "tz": name, "json": true, "width": 80, kind: data}));
            labels.push(format!("{kind} --json, TZ={name}"));
            ours.push(match kind {
                "members" => json::members(&sorted, &tz),
                _ => json::tokens(&tokens, &tz),
            });
            for width in WIDTHS {
                cases.push(
                    json!({"kind": kind, "tz": name, "json": false, "width": width, kind: data}),
                );
                labels.push(format!("{kind} table, TZ={name}, COLUMNS={width}"));
                ours.push(match kind {
                    "members" => members_table(&sorted, &tz, width),
                    _ => tokens_table(&tokens, &tz, width),
                });
            }
        }
    }
    for kind in ["members", "tokens"] {
        cases.push(json!({"kind": kind, "tz": "UTC", "json": true, "width": 80, kind: []}));
        labels.push(format!("empty {kind} --json"));
        ours.push("[]\n".to_owned());
        cases.push(json!({"kind": kind, "tz": "UTC", "json": false, "width": 80, kind: []}));
        labels.push(format!("empty {kind} table"));
        ours.push(match kind {
            "members" => members_table(&[], &TimeZone::UTC, 80),
            _ => tokens_table(&[], &TimeZone::UTC, 80),
        });
    }
    let created = CreatedToken {
        token_id: "wk-Zz9aB3xQ7mN2pL5kJ8hG4f".into(),
        token_secret: Secret::new("ws-Yy8bC4dR6eF1gH3iJ5kL7m".into()),
    };
    for (as_json, width) in [(true, 80), (false, 80), (false, 120)] {
        cases.push(json!({"kind": "created", "tz": "UTC", "json": as_json, "width": width,
                          "token_id": created.token_id, "token_secret": created.token_secret.expose()}));
        labels.push(format!("create json={as_json} COLUMNS={width}"));
        ours.push(if as_json {
            json::created(&created)
        } else {
            created_box(&created, width)
        });
    }
    let theirs = reference(&cases);
    compare(&labels, &ours, &theirs);
}

#[test]
fn json_escaping_matches_the_official_cli() {
    // Characters the official CLI would treat as markup are fine in JSON.
    let members = vec![
        member(
            "[bold]x[/bold] :smile: \\ \"q\"",
            "tab\there",
            "member",
            "ctl\u{1}\u{7f}\u{7}",
            1.0,
            2.5,
        ),
        member(
            "line\nbreak\r",
            "\u{2028}é",
            "owner",
            "",
            1_700_000_000.0,
            0.0,
        ),
    ];
    let data: Vec<Value> = members
        .iter()
        .map(|m| {
            json!({"name": m.name, "email": m.email, "role": role_number(&m.role),
                   "user_id": m.user_id, "joined_at": m.joined_at, "last_active_at": m.last_active_at})
        })
        .collect();
    let cases =
        vec![json!({"kind": "members", "tz": "UTC", "json": true, "width": 80, "members": data})];
    let ours = vec![json::members(&sort_members(&members), &TimeZone::UTC)];
    compare(&["escaping".to_owned()], &ours, &reference(&cases));
}

#[test]
fn tables_match_rich() {
    let rows = |rows: &[&[&str]]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect()
    };
    let headers: &[&str] = &["Name", "Token ID", "Created at", "Created by", "Scoped"];
    let sets: Vec<(&str, Vec<Vec<String>>)> = vec![
        ("empty", vec![]),
        (
            "basic",
            rows(&[
                &["web", "wk-123", "2024-01-01 00:00 UTC", "alice", "True"],
                &["", "wk-456", "", "", "False"],
            ]),
        ),
        (
            "wide characters",
            rows(&[
                &[
                    "日本語のとても長いトークン名です",
                    "wk-日本",
                    "2024-01-01 00:00 JST",
                    "山田太郎",
                    "True",
                ],
                &["한국어 이름", "wk-kr", "", "김", "False"],
                &["ｆｕｌｌｗｉｄｔｈ", "wk-fw", "", "", "False"],
                &["emoji 🎉🎉🎉 party", "wk-em", "", "", "False"],
            ]),
        ),
        (
            "long words and lines",
            rows(&[
                &[
                    "supercalifragilisticexpialidocious-and-then-some-more-characters",
                    "wk-1",
                    "x",
                    "y",
                    "True",
                ],
                &[
                    "many short words that can wrap nicely across several lines of text",
                    "wk-2",
                    "",
                    "",
                    "False",
                ],
                &[
                    "two\nlines",
                    "wk-3",
                    "tab\tbed",
                    "trailing spaces   ",
                    "False",
                ],
                &["  leading spaces", "wk-4", "e\u{301}\u{301}", "", "True"],
            ]),
        ),
    ];
    let (mut cases, mut labels, mut ours) = (Vec::new(), Vec::new(), Vec::new());
    for (name, body) in &sets {
        for width in [12, 20, 30, 40, 50, 60, 80, 120, 200] {
            cases.push(json!({"kind": "table", "width": width, "headers": headers, "rows": body}));
            labels.push(format!("{name} at width {width}"));
            ours.push(
                Table {
                    headers: Some(headers),
                    rows: body.clone(),
                    style: &HEAVY_HEAD,
                    show_lines: false,
                    right_columns: &[],
                }
                .render(width),
            );
        }
    }
    compare(&labels, &ours, &reference(&cases));
}

fn service_users() -> Vec<ServiceUser> {
    let role = |environment: &str, role: &str| EnvironmentRole {
        environment: environment.into(),
        role: role.into(),
    };
    vec![
        ServiceUser {
            service_user_id: "su-1".into(),
            name: "ci-deployer".into(),
            token_id: "ak-Ci1aB2cD3eF4gH5iJ6kL7m".into(),
            created_by: "alice".into(),
            created_at: 1_700_000_000.5,
            last_used_at: 1_710_000_000.0,
            expires_at: 1_800_000_000.0,
            environment_roles: vec![
                role("main", "contributor"),
                role("prod", "no-access"),
                role("staging", "viewer"),
                role("main", "viewer"),
            ],
        },
        ServiceUser {
            service_user_id: "su-2".into(),
            name: "ロボット 🤖 with a rather long name indeed".into(),
            token_id: "ak-Zz9".into(),
            created_by: "".into(),
            created_at: 0.0,
            last_used_at: 0.0,
            expires_at: 0.0,
            environment_roles: vec![],
        },
    ]
}

fn service_user_data(u: &ServiceUser) -> Value {
    json!({"name": u.name, "service_user_id": u.service_user_id, "token_id": u.token_id,
           "created_by": u.created_by, "created_at": u.created_at, "last_used_at": u.last_used_at,
           "expires_at": u.expires_at,
           "environment_roles": u.environment_roles.iter().map(|r| (r.environment.clone(), r.role.clone())).collect::<Vec<_>>()})
}

fn member_tokens(with_disabled: bool) -> Vec<MemberToken> {
    let token = |id: &str, name: &str, user: &str, created: f64, expires: f64, disabled: bool| {
        MemberToken {
            token_id: id.into(),
            name: name.into(),
            user_id: format!("us-{user}"),
            username: user.into(),
            created_at: created,
            last_used_at: if disabled { 0.0 } else { created + 10.0 },
            expires_at: expires,
            disabled,
        }
    };
    vec![
        token("ak-A1", "laptop", "alice", 1_700_000_000.0, 0.0, false),
        token(
            "ak-B2",
            "",
            "Bob",
            1_710_000_000.25,
            1_900_000_000.0,
            with_disabled,
        ),
        token(
            "ak-C3-with-a-long-identifier",
            "日本語のトークン",
            "zoë",
            0.0,
            0.0,
            false,
        ),
    ]
}

fn member_token_data(tokens: &[MemberToken]) -> Value {
    tokens
        .iter()
        .map(|t| {
            json!({"token_id": t.token_id, "name": t.name, "user_id": t.user_id, "username": t.username,
                   "created_at": t.created_at, "last_used_at": t.last_used_at,
                   "expires_at": t.expires_at, "disabled": t.disabled})
        })
        .collect()
}

#[test]
fn settings_service_users_and_member_tokens_match_the_official_cli() {
    use super::admin;
    let (mut cases, mut labels, mut ours) = (Vec::new(), Vec::new(), Vec::new());
    let mut add = |case: Value, label: String, text: String| {
        cases.push(case);
        labels.push(label);
        ours.push(text);
    };
    let users = service_users();
    let user_data: Vec<Value> = users.iter().map(service_user_data).collect();
    let settings = WorkspaceSettings {
        default_environment: "main".into(),
        image_builder_version: "2025.06".into(),
    };
    let settings_data = json!({"default_environment": "main", "image_builder_version": "2025.06"});
    let created = CreatedServiceUser {
        service_user_id: "su-9".into(),
        token_id: "ak-abcdefghijklmnopqrstuv".into(),
        token_secret: Secret::new("as-abcdefghijklmnopqrstuv".into()),
        expires_at: 1_767_225_600.0,
    };
    let created_data = json!({"token_id": created.token_id, "token_secret": created.token_secret.expose(),
                              "expires_at": created.expires_at});
    for name in ["UTC", "Asia/Kolkata"] {
        let tz = zone(name);
        let base = |kind: &str, as_json: bool, width: usize, data: &Value| json!({"kind": kind, "tz": name, "json": as_json, "width": width, "data": data});
        add(
            base("su_list", true, 80, &json!(user_data)),
            format!("service-users list --json TZ={name}"),
            json::service_users(&users, &tz),
        );
        for (i, u) in users.iter().enumerate() {
            let mut case = base("su_info", true, 80, &user_data[i]);
            case["args"] = json!([u.name]);
            add(
                case,
                format!("service-users info {i} --json TZ={name}"),
                json::service_user(u, &tz),
            );
        }
        for with_disabled in [false, true] {
            let tokens = member_tokens(with_disabled);
            let data = member_token_data(&tokens);
            add(
                base("mt_list", true, 80, &data),
                format!("member-tokens list --json disabled={with_disabled} TZ={name}"),
                json::member_tokens(&tokens, &tz),
            );
            for width in WIDTHS {
                add(
                    base("mt_list", false, width, &data),
                    format!(
                        "member-tokens list disabled={with_disabled} TZ={name} COLUMNS={width}"
                    ),
                    admin::member_tokens_table(&tokens, &tz, width),
                );
            }
        }
        for width in WIDTHS {
            add(
                base("su_list", false, width, &json!(user_data)),
                format!("service-users list TZ={name} COLUMNS={width}"),
                admin::service_users_table(&users, &tz, width),
            );
            for (i, u) in users.iter().enumerate() {
                let mut case = base("su_info", false, width, &user_data[i]);
                case["args"] = json!([u.name]);
                add(
                    case,
                    format!("service-users info {i} TZ={name} COLUMNS={width}"),
                    admin::service_user_info(u, &tz, width),
                );
            }
        }
        for (expires, as_json) in [(true, true), (false, true)] {
            let mut case = base("su_create", as_json, 80, &created_data);
            case["args"] = json!(if expires {
                vec!["bot", "--expires-in", "1h"]
            } else {
                vec!["bot"]
            });
            add(
                case,
                format!("service-users create expires={expires} --json TZ={name}"),
                json::created_service_user(&created, expires, &tz),
            );
        }
        for width in [20, 40, 79, 80, 81, 120] {
            for expires in [true, false] {
                let mut case = base("su_create", false, width, &created_data);
                case["args"] = json!(if expires {
                    vec!["ci-bot", "--expires-in", "7d"]
                } else {
                    vec!["ci-bot"]
                });
                add(
                    case,
                    format!("service-users create expires={expires} TZ={name} COLUMNS={width}"),
                    admin::created_service_user(
                        "ci-bot",
                        &created,
                        expires,
                        &tz,
                        width,
                        width.min(80),
                    ),
                );
            }
        }
    }
    for kind in ["su_list", "mt_list"] {
        for as_json in [true, false] {
            add(
                json!({"kind": kind, "tz": "UTC", "json": as_json, "width": 80, "data": []}),
                format!("empty {kind} json={as_json}"),
                match (kind, as_json) {
                    (_, true) => "[]\n".to_owned(),
                    ("su_list", false) => admin::service_users_table(&[], &TimeZone::UTC, 80),
                    _ => admin::member_tokens_table(&[], &TimeZone::UTC, 80),
                },
            );
        }
    }
    add(
        json!({"kind": "settings", "tz": "UTC", "json": true, "width": 80, "data": settings_data}),
        "settings list --json".into(),
        json::settings(&settings),
    );
    for width in WIDTHS {
        add(
            json!({"kind": "settings", "tz": "UTC", "json": false, "width": width, "data": settings_data}),
            format!("settings list COLUMNS={width}"),
            admin::settings_table(&settings, width),
        );
    }
    let theirs = reference(&cases);
    compare(&labels, &ours, &theirs);
}

#[test]
fn success_lines_wrap_like_rich() {
    let env64 = "e".repeat(20) + "-" + &"n".repeat(43);
    let lines = [
        format!("✓ Allowed proxy token 'wk-Zz9aB3xQ7mN2pL5kJ8hG4f' to authenticate to environment '{env64}'"),
        "✓ Revoked Service User ci-deployer's access to Environment production-eu-west.".to_owned(),
        format!("✓ Updated Service User {}'s role in Environment main to Contributor.", "x".repeat(90)),
        "✓ default-environment: updated from main to a-new-default-environment-name".to_owned(),
        "✗ image-builder-version: Unknown setting 'image-builder-versio'. Valid settings: default-environment, image-builder-version".to_owned(),
        "  ⚠ This Service User does not have access to any Environments.".to_owned(),
        "✓ Deleted Token `ak-日本語の長いトークン識別子でございます`.".to_owned(),
        "words  with   several spaces\tand a tab and a trailing space ".to_owned(),
        "two\nlines, the second one long enough to need wrapping at narrow widths\n".to_owned(),
    ];
    let (mut cases, mut labels, mut ours) = (Vec::new(), Vec::new(), Vec::new());
    for text in &lines {
        for width in [10, 20, 40, 80, 120, 200] {
            cases.push(json!({"kind": "console", "width": width, "text": text}));
            labels.push(format!("{text:?} at {width}"));
            ours.push(super::console(text, width));
        }
    }
    compare(&labels, &ours, &reference(&cases));
}
