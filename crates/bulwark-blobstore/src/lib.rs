//! Content-addressed blob storage on [`object_store`]: the local filesystem by default, any
//! S3-compatible store by configuration.
//!
//! Layout inside the store:
//! - `blobs/<algorithm>/<first two hex>/<hex>`: committed blobs, immutable, named by digest.
//! - `uploads/<session>/<part>`: staged parts of an upload session, never served.
//!
//! Invariants this crate keeps: a blob becomes visible under its digest only through an atomic
//! rename (or atomic put) of bytes whose digest was verified on the way; nothing under
//! `uploads/` is ever read by a pull. This crate knows nothing of repositories, tags or
//! HTTP; the metadata store decides which blobs a repository may see.

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bulwark_oci::{Digest, DigestAlgorithm};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore};
use tokio::task::spawn_blocking;

use crate::pipeline::{PartWriter, Pipeline, Sink};

mod local;
mod pipeline;

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
    #[error("a storage task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("range {start}-{end} is outside the blob of {size} bytes")]
    RangeNotSatisfiable { start: u64, end: u64, size: u64 },
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

/// One staged piece of an upload session, as recorded by the metadata store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedPart {
    /// Object name of the part inside the session's folder.
    pub name: String,
    pub size: u64,
    /// sha256 of the part, computed while it streamed in; lets a single-part upload commit
    /// without reading its bytes again.
    pub sha256: Digest,
}

/// A byte stream of (part of) a committed blob.
pub type BlobStream = BoxStream<'static, Result<Bytes>>;

#[derive(Clone)]
pub struct BlobStore {
    objects: Arc<dyn ObjectStore>,
    /// Set for the local filesystem back end: object_store hides its own half-written staging
    /// files (`name#n`) from listings, so reclaiming a dead session's space needs the real path.
    local_root: Option<PathBuf>,
    /// Local parts are written with direct I/O (see [`local`]).
    direct_io: bool,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("objects", &self.objects.to_string())
            .finish()
    }
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

fn session_prefix(session: &str) -> Path {
    Path::from(format!("uploads/{session}"))
}

fn part_path(session: &str, part: &str) -> Path {
    Path::from(format!("uploads/{session}/{part}"))
}

impl BlobStore {
    /// Blobs on the local filesystem under `root` (created if missing).
    pub fn open_local(root: &FsPath) -> Result<Self> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        Ok(BlobStore {
            objects: Arc::new(LocalFileSystem::new_with_prefix(&root)?),
            local_root: Some(root),
            direct_io: true,
        })
    }

    /// Whether local upload parts bypass the page cache (the default; see [`local`]).
    pub fn with_direct_io(mut self, direct_io: bool) -> Self {
        self.direct_io = direct_io;
        self
    }

    /// Blobs in memory, for tests.
    pub fn in_memory() -> Self {
        BlobStore {
            objects: Arc::new(InMemory::new()),
            local_root: None,
            direct_io: false,
        }
    }

    /// Size of a committed blob, or `None` when it is not stored.
    pub async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        match self.objects.head(&blob_path(digest)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams a committed blob, whole or the byte `range` (end exclusive).
    /// `None` when the blob is not stored.
    pub async fn read(
        &self,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<Option<BlobStream>> {
        self.read_object(&blob_path(digest), range).await
    }

    /// Streams `body` into a new part of upload `session`, hashing it on the way, and refuses
    /// to store more than `max_len` bytes. Nothing is recorded anywhere but the part object;
    /// the caller records the returned [`StagedPart`] in the session's metadata.
    pub async fn stage_part<S>(&self, session: &str, body: S, max_len: u64) -> Result<StagedPart>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send,
    {
        check_session_id(session)?;
        let name = uuid::Uuid::new_v4().to_string();
        let mut pipeline = Pipeline::new(
            DigestAlgorithm::Sha256,
            self.part_sink(session, &name).await?,
        );
        let mut size: u64 = 0;
        let mut body = std::pin::pin!(body);
        let outcome: Result<()> = async {
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
        match pipeline.conclude(outcome).await {
            Ok(sha256) => Ok(StagedPart { name, size, sha256 }),
            Err(e) => {
                if let Err(discard_error) = self.discard_part(session, &name).await {
                    tracing::warn!(%session, error = %discard_error, "removing a failed part left data behind");
                }
                Err(e)
            }
        }
    }

    /// Where a new part of `session` is written: a file of our own on the local filesystem
    /// (see [`local`]), a multipart upload elsewhere.
    async fn part_sink(&self, session: &str, name: &str) -> Result<Sink> {
        match &self.local_root {
            Some(root) => {
                let path = root.join("uploads").join(session).join(name);
                Sink::local(path, self.direct_io).await
            }
            None => Ok(Sink::Store(PartWriter::new(
                self.objects
                    .put_multipart(&part_path(session, name))
                    .await?,
            ))),
        }
    }

    /// Streams a stored object, whole or a range of it, in large reads.
    async fn read_object(
        &self,
        path: &Path,
        range: Option<Range<u64>>,
    ) -> Result<Option<BlobStream>> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = match self.objects.get_opts(path, options).await {
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

    /// Verifies that the concatenated `parts` of `session` have digest `expected` and makes
    /// them the blob `expected` in one atomic step. On a mismatch nothing is committed and the
    /// parts stay as they were. Returns the blob size.
    pub async fn commit(
        &self,
        session: &str,
        parts: &[StagedPart],
        expected: &Digest,
    ) -> Result<u64> {
        check_session_id(session)?;
        let target = blob_path(expected);
        match parts {
            [] => {
                let actual = Digest::compute(expected.algorithm(), b"");
                if &actual != expected {
                    return Err(BlobStoreError::DigestMismatch {
                        expected: expected.clone(),
                        actual,
                    });
                }
                self.objects.put(&target, Bytes::new().into()).await?;
                self.sync_directories(&target).await?;
                Ok(0)
            }
            [only] if expected.algorithm() == DigestAlgorithm::Sha256 => {
                if &only.sha256 != expected {
                    return Err(BlobStoreError::DigestMismatch {
                        expected: expected.clone(),
                        actual: only.sha256.clone(),
                    });
                }
                let renamed = self
                    .objects
                    .rename(&part_path(session, &only.name), &target)
                    .await;
                if let Err(error) = renamed {
                    // An earlier attempt of this commit moved the part already and failed
                    // after it (its metadata write, say): the blob it became is in place.
                    let moved_before = matches!(error, object_store::Error::NotFound { .. })
                        && self.blob_size(expected).await? == Some(only.size);
                    if !moved_before {
                        return Err(error.into());
                    }
                }
                self.sync_directories(&target).await?;
                Ok(only.size)
            }
            _ => self.assemble(session, parts, expected, &target).await,
        }
    }

    /// Makes a local blob's directory entry durable: its folder and those above it, up to the
    /// store's root. The bytes were synced when staged.
    /// Other stores are durable when a put or copy returns.
    async fn sync_directories(&self, object: &Path) -> Result<()> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let root = root.clone();
        let file = root.join(object.as_ref());
        spawn_blocking(move || {
            // Every folder up to the root: the rename may have created the blob's folder, and
            // the first blob of an algorithm its parent too.
            for folder in file.ancestors().skip(1) {
                std::fs::File::open(folder)?.sync_all()?;
                if folder == root {
                    break;
                }
            }
            std::io::Result::Ok(())
        })
        .await??;
        Ok(())
    }

    /// Several parts (or a digest other than the one computed while staging): read the parts
    /// once, in order, into one object while hashing, and rename it into place if it verifies.
    async fn assemble(
        &self,
        session: &str,
        parts: &[StagedPart],
        expected: &Digest,
        target: &Path,
    ) -> Result<u64> {
        // A name of its own for each attempt: two completes of one session (a client's retry)
        // must never rename each other's half-written file over the blob.
        let assembled_name = format!("assembled-{}", uuid::Uuid::new_v4());
        let mut pipeline = Pipeline::new(
            expected.algorithm(),
            self.part_sink(session, &assembled_name).await?,
        );
        let mut size = 0u64;
        let copied: Result<()> = async {
            for part in parts {
                let mut stream = self
                    .read_object(&part_path(session, &part.name), None)
                    .await?
                    .ok_or_else(|| BlobStoreError::PartMissing(part.name.clone()))?;
                while let Some(chunk) = stream.try_next().await? {
                    size += chunk.len() as u64;
                    pipeline.push(chunk).await?;
                }
            }
            Ok(())
        }
        .await;
        let actual = match pipeline.conclude(copied).await {
            Ok(actual) => actual,
            Err(e) => {
                self.discard_part(session, &assembled_name).await.ok();
                return Err(e);
            }
        };
        if &actual != expected {
            self.discard_part(session, &assembled_name).await?;
            return Err(BlobStoreError::DigestMismatch {
                expected: expected.clone(),
                actual,
            });
        }
        self.objects
            .rename(&part_path(session, &assembled_name), target)
            .await?;
        self.sync_directories(target).await?;
        Ok(size)
    }

    /// Removes one staged part that will not be recorded.
    pub async fn discard_part(&self, session: &str, part: &str) -> Result<()> {
        check_session_id(session)?;
        match self.objects.delete(&part_path(session, part)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes everything staged for `session`, including half-written parts of a crashed
    /// process.
    pub async fn discard_upload(&self, session: &str) -> Result<()> {
        check_session_id(session)?;
        if let Some(root) = &self.local_root {
            let dir = root.join("uploads").join(session);
            match tokio::fs::remove_dir_all(&dir).await {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        let prefix = session_prefix(session);
        let locations = self
            .objects
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        self.objects
            .delete_stream(locations)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }

    /// Sessions that have anything staged, to find leftovers no metadata refers to.
    pub async fn staged_sessions(&self) -> Result<Vec<String>> {
        if let Some(root) = &self.local_root {
            let mut sessions = Vec::new();
            let mut entries = match tokio::fs::read_dir(root.join("uploads")).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(sessions),
                Err(e) => return Err(e.into()),
            };
            while let Some(entry) = entries.next_entry().await? {
                if let Some(name) = entry.file_name().to_str() {
                    sessions.push(name.to_owned());
                }
            }
            return Ok(sessions);
        }
        let listing = self
            .objects
            .list_with_delimiter(Some(&Path::from("uploads")))
            .await?;
        Ok(listing
            .common_prefixes
            .iter()
            .filter_map(|prefix| prefix.filename().map(str::to_owned))
            .collect())
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
