//! An in-memory index of advisories keyed by (ecosystem, normalised package name).
//!
//! Records are inserted one at a time, from an import stream or from storage; each affected
//! package is compiled once (ranges parsed and sorted, explicit versions sorted, severity
//! normalised) so a lookup costs one hash probe, one or two version parses and a walk over
//! that package's entries.
//!
//! Matching follows the OSV evaluation algorithm (see [`crate::range`]) with these rules:
//! - `ECOSYSTEM` ranges use the ecosystem's ordering from `bulwark-version`, `SEMVER`
//!   ranges SemVer 2.0 whatever the ecosystem; `GIT` ranges are never evaluated (commits
//!   cannot be ordered without the repository) and count only through the entry's
//!   explicit `versions` list.
//! - A version is in a `versions` list only when the strings are equal, as the
//!   specification's `IncludedInVersions` says; `2.2` and `2.2.0` are reconciled by
//!   ranges, where the ecosystem's ordering applies.
//! - An ecosystem without known ordering matches only through `versions` (and through a
//!   range that is `introduced: "0"` alone, which needs no ordering).
//! - A version that does not parse, or a range whose events do not, makes that record
//!   [`Undetermined`] for the query rather than affected or not: reported, never guessed.
//! - Withdrawn records never match; a re-inserted id replaces the older copy by `modified`.

use std::cell::OnceCell;
use std::cmp::Ordering;
use std::collections::HashMap;

use bulwark_version::{Ecosystem, Version, VersionError, VersionScheme};
use thiserror::Error;

use crate::osv::{Affected, RangeType, Timestamp, Vulnerability};
use crate::range::{CompiledRange, RangeOutcome};
use crate::severity::NormalizedSeverity;
use bulwark_package::PackageKey;
use bulwark_package::Purl;

/// The advisory index.
#[derive(Debug, Default)]
pub struct AdvisoryIndex {
    records: Vec<IndexedAdvisory>,
    ids: HashMap<String, usize>,
    packages: HashMap<PackageKey, Vec<Entry>>,
}

/// What the index keeps of a record besides its compiled entries: identity, lineage and
/// summary. Details, references, credits and the `*_specific` JSON stay in the record's
/// stored copy; kept here they made an index four times the size of the records' JSON
/// (6.4 KB against 1.5 KB a record for the shared data sample), too much for a whole
/// database in memory.
#[derive(Debug, Clone)]
pub struct IndexedAdvisory {
    pub id: String,
    pub modified: Timestamp,
    pub published: Option<Timestamp>,
    pub withdrawn: Option<Timestamp>,
    pub aliases: Vec<String>,
    pub related: Vec<String>,
    pub summary: Option<String>,
    /// The packages the record's entries are filed under, to unfile them on replacement.
    packages: Vec<PackageKey>,
}

impl IndexedAdvisory {
    /// Whether the record has been retracted.
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }
}

/// One affected entry of one record, compiled for lookups.
#[derive(Debug)]
struct Entry {
    record: usize,
    /// Explicit affected versions, sorted for binary search.
    versions: Vec<Box<str>>,
    ranges: Vec<CompiledRange>,
    severity: NormalizedSeverity,
}

/// What [`AdvisoryIndex::insert`] did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insertion {
    /// A new id.
    Added,
    /// The id was known with an older or equal `modified`; the new copy replaced it.
    Replaced,
    /// The id was known with a newer `modified`; the index kept that copy.
    KeptNewer,
    /// The record is withdrawn: it is kept for reference but matches nothing, and any
    /// earlier copy stopped matching.
    Withdrawn,
}

/// The advisories that apply to one (ecosystem, name, version).
#[derive(Debug, Default)]
pub struct QueryResult<'a> {
    /// Records that affect the version, one per record.
    pub findings: Vec<Finding<'a>>,
    /// Records that could not be evaluated for the version, with the reason.
    pub undetermined: Vec<Undetermined<'a>>,
}

/// A record that affects the queried version.
#[derive(Debug)]
pub struct Finding<'a> {
    /// The advisory.
    pub vulnerability: &'a IndexedAdvisory,
    /// Versions that fix it for the queried version (one per matching range), lowest
    /// first; empty when the advisory names no fix.
    pub fixed: Vec<&'a str>,
    /// The finding's normalised severity.
    pub severity: &'a NormalizedSeverity,
}

/// A record that names the package but whose ranges could not be evaluated.
#[derive(Debug)]
pub struct Undetermined<'a> {
    /// The advisory.
    pub vulnerability: &'a IndexedAdvisory,
    /// Why (an unparseable version, an ecosystem without ordering, …).
    pub reason: String,
}

/// Why a purl could not be queried.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The purl carries no version.
    #[error("the purl has no version")]
    MissingVersion,
    /// The purl's type maps to no OSV ecosystem.
    #[error("purl type {0:?} has no OSV ecosystem")]
    UnsupportedType(String),
}

impl Entry {
    fn compile(
        record: usize,
        key: &PackageKey,
        vulnerability: &Vulnerability,
        affected: &Affected,
    ) -> Entry {
        let ecosystem_scheme = key.ecosystem.ecosystem.scheme();
        let ranges = affected
            .ranges
            .iter()
            .filter_map(|range| match range.kind {
                RangeType::Ecosystem => Some(CompiledRange::new(range, ecosystem_scheme)),
                RangeType::Semver => Some(CompiledRange::new(range, Some(VersionScheme::SemVer))),
                RangeType::Git | RangeType::Unknown(_) => None,
            })
            .collect();
        let mut versions: Vec<Box<str>> = affected
            .versions
            .iter()
            .map(|v| v.as_str().into())
            .collect();
        versions.sort_unstable();
        Entry {
            record,
            versions,
            ranges,
            severity: NormalizedSeverity::of(vulnerability, affected),
        }
    }
}

impl AdvisoryIndex {
    /// An empty index.
    pub fn new() -> AdvisoryIndex {
        AdvisoryIndex::default()
    }

    /// Adds a record (already validated, see [`crate::parse_json`]), replacing an older
    /// copy of the same id.
    pub fn insert(&mut self, record: Vulnerability) -> Insertion {
        let existing = self.ids.get(&record.id).copied();
        if let Some(slot) = existing {
            if self.records[slot].modified.instant() > record.modified.instant() {
                return Insertion::KeptNewer;
            }
            self.unindex(slot);
        }
        let slot = existing.unwrap_or(self.records.len());
        let mut packages = Vec::new();
        if !record.is_withdrawn() {
            for affected in &record.affected {
                let Some(package) = &affected.package else {
                    continue;
                };
                let key = PackageKey::new(&package.ecosystem, &package.name);
                let entry = Entry::compile(slot, &key, &record, affected);
                self.packages.entry(key.clone()).or_default().push(entry);
                if !packages.contains(&key) {
                    packages.push(key);
                }
            }
        }
        let withdrawn = record.is_withdrawn();
        let indexed = IndexedAdvisory {
            id: record.id,
            modified: record.modified,
            published: record.published,
            withdrawn: record.withdrawn,
            aliases: record.aliases,
            related: record.related,
            summary: record.summary,
            packages,
        };
        match existing {
            Some(slot) => self.records[slot] = indexed,
            None => {
                self.ids.insert(indexed.id.clone(), slot);
                self.records.push(indexed);
            }
        }
        match (withdrawn, existing) {
            (true, _) => Insertion::Withdrawn,
            (false, Some(_)) => Insertion::Replaced,
            (false, None) => Insertion::Added,
        }
    }

    fn unindex(&mut self, slot: usize) {
        for key in std::mem::take(&mut self.records[slot].packages) {
            if let Some(entries) = self.packages.get_mut(&key) {
                entries.retain(|entry| entry.record != slot);
                if entries.is_empty() {
                    self.packages.remove(&key);
                }
            }
        }
    }

    /// The number of records held, withdrawn ones included.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the index holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The number of distinct packages with at least one advisory.
    pub fn package_count(&self) -> usize {
        self.packages.len()
    }

    /// A record by id.
    pub fn get(&self, id: &str) -> Option<&IndexedAdvisory> {
        self.ids.get(id).map(|&slot| &self.records[slot])
    }

    /// All records, in insertion order.
    pub fn records(&self) -> impl Iterator<Item = &IndexedAdvisory> {
        self.records.iter()
    }

    /// The advisories affecting `version` of package `name` in the OSV ecosystem
    /// `ecosystem` (with release for distributions: `Debian:12`).
    pub fn query(&self, ecosystem: &str, name: &str, version: &str) -> QueryResult<'_> {
        let key = PackageKey::new(ecosystem, name);
        let Some(entries) = self.packages.get(&key) else {
            return QueryResult::default();
        };
        let ecosystem = &key.ecosystem.ecosystem;
        // The queried version, parsed at most once per scheme and only if some range
        // needs it.
        let for_ecosystem = OnceCell::new();
        let as_semver = OnceCell::new();
        let mut result = QueryResult::default();
        for entry in entries {
            let mut affected = entry
                .versions
                .binary_search_by(|listed| listed.as_ref().cmp(version))
                .is_ok();
            let mut fixed: Option<&str> = None;
            let mut undetermined = None;
            for range in &entry.ranges {
                let cell = if range.scheme() == Some(VersionScheme::SemVer) {
                    &as_semver
                } else {
                    &for_ecosystem
                };
                let parsed = parse_once(cell, range.scheme(), ecosystem, version);
                match range.evaluate(parsed.as_ref().ok()) {
                    RangeOutcome::Affected { fixed: range_fixed } => {
                        affected = true;
                        fixed = fixed.or(range_fixed);
                    }
                    RangeOutcome::NotAffected => {}
                    RangeOutcome::Undetermined(reason) => undetermined = Some(reason.to_owned()),
                    RangeOutcome::UnparseableVersion => {
                        undetermined = parsed.as_ref().err().map(|reason| reason.to_owned());
                    }
                }
            }
            let vulnerability = &self.records[entry.record];
            if affected {
                // A record's entries for one package are contiguous (inserted together),
                // so merging with the last finding is enough.
                match result.findings.last_mut() {
                    Some(last) if std::ptr::eq(last.vulnerability, vulnerability) => {
                        last.fixed.extend(fixed);
                    }
                    _ => result.findings.push(Finding {
                        vulnerability,
                        fixed: fixed.into_iter().collect(),
                        severity: &entry.severity,
                    }),
                }
            } else if let Some(reason) = undetermined {
                result.undetermined.push(Undetermined {
                    vulnerability,
                    reason,
                });
            }
        }
        if !result.undetermined.is_empty() {
            result.undetermined.retain(|undetermined| {
                !result
                    .findings
                    .iter()
                    .any(|finding| std::ptr::eq(finding.vulnerability, undetermined.vulnerability))
            });
        }
        for finding in &mut result.findings {
            if finding.fixed.len() > 1 {
                sort_versions(ecosystem.scheme(), &mut finding.fixed);
            }
        }
        result
    }

    /// [`AdvisoryIndex::query`] for a package URL with a version.
    pub fn query_purl(&self, purl: &Purl) -> Result<QueryResult<'_>, QueryError> {
        let version = purl.version().ok_or(QueryError::MissingVersion)?;
        let (ecosystem, name) = purl
            .to_osv()
            .ok_or_else(|| QueryError::UnsupportedType(purl.ty().to_owned()))?;
        Ok(self.query(&ecosystem, &name, version))
    }
}

/// The version parsed with `scheme`, or why it is not one, computed on first use.
fn parse_once<'c>(
    cell: &'c OnceCell<Result<Version, String>>,
    scheme: Option<VersionScheme>,
    ecosystem: &Ecosystem,
    version: &str,
) -> &'c Result<Version, String> {
    cell.get_or_init(|| match scheme {
        Some(scheme) => Version::parse_scheme(scheme, version)
            .map_err(|reason| format!("{version:?} is not a {scheme} version: {reason}")),
        None => Err(VersionError::NoOrdering(ecosystem.clone()).to_string()),
    })
}

/// Sorts version strings by the scheme's order where they parse (plain text order
/// otherwise) and drops duplicates.
fn sort_versions(scheme: Option<VersionScheme>, versions: &mut Vec<&str>) {
    // Not a total order (parsed and unparsed strings mix): a sort that cannot panic.
    bulwark_version::sort_versions_by(versions, |a, b| {
        let parsed = scheme.map(|scheme| {
            (
                Version::parse_scheme(scheme, a),
                Version::parse_scheme(scheme, b),
            )
        });
        match parsed {
            Some((Ok(a), Ok(b))) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            _ => a.cmp(b),
        }
    });
    versions.dedup();
}

impl FromIterator<Vulnerability> for AdvisoryIndex {
    fn from_iter<I: IntoIterator<Item = Vulnerability>>(records: I) -> AdvisoryIndex {
        let mut index = AdvisoryIndex::new();
        for record in records {
            index.insert(record);
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_json;

    fn record(json: &str) -> Vulnerability {
        parse_json(json.as_bytes()).unwrap()
    }

    fn ids(result: &QueryResult<'_>) -> Vec<String> {
        result
            .findings
            .iter()
            .map(|f| f.vulnerability.id.clone())
            .collect()
    }

    fn django() -> Vulnerability {
        record(
            r#"{"id":"PYSEC-TEST-1","modified":"2024-01-01T00:00:00Z","aliases":["CVE-0000-1"],
                "affected":[{"package":{"ecosystem":"PyPI","name":"Django"},
                  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.2"},{"fixed":"2.2.24"},
                                                          {"introduced":"3.0"},{"fixed":"3.1.12"}]}]}]}"#,
        )
    }

    #[test]
    fn finds_affected_versions_with_their_fix() {
        let index: AdvisoryIndex = [django()].into_iter().collect();
        let result = index.query("PyPI", "django", "2.2.0");
        assert_eq!(ids(&result), ["PYSEC-TEST-1"]);
        assert_eq!(result.findings[0].fixed, ["2.2.24"]);
        assert!(index.query("PyPI", "Django", "2.2.24").findings.is_empty());
        assert_eq!(
            index.query("PyPI", "DJANGO", "3.1").findings[0].fixed,
            ["3.1.12"]
        );
        assert!(index.query("PyPI", "django", "2.1").findings.is_empty());
        assert!(index.query("npm", "django", "2.2.0").findings.is_empty());
    }

    #[test]
    fn newer_copies_replace_older_and_withdrawal_retracts() {
        let mut index = AdvisoryIndex::new();
        assert_eq!(index.insert(django()), Insertion::Added);
        let mut older = django();
        older.modified = crate::osv::Timestamp::new("2020-01-01T00:00:00Z");
        assert_eq!(index.insert(older), Insertion::KeptNewer);
        let mut withdrawn = django();
        withdrawn.modified = crate::osv::Timestamp::new("2025-01-01T00:00:00Z");
        withdrawn.withdrawn = Some(crate::osv::Timestamp::new("2025-01-01T00:00:00Z"));
        assert_eq!(index.insert(withdrawn), Insertion::Withdrawn);
        assert!(index.query("PyPI", "django", "2.2.0").findings.is_empty());
        assert_eq!(index.len(), 1);
        assert!(
            index
                .get("PYSEC-TEST-1")
                .is_some_and(IndexedAdvisory::is_withdrawn)
        );
        let mut back = django();
        back.modified = crate::osv::Timestamp::new("2026-01-01T00:00:00Z");
        assert_eq!(index.insert(back), Insertion::Replaced);
        assert_eq!(
            ids(&index.query("PyPI", "django", "2.2.0")),
            ["PYSEC-TEST-1"]
        );
    }

    #[test]
    fn git_ranges_match_only_through_versions() {
        let index: AdvisoryIndex = [record(
            r#"{"id":"T-GIT","modified":"2024-01-01T00:00:00Z",
                "affected":[{"package":{"ecosystem":"PyPI","name":"x"},
                  "ranges":[{"type":"GIT","repo":"https://example.invalid/x",
                             "events":[{"introduced":"0"},{"fixed":"abc"}]}],
                  "versions":["1.0","1.1"]}]}"#,
        )]
        .into_iter()
        .collect();
        assert_eq!(ids(&index.query("PyPI", "x", "1.1")), ["T-GIT"]);
        let other = index.query("PyPI", "x", "1.2");
        assert!(other.findings.is_empty() && other.undetermined.is_empty());
    }

    #[test]
    fn ecosystems_without_ordering_match_only_listed_versions() {
        let index: AdvisoryIndex = [record(
            r#"{"id":"T-LINUX","modified":"2024-01-01T00:00:00Z",
                "affected":[{"package":{"ecosystem":"Linux","name":"Kernel"},
                  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"6.1"},{"fixed":"6.6"}]}],
                  "versions":["6.1"]}]}"#,
        )]
        .into_iter()
        .collect();
        assert_eq!(ids(&index.query("Linux", "Kernel", "6.1")), ["T-LINUX"]);
        let guess = index.query("Linux", "Kernel", "6.2");
        assert!(guess.findings.is_empty());
        assert_eq!(guess.undetermined.len(), 1);
    }

    #[test]
    fn distribution_records_match_only_their_release() {
        let index: AdvisoryIndex = [record(
            r#"{"id":"DSA-TEST","modified":"2024-01-01T00:00:00Z",
                "affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},
                  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1~deb12u2"}]}]}]}"#,
        )]
        .into_iter()
        .collect();
        assert_eq!(
            ids(&index.query("Debian:12", "openssl", "3.0.11-1~deb12u1")),
            ["DSA-TEST"]
        );
        assert!(
            index
                .query("Debian:12", "openssl", "3.0.11-1~deb12u2")
                .findings
                .is_empty()
        );
        assert!(
            index
                .query("Debian:11", "openssl", "1.1.1")
                .findings
                .is_empty()
        );
        assert!(
            index
                .query("Debian", "openssl", "1.1.1")
                .findings
                .is_empty()
        );
        let purl = Purl::parse("pkg:deb/debian/openssl@3.0.9-1?distro=bookworm").unwrap();
        assert_eq!(ids(&index.query_purl(&purl).unwrap()), ["DSA-TEST"]);
    }

    #[test]
    fn several_affected_entries_and_ranges_merge_into_one_finding() {
        let index: AdvisoryIndex = [record(
            r#"{"id":"T-MULTI","modified":"2024-01-01T00:00:00Z",
                "affected":[{"package":{"ecosystem":"npm","name":"x"},
                             "ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"fixed":"1.5.0"}]}]},
                            {"package":{"ecosystem":"npm","name":"x"},
                             "ranges":[{"type":"SEMVER","events":[{"introduced":"1.2.0"},{"fixed":"1.4.0"}]}]}]}"#,
        )]
        .into_iter()
        .collect();
        let result = index.query("npm", "x", "1.3.0");
        assert_eq!(ids(&result), ["T-MULTI"]);
        assert_eq!(result.findings[0].fixed, ["1.4.0", "1.5.0"]);
    }

    #[test]
    fn unparseable_query_versions_are_undetermined_not_affected() {
        // npm versions are strict SemVer (PyPI would read "latest!" as a legacy version).
        let index: AdvisoryIndex = [record(
            r#"{"id":"T-NPM","modified":"2024-01-01T00:00:00Z",
                "affected":[{"package":{"ecosystem":"npm","name":"x"},
                  "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}"#,
        )]
        .into_iter()
        .collect();
        let result = index.query("npm", "x", "latest!");
        assert!(result.findings.is_empty());
        assert_eq!(result.undetermined.len(), 1);
        assert!(result.undetermined[0].reason.contains("latest!"));
    }

    #[test]
    fn purl_queries_need_a_version_and_a_known_type() {
        let index: AdvisoryIndex = [django()].into_iter().collect();
        let purl = Purl::parse("pkg:pypi/django@2.2.0").unwrap();
        assert_eq!(ids(&index.query_purl(&purl).unwrap()), ["PYSEC-TEST-1"]);
        assert_eq!(
            index
                .query_purl(&Purl::parse("pkg:pypi/django").unwrap())
                .unwrap_err(),
            QueryError::MissingVersion
        );
        assert!(matches!(
            index.query_purl(&Purl::parse("pkg:generic/x@1").unwrap()),
            Err(QueryError::UnsupportedType(_))
        ));
    }
}
