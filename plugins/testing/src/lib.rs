//! A plugin for mws's own tests, never for users: each format it offers
//! misbehaves in one way, so the tests can show that the daemon survives.
//!
//! - `panic`: panics (the macro turns it into an error for that request);
//! - `abort`: aborts the whole host process (it gets quarantined);
//! - `fail`: returns an ordinary error;
//! - `garbage`: returns bytes that are not UTF-8;
//! - `slow`: sleeps longer than any sensible call timeout.

fn render(format: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    match format {
        "panic" => panic!(
            "testing plugin panicked on purpose ({} input bytes)",
            input.len()
        ),
        "abort" => std::process::abort(),
        "fail" => Err("testing plugin refused on purpose".into()),
        "garbage" => Ok(vec![0xff, 0xfe, b'x']),
        "slow" => {
            std::thread::sleep(std::time::Duration::from_secs(600));
            Ok(Vec::new())
        }
        other => Err(format!("unknown format '{other}'")),
    }
}

mws_plugin_api::export_plugin! {
    name: "testing",
    version: env!("CARGO_PKG_VERSION"),
    formats: "panic,abort,fail,garbage,slow",
    events: "",
    render: Some(render),
    on_event: None,
}
