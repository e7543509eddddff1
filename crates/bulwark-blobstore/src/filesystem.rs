//! The local filesystem back end: a session's chunks go into one file, `uploads/<id>/data`,
//! written at their offsets (with direct I/O, see [`crate::local`]), and a commit renames that
//! file into `blobs/` only if nothing is there yet. Reads go through object_store's local
//! store, in large reads of our own.

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bulwark_oci::{Digest, DigestHasher};
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use tokio::task::spawn_blocking;

use crate::backend::BlobBackend;
use crate::pipeline::Sink;
use crate::{
    BlobStoreError, BlobStream, LOCK_FILE, Result, SESSION_FILE, SessionLock, StagedPart,
    StagedUpload, blob_path, check_digest, committed_size, fault, read_file_ahead, read_object,
};

#[derive(Debug)]
pub(crate) struct FilesystemBackend {
    /// Reads and heads; object_store hides its own half-written staging files (`name#n`)
    /// from listings, so what this back end stages it handles by path itself.
    objects: LocalFileSystem,
    root: PathBuf,
    /// Parts are written with direct I/O (see [`crate::local`]).
    direct_io: bool,
}

impl FilesystemBackend {
    /// Blobs under `root` (created if missing).
    pub(crate) fn open(root: &FsPath, direct_io: bool) -> Result<Self> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        Ok(FilesystemBackend {
            objects: LocalFileSystem::new_with_prefix(&root)?,
            root,
            direct_io,
        })
    }

    fn session_dir(&self, session: &str) -> PathBuf {
        self.root.join("uploads").join(session)
    }

    /// Makes a blob's directory entry durable: its folder and those above it, up to the
    /// store's root. The bytes were synced when staged.
    async fn sync_directories(&self, digest: &Digest) -> Result<()> {
        let root = self.root.clone();
        let file = root.join(blob_path(digest).as_ref());
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
}

#[async_trait::async_trait]
impl BlobBackend for FilesystemBackend {
    async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        committed_size(&self.objects, digest).await
    }

    async fn read(&self, digest: &Digest, range: Option<Range<u64>>) -> Result<Option<BlobStream>> {
        read_object(&self.objects, &blob_path(digest), range).await
    }

    /// An advisory lock (`flock`) on the session's `lock` file, which the kernel also
    /// releases when a process dies.
    async fn lock_session(&self, session: &str) -> Result<SessionLock> {
        let path = self.session_dir(session).join(LOCK_FILE);
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

    async fn open_part(&self, lock: &SessionLock, staged: &StagedUpload) -> Result<(String, Sink)> {
        let path = self.session_dir(&lock.session).join(SESSION_FILE);
        let sink = Sink::local(path, staged.size, self.direct_io, lock.file.clone()).await?;
        Ok((SESSION_FILE.to_owned(), sink))
    }

    /// The session's file holds its chunks in order: it is verified (from the hash state
    /// for sha256, by reading it for another algorithm), cut to the recorded size, and
    /// renamed into place, only if nothing is there yet.
    async fn commit(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        expected: &Digest,
    ) -> Result<u64> {
        self.settle(lock, staged, expected, true).await
    }

    async fn place(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        expected: &Digest,
    ) -> Result<u64> {
        self.settle(lock, staged, expected, false).await
    }

    async fn read_staged_start(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        len: u64,
    ) -> Result<bytes::Bytes> {
        let path = self.session_dir(&lock.session).join(SESSION_FILE);
        let held = match tokio::fs::metadata(&path).await {
            Ok(meta) => meta.len(),
            // Committed (renamed away) or lost: the session's record is ahead of its data.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobStoreError::StagedShort {
                    recorded: staged.size,
                    held: 0,
                });
            }
            Err(e) => return Err(e.into()),
        };
        self.read_staged(lock, staged, 0..len.min(held)).await
    }

    async fn read_staged(
        &self,
        lock: &SessionLock,
        _staged: &StagedUpload,
        range: Range<u64>,
    ) -> Result<bytes::Bytes> {
        let path = self.session_dir(&lock.session).join(SESSION_FILE);
        let file = tokio::fs::File::open(&path).await?.into_std().await;
        let mut stream = read_file_ahead(file, range.clone());
        let mut bytes = bytes::BytesMut::with_capacity(
            usize::try_from(range.end.saturating_sub(range.start)).unwrap_or(0),
        );
        while let Some(chunk) = stream.try_next().await? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes.freeze())
    }

    /// Written to a temporary name, synced and renamed over the old one: a crash leaves the
    /// old file or the new one, never half of it.
    async fn put_side(&self, lock: &SessionLock, name: &str, bytes: bytes::Bytes) -> Result<()> {
        let folder = self.session_dir(&lock.session);
        let (path, temporary) = (folder.join(name), folder.join(format!("{name}.new")));
        spawn_blocking(move || {
            std::fs::create_dir_all(&folder)?;
            std::fs::write(&temporary, &bytes)?;
            std::fs::File::open(&temporary)?.sync_all()?;
            std::fs::rename(&temporary, &path)?;
            std::fs::File::open(&folder)?.sync_all()
        })
        .await??;
        Ok(())
    }

    async fn get_side(&self, lock: &SessionLock, name: &str) -> Result<Option<bytes::Bytes>> {
        match tokio::fs::read(self.session_dir(&lock.session).join(name)).await {
            Ok(bytes) => Ok(Some(bytes.into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    /// The session's file is cut back to `offset`.
    async fn discard_part(
        &self,
        lock: &SessionLock,
        offset: u64,
        _part: &StagedPart,
    ) -> Result<()> {
        let path = self.session_dir(&lock.session).join(SESSION_FILE);
        cut_session_file(path, offset).await?;
        Ok(())
    }

    async fn discard_upload(&self, session: &str) -> Result<()> {
        match tokio::fs::remove_dir_all(self.session_dir(session)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn staged_sessions(&self) -> Result<Vec<String>> {
        let mut sessions = Vec::new();
        let mut entries = match tokio::fs::read_dir(self.root.join("uploads")).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(sessions),
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = entries.next_entry().await? {
            if let Some(name) = entry.file_name().to_str() {
                sessions.push(name.to_owned());
            }
        }
        Ok(sessions)
    }

    #[cfg(test)]
    fn local_root(&self) -> Option<&FsPath> {
        Some(&self.root)
    }
}

impl FilesystemBackend {
    /// [`BlobBackend::commit`] when `verify`, else [`BlobBackend::place`].
    async fn settle(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        expected: &Digest,
        verify: bool,
    ) -> Result<u64> {
        let session = &lock.session;
        let file_path = self.session_dir(session).join(SESSION_FILE);
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
        if verify {
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
        }
        fault("blobstore::commit::before_place")?;
        let final_path = self.root.join(blob_path(expected).as_ref());
        let placed = spawn_blocking(move || rename_if_absent(&file_path, &final_path)).await??;
        if !placed {
            // Stored already: content-addressed bytes are never replaced, so that blob
            // stands and this copy goes.
            let size = self.committed(expected, size).await?.ok_or_else(|| {
                BlobStoreError::Inconsistent(format!("blob {expected} vanished during a commit"))
            })?;
            let leftover = self.session_dir(session).join(SESSION_FILE);
            if let Err(error) = tokio::fs::remove_file(leftover).await {
                // The session's removal, or the sweep, takes it later.
                tracing::warn!(%session, %error, "removing a redundant staged copy failed");
            }
            return Ok(size);
        }
        self.sync_directories(expected).await?;
        fault("blobstore::commit::after_place")?;
        Ok(size)
    }

    async fn committed(&self, expected: &Digest, size: u64) -> Result<Option<u64>> {
        crate::committed_with_size(self.blob_size(expected).await?, expected, size)
    }
}

/// Cuts a session's file at `len` (durably) if it is longer; returns its length before,
/// `None` when there is no file.
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
