//! The requirements checklist of a sandbox case: which legal requirements the AI solution
//! under test must meet, and how far the case has got with each.
//!
//! A sandbox run measures accuracy and bias; it does not by itself say whether an authority
//! may use the system. That takes answers to the AI Act's requirements for high-risk AI
//! systems (Regulation (EU) 2024/1689: Art. 9–15 and 17, with Annex IV's technical
//! documentation point by point), the GDPR's rules on automated decisions (Art. 22) and impact
//! assessments (Art. 35), and the Danish rules a public authority answers to: the duty to give
//! reasons in forvaltningsloven §§ 22–24 and lov om etnisk ligebehandling. The checklist asks
//! each as a question (Danish and English) and keeps, per requirement, a status, an answer and
//! links to the evidence in the sandbox (runs, findings, models, report sections).
//!
//! | part | what |
//! | --- | --- |
//! | [`catalogue()`], [`Requirement`], [`RequirementId`], [`Source`] | the requirements, static, versioned by [`CATALOGUE_VERSION`] |
//! | [`Checklist`], [`Item`], [`Status`], [`EvidenceLink`] | a case's answers; every value of these types obeys the rules |
//! | [`to_json`], [`from_json`], [`json_schema`] | the stored and served form (canonical JSON) and its schema |
//! | [`to_csv`], [`from_csv`] | the form edited in a spreadsheet, formula-safe |
//! | [`ChecklistError`] | what was refused, where (CSV line and column, JSON path) and what would be right |
//!
//! Whether a linked run or finding exists is not checked here (this crate knows no store):
//! only the link's shape is. The service checks existence.

#![deny(missing_docs)]

mod catalogue;
mod csv_io;
mod error;
mod json_io;
mod model;

pub use catalogue::{CATALOGUE_LEN, CATALOGUE_VERSION, Lang, Requirement, RequirementId, Source, Text, catalogue};
pub use csv_io::{CSV_HEADER, MAX_CSV_LINES, from_csv, to_csv};
pub use error::{ChecklistError, Location, MAX_QUOTED_CHARS, Problem};
pub use json_io::{from_json, from_value, json_schema, to_json};
pub use model::{
    Checklist, EvidenceId, EvidenceLink, Item, MAX_ANSWER_CHARS, MAX_ID_CHARS, MAX_INPUT_BYTES, MAX_LINKS, SectionName,
    Status, Summary,
};
