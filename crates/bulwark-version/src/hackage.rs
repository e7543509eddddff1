//! Haskell package version ordering (Hackage), as `Data.Version` and Cabal define it.
//!
//! A version is one or more non-negative integers separated by `.`; versions compare as
//! lists, element by element, and a proper prefix is smaller (`1.0 < 1.0.0`). Hackage
//! versions have no tags or other text, so anything else is refused.

use crate::error::InvalidVersion;
use crate::numeric::DecimalNumber;

/// A parsed Hackage version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HackageVersion {
    /// Compared lexicographically, which is Haskell's list order.
    components: Vec<DecimalNumber>,
}

impl HackageVersion {
    /// Parses a Hackage version.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        if input.trim().is_empty() {
            return Err(InvalidVersion::Empty);
        }
        let mut components = Vec::new();
        let mut position = 0;
        for component in input.split('.') {
            let number =
                DecimalNumber::parse_all_digits(component).ok_or_else(|| {
                    match component.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
                        Some((at, found)) => InvalidVersion::UnexpectedCharacter {
                            found,
                            position: position + at,
                        },
                        None => InvalidVersion::Malformed("version components must not be empty"),
                    }
                })?;
            components.push(number);
            position += component.len() + 1;
        }
        Ok(HackageVersion { components })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> HackageVersion {
        HackageVersion::parse(text).unwrap()
    }

    #[test]
    fn a_prefix_is_smaller() {
        assert!(v("1.0") < v("1.0.0"));
        assert!(v("0") < v("0.1.26.0"));
        assert!(v("1") < v("2.0"));
    }

    #[test]
    fn components_compare_numerically() {
        assert!(v("0.11.3.0") < v("1.0"));
        assert!(v("1.9") < v("1.10"));
        assert_eq!(v("0.1.0.0"), v("0.1.0.0"));
    }

    #[test]
    fn rejects_anything_but_numbers_and_dots() {
        for bad in ["", "1.0-1", "1..0", "1.0.", "v1", "1.0a"] {
            assert!(HackageVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
