//! Cosign key-based signatures of OCI manifests, verified against public keys an operator
//! trusts: the question this crate answers is "did the holder of this key sign this manifest
//! digest (for this repository)?".
//!
//! Cosign stores a signature in one of two ways, and both are verified here for ECDSA P-256
//! (what `cosign generate-key-pair` makes) and Ed25519 keys:
//!
//! 1. **Simple signing** (cosign's original format, still written with
//!    `--new-bundle-format=false`): a manifest tagged `sha256-<hex>.sig` ([`simple_signing_tag`]) in the image's
//!    repository, one layer per signature. Each layer blob is a JSON payload naming the
//!    manifest digest and the repository; the layer's `dev.cosignproject.cosign/signature`
//!    annotation is the base64 signature over the payload's exact bytes.
//!    [`simple_signing_layers`] lists the layers to fetch, [`verify_simple_signing`] checks one.
//! 2. **Sigstore bundle** (cosign v3's default, `--new-bundle-format`): an OCI 1.1 referrer of
//!    the image whose `artifactType` is a bundle media type and whose one layer is the bundle
//!    JSON. [`bundle_layers`] lists the layers to fetch, [`verify_bundle`] checks one: a DSSE
//!    envelope carrying an in-toto statement whose subject is the manifest digest (what
//!    `cosign sign` and `cosign attest` write), or a message signature over the digest itself
//!    (what signing a blob writes; P-256 only, see [`SignatureError::Ed25519MessageSignature`]).
//!
//! What a success means is one [`Verified`]: which key ([`TrustedKey::fingerprint`]), which
//! format, which digest.
//!
//! ## Invariants
//!
//! - **Authenticate, then interpret.** Signed bytes are checked against the key before any of
//!   their content is parsed or believed, so an attacker's payload reaches the JSON parser
//!   only when the trusted key signed it. Unsigned data (the bundle's envelope fields, the
//!   key hint, manifests, annotations) only ever chooses *which* error is reported, never
//!   whether verification succeeds.
//! - **Trust is a key, never the bundle.** Certificates, certificate chains and transparency
//!   log entries in a bundle are not verified and never make a signature acceptable: keyless
//!   (Fulcio) signing is out of scope. Log entries are counted in [`Verified::tlog_entries`]
//!   for reports, nothing more.
//! - **Bounded and panic-free on hostile input.** Every input has a size cap
//!   ([`MAX_PAYLOAD_BYTES`], [`MAX_BUNDLE_BYTES`], [`MAX_SIGNATURE_BASE64_BYTES`],
//!   [`MAX_PEM_BYTES`], [`MAX_MANIFEST_BYTES`]); JSON nesting is bounded by serde_json's
//!   recursion limit; strings from the input are cut short before they are put into errors.
//! - **Pure.** No I/O, no clock, no network, no global state: the caller fetches manifests and
//!   blobs (by digest, from its own store) and passes their bytes in.
//!
//! ## Compatibility with what cosign writes
//!
//! - ECDSA signatures are ASN.1 DER (what Go writes); the fixed 64-byte `r || s` form is
//!   accepted too. High-S signatures are valid (Go does not normalize S).
//! - Ed25519 signatures are accepted both as pure Ed25519 (older cosign releases and other
//!   tools) and as Ed25519ph with an empty context (RFC 8032 §5.1, SHA-512 prehash), which
//!   cosign uses by default for Ed25519 keys. The two are domain-separated, so accepting both
//!   lets no signature of one kind pass as the other.
//! - Simple-signing payload member names match ASCII case-insensitively, as Go's
//!   `encoding/json` reads them (early cosign wrote `"Critical"`, `"Docker-manifest-digest"`);
//!   a member given twice, in any case, is refused as ambiguous.
//! - Bundle JSON is read as protobuf JSON: lowerCamelCase or proto field names, base64 with or
//!   without padding, standard or URL-safe alphabet, enums by name or number.

mod bundle;
mod digest;
mod encoding;
mod error;
mod json;
mod key;
mod manifest;
mod simple_signing;

use std::fmt;

pub use bundle::{is_bundle_media_type, verify_bundle};
pub use digest::simple_signing_tag;
pub use error::SignatureError;
pub use key::{KeyAlgorithm, TrustedKey};
pub use manifest::{BundleLayer, SimpleSigningLayer, bundle_layers, simple_signing_layers};
pub use simple_signing::verify_simple_signing;

/// A simple-signing payload (the `.sig` layer blob) is a few hundred bytes; cosign's
/// `-a key=value` annotations make it larger, never megabytes.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// A key-based bundle is a few KiB (a log entry with its inclusion proof adds about 3 KiB).
pub const MAX_BUNDLE_BYTES: usize = 1 << 20;

/// Base64 of a P-256 DER signature is 96 characters and of an Ed25519 one 88; the cap leaves
/// room for larger future schemes and refuses megabyte "signatures" before decoding them.
pub const MAX_SIGNATURE_BASE64_BYTES: usize = 64 << 10;

/// A PEM public key is a few hundred bytes (RSA-4096, which is refused, is under 1 KiB).
pub const MAX_PEM_BYTES: usize = 64 << 10;

/// The OCI distribution spec has registries accept manifests of at least 4 MiB; a signature
/// manifest is a few KiB.
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Layers of one simple-signing manifest; each `cosign sign` of the same digest appends one.
pub const MAX_SIGNATURE_LAYERS: usize = 1000;

/// Media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// Layer annotation holding the base64 signature over the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// Layer annotation holding a PEM certificate (keyless or `--certificate` signing).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";

/// Layer annotation holding a Rekor bundle (a transparency-log entry) as JSON.
pub const REKOR_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// The `critical.type` of a cosign simple-signing payload.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";

/// The current Sigstore bundle media type, the `artifactType` of cosign's referrers.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Every bundle media type accepted, current and earlier forms (see `sigstore_bundle.proto`).
pub const BUNDLE_MEDIA_TYPES: [&str; 4] = [
    BUNDLE_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
];

/// The DSSE payload type of an in-toto statement, the only one accepted.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The predicate type of the statement `cosign sign` writes in bundle format (an "I sign this
/// image" statement with an empty predicate). `cosign attest` writes other predicate types
/// (SLSA provenance, SBOMs, …); [`verify_bundle`] accepts any and reports it in
/// [`Verified::predicate_type`], so a policy that wants signatures only can require this one.
pub const COSIGN_SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Which of cosign's two storage formats a signature came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureFormat {
    /// A `sha256-<hex>.sig` layer: payload blob plus signature annotation.
    SimpleSigning,
    /// A Sigstore bundle attached as an OCI 1.1 referrer.
    SigstoreBundle,
}

impl SignatureFormat {
    /// `"simple-signing"` or `"sigstore-bundle"`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureFormat::SimpleSigning => "simple-signing",
            SignatureFormat::SigstoreBundle => "sigstore-bundle",
        }
    }
}

impl fmt::Display for SignatureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signature that verified: the trusted key signed a statement about this manifest digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verified {
    /// [`TrustedKey::fingerprint`] of the key that verified: `sha256:` and 64 hex digits.
    pub key_fingerprint: String,
    pub format: SignatureFormat,
    /// The manifest digest the signature is for, `sha256:<hex>` (the one the caller expected).
    pub digest: String,
    /// The simple-signing payload's `critical.identity.docker-reference`, as signed; `None`
    /// for bundles, whose statements name no repository.
    pub docker_reference: Option<String>,
    /// Transparency-log entries the bundle carries. They are not verified (that needs the
    /// log's key and is out of scope); `0` for simple signing, whose log entries live in a
    /// separate annotation ([`REKOR_BUNDLE_ANNOTATION`]).
    pub tlog_entries: usize,
    /// The in-toto statement's `predicateType` for DSSE bundles (see
    /// [`COSIGN_SIGN_PREDICATE_TYPE`]); `None` for simple signing and message signatures.
    pub predicate_type: Option<String>,
}

/// At most this many characters of a string from the input go into an error message.
const EXCERPT_CHARS: usize = 128;

/// `text` cut to [`EXCERPT_CHARS`] characters (marked with `…` when cut), for errors: a
/// hostile input must not turn one error message into a megabyte log line.
pub(crate) fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// `Err(TooLarge)` when `actual` exceeds `limit`.
pub(crate) fn check_size(
    what: &'static str,
    unit: &'static str,
    actual: usize,
    limit: usize,
) -> Result<(), SignatureError> {
    if actual > limit {
        Err(SignatureError::TooLarge {
            what,
            unit,
            actual,
            limit,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
