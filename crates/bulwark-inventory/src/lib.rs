//! What software a filesystem holds. Each extractor (one module per package format) says
//! which paths it reads ([`wants`]) and turns one file's bytes into [`Component`]s
//! ([`extract`]); nothing here reads a disk or an archive, so the same code inventories an
//! image layer (through `bulwark-layer`), a root filesystem or a single lock file, and every
//! extractor can be fuzzed on its own. Distribution packages get their ecosystem from the
//! final filesystem's `os-release` ([`OsRelease`]), which may sit in another layer, so it
//! is applied when the inventory is finished ([`Component::osv_package`]).
//!
//! The formats read:
//!
//! - distributions: dpkg's `var/lib/dpkg/status` and `status.d/*` (Debian, Ubuntu,
//!   distroless), apk's `lib/apk/db/installed` (Alpine), rpm's database in
//!   `var/lib/rpm/` or `usr/lib/sysimage/rpm/` (`rpmdb.sqlite`, NDB `Packages.db`,
//!   Berkeley DB `Packages`: Red Hat, AlmaLinux, Rocky Linux, SUSE, openSUSE and others);
//! - Python: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, single-file `*.egg-info`;
//! - JavaScript: `node_modules/**/package.json`, `package-lock.json` (v1 to v3),
//!   `yarn.lock` (classic v1 and berry v2+), `pnpm-lock.yaml` (lockfile versions 5, 6, 9);
//! - Rust: `Cargo.lock`;
//! - PHP: `composer.lock` and `vendor/composer/installed.json` (Composer 1 and 2);
//! - Ruby: `Gemfile.lock` (and `gems.locked`), installed `specifications/*.gemspec`;
//! - .NET: `*.deps.json` and `packages.lock.json`;
//! - Java: `META-INF/maven/**/pom.properties`, and `.jar`, `.war`, `.ear`, `.jpi`, `.hpi`
//!   archives (their `pom.properties`, else their manifest, and the archives they nest);
//! - binaries (ELF, Mach-O, PE), which no path names: Go's build info (the modules and
//!   the Go release a binary was built from) and the dependency list `cargo auditable`
//!   embeds in Rust binaries. [`wants`] does not know them; a caller hands over
//!   executables it finds and [`extract`] reads those that [`is_binary_candidate`]
//!   accepts.
//!
//! [`sbom`] reads the packages a CycloneDX or SPDX document lists: someone's claim about an
//! artifact rather than what its files hold, which callers mark as such.

mod apk;
mod cargo_auditable;
mod cargo_lock;
mod composer;
mod dpkg;
mod go_binary;
mod java;
mod npm;
mod nuget;
mod os_release;
mod package_file;
mod pnpm_lock;
mod python;
mod rpm;
mod ruby;
pub mod sbom;
mod yarn_lock;

use std::collections::BTreeSet;

use bulwark_package::Purl;

pub use os_release::OsRelease;
pub use package_file::{extract_package, is_package_file};

/// The package formats extractors read.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Debian and Ubuntu packages, from dpkg's database.
    Dpkg,
    /// Alpine packages, from apk's database.
    Apk,
    Python,
    /// Node packages: `package.json`, `package-lock.json`, `yarn.lock`, `pnpm-lock.yaml`.
    Npm,
    /// Rust crates: `Cargo.lock`, and binaries built with `cargo auditable`.
    Cargo,
    /// PHP packages (Packagist), named `vendor/package`.
    Composer,
    /// Ruby gems.
    Gem,
    /// .NET packages.
    NuGet,
    /// Java artifacts, named `groupId:artifactId` (only `artifactId` when the archive says
    /// no group: see [`Component::osv_package`]).
    Maven,
    /// RPM packages (Red Hat and its rebuilds, SUSE, openSUSE, Fedora, …), from rpm's
    /// database; the version is `[epoch:]version-release`.
    Rpm,
    /// Go modules compiled into a binary, and the Go standard library as `stdlib`.
    Go,
}

/// One package found in one file.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Component {
    pub kind: Kind,
    pub name: String,
    pub version: String,
    /// The source package a binary package was built from (dpkg's `Source`, apk's origin,
    /// rpm's `SOURCERPM`): distribution advisories are keyed by it.
    pub source: Option<(String, String)>,
    /// The file it was found in, relative to the filesystem's root.
    pub path: String,
    /// The architecture the package was built for, where its database says (rpm's `ARCH`:
    /// `x86_64`, `noarch`); absent from inventories stored before it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

impl Kind {
    /// The name reports and stored inventories use.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dpkg => "dpkg",
            Kind::Apk => "apk",
            Kind::Python => "python",
            Kind::Npm => "npm",
            Kind::Cargo => "cargo",
            Kind::Composer => "composer",
            Kind::Gem => "gem",
            Kind::NuGet => "nuget",
            Kind::Maven => "maven",
            Kind::Rpm => "rpm",
            Kind::Go => "go",
        }
    }
}

/// Whether any extractor reads the file at `path` (relative, `/`-separated).
pub fn wants(path: &str) -> bool {
    os_release::wants(path)
        || dpkg::wants(path)
        || apk::wants(path)
        || python::wants(path)
        || npm::wants(path)
        || cargo_lock::wants(path)
        || yarn_lock::wants(path)
        || pnpm_lock::wants(path)
        || composer::wants(path)
        || ruby::wants(path)
        || nuget::wants(path)
        || java::wants(path)
        || rpm::wants(path)
}

/// Whether `content` is an executable format whose build metadata [`extract`] reads from
/// a file no path names (ELF, Mach-O, PE): Go's build info, `cargo auditable`'s
/// dependency list. Only the first bytes are looked at.
pub fn is_binary_candidate(content: &[u8]) -> bool {
    const MACHO: [[u8; 4]; 4] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xcf, 0xfa, 0xed, 0xfe],
    ];
    let Some(magic) = content.get(..4) else {
        return false;
    };
    magic == b"\x7fELF" || MACHO.iter().any(|m| magic == m) || is_pe(content)
}

/// A DOS stub (`MZ`) whose header points at a PE signature.
fn is_pe(content: &[u8]) -> bool {
    if !content.starts_with(b"MZ") {
        return false;
    }
    let Some(offset) = content
        .get(0x3c..0x40)
        .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
        .map(u32::from_le_bytes)
        .and_then(|offset| usize::try_from(offset).ok())
    else {
        return false;
    };
    offset
        .checked_add(4)
        .and_then(|end| content.get(offset..end))
        .is_some_and(|signature| signature == b"PE\0\0")
}

/// What one file yields: its components, or the `os-release` it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub components: Vec<Component>,
    pub os_release: Option<OsRelease>,
    /// Why the file could not be read, when it could not (the scan goes on).
    pub problem: Option<String>,
}

/// Reads one wanted file, or a binary ([`is_binary_candidate`]) at a path no extractor
/// wants. Malformed content yields what could be read and a `problem`, never a panic.
pub fn extract(path: &str, content: &[u8]) -> Extracted {
    let mut out = Extracted::default();
    // Decoded only for the text formats: a binary is not UTF-8, and decoding one lossily
    // would copy it whole.
    let text = || String::from_utf8_lossy(content);
    let result = if os_release::wants(path) {
        out.os_release = Some(OsRelease::parse(&text()));
        Ok(())
    } else if dpkg::wants(path) {
        dpkg::extract(path, &text(), &mut out.components)
    } else if apk::wants(path) {
        apk::extract(path, &text(), &mut out.components)
    } else if python::wants(path) {
        python::extract(path, &text(), &mut out.components)
    } else if npm::wants(path) {
        npm::extract(path, content, &mut out.components)
    } else if cargo_lock::wants(path) {
        cargo_lock::extract(path, &text(), &mut out.components)
    } else if yarn_lock::wants(path) {
        yarn_lock::extract(path, &text(), &mut out.components)
    } else if pnpm_lock::wants(path) {
        pnpm_lock::extract(path, &text(), &mut out.components)
    } else if composer::wants(path) {
        composer::extract(path, content, &mut out.components)
    } else if ruby::wants(path) {
        ruby::extract(path, &text(), &mut out.components)
    } else if nuget::wants(path) {
        nuget::extract(path, content, &mut out.components)
    } else if java::wants(path) {
        // Archives are binary: the extractor gets the bytes, not `text`.
        java::extract(path, content, &mut out.components)
    } else if rpm::wants(path) {
        rpm::extract(path, content, &mut out.components)
    } else if is_binary_candidate(content) {
        binary(path, content, &mut out.components)
    } else {
        Ok(())
    };
    if let Err(problem) = result {
        out.problem = Some(problem);
    }
    out
}

/// A binary's build metadata: Go's build info, then `cargo auditable`'s dependency list.
/// A binary carries at most one in practice, but both are looked for; a binary with
/// neither yields nothing and no problem.
fn binary(path: &str, content: &[u8], out: &mut Vec<Component>) -> Result<(), String> {
    // Headers only: sections are read from `content` in place, nothing is copied.
    let file = object::File::parse(content).ok();
    let mut problems = Vec::new();
    if let Err(problem) = go_binary::extract(path, content, file.as_ref(), out) {
        problems.push(problem);
    }
    if let Some(file) = &file
        && let Err(problem) = cargo_auditable::extract(path, file, out)
    {
        problems.push(problem);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

impl Component {
    /// The OSV ecosystem and package name advisories list it under, and its version.
    /// Distribution packages need the distribution (`None` without one they know).
    pub fn osv_package(&self, os: Option<&OsRelease>) -> Option<(String, String, String)> {
        let (ecosystem, name) = match self.kind {
            Kind::Rpm => return rpm::osv_package(self, os?),
            Kind::Go => return Some(go_binary::osv_package(self)),
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
            Kind::Composer => ("Packagist".to_owned(), self.name.clone()),
            Kind::Gem => ("RubyGems".to_owned(), self.name.clone()),
            Kind::NuGet => ("NuGet".to_owned(), self.name.clone()),
            Kind::Maven => {
                // Maven advisories name `groupId:artifactId`. An archive known only by its
                // manifest has no group, and a bare artifact name could be any group's:
                // matching it would be a guess.
                if !self.name.contains(':') {
                    return None;
                }
                ("Maven".to_owned(), self.name.clone())
            }
        };
        // A distribution advisory names the source package's version, which the binary
        // package carries unless dpkg says otherwise.
        let version = match (self.kind, &self.source) {
            (Kind::Dpkg, Some((_, version))) if !version.is_empty() => version.clone(),
            (Kind::Composer, _) => composer::advisory_version(&self.version).to_owned(),
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
            // `pkg:composer/vendor/package`, the version as Composer reports it.
            Kind::Composer => {
                let purl = match self.name.split_once('/') {
                    Some((vendor, name)) => {
                        Purl::new("composer", name).ok()?.with_namespace(vendor)
                    }
                    None => Purl::new("composer", &self.name).ok()?,
                };
                purl.with_version(&self.version)
            }
            Kind::Gem => Purl::new("gem", &self.name)
                .ok()?
                .with_version(&self.version),
            Kind::NuGet => Purl::new("nuget", &self.name)
                .ok()?
                .with_version(&self.version),
            // `pkg:maven/group/artifact`; without a group there is no Maven coordinate
            // (a purl without one would read as another package's), so no purl either.
            Kind::Maven => {
                let (group, artifact) = self.name.split_once(':')?;
                Purl::new("maven", artifact)
                    .ok()?
                    .with_namespace(group)
                    .with_version(&self.version)
            }
            Kind::Rpm => rpm::purl(self, os?)?,
            // `pkg:golang/github.com/gin-gonic/gin@v1.9.1`: the namespace is the module
            // path up to its last `/`; the standard library is `pkg:golang/stdlib`.
            Kind::Go => match self.name.rsplit_once('/') {
                Some((namespace, name)) => Purl::new("golang", name)
                    .ok()?
                    .with_namespace(namespace)
                    .with_version(&self.version),
                None => Purl::new("golang", &self.name)
                    .ok()?
                    .with_version(&self.version),
            },
        };
        Some(purl)
    }
}

/// Gathers one file's components of one kind, each (name, version) once: lock files list
/// a package once per peer set, platform or framework.
struct Collector<'a> {
    kind: Kind,
    path: &'a str,
    seen: BTreeSet<(String, String)>,
    out: &'a mut Vec<Component>,
}

impl<'a> Collector<'a> {
    fn new(kind: Kind, path: &'a str, out: &'a mut Vec<Component>) -> Self {
        Collector {
            kind,
            path,
            seen: BTreeSet::new(),
            out,
        }
    }

    /// Adds a component; empty names and versions are ignored.
    fn push(&mut self, name: &str, version: &str) {
        if name.is_empty() || version.is_empty() {
            return;
        }
        if self.seen.insert((name.to_owned(), version.to_owned())) {
            self.out.push(Component {
                kind: self.kind,
                name: name.to_owned(),
                version: version.to_owned(),
                source: None,
                path: self.path.to_owned(),
                arch: None,
            });
        }
    }
}

/// The text between a pair of matching quotes (`"…"` or `'…'`) around `text`, or `text`.
fn unquote(text: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = text
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    text
}

/// `name@range` split after its name: at the first `@` that is not the first character
/// (npm scopes start with one: `@babel/core@^7.0.0`), so that a range holding an `@` of
/// its own (`alias@npm:real@^1.0.0`, `x@git+ssh://git@host/x`) stays whole;
/// `(descriptor, "")` without one.
fn split_name(descriptor: &str) -> (&str, &str) {
    let at = descriptor
        .get(1..)
        .and_then(|rest| rest.find('@'))
        .map(|at| at + 1);
    match at {
        Some(at) => (
            descriptor.get(..at).unwrap_or(descriptor),
            descriptor.get(at + 1..).unwrap_or_default(),
        ),
        None => (descriptor, ""),
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
