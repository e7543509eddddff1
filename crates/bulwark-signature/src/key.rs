//! Public keys an operator trusts, and the signature checks made with them.
//!
//! A [`TrustedKey`] is read from the SPKI PEM that `cosign generate-key-pair` writes to
//! `cosign.pub` (or `openssl pkey -pubout`), for ECDSA P-256 and Ed25519. Its identity in
//! reports is [`TrustedKey::fingerprint`]: SHA-256 over the key's canonical SPKI DER (for
//! P-256 the uncompressed point, as Go's `x509.MarshalPKIXPublicKey` writes it), so the same
//! key has the same fingerprint however its PEM was written, and the fingerprint matches the
//! key hint cosign puts in bundles ([`TrustedKey::cosign_hint`] is its base64 form).
//!
//! PEM armor is parsed here rather than by the `pem` features of the key crates, because the
//! DER is needed anyway (for the fingerprint) and because refusing a certificate, a private
//! key or two concatenated keys with a clear message is worth a few lines.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;

use crate::{MAX_PEM_BYTES, SignatureError, check_size, excerpt};

/// DER of `SubjectPublicKeyInfo { id-ecPublicKey, prime256v1 }` up to the BIT STRING's
/// content, which is the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// DER of `SubjectPublicKeyInfo { id-Ed25519 }` up to the BIT STRING's content, which is the
/// 32-byte key.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Object identifiers (tag, length, value) recognised only to explain a refusal.
const OID_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

const PEM_BEGIN: &str = "-----BEGIN ";
const PEM_END_PUBLIC_KEY: &str = "-----END PUBLIC KEY-----";

/// The signature algorithm of a [`TrustedKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum KeyAlgorithm {
    /// ECDSA over NIST P-256 with SHA-256 (cosign's default).
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    /// Ed25519, pure or Ed25519ph.
    #[serde(rename = "ed25519")]
    Ed25519,
}

impl KeyAlgorithm {
    /// `"ecdsa-p256"` or `"ed25519"`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone)]
enum KeyMaterial {
    EcdsaP256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A public key whose signatures are accepted. Cheap to clone; compare keys with `==`
/// (equal when their canonical SPKI DER is).
#[derive(Clone)]
pub struct TrustedKey {
    key: KeyMaterial,
    /// Canonical SPKI DER (uncompressed point for P-256).
    spki_der: Vec<u8>,
    fingerprint: String,
}

impl TrustedKey {
    /// Reads one PEM `PUBLIC KEY` block (SPKI), as in `cosign.pub`. Text before the block is
    /// ignored (as OpenSSL and Go do); a second PEM block, PEM headers, a certificate or a
    /// private key are refused.
    pub fn from_pem(pem: &str) -> Result<TrustedKey, SignatureError> {
        let der = pem_public_key_der(pem)?;
        TrustedKey::from_spki_der(&der)
    }

    /// Reads a DER `SubjectPublicKeyInfo` of an ECDSA P-256 (compressed or uncompressed
    /// point) or Ed25519 key.
    pub fn from_spki_der(der: &[u8]) -> Result<TrustedKey, SignatureError> {
        check_size("public key DER", "bytes", der.len(), MAX_PEM_BYTES)?;
        if let Ok(key) =
            <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(der)
        {
            let point = key.to_encoded_point(false);
            let spki_der = [P256_SPKI_PREFIX.as_slice(), point.as_bytes()].concat();
            return Ok(TrustedKey::new(KeyMaterial::EcdsaP256(key), spki_der));
        }
        if let Ok(key) =
            <ed25519_dalek::VerifyingKey as ed25519_dalek::pkcs8::DecodePublicKey>::from_public_key_der(der)
        {
            if key.is_weak() {
                return Err(SignatureError::WeakKey);
            }
            let spki_der = [ED25519_SPKI_PREFIX.as_slice(), key.as_bytes().as_slice()].concat();
            return Ok(TrustedKey::new(KeyMaterial::Ed25519(key), spki_der));
        }
        Err(SignatureError::UnsupportedKey {
            reason: why_unsupported(der).to_owned(),
        })
    }

    fn new(key: KeyMaterial, spki_der: Vec<u8>) -> TrustedKey {
        let fingerprint = format!("sha256:{}", hex::encode(sha256(&spki_der)));
        TrustedKey {
            key,
            spki_der,
            fingerprint,
        }
    }

    /// `sha256:` and the hex SHA-256 of the canonical SPKI DER: a stable key id for reports.
    /// The same value as `openssl pkey -pubin -outform DER | sha256sum` on `cosign.pub`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.key {
            KeyMaterial::EcdsaP256(_) => KeyAlgorithm::EcdsaP256,
            KeyMaterial::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// The canonical SPKI DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Standard base64 of SHA-256 over the SPKI DER: the `verificationMaterial.publicKey.hint`
    /// cosign writes into bundles signed with this key.
    pub fn cosign_hint(&self) -> String {
        STANDARD.encode(sha256(&self.spki_der))
    }

    /// The key as a PEM `PUBLIC KEY` block (64-character lines, LF line ends).
    pub fn to_pem(&self) -> String {
        let body = STANDARD.encode(&self.spki_der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str(PEM_END_PUBLIC_KEY);
        pem.push('\n');
        pem
    }

    /// Checks `signature` over `message`: ECDSA P-256 with SHA-256 (DER or 64-byte `r || s`),
    /// or Ed25519 (pure, then Ed25519ph with SHA-512 and an empty context).
    pub(crate) fn verify_message(
        &self,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        match &self.key {
            KeyMaterial::EcdsaP256(key) => {
                let candidates = p256_signatures(signature)?;
                if candidates
                    .iter()
                    .any(|sig| key.verify(message, sig).is_ok())
                {
                    Ok(())
                } else {
                    Err(self.mismatch())
                }
            }
            KeyMaterial::Ed25519(key) => {
                let bytes = <[u8; 64]>::try_from(signature).map_err(|_| {
                    SignatureError::MalformedSignature {
                        algorithm: KeyAlgorithm::Ed25519,
                        reason: "an Ed25519 signature is 64 bytes",
                    }
                })?;
                let sig = ed25519_dalek::Signature::from_bytes(&bytes);
                if key.verify_strict(message, &sig).is_ok() {
                    return Ok(());
                }
                let mut prehash = <ed25519_dalek::Sha512 as ed25519_dalek::Digest>::new();
                ed25519_dalek::Digest::update(&mut prehash, message);
                if key.verify_prehashed_strict(prehash, None, &sig).is_ok() {
                    return Ok(());
                }
                Err(self.mismatch())
            }
        }
    }

    /// Checks an ECDSA P-256 `signature` over a SHA-256 `digest` computed by the signer (a
    /// bundle's message signature). Ed25519 cannot verify a digest it did not compute.
    pub(crate) fn verify_sha256_prehash(
        &self,
        digest: &[u8; 32],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        match &self.key {
            KeyMaterial::EcdsaP256(key) => {
                let candidates = p256_signatures(signature)?;
                if candidates
                    .iter()
                    .any(|sig| key.verify_prehash(digest.as_slice(), sig).is_ok())
                {
                    Ok(())
                } else {
                    Err(self.mismatch())
                }
            }
            KeyMaterial::Ed25519(_) => Err(SignatureError::Ed25519MessageSignature),
        }
    }

    fn mismatch(&self) -> SignatureError {
        SignatureError::SignatureMismatch {
            key: self.fingerprint.clone(),
        }
    }
}

impl PartialEq for TrustedKey {
    fn eq(&self, other: &TrustedKey) -> bool {
        self.spki_der == other.spki_der
    }
}

impl Eq for TrustedKey {}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedKey")
            .field("algorithm", &self.algorithm())
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_slice());
    out
}

/// The readings of `signature` as a P-256 signature: ASN.1 DER (what Go writes) and, for 64
/// bytes, fixed `r || s`. A DER signature can be 64 bytes long, so both are tried.
fn p256_signatures(signature: &[u8]) -> Result<Vec<p256::ecdsa::Signature>, SignatureError> {
    let mut candidates = Vec::with_capacity(2);
    if let Ok(sig) = p256::ecdsa::Signature::from_der(signature) {
        candidates.push(sig);
    }
    // `from_slice` refuses anything but 64 bytes.
    if let Ok(sig) = p256::ecdsa::Signature::from_slice(signature) {
        candidates.push(sig);
    }
    if candidates.is_empty() {
        Err(SignatureError::MalformedSignature {
            algorithm: KeyAlgorithm::EcdsaP256,
            reason: "neither ASN.1 DER nor 64-byte r||s with r and s in range",
        })
    } else {
        Ok(candidates)
    }
}

/// Why a DER blob that is neither a P-256 nor an Ed25519 SPKI was refused, as precisely as
/// the object identifiers in it allow.
fn why_unsupported(der: &[u8]) -> &'static str {
    let has = |oid: &[u8]| der.windows(oid.len()).any(|window| window == oid);
    if has(OID_RSA) {
        "RSA keys are not supported; use an ECDSA P-256 or Ed25519 key"
    } else if has(OID_P384) || has(OID_P521) {
        "ECDSA P-384 and P-521 keys are not supported; use an ECDSA P-256 or Ed25519 key"
    } else if has(OID_EC_PUBLIC_KEY) && has(OID_P256) {
        "the P-256 public key is malformed (not a point on the curve)"
    } else if has(OID_EC_PUBLIC_KEY) {
        "only the P-256 curve is supported for ECDSA keys"
    } else if has(OID_ED25519) {
        "the Ed25519 public key is malformed"
    } else {
        "not the SubjectPublicKeyInfo DER of an ECDSA P-256 or Ed25519 key"
    }
}

fn invalid_pem(reason: impl Into<String>) -> SignatureError {
    SignatureError::InvalidPem {
        reason: reason.into(),
    }
}

/// The DER inside the one `PUBLIC KEY` block of `pem`.
fn pem_public_key_der(pem: &str) -> Result<Vec<u8>, SignatureError> {
    check_size("PEM public key", "bytes", pem.len(), MAX_PEM_BYTES)?;
    let (_, after_begin) = pem
        .split_once(PEM_BEGIN)
        .ok_or_else(|| invalid_pem("no -----BEGIN line"))?;
    let (label, after_label) = after_begin
        .split_once("-----")
        .ok_or_else(|| invalid_pem("the -----BEGIN line is not closed by -----"))?;
    if label != "PUBLIC KEY" {
        return Err(match label {
            _ if label.contains("PRIVATE KEY") => invalid_pem(
                "this is a private key; trust the public key (cosign.pub, or `cosign public-key`)",
            ),
            "CERTIFICATE" => invalid_pem(
                "this is a certificate; trust its public key (`openssl x509 -pubkey -noout`)",
            ),
            _ => invalid_pem(format!(
                "a {:?} block; expected PUBLIC KEY (SubjectPublicKeyInfo)",
                excerpt(label)
            )),
        });
    }
    let (body, rest) = after_label
        .split_once(PEM_END_PUBLIC_KEY)
        .ok_or_else(|| invalid_pem("no -----END PUBLIC KEY----- line"))?;
    if rest.contains(PEM_BEGIN) {
        return Err(invalid_pem(
            "more than one PEM block; give one public key per TrustedKey",
        ));
    }
    if body.contains(':') {
        return Err(invalid_pem(
            "PEM headers (encrypted or annotated keys) are not supported",
        ));
    }
    let base64_body: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if base64_body.is_empty() {
        return Err(invalid_pem("the PUBLIC KEY block is empty"));
    }
    STANDARD
        .decode(base64_body.as_bytes())
        .map_err(|_| invalid_pem("the PUBLIC KEY block is not valid base64"))
}
