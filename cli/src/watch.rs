//! `mws watch`: follows the daemon's change events for the selected
//! identity until interrupted. `--json` prints one JSON object per line
//! (`type`, `time`, `workspace`, `before`, `after`), the format editor and
//! shell integrations read; otherwise one human line per event.

use crate::client::Client;
use crate::output::{self, Written};
use crate::render::time;
use crate::request::answer;
use anyhow::Context as _;
use mws_ipc::{Event, Request, Response};
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

/// One human line for an event: when, where, what kind, and the daemon's
/// own wording of what it is about (the same words a desktop notification
/// shows, see `describe` in the daemon's `events` module).
pub fn human_line(event: &Event, tz: &jiff::tz::TimeZone) -> String {
    format!(
        "{}  {}  {}  {}",
        time::table_timestamp(event.time, tz).unwrap_or_default(),
        event.workspace,
        event.kind,
        event.detail
    )
}

pub fn run(profile: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let request = Request::Watch {
        selection: Some(mws_ipc::Selection::from_env(profile, |name| {
            std::env::var_os(name)
        })),
    };
    let mut subscription = Client::new().subscribe(&request)?;
    drop(request);
    let tz = time::local_zone();
    while let Some(response) = subscription.next_response() {
        let line = match answer(response?)? {
            Response::Event(event) if json => json_line(&event, &tz),
            Response::Event(event) => human_line(&event, &tz),
            // Never a silent gap: say how many events this watcher missed.
            Response::Lagged { missed } => lagged_line(missed, json),
            // The subscription's `Ok`, and answers added later.
            _ => continue,
        };
        let written =
            output::write_stdout(&format!("{line}\n")).context("cannot write to stdout")?;
        if written == Written::ReaderGone {
            // e.g. `mws watch | head`: not an error.
            return Ok(ExitCode::SUCCESS);
        }
    }
    anyhow::bail!("unexpected answer from mwsd: mwsd closed the event stream")
}

/// The line for a subscription that fell behind: `{"type": "lagged",
/// "missed": N}` in JSON, a sentence otherwise.
fn lagged_line(missed: u64, json: bool) -> String {
    if json {
        serde_json::json!({ "type": "lagged", "missed": missed }).to_string()
    } else {
        format!(
            "{missed} event{} missed: this watcher fell behind; list again to see the current state",
            if missed == 1 { " was" } else { "s were" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lagged_stream_says_how_many_events_were_missed() {
        assert_eq!(lagged_line(7, true), r#"{"type":"lagged","missed":7}"#);
        assert_eq!(
            lagged_line(1, false),
            "1 event was missed: this watcher fell behind; list again to see the current state"
        );
    }

    fn event() -> Event {
        Event {
            kind: "token.renamed".into(),
            time: 1_700_000_000.9,
            workspace: "acme".into(),
            server_url: "http://x".into(),
            before: r#"{"token_id":"wk-1","name":"a"}"#.into(),
            after: r#"{"token_id":"wk-1","name":"b"}"#.into(),
            title: "Proxy token renamed".into(),
            detail: "wk-1: 'a' → 'b'".into(),
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
