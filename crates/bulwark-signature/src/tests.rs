#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

// ---------------------------------------------------------------------------------------
// Fixtures and independent vectors (provenance in tests/fixtures/README.md)
// ---------------------------------------------------------------------------------------

/// A cosign simple-signing signature (sigstore-rs test data).
const SIGSTORE_RS_KEY: &str = include_str!("../tests/fixtures/sigstore-rs-simple-signing/key.pub");
const SIGSTORE_RS_PAYLOAD: &[u8] =
    include_bytes!("../tests/fixtures/sigstore-rs-simple-signing/payload.json");
const SIGSTORE_RS_SIGNATURE: &str =
    include_str!("../tests/fixtures/sigstore-rs-simple-signing/signature.b64");
const SIGSTORE_RS_DIGEST: &str =
    "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";

/// A bundle cosign attached to an image as an OCI referrer (cosign test data): DSSE, in-toto
/// v0.1, keyless; `leaf-key.pub` is the public key of its leaf certificate.
const COSIGN_OCI_BUNDLE: &[u8] =
    include_bytes!("../tests/fixtures/cosign-oci-attestation/bundle.sigstore.json");
const COSIGN_OCI_LEAF_KEY: &str =
    include_str!("../tests/fixtures/cosign-oci-attestation/leaf-key.pub");
const COSIGN_OCI_DIGEST: &str =
    "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";

/// A key-based message-signature bundle over `a.txt` (sigstore-conformance test data).
const CONFORMANCE_BUNDLE: &[u8] =
    include_bytes!("../tests/fixtures/conformance-managed-key/bundle.sigstore.json");
const CONFORMANCE_KEY: &str = include_str!("../tests/fixtures/conformance-managed-key/key.pub");
const CONFORMANCE_WRONG_KEY: &str =
    include_str!("../tests/fixtures/conformance-managed-key/wrong-key.pub");
const CONFORMANCE_ARTIFACT: &[u8] =
    include_bytes!("../tests/fixtures/conformance-managed-key/a.txt");

/// Written by Python `cryptography` for the P-256 scalar 0x1111…11 (`p256_key(0x11)`).
const PYTHON_P256_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAhfmF/C2RDkoJ4+WmZ5pojpPLBUr
321s32bluAKC1O0ZSn3ry5dxLS3aPKhaqHZaVvRfx1hZllLyiXxlMG5XlA==
-----END PUBLIC KEY-----
";
const PYTHON_P256_FINGERPRINT: &str =
    "sha256:76805a63a6980c18075424a13f32772d02d7c71b4965754c1ce84f5841220327";
const PYTHON_P256_HINT: &str = "doBaY6aYDBgHVCShPzJ3LQLXxxtJZXVMHOhPWEEiAyc=";
/// The same key as SPKI with a compressed point.
const PYTHON_P256_COMPRESSED_SPKI: &str =
    "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgACAhfmF/C2RDkoJ4+WmZ5pojpPLBUr321s32bluAKC1O0=";
/// Python's ECDSA (random nonce, DER) over `PYTHON_PAYLOAD` with that key.
const PYTHON_P256_SIGNATURE: &str = "MEYCIQDI/rmTk/Tc/1KzXoZGL//OL7NpHD6kt9qPUDbMYQ9u5AIhAO3MjLSpu2A9MmxhCVovBlHqk/kLSBxIdbwWEepuTrMb";

/// Written by Python `cryptography` for the Ed25519 seed [7; 32] (`ed25519_key(7)`).
const PYTHON_ED25519_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=
-----END PUBLIC KEY-----
";
const PYTHON_ED25519_FINGERPRINT: &str =
    "sha256:324be2dea8bc44461b0233e51fa48902ed6b1cc671e7739af2551e0bfe68f54e";
/// Python's (deterministic) pure Ed25519 signature over `PYTHON_PAYLOAD`.
const PYTHON_ED25519_SIGNATURE: &str =
    "pnzmJzg1g5MuPGR0vjEPGE6CKsXg8KpzFGdw/0ZP/ddaNhWWkGPfdp1OJg3WI9x/qHYmaKIPoGbZdqIHFyHAAw==";

/// A payload exactly as cosign writes it (no annotations), for `DIGEST` and `REFERENCE`.
const PYTHON_PAYLOAD: &str = r#"{"critical":{"identity":{"docker-reference":"registry.example:5000/team/app"},"image":{"docker-manifest-digest":"sha256:bafebd36189ad3688b7b3915ea55d461e0bfcfbdde11e54b0a123999fb6be50f"},"type":"cosign container image signature"},"optional":null}"#;

/// An RSA-1024 and a P-384 public key (Python `cryptography`), both unsupported.
const RSA_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC/wxMlVcAifPoc1dGMAFnHqio8
S34DyiAlr05KkLDQsNjQTbOnOTDcijy/1oOQ8CFiNkjF6zCpNCg/WZiRsH0hjPGp
L3MfFhep+sjFW5H8HjKOQxQZ2QgvIWvmXeW39WybanxmI4JYDQnKc7/CUL4jgZAH
8zpqegEBTGxGr8WKGQIDAQAB
-----END PUBLIC KEY-----
";
const P384_PEM: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEuBA8zdlI9TqR0X/czMXe/LtHGcFLBx2P
CT/IGHbXlaMS0GyPqMjIo7z8HYnXdebBszp+PKKyOCc7umpE7DeXO9rTfP13tlzL
P0oC7aL5nIkLht9f21bAI+2y7OfRaGef
-----END PUBLIC KEY-----
";

/// RFC 8032 §7.1 TEST 1 (pure Ed25519, empty message).
const RFC8032_PURE_PUBLIC: &str =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const RFC8032_PURE_SIGNATURE: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
/// RFC 8032 §7.3 (Ed25519ph, message "abc"): the variant cosign signs with by default.
const RFC8032_PH_PUBLIC: &str = "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf";
const RFC8032_PH_SIGNATURE: &str = "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406";

// ---------------------------------------------------------------------------------------
// Helpers: keys and signatures made the way cosign makes them
// ---------------------------------------------------------------------------------------

const DIGEST: &str = "sha256:bafebd36189ad3688b7b3915ea55d461e0bfcfbdde11e54b0a123999fb6be50f";
const OTHER_DIGEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000001";
const REPOSITORY: &str = "team/app";
const REFERENCE: &str = "registry.example:5000/team/app";

fn digest_hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap()
}

fn digest_bytes(digest: &str) -> Vec<u8> {
    hex::decode(digest_hex(digest)).unwrap()
}

fn p256_key(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn ed25519_key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

fn pem_armor(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

fn trusted_p256(signing: &p256::ecdsa::SigningKey) -> TrustedKey {
    let der = signing.verifying_key().to_public_key_der().unwrap();
    TrustedKey::from_pem(&pem_armor(der.as_bytes())).unwrap()
}

fn trusted_ed25519(signing: &ed25519_dalek::SigningKey) -> TrustedKey {
    let der = signing.verifying_key().to_public_key_der().unwrap();
    TrustedKey::from_pem(&pem_armor(der.as_bytes())).unwrap()
}

fn ed25519_spki(public: &[u8]) -> Vec<u8> {
    let mut der = hex::decode("302a300506032b6570032100").unwrap();
    der.extend_from_slice(public);
    der
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn sign_p256_der(key: &p256::ecdsa::SigningKey, message: &[u8]) -> Vec<u8> {
    let signature: p256::ecdsa::Signature = key.sign(message);
    signature.to_der().as_bytes().to_vec()
}

fn sign_p256_raw(key: &p256::ecdsa::SigningKey, message: &[u8]) -> Vec<u8> {
    let signature: p256::ecdsa::Signature = key.sign(message);
    signature.to_bytes().to_vec()
}

fn sign_p256_prehash(key: &p256::ecdsa::SigningKey, digest: &[u8]) -> Vec<u8> {
    let signature: p256::ecdsa::Signature = key.sign_prehash(digest).unwrap();
    signature.to_der().as_bytes().to_vec()
}

fn sign_ed25519(key: &ed25519_dalek::SigningKey, message: &[u8]) -> Vec<u8> {
    let signature: ed25519_dalek::Signature = key.sign(message);
    signature.to_bytes().to_vec()
}

/// Ed25519ph with an empty context, as cosign's default Ed25519 signer.
fn sign_ed25519ph(key: &ed25519_dalek::SigningKey, message: &[u8]) -> Vec<u8> {
    let mut prehash = <ed25519_dalek::Sha512 as ed25519_dalek::Digest>::new();
    ed25519_dalek::Digest::update(&mut prehash, message);
    key.sign_prehashed(prehash, None)
        .unwrap()
        .to_bytes()
        .to_vec()
}

fn cosign_payload(reference: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": COSIGN_SIGNATURE_TYPE
        },
        "optional": null
    }))
    .unwrap()
}

fn json_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// The statement `cosign sign --new-bundle-format` signs.
fn sign_statement(digest: &str) -> Vec<u8> {
    json_bytes(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": digest_hex(digest)}}],
        "predicateType": COSIGN_SIGN_PREDICATE_TYPE,
        "predicate": {}
    }))
}

fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let (type_len, body_len) = (payload_type.len(), body.len());
    let mut encoded = format!("DSSEv1 {type_len} {payload_type} {body_len} ").into_bytes();
    encoded.extend_from_slice(body);
    encoded
}

fn dsse_bundle(statement: &[u8], signature: &[u8], hint: Option<&str>) -> Value {
    json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": hint},
            "tlogEntries": [{
                "logIndex": "42",
                "logId": {"keyId": "wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0="},
                "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                "integratedTime": "1740770291"
            }]
        },
        "dsseEnvelope": {
            "payload": b64(statement),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": b64(signature), "keyid": ""}]
        }
    })
}

/// A DSSE bundle for `digest` signed with the P-256 key, hint included.
fn p256_dsse_bundle(key: &p256::ecdsa::SigningKey, digest: &str) -> Value {
    let statement = sign_statement(digest);
    let signature = sign_p256_der(key, &pae(IN_TOTO_PAYLOAD_TYPE, &statement));
    let hint = trusted_p256(key).cosign_hint();
    dsse_bundle(&statement, &signature, Some(hint.as_str()))
}

fn message_bundle(digest: &[u8], signature: &[u8], hint: Option<&str>) -> Value {
    json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
            "signature": b64(signature)
        }
    })
}

fn flip(bytes: &[u8], index: usize) -> Vec<u8> {
    let mut flipped = bytes.to_vec();
    flipped[index] ^= 0x01;
    flipped
}

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

#[test]
fn p256_pem_matches_an_independent_encoder() {
    let key = TrustedKey::from_pem(PYTHON_P256_PEM).unwrap();
    assert_eq!(key, trusted_p256(&p256_key(0x11)));
    assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
    assert_eq!(key.algorithm().as_str(), "ecdsa-p256");
    assert_eq!(key.fingerprint(), PYTHON_P256_FINGERPRINT);
    assert_eq!(key.cosign_hint(), PYTHON_P256_HINT);
    assert_eq!(key.to_pem(), PYTHON_P256_PEM);
    assert_eq!(TrustedKey::from_pem(&key.to_pem()).unwrap(), key);
}

#[test]
fn ed25519_pem_matches_an_independent_encoder() {
    let key = TrustedKey::from_pem(PYTHON_ED25519_PEM).unwrap();
    assert_eq!(key, trusted_ed25519(&ed25519_key(7)));
    assert_eq!(key.algorithm(), KeyAlgorithm::Ed25519);
    assert_eq!(key.algorithm().to_string(), "ed25519");
    assert_eq!(key.fingerprint(), PYTHON_ED25519_FINGERPRINT);
    assert_eq!(key.to_pem(), PYTHON_ED25519_PEM);
}

#[test]
fn a_compressed_point_has_the_fingerprint_of_the_uncompressed_one() {
    let der = STANDARD.decode(PYTHON_P256_COMPRESSED_SPKI).unwrap();
    let key = TrustedKey::from_spki_der(&der).unwrap();
    assert_eq!(key.fingerprint(), PYTHON_P256_FINGERPRINT);
    assert_eq!(key.to_pem(), PYTHON_P256_PEM);
}

#[test]
fn pem_tolerates_crlf_and_text_before_the_block() {
    let crlf = PYTHON_P256_PEM.replace('\n', "\r\n");
    assert_eq!(
        TrustedKey::from_pem(&crlf).unwrap().fingerprint(),
        PYTHON_P256_FINGERPRINT
    );
    let explained = format!("cosign public key for team/app\n{PYTHON_ED25519_PEM}\n\n");
    assert_eq!(
        TrustedKey::from_pem(&explained).unwrap().fingerprint(),
        PYTHON_ED25519_FINGERPRINT
    );
}

#[test]
fn fixture_keys_have_independently_computed_fingerprints() {
    // SHA-256 of each key's SPKI DER, computed independently with Python `cryptography`.
    for (pem, fingerprint) in [
        (
            SIGSTORE_RS_KEY,
            "sha256:622601a9e498c09004d82cfb8879122e780c0813a0ba350edd3eefa73097605a",
        ),
        (
            COSIGN_OCI_LEAF_KEY,
            "sha256:cc8c6a96d22bd6cad60b2ef4dd2df2f1f95eaf8f13526f82d2fdf89c725af84b",
        ),
        (
            CONFORMANCE_KEY,
            "sha256:4cb32c4837c6dda8cfb1681efb3fef5f94ffce5b979e6bdb9139302c857af139",
        ),
    ] {
        assert_eq!(
            TrustedKey::from_pem(pem).unwrap().fingerprint(),
            fingerprint
        );
    }
}

#[test]
fn pem_that_is_not_one_public_key_is_refused() {
    let invalid_pem = |pem: &str| {
        let result = TrustedKey::from_pem(pem);
        assert!(
            matches!(result, Err(SignatureError::InvalidPem { .. })),
            "{pem:?}: {result:?}"
        );
    };
    invalid_pem("");
    invalid_pem("not a key");
    invalid_pem("-----BEGIN PUBLIC KEY-----\nMFkw");
    invalid_pem("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n");
    invalid_pem("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n");
    invalid_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    invalid_pem(
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
    );
    invalid_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    invalid_pem("-----BEGIN EC PUBLIC KEY-----\nAAAA\n-----END EC PUBLIC KEY-----\n");
    invalid_pem(&format!("{PYTHON_P256_PEM}{PYTHON_ED25519_PEM}"));
    invalid_pem(
        "-----BEGIN PUBLIC KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END PUBLIC KEY-----\n",
    );
    // sigstore-conformance's "wrong key": its base64 has non-zero trailing bits.
    invalid_pem(CONFORMANCE_WRONG_KEY);
}

#[test]
fn keys_of_other_kinds_are_refused_with_a_reason() {
    let reason = |pem: &str| match TrustedKey::from_pem(pem) {
        Err(SignatureError::UnsupportedKey { reason }) => reason,
        other => panic!("{other:?}"),
    };
    assert!(reason(RSA_PEM).contains("RSA"), "{}", reason(RSA_PEM));
    assert!(reason(P384_PEM).contains("P-384"), "{}", reason(P384_PEM));
    // A truncated P-256 SPKI and random DER-ish bytes.
    let der = STANDARD.decode(PYTHON_P256_COMPRESSED_SPKI).unwrap();
    assert!(matches!(
        TrustedKey::from_spki_der(&der[..der.len() - 1]),
        Err(SignatureError::UnsupportedKey { .. })
    ));
    assert!(matches!(
        TrustedKey::from_spki_der(&[0x30, 0x03, 0x02, 0x01, 0x00]),
        Err(SignatureError::UnsupportedKey { .. })
    ));
}

#[test]
fn a_small_order_ed25519_key_is_refused() {
    // The identity point (y = 1): every signature with R = identity and s = 0 "verifies".
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        TrustedKey::from_spki_der(&ed25519_spki(&identity)),
        Err(SignatureError::WeakKey)
    );
}

#[test]
fn oversized_keys_are_refused_before_parsing() {
    let huge = "A".repeat(MAX_PEM_BYTES + 1);
    assert!(matches!(
        TrustedKey::from_pem(&huge),
        Err(SignatureError::TooLarge { .. })
    ));
    assert!(matches!(
        TrustedKey::from_spki_der(huge.as_bytes()),
        Err(SignatureError::TooLarge { .. })
    ));
}

#[test]
fn ed25519_verifies_rfc8032_vectors_pure_and_prehashed() {
    let pure = TrustedKey::from_spki_der(&ed25519_spki(&hex::decode(RFC8032_PURE_PUBLIC).unwrap()))
        .unwrap();
    assert_eq!(
        pure.verify_message(b"", &hex::decode(RFC8032_PURE_SIGNATURE).unwrap()),
        Ok(())
    );
    let ph =
        TrustedKey::from_spki_der(&ed25519_spki(&hex::decode(RFC8032_PH_PUBLIC).unwrap())).unwrap();
    let ph_signature = hex::decode(RFC8032_PH_SIGNATURE).unwrap();
    assert_eq!(ph.verify_message(b"abc", &ph_signature), Ok(()));
    assert!(matches!(
        ph.verify_message(b"abd", &ph_signature),
        Err(SignatureError::SignatureMismatch { .. })
    ));
}

#[test]
fn debug_shows_the_fingerprint_not_the_key_bytes() {
    let key = TrustedKey::from_pem(PYTHON_P256_PEM).unwrap();
    let debug = format!("{key:?}");
    assert!(debug.contains(PYTHON_P256_FINGERPRINT), "{debug}");
    assert!(debug.contains("EcdsaP256"), "{debug}");
}

// ---------------------------------------------------------------------------------------
// Simple signing
// ---------------------------------------------------------------------------------------

#[test]
fn simple_signing_tag_is_the_digest_with_a_dash_and_sig() {
    assert_eq!(
        simple_signing_tag(DIGEST).unwrap(),
        "sha256-bafebd36189ad3688b7b3915ea55d461e0bfcfbdde11e54b0a123999fb6be50f.sig"
    );
    for bad in [
        "",
        "sha256:",
        "bafebd36189ad3688b7b3915ea55d461e0bfcfbdde11e54b0a123999fb6be50f",
        "sha256:BAFEBD36189AD3688B7B3915EA55D461E0BFCFBDDE11E54B0A123999FB6BE50F",
        "sha256:bafebd36189ad3688b7b3915ea55d461e0bfcfbdde11e54b0a123999fb6be50",
        "sha512:bafebd36189ad3688b7b3915ea55d461e0bfcfbdde11e54b0a123999fb6be50f",
        "sha256:bafebd36189ad3688b7b3915ea55d461e0bfcfbdde11e54b0a123999fb6be50f/../x",
    ] {
        assert!(
            matches!(
                simple_signing_tag(bad),
                Err(SignatureError::InvalidDigest { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn a_cosign_produced_simple_signing_signature_verifies() {
    let key = TrustedKey::from_pem(SIGSTORE_RS_KEY).unwrap();
    let verified = verify_simple_signing(
        SIGSTORE_RS_PAYLOAD,
        SIGSTORE_RS_SIGNATURE,
        &key,
        SIGSTORE_RS_DIGEST,
        "busybox",
    )
    .unwrap();
    assert_eq!(
        verified,
        Verified {
            key_fingerprint: key.fingerprint().to_owned(),
            format: SignatureFormat::SimpleSigning,
            digest: SIGSTORE_RS_DIGEST.to_owned(),
            docker_reference: Some("registry-testing.svc.lan/busybox".to_owned()),
            tlog_entries: 0,
            predicate_type: None,
        }
    );
    // And what that fixture must not prove:
    assert!(matches!(
        verify_simple_signing(
            SIGSTORE_RS_PAYLOAD,
            SIGSTORE_RS_SIGNATURE,
            &key,
            SIGSTORE_RS_DIGEST,
            "library/busybox"
        ),
        Err(SignatureError::RepositoryMismatch { .. })
    ));
    assert!(matches!(
        verify_simple_signing(
            SIGSTORE_RS_PAYLOAD,
            SIGSTORE_RS_SIGNATURE,
            &key,
            OTHER_DIGEST,
            "busybox"
        ),
        Err(SignatureError::DigestMismatch { .. })
    ));
    assert!(matches!(
        verify_simple_signing(
            &flip(SIGSTORE_RS_PAYLOAD, 100),
            SIGSTORE_RS_SIGNATURE,
            &key,
            SIGSTORE_RS_DIGEST,
            "busybox"
        ),
        Err(SignatureError::SignatureMismatch { .. })
    ));
    assert!(matches!(
        verify_simple_signing(
            SIGSTORE_RS_PAYLOAD,
            SIGSTORE_RS_SIGNATURE,
            &TrustedKey::from_pem(PYTHON_P256_PEM).unwrap(),
            SIGSTORE_RS_DIGEST,
            "busybox"
        ),
        Err(SignatureError::SignatureMismatch { .. })
    ));
}

#[test]
fn signatures_made_by_an_independent_implementation_verify() {
    let payload = PYTHON_PAYLOAD.as_bytes();
    assert_eq!(payload, cosign_payload(REFERENCE, DIGEST).as_slice());

    let p256 = TrustedKey::from_pem(PYTHON_P256_PEM).unwrap();
    let verified =
        verify_simple_signing(payload, PYTHON_P256_SIGNATURE, &p256, DIGEST, REPOSITORY).unwrap();
    assert_eq!(verified.key_fingerprint, PYTHON_P256_FINGERPRINT);
    assert_eq!(verified.docker_reference.as_deref(), Some(REFERENCE));

    let ed25519 = TrustedKey::from_pem(PYTHON_ED25519_PEM).unwrap();
    verify_simple_signing(
        payload,
        PYTHON_ED25519_SIGNATURE,
        &ed25519,
        DIGEST,
        REPOSITORY,
    )
    .unwrap();
    // Ed25519 is deterministic: the same key signs the same bytes identically.
    assert_eq!(
        b64(&sign_ed25519(&ed25519_key(7), payload)),
        PYTHON_ED25519_SIGNATURE
    );
}

#[test]
fn p256_signatures_verify_in_der_and_raw_form() {
    let signing = p256_key(0x11);
    let key = trusted_p256(&signing);
    let payload = cosign_payload(REFERENCE, DIGEST);
    for signature in [
        sign_p256_der(&signing, &payload),
        sign_p256_raw(&signing, &payload),
    ] {
        let verified =
            verify_simple_signing(&payload, &b64(&signature), &key, DIGEST, REPOSITORY).unwrap();
        assert_eq!(verified.format, SignatureFormat::SimpleSigning);
        assert_eq!(verified.digest, DIGEST);
    }
}

#[test]
fn ed25519_signatures_verify_pure_and_prehashed() {
    let signing = ed25519_key(7);
    let key = trusted_ed25519(&signing);
    let payload = cosign_payload(REFERENCE, DIGEST);
    for signature in [
        sign_ed25519(&signing, &payload),
        sign_ed25519ph(&signing, &payload),
    ] {
        let verified =
            verify_simple_signing(&payload, &b64(&signature), &key, DIGEST, REPOSITORY).unwrap();
        assert_eq!(verified.key_fingerprint, PYTHON_ED25519_FINGERPRINT);
    }
}

#[test]
fn a_payload_naming_another_digest_fails() {
    let signing = p256_key(0x11);
    let payload = cosign_payload(REFERENCE, OTHER_DIGEST);
    let signature = b64(&sign_p256_der(&signing, &payload));
    assert_eq!(
        verify_simple_signing(
            &payload,
            &signature,
            &trusted_p256(&signing),
            DIGEST,
            REPOSITORY
        ),
        Err(SignatureError::DigestMismatch {
            expected: DIGEST.to_owned(),
            found: OTHER_DIGEST.to_owned(),
        })
    );
}

#[test]
fn a_payload_naming_another_repository_fails() {
    let signing = ed25519_key(7);
    let key = trusted_ed25519(&signing);
    for reference in ["registry.example/team/other", "other/app", ""] {
        let payload = cosign_payload(reference, DIGEST);
        let signature = b64(&sign_ed25519(&signing, &payload));
        assert_eq!(
            verify_simple_signing(&payload, &signature, &key, DIGEST, REPOSITORY),
            Err(SignatureError::RepositoryMismatch {
                expected: REPOSITORY.to_owned(),
                found: reference.to_owned(),
            })
        );
    }
    // The tag is not part of the rule.
    let payload = cosign_payload("team/app:v1.2", DIGEST);
    let signature = b64(&sign_ed25519(&signing, &payload));
    assert!(verify_simple_signing(&payload, &signature, &key, DIGEST, REPOSITORY).is_ok());
}

#[test]
fn a_signature_from_an_untrusted_key_fails() {
    let payload = cosign_payload(REFERENCE, DIGEST);
    let trusted = trusted_p256(&p256_key(0x11));
    let by_other_p256 = b64(&sign_p256_der(&p256_key(0x22), &payload));
    let result = verify_simple_signing(&payload, &by_other_p256, &trusted, DIGEST, REPOSITORY);
    assert_eq!(
        result,
        Err(SignatureError::SignatureMismatch {
            key: trusted.fingerprint().to_owned()
        })
    );
    assert!(result.unwrap_err().is_key_mismatch());

    let trusted_ed = trusted_ed25519(&ed25519_key(7));
    let by_other_ed = b64(&sign_ed25519(&ed25519_key(8), &payload));
    assert!(matches!(
        verify_simple_signing(&payload, &by_other_ed, &trusted_ed, DIGEST, REPOSITORY),
        Err(SignatureError::SignatureMismatch { .. })
    ));
    // Signatures of the other algorithm are malformed for the key, not a panic.
    assert!(matches!(
        verify_simple_signing(&payload, &by_other_p256, &trusted_ed, DIGEST, REPOSITORY),
        Err(SignatureError::MalformedSignature { .. })
    ));
    let by_ed_on_p256 = verify_simple_signing(&payload, &by_other_ed, &trusted, DIGEST, REPOSITORY);
    assert!(by_ed_on_p256.unwrap_err().is_key_mismatch());
}

#[test]
fn a_flipped_byte_in_payload_or_signature_fails() {
    let signing = p256_key(0x11);
    let key = trusted_p256(&signing);
    let payload = cosign_payload(REFERENCE, DIGEST);
    let signature = sign_p256_der(&signing, &payload);
    for index in [0, 10, payload.len() / 2, payload.len() - 1] {
        let result = verify_simple_signing(
            &flip(&payload, index),
            &b64(&signature),
            &key,
            DIGEST,
            REPOSITORY,
        );
        assert!(
            matches!(result, Err(SignatureError::SignatureMismatch { .. })),
            "{index}: {result:?}"
        );
    }
    for index in 0..signature.len() {
        let result = verify_simple_signing(
            &payload,
            &b64(&flip(&signature, index)),
            &key,
            DIGEST,
            REPOSITORY,
        );
        assert!(result.unwrap_err().is_key_mismatch(), "{index}");
    }
}

#[test]
fn another_payload_type_fails() {
    let signing = ed25519_key(7);
    let payload = json_bytes(&json!({
        "critical": {
            "identity": {"docker-reference": REFERENCE},
            "image": {"docker-manifest-digest": DIGEST},
            "type": "atomic container signature"
        },
        "optional": {}
    }));
    let signature = b64(&sign_ed25519(&signing, &payload));
    assert!(matches!(
        verify_simple_signing(
            &payload,
            &signature,
            &trusted_ed25519(&signing),
            DIGEST,
            REPOSITORY
        ),
        Err(SignatureError::WrongType { .. })
    ));
}

/// Signs `payload` with the test key and verifies it for `DIGEST` in `REPOSITORY`.
fn verify_signed_payload(payload: &[u8]) -> Result<Verified, SignatureError> {
    let signing = ed25519_key(7);
    let signature = b64(&sign_ed25519(&signing, payload));
    verify_simple_signing(
        payload,
        &signature,
        &trusted_ed25519(&signing),
        DIGEST,
        REPOSITORY,
    )
}

#[test]
fn payloads_are_read_strictly() {
    let malformed = |payload: String| {
        let result = verify_signed_payload(payload.as_bytes());
        assert!(
            matches!(result, Err(SignatureError::MalformedPayload { .. })),
            "{payload}: {result:?}"
        );
    };
    let identity = format!(r#"{{"docker-reference":"{REFERENCE}"}}"#);
    let image = format!(r#"{{"docker-manifest-digest":"{DIGEST}"}}"#);
    let kind = format!(r#""{COSIGN_SIGNATURE_TYPE}""#);
    // Not JSON, truncated, not an object, trailing garbage.
    malformed(String::from("not json"));
    malformed(PYTHON_PAYLOAD[..PYTHON_PAYLOAD.len() - 10].to_owned());
    malformed(String::from("[1, 2]"));
    malformed(format!("{PYTHON_PAYLOAD} x"));
    // Unknown members where containers-signature(5) forbids them.
    malformed(format!(
        r#"{{"critical":{{"identity":{identity},"image":{image},"type":{kind},"extra":1}},"optional":null}}"#
    ));
    malformed(format!(
        r#"{{"critical":{{"identity":{identity},"image":{{"docker-manifest-digest":"{DIGEST}","sha512":"x"}},"type":{kind}}}}}"#
    ));
    malformed(format!(
        r#"{{"critical":{{"identity":{identity},"image":{image},"type":{kind}}},"optional":null,"signature":"x"}}"#
    ));
    // Missing and mistyped members.
    malformed(format!(
        r#"{{"critical":{{"identity":{identity},"type":{kind}}}}}"#
    ));
    malformed(format!(
        r#"{{"critical":{{"identity":{identity},"image":{image},"type":7}}}}"#
    ));
    malformed(format!(
        r#"{{"critical":{{"identity":{identity},"image":{image},"type":{kind}}},"optional":"x"}}"#
    ));
    malformed(String::from(r#"{"optional":{}}"#));
    // Ambiguous: a member twice, exactly or in another case.
    malformed(format!(
        r#"{{"critical":{{"identity":{identity},"image":{{"docker-manifest-digest":"{OTHER_DIGEST}","docker-manifest-digest":"{DIGEST}"}},"type":{kind}}}}}"#
    ));
    malformed(format!(
        r#"{{"critical":{{"identity":{identity},"image":{image},"type":{kind},"Type":{kind}}}}}"#
    ));
}

#[test]
fn payload_member_names_match_case_insensitively_like_go() {
    // Early cosign wrote Go struct names; `optional` may be absent, null or an object.
    let early = format!(
        r#"{{"Critical":{{"Identity":{{"docker-reference":"{REFERENCE}"}},"Image":{{"Docker-manifest-digest":"{DIGEST}"}},"Type":"{COSIGN_SIGNATURE_TYPE}"}},"Optional":null}}"#
    );
    assert!(verify_signed_payload(early.as_bytes()).is_ok());
    let annotated = json_bytes(&json!({
        "critical": {
            "identity": {"docker-reference": REFERENCE},
            "image": {"docker-manifest-digest": DIGEST},
            "type": COSIGN_SIGNATURE_TYPE
        },
        "optional": {"sig": "counter", "nested": {"n": [1, 2.5, true, null]}}
    }));
    assert!(verify_signed_payload(&annotated).is_ok());
    let bare = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{REFERENCE}"}},"image":{{"docker-manifest-digest":"{DIGEST}"}},"type":"{COSIGN_SIGNATURE_TYPE}"}}}}"#
    );
    assert!(verify_signed_payload(bare.as_bytes()).is_ok());
}

#[test]
fn simple_signing_inputs_are_capped() {
    let key = trusted_ed25519(&ed25519_key(7));
    let huge_payload = vec![b' '; MAX_PAYLOAD_BYTES + 1];
    assert!(matches!(
        verify_simple_signing(&huge_payload, "AAAA", &key, DIGEST, REPOSITORY),
        Err(SignatureError::TooLarge { .. })
    ));
    let payload = cosign_payload(REFERENCE, DIGEST);
    let huge_signature = "A".repeat(MAX_SIGNATURE_BASE64_BYTES + 4);
    assert!(matches!(
        verify_simple_signing(&payload, &huge_signature, &key, DIGEST, REPOSITORY),
        Err(SignatureError::TooLarge { .. })
    ));
}

#[test]
fn signature_annotations_are_go_base64() {
    let signing = ed25519_key(7);
    let key = trusted_ed25519(&signing);
    let payload = cosign_payload(REFERENCE, DIGEST);
    let signature = b64(&sign_ed25519(&signing, &payload));
    // Go's decoder skips CR and LF.
    let wrapped = format!("{}\r\n{}\n", &signature[..40], &signature[40..]);
    assert!(verify_simple_signing(&payload, &wrapped, &key, DIGEST, REPOSITORY).is_ok());
    for bad in ["", "not base64!", "AAA", &signature[..signature.len() - 2]] {
        let result = verify_simple_signing(&payload, bad, &key, DIGEST, REPOSITORY);
        assert!(
            matches!(
                result,
                Err(SignatureError::InvalidBase64 { .. }
                    | SignatureError::MalformedSignature { .. })
            ),
            "{bad:?}: {result:?}"
        );
    }
}

#[test]
fn the_callers_expectations_are_validated_first() {
    let key = trusted_ed25519(&ed25519_key(7));
    assert!(matches!(
        verify_simple_signing(b"garbage", "AAAA", &key, "sha256:abc", REPOSITORY),
        Err(SignatureError::InvalidDigest { .. })
    ));
    assert!(matches!(
        verify_simple_signing(b"garbage", "AAAA", &key, DIGEST, ""),
        Err(SignatureError::InvalidRepository { .. })
    ));
    assert!(matches!(
        verify_bundle(b"garbage", &key, "sha512:abc"),
        Err(SignatureError::InvalidDigest { .. })
    ));
}

#[test]
fn errors_quote_hostile_strings_briefly() {
    let reference = "a".repeat(100_000);
    let result = verify_signed_payload(&cosign_payload(&reference, DIGEST));
    let error = result.unwrap_err();
    assert_eq!(error.code(), "repository-mismatch");
    assert!(error.to_string().len() < 600, "{}", error.to_string().len());
}

// ---------------------------------------------------------------------------------------
// Signature manifests and referrers
// ---------------------------------------------------------------------------------------

#[test]
fn simple_signing_layers_lists_the_signatures_to_fetch() {
    let payload_digest = "sha256:1119abab63e605dcc281019bad0424744178b6f61ba57378701fe7391994c999";
    let manifest = json_bytes(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": 233,
            "digest": "sha256:0f0a01b5c0a5a9cfc6dfa5a1ad84ff7f8dc8b0cd9b0a3aa5ac1a5f3e7ec0a6c0"
        },
        "layers": [
            {
                "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
                "size": 248,
                "digest": payload_digest,
                "annotations": {SIGNATURE_ANNOTATION: "MEUCIQ==", REKOR_BUNDLE_ANNOTATION: "{}"}
            },
            {
                "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
                "size": 250,
                "digest": DIGEST,
                "annotations": {SIGNATURE_ANNOTATION: "MEQC", CERTIFICATE_ANNOTATION: "-----BEGIN"}
            },
            {"mediaType": SIMPLE_SIGNING_MEDIA_TYPE, "size": 1, "digest": OTHER_DIGEST},
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "size": 1,
                "digest": OTHER_DIGEST,
                "annotations": {SIGNATURE_ANNOTATION: "x"}
            }
        ]
    }));
    let layers = simple_signing_layers(&manifest).unwrap();
    assert_eq!(
        layers,
        vec![
            SimpleSigningLayer {
                digest: payload_digest.to_owned(),
                media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
                size: 248,
                signature: "MEUCIQ==".to_owned(),
                has_certificate: false,
                has_rekor_bundle: true,
            },
            SimpleSigningLayer {
                digest: DIGEST.to_owned(),
                media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
                size: 250,
                signature: "MEQC".to_owned(),
                has_certificate: true,
                has_rekor_bundle: false,
            },
        ]
    );
}

#[test]
fn malformed_signature_manifests_are_refused() {
    let malformed = |manifest: Vec<u8>| {
        let result = simple_signing_layers(&manifest);
        assert!(
            matches!(result, Err(SignatureError::MalformedManifest { .. })),
            "{result:?}"
        );
    };
    malformed(b"{".to_vec());
    malformed(b"[]".to_vec());
    let layer = |digest: &str| {
        json_bytes(&json!({"layers": [{
            "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
            "size": 1,
            "digest": digest,
            "annotations": {SIGNATURE_ANNOTATION: "AAAA"}
        }]}))
    };
    malformed(layer("sha256:../../etc/passwd"));
    malformed(layer("md5:d41d8cd98f00b204e9800998ecf8427e"));
    malformed(json_bytes(&json!({"layers": [{
        "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
        "size": 1,
        "digest": DIGEST,
        "annotations": {SIGNATURE_ANNOTATION: 5}
    }]})));
    assert_eq!(simple_signing_layers(&layer(DIGEST)).unwrap().len(), 1);

    let many: Vec<Value> = (0..=MAX_SIGNATURE_LAYERS)
        .map(|_| json!({"mediaType": "x", "size": 1, "digest": DIGEST}))
        .collect();
    assert!(matches!(
        simple_signing_layers(&json_bytes(&json!({ "layers": many }))),
        Err(SignatureError::TooLarge { .. })
    ));
    assert!(matches!(
        simple_signing_layers(&vec![b' '; MAX_MANIFEST_BYTES + 1]),
        Err(SignatureError::TooLarge { .. })
    ));
}

#[test]
fn bundle_layers_lists_the_bundles_of_a_referrer() {
    let referrer = |artifact_type: Value, config_media_type: &str, layer_media_type: &str| {
        json_bytes(&json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "schemaVersion": 2,
            "artifactType": artifact_type,
            "config": {
                "mediaType": config_media_type,
                "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
                "size": 2
            },
            "layers": [{"digest": DIGEST, "mediaType": layer_media_type, "size": 4971}],
            "subject": {
                "digest": OTHER_DIGEST,
                "mediaType": "application/vnd.oci.image.index.v1+json"
            }
        }))
    };
    let empty = "application/vnd.oci.empty.v1+json";
    assert_eq!(
        bundle_layers(&referrer(
            json!(BUNDLE_MEDIA_TYPE),
            empty,
            BUNDLE_MEDIA_TYPE
        ))
        .unwrap(),
        vec![BundleLayer {
            digest: DIGEST.to_owned(),
            media_type: BUNDLE_MEDIA_TYPE.to_owned(),
            size: 4971,
        }]
    );
    let v01 = BUNDLE_MEDIA_TYPES[1];
    assert_eq!(
        bundle_layers(&referrer(Value::Null, v01, v01))
            .unwrap()
            .len(),
        1,
        "the config media type stands in for a missing artifactType"
    );
    assert!(
        bundle_layers(&referrer(
            json!("application/spdx+json"),
            empty,
            BUNDLE_MEDIA_TYPE
        ))
        .unwrap()
        .is_empty()
    );
    assert!(
        bundle_layers(&referrer(
            json!(BUNDLE_MEDIA_TYPE),
            empty,
            "application/json"
        ))
        .unwrap()
        .is_empty()
    );
    assert!(is_bundle_media_type(BUNDLE_MEDIA_TYPE));
    assert!(!is_bundle_media_type(
        "application/vnd.dev.sigstore.bundle+json; version=0.1"
    ));
}

// ---------------------------------------------------------------------------------------
// Sigstore bundles
// ---------------------------------------------------------------------------------------

#[test]
fn a_cosign_dsse_bundle_signed_with_a_p256_key_verifies() {
    let signing = p256_key(0x11);
    let key = trusted_p256(&signing);
    let bundle = json_bytes(&p256_dsse_bundle(&signing, DIGEST));
    assert_eq!(
        verify_bundle(&bundle, &key, DIGEST).unwrap(),
        Verified {
            key_fingerprint: PYTHON_P256_FINGERPRINT.to_owned(),
            format: SignatureFormat::SigstoreBundle,
            digest: DIGEST.to_owned(),
            docker_reference: None,
            tlog_entries: 1,
            predicate_type: Some(COSIGN_SIGN_PREDICATE_TYPE.to_owned()),
        }
    );
}

#[test]
fn dsse_bundles_verify_with_every_signature_form() {
    let statement = sign_statement(DIGEST);
    let encoded = pae(IN_TOTO_PAYLOAD_TYPE, &statement);
    let p256 = p256_key(0x11);
    let ed = ed25519_key(7);
    for (signature, key) in [
        (sign_p256_raw(&p256, &encoded), trusted_p256(&p256)),
        (sign_ed25519(&ed, &encoded), trusted_ed25519(&ed)),
        (sign_ed25519ph(&ed, &encoded), trusted_ed25519(&ed)),
    ] {
        let bundle = json_bytes(&dsse_bundle(&statement, &signature, None));
        let verified = verify_bundle(&bundle, &key, DIGEST).unwrap();
        assert_eq!(verified.key_fingerprint, key.fingerprint());
    }
}

#[test]
fn a_statement_about_another_manifest_fails() {
    let signing = p256_key(0x11);
    let key = trusted_p256(&signing);
    let bundle = json_bytes(&p256_dsse_bundle(&signing, OTHER_DIGEST));
    assert_eq!(
        verify_bundle(&bundle, &key, DIGEST),
        Err(SignatureError::SubjectMismatch {
            expected: DIGEST.to_owned()
        })
    );
}

#[test]
fn any_subject_may_name_the_manifest() {
    let signing = ed25519_key(7);
    let statement = json_bytes(&json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v1",
        "subject": [
            {"name": "other", "digest": {"sha512": "ab"}},
            {"name": "registry.example/team/app", "digest": {"sha256": digest_hex(DIGEST).to_uppercase()}}
        ],
        "predicate": {"buildType": "x"}
    }));
    let signature = sign_ed25519(&signing, &pae(IN_TOTO_PAYLOAD_TYPE, &statement));
    let bundle = json_bytes(&dsse_bundle(&statement, &signature, None));
    let verified = verify_bundle(&bundle, &trusted_ed25519(&signing), DIGEST).unwrap();
    assert_eq!(
        verified.predicate_type.as_deref(),
        Some("https://slsa.dev/provenance/v1")
    );
}

#[test]
fn a_bundle_from_an_untrusted_key_fails_and_says_why() {
    let trusted = trusted_p256(&p256_key(0x11));
    let other = p256_key(0x22);
    let statement = sign_statement(DIGEST);
    let signature = sign_p256_der(&other, &pae(IN_TOTO_PAYLOAD_TYPE, &statement));

    let without_hint = json_bytes(&dsse_bundle(&statement, &signature, None));
    assert_eq!(
        verify_bundle(&without_hint, &trusted, DIGEST),
        Err(SignatureError::SignatureMismatch {
            key: trusted.fingerprint().to_owned()
        })
    );

    let other_hint = trusted_p256(&other).cosign_hint();
    let with_other_hint = json_bytes(&dsse_bundle(
        &statement,
        &signature,
        Some(other_hint.as_str()),
    ));
    assert_eq!(
        verify_bundle(&with_other_hint, &trusted, DIGEST),
        Err(SignatureError::SignedByOtherKey {
            key: trusted.fingerprint().to_owned(),
            hint: other_hint,
        })
    );

    // A hint naming the trusted key does not make another key's signature acceptable.
    let lying_hint = json_bytes(&dsse_bundle(
        &statement,
        &signature,
        Some(trusted.cosign_hint().as_str()),
    ));
    assert!(matches!(
        verify_bundle(&lying_hint, &trusted, DIGEST),
        Err(SignatureError::SignatureMismatch { .. })
    ));
}

#[test]
fn a_tampered_statement_fails() {
    let signing = p256_key(0x11);
    let key = trusted_p256(&signing);
    let statement = sign_statement(DIGEST);
    let signature = sign_p256_der(&signing, &pae(IN_TOTO_PAYLOAD_TYPE, &statement));
    let tampered = flip(&statement, statement.len() / 2);
    let bundle = json_bytes(&dsse_bundle(&tampered, &signature, None));
    assert!(matches!(
        verify_bundle(&bundle, &key, DIGEST),
        Err(SignatureError::SignatureMismatch { .. })
    ));
    // The payload type is signed too.
    let mut retyped = dsse_bundle(&statement, &signature, None);
    retyped["dsseEnvelope"]["payloadType"] = json!("application/json");
    assert!(matches!(
        verify_bundle(&json_bytes(&retyped), &key, DIGEST),
        Err(SignatureError::SignatureMismatch { .. })
    ));
}

#[test]
fn signed_payloads_of_other_types_fail() {
    let signing = ed25519_key(7);
    let key = trusted_ed25519(&signing);
    let statement = sign_statement(DIGEST);
    let json_type = "application/json";
    let signature = sign_ed25519(&signing, &pae(json_type, &statement));
    let mut bundle = dsse_bundle(&statement, &signature, None);
    bundle["dsseEnvelope"]["payloadType"] = json!(json_type);
    assert!(matches!(
        verify_bundle(&json_bytes(&bundle), &key, DIGEST),
        Err(SignatureError::WrongType { .. })
    ));

    let statement = json_bytes(&json!({
        "_type": "https://example.com/Statement/v1",
        "subject": [{"digest": {"sha256": digest_hex(DIGEST)}}]
    }));
    let signature = sign_ed25519(&signing, &pae(IN_TOTO_PAYLOAD_TYPE, &statement));
    let bundle = json_bytes(&dsse_bundle(&statement, &signature, None));
    assert!(matches!(
        verify_bundle(&bundle, &key, DIGEST),
        Err(SignatureError::WrongType { .. })
    ));
}

#[test]
fn signed_statements_are_read_strictly() {
    let signing = ed25519_key(7);
    let key = trusted_ed25519(&signing);
    let hex_digest = digest_hex(DIGEST);
    for statement in [
        String::from("not json"),
        String::from("[]"),
        String::from(r#"{"subject":[]}"#),
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":{{"digest":{{"sha256":"{hex_digest}"}}}}}}"#
        ),
        String::from(
            r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":7}}]}"#,
        ),
        String::from(r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x"}]}"#),
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{hex_digest}","sha256":"00"}}}}]}}"#
        ),
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","_type":"x","subject":[{{"digest":{{"sha256":"{hex_digest}"}}}}]}}"#
        ),
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{hex_digest}"}}}}],"predicateType":5}}"#
        ),
    ] {
        let signature = sign_ed25519(&signing, &pae(IN_TOTO_PAYLOAD_TYPE, statement.as_bytes()));
        let bundle = json_bytes(&dsse_bundle(statement.as_bytes(), &signature, None));
        let result = verify_bundle(&bundle, &key, DIGEST);
        assert!(
            matches!(result, Err(SignatureError::MalformedBundle { .. })),
            "{statement}: {result:?}"
        );
    }
}

#[test]
fn dsse_envelopes_have_exactly_one_signature_and_consistent_hints() {
    let signing = p256_key(0x11);
    let key = trusted_p256(&signing);
    let valid = p256_dsse_bundle(&signing, DIGEST);
    let signature = valid["dsseEnvelope"]["signatures"][0].clone();
    let malformed = |bundle: &Value| {
        let result = verify_bundle(&json_bytes(bundle), &key, DIGEST);
        assert!(
            matches!(result, Err(SignatureError::MalformedBundle { .. })),
            "{bundle}: {result:?}"
        );
    };

    let mut two = valid.clone();
    two["dsseEnvelope"]["signatures"] = json!([signature.clone(), signature.clone()]);
    malformed(&two);
    let mut none = valid.clone();
    none["dsseEnvelope"]["signatures"] = json!([]);
    malformed(&none);
    let mut absent = valid.clone();
    let _ = absent["dsseEnvelope"]
        .as_object_mut()
        .unwrap()
        .remove("signatures");
    malformed(&absent);

    let mut other_keyid = valid.clone();
    other_keyid["dsseEnvelope"]["signatures"][0]["keyid"] = json!("another-key");
    malformed(&other_keyid);
    let mut same_keyid = valid.clone();
    same_keyid["dsseEnvelope"]["signatures"][0]["keyid"] = json!(key.cosign_hint());
    assert!(verify_bundle(&json_bytes(&same_keyid), &key, DIGEST).is_ok());
}

#[test]
fn a_message_signature_over_the_manifest_digest_verifies_with_p256() {
    let signing = p256_key(0x11);
    let key = trusted_p256(&signing);
    let digest = digest_bytes(DIGEST);
    let signature = sign_p256_prehash(&signing, &digest);
    let bundle = message_bundle(&digest, &signature, Some(key.cosign_hint().as_str()));
    let verified = verify_bundle(&json_bytes(&bundle), &key, DIGEST).unwrap();
    assert_eq!(verified.format, SignatureFormat::SigstoreBundle);
    assert_eq!(verified.tlog_entries, 0);
    assert_eq!(verified.predicate_type, None);

    // The enum by number, as protobuf JSON also allows.
    let mut numbered = bundle.clone();
    numbered["messageSignature"]["messageDigest"]["algorithm"] = json!(1);
    assert!(verify_bundle(&json_bytes(&numbered), &key, DIGEST).is_ok());

    for algorithm in [json!("SHA2_512"), json!(3), Value::Null, json!("sha256")] {
        let mut other = bundle.clone();
        other["messageSignature"]["messageDigest"]["algorithm"] = algorithm;
        assert!(matches!(
            verify_bundle(&json_bytes(&other), &key, DIGEST),
            Err(SignatureError::UnsupportedHashAlgorithm { .. })
        ));
    }
}

#[test]
fn a_message_signature_over_another_digest_fails() {
    let signing = p256_key(0x11);
    let key = trusted_p256(&signing);
    let other = digest_bytes(OTHER_DIGEST);
    let bundle = message_bundle(&other, &sign_p256_prehash(&signing, &other), None);
    assert_eq!(
        verify_bundle(&json_bytes(&bundle), &key, DIGEST),
        Err(SignatureError::DigestMismatch {
            expected: DIGEST.to_owned(),
            found: OTHER_DIGEST.to_owned(),
        })
    );
    // A signature over another digest, relabelled as the manifest's, fails.
    let relabelled = message_bundle(
        &digest_bytes(DIGEST),
        &sign_p256_prehash(&signing, &other),
        None,
    );
    assert!(matches!(
        verify_bundle(&json_bytes(&relabelled), &key, DIGEST),
        Err(SignatureError::SignatureMismatch { .. })
    ));
    let short = message_bundle(&[1, 2, 3], &sign_p256_prehash(&signing, &other), None);
    assert!(matches!(
        verify_bundle(&json_bytes(&short), &key, DIGEST),
        Err(SignatureError::MalformedBundle { .. })
    ));
}

#[test]
fn an_ed25519_key_cannot_check_a_message_signature() {
    let signing = ed25519_key(7);
    let digest = digest_bytes(DIGEST);
    let bundle = message_bundle(&digest, &sign_ed25519(&signing, &digest), None);
    assert_eq!(
        verify_bundle(&json_bytes(&bundle), &trusted_ed25519(&signing), DIGEST),
        Err(SignatureError::Ed25519MessageSignature)
    );
}

#[test]
fn keyless_bundles_verify_only_with_the_trusted_key() {
    let signing = p256_key(0x11);
    let key = trusted_p256(&signing);
    let mut bundle = p256_dsse_bundle(&signing, DIGEST);
    bundle["verificationMaterial"] = json!({
        "certificate": {"rawBytes": "MIIB"},
        "tlogEntries": [{}, {}]
    });
    // Signed by the trusted key: the certificate is ignored, the key decides.
    assert_eq!(
        verify_bundle(&json_bytes(&bundle), &key, DIGEST)
            .unwrap()
            .tlog_entries,
        2
    );
    // Signed by anyone else (a Fulcio certificate's key): not supported.
    let other = trusted_p256(&p256_key(0x22));
    assert_eq!(
        verify_bundle(&json_bytes(&bundle), &other, DIGEST),
        Err(SignatureError::KeylessUnsupported {
            key: other.fingerprint().to_owned()
        })
    );
    let ed = trusted_ed25519(&ed25519_key(7));
    let error = verify_bundle(&json_bytes(&bundle), &ed, DIGEST).unwrap_err();
    assert_eq!(error.code(), "keyless-unsupported");
    assert!(
        error
            .to_string()
            .contains("keyless bundles are not supported")
    );

    bundle["verificationMaterial"] = json!({"x509CertificateChain": {"certificates": []}});
    assert!(matches!(
        verify_bundle(&json_bytes(&bundle), &other, DIGEST),
        Err(SignatureError::KeylessUnsupported { .. })
    ));
}

#[test]
fn a_real_cosign_referrer_bundle_verifies_with_its_signing_key() {
    // Keyless in origin; with its leaf certificate's key trusted, the DSSE signature is
    // checked exactly as for a key-based bundle.
    let leaf = TrustedKey::from_pem(COSIGN_OCI_LEAF_KEY).unwrap();
    assert_eq!(
        verify_bundle(COSIGN_OCI_BUNDLE, &leaf, COSIGN_OCI_DIGEST).unwrap(),
        Verified {
            key_fingerprint: leaf.fingerprint().to_owned(),
            format: SignatureFormat::SigstoreBundle,
            digest: COSIGN_OCI_DIGEST.to_owned(),
            docker_reference: None,
            tlog_entries: 1,
            predicate_type: Some("https://cosign.sigstore.dev/attestation/v1".to_owned()),
        }
    );
    assert_eq!(
        verify_bundle(COSIGN_OCI_BUNDLE, &leaf, DIGEST),
        Err(SignatureError::SubjectMismatch {
            expected: DIGEST.to_owned()
        })
    );
    let trusted = trusted_p256(&p256_key(0x11));
    assert!(matches!(
        verify_bundle(COSIGN_OCI_BUNDLE, &trusted, COSIGN_OCI_DIGEST),
        Err(SignatureError::KeylessUnsupported { .. })
    ));
}

#[test]
fn a_real_key_based_message_signature_bundle_verifies() {
    let key = TrustedKey::from_pem(CONFORMANCE_KEY).unwrap();
    let artifact_digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(CONFORMANCE_ARTIFACT))
    );
    let verified = verify_bundle(CONFORMANCE_BUNDLE, &key, &artifact_digest).unwrap();
    assert_eq!(verified.tlog_entries, 1);
    assert_eq!(verified.key_fingerprint, key.fingerprint());
    // The bundle's hint is cosign's: base64 SHA-256 of the SPKI.
    let bundle: Value = serde_json::from_slice(CONFORMANCE_BUNDLE).unwrap();
    assert_eq!(
        bundle["verificationMaterial"]["publicKey"]["hint"],
        json!(key.cosign_hint())
    );
    // With another key, the hint explains the failure.
    let other = trusted_p256(&p256_key(0x11));
    assert!(matches!(
        verify_bundle(CONFORMANCE_BUNDLE, &other, &artifact_digest),
        Err(SignatureError::SignedByOtherKey { .. })
    ));
    assert!(matches!(
        verify_bundle(CONFORMANCE_BUNDLE, &key, DIGEST),
        Err(SignatureError::DigestMismatch { .. })
    ));
}

#[test]
fn every_bundle_media_type_version_is_accepted() {
    let signing = p256_key(0x11);
    let key = trusted_p256(&signing);
    let mut bundle = p256_dsse_bundle(&signing, DIGEST);
    for media_type in BUNDLE_MEDIA_TYPES {
        bundle["mediaType"] = json!(media_type);
        assert!(
            verify_bundle(&json_bytes(&bundle), &key, DIGEST).is_ok(),
            "{media_type}"
        );
    }
    bundle["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.4");
    assert!(matches!(
        verify_bundle(&json_bytes(&bundle), &key, DIGEST),
        Err(SignatureError::UnsupportedMediaType { .. })
    ));
    let _ = bundle.as_object_mut().unwrap().remove("mediaType");
    assert!(matches!(
        verify_bundle(&json_bytes(&bundle), &key, DIGEST),
        Err(SignatureError::MalformedBundle { .. })
    ));
}

#[test]
fn bundles_are_read_as_protobuf_json() {
    let signing = ed25519_key(7);
    let key = trusted_ed25519(&signing);
    let statement = sign_statement(DIGEST);
    let signature = sign_ed25519(&signing, &pae(IN_TOTO_PAYLOAD_TYPE, &statement));
    // Proto field names, unpadded and URL-safe base64, unknown fields.
    let bundle = json!({
        "media_type": BUNDLE_MEDIA_TYPE,
        "verification_material": {
            "public_key": {"hint": key.cosign_hint()},
            "tlog_entries": [],
            "timestamp_verification_data": {"rfc3161_timestamps": []}
        },
        "dsse_envelope": {
            "payload": STANDARD_NO_PAD.encode(statement.as_slice()),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": URL_SAFE_NO_PAD.encode(signature.as_slice())}]
        },
        "someFutureField": {"x": 1}
    });
    assert!(verify_bundle(&json_bytes(&bundle), &key, DIGEST).is_ok());

    // A field under both of its names is ambiguous, as for protojson.
    let mut twice = bundle.clone();
    twice["mediaType"] = json!(BUNDLE_MEDIA_TYPE);
    assert!(matches!(
        verify_bundle(&json_bytes(&twice), &key, DIGEST),
        Err(SignatureError::MalformedBundle { .. })
    ));
}

#[test]
fn contradictory_or_missing_bundle_parts_are_refused() {
    let signing = p256_key(0x11);
    let key = trusted_p256(&signing);
    let valid = p256_dsse_bundle(&signing, DIGEST);
    let malformed = |bundle: &Value| {
        let result = verify_bundle(&json_bytes(bundle), &key, DIGEST);
        assert!(
            matches!(result, Err(SignatureError::MalformedBundle { .. })),
            "{bundle}: {result:?}"
        );
    };

    let mut both = valid.clone();
    both["messageSignature"] = json!({"signature": "AAAA"});
    malformed(&both);
    let mut neither = valid.clone();
    let _ = neither.as_object_mut().unwrap().remove("dsseEnvelope");
    malformed(&neither);
    let mut no_material = valid.clone();
    let _ = no_material
        .as_object_mut()
        .unwrap()
        .remove("verificationMaterial");
    malformed(&no_material);
    let mut key_and_certificate = valid.clone();
    key_and_certificate["verificationMaterial"]["certificate"] = json!({"rawBytes": "AAAA"});
    malformed(&key_and_certificate);
    let mut empty_material = valid.clone();
    empty_material["verificationMaterial"] = json!({"tlogEntries": []});
    malformed(&empty_material);
    let mut no_payload = valid.clone();
    let _ = no_payload["dsseEnvelope"]
        .as_object_mut()
        .unwrap()
        .remove("payload");
    malformed(&no_payload);
    let mut mistyped = valid.clone();
    mistyped["dsseEnvelope"]["payload"] = json!(42);
    malformed(&mistyped);
}

#[test]
fn hostile_bundles_give_errors() {
    let key = trusted_p256(&p256_key(0x11));
    let valid = json_bytes(&p256_dsse_bundle(&p256_key(0x11), DIGEST));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for hostile in [
        Vec::new(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"bundle\"".to_vec(),
        b"{\"mediaType\": 5}".to_vec(),
        valid[..valid.len() / 2].to_vec(),
        deep.into_bytes(),
        vec![0xff; 64],
    ] {
        let result = verify_bundle(&hostile, &key, DIGEST);
        assert!(
            matches!(
                result,
                Err(SignatureError::MalformedBundle { .. }
                    | SignatureError::UnsupportedMediaType { .. })
            ),
            "{result:?}"
        );
    }
    assert!(matches!(
        verify_bundle(&vec![b' '; MAX_BUNDLE_BYTES + 1], &key, DIGEST),
        Err(SignatureError::TooLarge { .. })
    ));

    let mut huge_signature = p256_dsse_bundle(&p256_key(0x11), DIGEST);
    huge_signature["dsseEnvelope"]["signatures"][0]["sig"] =
        json!("A".repeat(MAX_SIGNATURE_BASE64_BYTES + 4));
    assert!(matches!(
        verify_bundle(&json_bytes(&huge_signature), &key, DIGEST),
        Err(SignatureError::TooLarge { .. })
    ));
    let mut bad_base64 = p256_dsse_bundle(&p256_key(0x11), DIGEST);
    bad_base64["dsseEnvelope"]["payload"] = json!("!!!not base64!!!");
    assert!(matches!(
        verify_bundle(&json_bytes(&bad_base64), &key, DIGEST),
        Err(SignatureError::InvalidBase64 { .. })
    ));
}

#[test]
fn error_codes_are_distinct() {
    let errors = [
        SignatureError::TooLarge {
            what: "x",
            unit: "bytes",
            actual: 2,
            limit: 1,
        },
        SignatureError::InvalidDigest {
            found: String::new(),
        },
        SignatureError::InvalidRepository {
            found: String::new(),
        },
        SignatureError::InvalidBase64 { what: "x" },
        SignatureError::InvalidPem {
            reason: String::new(),
        },
        SignatureError::UnsupportedKey {
            reason: String::new(),
        },
        SignatureError::WeakKey,
        SignatureError::MalformedSignature {
            algorithm: KeyAlgorithm::Ed25519,
            reason: "x",
        },
        SignatureError::SignatureMismatch { key: String::new() },
        SignatureError::SignedByOtherKey {
            key: String::new(),
            hint: String::new(),
        },
        SignatureError::KeylessUnsupported { key: String::new() },
        SignatureError::MalformedPayload {
            reason: String::new(),
        },
        SignatureError::WrongType {
            expected: "x",
            found: String::new(),
        },
        SignatureError::DigestMismatch {
            expected: String::new(),
            found: String::new(),
        },
        SignatureError::RepositoryMismatch {
            expected: String::new(),
            found: String::new(),
        },
        SignatureError::MalformedBundle {
            reason: String::new(),
        },
        SignatureError::UnsupportedMediaType {
            found: String::new(),
        },
        SignatureError::UnsupportedHashAlgorithm {
            found: String::new(),
        },
        SignatureError::Ed25519MessageSignature,
        SignatureError::SubjectMismatch {
            expected: String::new(),
        },
        SignatureError::MalformedManifest {
            reason: String::new(),
        },
    ];
    let codes: std::collections::BTreeSet<&str> = errors.iter().map(SignatureError::code).collect();
    assert_eq!(codes.len(), errors.len());
}

#[test]
fn verified_serializes_with_kebab_case_names() {
    let verified = Verified {
        key_fingerprint: PYTHON_P256_FINGERPRINT.to_owned(),
        format: SignatureFormat::SimpleSigning,
        digest: DIGEST.to_owned(),
        docker_reference: Some(REFERENCE.to_owned()),
        tlog_entries: 0,
        predicate_type: None,
    };
    let value = serde_json::to_value(&verified).unwrap();
    assert_eq!(value["format"], json!("simple-signing"));
    assert_eq!(
        SignatureFormat::SigstoreBundle.to_string(),
        "sigstore-bundle"
    );
    assert_eq!(serde_json::from_value::<Verified>(value).unwrap(), verified);
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn random_bytes_never_verify_and_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048)
    ) {
        let key = trusted_p256(&p256_key(0x11));
        prop_assert!(verify_bundle(&bytes, &key, DIGEST).is_err());
        prop_assert!(verify_simple_signing(&bytes, "MEUCIQ==", &key, DIGEST, REPOSITORY).is_err());
        let _ = simple_signing_layers(&bytes);
        let _ = bundle_layers(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = TrustedKey::from_pem(&text);
        let _ = TrustedKey::from_spki_der(&bytes);
        let _ = verify_simple_signing(
            &bytes,
            &text,
            &key,
            DIGEST,
            REPOSITORY,
        );
    }

    #[test]
    fn json_shaped_bundles_never_panic(
        text in r#"[\[\]{}":,0-9a-zA-Z_ .-]{0,400}"#
    ) {
        let key = trusted_ed25519(&ed25519_key(7));
        prop_assert!(verify_bundle(text.as_bytes(), &key, DIGEST).is_err());
        let _ = bundle_layers(text.as_bytes());
        let _ = simple_signing_layers(text.as_bytes());
    }

    #[test]
    fn mutated_bundles_never_panic(index in any::<usize>(), byte in any::<u8>()) {
        let signing = ed25519_key(7);
        let key = trusted_ed25519(&signing);
        let statement = sign_statement(DIGEST);
        let signature = sign_ed25519(&signing, &pae(IN_TOTO_PAYLOAD_TYPE, &statement));
        let mut bundle = json_bytes(&dsse_bundle(&statement, &signature, None));
        let at = index % bundle.len();
        bundle[at] = byte;
        let _ = verify_bundle(&bundle, &key, DIGEST);
    }

    #[test]
    fn any_flipped_payload_bit_breaks_the_signature(index in any::<usize>(), bit in 0u32..8) {
        let signing = ed25519_key(7);
        let key = trusted_ed25519(&signing);
        let payload = cosign_payload(REFERENCE, DIGEST);
        let signature = b64(&sign_ed25519ph(&signing, &payload));
        let mut tampered = payload.clone();
        let at = index % tampered.len();
        tampered[at] ^= 1u8 << bit;
        let result = verify_simple_signing(&tampered, &signature, &key, DIGEST, REPOSITORY);
        prop_assert!(
            matches!(result, Err(SignatureError::SignatureMismatch { .. })),
            "{result:?}"
        );
    }
}
