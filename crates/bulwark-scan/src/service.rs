//! The registry's scan service: a durable queue fed by the outbox (each manifest stored is
//! scanned, if its project says so), workers that take scans from it, layer inventories
//! read once and kept by digest, findings per package version, re-matching when advisory
//! data changes (reading no blob), reports and the impact query.
//!
//! Every node may run workers: a scan is claimed in the metadata store with a lease, so it
//! runs on one node, and a dead node's scan is taken again when its lease runs out. A
//! failed attempt is retried with backoff; a permanent failure (a malformed or oversized
//! layer) marks the scan failed with the reason, and nothing stored is touched.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bulwark_blobstore::BlobStore;
use bulwark_layer::Limits;
use bulwark_metadata::{
    ArtifactComponent, ArtifactSecret, EventKind, Finished, ManifestSummary, MetadataStore,
    PackageFinding, PackageVersion, ScanStatus, now_millis,
};
use bulwark_oci::{Digest, ManifestKind, ParsedManifest};
use bulwark_package::PackageKey;
use bulwark_registry::Registry;
use bulwark_registry::supervisor::{Placement, Supervisor};
use bulwark_vulndb::{ImportReport, PackageVersions, VulnDb, VulnerabilityMatch};
use futures::TryStreamExt;
use serde::Serialize;

use crate::matching::severity_rank;
use crate::{ENGINE, Inventory, LayerInventory, inventory_layer};

/// The outbox consumer that queues scans.
const FEED: &str = "scanner";
/// The scan-state counter: the last advisory import whose changes were re-matched.
const REMATCHED_IMPORT: &str = "rematched_import";
/// The annotation that marks an SBOM referrer this service made.
const GENERATED_SBOM: &str = "dev.bulwark.sbom";
/// Referrers of an artifact read per repository when looking for SBOMs, at most.
const MAX_REFERRERS_READ: u32 = 200;
/// SBOM referrers of one artifact read as part of its inventory, at most.
const MAX_ATTACHED_SBOMS: u32 = 16;
/// Packages matched per read of the advisories and per transaction.
const MATCH_BATCH: usize = 200;
/// Platform manifests an index may have scanned as part of it.
const MAX_PLATFORMS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Metadata(#[from] bulwark_metadata::MetadataError),
    #[error(transparent)]
    Blobs(#[from] bulwark_blobstore::BlobStoreError),
    #[error(transparent)]
    VulnDb(#[from] bulwark_vulndb::VulnDbError),
    /// A query that cannot be answered as asked (a malformed package URL).
    #[error("{0}")]
    Invalid(String),
    /// The artifact cannot be scanned as it is; retrying will not help.
    #[error("{0}")]
    Unscannable(String),
    #[error("a stored layer inventory is corrupt: {0}")]
    Corrupt(String),
    #[error("the scan task stopped: {0}")]
    Task(String),
}

impl ServiceError {
    /// Whether another attempt may succeed (the store was unreachable, say).
    fn is_transient(&self) -> bool {
        !matches!(
            self,
            ServiceError::Unscannable(_) | ServiceError::Invalid(_)
        )
    }
}

/// How scans run.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    pub limits: Limits,
    /// How long a claimed scan is a node's before another may take it; renewed while the
    /// scan runs.
    pub lease: Duration,
    /// Attempts before a scan that keeps failing is marked failed.
    pub max_attempts: i64,
    /// The wait before the first retry; doubled at each further one.
    pub retry_after: Duration,
    /// Where an advisory update asked for through the API downloads from:
    /// `{base_url}/{ecosystem}/all.zip` for each of `advisory_ecosystems`.
    pub advisory_base_url: String,
    pub advisory_ecosystems: Vec<String>,
    /// Advisory data older than this is stale: readiness and `db status` warn.
    pub advisory_max_age: Duration,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            limits: Limits::default(),
            lease: Duration::from_secs(120),
            max_attempts: 5,
            retry_after: Duration::from_secs(10),
            advisory_base_url: bulwark_vulndb::DEFAULT_BASE_URL.into(),
            advisory_ecosystems: Vec::new(),
            advisory_max_age: Duration::from_secs(48 * 3600),
        }
    }
}

/// The scan service; cheap to clone.
#[derive(Clone)]
pub struct Scanner {
    metadata: MetadataStore,
    blobs: BlobStore,
    /// Where SBOMs are attached to what they describe, as referrers.
    registry: Registry,
    vulndb: VulnDb,
    settings: Arc<ScanSettings>,
    /// This node, as the holder of claims.
    node: Arc<str>,
    /// Whether an advisory update this node started is still running.
    updating: Arc<std::sync::atomic::AtomicBool>,
    /// The installation's key for secrets' fingerprints, once read.
    fingerprint_key: Arc<std::sync::OnceLock<[u8; 32]>>,
    metrics: crate::metrics::ScanMetrics,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner").field("node", &self.node).finish()
    }
}

/// What an artifact holds, ready to be stored.
#[derive(Debug, Default)]
struct Scanned {
    /// An image or index (not itself a referrer, such as a signature or an SBOM), which
    /// gets SBOMs attached.
    describable: bool,
    os: Option<String>,
    components: Vec<ArtifactComponent>,
    secrets: Vec<ArtifactSecret>,
    warnings: Vec<String>,
}

impl Scanned {
    /// A hash of what the scan stores: the same hash, the same stored outcome.
    fn hash(&self) -> String {
        use sha2::Digest as _;
        let mut hash = sha2::Sha256::new();
        let mut field = |value: Option<&str>| {
            // Length-prefixed, so no two different sequences hash alike.
            let value = value.unwrap_or("\u{0}absent");
            hash.update((value.len() as u64).to_le_bytes());
            hash.update(value.as_bytes());
        };
        field(self.os.as_deref());
        for warning in &self.warnings {
            field(Some(warning));
        }
        field(Some("components"));
        for c in &self.components {
            let package = c.package.as_ref();
            for value in [
                Some(c.kind.as_str()),
                Some(&c.name),
                Some(&c.version),
                c.purl.as_deref(),
                Some(&c.path),
                c.layer_digest.as_deref(),
                c.platform.as_deref(),
                package.map(|p| p.ecosystem.as_str()),
                package.map(|p| p.package.as_str()),
                package.map(|p| p.version.as_str()),
            ] {
                field(value);
            }
        }
        field(Some("secrets"));
        for s in &self.secrets {
            let line = s.line.to_string();
            for value in [
                Some(s.rule.as_str()),
                Some(&s.title),
                Some(&s.severity),
                Some(&s.path),
                Some(&line),
                Some(&s.redacted),
                Some(&s.fingerprint),
                s.layer_digest.as_deref(),
                s.platform.as_deref(),
            ] {
                field(value);
            }
        }
        hex::encode(hash.finalize())
    }
}

/// What one pass of the workers did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkDone {
    pub scanned: u32,
    pub failed: u32,
}

/// What a re-match changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Rematch {
    /// Package versions matched again.
    pub packages: u64,
    pub added: u64,
    pub resolved: u64,
}

/// An artifact's scan as reports show it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScanReport {
    pub digest: String,
    /// `pending`, `running`, `done`, `failed`; `not_scanned` when no scan was ever asked.
    pub status: String,
    /// Why the scan failed (or why its last attempt did, while it is retried).
    pub reason: Option<String>,
    pub attempts: i64,
    /// RFC 3339 times.
    pub queued_at: Option<String>,
    pub finished_at: Option<String>,
    /// The distribution of the final filesystem.
    pub os: Option<String>,
    /// Seconds since the advisory data these findings were matched against was imported;
    /// absent when none was ever imported (nothing can match).
    pub advisories_age_seconds: Option<u64>,
    pub components: Vec<ComponentReport>,
    /// Vulnerabilities and known-malicious packages, malicious first, then worst first.
    pub findings: Vec<FindingReport>,
    /// Findings that went away when the advisory data changed, newest first.
    pub resolved: Vec<ResolvedReport>,
    /// Leaked secrets (private keys, tokens, passwords in configuration), redacted.
    pub secrets: Vec<SecretReport>,
    /// What the read skipped, and why.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ComponentReport {
    /// The package format (`dpkg`, `python`, `npm`, …).
    pub kind: String,
    pub name: String,
    pub version: String,
    pub purl: Option<String>,
    /// The file it was found in.
    pub path: String,
    /// The layer that added it.
    pub layer: Option<String>,
    /// For an index: the platform manifest it came from.
    pub platform: Option<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FindingReport {
    /// `vulnerability`, or `malicious` for a known-malicious package (OSV `MAL-*`).
    pub kind: String,
    pub id: String,
    /// Every other name of it: the records that matched (PYSEC-…, GHSA-…) and their
    /// aliases.
    pub aliases: Vec<String>,
    /// `critical`, `high`, `medium`, `low`, `none`; absent when no record rates it.
    pub severity: Option<String>,
    pub score: Option<f64>,
    /// The vector or field the severity came from, and its record.
    pub severity_source: Option<String>,
    pub summary: Option<String>,
    pub ecosystem: String,
    /// The package the advisory names (a distribution's source package).
    pub package: String,
    /// The version compared (a distribution's source version).
    pub installed: String,
    /// Versions that fix it; empty when no fix is known.
    pub fixed: Vec<String>,
    /// RFC 3339: when the fix became known (the earliest publication of an advisory record
    /// naming it), when the records say.
    pub fix_published: Option<String>,
    pub component: ComponentReport,
    /// RFC 3339: when this artifact was first known to have it.
    pub first_seen: String,
}

/// A leaked secret; the value is shown redacted, and stored nowhere whole.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SecretReport {
    /// The rule that found it (`private-key`, `aws-access-key-id`, `github-token`, …).
    pub rule: String,
    pub title: String,
    pub severity: String,
    pub path: String,
    pub line: i64,
    pub redacted: String,
    /// Tells one secret from another (a hash of the rule and the value), e.g. across images.
    pub fingerprint: String,
    pub layer: Option<String>,
    pub platform: Option<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ResolvedReport {
    pub id: String,
    pub ecosystem: String,
    pub package: String,
    pub installed: String,
    /// RFC 3339.
    pub resolved_at: String,
}

/// An artifact an impact query found.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ImpactReport {
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub ecosystem: String,
    pub package: String,
    pub version: String,
    /// The vulnerability, for a query by id.
    pub vulnerability: Option<String>,
}

/// What an impact query asks for.
#[derive(Debug, Clone)]
pub enum ImpactQuery {
    /// Any id of a vulnerability (CVE, GHSA, OSV id, alias).
    Vulnerability(String),
    /// A package (with a version, or any version) as a package URL.
    Purl(String),
}

/// A named fault point (feature `failpoints`, tests only): how the queue's crash and retry
/// tests stop or fail a scan at a known step. `return(hold)` holds the scan (asynchronously:
/// a blocked runtime thread would also stall requests queued behind it); any other `return`
/// fails the attempt.
#[cfg(feature = "failpoints")]
async fn fault(point: &'static str) -> Result<(), ServiceError> {
    let armed = (|| {
        fail::fail_point!(point, |argument| Some(argument.unwrap_or_default()));
        None
    })();
    match armed.as_deref() {
        None => Ok(()),
        Some("hold") => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
        Some(_) => Err(ServiceError::Task(format!("injected fault at {point}"))),
    }
}

#[cfg(not(feature = "failpoints"))]
async fn fault(_point: &'static str) -> Result<(), ServiceError> {
    Ok(())
}

/// Where a severity came from, as reports show it: the vector or field, and its record.
pub(crate) fn severity_source(severity: &bulwark_vulndb::SeverityReport) -> Option<String> {
    match (&severity.source, &severity.record) {
        (Some(source), Some(record)) => Some(format!("{source} ({record})")),
        (Some(source), None) => Some(source.clone()),
        _ => None,
    }
}

fn rfc3339(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| millis.to_string())
}

/// The file name of a layer that is a package file (named by its title annotation, as
/// `oras push` and package uploaders write it).
fn package_title(layer: &bulwark_oci::Descriptor) -> Option<&str> {
    let title = layer
        .annotations
        .as_ref()?
        .get("org.opencontainers.image.title")?;
    bulwark_inventory::is_package_file(title).then_some(title.as_str())
}

/// Whether a referrer is an SBOM this service made.
fn is_generated(referrer: &ManifestSummary) -> bool {
    referrer
        .annotations
        .as_deref()
        .is_some_and(|a| a.contains(GENERATED_SBOM))
}

/// Whether both SBOMs this service makes are among `referrers`.
fn has_generated_sboms(referrers: &[ManifestSummary]) -> bool {
    [
        crate::sbom::CYCLONEDX_MEDIA_TYPE,
        crate::sbom::SPDX_MEDIA_TYPE,
    ]
    .iter()
    .all(|media_type| {
        referrers
            .iter()
            .any(|r| r.artifact_type.as_deref() == Some(*media_type) && is_generated(r))
    })
}

/// Whether a manifest is an SBOM attached to an artifact by someone other than this service.
fn is_user_sbom(manifest: &ParsedManifest) -> bool {
    let sbom = manifest.artifact_type.as_deref().is_some_and(|t| {
        t == crate::sbom::CYCLONEDX_MEDIA_TYPE || t == crate::sbom::SPDX_MEDIA_TYPE
    });
    let generated = manifest
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(GENERATED_SBOM));
    sbom && !generated
}

/// A package URL's type, namespace, name and version: what two tools agree on.
fn unqualified(purl: &bulwark_package::Purl) -> String {
    format!(
        "{}/{}/{}@{}",
        purl.ty(),
        purl.namespace().unwrap_or_default(),
        purl.name(),
        purl.version().unwrap_or_default()
    )
}

/// The package an SBOM's entry names as advisories list it, from its package URL.
fn sbom_package(package: &bulwark_inventory::sbom::ListedPackage) -> Option<PackageVersion> {
    let (ecosystem, mut name) = package.purl.to_osv()?;
    let mut version = package.purl.version().unwrap_or(&package.version);
    // Distribution advisories are keyed by the source package, which SBOMs give as the
    // `upstream` qualifier (`openssl`, or `openssl@3.0.11-1` when its version differs).
    if matches!(package.purl.ty(), "deb" | "apk" | "rpm")
        && let Some(upstream) = package.purl.qualifier("upstream")
    {
        let (source, source_version) = upstream.split_once('@').unwrap_or((upstream, ""));
        name = source.to_owned();
        if !source_version.is_empty() {
            version = source_version;
        }
    }
    if version.is_empty() {
        return None;
    }
    let key = PackageKey::new(&ecosystem, &name);
    Some(PackageVersion {
        ecosystem: key.ecosystem.to_string(),
        package: key.name,
        version: version.to_owned(),
    })
}

/// Whether a descriptor's media type is a filesystem layer (tar, compressed or not).
fn is_layer(media_type: &str) -> bool {
    media_type.contains("tar") && !media_type.contains("json")
}

fn component_report(c: &ArtifactComponent) -> ComponentReport {
    ComponentReport {
        kind: c.kind.clone(),
        name: c.name.clone(),
        version: c.version.clone(),
        purl: c.purl.clone(),
        path: c.path.clone(),
        layer: c.layer_digest.clone(),
        platform: c.platform.clone(),
    }
}

/// Whether a vulnerability is a known-malicious package (OSV `MAL-*`, by name or record).
pub(crate) fn is_malicious(vulnerability: &VulnerabilityMatch) -> bool {
    std::iter::once(&vulnerability.id)
        .chain(&vulnerability.records)
        .any(|id| id.starts_with("MAL-"))
}

impl Scanner {
    pub fn new(
        metadata: MetadataStore,
        registry: Registry,
        vulndb: VulnDb,
        settings: ScanSettings,
        node: &str,
    ) -> Self {
        Scanner {
            metadata,
            blobs: registry.blobs().clone(),
            registry,
            vulndb,
            settings: Arc::new(settings),
            node: node.into(),
            updating: Arc::default(),
            fingerprint_key: Arc::default(),
            metrics: crate::metrics::ScanMetrics::default(),
        }
    }

    /// This node's scan durations and outcomes.
    pub fn metrics(&self) -> &crate::metrics::ScanMetrics {
        &self.metrics
    }

    /// Scans queued or running on any node: the queue-depth gauge.
    pub async fn queue_depth(&self) -> Result<u64, ServiceError> {
        Ok(self.metadata.scans_outstanding().await?)
    }

    /// Runs the scan service's background work on `supervisor`: the feed from pushes, the
    /// workers, and the re-match after advisory imports.
    pub fn schedule(&self, supervisor: &mut Supervisor) {
        // Pushes reach the queue within this interval, and queued scans start within it.
        let every = Duration::from_millis(250);
        let feeder = self.clone();
        supervisor.every("scan-feed", every, Placement::OneNode, move || {
            let scanner = feeder.clone();
            async move { scanner.feed().await.map(|_| ()) }
        });
        let worker = self.clone();
        supervisor.every("scan-work", every, Placement::EveryNode, move || {
            let scanner = worker.clone();
            async move { scanner.work(16).await.map(|_| ()) }
        });
        // Advisory data imported by `bulwark db` (from the CLI, the API or another node) is
        // applied to the stored inventories within this interval.
        let matcher = self.clone();
        supervisor.every(
            "advisory-rematch",
            Duration::from_secs(5),
            Placement::OneNode,
            move || {
                let scanner = matcher.clone();
                async move { scanner.rematch().await.map(|_| ()) }
            },
        );
    }

    /// Queues a scan of every manifest stored since the feed's last position (one per
    /// digest, in projects that scan at push). Runs on one node at a time; a position moved
    /// by another node means it took these events.
    pub async fn feed(&self) -> Result<u32, ServiceError> {
        let mut queued = 0;
        loop {
            let from = self.metadata.event_position(FEED).await?;
            let events = self.metadata.events_after(from, 500).await?;
            let Some(last) = events.last().map(|e| e.id) else {
                return Ok(queued);
            };
            // Each project's setting is read once per batch; a digest is queued once, by the
            // first push of it to a project that scans.
            let mut scans: BTreeMap<&str, bool> = BTreeMap::new();
            let mut digests = BTreeSet::new();
            for event in events
                .iter()
                .filter(|e| e.kind == EventKind::ManifestPushed)
            {
                let project = event.repository.split('/').next().unwrap_or_default();
                let scans_at_push = match scans.get(project) {
                    Some(&on) => on,
                    None => {
                        let on = self.metadata.scan_on_push(project).await?;
                        scans.insert(project, on);
                        on
                    }
                };
                if scans_at_push
                    && digests.insert(event.digest.as_str())
                    && self
                        .metadata
                        .queue_scan(&event.digest, now_millis())
                        .await?
                {
                    queued += 1;
                }
            }
            if !self
                .metadata
                .advance_event_position(FEED, from, last)
                .await?
            {
                return Ok(queued);
            }
        }
    }

    /// Queues a scan of `digest` now (on demand). False when one is already pending or
    /// running.
    pub async fn request(&self, digest: &Digest) -> Result<bool, ServiceError> {
        Ok(self
            .metadata
            .queue_scan(&digest.to_string(), now_millis())
            .await?)
    }

    /// Takes due scans from the queue and runs them, up to `budget` of them.
    pub async fn work(&self, budget: u32) -> Result<WorkDone, ServiceError> {
        let mut done = WorkDone::default();
        let lease_ms = i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX);
        for _ in 0..budget {
            let Some(claim) = self
                .metadata
                .claim_scan(&self.node, lease_ms, now_millis())
                .await?
            else {
                break;
            };
            let started = std::time::Instant::now();
            let ran = self.run_claimed(&claim, lease_ms).await;
            self.metrics
                .finished(started.elapsed().as_secs_f64(), ran.is_err());
            match ran {
                Ok(()) => {
                    done.scanned += 1;
                    tracing::info!(
                        digest = %claim.digest,
                        millis = started.elapsed().as_millis() as u64,
                        "scan done"
                    );
                }
                Err(error) => {
                    done.failed += 1;
                    let reason = error.to_string();
                    let retry_at = (error.is_transient()
                        && claim.attempts < self.settings.max_attempts)
                        .then(|| {
                            let wait = self
                                .settings
                                .retry_after
                                .saturating_mul(1 << claim.attempts.clamp(1, 16).saturating_sub(1));
                            now_millis()
                                .saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
                        });
                    tracing::warn!(digest = %claim.digest, %reason, retry = retry_at.is_some(), "scan failed");
                    self.metadata
                        .fail_scan(&claim.digest, &self.node, &reason, retry_at, now_millis())
                        .await?;
                }
            }
        }
        Ok(done)
    }

    /// Runs one claimed scan, renewing the claim while it runs.
    async fn run_claimed(
        &self,
        claim: &bulwark_metadata::ScanClaim,
        lease_ms: i64,
    ) -> Result<(), ServiceError> {
        let digest = claim.digest.as_str();
        let renew = async {
            let mut ticker = tokio::time::interval(self.settings.lease / 3);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let until = now_millis().saturating_add(lease_ms);
                match self.metadata.renew_scan(digest, &self.node, until).await {
                    Ok(true) => {}
                    // Lost: another node took it over (this one stalled); stop.
                    Ok(false) => return,
                    Err(error) => tracing::warn!(%error, "renewing a scan's claim failed"),
                }
            }
        };
        let scan = async {
            let parsed: Digest = digest
                .parse()
                .map_err(|e| ServiceError::Unscannable(format!("digest {digest:?}: {e}")))?;
            let mut scanned = self.scanned(&parsed, 0).await?;
            let sboms = if scanned.describable {
                self.sbom_referrers(&parsed).await?
            } else {
                Vec::new()
            };
            self.add_attached_sboms(&sboms, &mut scanned).await?;
            let hash = scanned.hash();
            // The same outcome as the last finished scan: each of its package versions was
            // matched before that scan finished, and matched versions stay matched.
            if claim.inventory_hash.as_deref() != Some(hash.as_str()) {
                self.match_new(&scanned.components).await?;
            }
            fault("scan::before_finish").await?;
            let finished = self
                .metadata
                .finish_scan(
                    digest,
                    &self.node,
                    &bulwark_metadata::ScanOutcome {
                        os: scanned.os.as_deref(),
                        warnings: &serde_json::to_string(&scanned.warnings).unwrap_or_default(),
                        components: &scanned.components,
                        secrets: &scanned.secrets,
                        inventory_hash: &hash,
                    },
                    now_millis(),
                )
                .await?;
            match finished {
                Finished::Lost => tracing::warn!(
                    digest,
                    "a scan's claim was lost before it finished; dropped"
                ),
                Finished::Unchanged if scanned.describable => {
                    self.attach_sboms(&parsed, false, &sboms).await?;
                }
                Finished::Stored if scanned.describable => {
                    self.attach_sboms(&parsed, true, &sboms).await?;
                }
                Finished::Unchanged | Finished::Stored => {}
            }
            Ok(())
        };
        tokio::select! {
            result = scan => result,
            () = renew => Err(ServiceError::Task("the claim was taken over".into())),
        }
    }

    /// What manifest `digest` holds: an image's final filesystem, or an index's platforms'
    /// together (each also queued to be scanned on its own).
    fn scanned<'a>(
        &'a self,
        digest: &'a Digest,
        depth: usize,
    ) -> futures::future::BoxFuture<'a, Result<Scanned, ServiceError>> {
        Box::pin(async move {
            let record = self
                .metadata
                .manifest_anywhere(&digest.to_string())
                .await?
                .ok_or_else(|| {
                    ServiceError::Unscannable(format!("manifest {digest} is not stored"))
                })?;
            let manifest = ParsedManifest::parse(Some(&record.media_type), &record.content)
                .map_err(|e| ServiceError::Unscannable(format!("manifest {digest}: {e}")))?;
            if let Some(subject) = &manifest.subject
                && is_user_sbom(&manifest)
            {
                // An SBOM attached to an artifact is part of that artifact's inventory.
                self.metadata
                    .queue_scan(&subject.digest.to_string(), now_millis())
                    .await?;
            }
            if !manifest.kind.is_index() {
                let mut scanned = self.scanned_image(&manifest).await?;
                scanned.describable = depth == 0
                    && manifest.subject.is_none()
                    && (manifest.layers.iter().any(|l| is_layer(&l.media_type))
                        || !scanned.components.is_empty());
                return Ok(scanned);
            }
            if depth > 0 {
                return Err(ServiceError::Unscannable(
                    "an index inside an index is not scanned".into(),
                ));
            }
            let mut union = Scanned {
                describable: manifest.subject.is_none(),
                ..Scanned::default()
            };
            for child in manifest.manifests.iter().take(MAX_PLATFORMS) {
                if ManifestKind::from_media_type(&child.media_type).is_none_or(|k| k.is_index()) {
                    continue;
                }
                // Attestations ride in indexes as `unknown/unknown`.
                let unknown = child.platform.as_ref().is_some_and(|p| {
                    p["os"].as_str() == Some("unknown")
                        && p["architecture"].as_str() == Some("unknown")
                });
                if unknown {
                    continue;
                }
                self.metadata
                    .queue_scan(&child.digest.to_string(), now_millis())
                    .await?;
                let platform = self.scanned(&child.digest, depth + 1).await?;
                union.os = union.os.or(platform.os);
                union.warnings.extend(platform.warnings);
                union
                    .components
                    .extend(platform.components.into_iter().map(|c| ArtifactComponent {
                        platform: Some(child.digest.to_string()),
                        ..c
                    }));
                union
                    .secrets
                    .extend(platform.secrets.into_iter().map(|s| ArtifactSecret {
                        platform: Some(child.digest.to_string()),
                        ..s
                    }));
            }
            Ok(union)
        })
    }

    async fn scanned_image(&self, manifest: &ParsedManifest) -> Result<Scanned, ServiceError> {
        let mut read = Vec::new();
        let mut digests = Vec::new();
        // An image's layers are filesystems; an artifact's layers named as package files are
        // packages (an npm tarball is a tar, but not a root filesystem).
        let image = manifest.config.as_ref().is_some_and(|c| {
            c.media_type == "application/vnd.oci.image.config.v1+json"
                || c.media_type == "application/vnd.docker.container.image.v1+json"
        });
        for layer in &manifest.layers {
            let package = if image { None } else { package_title(layer) };
            if let Some(file) = package {
                // An artifact whose layer is a package file (a wheel, an npm tarball, a
                // jar, …): that package and whatever it locks.
                read.push(self.package_layer(&layer.digest, file).await?);
                digests.push(layer.digest.to_string());
            } else if is_layer(&layer.media_type) {
                read.push(self.layer(&layer.digest).await?);
                digests.push(layer.digest.to_string());
            }
        }
        let mut inventory = Inventory::of_image(&read.iter().collect::<Vec<_>>());
        inventory.key_fingerprints(&self.fingerprint_key().await?);
        let components = inventory
            .components
            .iter()
            .map(|located| {
                let component = &located.component.component;
                ArtifactComponent {
                    kind: component.kind.as_str().to_owned(),
                    name: component.name.clone(),
                    version: component.version.clone(),
                    purl: located.component.purl.clone(),
                    path: component.path.clone(),
                    layer_digest: located.layer.and_then(|i| digests.get(i).cloned()),
                    platform: None,
                    repository: None,
                    package: component.osv_package(inventory.os.as_ref()).map(
                        |(ecosystem, name, version)| {
                            let key = PackageKey::new(&ecosystem, &name);
                            PackageVersion {
                                ecosystem: key.ecosystem.to_string(),
                                package: key.name,
                                version,
                            }
                        },
                    ),
                }
            })
            .collect();
        let secrets = inventory
            .secrets
            .iter()
            .map(|located| {
                let secret = &located.secret;
                ArtifactSecret {
                    rule: secret.rule.clone(),
                    title: secret.title.clone(),
                    severity: secret.severity.as_str().to_owned(),
                    path: secret.path.clone(),
                    line: i64::from(secret.line),
                    redacted: secret.redacted.clone(),
                    fingerprint: secret.fingerprint.clone(),
                    layer_digest: located.layer.and_then(|i| digests.get(i).cloned()),
                    platform: None,
                }
            })
            .collect();
        Ok(Scanned {
            describable: false,
            os: inventory.os.as_ref().map(os_name),
            components,
            secrets,
            warnings: inventory
                .warnings
                .iter()
                .map(|w| format!("{}: {}", w.entry, w.reason))
                .collect(),
        })
    }

    /// A package-file layer's inventory: the stored one, or read once (whole, up to the cap on
    /// one file) and stored.
    async fn package_layer(
        &self,
        digest: &Digest,
        file: &str,
    ) -> Result<LayerInventory, ServiceError> {
        let key = digest.to_string();
        if let Some(stored) = self.stored_layer(digest).await? {
            return Ok(stored);
        }
        let size = self.blobs.blob_size(digest).await?.ok_or_else(|| {
            ServiceError::Unscannable(format!("package {file} ({key}) is not stored"))
        })?;
        if size > self.settings.limits.max_file_bytes {
            return Err(ServiceError::Unscannable(format!(
                "package {file} is {size} bytes, more than the {} read of one file",
                self.settings.limits.max_file_bytes
            )));
        }
        let mut stream =
            self.blobs.read(digest, None).await?.ok_or_else(|| {
                ServiceError::Unscannable(format!("package {file} is not stored"))
            })?;
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        while let Some(piece) = stream.try_next().await? {
            bytes.extend_from_slice(&piece);
        }
        let name = file.to_owned();
        let extracted =
            tokio::task::spawn_blocking(move || bulwark_inventory::extract_package(&name, &bytes))
                .await
                .map_err(|e| ServiceError::Task(e.to_string()))?;
        let inventory = LayerInventory {
            engine: ENGINE,
            components: extracted.components,
            warnings: extracted
                .problem
                .map(|reason| bulwark_layer::Warning {
                    entry: file.to_owned(),
                    reason,
                })
                .into_iter()
                .collect(),
            ..LayerInventory::default()
        };
        self.keep_layer(&key, &inventory).await?;
        Ok(inventory)
    }

    /// One layer's inventory: the stored one, or read from the blob once and stored. One
    /// stored by an older engine is read again, if the blob is still there.
    async fn layer(&self, digest: &Digest) -> Result<LayerInventory, ServiceError> {
        let key = digest.to_string();
        if let Some(stored) = self.stored_layer(digest).await? {
            return Ok(stored);
        }
        let stream = self
            .blobs
            .read(digest, None)
            .await?
            .ok_or_else(|| ServiceError::Unscannable(format!("layer {key} is not stored")))?;
        let reader = tokio_util::io::StreamReader::new(stream.map_err(std::io::Error::other));
        let limits = self.settings.limits;
        let inventory = tokio::task::spawn_blocking(move || {
            let bridge = tokio_util::io::SyncIoBridge::new(reader);
            inventory_layer(bridge, &limits)
        })
        .await
        .map_err(|e| ServiceError::Task(e.to_string()))?
        .map_err(|e| ServiceError::Unscannable(format!("layer {key}: {e}")))?;
        self.keep_layer(&key, &inventory).await?;
        Ok(inventory)
    }

    /// A layer's stored inventory, if it need not be read again: one by this engine, or by an
    /// older one when the blob is gone (nothing better can be had).
    async fn stored_layer(&self, digest: &Digest) -> Result<Option<LayerInventory>, ServiceError> {
        let key = digest.to_string();
        let stored = match self.metadata.layer_inventory(&key).await? {
            Some(json) => match serde_json::from_str::<LayerInventory>(&json) {
                Ok(stored) if stored.engine == ENGINE => return Ok(Some(stored)),
                Ok(stored) => Some(stored),
                Err(error) => {
                    tracing::warn!(layer = %key, %error, "a stored layer inventory is unreadable; reading the layer again");
                    None
                }
            },
            None => None,
        };
        if let Some(stored) = stored
            && self.blobs.blob_size(digest).await?.is_none()
        {
            tracing::warn!(layer = %key, engine = stored.engine, "the layer is gone; using its inventory by an older engine");
            return Ok(Some(stored));
        }
        Ok(None)
    }

    /// Keeps a layer's inventory by its digest.
    async fn keep_layer(&self, key: &str, inventory: &LayerInventory) -> Result<(), ServiceError> {
        let json = serde_json::to_string(inventory)
            .map_err(|e| ServiceError::Corrupt(format!("layer {key}: {e}")))?;
        self.metadata
            .put_layer_inventory(key, &json, now_millis())
            .await?;
        Ok(())
    }

    /// Stores a CycloneDX 1.6 and an SPDX 2.3 SBOM of the scanned artifact and attaches each,
    /// as an OCI 1.1 referrer (an artifact manifest whose `subject` is the artifact), in
    /// every repository holding it, so `GET /v2/<name>/referrers/<digest>` lists them. The
    /// documents are made from the stored inventory alone, with times and serial numbers
    /// derived from the artifact and its content: the same inventory gives the same bytes,
    /// so a rescan that finds the same adds nothing.
    ///
    /// When the inventory is `changed`, every repository gets the new documents; otherwise
    /// only a repository that has none of them yet (the artifact was pushed there since).
    async fn attach_sboms(
        &self,
        digest: &Digest,
        changed: bool,
        sboms: &[(bulwark_oci::RepositoryName, Vec<ManifestSummary>)],
    ) -> Result<(), ServiceError> {
        let key = digest.to_string();
        let repositories: Vec<&bulwark_oci::RepositoryName> = sboms
            .iter()
            .filter(|(_, referrers)| changed || !has_generated_sboms(referrers))
            .map(|(name, _)| name)
            .collect();
        if repositories.is_empty() {
            return Ok(());
        }
        let Some(record) = self.metadata.manifest_anywhere(&key).await? else {
            return Ok(());
        };
        let scan = self.metadata.scan(&key).await?;
        let os = scan.as_ref().and_then(|s| s.os.clone());
        let created = scan.and_then(|s| s.first_done_at).unwrap_or(0);
        let context = bulwark_oci::RequestContext {
            actor: "bulwark-scanner".into(),
            token_id: None,
            client_address: "-".into(),
            request_id: format!("scan-{key}"),
            at_millis: now_millis(),
        };
        for name in repositories {
            // The inventory alone, as this repository sees it (what SBOMs attached in
            // another repository claim is not this one's): findings change with the
            // advisory data, an SBOM does not.
            let components: Vec<ComponentReport> = self
                .metadata
                .artifact_components(&key, Some(name.as_str()))
                .await?
                .iter()
                .map(component_report)
                .collect();
            let subject = SbomSubjectFacts {
                key: &key,
                os: os.as_deref(),
                created,
                media_type: &record.media_type,
                size: record.content.len(),
            };
            for (bytes, manifest) in generated_sboms(&subject, &components) {
                let manifest_digest = Digest::sha256_of(&manifest);
                // The same inventory gives the same bytes: attached already, nothing to do.
                if self
                    .metadata
                    .manifest(name, &manifest_digest)
                    .await?
                    .is_some()
                {
                    continue;
                }
                self.put_bytes(name, &Digest::sha256_of(EMPTY_CONFIG), EMPTY_CONFIG)
                    .await?;
                self.put_bytes(name, &Digest::sha256_of(&bytes), &bytes)
                    .await?;
                self.registry
                    .put_manifest(
                        &context,
                        name,
                        &bulwark_oci::Reference::Digest(manifest_digest),
                        &[],
                        Some("application/vnd.oci.image.manifest.v1+json"),
                        manifest.into(),
                    )
                    .await
                    .map_err(|e| ServiceError::Task(format!("attaching an SBOM: {e}")))?;
            }
        }
        Ok(())
    }

    /// Adds to `scanned` the packages that SBOMs attached to `digest` by someone else list and
    /// its files do not hold: each marked as found in `sbom:<the SBOM's digest>` and as the
    /// claim of the repository the SBOM is attached in, which is the only one that sees it
    /// (whoever may push to one project must not add findings to another's report). An SBOM
    /// that cannot be read is a warning, not a failure.
    async fn add_attached_sboms(
        &self,
        sboms: &[(bulwark_oci::RepositoryName, Vec<ManifestSummary>)],
        scanned: &mut Scanned,
    ) -> Result<(), ServiceError> {
        let mut documents: BTreeSet<(&bulwark_oci::RepositoryName, &Digest)> = BTreeSet::new();
        for (name, referrers) in sboms {
            for referrer in referrers.iter().filter(|r| !is_generated(r)) {
                documents.insert((name, &referrer.digest));
            }
        }
        if documents.is_empty() {
            return Ok(());
        }
        // What the files hold, by package URL without qualifiers (an SBOM's tool writes
        // other ones than the extractors) and by the package advisories name.
        let held_packages: BTreeSet<PackageVersion> = scanned
            .components
            .iter()
            .filter_map(|c| c.package.clone())
            .collect();
        let held_purls: BTreeSet<String> = scanned
            .components
            .iter()
            .filter_map(|c| c.purl.as_deref())
            .filter_map(|p| bulwark_package::Purl::parse(p).ok())
            .map(|p| unqualified(&p))
            .collect();
        let mut added = Vec::new();
        for &(repository, sbom) in documents.iter().take(MAX_ATTACHED_SBOMS as usize) {
            let listed = match self.attached_sbom(repository, sbom).await? {
                Ok(listed) => listed,
                Err(reason) => {
                    scanned.warnings.push(format!("sbom:{sbom}: {reason}"));
                    continue;
                }
            };
            for package in listed {
                let purl = package.purl.to_string();
                let advisory_name = sbom_package(&package);
                let already = held_purls.contains(&unqualified(&package.purl))
                    || advisory_name
                        .as_ref()
                        .is_some_and(|p| held_packages.contains(p));
                if already {
                    continue;
                }
                added.push(ArtifactComponent {
                    kind: package.purl.ty().to_owned(),
                    name: package.name,
                    version: package.version,
                    purl: Some(purl),
                    path: format!("sbom:{sbom}"),
                    layer_digest: None,
                    platform: None,
                    repository: Some(repository.to_string()),
                    package: advisory_name,
                });
            }
        }
        // Two SBOMs in one repository may list the same package.
        added.sort_by(|a, b| {
            (&a.repository, &a.purl, &a.path).cmp(&(&b.repository, &b.purl, &b.path))
        });
        added.dedup_by(|a, b| a.repository == b.repository && a.purl == b.purl);
        scanned.components.extend(added);
        Ok(())
    }

    /// The packages the SBOM referrer `sbom` in `repository` lists, or why it cannot be read.
    async fn attached_sbom(
        &self,
        repository: &bulwark_oci::RepositoryName,
        sbom: &Digest,
    ) -> Result<Result<Vec<bulwark_inventory::sbom::ListedPackage>, String>, ServiceError> {
        let Some(record) = self.metadata.manifest(repository, sbom).await? else {
            return Ok(Err("not stored".into()));
        };
        let manifest = match ParsedManifest::parse(Some(&record.media_type), &record.content) {
            Ok(manifest) => manifest,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let Some(layer) = manifest.layers.first() else {
            return Ok(Err("the SBOM artifact has no layer".into()));
        };
        let max = bulwark_inventory::sbom::MAX_DOCUMENT_BYTES;
        match self.blobs.blob_size(&layer.digest).await? {
            None => return Ok(Err(format!("its document {} is not stored", layer.digest))),
            Some(size) if size > max as u64 => {
                return Ok(Err(format!(
                    "its document is {size} bytes, more than {max}"
                )));
            }
            Some(_) => {}
        }
        let Some(mut stream) = self.blobs.read(&layer.digest, None).await? else {
            return Ok(Err(format!("its document {} is not stored", layer.digest)));
        };
        let mut bytes = Vec::new();
        while let Some(piece) = stream.try_next().await? {
            bytes.extend_from_slice(&piece);
        }
        let listed =
            tokio::task::spawn_blocking(move || bulwark_inventory::sbom::listed_packages(&bytes))
                .await
                .map_err(|e| ServiceError::Task(e.to_string()))?;
        Ok(listed.map_err(|e| e.to_string()))
    }

    /// The SBOM referrers (CycloneDX and SPDX) of `digest` in each repository holding it: one
    /// query per repository, shared by reading users' SBOMs and attaching this service's.
    async fn sbom_referrers(
        &self,
        digest: &Digest,
    ) -> Result<Vec<(bulwark_oci::RepositoryName, Vec<ManifestSummary>)>, ServiceError> {
        let mut found = Vec::new();
        for repository in self
            .metadata
            .repositories_with_manifest(&digest.to_string())
            .await?
        {
            let Ok(name) = repository.parse::<bulwark_oci::RepositoryName>() else {
                continue;
            };
            let referrers = self
                .metadata
                .referrers(&name, digest, None, None, MAX_REFERRERS_READ)
                .await?
                .into_iter()
                .filter(|r| {
                    r.artifact_type.as_deref().is_some_and(|t| {
                        t == crate::sbom::CYCLONEDX_MEDIA_TYPE || t == crate::sbom::SPDX_MEDIA_TYPE
                    })
                })
                .collect();
            found.push((name, referrers));
        }
        Ok(found)
    }

    /// Stores `bytes` as blob `digest` in `repository` (linking it, if already stored).
    async fn put_bytes(
        &self,
        repository: &bulwark_oci::RepositoryName,
        digest: &Digest,
        bytes: &[u8],
    ) -> Result<(), ServiceError> {
        let body = futures::stream::once({
            let bytes = bytes::Bytes::copy_from_slice(bytes);
            async move { Ok::<_, std::io::Error>(bytes) }
        });
        self.registry
            .put_blob(repository, digest, Some(bytes.len() as u64), body)
            .await
            .map(|_| ())
            .map_err(|e| ServiceError::Task(format!("storing an SBOM: {e}")))
    }

    /// Matches the package versions among `components` that were never matched.
    async fn match_new(&self, components: &[ArtifactComponent]) -> Result<(), ServiceError> {
        let candidates: Vec<PackageVersion> = components
            .iter()
            .filter_map(|c| c.package.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let matched = self.metadata.matched_among(&candidates).await?;
        let mut by_name: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for package in candidates.into_iter().filter(|c| !matched.contains(c)) {
            by_name
                .entry((package.ecosystem, package.package))
                .or_default()
                .push(package.version);
        }
        self.match_packages(by_name).await?;
        Ok(())
    }

    /// Matches the given versions of each package against the advisories as they are now
    /// and stores the result, [`MATCH_BATCH`] packages per read of the advisories and per
    /// transaction.
    async fn match_packages(
        &self,
        packages: BTreeMap<(String, String), Vec<String>>,
    ) -> Result<Rematch, ServiceError> {
        let packages: Vec<PackageVersions> = packages
            .into_iter()
            .map(|((ecosystem, name), versions)| PackageVersions {
                ecosystem,
                name,
                versions,
            })
            .collect();
        let mut total = Rematch::default();
        for chunk in packages.chunks(MATCH_BATCH) {
            let reports = self.vulndb.query_packages(chunk).await?;
            // Reports come in the order asked: each package's versions in turn.
            let asked = chunk.iter().flat_map(|package| {
                package.versions.iter().map(move |version| PackageVersion {
                    ecosystem: package.ecosystem.clone(),
                    package: package.name.clone(),
                    version: version.clone(),
                })
            });
            let matched: Vec<(PackageVersion, Vec<PackageFinding>)> = asked
                .zip(&reports)
                .map(|(package, report)| {
                    let findings = report
                        .vulnerabilities
                        .iter()
                        .map(|v| PackageFinding {
                            vulnerability: v.id.clone(),
                            severity_rank: i64::from(severity_rank(v.severity.rating.as_deref())),
                            malicious: is_malicious(v),
                            ids: v.records.iter().chain(&v.aliases).cloned().collect(),
                            detail: serde_json::to_string(v).unwrap_or_default(),
                        })
                        .collect();
                    (package, findings)
                })
                .collect();
            let changes = self
                .metadata
                .record_package_findings(&matched, now_millis())
                .await?;
            total.packages += matched.len() as u64;
            total.added += changes.added;
            total.resolved += changes.resolved;
        }
        Ok(total)
    }

    /// Re-matches the stored package versions the advisory imports since the last re-match
    /// touched, reading no blob. Runs on one node at a time; safe to repeat.
    pub async fn rematch(&self) -> Result<Rematch, ServiceError> {
        let from = self.metadata.scan_state(REMATCHED_IMPORT).await?;
        let (names, to) = self.metadata.advisory_changes_after(from).await?;
        let versions = self.metadata.matched_versions_of(&names).await?;
        let total = self.match_packages(versions).await?;
        if to != from {
            self.metadata
                .advance_scan_state(REMATCHED_IMPORT, from, to)
                .await?;
        }
        if total.added + total.resolved > 0 {
            tracing::info!(
                packages = total.packages,
                added = total.added,
                resolved = total.resolved,
                "advisory data changed: stored inventories re-matched"
            );
        }
        Ok(total)
    }

    /// Re-matches every stored package version (after an engine change, say).
    pub async fn rematch_all(&self) -> Result<Rematch, ServiceError> {
        let names = self.metadata.matched_package_names().await?;
        let versions = self.metadata.matched_versions_of(&names).await?;
        self.match_packages(versions).await
    }

    /// The installation's key for secrets' fingerprints (the same on every node).
    async fn fingerprint_key(&self) -> Result<[u8; 32], ServiceError> {
        if let Some(key) = self.fingerprint_key.get() {
            return Ok(*key);
        }
        let key = self
            .metadata
            .installation_key(crate::FINGERPRINT_KEY)
            .await?;
        Ok(*self.fingerprint_key.get_or_init(|| key))
    }

    /// The advisory data's state: records per ecosystem and the age of the last import.
    pub async fn advisory_status(&self) -> Result<bulwark_vulndb::Status, ServiceError> {
        Ok(self.vulndb.status().await?)
    }

    /// Imports advisory files (a zip, JSON lines, one record) into the store; the
    /// `advisory-rematch` job applies them to the stored inventories within its interval.
    pub async fn import_advisories(&self, paths: &[std::path::PathBuf]) -> Vec<ImportReport> {
        self.vulndb.import(paths, &mut |_| {}).await
    }

    pub fn settings(&self) -> &ScanSettings {
        &self.settings
    }

    /// Starts downloading and importing the configured ecosystems' archives (as `bulwark db
    /// update`) in the background, unless this node is doing so already; true when it
    /// started. Each ecosystem's outcome is logged and shows in [`Scanner::advisory_status`].
    pub fn start_advisory_update(&self) -> bool {
        use std::sync::atomic::Ordering;
        if self.updating.swap(true, Ordering::AcqRel) {
            return false;
        }
        let scanner = self.clone();
        tokio::spawn(async move {
            let reports = scanner
                .vulndb
                .update(
                    &scanner.settings.advisory_base_url,
                    &scanner.settings.advisory_ecosystems,
                    &mut |_| {},
                )
                .await;
            for report in reports {
                match &report.failure {
                    Some(failure) => {
                        tracing::warn!(source = %report.source, %failure, "advisory update failed")
                    }
                    None => tracing::info!(
                        source = %report.source,
                        added = report.added,
                        replaced = report.replaced,
                        not_modified = report.not_modified,
                        "advisory update imported"
                    ),
                }
            }
            scanner.updating.store(false, Ordering::Release);
        });
        true
    }

    /// The scan status, components and findings of the artifact `digest` as `repository`
    /// sees it: its own content and what SBOMs attached there list (`None`: its own content
    /// only).
    pub async fn report(
        &self,
        digest: &Digest,
        repository: Option<&bulwark_oci::RepositoryName>,
    ) -> Result<ScanReport, ServiceError> {
        let key = digest.to_string();
        let seen_from = repository.map(|r| r.as_str());
        let scan = self.metadata.scan(&key).await?;
        let status = self.vulndb.status().await?;
        let components = self.metadata.artifact_components(&key, seen_from).await?;
        let mut findings = Vec::new();
        for finding in self.metadata.artifact_findings(&key, seen_from).await? {
            let detail: VulnerabilityMatch =
                serde_json::from_str(&finding.detail).map_err(|e| {
                    ServiceError::Corrupt(format!("finding {}: {e}", finding.vulnerability))
                })?;
            let package = finding.component.package.clone().unwrap_or(PackageVersion {
                ecosystem: String::new(),
                package: String::new(),
                version: String::new(),
            });
            findings.push(FindingReport {
                kind: if finding.malicious {
                    "malicious".into()
                } else {
                    "vulnerability".into()
                },
                id: finding.vulnerability.clone(),
                // The records that matched are names of it too (PYSEC-…, GHSA-…).
                aliases: {
                    let mut names: Vec<String> = detail
                        .records
                        .iter()
                        .chain(&detail.aliases)
                        .filter(|name| **name != finding.vulnerability)
                        .cloned()
                        .collect();
                    names.sort();
                    names.dedup();
                    names
                },
                severity: detail.severity.rating.clone(),
                score: detail.severity.score,
                severity_source: severity_source(&detail.severity),
                summary: detail.summary.clone(),
                ecosystem: package.ecosystem,
                package: package.package,
                installed: package.version,
                fixed: detail.fixed.clone(),
                fix_published: detail.fix_published.clone(),
                component: component_report(&finding.component),
                first_seen: rfc3339(finding.first_seen),
            });
        }
        let resolved = self
            .metadata
            .resolved_findings(&key, seen_from, 100)
            .await?
            .into_iter()
            .map(|(package, id, at)| ResolvedReport {
                id,
                ecosystem: package.ecosystem,
                package: package.package,
                installed: package.version,
                resolved_at: rfc3339(at),
            })
            .collect();
        Ok(ScanReport {
            digest: key.clone(),
            status: scan
                .as_ref()
                .map_or("not_scanned", |s| s.status.as_str())
                .to_owned(),
            reason: scan.as_ref().and_then(|s| s.reason.clone()),
            attempts: scan.as_ref().map_or(0, |s| s.attempts),
            queued_at: scan.as_ref().map(|s| rfc3339(s.queued_at)),
            finished_at: scan
                .as_ref()
                .filter(|s| matches!(s.status, ScanStatus::Done | ScanStatus::Failed))
                .and_then(|s| s.finished_at)
                .map(rfc3339),
            os: scan.as_ref().and_then(|s| s.os.clone()),
            advisories_age_seconds: status.last_import.map(|i| i.age_seconds),
            components: components.iter().map(component_report).collect(),
            findings,
            resolved,
            secrets: self
                .metadata
                .artifact_secrets(&key)
                .await?
                .into_iter()
                .map(|s| SecretReport {
                    rule: s.rule,
                    title: s.title,
                    severity: s.severity,
                    path: s.path,
                    line: s.line,
                    redacted: s.redacted,
                    fingerprint: s.fingerprint,
                    layer: s.layer_digest,
                    platform: s.platform,
                })
                .collect(),
            warnings: scan
                .and_then(|s| s.warnings)
                .and_then(|w| serde_json::from_str(&w).ok())
                .unwrap_or_default(),
        })
    }

    /// Which stored artifacts hold what `query` names, in repositories of `projects` (`None`:
    /// every one), at most `limit`: answered from the stored inventories, not by scanning.
    pub async fn impact(
        &self,
        query: &ImpactQuery,
        projects: Option<&[String]>,
        limit: u32,
    ) -> Result<Vec<ImpactReport>, ServiceError> {
        let found = match query {
            ImpactQuery::Vulnerability(id) => {
                self.metadata
                    .impact_of_vulnerability(id, projects, limit)
                    .await?
            }
            ImpactQuery::Purl(purl) => {
                let parsed = bulwark_package::Purl::parse(purl)
                    .map_err(|e| ServiceError::Invalid(format!("package URL {purl:?}: {e}")))?;
                let (ecosystem, name) = parsed.to_osv().ok_or_else(|| {
                    ServiceError::Invalid(format!(
                        "purl type {:?} names no advisory ecosystem",
                        parsed.ty()
                    ))
                })?;
                let key = PackageKey::new(&ecosystem, &name);
                self.metadata
                    .impact_of_package(
                        &key.ecosystem.to_string(),
                        &key.name,
                        parsed.version(),
                        projects,
                        limit,
                    )
                    .await?
            }
        };
        Ok(found
            .into_iter()
            .map(|a| ImpactReport {
                repository: a.repository,
                digest: a.digest,
                tags: a.tags,
                ecosystem: a.package.ecosystem,
                package: a.package.package,
                version: a.package.version,
                vulnerability: a.vulnerability,
            })
            .collect())
    }
}

fn os_name(os: &bulwark_inventory::OsRelease) -> String {
    match &os.version_id {
        Some(version) => format!("{} {version}", os.id),
        None => os.id.clone(),
    }
}

/// The config of an SBOM artifact: OCI's empty descriptor content.
const EMPTY_CONFIG: &[u8] = b"{}";

/// What a generated SBOM says of the artifact it describes.
struct SbomSubjectFacts<'a> {
    key: &'a str,
    os: Option<&'a str>,
    created: i64,
    media_type: &'a str,
    size: usize,
}

/// A CycloneDX 1.6 and an SPDX 2.3 document of `components`, each as (document bytes,
/// artifact manifest bytes whose `subject` is the artifact). Times and serial numbers derive
/// from the artifact and its components, so the same inventory gives the same bytes.
fn generated_sboms(
    subject: &SbomSubjectFacts<'_>,
    components: &[ComponentReport],
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let fingerprint = {
        use sha2::Digest as _;
        let mut hash = sha2::Sha256::new();
        hash.update(subject.key.as_bytes());
        hash.update(serde_json::to_vec(components).unwrap_or_default());
        hash.finalize()
    };
    let mut seed = [0u8; 16];
    seed.copy_from_slice(&fingerprint[..16]);
    let described = crate::sbom::SbomSubject {
        name: subject.key,
        digest: Some(subject.key),
        os: subject.os,
        created_millis: subject.created,
        serial: uuid::Builder::from_random_bytes(seed).into_uuid(),
    };
    let documents = [
        (
            crate::sbom::CYCLONEDX_MEDIA_TYPE,
            "sbom.cdx.json",
            crate::sbom::cyclonedx(&described, components, &[]),
        ),
        (
            crate::sbom::SPDX_MEDIA_TYPE,
            "sbom.spdx.json",
            crate::sbom::spdx(&described, components),
        ),
    ];
    let empty = Digest::sha256_of(EMPTY_CONFIG);
    documents
        .iter()
        .map(|(media_type, title, document)| {
            let bytes = serde_json::to_vec(document).unwrap_or_default();
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": media_type,
                "config": {
                    "mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": empty.to_string(),
                    "size": EMPTY_CONFIG.len(),
                },
                "layers": [{
                    "mediaType": media_type,
                    "digest": Digest::sha256_of(&bytes).to_string(),
                    "size": bytes.len(),
                    "annotations": { "org.opencontainers.image.title": title },
                }],
                "subject": {
                    "mediaType": subject.media_type,
                    "digest": subject.key,
                    "size": subject.size,
                },
                "annotations": {
                    "org.opencontainers.image.created": rfc3339(subject.created),
                    // GENERATED_SBOM
                    "dev.bulwark.sbom": "generated from the stored inventory",
                },
            });
            (bytes, serde_json::to_vec(&manifest).unwrap_or_default())
        })
        .collect()
}
