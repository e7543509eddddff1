//! Secrets: password hashing, access-token generation and parsing, constant-time checks.
//!
//! Passwords are low-entropy, so they get argon2id (OWASP's parameters: 19 MiB, 2 passes).
//! Token secrets are 238 random bits, so one SHA-256 is enough and keeps every request cheap.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AuthError;

/// Every access token starts with this, so secret scanners can recognise a leaked one.
pub const TOKEN_PREFIX: &str = "bwk_";
const TOKEN_ID_LEN: usize = 12;
const TOKEN_SECRET_LEN: usize = 40;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub const MIN_PASSWORD_LEN: usize = 12;
/// argon2 costs the same for any length, but a megabyte "password" is an attack, not a user.
pub const MAX_PASSWORD_LEN: usize = 1024;

fn argon2() -> Argon2<'static> {
    // Params::new only fails for values outside argon2's limits; these are fixed and valid.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Internal(format!("randomness: {e}")))?;
    Ok(bytes)
}

/// `len` characters from the base-62 alphabet, uniformly: bytes ≥ 248 are rejected so that
/// `byte % 62` is unbiased. Base 62 keeps tokens shell-safe and double-click selectable.
fn random_base62(len: usize) -> Result<String, AuthError> {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in random_bytes::<64>()? {
            if byte < 248 && out.len() < len {
                out.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
    }
    Ok(out)
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    check_password_policy(password)?;
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| AuthError::Internal(format!("salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::Internal(format!("hashing a password: {e}")))
}

pub fn check_password_policy(password: &str) -> Result<(), AuthError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(AuthError::Invalid(format!(
            "a password needs at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AuthError::Invalid(format!(
            "a password may have at most {MAX_PASSWORD_LEN} bytes"
        )));
    }
    Ok(())
}

/// Whether `password` matches the stored PHC string; a corrupt hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(hash) => argon2().verify_password(password.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one password check, so that an unknown user name answers as slowly as
/// a wrong password and cannot be told apart by timing.
pub fn spend_password_check_time(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("dummy password for timing").ok());
    if let Some(phc) = dummy {
        let _ = verify_password(password, phc);
    }
}

/// A freshly generated access token. `token` is shown to its owner once and never stored.
pub struct GeneratedToken {
    pub id: String,
    pub token: String,
    pub secret_hash: Vec<u8>,
}

/// Secrets stay out of debug output (and so out of any log line that prints one).
impl std::fmt::Debug for GeneratedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedToken")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .field("secret_hash", &"<redacted>")
            .finish()
    }
}

pub fn generate_token() -> Result<GeneratedToken, AuthError> {
    let id = random_base62(TOKEN_ID_LEN)?;
    regenerate_token(&id)
}

/// A new secret for an existing token id (rotation).
pub fn regenerate_token(id: &str) -> Result<GeneratedToken, AuthError> {
    let secret = random_base62(TOKEN_SECRET_LEN)?;
    Ok(GeneratedToken {
        id: id.to_owned(),
        token: format!("{TOKEN_PREFIX}{id}{secret}"),
        secret_hash: hash_token_secret(&secret).to_vec(),
    })
}

/// Splits a token into its id and secret; `None` when it is not shaped like one of ours.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let body = token.strip_prefix(TOKEN_PREFIX)?;
    if body.len() != TOKEN_ID_LEN + TOKEN_SECRET_LEN
        || !body.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return None;
    }
    Some(body.split_at(TOKEN_ID_LEN))
}

pub fn looks_like_token(candidate: &str) -> bool {
    candidate.starts_with(TOKEN_PREFIX)
}

pub fn hash_token_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_have_the_prefix_and_parse_back() {
        let generated = generate_token().unwrap();
        assert!(generated.token.starts_with("bwk_"));
        assert_eq!(generated.token.len(), 4 + TOKEN_ID_LEN + TOKEN_SECRET_LEN);
        let (id, secret) = parse_token(&generated.token).unwrap();
        assert_eq!(id, generated.id);
        assert_eq!(hash_token_secret(secret).to_vec(), generated.secret_hash);
        assert!(
            generated
                .token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        );
    }

    #[test]
    fn rotation_keeps_the_id_and_changes_the_secret() {
        let first = generate_token().unwrap();
        let second = regenerate_token(&first.id).unwrap();
        assert_eq!(first.id, second.id);
        assert_ne!(first.token, second.token);
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterx", &phc));
        assert!(!verify_password("correct horse battery", "not a hash"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(hash_password("short"), Err(AuthError::Invalid(_))));
    }

    proptest! {
        #[test]
        fn parse_token_never_panics(s in "\\PC*") {
            let _ = parse_token(&s);
        }

        #[test]
        fn only_well_formed_tokens_parse(body in "[A-Za-z0-9]{52}", bad in "[^A-Za-z0-9]") {
            let token = format!("bwk_{body}");
            prop_assert!(parse_token(&token).is_some());
            let broken = format!("bwk_{}{}", &body[..51], bad);
            prop_assert!(parse_token(&broken).is_none());
        }
    }
}
