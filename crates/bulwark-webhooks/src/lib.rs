//! Webhooks: what happens in the registry, told to other systems.
//!
//! A webhook is a subscription of a project (or of the whole system) to some of five event
//! types — `artifact.pushed`, `artifact.deleted`, `scan.completed`, `finding.critical`,
//! `policy.denied` — sent to a URL as CloudEvents 1.0 (structured JSON mode). The outbox
//! (`events`, written in the transaction of each change) is read from this consumer's own
//! position; each event becomes zero or more notices (a scan of a digest held in three
//! repositories is three), each notice a delivery per matching webhook, stored before the
//! position moves, so a crash loses none and a repeated fan-out adds none (a delivery is
//! unique per webhook and notice key). Deliveries are sent signed ([`signing`]), retried
//! with exponential backoff until the receiver answers 2xx or the attempts run out, every
//! attempt logged; `redeliver` sends one again.
//!
//! A critical finding is a notice per artifact and vulnerability, under the same key
//! whichever way it was learnt (the artifact's first scan found it, or new advisory data
//! made it appear on a package version the artifact holds): each is told once per webhook.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bulwark_metadata::{
    AttemptOutcome, DeliveryRecord, Event, EventKind, MetadataStore, NewDelivery, NewWebhook,
    WebhookRecord,
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

pub mod signing;
mod targets;

/// The event types a webhook may subscribe to.
pub const EVENT_TYPES: [&str; 5] = [
    "artifact.pushed",
    "artifact.deleted",
    "scan.completed",
    "finding.critical",
    "policy.denied",
];

/// The outbox position this consumer keeps.
const CONSUMER: &str = "webhooks";
/// Outbox events read per round.
const EVENT_BATCH: u32 = 200;
/// Deliveries attempted per round, and at once.
const DELIVERY_BATCH: u32 = 64;
const DELIVERY_CONCURRENCY: usize = 8;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// What of a receiver's refusal is kept for the delivery log.
const ERROR_BODY_BYTES: usize = 512;
/// Webhooks per project (and system-wide).
const MAX_WEBHOOKS: usize = 50;
const MAX_URL_LEN: usize = 2048;
const MAX_DESCRIPTION_LEN: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Invalid(String),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Metadata(#[from] bulwark_metadata::MetadataError),
    #[error("randomness: {0}")]
    Random(String),
}

pub type Result<T> = std::result::Result<T, WebhookError>;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The wait after the first failed attempt; each further one doubles it (up to an hour).
    pub retry_base: Duration,
    /// Attempts before a delivery is given up (`failed`; `redeliver` revives it).
    pub max_attempts: u32,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// Whether webhooks may send to loopback, private and link-local addresses (receivers
    /// inside the network); off, such targets are refused (see `targets`).
    pub allow_private_networks: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            retry_base: Duration::from_secs(10),
            allow_private_networks: false,
            max_attempts: 12,
            timeout: Duration::from_secs(10),
        }
    }
}

/// A subscription to create.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// Where deliveries are POSTed: an `http://` or `https://` URL without credentials.
    pub url: String,
    /// The event types to receive (see `EVENT_TYPES`); empty or absent: all of them.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
}

/// A subscription as shown (never with its secret).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WebhookView {
    pub id: i64,
    /// `None`: system-wide.
    pub project: Option<String>,
    pub url: String,
    /// Empty: every type.
    pub events: Vec<String>,
    pub description: String,
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A new subscription, with its signing secret: shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_<base64>`: the HMAC key of `webhook-signature` (Standard Webhooks).
    pub secret: String,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AttemptView {
    pub attempt: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// The receiver's HTTP status; absent when none came (refused, timed out).
    pub status: Option<i64>,
    pub error: Option<String>,
    pub millis: i64,
}

/// A delivery with its attempts.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub webhook: i64,
    /// The CloudEvent's `type` without its `dev.bulwark.` prefix.
    pub event_type: String,
    /// The CloudEvent's `id`, the same on every attempt.
    pub event_id: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    /// Unix milliseconds of the next attempt, while pending.
    pub next_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
    pub history: Vec<AttemptView>,
}

/// What one round of [`Webhooks::run`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Deliveries made from new outbox events.
    pub queued: u64,
    pub delivered: u64,
    pub failed: u64,
}

/// Something that happened, as told to the webhooks of one project.
#[derive(Debug, Clone)]
struct Notice {
    event_type: &'static str,
    project: String,
    /// Unique per notice for each webhook: the outbox event and what of it, or for a
    /// finding the artifact and vulnerability.
    key: String,
    subject: String,
    time: i64,
    data: serde_json::Value,
}

/// The webhook service; cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    metadata: MetadataStore,
    settings: WebhookSettings,
    http: reqwest::Client,
    /// Seals the signing secrets kept in the database, when encryption at rest is on.
    secret_keys: Option<std::sync::Arc<dyn bulwark_blobstore::KeyEncryption>>,
}

/// How a sealed signing secret begins, where it is stored.
const SEALED_SECRET: &str = "sealed:";

/// What a sealed secret is bound to: its webhook's scope and URL, so that one cannot be
/// moved to another webhook.
fn secret_context(project: Option<&str>, url: &str) -> Vec<u8> {
    format!(
        "bulwark-webhook-secret\0{}\0{url}",
        project.unwrap_or_default()
    )
    .into_bytes()
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("settings", &self.settings)
            .finish()
    }
}

fn view(record: &WebhookRecord) -> WebhookView {
    WebhookView {
        id: record.id,
        project: record.project.clone(),
        url: record.url.clone(),
        events: record.events.clone(),
        description: record.description.clone(),
        created_by: record.created_by.clone(),
        created_at: record.created_at,
    }
}

fn invalid(message: impl Into<String>) -> WebhookError {
    WebhookError::Invalid(message.into())
}

/// Checks a webhook URL: absolute http(s), a host, no credentials in it (they would be
/// shown to everyone who may list webhooks), bounded length.
fn check_url(url: &str) -> Result<()> {
    if url.len() > MAX_URL_LEN {
        return Err(invalid(format!(
            "the URL is longer than {MAX_URL_LEN} bytes"
        )));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(format!("the URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the URL must be http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "the URL must not carry credentials: deliveries are signed instead",
        ));
    }
    Ok(())
}

fn check_events(events: &[String]) -> Result<Vec<String>> {
    let mut checked: Vec<String> = Vec::new();
    for event in events {
        if !EVENT_TYPES.contains(&event.as_str()) {
            return Err(invalid(format!(
                "unknown event type {event:?}: one of {}",
                EVENT_TYPES.join(", ")
            )));
        }
        if !checked.contains(event) {
            checked.push(event.clone());
        }
    }
    Ok(checked)
}

fn project_of(repository: &str) -> &str {
    repository.split('/').next().unwrap_or_default()
}

fn rfc3339(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

/// The severity names of the stored ranks (critical 5 … unrated 0).
fn severity_name(rank: i64) -> &'static str {
    match rank {
        5 => "critical",
        4 => "high",
        3 => "medium",
        2 => "low",
        1 => "none",
        _ => "unrated",
    }
}

impl Webhooks {
    pub fn new(metadata: MetadataStore, settings: WebhookSettings) -> Result<Self> {
        // No redirects: a receiver could otherwise send a signed delivery anywhere.
        let mut http = reqwest::Client::builder();
        if !settings.allow_private_networks {
            http = http.dns_resolver(std::sync::Arc::new(targets::PublicOnly));
        }
        let http = http
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("bulwark-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid(format!("the HTTP client: {e}")))?;
        Ok(Webhooks {
            metadata,
            settings,
            http,
            secret_keys: None,
        })
    }

    /// Keeps the signing secrets of new webhooks sealed with these keys (the server must
    /// hold a secret to sign with it, so it cannot be hashed; sealed, a copy of the
    /// database alone does not give it away).
    pub fn sealing_secrets(
        mut self,
        keys: std::sync::Arc<dyn bulwark_blobstore::KeyEncryption>,
    ) -> Self {
        self.secret_keys = Some(keys);
        self
    }

    /// The secret as stored: sealed when keys are configured.
    fn stored_secret(&self, project: Option<&str>, url: &str, secret: &str) -> Result<String> {
        use base64::Engine;
        match &self.secret_keys {
            None => Ok(secret.to_owned()),
            Some(keys) => {
                let sealed = keys
                    .encrypt_value(secret.as_bytes(), &secret_context(project, url))
                    .map_err(|e| WebhookError::Random(e.to_string()))?;
                Ok(format!(
                    "{SEALED_SECRET}{}",
                    base64::engine::general_purpose::STANDARD.encode(sealed)
                ))
            }
        }
    }

    /// The secret a webhook's deliveries are signed with.
    fn signing_secret(&self, hook: &WebhookRecord) -> Result<String> {
        use base64::Engine;
        let Some(sealed) = hook.secret.strip_prefix(SEALED_SECRET) else {
            return Ok(hook.secret.clone());
        };
        let keys = self.secret_keys.as_ref().ok_or_else(|| {
            invalid("the webhook's secret is sealed and no key-encryption key is configured")
        })?;
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| invalid("the webhook's sealed secret is malformed"))?;
        let secret = keys
            .decrypt_value(&sealed, &secret_context(hook.project.as_deref(), &hook.url))
            .map_err(|e| invalid(e.to_string()))?;
        String::from_utf8(secret).map_err(|_| invalid("the webhook's sealed secret is malformed"))
    }

    /// Subscribes `project` (or the system, for `None`); the answer holds the signing
    /// secret, which is never shown again.
    pub async fn create(
        &self,
        project: Option<&str>,
        request: &WebhookRequest,
        author: &str,
    ) -> Result<CreatedWebhook> {
        check_url(&request.url)?;
        self.check_target(&request.url)?;
        let events = check_events(&request.events)?;
        if request.description.chars().count() > MAX_DESCRIPTION_LEN {
            return Err(invalid(format!(
                "the description is longer than {MAX_DESCRIPTION_LEN} characters"
            )));
        }
        if self.metadata.webhooks_of(project).await?.len() >= MAX_WEBHOOKS {
            return Err(invalid(format!(
                "at most {MAX_WEBHOOKS} webhooks per project (and system-wide)"
            )));
        }
        let secret = signing::new_secret().map_err(|e| WebhookError::Random(e.to_string()))?;
        let record = self
            .metadata
            .create_webhook(&NewWebhook {
                project,
                url: &request.url,
                secret: &self.stored_secret(project, &request.url, &secret)?,
                events: &events,
                description: &request.description,
                created_by: author,
                now: bulwark_metadata::now_millis(),
            })
            .await
            .map_err(|error| match error {
                bulwark_metadata::MetadataError::ProjectMissing(_) => WebhookError::NotFound,
                other => other.into(),
            })?;
        Ok(CreatedWebhook {
            webhook: view(&record),
            secret,
        })
    }

    /// Refuses a URL whose host is an address webhooks may not reach (names are checked
    /// when they are resolved, at every delivery).
    fn check_target(&self, url: &str) -> Result<()> {
        if self.settings.allow_private_networks {
            return Ok(());
        }
        let parsed = reqwest::Url::parse(url).map_err(|e| invalid(format!("the URL: {e}")))?;
        let ip = parsed
            .host_str()
            .map(|host| host.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|host| host.parse::<std::net::IpAddr>().ok());
        match ip {
            Some(ip) if !targets::is_public(ip) => Err(invalid(format!(
                "{ip} is a loopback, private or link-local address: webhooks may reach it \
                 only with webhook_allow_private_networks = true"
            ))),
            _ => Ok(()),
        }
    }

    pub async fn list(&self, project: Option<&str>) -> Result<Vec<WebhookView>> {
        Ok(self
            .metadata
            .webhooks_of(project)
            .await?
            .iter()
            .map(view)
            .collect())
    }

    /// The webhook `id` of `project` (or a system one): another scope's is not found.
    async fn scoped(&self, project: Option<&str>, id: i64) -> Result<WebhookRecord> {
        self.metadata
            .webhook(id)
            .await?
            .filter(|record| record.project.as_deref() == project)
            .ok_or(WebhookError::NotFound)
    }

    pub async fn delete(&self, project: Option<&str>, id: i64) -> Result<WebhookView> {
        let record = self.scoped(project, id).await?;
        if !self.metadata.delete_webhook(id).await? {
            return Err(WebhookError::NotFound);
        }
        Ok(view(&record))
    }

    async fn delivery_view(&self, delivery: &DeliveryRecord) -> Result<DeliveryView> {
        let history = self
            .metadata
            .delivery_attempts(delivery.id)
            .await?
            .into_iter()
            .map(|a| AttemptView {
                attempt: a.attempt,
                at: a.at,
                status: a.status,
                error: a.error,
                millis: a.millis,
            })
            .collect();
        let event_id = serde_json::from_str::<serde_json::Value>(&delivery.payload)
            .ok()
            .and_then(|event| event["id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        Ok(DeliveryView {
            id: delivery.id,
            webhook: delivery.webhook_id,
            event_type: delivery.event_type.clone(),
            event_id,
            state: delivery.state.as_str().to_owned(),
            attempts: delivery.attempts,
            next_attempt_at: (delivery.state == bulwark_metadata::DeliveryState::Pending)
                .then_some(delivery.next_attempt_at),
            delivered_at: delivery.delivered_at,
            created_at: delivery.created_at,
            history,
        })
    }

    /// A webhook's deliveries, newest first (before the delivery id `before`, for the next
    /// page).
    pub async fn deliveries(
        &self,
        project: Option<&str>,
        id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryView>> {
        self.scoped(project, id).await?;
        let mut views = Vec::new();
        for delivery in self
            .metadata
            .deliveries_of(id, before, limit.clamp(1, 100))
            .await?
        {
            views.push(self.delivery_view(&delivery).await?);
        }
        Ok(views)
    }

    /// Sends a delivery again at the next round, whatever it came to before (same
    /// CloudEvent, signed anew).
    pub async fn redeliver(
        &self,
        project: Option<&str>,
        id: i64,
        delivery: i64,
    ) -> Result<DeliveryView> {
        self.scoped(project, id).await?;
        let record = self
            .metadata
            .delivery(delivery)
            .await?
            .filter(|d| d.webhook_id == id)
            .ok_or(WebhookError::NotFound)?;
        self.metadata
            .redeliver(record.id, bulwark_metadata::now_millis())
            .await?;
        let record = self
            .metadata
            .delivery(delivery)
            .await?
            .ok_or(WebhookError::NotFound)?;
        self.delivery_view(&record).await
    }

    /// One round of the background job: new outbox events into deliveries, then the
    /// deliveries that are due. Runs on one node at a time.
    pub async fn run(&self) -> Result<Round> {
        let queued = self.fan_out().await?;
        let (delivered, failed) = self.deliver_due().await?;
        Ok(Round {
            queued,
            delivered,
            failed,
        })
    }

    async fn fan_out(&self) -> Result<u64> {
        let mut queued = 0;
        loop {
            let from = self.metadata.event_position(CONSUMER).await?;
            let events = self.metadata.events_after(from, EVENT_BATCH).await?;
            let Some(last) = events.last().map(|e| e.id) else {
                return Ok(queued);
            };
            let hooks = self.metadata.all_webhooks().await?;
            if !hooks.is_empty() {
                let mut deliveries = Vec::new();
                for event in &events {
                    for notice in self.notices(event).await? {
                        for hook in hooks.iter().filter(|hook| wants(hook, &notice)) {
                            deliveries.push(NewDelivery {
                                webhook_id: hook.id,
                                delivery_key: notice.key.clone(),
                                event_id: event.id,
                                event_type: notice.event_type.to_owned(),
                                payload: cloud_event(&notice).to_string(),
                            });
                        }
                    }
                }
                queued += self
                    .metadata
                    .add_deliveries(&deliveries, bulwark_metadata::now_millis())
                    .await?;
            }
            if !self
                .metadata
                .advance_event_position(CONSUMER, from, last)
                .await?
            {
                return Ok(queued);
            }
        }
    }

    /// What `event` tells, project by project.
    async fn notices(&self, event: &Event) -> Result<Vec<Notice>> {
        let actor = event.context.as_ref().map(|c| c.actor.clone());
        let detail: serde_json::Value = event
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(serde_json::Value::Null);
        let simple = |event_type: &'static str, data: serde_json::Value| Notice {
            event_type,
            project: project_of(&event.repository).to_owned(),
            key: event.id.to_string(),
            subject: format!("{}@{}", event.repository, event.digest),
            time: event.created_at,
            data,
        };
        Ok(match event.kind {
            EventKind::ManifestPushed => {
                let (media_type, artifact_type, subject) =
                    self.manifest_kind(&event.digest).await?;
                vec![simple(
                    "artifact.pushed",
                    serde_json::json!({
                        "repository": event.repository, "digest": event.digest,
                        "tag": event.tag, "actor": actor, "media_type": media_type,
                        "artifact_type": artifact_type, "subject": subject,
                    }),
                )]
            }
            EventKind::ManifestDeleted | EventKind::TagDeleted => vec![simple(
                "artifact.deleted",
                serde_json::json!({
                    "repository": event.repository, "digest": event.digest,
                    "tag": event.tag, "actor": actor,
                    "what": if event.kind == EventKind::TagDeleted { "tag" } else { "manifest" },
                }),
            )],
            EventKind::PullDenied => vec![simple(
                "policy.denied",
                serde_json::json!({
                    "repository": event.repository, "digest": event.digest,
                    "tag": event.tag, "rules": detail["rules"], "message": detail["message"],
                }),
            )],
            EventKind::ScanCompleted => self.scan_notices(event, &detail).await?,
            EventKind::CriticalFinding => self.finding_notices(event, &detail).await?,
        })
    }

    /// What a pushed manifest is: its media type, its artifact type (when it is not an
    /// image) and the digest of the manifest it is attached to (`subject`: a signature, an
    /// SBOM, the scanner's own attachments), so that receivers can tell images from
    /// attachments. Nulls when the manifest is gone already.
    async fn manifest_kind(
        &self,
        digest: &str,
    ) -> Result<(serde_json::Value, serde_json::Value, serde_json::Value)> {
        let Some(record) = self.metadata.manifest_anywhere(digest).await? else {
            return Ok(Default::default());
        };
        let manifest: serde_json::Value =
            serde_json::from_slice(&record.content).unwrap_or_default();
        let artifact_type = match &manifest["artifactType"] {
            serde_json::Value::String(kind) => serde_json::Value::String(kind.clone()),
            _ => match manifest["config"]["mediaType"].as_str() {
                Some(config)
                    if !config.ends_with(".image.config.v1+json")
                        && !config.ends_with(".container.image.v1+json") =>
                {
                    serde_json::Value::String(config.to_owned())
                }
                _ => serde_json::Value::Null,
            },
        };
        Ok((
            serde_json::Value::String(record.media_type),
            artifact_type,
            manifest["subject"]["digest"].clone(),
        ))
    }

    /// A finished scan, in each repository holding the digest, with its findings by
    /// severity; and each of its critical findings.
    async fn scan_notices(&self, event: &Event, detail: &serde_json::Value) -> Result<Vec<Notice>> {
        let mut notices = Vec::new();
        let failed = detail["failed"].as_str();
        for repository in self
            .metadata
            .repositories_with_manifest(&event.digest)
            .await?
        {
            let findings = match failed {
                Some(_) => Vec::new(),
                None => {
                    self.metadata
                        .artifact_findings(&event.digest, Some(&repository))
                        .await?
                }
            };
            let mut counts: HashMap<&str, u64> = HashMap::new();
            for finding in &findings {
                *counts
                    .entry(severity_name(finding.severity_rank))
                    .or_default() += 1;
            }
            let project = project_of(&repository).to_owned();
            notices.push(Notice {
                event_type: "scan.completed",
                project: project.clone(),
                key: format!("{}|{repository}", event.id),
                subject: format!("{repository}@{}", event.digest),
                time: event.created_at,
                data: serde_json::json!({
                    "repository": repository, "digest": event.digest,
                    "status": if failed.is_some() { "failed" } else { "done" },
                    "reason": failed, "findings": counts,
                }),
            });
            for finding in findings
                .iter()
                .filter(|f| f.severity_rank >= bulwark_metadata::CRITICAL_RANK || f.malicious)
            {
                let package = finding.component.package.as_ref();
                notices.push(finding_notice(
                    &project,
                    &repository,
                    &event.digest,
                    event.created_at,
                    &finding.vulnerability,
                    serde_json::json!({
                        "ecosystem": package.map(|p| p.ecosystem.as_str()),
                        "name": package.map_or(finding.component.name.as_str(), |p| p.package.as_str()),
                        "version": package.map_or(finding.component.version.as_str(), |p| p.version.as_str()),
                        "purl": finding.component.purl,
                    }),
                    finding.malicious,
                ));
            }
        }
        Ok(notices)
    }

    /// A critical finding new on a package version, for every artifact holding it.
    async fn finding_notices(
        &self,
        event: &Event,
        detail: &serde_json::Value,
    ) -> Result<Vec<Notice>> {
        let (Some(ecosystem), Some(package), Some(version), Some(vulnerability)) = (
            detail["ecosystem"].as_str(),
            detail["package"].as_str(),
            detail["version"].as_str(),
            detail["vulnerability"].as_str(),
        ) else {
            return Ok(Vec::new());
        };
        let malicious = detail["malicious"].as_bool().unwrap_or(false);
        Ok(self
            .metadata
            .impact_of_package(ecosystem, package, Some(version), None, 10_000)
            .await?
            .iter()
            .map(|artifact| {
                finding_notice(
                    project_of(&artifact.repository),
                    &artifact.repository,
                    &artifact.digest,
                    event.created_at,
                    vulnerability,
                    serde_json::json!({
                        "ecosystem": ecosystem, "name": package, "version": version,
                    }),
                    malicious,
                )
            })
            .collect())
    }

    /// Sends what is due; (delivered, given up) in this round.
    async fn deliver_due(&self) -> Result<(u64, u64)> {
        let due = self
            .metadata
            .due_deliveries(bulwark_metadata::now_millis(), DELIVERY_BATCH)
            .await?;
        if due.is_empty() {
            return Ok((0, 0));
        }
        let mut hooks: HashMap<i64, Option<WebhookRecord>> = HashMap::new();
        for delivery in &due {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                hooks.entry(delivery.webhook_id)
            {
                slot.insert(self.metadata.webhook(delivery.webhook_id).await?);
            }
        }
        // Owned pairs: the attempts run concurrently, each on its own copy.
        let pairs: Vec<(DeliveryRecord, WebhookRecord)> = due
            .into_iter()
            .filter_map(|delivery| {
                let hook = hooks.get(&delivery.webhook_id).cloned().flatten()?;
                Some((delivery, hook))
            })
            .collect();
        let outcomes: Vec<Result<Option<bool>>> = futures::stream::iter(pairs)
            .map(|(delivery, hook)| {
                let this = self.clone();
                async move { this.attempt(&delivery, &hook).await }
            })
            .buffer_unordered(DELIVERY_CONCURRENCY)
            .collect()
            .await;
        let (mut delivered, mut failed) = (0, 0);
        for outcome in outcomes {
            match outcome? {
                Some(true) => delivered += 1,
                Some(false) => failed += 1,
                None => {}
            }
        }
        Ok((delivered, failed))
    }

    /// One attempt: `Some(true)` delivered, `Some(false)` given up, `None` to be tried again.
    async fn attempt(
        &self,
        delivery: &DeliveryRecord,
        hook: &WebhookRecord,
    ) -> Result<Option<bool>> {
        let attempt = delivery.attempts + 1;
        let message_id = format!("delivery_{}", delivery.id);
        // Made before private targets were refused: refused now.
        if let Err(refused) = self.check_target(&hook.url) {
            let now = bulwark_metadata::now_millis();
            let error = refused.to_string();
            self.metadata
                .record_attempt(
                    delivery.id,
                    attempt,
                    &AttemptOutcome {
                        status: None,
                        error: Some(&error),
                        millis: 0,
                        delivered: false,
                        retry_at: None,
                    },
                    now,
                )
                .await?;
            return Ok(Some(false));
        }
        let timestamp = bulwark_metadata::now_millis() / 1000;
        let body = delivery.payload.as_bytes().to_vec();
        let signature = signing::sign(&self.signing_secret(hook)?, &message_id, timestamp, &body)
            .ok_or_else(|| invalid("the webhook's secret is malformed"))?;
        let started = Instant::now();
        let sent = self
            .http
            .post(&hook.url)
            .header(
                "content-type",
                "application/cloudevents+json; charset=utf-8",
            )
            .header("webhook-id", &message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let (status, error) = match sent {
            Ok(response) => {
                let status = response.status();
                let error = if status.is_success() {
                    None
                } else {
                    let text = response.text().await.unwrap_or_default();
                    let mut text: String = text.chars().take(ERROR_BODY_BYTES).collect();
                    if text.is_empty() {
                        text = status.to_string();
                    }
                    Some(text)
                };
                (Some(status.as_u16()), error)
            }
            // Without the URL: it is in the webhook already, and the error's chain says
            // what failed (refused, timed out, TLS).
            Err(error) => (None, Some(describe(&error.without_url()))),
        };
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        let now = bulwark_metadata::now_millis();
        let retry_at = (!delivered && attempt < i64::from(self.settings.max_attempts)).then(|| {
            let wait = self
                .settings
                .retry_base
                .saturating_mul(1 << attempt.clamp(1, 20).saturating_sub(1))
                .min(MAX_BACKOFF);
            now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
        });
        let recorded = self
            .metadata
            .record_attempt(
                delivery.id,
                attempt,
                &AttemptOutcome {
                    status,
                    error: error.as_deref(),
                    millis: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
                    delivered,
                    retry_at,
                },
                now,
            )
            .await?;
        if !delivered {
            tracing::warn!(
                webhook = hook.id,
                delivery = delivery.id,
                attempt,
                status,
                error = error.as_deref().unwrap_or_default(),
                retry = retry_at.is_some(),
                "a webhook delivery was not taken"
            );
        }
        Ok(match (recorded, delivered, retry_at) {
            (false, _, _) => None,
            (true, true, _) => Some(true),
            (true, false, None) => Some(false),
            (true, false, Some(_)) => None,
        })
    }
}

/// An error with its causes, on one line.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn wants(hook: &WebhookRecord, notice: &Notice) -> bool {
    let scope = hook
        .project
        .as_deref()
        .is_none_or(|project| project == notice.project);
    let kind = hook.events.is_empty() || hook.events.iter().any(|e| e == notice.event_type);
    scope && kind
}

fn finding_notice(
    project: &str,
    repository: &str,
    digest: &str,
    time: i64,
    vulnerability: &str,
    package: serde_json::Value,
    malicious: bool,
) -> Notice {
    Notice {
        event_type: "finding.critical",
        project: project.to_owned(),
        key: format!("finding|{repository}@{digest}|{vulnerability}"),
        subject: format!("{repository}@{digest}"),
        time,
        data: serde_json::json!({
            "repository": repository, "digest": digest, "vulnerability": vulnerability,
            "package": package, "malicious": malicious,
        }),
    }
}

/// The CloudEvent (1.0, structured JSON) of a notice. Its `id` is the same for every
/// webhook and attempt: receivers may drop repeats by it.
fn cloud_event(notice: &Notice) -> serde_json::Value {
    use sha2::Digest;
    let id = hex::encode(&sha2::Sha256::digest(notice.key.as_bytes())[..12]);
    serde_json::json!({
        "specversion": "1.0",
        "id": id,
        "source": format!("/projects/{}", notice.project),
        "type": format!("dev.bulwark.{}", notice.event_type),
        "subject": notice.subject,
        "time": rfc3339(notice.time),
        "datacontenttype": "application/json",
        "data": notice.data,
    })
}

#[cfg(test)]
mod tests;
