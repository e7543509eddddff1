use proptest::prelude::*;

use super::*;
use crate::facts::VerifiedSignature;
use crate::vex::{Product, VexStatus};

const NOW: i64 = 1_700_000_000_000;
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn finding(id: &str, package: &str, severity: Severity) -> Finding {
    Finding {
        id: id.to_owned(),
        aliases: vec![],
        ecosystem: "Debian:12".to_owned(),
        package: package.to_owned(),
        version: "1.0-1".to_owned(),
        purl: Some(format!("pkg:deb/debian/{package}@1.0-1?distro=debian-12")),
        severity,
        fixed: vec![],
        fix_published_ms: None,
        malicious: false,
    }
}

fn fixed(mut finding: Finding, version: &str, published_ms: Option<i64>) -> Finding {
    finding.fixed = vec![version.to_owned()];
    finding.fix_published_ms = published_ms;
    finding
}

fn facts(findings: Vec<Finding>) -> ArtifactFacts {
    ArtifactFacts {
        project: "team".to_owned(),
        repository: "team/app".to_owned(),
        digest: DIGEST.to_owned(),
        scan: ScanState::Done,
        findings,
        secrets: vec![],
        signatures: vec![],
        matched_at_ms: Some(NOW - HOUR_MS),
    }
}

fn policy() -> Policy {
    Policy::default()
}

fn blocking(severity: Severity) -> Policy {
    Policy {
        block_severity: Some(severity),
        ..policy()
    }
}

fn exception(id: &str, vulnerability: &str, scope: Scope) -> Exception {
    Exception {
        id: id.to_owned(),
        vulnerability: vulnerability.to_owned(),
        package: None,
        repository: None,
        digest: None,
        reason: "only used at build time".to_owned(),
        author: "alice".to_owned(),
        created_ms: NOW - DAY_MS,
        expires_ms: NOW + DAY_MS,
        scope,
    }
}

fn statement(vulnerability: &str, status: VexStatus, timestamp_ms: Option<i64>) -> VexStatement {
    VexStatement {
        vulnerability: vulnerability.to_owned(),
        aliases: vec![],
        products: vec![Product::Digest(DIGEST.to_owned())],
        subcomponents: vec![],
        status,
        source: "Acme PSIRT (vex-1)".to_owned(),
        timestamp_ms,
    }
}

fn not_affected() -> VexStatus {
    VexStatus::NotAffected {
        justification: Some("vulnerable_code_not_present".to_owned()),
        impact: None,
    }
}

fn rules(decision: &Decision) -> Vec<Rule> {
    decision.violations.iter().map(|v| v.rule).collect()
}

#[test]
fn a_clean_artifact_is_allowed_under_every_rule() {
    let strict = Policy {
        block_severity: Some(Severity::Low),
        quarantine: Some(true),
        block_secrets: Some(true),
        require_signature: Some(true),
        max_match_age_hours: Some(24),
        ..policy()
    };
    let mut facts = facts(vec![finding("CVE-1", "zlib", Severity::Unknown)]);
    facts.signatures.push(VerifiedSignature {
        key: "k".to_owned(),
        format: "cosign".to_owned(),
        at_ms: None,
    });
    let decision = decide(&facts, &strict, &[], &[], NOW);
    assert!(decision.allowed, "{decision:#?}");
    assert!(decision.violations.is_empty());
    assert!(!decision.wait_for_scan);
    assert_eq!(
        decision.valid_until_ms,
        Some(NOW - HOUR_MS + 24 * HOUR_MS + 1)
    );
}

#[test]
fn severity_blocks_at_or_above_the_threshold_and_never_unknown() {
    let facts = facts(vec![
        finding("CVE-1", "a", Severity::Medium),
        finding("CVE-2", "b", Severity::High),
        finding("CVE-3", "c", Severity::Critical),
        finding("CVE-4", "d", Severity::Unknown),
    ]);
    let decision = decide(&facts, &blocking(Severity::High), &[], &[], NOW);
    assert!(!decision.allowed);
    assert_eq!(rules(&decision), vec![Rule::Severity]);
    let ids: Vec<&str> = decision.violations[0]
        .findings
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    assert_eq!(ids, vec!["CVE-3", "CVE-2"], "most severe first");
    assert!(
        decide(&facts, &blocking(Severity::Low), &[], &[], NOW).violations[0]
            .findings
            .iter()
            .all(|f| f.id != "CVE-4")
    );
    let only_unknown = self::facts(vec![finding("CVE-4", "d", Severity::Unknown)]);
    assert!(decide(&only_unknown, &blocking(Severity::Low), &[], &[], NOW).allowed);
}

#[test]
fn only_fixable_ignores_findings_without_a_fix() {
    let facts = facts(vec![
        finding("CVE-1", "a", Severity::Critical),
        fixed(finding("CVE-2", "b", Severity::Critical), "2.0", None),
    ]);
    let policy = Policy {
        only_fixable: Some(true),
        ..blocking(Severity::Critical)
    };
    let decision = decide(&facts, &policy, &[], &[], NOW);
    assert_eq!(decision.violations[0].findings.len(), 1);
    assert_eq!(decision.violations[0].findings[0].id, "CVE-2");
}

#[test]
fn fix_age_waits_for_old_enough_fixes_and_treats_unknown_dates_as_old() {
    let young_published = NOW - 2 * DAY_MS;
    let facts = facts(vec![
        fixed(
            finding("CVE-1", "a", Severity::High),
            "2",
            Some(young_published),
        ),
        fixed(
            finding("CVE-2", "b", Severity::High),
            "2",
            Some(NOW - 30 * DAY_MS),
        ),
        fixed(finding("CVE-3", "c", Severity::High), "2", None),
        finding("CVE-4", "d", Severity::High),
    ]);
    let policy = Policy {
        fix_older_than_days: Some(7),
        ..blocking(Severity::High)
    };
    let decision = decide(&facts, &policy, &[], &[], NOW);
    let ids: Vec<&str> = decision.violations[0]
        .findings
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    assert_eq!(ids, vec!["CVE-2", "CVE-3"]);
    assert_eq!(
        decision.valid_until_ms,
        Some(young_published + 7 * DAY_MS),
        "the young fix ripens then"
    );
    let later = decide(&facts, &policy, &[], &[], young_published + 7 * DAY_MS);
    assert_eq!(later.violations[0].findings.len(), 3);
}

#[test]
fn malicious_packages_block_by_default_and_only_system_exceptions_waive_them() {
    let mut evil = finding("MAL-2024-1234", "evil-pkg", Severity::Unknown);
    evil.malicious = true;
    let facts = facts(vec![evil]);
    let decision = decide(&facts, &policy(), &[], &[], NOW);
    assert_eq!(rules(&decision), vec![Rule::Malicious]);
    assert_eq!(
        decision.violations[0].summary,
        "MAL-2024-1234 (malicious, evil-pkg 1.0-1)"
    );

    let project = exception("EX-P", "MAL-2024-1234", Scope::Project("team".into()));
    let vex = statement("MAL-2024-1234", not_affected(), Some(NOW));
    let decision = decide(&facts, &policy(), &[project], &[vex], NOW);
    assert!(
        !decision.allowed,
        "neither a project exception nor VEX waives malware"
    );
    assert!(decision.suppressed.is_empty());

    let system = exception("EX-S", "MAL-2024-1234", Scope::System);
    let decision = decide(&facts, &policy(), &[system], &[], NOW);
    assert!(decision.allowed);
    assert_eq!(decision.suppressed.len(), 1);

    let off = Policy {
        block_malicious: Some(false),
        ..policy()
    };
    assert!(decide(&facts, &off, &[], &[], NOW).allowed);
}

#[test]
fn quarantine_distinguishes_pending_scans_from_failed_ones() {
    let quarantine = Policy {
        quarantine: Some(true),
        ..policy()
    };
    let cases = [
        (ScanState::Pending, true, "the scan is pending"),
        (ScanState::Running, true, "the scan is still running"),
        (
            ScanState::NotScanned,
            false,
            "the artifact has not been scanned",
        ),
        (
            ScanState::Failed {
                reason: "layer too large".into(),
            },
            false,
            "the scan failed: layer too large",
        ),
    ];
    for (scan, wait, summary) in cases {
        let facts = ArtifactFacts {
            scan: scan.clone(),
            ..facts(vec![])
        };
        let decision = decide(&facts, &quarantine, &[], &[], NOW);
        assert!(!decision.allowed, "{scan:?}");
        assert_eq!(decision.wait_for_scan, wait, "{scan:?}");
        assert_eq!(decision.violations[0].summary, summary);
        assert_eq!(
            decision.valid_until_ms,
            Some(NOW),
            "never cache an incomplete scan"
        );
        // Without the rule, an unscanned artifact passes: that is what the rule is for.
        assert!(decide(&facts, &policy(), &[], &[], NOW).allowed);
    }
    assert!(decide(&facts(vec![]), &quarantine, &[], &[], NOW).allowed);
}

#[test]
fn waiting_is_pointless_when_another_rule_already_refuses() {
    let policy = Policy {
        quarantine: Some(true),
        require_signature: Some(true),
        ..policy()
    };
    let facts = ArtifactFacts {
        scan: ScanState::Pending,
        ..facts(vec![])
    };
    let decision = decide(&facts, &policy, &[], &[], NOW);
    assert_eq!(rules(&decision), vec![Rule::Quarantine, Rule::Signature]);
    assert!(!decision.wait_for_scan);
}

#[test]
fn secrets_block_at_or_above_the_configured_severity() {
    let mut facts = facts(vec![]);
    facts.secrets = vec![
        SecretFact {
            rule: "generic-password".into(),
            path: "/etc/app.conf".into(),
            severity: Severity::Medium,
        },
        SecretFact {
            rule: "aws-access-key".into(),
            path: "/app/.env".into(),
            severity: Severity::Critical,
        },
    ];
    let any = Policy {
        block_secrets: Some(true),
        ..policy()
    };
    let decision = decide(&facts, &any, &[], &[], NOW);
    assert_eq!(
        decision.violations[0].summary,
        "2 leaked secrets (aws-access-key in /app/.env and generic-password in /etc/app.conf)"
    );
    let high = Policy {
        secret_severity: Some(Severity::High),
        ..any
    };
    let decision = decide(&facts, &high, &[], &[], NOW);
    assert_eq!(
        decision.violations[0].message,
        "rule \"secrets\": 1 leaked secret at or above high: aws-access-key in /app/.env"
    );
    facts.secrets.remove(1);
    assert!(decide(&facts, &high, &[], &[], NOW).allowed);
}

#[test]
fn signatures_must_come_from_a_trusted_key() {
    let sign = |key: &str| VerifiedSignature {
        key: key.to_owned(),
        format: "cosign".to_owned(),
        at_ms: Some(NOW),
    };
    let any_key = Policy {
        require_signature: Some(true),
        ..policy()
    };
    let team_key = Policy {
        trusted_keys: Some(vec!["SHA256:team".into()]),
        ..any_key.clone()
    };
    let unsigned = facts(vec![]);
    let decision = decide(&unsigned, &any_key, &[], &[], NOW);
    assert!(
        decision.violations[0]
            .message
            .contains("no verified signature")
    );

    let mut other = facts(vec![]);
    other.signatures.push(sign("SHA256:someone"));
    assert!(decide(&other, &any_key, &[], &[], NOW).allowed);
    let decision = decide(&other, &team_key, &[], &[], NOW);
    assert!(
        decision.violations[0]
            .message
            .contains("signed by SHA256:someone")
    );

    let mut signed = facts(vec![]);
    signed.signatures = vec![sign("SHA256:someone"), sign("SHA256:team")];
    assert!(decide(&signed, &team_key, &[], &[], NOW).allowed);

    let nobody = Policy {
        trusted_keys: Some(vec![]),
        ..any_key
    };
    let decision = decide(&signed, &nobody, &[], &[], NOW);
    assert!(
        decision.violations[0]
            .message
            .contains("no signing key is trusted")
    );
}

#[test]
fn the_advisory_match_must_be_fresh() {
    let policy = Policy {
        max_match_age_hours: Some(24),
        ..policy()
    };
    let mut facts = facts(vec![]);
    facts.matched_at_ms = None;
    let decision = decide(&facts, &policy, &[], &[], NOW);
    assert_eq!(rules(&decision), vec![Rule::MatchAge]);
    facts.matched_at_ms = Some(NOW - 30 * HOUR_MS);
    let decision = decide(&facts, &policy, &[], &[], NOW);
    assert_eq!(
        decision.violations[0].summary,
        "advisory match 30 h old (max 24 h)"
    );
    facts.matched_at_ms = Some(NOW - 24 * HOUR_MS);
    let decision = decide(&facts, &policy, &[], &[], NOW);
    assert!(decision.allowed, "exactly the maximum age is still fresh");
    assert_eq!(decision.valid_until_ms, Some(NOW + 1));
}

#[test]
fn exceptions_suppress_with_their_author_reason_and_expiry() {
    let facts = facts(vec![
        finding("CVE-2024-1", "openssl", Severity::Critical),
        finding("CVE-2024-2", "zlib", Severity::Critical),
    ]);
    let short = Exception {
        expires_ms: NOW + HOUR_MS,
        ..exception("EX-short", "CVE-2024-1", Scope::Project("team".into()))
    };
    let long = exception("EX-long", "CVE-2024-1", Scope::System);
    let decision = decide(
        &facts,
        &blocking(Severity::High),
        &[short.clone(), long.clone()],
        &[],
        NOW,
    );
    assert_eq!(decision.violations[0].findings.len(), 1);
    assert_eq!(decision.violations[0].findings[0].id, "CVE-2024-2");
    assert_eq!(
        decision.suppressed,
        vec![Suppression {
            index: 0,
            finding: "CVE-2024-1".into(),
            package: "openssl".into(),
            version: "1.0-1".into(),
            by: SuppressedBy::Exception {
                id: "EX-long".into(),
                author: "alice".into(),
                reason: "only used at build time".into(),
                expires_ms: NOW + DAY_MS,
            },
        }],
        "the exception that lasts longest is recorded"
    );
    assert_eq!(decision.valid_until_ms, Some(NOW + DAY_MS));

    let expired = decide(
        &facts,
        &blocking(Severity::High),
        &[short],
        &[],
        NOW + HOUR_MS,
    );
    assert_eq!(
        expired.violations[0].findings.len(),
        2,
        "expiry is exclusive"
    );
    assert!(expired.suppressed.is_empty());

    let elsewhere = exception("EX-other", "CVE-2024-2", Scope::Project("other".into()));
    let decision = decide(
        &facts,
        &blocking(Severity::High),
        &[long, elsewhere],
        &[],
        NOW,
    );
    assert_eq!(decision.violations[0].findings[0].id, "CVE-2024-2");
}

#[test]
fn vex_not_affected_and_fixed_suppress_affected_does_not() {
    let facts = facts(vec![
        finding("CVE-1", "a", Severity::Critical),
        finding("CVE-2", "b", Severity::Critical),
        finding("CVE-3", "c", Severity::Critical),
    ]);
    let vex = [
        statement("CVE-1", not_affected(), Some(NOW)),
        statement("CVE-2", VexStatus::Fixed, None),
        statement("CVE-3", VexStatus::UnderInvestigation, Some(NOW)),
    ];
    let decision = decide(&facts, &blocking(Severity::High), &[], &vex, NOW);
    assert_eq!(decision.violations[0].findings.len(), 1);
    assert_eq!(decision.violations[0].findings[0].id, "CVE-3");
    assert_eq!(decision.suppressed.len(), 2);
    assert_eq!(
        decision.suppressed[0].by,
        SuppressedBy::Vex {
            source: "Acme PSIRT (vex-1)".into(),
            status: "not_affected".into(),
            justification: Some("vulnerable_code_not_present".into()),
            impact: None,
            timestamp_ms: Some(NOW),
        }
    );
    assert!(matches!(
        &decision.suppressed[1].by,
        SuppressedBy::Vex { status, .. } if status == "fixed"
    ));
}

#[test]
fn vex_subcomponents_and_package_purls_narrow_the_suppression() {
    let facts = facts(vec![
        finding("CVE-1", "openssl", Severity::Critical),
        finding("CVE-1", "curl", Severity::Critical),
    ]);
    let in_image = VexStatement {
        subcomponents: vec!["pkg:deb/debian/openssl".into()],
        ..statement("CVE-1", not_affected(), Some(NOW))
    };
    let decision = decide(&facts, &blocking(Severity::High), &[], &[in_image], NOW);
    assert_eq!(decision.suppressed.len(), 1);
    assert_eq!(decision.suppressed[0].package, "openssl");

    let package = VexStatement {
        products: vec![Product::Purl("pkg:deb/debian/curl@1.0-1".into())],
        ..statement("CVE-1", VexStatus::Fixed, Some(NOW))
    };
    let wrong_version = VexStatement {
        products: vec![Product::Purl("pkg:deb/debian/openssl@0.9".into())],
        ..package.clone()
    };
    let decision = decide(
        &facts,
        &blocking(Severity::High),
        &[],
        &[package, wrong_version],
        NOW,
    );
    assert_eq!(decision.suppressed.len(), 1);
    assert_eq!(decision.suppressed[0].package, "curl");
}

#[test]
fn the_latest_vex_statement_wins_and_ties_fail_closed() {
    let facts = facts(vec![finding("CVE-1", "a", Severity::Critical)]);
    let policy = blocking(Severity::High);
    let old_affected = statement("CVE-1", VexStatus::Affected, Some(NOW - DAY_MS));
    let new_not_affected = statement("CVE-1", not_affected(), Some(NOW));
    let decision = decide(
        &facts,
        &policy,
        &[],
        &[new_not_affected.clone(), old_affected.clone()],
        NOW,
    );
    assert!(decision.allowed);

    let newer_affected = statement("CVE-1", VexStatus::Affected, Some(NOW + 1));
    let decision = decide(
        &facts,
        &policy,
        &[],
        &[new_not_affected.clone(), newer_affected],
        NOW,
    );
    assert!(!decision.allowed);

    let undated_fixed = statement("CVE-1", VexStatus::Fixed, None);
    let decision = decide(&facts, &policy, &[], &[undated_fixed, old_affected], NOW);
    assert!(!decision.allowed, "an undated statement is the oldest");

    let tie = statement("CVE-1", VexStatus::UnderInvestigation, Some(NOW));
    let decision = decide(&facts, &policy, &[], &[new_not_affected, tie], NOW);
    assert!(
        !decision.allowed,
        "equal times: the statement that does not suppress wins"
    );
}

#[test]
fn vex_matches_through_aliases() {
    let mut f = finding("GHSA-xxxx-yyyy-zzzz", "a", Severity::Critical);
    f.aliases.push("CVE-2024-9".into());
    let facts = facts(vec![f]);
    let vex = statement("cve-2024-9", VexStatus::Fixed, None);
    assert!(decide(&facts, &blocking(Severity::High), &[], &[vex], NOW).allowed);
}

#[test]
fn the_denial_message_names_the_worst_finding_and_counts_the_rest() {
    let facts = facts(vec![
        fixed(finding("CVE-2024-1111", "a", Severity::High), "2", None),
        fixed(
            Finding {
                version: "5.6.0-0.2".into(),
                ..finding("CVE-2024-3094", "xz-utils", Severity::Critical)
            },
            "5.6.1+really5.4.5-1",
            None,
        ),
        finding("CVE-2024-0001", "b", Severity::High),
        finding("CVE-2024-2222", "c", Severity::Critical),
    ]);
    let policy = Policy {
        name: Some("no-critical".into()),
        ..blocking(Severity::High)
    };
    let decision = decide(&facts, &policy, &[], &[], NOW);
    assert_eq!(
        decision.denial_message(&format!("team/app@{DIGEST}")),
        format!(
            "policy \"no-critical\": CVE-2024-2222 (critical, c 1.0-1, no fix yet) and 3 more — see bulwark report team/app@{DIGEST}"
        )
    );
    let only_xz = self::facts(vec![facts.findings[1].clone()]);
    let decision = decide(&only_xz, &policy, &[], &[], NOW);
    assert_eq!(
        decision.denial_message("team/app@sha256:…"),
        "policy \"no-critical\": CVE-2024-3094 (critical, xz-utils 5.6.0-0.2, fixed in 5.6.1+really5.4.5-1) — see bulwark report team/app@sha256:…"
    );
    assert_eq!(
        decision.violations[0].message,
        "policy \"no-critical\" rule \"severity\": findings at or above high (1): CVE-2024-3094 (critical, xz-utils 5.6.0-0.2, fixed in 5.6.1+really5.4.5-1)"
    );
}

#[test]
fn the_denial_message_names_two_findings_and_joins_violations() {
    let mut facts = facts(vec![
        finding("CVE-2", "b", Severity::High),
        finding("CVE-1", "a", Severity::High),
    ]);
    facts.matched_at_ms = None;
    let policy = Policy {
        max_match_age_hours: Some(24),
        ..blocking(Severity::High)
    };
    let decision = decide(&facts, &policy, &[], &[], NOW);
    assert_eq!(
        decision.denial_message("r"),
        "policy: CVE-1 (high, a 1.0-1, no fix yet) and CVE-2 (high, b 1.0-1, no fix yet); never matched against advisory data — see bulwark report r"
    );
}

#[test]
fn the_long_message_lists_five_findings() {
    let findings = (1..=7)
        .map(|n| finding(&format!("CVE-{n}"), "p", Severity::Critical))
        .collect();
    let decision = decide(
        &facts(findings),
        &blocking(Severity::Critical),
        &[],
        &[],
        NOW,
    );
    assert!(
        decision.violations[0]
            .message
            .ends_with("CVE-5 (critical, p 1.0-1, no fix yet) and 2 more"),
        "{}",
        decision.violations[0].message
    );
}

#[test]
fn decisions_serialize_for_the_api() {
    let facts = facts(vec![finding("CVE-1", "a", Severity::Critical)]);
    let ex = exception("EX-1", "CVE-1", Scope::System);
    let policy = Policy {
        require_signature: Some(true),
        ..blocking(Severity::High)
    };
    let decision = decide(&facts, &policy, &[ex], &[], NOW);
    let json = serde_json::to_value(&decision).unwrap();
    assert_eq!(json["allowed"], false);
    assert_eq!(json["violations"][0]["rule"], "signature");
    assert_eq!(json["suppressed"][0]["by"]["kind"], "exception");
    assert_eq!(json["suppressed"][0]["by"]["author"], "alice");
    let back: Decision = serde_json::from_value(json).unwrap();
    assert_eq!(back, decision);
    assert_eq!(
        serde_json::to_value(Rule::MatchAge).unwrap(),
        serde_json::json!("match-age")
    );
}

#[test]
fn immutable_tags_deny_changes_unless_an_admin_overrides() {
    let policy = Policy {
        immutable_tags: vec!["v*".into(), "release-*".into()],
        ..policy()
    };
    assert_eq!(
        tag_change(&policy, "latest", false, false),
        TagChange::Allowed
    );
    assert_eq!(
        tag_change(&policy, "v1.2.3", false, true),
        TagChange::Denied {
            pattern: "v*".into()
        }
    );
    assert_eq!(
        tag_change(&policy, "release-7", true, false),
        TagChange::Denied {
            pattern: "release-*".into()
        },
        "an admin must ask"
    );
    assert_eq!(
        tag_change(&policy, "release-7", true, true),
        TagChange::AllowedByOverride {
            pattern: "release-*".into()
        }
    );
}

#[test]
fn cache_keys_separate_every_input_unambiguously() {
    let key = DecisionKey {
        project: "team",
        repository: "team/app",
        digest: DIGEST,
        advisory_version: "42",
        exceptions_version: "7",
        vex_version: "3",
    };
    let policy = blocking(Severity::High);
    let base = key.cache_key(&policy);
    assert_eq!(base, key.cache_key(&policy.clone()));
    assert_ne!(base, key.cache_key(&blocking(Severity::Critical)));
    let shifted = DecisionKey {
        project: "team|",
        repository: "team/app",
        ..key
    };
    let shifted_other = DecisionKey {
        project: "team",
        repository: "|team/app",
        ..key
    };
    assert_ne!(shifted.cache_key(&policy), shifted_other.cache_key(&policy));
    for changed in [
        DecisionKey {
            project: "other",
            ..key
        },
        DecisionKey {
            advisory_version: "43",
            ..key
        },
        DecisionKey {
            exceptions_version: "8",
            ..key
        },
        DecisionKey {
            vex_version: "4",
            ..key
        },
    ] {
        assert_ne!(changed.cache_key(&policy), base);
    }
}

fn arb_severity() -> impl Strategy<Value = Severity> {
    prop_oneof![
        Just(Severity::Low),
        Just(Severity::Medium),
        Just(Severity::High),
        Just(Severity::Critical),
    ]
}

fn arb_keys() -> impl Strategy<Value = Option<Vec<String>>> {
    proptest::option::of(proptest::collection::vec(
        prop_oneof![
            Just(format!("sha256:{}", "1".repeat(64))),
            Just(format!("sha256:{}", "2".repeat(64)))
        ],
        0..3,
    ))
}

/// Policies over every rule; `block_malicious` is never `false` here, since turning it
/// off is the one loosening the system (alone) may do.
fn arb_policy() -> impl Strategy<Value = Policy> {
    (
        proptest::option::of(arb_severity()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(0u32..20),
        proptest::option::of(Just(true)),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(arb_severity()),
        proptest::option::of(any::<bool>()),
        arb_keys(),
        proptest::option::of(1u32..72),
    )
        .prop_map(
            |(
                block_severity,
                only_fixable,
                fix_older_than_days,
                block_malicious,
                quarantine,
                block_secrets,
                secret_severity,
                require_signature,
                trusted_keys,
                max_match_age_hours,
            )| Policy {
                block_severity,
                only_fixable,
                fix_older_than_days,
                block_malicious,
                quarantine,
                block_secrets,
                secret_severity,
                require_signature,
                trusted_keys,
                max_match_age_hours,
                ..Policy::default()
            },
        )
}

fn arb_finding() -> impl Strategy<Value = Finding> {
    (
        prop_oneof![Just(Severity::Unknown), arb_severity()],
        any::<bool>(),
        proptest::option::of(0i64..40),
        any::<bool>(),
    )
        .prop_map(|(severity, has_fix, fix_age_days, malicious)| {
            let mut f = finding("CVE-1", "pkg", severity);
            if has_fix {
                f.fixed = vec!["2".to_owned()];
                f.fix_published_ms = fix_age_days.map(|days| NOW - days * DAY_MS);
            }
            f.malicious = malicious;
            f
        })
}

fn arb_facts() -> impl Strategy<Value = ArtifactFacts> {
    (
        proptest::collection::vec(arb_finding(), 0..4),
        prop_oneof![
            Just(ScanState::Done),
            Just(ScanState::Pending),
            Just(ScanState::NotScanned)
        ],
        proptest::collection::vec(prop_oneof![Just(Severity::Low), Just(Severity::High)], 0..2),
        proptest::collection::vec(prop_oneof![Just("k1"), Just("k2"), Just("k3")], 0..2),
        proptest::option::of(0i64..100),
    )
        .prop_map(
            |(findings, scan, secrets, keys, matched_hours_ago)| ArtifactFacts {
                scan,
                secrets: secrets
                    .into_iter()
                    .map(|severity| SecretFact {
                        rule: "r".to_owned(),
                        path: "/p".to_owned(),
                        severity,
                    })
                    .collect(),
                signatures: keys
                    .into_iter()
                    .map(|key| VerifiedSignature {
                        key: key.to_owned(),
                        format: "cosign".to_owned(),
                        at_ms: None,
                    })
                    .collect(),
                matched_at_ms: matched_hours_ago.map(|hours| NOW - hours * HOUR_MS),
                ..facts(findings)
            },
        )
}

proptest! {
    /// Tighten, never loosen: whatever the system policy or the project policy would
    /// refuse on its own, the effective policy refuses too.
    #[test]
    fn the_effective_policy_refuses_whatever_either_side_refuses(
        system in arb_policy(),
        project in arb_policy(),
        facts in arb_facts(),
    ) {
        let effective = Policy::effective(&system, &project);
        let allowed = |policy: &Policy| decide(&facts, policy, &[], &[], NOW).allowed;
        if !allowed(&system) || !allowed(&project) {
            prop_assert!(!allowed(&effective), "{effective:#?}");
        }
    }

    #[test]
    fn effective_policies_of_valid_policies_are_valid(
        system in arb_policy(),
        project in arb_policy(),
    ) {
        prop_assert!(Policy::effective(&system, &project).validate().is_ok());
    }
}

#[test]
fn denial_messages_carry_no_control_characters_from_the_artifact() {
    let mut facts = facts(vec![]);
    facts.secrets.push(SecretFact {
        rule: "aws-access-key-id".into(),
        path: "app/\u{1b}[31mred\nnext".into(),
        severity: Severity::High,
    });
    let policy = Policy {
        block_secrets: Some(true),
        ..Policy::default()
    };
    let decision = decide(&facts, &policy, &[], &[], NOW);
    assert!(!decision.allowed);
    let message = decision.denial_message("team/app@sha256:abc");
    assert!(!message.chars().any(char::is_control), "{message:?}");
    assert!(message.contains("red?next"), "{message}");
}
