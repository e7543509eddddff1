//! Real records shipped with the crate (see `fixtures/README.md`): they parse, the invalid
//! one is refused with its id, and they match as their text says.
// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bulwark_advisory::{AdvisoryIndex, Problem, RecordErrorKind, parse_json, parse_yaml};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(package_dir().join("tests/fixtures").join(name)).unwrap()
}

#[test]
fn the_linter_negative_is_refused_with_its_id() {
    let error = parse_json(&fixture("nointroduced-CVE-2023-41045.json")).unwrap_err();
    assert_eq!(error.id.as_deref(), Some("CVE-2023-41045"));
    let RecordErrorKind::Invalid(problems) = error.kind else {
        panic!("expected validation problems");
    };
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::RangeWithoutIntroduced { .. })),
        "{problems:?}"
    );
}

#[test]
fn shipped_records_match_as_written() {
    let index: AdvisoryIndex = [
        parse_json(&fixture("GHSA-9v2f-6vcg-3hgv.json")).unwrap(),
        parse_json(&fixture("GO-2024-2963.json")).unwrap(),
        parse_json(&fixture("CVE-2018-5407.json")).unwrap(),
        parse_yaml(&fixture("PYSEC-2019-10.yaml")).unwrap(),
    ]
    .into_iter()
    .collect();
    let ids = |ecosystem: &str, name: &str, version: &str| -> Vec<String> {
        index
            .query(ecosystem, name, version)
            .findings
            .iter()
            .map(|f| f.vulnerability.id.clone())
            .collect()
    };

    // Explicit versions only, and the name is PEP 503-normalised.
    assert_eq!(ids("PyPI", "gradio", "4.36.1"), ["GHSA-9v2f-6vcg-3hgv"]);
    assert!(ids("PyPI", "gradio", "4.36.2").is_empty());

    // Alpine: per-release entries; the scanned release decides.
    assert_eq!(
        ids("Alpine:v3.4", "openssl", "1.0.2p-r0"),
        ["CVE-2018-5407"]
    );
    assert!(ids("Alpine:v3.4", "openssl", "1.0.2q-r0").is_empty());
    assert!(ids("Alpine:v3.20", "openssl", "1.0.2p-r0").is_empty());

    // PyPA YAML: 2.2.0 is inside [2.2, 2.2.3).
    let result = index.query("PyPI", "Django", "2.2.0");
    assert_eq!(result.findings[0].vulnerability.id, "PYSEC-2019-10");
    assert_eq!(result.findings[0].fixed, ["2.2.3"]);
}

/// This package's directory, as cargo gives it when the test runs: a binary built from a clone at another
/// path (a build directory shared with CI, say) must not read that clone's files.
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
