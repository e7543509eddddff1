//! Package files as artifacts: a wheel (`.whl`, a zip), a source distribution or npm
//! tarball (`.tar.gz`, `.tgz`), a `.crate` (a gzipped tar), a Java archive. Each is the
//! package it declares — wheel `*.dist-info/METADATA`, sdist `<dir>/PKG-INFO`, npm
//! `package/package.json`, crate `<dir>/Cargo.toml` — plus whatever lock files and
//! metadata files inside any extractor reads (a crate's `Cargo.lock`, a tarball's
//! `package-lock.json`). Paths are written `FILE!/ENTRY`.
//!
//! Archives are hostile like everything else: entries, the size of one entry read and the
//! decompressed total are capped, and what is skipped is reported.

use std::io::Read;

use crate::{Component, Extracted, Kind, field, fields};

/// Entries of one package file looked at.
const MAX_ENTRIES: usize = 100_000;
/// An entry read into memory (metadata and lock files are small).
const MAX_ENTRY_BYTES: u64 = 16 << 20;
/// Decompressed bytes of a tarball read, in all.
const MAX_TOTAL_BYTES: u64 = 1 << 30;

/// Whether `name` (a file name or path) is a package file this module reads.
pub fn is_package_file(name: &str) -> bool {
    let name = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    [".whl", ".tar.gz", ".tgz", ".crate"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
        || crate::java::wants(&name)
}

/// The components of the package file `name` holding `content`.
pub fn extract_package(name: &str, content: &[u8]) -> Extracted {
    let lower = name.to_ascii_lowercase();
    if crate::java::wants(&lower) {
        return crate::extract(name, content);
    }
    let mut out = Extracted::default();
    let result = if lower.ends_with(".whl") {
        zip_entries(name, content, &mut out)
    } else {
        tar_entries(name, content, &mut out)
    };
    if let Err(problem) = result {
        out.problem = Some(match out.problem.take() {
            Some(earlier) => format!("{earlier}; {problem}"),
            None => problem,
        });
    }
    out
}

/// Hands one entry to the extractors, and reads a package's own manifest.
fn entry(file: &str, entry: &str, content: &[u8], out: &mut Extracted) {
    let path = format!("{file}!/{entry}");
    let depth = entry.matches('/').count();
    let base = entry.rsplit('/').next().unwrap_or(entry);
    if depth == 1 && base == "PKG-INFO" {
        // An sdist's own metadata, `name-version/PKG-INFO`.
        let text = String::from_utf8_lossy(content);
        let headers = text.split("\n\n").next().unwrap_or_default();
        let fields = fields(headers);
        if let (Some(name), Some(version)) = (field(&fields, "Name"), field(&fields, "Version")) {
            push(out, Kind::Python, name, version, &path);
        }
        return;
    }
    if entry == "package/package.json" {
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(content);
        match parsed {
            Ok(document) => {
                if let (Some(name), Some(version)) =
                    (document["name"].as_str(), document["version"].as_str())
                {
                    push(out, Kind::Npm, name, version, &path);
                }
            }
            Err(error) => note(out, format!("{path}: not JSON: {error}")),
        }
        return;
    }
    if depth == 1 && base == "Cargo.toml" {
        let text = String::from_utf8_lossy(content);
        match toml::from_str::<toml::Value>(&text) {
            Ok(manifest) => {
                let package = &manifest["package"];
                if let (Some(name), Some(version)) = (
                    package.get("name").and_then(|v| v.as_str()),
                    package.get("version").and_then(|v| v.as_str()),
                ) {
                    push(out, Kind::Cargo, name, version, &path);
                }
            }
            Err(error) => note(out, format!("{path}: not TOML: {error}")),
        }
        return;
    }
    if crate::wants(entry) {
        let found = crate::extract(entry, content);
        out.components
            .extend(found.components.into_iter().map(|c| Component {
                path: format!("{file}!/{}", c.path),
                ..c
            }));
        if let Some(problem) = found.problem {
            note(out, format!("{path}: {problem}"));
        }
    }
}

fn push(out: &mut Extracted, kind: Kind, name: &str, version: &str, path: &str) {
    if name.is_empty() || version.is_empty() {
        return;
    }
    out.components.push(Component {
        kind,
        name: name.to_owned(),
        version: version.to_owned(),
        source: None,
        path: path.to_owned(),
        arch: None,
    });
}

fn note(out: &mut Extracted, problem: String) {
    out.problem = Some(match out.problem.take() {
        Some(earlier) => format!("{earlier}; {problem}"),
        None => problem,
    });
}

/// Whether an entry is one anything here reads (so others are not decompressed).
fn interesting(entry: &str) -> bool {
    let depth = entry.matches('/').count();
    let base = entry.rsplit('/').next().unwrap_or(entry);
    (depth == 1 && (base == "PKG-INFO" || base == "Cargo.toml"))
        || entry == "package/package.json"
        || crate::wants(entry)
}

fn zip_entries(file: &str, content: &[u8], out: &mut Extracted) -> Result<(), String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(content))
        .map_err(|e| format!("not a zip archive: {e}"))?;
    for index in 0..archive.len().min(MAX_ENTRIES) {
        let mut member = match archive.by_index(index) {
            Ok(member) => member,
            Err(error) => {
                note(out, format!("entry {index}: {error}"));
                continue;
            }
        };
        let Some(name) = member
            .enclosed_name()
            .and_then(|p| p.to_str().map(str::to_owned))
        else {
            continue;
        };
        if !member.is_file() || !interesting(&name) {
            continue;
        }
        if member.size() > MAX_ENTRY_BYTES {
            note(
                out,
                format!("{file}!/{name}: {} bytes, skipped", member.size()),
            );
            continue;
        }
        let mut bytes = Vec::new();
        if let Err(error) = member
            .by_ref()
            .take(MAX_ENTRY_BYTES)
            .read_to_end(&mut bytes)
        {
            note(out, format!("{file}!/{name}: {error}"));
            continue;
        }
        entry(file, &name, &bytes, out);
    }
    if archive.len() > MAX_ENTRIES {
        note(
            out,
            format!("more than {MAX_ENTRIES} entries; the rest skipped"),
        );
    }
    Ok(())
}

fn tar_entries(file: &str, content: &[u8], out: &mut Extracted) -> Result<(), String> {
    let gunzipped = flate2::read::MultiGzDecoder::new(content).take(MAX_TOTAL_BYTES);
    let mut archive = tar::Archive::new(gunzipped);
    let entries = archive
        .entries()
        .map_err(|e| format!("not a gzipped tar archive: {e}"))?;
    for (seen, member) in entries.enumerate() {
        if seen >= MAX_ENTRIES {
            note(
                out,
                format!("more than {MAX_ENTRIES} entries; the rest skipped"),
            );
            break;
        }
        let mut member = member.map_err(|e| format!("not a gzipped tar archive: {e}"))?;
        if member.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let raw = member.path_bytes().into_owned();
        let Ok(name) = std::str::from_utf8(&raw) else {
            continue;
        };
        let name = name.trim_start_matches("./").to_owned();
        if name.split('/').any(|part| part == "..") || !interesting(&name) {
            continue;
        }
        let size = member.size();
        if size > MAX_ENTRY_BYTES {
            note(out, format!("{file}!/{name}: {size} bytes, skipped"));
            continue;
        }
        let mut bytes = Vec::new();
        member
            .by_ref()
            .take(MAX_ENTRY_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{file}!/{name}: {e}"))?;
        entry(file, &name, &bytes, out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *content).unwrap();
        }
        let tar = builder.into_inner().unwrap();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, &tar).unwrap();
        encoder.finish().unwrap()
    }

    fn found(extracted: &Extracted) -> Vec<(Kind, String, String, String)> {
        let mut found: Vec<_> = extracted
            .components
            .iter()
            .map(|c| (c.kind, c.name.clone(), c.version.clone(), c.path.clone()))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn an_npm_tarball_is_its_package_and_its_lock() {
        let lock = br#"{"lockfileVersion": 3, "packages": {"": {"name": "left"}, "node_modules/minimist": {"version": "1.2.0"}}}"#;
        let file = tgz(&[
            (
                "package/package.json",
                br#"{"name": "left", "version": "1.0.0"}"#,
            ),
            ("package/package-lock.json", lock),
            ("package/README.md", b"# left"),
        ]);
        let extracted = extract_package("left-1.0.0.tgz", &file);
        assert_eq!(extracted.problem, None);
        let found = found(&extracted);
        assert!(found.contains(&(
            Kind::Npm,
            "left".into(),
            "1.0.0".into(),
            "left-1.0.0.tgz!/package/package.json".into()
        )));
        assert!(
            found.iter().any(|c| c.1 == "minimist" && c.2 == "1.2.0"),
            "{found:?}"
        );
    }

    #[test]
    fn sdists_crates_and_wheels() {
        let sdist = tgz(&[(
            "django-3.2.0/PKG-INFO",
            b"Metadata-Version: 2.1\nName: Django\nVersion: 3.2.0\n\nlong text",
        )]);
        assert_eq!(
            found(&extract_package("Django-3.2.0.tar.gz", &sdist)),
            [(
                Kind::Python,
                "Django".into(),
                "3.2.0".into(),
                "Django-3.2.0.tar.gz!/django-3.2.0/PKG-INFO".into()
            )]
        );
        let krate = tgz(&[
            (
                "smallvec-1.6.0/Cargo.toml",
                b"[package]\nname = \"smallvec\"\nversion = \"1.6.0\"\n",
            ),
            ("smallvec-1.6.0/src/lib.rs", b"// code"),
        ]);
        assert_eq!(
            found(&extract_package("smallvec-1.6.0.crate", &krate)).len(),
            1
        );

        let mut wheel = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        wheel
            .start_file(
                "requests-2.25.0.dist-info/METADATA",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        std::io::Write::write_all(&mut wheel, b"Name: requests\nVersion: 2.25.0\n").unwrap();
        let wheel = wheel.finish().unwrap().into_inner();
        let found = found(&extract_package("requests-2.25.0-py3-none-any.whl", &wheel));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, "requests");
        assert!(found[0].3.starts_with("requests-2.25.0-py3-none-any.whl!/"));
    }

    #[test]
    fn broken_package_files_are_problems_not_panics() {
        for name in ["x.whl", "x.tgz", "x.crate", "x.jar"] {
            let extracted = extract_package(name, b"\x1f\x8b garbage");
            assert!(extracted.components.is_empty());
            assert!(extracted.problem.is_some(), "{name}");
        }
        assert!(is_package_file("dist/left-1.0.0.tgz") && !is_package_file("notes.txt"));
    }
}
