//! The outbox and background-job leases.
//!
//! Every change of what a repository holds (a manifest stored, a manifest or tag deleted)
//! adds an [`Event`] in the transaction that makes it, so a consumer (scanning, webhooks,
//! audit) reading the outbox from its saved position sees each change once it is committed,
//! and none is lost to a crash between the commit and the delivery. Consumers move their
//! position with a compare-and-set, so two nodes never both take the same events.
//!
//! Leases give a background job (a sweep, a scan worker) to one node at a time: a node
//! renews its lease while it lives, and another takes the job over once the lease expires.

use bulwark_oci::RequestContext;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Backend, MetadataStore, Result, now_millis};

/// What happened to a repository's content, or to what is known of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A manifest was stored (and, if `tag` is set, tagged).
    ManifestPushed,
    ManifestDeleted,
    TagDeleted,
    /// An artifact's scan finished (`digest`; no repository: scans are per digest), or
    /// failed for good (`detail`: `{"failed": reason}`).
    ScanCompleted,
    /// A critical (or malicious) finding appeared on a package version (`detail`:
    /// ecosystem, package, version, vulnerability); no repository or digest: every
    /// artifact holding that version has it.
    CriticalFinding,
    /// A pull was refused by policy (`detail`: the rule and the message).
    PullDenied,
}

const EVENT_KINDS: [EventKind; 6] = [
    EventKind::ManifestPushed,
    EventKind::ManifestDeleted,
    EventKind::TagDeleted,
    EventKind::ScanCompleted,
    EventKind::CriticalFinding,
    EventKind::PullDenied,
];

impl EventKind {
    fn as_str(self) -> &'static str {
        match self {
            EventKind::ManifestPushed => "manifest_pushed",
            EventKind::ManifestDeleted => "manifest_deleted",
            EventKind::TagDeleted => "tag_deleted",
            EventKind::ScanCompleted => "scan_completed",
            EventKind::CriticalFinding => "critical_finding",
            EventKind::PullDenied => "pull_denied",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        EVENT_KINDS.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One committed change, in commit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub kind: EventKind,
    pub repository: String,
    pub digest: String,
    pub tag: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The request that made the change; `None` for work no client asked for (a scan)
    /// and for events recorded before changes carried one.
    pub context: Option<EventContext>,
    /// What the kind says more (JSON), for the kinds that say more.
    pub detail: Option<String>,
}

/// Who made a change, and under which request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventContext {
    pub actor: String,
    pub token_id: Option<String>,
    pub client_address: String,
    pub request_id: String,
}

/// The advisory lock that orders event ids by commit on PostgreSQL (an arbitrary constant,
/// "bwk-events").
const EVENT_ORDER_LOCK: i64 = 0x6277_6b2d_6576_6e74;

/// Adds an event inside `tx`, as its last statement before the commit.
pub(crate) async fn record(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    kind: EventKind,
    repository: &str,
    digest: &str,
    tag: Option<&str>,
    context: &RequestContext,
) -> Result<()> {
    record_with(
        tx,
        backend,
        NewEvent {
            kind,
            repository,
            digest,
            tag,
            detail: None,
        },
        Some(context),
    )
    .await
}

/// An event to record.
pub(crate) struct NewEvent<'a> {
    pub kind: EventKind,
    pub repository: &'a str,
    pub digest: &'a str,
    pub tag: Option<&'a str>,
    pub detail: Option<&'a str>,
}

/// Adds `event` inside `tx`, as its last statement before the commit; `context` is `None`
/// for work no client asked for.
pub(crate) async fn record_with(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    event: NewEvent<'_>,
    context: Option<&RequestContext>,
) -> Result<()> {
    if backend == Backend::Postgres {
        // Held until the commit: ids are then taken in commit order, so a consumer that has
        // read up to id N never finds a smaller id committed after it read. (SQLite has one
        // writer at a time already.)
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(EVENT_ORDER_LOCK)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO events (kind, repository, digest, tag, created_at, actor, token_id, \
         client_address, request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(event.kind.as_str())
    .bind(event.repository)
    .bind(event.digest)
    .bind(event.tag)
    .bind(context.map_or_else(crate::now_millis, |c| c.at_millis))
    .bind(context.map(|c| c.actor.as_str()))
    .bind(context.and_then(|c| c.token_id.as_deref()))
    .bind(context.map(|c| c.client_address.as_str()))
    .bind(context.map(|c| c.request_id.as_str()))
    .bind(event.detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn event_from_row(row: &AnyRow) -> Result<Event> {
    let kind: String = row.try_get("kind")?;
    Ok(Event {
        id: row.try_get("id")?,
        kind: EventKind::parse(&kind)
            .ok_or_else(|| crate::MetadataError::Corrupt(format!("unknown event kind {kind:?}")))?,
        repository: row.try_get("repository")?,
        digest: row.try_get("digest")?,
        tag: row.try_get("tag")?,
        created_at: row.try_get("created_at")?,
        context: row
            .try_get::<Option<String>, _>("actor")?
            .map(|actor| -> Result<EventContext> {
                Ok(EventContext {
                    actor,
                    token_id: row.try_get("token_id")?,
                    client_address: row
                        .try_get::<Option<String>, _>("client_address")?
                        .unwrap_or_default(),
                    request_id: row
                        .try_get::<Option<String>, _>("request_id")?
                        .unwrap_or_default(),
                })
            })
            .transpose()?,
        detail: row.try_get("detail")?,
    })
}

impl MetadataStore {
    /// Records that a pull of `digest` from `repository` was refused, with `detail` (JSON):
    /// an event of its own, since a refusal changes nothing else.
    pub async fn record_pull_denied(
        &self,
        repository: &str,
        digest: &str,
        tag: Option<&str>,
        detail: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        record_with(
            &mut tx,
            self.backend,
            NewEvent {
                kind: EventKind::PullDenied,
                repository,
                digest,
                tag,
                detail: Some(detail),
            },
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Up to `limit` events after `after`, oldest first.
    pub async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT id, kind, repository, digest, tag, created_at, actor, token_id, client_address, \
             request_id, detail FROM events \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Where `consumer` has read the outbox up to (0 before its first event).
    pub async fn event_position(&self, consumer: &str) -> Result<i64> {
        let row = sqlx::query("SELECT position FROM event_cursors WHERE consumer = $1")
            .bind(consumer)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get(0)?,
            None => 0,
        })
    }

    /// Moves `consumer` from `from` to `to`, only if it is still at `from`: false when
    /// another node moved it first (and so handles those events).
    pub async fn advance_event_position(&self, consumer: &str, from: i64, to: i64) -> Result<bool> {
        let moved = if from == 0 {
            sqlx::query(
                "INSERT INTO event_cursors (consumer, position) VALUES ($1, $2) \
                 ON CONFLICT (consumer) DO UPDATE SET position = excluded.position \
                 WHERE event_cursors.position = 0",
            )
            .bind(consumer)
            .bind(to)
            .execute(&self.pool)
            .await?
        } else {
            sqlx::query(
                "UPDATE event_cursors SET position = $1 WHERE consumer = $2 AND position = $3",
            )
            .bind(to)
            .bind(consumer)
            .bind(from)
            .execute(&self.pool)
            .await?
        };
        Ok(moved.rows_affected() == 1)
    }

    /// Takes or renews job `name` for `holder` for `lease_ms`: true when `holder` has it
    /// now (it was free, expired, or already `holder`'s).
    pub async fn claim_job(&self, name: &str, holder: &str, lease_ms: i64) -> Result<bool> {
        let now = now_millis();
        let claimed = sqlx::query(
            "INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE job_leases.holder = excluded.holder OR job_leases.expires_at < $4",
        )
        .bind(name)
        .bind(holder)
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// Gives up `holder`'s lease on `name` (a clean shutdown), so another node need not wait
    /// for it to expire.
    pub async fn release_job(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM job_leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
