//! Encryption at rest: a [`BlobBackend`] over another one that stores every blob sealed.
//!
//! Envelope encryption: each blob (each upload session, which becomes one blob) has a
//! random AES-256-GCM data key, wrapped by a key-encryption key ([`KeyEncryption`]: a key
//! file or variable today, a KMS tomorrow) and kept in the blob's 128-byte header. The
//! plaintext is cut into [`SEGMENT`]-byte segments, each sealed with its own random nonce
//! and authenticated with the blob's random id, its index and whether it is the last, so a
//! segment cannot be moved, dropped, cut short or taken from another blob without the
//! read failing; the last segment (shorter than [`SEGMENT`], possibly empty) is always
//! there, so a blob cut at a segment boundary fails too. Digests stay the plaintext's.
//!
//! Layout: `header | segment 0 | segment 1 | … | last`, each segment `nonce(12) |
//! ciphertext | tag(16)`. A segment's place follows from its index, so a ranged read
//! decrypts only the segments it touches.
//!
//! Staging follows the upload: a chunk seals the whole segments it completes into the
//! session's data (after the segments before it) and keeps the segment it leaves
//! unfinished, sealed, in a small side file of its own (`tail-<end>-<part>`); the next chunk
//! opens it and goes on from there, and the commit seals it as the last segment. Nothing in
//! the data is ever rewritten, so a chunk cut off by a crash, refused or retried leaves the
//! recorded state readable exactly as before.
//!
//! A blob without the header's magic was stored before encryption was switched on: it is
//! read as it is while `plaintext_reads` allows (until `bulwark keys migrate` has sealed
//! every one), and refused after.

use std::ops::Range;
use std::sync::Arc;

use base64::Engine;
use bulwark_oci::{Digest, DigestHasher};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::backend::BlobBackend;
use crate::pipeline::Sink;
use crate::{
    BlobStoreError, BlobStream, Result, SessionLock, StagedPart, StagedUpload, check_digest,
    committed_with_size,
};

/// Plaintext bytes per segment.
pub(crate) const SEGMENT: u64 = 64 * 1024;
const TAG_LEN: u64 = 16;
/// What sealing adds to each segment.
pub(crate) const OVERHEAD: u64 = NONCE_LEN as u64 + TAG_LEN;
/// A sealed whole segment.
pub(crate) const SEALED_SEGMENT: u64 = SEGMENT + OVERHEAD;
/// The header before the first segment.
pub(crate) const HEADER: u64 = 128;
const MAGIC: &[u8; 8] = b"BWSEAL01";

/// Names a key-encryption key: the first 16 bytes of SHA-256 over a label and the key.
pub type KeyId = [u8; 16];

/// A data key wrapped by a key-encryption key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub key_id: KeyId,
    pub nonce: [u8; NONCE_LEN],
    /// The data key sealed (32 bytes and the tag).
    pub sealed: [u8; 48],
}

/// Wraps and unwraps data keys: the seam a KMS implements.
pub trait KeyEncryption: Send + Sync + std::fmt::Debug {
    /// The key new data keys are wrapped with.
    fn current(&self) -> KeyId;
    /// Wraps `data_key`, bound to `context` (the blob's header fields).
    fn wrap(&self, data_key: &[u8; 32], context: &[u8]) -> Result<WrappedKey>;
    /// The data key inside `wrapped`; an error when no known key opens it.
    fn unwrap(&self, wrapped: &WrappedKey, context: &[u8]) -> Result<[u8; 32]>;
    /// Encrypts a small value (an upload's saved hash state) bound to `context`.
    fn encrypt_value(&self, value: &[u8], context: &[u8]) -> Result<Vec<u8>>;
    /// The value [`KeyEncryption::encrypt_value`] encrypted with the same `context`.
    fn decrypt_value(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>>;
}

fn sealed_error(message: impl Into<String>) -> BlobStoreError {
    BlobStoreError::Sealed(message.into())
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| sealed_error("the system's random number generator failed"))?;
    Ok(bytes)
}

fn aes_key(bytes: &[u8; 32]) -> Result<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| sealed_error("not an AES-256 key"))
}

/// Key-encryption keys from a key file or `BULWARK_ENCRYPTION_KEY`: base64 of 32 random
/// bytes each, one per line (blank lines and `#` comments skipped). The first wraps new
/// data keys; all of them unwrap, so a rotation lists the new key first and keeps the old
/// one until `bulwark keys rotate` has re-wrapped every blob.
pub struct KeyFile {
    keys: Vec<(KeyId, LessSafeKey)>,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self.keys.iter().map(|(id, _)| hex::encode(id)).collect();
        f.debug_struct("KeyFile").field("key_ids", &ids).finish()
    }
}

/// The id of a key-encryption key.
fn key_id(key: &[u8; 32]) -> KeyId {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(b"bulwark-key-encryption-key-v1");
    hasher.update(key);
    let digest = hasher.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

impl KeyFile {
    /// Reads keys from `text`; an error names the line that is not a key.
    pub fn parse(text: &str) -> Result<KeyFile> {
        let mut keys = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(line)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| {
                    sealed_error(format!(
                        "line {} is not a key: base64 of 32 bytes, as `bulwark keys generate` prints",
                        number + 1
                    ))
                })?;
            keys.push((key_id(&bytes), aes_key(&bytes)?));
        }
        if keys.is_empty() {
            return Err(sealed_error("no key-encryption key given"));
        }
        Ok(KeyFile { keys })
    }

    /// A new key-encryption key, as a key file line.
    pub fn generate() -> Result<String> {
        Ok(base64::engine::general_purpose::STANDARD.encode(random::<32>()?))
    }
}

impl KeyEncryption for KeyFile {
    fn current(&self) -> KeyId {
        self.keys[0].0
    }

    /// `key id(16) | nonce(12) | ciphertext | tag(16)`.
    fn encrypt_value(&self, value: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        let (key_id, key) = &self.keys[0];
        let nonce = random::<NONCE_LEN>()?;
        let mut sealed = Vec::with_capacity(16 + NONCE_LEN + value.len() + TAG_LEN as usize);
        sealed.extend_from_slice(key_id);
        sealed.extend_from_slice(&nonce);
        let start = sealed.len();
        sealed.extend_from_slice(value);
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut sealed[start..],
            )
            .map_err(|_| sealed_error("encrypting a value failed"))?;
        sealed.extend_from_slice(tag.as_ref());
        Ok(sealed)
    }

    fn decrypt_value(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        let malformed = || sealed_error("an encrypted value is malformed or does not authenticate");
        if sealed.len() < 16 + NONCE_LEN + TAG_LEN as usize {
            return Err(malformed());
        }
        let (key_id, rest) = sealed.split_at(16);
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| id[..] == *key_id)
            .ok_or_else(|| sealed_error("an encrypted value's key is not configured"))?;
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| malformed())?;
        let mut body = body.to_vec();
        let opened = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut body,
            )
            .map_err(|_| malformed())?
            .len();
        body.truncate(opened);
        Ok(body)
    }

    fn wrap(&self, data_key: &[u8; 32], context: &[u8]) -> Result<WrappedKey> {
        let (key_id, key) = &self.keys[0];
        let nonce = random::<NONCE_LEN>()?;
        let mut sealed = [0u8; 48];
        sealed[..32].copy_from_slice(data_key);
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut sealed[..32],
            )
            .map_err(|_| sealed_error("wrapping a data key failed"))?;
        sealed[32..].copy_from_slice(tag.as_ref());
        Ok(WrappedKey {
            key_id: *key_id,
            nonce,
            sealed,
        })
    }

    fn unwrap(&self, wrapped: &WrappedKey, context: &[u8]) -> Result<[u8; 32]> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| *id == wrapped.key_id)
            .ok_or_else(|| {
                sealed_error(format!(
                    "the blob's data key is wrapped by key {}, which is not configured",
                    hex::encode(wrapped.key_id)
                ))
            })?;
        let mut sealed = wrapped.sealed;
        let opened = key
            .open_in_place(
                Nonce::assume_unique_for_key(wrapped.nonce),
                Aad::from(context),
                &mut sealed,
            )
            .map_err(|_| sealed_error("the blob's data key does not authenticate"))?;
        let mut data_key = [0u8; 32];
        data_key.copy_from_slice(opened);
        Ok(data_key)
    }
}

/// A sealed blob's header: `magic(8) | version(1) | reserved(7) | blob id(16) | key id(16)
/// | nonce(12) | wrapped data key(48) | zeros`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub blob_id: [u8; 16],
    pub wrapped: WrappedKey,
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; HEADER as usize] {
        let mut bytes = [0u8; HEADER as usize];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8] = 1;
        bytes[16..32].copy_from_slice(&self.blob_id);
        bytes[32..48].copy_from_slice(&self.wrapped.key_id);
        bytes[48..60].copy_from_slice(&self.wrapped.nonce);
        bytes[60..108].copy_from_slice(&self.wrapped.sealed);
        bytes
    }

    /// `None` when `bytes` do not start a sealed blob (one stored before encryption); an
    /// error for a sealed blob's header that is cut short or of an unknown version, which
    /// must not pass for a clear blob.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Option<Header>> {
        if !bytes.starts_with(&MAGIC[..bytes.len().min(MAGIC.len())]) || bytes.len() < MAGIC.len() {
            return Ok(None);
        }
        if bytes.len() < HEADER as usize || bytes[8] != 1 {
            return Err(sealed_error(
                "the blob's encryption header is cut short or of an unknown version",
            ));
        }
        let mut header = Header {
            blob_id: [0; 16],
            wrapped: WrappedKey {
                key_id: [0; 16],
                nonce: [0; NONCE_LEN],
                sealed: [0; 48],
            },
        };
        header.blob_id.copy_from_slice(&bytes[16..32]);
        header.wrapped.key_id.copy_from_slice(&bytes[32..48]);
        header.wrapped.nonce.copy_from_slice(&bytes[48..60]);
        header.wrapped.sealed.copy_from_slice(&bytes[60..108]);
        Ok(Some(header))
    }

    /// What the wrapped key is bound to: the format and the blob.
    fn context(blob_id: &[u8; 16]) -> Vec<u8> {
        [&MAGIC[..], &[1], blob_id].concat()
    }
}

/// What a sealed segment is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Role<'a> {
    /// A whole segment, not the last.
    Whole,
    /// The blob's last segment (shorter than a segment, maybe empty), of the blob with
    /// this digest.
    Last(&'a Digest),
    /// A chunk's unfinished segment, kept beside the staged data until the next chunk.
    Tail,
}

/// A blob's data key, ready to seal and open its segments.
pub(crate) struct DataKey {
    key: LessSafeKey,
    blob_id: [u8; 16],
}

impl DataKey {
    /// A new blob's key and header.
    pub(crate) fn create(keys: &dyn KeyEncryption) -> Result<(DataKey, Header)> {
        let data_key = random::<32>()?;
        let blob_id = random::<16>()?;
        let wrapped = keys.wrap(&data_key, &Header::context(&blob_id))?;
        Ok((
            DataKey {
                key: aes_key(&data_key)?,
                blob_id,
            },
            Header { blob_id, wrapped },
        ))
    }

    pub(crate) fn open(keys: &dyn KeyEncryption, header: &Header) -> Result<DataKey> {
        let data_key = keys.unwrap(&header.wrapped, &Header::context(&header.blob_id))?;
        Ok(DataKey {
            key: aes_key(&data_key)?,
            blob_id: header.blob_id,
        })
    }

    /// What a segment is bound to: the blob, its index, its role, and for the last
    /// segment the blob's digest (so a sealed blob copied under another digest fails).
    fn aad(&self, index: u64, role: Role<'_>) -> Vec<u8> {
        let mut aad = Vec::with_capacity(96);
        aad.extend_from_slice(&self.blob_id);
        aad.extend_from_slice(&index.to_be_bytes());
        match role {
            Role::Whole => aad.push(0),
            Role::Last(digest) => {
                aad.push(1);
                aad.extend_from_slice(digest.to_string().as_bytes());
            }
            Role::Tail => aad.push(2),
        }
        aad
    }

    /// Appends segment `index` of `plain` (at most [`SEGMENT`] bytes) to `out`, sealed.
    pub(crate) fn seal(
        &self,
        index: u64,
        role: Role<'_>,
        plain: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let nonce = random::<NONCE_LEN>()?;
        out.extend_from_slice(&nonce);
        let start = out.len();
        out.extend_from_slice(plain);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad(index, role)),
                &mut out[start..],
            )
            .map_err(|_| sealed_error("sealing a segment failed"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Appends segment `index` of `plain` to `out`, sealed in place there.
    pub(crate) fn seal_into(
        &self,
        index: u64,
        role: Role<'_>,
        plain: &[u8],
        out: &mut crate::local::AlignedBuf,
    ) -> Result<()> {
        let nonce = random::<NONCE_LEN>()?;
        out.extend(&nonce)?;
        let start = out.len();
        out.extend(plain)?;
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad(index, role)),
                &mut out.filled_mut()[start..],
            )
            .map_err(|_| sealed_error("sealing a segment failed"))?;
        out.extend(tag.as_ref())?;
        Ok(())
    }

    /// Opens sealed segment `index` in place: its plaintext, or an error that says the
    /// stored bytes were changed.
    pub(crate) fn open_segment<'a>(
        &self,
        index: u64,
        role: Role<'_>,
        sealed: &'a mut [u8],
    ) -> Result<&'a [u8]> {
        if (sealed.len() as u64) < OVERHEAD {
            return Err(sealed_error(format!("segment {index} is cut short")));
        }
        let (nonce, body) = sealed.split_at_mut(NONCE_LEN);
        let nonce =
            <[u8; NONCE_LEN]>::try_from(&*nonce).map_err(|_| sealed_error("a segment's nonce"))?;
        let opened = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad(index, role)),
                body,
            )
            .map_err(|_| {
                sealed_error(format!(
                    "segment {index} does not authenticate: the stored blob was altered, cut \
                     short or reordered"
                ))
            })?;
        Ok(opened)
    }
}

/// Where whole segment `index` starts in the stored bytes.
pub(crate) fn raw_offset(index: u64) -> u64 {
    HEADER + index * SEALED_SEGMENT
}

/// The stored size of a blob of `plain` bytes.
pub(crate) fn raw_size(plain: u64) -> u64 {
    raw_offset(plain / SEGMENT) + OVERHEAD + plain % SEGMENT
}

/// The plaintext size of a sealed blob stored in `raw` bytes; `None` when no blob is that
/// long.
pub(crate) fn plain_size(raw: u64) -> Option<u64> {
    let body = raw.checked_sub(HEADER + OVERHEAD)?;
    let whole = body / SEALED_SEGMENT;
    let last = body % SEALED_SEGMENT;
    (last < SEGMENT).then_some(whole * SEGMENT + last)
}

/// How a sealed hash state begins, where it is stored.
const SEALED_STATE: &str = "sealed:";

/// What an upload's sealed hash state is bound to: its session.
fn state_context(session: &str) -> Vec<u8> {
    [&b"bulwark-upload-hash-state:"[..], session.as_bytes()].concat()
}

/// The side file holding the unfinished segment a chunk ending at `end` left.
fn tail_name(end: u64, part: &str) -> String {
    format!("tail-{end}-{part}")
}

/// The plaintext of the segment a session's staged bytes end inside (empty when they end on
/// a segment boundary).
async fn staged_tail(
    inner: &dyn BlobBackend,
    lock: &SessionLock,
    staged: &StagedUpload,
    key: &DataKey,
) -> Result<Vec<u8>> {
    if staged.size.is_multiple_of(SEGMENT) {
        return Ok(Vec::new());
    }
    let part = staged
        .parts
        .last()
        .ok_or_else(|| BlobStoreError::PartMissing("the chunk before".into()))?;
    let name = tail_name(staged.size, &part.name);
    let mut sealed = inner
        .get_side(lock, &name)
        .await?
        .ok_or_else(|| BlobStoreError::PartMissing(name.clone()))?
        .to_vec();
    let plain = key.open_segment(staged.size / SEGMENT, Role::Tail, &mut sealed)?;
    if plain.len() as u64 != staged.size % SEGMENT {
        return Err(sealed_error(format!("{name} holds the wrong length")));
    }
    Ok(plain.to_vec())
}

/// Encrypts as it stores.
#[derive(Debug)]
pub(crate) struct SealedBackend {
    inner: Arc<dyn BlobBackend>,
    keys: Arc<dyn KeyEncryption>,
    /// Whether blobs stored before encryption was switched on are still served.
    plaintext_reads: bool,
}

impl SealedBackend {
    pub(crate) fn new(
        inner: Arc<dyn BlobBackend>,
        keys: Arc<dyn KeyEncryption>,
        plaintext_reads: bool,
    ) -> Self {
        SealedBackend {
            inner,
            keys,
            plaintext_reads,
        }
    }

    fn keys(&self) -> &dyn KeyEncryption {
        &*self.keys
    }

    /// The header of a committed blob of `raw` stored bytes, `None` when it is stored in
    /// the clear.
    async fn header_of(&self, digest: &Digest, raw: u64) -> Result<Option<Header>> {
        let Some(mut stream) = self.inner.read(digest, Some(0..HEADER.min(raw))).await? else {
            return Ok(None);
        };
        let mut bytes = Vec::with_capacity(HEADER as usize);
        while let Some(chunk) = stream.try_next().await? {
            bytes.extend_from_slice(&chunk);
        }
        Header::decode(&bytes)
    }

    /// The staged session's data key: from its header, or `None` before its first byte.
    async fn staged_key(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
    ) -> Result<Option<DataKey>> {
        if staged.size == 0 {
            return Ok(None);
        }
        let start = self.inner.read_staged_start(lock, staged, HEADER).await?;
        let header = Header::decode(&start)?.ok_or_else(|| {
            sealed_error("the upload's staged data has no header: it was staged unencrypted")
        })?;
        Ok(Some(DataKey::open(self.keys(), &header)?))
    }

    /// The stored form of a session that has `staged` (plaintext measures).
    fn raw_staged(staged: &StagedUpload, size: u64) -> StagedUpload {
        StagedUpload {
            size,
            sha256: staged.sha256.clone(),
            parts: staged.parts.clone(),
        }
    }
}

#[async_trait::async_trait]
impl BlobBackend for SealedBackend {
    async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        let Some(raw) = self.inner.blob_size(digest).await? else {
            return Ok(None);
        };
        match self.header_of(digest, raw).await? {
            Some(_) => plain_size(raw)
                .map(Some)
                .ok_or_else(|| sealed_error(format!("blob {digest} has an impossible length"))),
            None => Ok(Some(raw)),
        }
    }

    async fn read(&self, digest: &Digest, range: Option<Range<u64>>) -> Result<Option<BlobStream>> {
        let Some(raw) = self.inner.blob_size(digest).await? else {
            return Ok(None);
        };
        let Some(header) = self.header_of(digest, raw).await? else {
            if !self.plaintext_reads {
                return Err(sealed_error(format!(
                    "blob {digest} is stored unencrypted and plaintext_reads is off: run \
                     `bulwark keys migrate`"
                )));
            }
            // A whole clear blob is served only if it still hashes to its digest: with
            // encryption on, a sealed blob swapped for clear bytes is refused at its end.
            let whole = range.as_ref().is_none_or(|r| r.start == 0 && r.end == raw);
            let stream = self.inner.read(digest, range).await?;
            return Ok(match stream {
                Some(stream) if whole => Some(verified(stream, digest.clone())),
                other => other,
            });
        };
        let size = plain_size(raw)
            .ok_or_else(|| sealed_error(format!("blob {digest} has an impossible length")))?;
        let range = range.unwrap_or(0..size);
        if range.start > range.end || range.end > size {
            return Err(BlobStoreError::RangeNotSatisfiable {
                start: range.start,
                end: range.end,
                size,
            });
        }
        let key = DataKey::open(self.keys(), &header)?;
        let last = size / SEGMENT;
        let first = range.start / SEGMENT;
        // The segment holding the range's last byte; a range to the end goes on to the last
        // segment, so that a blob cut at a segment boundary is found out.
        let through = if range.end == size {
            last
        } else if range.end > range.start {
            (range.end - 1) / SEGMENT
        } else {
            first.min(last)
        };
        let raw_end = if through == last {
            raw
        } else {
            raw_offset(through + 1)
        };
        let stored = self
            .inner
            .read(digest, Some(raw_offset(first)..raw_end))
            .await?
            .ok_or_else(|| BlobStoreError::Inconsistent(format!("blob {digest} vanished")))?;
        let span = Span {
            first,
            through,
            last,
            size,
            range,
            digest: digest.clone(),
        };
        if through != last {
            // The last segment binds the blob to its digest: opened even when the range
            // does not reach it, so that a blob copied under another name is refused.
            let mut sealed = Vec::with_capacity(span.sealed_len(last));
            let mut tail = self
                .inner
                .read(digest, Some(raw_offset(last)..raw))
                .await?
                .ok_or_else(|| BlobStoreError::Inconsistent(format!("blob {digest} vanished")))?;
            while let Some(chunk) = tail.try_next().await? {
                sealed.extend_from_slice(&chunk);
            }
            key.open_segment(last, Role::Last(digest), &mut sealed)?;
        }
        let mut plain = open_segments(stored, key, span);
        // The first segment is opened before the answer starts, so a changed blob is an
        // error the client sees as such, not a response cut off after its head.
        let head = plain.next().await;
        let rest = plain;
        Ok(Some(match head {
            None => futures::stream::empty().boxed(),
            Some(Err(e)) => return Err(e),
            Some(Ok(bytes)) => futures::stream::once(async move { Ok(bytes) })
                .chain(rest)
                .boxed(),
        }))
    }

    async fn lock_session(&self, session: &str) -> Result<SessionLock> {
        self.inner.lock_session(session).await
    }

    /// Sealed: a hash state holds the last bytes fed that fill no whole block (up to 63
    /// bytes of plaintext, all of a small blob), and it is stored in the database.
    fn save_state(&self, session: &str, hasher: &DigestHasher) -> Result<String> {
        let sealed = self
            .keys()
            .encrypt_value(hasher.saved_state().as_bytes(), &state_context(session))?;
        Ok(format!(
            "{SEALED_STATE}{}",
            base64::engine::general_purpose::STANDARD.encode(sealed)
        ))
    }

    fn resume_state(&self, session: &str, saved: &str) -> Result<DigestHasher> {
        let Some(sealed) = saved.strip_prefix(SEALED_STATE) else {
            // Saved before encryption was switched on.
            return self.inner.resume_state(session, saved);
        };
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| sealed_error("an upload's saved hash state is malformed"))?;
        let state = self
            .keys()
            .decrypt_value(&sealed, &state_context(session))?;
        let state = String::from_utf8(state)
            .map_err(|_| sealed_error("an upload's saved hash state is malformed"))?;
        self.inner.resume_state(session, &state)
    }

    async fn open_part(&self, lock: &SessionLock, staged: &StagedUpload) -> Result<(String, Sink)> {
        let keys = self.keys();
        let (key, header) = match self.staged_key(lock, staged).await? {
            Some(key) => (key, None),
            None => {
                let (key, header) = DataKey::create(keys)?;
                (key, Some(header.encode()))
            }
        };
        let tail = staged_tail(&*self.inner, lock, staged, &key).await?;
        let index = staged.size / SEGMENT;
        // Whole segments before this chunk's first are stored already; it writes from there.
        let raw_from = if header.is_some() {
            0
        } else {
            raw_offset(index)
        };
        let (name, inner) = self
            .inner
            .open_part(lock, &Self::raw_staged(staged, raw_from))
            .await?;
        let tails = TailWriter {
            inner: self.inner.clone(),
            lock: lock.clone(),
            part: name.clone(),
        };
        let sink = Sink::sealed(inner, Arc::new(key), index, tail, header, tails)?;
        Ok((name, sink))
    }

    async fn commit(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        expected: &Digest,
    ) -> Result<u64> {
        let keys = self.keys();
        if let Some(size) =
            committed_with_size(self.blob_size(expected).await?, expected, staged.size)?
        {
            return Ok(size);
        }
        let (key, header) = match self.staged_key(lock, staged).await? {
            Some(key) => (key, None),
            None => {
                let (key, header) = DataKey::create(keys)?;
                (key, Some(header.encode()))
            }
        };
        if expected.algorithm() == staged.sha256.algorithm() {
            check_digest(expected, staged.sha256.digest_so_far())?;
        } else {
            // Another algorithm: hashed from what was staged, opened segment by segment.
            let mut hasher = DigestHasher::new(expected.algorithm());
            let whole = staged.size / SEGMENT;
            for index in 0..whole {
                let mut sealed = self
                    .inner
                    .read_staged(lock, staged, raw_offset(index)..raw_offset(index + 1))
                    .await?
                    .to_vec();
                hasher.update(key.open_segment(index, Role::Whole, &mut sealed)?);
            }
            hasher.update(&staged_tail(&*self.inner, lock, staged, &key).await?);
            check_digest(expected, hasher.finish())?;
        }
        let index = staged.size / SEGMENT;
        let tail = staged_tail(&*self.inner, lock, staged, &key).await?;
        let mut last = Vec::with_capacity(HEADER as usize + tail.len() + OVERHEAD as usize);
        if let Some(header) = &header {
            last.extend_from_slice(header);
        }
        key.seal(index, Role::Last(expected), &tail, &mut last)?;
        let raw_from = if header.is_some() {
            0
        } else {
            raw_offset(index)
        };
        let (name, sink) = self
            .inner
            .open_part(lock, &Self::raw_staged(staged, raw_from))
            .await?;
        sink.write_all(Bytes::from(last)).await?;
        let mut placed = Self::raw_staged(staged, raw_size(staged.size));
        if !placed.parts.iter().any(|part| part.name == name) {
            placed.parts.push(StagedPart { name, size: 0 });
        }
        self.inner.place(lock, &placed, expected).await?;
        Ok(staged.size)
    }

    async fn discard_part(&self, lock: &SessionLock, offset: u64, part: &StagedPart) -> Result<()> {
        // The chunk wrote from the start of the segment `offset` is in; what came before
        // it is whole segments.
        let raw_from = if offset == 0 {
            0
        } else {
            raw_offset(offset / SEGMENT)
        };
        self.inner.discard_part(lock, raw_from, part).await
    }

    async fn discard_upload(&self, session: &str) -> Result<()> {
        self.inner.discard_upload(session).await
    }

    async fn staged_sessions(&self) -> Result<Vec<String>> {
        self.inner.staged_sessions().await
    }

    async fn read_staged_start(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        len: u64,
    ) -> Result<Bytes> {
        self.inner.read_staged_start(lock, staged, len).await
    }

    async fn read_staged(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        range: Range<u64>,
    ) -> Result<Bytes> {
        self.inner.read_staged(lock, staged, range).await
    }

    async fn put_side(&self, lock: &SessionLock, name: &str, bytes: Bytes) -> Result<()> {
        self.inner.put_side(lock, name, bytes).await
    }

    async fn get_side(&self, lock: &SessionLock, name: &str) -> Result<Option<Bytes>> {
        self.inner.get_side(lock, name).await
    }

    async fn place(
        &self,
        lock: &SessionLock,
        staged: &StagedUpload,
        expected: &Digest,
    ) -> Result<u64> {
        self.inner.place(lock, staged, expected).await
    }

    #[cfg(test)]
    fn local_root(&self) -> Option<&std::path::Path> {
        self.inner.local_root()
    }
}

/// `stream`, ending in an error instead of its end when what it held does not hash to
/// `digest`.
fn verified(stream: BlobStream, digest: Digest) -> BlobStream {
    let hasher = DigestHasher::new(digest.algorithm());
    futures::stream::try_unfold(
        (stream, Some(hasher), digest),
        |(mut stream, mut hasher, digest)| async move {
            match stream.try_next().await? {
                Some(chunk) => {
                    if let Some(hasher) = hasher.as_mut() {
                        hasher.update(&chunk);
                    }
                    Ok(Some((chunk, (stream, hasher, digest))))
                }
                None => {
                    if let Some(hasher) = hasher.take() {
                        check_digest(&digest, hasher.finish()).map_err(|_| {
                            sealed_error(format!(
                                "blob {digest} is stored in the clear and its bytes do not \
                                 match its digest"
                            ))
                        })?;
                    }
                    Ok(None)
                }
            }
        },
    )
    .boxed()
}

/// Stores the unfinished segment a chunk leaves, under that chunk's name.
pub(crate) struct TailWriter {
    inner: Arc<dyn BlobBackend>,
    lock: SessionLock,
    part: String,
}

impl TailWriter {
    pub(crate) async fn store(self, end: u64, sealed: Bytes) -> Result<()> {
        self.inner
            .put_side(&self.lock, &tail_name(end, &self.part), sealed)
            .await
    }
}

/// Segments opened together: their plaintext goes out as one piece (as large as the
/// pieces of a clear blob), not one per segment.
const SEGMENTS_PER_PIECE: u64 = 16;

/// Where a blob's segments are, for [`open_segments`].
struct Span {
    /// The first segment `stored` starts with, and the last one needed.
    first: u64,
    through: u64,
    /// The blob's last segment, and its plaintext size.
    last: u64,
    size: u64,
    /// The plaintext wanted.
    range: Range<u64>,
    /// The blob's digest, which its last segment is bound to.
    digest: Digest,
}

/// Sealed pieces opened ahead of the one being sent: opening runs on the blocking pool,
/// on another core than the one serving the connection.
const PIECES_AHEAD: usize = 2;

/// Opens the sealed segments `span.first..=span.through`, streamed as `stored`, and yields
/// the plaintext of `span.range`.
fn open_segments(stored: BlobStream, key: DataKey, span: Span) -> BlobStream {
    let span = Arc::new(span);
    let key = Arc::new(key);
    sealed_pieces(stored, span.clone())
        .map(move |piece| {
            let (key, span) = (key.clone(), span.clone());
            async move {
                let (first, count, sealed) = piece?;
                tokio::task::spawn_blocking(move || open_piece(&key, &span, first, count, sealed))
                    .await?
            }
        })
        .buffered(PIECES_AHEAD)
        .try_filter(|piece| futures::future::ready(!piece.is_empty()))
        .boxed()
}

/// The stored bytes of up to [`SEGMENTS_PER_PIECE`] segments at a time: (first segment,
/// count, bytes).
fn sealed_pieces(
    stored: BlobStream,
    span: Arc<Span>,
) -> futures::stream::BoxStream<'static, Result<(u64, u64, BytesMut)>> {
    struct Cutting {
        stored: BlobStream,
        span: Arc<Span>,
        index: u64,
        buffer: BytesMut,
    }
    let state = Cutting {
        stored,
        index: span.first,
        span,
        buffer: BytesMut::new(),
    };
    futures::stream::try_unfold(state, |mut state| async move {
        let span = state.span.clone();
        if state.index > span.through {
            return Ok(None);
        }
        let count = SEGMENTS_PER_PIECE.min(span.through - state.index + 1);
        let want: usize = (state.index..state.index + count)
            .map(|index| span.sealed_len(index))
            .sum();
        while state.buffer.len() < want {
            match state.stored.try_next().await? {
                Some(chunk) => state.buffer.extend_from_slice(&chunk),
                None => {
                    return Err(sealed_error(format!(
                        "segment {} is cut short: the stored blob was truncated",
                        state.index
                    )));
                }
            }
        }
        let piece = state.buffer.split_to(want);
        let first = state.index;
        state.index += count;
        Ok(Some(((first, count, piece), state)))
    })
    .boxed()
}

impl Span {
    fn role(&self, index: u64) -> Role<'_> {
        if index == self.last {
            Role::Last(&self.digest)
        } else {
            Role::Whole
        }
    }

    fn sealed_len(&self, index: u64) -> usize {
        let plain = if index == self.last {
            self.size % SEGMENT
        } else {
            SEGMENT
        };
        (plain + OVERHEAD) as usize
    }
}

/// Opens `count` segments from `first` in place and moves the wanted plaintext of each to
/// the front: one buffer, no copy but that. Blocking (it is the CPU's work).
fn open_piece(
    key: &DataKey,
    span: &Span,
    first: u64,
    count: u64,
    mut piece: BytesMut,
) -> Result<Bytes> {
    let (mut at, mut filled) = (0usize, 0usize);
    for index in first..first + count {
        let len = span.sealed_len(index);
        let opened = key
            .open_segment(index, span.role(index), &mut piece[at..at + len])?
            .len() as u64;
        let start = index * SEGMENT;
        let from = span.range.start.saturating_sub(start).min(opened) as usize;
        let to = span.range.end.saturating_sub(start).min(opened) as usize;
        let begin = at + NONCE_LEN + from;
        let end = at + NONCE_LEN + to.max(from);
        piece.copy_within(begin..end, filled);
        filled += end - begin;
        at += len;
    }
    piece.truncate(filled);
    Ok(piece.freeze())
}

/// What [`migrate_directory`] or [`rotate_directory`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// Blobs changed.
    pub changed: u64,
    /// Blobs that needed nothing.
    pub unchanged: u64,
}

/// The committed blob files of a local store under `root` (its `blobs/` folder).
fn blob_files(root: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let mut folders = vec![root.join("blobs")];
    while let Some(folder) = folders.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let name = entry.file_name();
            // Our own temporary files, of a migration that stopped half-way.
            if name.to_string_lossy().ends_with(".sealing") {
                std::fs::remove_file(entry.path())?;
            } else if kind.is_dir() {
                folders.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The digest a blob file is named by: `…/<algorithm>/<2 hex>/<hex>`.
fn digest_of_path(path: &std::path::Path) -> Result<Digest> {
    let name = |path: Option<&std::path::Path>| {
        path.and_then(std::path::Path::file_name)
            .and_then(|name| name.to_str())
            .map(str::to_owned)
    };
    let (Some(hex), Some(algorithm)) = (
        name(Some(path)),
        name(path.parent().and_then(std::path::Path::parent)),
    ) else {
        return Err(sealed_error(format!(
            "{} is not a blob's file",
            path.display()
        )));
    };
    format!("{algorithm}:{hex}")
        .parse()
        .map_err(|_| sealed_error(format!("{} is not a blob's file", path.display())))
}

fn read_header(path: &std::path::Path) -> Result<Option<Header>> {
    use std::io::Read;
    let mut start = Vec::with_capacity(HEADER as usize);
    std::fs::File::open(path)?
        .take(HEADER)
        .read_to_end(&mut start)?;
    Header::decode(&start)
}

/// Seals every blob of the local store under `root` that was stored before encryption was
/// switched on, each into a new file renamed over the old one (atomic: a reader sees the
/// old file or the new, and one that had the old open reads it to the end). Memory stays
/// one segment whatever the size. Blocking; safe to run again after it stopped.
pub fn migrate_directory(root: &std::path::Path, keys: &dyn KeyEncryption) -> Result<Rewritten> {
    use std::io::{Read, Write};
    let mut done = Rewritten::default();
    for path in blob_files(root)? {
        if read_header(&path)?.is_some() {
            done.unchanged += 1;
            continue;
        }
        let digest = digest_of_path(&path)?;
        let (key, header) = DataKey::create(keys)?;
        let temporary = path.with_extension("sealing");
        let mut source = std::io::BufReader::new(std::fs::File::open(&path)?);
        let mut target = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
        target.write_all(&header.encode())?;
        let mut segment = vec![0u8; SEGMENT as usize];
        let mut sealed = Vec::with_capacity(SEALED_SEGMENT as usize);
        let mut index = 0u64;
        loop {
            // A whole segment, unless the file ends first.
            let mut filled = 0;
            while filled < segment.len() {
                let read = source.read(&mut segment[filled..])?;
                if read == 0 {
                    break;
                }
                filled += read;
            }
            let last = filled < segment.len();
            sealed.clear();
            let role = if last {
                Role::Last(&digest)
            } else {
                Role::Whole
            };
            key.seal(index, role, &segment[..filled], &mut sealed)?;
            target.write_all(&sealed)?;
            if last {
                break;
            }
            index += 1;
        }
        let file = target.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)?;
        if let Some(folder) = path.parent() {
            std::fs::File::open(folder)?.sync_all()?;
        }
        done.changed += 1;
    }
    Ok(done)
}

/// Wraps the data key of every sealed blob of the local store under `root` with `keys`'
/// current key-encryption key, changing only its header: the data is not encrypted again
/// (the segments are copied as they are into a new file renamed over the old).
/// Blocking; safe to run again.
pub fn rotate_directory(root: &std::path::Path, keys: &dyn KeyEncryption) -> Result<Rewritten> {
    let mut done = Rewritten::default();
    for path in blob_files(root)? {
        let Some(header) = read_header(&path)? else {
            done.unchanged += 1;
            continue;
        };
        if header.wrapped.key_id == keys.current() {
            done.unchanged += 1;
            continue;
        }
        let context = Header::context(&header.blob_id);
        let data_key = keys.unwrap(&header.wrapped, &context)?;
        let rotated = Header {
            blob_id: header.blob_id,
            wrapped: keys.wrap(&data_key, &context)?,
        };
        // A new file with the new header and the same segments, renamed over the old: a
        // crash leaves one whole file or the other, never a blob without its data key.
        let temporary = path.with_extension("sealing");
        {
            use std::io::{Seek, Write};
            let mut source = std::fs::File::open(&path)?;
            source.seek(std::io::SeekFrom::Start(HEADER))?;
            let mut target = std::fs::File::create(&temporary)?;
            target.write_all(&rotated.encode())?;
            std::io::copy(&mut source, &mut target)?;
            target.sync_all()?;
        }
        std::fs::rename(&temporary, &path)?;
        if let Some(folder) = path.parent() {
            std::fs::File::open(folder)?.sync_all()?;
        }
        done.changed += 1;
    }
    Ok(done)
}
