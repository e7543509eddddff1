//! `bulwark`: the one binary. Subcommands own their flags and their printing; everything
//! else lives in the library crates.

mod config;
mod version_cmd;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use bulwark_blobstore::BlobStore;
use bulwark_metadata::MetadataStore;
use bulwark_registry::{Registry, RegistryLimits};
use bulwark_server::AppState;
use clap::{Parser, Subcommand};

use crate::config::{Config, FlagOverrides, LogFormat};

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
    },
    /// Print the effective configuration (after file, environment and flags) as TOML.
    Config,
    /// Compare and sort versions exactly as the vulnerability matcher orders them.
    #[command(subcommand)]
    Version(version_cmd::VersionCommand),
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

async fn open_registry(config: &Config) -> anyhow::Result<Registry> {
    let blobs = BlobStore::open_local(&config.data_dir.join("blobs"))
        .with_context(|| format!("opening blob storage in {}", config.data_dir.display()))?;
    let metadata = if config.database_url.is_empty() {
        MetadataStore::open_sqlite_in(&config.data_dir).await
    } else {
        MetadataStore::connect(&config.database_url, 32).await
    }
    .context("opening the metadata database")?;
    let limits = RegistryLimits {
        max_blob_size: config.max_blob_size,
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
    let registry = open_registry(&config).await?;
    // Reclaim what a previous process left behind before taking traffic.
    registry
        .sweep_uploads()
        .await
        .context("sweeping stale uploads")?;
    let sweep_every = Duration::from_secs((config.upload_ttl_secs / 4).clamp(1, 300));
    bulwark_server::spawn_upload_sweeper(registry.clone(), sweep_every);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, data_dir = %config.data_dir.display(), "bulwark registry listening");
    let router = bulwark_server::router(AppState { registry });
    bulwark_server::serve(listener, router, shutdown_signal()).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole context chain on one line, without a backtrace.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            listen,
            data_dir,
            log_format,
        } => {
            let flags = FlagOverrides {
                listen,
                data_dir,
                log_format,
            };
            let config = Config::load(cli.config.as_deref(), &flags)?;
            init_logging(config.log_format);
            serve(config).await
        }
        Command::Version(command) => version_cmd::run(command),
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
    }
}
