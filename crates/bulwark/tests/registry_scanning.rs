//! Scanning in the registry, end to end with a real client: an image pushed with skopeo is
//! inventoried at push through the queue (its final filesystem: whiteouts, opaque folders
//! and removed-but-not-purged dpkg entries leave nothing behind), matched against imported
//! advisories, re-matched when `bulwark db import` changes them while the server runs —
//! with the layer bytes gone from the disk, so nothing can have been read again — and found
//! by the impact query; an index is the union of its platforms; an unreadable layer fails
//! its scan with the reason and loses nothing stored. On SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use bulwark_test_support::Backend;
use common::*;
use serde_json::{Value, json};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, bytes).unwrap();
    encoder.finish().unwrap()
}

/// The shape of an AWS access key id (not a real one).
const AWS_KEY: &str = "AKIAZ7Q3RT5WXY2M4BNP";

const DPKG_STATUS: &str = "\
Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u2

Package: oldtool
Status: deinstall ok config-files
Version: 1.0-1
";

fn advisory(id: &str, ecosystem: &str, name: &str, fixed: &str, modified: &str) -> Value {
    json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": modified,
        "summary": format!("{name} is vulnerable"),
        "affected": [{
            "package": { "ecosystem": ecosystem, "name": name },
            "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": fixed }] }],
        }],
        "database_specific": { "severity": "HIGH" },
    })
}

/// Imports `records` through the management API (JSON lines), as an administrator.
async fn import_through_the_api(server: &TestServer, records: &[Value]) {
    let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
    let response = server
        .client()
        .post(server.url("/api/v1/advisories/import"))
        .header("content-type", "application/x-ndjson")
        .body(lines)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reports: Value = response.json().await.unwrap();
    assert_eq!(reports[0]["source"], "upload");
    assert_eq!(reports[0]["failure"], Value::Null, "{reports:#}");
    assert_eq!(reports[0]["read"], records.len());
}

fn report_path(repository: &str, reference: &str) -> String {
    format!(
        "/api/v1/repositories/{}/artifacts/{reference}/scan",
        repository.replace('/', "%2F")
    )
}

/// Reads the artifact's report until `ready` holds (the queue works in the background),
/// for at most a minute.
async fn report_when(
    server: &TestServer,
    repository: &str,
    reference: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let path = report_path(repository, reference);
    let mut last = Value::Null;
    for _ in 0..600 {
        let response = server.client().get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        last = response.json().await.unwrap();
        if ready(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the report of {repository}:{reference} never got there: {last:#}");
}

/// The referrers of `digest` once the scan has attached its SBOMs (two of them).
async fn report_when_referrers(server: &TestServer, repository: &str, digest: &str) -> Vec<Value> {
    for _ in 0..600 {
        let index: Value = server
            .client()
            .get(server.url(&format!("/v2/{repository}/referrers/{digest}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
        if manifests.len() >= 2 {
            return manifests;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no SBOM referrers of {digest}");
}

/// Checks an SBOM with the formats' own validators (`scripts/sbom/validate.py`: CycloneDX's
/// JSON schema through cyclonedx-python-lib, SPDX through spdx-tools).
fn validate_sbom(format: &str, document: &[u8]) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), document).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/sbom/validate.py"
    );
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(format)
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{format} SBOM invalid (the README's test command installs the validators):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn names(report: &Value, list: &str, field: &str) -> Vec<String> {
    let mut names: Vec<String> = report[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn remove_blob_files(dir: &Path, digests: &[String]) -> usize {
    let mut removed = 0;
    for entry in walkdir(dir) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if digests.iter().any(|d| d.ends_with(&name)) {
            std::fs::remove_file(&entry).unwrap();
            removed += 1;
        }
    }
    removed
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

async fn pushed_image_is_scanned_and_rematched(backend: Backend) {
    let server = TestServer::start(backend).await;
    import_advisories(
        &server,
        &[
            advisory(
                "DSA-BWK-1",
                "Debian:12",
                "openssl",
                "3.0.13-1~deb12u1",
                "2024-01-01T00:00:00Z",
            ),
            advisory(
                "PYSEC-BWK-1",
                "PyPI",
                "requests",
                "2.31.0",
                "2024-01-01T00:00:00Z",
            ),
            // Both name packages the final filesystem no longer has.
            advisory(
                "GHSA-bwk-gone",
                "npm",
                "minimist",
                "1.2.6",
                "2024-01-01T00:00:00Z",
            ),
            advisory(
                "PYSEC-BWK-HIDDEN",
                "PyPI",
                "urllib3",
                "1.26.5",
                "2024-01-01T00:00:00Z",
            ),
            advisory(
                "DSA-BWK-OLD",
                "Debian:12",
                "oldtool",
                "2.0-1",
                "2024-01-01T00:00:00Z",
            ),
            json!({
                "schema_version": "1.6.0",
                "id": "MAL-2099-1",
                "modified": "2024-01-01T00:00:00Z",
                "summary": "malicious code in left-padder",
                "affected": [{ "package": { "ecosystem": "npm", "name": "left-padder" }, "versions": ["1.0.0"] }],
            }),
        ],
    );
    let credentials = format!("[default]\naws_access_key_id = {AWS_KEY}\n");
    let base = tar_of(&[
        (
            "etc/os-release",
            b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian 12\"\n",
        ),
        ("var/lib/dpkg/status", DPKG_STATUS.as_bytes()),
        (
            "usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n\nHTTP for humans.\n",
        ),
        (
            "app/node_modules/lodash/package.json",
            br#"{"name": "lodash", "version": "4.17.20"}"#,
        ),
        (
            "app/node_modules/left-padder/package.json",
            br#"{"name": "left-padder", "version": "1.0.0"}"#,
        ),
        (
            "app/removed/node_modules/minimist/package.json",
            br#"{"name": "minimist", "version": "1.2.0"}"#,
        ),
        (
            "opt/venv/lib/python3.11/site-packages/urllib3-1.26.0.dist-info/METADATA",
            b"Name: urllib3\nVersion: 1.26.0\n",
        ),
        ("root/.aws/credentials", credentials.as_bytes()),
        // Deleted by the top layer: not in the final filesystem.
        (
            "app/removed/.git-credentials",
            b"https://deploy:Zq8vT3kLm9Rx2Wp7@git.example.com\n",
        ),
    ]);
    // The top layer deletes `app/removed` and hides everything below in `opt`.
    let top = tar_of(&[
        ("app/.wh.removed", b""),
        ("opt/.wh..wh..opq", b""),
        ("opt/README", b"nothing here\n"),
    ]);
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("image");
    let digest = write_oci_image(&layout, "1.0", &[base, top]);
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &server.creds(),
            &format!("oci:{}:1.0", layout.display()),
            &format!("docker://{}/proj/app:1.0", server.address),
        ],
    );

    // Scanned at push, through the queue.
    let report = report_when(&server, "proj/app", "1.0", |r| r["status"] == "done").await;
    assert_eq!(report["digest"], digest.to_string());
    assert_eq!(report["os"], "debian 12");
    assert!(report["advisories_age_seconds"].as_u64().is_some());
    assert_eq!(
        names(&report, "components", "name"),
        ["left-padder", "libssl3", "lodash", "requests"],
        "nothing the final filesystem lacks: {report:#}"
    );
    let libssl = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "libssl3")
        .unwrap();
    assert_eq!(
        libssl["purl"],
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12&upstream=openssl"
    );
    assert_eq!(libssl["path"], "var/lib/dpkg/status");
    assert!(libssl["layer"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(
        names(&report, "findings", "id"),
        ["DSA-BWK-1", "MAL-2099-1", "PYSEC-BWK-1"]
    );
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(
        findings[0]["id"], "MAL-2099-1",
        "malicious packages come first"
    );
    assert_eq!(findings[0]["kind"], "malicious");
    // The leaked key is reported, redacted; the one the top layer deleted is not.
    assert_eq!(
        names(&report, "secrets", "rule"),
        ["aws-access-key-id"],
        "{report:#}"
    );
    assert_eq!(report["secrets"][0]["path"], "root/.aws/credentials");
    assert_eq!(report["secrets"][0]["line"], 2);
    assert!(
        !report.to_string().contains(AWS_KEY),
        "never the whole value"
    );
    // Its fingerprint is keyed with the installation's key: the standalone scanner on the
    // same store gives the same one, and no reader can test guesses against it (the
    // unkeyed hash of the value is nowhere in the report).
    let cli = server
        .command()
        .args([
            "scan",
            &format!("oci:{}:1.0", layout.display()),
            "--format",
            "json",
            "--data-dir",
        ])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    let fingerprint = report["secrets"][0]["fingerprint"].as_str().unwrap();
    assert_eq!(
        cli.to_string().matches(fingerprint).count(),
        1,
        "the CLI's report has the same fingerprint: {cli:#}"
    );
    let unkeyed = {
        use sha2::Digest as _;
        let hash = sha2::Sha256::digest(format!("aws-access-key-id\0{AWS_KEY}").as_bytes());
        hash[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_ne!(fingerprint, unkeyed);
    assert!(!report.to_string().contains(&unkeyed));
    let openssl = findings.iter().find(|f| f["id"] == "DSA-BWK-1").unwrap();
    assert_eq!(openssl["kind"], "vulnerability");
    assert_eq!(
        openssl["package"], "openssl",
        "distribution advisories name the source"
    );
    assert_eq!(openssl["installed"], "3.0.11-1~deb12u2");
    assert_eq!(openssl["fixed"], json!(["3.0.13-1~deb12u1"]));
    assert_eq!(openssl["severity"], "high");
    assert_eq!(openssl["component"]["name"], "libssl3");

    // SBOMs of it are attached as referrers, in both formats, and are valid documents.
    let referrers = report_when_referrers(&server, "proj/app", &digest.to_string()).await;
    let mut types: Vec<&str> = referrers
        .iter()
        .map(|m| m["artifactType"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["application/spdx+json", "application/vnd.cyclonedx+json"]
    );
    for referrer in &referrers {
        let manifest: Value = server
            .client()
            .get(server.url(&format!(
                "/v2/proj/app/manifests/{}",
                referrer["digest"].as_str().unwrap()
            )))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let blob = manifest["layers"][0]["digest"].as_str().unwrap();
        let document = server
            .client()
            .get(server.url(&format!("/v2/proj/app/blobs/{blob}")))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let parsed: Value = serde_json::from_slice(&document).unwrap();
        let format = if referrer["artifactType"] == "application/spdx+json" {
            assert_eq!(parsed["spdxVersion"], "SPDX-2.3");
            "spdx"
        } else {
            assert_eq!(parsed["specVersion"], "1.6");
            assert!(
                parsed["components"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["name"] == "libssl3"),
                "{parsed:#}"
            );
            "cyclonedx"
        };
        validate_sbom(format, &document);
    }

    // The same image pushed to another repository gets its SBOMs there too, though its
    // scan finds the same inventory and stores nothing new; the first keeps its two.
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &server.creds(),
            &format!("oci:{}:1.0", layout.display()),
            &format!("docker://{}/proj/mirror:1.0", server.address),
        ],
    );
    let mirrored = report_when_referrers(&server, "proj/mirror", &digest.to_string()).await;
    assert_eq!(mirrored.len(), 2, "{mirrored:#?}");
    let mut mirrored_digests: Vec<&Value> = mirrored.iter().map(|m| &m["digest"]).collect();
    let mut first_digests: Vec<&Value> = referrers.iter().map(|m| &m["digest"]).collect();
    mirrored_digests.sort_by_key(|d| d.to_string());
    first_digests.sort_by_key(|d| d.to_string());
    assert_eq!(mirrored_digests, first_digests, "the same documents");
    let first = report_when_referrers(&server, "proj/app", &digest.to_string()).await;
    assert_eq!(first.len(), 2);

    // The impact query finds it by any id, or by package.
    let impact: Value = server
        .client()
        .get(server.url("/api/v1/vulnerabilities/PYSEC-BWK-1/impact"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(impact["items"][0]["repository"], "proj/app");
    assert_eq!(impact["items"][0]["tags"], json!(["1.0"]));
    assert_eq!(impact["items"][0]["digest"], digest.to_string());
    let by_package: Value = server
        .client()
        .get(server.url("/api/v1/packages/pkg%3Anpm%2Flodash%404.17.20/impact"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let holders: Vec<&Value> = by_package["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["repository"])
        .collect();
    assert_eq!(holders, ["proj/app", "proj/mirror"], "{by_package:#}");
    assert_eq!(by_package["items"][0]["version"], "4.17.20");

    // The layers' bytes leave the disk: whatever follows reads none.
    let layers: Vec<String> = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["layer"].as_str().unwrap().to_owned())
        .collect();
    assert!(remove_blob_files(&server.data_dir, &layers) >= 1);

    // New advisory data while the server runs, through the API: a new vulnerability of
    // lodash, and the requests advisory corrected so that 2.25.0 is not affected.
    import_through_the_api(
        &server,
        &[
            advisory(
                "CVE-2099-0001",
                "npm",
                "lodash",
                "4.17.21",
                "2024-02-01T00:00:00Z",
            ),
            advisory(
                "PYSEC-BWK-1",
                "PyPI",
                "requests",
                "2.25.0",
                "2024-02-01T00:00:00Z",
            ),
        ],
    )
    .await;
    let report = report_when(&server, "proj/app", "1.0", |r| {
        r["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["id"] == "CVE-2099-0001"))
    })
    .await;
    assert_eq!(
        names(&report, "findings", "id"),
        ["CVE-2099-0001", "DSA-BWK-1", "MAL-2099-1"],
        "added and resolved without reading a layer"
    );
    assert_eq!(names(&report, "resolved", "id"), ["PYSEC-BWK-1"]);
    assert_eq!(report["status"], "done");

    // A rescan reads the stored layer inventories, not the (now missing) layers.
    let asked = server
        .client()
        .post(server.url(&report_path("proj/app", "1.0")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 202);
    let before = report["finished_at"].clone();
    let rescanned = report_when(&server, "proj/app", &digest.to_string(), |r| {
        r["status"] == "done" && r["finished_at"] != before
    })
    .await;
    assert_eq!(rescanned["components"], report["components"]);

    // The CLI reads the same report with the stored login.
    server.login_as_admin();
    let output = server
        .command()
        .args(["report", "proj/app:1.0", "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cli: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(cli["digest"], digest.to_string());
    assert_eq!(cli["findings"].as_array().unwrap().len(), 3);
    let output = server
        .command()
        .args(["impact", "CVE-2099-0001", "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cli: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(cli["items"][0]["repository"], "proj/app");
    let table = server
        .command()
        .args(["report", "proj/app:1.0"])
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("MAL-2099-1 (malicious)"), "{table}");
    assert!(table.contains("root/.aws/credentials:2"), "{table}");
    // Nowhere whole: not in what the server logged, not in the database file.
    assert!(!server.logs().iter().any(|line| line.contains(AWS_KEY)));
    if backend == Backend::Sqlite {
        for file in walkdir(&server.data_dir) {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("metadata.db") {
                let bytes = std::fs::read(&file).unwrap();
                assert!(
                    !bytes
                        .windows(AWS_KEY.len())
                        .any(|w| w == AWS_KEY.as_bytes()),
                    "{name} holds the key"
                );
            }
        }
    }
    assert!(table.contains("advisory data imported"), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pushed_image_is_scanned_and_rematched_sqlite() {
    pushed_image_is_scanned_and_rematched(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pushed_image_is_scanned_and_rematched_postgres() {
    pushed_image_is_scanned_and_rematched(Backend::Postgres).await;
}

/// Pushes an image of these layers (tar archives, gzipped here); returns its manifest.
async fn push_layers(server: &TestServer, repo: &str, layers: &[Vec<u8>], tag: &str) -> Vec<u8> {
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let config_digest = push_blob(server, repo, config).await;
    let mut descriptors = Vec::new();
    for layer in layers {
        let digest = push_blob(server, repo, layer).await;
        descriptors.push(
            json!({"mediaType": OCI_LAYER, "digest": digest.to_string(), "size": layer.len()}),
        );
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest.to_string(), "size": config.len()},
        "layers": descriptors,
    }))
    .unwrap();
    let response = put_manifest(server, repo, tag, OCI_MANIFEST, &manifest).await;
    assert_eq!(response.status(), 201);
    manifest
}

async fn indexes_and_failures(backend: Backend) {
    let server = TestServer::start(backend).await;
    import_advisories(
        &server,
        &[
            advisory(
                "ALPINE-BWK-1",
                "Alpine:v3.19",
                "musl",
                "1.2.4-r3",
                "2024-01-01T00:00:00Z",
            ),
            advisory(
                "RUSTSEC-BWK-1",
                "crates.io",
                "smallvec",
                "1.6.1",
                "2024-01-01T00:00:00Z",
            ),
            advisory(
                "GHSA-bwk-minimist",
                "npm",
                "minimist",
                "1.2.6",
                "2024-01-01T00:00:00Z",
            ),
        ],
    );
    // An OCI artifact whose layer is a package file (as `oras push` stores one): an npm
    // tarball is inventoried as that package.
    let tarball = gzip(&tar_of(&[(
        "package/package.json",
        br#"{"name": "minimist", "version": "1.2.0"}"#,
    )]));
    let empty = push_blob(&server, "proj/npm", b"{}").await;
    let tarball_digest = push_blob(&server, "proj/npm", &tarball).await;
    let artifact = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.npm.package.v1",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.npm.package.v1.tar+gzip", "digest": tarball_digest.to_string(),
                    "size": tarball.len(), "annotations": {"org.opencontainers.image.title": "minimist-1.2.0.tgz"}}],
    }))
    .unwrap();
    assert_eq!(
        put_manifest(&server, "proj/npm", "1.2.0", OCI_MANIFEST, &artifact)
            .await
            .status(),
        201
    );
    let package = report_when(&server, "proj/npm", "1.2.0", |r| r["status"] == "done").await;
    assert_eq!(names(&package, "components", "name"), ["minimist"]);
    assert_eq!(names(&package, "findings", "id"), ["GHSA-bwk-minimist"]);
    assert_eq!(
        package["components"][0]["path"],
        "minimist-1.2.0.tgz!/package/package.json"
    );
    let alpine = gzip(&tar_of(&[
        ("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"),
        (
            "lib/apk/db/installed",
            b"P:musl-utils\nV:1.2.4-r2\no:musl\n\nP:busybox\nV:1.36.1-r15\no:busybox\n",
        ),
    ]));
    let rust = gzip(&tar_of(&[(
        "srv/Cargo.lock",
        b"version = 3\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
    )]));
    // A project that does not scan at push: its push is passed over by the feed (which
    // reads the outbox in order, so once the later pushes are scanned, it was seen).
    server.create_project("quiet", false).await;
    let settings = api(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/projects/quiet",
        json!({ "scan_on_push": false }),
    )
    .await;
    assert_eq!(settings["scan_on_push"], false);
    assert_eq!(settings["public"], false, "what was not given stays");
    // (Its own content: scans belong to digests, and the same manifest pushed to a project
    // that scans is scanned there, for every repository holding it.)
    let own_layer = gzip(&tar_of(&[("etc/quiet", b"only here\n")]));
    push_layers(&server, "quiet/app", &[own_layer], "1.0").await;
    let amd64 = push_layers(
        &server,
        "proj/multi",
        std::slice::from_ref(&alpine),
        "amd64",
    )
    .await;
    // The same image in another project.
    server.create_project("elsewhere", false).await;
    let copy = push_layers(&server, "elsewhere/copy", &[alpine], "1.0").await;
    assert_eq!(copy, amd64);
    let arm64 = push_layers(&server, "proj/multi", &[rust], "arm64").await;
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": sha256(&amd64).to_string(), "size": amd64.len(),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": OCI_MANIFEST, "digest": sha256(&arm64).to_string(), "size": arm64.len(),
             "platform": {"os": "linux", "architecture": "arm64"}},
        ],
    }))
    .unwrap();
    let response = put_manifest(&server, "proj/multi", "1.0", OCI_INDEX, &index).await;
    assert_eq!(response.status(), 201);

    // The index is the union of its platforms, each component naming its platform.
    let report = report_when(&server, "proj/multi", "1.0", |r| r["status"] == "done").await;
    assert_eq!(
        names(&report, "components", "name"),
        ["busybox", "musl-utils", "smallvec"]
    );
    assert_eq!(
        names(&report, "findings", "id"),
        ["ALPINE-BWK-1", "RUSTSEC-BWK-1"]
    );
    let smallvec = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "smallvec")
        .unwrap();
    assert_eq!(smallvec["platform"], sha256(&arm64).to_string());
    let quiet = report_when(&server, "quiet/app", "1.0", |_| true).await;
    assert_eq!(quiet["status"], "not_scanned");
    assert_eq!(quiet["components"], json!([]));
    // Each platform is reported on its own too.
    let own = report_when(&server, "proj/multi", &sha256(&amd64).to_string(), |r| {
        r["status"] == "done"
    })
    .await;
    assert_eq!(names(&own, "findings", "id"), ["ALPINE-BWK-1"]);
    assert_eq!(own["os"], "alpine 3.19.1");

    // An SBOM someone attaches to it (here CycloneDX, as `syft … | oras attach` does) is
    // read as part of its inventory: what it lists and the files lack is added, marked as
    // found in that SBOM, and matched; what the files hold already is not listed twice.
    let document = serde_json::to_vec(&json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "components": [
            {"type": "library", "name": "minimist", "version": "1.2.0", "purl": "pkg:npm/minimist@1.2.0"},
            {"type": "library", "name": "musl-utils", "version": "1.2.4-r2",
             "purl": "pkg:apk/alpine/musl-utils@1.2.4-r2?upstream=musl"},
        ],
    }))
    .unwrap();
    let empty = push_blob(&server, "proj/multi", b"{}").await;
    let document_digest = push_blob(&server, "proj/multi", &document).await;
    let sbom = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.cyclonedx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.cyclonedx+json", "digest": document_digest.to_string(),
                    "size": document.len()}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": sha256(&amd64).to_string(), "size": amd64.len()},
    }))
    .unwrap();
    let sbom_digest = sha256(&sbom);
    let response = put_manifest(
        &server,
        "proj/multi",
        &sbom_digest.to_string(),
        OCI_MANIFEST,
        &sbom,
    )
    .await;
    assert_eq!(response.status(), 201);
    let with_sbom = report_when(&server, "proj/multi", &sha256(&amd64).to_string(), |r| {
        r["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["id"] == "GHSA-bwk-minimist"))
    })
    .await;
    assert_eq!(
        names(&with_sbom, "components", "name"),
        ["busybox", "minimist", "musl-utils"]
    );
    let listed = with_sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "minimist")
        .unwrap();
    assert_eq!(listed["path"], format!("sbom:{sbom_digest}"));
    assert_eq!(listed["layer"], Value::Null);
    // What it lists is the claim of the repository it is attached in: the same image in
    // another project neither lists it nor is found by it (whoever may push to one project
    // cannot add findings to another's).
    let elsewhere = report_when(&server, "elsewhere/copy", "1.0", |r| r["status"] == "done").await;
    assert_eq!(
        names(&elsewhere, "components", "name"),
        ["busybox", "musl-utils"]
    );
    assert!(!names(&elsewhere, "findings", "id").contains(&"GHSA-bwk-minimist".to_owned()));
    let impact = api(
        &server,
        reqwest::Method::GET,
        "/api/v1/vulnerabilities/GHSA-bwk-minimist/impact",
        Value::Null,
    )
    .await;
    let holders: BTreeSet<&str> = impact["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["digest"] == sha256(&amd64).to_string())
        .map(|i| i["repository"].as_str().unwrap())
        .collect();
    assert_eq!(holders, BTreeSet::from(["proj/multi"]));
    let copy_sboms =
        report_when_referrers(&server, "elsewhere/copy", &sha256(&amd64).to_string()).await;
    assert!(!copy_sboms.is_empty());

    // A layer that is no archive fails its scan with the reason; what is stored stays.
    let garbage = gzip(b"this is not a tar archive, though it says it is one; \0\0\0\x01");
    let broken = push_layers(
        &server,
        "proj/broken",
        std::slice::from_ref(&garbage),
        "1.0",
    )
    .await;
    let report = report_when(&server, "proj/broken", "1.0", |r| r["status"] == "failed").await;
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("layer"), "{reason}");
    assert_eq!(report["attempts"], 1, "a malformed layer is not retried");
    let manifest = server
        .client()
        .get(server.url("/v2/proj/broken/manifests/1.0"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 200);
    assert_eq!(manifest.bytes().await.unwrap().as_ref(), broken.as_slice());
    let layer = server
        .client()
        .get(server.url(&format!("/v2/proj/broken/blobs/{}", sha256(&garbage))))
        .send()
        .await
        .unwrap();
    assert_eq!(layer.bytes().await.unwrap().as_ref(), garbage.as_slice());

    // Callers who cannot read the report are told the artifact does not exist.
    server.create_project("other", false).await;
    api(
        &server,
        reqwest::Method::POST,
        "/api/v1/users",
        json!({ "name": "outsider", "password": "correct horse battery" }),
    )
    .await;
    let outsider = client_as("outsider", "correct horse battery");
    let hidden = outsider
        .get(server.url(&report_path("proj/multi", "1.0")))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404);
    let missing = outsider
        .get(server.url(&report_path("proj/multi", "no-such-tag")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let impact: Value = outsider
        .get(server.url("/api/v1/vulnerabilities/ALPINE-BWK-1/impact"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        impact["items"],
        json!([]),
        "an impact query lists only what one may read"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn indexes_and_failures_sqlite() {
    indexes_and_failures(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn indexes_and_failures_postgres() {
    indexes_and_failures(Backend::Postgres).await;
}
