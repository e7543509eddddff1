//! OCI image layouts (`DIR`, `oci:DIR:TAG`): the images a layout holds and their layers,
//! each layer read from `blobs/` and checked against its digest as it streams.

use std::io::Read;
use std::path::{Path, PathBuf};

use bulwark_oci::{Digest, DigestHasher};
use serde_json::Value;

use crate::ScanError;

/// Indexes nest; deeper than this is hostile.
const MAX_DEPTH: usize = 8;
/// Manifests and indexes are small JSON documents.
const MAX_DOCUMENT: u64 = 4 << 20;

/// One image manifest of the layout, with its layers bottom first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub manifest: Digest,
    /// `os/architecture` of a platform manifest, when an index names it.
    pub platform: Option<String>,
    pub layers: Vec<Digest>,
}

/// An OCI image layout on disk.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout at `root` (which must hold `oci-layout` and `index.json`).
    pub fn open(root: &Path) -> Result<Self, ScanError> {
        if !root.join("oci-layout").is_file() || !root.join("index.json").is_file() {
            return Err(ScanError::Layout(format!(
                "{} is not an OCI image layout (no oci-layout and index.json)",
                root.display()
            )));
        }
        Ok(Layout {
            root: root.to_path_buf(),
        })
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(digest.encoded())
    }

    fn document(&self, path: &Path) -> Result<Value, ScanError> {
        let io = |source| ScanError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        file.take(MAX_DOCUMENT + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_DOCUMENT {
            return Err(ScanError::Layout(format!(
                "{} is too large",
                path.display()
            )));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ScanError::Layout(format!("{}: {e}", path.display())))
    }

    fn blob_document(&self, digest: &Digest) -> Result<Value, ScanError> {
        let path = self.blob_path(digest);
        let value = self.document(&path)?;
        // Small: hashed again whole, to refuse a blob that is not what its name says.
        let bytes = std::fs::read(&path).map_err(|source| ScanError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if &Digest::compute(digest.algorithm(), &bytes) != digest {
            return Err(ScanError::Layout(format!(
                "blob {digest} does not match its digest"
            )));
        }
        Ok(value)
    }

    /// The images tagged `tag` (every image when `None`); an index yields each of its
    /// platform manifests.
    pub fn images(&self, tag: Option<&str>) -> Result<Vec<Image>, ScanError> {
        let index = self.document(&self.root.join("index.json"))?;
        let mut images = Vec::new();
        let descriptors = index["manifests"].as_array().cloned().unwrap_or_default();
        for descriptor in descriptors {
            let name = descriptor["annotations"]["org.opencontainers.image.ref.name"].as_str();
            if tag.is_some() && name != tag {
                continue;
            }
            self.collect(&descriptor, None, 0, &mut images)?;
        }
        if images.is_empty() {
            return Err(ScanError::Layout(match tag {
                Some(tag) => format!("no image tagged {tag:?} in the layout"),
                None => "the layout holds no image".to_owned(),
            }));
        }
        Ok(images)
    }

    fn collect(
        &self,
        descriptor: &Value,
        platform: Option<String>,
        depth: usize,
        out: &mut Vec<Image>,
    ) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(ScanError::Layout("indexes nest too deep".into()));
        }
        let digest: Digest = descriptor["digest"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .map_err(|e| ScanError::Layout(format!("a descriptor's digest: {e}")))?;
        let document = self.blob_document(&digest)?;
        if let Some(children) = document["manifests"].as_array() {
            for child in children {
                let platform = child["platform"]["os"].as_str().map(|os| {
                    format!(
                        "{os}/{}",
                        child["platform"]["architecture"].as_str().unwrap_or("?")
                    )
                });
                // Attestations and signatures ride in indexes as `unknown/unknown`.
                if platform.as_deref() == Some("unknown/unknown") {
                    continue;
                }
                self.collect(child, platform, depth + 1, out)?;
            }
            return Ok(());
        }
        let layers = document["layers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|layer| {
                layer["digest"]
                    .as_str()
                    .unwrap_or_default()
                    .parse::<Digest>()
                    .map_err(|e| ScanError::Layout(format!("a layer's digest: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Image {
            manifest: digest,
            platform,
            layers,
        });
        Ok(())
    }

    /// A layer blob as a stream that fails at its end if the bytes do not match `digest`.
    pub fn open_layer(&self, digest: &Digest) -> Result<impl Read + use<>, ScanError> {
        let path = self.blob_path(digest);
        let file = std::fs::File::open(&path).map_err(|source| ScanError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Verified {
            inner: file,
            hasher: Some(DigestHasher::new(digest.algorithm())),
            expected: digest.clone(),
        })
    }
}

/// Hashes what is read through it and fails at the end on a mismatch.
struct Verified<R> {
    inner: R,
    hasher: Option<DigestHasher>,
    expected: Digest,
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match (&mut self.hasher, n) {
            (Some(hasher), 0) if !buf.is_empty() => {
                let actual =
                    std::mem::replace(hasher, DigestHasher::new(self.expected.algorithm()))
                        .finish();
                self.hasher = None;
                if actual != self.expected {
                    return Err(std::io::Error::other(format!(
                        "layer {} does not match its digest (read {actual})",
                        self.expected
                    )));
                }
            }
            (Some(hasher), n) => hasher.update(&buf[..n]),
            (None, _) => {}
        }
        Ok(n)
    }
}
