//! What the API answers: records and decisions as JSON documents, times in RFC 3339.

use bulwark_metadata::{ExceptionRecord, PolicyRecord, TrustedKeyRecord, VexRecord};
use bulwark_policy::{Decision, Exception, Policy, Rule, Suppression, Violation};
use serde::{Deserialize, Serialize};

use crate::facts::Gathered;
use crate::{GovernanceError, Result, scope_of};

pub(crate) fn rfc3339(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// `YYYY-MM-DD` (the end of that day, UTC: "expires 2027-01-31" still holds on the 31st)
/// or an RFC 3339 time, as Unix milliseconds.
pub(crate) fn parse_expiry(text: &str) -> Result<i64> {
    let text = text.trim();
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        let end = format!("{date}T23:59:59.999Z");
        return end
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .map_err(|e| GovernanceError::Invalid(format!("expiry {text:?}: {e}")));
    }
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            GovernanceError::Invalid(format!(
                "expiry {text:?} is neither a date (2027-01-31) nor an RFC 3339 time"
            ))
        })
}

/// A policy document and what is in force.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PolicyView {
    /// The project, or `""` for the system-wide policy.
    pub scope: String,
    /// 0: none was ever set (the defaults apply).
    pub version: i64,
    /// As submitted.
    pub document: String,
    /// As read back (canonical TOML).
    pub canonical: String,
    pub author: Option<String>,
    pub created_at: Option<String>,
    /// What is enforced: for a project, the system policy tightened by the project's.
    pub effective: String,
}

impl PolicyView {
    pub(crate) fn new(scope: &str, record: Option<&PolicyRecord>, effective: &Policy) -> Self {
        PolicyView {
            scope: scope.to_owned(),
            version: record.map_or(0, |r| r.version),
            document: record.map(|r| r.document.clone()).unwrap_or_default(),
            canonical: record.map(|r| r.canonical.clone()).unwrap_or_default(),
            author: record.map(|r| r.author.clone()),
            created_at: record.map(|r| rfc3339(r.created_at)),
            effective: effective.to_toml().unwrap_or_default(),
        }
    }
}

/// A key a project trusts.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct KeyView {
    /// `sha256:<hex>` of its SubjectPublicKeyInfo: what policies and reports name it by.
    pub fingerprint: String,
    pub algorithm: String,
    pub name: Option<String>,
    pub pem: String,
    pub added_by: String,
    pub added_at: String,
}

impl From<&TrustedKeyRecord> for KeyView {
    fn from(record: &TrustedKeyRecord) -> Self {
        KeyView {
            fingerprint: record.fingerprint.clone(),
            algorithm: record.algorithm.clone(),
            name: record.name.clone(),
            pem: record.pem.clone(),
            added_by: record.added_by.clone(),
            added_at: rfc3339(record.added_at),
        }
    }
}

/// An exception asked for.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewException {
    /// The project it applies in; absent: every project (system administrators only).
    #[serde(default)]
    pub project: Option<String>,
    /// The vulnerability id (CVE, GHSA, OSV id, or any alias).
    pub vulnerability: String,
    /// Only this package: a name or a package URL (a version in it narrows to that version).
    #[serde(default)]
    pub package: Option<String>,
    /// Only in this repository.
    #[serde(default)]
    pub repository: Option<String>,
    /// Only this artifact (manifest digest).
    #[serde(default)]
    pub digest: Option<String>,
    pub reason: String,
    /// Mandatory: `YYYY-MM-DD` (the end of that day, UTC) or an RFC 3339 time.
    pub expires_at: String,
}

/// A stored exception.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ExceptionView {
    pub id: String,
    /// `null`: system-wide.
    pub project: Option<String>,
    pub vulnerability: String,
    pub package: Option<String>,
    pub repository: Option<String>,
    pub digest: Option<String>,
    pub reason: String,
    pub author: String,
    pub created_at: String,
    pub expires_at: String,
    /// It no longer applies (it stays listed as a record).
    pub expired: bool,
    /// When asked (`?stale=true`): how many stored artifacts' findings it matches.
    pub matches: Option<u64>,
    /// When asked: it matches no current finding.
    pub stale: Option<bool>,
}

impl ExceptionView {
    pub(crate) fn new(record: &ExceptionRecord, now: i64, matches: Option<u64>) -> Self {
        ExceptionView {
            id: record.id.clone(),
            project: record.project.clone(),
            vulnerability: record.vulnerability.clone(),
            package: record.package.clone(),
            repository: record.repository.clone(),
            digest: record.digest.clone(),
            reason: record.reason.clone(),
            author: record.author.clone(),
            created_at: rfc3339(record.created_at),
            expires_at: rfc3339(record.expires_at),
            expired: record.expires_at <= now,
            matches,
            stale: matches.map(|m| m == 0),
        }
    }
}

pub(crate) fn exception_of(record: &ExceptionRecord) -> Exception {
    Exception {
        id: record.id.clone(),
        vulnerability: record.vulnerability.clone(),
        package: record.package.clone(),
        repository: record.repository.clone(),
        digest: record.digest.clone(),
        reason: record.reason.clone(),
        author: record.author.clone(),
        created_ms: record.created_at,
        expires_ms: record.expires_at,
        scope: scope_of(record),
    }
}

/// An uploaded VEX document.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct VexView {
    pub digest: String,
    /// `OpenVEX`, `CycloneDX` or `CSAF`.
    pub format: String,
    pub statements: i64,
    pub uploaded_by: String,
    pub uploaded_at: String,
}

impl From<&VexRecord> for VexView {
    fn from(record: &VexRecord) -> Self {
        VexView {
            digest: record.digest.clone(),
            format: record.format.clone(),
            statements: record.statements,
            uploaded_by: record.uploaded_by.clone(),
            uploaded_at: rfc3339(record.uploaded_at),
        }
    }
}

/// A signature that verified against a trusted key.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SignatureView {
    /// The key's fingerprint.
    pub key: String,
    /// `simple-signing` or `sigstore-bundle`.
    pub format: String,
    /// The digest it signs: the artifact's, or the index's that lists it.
    pub signed_digest: String,
}

impl SignatureView {
    pub(crate) fn of(verified: &bulwark_signature::Verified) -> Self {
        SignatureView {
            key: verified.key_fingerprint.clone(),
            format: verified.format.as_str().to_owned(),
            signed_digest: verified.digest.clone(),
        }
    }
}

/// One rule of the policy, as a dry run explains it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RuleOutcome {
    pub rule: String,
    /// `pass`, `block` or `off`.
    pub outcome: String,
    pub detail: String,
}

/// Where the artifact's scan stands.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScanView {
    pub status: String,
    pub reason: Option<String>,
    pub findings: usize,
    pub secrets: usize,
}

/// A decision with what it was made on: what `bulwark policy check` shows.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Evaluation {
    pub repository: String,
    pub digest: String,
    /// The project whose policy, keys, exceptions and VEX applied.
    pub project: String,
    pub allowed: bool,
    pub policy: Option<String>,
    /// What a refused client is told (`allowed` when nothing fired).
    pub message: String,
    pub rules: Vec<RuleOutcome>,
    #[schemars(with = "Vec<serde_json::Value>")]
    pub violations: Vec<Violation>,
    /// Findings that did not count, each with what suppressed it.
    #[schemars(with = "Vec<serde_json::Value>")]
    pub suppressed: Vec<Suppression>,
    pub signatures: Vec<SignatureView>,
    pub scan: ScanView,
    /// The exceptions in scope of this project that are expired (listed so a person sees
    /// why one no longer applies).
    pub expired_exceptions: Vec<String>,
    #[serde(skip)]
    pub decision: Decision,
}

impl Evaluation {
    pub(crate) fn new(
        policy: &Policy,
        gathered: &Gathered,
        decision: Decision,
        exceptions: &[Exception],
        now: i64,
    ) -> Self {
        let fired = |rule: Rule| decision.violations.iter().find(|v| v.rule == rule);
        let mut rules = Vec::new();
        let mut explain = |rule: Rule, on: bool, what: String| {
            let (outcome, detail) = match (on, fired(rule)) {
                (false, _) => ("off", what),
                (true, Some(violation)) => ("block", violation.message.clone()),
                (true, None) => ("pass", what),
            };
            rules.push(RuleOutcome {
                rule: rule.as_str().to_owned(),
                outcome: outcome.to_owned(),
                detail,
            });
        };
        explain(
            Rule::Malicious,
            policy.blocks_malicious(),
            "no known-malicious package".into(),
        );
        explain(
            Rule::Quarantine,
            policy.quarantines(),
            format!("the scan is {}", gathered.report.status),
        );
        explain(
            Rule::Severity,
            policy.block_severity.is_some(),
            match policy.block_severity {
                Some(threshold) => format!("no counted finding at or above {threshold}"),
                None => "no severity threshold".into(),
            },
        );
        explain(
            Rule::Secrets,
            policy.blocks_secrets(),
            format!("{} leaked secrets found", gathered.report.secrets.len()),
        );
        explain(
            Rule::Signature,
            policy.requires_signature(),
            match gathered.signatures.first() {
                Some(s) => format!("signed by {} ({})", s.key, s.format),
                None => "no signature required".into(),
            },
        );
        explain(
            Rule::MatchAge,
            policy.max_match_age_hours.is_some(),
            match gathered.report.advisories_age_seconds {
                Some(age) => format!("matched against advisory data {}h old", age / 3600),
                None => "no advisory data imported".into(),
            },
        );
        // Expired exceptions that would otherwise cover one of its findings: why a waiver
        // someone remembers no longer helps.
        let now_expired: Vec<String> = exceptions
            .iter()
            .filter(|e| e.in_scope(&gathered.facts.project) && e.is_expired(now))
            .filter(|e| {
                gathered
                    .facts
                    .findings
                    .iter()
                    .any(|f| e.matches(&gathered.facts.repository, &gathered.facts.digest, f))
            })
            .map(|e| e.id.clone())
            .collect();
        let report_ref = format!("{}@{}", gathered.facts.repository, gathered.facts.digest);
        Evaluation {
            repository: gathered.facts.repository.clone(),
            digest: gathered.facts.digest.clone(),
            project: gathered.facts.project.clone(),
            allowed: decision.allowed,
            policy: decision.policy.clone(),
            message: if decision.allowed {
                "allowed".into()
            } else {
                decision.denial_message(&report_ref)
            },
            rules,
            violations: decision.violations.clone(),
            suppressed: decision.suppressed.clone(),
            signatures: gathered.signatures.clone(),
            scan: ScanView {
                status: gathered.report.status.clone(),
                reason: gathered.report.reason.clone(),
                findings: gathered.report.findings.len(),
                secrets: gathered.report.secrets.len(),
            },
            expired_exceptions: now_expired,
            decision,
        }
    }
}
