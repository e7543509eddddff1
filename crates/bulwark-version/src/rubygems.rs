//! RubyGems version ordering, as `Gem::Version#<=>` defines it.
//!
//! A version is the sequence of its digit runs and letter runs (`1.0.a10` is
//! `[1, 0, "a", 10]`), with `-` read as `.pre.` (`1.0-1` is `1.0.pre.1`). Any letter run
//! makes the version a pre-release: words sort before numbers at the same position, so
//! `1.0.b1 < 1.0`. Trailing zeros are dropped from the numeric part and from the part
//! after the first word (`1.0.a.0` = `1.a`); words compare case-sensitively by bytes.
//!
//! `Gem::Version` also requires the first segment to be a plain number; advisories and
//! old gems do not always follow that (`1beta`), and the ordering does not depend on it,
//! so this module only requires ASCII letters, digits, `.` and `-`.

use std::cmp::Ordering;

use crate::error::InvalidVersion;
use crate::numeric::DecimalNumber;

/// A parsed RubyGems version.
#[derive(Debug, Clone)]
pub struct GemVersion {
    /// `Gem::Version#canonical_segments`.
    segments: Vec<Segment>,
}

/// Declaration order matters: a word sorts before a number at the same position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Word(Box<str>),
    Number(DecimalNumber),
}

impl Segment {
    fn is_zero(&self) -> bool {
        matches!(self, Segment::Number(number) if number.is_zero())
    }
}

impl GemVersion {
    /// Parses a gem version; surrounding whitespace is ignored as `Gem::Version` does.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(InvalidVersion::Empty);
        }
        let offset = input.len() - input.trim_start().len();
        if let Some((position, found)) = trimmed
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        {
            return Err(InvalidVersion::UnexpectedCharacter {
                found,
                position: offset + position,
            });
        }

        let expanded = trimmed.replace('-', ".pre.");
        let segments = runs(&expanded)
            .map(|run| match DecimalNumber::parse_all_digits(run) {
                Some(number) => Segment::Number(number),
                None => Segment::Word(run.into()),
            })
            .collect::<Vec<_>>();
        if segments.is_empty() {
            return Err(InvalidVersion::Malformed(
                "a gem version needs at least one number or word",
            ));
        }
        Ok(GemVersion {
            segments: canonical(segments),
        })
    }
}

/// The maximal runs of ASCII digits and of ASCII letters, as `scan(/[0-9]+|[a-z]+/i)`.
fn runs(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        while start < bytes.len() && !bytes[start].is_ascii_alphanumeric() {
            start += 1;
        }
        if start >= bytes.len() {
            return None;
        }
        let digits = bytes[start].is_ascii_digit();
        let mut end = start + 1;
        while end < bytes.len()
            && bytes[end].is_ascii_alphanumeric()
            && bytes[end].is_ascii_digit() == digits
        {
            end += 1;
        }
        // The input was checked to be ASCII, so these are character boundaries.
        let run = text.get(start..end);
        start = end;
        run
    })
}

/// Drops trailing zeros from the release part and from the pre-release part separately.
fn canonical(mut segments: Vec<Segment>) -> Vec<Segment> {
    let first_word = segments
        .iter()
        .position(|segment| matches!(segment, Segment::Word(_)))
        .unwrap_or(segments.len());
    let mut pre_release = segments.split_off(first_word);
    while segments.last().is_some_and(Segment::is_zero) {
        segments.pop();
    }
    while pre_release.last().is_some_and(Segment::is_zero) {
        pre_release.pop();
    }
    segments.extend(pre_release);
    segments
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Number(DecimalNumber::zero());
        let length = self.segments.len().max(other.segments.len());
        (0..length)
            .map(|i| {
                let left = self.segments.get(i).unwrap_or(&zero);
                let right = other.segments.get(i).unwrap_or(&zero);
                left.cmp(right)
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for GemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for GemVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> GemVersion {
        GemVersion::parse(text).unwrap()
    }

    #[test]
    fn numbers_compare_numerically() {
        assert!(v("3.2") < v("3.10"));
        assert!(v("1.2.4") < v("1.3.0"));
        assert_eq!(v("1.0"), v("1"));
        assert_eq!(v("1.0.0"), v("1"));
    }

    #[test]
    fn words_make_pre_releases() {
        assert!(v("1beta") < v("1"));
        assert!(v("1.2.4.beta") < v("1.2.4"));
        assert!(v("1.0.a.2") < v("1.0.b1"));
        assert!(v("1.0.b1") < v("1.0"));
        assert!(v("0.9") < v("1.0.a.2"));
        assert!(v("1.0.a.9") < v("1.0.b.9"));
    }

    #[test]
    fn letter_digit_runs_split_without_dots() {
        assert_eq!(v("1.0.a2"), v("1.0.a.2"));
        assert!(v("1.0.a9") < v("1.0.a10"));
        assert!(v("1.0.a.9") < v("1.0.a10"));
    }

    #[test]
    fn hyphen_means_pre() {
        assert_eq!(v("1.0-1"), v("1.0.pre.1"));
        assert!(v("1.0-1") < v("1.0"));
    }

    #[test]
    fn trailing_zeros_are_dropped_in_both_parts() {
        assert_eq!(v("1.0.a.0"), v("1.a"));
        assert_eq!(v("3.0.0.alpha.1.0"), v("3.alpha.1"));
    }

    #[test]
    fn words_compare_case_sensitively() {
        assert!(v("1.0.RC1") < v("1.0.rc1"));
    }

    #[test]
    fn rejects_other_characters() {
        assert!(GemVersion::parse("1.0_1").is_err());
        assert!(GemVersion::parse("").is_err());
        assert!(GemVersion::parse("..").is_err());
        assert_eq!(
            GemVersion::parse(" 1.0 beta"),
            Err(InvalidVersion::UnexpectedCharacter {
                found: ' ',
                position: 4
            })
        );
    }
}
