//! The log as an attacker with write access to the database would leave it: each edit,
//! deletion, insertion, reordering and truncation is found by `verify`, which says where;
//! an untouched log and a retention cut verify clean. On SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulwark_audit::{AuditEvent, AuditLog, Category, CheckpointSigner, Outcome, verify};
use bulwark_metadata::MetadataStore;
use bulwark_oci::RequestContext;
use bulwark_test_support::{Backend, TestDatabase};
use sqlx::AnyPool;

fn event(i: i64) -> AuditEvent {
    AuditEvent {
        context: RequestContext {
            actor: format!("user{}", i % 3),
            token_id: None,
            client_address: "127.0.0.1".into(),
            request_id: format!("req-{i}"),
            at_millis: 1_800_000_000_000 + i * 1000,
        },
        category: Category::Pull,
        operation: "GET /v2/{name}/manifests/{reference}".into(),
        target: format!("team/app:v{i}"),
        project: Some("team".into()),
        outcome: Outcome::Success,
        status: 200,
        detail: String::new(),
    }
}

/// A fresh log of `count` records, written through the batching writer and closed cleanly.
async fn log_of(
    backend: Backend,
    count: i64,
) -> (TestDatabase, MetadataStore, CheckpointSigner, AnyPool) {
    let db = TestDatabase::new(backend).await;
    let store = MetadataStore::connect(db.url(), 4).await.unwrap();
    let signer = CheckpointSigner::generate().unwrap();
    let log = AuditLog::start(store.clone(), signer.clone());
    for i in 1..=count {
        log.record(event(i)).await;
    }
    log.shutdown().await;
    assert_eq!(log.backlog(), 0);
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(db.url()).await.unwrap();
    (db, store, signer, pool)
}

async fn exec(pool: &AnyPool, sql: &str) {
    sqlx::query(sql).execute(pool).await.unwrap();
}

async fn problems(store: &MetadataStore, signer: &CheckpointSigner) -> Vec<(i64, &'static str)> {
    let report = verify(store, &[signer.verifying_key()]).await.unwrap();
    report.problems.iter().map(|p| (p.seq, p.kind)).collect()
}

async fn suite(backend: Backend) {
    // Untouched: every record chained and signed through the end.
    let (_db, store, signer, _pool) = log_of(backend, 50).await;
    let report = verify(&store, &[signer.verifying_key()]).await.unwrap();
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.records, 50);
    assert_eq!(report.signed_through, Some(50));
    assert_eq!(report.unsigned_records, 0);
    // Another key: the checkpoint is not taken on trust.
    let stranger = CheckpointSigner::generate().unwrap();
    let report = verify(&store, &[stranger.verifying_key()]).await.unwrap();
    assert!(report.problems.iter().any(|p| p.kind == "unknown_key"));

    // An edited field, hash left alone.
    let (_db, store, signer, pool) = log_of(backend, 50).await;
    exec(
        &pool,
        "UPDATE audit_records SET outcome = 'denied' WHERE seq = 17",
    )
    .await;
    let found = problems(&store, &signer).await;
    assert!(found.contains(&(17, "altered")), "{found:?}");

    // An edit with every later hash recomputed: only the signature tells.
    let (_db, store, signer, pool) = log_of(backend, 50).await;
    let mut records = store.audit_records_after(0, 100).await.unwrap();
    records[19].entry.actor = "someone-else".into();
    let mut prev = bulwark_audit::chain::GENESIS.to_owned();
    for record in &mut records {
        record.prev_hash = prev.clone();
        record.hash = bulwark_audit::chain::record_hash(record.seq, &prev, &record.entry);
        prev = record.hash.clone();
        sqlx::query(
            "UPDATE audit_records SET actor = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
        )
        .bind(record.entry.actor.clone())
        .bind(record.prev_hash.clone())
        .bind(record.hash.clone())
        .bind(record.seq)
        .execute(&pool)
        .await
        .unwrap();
    }
    let found = problems(&store, &signer).await;
    assert_eq!(found, vec![(50, "checkpoint_mismatch")], "{found:?}");
    let report = verify(&store, &[signer.verifying_key()]).await.unwrap();
    assert!(
        report.problems[0].message.contains("from the start to 50"),
        "{report:?}"
    );

    // A record removed.
    let (_db, store, signer, pool) = log_of(backend, 50).await;
    exec(&pool, "DELETE FROM audit_records WHERE seq = 30").await;
    let found = problems(&store, &signer).await;
    assert!(found.contains(&(30, "missing")), "{found:?}");

    // A record inserted (the ones after moved up one to make room).
    let (_db, store, signer, pool) = log_of(backend, 50).await;
    exec(
        &pool,
        "UPDATE audit_records SET seq = seq + 1000 WHERE seq > 25",
    )
    .await;
    exec(
        &pool,
        "UPDATE audit_records SET seq = seq - 999 WHERE seq > 1000",
    )
    .await;
    exec(
        &pool,
        "INSERT INTO audit_records SELECT 26, at_millis, 'intruder', token_id, client_address, \
         request_id, category, operation, target, project, outcome, status, detail, prev_hash, \
         hash FROM audit_records WHERE seq = 25",
    )
    .await;
    let found = problems(&store, &signer).await;
    assert!(found.contains(&(26, "altered")), "{found:?}");
    assert!(
        found
            .iter()
            .any(|(seq, kind)| *seq == 26 && *kind == "broken_link"),
        "{found:?}"
    );

    // Two records swapped.
    let (_db, store, signer, pool) = log_of(backend, 50).await;
    exec(&pool, "UPDATE audit_records SET seq = -1 WHERE seq = 10").await;
    exec(&pool, "UPDATE audit_records SET seq = 10 WHERE seq = 11").await;
    exec(&pool, "UPDATE audit_records SET seq = 11 WHERE seq = -1").await;
    let found = problems(&store, &signer).await;
    assert!(
        found.contains(&(10, "altered")) && found.contains(&(11, "altered")),
        "{found:?}"
    );

    // The tail cut off behind the last checkpoint.
    let (_db, store, signer, pool) = log_of(backend, 50).await;
    exec(&pool, "DELETE FROM audit_records WHERE seq > 40").await;
    let found = problems(&store, &signer).await;
    assert_eq!(found, vec![(50, "truncated")], "{found:?}");
    let report = verify(&store, &[signer.verifying_key()]).await.unwrap();
    assert!(
        report.problems[0]
            .message
            .contains("records 41 to 50 are missing")
    );

    // The oldest records removed without a signed cut.
    let (_db, store, signer, pool) = log_of(backend, 50).await;
    exec(&pool, "DELETE FROM audit_records WHERE seq <= 5").await;
    let found = problems(&store, &signer).await;
    assert_eq!(found, vec![(6, "bad_start")], "{found:?}");

    // A forged checkpoint.
    let (_db, store, signer, pool) = log_of(backend, 50).await;
    exec(
        &pool,
        "UPDATE audit_checkpoints SET signed_at = signed_at + 1",
    )
    .await;
    let found = problems(&store, &signer).await;
    assert!(found.contains(&(50, "bad_signature")), "{found:?}");

    // Retention: the records before the bound go, a signed cut stays, and the rest verifies.
    let (_db, store, signer, _pool) = log_of(backend, 50).await;
    let removed = bulwark_audit::cut(&store, &signer, 1_800_000_000_000 + 20 * 1000)
        .await
        .unwrap();
    assert_eq!(removed, 19);
    let report = verify(&store, &[signer.verifying_key()]).await.unwrap();
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.first_seq, Some(20));
    // …and records written after it chain on.
    let log = AuditLog::start(store.clone(), signer.clone());
    log.record(event(51)).await;
    log.shutdown().await;
    let report = verify(&store, &[signer.verifying_key()]).await.unwrap();
    assert!(report.intact(), "{report:?}");
    assert_eq!((report.records, report.last_seq), (32, Some(51)));
}

#[tokio::test]
async fn tampering_is_found_on_sqlite() {
    suite(Backend::Sqlite).await;
}

#[tokio::test]
async fn tampering_is_found_on_postgres() {
    suite(Backend::Postgres).await;
}

/// Records come back as the filters ask, newest first, page by page.
#[tokio::test]
async fn listing_filters_and_pages() {
    let (_db, store, _signer, _pool) = log_of(Backend::Sqlite, 30).await;
    let mut filter = bulwark_metadata::AuditFilter {
        actor: Some("user1".into()),
        limit: 4,
        ..Default::default()
    };
    let page = bulwark_audit::list(&store, &filter).await.unwrap();
    assert_eq!(
        page.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![28, 25, 22, 19]
    );
    filter.before_seq = Some(19);
    let page = bulwark_audit::list(&store, &filter).await.unwrap();
    assert_eq!(page[0].seq, 16);
    let by_action = bulwark_metadata::AuditFilter {
        action: Some("pull".into()),
        visible_projects: Some(vec!["other".into()]),
        limit: 100,
        ..Default::default()
    };
    assert!(
        bulwark_audit::list(&store, &by_action)
            .await
            .unwrap()
            .is_empty()
    );
    let by_time = bulwark_metadata::AuditFilter {
        since_millis: Some(1_800_000_000_000 + 10_000),
        until_millis: Some(1_800_000_000_000 + 12_000),
        action: Some("/manifests/".into()),
        limit: 100,
        ..Default::default()
    };
    let page = bulwark_audit::list(&store, &by_time).await.unwrap();
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![11, 10]);
}
