//! The audit log's storage: records chained by hash, signed checkpoints, and the head of
//! the chain that every writer locks first (migration 0012). What a hash or a signature
//! covers is bulwark-audit's business; this module gives each appended record its sequence
//! number and predecessor inside the transaction that stores it, so several nodes writing
//! at once still form one chain.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{MetadataStore, Result};

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub entry: AuditEntry,
    /// The hash of record `seq - 1` (or what a retention cut kept of it).
    pub prev_hash: String,
    pub hash: String,
}

/// What one record says: who, what, on what, with what result, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at_millis: i64,
    pub actor: String,
    pub token_id: Option<String>,
    pub client_address: String,
    pub request_id: String,
    pub category: String,
    pub operation: String,
    pub target: String,
    pub project: Option<String>,
    pub outcome: String,
    pub status: i64,
    pub detail: String,
}

/// A signed statement that the chain up to `seq` ends in `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    pub seq: i64,
    /// `checkpoint` (made while writing) or `cut` (made by retention at the records it
    /// removed).
    pub kind: String,
    pub hash: String,
    pub signed_at: i64,
    pub key_id: String,
    pub signature: String,
}

/// Which records a listing shows, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since_millis: Option<i64>,
    pub until_millis: Option<i64>,
    pub actor: Option<String>,
    pub project: Option<String>,
    /// Only records of these projects (what the caller may audit); `None`: every record.
    pub visible_projects: Option<Vec<String>>,
    /// A category (`pull`, `push`, …) or a part of the operation (`/members`).
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// Records older than this sequence number (the cursor of the previous page).
    pub before_seq: Option<i64>,
    pub limit: u32,
}

/// Rows per `INSERT`: 15 values each stays far below either back end's limit on binds.
const INSERT_ROWS: usize = 200;

const COLUMNS: &str = "seq, at_millis, actor, token_id, client_address, request_id, category, \
                       operation, target, project, outcome, status, detail, prev_hash, hash";

impl MetadataStore {
    /// Appends `entries` to the chain in one transaction: `seal(seq, prev_hash, entry)`
    /// gives each its hash. Returns the new end of the chain, `(seq, hash)`.
    pub async fn append_audit(
        &self,
        entries: &[AuditEntry],
        seal: impl Fn(i64, &str, &AuditEntry) -> String,
    ) -> Result<(i64, String)> {
        let mut tx = self.pool.begin().await?;
        // Locking the head first serialises writers across nodes (and takes SQLite's write
        // lock before anything is read).
        let head = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut *tx)
            .await?;
        let mut seq: i64 = head.try_get(0)?;
        let mut prev: String = head.try_get(1)?;
        for chunk in entries.chunks(INSERT_ROWS) {
            let mut sql = format!("INSERT INTO audit_records ({COLUMNS}) VALUES ");
            let mut sealed = Vec::with_capacity(chunk.len());
            for (i, entry) in chunk.iter().enumerate() {
                seq += 1;
                let hash = seal(seq, &prev, entry);
                if i > 0 {
                    sql.push(',');
                }
                let base = i * 15;
                sql.push('(');
                for column in 1..=15 {
                    if column > 1 {
                        sql.push(',');
                    }
                    sql.push_str(&format!("${}", base + column));
                }
                sql.push(')');
                sealed.push((seq, std::mem::replace(&mut prev, hash.clone()), hash));
            }
            let mut query = sqlx::query(&sql);
            for (entry, (seq, prev_hash, hash)) in chunk.iter().zip(sealed) {
                query = query
                    .bind(seq)
                    .bind(entry.at_millis)
                    .bind(entry.actor.clone())
                    .bind(entry.token_id.clone())
                    .bind(entry.client_address.clone())
                    .bind(entry.request_id.clone())
                    .bind(entry.category.clone())
                    .bind(entry.operation.clone())
                    .bind(entry.target.clone())
                    .bind(entry.project.clone())
                    .bind(entry.outcome.clone())
                    .bind(entry.status)
                    .bind(entry.detail.clone())
                    .bind(prev_hash)
                    .bind(hash);
            }
            query.execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(prev.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((seq, prev))
    }

    /// The end of the chain: the last record's sequence number and hash (0 and 64 zeros
    /// when nothing was ever written).
    pub async fn audit_head(&self) -> Result<(i64, String)> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    pub async fn add_audit_checkpoint(&self, checkpoint: &AuditCheckpoint) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, kind, hash, signed_at, key_id, signature) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (seq, kind) DO NOTHING",
        )
        .bind(checkpoint.seq)
        .bind(checkpoint.kind.clone())
        .bind(checkpoint.hash.clone())
        .bind(checkpoint.signed_at)
        .bind(checkpoint.key_id.clone())
        .bind(checkpoint.signature.clone())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every checkpoint, in chain order.
    pub async fn audit_checkpoints(&self) -> Result<Vec<AuditCheckpoint>> {
        let rows = sqlx::query(
            "SELECT seq, kind, hash, signed_at, key_id, signature FROM audit_checkpoints \
             ORDER BY seq, kind",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditCheckpoint {
                    seq: row.try_get(0)?,
                    kind: row.try_get(1)?,
                    hash: row.try_get(2)?,
                    signed_at: row.try_get(3)?,
                    key_id: row.try_get(4)?,
                    signature: row.try_get(5)?,
                })
            })
            .collect()
    }

    /// Up to `limit` records after `after_seq`, in chain order (for verification and
    /// export, page by page).
    pub async fn audit_records_after(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_records WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// One page of records matching `filter`, newest first.
    pub async fn audit_page(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let mut sql = format!("SELECT {COLUMNS} FROM audit_records WHERE 1 = 1");
        let mut texts: Vec<String> = Vec::new();
        let mut numbers: Vec<i64> = Vec::new();
        // Placeholders are numbered texts first, then numbers: bound in that order below.
        let mut text_clauses: Vec<String> = Vec::new();
        let mut number_clauses: Vec<&str> = Vec::new();
        if let Some(actor) = &filter.actor {
            texts.push(actor.clone());
            text_clauses.push("actor = $?".into());
        }
        if let Some(project) = &filter.project {
            texts.push(project.clone());
            text_clauses.push("project = $?".into());
        }
        if let Some(outcome) = &filter.outcome {
            texts.push(outcome.clone());
            text_clauses.push("outcome = $?".into());
        }
        if let Some(action) = &filter.action {
            texts.push(action.clone());
            let escaped = action
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            texts.push(format!("%{escaped}%"));
            text_clauses.push("(category = $? OR operation LIKE $? ESCAPE '\\')".into());
        }
        if let Some(projects) = &filter.visible_projects {
            if projects.is_empty() {
                return Ok(Vec::new());
            }
            let marks = vec!["$?"; projects.len()].join(",");
            texts.extend(projects.iter().cloned());
            text_clauses.push(format!("project IN ({marks})"));
        }
        if let Some(since) = filter.since_millis {
            numbers.push(since);
            number_clauses.push("at_millis >= $?");
        }
        if let Some(until) = filter.until_millis {
            numbers.push(until);
            number_clauses.push("at_millis < $?");
        }
        if let Some(before) = filter.before_seq {
            numbers.push(before);
            number_clauses.push("seq < $?");
        }
        let mut next = 1;
        for clause in text_clauses
            .iter()
            .map(String::as_str)
            .chain(number_clauses.iter().copied())
        {
            let mut numbered = String::new();
            let mut rest = clause;
            while let Some(at) = rest.find("$?") {
                numbered.push_str(&rest[..at]);
                numbered.push_str(&format!("${next}"));
                next += 1;
                rest = &rest[at + 2..];
            }
            numbered.push_str(rest);
            sql.push_str(" AND ");
            sql.push_str(&numbered);
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${next}"));
        let mut query = sqlx::query(&sql);
        for text in texts {
            query = query.bind(text);
        }
        for number in numbers {
            query = query.bind(number);
        }
        query = query.bind(i64::from(filter.limit));
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Retention: removes every record older than `before_millis`, keeping in their place a
    /// `cut` checkpoint made by `sign_cut(seq, hash)` for the last removed record, in one
    /// transaction. Returns how many records were removed.
    pub async fn cut_audit(
        &self,
        before_millis: i64,
        sign_cut: impl FnOnce(i64, &str) -> AuditCheckpoint,
    ) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        // The newest record older than the bound, not merely any: times of records written
        // by different nodes may interleave slightly, and a cut keeps the chain contiguous.
        let last = sqlx::query(
            "SELECT seq, hash FROM audit_records WHERE seq = \
             (SELECT MAX(seq) FROM audit_records WHERE at_millis < $1)",
        )
        .bind(before_millis)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(last) = last else {
            return Ok(0);
        };
        let seq: i64 = last.try_get(0)?;
        let hash: String = last.try_get(1)?;
        let cut = sign_cut(seq, &hash);
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, kind, hash, signed_at, key_id, signature) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (seq, kind) DO NOTHING",
        )
        .bind(cut.seq)
        .bind(cut.kind)
        .bind(cut.hash)
        .bind(cut.signed_at)
        .bind(cut.key_id)
        .bind(cut.signature)
        .execute(&mut *tx)
        .await?;
        let removed = sqlx::query("DELETE FROM audit_records WHERE seq <= $1")
            .bind(seq)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // Older checkpoints and cuts speak of records no longer there.
        sqlx::query("DELETE FROM audit_checkpoints WHERE seq < $1")
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed)
    }
}

fn record_from_row(row: &AnyRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        entry: AuditEntry {
            at_millis: row.try_get("at_millis")?,
            actor: row.try_get("actor")?,
            token_id: row.try_get("token_id")?,
            client_address: row.try_get("client_address")?,
            request_id: row.try_get("request_id")?,
            category: row.try_get("category")?,
            operation: row.try_get("operation")?,
            target: row.try_get("target")?,
            project: row.try_get("project")?,
            outcome: row.try_get("outcome")?,
            status: row.try_get("status")?,
            detail: row.try_get("detail")?,
        },
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}
