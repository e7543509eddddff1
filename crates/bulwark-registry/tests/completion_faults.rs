//! Fault injection at every step of an upload's completion, on every blob store and both
//! metadata back ends: whichever step fails (as if the request were cancelled or the process
//! stopped there, with none of the clean-up after it), a retried completion answers with the
//! blob or, once the session is gone, `BLOB_UPLOAD_UNKNOWN`, and the blob serves exactly the
//! bytes that were pushed, in every repository that holds it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulwark_blobstore::{BlobStore, BlobStoreError};
use bulwark_metadata::MetadataStore;
use bulwark_oci::{Digest, RepositoryName};
use bulwark_registry::{Registry, RegistryError, RegistryLimits};
use bulwark_test_support::{Backend, TestDatabase};
use bytes::Bytes;
use futures::{Stream, TryStreamExt};

use bulwark_registry::COMPLETION_FAULT_POINTS as STEPS;

fn body(bytes: &[u8]) -> impl Stream<Item = std::io::Result<Bytes>> + Send + use<> {
    futures::stream::iter([Ok(Bytes::copy_from_slice(bytes))])
}

fn empty() -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    futures::stream::iter(Vec::<std::io::Result<Bytes>>::new())
}

fn content(seed: u8) -> Vec<u8> {
    (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
        .collect()
}

async fn read(registry: &Registry, repository: &RepositoryName, digest: &Digest) -> Vec<u8> {
    let blob = registry.read_blob(repository, digest, None).await.unwrap();
    let chunks: Vec<Bytes> = blob.stream.try_collect().await.unwrap();
    chunks.concat()
}

async fn every_step_on(backend: Backend, blobs: impl Fn() -> BlobStore) {
    let scenario = fail::FailScenario::setup();
    let db = TestDatabase::new(backend).await;
    let metadata = MetadataStore::connect(db.url(), 4).await.unwrap();
    let cases = STEPS
        .into_iter()
        .flat_map(|step| [(step, false), (step, true)]);
    for (case, (step, shared)) in cases.enumerate() {
        // A project and a blob store of its own for each case.
        let project = format!("proj{case}");
        metadata.create_project(&project, false).await.unwrap();
        let registry = Registry::new(blobs(), metadata.clone(), RegistryLimits::default());
        let app: RepositoryName = format!("{project}/app").parse().unwrap();
        let other: RepositoryName = format!("{project}/other").parse().unwrap();

        // With `shared`, the same bytes are committed in another repository already: a
        // broken retry would corrupt them there too. The store then holds them, so the
        // commit has nothing to place and never reaches its placement steps.
        let bytes = content(step.len() as u8);
        let digest = Digest::sha256_of(&bytes);
        let repositories = if shared {
            registry
                .put_blob(&other, &digest, None, body(&bytes))
                .await
                .unwrap();
            vec![&app, &other]
        } else {
            vec![&app]
        };
        let placing = step.starts_with("blobstore::commit::");

        // A chunked upload, completed by an empty PUT that fails at `step`.
        let session = registry.start_upload(&app).await.unwrap().session;
        registry
            .append(&app, &session, Some(0), None, body(&bytes))
            .await
            .unwrap();
        fail::cfg(step, "return").unwrap();
        let failed = registry
            .complete(&app, &session, &digest, None, Some(0), empty())
            .await;
        fail::remove(step);
        let reached = match &failed {
            Err(
                RegistryError::Injected(point)
                | RegistryError::Blobs(BlobStoreError::Injected(point)),
            ) if *point == step => true,
            // A store that finds the bytes in place already has nothing to place.
            Ok(8192) if shared && placing => false,
            _ => panic!("{step}: {failed:?}"),
        };
        if reached {
            // The client retries, as registry clients do after an error or a timeout.
            let retried = registry
                .complete(&app, &session, &digest, None, Some(0), empty())
                .await;
            match (step, retried) {
                (
                    "registry::complete::after_session_delete",
                    Err(RegistryError::BlobUploadUnknown),
                ) => {}
                (_, Ok(size)) => assert_eq!(size, 8192, "{step}"),
                (_, answer) => panic!("{step}: the retry answered {answer:?}"),
            }
        }
        // A second retry after success finds the session gone.
        assert!(matches!(
            registry
                .complete(&app, &session, &digest, None, Some(0), empty())
                .await,
            Err(RegistryError::BlobUploadUnknown)
        ));
        for repository in repositories {
            assert!(
                read(&registry, repository, &digest).await == bytes,
                "{step}: {repository} serves other bytes than were pushed"
            );
        }
    }
    scenario.teardown();
}

fn local(direct_io: bool) -> impl Fn() -> BlobStore {
    let dir = tempfile::tempdir().unwrap().keep();
    let n = std::sync::atomic::AtomicUsize::new(0);
    move || {
        let root = dir.join(
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .to_string(),
        );
        BlobStore::open_local(&root, direct_io).unwrap()
    }
}

#[tokio::test]
async fn every_step_local_direct_sqlite() {
    every_step_on(Backend::Sqlite, local(true)).await;
}

#[tokio::test]
async fn every_step_local_buffered_sqlite() {
    every_step_on(Backend::Sqlite, local(false)).await;
}

#[tokio::test]
async fn every_step_object_store_sqlite() {
    every_step_on(Backend::Sqlite, BlobStore::in_memory).await;
}

#[tokio::test]
async fn every_step_local_postgres() {
    every_step_on(Backend::Postgres, local(true)).await;
}

#[tokio::test]
async fn every_step_object_store_postgres() {
    every_step_on(Backend::Postgres, BlobStore::in_memory).await;
}
