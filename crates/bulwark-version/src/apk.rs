//! Alpine (apk-tools) version ordering.
//!
//! A well-formed apk version is `N(.N)*[letter](_suffix[N])*[~hash][-rN]`. Parts compare
//! in that order:
//! - numbers: the first by value; later ones by value too, unless either has a leading
//!   zero, in which case they compare as text (Gentoo's rule, so `1.01 < 1.1`); a
//!   version with fewer numbers is older when the shared ones are equal (`1 < 1.0`);
//! - an optional single lower-case letter, absent before present (`1.2 < 1.2a`);
//! - suffixes, each a kind then a number, with
//!   `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`;
//! - the commit hash is ignored;
//! - the `-rN` package revision, by value (`-r` alone is `-r0`).
//!
//! `apk version -t` compares anything, so this accepts any non-empty string. Text the
//! grammar cannot place makes the version *malformed*: two malformed versions compare as
//! plain text, a malformed and a well-formed one compare by the parts that were read,
//! then whatever is left over sorts the malformed one first. That mixed rule can be
//! intransitive across malformed and well-formed versions; among well-formed versions the
//! order is total.

use std::cmp::Ordering;

use crate::error::InvalidVersion;
use crate::numeric::{DecimalNumber, split_leading_digits};

/// A parsed apk version.
#[derive(Debug, Clone)]
pub struct ApkVersion {
    original: Box<str>,
    numbers: Vec<NumberPart>,
    letter: Option<char>,
    suffixes: Vec<Suffix>,
    revision: DecimalNumber,
    /// Text after the revision that the grammar has no place for.
    leftover: bool,
    /// The grammar failed before the revision; such versions compare as text among
    /// themselves.
    malformed: bool,
}

#[derive(Debug, Clone)]
struct NumberPart {
    digits: Box<str>,
    value: DecimalNumber,
}

/// Declaration order is precedence; `None` is the rank of a missing suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SuffixKind {
    Alpha,
    Beta,
    Pre,
    ReleaseCandidate,
    None,
    Cvs,
    Svn,
    Git,
    Hg,
    Patch,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Suffix {
    kind: SuffixKind,
    number: DecimalNumber,
}

/// Longer spellings first where one is a prefix of another (`pre` before `p`).
const SUFFIX_SPELLINGS: &[(&str, SuffixKind)] = &[
    ("alpha", SuffixKind::Alpha),
    ("beta", SuffixKind::Beta),
    ("pre", SuffixKind::Pre),
    ("rc", SuffixKind::ReleaseCandidate),
    ("cvs", SuffixKind::Cvs),
    ("svn", SuffixKind::Svn),
    ("git", SuffixKind::Git),
    ("hg", SuffixKind::Hg),
    ("p", SuffixKind::Patch),
];

impl ApkVersion {
    /// Parses an apk version. Every non-empty string is a version.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        if input.trim().is_empty() {
            return Err(InvalidVersion::Empty);
        }
        let mut rest = input;

        // Numbers, each optionally followed by a dot.
        let mut numbers = Vec::new();
        loop {
            let (digits, after) = split_leading_digits(rest);
            if digits.is_empty() {
                break;
            }
            numbers.push(NumberPart {
                digits: digits.into(),
                value: DecimalNumber::from_ascii_digits(digits),
            });
            rest = after.strip_prefix('.').unwrap_or(after);
        }

        let letter = rest.chars().next().filter(char::is_ascii_lowercase);
        if let Some(letter) = letter {
            rest = &rest[letter.len_utf8()..];
        }

        let mut suffixes = Vec::new();
        while let Some(after_underscore) = rest.strip_prefix('_') {
            let Some((kind, after_kind)) = SUFFIX_SPELLINGS
                .iter()
                .find_map(|&(word, kind)| after_underscore.strip_prefix(word).map(|r| (kind, r)))
            else {
                break;
            };
            let (digits, after_number) = split_leading_digits(after_kind);
            suffixes.push(Suffix {
                kind,
                number: DecimalNumber::from_ascii_digits(digits),
            });
            rest = after_number;
        }

        // The commit hash takes no part in ordering.
        if let Some(after_tilde) = rest.strip_prefix('~') {
            let hash_length = after_tilde
                .bytes()
                .take_while(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                .count();
            if hash_length > 0 {
                rest = &after_tilde[hash_length..];
            }
        }

        let mut revision = DecimalNumber::zero();
        let mut malformed = false;
        if !rest.is_empty() {
            match rest.strip_prefix("-r") {
                Some(after) => {
                    let (digits, after_number) = split_leading_digits(after);
                    revision = DecimalNumber::from_ascii_digits(digits);
                    rest = after_number;
                }
                None => malformed = true,
            }
        }

        Ok(ApkVersion {
            original: input.into(),
            numbers,
            letter,
            suffixes,
            revision,
            leftover: !rest.is_empty(),
            malformed,
        })
    }
}

/// Numbers compare pairwise; when one version runs out of numbers first it is the older
/// one, as in apk (`1 < 1.0`).
fn compare_numbers(left: &[NumberPart], right: &[NumberPart]) -> Ordering {
    for (i, (l, r)) in left.iter().zip(right).enumerate() {
        let fractional = i > 0 && (l.digits.starts_with('0') || r.digits.starts_with('0'));
        let ordering = if fractional {
            l.digits.as_bytes().cmp(r.digits.as_bytes())
        } else {
            l.value.cmp(&r.value)
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    left.len().cmp(&right.len())
}

fn compare_suffixes(left: &[Suffix], right: &[Suffix]) -> Ordering {
    let none = Suffix {
        kind: SuffixKind::None,
        number: DecimalNumber::zero(),
    };
    (0..left.len().max(right.len()))
        .map(|i| {
            left.get(i)
                .unwrap_or(&none)
                .cmp(right.get(i).unwrap_or(&none))
        })
        .find(|ordering| ordering.is_ne())
        .unwrap_or(Ordering::Equal)
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.malformed && other.malformed {
            return self.original.as_bytes().cmp(other.original.as_bytes());
        }
        compare_numbers(&self.numbers, &other.numbers)
            .then_with(|| self.letter.cmp(&other.letter))
            .then_with(|| compare_suffixes(&self.suffixes, &other.suffixes))
            .then_with(|| self.revision.cmp(&other.revision))
            // Text nothing could be made of sorts first.
            .then_with(|| other.leftover.cmp(&self.leftover))
    }
}

impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ApkVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for ApkVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> ApkVersion {
        ApkVersion::parse(text).unwrap()
    }

    fn assert_chain(chain: &[&str]) {
        for pair in chain.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn suffixes_order_around_the_plain_version() {
        assert_chain(&[
            "1.2_alpha",
            "1.2_alpha2",
            "1.2_beta",
            "1.2_pre1",
            "1.2_rc1",
            "1.2",
            "1.2_cvs1",
            "1.2_svn1",
            "1.2_git1",
            "1.2_hg1",
            "1.2_p1",
            "1.2_p2",
            "1.2.1",
        ]);
    }

    #[test]
    fn letters_follow_numbers() {
        assert_chain(&["1.2", "1.2a", "1.2b", "1.3"]);
        assert!(v("1.2.3b") > v("1.2.0d"));
    }

    #[test]
    fn revisions_compare_by_value() {
        assert_chain(&["1.0", "1.0-r1", "1.0-r2", "1.0-r10", "1.0.1"]);
        assert_eq!(v("1-r1"), v("1-r01"));
        assert_eq!(v("1-r"), v("1-r0"));
    }

    #[test]
    fn leading_zeros_make_a_fraction() {
        assert!(v("1.01") < v("1.1"));
        assert!(v("1.001") < v("1.01"));
        assert!(v("1.09") < v("1.1"));
        assert!(v("006") > v("1.0.0"));
    }

    #[test]
    fn more_numbers_make_a_newer_version() {
        assert_chain(&["1", "1.0", "1.0.0", "1.00", "1.1"]);
        assert!(v("1.0") < v("1.0.0_alpha"));
    }

    #[test]
    fn commit_hashes_are_ignored() {
        assert_eq!(v("1.0~abc123"), v("1.0~def456"));
        assert!(v("1.0~abc123-r1") < v("1.0-r2"));
    }

    #[test]
    fn malformed_versions() {
        // Two malformed versions compare as text.
        assert!(v("6.6.2p1") < v("6.6.2p2"));
        assert!(v("0..8") > v("0...8"));
        // A malformed version sorts after what it was read as, before the plain version.
        assert!(v("6.6.2p1") > v("6.6.2_p1"));
        assert!(v("1.2") > v("1.2_blah"));
        assert!(v("1") > v("1-ruff"));
        assert!(v("1-r-0") < v("1-r0"));
        assert!(ApkVersion::parse("").is_err());
    }
}
