//! Loading the real advisory databases in `../shared/data` (see its README), shared by the
//! integration test and the benchmark (`#[path]`-included there).
//!
//! OSV data: the JSON-lines files (one record per line) and the PyPA zip (one YAML record
//! per file). The Alpine secdb zip is not OSV; it is converted here into the OSV records
//! osv.dev derives from it (one record per CVE, one affected entry per release and
//! package, `introduced: "0"` and `fixed` at the secfix version), so the distribution
//! path is exercised on real apk versions. The Node.js security-wg file is not OSV either
//! (node-semver range strings) and is left out.

#![allow(dead_code)] // each including target uses a different part

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use bulwark_advisory::{Vulnerability, parse_json, parse_yaml};
use serde::Deserialize;

/// The OSV JSON-lines files, relative to the data directory.
pub const OSV_JSONL: &[&str] = &[
    "ghsa/ghsa-osvdev-sample.jsonl",
    "golang/go-vulndb-osv.jsonl",
    "malicious-packages/ossf-malicious-npm-pypi-sample.jsonl",
    "rustsec/rustsec-osv.jsonl",
];
/// JSON-lines files in a native, non-OSV format.
pub const NOT_OSV_JSONL: &[&str] = &["npm-nodejs-security-wg/nodejs-security-wg-npm.jsonl"];
pub const PYPA_ZIP: &str = "pypa/pypa-advisory-database-vulns.zip";
pub const ALPINE_ZIP: &str = "alpine/alpine-secdb-v3.3-v3.11.zip";

/// `../shared/data` when present; tests skip without it, except under CI, where its absence
/// fails them.
pub fn data_dir() -> Option<PathBuf> {
    let dir = package_dir().join("../../../shared/data");
    // Under CI the data must be there: a test that skips there would pass without running.
    assert!(
        dir.is_dir() || std::env::var_os("CI").is_none(),
        "{} is missing, and CI is set: the shared data must be beside the clone",
        dir.display()
    );
    dir.is_dir().then_some(dir)
}

/// One source's raw records: the bytes of each, and how to parse them.
pub struct RawSource {
    pub name: String,
    pub yaml: bool,
    pub records: Vec<Vec<u8>>,
}

/// Reads every OSV record of every source into memory, unparsed.
pub fn read_all(dir: &Path) -> Vec<RawSource> {
    let mut sources = Vec::new();
    for file in OSV_JSONL {
        let text = fs::read(dir.join(file)).expect("read jsonl");
        let records = text
            .split(|&b| b == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .map(<[u8]>::to_vec)
            .collect();
        sources.push(RawSource {
            name: (*file).to_owned(),
            yaml: false,
            records,
        });
    }
    sources.push(RawSource {
        name: PYPA_ZIP.to_owned(),
        yaml: true,
        records: zip_entries(&dir.join(PYPA_ZIP), ".yaml"),
    });
    sources.push(RawSource {
        name: ALPINE_ZIP.to_owned(),
        yaml: false,
        records: alpine_as_osv(&dir.join(ALPINE_ZIP)),
    });
    sources
}

/// The parsed records and the failures (`source: error`).
pub fn parse_all(sources: &[RawSource]) -> (Vec<Vulnerability>, Vec<String>) {
    let mut records = Vec::new();
    let mut failures = Vec::new();
    for source in sources {
        for bytes in &source.records {
            let parsed = if source.yaml {
                parse_yaml(bytes)
            } else {
                parse_json(bytes)
            };
            match parsed {
                Ok(record) => records.push(record),
                Err(error) => failures.push(format!("{}: {error}", source.name)),
            }
        }
    }
    (records, failures)
}

fn zip_entries(path: &Path, suffix: &str) -> Vec<Vec<u8>> {
    let file = fs::File::open(path).expect("open zip");
    let mut archive = zip::ZipArchive::new(file).expect("read zip");
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("zip entry");
        if entry.is_file() && entry.name().ends_with(suffix) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("read zip entry");
            entries.push(bytes);
        }
    }
    entries
}

#[derive(Deserialize)]
struct SecDb {
    distroversion: String,
    #[serde(default)]
    packages: Vec<SecDbPackage>,
}

#[derive(Deserialize)]
struct SecDbPackage {
    pkg: SecDbPkg,
}

#[derive(Deserialize)]
struct SecDbPkg {
    name: String,
    #[serde(default)]
    secfixes: BTreeMap<String, Option<Vec<String>>>,
}

/// Converts the secdb files into OSV JSON records, one per CVE.
fn alpine_as_osv(path: &Path) -> Vec<Vec<u8>> {
    let mut by_cve: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for bytes in zip_entries(path, ".yaml") {
        let Ok(db) = serde_norway::from_slice::<SecDb>(&bytes) else {
            continue;
        };
        for package in db.packages {
            for (fixed, cves) in package.pkg.secfixes {
                for cve in cves.unwrap_or_default() {
                    // Entries such as "CVE-2019-1234 CVE-2019-5678" carry several ids.
                    for cve in cve.split_whitespace() {
                        by_cve
                            .entry(cve.to_owned())
                            .or_default()
                            .push(serde_json::json!({
                                "package": {
                                    "ecosystem": format!("Alpine:{}", db.distroversion),
                                    "name": package.pkg.name,
                                },
                                "ranges": [{"type": "ECOSYSTEM",
                                            "events": [{"introduced": "0"}, {"fixed": fixed}]}],
                            }));
                    }
                }
            }
        }
    }
    by_cve
        .into_iter()
        .map(|(cve, affected)| {
            serde_json::to_vec(&serde_json::json!({
                "id": format!("ALPINE-{cve}"),
                "aliases": [cve],
                "modified": "2020-06-08T13:44:00Z",
                "affected": affected,
            }))
            .expect("serialise")
        })
        .collect()
}

/// This package's directory, as cargo gives it when the test runs: a binary built from a clone at another
/// path (a build directory shared with CI, say) must not read that clone's files.
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
