//! Reading one OSV record from bytes and deciding whether it can be used.
//!
//! An importer streams records one at a time: [`parse_json`] or [`parse_yaml`] turns one
//! file's bytes into a checked [`Vulnerability`], or into a [`RecordError`] that carries the
//! record's id (whenever the bytes got far enough to show it) and every problem found, so
//! the importer can report and skip that record and go on with the next.
//!
//! What is refused is what would make matching wrong or impossible; what the schema
//! forbids but matching never reads (a `GIT` event that is an abbreviated hash, as some
//! PyPA records have) is accepted.

use std::fmt;

use serde::Deserialize;
use thiserror::Error;

use crate::osv::{Event, RangeType, Vulnerability};

/// One reason a record cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Problem {
    /// `id` is absent or empty.
    #[error("missing id")]
    MissingId,
    /// `modified` is absent, so a re-import cannot tell which copy is newer.
    #[error("missing modified timestamp")]
    MissingModified,
    /// A timestamp field is not RFC 3339.
    #[error("{field} {value:?} is not an RFC 3339 timestamp")]
    InvalidTimestamp {
        /// `modified`, `published` or `withdrawn`.
        field: &'static str,
        /// The text as written.
        value: String,
    },
    /// A package without an ecosystem or a name cannot be looked up.
    #[error("affected[{affected}]: package has no {missing}")]
    IncompletePackage {
        /// Index in `affected`.
        affected: usize,
        /// `ecosystem` or `name`.
        missing: &'static str,
    },
    /// A range type outside the schema (`SEMVER`, `ECOSYSTEM`, `GIT`).
    #[error("affected[{affected}].ranges[{range}]: unknown range type {kind:?}")]
    UnknownRangeType {
        /// Index in `affected`.
        affected: usize,
        /// Index in `ranges`.
        range: usize,
        /// The type as written.
        kind: String,
    },
    /// The schema requires at least one `introduced` event per range.
    #[error("affected[{affected}].ranges[{range}]: no introduced event")]
    RangeWithoutIntroduced {
        /// Index in `affected`.
        affected: usize,
        /// Index in `ranges`.
        range: usize,
    },
    /// `fixed` and `last_affected` are mutually exclusive in one range.
    #[error("affected[{affected}].ranges[{range}]: both fixed and last_affected events")]
    FixedAndLastAffected {
        /// Index in `affected`.
        affected: usize,
        /// Index in `ranges`.
        range: usize,
    },
    /// A `GIT` range must name its repository.
    #[error("affected[{affected}].ranges[{range}]: GIT range without repo")]
    GitRangeWithoutRepo {
        /// Index in `affected`.
        affected: usize,
        /// Index in `ranges`.
        range: usize,
    },
}

/// Why a record was refused, with its id when the input got far enough to show it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct RecordError {
    /// The record's `id`, if it could be read.
    pub id: Option<String>,
    /// What is wrong.
    pub kind: RecordErrorKind,
}

/// The two ways a record fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordErrorKind {
    /// The bytes are not JSON/YAML of the OSV shape; the parser's message.
    Syntax(String),
    /// The record has the OSV shape but breaks rules matching depends on.
    Invalid(Vec<Problem>),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "record {id}: ")?,
            None => f.write_str("record without readable id: ")?,
        }
        match &self.kind {
            RecordErrorKind::Syntax(message) => f.write_str(message),
            RecordErrorKind::Invalid(problems) => {
                for (i, problem) in problems.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{problem}")?;
                }
                Ok(())
            }
        }
    }
}

/// Only the id, for naming a record whose full shape did not deserialise.
#[derive(Deserialize)]
struct IdOnly {
    id: Option<String>,
}

/// Parses and validates one OSV record in JSON.
pub fn parse_json(bytes: &[u8]) -> Result<Vulnerability, RecordError> {
    match serde_json::from_slice::<Vulnerability>(bytes) {
        Ok(record) => record.checked(),
        Err(error) => Err(RecordError {
            id: serde_json::from_slice::<IdOnly>(bytes)
                .ok()
                .and_then(|only| only.id),
            kind: RecordErrorKind::Syntax(error.to_string()),
        }),
    }
}

/// Parses and validates one OSV record in YAML.
pub fn parse_yaml(bytes: &[u8]) -> Result<Vulnerability, RecordError> {
    match serde_norway::from_slice::<Vulnerability>(bytes) {
        Ok(record) => record.checked(),
        Err(error) => Err(RecordError {
            id: serde_norway::from_slice::<IdOnly>(bytes)
                .ok()
                .and_then(|only| only.id),
            kind: RecordErrorKind::Syntax(error.to_string()),
        }),
    }
}

impl Vulnerability {
    /// Every problem that makes this record unusable for matching; empty when it is fine.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.id.trim().is_empty() {
            problems.push(Problem::MissingId);
        }
        if self.modified.as_str().is_empty() {
            problems.push(Problem::MissingModified);
        } else if self.modified.instant().is_none() {
            problems.push(Problem::InvalidTimestamp {
                field: "modified",
                value: self.modified.to_string(),
            });
        }
        for (field, timestamp) in [
            ("published", &self.published),
            ("withdrawn", &self.withdrawn),
        ] {
            if let Some(timestamp) = timestamp
                && timestamp.instant().is_none()
            {
                problems.push(Problem::InvalidTimestamp {
                    field,
                    value: timestamp.to_string(),
                });
            }
        }
        for (a, affected) in self.affected.iter().enumerate() {
            if let Some(package) = &affected.package {
                if package.ecosystem.is_empty() {
                    problems.push(Problem::IncompletePackage {
                        affected: a,
                        missing: "ecosystem",
                    });
                }
                if package.name.is_empty() {
                    problems.push(Problem::IncompletePackage {
                        affected: a,
                        missing: "name",
                    });
                }
            }
            for (r, range) in affected.ranges.iter().enumerate() {
                if let RangeType::Unknown(kind) = &range.kind {
                    problems.push(Problem::UnknownRangeType {
                        affected: a,
                        range: r,
                        kind: kind.clone(),
                    });
                }
                if range.kind == RangeType::Git && range.repo.is_none() {
                    problems.push(Problem::GitRangeWithoutRepo {
                        affected: a,
                        range: r,
                    });
                }
                let has = |wanted: fn(&Event) -> bool| range.events.iter().any(wanted);
                if !has(|e| matches!(e, Event::Introduced(_))) {
                    problems.push(Problem::RangeWithoutIntroduced {
                        affected: a,
                        range: r,
                    });
                }
                if has(|e| matches!(e, Event::Fixed(_)))
                    && has(|e| matches!(e, Event::LastAffected(_)))
                {
                    problems.push(Problem::FixedAndLastAffected {
                        affected: a,
                        range: r,
                    });
                }
            }
        }
        problems
    }

    /// Whether the record has been retracted.
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }

    fn checked(self) -> Result<Vulnerability, RecordError> {
        let problems = self.validate();
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(RecordError {
                id: (!self.id.is_empty()).then(|| self.id.clone()),
                kind: RecordErrorKind::Invalid(problems),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"id":"TEST-1","modified":"2024-01-01T00:00:00Z"}"#;

    #[test]
    fn a_minimal_record_is_valid() {
        let record = parse_json(MINIMAL.as_bytes()).unwrap();
        assert_eq!(record.id, "TEST-1");
        assert!(!record.is_withdrawn());
    }

    #[test]
    fn every_problem_is_reported_with_the_id() {
        let error = parse_json(
            br#"{"id":"TEST-2","modified":"last tuesday","published":"2024-13-01T00:00:00Z",
                "affected":[{"package":{"ecosystem":"PyPI","name":""},
                  "ranges":[{"type":"ECOSYSTEM","events":[{"fixed":"1.0"},{"last_affected":"0.9"}]},
                            {"type":"CALVER","events":[{"introduced":"0"}]},
                            {"type":"GIT","events":[{"introduced":"0"}]}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(error.id.as_deref(), Some("TEST-2"));
        let RecordErrorKind::Invalid(problems) = &error.kind else {
            panic!("{error}");
        };
        assert_eq!(
            problems,
            &vec![
                Problem::InvalidTimestamp {
                    field: "modified",
                    value: "last tuesday".into()
                },
                Problem::InvalidTimestamp {
                    field: "published",
                    value: "2024-13-01T00:00:00Z".into()
                },
                Problem::IncompletePackage {
                    affected: 0,
                    missing: "name"
                },
                Problem::RangeWithoutIntroduced {
                    affected: 0,
                    range: 0
                },
                Problem::FixedAndLastAffected {
                    affected: 0,
                    range: 0
                },
                Problem::UnknownRangeType {
                    affected: 0,
                    range: 1,
                    kind: "CALVER".into()
                },
                Problem::GitRangeWithoutRepo {
                    affected: 0,
                    range: 2
                },
            ]
        );
        assert!(error.to_string().starts_with("record TEST-2: modified"));
    }

    #[test]
    fn missing_id_and_modified_are_reported() {
        let error = parse_json(br#"{"summary":"nothing"}"#).unwrap_err();
        assert_eq!(error.id, None);
        assert_eq!(
            error.kind,
            RecordErrorKind::Invalid(vec![Problem::MissingId, Problem::MissingModified])
        );
    }

    #[test]
    fn syntax_errors_still_name_the_record_when_possible() {
        let error =
            parse_json(br#"{"id":"TEST-3","modified":"2024-01-01T00:00:00Z","affected":7}"#)
                .unwrap_err();
        assert_eq!(error.id.as_deref(), Some("TEST-3"));
        assert!(matches!(error.kind, RecordErrorKind::Syntax(_)));
        let error = parse_json(b"{not json").unwrap_err();
        assert_eq!(error.id, None);
    }

    #[test]
    fn yaml_records_with_unquoted_timestamps_parse() {
        let record = parse_yaml(
            b"id: PYSEC-0000-1\nmodified: 2023-07-03T20:33:00Z\npublished: 2021-01-01T00:00:00Z\naffected:\n- package:\n    name: Django\n    ecosystem: PyPI\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: \"0\"\n    - fixed: 2.2.1\n",
        )
        .unwrap();
        assert_eq!(record.modified.as_str(), "2023-07-03T20:33:00Z");
        assert!(record.modified.instant().is_some());
        assert_eq!(
            record.affected[0].ranges[0].events[1],
            Event::Fixed("2.2.1".into())
        );
    }

    #[test]
    fn yaml_numbers_are_read_as_written() {
        // Unquoted `1.10` is a YAML float; the version must stay the text "1.10", not a
        // re-rendered 1.1.
        let record = parse_yaml(
            b"id: T-5\nmodified: 2023-07-03T20:33:00Z\naffected:\n- package: {name: x, ecosystem: PyPI}\n  ranges:\n  - type: ECOSYSTEM\n    events: [{introduced: 0}, {fixed: 1.10}]\n  versions: [1.0, 1.2]\n",
        )
        .unwrap();
        let affected = &record.affected[0];
        assert_eq!(affected.ranges[0].events[0], Event::Introduced("0".into()));
        assert_eq!(affected.ranges[0].events[1], Event::Fixed("1.10".into()));
        assert_eq!(affected.versions, ["1.0", "1.2"]);
    }

    #[test]
    fn json_round_trips() {
        let text = r#"{"id":"TEST-4","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"left-pad"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.3.0"}]}]}]}"#;
        let record = parse_json(text.as_bytes()).unwrap();
        assert_eq!(serde_json::to_string(&record).unwrap(), text);
    }
}
