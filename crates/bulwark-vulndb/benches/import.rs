//! Import throughput and peak memory of the vulnerability database.
//!
//! `cargo bench -p bulwark-vulndb --bench import [-- --synthetic N] [-- --postgres]`
//!
//! 1. Every OSV record in `../shared/data` (the four OSV JSON-lines files and the PyPA
//!    zip) imported into a fresh store, then imported again (nothing changed: the daily
//!    `db update` case), then 10,000 store-backed queries.
//! 2. A synthetic JSON-lines file of N records (default 500,000) made from the real JSON
//!    records with rewritten ids, imported into a fresh store and again; then the full
//!    in-memory index rebuilt from that store.
//!
//! Each import is timed end to end (read, parse, validate, stage, apply) and printed as
//! records/s, next to the rate of parsing alone on this machine, so the figures read as
//! ratios; peak memory is the process's VmHWM, reset before each phase. SQLite by default;
//! `--postgres` uses a throwaway PostgreSQL server (or `BULWARK_TEST_POSTGRES_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bulwark_metadata::MetadataStore;
use bulwark_test_support::{Backend, TestDatabase};
use bulwark_vulndb::{Progress, VulnDb};

const JSONL: &[&str] = &[
    "ghsa/ghsa-osvdev-sample.jsonl",
    "golang/go-vulndb-osv.jsonl",
    "malicious-packages/ossf-malicious-npm-pypi-sample.jsonl",
    "rustsec/rustsec-osv.jsonl",
];
const PYPA_ZIP: &str = "pypa/pypa-advisory-database-vulns.zip";

fn data_dir() -> Option<PathBuf> {
    let dir = package_dir().join("../../../shared/data");
    dir.is_dir().then_some(dir)
}

/// Resets the peak resident set size (Linux `clear_refs` 5).
fn reset_peak_memory() {
    std::fs::write("/proc/self/clear_refs", "5").ok();
}

/// A memory figure of `/proc/self/status` (`VmRSS`, `VmHWM`), in MiB.
fn memory_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Peak resident set size since the last reset, and how much of it the phase added over
/// what the process held when it began (the allocator keeps freed memory).
struct Memory {
    peak: f64,
    added: f64,
}

fn measure(before: f64) -> Memory {
    let peak = memory_mib("VmHWM");
    Memory {
        peak,
        added: peak - before,
    }
}

fn rate(records: u64, elapsed: Duration) -> f64 {
    records as f64 / elapsed.as_secs_f64()
}

/// Records/s of `parse_json` alone over the JSON-lines files (bytes already in memory).
fn parse_only_rate(data: &Path) -> f64 {
    let mut lines = Vec::new();
    for file in JSONL {
        let text = std::fs::read(data.join(file)).unwrap();
        lines.extend(
            text.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    let start = Instant::now();
    let mut parsed = 0u64;
    for line in &lines {
        if bulwark_advisory::parse_json(line).is_ok() {
            parsed += 1;
        }
    }
    rate(parsed, start.elapsed())
}

/// Writes `count` records cycling through the real JSON records, each with a new id.
fn write_synthetic(data: &Path, count: u64, out: &Path) {
    let mut writer = BufWriter::new(std::fs::File::create(out).unwrap());
    let mut written = 0u64;
    let mut round = 0u64;
    while written < count {
        for file in JSONL {
            let reader = BufReader::new(std::fs::File::open(data.join(file)).unwrap());
            for line in reader.lines() {
                if written == count {
                    break;
                }
                let mut record: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
                let id = record["id"].as_str().unwrap().to_owned();
                record["id"] = format!("{id}-S{round}").into();
                serde_json::to_writer(&mut writer, &record).unwrap();
                writer.write_all(b"\n").unwrap();
                written += 1;
            }
        }
        round += 1;
    }
    writer.flush().unwrap();
}

async fn open(backend: Backend) -> (TestDatabase, VulnDb) {
    let db = TestDatabase::new(backend).await;
    let store = MetadataStore::connect(db.url(), 8).await.unwrap();
    (db, VulnDb::new(store))
}

/// Imports `paths` into `vulndb`; returns (records read, elapsed, memory).
async fn timed_import(vulndb: &VulnDb, paths: &[PathBuf]) -> (u64, Duration, Memory) {
    reset_peak_memory();
    let before = memory_mib("VmRSS");
    let start = Instant::now();
    let mut applying = None;
    let reports = vulndb
        .import(paths, &mut |progress| {
            if let Progress::Apply { .. } = progress {
                applying = Some(Instant::now());
            }
        })
        .await;
    let elapsed = start.elapsed();
    if let Some(applying) = applying {
        println!(
            "  (the last source's apply transaction, during which SQLite holds its write lock: {:.2} s)",
            applying.elapsed().as_secs_f64()
        );
    }
    for report in &reports {
        assert!(report.failure.is_none(), "{report:?}");
        assert!(report.malformed.is_empty(), "{:?}", &report.malformed[..1]);
    }
    (
        reports.iter().map(|r| r.read).sum(),
        elapsed,
        measure(before),
    )
}

fn print_import(label: &str, (records, elapsed, memory): (u64, Duration, Memory), parse_rate: f64) {
    let per_second = rate(records, elapsed);
    println!(
        "{label}: {records} records in {:.2} s = {per_second:.0} records/s \
         ({:.2} x parse-only); 500,000 records at this rate: {:.1} s ({:.2} x the 60 s goal); \
         peak RSS {:.0} MiB (+{:.0} MiB during the import)",
        elapsed.as_secs_f64(),
        per_second / parse_rate,
        500_000.0 / per_second,
        500_000.0 / per_second / 60.0,
        memory.peak,
        memory.added,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let synthetic = args
        .iter()
        .position(|a| a == "--synthetic")
        .and_then(|i| args.get(i + 1))
        .map_or(500_000, |n| n.parse().expect("--synthetic N"));
    let backend = if args.iter().any(|a| a == "--postgres") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let Some(data) = data_dir() else {
        println!("../shared/data not found; nothing to measure");
        return;
    };
    println!("back end: {backend:?}");
    let parse_rate = parse_only_rate(&data);
    println!("parse + validate only (in memory, one thread): {parse_rate:.0} records/s");

    let mut sources: Vec<PathBuf> = JSONL.iter().map(|f| data.join(f)).collect();
    sources.push(data.join(PYPA_ZIP));
    let (_db, vulndb) = open(backend).await;
    print_import(
        "shared data, first import",
        timed_import(&vulndb, &sources).await,
        parse_rate,
    );
    print_import(
        "shared data, re-import (all unchanged)",
        timed_import(&vulndb, &sources).await,
        parse_rate,
    );

    let queries = 10_000;
    let start = Instant::now();
    let mut findings = 0usize;
    for n in 0..queries {
        let version = ["0.1.0", "1.0.0", "2.2.0", "0.2.10", "1.5.0"][n % 5];
        let (ecosystem, name) = [
            ("PyPI", "django"),
            ("crates.io", "time"),
            ("Go", "github.com/gin-gonic/gin"),
            ("npm", "lodash"),
            ("PyPI", "no-such-package"),
        ][n % 5];
        findings += vulndb
            .query(ecosystem, name, version)
            .await
            .unwrap()
            .vulnerabilities
            .len();
    }
    let elapsed = start.elapsed();
    println!(
        "store-backed queries: {queries} in {:.2} s = {:.0} queries/s ({findings} findings)",
        elapsed.as_secs_f64(),
        rate(queries as u64, elapsed)
    );
    drop(vulndb);
    drop(_db);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("synthetic.jsonl");
    let start = Instant::now();
    write_synthetic(&data, synthetic, &file);
    let size = std::fs::metadata(&file).unwrap().len();
    println!(
        "synthetic JSON lines: {synthetic} records, {:.0} MiB, written in {:.1} s (not timed below)",
        size as f64 / (1024.0 * 1024.0),
        start.elapsed().as_secs_f64()
    );
    let (_db, vulndb) = open(backend).await;
    print_import(
        "synthetic, first import",
        timed_import(&vulndb, std::slice::from_ref(&file)).await,
        parse_rate,
    );
    print_import(
        "synthetic, re-import (all unchanged)",
        timed_import(&vulndb, &[file]).await,
        parse_rate,
    );
    reset_peak_memory();
    let before = memory_mib("VmRSS");
    let start = Instant::now();
    let index = vulndb.load_index().await.unwrap();
    let memory = measure(before);
    println!(
        "full index rebuilt from the store: {} records, {} packages in {:.2} s; \
         peak RSS {:.0} MiB (+{:.0} MiB)",
        index.len(),
        index.package_count(),
        start.elapsed().as_secs_f64(),
        memory.peak,
        memory.added,
    );
}

/// This package's directory, as cargo gives it when the test runs: a binary built from a clone at another
/// path (a build directory shared with CI, say) must not read that clone's files.
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
