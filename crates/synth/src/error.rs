//! Errors the generator reports to its callers. Each names what was wrong and where.

use std::path::PathBuf;

/// Why a dataset could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// No scenario has this name.
    #[error("unknown scenario {name:?}; known scenarios: {known}")]
    UnknownScenario {
        /// The name asked for.
        name: String,
        /// The scenarios there are, for the message.
        known: String,
    },
    /// A dataset of no rows was asked for.
    #[error("--rows must be at least 1 (got {0})")]
    ZeroRows(u64),
    /// More citizens than the scenario has distinct fictitious CPR numbers for.
    #[error(
        "{rows} rows requested, but scenario {scenario} can give at most {limit} citizens with distinct \
         fictitious CPR numbers{detail}"
    )]
    TooManyRows {
        /// Rows asked for.
        rows: u64,
        /// The scenario.
        scenario: String,
        /// The most it can give.
        limit: u64,
        /// What bounds it (the split, twins), for the message.
        detail: String,
    },
    /// A `--bias` key that does not exist.
    #[error("unknown bias key {key:?}; known keys: {known} (or `none`)")]
    UnknownBiasKey {
        /// The key given.
        key: String,
        /// The keys there are.
        known: String,
    },
    /// A `--bias` value out of range or of the wrong kind.
    #[error("bias setting {key}={value:?} is invalid: {reason}")]
    BadBiasValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What a valid value would be.
        reason: String,
    },
    /// A `--bias` argument that is not `KEY=VALUE`.
    #[error("bias setting must be KEY=VALUE or `none`, got {0:?}")]
    BadBiasSyntax(String),
    /// A group selector that names no group.
    #[error("group {spec:?} is invalid: {reason}")]
    BadGroup {
        /// The selector given.
        spec: String,
        /// What was wrong.
        reason: String,
    },
    /// Twins asked for on an attribute they cannot change.
    #[error("cannot make counterfactual twins on {attr:?}; supported attributes: {known}")]
    UnknownCounterfactual {
        /// The attribute given.
        attr: String,
        /// The attributes twins can change.
        known: String,
    },
    /// Creating, writing or renaming the output failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The Arrow IPC or CSV writer failed.
    #[error("writing {path}: {source}")]
    Arrow {
        /// The file.
        path: PathBuf,
        /// What the writer said.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The Parquet writer failed.
    #[error("writing {path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What the writer said.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A path-specific twin asked for a path the scenario's causal graph does not have.
    #[error("{0}")]
    Path(String),
    /// A scenario module could not be used.
    #[error("{0}")]
    Module(String),
    /// The caller stopped the write; nothing was left under the target name.
    #[error("generation was cancelled")]
    Cancelled,
}

/// A caller's text as an error message quotes it: at most 80 characters, so a hostile name cannot
/// flood a log or a page (the message is escaped where it lands).
pub(crate) fn shown(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
