//! `cargo run --release -p bulwark-bench --bin scan-scale`: the scan service at scale.
//!
//! 1. A metadata store is filled with `--artifacts` scanned artifacts of `--components`
//!    components each (drawn from a pool of `--packages` × `--versions` package versions, a
//!    base set shared by many images plus their own), written through the same store calls a
//!    finished scan makes. The blob directory is then emptied: nothing below reads a blob.
//! 2. Advisories for `--affected` packages are imported and the stored inventories
//!    re-matched (`Scanner::rematch`, what the server runs after every import); then every
//!    stored package version is re-matched (`Scanner::rematch_all`, the worst case).
//! 3. The impact query (by vulnerability, by package URL) over all of them.
//! 4. On a second store with a real image (three gzipped layers): the first scan, a re-scan
//!    of the inventoried image, and the time from a manifest commit to its findings being
//!    readable with the server's background jobs running, minus the scan's own time.
//!
//! Timings are medians of repeated runs where a run is short. The store of 1–3 is SQLite on
//! this machine's disk (`synchronous = FULL`), or PostgreSQL with `--database-url`; that of 4
//! is SQLite.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bulwark_blobstore::BlobStore;
use bulwark_metadata::{ArtifactComponent, MetadataStore, PackageVersion, ScanOutcome};
use bulwark_oci::{Digest, Reference, RepositoryName, RequestContext};
use bulwark_package::PackageKey;
use bulwark_registry::supervisor::Supervisor;
use bulwark_registry::{Registry, RegistryLimits};
use bulwark_scan::service::{ImpactQuery, ScanSettings, Scanner};
use bulwark_vulndb::VulnDb;
use clap::Parser;
use serde_json::json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Bulwark scan service at scale: re-match, impact, re-scan, push to findings")]
struct Args {
    /// Stored artifacts generated.
    #[arg(long, default_value_t = 100_000)]
    artifacts: u32,
    /// Components per artifact.
    #[arg(long, default_value_t = 100)]
    components: u32,
    /// Distinct packages in the pool the components are drawn from.
    #[arg(long, default_value_t = 5_000)]
    packages: u32,
    /// Versions of each package in the pool.
    #[arg(long, default_value_t = 8)]
    versions: u32,
    /// Packages the advisory import names.
    #[arg(long, default_value_t = 500)]
    affected: u32,
    /// A PostgreSQL URL to run on instead of SQLite in a temporary directory.
    #[arg(long)]
    database_url: Option<String>,
    /// Keep the generated store in this directory, and reuse it when a later run asks for
    /// the same shape (generating 100,000 artifacts takes a while; measuring does not).
    /// Each run imports advisories for packages of its own, so the re-match has work.
    #[arg(long)]
    store: Option<std::path::PathBuf>,
}

/// Images of the same base share this many components; the rest are their own.
const BASE_SHARE: f64 = 0.6;
/// Distinct base images.
const BASES: u32 = 50;
/// Artifacts per repository.
const PER_REPOSITORY: u32 = 100;

/// A small deterministic generator (SplitMix64): the same arguments give the same store.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u32) -> u32 {
        u32::try_from(self.next() % u64::from(n.max(1))).unwrap_or(0)
    }
}

/// Package `n` of the pool: even ones npm, odd ones PyPI.
fn pool_package(n: u32) -> (&'static str, &'static str, String) {
    if n.is_multiple_of(2) {
        ("npm", "npm", format!("bench-pkg-{n}"))
    } else {
        ("PyPI", "pypi", format!("bench-pkg-{n}"))
    }
}

fn pool_version(v: u32) -> String {
    format!("1.{v}.0")
}

fn component(n: u32, v: u32) -> ArtifactComponent {
    let (ecosystem, purl_type, name) = pool_package(n);
    let version = pool_version(v);
    let key = PackageKey::new(ecosystem, &name);
    ArtifactComponent {
        kind: if purl_type == "npm" { "npm" } else { "python" }.into(),
        purl: Some(format!("pkg:{purl_type}/{name}@{version}")),
        path: format!("app/lib/{name}/{version}"),
        layer_digest: Some(format!("sha256:{:064x}", n % BASES)),
        platform: None,
        repository: None,
        package: Some(PackageVersion {
            ecosystem: key.ecosystem.to_string(),
            package: key.name,
            version: version.clone(),
        }),
        name,
        version,
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn context() -> RequestContext {
    RequestContext::internal("bench", bulwark_metadata::now_millis())
}

async fn open(
    url: Option<&str>,
    dir: &Path,
) -> anyhow::Result<(MetadataStore, Registry, Scanner, Supervisor)> {
    let metadata = match url {
        Some(url) => MetadataStore::connect(url, 16).await?,
        None => MetadataStore::open_sqlite_in(dir).await?,
    };
    let blobs = BlobStore::open_local(&dir.join("blobs"), false)?;
    let registry = Registry::new(blobs, metadata.clone(), RegistryLimits::default());
    if metadata.project_by_name("bench").await?.is_none() {
        metadata.create_project("bench", false).await?;
    }
    let supervisor = Supervisor::new(metadata.clone());
    let scanner = Scanner::new(
        metadata.clone(),
        registry.clone(),
        VulnDb::new(metadata.clone()),
        ScanSettings::default(),
        supervisor.node(),
    );
    Ok((metadata, registry, scanner, supervisor))
}

async fn put_blob(
    registry: &Registry,
    repository: &RepositoryName,
    bytes: &[u8],
) -> anyhow::Result<Digest> {
    let digest = Digest::sha256_of(bytes);
    let body = futures::stream::once({
        let bytes = bytes::Bytes::copy_from_slice(bytes);
        async move { Ok::<_, std::io::Error>(bytes) }
    });
    registry
        .put_blob(repository, &digest, Some(bytes.len() as u64), body)
        .await?;
    Ok(digest)
}

/// Stores an image manifest of `config` and `layers` (gzipped tars) as `repository:tag`.
async fn put_image(
    registry: &Registry,
    repository: &RepositoryName,
    tag: &str,
    config: &Digest,
    layers: &[(Digest, usize)],
    annotation: &str,
) -> anyhow::Result<Digest> {
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config.to_string(), "size": 2},
        "layers": layers.iter().map(|(digest, size)| json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest.to_string(), "size": size,
        })).collect::<Vec<_>>(),
        "annotations": {"bench": annotation},
    }))?;
    let digest = Digest::sha256_of(&manifest);
    let reference: Reference = tag.parse()?;
    registry
        .put_manifest(
            &context(),
            repository,
            &reference,
            &[],
            Some("application/vnd.oci.image.manifest.v1+json"),
            manifest.into(),
        )
        .await?;
    Ok(digest)
}

/// Writes OSV records for `packages` of the pool (each affecting its versions below the
/// middle one) into `dir`, named `id_prefix-n`.
fn write_advisories(
    dir: &Path,
    packages: &[u32],
    versions: u32,
    id_prefix: &str,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for &n in packages {
        let (ecosystem, _, name) = pool_package(n);
        let id = format!("{id_prefix}-{n}");
        let range_type = if ecosystem == "npm" {
            "SEMVER"
        } else {
            "ECOSYSTEM"
        };
        let record = json!({
            "schema_version": "1.6.0",
            "id": id,
            "aliases": [format!("CVE-2099-{id_prefix}-{n}")],
            "modified": "2026-01-01T00:00:00Z",
            "summary": format!("{name} is vulnerable"),
            "affected": [{
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": range_type, "events": [
                    {"introduced": "0"}, {"fixed": pool_version(versions / 2)}]}],
            }],
            "database_specific": {"severity": "HIGH"},
        });
        std::fs::write(dir.join(format!("{id}.json")), record.to_string())?;
    }
    Ok(())
}

async fn import(vulndb: &VulnDb, dir: &Path) -> anyhow::Result<()> {
    for report in vulndb.import(&[dir.to_path_buf()], &mut |_| {}).await {
        if let Some(failure) = report.failure {
            bail!("importing {}: {failure}", report.source);
        }
    }
    Ok(())
}

/// Fills the store with `args.artifacts` scanned artifacts; returns the rows written.
async fn generate(
    args: &Args,
    metadata: &MetadataStore,
    registry: &Registry,
) -> anyhow::Result<u64> {
    let mut mix = Mix(7);
    let shared = (f64::from(args.components) * BASE_SHARE) as u32;
    let bases: Vec<Vec<(u32, u32)>> = (0..BASES)
        .map(|_| {
            (0..shared)
                .map(|_| (mix.below(args.packages), mix.below(args.versions)))
                .collect()
        })
        .collect();
    let layer = b"not read: the inventories below were generated".to_vec();
    let mut rows = 0u64;
    let mut repository_blobs = None;
    let mut distinct: BTreeSet<(u32, u32)> = BTreeSet::new();
    let progress = indicatif::ProgressBar::new(u64::from(args.artifacts));
    for i in 0..args.artifacts {
        let repository: RepositoryName = format!("bench/r{}", i / PER_REPOSITORY).parse()?;
        if i.is_multiple_of(PER_REPOSITORY) {
            let config = put_blob(registry, &repository, b"{}").await?;
            let layer_digest = put_blob(registry, &repository, &layer).await?;
            repository_blobs = Some((config, layer_digest));
        }
        let Some((config, layer_digest)) = &repository_blobs else {
            bail!("no blobs for {repository}");
        };
        let digest = put_image(
            registry,
            &repository,
            &format!("t{i}"),
            config,
            &[(layer_digest.clone(), layer.len())],
            &i.to_string(),
        )
        .await?;
        let mut picked: BTreeSet<(u32, u32)> =
            bases[(i % BASES) as usize].iter().copied().collect();
        while picked.len() < args.components as usize {
            picked.insert((mix.below(args.packages), mix.below(args.versions)));
        }
        let components: Vec<ArtifactComponent> =
            picked.iter().map(|&(n, v)| component(n, v)).collect();
        distinct.extend(picked);
        let key = digest.to_string();
        let now = bulwark_metadata::now_millis();
        metadata.queue_scan(&key, now).await?;
        let Some(claim) = metadata.claim_scan("generator", 60_000, now).await? else {
            bail!("the scan of {key} was not claimable");
        };
        if claim.digest != key {
            bail!("claimed {} instead of {key}", claim.digest);
        }
        let outcome = ScanOutcome {
            os: None,
            warnings: "[]",
            components: &components,
            secrets: &[],
            inventory_hash: &key,
        };
        if metadata
            .finish_scan(&key, "generator", &outcome, now)
            .await?
            != bulwark_metadata::Finished::Stored
        {
            bail!("finishing the scan of {key} failed");
        }
        rows += components.len() as u64;
        progress.inc(1);
    }
    progress.finish_and_clear();
    // What a scan's first match stores before any advisory names these packages.
    let mut by_package: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
    for (n, v) in distinct {
        by_package.entry(n).or_default().push(v);
    }
    for (n, versions) in by_package {
        let matched: Vec<_> = versions
            .into_iter()
            .filter_map(|v| component(n, v).package)
            .map(|package| (package, Vec::new()))
            .collect();
        metadata
            .record_package_findings(&matched, bulwark_metadata::now_millis())
            .await?;
    }
    Ok(rows)
}

/// A gzipped tar of `files`.
fn layer_of(files: &[(String, Vec<u8>)]) -> anyhow::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, bytes.as_slice())?;
    }
    let tar = builder.into_inner()?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(&tar)?;
    Ok(encoder.finish()?)
}

/// Three layers: Debian's dpkg status with 200 packages, 200 npm packages, 100 Python ones;
/// `unique` makes them differ from any earlier image.
fn image_layers(unique: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut status = String::new();
    for n in 0..200 {
        status.push_str(&format!(
            "Package: lib-bench-{n}\nStatus: install ok installed\nArchitecture: amd64\n\
             Version: 1.{n}-1\n\n"
        ));
    }
    let base = vec![
        (
            "etc/os-release".to_owned(),
            b"ID=debian\nVERSION_ID=\"12\"\n".to_vec(),
        ),
        ("var/lib/dpkg/status".to_owned(), status.into_bytes()),
        (format!("etc/bench-{unique}"), b"unique".to_vec()),
    ];
    let node: Vec<(String, Vec<u8>)> = (0..200)
        .map(|n| {
            let (_, _, name) = pool_package(n * 2);
            (
                format!("app/node_modules/{name}/package.json"),
                json!({"name": name, "version": pool_version(1)})
                    .to_string()
                    .into_bytes(),
            )
        })
        .chain(std::iter::once((
            format!("app/bench-{unique}"),
            b"unique".to_vec(),
        )))
        .collect();
    let python: Vec<(String, Vec<u8>)> = (0..100)
        .map(|n| {
            let (_, _, name) = pool_package(n * 2 + 1);
            (
                format!("usr/lib/python3/dist-packages/{name}-1.1.0.dist-info/METADATA"),
                format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.1.0\n\n").into_bytes(),
            )
        })
        .chain(std::iter::once((
            format!("usr/bench-{unique}"),
            b"unique".to_vec(),
        )))
        .collect();
    [base, node, python].iter().map(|f| layer_of(f)).collect()
}

async fn push_image(registry: &Registry, tag: &str) -> anyhow::Result<Digest> {
    let repository: RepositoryName = "bench/image".parse()?;
    let config = put_blob(registry, &repository, b"{}").await?;
    let mut layers = Vec::new();
    for layer in image_layers(tag)? {
        layers.push((put_blob(registry, &repository, &layer).await?, layer.len()));
    }
    put_image(registry, &repository, tag, &config, &layers, tag).await
}

/// Scans queued work until `digest` is done.
async fn scan_now(scanner: &Scanner, digest: &Digest) -> anyhow::Result<Duration> {
    let start = Instant::now();
    scanner.request(digest).await?;
    scanner.work(1).await?;
    let elapsed = start.elapsed();
    let report = scanner.report(digest, None).await?;
    if report.status != "done" {
        bail!(
            "the scan of {digest} ended {}: {:?}",
            report.status,
            report.reason
        );
    }
    Ok(elapsed)
}

async fn scale(args: &Args, dir: &Path) -> anyhow::Result<()> {
    let shape = format!(
        "{} {} {} {} {:?}",
        args.artifacts, args.components, args.packages, args.versions, args.database_url
    );
    let marker = dir.join("generated");
    let reused = std::fs::read_to_string(&marker).is_ok_and(|m| m == shape);
    let (metadata, registry, scanner, _) = open(args.database_url.as_deref(), dir).await?;
    let vulndb = VulnDb::new(metadata.clone());
    if reused {
        println!("reusing the store generated in {}", dir.display());
    } else {
        let start = Instant::now();
        let rows = generate(args, &metadata, &registry).await?;
        println!(
            "generated {} artifacts, {rows} component rows, from {} package versions, in {:.0} s",
            args.artifacts,
            u64::from(args.packages) * u64::from(args.versions),
            start.elapsed().as_secs_f64()
        );
        std::fs::write(&marker, &shape)?;
    }
    // Nothing below may read a blob: there are none.
    std::fs::remove_dir_all(dir.join("blobs")).context("emptying the blob directory")?;
    std::fs::create_dir_all(dir.join("blobs"))?;

    // Each run on a kept store names packages no earlier run did.
    let run_file = dir.join("runs");
    let run: u64 = std::fs::read_to_string(&run_file)
        .ok()
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or(0);
    std::fs::write(&run_file, (run + 1).to_string())?;
    let mut mix = Mix(11 + run);
    let mut affected: BTreeSet<u32> = BTreeSet::new();
    while affected.len() < args.affected.min(args.packages) as usize {
        affected.insert(mix.below(args.packages));
    }
    let affected: Vec<u32> = affected.into_iter().collect();
    let records = dir.join(format!("advisories-{run}"));
    write_advisories(&records, &affected, args.versions, &format!("BENCH{run}"))?;
    let start = Instant::now();
    import(&vulndb, &records).await?;
    let imported = start.elapsed();
    let start = Instant::now();
    let rematch = scanner.rematch().await?;
    let incremental = start.elapsed();
    println!(
        "advisory import of {} records: {:.2} s; re-match after it: {:.2} s \
         ({} package versions, {} findings added), 0 blob bytes read (the blob directory is empty)",
        affected.len(),
        imported.as_secs_f64(),
        incremental.as_secs_f64(),
        rematch.packages,
        rematch.added
    );
    let start = Instant::now();
    let all = scanner.rematch_all().await?;
    println!(
        "re-match of every stored package version: {:.2} s ({} package versions, {} added, \
         {} resolved)",
        start.elapsed().as_secs_f64(),
        all.packages,
        all.added,
        all.resolved
    );

    // The most and the least widespread affected package, by the artifacts holding them.
    for (label, n) in [
        ("first", affected[0]),
        ("last", affected[affected.len() - 1]),
    ] {
        let id = format!("BENCH{run}-{n}");
        let query = ImpactQuery::Vulnerability(id.clone());
        let mut samples = Vec::new();
        let mut found = 0;
        for _ in 0..7 {
            let start = Instant::now();
            found = scanner.impact(&query, None, 100).await?.len();
            samples.push(start.elapsed());
        }
        let mut thousand = Vec::new();
        for _ in 0..7 {
            let start = Instant::now();
            scanner.impact(&query, None, 1001).await?;
            thousand.push(start.elapsed());
        }
        let restricted = vec!["bench".to_owned()];
        let mut restricted_samples = Vec::new();
        for _ in 0..7 {
            let start = Instant::now();
            scanner.impact(&query, Some(&restricted), 100).await?;
            restricted_samples.push(start.elapsed());
        }
        let (_, purl_type, name) = pool_package(n);
        let purl = ImpactQuery::Purl(format!("pkg:{purl_type}/{name}@{}", pool_version(0)));
        let mut purl_samples = Vec::new();
        for _ in 0..7 {
            let start = Instant::now();
            scanner.impact(&purl, None, 100).await?;
            purl_samples.push(start.elapsed());
        }
        println!(
            "impact of {id} ({label} affected package): {found} artifacts listed (limit 100) in \
             {} median ({} with the API's limit of 1,001); within one project {}; by purl {}",
            ms(median(samples)),
            ms(median(thousand)),
            ms(median(restricted_samples)),
            ms(median(purl_samples)),
        );
    }
    metadata.close().await;
    Ok(())
}

async fn image(dir: &Path) -> anyhow::Result<()> {
    // Latency, not scale: always the embedded default.
    let (metadata, registry, scanner, mut supervisor) = open(None, dir).await?;
    let vulndb = VulnDb::new(metadata.clone());
    let records = dir.join("image-advisories");
    write_advisories(&records, &(0..40).collect::<Vec<_>>(), 4, "IMAGE")?;
    import(&vulndb, &records).await?;
    scanner.rematch().await?;

    let first = push_image(&registry, "first").await?;
    let first_scan = scan_now(&scanner, &first).await?;
    let report = scanner.report(&first, None).await?;
    let mut rescans = Vec::new();
    for _ in 0..15 {
        rescans.push(scan_now(&scanner, &first).await?);
    }
    println!(
        "image of {} components ({} findings), 3 gzipped layers: first scan {}, re-scan of \
         the inventoried image {} (median of 15)",
        report.components.len(),
        report.findings.len(),
        ms(first_scan),
        ms(median(rescans))
    );

    // Push to findings with the server's background jobs running (feed and workers every
    // 250 ms): the wait beyond the scan's own time.
    scanner.schedule(&mut supervisor);
    let mut waits = Vec::new();
    let mut scans = Vec::new();
    for n in 0..7 {
        let digest = push_image(&registry, &format!("push-{n}")).await?;
        let committed = Instant::now();
        let deadline = committed + Duration::from_secs(60);
        loop {
            let report = scanner.report(&digest, None).await?;
            if report.status == "done" && !report.findings.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                bail!("no findings for {digest} after 60 s: {}", report.status);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let latency = committed.elapsed();
        let Some(scan) = metadata.scan(&digest.to_string()).await? else {
            bail!("no scan record for {digest}");
        };
        let scan_ms = scan.finished_at.unwrap_or(0) - scan.started_at.unwrap_or(0);
        let scan_time = Duration::from_millis(u64::try_from(scan_ms).unwrap_or(0));
        scans.push(scan_time);
        waits.push(latency.saturating_sub(scan_time));
    }
    supervisor.shutdown().await;
    println!(
        "push to findings readable: scan time {} + {} (median of 7; max {}) of queueing — \
         feed and workers poll every 250 ms",
        ms(median(scans)),
        ms(median(waits.clone())),
        ms(waits.iter().max().copied().unwrap_or_default()),
    );
    metadata.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.versions < 2 || args.packages == 0 || args.components > args.packages {
        bail!("need --versions ≥ 2 and 0 < --components ≤ --packages");
    }
    let dir =
        tempfile::tempdir_in(std::env::var_os("TMPDIR").unwrap_or_else(|| "/var/tmp".into()))?;
    image(&dir.path().join("image")).await?;
    match &args.store {
        Some(store) => scale(&args, store).await?,
        None => scale(&args, &dir.path().join("scale")).await?,
    }
    Ok(())
}
