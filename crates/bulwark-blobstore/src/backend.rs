//! The blob back-end seam: what a place that keeps blobs must do, and the rules every one
//! keeps. [`crate::BlobStore`] holds one `dyn BlobBackend`, streams and hashes chunks in front
//! of it, and never asks which kind it is; a layer that wraps another back end (metrics,
//! encryption at rest) implements this trait over the one it wraps, and so applies to every
//! kind alike.
//!
//! Rules every implementation keeps:
//! - A committed blob is never replaced: a commit that finds its digest stored already keeps
//!   what is there (after checking its size) and drops the staged copy.
//! - A blob becomes visible under its digest in one atomic step (rename-if-absent, or a
//!   put/multipart completion that happens only after the bytes verified), never half-written.
//! - A staged file or object shorter than the session's record is an error, never padded.
//! - Nothing staged is ever read by a pull.
//! - Side files ([`BlobBackend::put_side`]) live and die with their session and are never
//!   part of a blob.

use std::fmt::Debug;
use std::ops::Range;

use bulwark_oci::{Digest, DigestHasher};

use crate::pipeline::Sink;
use crate::{BlobStream, Result, SessionLock, StagedPart, StagedUpload};

#[async_trait::async_trait]
pub(crate) trait BlobBackend: Send + Sync + Debug {
    /// Size of a committed blob, or `None` when it is not stored.
    async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>>;

    /// Streams a committed blob, whole or the byte `range` (end exclusive); `None` when it
    /// is not stored.
    async fn read(&self, digest: &Digest, range: Option<Range<u64>>) -> Result<Option<BlobStream>>;

    /// The text an upload's hash state is stored as (in the database), for
    /// [`BlobBackend::resume_state`].
    fn save_state(&self, _session: &str, hasher: &DigestHasher) -> Result<String> {
        Ok(hasher.saved_state())
    }

    /// The hash state [`BlobBackend::save_state`] saved for `session`.
    fn resume_state(&self, _session: &str, saved: &str) -> Result<DigestHasher> {
        DigestHasher::resume(saved).map_err(|e| {
            crate::BlobStoreError::Inconsistent(format!("an upload's saved hash state: {e}"))
        })
    }

    /// Takes the right to change `session`'s staged bytes (see [`SessionLock`]); fails with
    /// [`crate::BlobStoreError::SessionBusy`] while another request holds it.
    async fn lock_session(&self, session: &str) -> Result<SessionLock>;

    /// Where the session's next chunk, after what `staged` holds (`staged.size` bytes), is
    /// written: the name it is recorded under and the sink that takes its bytes.
    async fn open_part(&self, lock: &SessionLock, staged: &StagedUpload) -> Result<(String, Sink)>;

    /// Verifies that what `staged` holds has digest `expected` and makes it that blob;
    /// returns the blob's size. On a mismatch nothing is committed and the staged bytes stay.
    async fn commit(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        expected: &Digest,
    ) -> Result<u64>;

    /// Makes what `staged` holds the blob `expected`, as [`BlobBackend::commit`] does but
    /// without checking its digest: for a layer over this one (encryption) that stores
    /// other bytes than the blob's and has checked them itself. Returns the stored size.
    async fn place(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        expected: &Digest,
    ) -> Result<u64>;

    /// The first `len` bytes the session has staged (fewer if it holds fewer).
    async fn read_staged_start(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        len: u64,
    ) -> Result<bytes::Bytes>;

    /// The staged bytes in `range` of the session's data, its parts taken in order.
    async fn read_staged(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        range: Range<u64>,
    ) -> Result<bytes::Bytes>;

    /// Keeps a small file of the session's beside its data, durably, replacing one of the
    /// same name; removed with the session.
    async fn put_side(&self, lock: &SessionLock, name: &str, bytes: bytes::Bytes) -> Result<()>;

    /// A side file [`BlobBackend::put_side`] kept; `None` when there is none.
    async fn get_side(&self, lock: &SessionLock, name: &str) -> Result<Option<bytes::Bytes>>;

    /// Gives up a chunk staged at `offset` that will not be recorded.
    async fn discard_part(&self, lock: &SessionLock, offset: u64, part: &StagedPart) -> Result<()>;

    /// Removes everything staged for `session`, half-written leftovers of a crash included.
    async fn discard_upload(&self, session: &str) -> Result<()>;

    /// Sessions that have anything staged, to find leftovers no metadata refers to.
    async fn staged_sessions(&self) -> Result<Vec<String>>;

    /// The folder a filesystem back end keeps its files in, for tests that look at them.
    #[cfg(test)]
    fn local_root(&self) -> Option<&std::path::Path> {
        None
    }
}
