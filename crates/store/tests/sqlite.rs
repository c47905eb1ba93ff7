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

/// An older copy of the whole database put back (a backup restored by someone covering their tracks): the chain
/// in it is intact, the checkpoint taken after the copy names it.
#[tokio::test]
async fn a_database_rolled_back_to_an_older_copy_is_found_by_a_checkpoint_and_not_by_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandkasse.db");
    let copy = dir.path().join("older.db");
    let key = store::AuditKey::generate().unwrap();
    let s = Store::open_sqlite(&path).await.unwrap();
    let org = s.create_org("Acme", store::OrgKind::Vendor).await.unwrap();
    for i in 0..3 {
        s.append_audit(store::NewEntry {
            time: store::Timestamp::now().to_string(),
            actor: format!("u{i}"),
            org: org.id.to_string(),
            role: "vendor".into(),
            action: "model.upload".into(),
            object: format!("model/{i}"),
            outcome: "ok".into(),
            request_id: format!("r{i}"),
            case_id: None,
        })
        .await
        .unwrap();
    }
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("VACUUM INTO $1")
        .bind(copy.display().to_string())
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    for i in 3..6 {
        s.append_audit(store::NewEntry {
            time: store::Timestamp::now().to_string(),
            actor: format!("u{i}"),
            org: org.id.to_string(),
            role: "vendor".into(),
            action: "run.create".into(),
            object: format!("run/{i}"),
            outcome: "ok".into(),
            request_id: format!("r{i}"),
            case_id: None,
        })
        .await
        .unwrap();
    }
    let pin = key
        .verifier()
        .open(&s.take_checkpoint(&key, &[]).await.unwrap().text)
        .unwrap();
    s.close().await;
    std::fs::copy(&copy, &path).unwrap();
    let s = Store::open_sqlite(&path).await.unwrap();
    assert_eq!(s.verify_audit().await.unwrap(), 3, "the older copy's chain is intact");
    match s.check_audit_against(&[pin]).await {
        Err(store::StoreError::LogDiverges(store::merkle::Divergence::Shorter {
            checkpoint_size: 6,
            log_size: 3,
            ..
        })) => {}
        other => panic!("expected the rollback to be found, got {other:?}"),
    }
    s.close().await;
}
