//! A table of figures for people and for spreadsheets: a title, columns and rows of cells, written
//! as CSV (RFC 4180) or as an Excel workbook. Statistics and the survey export their tables through
//! this; the page that shows a table renders the same cells (D66).
//!
//! CSV: UTF-8 with a byte-order mark (so Excel opens å, ä and ö correctly), `;` between fields and
//! CRLF line ends. The semicolon is what Excel expects in a Swedish locale (where the comma is the
//! decimal sign): a file with `;` opens in columns on a Swedish desktop without the import wizard,
//! and every number we write is an integer, so no decimal sign is ever needed. Durations are
//! written as whole minutes, percentages as whole percent (the column title names the unit).

use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// One value of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// Whole percent.
    Percent(i64),
    /// Seconds (shown to people as "2 h 15 min", exported as whole minutes).
    Duration(i64),
    /// A text that links somewhere on a page (exported as the text).
    Link {
        text: String,
        href: String,
    },
    /// No value (nothing to measure).
    Empty,
}

impl Cell {
    /// The value as a spreadsheet holds it: the text, or the number (minutes for a duration).
    pub fn export_text(&self) -> String {
        match self {
            Cell::Text(s) | Cell::Link { text: s, .. } => s.clone(),
            Cell::Int(n) | Cell::Percent(n) => n.to_string(),
            Cell::Duration(secs) => (secs / 60).to_string(),
            Cell::Empty => String::new(),
        }
    }

    /// The number a spreadsheet cell holds, if the cell is a number.
    pub fn export_number(&self) -> Option<i64> {
        match self {
            Cell::Int(n) | Cell::Percent(n) => Some(*n),
            Cell::Duration(secs) => Some(secs / 60),
            _ => None,
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Int(n)
    }
}

/// A column: its title and, for an export, the unit its numbers are in ("min", "%").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub title: String,
    pub unit: Option<String>,
}

impl Column {
    pub fn new(title: impl Into<String>) -> Column {
        Column {
            title: title.into(),
            unit: None,
        }
    }

    pub fn with_unit(title: impl Into<String>, unit: impl Into<String>) -> Column {
        Column {
            title: title.into(),
            unit: Some(unit.into()),
        }
    }

    /// The title with its unit, as a spreadsheet's header shows it.
    pub fn export_title(&self) -> String {
        match &self.unit {
            Some(u) => format!("{} ({u})", self.title),
            None => self.title.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// The CSV field separator (see the module's comment for why a semicolon).
pub const CSV_SEPARATOR: char = ';';

fn csv_field(s: &str, out: &mut String) {
    if s.contains([CSV_SEPARATOR, '"', '\n', '\r', ',']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn csv_line<'a>(fields: impl Iterator<Item = String> + 'a, out: &mut String) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(CSV_SEPARATOR);
        }
        csv_field(&f, out);
    }
    out.push_str("\r\n");
}

/// Excel allows at most 31 characters in a sheet's name, and none of `[]:*?/\`.
fn sheet_name(title: &str) -> String {
    let clean: String = title
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '-' } else { c })
        .collect();
    let name: String = clean.trim().chars().take(31).collect();
    if name.trim().is_empty() {
        "Blad1".to_string()
    } else {
        name.trim_end().to_string()
    }
}

impl Table {
    pub fn new(title: impl Into<String>, columns: Vec<Column>) -> Table {
        Table {
            title: title.into(),
            columns,
            rows: vec![],
        }
    }

    /// The table as CSV: a byte-order mark, the header line, one line per row.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = String::from('\u{feff}');
        csv_line(self.columns.iter().map(Column::export_title), &mut out);
        for row in &self.rows {
            csv_line(row.iter().map(Cell::export_text), &mut out);
        }
        out.into_bytes()
    }

    /// The table as an Excel workbook with one sheet named after the table: a bold header row,
    /// numbers as numbers.
    pub fn to_xlsx(&self) -> Result<Vec<u8>, XlsxError> {
        let mut wb = Workbook::new();
        let bold = Format::new().set_bold();
        let ws = wb.add_worksheet();
        ws.set_name(sheet_name(&self.title))?;
        for (c, col) in self.columns.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, col.export_title(), &bold)?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell.export_number() {
                    Some(n) => {
                        ws.write_number(r, c, n as f64)?;
                    }
                    None if *cell == Cell::Empty => {}
                    None => {
                        ws.write_string(r, c, cell.export_text())?;
                    }
                }
            }
        }
        wb.save_to_buffer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(
            "Volym: ärenden",
            vec![
                Column::new("Kö"),
                Column::new("Antal"),
                Column::with_unit("Median", "min"),
            ],
        );
        t.rows
            .push(vec!["Kundtjänst".into(), 12.into(), Cell::Duration(8100)]);
        t.rows
            .push(vec!["Bygg; \"lov\"".into(), Cell::Percent(45), Cell::Empty]);
        t
    }

    #[test]
    fn csv_has_a_bom_a_header_and_quoted_fields() {
        let csv = String::from_utf8(sample().to_csv()).unwrap();
        assert!(csv.starts_with('\u{feff}'));
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert_eq!(lines[0], "Kö;Antal;Median (min)");
        assert_eq!(lines[1], "Kundtjänst;12;135");
        assert_eq!(lines[2], "\"Bygg; \"\"lov\"\"\";45;");
        assert_eq!(lines[3], "");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn sheet_names_are_what_excel_allows() {
        assert_eq!(sheet_name("Volym: ärenden"), "Volym- ärenden");
        assert_eq!(sheet_name(&"x".repeat(40)).chars().count(), 31);
        assert_eq!(sheet_name("  "), "Blad1");
    }

    #[test]
    fn xlsx_is_a_zip_workbook() {
        let bytes = sample().to_xlsx().unwrap();
        assert_eq!(&bytes[..2], b"PK");
        assert!(bytes.len() > 1000);
    }
}
