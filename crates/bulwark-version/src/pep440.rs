//! PEP 440 version ordering for PyPI, with the pre-PEP 440 "legacy" fallback.
//!
//! Standard versions are read with PEP 440's normalisation rules: case-insensitive, an
//! optional leading `v`, surrounding whitespace ignored, `alpha`/`beta`/`c`/`pre`/`preview`
//! spelled as `a`/`b`/`rc`, `rev`/`r` as `post`, separators `.`, `-`, `_` optional
//! around pre, post and dev markers (`1.0.0.RC1` = `1.0.0rc1`), implicit numbers
//! (`1.0a` = `1.0a0`) and the implicit post release `1.0-1` = `1.0.post1`. They order by
//! epoch, release (trailing zeros ignored), pre, post, dev and local segment, exactly as
//! `packaging.version.Version` does.
//!
//! PyPI still hosts releases whose version is not PEP 440 (`0.1-bulbasaur`), and old
//! advisories name them. Such strings are read as `packaging`'s former `LegacyVersion`:
//! they sort before every PEP 440 version and among themselves by setuptools' historic
//! key. Only strings of visible ASCII are accepted as legacy versions; anything else is an
//! error. [`Pep440Version::is_legacy`] tells the two apart for callers that want PEP 440
//! strictly.

use crate::error::InvalidVersion;
use crate::numeric::{DecimalNumber, split_leading_digits};

/// A PyPI version, standard or legacy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pep440Version {
    form: Form,
}

/// Declaration order matters: every legacy version sorts before every standard one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Form {
    Legacy(Vec<Box<str>>),
    Standard(StandardKey),
}

/// The sort key of a PEP 440 version; field order is comparison order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct StandardKey {
    epoch: DecimalNumber,
    /// Trailing zeros removed, so `1.0` and `1.0.0` compare equal.
    release: Vec<DecimalNumber>,
    pre: PreReleaseKey,
    /// `None` (no post release) sorts first.
    post: Option<DecimalNumber>,
    dev: DevKey,
    /// `None` (no local label) sorts first.
    local: Option<Vec<LocalSegment>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PreReleasePhase {
    Alpha,
    Beta,
    ReleaseCandidate,
}

/// Declaration order is precedence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PreReleaseKey {
    /// A dev release of the final version (`1.0.dev0`) precedes its pre-releases (`1.0a0`).
    DevOfFinal,
    PreRelease(PreReleasePhase, DecimalNumber),
    NotPreRelease,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum DevKey {
    Dev(DecimalNumber),
    NotDev,
}

/// Declaration order matters: alphabetic local segments sort before numeric ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalSegment {
    Alphabetic(Box<str>),
    Numeric(DecimalNumber),
}

impl Pep440Version {
    /// Parses a PyPI version: PEP 440 when it is one, a legacy version otherwise.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(InvalidVersion::Empty);
        }
        if let Some(key) = parse_standard(&trimmed.to_ascii_lowercase()) {
            return Ok(Pep440Version {
                form: Form::Standard(key),
            });
        }
        if let Some((position, found)) = trimmed.char_indices().find(|(_, c)| !c.is_ascii_graphic())
        {
            let offset = input.len() - input.trim_start().len();
            return Err(InvalidVersion::UnexpectedCharacter {
                found,
                position: offset + position,
            });
        }
        Ok(Pep440Version {
            form: Form::Legacy(legacy_key(&trimmed.to_ascii_lowercase())),
        })
    }

    /// Parses a PEP 440 version and refuses legacy versions.
    pub fn parse_strict(input: &str) -> Result<Self, InvalidVersion> {
        let version = Self::parse(input)?;
        if version.is_legacy() {
            return Err(InvalidVersion::Malformed("not a PEP 440 version"));
        }
        Ok(version)
    }

    /// Whether this is a pre-PEP 440 version, which sorts before every PEP 440 version.
    pub fn is_legacy(&self) -> bool {
        matches!(self.form, Form::Legacy(_))
    }
}

/// A cursor over the lower-cased version string.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn eat(&mut self, prefix: &str) -> bool {
        match self.rest.strip_prefix(prefix) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn eat_separator(&mut self) -> bool {
        self.eat(".") || self.eat("-") || self.eat("_")
    }

    /// The first of `words` the input continues with; callers list longer words first so
    /// `alpha` is not read as `a` followed by garbage.
    fn eat_one_of<T: Copy>(&mut self, words: &[(&str, T)]) -> Option<T> {
        words
            .iter()
            .find(|(word, _)| self.eat(word))
            .map(|&(_, value)| value)
    }

    fn digits(&mut self) -> Option<&'a str> {
        let (digits, rest) = split_leading_digits(self.rest);
        if digits.is_empty() {
            return None;
        }
        self.rest = rest;
        Some(digits)
    }
}

const PRE_RELEASE_SPELLINGS: &[(&str, PreReleasePhase)] = &[
    ("preview", PreReleasePhase::ReleaseCandidate),
    ("alpha", PreReleasePhase::Alpha),
    ("beta", PreReleasePhase::Beta),
    ("pre", PreReleasePhase::ReleaseCandidate),
    ("rc", PreReleasePhase::ReleaseCandidate),
    ("a", PreReleasePhase::Alpha),
    ("b", PreReleasePhase::Beta),
    ("c", PreReleasePhase::ReleaseCandidate),
];

const POST_RELEASE_SPELLINGS: &[(&str, ())] = &[("post", ()), ("rev", ()), ("r", ())];

/// Reads `v? (N!)? N(.N)* pre? post? dev? (+local)?` from an already lower-cased,
/// trimmed string; `None` when it is not PEP 440.
fn parse_standard(text: &str) -> Option<StandardKey> {
    let mut cursor = Cursor { rest: text };
    cursor.eat("v");

    let before_epoch = cursor.rest;
    let first = cursor.digits()?;
    let epoch = if cursor.eat("!") {
        DecimalNumber::from_ascii_digits(first)
    } else {
        // Not an epoch after all: rewind so the digits are read as the release.
        cursor.rest = before_epoch;
        DecimalNumber::zero()
    };

    let mut release = vec![DecimalNumber::from_ascii_digits(cursor.digits()?)];
    loop {
        let before = cursor.rest;
        if cursor.eat(".")
            && let Some(digits) = cursor.digits()
        {
            release.push(DecimalNumber::from_ascii_digits(digits));
            continue;
        }
        cursor.rest = before;
        break;
    }
    // `packaging` drops every trailing zero, so an all-zero release becomes empty.
    while release.last().is_some_and(DecimalNumber::is_zero) {
        release.pop();
    }

    let pre = {
        let before = cursor.rest;
        cursor.eat_separator();
        match cursor.eat_one_of(PRE_RELEASE_SPELLINGS) {
            Some(phase) => {
                cursor.eat_separator();
                let number = cursor.digits().unwrap_or("");
                Some((phase, DecimalNumber::from_ascii_digits(number)))
            }
            None => {
                cursor.rest = before;
                None
            }
        }
    };

    let post = {
        let before = cursor.rest;
        let implicit = cursor.eat("-").then(|| cursor.digits()).flatten();
        match implicit {
            Some(number) => Some(DecimalNumber::from_ascii_digits(number)),
            None => {
                cursor.rest = before;
                cursor.eat_separator();
                match cursor.eat_one_of(POST_RELEASE_SPELLINGS) {
                    Some(()) => {
                        cursor.eat_separator();
                        Some(DecimalNumber::from_ascii_digits(
                            cursor.digits().unwrap_or(""),
                        ))
                    }
                    None => {
                        cursor.rest = before;
                        None
                    }
                }
            }
        }
    };

    let dev = {
        let before = cursor.rest;
        cursor.eat_separator();
        if cursor.eat("dev") {
            cursor.eat_separator();
            Some(DecimalNumber::from_ascii_digits(
                cursor.digits().unwrap_or(""),
            ))
        } else {
            cursor.rest = before;
            None
        }
    };

    let local = if cursor.eat("+") {
        let segments = cursor.rest.split(['.', '-', '_']);
        let mut parsed = Vec::new();
        for segment in segments {
            if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return None;
            }
            parsed.push(match DecimalNumber::parse_all_digits(segment) {
                Some(number) => LocalSegment::Numeric(number),
                None => LocalSegment::Alphabetic(segment.into()),
            });
        }
        cursor.rest = "";
        Some(parsed)
    } else {
        None
    };

    if !cursor.rest.is_empty() {
        return None;
    }

    let pre = match (pre, &post, &dev) {
        (Some((phase, number)), _, _) => PreReleaseKey::PreRelease(phase, number),
        (None, None, Some(_)) => PreReleaseKey::DevOfFinal,
        (None, _, _) => PreReleaseKey::NotPreRelease,
    };
    Some(StandardKey {
        epoch,
        release,
        pre,
        post,
        dev: dev.map_or(DevKey::NotDev, DevKey::Dev),
        local,
    })
}

/// setuptools' historic sort key for versions that are not PEP 440.
///
/// The string is cut into digit runs, letter runs, `.` and `-`, with whatever lies between
/// kept as its own piece. Numbers are zero-padded to eight digits so they compare as
/// text; words get a `*` prefix, with `pre`, `preview` and `rc` read as `c`, `dev` as `@`
/// (before every letter) and `-` as `final-`. A word that sorts before `*final` (a
/// pre-release word) removes the `final-` markers before it, and every word removes the
/// zeros before it, so `1.0` and `1` compare equal.
fn legacy_key(text: &str) -> Vec<Box<str>> {
    let mut parts: Vec<Box<str>> = Vec::new();
    for piece in legacy_pieces(text).chain(std::iter::once("final")) {
        let piece = match piece {
            "pre" | "preview" | "rc" => "c",
            "-" => "final-",
            "dev" => "@",
            other => other,
        };
        if piece.is_empty() || piece == "." {
            continue;
        }
        if piece.starts_with(|c: char| c.is_ascii_digit()) {
            parts.push(format!("{piece:0>8}").into());
            continue;
        }
        let word = format!("*{piece}");
        if word.as_str() < "*final" {
            while parts.last().is_some_and(|last| &**last == "*final-") {
                parts.pop();
            }
        }
        while parts.last().is_some_and(|last| &**last == "00000000") {
            parts.pop();
        }
        parts.push(word.into());
    }
    parts
}

/// Splits `text` into digit runs, lower-case letter runs, single `.` and `-`, and the
/// runs of other characters between them.
fn legacy_pieces(text: &str) -> impl Iterator<Item = &str> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Digit,
        Letter,
        Single,
        Other,
    }
    let class_of = |b: u8| match b {
        b'0'..=b'9' => Class::Digit,
        b'a'..=b'z' => Class::Letter,
        b'.' | b'-' => Class::Single,
        _ => Class::Other,
    };
    let bytes = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let class = class_of(bytes[start]);
        let mut end = start + 1;
        if class != Class::Single {
            while end < bytes.len() && class_of(bytes[end]) == class {
                end += 1;
            }
        }
        // Only ASCII reaches here, so byte offsets are character boundaries.
        let piece = text.get(start..end);
        start = end;
        piece
    })
}

impl Pep440Version {
    #[cfg(test)]
    fn legacy_parts(&self) -> Option<Vec<&str>> {
        match &self.form {
            Form::Legacy(parts) => Some(parts.iter().map(|p| &**p).collect()),
            Form::Standard(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Pep440Version {
        Pep440Version::parse(text).unwrap()
    }

    #[test]
    fn normalises_spellings_case_and_separators() {
        assert_eq!(v("1.0.0.RC1"), v("1.0.0rc1"));
        assert_eq!(v("1.0-1"), v("1.0.post1"));
        assert_eq!(v("v1.0"), v("1.0"));
        assert_eq!(v(" 1.0 "), v("1.0"));
        assert_eq!(v("1.0ALPHA2"), v("1.0a2"));
        assert_eq!(v("1.0-beta_3"), v("1.0b3"));
        assert_eq!(v("1.0c1"), v("1.0rc1"));
        assert_eq!(v("1.0.preview1"), v("1.0rc1"));
        assert_eq!(v("1.0-r2"), v("1.0.post2"));
        assert_eq!(v("1.0rev"), v("1.0.post0"));
        assert_eq!(v("1.0a"), v("1.0a0"));
        assert_eq!(v("1.0.DEV"), v("1.0.dev0"));
        assert_eq!(v("1.0"), v("1.0.0.0"));
        assert_eq!(v("0!1.0"), v("1.0"));
        assert!(!v("1.0.0.RC1").is_legacy());
    }

    #[test]
    fn orders_dev_pre_final_post_within_a_release() {
        let chain = [
            "1.0.dev0",
            "1.0a0.dev1",
            "1.0a0",
            "1.0a1",
            "1.0b1.dev2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local",
            "1.0.post1.dev3",
            "1.0.post1",
            "1.0.post2",
            "1.1.dev0",
            "1!0.1",
        ];
        for pair in chain.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn local_segments_compare_numbers_above_words() {
        assert!(v("1.0.0+local.0") < v("1.0.0+local.0.1"));
        assert!(v("1.0.0+local.a") < v("1.0.0+local.1"));
        assert!(v("1.0.0+abc") < v("1.0.0+abd"));
        assert_eq!(v("1.0.0+Local-1"), v("1.0.0+local.1"));
        assert!(v("1.0.0+local.9") < v("1.0.0+local.10"));
    }

    #[test]
    fn legacy_versions_sort_before_every_standard_version() {
        let legacy = v("0.1-bulbasaur");
        assert!(legacy.is_legacy());
        assert!(legacy < v("0.0.dev0"));
        assert!(v("0.1-bulbasaur") < v("0.1-charmander"));
        assert!(v("0.9-ivysaur") < v("1.0"));
        assert!(v("-class.-jw.util.version.version-pre") < v("1.0"));
    }

    #[test]
    fn legacy_key_matches_setuptools() {
        assert_eq!(
            v("0.1-bulbasaur").legacy_parts(),
            Some(vec!["00000000", "00000001", "*bulbasaur", "*final"])
        );
        assert_eq!(
            v("1.0-dev-r1_x").legacy_parts(),
            Some(vec![
                "00000001", "*@", "*final-", "*r", "00000001", "*_", "*x", "*final"
            ])
        );
        // Trailing zeros disappear before a word, so these are equal.
        assert_eq!(v("2.0.0-final-x"), v("2-final-x"));
    }

    #[test]
    fn parse_strict_refuses_legacy_versions() {
        assert!(Pep440Version::parse_strict("1.0rc1").is_ok());
        assert!(Pep440Version::parse_strict("0.1-bulbasaur").is_err());
    }

    #[test]
    fn rejects_empty_and_non_ascii_strings() {
        assert_eq!(Pep440Version::parse("  "), Err(InvalidVersion::Empty));
        assert!(Pep440Version::parse("1.0 beta").is_err());
        assert!(Pep440Version::parse("1.0é").is_err());
    }

    #[test]
    fn numbers_are_unbounded() {
        assert!(v("999999999999999999999999999991") < v("999999999999999999999999999999"));
    }
}
