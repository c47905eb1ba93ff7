//! One self-contained HTML file of a Sandkasse evaluation run, for an authority to read, forward
//! or print: no script, no external asset, no web font; inline CSS and inline SVG only.
//!
//! The output is well-formed XHTML as well as HTML5 (every element closed, every attribute
//! quoted, only XML's own entities), so it can be checked with an XML parser. Every string taken
//! from the record is escaped: the record carries vendor-supplied names and descriptions.
//!
//! It reads the typed [`evaluate::RunRecord`], not JSON: a record that does not match its schema
//! is refused where it is read ([`evaluate::RunRecord::from_json`]), and a field renamed in the
//! record breaks this crate's build instead of silently dropping a section of the report.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let record = evaluate::RunRecord::from_json(&std::fs::read("run.json")?)?;
//! let html = htmlreport::render(&record, htmlreport::Lang::Da, &htmlreport::Meta::default());
//! std::fs::write("run.html", html)?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod fmt;
pub mod labels;
mod sections;
mod svg;

use evaluate::RunRecord;

/// The language of the report's labels and the format of its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Danish: decimal comma (0,81), "81,2 %", thousands with a point (20.000).
    Da,
    /// English: decimal point (0.81), "81.2%", thousands with a comma (20,000).
    En,
}

impl Lang {
    /// `"da"` or `"en"` (case-insensitive, surrounding space ignored; `da-DK`, `en-GB` and
    /// `en-US` too).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "da" | "da-dk" => Some(Lang::Da),
            "en" | "en-gb" | "en-us" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language tag written into the document (`lang="da"`).
    pub fn code(self) -> &'static str {
        self.t("da", "en")
    }
}

impl std::str::FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::parse(s).ok_or_else(|| format!("unknown language {s:?} (expected \"da\" or \"en\")"))
    }
}

/// Who ran the evaluation and where; shown with the provenance when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// The service's id of the run, so a printed report can be traced back to it.
    pub run_id: Option<String>,
    /// Who asked for the run.
    pub requested_by: Option<String>,
    /// The case the run belongs to, shown in the header beside the model.
    pub case_name: Option<String>,
}

/// The reports' stylesheet (screen, phone and A4 print), for other documents of the service that should read
/// and print like a run report (a case's exit report).
pub fn stylesheet() -> &'static str {
    sections::CSS
}

/// Renders the run record (what `sandkasse evaluate --out` writes) as one HTML document.
///
/// The parts a run may lack (counterfactual twins, scores, criteria, a true outcome) leave
/// their sections out or say that they are absent. The same record gives the same bytes.
pub fn render(record: &RunRecord, lang: Lang, meta: &Meta) -> String {
    sections::Doc::new(record, lang, meta).render()
}
