//! The scan engine, one for the server and the standalone `bulwark scan`: each layer is
//! read once into a [`LayerInventory`] (what its wanted files hold, what it deletes), the
//! layers of an image are combined through their final filesystem view into an
//! [`Inventory`], and an inventory is matched against the vulnerability database
//! ([`matching`]) without reading any layer again.

pub mod archive;
pub mod layout;
pub mod matching;
pub mod metrics;
pub mod sbom;
pub mod service;

pub use bulwark_inventory::is_package_file;
pub use bulwark_oci::Digest;

use std::io::Read;
use std::path::Path;

use bulwark_inventory::{Component, OsRelease};
use bulwark_layer::{
    Entry, EntryKind, FinalView, LayerChanges, LayerError, Limits, Visitor, Warning,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Layout(String),
    #[error(transparent)]
    VulnDb(#[from] bulwark_vulndb::VulnDbError),
}

/// The version of what reading a layer extracts: raised whenever an extractor is added or
/// changes what it finds, so that layers inventoried by an older engine are read again
/// (once) when an image holding them is scanned, rather than missing what is new.
pub const ENGINE: u32 = 3;

/// The secret rules, compiled once.
static SECRETS: std::sync::LazyLock<bulwark_secrets::Detector> =
    std::sync::LazyLock::new(bulwark_secrets::Detector::new);

/// Executables smaller than this are not worth parsing for build information.
const MIN_BINARY_BYTES: u64 = 4 << 10;

/// What one layer holds and does, read once; keyed by the layer's digest wherever it is
/// kept, so a base layer shared by many images is read once.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LayerInventory {
    /// The [`ENGINE`] that read the layer (0: before engines were numbered).
    #[serde(default)]
    pub engine: u32,
    pub changes: LayerChanges,
    pub components: Vec<Component>,
    /// Every `os-release` the layer has, by path.
    pub os_releases: Vec<(String, OsRelease)>,
    /// Entries skipped, and wanted files that could not be read, with why.
    pub warnings: Vec<Warning>,
    /// Leaked secrets, redacted (the whole value is never kept).
    #[serde(default)]
    pub secrets: Vec<bulwark_secrets::SecretFinding>,
}

/// Hands wanted files to the extractors and the secret rules as the layer streams past:
/// the files extractors read by name, executables (build information in binaries), and
/// the text files the secret rules look at.
struct Extracting<'a>(&'a mut LayerInventory);

impl Visitor for Extracting<'_> {
    fn wants(&mut self, path: &str, entry: &Entry) -> bool {
        bulwark_inventory::wants(path)
            || (entry.executable && entry.size >= MIN_BINARY_BYTES)
            || SECRETS.wants(path, entry.size)
    }

    fn file(&mut self, path: &str, content: &[u8]) {
        if SECRETS.wants(path, content.len() as u64) {
            self.0.secrets.extend(SECRETS.scan(path, content));
        }
        if !bulwark_inventory::wants(path) && !bulwark_inventory::is_binary_candidate(content) {
            return;
        }
        let extracted = bulwark_inventory::extract(path, content);
        self.0.components.extend(extracted.components);
        if let Some(os) = extracted.os_release {
            self.0.os_releases.push((path.to_owned(), os));
        }
        if let Some(problem) = extracted.problem {
            self.0.warnings.push(Warning {
                entry: path.to_owned(),
                reason: problem,
            });
        }
    }
}

/// Reads one layer blob (tar, gzip or zstd) into its inventory.
pub fn inventory_layer(blob: impl Read, limits: &Limits) -> Result<LayerInventory, ScanError> {
    let mut inventory = LayerInventory {
        engine: ENGINE,
        ..LayerInventory::default()
    };
    let summary = bulwark_layer::read_layer(blob, limits, &mut Extracting(&mut inventory))?;
    inventory.changes = summary.changes;
    inventory.warnings.extend(summary.warnings);
    Ok(inventory)
}

/// The file a component path names: the archive for a component inside one.
fn file_of(path: &str) -> &str {
    path.split("!/").next().unwrap_or(path)
}

/// A component in the final filesystem, and the layer that added it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    #[serde(flatten)]
    pub component: ComponentView,
    /// Index of the layer, bottom first; `None` outside images.
    pub layer: Option<usize>,
}

/// A component as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentView {
    pub name: String,
    pub version: String,
    pub purl: Option<String>,
    pub path: String,
    #[serde(skip)]
    pub component: Component,
}

/// What a filesystem (an image's final one, a root directory, a lock file) holds.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub os: Option<OsRelease>,
    pub components: Vec<Located>,
    pub warnings: Vec<Warning>,
    /// Secrets in the final filesystem, with the layer that added each.
    pub secrets: Vec<LocatedSecret>,
}

/// A leaked secret and the layer it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocatedSecret {
    #[serde(flatten)]
    pub secret: bulwark_secrets::SecretFinding,
    /// Index of the layer, bottom first; `None` outside images.
    pub layer: Option<usize>,
}

/// The installation key (`MetadataStore::installation_key`) that leaked secrets'
/// fingerprints are keyed with wherever they are shown.
pub const FINGERPRINT_KEY: &str = "secret-fingerprints";

impl Inventory {
    /// Replaces each secret's fingerprint with one keyed with `key`
    /// ([`bulwark_secrets::keyed_fingerprint`]): what reports, SBOMs and the database's
    /// findings show, so that no reader can test guesses of a secret against it.
    pub fn key_fingerprints(&mut self, key: &[u8; 32]) {
        for located in &mut self.secrets {
            located.secret.fingerprint =
                bulwark_secrets::keyed_fingerprint(key, &located.secret.fingerprint);
        }
    }

    fn from_parts(
        os: Option<OsRelease>,
        found: impl IntoIterator<Item = (Option<usize>, Component)>,
        warnings: Vec<Warning>,
    ) -> Self {
        let mut components: Vec<Located> = found
            .into_iter()
            .map(|(layer, component)| Located {
                component: ComponentView {
                    name: component.name.clone(),
                    version: component.version.clone(),
                    purl: component.purl(os.as_ref()).map(|p| p.to_string()),
                    path: component.path.clone(),
                    component,
                },
                layer,
            })
            .collect();
        components.sort_by(|a, b| {
            (&a.component.name, &a.component.version, &a.component.path).cmp(&(
                &b.component.name,
                &b.component.version,
                &b.component.path,
            ))
        });
        components.dedup_by(|a, b| a.component.component == b.component.component);
        Inventory {
            os,
            components,
            warnings,
            secrets: Vec::new(),
        }
    }

    /// The image's final filesystem from its layers (bottom first): what a later layer
    /// replaced, whited out or hid under an opaque folder is gone.
    pub fn of_image(layers: &[&LayerInventory]) -> Self {
        let changes: Vec<&LayerChanges> = layers.iter().map(|l| &l.changes).collect();
        let view = FinalView::new(&changes);
        // `etc/os-release` wins over `usr/lib/os-release`, as the spec of os-release says.
        let mut os = None;
        for preferred in ["usr/lib/os-release", "etc/os-release"] {
            for (index, layer) in layers.iter().enumerate() {
                for (path, release) in &layer.os_releases {
                    if path == preferred && view.survives(index, path) {
                        os = Some(release.clone());
                    }
                }
            }
        }
        let found = layers.iter().enumerate().flat_map(|(index, layer)| {
            layer
                .components
                .iter()
                // A component inside an archive (`app.jar!/…`) lives as long as the archive.
                .filter(move |c| view.survives(index, file_of(&c.path)))
                .map(move |c| (Some(index), c.clone()))
        });
        let warnings = layers.iter().flat_map(|l| l.warnings.clone()).collect();
        let mut inventory = Inventory::from_parts(os, found.collect::<Vec<_>>(), warnings);
        inventory.secrets = layers
            .iter()
            .enumerate()
            .flat_map(|(index, layer)| {
                layer
                    .secrets
                    .iter()
                    .filter(move |s| view.survives(index, &s.path))
                    .map(move |secret| LocatedSecret {
                        secret: secret.clone(),
                        layer: Some(index),
                    })
            })
            .collect();
        inventory
    }

    /// A directory holding a root filesystem, or any project folder; links are never
    /// followed, and files larger than the cap are skipped with a warning.
    pub fn of_directory(root: &Path, limits: &Limits) -> Result<Self, ScanError> {
        let mut layer = LayerInventory::default();
        let mut visitor = Extracting(&mut layer);
        let mut pending = vec![root.to_path_buf()];
        let mut seen: u64 = 0;
        while let Some(dir) = pending.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|source| ScanError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            for entry in entries.flatten() {
                seen += 1;
                if seen > limits.max_entries {
                    return Err(LayerError::TooManyEntries {
                        limit: limits.max_entries,
                    }
                    .into());
                }
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let path = entry.path();
                let Some(relative) = path
                    .strip_prefix(root)
                    .ok()
                    .and_then(|p| p.to_str())
                    .map(str::to_owned)
                else {
                    visitor.0.warnings.push(Warning {
                        entry: path.display().to_string(),
                        reason: "the name is not UTF-8".into(),
                    });
                    continue;
                };
                if kind.is_dir() {
                    pending.push(path);
                    continue;
                }
                if !kind.is_file() {
                    continue;
                }
                let metadata = entry.metadata().ok();
                let size = metadata.as_ref().map_or(u64::MAX, |m| m.len());
                let info = Entry {
                    kind: EntryKind::File,
                    size,
                    executable: metadata.as_ref().is_some_and(|m| {
                        std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
                    }),
                };
                if visitor.wants(&relative, &info) {
                    if size > limits.max_file_bytes {
                        visitor.0.warnings.push(Warning {
                            entry: relative,
                            reason: format!("{size} bytes, more than the read of one file"),
                        });
                        continue;
                    }
                    match std::fs::read(&path) {
                        Ok(content) => visitor.file(&relative, &content),
                        Err(error) => visitor.0.warnings.push(Warning {
                            entry: relative,
                            reason: error.to_string(),
                        }),
                    }
                }
            }
        }
        let os = ["etc/os-release", "usr/lib/os-release"]
            .iter()
            .find_map(|p| layer.os_releases.iter().find(|(path, _)| path == p))
            .map(|(_, os)| os.clone());
        let warnings = std::mem::take(&mut layer.warnings);
        let secrets = std::mem::take(&mut layer.secrets);
        let mut inventory = Inventory::from_parts(
            os,
            layer.components.into_iter().map(|c| (None, c)),
            warnings,
        );
        inventory.secrets = secrets
            .into_iter()
            .map(|secret| LocatedSecret {
                secret,
                layer: None,
            })
            .collect();
        Ok(inventory)
    }

    /// A package file (wheel, sdist, npm tarball, `.crate`, Java archive): the package it
    /// is, and what it locks.
    pub fn of_package(path: &Path) -> Result<Self, ScanError> {
        Self::of_one_file(path, bulwark_inventory::extract_package)
    }

    /// One lock file or package metadata file, named as its format names it.
    pub fn of_file(path: &Path) -> Result<Self, ScanError> {
        Self::of_one_file(path, bulwark_inventory::extract)
    }

    /// One file read by `extract`, given its file name and bytes.
    fn of_one_file(
        path: &Path,
        extract: fn(&str, &[u8]) -> bulwark_inventory::Extracted,
    ) -> Result<Self, ScanError> {
        let content = std::fs::read(path).map_err(|source| ScanError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let extracted = extract(&name, &content);
        let warnings = extracted
            .problem
            .map(|reason| Warning {
                entry: name.clone(),
                reason,
            })
            .into_iter()
            .collect();
        Ok(Inventory::from_parts(
            None,
            extracted.components.into_iter().map(|c| (None, c)),
            warnings,
        ))
    }
}
