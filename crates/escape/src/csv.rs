//! CSV cells that a spreadsheet opens as text, not as formulas.

/// A string as the value of one CSV cell (before the CSV writer's own quoting): a value
/// starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, which
/// spreadsheets read as "this is text".
///
/// Spreadsheets evaluate such a cell as a formula (`=HYPERLINK(...)`, `=cmd|...`), so a
/// vendor's name in an export would run in the reader's spreadsheet. Sandkasse writes no
/// vendor or user text to CSV today (its CSV output is generated citizens); this is for the
/// first place that does. The writer must still quote the result (commas, quotes,
/// newlines).
pub fn csv_cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text() {
        for s in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
            assert_eq!(csv_cell(s), format!("'{s}"));
        }
        assert_eq!(csv_cell("gbm = 1"), "gbm = 1");
        assert_eq!(csv_cell(""), "");
    }
}
