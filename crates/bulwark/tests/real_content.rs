//! Real content, made into a real image in the test and pushed with skopeo: an old `requests`
//! fetched with `pip download` (installed as pip would, its wheel's `.dist-info` under
//! site-packages), an old `lodash` fetched with `npm pack` (under `node_modules`) and the jars Debian's Maven ships (`/usr/share/maven/lib`, with their own
//! `pom.properties`), matched against the PyPA advisory database, the GitHub advisory
//! sample and the Node.js security working group's records of `../shared/data` imported with
//! `bulwark db import`: findings of `requests`, `lodash` and Debian's `guava`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use bulwark_test_support::Backend;
use common::*;
use serde_json::Value;

/// `../shared/data`; its absence fails the test under CI and skips it elsewhere.
fn shared_data() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    assert!(
        dir.is_dir() || std::env::var_os("CI").is_none(),
        "{} is missing, and CI is set: the shared data must be beside the clone",
        dir.display()
    );
    dir.is_dir().then_some(dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_wheel_and_debian_jars_pushed_with_skopeo() {
    let Some(data) = shared_data() else {
        eprintln!("../shared/data is absent: skipped (outside CI only)");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let wheels = work.path().join("wheels");
    run(
        "python3",
        &[
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "requests==2.19.1",
            "-d",
            wheels.to_str().unwrap(),
        ],
    );
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("pip downloaded a wheel");
    // Installed as pip installs a wheel: its files under site-packages.
    let site = work.path().join("site");
    run(
        "python3",
        &[
            "-m",
            "zipfile",
            "-e",
            wheel.to_str().unwrap(),
            site.to_str().unwrap(),
        ],
    );
    let mut python = Vec::new();
    for entry in walk(&site) {
        let relative = entry
            .strip_prefix(&site)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        python.push((
            format!("usr/lib/python3/dist-packages/{relative}"),
            std::fs::read(&entry).unwrap(),
        ));
    }
    // An old lodash from the npm registry (`npm pack`), installed as npm lays it out.
    let packs = work.path().join("packs");
    std::fs::create_dir_all(&packs).unwrap();
    run(
        "npm",
        &[
            "pack",
            "lodash@4.17.4",
            "--silent",
            "--pack-destination",
            packs.to_str().unwrap(),
        ],
    );
    let tarball = packs.join("lodash-4.17.4.tgz");
    let unpacked = work.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    run(
        "tar",
        &[
            "-xzf",
            tarball.to_str().unwrap(),
            "-C",
            unpacked.to_str().unwrap(),
        ],
    );
    let package = unpacked.join("package");
    for entry in walk(&package) {
        let relative = entry
            .strip_prefix(&package)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        python.push((
            format!("srv/app/node_modules/lodash/{relative}"),
            std::fs::read(&entry).unwrap(),
        ));
    }
    let mut jars = Vec::new();
    for name in ["commons-io.jar", "commons-lang3.jar", "guava.jar"] {
        let path = PathBuf::from("/usr/share/maven/lib").join(name);
        jars.push((
            format!("opt/maven/lib/{name}"),
            std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "{} ({e}): the README's test command installs Maven",
                    path.display()
                )
            }),
        ));
    }
    let borrow = |files: &[(String, Vec<u8>)]| {
        tar_of(
            &files
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_slice()))
                .collect::<Vec<_>>(),
        )
    };
    let layout = work.path().join("image");
    let digest = write_oci_image(&layout, "1.0", &[borrow(&python), borrow(&jars)]);

    let server = TestServer::start(Backend::Sqlite).await;
    let imported = server
        .command()
        .args(["db", "import"])
        .arg(data.join("pypa/pypa-advisory-database-vulns.zip"))
        .arg(data.join("ghsa/ghsa-osvdev-sample.jsonl"))
        .arg(data.join("npm-nodejs-security-wg/nodejs-security-wg-npm.jsonl"))
        .arg("--data-dir")
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &server.creds(),
            &format!("oci:{}:1.0", layout.display()),
            &format!("docker://{}/proj/real:1.0", server.address),
        ],
    );
    let path = "/api/v1/repositories/proj%2Freal/artifacts/1.0/scan";
    let mut report = Value::Null;
    for _ in 0..600 {
        report = server
            .client()
            .get(server.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if report["status"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(report["status"], "done", "{report:#}");
    assert_eq!(report["digest"], digest.to_string());
    let components = report["components"].as_array().unwrap();
    assert!(
        components
            .iter()
            .any(|c| c["name"] == "requests" && c["version"] == "2.19.1"),
        "{report:#}"
    );
    for artifact in [
        "commons-io:commons-io",
        "org.apache.commons:commons-lang3",
        "com.google.guava:guava",
    ] {
        assert!(
            components.iter().any(|c| c["name"] == artifact
                && c["purl"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("pkg:maven/"))),
            "{artifact} from Debian's jar: {report:#}"
        );
    }
    // requests 2.19.1 is affected by CVE-2018-18074 (PYSEC-2018-28, fixed in 2.20.0) and
    // CVE-2023-32681 (PYSEC-2023-74, fixed in 2.31.0), as the PyPA records say.
    let findings = report["findings"].as_array().unwrap();
    for (record, fixed) in [("PYSEC-2018-28", "2.20.0"), ("PYSEC-2023-74", "2.31.0")] {
        let finding = finding_named(findings, record, &report);
        assert_eq!(finding["package"], "requests");
        assert!(
            finding["fixed"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == fixed),
            "{finding:#}"
        );
    }
    // lodash 4.17.4 is affected by CVE-2018-3721 (NSWG-ECO-368, `<4.17.5`) and
    // CVE-2018-16487 (NSWG-ECO-493, `<4.17.11`), as the Node.js security working group's
    // records say (their own format, turned into OSV at import).
    for (record, fixed) in [("NSWG-ECO-368", "4.17.5"), ("NSWG-ECO-493", "4.17.11")] {
        let finding = finding_named(findings, record, &report);
        assert_eq!(finding["package"], "lodash");
        assert_eq!(finding["installed"], "4.17.4");
        assert_eq!(finding["fixed"], serde_json::json!([fixed]), "{finding:#}");
    }
    // Debian's guava is 31.1-jre, which Maven orders before 32.0.0-android: affected by
    // GHSA-5mg8-w23w-74h3 (CVE-2020-8908) and GHSA-7g45-4rm6-3mm3 (CVE-2023-2976), as
    // the GitHub records of the sample say.
    for record in ["GHSA-5mg8-w23w-74h3", "GHSA-7g45-4rm6-3mm3"] {
        let finding = finding_named(findings, record, &report);
        assert_eq!(finding["package"], "com.google.guava:guava");
        assert_eq!(finding["installed"], "31.1-jre");
        assert_eq!(
            finding["fixed"],
            serde_json::json!(["32.0.0-android"]),
            "{finding:#}"
        );
    }
}

/// The finding that `record` is the name of, or one of the names of.
fn finding_named<'a>(findings: &'a [Value], record: &str, report: &Value) -> &'a Value {
    findings
        .iter()
        .find(|f| {
            f["id"] == record
                || f["aliases"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == record))
        })
        .unwrap_or_else(|| panic!("{record} not found: {report:#}"))
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}
