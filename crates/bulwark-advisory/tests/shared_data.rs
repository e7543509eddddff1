//! Every record of the real advisory databases in `../shared/data` parses, and a few
//! matches checked by hand against the records' text come out right. Skips when the data
//! directory is absent.
// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use bulwark_advisory::{AdvisoryIndex, Purl, SeveritySource};
use bulwark_cvss::Severity;

#[test]
fn every_record_parses_and_hand_checked_matches_hold() {
    let Some(dir) = support::data_dir() else {
        // Only outside CI: under CI `data_dir` fails the test when the data is missing.
        eprintln!("../shared/data not found outside CI; not run");
        return;
    };
    let sources = support::read_all(&dir);
    let total: usize = sources.iter().map(|s| s.records.len()).sum();
    let (records, failures) = support::parse_all(&sources);
    assert!(
        failures.is_empty(),
        "{} of {total} records failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // README counts: 364 + 4,291 + 5,000 + 1,206 OSV JSON, 2,661 PyPA YAML.
    assert!(records.len() > 13_500, "{}", records.len());
    let index: AdvisoryIndex = records.into_iter().collect();

    let ids = |ecosystem: &str, name: &str, version: &str| -> Vec<String> {
        let mut ids: Vec<String> = index
            .query(ecosystem, name, version)
            .findings
            .iter()
            .map(|f| f.vulnerability.id.clone())
            .collect();
        ids.sort();
        ids
    };
    let fixed = |ecosystem: &str, name: &str, version: &str, id: &str| -> Vec<String> {
        index
            .query(ecosystem, name, version)
            .findings
            .into_iter()
            .find(|f| f.vulnerability.id == id)
            .map(|f| f.fixed.iter().map(|v| v.to_string()).collect())
            .unwrap_or_else(|| panic!("{id} should affect {name} {version}"))
    };

    // PYSEC-2019-10: Django introduced 2.2, fixed 2.2.3 (and 2.1/1.11 lines). 2.2.0 equals
    // 2.2 under PEP 440 although only "2.2" is in its versions list.
    assert!(ids("PyPI", "Django", "2.2.0").contains(&"PYSEC-2019-10".to_owned()));
    assert_eq!(fixed("PyPI", "django", "2.2.0", "PYSEC-2019-10"), ["2.2.3"]);
    assert_eq!(
        fixed("PyPI", "django", "1.11.5", "PYSEC-2019-10"),
        ["1.11.22"]
    );
    assert!(!ids("PyPI", "django", "2.2.3").contains(&"PYSEC-2019-10".to_owned()));

    // RUSTSEC-2020-0071: time, affected before 0.2.0 and 0.2.7 up to 0.2.23, with
    // pre-release introduced bounds (0.2.1-0 …) between.
    assert_eq!(
        fixed("crates.io", "time", "0.1.44", "RUSTSEC-2020-0071"),
        ["0.2.0"]
    );
    assert_eq!(
        fixed("crates.io", "time", "0.2.10", "RUSTSEC-2020-0071"),
        ["0.2.23"]
    );
    assert!(!ids("crates.io", "time", "0.2.23").contains(&"RUSTSEC-2020-0071".to_owned()));
    assert!(!ids("crates.io", "time", "0.2.3").contains(&"RUSTSEC-2020-0071".to_owned()));

    // GO-2020-0001: gin before 1.6.0; Go versions may carry the "v" prefix.
    assert_eq!(
        fixed("Go", "github.com/gin-gonic/gin", "v1.5.0", "GO-2020-0001"),
        ["1.6.0"]
    );
    assert!(!ids("Go", "github.com/gin-gonic/gin", "v1.6.0").contains(&"GO-2020-0001".to_owned()));
    // GO-2022-0493: stdlib before 1.17.10, and 1.18.0-0 up to 1.18.2.
    assert_eq!(fixed("Go", "stdlib", "1.18.1", "GO-2022-0493"), ["1.18.2"]);
    assert!(!ids("Go", "stdlib", "1.17.10").contains(&"GO-2022-0493".to_owned()));

    // GHSA-27xj-rqx5-2255: jackson-databind 2.9.0 to 2.9.10.4 (Maven ordering), CVSS 3.1
    // vector scoring 8.1 preferred over GHSA's "HIGH".
    let purl = Purl::parse("pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.10.3")
        .expect("purl");
    let result = index.query_purl(&purl).expect("query");
    let finding = result
        .findings
        .iter()
        .find(|f| f.vulnerability.id == "GHSA-27xj-rqx5-2255")
        .expect("GHSA-27xj-rqx5-2255 affects jackson-databind 2.9.10.3");
    assert_eq!(finding.fixed, ["2.9.10.4"]);
    assert_eq!(finding.severity.rating, Some(Severity::High));
    assert_eq!(finding.severity.score, Some(8.1));
    assert!(matches!(
        finding.severity.source,
        SeveritySource::Cvss { .. }
    ));
    assert!(
        !ids(
            "Maven",
            "com.fasterxml.jackson.core:jackson-databind",
            "2.9.10.4"
        )
        .contains(&"GHSA-27xj-rqx5-2255".to_owned())
    );

    // MAL-2022-2: every version of npm "--hiljson" is malicious (introduced 0 alone).
    assert_eq!(ids("npm", "--hiljson", "99.0.0"), ["MAL-2022-2"]);
    // MAL-2024-1722 is withdrawn and matches nothing.
    assert!(ids("npm", "account-settings", "35.0.0").is_empty());

    // Alpine secdb v3.11 main: ansible fixed CVE-2019-14904 in 2.9.3-r0; the release must
    // match the scanned system's.
    assert!(
        ids("Alpine:v3.11", "ansible", "2.9.2-r0").contains(&"ALPINE-CVE-2019-14904".to_owned())
    );
    assert!(
        ids("Alpine:3.11.6", "ansible", "2.9.2-r0").contains(&"ALPINE-CVE-2019-14904".to_owned())
    );
    assert!(
        !ids("Alpine:v3.11", "ansible", "2.9.3-r0").contains(&"ALPINE-CVE-2019-14904".to_owned())
    );
    assert!(
        !ids("Alpine:v3.3", "ansible", "2.9.2-r0").contains(&"ALPINE-CVE-2019-14904".to_owned())
    );
}

#[test]
fn non_osv_files_are_known_and_excluded() {
    let Some(dir) = support::data_dir() else {
        return;
    };
    for file in support::NOT_OSV_JSONL {
        assert!(
            dir.join(file).is_file(),
            "{file} moved; update support::NOT_OSV_JSONL"
        );
    }
}
