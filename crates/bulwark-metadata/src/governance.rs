//! Governance records (migration 0011): policy documents and their history, the keys each
//! project trusts, exceptions, uploaded VEX documents, and the counters decision caches
//! compare with. What they mean is `bulwark-policy`'s business; this module only keeps them.
//!
//! *Invariant:* every change here moves `governance_generation` in the same transaction,
//! so a node holding a decision made before the change sees that it is stale.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{MetadataStore, Result};

/// One version of a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    /// A project's name, or `""` for the system-wide policy.
    pub scope: String,
    pub version: i64,
    /// As submitted (TOML or YAML), comments included.
    pub document: String,
    /// As read back, canonical TOML: what is in force.
    pub canonical: String,
    pub author: String,
    pub created_at: i64,
}

/// A public key a project trusts for signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKeyRecord {
    pub project: String,
    /// `sha256:<hex>` of the key's SubjectPublicKeyInfo.
    pub fingerprint: String,
    pub algorithm: String,
    pub pem: String,
    pub name: Option<String>,
    pub added_by: String,
    pub added_at: i64,
}

/// A stored exception; `project` `None`: system-wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionRecord {
    pub id: String,
    pub project: Option<String>,
    pub vulnerability: String,
    pub package: Option<String>,
    pub repository: Option<String>,
    pub digest: Option<String>,
    pub reason: String,
    pub author: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An uploaded VEX document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexRecord {
    pub project: String,
    /// `sha256:<hex>` of the document's bytes.
    pub digest: String,
    pub format: String,
    pub document: Vec<u8>,
    pub statements: i64,
    pub uploaded_by: String,
    pub uploaded_at: i64,
}

const POLICY_COLUMNS: &str = "scope, version, document, canonical, author, created_at";

fn policy_from_row(row: &AnyRow) -> Result<PolicyRecord> {
    Ok(PolicyRecord {
        scope: row.try_get("scope")?,
        version: row.try_get("version")?,
        document: row.try_get("document")?,
        canonical: row.try_get("canonical")?,
        author: row.try_get("author")?,
        created_at: row.try_get("created_at")?,
    })
}

const KEY_COLUMNS: &str = "project, fingerprint, algorithm, pem, name, added_by, added_at";

fn key_from_row(row: &AnyRow) -> Result<TrustedKeyRecord> {
    Ok(TrustedKeyRecord {
        project: row.try_get("project")?,
        fingerprint: row.try_get("fingerprint")?,
        algorithm: row.try_get("algorithm")?,
        pem: row.try_get("pem")?,
        name: row.try_get("name")?,
        added_by: row.try_get("added_by")?,
        added_at: row.try_get("added_at")?,
    })
}

const EXCEPTION_COLUMNS: &str = "id, project, vulnerability, package, repository, digest, \
     reason, author, created_at, expires_at";

fn exception_from_row(row: &AnyRow) -> Result<ExceptionRecord> {
    Ok(ExceptionRecord {
        id: row.try_get("id")?,
        project: row.try_get("project")?,
        vulnerability: row.try_get("vulnerability")?,
        package: row.try_get("package")?,
        repository: row.try_get("repository")?,
        digest: row.try_get("digest")?,
        reason: row.try_get("reason")?,
        author: row.try_get("author")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

const VEX_COLUMNS: &str = "project, digest, format, document, statements, uploaded_by, uploaded_at";

fn vex_from_row(row: &AnyRow) -> Result<VexRecord> {
    Ok(VexRecord {
        project: row.try_get("project")?,
        digest: row.try_get("digest")?,
        format: row.try_get("format")?,
        document: row.try_get("document")?,
        statements: row.try_get("statements")?,
        uploaded_by: row.try_get("uploaded_by")?,
        uploaded_at: row.try_get("uploaded_at")?,
    })
}

/// Moves the generation inside `tx` (first, so SQLite takes its write lock up front).
async fn bump(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<()> {
    sqlx::query("UPDATE governance_generation SET value = value + 1 WHERE singleton = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl MetadataStore {
    /// The policy in force for `scope` (a project, or `""` for the system's).
    pub async fn policy(&self, scope: &str) -> Result<Option<PolicyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM policy_versions WHERE scope = $1 \
             ORDER BY version DESC LIMIT 1"
        ))
        .bind(scope)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(policy_from_row).transpose()
    }

    /// The versions of `scope`'s policy, newest first, at most `limit`.
    pub async fn policy_history(&self, scope: &str, limit: u32) -> Result<Vec<PolicyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM policy_versions WHERE scope = $1 \
             ORDER BY version DESC LIMIT $2"
        ))
        .bind(scope)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(policy_from_row).collect()
    }

    /// Stores a new version of `scope`'s policy; returns it.
    pub async fn put_policy(
        &self,
        scope: &str,
        document: &str,
        canonical: &str,
        author: &str,
        now: i64,
    ) -> Result<PolicyRecord> {
        let mut tx = self.pool.begin().await?;
        bump(&mut tx).await?;
        let version: i64 = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM policy_versions WHERE scope = $1",
        )
        .bind(scope)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        sqlx::query(&format!(
            "INSERT INTO policy_versions ({POLICY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(scope)
        .bind(version)
        .bind(document)
        .bind(canonical)
        .bind(author)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(PolicyRecord {
            scope: scope.to_owned(),
            version,
            document: document.to_owned(),
            canonical: canonical.to_owned(),
            author: author.to_owned(),
            created_at: now,
        })
    }

    /// Trusts a key for `key.project`; false when it was trusted already (nothing changed).
    pub async fn add_trusted_key(&self, key: &TrustedKeyRecord) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        bump(&mut tx).await?;
        let added = sqlx::query(&format!(
            "INSERT INTO trusted_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (project, fingerprint) DO NOTHING"
        ))
        .bind(key.project.as_str())
        .bind(key.fingerprint.as_str())
        .bind(key.algorithm.as_str())
        .bind(key.pem.as_str())
        .bind(key.name.as_deref())
        .bind(key.added_by.as_str())
        .bind(key.added_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(added.rows_affected() == 1)
    }

    /// The keys `project` trusts, by fingerprint.
    pub async fn trusted_keys(&self, project: &str) -> Result<Vec<TrustedKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM trusted_keys WHERE project = $1 ORDER BY fingerprint"
        ))
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// Stops trusting a key; false when it was not trusted.
    pub async fn remove_trusted_key(&self, project: &str, fingerprint: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        bump(&mut tx).await?;
        let removed =
            sqlx::query("DELETE FROM trusted_keys WHERE project = $1 AND fingerprint = $2")
                .bind(project)
                .bind(fingerprint)
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(removed.rows_affected() == 1)
    }

    pub async fn add_exception(&self, exception: &ExceptionRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        bump(&mut tx).await?;
        sqlx::query(&format!(
            "INSERT INTO policy_exceptions ({EXCEPTION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(exception.id.as_str())
        .bind(exception.project.as_deref())
        .bind(exception.vulnerability.as_str())
        .bind(exception.package.as_deref())
        .bind(exception.repository.as_deref())
        .bind(exception.digest.as_deref())
        .bind(exception.reason.as_str())
        .bind(exception.author.as_str())
        .bind(exception.created_at)
        .bind(exception.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Exceptions of `projects` (`None`: every project's) and, with `system`, the
    /// system-wide ones; newest first, at most `limit`.
    pub async fn exceptions(
        &self,
        projects: Option<&[String]>,
        system: bool,
        limit: u32,
    ) -> Result<Vec<ExceptionRecord>> {
        let mut conditions = Vec::new();
        if system {
            conditions.push("project IS NULL".to_owned());
        }
        match projects {
            None => conditions.push("project IS NOT NULL".to_owned()),
            Some([]) => {}
            Some(list) => {
                let placeholders: Vec<String> =
                    (0..list.len()).map(|i| format!("${}", i + 2)).collect();
                conditions.push(format!("project IN ({})", placeholders.join(", ")));
            }
        }
        if conditions.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {EXCEPTION_COLUMNS} FROM policy_exceptions WHERE {} \
             ORDER BY created_at DESC, id LIMIT $1",
            conditions.join(" OR ")
        );
        let mut query = sqlx::query(&sql).bind(i64::from(limit));
        for project in projects.unwrap_or_default() {
            query = query.bind(project.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(exception_from_row).collect()
    }

    pub async fn exception(&self, id: &str) -> Result<Option<ExceptionRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {EXCEPTION_COLUMNS} FROM policy_exceptions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(exception_from_row).transpose()
    }

    /// Removes exception `id`; false when there was none.
    pub async fn remove_exception(&self, id: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        bump(&mut tx).await?;
        let removed = sqlx::query("DELETE FROM policy_exceptions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed.rows_affected() == 1)
    }

    /// Keeps an uploaded VEX document; false when the project has these bytes already.
    pub async fn add_vex(&self, vex: &VexRecord) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        bump(&mut tx).await?;
        let added = sqlx::query(&format!(
            "INSERT INTO vex_documents ({VEX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (project, digest) DO NOTHING"
        ))
        .bind(vex.project.as_str())
        .bind(vex.digest.as_str())
        .bind(vex.format.as_str())
        .bind(vex.document.as_slice())
        .bind(vex.statements)
        .bind(vex.uploaded_by.as_str())
        .bind(vex.uploaded_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(added.rows_affected() == 1)
    }

    /// The VEX documents uploaded to `project`, oldest first, without their bytes (`document`
    /// empty): a listing.
    pub async fn vex_listing(&self, project: &str) -> Result<Vec<VexRecord>> {
        let rows = sqlx::query(
            "SELECT project, digest, format, statements, uploaded_by, uploaded_at \
             FROM vex_documents WHERE project = $1 ORDER BY uploaded_at, digest",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(VexRecord {
                    project: row.try_get("project")?,
                    digest: row.try_get("digest")?,
                    format: row.try_get("format")?,
                    document: Vec::new(),
                    statements: row.try_get("statements")?,
                    uploaded_by: row.try_get("uploaded_by")?,
                    uploaded_at: row.try_get("uploaded_at")?,
                })
            })
            .collect()
    }

    /// The VEX documents uploaded to `project`, oldest first.
    pub async fn vex_documents(&self, project: &str) -> Result<Vec<VexRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {VEX_COLUMNS} FROM vex_documents WHERE project = $1 \
             ORDER BY uploaded_at, digest"
        ))
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(vex_from_row).collect()
    }

    /// Removes an uploaded VEX document; false when there was none.
    pub async fn remove_vex(&self, project: &str, digest: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        bump(&mut tx).await?;
        let removed = sqlx::query("DELETE FROM vex_documents WHERE project = $1 AND digest = $2")
            .bind(project)
            .bind(digest)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed.rows_affected() == 1)
    }

    /// What every cached policy decision depends on besides its own inputs, as one string
    /// that changes when any of it does: the newest repository change (signatures, VEX and
    /// SBOM referrers, tags), the newest finding change (re-matches), the newest finished
    /// scan, and the governance generation (policies, keys, exceptions, uploaded VEX).
    pub async fn decision_snapshot(&self) -> Result<String> {
        let row = sqlx::query(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM events), \
             (SELECT COALESCE(MAX(id), 0) FROM finding_changes), \
             (SELECT COALESCE(MAX(finished_at), 0) FROM scans), \
             (SELECT value FROM governance_generation WHERE singleton = 1)",
        )
        .fetch_one(&self.pool)
        .await?;
        let parts: [i64; 4] = [
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        ];
        Ok(format!(
            "{}.{}.{}.{}",
            parts[0], parts[1], parts[2], parts[3]
        ))
    }

    /// The tags of `repository` pointing at manifest `digest`, by name.
    pub async fn manifest_tags(
        &self,
        repository: &bulwark_oci::RepositoryName,
        digest: &bulwark_oci::Digest,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id \
             WHERE r.name = $1 AND t.manifest_digest = $2 ORDER BY t.name",
        )
        .bind(repository.as_str())
        .bind(digest.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(Into::into))
            .collect()
    }

    /// The indexes in `repository` that list manifest `digest` as a child (a signature of
    /// the index covers its platforms).
    pub async fn parent_indexes(&self, repository: &str, digest: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT x.manifest_digest FROM manifest_references x \
             JOIN repositories r ON r.id = x.repository_id \
             WHERE r.name = $1 AND x.child_digest = $2 AND x.child_kind = 'manifest' \
             ORDER BY x.manifest_digest LIMIT 16",
        )
        .bind(repository)
        .bind(digest)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(Into::into))
            .collect()
    }
}
