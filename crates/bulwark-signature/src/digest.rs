//! Manifest digests as cosign uses them: `sha256:` and 64 lowercase hex digits, parsed once
//! into [`ManifestDigest`] so every comparison is between validated values.
//!
//! Cosign pins signatures to the registry's own hash (SIGNATURE_SPEC.md, "Hash Algorithm -
//! None!"), which is SHA-256 for every manifest it signs; other algorithms are refused rather
//! than half-supported.

use crate::{SignatureError, excerpt};

/// A validated `sha256:<64 lowercase hex>` digest and its 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManifestDigest {
    hex: String,
    bytes: [u8; 32],
}

impl ManifestDigest {
    /// Parses `sha256:` and exactly 64 lowercase hex digits (the OCI grammar for sha256).
    pub(crate) fn parse(text: &str) -> Result<ManifestDigest, SignatureError> {
        let hex_digits = text
            .strip_prefix("sha256:")
            .ok_or_else(|| invalid_digest(text))?;
        if hex_digits.len() != 64 || !hex_digits.bytes().all(is_lower_hex) {
            return Err(invalid_digest(text));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut bytes).map_err(|_| invalid_digest(text))?;
        Ok(ManifestDigest {
            hex: hex_digits.to_owned(),
            bytes,
        })
    }

    /// `sha256:<hex>`.
    pub(crate) fn text(&self) -> String {
        format!("sha256:{}", self.hex)
    }

    /// The 64 hex digits.
    pub(crate) fn hex(&self) -> &str {
        &self.hex
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

fn invalid_digest(text: &str) -> SignatureError {
    SignatureError::InvalidDigest {
        found: excerpt(text),
    }
}

fn is_lower_hex(byte: u8) -> bool {
    matches!(byte, b'0'..=b'9' | b'a'..=b'f')
}

/// Whether `text` is an OCI descriptor digest this crate passes on to callers: sha256 (64)
/// or sha512 (128 lowercase hex digits). Layer digests are only handed back for fetching by
/// digest, so sha512 blobs are allowed even though manifests are signed by sha256.
pub(crate) fn is_descriptor_digest(text: &str) -> bool {
    let Some((algorithm, encoded)) = text.split_once(':') else {
        return false;
    };
    let expected_len = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => return false,
    };
    encoded.len() == expected_len && encoded.bytes().all(is_lower_hex)
}

/// The tag under which cosign stores the simple-signing signatures of a manifest, in the
/// manifest's repository: `sha256:<hex>` becomes `sha256-<hex>.sig`.
///
/// The digest is validated first (a `Result` rather than a bare `String`), so a tag is never
/// built from a string that is not a digest.
pub fn simple_signing_tag(digest: &str) -> Result<String, SignatureError> {
    let digest = ManifestDigest::parse(digest)?;
    Ok(format!("sha256-{}.sig", digest.hex()))
}
