//! Content-addressed blob storage on [`object_store`]: the local filesystem by default, any
//! S3-compatible store by configuration.
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
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bulwark_oci::{Digest, DigestAlgorithm, DigestHasher};
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
#[derive(Debug)]
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

    /// Takes the right to change `session`'s staged bytes; fails with
    /// [`BlobStoreError::SessionBusy`] while another request holds it.
    pub async fn lock_session(&self, session: &str) -> Result<SessionLock> {
        check_session_id(session)?;
        let Some(root) = &self.local_root else {
            return Ok(SessionLock {
                session: session.to_owned(),
                file: None,
            });
        };
        let path = root.join("uploads").join(session).join(LOCK_FILE);
        let owned = session.to_owned();
        spawn_blocking(move || {
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder)?;
            }
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            match file.try_lock() {
                Ok(()) => Ok(SessionLock {
                    session: owned,
                    file: Some(Arc::new(file)),
                }),
                Err(std::fs::TryLockError::WouldBlock) => Err(BlobStoreError::SessionBusy(owned)),
                Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
            }
        })
        .await?
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
        let name = match self.local_root {
            Some(_) => SESSION_FILE.to_owned(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let mut pipeline = Pipeline::new(
            staged.sha256.clone(),
            self.part_sink(lock, &name, staged.size).await?,
        );
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

    /// Where a chunk of `session` starting at `offset` is written: the session's file on
    /// the local filesystem (see [`local`]), a new multipart upload elsewhere.
    async fn part_sink(&self, lock: &SessionLock, name: &str, offset: u64) -> Result<Sink> {
        let session = &lock.session;
        match &self.local_root {
            Some(root) => {
                let path = root.join("uploads").join(session).join(name);
                Sink::local(path, offset, self.direct_io, lock.file.clone()).await
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
        let session = &lock.session;
        let target = blob_path(expected);
        if let Some(root) = &self.local_root {
            return self
                .commit_local(root, session, staged, expected, &target)
                .await;
        }
        if let Some(size) = self.committed(expected, staged.size).await? {
            return Ok(size);
        }
        if staged.parts.is_empty() {
            check_digest(expected, DigestHasher::new(expected.algorithm()).finish())?;
            let created = self
                .objects
                .put_opts(
                    &target,
                    Bytes::new().into(),
                    object_store::PutMode::Create.into(),
                )
                .await;
            return match created {
                Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(0),
                Err(e) => Err(e.into()),
            };
        }
        if expected.algorithm() == DigestAlgorithm::Sha256 {
            // Known before a byte is copied, from the state saved while staging.
            check_digest(expected, staged.sha256.digest_so_far())?;
        }
        fault("blobstore::commit::before_place")?;
        let size = self
            .assemble(session, &staged.parts, expected, &target)
            .await?;
        fault("blobstore::commit::after_place")?;
        Ok(size)
    }

    /// The size of blob `expected` when it is stored already; an error when what is stored
    /// under that digest has another size than the staged bytes that claim it.
    async fn committed(&self, expected: &Digest, size: u64) -> Result<Option<u64>> {
        match self.blob_size(expected).await? {
            None => Ok(None),
            Some(stored) if stored == size => Ok(Some(stored)),
            Some(stored) => Err(BlobStoreError::Inconsistent(format!(
                "blob {expected} is stored with {stored} bytes; an upload of {size} bytes claims its digest"
            ))),
        }
    }

    /// A local session's file holds its chunks in order: it is verified (from the hash
    /// state for sha256, by reading it for another algorithm), cut to the recorded size,
    /// and renamed into place, only if nothing is there yet.
    async fn commit_local(
        &self,
        root: &FsPath,
        session: &str,
        staged: &StagedUpload,
        expected: &Digest,
        target: &Path,
    ) -> Result<u64> {
        let file_path = root.join("uploads").join(session).join(SESSION_FILE);
        let size = staged.size;
        if size == 0 && !tokio::fs::try_exists(&file_path).await? {
            // Nothing was ever staged: the empty blob.
            tokio::fs::write(&file_path, b"").await?;
        }
        // Bytes past the recorded size are what a chunk cut off by a crash left.
        let held = cut_session_file(file_path.clone(), size).await?;
        if held.is_none_or(|held| held < size) {
            // Gone: an earlier attempt of this commit may have renamed it into place already.
            if let Some(size) = self.committed(expected, size).await? {
                return Ok(size);
            }
            return Err(match held {
                None => BlobStoreError::PartMissing(SESSION_FILE.to_owned()),
                Some(held) => BlobStoreError::StagedShort {
                    recorded: size,
                    held,
                },
            });
        }
        let actual = if expected.algorithm() == staged.sha256.algorithm() {
            staged.sha256.digest_so_far()
        } else {
            let file = tokio::fs::File::open(&file_path).await?.into_std().await;
            let mut stream = read_file_ahead(file, 0..size);
            let mut hasher = DigestHasher::new(expected.algorithm());
            while let Some(chunk) = stream.try_next().await? {
                hasher.update(&chunk);
            }
            hasher.finish()
        };
        check_digest(expected, actual)?;
        fault("blobstore::commit::before_place")?;
        let final_path = root.join(target.as_ref());
        let placed = spawn_blocking(move || rename_if_absent(&file_path, &final_path)).await??;
        if !placed {
            // Stored already: content-addressed bytes are never replaced, so that blob
            // stands and this copy goes.
            let size = self.committed(expected, size).await?.ok_or_else(|| {
                BlobStoreError::Inconsistent(format!("blob {expected} vanished during a commit"))
            })?;
            let leftover = root.join("uploads").join(session).join(SESSION_FILE);
            if let Err(error) = tokio::fs::remove_file(leftover).await {
                // The session's removal, or the sweep, takes it later.
                tracing::warn!(%session, %error, "removing a redundant staged copy failed");
            }
            return Ok(size);
        }
        self.sync_directories(target).await?;
        fault("blobstore::commit::after_place")?;
        Ok(size)
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

    /// An object store's parts are read once, in order, into the blob's own key while
    /// hashing, and the write is completed only if they verify: until then the key does not
    /// exist, so there is no rename (S3's copy is neither atomic nor possible above 5 GiB in
    /// one request). Two nodes completing the same digest at once both write the same
    /// verified bytes.
    async fn assemble(
        &self,
        session: &str,
        parts: &[StagedPart],
        expected: &Digest,
        target: &Path,
    ) -> Result<u64> {
        let mut pipeline = Pipeline::new(
            DigestHasher::new(expected.algorithm()),
            Sink::Store(PartWriter::new(self.objects.put_multipart(target).await?)),
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
        pipeline
            .conclude_if(copied, |hasher| check_digest(expected, hasher.finish()))
            .await?;
        Ok(size)
    }

    /// Gives up a chunk staged at `offset` that will not be recorded: a local session's
    /// file is cut back to `offset`, an object-store part is deleted.
    pub async fn discard_part(
        &self,
        lock: &SessionLock,
        offset: u64,
        part: &StagedPart,
    ) -> Result<()> {
        let Some(root) = &self.local_root else {
            return self
                .delete_object(&part_path(&lock.session, &part.name))
                .await;
        };
        let path = root.join("uploads").join(&lock.session).join(SESSION_FILE);
        cut_session_file(path, offset).await?;
        Ok(())
    }

    async fn delete_object(&self, path: &Path) -> Result<()> {
        match self.objects.delete(path).await {
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

/// Cuts a local session's file at `len` (durably) if it is longer; returns its length
/// before, `None` when there is no file.
async fn cut_session_file(path: PathBuf, len: u64) -> Result<Option<u64>> {
    let held = spawn_blocking(move || {
        let file = match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let held = file.metadata()?.len();
        if held > len {
            file.set_len(len)?;
            file.sync_data()?;
        }
        Ok(Some(held))
    })
    .await??;
    Ok(held)
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

/// Renames `from` to `to` unless `to` exists (making `to`'s folder if needed); `false` when
/// it did, `from` then left where it is. Atomic: `renameat2(RENAME_NOREPLACE)`, or on
/// filesystems without it a hard link (which fails on an existing name) and an unlink.
fn rename_if_absent(from: &FsPath, to: &FsPath) -> std::io::Result<bool> {
    if let Some(folder) = to.parent() {
        std::fs::create_dir_all(folder)?;
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(true),
            Err(rustix::io::Errno::EXIST) => return Ok(false),
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {}
            Err(e) => return Err(e.into()),
        }
    }
    match std::fs::hard_link(from, to) {
        Ok(()) => {
            std::fs::remove_file(from)?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
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
