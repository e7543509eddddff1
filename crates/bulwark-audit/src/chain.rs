//! What makes the log tamper-evident: each record's hash covers its predecessor's, and
//! checkpoints sign the end of the chain with the server's Ed25519 key. Both are defined
//! here in full, so that a verifier needs nothing but the store and the public key.
//!
//! A record's hash is SHA-256 over `bulwark-audit-record-v1`, then every field in this
//! order, each as a 4-byte big-endian length and its UTF-8 bytes (numbers in decimal,
//! absent values empty): seq, prev_hash, at_millis, actor, token_id, client_address,
//! request_id, category, operation, target, project, outcome, status, detail. A checkpoint
//! signs the text `bulwark-audit-checkpoint-v1\n{kind}\n{seq}\n{hash}\n{signed_at}`.

use std::collections::BTreeMap;
use std::path::Path;

use bulwark_metadata::{AuditCheckpoint, AuditEntry, AuditRecord, MetadataStore};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::{AuditError, Result};

/// The predecessor of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Checkpoints are made at least this often while records are written, so a stretch of
/// records longer than [`UNSIGNED_TOLERANCE_MILLIS`] with none after it means checkpoints
/// were removed.
pub const UNSIGNED_TOLERANCE_MILLIS: i64 = 60_000;

/// The hash of record `seq` whose predecessor's hash is `prev`.
pub fn record_hash(seq: i64, prev: &str, entry: &AuditEntry) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"bulwark-audit-record-v1");
    let mut field = |value: &str| {
        let length = u32::try_from(value.len()).unwrap_or(u32::MAX);
        hasher.update(length.to_be_bytes());
        hasher.update(value.as_bytes());
    };
    field(&seq.to_string());
    field(prev);
    field(&entry.at_millis.to_string());
    field(&entry.actor);
    field(entry.token_id.as_deref().unwrap_or(""));
    field(&entry.client_address);
    field(&entry.request_id);
    field(&entry.category);
    field(&entry.operation);
    field(&entry.target);
    field(entry.project.as_deref().unwrap_or(""));
    field(&entry.outcome);
    field(&entry.status.to_string());
    field(&entry.detail);
    hex::encode(hasher.finalize())
}

fn checkpoint_message(kind: &str, seq: i64, hash: &str, signed_at: i64) -> String {
    format!("bulwark-audit-checkpoint-v1\n{kind}\n{seq}\n{hash}\n{signed_at}")
}

/// A key's id: the first 16 hex digits of SHA-256 over its raw 32 bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// The server's checkpoint key.
#[derive(Clone)]
pub struct CheckpointSigner {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// Reads the PKCS#8 PEM key at `path`, or makes one there (mode 0600) when there is no
    /// file yet.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(pem) => Self::from_pem(&pem).map_err(|reason| AuditError::Key {
                path: path.display().to_string(),
                reason,
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let signer = Self::generate()?;
                signer.write_new(path)?;
                tracing::info!(path = %path.display(), key_id = %signer.key_id, "made the audit checkpoint key");
                Ok(signer)
            }
            Err(error) => Err(AuditError::Io {
                path: path.display().to_string(),
                error,
            }),
        }
    }

    /// Reads an existing key; a missing file is an error (commands that must not make one).
    pub fn load(path: &Path) -> Result<Self> {
        let pem = std::fs::read_to_string(path).map_err(|error| AuditError::Io {
            path: path.display().to_string(),
            error,
        })?;
        Self::from_pem(&pem).map_err(|reason| AuditError::Key {
            path: path.display().to_string(),
            reason,
        })
    }

    pub fn generate() -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| AuditError::Random(e.to_string()))?;
        Ok(Self::from_key(SigningKey::from_bytes(&seed)))
    }

    fn from_key(key: SigningKey) -> Self {
        let key_id = key_id(&key.verifying_key());
        CheckpointSigner { key, key_id }
    }

    fn from_pem(pem: &str) -> std::result::Result<Self, String> {
        SigningKey::from_pkcs8_pem(pem)
            .map(Self::from_key)
            .map_err(|e| format!("not an Ed25519 PKCS#8 PEM private key: {e}"))
    }

    fn write_new(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        let io = |error| AuditError::Io {
            path: path.display().to_string(),
            error,
        };
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| AuditError::Key {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        file.write_all(pem.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key as PEM (SubjectPublicKeyInfo), what `audit verify` needs.
    pub fn public_key_pem(&self) -> Result<String> {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| AuditError::Key {
                path: "the checkpoint key".into(),
                reason: e.to_string(),
            })
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// A signed statement that the chain up to `seq` ends in `hash`.
    pub fn sign(&self, kind: &str, seq: i64, hash: &str, signed_at: i64) -> AuditCheckpoint {
        let signature = self
            .key
            .sign(checkpoint_message(kind, seq, hash, signed_at).as_bytes());
        AuditCheckpoint {
            seq,
            kind: kind.to_owned(),
            hash: hash.to_owned(),
            signed_at,
            key_id: self.key_id.clone(),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

/// A public key given as PEM (SubjectPublicKeyInfo).
pub fn parse_public_key(pem: &str) -> std::result::Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(pem)
        .map_err(|e| format!("not an Ed25519 PEM public key: {e}"))
}

/// One thing verification found wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The record (or checkpoint) sequence number it is found at.
    pub seq: i64,
    /// `altered`, `missing`, `broken_link`, `checkpoint_mismatch`, `bad_signature`,
    /// `unknown_key`, `truncated`, `bad_start`, `unsigned_tail`.
    pub kind: &'static str,
    pub message: String,
}

/// What `audit verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub records: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// Checkpoints whose signature verified.
    pub checkpoints: u64,
    /// The newest record a verified checkpoint covers.
    pub signed_through: Option<i64>,
    /// Records after it: a cut-off tail among these could not be told from records never
    /// written.
    pub unsigned_records: u64,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Records read per page: verification's memory stays flat whatever the log's length.
const VERIFY_PAGE: u32 = 5_000;

/// Checks the whole log in `store` against `keys` (every key checkpoints may be signed
/// with): each record's hash, each link, each checkpoint's signature and hash, the start
/// (record 1, or the record after a signed retention cut) and the end.
pub async fn verify(store: &MetadataStore, keys: &[VerifyingKey]) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let keys: BTreeMap<String, &VerifyingKey> = keys.iter().map(|k| (key_id(k), k)).collect();
    // seq → the verified checkpoints at it.
    let mut signed: BTreeMap<i64, Vec<AuditCheckpoint>> = BTreeMap::new();
    for checkpoint in store.audit_checkpoints().await? {
        let Some(key) = keys.get(&checkpoint.key_id) else {
            report.problems.push(Problem {
                seq: checkpoint.seq,
                kind: "unknown_key",
                message: format!(
                    "the {} at record {} is signed by key {}, which is not among the keys given",
                    checkpoint.kind, checkpoint.seq, checkpoint.key_id
                ),
            });
            continue;
        };
        let message = checkpoint_message(
            &checkpoint.kind,
            checkpoint.seq,
            &checkpoint.hash,
            checkpoint.signed_at,
        );
        let valid = hex::decode(&checkpoint.signature)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .is_some_and(|signature| key.verify(message.as_bytes(), &signature).is_ok());
        if !valid {
            report.problems.push(Problem {
                seq: checkpoint.seq,
                kind: "bad_signature",
                message: format!(
                    "the {} at record {} (signed at {}) does not verify: it was altered or forged",
                    checkpoint.kind,
                    checkpoint.seq,
                    crate::format_millis(checkpoint.signed_at)
                ),
            });
            continue;
        }
        report.checkpoints += 1;
        signed.entry(checkpoint.seq).or_default().push(checkpoint);
    }

    let mut previous: Option<AuditRecord> = None;
    // The last record a checkpoint confirmed: where a later mismatch's range starts.
    let mut last_confirmed: Option<i64> = None;
    let mut after = 0i64;
    loop {
        let page = store.audit_records_after(after, VERIFY_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in page {
            check_record(&record, previous.as_ref(), &signed, &mut report);
            for checkpoint in signed.get(&record.seq).into_iter().flatten() {
                if checkpoint.kind == "cut" {
                    // A cut names the last record removed: one still here was not removed.
                    continue;
                }
                if checkpoint.hash == record.hash
                    && record.hash == record_hash(record.seq, &record.prev_hash, &record.entry)
                {
                    last_confirmed = Some(record.seq);
                    report.signed_through = Some(record.seq);
                } else {
                    let since = last_confirmed.map_or_else(
                        || "the start".to_owned(),
                        |seq| format!("record {}", seq + 1),
                    );
                    report.problems.push(Problem {
                        seq: record.seq,
                        kind: "checkpoint_mismatch",
                        message: format!(
                            "the chain up to record {} differs from what the checkpoint signed at {} covers: records from {since} to {} were changed, inserted, removed or reordered",
                            record.seq,
                            crate::format_millis(checkpoint.signed_at),
                            record.seq
                        ),
                    });
                }
            }
            report.records += 1;
            report.first_seq.get_or_insert(record.seq);
            report.last_seq = Some(record.seq);
            previous = Some(record);
        }
    }

    let last_seq = report.last_seq.unwrap_or(0);
    for (seq, checkpoints) in signed.range(last_seq + 1..) {
        if let Some(checkpoint) = checkpoints.iter().find(|c| c.kind == "checkpoint") {
            report.problems.push(Problem {
                seq: *seq,
                kind: "truncated",
                message: format!(
                    "records {} to {seq} are missing: the checkpoint signed at {} covers them",
                    last_seq + 1,
                    crate::format_millis(checkpoint.signed_at)
                ),
            });
            break;
        }
    }
    if let Some(last) = &previous {
        let signed_through = report.signed_through.unwrap_or(0);
        report.unsigned_records = u64::try_from(last.seq - signed_through).unwrap_or(0);
        // The oldest record no checkpoint covers: its age against the newest tells whether
        // checkpoints that should be there are gone.
        if report.unsigned_records > 0 {
            let first_unsigned = signed_through + 1;
            if let Some(oldest) = store
                .audit_records_after(first_unsigned - 1, 1)
                .await?
                .into_iter()
                .next()
                && last.entry.at_millis - oldest.entry.at_millis > UNSIGNED_TOLERANCE_MILLIS
            {
                report.problems.push(Problem {
                    seq: first_unsigned,
                    kind: "unsigned_tail",
                    message: format!(
                        "records {first_unsigned} to {} span more than {} s with no checkpoint after them: checkpoints were removed",
                        last.seq,
                        UNSIGNED_TOLERANCE_MILLIS / 1000
                    ),
                });
            }
        }
    }
    report.problems.sort_by_key(|problem| problem.seq);
    Ok(report)
}

/// One record against its own hash, its predecessor and, for the first, the log's start.
fn check_record(
    record: &AuditRecord,
    previous: Option<&AuditRecord>,
    signed: &BTreeMap<i64, Vec<AuditCheckpoint>>,
    report: &mut VerifyReport,
) {
    let recomputed = record_hash(record.seq, &record.prev_hash, &record.entry);
    if recomputed != record.hash {
        report.problems.push(Problem {
            seq: record.seq,
            kind: "altered",
            message: format!(
                "record {} ({}, {} {}) was altered: its content does not match its hash",
                record.seq,
                crate::format_millis(record.entry.at_millis),
                record.entry.actor,
                record.entry.operation
            ),
        });
    }
    match previous {
        None => {
            let starts_at_cut = signed.get(&(record.seq - 1)).is_some_and(|checkpoints| {
                checkpoints
                    .iter()
                    .any(|c| c.kind == "cut" && c.hash == record.prev_hash)
            });
            let genesis = record.seq == 1 && record.prev_hash == GENESIS;
            if !genesis && !starts_at_cut {
                report.problems.push(Problem {
                    seq: record.seq,
                    kind: "bad_start",
                    message: format!(
                        "the log starts at record {} with no signed retention cut before it: records before it were removed",
                        record.seq
                    ),
                });
            }
        }
        Some(previous) => {
            if record.seq != previous.seq + 1 {
                report.problems.push(Problem {
                    seq: previous.seq + 1,
                    kind: "missing",
                    message: format!(
                        "records {} to {} are missing",
                        previous.seq + 1,
                        record.seq - 1
                    ),
                });
            } else if record.prev_hash != previous.hash {
                report.problems.push(Problem {
                    seq: record.seq,
                    kind: "broken_link",
                    message: format!(
                        "record {} does not follow record {}: a record was inserted, removed or moved here",
                        record.seq, previous.seq
                    ),
                });
            }
        }
    }
}
