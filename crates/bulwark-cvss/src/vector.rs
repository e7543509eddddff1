//! A parsed CVSS vector of any supported version, with its base score computed once.
//!
//! Parsing and the scoring equations are RustSec's `cvss` crate, which is checked upstream
//! against Red Hat's exhaustive v4.0 vector sets and here against FIRST's and NVD's
//! published examples. This module adds what Bulwark needs on top: one entry point that
//! picks the version from the prefix and says clearly when the prefix is wrong, the v3
//! mandatory-metric check the wrapped parser does not make, and a v4.0 base score that
//! ignores threat, environmental and supplemental metrics the way v2 and v3 base scores
//! do.

use std::fmt;
use std::str::FromStr;

use crate::{CvssError, Severity};

/// The CVSS versions this crate reads, ordered from oldest to newest so the most recent
/// version present is the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CvssVersion {
    /// CVSS v2.0: vectors carry no prefix (`AV:N/AC:L/Au:N/C:P/I:P/A:P`).
    V2,
    /// CVSS v3.0 (`CVSS:3.0/…`).
    V3_0,
    /// CVSS v3.1 (`CVSS:3.1/…`).
    V3_1,
    /// CVSS v4.0 (`CVSS:4.0/…`).
    V4_0,
}

impl CvssVersion {
    /// The version number as the specification writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CvssVersion::V2 => "2.0",
            CvssVersion::V3_0 => "3.0",
            CvssVersion::V3_1 => "3.1",
            CvssVersion::V4_0 => "4.0",
        }
    }
}

impl fmt::Display for CvssVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CVSS v4.0 base metrics (specification §2); a v4.0 base score uses only these.
const V4_BASE_METRICS: [&str; 11] = [
    "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA",
];

/// A valid CVSS vector and its base score.
///
/// `Display` writes the vector in the specification's metric order; parsing that string
/// again gives an equal vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Cvss {
    vector: cvss::Cvss,
    version: CvssVersion,
    base_score: f64,
}

impl Cvss {
    /// Parses a vector string of CVSS v2, v3.0, v3.1 or v4.0.
    ///
    /// v3.x and v4.0 vectors start with `CVSS:<version>/`; v2 vectors have no prefix and
    /// start with their first base metric, `AV:`. Every base metric of the version must be
    /// present exactly once; temporal, threat, environmental and supplemental metrics are
    /// accepted and checked but do not change [`Cvss::base_score`].
    pub fn parse(input: &str) -> Result<Cvss, CvssError> {
        if input.is_empty() {
            return Err(CvssError::Empty);
        }
        let first = input.split('/').next().unwrap_or(input);
        let (vector, version) = match first.split_once(':') {
            Some(("CVSS", "3.0")) => (cvss::Cvss::CvssV30(parse_v3(input)?), CvssVersion::V3_0),
            Some(("CVSS", "3.1")) => (cvss::Cvss::CvssV31(parse_v3(input)?), CvssVersion::V3_1),
            Some(("CVSS", "4.0")) => (
                cvss::Cvss::CvssV40(cvss::v4::Vector::from_str(input)?),
                CvssVersion::V4_0,
            ),
            Some(("CVSS", version)) => {
                return Err(CvssError::UnsupportedVersion {
                    version: version.to_owned(),
                });
            }
            Some(("AV", _)) => (
                cvss::Cvss::CvssV20(cvss::v2::Vector::from_str(input)?),
                CvssVersion::V2,
            ),
            _ => {
                return Err(CvssError::WrongPrefix {
                    found: first.to_owned(),
                });
            }
        };
        let base_score = match &vector {
            cvss::Cvss::CvssV20(v2) => v2.score().value(),
            cvss::Cvss::CvssV30(v3) | cvss::Cvss::CvssV31(v3) => v3.base_score().value(),
            cvss::Cvss::CvssV40(_) => v4_base_score(input)?,
            // The wrapped enum is open to future versions; the prefix match above only
            // builds the four variants handled here.
            _ => {
                return Err(CvssError::UnsupportedVersion {
                    version: version.as_str().to_owned(),
                });
            }
        };
        Ok(Cvss {
            vector,
            version,
            base_score,
        })
    }

    /// The CVSS version of the vector.
    pub fn version(&self) -> CvssVersion {
        self.version
    }

    /// The base score, 0.0 to 10.0, rounded as the version's specification rounds it.
    ///
    /// For v4.0 this is the CVSS-B score: the vector's threat, environmental and
    /// supplemental metrics are left out, as v2 and v3 base scores leave out temporal and
    /// environmental metrics, so scores of different advisories mean the same thing.
    pub fn base_score(&self) -> f64 {
        self.base_score
    }

    /// The qualitative rating of the base score; see [`Severity::from_score`] for the
    /// bands, including the NVD bands used for v2.
    pub fn severity(&self) -> Severity {
        Severity::from_score(self.version, self.base_score)
    }
}

impl FromStr for Cvss {
    type Err = CvssError;

    fn from_str(input: &str) -> Result<Cvss, CvssError> {
        Cvss::parse(input)
    }
}

impl fmt::Display for Cvss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.vector.fmt(f)
    }
}

/// Parses a v3.x vector and insists on the eight base metrics, which the wrapped parser
/// leaves optional (it would score `CVSS:3.1/AV:N` as if the others were absent).
fn parse_v3(input: &str) -> Result<cvss::v3::Vector, CvssError> {
    let vector = cvss::v3::Vector::from_str(input)?;
    let present = [
        ("AV", vector.av.is_some()),
        ("AC", vector.ac.is_some()),
        ("PR", vector.pr.is_some()),
        ("UI", vector.ui.is_some()),
        ("S", vector.s.is_some()),
        ("C", vector.c.is_some()),
        ("I", vector.i.is_some()),
        ("A", vector.a.is_some()),
    ];
    match present.iter().find(|(_, is_present)| !is_present) {
        Some((metric, _)) => Err(CvssError::MissingMetric { metric }),
        None => Ok(vector),
    }
}

/// Scores the base metrics of an already validated v4.0 vector. The wrapped vector keeps
/// its metrics private, so the base-only vector is rebuilt from the input's components.
fn v4_base_score(input: &str) -> Result<f64, CvssError> {
    let mut base_only = String::from("CVSS:4.0");
    for component in input.split('/').skip(1) {
        let name = component.split(':').next().unwrap_or(component);
        if V4_BASE_METRICS
            .iter()
            .any(|base| base.eq_ignore_ascii_case(name))
        {
            base_only.push('/');
            base_only.push_str(component);
        }
    }
    Ok(cvss::v4::Vector::from_str(&base_only)?.score().value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_version_from_the_prefix() {
        let cases = [
            ("AV:N/AC:L/Au:N/C:P/I:P/A:P", CvssVersion::V2),
            (
                "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                CvssVersion::V3_0,
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                CvssVersion::V3_1,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                CvssVersion::V4_0,
            ),
        ];
        for (vector, version) in cases {
            assert_eq!(Cvss::parse(vector).unwrap().version(), version, "{vector}");
        }
    }

    #[test]
    fn wrong_prefixes_are_named() {
        for (input, found) in [
            ("CVSS3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS3.1"),
            ("cvss:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "cvss:3.1"),
            ("CVSS:3.1", "CVSS:3.1"),
            ("AC:L/AV:N/Au:N/C:P/I:P/A:P", "AC:L"),
            ("garbage", "garbage"),
        ] {
            let error = Cvss::parse(input).unwrap_err();
            match error {
                CvssError::WrongPrefix { found: got } => assert_eq!(got, found, "{input}"),
                // `CVSS:3.1` alone has the right prefix but no metrics at all.
                CvssError::MissingMetric { .. } if input == "CVSS:3.1" => {}
                other => panic!("{input}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn unsupported_versions_are_refused() {
        assert_eq!(
            Cvss::parse("CVSS:5.0/AV:N").unwrap_err(),
            CvssError::UnsupportedVersion {
                version: "5.0".to_owned()
            }
        );
        assert_eq!(
            Cvss::parse("CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P").unwrap_err(),
            CvssError::UnsupportedVersion {
                version: "2.0".to_owned()
            }
        );
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(Cvss::parse("").unwrap_err(), CvssError::Empty);
    }

    #[test]
    fn v4_base_score_ignores_threat_and_environmental_metrics() {
        let base =
            Cvss::parse("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap();
        let with_threat = Cvss::parse(
            "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U/CR:L/MAV:P/S:P",
        )
        .unwrap();
        assert_eq!(base.base_score(), with_threat.base_score());
    }

    #[test]
    fn v3_base_score_ignores_temporal_metrics() {
        let vector =
            Cvss::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:U").unwrap();
        assert_eq!(vector.base_score(), 9.8);
        assert_eq!(vector.severity(), Severity::Critical);
    }
}
