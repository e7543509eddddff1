//! The object-store back end (S3-compatible stores, or memory for tests): objects cannot be
//! appended to, so each chunk is an object of its own under `uploads/<id>/`, and a commit
//! streams them, in order, into the blob's own key while hashing, completing that write only
//! if they verify. Until then the key does not exist, so there is no rename (S3's copy is
//! neither atomic nor possible above 5 GiB in one request). Two nodes completing the same
//! digest at once both write the same verified bytes.

use std::ops::Range;
use std::sync::Arc;

use bulwark_oci::{Digest, DigestAlgorithm, DigestHasher};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::Path;

use crate::backend::BlobBackend;
use crate::pipeline::{PartWriter, Pipeline, Sink};
use crate::{
    BlobStoreError, BlobStream, Result, SessionLock, StagedPart, StagedUpload, blob_path,
    check_digest, committed_size, committed_with_size, fault, read_object,
};

#[derive(Debug)]
pub(crate) struct ObjectBackend {
    objects: Arc<dyn ObjectStore>,
}

fn part_path(session: &str, part: &str) -> Path {
    Path::from(format!("uploads/{session}/{part}"))
}

impl ObjectBackend {
    pub(crate) fn new(objects: Arc<dyn ObjectStore>) -> Self {
        ObjectBackend { objects }
    }

    async fn delete_object(&self, path: &Path) -> Result<()> {
        match self.objects.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams the parts into the blob's key, completing it only if they hash to
    /// `expected` when `verify` (a layer above that stores other bytes checked them).
    async fn assemble(
        &self,
        session: &str,
        parts: &[StagedPart],
        expected: &Digest,
        verify: bool,
    ) -> Result<u64> {
        let target = blob_path(expected);
        let mut pipeline = Pipeline::new(
            DigestHasher::new(expected.algorithm()),
            Sink::Store(PartWriter::new(self.objects.put_multipart(&target).await?)),
        );
        let mut size = 0u64;
        let copied: Result<()> = async {
            for part in parts {
                let mut stream = read_object(&*self.objects, &part_path(session, &part.name), None)
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
            .conclude_if(copied, |hasher| {
                if verify {
                    check_digest(expected, hasher.finish())
                } else {
                    Ok(())
                }
            })
            .await?;
        Ok(size)
    }

    /// [`BlobBackend::commit`] when `verify`, else [`BlobBackend::place`].
    async fn settle(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        expected: &Digest,
        verify: bool,
    ) -> Result<u64> {
        if let Some(size) =
            committed_with_size(self.blob_size(expected).await?, expected, staged.size)?
        {
            return Ok(size);
        }
        if staged.parts.is_empty() {
            check_digest(expected, DigestHasher::new(expected.algorithm()).finish())?;
            let created = self
                .objects
                .put_opts(
                    &blob_path(expected),
                    Bytes::new().into(),
                    object_store::PutMode::Create.into(),
                )
                .await;
            return match created {
                Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(0),
                Err(e) => Err(e.into()),
            };
        }
        if verify && expected.algorithm() == DigestAlgorithm::Sha256 {
            // Known before a byte is copied, from the state saved while staging.
            check_digest(expected, staged.sha256.digest_so_far())?;
        }
        fault("blobstore::commit::before_place")?;
        let size = self
            .assemble(&lock.session, &staged.parts, expected, verify)
            .await?;
        fault("blobstore::commit::after_place")?;
        Ok(size)
    }
}

#[async_trait::async_trait]
impl BlobBackend for ObjectBackend {
    async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        committed_size(&*self.objects, digest).await
    }

    async fn read(&self, digest: &Digest, range: Option<Range<u64>>) -> Result<Option<BlobStream>> {
        read_object(&*self.objects, &blob_path(digest), range).await
    }

    /// Nothing to lock: every chunk is an object of its own, and the metadata's
    /// compare-and-set on the session's size orders them.
    async fn lock_session(&self, session: &str) -> Result<SessionLock> {
        Ok(SessionLock {
            session: session.to_owned(),
            file: None,
        })
    }

    async fn open_part(
        &self,
        lock: &SessionLock,
        _staged: &StagedUpload,
    ) -> Result<(String, Sink)> {
        let name = uuid::Uuid::new_v4().to_string();
        let upload = self
            .objects
            .put_multipart(&part_path(&lock.session, &name))
            .await?;
        Ok((name, Sink::Store(PartWriter::new(upload))))
    }

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
    ) -> Result<Bytes> {
        self.read_staged(lock, staged, 0..len).await
    }

    /// The parts are the session's data in order: the range is read from those it covers.
    async fn read_staged(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        range: Range<u64>,
    ) -> Result<Bytes> {
        let mut bytes = bytes::BytesMut::new();
        let mut start = 0u64;
        for part in &staged.parts {
            let path = part_path(&lock.session, &part.name);
            let size = match self.objects.head(&path).await {
                Ok(meta) => meta.size,
                Err(object_store::Error::NotFound { .. }) => {
                    return Err(BlobStoreError::PartMissing(part.name.clone()));
                }
                Err(e) => return Err(e.into()),
            };
            let (from, to) = (range.start.max(start), range.end.min(start + size));
            if from < to {
                let mut stream = read_object(&*self.objects, &path, Some(from - start..to - start))
                    .await?
                    .ok_or_else(|| BlobStoreError::PartMissing(part.name.clone()))?;
                while let Some(chunk) = stream.try_next().await? {
                    bytes.extend_from_slice(&chunk);
                }
            }
            start += size;
            if start >= range.end {
                break;
            }
        }
        Ok(bytes.freeze())
    }

    async fn put_side(&self, lock: &SessionLock, name: &str, bytes: Bytes) -> Result<()> {
        self.objects
            .put(&part_path(&lock.session, name), bytes.into())
            .await?;
        Ok(())
    }

    async fn get_side(&self, lock: &SessionLock, name: &str) -> Result<Option<Bytes>> {
        match self.objects.get(&part_path(&lock.session, name)).await {
            Ok(result) => Ok(Some(result.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn discard_part(
        &self,
        lock: &SessionLock,
        _offset: u64,
        part: &StagedPart,
    ) -> Result<()> {
        self.delete_object(&part_path(&lock.session, &part.name))
            .await
    }

    async fn discard_upload(&self, session: &str) -> Result<()> {
        let prefix = Path::from(format!("uploads/{session}"));
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

    async fn staged_sessions(&self) -> Result<Vec<String>> {
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
