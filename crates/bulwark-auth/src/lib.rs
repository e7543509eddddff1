//! Access control: who the caller is ([`Auth::authenticate`]), what they may do
//! ([`Auth::authorize`], the one decision point, over [`policy::decide`]), registry tokens
//! ([`Auth::registry_token`]) and the management of users, projects, members, robots and
//! access tokens ([`manage`]), each of which authorizes itself through the same function.
//!
//! Secrets are stored only as hashes ([`secret`]); nothing here logs a credential.

mod cache;
mod jwt;
mod limiter;
pub mod manage;
pub mod policy;
pub mod secret;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bulwark_metadata::{AccessStoreError, MetadataError, MetadataStore, TokenOwner, now_millis};
pub use bulwark_oci::RequestContext;
use sha2::{Digest, Sha256};

pub use jwt::{KeyRing, RegistryClaims, generate_signing_key, install_crypto_provider};
pub use manage::{ManageError, NewToken};
pub use policy::{
    Account, AccountId, AccountKind, Action, Candidates, Decision, ResourceAccess, Role, Scope,
    Subject, Target,
};

use cache::ExpiringCache;
use limiter::{FailureLimiter, PendingFailure};
use policy::RobotPermission;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("invalid or expired registry token")]
    InvalidToken,
    #[error("too many failed authentication attempts")]
    RateLimited { retry_after: Duration },
    #[error("access denied")]
    Denied,
    #[error("the registry token does not grant this")]
    InsufficientScope,
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

impl From<AccessStoreError> for AuthError {
    fn from(error: AccessStoreError) -> Self {
        match error {
            AccessStoreError::AlreadyExists(what) => AuthError::AlreadyExists(what),
            AccessStoreError::ProjectNotEmpty => AuthError::Conflict(
                "the project still holds repositories; delete them first".into(),
            ),
            AccessStoreError::Metadata(e) => AuthError::Metadata(e),
        }
    }
}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;

/// Settings of the access-control layer.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The `service` of registry tokens (their audience).
    pub service: String,
    /// The `iss` of registry tokens.
    pub issuer: String,
    /// Lifetime of registry tokens; also the bound on how long a revoked credential's
    /// registry tokens keep working.
    pub registry_token_ttl: Duration,
    pub access_token_default_days: u32,
    pub access_token_max_days: u32,
    /// Failed authentications a client address or account may make before each further
    /// failure makes it wait, doubling up to 15 minutes.
    pub failures_before_backoff: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            service: "bulwark".into(),
            issuer: "bulwark".into(),
            registry_token_ttl: Duration::from_secs(300),
            access_token_default_days: 90,
            access_token_max_days: 365,
            failures_before_backoff: limiter::DEFAULT_FREE_FAILURES,
        }
    }
}

/// What the caller presented.
#[derive(Clone, Copy)]
pub enum Credentials<'a> {
    None,
    Basic {
        username: &'a str,
        secret: &'a str,
    },
    Bearer(&'a str),
    /// The account named by a client certificate that the TLS layer verified against the
    /// configured CA: a user's name, or a robot's full name (`robot+…`).
    ClientCertificate(&'a str),
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach a log line, even through a debug print.
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credentials::Bearer(_) => f.write_str("Bearer(***)"),
            Credentials::ClientCertificate(name) => write!(f, "ClientCertificate({name})"),
        }
    }
}

/// What an authorization is about.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    System,
    Project(&'a str),
    /// A full repository name; its project is the first path component.
    Repository(&'a str),
}

impl<'a> Resource<'a> {
    fn project(&self) -> Option<&'a str> {
        match *self {
            Resource::System => None,
            Resource::Project(p) => Some(p),
            Resource::Repository(r) => r.split('/').next(),
        }
    }
}

/// A registry token as handed to a client.
#[derive(Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_in: u64,
}

/// Secrets stay out of debug output (and so out of any log line that prints one).
impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("expires_in", &self.expires_in)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// How long a successful password check is remembered, so that clients sending Basic
/// credentials with every request do not pay argon2 each time.
const PASSWORD_CACHE_TTL: Duration = Duration::from_secs(60);
const PASSWORD_CACHE_MAX: usize = 10_000;
/// Token last-use records are written at most this often per token.
const TOKEN_TOUCH_RESOLUTION_MS: i64 = 60_000;
const MAX_REQUESTED_SCOPES: usize = 32;
const JWT_CACHE_MAX: usize = 10_000;
/// Longest user name considered at all; longer ones fail before touching the limiter.
const MAX_USERNAME_LEN: usize = 128;
/// Clock difference tolerated between the node that issued a token and the one checking it.
const KEY_CLOCK_SKEW_SECS: u64 = 60;
/// An address may fail this many times more often than one account, as many users may
/// share it.
const ADDRESS_FAILURE_FACTOR: u32 = 10;
/// argon2 computations at once (19 MiB each).
const ARGON2_PERMITS: usize = 4;
/// An unknown `kid` reloads the key ring at most this often (another node may have rotated).
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(2);

struct Inner {
    store: MetadataStore,
    config: AuthConfig,
    keys: RwLock<Arc<KeyRing>>,
    last_key_reload: Mutex<Instant>,
    /// Failures per client address: generous, since many users may share one (NAT, CI).
    address_limiter: FailureLimiter,
    /// Failures per account name or token id.
    subject_limiter: FailureLimiter,
    /// (user id, password hash) per successful check, keyed by a salted hash of the pair.
    password_cache: ExpiringCache<(i64, String)>,
    /// Registry tokens whose signature and claims were verified, until they expire.
    jwt_cache: ExpiringCache<Subject>,
    /// Salts the password cache's keys so they are useless outside this process.
    cache_salt: [u8; 32],
    /// Concurrent argon2 computations allowed.
    argon2_permits: Arc<tokio::sync::Semaphore>,
}

/// The caller of an operation: who it is, and the request that asks (address, request id,
/// time). Every management operation takes one, so what it records names the request; it
/// reads as its [`Subject`] wherever only the identity matters.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: Subject,
    pub context: RequestContext,
}

impl Caller {
    /// The context of a request by `subject`, accepted now: its name and token fill the
    /// actor fields, the registry's one clock the time.
    pub fn new(subject: Subject, client_address: String, request_id: String) -> Self {
        let at_millis = now_millis();
        let token_id = match &subject {
            Subject::Account(account) => account.token_id.clone(),
            Subject::Anonymous | Subject::RegistryToken { .. } => None,
        };
        let context = RequestContext {
            actor: subject.display_name().to_owned(),
            token_id,
            client_address,
            request_id,
            at_millis,
        };
        Caller { subject, context }
    }
}

impl std::ops::Deref for Caller {
    type Target = Subject;

    fn deref(&self) -> &Subject {
        &self.subject
    }
}

/// The access-control service; cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("service", &self.inner.config.service)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Loads the signing keys, creating the first one on a fresh store.
    pub async fn new(store: MetadataStore, config: AuthConfig) -> Result<Self> {
        let ring = load_key_ring(&store, &config, true).await?;
        Ok(Auth {
            inner: Arc::new(Inner {
                store,
                address_limiter: FailureLimiter::new(
                    config
                        .failures_before_backoff
                        .saturating_mul(ADDRESS_FAILURE_FACTOR),
                ),
                subject_limiter: FailureLimiter::new(config.failures_before_backoff),
                config,
                keys: RwLock::new(Arc::new(ring)),
                last_key_reload: Mutex::new(Instant::now()),
                password_cache: ExpiringCache::new(PASSWORD_CACHE_MAX),
                jwt_cache: ExpiringCache::new(JWT_CACHE_MAX),
                cache_salt: secret::random_bytes::<32>()?,
                argon2_permits: Arc::new(tokio::sync::Semaphore::new(ARGON2_PERMITS)),
            }),
        })
    }

    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &MetadataStore {
        &self.inner.store
    }

    /// Re-reads the signing keys (after a rotation, possibly by another node).
    pub async fn reload_keys(&self) -> Result<()> {
        let ring = load_key_ring(&self.inner.store, &self.inner.config, false).await?;
        *self.inner.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        Ok(())
    }

    fn key_ring(&self) -> Arc<KeyRing> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Who presented `credentials` from `client` (an address, for rate limits and last-use
    /// records).
    pub async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        client: &str,
    ) -> Result<Subject> {
        match credentials {
            Credentials::None => Ok(Subject::Anonymous),
            Credentials::Basic { username, secret } => {
                if username.len() > MAX_USERNAME_LEN {
                    return Err(AuthError::InvalidCredentials);
                }
                let address = format!("addr:{client}");
                if secret::looks_like_token(secret) {
                    // A token is guessed, not the account: its backoff is per token id, so
                    // failures against an account's name never block its valid tokens.
                    let token_key =
                        secret::parse_token(secret).map(|(id, _)| format!("token:{id}"));
                    self.limited(
                        &address,
                        token_key.as_deref(),
                        self.account_by_token(secret, Some(username), client),
                    )
                    .await
                    .map(Subject::Account)
                } else {
                    let account_key = format!("acct:{username}");
                    self.limited(
                        &address,
                        Some(&account_key),
                        self.account_by_password(username, secret),
                    )
                    .await
                    .map(Subject::Account)
                }
            }
            Credentials::Bearer(token) if secret::looks_like_token(token) => {
                let token_key = secret::parse_token(token).map(|(id, _)| format!("token:{id}"));
                self.limited(
                    &format!("addr:{client}"),
                    token_key.as_deref(),
                    self.account_by_token(token, None, client),
                )
                .await
                .map(Subject::Account)
            }
            Credentials::Bearer(jwt) => self.subject_by_registry_token(jwt).await,
            // Proven by the handshake, so no guess to limit: only the account must exist
            // and be enabled.
            Credentials::ClientCertificate(name) => self
                .account_by_certificate(name)
                .await?
                .map(Subject::Account)
                .ok_or(AuthError::InvalidCredentials),
        }
    }

    async fn account_by_certificate(&self, name: &str) -> Result<Option<Account>> {
        let store = &self.inner.store;
        let id = if name.starts_with("robot+") {
            store
                .robot_by_name(name)
                .await?
                .map(|r| AccountId::Robot(r.id))
        } else {
            store
                .user_by_name(name)
                .await?
                .map(|u| AccountId::User(u.id))
        };
        match id {
            Some(id) => self.load_account(id).await,
            None => Ok(None),
        }
    }

    /// Runs a credential check under the failure limiters of the client's address and of
    /// the credential's subject (an account name or a token id). Failures count against
    /// both; a success clears the subject's count but never the address's, so one good login
    /// cannot reset a spray from that address. Parallel guessing is bounded separately: every
    /// password check needs one of a few argon2 permits ([`Auth::argon2`]).
    async fn limited(
        &self,
        address: &str,
        subject: Option<&str>,
        check: impl Future<Output = Result<Account>>,
    ) -> Result<Account> {
        let (addresses, subjects) = (&self.inner.address_limiter, &self.inner.subject_limiter);
        let waits = [
            addresses.check(address).err(),
            subject.and_then(|key| subjects.check(key).err()),
        ];
        if let Some(wait) = waits.into_iter().flatten().max() {
            return Err(AuthError::RateLimited {
                retry_after: wait.max(Duration::from_secs(1)),
            });
        }
        // A failure unless the check says otherwise: if the client hangs up while the check
        // runs (the request is dropped, nothing after this await happens), the pending
        // failures are recorded as they drop, so it has spent a guess all the same.
        let address_failure = PendingFailure::new(addresses, address);
        let subject_failure = subject.map(|key| PendingFailure::new(subjects, key));
        let outcome = check.await;
        match &outcome {
            Err(AuthError::InvalidCredentials) => {}
            Ok(_) => {
                address_failure.cancel();
                if let Some(pending) = subject_failure {
                    pending.cancel();
                    if let Some(key) = subject {
                        subjects.record_success(key);
                    }
                }
            }
            // Not a verdict on the credential (busy, or a server fault).
            Err(_) => {
                address_failure.cancel();
                if let Some(pending) = subject_failure {
                    pending.cancel();
                }
            }
        }
        outcome
    }

    /// Runs an argon2 computation on the blocking pool, at most a few at a time: each takes
    /// 19 MiB and tens of milliseconds, so an unbounded burst could exhaust memory or stall
    /// the server. When all permits are busy the caller is told to retry.
    async fn argon2<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let Ok(permit) = self.inner.argon2_permits.clone().try_acquire_owned() else {
            return Err(AuthError::RateLimited {
                retry_after: Duration::from_secs(1),
            });
        };
        // The permit goes with the work: a request dropped while the hash runs must not
        // free its permit before the hash (and its 19 MiB) is done.
        tokio::task::spawn_blocking(move || {
            let outcome = work();
            drop(permit);
            outcome
        })
        .await
        .map_err(|e| AuthError::Internal(format!("password hashing: {e}")))
    }

    /// Checks the current password of `username` before a change, under the account's
    /// failure backoff: a stolen token must not become an unlimited password oracle.
    pub(crate) async fn check_current_password(
        &self,
        username: &str,
        password: &str,
        phc: &str,
    ) -> Result<bool> {
        let key = format!("acct:{username}");
        let subjects = &self.inner.subject_limiter;
        if let Err(wait) = subjects.check(&key) {
            return Err(AuthError::RateLimited {
                retry_after: wait.max(Duration::from_secs(1)),
            });
        }
        let (password, phc) = (password.to_owned(), phc.to_owned());
        // As in `limited`: a failure until proven otherwise, so hanging up does not help.
        let pending = PendingFailure::new(subjects, &key);
        let matches = self
            .argon2(move || secret::verify_password(&password, &phc))
            .await;
        match matches {
            Ok(false) => {}
            Ok(true) => {
                pending.cancel();
                subjects.record_success(&key);
            }
            Err(_) => pending.cancel(),
        }
        matches
    }

    /// Hashes a new password (see [`Auth::argon2`] for why it is rationed).
    pub(crate) async fn hash_password(&self, password: &str) -> Result<String> {
        secret::check_password_policy(password)?;
        let password = password.to_owned();
        self.argon2(move || secret::hash_password(&password))
            .await?
    }

    async fn account_by_password(&self, username: &str, password: &str) -> Result<Account> {
        let cache_key: [u8; 32] = {
            let mut hasher = Sha256::new();
            hasher.update(self.inner.cache_salt);
            hasher.update(username.as_bytes());
            hasher.update([0]);
            hasher.update(password.as_bytes());
            hasher.finalize().into()
        };
        let user = self.inner.store.user_by_name(username).await?;
        let user = user.filter(|u| !u.disabled);
        let Some((user, phc)) = user.and_then(|u| u.password_hash.clone().map(|phc| (u, phc)))
        else {
            let password = password.to_owned();
            self.argon2(move || secret::spend_password_check_time(&password))
                .await?;
            return Err(AuthError::InvalidCredentials);
        };
        // Still valid only while the stored hash is the one that was checked.
        let cached = self
            .inner
            .password_cache
            .get(&cache_key)
            .is_some_and(|(id, cached_phc)| id == user.id && cached_phc == phc);
        if !cached {
            let (password_owned, phc_owned) = (password.to_owned(), phc.clone());
            let matches = self
                .argon2(move || secret::verify_password(&password_owned, &phc_owned))
                .await?;
            if !matches {
                return Err(AuthError::InvalidCredentials);
            }
            self.inner
                .password_cache
                .insert(cache_key, (user.id, phc), PASSWORD_CACHE_TTL);
        }
        let memberships = self.memberships(user.id).await?;
        Ok(Account {
            id: AccountId::User(user.id),
            name: user.name,
            kind: AccountKind::User {
                is_admin: user.is_admin,
                memberships,
            },
            scopes: None,
            token_id: None,
        })
    }

    async fn memberships(&self, user_id: i64) -> Result<HashMap<String, Role>> {
        self.inner
            .store
            .memberships(user_id)
            .await?
            .into_iter()
            .map(|(project, role)| Ok((project, role.parse()?)))
            .collect()
    }

    async fn account_by_token(
        &self,
        token: &str,
        username: Option<&str>,
        client: &str,
    ) -> Result<Account> {
        let (id, secret) = secret::parse_token(token).ok_or(AuthError::InvalidCredentials)?;
        let record = self
            .inner
            .store
            .token(id)
            .await?
            .ok_or(AuthError::InvalidCredentials)?;
        let presented = secret::hash_token_secret(secret);
        let now = now_millis();
        let current = secret::constant_time_eq(&presented, &record.secret_hash);
        let previous = match (&record.previous_secret_hash, record.previous_valid_until) {
            (Some(hash), Some(until)) if until > now => secret::constant_time_eq(&presented, hash),
            _ => false,
        };
        if !(current || previous) || record.revoked_at.is_some() || record.expires_at <= now {
            return Err(AuthError::InvalidCredentials);
        }
        let owner = match record.owner {
            TokenOwner::User(id) => AccountId::User(id),
            TokenOwner::Robot(id) => AccountId::Robot(id),
        };
        let mut account = self
            .load_account(owner)
            .await?
            .ok_or(AuthError::InvalidCredentials)?;
        if username.is_some_and(|u| u != account.name) {
            return Err(AuthError::InvalidCredentials);
        }
        let scopes: Vec<String> = serde_json::from_str(&record.scopes)
            .map_err(|e| MetadataError::Corrupt(format!("token scopes: {e}")))?;
        if !scopes.is_empty() {
            account.scopes = Some(
                scopes
                    .iter()
                    .map(|s| s.parse())
                    .collect::<Result<Vec<Scope>>>()?,
            );
        }
        account.token_id = Some(record.id.clone());
        if let Err(error) = self
            .inner
            .store
            .touch_token(&record.id, client, TOKEN_TOUCH_RESOLUTION_MS)
            .await
        {
            tracing::warn!(%error, "could not record token use");
        }
        Ok(account)
    }

    /// The account with its current rights; `None` when it no longer exists or is disabled.
    pub(crate) async fn load_account(&self, id: AccountId) -> Result<Option<Account>> {
        let store = &self.inner.store;
        match id {
            AccountId::User(user_id) => {
                let Some(user) = store.user_by_id(user_id).await?.filter(|u| !u.disabled) else {
                    return Ok(None);
                };
                let memberships = self.memberships(user.id).await?;
                Ok(Some(Account {
                    id,
                    name: user.name,
                    kind: AccountKind::User {
                        is_admin: user.is_admin,
                        memberships,
                    },
                    scopes: None,
                    token_id: None,
                }))
            }
            AccountId::Robot(robot_id) => {
                let Some(robot) = store.robot_by_id(robot_id).await?.filter(|r| !r.disabled) else {
                    return Ok(None);
                };
                let permissions = robot
                    .permissions
                    .iter()
                    .map(|p| {
                        Ok(RobotPermission {
                            project: (p.project != "*").then(|| p.project.clone()),
                            actions: policy::parse_actions(&p.actions)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Some(Account {
                    id,
                    name: robot.name,
                    kind: AccountKind::Robot {
                        project: robot.project,
                        permissions,
                    },
                    scopes: None,
                    token_id: None,
                }))
            }
        }
    }

    async fn subject_by_registry_token(&self, jwt: &str) -> Result<Subject> {
        // Clients send the same token with every request until it expires: a signature
        // checked once is remembered (by the token's hash) until the token's own expiry.
        let cache_key: [u8; 32] = Sha256::digest(jwt.as_bytes()).into();
        if let Some(subject) = self.inner.jwt_cache.get(&cache_key) {
            return Ok(subject);
        }
        let config = &self.inner.config;
        let mut ring = self.key_ring();
        if let Some(kid) = jwt::token_kid(jwt)
            && !ring.knows(&kid)
        {
            let reload = {
                let mut last = self
                    .inner
                    .last_key_reload
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let due = last.elapsed() >= KEY_RELOAD_INTERVAL;
                if due {
                    *last = Instant::now();
                }
                due
            };
            if reload {
                self.reload_keys().await?;
                ring = self.key_ring();
            }
        }
        let claims = ring.verify(jwt, &config.issuer, &config.service)?;
        let subject = Subject::RegistryToken {
            account: claims.acct,
            name: claims.sub,
            access: claims.access,
        };
        let remaining = u64::try_from(claims.exp.saturating_sub(now_millis() / 1000)).unwrap_or(0);
        let ttl = config.registry_token_ttl.as_secs();
        // No token of ours outlives the configured lifetime: a longer one was not made here.
        if remaining > ttl + KEY_CLOCK_SKEW_SECS {
            return Err(AuthError::InvalidToken);
        }
        self.inner.jwt_cache.insert(
            cache_key,
            subject.clone(),
            Duration::from_secs(remaining.min(ttl)),
        );
        Ok(subject)
    }

    /// The one authorization decision point: `Ok` when `subject` may take `action` on
    /// `resource`. A denial does not say whether the resource exists.
    pub async fn authorize(
        &self,
        subject: &Subject,
        action: Action,
        resource: Resource<'_>,
    ) -> Result<()> {
        let project = resource.project();
        let mut target = Target {
            project,
            repository: match resource {
                Resource::Repository(r) => Some(r),
                _ => None,
            },
            public: false,
        };
        // Visibility only ever widens rights, so it is looked up only when the decision
        // without it is a denial: most allowed requests cost no query.
        if policy::decide(subject, action, &target) == Decision::Deny
            && let Some(name) = project
            && !matches!(subject, Subject::RegistryToken { .. })
        {
            target.public = self
                .inner
                .store
                .project_by_name(name)
                .await?
                .is_some_and(|p| p.public);
        }
        match self.judge(subject, action, &target) {
            Decision::Allow => Ok(()),
            Decision::Deny => Err(match subject {
                Subject::Anonymous => AuthError::Unauthenticated,
                // The client may fetch a token with wider scope, if its account has the right.
                Subject::RegistryToken { .. } => AuthError::InsufficientScope,
                Subject::Account(_) => AuthError::Denied,
            }),
        }
    }

    /// Every decision, single checks and listings alike, is taken here: the one place that
    /// sees them all (denials are logged at debug level, for whoever asks why).
    pub(crate) fn judge(&self, subject: &Subject, action: Action, target: &Target<'_>) -> Decision {
        let decision = policy::decide(subject, action, target);
        if decision == Decision::Deny {
            tracing::debug!(
                subject = subject.display_name(),
                ?action,
                project = target.project,
                repository = target.repository,
                "denied"
            );
        }
        decision
    }

    /// The subject whose rights a listing is judged by: a registry token's bearer by its
    /// account's current rights.
    async fn listing_subject(&self, subject: &Subject) -> Result<Subject> {
        Ok(match subject {
            Subject::RegistryToken {
                account: Some(account),
                ..
            } => match self.load_account(*account).await? {
                Some(account) => Subject::Account(account),
                None => Subject::Anonymous,
            },
            Subject::RegistryToken { account: None, .. } => Subject::Anonymous,
            other => other.clone(),
        })
    }

    /// Where a listing of what `subject` may `action` needs to look (see
    /// [`policy::Candidates`]); each entry found there is still judged on its own (for pulls,
    /// by [`Auth::pullable`]).
    pub async fn candidates(&self, subject: &Subject, action: Action) -> Result<Candidates> {
        Ok(policy::candidates(
            &self.listing_subject(subject).await?,
            action,
        ))
    }

    /// The repositories among `names` that `subject` may pull, in order. A registry token's
    /// bearer is judged by its account's current rights.
    pub async fn pullable(&self, subject: &Subject, names: Vec<String>) -> Result<Vec<String>> {
        self.allowed_repositories(subject, Action::Pull, names)
            .await
    }

    /// The repositories among `names` on which `subject` may take `action`, in order.
    pub async fn allowed_repositories(
        &self,
        subject: &Subject,
        action: Action,
        names: Vec<String>,
    ) -> Result<Vec<String>> {
        let subject = self.listing_subject(subject).await?;
        let mut public: HashMap<String, bool> = HashMap::new();
        let mut visible = Vec::new();
        for name in names {
            let project = name.split('/').next().unwrap_or(&name).to_owned();
            let is_public = match public.get(&project) {
                Some(flag) => *flag,
                None => {
                    let flag = self
                        .inner
                        .store
                        .project_by_name(&project)
                        .await?
                        .is_some_and(|p| p.public);
                    public.insert(project.clone(), flag);
                    flag
                }
            };
            let target = Target {
                project: Some(&project),
                repository: Some(&name),
                public: is_public,
            };
            if self.judge(&subject, action, &target) == Decision::Allow {
                visible.push(name);
            }
        }
        Ok(visible)
    }

    /// A registry token for `subject` carrying the subset of `scopes` (Docker scope strings,
    /// `repository:NAME:ACTIONS` or `registry:catalog:*`) it is allowed.
    pub async fn registry_token(&self, subject: &Subject, scopes: &[&str]) -> Result<IssuedToken> {
        let account = match subject {
            Subject::Anonymous => None,
            Subject::Account(account) => Some(account.id),
            // A registry token cannot mint registry tokens.
            Subject::RegistryToken { .. } => return Err(AuthError::Denied),
        };
        if scopes.len() > MAX_REQUESTED_SCOPES {
            return Err(AuthError::Invalid(format!(
                "at most {MAX_REQUESTED_SCOPES} scopes per token request"
            )));
        }
        let mut access: Vec<ResourceAccess> = Vec::new();
        for scope in scopes {
            let Some(requested) = policy::RequestedScope::parse(scope) else {
                continue;
            };
            let (kind, name, granted) = match requested {
                policy::RequestedScope::Repository {
                    name,
                    pull,
                    push,
                    delete,
                } => {
                    let mut granted = Vec::new();
                    for (asked, wanted, action) in [
                        (pull, "pull", Action::Pull),
                        (push, "push", Action::Push),
                        (delete, "delete", Action::Delete),
                    ] {
                        if asked
                            && self
                                .authorize(subject, action, Resource::Repository(name))
                                .await
                                .is_ok()
                        {
                            granted.push(wanted.to_owned());
                        }
                    }
                    ("repository", name, granted)
                }
                // A scoped token's bearer would list beyond its scopes through the token's
                // account (the catalog is filtered by the account's rights), so it gets none.
                policy::RequestedScope::Catalog if matches!(subject, Subject::Account(a) if a.scopes.is_none()) => {
                    ("registry", "catalog", vec!["*".to_owned()])
                }
                policy::RequestedScope::Catalog => ("registry", "catalog", Vec::new()),
            };
            if granted.is_empty() {
                continue;
            }
            match access.iter_mut().find(|a| a.kind == kind && a.name == name) {
                Some(existing) => {
                    for action in granted {
                        if !existing.actions.contains(&action) {
                            existing.actions.push(action);
                        }
                    }
                }
                None => access.push(ResourceAccess {
                    kind: kind.to_owned(),
                    name: name.to_owned(),
                    actions: granted,
                }),
            }
        }
        let config = &self.inner.config;
        let now = now_millis() / 1000;
        let ttl = i64::try_from(config.registry_token_ttl.as_secs()).unwrap_or(300);
        let claims = RegistryClaims {
            iss: config.issuer.clone(),
            sub: subject.display_name().to_owned(),
            aud: config.service.clone(),
            exp: now + ttl,
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            access,
            acct: account,
        };
        let token = self.key_ring().sign(&claims)?;
        Ok(IssuedToken {
            token,
            expires_in: config.registry_token_ttl.as_secs(),
        })
    }

    /// Makes a new signing key the one that signs; the old ones keep verifying until every
    /// token they signed has expired. Other nodes pick it up within their reload interval.
    pub async fn rotate_signing_key(store: &MetadataStore) -> Result<String> {
        let record = generate_signing_key(now_millis())?;
        store.insert_signing_key(&record).await?;
        store.retire_signing_keys_except(&record.kid).await?;
        Ok(record.kid)
    }
}

async fn load_key_ring(
    store: &MetadataStore,
    config: &AuthConfig,
    create_if_missing: bool,
) -> Result<KeyRing> {
    let ttl_ms = i64::try_from(config.registry_token_ttl.as_millis()).unwrap_or(i64::MAX);
    let retired_after = now_millis().saturating_sub(ttl_ms).saturating_sub(60_000);
    let mut records = store.signing_keys(retired_after).await?;
    if create_if_missing && !records.iter().any(|r| r.retired_at.is_none()) {
        // Two nodes starting together may both create one; both keys are valid and the newer
        // signs, so the race is harmless.
        let record = generate_signing_key(now_millis())?;
        store.insert_signing_key(&record).await?;
        records = store.signing_keys(retired_after).await?;
    }
    KeyRing::from_records(&records)
}
