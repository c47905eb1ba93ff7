//! The checklist as CSV: the form an authority edits in a spreadsheet.
//!
//! The file is UTF-8 without a byte order mark (a BOM, as Excel's "CSV UTF-8" writes one, is
//! accepted on import), RFC 4180: records end in CRLF, as RFC 4180 and Excel have it; a cell
//! is quoted when it holds `"`, `,`, CR, LF or starts or ends with a space, with `"` doubled.
//! Import also takes LF line ends. The columns are
//! `requirement,source,article,title_en,status,answer,evidence`; `source`, `article` (the
//! English reference) and `title_en` are there for the reader and must match the catalogue,
//! so a row pasted under the wrong requirement is caught. `evidence` holds the links
//! separated by a space (import splits on any run of spaces, tabs or newlines).
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, tab or CR as a formula, so
//! such a cell is written with a leading `'`, which spreadsheets show as text. So that this is
//! reversible for every text, a cell whose leading `'`s are followed by one of those characters
//! gets one `'` more, and import takes exactly one `'` off such a cell: `=1` is written `'=1`,
//! `'=1` is written `''=1`, and both read back as they were.

use csv::{ReaderBuilder, StringRecord, Terminator};

use crate::catalogue::{CATALOGUE_LEN, RequirementId};
use crate::error::{ChecklistError, Location, Problem, cap};
use crate::model::{Assembler, Checklist, EvidenceLink, Item, MAX_ANSWER_CHARS, MAX_LINKS, Status, check_size};

/// The header line of a checklist CSV.
pub const CSV_HEADER: &str = "requirement,source,article,title_en,status,answer,evidence";

const COLUMNS: [&str; 7] = [
    "requirement",
    "source",
    "article",
    "title_en",
    "status",
    "answer",
    "evidence",
];

/// The most lines a checklist CSV can have: the header and, for every requirement, a row
/// whose answer is [`MAX_ANSWER_CHARS`] newlines. More is not a checklist.
pub const MAX_CSV_LINES: usize = 1 + CATALOGUE_LEN * (MAX_ANSWER_CHARS + 1);

/// Whether a spreadsheet would take `s`, once its leading `'`s are gone, for a formula.
fn guarded(s: &str) -> bool {
    s.trim_start_matches('\'').starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// A cell's text as written: with one more leading `'` when [`guarded`].
fn escape_cell(s: &str) -> String {
    if guarded(s) { format!("'{s}") } else { s.to_owned() }
}

/// A cell's text as read: one leading `'` fewer when [`guarded`], the inverse of
/// [`escape_cell`] for every text (a cell starting with `'` was guarded on export exactly when
/// it is guarded now).
fn unescape_cell(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if guarded(s) => rest,
        _ => s,
    }
}

fn push_cell(out: &mut String, cell: &str) {
    let cell = escape_cell(cell);
    let quote = cell.contains(['"', ',', '\r', '\n']) || cell.starts_with(' ') || cell.ends_with(' ');
    if quote {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&cell);
    }
}

/// The checklist as CSV (CRLF line ends, UTF-8, no BOM), rows in catalogue order.
pub fn to_csv(checklist: &Checklist) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for item in checklist.items() {
        let r = item.requirement().requirement();
        let evidence = item
            .evidence()
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let cells = [
            r.id.as_str(),
            r.source.as_str(),
            r.article.en,
            r.title.en,
            item.status().as_str(),
            item.answer(),
        ];
        for cell in cells {
            push_cell(&mut out, cell);
            out.push(',');
        }
        push_cell(&mut out, &evidence);
        out.push_str("\r\n");
    }
    out
}

/// A checklist from CSV, checked; rows may come in any order and are put in catalogue order.
pub fn from_csv(text: &str) -> Result<Checklist, ChecklistError> {
    check_size(text.len())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = text.bytes().filter(|&b| b == b'\n').count() + usize::from(!text.is_empty() && !text.ends_with('\n'));
    if lines > MAX_CSV_LINES {
        return Err(ChecklistError::new(
            Location::Input,
            Problem::TooManyLines {
                lines,
                max: MAX_CSV_LINES,
            },
        ));
    }
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(Terminator::CRLF)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let syntax = |e: csv::Error| {
        let line = e.position().map_or(1, |p| line_at(text, p.byte()));
        ChecklistError::new(
            Location::CsvLine { line },
            Problem::Syntax {
                format: "CSV",
                message: cap(&e.to_string()),
            },
        )
    };
    let header = records.next().transpose().map_err(syntax)?.unwrap_or_default();
    let found = header.iter().collect::<Vec<_>>().join(",");
    if found != CSV_HEADER {
        return Err(ChecklistError::new(
            Location::CsvLine { line: 1 },
            Problem::Header {
                found: cap(&found),
                expected: CSV_HEADER,
            },
        ));
    }
    let mut assembler = Assembler::new();
    for (n, record) in records.enumerate() {
        let record = record.map_err(syntax)?;
        let line = record.position().map_or(0, |p| line_at(text, p.byte()));
        if n >= CATALOGUE_LEN {
            return Err(ChecklistError::new(
                Location::CsvLine { line },
                Problem::TooManyItems {
                    expected: CATALOGUE_LEN,
                },
            ));
        }
        let item = row(&record, line)?;
        assembler.add(
            item,
            Location::CsvCell {
                line,
                column: "requirement",
            },
        )?;
    }
    assembler.finish()
}

/// The 1-based line of the record that starts at or after `byte`. The csv crate's own line
/// count lags by one on CRLF files (a record's position is taken before the previous line's
/// LF), so the line is counted here; a record never starts with a line end, so any at `byte`
/// belong to the line before.
fn line_at(text: &str, byte: u64) -> u64 {
    let start = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
    let skip = text.as_bytes()[start..]
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    1 + text.as_bytes()[..start + skip].iter().filter(|&&b| b == b'\n').count() as u64
}

fn row(record: &StringRecord, line: u64) -> Result<Item, ChecklistError> {
    if record.len() != COLUMNS.len() {
        return Err(ChecklistError::new(
            Location::CsvLine { line },
            Problem::CellCount {
                found: record.len(),
                expected: COLUMNS.len(),
            },
        ));
    }
    let at = |column| Location::CsvCell { line, column };
    let cell = |i: usize| unescape_cell(record.get(i).unwrap_or_default());
    let requirement = RequirementId::parse(cell(0)).map_err(|p| ChecklistError::new(at("requirement"), p))?;
    let r = requirement.requirement();
    for (i, expected) in [(1, r.source.as_str()), (2, r.article.en), (3, r.title.en)] {
        let found = cell(i);
        if found != expected {
            return Err(ChecklistError::new(
                at(COLUMNS[i]),
                Problem::CatalogueMismatch {
                    requirement,
                    found: cap(found),
                    expected,
                },
            ));
        }
    }
    let status = Status::parse(cell(4)).map_err(|p| ChecklistError::new(at("status"), p))?;
    let links: Vec<&str> = cell(6).split_ascii_whitespace().collect();
    if links.len() > MAX_LINKS {
        return Err(ChecklistError::new(
            at("evidence"),
            Problem::TooManyLinks { count: links.len() },
        ));
    }
    let evidence = links
        .into_iter()
        .map(|l| EvidenceLink::parse(l).map_err(|p| ChecklistError::new(at("evidence"), p)))
        .collect::<Result<Vec<_>, _>>()?;
    Item::new(requirement, status, cell(5), evidence).map_err(|e| {
        let column = match e.at {
            Location::Item { field, .. } => field,
            _ => "answer",
        };
        ChecklistError::new(at(column), e.problem)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarding_is_reversible_and_only_where_needed() {
        for s in [
            "", "a", "'", "''", "'a", "=1", "'=1", "''+1", "'''-x", "@", "\t", "-", "a=1", " =1",
        ] {
            assert_eq!(unescape_cell(&escape_cell(s)), s, "{s:?}");
        }
        assert_eq!(escape_cell("=1"), "'=1");
        assert_eq!(escape_cell("'=1"), "''=1");
        assert_eq!(escape_cell("''+1"), "'''+1");
        assert_eq!(escape_cell("'a"), "'a");
        assert_eq!(escape_cell("a=1"), "a=1");
        assert_eq!(unescape_cell("'a"), "'a");
        assert_eq!(unescape_cell("=1"), "=1");
    }
}
