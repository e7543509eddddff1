//! `bulwark audit …`: reading the audit log through the API (`list`, `export`), and
//! checking or pruning it on the store itself (`verify`, `prune`, `public-key`), which needs
//! no server and trusts nothing but the store's bytes and the public keys given.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bulwark_audit::{AuditEvent, Category, CheckpointSigner, Outcome};
use bulwark_oci::RequestContext;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::access_cmd::{OutputArgs, table};
use crate::client::{ApiClient, encode};
use crate::config::{Config, FlagOverrides};

/// Exit status of `audit verify` when the log is not intact.
const TAMPERED: u8 = 3;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// List audit records, newest first (through the API of the stored login)
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// Records to show (at most 1000)
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Write every matching record as JSON lines, oldest page last, with its chain hashes
    Export {
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Check the log on the store: every record's hash, every link, every checkpoint's
    /// signature (exit status 3 when anything is wrong)
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// A trusted public key (PEM); repeat for every node's. Default: this node's key file
        #[arg(long = "public-key")]
        public_keys: Vec<PathBuf>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Print this node's checkpoint public key (PEM), to keep where the log's writers
    /// cannot change it
    PublicKey {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove records older than a date, leaving a signed cut that verification accepts
    Prune {
        #[command(flatten)]
        store: StoreArgs,
        /// RFC 3339 time or a date (UTC)
        #[arg(long)]
        before: String,
    },
}

#[derive(Args)]
pub struct FilterArgs {
    /// Records at or after this time (RFC 3339 or a date, UTC)
    #[arg(long)]
    since: Option<String>,
    /// Records before this time
    #[arg(long)]
    until: Option<String>,
    /// Only this actor's records
    #[arg(long)]
    actor: Option<String>,
    /// Only this project's records
    #[arg(long)]
    project: Option<String>,
    /// A category (auth, pull, push, delete, read, change, admin) or part of the operation
    #[arg(long)]
    action: Option<String>,
    /// success, denied, failure or cancelled
    #[arg(long)]
    outcome: Option<String>,
}

impl FilterArgs {
    fn query(&self) -> String {
        [
            ("since", &self.since),
            ("until", &self.until),
            ("actor", &self.actor),
            ("project", &self.project),
            ("action", &self.action),
            ("outcome", &self.outcome),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={}", encode(v))))
        .collect::<Vec<_>>()
        .join("&")
    }
}

#[derive(Args)]
pub struct StoreArgs {
    /// Data directory of the registry [env: BULWARK_DATA_DIR]
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn load(config_file: Option<&Path>, store: &StoreArgs) -> anyhow::Result<Config> {
    let flags = FlagOverrides {
        data_dir: store.data_dir.clone(),
        ..FlagOverrides::default()
    };
    Ok(Config::load(config_file, &flags)?)
}

pub async fn run(
    config_file: Option<&Path>,
    command: AuditCommand,
) -> anyhow::Result<std::process::ExitCode> {
    match command {
        AuditCommand::List {
            filter,
            limit,
            output,
        } => {
            let client = ApiClient::from_login()?;
            let separator = if filter.query().is_empty() { "" } else { "&" };
            let page = client
                .get(&format!(
                    "/api/v1/audit?limit={}{separator}{}",
                    limit.clamp(1, 1000),
                    filter.query()
                ))
                .await?;
            if output.json {
                println!("{}", serde_json::to_string_pretty(&page["items"])?);
            } else {
                print_records(page["items"].as_array().map_or(&[][..], Vec::as_slice));
            }
        }
        AuditCommand::Export { filter } => {
            let client = ApiClient::from_login()?;
            for record in client
                .get_all(&format!("/api/v1/audit?{}", filter.query()))
                .await?
            {
                println!("{}", serde_json::to_string(&record)?);
            }
        }
        AuditCommand::Verify {
            store,
            public_keys,
            output,
        } => {
            let config = load(config_file, &store)?;
            let keys = if public_keys.is_empty() {
                let path = config.audit_key_path();
                vec![
                    CheckpointSigner::load(&path)
                        .with_context(|| format!("reading {}", path.display()))?
                        .verifying_key(),
                ]
            } else {
                public_keys
                    .iter()
                    .map(|path| {
                        let pem = std::fs::read_to_string(path)
                            .with_context(|| format!("reading {}", path.display()))?;
                        bulwark_audit::parse_public_key(&pem)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?
            };
            let metadata = crate::open_metadata(&config).await?;
            let report = bulwark_audit::verify(&metadata, &keys).await?;
            if output.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&report);
            }
            if !report.intact() {
                return Ok(std::process::ExitCode::from(TAMPERED));
            }
        }
        AuditCommand::PublicKey { store } => {
            let config = load(config_file, &store)?;
            let signer = CheckpointSigner::load_or_create(&config.audit_key_path())?;
            print!("{}", signer.public_key_pem()?);
        }
        AuditCommand::Prune { store, before } => {
            let config = load(config_file, &store)?;
            let before_millis = bulwark_audit::parse_time(&before)?;
            let signer = CheckpointSigner::load_or_create(&config.audit_key_path())?;
            let metadata = crate::open_metadata(&config).await?;
            let removed = bulwark_audit::cut(&metadata, &signer, before_millis).await?;
            // The prune itself is an action on the log: recorded in the log it pruned.
            record_command(
                &config,
                &metadata,
                "bulwark audit prune",
                "audit log",
                format!("removed {removed} records before {before}"),
            )
            .await?;
            println!("removed {removed} records older than {before}; the cut is signed");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Records a command run on the store itself (no server saw it), signed at once with this
/// node's checkpoint key.
pub(crate) async fn record_command(
    config: &Config,
    metadata: &bulwark_metadata::MetadataStore,
    operation: &str,
    target: &str,
    detail: String,
) -> anyhow::Result<()> {
    let signer = CheckpointSigner::load_or_create(&config.audit_key_path())?;
    let event = AuditEvent {
        context: RequestContext::internal(&local_actor(), bulwark_audit::now_millis()),
        category: Category::Admin,
        operation: operation.to_owned(),
        target: target.to_owned(),
        project: None,
        outcome: Outcome::Success,
        status: 0,
        detail,
    };
    bulwark_audit::append_now(metadata, &signer, vec![event]).await?;
    Ok(())
}

/// Who ran a command on the store: the operating system's user.
fn local_actor() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!("local:{user}")
}

fn field(record: &Value, key: &str) -> String {
    match &record[key] {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn print_records(records: &[Value]) {
    let rows = records
        .iter()
        .map(|record| {
            vec![
                field(record, "seq"),
                field(record, "time"),
                field(record, "actor"),
                field(record, "client_address"),
                field(record, "operation"),
                field(record, "target"),
                format!("{} {}", field(record, "outcome"), field(record, "status")),
                field(record, "detail"),
            ]
        })
        .collect();
    table(
        &[
            "SEQ",
            "TIME",
            "ACTOR",
            "CLIENT",
            "OPERATION",
            "TARGET",
            "OUTCOME",
            "DETAIL",
        ],
        rows,
    );
}

fn print_report(report: &bulwark_audit::VerifyReport) {
    let range = match (report.first_seq, report.last_seq) {
        (Some(first), Some(last)) => format!(" (#{first} to #{last})"),
        _ => String::new(),
    };
    println!(
        "{} records{range}; {} signed checkpoints; signed through {}; {} records after the last checkpoint",
        report.records,
        report.checkpoints,
        report
            .signed_through
            .map_or_else(|| "nothing".to_owned(), |seq| format!("#{seq}")),
        report.unsigned_records
    );
    if report.intact() {
        println!("intact: every record hashes to its stored hash and links to the one before");
        return;
    }
    let rows = report
        .problems
        .iter()
        .map(|problem| {
            vec![
                problem.seq.to_string(),
                problem.kind.to_owned(),
                problem.message.clone(),
            ]
        })
        .collect();
    table(&["SEQ", "PROBLEM", "DETAIL"], rows);
}
