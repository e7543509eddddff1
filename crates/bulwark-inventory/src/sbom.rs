//! Software bills of materials as an inventory source: the packages a CycloneDX (1.x JSON)
//! or SPDX (2.x JSON) document lists, by their package URLs. A package without a package URL
//! names nothing an advisory can match and is left out; so is one whose package URL does
//! not parse. Nested CycloneDX components count like top-level ones.
//!
//! The document is someone else's claim about an artifact, not something read from it: the
//! caller marks what comes from here as such.

use bulwark_package::Purl;
use serde_json::Value;

/// Documents larger than this are refused (a whole distribution's SBOM is a few MiB).
pub const MAX_DOCUMENT_BYTES: usize = 32 << 20;
/// Packages read from one document at most; more is refused, not cut short silently.
pub const MAX_PACKAGES: usize = 100_000;
/// CycloneDX components nest; deeper than this is refused.
const MAX_DEPTH: usize = 32;

/// A package a document lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPackage {
    pub purl: Purl,
    /// The name and version as the document writes them (the package URL's when it says
    /// none).
    pub name: String,
    pub version: String,
}

/// Why a document cannot be read as an SBOM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SbomError {
    #[error("the document is {0} bytes, more than the {MAX_DOCUMENT_BYTES} read")]
    TooLarge(usize),
    #[error("the document is not JSON: {0}")]
    NotJson(String),
    #[error("the document is neither CycloneDX nor SPDX 2 JSON")]
    UnknownFormat,
    #[error("the document lists more than {MAX_PACKAGES} packages")]
    TooManyPackages,
    #[error("CycloneDX components nest deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// The packages `document` lists, in document order, each package URL once.
pub fn listed_packages(document: &[u8]) -> Result<Vec<ListedPackage>, SbomError> {
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(SbomError::TooLarge(document.len()));
    }
    let value: Value =
        serde_json::from_slice(document).map_err(|e| SbomError::NotJson(e.to_string()))?;
    let mut found = Listing::default();
    if value["bomFormat"] == "CycloneDX" {
        found.cyclonedx(&value["components"], 0)?;
        // The described artifact itself may be a package (an SBOM of a library).
        found.cyclonedx_one(&value["metadata"]["component"])?;
    } else if value["spdxVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("SPDX-2."))
    {
        for package in value["packages"].as_array().into_iter().flatten() {
            let purl = package["externalRefs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| {
                    r["referenceType"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case("purl"))
                })
                .find_map(|r| r["referenceLocator"].as_str());
            found.add(
                purl,
                package["name"].as_str(),
                package["versionInfo"].as_str(),
            )?;
        }
    } else {
        return Err(SbomError::UnknownFormat);
    }
    Ok(found.packages)
}

#[derive(Default)]
struct Listing {
    packages: Vec<ListedPackage>,
    seen: std::collections::BTreeSet<String>,
}

impl Listing {
    fn cyclonedx(&mut self, components: &Value, depth: usize) -> Result<(), SbomError> {
        if depth > MAX_DEPTH {
            return Err(SbomError::TooDeep);
        }
        for component in components.as_array().into_iter().flatten() {
            self.cyclonedx_one(component)?;
            self.cyclonedx(&component["components"], depth + 1)?;
        }
        Ok(())
    }

    fn cyclonedx_one(&mut self, component: &Value) -> Result<(), SbomError> {
        self.add(
            component["purl"].as_str(),
            component["name"].as_str(),
            component["version"].as_str(),
        )
    }

    fn add(
        &mut self,
        purl: Option<&str>,
        name: Option<&str>,
        version: Option<&str>,
    ) -> Result<(), SbomError> {
        let Some(parsed) = purl.and_then(|p| Purl::parse(p).ok()) else {
            return Ok(());
        };
        let key = parsed.to_string();
        if !self.seen.insert(key) {
            return Ok(());
        }
        if self.packages.len() == MAX_PACKAGES {
            return Err(SbomError::TooManyPackages);
        }
        let name = name
            .filter(|n| !n.is_empty())
            .map_or_else(|| parsed.name().to_owned(), str::to_owned);
        let version = version
            .filter(|v| !v.is_empty() && *v != "NOASSERTION")
            .or(parsed.version())
            .unwrap_or_default()
            .to_owned();
        self.packages.push(ListedPackage {
            purl: parsed,
            name,
            version,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn cyclonedx_components_nested_and_deduplicated() {
        let document = br#"{
            "bomFormat": "CycloneDX", "specVersion": "1.5",
            "metadata": {"component": {"type": "container", "name": "app"}},
            "components": [
                {"type": "library", "name": "lodash", "version": "4.17.20",
                 "purl": "pkg:npm/lodash@4.17.20",
                 "components": [{"name": "minimist", "version": "1.2.0",
                                 "purl": "pkg:npm/minimist@1.2.0"}]},
                {"name": "lodash", "version": "4.17.20", "purl": "pkg:npm/lodash@4.17.20"},
                {"name": "no-purl", "version": "1"},
                {"name": "bad", "purl": "not a purl"}
            ]}"#;
        let listed = listed_packages(document).unwrap();
        let names: Vec<(&str, &str)> = listed
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(names, [("lodash", "4.17.20"), ("minimist", "1.2.0")]);
        assert_eq!(listed[1].purl.ty(), "npm");
    }

    #[test]
    fn spdx_packages_by_their_purl_reference() {
        let document = br#"{
            "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT",
            "packages": [
                {"name": "requests", "versionInfo": "2.19.1", "externalRefs": [
                    {"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
                     "referenceLocator": "cpe:2.3:a:python:requests:2.19.1:*:*:*:*:*:*:*"},
                    {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                     "referenceLocator": "pkg:pypi/requests@2.19.1"}]},
                {"name": "libssl3", "versionInfo": "NOASSERTION", "externalRefs": [
                    {"referenceType": "purl",
                     "referenceLocator": "pkg:deb/debian/libssl3@3.0.11-1?distro=debian-12"}]},
                {"name": "the-image"}
            ]}"#;
        let listed = listed_packages(document).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].purl.to_osv().unwrap().0, "PyPI");
        assert_eq!(
            listed[1].version, "3.0.11-1",
            "the purl's when the document says none"
        );
    }

    #[test]
    fn what_is_not_an_sbom_is_refused() {
        assert!(matches!(
            listed_packages(b"{\"a\": 1}"),
            Err(SbomError::UnknownFormat)
        ));
        assert!(matches!(listed_packages(b"[1"), Err(SbomError::NotJson(_))));
        let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert!(matches!(listed_packages(&big), Err(SbomError::TooLarge(_))));
        let mut deep = String::from(r#"{"bomFormat":"CycloneDX","components":"#);
        for _ in 0..40 {
            deep.push_str(r#"[{"name":"x","components":"#);
        }
        deep.push_str("[]");
        for _ in 0..40 {
            deep.push_str("}]");
        }
        deep.push('}');
        assert!(matches!(
            listed_packages(deep.as_bytes()),
            Err(SbomError::TooDeep)
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = listed_packages(&bytes);
        }
    }
}
