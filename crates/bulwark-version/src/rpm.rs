//! RPM version ordering (Red Hat, AlmaLinux, Rocky Linux, SUSE, openSUSE and other RPM
//! distributions), as `rpmvercmp` defines it over `[epoch:]version[-release]`.
//!
//! The epoch is the run of digits before a `:` at the very start (`a:1` has no epoch:
//! its colon is part of the version, as in rpm's own parser); a missing epoch is `0`.
//! The release follows the *last* `-`. Epoch, version and release are each compared with
//! `rpmvercmp`: both strings are cut into runs of ASCII digits and runs of ASCII letters,
//! everything else only separating them; digit runs compare by value and beat letter
//! runs; letter runs compare as bytes. `~` sorts before anything, even the end of the
//! string (`1.0~rc1 < 1.0`); `^` sorts after the end of the string but before anything
//! else (`1.0 < 1.0^git1 < 1.0.1`). When everything else is equal, the string with more
//! runs left wins.
//!
//! A version without a release sorts before the same version with any release
//! (`1 < 1-0`): advisories name full EVRs, and a bare version is treated as older than
//! every build of it. `rpm` accepts any string, and so does this module (except the
//! empty one).

use std::cmp::Ordering;

use crate::error::InvalidVersion;

/// A parsed RPM `epoch:version-release`.
#[derive(Debug, Clone)]
pub struct RpmVersion {
    /// The epoch digits, `"0"` when absent or empty.
    epoch: Box<str>,
    version: Box<str>,
    release: Option<Box<str>>,
}

impl RpmVersion {
    /// Parses an RPM EVR string. Every non-empty string is a version.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        if input.is_empty() {
            return Err(InvalidVersion::Empty);
        }
        let epoch_digits = input.bytes().take_while(u8::is_ascii_digit).count();
        let (epoch, rest) = match input[epoch_digits..].strip_prefix(':') {
            Some(rest) if epoch_digits > 0 => (&input[..epoch_digits], rest),
            Some(rest) => ("0", rest),
            None => ("0", input),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((version, release)) => (version, Some(release.into())),
            None => (rest, None),
        };
        Ok(RpmVersion {
            epoch: epoch.into(),
            version: version.into(),
            release,
        })
    }
}

/// `rpmvercmp` on one of epoch, version or release.
pub(crate) fn rpmvercmp(left: &str, right: &str) -> Ordering {
    if left == right {
        return Ordering::Equal;
    }
    let is_separator = |b: u8| !(b.is_ascii_alphanumeric() || b == b'~' || b == b'^');
    let (mut one, mut two) = (left.as_bytes(), right.as_bytes());
    loop {
        while one.first().is_some_and(|&b| is_separator(b)) {
            one = &one[1..];
        }
        while two.first().is_some_and(|&b| is_separator(b)) {
            two = &two[1..];
        }

        // `~` sorts before everything, the end of the string included.
        match (one.first() == Some(&b'~'), two.first() == Some(&b'~')) {
            (true, true) => {
                one = &one[1..];
                two = &two[1..];
                continue;
            }
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }

        // `^` sorts after the end of the string but before anything else.
        match (one.first(), two.first()) {
            (Some(b'^'), Some(b'^')) => {
                one = &one[1..];
                two = &two[1..];
                continue;
            }
            (Some(b'^'), None) => return Ordering::Greater,
            (Some(b'^'), Some(_)) => return Ordering::Less,
            (None, Some(b'^')) => return Ordering::Less,
            (Some(_), Some(b'^')) => return Ordering::Greater,
            _ => {}
        }

        let (Some(&first), Some(_)) = (one.first(), two.first()) else {
            break;
        };
        let numeric = first.is_ascii_digit();
        let in_run = |b: &u8| {
            if numeric {
                b.is_ascii_digit()
            } else {
                b.is_ascii_alphabetic()
            }
        };
        let one_length = one.iter().take_while(|b| in_run(b)).count();
        let two_length = two.iter().take_while(|b| in_run(b)).count();
        let (one_run, two_run) = (&one[..one_length], &two[..two_length]);
        one = &one[one_length..];
        two = &two[two_length..];

        // A run of the other kind (or none) on the right: digits are newer than letters.
        if two_run.is_empty() {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ordering = if numeric {
            let strip = |run: &[u8]| -> usize { run.iter().take_while(|&&b| b == b'0').count() };
            let (one_run, two_run) = (&one_run[strip(one_run)..], &two_run[strip(two_run)..]);
            one_run
                .len()
                .cmp(&two_run.len())
                .then_with(|| one_run.cmp(two_run))
        } else {
            one_run.cmp(two_run)
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    // All runs matched; whichever still has characters left wins.
    match (one.is_empty(), two.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, _) => Ordering::Greater,
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        rpmvercmp(&self.epoch, &other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| match (&self.release, &other.release) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(left), Some(right)) => rpmvercmp(left, right),
            })
    }
}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for RpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for RpmVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> RpmVersion {
        RpmVersion::parse(text).unwrap()
    }

    fn assert_chain(chain: &[&str]) {
        for pair in chain.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn rpmvercmp_basics() {
        assert_chain(&["1.0", "1.0a", "1.0aa", "1.1", "2.0", "10xyz", "10.1xyz"]);
        assert_eq!(v("10.0001"), v("10.1"));
        assert_eq!(v("2_0"), v("2.0"));
        assert_eq!(v("a+"), v("a_"));
        assert!(v("xyz.4") < v("2"));
        assert!(v("6.0") < v("6.0.rc1"));
    }

    #[test]
    fn tilde_and_caret() {
        assert_chain(&[
            "1.0~rc1~git123",
            "1.0~rc1",
            "1.0~rc1^git1",
            "1.0~rc2",
            "1.0",
            "1.0^git1~pre",
            "1.0^git1",
            "1.0^git2",
            "1.01",
        ]);
        assert!(v("1.0^20160101") < v("1.0.1"));
    }

    #[test]
    fn epochs() {
        assert_chain(&["1~1", "3", "1:2", "13:5", "14:2"]);
        assert_eq!(v("01:2"), v("1:2"));
        assert_eq!(v("0:1.0"), v("1.0"));
        // Not an epoch: the colon belongs to the version.
        assert!(v("a:1") < v("a1:1"));
        assert!(v("1.m+e2:1") < v("4.m+e1:1"));
    }

    #[test]
    fn releases() {
        assert_chain(&["1", "1-", "1-1", "1-2", "1-123"]);
        assert_eq!(v("1-1."), v("1-1"));
        assert!(v("0:3.10.0-229.el7") < v("0:3.10.0-229.1.2.ael7b"));
        assert!(v("1-1.ael7b") < v("1-1.el7"));
        // The release follows the last hyphen.
        assert!(v("+2-n:1") > v("+1-n:1"));
    }

    #[test]
    fn non_ascii_characters_only_separate() {
        assert_eq!(v("1.1.α"), v("1.1.β"));
        assert!(v("1.1.α") < v("1.1.a"));
    }
}
