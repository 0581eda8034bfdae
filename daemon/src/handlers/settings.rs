//! `mws settings list|set`.
//!
//! `set` reads the current settings first (as the official client does, so
//! a plain member gets the read's PERMISSION_DENIED), then asks for the
//! change; a refused change is not an error of the request but part of the
//! answer, for the CLI's official `✗ SETTING: …` line.

use super::context::Context;
use crate::error::Error;
use mws_ipc::{Response, SettingsCommand};
use std::time::Duration;

/// The settings `settings set` knows, in the official client's order.
const SETTINGS: [&str; 2] = ["default-environment", "image-builder-version"];

pub(super) async fn handle(cx: &Context, command: SettingsCommand) -> Result<Response, Error> {
    match command {
        SettingsCommand::List => Ok(Response::Settings(
            cx.session.workspace_settings(cx.max_age).await?,
        )),
        SettingsCommand::Set { setting, value } => set(cx, &setting, &value).await,
    }
}

async fn set(cx: &Context, setting: &str, value: &str) -> Result<Response, Error> {
    let current = cx.session.workspace_settings(Duration::ZERO).await?;
    let previous = match setting {
        "default-environment" => current.default_environment,
        "image-builder-version" => current.image_builder_version,
        _ => String::new(),
    };
    let error = if SETTINGS.contains(&setting) {
        cx.session
            .set_setting(setting, value, cx.mutation.as_ref())
            .await
            .err()
            .map(|e| e.to_string())
    } else {
        // Python's ValueError text, with the name as `repr` shows it.
        Some(format!(
            "Unknown setting {}. Valid settings: {}",
            py_repr(setting),
            SETTINGS.join(", ")
        ))
    };
    Ok(Response::SettingSet { previous, error })
}

/// A string as Python's `repr` writes it (the official messages use `!r`).
fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::py_repr;

    #[test]
    fn repr_matches_python() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("tab\there"), "'tab\\there'");
    }
}
