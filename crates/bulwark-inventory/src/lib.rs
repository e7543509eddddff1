//! What software a filesystem holds. Each extractor (one module per package format) says
//! which paths it reads ([`wants`]) and turns one file's bytes into [`Component`]s
//! ([`extract`]); nothing here reads a disk or an archive, so the same code inventories an
//! image layer (through `bulwark-layer`), a root filesystem or a single lock file, and every
//! extractor can be fuzzed on its own. Distribution packages get their ecosystem from the
//! final filesystem's `os-release` ([`OsRelease`]), which may sit in another layer, so it
//! is applied when the inventory is finished ([`Component::osv_package`]).

mod apk;
mod cargo_lock;
mod dpkg;
mod npm;
mod os_release;
mod python;

use bulwark_advisory::Purl;

pub use os_release::OsRelease;

/// The package formats extractors read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Debian and Ubuntu packages, from dpkg's database.
    Dpkg,
    /// Alpine packages, from apk's database.
    Apk,
    Python,
    Npm,
    Cargo,
}

/// One package found in one file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Component {
    pub kind: Kind,
    pub name: String,
    pub version: String,
    /// The source package a binary package was built from (dpkg's `Source`, apk's origin):
    /// distribution advisories are keyed by it.
    pub source: Option<(String, String)>,
    /// The file it was found in, relative to the filesystem's root.
    pub path: String,
}

/// Whether any extractor reads the file at `path` (relative, `/`-separated).
pub fn wants(path: &str) -> bool {
    os_release::wants(path)
        || dpkg::wants(path)
        || apk::wants(path)
        || python::wants(path)
        || npm::wants(path)
        || cargo_lock::wants(path)
}

/// What one file yields: its components, or the `os-release` it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub components: Vec<Component>,
    pub os_release: Option<OsRelease>,
    /// Why the file could not be read, when it could not (the scan goes on).
    pub problem: Option<String>,
}

/// Reads one wanted file. Malformed content yields what could be read and a `problem`,
/// never a panic.
pub fn extract(path: &str, content: &[u8]) -> Extracted {
    let mut out = Extracted::default();
    let text = String::from_utf8_lossy(content);
    let result = if os_release::wants(path) {
        out.os_release = Some(OsRelease::parse(&text));
        Ok(())
    } else if dpkg::wants(path) {
        dpkg::extract(path, &text, &mut out.components)
    } else if apk::wants(path) {
        apk::extract(path, &text, &mut out.components)
    } else if python::wants(path) {
        python::extract(path, &text, &mut out.components)
    } else if npm::wants(path) {
        npm::extract(path, content, &mut out.components)
    } else if cargo_lock::wants(path) {
        cargo_lock::extract(path, &text, &mut out.components)
    } else {
        Ok(())
    };
    if let Err(problem) = result {
        out.problem = Some(problem);
    }
    out
}

impl Component {
    /// The OSV ecosystem and package name advisories list it under, and its version.
    /// Distribution packages need the distribution (`None` without one they know).
    pub fn osv_package(&self, os: Option<&OsRelease>) -> Option<(String, String, String)> {
        let (ecosystem, name) = match self.kind {
            Kind::Dpkg => {
                let ecosystem = os?.osv_ecosystem()?;
                if !(ecosystem.starts_with("Debian") || ecosystem.starts_with("Ubuntu")) {
                    return None;
                }
                let name = self.source.as_ref().map_or(&self.name, |(name, _)| name);
                (ecosystem, name.clone())
            }
            Kind::Apk => {
                let ecosystem = os?.osv_ecosystem()?;
                if !ecosystem.starts_with("Alpine") {
                    return None;
                }
                let name = self.source.as_ref().map_or(&self.name, |(name, _)| name);
                (ecosystem, name.clone())
            }
            Kind::Python => ("PyPI".to_owned(), self.name.clone()),
            Kind::Npm => ("npm".to_owned(), self.name.clone()),
            Kind::Cargo => ("crates.io".to_owned(), self.name.clone()),
        };
        // A distribution advisory names the source package's version, which the binary
        // package carries unless dpkg says otherwise.
        let version = match (self.kind, &self.source) {
            (Kind::Dpkg, Some((_, version))) if !version.is_empty() => version.clone(),
            _ => self.version.clone(),
        };
        Some((ecosystem, name, version))
    }

    /// The package URL of this component (binary package name, its own version).
    pub fn purl(&self, os: Option<&OsRelease>) -> Option<Purl> {
        let purl = match self.kind {
            Kind::Dpkg | Kind::Apk => {
                let ty = if self.kind == Kind::Dpkg {
                    "deb"
                } else {
                    "apk"
                };
                let os = os?;
                let mut purl = Purl::new(ty, &self.name)
                    .ok()?
                    .with_namespace(&os.id)
                    .with_version(&self.version);
                if let Some(version) = &os.version_id {
                    purl = purl.with_qualifier("distro", &format!("{}-{version}", os.id));
                }
                if let Some((source, _)) = &self.source
                    && source != &self.name
                {
                    purl = purl.with_qualifier("upstream", source);
                }
                purl
            }
            Kind::Python => Purl::new("pypi", &self.name)
                .ok()?
                .with_version(&self.version),
            Kind::Npm => match self.name.split_once('/') {
                Some((scope, name)) if scope.starts_with('@') => Purl::new("npm", name)
                    .ok()?
                    .with_namespace(scope)
                    .with_version(&self.version),
                _ => Purl::new("npm", &self.name)
                    .ok()?
                    .with_version(&self.version),
            },
            Kind::Cargo => Purl::new("cargo", &self.name)
                .ok()?
                .with_version(&self.version),
        };
        Some(purl)
    }
}

/// RFC 822-style fields (`Key: value`, continuation lines indented) of one paragraph, as
/// dpkg, apk-less Python metadata and os-release-like files spell them.
fn fields(paragraph: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for line in paragraph.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = out.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            out.push((key.trim(), value.trim().to_owned()));
        }
    }
    out
}

fn field<'a>(fields: &'a [(&str, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests;
