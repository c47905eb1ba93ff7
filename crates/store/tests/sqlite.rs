//! The shared suite on SQLite: a fresh database file per test.

mod common;

use common::{Fixture, Raw};
use store::Store;

async fn fresh() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandkasse.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    Fixture {
        store,
        raw: Raw::Sqlite(raw),
        keep: Box::new(dir),
    }
}

common::suite!(fresh);

#[tokio::test]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("sandkasse.db");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let store = Store::open_sqlite(&path).await.unwrap();
    let org = store.create_org("Acme", store::OrgKind::Vendor).await.unwrap();
    store.close().await;
    let store = Store::open_sqlite(&path).await.unwrap();
    assert_eq!(store.org(&org.id).await.unwrap(), Some(org));
    assert_eq!(store.backend(), "sqlite");
}
