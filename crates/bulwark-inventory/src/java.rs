//! Java artifacts: the `META-INF/maven/<groupId>/<artifactId>/pom.properties` Maven writes
//! into every artifact it builds, found loose in a filesystem (an exploded archive) or
//! inside `.jar`, `.war`, `.ear` (and Jenkins' `.jpi`/`.hpi`) archives, which are zip
//! files read from their bytes.
//!
//! An archive yields every `pom.properties` it holds (a shaded jar holds its dependencies'
//! too). One without any falls back to its `META-INF/MANIFEST.MF` (`Implementation-Title`
//! or `Bundle-SymbolicName`, and `Implementation-Version` or `Bundle-Version`); a manifest
//! names no group, so such a component is named by its artifact alone, and since Maven
//! advisories name `groupId:artifactId` it is listed but matched against nothing (see
//! [`crate::Component::osv_package`]).
//!
//! Archives nest (`WEB-INF/lib/*.jar` in a war, `BOOT-INF/lib/*.jar` in a Spring Boot jar,
//! wars in an ear): nested ones are read too, up to three archives deep counting the file
//! itself, each component's path naming the archive it came from as
//! `outer.war!/WEB-INF/lib/inner.jar`. Hostile archives are bounded: at most
//! [`MAX_ENTRIES`] entries of an archive are looked at, a nested archive is read into
//! memory only up to [`MAX_NESTED_BYTES`] decompressed (a `pom.properties` or manifest up
//! to [`MAX_TEXT_BYTES`]); what is skipped is reported as a problem and the rest is read.

use std::collections::BTreeSet;
use std::io::{Cursor, Read};

use zip::ZipArchive;

use crate::{Component, Kind, field};

/// Archives read, counting the file itself: an ear's war's jars are the deepest.
const MAX_DEPTH: usize = 3;
/// Entries of one archive looked at.
const MAX_ENTRIES: usize = 10_000;
/// Decompressed size of a nested archive read into memory.
const MAX_NESTED_BYTES: u64 = 64 << 20;
/// Decompressed size of a `pom.properties` or manifest read.
const MAX_TEXT_BYTES: u64 = 1 << 20;
/// Decompressed bytes read from the entries of one file, nested archives included: a
/// thousand nested archives of 64 MiB each would take long to inflate.
const MAX_TOTAL_BYTES: u64 = 1 << 30;
/// Problems listed for one file; more are counted.
const MAX_PROBLEMS: usize = 20;

pub(crate) fn wants(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    is_archive(file)
        || (file == "pom.properties" && (path == file || path.contains("META-INF/maven/")))
}

/// Whether an entry or file name is a Java archive's.
fn is_archive(name: &str) -> bool {
    let Some((stem, extension)) = name.rsplit_once('.') else {
        return false;
    };
    !stem.is_empty()
        && !stem.ends_with('/')
        && ["jar", "war", "ear", "jpi", "hpi"]
            .iter()
            .any(|known| extension.eq_ignore_ascii_case(known))
}

pub(crate) fn extract(path: &str, content: &[u8], out: &mut Vec<Component>) -> Result<(), String> {
    let file = path.rsplit('/').next().unwrap_or(path);
    if !is_archive(file) {
        let text = String::from_utf8_lossy(content);
        let Some((group, artifact, version)) = pom_properties(&text) else {
            return Err("no groupId, artifactId and version".to_owned());
        };
        out.push(component(format!("{group}:{artifact}"), version, path));
        return Ok(());
    }
    let mut reading = Reading {
        out,
        problems: Vec::new(),
        budget: MAX_TOTAL_BYTES,
    };
    archive(path, content, 1, &mut reading);
    let mut problems = reading.problems;
    if problems.is_empty() {
        return Ok(());
    }
    if problems.len() > MAX_PROBLEMS {
        let more = problems.len() - MAX_PROBLEMS;
        problems.truncate(MAX_PROBLEMS);
        problems.push(format!("{more} more problems"));
    }
    Err(problems.join("; "))
}

/// One file's reading: what it found, what it could not read, what it may still inflate.
struct Reading<'a> {
    out: &'a mut Vec<Component>,
    problems: Vec<String>,
    budget: u64,
}

fn component(name: String, version: &str, path: &str) -> Component {
    Component {
        kind: Kind::Maven,
        name,
        version: version.to_owned(),
        source: None,
        path: path.to_owned(),
        arch: None,
    }
}

/// What an archive entry is to us.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    Pom,
    Manifest,
    Nested,
}

/// Reads the archive `bytes`, found at `path` `depth` archives deep.
fn archive(path: &str, bytes: &[u8], depth: usize, reading: &mut Reading<'_>) {
    let mut zip = match ZipArchive::new(Cursor::new(bytes)) {
        Ok(zip) => zip,
        Err(e) => {
            reading
                .problems
                .push(format!("{path}: not a zip archive: {e}"));
            return;
        }
    };
    let entries = zip.len();
    if entries > MAX_ENTRIES {
        reading.problems.push(format!(
            "{path}: {entries} entries, only the first {MAX_ENTRIES} read"
        ));
    }
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut has_pom = false;
    let mut manifest: Option<String> = None;
    for index in 0..entries.min(MAX_ENTRIES) {
        let mut entry = match zip.by_index(index) {
            Ok(entry) => entry,
            Err(e) => {
                reading.problems.push(format!("{path}: entry {index}: {e}"));
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_owned();
        let kind = if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
            Entry::Pom
        } else if name == "META-INF/MANIFEST.MF" {
            Entry::Manifest
        } else if is_archive(&name) {
            Entry::Nested
        } else {
            continue;
        };
        let inner = format!("{path}!/{name}");
        if kind == Entry::Nested && depth >= MAX_DEPTH {
            reading.problems.push(format!(
                "{inner}: more than {MAX_DEPTH} archives deep, not read"
            ));
            continue;
        }
        let cap = if kind == Entry::Nested {
            MAX_NESTED_BYTES
        } else {
            MAX_TEXT_BYTES
        };
        let limit = cap.min(reading.budget);
        // The declared size may lie; reading stops at the limit either way.
        let data = if entry.size() > limit {
            None
        } else {
            match read_capped(&mut entry, limit) {
                Ok(data) => data,
                Err(e) => {
                    reading.problems.push(format!("{inner}: {e}"));
                    continue;
                }
            }
        };
        drop(entry);
        let Some(data) = data else {
            let why = if limit < cap {
                format!("{MAX_TOTAL_BYTES} decompressed bytes already read from this file")
            } else {
                format!("larger than {cap} bytes")
            };
            reading.problems.push(format!("{inner}: not read, {why}"));
            continue;
        };
        reading.budget = reading.budget.saturating_sub(data.len() as u64);
        match kind {
            Entry::Pom => {
                let text = String::from_utf8_lossy(&data);
                if let Some((group, artifact, version)) = pom_properties(&text) {
                    has_pom = true;
                    let name = format!("{group}:{artifact}");
                    if seen.insert((name.clone(), version.to_owned())) {
                        reading.out.push(component(name, version, path));
                    }
                }
            }
            Entry::Manifest => manifest = Some(String::from_utf8_lossy(&data).into_owned()),
            Entry::Nested => archive(&inner, &data, depth + 1, reading),
        }
    }
    if !has_pom
        && let Some(manifest) = manifest
        && let Some((name, version)) = from_manifest(&manifest)
    {
        reading.out.push(component(name, &version, path));
    }
}

/// At most `cap` bytes of `reader`; `None` when it holds more.
fn read_capped(reader: &mut impl Read, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    reader.take(cap.saturating_add(1)).read_to_end(&mut data)?;
    if data.len() as u64 > cap {
        return Ok(None);
    }
    Ok(Some(data))
}

/// A `pom.properties`' `groupId`, `artifactId` and `version` (Java properties: `key=value`
/// or `key: value`, `#` and `!` comments); unresolved `${…}` values count as missing.
fn pom_properties(text: &str) -> Option<(&str, &str, &str)> {
    let mut group = None;
    let mut artifact = None;
    let mut version = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', '!']) {
            continue;
        }
        let Some(separator) = line.find(['=', ':']) else {
            continue;
        };
        let key = line.get(..separator).unwrap_or_default().trim();
        let value = line.get(separator + 1..).unwrap_or_default().trim();
        match key {
            "groupId" => group = Some(value),
            "artifactId" => artifact = Some(value),
            "version" => version = Some(value),
            _ => {}
        }
    }
    let (group, artifact, version) = (group?, artifact?, version?);
    let known = |value: &str| !value.is_empty() && !value.contains("${");
    (known(group) && known(artifact) && known(version)).then_some((group, artifact, version))
}

/// The name and version a manifest's main section gives. Manifest lines wrap at 72 bytes,
/// a continuation starting with one space that is not part of the value.
fn from_manifest(text: &str) -> Option<(String, String)> {
    let mut fields: Vec<(&str, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some(continued) = line.strip_prefix(' ') {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(continued);
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            fields.push((
                key.trim(),
                value.strip_prefix(' ').unwrap_or(value).to_owned(),
            ));
        }
    }
    let value = |key: &str| {
        field(&fields, key)
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let name = value("Implementation-Title").or_else(|| {
        // `org.example.lib;singleton:=true`
        value("Bundle-SymbolicName").map(|name| name.split(';').next().unwrap_or_default().trim())
    })?;
    let version = value("Implementation-Version").or_else(|| value("Bundle-Version"))?;
    (!name.is_empty()).then(|| (name.to_owned(), version.to_owned()))
}
