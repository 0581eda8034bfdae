//! Byte-for-byte comparison with the official CLI. Runs the official client
//! (modal==1.6.4, and the rich it ships with) on the same data, time zones
//! and widths, and compares with our renderers: tables through rich itself,
//! and `members list` / `proxy-tokens list` / `create` through the official
//! commands with the network answer canned (`rich_reference.py`).
//!
//! Needs Python with modal==1.6.4: `MWS_MODAL_PYTHON`, else
//! `<workspace>/.venv/bin/python`. Missing Python is a failure, not a skip.
//!
//! Only zones without DST are compared for timestamps: across a DST change
//! the official CLI applies today's offset to every date, and we do not.

use super::{created_box, json, members_table, sort_members, tokens_table};
use crate::render::table::{Table, HEAVY_HEAD};
use jiff::tz::TimeZone;
use mws_ipc::{CreatedToken, Member, ProxyToken, Secret};
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
                }
                .render(width),
            );
        }
    }
    compare(&labels, &ours, &reference(&cases));
}
