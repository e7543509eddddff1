//! `docker save` archives: a tar holding `manifest.json` (`[{"Config", "RepoTags",
//! "Layers"}]`) and the layers it names (`<id>/layer.tar` from older Docker, `blobs/sha256/…`
//! from Docker 25 on, which also writes an OCI layout beside it). The archive is indexed once
//! by seeking from header to header, so a layer is read straight out of the file when it is
//! inventoried, never extracted or copied.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ScanError;

/// Entries of an archive indexed; more is hostile.
const MAX_ENTRIES: usize = 1_000_000;
/// `manifest.json` is small.
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// One image of the archive.
#[derive(Debug, Clone)]
pub struct ArchiveImage {
    /// `name:tag` as `docker save` recorded them (none for an image saved by id).
    pub tags: Vec<String>,
    /// The layers' entry names, bottom first.
    pub layers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// An opened `docker save` archive.
#[derive(Debug)]
pub struct DockerArchive {
    path: PathBuf,
    /// Entry name → (offset of its content, size).
    entries: HashMap<String, (u64, u64)>,
    images: Vec<ArchiveImage>,
}

fn problem(path: &Path, what: impl std::fmt::Display) -> ScanError {
    ScanError::Layout(format!("{}: {what}", path.display()))
}

fn io(path: &Path, source: std::io::Error) -> ScanError {
    ScanError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl DockerArchive {
    /// Whether `path` is a tar archive with a `manifest.json`, as `docker save` writes.
    pub fn is_docker_archive(path: &Path) -> bool {
        Self::open(path).is_ok()
    }

    pub fn open(path: &Path) -> Result<Self, ScanError> {
        let file = File::open(path).map_err(|e| io(path, e))?;
        let mut archive = tar::Archive::new(file);
        let mut entries = HashMap::new();
        for entry in archive
            .entries_with_seek()
            .map_err(|e| problem(path, format!("not a tar archive: {e}")))?
        {
            let entry = entry.map_err(|e| problem(path, format!("not a tar archive: {e}")))?;
            if entries.len() >= MAX_ENTRIES {
                return Err(problem(path, "too many entries"));
            }
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.path_bytes())
                .trim_start_matches("./")
                .to_owned();
            entries.insert(name, (entry.raw_file_position(), entry.size()));
        }
        let mut found = DockerArchive {
            path: path.to_path_buf(),
            entries,
            images: Vec::new(),
        };
        let mut manifest = Vec::new();
        found
            .open_entry("manifest.json")?
            .take(MAX_MANIFEST_BYTES)
            .read_to_end(&mut manifest)
            .map_err(|e| io(path, e))?;
        let parsed: Vec<ManifestEntry> = serde_json::from_slice(&manifest)
            .map_err(|e| problem(path, format!("manifest.json: {e}")))?;
        found.images = parsed
            .into_iter()
            .map(|entry| ArchiveImage {
                tags: entry.repo_tags.unwrap_or_default(),
                layers: entry.layers,
            })
            .collect();
        if found.images.is_empty() {
            return Err(problem(path, "manifest.json names no image"));
        }
        Ok(found)
    }

    pub fn images(&self) -> &[ArchiveImage] {
        &self.images
    }

    /// The content of entry `name`, read straight out of the archive.
    pub fn open_entry(&self, name: &str) -> Result<impl Read + use<>, ScanError> {
        let &(offset, size) = self
            .entries
            .get(name.trim_start_matches("./"))
            .ok_or_else(|| problem(&self.path, format!("no entry {name:?}")))?;
        let mut file = File::open(&self.path).map_err(|e| io(&self.path, e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| io(&self.path, e))?;
        Ok(file.take(size))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn layers_are_read_out_of_the_archive() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut add = |name: &str, content: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, content).unwrap();
        };
        add("abc/layer.tar", b"first layer bytes");
        add(
            "manifest.json",
            br#"[{"Config":"c.json","RepoTags":["team/app:1.0"],"Layers":["abc/layer.tar"]}]"#,
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar");
        std::fs::write(&path, builder.into_inner().unwrap()).unwrap();
        let archive = DockerArchive::open(&path).unwrap();
        assert_eq!(archive.images()[0].tags, ["team/app:1.0"]);
        let mut layer = String::new();
        archive
            .open_entry(&archive.images()[0].layers[0])
            .unwrap()
            .read_to_string(&mut layer)
            .unwrap();
        assert_eq!(layer, "first layer bytes");
        assert!(archive.open_entry("missing").is_err());
        std::fs::write(&path, b"not a tar").unwrap();
        assert!(!DockerArchive::is_docker_archive(&path));
    }
}
