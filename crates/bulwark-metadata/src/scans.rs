//! Scanning's tables: the durable scan queue and its outcomes, layer inventories keyed by the
//! layer's digest, each artifact's components (the impact index), and the findings of each
//! distinct package version, with the history of their appearing and going away.
//!
//! Findings belong to package versions, not to artifacts: an artifact's findings are its
//! components joined with them. So a change of advisory data is applied once per package
//! version it touches, however many artifacts hold it, and no artifact is read again.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::advisories::{CHUNK, insert_values, row_values};
use crate::{ManifestRecord, MetadataError, MetadataStore, Result};

/// Where an artifact's scan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    Pending,
    Running,
    Done,
    Failed,
}

impl ScanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Pending => "pending",
            ScanStatus::Running => "running",
            ScanStatus::Done => "done",
            ScanStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        [
            ScanStatus::Pending,
            ScanStatus::Running,
            ScanStatus::Done,
            ScanStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| MetadataError::Corrupt(format!("unknown scan status {text:?}")))
    }
}

/// One artifact's scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRecord {
    pub digest: String,
    pub status: ScanStatus,
    /// Why the last attempt failed (a failed scan; a pending one being retried).
    pub reason: Option<String>,
    pub attempts: i64,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub os: Option<String>,
    /// JSON array of what the read skipped, and why.
    pub warnings: Option<String>,
    pub first_done_at: Option<i64>,
}

/// A scan taken from the queue by one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanClaim {
    pub digest: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// The hash of what the last finished scan stored (`ScanOutcome::inventory_hash`).
    pub inventory_hash: Option<String>,
}

/// One component of an artifact's final filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactComponent {
    pub kind: String,
    pub name: String,
    pub version: String,
    pub purl: Option<String>,
    pub path: String,
    pub layer_digest: Option<String>,
    /// For an index: the platform manifest it came from.
    pub platform: Option<String>,
    /// The repository whose attached SBOM listed it; `None`: the artifact's own content,
    /// true in every repository holding it.
    pub repository: Option<String>,
    /// The package advisories name it by: (ecosystem key, normalised name, version).
    pub package: Option<PackageVersion>,
}

/// What a finished scan stores.
#[derive(Debug, Clone, Copy)]
pub struct ScanOutcome<'a> {
    /// The final filesystem's distribution (`debian 12`).
    pub os: Option<&'a str>,
    /// JSON array of what the read skipped, and why.
    pub warnings: &'a str,
    pub components: &'a [ArtifactComponent],
    pub secrets: &'a [ArtifactSecret],
    /// A hash of all of the above: the same hash means the same outcome.
    pub inventory_hash: &'a str,
}

/// What [`MetadataStore::finish_scan`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The claim was no longer this holder's: nothing stored.
    Lost,
    /// Done, with the same outcome as the last scan: the stored rows were kept.
    Unchanged,
    /// Done, and the outcome stored.
    Stored,
}

/// A leaked secret in an artifact, redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactSecret {
    pub rule: String,
    pub title: String,
    pub severity: String,
    pub path: String,
    pub line: i64,
    pub redacted: String,
    pub fingerprint: String,
    pub layer_digest: Option<String>,
    pub platform: Option<String>,
}

/// A package version as advisories name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageVersion {
    pub ecosystem: String,
    pub package: String,
    pub version: String,
}

/// One vulnerability of one package version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFinding {
    pub vulnerability: String,
    /// Higher is worse (critical 5 … unrated 0).
    pub severity_rank: i64,
    pub malicious: bool,
    /// Every id it is known by (the name, the records, their aliases).
    pub ids: Vec<String>,
    /// The match as the scanner describes it (JSON).
    pub detail: String,
}

/// A finding of an artifact: one of its components and one vulnerability of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFinding {
    pub component: ArtifactComponent,
    pub vulnerability: String,
    pub severity_rank: i64,
    pub malicious: bool,
    pub detail: String,
    /// When the artifact was first known to have it: the later of the finding's appearance
    /// and the artifact's first complete scan.
    pub first_seen: i64,
}

/// What applying a package version's new matches changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchChanges {
    pub added: u64,
    pub resolved: u64,
}

/// An artifact a query found: where it is stored and under which tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpactedArtifact {
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub package: PackageVersion,
    /// The vulnerability, for a query by advisory id.
    pub vulnerability: Option<String>,
}

const SCAN_COLUMNS: &str = "digest, status, reason, attempts, queued_at, started_at, \
     finished_at, os, warnings, first_done_at";

fn scan_from_row(row: &AnyRow) -> Result<ScanRecord> {
    Ok(ScanRecord {
        digest: row.try_get("digest")?,
        status: ScanStatus::parse(&row.try_get::<String, _>("status")?)?,
        reason: row.try_get("reason")?,
        attempts: row.try_get("attempts")?,
        queued_at: row.try_get("queued_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        os: row.try_get("os")?,
        warnings: row.try_get("warnings")?,
        first_done_at: row.try_get("first_done_at")?,
    })
}

const COMPONENT_COLUMNS: &str = "c.kind, c.name, c.version, c.purl, c.path, c.layer_digest, \
     c.platform, c.repository, c.ecosystem, c.package, c.package_version";

/// A component row seen from repository `$n`: the artifact's own, or that repository's claim.
fn seen_from(placeholder: &str) -> String {
    format!("(c.repository IS NULL OR c.repository = {placeholder})")
}

fn component_from_row(row: &AnyRow) -> Result<ArtifactComponent> {
    let ecosystem: Option<String> = row.try_get("ecosystem")?;
    let package: Option<String> = row.try_get("package")?;
    let package_version: Option<String> = row.try_get("package_version")?;
    Ok(ArtifactComponent {
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        purl: row.try_get("purl")?,
        path: row.try_get("path")?,
        layer_digest: row.try_get("layer_digest")?,
        platform: row.try_get("platform")?,
        repository: row.try_get("repository")?,
        package: match (ecosystem, package, package_version) {
            (Some(ecosystem), Some(package), Some(version)) => Some(PackageVersion {
                ecosystem,
                package,
                version,
            }),
            _ => None,
        },
    })
}

impl MetadataStore {
    /// Queues a scan of `digest` (at push, or asked for): a new row, or a finished scan put
    /// back in the queue. A scan pending or running already is left as it is. True when
    /// this call queued it.
    pub async fn queue_scan(&self, digest: &str, now: i64) -> Result<bool> {
        let queued = sqlx::query(
            "INSERT INTO scans (digest, status, attempts, not_before, queued_at) \
             VALUES ($1, 'pending', 0, $2, $2) \
             ON CONFLICT (digest) DO UPDATE SET status = 'pending', attempts = 0, \
             not_before = excluded.not_before, queued_at = excluded.queued_at, reason = NULL, \
             holder = NULL, lease_until = NULL \
             WHERE scans.status IN ('done', 'failed')",
        )
        .bind(digest)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if queued.rows_affected() == 1 {
            return Ok(true);
        }
        // A running scan may have read what changed before it changed: it runs again.
        sqlx::query("UPDATE scans SET rescan = 1 WHERE digest = $1 AND status = 'running'")
            .bind(digest)
            .execute(&self.pool)
            .await?;
        Ok(false)
    }

    /// Takes the oldest due scan for `holder`: a pending one whose time has come, or a
    /// running one whose holder's lease ran out (its node died). Each scan is given to one
    /// holder: the update re-checks the row's state.
    pub async fn claim_scan(
        &self,
        holder: &str,
        lease_ms: i64,
        now: i64,
    ) -> Result<Option<ScanClaim>> {
        const DUE: &str = "((status = 'pending' AND not_before <= $3) \
             OR (status = 'running' AND lease_until < $3))";
        for _ in 0..4 {
            let candidate = sqlx::query(&format!(
                "SELECT digest FROM scans WHERE {} ORDER BY queued_at LIMIT 1",
                DUE.replace("$3", "$1")
            ))
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            let Some(candidate) = candidate else {
                return Ok(None);
            };
            let digest: String = candidate.try_get(0)?;
            let claimed = sqlx::query(&format!(
                "UPDATE scans SET status = 'running', holder = $1, lease_until = $2, \
                 attempts = attempts + 1, started_at = $3 WHERE digest = $4 AND {DUE} \
                 RETURNING attempts, inventory_hash"
            ))
            .bind(holder)
            .bind(now.saturating_add(lease_ms))
            .bind(now)
            .bind(digest.as_str())
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = claimed {
                return Ok(Some(ScanClaim {
                    digest,
                    attempts: row.try_get(0)?,
                    inventory_hash: row.try_get(1)?,
                }));
            }
            // Another worker took it between the two statements: look again.
        }
        Ok(None)
    }

    /// Extends `holder`'s lease on a running scan; false when it is no longer `holder`'s.
    pub async fn renew_scan(&self, digest: &str, holder: &str, until: i64) -> Result<bool> {
        let renewed = sqlx::query(
            "UPDATE scans SET lease_until = $1 WHERE digest = $2 AND holder = $3 \
             AND status = 'running'",
        )
        .bind(until)
        .bind(digest)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Puts a failed attempt back in the queue until `not_before`, or marks the scan failed
    /// for good when `retry_at` is `None`. Only the holder's claim is changed.
    pub async fn fail_scan(
        &self,
        digest: &str,
        holder: &str,
        reason: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<()> {
        let (status, not_before) = match retry_at {
            Some(at) => ("pending", at),
            None => ("failed", now),
        };
        let mut tx = self.pool.begin().await?;
        // Asked for again while it ran: it runs again now, whatever this run's fate.
        let changed = sqlx::query(
            "UPDATE scans SET status = CASE WHEN rescan = 1 THEN 'pending' ELSE $1 END, \
             reason = $2, not_before = CASE WHEN rescan = 1 THEN $4 ELSE $3 END, \
             attempts = CASE WHEN rescan = 1 THEN 0 ELSE attempts END, rescan = 0, \
             finished_at = $4, holder = NULL, lease_until = NULL \
             WHERE digest = $5 AND holder = $6",
        )
        .bind(status)
        .bind(reason)
        .bind(not_before)
        .bind(now)
        .bind(digest)
        .bind(holder)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 1 && retry_at.is_none() {
            let detail = serde_json::json!({ "failed": reason }).to_string();
            crate::events::record_with(
                &mut tx,
                self.backend,
                crate::events::NewEvent {
                    kind: crate::EventKind::ScanCompleted,
                    repository: "",
                    digest,
                    tag: None,
                    detail: Some(&detail),
                },
                None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores an artifact's inventory and marks its scan done, in one transaction: a report
    /// never sees half of it. False (and nothing changed) when `holder` lost the claim.
    pub async fn finish_scan(
        &self,
        digest: &str,
        holder: &str,
        outcome: &ScanOutcome<'_>,
        now: i64,
    ) -> Result<Finished> {
        let ScanOutcome {
            os,
            warnings,
            components,
            secrets,
            inventory_hash,
        } = *outcome;
        let mut tx = self.pool.begin().await?;
        // A write first (SQLite takes its write lock before anything is read), which also
        // proves the claim is still this holder's.
        let held = sqlx::query(
            "UPDATE scans SET lease_until = lease_until WHERE digest = $1 AND holder = $2 \
             AND status = 'running'",
        )
        .bind(digest)
        .bind(holder)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() != 1 {
            return Ok(Finished::Lost);
        }
        let before: Option<String> =
            sqlx::query("SELECT inventory_hash FROM scans WHERE digest = $1")
                .bind(digest)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        sqlx::query(
            "UPDATE scans SET status = CASE WHEN rescan = 1 THEN 'pending' ELSE 'done' END, \
             reason = NULL, os = $1, warnings = $2, not_before = $3, rescan = 0, \
             finished_at = $3, first_done_at = COALESCE(first_done_at, $3), holder = NULL, \
             lease_until = NULL, inventory_hash = $4 WHERE digest = $5",
        )
        .bind(os)
        .bind(warnings)
        .bind(now)
        .bind(inventory_hash)
        .bind(digest)
        .execute(&mut *tx)
        .await?;
        let completed = crate::events::NewEvent {
            kind: crate::EventKind::ScanCompleted,
            repository: "",
            digest,
            tag: None,
            detail: None,
        };
        if before.as_deref() == Some(inventory_hash) {
            crate::events::record_with(&mut tx, self.backend, completed, None).await?;
            tx.commit().await?;
            return Ok(Finished::Unchanged);
        }
        for table in ["artifact_components", "artifact_secrets"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE digest = $1"))
                .bind(digest)
                .execute(&mut *tx)
                .await?;
        }
        const SECRET_COLUMNS: usize = 11;
        for (chunk_index, chunk) in secrets.chunks(CHUNK / SECRET_COLUMNS).enumerate() {
            let sql = insert_values(
                "artifact_secrets (digest, position, rule, title, severity, path, line, \
                 redacted, fingerprint, layer_digest, platform)",
                SECRET_COLUMNS,
                chunk.len(),
                "",
            );
            let mut query = sqlx::query(&sql);
            for (i, secret) in chunk.iter().enumerate() {
                let position =
                    i64::try_from(chunk_index * (CHUNK / SECRET_COLUMNS) + i).unwrap_or(i64::MAX);
                query = query
                    .bind(digest)
                    .bind(position)
                    .bind(secret.rule.as_str())
                    .bind(secret.title.as_str())
                    .bind(secret.severity.as_str())
                    .bind(secret.path.as_str())
                    .bind(secret.line)
                    .bind(secret.redacted.as_str())
                    .bind(secret.fingerprint.as_str())
                    .bind(secret.layer_digest.as_deref())
                    .bind(secret.platform.as_deref());
            }
            query.execute(&mut *tx).await?;
        }
        const COLUMNS: usize = 13;
        let mut position: i64 = 0;
        for chunk in components.chunks(CHUNK / COLUMNS) {
            let sql = insert_values(
                "artifact_components (digest, position, kind, name, version, purl, path, \
                 layer_digest, platform, repository, ecosystem, package, package_version)",
                COLUMNS,
                chunk.len(),
                "",
            );
            let mut query = sqlx::query(&sql);
            for component in chunk {
                let package = component.package.as_ref();
                query = query
                    .bind(digest)
                    .bind(position)
                    .bind(component.kind.as_str())
                    .bind(component.name.as_str())
                    .bind(component.version.as_str())
                    .bind(component.purl.as_deref())
                    .bind(component.path.as_str())
                    .bind(component.layer_digest.as_deref())
                    .bind(component.platform.as_deref())
                    .bind(component.repository.as_deref())
                    .bind(package.map(|p| p.ecosystem.as_str()))
                    .bind(package.map(|p| p.package.as_str()))
                    .bind(package.map(|p| p.version.as_str()));
                position += 1;
            }
            query.execute(&mut *tx).await?;
        }
        crate::events::record_with(&mut tx, self.backend, completed, None).await?;
        tx.commit().await?;
        Ok(Finished::Stored)
    }

    pub async fn scan(&self, digest: &str) -> Result<Option<ScanRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {SCAN_COLUMNS} FROM scans WHERE digest = $1"
        ))
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(scan_from_row).transpose()
    }

    /// Scans waiting or running, for the queue-depth gauge.
    pub async fn scans_outstanding(&self) -> Result<u64> {
        let row = sqlx::query("SELECT COUNT(*) FROM scans WHERE status IN ('pending', 'running')")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0))
    }

    /// A layer's stored inventory (JSON), if it was read before.
    pub async fn layer_inventory(&self, digest: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT inventory FROM layer_inventories WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
    }

    /// Keeps a layer's inventory, replacing one an older engine made (a layer's content
    /// never changes; what is read of it does, as extractors are added).
    pub async fn put_layer_inventory(&self, digest: &str, inventory: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO layer_inventories (digest, inventory, read_at) VALUES ($1, $2, $3) \
             ON CONFLICT (digest) DO UPDATE SET inventory = excluded.inventory, \
             read_at = excluded.read_at",
        )
        .bind(digest)
        .bind(inventory)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stored bytes of manifest `digest` from any repository that has it (the bytes are
    /// those of the digest, wherever they are stored).
    pub async fn manifest_anywhere(&self, digest: &str) -> Result<Option<ManifestRecord>> {
        let row =
            sqlx::query("SELECT media_type, content FROM manifests WHERE digest = $1 LIMIT 1")
                .bind(digest)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            Ok(ManifestRecord {
                digest: digest
                    .parse()
                    .map_err(|e| MetadataError::Corrupt(format!("digest {digest:?}: {e}")))?,
                media_type: r.try_get(0)?,
                content: r.try_get(1)?,
            })
        })
        .transpose()
    }

    /// The repositories holding manifest `digest`, by name.
    pub async fn repositories_with_manifest(&self, digest: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT r.name FROM manifests m JOIN repositories r ON r.id = m.repository_id \
             WHERE m.digest = $1 ORDER BY r.name",
        )
        .bind(digest)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(Into::into))
            .collect()
    }

    /// The components of `digest` as `repository` sees them (`None`: its own content only).
    pub async fn artifact_components(
        &self,
        digest: &str,
        repository: Option<&str>,
    ) -> Result<Vec<ArtifactComponent>> {
        let rows = sqlx::query(&format!(
            "SELECT {COMPONENT_COLUMNS} FROM artifact_components c WHERE c.digest = $1 \
             AND {} ORDER BY c.position",
            seen_from("$2")
        ))
        .bind(digest)
        .bind(repository)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(component_from_row).collect()
    }

    /// The leaked secrets found in an artifact.
    pub async fn artifact_secrets(&self, digest: &str) -> Result<Vec<ArtifactSecret>> {
        let rows = sqlx::query(
            "SELECT rule, title, severity, path, line, redacted, fingerprint, layer_digest, \
             platform FROM artifact_secrets WHERE digest = $1 ORDER BY position",
        )
        .bind(digest)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ArtifactSecret {
                    rule: row.try_get("rule")?,
                    title: row.try_get("title")?,
                    severity: row.try_get("severity")?,
                    path: row.try_get("path")?,
                    line: row.try_get("line")?,
                    redacted: row.try_get("redacted")?,
                    fingerprint: row.try_get("fingerprint")?,
                    layer_digest: row.try_get("layer_digest")?,
                    platform: row.try_get("platform")?,
                })
            })
            .collect()
    }

    /// Every finding of an artifact: its components joined with their package versions'
    /// findings, worst first, as `repository` sees them (`None`: its own content only).
    pub async fn artifact_findings(
        &self,
        digest: &str,
        repository: Option<&str>,
    ) -> Result<Vec<ArtifactFinding>> {
        let rows = sqlx::query(&format!(
            "SELECT {COMPONENT_COLUMNS}, f.vulnerability, f.severity_rank, f.malicious, \
             f.detail, f.first_seen, s.first_done_at FROM artifact_components c \
             JOIN package_findings f ON f.ecosystem = c.ecosystem AND f.package = c.package \
             AND f.version = c.package_version \
             LEFT JOIN scans s ON s.digest = c.digest \
             WHERE c.digest = $1 AND {} \
             ORDER BY f.malicious DESC, f.severity_rank DESC, f.vulnerability, c.position",
            seen_from("$2")
        ))
        .bind(digest)
        .bind(repository)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let first_seen: i64 = row.try_get("first_seen")?;
                let done: Option<i64> = row.try_get("first_done_at")?;
                Ok(ArtifactFinding {
                    component: component_from_row(row)?,
                    vulnerability: row.try_get("vulnerability")?,
                    severity_rank: row.try_get("severity_rank")?,
                    malicious: row.try_get::<i64, _>("malicious")? != 0,
                    detail: row.try_get("detail")?,
                    first_seen: first_seen.max(done.unwrap_or(first_seen)),
                })
            })
            .collect()
    }

    /// Which of `candidates` were matched already.
    pub async fn matched_among(
        &self,
        candidates: &[PackageVersion],
    ) -> Result<BTreeSet<PackageVersion>> {
        let mut matched = BTreeSet::new();
        for chunk in candidates.chunks(CHUNK / 3) {
            let sql = format!(
                "SELECT ecosystem, package, version FROM matched_packages \
                 WHERE (ecosystem, package, version) IN ({})",
                row_values(3, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for candidate in chunk {
                query = query
                    .bind(candidate.ecosystem.as_str())
                    .bind(candidate.package.as_str())
                    .bind(candidate.version.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                matched.insert(package_from_row(&row)?);
            }
        }
        Ok(matched)
    }

    /// [`MetadataStore::matched_versions`] of many packages (ecosystem, name) at once.
    pub async fn matched_versions_of(
        &self,
        packages: &[(String, String)],
    ) -> Result<BTreeMap<(String, String), Vec<String>>> {
        let mut versions: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for chunk in packages.chunks(CHUNK / 2) {
            let sql = format!(
                "SELECT ecosystem, package, version FROM matched_packages \
                 WHERE (ecosystem, package) IN ({}) ORDER BY ecosystem, package, version",
                row_values(2, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for (ecosystem, package) in chunk {
                query = query.bind(ecosystem.as_str()).bind(package.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                let found = package_from_row(&row)?;
                versions
                    .entry((found.ecosystem, found.package))
                    .or_default()
                    .push(found.version);
            }
        }
        Ok(versions)
    }

    /// Every matched package (ecosystem, name), for a full re-match.
    pub async fn matched_package_names(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT DISTINCT ecosystem, package FROM matched_packages ORDER BY ecosystem, package",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// The packages advisory imports after `after` touched, and the last such import: what
    /// a re-match must look at again.
    pub async fn advisory_changes_after(&self, after: i64) -> Result<(Vec<(String, String)>, i64)> {
        let last: Option<i64> = sqlx::query("SELECT MAX(id) FROM advisory_imports")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let last = last.unwrap_or(0);
        if last <= after {
            return Ok((Vec::new(), after));
        }
        let rows = sqlx::query(
            "SELECT DISTINCT ecosystem, name FROM advisory_changes \
             WHERE import_id > $1 AND import_id <= $2 ORDER BY ecosystem, name",
        )
        .bind(after)
        .bind(last)
        .fetch_all(&self.pool)
        .await?;
        let names = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        Ok((names, last))
    }

    /// Replaces the findings of each package version in `matched` with its findings (its
    /// match against the advisories as they are now), recording what appeared and what went
    /// away, and marks the versions matched. One transaction for them all: a re-match
    /// records every version of a package at once, and each commit is a disk flush.
    pub async fn record_package_findings(
        &self,
        matched: &[(PackageVersion, Vec<PackageFinding>)],
        now: i64,
    ) -> Result<MatchChanges> {
        let mut tx = self.pool.begin().await?;
        // A write first: SQLite takes its write lock before anything is read.
        // Each once: PostgreSQL refuses a row changed twice by one statement.
        let versions: Vec<&PackageVersion> = matched
            .iter()
            .map(|(package, _)| package)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for chunk in versions.chunks(CHUNK / 4) {
            let sql = insert_values(
                "matched_packages (ecosystem, package, version, matched_at)",
                4,
                chunk.len(),
                "ON CONFLICT (ecosystem, package, version) \
                 DO UPDATE SET matched_at = excluded.matched_at",
            );
            let mut query = sqlx::query(&sql);
            for package in chunk {
                query = query
                    .bind(package.ecosystem.as_str())
                    .bind(package.package.as_str())
                    .bind(package.version.as_str())
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        let mut stored: BTreeMap<PackageVersion, Vec<String>> = BTreeMap::new();
        for chunk in versions.chunks(CHUNK / 3) {
            let sql = format!(
                "SELECT ecosystem, package, version, vulnerability FROM package_findings \
                 WHERE (ecosystem, package, version) IN ({})",
                row_values(3, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for package in chunk {
                query = query
                    .bind(package.ecosystem.as_str())
                    .bind(package.package.as_str())
                    .bind(package.version.as_str());
            }
            for row in query.fetch_all(&mut *tx).await? {
                stored
                    .entry(package_from_row(&row)?)
                    .or_default()
                    .push(row.try_get(3)?);
            }
        }
        let mut changes = MatchChanges::default();
        for (package, findings) in matched {
            let before = stored.get(package).map_or(&[][..], Vec::as_slice);
            if !(before.is_empty() && findings.is_empty()) {
                record_version(
                    &mut tx,
                    self.backend,
                    package,
                    before,
                    findings,
                    now,
                    &mut changes,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(changes)
    }

    /// Findings of `digest`'s package versions that went away, with when: (component
    /// package, vulnerability, time), newest first.
    pub async fn resolved_findings(
        &self,
        digest: &str,
        repository: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(PackageVersion, String, i64)>> {
        let rows = sqlx::query(&format!(
            "SELECT DISTINCT h.ecosystem, h.package, h.version, h.vulnerability, h.at \
             FROM finding_changes h JOIN artifact_components c ON c.ecosystem = h.ecosystem \
             AND c.package = h.package AND c.package_version = h.version \
             WHERE c.digest = $1 AND {} AND h.change = 'resolved' ORDER BY h.at DESC LIMIT $3",
            seen_from("$2")
        ))
        .bind(digest)
        .bind(repository)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((package_from_row(r)?, r.try_get(3)?, r.try_get(4)?)))
            .collect()
    }

    pub async fn scan_state(&self, name: &str) -> Result<i64> {
        let row = sqlx::query("SELECT value FROM scan_state WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get(0)?,
            None => 0,
        })
    }

    /// Moves counter `name` from `from` to `to` only if it still reads `from` (another node
    /// may have moved it).
    pub async fn advance_scan_state(&self, name: &str, from: i64, to: i64) -> Result<bool> {
        let moved = sqlx::query(
            "INSERT INTO scan_state (name, value) VALUES ($1, $2) ON CONFLICT (name) \
             DO UPDATE SET value = excluded.value WHERE scan_state.value = $3",
        )
        .bind(name)
        .bind(to)
        .bind(from)
        .execute(&self.pool)
        .await?;
        Ok(moved.rows_affected() == 1)
    }

    /// Whether pushes to `project` queue scans (true for a project that does not exist:
    /// nothing can be pushed there anyway).
    /// The installation's random 32-byte key `name`: made by the first node to ask (a race
    /// between two is settled by the primary key), the same for every node after.
    pub async fn installation_key(&self, name: &str) -> Result<[u8; 32]> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| {
            MetadataError::Database(sqlx::Error::Io(std::io::Error::other(e.to_string())))
        })?;
        sqlx::query(
            "INSERT INTO installation_keys (name, key, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(hex::encode(fresh))
        .bind(crate::now_millis())
        .execute(&self.pool)
        .await?;
        let stored: String = sqlx::query("SELECT key FROM installation_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(&stored, &mut key)
            .map_err(|e| MetadataError::Corrupt(format!("installation key {name}: {e}")))?;
        Ok(key)
    }

    pub async fn scan_on_push(&self, project: &str) -> Result<bool> {
        let row = sqlx::query("SELECT scan_on_push FROM projects WHERE name = $1")
            .bind(project)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<i64, _>(0)? != 0,
            None => true,
        })
    }

    /// The artifacts holding a package version affected by vulnerability `id` (any id it is
    /// known by), in repositories of `projects` (`None`: all), at most `limit`.
    pub async fn impact_of_vulnerability(
        &self,
        id: &str,
        projects: Option<&[String]>,
        limit: u32,
    ) -> Result<Vec<ImpactedArtifact>> {
        let sql = format!(
            "SELECT DISTINCT r.name AS repository, c.digest, c.ecosystem, c.package, \
             c.package_version, i.vulnerability FROM package_finding_ids i \
             JOIN artifact_components c ON c.ecosystem = i.ecosystem AND c.package = i.package \
             AND c.package_version = i.version \
             JOIN manifests m ON m.digest = c.digest \
             JOIN repositories r ON r.id = m.repository_id \
             AND (c.repository IS NULL OR c.repository = r.name) \
             WHERE i.id = $1 {} ORDER BY r.name, c.digest LIMIT $2",
            in_projects(projects, 3)
        );
        let query = sqlx::query(&sql).bind(id).bind(i64::from(limit));
        let rows = bind_projects(query, projects).fetch_all(&self.pool).await?;
        self.impacted(rows).await
    }

    /// The artifacts holding package `package` of `ecosystem` (at `version`, or any).
    pub async fn impact_of_package(
        &self,
        ecosystem: &str,
        package: &str,
        version: Option<&str>,
        projects: Option<&[String]>,
        limit: u32,
    ) -> Result<Vec<ImpactedArtifact>> {
        let sql = format!(
            "SELECT DISTINCT r.name AS repository, c.digest, c.ecosystem, c.package, \
             c.package_version, NULL AS vulnerability FROM artifact_components c \
             JOIN manifests m ON m.digest = c.digest \
             JOIN repositories r ON r.id = m.repository_id \
             AND (c.repository IS NULL OR c.repository = r.name) \
             WHERE c.ecosystem = $1 AND c.package = $2 \
             AND ($3 IS NULL OR c.package_version = $3) {} ORDER BY r.name, c.digest LIMIT $4",
            in_projects(projects, 5)
        );
        let query = sqlx::query(&sql)
            .bind(ecosystem)
            .bind(package)
            .bind(version)
            .bind(i64::from(limit));
        let rows = bind_projects(query, projects).fetch_all(&self.pool).await?;
        self.impacted(rows).await
    }

    async fn impacted(&self, rows: Vec<AnyRow>) -> Result<Vec<ImpactedArtifact>> {
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(ImpactedArtifact {
                package: PackageVersion {
                    ecosystem: row.try_get("ecosystem")?,
                    package: row.try_get("package")?,
                    version: row.try_get("package_version")?,
                },
                vulnerability: row.try_get("vulnerability")?,
                repository: row.try_get("repository")?,
                digest: row.try_get("digest")?,
                tags: Vec::new(),
            });
        }
        // The tags of every (repository, digest) listed, a few hundred pairs per query.
        let pairs: BTreeSet<(String, String)> = out
            .iter()
            .map(|a| (a.repository.clone(), a.digest.clone()))
            .collect();
        let pairs: Vec<(String, String)> = pairs.into_iter().collect();
        let mut tags: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for chunk in pairs.chunks(CHUNK / 2) {
            let sql = format!(
                "SELECT r.name, t.manifest_digest, t.name FROM tags t \
                 JOIN repositories r ON r.id = t.repository_id \
                 WHERE (r.name, t.manifest_digest) IN ({}) ORDER BY t.name",
                row_values(2, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for (repository, digest) in chunk {
                query = query.bind(repository.as_str()).bind(digest.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                tags.entry((row.try_get(0)?, row.try_get(1)?))
                    .or_default()
                    .push(row.try_get(2)?);
            }
        }
        for artifact in &mut out {
            if let Some(names) = tags.get(&(artifact.repository.clone(), artifact.digest.clone())) {
                artifact.tags.clone_from(names);
            }
        }
        Ok(out)
    }
}

/// [`MetadataStore::record_package_findings`] for one package version whose stored findings
/// were `stored`, inside `tx`.
async fn record_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: crate::Backend,
    package: &PackageVersion,
    stored: &[String],
    findings: &[PackageFinding],
    now: i64,
    changes: &mut MatchChanges,
) -> Result<()> {
    let change = |name: &str, kind: &'static str| {
        sqlx::query(
            "INSERT INTO finding_changes (ecosystem, package, version, vulnerability, change, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(package.ecosystem.clone())
        .bind(package.package.clone())
        .bind(package.version.clone())
        .bind(name.to_owned())
        .bind(kind)
        .bind(now)
    };
    for gone in stored
        .iter()
        .filter(|name| !findings.iter().any(|f| &f.vulnerability == *name))
    {
        for table in ["package_finding_ids", "package_findings"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE ecosystem = $1 AND package = $2 AND version = $3 \
                 AND vulnerability = $4"
            ))
            .bind(package.ecosystem.as_str())
            .bind(package.package.as_str())
            .bind(package.version.as_str())
            .bind(gone.as_str())
            .execute(&mut **tx)
            .await?;
        }
        change(gone, "resolved").execute(&mut **tx).await?;
        changes.resolved += 1;
    }
    for finding in findings {
        let is_new = !stored.contains(&finding.vulnerability);
        sqlx::query(
            "INSERT INTO package_findings (ecosystem, package, version, vulnerability, \
             severity_rank, malicious, detail, first_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (ecosystem, package, version, vulnerability) DO UPDATE SET \
             severity_rank = excluded.severity_rank, malicious = excluded.malicious, \
             detail = excluded.detail",
        )
        .bind(package.ecosystem.as_str())
        .bind(package.package.as_str())
        .bind(package.version.as_str())
        .bind(finding.vulnerability.as_str())
        .bind(finding.severity_rank)
        .bind(i64::from(finding.malicious))
        .bind(finding.detail.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "DELETE FROM package_finding_ids WHERE ecosystem = $1 AND package = $2 \
             AND version = $3 AND vulnerability = $4",
        )
        .bind(package.ecosystem.as_str())
        .bind(package.package.as_str())
        .bind(package.version.as_str())
        .bind(finding.vulnerability.as_str())
        .execute(&mut **tx)
        .await?;
        let mut ids: Vec<&str> = finding.ids.iter().map(String::as_str).collect();
        ids.push(&finding.vulnerability);
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(CHUNK / 5) {
            let sql = insert_values(
                "package_finding_ids (id, ecosystem, package, version, vulnerability)",
                5,
                chunk.len(),
                "",
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query
                    .bind(*id)
                    .bind(package.ecosystem.as_str())
                    .bind(package.package.as_str())
                    .bind(package.version.as_str())
                    .bind(finding.vulnerability.as_str());
            }
            query.execute(&mut **tx).await?;
        }
        if is_new {
            change(&finding.vulnerability, "added")
                .execute(&mut **tx)
                .await?;
            changes.added += 1;
            if finding.severity_rank >= CRITICAL_RANK || finding.malicious {
                let detail = serde_json::json!({
                    "ecosystem": package.ecosystem,
                    "package": package.package,
                    "version": package.version,
                    "vulnerability": finding.vulnerability,
                    "malicious": finding.malicious,
                })
                .to_string();
                crate::events::record_with(
                    tx,
                    backend,
                    crate::events::NewEvent {
                        kind: crate::EventKind::CriticalFinding,
                        repository: "",
                        digest: "",
                        tag: None,
                        detail: Some(&detail),
                    },
                    None,
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// [`PackageFinding::severity_rank`] of a critical finding.
pub const CRITICAL_RANK: i64 = 5;

/// `AND (…)` keeping repositories of `projects` (numbered from `$first`); nothing for all.
/// A repository of project `p` is named `p/…`: between `p/` and `p0` (`0` follows `/`).
fn in_projects(projects: Option<&[String]>, first: usize) -> String {
    match projects {
        None => String::new(),
        Some([]) => "AND 1 = 0".to_owned(),
        Some(projects) => {
            let each: Vec<String> = (0..projects.len())
                .map(|i| {
                    let n = first + 2 * i;
                    format!("(r.name > ${n} AND r.name < ${})", n + 1)
                })
                .collect();
            format!("AND ({})", each.join(" OR "))
        }
    }
}

fn bind_projects<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    projects: Option<&[String]>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for project in projects.unwrap_or_default() {
        query = query
            .bind(format!("{project}/"))
            .bind(format!("{project}0"));
    }
    query
}

fn package_from_row(row: &AnyRow) -> Result<PackageVersion> {
    Ok(PackageVersion {
        ecosystem: row.try_get(0)?,
        package: row.try_get(1)?,
        version: row.try_get(2)?,
    })
}
