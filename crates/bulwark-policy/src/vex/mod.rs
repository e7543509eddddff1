//! VEX (Vulnerability Exploitability eXchange): a producer's statements that a product is,
//! or is not, affected by a vulnerability. Three formats are read into one model,
//! [`VexStatement`]:
//!
//! - OpenVEX v0.2.0 (also the string-valued `vulnerability`/`products` of v0.0.x),
//! - CycloneDX 1.4 and later (`vulnerabilities[].analysis` with `affects[].ref` resolved
//!   through `bom-ref`s, BOM-Links, or read as a purl),
//! - CSAF 2.0 (`product_tree` branches, full product names and relationships;
//!   `vulnerabilities[].product_status`, `flags` and `threats`).
//!
//! The input is untrusted (anyone who can push can attach a VEX document), so documents
//! over [`MAX_VEX_BYTES`] or yielding more than [`MAX_VEX_STATEMENTS`] statements are
//! refused whole, and JSON nesting is bounded by `serde_json`'s recursion limit.
//!
//! A statement that names no product this model can identify (a purl or a sha256
//! digest: CPEs and bare product names are not matched) can never apply, and is dropped
//! while parsing.
//!
//! Matching ([`VexStatement::applies_to`]):
//! - a `pkg:oci/…@sha256:…` purl or a bare digest is the artifact itself: the statement
//!   applies to every finding of the vulnerability in it, or, when the statement lists
//!   subcomponents, to findings in those packages only;
//! - any other purl is a package: it applies to findings in that package (type,
//!   namespace, name; and version when the purl has one). A package product with
//!   subcomponents applies to nothing: without a dependency graph Bulwark cannot tell
//!   whether a finding sits inside that product, and guessing would over-suppress;
//! - an OCI purl without a digest applies to nothing (it names every version of an image).
//!
//! When several statements apply to one finding, the one with the latest timestamp wins
//! (a statement without one counts as oldest); on a tie the statement that does *not*
//! suppress wins, so contradictory statements fail closed.

mod csaf;
mod cyclonedx;
mod openvex;

use std::fmt;

use bulwark_package::Purl;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::facts::{ArtifactFacts, Finding, same_package};

/// Larger documents are refused unread.
pub const MAX_VEX_BYTES: usize = 16 << 20;

/// Documents yielding more statements are refused.
pub const MAX_VEX_STATEMENTS: usize = 10_000;

/// A product a statement is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Product {
    /// A package URL, as written (it parsed when read).
    Purl(String),
    /// A content digest, `sha256:<lowercase hex>`.
    Digest(String),
}

/// What a statement says about its products.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum VexStatus {
    NotAffected {
        /// The machine-readable reason (`vulnerable_code_not_present`, `code_not_reachable`, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        justification: Option<String>,
        /// The free-text explanation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        impact: Option<String>,
    },
    Fixed,
    Affected,
    UnderInvestigation,
}

impl VexStatus {
    /// The OpenVEX name of the status.
    pub fn as_str(&self) -> &'static str {
        match self {
            VexStatus::NotAffected { .. } => "not_affected",
            VexStatus::Fixed => "fixed",
            VexStatus::Affected => "affected",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }

    /// Whether a matching finding is suppressed: `not_affected` and `fixed` do;
    /// `affected` and `under_investigation` do not.
    pub fn suppresses(&self) -> bool {
        matches!(self, VexStatus::NotAffected { .. } | VexStatus::Fixed)
    }
}

/// One statement, whatever format it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexStatement {
    pub vulnerability: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub products: Vec<Product>,
    /// Purls of the packages inside the products the statement is about; empty means
    /// the products as a whole.
    #[serde(default)]
    pub subcomponents: Vec<String>,
    pub status: VexStatus,
    /// The document's author and id, for reports.
    pub source: String,
    /// When the statement was made (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<i64>,
}

impl VexStatement {
    /// Whether the statement's vulnerability (or an alias) is the finding's (or an alias).
    pub fn names(&self, finding: &Finding) -> bool {
        std::iter::once(&self.vulnerability)
            .chain(&self.aliases)
            .any(|id| finding.is_known_as(id))
    }

    /// Whether the statement is about `finding` in the artifact of `facts` (see the
    /// module documentation for the rules).
    pub fn applies_to(&self, facts: &ArtifactFacts, finding: &Finding) -> bool {
        if !self.names(finding) {
            return false;
        }
        let finding_purl = finding.package_purl();
        let in_subcomponents = || {
            self.subcomponents.iter().any(|sub| {
                Purl::parse(sub).is_ok_and(|sub| {
                    finding_purl
                        .as_ref()
                        .is_some_and(|have| same_package(&sub, have, &finding.version))
                })
            })
        };
        let about_artifact = || self.subcomponents.is_empty() || in_subcomponents();
        self.products.iter().any(|product| match product {
            Product::Digest(digest) => {
                digest.eq_ignore_ascii_case(&facts.digest) && about_artifact()
            }
            Product::Purl(purl) => {
                let Ok(purl) = Purl::parse(purl) else {
                    return false;
                };
                if purl.ty() == "oci" {
                    purl.version()
                        .is_some_and(|version| version.eq_ignore_ascii_case(&facts.digest))
                        && about_artifact()
                } else {
                    self.subcomponents.is_empty()
                        && finding_purl
                            .as_ref()
                            .is_some_and(|have| same_package(&purl, have, &finding.version))
                }
            }
        })
    }
}

/// The formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VexFormat {
    OpenVex,
    CycloneDx,
    Csaf,
}

impl fmt::Display for VexFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VexFormat::OpenVex => "OpenVEX",
            VexFormat::CycloneDx => "CycloneDX",
            VexFormat::Csaf => "CSAF",
        })
    }
}

/// Why a VEX document was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VexError {
    #[error("VEX document is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("VEX document has more than {max} statements")]
    TooManyStatements { max: usize },
    // serde quotes offending values whole: a hostile document's could be huge.
    #[error("VEX document is not valid JSON of its format: {}", excerpt(&.0.to_string()))]
    Json(#[from] serde_json::Error),
    #[error("not a VEX document Bulwark reads (expected OpenVEX, CycloneDX 1.4+ or CSAF 2.0 JSON)")]
    UnknownFormat,
    #[error("{format} document: {reason}")]
    Invalid { format: VexFormat, reason: String },
}

/// Reads a VEX document of any supported format, recognised by its content: OpenVEX by
/// an `@context` naming openvex, CycloneDX by `bomFormat`, CSAF by
/// `document.csaf_version`.
pub fn parse_vex(bytes: &[u8]) -> Result<Vec<VexStatement>, VexError> {
    let value = read_json(bytes)?;
    let format = detect(&value).ok_or(VexError::UnknownFormat)?;
    parse_value(format, value)
}

/// Which format a VEX document is in, without reading its statements.
pub fn detect_vex(bytes: &[u8]) -> Result<VexFormat, VexError> {
    detect(&read_json(bytes)?).ok_or(VexError::UnknownFormat)
}

/// Reads a VEX document of a known format.
pub fn parse_vex_as(format: VexFormat, bytes: &[u8]) -> Result<Vec<VexStatement>, VexError> {
    parse_value(format, read_json(bytes)?)
}

fn parse_value(format: VexFormat, value: Value) -> Result<Vec<VexStatement>, VexError> {
    let mut statements = Statements::default();
    match format {
        VexFormat::OpenVex => openvex::parse(value, &mut statements)?,
        VexFormat::CycloneDx => cyclonedx::parse(value, &mut statements)?,
        VexFormat::Csaf => csaf::parse(value, &mut statements)?,
    }
    Ok(statements.into_inner())
}

fn read_json(bytes: &[u8]) -> Result<Value, VexError> {
    if bytes.len() > MAX_VEX_BYTES {
        return Err(VexError::TooLarge {
            size: bytes.len(),
            max: MAX_VEX_BYTES,
        });
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(bytes);
    Ok(serde_json::from_slice(bytes)?)
}

fn detect(value: &Value) -> Option<VexFormat> {
    let object = value.as_object()?;
    if object
        .get("@context")
        .and_then(Value::as_str)
        .is_some_and(|context| context.contains("openvex"))
    {
        return Some(VexFormat::OpenVex);
    }
    if object.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        return Some(VexFormat::CycloneDx);
    }
    if object
        .get("document")
        .and_then(|document| document.get("csaf_version"))
        .is_some()
    {
        return Some(VexFormat::Csaf);
    }
    None
}

/// The statements parsed so far, refusing the document once there are too many.
#[derive(Default)]
pub(crate) struct Statements(Vec<VexStatement>);

impl Statements {
    pub(crate) fn push(&mut self, statement: VexStatement) -> Result<(), VexError> {
        if self.0.len() >= MAX_VEX_STATEMENTS {
            return Err(VexError::TooManyStatements {
                max: MAX_VEX_STATEMENTS,
            });
        }
        self.0.push(statement);
        Ok(())
    }

    fn into_inner(self) -> Vec<VexStatement> {
        self.0
    }
}

/// An RFC 3339 timestamp as Unix ms.
pub(crate) fn timestamp(
    format: VexFormat,
    field: &str,
    text: Option<&str>,
) -> Result<Option<i64>, VexError> {
    text.map(|text| {
        text.trim()
            .parse::<jiff::Timestamp>()
            .map(|instant| instant.as_millisecond())
            .map_err(|_| VexError::Invalid {
                format,
                reason: format!("{field} {text:?} is not an RFC 3339 timestamp"),
            })
    })
    .transpose()
}

/// A product named by a purl (kept if it parses) or a `sha256:` digest.
pub(crate) fn product_from_identifier(text: &str) -> Option<Product> {
    let text = text.trim();
    if text.starts_with("pkg:") {
        return Purl::parse(text)
            .ok()
            .map(|_| Product::Purl(text.to_owned()));
    }
    let (algorithm, hex) = text.split_once(':')?;
    if !algorithm.eq_ignore_ascii_case("sha256") {
        return None;
    }
    sha256_product(hex)
}

/// A product named by the hex of its SHA-256.
pub(crate) fn sha256_product(hex: &str) -> Option<Product> {
    let hex = hex.trim();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| Product::Digest(format!("sha256:{}", hex.to_ascii_lowercase())))
}

/// "author (id)", either alone, or the format's name when neither is known.
pub(crate) fn source_label(author: Option<&str>, id: Option<&str>, format: VexFormat) -> String {
    fn present(text: Option<&str>) -> Option<&str> {
        text.map(str::trim).filter(|text| !text.is_empty())
    }
    match (present(author), present(id)) {
        (Some(author), Some(id)) => format!("{author} ({id})"),
        (Some(only), None) | (None, Some(only)) => only.to_owned(),
        (None, None) => format!("{format} document"),
    }
}

/// At most 200 characters of `text`, marked when cut.
fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(200).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ScanState, Severity};

    pub(crate) const IMAGE: &str =
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    pub(crate) fn facts() -> ArtifactFacts {
        ArtifactFacts {
            project: "team".to_owned(),
            repository: "team/app".to_owned(),
            digest: IMAGE.to_owned(),
            scan: ScanState::Done,
            findings: vec![],
            secrets: vec![],
            signatures: vec![],
            matched_at_ms: None,
        }
    }

    pub(crate) fn finding(id: &str, purl: &str) -> Finding {
        let parsed = Purl::parse(purl).unwrap();
        Finding {
            id: id.to_owned(),
            aliases: vec![],
            ecosystem: parsed.to_osv().map(|(e, _)| e).unwrap_or_default(),
            package: parsed.name().to_owned(),
            version: parsed.version().unwrap_or_default().to_owned(),
            purl: Some(purl.to_owned()),
            severity: Severity::High,
            fixed: vec![],
            fix_published_ms: None,
            malicious: false,
        }
    }

    fn statement(products: Vec<Product>, subcomponents: Vec<&str>) -> VexStatement {
        VexStatement {
            vulnerability: "CVE-2023-1234".to_owned(),
            aliases: vec![],
            products,
            subcomponents: subcomponents.into_iter().map(str::to_owned).collect(),
            status: VexStatus::Fixed,
            source: "test".to_owned(),
            timestamp_ms: None,
        }
    }

    #[test]
    fn the_image_product_covers_all_its_findings_or_only_listed_subcomponents() {
        let openssl = finding("CVE-2023-1234", "pkg:apk/alpine/openssl@3.1.0-r0");
        let curl = finding("CVE-2023-1234", "pkg:apk/alpine/curl@8.0.0-r0");
        let image = Product::Purl(format!("pkg:oci/app@{}", IMAGE.replace(':', "%3A")));
        let whole = statement(vec![image.clone()], vec![]);
        assert!(whole.applies_to(&facts(), &openssl));
        assert!(whole.applies_to(&facts(), &curl));
        let narrowed = statement(vec![image], vec!["pkg:apk/alpine/openssl"]);
        assert!(narrowed.applies_to(&facts(), &openssl));
        assert!(!narrowed.applies_to(&facts(), &curl));
        let by_digest = statement(vec![Product::Digest(IMAGE.to_owned())], vec![]);
        assert!(by_digest.applies_to(&facts(), &curl));
        let other_image = statement(
            vec![Product::Digest(format!("sha256:{}", "f".repeat(64)))],
            vec![],
        );
        assert!(!other_image.applies_to(&facts(), &curl));
        let undigested = statement(vec![Product::Purl("pkg:oci/app".to_owned())], vec![]);
        assert!(!undigested.applies_to(&facts(), &curl));
    }

    #[test]
    fn a_package_product_covers_that_package_and_version() {
        let f = finding("CVE-2023-1234", "pkg:npm/lodash@4.17.20");
        let any_version = statement(vec![Product::Purl("pkg:npm/lodash".to_owned())], vec![]);
        assert!(any_version.applies_to(&facts(), &f));
        let this_version = statement(
            vec![Product::Purl("pkg:npm/lodash@4.17.20".to_owned())],
            vec![],
        );
        assert!(this_version.applies_to(&facts(), &f));
        let other_version = statement(
            vec![Product::Purl("pkg:npm/lodash@4.17.21".to_owned())],
            vec![],
        );
        assert!(!other_version.applies_to(&facts(), &f));
        let with_subcomponents = statement(
            vec![Product::Purl("pkg:npm/my-app".to_owned())],
            vec!["pkg:npm/lodash"],
        );
        assert!(!with_subcomponents.applies_to(&facts(), &f));
        let other_vulnerability = VexStatement {
            vulnerability: "CVE-2023-9999".to_owned(),
            ..any_version.clone()
        };
        assert!(!other_vulnerability.applies_to(&facts(), &f));
        let by_alias = VexStatement {
            aliases: vec!["CVE-2023-1234".to_owned()],
            ..other_vulnerability
        };
        assert!(by_alias.applies_to(&facts(), &f));
    }

    #[test]
    fn detects_formats_and_refuses_others() {
        assert!(matches!(parse_vex(b"{}"), Err(VexError::UnknownFormat)));
        assert!(matches!(parse_vex(b"[1, 2]"), Err(VexError::UnknownFormat)));
        assert!(matches!(parse_vex(b"not json"), Err(VexError::Json(_))));
        // An error quotes no more than an excerpt of a hostile value.
        let huge = format!(
            r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{{"status": 1, "vulnerability": "{}"}}], "timestamp": ["{}"]}}"#,
            "A".repeat(100_000),
            "B".repeat(100_000)
        );
        let error = parse_vex(huge.as_bytes()).unwrap_err().to_string();
        assert!(error.len() < 1_000, "{}", error.len());
        let with_bom = b"\xEF\xBB\xBF{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"1.5\"}";
        assert!(parse_vex(with_bom).unwrap().is_empty());
    }

    #[test]
    fn refuses_documents_over_the_size_cap_unread() {
        let huge = vec![b' '; MAX_VEX_BYTES + 1];
        assert!(matches!(
            parse_vex(&huge),
            Err(VexError::TooLarge { size, .. }) if size == MAX_VEX_BYTES + 1
        ));
    }

    #[test]
    fn refuses_documents_with_too_many_statements() {
        let one = r#"{"vulnerability":{"name":"CVE-2023-1"},"products":[{"@id":"pkg:npm/a@1"}],"status":"fixed"}"#;
        let statements = vec![one; MAX_VEX_STATEMENTS + 1].join(",");
        let document = format!(
            r#"{{"@context":"https://openvex.dev/ns/v0.2.0","@id":"x","author":"a","timestamp":"2023-01-01T00:00:00Z","version":1,"statements":[{statements}]}}"#
        );
        assert!(matches!(
            parse_vex(document.as_bytes()),
            Err(VexError::TooManyStatements { .. })
        ));
    }

    #[test]
    fn identifiers_become_products_only_when_they_identify() {
        assert_eq!(
            product_from_identifier(" pkg:npm/a@1 "),
            Some(Product::Purl("pkg:npm/a@1".to_owned()))
        );
        assert_eq!(
            product_from_identifier(&IMAGE.to_ascii_uppercase().replace("SHA256", "sha256")),
            Some(Product::Digest(IMAGE.to_owned()))
        );
        assert_eq!(product_from_identifier("sha256:abc"), None);
        assert_eq!(product_from_identifier("https://example.com/product"), None);
        assert_eq!(product_from_identifier("CSAFPID-0001"), None);
    }

    #[test]
    fn timestamps_are_rfc3339_with_offsets() {
        assert_eq!(
            timestamp(
                VexFormat::OpenVex,
                "timestamp",
                Some("1970-01-01T00:00:01Z")
            )
            .unwrap(),
            Some(1_000)
        );
        assert_eq!(
            timestamp(
                VexFormat::OpenVex,
                "timestamp",
                Some("2023-01-08T18:02:03.647787998-06:00")
            )
            .unwrap(),
            Some(1_673_222_523_647)
        );
        assert!(timestamp(VexFormat::Csaf, "date", Some("yesterday")).is_err());
        assert_eq!(timestamp(VexFormat::Csaf, "date", None).unwrap(), None);
    }
}
