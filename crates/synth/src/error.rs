//! Errors the generator reports to its callers. Each names what was wrong and where.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("unknown scenario {name:?}; known scenarios: {known}")]
    UnknownScenario { name: String, known: String },
    #[error("--rows must be at least 1 (got {0})")]
    ZeroRows(u64),
    #[error(
        "{rows} rows requested, but scenario {scenario} can give at most {limit} citizens with distinct \
         fictitious CPR numbers{detail}"
    )]
    TooManyRows {
        rows: u64,
        scenario: String,
        limit: u64,
        detail: String,
    },
    #[error("unknown bias key {key:?}; known keys: {known} (or `none`)")]
    UnknownBiasKey { key: String, known: String },
    #[error("bias setting {key}={value:?} is invalid: {reason}")]
    BadBiasValue { key: String, value: String, reason: String },
    #[error("bias setting must be KEY=VALUE or `none`, got {0:?}")]
    BadBiasSyntax(String),
    #[error("group {spec:?} is invalid: {reason}")]
    BadGroup { spec: String, reason: String },
    #[error("cannot make counterfactual twins on {attr:?}; supported attributes: {known}")]
    UnknownCounterfactual { attr: String, known: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow::error::ArrowError,
    },
    #[error("writing {path}: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("generation was cancelled")]
    Cancelled,
}
