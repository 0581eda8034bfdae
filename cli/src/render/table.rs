//! Box-drawn tables, laid out the way the official CLI's tables are (rich 15's
//! `Table` with its defaults: one space of padding on each side of a cell,
//! columns as wide as their widest content, shrunk to fit the terminal by
//! narrowing the widest columns first, then wrapping cells and cutting words
//! with `…`).
//!
//! The layout arithmetic (collapsing the widest columns, then spreading the
//! rest of the excess with banker's rounding) mirrors rich's so that, for the
//! same cells and width, the bytes are the same; the tests in
//! `render/rich_reference.rs` compare against rich itself.

use super::cells;

/// The characters of a box style, as rich's 8-line box strings.
pub struct BoxStyle {
    top: [char; 4],
    head: [char; 4],
    head_row: [char; 4],
    mid: [char; 4],
    row: [char; 4],
    foot: [char; 4],
    bottom: [char; 4],
}

/// rich's `box.HEAVY_HEAD`, the default of `rich.table.Table`.
pub const HEAVY_HEAD: BoxStyle = BoxStyle {
    top: ['┏', '━', '┳', '┓'],
    head: ['┃', ' ', '┃', '┃'],
    head_row: ['┡', '━', '╇', '┩'],
    mid: ['│', ' ', '│', '│'],
    row: ['├', '─', '┼', '┤'],
    foot: ['│', ' ', '│', '│'],
    bottom: ['└', '─', '┴', '┘'],
};

/// rich's `box.HORIZONTALS`: lines above and below, no verticals.
pub const HORIZONTALS: BoxStyle = BoxStyle {
    top: [' ', '─', '─', ' '],
    head: [' ', ' ', ' ', ' '],
    head_row: [' ', '─', '─', ' '],
    mid: [' ', ' ', ' ', ' '],
    row: [' ', '─', '─', ' '],
    foot: [' ', ' ', ' ', ' '],
    bottom: [' ', '─', '─', ' '],
};

/// rich's `box.SIMPLE`: spaces for edges, a rule under the header (the
/// footer rule is unused: no table here has a footer).
pub const SIMPLE: BoxStyle = BoxStyle {
    top: [' ', ' ', ' ', ' '],
    head: [' ', ' ', ' ', ' '],
    head_row: [' ', '─', '─', ' '],
    mid: [' ', ' ', ' ', ' '],
    row: [' ', ' ', ' ', ' '],
    foot: [' ', ' ', ' ', ' '],
    bottom: [' ', ' ', ' ', ' '],
};

/// rich's `box.SIMPLE_HEAD`: as [`SIMPLE`] for tables without a footer.
pub const SIMPLE_HEAD: BoxStyle = SIMPLE;

/// A table to render. Cells are plain text, shown verbatim (no markup).
pub struct Table<'a> {
    /// Column headers; `None` for a table without a header row.
    pub headers: Option<&'a [&'a str]>,
    pub rows: Vec<Vec<String>>,
    pub style: &'static BoxStyle,
    /// Draw a line between body rows.
    pub show_lines: bool,
    /// Columns (by index) whose body cells are right-justified (rich's
    /// `Text(…, justify="right")`); the others are left-justified.
    pub right_columns: &'a [usize],
}

/// rich's `Measurement`: the narrowest and widest a renderable can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Measure {
    min: i64,
    max: i64,
}

impl Measure {
    fn normalize(self) -> Measure {
        let min = self.min.max(0).min(self.max);
        Measure {
            min: min.max(0),
            max: min.max(self.max).max(0),
        }
    }
    fn with_maximum(self, width: i64) -> Measure {
        Measure {
            min: self.min.min(width),
            max: self.max.min(width),
        }
    }
}

/// Left and right padding of every cell.
const PADDING: i64 = 2;

/// Measures one padded cell within `max_width` (rich's `Measurement.get` of
/// a `Padding` around a `Text`).
/// `natural` is the text's `cells::measure`, which does not depend on
/// `max_width`, so a column measured twice measures its texts once.
fn measure_cell(natural: (usize, usize), max_width: i64) -> Measure {
    if max_width < 1 {
        return Measure { min: 0, max: 0 };
    }
    let padded = if max_width - PADDING < 1 {
        Measure {
            min: max_width,
            max: max_width,
        }
    } else {
        let (min, max) = natural;
        let inner = Measure {
            min: min as i64,
            max: max as i64,
        }
        .normalize()
        .with_maximum(max_width);
        let inner = if inner.max < 1 {
            Measure { min: 0, max: 0 }
        } else {
            inner.normalize()
        };
        Measure {
            min: inner.min + PADDING,
            max: inner.max + PADDING,
        }
        .with_maximum(max_width)
    };
    let outer = padded.normalize().with_maximum(max_width);
    if outer.max < 1 {
        Measure { min: 0, max: 0 }
    } else {
        outer.normalize()
    }
}

/// Python's `round()` of `numerator / denominator` (ties to even).
fn round_ratio(numerator: i64, denominator: i64) -> i64 {
    (numerator as f64 / denominator as f64).round_ties_even() as i64
}

/// rich's `ratio_reduce`: takes `total` away from `values` in proportion to
/// `ratios`, each slot losing at most its `maximums` entry.
fn ratio_reduce(total: i64, ratios: &[i64], maximums: &[i64], values: &[i64]) -> Vec<i64> {
    let ratios: Vec<i64> = ratios
        .iter()
        .zip(maximums)
        .map(|(r, m)| if *m != 0 { *r } else { 0 })
        .collect();
    let mut total_ratio: i64 = ratios.iter().sum();
    if total_ratio == 0 {
        return values.to_vec();
    }
    let mut remaining = total;
    let mut result = Vec::with_capacity(values.len());
    for ((&ratio, &maximum), &value) in ratios.iter().zip(maximums).zip(values) {
        if ratio != 0 && total_ratio > 0 {
            let distributed = maximum.min(round_ratio(ratio * remaining, total_ratio));
            result.push(value - distributed);
            remaining -= distributed;
            total_ratio -= ratio;
        } else {
            result.push(value);
        }
    }
    result
}

/// rich's `Table._collapse_widths`: narrows the widest columns, step by
/// step down to the next widest, until the total fits.
fn collapse_widths(mut widths: Vec<i64>, max_width: i64) -> Vec<i64> {
    let mut total: i64 = widths.iter().sum();
    let mut excess = total - max_width;
    while total != 0 && excess > 0 {
        let max_column = widths.iter().copied().max().unwrap_or(0);
        let second = widths
            .iter()
            .map(|&w| if w != max_column { w } else { 0 })
            .max()
            .unwrap_or(0);
        let difference = max_column - second;
        let ratios: Vec<i64> = widths.iter().map(|&w| i64::from(w == max_column)).collect();
        if ratios.iter().all(|&r| r == 0) || difference == 0 {
            break;
        }
        let max_reduce = vec![excess.min(difference); widths.len()];
        widths = ratio_reduce(excess, &ratios, &max_reduce, &widths);
        total = widths.iter().sum();
        excess = total - max_width;
    }
    widths
}

impl Table<'_> {
    fn column_count(&self) -> usize {
        match self.headers {
            Some(headers) => headers.len(),
            None => self.rows.first().map_or(0, Vec::len),
        }
    }

    /// Every cell of a column, header first.
    fn column_cells(&self, column: usize) -> impl Iterator<Item = &str> {
        let header = self.headers.map(|h| h[column]);
        header.into_iter().chain(
            self.rows
                .iter()
                .map(move |row| row.get(column).map_or("", String::as_str)),
        )
    }

    fn measure_column(natural: &[(usize, usize)], max_width: i64) -> Measure {
        if max_width < 1 {
            return Measure { min: 0, max: 0 };
        }
        let (mut min, mut max) = (None::<i64>, None::<i64>);
        for &cell in natural {
            let m = measure_cell(cell, max_width);
            min = Some(min.map_or(m.min, |v| v.max(m.min)));
            max = Some(max.map_or(m.max, |v| v.max(m.max)));
        }
        Measure {
            min: min.unwrap_or(1),
            max: max.unwrap_or(max_width),
        }
        .with_maximum(max_width)
    }

    /// Widths of the columns, padding included, borders not.
    fn column_widths(&self, max_width: i64) -> Vec<i64> {
        let columns = self.column_count();
        let natural: Vec<Vec<(usize, usize)>> = (0..columns)
            .map(|c| self.column_cells(c).map(cells::measure).collect())
            .collect();
        let mut widths: Vec<i64> = (0..columns)
            .map(|c| match Self::measure_column(&natural[c], max_width).max {
                0 => 1,
                w => w,
            })
            .collect();
        let total: i64 = widths.iter().sum();
        if total > max_width {
            widths = collapse_widths(widths, max_width);
            let total: i64 = widths.iter().sum();
            if total > max_width {
                let ones = vec![1; columns];
                widths = ratio_reduce(total - max_width, &ones, &widths, &widths);
            }
            widths = (0..columns)
                .map(|c| Self::measure_column(&natural[c], widths[c].max(0)).max)
                .collect();
        }
        widths
    }

    /// Renders the table for a terminal `width` cells wide; every line ends
    /// with `\n`.
    pub fn render(&self, width: usize) -> String {
        let columns = self.column_count();
        if columns == 0 {
            return "\n".to_owned();
        }
        let console_width = width as i64;
        let extra = 2 + (columns as i64 - 1);
        let widths = self.column_widths((console_width - extra).max(0));
        let style = self.style;

        // Every line is as wide as the table; only a table wider than the
        // terminal (a column could not shrink further) needs cropping.
        let table_width = widths.iter().map(|w| w.max(&0)).sum::<i64>() + extra;
        let crop = table_width > console_width;
        let mut out = String::with_capacity(
            (table_width.max(0) as usize * 3 + 1) * (self.rows.len() * 2 + 4),
        );
        let mut emit = |line: &str| {
            if crop {
                out.push_str(&cells::set_cell_size(line, console_width));
            } else {
                out.push_str(line);
            }
            out.push('\n');
        };
        emit(&rule(style.top, &widths));

        let has_header = self.headers.is_some();
        let row_count = self.rows.len() + usize::from(has_header);
        let cell_text = |index: usize, column: usize| -> &str {
            match (self.headers, index) {
                (Some(headers), 0) => headers.get(column).copied().unwrap_or(""),
                (Some(_), i) => self.rows[i - 1].get(column).map_or("", String::as_str),
                (None, i) => self.rows[i].get(column).map_or("", String::as_str),
            }
        };
        let mut line = String::new();
        for index in 0..row_count {
            let first = index == 0;
            let last = index + 1 == row_count;
            let header_row = first && has_header;
            let mut rendered: Vec<Vec<String>> = widths
                .iter()
                .enumerate()
                .map(|(c, &w)| {
                    let right = !header_row && self.right_columns.contains(&c);
                    cell_lines(cell_text(index, c), w, right)
                })
                .collect();
            let height = rendered.iter().map(Vec::len).max().unwrap_or(0).max(1);
            for (cell, &w) in rendered.iter_mut().zip(&widths) {
                let missing = height - cell.len();
                if missing == 0 {
                    continue;
                }
                let blank = " ".repeat(w.max(0) as usize);
                if header_row {
                    // Headers align to the bottom, body cells to the top.
                    cell.splice(0..0, std::iter::repeat_n(blank, missing));
                } else {
                    cell.extend(std::iter::repeat_n(blank, missing));
                }
            }
            let edges = if first {
                style.head
            } else if last {
                style.foot
            } else {
                style.mid
            };
            for line_no in 0..height {
                line.clear();
                line.push(edges[0]);
                for (c, cell) in rendered.iter().enumerate() {
                    if c > 0 {
                        line.push(edges[2]);
                    }
                    line.push_str(&cell[line_no]);
                }
                line.push(edges[3]);
                emit(&line);
            }
            if header_row {
                emit(&rule(style.head_row, &widths));
            } else if self.show_lines && !last {
                emit(&rule(style.row, &widths));
            }
        }
        emit(&rule(style.bottom, &widths));
        out
    }
}

/// A horizontal rule: left, fill per column, crossings, right.
fn rule(chars: [char; 4], widths: &[i64]) -> String {
    let mut line = String::new();
    line.push(chars[0]);
    for (i, &w) in widths.iter().enumerate() {
        if i > 0 {
            line.push(chars[2]);
        }
        line.extend(std::iter::repeat_n(chars[1], w.max(0) as usize));
    }
    line.push(chars[3]);
    line
}

/// The lines of one cell `width` cells wide, padding included.
fn cell_lines(text: &str, width: i64, right: bool) -> Vec<String> {
    if width < 1 {
        return Vec::new();
    }
    let inner = (width - PADDING).max(0);
    let wrap = if right {
        cells::wrap_right
    } else {
        cells::wrap
    };
    if inner >= 1 && PADDING == 2 {
        // `wrap` makes every line exactly `inner` cells: one space each side
        // makes it exactly `width`, nothing left to fit.
        return wrap(text, inner)
            .into_iter()
            .map(|line| {
                let mut padded = String::with_capacity(line.len() + 2);
                padded.push(' ');
                padded.push_str(&line);
                padded.push(' ');
                padded
            })
            .collect();
    }
    wrap(text, inner)
        .into_iter()
        .map(|line| cells::fit(&format!(" {line} "), width as usize))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table<'a>(headers: &'a [&'a str], rows: &[&[&str]]) -> Table<'a> {
        Table {
            headers: Some(headers),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|s| s.to_string()).collect())
                .collect(),
            style: &HEAVY_HEAD,
            show_lines: false,
            right_columns: &[],
        }
    }

    #[test]
    fn empty_table_is_header_and_bottom() {
        let t = table(&["Name", "Token ID"], &[]);
        assert_eq!(
            t.render(80),
            "┏━━━━━━┳━━━━━━━━━━┓\n\
             ┃ Name ┃ Token ID ┃\n\
             ┡━━━━━━╇━━━━━━━━━━┩\n\
             └──────┴──────────┘\n"
        );
    }

    #[test]
    fn rows_use_light_verticals() {
        let t = table(&["A", "B"], &[&["x", "yy"], &["", "z"]]);
        assert_eq!(
            t.render(80),
            "┏━━━┳━━━━┓\n\
             ┃ A ┃ B  ┃\n\
             ┡━━━╇━━━━┩\n\
             │ x │ yy │\n\
             │   │ z  │\n\
             └───┴────┘\n"
        );
    }

    #[test]
    fn narrow_terminal_wraps_the_widest_column() {
        let t = table(
            &["Name", "Note"],
            &[&["alice", "one two three four five six"]],
        );
        let out = t.render(24);
        for line in out.lines() {
            assert!(cells::cell_len(line) <= 24, "{line:?}");
        }
        assert_eq!(
            out,
            "┏━━━━━━━┳━━━━━━━━━━━━━━┓\n\
             ┃ Name  ┃ Note         ┃\n\
             ┡━━━━━━━╇━━━━━━━━━━━━━━┩\n\
             │ alice │ one two      │\n\
             │       │ three four   │\n\
             │       │ five six     │\n\
             └───────┴──────────────┘\n"
        );
    }

    #[test]
    fn ratio_reduce_rounds_half_to_even() {
        assert_eq!(ratio_reduce(3, &[1, 1], &[10, 10], &[10, 10]), vec![8, 9]);
        assert_eq!(ratio_reduce(1, &[1, 1], &[10, 10], &[5, 5]), vec![5, 4]);
    }

    #[test]
    fn collapse_narrows_widest_first() {
        assert_eq!(collapse_widths(vec![10, 30, 20], 50), vec![10, 20, 20]);
        assert_eq!(collapse_widths(vec![10, 30, 20], 40), vec![10, 15, 15]);
    }
}
