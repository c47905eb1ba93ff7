//! The shared suite on PostgreSQL: one throwaway cluster per test binary, a fresh database per test.
//!
//! The cluster is started from the system's PostgreSQL binaries (`/usr/lib/postgresql/*/bin`); when they are
//! missing the tests fail, they are never skipped. A watchdog process stops the cluster and removes its
//! directory when this test process exits, however it exits.

#[path = "common/cluster.rs"]
mod cluster;
mod common;

use cluster::cluster;
use common::{Fixture, Raw};
use store::Store;

async fn fresh() -> Fixture {
    let port = tokio::task::spawn_blocking(|| cluster().port).await.unwrap();
    let name = format!("t_{}", store::RunId::generate());
    let admin = sqlx::PgPool::connect(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let url = format!("postgres://postgres@127.0.0.1:{port}/{name}");
    let store = Store::open_postgres(&url).await.unwrap();
    let raw = sqlx::PgPool::connect(&url).await.unwrap();
    Fixture {
        store,
        raw: Raw::Postgres(raw),
        keep: Box::new(name),
    }
}

common::suite!(fresh);

#[tokio::test]
async fn backend_name_and_bad_url() {
    let f = fresh().await;
    assert_eq!(f.store.backend(), "postgres");
    let port = cluster().port;
    let err = Store::open_postgres(&format!("postgres://nobody:hunter2@127.0.0.1:{port}/nope"))
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}
