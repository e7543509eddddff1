//! Debian and Ubuntu version ordering, as dpkg's `verrevcmp` defines it.
//!
//! A version is `[epoch:]upstream[-revision]`: the epoch is a number before the first
//! `:`, the revision follows the last `-` (absent means `0`, which compares like the
//! empty string). Upstream and revision compare the same way: alternately a run of
//! non-digits, character by character, and a run of digits, by value. In the non-digit
//! runs `~` sorts before everything, even the end of the string (so `1.0~rc1 < 1.0`),
//! then the end of the string, then letters, then every other character, by ASCII value.
//!
//! Parsing is as lenient as `dpkg --compare-versions`: what dpkg only warns about (a
//! version not starting with a digit, unusual characters) is accepted; what dpkg refuses
//! is refused here too — an empty string, embedded whitespace, an epoch that is not a
//! number, an empty upstream version, an empty revision after `-`.

use std::cmp::Ordering;

use crate::error::InvalidVersion;
use crate::numeric::{DecimalNumber, split_leading_digits};

/// A parsed Debian package version.
#[derive(Debug, Clone)]
pub struct DebianVersion {
    epoch: DecimalNumber,
    upstream: Box<str>,
    /// Empty when the version has no revision; `verrevcmp` treats that like `0`.
    revision: Box<str>,
}

impl DebianVersion {
    /// Parses a Debian version; surrounding whitespace is ignored, as dpkg does.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(InvalidVersion::Empty);
        }
        let offset = input.len() - input.trim_start().len();
        if let Some((position, found)) = trimmed.char_indices().find(|(_, c)| c.is_whitespace()) {
            return Err(InvalidVersion::UnexpectedCharacter {
                found,
                position: offset + position,
            });
        }

        let (epoch, rest) = match trimmed.split_once(':') {
            Some((epoch, rest)) => {
                let epoch = DecimalNumber::parse_all_digits(epoch).ok_or(
                    InvalidVersion::Malformed("the epoch before ':' must be a number"),
                )?;
                (epoch, rest)
            }
            None => (DecimalNumber::zero(), trimmed),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((_, "")) => {
                return Err(InvalidVersion::Malformed("the revision after '-' is empty"));
            }
            Some((upstream, revision)) => (upstream, revision),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(InvalidVersion::Malformed("the upstream version is empty"));
        }
        Ok(DebianVersion {
            epoch,
            upstream: upstream.into(),
            revision: revision.into(),
        })
    }
}

/// dpkg's `order()`: the weight of one character of a non-digit run, `None` meaning the
/// run (or the string) has ended.
fn weight(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`.
fn compare_part(left: &str, right: &str) -> Ordering {
    let (mut left, mut right) = (left, right);
    while !left.is_empty() || !right.is_empty() {
        let (left_text, left_rest) = split_non_digits(left);
        let (right_text, right_rest) = split_non_digits(right);
        let (l, r) = (left_text.as_bytes(), right_text.as_bytes());
        for i in 0..l.len().max(r.len()) {
            let ordering = weight(l.get(i).copied()).cmp(&weight(r.get(i).copied()));
            if ordering.is_ne() {
                return ordering;
            }
        }

        let (left_digits, left_rest) = split_leading_digits(left_rest);
        let (right_digits, right_rest) = split_leading_digits(right_rest);
        let ordering = DecimalNumber::from_ascii_digits(left_digits)
            .cmp(&DecimalNumber::from_ascii_digits(right_digits));
        if ordering.is_ne() {
            return ordering;
        }
        left = left_rest;
        right = right_rest;
    }
    Ordering::Equal
}

fn split_non_digits(text: &str) -> (&str, &str) {
    let end = text
        .bytes()
        .position(|b| b.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

impl Ord for DebianVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(&self.upstream, &other.upstream))
            .then_with(|| compare_part(&self.revision, &other.revision))
    }
}

impl PartialOrd for DebianVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebianVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for DebianVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> DebianVersion {
        DebianVersion::parse(text).unwrap()
    }

    #[test]
    fn tilde_sorts_before_everything_even_the_end() {
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("1.0~~") < v("1.0~"));
        assert!(v("1.0~rc1") < v("1.0~rc2"));
        assert!(v("1.2.3-1~deb7u1") < v("1.2.3-1"));
    }

    #[test]
    fn letters_sort_before_other_characters() {
        assert!(v("1.0a") < v("1.0+"));
        assert!(v("1.0a") < v("1.0."));
        assert!(v("1.0") < v("1.0a"));
        assert!(v("2.7.4+reloaded2-13ubuntu1") < v("2.7.4+reloaded2-13+deb9u1"));
        assert!(v("2:0.0.44-1") < v("2:0.0.44-nobin"));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(v("0.9") < v("0.10"));
        assert!(v("1.0.9") < v("1.0.10"));
        assert_eq!(v("1.01"), v("1.1"));
    }

    #[test]
    fn epoch_and_revision() {
        assert_eq!(v("0:1.0"), v("1.0"));
        assert!(v("1.0") < v("1:0.1"));
        assert_eq!(v("1.0"), v("1.0-0"));
        assert_eq!(v("1.0-00"), v("1.0"));
        assert!(v("1.0-0") < v("1.0-a"));
        assert!(v("1.0-1") < v("1.0-a"));
        // The revision follows the *last* hyphen.
        assert!(v("1.0-rc-1") < v("1.0-rc-2"));
        assert_eq!(v("1.0-rc-1").upstream.as_ref(), "1.0-rc");
    }

    #[test]
    fn rejects_what_dpkg_rejects() {
        assert_eq!(DebianVersion::parse(""), Err(InvalidVersion::Empty));
        assert!(DebianVersion::parse("a:1.0").is_err());
        assert!(DebianVersion::parse(":1.0").is_err());
        assert!(DebianVersion::parse("1.0-").is_err());
        assert!(DebianVersion::parse("1:").is_err());
        assert!(DebianVersion::parse("-1").is_err());
        assert!(DebianVersion::parse("1.0 1").is_err());
        // Only warnings in dpkg: accepted.
        assert!(DebianVersion::parse("abc").is_ok());
        assert!(DebianVersion::parse("1.0@x").is_ok());
    }
}
