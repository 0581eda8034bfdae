//! `mws members list`.

use crate::args::MembersCommand;
use crate::output::emit;
use crate::plugins::{self, Output};
use crate::render::{self, json};
use crate::request::{self, unexpected};
use crate::term;
use mws_ipc::{Response, WorkspaceCommand};
use std::process::ExitCode;

pub fn run(profile: Option<String>, command: MembersCommand) -> anyhow::Result<ExitCode> {
    let MembersCommand::List {
        output,
        format,
        freshness,
    } = command;
    let response = request::workspace(profile, freshness.into(), WorkspaceCommand::MembersList)?;
    let Response::Members(list) = response else {
        return Err(unexpected(&response));
    };
    let sorted = render::sort_members(&list);
    let tz = render::time::local_zone();
    let text = match format.output(output.json) {
        Output::Json => json::members(&sorted, &tz),
        Output::Table => render::members_table(&sorted, &tz, term::width()),
        Output::Plugin(name) => plugins::render("members", name, json::members(&sorted, &tz))?,
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}
