//! Bulwark's vulnerability knowledge base, as pure logic: the OSV record model, its
//! validation, package URLs, per-ecosystem package names, exact range matching and an
//! in-memory index. No I/O beyond parsing bytes handed in.
//!
//! An importer streams records one by one: [`parse_json`] / [`parse_yaml`] give a checked
//! [`Vulnerability`] or a [`RecordError`] naming the record and every problem, so the
//! record is reported and skipped while the import goes on. Records loaded from storage
//! feed an [`AdvisoryIndex`] the same way, through [`AdvisoryIndex::insert`].
//!
//! *Invariant:* a version is reported affected only when an advisory says so under the
//! ecosystem's exact ordering (from `bulwark-version`) or lists it explicitly. What cannot
//! be decided (unparseable versions, ecosystems without an ordering) is reported as
//! [`Undetermined`], never guessed.
//!
//! # Example
//!
//! ```
//! use bulwark_advisory::{AdvisoryIndex, parse_json};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let record = parse_json(br#"{
//!     "id": "GHSA-test", "modified": "2024-01-01T00:00:00Z",
//!     "affected": [{"package": {"ecosystem": "PyPI", "name": "Django"},
//!                   "ranges": [{"type": "ECOSYSTEM",
//!                               "events": [{"introduced": "0"}, {"fixed": "2.2.24"}]}]}]
//! }"#)?;
//! let index: AdvisoryIndex = [record].into_iter().collect();
//! let result = index.query("PyPI", "django", "2.2.0");
//! assert_eq!(result.findings[0].vulnerability.id, "GHSA-test");
//! assert_eq!(result.findings[0].fixed, ["2.2.24"]);
//! # Ok(())
//! # }
//! ```

mod index;
pub mod nodejs_wg;
pub mod osv;
mod range;
mod record;
mod severity;

pub use index::{
    AdvisoryIndex, Finding, IndexedAdvisory, Insertion, QueryError, QueryResult, Undetermined,
};
pub use osv::Vulnerability;
// Package identity lives in the vocabulary crate; re-exported for this crate's callers.
pub use bulwark_package::{EcosystemKey, PackageKey, Purl, PurlError, normalize_name};
pub use range::{CompiledRange, RangeOutcome};
pub use record::{Problem, RecordError, RecordErrorKind, parse_json, parse_yaml};
pub use severity::{NormalizedSeverity, SeveritySource};
