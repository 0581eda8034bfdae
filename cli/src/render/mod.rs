//! Turning daemon answers into what the user sees. Pure functions of the data,
//! the time zone and the terminal width, so they are tested without a
//! terminal, a daemon or the process's `TZ`.

pub mod admin;
pub mod cells;
pub mod json;
pub mod table;
pub mod time;

use jiff::tz::TimeZone;
use mws_ipc::{CreatedToken, Member, ProxyToken, TokenInfo};
use table::{Table, HEAVY_HEAD, HORIZONTALS};

const MEMBER_HEADERS: [&str; 6] = ["Name", "Email", "Role", "User ID", "Joined", "Last active"];
const TOKEN_HEADERS: [&str; 5] = ["Name", "Token ID", "Created at", "Created by", "Scoped"];

/// Members in the official CLI's order: by display name, plain code-point
/// order (so `Bob` sorts before `alice`), stable for equal names.
pub fn sort_members(members: &[Member]) -> Vec<&Member> {
    let mut sorted: Vec<&Member> = members.iter().collect();
    // `str` ordering is byte order, which for UTF-8 is code-point order.
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    sorted
}

/// A line (or lines) as rich's `Console.print` shows plain text on a console
/// `width` cells wide: wrapped at word boundaries, long words folded, with a
/// final newline. The official CLI prints its success and warning lines so.
pub fn console(text: &str, width: usize) -> String {
    let mut out = cells::wrap_fold(text, width).join("\n");
    out.push('\n');
    out
}

/// What the server says of a credential (`TokenInfoGet`), one fact a line,
/// each line starting with `indent`: its name, owner, creation and expiry.
pub fn token_info_lines(info: &TokenInfo, tz: &TimeZone, indent: &str) -> String {
    let name = if info.token_name.is_empty() {
        "(none)"
    } else {
        &info.token_name
    };
    let owner = match info.owner_kind.as_str() {
        "service_user" => format!("{} (service user)", info.owner),
        "" => info.owner.clone(),
        kind => format!("{} ({kind})", info.owner),
    };
    let created = time::table_timestamp(info.created_at, tz).unwrap_or_else(|| "unknown".into());
    let expires = time::table_timestamp(info.expires_at, tz).unwrap_or_else(|| "never".into());
    format!(
        "{indent}token name: {name}\n{indent}owner:      {owner}\n{indent}created:    {created}\n{indent}expires:    {expires}\n"
    )
}

/// `Bearer wk-….ws-…`, the single-header form of a proxy token.
pub fn bearer(token: &CreatedToken) -> String {
    format!("Bearer {}.{}", token.token_id, token.token_secret.expose())
}

fn cell(value: Option<String>) -> String {
    value.unwrap_or_default()
}

/// The members table.
pub fn members_table(members: &[&Member], tz: &TimeZone, width: usize) -> String {
    let rows = members
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.email.clone(),
                m.role.clone(),
                m.user_id.clone(),
                cell(time::table_timestamp(m.joined_at, tz)),
                cell(time::table_timestamp(m.last_active_at, tz)),
            ]
        })
        .collect();
    Table {
        headers: Some(&MEMBER_HEADERS),
        rows,
        style: &HEAVY_HEAD,
        show_lines: false,
        right_columns: &[],
    }
    .render(width)
}

/// The proxy tokens table.
pub fn tokens_table(tokens: &[ProxyToken], tz: &TimeZone, width: usize) -> String {
    let rows = tokens
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.token_id.clone(),
                cell(time::table_timestamp(t.created_at, tz)),
                t.created_by.clone(),
                if t.scoped { "True" } else { "False" }.to_owned(),
            ]
        })
        .collect();
    Table {
        headers: Some(&TOKEN_HEADERS),
        rows,
        style: &HEAVY_HEAD,
        show_lines: false,
        right_columns: &[],
    }
    .render(width)
}

/// The box the official CLI prints after `create`: the header pair, a rule,
/// the bearer form. Unlike the official CLI it never cuts the secret to fit
/// a narrow terminal (a cut secret is useless); the box grows instead.
pub fn created_box(token: &CreatedToken, width: usize) -> String {
    let rows = vec![
        vec![format!(
            "Modal-Key: {}\nModal-Secret: {}",
            token.token_id,
            token.token_secret.expose()
        )],
        vec![format!("Authorization: {}", bearer(token))],
    ];
    let needed = rows
        .iter()
        .flat_map(|r| r[0].split('\n'))
        .map(cells::cell_len)
        .max()
        .unwrap_or(0)
        + 4;
    Table {
        headers: None,
        rows,
        style: &HORIZONTALS,
        show_lines: true,
        right_columns: &[],
    }
    .render(width.max(needed))
}

/// Python's `repr()` of a string, as the official CLI's success messages
/// quote token ids and environment names (`'wk-1'`, or `"it's"`).
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !py_printable(c) => {
                let cp = c as u32;
                if cp < 0x100 {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else if cp < 0x10000 {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable()` for one character, without Unicode tables:
/// controls, separators other than space, common format characters and
/// private-use characters are not printable.
fn py_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x180e
        | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f
        | 0xd800..=0xf8ff | 0xfeff | 0xfff9..=0xfffb | 0x110bd | 0x110cd
        | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..=0x10ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mws_ipc::Secret;

    fn named(name: &str) -> Member {
        Member {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn members_sort_by_code_point_and_stably() {
        let mut first = named("bob");
        first.user_id = "1".into();
        let mut second = named("bob");
        second.user_id = "2".into();
        let list = vec![
            named("alice"),
            first,
            named("Bob"),
            named(""),
            second,
            named("Émile"),
            named("Zed"),
        ];
        let sorted: Vec<String> = sort_members(&list)
            .iter()
            .map(|m| format!("{}{}", m.name, m.user_id))
            .collect();
        assert_eq!(sorted, ["", "Bob", "Zed", "alice", "bob1", "bob2", "Émile"]);
    }

    #[test]
    fn python_repr() {
        assert_eq!(py_repr("wk-1"), "'wk-1'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("tab\there\n"), "'tab\\there\\n'");
        assert_eq!(py_repr("x\u{7}\u{200b}日本"), "'x\\x07\\u200b日本'");
    }

    #[test]
    fn created_box_layout() {
        let token = CreatedToken {
            token_id: "wk-abc".into(),
            token_secret: Secret::new("ws-def".into()),
        };
        let out = created_box(&token, 80);
        let rule = format!(" {} ", "─".repeat(37));
        let expected = format!(
            "{rule}\n  Modal-Key: wk-abc                    \n  Modal-Secret: ws-def                 \n{rule}\n  Authorization: Bearer wk-abc.ws-def  \n{rule}\n"
        );
        assert_eq!(out, expected);
        // Never cut, even on a tiny terminal.
        assert!(created_box(&token, 10).contains("Bearer wk-abc.ws-def"));
    }

    #[test]
    fn zero_rows_render_header_and_empty_body() {
        let out = tokens_table(&[], &TimeZone::UTC, 80);
        assert_eq!(out.lines().count(), 4);
        assert!(out.starts_with("┏━━━━━━┳"));
    }
}

#[cfg(test)]
mod rich_reference;
