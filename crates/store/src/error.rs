//! The store's error type.

use crate::audit::ChainBreak;
use crate::meta::RunState;
use crate::{IdError, RunId};

/// Why a metadata operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not open the database at {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("run {run} is {from} and can't become {to}")]
    IllegalTransition { run: RunId, from: RunState, to: RunState },
    #[error("progress {rows} of run {run} exceeds its {total} rows")]
    ProgressOutOfRange { run: RunId, rows: u64, total: u64 },
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("refers to something that does not exist: {0}")]
    MissingReference(String),
    #[error("stored {what} is malformed: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error(transparent)]
    ChainBroken(#[from] ChainBreak),
}

impl StoreError {
    pub(crate) fn corrupt(what: &'static str, detail: impl ToString) -> Self {
        Self::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}

impl From<IdError> for StoreError {
    fn from(e: IdError) -> Self {
        Self::corrupt("id", e)
    }
}

/// Sorts constraint violations out of generic database errors, so callers can answer 409/404 instead of 500.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match e.as_database_error().map(|d| (d.kind(), d.message().to_owned())) {
            Some((ErrorKind::UniqueViolation, msg)) => Self::Conflict(msg),
            Some((ErrorKind::ForeignKeyViolation, msg)) => Self::MissingReference(msg),
            _ => Self::Database(e),
        }
    }
}

pub(crate) type Result<T> = std::result::Result<T, StoreError>;
