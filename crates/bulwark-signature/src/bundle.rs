//! Sigstore bundles (`sigstore_bundle.proto`, cosign's BUNDLE_SPEC.md) verified with a
//! trusted key.
//!
//! A bundle is `verificationMaterial` (a key hint, or a certificate for keyless signing, plus
//! transparency-log entries and timestamps) and one signed content:
//!
//! - `dsseEnvelope`: a DSSE envelope whose one signature covers the envelope's pre-auth
//!   encoding, `"DSSEv1" SP len(type) SP type SP len(body) SP body`, and whose body is an
//!   in-toto statement. The manifest is the statement's subject (`subject[].digest.sha256`).
//!   This is what `cosign sign` (predicate `https://sigstore.dev/cosign/sign/v1`) and
//!   `cosign attest` attach to images.
//! - `messageSignature`: a signature over an artifact whose SHA-256 the bundle carries. For
//!   an image the artifact is the manifest, so the digest must be the manifest digest; the
//!   signature is checked over the digest (ECDSA prehash), which Ed25519 cannot do.
//!
//! Only the key decides: the hint is unauthenticated and only sharpens the error when the
//! signature fails; certificates and log entries are never verified (keyless signing is out
//! of scope) — a bundle with a certificate verifies only if the trusted key made its
//! signature, and otherwise fails with [`SignatureError::KeylessUnsupported`].

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::digest::ManifestDigest;
use crate::encoding::decode_protojson_bytes;
use crate::json::{self, JsonNode, KeyMatch, Members, members};
use crate::{
    BUNDLE_MEDIA_TYPES, IN_TOTO_PAYLOAD_TYPE, MAX_BUNDLE_BYTES, MAX_SIGNATURE_BASE64_BYTES,
    SignatureError, SignatureFormat, TrustedKey, Verified, check_size, excerpt,
};

/// The in-toto statement types accepted (v1 is what cosign writes today, v0.1 before).
const STATEMENT_TYPES: [&str; 2] = [
    "https://in-toto.io/Statement/v1",
    "https://in-toto.io/Statement/v0.1",
];

/// Whether `media_type` is a Sigstore bundle media type ([`crate::BUNDLE_MEDIA_TYPES`]): the
/// test for a referrer's `artifactType` and for its layer's `mediaType`.
pub fn is_bundle_media_type(media_type: &str) -> bool {
    BUNDLE_MEDIA_TYPES.contains(&media_type)
}

// The protobuf JSON shape of a bundle, as far as verification reads it. Protobuf JSON
// accepts lowerCamelCase and the proto field name for every field; serde refuses a field
// given under both ("duplicate field"), as protojson does. Unknown fields are ignored, as
// new bundle versions add some; `null` is an absent field.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleJson {
    #[serde(alias = "media_type")]
    media_type: Option<String>,
    #[serde(alias = "verification_material")]
    verification_material: Option<VerificationMaterialJson>,
    #[serde(alias = "message_signature")]
    message_signature: Option<MessageSignatureJson>,
    #[serde(alias = "dsse_envelope")]
    dsse_envelope: Option<EnvelopeJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterialJson {
    #[serde(alias = "public_key")]
    public_key: Option<PublicKeyIdentifierJson>,
    #[serde(alias = "x509_certificate_chain")]
    x509_certificate_chain: Option<IgnoredAny>,
    certificate: Option<IgnoredAny>,
    #[serde(alias = "tlog_entries")]
    tlog_entries: Option<Vec<IgnoredAny>>,
}

#[derive(Deserialize)]
struct PublicKeyIdentifierJson {
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageSignatureJson {
    #[serde(alias = "message_digest")]
    message_digest: Option<HashOutputJson>,
    signature: Option<String>,
}

#[derive(Deserialize)]
struct HashOutputJson {
    /// The `HashAlgorithm` enum, by name (`"SHA2_256"`) or number (`1`).
    algorithm: Option<serde_json::Value>,
    digest: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvelopeJson {
    payload: Option<String>,
    payload_type: Option<String>,
    signatures: Option<Vec<DsseSignatureJson>>,
}

#[derive(Deserialize)]
struct DsseSignatureJson {
    sig: Option<String>,
    keyid: Option<String>,
}

/// Who the bundle says signed it.
enum Signer {
    /// A key-based bundle; the hint, when not empty, is cosign's base64 SHA-256 of the SPKI.
    PublicKey { hint: Option<String> },
    /// A certificate or certificate chain (keyless, or `cosign sign --certificate`).
    Certificate,
}

fn malformed(reason: impl Into<String>) -> SignatureError {
    SignatureError::MalformedBundle {
        reason: reason.into(),
    }
}

/// Verifies a Sigstore bundle (the blob of a referrer's layer) for the manifest
/// `expected_digest` with `key`.
///
/// Refused: a bundle over [`MAX_BUNDLE_BYTES`], a media type not in
/// [`crate::BUNDLE_MEDIA_TYPES`], contradictory verification material or content (both or
/// neither of a oneof), a DSSE envelope without exactly one signature or whose `keyid`
/// differs from the key hint, a signature that does not verify with `key`, a DSSE payload
/// type other than in-toto, a statement none of whose subjects is `expected_digest`, a message
/// digest that is not `expected_digest` or not SHA2_256, and a message signature checked with
/// an Ed25519 key.
pub fn verify_bundle(
    bundle_json: &[u8],
    key: &TrustedKey,
    expected_digest: &str,
) -> Result<Verified, SignatureError> {
    let expected = ManifestDigest::parse(expected_digest)?;
    check_size(
        "Sigstore bundle",
        "bytes",
        bundle_json.len(),
        MAX_BUNDLE_BYTES,
    )?;
    let bundle: BundleJson = serde_json::from_slice(bundle_json).map_err(|error| {
        // serde quotes offending values whole: a hostile document's could be huge.
        malformed(format!(
            "not a bundle JSON document: {}",
            crate::excerpt(&error.to_string())
        ))
    })?;

    let media_type = bundle
        .media_type
        .as_deref()
        .ok_or_else(|| malformed("no mediaType"))?;
    if !is_bundle_media_type(media_type) {
        return Err(SignatureError::UnsupportedMediaType {
            found: excerpt(media_type),
        });
    }

    let material = bundle
        .verification_material
        .as_ref()
        .ok_or_else(|| malformed("no verificationMaterial"))?;
    let signer = signer_of(material)?;
    let tlog_entries = material.tlog_entries.as_ref().map_or(0, Vec::len);

    let predicate_type = match (&bundle.message_signature, &bundle.dsse_envelope) {
        (Some(message), None) => {
            verify_message_signature(message, key, &expected, &signer)?;
            None
        }
        (None, Some(envelope)) => verify_dsse(envelope, key, &expected, &signer)?,
        (Some(_), Some(_)) => {
            return Err(malformed(
                "both messageSignature and dsseEnvelope (a bundle has one content)",
            ));
        }
        (None, None) => return Err(malformed("neither messageSignature nor dsseEnvelope")),
    };

    Ok(Verified {
        key_fingerprint: key.fingerprint().to_owned(),
        format: SignatureFormat::SigstoreBundle,
        digest: expected.text(),
        docker_reference: None,
        tlog_entries,
        predicate_type,
    })
}

fn signer_of(material: &VerificationMaterialJson) -> Result<Signer, SignatureError> {
    let forms = [
        material.public_key.is_some(),
        material.x509_certificate_chain.is_some(),
        material.certificate.is_some(),
    ];
    match forms.iter().filter(|&&present| present).count() {
        0 => Err(malformed(
            "verificationMaterial has no publicKey, certificate or x509CertificateChain",
        )),
        1 => Ok(match &material.public_key {
            Some(public_key) => Signer::PublicKey {
                hint: public_key.hint.clone().filter(|hint| !hint.is_empty()),
            },
            None => Signer::Certificate,
        }),
        _ => Err(malformed(
            "verificationMaterial has more than one of publicKey, certificate and x509CertificateChain",
        )),
    }
}

/// Replaces a "not this key's signature" error by one that says why, when the bundle's
/// (unauthenticated) material explains it; other errors pass through.
fn explain_key_failure(error: SignatureError, key: &TrustedKey, signer: &Signer) -> SignatureError {
    let not_this_key = matches!(
        error,
        SignatureError::SignatureMismatch { .. } | SignatureError::MalformedSignature { .. }
    );
    if !not_this_key {
        return error;
    }
    match signer {
        Signer::Certificate => SignatureError::KeylessUnsupported {
            key: key.fingerprint().to_owned(),
        },
        Signer::PublicKey { hint: Some(hint) } if *hint != key.cosign_hint() => {
            SignatureError::SignedByOtherKey {
                key: key.fingerprint().to_owned(),
                hint: excerpt(hint),
            }
        }
        Signer::PublicKey { .. } => error,
    }
}

fn verify_message_signature(
    message: &MessageSignatureJson,
    key: &TrustedKey,
    expected: &ManifestDigest,
    signer: &Signer,
) -> Result<(), SignatureError> {
    let digest = message
        .message_digest
        .as_ref()
        .ok_or_else(|| malformed("messageSignature has no messageDigest"))?;
    check_sha2_256(digest.algorithm.as_ref())?;
    let digest_text = digest
        .digest
        .as_deref()
        .ok_or_else(|| malformed("messageDigest has no digest"))?;
    let digest_bytes = decode_protojson_bytes(
        digest_text,
        "messageDigest.digest",
        MAX_SIGNATURE_BASE64_BYTES,
    )?;
    let digest_bytes = <[u8; 32]>::try_from(digest_bytes.as_slice())
        .map_err(|_| malformed("a SHA2_256 messageDigest is not 32 bytes"))?;
    let signature_text = message
        .signature
        .as_deref()
        .ok_or_else(|| malformed("messageSignature has no signature"))?;
    let signature = decode_protojson_bytes(
        signature_text,
        "messageSignature.signature",
        MAX_SIGNATURE_BASE64_BYTES,
    )?;

    key.verify_sha256_prehash(&digest_bytes, &signature)
        .map_err(|error| explain_key_failure(error, key, signer))?;
    if digest_bytes != *expected.bytes() {
        return Err(SignatureError::DigestMismatch {
            expected: expected.text(),
            found: format!("sha256:{}", hex::encode(digest_bytes)),
        });
    }
    Ok(())
}

fn check_sha2_256(algorithm: Option<&serde_json::Value>) -> Result<(), SignatureError> {
    use serde_json::Value;
    let found = match algorithm {
        Some(Value::String(name)) if name == "SHA2_256" => return Ok(()),
        Some(Value::Number(number)) if number.as_u64() == Some(1) => return Ok(()),
        None | Some(Value::Null) => "HASH_ALGORITHM_UNSPECIFIED".to_owned(),
        Some(Value::String(name)) => excerpt(name),
        Some(other) => excerpt(&other.to_string()),
    };
    Err(SignatureError::UnsupportedHashAlgorithm { found })
}

/// DSSE's pre-authentication encoding, the bytes the envelope's signature covers.
fn pre_auth_encoding(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let (type_len, body_len) = (payload_type.len(), payload.len());
    let mut encoded = format!("DSSEv1 {type_len} {payload_type} {body_len} ").into_bytes();
    encoded.extend_from_slice(payload);
    encoded
}

/// Verifies the envelope and its statement; returns the statement's predicate type.
fn verify_dsse(
    envelope: &EnvelopeJson,
    key: &TrustedKey,
    expected: &ManifestDigest,
    signer: &Signer,
) -> Result<Option<String>, SignatureError> {
    let payload_type = envelope
        .payload_type
        .as_deref()
        .ok_or_else(|| malformed("dsseEnvelope has no payloadType"))?;
    let payload_text = envelope
        .payload
        .as_deref()
        .ok_or_else(|| malformed("dsseEnvelope has no payload"))?;
    let payload = decode_protojson_bytes(payload_text, "dsseEnvelope.payload", MAX_BUNDLE_BYTES)?;
    let signatures = envelope.signatures.as_deref().unwrap_or(&[]);
    let [signature] = signatures else {
        return Err(malformed(format!(
            "the DSSE envelope has {} signatures; a bundle's envelope has exactly one",
            signatures.len()
        )));
    };
    let keyid = signature.keyid.as_deref().filter(|keyid| !keyid.is_empty());
    // sigstore_bundle.proto: "the key hints MUST be exactly the same in the verification
    // material and in the DSSE envelope".
    let hints_differ = matches!(
        (signer, keyid),
        (Signer::PublicKey { hint: Some(hint) }, Some(keyid)) if hint != keyid
    );
    if hints_differ {
        return Err(malformed(
            "the DSSE signature's keyid differs from the verification material's key hint",
        ));
    }
    let signature_text = signature
        .sig
        .as_deref()
        .ok_or_else(|| malformed("the DSSE signature has no sig"))?;
    let signature_bytes =
        decode_protojson_bytes(signature_text, "DSSE signature", MAX_SIGNATURE_BASE64_BYTES)?;

    key.verify_message(&pre_auth_encoding(payload_type, &payload), &signature_bytes)
        .map_err(|error| explain_key_failure(error, key, signer))?;

    if payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(SignatureError::WrongType {
            expected: IN_TOTO_PAYLOAD_TYPE,
            found: excerpt(payload_type),
        });
    }
    statement_predicate_type(&payload, expected)
}

fn malformed_statement(reason: impl std::fmt::Display) -> SignatureError {
    malformed(format!("in-toto statement: {reason}"))
}

fn statement_duplicate(name: String) -> SignatureError {
    malformed_statement(format!(
        "member {:?} appears more than once",
        excerpt(&name)
    ))
}

/// Checks the (authentic) statement's type and subjects; returns its predicate type.
fn statement_predicate_type(
    payload: &[u8],
    expected: &ManifestDigest,
) -> Result<Option<String>, SignatureError> {
    let root =
        json::parse(payload).map_err(|error| malformed_statement(format!("not JSON: {error}")))?;
    let top = root
        .as_object()
        .ok_or_else(|| malformed_statement(format!("a {}, not an object", root.kind())))?;
    let Members {
        found: [kind, subject, predicate_type],
        ..
    } = members(top, ["_type", "subject", "predicateType"], KeyMatch::Exact)
        .map_err(statement_duplicate)?;

    let kind = kind
        .and_then(JsonNode::as_str)
        .ok_or_else(|| malformed_statement("_type is missing or not a string"))?;
    if !STATEMENT_TYPES.contains(&kind) {
        return Err(SignatureError::WrongType {
            expected: STATEMENT_TYPES[0],
            found: excerpt(kind),
        });
    }

    let subjects = subject
        .and_then(JsonNode::as_array)
        .ok_or_else(|| malformed_statement("subject is missing or not an array"))?;
    let mut names_manifest = false;
    for subject in subjects {
        let subject = subject
            .as_object()
            .ok_or_else(|| malformed_statement("a subject is not an object"))?;
        let Members {
            found: [digests], ..
        } = members(subject, ["digest"], KeyMatch::Exact).map_err(statement_duplicate)?;
        let digests = digests
            .and_then(JsonNode::as_object)
            .ok_or_else(|| malformed_statement("a subject's digest is missing or not an object"))?;
        let Members {
            found: [sha256], ..
        } = members(digests, ["sha256"], KeyMatch::Exact).map_err(statement_duplicate)?;
        let Some(sha256) = sha256 else {
            continue;
        };
        let sha256 = sha256
            .as_str()
            .ok_or_else(|| malformed_statement("a subject's sha256 digest is not a string"))?;
        let mut bytes = [0u8; 32];
        if hex::decode_to_slice(sha256, &mut bytes).is_ok() && bytes == *expected.bytes() {
            names_manifest = true;
        }
    }
    if !names_manifest {
        return Err(SignatureError::SubjectMismatch {
            expected: expected.text(),
        });
    }

    match predicate_type {
        None | Some(JsonNode::Null) => Ok(None),
        Some(node) => node
            .as_str()
            .map(|text| Some(excerpt(text)))
            .ok_or_else(|| malformed_statement("predicateType is not a string")),
    }
}
