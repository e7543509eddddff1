//! Property tests: purls round-trip, name normalisation is idempotent and identifies the
//! spellings each registry identifies, range evaluation agrees with interval arithmetic,
//! and no input makes the parsers panic.
// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulwark_advisory::osv::{Event, Range, RangeType};
use bulwark_advisory::{
    CompiledRange, PackageKey, Purl, RangeOutcome, normalize_name, parse_json, parse_yaml,
};
use bulwark_version::{Ecosystem, Version, VersionScheme};
use proptest::prelude::*;
use proptest::sample::select;

fn component() -> impl Strategy<Value = String> {
    // Printable text with the characters purls must escape, plus some non-ASCII.
    "[a-zA-Z0-9._~ @:/?#%&=+é中-]{1,12}"
}

fn purl() -> impl Strategy<Value = Purl> {
    (
        select(vec![
            "npm", "pypi", "maven", "golang", "deb", "generic", "cargo",
        ]),
        proptest::option::of(prop::collection::vec("[a-zA-Z0-9._@%é-]{1,8}", 1..3)),
        component(),
        proptest::option::of(component()),
        prop::collection::btree_map("[a-z][a-z0-9._-]{0,6}", component(), 0..3),
    )
        .prop_map(|(ty, namespace, name, version, qualifiers)| {
            let mut purl = Purl::new(ty, &name).expect("valid type and name");
            if let Some(segments) = namespace {
                purl = purl.with_namespace(&segments.join("/"));
            }
            if let Some(version) = version {
                purl = purl.with_version(&version);
            }
            for (key, value) in qualifiers {
                purl = purl.with_qualifier(&key, &value);
            }
            purl
        })
}

fn semver() -> impl Strategy<Value = (u8, u8, u8)> {
    (0u8..4, 0u8..4, 0u8..4)
}

fn text((a, b, c): (u8, u8, u8)) -> String {
    format!("{a}.{b}.{c}")
}

/// Whether `version` is affected, and the fix the range names for it.
fn evaluate(events: Vec<Event>, version: &str) -> (bool, Option<String>) {
    let range = Range {
        kind: RangeType::Semver,
        repo: None,
        events,
        database_specific: None,
    };
    let compiled = CompiledRange::new(&range, Some(VersionScheme::SemVer));
    let parsed = Version::parse_scheme(VersionScheme::SemVer, version).expect("generated semver");
    match compiled.evaluate(Some(&parsed)) {
        RangeOutcome::Affected { fixed } => (true, fixed.map(str::to_owned)),
        _ => (false, None),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn purls_round_trip(purl in purl()) {
        let written = purl.to_string();
        let parsed = Purl::parse(&written).map_err(|e| TestCaseError::fail(format!("{written}: {e}")))?;
        prop_assert_eq!(&parsed, &purl, "{}", written);
        prop_assert_eq!(parsed.to_string(), written);
    }

    #[test]
    fn purl_parsing_never_panics(input in "pkg:[ -~]{0,40}") {
        let _ = Purl::parse(&input);
    }

    #[test]
    fn name_normalisation_is_idempotent(
        ecosystem in select(vec!["PyPI", "crates.io", "npm", "Maven", "Go", "NuGet", "Packagist", "RubyGems", "Debian:12"]),
        name in "[a-zA-Z0-9._:/@ -]{1,20}",
    ) {
        let ecosystem = Ecosystem::from_osv_name(ecosystem).ecosystem;
        let once = normalize_name(&ecosystem, &name);
        prop_assert_eq!(normalize_name(&ecosystem, &once), once);
    }

    #[test]
    fn pypi_spellings_of_one_project_share_a_key(
        words in prop::collection::vec("[a-z0-9]{1,5}", 1..4),
        separators in prop::collection::vec(select(vec!["-", "_", ".", "--", "_.", "-_-"]), 3),
        upper in prop::collection::vec(any::<bool>(), 20),
    ) {
        let canonical = words.join("-");
        let mut spelled = String::new();
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                spelled.push_str(separators[i % separators.len()]);
            }
            for (j, c) in word.chars().enumerate() {
                if upper[(i * 5 + j) % upper.len()] {
                    spelled.extend(c.to_uppercase());
                } else {
                    spelled.push(c);
                }
            }
        }
        prop_assert_eq!(PackageKey::new("PyPI", &spelled), PackageKey::new("PyPI", &canonical));
        let normalised = normalize_name(&Ecosystem::PyPI, &spelled);
        prop_assert!(!normalised.contains(['_', '.']) && !normalised.contains("--"));
        prop_assert_eq!(normalised.to_lowercase(), normalised.clone());
    }

    #[test]
    fn a_single_range_is_the_half_open_interval(a in semver(), b in semver(), v in semver()) {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let outcome = evaluate(
            vec![Event::Fixed(text(high)), Event::Introduced(text(low))],
            &text(v),
        );
        let inside = low <= v && v < high;
        prop_assert_eq!(outcome, (inside, inside.then(|| text(high))));
    }

    #[test]
    fn last_affected_closes_the_interval(a in semver(), b in semver(), v in semver()) {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let outcome = evaluate(
            vec![Event::Introduced(text(low)), Event::LastAffected(text(high))],
            &text(v),
        );
        prop_assert_eq!(outcome.0, low <= v && v <= high);
    }

    #[test]
    fn several_intervals_are_a_union(mut points in prop::collection::vec(semver(), 4), v in semver()) {
        points.sort();
        // Where one interval's fix is the next one's introduction, the tie rule of
        // `range` (introduced before fixed: an empty interval) applies instead.
        prop_assume!(points[1] < points[2]);
        let outcome = evaluate(
            vec![
                Event::Introduced(text(points[2])),
                Event::Fixed(text(points[1])),
                Event::Fixed(text(points[3])),
                Event::Introduced(text(points[0])),
            ],
            &text(v),
        );
        let inside = (points[0] <= v && v < points[1]) || (points[2] <= v && v < points[3]);
        prop_assert_eq!(outcome.0, inside);
    }

    #[test]
    fn introduced_zero_and_a_limit(limit in semver(), v in semver()) {
        let outcome = evaluate(
            vec![Event::Introduced("0".into()), Event::Limit(text(limit))],
            &text(v),
        );
        prop_assert_eq!(outcome.0, v < limit);
    }

    #[test]
    fn record_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_json(&bytes);
        let _ = parse_yaml(&bytes);
    }

    #[test]
    fn near_valid_records_never_panic(
        field in select(vec!["id", "modified", "affected", "ranges", "events", "type", "introduced"]),
        value in select(vec!["null", "1", "\"\"", "[]", "{}", "\"0\"", "[{}]"]),
    ) {
        let record = format!(
            r#"{{"id":"X","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"PyPI","name":"x"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}}]}}]}}],"{field}":{value}}}"#
        );
        let _ = parse_json(record.as_bytes());
    }
}
