//! Importing sources: read and parse on a blocking thread, stage batches in the store as
//! they come, apply each source in one transaction at its end.
//!
//! Reading and parsing (CPU) run beside the database writes (on SQLite, its own worker
//! thread), connected by a bounded channel, so neither waits long for the other and at most
//! a few batches are in memory at once.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use bulwark_advisory::{PackageKey, RecordErrorKind, Vulnerability, parse_json, parse_yaml};
use bulwark_metadata::AdvisoryRecord;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::source::{self, Format, Item, RawRecord, SourceKind};
use crate::{VulnDb, VulnDbError};

/// Records per batch handed from the reader to the store.
const BATCH: usize = 1_000;
/// Batches the reader may run ahead.
const BATCHES_AHEAD: usize = 4;

/// What happened to one source.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ImportReport {
    /// The path or URL read.
    pub source: String,
    /// Records read, malformed ones included.
    pub read: u64,
    /// Ids not stored before.
    pub added: u64,
    /// Ids whose stored copy was older.
    pub replaced: u64,
    /// Records skipped because the stored copy is as new or newer.
    pub unchanged: u64,
    /// Of the added and replaced records, the withdrawn ones.
    pub withdrawn: u64,
    /// Records skipped because they could not be read or used.
    pub malformed: Vec<MalformedRecord>,
    /// The server answered that the archive has not changed since the last update, so it
    /// was not downloaded again.
    pub not_modified: bool,
    /// Why the source as a whole failed; when set, nothing of it was applied.
    pub failure: Option<String>,
}

/// A record that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct MalformedRecord {
    /// A file, `archive.zip!entry` or `file.jsonl:line`.
    pub location: String,
    /// The record's id, when it could be read.
    pub id: Option<String>,
    pub message: String,
}

/// Where an import or update is, for progress display.
#[derive(Debug)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// Bytes of an archive received so far.
    Download {
        url: &'a str,
        received: u64,
        total: Option<u64>,
    },
    /// Records of a source read so far; `total` when the source says up front (archives).
    Read {
        source: &'a str,
        records: u64,
        total: Option<u64>,
    },
    /// The source is read; its records are being applied.
    Apply { source: &'a str },
    /// The source is done (applied, or failed and discarded).
    Done { report: &'a ImportReport },
}

/// A callback receiving [`Progress`].
pub type ProgressFn<'p> = dyn FnMut(Progress<'_>) + Send + 'p;

enum Message {
    Total(u64),
    Batch {
        records: Vec<AdvisoryRecord>,
        malformed: Vec<MalformedRecord>,
        read: u64,
    },
}

impl ImportReport {
    fn failed(source: &str, error: &VulnDbError) -> ImportReport {
        ImportReport {
            source: source.to_owned(),
            failure: Some(error.to_string()),
            ..ImportReport::default()
        }
    }
}

impl VulnDb {
    /// Imports each path as one source, in order. A source that fails (unreadable, corrupt
    /// archive, database error) is reported and leaves the store as it was; the others go on.
    pub async fn import(
        &self,
        paths: &[PathBuf],
        progress: &mut ProgressFn<'_>,
    ) -> Vec<ImportReport> {
        let mut sources = Vec::with_capacity(paths.len());
        for path in paths {
            if path.is_dir() {
                let (has_records, archives) = crate::source::directory_contents(path);
                if has_records || archives.is_empty() {
                    sources.push(path.clone());
                }
                sources.extend(archives);
            } else {
                sources.push(path.clone());
            }
        }
        let mut reports = Vec::with_capacity(sources.len());
        for path in &sources {
            let label = path.display().to_string();
            let report = match SourceKind::of(path) {
                Ok(kind) => self.import_source(path, kind, &label, None, progress).await,
                Err(error) => ImportReport::failed(&label, &error),
            };
            progress(Progress::Done { report: &report });
            reports.push(report);
        }
        reports
    }

    /// Imports one source, named `label` in reports and bookkeeping, logged with the
    /// download's `etag` if there is one.
    pub(crate) async fn import_source(
        &self,
        path: &Path,
        kind: SourceKind,
        label: &str,
        etag: Option<String>,
        progress: &mut ProgressFn<'_>,
    ) -> ImportReport {
        let mut report = ImportReport {
            source: label.to_owned(),
            ..ImportReport::default()
        };
        if let Err(error) = self
            .stage_and_apply(path, kind, etag, &mut report, progress)
            .await
        {
            // Whatever was staged went with the import's connection.
            report.failure = Some(error.to_string());
            report.added = 0;
            report.replaced = 0;
            report.unchanged = 0;
            report.withdrawn = 0;
        }
        report
    }

    async fn stage_and_apply(
        &self,
        path: &Path,
        kind: SourceKind,
        etag: Option<String>,
        report: &mut ImportReport,
        progress: &mut ProgressFn<'_>,
    ) -> Result<(), VulnDbError> {
        let mut import = self.store.begin_advisory_import(&report.source).await?;
        if let Some(etag) = etag {
            import.set_etag(etag);
        }
        let (sender, mut receiver) = mpsc::channel(BATCHES_AHEAD);
        let reader_path = path.to_owned();
        let reader =
            tokio::task::spawn_blocking(move || read_and_parse(&reader_path, kind, &sender));
        let mut total = None;
        while let Some(message) = receiver.recv().await {
            match message {
                Message::Total(count) => total = Some(count),
                Message::Batch {
                    records,
                    malformed,
                    read,
                } => {
                    report.read += read;
                    report.malformed.extend(malformed);
                    import.stage(records).await?;
                    progress(Progress::Read {
                        source: &report.source,
                        records: report.read,
                        total,
                    });
                }
            }
        }
        reader
            .await
            .map_err(|error| VulnDbError::Reader(error.to_string()))??;
        progress(Progress::Apply {
            source: &report.source,
        });
        let counts = import.commit(report.malformed.len() as u64).await?;
        report.added = counts.added;
        report.replaced = counts.replaced;
        report.unchanged = counts.unchanged;
        report.withdrawn = counts.withdrawn;
        Ok(())
    }
}

/// The reader thread: every record of the source, parsed, in batches. Stops early when the
/// receiving side has gone (the import failed).
fn read_and_parse(
    path: &Path,
    kind: SourceKind,
    sender: &mpsc::Sender<Message>,
) -> Result<(), VulnDbError> {
    let mut records = Vec::with_capacity(BATCH);
    let mut malformed = Vec::new();
    let mut read = 0u64;
    let send = |message| match sender.blocking_send(message) {
        Ok(()) => ControlFlow::Continue(()),
        Err(_) => ControlFlow::Break(()),
    };
    let mut stopped = false;
    source::read(path, kind, &mut |item| {
        let flow = match item {
            Item::Total(count) => send(Message::Total(count)),
            Item::Record(raw) => {
                read += 1;
                match to_stored(raw) {
                    Ok(record) => records.push(record),
                    Err(bad) => malformed.push(bad),
                }
                if records.len() + malformed.len() >= BATCH {
                    send(Message::Batch {
                        records: std::mem::replace(&mut records, Vec::with_capacity(BATCH)),
                        malformed: std::mem::take(&mut malformed),
                        read: std::mem::take(&mut read),
                    })
                } else {
                    ControlFlow::Continue(())
                }
            }
        };
        stopped = flow.is_break();
        flow
    })?;
    if !stopped && read > 0 {
        let _ = send(Message::Batch {
            records,
            malformed,
            read,
        });
    }
    Ok(())
}

/// Whether a JSON record names the fields of the Node.js security working group's format
/// (a byte search, so OSV records pay no second parse).
fn looks_like_nodejs_wg(bytes: &[u8]) -> bool {
    let has = |needle: &[u8]| memchr::memmem::find(bytes, needle).is_some();
    has(b"\"module_name\"") && has(b"\"vulnerable_versions\"")
}

/// Parses and checks one record and derives what it is stored and found by.
fn to_stored(raw: RawRecord) -> Result<AdvisoryRecord, MalformedRecord> {
    let malformed = |id: Option<String>, message: String| MalformedRecord {
        location: raw.location.clone(),
        id,
        message,
    };
    let bytes = raw
        .bytes
        .as_ref()
        .map_err(|reason| malformed(None, reason.clone()))?;
    // A Node.js security working group record is turned into OSV first (and stored so).
    let converted = match raw.format {
        Format::Json if looks_like_nodejs_wg(bytes) => {
            let value: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|error| malformed(None, error.to_string()))?;
            if bulwark_advisory::nodejs_wg::is_nodejs_wg(&value) {
                let osv = bulwark_advisory::nodejs_wg::to_osv(value)
                    .map_err(|error| malformed(None, error.to_string()))?;
                Some(osv.to_string().into_bytes())
            } else {
                None
            }
        }
        _ => None,
    };
    let bytes = converted.as_deref().unwrap_or(bytes);
    let parsed = match raw.format {
        Format::Json => parse_json(bytes),
        Format::Yaml => parse_yaml(bytes),
    };
    let vulnerability = parsed.map_err(|error| {
        let message = match &error.kind {
            RecordErrorKind::Syntax(message) => message.clone(),
            RecordErrorKind::Invalid(problems) => problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        };
        malformed(error.id, message)
    })?;
    let id = Some(vulnerability.id.clone());
    // Validation guarantees `modified` parses and `withdrawn`, when present, too.
    let micros = |t: Option<jiff::Timestamp>| t.map(|t| t.as_microsecond());
    let modified = micros(vulnerability.modified.instant())
        .ok_or_else(|| malformed(id.clone(), "modified is not a timestamp".into()))?;
    let withdrawn = micros(vulnerability.withdrawn.as_ref().and_then(|w| w.instant()));
    let record = match (raw.format, converted, raw.bytes) {
        (Format::Json, Some(osv), _) | (Format::Json, None, Ok(osv)) => String::from_utf8(osv).ok(),
        _ => None,
    };
    let record = match record {
        Some(text) => text,
        None => serde_json::to_string(&vulnerability)
            .map_err(|error| malformed(id.clone(), error.to_string()))?,
    };
    Ok(stored(vulnerability, modified, withdrawn, record))
}

fn stored(
    vulnerability: Vulnerability,
    modified: i64,
    withdrawn: Option<i64>,
    record: String,
) -> AdvisoryRecord {
    let packages: BTreeSet<(String, String)> = vulnerability
        .affected
        .iter()
        .filter_map(|affected| affected.package.as_ref())
        .map(|package| {
            let key = PackageKey::new(&package.ecosystem, &package.name);
            (key.ecosystem.to_string(), key.name)
        })
        .collect();
    let others = |ids: Vec<String>| -> Vec<String> {
        let set: BTreeSet<String> = ids
            .into_iter()
            .filter(|other| *other != vulnerability.id)
            .collect();
        set.into_iter().collect()
    };
    let aliases = others(vulnerability.aliases.clone());
    let related = others(vulnerability.related.clone());
    AdvisoryRecord {
        id: vulnerability.id,
        modified,
        withdrawn,
        record,
        packages: packages.into_iter().collect(),
        aliases,
        related,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(format: Format, text: &str) -> RawRecord {
        RawRecord {
            location: "here".into(),
            format,
            bytes: Ok(text.as_bytes().to_vec()),
        }
    }

    #[test]
    fn json_is_kept_as_written_and_keys_are_normalised() {
        let text = r#"{"id":"PYSEC-1", "modified":"2024-01-01T00:00:00.000001Z",
            "aliases":["CVE-1","CVE-1","PYSEC-1"],"related":["X-1"],
            "affected":[{"package":{"ecosystem":"PyPI","name":"Django_Rest.Framework"}},
                        {"package":{"ecosystem":"Debian:12.5","name":"openssl"}},
                        {"package":{"ecosystem":"PyPI","name":"django-rest-framework"}}]}"#;
        let stored = to_stored(raw(Format::Json, text)).unwrap();
        assert_eq!(stored.record, text);
        assert_eq!(stored.modified, 1_704_067_200_000_001);
        assert_eq!(stored.withdrawn, None);
        assert_eq!(
            stored.packages,
            [
                ("Debian:12".to_owned(), "openssl".to_owned()),
                ("PyPI".to_owned(), "django-rest-framework".to_owned())
            ]
        );
        assert_eq!(stored.aliases, ["CVE-1"]);
        assert_eq!(stored.related, ["X-1"]);
    }

    #[test]
    fn yaml_is_stored_as_json() {
        let stored = to_stored(raw(
            Format::Yaml,
            "id: PYSEC-2\nmodified: 2024-01-01T00:00:00Z\nwithdrawn: 2024-02-01T00:00:00Z\n",
        ))
        .unwrap();
        assert_eq!(stored.withdrawn, Some(1_706_745_600_000_000));
        let back = parse_json(stored.record.as_bytes()).unwrap();
        assert_eq!(back.id, "PYSEC-2");
        assert!(back.is_withdrawn());
    }

    #[test]
    fn malformed_records_carry_their_id_and_location() {
        let bad = to_stored(raw(
            Format::Json,
            r#"{"id":"BAD-1","modified":"yesterday"}"#,
        ))
        .unwrap_err();
        assert_eq!(bad.id.as_deref(), Some("BAD-1"));
        assert_eq!(bad.location, "here");
        assert!(bad.message.contains("yesterday"), "{}", bad.message);
        let unreadable = to_stored(raw(Format::Json, "{oops")).unwrap_err();
        assert_eq!(unreadable.id, None);
        let oversized = to_stored(RawRecord {
            location: "big".into(),
            format: Format::Json,
            bytes: Err("too large".into()),
        })
        .unwrap_err();
        assert_eq!(oversized.message, "too large");
    }
}
