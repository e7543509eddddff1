//! The registry's one policy decision point: whether an artifact may be pulled (or
//! promoted, or deployed) is a pure function of
//!
//! ```text
//! (artifact facts, effective policy, exceptions, VEX statements, now) → Decision
//! ```
//!
//! - [`ArtifactFacts`]: what other crates found out about one digest: scan state,
//!   vulnerability [`Finding`]s, leaked [`SecretFact`]s, [`VerifiedSignature`]s and when
//!   the findings were matched against advisory data.
//! - [`Policy`]: per-project TOML or YAML documents, validated on read, and a system-wide
//!   policy a project can tighten but never loosen ([`Policy::effective`]).
//! - [`Exception`]s: reasoned, expiring waivers of one vulnerability, scoped to the system
//!   or one project; [`stale_exceptions`] finds the ones that match nothing any more.
//! - [`VexStatement`]s: OpenVEX, CycloneDX and CSAF documents read into one model
//!   ([`parse_vex`]); `not_affected` and `fixed` suppress matching findings.
//! - [`Decision`]: allowed or not, every [`Violation`] with its rule and findings, every
//!   [`Suppression`] with who or what suppressed it (nothing is dropped silently),
//!   whether the caller may wait for a pending scan, and until when the decision holds.
//!
//! Tag immutability is a separate question, answered by [`tag_change`].
//!
//! Architecture invariants: no I/O, no clock, no async, no global state. Time is always
//! passed in as Unix milliseconds, so a decision can be replayed and tested exactly, and
//! waiting for a scan is the caller's business ([`Decision::wait_for_scan`]). This crate
//! is the only place that decides whether an artifact passes policy; callers render, log
//! and cache its [`Decision`], they do not second-guess it. Every public type serializes,
//! so the API can return decisions as JSON.
//!
//! Fail-closed choices, where the specification left room:
//! - an unrated finding never blocks by severity (it is not evidence of impact), but a
//!   fix of unknown age counts as old enough, and a missing advisory match counts as
//!   stale;
//! - malicious packages are only waived by system exceptions, never by VEX;
//! - conflicting VEX statements of equal time resolve to the one that does not suppress.

mod decision;
mod exceptions;
mod facts;
mod glob;
mod policy;
pub mod vex;

pub use decision::{
    Decision, DecisionKey, FindingRef, Rule, SuppressedBy, Suppression, TagChange, Violation,
    decide, tag_change,
};
pub use exceptions::{Exception, ExceptionError, Scope, stale_exceptions};
pub use facts::{ArtifactFacts, Finding, ScanState, SecretFact, Severity, VerifiedSignature};
pub use glob::{MAX_PATTERN_LEN, glob_match, pattern_error};
pub use policy::{
    DEFAULT_QUARANTINE_WAIT_MS, MAX_FIX_AGE_DAYS, MAX_IMMUTABLE_TAG_PATTERNS, MAX_MATCH_AGE_HOURS,
    MAX_POLICY_BYTES, MAX_QUARANTINE_WAIT_MS, MAX_TRUSTED_KEYS, POLICY_SCHEMA_VERSION, Policy,
    PolicyError,
};
pub use vex::{
    MAX_VEX_BYTES, MAX_VEX_STATEMENTS, Product, VexError, VexFormat, VexStatement, VexStatus,
    detect_vex, parse_vex, parse_vex_as,
};
