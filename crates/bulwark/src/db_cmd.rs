//! `bulwark db import|update|status|query`: the vulnerability database in the metadata store.
//! The commands take the same `--data-dir`, configuration file and `BULWARK_*` settings as
//! `serve` and work while a server runs on that store. Tables for people, `--json` for
//! scripts; progress and skipped records go to stderr (a progress bar on a terminal, plain
//! lines otherwise).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bulwark_vulndb::{ImportReport, Progress, QueryReport, Status, VulnDb};
use clap::{ArgGroup, Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::access_cmd::table;
use crate::config::{Config, FlagOverrides};

#[derive(Args)]
pub struct StoreArgs {
    /// Data directory of the registry [env: BULWARK_DATA_DIR]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Import OSV records from directories of .json/.yaml files, .zip archives (osv.dev's
    /// all.zip) or .jsonl files. Each path is applied all-or-nothing; malformed records are
    /// reported and skipped.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Download and import osv.dev's per-ecosystem archives ({base-url}/{ecosystem}/all.zip).
    Update {
        /// Where the archives are [default: setting advisory_base_url]
        #[arg(long)]
        base_url: Option<String>,
        /// An OSV ecosystem to update, repeatable [default: setting advisory_ecosystems]
        #[arg(long = "ecosystem", short)]
        ecosystems: Vec<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show records per ecosystem, the last update and the age of the data.
    Status {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show the advisories affecting one package version, with the versions that fix them.
    // `--version` is the package's here, not the program's.
    #[command(
        disable_version_flag = true,
        group(ArgGroup::new("package").required(true).args(["purl", "ecosystem"]))
    )]
    Query {
        /// The package as a purl with a version, e.g. pkg:pypi/django@2.2.0
        #[arg(long)]
        purl: Option<String>,
        /// OSV ecosystem, e.g. PyPI, npm, crates.io, Maven, Debian:12
        #[arg(long, short, requires_all = ["name", "package_version"])]
        ecosystem: Option<String>,
        /// Package name as the ecosystem writes it
        #[arg(long, short, requires = "ecosystem")]
        name: Option<String>,
        /// Package version
        #[arg(
            long = "version",
            short = 'v',
            id = "package_version",
            requires = "ecosystem"
        )]
        package_version: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

async fn open(config_file: Option<&Path>, store: &StoreArgs) -> anyhow::Result<(Config, VulnDb)> {
    let flags = FlagOverrides {
        data_dir: store.data_dir.clone(),
        ..FlagOverrides::default()
    };
    let config = Config::load(config_file, &flags)?;
    let metadata = crate::open_metadata(&config).await?;
    Ok((config, VulnDb::new(metadata)))
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub async fn run(config_file: Option<&Path>, command: DbCommand) -> anyhow::Result<()> {
    match command {
        DbCommand::Import { paths, store } => {
            let (_, vulndb) = open(config_file, &store).await?;
            let mut display = ProgressDisplay::new();
            let reports = vulndb
                .import(&paths, &mut |progress| display.show(progress))
                .await;
            print_reports(&reports, store.json)
        }
        DbCommand::Update {
            base_url,
            ecosystems,
            store,
        } => {
            let (config, vulndb) = open(config_file, &store).await?;
            let base_url = base_url.unwrap_or(config.advisory_base_url);
            let ecosystems = if ecosystems.is_empty() {
                config.advisory_ecosystems
            } else {
                ecosystems
            };
            anyhow::ensure!(
                !ecosystems.is_empty(),
                "no ecosystems to update: pass --ecosystem or set advisory_ecosystems"
            );
            let mut display = ProgressDisplay::new();
            let reports = vulndb
                .update(&base_url, &ecosystems, &mut |progress| {
                    display.show(progress)
                })
                .await;
            print_reports(&reports, store.json)
        }
        DbCommand::Status { store } => {
            let (config, vulndb) = open(config_file, &store).await?;
            let status = vulndb
                .status()
                .await
                .context("reading the advisory store")?;
            let max_age = config.advisory_max_age_hours.saturating_mul(3600);
            let stale = status
                .last_import
                .as_ref()
                .is_none_or(|last| last.age_seconds >= max_age);
            if store.json {
                let mut shown = serde_json::to_value(&status)?;
                shown["stale"] = stale.into();
                shown["max_age_seconds"] = max_age.into();
                print_json(&shown)
            } else {
                print_status(&status);
                if stale && status.records > 0 {
                    eprintln!(
                        "warning: the advisory data is older than advisory_max_age_hours ({}): run `bulwark db update`",
                        config.advisory_max_age_hours
                    );
                }
                Ok(())
            }
        }
        DbCommand::Query {
            purl,
            ecosystem,
            name,
            package_version,
            store,
        } => {
            let (_, vulndb) = open(config_file, &store).await?;
            let report = match (purl, ecosystem, name, package_version) {
                (Some(purl), ..) => vulndb.query_purl(&purl).await?,
                (None, Some(ecosystem), Some(name), Some(version)) => {
                    vulndb.query(&ecosystem, &name, &version).await?
                }
                _ => anyhow::bail!("give --purl, or --ecosystem with --name and --version"),
            };
            if store.json {
                print_json(&report)
            } else {
                print_query(&report);
                Ok(())
            }
        }
    }
}

/// Progress on stderr: a bar per download or source on a terminal, a line per step
/// otherwise; skipped records as warnings either way.
struct ProgressDisplay {
    terminal: bool,
    /// The bar and what it shows (download URL or source being read).
    bar: Option<(ProgressBar, String)>,
}

impl ProgressDisplay {
    fn new() -> ProgressDisplay {
        ProgressDisplay {
            terminal: std::io::stderr().is_terminal(),
            bar: None,
        }
    }

    /// The bar for `key`, replacing any other.
    fn bar(&mut self, key: String, make: impl FnOnce() -> ProgressBar) -> &ProgressBar {
        if self
            .bar
            .as_ref()
            .is_some_and(|(_, current)| *current != key)
        {
            self.finish();
        }
        &self.bar.get_or_insert_with(|| (make(), key)).0
    }

    fn finish(&mut self) {
        if let Some((bar, _)) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn show(&mut self, progress: Progress<'_>) {
        match progress {
            Progress::Download {
                url,
                received,
                total,
            } => {
                if self.terminal {
                    let bar = self.bar(format!("download {url}"), || {
                        let style = match total {
                            Some(_) => "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                            None => "{spinner} {msg} {bytes} {bytes_per_sec}",
                        };
                        new_bar(total, style, format!("downloading {url}"))
                    });
                    bar.set_position(received);
                } else if received == 0 {
                    eprintln!("downloading {url}");
                }
            }
            Progress::Read {
                source,
                records,
                total,
            } if self.terminal => {
                let bar = self.bar(format!("read {source}"), || {
                    let style = match total {
                        Some(_) => "{msg} [{bar:30}] {pos}/{len} records",
                        None => "{spinner} {msg} {pos} records",
                    };
                    new_bar(total, style, format!("importing {source}"))
                });
                bar.set_position(records);
            }
            Progress::Apply { source } => {
                if self.terminal {
                    let bar = self.bar(format!("apply {source}"), || {
                        new_bar(None, "{spinner} {msg}", format!("applying {source}"))
                    });
                    bar.tick();
                } else {
                    eprintln!("applying {source}");
                }
            }
            Progress::Done { report } => {
                self.finish();
                for bad in &report.malformed {
                    eprintln!(
                        "warning: skipped record {} ({}): {}",
                        bad.id.as_deref().unwrap_or("without readable id"),
                        bad.location,
                        bad.message
                    );
                }
                match &report.failure {
                    Some(failure) => eprintln!(
                        "error: {failure} (nothing of {} was applied)",
                        report.source
                    ),
                    None if report.not_modified => {
                        eprintln!("{}: not modified since the last update", report.source);
                    }
                    None if !self.terminal => eprintln!(
                        "imported {}: {} added, {} replaced, {} unchanged, {} skipped",
                        report.source,
                        report.added,
                        report.replaced,
                        report.unchanged,
                        report.malformed.len()
                    ),
                    None => {}
                }
            }
            _ => {}
        }
    }
}

fn new_bar(total: Option<u64>, template: &str, message: String) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

fn print_reports(reports: &[ImportReport], json: bool) -> anyhow::Result<()> {
    if json {
        print_json(&reports)?;
    } else {
        let rows = reports
            .iter()
            .map(|r| {
                vec![
                    r.source.clone(),
                    r.read.to_string(),
                    r.added.to_string(),
                    r.replaced.to_string(),
                    r.unchanged.to_string(),
                    r.withdrawn.to_string(),
                    r.malformed.len().to_string(),
                    match (&r.failure, r.not_modified) {
                        (Some(_), _) => "failed",
                        (None, true) => "not modified",
                        (None, false) => "ok",
                    }
                    .to_owned(),
                ]
            })
            .collect();
        table(
            &[
                "source",
                "read",
                "added",
                "replaced",
                "unchanged",
                "withdrawn",
                "skipped",
                "result",
            ],
            rows,
        );
    }
    let failed = reports.iter().filter(|r| r.failure.is_some()).count();
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} sources failed; their data was left as it was",
        reports.len()
    );
    Ok(())
}

/// `3d 4h` style, to the two largest units.
pub(crate) fn age(seconds: u64) -> String {
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let parts: Vec<String> = units
        .iter()
        .scan(seconds, |left, (unit, size)| {
            let count = *left / size;
            *left %= size;
            Some((count, unit))
        })
        .skip_while(|(count, _)| *count == 0)
        .take(2)
        .filter(|(count, _)| *count > 0)
        .map(|(count, unit)| format!("{count}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

fn print_status(status: &Status) {
    if status.records == 0 {
        println!(
            "the vulnerability database is empty: run `bulwark db update` or `bulwark db import PATH`"
        );
        return;
    }
    println!(
        "{} records ({} withdrawn), newest modified {}",
        status.records,
        status.withdrawn,
        status.newest_modified.as_deref().unwrap_or("-")
    );
    if let Some(last) = &status.last_import {
        println!(
            "last import {} ({} ago) from {}",
            last.finished_at,
            age(last.age_seconds),
            last.source
        );
    }
    let rows = status
        .ecosystems
        .iter()
        .map(|e| {
            vec![
                e.ecosystem.clone(),
                e.records.to_string(),
                e.withdrawn.to_string(),
                e.last_import_at.clone(),
                age(e.age_seconds),
                e.last_source.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ecosystem",
            "records",
            "withdrawn",
            "last import",
            "age",
            "source",
        ],
        rows,
    );
}

fn print_query(report: &QueryReport) {
    let package = format!("{} {} {}", report.ecosystem, report.name, report.version);
    if report.vulnerabilities.is_empty() {
        println!("no known vulnerability affects {package}");
    } else {
        match report.vulnerabilities.len() {
            1 => println!("1 known vulnerability affects {package}:"),
            n => println!("{n} known vulnerabilities affect {package}:"),
        }
        let rows = report
            .vulnerabilities
            .iter()
            .map(|v| {
                let rating = match (&v.severity.rating, v.severity.score) {
                    (Some(rating), Some(score)) => format!("{rating} {score:.1}"),
                    (Some(rating), None) => rating.clone(),
                    _ => "unknown".into(),
                };
                let severity = match (&v.severity.source, &v.severity.record) {
                    (Some(source), Some(record)) => format!("{rating}\n{source} ({record})"),
                    _ => rating,
                };
                let fixed = if v.fixed.is_empty() {
                    "no fix known".to_owned()
                } else {
                    v.fixed.join(", ")
                };
                let also: Vec<&str> = v
                    .records
                    .iter()
                    .chain(&v.aliases)
                    .map(String::as_str)
                    .filter(|id| *id != v.id)
                    .collect();
                vec![
                    v.id.clone(),
                    severity,
                    fixed,
                    also.join(", "),
                    v.summary.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &[
                "vulnerability",
                "severity",
                "fixed in",
                "also known as",
                "summary",
            ],
            rows,
        );
    }
    for undetermined in &report.undetermined {
        println!(
            "undetermined: {} names the package but cannot be evaluated: {}",
            undetermined.id, undetermined.reason
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: DbCommand,
    }

    #[test]
    fn the_commands_parse() {
        use clap::{CommandFactory, Parser};
        Cli::command().debug_assert();
        let query = Cli::try_parse_from(["db", "query", "-e", "PyPI", "-n", "x", "-v", "1"]);
        assert!(query.is_ok());
        assert!(Cli::try_parse_from(["db", "query", "-e", "PyPI", "-n", "x"]).is_err());
        assert!(Cli::try_parse_from(["db", "query"]).is_err());
        assert!(Cli::try_parse_from(["db", "import"]).is_err());
    }

    #[test]
    fn ages_show_the_two_largest_units() {
        assert_eq!(age(0), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(3_600 * 5 + 61), "5h 1m");
        assert_eq!(age(86_400 * 3 + 5), "3d");
        assert_eq!(age(86_400 + 3_600 * 2), "1d 2h");
    }
}
