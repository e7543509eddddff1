//! Policy documents: the rules one project (or the whole registry) sets, read from TOML or
//! YAML, validated, and merged so that a project can tighten the system-wide policy but
//! never loosen it.
//!
//! Every rule field is optional, and "absent" means "inherit": a project that says nothing
//! about secrets gets the system's secrets rule. [`Policy::effective`] documents the merge
//! rule of each field; the property it keeps is that whatever the system policy or the
//! project policy alone would deny, the effective policy denies too.
//!
//! A document looks like this (every rule is optional except `version`):
//!
//! ```toml
//! version = 1
//! name = "no-critical"
//! block_severity = "critical"      # block findings at or above this severity
//! block_only_fixable = true        # … but only those with a fixed version
//! fix_older_than_days = 14         # … whose fix is at least this old
//! block_malicious = true           # OSV MAL-* advisories (only the system may say false)
//! quarantine_unscanned = true      # refuse until a scan has completed
//! quarantine_wait_ms = 5000        # how long a pull may wait for a pending scan
//! block_secrets = true
//! secret_severity = "high"         # … only secrets at or above this (absent: any)
//! require_signature = true
//! trusted_keys = ["sha256:5f1e…"]  # key fingerprints; absent: any verified signature
//! max_match_age_hours = 24         # advisory match must be this fresh
//! immutable_tags = ["v*", "release-*"]
//! ```

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::facts::Severity;
use crate::glob;

/// The schema version this build reads and writes.
pub const POLICY_SCHEMA_VERSION: u32 = 1;

/// How long a caller may hold a request waiting for a pending scan, unless configured.
pub const DEFAULT_QUARANTINE_WAIT_MS: u64 = 5_000;

/// Longer waits hold a connection (and a client's patience) for too long; a scan slower
/// than this is better reported as pending.
pub const MAX_QUARANTINE_WAIT_MS: u64 = 60_000;

/// Policy documents are a few hundred bytes; anything near this is not a policy.
pub const MAX_POLICY_BYTES: usize = 64 << 10;

/// Ten years: a larger fix age is a typo.
pub const MAX_FIX_AGE_DAYS: u32 = 3_650;

/// One year.
pub const MAX_MATCH_AGE_HOURS: u32 = 8_760;

/// Bounds on list lengths, so a policy stays something people can read.
pub const MAX_IMMUTABLE_TAG_PATTERNS: usize = 256;
pub const MAX_TRUSTED_KEYS: usize = 256;

const MAX_NAME_LEN: usize = 64;
/// A trusted key is named by its fingerprint, `sha256:` and the 64 hex digits of the SHA-256
/// of its SubjectPublicKeyInfo, exactly as `bulwark-signature` computes it: one spelling
/// per key, so that comparing two lists (the system's and a project's) is comparing keys.
fn is_key_fingerprint(key: &str) -> bool {
    key.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

fn schema_version() -> u32 {
    POLICY_SCHEMA_VERSION
}

/// A severity name, or `none` for no threshold.
fn severity_or_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Severity>, D::Error> {
    let word = String::deserialize(deserializer)?;
    if word.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    Severity::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(
        &word.to_ascii_lowercase(),
    ))
    .map(Some)
}

/// Why a policy document was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("policy document is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    /// Syntax errors, unknown keys, wrong types (the message names the key and line).
    #[error("policy is not valid TOML: {0}")]
    Toml(#[source] Box<toml::de::Error>),
    #[error("policy is not valid YAML: {0}")]
    Yaml(#[source] Box<serde_norway::Error>),
    #[error("policy could not be written as TOML: {0}")]
    Serialize(#[source] Box<toml::ser::Error>),
    #[error(
        "policy schema version {found} is not supported (this registry reads version {supported})"
    )]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("policy field `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// One policy document, project or system. Fields are public so callers can build
/// policies in code; documents read through [`Policy::parse_toml`] or
/// [`Policy::parse_yaml`] are validated, and [`Policy::validate`] checks one built by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Schema version of the document, [`POLICY_SCHEMA_VERSION`]; a document without one
    /// is read as this version, and the stored canonical form always names it, so a
    /// future schema can change a field's meaning without stored documents silently
    /// changing theirs.
    #[serde(default = "schema_version")]
    pub version: u32,
    /// Shown in messages: `policy "<name>" rule "<rule>": …`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Block findings at or above this severity (never `unknown`); `"none"` says nothing
    /// is blocked by severity here (the system's threshold, if any, still applies).
    #[serde(
        default,
        deserialize_with = "severity_or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub block_severity: Option<Severity>,
    /// Only findings with a fixed version count toward `block_severity`. Written
    /// `block_only_fixable` (`only_fixable` is read too).
    #[serde(
        default,
        rename = "block_only_fixable",
        alias = "only_fixable",
        skip_serializing_if = "Option::is_none"
    )]
    pub only_fixable: Option<bool>,
    /// Only findings whose fix was published at least this many days ago count toward
    /// `block_severity` (implies `only_fixable`). A fix of unknown publication date counts
    /// as old enough: "we don't know when" must not become a way around the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_older_than_days: Option<u32>,
    /// Block known-malicious packages; absent means true. Only the system policy can turn
    /// it off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_malicious: Option<bool>,
    /// Refuse artifacts whose scan has not completed (or failed). Written
    /// `quarantine_unscanned` (`quarantine` is read too).
    #[serde(
        default,
        rename = "quarantine_unscanned",
        alias = "quarantine",
        skip_serializing_if = "Option::is_none"
    )]
    pub quarantine: Option<bool>,
    /// How long the caller may wait for a pending scan before refusing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine_wait_ms: Option<u64>,
    /// Block artifacts with leaked secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_secrets: Option<bool>,
    /// Only secrets at or above this severity block; absent means any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_severity: Option<Severity>,
    /// Require a verified signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_signature: Option<bool>,
    /// Keys whose signatures count; absent means any verified signature. An empty list
    /// trusts no key (every artifact fails `require_signature`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_keys: Option<Vec<String>>,
    /// The last match against advisory data must be at most this old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_match_age_hours: Option<u32>,
    /// Tags matching any of these patterns cannot be moved or deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub immutable_tags: Vec<String>,
    /// Count VEX documents attached to an image as referrers (whoever may push may attach
    /// one, and so suppress findings); absent means no: only VEX uploaded by the project's
    /// owners counts. The system's `false` stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_attached_vex: Option<bool>,
}

impl Default for Policy {
    /// No rules but the defaults: malicious packages are blocked, nothing else.
    fn default() -> Policy {
        Policy {
            version: POLICY_SCHEMA_VERSION,
            name: None,
            block_severity: None,
            only_fixable: None,
            fix_older_than_days: None,
            block_malicious: None,
            quarantine: None,
            quarantine_wait_ms: None,
            block_secrets: None,
            secret_severity: None,
            require_signature: None,
            trusted_keys: None,
            max_match_age_hours: None,
            immutable_tags: Vec::new(),
            trust_attached_vex: None,
        }
    }
}

impl Policy {
    /// Reads and validates a TOML policy document; unknown keys are errors (a misspelt
    /// rule silently doing nothing is the worst failure a policy can have).
    pub fn parse_toml(text: &str) -> Result<Policy, PolicyError> {
        check_size(text)?;
        let policy: Policy =
            toml::from_str(text).map_err(|error| PolicyError::Toml(Box::new(error)))?;
        policy.validate()?;
        Ok(policy)
    }

    /// Reads and validates a YAML policy document, with the same keys as TOML.
    pub fn parse_yaml(text: &str) -> Result<Policy, PolicyError> {
        check_size(text)?;
        let policy: Policy =
            serde_norway::from_str(text).map_err(|error| PolicyError::Yaml(Box::new(error)))?;
        policy.validate()?;
        Ok(policy)
    }

    /// The policy as a TOML document that [`Policy::parse_toml`] reads back unchanged.
    pub fn to_toml(&self) -> Result<String, PolicyError> {
        toml::to_string(self).map_err(|error| PolicyError::Serialize(Box::new(error)))
    }

    /// Checks the values serde cannot: the schema version, ranges, tag patterns, names.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.version != POLICY_SCHEMA_VERSION {
            return Err(PolicyError::UnsupportedVersion {
                found: self.version,
                supported: POLICY_SCHEMA_VERSION,
            });
        }
        // The name is quoted in messages, so it must not be able to close the quote or
        // break the line.
        if let Some(name) = &self.name
            && (name.trim().is_empty()
                || name.chars().count() > MAX_NAME_LEN
                || name
                    .chars()
                    .any(|c| c.is_control() || c == '"' || c == '\\'))
        {
            return Err(invalid(
                "name",
                format!(
                    "{name:?} must be 1 to {MAX_NAME_LEN} characters without quotes, backslashes or control characters"
                ),
            ));
        }
        if self.block_severity == Some(Severity::Unknown) {
            return Err(invalid(
                "block_severity",
                "\"unknown\" is not a threshold (unrated findings never block by severity); use low, medium, high or critical".to_owned(),
            ));
        }
        if self.secret_severity == Some(Severity::Unknown) {
            return Err(invalid(
                "secret_severity",
                "\"unknown\" is not a threshold; use low, medium, high or critical, or leave it out to block any secret".to_owned(),
            ));
        }
        if let Some(days) = self.fix_older_than_days
            && days > MAX_FIX_AGE_DAYS
        {
            return Err(invalid(
                "fix_older_than_days",
                format!("{days} is more than {MAX_FIX_AGE_DAYS}"),
            ));
        }
        if let Some(wait) = self.quarantine_wait_ms
            && wait > MAX_QUARANTINE_WAIT_MS
        {
            return Err(invalid(
                "quarantine_wait_ms",
                format!("{wait} is more than {MAX_QUARANTINE_WAIT_MS}"),
            ));
        }
        if let Some(hours) = self.max_match_age_hours
            && (hours == 0 || hours > MAX_MATCH_AGE_HOURS)
        {
            return Err(invalid(
                "max_match_age_hours",
                format!("{hours} is not between 1 and {MAX_MATCH_AGE_HOURS}"),
            ));
        }
        if let Some(keys) = &self.trusted_keys {
            if keys.len() > MAX_TRUSTED_KEYS {
                return Err(invalid(
                    "trusted_keys",
                    format!("more than {MAX_TRUSTED_KEYS} keys"),
                ));
            }
            if let Some(key) = keys.iter().find(|key| !is_key_fingerprint(key)) {
                let shown: String = key.chars().take(80).collect();
                return Err(invalid(
                    "trusted_keys",
                    format!(
                        "{shown:?} is not a key fingerprint: `sha256:` and 64 lower-case hex \
                         digits (the SHA-256 of the key's DER SubjectPublicKeyInfo)"
                    ),
                ));
            }
        }
        if self.immutable_tags.len() > MAX_IMMUTABLE_TAG_PATTERNS {
            return Err(invalid(
                "immutable_tags",
                format!("more than {MAX_IMMUTABLE_TAG_PATTERNS} patterns"),
            ));
        }
        if let Some(reason) = self
            .immutable_tags
            .iter()
            .find_map(|pattern| glob::pattern_error(pattern.as_str()))
        {
            return Err(invalid("immutable_tags", reason));
        }
        Ok(())
    }

    /// The policy that applies to a project: `project` tightening `system`, never
    /// loosening it. Per field:
    ///
    /// - `block_severity`, `only_fixable`, `fix_older_than_days` are one rule. If only one
    ///   side sets a threshold, its rule is taken whole. If both do: the lower threshold,
    ///   `only_fixable` only if both say so, and the smaller fix age (none if either has
    ///   none). The result blocks everything either rule blocks (each knob is monotone).
    /// - `block_malicious`: the system's value (default true), or true if the project
    ///   says true. A project's `false` is ignored.
    /// - `quarantine`, `block_secrets`, `require_signature`: on if either side turns them on.
    /// - `quarantine_wait_ms`: the smaller; the wait holds server resources, so the system
    ///   value is a ceiling.
    /// - `secret_severity`: as the severity rule: the lower threshold, absent (any
    ///   secret) if either side blocks any secret.
    /// - `trusted_keys`: when both sides require signatures and both list keys, only keys
    ///   both trust (possibly none, which then refuses every artifact); otherwise the list
    ///   of the side that has one.
    /// - `max_match_age_hours`: the smaller.
    /// - `immutable_tags`: the union, sorted.
    /// - `trust_attached_vex`: the project's, unless the system says `false` (trusting
    ///   pushers' VEX loosens the rules, so the system can forbid it).
    /// - `name`: the project's, else the system's.
    pub fn effective(system: &Policy, project: &Policy) -> Policy {
        let (block_severity, only_fixable, fix_older_than_days) =
            match (system.block_severity, project.block_severity) {
                (None, None) => (None, None, None),
                (Some(_), None) => (
                    system.block_severity,
                    system.only_fixable,
                    system.fix_older_than_days,
                ),
                (None, Some(_)) => (
                    project.block_severity,
                    project.only_fixable,
                    project.fix_older_than_days,
                ),
                (Some(a), Some(b)) => (
                    Some(a.min(b)),
                    Some(
                        system.only_fixable.unwrap_or(false)
                            && project.only_fixable.unwrap_or(false),
                    ),
                    both_or_none(system.fix_older_than_days, project.fix_older_than_days),
                ),
            };
        let (block_secrets, secret_severity) =
            match (system.blocks_secrets(), project.blocks_secrets()) {
                (false, false) => (either_on(system.block_secrets, project.block_secrets), None),
                (true, false) => (Some(true), system.secret_severity),
                (false, true) => (Some(true), project.secret_severity),
                (true, true) => (
                    Some(true),
                    both_or_none(system.secret_severity, project.secret_severity),
                ),
            };
        let (require_signature, trusted_keys) =
            match (system.requires_signature(), project.requires_signature()) {
                (false, false) => (
                    either_on(system.require_signature, project.require_signature),
                    None,
                ),
                (true, false) => (Some(true), system.trusted_keys.clone()),
                (false, true) => (Some(true), project.trusted_keys.clone()),
                (true, true) => (
                    Some(true),
                    match (&system.trusted_keys, &project.trusted_keys) {
                        (None, keys) | (keys, None) => keys.clone(),
                        (Some(system_keys), Some(project_keys)) => Some(
                            system_keys
                                .iter()
                                .filter(|key| project_keys.contains(key))
                                .cloned()
                                .collect(),
                        ),
                    },
                ),
            };
        let trusted_keys = trusted_keys.map(|mut keys| {
            keys.sort();
            keys.dedup();
            keys
        });
        let mut immutable_tags: Vec<String> = system
            .immutable_tags
            .iter()
            .chain(&project.immutable_tags)
            .cloned()
            .collect();
        immutable_tags.sort();
        immutable_tags.dedup();
        Policy {
            version: POLICY_SCHEMA_VERSION,
            name: project.name.clone().or_else(|| system.name.clone()),
            block_severity,
            only_fixable,
            fix_older_than_days,
            block_malicious: Some(
                system.block_malicious.unwrap_or(true) || project.block_malicious == Some(true),
            ),
            quarantine: either_on(system.quarantine, project.quarantine),
            quarantine_wait_ms: smaller(system.quarantine_wait_ms, project.quarantine_wait_ms),
            block_secrets,
            secret_severity,
            require_signature,
            trusted_keys,
            max_match_age_hours: smaller(system.max_match_age_hours, project.max_match_age_hours),
            immutable_tags,
            trust_attached_vex: match (system.trust_attached_vex, project.trust_attached_vex) {
                (Some(false), _) => Some(false),
                (_, Some(trust)) => Some(trust),
                (system, None) => system,
            },
        }
    }

    /// Whether VEX documents attached as referrers count (absent: no).
    pub fn trusts_attached_vex(&self) -> bool {
        self.trust_attached_vex.unwrap_or(false)
    }

    /// Whether known-malicious packages are blocked (absent: yes).
    pub fn blocks_malicious(&self) -> bool {
        self.block_malicious.unwrap_or(true)
    }

    /// Whether artifacts without a completed scan are refused.
    pub fn quarantines(&self) -> bool {
        self.quarantine.unwrap_or(false)
    }

    /// How long the caller may wait for a pending scan.
    pub fn quarantine_wait_ms(&self) -> u64 {
        self.quarantine_wait_ms
            .unwrap_or(DEFAULT_QUARANTINE_WAIT_MS)
    }

    /// Whether leaked secrets block.
    pub fn blocks_secrets(&self) -> bool {
        self.block_secrets.unwrap_or(false)
    }

    /// Whether a signature from a trusted key is required.
    pub fn requires_signature(&self) -> bool {
        self.require_signature.unwrap_or(false)
    }

    /// The policy as canonical JSON: fields in declaration order, lists sorted and
    /// deduplicated, absent fields omitted. Equal policies have equal canonical forms;
    /// [`crate::DecisionKey::cache_key`] embeds it whole.
    pub fn canonical(&self) -> String {
        let mut normal = self.clone();
        normal.immutable_tags.sort();
        normal.immutable_tags.dedup();
        if let Some(keys) = &mut normal.trusted_keys {
            keys.sort();
            keys.dedup();
        }
        // Serializing this struct (strings, numbers, booleans, lists) cannot fail.
        serde_json::to_string(&normal).unwrap_or_default()
    }

    /// FNV-1a (64-bit) of [`Policy::canonical`]: stable across builds and releases (unlike
    /// `DefaultHasher`), cheap, good for ETags, logs and noticing that a policy changed.
    /// Not collision-resistant: whoever writes a project policy can craft two with the
    /// same fingerprint, so a cache shared across projects must not be keyed by it alone;
    /// [`crate::DecisionKey::cache_key`] uses the canonical form instead.
    pub fn fingerprint(&self) -> u64 {
        fnv1a64(self.canonical().as_bytes())
    }
}

/// FNV-1a, 64-bit (offset basis and prime from the FNV reference).
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

fn check_size(text: &str) -> Result<(), PolicyError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge {
            size: text.len(),
            max: MAX_POLICY_BYTES,
        });
    }
    Ok(())
}

fn invalid(field: &'static str, reason: String) -> PolicyError {
    PolicyError::Invalid { field, reason }
}

/// The stricter of two conditions where absence is the strictest (no condition) and a
/// smaller value is stricter.
fn both_or_none<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => None,
    }
}

/// The smaller of two limits where absence means no limit.
fn smaller<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// On if either side turns it on; otherwise whichever side said anything.
fn either_on(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    if a == Some(true) || b == Some(true) {
        Some(true)
    } else {
        a.or(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL_TOML: &str = r#"
version = 1
name = "no-critical"
block_severity = "critical"
only_fixable = true
fix_older_than_days = 14
block_malicious = true
quarantine = true
quarantine_wait_ms = 3000
block_secrets = true
secret_severity = "high"
require_signature = true
trusted_keys = ["sha256:abababababababababababababababababababababababababababababababab"]
max_match_age_hours = 24
immutable_tags = ["v*", "release-*"]
"#;

    const FULL_YAML: &str = r#"
version: 1
name: no-critical
block_severity: critical
only_fixable: true
fix_older_than_days: 14
block_malicious: true
quarantine: true
quarantine_wait_ms: 3000
block_secrets: true
secret_severity: high
require_signature: true
trusted_keys: ["sha256:abababababababababababababababababababababababababababababababab"]
max_match_age_hours: 24
immutable_tags:
  - "v*"
  - "release-*"
"#;

    fn policy() -> Policy {
        Policy::default()
    }

    fn keys(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|key| (*key).to_owned()).collect())
    }

    #[test]
    fn reads_every_field_from_toml_and_yaml_alike() {
        let toml = Policy::parse_toml(FULL_TOML).unwrap();
        assert_eq!(toml.name.as_deref(), Some("no-critical"));
        assert_eq!(toml.block_severity, Some(Severity::Critical));
        assert_eq!(toml.fix_older_than_days, Some(14));
        assert_eq!(toml.quarantine_wait_ms(), 3000);
        assert_eq!(toml.secret_severity, Some(Severity::High));
        assert_eq!(
            toml.trusted_keys,
            Some(vec![
                "sha256:abababababababababababababababababababababababababababababababab"
                    .to_owned()
            ])
        );
        assert_eq!(toml.immutable_tags, vec!["v*", "release-*"]);
        assert_eq!(Policy::parse_yaml(FULL_YAML).unwrap(), toml);
    }

    #[test]
    fn writes_toml_that_reads_back_unchanged() {
        let full = Policy::parse_toml(FULL_TOML).unwrap();
        let written = full.to_toml().unwrap();
        assert_eq!(Policy::parse_toml(&written).unwrap(), full);
        assert_eq!(policy().to_toml().unwrap().trim(), "version = 1");
    }

    #[test]
    fn trusted_keys_are_fingerprints() {
        for bad in ["SHA256:team-key", "sha256:AB", "team-key", ""] {
            let text = format!("version = 1\ntrusted_keys = [\"{bad}\"]\n");
            let error = Policy::parse_toml(&text).unwrap_err();
            assert!(
                error.to_string().contains("not a key fingerprint"),
                "{error}"
            );
        }
        let good = format!(
            "version = 1\ntrusted_keys = [\"sha256:{}\"]\n",
            "0f".repeat(32)
        );
        assert!(Policy::parse_toml(&good).is_ok());
    }

    #[test]
    fn rejects_unknown_keys_in_both_formats() {
        let error = Policy::parse_toml("version = 1\nblock_severty = \"high\"\n").unwrap_err();
        assert!(matches!(error, PolicyError::Toml(_)));
        assert!(error.to_string().contains("block_severty"), "{error}");
        let error = Policy::parse_yaml("version: 1\nblock_severty: high\n").unwrap_err();
        assert!(matches!(error, PolicyError::Yaml(_)));
        assert!(error.to_string().contains("block_severty"), "{error}");
    }

    #[test]
    fn requires_a_supported_schema_version() {
        // No version: the current one (the issue's documented file has none).
        let unversioned = Policy::parse_toml(
            "block_severity = \"high\"\nblock_only_fixable = false\nquarantine_unscanned = true\n\
             block_secrets = true\nrequire_signature = true\nimmutable_tags = [\"v*\", \"release-*\"]\n",
        )
        .unwrap();
        assert_eq!(unversioned.version, POLICY_SCHEMA_VERSION);
        assert_eq!(unversioned.quarantine, Some(true));
        assert_eq!(unversioned.only_fixable, Some(false));
        let canonical = unversioned.to_toml().unwrap();
        assert!(canonical.contains("version = 1"), "{canonical}");
        assert!(
            canonical.contains("quarantine_unscanned = true"),
            "{canonical}"
        );
        assert_eq!(Policy::parse_toml(&canonical).unwrap(), unversioned);
        // `none` switches the threshold off (here; a system threshold still applies).
        let off = Policy::parse_toml("block_severity = \"none\"\n").unwrap();
        assert_eq!(off.block_severity, None);
        assert!(Policy::parse_toml("block_severity = \"severe\"\n").is_err());
        let error = Policy::parse_toml("version = 2\n").unwrap_err();
        assert!(matches!(
            error,
            PolicyError::UnsupportedVersion {
                found: 2,
                supported: 1
            }
        ));
    }

    #[test]
    fn rejects_values_out_of_range_with_the_field_named() {
        let cases = [
            ("block_severity = \"unknown\"", "block_severity"),
            ("block_severity = \"severe\"", "block_severity"),
            ("secret_severity = \"unknown\"", "secret_severity"),
            ("fix_older_than_days = 4000", "fix_older_than_days"),
            ("quarantine_wait_ms = 600000", "quarantine_wait_ms"),
            ("max_match_age_hours = 0", "max_match_age_hours"),
            ("trusted_keys = [\"\"]", "trusted_keys"),
            ("trusted_keys = [\"a b\"]", "trusted_keys"),
            ("immutable_tags = [\"team/*\"]", "immutable_tags"),
            ("immutable_tags = [\"\"]", "immutable_tags"),
            ("name = \"say \\\"hi\\\"\"", "name"),
            ("name = \"\"", "name"),
            ("quarantine = \"yes\"", "quarantine"),
        ];
        for (line, field) in cases {
            let error = Policy::parse_toml(&format!("version = 1\n{line}\n")).unwrap_err();
            assert!(error.to_string().contains(field), "{line}: {error}");
        }
        let huge = format!("version = 1\n#{}\n", "x".repeat(MAX_POLICY_BYTES));
        assert!(matches!(
            Policy::parse_toml(&huge),
            Err(PolicyError::TooLarge { .. })
        ));
    }

    #[test]
    fn an_empty_trusted_key_list_is_accepted_and_trusts_nobody() {
        let policy = Policy::parse_toml("version = 1\ntrusted_keys = []\n").unwrap();
        assert_eq!(policy.trusted_keys, Some(vec![]));
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn fingerprint_is_canonical_and_changes_with_the_policy() {
        let a = Policy {
            immutable_tags: vec!["v*".into(), "latest".into(), "v*".into()],
            ..policy()
        };
        let b = Policy {
            immutable_tags: vec!["latest".into(), "v*".into()],
            ..policy()
        };
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.canonical(), b.canonical());
        let c = Policy {
            block_severity: Some(Severity::High),
            ..b.clone()
        };
        assert_ne!(b.fingerprint(), c.fingerprint());
        // Stable across builds: pinned.
        assert_eq!(policy().canonical(), r#"{"version":1}"#);
        assert_eq!(policy().fingerprint(), fnv1a64(br#"{"version":1}"#));
    }

    #[test]
    fn severity_rule_takes_the_stricter_of_each_knob() {
        let system = Policy {
            block_severity: Some(Severity::Critical),
            only_fixable: Some(true),
            fix_older_than_days: Some(30),
            ..policy()
        };
        let project = Policy {
            block_severity: Some(Severity::High),
            only_fixable: Some(true),
            fix_older_than_days: Some(7),
            ..policy()
        };
        let effective = Policy::effective(&system, &project);
        assert_eq!(effective.block_severity, Some(Severity::High));
        assert_eq!(effective.only_fixable, Some(true));
        assert_eq!(effective.fix_older_than_days, Some(7));

        let project = Policy {
            block_severity: Some(Severity::Critical),
            only_fixable: Some(false),
            ..policy()
        };
        let effective = Policy::effective(&system, &project);
        assert_eq!(effective.only_fixable, Some(false));
        assert_eq!(effective.fix_older_than_days, None);
    }

    #[test]
    fn a_project_cannot_loosen_the_system_severity_rule() {
        let system = Policy {
            block_severity: Some(Severity::High),
            ..policy()
        };
        // Saying nothing inherits; asking for "only fixable" cannot relax the system rule.
        let silent = Policy::effective(&system, &policy());
        assert_eq!(silent.block_severity, Some(Severity::High));
        let looser = Policy {
            block_severity: Some(Severity::Critical),
            only_fixable: Some(true),
            fix_older_than_days: Some(90),
            ..policy()
        };
        let effective = Policy::effective(&system, &looser);
        assert_eq!(effective.block_severity, Some(Severity::High));
        assert_eq!(effective.only_fixable, Some(false));
        assert_eq!(effective.fix_older_than_days, None);
    }

    #[test]
    fn a_project_rule_stands_alone_where_the_system_has_none() {
        let project = Policy {
            block_severity: Some(Severity::Critical),
            only_fixable: Some(true),
            ..policy()
        };
        let effective = Policy::effective(&policy(), &project);
        assert_eq!(effective.block_severity, Some(Severity::Critical));
        assert_eq!(effective.only_fixable, Some(true));
    }

    #[test]
    fn only_the_system_can_stop_blocking_malicious_packages() {
        let off = Policy {
            block_malicious: Some(false),
            ..policy()
        };
        let on = Policy {
            block_malicious: Some(true),
            ..policy()
        };
        assert!(Policy::effective(&policy(), &off).blocks_malicious());
        assert!(!Policy::effective(&off, &policy()).blocks_malicious());
        assert!(!Policy::effective(&off, &off).blocks_malicious());
        assert!(Policy::effective(&off, &on).blocks_malicious());
    }

    #[test]
    fn booleans_or_and_limits_take_the_smaller() {
        let system = Policy {
            quarantine: Some(true),
            quarantine_wait_ms: Some(2_000),
            max_match_age_hours: Some(48),
            ..policy()
        };
        let project = Policy {
            quarantine: Some(false),
            quarantine_wait_ms: Some(10_000),
            max_match_age_hours: Some(12),
            block_secrets: Some(true),
            ..policy()
        };
        let effective = Policy::effective(&system, &project);
        assert!(effective.quarantines());
        assert_eq!(effective.quarantine_wait_ms(), 2_000);
        assert_eq!(effective.max_match_age_hours, Some(12));
        assert!(effective.blocks_secrets());
        assert_eq!(
            Policy::effective(&policy(), &policy()).quarantine_wait_ms(),
            5_000
        );
    }

    #[test]
    fn secret_thresholds_merge_like_severity() {
        let any = Policy {
            block_secrets: Some(true),
            ..policy()
        };
        let high = Policy {
            block_secrets: Some(true),
            secret_severity: Some(Severity::High),
            ..policy()
        };
        let medium = Policy {
            block_secrets: Some(true),
            secret_severity: Some(Severity::Medium),
            ..policy()
        };
        assert_eq!(Policy::effective(&high, &any).secret_severity, None);
        assert_eq!(
            Policy::effective(&high, &medium).secret_severity,
            Some(Severity::Medium)
        );
        assert_eq!(
            Policy::effective(&policy(), &high).secret_severity,
            Some(Severity::High)
        );
        // A project that does not block secrets cannot add a threshold to the system rule.
        let threshold_only = Policy {
            secret_severity: Some(Severity::Critical),
            ..policy()
        };
        assert_eq!(
            Policy::effective(&any, &threshold_only).secret_severity,
            None
        );
    }

    #[test]
    fn trusted_keys_narrow_when_both_sides_require_signatures() {
        let system = Policy {
            require_signature: Some(true),
            trusted_keys: keys(&["org", "team"]),
            ..policy()
        };
        let project = Policy {
            require_signature: Some(true),
            trusted_keys: keys(&["team", "personal"]),
            ..policy()
        };
        assert_eq!(
            Policy::effective(&system, &project).trusted_keys,
            keys(&["team"])
        );
        let any_key = Policy {
            require_signature: Some(true),
            ..policy()
        };
        assert_eq!(
            Policy::effective(&any_key, &project).trusted_keys,
            keys(&["personal", "team"])
        );
        let disjoint = Policy {
            require_signature: Some(true),
            trusted_keys: keys(&["other"]),
            ..policy()
        };
        assert_eq!(
            Policy::effective(&system, &disjoint).trusted_keys,
            Some(vec![])
        );
        // A project that does not require signatures cannot swap the system's keys.
        let swap = Policy {
            trusted_keys: keys(&["mine"]),
            ..policy()
        };
        assert_eq!(
            Policy::effective(&system, &swap).trusted_keys,
            keys(&["org", "team"])
        );
    }

    #[test]
    fn immutable_tags_are_the_union_and_names_prefer_the_project() {
        let system = Policy {
            name: Some("baseline".into()),
            immutable_tags: vec!["v*".into()],
            ..policy()
        };
        let project = Policy {
            immutable_tags: vec!["release-*".into(), "v*".into()],
            ..policy()
        };
        let effective = Policy::effective(&system, &project);
        assert_eq!(effective.immutable_tags, vec!["release-*", "v*"]);
        assert_eq!(effective.name.as_deref(), Some("baseline"));
        let named = Policy {
            name: Some("team".into()),
            ..project
        };
        assert_eq!(
            Policy::effective(&system, &named).name.as_deref(),
            Some("team")
        );
    }
}
