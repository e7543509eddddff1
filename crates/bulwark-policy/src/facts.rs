//! What the registry knows about one artifact when it asks for a decision: scan state,
//! vulnerability findings, secrets, verified signatures and when the advisory match ran.
//!
//! Facts are gathered by other crates (the scanner, the signature verifier, the metadata
//! store) and handed in whole; nothing here looks anything up. They are plain data so a
//! caller can store them next to the decision they produced.

use std::fmt;

use bulwark_package::{PackageKey, Purl};
use serde::{Deserialize, Serialize};

/// How bad a finding is, least to worst, so `>=` filters work.
///
/// `Unknown` sorts below `Low` and never blocks through a severity threshold alone: an
/// advisory without any usable rating (no CVSS vector, no ecosystem word) says nothing
/// about impact, and blocking on "we don't know" would block a large share of distribution
/// advisories. Unknown findings can still block through the malicious rule, and are always
/// listed in reports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Unknown,
    Low,
    /// GHSA writes this rating `MODERATE`.
    #[serde(alias = "moderate")]
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The lowercase name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Reads a rating word the way the scanner writes it, in any case. `none` (CVSS 0.0)
    /// and anything unrecognised are `Unknown`: neither should block by severity.
    pub fn from_rating(rating: &str) -> Severity {
        match rating.trim().to_ascii_lowercase().as_str() {
            "low" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" | "important" => Severity::High,
            "critical" => Severity::Critical,
            _ => Severity::Unknown,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the artifact's scan stands. Only `Done` means the findings are complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ScanState {
    /// No scan has been asked for (the caller should enqueue one and decide again).
    NotScanned,
    /// A scan is queued.
    Pending,
    /// A scan is in progress.
    Running,
    /// The last scan failed; its findings, if any, are not to be trusted as complete.
    Failed { reason: String },
    /// The scan finished; `findings` and `secrets` are complete.
    Done,
}

/// One vulnerability (or malicious-package advisory) affecting one package in the artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The advisory id (`CVE-…`, `GHSA-…`, `MAL-…`).
    pub id: String,
    /// Other ids of the same advisory; exceptions and VEX statements match any of them.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The OSV ecosystem (`Debian:12`, `npm`, …).
    pub ecosystem: String,
    pub package: String,
    pub version: String,
    /// The package's purl, when the inventory knew it; otherwise one is derived from the
    /// ecosystem and name for VEX and exception matching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    pub severity: Severity,
    /// Versions that fix it; empty when no fix exists.
    #[serde(default)]
    pub fixed: Vec<String>,
    /// When the fix was published (Unix ms), when the advisory data says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_published_ms: Option<i64>,
    /// The advisory reports a malicious package (OSV `MAL-*`).
    #[serde(default)]
    pub malicious: bool,
}

impl Finding {
    /// Known-malicious: flagged so, or an OSV `MAL-` id among its names (the flag is the
    /// scanner's job, the id check makes a forgotten flag fail closed).
    pub fn is_malicious(&self) -> bool {
        self.malicious
            || std::iter::once(&self.id)
                .chain(&self.aliases)
                .any(|id| id.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("MAL-")))
    }

    /// A fixed version exists.
    pub fn has_fix(&self) -> bool {
        !self.fixed.is_empty()
    }

    /// `id` is this finding's id or one of its aliases (ASCII case-insensitive: advisory
    /// databases disagree on the case of the same id).
    pub fn is_known_as(&self, id: &str) -> bool {
        std::iter::once(&self.id)
            .chain(&self.aliases)
            .any(|name| name.eq_ignore_ascii_case(id.trim()))
    }

    /// The package's purl: the one given, or one built from the OSV ecosystem and name
    /// with the finding's version.
    pub(crate) fn package_purl(&self) -> Option<Purl> {
        self.purl
            .as_deref()
            .and_then(|purl| Purl::parse(purl).ok())
            .or_else(|| {
                Purl::from_osv(&self.ecosystem, &self.package)
                    .map(|purl| purl.with_version(&self.version))
            })
    }
}

/// A leaked secret found in the artifact (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFact {
    /// The detector rule that matched.
    pub rule: String,
    /// Path of the file in the artifact.
    pub path: String,
    pub severity: Severity,
}

/// A signature another crate has already verified against the artifact digest. This crate
/// only checks that one from a trusted key is present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedSignature {
    /// Key id or fingerprint, compared exactly with the policy's `trusted_keys`.
    pub key: String,
    /// Signature format (`cosign`, `notation`, …), for reports.
    pub format: String,
    /// When it was made (Unix ms), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// Everything a decision is about. `project` is what project-scoped exceptions are
/// compared against; `repository` and `digest` what exceptions and VEX products name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactFacts {
    /// The project owning the repository (the scope of project exceptions).
    pub project: String,
    /// Repository name, e.g. `team/app`.
    pub repository: String,
    /// Manifest digest, `sha256:…`.
    pub digest: String,
    pub scan: ScanState,
    #[serde(default)]
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub secrets: Vec<SecretFact>,
    #[serde(default)]
    pub signatures: Vec<VerifiedSignature>,
    /// When the findings were last matched against advisory data (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_at_ms: Option<i64>,
}

/// `wanted` (from a VEX product or an exception) names the package `have` is: same type,
/// namespace and name, compared the way the package's registry compares names where the
/// purl maps to an OSV ecosystem (PyPI's PEP 503, crates.io's `-`/`_`, …), exactly
/// otherwise; and, when `wanted` has a version, the same version. Qualifiers (`arch`,
/// `distro`) are not compared: VEX producers rarely write them the way scanners do.
pub(crate) fn same_package(wanted: &Purl, have: &Purl, have_version: &str) -> bool {
    if wanted.ty() != have.ty() {
        return false;
    }
    let same_name = match (wanted.to_osv(), have.to_osv()) {
        (Some((wanted_ecosystem, wanted_name)), Some((have_ecosystem, have_name))) => {
            let wanted = PackageKey::new(&wanted_ecosystem, &wanted_name);
            let have = PackageKey::new(&have_ecosystem, &have_name);
            wanted.ecosystem.ecosystem == have.ecosystem.ecosystem && wanted.name == have.name
        }
        _ => wanted.namespace() == have.namespace() && wanted.name() == have.name(),
    };
    same_name
        && wanted
            .version()
            .is_none_or(|version| version == have.version().unwrap_or(have_version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str) -> Finding {
        Finding {
            id: id.to_owned(),
            aliases: vec![],
            ecosystem: "PyPI".to_owned(),
            package: "Django".to_owned(),
            version: "4.2.0".to_owned(),
            purl: None,
            severity: Severity::High,
            fixed: vec![],
            fix_published_ms: None,
            malicious: false,
        }
    }

    #[test]
    fn severity_orders_unknown_lowest_and_reads_rating_words() {
        assert!(Severity::Unknown < Severity::Low);
        assert!(Severity::Low < Severity::Medium);
        assert!(Severity::High < Severity::Critical);
        assert_eq!(Severity::from_rating("MODERATE"), Severity::Medium);
        assert_eq!(Severity::from_rating("none"), Severity::Unknown);
        assert_eq!(Severity::from_rating("Critical"), Severity::Critical);
        let parsed: Severity = serde_json::from_str("\"moderate\"").unwrap();
        assert_eq!(parsed, Severity::Medium);
    }

    #[test]
    fn malicious_by_flag_or_by_mal_id() {
        assert!(!finding("CVE-2024-1").is_malicious());
        assert!(finding("MAL-2024-1234").is_malicious());
        let mut aliased = finding("GHSA-xxxx-yyyy-zzzz");
        aliased.aliases.push("mal-2024-9".to_owned());
        assert!(aliased.is_malicious());
        let mut flagged = finding("GHSA-xxxx-yyyy-zzzz");
        flagged.malicious = true;
        assert!(flagged.is_malicious());
    }

    #[test]
    fn known_as_compares_ids_and_aliases_without_case() {
        let mut f = finding("GHSA-jfh8-c2jp-5v3q");
        f.aliases.push("CVE-2021-44228".to_owned());
        assert!(f.is_known_as("ghsa-JFH8-c2jp-5v3q"));
        assert!(f.is_known_as("cve-2021-44228"));
        assert!(!f.is_known_as("CVE-2021-45046"));
    }

    #[test]
    fn package_purl_falls_back_to_the_osv_name() {
        let purl = finding("CVE-1").package_purl().unwrap();
        assert_eq!(purl.to_string(), "pkg:pypi/Django@4.2.0");
    }

    #[test]
    fn same_package_normalises_names_where_the_registry_does() {
        let have = Purl::parse("pkg:pypi/Django@4.2.0").unwrap();
        assert!(same_package(
            &Purl::parse("pkg:pypi/django").unwrap(),
            &have,
            "4.2.0"
        ));
        assert!(same_package(
            &Purl::parse("pkg:pypi/django@4.2.0").unwrap(),
            &have,
            "4.2.0"
        ));
        assert!(!same_package(
            &Purl::parse("pkg:pypi/django@4.1").unwrap(),
            &have,
            "4.2.0"
        ));
        assert!(!same_package(
            &Purl::parse("pkg:npm/django").unwrap(),
            &have,
            "4.2.0"
        ));
        let deb = Purl::parse("pkg:deb/debian/openssl@3.0.11-1?distro=debian-12").unwrap();
        assert!(same_package(
            &Purl::parse("pkg:deb/debian/openssl").unwrap(),
            &deb,
            "x"
        ));
        assert!(!same_package(
            &Purl::parse("pkg:deb/ubuntu/openssl").unwrap(),
            &deb,
            "x"
        ));
        let generic = Purl::parse("pkg:generic/Thing@1").unwrap();
        assert!(!same_package(
            &Purl::parse("pkg:generic/thing").unwrap(),
            &generic,
            "1"
        ));
    }
}
