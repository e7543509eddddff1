//! Policy governance as a service: what `bulwark-policy` decides on, kept and gathered.
//!
//! - **Records** (in `bulwark-metadata`): each project's policy document with its history
//!   and the system-wide one, the keys a project trusts, exceptions, uploaded VEX documents.
//! - **Facts** ([`facts`]): an artifact's scan report as its repository sees it, its cosign
//!   signatures verified against the project's keys (`bulwark-signature`; a signed index
//!   covers its platforms), the VEX statements that may apply (uploaded, or attached as
//!   referrers).
//! - **Decisions**: [`Governance::evaluate`] hands them to [`bulwark_policy::decide`], the
//!   one policy decision point; [`Governance::check_pull`] is what the registry's manifest
//!   `GET`/`HEAD` asks, answered from a per-node cache keyed by the artifact, the policy's
//!   canonical form and a snapshot of everything else a decision depends on (refreshed at
//!   most every [`GovernanceSettings::snapshot_ttl`], at once after a change made through
//!   this node), so enforcement costs a map lookup on the pull path.
//! - **Tags** ([`Governance::tag_change`]): immutable tag patterns, with the system
//!   administrator's explicit override.
//! - **Promotion** ([`promote`]): an artifact linked into another project by reference, its
//!   referrers with it, only when the destination's policy passes.
//!
//! Time comes from a [`Clock`] so tests can move it (exception expiry) without sleeping.

pub mod facts;
pub mod metrics;
pub mod promote;
mod views;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bulwark_metadata::{ExceptionRecord, MetadataStore, TrustedKeyRecord, VexRecord};
use bulwark_oci::{Digest, ParsedManifest, RepositoryName};
use bulwark_policy::{Exception, Policy, Scope, VexStatement};
use bulwark_registry::Registry;
use bulwark_scan::service::Scanner;
use bulwark_signature::TrustedKey;

pub use bulwark_policy::{Decision, MAX_VEX_BYTES, TagChange};
pub use views::{
    Evaluation, ExceptionView, KeyView, NewException, PolicyView, RuleOutcome, SignatureView,
    VexView,
};

/// Why a governance operation failed. Mapped to the wire in the server's one place.
#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    /// The request is malformed (a policy that does not parse, a key that is not a key).
    #[error("{0}")]
    Invalid(String),
    /// What the request names does not exist (or the caller may not know it does).
    #[error("not found")]
    NotFound,
    /// The policy refuses (promotion): the decision says why.
    #[error("{message}")]
    Refused {
        message: String,
        decision: Box<Decision>,
    },
    /// An immutable tag would move or go.
    #[error("tag {tag} is immutable (policy pattern {pattern:?}): push a new tag instead")]
    Immutable { tag: String, pattern: String },
    #[error(transparent)]
    Metadata(#[from] bulwark_metadata::MetadataError),
    #[error(transparent)]
    Registry(#[from] bulwark_registry::RegistryError),
    #[error(transparent)]
    Scan(#[from] bulwark_scan::service::ServiceError),
}

pub type Result<T, E = GovernanceError> = std::result::Result<T, E>;

/// Unix milliseconds, from the system clock or one a test sets.
#[derive(Clone)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that reads `at` until told otherwise ([`Clock::set`]).
    pub fn manual(at: i64) -> Clock {
        Clock(Some(Arc::new(AtomicI64::new(at))))
    }

    pub fn set(&self, at: i64) {
        if let Some(now) = &self.0 {
            now.store(at, Ordering::SeqCst);
        }
    }

    pub fn now(&self) -> i64 {
        match &self.0 {
            Some(now) => now.load(Ordering::SeqCst),
            None => bulwark_metadata::now_millis(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GovernanceSettings {
    /// How long a node trusts its snapshot of what decisions depend on before reading it
    /// again: how late another node's change (a scan finished, a signature pushed, an
    /// exception added elsewhere) may reach this node's pulls.
    pub snapshot_ttl: Duration,
    /// Decisions a node keeps at most (it forgets them all when full).
    pub cache_entries: usize,
    /// How often a pull waiting for a pending scan looks again.
    pub scan_poll: Duration,
    /// The longest a node serves a cached decision, whatever the snapshot says: bounds
    /// what a change the snapshot cannot see (a scan finished on a node whose clock is
    /// behind, advisory data aging past `max_match_age_hours`) takes to count.
    pub max_decision_age: Duration,
    /// Whether pulls are judged. Only the benchmark's baseline turns it off, to measure
    /// what judging costs; no configuration reaches it.
    pub enforce_pulls: bool,
}

impl Default for GovernanceSettings {
    fn default() -> Self {
        GovernanceSettings {
            snapshot_ttl: Duration::from_secs(1),
            cache_entries: 50_000,
            scan_poll: Duration::from_millis(100),
            max_decision_age: Duration::from_secs(30),
            enforce_pulls: true,
        }
    }
}

/// What a pull is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullVerdict {
    Allowed,
    /// Refused, with the one-line message the client shows.
    Denied(String),
}

struct Cached {
    snapshot: Arc<str>,
    decision: Arc<Decision>,
    /// Until when it may be served (Unix ms): the decision's own horizon (an exception's
    /// expiry), or for an incomplete scan one snapshot lifetime.
    until: i64,
    not_scanned: bool,
}

struct Inner {
    metadata: MetadataStore,
    registry: Registry,
    scanner: Scanner,
    settings: GovernanceSettings,
    clock: Clock,
    snapshot: Mutex<Option<(Instant, Arc<str>)>>,
    /// Moved by [`Governance::changed`]: a snapshot read that began before a change is not
    /// kept.
    changes: std::sync::atomic::AtomicU64,
    decisions: Mutex<HashMap<String, Cached>>,
    metrics: metrics::PolicyMetrics,
    /// When each artifact's last refused pull went to the outbox.
    denial_notices: Mutex<HashMap<String, Instant>>,
}

/// A refused pull of the same artifact is told to webhooks at most this often per node.
const DENIAL_NOTICE_INTERVAL: Duration = Duration::from_secs(60);
/// Artifacts whose last refusal is remembered before old entries are dropped.
const DENIAL_NOTICES_KEPT: usize = 10_000;

/// The governance service; cheap to clone.
#[derive(Clone)]
pub struct Governance {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Governance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governance")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// The scope name of the system-wide policy in `policy_versions`.
const SYSTEM_SCOPE: &str = "";

/// At most this many VEX documents are kept per project (each is read by every decision).
pub const MAX_VEX_DOCUMENTS: usize = 100;

/// At most this many exceptions are considered for one decision (and listed at once).
pub const MAX_EXCEPTIONS: u32 = 10_000;

impl Governance {
    pub fn new(
        metadata: MetadataStore,
        registry: Registry,
        scanner: Scanner,
        settings: GovernanceSettings,
        clock: Clock,
    ) -> Governance {
        Governance {
            inner: Arc::new(Inner {
                metadata,
                registry,
                scanner,
                settings,
                clock,
                snapshot: Mutex::new(None),
                changes: std::sync::atomic::AtomicU64::new(0),
                decisions: Mutex::new(HashMap::new()),
                metrics: metrics::PolicyMetrics::default(),
                denial_notices: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Refusals by rule, for `/metrics`.
    pub fn metrics(&self) -> &metrics::PolicyMetrics {
        &self.inner.metrics
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub(crate) fn metadata(&self) -> &MetadataStore {
        &self.inner.metadata
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The manifest `reference` names in `repository`, or `None` when there is none.
    pub(crate) async fn stored_manifest(
        &self,
        repository: &RepositoryName,
        reference: &bulwark_oci::Reference,
    ) -> Result<Option<bulwark_registry::Manifest>> {
        match self.inner.registry.manifest(repository, reference).await {
            Ok(manifest) => Ok(Some(manifest)),
            Err(bulwark_registry::RegistryError::ManifestUnknown) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// Forgets this node's snapshot: the next decision reads it again. Called after a
    /// change made through this node (a push, a policy set), so its own caller sees it.
    pub fn changed(&self) {
        self.inner.changes.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut snapshot) = self.inner.snapshot.lock() {
            *snapshot = None;
        }
    }

    async fn snapshot(&self) -> Result<Arc<str>> {
        let ttl = self.inner.settings.snapshot_ttl;
        if let Ok(held) = self.inner.snapshot.lock()
            && let Some((read_at, snapshot)) = held.as_ref()
            && read_at.elapsed() < ttl
        {
            return Ok(snapshot.clone());
        }
        let changes = self.inner.changes.load(Ordering::SeqCst);
        let fresh: Arc<str> = self.inner.metadata.decision_snapshot().await?.into();
        if let Ok(mut held) = self.inner.snapshot.lock()
            && self.inner.changes.load(Ordering::SeqCst) == changes
        {
            *held = Some((Instant::now(), fresh.clone()));
        }
        Ok(fresh)
    }

    // ---- policies ----

    /// The policy document of `project` (`None`: the system's) and what is in force.
    pub async fn policy(&self, project: Option<&str>) -> Result<PolicyView> {
        let scope = project.unwrap_or(SYSTEM_SCOPE);
        let record = self.inner.metadata.policy(scope).await?;
        let effective = match project {
            Some(project) => self.effective_policy(project).await?,
            None => self.system_policy().await?,
        };
        Ok(PolicyView::new(scope, record.as_ref(), &effective))
    }

    pub async fn policy_history(&self, project: Option<&str>) -> Result<Vec<PolicyView>> {
        let scope = project.unwrap_or(SYSTEM_SCOPE);
        let history = self.inner.metadata.policy_history(scope, 100).await?;
        let effective = match project {
            Some(project) => self.effective_policy(project).await?,
            None => self.system_policy().await?,
        };
        Ok(history
            .iter()
            .map(|record| PolicyView::new(scope, Some(record), &effective))
            .collect())
    }

    /// Reads, validates and stores a new version of a policy document (TOML or YAML).
    pub async fn set_policy(
        &self,
        project: Option<&str>,
        document: &str,
        yaml: bool,
        author: &str,
    ) -> Result<PolicyView> {
        let parsed = if yaml {
            Policy::parse_yaml(document)
        } else {
            Policy::parse_toml(document)
        }
        .map_err(|e| GovernanceError::Invalid(e.to_string()))?;
        let canonical = parsed
            .to_toml()
            .map_err(|e| GovernanceError::Invalid(e.to_string()))?;
        let scope = project.unwrap_or(SYSTEM_SCOPE);
        self.inner
            .metadata
            .put_policy(scope, document, &canonical, author, self.inner.clock.now())
            .await?;
        self.changed();
        tracing::info!(target: "audit", scope, author, "policy changed");
        self.policy(project).await
    }

    async fn stored_policy(&self, scope: &str) -> Result<Policy> {
        match self.inner.metadata.policy(scope).await? {
            // What was stored was validated; a canonical form that no longer reads (a
            // schema change) fails closed rather than silently enforcing nothing.
            Some(record) => Policy::parse_toml(&record.canonical).map_err(|e| {
                GovernanceError::Invalid(format!(
                    "the stored policy of {:?} no longer reads: {e}",
                    record.scope
                ))
            }),
            None => Ok(Policy::default()),
        }
    }

    async fn system_policy(&self) -> Result<Policy> {
        self.stored_policy(SYSTEM_SCOPE).await
    }

    /// What is enforced in `project`: the system's policy tightened by the project's.
    pub async fn effective_policy(&self, project: &str) -> Result<Policy> {
        let system = self.system_policy().await?;
        let own = self.stored_policy(project).await?;
        Ok(Policy::effective(&system, &own))
    }

    // ---- trusted keys ----

    pub async fn add_key(
        &self,
        project: &str,
        pem: &str,
        name: Option<&str>,
        author: &str,
    ) -> Result<KeyView> {
        let key = TrustedKey::from_pem(pem).map_err(|e| GovernanceError::Invalid(e.to_string()))?;
        if let Some(name) = name
            && (name.len() > 200 || name.chars().any(char::is_control))
        {
            return Err(GovernanceError::Invalid(
                "a key's name is at most 200 characters, none of them control characters".into(),
            ));
        }
        let record = TrustedKeyRecord {
            project: project.to_owned(),
            fingerprint: key.fingerprint().to_owned(),
            algorithm: key.algorithm().as_str().to_owned(),
            pem: key.to_pem(),
            name: name.map(str::to_owned),
            added_by: author.to_owned(),
            added_at: self.inner.clock.now(),
        };
        if self.inner.metadata.trusted_keys(project).await?.len()
            >= bulwark_policy::MAX_TRUSTED_KEYS
        {
            return Err(GovernanceError::Invalid(format!(
                "a project trusts at most {} keys",
                bulwark_policy::MAX_TRUSTED_KEYS
            )));
        }
        self.inner.metadata.add_trusted_key(&record).await?;
        self.changed();
        tracing::info!(target: "audit", project, author, fingerprint = %record.fingerprint, "key trusted");
        Ok(KeyView::from(&record))
    }

    pub async fn keys(&self, project: &str) -> Result<Vec<KeyView>> {
        Ok(self
            .inner
            .metadata
            .trusted_keys(project)
            .await?
            .iter()
            .map(KeyView::from)
            .collect())
    }

    pub async fn remove_key(&self, project: &str, fingerprint: &str, author: &str) -> Result<()> {
        if !self
            .inner
            .metadata
            .remove_trusted_key(project, fingerprint)
            .await?
        {
            return Err(GovernanceError::NotFound);
        }
        self.changed();
        tracing::info!(target: "audit", project, author, fingerprint, "key no longer trusted");
        Ok(())
    }

    /// The keys `project` trusts, parsed (a stored key that no longer parses is skipped
    /// with a warning: it cannot verify anything).
    pub(crate) async fn trusted(&self, project: &str) -> Result<Vec<TrustedKey>> {
        let mut keys = Vec::new();
        for record in self.inner.metadata.trusted_keys(project).await? {
            match TrustedKey::from_pem(&record.pem) {
                Ok(key) => keys.push(key),
                Err(error) => {
                    tracing::warn!(project, fingerprint = %record.fingerprint, %error, "a stored key does not parse")
                }
            }
        }
        Ok(keys)
    }

    // ---- exceptions ----

    pub async fn add_exception(&self, new: &NewException, author: &str) -> Result<ExceptionView> {
        let now = self.inner.clock.now();
        let expires_at = views::parse_expiry(&new.expires_at)?;
        if expires_at <= now {
            return Err(GovernanceError::Invalid(format!(
                "the expiry {} is not in the future",
                new.expires_at
            )));
        }
        if let Some(repository) = &new.repository {
            let name: RepositoryName = repository
                .parse()
                .map_err(|e| GovernanceError::Invalid(format!("repository {repository:?}: {e}")))?;
            if new.project.as_deref().is_some_and(|p| p != name.project()) {
                return Err(GovernanceError::Invalid(format!(
                    "repository {repository} is not in project {}",
                    new.project.as_deref().unwrap_or_default()
                )));
            }
        }
        let record = ExceptionRecord {
            id: format!("exc-{}", uuid::Uuid::new_v4().simple()),
            project: new.project.clone(),
            vulnerability: new.vulnerability.trim().to_owned(),
            package: new.package.clone(),
            repository: new.repository.clone(),
            digest: new.digest.clone(),
            reason: new.reason.trim().to_owned(),
            author: author.to_owned(),
            created_at: now,
            expires_at,
        };
        let exception = views::exception_of(&record);
        exception
            .validate()
            .map_err(|e| GovernanceError::Invalid(e.to_string()))?;
        let long = |field: &Option<String>| field.as_ref().is_some_and(|f| f.len() > 512);
        if new.reason.len() > 2_000
            || new.vulnerability.len() > 200
            || long(&new.package)
            || long(&new.repository)
            || long(&new.digest)
        {
            return Err(GovernanceError::Invalid(
                "a reason is at most 2,000 bytes, a vulnerability id 200, a package, repository or digest 512".into(),
            ));
        }
        self.inner.metadata.add_exception(&record).await?;
        self.changed();
        tracing::info!(target: "audit", id = %record.id, author, vulnerability = %record.vulnerability, "exception added");
        Ok(ExceptionView::new(&record, now, None))
    }

    /// Exceptions of `projects` (`None`: all) and, with `system`, the system's; each with
    /// whether it expired and, with `staleness`, how many current findings it matches.
    pub async fn exceptions(
        &self,
        projects: Option<&[String]>,
        system: bool,
        staleness: bool,
    ) -> Result<Vec<ExceptionView>> {
        let now = self.inner.clock.now();
        let records = self
            .inner
            .metadata
            .exceptions(projects, system, MAX_EXCEPTIONS)
            .await?;
        let mut views = Vec::with_capacity(records.len());
        for record in &records {
            let matches = if staleness {
                Some(self.exception_matches(record, projects).await?)
            } else {
                None
            };
            views.push(ExceptionView::new(record, now, matches));
        }
        Ok(views)
    }

    /// How many current findings `record` names, from the impact index (the artifacts that
    /// hold the vulnerability, narrowed by the exception's scope), among the artifacts of
    /// `readable` (`None`: all): a system exception's count must not tell a caller what
    /// private projects it cannot read hold.
    async fn exception_matches(
        &self,
        record: &ExceptionRecord,
        readable: Option<&[String]>,
    ) -> Result<u64> {
        let projects: Option<Vec<String>> = match (&record.project, readable) {
            (Some(project), _) => Some(vec![project.clone()]),
            (None, readable) => readable.map(<[String]>::to_vec),
        };
        let impacted = self
            .inner
            .scanner
            .impact(
                &bulwark_scan::service::ImpactQuery::Vulnerability(record.vulnerability.clone()),
                projects.as_deref(),
                1_000,
            )
            .await?;
        let exception = views::exception_of(record);
        Ok(impacted
            .iter()
            .filter(|hit| {
                // The impact index found it by any name it is known by.
                let finding = bulwark_policy::Finding {
                    id: hit
                        .vulnerability
                        .clone()
                        .unwrap_or_else(|| record.vulnerability.clone()),
                    aliases: vec![record.vulnerability.clone()],
                    ecosystem: hit.ecosystem.clone(),
                    package: hit.package.clone(),
                    version: hit.version.clone(),
                    purl: None,
                    severity: bulwark_policy::Severity::Unknown,
                    fixed: Vec::new(),
                    fix_published_ms: None,
                    malicious: false,
                };
                exception.matches(&hit.repository, &hit.digest, &finding)
            })
            .count() as u64)
    }

    pub async fn exception(&self, id: &str) -> Result<ExceptionRecord> {
        self.inner
            .metadata
            .exception(id)
            .await?
            .ok_or(GovernanceError::NotFound)
    }

    pub async fn remove_exception(&self, id: &str, author: &str) -> Result<()> {
        if !self.inner.metadata.remove_exception(id).await? {
            return Err(GovernanceError::NotFound);
        }
        self.changed();
        tracing::info!(target: "audit", id, author, "exception removed");
        Ok(())
    }

    /// The exceptions that may apply in `project` (its own and the system's; expiry and
    /// scope are the decision's to check).
    pub(crate) async fn exceptions_for(&self, project: &str) -> Result<Vec<Exception>> {
        let records = self
            .inner
            .metadata
            .exceptions(Some(&[project.to_owned()]), true, MAX_EXCEPTIONS)
            .await?;
        Ok(records.iter().map(views::exception_of).collect())
    }

    // ---- VEX ----

    pub async fn upload_vex(
        &self,
        project: &str,
        document: &[u8],
        author: &str,
    ) -> Result<VexView> {
        let format = bulwark_policy::detect_vex(document)
            .map_err(|e| GovernanceError::Invalid(e.to_string()))?;
        let statements = bulwark_policy::parse_vex_as(format, document)
            .map_err(|e| GovernanceError::Invalid(e.to_string()))?;
        if statements.is_empty() {
            return Err(GovernanceError::Invalid(
                "the document holds no VEX statement".into(),
            ));
        }
        if self.inner.metadata.vex_listing(project).await?.len() >= MAX_VEX_DOCUMENTS {
            return Err(GovernanceError::Invalid(format!(
                "a project keeps at most {MAX_VEX_DOCUMENTS} VEX documents: remove old ones first"
            )));
        }
        let record = VexRecord {
            project: project.to_owned(),
            digest: Digest::sha256_of(document).to_string(),
            format: format.to_string(),
            document: document.to_vec(),
            statements: i64::try_from(statements.len()).unwrap_or(i64::MAX),
            uploaded_by: author.to_owned(),
            uploaded_at: self.inner.clock.now(),
        };
        self.inner.metadata.add_vex(&record).await?;
        self.changed();
        tracing::info!(target: "audit", project, author, digest = %record.digest, "VEX document uploaded");
        Ok(VexView::from(&record))
    }

    pub async fn vex(&self, project: &str) -> Result<Vec<VexView>> {
        Ok(self
            .inner
            .metadata
            .vex_listing(project)
            .await?
            .iter()
            .map(VexView::from)
            .collect())
    }

    pub async fn remove_vex(&self, project: &str, digest: &str, author: &str) -> Result<()> {
        if !self.inner.metadata.remove_vex(project, digest).await? {
            return Err(GovernanceError::NotFound);
        }
        self.changed();
        tracing::info!(target: "audit", project, author, digest, "VEX document removed");
        Ok(())
    }

    /// The statements of the VEX documents uploaded to `project`.
    pub(crate) async fn uploaded_statements(&self, project: &str) -> Result<Vec<VexStatement>> {
        let mut statements = Vec::new();
        for record in self.inner.metadata.vex_documents(project).await? {
            match bulwark_policy::parse_vex(&record.document) {
                Ok(found) => statements.extend(found),
                Err(error) => {
                    tracing::warn!(project, digest = %record.digest, %error, "a stored VEX document does not parse")
                }
            }
        }
        Ok(statements)
    }

    // ---- decisions ----

    /// The decision on `digest` in `repository` under the policy of `policy_project` (the
    /// repository's own project, or a promotion's destination), with the facts behind it.
    pub async fn evaluate(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        policy_project: Option<&str>,
    ) -> Result<Evaluation> {
        let project = policy_project.unwrap_or(repository.project());
        let now = self.inner.clock.now();
        let mut system = self.system_policy().await?;
        let mut policy = Policy::effective(&system, &self.stored_policy(project).await?);
        // A refusal names the policy; an unnamed one by its project (the system's as such).
        if policy.name.is_none() {
            policy.name = Some(project.to_owned());
        }
        if system.name.is_none() {
            system.name = Some("system".to_owned());
        }
        let keys = self.trusted(project).await?;
        let gathered = facts::gather(self, repository, digest, project, &keys, now).await?;
        let mut vex = self.uploaded_statements(project).await?;
        if policy.trusts_attached_vex() {
            vex.extend(gathered.attached_vex.iter().cloned());
        }
        let exceptions = self.exceptions_for(project).await?;
        let decision = bulwark_policy::decide(&gathered.facts, &policy, &exceptions, &vex, now);
        // A project's exceptions waive its own rules, not the system's: the system policy
        // is also judged with the system's exceptions alone, and its refusal stands.
        let system_exceptions: Vec<Exception> = exceptions
            .iter()
            .filter(|e| e.scope == Scope::System)
            .cloned()
            .collect();
        let by_system =
            bulwark_policy::decide(&gathered.facts, &system, &system_exceptions, &vex, now);
        let horizon = match (decision.valid_until_ms, by_system.valid_until_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut decision = if decision.allowed && !by_system.allowed {
            by_system
        } else {
            decision
        };
        decision.valid_until_ms = horizon;
        Ok(Evaluation::new(
            &policy,
            &gathered,
            decision,
            &exceptions,
            now,
        ))
    }

    /// Whether manifest `digest` (stored in `repository` as `manifest`, pulled by `tag` or
    /// by digest) may be pulled. Attachments (signatures, SBOMs, VEX, attestations attached
    /// as referrers, and cosign's `.sig` manifests pulled by their tag) always may: they
    /// are what lets a client judge the artifact, and a policy that blocked them would
    /// block verifying it. A pull of an
    /// artifact whose scan is pending or running waits for it up to the policy's bound.
    pub async fn check_pull(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        manifest: (&[u8], &str),
        tag: Option<&str>,
    ) -> Result<PullVerdict> {
        Ok(
            match self.judge_pull(repository, digest, manifest, tag).await? {
                None => PullVerdict::Allowed,
                Some(decision) => {
                    self.inner.metrics.denied("pull", &decision);
                    let message = decision.denial_message(&format!("{repository}@{digest}"));
                    self.notify_denial(repository, digest, tag, &decision, &message);
                    PullVerdict::Denied(message)
                }
            },
        )
    }

    /// Puts a refused pull in the outbox (for webhooks), at most once per artifact and
    /// [`DENIAL_NOTICE_INTERVAL`] on this node: a client retrying in a loop must not flood
    /// receivers. Written off the request path; a failure to write is logged, never the
    /// client's problem.
    fn notify_denial(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        tag: Option<&str>,
        decision: &Decision,
        message: &str,
    ) {
        let key = format!("{repository}@{digest}");
        {
            let mut recent = self
                .inner
                .denial_notices
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            if recent
                .get(&key)
                .is_some_and(|at| now.duration_since(*at) < DENIAL_NOTICE_INTERVAL)
            {
                return;
            }
            if recent.len() >= DENIAL_NOTICES_KEPT {
                recent.retain(|_, at| now.duration_since(*at) < DENIAL_NOTICE_INTERVAL);
            }
            recent.insert(key, now);
        }
        let rules: Vec<&str> = decision
            .violations
            .iter()
            .map(|v| v.rule.as_str())
            .collect();
        let detail = serde_json::json!({ "rules": rules, "message": message }).to_string();
        let (metadata, repository, digest, tag) = (
            self.inner.metadata.clone(),
            repository.to_string(),
            digest.to_string(),
            tag.map(str::to_owned),
        );
        tokio::spawn(async move {
            if let Err(error) = metadata
                .record_pull_denied(&repository, &digest, tag.as_deref(), &detail)
                .await
            {
                tracing::warn!(%error, %repository, "recording a refused pull for webhooks failed");
            }
        });
    }

    /// [`Governance::check_pull`]'s judgement: `None` when the pull may go ahead, else the
    /// decision that refuses it.
    pub(crate) async fn judge_pull(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        (manifest, media_type): (&[u8], &str),
        tag: Option<&str>,
    ) -> Result<Option<Arc<Decision>>> {
        if !self.inner.settings.enforce_pulls || is_signature_manifest(tag, media_type, manifest) {
            return Ok(None);
        }
        let started = Instant::now();
        let mut queued = false;
        let mut fresh = false;
        loop {
            // Waiting for a scan looks at the facts themselves, not at what is cached.
            let (decision, not_scanned) = self
                .decision(repository, digest, (manifest, media_type), fresh)
                .await?;
            fresh = true;
            if decision.allowed {
                return Ok(None);
            }
            // Not scanned at all (pushed a moment ago and not yet queued from the outbox,
            // or pushed where scans are off): asked for now, and waited for like any
            // pending scan.
            let only_quarantine = decision
                .violations
                .iter()
                .all(|v| v.rule == bulwark_policy::Rule::Quarantine);
            let waits = decision.wait_for_scan || (not_scanned && only_quarantine);
            if not_scanned && waits && !queued {
                self.inner.scanner.request(digest).await?;
                queued = true;
            }
            let wait = Duration::from_millis(
                self.effective_policy(repository.project())
                    .await?
                    .quarantine_wait_ms(),
            );
            let poll = self.inner.settings.scan_poll;
            if waits && started.elapsed() + poll < wait {
                // Only the scan's state is read while it runs; the facts are gathered again
                // once it has moved on.
                loop {
                    tokio::time::sleep(poll).await;
                    let running = self
                        .inner
                        .metadata
                        .scan(&digest.to_string())
                        .await?
                        .is_some_and(|scan| {
                            matches!(
                                scan.status,
                                bulwark_metadata::ScanStatus::Pending
                                    | bulwark_metadata::ScanStatus::Running
                            )
                        });
                    if !running || started.elapsed() + poll >= wait {
                        break;
                    }
                }
                continue;
            }
            return Ok(Some(decision));
        }
    }

    /// The decision on `digest` in `repository` — from the cache when nothing it depends on
    /// changed, unless `fresh` — and whether the artifact was never scanned.
    async fn decision(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        (manifest, media_type): (&[u8], &str),
        fresh: bool,
    ) -> Result<(Arc<Decision>, bool)> {
        let snapshot = self.snapshot().await?;
        let key = format!("{repository}@{digest}");
        let now = self.inner.clock.now();
        if !fresh
            && let Ok(cache) = self.inner.decisions.lock()
            && let Some(cached) = cache.get(&key)
            && cached.snapshot == snapshot
            && now < cached.until
        {
            return Ok((cached.decision.clone(), cached.not_scanned));
        }
        // What the bytes are never changes: an attachment is decided once, here.
        let (decision, not_scanned, complete) = if is_referrer_attachment(media_type, manifest) {
            let allowed = Decision {
                allowed: true,
                wait_for_scan: false,
                policy: None,
                violations: Vec::new(),
                suppressed: Vec::new(),
                valid_until_ms: None,
            };
            (Arc::new(allowed), false, true)
        } else {
            let evaluation = self.evaluate(repository, digest, None).await?;
            let not_scanned = evaluation.scan.status == "not_scanned";
            let complete = evaluation.scan.status == "done";
            (Arc::new(evaluation.decision), not_scanned, complete)
        };
        // A finished scan moves the snapshot, so a decision on an incomplete one may be
        // served until then too; the rest of its horizon (`decide` says "now") is bounded
        // by one snapshot lifetime.
        let ttl = i64::try_from(self.inner.settings.snapshot_ttl.as_millis()).unwrap_or(i64::MAX);
        let max_age =
            i64::try_from(self.inner.settings.max_decision_age.as_millis()).unwrap_or(i64::MAX);
        let until = if complete {
            decision
                .valid_until_ms
                .unwrap_or(i64::MAX)
                .min(now.saturating_add(max_age))
        } else {
            now.saturating_add(ttl)
        };
        if now < until
            && let Ok(mut cache) = self.inner.decisions.lock()
        {
            if cache.len() >= self.inner.settings.cache_entries {
                cache.clear();
            }
            cache.insert(
                key,
                Cached {
                    snapshot,
                    decision: decision.clone(),
                    until,
                    not_scanned,
                },
            );
        }
        Ok((decision, not_scanned))
    }

    // ---- tags ----

    /// Whether `tag` in `repository`, now pointing at `current` (`None`: no such tag), may
    /// be pointed at `next` (`None`: deleted). Creating a tag, and re-pushing the digest it
    /// has, is never a change.
    pub async fn tag_change(
        &self,
        repository: &RepositoryName,
        tag: &str,
        current: Option<&Digest>,
        next: Option<&Digest>,
        system_admin: bool,
        override_requested: bool,
    ) -> Result<TagChange> {
        let Some(current) = current else {
            return Ok(TagChange::Allowed);
        };
        if next == Some(current) {
            return Ok(TagChange::Allowed);
        }
        let policy = self.effective_policy(repository.project()).await?;
        let change = bulwark_policy::tag_change(&policy, tag, system_admin, override_requested);
        if let TagChange::AllowedByOverride { pattern } = &change {
            tracing::warn!(target: "audit", %repository, tag, pattern, "immutable tag changed by a system administrator's override");
        }
        Ok(change)
    }
}

/// Artifact types of what is attached to an artifact rather than run: signatures,
/// attestations, SBOMs, VEX. Only a referrer of one of these types is exempt from judging.
const ATTACHMENT_TYPES: &[&str] = &[
    bulwark_signature::BUNDLE_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.2+json",
    "application/vnd.dev.sigstore.bundle.v0.1+json",
    "application/vnd.dev.cosign.artifact.sig.v1+json",
    "application/vnd.dsse.envelope.v1+json",
    "application/vnd.in-toto+json",
    "application/vnd.cncf.notary.signature",
    "application/vnd.cyclonedx+json",
    "application/spdx+json",
    "application/openvex+json",
    "application/vnd.openvex+json",
    "application/csaf+json",
    "application/vnd.cyclonedx.vex+json",
];

/// Config media types of images: a manifest with one is run, whatever else it says.
const IMAGE_CONFIGS: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// A referrer that describes another artifact (a signature, an attestation, an SBOM, a VEX
/// document): it has a subject, an attachment's artifact type, no image config and no
/// filesystem layer. A `subject` alone is not enough: any image can carry one, and would
/// then skip every rule.
fn is_referrer_attachment(media_type: &str, manifest: &[u8]) -> bool {
    let Ok(parsed) = ParsedManifest::parse(Some(media_type), manifest) else {
        return false;
    };
    let Some(artifact_type) = parsed.artifact_type.as_deref() else {
        return false;
    };
    parsed.subject.is_some()
        && !parsed.kind.is_index()
        && ATTACHMENT_TYPES.contains(&artifact_type)
        && parsed
            .config
            .as_ref()
            .is_none_or(|c| !IMAGE_CONFIGS.contains(&c.media_type.as_str()))
        && parsed
            .layers
            .iter()
            .all(|layer| !layer.media_type.contains("tar") && !layer.media_type.contains("rootfs"))
}

/// A cosign simple-signing manifest pulled by its `sha256-<hex>.sig` tag: every layer a
/// small signature payload carrying a signature annotation.
fn is_signature_manifest(tag: Option<&str>, media_type: &str, manifest: &[u8]) -> bool {
    let signature_tag = tag
        .and_then(|t| t.strip_prefix("sha256-"))
        .and_then(|t| t.strip_suffix(".sig"))
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if !signature_tag {
        return false;
    }
    let Ok(parsed) = ParsedManifest::parse(Some(media_type), manifest) else {
        return false;
    };
    !parsed.layers.is_empty()
        && parsed.layers.iter().all(|layer| {
            layer.media_type == bulwark_signature::SIMPLE_SIGNING_MEDIA_TYPE
                && layer.size <= bulwark_signature::MAX_PAYLOAD_BYTES as i64
                && layer
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key(bulwark_signature::SIGNATURE_ANNOTATION))
        })
}

pub(crate) fn scope_of(record: &ExceptionRecord) -> Scope {
    match &record.project {
        Some(project) => Scope::Project(project.clone()),
        None => Scope::System,
    }
}
