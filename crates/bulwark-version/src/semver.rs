//! SemVer 2.0 precedence for crates.io, npm, Go and Hex, and Pub's variant of it.
//!
//! Parsing is a little wider than the SemVer grammar because advisory data is: a leading
//! `v` (Go module versions, some tags), any number of numeric components (`0` is OSV's
//! "every version" and pads to `0.0.0`; `1.2.3.4` orders after `1.2.3`) and leading
//! zeros are accepted. Pre-release and build identifiers must still be non-empty runs of
//! `[0-9A-Za-z-]`. Go pseudo-versions (`v0.0.0-20191109021931-daa7c04131f5`) need no
//! special case: their timestamp is a pre-release identifier and orders correctly as one.
//!
//! [`SemVer`] ignores build metadata, as SemVer 2.0 says. [`PubVersion`] follows
//! `pub_semver`, where a build suffix orders *after* the same version without one and
//! build identifiers compare like pre-release identifiers.

use std::cmp::Ordering;

use crate::error::InvalidVersion;
use crate::numeric::DecimalNumber;

/// One dot-separated pre-release or build identifier.
///
/// Declaration order is precedence order: numeric identifiers sort before alphanumeric ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Identifier {
    Numeric(DecimalNumber),
    /// Compared by ASCII bytes, so `R2 < r100 < r2`.
    Alphanumeric(Box<str>),
}

impl Identifier {
    fn parse(text: &str, offset: usize) -> Result<Self, InvalidVersion> {
        if text.is_empty() {
            return Err(InvalidVersion::Malformed(
                "pre-release and build identifiers must not be empty",
            ));
        }
        if let Some((position, found)) = text
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(InvalidVersion::UnexpectedCharacter {
                found,
                position: offset + position,
            });
        }
        Ok(match DecimalNumber::parse_all_digits(text) {
            Some(number) => Identifier::Numeric(number),
            None => Identifier::Alphanumeric(text.into()),
        })
    }
}

/// The parts every SemVer-like scheme here shares; the schemes differ only in how they
/// order them.
#[derive(Debug, Clone)]
pub(crate) struct SemVerParts {
    /// At least one component; absent trailing components count as zero.
    pub(crate) release: Vec<DecimalNumber>,
    /// Empty when the version is not a pre-release.
    pub(crate) pre_release: Vec<Identifier>,
    /// Empty when there is no build metadata.
    pub(crate) build: Vec<Identifier>,
}

impl SemVerParts {
    /// Parses `[v]N(.N)*[-pre][+build]`, with `allow_v_prefix` deciding about the `v`.
    pub(crate) fn parse(input: &str, allow_v_prefix: bool) -> Result<Self, InvalidVersion> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(InvalidVersion::Empty);
        }
        // Offsets in errors refer to `input`, so keep track of what trimming removed.
        let mut offset = input.len() - input.trim_start().len();
        let mut rest = trimmed;
        if allow_v_prefix && let Some(stripped) = rest.strip_prefix(['v', 'V']) {
            rest = stripped;
            offset += 1;
        }

        let (before_build, build_text) = match rest.split_once('+') {
            Some((head, build)) => (head, Some(build)),
            None => (rest, None),
        };
        let (release_text, pre_text) = match before_build.split_once('-') {
            Some((head, pre)) => (head, Some(pre)),
            None => (before_build, None),
        };

        let mut release = Vec::new();
        let mut position = offset;
        for component in release_text.split('.') {
            match DecimalNumber::parse_all_digits(component) {
                Some(number) => release.push(number),
                None => {
                    return Err(
                        match component.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
                            Some((at, found)) => InvalidVersion::UnexpectedCharacter {
                                found,
                                position: position + at,
                            },
                            None => InvalidVersion::Malformed(
                                "version components must be non-empty numbers",
                            ),
                        },
                    );
                }
            }
            position += component.len() + 1;
        }

        let identifiers =
            |text: Option<&str>, start: usize| -> Result<Vec<Identifier>, InvalidVersion> {
                let Some(text) = text else {
                    return Ok(Vec::new());
                };
                let mut at = start;
                let mut parsed = Vec::new();
                for part in text.split('.') {
                    parsed.push(Identifier::parse(part, at)?);
                    at += part.len() + 1;
                }
                Ok(parsed)
            };
        let pre_start = offset + release_text.len() + 1;
        let pre_release = identifiers(pre_text, pre_start)?;
        let build_start = offset + before_build.len() + 1;
        let build = identifiers(build_text, build_start)?;

        Ok(SemVerParts {
            release,
            pre_release,
            build,
        })
    }
}

/// Compares release components as if the shorter list were padded with zeros.
pub(crate) fn compare_zero_padded(left: &[DecimalNumber], right: &[DecimalNumber]) -> Ordering {
    let zero = DecimalNumber::zero();
    let length = left.len().max(right.len());
    (0..length)
        .map(|i| {
            let l = left.get(i).unwrap_or(&zero);
            let r = right.get(i).unwrap_or(&zero);
            l.cmp(r)
        })
        .find(|ordering| ordering.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// SemVer 2.0 §11: a version without pre-release identifiers has higher precedence;
/// otherwise identifiers compare left to right and a longer list wins a tie.
pub(crate) fn compare_pre_release(left: &[Identifier], right: &[Identifier]) -> Ordering {
    match (left.is_empty(), right.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => left.cmp(right),
    }
}

/// A SemVer 2.0 version (crates.io, npm, Go, Hex); build metadata does not affect order.
#[derive(Debug, Clone)]
pub struct SemVer {
    parts: SemVerParts,
}

impl SemVer {
    /// Parses a SemVer version, accepting a leading `v`.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        SemVerParts::parse(input, true).map(|parts| SemVer { parts })
    }
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_zero_padded(&self.parts.release, &other.parts.release)
            .then_with(|| compare_pre_release(&self.parts.pre_release, &other.parts.pre_release))
    }
}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SemVer {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for SemVer {}

/// A Pub (Dart) version: SemVer, except that build metadata takes part in the order.
///
/// `pub_semver` sorts `1.0.0 < 1.0.0+build` and `1.2.3+1 < 1.2.3+a`: with equal release
/// and pre-release, no build suffix comes first, then build identifiers compare exactly
/// as pre-release identifiers do.
#[derive(Debug, Clone)]
pub struct PubVersion {
    parts: SemVerParts,
}

impl PubVersion {
    /// Parses a Pub version, accepting a leading `v`.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        SemVerParts::parse(input, true).map(|parts| PubVersion { parts })
    }
}

impl Ord for PubVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_zero_padded(&self.parts.release, &other.parts.release)
            .then_with(|| compare_pre_release(&self.parts.pre_release, &other.parts.pre_release))
            .then_with(
                || match (self.parts.build.is_empty(), other.parts.build.is_empty()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => self.parts.build.cmp(&other.parts.build),
                },
            )
    }
}

impl PartialOrd for PubVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PubVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for PubVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn semver(text: &str) -> SemVer {
        SemVer::parse(text).unwrap()
    }

    fn pub_version(text: &str) -> PubVersion {
        PubVersion::parse(text).unwrap()
    }

    #[test]
    fn follows_the_semver_spec_example_chain() {
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for pair in chain.windows(2) {
            assert!(
                semver(pair[0]) < semver(pair[1]),
                "{} < {}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn build_metadata_is_ignored() {
        assert_eq!(semver("1.2.3+build"), semver("1.2.3+other"));
        assert_eq!(semver("1.2.3-beta+build"), semver("1.2.3-beta"));
        assert!(semver("2.7.2+asdf") < semver("3.0.0"));
    }

    #[test]
    fn accepts_a_v_prefix_and_short_versions() {
        assert_eq!(semver("v1.2.3"), semver("1.2.3"));
        assert_eq!(semver("0"), semver("0.0.0"));
        assert!(semver("0") < semver("0.0.1"));
        assert!(semver("1.2.3.4") > semver("1.2.3"));
    }

    #[test]
    fn alphanumeric_identifiers_compare_in_ascii_order() {
        assert!(semver("1.2.3-r100") < semver("1.2.3-r2"));
        assert!(semver("1.2.3-R2") < semver("1.2.3-r100"));
        assert!(semver("1.2.3-5") < semver("1.2.3-5-foo"));
        assert!(semver("1.2.3-a.5") < semver("1.2.3-a.b"));
    }

    #[test]
    fn numbers_are_unbounded() {
        assert!(
            semver("999999999999999999999999999991") < semver("999999999999999999999999999999")
        );
    }

    #[test]
    fn go_pseudo_versions_order_by_timestamp_and_before_the_release() {
        let older = semver("v0.0.0-20191109021931-daa7c04131f5");
        let newer = semver("v0.0.0-20200102030405-0123456789ab");
        assert!(older < newer);
        assert!(newer < semver("v0.0.1"));
        // A pseudo-version built on a tag (vX.Y.(Z+1)-0.timestamp-hash) sorts after that tag.
        assert!(semver("v1.2.3") < semver("v1.2.4-0.20191109021931-daa7c04131f5"));
        assert!(semver("v1.2.4-0.20191109021931-daa7c04131f5") < semver("v1.2.4"));
        assert_eq!(semver("v2.0.0+incompatible"), semver("v2.0.0"));
    }

    #[test]
    fn rejects_what_is_not_semver_like() {
        for bad in [
            "",
            "  ",
            "a.b.c",
            "1..2",
            "1.2.3-",
            "1.2.3-a..b",
            "1.2.3+",
            "1.2.3 beta",
            "1.2.3-é",
        ] {
            assert!(SemVer::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(
            SemVer::parse("1.x.3"),
            Err(InvalidVersion::UnexpectedCharacter {
                found: 'x',
                position: 2
            })
        );
        assert_eq!(
            SemVer::parse("v1.2.3-a_b"),
            Err(InvalidVersion::UnexpectedCharacter {
                found: '_',
                position: 8
            })
        );
    }

    #[test]
    fn pub_orders_build_metadata_after_the_plain_version() {
        assert!(pub_version("1.0.0-pre") < pub_version("1.0.0-pre+build"));
        assert!(pub_version("1.0.0-pre+build") < pub_version("1.0.0"));
        assert!(pub_version("1.0.0") < pub_version("1.0.0+build"));
        assert!(pub_version("1.2.3+1") < pub_version("1.2.3+a"));
        assert!(pub_version("1.2.3+900") < pub_version("1.2.3+a"));
        assert!(pub_version("1.2.3+a") < pub_version("1.2.3+a1"));
        assert!(pub_version("1.2.3+1z") < pub_version("1.2.3+9a"));
        assert!(pub_version("1.2.3+build") < pub_version("1.2.3+otherbuild"));
        assert_eq!(pub_version("1.2.3+b"), pub_version("1.2.3+b"));
    }
}
