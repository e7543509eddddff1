//! R package version ordering (CRAN, Bioconductor), as R's `package_version` defines it.
//!
//! A version is a sequence of non-negative integers separated by `.` or `-`, the two
//! separators being interchangeable (`1.0-1` = `1.0.1`). Sequences compare element by
//! element, numerically, and a sequence that is a proper prefix of another is smaller:
//! `0.1.0 < 0.1.0.0`, unlike most ecosystems. Anything else is not an R version.

use crate::error::InvalidVersion;
use crate::numeric::DecimalNumber;

/// A parsed R package version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CranVersion {
    /// Compared lexicographically, which is R's order: a prefix sorts first.
    components: Vec<DecimalNumber>,
}

impl CranVersion {
    /// Parses an R package version; surrounding whitespace is ignored, as R does.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(InvalidVersion::Empty);
        }
        let offset = input.len() - input.trim_start().len();
        let mut components = Vec::new();
        let mut position = offset;
        for component in trimmed.split(['.', '-']) {
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
        Ok(CranVersion { components })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> CranVersion {
        CranVersion::parse(text).unwrap()
    }

    #[test]
    fn hyphen_and_dot_are_the_same_separator() {
        assert_eq!(v("0.1-0"), v("0.1.0"));
        assert_eq!(v("0.01.0"), v("0.1-0"));
    }

    #[test]
    fn a_prefix_is_smaller() {
        assert!(v("0.1.0") < v("0.1.0.0"));
        assert!(v("0.3.2") < v("0.3.2.0"));
        assert!(v("0.01") < v("0.1-0"));
    }

    #[test]
    fn components_compare_numerically() {
        assert!(v("0.9") < v("0.75"));
        assert!(v("0.1.4") < v("0.1.18"));
        assert_eq!(v("1.0"), v("1.00"));
    }

    #[test]
    fn rejects_non_numeric_versions() {
        for bad in ["", "1.0a", "1..0", "1.0-", "v1.0", "1.0.0-rc1"] {
            assert!(CranVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
