//! The sweep of idle upload sessions leaves alone a session whose chunk is still arriving:
//! the request receiving it holds the session's lock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bulwark_blobstore::BlobStore;
use bulwark_metadata::MetadataStore;
use bulwark_oci::RepositoryName;
use bulwark_registry::{Registry, RegistryError, RegistryLimits};
use bulwark_test_support::{Backend, TestDatabase};

#[tokio::test]
async fn a_session_receiving_a_chunk_is_not_swept() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let metadata = MetadataStore::connect(db.url(), 4).await.unwrap();
    metadata.create_project("proj", false).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::open_local(dir.path(), true).unwrap();
    // Every session counts as idle at once.
    let limits = RegistryLimits {
        upload_ttl: Duration::ZERO,
        ..RegistryLimits::default()
    };
    let registry = Registry::new(blobs.clone(), metadata, limits);
    let repo: RepositoryName = "proj/app".parse().unwrap();
    let session = registry.start_upload(&repo).await.unwrap().session;
    // What a request receiving a long chunk holds.
    let receiving = blobs.lock_session(&session).await.unwrap();
    let report = registry.sweep_uploads().await.unwrap();
    assert_eq!(report.expired_sessions, 0);
    assert_eq!(
        registry
            .upload_status(&repo, &session)
            .await
            .unwrap()
            .offset,
        0
    );
    drop(receiving);
    let report = registry.sweep_uploads().await.unwrap();
    assert_eq!(report.expired_sessions, 1);
    assert!(matches!(
        registry.upload_status(&repo, &session).await,
        Err(RegistryError::BlobUploadUnknown)
    ));
}
