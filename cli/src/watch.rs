//! `mws watch`: follows the daemon's change events for the selected
//! identity until interrupted. `--json` prints one JSON object per line
//! (`type`, `time`, `workspace`, `before`, `after`, `instance`, `seq`), the
//! format editor and shell integrations read; otherwise one human line per
//! event, starting with its number. `--since` resumes after an event seen
//! earlier: the daemon replays what it still holds, or says why it cannot
//! (a resync line), so a gap is never silent.

use crate::client::Client;
use crate::output::{self, Written};
use crate::render::time;
use crate::request::answer;
use anyhow::Context as _;
use mws_ipc::{Cursor, Event, Request, Response, ResyncReason};
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
        "instance": event.instance,
        "seq": event.seq,
    });
    serde_json::to_string(&value).unwrap_or_default()
}

/// One human line for an event: its number, when, where, what kind, and
/// the daemon's own wording of what it is about (the same words a desktop
/// notification shows, see `describe` in the daemon's `events` module).
pub fn human_line(event: &Event, tz: &jiff::tz::TimeZone) -> String {
    format!(
        "#{}  {}  {}  {}  {}",
        event.seq,
        time::table_timestamp(event.time, tz).unwrap_or_default(),
        event.workspace,
        event.kind,
        event.detail
    )
}

pub fn run(profile: Option<String>, json: bool, since: Option<Cursor>) -> anyhow::Result<ExitCode> {
    let request = Request::Watch {
        selection: Some(mws_ipc::Selection::from_env(profile, |name| {
            std::env::var_os(name)
        })),
        since: since.clone(),
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
            Response::Resync {
                reason,
                instance,
                seq,
            } => resync_line(since.as_ref(), reason, &instance, seq, json),
            // The subscription's `Ok` and `Watching`, and answers added later.
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

/// The line for a `--since` cursor the daemon cannot resume: `{"type":
/// "resync", "reason": …, "instance": …, "seq": …}` in JSON (the cursor
/// events go on from), a sentence otherwise.
fn resync_line(
    since: Option<&Cursor>,
    reason: ResyncReason,
    instance: &str,
    seq: u64,
    json: bool,
) -> String {
    if json {
        return serde_json::json!({
            "type": "resync",
            "reason": reason.as_str(),
            "instance": instance,
            "seq": seq,
        })
        .to_string();
    }
    let cursor = since.map(Cursor::to_string).unwrap_or_default();
    let why = match reason {
        ResyncReason::TooOld => {
            format!("events after {cursor} are no longer held (mwsd keeps the last 1,024)")
        }
        ResyncReason::OtherInstance => {
            format!("mwsd restarted since {cursor} (now instance {instance})")
        }
    };
    format!("resync: {why}; list again to see the current state; following from #{seq}")
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

    #[test]
    fn a_resync_names_its_reason() {
        let since: Cursor = "i1:3".parse().unwrap();
        assert_eq!(
            resync_line(Some(&since), ResyncReason::OtherInstance, "i2", 0, true),
            r#"{"type":"resync","reason":"other_instance","instance":"i2","seq":0}"#
        );
        assert_eq!(
            resync_line(Some(&since), ResyncReason::OtherInstance, "i2", 0, false),
            "resync: mwsd restarted since i1:3 (now instance i2); list again to see the current state; following from #0"
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
            instance: "i1".into(),
            seq: 12,
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
        assert_eq!(
            (v["instance"].as_str(), v["seq"].as_u64()),
            (Some("i1"), Some(12))
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn human_lines_say_what_changed() {
        let line = human_line(&event(), &jiff::tz::TimeZone::UTC);
        assert!(line.starts_with("#12  "), "{line}");
        assert!(
            line.ends_with("acme  token.renamed  wk-1: 'a' → 'b'"),
            "{line}"
        );
    }
}
