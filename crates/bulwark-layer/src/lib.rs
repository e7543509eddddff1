//! Container image layers as streams, for scanners: a layer blob (tar, optionally gzip or
//! zstd compressed) is read once, front to back, never written to disk; the files a caller
//! wants are handed to it whole (up to a size cap), and what the layer deletes from the
//! layers below it (whiteouts, opaque directories) is recorded, so that [`FinalView`] can
//! tell which files of which layer the image's final filesystem still has.
//!
//! Everything here treats its input as hostile: decompressed size, compression ratio,
//! number of entries and the size of a file read into memory are capped ([`Limits`]);
//! absolute paths are made relative, `..` components and non-UTF-8 names are skipped with a
//! [`Warning`]; links are recorded as links and never followed, so nothing outside the
//! image can be read through one. No I/O besides the reader it is given, no database.

mod path;
mod view;

use std::io::{self, Read};

pub use path::normalize;
pub use view::{FinalView, LayerChanges, PathSet};

/// Caps on what one layer may make the reader do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Uncompressed bytes of the layer's tar stream.
    pub max_layer_bytes: u64,
    /// Uncompressed bytes per compressed byte, checked once past [`Limits::ratio_grace`]
    /// uncompressed bytes (small layers of zeros compress very well and are harmless).
    pub max_ratio: u64,
    pub ratio_grace: u64,
    /// Entries (files, directories, links) in the layer.
    pub max_entries: u64,
    /// Largest file handed to the visitor; larger wanted files are skipped with a warning.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_bytes: 64 << 30,
            max_ratio: 1000,
            ratio_grace: 256 << 20,
            max_entries: 5_000_000,
            max_file_bytes: 64 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("reading the layer failed: {0}")]
    Io(#[from] io::Error),
    #[error("the layer is not a valid tar stream: {0}")]
    Tar(io::Error),
    #[error("the layer expands past {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the layer expands more than {limit}:1 (a decompression bomb?)")]
    RatioExceeded { limit: u64 },
    #[error("the layer holds more than {limit} entries")]
    TooManyEntries { limit: u64 },
}

/// How a layer blob is compressed, from its first bytes (media types lie as often as not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn detect(prefix: &[u8]) -> Self {
        match prefix {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// Something the reader skipped, and why; the scan goes on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Warning {
    /// The entry's name as the archive spells it (lossily decoded).
    pub entry: String,
    pub reason: String,
}

/// The kind of an entry, as far as scanners care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    /// A symbolic or hard link: recorded, never followed.
    Link,
    Other,
}

/// What the reader knows of an entry before reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    /// Bytes of a regular file's content (0 for the rest).
    pub size: u64,
    /// Whether any execute bit is set (where binaries are looked for).
    pub executable: bool,
}

/// What a caller is asked about each entry, and given of the files it wants.
pub trait Visitor {
    /// Whether the regular file at `path` (normalised, relative, `/`-separated) should be
    /// read and handed to [`Visitor::file`].
    fn wants(&mut self, path: &str, entry: &Entry) -> bool;

    /// The whole content of a wanted file.
    fn file(&mut self, path: &str, content: &[u8]);
}

/// What reading one layer found, besides what the visitor was handed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerSummary {
    pub changes: LayerChanges,
    pub entries: u64,
    /// Uncompressed bytes of the tar stream.
    pub bytes: u64,
    pub warnings: Vec<Warning>,
}

/// Counts bytes through a reader and enforces a cap.
struct Counted<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// The uncompressed stream, failing once it breaks a limit.
struct Guarded<R> {
    inner: R,
    compressed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    out: u64,
    limits: Limits,
    broken: Option<LayerError>,
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.broken.is_some() {
            return Err(io::Error::other("layer limit exceeded"));
        }
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        let compressed = self
            .compressed
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(1);
        let breach = if self.out > self.limits.max_layer_bytes {
            Some(LayerError::TooLarge {
                limit: self.limits.max_layer_bytes,
            })
        } else if self.out > self.limits.ratio_grace
            && self.out / compressed > self.limits.max_ratio
        {
            Some(LayerError::RatioExceeded {
                limit: self.limits.max_ratio,
            })
        } else {
            None
        };
        if let Some(breach) = breach {
            self.broken = Some(breach);
            return Err(io::Error::other("layer limit exceeded"));
        }
        Ok(n)
    }
}

/// Reads one layer blob front to back: wanted files go to `visitor`, whiteouts and opaque
/// directories into the summary. The compression is detected from the first bytes.
pub fn read_layer<R: Read>(
    blob: R,
    limits: &Limits,
    visitor: &mut impl Visitor,
) -> Result<LayerSummary, LayerError> {
    let compressed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut counted = io::BufReader::with_capacity(
        256 * 1024,
        Counted {
            inner: blob,
            count: compressed.clone(),
        },
    );
    let prefix = io::BufRead::fill_buf(&mut counted)?;
    let stream: Box<dyn Read> = match Compression::detect(prefix) {
        Compression::None => Box::new(counted),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(counted)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(counted)?),
    };
    let mut guarded = Guarded {
        inner: stream,
        compressed,
        out: 0,
        limits: *limits,
        broken: None,
    };
    // Read to the end, past the archive's end marker: a caller that checks the blob's
    // digest as it streams sees every byte (and padding still counts against the limits).
    let result = walk(&mut guarded, limits, visitor).and_then(|summary| {
        io::copy(&mut guarded, &mut io::sink())?;
        Ok(summary)
    });
    match (result, guarded.broken.take()) {
        (_, Some(breach)) => Err(breach),
        (Ok(mut summary), None) => {
            summary.bytes = guarded.out;
            Ok(summary)
        }
        (Err(error), None) => Err(error),
    }
}

fn walk(
    stream: &mut impl Read,
    limits: &Limits,
    visitor: &mut impl Visitor,
) -> Result<LayerSummary, LayerError> {
    let mut archive = tar::Archive::new(stream);
    let mut summary = LayerSummary::default();
    let mut present = Vec::new();
    for entry in archive.entries().map_err(LayerError::Tar)? {
        let mut entry = entry.map_err(LayerError::Tar)?;
        summary.entries += 1;
        if summary.entries > limits.max_entries {
            return Err(LayerError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let raw = entry.path_bytes().into_owned();
        let display = String::from_utf8_lossy(&raw).into_owned();
        let Ok(name) = std::str::from_utf8(&raw) else {
            summary.warnings.push(Warning {
                entry: display,
                reason: "the name is not UTF-8".into(),
            });
            continue;
        };
        let Some(path) = normalize(name) else {
            summary.warnings.push(Warning {
                entry: display,
                reason: "the name climbs out of the image (`..`)".into(),
            });
            continue;
        };
        if path.is_empty() {
            continue;
        }
        let (parent, base) = match path.rsplit_once('/') {
            Some((parent, base)) => (parent, base),
            None => ("", path.as_str()),
        };
        if base == ".wh..wh..opq" {
            summary.changes.opaque.push(parent.to_owned());
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let hidden = if parent.is_empty() {
                hidden.to_owned()
            } else {
                format!("{parent}/{hidden}")
            };
            summary.changes.whiteouts.push(hidden);
            continue;
        }
        let kind = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
            tar::EntryType::Directory => EntryKind::Directory,
            tar::EntryType::Symlink | tar::EntryType::Link => EntryKind::Link,
            _ => EntryKind::Other,
        };
        // Any entry replaces what lower layers had at its path, whatever it is and whether
        // or not anything reads it (a file found below may be overwritten by one nobody
        // reads here): every path is kept, as 8 bytes.
        present.push(PathSet::hash(&path));
        if kind != EntryKind::File {
            continue;
        }
        let size = entry.size();
        let info = Entry {
            kind,
            size,
            executable: entry.header().mode().is_ok_and(|mode| mode & 0o111 != 0),
        };
        if !visitor.wants(&path, &info) {
            continue;
        }
        if size > limits.max_file_bytes {
            summary.warnings.push(Warning {
                entry: path,
                reason: format!(
                    "{size} bytes, more than the {} read of one file",
                    limits.max_file_bytes
                ),
            });
            continue;
        }
        let mut content = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        entry
            .by_ref()
            .take(limits.max_file_bytes)
            .read_to_end(&mut content)
            .map_err(LayerError::Tar)?;
        visitor.file(&path, &content);
    }
    summary.changes.present = PathSet::from_hashes(present);
    Ok(summary)
}

#[cfg(test)]
mod tests;
