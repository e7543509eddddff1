//! Which advisories' packages are "the same package" as a queried one.
//!
//! Two things decide it: the package name compared the way its registry compares names,
//! and, for Linux distributions, the release. Both are reduced here to a [`PackageKey`], so
//! that equal keys mean the same package and the index can be a plain hash map.
//!
//! Name rules, per ecosystem (anything not listed is compared exactly, which is right for
//! registries whose names are case-sensitive and never wrong in the other direction):
//! - **PyPI**: PEP 503 normalisation: lower case, every run of `-`, `_`, `.` becomes one
//!   `-` (PEP 503, "Normalized Names"; PyPI serves `Django`, `django` and `DJANGO` as one
//!   project).
//! - **crates.io**: ASCII case and `-`/`_` are not significant (crates.io refuses a new
//!   crate whose name differs from an existing one only in those, and Cargo resolves them
//!   as one; crates.io `index` docs, "Name restrictions").
//! - **NuGet**: package ids are case-insensitive (NuGet docs, "Package ID": "not case
//!   sensitive").
//! - **Packagist**: Composer lower-cases `vendor/package` names (Composer schema, "name").
//! - **npm**: compared exactly, scope included (`@scope/name`): new names must be lower
//!   case, but older packages such as `JSONStream` keep capitals, and the registry is
//!   case-sensitive for them.
//! - **Maven**: `groupId:artifactId`, compared exactly (Maven coordinates are
//!   case-sensitive); surrounding whitespace around either part is dropped.
//! - **Go**: module paths are case-sensitive (the module proxy escapes capitals as `!x`);
//!   compared exactly.
//! - **RubyGems, Hex, Pub, Hackage, CRAN, distributions' source packages**: exact.
//!
//! Release rules for distributions (the scanned system's release must match the
//! advisory's):
//! - **Debian**: the major release (`Debian:12`; a query for `12.5` looks up `12`).
//! - **Ubuntu**: `22.04` and `22.04:LTS` are the same release; `Pro:` releases stay
//!   distinct (they cover Ubuntu Pro packages only).
//! - **Alpine**: `v<major>.<minor>` (`3.20.3`, `3.20` and `v3.20` are one release).
//! - **AlmaLinux, Rocky Linux**: the major release (`9.4` looks up `9`).
//! - **Every other distribution** (Red Hat's CPE-like suffixes, SUSE product names, …):
//!   the suffix exactly as written.
//!
//! Language ecosystems ignore a suffix (`Maven:https://maven.google.com` names a registry,
//! not a release, and the package names already say which registry they come from).

use std::fmt;

use bulwark_version::{Ecosystem, QualifiedEcosystem};

/// A package as the index knows it: ecosystem (with release for distributions) and
/// normalised name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageKey {
    /// The ecosystem and, for distributions, its normalised release.
    pub ecosystem: EcosystemKey,
    /// The name after the ecosystem's normalisation.
    pub name: String,
}

impl PackageKey {
    /// The key of `name` in the OSV ecosystem `ecosystem` (e.g. `Debian:12`).
    pub fn new(ecosystem: &str, name: &str) -> PackageKey {
        let ecosystem = EcosystemKey::from_osv_name(ecosystem);
        let name = normalize_name(&ecosystem.ecosystem, name);
        PackageKey { ecosystem, name }
    }
}

impl fmt::Display for PackageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ecosystem, self.name)
    }
}

/// An ecosystem with the part of its suffix that decides matching.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EcosystemKey {
    /// The base ecosystem.
    pub ecosystem: Ecosystem,
    /// The normalised release, for distributions only.
    pub release: Option<String>,
}

impl EcosystemKey {
    /// Reads an OSV ecosystem string and normalises its release per the module's rules.
    pub fn from_osv_name(name: &str) -> EcosystemKey {
        let QualifiedEcosystem { ecosystem, release } = Ecosystem::from_osv_name(name);
        let release = if is_distribution(&ecosystem) {
            release.map(|release| normalize_release(&ecosystem, &release))
        } else {
            None
        };
        EcosystemKey { ecosystem, release }
    }
}

impl fmt::Display for EcosystemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ecosystem.osv_name())?;
        if let Some(release) = &self.release {
            write!(f, ":{release}")?;
        }
        Ok(())
    }
}

/// Whether the ecosystem is an operating-system distribution, whose advisories hold for
/// one release only. Unknown ecosystems count as distributions: keeping their suffix can
/// only make matching stricter.
fn is_distribution(ecosystem: &Ecosystem) -> bool {
    use Ecosystem as E;
    !matches!(
        ecosystem,
        E::Bioconductor
            | E::Cran
            | E::CratesIo
            | E::GitHubActions
            | E::Go
            | E::Hackage
            | E::Hex
            | E::Julia
            | E::Maven
            | E::Npm
            | E::NuGet
            | E::Opam
            | E::Packagist
            | E::Pub
            | E::PyPI
            | E::RubyGems
            | E::SwiftUrl
            | E::VsCode
            | E::ConanCenter
    )
}

fn normalize_release(ecosystem: &Ecosystem, release: &str) -> String {
    match ecosystem {
        Ecosystem::Debian | Ecosystem::AlmaLinux | Ecosystem::Rocky => {
            release.split('.').next().unwrap_or(release).to_owned()
        }
        Ecosystem::Ubuntu => release.strip_suffix(":LTS").unwrap_or(release).to_owned(),
        Ecosystem::Alpine => {
            let bare = release.strip_prefix('v').unwrap_or(release);
            let mut parts = bare.split('.');
            match (parts.next(), parts.next()) {
                (Some(major), Some(minor)) => format!("v{major}.{minor}"),
                _ => format!("v{bare}"),
            }
        }
        _ => release.to_owned(),
    }
}

/// Normalises a package name by the rules of its ecosystem (see the module docs).
pub fn normalize_name(ecosystem: &Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::PyPI => pep503(name),
        Ecosystem::CratesIo => name.to_ascii_lowercase().replace('_', "-"),
        Ecosystem::NuGet => name.to_lowercase(),
        Ecosystem::Packagist => name.to_lowercase(),
        Ecosystem::Maven => match name.split_once(':') {
            Some((group, artifact)) => format!("{}:{}", group.trim(), artifact.trim()),
            None => name.trim().to_owned(),
        },
        _ => name.to_owned(),
    }
}

/// PEP 503: `re.sub(r"[-_.]+", "-", name).lower()`.
fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                out.push('-');
            }
            in_separator_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_separator_run = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pypi_names_follow_pep_503() {
        for (input, expected) in [
            ("Django", "django"),
            ("friendly-bard", "friendly-bard"),
            ("Friendly-Bard", "friendly-bard"),
            ("FRIENDLY-BARD", "friendly-bard"),
            ("friendly.bard", "friendly-bard"),
            ("friendly_bard", "friendly-bard"),
            ("friendly--bard", "friendly-bard"),
            ("FrIeNdLy-._.-bArD", "friendly-bard"),
        ] {
            assert_eq!(normalize_name(&Ecosystem::PyPI, input), expected, "{input}");
        }
    }

    #[test]
    fn crates_io_ignores_case_and_dash_underscore() {
        assert_eq!(
            PackageKey::new("crates.io", "Serde_JSON"),
            PackageKey::new("crates.io", "serde-json")
        );
    }

    #[test]
    fn case_sensitive_ecosystems_keep_case() {
        assert_ne!(
            PackageKey::new("Go", "github.com/BurntSushi/toml"),
            PackageKey::new("Go", "github.com/burntsushi/toml")
        );
        assert_ne!(
            PackageKey::new("npm", "JSONStream"),
            PackageKey::new("npm", "jsonstream")
        );
        assert_eq!(
            PackageKey::new("npm", "@angular/core").name,
            "@angular/core"
        );
    }

    #[test]
    fn nuget_and_packagist_are_case_insensitive() {
        assert_eq!(
            PackageKey::new("NuGet", "Newtonsoft.Json"),
            PackageKey::new("NuGet", "newtonsoft.json")
        );
        assert_eq!(
            PackageKey::new("Packagist", "Symfony/HTTP-Kernel"),
            PackageKey::new("Packagist", "symfony/http-kernel")
        );
    }

    #[test]
    fn maven_coordinates_are_trimmed_only() {
        assert_eq!(
            normalize_name(&Ecosystem::Maven, " org.jline : jline "),
            "org.jline:jline"
        );
        assert_ne!(
            PackageKey::new("Maven", "org.jline:JLine"),
            PackageKey::new("Maven", "org.jline:jline")
        );
    }

    #[test]
    fn distribution_releases_are_normalised() {
        let cases = [
            ("Debian:12", "Debian:12"),
            ("Debian:12.5", "Debian:12"),
            ("Ubuntu:22.04:LTS", "Ubuntu:22.04"),
            ("Ubuntu:22.04", "Ubuntu:22.04"),
            ("Ubuntu:Pro:18.04:LTS", "Ubuntu:Pro:18.04"),
            ("Alpine:v3.20", "Alpine:v3.20"),
            ("Alpine:3.20.3", "Alpine:v3.20"),
            ("Rocky Linux:9.4", "Rocky Linux:9"),
            (
                "Red Hat:enterprise_linux:9::appstream",
                "Red Hat:enterprise_linux:9::appstream",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                EcosystemKey::from_osv_name(input).to_string(),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn releases_of_one_distribution_differ() {
        assert_ne!(
            PackageKey::new("Debian:11", "openssl"),
            PackageKey::new("Debian:12", "openssl")
        );
        assert_ne!(
            PackageKey::new("Debian", "openssl"),
            PackageKey::new("Debian:12", "openssl")
        );
    }

    #[test]
    fn language_ecosystems_ignore_registry_suffixes() {
        assert_eq!(
            PackageKey::new("Maven:https://maven.google.com", "androidx.core:core"),
            PackageKey::new("Maven", "androidx.core:core")
        );
    }
}
