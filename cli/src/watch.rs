//! `mws watch`: follows the daemon's change events for the selected
//! identity until interrupted. `--json` prints one JSON object per line
//! (`type`, `time`, `workspace`, `before`, `after`), the format editor and
//! shell integrations read; otherwise one human line per event.

use crate::client::Client;
use crate::commands::CommandError;
use crate::render::time;
use crate::selection;
use mws_ipc::{Event, Request, Response};
use std::io::Write;
use std::process::ExitCode;

/// The JSON line for one event; timestamps as in `--json` listings.
pub fn json_line(event: &Event, tz: &jiff::tz::TimeZone) -> String {
    let parse = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).unwrap_or(serde_json::Value::Null)
    };
    let value = serde_json::json!({
        "type": event.kind,
        "time": time::json_timestamp(event.time, tz),
        "workspace": event.workspace,
        "before": parse(&event.before),
        "after": parse(&event.after),
    });
    serde_json::to_string(&value).unwrap_or_default()
}

/// One human line for an event.
pub fn human_line(event: &Event, tz: &jiff::tz::TimeZone) -> String {
    let after: serde_json::Value = serde_json::from_str(&event.after).unwrap_or_default();
    let before: serde_json::Value = serde_json::from_str(&event.before).unwrap_or_default();
    let subject = if after.is_null() { &before } else { &after };
    let text = |v: &serde_json::Value, k: &str| {
        v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string()
    };
    let what = match event.kind.split('.').next() {
        // A plugin's alert (e.g. alert.token_age): its level and message.
        Some("alert") => format!("{}: {}", text(subject, "level"), text(subject, "message")),
        Some("member") => {
            let mut who = text(subject, "email");
            if event.kind == "member.role_changed" {
                who = format!(
                    "{who}: {} → {}",
                    text(&before, "role"),
                    text(&after, "role")
                );
            }
            who
        }
        _ => {
            let id = text(subject, "token_id");
            match event.kind.as_str() {
                "token.renamed" => format!(
                    "{id}: '{}' → '{}'",
                    text(&before, "name"),
                    text(&after, "name")
                ),
                _ => {
                    let name = text(subject, "name");
                    if name.is_empty() {
                        id
                    } else {
                        format!("{id} ('{name}')")
                    }
                }
            }
        }
    };
    format!(
        "{}  {}  {}  {}",
        time::table_timestamp(event.time, tz).unwrap_or_default(),
        event.workspace,
        event.kind,
        what
    )
}

pub fn run(profile: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let request = Request::Watch {
        selection: Some(selection::from_env(profile, |name| std::env::var_os(name))),
    };
    let mut subscription = Client::new()
        .subscribe(&request)
        .map_err(CommandError::from)?;
    drop(request);
    let tz = time::local_zone();
    let stdout = std::io::stdout();
    while let Some(response) = subscription.next_response() {
        let line = match response.map_err(CommandError::from)? {
            Response::Ok => continue,
            Response::Event(event) if json => json_line(&event, &tz),
            Response::Event(event) => human_line(&event, &tz),
            Response::Error(reply) => return Err(CommandError::Daemon(reply).into()),
            _ => continue,
        };
        let mut out = stdout.lock();
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            // The reader went away (e.g. `mws watch | head`): not an error.
            return Ok(ExitCode::SUCCESS);
        }
    }
    Err(CommandError::Unexpected("mwsd closed the event stream".into()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            kind: "token.renamed".into(),
            time: 1_700_000_000.9,
            workspace: "acme".into(),
            server_url: "http://x".into(),
            before: r#"{"token_id":"wk-1","name":"a"}"#.into(),
            after: r#"{"token_id":"wk-1","name":"b"}"#.into(),
        }
    }

    #[test]
    fn json_lines_carry_objects_not_strings() {
        let line = json_line(&event(), &jiff::tz::TimeZone::UTC);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "token.renamed");
        assert_eq!(v["time"], "2023-11-14 22:13:20+00:00");
        assert_eq!(v["before"]["name"], "a");
        assert_eq!(v["after"]["name"], "b");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn human_lines_say_what_changed() {
        let line = human_line(&event(), &jiff::tz::TimeZone::UTC);
        assert!(
            line.ends_with("acme  token.renamed  wk-1: 'a' → 'b'"),
            "{line}"
        );
    }
}
