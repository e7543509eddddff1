//! Bulwark's vulnerability database as a service: OSV records imported into the metadata
//! store (SQLite or PostgreSQL, the registry's own storage), kept up to date from osv.dev's
//! per-ecosystem archives, and queried per package version.
//!
//! - [`VulnDb::import`] reads directories, zip archives, JSON-lines files or single record
//!   files, streaming: records are read, parsed and checked one at a time
//!   (`bulwark-advisory`), a malformed one is reported with its id and location and skipped,
//!   and each source is applied all-or-nothing (see `bulwark-metadata`'s advisory storage).
//! - [`VulnDb::update`] downloads `{base_url}/{ecosystem}/all.zip` to a temporary file and
//!   imports it.
//! - [`VulnDb::query`] loads the stored records that name the package (one indexed lookup by
//!   ecosystem key and normalised name) into a small [`AdvisoryIndex`] and asks it, so a
//!   one-off query costs a few records' parsing, not the whole database's; the findings of
//!   records that are aliases of each other are reported as one vulnerability.
//! - [`VulnDb::load_index`] builds the full in-memory index from the store, for scanning
//!   many packages at once.
//!
//! *Invariant:* no HTTP server and no printing here; the CLI owns presentation.

mod import;
mod query;
mod source;
mod update;

use std::path::PathBuf;

use bulwark_advisory::{AdvisoryIndex, PurlError, QueryError, parse_json};
use bulwark_metadata::{MetadataError, MetadataStore};
use serde::Serialize;

pub use import::{ImportReport, MalformedRecord, Progress, ProgressFn};
pub use query::{
    PackageVersions, QueryReport, SeverityReport, UndeterminedMatch, VulnerabilityMatch,
};
pub use update::DEFAULT_BASE_URL;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VulnDbError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable zip archive: {source}")]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
    #[error("{0}: not a directory, .zip, .jsonl, .json, .yaml or .yml")]
    UnsupportedSource(PathBuf),
    #[error("downloading {url}: {message}")]
    Download { url: String, message: String },
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("stored record {id} no longer parses: {message}")]
    CorruptStoredRecord { id: String, message: String },
    #[error("invalid purl: {0}")]
    Purl(#[from] PurlError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("the record reader stopped unexpectedly: {0}")]
    Reader(String),
}

/// The vulnerability database on a metadata store; cheap to clone.
#[derive(Debug, Clone)]
pub struct VulnDb {
    store: MetadataStore,
}

/// The state of the database.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Status {
    /// Stored records, withdrawn ones included.
    pub records: u64,
    pub withdrawn: u64,
    /// The newest `modified` of any record (RFC 3339).
    pub newest_modified: Option<String>,
    /// The last applied import.
    pub last_import: Option<LastImport>,
    /// Per ecosystem key (`PyPI`, `Debian:12`), in name order.
    pub ecosystems: Vec<EcosystemStatus>,
}

/// The last applied import.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LastImport {
    pub source: String,
    /// RFC 3339.
    pub finished_at: String,
    pub age_seconds: u64,
}

/// One ecosystem's records and freshness.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EcosystemStatus {
    pub ecosystem: String,
    /// Records naming a package of it, withdrawn ones included.
    pub records: u64,
    pub withdrawn: u64,
    /// When an import last covered it (RFC 3339).
    pub last_import_at: String,
    /// Seconds since then: how stale this ecosystem's data may be.
    pub age_seconds: u64,
    /// The path or URL that import read.
    pub last_source: String,
}

fn rfc3339_millis(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| millis.to_string())
}

fn age_seconds(millis: i64) -> u64 {
    u64::try_from(bulwark_metadata::now_millis().saturating_sub(millis) / 1000).unwrap_or(0)
}

impl VulnDb {
    pub fn new(store: MetadataStore) -> VulnDb {
        VulnDb { store }
    }

    /// Record counts, the last import and each ecosystem's freshness.
    pub async fn status(&self) -> Result<Status, VulnDbError> {
        let status = self.store.advisory_status().await?;
        Ok(Status {
            records: status.records,
            withdrawn: status.withdrawn,
            newest_modified: status.newest_modified.map(|micros| {
                jiff::Timestamp::from_microsecond(micros)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|_| micros.to_string())
            }),
            last_import: status.last_import.map(|last| LastImport {
                source: last.source,
                finished_at: rfc3339_millis(last.finished_at),
                age_seconds: age_seconds(last.finished_at),
            }),
            ecosystems: status
                .ecosystems
                .into_iter()
                .map(|e| EcosystemStatus {
                    ecosystem: e.ecosystem,
                    records: e.records,
                    withdrawn: e.withdrawn,
                    last_import_at: rfc3339_millis(e.last_import_at),
                    age_seconds: age_seconds(e.last_import_at),
                    last_source: e.last_source,
                })
                .collect(),
        })
    }

    /// Every stored record that is not withdrawn, in one in-memory index.
    pub async fn load_index(&self) -> Result<AdvisoryIndex, VulnDbError> {
        const PAGE: u32 = 2_000;
        let mut index = AdvisoryIndex::new();
        let mut after = String::new();
        loop {
            let page = self.store.advisory_page(&after, PAGE).await?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = last.clone();
            for (id, json) in page {
                let record = parse_json(json.as_bytes()).map_err(|error| {
                    VulnDbError::CorruptStoredRecord {
                        id,
                        message: error.to_string(),
                    }
                })?;
                index.insert(record);
            }
        }
        Ok(index)
    }
}
