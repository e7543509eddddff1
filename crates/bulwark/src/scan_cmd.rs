//! `bulwark scan TARGET`: the server's scan engine on an image layout, a root filesystem or
//! a lock file, with advisories from the same store as `bulwark db`, and no server.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bulwark_layer::Limits;
use bulwark_scan::archive::DockerArchive;
use bulwark_scan::layout::Layout;
use bulwark_scan::matching::{self, Finding};
use bulwark_scan::sbom;
use bulwark_scan::{Inventory, LayerInventory, inventory_layer};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

#[derive(Args)]
pub struct ScanArgs {
    /// What to scan: an OCI image layout (`DIR`, or `oci:DIR:TAG` for one tag), a `docker
    /// save` archive, a root filesystem directory, a package file (wheel, sdist, npm
    /// tarball, .crate, jar) or a lock file (package-lock.json, Cargo.lock, …)
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
    /// SARIF 2.1.0, for code-scanning dashboards
    Sarif,
    /// A CycloneDX 1.6 SBOM with the vulnerabilities found (one document per image)
    Cyclonedx,
    /// An SPDX 2.3 SBOM (one document per image)
    Spdx,
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
    DockerArchive(PathBuf),
    Directory(PathBuf),
    Package(PathBuf),
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
    } else if bulwark_scan::is_package_file(raw) {
        Target::Package(path)
    } else if raw.ends_with(".tar") && DockerArchive::is_docker_archive(&path) {
        Target::DockerArchive(path)
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
    /// Leaked secrets, redacted.
    secrets: Vec<bulwark_scan::LocatedSecret>,
    warnings: Vec<String>,
    /// The same, as SBOM documents describe them.
    #[serde(skip)]
    sbom_components: Vec<bulwark_scan::service::ComponentReport>,
    #[serde(skip)]
    sbom_findings: Vec<bulwark_scan::service::FindingReport>,
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
/// `open` gives layer `i`'s blob.
fn inventory_layers<R: std::io::Read>(
    count: usize,
    open: impl Fn(usize) -> anyhow::Result<R> + Sync,
    progress: &ProgressBar,
) -> anyhow::Result<Vec<LayerInventory>> {
    let limits = Limits::default();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut results: Vec<Option<anyhow::Result<LayerInventory>>> =
        (0..count).map(|_| None).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|scope| {
        for _ in 0..workers.min(count) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if index >= count {
                        break;
                    }
                    let result = open(index).and_then(|blob| {
                        inventory_layer(blob, &limits)
                            .with_context(|| format!("layer {}", index + 1))
                    });
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

/// What a scan reads from the store: the advisories, and the installation's key for the
/// fingerprints of leaked secrets (the registry's reports use the same one).
struct Store {
    db: bulwark_vulndb::VulnDb,
    fingerprint_key: [u8; 32],
}

async fn report(
    store: &Store,
    target: String,
    manifest: Option<String>,
    platform: Option<String>,
    mut inventory: Inventory,
    layers: &[String],
) -> anyhow::Result<Report> {
    inventory.key_fingerprints(&store.fingerprint_key);
    let db = &store.db;
    let findings = matching::find(db, &inventory).await?;
    let now = jiff::Timestamp::now().to_string();
    Ok(Report {
        sbom_components: sbom::component_reports(&inventory, layers),
        sbom_findings: sbom::finding_reports(&inventory, &findings, layers, &now),
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
        secrets: inventory.secrets,
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
    let metadata = crate::open_metadata(&config).await?;
    let store = Store {
        fingerprint_key: metadata
            .installation_key(bulwark_scan::FINGERPRINT_KEY)
            .await?,
        db: bulwark_vulndb::VulnDb::new(metadata),
    };
    let status = store.db.status().await?;
    let mut reports = Vec::new();
    match target(&args.target)? {
        Target::Layout { dir, tag } => {
            let layout = Layout::open(&dir)?;
            for image in layout.images(tag.as_deref())? {
                let bar = progress_bar(image.layers.len() as u64, &image.manifest.to_string());
                let layers = tokio::task::block_in_place(|| {
                    inventory_layers(
                        image.layers.len(),
                        |i| {
                            let digest = &image.layers[i];
                            layout
                                .open_layer(digest)
                                .with_context(|| format!("layer {digest}"))
                        },
                        &bar,
                    )
                })?;
                bar.finish_and_clear();
                let inventory = Inventory::of_image(&layers.iter().collect::<Vec<_>>());
                let digests: Vec<String> = image.layers.iter().map(|d| d.to_string()).collect();
                reports.push(
                    report(
                        &store,
                        args.target.clone(),
                        Some(image.manifest.to_string()),
                        image.platform.clone(),
                        inventory,
                        &digests,
                    )
                    .await?,
                );
            }
        }
        Target::DockerArchive(path) => {
            let archive = DockerArchive::open(&path)?;
            for image in archive.images() {
                let name = image.tags.first().cloned();
                let bar = progress_bar(
                    image.layers.len() as u64,
                    name.as_deref().unwrap_or("image"),
                );
                let layers = tokio::task::block_in_place(|| {
                    inventory_layers(
                        image.layers.len(),
                        |i| Ok(archive.open_entry(&image.layers[i])?),
                        &bar,
                    )
                })?;
                bar.finish_and_clear();
                let inventory = Inventory::of_image(&layers.iter().collect::<Vec<_>>());
                reports.push(
                    report(
                        &store,
                        args.target.clone(),
                        name,
                        None,
                        inventory,
                        &image.layers,
                    )
                    .await?,
                );
            }
        }
        Target::Package(file) => {
            let inventory = Inventory::of_package(&file)?;
            reports.push(report(&store, args.target.clone(), None, None, inventory, &[]).await?);
        }
        Target::Directory(dir) => {
            let inventory =
                tokio::task::block_in_place(|| Inventory::of_directory(&dir, &Limits::default()))?;
            reports.push(report(&store, args.target.clone(), None, None, inventory, &[]).await?);
        }
        Target::File(file) => {
            let inventory = Inventory::of_file(&file)?;
            reports.push(report(&store, args.target.clone(), None, None, inventory, &[]).await?);
        }
    }
    let output = Output {
        advisories_age_seconds: status.last_import.as_ref().map(|i| i.age_seconds),
        reports,
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&output)?),
        Format::Sarif => println!("{}", serde_json::to_string_pretty(&sarif(&output))?),
        Format::Cyclonedx | Format::Spdx => {
            let documents: Vec<serde_json::Value> = output
                .reports
                .iter()
                .map(|report| {
                    let subject = sbom::SbomSubject {
                        name: &report.target,
                        digest: report.manifest.as_deref(),
                        os: report.os.as_deref(),
                        created_millis: jiff::Timestamp::now().as_millisecond(),
                        serial: uuid::Uuid::new_v4(),
                    };
                    match args.format {
                        Format::Spdx => sbom::spdx(&subject, &report.sbom_components),
                        _ => sbom::cyclonedx(
                            &subject,
                            &report.sbom_components,
                            &report.sbom_findings,
                        ),
                    }
                })
                .collect();
            let shown = match <[serde_json::Value; 1]>::try_from(documents) {
                Ok([one]) => one,
                Err(many) => serde_json::Value::Array(many),
            };
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        Format::Table => print_table(&output),
    }
    let worst = output
        .reports
        .iter()
        .flat_map(|r| {
            r.findings
                .iter()
                .map(|f| matching::severity_rank(f.severity.as_deref()))
                .chain(
                    r.secrets
                        .iter()
                        .map(|s| matching::severity_rank(Some(s.secret.severity.as_str()))),
                )
        })
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
            "\n{what}: {} components{}, {} findings, {} secrets",
            report.components.len(),
            report
                .os
                .as_ref()
                .map(|os| format!(" on {os}"))
                .unwrap_or_default(),
            report.findings.len(),
            report.secrets.len()
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
        if !report.secrets.is_empty() {
            let rows = report
                .secrets
                .iter()
                .map(|s| {
                    vec![
                        s.secret.title.clone(),
                        s.secret.severity.as_str().to_owned(),
                        format!("{}:{}", s.secret.path, s.secret.line),
                        s.secret.redacted.clone(),
                    ]
                })
                .collect();
            crate::access_cmd::table(&["secret", "severity", "found in", "value"], rows);
        }
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
    }
}

/// SARIF 2.1.0: one rule per vulnerability, one result per affected component, with the
/// `security-severity` score code-scanning dashboards sort by.
fn sarif(output: &Output) -> serde_json::Value {
    use serde_json::json;
    let mut rules = std::collections::BTreeMap::new();
    let mut results = Vec::new();
    for report in &output.reports {
        for finding in &report.findings {
            let level = match finding.severity.as_deref() {
                Some("critical" | "high") => "error",
                Some("medium") => "warning",
                _ => "note",
            };
            let score = match finding.severity.as_deref() {
                Some("critical") => "9.5",
                Some("high") => "8.0",
                Some("medium") => "5.5",
                Some("low") => "2.0",
                _ => "0.0",
            };
            rules.entry(finding.id.clone()).or_insert_with(|| {
                json!({
                    "id": finding.id,
                    "shortDescription": { "text": finding.summary.clone().unwrap_or_else(|| finding.id.clone()) },
                    "helpUri": format!("https://osv.dev/vulnerability/{}", finding.id),
                    "defaultConfiguration": { "level": level },
                    "properties": { "security-severity": score, "tags": ["security", "vulnerability"] },
                })
            });
            let fixed = if finding.fixed.is_empty() {
                "no fix is known".to_owned()
            } else {
                format!("fixed in {}", finding.fixed.join(", "))
            };
            results.push(json!({
                "ruleId": finding.id,
                "level": level,
                "message": { "text": format!(
                    "{} {} ({} {}) is affected by {}; {fixed}",
                    finding.component, finding.installed, finding.ecosystem,
                    finding.advisory_package, finding.id
                ) },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": finding.path } } }],
                "properties": { "target": report.target, "manifest": report.manifest },
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "bulwark",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/bulwark-registry/bulwark",
                "rules": rules.into_values().collect::<Vec<_>>(),
            } },
            "results": results,
        }],
    })
}
