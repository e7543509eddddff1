//! Advisory storage, run on SQLite and on PostgreSQL: incremental re-import, withdrawal,
//! aliases, bookkeeping, and imports that are all-or-nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulwark_metadata::{AdvisoryImportCounts, AdvisoryRecord, MetadataStore};
use bulwark_test_support::{Backend, TestDatabase};

fn record(id: &str, modified: i64, packages: &[(&str, &str)]) -> AdvisoryRecord {
    AdvisoryRecord {
        id: id.into(),
        modified,
        withdrawn: None,
        record: format!(r#"{{"id":"{id}","modified":"{modified}"}}"#),
        packages: packages
            .iter()
            .map(|(e, n)| ((*e).to_owned(), (*n).to_owned()))
            .collect(),
        aliases: vec![],
        related: vec![],
    }
}

async fn import(store: &MetadataStore, batches: Vec<Vec<AdvisoryRecord>>) -> AdvisoryImportCounts {
    let mut import = store.begin_advisory_import("test-source").await.unwrap();
    for batch in batches {
        import.stage(batch).await.unwrap();
    }
    import.commit(0).await.unwrap()
}

async fn ids_for(store: &MetadataStore, ecosystem: &str, name: &str) -> Vec<String> {
    store
        .advisories_for_package(ecosystem, name)
        .await
        .unwrap()
        .iter()
        .map(|json| {
            let start = json.find(r#""id":""#).unwrap() + 6;
            json[start..].split('"').next().unwrap().to_owned()
        })
        .collect()
}

async fn suite(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = MetadataStore::connect(db.url(), 4).await.unwrap();
    let empty = store.advisory_status().await.unwrap();
    assert_eq!((empty.records, empty.withdrawn), (0, 0));
    assert!(empty.last_import.is_none() && empty.ecosystems.is_empty());

    // First import; a batch may repeat an id and the newest copy wins.
    let mut first = record("PYSEC-1", 100, &[("PyPI", "django")]);
    first.aliases = vec!["CVE-1".into(), "GHSA-1".into()];
    first.related = vec!["CVE-9".into()];
    let mut twin = record("GHSA-1", 100, &[("PyPI", "django")]);
    twin.aliases = vec!["CVE-1".into()];
    let counts = import(
        &store,
        vec![
            vec![record("PYSEC-1", 50, &[("PyPI", "flask")]), first.clone()],
            vec![
                twin,
                record("PYSEC-1", 60, &[]),
                record("RUSTSEC-1", 5, &[("crates.io", "time")]),
            ],
        ],
    )
    .await;
    assert_eq!(
        counts,
        AdvisoryImportCounts {
            added: 3,
            replaced: 0,
            unchanged: 2,
            withdrawn: 0
        }
    );
    assert_eq!(
        ids_for(&store, "PyPI", "django").await,
        ["GHSA-1", "PYSEC-1"]
    );
    assert!(ids_for(&store, "PyPI", "flask").await.is_empty());
    let links = store.advisory_alias_links(&["CVE-1".into()]).await.unwrap();
    assert_eq!(
        links,
        [
            ("GHSA-1".to_owned(), "CVE-1".to_owned()),
            ("PYSEC-1".to_owned(), "CVE-1".to_owned())
        ]
    );
    // `related` is stored but is no alias.
    assert!(
        store
            .advisory_alias_links(&["CVE-9".into()])
            .await
            .unwrap()
            .is_empty()
    );

    // Re-import: older and equal copies are skipped, a newer one replaces the old copy and
    // its packages.
    let counts = import(
        &store,
        vec![vec![
            record("PYSEC-1", 90, &[("PyPI", "other")]),
            record("GHSA-1", 100, &[("PyPI", "other")]),
            record("RUSTSEC-1", 6, &[("crates.io", "time-macros")]),
        ]],
    )
    .await;
    assert_eq!((counts.added, counts.replaced, counts.unchanged), (0, 1, 2));
    assert!(ids_for(&store, "crates.io", "time").await.is_empty());
    assert_eq!(
        ids_for(&store, "crates.io", "time-macros").await,
        ["RUSTSEC-1"]
    );
    assert!(ids_for(&store, "PyPI", "other").await.is_empty());

    // Withdrawal retracts: the row stays, marked, and stops matching.
    let mut withdrawn = first.clone();
    withdrawn.modified = 200;
    withdrawn.withdrawn = Some(200);
    let counts = import(&store, vec![vec![withdrawn]]).await;
    assert_eq!((counts.replaced, counts.withdrawn), (1, 1));
    assert_eq!(ids_for(&store, "PyPI", "django").await, ["GHSA-1"]);
    let status = store.advisory_status().await.unwrap();
    assert_eq!((status.records, status.withdrawn), (3, 1));
    assert_eq!(status.newest_modified, Some(200));
    let per_ecosystem: Vec<(String, u64, u64)> = status
        .ecosystems
        .iter()
        .map(|e| (e.ecosystem.clone(), e.records, e.withdrawn))
        .collect();
    assert_eq!(
        per_ecosystem,
        [("PyPI".to_owned(), 2, 1), ("crates.io".to_owned(), 1, 0)]
    );
    assert!(
        status
            .ecosystems
            .iter()
            .all(|e| e.last_source == "test-source")
    );
    let last = status.last_import.unwrap();
    assert_eq!((last.counts.replaced, last.counts.withdrawn), (1, 1));

    // An import dropped before its commit changes nothing, and leaves nothing behind for
    // the next one on a recycled connection.
    {
        let mut abandoned = store.begin_advisory_import("abandoned").await.unwrap();
        abandoned
            .stage(vec![
                record("GHSA-1", 999, &[]),
                record("NEW-1", 1, &[("npm", "x")]),
            ])
            .await
            .unwrap();
    }
    assert_eq!(ids_for(&store, "PyPI", "django").await, ["GHSA-1"]);
    assert!(ids_for(&store, "npm", "x").await.is_empty());
    assert_eq!(store.advisory_status().await.unwrap().records, 3);
    for _ in 0..6 {
        let counts = import(&store, vec![vec![record("GHSA-1", 100, &[])]]).await;
        assert_eq!(counts.unchanged, 1);
    }

    // Two imports staged side by side: the one committed later re-checks against what the
    // earlier one stored, so an older copy never overwrites a newer one.
    let mut slow = store.begin_advisory_import("slow").await.unwrap();
    slow.stage(vec![record("RACE-1", 10, &[("npm", "race")])])
        .await
        .unwrap();
    let fast = import(&store, vec![vec![record("RACE-1", 20, &[("npm", "race")])]]).await;
    assert_eq!(fast.added, 1);
    let late = slow.commit(0).await.unwrap();
    assert_eq!((late.added, late.replaced, late.unchanged), (0, 0, 1));

    // Entity tags of downloaded sources: the newest one is remembered, and an unchanged
    // source refreshes the ecosystems it last covered.
    assert_eq!(
        store.advisory_source_etag("test-source").await.unwrap(),
        None
    );
    let mut tagged = store.begin_advisory_import("test-source").await.unwrap();
    tagged.set_etag("\"v1\"".into());
    tagged
        .stage(vec![record("GHSA-1", 100, &[])])
        .await
        .unwrap();
    tagged.commit(0).await.unwrap();
    assert_eq!(
        store
            .advisory_source_etag("test-source")
            .await
            .unwrap()
            .as_deref(),
        Some("\"v1\"")
    );
    let before = store.advisory_status().await.unwrap();
    store
        .advisory_source_unchanged("test-source", "\"v1\"")
        .await
        .unwrap();
    let after = store.advisory_status().await.unwrap();
    assert_eq!(after.records, before.records);
    let pypi = |status: &bulwark_metadata::AdvisoryStatus| {
        status
            .ecosystems
            .iter()
            .find(|e| e.ecosystem == "PyPI")
            .unwrap()
            .last_import_at
    };
    assert!(pypi(&after) >= pypi(&before));
    assert_eq!(
        after.last_import.unwrap().counts,
        AdvisoryImportCounts::default()
    );

    // Paging through live records skips withdrawn ones.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = store.advisory_page(&after, 2).await.unwrap();
        let Some((last, _)) = page.last() else { break };
        after = last.clone();
        seen.extend(page.into_iter().map(|(id, _)| id));
    }
    assert_eq!(seen, ["GHSA-1", "RACE-1", "RUSTSEC-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    suite(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    suite(Backend::Postgres).await;
}
