//! What `settings`, `service-users` and `member-tokens` print, as the
//! official CLI lays it out (rich tables with the `SIMPLE_HEAD` / `SIMPLE`
//! boxes, the service user's info box with right-justified values, and the
//! one-time credential block of `service-users create`).

use super::table::{Table, HEAVY_HEAD, SIMPLE, SIMPLE_HEAD};
use super::{cells, console, time};
use jiff::tz::TimeZone;
use mws_ipc::{CreatedServiceUser, MemberToken, ServiceUser, WorkspaceSettings};

/// rich's `:warning:` emoji.
pub const WARNING: &str = "⚠";

/// `settings list`: the official `display_table` (the default box).
pub fn settings_table(settings: &WorkspaceSettings, width: usize) -> String {
    Table {
        headers: Some(&["Setting", "Value"]),
        rows: vec![
            vec![
                "default-environment".into(),
                settings.default_environment.clone(),
            ],
            vec![
                "image-builder-version".into(),
                settings.image_builder_version.clone(),
            ],
        ],
        style: &HEAVY_HEAD,
        show_lines: false,
        right_columns: &[],
    }
    .render(width)
}

/// `YYYY-MM-DD HH:MM ZONE`, or `unset` for a timestamp that is not set.
fn when(ts: f64, tz: &TimeZone, unset: &str) -> String {
    time::table_timestamp(ts, tz).unwrap_or_else(|| unset.to_owned())
}

/// `service-users list`.
pub fn service_users_table(users: &[ServiceUser], tz: &TimeZone, width: usize) -> String {
    let rows = users
        .iter()
        .map(|u| {
            vec![
                u.name.clone(),
                u.token_id.clone(),
                u.created_by.clone(),
                when(u.expires_at, tz, "-"),
            ]
        })
        .collect();
    Table {
        headers: Some(&["Name", "Token ID", "Created By", "Expires"]),
        rows,
        style: &SIMPLE_HEAD,
        show_lines: false,
        right_columns: &[],
    }
    .render(width)
}

/// Python's `str.capitalize()`: the first character upper case, the rest
/// lower case.
pub fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// `service-users info`: a warning when the service user can reach no
/// environment, then a box without header, values right-justified.
pub fn service_user_info(user: &ServiceUser, tz: &TimeZone, width: usize) -> String {
    let mut rows: Vec<Vec<String>> = vec![
        vec!["Name:".into(), user.name.clone()],
        vec!["Service User ID:".into(), user.service_user_id.clone()],
        vec!["Token ID:".into(), user.token_id.clone()],
        vec!["Created By:".into(), user.created_by.clone()],
        // The official CLI prints Python's `str(None)` for an unset date.
        vec!["Created At:".into(), when(user.created_at, tz, "None")],
        vec!["Last Used:".into(), when(user.last_used_at, tz, "-")],
        vec!["Expires:".into(), when(user.expires_at, tz, "-")],
    ];
    let access: Vec<_> = super::json::role_map(&user.environment_roles)
        .into_iter()
        .filter(|(_, role)| *role != "no-access")
        .collect();
    let mut out = String::new();
    if access.is_empty() {
        out.push('\n');
        out.push_str(&console(
            &format!("  {WARNING} This Service User does not have access to any Environments."),
            width,
        ));
    } else {
        rows.push(vec![String::new(), String::new()]);
        rows.push(vec!["Environment Access:".into(), String::new()]);
        for (environment, role) in access {
            rows.push(vec![format!("  {environment}"), capitalize(role)]);
        }
    }
    out.push_str(
        &Table {
            headers: None,
            rows,
            style: &SIMPLE,
            show_lines: false,
            right_columns: &[1],
        }
        .render(width),
    );
    out
}

/// `member-tokens list`; the Disabled column only when a token is disabled.
pub fn member_tokens_table(tokens: &[MemberToken], tz: &TimeZone, width: usize) -> String {
    let show_disabled = tokens.iter().any(|t| t.disabled);
    let rows = tokens
        .iter()
        .map(|t| {
            let mut row = vec![
                t.token_id.clone(),
                if t.name.is_empty() {
                    "-".into()
                } else {
                    t.name.clone()
                },
                t.username.clone(),
                when(t.created_at, tz, ""),
                when(t.expires_at, tz, "-"),
            ];
            if show_disabled {
                row.push(if t.disabled { "True" } else { "" }.into());
            }
            row
        })
        .collect();
    let headers: &[&str] = if show_disabled {
        &[
            "Token ID",
            "Name",
            "Created By",
            "Created At",
            "Expires",
            "Disabled",
        ]
    } else {
        &["Token ID", "Name", "Created By", "Created At", "Expires"]
    };
    Table {
        headers: Some(headers),
        rows,
        style: &SIMPLE_HEAD,
        show_lines: false,
        right_columns: &[],
    }
    .render(width)
}

/// rich's `Syntax(code, "sh", code_width=…, word_wrap=True)` without a
/// terminal: every line of `code` wrapped (folding long words) and padded to
/// `code_width` cells.
pub fn syntax_block(code: &str, code_width: usize) -> String {
    let mut out = String::new();
    for line in code.split('\n') {
        for piece in cells::wrap_fold(line, code_width) {
            out.push_str(&cells::fit(&piece, code_width));
            out.push('\n');
        }
    }
    out
}

/// `service-users create` without `--json`: the success line (with the
/// expiry when one was asked for), the variables to set in a code block
/// `code_width` wide, and the warning that the secret is shown only now.
pub fn created_service_user(
    name: &str,
    user: &CreatedServiceUser,
    expires: bool,
    tz: &TimeZone,
    width: usize,
    code_width: usize,
) -> String {
    let mut base = format!("✓ Successfully created Service User {name}");
    if expires {
        // `timestamp_to_localized_str(…, isotz=False)`: None when unset.
        base.push_str(&format!(
            ", expiring at {}",
            when(user.expires_at, tz, "None")
        ));
    }
    let mut out = console(&format!("{base}.\n"), width);
    out.push_str(&console(
        "To use it, set the following environment variables in your program:\n",
        width,
    ));
    out.push_str(&syntax_block(
        &format!(
            "\n export MODAL_TOKEN_ID={}\n export MODAL_TOKEN_SECRET={}\n",
            user.token_id,
            user.token_secret.expose()
        ),
        code_width,
    ));
    out.push('\n');
    out.push_str(&console(
        &format!("{WARNING} This is the only time you will be able to see the Token Secret."),
        width,
    ));
    out
}
