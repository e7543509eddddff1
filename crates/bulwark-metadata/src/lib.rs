//! Registry metadata in SQL, on SQLite (the embedded default) or PostgreSQL (scale-out):
//! repositories and manifests, identities and credentials, and the vulnerability advisories
//! (`advisories`: staged imports swapped in by one transaction).
//!
//! One implementation serves both back ends through sqlx's `Any` driver: every query is
//! written in the SQL both dialects accept, with `$n` placeholders, and values limited to
//! integers, text and bytes. Each back end has its own migrations (`migrations/sqlite`,
//! `migrations/postgres`) because DDL differs. The same test suite runs on both.
//!
//! Write transactions that touch a repository start by locking its row
//! ([`lock_repository`]), which serialises pushes and deletes per repository on PostgreSQL and
//! takes SQLite's write lock up front (a deferred transaction that reads first can fail with
//! `SQLITE_BUSY` when it later writes). This crate knows nothing of blob bytes or HTTP.

mod access;
mod advisories;
mod audit;
mod events;
mod governance;
mod registry;
mod scans;
mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use access::{
    AccessStoreError, MemberRecord, ProjectRecord, RobotPermissionRecord, RobotRecord,
    SigningKeyRecord, TokenOwner, TokenRecord, UserRecord, UserUpdate,
};
pub use advisories::{
    AdvisoryEcosystemStatus, AdvisoryImport, AdvisoryImportCounts, AdvisoryImportLog,
    AdvisoryRecord, AdvisoryStatus,
};
pub use audit::{AuditCheckpoint, AuditEntry, AuditFilter, AuditRecord};
pub use events::{Event, EventContext, EventKind};
pub use governance::{ExceptionRecord, PolicyRecord, TrustedKeyRecord, VexRecord};
pub use registry::{
    BlobUnlink, ManifestDelete, ManifestRecord, ManifestSummary, MissingContent, NewManifest,
    PutManifestError, UploadPart, UploadRecord,
};
pub use scans::{
    ArtifactComponent, ArtifactFinding, ArtifactSecret, CRITICAL_RANK, Finished, ImpactedArtifact,
    MatchChanges, PackageFinding, PackageVersion, ScanClaim, ScanOutcome, ScanRecord, ScanStatus,
};
pub use webhooks::{
    AttemptOutcome, AttemptRecord, DeliveryRecord, DeliveryState, NewDelivery, NewWebhook,
    WebhookRecord,
};

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrating the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    /// Content was to enter a repository whose project does not exist (or was just deleted).
    #[error("project {0} does not exist")]
    ProjectMissing(String),
}

impl MetadataError {
    /// Whether the database ran out of disk: SQLite's `SQLITE_FULL` (13), PostgreSQL's
    /// `disk_full` (53100), or the operating system's `ENOSPC` underneath.
    pub fn is_storage_full(&self) -> bool {
        match self {
            MetadataError::Database(sqlx::Error::Database(error)) => {
                matches!(error.code().as_deref(), Some("13" | "53100"))
            }
            MetadataError::Database(sqlx::Error::Io(error)) => matches!(
                error.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ),
            _ => false,
        }
    }
}

pub type Result<T, E = MetadataError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Handle on the metadata database; cheap to clone.
#[derive(Debug, Clone)]
pub struct MetadataStore {
    pool: AnyPool,
    backend: Backend,
}

impl MetadataStore {
    /// Connects to `url` (`sqlite://PATH?mode=rwc` or `postgres://…`) and brings the schema up
    /// to date.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(MetadataError::UnsupportedUrl(url.to_owned()));
        };
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the single writer; foreign keys are off
                        // by default in SQLite; the busy timeout makes writers queue, not fail.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 30000").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let store = MetadataStore { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The embedded default: a SQLite file inside `data_dir`.
    pub async fn open_sqlite_in(data_dir: &std::path::Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| MetadataError::Database(sqlx::Error::Io(e)))?;
        let url = format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("metadata.db").display()
        );
        Self::connect(&url, 8).await
    }

    async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch, the unit of every stored time: the one wall clock of
/// Bulwark (expiry of sessions, access and registry tokens, signing keys). Tests move it
/// forward instead of sleeping: with the `failpoints` feature, the fault point
/// `clock::offset_ms` (`FAILPOINTS=clock::offset_ms=return(8000)`) adds its value.
pub fn now_millis() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    now.saturating_add(test_clock_offset())
}

#[cfg(feature = "failpoints")]
fn test_clock_offset() -> i64 {
    fail::fail_point!("clock::offset_ms", |offset: Option<String>| {
        offset.and_then(|o| o.parse().ok()).unwrap_or(0)
    });
    0
}

#[cfg(not(feature = "failpoints"))]
fn test_clock_offset() -> i64 {
    0
}
