//! The embedded default: one SQLite file in WAL mode.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::backend::{Dialect, sql_backend};

/// SQLite allows one writer at a time. `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that
/// reads then writes (the audit append) can't be overtaken between its read and its write, and waiting writers
/// queue on `busy_timeout` instead of failing with `SQLITE_BUSY` mid-transaction.
const DIALECT: Dialect = Dialect {
    begin_write: "BEGIN IMMEDIATE",
    lock_audit: None,
    claim_next: crate::backend::claim_next_sql!(""),
};

#[derive(Debug, Clone)]
pub(crate) struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    pub(crate) async fn open(path: &Path) -> Result<Self> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(open_err)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL loses no committed data on a process crash; only an OS crash can lose the last
            // transactions, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

sql_backend!(SqliteStore, sqlx::Sqlite, DIALECT);
