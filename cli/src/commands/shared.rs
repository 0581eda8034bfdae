//! What several command groups print the same way: the official CLI's
//! success lines (rich's `Console.print`: wrapped at the console width,
//! the mark green on a terminal).

use crate::output::{self, emit};
use crate::render;
use crate::term;

/// Prints `text` as rich prints a line of plain text: wrapped at the
/// console width. A leading `✓` / `✗` is coloured on a terminal.
pub fn say(text: &str) -> anyhow::Result<()> {
    let mut out = render::console(text, term::width());
    if term::color(1) {
        if let Some(rest) = out.strip_prefix("✓") {
            out = format!("{}{rest}", output::tick(true));
        } else if let Some(rest) = out.strip_prefix("✗") {
            out = format!("{}{rest}", output::cross(true));
        }
    }
    emit(&out)
}

/// `✓ <message>` on stdout.
pub fn success(message: &str) -> anyhow::Result<()> {
    say(&format!("✓ {message}"))
}

/// The ids in the order given, each once (the official CLI counts the
/// de-duplicated set).
pub fn unique(ids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect()
}
