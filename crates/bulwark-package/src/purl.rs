//! Package URLs (purl, github.com/package-url/purl-spec) in and out, and the mapping between
//! purl types and OSV ecosystems.
//!
//! The parser follows the specification's "How to parse" steps but keeps every component
//! in the case it was written. The purl spec's per-type canonicalisation lower-cases Go
//! namespaces and npm names, while OSV compares Go module paths and legacy npm names
//! case-sensitively (`github.com/BurntSushi/toml`); matching needs the original case, and
//! the per-ecosystem comparison rules live in [`crate::PackageKey`], so this module never
//! folds case except where the spec says a component is case-insensitive (scheme, type,
//! qualifier keys). That is also why the `packageurl` crate, which applies the type rules
//! while parsing, is not used.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use thiserror::Error;

/// A parsed package URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Purl {
    ty: String,
    namespace: Option<String>,
    name: String,
    version: Option<String>,
    qualifiers: BTreeMap<String, String>,
    subpath: Option<String>,
}

/// Why a string is not a package URL.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PurlError {
    /// The string does not start with `pkg:`.
    #[error("a purl starts with \"pkg:\"")]
    MissingScheme,
    /// The type is empty or has characters outside `[a-zA-Z0-9.+-]`, or starts with a digit.
    #[error("invalid purl type {0:?}")]
    InvalidType(String),
    /// No name after the type.
    #[error("the purl has no name")]
    MissingName,
    /// A qualifier without `=` or with an invalid key.
    #[error("invalid purl qualifier {0:?}")]
    InvalidQualifier(String),
    /// A percent-escape that does not decode to UTF-8.
    #[error("invalid percent-encoding in {0:?}")]
    InvalidEncoding(String),
}

/// Characters escaped in purl components: everything but unreserved characters and the
/// few the spec leaves readable. `:` stays readable (the spec allows it unencoded in
/// names and versions); `/`, `@`, `?`, `#` and `%` are always escaped inside a component.
const COMPONENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b',')
    .add(b'/')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Qualifier values may keep `/` and `+` readable (`repository_url=https://…`).
const QUALIFIER_VALUE: &AsciiSet = &COMPONENT.remove(b'/').remove(b'+');

fn decode(text: &str) -> Result<String, PurlError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| PurlError::InvalidEncoding(text.to_owned()))
}

impl Purl {
    /// A purl of `ty` and `name` with nothing else; `ty` is lower-cased.
    pub fn new(ty: &str, name: &str) -> Result<Purl, PurlError> {
        let ty = ty.to_ascii_lowercase();
        if !is_valid_type(&ty) {
            return Err(PurlError::InvalidType(ty));
        }
        if name.is_empty() {
            return Err(PurlError::MissingName);
        }
        Ok(Purl {
            ty,
            namespace: None,
            name: name.to_owned(),
            version: None,
            qualifiers: BTreeMap::new(),
            subpath: None,
        })
    }

    /// Parses a purl string.
    pub fn parse(input: &str) -> Result<Purl, PurlError> {
        let (rest, subpath) = match input.rsplit_once('#') {
            Some((rest, subpath)) => (rest, Some(subpath)),
            None => (input, None),
        };
        let (rest, qualifiers) = match rest.rsplit_once('?') {
            Some((rest, qualifiers)) => (rest, Some(qualifiers)),
            None => (rest, None),
        };
        let (scheme, rest) = rest.split_once(':').ok_or(PurlError::MissingScheme)?;
        if !scheme.eq_ignore_ascii_case("pkg") {
            return Err(PurlError::MissingScheme);
        }
        let rest = rest.trim_matches('/');
        let (ty, rest) = rest.split_once('/').ok_or(PurlError::MissingName)?;
        let ty = ty.to_ascii_lowercase();
        if !is_valid_type(&ty) {
            return Err(PurlError::InvalidType(ty));
        }
        let (rest, version) = match rest.rsplit_once('@') {
            // An `@` inside the namespace (npm scopes are written `%40scope`, but some
            // producers leave it raw) is only a version separator after the last `/`.
            Some((rest, version)) if !version.contains('/') => (rest, Some(decode(version)?)),
            _ => (rest, None),
        };
        let rest = rest.trim_end_matches('/');
        let (namespace, name) = match rest.rsplit_once('/') {
            Some((namespace, name)) => (Some(namespace), name),
            None => (None, rest),
        };
        let name = decode(name)?;
        if name.is_empty() {
            return Err(PurlError::MissingName);
        }
        let namespace = match namespace {
            Some(namespace) => {
                let segments = namespace
                    .split('/')
                    .filter(|segment| !segment.is_empty())
                    .map(decode)
                    .collect::<Result<Vec<_>, _>>()?;
                (!segments.is_empty()).then(|| segments.join("/"))
            }
            None => None,
        };
        let mut parsed_qualifiers = BTreeMap::new();
        for pair in qualifiers
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| PurlError::InvalidQualifier(pair.to_owned()))?;
            let key = key.to_ascii_lowercase();
            if key.is_empty()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            {
                return Err(PurlError::InvalidQualifier(pair.to_owned()));
            }
            let value = decode(value)?;
            if !value.is_empty() {
                parsed_qualifiers.insert(key, value);
            }
        }
        let subpath = match subpath {
            Some(subpath) => {
                let segments = subpath
                    .split('/')
                    .filter(|s| !s.is_empty() && *s != "." && *s != "..")
                    .map(decode)
                    .collect::<Result<Vec<_>, _>>()?;
                (!segments.is_empty()).then(|| segments.join("/"))
            }
            None => None,
        };
        Ok(Purl {
            ty,
            namespace,
            name,
            version,
            qualifiers: parsed_qualifiers,
            subpath,
        })
    }

    /// The package type (`pypi`, `maven`, `deb`, …), lower case.
    pub fn ty(&self) -> &str {
        &self.ty
    }

    /// The namespace (`/`-joined segments), decoded.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The name, decoded.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version, decoded.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// A qualifier's value.
    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers.get(key).map(String::as_str)
    }

    /// Sets the namespace; an empty one removes it.
    pub fn with_namespace(mut self, namespace: &str) -> Purl {
        self.namespace = (!namespace.is_empty()).then(|| namespace.to_owned());
        self
    }

    /// Sets the version.
    pub fn with_version(mut self, version: &str) -> Purl {
        self.version = Some(version.to_owned());
        self
    }

    /// Adds a qualifier (an empty value removes it, as the spec drops empty values).
    pub fn with_qualifier(mut self, key: &str, value: &str) -> Purl {
        let key = key.to_ascii_lowercase();
        if value.is_empty() {
            self.qualifiers.remove(&key);
        } else {
            self.qualifiers.insert(key, value.to_owned());
        }
        self
    }

    /// The OSV ecosystem and package name this purl denotes, or `None` when its type has
    /// no OSV ecosystem. Distribution purls take their release from the `distro`
    /// qualifier (`debian-12`, `bookworm`, `alpine-3.20`, `ubuntu-22.04`, `jammy`); a
    /// distribution purl without one maps to the bare ecosystem, which matches no
    /// release-qualified advisory.
    pub fn to_osv(&self) -> Option<(String, String)> {
        let joined = |separator: &str| match &self.namespace {
            Some(namespace) => format!("{namespace}{separator}{}", self.name),
            None => self.name.clone(),
        };
        let ecosystem = match self.ty.as_str() {
            "pypi" => "PyPI",
            "npm" => return Some(("npm".to_owned(), joined("/"))),
            "cargo" => "crates.io",
            "maven" => return Some(("Maven".to_owned(), joined(":"))),
            "golang" => return Some(("Go".to_owned(), joined("/"))),
            "gem" => "RubyGems",
            "nuget" => "NuGet",
            "composer" => return Some(("Packagist".to_owned(), joined("/"))),
            "hex" => "Hex",
            "pub" => "Pub",
            "cran" => "CRAN",
            "hackage" => "Hackage",
            "swift" => return Some(("SwiftURL".to_owned(), joined("/"))),
            "deb" | "apk" | "rpm" => return self.distribution_to_osv(),
            _ => return None,
        };
        Some((ecosystem.to_owned(), self.name.clone()))
    }

    fn distribution_to_osv(&self) -> Option<(String, String)> {
        let vendor = self.namespace.as_deref()?.to_ascii_lowercase();
        let ecosystem = match (self.ty.as_str(), vendor.as_str()) {
            ("deb", "debian") => "Debian",
            ("deb", "ubuntu") => "Ubuntu",
            ("apk", "alpine") => "Alpine",
            ("apk", "wolfi") => "Wolfi",
            ("apk", "chainguard") => "Chainguard",
            ("rpm", "redhat") => "Red Hat",
            ("rpm", "almalinux") => "AlmaLinux",
            ("rpm", "rocky" | "rocky-linux") => "Rocky Linux",
            ("rpm", "suse" | "sles") => "SUSE",
            ("rpm", "opensuse") => "openSUSE",
            ("rpm", "mageia") => "Mageia",
            ("rpm", "openeuler") => "openEuler",
            _ => return None,
        };
        let release = self
            .qualifier("distro")
            .and_then(|distro| distro_release(ecosystem, distro));
        let ecosystem = match release {
            Some(release) => format!("{ecosystem}:{release}"),
            None => ecosystem.to_owned(),
        };
        Some((ecosystem, self.name.clone()))
    }

    /// The purl of an OSV package, without version; `None` for ecosystems no purl type
    /// covers. Names are split back into namespace and name where the ecosystem joins them.
    pub fn from_osv(ecosystem: &str, name: &str) -> Option<Purl> {
        let qualified = bulwark_version::Ecosystem::from_osv_name(ecosystem);
        use bulwark_version::Ecosystem as E;
        let split = |ty: &str, separator: char| -> Option<Purl> {
            match name.rsplit_once(separator) {
                Some((namespace, name)) => Purl::new(ty, name)
                    .ok()
                    .map(|p| p.with_namespace(namespace)),
                None => Purl::new(ty, name).ok(),
            }
        };
        let distro = |ty: &str, vendor: &str, prefix: &str| -> Option<Purl> {
            let purl = Purl::new(ty, name).ok()?.with_namespace(vendor);
            Some(match &qualified.release {
                Some(release) => purl.with_qualifier("distro", &format!("{prefix}{release}")),
                None => purl,
            })
        };
        match qualified.ecosystem {
            E::PyPI => Purl::new("pypi", name).ok(),
            E::Npm => split("npm", '/'),
            E::CratesIo => Purl::new("cargo", name).ok(),
            E::Maven => split("maven", ':'),
            E::Go => split("golang", '/'),
            E::RubyGems => Purl::new("gem", name).ok(),
            E::NuGet => Purl::new("nuget", name).ok(),
            E::Packagist => split("composer", '/'),
            E::Hex => Purl::new("hex", name).ok(),
            E::Pub => Purl::new("pub", name).ok(),
            E::Cran => Purl::new("cran", name).ok(),
            E::Hackage => Purl::new("hackage", name).ok(),
            E::Debian => distro("deb", "debian", "debian-"),
            E::Ubuntu => distro("deb", "ubuntu", "ubuntu-"),
            E::Alpine => distro("apk", "alpine", "alpine-"),
            E::AlmaLinux => distro("rpm", "almalinux", "almalinux-"),
            E::Rocky => distro("rpm", "rocky", "rocky-"),
            _ => None,
        }
    }
}

/// The OSV release of a purl `distro` qualifier, for the distributions whose releases
/// have a known spelling; others keep the qualifier as written.
fn distro_release(ecosystem: &str, distro: &str) -> Option<String> {
    let lower = distro.to_ascii_lowercase();
    let bare = [
        "debian-",
        "ubuntu-",
        "alpine-",
        "almalinux-",
        "rocky-",
        "el",
    ]
    .iter()
    .find_map(|prefix| lower.strip_prefix(prefix))
    .unwrap_or(&lower);
    let release = match (ecosystem, bare) {
        // Debian and Ubuntu code names, as purls from SBOM tools write them.
        ("Debian", "buster") => "10",
        ("Debian", "bullseye") => "11",
        ("Debian", "bookworm") => "12",
        ("Debian", "trixie") => "13",
        ("Debian", "stretch") => "9",
        ("Debian", "jessie") => "8",
        ("Ubuntu", "xenial") => "16.04",
        ("Ubuntu", "bionic") => "18.04",
        ("Ubuntu", "focal") => "20.04",
        ("Ubuntu", "jammy") => "22.04",
        ("Ubuntu", "noble") => "24.04",
        (_, "") => return None,
        (_, bare) => bare,
    };
    Some(release.to_owned())
}

fn is_valid_type(ty: &str) -> bool {
    let mut chars = ty.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '.' || c == '+' || c == '-')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
}

impl FromStr for Purl {
    type Err = PurlError;

    fn from_str(input: &str) -> Result<Purl, PurlError> {
        Purl::parse(input)
    }
}

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(namespace) = &self.namespace {
            for segment in namespace.split('/') {
                write!(f, "{}/", utf8_percent_encode(segment, COMPONENT))?;
            }
        }
        write!(f, "{}", utf8_percent_encode(&self.name, COMPONENT))?;
        if let Some(version) = &self.version {
            write!(f, "@{}", utf8_percent_encode(version, COMPONENT))?;
        }
        for (i, (key, value)) in self.qualifiers.iter().enumerate() {
            let separator = if i == 0 { '?' } else { '&' };
            write!(
                f,
                "{separator}{key}={}",
                utf8_percent_encode(value, QUALIFIER_VALUE)
            )?;
        }
        if let Some(subpath) = &self.subpath {
            f.write_str("#")?;
            for (i, segment) in subpath.split('/').enumerate() {
                if i > 0 {
                    f.write_str("/")?;
                }
                write!(f, "{}", utf8_percent_encode(segment, COMPONENT))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_specification_examples() {
        let purl = Purl::parse("pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie").unwrap();
        assert_eq!(purl.ty(), "deb");
        assert_eq!(purl.namespace(), Some("debian"));
        assert_eq!(purl.name(), "curl");
        assert_eq!(purl.version(), Some("7.50.3-1"));
        assert_eq!(purl.qualifier("distro"), Some("jessie"));

        let purl =
            Purl::parse("pkg:maven/org.apache.xmlgraphics/batik-anim@1.9.1?packaging=sources")
                .unwrap();
        assert_eq!(purl.namespace(), Some("org.apache.xmlgraphics"));

        let purl = Purl::parse("pkg:npm/%40angular/animation@12.3.1").unwrap();
        assert_eq!(purl.namespace(), Some("@angular"));
        assert_eq!(purl.to_string(), "pkg:npm/%40angular/animation@12.3.1");

        let purl = Purl::parse("pkg:golang/google.golang.org/genproto#googleapis/api/annotations")
            .unwrap();
        assert_eq!(purl.namespace(), Some("google.golang.org"));
        assert_eq!(purl.name(), "genproto");
        assert_eq!(
            purl.to_string(),
            "pkg:golang/google.golang.org/genproto#googleapis/api/annotations"
        );
    }

    #[test]
    fn keeps_case_and_normalises_only_case_insensitive_parts() {
        let purl = Purl::parse("PKG:GoLang/github.com/BurntSushi/toml@v1.3.2").unwrap();
        assert_eq!(purl.ty(), "golang");
        assert_eq!(
            purl.to_osv(),
            Some(("Go".into(), "github.com/BurntSushi/toml".into()))
        );
    }

    #[test]
    fn refuses_malformed_purls() {
        assert_eq!(Purl::parse("npm/left-pad"), Err(PurlError::MissingScheme));
        assert_eq!(Purl::parse("pkg:npm"), Err(PurlError::MissingName));
        assert_eq!(Purl::parse("pkg:npm/@1.0"), Err(PurlError::MissingName));
        assert!(matches!(
            Purl::parse("pkg:1abc/x"),
            Err(PurlError::InvalidType(_))
        ));
        assert!(matches!(
            Purl::parse("pkg:npm/x?novalue"),
            Err(PurlError::InvalidQualifier(_))
        ));
        assert!(matches!(
            Purl::parse("pkg:npm/%FF"),
            Err(PurlError::InvalidEncoding(_))
        ));
    }

    #[test]
    fn maps_types_to_osv_ecosystems() {
        let cases = [
            ("pkg:pypi/Django@2.2.0", "PyPI", "Django"),
            ("pkg:npm/%40babel/core@7.0.0", "npm", "@babel/core"),
            ("pkg:cargo/serde@1.0.0", "crates.io", "serde"),
            ("pkg:maven/org.jline/jline@3.0", "Maven", "org.jline:jline"),
            ("pkg:gem/rails@7.0.0", "RubyGems", "rails"),
            (
                "pkg:nuget/Newtonsoft.Json@13.0.1",
                "NuGet",
                "Newtonsoft.Json",
            ),
            (
                "pkg:composer/symfony/http-kernel@6.0.0",
                "Packagist",
                "symfony/http-kernel",
            ),
            ("pkg:hex/plug@1.0.0", "Hex", "plug"),
            ("pkg:pub/http@1.0.0", "Pub", "http"),
            (
                "pkg:deb/debian/openssl@3.0.11-1?distro=debian-12",
                "Debian:12",
                "openssl",
            ),
            (
                "pkg:deb/debian/openssl@3.0.11-1?distro=bookworm",
                "Debian:12",
                "openssl",
            ),
            (
                "pkg:deb/ubuntu/openssl@3.0.2?distro=ubuntu-22.04",
                "Ubuntu:22.04",
                "openssl",
            ),
            (
                "pkg:deb/ubuntu/openssl@3.0.2?distro=jammy",
                "Ubuntu:22.04",
                "openssl",
            ),
            (
                "pkg:apk/alpine/busybox@1.36.1-r0?distro=alpine-3.20.3",
                "Alpine:3.20.3",
                "busybox",
            ),
            (
                "pkg:rpm/almalinux/openssl@3.0.7?distro=almalinux-9.4",
                "AlmaLinux:9.4",
                "openssl",
            ),
            ("pkg:rpm/redhat/openssl@3.0.7", "Red Hat", "openssl"),
        ];
        for (purl, ecosystem, name) in cases {
            assert_eq!(
                Purl::parse(purl).unwrap().to_osv(),
                Some((ecosystem.to_owned(), name.to_owned())),
                "{purl}"
            );
        }
        assert_eq!(Purl::parse("pkg:generic/thing").unwrap().to_osv(), None);
        assert_eq!(Purl::parse("pkg:deb/kali/openssl").unwrap().to_osv(), None);
    }

    #[test]
    fn builds_purls_from_osv_packages() {
        let cases = [
            ("PyPI", "django", "pkg:pypi/django"),
            ("npm", "@babel/core", "pkg:npm/%40babel/core"),
            ("Maven", "org.jline:jline", "pkg:maven/org.jline/jline"),
            (
                "Go",
                "github.com/BurntSushi/toml",
                "pkg:golang/github.com/BurntSushi/toml",
            ),
            (
                "Debian:12",
                "openssl",
                "pkg:deb/debian/openssl?distro=debian-12",
            ),
            (
                "Alpine:v3.20",
                "busybox",
                "pkg:apk/alpine/busybox?distro=alpine-v3.20",
            ),
        ];
        for (ecosystem, name, expected) in cases {
            let purl = Purl::from_osv(ecosystem, name).unwrap();
            assert_eq!(purl.to_string(), expected);
            let (back_ecosystem, back_name) = Purl::parse(expected).unwrap().to_osv().unwrap();
            assert_eq!(
                crate::PackageKey::new(&back_ecosystem, &back_name),
                crate::PackageKey::new(ecosystem, name),
                "{expected}"
            );
        }
        assert_eq!(Purl::from_osv("Linux", "kernel"), None);
    }
}
