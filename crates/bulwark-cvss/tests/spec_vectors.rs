//! Published vectors with their published base scores, and malformed vectors with the
//! error each must produce.
//!
//! Sources, per table:
//! - v2: FIRST, "A Complete Guide to the Common Vulnerability Scoring System Version 2.0",
//!   §3.3 (worked examples CVE-2002-0392, CVE-2003-0818, CVE-2003-0062), and NVD's v2
//!   scores for CVE-2014-0160 and CVE-2021-44228 (nvd.nist.gov/vuln/detail/<id>).
//! - v3.0 / v3.1: FIRST, "CVSS v3.0 Examples" and "CVSS v3.1 Examples"
//!   (first.org/cvss/v3.0/examples, first.org/cvss/v3.1/examples), one line per example.
//! - v4.0: FIRST, "CVSS v4.0 Examples" (first.org/cvss/v4.0/examples), base-only vectors,
//!   as scored by FIRST's calculator (first.org/cvss/calculator/4.0); plus lines from
//!   Red Hat's `vectors_simple4` (github.com/RedHatProductSecurity/cvss, tests/), which
//!   that project generated with the same calculator.

use bulwark_cvss::{Cvss, CvssError, CvssVersion, Severity};

fn assert_scores(table: &[(&str, f64)], version: CvssVersion) {
    let mut failures = Vec::new();
    for &(vector, expected) in table {
        match Cvss::parse(vector) {
            Ok(cvss) => {
                assert_eq!(cvss.version(), version, "{vector}");
                if cvss.base_score() != expected {
                    failures.push(format!("{vector}: {} != {expected}", cvss.base_score()));
                }
            }
            Err(error) => failures.push(format!("{vector}: {error}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cvss_v2_guide_and_nvd_examples() {
    assert_scores(
        &[
            // v2 guide §3.3.1, CVE-2002-0392 (Apache chunked encoding).
            ("AV:N/AC:L/Au:N/C:N/I:N/A:C", 7.8),
            // v2 guide §3.3.2, CVE-2003-0818 (Microsoft ASN.1).
            ("AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0),
            // v2 guide §3.3.3, CVE-2003-0062 (NOD32 buffer overflow).
            ("AV:L/AC:H/Au:N/C:C/I:C/A:C", 6.2),
            // NVD, CVE-2014-0160 (Heartbleed).
            ("AV:N/AC:L/Au:N/C:P/I:N/A:N", 5.0),
            // NVD, CVE-2021-44228 (Log4Shell).
            ("AV:N/AC:M/Au:N/C:C/I:C/A:C", 9.3),
            // Temporal metrics do not change the base score (guide §3.3.1 with E:F/RL:OF/RC:C).
            ("AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C", 7.8),
        ],
        CvssVersion::V2,
    );
}

#[test]
fn cvss_v30_first_examples() {
    assert_scores(
        &[
            // CVE-2013-1937 phpMyAdmin reflected XSS.
            ("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            // CVE-2014-9253 DokuWiki reflected XSS.
            ("CVSS:3.0/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", 5.4),
            // CVE-2012-0384 Cisco IOS command execution, as scored in v3.0.
            ("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8),
        ],
        CvssVersion::V3_0,
    );
}

#[test]
fn cvss_v31_first_examples() {
    assert_scores(
        &[
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4), // CVE-2013-0375
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1), // CVE-2014-3566
            ("CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", 4.2), // CVE-2009-0783
            ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2), // CVE-2012-0384
            ("CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8), // CVE-2015-1098
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5), // CVE-2014-0160
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8), // CVE-2008-1447
            ("CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8), // CVE-2014-2005
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8), // CVE-2010-0467
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:L/A:N", 5.8), // CVE-2012-1342
            ("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H", 9.3), // CVE-2013-6014
            ("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.8), // CVE-2011-1265
            ("CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", 4.6), // CVE-2014-2019
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8), // CVE-2015-0970
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N", 7.4), // CVE-2014-0224
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H", 9.6), // CVE-2012-5376
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N", 6.8), // CVE-2016-0128
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.5), // CVE-2016-2118
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:H/I:H/A:H", 9.0), // CVE-2019-7551
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1), // CVE-2017-5942
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:L", 8.6), // CVE-2016-5558
            ("CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H", 8.2), // CVE-2016-5729
            ("CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:N/I:H/A:H", 6.0), // CVE-2015-2890
            ("CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 7.6), // CVE-2018-3652
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N", 4.2), // CVE-2019-0884
            // Zero impact scores 0.0 (v3.1 specification §7.1: Impact <= 0 gives 0).
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ],
        CvssVersion::V3_1,
    );
}

#[test]
fn cvss_v40_first_examples() {
    assert_scores(
        &[
            // Vectors and scores as the examples document lists them; the CVE is named
            // where the document's entry was identified.
            (
                "CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                7.3,
            ), // CVE-2022-41741
            (
                "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                7.7,
            ), // CVE-2020-3549
            (
                "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N",
                8.3,
            ), // CVE-2023-3089
            (
                "CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
                4.6,
            ), // CVE-2021-44714
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N",
                5.1,
            ), // CVE-2022-24682
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N",
                6.9,
            ), // CVE-2022-22186
            (
                "CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:N/VI:N/VA:N/SC:H/SI:N/SA:N",
                5.9,
            ), // CVE-2023-21989
            (
                "CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
                9.4,
            ), // CVE-2020-3947
            (
                "CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:H/SI:N/SA:H",
                6.4,
            ), // CVE-2013-6014
            (
                "CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
                8.6,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
                7.1,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
                8.2,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:L",
                8.7,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:P/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N",
                5.1,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                7.7,
            ),
            (
                "CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N",
                8.3,
            ),
            (
                "CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                8.5,
            ),
            (
                "CVSS:4.0/AV:P/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                5.4,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
                8.7,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
                6.9,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
            ), // CVE-2021-44228
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:L/SA:N",
                6.9,
            ),
            // Red Hat vectors_simple4, generated with FIRST's calculator.
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:H/VA:L/SC:N/SI:H/SA:L",
                9.2,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:L/VI:N/VA:N/SC:L/SI:N/SA:L",
                5.3,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:N/SA:N",
                2.1,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:P/PR:H/UI:A/VC:N/VI:L/VA:L/SC:L/SI:N/SA:N",
                1.8,
            ),
            (
                "CVSS:4.0/AV:N/AC:H/AT:N/PR:H/UI:A/VC:N/VI:N/VA:N/SC:N/SI:H/SA:N",
                4.0,
            ),
            (
                "CVSS:4.0/AV:N/AC:H/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:L/SA:N",
                9.5,
            ),
        ],
        CvssVersion::V4_0,
    );
}

#[test]
fn v4_threat_metrics_leave_the_base_score_alone() {
    // FIRST's v4.0 example for CVE-2020-3549 scores 5.2 as CVSS-BT with E:U; its base
    // score is the CVSS-B value 7.7 of the same vector without E.
    let with_threat =
        Cvss::parse("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U").unwrap();
    assert_eq!(with_threat.base_score(), 7.7);
}

#[test]
fn severities_follow_the_version_bands() {
    let cases = [
        ("AV:N/AC:L/Au:N/C:C/I:C/A:C", Severity::High), // v2 10.0 is High (NVD bands)
        ("AV:N/AC:L/Au:N/C:P/I:N/A:N", Severity::Medium),
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N",
            Severity::None,
        ),
        (
            "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
            Severity::Low,
        ),
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            Severity::Critical,
        ),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
            Severity::High,
        ),
    ];
    for (vector, expected) in cases {
        assert_eq!(
            Cvss::parse(vector).unwrap().severity(),
            expected,
            "{vector}"
        );
    }
}

#[test]
fn duplicate_metrics_are_refused() {
    let cases = [
        ("AV:N/AV:L/AC:L/Au:N/C:P/I:P/A:P", "AV"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/A:L", "A"),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/SA:H",
            "SA",
        ),
    ];
    for (vector, metric) in cases {
        assert_eq!(
            Cvss::parse(vector).unwrap_err(),
            CvssError::DuplicateMetric { metric },
            "{vector}"
        );
    }
}

#[test]
fn missing_mandatory_metrics_are_refused() {
    let cases = [
        ("AV:N/AC:L/Au:N/C:P/I:P", "A"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H", "S"),
        ("CVSS:3.0/AV:N", "AC"),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N",
            "SA",
        ),
    ];
    for (vector, metric) in cases {
        assert_eq!(
            Cvss::parse(vector).unwrap_err(),
            CvssError::MissingMetric { metric },
            "{vector}"
        );
    }
}

#[test]
fn unknown_values_and_metrics_are_refused() {
    assert!(matches!(
        Cvss::parse("AV:X/AC:L/Au:N/C:P/I:P/A:P").unwrap_err(),
        CvssError::InvalidValue { metric: "AV", .. }
    ));
    assert!(matches!(
        Cvss::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:Q").unwrap_err(),
        CvssError::InvalidValue { metric: "A", .. }
    ));
    assert!(matches!(
        Cvss::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:Z").unwrap_err(),
        CvssError::InvalidValue { metric: "SA", .. }
    ));
    assert!(matches!(
        Cvss::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:H").unwrap_err(),
        CvssError::UnknownMetric { .. }
    ));
}

#[test]
fn malformed_components_are_refused() {
    for vector in [
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H:H",
        "AV:N//AC:L/Au:N/C:P/I:P/A:P",
    ] {
        assert!(
            matches!(
                Cvss::parse(vector).unwrap_err(),
                CvssError::MalformedComponent { .. }
            ),
            "{vector}"
        );
    }
}

#[test]
fn errors_read_well() {
    let error = Cvss::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H").unwrap_err();
    assert_eq!(error.to_string(), "mandatory CVSS metric S is missing");
}
