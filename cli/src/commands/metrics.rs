//! `mws metrics`: the daemon's metrics in the Prometheus text format, as
//! its `[metrics] listen` endpoint serves them (see the daemon's `metrics`
//! module for what is counted).

use crate::client::Retry;
use crate::output::emit;
use crate::request::{send, unexpected};
use mws_ipc::{Request, Response};
use std::process::ExitCode;

pub(super) fn run() -> anyhow::Result<ExitCode> {
    match send(&Request::Metrics, Retry::Safe)? {
        Response::Metrics(text) => emit(&text)?,
        other => return Err(unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}
