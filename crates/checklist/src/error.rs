//! What was wrong with a checklist, where, and what would have been right.
//!
//! A checklist is edited by people (in a spreadsheet, in an editor, in a form), so an error
//! must let them find and fix the cell: the CSV line and column or the JSON path, the value
//! found (capped, so a 1 MiB cell does not come back as a 1 MiB message) and the values that
//! would have been accepted.

use std::fmt;

use crate::catalogue::{CATALOGUE_VERSION, RequirementId, catalogue};
use crate::model::{MAX_ANSWER_CHARS, MAX_LINKS};

/// How many characters of a user's text an error quotes.
pub const MAX_QUOTED_CHARS: usize = 100;

/// `s` cut to [`MAX_QUOTED_CHARS`] characters (with `…` when cut), for quoting in an error.
pub(crate) fn cap(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        None => s.to_owned(),
        Some((end, _)) => format!("{}…", &s[..end]),
    }
}

/// A refused checklist (or item): where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {problem}")]
pub struct ChecklistError {
    /// Where the problem is.
    pub at: Location,
    /// What the problem is, and what would be right.
    pub problem: Problem,
}

impl ChecklistError {
    pub(crate) fn new(at: Location, problem: Problem) -> ChecklistError {
        ChecklistError { at, problem }
    }
}

/// Where in the input a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The input as a whole (its size, its line count, requirements missing from it).
    Input,
    /// A CSV record (a row), by the line it starts on; line 1 is the header.
    CsvLine {
        /// The line the record starts on (1-based).
        line: u64,
    },
    /// One cell of a CSV record.
    CsvCell {
        /// The line the record starts on (1-based; line 1 is the header).
        line: u64,
        /// The column's name in the header.
        column: &'static str,
    },
    /// A place in JSON text that is not valid JSON.
    JsonText {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A value in a JSON document, as a path from the root (`$.items[3].status`).
    Json {
        /// The path.
        path: String,
    },
    /// A field of an item being built in code ([`crate::Item::new`]).
    Item {
        /// The item's requirement.
        requirement: RequirementId,
        /// The field.
        field: &'static str,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Input => f.write_str("input"),
            Location::CsvLine { line } => write!(f, "CSV line {line}"),
            Location::CsvCell { line, column } => write!(f, "CSV line {line}, column `{column}`"),
            Location::JsonText { line, column } => write!(f, "JSON line {line}, column {column}"),
            Location::Json { path } => write!(f, "JSON `{path}`"),
            Location::Item { requirement, field } => write!(f, "item `{requirement}`, field `{field}`"),
        }
    }
}

/// What was wrong. Each message says what would have been right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The input is larger than [`crate::MAX_INPUT_BYTES`].
    #[error("{bytes} bytes, more than the {max} bytes a checklist file may have")]
    TooLarge {
        /// The input's size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The CSV has more lines than any checklist can have.
    #[error("{lines} lines, more than the {max} lines a checklist CSV can have")]
    TooManyLines {
        /// Lines found.
        lines: usize,
        /// The limit.
        max: usize,
    },
    /// Not valid CSV or JSON at all.
    #[error("not valid {format}: {message}")]
    Syntax {
        /// `CSV` or `JSON`.
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// The CSV header is not the checklist's.
    #[error("the header is \"{found}\"; expected \"{expected}\"")]
    Header {
        /// The header found (capped).
        found: String,
        /// The header expected.
        expected: &'static str,
    },
    /// A CSV record with the wrong number of cells.
    #[error("{found} cells; expected {expected} (requirement, source, article, title_en, status, answer, evidence)")]
    CellCount {
        /// Cells found.
        found: usize,
        /// Cells expected.
        expected: usize,
    },
    /// More items than the catalogue has requirements.
    #[error("more items than the {expected} requirements of the catalogue; each requirement has exactly one")]
    TooManyItems {
        /// The catalogue's length.
        expected: usize,
    },
    /// A JSON object has a key the checklist does not.
    #[error("unknown key \"{found}\"; expected only {expected}")]
    UnknownKey {
        /// The key found (capped).
        found: String,
        /// The keys allowed.
        expected: &'static str,
    },
    /// A JSON object lacks a key.
    #[error("missing key \"{key}\"")]
    MissingKey {
        /// The key.
        key: &'static str,
    },
    /// A JSON value of the wrong type.
    #[error("expected {expected}")]
    WrongType {
        /// What was expected (`a string`, `an array of strings`, …).
        expected: &'static str,
    },
    /// The checklist was written against another catalogue.
    #[error("catalogue version \"{found}\"; this build reads only version \"{expected}\"", expected = CATALOGUE_VERSION)]
    CatalogueVersion {
        /// The version found (capped).
        found: String,
    },
    /// An id that is not in the catalogue.
    #[error("unknown requirement \"{found}\"; the catalogue's ids are {}", catalogue_ids())]
    UnknownRequirement {
        /// The id found (capped).
        found: String,
    },
    /// A requirement given a second item.
    #[error("requirement `{requirement}` appears again (first at {first}); each requirement has exactly one item")]
    DuplicateRequirement {
        /// The requirement.
        requirement: RequirementId,
        /// Where its first item is.
        first: Box<Location>,
    },
    /// Requirements without an item.
    #[error(
        "no item for {}; each requirement of the catalogue has exactly one",
        join(requirements)
    )]
    MissingRequirements {
        /// The requirements, in catalogue order.
        requirements: Vec<RequirementId>,
    },
    /// An informational CSV cell that does not match the catalogue.
    #[error("\"{found}\" does not match the catalogue for `{requirement}`, which has \"{expected}\"")]
    CatalogueMismatch {
        /// The row's requirement.
        requirement: RequirementId,
        /// The cell's value (capped).
        found: String,
        /// The catalogue's value.
        expected: &'static str,
    },
    /// A status that is not one of the three.
    #[error("unknown status \"{found}\"; expected open, answered or evidenced")]
    UnknownStatus {
        /// The status found (capped).
        found: String,
    },
    /// `answered` or `evidenced` with an empty (or blank) answer.
    #[error("status `{status}` needs a non-empty answer (or status `open`)")]
    AnswerRequired {
        /// The item's status.
        status: &'static str,
    },
    /// `evidenced` without a link.
    #[error("status `evidenced` needs at least one evidence link (or status `answered`)")]
    EvidenceRequired,
    /// An answer over [`MAX_ANSWER_CHARS`].
    #[error("the answer has {chars} characters; at most {max} are allowed", max = MAX_ANSWER_CHARS)]
    AnswerTooLong {
        /// Characters found.
        chars: usize,
    },
    /// A control character other than newline and tab.
    #[error("control character U+{code_point:04X} at character {position}; only newline and tab are allowed")]
    ControlCharacter {
        /// The character's code point.
        code_point: u32,
        /// Its 1-based position in the text, in characters.
        position: usize,
    },
    /// An evidence link of the wrong shape.
    #[error(
        "evidence link \"{found}\": {reason}; expected run:<id>, finding:<id>, model:<id> or \
         section:<run-id>#<section>, an id being 1-64 of A-Z a-z 0-9 _ - and a section 1-64 of a-z 0-9 _ -"
    )]
    BadLink {
        /// The link found (capped).
        found: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More than [`MAX_LINKS`] links.
    #[error("{count} evidence links; at most {max} are allowed", max = MAX_LINKS)]
    TooManyLinks {
        /// Links found.
        count: usize,
    },
    /// The same link twice in one item.
    #[error("evidence link \"{link}\" appears twice; each link is given once")]
    DuplicateLink {
        /// The link.
        link: String,
    },
}

fn join(ids: &[RequirementId]) -> String {
    ids.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", ")
}

fn catalogue_ids() -> String {
    catalogue().iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
}
