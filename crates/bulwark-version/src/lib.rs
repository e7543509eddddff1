//! Exact version ordering for every package ecosystem Bulwark matches advisories in.
//!
//! Vulnerability matching asks one question over and over: does this installed version
//! fall inside an advisory's `introduced`/`fixed` range? Answering it needs the
//! ecosystem's *own* ordering, which is rarely plain SemVer: `1.0.0.RC1` is `1.0.0rc1` on
//! PyPI, `1.0~rc1 < 1.0` on Debian, `1-1 < 1.1` in Maven, `1.0.01 = 1.0.1.0` on NuGet.
//! This crate implements each ordering exactly, one module per scheme, and offers a
//! uniform front door:
//!
//! - [`Ecosystem::from_osv_name`] reads OSV ecosystem strings (`Debian:12`,
//!   `Red Hat:enterprise_linux:9::appstream`) into an [`Ecosystem`] and its suffix;
//! - [`parse`] reads a version string into a [`Version`] of the ecosystem's scheme;
//! - [`compare`] orders two version strings of one ecosystem.
//!
//! # An ecosystem without known semantics never guesses
//!
//! Ecosystems whose ordering this crate does not implement, and names it has never seen,
//! report [`Ecosystem::has_ordering`] `false`, and [`parse`] and [`compare`] refuse them
//! with [`VersionError::NoOrdering`]. A matcher must then fall back to the advisory's
//! explicit `versions` list. Borrowing another ecosystem's rules would silently produce
//! wrong answers, and a wrong "not affected" is the one answer a scanner must not give.
//!
//! # Strictness follows the ecosystem's own tool
//!
//! Where the ecosystem's tool accepts anything (dpkg, rpm, apk, Maven, PHP's
//! `version_compare`), so does this crate, and it orders what it is given the way that
//! tool would. Where the tool is strict (PEP 440, SemVer, NuGet, R, Hackage), malformed
//! strings are errors that name the ecosystem and the input. PyPI is the documented
//! exception: pre-PEP 440 "legacy" versions that PyPI still serves are accepted and sort
//! before every PEP 440 version, as `pip` once did. No entry point panics on any input.
//!
//! # Example
//!
//! ```
//! use std::cmp::Ordering;
//! use bulwark_version::{Ecosystem, compare, parse};
//!
//! # fn main() -> Result<(), bulwark_version::VersionError> {
//! let debian = Ecosystem::from_osv_name("Debian:12");
//! assert_eq!(debian.release.as_deref(), Some("12"));
//! assert_eq!(compare(&debian.ecosystem, "1.2.3-1~deb12u1", "1.2.3-1")?, Ordering::Less);
//!
//! let installed = parse(&Ecosystem::PyPI, "1.0.0.RC1")?;
//! let fixed = parse(&Ecosystem::PyPI, "1.0.0")?;
//! assert!(installed < fixed);
//!
//! assert!(compare(&Ecosystem::Android, "1", "2").is_err());
//! # Ok(())
//! # }
//! ```

pub mod apk;
pub mod cran;
pub mod dpkg;
mod ecosystem;
mod error;
pub mod hackage;
pub mod maven;
pub mod nuget;
mod numeric;
pub mod packagist;
pub mod pep440;
pub mod rpm;
pub mod rubygems;
pub mod semver;

use std::cmp::Ordering;
use std::fmt;

pub use ecosystem::{Ecosystem, QualifiedEcosystem, VersionScheme};
pub use error::{InvalidVersion, VersionError};

/// A version string parsed with the rules of its ecosystem's scheme.
///
/// Versions of the same [`VersionScheme`] are ordered by that scheme; versions of
/// different schemes are unordered (`partial_cmp` is `None`, [`Version::try_cmp`] is an
/// error). Equality is the scheme's equivalence, not string equality: on PyPI `1.0` equals
/// `1.0.0`.
#[derive(Debug, Clone)]
pub struct Version {
    original: Box<str>,
    parsed: Parsed,
}

#[derive(Debug, Clone)]
enum Parsed {
    SemVer(semver::SemVer),
    Pub(semver::PubVersion),
    Pep440(pep440::Pep440Version),
    Maven(maven::MavenVersion),
    RubyGems(rubygems::GemVersion),
    NuGet(nuget::NuGetVersion),
    Packagist(packagist::PackagistVersion),
    Dpkg(dpkg::DebianVersion),
    Apk(apk::ApkVersion),
    Rpm(rpm::RpmVersion),
    Cran(cran::CranVersion),
    Hackage(hackage::HackageVersion),
}

impl Version {
    /// Parses `input` as a version of `ecosystem`.
    pub fn parse(ecosystem: &Ecosystem, input: &str) -> Result<Version, VersionError> {
        let scheme = ecosystem
            .scheme()
            .ok_or_else(|| VersionError::NoOrdering(ecosystem.clone()))?;
        Version::parse_scheme(scheme, input).map_err(|reason| VersionError::Invalid {
            ecosystem: ecosystem.clone(),
            input: input.to_owned(),
            reason,
        })
    }

    /// Parses `input` with the rules of `scheme`, for callers that hold a scheme rather
    /// than an ecosystem.
    pub fn parse_scheme(scheme: VersionScheme, input: &str) -> Result<Version, InvalidVersion> {
        let parsed = match scheme {
            VersionScheme::SemVer => Parsed::SemVer(semver::SemVer::parse(input)?),
            VersionScheme::Pub => Parsed::Pub(semver::PubVersion::parse(input)?),
            VersionScheme::Pep440 => Parsed::Pep440(pep440::Pep440Version::parse(input)?),
            VersionScheme::Maven => Parsed::Maven(maven::MavenVersion::parse(input)?),
            VersionScheme::RubyGems => Parsed::RubyGems(rubygems::GemVersion::parse(input)?),
            VersionScheme::NuGet => Parsed::NuGet(nuget::NuGetVersion::parse(input)?),
            VersionScheme::Packagist => {
                Parsed::Packagist(packagist::PackagistVersion::parse(input)?)
            }
            VersionScheme::Dpkg => Parsed::Dpkg(dpkg::DebianVersion::parse(input)?),
            VersionScheme::Apk => Parsed::Apk(apk::ApkVersion::parse(input)?),
            VersionScheme::Rpm => Parsed::Rpm(rpm::RpmVersion::parse(input)?),
            VersionScheme::Cran => Parsed::Cran(cran::CranVersion::parse(input)?),
            VersionScheme::Hackage => Parsed::Hackage(hackage::HackageVersion::parse(input)?),
        };
        Ok(Version {
            original: input.into(),
            parsed,
        })
    }

    /// The scheme this version was parsed with.
    pub fn scheme(&self) -> VersionScheme {
        match &self.parsed {
            Parsed::SemVer(_) => VersionScheme::SemVer,
            Parsed::Pub(_) => VersionScheme::Pub,
            Parsed::Pep440(_) => VersionScheme::Pep440,
            Parsed::Maven(_) => VersionScheme::Maven,
            Parsed::RubyGems(_) => VersionScheme::RubyGems,
            Parsed::NuGet(_) => VersionScheme::NuGet,
            Parsed::Packagist(_) => VersionScheme::Packagist,
            Parsed::Dpkg(_) => VersionScheme::Dpkg,
            Parsed::Apk(_) => VersionScheme::Apk,
            Parsed::Rpm(_) => VersionScheme::Rpm,
            Parsed::Cran(_) => VersionScheme::Cran,
            Parsed::Hackage(_) => VersionScheme::Hackage,
        }
    }

    /// The string this version was parsed from, unchanged.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// Orders two versions of the same scheme.
    pub fn try_cmp(&self, other: &Version) -> Result<Ordering, VersionError> {
        self.cmp_same_scheme(other)
            .ok_or(VersionError::SchemeMismatch {
                left: self.scheme(),
                right: other.scheme(),
            })
    }

    fn cmp_same_scheme(&self, other: &Version) -> Option<Ordering> {
        Some(match (&self.parsed, &other.parsed) {
            (Parsed::SemVer(a), Parsed::SemVer(b)) => a.cmp(b),
            (Parsed::Pub(a), Parsed::Pub(b)) => a.cmp(b),
            (Parsed::Pep440(a), Parsed::Pep440(b)) => a.cmp(b),
            (Parsed::Maven(a), Parsed::Maven(b)) => a.cmp(b),
            (Parsed::RubyGems(a), Parsed::RubyGems(b)) => a.cmp(b),
            (Parsed::NuGet(a), Parsed::NuGet(b)) => a.cmp(b),
            (Parsed::Packagist(a), Parsed::Packagist(b)) => a.cmp(b),
            (Parsed::Dpkg(a), Parsed::Dpkg(b)) => a.cmp(b),
            (Parsed::Apk(a), Parsed::Apk(b)) => a.cmp(b),
            (Parsed::Rpm(a), Parsed::Rpm(b)) => a.cmp(b),
            (Parsed::Cran(a), Parsed::Cran(b)) => a.cmp(b),
            (Parsed::Hackage(a), Parsed::Hackage(b)) => a.cmp(b),
            _ => return None,
        })
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp_same_scheme(other) == Some(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.cmp_same_scheme(other)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

/// Parses `input` as a version of `ecosystem`; see [`Version::parse`].
pub fn parse(ecosystem: &Ecosystem, input: &str) -> Result<Version, VersionError> {
    Version::parse(ecosystem, input)
}

/// Orders two version strings of `ecosystem`.
///
/// Fails when the ecosystem has no known ordering, or when either string is not a
/// version of it; the error names the ecosystem and the offending input.
pub fn compare(ecosystem: &Ecosystem, left: &str, right: &str) -> Result<Ordering, VersionError> {
    let left = Version::parse(ecosystem, left)?;
    let right = Version::parse(ecosystem, right)?;
    left.try_cmp(&right)
}

/// Sorts `items` by `compare`, stably, whatever `compare` does: version orders need not be
/// total (Maven's is not transitive in corners, and mixing parsed and unparsed strings is
/// not either), and the standard library's sorts may panic on a comparison that is not a
/// total order. A merge sort only ever asks which of two items goes first, so it ends with
/// some order and never panics. O(n log n) comparisons.
pub fn sort_versions_by<T>(items: &mut Vec<T>, mut compare: impl FnMut(&T, &T) -> Ordering) {
    let taken = std::mem::take(items);
    *items = merge_sort(taken, &mut compare);
}

fn merge_sort<T>(mut items: Vec<T>, compare: &mut impl FnMut(&T, &T) -> Ordering) -> Vec<T> {
    if items.len() <= 1 {
        return items;
    }
    let right = items.split_off(items.len() / 2);
    let left = merge_sort(items, compare);
    let right = merge_sort(right, compare);
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_right = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => compare(r, l) == Ordering::Less,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => break,
        };
        let next = if take_right {
            right.next()
        } else {
            left.next()
        };
        merged.extend(next);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_survives_orders_that_are_not_total() {
        // A cycle of Maven's (1.ga.1 < 1.0.alpha.1 < 1 < 1.ga.1) and a comparison that
        // answers at random: the sort ends, keeps every item and never panics.
        let mut cycle = vec!["1", "1.0.alpha.1", "1.ga.1", "1", "2"];
        sort_versions_by(&mut cycle, |a, b| {
            compare(&Ecosystem::Maven, a, b).unwrap_or(Ordering::Equal)
        });
        assert_eq!(cycle.len(), 5);
        assert_eq!(cycle.last(), Some(&"2"));
        let mut state = 7u64;
        let mut items: Vec<u32> = (0..500).collect();
        sort_versions_by(&mut items, |_, _| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            [Ordering::Less, Ordering::Equal, Ordering::Greater][(state >> 33) as usize % 3]
        });
        items.sort_unstable();
        assert_eq!(items, (0..500).collect::<Vec<_>>());
        let mut plain = vec![3, 1, 2, 1];
        sort_versions_by(&mut plain, Ord::cmp);
        assert_eq!(plain, [1, 1, 2, 3]);
    }

    #[test]
    fn compare_uses_the_ecosystem_scheme() {
        assert_eq!(
            compare(&Ecosystem::PyPI, "1.0", "1.0.0"),
            Ok(Ordering::Equal)
        );
        assert_eq!(
            compare(&Ecosystem::Debian, "1.0~rc1", "1.0"),
            Ok(Ordering::Less)
        );
        assert_eq!(compare(&Ecosystem::Maven, "1-1", "1.1"), Ok(Ordering::Less));
        assert_eq!(
            compare(&Ecosystem::Go, "v1.2.3", "1.2.3"),
            Ok(Ordering::Equal)
        );
        assert_eq!(
            compare(&Ecosystem::Rocky, "1:1.0", "2.0"),
            Ok(Ordering::Greater)
        );
    }

    #[test]
    fn ecosystems_without_ordering_are_refused() {
        assert_eq!(
            compare(&Ecosystem::Linux, "6.1", "6.2"),
            Err(VersionError::NoOrdering(Ecosystem::Linux))
        );
        let unknown = Ecosystem::from_osv_name("Nix:24.05").ecosystem;
        assert!(matches!(
            parse(&unknown, "1.0"),
            Err(VersionError::NoOrdering(_))
        ));
    }

    #[test]
    fn errors_name_the_ecosystem_and_the_input() {
        let error = compare(&Ecosystem::PyPI, "1.0", "1.0 beta").unwrap_err();
        match &error {
            VersionError::Invalid {
                ecosystem, input, ..
            } => {
                assert_eq!(ecosystem, &Ecosystem::PyPI);
                assert_eq!(input, "1.0 beta");
            }
            other => panic!("unexpected error {other:?}"),
        }
        let message = error.to_string();
        assert!(
            message.contains("PyPI") && message.contains("1.0 beta"),
            "{message}"
        );
    }

    #[test]
    fn versions_of_different_schemes_are_unordered() {
        let python = parse(&Ecosystem::PyPI, "1.0").unwrap();
        let java = parse(&Ecosystem::Maven, "1.0").unwrap();
        assert_eq!(python.partial_cmp(&java), None);
        assert_ne!(python, java);
        assert_eq!(
            python.try_cmp(&java),
            Err(VersionError::SchemeMismatch {
                left: VersionScheme::Pep440,
                right: VersionScheme::Maven,
            })
        );
    }

    #[test]
    fn ecosystems_sharing_a_scheme_compare() {
        let npm = parse(&Ecosystem::Npm, "1.2.3").unwrap();
        let cargo = parse(&Ecosystem::CratesIo, "1.2.4").unwrap();
        assert!(npm < cargo);
        assert_eq!(npm.to_string(), "1.2.3");
        assert_eq!(npm.scheme(), VersionScheme::SemVer);
    }
}
