//! The scan queue and scoped inventories, on SQLite and on PostgreSQL: a scan asked for while
//! one runs runs again when it ends, whatever that run's fate; a component an SBOM attached in
//! one repository lists is seen from that repository only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulwark_metadata::{ArtifactComponent, Finished, MetadataStore, PackageVersion, ScanOutcome};
use bulwark_test_support::{Backend, TestDatabase};

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn component(name: &str, repository: Option<&str>) -> ArtifactComponent {
    ArtifactComponent {
        kind: "npm".into(),
        name: name.into(),
        version: "1.0.0".into(),
        purl: Some(format!("pkg:npm/{name}@1.0.0")),
        path: "package.json".into(),
        layer_digest: None,
        platform: None,
        repository: repository.map(str::to_owned),
        package: Some(PackageVersion {
            ecosystem: "npm".into(),
            package: name.into(),
            version: "1.0.0".into(),
        }),
    }
}

fn outcome<'a>(components: &'a [ArtifactComponent], hash: &'a str) -> ScanOutcome<'a> {
    ScanOutcome {
        os: None,
        warnings: "[]",
        components,
        secrets: &[],
        inventory_hash: hash,
    }
}

async fn suite(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = MetadataStore::connect(db.url(), 4).await.unwrap();

    // Asked for while running: finished, and queued again at once.
    assert!(store.queue_scan(DIGEST, 10).await.unwrap());
    let claim = store
        .claim_scan("node-a", 1_000, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.digest, DIGEST);
    assert!(
        !store.queue_scan(DIGEST, 20).await.unwrap(),
        "one is running"
    );
    let components = [
        component("own", None),
        component("claimed", Some("proj/app")),
    ];
    let finished = store
        .finish_scan(DIGEST, "node-a", &outcome(&components, "h1"), 30)
        .await
        .unwrap();
    assert!(matches!(finished, Finished::Stored));
    let record = store.scan(DIGEST).await.unwrap().unwrap();
    assert_eq!(record.status.as_str(), "pending", "it runs again");
    let again = store
        .claim_scan("node-a", 1_000, 30)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.inventory_hash.as_deref(), Some("h1"));
    let finished = store
        .finish_scan(DIGEST, "node-a", &outcome(&components, "h1"), 40)
        .await
        .unwrap();
    assert!(matches!(finished, Finished::Unchanged));
    assert_eq!(
        store.scan(DIGEST).await.unwrap().unwrap().status.as_str(),
        "done",
        "once"
    );

    // The same for a run that fails for good: the request made meanwhile still runs.
    assert!(store.queue_scan(DIGEST, 50).await.unwrap());
    store
        .claim_scan("node-a", 1_000, 50)
        .await
        .unwrap()
        .unwrap();
    assert!(!store.queue_scan(DIGEST, 55).await.unwrap());
    store
        .fail_scan(DIGEST, "node-a", "broken layer", None, 60)
        .await
        .unwrap();
    let record = store.scan(DIGEST).await.unwrap().unwrap();
    assert_eq!(record.status.as_str(), "pending");
    assert_eq!(record.attempts, 0);
    store
        .claim_scan("node-a", 1_000, 60)
        .await
        .unwrap()
        .unwrap();
    store
        .fail_scan(DIGEST, "node-a", "broken layer", None, 70)
        .await
        .unwrap();
    assert_eq!(
        store.scan(DIGEST).await.unwrap().unwrap().status.as_str(),
        "failed"
    );

    // Scoped components: the artifact's own everywhere, a repository's claim only there.
    let names = |list: Vec<ArtifactComponent>| list.into_iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(
        names(
            store
                .artifact_components(DIGEST, Some("proj/app"))
                .await
                .unwrap()
        ),
        ["own", "claimed"]
    );
    assert_eq!(
        names(
            store
                .artifact_components(DIGEST, Some("other/app"))
                .await
                .unwrap()
        ),
        ["own"]
    );
    assert_eq!(
        names(store.artifact_components(DIGEST, None).await.unwrap()),
        ["own"]
    );
}

#[tokio::test]
async fn scans_sqlite() {
    suite(Backend::Sqlite).await;
}

#[tokio::test]
async fn scans_postgres() {
    suite(Backend::Postgres).await;
}
