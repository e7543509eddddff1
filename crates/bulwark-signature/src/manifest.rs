//! The OCI manifests signatures are stored in, read only far enough to say which blobs to
//! fetch: the caller reads each blob by digest from its own store and hands the bytes to
//! [`crate::verify_simple_signing`] or [`crate::verify_bundle`].
//!
//! Nothing read here is trusted: a manifest can list any layers with any annotations. Those
//! only decide what is checked; what is accepted is decided by the signature checks.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::bundle::is_bundle_media_type;
use crate::digest::is_descriptor_digest;
use crate::{
    CERTIFICATE_ANNOTATION, MAX_MANIFEST_BYTES, MAX_SIGNATURE_LAYERS, REKOR_BUNDLE_ANNOTATION,
    SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SignatureError, check_size, excerpt,
};

/// One signature of a simple-signing manifest: fetch the blob `digest` (refuse it if over
/// [`crate::MAX_PAYLOAD_BYTES`]; `size` says so before fetching), then verify it with
/// `signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigningLayer {
    /// The payload blob's digest, `sha256:<hex>` (or `sha512:`).
    pub digest: String,
    /// [`SIMPLE_SIGNING_MEDIA_TYPE`].
    pub media_type: String,
    /// The payload's size as the manifest declares it.
    pub size: u64,
    /// The base64 signature annotation ([`SIGNATURE_ANNOTATION`]).
    pub signature: String,
    /// The layer has a certificate annotation: keyless or `--certificate` signing. It still
    /// verifies if the trusted key made the signature; the certificate itself is not used.
    pub has_certificate: bool,
    /// The layer has a Rekor bundle annotation (a transparency-log entry, not verified).
    pub has_rekor_bundle: bool,
}

/// One bundle of a Sigstore bundle referrer: fetch the blob `digest` (refuse it if over
/// [`crate::MAX_BUNDLE_BYTES`]) and verify it with [`crate::verify_bundle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleLayer {
    /// The bundle blob's digest.
    pub digest: String,
    /// One of [`crate::BUNDLE_MEDIA_TYPES`].
    pub media_type: String,
    /// The bundle's size as the manifest declares it.
    pub size: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestJson {
    artifact_type: Option<String>,
    config: Option<DescriptorJson>,
    layers: Option<Vec<DescriptorJson>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescriptorJson {
    media_type: Option<String>,
    digest: Option<String>,
    size: Option<u64>,
    annotations: Option<BTreeMap<String, String>>,
}

fn malformed(reason: impl Into<String>) -> SignatureError {
    SignatureError::MalformedManifest {
        reason: reason.into(),
    }
}

fn parse_manifest(manifest_json: &[u8]) -> Result<ManifestJson, SignatureError> {
    check_size(
        "OCI manifest",
        "bytes",
        manifest_json.len(),
        MAX_MANIFEST_BYTES,
    )?;
    let manifest: ManifestJson = serde_json::from_slice(manifest_json).map_err(|error| {
        // serde quotes offending values whole: a hostile document's could be huge.
        malformed(format!(
            "not an OCI manifest JSON document: {}",
            crate::excerpt(&error.to_string())
        ))
    })?;
    let layers = manifest.layers.as_ref().map_or(0, Vec::len);
    check_size("manifest", "layers", layers, MAX_SIGNATURE_LAYERS)?;
    Ok(manifest)
}

/// The digest and size of a layer to be fetched, validated.
fn fetchable(layer: &DescriptorJson) -> Result<(String, u64), SignatureError> {
    let digest = layer
        .digest
        .as_deref()
        .ok_or_else(|| malformed("a layer has no digest"))?;
    if !is_descriptor_digest(digest) {
        return Err(malformed(format!(
            "layer digest {:?} is not sha256:<64 hex> or sha512:<128 hex>",
            excerpt(digest)
        )));
    }
    let size = layer.size.ok_or_else(|| malformed("a layer has no size"))?;
    Ok((digest.to_owned(), size))
}

/// The signatures listed by a simple-signing manifest (the `sha256-<hex>.sig` tag): its
/// layers of [`SIMPLE_SIGNING_MEDIA_TYPE`] that carry a [`SIGNATURE_ANNOTATION`], in manifest
/// order. Other layers, and layers without a signature annotation, are skipped.
pub fn simple_signing_layers(
    manifest_json: &[u8],
) -> Result<Vec<SimpleSigningLayer>, SignatureError> {
    let manifest = parse_manifest(manifest_json)?;
    let mut found = Vec::new();
    for layer in manifest.layers.iter().flatten() {
        if layer.media_type.as_deref() != Some(SIMPLE_SIGNING_MEDIA_TYPE) {
            continue;
        }
        let annotations = layer.annotations.as_ref();
        let annotation = |name: &str| annotations.and_then(|map| map.get(name));
        let Some(signature) = annotation(SIGNATURE_ANNOTATION) else {
            continue;
        };
        let (digest, size) = fetchable(layer)?;
        found.push(SimpleSigningLayer {
            digest,
            media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
            size,
            signature: signature.clone(),
            has_certificate: annotation(CERTIFICATE_ANNOTATION).is_some(),
            has_rekor_bundle: annotation(REKOR_BUNDLE_ANNOTATION).is_some(),
        });
    }
    Ok(found)
}

/// The bundles of a referrer manifest whose artifact type (`artifactType`, or the config's
/// media type for manifests written before OCI 1.1 fixed the field) is a Sigstore bundle:
/// its layers of a bundle media type. Any other manifest has none (an empty list), so the
/// result of every referrer of an image can be collected without filtering first.
///
/// The referrer's `subject` is not checked: it is unsigned, and what binds a bundle to a
/// manifest is the signed content [`crate::verify_bundle`] checks.
pub fn bundle_layers(manifest_json: &[u8]) -> Result<Vec<BundleLayer>, SignatureError> {
    let manifest = parse_manifest(manifest_json)?;
    let artifact_type = manifest.artifact_type.as_deref().or_else(|| {
        manifest
            .config
            .as_ref()
            .and_then(|config| config.media_type.as_deref())
    });
    if !artifact_type.is_some_and(is_bundle_media_type) {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for layer in manifest.layers.iter().flatten() {
        let Some(media_type) = layer
            .media_type
            .as_deref()
            .filter(|media_type| is_bundle_media_type(media_type))
        else {
            continue;
        };
        let (digest, size) = fetchable(layer)?;
        found.push(BundleLayer {
            digest,
            media_type: media_type.to_owned(),
            size,
        });
    }
    Ok(found)
}
