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

fn body_of(bytes: &[u8]) -> impl Stream<Item = std::io::Result<Bytes>> + Send + use<> {
    futures::stream::iter([Ok(Bytes::copy_from_slice(bytes))])
}

async fn read_all(store: &BlobStore, digest: &Digest, range: Option<Range<u64>>) -> Vec<u8> {
    let stream = store.read(digest, range).await.unwrap().unwrap();
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    chunks.concat()
}

/// Stages `body` after what `staged` holds and records the result in it, as the registry
/// records it in the session's metadata.
async fn append<S>(
    store: &BlobStore,
    lock: &SessionLock,
    staged: &mut StagedUpload,
    body: S,
    max_len: u64,
) -> Result<()>
where
    S: Stream<Item = std::io::Result<Bytes>> + Send,
{
    let new = store.stage_part(lock, staged, body, max_len).await?;
    if new.part.size > 0 {
        staged.size += new.part.size;
        staged.sha256 = new.sha256;
        staged.parts.push(new.part);
    }
    Ok(())
}

/// The local session file's length, or `None` for object stores.
fn local_session_len(store: &BlobStore, session: &str) -> Option<u64> {
    let root = store.backend.local_root()?;
    let path = root.join("uploads").join(session).join(SESSION_FILE);
    Some(std::fs::metadata(path).map_or(0, |meta| meta.len()))
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
    // One chunk: committed by rename, readable whole and by range.
    let lock = store.lock_session(SESSION).await.unwrap();
    let mut staged = StagedUpload::empty();
    append(
        &store,
        &lock,
        &mut staged,
        body(&[b"hello ", b"world"]),
        1024,
    )
    .await
    .unwrap();
    assert_eq!(staged.size, 11);
    let digest = Digest::sha256_of(b"hello world");
    assert_eq!(staged.sha256.digest_so_far(), digest);
    assert_eq!(store.blob_size(&digest).await.unwrap(), None);
    assert_eq!(store.commit(&lock, &staged, &digest).await.unwrap(), 11);
    assert_eq!(store.blob_size(&digest).await.unwrap(), Some(11));
    // The same commit again, as when the metadata write after it failed and the client
    // retries: the staged bytes are gone, the blob they became is there.
    drop(lock);
    let lock = store.lock_session(SESSION).await.unwrap();
    assert_eq!(store.commit(&lock, &staged, &digest).await.unwrap(), 11);
    assert_eq!(read_all(&store, &digest, None).await, b"hello world");
    assert_eq!(read_all(&store, &digest, Some(6..11)).await, b"world");
    drop(lock);
    store.discard_upload(SESSION).await.unwrap();

    // Several chunks, each going on from the hash state before it.
    let lock = store.lock_session(SESSION).await.unwrap();
    let mut staged = StagedUpload::empty();
    for chunk in [&b"abc"[..], b"de", b"f"] {
        append(&store, &lock, &mut staged, body_of(chunk), 1024)
            .await
            .unwrap();
    }
    assert_eq!(staged.sha256.digest_so_far(), Digest::sha256_of(b"abcdef"));

    // Wrong digest: nothing becomes visible, the staged bytes stay.
    let wrong = Digest::sha256_of(b"something else");
    let err = store.commit(&lock, &staged, &wrong).await.unwrap_err();
    assert!(matches!(err, BlobStoreError::DigestMismatch { .. }));
    assert_eq!(store.blob_size(&wrong).await.unwrap(), None);
    assert_eq!(
        store.staged_sessions().await.unwrap(),
        vec![SESSION.to_owned()]
    );
    // Under sha512, verified by reading them.
    let digest512 = Digest::compute(DigestAlgorithm::Sha512, b"abcdef");
    assert_eq!(store.commit(&lock, &staged, &digest512).await.unwrap(), 6);
    assert_eq!(read_all(&store, &digest512, None).await, b"abcdef");
    drop(lock);
    store.discard_upload(SESSION).await.unwrap();
    assert!(store.staged_sessions().await.unwrap().is_empty());

    // Limits are enforced while streaming; the session keeps what it had.
    let lock = store.lock_session(SESSION).await.unwrap();
    let mut staged = StagedUpload::empty();
    append(&store, &lock, &mut staged, body_of(b"kept"), 15)
        .await
        .unwrap();
    let err = append(
        &store,
        &lock,
        &mut staged,
        body(&[b"0123456789", b"0123456789"]),
        15,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, BlobStoreError::TooLarge { limit: 15 }));
    assert_eq!(local_session_len(&store, SESSION).unwrap_or(4), 4);
    append(&store, &lock, &mut staged, body_of(b" too"), 15)
        .await
        .unwrap();
    let kept = Digest::sha256_of(b"kept too");
    assert_eq!(store.commit(&lock, &staged, &kept).await.unwrap(), 8);
    assert_eq!(read_all(&store, &kept, None).await, b"kept too");
    drop(lock);
    store.discard_upload(SESSION).await.unwrap();

    // The empty blob.
    let lock = store.lock_session(SESSION).await.unwrap();
    let empty = Digest::sha256_of(b"");
    assert_eq!(
        store
            .commit(&lock, &StagedUpload::empty(), &empty)
            .await
            .unwrap(),
        0
    );
    assert_eq!(read_all(&store, &empty, None).await, b"");

    // Unsafe session names never reach the store.
    assert!(matches!(
        store.lock_session("../x").await,
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
    suite(BlobStore::open_local(dir.path(), true).unwrap()).await;
}

/// All of a local session's chunks go into one file: a second request cannot take the
/// session while one holds it, and can once it is let go.
#[tokio::test]
async fn a_local_session_has_one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path(), true).unwrap();
    let held = store.lock_session(SESSION).await.unwrap();
    assert!(matches!(
        store.lock_session(SESSION).await,
        Err(BlobStoreError::SessionBusy(_))
    ));
    drop(held);
    store.lock_session(SESSION).await.unwrap();
}

#[tokio::test]
async fn local_discard_removes_half_written_parts() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path(), true).unwrap();
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
/// back byte for byte, with the right digest, in one request and in two that split the
/// content anywhere (mid-block too).
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
            let lock = store.lock_session(&session).await.unwrap();
            let mut staged = StagedUpload::empty();
            append(
                &store,
                &lock,
                &mut staged,
                futures::stream::iter(chunks),
                u64::MAX,
            )
            .await
            .unwrap();
            let digest = Digest::sha256_of(&whole);
            assert_eq!(staged.size, len as u64);
            store.commit(&lock, &staged, &digest).await.unwrap();
            assert!(
                read_all(&store, &digest, None).await == whole,
                "{len} in {chunk_size}"
            );
            drop(lock);
            store.discard_upload(&session).await.unwrap();

            // The same content in two requests, committed under sha256 and sha512.
            for algorithm in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512] {
                let lock = store.lock_session(&session).await.unwrap();
                let mut staged = StagedUpload::empty();
                let half = len / 2 + n;
                for piece in [whole.slice(..half.min(len)), whole.slice(half.min(len)..)] {
                    append(
                        &store,
                        &lock,
                        &mut staged,
                        futures::stream::iter([Ok(piece)]),
                        u64::MAX,
                    )
                    .await
                    .unwrap();
                }
                let digest = Digest::compute(algorithm, &whole);
                let size = store.commit(&lock, &staged, &digest).await.unwrap();
                assert_eq!(size, len as u64);
                assert!(
                    read_all(&store, &digest, None).await == whole,
                    "{half} of {len}"
                );
                drop(lock);
                store.discard_upload(&session).await.unwrap();
            }
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
    let lock = store.lock_session(SESSION).await.unwrap();
    let mut staged = StagedUpload::empty();
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        append(&store, &lock, &mut staged, body, u64::MAX),
    )
    .await
    .expect("the upload stalled")
    .unwrap();
    let whole = chunk.repeat(chunks);
    let digest = Digest::sha256_of(&whole);
    assert_eq!(staged.size, whole.len() as u64);
    store.commit(&lock, &staged, &digest).await.unwrap();
    assert!(read_all(&store, &digest, None).await == whole);
}

#[tokio::test]
async fn large_bodies_in_memory() {
    large_bodies(BlobStore::in_memory()).await;
}

#[tokio::test]
async fn large_bodies_local_direct() {
    let dir = tempfile::tempdir().unwrap();
    large_bodies(BlobStore::open_local(dir.path(), true).unwrap()).await;
}

#[tokio::test]
async fn large_bodies_local_buffered() {
    let dir = tempfile::tempdir().unwrap();
    large_bodies(BlobStore::open_local(dir.path(), false).unwrap()).await;
}

/// A body that fails half-way leaves nothing of itself, after a chunk or at the start;
/// the session goes on from what it had.
async fn failed_bodies(store: BlobStore) {
    let lock = store.lock_session(SESSION).await.unwrap();
    let mut staged = StagedUpload::empty();
    let first = vec![7u8; 5000];
    for before in [&[][..], &first[..]] {
        if !before.is_empty() {
            append(&store, &lock, &mut staged, body_of(before), u64::MAX)
                .await
                .unwrap();
        }
        let chunks = vec![
            Ok(Bytes::from(vec![1u8; BATCH + 10])),
            Err(std::io::Error::other("client went away")),
        ];
        let err = append(
            &store,
            &lock,
            &mut staged,
            futures::stream::iter(chunks),
            u64::MAX,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, BlobStoreError::Body(_)));
        assert_eq!(
            local_session_len(&store, SESSION).unwrap_or(staged.size),
            staged.size
        );
    }
    append(&store, &lock, &mut staged, body_of(b"end"), u64::MAX)
        .await
        .unwrap();
    let whole = [&first[..], b"end"].concat();
    let digest = Digest::sha256_of(&whole);
    assert_eq!(
        store.commit(&lock, &staged, &digest).await.unwrap(),
        whole.len() as u64
    );
    assert!(read_all(&store, &digest, None).await == whole);
}

#[tokio::test]
async fn failed_bodies_local() {
    let dir = tempfile::tempdir().unwrap();
    failed_bodies(BlobStore::open_local(dir.path(), true).unwrap()).await;
}

#[tokio::test]
async fn failed_bodies_in_memory() {
    failed_bodies(BlobStore::in_memory()).await;
}

/// Chunk sizes from tiny to large in a fixed pseudo-random order, straddling the batches
/// they are copied into; the content must come back exactly.
#[tokio::test]
async fn tiny_and_large_chunks_interleaved() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path(), true).unwrap();
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
    let lock = store.lock_session(SESSION).await.unwrap();
    let mut staged = StagedUpload::empty();
    append(
        &store,
        &lock,
        &mut staged,
        futures::stream::iter(chunks),
        u64::MAX,
    )
    .await
    .unwrap();
    let digest = Digest::sha256_of(&whole);
    assert_eq!(staged.size, whole.len() as u64);
    store.commit(&lock, &staged, &digest).await.unwrap();
    assert!(read_all(&store, &digest, None).await == whole);
}

/// Two completes of one multi-part object-store session at once (a client's retry; object
/// stores take no lock) each assemble an object of their own: the blob that ends up in
/// place is whole.
#[tokio::test]
async fn concurrent_commits_of_one_session_leave_a_whole_blob() {
    let store = BlobStore::in_memory();
    let whole: Vec<u8> = (0..3 * BATCH as u64 + 7)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let (first, second) = whole.split_at(whole.len() / 3);
    let lock = store.lock_session(SESSION).await.unwrap();
    let mut staged = StagedUpload::empty();
    for piece in [first, second] {
        append(&store, &lock, &mut staged, body_of(piece), u64::MAX)
            .await
            .unwrap();
    }
    let digest = Digest::compute(DigestAlgorithm::Sha512, &whole);
    let (one, two) = tokio::join!(
        store.commit(&lock, &staged, &digest),
        store.commit(&lock, &staged, &digest)
    );
    assert_eq!(one.unwrap(), whole.len() as u64);
    assert_eq!(two.unwrap(), whole.len() as u64);
    assert!(read_all(&store, &digest, None).await == whole);
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    // xorshift: enough to make every test's bytes distinct from zeros and from each other.
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The stores a commit's integrity is checked on.
fn every_store() -> Vec<(&'static str, BlobStore, Option<tempfile::TempDir>)> {
    let mut stores = vec![("memory", BlobStore::in_memory(), None)];
    for direct in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open_local(dir.path(), direct).unwrap();
        stores.push((
            if direct {
                "local direct"
            } else {
                "local buffered"
            },
            store,
            Some(dir),
        ));
    }
    stores
}

/// A completion retried after its commit got through (the rename done, the metadata write
/// after it lost: a timeout, a crash) arrives with an empty body at the recorded offset.
/// It must find the blob committed and leave it exactly as pushed: the old code re-created
/// an empty session file, extended it with zeros to the offset and renamed it over the blob.
#[tokio::test]
async fn a_retried_commit_leaves_the_committed_blob_as_pushed() {
    for (name, store, _dir) in every_store() {
        let content = random_bytes(8192, 7);
        let digest = Digest::sha256_of(&content);
        let lock = store.lock_session(SESSION).await.unwrap();
        let mut staged = StagedUpload::empty();
        append(&store, &lock, &mut staged, body_of(&content), u64::MAX)
            .await
            .unwrap();
        assert_eq!(store.commit(&lock, &staged, &digest).await.unwrap(), 8192);
        drop(lock);
        // The retry: a new request takes the lock, stages its (empty) last chunk, commits.
        let lock = store.lock_session(SESSION).await.unwrap();
        let mut retried = staged.clone();
        append(&store, &lock, &mut retried, body(&[]), u64::MAX)
            .await
            .unwrap();
        assert_eq!(
            store.commit(&lock, &retried, &digest).await.unwrap(),
            8192,
            "{name}"
        );
        assert!(read_all(&store, &digest, None).await == content, "{name}");
    }
}

/// A chunk for a session whose staged file is gone or shorter than its record is refused;
/// the file is never filled up with zeros to the recorded offset.
#[tokio::test]
async fn a_short_staged_file_is_an_error_not_zeros() {
    for direct in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open_local(dir.path(), direct).unwrap();
        let lock = store.lock_session(SESSION).await.unwrap();
        let mut staged = StagedUpload::empty();
        append(
            &store,
            &lock,
            &mut staged,
            body_of(&random_bytes(5000, 3)),
            u64::MAX,
        )
        .await
        .unwrap();
        let path = dir.path().join("uploads").join(SESSION).join(SESSION_FILE);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(100)
            .unwrap();
        let refused = store
            .stage_part(&lock, &staged, body_of(b"more"), u64::MAX)
            .await;
        assert!(
            matches!(
                refused,
                Err(BlobStoreError::StagedShort {
                    recorded: 5000,
                    held: 100
                })
            ),
            "{refused:?}"
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 100);
        let digest = Digest::sha256_of(&random_bytes(5000, 3));
        let commit = store.commit(&lock, &staged, &digest).await;
        assert!(
            matches!(commit, Err(BlobStoreError::StagedShort { .. })),
            "{commit:?}"
        );
        assert_eq!(store.blob_size(&digest).await.unwrap(), None);
    }
}

/// A commit whose digest is stored already keeps the stored blob, whatever the staged
/// file holds: content-addressed bytes are never replaced.
#[tokio::test]
async fn a_commit_never_replaces_a_stored_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path(), true).unwrap();
    let content = random_bytes(6000, 11);
    let digest = Digest::sha256_of(&content);
    let first = store.lock_session(SESSION).await.unwrap();
    let mut staged = StagedUpload::empty();
    append(&store, &first, &mut staged, body_of(&content), u64::MAX)
        .await
        .unwrap();
    store.commit(&first, &staged, &digest).await.unwrap();
    // A second session whose file was altered after its bytes were hashed: if its commit
    // replaced the blob, the blob would change.
    let other = "0b6c5d3e-0000-4000-8000-000000000002";
    let second = store.lock_session(other).await.unwrap();
    let mut again = StagedUpload::empty();
    append(&store, &second, &mut again, body_of(&content), u64::MAX)
        .await
        .unwrap();
    let path = dir.path().join("uploads").join(other).join(SESSION_FILE);
    std::fs::write(&path, vec![0u8; 6000]).unwrap();
    assert_eq!(store.commit(&second, &again, &digest).await.unwrap(), 6000);
    assert!(read_all(&store, &digest, None).await == content);
    assert!(!path.exists(), "the redundant copy is removed");
}

/// A request cancelled while its chunk's writes run on the blocking pool keeps the session
/// locked until they end, so no write of a dropped request lands after another request
/// took the lock. The write is held at a fault point, so the test does not rely on timing.
#[cfg(feature = "failpoints")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_chunk_keeps_the_lock_until_its_writes_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path(), true).unwrap();
    let scenario = fail::FailScenario::setup();
    fail::cfg("blobstore::part::write", "pause").unwrap();
    let (reached, reached_rx) = tokio::sync::oneshot::channel::<()>();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            let lock = store.lock_session(SESSION).await.unwrap();
            // One whole batch, then a body that never ends: the batch's write is on its
            // way once the stream is polled again.
            let mut reached = Some(reached);
            let first = futures::stream::iter([Ok(Bytes::from(vec![7u8; BATCH]))]);
            let hang = futures::stream::poll_fn(move |_| {
                if let Some(reached) = reached.take() {
                    reached.send(()).ok();
                }
                std::task::Poll::<Option<std::io::Result<Bytes>>>::Pending
            });
            let staged = StagedUpload::empty();
            store
                .stage_part(&lock, &staged, first.chain(hang), u64::MAX)
                .await
        })
    };
    reached_rx.await.unwrap();
    writer.abort();
    assert!(writer.await.unwrap_err().is_cancelled());
    assert!(matches!(
        store.lock_session(SESSION).await,
        Err(BlobStoreError::SessionBusy(_))
    ));
    fail::remove("blobstore::part::write");
    // The held write now ends and gives the lock back.
    let lock = loop {
        match store.lock_session(SESSION).await {
            Ok(lock) => break lock,
            Err(BlobStoreError::SessionBusy(_)) => tokio::task::yield_now().await,
            Err(e) => panic!("{e}"),
        }
    };
    drop(lock);
    scenario.teardown();
}

fn test_keys() -> Arc<dyn KeyEncryption> {
    Arc::new(KeyFile::parse(&KeyFile::generate().unwrap()).unwrap())
}

#[tokio::test]
async fn sealed_in_memory_store() {
    suite(BlobStore::in_memory().encrypted(test_keys(), false)).await;
    failed_bodies(BlobStore::in_memory().encrypted(test_keys(), false)).await;
}

#[tokio::test]
async fn sealed_large_bodies() {
    large_bodies(BlobStore::in_memory().encrypted(test_keys(), false)).await;
    for direct in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open_local(dir.path(), direct)
            .unwrap()
            .encrypted(test_keys(), false);
        large_bodies(store).await;
    }
}

/// Every file under `root`, with its bytes.
fn files_under(root: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                found.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    found
}

fn assert_no_plaintext(root: &std::path::Path, marker: &[u8]) {
    for (path, bytes) in files_under(root) {
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker),
            "{} holds plaintext",
            path.display()
        );
    }
}

async fn try_read(
    store: &BlobStore,
    digest: &Digest,
    range: Option<Range<u64>>,
) -> Result<Vec<u8>> {
    let stream = store.read(digest, range).await?.unwrap();
    let chunks: Vec<Bytes> = stream.try_collect().await?;
    Ok(chunks.concat())
}

#[tokio::test]
async fn sealed_blobs_hold_no_plaintext_and_refuse_any_alteration() {
    use crate::sealed::{SEGMENT, raw_offset};
    let dir = tempfile::tempdir().unwrap();
    let keys = test_keys();
    let store = BlobStore::open_local(dir.path(), true)
        .unwrap()
        .encrypted(keys.clone(), false);
    let marker = b"KNOWN-PLAINTEXT-".to_vec();
    let content: Vec<u8> = (0..200_000u32)
        .flat_map(|i| {
            if i % 64 == 0 {
                marker.clone()
            } else {
                vec![(i % 251) as u8]
            }
        })
        .collect();
    let digest = Digest::sha256_of(&content);
    // Chunks that end inside segments, and one that ends on a boundary.
    let lock = store.lock_session(SESSION).await.unwrap();
    let mut staged = StagedUpload::empty();
    let cuts = [
        0,
        1000,
        SEGMENT as usize * 2,
        SEGMENT as usize * 2 + 77,
        content.len(),
    ];
    for pair in cuts.windows(2) {
        append(
            &store,
            &lock,
            &mut staged,
            body_of(&content[pair[0]..pair[1]]),
            u64::MAX,
        )
        .await
        .unwrap();
        assert_no_plaintext(dir.path(), &marker);
    }
    store.commit(&lock, &staged, &digest).await.unwrap();
    drop(lock);
    store.discard_upload(SESSION).await.unwrap();
    assert_no_plaintext(dir.path(), &marker);
    assert_eq!(
        store.blob_size(&digest).await.unwrap(),
        Some(content.len() as u64)
    );
    assert!(read_all(&store, &digest, None).await == content);
    let len = content.len() as u64;
    for range in [
        0..1,
        65_530..65_541,
        131_072..131_073,
        len - 5..len,
        len..len,
        3..len,
    ] {
        assert!(
            read_all(&store, &digest, Some(range.clone())).await
                == content[range.start as usize..range.end as usize],
            "{range:?}"
        );
    }

    let file = dir.path().join(blob_path(&digest).as_ref());
    let pristine = std::fs::read(&file).unwrap();
    let segment = |bytes: &[u8], index: u64| {
        bytes[raw_offset(index) as usize..raw_offset(index + 1) as usize].to_vec()
    };
    let write = |bytes: &[u8]| {
        std::fs::write(&file, bytes).unwrap();
    };
    // One flipped byte in segment 1: reads touching it fail, reads of segment 0 alone do
    // not even read it.
    let mut flipped = pristine.clone();
    flipped[raw_offset(1) as usize + 100] ^= 1;
    write(&flipped);
    let error = try_read(&store, &digest, None).await.unwrap_err();
    assert!(
        error.to_string().contains("does not authenticate"),
        "{error}"
    );
    assert!(
        try_read(&store, &digest, Some(70_000..70_010))
            .await
            .is_err()
    );
    assert!(try_read(&store, &digest, Some(0..100)).await.unwrap() == content[..100]);
    // Two segments swapped.
    let mut swapped = pristine.clone();
    let (zero, one) = (segment(&pristine, 0), segment(&pristine, 1));
    swapped[raw_offset(0) as usize..raw_offset(1) as usize].copy_from_slice(&one);
    swapped[raw_offset(1) as usize..raw_offset(2) as usize].copy_from_slice(&zero);
    write(&swapped);
    assert!(try_read(&store, &digest, None).await.is_err());
    // Cut after whole segment 1, its length made to look like a blob's: the last segment
    // is missing.
    write(&pristine[..raw_offset(2) as usize + crate::sealed::OVERHEAD as usize]);
    assert!(try_read(&store, &digest, None).await.is_err());
    write(&pristine[..raw_offset(2) as usize]);
    assert!(store.blob_size(&digest).await.is_err());
    // A segment of another blob, sealed with the same key-encryption key.
    let other = vec![9u8; 3 * SEGMENT as usize];
    let other_digest = Digest::sha256_of(&other);
    let lock = store.lock_session(SESSION).await.unwrap();
    let mut staged = StagedUpload::empty();
    append(&store, &lock, &mut staged, body_of(&other), u64::MAX)
        .await
        .unwrap();
    store.commit(&lock, &staged, &other_digest).await.unwrap();
    let foreign = segment(
        &std::fs::read(dir.path().join(blob_path(&other_digest).as_ref())).unwrap(),
        0,
    );
    let mut transplanted = pristine.clone();
    transplanted[raw_offset(0) as usize..raw_offset(1) as usize].copy_from_slice(&foreign);
    write(&transplanted);
    assert!(try_read(&store, &digest, Some(0..10)).await.is_err());
    write(&pristine);
    assert!(read_all(&store, &digest, None).await == content);
    // A whole sealed blob copied under another blob's name: its last segment names the
    // digest it was sealed for, and even a range that does not reach it is refused.
    let other_file = dir.path().join(blob_path(&other_digest).as_ref());
    let other_pristine = std::fs::read(&other_file).unwrap();
    std::fs::write(&other_file, &pristine).unwrap();
    assert!(try_read(&store, &other_digest, Some(0..10)).await.is_err());
    assert!(try_read(&store, &other_digest, None).await.is_err());
    std::fs::write(&other_file, &other_pristine).unwrap();
    // The header's version changed: refused, never taken for a clear blob.
    let mut downgraded = pristine.clone();
    downgraded[8] = 7;
    write(&downgraded);
    assert!(try_read(&store, &digest, None).await.is_err());
    write(&pristine);

    // A blob stored before encryption was switched on: read as it is while plaintext
    // reads are allowed, refused after.
    let legacy = b"stored in the clear".to_vec();
    let legacy_digest = Digest::sha256_of(&legacy);
    let legacy_file = dir.path().join(blob_path(&legacy_digest).as_ref());
    std::fs::create_dir_all(legacy_file.parent().unwrap()).unwrap();
    std::fs::write(&legacy_file, &legacy).unwrap();
    let lenient = BlobStore::open_local(dir.path(), true)
        .unwrap()
        .encrypted(keys.clone(), true);
    assert_eq!(read_all(&lenient, &legacy_digest, None).await, legacy);
    // A clear blob is served whole only if it still hashes to its digest.
    std::fs::write(&legacy_file, b"stored in the clear, then changed").unwrap();
    assert!(try_read(&lenient, &legacy_digest, None).await.is_err());
    std::fs::write(&legacy_file, &legacy).unwrap();
    let error = try_read(&store, &legacy_digest, None).await.unwrap_err();
    assert!(error.to_string().contains("keys migrate"), "{error}");
    // And a sealed blob needs its key.
    let stranger = BlobStore::open_local(dir.path(), true)
        .unwrap()
        .encrypted(test_keys(), false);
    assert!(stranger.read(&digest, None).await.is_err());
}
