//! Content-addressed blob storage: the local filesystem by default, any [`object_store`]
//! (S3-compatible stores) by configuration, each behind one back-end trait ([`backend`]).
//!
//! Layout inside the store:
//! - `blobs/<algorithm>/<first two hex>/<hex>`: committed blobs, immutable, named by digest.
//! - `uploads/<session>/…`: what an upload session staged, never served. On the local
//!   filesystem one file, `data`, that every chunk is written into at its offset; in an
//!   object store one object per chunk (objects cannot be appended to), joined at commit.
//!
//! Every chunk goes on hashing from the sha256 state after the chunks before it, which the
//! caller keeps with the session: a blob is hashed once, as it arrives, however many
//! requests bring it, and a local commit is a rename whatever the number of chunks.
//!
//! Invariants this crate keeps: a blob becomes visible under its digest only through an atomic
//! rename (or atomic put) of bytes whose digest was verified on the way; nothing under
//! `uploads/` is ever read by a pull. This crate knows nothing of repositories, tags or
//! HTTP; the metadata store decides which blobs a repository may see.

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;

use bulwark_oci::{Digest, DigestAlgorithm, DigestHasher};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore};
use tokio::task::spawn_blocking;

use crate::backend::BlobBackend;
use crate::pipeline::Pipeline;

mod backend;
mod filesystem;
mod local;
mod objects;
mod pipeline;
mod sealed;

pub use sealed::{
    KeyEncryption, KeyFile, KeyId, Rewritten, WrappedKey, migrate_directory, rotate_directory,
};

/// Read buffer for serving local files; object_store's own local stream reads 8 KiB at a time,
/// which caps pulls far below disk speed.
const READ_CHUNK: usize = 1024 * 1024;
/// Reads of a pull in flight: the next chunk is read while one is sent.
const READ_AHEAD: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum BlobStoreError {
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    #[error("local storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("upload session id {0:?} is not a storage-safe identifier")]
    BadSessionId(String),
    #[error("the upload is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("reading the request body failed: {0}")]
    Body(std::io::Error),
    #[error("content digest {actual} does not match the expected {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("staged part {0} is missing")]
    PartMissing(String),
    #[error(
        "the session's staged file holds {held} bytes, fewer than the {recorded} its record says"
    )]
    StagedShort { recorded: u64, held: u64 },
    #[error("another request is writing to upload session {0}")]
    SessionBusy(String),
    #[error("storage is inconsistent: {0}")]
    Inconsistent(String),
    #[error("injected fault at {0}")]
    Injected(&'static str),
    #[error("a storage task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("range {start}-{end} is outside the blob of {size} bytes")]
    RangeNotSatisfiable { start: u64, end: u64, size: u64 },
    /// Encryption at rest: a stored blob that fails authentication, or a key problem.
    #[error("encrypted storage: {0}")]
    Sealed(String),
}

impl BlobStoreError {
    /// Whether the storage ran out of space or quota: not a fault of Bulwark's nor of the
    /// request, but something the operator must fix and the client may retry after.
    pub fn is_storage_full(&self) -> bool {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(error) = cause {
            if let Some(io) = error.downcast_ref::<std::io::Error>()
                && is_out_of_space(io)
            {
                return true;
            }
            cause = error.source();
        }
        false
    }
}

fn is_out_of_space(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{QuotaExceeded, StorageFull};
    matches!(error.kind(), StorageFull | QuotaExceeded)
        || error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<std::io::Error>())
            .is_some_and(is_out_of_space)
}

pub type Result<T, E = BlobStoreError> = std::result::Result<T, E>;

/// One staged chunk of an upload session, as recorded by the metadata store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedPart {
    /// Name of the object or file that holds the chunk, inside the session's folder.
    pub name: String,
    pub size: u64,
}

/// What an upload session has staged so far, as its metadata records it.
#[derive(Debug, Clone)]
pub struct StagedUpload {
    pub size: u64,
    /// The sha256 state after those `size` bytes.
    pub sha256: DigestHasher,
    pub parts: Vec<StagedPart>,
}

impl StagedUpload {
    /// A session with nothing staged yet.
    pub fn empty() -> Self {
        StagedUpload {
            size: 0,
            sha256: DigestHasher::new(DigestAlgorithm::Sha256),
            parts: Vec::new(),
        }
    }
}

/// A chunk just staged, with the session's sha256 state after it.
#[derive(Debug, Clone)]
pub struct NewPart {
    pub part: StagedPart,
    pub sha256: DigestHasher,
}

/// The right to change one upload session's staged bytes, held by a request from before it
/// reads the session's record until it has recorded what it staged, and released when
/// dropped. On the local filesystem every chunk goes into one file, so two requests must
/// never write it at once: this is an advisory lock (`flock`) on that file, which the
/// kernel also releases when a process dies. Object-store chunks are objects of their own,
/// and the metadata's compare-and-set on the session's size orders them.
///
/// The lock is a file of its own (`lock`), never the data file: a commit renames the data
/// file into `blobs/`, and a lock on it would go with it. Every write of a chunk holds a
/// share of the lock (it is reference-counted into the part writer), so a request that is
/// cancelled while its writes are still running on the blocking pool keeps the session
/// locked until they end: no write of a dropped request can land after another request
/// took the lock.
#[derive(Debug, Clone)]
pub struct SessionLock {
    session: String,
    file: Option<Arc<std::fs::File>>,
}

/// The file all of a local session's chunks go into.
const SESSION_FILE: &str = "data";
/// The file a local session's [`SessionLock`] is taken on.
const LOCK_FILE: &str = "lock";

/// A byte stream of (part of) a committed blob.
pub type BlobStream = BoxStream<'static, Result<Bytes>>;

/// The blob store: chunks are streamed and hashed here, in front of one back end
/// ([`backend::BlobBackend`]), which keeps the bytes and the commit rules.
#[derive(Clone, Debug)]
pub struct BlobStore {
    backend: Arc<dyn BlobBackend>,
}

fn blob_path(digest: &Digest) -> Path {
    let encoded = digest.encoded();
    Path::from(format!(
        "blobs/{}/{}/{}",
        digest.algorithm().as_str(),
        &encoded[..2],
        encoded
    ))
}

fn check_session_id(session: &str) -> Result<()> {
    let safe = !session.is_empty()
        && session.len() <= 64
        && session
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if safe {
        Ok(())
    } else {
        Err(BlobStoreError::BadSessionId(session.to_owned()))
    }
}

impl BlobStore {
    /// Blobs on the local filesystem under `root` (created if missing), staged with direct
    /// I/O (see [`local`]) unless `direct_io` is off.
    pub fn open_local(root: &FsPath, direct_io: bool) -> Result<Self> {
        Ok(BlobStore {
            backend: Arc::new(filesystem::FilesystemBackend::open(root, direct_io)?),
        })
    }

    /// Blobs in any object store.
    pub fn on_object_store(objects: Arc<dyn ObjectStore>) -> Self {
        BlobStore {
            backend: Arc::new(objects::ObjectBackend::new(objects)),
        }
    }

    /// This store with every blob stored from now on encrypted ([`sealed`]) under data keys
    /// that `keys` wraps; blobs stored before are still read while `plaintext_reads`.
    pub fn encrypted(self, keys: Arc<dyn KeyEncryption>, plaintext_reads: bool) -> Self {
        BlobStore {
            backend: Arc::new(sealed::SealedBackend::new(
                self.backend,
                keys,
                plaintext_reads,
            )),
        }
    }

    /// Blobs in memory, for tests.
    pub fn in_memory() -> Self {
        Self::on_object_store(Arc::new(InMemory::new()))
    }

    /// Size of a committed blob, or `None` when it is not stored.
    pub async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        self.backend.blob_size(digest).await
    }

    /// Streams a committed blob, whole or the byte `range` (end exclusive).
    /// `None` when the blob is not stored.
    pub async fn read(
        &self,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<Option<BlobStream>> {
        self.backend.read(digest, range).await
    }

    /// The text to store an upload's hash state as: sealed when blobs are encrypted (a
    /// state holds the last bytes that fill no whole block).
    pub fn save_state(&self, session: &str, hasher: &DigestHasher) -> Result<String> {
        self.backend.save_state(session, hasher)
    }

    /// The hash state [`BlobStore::save_state`] saved for `session`.
    pub fn resume_state(&self, session: &str, saved: &str) -> Result<DigestHasher> {
        self.backend.resume_state(session, saved)
    }

    /// Takes the right to change `session`'s staged bytes; fails with
    /// [`BlobStoreError::SessionBusy`] while another request holds it.
    pub async fn lock_session(&self, session: &str) -> Result<SessionLock> {
        check_session_id(session)?;
        self.backend.lock_session(session).await
    }

    /// Streams `body` into the session after what `staged` holds, going on with its hash,
    /// and refuses to store more than `max_len` bytes. Nothing is recorded anywhere; the
    /// caller records the returned part and state with the session, or else discards the
    /// part ([`BlobStore::discard_part`]).
    pub async fn stage_part<S>(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        body: S,
        max_len: u64,
    ) -> Result<NewPart>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send,
    {
        let session = &lock.session;
        let mut body = std::pin::pin!(body);
        // Nothing is opened until the first byte: an empty chunk (the usual completing `PUT`,
        // or its retry after the data was committed) must not touch the staged file.
        let first = loop {
            match body.next().await {
                None => {
                    return Ok(NewPart {
                        part: StagedPart {
                            name: String::new(),
                            size: 0,
                        },
                        sha256: staged.sha256.clone(),
                    });
                }
                Some(Err(e)) => return Err(BlobStoreError::Body(e)),
                Some(Ok(chunk)) if chunk.is_empty() => continue,
                Some(Ok(chunk)) => break chunk,
            }
        };
        if first.len() as u64 > max_len {
            return Err(BlobStoreError::TooLarge { limit: max_len });
        }
        let (name, sink) = self.backend.open_part(lock, staged).await?;
        let mut pipeline = Pipeline::new(staged.sha256.clone(), sink);
        let mut size: u64 = first.len() as u64;
        let outcome: Result<()> = async {
            pipeline.push(first).await?;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(BlobStoreError::Body)?;
                size += chunk.len() as u64;
                if size > max_len {
                    return Err(BlobStoreError::TooLarge { limit: max_len });
                }
                pipeline.push(chunk).await?;
            }
            Ok(())
        }
        .await;
        let part = StagedPart { name, size };
        match pipeline.conclude(outcome).await {
            Ok(sha256) => Ok(NewPart { part, sha256 }),
            Err(e) => {
                if let Err(discard_error) = self.discard_part(lock, staged.size, &part).await {
                    tracing::warn!(%session, error = %discard_error, "removing a failed part left data behind");
                }
                Err(e)
            }
        }
    }

    /// Verifies that what `staged` holds has digest `expected` and makes it the blob
    /// `expected` in one atomic step. On a mismatch nothing is committed and the staged
    /// bytes stay as they were. Returns the blob size.
    ///
    /// A committed blob is never replaced: when `expected` is stored already (an earlier
    /// attempt of this commit got that far, or another upload brought the same bytes), that
    /// blob stands and the staged copy is dropped.
    pub async fn commit(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        expected: &Digest,
    ) -> Result<u64> {
        self.backend.commit(lock, staged, expected).await
    }

    /// Gives up a chunk staged at `offset` that will not be recorded: a local session's
    /// file is cut back to `offset`, an object-store part is deleted.
    pub async fn discard_part(
        &self,
        lock: &SessionLock,
        offset: u64,
        part: &StagedPart,
    ) -> Result<()> {
        self.backend.discard_part(lock, offset, part).await
    }

    /// Removes everything staged for `session`, including half-written parts of a crashed
    /// process.
    pub async fn discard_upload(&self, session: &str) -> Result<()> {
        check_session_id(session)?;
        self.backend.discard_upload(session).await
    }

    /// Sessions that have anything staged, to find leftovers no metadata refers to.
    pub async fn staged_sessions(&self) -> Result<Vec<String>> {
        self.backend.staged_sessions().await
    }
}

/// The size of a committed blob in `objects`, `None` when absent.
async fn committed_size(objects: &dyn ObjectStore, digest: &Digest) -> Result<Option<u64>> {
    match objects.head(&blob_path(digest)).await {
        Ok(meta) => Ok(Some(meta.size)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `stored`, the size under digest `expected`, when present: an error when it differs from
/// the `size` of the staged bytes that claim that digest.
fn committed_with_size(stored: Option<u64>, expected: &Digest, size: u64) -> Result<Option<u64>> {
    match stored {
        None => Ok(None),
        Some(stored) if stored == size => Ok(Some(stored)),
        Some(stored) => Err(BlobStoreError::Inconsistent(format!(
            "blob {expected} is stored with {stored} bytes; an upload of {size} bytes claims its digest"
        ))),
    }
}

/// Streams a stored object, whole or a range of it, in large reads.
async fn read_object(
    objects: &dyn ObjectStore,
    path: &Path,
    range: Option<Range<u64>>,
) -> Result<Option<BlobStream>> {
    let options = GetOptions {
        range: range.map(GetRange::Bounded),
        ..GetOptions::default()
    };
    let result = match objects.get_opts(path, options).await {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let range = result.range.clone();
    let stream = match result.payload {
        GetResultPayload::File(file, _) => read_file_ahead(file, range),
        GetResultPayload::Stream(stream) => stream.map_err(BlobStoreError::ObjectStore).boxed(),
    };
    Ok(Some(stream))
}

/// A fault a test injects at a named step of a commit (the `failpoints` feature): the step
/// fails there, as if the process had stopped, with none of the clean-up after it.
#[cfg(feature = "failpoints")]
fn fault(point: &'static str) -> Result<()> {
    fail::fail_point!(point, |_| Err(BlobStoreError::Injected(point)));
    Ok(())
}

#[cfg(not(feature = "failpoints"))]
fn fault(_point: &'static str) -> Result<()> {
    Ok(())
}

fn check_digest(expected: &Digest, actual: Digest) -> Result<()> {
    if &actual == expected {
        Ok(())
    } else {
        Err(BlobStoreError::DigestMismatch {
            expected: expected.clone(),
            actual,
        })
    }
}

/// Streams `range` of a local file in [`READ_CHUNK`] pieces, each read straight into the
/// buffer that is sent, with the next read already running while one is being sent.
fn read_file_ahead(file: std::fs::File, range: Range<u64>) -> BlobStream {
    use std::os::unix::fs::FileExt;
    let file = Arc::new(file);
    let end = range.end;
    futures::stream::iter(range.step_by(READ_CHUNK))
        .map(move |offset| {
            let file = file.clone();
            async move {
                let len =
                    usize::try_from(end - offset).map_or(READ_CHUNK, |left| left.min(READ_CHUNK));
                spawn_blocking(move || {
                    let mut buffer = bytes::BytesMut::zeroed(len);
                    file.read_exact_at(&mut buffer, offset)?;
                    Ok(buffer.freeze())
                })
                .await?
            }
        })
        .buffered(READ_AHEAD)
        .boxed()
}

#[cfg(test)]
mod tests;
