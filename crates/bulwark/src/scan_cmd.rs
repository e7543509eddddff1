//! `bulwark scan TARGET`: the server's scan engine on an image layout, a root filesystem or
//! a lock file, with advisories from the same store as `bulwark db`, and no server.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bulwark_layer::Limits;
use bulwark_scan::layout::Layout;
use bulwark_scan::matching::{self, Finding};
use bulwark_scan::{Inventory, LayerInventory, inventory_layer};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

#[derive(Args)]
pub struct ScanArgs {
    /// What to scan: an OCI image layout (`DIR`, or `oci:DIR:TAG` for one tag), a root
    /// filesystem directory, or a lock file (package-lock.json, Cargo.lock, …)
    target: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Exit with status 3 when a finding is at or above this severity (errors exit 1)
    #[arg(long, value_enum)]
    fail_on: Option<Severity>,
    /// Data directory whose advisory database is used [env: BULWARK_DATA_DIR]
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    fn rank(self) -> u8 {
        matching::severity_rank(Some(match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }))
    }
}

/// What was scanned, as reports name it.
enum Target {
    Layout { dir: PathBuf, tag: Option<String> },
    Directory(PathBuf),
    File(PathBuf),
}

fn target(raw: &str) -> anyhow::Result<Target> {
    if let Some(rest) = raw.strip_prefix("oci:") {
        let (dir, tag) = match rest.rsplit_once(':') {
            Some((dir, tag)) if !tag.contains('/') => (dir, Some(tag.to_owned())),
            _ => (rest, None),
        };
        return Ok(Target::Layout {
            dir: PathBuf::from(dir),
            tag,
        });
    }
    let path = PathBuf::from(raw);
    let meta = std::fs::metadata(&path).with_context(|| format!("reading {raw}"))?;
    Ok(if meta.is_dir() && path.join("oci-layout").is_file() {
        Target::Layout {
            dir: path,
            tag: None,
        }
    } else if meta.is_dir() {
        Target::Directory(path)
    } else {
        Target::File(path)
    })
}

/// One scanned image or filesystem: what it holds and what affects it.
#[derive(Serialize)]
struct Report {
    target: String,
    /// The image manifest, for images.
    manifest: Option<String>,
    platform: Option<String>,
    /// `ID VERSION_ID` of the final filesystem's os-release.
    os: Option<String>,
    components: Vec<bulwark_scan::Located>,
    findings: Vec<FindingView>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct FindingView {
    id: String,
    aliases: Vec<String>,
    severity: Option<String>,
    severity_source: Option<String>,
    component: String,
    installed: String,
    /// The package and ecosystem the advisory names (a source package, for distributions).
    advisory_package: String,
    ecosystem: String,
    fixed: Vec<String>,
    path: String,
    layer: Option<usize>,
    summary: Option<String>,
}

/// The whole output, with the freshness of the advisory data it was matched against.
#[derive(Serialize)]
struct Output {
    advisories_age_seconds: Option<u64>,
    reports: Vec<Report>,
}

fn finding_view(inventory: &Inventory, finding: &Finding) -> FindingView {
    let located = &inventory.components[finding.component];
    let vulnerability = &finding.vulnerability;
    FindingView {
        id: vulnerability.id.clone(),
        aliases: vulnerability.aliases.clone(),
        severity: vulnerability.severity.rating.clone(),
        severity_source: vulnerability.severity.source.clone(),
        component: located.component.name.clone(),
        installed: located.component.version.clone(),
        advisory_package: finding.package.clone(),
        ecosystem: finding.ecosystem.clone(),
        fixed: vulnerability.fixed.clone(),
        path: located.component.path.clone(),
        layer: located.layer,
        summary: vulnerability.summary.clone(),
    }
}

/// Inventories layers side by side, up to the machine's cores: decompression is the work.
fn inventory_layers(
    layout: &Layout,
    layers: &[bulwark_scan::Digest],
    progress: &ProgressBar,
) -> anyhow::Result<Vec<LayerInventory>> {
    let limits = Limits::default();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut results: Vec<Option<anyhow::Result<LayerInventory>>> =
        (0..layers.len()).map(|_| None).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|scope| {
        for _ in 0..workers.min(layers.len()) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(digest) = layers.get(index) else {
                        break;
                    };
                    let result = layout
                        .open_layer(digest)
                        .and_then(|blob| inventory_layer(blob, &limits))
                        .with_context(|| format!("layer {digest}"));
                    progress.inc(1);
                    if let Ok(mut slots) = slots.lock() {
                        slots[index] = Some(result);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|result| result.unwrap_or_else(|| Err(anyhow::anyhow!("a layer was not read"))))
        .collect()
}

fn progress_bar(length: u64, message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(length).with_message(message.to_owned());
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} layers") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

async fn report(
    db: &bulwark_vulndb::VulnDb,
    target: String,
    manifest: Option<String>,
    platform: Option<String>,
    inventory: Inventory,
) -> anyhow::Result<Report> {
    let findings = matching::find(db, &inventory).await?;
    Ok(Report {
        target,
        manifest,
        platform,
        os: inventory.os.as_ref().map(|os| {
            format!(
                "{} {}",
                os.id,
                os.version_id.as_deref().unwrap_or("(no release)")
            )
        }),
        findings: findings
            .iter()
            .map(|finding| finding_view(&inventory, finding))
            .collect(),
        warnings: inventory
            .warnings
            .iter()
            .map(|w| format!("{}: {}", w.entry, w.reason))
            .collect(),
        components: inventory.components,
    })
}

pub async fn run(
    config_file: Option<&Path>,
    args: ScanArgs,
) -> anyhow::Result<std::process::ExitCode> {
    let flags = crate::config::FlagOverrides {
        data_dir: args.data_dir.clone(),
        ..crate::config::FlagOverrides::default()
    };
    let config = crate::config::Config::load(config_file, &flags)?;
    let db = bulwark_vulndb::VulnDb::new(crate::open_metadata(&config).await?);
    let status = db.status().await?;
    let mut reports = Vec::new();
    match target(&args.target)? {
        Target::Layout { dir, tag } => {
            let layout = Layout::open(&dir)?;
            for image in layout.images(tag.as_deref())? {
                let bar = progress_bar(image.layers.len() as u64, &image.manifest.to_string());
                let layers =
                    tokio::task::block_in_place(|| inventory_layers(&layout, &image.layers, &bar))?;
                bar.finish_and_clear();
                let inventory = Inventory::of_image(&layers.iter().collect::<Vec<_>>());
                reports.push(
                    report(
                        &db,
                        args.target.clone(),
                        Some(image.manifest.to_string()),
                        image.platform.clone(),
                        inventory,
                    )
                    .await?,
                );
            }
        }
        Target::Directory(dir) => {
            let inventory =
                tokio::task::block_in_place(|| Inventory::of_directory(&dir, &Limits::default()))?;
            reports.push(report(&db, args.target.clone(), None, None, inventory).await?);
        }
        Target::File(file) => {
            let inventory = Inventory::of_file(&file)?;
            reports.push(report(&db, args.target.clone(), None, None, inventory).await?);
        }
    }
    let output = Output {
        advisories_age_seconds: status.last_import.as_ref().map(|i| i.age_seconds),
        reports,
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&output)?),
        Format::Table => print_table(&output),
    }
    let worst = output
        .reports
        .iter()
        .flat_map(|r| &r.findings)
        .map(|f| matching::severity_rank(f.severity.as_deref()))
        .max()
        .unwrap_or(0);
    Ok(match args.fail_on {
        Some(threshold) if worst >= threshold.rank() => std::process::ExitCode::from(3),
        _ => std::process::ExitCode::SUCCESS,
    })
}

fn print_table(output: &Output) {
    match output.advisories_age_seconds {
        Some(age) => println!("advisory data imported {} ago", crate::db_cmd::age(age)),
        None => println!("no advisory data imported: run `bulwark db update` (nothing can match)"),
    }
    for report in &output.reports {
        let what = match (&report.manifest, &report.platform) {
            (Some(manifest), Some(platform)) => {
                format!("{} {manifest} ({platform})", report.target)
            }
            (Some(manifest), None) => format!("{} {manifest}", report.target),
            _ => report.target.clone(),
        };
        println!(
            "\n{what}: {} components{}, {} findings",
            report.components.len(),
            report
                .os
                .as_ref()
                .map(|os| format!(" on {os}"))
                .unwrap_or_default(),
            report.findings.len()
        );
        if !report.findings.is_empty() {
            let rows = report
                .findings
                .iter()
                .map(|f| {
                    vec![
                        f.id.clone(),
                        f.severity.clone().unwrap_or_else(|| "unknown".into()),
                        format!("{} {}", f.component, f.installed),
                        if f.fixed.is_empty() {
                            "no fix known".into()
                        } else {
                            f.fixed.join(", ")
                        },
                        f.path.clone(),
                    ]
                })
                .collect();
            crate::access_cmd::table(
                &[
                    "vulnerability",
                    "severity",
                    "installed",
                    "fixed in",
                    "found in",
                ],
                rows,
            );
        }
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
    }
}
