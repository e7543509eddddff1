//! One severity per finding, and where it came from.
//!
//! Order of preference:
//! 1. CVSS vectors (`severity[]` of the affected entry, then of the record), scored by
//!    `bulwark-cvss`; the newest CVSS version present wins (v4.0 over v3.1 over v3.0 over
//!    v2), and among vectors of that version the highest score, so a record that scores
//!    two aspects separately is never reported by the milder one. Vectors that do not
//!    parse are skipped.
//! 2. Ecosystem ratings, first found wins: a `severity[]` entry of type `Ubuntu` (Ubuntu
//!    priority), then `severity` / `urgency` / `priority` in the affected entry's
//!    `ecosystem_specific` and `database_specific`, then in the record's
//!    `database_specific` (GHSA writes `"severity": "MODERATE"` there; Debian tracker
//!    data an `urgency`; Ubuntu a `priority`).
//! 3. Otherwise the severity is unknown.

use bulwark_cvss::{Cvss, CvssVersion, Severity};
use serde_json::Value;

use crate::osv::{Affected, SeverityScore, Vulnerability};

/// The severity Bulwark reports for a finding.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedSeverity {
    /// The rating; `None` when no source gave a usable one.
    pub rating: Option<Severity>,
    /// The CVSS base score, when the rating came from a vector.
    pub score: Option<f64>,
    /// Where the rating came from.
    pub source: SeveritySource,
}

/// The origin of a [`NormalizedSeverity`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeveritySource {
    /// A CVSS vector from the record.
    Cvss {
        /// Its version.
        version: CvssVersion,
        /// The vector as written.
        vector: String,
    },
    /// An ecosystem's or database's own rating word.
    Ecosystem {
        /// Where it was found, e.g. `database_specific.severity`.
        field: String,
        /// The word as written.
        value: String,
    },
    /// Nothing usable.
    Unknown,
}

impl NormalizedSeverity {
    /// The severity of a finding in `affected` of `record`.
    pub fn of(record: &Vulnerability, affected: &Affected) -> NormalizedSeverity {
        best_cvss(affected.severity.iter().chain(&record.severity))
            .or_else(|| ecosystem_rating(record, affected))
            .unwrap_or(NormalizedSeverity {
                rating: None,
                score: None,
                source: SeveritySource::Unknown,
            })
    }
}

fn best_cvss<'a>(scores: impl Iterator<Item = &'a SeverityScore>) -> Option<NormalizedSeverity> {
    let mut best: Option<(Cvss, &str)> = None;
    for entry in scores.filter(|entry| entry.kind.starts_with("CVSS_")) {
        let Ok(cvss) = Cvss::parse(entry.score.trim()) else {
            continue;
        };
        let better = match &best {
            None => true,
            Some((current, _)) => {
                (cvss.version(), cvss.base_score()) > (current.version(), current.base_score())
            }
        };
        if better {
            best = Some((cvss, &entry.score));
        }
    }
    best.map(|(cvss, vector)| NormalizedSeverity {
        rating: Some(cvss.severity()),
        score: Some(cvss.base_score()),
        source: SeveritySource::Cvss {
            version: cvss.version(),
            vector: vector.to_owned(),
        },
    })
}

fn ecosystem_rating(record: &Vulnerability, affected: &Affected) -> Option<NormalizedSeverity> {
    let from = |field: String, value: &str| {
        rating_word(value).map(|rating| NormalizedSeverity {
            rating: Some(rating),
            score: None,
            source: SeveritySource::Ecosystem {
                field,
                value: value.to_owned(),
            },
        })
    };
    for entry in affected.severity.iter().chain(&record.severity) {
        if entry.kind == "Ubuntu"
            && let Some(found) = from("severity[Ubuntu]".to_owned(), &entry.score)
        {
            return Some(found);
        }
    }
    let objects = [
        (
            "affected.ecosystem_specific",
            affected.ecosystem_specific.as_ref(),
        ),
        (
            "affected.database_specific",
            affected.database_specific.as_ref(),
        ),
        ("database_specific", record.database_specific.as_ref()),
    ];
    for (place, object) in objects {
        let Some(Value::Object(map)) = object else {
            continue;
        };
        for key in ["severity", "urgency", "priority"] {
            if let Some(Value::String(value)) = map.get(key)
                && let Some(found) = from(format!("{place}.{key}"), value)
            {
                return Some(found);
            }
        }
    }
    None
}

/// Reads the rating words databases use. GHSA: LOW, MODERATE, HIGH, CRITICAL. Debian
/// urgency: unimportant, low, medium, high (and "not yet assigned", which is no rating).
/// Ubuntu priority: negligible, low, medium, high, critical. Red Hat: low, moderate,
/// important, critical.
fn rating_word(word: &str) -> Option<Severity> {
    // Debian appends `*` to urgencies it inferred (`low*`); the word still holds.
    let word = word.trim().trim_end_matches('*').to_ascii_lowercase();
    Some(match word.as_str() {
        "critical" => Severity::Critical,
        "high" | "important" => Severity::High,
        "moderate" | "medium" => Severity::Medium,
        "low" | "negligible" | "unimportant" => Severity::Low,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_json;

    fn severity_of(json: &str) -> NormalizedSeverity {
        let record = parse_json(json.as_bytes()).unwrap();
        NormalizedSeverity::of(&record, &record.affected[0])
    }

    #[test]
    fn the_newest_cvss_version_wins() {
        let found = severity_of(
            r#"{"id":"T-1","modified":"2024-01-01T00:00:00Z",
                "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
                            {"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"},
                            {"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:C/I:C/A:C"}],
                "affected":[{"package":{"ecosystem":"PyPI","name":"x"}}],
                "database_specific":{"severity":"LOW"}}"#,
        );
        assert_eq!(found.rating, Some(Severity::High));
        assert_eq!(found.score, Some(8.7));
        assert!(matches!(
            found.source,
            SeveritySource::Cvss {
                version: CvssVersion::V4_0,
                ..
            }
        ));
    }

    #[test]
    fn unparseable_vectors_fall_back_to_the_database_rating() {
        let found = severity_of(
            r#"{"id":"T-2","modified":"2024-01-01T00:00:00Z",
                "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N"}],
                "affected":[{"package":{"ecosystem":"Maven","name":"a:b"}}],
                "database_specific":{"severity":"MODERATE"}}"#,
        );
        assert_eq!(found.rating, Some(Severity::Medium));
        assert_eq!(
            found.source,
            SeveritySource::Ecosystem {
                field: "database_specific.severity".into(),
                value: "MODERATE".into()
            }
        );
    }

    #[test]
    fn distribution_priorities_are_read() {
        let debian = severity_of(
            r#"{"id":"T-3","modified":"2024-01-01T00:00:00Z",
                "affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},
                             "ecosystem_specific":{"urgency":"not yet assigned"},
                             "database_specific":{"urgency":"high*"}}]}"#,
        );
        assert_eq!(debian.rating, Some(Severity::High));
        let ubuntu = severity_of(
            r#"{"id":"T-4","modified":"2024-01-01T00:00:00Z",
                "severity":[{"type":"Ubuntu","score":"negligible"}],
                "affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"openssl"}}]}"#,
        );
        assert_eq!(ubuntu.rating, Some(Severity::Low));
    }

    #[test]
    fn no_source_means_unknown() {
        let found = severity_of(
            r#"{"id":"T-5","modified":"2024-01-01T00:00:00Z",
                "affected":[{"package":{"ecosystem":"npm","name":"x"}}]}"#,
        );
        assert_eq!(found.rating, None);
        assert_eq!(found.source, SeveritySource::Unknown);
    }
}
