//! Content digests (`algorithm:encoded`) and the streaming hasher that produces them.

use std::fmt;
use std::str::FromStr;

use sha2::digest::common::hazmat::SerializableState;
use sha2::{Digest as _, Sha256, Sha512};

/// The digest algorithms Bulwark can verify. The grammar admits others; they are refused
/// rather than stored unverified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    Sha256,
    Sha512,
}

impl DigestAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    fn encoded_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha512 => 128,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("digest {0:?} does not match the grammar algorithm:encoded")]
    Malformed(String),
    #[error("digest algorithm {0:?} is not supported (sha256 and sha512 are)")]
    UnsupportedAlgorithm(String),
    #[error("digest {0:?} has an encoded part of the wrong length or alphabet")]
    BadEncoding(String),
    #[error("a saved hasher state is malformed")]
    BadHasherState,
}

/// A validated digest: a supported algorithm and a lowercase hex encoding of the right length.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: DigestAlgorithm,
    encoded: String,
}

impl Digest {
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The hex part after the colon.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    /// Digest of a byte slice already in memory (manifests, small test blobs).
    pub fn compute(algorithm: DigestAlgorithm, bytes: &[u8]) -> Digest {
        let mut hasher = DigestHasher::new(algorithm);
        hasher.update(bytes);
        hasher.finish()
    }

    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Self::compute(DigestAlgorithm::Sha256, bytes)
    }
}

fn algorithm_component_ok(component: &str) -> bool {
    !component.is_empty()
        && component
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (algorithm, encoded) = s
            .split_once(':')
            .ok_or_else(|| DigestError::Malformed(s.to_owned()))?;
        // Spec grammar: algorithm-component (algorithm-separator algorithm-component)*,
        // encoded [a-zA-Z0-9=_-]+.
        let grammar_ok = algorithm
            .split(['+', '.', '_', '-'])
            .all(algorithm_component_ok)
            && !encoded.is_empty()
            && encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
        if !grammar_ok {
            return Err(DigestError::Malformed(s.to_owned()));
        }
        let algorithm = match algorithm {
            "sha256" => DigestAlgorithm::Sha256,
            "sha512" => DigestAlgorithm::Sha512,
            other => return Err(DigestError::UnsupportedAlgorithm(other.to_owned())),
        };
        let hex_ok = encoded.len() == algorithm.encoded_len()
            && encoded
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex_ok {
            return Err(DigestError::BadEncoding(s.to_owned()));
        }
        Ok(Digest {
            algorithm,
            encoded: encoded.to_owned(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.encoded)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental hasher for one algorithm; blobs are fed through it chunk by chunk as they stream.
#[derive(Clone)]
pub enum DigestHasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl fmt::Debug for DigestHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DigestHasher")
            .field(&self.algorithm())
            .finish()
    }
}

impl DigestHasher {
    pub fn new(algorithm: DigestAlgorithm) -> Self {
        match algorithm {
            DigestAlgorithm::Sha256 => DigestHasher::Sha256(Sha256::new()),
            DigestAlgorithm::Sha512 => DigestHasher::Sha512(Sha512::new()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            DigestHasher::Sha256(h) => h.update(bytes),
            DigestHasher::Sha512(h) => h.update(bytes),
        }
    }

    pub fn finish(self) -> Digest {
        let (algorithm, encoded) = match self {
            DigestHasher::Sha256(h) => (DigestAlgorithm::Sha256, hex::encode(h.finalize())),
            DigestHasher::Sha512(h) => (DigestAlgorithm::Sha512, hex::encode(h.finalize())),
        };
        Digest { algorithm, encoded }
    }

    /// The digest of the bytes fed so far; the hasher can go on.
    pub fn digest_so_far(&self) -> Digest {
        self.clone().finish()
    }

    pub fn algorithm(&self) -> DigestAlgorithm {
        match self {
            DigestHasher::Sha256(_) => DigestAlgorithm::Sha256,
            DigestHasher::Sha512(_) => DigestAlgorithm::Sha512,
        }
    }

    /// The state after the bytes fed so far, as text to store (`algorithm:hex`), so that a
    /// later request goes on from it with [`DigestHasher::resume`] instead of reading the
    /// bytes again: the chunks of an upload arrive in separate requests.
    pub fn saved_state(&self) -> String {
        let state = match self {
            DigestHasher::Sha256(h) => hex::encode(h.serialize()),
            DigestHasher::Sha512(h) => hex::encode(h.serialize()),
        };
        format!("{}:{state}", self.algorithm().as_str())
    }

    /// A hasher in the state [`DigestHasher::saved_state`] wrote.
    pub fn resume(saved: &str) -> Result<Self, DigestError> {
        let (algorithm, state) = saved.split_once(':').ok_or(DigestError::BadHasherState)?;
        let state = hex::decode(state).map_err(|_| DigestError::BadHasherState)?;
        match algorithm {
            "sha256" => state
                .as_slice()
                .try_into()
                .ok()
                .and_then(|state| Sha256::deserialize(state).ok())
                .map(DigestHasher::Sha256),
            "sha512" => state
                .as_slice()
                .try_into()
                .ok()
                .and_then(|state| Sha512::deserialize(state).ok())
                .map(DigestHasher::Sha512),
            _ => None,
        }
        .ok_or(DigestError::BadHasherState)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EMPTY_SHA256: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_displays_sha256() {
        let digest: Digest = EMPTY_SHA256.parse().unwrap();
        assert_eq!(digest.algorithm(), DigestAlgorithm::Sha256);
        assert_eq!(digest.to_string(), EMPTY_SHA256);
        assert_eq!(Digest::sha256_of(b""), digest);
    }

    #[test]
    fn sha512_of_empty() {
        let digest = Digest::compute(DigestAlgorithm::Sha512, b"");
        assert!(digest.to_string().starts_with("sha512:cf83e1357eefb8bd"));
        assert_eq!(digest.to_string().parse::<Digest>().unwrap(), digest);
    }

    #[test]
    fn rejects_bad_digests() {
        for (input, expected) in [
            ("sha256", DigestError::Malformed("sha256".into())),
            ("sha256:", DigestError::Malformed("sha256:".into())),
            (":abc", DigestError::Malformed(":abc".into())),
            ("SHA256:abc", DigestError::Malformed("SHA256:abc".into())),
            ("md5:abc", DigestError::UnsupportedAlgorithm("md5".into())),
            ("sha256:abc", DigestError::BadEncoding("sha256:abc".into())),
        ] {
            assert_eq!(input.parse::<Digest>().unwrap_err(), expected, "{input}");
        }
        let upper = EMPTY_SHA256.to_uppercase().replace("SHA256", "sha256");
        assert!(matches!(
            upper.parse::<Digest>(),
            Err(DigestError::BadEncoding(_))
        ));
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut hasher = DigestHasher::new(DigestAlgorithm::Sha256);
        hasher.update(b"hello ");
        hasher.update(b"world");
        assert_eq!(hasher.finish(), Digest::sha256_of(b"hello world"));
    }

    #[test]
    fn malformed_saved_states_are_refused() {
        let saved = DigestHasher::new(DigestAlgorithm::Sha256).saved_state();
        for bad in [
            "",
            "sha256",
            "md5:00",
            "sha256:zz",
            &saved[..saved.len() - 2],
            &saved.replace("sha256", "sha512"),
        ] {
            assert!(DigestHasher::resume(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = s.parse::<Digest>();
        }

        #[test]
        fn resume_never_panics(s in ".*") {
            let _ = DigestHasher::resume(&s);
        }

        /// Saving after any prefix and going on from the saved state gives the digest of
        /// the whole, for both algorithms.
        #[test]
        fn a_resumed_hasher_goes_on_where_it_stopped(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            cut in any::<proptest::sample::Index>(),
        ) {
            let cut = cut.index(bytes.len() + 1);
            for algorithm in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512] {
                let mut first = DigestHasher::new(algorithm);
                first.update(&bytes[..cut]);
                let mut resumed = DigestHasher::resume(&first.saved_state()).unwrap();
                prop_assert_eq!(resumed.digest_so_far(), first.digest_so_far());
                resumed.update(&bytes[cut..]);
                prop_assert_eq!(resumed.finish(), Digest::compute(algorithm, &bytes));
            }
        }

        #[test]
        fn display_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            for algorithm in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512] {
                let digest = Digest::compute(algorithm, &bytes);
                prop_assert_eq!(digest.to_string().parse::<Digest>().unwrap(), digest);
            }
        }
    }
}
