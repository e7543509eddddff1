//! Exact, unbounded non-negative integers for version components.
//!
//! Version components are not bounded by any ecosystem: dates with times (`20190126230843`),
//! Go pseudo-version timestamps and plain mistakes easily exceed `u64`. Parsing into a
//! machine integer would overflow or saturate, and a saturated value silently reorders
//! versions. Keeping the digits, without leading zeros, and comparing by length first is
//! exact and needs no big-integer dependency.

use std::cmp::Ordering;
use std::fmt;

/// A non-negative integer written in ASCII decimal, ordered by value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct DecimalNumber {
    /// The digits without leading zeros; zero is `"0"`.
    digits: Box<str>,
}

impl DecimalNumber {
    /// The number written by `digits`, which must be ASCII digits only (possibly with
    /// leading zeros). An empty string is zero, which is what every ecosystem that allows
    /// an omitted number (`1.0a` = `1.0a0`, `-r` = `-r0`) means by it.
    pub(crate) fn from_ascii_digits(digits: &str) -> Self {
        debug_assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{digits:?}");
        let significant = digits.trim_start_matches('0');
        let digits = if significant.is_empty() {
            "0"
        } else {
            significant
        };
        DecimalNumber {
            digits: digits.into(),
        }
    }

    pub(crate) fn zero() -> Self {
        DecimalNumber { digits: "0".into() }
    }

    pub(crate) fn is_zero(&self) -> bool {
        &*self.digits == "0"
    }

    /// The number if `text` is one or more ASCII digits and nothing else.
    pub(crate) fn parse_all_digits(text: &str) -> Option<Self> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            Some(Self::from_ascii_digits(text))
        } else {
            None
        }
    }
}

impl Ord for DecimalNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        // Without leading zeros, more digits means a larger number; equal lengths compare
        // digit by digit, which is exactly byte order for ASCII digits.
        self.digits
            .len()
            .cmp(&other.digits.len())
            .then_with(|| self.digits.as_bytes().cmp(other.digits.as_bytes()))
    }
}

impl PartialOrd for DecimalNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for DecimalNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digits)
    }
}

/// Splits `text` into its leading run of ASCII digits and the rest.
pub(crate) fn split_leading_digits(text: &str) -> (&str, &str) {
    let end = text
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(digits: &str) -> DecimalNumber {
        DecimalNumber::from_ascii_digits(digits)
    }

    #[test]
    fn leading_zeros_do_not_change_the_value() {
        assert_eq!(n("007"), n("7"));
        assert_eq!(n("000"), DecimalNumber::zero());
        assert_eq!(n(""), DecimalNumber::zero());
        assert!(n("00").is_zero());
    }

    #[test]
    fn orders_by_value_beyond_u64() {
        assert!(n("9") < n("10"));
        assert!(n("999999999999999999999999999991") < n("999999999999999999999999999999"));
        assert!(n("18446744073709551616") > n("18446744073709551615"));
    }

    #[test]
    fn parse_all_digits_rejects_anything_else() {
        assert_eq!(DecimalNumber::parse_all_digits("12"), Some(n("12")));
        assert_eq!(DecimalNumber::parse_all_digits(""), None);
        assert_eq!(DecimalNumber::parse_all_digits("1a"), None);
        assert_eq!(DecimalNumber::parse_all_digits("-1"), None);
    }

    #[test]
    fn splits_leading_digits() {
        assert_eq!(split_leading_digits("123abc"), ("123", "abc"));
        assert_eq!(split_leading_digits("abc"), ("", "abc"));
        assert_eq!(split_leading_digits("42"), ("42", ""));
    }
}
