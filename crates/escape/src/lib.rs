//! Escaping of strings that come from a vendor or a user (model names, manifest fields, node
//! and tensor names, case and organisation names, worker error text) for the one context
//! they are shown in.
//!
//! Sandkasse shows untrusted text in reports, pages and terminals that people rely on to
//! decide. A string that carries structure of its own can forge that decision: a newline and
//! `## Criteria: pass` in a model name makes a section, `<!--` hides the real verdicts, `|`
//! breaks a table, `ESC [2K` rewrites a terminal line, and U+202E reverses what follows it.
//! Each function here makes a string inert in one context, and shows what it neutralised
//! instead of dropping it, so the reader still sees that the string was odd.
//!
//! | context | function |
//! | --- | --- |
//! | Markdown text in a line | [`markdown_inline`] |
//! | Markdown table cell | [`markdown_cell`] |
//! | a terminal | [`terminal`] |
//! | HTML text, where markup is escaped elsewhere | [`visible_text`], or [`bidi`] and [`json_text`] |
//! | a CSV cell opened by a spreadsheet | [`csv_cell`] |
//! | a length cap for display | [`truncate_chars`] |
//!
//! HTML escaping is not here: maud escapes markup on the pages, and `htmlreport` has its own
//! escaper; both call [`bidi`] (or [`is_bidi_control`]) for what HTML escaping leaves alone.

#![deny(missing_docs)]

mod chars;
mod csv;
mod markdown;
mod terminal;
mod truncate;

pub use chars::{bidi, is_bidi_control, is_hidden, json_text, visible, visible_text};
pub use csv::csv_cell;
pub use markdown::{markdown_cell, markdown_inline};
pub use terminal::terminal;
pub use truncate::{Truncated, truncate_chars};
