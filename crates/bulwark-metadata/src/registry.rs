//! Queries for the registry's own tables.

use bulwark_oci::{Digest, ReferenceKind, RepositoryName, RequestContext, Tag};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::events::{self, EventKind};
use crate::{Backend, MetadataError, MetadataStore, Result, now_millis};

/// A part of an upload session as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPart {
    pub name: String,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct UploadRecord {
    pub id: String,
    pub repository: String,
    pub size: u64,
    /// How many chunks the session holds; [`MetadataStore::upload_parts`] lists them.
    pub part_count: u64,
    /// The hasher's state after the session's `size` bytes, as the registry saved it; none
    /// before the first byte.
    pub hasher_state: Option<String>,
}

/// A manifest about to be stored, with everything indexed from it.
#[derive(Debug, Clone)]
pub struct NewManifest {
    pub digest: Digest,
    pub media_type: String,
    pub content: Vec<u8>,
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
    /// The manifest's annotations as JSON, kept for the referrers API.
    pub annotations: Option<String>,
    /// Content the repository must already hold, with the size the manifest claims.
    pub references: Vec<(ReferenceKind, Digest, i64)>,
}

#[derive(Debug, Clone)]
pub struct ManifestRecord {
    pub digest: Digest,
    pub media_type: String,
    pub content: Vec<u8>,
}

/// A manifest without its bytes, as listed by the referrers API.
#[derive(Debug, Clone)]
pub struct ManifestSummary {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub annotations: Option<String>,
}

/// Why a manifest's reference cannot be satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissingContent {
    Absent {
        kind: ReferenceKind,
        digest: Digest,
    },
    SizeMismatch {
        digest: Digest,
        claimed: i64,
        stored: i64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum PutManifestError {
    #[error("manifest references content the repository does not hold: {0:?}")]
    Missing(MissingContent),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

impl From<sqlx::Error> for PutManifestError {
    fn from(e: sqlx::Error) -> Self {
        PutManifestError::Metadata(e.into())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestDelete {
    Deleted,
    NotFound,
    /// Index manifests in the repository still list it.
    ReferencedBy(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobUnlink {
    Unlinked,
    NotFound,
    /// Manifests in the repository still need it.
    ReferencedBy(Vec<String>),
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| MetadataError::Corrupt(format!("negative {what}")))
}

fn parse_digest(raw: &str) -> Result<Digest> {
    raw.parse()
        .map_err(|e| MetadataError::Corrupt(format!("digest {raw:?}: {e}")))
}

fn kind_str(kind: ReferenceKind) -> &'static str {
    match kind {
        ReferenceKind::Blob => "blob",
        ReferenceKind::Manifest => "manifest",
    }
}

/// Creates the repository if needed and locks its row for the rest of the transaction,
/// provided its project exists.
///
/// The project check races with `delete_project`, which deletes the project row first and
/// then looks for repositories in it. On PostgreSQL the project row is read `FOR KEY SHARE`
/// (it conflicts with the delete, not with changes to the project's settings), so whichever
/// comes second waits for the other: a delete that went first leaves no row here
/// (`ProjectMissing`), a repository created first makes the delete find it. This relies on
/// READ COMMITTED, PostgreSQL's default, where the delete's later query sees the committed
/// repository; under REPEATABLE READ it would not. On SQLite the insert above has already
/// taken the database's single write lock.
async fn ensure_and_lock_repository(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    repository: &RepositoryName,
    now: i64,
) -> Result<i64> {
    let name = repository.as_str();
    sqlx::query(
        "INSERT INTO repositories (name, created_at, updated_at) VALUES ($1, $2, $2) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let project_sql = match backend {
        Backend::Postgres => "SELECT id FROM projects WHERE name = $1 FOR KEY SHARE",
        Backend::Sqlite => "SELECT id FROM projects WHERE name = $1",
    };
    let project: Option<i64> = sqlx::query_scalar(project_sql)
        .bind(repository.project())
        .fetch_optional(&mut **tx)
        .await?;
    if project.is_none() {
        return Err(MetadataError::ProjectMissing(
            repository.project().to_owned(),
        ));
    }
    lock_repository(tx, name, now)
        .await?
        .ok_or_else(|| MetadataError::Corrupt(format!("repository {name} vanished")))
}

/// Locks an existing repository's row; `None` if there is no such repository.
async fn lock_repository(
    tx: &mut Transaction<'_, Any>,
    name: &str,
    now: i64,
) -> Result<Option<i64>> {
    let row = sqlx::query("UPDATE repositories SET updated_at = $2 WHERE name = $1 RETURNING id")
        .bind(name)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| r.get::<i64, _>(0)))
}

fn summary_from_row(row: &AnyRow) -> Result<ManifestSummary> {
    Ok(ManifestSummary {
        digest: parse_digest(&row.try_get::<String, _>("digest")?)?,
        media_type: row.try_get("media_type")?,
        size: to_u64(row.try_get("size")?, "manifest size")?,
        artifact_type: row.try_get("artifact_type")?,
        annotations: row.try_get("annotations")?,
    })
}

impl MetadataStore {
    // ---- upload sessions ----

    pub async fn create_upload(&self, id: &str, repository: &RepositoryName) -> Result<()> {
        let now = now_millis();
        // Only into an existing project, so that a push into none is refused before its
        // bytes are sent. Linking the blob checks again, authoritatively.
        let created = sqlx::query(
            "INSERT INTO upload_sessions (id, repository, size, part_count, created_at, updated_at) \
             SELECT $1, $2, 0, 0, $3, $3 WHERE EXISTS (SELECT 1 FROM projects WHERE name = $4)",
        )
        .bind(id)
        .bind(repository.as_str())
        .bind(now)
        .bind(repository.project())
        .execute(&self.pool)
        .await?;
        if created.rows_affected() == 0 {
            return Err(MetadataError::ProjectMissing(
                repository.project().to_owned(),
            ));
        }
        Ok(())
    }

    /// The session `id` if it exists and belongs to `repository`.
    pub async fn upload(
        &self,
        id: &str,
        repository: &RepositoryName,
    ) -> Result<Option<UploadRecord>> {
        let Some(row) = sqlx::query(
            "SELECT id, repository, size, part_count, hasher_state FROM upload_sessions \
             WHERE id = $1 AND repository = $2",
        )
        .bind(id)
        .bind(repository.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(UploadRecord {
            id: row.try_get("id")?,
            repository: row.try_get("repository")?,
            size: to_u64(row.try_get("size")?, "upload size")?,
            part_count: to_u64(row.try_get("part_count")?, "upload part count")?,
            hasher_state: row.try_get("hasher_state")?,
        }))
    }

    /// The chunks of session `id`, in order; read only to complete it.
    pub async fn upload_parts(&self, id: &str) -> Result<Vec<UploadPart>> {
        sqlx::query("SELECT name, size FROM upload_parts WHERE upload_id = $1 ORDER BY part_no")
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|part| {
                Ok(UploadPart {
                    name: part.try_get("name")?,
                    size: to_u64(part.try_get("size")?, "part size")?,
                })
            })
            .collect()
    }

    /// Appends `part` to session `id` if the session is still at `expected_offset`, with
    /// `hasher_state` the state after it; returns false when another request moved it on
    /// (or it is gone), and then records nothing.
    pub async fn append_upload_part(
        &self,
        id: &str,
        expected_offset: u64,
        part: &UploadPart,
        hasher_state: &str,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE upload_sessions SET size = size + $1, part_count = part_count + 1, \
             hasher_state = $2, updated_at = $3 WHERE id = $4 AND size = $5 RETURNING part_count",
        )
        .bind(to_i64(part.size))
        .bind(hasher_state)
        .bind(now_millis())
        .bind(id)
        .bind(to_i64(expected_offset))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let part_no: i64 = row.try_get(0)?;
        sqlx::query(
            "INSERT INTO upload_parts (upload_id, part_no, name, size) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(part_no)
        .bind(&part.name)
        .bind(to_i64(part.size))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn delete_upload(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM upload_sessions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sessions untouched since `updated_before` (Unix ms).
    pub async fn stale_uploads(&self, updated_before: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM upload_sessions WHERE updated_at < $1")
            .bind(updated_before)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Marks a session as in use now, so that the sweep of idle sessions leaves it alone
    /// while a long chunk is still arriving.
    pub async fn touch_upload(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE upload_sessions SET updated_at = $1 WHERE id = $2")
            .bind(crate::now_millis())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn upload_exists(&self, id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM upload_sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    // ---- blobs ----

    /// Records that blob `digest` of `size` bytes is stored and readable in `repository`.
    pub async fn link_blob(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        size: u64,
    ) -> Result<()> {
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        let repository_id =
            ensure_and_lock_repository(&mut tx, self.backend, repository, now).await?;
        sqlx::query(
            "INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest.to_string())
        .bind(to_i64(size))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (repository_id, digest) DO NOTHING",
        )
        .bind(repository_id)
        .bind(digest.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Size of blob `digest` if `repository` may read it.
    pub async fn repository_blob(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        let row = sqlx::query(
            "SELECT b.size FROM repository_blobs rb \
             JOIN repositories r ON r.id = rb.repository_id \
             JOIN blobs b ON b.digest = rb.digest \
             WHERE r.name = $1 AND rb.digest = $2",
        )
        .bind(repository.as_str())
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| to_u64(r.get::<i64, _>(0), "blob size"))
            .transpose()
    }

    /// A repository of `project` (the first name component) that holds blob `digest`, other
    /// than `except`: the source for a mount request without `from`.
    pub async fn project_repository_with_blob(
        &self,
        project: &str,
        except: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<RepositoryName>> {
        let prefix = format!("{project}/");
        // substr, not LIKE: names may contain `_`, a LIKE wildcard.
        let row = sqlx::query(
            "SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id \
             WHERE rb.digest = $1 AND r.name <> $2 AND (r.name = $3 OR substr(r.name, 1, CAST($4 AS INTEGER)) = $5) \
             ORDER BY r.name LIMIT 1",
        )
        .bind(digest.to_string())
        .bind(except.as_str())
        .bind(project)
        .bind(to_i64(prefix.len() as u64))
        .bind(&prefix)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let name: String = r.try_get(0)?;
            name.parse()
                .map_err(|_| MetadataError::Corrupt(format!("repository name {name:?}")))
        })
        .transpose()
    }

    /// Removes blob `digest` from `repository` unless a manifest there still needs it. The
    /// bytes stay in storage for garbage collection.
    pub async fn unlink_blob(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
    ) -> Result<BlobUnlink> {
        let mut tx = self.pool.begin().await?;
        let Some(repository_id) =
            lock_repository(&mut tx, repository.as_str(), now_millis()).await?
        else {
            return Ok(BlobUnlink::NotFound);
        };
        let users = sqlx::query(
            "SELECT manifest_digest FROM manifest_references \
             WHERE repository_id = $1 AND child_digest = $2 AND child_kind = 'blob' ORDER BY manifest_digest LIMIT 10",
        )
        .bind(repository_id)
        .bind(digest.to_string())
        .fetch_all(&mut *tx)
        .await?;
        if !users.is_empty() {
            let users = users
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            return Ok(BlobUnlink::ReferencedBy(users));
        }
        let deleted =
            sqlx::query("DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2")
                .bind(repository_id)
                .bind(digest.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(if deleted == 0 {
            BlobUnlink::NotFound
        } else {
            BlobUnlink::Unlinked
        })
    }

    // ---- manifests and tags ----

    /// Stores a manifest (and points `tag` at it) in one transaction, after checking that
    /// the repository holds everything it references.
    pub async fn put_manifest(
        &self,
        repository: &RepositoryName,
        manifest: &NewManifest,
        tags: &[Tag],
        context: &RequestContext,
    ) -> Result<(), PutManifestError> {
        let now = context.at_millis;
        let mut tx = self.pool.begin().await?;
        let repository_id =
            ensure_and_lock_repository(&mut tx, self.backend, repository, now).await?;
        for (kind, digest, claimed) in &manifest.references {
            let sql = match kind {
                ReferenceKind::Blob => {
                    "SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
                     WHERE rb.repository_id = $1 AND rb.digest = $2"
                }
                ReferenceKind::Manifest => {
                    "SELECT size FROM manifests WHERE repository_id = $1 AND digest = $2"
                }
            };
            let stored: Option<i64> = sqlx::query(sql)
                .bind(repository_id)
                .bind(digest.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.get(0));
            match stored {
                None => {
                    return Err(PutManifestError::Missing(MissingContent::Absent {
                        kind: *kind,
                        digest: digest.clone(),
                    }));
                }
                Some(stored) if stored != *claimed => {
                    return Err(PutManifestError::Missing(MissingContent::SizeMismatch {
                        digest: digest.clone(),
                        claimed: *claimed,
                        stored,
                    }));
                }
                Some(_) => {}
            }
        }
        let digest = manifest.digest.to_string();
        sqlx::query(
            "INSERT INTO manifests (repository_id, digest, media_type, content, size, artifact_type, \
             subject_digest, annotations, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (repository_id, digest) DO NOTHING",
        )
        .bind(repository_id)
        .bind(&digest)
        .bind(&manifest.media_type)
        .bind(manifest.content.clone())
        .bind(to_i64(manifest.content.len() as u64))
        .bind(manifest.artifact_type.clone())
        .bind(manifest.subject.as_ref().map(Digest::to_string))
        .bind(manifest.annotations.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for (kind, child, _) in &manifest.references {
            sqlx::query(
                "INSERT INTO manifest_references (repository_id, manifest_digest, child_digest, child_kind) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (repository_id, manifest_digest, child_digest) DO NOTHING",
            )
            .bind(repository_id)
            .bind(&digest)
            .bind(child.to_string())
            .bind(kind_str(*kind))
            .execute(&mut *tx)
            .await?;
        }
        for tag in tags {
            sqlx::query(
                "INSERT INTO tags (repository_id, name, manifest_digest, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (repository_id, name) DO UPDATE SET manifest_digest = excluded.manifest_digest, \
                 updated_at = excluded.updated_at",
            )
            .bind(repository_id)
            .bind(tag.as_str())
            .bind(&digest)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let repository_name = repository.as_str();
        if tags.is_empty() {
            events::record(
                &mut tx,
                self.backend,
                EventKind::ManifestPushed,
                repository_name,
                &digest,
                None,
                context,
            )
            .await?;
        }
        for tag in tags {
            events::record(
                &mut tx,
                self.backend,
                EventKind::ManifestPushed,
                repository_name,
                &digest,
                Some(tag.as_str()),
                context,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The manifest a tag points at, in one query (the hot path of every pull).
    pub async fn manifest_by_tag(
        &self,
        repository: &RepositoryName,
        tag: &Tag,
    ) -> Result<Option<ManifestRecord>> {
        let row = sqlx::query(
            "SELECT m.digest, m.media_type, m.content FROM tags t \
             JOIN repositories r ON r.id = t.repository_id \
             JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.manifest_digest \
             WHERE r.name = $1 AND t.name = $2",
        )
        .bind(repository.as_str())
        .bind(tag.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ManifestRecord {
                digest: parse_digest(&r.try_get::<String, _>(0)?)?,
                media_type: r.try_get(1)?,
                content: r.try_get(2)?,
            })
        })
        .transpose()
    }

    pub async fn manifest(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<ManifestRecord>> {
        let row = sqlx::query(
            "SELECT m.media_type, m.content FROM manifests m JOIN repositories r ON r.id = m.repository_id \
             WHERE r.name = $1 AND m.digest = $2",
        )
        .bind(repository.as_str())
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ManifestRecord {
                digest: digest.clone(),
                media_type: r.try_get(0)?,
                content: r.try_get(1)?,
            })
        })
        .transpose()
    }

    /// Deletes manifest `digest` and the tags pointing at it, unless an index in the
    /// repository still lists it.
    pub async fn delete_manifest(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        context: &RequestContext,
    ) -> Result<ManifestDelete> {
        let mut tx = self.pool.begin().await?;
        let Some(repository_id) =
            lock_repository(&mut tx, repository.as_str(), context.at_millis).await?
        else {
            return Ok(ManifestDelete::NotFound);
        };
        let parents = sqlx::query(
            "SELECT manifest_digest FROM manifest_references \
             WHERE repository_id = $1 AND child_digest = $2 AND child_kind = 'manifest' \
             ORDER BY manifest_digest LIMIT 10",
        )
        .bind(repository_id)
        .bind(digest.to_string())
        .fetch_all(&mut *tx)
        .await?;
        if !parents.is_empty() {
            let parents = parents
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            return Ok(ManifestDelete::ReferencedBy(parents));
        }
        // Tags and references go with the manifest (ON DELETE CASCADE).
        let deleted = sqlx::query("DELETE FROM manifests WHERE repository_id = $1 AND digest = $2")
            .bind(repository_id)
            .bind(digest.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted > 0 {
            let digest = digest.to_string();
            events::record(
                &mut tx,
                self.backend,
                EventKind::ManifestDeleted,
                repository.as_str(),
                &digest,
                None,
                context,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(if deleted == 0 {
            ManifestDelete::NotFound
        } else {
            ManifestDelete::Deleted
        })
    }

    /// Removes a tag; the manifest stays. False if there was no such tag.
    pub async fn delete_tag(
        &self,
        repository: &RepositoryName,
        tag: &Tag,
        context: &RequestContext,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let Some(repository_id) =
            lock_repository(&mut tx, repository.as_str(), context.at_millis).await?
        else {
            return Ok(false);
        };
        let deleted = sqlx::query(
            "DELETE FROM tags WHERE repository_id = $1 AND name = $2 RETURNING manifest_digest",
        )
        .bind(repository_id)
        .bind(tag.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = deleted else {
            return Ok(false);
        };
        let digest: String = row.try_get(0)?;
        events::record(
            &mut tx,
            self.backend,
            EventKind::TagDeleted,
            repository.as_str(),
            &digest,
            Some(tag.as_str()),
            context,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn repository_exists(&self, repository: &RepositoryName) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM repositories WHERE name = $1")
            .bind(repository.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Up to `limit` tags of `repository` after `after`, in byte order.
    pub async fn tags(
        &self,
        repository: &RepositoryName,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id \
             WHERE r.name = $1 AND t.name > $2 ORDER BY t.name LIMIT $3",
        )
        .bind(repository.as_str())
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Up to `limit` repository names after `after`, in byte order.
    pub async fn repositories(&self, after: Option<&str>, limit: u32) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2")
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// The names of the public projects.
    pub async fn public_projects(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM projects WHERE public <> 0")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Up to `limit` repository names after `after`, in byte order, of the projects named.
    /// Each project's repositories are one range of the name index (`project/` up to
    /// `project0`, `0` following `/`), read in order, so a caller who sees little costs
    /// little however many repositories others have.
    pub async fn repositories_of(
        &self,
        projects: &std::collections::BTreeSet<String>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        let mut ranges: Vec<(String, String)> = projects
            .iter()
            .map(|project| (format!("{project}/"), format!("{project}0")))
            .collect();
        ranges.sort();
        let after = after.unwrap_or("");
        let mut names = Vec::new();
        for (low, high) in ranges {
            let room = limit as usize - names.len();
            if room == 0 {
                break;
            }
            if high.as_str() <= after {
                continue;
            }
            let rows = sqlx::query(
                "SELECT name FROM repositories WHERE name > $1 AND name >= $2 AND name < $3 \
                 ORDER BY name LIMIT $4",
            )
            .bind(after)
            .bind(&low)
            .bind(&high)
            .bind(room as i64)
            .fetch_all(&self.pool)
            .await?;
            for row in rows {
                names.push(row.try_get(0)?);
            }
        }
        Ok(names)
    }

    /// Up to `limit` manifests in `repository` whose subject is `subject`, optionally of one
    /// artifact type, in digest order after `after`.
    pub async fn referrers(
        &self,
        repository: &RepositoryName,
        subject: &Digest,
        artifact_type: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ManifestSummary>> {
        let rows = sqlx::query(
            "SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations \
             FROM manifests m JOIN repositories r ON r.id = m.repository_id \
             WHERE r.name = $1 AND m.subject_digest = $2 AND ($3 = '' OR m.artifact_type = $3) \
             AND m.digest > $4 ORDER BY m.digest LIMIT $5",
        )
        .bind(repository.as_str())
        .bind(subject.to_string())
        .bind(artifact_type.unwrap_or(""))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(summary_from_row).collect()
    }
}
