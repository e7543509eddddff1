//! The registry service: every OCI Distribution operation, independent of HTTP.
//!
//! It owns the rules that span both stores: a blob is linked into a repository only after
//! its bytes are committed under their verified digest; a manifest is stored only when the
//! repository holds everything it references; upload sessions live in metadata so any node
//! can continue them, and expire. Protocol front ends (the HTTP server) translate requests
//! into these calls and [`RegistryError`]s into wire errors; this crate never sees a header.

mod error;
mod gc;
pub mod supervisor;

pub use gc::SweepReport;

use std::ops::Range;
use std::time::Duration;

use bulwark_blobstore::{BlobStore, BlobStream, SessionLock, StagedPart, StagedUpload};
use bulwark_metadata::{
    BlobUnlink, ManifestDelete, ManifestRecord, ManifestSummary, MetadataStore, MissingContent,
    NewManifest, PutManifestError, UploadPart, UploadRecord,
};
use bulwark_oci::{
    Digest, DigestAlgorithm, DigestHasher, ParsedManifest, Reference, RepositoryName,
    RequestContext, Tag,
};
use bytes::Bytes;
use futures::Stream;

pub use error::RegistryError;

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// Limits and lifetimes; see the server's configuration for the defaults and their reasons.
#[derive(Debug, Clone)]
pub struct RegistryLimits {
    pub max_blob_size: u64,
    /// Chunks one upload session may take. Each is a row read back to complete the
    /// session: a client sending a blob a byte per request is stopped long before that
    /// costs much.
    pub max_upload_chunks: u64,
    pub max_manifest_size: usize,
    /// An upload session untouched this long is discarded with its staged data.
    pub upload_ttl: Duration,
    /// Upper bound on `n` for tag and catalog pages.
    pub max_page_size: u32,
}

impl Default for RegistryLimits {
    fn default() -> Self {
        RegistryLimits {
            max_blob_size: 64 * 1024 * 1024 * 1024,
            max_upload_chunks: 10_000,
            max_manifest_size: 4 * 1024 * 1024,
            upload_ttl: Duration::from_secs(24 * 60 * 60),
            max_page_size: 1000,
        }
    }
}

/// Where an upload session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadStatus {
    pub session: String,
    /// Bytes received so far.
    pub offset: u64,
}

/// A manifest as stored, with the digest it is addressed by.
pub type Manifest = ManifestRecord;

#[derive(Debug, Clone)]
pub struct PutManifestOutcome {
    pub digest: Digest,
    pub subject: Option<Digest>,
    /// The tags that now point at the manifest.
    pub tags: Vec<Tag>,
}

/// A blob (or a range of it) ready to stream.
pub struct BlobContent {
    /// Size of the whole blob.
    pub size: u64,
    /// The part streamed (end exclusive), when a range was asked for.
    pub range: Option<Range<u64>>,
    pub stream: BlobStream,
}

/// One byte range as a client asked for it, before the blob's size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `start-`: from `start` to the end.
    From(u64),
    /// `start-last`, both inclusive (`last >= start`).
    Between(u64, u64),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The end-exclusive range within a blob of `size` bytes; `None` when it cannot be
    /// satisfied (it starts past the end, or asks for nothing).
    pub fn resolve(self, size: u64) -> Option<Range<u64>> {
        let range = match self {
            ByteRange::Suffix(0) => return None,
            ByteRange::Suffix(n) => size.saturating_sub(n)..size,
            ByteRange::From(start) => start..size,
            ByteRange::Between(start, last) => start..last.saturating_add(1).min(size),
        };
        (range.start < range.end).then_some(range)
    }
}

#[derive(Clone)]
pub struct Registry {
    blobs: BlobStore,
    metadata: MetadataStore,
    limits: RegistryLimits,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("limits", &self.limits)
            .finish()
    }
}

/// Distinct blobs and manifests one manifest may reference: far above real images (Docker
/// caps an image at 127 layers) and indexes, low enough that checking them all while the
/// repository's write lock is held stays short.
const MAX_MANIFEST_REFERENCES: usize = 10_000;

/// A fault a test injects at a named step of a multi-step commit (the `failpoints` feature;
/// without it this is nothing): the step fails there, as if the process had stopped, with
/// none of the clean-up that follows it.
/// The fault points of an upload's completion, in the order `Registry::complete` passes them
/// (two are the blob store's), for the tests that fail or crash a completion at each.
#[cfg(feature = "failpoints")]
pub const COMPLETION_FAULT_POINTS: [&str; 6] = [
    "registry::complete::after_stage",
    "blobstore::commit::before_place",
    "blobstore::commit::after_place",
    "registry::complete::after_commit",
    "registry::complete::after_link",
    "registry::complete::after_session_delete",
];

#[cfg(feature = "failpoints")]
fn fault(point: &'static str) -> Result<()> {
    fail::fail_point!(point, |_| Err(RegistryError::Injected(point)));
    Ok(())
}

#[cfg(not(feature = "failpoints"))]
fn fault(_point: &'static str) -> Result<()> {
    Ok(())
}

/// Arms the fault points that the `FAILPOINTS` environment variable names (`point=action;…`,
/// as the `fail` crate reads it): how the fault-injection tests reach into a running server.
/// Without the `failpoints` feature, which release builds never have, this does nothing.
pub fn arm_faults_from_env() {
    #[cfg(feature = "failpoints")]
    std::mem::forget(fail::FailScenario::setup());
}

/// Tags one manifest `PUT` may set with `?tag=`.
const MAX_TAGS_PER_PUT: usize = 100;

/// Referrers read from the store at a time.
const REFERRERS_BATCH: u32 = 100;
/// The most a page of referrers holds in descriptors (beyond its first), about the size of
/// the largest manifest accepted by default.
const REFERRERS_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// About what a referrer's descriptor takes in a referrers index.
fn descriptor_bytes(summary: &ManifestSummary) -> usize {
    const FIXED: usize = 160; // digest, size, key names and punctuation
    FIXED
        + summary.media_type.len()
        + summary.artifact_type.as_ref().map_or(0, String::len)
        + summary.annotations.as_ref().map_or(0, String::len)
}

/// Session ids are UUIDs of our own making; anything else cannot name a session.
fn parse_session(session: &str) -> Result<String> {
    uuid::Uuid::try_parse(session)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| RegistryError::BlobUploadUnknown)
}

impl Registry {
    /// The hash state the session's record saved.
    fn saved_hasher(&self, record: &UploadRecord) -> Result<DigestHasher> {
        match &record.hasher_state {
            None if record.size == 0 => Ok(DigestHasher::new(DigestAlgorithm::Sha256)),
            None => Err(RegistryError::StorageInconsistent(format!(
                "upload session {} holds {} bytes but no hash state",
                record.id, record.size
            ))),
            Some(saved) => self.blobs.resume_state(&record.id, saved).map_err(|e| {
                RegistryError::StorageInconsistent(format!("upload session {}: {e}", record.id))
            }),
        }
    }

    pub fn new(blobs: BlobStore, metadata: MetadataStore, limits: RegistryLimits) -> Self {
        Registry {
            blobs,
            metadata,
            limits,
        }
    }

    /// Whether both stores answer: the metadata database, and the blob back end (asked for
    /// a blob's size, which reaches the disk or the object store). `Err` names the one that
    /// does not.
    pub async fn ready(&self) -> std::result::Result<(), (&'static str, String)> {
        self.metadata
            .ping()
            .await
            .map_err(|e| ("database", e.to_string()))?;
        self.blobs
            .blob_size(&Digest::sha256_of(b""))
            .await
            .map_err(|e| ("storage", e.to_string()))?;
        Ok(())
    }

    /// The blob store, for services that read stored content (the scanner).
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn limits(&self) -> &RegistryLimits {
        &self.limits
    }

    // ---- uploads ----

    pub async fn start_upload(&self, repository: &RepositoryName) -> Result<UploadStatus> {
        let session = uuid::Uuid::new_v4().hyphenated().to_string();
        self.metadata.create_upload(&session, repository).await?;
        Ok(UploadStatus { session, offset: 0 })
    }

    async fn session(&self, repository: &RepositoryName, session: &str) -> Result<UploadRecord> {
        let session = parse_session(session)?;
        self.metadata
            .upload(&session, repository)
            .await?
            .ok_or(RegistryError::BlobUploadUnknown)
    }

    pub async fn upload_status(
        &self,
        repository: &RepositoryName,
        session: &str,
    ) -> Result<UploadStatus> {
        let record = self.session(repository, session).await?;
        Ok(UploadStatus {
            session: record.id,
            offset: record.size,
        })
    }

    /// The session's record, read again once this request holds the right to change it, so
    /// that its offset cannot move until the request is done.
    async fn lock_session(
        &self,
        repository: &RepositoryName,
        session: &str,
    ) -> Result<(SessionLock, UploadRecord)> {
        let record = self.session(repository, session).await?;
        let lock = match self.blobs.lock_session(&record.id).await {
            Ok(lock) => lock,
            // A chunk of this session is arriving: the client's chunk cannot start at the
            // end it knows of, whatever that chunk adds.
            Err(bulwark_blobstore::BlobStoreError::SessionBusy(_)) => {
                return Err(RegistryError::RangeInvalid {
                    offset: record.size,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let record = self.session(repository, &record.id).await?;
        Ok((lock, record))
    }

    /// Appends `body` to the session. `start` is the offset the client says the chunk begins
    /// at (from `Content-Range`), `length` the length it announced; both are checked.
    pub async fn append<S>(
        &self,
        repository: &RepositoryName,
        session: &str,
        start: Option<u64>,
        length: Option<u64>,
        body: S,
    ) -> Result<UploadStatus>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send,
    {
        let (lock, record) = self.lock_session(repository, session).await?;
        let offset = self
            .append_to(&lock, repository, &record, start, length, body)
            .await?;
        Ok(UploadStatus {
            session: record.id,
            offset,
        })
    }

    /// Stages `body` after what the session holds and records it; returns the session's
    /// new size.
    async fn append_to<S>(
        &self,
        lock: &SessionLock,
        repository: &RepositoryName,
        record: &UploadRecord,
        start: Option<u64>,
        length: Option<u64>,
        body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send,
    {
        if let Some(start) = start
            && start != record.size
        {
            return Err(RegistryError::RangeInvalid {
                offset: record.size,
            });
        }
        let room = self.limits.max_blob_size.saturating_sub(record.size);
        if let Some(length) = length
            && length > room
        {
            return Err(RegistryError::BlobTooLarge {
                limit: self.limits.max_blob_size,
            });
        }
        // An empty last chunk still completes a session that is full; a chunk announced
        // with bytes is refused before they are read.
        let full = record.part_count >= self.limits.max_upload_chunks;
        let too_many = || RegistryError::TooManyChunks {
            limit: self.limits.max_upload_chunks,
        };
        if full && length.is_some_and(|length| length > 0) {
            return Err(too_many());
        }
        let limit = length.map_or(room, |length| length.min(room));
        // The chunks before this one: an encrypting store goes on from the last one's
        // unfinished segment, and finds the data key where the first one began.
        let staged = StagedUpload {
            size: record.size,
            sha256: self.saved_hasher(record)?,
            parts: self
                .metadata
                .upload_parts(&record.id)
                .await?
                .into_iter()
                .map(|part| StagedPart {
                    name: part.name,
                    size: part.size,
                })
                .collect(),
        };
        let new = match self
            .while_alive(
                &record.id,
                self.blobs.stage_part(lock, &staged, body, limit),
            )
            .await
        {
            Ok(new) => new,
            // The client sent more than it announced: that is a size error, not the blob limit.
            Err(bulwark_blobstore::BlobStoreError::TooLarge { .. })
                if length.is_some_and(|l| l < room) =>
            {
                return Err(RegistryError::SizeInvalid(
                    "the body is longer than its Content-Length".into(),
                ));
            }
            Err(bulwark_blobstore::BlobStoreError::TooLarge { .. }) => {
                return Err(RegistryError::BlobTooLarge {
                    limit: self.limits.max_blob_size,
                });
            }
            // The client stopped sending (disconnect, idle timeout): the session keeps what
            // it had before this chunk, and the client may resume from there.
            Err(bulwark_blobstore::BlobStoreError::Body(e)) => {
                return Err(RegistryError::UploadInterrupted(e.to_string()));
            }
            // What the session staged is gone: committed by an earlier completion whose
            // clean-up did not happen (a chunk sent after that finds a finished session), or
            // lost. Either way the session can take no more.
            Err(error @ bulwark_blobstore::BlobStoreError::StagedShort { .. }) => {
                tracing::warn!(session = %record.id, %error, "a chunk arrived for a session whose staged data is gone");
                return Err(RegistryError::BlobUploadUnknown);
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(length) = length
            && new.part.size != length
        {
            self.blobs
                .discard_part(lock, record.size, &new.part)
                .await?;
            return Err(RegistryError::SizeInvalid(format!(
                "received {} bytes, Content-Length announced {length}",
                new.part.size
            )));
        }
        if new.part.size == 0 {
            // Nothing was staged, nothing to give up.
            return Ok(record.size);
        }
        if full {
            self.blobs
                .discard_part(lock, record.size, &new.part)
                .await?;
            return Err(too_many());
        }
        let recorded = self
            .metadata
            .append_upload_part(
                &record.id,
                record.size,
                &UploadPart {
                    name: new.part.name.clone(),
                    size: new.part.size,
                },
                &self.blobs.save_state(&record.id, &new.sha256)?,
            )
            .await?;
        if !recorded {
            // Another request appended first (object stores, whose chunks take no lock), or
            // the session was cancelled meanwhile: this chunk no longer starts at the end.
            self.blobs
                .discard_part(lock, record.size, &new.part)
                .await?;
            let offset = self
                .metadata
                .upload(&record.id, repository)
                .await?
                .map_or(0, |r| r.size);
            return Err(RegistryError::RangeInvalid { offset });
        }
        Ok(record.size + new.part.size)
    }

    /// Runs `work` on `session` while telling the store, every quarter of the idle lifetime,
    /// that the session is in use: a chunk may take longer to arrive than a session may idle.
    async fn while_alive<T>(&self, session: &str, work: impl Future<Output = T>) -> T {
        let every = (self.limits.upload_ttl / 4).max(std::time::Duration::from_secs(1));
        let mut work = std::pin::pin!(work);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = ticker.tick() => {
                    if let Err(error) = self.metadata.touch_upload(session).await {
                        tracing::warn!(%session, %error, "could not mark an upload session as in use");
                    }
                }
            }
        }
    }

    /// Finishes the session: appends the optional last chunk, verifies the whole content
    /// against `digest` and commits it. A mismatch discards the session and stores nothing.
    pub async fn complete<S>(
        &self,
        repository: &RepositoryName,
        session: &str,
        digest: &Digest,
        start: Option<u64>,
        length: Option<u64>,
        body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send,
    {
        let (lock, record) = self.lock_session(repository, session).await?;
        self.append_to(&lock, repository, &record, start, length, body)
            .await?;
        fault("registry::complete::after_stage")?;
        let record = self.session(repository, &record.id).await?;
        let staged = StagedUpload {
            size: record.size,
            sha256: self.saved_hasher(&record)?,
            parts: self
                .metadata
                .upload_parts(&record.id)
                .await?
                .into_iter()
                .map(|part| StagedPart {
                    name: part.name,
                    size: part.size,
                })
                .collect(),
        };
        let size = match self.blobs.commit(&lock, &staged, digest).await {
            Ok(size) => size,
            Err(bulwark_blobstore::BlobStoreError::DigestMismatch { expected, actual }) => {
                self.discard_session(&record.id).await?;
                return Err(RegistryError::DigestMismatch { expected, actual });
            }
            Err(e) => return Err(e.into()),
        };
        fault("registry::complete::after_commit")?;
        self.metadata.link_blob(repository, digest, size).await?;
        fault("registry::complete::after_link")?;
        self.discard_session(&record.id).await?;
        fault("registry::complete::after_session_delete")?;
        Ok(size)
    }

    /// Pushes a whole blob in one request (`POST …/uploads/?digest=`).
    pub async fn put_blob<S>(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        length: Option<u64>,
        body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send,
    {
        let status = self.start_upload(repository).await?;
        let result = self
            .complete(repository, &status.session, digest, None, length, body)
            .await;
        if result.is_err() {
            self.discard_session(&status.session).await?;
        }
        result
    }

    pub async fn cancel_upload(&self, repository: &RepositoryName, session: &str) -> Result<()> {
        let record = self.session(repository, session).await?;
        self.discard_session(&record.id).await
    }

    async fn discard_session(&self, session: &str) -> Result<()> {
        // Metadata first: once the session is gone nobody appends, then the bytes can go.
        self.metadata.delete_upload(session).await?;
        self.blobs.discard_upload(session).await?;
        Ok(())
    }

    /// Links blob `digest` from `from` into `repository` without copying. False when `from`
    /// does not hold it (the caller then opens a normal upload session).
    pub async fn mount_blob(
        &self,
        repository: &RepositoryName,
        from: &RepositoryName,
        digest: &Digest,
    ) -> Result<bool> {
        let Some(size) = self.metadata.repository_blob(from, digest).await? else {
            return Ok(false);
        };
        if self.blobs.blob_size(digest).await? != Some(size) {
            return Ok(false);
        }
        self.metadata.link_blob(repository, digest, size).await?;
        Ok(true)
    }

    /// For a mount that names no source: another repository of the same project that holds
    /// `digest`. The search stays inside the project so that a mount never reveals what
    /// another project stores; the caller must still be allowed to pull from the source.
    pub async fn mount_source_in_project(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<RepositoryName>> {
        Ok(self
            .metadata
            .project_repository_with_blob(repository.project(), repository, digest)
            .await?)
    }

    // ---- blobs ----

    pub async fn blob_size(&self, repository: &RepositoryName, digest: &Digest) -> Result<u64> {
        self.metadata
            .repository_blob(repository, digest)
            .await?
            .ok_or(RegistryError::BlobUnknown)
    }

    /// Streams blob `digest`, whole or the part `range` asks for, with one metadata lookup.
    pub async fn read_blob(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> Result<BlobContent> {
        let size = self.blob_size(repository, digest).await?;
        let range = match range {
            Some(asked) => Some(
                asked
                    .resolve(size)
                    .ok_or(RegistryError::RangeNotSatisfiable { size })?,
            ),
            None => None,
        };
        let stream = self
            .blobs
            .read(digest, range.clone())
            .await?
            .ok_or_else(|| {
                RegistryError::StorageInconsistent(format!(
                    "blob {digest} is linked but not stored"
                ))
            })?;
        Ok(BlobContent {
            size,
            range,
            stream,
        })
    }

    pub async fn delete_blob(&self, repository: &RepositoryName, digest: &Digest) -> Result<()> {
        match self.metadata.unlink_blob(repository, digest).await? {
            BlobUnlink::Unlinked => Ok(()),
            BlobUnlink::NotFound => Err(RegistryError::BlobUnknown),
            BlobUnlink::ReferencedBy(manifests) => Err(RegistryError::Referenced(format!(
                "blob {digest} is used by manifest(s) {}; delete them first",
                manifests.join(", ")
            ))),
        }
    }

    // ---- manifests ----

    /// Stores a manifest under `reference` and, in the same transaction, points every tag
    /// of `also_tag` at it (a `PUT` by digest with `?tag=`).
    pub async fn put_manifest(
        &self,
        context: &RequestContext,
        repository: &RepositoryName,
        reference: &Reference,
        also_tag: &[Tag],
        content_type: Option<&str>,
        content: Bytes,
    ) -> Result<PutManifestOutcome> {
        if also_tag.len() > MAX_TAGS_PER_PUT {
            return Err(RegistryError::ManifestInvalid(format!(
                "{} tags given; at most {MAX_TAGS_PER_PUT} may be set in one request",
                also_tag.len()
            )));
        }
        if content.len() > self.limits.max_manifest_size {
            return Err(RegistryError::ManifestTooLarge {
                limit: self.limits.max_manifest_size,
            });
        }
        let parsed = ParsedManifest::parse(content_type, &content)
            .map_err(|e| RegistryError::ManifestInvalid(e.to_string()))?;
        let (digest, mut tags) = match reference {
            Reference::Digest(claimed) => {
                let actual = Digest::compute(claimed.algorithm(), &content);
                if &actual != claimed {
                    return Err(RegistryError::DigestMismatch {
                        expected: claimed.clone(),
                        actual,
                    });
                }
                (actual, Vec::new())
            }
            Reference::Tag(tag) => (Digest::sha256_of(&content), vec![tag.clone()]),
        };
        tags.extend(also_tag.iter().cloned());
        tags.sort();
        tags.dedup();
        // Stored without parameters (`; charset=…`), which the spec says a media type
        // should not carry.
        let media_type = content_type
            .and_then(|ct| ct.split(';').next())
            .map(str::trim)
            .filter(|ct| !ct.is_empty())
            .map_or_else(|| parsed.kind.media_type().to_owned(), str::to_owned);
        let annotations = parsed
            .annotations
            .as_ref()
            .and_then(|a| serde_json::to_string(a).ok());
        let subject = parsed.subject.as_ref().map(|s| s.digest.clone());
        // Each distinct reference is checked once, inside the transaction that holds the
        // repository's write lock: repeats cost nothing, and their number is bounded.
        let mut references: Vec<_> = parsed
            .required_content()
            .into_iter()
            .map(|(kind, d)| (kind, d.digest.clone(), d.size))
            .collect();
        references.sort();
        references.dedup();
        if references.len() > MAX_MANIFEST_REFERENCES {
            return Err(RegistryError::ManifestInvalid(format!(
                "the manifest references {} blobs and manifests; at most {MAX_MANIFEST_REFERENCES} are accepted",
                references.len()
            )));
        }
        let manifest = NewManifest {
            digest: digest.clone(),
            media_type,
            content: content.to_vec(),
            artifact_type: parsed.artifact_type.clone(),
            subject: subject.clone(),
            annotations,
            references,
        };
        match self
            .metadata
            .put_manifest(repository, &manifest, &tags, context)
            .await
        {
            Ok(()) => Ok(PutManifestOutcome {
                digest,
                subject,
                tags,
            }),
            Err(PutManifestError::Missing(MissingContent::Absent { kind, digest })) => {
                Err(RegistryError::ManifestBlobUnknown(
                    format!("{kind:?} {digest} is not in the repository").to_lowercase(),
                ))
            }
            Err(PutManifestError::Missing(MissingContent::SizeMismatch {
                digest,
                claimed,
                stored,
            })) => Err(RegistryError::ManifestInvalid(format!(
                "descriptor {digest} claims {claimed} bytes, the stored content has {stored}"
            ))),
            Err(PutManifestError::Metadata(e)) => Err(e.into()),
        }
    }

    pub async fn manifest(
        &self,
        repository: &RepositoryName,
        reference: &Reference,
    ) -> Result<Manifest> {
        let found = match reference {
            Reference::Tag(tag) => self.metadata.manifest_by_tag(repository, tag).await?,
            Reference::Digest(digest) => self.metadata.manifest(repository, digest).await?,
        };
        found.ok_or(RegistryError::ManifestUnknown)
    }

    /// Deletes a tag (the manifest stays) or a manifest by digest (its tags go with it).
    pub async fn delete_manifest(
        &self,
        context: &RequestContext,
        repository: &RepositoryName,
        reference: &Reference,
    ) -> Result<()> {
        match reference {
            Reference::Tag(tag) => self.delete_tag(context, repository, tag).await,
            Reference::Digest(digest) => {
                match self
                    .metadata
                    .delete_manifest(repository, digest, context)
                    .await?
                {
                    ManifestDelete::Deleted => Ok(()),
                    ManifestDelete::NotFound => Err(RegistryError::ManifestUnknown),
                    ManifestDelete::ReferencedBy(parents) => {
                        Err(RegistryError::Referenced(format!(
                            "manifest {digest} is listed by index(es) {}; delete them first",
                            parents.join(", ")
                        )))
                    }
                }
            }
        }
    }

    async fn delete_tag(
        &self,
        context: &RequestContext,
        repository: &RepositoryName,
        tag: &Tag,
    ) -> Result<()> {
        if self.metadata.delete_tag(repository, tag, context).await? {
            Ok(())
        } else {
            Err(RegistryError::ManifestUnknown)
        }
    }

    fn page_size(&self, n: Option<u32>) -> u32 {
        n.unwrap_or(self.limits.max_page_size)
            .min(self.limits.max_page_size)
    }

    /// One page of tags, and whether more follow.
    pub async fn tags(
        &self,
        repository: &RepositoryName,
        n: Option<u32>,
        last: Option<&str>,
    ) -> Result<(Vec<String>, bool)> {
        if !self.metadata.repository_exists(repository).await? {
            return Err(RegistryError::NameUnknown);
        }
        let limit = self.page_size(n);
        let mut tags = self
            .metadata
            .tags(repository, last, limit.saturating_add(1))
            .await?;
        let more = tags.len() > limit as usize;
        tags.truncate(limit as usize);
        Ok((tags, more))
    }

    /// The tags of `repository` that point at manifest `digest`.
    pub async fn tags_of(&self, repository: &RepositoryName, digest: &Digest) -> Result<Vec<Tag>> {
        let names = self.metadata.manifest_tags(repository, digest).await?;
        Ok(names.iter().filter_map(|t| t.parse().ok()).collect())
    }

    /// One page of repository names, and whether more follow.
    /// The public projects, whose repositories every signed-in caller may list.
    pub async fn public_projects(&self) -> Result<Vec<String>> {
        Ok(self.metadata.public_projects().await?)
    }

    /// One page of repository names after `last`: of every project (`projects` = `None`),
    /// or of the projects named.
    pub async fn catalog(
        &self,
        projects: Option<&std::collections::BTreeSet<String>>,
        n: Option<u32>,
        last: Option<&str>,
    ) -> Result<(Vec<String>, bool)> {
        let limit = self.page_size(n);
        let mut names = match projects {
            None => {
                self.metadata
                    .repositories(last, limit.saturating_add(1))
                    .await?
            }
            Some(projects) => {
                self.metadata
                    .repositories_of(projects, last, limit.saturating_add(1))
                    .await?
            }
        };
        let more = names.len() > limit as usize;
        names.truncate(limit as usize);
        Ok((names, more))
    }

    /// One page of referrers of `subject`, and whether more follow.
    pub async fn referrers(
        &self,
        repository: &RepositoryName,
        subject: &Digest,
        artifact_type: Option<&str>,
        last: Option<&str>,
    ) -> Result<(Vec<ManifestSummary>, bool)> {
        let limit = self.limits.max_page_size as usize;
        let mut found: Vec<ManifestSummary> = Vec::new();
        let mut bytes = 0usize;
        let mut cursor = last.map(str::to_owned);
        loop {
            let batch = self
                .metadata
                .referrers(
                    repository,
                    subject,
                    artifact_type,
                    cursor.as_deref(),
                    REFERRERS_BATCH,
                )
                .await?;
            let exhausted = batch.len() < REFERRERS_BATCH as usize;
            cursor = batch.last().map(|m| m.digest.to_string());
            for summary in batch {
                // Annotations can be large: a page is bounded by its size as well as by its
                // count, and always holds at least one entry so that paging moves on.
                let cost = descriptor_bytes(&summary);
                if !found.is_empty()
                    && (found.len() == limit || bytes + cost > REFERRERS_PAGE_BYTES)
                {
                    return Ok((found, true));
                }
                bytes += cost;
                found.push(summary);
            }
            if exhausted {
                return Ok((found, false));
            }
        }
    }
}
