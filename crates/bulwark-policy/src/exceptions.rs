//! Exceptions (waivers): a person's recorded decision that one vulnerability does not
//! block, narrowed to a package, repository or digest, with a reason and a mandatory
//! expiry.
//!
//! An exception never deletes a finding: a finding it matches is moved to the decision's
//! `suppressed` list with the exception's id, author, reason and expiry, so a report shows
//! what was waived and by whom. Exceptions that match nothing any more are worth removing
//! (the package was upgraded, the image rebuilt); [`stale_exceptions`] finds them, as
//! cargo-deny reports an `advisory-not-detected`.
//!
//! Exceptions cover vulnerabilities only. Secrets, signatures and quarantine have no
//! waiver: the remedy there is to fix the artifact. A known-malicious package can only be
//! waived by a system-scoped exception (see [`crate::decide`]).

use bulwark_package::{PackageKey, Purl};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::facts::{ArtifactFacts, Finding, same_package};

/// Who an exception applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every project (set by a registry administrator).
    System,
    /// The artifacts of one project.
    Project(String),
}

/// One waiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    pub id: String,
    /// The advisory id waived; matches a finding's id or any of its aliases.
    pub vulnerability: String,
    /// A package name (compared the way its ecosystem compares names) or a purl (type,
    /// namespace, name, and version only if the purl has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Only in this repository (exact name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Only in this manifest digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub reason: String,
    pub author: String,
    pub created_ms: i64,
    /// Mandatory: a waiver nobody has to renew is a waiver nobody reviews.
    pub expires_ms: i64,
    pub scope: Scope,
}

/// Why an exception was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ExceptionError {
    #[error("exception {id:?}: {reason}")]
    Invalid { id: String, reason: String },
}

impl Exception {
    /// Checks what the type cannot: non-empty text fields (a waiver without a reason or an
    /// author explains nothing), an expiry after creation, a package purl that parses, a
    /// digest of the form `algorithm:hex`.
    pub fn validate(&self) -> Result<(), ExceptionError> {
        let fail = |reason: &str| {
            Err(ExceptionError::Invalid {
                id: self.id.clone(),
                reason: reason.to_owned(),
            })
        };
        if self.id.trim().is_empty() {
            return fail("the id is empty");
        }
        if self.vulnerability.trim().is_empty() {
            return fail("no vulnerability id");
        }
        if self.reason.trim().is_empty() {
            return fail("no reason given");
        }
        if self.author.trim().is_empty() {
            return fail("no author");
        }
        if self.expires_ms <= self.created_ms {
            return fail("expires before it was created");
        }
        if let Some(package) = &self.package {
            if package.trim().is_empty() {
                return fail("the package is empty");
            }
            if package.starts_with("pkg:") && Purl::parse(package).is_err() {
                return fail("the package purl does not parse");
            }
        }
        if let Scope::Project(project) = &self.scope
            && project.trim().is_empty()
        {
            return fail("the project scope is empty");
        }
        if let Some(digest) = &self.digest {
            let well_formed = digest.split_once(':').is_some_and(|(algorithm, hex)| {
                !algorithm.is_empty()
                    && !hex.is_empty()
                    && hex.chars().all(|c| c.is_ascii_hexdigit())
            });
            if !well_formed {
                return fail("the digest is not of the form algorithm:hex");
            }
        }
        Ok(())
    }

    /// Expired at `now_ms`: the expiry instant itself is already too late.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_ms <= now_ms
    }

    /// Whether it covers artifacts of `project`.
    pub fn in_scope(&self, project: &str) -> bool {
        match &self.scope {
            Scope::System => true,
            Scope::Project(scope) => scope == project,
        }
    }

    /// Whether it names `finding` in `repository`/`digest`, ignoring scope and time.
    pub fn matches(&self, repository: &str, digest: &str, finding: &Finding) -> bool {
        finding.is_known_as(&self.vulnerability)
            && self
                .repository
                .as_deref()
                .is_none_or(|wanted| wanted == repository)
            && self
                .digest
                .as_deref()
                .is_none_or(|wanted| wanted.eq_ignore_ascii_case(digest))
            && self
                .package
                .as_deref()
                .is_none_or(|wanted| package_matches(wanted, finding))
    }

    /// Whether it suppresses `finding` of `facts` at `now_ms`: unexpired, in scope, and
    /// matching.
    pub fn applies(&self, facts: &ArtifactFacts, finding: &Finding, now_ms: i64) -> bool {
        !self.is_expired(now_ms)
            && self.in_scope(&facts.project)
            && self.matches(&facts.repository, &facts.digest, finding)
    }
}

fn package_matches(wanted: &str, finding: &Finding) -> bool {
    let wanted = wanted.trim();
    if wanted.starts_with("pkg:") {
        let Ok(wanted) = Purl::parse(wanted) else {
            return false;
        };
        return finding
            .package_purl()
            .is_some_and(|have| same_package(&wanted, &have, &finding.version));
    }
    PackageKey::new(&finding.ecosystem, wanted).name
        == PackageKey::new(&finding.ecosystem, &finding.package).name
}

/// The exceptions that match no finding of the given artifacts: `(repository, digest,
/// findings)` for each artifact the exceptions could apply to (typically every artifact
/// of one project, for its project exceptions). Scope and expiry are not considered;
/// expired exceptions are reported by their expiry, not here.
pub fn stale_exceptions<'e, 'a, I>(exceptions: &'e [Exception], artifacts: I) -> Vec<&'e Exception>
where
    I: IntoIterator<Item = (&'a str, &'a str, &'a [Finding])>,
{
    let mut matched = vec![false; exceptions.len()];
    for (repository, digest, findings) in artifacts {
        for finding in findings {
            for (seen, exception) in matched.iter_mut().zip(exceptions) {
                if !*seen && exception.matches(repository, digest, finding) {
                    *seen = true;
                }
            }
        }
    }
    exceptions
        .iter()
        .zip(matched)
        .filter(|(_, seen)| !seen)
        .map(|(exception, _)| exception)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ScanState, Severity};

    const NOW: i64 = 1_700_000_000_000;

    fn finding(id: &str, package: &str, version: &str) -> Finding {
        Finding {
            id: id.to_owned(),
            aliases: vec![],
            ecosystem: "PyPI".to_owned(),
            package: package.to_owned(),
            version: version.to_owned(),
            purl: None,
            severity: Severity::High,
            fixed: vec![],
            fix_published_ms: None,
            malicious: false,
        }
    }

    fn exception(vulnerability: &str) -> Exception {
        Exception {
            id: "EX-1".to_owned(),
            vulnerability: vulnerability.to_owned(),
            package: None,
            repository: None,
            digest: None,
            reason: "not reachable: we never parse untrusted XML".to_owned(),
            author: "alice".to_owned(),
            created_ms: NOW - 1_000,
            expires_ms: NOW + 1_000,
            scope: Scope::Project("team".to_owned()),
        }
    }

    fn facts(findings: Vec<Finding>) -> ArtifactFacts {
        ArtifactFacts {
            project: "team".to_owned(),
            repository: "team/app".to_owned(),
            digest: "sha256:aaaa".to_owned(),
            scan: ScanState::Done,
            findings,
            secrets: vec![],
            signatures: vec![],
            matched_at_ms: None,
        }
    }

    #[test]
    fn matches_the_id_or_any_alias() {
        let mut f = finding("GHSA-jfh8-c2jp-5v3q", "django", "4.2");
        f.aliases.push("CVE-2021-44228".to_owned());
        assert!(exception("CVE-2021-44228").matches("team/app", "sha256:aaaa", &f));
        assert!(exception("ghsa-jfh8-c2jp-5v3q").matches("team/app", "sha256:aaaa", &f));
        assert!(!exception("CVE-2021-45046").matches("team/app", "sha256:aaaa", &f));
    }

    #[test]
    fn narrows_by_package_name_purl_repository_and_digest() {
        let f = finding("CVE-1", "Django", "4.2");
        let by_name = Exception {
            package: Some("django".to_owned()),
            ..exception("CVE-1")
        };
        assert!(
            by_name.matches("team/app", "sha256:aaaa", &f),
            "PEP 503 names"
        );
        let other = Exception {
            package: Some("flask".to_owned()),
            ..exception("CVE-1")
        };
        assert!(!other.matches("team/app", "sha256:aaaa", &f));
        let by_purl = Exception {
            package: Some("pkg:pypi/django".to_owned()),
            ..exception("CVE-1")
        };
        assert!(by_purl.matches("team/app", "sha256:aaaa", &f));
        let by_versioned_purl = Exception {
            package: Some("pkg:pypi/django@4.1".to_owned()),
            ..exception("CVE-1")
        };
        assert!(!by_versioned_purl.matches("team/app", "sha256:aaaa", &f));
        let by_repository = Exception {
            repository: Some("team/app".to_owned()),
            ..exception("CVE-1")
        };
        assert!(by_repository.matches("team/app", "sha256:aaaa", &f));
        assert!(!by_repository.matches("team/api", "sha256:aaaa", &f));
        let by_digest = Exception {
            digest: Some("sha256:AAAA".to_owned()),
            ..exception("CVE-1")
        };
        assert!(by_digest.matches("team/app", "sha256:aaaa", &f));
        assert!(!by_digest.matches("team/app", "sha256:bbbb", &f));
    }

    #[test]
    fn expired_or_out_of_scope_exceptions_do_not_apply() {
        let f = finding("CVE-1", "django", "4.2");
        let facts = facts(vec![f.clone()]);
        let live = exception("CVE-1");
        assert!(live.applies(&facts, &f, NOW));
        assert!(
            !live.applies(&facts, &f, live.expires_ms),
            "expiry is exclusive"
        );
        assert!(live.applies(&facts, &f, live.expires_ms - 1));
        let elsewhere = Exception {
            scope: Scope::Project("other".to_owned()),
            ..exception("CVE-1")
        };
        assert!(!elsewhere.applies(&facts, &f, NOW));
        let system = Exception {
            scope: Scope::System,
            ..exception("CVE-1")
        };
        assert!(system.applies(&facts, &f, NOW));
    }

    #[test]
    fn stale_exceptions_are_those_matching_nothing() {
        let app = [finding("CVE-1", "django", "4.2")];
        let api = [finding("CVE-2", "flask", "2.0")];
        let exceptions = [
            Exception {
                id: "used".to_owned(),
                ..exception("CVE-1")
            },
            Exception {
                id: "wrong-repo".to_owned(),
                repository: Some("team/app".to_owned()),
                ..exception("CVE-2")
            },
            Exception {
                id: "gone".to_owned(),
                ..exception("CVE-3")
            },
            Exception {
                id: "used-elsewhere".to_owned(),
                ..exception("CVE-2")
            },
        ];
        let artifacts = [
            ("team/app", "sha256:aaaa", app.as_slice()),
            ("team/api", "sha256:bbbb", api.as_slice()),
        ];
        let stale: Vec<&str> = stale_exceptions(&exceptions, artifacts)
            .into_iter()
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(stale, vec!["wrong-repo", "gone"]);
        let none: [(&str, &str, &[Finding]); 0] = [];
        assert_eq!(stale_exceptions(&exceptions, none).len(), 4);
    }

    #[test]
    fn validation_requires_reason_author_and_a_later_expiry() {
        assert_eq!(exception("CVE-1").validate(), Ok(()));
        let cases = [
            Exception {
                reason: " ".to_owned(),
                ..exception("CVE-1")
            },
            Exception {
                author: String::new(),
                ..exception("CVE-1")
            },
            Exception {
                expires_ms: NOW - 1_000,
                ..exception("CVE-1")
            },
            Exception {
                package: Some("pkg:".to_owned()),
                ..exception("CVE-1")
            },
            Exception {
                digest: Some("latest".to_owned()),
                ..exception("CVE-1")
            },
            Exception {
                scope: Scope::Project(String::new()),
                ..exception("CVE-1")
            },
            exception(""),
        ];
        for case in cases {
            assert!(case.validate().is_err(), "{case:?}");
        }
    }

    #[test]
    fn serializes_scope_readably() {
        let json = serde_json::to_value(exception("CVE-1")).unwrap();
        assert_eq!(json["scope"], serde_json::json!({"project": "team"}));
        let system = serde_json::to_value(Scope::System).unwrap();
        assert_eq!(system, serde_json::json!("system"));
    }
}
