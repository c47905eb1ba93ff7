//! PostgreSQL, for running several service instances against one database.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::backend::{Dialect, sql_backend};

/// `LOCK TABLE audit IN EXCLUSIVE MODE` serialises appenders (readers still proceed), so two transactions can't
/// both read the same last entry and fork the chain. `FOR UPDATE SKIP LOCKED` lets concurrent workers each take
/// a different queued run instead of queueing behind one row.
const DIALECT: Dialect = Dialect {
    begin_write: "BEGIN",
    lock_audit: Some("LOCK TABLE audit IN EXCLUSIVE MODE"),
    claim_next: crate::backend::claim_next_sql!("FOR UPDATE OF q SKIP LOCKED"),
};

#[derive(Debug, Clone)]
pub(crate) struct PgStore {
    pub(crate) pool: PgPool,
}

impl PgStore {
    pub(crate) async fn open(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .map_err(|source| StoreError::Open {
                path: redact(url),
                source,
            })?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..s + 3 + colon], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

sql_backend!(PgStore, sqlx::Postgres, DIALECT);

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_password() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact("postgres://h/db"), "postgres://h/db");
    }
}
