//! The store's error type.

use crate::audit::ChainBreak;
use crate::meta::RunState;
use crate::{IdError, RunId};

/// Why a metadata operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a query.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The schema could not be brought to this release's version at start.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database could not be opened or connected to.
    #[error("could not open the database at {path}: {source}")]
    Open {
        /// The SQLite file or the PostgreSQL address (without its password).
        path: String,
        /// What the driver said.
        source: sqlx::Error,
    },
    /// An entity that must exist does not.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What was looked for (`run`, `case`, ...).
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// A run state change its life does not allow, refused so two runners cannot both take a run.
    #[error("run {run} is {from} and can't become {to}")]
    IllegalTransition {
        /// The run.
        run: RunId,
        /// Its state when the change was tried.
        from: RunState,
        /// The state asked for.
        to: RunState,
    },
    /// Progress past a run's total, which would show over 100 %.
    #[error("progress {rows} of run {run} exceeds its {total} rows")]
    ProgressOutOfRange {
        /// The run.
        run: RunId,
        /// The progress reported.
        rows: u64,
        /// The run's total.
        total: u64,
    },
    /// A unique name or key is taken.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A foreign key points at nothing.
    #[error("refers to something that does not exist: {0}")]
    MissingReference(String),
    /// A stored value does not read back as its type: the database was edited outside the service.
    #[error("stored {what} is malformed: {detail}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// The audit chain failed verification.
    #[error(transparent)]
    ChainBroken(#[from] ChainBreak),
    /// The chain is whole, but it does not extend a signed checkpoint taken earlier: entries it covered were
    /// cut off, replaced, or the database was put back to an older copy.
    #[error(transparent)]
    LogDiverges(#[from] crate::merkle::Divergence),
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
