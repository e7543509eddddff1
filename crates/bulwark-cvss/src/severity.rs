//! The qualitative rating of a score, and which bands each CVSS version uses.

use std::fmt;

use crate::CvssVersion;

/// A qualitative severity rating, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Score 0.0 (v3.x, v4.0 only).
    None,
    /// 0.1–3.9 (v3.x, v4.0); 0.0–3.9 for v2.
    Low,
    /// 4.0–6.9.
    Medium,
    /// 7.0–8.9 (v3.x, v4.0); 7.0–10.0 for v2.
    High,
    /// 9.0–10.0 (v3.x, v4.0 only).
    Critical,
}

impl Severity {
    /// The rating of `score` under the bands of `version`.
    ///
    /// v3.0, v3.1 and v4.0 share FIRST's Qualitative Severity Rating Scale (v3.1
    /// specification §5, v4.0 specification §6). CVSS v2 defines no rating; this uses the
    /// bands the NVD applied to v2 base scores (Low 0.0–3.9, Medium 4.0–6.9, High 7.0–10.0),
    /// so a v2 vector is never `None` or `Critical`.
    pub fn from_score(version: CvssVersion, score: f64) -> Severity {
        match version {
            CvssVersion::V2 => {
                if score < 4.0 {
                    Severity::Low
                } else if score < 7.0 {
                    Severity::Medium
                } else {
                    Severity::High
                }
            }
            CvssVersion::V3_0 | CvssVersion::V3_1 | CvssVersion::V4_0 => {
                if score <= 0.0 {
                    Severity::None
                } else if score < 4.0 {
                    Severity::Low
                } else if score < 7.0 {
                    Severity::Medium
                } else if score < 9.0 {
                    Severity::High
                } else {
                    Severity::Critical
                }
            }
        }
    }

    /// The rating's name in lower case, as advisories and JSON output write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_and_v4_bands_follow_the_specification_table() {
        for version in [CvssVersion::V3_0, CvssVersion::V3_1, CvssVersion::V4_0] {
            let cases = [
                (0.0, Severity::None),
                (0.1, Severity::Low),
                (3.9, Severity::Low),
                (4.0, Severity::Medium),
                (6.9, Severity::Medium),
                (7.0, Severity::High),
                (8.9, Severity::High),
                (9.0, Severity::Critical),
                (10.0, Severity::Critical),
            ];
            for (score, expected) in cases {
                assert_eq!(Severity::from_score(version, score), expected, "{score}");
            }
        }
    }

    #[test]
    fn v2_uses_the_nvd_bands() {
        let cases = [
            (0.0, Severity::Low),
            (3.9, Severity::Low),
            (4.0, Severity::Medium),
            (6.9, Severity::Medium),
            (7.0, Severity::High),
            (10.0, Severity::High),
        ];
        for (score, expected) in cases {
            assert_eq!(Severity::from_score(CvssVersion::V2, score), expected);
        }
    }

    #[test]
    fn ratings_are_ordered_by_severity() {
        assert!(Severity::None < Severity::Low);
        assert!(Severity::High < Severity::Critical);
        assert_eq!(Severity::Critical.to_string(), "critical");
    }
}
