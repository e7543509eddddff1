//! Stored vulnerability advisories: the records, the packages and aliases derived from them
//! for lookups, and per-ecosystem bookkeeping.
//!
//! This module stores what the caller derived; it never reads OSV itself (that is
//! `bulwark-advisory`'s job), so a record arrives as its JSON text plus the keys to find it by.
//!
//! # Imports: staged, then swapped in one transaction
//!
//! [`MetadataStore::begin_advisory_import`] takes one connection out of the pool and creates
//! temporary tables on it. [`AdvisoryImport::stage`] writes batches there, keeping only
//! records newer than the stored copy (and than an earlier copy in the same import).
//! Temporary tables are private to that connection and, on SQLite, live outside the main
//! database file, so staging takes no write lock and a running server's pushes go on.
//! [`AdvisoryImport::commit`] then applies everything in one transaction: records whose
//! stored copy is by now as new are dropped (another import may have won meanwhile), the
//! rest replace their stored copy together with its packages and aliases, and the
//! bookkeeping is recounted.
//!
//! The guarantee: a reader sees either none or all of an import; an import that fails or is
//! interrupted at any point before its commit (error, dropped future, killed process) leaves
//! the stored advisories exactly as they were, and its staged rows vanish with its
//! connection. Only the commit holds SQLite's write lock; its length grows with the number
//! of *changed* records (a re-import of unchanged data stages nothing). Measured on the
//! 2-core development machine: 14 s for a first import of 500,000 records, 1 s for a
//! re-import of them unchanged (the bookkeeping recount), well below the 30 s busy timeout
//! a server's writers wait; on PostgreSQL it locks only advisory rows, so the registry's
//! writers never wait for it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection, Row};

use crate::{Backend, MetadataError, MetadataStore, Result, now_millis};

/// One advisory record to store, with what it is found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryRecord {
    pub id: String,
    /// The record's `modified`, in Unix microseconds.
    pub modified: i64,
    /// The record's `withdrawn`, in Unix microseconds.
    pub withdrawn: Option<i64>,
    /// The record as JSON text.
    pub record: String,
    /// (ecosystem key, normalised name) of every affected package, without duplicates.
    pub packages: Vec<(String, String)>,
    /// Ids of the same vulnerability in other databases.
    pub aliases: Vec<String>,
    /// Ids of related but distinct vulnerabilities.
    pub related: Vec<String>,
}

/// What an applied import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdvisoryImportCounts {
    /// Ids not stored before.
    pub added: u64,
    /// Ids whose stored copy was older and is replaced.
    pub replaced: u64,
    /// Records skipped because the stored copy (or an earlier one in the same import) is as
    /// new or newer.
    pub unchanged: u64,
    /// Of the added and replaced records, those that are withdrawn.
    pub withdrawn: u64,
}

/// The stored advisories of one ecosystem key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryEcosystemStatus {
    /// The ecosystem key (`PyPI`, `Debian:12`).
    pub ecosystem: String,
    /// Records naming a package of it, withdrawn ones included.
    pub records: u64,
    /// Of those, the withdrawn ones.
    pub withdrawn: u64,
    /// When an import last covered it (Unix milliseconds).
    pub last_import_at: i64,
    /// That import's source (a path or URL).
    pub last_source: String,
}

/// An applied import, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryImportLog {
    pub source: String,
    /// Unix milliseconds.
    pub finished_at: i64,
    pub counts: AdvisoryImportCounts,
    pub malformed: u64,
}

/// The state of the advisory store as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryStatus {
    /// Every stored record, withdrawn ones included.
    pub records: u64,
    pub withdrawn: u64,
    /// The newest `modified` of any record (Unix microseconds).
    pub newest_modified: Option<i64>,
    /// The last applied import.
    pub last_import: Option<AdvisoryImportLog>,
    /// Per ecosystem key, in name order.
    pub ecosystems: Vec<AdvisoryEcosystemStatus>,
}

/// Rows per multi-row `INSERT` and ids per `IN (…)` list: far below both back ends' limits
/// on bound parameters (SQLite 32,766, PostgreSQL 65,535).
pub(crate) const CHUNK: usize = 500;

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// `$first, $first+1, …` for `count` parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2), ($3, $4), …`: `rows` row values of `columns` each, for `(a, b) IN (…)`.
pub(crate) fn row_values(columns: usize, rows: usize) -> String {
    (0..rows)
        .map(|row| format!("({})", placeholders(row * columns + 1, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT INTO {table_and_columns} VALUES ($1, …), (…)` for `rows` rows of `columns`.
pub(crate) fn insert_values(
    table_and_columns: &str,
    columns: usize,
    rows: usize,
    suffix: &str,
) -> String {
    let tuples = row_values(columns, rows);
    format!("INSERT INTO {table_and_columns} VALUES {tuples} {suffix}")
}

/// An import in progress: staged rows on a private connection, applied by
/// [`AdvisoryImport::commit`]. Dropping it without committing discards them.
pub struct AdvisoryImport {
    conn: Option<PoolConnection<Any>>,
    source: String,
    /// Every ecosystem key the source named, changed records or not: all of them were
    /// brought up to date by this import.
    ecosystems: BTreeSet<String>,
    unchanged: u64,
    etag: Option<String>,
}

impl std::fmt::Debug for AdvisoryImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdvisoryImport")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl MetadataStore {
    /// Starts an import of the records of `source` (a path or URL, kept for bookkeeping).
    pub async fn begin_advisory_import(&self, source: &str) -> Result<AdvisoryImport> {
        let mut conn = self.pool.acquire().await?;
        // PostgreSQL compares these with the "C"-collated stored columns; SQLite has no such
        // collation name and compares bytes anyway.
        let collate = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " COLLATE \"C\"",
        };
        for ddl in [
            format!(
                "CREATE TEMPORARY TABLE staged_advisories (id TEXT{collate} PRIMARY KEY, \
                 modified BIGINT NOT NULL, withdrawn BIGINT, record TEXT NOT NULL)"
            ),
            format!(
                "CREATE TEMPORARY TABLE staged_packages (ecosystem TEXT{collate} NOT NULL, \
                 name TEXT{collate} NOT NULL, advisory_id TEXT{collate} NOT NULL, \
                 PRIMARY KEY (advisory_id, ecosystem, name))"
            ),
            format!(
                "CREATE TEMPORARY TABLE staged_aliases (advisory_id TEXT{collate} NOT NULL, \
                 kind TEXT NOT NULL, other_id TEXT{collate} NOT NULL, \
                 PRIMARY KEY (advisory_id, kind, other_id))"
            ),
            format!(
                "CREATE TEMPORARY TABLE staged_ecosystems (ecosystem TEXT{collate} PRIMARY KEY)"
            ),
        ] {
            sqlx::query(&ddl).execute(&mut *conn).await?;
        }
        Ok(AdvisoryImport {
            conn: Some(conn),
            source: source.to_owned(),
            ecosystems: BTreeSet::new(),
            unchanged: 0,
            etag: None,
        })
    }

    /// The HTTP entity tag logged with the newest import of `source` that had one.
    pub async fn advisory_source_etag(&self, source: &str) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT etag FROM advisory_imports WHERE source = $1 AND etag IS NOT NULL \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(source)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// Records that `source` was checked and had not changed since the import that gave it
    /// `etag`: logged as an empty import, and the ecosystems it last covered count as
    /// brought up to date now.
    pub async fn advisory_source_unchanged(&self, source: &str, etag: &str) -> Result<()> {
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO advisory_imports (source, finished_at, etag) VALUES ($1, $2, $3)")
            .bind(source)
            .bind(now)
            .bind(etag)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE advisory_ecosystems SET last_import_at = $2 WHERE last_source = $1")
            .bind(source)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The JSON of every record that names package `name` (normalised) of ecosystem key
    /// `ecosystem` and is not withdrawn, in id order.
    pub async fn advisories_for_package(&self, ecosystem: &str, name: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT a.record FROM advisory_packages p JOIN advisories a ON a.id = p.advisory_id \
             WHERE p.ecosystem = $1 AND p.name = $2 AND a.withdrawn IS NULL ORDER BY a.id",
        )
        .bind(ecosystem)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(MetadataError::from))
            .collect()
    }

    /// [`MetadataStore::advisories_for_package`] for many packages (ecosystem key,
    /// normalised name) at once: each package's records, in id order.
    pub async fn advisories_for_packages(
        &self,
        packages: &[(String, String)],
    ) -> Result<BTreeMap<(String, String), Vec<String>>> {
        let mut found: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for chunk in packages.chunks(CHUNK / 2) {
            let sql = format!(
                "SELECT p.ecosystem, p.name, a.record FROM advisory_packages p \
                 JOIN advisories a ON a.id = p.advisory_id \
                 WHERE (p.ecosystem, p.name) IN ({}) AND a.withdrawn IS NULL \
                 ORDER BY p.ecosystem, p.name, a.id",
                row_values(2, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for (ecosystem, name) in chunk {
                query = query.bind(ecosystem.as_str()).bind(name.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                found
                    .entry((row.try_get(0)?, row.try_get(1)?))
                    .or_default()
                    .push(row.try_get(2)?);
            }
        }
        Ok(found)
    }

    /// Alias links touching `ids`: (record id, alias) for every stored record that is one of
    /// `ids` or names one of them as an alias.
    pub async fn advisory_alias_links(&self, ids: &[String]) -> Result<Vec<(String, String)>> {
        let mut links = BTreeSet::new();
        for chunk in ids.chunks(CHUNK) {
            let list = placeholders(1, chunk.len());
            let sql = format!(
                "SELECT advisory_id, other_id FROM advisory_aliases WHERE kind = 'alias' \
                 AND (advisory_id IN ({list}) OR other_id IN ({list}))"
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                links.insert((row.try_get(0)?, row.try_get(1)?));
            }
        }
        Ok(links.into_iter().collect())
    }

    /// Up to `limit` records that are not withdrawn, with ids after `after` in byte order:
    /// (id, JSON). Pages through the whole store with bounded memory.
    pub async fn advisory_page(&self, after: &str, limit: u32) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT id, record FROM advisories WHERE withdrawn IS NULL AND id > $1 \
             ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }

    /// Totals, the last import and per-ecosystem bookkeeping.
    pub async fn advisory_status(&self) -> Result<AdvisoryStatus> {
        let totals =
            sqlx::query("SELECT COUNT(*), COUNT(withdrawn), MAX(modified) FROM advisories")
                .fetch_one(&self.pool)
                .await?;
        let last_import = sqlx::query(
            "SELECT source, finished_at, added, replaced, unchanged, withdrawn, malformed \
             FROM advisory_imports ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .map(|row| -> Result<AdvisoryImportLog> {
            Ok(AdvisoryImportLog {
                source: row.try_get(0)?,
                finished_at: row.try_get(1)?,
                counts: AdvisoryImportCounts {
                    added: to_u64(row.try_get(2)?),
                    replaced: to_u64(row.try_get(3)?),
                    unchanged: to_u64(row.try_get(4)?),
                    withdrawn: to_u64(row.try_get(5)?),
                },
                malformed: to_u64(row.try_get(6)?),
            })
        })
        .transpose()?;
        let ecosystems = sqlx::query(
            "SELECT ecosystem, records, withdrawn, last_import_at, last_source \
             FROM advisory_ecosystems ORDER BY ecosystem",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(AdvisoryEcosystemStatus {
                ecosystem: row.try_get(0)?,
                records: to_u64(row.try_get(1)?),
                withdrawn: to_u64(row.try_get(2)?),
                last_import_at: row.try_get(3)?,
                last_source: row.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(AdvisoryStatus {
            records: to_u64(totals.try_get(0)?),
            withdrawn: to_u64(totals.try_get(1)?),
            newest_modified: totals.try_get(2)?,
            last_import,
            ecosystems,
        })
    }
}

impl AdvisoryImport {
    /// Logs `etag`, the downloaded archive's HTTP entity tag, with this import.
    pub fn set_etag(&mut self, etag: String) {
        self.etag = Some(etag);
    }

    fn conn(&mut self) -> Result<&mut PoolConnection<Any>> {
        self.conn
            .as_mut()
            .ok_or_else(|| MetadataError::Corrupt("advisory import used after its end".into()))
    }

    /// Stages a batch. Records not newer than the stored copy, or than a copy staged earlier
    /// in this import, are skipped; within the batch the newest copy of an id wins. Returns
    /// how many records were staged.
    pub async fn stage(&mut self, batch: Vec<AdvisoryRecord>) -> Result<usize> {
        let offered = batch.len();
        let mut newest: HashMap<String, AdvisoryRecord> = HashMap::with_capacity(offered);
        for record in batch {
            self.ecosystems.extend(
                record
                    .packages
                    .iter()
                    .map(|(ecosystem, _)| ecosystem.clone()),
            );
            let newer = newest
                .get(&record.id)
                .is_none_or(|kept| kept.modified < record.modified);
            if newer {
                newest.insert(record.id.clone(), record);
            }
        }
        let mut records: Vec<AdvisoryRecord> = newest.into_values().collect();
        records.sort_unstable_by(|a, b| a.id.cmp(&b.id));

        let conn = self.conn()?;
        let mut tx = conn.begin().await?;
        let mut winners = Vec::with_capacity(records.len());
        for chunk in records.chunks(CHUNK) {
            let list = placeholders(1, chunk.len());
            let sql = format!(
                "SELECT id, modified, CAST(0 AS BIGINT) FROM advisories WHERE id IN ({list}) \
                 UNION ALL SELECT id, modified, CAST(1 AS BIGINT) FROM staged_advisories \
                 WHERE id IN ({list})"
            );
            let mut query = sqlx::query(&sql);
            for record in chunk {
                query = query.bind(record.id.as_str());
            }
            // id -> (newest known modified, whether a staged copy exists)
            let mut known: HashMap<String, (i64, bool)> = HashMap::new();
            for row in query.fetch_all(&mut *tx).await? {
                let id: String = row.try_get(0)?;
                let modified: i64 = row.try_get(1)?;
                let staged = row.try_get::<i64, _>(2)? == 1;
                let entry = known.entry(id).or_insert((modified, false));
                entry.0 = entry.0.max(modified);
                entry.1 |= staged;
            }
            let mut superseded = Vec::new();
            for record in chunk {
                match known.get(&record.id) {
                    Some(&(modified, _)) if modified >= record.modified => {}
                    Some(&(_, true)) => {
                        superseded.push(record.id.as_str());
                        winners.push(record);
                    }
                    _ => winners.push(record),
                }
            }
            if !superseded.is_empty() {
                let list = placeholders(1, superseded.len());
                for table in ["staged_packages", "staged_aliases"] {
                    let sql = format!("DELETE FROM {table} WHERE advisory_id IN ({list})");
                    let mut query = sqlx::query(&sql);
                    for id in &superseded {
                        query = query.bind(*id);
                    }
                    query.execute(&mut *tx).await?;
                }
                let sql = format!("DELETE FROM staged_advisories WHERE id IN ({list})");
                let mut query = sqlx::query(&sql);
                for id in &superseded {
                    query = query.bind(*id);
                }
                query.execute(&mut *tx).await?;
            }
        }

        for chunk in winners.chunks(CHUNK) {
            let sql = insert_values(
                "staged_advisories (id, modified, withdrawn, record)",
                4,
                chunk.len(),
                "",
            );
            let mut query = sqlx::query(&sql);
            for record in chunk {
                query = query
                    .bind(record.id.as_str())
                    .bind(record.modified)
                    .bind(record.withdrawn)
                    .bind(record.record.as_str());
            }
            query.execute(&mut *tx).await?;
        }
        let packages: Vec<(&str, &str, &str)> = winners
            .iter()
            .flat_map(|record| {
                record.packages.iter().map(|(ecosystem, name)| {
                    (ecosystem.as_str(), name.as_str(), record.id.as_str())
                })
            })
            .collect();
        for chunk in packages.chunks(CHUNK) {
            let sql = insert_values(
                "staged_packages (ecosystem, name, advisory_id)",
                3,
                chunk.len(),
                "ON CONFLICT DO NOTHING",
            );
            let mut query = sqlx::query(&sql);
            for (ecosystem, name, id) in chunk {
                query = query.bind(*ecosystem).bind(*name).bind(*id);
            }
            query.execute(&mut *tx).await?;
        }
        let aliases: Vec<(&str, &str, &str)> = winners
            .iter()
            .flat_map(|record| {
                let id = record.id.as_str();
                let aliases = record
                    .aliases
                    .iter()
                    .map(move |a| (id, "alias", a.as_str()));
                let related = record
                    .related
                    .iter()
                    .map(move |r| (id, "related", r.as_str()));
                aliases.chain(related)
            })
            .collect();
        for chunk in aliases.chunks(CHUNK) {
            let sql = insert_values(
                "staged_aliases (advisory_id, kind, other_id)",
                3,
                chunk.len(),
                "ON CONFLICT DO NOTHING",
            );
            let mut query = sqlx::query(&sql);
            for (id, kind, other) in chunk {
                query = query.bind(*id).bind(*kind).bind(*other);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let staged = winners.len();
        self.unchanged += (offered - staged) as u64;
        Ok(staged)
    }

    /// Applies the staged records in one transaction and logs the import with
    /// `malformed`, the number of records the caller skipped as unreadable.
    pub async fn commit(mut self, malformed: u64) -> Result<AdvisoryImportCounts> {
        let source = std::mem::take(&mut self.source);
        let etag = self.etag.take();
        let ecosystems: Vec<String> = std::mem::take(&mut self.ecosystems).into_iter().collect();
        let mut unchanged = self.unchanged;
        let conn = self.conn()?;
        for chunk in ecosystems.chunks(CHUNK) {
            let sql = insert_values("staged_ecosystems (ecosystem)", 1, chunk.len(), "");
            let mut query = sqlx::query(&sql);
            for ecosystem in chunk {
                query = query.bind(ecosystem.as_str());
            }
            query.execute(&mut **conn).await?;
        }
        let now = now_millis();
        let mut tx = conn.begin().await?;
        // A write to a stored table first: on SQLite it takes the write lock before anything
        // is read, so the transaction cannot fail later upgrading a read snapshot.
        let import_id: i64 = sqlx::query(
            "INSERT INTO advisory_imports (source, finished_at, etag) VALUES ($1, $2, $3) \
             RETURNING id",
        )
        .bind(source.as_str())
        .bind(now)
        .bind(etag)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        unchanged += sqlx::query(
            "DELETE FROM staged_advisories WHERE EXISTS (SELECT 1 FROM advisories a \
             WHERE a.id = staged_advisories.id AND a.modified >= staged_advisories.modified)",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        for table in ["staged_packages", "staged_aliases"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM staged_advisories s \
                 WHERE s.id = {table}.advisory_id)"
            ))
            .execute(&mut *tx)
            .await?;
        }
        // Ecosystems the replaced copies named must be recounted too.
        sqlx::query(
            "INSERT INTO staged_ecosystems (ecosystem) SELECT DISTINCT p.ecosystem \
             FROM advisory_packages p WHERE p.advisory_id IN (SELECT id FROM staged_advisories) \
             ON CONFLICT (ecosystem) DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
        let counts = sqlx::query(
            "SELECT COUNT(*), COUNT(s.withdrawn), \
             COUNT(CASE WHEN EXISTS (SELECT 1 FROM advisories a WHERE a.id = s.id) THEN 1 END) \
             FROM staged_advisories s",
        )
        .fetch_one(&mut *tx)
        .await?;
        let applied = to_u64(counts.try_get(0)?);
        let withdrawn = to_u64(counts.try_get(1)?);
        let replaced = to_u64(counts.try_get(2)?);
        // The packages the replaced copies named and those the new ones name: what a
        // re-match of stored inventories must look at again, and nothing else.
        sqlx::query(
            "INSERT INTO advisory_changes (import_id, ecosystem, name) \
             SELECT DISTINCT $1, ecosystem, name FROM advisory_packages \
             WHERE advisory_id IN (SELECT id FROM staged_advisories) \
             UNION SELECT $1, ecosystem, name FROM staged_packages WHERE true \
             ON CONFLICT DO NOTHING",
        )
        .bind(import_id)
        .execute(&mut *tx)
        .await?;
        for table in ["advisory_packages", "advisory_aliases"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE advisory_id IN (SELECT id FROM staged_advisories)"
            ))
            .execute(&mut *tx)
            .await?;
        }
        // `WHERE true` resolves SQLite's parsing ambiguity between a join and an upsert.
        sqlx::query(
            "INSERT INTO advisories (id, modified, withdrawn, record, imported_at) \
             SELECT id, modified, withdrawn, record, $1 FROM staged_advisories WHERE true \
             ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, \
             withdrawn = excluded.withdrawn, record = excluded.record, \
             imported_at = excluded.imported_at",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO advisory_packages (ecosystem, name, advisory_id) \
             SELECT ecosystem, name, advisory_id FROM staged_packages",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO advisory_aliases (advisory_id, kind, other_id) \
             SELECT advisory_id, kind, other_id FROM staged_aliases",
        )
        .execute(&mut *tx)
        .await?;
        // Zero first: an ecosystem whose last record moved elsewhere has no group below.
        sqlx::query(
            "UPDATE advisory_ecosystems SET records = 0, withdrawn = 0, last_import_at = $1, \
             last_source = $2 WHERE ecosystem IN (SELECT ecosystem FROM staged_ecosystems)",
        )
        .bind(now)
        .bind(source.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO advisory_ecosystems (ecosystem, records, withdrawn, last_import_at, last_source) \
             SELECT p.ecosystem, COUNT(DISTINCT p.advisory_id), \
             COUNT(DISTINCT CASE WHEN a.withdrawn IS NULL THEN NULL ELSE a.id END), $1, $2 \
             FROM advisory_packages p JOIN advisories a ON a.id = p.advisory_id \
             WHERE p.ecosystem IN (SELECT ecosystem FROM staged_ecosystems) \
             GROUP BY p.ecosystem \
             ON CONFLICT (ecosystem) DO UPDATE SET records = excluded.records, \
             withdrawn = excluded.withdrawn, last_import_at = excluded.last_import_at, \
             last_source = excluded.last_source",
        )
        .bind(now)
        .bind(source.as_str())
        .execute(&mut *tx)
        .await?;
        let counts = AdvisoryImportCounts {
            added: applied - replaced,
            replaced,
            unchanged,
            withdrawn,
        };
        sqlx::query(
            "UPDATE advisory_imports SET added = $2, replaced = $3, unchanged = $4, \
             withdrawn = $5, malformed = $6 WHERE id = $1",
        )
        .bind(import_id)
        .bind(to_i64(counts.added))
        .bind(to_i64(counts.replaced))
        .bind(to_i64(counts.unchanged))
        .bind(to_i64(counts.withdrawn))
        .bind(to_i64(malformed))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(counts)
    }
}

impl Drop for AdvisoryImport {
    fn drop(&mut self) {
        // The connection carries this import's temporary tables: close it instead of handing
        // it back to the pool, so the next user starts clean.
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_inserts_number_their_parameters() {
        assert_eq!(
            insert_values("t (a, b)", 2, 2, "ON CONFLICT DO NOTHING"),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING"
        );
        assert_eq!(placeholders(3, 2), "$3, $4");
    }
}
