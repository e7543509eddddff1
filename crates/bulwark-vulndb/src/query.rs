//! Queries: which stored advisories affect one package version, grouped so that records
//! which are aliases of each other (a CVE and its GHSA / PYSEC / RUSTSEC twins) read as one
//! vulnerability.
//!
//! The candidates are the records the store lists under the package's key (ecosystem with
//! normalised release, normalised name); they are parsed into a small [`AdvisoryIndex`] that
//! decides exactly as a full index would. Two findings belong to one vulnerability when
//! their ids are linked through `aliases`, as the records write them or as any other stored
//! record does (a NVD record may list a GHSA that does not list it back).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use bulwark_advisory::{
    AdvisoryIndex, Finding, PackageKey, Purl, QueryError, QueryResult, SeveritySource, parse_json,
};
use bulwark_cvss::Severity;
use serde::Serialize;

use crate::{VulnDb, VulnDbError};

/// The advisories affecting one package version.
#[derive(Debug, Clone, Serialize)]
pub struct QueryReport {
    /// The ecosystem key looked up (`PyPI`, `Debian:12`).
    pub ecosystem: String,
    /// The name as normalised for the ecosystem.
    pub name: String,
    pub version: String,
    /// Vulnerabilities affecting the version, most severe first.
    pub vulnerabilities: Vec<VulnerabilityMatch>,
    /// Records naming the package that could not be evaluated for this version.
    pub undetermined: Vec<UndeterminedMatch>,
}

/// One vulnerability affecting the version: the matching records that are aliases of each
/// other.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct VulnerabilityMatch {
    /// A name for it: its CVE id when one is known, else its first record's id.
    pub id: String,
    /// The stored records that matched.
    pub records: Vec<String>,
    /// Every other id of the same vulnerability.
    pub aliases: Vec<String>,
    /// Related but distinct vulnerabilities the records name.
    pub related: Vec<String>,
    pub summary: Option<String>,
    /// Versions that fix it for the queried version, lowest first; empty when no fix is
    /// known.
    pub fixed: Vec<String>,
    /// When the fix became known (RFC 3339): the earliest publication of a matching record
    /// that names a fixed version. Absent when none says (or none names a fix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_published: Option<String>,
    pub severity: SeverityReport,
}

/// The finding's normalised severity and where it came from.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SeverityReport {
    /// `low`, `medium`, `high`, `critical` (`none` for a CVSS score of 0); absent when no
    /// record gives a usable rating.
    pub rating: Option<String>,
    /// The CVSS base score, when the rating came from a vector.
    pub score: Option<f64>,
    /// The vector or the database field it came from; absent without a rating.
    pub source: Option<String>,
    /// The record that gave it; absent without a rating.
    pub record: Option<String>,
}

/// Versions of one package to look up, named as advisories list it (an ecosystem key, a
/// normalised name).
#[derive(Debug, Clone)]
pub struct PackageVersions {
    pub ecosystem: String,
    pub name: String,
    pub versions: Vec<String>,
}

/// A record that names the package but could not be evaluated for the version.
#[derive(Debug, Clone, Serialize)]
pub struct UndeterminedMatch {
    pub id: String,
    pub reason: String,
}

impl VulnDb {
    /// The advisories affecting `version` of `name` in the OSV ecosystem `ecosystem`
    /// (with release for distributions: `Debian:12`).
    pub async fn query(
        &self,
        ecosystem: &str,
        name: &str,
        version: &str,
    ) -> Result<QueryReport, VulnDbError> {
        let key = PackageKey::new(ecosystem, name);
        let ecosystem_key = key.ecosystem.to_string();
        let mut index = AdvisoryIndex::new();
        for json in self
            .store
            .advisories_for_package(&ecosystem_key, &key.name)
            .await?
        {
            let record =
                parse_json(json.as_bytes()).map_err(|error| VulnDbError::CorruptStoredRecord {
                    id: error.id.clone().unwrap_or_default(),
                    message: error.to_string(),
                })?;
            index.insert(record);
        }
        let result = index.query(ecosystem, name, version);
        let links = self
            .store
            .advisory_alias_links(&linked_ids(&result))
            .await?;
        let (vulnerabilities, undetermined) = group(&result, &links, &key);
        Ok(QueryReport {
            ecosystem: ecosystem_key,
            name: key.name,
            version: version.to_owned(),
            vulnerabilities,
            undetermined,
        })
    }

    /// [`VulnDb::query`] for many versions of many packages: the way a scan or a re-match
    /// asks. The records of them all are read in one go, and the alias links of all their
    /// findings in another; each report is the same as [`VulnDb::query`] gives.
    pub async fn query_packages(
        &self,
        packages: &[PackageVersions],
    ) -> Result<Vec<QueryReport>, VulnDbError> {
        let keys: Vec<PackageKey> = packages
            .iter()
            .map(|p| PackageKey::new(&p.ecosystem, &p.name))
            .collect();
        let names: Vec<(String, String)> = keys
            .iter()
            .map(|k| (k.ecosystem.to_string(), k.name.clone()))
            .collect();
        let stored = self.store.advisories_for_packages(&names).await?;
        let mut index = AdvisoryIndex::new();
        let mut seen = BTreeSet::new();
        for json in stored.values().flatten() {
            let record =
                parse_json(json.as_bytes()).map_err(|error| VulnDbError::CorruptStoredRecord {
                    id: error.id.clone().unwrap_or_default(),
                    message: error.to_string(),
                })?;
            // A record naming several of the packages is listed under each.
            if seen.insert(record.id.clone()) {
                index.insert(record);
            }
        }
        let results: Vec<(usize, &str, QueryResult<'_>)> = packages
            .iter()
            .enumerate()
            .flat_map(|(i, package)| {
                let index = &index;
                package.versions.iter().map(move |version| {
                    (
                        i,
                        version.as_str(),
                        index.query(&package.ecosystem, &package.name, version),
                    )
                })
            })
            .collect();
        let wanted: BTreeSet<String> = results
            .iter()
            .flat_map(|(_, _, result)| linked_ids(result))
            .collect();
        let links = if wanted.is_empty() {
            Vec::new()
        } else {
            self.store
                .advisory_alias_links(&wanted.into_iter().collect::<Vec<_>>())
                .await?
        };
        let mut reports = Vec::with_capacity(results.len());
        for (i, version, result) in &results {
            let key = &keys[*i];
            // Only the links touching this result's ids, as a single query reads them.
            let ids: BTreeSet<String> = linked_ids(result).into_iter().collect();
            let own: Vec<(String, String)> = links
                .iter()
                .filter(|(a, b)| ids.contains(a) || ids.contains(b))
                .cloned()
                .collect();
            let (vulnerabilities, undetermined) = group(result, &own, key);
            reports.push(QueryReport {
                ecosystem: key.ecosystem.to_string(),
                name: key.name.clone(),
                version: (*version).to_owned(),
                vulnerabilities,
                undetermined,
            });
        }
        Ok(reports)
    }

    /// [`VulnDb::query`] for a package URL with a version (`pkg:pypi/django@2.2.0`).
    pub async fn query_purl(&self, purl: &str) -> Result<QueryReport, VulnDbError> {
        let purl = Purl::parse(purl)?;
        let version = purl.version().ok_or(QueryError::MissingVersion)?;
        let (ecosystem, name) = purl
            .to_osv()
            .ok_or_else(|| QueryError::UnsupportedType(purl.ty().to_owned()))?;
        self.query(&ecosystem, &name, version).await
    }
}

/// Every id and alias of the records in `result`, for looking up further alias links.
fn linked_ids(result: &QueryResult<'_>) -> Vec<String> {
    let records = result
        .findings
        .iter()
        .map(|f| f.vulnerability)
        .chain(result.undetermined.iter().map(|u| u.vulnerability));
    let ids: BTreeSet<String> = records
        .flat_map(|record| std::iter::once(&record.id).chain(&record.aliases))
        .cloned()
        .collect();
    ids.into_iter().collect()
}

/// Union-find over ids.
#[derive(Default)]
struct Components {
    index: HashMap<String, usize>,
    parent: Vec<usize>,
}

impl Components {
    fn node(&mut self, id: &str) -> usize {
        if let Some(&node) = self.index.get(id) {
            return node;
        }
        let node = self.parent.len();
        self.parent.push(node);
        self.index.insert(id.to_owned(), node);
        node
    }

    fn find(&mut self, mut node: usize) -> usize {
        while self.parent[node] != node {
            self.parent[node] = self.parent[self.parent[node]];
            node = self.parent[node];
        }
        node
    }

    fn root_of(&mut self, id: &str) -> usize {
        let node = self.node(id);
        self.find(node)
    }

    fn union(&mut self, a: &str, b: &str) {
        let (a, b) = (self.root_of(a), self.root_of(b));
        if a != b {
            self.parent[a.max(b)] = a.min(b);
        }
    }

    fn link_all(&mut self, result: &QueryResult<'_>, links: &[(String, String)]) {
        let records = result
            .findings
            .iter()
            .map(|f| f.vulnerability)
            .chain(result.undetermined.iter().map(|u| u.vulnerability));
        for record in records {
            self.node(&record.id);
            for alias in &record.aliases {
                self.union(&record.id, alias);
            }
        }
        for (id, alias) in links {
            self.union(id, alias);
        }
    }

    /// Every id in the component of `root`.
    fn members(&mut self, root: usize) -> BTreeSet<String> {
        let ids: Vec<String> = self.index.keys().cloned().collect();
        ids.into_iter()
            .filter(|id| self.root_of(id) == root)
            .collect()
    }
}

/// The findings as vulnerabilities (most severe first), and the undetermined records that
/// are not aliases of a reported vulnerability.
fn group(
    result: &QueryResult<'_>,
    links: &[(String, String)],
    key: &PackageKey,
) -> (Vec<VulnerabilityMatch>, Vec<UndeterminedMatch>) {
    let mut components = Components::default();
    components.link_all(result, links);
    let mut groups: Vec<(usize, Vec<&Finding<'_>>)> = Vec::new();
    for finding in &result.findings {
        let root = components.root_of(&finding.vulnerability.id);
        match groups.iter_mut().find(|(r, _)| *r == root) {
            Some((_, findings)) => findings.push(finding),
            None => groups.push((root, vec![finding])),
        }
    }
    let undetermined = result
        .undetermined
        .iter()
        .filter(|u| {
            let root = components.root_of(&u.vulnerability.id);
            !groups.iter().any(|(r, _)| *r == root)
        })
        .map(|u| UndeterminedMatch {
            id: u.vulnerability.id.clone(),
            reason: u.reason.clone(),
        })
        .collect();
    let mut ranked: Vec<(Rank, VulnerabilityMatch)> = groups
        .into_iter()
        .map(|(root, mut findings)| {
            findings.sort_by(|a, b| a.vulnerability.id.cmp(&b.vulnerability.id));
            // Non-empty: a group exists because a finding is in it.
            let strongest = findings
                .iter()
                .copied()
                .reduce(|best, f| if rank(f) > rank(best) { f } else { best })
                .unwrap_or(findings[0]);
            let records: Vec<String> = findings
                .iter()
                .map(|f| f.vulnerability.id.clone())
                .collect();
            let aliases: Vec<String> = components
                .members(root)
                .into_iter()
                .filter(|id| !records.contains(id))
                .collect();
            let related: BTreeSet<String> = findings
                .iter()
                .flat_map(|f| f.vulnerability.related.iter().cloned())
                .collect();
            let mut fixed: Vec<String> = findings
                .iter()
                .flat_map(|f| f.fixed.iter().map(|v| (*v).to_owned()))
                .collect();
            bulwark_version::sort_versions_by(&mut fixed, |a, b| {
                bulwark_version::compare(&key.ecosystem.ecosystem, a, b)
                    .unwrap_or_else(|_| a.cmp(b))
            });
            fixed.dedup();
            let fix_published = findings
                .iter()
                .filter(|f| !f.fixed.is_empty())
                .filter_map(|f| f.vulnerability.published.as_ref()?.instant())
                .min()
                .map(|t| t.to_string());
            let id = records
                .iter()
                .chain(&aliases)
                .find(|id| id.starts_with("CVE-"))
                .unwrap_or(&records[0])
                .clone();
            let found = VulnerabilityMatch {
                id,
                summary: findings
                    .iter()
                    .find_map(|f| f.vulnerability.summary.clone()),
                severity: severity_report(strongest),
                records,
                aliases,
                related: related.into_iter().collect(),
                fixed,
                fix_published,
            };
            (rank(strongest), found)
        })
        .collect();
    ranked.sort_by(|(ra, a), (rb, b)| {
        rb.partial_cmp(ra)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.id.cmp(&b.id))
    });
    (
        ranked.into_iter().map(|(_, found)| found).collect(),
        undetermined,
    )
}

/// How severe a finding is: rating first, then a CVSS score over none, then the score.
type Rank = (Option<Severity>, bool, f64);

fn rank(finding: &Finding<'_>) -> Rank {
    let severity = finding.severity;
    (
        severity.rating,
        severity.score.is_some(),
        severity.score.unwrap_or(0.0),
    )
}

fn severity_report(finding: &Finding<'_>) -> SeverityReport {
    let severity = finding.severity;
    let source = match &severity.source {
        SeveritySource::Cvss { version, vector } => Some(format!("CVSS {version} {vector}")),
        SeveritySource::Ecosystem { field, value } => Some(format!("{field} = {value}")),
        SeveritySource::Unknown => None,
    };
    SeverityReport {
        rating: severity.rating.map(|r| r.to_string()),
        score: severity.score,
        record: source.as_ref().map(|_| finding.vulnerability.id.clone()),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(records: &[&str]) -> AdvisoryIndex {
        records
            .iter()
            .map(|json| parse_json(json.as_bytes()).unwrap())
            .collect()
    }

    #[test]
    fn alias_twins_are_one_vulnerability_with_the_strongest_severity() {
        let index = index(&[
            r#"{"id":"PYSEC-1","modified":"2024-01-01T00:00:00Z","aliases":["CVE-1"],"summary":"s",
                "affected":[{"package":{"ecosystem":"PyPI","name":"x"},
                  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2"}]}]}]}"#,
            r#"{"id":"GHSA-1","modified":"2024-01-01T00:00:00Z","aliases":["CVE-1"],"related":["CVE-7"],
                "database_specific":{"severity":"HIGH"},
                "affected":[{"package":{"ecosystem":"PyPI","name":"x"},
                  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.1"}]}]}]}"#,
            r#"{"id":"OTHER-1","modified":"2024-01-01T00:00:00Z","database_specific":{"severity":"LOW"},
                "affected":[{"package":{"ecosystem":"PyPI","name":"x"},"versions":["1.0"]}]}"#,
            r#"{"id":"OTHER-2","modified":"2024-01-01T00:00:00Z",
                "affected":[{"package":{"ecosystem":"PyPI","name":"x"},
                  "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"not-semver"}]}]}]}"#,
        ]);
        let result = index.query("PyPI", "x", "1.0");
        // A stored record elsewhere links OTHER-2 to OTHER-1: its undetermined twin goes.
        let links = [
            ("NVD-9".to_owned(), "OTHER-1".to_owned()),
            ("NVD-9".to_owned(), "OTHER-2".to_owned()),
        ];
        let (found, undetermined) = group(&result, &links, &PackageKey::new("PyPI", "x"));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].id, "CVE-1");
        assert_eq!(found[0].records, ["GHSA-1", "PYSEC-1"]);
        assert_eq!(found[0].aliases, ["CVE-1"]);
        assert_eq!(found[0].related, ["CVE-7"]);
        assert_eq!(found[0].fixed, ["1.1", "1.2"]);
        assert_eq!(found[0].summary.as_deref(), Some("s"));
        assert_eq!(found[0].severity.rating.as_deref(), Some("high"));
        assert_eq!(found[0].severity.record.as_deref(), Some("GHSA-1"));
        assert_eq!(
            found[0].severity.source.as_deref(),
            Some("database_specific.severity = HIGH")
        );
        assert_eq!(found[1].id, "OTHER-1");
        assert_eq!(found[1].aliases, ["NVD-9", "OTHER-2"]);
        assert!(undetermined.is_empty());

        let (_, undetermined) = group(&result, &[], &PackageKey::new("PyPI", "x"));
        assert_eq!(undetermined.len(), 1);
        assert_eq!(undetermined[0].id, "OTHER-2");
    }
}
