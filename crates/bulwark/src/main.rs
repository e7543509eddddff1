//! `bulwark`: the one binary. Subcommands own their flags and their printing; everything
//! else lives in the library crates.

mod access_cmd;
mod admin_cmd;
mod audit_cmd;
mod client;
mod config;
mod db_cmd;
mod governance_cmd;
mod keys_cmd;
mod report_cmd;
mod scan_cmd;
mod version_cmd;
mod webhook_cmd;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use bulwark_auth::{Auth, AuthConfig};
use bulwark_blobstore::BlobStore;
use bulwark_metadata::MetadataStore;
use bulwark_registry::supervisor::{Placement, Supervisor};
use bulwark_registry::{Registry, RegistryLimits};
use bulwark_scan::service::{ScanSettings, Scanner};
use bulwark_server::AppState;
use bulwark_vulndb::VulnDb;
use clap::{Parser, Subcommand};

use crate::config::{Config, FlagOverrides, LogFormat};

// glibc's allocator hands the buffers a push cycles through (request chunks, batches) back
// to the kernel and faults them in again; with mimalloc a 1 GiB push took 0.71-0.79x
// openssl's hashing rate against 0.56-0.64x, and 8-20% less server CPU
// (scripts/transfer.sh, the two builds alternated).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "bulwark",
    version,
    about = "A secure artifact registry",
    propagate_version = true
)]
struct Cli {
    /// TOML configuration file; `BULWARK_*` variables and flags override it.
    #[arg(long, global = true, env = "BULWARK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry.
    Serve {
        /// Address to listen on [default: 127.0.0.1:5000; env: BULWARK_LISTEN]
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Directory for blobs and embedded metadata [default: ./bulwark-data; env: BULWARK_DATA_DIR]
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Log format [default: text; env: BULWARK_LOG_FORMAT]
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
        /// Serve TLS with this certificate chain (PEM), reloaded when it changes
        /// [env: BULWARK_TLS_CERT_FILE]
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<String>,
        /// The certificate's private key (PEM) [env: BULWARK_TLS_KEY_FILE]
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<String>,
        /// Accept client certificates issued by these CAs (PEM) as credentials: the subject's
        /// common name names the user or robot [env: BULWARK_TLS_CLIENT_CA_FILE]
        #[arg(long)]
        tls_client_ca: Option<String>,
        /// Serve plain HTTP on a non-loopback address (behind a TLS-terminating proxy)
        /// [env: BULWARK_INSECURE_HTTP]
        #[arg(long)]
        insecure_http: bool,
    },
    /// Print the effective configuration (after file, environment and flags) as TOML.
    Config,
    /// Compare and sort versions exactly as the vulnerability matcher orders them.
    #[command(subcommand)]
    Version(version_cmd::VersionCommand),
    /// The vulnerability database: import, update from osv.dev, status, query.
    #[command(subcommand)]
    Db(db_cmd::DbCommand),
    /// Offline administration on the data directory (first administrator, signing keys).
    #[command(subcommand)]
    Admin(admin_cmd::AdminCommand),
    /// Sign in to a registry's management API and remember the access token.
    Login(access_cmd::LoginArgs),
    /// Forget the stored login (and revoke the token it created).
    Logout,
    /// Show who the stored login is.
    Whoami(access_cmd::OutputArgs),
    /// Manage users (system administrators).
    #[command(subcommand)]
    User(access_cmd::UserCommand),
    /// Manage projects.
    #[command(subcommand)]
    Project(access_cmd::ProjectCommand),
    /// Manage project members and their roles.
    #[command(subcommand)]
    Member(access_cmd::MemberCommand),
    /// Manage robot accounts.
    #[command(subcommand)]
    Robot(access_cmd::RobotCommand),
    /// Manage access tokens (yours, or a robot's with --robot).
    #[command(subcommand)]
    Token(access_cmd::TokenCommand),
    /// Scan an image layout, a root filesystem or a lock file for known vulnerabilities,
    /// with no server (exit status 3 when --fail-on is met)
    Scan(scan_cmd::ScanArgs),
    /// Show a stored artifact's scan: status, components and findings
    Report(report_cmd::ReportArgs),
    /// Scan a stored artifact again
    Rescan(report_cmd::RescanArgs),
    /// List the stored artifacts a vulnerability (or a package) affects
    Impact(report_cmd::ImpactArgs),
    /// Manage policies: set, show and list the versions of a project's (or the system's),
    /// and check an artifact against one (exit status 3 when blocked)
    #[command(subcommand)]
    Policy(governance_cmd::PolicyCommand),
    /// Manage the public keys a project trusts for signatures
    #[command(subcommand)]
    Trust(governance_cmd::TrustCommand),
    /// Manage exceptions: reasoned, expiring waivers of one vulnerability
    #[command(subcommand)]
    Exception(governance_cmd::ExceptionCommand),
    /// Manage a project's VEX documents
    #[command(subcommand)]
    Vex(governance_cmd::VexCommand),
    /// Copy a stored artifact and its referrers into another project, if that project's
    /// policy allows it
    Promote(governance_cmd::PromoteArgs),
    /// The audit log: list and export records (through the API), verify the chain and its
    /// signed checkpoints, print the checkpoint key, prune (on the store)
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Manage webhooks: a project's, or the system's; their deliveries, redelivery
    #[command(subcommand)]
    Webhook(webhook_cmd::WebhookCommand),
    /// Encryption at rest: make a key-encryption key, re-wrap data keys under the current
    /// one, seal blobs stored before encryption was on (on the data directory)
    #[command(subcommand)]
    Keys(keys_cmd::KeysCommand),
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BULWARK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub(crate) async fn open_metadata(config: &Config) -> anyhow::Result<MetadataStore> {
    if config.database_url.is_empty() {
        MetadataStore::open_sqlite_in(&config.data_dir).await
    } else {
        MetadataStore::connect(&config.database_url, 32).await
    }
    .context("opening the metadata database")
}

pub(crate) fn auth_config(config: &Config) -> anyhow::Result<AuthConfig> {
    anyhow::ensure!(
        (5..=3600).contains(&config.registry_token_ttl_secs),
        "registry_token_ttl_secs must be between 5 and 3600"
    );
    anyhow::ensure!(
        config.access_token_default_days >= 1
            && config.access_token_default_days <= config.access_token_max_days,
        "access_token_default_days must be between 1 and access_token_max_days"
    );
    Ok(AuthConfig {
        service: config.token_service.clone(),
        issuer: config.token_service.clone(),
        registry_token_ttl: Duration::from_secs(config.registry_token_ttl_secs),
        access_token_default_days: config.access_token_default_days,
        access_token_max_days: config.access_token_max_days,
        failures_before_backoff: config.auth_failures_before_backoff,
    })
}

async fn open_registry(
    config: &Config,
    metadata: MetadataStore,
    keys: Option<std::sync::Arc<dyn bulwark_blobstore::KeyEncryption>>,
) -> anyhow::Result<Registry> {
    let blobs = BlobStore::open_local(&config.data_dir.join("blobs"), config.direct_io)
        .with_context(|| format!("opening blob storage in {}", config.data_dir.display()))?;
    let blobs = match keys {
        Some(keys) => blobs.encrypted(keys, config.encryption_plaintext_reads),
        None => blobs,
    };
    let limits = RegistryLimits {
        max_blob_size: config.max_blob_size,
        max_upload_chunks: config.max_upload_chunks,
        max_manifest_size: config.max_manifest_size,
        upload_ttl: Duration::from_secs(config.upload_ttl_secs),
        ..RegistryLimits::default()
    };
    Ok(Registry::new(blobs, metadata, limits))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    ctrl_c.await.ok();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
    tracing::info!("shutting down");
}

async fn serve(config: Config) -> anyhow::Result<()> {
    bulwark_registry::arm_faults_from_env();
    let tls = match config.tls_files()? {
        Some(files) => Some(std::sync::Arc::new(
            bulwark_server::Tls::load(files).context("loading the TLS certificate")?,
        )),
        None => None,
    };
    config.check_exposure(tls.is_some())?;
    let auth_settings = auth_config(&config)?;
    let metadata = open_metadata(&config).await?;
    let auth = Auth::new(metadata.clone(), auth_settings)
        .await
        .context("loading the token signing keys")?;
    let metadata_for_jobs = metadata.clone();
    // One set of key-encryption keys: blobs, upload states and webhook secrets.
    let keys: Option<std::sync::Arc<dyn bulwark_blobstore::KeyEncryption>> =
        match config.encryption_keys()? {
            Some(keys) => Some(std::sync::Arc::new(keys)),
            None => None,
        };
    let registry = open_registry(&config, metadata.clone(), keys.clone()).await?;
    // Reclaim what a previous process left behind before taking traffic.
    registry
        .sweep_uploads()
        .await
        .context("sweeping stale uploads")?;
    let sweep_every = Duration::from_secs((config.upload_ttl_secs / 4).clamp(1, 300));
    let mut background = Supervisor::new(metadata_for_jobs);
    let scanner = Scanner::new(
        metadata.clone(),
        registry.clone(),
        VulnDb::new(metadata.clone()),
        ScanSettings {
            advisory_base_url: config.advisory_base_url.clone(),
            advisory_ecosystems: config.advisory_ecosystems.clone(),
            advisory_max_age: Duration::from_secs(
                config.advisory_max_age_hours.saturating_mul(3600),
            ),
            ..ScanSettings::default()
        },
        background.node(),
    );
    scanner.schedule(&mut background);
    let audit_signer = bulwark_audit::CheckpointSigner::load_or_create(&config.audit_key_path())
        .with_context(|| {
            format!(
                "loading the audit signing key {}",
                config.audit_key_path().display()
            )
        })?;
    let audit = bulwark_audit::AuditLog::start(metadata.clone(), audit_signer);
    if config.audit_retention_days > 0 {
        let audit = audit.clone();
        let keep = Duration::from_secs(config.audit_retention_days.saturating_mul(86_400));
        background.every(
            "audit-retention",
            Duration::from_secs(3600),
            Placement::OneNode,
            move || {
                let audit = audit.clone();
                async move {
                    let before = bulwark_audit::now_millis()
                        .saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX));
                    audit.cut(before).await.map(|_| ())
                }
            },
        );
    }
    let webhooks = bulwark_webhooks::Webhooks::new(
        metadata.clone(),
        bulwark_webhooks::WebhookSettings {
            retry_base: Duration::from_secs(config.webhook_retry_base_secs.max(1)),
            max_attempts: config.webhook_max_attempts.max(1),
            allow_private_networks: config.webhook_allow_private_networks,
            ..bulwark_webhooks::WebhookSettings::default()
        },
    )
    .context("setting up webhooks")?;
    let webhooks = match keys {
        Some(keys) => webhooks.sealing_secrets(keys),
        None => webhooks,
    };
    {
        // Events reach receivers within about a second of their commit.
        let webhooks = webhooks.clone();
        background.every(
            "webhooks",
            Duration::from_secs(1),
            Placement::OneNode,
            move || {
                let webhooks = webhooks.clone();
                async move { webhooks.run().await.map(|_| ()) }
            },
        );
    }
    let governance = bulwark_governance::Governance::new(
        metadata,
        registry.clone(),
        scanner.clone(),
        bulwark_governance::GovernanceSettings::default(),
        bulwark_governance::Clock::system(),
    );
    {
        let registry = registry.clone();
        background.every("upload-sweep", sweep_every, Placement::OneNode, move || {
            let registry = registry.clone();
            async move { registry.sweep_uploads().await.map(|_| ()) }
        });
    }
    {
        // Every node signs with the newest key within this interval of a rotation.
        let auth = auth.clone();
        background.every(
            "signing-key-reload",
            Duration::from_secs(30),
            Placement::EveryNode,
            move || {
                let auth = auth.clone();
                async move { auth.reload_keys().await }
            },
        );
    }
    if let Some(tls) = &tls {
        // Every node serves a renewed certificate within this interval.
        let tls = tls.clone();
        background.every(
            "tls-reload",
            Duration::from_secs(config.tls_reload_secs.max(1)),
            Placement::EveryNode,
            move || {
                let tls = tls.clone();
                async move { tls.reload_if_changed().map(|_| ()) }
            },
        );
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%address, scheme, data_dir = %config.data_dir.display(), "bulwark registry listening");
    let public_url = (!config.public_url.is_empty()).then(|| config.public_url.clone());
    let limits = bulwark_server::ConnectionLimits {
        max_connections: config.max_connections,
        header_read_timeout: Duration::from_secs(config.header_read_timeout_secs.max(1)),
        request_timeout: Duration::from_secs(config.request_timeout_secs.max(1)),
        ..bulwark_server::ConnectionLimits::default()
    };
    let metrics = std::sync::Arc::new(bulwark_server::Metrics::new(&scanner, &governance));
    let router = bulwark_server::router(
        AppState {
            registry,
            auth,
            scanner,
            governance,
            public_url,
            trusted_proxies: config.trusted_proxies.clone(),
            audit: audit.clone(),
            audit_reads: config.audit_reads,
            metrics,
            webhooks,
            serves_tls: tls.is_some(),
        },
        limits.request_timeout,
    );
    let served = bulwark_server::serve(listener, router, limits, tls, shutdown_signal()).await;
    background.shutdown().await;
    // After the last request: every record they queued is written and sealed.
    audit.shutdown().await;
    served?;
    Ok(())
}

/// Picks up signing keys rotated by `bulwark admin rotate-signing-key` or another node.
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(error) => {
            // `{:#}` prints the whole context chain on one line, without a backtrace.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    if let Command::Scan(args) = cli.command {
        return scan_cmd::run(cli.config.as_deref(), args).await;
    }
    if let Command::Audit(command) = cli.command {
        return audit_cmd::run(cli.config.as_deref(), command).await;
    }
    if let Command::Policy(command) = cli.command {
        return governance_cmd::policy(command).await;
    }
    command(cli).await.map(|()| std::process::ExitCode::SUCCESS)
}

async fn command(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            listen,
            data_dir,
            log_format,
            tls_cert,
            tls_key,
            tls_client_ca,
            insecure_http,
        } => {
            let flags = FlagOverrides {
                listen,
                data_dir,
                log_format,
                tls_cert,
                tls_key,
                tls_client_ca,
                insecure_http: insecure_http.then_some(true),
            };
            let config = Config::load(cli.config.as_deref(), &flags)?;
            init_logging(config.log_format);
            serve(config).await
        }
        Command::Version(command) => version_cmd::run(command),
        Command::Db(command) => db_cmd::run(cli.config.as_deref(), command).await,
        Command::Admin(command) => admin_cmd::run(cli.config.as_deref(), command).await,
        Command::Login(args) => access_cmd::login(args).await,
        Command::Logout => access_cmd::logout().await,
        Command::Whoami(output) => access_cmd::whoami(output).await,
        Command::User(command) => access_cmd::user(command).await,
        Command::Project(command) => access_cmd::project(command).await,
        Command::Member(command) => access_cmd::member(command).await,
        Command::Robot(command) => access_cmd::robot(command).await,
        Command::Token(command) => access_cmd::token(command).await,
        Command::Report(args) => report_cmd::report(args).await,
        Command::Rescan(args) => report_cmd::rescan(args).await,
        Command::Impact(args) => report_cmd::impact(args).await,
        Command::Trust(command) => governance_cmd::trust(command).await,
        Command::Exception(command) => governance_cmd::exception(command).await,
        Command::Vex(command) => governance_cmd::vex(command).await,
        Command::Promote(args) => governance_cmd::promote(args).await,
        Command::Webhook(command) => webhook_cmd::run(command).await,
        Command::Keys(command) => keys_cmd::run(cli.config.as_deref(), command).await,
        Command::Policy(_) => anyhow::bail!("policy runs on its own"),
        Command::Audit(_) => anyhow::bail!("audit runs on its own"),
        Command::Config => {
            let config = Config::load(cli.config.as_deref(), &FlagOverrides::default())?;
            // The database URL may embed a password.
            let mut shown = config.clone();
            if !shown.database_url.is_empty() {
                shown.database_url = "<set>".into();
            }
            print!("{}", toml::to_string(&shown)?);
            Ok(())
        }
        Command::Scan(_) => anyhow::bail!("scan runs on its own"),
    }
}
