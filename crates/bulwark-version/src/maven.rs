//! Maven version ordering, as the Version Order Specification of the Maven POM reference
//! defines it (the rules osv.dev applies to Maven advisories).
//!
//! A version is cut into tokens at `.`, at `-` and wherever digits meet non-digits; each
//! token remembers the separator before it, a digit/letter switch counting as `-`. Empty
//! tokens are `0`, qualifiers are case-insensitive, `cr` is `rc`, `ga`, `final` and
//! `release` are the empty qualifier, and `a`, `b`, `m` directly followed by a digit are
//! `alpha`, `beta`, `milestone` (`1a1` = `1-alpha-1`). Trailing "null" tokens (`0`, `""`)
//! are trimmed from the end, and again before each remaining `-`, so `1.0.0-foo.0.0` is
//! `1-foo` and `1 = 1.0 = 1-0 = 1.ga`.
//!
//! Tokens then compare left to right, the shorter version padded with nulls taking the
//! separator of the other side (`0` after `.`, `""` after `-`):
//! - with the same separator, numbers compare by value and sort after qualifiers, which
//!   follow `alpha < beta < milestone < rc < snapshot < "" < sp` and then, after all of
//!   those, other words in lexical order;
//! - with different separators, `.qualifier < -qualifier < -number < .number`, so
//!   `1-1 < 1.1` and `1.0-SNAPSHOT < 1.0`.
//!
//! Maven 3.9's `ComparableVersion` departs from this specification in a few corners
//! (since MNG-7644 it reads `1.0.RC1` like `1.0-RC1`); advisories and their enumerated
//! version lists are computed with the specification, so this module follows it.
//!
//! The specification is not quite a total order: ranking `.qualifier` below
//! `-qualifier` whatever the words makes `1-SNAPSHOT < 1 < 1.sp < 1-SNAPSHOT`. Such a
//! cycle needs a qualifier after a `.` *and* one after a `-` at the same position; this
//! module reproduces the specification there rather than picking a winner.
//!
//! Every non-empty string is a Maven version.

use std::cmp::Ordering;

use crate::error::InvalidVersion;
use crate::numeric::DecimalNumber;

/// The well-known qualifiers, in order; their index is their rank.
const KNOWN_QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// A parsed Maven version.
#[derive(Debug, Clone)]
pub struct MavenVersion {
    /// Never empty: an empty token list is not a version.
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Separator {
    /// `.`, and the implied separator before the first token.
    Dot,
    /// `-`, and a switch between digits and letters.
    Hyphen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Number(DecimalNumber),
    /// A qualifier with its aliases resolved (`cr` is stored as `rc`, `ga` as `""`).
    Qualifier(Box<str>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    separator: Separator,
    value: Value,
    /// Padding added to the shorter version during comparison, not read from the input.
    padding: bool,
}

impl Token {
    fn is_null(&self) -> bool {
        match &self.value {
            Value::Number(number) => number.is_zero(),
            Value::Qualifier(name) => name.is_empty(),
        }
    }

    /// The null token the shorter version is padded with opposite `other`.
    fn padding_for(other: &Token) -> Token {
        let value = match (other.separator, &other.value) {
            // `sp` is the one qualifier above the empty one, so opposite `.sp` the padding
            // must be the empty qualifier rather than the number zero for `1 < 1.sp`.
            (Separator::Dot, Value::Qualifier(name)) if &**name == "sp" => {
                Value::Qualifier("".into())
            }
            (Separator::Dot, _) => Value::Number(DecimalNumber::zero()),
            (Separator::Hyphen, _) => Value::Qualifier("".into()),
        };
        Token {
            separator: other.separator,
            value,
            padding: true,
        }
    }

    /// `.qualifier < -qualifier < -number < .number`, for tokens whose separators differ.
    fn separator_rank(&self) -> u8 {
        match (&self.value, self.separator) {
            (Value::Qualifier(_), Separator::Dot) => 0,
            (Value::Qualifier(_), Separator::Hyphen) => 1,
            (Value::Number(_), Separator::Hyphen) => 2,
            (Value::Number(_), Separator::Dot) => 3,
        }
    }

    fn cmp_with(&self, other: &Token) -> Ordering {
        if self.separator != other.separator {
            return self.separator_rank().cmp(&other.separator_rank());
        }
        match (&self.value, &other.value) {
            (Value::Number(left), Value::Number(right)) => left.cmp(right),
            // A real number is above any qualifier; padding zero is not a real number.
            (Value::Number(_), _) if !self.padding => Ordering::Greater,
            (_, Value::Number(_)) if !other.padding => Ordering::Less,
            _ => compare_qualifiers(self.qualifier_text(), other.qualifier_text()),
        }
    }

    /// The text a token is ranked by among qualifiers; padding zero ranks as the word `0`.
    fn qualifier_text(&self) -> &str {
        match &self.value {
            Value::Qualifier(name) => name,
            Value::Number(_) => "0",
        }
    }
}

/// Known qualifiers by rank, then unknown ones after all of them, lexically.
fn compare_qualifiers(left: &str, right: &str) -> Ordering {
    let rank = |name: &str| {
        KNOWN_QUALIFIERS
            .iter()
            .position(|known| *known == name)
            .unwrap_or(KNOWN_QUALIFIERS.len())
    };
    let (left_rank, right_rank) = (rank(left), rank(right));
    if left_rank == KNOWN_QUALIFIERS.len() && right_rank == KNOWN_QUALIFIERS.len() {
        left.cmp(right)
    } else {
        left_rank.cmp(&right_rank)
    }
}

impl MavenVersion {
    /// Parses a Maven version. Every non-empty string is a version.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        if input.trim().is_empty() {
            return Err(InvalidVersion::Empty);
        }
        let text = input.to_lowercase();
        let mut tokens = Vec::new();
        let mut separator = Separator::Dot;
        let mut raw_start = 0;
        for (i, c) in text
            .char_indices()
            .chain(std::iter::once((text.len(), '.')))
        {
            if i < text.len() && c != '.' && c != '-' {
                continue;
            }
            push_raw_token(&text[raw_start..i], separator, &mut tokens);
            separator = if c == '-' {
                Separator::Hyphen
            } else {
                Separator::Dot
            };
            raw_start = i + c.len_utf8();
        }
        trim_nulls(&mut tokens);
        Ok(MavenVersion { tokens })
    }
}

/// Splits one separator-free piece at its digit/non-digit switches and pushes the parts.
fn push_raw_token(raw: &str, separator: Separator, tokens: &mut Vec<Token>) {
    let mut separator = separator;
    let mut rest = raw;
    loop {
        let starts_with_digit = rest.starts_with(|c: char| c.is_ascii_digit());
        let end = rest
            .find(|c: char| c.is_ascii_digit() != starts_with_digit)
            .unwrap_or(rest.len());
        let (part, after) = rest.split_at(end);
        let followed_by_digit = !after.is_empty();
        let value = if starts_with_digit {
            Value::Number(DecimalNumber::from_ascii_digits(part))
        } else if part.is_empty() {
            // Empty tokens (`1..2`, `1-`) are zeros.
            Value::Number(DecimalNumber::zero())
        } else {
            Value::Qualifier(resolve_alias(part, followed_by_digit).into())
        };
        tokens.push(Token {
            separator,
            value,
            padding: false,
        });
        if after.is_empty() {
            break;
        }
        separator = Separator::Hyphen;
        rest = after;
    }
}

fn resolve_alias(word: &str, followed_by_digit: bool) -> &str {
    match word {
        "cr" => "rc",
        "ga" | "final" | "release" => "",
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        other => other,
    }
}

/// Removes null tokens from the end, then again before each remaining hyphen, from the
/// end towards the start. The first token always stays.
fn trim_nulls(tokens: &mut Vec<Token>) {
    let mut i = tokens.len().saturating_sub(1);
    while i > 0 {
        if tokens[i].is_null() {
            tokens.remove(i);
            i -= 1;
            continue;
        }
        // Skip back over this hyphen group to the token before its hyphen.
        while i > 0 && tokens[i].separator != Separator::Hyphen {
            i -= 1;
        }
        i = i.saturating_sub(1);
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        for i in 0..self.tokens.len().max(other.tokens.len()) {
            let ordering = match (self.tokens.get(i), other.tokens.get(i)) {
                (Some(left), Some(right)) if left == right => Ordering::Equal,
                (Some(left), Some(right)) => left.cmp_with(right),
                (Some(left), None) => left.cmp_with(&Token::padding_for(left)),
                (None, Some(right)) => Token::padding_for(right).cmp_with(right),
                (None, None) => Ordering::Equal,
            };
            if ordering.is_ne() {
                return ordering;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for MavenVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> MavenVersion {
        MavenVersion::parse(text).unwrap()
    }

    fn assert_chain(chain: &[&str]) {
        for pair in chain.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    fn assert_all_equal(versions: &[&str]) {
        for version in versions {
            assert_eq!(v(versions[0]), v(version), "{} = {}", versions[0], version);
        }
    }

    #[test]
    fn qualifiers_follow_the_well_known_order() {
        assert_chain(&[
            "1-alpha",
            "1-beta",
            "1-milestone",
            "1-rc",
            "1-snapshot",
            "1",
            "1-sp",
            "1-abc",
            "1-abd",
            "1-1",
            "1.1",
        ]);
        assert_all_equal(&[
            "1",
            "1-ga",
            "1-final",
            "1-release",
            "1.0",
            "1-0",
            "1.0.0",
            "1.",
        ]);
        assert_all_equal(&["1-rc", "1-cr", "1cr", "1RC"]);
        assert!(v("1") < v("1.sp"));
    }

    #[test]
    fn single_letter_shorthands_need_a_following_digit() {
        assert_eq!(v("1a1"), v("1-alpha-1"));
        assert_eq!(v("1b2"), v("1-beta-2"));
        assert_eq!(v("1m3"), v("1-milestone-3"));
        assert_eq!(v("1m3"), v("1MILESTONE3"));
        // Without a digit, `a` is an unknown word: after every known qualifier.
        assert!(v("1-a") > v("1-sp"));
        assert_eq!(v("1-a"), v("1a"));
    }

    #[test]
    fn digit_letter_switches_read_as_hyphens() {
        assert_all_equal(&["1a", "1-a", "1.0-a", "1.0.0-a", "1.0a", "1.0.0a"]);
        assert_eq!(v("1-1.foo-bar-1-baz-0.1"), v("1-1.foo-bar1baz-.1"));
        assert_eq!(v("1.1"), v("1.01"));
    }

    #[test]
    fn trims_nulls_before_each_hyphen() {
        assert_eq!(v("1.0.0-foo.0.0"), v("1-foo"));
        assert_eq!(v("1.0.0-0.0.0"), v("1"));
        assert_eq!(v("0.0.0-0.0.0"), v("0-final-ga"));
        assert_eq!(v("1-1"), v("1-ga-1"));
    }

    #[test]
    fn separators_rank_qualifiers_below_numbers() {
        assert_chain(&[
            "1.0-alpha-1-SNAPSHOT",
            "1.0-alpha-1",
            "1.0-beta-1",
            "1.0-SNAPSHOT",
            "1.0",
            "1.0-1",
            "1.0-2",
            "2.0.1",
            "2.0.1-xyz",
            "2.0.1-123",
        ]);
        assert!(v("2.9.0-1") < v("2.9.0.RC1"));
        assert!(v("1.5.9.RC1") < v("1.5.9-RC0"));
    }

    #[test]
    fn the_specification_has_a_cycle_with_dot_qualifiers() {
        // Kept deliberately: each step is what the specification (and osv.dev) says.
        assert!(v("1-SNAPSHOT") < v("1"));
        assert!(v("1") < v("1.sp"));
        assert!(v("1.sp") < v("1-SNAPSHOT"));
    }

    #[test]
    fn large_numbers_compare_by_value() {
        assert_chain(&[
            "20190126.230843",
            "1234567890.12345",
            "123456789012345.1H.5-beta",
            "12345678901234567890.1H.5-beta",
        ]);
    }

    #[test]
    fn everything_but_the_empty_string_parses() {
        assert!(MavenVersion::parse("").is_err());
        for odd in ["-", ".", "..--", "é", "1..2", "v1", "#"] {
            assert!(MavenVersion::parse(odd).is_ok(), "{odd}");
        }
        assert_eq!(v("-"), v("0"));
    }
}
