//! The outbox and job leases, on SQLite and on PostgreSQL: each committed change of a
//! repository's content is one event in commit order, consumers move their position by
//! compare-and-set, and a job's lease belongs to one holder until it expires or is released.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulwark_metadata::{EventKind, MetadataStore, NewManifest};
use bulwark_oci::{Digest, RepositoryName, RequestContext, Tag};
use bulwark_test_support::{Backend, TestDatabase};

fn ctx() -> RequestContext {
    RequestContext {
        actor: "alice".into(),
        token_id: Some("tok1".into()),
        client_address: "192.0.2.7".into(),
        request_id: "req-1".into(),
        at_millis: 1_700_000_000_000,
    }
}

fn manifest(content: &str) -> NewManifest {
    NewManifest {
        digest: Digest::sha256_of(content.as_bytes()),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        content: content.as_bytes().to_vec(),
        artifact_type: None,
        subject: None,
        annotations: None,
        references: Vec::new(),
    }
}

async fn suite(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = MetadataStore::connect(db.url(), 4).await.unwrap();
    store.create_project("proj", false).await.unwrap();
    let repo: RepositoryName = "proj/app".parse().unwrap();
    let tag = |t: &str| t.parse::<Tag>().unwrap();
    let one = manifest("one");
    let two = manifest("two");
    assert!(store.events_after(0, 100).await.unwrap().is_empty());

    store
        .put_manifest(&repo, &one, &[tag("v1"), tag("latest")], &ctx())
        .await
        .unwrap();
    store.put_manifest(&repo, &two, &[], &ctx()).await.unwrap();
    assert!(
        store
            .delete_tag(&repo, &tag("latest"), &ctx())
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_tag(&repo, &tag("latest"), &ctx())
            .await
            .unwrap(),
        "no event for nothing"
    );
    store
        .delete_manifest(&repo, &two.digest, &ctx())
        .await
        .unwrap();

    let events = store.events_after(0, 100).await.unwrap();
    let seen: Vec<(EventKind, String, Option<String>)> = events
        .iter()
        .map(|e| (e.kind, e.digest.clone(), e.tag.clone()))
        .collect();
    let (d1, d2) = (one.digest.to_string(), two.digest.to_string());
    assert_eq!(
        seen,
        [
            (EventKind::ManifestPushed, d1.clone(), Some("v1".into())),
            (EventKind::ManifestPushed, d1.clone(), Some("latest".into())),
            (EventKind::ManifestPushed, d2.clone(), None),
            (EventKind::TagDeleted, d1, Some("latest".into())),
            (EventKind::ManifestDeleted, d2, None),
        ]
    );
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    assert!(events.iter().all(|e| e.repository == "proj/app"));
    // Each event names the request that made the change, and its time.
    for event in &events {
        let context = event.context.as_ref().expect("recorded with its request");
        assert_eq!(
            (context.actor.as_str(), context.token_id.as_deref()),
            ("alice", Some("tok1"))
        );
        assert_eq!(context.client_address, "192.0.2.7");
        assert_eq!(context.request_id, "req-1");
        assert_eq!(event.created_at, 1_700_000_000_000);
    }
    let after_first = store.events_after(events[0].id, 2).await.unwrap();
    assert_eq!(after_first, events[1..3]);

    // Consumers: a position moves only from where it is.
    assert_eq!(store.event_position("scanner").await.unwrap(), 0);
    assert!(
        store
            .advance_event_position("scanner", 0, events[1].id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance_event_position("scanner", 0, events[2].id)
            .await
            .unwrap(),
        "a second node starting from 0 finds the events taken"
    );
    assert!(
        store
            .advance_event_position("scanner", events[1].id, events[4].id)
            .await
            .unwrap()
    );
    assert_eq!(store.event_position("scanner").await.unwrap(), events[4].id);
    assert_eq!(store.event_position("webhooks").await.unwrap(), 0);

    // Leases: one holder at a time, renewable, taken over once expired, released.
    assert!(store.claim_job("sweep", "node-a", 60_000).await.unwrap());
    assert!(!store.claim_job("sweep", "node-b", 60_000).await.unwrap());
    assert!(
        store.claim_job("sweep", "node-a", 60_000).await.unwrap(),
        "renewed"
    );
    assert!(
        store.claim_job("gc", "node-b", 60_000).await.unwrap(),
        "jobs are separate"
    );
    // A lease that has run out (node-a died): node-b takes the job over.
    assert!(store.claim_job("sweep", "node-a", -1).await.unwrap());
    assert!(store.claim_job("sweep", "node-b", 60_000).await.unwrap());
    assert!(!store.claim_job("sweep", "node-a", 60_000).await.unwrap());
    store.release_job("sweep", "node-a").await.unwrap();
    assert!(
        !store.claim_job("sweep", "node-a", 60_000).await.unwrap(),
        "not a's to release"
    );
    store.release_job("sweep", "node-b").await.unwrap();
    assert!(store.claim_job("sweep", "node-a", 60_000).await.unwrap());
}

#[tokio::test]
async fn sqlite() {
    suite(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres() {
    suite(Backend::Postgres).await;
}
