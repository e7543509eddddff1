//! Where records come from, read one record at a time: a directory tree of `.json` /
//! `.yaml` / `.yml` files, a zip archive of them (osv.dev's per-ecosystem `all.zip`), a
//! JSON-lines file, or a single record file.
//!
//! Nothing here holds more than one record in memory: archive entries are decompressed one
//! by one and JSON lines are read line by line. A record larger than [`MAX_RECORD_BYTES`]
//! is reported as unreadable instead of being loaded.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::VulnDbError;

/// The largest record accepted. The biggest real OSV records (enumerated Maven versions,
/// Linux kernel CVEs) are a few hundred KiB.
pub(crate) const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// How a record's bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Yaml,
}

impl Format {
    /// The format of a record file, by extension; `None` for files that hold no record.
    fn of_file(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// The kinds of source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceKind {
    Directory,
    Zip,
    JsonLines,
    File(Format),
}

impl SourceKind {
    pub(crate) fn of(path: &Path) -> Result<SourceKind, VulnDbError> {
        if path.is_dir() {
            return Ok(SourceKind::Directory);
        }
        let extension = path.extension().and_then(|e| e.to_str());
        match extension {
            Some("zip") => Ok(SourceKind::Zip),
            Some("jsonl" | "ndjson") => Ok(SourceKind::JsonLines),
            _ => Format::of_file(path)
                .map(SourceKind::File)
                .ok_or_else(|| VulnDbError::UnsupportedSource(path.to_owned())),
        }
    }
}

/// What a directory given to `import` holds: whether it has record files of its own, and
/// the archives (`.zip`, `.jsonl`) under it, which are imported as sources of their own so
/// that `db import DIR` takes a downloaded tree as it is.
pub(crate) fn directory_contents(root: &Path) -> (bool, Vec<std::path::PathBuf>) {
    let mut has_records = false;
    let mut archives = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
    {
        match SourceKind::of(entry.path()) {
            Ok(SourceKind::Zip | SourceKind::JsonLines) => archives.push(entry.into_path()),
            Ok(SourceKind::File(_)) => has_records = true,
            _ => {}
        }
    }
    (has_records, archives)
}

/// One record as read, not yet parsed.
#[derive(Debug)]
pub(crate) struct RawRecord {
    /// Where it is: a file, `archive.zip!entry` or `file.jsonl:line`.
    pub location: String,
    pub format: Format,
    /// The bytes, or why they could not be taken (too large).
    pub bytes: Result<Vec<u8>, String>,
}

/// What a reader hands on.
#[derive(Debug)]
pub(crate) enum Item {
    /// How many records the source holds, when that is known up front (archives).
    Total(u64),
    Record(RawRecord),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> VulnDbError + '_ {
    move |source| VulnDbError::Io {
        path: path.to_owned(),
        source,
    }
}

fn too_large() -> String {
    format!("record is larger than {MAX_RECORD_BYTES} bytes")
}

/// Reads at most [`MAX_RECORD_BYTES`] of `reader`; `Err` when there is more.
fn read_bounded(reader: impl Read, path: &Path) -> Result<Result<Vec<u8>, String>, VulnDbError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(path))?;
    Ok(if bytes.len() as u64 > MAX_RECORD_BYTES {
        Err(too_large())
    } else {
        Ok(bytes)
    })
}

/// Hands every record of the source at `path` to `each`, in a stable order, until the
/// source ends or `each` breaks. Errors are those that end the source (unreadable files,
/// a corrupt archive); a record that merely fails to parse is the caller's business.
pub(crate) fn read(
    path: &Path,
    kind: SourceKind,
    each: &mut dyn FnMut(Item) -> ControlFlow<()>,
) -> Result<(), VulnDbError> {
    match kind {
        SourceKind::Directory => read_directory(path, each),
        SourceKind::Zip => read_zip(path, each),
        SourceKind::JsonLines => read_json_lines(path, each),
        SourceKind::File(format) => {
            let file = File::open(path).map_err(io_error(path))?;
            let bytes = read_bounded(file, path)?;
            let _ = each(Item::Record(RawRecord {
                location: path.display().to_string(),
                format,
                bytes,
            }));
            Ok(())
        }
    }
}

fn read_directory(
    root: &Path,
    each: &mut dyn FnMut(Item) -> ControlFlow<()>,
) -> Result<(), VulnDbError> {
    // Links are followed (advisory trees are often assembled from links); walkdir reports
    // a loop as an error instead of walking it forever.
    for entry in walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|error| {
            let path = error.path().unwrap_or(root).to_owned();
            VulnDbError::Io {
                path,
                source: error.into(),
            }
        })?;
        let Some(format) = Format::of_file(entry.path()) else {
            continue;
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let file = File::open(path).map_err(io_error(path))?;
        let record = RawRecord {
            location: path.display().to_string(),
            format,
            bytes: read_bounded(file, path)?,
        };
        if each(Item::Record(record)).is_break() {
            break;
        }
    }
    Ok(())
}

fn read_zip(path: &Path, each: &mut dyn FnMut(Item) -> ControlFlow<()>) -> Result<(), VulnDbError> {
    let zip_error = |source| VulnDbError::Zip {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_error(path))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_error)?;
    // The central directory is already read: counting record entries costs nothing.
    let total = archive
        .file_names()
        .filter(|name| !name.ends_with('/') && Format::of_file(Path::new(name)).is_some())
        .count();
    if each(Item::Total(total as u64)).is_break() {
        return Ok(());
    }
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(zip_error)?;
        let name = PathBuf::from(entry.name());
        let Some(format) = Format::of_file(&name) else {
            continue;
        };
        if !entry.is_file() {
            continue;
        }
        let location = format!("{}!{}", path.display(), entry.name());
        let bytes = if entry.size() > MAX_RECORD_BYTES {
            Err(too_large())
        } else {
            // The declared size can lie; the bounded read does not trust it.
            read_bounded(entry, path)?
        };
        let record = RawRecord {
            location,
            format,
            bytes,
        };
        if each(Item::Record(record)).is_break() {
            break;
        }
    }
    Ok(())
}

fn read_json_lines(
    path: &Path,
    each: &mut dyn FnMut(Item) -> ControlFlow<()>,
) -> Result<(), VulnDbError> {
    let file = File::open(path).map_err(io_error(path))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        number += 1;
        let read = (&mut reader)
            .take(MAX_RECORD_BYTES + 1)
            .read_until(b'\n', &mut line)
            .map_err(io_error(path))?;
        if read == 0 {
            break;
        }
        let bytes = if line.len() as u64 > MAX_RECORD_BYTES {
            // Skip the rest of the oversized line without holding it.
            while !line.ends_with(b"\n") {
                line.clear();
                let more = (&mut reader)
                    .take(1 << 20)
                    .read_until(b'\n', &mut line)
                    .map_err(io_error(path))?;
                if more == 0 {
                    break;
                }
            }
            Err(too_large())
        } else if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        } else {
            Ok(std::mem::take(&mut line))
        };
        let record = RawRecord {
            location: format!("{}:{number}", path.display()),
            format: Format::Json,
            bytes,
        };
        if each(Item::Record(record)).is_break() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(path: &Path) -> Vec<(String, Result<Vec<u8>, String>)> {
        let mut records = Vec::new();
        read(path, SourceKind::of(path).unwrap(), &mut |item| {
            if let Item::Record(record) = item {
                records.push((record.location, record.bytes));
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        records
    }

    #[test]
    fn kinds_follow_the_path() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(SourceKind::of(dir.path()).unwrap(), SourceKind::Directory);
        for (name, kind) in [
            ("a.zip", SourceKind::Zip),
            ("a.jsonl", SourceKind::JsonLines),
            ("a.json", SourceKind::File(Format::Json)),
            ("a.yml", SourceKind::File(Format::Yaml)),
        ] {
            assert_eq!(SourceKind::of(Path::new(name)).unwrap(), kind);
        }
        assert!(matches!(
            SourceKind::of(Path::new("a.txt")),
            Err(VulnDbError::UnsupportedSource(_))
        ));
    }

    #[test]
    fn directories_are_walked_recursively_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        std::fs::write(dir.path().join("b/c/z.yaml"), "id: Z").unwrap();
        std::fs::write(dir.path().join("a.json"), "{}").unwrap();
        std::fs::write(dir.path().join(".id-allocator"), "7").unwrap();
        std::fs::write(dir.path().join("b/notes.md"), "no").unwrap();
        let found: Vec<String> = collect(dir.path())
            .into_iter()
            .map(|(location, _)| location)
            .collect();
        let root = dir.path().display();
        assert_eq!(
            found,
            [format!("{root}/a.json"), format!("{root}/b/c/z.yaml")]
        );
    }

    #[test]
    fn archives_announce_their_record_count_and_follow_links_in_trees() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tree/sub")).unwrap();
        std::fs::write(dir.path().join("tree/sub/a.json"), "{}").unwrap();
        std::fs::write(dir.path().join("tree/LICENSE"), "text").unwrap();
        std::os::unix::fs::symlink(dir.path().join("tree/sub"), dir.path().join("tree/linked"))
            .unwrap();
        let tree: Vec<String> = collect(&dir.path().join("tree"))
            .into_iter()
            .map(|(location, _)| location.rsplit('/').take(2).collect::<Vec<_>>().join("<"))
            .collect();
        assert_eq!(tree, ["a.json<linked", "a.json<sub"]);

        let archive = dir.path().join("all.zip");
        let mut writer = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        writer.add_directory("vulns/", options).unwrap();
        for name in ["vulns/A.json", "vulns/B.yaml", "LICENSE"] {
            writer.start_file(name, options).unwrap();
            std::io::Write::write_all(&mut writer, b"{}").unwrap();
        }
        writer.finish().unwrap();
        let mut total = None;
        let mut records = 0;
        read(&archive, SourceKind::Zip, &mut |item| {
            match item {
                Item::Total(count) => total = Some(count),
                Item::Record(_) => records += 1,
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!((total, records), (Some(2), 2));
    }

    #[test]
    fn json_lines_skip_blank_lines_and_refuse_oversized_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let huge = "x".repeat(MAX_RECORD_BYTES as usize + 10);
        std::fs::write(&path, format!("{{\"a\":1}}\n\n  \n{huge}\n{{\"b\":2}}")).unwrap();
        let records = collect(&path);
        let shown: Vec<(String, bool)> = records
            .iter()
            .map(|(location, bytes)| {
                (
                    location.rsplit(':').next().unwrap().to_owned(),
                    bytes.is_ok(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [("1".into(), true), ("4".into(), false), ("5".into(), true)]
        );
        assert_eq!(records[2].1.as_deref().unwrap(), b"{\"b\":2}");
    }
}
