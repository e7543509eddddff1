//! The OSV schema (1.6 and later) as Rust types: Bulwark's native advisory model.
//!
//! The types follow `osv-schema/schema.json` field for field and serialise back to the same
//! JSON, so a record can be stored as received and re-read later. Deserialisation is
//! deliberately lenient where the schema is an enumeration that grows (range types,
//! severity types, reference types) or a format (timestamps): such values are kept as
//! written and judged by [`Vulnerability::validate`], which reports every problem at once
//! instead of failing on the first. Free-form `ecosystem_specific` / `database_specific`
//! objects stay JSON values.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// One OSV record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// The OSV schema version the record claims, e.g. `1.6.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    /// The record's identifier (`GHSA-…`, `PYSEC-…`, `CVE-…`). Empty when absent, which
    /// validation reports.
    #[serde(default)]
    pub id: String,
    /// When the record was last changed; newer replaces older on re-import.
    #[serde(default)]
    pub modified: Timestamp,
    /// When the record was first published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Timestamp>,
    /// When the record was retracted; a withdrawn record never matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<Timestamp>,
    /// Identifiers of the same vulnerability in other databases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Identifiers of related but distinct vulnerabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    /// Identifiers of the upstream records this one was derived from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    /// One-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Long description (CommonMark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Record-wide severity scores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    /// The affected packages and their versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    /// Links to advisories, fixes, reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// People and organisations credited.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credits: Vec<Credit>,
    /// Database-defined extra data (GHSA puts its `severity` here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// One package (or repository) the record affects, with the versions affected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// The package; absent in records that only name a Git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// Severity scores specific to this package.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    /// Affected version ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    /// Explicitly enumerated affected versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Ecosystem-defined extra data (Go symbols, Debian urgency, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<Value>,
    /// Database-defined extra data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// A package as OSV names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// The OSV ecosystem, possibly with a release suffix (`PyPI`, `Debian:12`).
    #[serde(default)]
    pub ecosystem: String,
    /// The package name as the ecosystem writes it.
    #[serde(default)]
    pub name: String,
    /// The package URL, when the database gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// A range of affected versions, as a sequence of events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// How the events' versions are ordered.
    #[serde(rename = "type")]
    pub kind: RangeType,
    /// The repository of a `GIT` range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The events, in any order.
    #[serde(default)]
    pub events: Vec<Event>,
    /// Database-defined extra data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// The ordering a range's event versions are read with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RangeType {
    /// SemVer 2.0 precedence, whatever the ecosystem.
    Semver,
    /// The package ecosystem's own version ordering.
    Ecosystem,
    /// Commit hashes of a Git repository; not comparable without the repository.
    Git,
    /// A type this schema version does not define, kept as written.
    Unknown(String),
}

impl RangeType {
    /// The schema's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            RangeType::Semver => "SEMVER",
            RangeType::Ecosystem => "ECOSYSTEM",
            RangeType::Git => "GIT",
            RangeType::Unknown(other) => other,
        }
    }
}

impl Serialize for RangeType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RangeType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.as_str() {
            "SEMVER" => RangeType::Semver,
            "ECOSYSTEM" => RangeType::Ecosystem,
            "GIT" => RangeType::Git,
            _ => RangeType::Unknown(text),
        })
    }
}

/// One event of a range: an object with exactly one of these keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "EventObject")]
pub enum Event {
    /// The first affected version; `"0"` means "from the beginning".
    Introduced(String),
    /// The first version no longer affected.
    Fixed(String),
    /// The last affected version (no fix known past it).
    LastAffected(String),
    /// An upper bound past which the range says nothing.
    Limit(String),
}

/// An event as written: YAML has no externally tagged enums, so events are read as an
/// object of optional keys and then required to have exactly one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventObject {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

impl TryFrom<EventObject> for Event {
    type Error = &'static str;

    fn try_from(object: EventObject) -> Result<Event, Self::Error> {
        match object {
            EventObject {
                introduced: Some(v),
                fixed: None,
                last_affected: None,
                limit: None,
            } => Ok(Event::Introduced(v)),
            EventObject {
                introduced: None,
                fixed: Some(v),
                last_affected: None,
                limit: None,
            } => Ok(Event::Fixed(v)),
            EventObject {
                introduced: None,
                fixed: None,
                last_affected: Some(v),
                limit: None,
            } => Ok(Event::LastAffected(v)),
            EventObject {
                introduced: None,
                fixed: None,
                last_affected: None,
                limit: Some(v),
            } => Ok(Event::Limit(v)),
            _ => Err("an event has exactly one of introduced, fixed, last_affected, limit"),
        }
    }
}

impl Event {
    /// The event's version string.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// A severity score: a CVSS vector or an ecosystem's own rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityScore {
    /// The scoring system (`CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector or rating, as written.
    pub score: String,
}

/// A reference link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// `ADVISORY`, `WEB`, `FIX`, `PACKAGE`, … (kept as written).
    #[serde(rename = "type")]
    pub kind: String,
    /// The link.
    pub url: String,
}

/// A credited person or organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    /// The name.
    pub name: String,
    /// Contact addresses or URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact: Vec<String>,
    /// `FINDER`, `REPORTER`, … (kept as written).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// An RFC 3339 timestamp as a record writes it.
///
/// The text is kept verbatim (records are re-serialised unchanged) alongside its parsed
/// instant, which is `None` when the text is not RFC 3339; validation reports that.
/// YAML records write these unquoted, which YAML reads as plain strings.
#[derive(Debug, Clone, Default)]
pub struct Timestamp {
    text: String,
    instant: Option<jiff::Timestamp>,
}

impl Timestamp {
    /// Reads `text` as an RFC 3339 timestamp, keeping it even when it is not one.
    pub fn new(text: impl Into<String>) -> Timestamp {
        let text = text.into();
        let instant = text.parse::<jiff::Timestamp>().ok();
        Timestamp { text, instant }
    }

    /// The instant, when the text is a valid RFC 3339 timestamp.
    pub fn instant(&self) -> Option<jiff::Timestamp> {
        self.instant
    }

    /// The timestamp as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Timestamp::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_single_key_objects() {
        let events: Vec<Event> = serde_json::from_str(
            r#"[{"introduced":"0"},{"fixed":"1.2"},{"last_affected":"1.1"},{"limit":"2"}]"#,
        )
        .unwrap();
        assert_eq!(
            events,
            vec![
                Event::Introduced("0".into()),
                Event::Fixed("1.2".into()),
                Event::LastAffected("1.1".into()),
                Event::Limit("2".into()),
            ]
        );
        assert_eq!(
            serde_json::to_string(&events[2]).unwrap(),
            r#"{"last_affected":"1.1"}"#
        );
        assert!(serde_json::from_str::<Event>(r#"{"introduced":"0","fixed":"1"}"#).is_err());
        assert!(serde_json::from_str::<Event>(r#"{"fixd":"1"}"#).is_err());
        assert!(serde_json::from_str::<Event>("{}").is_err());
    }

    #[test]
    fn unknown_range_types_are_kept() {
        let range: Range =
            serde_json::from_str(r#"{"type":"CALVER","events":[{"introduced":"0"}]}"#).unwrap();
        assert_eq!(range.kind, RangeType::Unknown("CALVER".into()));
        assert!(
            serde_json::to_string(&range)
                .unwrap()
                .contains(r#""type":"CALVER""#)
        );
    }

    #[test]
    fn timestamps_keep_their_text_and_parse_when_valid() {
        let good = Timestamp::new("2024-02-16T08:07:52.686694Z");
        assert!(good.instant().is_some());
        assert_eq!(good.as_str(), "2024-02-16T08:07:52.686694Z");
        let bad = Timestamp::new("yesterday");
        assert!(bad.instant().is_none());
        assert_eq!(bad.to_string(), "yesterday");
    }
}
