//! NuGet version ordering: SemVer 2.0 with up to four numeric parts.
//!
//! NuGet reads `1.0`, `1.0.0` and `1.0.0.0` as the same version (missing parts are zero),
//! allows a fourth "revision" part, compares pre-release labels case-insensitively
//! (`1.0.0-BETA` = `1.0.0-beta`) and ignores build metadata entirely. NuGet rejects more
//! than four numeric parts, and so does this module.

use std::cmp::Ordering;

use crate::error::InvalidVersion;
use crate::semver::{Identifier, SemVerParts, compare_pre_release, compare_zero_padded};

/// The most numeric parts NuGet accepts (major.minor.patch.revision).
const MAX_RELEASE_PARTS: usize = 4;

/// A NuGet package version.
#[derive(Debug, Clone)]
pub struct NuGetVersion {
    parts: SemVerParts,
}

impl NuGetVersion {
    /// Parses a NuGet version string.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        let mut parts = SemVerParts::parse(input, false)?;
        if parts.release.len() > MAX_RELEASE_PARTS {
            return Err(InvalidVersion::Malformed(
                "NuGet versions have at most four numeric parts",
            ));
        }
        // Case-insensitivity is decided once, here, so ordering stays a plain comparison.
        for identifier in &mut parts.pre_release {
            if let Identifier::Alphanumeric(text) = identifier {
                *text = text.to_ascii_lowercase().into();
            }
        }
        Ok(NuGetVersion { parts })
    }
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_zero_padded(&self.parts.release, &other.parts.release)
            .then_with(|| compare_pre_release(&self.parts.pre_release, &other.parts.pre_release))
    }
}

impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for NuGetVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for NuGetVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> NuGetVersion {
        NuGetVersion::parse(text).unwrap()
    }

    #[test]
    fn missing_parts_are_zero_and_leading_zeros_vanish() {
        assert_eq!(v("1.0"), v("1.0.0.0"));
        assert_eq!(v("1.0.01"), v("1.0.1.0"));
        assert!(v("1.0.0") < v("1.0.0.1"));
        assert!(v("0.9.9.1") < v("1.0.0"));
    }

    #[test]
    fn pre_release_labels_are_case_insensitive() {
        assert_eq!(v("1.0.0-BETA"), v("1.0.0-beta"));
        assert_eq!(v("1.0.0-BETA.X.y.5.77.0"), v("1.0.0-beta.x.y.5.77.0"));
        assert!(v("1.0.0-BETA") < v("1.0.0-beta2"));
        assert!(v("1.0.0-beta.x.y.5.79.0") < v("1.0.0-beta.x.y.5.790.0"));
    }

    #[test]
    fn build_metadata_is_ignored() {
        assert_eq!(v("1.0.0+beta"), v("1.0.0"));
        assert_eq!(v("1.0.0.1-1.2.A"), v("1.0.0.1-1.2.a+A"));
        assert!(v("1.0.0-beta+AA") < v("1.0.0+aa"));
    }

    #[test]
    fn rejects_five_parts_and_a_v_prefix() {
        assert!(NuGetVersion::parse("1.2.3.4.5").is_err());
        assert!(NuGetVersion::parse("v1.2.3").is_err());
        assert!(NuGetVersion::parse("").is_err());
    }
}
