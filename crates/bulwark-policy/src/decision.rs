//! The decision: facts × effective policy × exceptions × VEX × time → allow or deny, with
//! every reason spelled out.
//!
//! Order of work in [`decide`]:
//! 1. Each finding is checked for a suppression: an applicable exception (the one that
//!    expires last, if several), else the VEX verdict (see [`crate::vex`]). A
//!    known-malicious finding can only be suppressed by a system-scoped exception: VEX
//!    documents come from the artifact's producer, who is the suspect, and project
//!    exceptions would let a project switch off what only the system may switch off.
//!    Suppressed findings go to [`Decision::suppressed`] and count toward no rule.
//! 2. The rules run on the remaining findings, in a fixed order: `malicious`,
//!    `quarantine`, `severity`, `secrets`, `signature`, `match-age`. Each that fires adds
//!    one [`Violation`]; the artifact is allowed when none fires.
//!
//! Time enters only through `now_ms`, and [`Decision::valid_until_ms`] says when the same
//! inputs could decide differently (an exception expiring, a fix ageing past
//! `fix_older_than_days`, the advisory match going stale), so a cached decision can be
//! dropped on time; see [`DecisionKey`] for what else a cache must key on.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::exceptions::{Exception, Scope};
use crate::facts::{ArtifactFacts, Finding, ScanState, SecretFact, Severity};
use crate::glob::glob_match;
use crate::policy::Policy;
use crate::vex::VexStatement;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// How many findings a violation's message names before "and N more".
const MESSAGE_FINDINGS: usize = 5;

/// The rules, by their stable names (used in messages, JSON and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    Malicious,
    Quarantine,
    Severity,
    Secrets,
    Signature,
    MatchAge,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Malicious => "malicious",
            Rule::Quarantine => "quarantine",
            Rule::Severity => "severity",
            Rule::Secrets => "secrets",
            Rule::Signature => "signature",
            Rule::MatchAge => "match-age",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A finding as a violation reports it: enough to explain the denial without the facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRef {
    /// Index in [`ArtifactFacts::findings`].
    pub index: usize,
    pub id: String,
    pub package: String,
    pub version: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed: Vec<String>,
}

/// One rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: Rule,
    /// The full explanation: `policy "<name>" rule "<rule>": …`.
    pub message: String,
    /// The short form [`Decision::denial_message`] joins.
    pub summary: String,
    /// The findings that made it fire, most severe first, then by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingRef>,
}

/// Why a finding does not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SuppressedBy {
    Exception {
        id: String,
        author: String,
        reason: String,
        expires_ms: i64,
    },
    Vex {
        source: String,
        /// `not_affected` or `fixed`.
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        justification: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        impact: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp_ms: Option<i64>,
    },
}

/// A finding that was suppressed, and by what. Never dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// Index in [`ArtifactFacts::findings`].
    pub index: usize,
    /// The finding's id.
    pub finding: String,
    pub package: String,
    pub version: String,
    pub by: SuppressedBy,
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// No rule fired.
    pub allowed: bool,
    /// The only reason to refuse is a scan that is queued or running: the caller may wait
    /// up to [`Policy::quarantine_wait_ms()`] for it and decide again with the new facts
    /// (this crate never waits).
    pub wait_for_scan: bool,
    /// The policy's name, for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub violations: Vec<Violation>,
    pub suppressed: Vec<Suppression>,
    /// The first instant at which the same inputs may decide differently; `None` when
    /// time cannot change this decision. A decision made on an incomplete scan is valid
    /// only at `now_ms` itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until_ms: Option<i64>,
}

impl Decision {
    /// One line for a client refused by the decision, e.g.
    /// `policy "no-critical": CVE-2024-3094 (critical, xz-utils 5.6.0-0.2, fixed in
    /// 5.6.1+really5.4.5-1) and 3 more — see bulwark report team/app@sha256:…`.
    /// Each violation contributes its summary, joined with `; `.
    pub fn denial_message(&self, report_ref: &str) -> String {
        let head = match &self.policy {
            Some(name) => format!("policy \"{name}\""),
            None => "policy".to_owned(),
        };
        let body = if self.violations.is_empty() {
            "allowed".to_owned()
        } else {
            self.violations
                .iter()
                .map(|violation| violation.summary.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let message = format!("{head}: {body} — see bulwark report {report_ref}");
        // Paths, package names and scan failure reasons come from the artifact: a newline
        // or an escape sequence must not reach the puller's terminal or log as such.
        let mut safe: String = message
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .take(MAX_DENIAL_CHARS)
            .collect();
        if message.chars().count() > MAX_DENIAL_CHARS {
            safe.push('…');
        }
        safe
    }
}

/// A denial message is cut at this many characters (clients show it on one line).
const MAX_DENIAL_CHARS: usize = 1_000;

/// Decides on `facts` under `policy` (already [`Policy::effective`]) at `now_ms`.
/// `exceptions` may hold any exceptions (scope and expiry are checked here); `vex` the
/// statements of every VEX document that applies to the artifact.
pub fn decide(
    facts: &ArtifactFacts,
    policy: &Policy,
    exceptions: &[Exception],
    vex: &[VexStatement],
    now_ms: i64,
) -> Decision {
    let mut horizon = Horizon::default();
    if facts.scan != ScanState::Done {
        horizon.at(now_ms);
    }
    let vex = VexIndex::new(vex);
    let mut suppressed = Vec::new();
    let mut active: Vec<(usize, &Finding)> = Vec::new();
    for (index, finding) in facts.findings.iter().enumerate() {
        match suppression(facts, finding, exceptions, &vex, now_ms) {
            Some(by) => {
                if let SuppressedBy::Exception { expires_ms, .. } = &by {
                    horizon.at(*expires_ms);
                }
                suppressed.push(Suppression {
                    index,
                    finding: finding.id.clone(),
                    package: finding.package.clone(),
                    version: finding.version.clone(),
                    by,
                });
            }
            None => active.push((index, finding)),
        }
    }

    let prefix = match &policy.name {
        Some(name) => format!("policy \"{name}\" rule"),
        None => "rule".to_owned(),
    };
    let mut violations = Vec::new();
    let mut waiting = false;

    if policy.blocks_malicious() {
        let hits: Vec<FindingRef> = active
            .iter()
            .filter(|(_, finding)| finding.is_malicious())
            .map(|&(index, finding)| finding_ref(index, finding))
            .collect();
        if !hits.is_empty() {
            violations.push(findings_violation(
                &prefix,
                Rule::Malicious,
                "known-malicious packages",
                hits,
            ));
        }
    }

    if policy.quarantines() {
        let blocked = match &facts.scan {
            ScanState::Done => None,
            ScanState::Pending => Some(("the scan is pending".to_owned(), true)),
            ScanState::Running => Some(("the scan is still running".to_owned(), true)),
            ScanState::NotScanned => Some(("the artifact has not been scanned".to_owned(), false)),
            ScanState::Failed { reason } => Some((format!("the scan failed: {reason}"), false)),
        };
        if let Some((summary, wait)) = blocked {
            waiting = wait;
            violations.push(simple_violation(
                &prefix,
                Rule::Quarantine,
                format!("{summary}; artifacts are refused until a scan completes"),
                summary,
            ));
        }
    }

    if let Some(threshold) = policy.block_severity {
        let days = policy.fix_older_than_days;
        let only_fixable = policy.only_fixable.unwrap_or(false) || days.is_some();
        let mut hits = Vec::new();
        for &(index, finding) in &active {
            if finding.severity == Severity::Unknown || finding.severity < threshold {
                continue;
            }
            if only_fixable && !finding.has_fix() {
                continue;
            }
            // A fix of unknown publication date counts as old enough.
            if let (Some(days), Some(published)) = (days, finding.fix_published_ms) {
                let ripe_at = published.saturating_add(i64::from(days).saturating_mul(DAY_MS));
                if now_ms < ripe_at {
                    horizon.at(ripe_at);
                    continue;
                }
            }
            hits.push(finding_ref(index, finding));
        }
        if !hits.is_empty() {
            let mut what = format!("findings at or above {threshold}");
            if let Some(days) = days {
                what.push_str(&format!(" with a fix published at least {days} days ago"));
            } else if only_fixable {
                what.push_str(" with a fix available");
            }
            violations.push(findings_violation(&prefix, Rule::Severity, &what, hits));
        }
    }

    if policy.blocks_secrets() {
        let mut hits: Vec<&SecretFact> = facts
            .secrets
            .iter()
            .filter(|secret| {
                policy
                    .secret_severity
                    .is_none_or(|minimum| secret.severity >= minimum)
            })
            .collect();
        if !hits.is_empty() {
            hits.sort_by(|a, b| {
                b.severity
                    .cmp(&a.severity)
                    .then_with(|| a.rule.cmp(&b.rule))
                    .then_with(|| a.path.cmp(&b.path))
            });
            let named: Vec<String> = hits
                .iter()
                .map(|secret| format!("{} in {}", secret.rule, secret.path))
                .collect();
            let count = hits.len();
            let noun = if count == 1 { "secret" } else { "secrets" };
            let qualifier = match policy.secret_severity {
                Some(minimum) => format!(" at or above {minimum}"),
                None => String::new(),
            };
            violations.push(simple_violation(
                &prefix,
                Rule::Secrets,
                format!(
                    "{count} leaked {noun}{qualifier}: {}",
                    list(&named, MESSAGE_FINDINGS)
                ),
                format!("{count} leaked {noun} ({})", list(&named, 1)),
            ));
        }
    }

    if policy.requires_signature() {
        let trusted = |key: &str| {
            policy
                .trusted_keys
                .as_ref()
                .is_none_or(|keys| keys.iter().any(|candidate| candidate == key))
        };
        if !facts
            .signatures
            .iter()
            .any(|signature| trusted(signature.key.as_str()))
        {
            let detail = if facts.signatures.is_empty() {
                "the artifact has no verified signature".to_owned()
            } else if policy.trusted_keys.as_ref().is_some_and(Vec::is_empty) {
                "no signing key is trusted (trusted_keys is empty; when a project and the system both list keys, only keys on both lists are trusted)".to_owned()
            } else {
                let keys: Vec<String> = facts
                    .signatures
                    .iter()
                    .map(|signature| signature.key.clone())
                    .collect();
                format!(
                    "no signature is from a trusted key (signed by {})",
                    list(&keys, MESSAGE_FINDINGS)
                )
            };
            violations.push(simple_violation(
                &prefix,
                Rule::Signature,
                detail,
                "no signature from a trusted key".to_owned(),
            ));
        }
    }

    if let Some(max_hours) = policy.max_match_age_hours {
        let max_ms = i64::from(max_hours).saturating_mul(HOUR_MS);
        match facts.matched_at_ms {
            None => violations.push(simple_violation(
                &prefix,
                Rule::MatchAge,
                "the artifact was never matched against advisory data".to_owned(),
                "never matched against advisory data".to_owned(),
            )),
            Some(matched_at) => {
                let stale_at = matched_at.saturating_add(max_ms);
                if now_ms > stale_at {
                    let hours = now_ms.saturating_sub(matched_at) / HOUR_MS;
                    violations.push(simple_violation(
                        &prefix,
                        Rule::MatchAge,
                        format!(
                            "the last match against advisory data is {hours} hours old (at most {max_hours} allowed)"
                        ),
                        format!("advisory match {hours} h old (max {max_hours} h)"),
                    ));
                } else {
                    horizon.at(stale_at.saturating_add(1));
                }
            }
        }
    }

    let wait_for_scan = waiting && violations.len() == 1;
    Decision {
        allowed: violations.is_empty(),
        wait_for_scan,
        policy: policy.name.clone(),
        violations,
        suppressed,
        valid_until_ms: horizon.0,
    }
}

/// The earliest instant seen.
#[derive(Default)]
struct Horizon(Option<i64>);

impl Horizon {
    fn at(&mut self, instant: i64) {
        self.0 = Some(self.0.map_or(instant, |current| current.min(instant)));
    }
}

/// The VEX statements by (upper-cased) vulnerability id and alias, so each finding looks
/// at the statements about it only.
struct VexIndex<'v> {
    statements: &'v [VexStatement],
    by_id: HashMap<String, Vec<usize>>,
}

impl<'v> VexIndex<'v> {
    fn new(statements: &'v [VexStatement]) -> VexIndex<'v> {
        let mut by_id: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, statement) in statements.iter().enumerate() {
            for id in std::iter::once(&statement.vulnerability).chain(&statement.aliases) {
                by_id
                    .entry(id.trim().to_ascii_uppercase())
                    .or_default()
                    .push(index);
            }
        }
        VexIndex { statements, by_id }
    }

    /// The statement that decides `finding`: the latest of those that apply; on a tie, one
    /// that does not suppress.
    fn verdict(&self, facts: &ArtifactFacts, finding: &Finding) -> Option<&'v VexStatement> {
        let mut candidates: Vec<usize> = std::iter::once(&finding.id)
            .chain(&finding.aliases)
            .filter_map(|id| self.by_id.get(&id.trim().to_ascii_uppercase()))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .filter_map(|index| self.statements.get(index))
            .filter(|statement| statement.applies_to(facts, finding))
            .max_by_key(|statement| {
                (
                    statement.timestamp_ms.unwrap_or(i64::MIN),
                    !statement.status.suppresses(),
                )
            })
    }
}

fn suppression(
    facts: &ArtifactFacts,
    finding: &Finding,
    exceptions: &[Exception],
    vex: &VexIndex<'_>,
    now_ms: i64,
) -> Option<SuppressedBy> {
    let malicious = finding.is_malicious();
    let exception = exceptions
        .iter()
        .filter(|exception| !malicious || exception.scope == Scope::System)
        .filter(|exception| exception.applies(facts, finding, now_ms))
        .max_by_key(|exception| exception.expires_ms);
    if let Some(exception) = exception {
        return Some(SuppressedBy::Exception {
            id: exception.id.clone(),
            author: exception.author.clone(),
            reason: exception.reason.clone(),
            expires_ms: exception.expires_ms,
        });
    }
    if malicious {
        return None;
    }
    let statement = vex.verdict(facts, finding)?;
    let (justification, impact) = match &statement.status {
        crate::vex::VexStatus::NotAffected {
            justification,
            impact,
        } => (justification.clone(), impact.clone()),
        crate::vex::VexStatus::Fixed => (None, None),
        crate::vex::VexStatus::Affected | crate::vex::VexStatus::UnderInvestigation => {
            return None;
        }
    };
    Some(SuppressedBy::Vex {
        source: statement.source.clone(),
        status: statement.status.as_str().to_owned(),
        justification,
        impact,
        timestamp_ms: statement.timestamp_ms,
    })
}

fn finding_ref(index: usize, finding: &Finding) -> FindingRef {
    FindingRef {
        index,
        id: finding.id.clone(),
        package: finding.package.clone(),
        version: finding.version.clone(),
        severity: finding.severity,
        fixed: finding.fixed.clone(),
    }
}

/// `CVE-2024-3094 (critical, xz-utils 5.6.0-0.2, fixed in 5.6.1+really5.4.5-1)`; a
/// malicious package says so instead of a severity and a fix.
fn describe(finding: &FindingRef, rule: Rule) -> String {
    let FindingRef {
        id,
        package,
        version,
        severity,
        fixed,
        ..
    } = finding;
    if rule == Rule::Malicious {
        return format!("{id} (malicious, {package} {version})");
    }
    let fix = if fixed.is_empty() {
        "no fix yet".to_owned()
    } else {
        format!("fixed in {}", fixed.join(", "))
    };
    format!("{id} ({severity}, {package} {version}, {fix})")
}

/// `a, b and c`, or `a, b, c and 2 more`: at most `named` items are named, except that
/// naming the last one beats writing "and 1 more".
fn list(items: &[String], named: usize) -> String {
    let named = if items.len() == named + 1 {
        items.len()
    } else {
        named.min(items.len())
    };
    let (shown, rest) = items.split_at(named);
    match (shown, rest.len()) {
        ([], 0) => String::new(),
        ([], more) => format!("{more} more"),
        ([only], 0) => only.clone(),
        ([init @ .., last], 0) => format!("{} and {last}", init.join(", ")),
        (shown, more) => format!("{} and {more} more", shown.join(", ")),
    }
}

fn findings_violation(
    prefix: &str,
    rule: Rule,
    what: &str,
    mut findings: Vec<FindingRef>,
) -> Violation {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.index.cmp(&b.index))
    });
    let described: Vec<String> = findings.iter().map(|f| describe(f, rule)).collect();
    let count = findings.len();
    Violation {
        rule,
        message: format!(
            "{prefix} \"{rule}\": {what} ({count}): {}",
            list(&described, MESSAGE_FINDINGS)
        ),
        summary: list(&described, 1),
        findings,
    }
}

fn simple_violation(prefix: &str, rule: Rule, detail: String, summary: String) -> Violation {
    Violation {
        rule,
        message: format!("{prefix} \"{rule}\": {detail}"),
        summary,
        findings: Vec::new(),
    }
}

/// What moving or deleting a tag may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TagChange {
    /// No immutable pattern covers the tag.
    Allowed,
    /// `pattern` makes the tag immutable.
    Denied { pattern: String },
    /// A system administrator explicitly overrode `pattern`; the caller must audit it.
    AllowedByOverride { pattern: String },
}

/// Whether an existing `tag` may be moved to another digest or deleted. Creating a new
/// tag is never a change, and re-pushing the digest a tag already has is not one either:
/// the caller asks only when the tag exists and would change. Only a system administrator
/// who explicitly asks for it overrides immutability; being an administrator alone does
/// not, so a routine push by an admin account cannot move a release tag by accident.
pub fn tag_change(
    policy: &Policy,
    tag: &str,
    actor_is_system_admin: bool,
    override_requested: bool,
) -> TagChange {
    let Some(pattern) = policy
        .immutable_tags
        .iter()
        .find(|pattern| glob_match(pattern, tag))
    else {
        return TagChange::Allowed;
    };
    if actor_is_system_admin && override_requested {
        TagChange::AllowedByOverride {
            pattern: pattern.clone(),
        }
    } else {
        TagChange::Denied {
            pattern: pattern.clone(),
        }
    }
}

/// Everything besides the policy that a cached decision depends on. Versions are opaque
/// to this crate: any string that changes when the data changes (a sequence number, a
/// content hash).
///
/// - `project` and `repository`: exceptions are scoped by them, so the same digest in two
///   projects can decide differently.
/// - `advisory_version`: the findings (and `matched_at_ms`) come from advisory data.
/// - `exceptions_version`: the exceptions that could apply.
/// - `vex_version`: the VEX documents *and signatures* attached to the digest; both are
///   referrers of the artifact, so one version of its referrers serves.
///
/// The scan state and the clock are not in the key: a decision on an incomplete scan has
/// `valid_until_ms == now`, and every decision says when time invalidates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecisionKey<'a> {
    pub project: &'a str,
    pub repository: &'a str,
    pub digest: &'a str,
    pub advisory_version: &'a str,
    pub exceptions_version: &'a str,
    pub vex_version: &'a str,
}

impl DecisionKey<'_> {
    /// A string that is equal for two inputs exactly when all parts and the policy's
    /// canonical form are equal. Parts are length-prefixed (so no choice of values can
    /// make two different inputs collide), and the policy is embedded whole rather than
    /// as its [`Policy::fingerprint`], which a project admin could collide on purpose.
    pub fn cache_key(&self, policy: &Policy) -> String {
        let canonical = policy.canonical();
        let parts = [
            self.project,
            self.repository,
            self.digest,
            self.advisory_version,
            self.exceptions_version,
            self.vex_version,
            canonical.as_str(),
        ];
        let mut key = String::from("bulwark-policy/1");
        for part in parts {
            key.push('|');
            key.push_str(&part.len().to_string());
            key.push(':');
            key.push_str(part);
        }
        key
    }
}

#[cfg(test)]
mod tests;
