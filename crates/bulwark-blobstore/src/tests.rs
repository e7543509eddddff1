//! One suite, run on every back end.

use super::*;
use crate::pipeline::BATCH;

fn body(chunks: &[&'static [u8]]) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    futures::stream::iter(
        chunks
            .iter()
            .map(|c| Ok(Bytes::from_static(c)))
            .collect::<Vec<_>>(),
    )
}

async fn read_all(store: &BlobStore, digest: &Digest, range: Option<Range<u64>>) -> Vec<u8> {
    let stream = store.read(digest, range).await.unwrap().unwrap();
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    chunks.concat()
}

#[test]
fn running_out_of_space_is_recognised_through_the_layers() {
    let enospc = || std::io::Error::from_raw_os_error(28);
    assert!(BlobStoreError::Io(enospc()).is_storage_full());
    assert!(BlobStoreError::Io(std::io::ErrorKind::QuotaExceeded.into()).is_storage_full());
    // object_store's local back end wraps the io::Error in its own error.
    let wrapped = object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(std::io::Error::other(enospc())),
    };
    assert!(BlobStoreError::ObjectStore(wrapped).is_storage_full());
    assert!(!BlobStoreError::Io(std::io::ErrorKind::NotFound.into()).is_storage_full());
    // A client's failing body is the client's problem, whatever it says.
    assert!(!BlobStoreError::Body(enospc()).is_storage_full());
}

const SESSION: &str = "0b6c5d3e-0000-4000-8000-000000000001";

async fn suite(store: BlobStore) {
    // Single part: committed by rename, readable whole and by range.
    let part = store
        .stage_part(SESSION, body(&[b"hello ", b"world"]), 1024)
        .await
        .unwrap();
    assert_eq!(part.size, 11);
    let digest = Digest::sha256_of(b"hello world");
    assert_eq!(part.sha256, digest);
    assert_eq!(store.blob_size(&digest).await.unwrap(), None);
    assert_eq!(
        store
            .commit(SESSION, std::slice::from_ref(&part), &digest)
            .await
            .unwrap(),
        11
    );
    assert_eq!(store.blob_size(&digest).await.unwrap(), Some(11));
    // The same commit again, as when the metadata write after it failed and the client
    // retries: the part is gone, the blob it became is there.
    assert_eq!(store.commit(SESSION, &[part], &digest).await.unwrap(), 11);
    assert_eq!(read_all(&store, &digest, None).await, b"hello world");
    assert_eq!(read_all(&store, &digest, Some(6..11)).await, b"world");
    store.discard_upload(SESSION).await.unwrap();

    // Several parts, sha512: assembled and verified.
    let a = store
        .stage_part(SESSION, body(&[b"abc"]), 1024)
        .await
        .unwrap();
    let b = store
        .stage_part(SESSION, body(&[b"def"]), 1024)
        .await
        .unwrap();
    let digest512 = Digest::compute(DigestAlgorithm::Sha512, b"abcdef");
    assert_eq!(
        store
            .commit(SESSION, &[a.clone(), b.clone()], &digest512)
            .await
            .unwrap(),
        6
    );
    assert_eq!(read_all(&store, &digest512, None).await, b"abcdef");

    // Wrong digest: nothing becomes visible.
    let wrong = Digest::sha256_of(b"something else");
    let err = store.commit(SESSION, &[a, b], &wrong).await.unwrap_err();
    assert!(matches!(err, BlobStoreError::DigestMismatch { .. }));
    assert_eq!(store.blob_size(&wrong).await.unwrap(), None);
    assert_eq!(
        store.staged_sessions().await.unwrap(),
        vec![SESSION.to_owned()]
    );
    store.discard_upload(SESSION).await.unwrap();
    assert!(store.staged_sessions().await.unwrap().is_empty());

    // Limits are enforced while streaming and leave nothing committed.
    let err = store
        .stage_part(SESSION, body(&[b"0123456789", b"0123456789"]), 15)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobStoreError::TooLarge { limit: 15 }));

    // The empty blob.
    let empty = Digest::sha256_of(b"");
    assert_eq!(store.commit(SESSION, &[], &empty).await.unwrap(), 0);
    assert_eq!(read_all(&store, &empty, None).await, b"");

    // Unsafe session names never reach the store.
    assert!(matches!(
        store.stage_part("../x", body(&[]), 1).await,
        Err(BlobStoreError::BadSessionId(_))
    ));
    assert!(store.read(&wrong, None).await.unwrap().is_none());
}

#[tokio::test]
async fn in_memory_store() {
    suite(BlobStore::in_memory()).await;
}

#[tokio::test]
async fn local_store() {
    let dir = tempfile::tempdir().unwrap();
    suite(BlobStore::open_local(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn local_discard_removes_half_written_parts() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path()).unwrap();
    // What a killed process leaves: a staging file object_store never lists.
    let session_dir = dir.path().join("uploads").join(SESSION);
    std::fs::create_dir_all(&session_dir).unwrap();
    std::fs::write(session_dir.join("part#1"), b"partial").unwrap();
    assert_eq!(
        store.staged_sessions().await.unwrap(),
        vec![SESSION.to_owned()]
    );
    store.discard_upload(SESSION).await.unwrap();
    assert!(!session_dir.exists());
}

/// Bodies that span several batches, in chunks that straddle batch and block boundaries, come
/// back byte for byte, with the right digest, as one part and assembled from several.
async fn large_bodies(store: BlobStore) {
    let content: Vec<u8> = (0..2 * BATCH as u64 + 4097)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    let content = Bytes::from(content);
    for (n, len) in [1, BATCH - 1, BATCH, BATCH + 1, content.len()]
        .into_iter()
        .enumerate()
    {
        for chunk_size in [65_537, BATCH + 3] {
            let session = format!("0b6c5d3e-0000-4000-8000-00000000{n:02}{}", chunk_size % 10);
            let whole = content.slice(..len);
            let chunks: Vec<std::io::Result<Bytes>> = (0..len)
                .step_by(chunk_size)
                .map(|at| Ok(whole.slice(at..(at + chunk_size).min(len))))
                .collect();
            let part = store
                .stage_part(&session, futures::stream::iter(chunks), u64::MAX)
                .await
                .unwrap();
            let digest = Digest::sha256_of(&whole);
            assert_eq!((part.size, &part.sha256), (len as u64, &digest));
            store.commit(&session, &[part], &digest).await.unwrap();
            assert!(
                read_all(&store, &digest, None).await == whole,
                "{len} in {chunk_size}"
            );

            // The same content in two parts, committed under sha512.
            let half = len / 2;
            let a = store
                .stage_part(
                    &session,
                    futures::stream::iter([Ok(whole.slice(..half))]),
                    u64::MAX,
                )
                .await
                .unwrap();
            let b = store
                .stage_part(
                    &session,
                    futures::stream::iter([Ok(whole.slice(half..))]),
                    u64::MAX,
                )
                .await
                .unwrap();
            let digest512 = Digest::compute(DigestAlgorithm::Sha512, &whole);
            assert_eq!(
                store.commit(&session, &[a, b], &digest512).await.unwrap(),
                len as u64
            );
            assert!(read_all(&store, &digest512, None).await == whole);
            store.discard_upload(&session).await.unwrap();
        }
    }
}

/// An object store may keep every part of an upload until it completes (the in-memory one
/// does): an upload far larger than the pipeline's buffers must still go through.
#[tokio::test]
async fn uploads_larger_than_the_buffers_reach_an_object_store() {
    let store = BlobStore::in_memory();
    let chunk = Bytes::from(
        (0..1024 * 1024u32)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<_>>(),
    );
    let chunks = 20 * BATCH / chunk.len();
    let body = futures::stream::iter((0..chunks).map(|_| Ok(chunk.clone())));
    let part = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        store.stage_part(SESSION, body, u64::MAX),
    )
    .await
    .expect("the upload stalled")
    .unwrap();
    let whole = chunk.repeat(chunks);
    let digest = Digest::sha256_of(&whole);
    assert_eq!((part.size, &part.sha256), (whole.len() as u64, &digest));
    store.commit(SESSION, &[part], &digest).await.unwrap();
    assert!(read_all(&store, &digest, None).await == whole);
}

#[tokio::test]
async fn large_bodies_in_memory() {
    large_bodies(BlobStore::in_memory()).await;
}

#[tokio::test]
async fn large_bodies_local_direct() {
    let dir = tempfile::tempdir().unwrap();
    large_bodies(BlobStore::open_local(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn large_bodies_local_buffered() {
    let dir = tempfile::tempdir().unwrap();
    large_bodies(
        BlobStore::open_local(dir.path())
            .unwrap()
            .with_direct_io(false),
    )
    .await;
}

/// A body that fails half-way leaves no part behind.
#[tokio::test]
async fn a_failed_body_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path()).unwrap();
    let chunks = vec![
        Ok(Bytes::from(vec![1u8; BATCH + 10])),
        Err(std::io::Error::other("client went away")),
    ];
    let err = store
        .stage_part(SESSION, futures::stream::iter(chunks), u64::MAX)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobStoreError::Body(_)));
    let session_dir = dir.path().join("uploads").join(SESSION);
    assert_eq!(std::fs::read_dir(&session_dir).unwrap().count(), 0);
}

/// Chunk sizes from tiny to large in a fixed pseudo-random order, straddling the batches
/// they are copied into; the content must come back exactly.
#[tokio::test]
async fn tiny_and_large_chunks_interleaved() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path()).unwrap();
    let mut state = 12_345u64;
    let mut chunks = Vec::new();
    let mut whole = Vec::new();
    while whole.len() < 3 * BATCH {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let len = match state >> 61 {
            0..=3 => (state >> 20) as usize % 100 + 1,
            4 | 5 => 60_000 + (state >> 20) as usize % 10_000,
            _ => 200_000 + (state >> 20) as usize % 300_000,
        };
        let chunk: Vec<u8> = (0..len).map(|i| (i as u64 ^ state) as u8).collect();
        whole.extend_from_slice(&chunk);
        chunks.push(Ok(Bytes::from(chunk)));
    }
    let part = store
        .stage_part(SESSION, futures::stream::iter(chunks), u64::MAX)
        .await
        .unwrap();
    let digest = Digest::sha256_of(&whole);
    assert_eq!((part.size, &part.sha256), (whole.len() as u64, &digest));
    store.commit(SESSION, &[part], &digest).await.unwrap();
    assert!(read_all(&store, &digest, None).await == whole);
}

/// Two completes of one multi-part session at once (a client's retry) each assemble their
/// own file: the blob that ends up in place is whole.
#[tokio::test]
async fn concurrent_commits_of_one_session_leave_a_whole_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path()).unwrap();
    let whole: Vec<u8> = (0..3 * BATCH as u64 + 7)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let (first, second) = whole.split_at(whole.len() / 3);
    let a = store
        .stage_part(
            SESSION,
            futures::stream::iter([Ok(Bytes::copy_from_slice(first))]),
            u64::MAX,
        )
        .await
        .unwrap();
    let b = store
        .stage_part(
            SESSION,
            futures::stream::iter([Ok(Bytes::copy_from_slice(second))]),
            u64::MAX,
        )
        .await
        .unwrap();
    let digest = Digest::compute(DigestAlgorithm::Sha512, &whole);
    let parts = [a, b];
    let (one, two) = tokio::join!(
        store.commit(SESSION, &parts, &digest),
        store.commit(SESSION, &parts, &digest)
    );
    assert_eq!(one.unwrap(), whole.len() as u64);
    assert_eq!(two.unwrap(), whole.len() as u64);
    assert!(read_all(&store, &digest, None).await == whole);
}
