//! Plugin commands: `--format NAME` for the list commands, `mws plugins
//! list`.
//!
//! Plugins run in the daemon's plugin host, never in this process: for
//! `--format NAME` the CLI first renders the rows as `--json` would (so
//! timestamps are in the user's time zone, which only the CLI knows), then
//! asks the daemon to turn that JSON into NAME with the plugin offering it.
//! `json` is built in (same as `--json`), and so is `table` (the default).

use crate::args::{FormatArg, JsonFlag};
use crate::client::Retry;
use crate::output::emit;
use crate::request::{self, unexpected};
use mws_ipc::{PluginInfo, PluginState, Request, Response};
use serde::Serialize;
use std::process::ExitCode;
use unicode_width::UnicodeWidthStr;

/// What `--format` asks for.
pub enum Output<'a> {
    Table,
    Json,
    Plugin(&'a str),
}

impl FormatArg {
    /// The output to produce, given `--json` too.
    pub fn output(&self, json: bool) -> Output<'_> {
        match self.format.as_deref() {
            _ if json => Output::Json,
            None | Some("table") => Output::Table,
            Some("json") => Output::Json,
            Some(name) => Output::Plugin(name),
        }
    }
}

/// Has the plugin offering `format` render `json` (the `--json` text of a
/// `kind` table: `members` or `tokens`).
pub fn render(kind: &str, format: &str, json: String) -> anyhow::Result<String> {
    let request = Request::Render {
        format: format.to_string(),
        kind: kind.to_string(),
        json,
    };
    match request::send(&request, Retry::Safe)? {
        Response::Rendered(text) => Ok(text),
        other => Err(unexpected(&other)),
    }
}

fn state_word(state: PluginState) -> &'static str {
    match state {
        PluginState::Loaded => "loaded",
        PluginState::Refused => "refused",
        PluginState::Quarantined => "quarantined",
    }
}

#[derive(Serialize)]
struct PluginJson<'a> {
    name: &'a str,
    version: &'a str,
    path: &'a str,
    formats: &'a [String],
    events: &'a [String],
    state: &'static str,
    reason: Option<&'a str>,
    last_error: Option<&'a str>,
}

pub(crate) fn pretty<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// Lays out rows as left-aligned columns separated by two spaces.
pub(crate) fn columns(rows: &[Vec<String>]) -> Vec<String> {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    line.push_str(&" ".repeat(widths[i] - cell.width() + 2));
                }
            }
            line
        })
        .collect()
}

fn plugins_text(plugins: &[PluginInfo]) -> String {
    if plugins.is_empty() {
        return format!(
            "No plugins found. Put plugin libraries in {}/ (see docs/plugins.md).\n",
            mws_ipc::paths::plugins_dir().display()
        );
    }
    let mut rows = vec![vec![
        "NAME".to_string(),
        "VERSION".into(),
        "STATE".into(),
        "CAPABILITIES".into(),
        "PATH".into(),
    ]];
    for p in plugins {
        let mut caps: Vec<String> = p.formats.iter().map(|f| format!("format {f}")).collect();
        caps.extend(p.events.iter().map(|e| format!("event {e}")));
        rows.push(vec![
            p.name.clone(),
            if p.version.is_empty() {
                "-".into()
            } else {
                p.version.clone()
            },
            state_word(p.state).into(),
            if caps.is_empty() {
                "-".into()
            } else {
                caps.join(", ")
            },
            p.path.clone(),
        ]);
    }
    let lines = columns(&rows);
    let mut out = String::new();
    out.push_str(lines[0].trim_end());
    out.push('\n');
    for (line, p) in lines[1..].iter().zip(plugins) {
        out.push_str(line.trim_end());
        out.push('\n');
        if let Some(reason) = &p.reason {
            out.push_str(&format!("    {}: {reason}\n", state_word(p.state)));
        }
        if let Some(error) = &p.last_error {
            out.push_str(&format!("    last error: {error}\n"));
        }
    }
    out
}

/// `mws plugins list [--json]`.
pub fn list(output: JsonFlag) -> anyhow::Result<ExitCode> {
    let plugins = match request::send(&Request::Plugins, Retry::Safe)? {
        Response::Plugins(plugins) => plugins,
        other => return Err(unexpected(&other)),
    };
    let text = if output.json {
        let rows: Vec<PluginJson<'_>> = plugins
            .iter()
            .map(|p| PluginJson {
                name: &p.name,
                version: &p.version,
                path: &p.path,
                formats: &p.formats,
                events: &p.events,
                state: state_word(p.state),
                reason: p.reason.as_deref(),
                last_error: p.last_error.as_deref(),
            })
            .collect();
        pretty(&rows)?
    } else {
        plugins_text(&plugins)
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, state: PluginState, reason: Option<&str>) -> PluginInfo {
        PluginInfo {
            name: name.into(),
            version: "1.0".into(),
            path: format!("/p/{name}.so"),
            formats: vec!["csv".into()],
            events: vec![],
            state,
            reason: reason.map(String::from),
            last_error: None,
        }
    }

    #[test]
    fn plugin_list_shows_state_and_reason() {
        let text = plugins_text(&[
            info("csv", PluginState::Loaded, None),
            info("bad", PluginState::Quarantined, Some("crashed")),
        ]);
        assert_eq!(
            text,
            "NAME  VERSION  STATE        CAPABILITIES  PATH\n\
             csv   1.0      loaded       format csv    /p/csv.so\n\
             bad   1.0      quarantined  format csv    /p/bad.so\n    quarantined: crashed\n"
        );
    }

    #[test]
    fn format_choice() {
        let f = |s: Option<&str>| FormatArg {
            format: s.map(String::from),
        };
        assert!(matches!(f(None).output(false), Output::Table));
        assert!(matches!(f(Some("json")).output(false), Output::Json));
        assert!(matches!(
            f(Some("csv")).output(false),
            Output::Plugin("csv")
        ));
        assert!(matches!(f(None).output(true), Output::Json));
    }
}
