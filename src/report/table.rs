//! A bordered text table laid out the way calicoctl's tables are (olekukonko/tablewriter with
//! its default settings): `+---+` rules, `| cell |` rows, the header upper-cased and centred
//! (extra space to the right), plain numbers right-aligned and everything else left-aligned.
//! Owns layout only. Not reproduced: tablewriter's wrapping of cells longer than 30 characters
//! at spaces (no IPAM cell has both).

/// A table of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextTable {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl TextTable {
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| title(h)).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table, every line ending in a newline.
    pub fn render(&self) -> String {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain(std::iter::once(self.header.len()))
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for row in std::iter::once(&self.header).chain(self.rows.iter()) {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let rule = {
            let mut line = String::from("+");
            for width in &widths {
                line.push_str(&"-".repeat(width + 2));
                line.push('+');
            }
            line.push('\n');
            line
        };
        let mut out = rule.clone();
        out.push_str(&line(&self.header, &widths, |cell, width| {
            center(cell, width)
        }));
        out.push_str(&rule);
        for row in &self.rows {
            out.push_str(&line(row, &widths, |cell, width| {
                if is_number(cell) {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            }));
        }
        out.push_str(&rule);
        out
    }
}

fn line(cells: &[String], widths: &[usize], pad: impl Fn(&str, usize) -> String) -> String {
    let mut out = String::from("|");
    for (i, width) in widths.iter().enumerate() {
        let cell = cells.get(i).map_or("", String::as_str);
        out.push(' ');
        out.push_str(&pad(cell, *width));
        out.push_str(" |");
    }
    out.push('\n');
    out
}

fn center(cell: &str, width: usize) -> String {
    let gap = width.saturating_sub(cell.chars().count());
    let left = gap / 2;
    format!("{}{cell}{}", " ".repeat(left), " ".repeat(gap - left))
}

/// tablewriter's header formatting: `_` becomes a space, upper case.
fn title(header: &str) -> String {
    header.replace('_', " ").trim().to_uppercase()
}

/// tablewriter right-aligns cells that are plain decimals (`256`, `1,024`, `-3.5`).
fn is_number(cell: &str) -> bool {
    let text = cell.trim();
    let text = text.strip_prefix('-').unwrap_or(text);
    let (integer, fraction) = match text.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let integer_ok = digits(integer)
        || integer.split(',').enumerate().all(|(i, group)| {
            digits(group)
                && if i == 0 {
                    group.len() <= 3
                } else {
                    group.len() == 3
                }
        }) && integer.contains(',');
    integer_ok && fraction.is_none_or(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_like_tablewriter() {
        let mut table = TextTable::new(&["GROUPING", "CIDR", "IPS TOTAL"]);
        table.row(vec!["IP Pool".into(), "10.0.0.0/24".into(), "256".into()]);
        table.row(vec![
            "Block".into(),
            "10.0.0.0/26".into(),
            "1.2089e+24".into(),
        ]);
        let expected = "\
+----------+-------------+------------+
| GROUPING |    CIDR     | IPS TOTAL  |
+----------+-------------+------------+
| IP Pool  | 10.0.0.0/24 |        256 |
| Block    | 10.0.0.0/26 | 1.2089e+24 |
+----------+-------------+------------+
";
        assert_eq!(table.render(), expected);
    }

    #[test]
    fn numbers_are_plain_decimals_only() {
        assert!(is_number("256") && is_number("1,024") && is_number("-3.5"));
        assert!(
            !is_number("14 (22%)") && !is_number("1e+05") && !is_number("") && !is_number("1,02")
        );
    }

    #[test]
    fn an_empty_table_is_its_header() {
        let table = TextTable::new(&["ip", "block_owner"]);
        assert_eq!(
            table.render(),
            "+----+-------------+\n| IP | BLOCK OWNER |\n+----+-------------+\n+----+-------------+\n"
        );
    }
}
