//! Every OSV record of `../shared/data` imported through the real pipeline, on both back
//! ends, with hand-checked queries. Skips when the data directory is absent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bulwark_metadata::MetadataStore;
use bulwark_test_support::{Backend, TestDatabase};
use bulwark_vulndb::VulnDb;

/// The OSV sources of `../shared/data` (its README): four JSON-lines files and the PyPA zip.
const SOURCES: &[&str] = &[
    "ghsa/ghsa-osvdev-sample.jsonl",
    "golang/go-vulndb-osv.jsonl",
    "malicious-packages/ossf-malicious-npm-pypi-sample.jsonl",
    "rustsec/rustsec-osv.jsonl",
    "pypa/pypa-advisory-database-vulns.zip",
];

/// `../shared/data` when present; its absence fails the tests under CI.
fn data_dir() -> Option<PathBuf> {
    let dir = package_dir().join("../../../shared/data");
    // Under CI the data must be there: a test that skips there would pass without running.
    assert!(
        dir.is_dir() || std::env::var_os("CI").is_none(),
        "{} is missing, and CI is set: the shared data must be beside the clone",
        dir.display()
    );
    dir.is_dir().then_some(dir)
}

async fn imports_everything(backend: Backend) {
    let Some(data) = data_dir() else {
        // Only outside CI: under CI `data_dir` fails the test when the data is missing.
        eprintln!("../shared/data not found outside CI; not run");
        return;
    };
    let db = TestDatabase::new(backend).await;
    let vulndb = VulnDb::new(MetadataStore::connect(db.url(), 4).await.unwrap());
    let paths: Vec<PathBuf> = SOURCES.iter().map(|s| data.join(s)).collect();
    let reports = vulndb.import(&paths, &mut |_| {}).await;
    for report in &reports {
        assert_eq!(report.failure, None, "{}", report.source);
        assert!(
            report.malformed.is_empty(),
            "{:?}",
            report.malformed.first()
        );
    }
    // README counts: 364 + 4,291 + 5,000 + 1,206 JSON records, 2,661 PyPA YAML records.
    let read: u64 = reports.iter().map(|r| r.read).sum();
    assert_eq!(read, 13_522);
    let status = vulndb.status().await.unwrap();
    // Ids repeat across databases only as aliases, never as record ids.
    assert_eq!(status.records, 13_522);
    // Records with `withdrawn`: 17 Go, 56 malicious packages, 13 RustSec, 10 PyPA.
    assert_eq!(status.withdrawn, 96);
    for ecosystem in ["Go", "Maven", "PyPI", "crates.io", "npm"] {
        assert!(
            status
                .ecosystems
                .iter()
                .any(|e| e.ecosystem == ecosystem && e.records > 0),
            "{ecosystem}"
        );
    }

    // PYSEC-2019-10: Django 2.2 before 2.2.3; its GHSA and CVE ids are one vulnerability.
    let django = vulndb.query_purl("pkg:pypi/django@2.2.0").await.unwrap();
    let found = django
        .vulnerabilities
        .iter()
        .find(|v| v.records.contains(&"PYSEC-2019-10".to_owned()))
        .unwrap();
    assert_eq!(found.id, "CVE-2019-12781");
    assert_eq!(found.fixed, ["2.2.3"]);
    let fixed = vulndb.query_purl("pkg:pypi/django@2.2.3").await.unwrap();
    assert!(
        !fixed
            .vulnerabilities
            .iter()
            .any(|v| v.records.contains(&"PYSEC-2019-10".to_owned()))
    );
    // RUSTSEC-2020-0071: time 0.2.7 up to 0.2.23.
    let time = vulndb.query("crates.io", "time", "0.2.10").await.unwrap();
    let found = time
        .vulnerabilities
        .iter()
        .find(|v| v.records.contains(&"RUSTSEC-2020-0071".to_owned()))
        .unwrap();
    assert_eq!(found.fixed, ["0.2.23"]);

    // A second import of the same data changes nothing.
    let again = vulndb.import(&paths, &mut |_| {}).await;
    assert!(
        again
            .iter()
            .all(|r| r.added + r.replaced == 0 && r.unchanged == r.read)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    imports_everything(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    imports_everything(Backend::Postgres).await;
}

/// This package's directory, as cargo gives it when the test runs: a binary built from a clone at another
/// path (a build directory shared with CI, say) must not read that clone's files.
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
