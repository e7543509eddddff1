//! Webhook subscriptions, their deliveries and every attempt at one (migration 0013).
//!
//! A delivery is unique per (webhook, delivery key): fanning the same outbox event out
//! twice (a retry after a crash between the insert and the outbox position's move) makes
//! no second delivery.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{MetadataError, MetadataStore, Result};

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: i64,
    /// `None`: system-wide.
    pub project: Option<String>,
    pub url: String,
    pub secret: String,
    /// Event types it receives; empty: every type.
    pub events: Vec<String>,
    pub description: String,
    pub created_by: String,
    pub created_at: i64,
}

/// A new subscription.
#[derive(Debug, Clone)]
pub struct NewWebhook<'a> {
    pub project: Option<&'a str>,
    pub url: &'a str,
    pub secret: &'a str,
    pub events: &'a [String],
    pub description: &'a str,
    pub created_by: &'a str,
    pub now: i64,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not yet answered with a 2xx; tried again at `next_attempt_at`.
    Pending,
    Delivered,
    /// Given up after the last attempt; `redeliver` makes it pending again.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
        .ok_or_else(|| MetadataError::Corrupt(format!("delivery state {text:?}")))
    }
}

/// A delivery of one event to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: i64,
    pub event_type: String,
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// A delivery to make.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub webhook_id: i64,
    pub delivery_key: String,
    pub event_id: i64,
    pub event_type: String,
    pub payload: String,
}

/// One attempt at a delivery: the receiver's status, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub attempt: i64,
    pub at: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub millis: i64,
}

/// What an attempt came to, to record.
#[derive(Debug, Clone)]
pub struct AttemptOutcome<'a> {
    pub status: Option<u16>,
    pub error: Option<&'a str>,
    pub millis: i64,
    /// The receiver took it (2xx).
    pub delivered: bool,
    /// When to try again if not delivered; `None`: give up.
    pub retry_at: Option<i64>,
}

const WEBHOOK_COLUMNS: &str = "w.id, p.name AS project_name, w.url, w.secret, w.events, \
     w.description, w.created_by, w.created_at";
const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_type, payload, state, attempts, \
     next_attempt_at, last_status, last_error, created_at, delivered_at";

fn webhook_from_row(row: &AnyRow) -> Result<WebhookRecord> {
    let events: String = row.try_get("events")?;
    Ok(WebhookRecord {
        id: row.try_get("id")?,
        project: row.try_get("project_name")?,
        url: row.try_get("url")?,
        secret: row.try_get("secret")?,
        events: serde_json::from_str(&events)
            .map_err(|e| MetadataError::Corrupt(format!("webhook events: {e}")))?,
        description: row.try_get("description")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<DeliveryRecord> {
    let state: String = row.try_get("state")?;
    Ok(DeliveryRecord {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        payload: row.try_get("payload")?,
        state: DeliveryState::parse(&state)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

impl MetadataStore {
    /// Adds a subscription; `NotFound` when its project does not exist.
    pub async fn create_webhook(&self, new: &NewWebhook<'_>) -> Result<WebhookRecord> {
        let project_id = match new.project {
            Some(name) => Some(
                self.project_by_name(name)
                    .await?
                    .ok_or_else(|| MetadataError::ProjectMissing(name.to_owned()))?
                    .id,
            ),
            None => None,
        };
        let events = serde_json::to_string(new.events)
            .map_err(|e| MetadataError::Corrupt(format!("webhook events: {e}")))?;
        let row = sqlx::query(
            "INSERT INTO webhooks (project_id, url, secret, events, description, created_by, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(project_id)
        .bind(new.url)
        .bind(new.secret)
        .bind(events)
        .bind(new.description)
        .bind(new.created_by)
        .bind(new.now)
        .fetch_one(&self.pool)
        .await?;
        let id: i64 = row.try_get(0)?;
        self.webhook(id)
            .await?
            .ok_or_else(|| MetadataError::Corrupt("webhook vanished after insert".into()))
    }

    pub async fn webhook(&self, id: i64) -> Result<Option<WebhookRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks w LEFT JOIN projects p ON p.id = w.project_id \
             WHERE w.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    /// The subscriptions of `project`, or the system-wide ones for `None`, oldest first.
    pub async fn webhooks_of(&self, project: Option<&str>) -> Result<Vec<WebhookRecord>> {
        let condition = match project {
            Some(_) => "p.name = $1",
            None => "w.project_id IS NULL",
        };
        let query = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks w LEFT JOIN projects p ON p.id = w.project_id \
             WHERE {condition} ORDER BY w.id"
        );
        let mut query = sqlx::query(&query);
        if let Some(project) = project {
            query = query.bind(project);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(webhook_from_row)
            .collect()
    }

    /// Every subscription, for the fan-out.
    pub async fn all_webhooks(&self) -> Result<Vec<WebhookRecord>> {
        sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks w LEFT JOIN projects p ON p.id = w.project_id \
             ORDER BY w.id"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(webhook_from_row)
        .collect()
    }

    /// Removes a subscription with its deliveries; false when there was none.
    pub async fn delete_webhook(&self, id: i64) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Children first: not every SQLite connection is sure to enforce the cascade.
        sqlx::query(
            "DELETE FROM webhook_attempts WHERE delivery_id IN \
             (SELECT id FROM webhook_deliveries WHERE webhook_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() == 1)
    }

    /// Adds deliveries, due at `now`; one already made under the same key is left as it is.
    pub async fn add_deliveries(&self, deliveries: &[NewDelivery], now: i64) -> Result<u64> {
        let mut added = 0;
        let mut tx = self.pool.begin().await?;
        for delivery in deliveries {
            added += sqlx::query(
                "INSERT INTO webhook_deliveries (webhook_id, delivery_key, event_id, event_type, \
                 payload, state, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) \
                 ON CONFLICT (webhook_id, delivery_key) DO NOTHING",
            )
            .bind(delivery.webhook_id)
            .bind(delivery.delivery_key.as_str())
            .bind(delivery.event_id)
            .bind(delivery.event_type.as_str())
            .bind(delivery.payload.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Up to `limit` pending deliveries due at `now`, the longest waiting first.
    pub async fn due_deliveries(&self, now: i64, limit: u32) -> Result<Vec<DeliveryRecord>> {
        sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id \
             LIMIT $2"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(delivery_from_row)
        .collect()
    }

    /// A webhook's deliveries, newest first, before `before` (a delivery id) when given.
    pub async fn deliveries_of(
        &self,
        webhook_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>> {
        sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE webhook_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        ))
        .bind(webhook_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(delivery_from_row)
        .collect()
    }

    pub async fn delivery(&self, id: i64) -> Result<Option<DeliveryRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    /// Every attempt at a delivery, in order.
    pub async fn delivery_attempts(&self, delivery_id: i64) -> Result<Vec<AttemptRecord>> {
        sqlx::query(
            "SELECT attempt, at, status, error, millis FROM webhook_attempts \
             WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(delivery_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(AttemptRecord {
                attempt: row.try_get("attempt")?,
                at: row.try_get("at")?,
                status: row.try_get("status")?,
                error: row.try_get("error")?,
                millis: row.try_get("millis")?,
            })
        })
        .collect()
    }

    /// Records attempt number `attempt` (the delivery's attempts so far + 1) and what it
    /// leaves the delivery as. False, and nothing recorded, when another attempt was
    /// recorded first (two nodes tried it at once).
    pub async fn record_attempt(
        &self,
        delivery_id: i64,
        attempt: i64,
        outcome: &AttemptOutcome<'_>,
        now: i64,
    ) -> Result<bool> {
        let state = match (outcome.delivered, outcome.retry_at) {
            (true, _) => DeliveryState::Delivered,
            (false, Some(_)) => DeliveryState::Pending,
            (false, None) => DeliveryState::Failed,
        };
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE webhook_deliveries SET attempts = $1, state = $2, next_attempt_at = $3, \
             last_status = $4, last_error = $5, delivered_at = $6 \
             WHERE id = $7 AND attempts = $8",
        )
        .bind(attempt)
        .bind(state.as_str())
        .bind(outcome.retry_at.unwrap_or(now))
        .bind(outcome.status.map(i64::from))
        .bind(outcome.error)
        .bind(outcome.delivered.then_some(now))
        .bind(delivery_id)
        .bind(attempt - 1)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status, error, millis) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(delivery_id)
        .bind(attempt)
        .bind(now)
        .bind(outcome.status.map(i64::from))
        .bind(outcome.error)
        .bind(outcome.millis)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Makes a delivery pending again, due at `now`, keeping its attempts; false when
    /// there is no such delivery.
    pub async fn redeliver(&self, delivery_id: i64, now: i64) -> Result<bool> {
        let changed = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(delivery_id)
        .execute(&self.pool)
        .await?;
        Ok(changed.rows_affected() == 1)
    }
}
