//! Packagist (Composer) version ordering: PHP's `version_compare` on Composer-style input.
//!
//! A leading `v` or `V` is dropped (Composer strips it before comparing), `-`, `_` and
//! `+` become `.`, and a `.` is implied wherever digits meet non-digits, so `1.0rc1`
//! reads as `1.0.rc.1`. The parts then compare left to right: numbers by value; words by
//! PHP's special forms, matched case-sensitively by prefix,
//! `dev < alpha = a < beta = b < RC = rc < # < pl = p`, with any other word (`ALPHA`
//! included, as in PHP) before `dev`;
//! a number against a word counts as `#`. When one version runs out, a following number
//! makes the longer one greater, and following words are weighed against `#`, so
//! `1.0 < 1.0.0`, `1.0rc1 < 1.0`, `1.0 < 1.0pl1` and `1.2.3.# = 1.2.3`.
//!
//! Unlike PHP, numbers are not limited to a C `long`, so 30-digit versions still order by
//! value. Any non-empty string is accepted, as `version_compare` accepts any string.

use std::cmp::Ordering;

use crate::error::InvalidVersion;
use crate::numeric::DecimalNumber;

/// A parsed Packagist version.
#[derive(Debug, Clone)]
pub struct PackagistVersion {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Number(DecimalNumber),
    /// A word, kept as its special-form rank only: that is all PHP compares.
    Word(SpecialForm),
}

/// PHP's special version forms, in order; declaration order is precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SpecialForm {
    /// Any word that starts with none of the forms below.
    Unknown,
    Dev,
    Alpha,
    Beta,
    ReleaseCandidate,
    /// `#`, and the rank every number has when weighed against a word.
    Number,
    Patch,
}

impl SpecialForm {
    /// PHP matches the forms by prefix, in this order and case-sensitively, so `alpha1`
    /// is alpha, `patch` is `p` and `Beta` is no special form at all.
    fn of(word: &str) -> SpecialForm {
        const PREFIXES: &[(&str, SpecialForm)] = &[
            ("dev", SpecialForm::Dev),
            ("alpha", SpecialForm::Alpha),
            ("a", SpecialForm::Alpha),
            ("beta", SpecialForm::Beta),
            ("b", SpecialForm::Beta),
            ("RC", SpecialForm::ReleaseCandidate),
            ("rc", SpecialForm::ReleaseCandidate),
            ("#", SpecialForm::Number),
            ("pl", SpecialForm::Patch),
            ("p", SpecialForm::Patch),
        ];
        PREFIXES
            .iter()
            .find(|(prefix, _)| word.starts_with(prefix))
            .map_or(SpecialForm::Unknown, |&(_, form)| form)
    }
}

impl Part {
    fn rank(&self) -> SpecialForm {
        match self {
            Part::Number(_) => SpecialForm::Number,
            Part::Word(form) => *form,
        }
    }

    fn cmp_with(&self, other: &Part) -> Ordering {
        match (self, other) {
            (Part::Number(left), Part::Number(right)) => left.cmp(right),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PackagistVersion {
    /// Parses a Packagist version. Every non-empty string is a version.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        if input.trim().is_empty() {
            return Err(InvalidVersion::Empty);
        }
        let text = input.strip_prefix(['v', 'V']).unwrap_or(input);
        Ok(PackagistVersion {
            parts: split_parts(text),
        })
    }
}

/// Splits at `.`, `-`, `_`, `+` and at every switch between digits and non-digits;
/// empty parts (from `1..2`) are dropped, as PHP collapses repeated separators.
fn split_parts(text: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut current_is_digits = false;
    let mut flush = |current: &mut String, is_digits: bool| {
        if current.is_empty() {
            return;
        }
        parts.push(if is_digits {
            Part::Number(DecimalNumber::from_ascii_digits(current))
        } else {
            Part::Word(SpecialForm::of(current))
        });
        current.clear();
    };
    for c in text.chars() {
        if matches!(c, '.' | '-' | '_' | '+') {
            flush(&mut current, current_is_digits);
            continue;
        }
        let is_digit = c.is_ascii_digit();
        if !current.is_empty() && is_digit != current_is_digits {
            flush(&mut current, current_is_digits);
        }
        current_is_digits = is_digit;
        current.push(c);
    }
    flush(&mut current, current_is_digits);
    parts
}

/// What PHP decides when one version has `extra` parts left over and the other none.
fn compare_leftover(extra: &[Part]) -> Ordering {
    for part in extra {
        match part {
            Part::Number(_) => return Ordering::Greater,
            Part::Word(form) => match form.cmp(&SpecialForm::Number) {
                Ordering::Equal => continue,
                decided => return decided,
            },
        }
    }
    Ordering::Equal
}

impl Ord for PackagistVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let shared = self.parts.len().min(other.parts.len());
        for (left, right) in self.parts.iter().zip(&other.parts) {
            let ordering = left.cmp_with(right);
            if ordering.is_ne() {
                return ordering;
            }
        }
        compare_leftover(&self.parts[shared..])
            .then_with(|| compare_leftover(&other.parts[shared..]).reverse())
    }
}

impl PartialOrd for PackagistVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PackagistVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for PackagistVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> PackagistVersion {
        PackagistVersion::parse(text).unwrap()
    }

    #[test]
    fn follows_php_special_forms() {
        let chain = ["1.0-dev", "1.0a1", "1.0b1", "1.0RC1", "1.0", "1.0pl1"];
        for pair in chain.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0RC1"), v("1.0rc1"));
        assert_eq!(v("1.25.0-beta2.1"), v("1.25.0-b.2.1"));
        assert_eq!(v("1.0.0rc2"), v("1.0.0.rc2"));
        assert!(v("4.3-2beta5") < v("4.3-2RC2"));
    }

    #[test]
    fn longer_numeric_versions_are_greater() {
        assert!(v("1.0") < v("1.0.0"));
        assert!(v("1.0.1") < v("1.2"));
        assert!(v("2") < v("10"));
    }

    #[test]
    fn leading_v_is_ignored() {
        assert_eq!(v("v1.0pl1"), v("1.0pl1"));
        assert_eq!(v("V1.0.0"), v("v1.0.0"));
        assert!(v("v1") < v("2"));
    }

    #[test]
    fn branches_and_unknown_words_sort_first() {
        assert!(v("dev-foo") < v("1.26.0"));
        assert!(v("1.0-foo") < v("1.0-dev"));
        assert_eq!(v("1.9.0-ALPHA.1"), v("1.9.0-BETA.1"));
    }

    #[test]
    fn hash_counts_as_a_number() {
        assert_eq!(v("1.2.3.#"), v("1.2.3"));
        assert_eq!(v("1.2.3.#"), v("1.2.3.1"));
        assert!(v("1.2.3.#.1") > v("1.2.3"));
        assert!(v("1.2.3.#.p3") > v("1.2.3"));
        assert!(v("1.2.3.#.beta") < v("1.2.3"));
    }

    #[test]
    fn numbers_are_unbounded() {
        assert!(v("999999999999999999999999999991") < v("999999999999999999999999999999"));
    }
}
