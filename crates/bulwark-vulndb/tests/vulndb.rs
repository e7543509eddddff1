//! The vulnerability database on SQLite and on PostgreSQL: import of a directory, a zip and
//! JSON lines, incremental re-import with withdrawal, malformed records, failed imports
//! that change nothing, updates from a local archive server, and queries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bulwark_metadata::MetadataStore;
use bulwark_test_support::archives::{ArchiveServer, zip_entries, zip_tree};
use bulwark_test_support::{Backend, TestDatabase};
use bulwark_vulndb::{ImportReport, PackageVersions, Progress, QueryReport, VulnDb};

fn fixtures() -> PathBuf {
    package_dir().join("tests/fixtures")
}

async fn open(backend: Backend) -> (TestDatabase, VulnDb) {
    let db = TestDatabase::new(backend).await;
    let store = MetadataStore::connect(db.url(), 4).await.unwrap();
    (db, VulnDb::new(store))
}

async fn import(vulndb: &VulnDb, path: &Path) -> ImportReport {
    let mut reports = vulndb.import(&[path.to_owned()], &mut |_| {}).await;
    reports.pop().unwrap()
}

fn counts(report: &ImportReport) -> (u64, u64, u64, u64, u64, usize) {
    (
        report.read,
        report.added,
        report.replaced,
        report.unchanged,
        report.withdrawn,
        report.malformed.len(),
    )
}

fn ids(report: &QueryReport) -> Vec<&str> {
    report
        .vulnerabilities
        .iter()
        .map(|v| v.id.as_str())
        .collect()
}

async fn imports_and_reimports(backend: Backend) {
    let (_db, vulndb) = open(backend).await;
    let report = import(&vulndb, &fixtures().join("osv")).await;
    assert_eq!(report.failure, None);
    assert_eq!(counts(&report), (5, 4, 0, 0, 0, 1));
    let bad = &report.malformed[0];
    assert_eq!(bad.id.as_deref(), Some("BAD-2024-0001"));
    assert!(
        bad.location.ends_with("bad/BAD-2024-0001.json"),
        "{}",
        bad.location
    );
    assert!(bad.message.contains("last tuesday"), "{}", bad.message);

    // PYSEC-2019-10 and its GHSA twin are one vulnerability, named by their CVE.
    let django = vulndb.query("PyPI", "Django", "2.2.0").await.unwrap();
    assert_eq!(
        (django.ecosystem.as_str(), django.name.as_str()),
        ("PyPI", "django")
    );
    assert_eq!(ids(&django), ["CVE-2019-12781"]);
    let found = &django.vulnerabilities[0];
    assert_eq!(found.records, ["GHSA-6c7v-2f49-8h26", "PYSEC-2019-10"]);
    assert_eq!(found.aliases, ["CVE-2019-12781"]);
    assert_eq!(found.fixed, ["2.2.3"]);
    assert_eq!(found.severity.rating.as_deref(), Some("medium"));
    assert_eq!(
        found.severity.source.as_deref(),
        Some("database_specific.severity = MODERATE")
    );
    assert!(
        vulndb
            .query("PyPI", "django", "2.2.3")
            .await
            .unwrap()
            .vulnerabilities
            .is_empty()
    );
    let purl = vulndb.query_purl("pkg:pypi/django@1.11.5").await.unwrap();
    assert_eq!(purl.vulnerabilities[0].fixed, ["1.11.22"]);
    let time = vulndb.query_purl("pkg:cargo/time@0.2.10").await.unwrap();
    assert_eq!(time.vulnerabilities[0].records, ["RUSTSEC-2020-0071"]);
    assert_eq!(time.vulnerabilities[0].fixed, ["0.2.23"]);
    assert_eq!(
        time.vulnerabilities[0].severity.rating.as_deref(),
        Some("medium")
    );
    assert!(
        time.vulnerabilities[0]
            .severity
            .source
            .as_deref()
            .unwrap()
            .starts_with("CVSS 3.1 CVSS:3.1/AV:L")
    );
    let gin = vulndb
        .query_purl("pkg:golang/github.com/gin-gonic/gin@v1.5.0")
        .await
        .unwrap();
    assert_eq!(gin.vulnerabilities[0].records, ["GO-2020-0001"]);
    assert_eq!(gin.vulnerabilities[0].fixed, ["1.6.0"]);
    assert!(vulndb.query_purl("pkg:pypi/django").await.is_err());

    let status = vulndb.status().await.unwrap();
    assert_eq!((status.records, status.withdrawn), (4, 0));
    let per_ecosystem: Vec<(&str, u64)> = status
        .ecosystems
        .iter()
        .map(|e| (e.ecosystem.as_str(), e.records))
        .collect();
    assert_eq!(per_ecosystem, [("Go", 1), ("PyPI", 2), ("crates.io", 1)]);
    assert!(status.ecosystems[0].last_source.ends_with("osv"));
    assert!(status.ecosystems[0].age_seconds < 60);

    // Re-import: newer GHSA replaces, RUSTSEC withdrawn, older PYSEC skipped, two malformed
    // records reported while the rest goes on.
    let report = import(&vulndb, &fixtures().join("newer.jsonl")).await;
    assert_eq!(report.failure, None);
    assert_eq!(counts(&report), (5, 0, 2, 1, 1, 2));
    assert_eq!(report.malformed[0].id.as_deref(), Some("BAD-2024-0002"));
    assert!(report.malformed[0].location.ends_with("newer.jsonl:3"));
    assert_eq!(report.malformed[1].id, None);
    assert!(report.malformed[1].location.ends_with("newer.jsonl:5"));
    let django = vulndb.query("PyPI", "django", "2.2.0").await.unwrap();
    let found = &django.vulnerabilities[0];
    assert_eq!(
        found.severity.record.as_deref(),
        Some("GHSA-6c7v-2f49-8h26")
    );
    assert_eq!(found.severity.score, Some(5.9));
    assert!(
        found
            .severity
            .source
            .as_deref()
            .unwrap()
            .starts_with("CVSS 3.1")
    );
    assert!(
        vulndb
            .query("crates.io", "time", "0.2.10")
            .await
            .unwrap()
            .vulnerabilities
            .is_empty()
    );
    let status = vulndb.status().await.unwrap();
    assert_eq!((status.records, status.withdrawn), (4, 1));
    assert_eq!(
        status.newest_modified.as_deref(),
        Some("2025-01-01T00:00:00Z")
    );
    let crates = status
        .ecosystems
        .iter()
        .find(|e| e.ecosystem == "crates.io")
        .unwrap();
    assert_eq!((crates.records, crates.withdrawn), (1, 1));
    assert_eq!(vulndb.load_index().await.unwrap().len(), 3);

    // The same data again changes nothing.
    let again = import(&vulndb, &fixtures().join("osv")).await;
    assert_eq!(counts(&again), (5, 0, 0, 4, 0, 1));

    // An archive that breaks after a good record: the import fails and nothing of it lands.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.zip");
    std::fs::write(&broken, corrupt_archive()).unwrap();
    let report = import(&vulndb, &broken).await;
    assert!(report.failure.is_some(), "{report:?}");
    assert_eq!(report.added, 0);
    assert!(
        vulndb
            .query("npm", "left-pad", "1.0.0")
            .await
            .unwrap()
            .vulnerabilities
            .is_empty()
    );
    assert_eq!(vulndb.status().await.unwrap().records, 4);
    // So does a path that is no source.
    let report = import(&vulndb, &fixtures().join("README.md")).await;
    assert!(report.failure.unwrap().contains("not a directory"));
}

/// A zip whose first entry is a good new record and whose second entry's bytes no longer
/// match their checksum.
fn corrupt_archive() -> Vec<u8> {
    use std::io::Write;
    let good = br#"{"id":"NEW-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"left-pad"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}"#;
    let second = br#"{"id":"NEW-2","modified":"2024-01-01T00:00:00Z","details":"corrupt-me"}"#;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in [("NEW-1.json", &good[..]), ("NEW-2.json", &second[..])] {
        writer.start_file(name, stored).unwrap();
        writer.write_all(bytes).unwrap();
    }
    let mut bytes = writer.finish().unwrap().into_inner();
    let at = bytes.windows(10).position(|w| w == b"corrupt-me").unwrap();
    bytes[at] = b'C';
    bytes
}

async fn zip_import_matches_directory(backend: Backend) {
    let (_db, vulndb) = open(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("all.zip");
    std::fs::write(&archive, zip_tree(&fixtures().join("osv"))).unwrap();
    let report = import(&vulndb, &archive).await;
    assert_eq!(counts(&report), (5, 4, 0, 0, 0, 1));
    assert!(
        report.malformed[0]
            .location
            .ends_with("all.zip!bad/BAD-2024-0001.json")
    );
    let django = vulndb.query_purl("pkg:pypi/django@2.2.0").await.unwrap();
    assert_eq!(ids(&django), ["CVE-2019-12781"]);
}

/// A downloaded tree (a directory holding archives) is taken as it is: each archive inside
/// becomes a source of its own.
async fn directory_of_archives(backend: Backend) {
    let (_db, vulndb) = open(backend).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pypi")).unwrap();
    std::fs::write(
        dir.path().join("pypi/all.zip"),
        zip_tree(&fixtures().join("osv/pypi")),
    )
    .unwrap();
    std::fs::copy(
        fixtures().join("newer.jsonl"),
        dir.path().join("newer.jsonl"),
    )
    .unwrap();
    let reports = vulndb.import(&[dir.path().to_owned()], &mut |_| {}).await;
    let sources: Vec<&str> = reports.iter().map(|r| r.source.as_str()).collect();
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert!(sources[0].ends_with("newer.jsonl") && sources[1].ends_with("pypi/all.zip"));
    assert!(
        reports.iter().all(|r| r.failure.is_none() && r.read > 0),
        "{reports:?}"
    );
}

async fn updates_from_an_archive_server(backend: Backend) {
    let (_db, vulndb) = open(backend).await;
    let osv = fixtures().join("osv");
    let pypi = zip_entries(&[
        (
            "PYSEC-2019-10.yaml".into(),
            std::fs::read(osv.join("pypi/django/PYSEC-2019-10.yaml")).unwrap(),
        ),
        (
            "GHSA-6c7v-2f49-8h26.json".into(),
            std::fs::read(osv.join("ghsa/GHSA-6c7v-2f49-8h26.json")).unwrap(),
        ),
    ]);
    let crates = zip_entries(&[(
        "RUSTSEC-2020-0071.json".into(),
        std::fs::read(osv.join("crates/RUSTSEC-2020-0071.json")).unwrap(),
    )]);
    let mut truncated = crates.clone();
    truncated.truncate(truncated.len() / 2);
    let server = ArchiveServer::start(HashMap::from([
        ("PyPI".to_owned(), pypi.clone()),
        ("crates.io".to_owned(), crates),
        ("Truncated".to_owned(), truncated),
    ]));
    let ecosystems: Vec<String> = ["PyPI", "crates.io", "Missing", "Truncated"]
        .map(String::from)
        .to_vec();
    let mut downloads = HashMap::new();
    let mut applied = Vec::new();
    let reports = vulndb
        .update(
            &server.base_url,
            &ecosystems,
            &mut |progress| match progress {
                Progress::Download {
                    url,
                    received,
                    total,
                } => {
                    downloads.insert(url.to_owned(), (received, total));
                }
                Progress::Apply { source } => applied.push(source.to_owned()),
                _ => {}
            },
        )
        .await;
    let pypi_url = format!("{}/PyPI/all.zip", server.base_url);
    assert_eq!(reports[0].source, pypi_url);
    assert_eq!(counts(&reports[0]), (2, 2, 0, 0, 0, 0));
    assert_eq!(counts(&reports[1]), (1, 1, 0, 0, 0, 0));
    assert!(
        reports[2].failure.as_deref().unwrap().contains("404"),
        "{:?}",
        reports[2]
    );
    assert!(reports[3].failure.is_some());
    let size = pypi.len() as u64;
    assert_eq!(downloads[&pypi_url], (size, Some(size)));
    assert_eq!(applied.len(), 2);

    let status = vulndb.status().await.unwrap();
    assert_eq!(status.records, 3);
    let pypi_status = status
        .ecosystems
        .iter()
        .find(|e| e.ecosystem == "PyPI")
        .unwrap();
    assert_eq!(pypi_status.last_source, pypi_url);
    assert_eq!(
        vulndb
            .query("PyPI", "django", "2.2.0")
            .await
            .unwrap()
            .vulnerabilities[0]
            .fixed,
        ["2.2.3"]
    );

    // A second update sends the archives' entity tags back: nothing is downloaded, and the
    // ecosystems count as checked now.
    let mut downloaded = 0;
    let again = vulndb
        .update(&server.base_url, &ecosystems[..2], &mut |progress| {
            if let Progress::Download { .. } = progress {
                downloaded += 1;
            }
        })
        .await;
    assert!(
        again
            .iter()
            .all(|r| r.not_modified && r.failure.is_none() && r.read == 0)
    );
    assert_eq!(downloaded, 0);
    let status = vulndb.status().await.unwrap();
    assert_eq!(status.records, 3);
    assert_eq!(
        status.last_import.unwrap().source,
        format!("{}/crates.io/all.zip", server.base_url)
    );
}

/// Many packages asked at once get exactly the reports each would get alone (the way a
/// scan and a re-match ask), including versions and packages nothing affects.
async fn batch_queries_match_single_ones(backend: Backend) {
    let (_db, vulndb) = open(backend).await;
    assert_eq!(import(&vulndb, &fixtures().join("osv")).await.failure, None);
    let asked = [
        (
            "PyPI",
            "django",
            &["1.11.5", "2.2.0", "2.2.3", "not-a-version"][..],
        ),
        ("crates.io", "time", &["0.2.10", "0.3.0"][..]),
        ("Go", "github.com/gin-gonic/gin", &["1.5.0"][..]),
        ("PyPI", "no-such-package", &["1.0"][..]),
    ];
    let packages: Vec<PackageVersions> = asked
        .iter()
        .map(|(ecosystem, name, versions)| PackageVersions {
            ecosystem: (*ecosystem).into(),
            name: (*name).into(),
            versions: versions.iter().map(|v| (*v).to_owned()).collect(),
        })
        .collect();
    let batch = vulndb.query_packages(&packages).await.unwrap();
    let mut single = Vec::new();
    for (ecosystem, name, versions) in asked {
        for version in versions {
            single.push(vulndb.query(ecosystem, name, version).await.unwrap());
        }
    }
    let json = |reports: &[QueryReport]| serde_json::to_value(reports).unwrap();
    assert_eq!(json(&batch), json(&single));
    assert!(batch.iter().any(|r| !r.vulnerabilities.is_empty()));
}

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends!(
    imports_and_reimports,
    batch_queries_match_single_ones,
    directory_of_archives,
    zip_import_matches_directory,
    updates_from_an_archive_server
);

/// This package's directory, as cargo gives it when the test runs: a binary built from a clone at another
/// path (a build directory shared with CI, say) must not read that clone's files.
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
