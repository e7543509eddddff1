//! Import and lookup throughput over every advisory in `../shared/data`.
//!
//! Before the criterion runs, one plain pass prints the figures the issue asks for: records
//! parsed and validated per second (with the time 500,000 records would take at that rate),
//! index build time, and the time for 1,000,000 (ecosystem, name, version) lookups in two
//! workloads drawn from the data. Reading the files is not timed.
//!
//! - *advisory-heavy*: every event version and the first listed version of every affected
//!   package, plus one miss per entry. Packages are weighted by how many advisories they
//!   have, so most lookups walk dozens of entries (Go's `stdlib`, Mattermost): a worst case.
//! - *registry scan*: each distinct advisory package once, at its first event version, plus
//!   four lookups of packages without advisories, the shape of scanning a registry where
//!   most packages have none.
// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Instant;

use bulwark_advisory::osv::Event;
use bulwark_advisory::{AdvisoryIndex, Vulnerability};
use criterion::{Criterion, Throughput};

const LOOKUPS: usize = 1_000_000;

fn workload(records: &[Vulnerability]) -> Vec<(String, String, String)> {
    let mut queries = Vec::new();
    for record in records {
        for affected in &record.affected {
            let Some(package) = &affected.package else {
                continue;
            };
            let mut push = |version: &str| {
                queries.push((
                    package.ecosystem.clone(),
                    package.name.clone(),
                    version.to_owned(),
                ));
            };
            for range in &affected.ranges {
                for event in &range.events {
                    if !matches!(event, Event::Introduced(v) if v == "0") {
                        push(event.version());
                    }
                }
            }
            if let Some(first) = affected.versions.first() {
                push(first);
            }
            queries.push((
                package.ecosystem.clone(),
                format!("{}-not-a-package", package.name),
                "1.0.0".to_owned(),
            ));
        }
    }
    queries
}

fn registry_scan(records: &[Vulnerability]) -> Vec<(String, String, String)> {
    let mut seen = std::collections::HashSet::new();
    let mut queries = Vec::new();
    for record in records {
        for affected in &record.affected {
            let Some(package) = &affected.package else {
                continue;
            };
            if !seen.insert((package.ecosystem.clone(), package.name.clone())) {
                continue;
            }
            let version = affected
                .ranges
                .iter()
                .flat_map(|range| &range.events)
                .map(Event::version)
                .find(|version| *version != "0")
                .or(affected.versions.first().map(String::as_str))
                .unwrap_or("1.0.0");
            queries.push((
                package.ecosystem.clone(),
                package.name.clone(),
                version.to_owned(),
            ));
            for miss in 0..4 {
                queries.push((
                    package.ecosystem.clone(),
                    format!("{}-clean-{miss}", package.name),
                    version.to_owned(),
                ));
            }
        }
    }
    queries
}

fn run_lookups(index: &AdvisoryIndex, queries: &[(String, String, String)], count: usize) -> usize {
    let mut found = 0;
    for (ecosystem, name, version) in queries.iter().cycle().take(count) {
        let result = index.query(ecosystem, name, version);
        found += result.findings.len();
        black_box(&result);
    }
    found
}

fn main() {
    let Some(dir) = support::data_dir() else {
        eprintln!("../shared/data not found; nothing to benchmark");
        return;
    };
    let sources = support::read_all(&dir);
    let total: usize = sources.iter().map(|s| s.records.len()).sum();

    let start = Instant::now();
    let (records, failures) = support::parse_all(&sources);
    let parse_time = start.elapsed();
    let rate = total as f64 / parse_time.as_secs_f64();
    println!(
        "parse+validate: {total} records ({} failed) in {:.3} s = {:.0} records/s; 500,000 records would take {:.1} s",
        failures.len(),
        parse_time.as_secs_f64(),
        rate,
        500_000.0 / rate
    );

    let start = Instant::now();
    let index: AdvisoryIndex = records.clone().into_iter().collect();
    let build_time = start.elapsed();
    println!(
        "index build: {} records, {} packages in {:.3} s = {:.0} records/s",
        index.len(),
        index.package_count(),
        build_time.as_secs_f64(),
        index.len() as f64 / build_time.as_secs_f64()
    );

    let queries = workload(&records);
    let scan = registry_scan(&records);
    for (name, queries) in [("advisory-heavy", &queries), ("registry scan", &scan)] {
        let start = Instant::now();
        let found = run_lookups(&index, queries, LOOKUPS);
        let lookup_time = start.elapsed();
        println!(
            "lookups ({name}): {LOOKUPS} over {} distinct queries in {:.3} s = {:.0} lookups/s ({found} findings)",
            queries.len(),
            lookup_time.as_secs_f64(),
            LOOKUPS as f64 / lookup_time.as_secs_f64()
        );
    }

    let mut criterion = Criterion::default().configure_from_args().sample_size(10);
    let mut group = criterion.benchmark_group("advisory");
    group.throughput(Throughput::Elements(total as u64));
    group.bench_function("parse_and_validate_all", |b| {
        b.iter(|| black_box(support::parse_all(&sources)))
    });
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("build_index", |b| {
        b.iter(|| black_box(records.iter().cloned().collect::<AdvisoryIndex>()))
    });
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("lookups_100k_advisory_heavy", |b| {
        b.iter(|| black_box(run_lookups(&index, &queries, 100_000)))
    });
    group.bench_function("lookups_100k_registry_scan", |b| {
        b.iter(|| black_box(run_lookups(&index, &scan, 100_000)))
    });
    group.finish();
    criterion.final_summary();
}
