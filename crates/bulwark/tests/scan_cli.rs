//! `bulwark scan` as a CI pipeline runs it, with no server: this machine's own dpkg database
//! and os-release as a root filesystem, checked against `dpkg-query` (the real tool) for
//! what is installed, and matched against advisories imported with `bulwark db import`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn bulwark(data_dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .env_remove("BULWARK_CONFIG")
        .env_remove("BULWARK_DATABASE_URL")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap()
}

/// (package, version, source package, source version) of what dpkg says is installed.
fn dpkg_installed() -> Vec<(String, String, String, String)> {
    let out = Command::new("dpkg-query")
        .args([
            "-W",
            "-f=${db:Status-Status}\t${Package}\t${Version}\t${source:Package}\t${source:Version}\n",
        ])
        .output()
        .expect("dpkg-query runs on Debian");
    let mut installed: Vec<_> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            (fields.len() == 5 && fields[0] == "installed").then(|| {
                (
                    fields[1].to_owned(),
                    fields[2].to_owned(),
                    fields[3].to_owned(),
                    fields[4].to_owned(),
                )
            })
        })
        .collect();
    installed.sort();
    installed
}

#[test]
fn a_root_filesystem_is_inventoried_like_dpkg_and_matched() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib/dpkg")).unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::copy(
        "/var/lib/dpkg/status",
        root.path().join("var/lib/dpkg/status"),
    )
    .unwrap();
    std::fs::copy("/etc/os-release", root.path().join("etc/os-release")).unwrap();
    let installed = dpkg_installed();
    assert!(installed.len() > 50, "a Debian machine has packages");
    let bash = installed
        .iter()
        .find(|p| p.0 == "bash")
        .expect("bash is installed")
        .clone();
    let release = std::fs::read_to_string("/etc/os-release").unwrap();
    let version_id = release
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_ID="))
        .unwrap()
        .trim_matches('"')
        .to_owned();

    // An advisory against this machine's bash source package, fixed in a later version.
    let data = tempfile::tempdir().unwrap();
    let advisories = tempfile::tempdir().unwrap();
    let record = serde_json::json!({
        "schema_version": "1.6.0",
        "id": "BWK-SCAN-1",
        "modified": "2024-01-01T00:00:00Z",
        "summary": "a test advisory",
        "affected": [{
            "package": { "ecosystem": format!("Debian:{version_id}"), "name": bash.2 },
            "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": format!("{}+later", bash.3) }] }],
        }],
        "database_specific": { "severity": "HIGH" },
    });
    std::fs::write(
        advisories.path().join("BWK-SCAN-1.json"),
        record.to_string(),
    )
    .unwrap();
    let imported = bulwark(
        data.path(),
        &["db", "import", advisories.path().to_str().unwrap()],
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );

    let out = bulwark(
        data.path(),
        &["scan", root.path().to_str().unwrap(), "--format", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(output["advisories_age_seconds"].as_u64().is_some());
    let report = &output["reports"][0];
    assert_eq!(report["os"], format!("debian {version_id}"));
    let mut found: Vec<(String, String)> = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    let expected: Vec<(String, String)> = installed
        .iter()
        .map(|p| (p.0.clone(), p.1.clone()))
        .collect();
    assert_eq!(found, expected, "exactly what dpkg says is installed");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["id"], "BWK-SCAN-1");
    assert_eq!(findings[0]["component"], "bash");
    assert_eq!(findings[0]["advisory_package"], bash.2.as_str());

    // --fail-on: met at high, not at critical.
    let failing = bulwark(
        data.path(),
        &["scan", root.path().to_str().unwrap(), "--fail-on", "high"],
    );
    assert_eq!(failing.status.code(), Some(3));
    let table = String::from_utf8_lossy(&failing.stdout);
    assert!(
        table.contains("BWK-SCAN-1") && table.contains("advisory data imported"),
        "{table}"
    );
    let passing = bulwark(
        data.path(),
        &[
            "scan",
            root.path().to_str().unwrap(),
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(passing.status.code(), Some(0));
}
