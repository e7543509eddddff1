//! The audit log: who did what, on what, with what result, and when — for every request
//! the server answers and every administrative command run on the store.
//!
//! Records are handed to [`AuditLog::record`], which queues them; one writer task per node
//! stores them in batches (at most [`BATCH_WINDOW`] after the first of a batch, at most
//! [`BATCH_RECORDS`] at a time), each batch one transaction that chains the records by
//! hash ([`chain`]). Every [`CHECKPOINT_EVERY`] while records are written, and at shutdown,
//! the writer signs the end of the chain with the server's key. A clean shutdown
//! ([`AuditLog::shutdown`]) writes everything queued; a crash loses at most what was queued
//! in the last batch window (plus the backlog, if the database fell behind: the
//! `audit_backlog` figure).

pub mod chain;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use bulwark_metadata::AuditFilter;
use bulwark_metadata::{AuditEntry, AuditRecord, MetadataError, MetadataStore};
use bulwark_oci::RequestContext;
use serde::Serialize;
use tokio::sync::{Mutex, mpsc};

/// The registry's one clock, which records' times are read from.
pub use bulwark_metadata::now_millis;
pub use chain::{CheckpointSigner, Problem, VerifyReport, parse_public_key, verify};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("the audit checkpoint key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("randomness: {0}")]
    Random(String),
    #[error("{0}")]
    InvalidFilter(String),
}

pub type Result<T, E = AuditError> = std::result::Result<T, E>;

/// A batch is written at most this long after its first record arrived.
pub const BATCH_WINDOW: Duration = Duration::from_millis(50);
/// The most records one batch (one transaction) holds.
pub const BATCH_RECORDS: usize = 1024;
/// How often the end of the chain is signed while records are written.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);
/// Tries to write the last records at shutdown before giving up on a dead database.
const SHUTDOWN_ATTEMPTS: u32 = 5;
/// Records queued before [`AuditLog::record`] makes callers wait (backpressure, never loss).
const QUEUE: usize = 32 * 1024;

/// Caps on what one record carries, so a client cannot make records of any size.
const MAX_FIELD: usize = 512;
const MAX_DETAIL: usize = 2048;

/// What kind of action a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Getting a registry token.
    Auth,
    /// Reading registry content: manifests, blobs, tags, referrers, the catalog.
    Pull,
    /// Uploading blobs, storing manifests.
    Push,
    /// Deleting manifests, tags, blobs.
    Delete,
    /// Reading through the management API.
    Read,
    /// Changing anything through the management API (users, projects, members, robots,
    /// tokens, policies, exceptions, keys, VEX, promotions, advisory data).
    Change,
    /// Commands run on the store directly (`bulwark admin …`) and the server's own
    /// maintenance (retention).
    Admin,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Auth => "auth",
            Category::Pull => "pull",
            Category::Push => "push",
            Category::Delete => "delete",
            Category::Read => "read",
            Category::Change => "change",
            Category::Admin => "admin",
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// Refused: no or wrong credentials, no right, a policy.
    Denied,
    /// Failed otherwise: bad input, a conflict, a server fault.
    Failure,
    /// The client went away before the answer.
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// An HTTP answer's outcome.
    pub fn of_status(status: u16) -> Outcome {
        match status {
            401 | 403 | 429 => Outcome::Denied,
            499 => Outcome::Cancelled,
            s if s >= 400 => Outcome::Failure,
            _ => Outcome::Success,
        }
    }
}

/// One thing to record.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// Who, from where, under which request, when.
    pub context: RequestContext,
    pub category: Category,
    /// The exact operation: `METHOD /path/{template}` for requests, a command's name.
    pub operation: String,
    /// What it acted on: `repository:tag`, `repository@digest`, an API path.
    pub target: String,
    /// The project it concerns, when there is one (who may read the record follows it).
    pub project: Option<String>,
    pub outcome: Outcome,
    /// The HTTP status (0 for commands).
    pub status: u16,
    /// What else a reader needs: the digest stored, why it was refused.
    pub detail: String,
}

fn capped(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

impl AuditEvent {
    fn into_entry(self) -> AuditEntry {
        AuditEntry {
            at_millis: self.context.at_millis,
            actor: capped(self.context.actor, MAX_FIELD),
            token_id: self.context.token_id.map(|t| capped(t, MAX_FIELD)),
            client_address: capped(self.context.client_address, MAX_FIELD),
            request_id: capped(self.context.request_id, MAX_FIELD),
            category: self.category.as_str().to_owned(),
            operation: capped(self.operation, MAX_FIELD),
            target: capped(self.target, MAX_FIELD),
            project: self.project.map(|p| capped(p, MAX_FIELD)),
            outcome: self.outcome.as_str().to_owned(),
            status: i64::from(self.status),
            detail: capped(self.detail, MAX_DETAIL),
        }
    }
}

/// A record as the API and `bulwark audit list` show it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RecordView {
    pub seq: i64,
    /// RFC 3339, UTC.
    pub time: String,
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
    /// This record's hash and its predecessor's, so an export can be checked link by link.
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRecord> for RecordView {
    fn from(record: AuditRecord) -> Self {
        RecordView {
            seq: record.seq,
            time: format_millis(record.entry.at_millis),
            actor: record.entry.actor,
            token_id: record.entry.token_id,
            client_address: record.entry.client_address,
            request_id: record.entry.request_id,
            category: record.entry.category,
            operation: record.entry.operation,
            target: record.entry.target,
            project: record.entry.project,
            outcome: record.entry.outcome,
            status: record.entry.status,
            detail: record.entry.detail,
            prev_hash: record.prev_hash,
            hash: record.hash,
        }
    }
}

/// Unix milliseconds as RFC 3339 (UTC, millisecond precision).
pub fn format_millis(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_else(|_| millis.to_string())
}

/// An RFC 3339 time or a date (`2026-12-01`, midnight UTC) as Unix milliseconds.
pub fn parse_time(text: &str) -> Result<i64> {
    let text = text.trim();
    let timestamp = match text.parse::<jiff::civil::Date>() {
        Ok(date) => format!("{date}T00:00:00Z").parse::<jiff::Timestamp>(),
        Err(_) => text.parse::<jiff::Timestamp>(),
    };
    timestamp.map(|t| t.as_millisecond()).map_err(|_| {
        AuditError::InvalidFilter(format!(
            "{text:?} is neither a date (2026-12-01) nor an RFC 3339 time"
        ))
    })
}

/// The handle requests record through; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    store: MetadataStore,
    signer: CheckpointSigner,
    queue: mpsc::Sender<AuditEntry>,
    /// Records queued and not yet written.
    backlog: AtomicU64,
    /// Records written by this node since it started.
    written: AtomicU64,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    stop: tokio::sync::Notify,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("key_id", &self.inner.signer.key_id())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Starts this node's writer (on the current Tokio runtime).
    pub fn start(store: MetadataStore, signer: CheckpointSigner) -> AuditLog {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let inner = Arc::new(Inner {
            store,
            signer,
            queue,
            backlog: AtomicU64::new(0),
            written: AtomicU64::new(0),
            writer: Mutex::new(None),
            stop: tokio::sync::Notify::new(),
        });
        let writer = tokio::spawn(write_loop(inner.clone(), receiver));
        if let Ok(mut slot) = inner.writer.try_lock() {
            *slot = Some(writer);
        }
        AuditLog { inner }
    }

    /// Queues `event`; waits only when the queue is full (the database is behind), so
    /// records are never dropped. After [`AuditLog::shutdown`] it writes at once.
    pub async fn record(&self, event: AuditEvent) {
        self.record_entry(event.into_entry()).await;
    }

    async fn record_entry(&self, entry: AuditEntry) {
        self.inner.backlog.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::error::SendError(entry)) = self.inner.queue.send(entry).await {
            self.inner.backlog.fetch_sub(1, Ordering::Relaxed);
            if let Err(error) = append(&self.inner, &[entry]).await {
                tracing::error!(%error, "an audit record could not be written");
            }
        }
    }

    /// Queues `event` without waiting, for code that cannot wait (a request dropped
    /// mid-way). When the queue is full (or closed), a task takes the waiting path of
    /// [`AuditLog::record`] instead: nothing is lost while the runtime lives.
    pub fn record_now(&self, event: AuditEvent) {
        let entry = event.into_entry();
        self.inner.backlog.fetch_add(1, Ordering::Relaxed);
        let Err(refused) = self.inner.queue.try_send(entry) else {
            return;
        };
        self.inner.backlog.fetch_sub(1, Ordering::Relaxed);
        let entry = match refused {
            mpsc::error::TrySendError::Full(entry) | mpsc::error::TrySendError::Closed(entry) => {
                entry
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let log = self.clone();
                runtime.spawn(async move { log.record_entry(entry).await });
            }
            Err(_) => tracing::error!("an audit record was lost: no runtime left to write it"),
        }
    }

    /// Records queued and not yet stored.
    pub fn backlog(&self) -> u64 {
        self.inner.backlog.load(Ordering::Relaxed)
    }

    /// Records this node stored since it started.
    pub fn written(&self) -> u64 {
        self.inner.written.load(Ordering::Relaxed)
    }

    pub fn signer(&self) -> &CheckpointSigner {
        &self.inner.signer
    }

    /// Writes everything queued, signs the end of the chain and stops the writer; later
    /// records are written one at a time.
    pub async fn shutdown(&self) {
        self.inner.stop.notify_one();
        let writer = self.inner.writer.lock().await.take();
        if let Some(writer) = writer {
            writer.await.ok();
        }
    }

    /// One page of records, newest first.
    pub async fn list(&self, filter: &AuditFilter) -> Result<Vec<RecordView>> {
        list(&self.inner.store, filter).await
    }

    /// Retention: removes records older than `before_millis`, leaving a signed cut.
    pub async fn cut(&self, before_millis: i64) -> Result<u64> {
        cut(&self.inner.store, &self.inner.signer, before_millis).await
    }
}

/// One page of records matching `filter`, newest first.
pub async fn list(store: &MetadataStore, filter: &AuditFilter) -> Result<Vec<RecordView>> {
    Ok(store
        .audit_page(filter)
        .await?
        .into_iter()
        .map(RecordView::from)
        .collect())
}

/// Removes records older than `before_millis`, leaving a `cut` checkpoint signed by
/// `signer` in their place (so verification knows where the log may rightly start).
pub async fn cut(
    store: &MetadataStore,
    signer: &CheckpointSigner,
    before_millis: i64,
) -> Result<u64> {
    let signed_at = bulwark_metadata::now_millis();
    Ok(store
        .cut_audit(before_millis, |seq, hash| {
            signer.sign("cut", seq, hash, signed_at)
        })
        .await?)
}

/// Writes `events` now and signs the end of the chain: for commands run on the store,
/// which have no writer task to outlive them.
pub async fn append_now(
    store: &MetadataStore,
    signer: &CheckpointSigner,
    events: Vec<AuditEvent>,
) -> Result<()> {
    let entries: Vec<AuditEntry> = events.into_iter().map(AuditEvent::into_entry).collect();
    let (seq, hash) = store.append_audit(&entries, chain::record_hash).await?;
    store
        .add_audit_checkpoint(&signer.sign(
            "checkpoint",
            seq,
            &hash,
            bulwark_metadata::now_millis(),
        ))
        .await?;
    Ok(())
}

async fn append(inner: &Inner, entries: &[AuditEntry]) -> Result<(i64, String)> {
    let end = inner
        .store
        .append_audit(entries, chain::record_hash)
        .await?;
    inner
        .written
        .fetch_add(entries.len() as u64, Ordering::Relaxed);
    Ok(end)
}

async fn checkpoint(inner: &Inner, seq: i64, hash: &str) {
    let signed = inner
        .signer
        .sign("checkpoint", seq, hash, bulwark_metadata::now_millis());
    if let Err(error) = inner.store.add_audit_checkpoint(&signed).await {
        tracing::error!(%error, "an audit checkpoint could not be stored");
    }
}

/// Writes batches until told to stop; then drains the queue, signs, and ends.
async fn write_loop(inner: Arc<Inner>, mut receiver: mpsc::Receiver<AuditEntry>) {
    let mut batch: Vec<AuditEntry> = Vec::with_capacity(BATCH_RECORDS);
    let mut last_checkpoint = tokio::time::Instant::now();
    // The end of the chain as this node last wrote it, not yet signed.
    let mut unsigned: Option<(i64, String)> = None;
    let mut stopping = false;
    loop {
        if !stopping {
            tokio::select! {
                first = receiver.recv() => match first {
                    Some(entry) => batch.push(entry),
                    None => stopping = true,
                },
                () = inner.stop.notified() => stopping = true,
                // Sign what was written once the interval has passed, even if idle since.
                () = tokio::time::sleep(CHECKPOINT_EVERY), if unsigned.is_some() => {}
            }
        }
        if stopping {
            receiver.close();
            while let Ok(entry) = receiver.try_recv() {
                batch.push(entry);
            }
        } else if !batch.is_empty() {
            let window = tokio::time::sleep(BATCH_WINDOW);
            tokio::pin!(window);
            while batch.len() < BATCH_RECORDS {
                tokio::select! {
                    next = receiver.recv() => match next {
                        Some(entry) => batch.push(entry),
                        None => break,
                    },
                    () = &mut window => break,
                }
            }
        }
        // A batch is kept and written again until the database takes it: records are
        // lost only with the process.
        let mut delay = Duration::from_millis(100);
        let mut attempts = 0;
        while !batch.is_empty() {
            attempts += 1;
            match append(&inner, &batch).await {
                Ok(end) => {
                    inner
                        .backlog
                        .fetch_sub(batch.len() as u64, Ordering::Relaxed);
                    batch.clear();
                    unsigned = Some(end);
                }
                Err(error) if stopping && attempts >= SHUTDOWN_ATTEMPTS => {
                    tracing::error!(%error, records = batch.len(), "writing audit records failed at shutdown; they are lost");
                    inner
                        .backlog
                        .fetch_sub(batch.len() as u64, Ordering::Relaxed);
                    batch.clear();
                }
                Err(error) => {
                    tracing::error!(%error, records = batch.len(), "writing audit records failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        if let Some((seq, hash)) = &unsigned
            && (stopping || last_checkpoint.elapsed() >= CHECKPOINT_EVERY)
        {
            checkpoint(&inner, *seq, hash).await;
            unsigned = None;
            last_checkpoint = tokio::time::Instant::now();
        }
        if stopping {
            break;
        }
    }
}
