//! How a delivery is signed: the Standard Webhooks scheme (standardwebhooks.com), which
//! receivers can check with that project's libraries or by hand. The headers
//! `webhook-id` (the same for every attempt at one delivery, so a receiver drops repeats),
//! `webhook-timestamp` (Unix seconds at sending: a receiver refuses old ones, so a captured
//! request cannot be replayed later) and `webhook-signature: v1,<base64 HMAC-SHA256 over
//! "{id}.{timestamp}.{body}">`, keyed by the webhook's secret `whsec_<base64 key>`.

use base64::Engine;
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The prefix of a webhook secret as shown to its creator.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret: 32 random bytes, as `whsec_<base64>`.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)?;
    Ok(format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    ))
}

/// The key inside a secret; `None` for a malformed one.
fn key_of(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX)?;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .filter(|key| !key.is_empty())
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Option<Vec<u8>> {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac.finalize().into_bytes().to_vec())
}

/// The `webhook-signature` value for a delivery; `None` for a malformed secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let tag = mac(&key_of(secret)?, id, timestamp, body)?;
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag)
    ))
}

/// Whether `signature` (a `webhook-signature` header: space-separated `v1,<base64>`
/// entries) signs this delivery under `secret`, sent at `timestamp` and received at `now`
/// (Unix seconds) within `tolerance_secs`. What a receiver does; here for the tests and as
/// the scheme's executable description.
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
    signature: &str,
    now: i64,
    tolerance_secs: i64,
) -> bool {
    if (now - timestamp).abs() > tolerance_secs {
        return false;
    }
    let Some(key) = key_of(secret) else {
        return false;
    };
    let Some(expected) = mac(&key, id, timestamp, body) else {
        return false;
    };
    signature.split(' ').any(|entry| {
        entry
            .strip_prefix("v1,")
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            // Constant time: a receiver's comparison must not tell how much matched.
            .is_some_and(|tag| bool::from(tag.ct_eq(&expected)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let secret = new_secret().unwrap();
        let body = br#"{"specversion":"1.0"}"#;
        let signature = sign(&secret, "delivery_1", 1_700_000_000, body).unwrap();
        assert!(signature.starts_with("v1,"));
        assert!(verify(
            &secret,
            "delivery_1",
            1_700_000_000,
            body,
            &signature,
            1_700_000_010,
            300
        ));
        // Another body, id, time or key.
        assert!(!verify(
            &secret,
            "delivery_1",
            1_700_000_000,
            b"{}",
            &signature,
            1_700_000_010,
            300
        ));
        assert!(!verify(
            &secret,
            "delivery_2",
            1_700_000_000,
            body,
            &signature,
            1_700_000_010,
            300
        ));
        assert!(!verify(
            &secret,
            "delivery_1",
            1_700_000_001,
            body,
            &signature,
            1_700_000_010,
            300
        ));
        let other = new_secret().unwrap();
        assert!(!verify(
            &other,
            "delivery_1",
            1_700_000_000,
            body,
            &signature,
            1_700_000_010,
            300
        ));
        // Replayed later than the tolerance.
        assert!(!verify(
            &secret,
            "delivery_1",
            1_700_000_000,
            body,
            &signature,
            1_700_000_400,
            300
        ));
        // One of several signatures (during a receiver's key change) is enough.
        let both = format!("v1,AAAA {signature}");
        assert!(verify(
            &secret,
            "delivery_1",
            1_700_000_000,
            body,
            &both,
            1_700_000_000,
            300
        ));
    }

    #[test]
    fn the_scheme_matches_the_standard_webhooks_test_vector() {
        // From the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
