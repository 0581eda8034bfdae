//! Usage errors shaped as the official CLI (click 8) prints them, on stderr
//! with exit code 2:
//!
//! ```text
//! Usage: mws workspace proxy-tokens delete [OPTIONS] TOKEN_ID
//! Try 'mws workspace proxy-tokens delete --help' for help.
//!
//! Error: Got unexpected extra argument (b)
//! ```
//!
//! Why not clap's own format: scripts and people that know `modal workspace`
//! read these lines, and the wording (`Missing argument 'ROLE'.`, `No such
//! option '--bogus'.`) is what they search for. clap still parses; this
//! module only rewrites its errors (and reports the usage errors commands
//! find after parsing, such as a bad `--expires-in`).
//!
//! The usage line names the command as typed (`mws proxy-tokens …` or
//! `mws workspace proxy-tokens …`) and wraps like click's (text width
//! `min(COLUMNS, 80) - 2`, at least 50).

use crate::args::Cli;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::CommandFactory;
use std::ffi::OsString;

/// Handles a clap parse error: help and version as clap prints them, help
/// for a command given no arguments on stdout with exit 2 (as click's
/// `no_args_is_help`), anything else as a click-style usage error.
pub fn exit_on_parse_error(error: clap::Error, argv: &[OsString]) -> ! {
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => error.exit(),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let text = error.render().to_string();
            let _ = crate::output::emit(&text);
            std::process::exit(2);
        }
        _ => {}
    }
    let path = typed_path(argv);
    let (message, with_usage) = message(&error, argv);
    if with_usage {
        print_usage_error(&path, &message)
    } else {
        eprintln!("Error: {message}");
        std::process::exit(2)
    }
}

/// Reports a usage error found after parsing (e.g. a bad `--expires-in`)
/// for the command the user typed, and exits 2.
pub fn fail(message: &str) -> ! {
    let argv: Vec<OsString> = std::env::args_os().collect();
    print_usage_error(&typed_path(&argv), message)
}

fn print_usage_error(path: &[String], message: &str) -> ! {
    let text = render(path, message, help_width());
    eprint!("{text}");
    std::process::exit(2)
}

/// The usage error text for the subcommand `path` (names after `mws`).
pub fn render(path: &[String], message: &str, width: usize) -> String {
    let program = std::iter::once("mws")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let args = usage_args(path);
    let mut out = usage_line(&program, &args, width);
    out.push_str(&format!(
        "Try '{program} --help' for help.\n\nError: {message}\n"
    ));
    out
}

/// click's formatter width: `min(COLUMNS, 80) - 2`, at least 50.
fn help_width() -> usize {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|&c| c > 0)
        .unwrap_or(80);
    columns.min(80).saturating_sub(2).max(50)
}

/// The subcommands named on the command line, in order (global options and
/// their values skipped), as far as they are declared.
fn typed_path(argv: &[OsString]) -> Vec<String> {
    let root = Cli::command();
    let mut command = &root;
    let mut path = Vec::new();
    let mut args = argv.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        if arg == "--profile" {
            args.next();
            continue;
        }
        if arg.starts_with('-') {
            continue;
        }
        match command.find_subcommand(arg.as_ref()) {
            Some(sub) => {
                path.push(sub.get_name().to_owned());
                command = sub;
            }
            None => break,
        }
    }
    path
}

/// click's usage arguments of a command: `[OPTIONS]`, then its positional
/// arguments (`NAME`, `[NAME]`, `[NAMES]...`), or `COMMAND [ARGS]...` for a
/// group.
fn usage_args(path: &[String]) -> String {
    let root = Cli::command();
    let mut command = &root;
    for name in path {
        match command.find_subcommand(name) {
            Some(sub) => command = sub,
            None => break,
        }
    }
    let mut parts = vec!["[OPTIONS]".to_owned()];
    if command.has_subcommands() {
        parts.push("COMMAND [ARGS]...".to_owned());
        return parts.join(" ");
    }
    for arg in command.get_positionals() {
        let name = arg
            .get_value_names()
            .and_then(|names| names.first())
            .map_or_else(|| arg.get_id().as_str().to_uppercase(), |n| n.to_string());
        let many = arg
            .get_num_args()
            .is_some_and(|range| range.max_values() > 1);
        let part = match (arg.is_required_set(), many) {
            (true, false) => name,
            (false, false) => format!("[{name}]"),
            (true, true) => format!("{name}..."),
            (false, true) => format!("[{name}]..."),
        };
        parts.push(part);
    }
    parts.join(" ")
}

/// click's `HelpFormatter.write_usage`: `Usage: PROG ARGS`, the arguments
/// wrapped (textwrap) beside the prefix, or under it when the prefix leaves
/// fewer than 20 columns.
fn usage_line(program: &str, args: &str, width: usize) -> String {
    let prefix = format!("Usage: {program} ");
    let prefix_len = prefix.chars().count();
    let mut out = String::new();
    if width >= prefix_len + 20 {
        out.push_str(&text_wrap(args, width, &prefix, &" ".repeat(prefix_len)));
    } else {
        out.push_str(&prefix);
        out.push('\n');
        let indent = " ".repeat("Usage: ".len() + 4);
        out.push_str(&text_wrap(args, width, &indent, &indent));
    }
    out.push('\n');
    out
}

/// Python's `textwrap.fill` for space-separated words (long words broken).
fn text_wrap(text: &str, width: usize, initial: &str, subsequent: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = initial.to_owned();
    let mut empty = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = line.chars().count();
            let needed = word.len() + usize::from(!empty);
            if used + needed <= width {
                if !empty {
                    line.push(' ');
                }
                line.extend(word.iter());
                empty = false;
                break;
            }
            if empty {
                // A word longer than a whole line: break it.
                let room = width.saturating_sub(used).max(1);
                let rest = word.split_off(room.min(word.len()));
                line.extend(word.iter());
                word = rest;
                if word.is_empty() {
                    empty = false;
                    break;
                }
            }
            lines.push(std::mem::replace(&mut line, subsequent.to_owned()));
            empty = true;
        }
    }
    lines.push(line);
    lines.join("\n")
}

fn text(value: Option<&ContextValue>) -> Option<String> {
    match value? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        ContextValue::StyledStr(s) => Some(s.to_string()),
        ContextValue::StyledStrs(v) => v.first().map(ToString::to_string),
        _ => None,
    }
}

/// An option's name without its value placeholder: `--name <NAME>` → `--name`.
fn option_name(arg: &str) -> &str {
    arg.split([' ', '=']).next().unwrap_or(arg)
}

/// click's message for a clap error, and whether click prints the usage
/// lines with it.
fn message(error: &clap::Error, argv: &[OsString]) -> (String, bool) {
    let arg = text(error.get(ContextKind::InvalidArg)).unwrap_or_default();
    match error.kind() {
        ErrorKind::MissingRequiredArgument => {
            if arg.starts_with('-') {
                (format!("Missing option '{}'.", option_name(&arg)), true)
            } else {
                let name = arg.trim_start_matches('<').trim_end_matches('>');
                let name = name.trim_end_matches("...").trim_end_matches('>');
                (format!("Missing argument '{name}'."), true)
            }
        }
        ErrorKind::UnknownArgument if arg.starts_with('-') => {
            let mut message = format!("No such option '{}'.", option_name(&arg));
            if let Some(suggestion) = text(error.get(ContextKind::SuggestedArg)) {
                if suggestion.starts_with('-') {
                    message.push_str(&format!(" Did you mean '{}'?", option_name(&suggestion)));
                }
            }
            (message, true)
        }
        ErrorKind::UnknownArgument => {
            // click names every extra argument; clap stops at the first.
            let extras: Vec<String> = argv
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .skip_while(|a| *a != arg)
                .filter(|a| !a.starts_with('-'))
                .collect();
            let extras = if extras.is_empty() { vec![arg] } else { extras };
            let noun = if extras.len() == 1 {
                "argument"
            } else {
                "arguments"
            };
            (
                format!("Got unexpected extra {noun} ({})", extras.join(" ")),
                true,
            )
        }
        ErrorKind::InvalidSubcommand => {
            let name = text(error.get(ContextKind::InvalidSubcommand)).unwrap_or_default();
            (format!("No such command '{name}'."), true)
        }
        ErrorKind::InvalidValue
            if text(error.get(ContextKind::InvalidValue)).is_none_or(|v| v.is_empty()) =>
        {
            // click names the option as typed (`-e`, not `--environment`):
            // the last word, since a value was missing after it.
            let typed = argv
                .last()
                .map(|a| a.to_string_lossy().into_owned())
                .filter(|a| a.starts_with('-'))
                .unwrap_or_else(|| option_name(&arg).to_owned());
            (format!("Option '{typed}' requires an argument."), false)
        }
        _ => (clap_message(error), true),
    }
}

/// clap's own one-line message, capitalised like click's.
fn clap_message(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ")
        .trim();
    let mut chars = first.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => "invalid usage".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn parse_error(args: &[&str]) -> String {
        let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
        let error = Cli::try_parse_from(&argv).unwrap_err();
        let (message, with_usage) = message(&error, &argv);
        if with_usage {
            render(&typed_path(&argv), &message, 78)
        } else {
            format!("Error: {message}\n")
        }
    }

    #[test]
    fn extra_arguments_are_named_like_click() {
        assert_eq!(
            parse_error(&["mws", "workspace", "proxy-tokens", "delete", "a", "b", "c"]),
            "Usage: mws workspace proxy-tokens delete [OPTIONS] TOKEN_ID\n\
             Try 'mws workspace proxy-tokens delete --help' for help.\n\n\
             Error: Got unexpected extra arguments (b c)\n"
        );
        assert!(parse_error(&["mws", "proxy-tokens", "delete", "a", "b"])
            .ends_with("Error: Got unexpected extra argument (b)\n"));
    }

    #[test]
    fn unknown_options_and_suggestions() {
        let out = parse_error(&["mws", "proxy-tokens", "list", "--jsn"]);
        assert!(
            out.starts_with("Usage: mws proxy-tokens list [OPTIONS]\n"),
            "{out}"
        );
        assert!(
            out.ends_with("Error: No such option '--jsn'. Did you mean '--json'?\n"),
            "{out}"
        );
    }

    #[test]
    fn missing_value_has_no_usage_lines() {
        assert_eq!(
            parse_error(&["mws", "proxy-tokens", "list", "-e"]),
            "Error: Option '-e' requires an argument.\n"
        );
    }

    #[test]
    fn missing_argument_names_the_first_one() {
        let out = parse_error(&["mws", "workspace", "service-users", "set-role", "a", "b"]);
        assert_eq!(
            out,
            "Usage: mws workspace service-users set-role [OPTIONS] SERVICE_USER_NAME\n\
            \x20                                           ENVIRONMENT_NAME ROLE\n\
             Try 'mws workspace service-users set-role --help' for help.\n\n\
             Error: Missing argument 'ROLE'.\n"
        );
    }

    #[test]
    fn unknown_command() {
        assert!(parse_error(&["mws", "workspace", "nope"])
            .starts_with("Usage: mws workspace [OPTIONS] COMMAND [ARGS]...\n"));
        assert!(parse_error(&["mws", "workspace", "nope"])
            .ends_with("Error: No such command 'nope'.\n"));
    }

    #[test]
    fn variadic_arguments_and_narrow_wrapping() {
        let path: Vec<String> = ["workspace", "member-tokens", "disable"]
            .map(String::from)
            .to_vec();
        assert!(render(&path, "x", 78)
            .starts_with("Usage: mws workspace member-tokens disable [OPTIONS] [TOKEN_IDS]...\n"));
        // A prefix that leaves fewer than 20 columns puts the arguments under it.
        let path: Vec<String> = ["workspace", "service-users", "set-role"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            render(&path, "x", 50),
            "Usage: mws workspace service-users set-role \n\
            \x20          [OPTIONS] SERVICE_USER_NAME\n\
            \x20          ENVIRONMENT_NAME ROLE\n\
             Try 'mws workspace service-users set-role --help' for help.\n\nError: x\n"
        );
    }
}
