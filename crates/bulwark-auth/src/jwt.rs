//! Registry tokens: short-lived JWTs in the Docker token format, signed with Ed25519.
//!
//! Keys live in the metadata store so that every node of a scale-out deployment signs and
//! verifies with the same set. The newest unretired key signs; a retired key keeps verifying
//! until every token it could have signed has expired, so rotation never logs anyone out.

use std::collections::HashMap;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, signature};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use bulwark_metadata::SigningKeyRecord;

use crate::AuthError;
use crate::policy::{AccountId, ResourceAccess};
use crate::secret::random_bytes;

const ALGORITHM: &str = "EdDSA";

/// jsonwebtoken's cryptography, reduced to the one algorithm Bulwark uses. Its built-in
/// providers bring RSA, ECDSA and HMAC (and their advisories) into the build; this one knows
/// Ed25519 only, so any other `alg` cannot even be attempted.
static ED25519_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: ed25519_signer,
    verifier_factory: ed25519_verifier,
    // JWK helpers are never used: keys come from the metadata store, not from JWKs.
    key_utils: KeyUtils::new_unimplemented(),
};

/// Installs the Ed25519-only provider for this process (idempotent).
pub fn install_crypto_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // Fails only if another provider was installed first, which nothing here does.
        let _ = ED25519_ONLY.install_default();
    });
}

struct Ed25519Signer(SigningKey);

impl signature::Signer<Vec<u8>> for Ed25519Signer {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(message).to_bytes().to_vec())
    }
}

impl JwtSigner for Ed25519Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct Ed25519Verifier(VerifyingKey);

impl signature::Verifier<Vec<u8>> for Ed25519Verifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let signature = Signature::from_slice(signature)?;
        // Strict verification rejects the malleable and small-order edge cases.
        self.0.verify_strict(message, &signature)
    }
}

impl JwtVerifier for Ed25519Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn ed25519_signer(
    algorithm: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let key = SigningKey::from_pkcs8_der(key.as_bytes()).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(Ed25519Signer(key)))
}

fn ed25519_verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let bytes: &[u8; 32] = key
        .try_get_as_bytes()?
        .try_into()
        .map_err(|_| ErrorKind::InvalidEddsaKey)?;
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(Ed25519Verifier(key)))
}

/// The claims of a registry token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub access: Vec<ResourceAccess>,
    /// The account behind `sub`, so that a catalog request can be filtered by its rights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acct: Option<AccountId>,
}

/// A new Ed25519 key, ready to store.
pub fn generate_signing_key(now_millis: i64) -> Result<SigningKeyRecord, AuthError> {
    let key = SigningKey::from_bytes(&random_bytes::<32>()?);
    let private_key = key
        .to_pkcs8_der()
        .map_err(|e| AuthError::Internal(format!("encoding a signing key: {e}")))?
        .as_bytes()
        .to_vec();
    let public_key = key.verifying_key().to_bytes().to_vec();
    // The key id is derived from the public key, so the same key always has the same id.
    let kid = hex::encode(&Sha256::digest(&public_key)[..12]);
    Ok(SigningKeyRecord {
        kid,
        algorithm: ALGORITHM.to_owned(),
        private_key,
        public_key,
        created_at: now_millis,
        retired_at: None,
    })
}

/// The keys in use: one that signs, all that verify.
pub struct KeyRing {
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("KeyRing")
            .field("signing_kid", &self.signing_kid)
            .field("verifying", &self.verifying.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KeyRing {
    /// Builds the ring from stored keys; the newest unretired key signs.
    pub fn from_records(records: &[SigningKeyRecord]) -> Result<Self, AuthError> {
        install_crypto_provider();
        let signer = records
            .iter()
            .filter(|r| r.retired_at.is_none() && r.algorithm == ALGORITHM)
            .max_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)))
            .ok_or_else(|| AuthError::Internal("no active token signing key".into()))?;
        let verifying = records
            .iter()
            .filter(|r| r.algorithm == ALGORITHM && r.public_key.len() == 32)
            .map(|r| (r.kid.clone(), DecodingKey::from_ed_der(&r.public_key)))
            .collect();
        Ok(KeyRing {
            signing_kid: signer.kid.clone(),
            signing: EncodingKey::from_ed_der(&signer.private_key),
            verifying,
        })
    }

    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    pub fn knows(&self, kid: &str) -> bool {
        self.verifying.contains_key(kid)
    }

    pub fn sign(&self, claims: &RegistryClaims) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.signing_kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.signing)
            .map_err(|e| AuthError::Internal(format!("signing a registry token: {e}")))
    }

    /// Verifies signature, algorithm, issuer, audience and time window. Anything else —
    /// another key, `alg: none`, an HMAC algorithm, a changed claim — is refused.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<RegistryClaims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::InvalidToken);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.verifying.get(kid))
            .ok_or(AuthError::InvalidToken)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        // Times are checked below against Bulwark's own clock, which tests can move.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = jsonwebtoken::decode::<RegistryClaims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|_| AuthError::InvalidToken)?;
        let now = bulwark_metadata::now_millis() / 1000;
        // Clocks of a client-facing fleet drift a little; keep the grace small.
        if claims.exp.saturating_add(CLOCK_LEEWAY_SECS) <= now
            || claims.nbf.saturating_sub(CLOCK_LEEWAY_SECS) > now
        {
            return Err(AuthError::InvalidToken);
        }
        Ok(claims)
    }
}

/// Seconds of disagreement between clocks tolerated on `exp` and `nbf`.
const CLOCK_LEEWAY_SECS: i64 = 2;

/// The `kid` a token claims, to tell an unknown key (reload the ring) from a bad token.
pub fn token_kid(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).ok()?.kid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> RegistryClaims {
        RegistryClaims {
            iss: "bulwark".into(),
            sub: "alice".into(),
            aud: "registry".into(),
            exp: now + 300,
            nbf: now - 1,
            iat: now,
            jti: "1".into(),
            access: vec![ResourceAccess {
                kind: "repository".into(),
                name: "p/app".into(),
                actions: vec!["pull".into()],
            }],
            acct: Some(AccountId::User(7)),
        }
    }

    fn now() -> i64 {
        bulwark_metadata::now_millis() / 1000
    }

    fn new_ring() -> (KeyRing, SigningKeyRecord) {
        let record = generate_signing_key(1).unwrap();
        (
            KeyRing::from_records(std::slice::from_ref(&record)).unwrap(),
            record,
        )
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn a_signed_token_verifies() {
        let (ring, _) = new_ring();
        let token = ring.sign(&claims(now())).unwrap();
        let verified = ring.verify(&token, "bulwark", "registry").unwrap();
        assert_eq!(verified, claims(verified.iat));
        assert_eq!(token_kid(&token).as_deref(), Some(ring.signing_kid()));
    }

    #[test]
    fn tokens_of_another_key_are_refused() {
        let (ring, _) = new_ring();
        let (other, other_record) = new_ring();
        let token = other.sign(&claims(now())).unwrap();
        assert!(ring.verify(&token, "bulwark", "registry").is_err());
        // Even when the forger reuses our kid.
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(ring.signing_kid().to_owned());
        let forged = jsonwebtoken::encode(
            &header,
            &claims(now()),
            &EncodingKey::from_ed_der(&other_record.private_key),
        )
        .unwrap();
        assert!(ring.verify(&forged, "bulwark", "registry").is_err());
    }

    #[test]
    fn alg_none_and_hmac_with_the_public_key_are_refused() {
        let (ring, record) = new_ring();
        let payload = b64(&serde_json::to_vec(&claims(now())).unwrap());
        let none_header =
            b64(format!(r#"{{"alg":"none","kid":"{}"}}"#, ring.signing_kid()).as_bytes());
        assert!(
            ring.verify(&format!("{none_header}.{payload}."), "bulwark", "registry")
                .is_err()
        );

        // HS256 keyed with the public key: the classic algorithm-confusion forgery.
        use hmac::{KeyInit, Mac};
        let header = b64(format!(r#"{{"alg":"HS256","kid":"{}"}}"#, ring.signing_kid()).as_bytes());
        let signing_input = format!("{header}.{payload}");
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&record.public_key).unwrap();
        mac.update(signing_input.as_bytes());
        let hs = format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()));
        assert!(ring.verify(&hs, "bulwark", "registry").is_err());
    }

    #[test]
    fn altered_claims_break_the_signature() {
        let (ring, _) = new_ring();
        let token = ring.sign(&claims(now())).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut wider = claims(now());
        wider.access[0].actions.push("push".into());
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(&serde_json::to_vec(&wider).unwrap()),
            parts[2]
        );
        assert!(ring.verify(&forged, "bulwark", "registry").is_err());
    }

    #[test]
    fn time_window_issuer_and_audience_are_enforced() {
        let (ring, _) = new_ring();
        let mut expired = claims(now() - 1000);
        expired.exp = now() - 60;
        assert!(
            ring.verify(&ring.sign(&expired).unwrap(), "bulwark", "registry")
                .is_err()
        );
        let mut early = claims(now());
        early.nbf = now() + 600;
        assert!(
            ring.verify(&ring.sign(&early).unwrap(), "bulwark", "registry")
                .is_err()
        );
        let token = ring.sign(&claims(now())).unwrap();
        assert!(ring.verify(&token, "bulwark", "another-service").is_err());
        assert!(ring.verify(&token, "someone-else", "registry").is_err());
    }
}
