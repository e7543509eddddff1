//! OSV ecosystem names and the version scheme each one orders its versions by.
//!
//! This module only names things: it maps `affected[].package.ecosystem` strings to
//! [`Ecosystem`] and each ecosystem to a [`VersionScheme`]. An ecosystem is given a scheme
//! only where its ordering is documented and implemented here; every other ecosystem,
//! including names this crate has never heard of, has none, so callers fall back to
//! explicit version lists instead of guessing.

use std::fmt;

/// An OSV ecosystem, without its release or registry suffix.
///
/// The names are those of the OSV schema's `ecosystems.json`; a name outside that list is
/// kept as [`Ecosystem::Unknown`] so it can be written back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Ecosystem {
    AlmaLinux,
    Alpaquita,
    Alpine,
    Android,
    AzureLinux,
    BellSoftHardenedContainers,
    Bioconductor,
    Bitnami,
    Chainguard,
    CleanStart,
    ConanCenter,
    Cran,
    CratesIo,
    Debian,
    DockerHardenedImages,
    Echo,
    FreeBsd,
    Ghc,
    GitHubActions,
    Go,
    Hackage,
    Hex,
    Julia,
    Kubernetes,
    Linux,
    Mageia,
    Maven,
    MinimOs,
    Npm,
    NuGet,
    Opam,
    OpenEuler,
    /// openSUSE distributions (`openSUSE:Leap 15.5`).
    OpenSuse,
    OssFuzz,
    Packagist,
    PhotonOs,
    Pub,
    PyPI,
    RedHat,
    /// Rocky Linux (`Rocky Linux:9`).
    Rocky,
    Root,
    RubyGems,
    /// SUSE products (`SUSE:Linux Enterprise Server 15 SP5`).
    Suse,
    SwiftUrl,
    TuxCare,
    Ubuntu,
    VsCode,
    Wolfi,
    /// A name this crate does not know, as written (without any `:` suffix).
    Unknown(String),
}

/// The comparison rules a version string is read with.
///
/// Several ecosystems share one scheme (npm and crates.io both use SemVer 2.0); versions of
/// the same scheme can be ordered against each other, versions of different schemes cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum VersionScheme {
    /// SemVer 2.0 precedence (crates.io, npm, Go, Hex).
    SemVer,
    /// SemVer with Pub's rule that build metadata orders after the plain version.
    Pub,
    /// PEP 440 (PyPI).
    Pep440,
    /// Apache Maven's `ComparableVersion`.
    Maven,
    /// RubyGems' `Gem::Version`.
    RubyGems,
    /// NuGet's four-part SemVer.
    NuGet,
    /// PHP's `version_compare` as Composer feeds it (Packagist).
    Packagist,
    /// dpkg (Debian, Ubuntu).
    Dpkg,
    /// apk-tools (Alpine and other apk distributions).
    Apk,
    /// rpmvercmp over epoch:version-release (Red Hat and other RPM distributions).
    Rpm,
    /// R's `package_version` (CRAN, Bioconductor).
    Cran,
    /// Haskell's `Data.Version` (Hackage).
    Hackage,
}

impl VersionScheme {
    /// A short human name, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            VersionScheme::SemVer => "SemVer",
            VersionScheme::Pub => "Pub",
            VersionScheme::Pep440 => "PEP 440",
            VersionScheme::Maven => "Maven",
            VersionScheme::RubyGems => "RubyGems",
            VersionScheme::NuGet => "NuGet",
            VersionScheme::Packagist => "Packagist",
            VersionScheme::Dpkg => "dpkg",
            VersionScheme::Apk => "apk",
            VersionScheme::Rpm => "RPM",
            VersionScheme::Cran => "CRAN",
            VersionScheme::Hackage => "Hackage",
        }
    }
}

impl fmt::Display for VersionScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Ecosystem {
    /// Reads an OSV `ecosystem` string such as `Debian:12`, `Alpine:v3.20`,
    /// `Ubuntu:Pro:18.04:LTS` or `Red Hat:enterprise_linux:9::appstream`.
    ///
    /// Everything after the first `:` is the suffix (a release for distributions, a
    /// registry URL for `Maven:` and `Packagist:`), kept verbatim. Never fails: a base name
    /// outside the OSV list becomes [`Ecosystem::Unknown`], which has no ordering.
    pub fn from_osv_name(name: &str) -> QualifiedEcosystem {
        let (base, release) = match name.split_once(':') {
            Some((base, suffix)) => (base, (!suffix.is_empty()).then(|| suffix.to_owned())),
            None => (name, None),
        };
        QualifiedEcosystem {
            ecosystem: Ecosystem::from_base_name(base),
            release,
        }
    }

    /// The ecosystem named exactly `base` (OSV names are case-sensitive), with no suffix.
    pub fn from_base_name(base: &str) -> Ecosystem {
        match base {
            "AlmaLinux" => Ecosystem::AlmaLinux,
            "Alpaquita" => Ecosystem::Alpaquita,
            "Alpine" => Ecosystem::Alpine,
            "Android" => Ecosystem::Android,
            "Azure Linux" => Ecosystem::AzureLinux,
            "BellSoft Hardened Containers" => Ecosystem::BellSoftHardenedContainers,
            "Bioconductor" => Ecosystem::Bioconductor,
            "Bitnami" => Ecosystem::Bitnami,
            "Chainguard" => Ecosystem::Chainguard,
            "CleanStart" => Ecosystem::CleanStart,
            "ConanCenter" => Ecosystem::ConanCenter,
            "CRAN" => Ecosystem::Cran,
            "crates.io" => Ecosystem::CratesIo,
            "Debian" => Ecosystem::Debian,
            "Docker Hardened Images" => Ecosystem::DockerHardenedImages,
            "Echo" => Ecosystem::Echo,
            "FreeBSD" => Ecosystem::FreeBsd,
            "GHC" => Ecosystem::Ghc,
            "GitHub Actions" => Ecosystem::GitHubActions,
            "Go" => Ecosystem::Go,
            "Hackage" => Ecosystem::Hackage,
            "Hex" => Ecosystem::Hex,
            "Julia" => Ecosystem::Julia,
            "Kubernetes" => Ecosystem::Kubernetes,
            "Linux" => Ecosystem::Linux,
            "Mageia" => Ecosystem::Mageia,
            "Maven" => Ecosystem::Maven,
            "MinimOS" => Ecosystem::MinimOs,
            "npm" => Ecosystem::Npm,
            "NuGet" => Ecosystem::NuGet,
            "opam" => Ecosystem::Opam,
            "openEuler" => Ecosystem::OpenEuler,
            "openSUSE" => Ecosystem::OpenSuse,
            "OSS-Fuzz" => Ecosystem::OssFuzz,
            "Packagist" => Ecosystem::Packagist,
            "Photon OS" => Ecosystem::PhotonOs,
            "Pub" => Ecosystem::Pub,
            "PyPI" => Ecosystem::PyPI,
            "Red Hat" => Ecosystem::RedHat,
            "Rocky Linux" => Ecosystem::Rocky,
            "Root" => Ecosystem::Root,
            "RubyGems" => Ecosystem::RubyGems,
            "SUSE" => Ecosystem::Suse,
            "SwiftURL" => Ecosystem::SwiftUrl,
            "TuxCare" => Ecosystem::TuxCare,
            "Ubuntu" => Ecosystem::Ubuntu,
            "VSCode" => Ecosystem::VsCode,
            "Wolfi" => Ecosystem::Wolfi,
            other => Ecosystem::Unknown(other.to_owned()),
        }
    }

    /// The OSV name of the ecosystem, without any suffix.
    pub fn osv_name(&self) -> &str {
        match self {
            Ecosystem::AlmaLinux => "AlmaLinux",
            Ecosystem::Alpaquita => "Alpaquita",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::Android => "Android",
            Ecosystem::AzureLinux => "Azure Linux",
            Ecosystem::BellSoftHardenedContainers => "BellSoft Hardened Containers",
            Ecosystem::Bioconductor => "Bioconductor",
            Ecosystem::Bitnami => "Bitnami",
            Ecosystem::Chainguard => "Chainguard",
            Ecosystem::CleanStart => "CleanStart",
            Ecosystem::ConanCenter => "ConanCenter",
            Ecosystem::Cran => "CRAN",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Debian => "Debian",
            Ecosystem::DockerHardenedImages => "Docker Hardened Images",
            Ecosystem::Echo => "Echo",
            Ecosystem::FreeBsd => "FreeBSD",
            Ecosystem::Ghc => "GHC",
            Ecosystem::GitHubActions => "GitHub Actions",
            Ecosystem::Go => "Go",
            Ecosystem::Hackage => "Hackage",
            Ecosystem::Hex => "Hex",
            Ecosystem::Julia => "Julia",
            Ecosystem::Kubernetes => "Kubernetes",
            Ecosystem::Linux => "Linux",
            Ecosystem::Mageia => "Mageia",
            Ecosystem::Maven => "Maven",
            Ecosystem::MinimOs => "MinimOS",
            Ecosystem::Npm => "npm",
            Ecosystem::NuGet => "NuGet",
            Ecosystem::Opam => "opam",
            Ecosystem::OpenEuler => "openEuler",
            Ecosystem::OpenSuse => "openSUSE",
            Ecosystem::OssFuzz => "OSS-Fuzz",
            Ecosystem::Packagist => "Packagist",
            Ecosystem::PhotonOs => "Photon OS",
            Ecosystem::Pub => "Pub",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::RedHat => "Red Hat",
            Ecosystem::Rocky => "Rocky Linux",
            Ecosystem::Root => "Root",
            Ecosystem::RubyGems => "RubyGems",
            Ecosystem::Suse => "SUSE",
            Ecosystem::SwiftUrl => "SwiftURL",
            Ecosystem::TuxCare => "TuxCare",
            Ecosystem::Ubuntu => "Ubuntu",
            Ecosystem::VsCode => "VSCode",
            Ecosystem::Wolfi => "Wolfi",
            Ecosystem::Unknown(name) => name,
        }
    }

    /// The scheme this ecosystem's versions are ordered by, or `None` when this crate does
    /// not know its ordering.
    ///
    /// Only ecosystems whose tools document the rules implemented here get a scheme.
    /// Ecosystems that mix package formats (Echo, Root, TuxCare, Docker Hardened Images),
    /// that version by Git tag or kernel release (Android, Linux, OSS-Fuzz, GitHub
    /// Actions), or whose rules differ from every scheme here in ways that matter (Julia
    /// orders build metadata, GHC, opam, FreeBSD, ConanCenter, Bitnami, Kubernetes, VSCode,
    /// SwiftURL, CleanStart) have none.
    pub fn scheme(&self) -> Option<VersionScheme> {
        use Ecosystem as E;
        match self {
            E::CratesIo | E::Npm | E::Go | E::Hex => Some(VersionScheme::SemVer),
            E::Pub => Some(VersionScheme::Pub),
            E::PyPI => Some(VersionScheme::Pep440),
            E::Maven => Some(VersionScheme::Maven),
            E::RubyGems => Some(VersionScheme::RubyGems),
            E::NuGet => Some(VersionScheme::NuGet),
            E::Packagist => Some(VersionScheme::Packagist),
            E::Debian | E::Ubuntu => Some(VersionScheme::Dpkg),
            E::Alpine
            | E::Alpaquita
            | E::BellSoftHardenedContainers
            | E::Chainguard
            | E::MinimOs
            | E::Wolfi => Some(VersionScheme::Apk),
            E::RedHat
            | E::AlmaLinux
            | E::Rocky
            | E::Suse
            | E::OpenSuse
            | E::Mageia
            | E::OpenEuler
            | E::PhotonOs
            | E::AzureLinux => Some(VersionScheme::Rpm),
            E::Cran | E::Bioconductor => Some(VersionScheme::Cran),
            E::Hackage => Some(VersionScheme::Hackage),
            E::Android
            | E::Bitnami
            | E::CleanStart
            | E::ConanCenter
            | E::DockerHardenedImages
            | E::Echo
            | E::FreeBsd
            | E::Ghc
            | E::GitHubActions
            | E::Julia
            | E::Kubernetes
            | E::Linux
            | E::Opam
            | E::OssFuzz
            | E::Root
            | E::SwiftUrl
            | E::TuxCare
            | E::VsCode
            | E::Unknown(_) => None,
        }
    }

    /// Whether versions of this ecosystem can be ordered. When `false`, a matcher may only
    /// test membership in an advisory's explicit `versions` list.
    pub fn has_ordering(&self) -> bool {
        self.scheme().is_some()
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.osv_name())
    }
}

/// An OSV ecosystem string split into its ecosystem and its suffix.
///
/// `Debian:12` is `{ Debian, Some("12") }`; `Red Hat:enterprise_linux:9::appstream` is
/// `{ RedHat, Some("enterprise_linux:9::appstream") }`; `Maven:https://maven.google.com`
/// keeps the registry URL as its `release`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedEcosystem {
    /// The base ecosystem, which decides the version scheme.
    pub ecosystem: Ecosystem,
    /// Everything after the first `:`, verbatim; `None` when absent or empty.
    pub release: Option<String>,
}

impl QualifiedEcosystem {
    /// The full OSV ecosystem string, suffix included.
    pub fn osv_name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for QualifiedEcosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ecosystem.osv_name())?;
        if let Some(release) = &self.release {
            write!(f, ":{release}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name in the OSV schema's `ecosystems.json` at the time of writing.
    const OSV_NAMES: &[&str] = &[
        "AlmaLinux",
        "Alpaquita",
        "Alpine",
        "Android",
        "Azure Linux",
        "BellSoft Hardened Containers",
        "Bioconductor",
        "Bitnami",
        "Chainguard",
        "CleanStart",
        "ConanCenter",
        "CRAN",
        "crates.io",
        "Debian",
        "Docker Hardened Images",
        "Echo",
        "FreeBSD",
        "GHC",
        "GitHub Actions",
        "Go",
        "Hackage",
        "Hex",
        "Julia",
        "Kubernetes",
        "Linux",
        "Mageia",
        "Maven",
        "MinimOS",
        "npm",
        "NuGet",
        "opam",
        "openEuler",
        "openSUSE",
        "OSS-Fuzz",
        "Packagist",
        "Photon OS",
        "Pub",
        "PyPI",
        "Red Hat",
        "Rocky Linux",
        "Root",
        "RubyGems",
        "SUSE",
        "SwiftURL",
        "TuxCare",
        "Ubuntu",
        "VSCode",
        "Wolfi",
    ];

    #[test]
    fn every_osv_name_is_known_and_round_trips() {
        for name in OSV_NAMES {
            let ecosystem = Ecosystem::from_base_name(name);
            assert!(
                !matches!(ecosystem, Ecosystem::Unknown(_)),
                "{name} should be known"
            );
            assert_eq!(ecosystem.osv_name(), *name);
        }
    }

    #[test]
    fn splits_distribution_suffixes() {
        let cases = [
            ("Debian:12", Ecosystem::Debian, Some("12")),
            ("Alpine:v3.20", Ecosystem::Alpine, Some("v3.20")),
            ("Ubuntu:22.04:LTS", Ecosystem::Ubuntu, Some("22.04:LTS")),
            (
                "Ubuntu:Pro:18.04:LTS",
                Ecosystem::Ubuntu,
                Some("Pro:18.04:LTS"),
            ),
            (
                "Red Hat:enterprise_linux:9::appstream",
                Ecosystem::RedHat,
                Some("enterprise_linux:9::appstream"),
            ),
            (
                "SUSE:Linux Enterprise Server 15 SP5",
                Ecosystem::Suse,
                Some("Linux Enterprise Server 15 SP5"),
            ),
            ("openSUSE:Leap 15.5", Ecosystem::OpenSuse, Some("Leap 15.5")),
            ("Rocky Linux:9", Ecosystem::Rocky, Some("9")),
            ("AlmaLinux:8", Ecosystem::AlmaLinux, Some("8")),
            (
                "Maven:https://maven.google.com",
                Ecosystem::Maven,
                Some("https://maven.google.com"),
            ),
            ("PyPI", Ecosystem::PyPI, None),
            ("Debian:", Ecosystem::Debian, None),
        ];
        for (name, ecosystem, release) in cases {
            let qualified = Ecosystem::from_osv_name(name);
            assert_eq!(qualified.ecosystem, ecosystem, "{name}");
            assert_eq!(qualified.release.as_deref(), release, "{name}");
        }
    }

    #[test]
    fn qualified_names_round_trip() {
        for name in [
            "Debian:12",
            "Red Hat:rhel_aus:8.4::appstream",
            "npm",
            "Nix:24.05",
        ] {
            assert_eq!(Ecosystem::from_osv_name(name).osv_name(), name);
        }
    }

    #[test]
    fn names_are_case_sensitive_and_unknown_names_have_no_ordering() {
        let lower = Ecosystem::from_osv_name("pypi");
        assert_eq!(lower.ecosystem, Ecosystem::Unknown("pypi".to_owned()));
        assert!(!lower.ecosystem.has_ordering());
        assert!(!Ecosystem::from_base_name("Nix").has_ordering());
    }

    #[test]
    fn required_ecosystems_have_their_schemes() {
        use VersionScheme as S;
        let expected = [
            (Ecosystem::CratesIo, S::SemVer),
            (Ecosystem::Npm, S::SemVer),
            (Ecosystem::Go, S::SemVer),
            (Ecosystem::Hex, S::SemVer),
            (Ecosystem::Pub, S::Pub),
            (Ecosystem::PyPI, S::Pep440),
            (Ecosystem::Maven, S::Maven),
            (Ecosystem::RubyGems, S::RubyGems),
            (Ecosystem::NuGet, S::NuGet),
            (Ecosystem::Packagist, S::Packagist),
            (Ecosystem::Debian, S::Dpkg),
            (Ecosystem::Ubuntu, S::Dpkg),
            (Ecosystem::Alpine, S::Apk),
            (Ecosystem::RedHat, S::Rpm),
            (Ecosystem::AlmaLinux, S::Rpm),
            (Ecosystem::Rocky, S::Rpm),
            (Ecosystem::Suse, S::Rpm),
            (Ecosystem::OpenSuse, S::Rpm),
            (Ecosystem::Cran, S::Cran),
            (Ecosystem::Hackage, S::Hackage),
        ];
        for (ecosystem, scheme) in expected {
            assert_eq!(ecosystem.scheme(), Some(scheme), "{ecosystem}");
        }
        for ecosystem in [
            Ecosystem::Android,
            Ecosystem::Linux,
            Ecosystem::GitHubActions,
        ] {
            assert!(!ecosystem.has_ordering(), "{ecosystem}");
        }
    }
}
