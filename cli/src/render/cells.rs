//! Terminal cell widths and the word wrapping of one table cell, done the way
//! the official CLI's table library (rich 15) does it.
//!
//! Why not a generic wrapper: users compare our tables with the official
//! CLI's, and scripts that scrape tables (they should use `--json`, but they
//! exist) break on a one-cell difference. So this module follows rich's rules
//! step by step, including its odd corners: words keep their trailing spaces
//! when measured, a word wider than the cell is cut with `…` rather than
//! folded, a wide character cut in half becomes a space, and the control
//! characters rich drops (BEL, BS, VT, FF, CR) are dropped.
//!
//! Widths come from `unicode-width` (East Asian Wide/Fullwidth = 2 cells,
//! combining marks = 0), with rich's extras: C0/C1 controls are 0 cells, a
//! zero-width joiner hides the character after it, and VS16 widens an emoji
//! that is narrow by default.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Characters rich removes from any text before rendering it.
const STRIPPED_CONTROLS: [char; 5] = ['\u{7}', '\u{8}', '\u{b}', '\u{c}', '\u{d}'];

const ZWJ: char = '\u{200d}';
const VS16: char = '\u{fe0f}';

/// Width in cells of one character on its own.
pub fn char_width(c: char) -> usize {
    let cp = c as u32;
    if (cp != 0 && cp < 32) || (0x7f..0xa0).contains(&cp) {
        return 0;
    }
    c.width().unwrap_or(0)
}

/// True when `c` is one cell wide but two cells followed by VS16 (e.g. `❤`).
fn narrow_to_wide(c: char) -> bool {
    if char_width(c) != 1 {
        return false;
    }
    let mut buf = [0u8; 8];
    let len = c.encode_utf8(&mut buf).len();
    let vs = VS16.encode_utf8(&mut buf[len..]).len();
    std::str::from_utf8(&buf[..len + vs]).is_ok_and(|s| s.width() == 2)
}

/// Characters rich treats as one cell without looking them up; also the
/// strings for which it slices by character count.
fn is_single_cell(c: char) -> bool {
    matches!(c as u32,
        0x20..=0x7e | 0xa0..=0xac | 0xae..=0x2ff | 0x370..=0x482 | 0x2500..=0x25fc | 0x2800..=0x28ff)
}

fn all_single_cell(s: &str) -> bool {
    s.chars().all(is_single_cell)
}

/// Python's `str.isspace()` (and `\s` in its regular expressions).
pub fn py_isspace(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{1c}'..='\u{1f}')
}

/// One grapheme as rich sees it: byte range and width in cells.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    width: usize,
}

/// rich's `split_graphemes`: zero-width characters stick to the previous
/// one, a ZWJ swallows the character after it, VS16 may widen its base.
fn graphemes(text: &str) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::with_capacity(text.len());
    let mut last_measured: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        let end = index + c.len_utf8();
        if c == ZWJ || c == VS16 {
            let Some(last) = spans.last_mut() else {
                spans.push(Span {
                    start: index,
                    end,
                    width: 0,
                });
                continue;
            };
            if c == ZWJ {
                last.end = match chars.next() {
                    Some((i, joined)) => i + joined.len_utf8(),
                    None => end,
                };
            } else {
                last.end = end;
                if last_measured.is_some_and(narrow_to_wide) {
                    last_measured = None;
                    last.width += 1;
                }
            }
            continue;
        }
        let width = char_width(c);
        if width > 0 {
            last_measured = Some(c);
            spans.push(Span {
                start: index,
                end,
                width,
            });
        } else if let Some(last) = spans.last_mut() {
            last.end = end;
        } else {
            spans.push(Span {
                start: index,
                end,
                width: 0,
            });
        }
    }
    spans
}

/// Width of a string in terminal cells.
pub fn cell_len(text: &str) -> usize {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.len();
    }
    // Latin, Greek, Cyrillic, box drawing…: one cell each, no lookup.
    if all_single_cell(text) {
        return text.chars().count();
    }
    graphemes(text).iter().map(|s| s.width).sum()
}

/// rich's `set_cell_size`: crops or pads `text` to exactly `total` cells
/// (a wide character cut in half becomes a space). Like Python slicing, a
/// negative total on plain single-cell text drops characters from the end.
pub fn set_cell_size(text: &str, total: i64) -> String {
    if all_single_cell(text) {
        let size = text.chars().count() as i64;
        if size < total {
            return format!("{text}{}", " ".repeat((total - size) as usize));
        }
        let keep = if total >= 0 {
            total
        } else {
            (size + total).max(0)
        };
        return text.chars().take(keep as usize).collect();
    }
    if total <= 0 {
        return String::new();
    }
    let total = total as usize;
    let size = cell_len(text);
    if size == total {
        return text.to_owned();
    }
    if size < total {
        return format!("{text}{}", " ".repeat(total - size));
    }
    let mut used = 0;
    for span in graphemes(text) {
        if used == total {
            return text[..span.start].to_owned();
        }
        if used + span.width > total {
            return format!("{} ", &text[..span.start]);
        }
        used += span.width;
    }
    text.to_owned()
}

/// Removes the control characters rich drops from every text.
pub fn strip_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(STRIPPED_CONTROLS) {
        text.replace(STRIPPED_CONTROLS, "").into()
    } else {
        text.into()
    }
}

/// Python's `str.splitlines()` separators that survive [`strip_controls`].
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// The narrowest and widest a text can be laid out (rich's `Measurement` of
/// a `Text`): the widest word, and the widest line.
pub fn measure(text: &str) -> (usize, usize) {
    let text = strip_controls(text);
    let max_line = text.split(is_line_break).map(cell_len).max().unwrap_or(0);
    let max_word = text
        .split(py_isspace)
        .filter(|w| !w.is_empty())
        .map(cell_len)
        .max()
        .unwrap_or(max_line);
    (max_word, max_line)
}

/// Expands tabs to the next multiple of `tab_size` cells.
fn expand_tabs(line: &str, tab_size: usize) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut position = 0;
    for (i, part) in line.split('\t').enumerate() {
        if i > 0 {
            // The previous part ended with a tab: it becomes a space, then
            // more spaces up to the next tab stop.
            out.push(' ');
            position += 1;
            let remainder = position % tab_size;
            if remainder != 0 {
                out.extend(std::iter::repeat_n(' ', tab_size - remainder));
                position += tab_size - remainder;
            }
        }
        out.push_str(part);
        position += cell_len(part);
    }
    out
}

/// rich's words: `\s*\S+\s*`, scanned from the start (leading whitespace
/// belongs to the first word, trailing whitespace to each word).
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut words = Vec::new();
    let mut position = 0;
    let bytes_end = text.len();
    while position < bytes_end {
        let rest = &text[position..];
        let lead = rest
            .char_indices()
            .find(|(_, c)| !py_isspace(*c))
            .map(|(i, _)| i);
        let Some(lead) = lead else { break };
        let after_lead = &rest[lead..];
        let body = after_lead
            .char_indices()
            .find(|(_, c)| py_isspace(*c))
            .map_or(after_lead.len(), |(i, _)| i);
        let after_body = &after_lead[body..];
        let trail = after_body
            .char_indices()
            .find(|(_, c)| !py_isspace(*c))
            .map_or(after_body.len(), |(i, _)| i);
        let end = position + lead + body + trail;
        words.push((position, end));
        position = end;
    }
    words
}

fn rstrip_py(s: &str) -> &str {
    s.trim_end_matches(py_isspace)
}

/// rich's `chop_cells`: `text` cut into pieces at most `width` cells wide
/// (byte ranges).
fn chop_cells(text: &str, width: usize) -> Vec<(usize, usize)> {
    let mut pieces = Vec::new();
    let (mut line_start, mut line_size) = (0, 0);
    for span in graphemes(text) {
        if line_size + span.width > width {
            pieces.push((line_start, span.start));
            line_start = span.start;
            line_size = 0;
        }
        line_size += span.width;
    }
    if line_size > 0 {
        pieces.push((line_start, text.len()));
    }
    pieces
}

/// rich's `divide_line`: byte offsets where the line breaks. A word wider
/// than the line is folded over several lines (`fold`), or gets a line of
/// its own to be cut later.
fn divide_line(text: &str, width: i64, fold: bool) -> Vec<usize> {
    let mut breaks = Vec::new();
    let mut offset: i64 = 0;
    for (start, end) in words(text) {
        let word = &text[start..end];
        let word_length = cell_len(rstrip_py(word)) as i64;
        if width - offset >= word_length {
            offset += cell_len(word) as i64;
        } else if word_length > width && fold {
            let pieces = chop_cells(word, width.max(0) as usize);
            let last = pieces.len().saturating_sub(1);
            let mut piece_start = start;
            for (i, (from, to)) in pieces.into_iter().enumerate() {
                if piece_start > 0 {
                    breaks.push(piece_start);
                }
                if i == last {
                    offset = cell_len(&word[from..to]) as i64;
                } else {
                    piece_start += to - from;
                }
            }
        } else if word_length > width {
            if start > 0 {
                breaks.push(start);
            }
            offset = cell_len(word) as i64;
        } else if offset > 0 && start > 0 {
            breaks.push(start);
            offset = cell_len(word) as i64;
        }
    }
    breaks
}

/// rich's `Text.rstrip_end`: drops trailing whitespace, but only as much as
/// the line is longer (in characters) than `size`.
fn rstrip_end(line: &mut String, size: i64) {
    let length = line.chars().count() as i64;
    if length <= size {
        return;
    }
    let excess = (length - size) as usize;
    let trailing = line.chars().rev().take_while(|c| py_isspace(*c)).count();
    let drop = trailing.min(excess);
    for _ in 0..drop {
        line.pop();
    }
}

/// rich's `Text.truncate` with overflow `ellipsis`.
fn truncate(line: &mut String, max_width: i64, pad: bool) {
    let length = cell_len(line) as i64;
    if length > max_width {
        *line = set_cell_size(line, max_width - 1) + "…";
    }
    if pad && length < max_width {
        line.extend(std::iter::repeat_n(' ', (max_width - length) as usize));
    }
}

/// [`wrap`] for a right-justified cell (rich's `Text(…, justify="right")`):
/// each line loses its trailing whitespace, is cut with `…` if still too
/// wide, and is padded on the left.
pub fn wrap_right(text: &str, width: i64) -> Vec<String> {
    wrap_justified(text, width, true)
}

/// Lays out `text` in a box `width` cells wide: explicit newlines, word
/// wrapping, `…` where a word does not fit. Every returned line is exactly
/// `width` cells. Empty for a width below 1 (rich renders nothing there).
pub fn wrap(text: &str, width: i64) -> Vec<String> {
    wrap_justified(text, width, false)
}

fn justify_right(piece: &str, width: i64) -> String {
    let mut line = rstrip_py(piece).to_owned();
    truncate(&mut line, width, false);
    let length = cell_len(&line) as i64;
    let mut out = " ".repeat((width - length).max(0) as usize);
    out.push_str(&line);
    out
}

fn wrap_justified(text: &str, width: i64, right: bool) -> Vec<String> {
    if width < 1 {
        return Vec::new();
    }
    let text = strip_controls(text);
    // Fast path, the common case of a table cell: one line that fits. It
    // gives what the general path below gives (no break, nothing to strip
    // or cut, padded to the width), without its allocations.
    if !text.contains(['\n', '\t'])
        && text.chars().count() as i64 <= width
        && cell_len(&text) as i64 <= width
    {
        if right {
            return vec![justify_right(&text, width)];
        }
        return vec![fit(&text, width as usize)];
    }
    let mut out = Vec::new();
    for line in text.split('\n') {
        let line: std::borrow::Cow<'_, str> = if line.contains('\t') {
            expand_tabs(line, 8).into()
        } else {
            line.into()
        };
        let mut starts = vec![0];
        starts.extend(divide_line(&line, width, false));
        starts.push(line.len());
        for pair in starts.windows(2) {
            let mut piece = line[pair[0]..pair[1]].to_owned();
            rstrip_end(&mut piece, width);
            if right {
                out.push(justify_right(&piece, width));
                continue;
            }
            let length = cell_len(&piece) as i64;
            if length <= width {
                // What the general steps below do to a piece that fits.
                piece.extend(std::iter::repeat_n(' ', (width - length) as usize));
                out.push(piece);
                continue;
            }
            truncate(&mut piece, width, true);
            truncate(&mut piece, width, false);
            out.push(fit(&piece, width as usize));
        }
    }
    out
}

/// How rich's `Console.print` lays out plain text `width` cells wide
/// (`overflow="fold"`, no justification): explicit newlines kept (a final
/// newline gives a final empty line), words wrapped, words wider than the
/// line folded; a line keeps a trailing space that fits. Lines are not
/// padded.
pub fn wrap_fold(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1) as i64;
    let text = strip_controls(text);
    let mut out = Vec::new();
    for line in text.split('\n') {
        let line: std::borrow::Cow<'_, str> = if line.contains('\t') {
            expand_tabs(line, 8).into()
        } else {
            line.into()
        };
        let mut starts = vec![0];
        starts.extend(divide_line(&line, width, true));
        starts.push(line.len());
        for pair in starts.windows(2) {
            let mut piece = line[pair[0]..pair[1]].to_owned();
            rstrip_end(&mut piece, width);
            if cell_len(&piece) as i64 > width {
                piece = set_cell_size(&piece, width);
            }
            out.push(piece);
        }
    }
    out
}

/// Crops or pads a line to exactly `width` cells (rich's
/// `adjust_line_length` for a line of one segment).
pub fn fit(line: &str, width: usize) -> String {
    let length = cell_len(line);
    match length.cmp(&width) {
        std::cmp::Ordering::Equal => line.to_owned(),
        std::cmp::Ordering::Less => {
            let mut padded = String::with_capacity(line.len() + width - length);
            padded.push_str(line);
            padded.extend(std::iter::repeat_n(' ', width - length));
            padded
        }
        std::cmp::Ordering::Greater => set_cell_size(line, width as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(cell_len("abc"), 3);
        assert_eq!(cell_len("日本語"), 6);
        assert_eq!(cell_len("ｈｉ"), 4);
        assert_eq!(cell_len("e\u{301}"), 1);
        assert_eq!(cell_len("a\u{7}b"), 2);
        assert_eq!(cell_len("🎉"), 2);
        assert_eq!(cell_len("❤\u{fe0f}"), 2);
        assert_eq!(cell_len("👩\u{200d}💻"), 2);
    }

    #[test]
    fn set_cell_size_splits_wide_characters_into_a_space() {
        assert_eq!(set_cell_size("日本語", 3), "日 ");
        assert_eq!(set_cell_size("日本語", 4), "日本");
        assert_eq!(set_cell_size("abc", 5), "abc  ");
        assert_eq!(set_cell_size("abcdef", 4), "abcd");
        assert_eq!(set_cell_size("abc", -1), "ab");
    }

    #[test]
    fn measure_is_widest_word_and_widest_line() {
        assert_eq!(measure("hello big world"), (5, 15));
        assert_eq!(measure("ab\ncdefg hi"), (5, 8));
        assert_eq!(measure(""), (0, 0));
        assert_eq!(measure("   "), (3, 3));
    }

    #[test]
    fn wraps_words_and_cuts_long_ones() {
        assert_eq!(wrap("hello big world", 9), ["hello big", "world    "]);
        assert_eq!(wrap("verylongword next", 5), ["very…", "next "]);
        assert_eq!(wrap("", 3), ["   "]);
        assert_eq!(wrap("a\nb", 2), ["a ", "b "]);
        assert_eq!(wrap("日本語のテキスト", 5), ["日本…"]);
        assert!(wrap("x", 0).is_empty());
    }

    #[test]
    fn tabs_expand_to_stops() {
        assert_eq!(expand_tabs("a\tb", 8), "a       b");
        assert_eq!(expand_tabs("abcdefgh\tb", 8), "abcdefgh        b");
    }
}
