//! Why a signature, key or manifest was refused: one enum for the whole crate, each variant
//! with a stable [`SignatureError::code`] for reports and the wire, so callers map errors in
//! one place and never parse messages.
//!
//! Strings copied from the input into a variant are cut short (see `crate::excerpt`).

use thiserror::Error;

use crate::KeyAlgorithm;

/// Why verification (or parsing a key or a signature manifest) failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// An input is over its cap (see the `MAX_*` constants); nothing of it was parsed.
    #[error("{what} has {actual} {unit}, more than the limit of {limit}")]
    TooLarge {
        what: &'static str,
        unit: &'static str,
        actual: usize,
        limit: usize,
    },

    /// The expected digest passed by the caller is not `sha256:` and 64 lowercase hex digits.
    #[error("{found:?} is not a manifest digest: expected sha256: and 64 lowercase hex digits")]
    InvalidDigest { found: String },

    /// The expected repository passed by the caller is not a repository path.
    #[error("{found:?} is not a repository path such as team/app")]
    InvalidRepository { found: String },

    /// A base64 field (signature annotation, bundle bytes field) does not decode.
    #[error("{what} is not valid base64")]
    InvalidBase64 { what: &'static str },

    /// The text given as a public key is not one PEM `PUBLIC KEY` block.
    #[error("not a PEM public key: {reason}")]
    InvalidPem { reason: String },

    /// The key is well-formed but of a kind this crate does not verify (RSA, P-384, …), or
    /// its bytes are not a valid key of a supported kind.
    #[error("unsupported public key: {reason}")]
    UnsupportedKey { reason: String },

    /// An Ed25519 key of small order: signatures "verify" for it without its private key.
    #[error("the Ed25519 key is a point of small order, for which signatures can be forged")]
    WeakKey,

    /// The signature bytes cannot be a signature of the key's algorithm at all.
    #[error("the signature is not an {algorithm} signature: {reason}")]
    MalformedSignature {
        algorithm: KeyAlgorithm,
        reason: &'static str,
    },

    /// The signature is well-formed but does not verify with the trusted key: another key
    /// made it, or the signed bytes were changed.
    #[error("the signature does not verify with trusted key {key}")]
    SignatureMismatch { key: String },

    /// As [`SignatureError::SignatureMismatch`], and the bundle's (unauthenticated) key hint
    /// names another key: most likely it was signed with a key that is not trusted.
    #[error(
        "the signature does not verify with trusted key {key}; the bundle's key hint {hint:?} names another key"
    )]
    SignedByOtherKey { key: String, hint: String },

    /// The bundle carries a certificate (keyless or `--certificate` signing) and its
    /// signature does not verify with the trusted key. Certificates are never trusted here.
    #[error(
        "keyless bundles are not supported; trust a public key (this bundle carries a certificate, and its signature does not verify with trusted key {key})"
    )]
    KeylessUnsupported { key: String },

    /// The (authentic) simple-signing payload is not the JSON document cosign writes.
    #[error("malformed simple-signing payload: {reason}")]
    MalformedPayload { reason: String },

    /// An authentic payload of another type (simple-signing `critical.type`, DSSE
    /// `payloadType` or in-toto `_type`).
    #[error("the signed payload's type is {found:?}, not {expected:?}")]
    WrongType {
        expected: &'static str,
        found: String,
    },

    /// An authentic signature for another manifest.
    #[error("the signature is for {found}, not for manifest {expected}")]
    DigestMismatch { expected: String, found: String },

    /// An authentic simple-signing signature naming another repository (see
    /// [`crate::verify_simple_signing`] for the rule).
    #[error("the signature names {found:?}, not repository {expected:?}")]
    RepositoryMismatch { expected: String, found: String },

    /// The bundle is not a Sigstore bundle this crate can read (missing or contradictory
    /// members, a DSSE envelope without exactly one signature, …).
    #[error("malformed Sigstore bundle: {reason}")]
    MalformedBundle { reason: String },

    /// The bundle's `mediaType` is none of [`crate::BUNDLE_MEDIA_TYPES`].
    #[error("unsupported Sigstore bundle media type {found:?}")]
    UnsupportedMediaType { found: String },

    /// A message signature whose digest is not SHA2_256 (the OCI manifest digest algorithm).
    #[error("unsupported message digest algorithm {found}: only SHA2_256 is supported")]
    UnsupportedHashAlgorithm { found: String },

    /// A bundle message signature checked with an Ed25519 key. Ed25519 signs the message
    /// itself (Ed25519ph its SHA-512), so the bundle's SHA-256 digest cannot be verified.
    #[error(
        "a message-signature bundle cannot be verified with an Ed25519 key: Ed25519 signs the whole message and the bundle carries only its SHA-256 digest"
    )]
    Ed25519MessageSignature,

    /// An authentic in-toto statement none of whose subjects is the manifest.
    #[error("no subject of the signed in-toto statement has digest {expected}")]
    SubjectMismatch { expected: String },

    /// The signature manifest handed to a layer helper is not an OCI manifest.
    #[error("malformed OCI manifest: {reason}")]
    MalformedManifest { reason: String },
}

impl SignatureError {
    /// A stable kebab-case name for the variant, for reports, metrics and the wire.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::TooLarge { .. } => "too-large",
            SignatureError::InvalidDigest { .. } => "invalid-digest",
            SignatureError::InvalidRepository { .. } => "invalid-repository",
            SignatureError::InvalidBase64 { .. } => "invalid-base64",
            SignatureError::InvalidPem { .. } => "invalid-pem",
            SignatureError::UnsupportedKey { .. } => "unsupported-key",
            SignatureError::WeakKey => "weak-key",
            SignatureError::MalformedSignature { .. } => "malformed-signature",
            SignatureError::SignatureMismatch { .. } => "signature-mismatch",
            SignatureError::SignedByOtherKey { .. } => "signed-by-other-key",
            SignatureError::KeylessUnsupported { .. } => "keyless-unsupported",
            SignatureError::MalformedPayload { .. } => "malformed-payload",
            SignatureError::WrongType { .. } => "wrong-type",
            SignatureError::DigestMismatch { .. } => "digest-mismatch",
            SignatureError::RepositoryMismatch { .. } => "repository-mismatch",
            SignatureError::MalformedBundle { .. } => "malformed-bundle",
            SignatureError::UnsupportedMediaType { .. } => "unsupported-media-type",
            SignatureError::UnsupportedHashAlgorithm { .. } => "unsupported-hash-algorithm",
            SignatureError::Ed25519MessageSignature => "ed25519-message-signature",
            SignatureError::SubjectMismatch { .. } => "subject-mismatch",
            SignatureError::MalformedManifest { .. } => "malformed-manifest",
        }
    }

    /// Whether the error says the signature is not the trusted key's (as opposed to a
    /// malformed input or an authentic signature for something else): the cases a caller
    /// trying several trusted keys moves on to the next key for.
    pub fn is_key_mismatch(&self) -> bool {
        matches!(
            self,
            SignatureError::SignatureMismatch { .. }
                | SignatureError::SignedByOtherKey { .. }
                | SignatureError::KeylessUnsupported { .. }
                | SignatureError::MalformedSignature { .. }
        )
    }
}
