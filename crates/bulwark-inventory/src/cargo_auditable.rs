//! Rust binaries built with `cargo auditable`: the section `.dep-v0` (ELF, Mach-O, PE
//! alike) holds the build's dependency tree as zlib-compressed JSON,
//! `{"packages": [{"name", "version", "source", "kind", "root", "dependencies"}]}`
//! (`auditable-serde`). `source` is `crates.io`, `registry` (another registry), `git`,
//! `local` or a future kind as a string; `kind` is `runtime` (the default, then left out)
//! or `build`.
//!
//! Components (kind [`Kind::Cargo`], so they match crates.io advisories like a
//! `Cargo.lock`'s): the packages from crates.io or a registry, at the binary's path.
//! Local and git packages have no registry version; build-only dependencies (build
//! scripts, proc macros) ran at build time and are not in the binary. The JSON is
//! inflated up to [`MAX_JSON_BYTES`]: more is an error, not a truncated list.

use std::io::Read;

use object::{Object, ObjectSection};
use serde::Deserialize;

use crate::{Collector, Component, Kind};

const SECTION: &str = ".dep-v0";
/// The inflated JSON read; real ones are tens of kilobytes.
const MAX_JSON_BYTES: u64 = 8 << 20;

#[derive(Deserialize)]
struct VersionInfo {
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    kind: Option<String>,
}

pub(crate) fn extract(
    path: &str,
    file: &object::File<'_>,
    out: &mut Vec<Component>,
) -> Result<(), String> {
    let Some(section) = file.section_by_name(SECTION) else {
        return Ok(());
    };
    let data = section
        .data()
        .map_err(|e| format!("cargo-auditable section {SECTION}: {e}"))?;
    read(path, data, out)
}

/// Reads the compressed dependency list of the binary at `path`.
fn read(path: &str, compressed: &[u8], out: &mut Vec<Component>) -> Result<(), String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("cargo-auditable data does not inflate: {e}"))?;
    if json.len() as u64 > MAX_JSON_BYTES {
        return Err(format!(
            "cargo-auditable data inflates past {MAX_JSON_BYTES} bytes"
        ));
    }
    let info: VersionInfo = serde_json::from_slice(&json)
        .map_err(|e| format!("cargo-auditable data is not its JSON: {e}"))?;
    let mut collector = Collector::new(Kind::Cargo, path, out);
    for package in &info.packages {
        let registry = matches!(package.source.as_str(), "crates.io" | "registry");
        let build_only = package.kind.as_deref() == Some("build");
        if registry && !build_only {
            collector.push(&package.name, &package.version);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write;

    use super::*;
    use crate::go_binary::tests::elf;

    const JSON: &str = r#"{"packages":[
        {"name":"app","version":"0.1.0","source":"local","root":true,"dependencies":[1,2,3,4]},
        {"name":"smallvec","version":"1.6.0","source":"crates.io"},
        {"name":"cc","version":"1.0.83","source":"crates.io","kind":"build"},
        {"name":"internal","version":"2.0.0","source":"registry"},
        {"name":"patched","version":"0.3.0","source":"git"},
        {"name":"future","version":"1.0.0","source":"some-new-kind"}
    ]}"#;

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn names(components: &[Component]) -> Vec<(&str, &str)> {
        components
            .iter()
            .map(|c| (c.name.as_str(), c.version.as_str()))
            .collect()
    }

    #[test]
    fn registry_runtime_packages_are_listed() {
        let mut out = Vec::new();
        read("usr/bin/app", &zlib(JSON.as_bytes()), &mut out).unwrap();
        assert_eq!(names(&out), [("smallvec", "1.6.0"), ("internal", "2.0.0")]);
        assert!(
            out.iter()
                .all(|c| c.kind == Kind::Cargo && c.path == "usr/bin/app")
        );
        assert_eq!(
            out[0].osv_package(None),
            Some(("crates.io".into(), "smallvec".into(), "1.6.0".into()))
        );
    }

    #[test]
    fn a_dep_v0_section_in_a_binary_is_read() {
        let section = zlib(JSON.as_bytes());
        let binary = elf(
            &[(".text", &b"\x90"[..]), (SECTION, section.as_slice())],
            b"",
        );
        let extracted = crate::extract("usr/local/bin/app", &binary);
        assert_eq!(extracted.problem, None);
        assert_eq!(
            names(&extracted.components),
            [("smallvec", "1.6.0"), ("internal", "2.0.0")]
        );
    }

    #[test]
    fn bombs_garbage_and_wrong_json_are_problems() {
        let mut out = Vec::new();
        // 9 MiB of spaces inflate past the cap.
        let bomb = zlib(&b" ".repeat(9 << 20));
        assert!(read("x", &bomb, &mut out).unwrap_err().contains("past"));
        assert!(read("x", b"not zlib", &mut out).is_err());
        assert!(read("x", &zlib(b"{\"crates\":[]}"), &mut out).is_err());
        assert!(out.is_empty());
        let binary = elf(&[(SECTION, &b"garbage"[..])], b"");
        assert!(crate::extract("app", &binary).problem.is_some());
    }
}
