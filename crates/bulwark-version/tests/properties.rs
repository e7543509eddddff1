//! Property tests for every version scheme: parsing never panics, and the ordering is
//! antisymmetric, transitive and consistent with equality.
//!
//! Each scheme has a generator of strings from its own grammar, built from the pieces
//! that make its rules interesting (qualifiers, separators, leading zeros, tildes). The
//! transitivity check uses those well-formed strings: some tools order malformed input in
//! ways that are not transitive (apk compares two malformed versions as plain text), and
//! this crate reproduces the tool rather than inventing an order.

use std::cmp::Ordering;

use bulwark_version::{Version, VersionScheme};
use proptest::prelude::*;
use proptest::sample::select;

const ALL_SCHEMES: [VersionScheme; 12] = [
    VersionScheme::SemVer,
    VersionScheme::Pub,
    VersionScheme::Pep440,
    VersionScheme::Maven,
    VersionScheme::RubyGems,
    VersionScheme::NuGet,
    VersionScheme::Packagist,
    VersionScheme::Dpkg,
    VersionScheme::Apk,
    VersionScheme::Rpm,
    VersionScheme::Cran,
    VersionScheme::Hackage,
];

fn parse(scheme: VersionScheme, text: &str) -> Version {
    Version::parse_scheme(scheme, text)
        .unwrap_or_else(|error| panic!("{scheme} generator produced {text:?}: {error}"))
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["0", "1", "2", "9", "10", "01", "00", "007", "123"]).prop_map(String::from),
        (0u32..40).prop_map(|n| n.to_string()),
    ]
}

fn dotted_numbers(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(number(), 1..=max).prop_map(|parts| parts.join("."))
}

/// `N(.N)*`, a `-`-separated pre-release and a `+` build, over identifiers that exercise
/// numeric/alphanumeric precedence and ASCII case.
fn semver_like(max_release_parts: usize, v_prefix: bool) -> impl Strategy<Value = String> {
    let identifier = select(vec![
        "alpha", "beta", "rc", "RC", "0", "1", "2", "11", "a1", "x-y", "r2", "r100", "R2",
    ]);
    let identifiers = prop::collection::vec(identifier, 1..4).prop_map(|ids| ids.join("."));
    (
        if v_prefix {
            select(vec!["", "v"]).boxed()
        } else {
            Just("").boxed()
        },
        dotted_numbers(max_release_parts),
        prop::option::of(identifiers.clone()),
        prop::option::of(identifiers),
    )
        .prop_map(|(prefix, release, pre, build)| {
            let mut text = format!("{prefix}{release}");
            if let Some(pre) = pre {
                text.push('-');
                text.push_str(&pre);
            }
            if let Some(build) = build {
                text.push('+');
                text.push_str(&build);
            }
            text
        })
}

fn pep440() -> impl Strategy<Value = String> {
    let standard = (
        select(vec!["", "1!", "2!"]),
        dotted_numbers(4),
        select(vec![
            "", "a", "b1", "rc2", ".alpha3", "-beta", "c", "pre1", ".RC1", "_preview",
        ]),
        select(vec!["", ".post1", "-1", "post", "-r2", ".rev3"]),
        select(vec!["", ".dev", ".dev1", "dev2", "-DEV3"]),
        select(vec!["", "+local", "+1.a", "+abc.1", "+1-2", "+x_y"]),
    )
        .prop_map(|(epoch, release, pre, post, dev, local)| {
            format!("{epoch}{release}{pre}{post}{dev}{local}")
        });
    let legacy = "[0-9a-z][0-9a-z.-]{0,8}";
    prop_oneof![3 => standard, 1 => legacy]
}

/// Pieces joined by the scheme's separators (an empty separator makes a digit/letter
/// transition); words and numbers may take different separators.
fn pieces(
    words: Vec<&'static str>,
    word_separators: Vec<&'static str>,
    number_separators: Vec<&'static str>,
) -> impl Strategy<Value = String> {
    let word_piece = (
        select(word_separators),
        select(words).prop_map(String::from),
    );
    let number_piece = (select(number_separators), number());
    (
        number(),
        prop::collection::vec(prop_oneof![word_piece, number_piece], 0..5),
    )
        .prop_map(|(first, rest)| {
            let mut text = first;
            for (separator, piece) in rest {
                text.push_str(separator);
                text.push_str(&piece);
            }
            text
        })
}

/// Maven's `ComparableVersion` is not transitive where words and sub-lists mix in corners
/// (see the `maven` module), so qualifiers here follow a `-` or come straight after a
/// digit, as in practically every published version, where the order is total. Nor where
/// every number is zero, which Maven trims away to leave qualifiers alone: `00-sp` <
/// `0-ga-SNAPSHOT` < `00` < `00-sp` in Maven's own `ComparableVersion` (checked with
/// maven-artifact 3.8.7), and so here; published versions carry a non-zero number.
fn maven() -> impl Strategy<Value = String> {
    pieces(
        vec![
            "alpha",
            "beta",
            "milestone",
            "rc",
            "cr",
            "snapshot",
            "ga",
            "final",
            "release",
            "sp",
            "a",
            "b",
            "m",
            "foo",
            "x",
            "SNAPSHOT",
            "RC",
        ],
        vec!["-", ""],
        vec![".", "-", ""],
    )
    .prop_filter("a number other than zero", |text| {
        text.bytes().any(|b| (b'1'..=b'9').contains(&b))
    })
}

fn rubygems() -> impl Strategy<Value = String> {
    pieces(
        vec!["a", "b", "beta", "pre", "rc", "RC", "alpha", "x"],
        vec![".", "-", ""],
        vec![".", "-", ""],
    )
}

fn packagist() -> impl Strategy<Value = String> {
    (
        select(vec!["", "v", "V"]),
        pieces(
            vec![
                "dev", "alpha", "a", "beta", "b", "RC", "rc", "pl", "p", "patch", "foo", "BETA",
            ],
            vec![".", "-", "_", "+", ""],
            vec![".", "-", "_", "+", ""],
        ),
    )
        .prop_map(|(prefix, text)| format!("{prefix}{text}"))
}

fn dpkg() -> impl Strategy<Value = String> {
    let part = "[0-9][0-9a-zA-Z.+~]{0,8}";
    (
        select(vec!["", "0:", "1:", "2:", "01:"]),
        part,
        prop::option::of("[0-9a-z.+~]{1,6}"),
    )
        .prop_map(|(epoch, upstream, revision)| match revision {
            Some(revision) => format!("{epoch}{upstream}-{revision}"),
            None => format!("{epoch}{upstream}"),
        })
}

fn apk() -> impl Strategy<Value = String> {
    (
        dotted_numbers(4),
        select(vec!["", "a", "b", "z"]),
        prop::collection::vec(
            (
                select(vec![
                    "alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p",
                ]),
                select(vec!["", "0", "1", "2", "10", "01"]),
            ),
            0..3,
        ),
        select(vec!["", "~abc1", "~0f"]),
        select(vec!["", "-r0", "-r1", "-r2", "-r10", "-r01", "-r"]),
    )
        .prop_map(|(numbers, letter, suffixes, hash, revision)| {
            let suffixes: String = suffixes
                .into_iter()
                .map(|(kind, number)| format!("_{kind}{number}"))
                .collect();
            format!("{numbers}{letter}{suffixes}{hash}{revision}")
        })
}

fn rpm() -> impl Strategy<Value = String> {
    (
        select(vec!["", "0:", "1:", "2:", "01:"]),
        "[0-9a-zA-Z.~^_+]{1,8}",
        prop::option::of("[0-9a-z.~^]{0,6}"),
    )
        .prop_map(|(epoch, version, release)| match release {
            Some(release) => format!("{epoch}{version}-{release}"),
            None => format!("{epoch}{version}"),
        })
}

fn cran() -> impl Strategy<Value = String> {
    (
        number(),
        prop::collection::vec((select(vec![".", "-"]), number()), 0..4),
    )
        .prop_map(|(first, rest)| {
            let mut text = first;
            for (separator, part) in rest {
                text.push_str(separator);
                text.push_str(&part);
            }
            text
        })
}

/// A well-formed version string of `scheme`.
fn well_formed(scheme: VersionScheme) -> BoxedStrategy<String> {
    match scheme {
        VersionScheme::SemVer | VersionScheme::Pub => semver_like(4, true).boxed(),
        VersionScheme::NuGet => semver_like(4, false).boxed(),
        VersionScheme::Pep440 => pep440().boxed(),
        VersionScheme::Maven => maven().boxed(),
        VersionScheme::RubyGems => rubygems().boxed(),
        VersionScheme::Packagist => packagist().boxed(),
        VersionScheme::Dpkg => dpkg().boxed(),
        VersionScheme::Apk => apk().boxed(),
        VersionScheme::Rpm => rpm().boxed(),
        VersionScheme::Cran => cran().boxed(),
        VersionScheme::Hackage => dotted_numbers(5).boxed(),
        other => panic!("no generator for {other}"),
    }
}

/// Characters versions are made of, so arbitrary strings still reach deep into parsers.
const VERSIONISH: &str = "[0-9a-zA-Z.+~:_^#!-]{0,16}";

fn scheme_and_versions() -> impl Strategy<Value = (VersionScheme, Vec<String>)> {
    select(ALL_SCHEMES.to_vec()).prop_flat_map(|scheme| {
        (
            Just(scheme),
            prop::collection::vec(well_formed(scheme), 2..8),
        )
    })
}

/// Checks transitivity and antisymmetry over every ordered triple of `texts`.
fn check_order_laws(scheme: VersionScheme, texts: &[String]) -> Result<(), TestCaseError> {
    let versions: Vec<Version> = texts.iter().map(|text| parse(scheme, text)).collect();
    let mut order = Vec::new();
    for a in &versions {
        let mut row = Vec::new();
        for b in &versions {
            row.push(
                a.try_cmp(b)
                    .map_err(|error| TestCaseError::fail(error.to_string()))?,
            );
        }
        order.push(row);
    }
    let n = versions.len();
    for i in 0..n {
        prop_assert_eq!(order[i][i], Ordering::Equal, "{} vs itself", texts[i]);
        for j in 0..n {
            prop_assert_eq!(
                order[i][j],
                order[j][i].reverse(),
                "{} vs {}",
                texts[i],
                texts[j]
            );
            for k in 0..n {
                let (ij, jk, ik) = (order[i][j], order[j][k], order[i][k]);
                if ij != Ordering::Greater && jk != Ordering::Greater {
                    prop_assert_ne!(
                        ik,
                        Ordering::Greater,
                        "{} <= {} <= {} but {} > {}",
                        texts[i],
                        texts[j],
                        texts[k],
                        texts[i],
                        texts[k]
                    );
                }
                // Equal versions are interchangeable: they order the same against a third.
                if ij == Ordering::Equal {
                    prop_assert_eq!(
                        ik,
                        jk,
                        "{} = {} but they order differently against {}",
                        texts[i],
                        texts[j],
                        texts[k]
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_never_panics(
        scheme in select(ALL_SCHEMES.to_vec()),
        text in prop_oneof![any::<String>(), VERSIONISH.prop_map(String::from)],
    ) {
        let _ = Version::parse_scheme(scheme, &text);
    }

    #[test]
    fn ordering_is_antisymmetric_on_any_input(
        scheme in select(ALL_SCHEMES.to_vec()),
        a in VERSIONISH,
        b in VERSIONISH,
    ) {
        if let (Ok(a), Ok(b)) = (Version::parse_scheme(scheme, &a), Version::parse_scheme(scheme, &b)) {
            let forward = a.try_cmp(&b).unwrap();
            let backward = b.try_cmp(&a).unwrap();
            prop_assert_eq!(forward, backward.reverse());
            prop_assert_eq!(a == b, forward == Ordering::Equal);
            prop_assert_eq!(a.partial_cmp(&b), Some(forward));
        }
    }

    #[test]
    fn ordering_is_antisymmetric_and_transitive((scheme, texts) in scheme_and_versions()) {
        check_order_laws(scheme, &texts)?;
    }
}
