//! OpenVEX (github.com/openvex/spec, v0.2.0): `statements[]`, each with a `vulnerability`
//! (`name`, `aliases`), `products[]` (`@id`, `identifiers.purl`, `hashes["sha-256"]`,
//! `subcomponents[]`), a `status`, and for `not_affected` a `justification` or an
//! `impact_statement`. v0.0.x documents, where the vulnerability and products are plain
//! strings, are read too.
//!
//! A statement's time is its `last_updated`, else its `timestamp`, else the document's
//! (the spec's inheritance: statements without a timestamp take the document's).
//! Subcomponents belong to one product, so a statement listing products with different
//! subcomponents becomes one [`VexStatement`] per such product.

use serde::Deserialize;
use serde_json::Value;

use super::{
    Product, Statements, VexError, VexFormat, VexStatement, VexStatus, product_from_identifier,
    sha256_product, source_label, timestamp,
};

const FORMAT: VexFormat = VexFormat::OpenVex;

#[derive(Deserialize)]
struct Document {
    #[serde(rename = "@id", default)]
    id: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    last_updated: Option<String>,
    #[serde(default)]
    statements: Vec<Statement>,
}

#[derive(Deserialize)]
struct Statement {
    vulnerability: VulnerabilityField,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    last_updated: Option<String>,
    #[serde(default)]
    products: Vec<ComponentField>,
    /// OpenVEX v0.0.x: subcomponents of the statement, for every one of its products.
    #[serde(default)]
    subcomponents: Vec<ComponentField>,
    status: String,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    impact_statement: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum VulnerabilityField {
    Name(String),
    Object {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        aliases: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ComponentField {
    Id(String),
    Component(Component),
}

#[derive(Deserialize)]
struct Component {
    #[serde(rename = "@id", default)]
    id: Option<String>,
    #[serde(default)]
    identifiers: Option<Identifiers>,
    #[serde(default)]
    hashes: Option<Hashes>,
    #[serde(default)]
    subcomponents: Vec<ComponentField>,
}

#[derive(Deserialize)]
struct Identifiers {
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct Hashes {
    #[serde(rename = "sha-256", default)]
    sha256: Option<String>,
}

impl ComponentField {
    /// Every identity of the component this model can match.
    fn products(&self) -> Vec<Product> {
        match self {
            ComponentField::Id(id) => product_from_identifier(id).into_iter().collect(),
            ComponentField::Component(component) => {
                let mut products: Vec<Product> = component
                    .id
                    .as_deref()
                    .and_then(product_from_identifier)
                    .into_iter()
                    .chain(
                        component
                            .identifiers
                            .as_ref()
                            .and_then(|identifiers| identifiers.purl.as_deref())
                            .and_then(product_from_identifier),
                    )
                    .chain(
                        component
                            .hashes
                            .as_ref()
                            .and_then(|hashes| hashes.sha256.as_deref())
                            .and_then(sha256_product),
                    )
                    .collect();
                products.sort();
                products.dedup();
                products
            }
        }
    }

    /// The subcomponents this product entry declares (whether or not they can be named).
    fn declared_subcomponents(&self) -> &[ComponentField] {
        match self {
            ComponentField::Component(component) => &component.subcomponents,
            ComponentField::Id(_) => &[],
        }
    }
}

/// The package URLs among `subcomponents`.
fn subcomponent_purls(subcomponents: &[&ComponentField]) -> Vec<String> {
    let mut purls: Vec<String> = subcomponents
        .iter()
        .flat_map(|s| s.products())
        .filter_map(|product| match product {
            Product::Purl(purl) => Some(purl),
            Product::Digest(_) => None,
        })
        .collect();
    purls.sort();
    purls.dedup();
    purls
}

pub(super) fn parse(value: Value, out: &mut Statements) -> Result<(), VexError> {
    let document: Document = serde_json::from_value(value)?;
    if document.statements.len() > super::MAX_VEX_STATEMENTS {
        return Err(VexError::TooManyStatements {
            max: super::MAX_VEX_STATEMENTS,
        });
    }
    let source = source_label(document.author.as_deref(), document.id.as_deref(), FORMAT);
    let document_time = match timestamp(FORMAT, "last_updated", document.last_updated.as_deref())? {
        Some(time) => Some(time),
        None => timestamp(FORMAT, "timestamp", document.timestamp.as_deref())?,
    };
    for statement in document.statements {
        let (vulnerability, aliases) = match statement.vulnerability {
            VulnerabilityField::Name(name) => (name, Vec::new()),
            VulnerabilityField::Object { name, aliases } => match name {
                Some(name) => (name, aliases),
                None => return Err(invalid("a statement's vulnerability has no name")),
            },
        };
        let vulnerability = vulnerability.trim().to_owned();
        if vulnerability.is_empty() {
            return Err(invalid("a statement's vulnerability name is empty"));
        }
        let status = match statement.status.as_str() {
            "not_affected" => VexStatus::NotAffected {
                justification: statement.justification,
                impact: statement.impact_statement,
            },
            "affected" => VexStatus::Affected,
            "fixed" => VexStatus::Fixed,
            "under_investigation" => VexStatus::UnderInvestigation,
            other => {
                return Err(invalid(&format!(
                    "statement for {vulnerability}: unknown status {other:?}"
                )));
            }
        };
        let statement_time =
            match timestamp(FORMAT, "last_updated", statement.last_updated.as_deref())? {
                Some(time) => Some(time),
                None => timestamp(FORMAT, "timestamp", statement.timestamp.as_deref())?,
            };
        let timestamp_ms = statement_time.or(document_time);
        let make = |products: Vec<Product>, subcomponents: Vec<String>| VexStatement {
            vulnerability: vulnerability.clone(),
            aliases: aliases.clone(),
            products,
            subcomponents,
            status: status.clone(),
            source: source.clone(),
            timestamp_ms,
        };
        // Products without subcomponents share one statement; each product with
        // subcomponents gets its own, so the pairing survives.
        let mut whole: Vec<Product> = Vec::new();
        for product in &statement.products {
            let products = product.products();
            if products.is_empty() {
                continue;
            }
            let declared: Vec<&ComponentField> = product
                .declared_subcomponents()
                .iter()
                .chain(&statement.subcomponents)
                .collect();
            let subcomponents = subcomponent_purls(&declared);
            if declared.is_empty() {
                whole.extend(products);
            } else if subcomponents.is_empty() {
                // Subcomponents this model cannot name (a CPE, a bare hash) narrow the
                // statement to something it cannot match: it applies to nothing, rather
                // than to the whole product.
                continue;
            } else {
                out.push(make(products, subcomponents))?;
            }
        }
        if !whole.is_empty() {
            whole.sort();
            whole.dedup();
            out.push(make(whole, Vec::new()))?;
        }
    }
    Ok(())
}

fn invalid(reason: &str) -> VexError {
    VexError::Invalid {
        format: FORMAT,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use crate::vex::tests::{IMAGE, facts, finding};
    use crate::vex::{Product, VexStatus, parse_vex};

    /// Modelled on the spec's examples: an image not affected through one of its
    /// packages, a package fixed, and a v0.0.x-style string statement.
    fn document() -> String {
        let image = IMAGE;
        let hex = &IMAGE[7..];
        format!(
            r#"{{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://openvex.dev/docs/example/vex-9fb3463de1b57",
  "author": "Wolfi J Inkinson",
  "role": "Document Creator",
  "timestamp": "2023-01-08T18:02:03.647787998-06:00",
  "version": 1,
  "statements": [
    {{
      "vulnerability": {{
        "@id": "https://nvd.nist.gov/vuln/detail/CVE-2023-12345",
        "name": "CVE-2023-12345",
        "aliases": ["GHSA-abcd-efgh-ijkl"]
      }},
      "products": [
        {{
          "@id": "pkg:oci/app@{image}?repository_url=registry.example.com/team/app",
          "subcomponents": [
            {{ "@id": "pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64" }}
          ]
        }}
      ],
      "status": "not_affected",
      "justification": "vulnerable_code_not_in_execute_path",
      "impact_statement": "git is only used at build time"
    }},
    {{
      "vulnerability": {{ "name": "CVE-2023-2222" }},
      "timestamp": "2023-02-01T00:00:00Z",
      "products": [
        {{ "@id": "https://example.com/no-purl" }},
        {{ "identifiers": {{ "purl": "pkg:npm/lodash@4.17.20" }} }},
        {{ "hashes": {{ "sha-256": "{hex}" }} }}
      ],
      "status": "fixed"
    }},
    {{
      "vulnerability": "CVE-2023-3333",
      "products": ["pkg:pypi/django"],
      "status": "under_investigation"
    }},
    {{
      "vulnerability": {{ "name": "CVE-2023-4444" }},
      "products": [{{ "@id": "https://example.com/unidentifiable" }}],
      "status": "affected",
      "action_statement": "upgrade"
    }}
  ]
}}"#
        )
    }

    /// A statement narrowed to subcomponents it cannot name applies to nothing; v0.0.x
    /// statement-level subcomponents narrow every product of the statement.
    #[test]
    fn subcomponents_narrow_and_never_widen() {
        let document = format!(
            r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a",
                "timestamp": "2023-01-08T18:02:03Z", "version": 1, "statements": [
                {{"vulnerability": {{"name": "CVE-1"}}, "status": "not_affected",
                  "justification": "component_not_present",
                  "products": [{{"@id": "pkg:oci/app@{IMAGE}",
                                 "subcomponents": [{{"@id": "cpe:2.3:a:openssl:openssl:3.0:*:*:*:*:*:*:*"}}]}}]}},
                {{"vulnerability": "CVE-2", "status": "not_affected",
                  "justification": "component_not_present",
                  "products": ["pkg:oci/app@{IMAGE}"],
                  "subcomponents": ["pkg:apk/alpine/openssl"]}}]}}"#
        );
        let statements = parse_vex(document.as_bytes()).unwrap();
        let facts = facts();
        let openssl = finding("CVE-1", "pkg:apk/alpine/openssl@3.0.0-r0");
        let zlib = finding("CVE-2", "pkg:apk/alpine/zlib@1.3-r0");
        let openssl2 = finding("CVE-2", "pkg:apk/alpine/openssl@3.0.0-r0");
        assert!(!statements.iter().any(|s| s.applies_to(&facts, &openssl)));
        assert!(!statements.iter().any(|s| s.applies_to(&facts, &zlib)));
        assert!(statements.iter().any(|s| s.applies_to(&facts, &openssl2)));
    }

    #[test]
    fn reads_statements_products_and_subcomponents() {
        let statements = parse_vex(document().as_bytes()).unwrap();
        assert_eq!(statements.len(), 3, "the unidentifiable product is dropped");

        let image = &statements[0];
        assert_eq!(image.vulnerability, "CVE-2023-12345");
        assert_eq!(image.aliases, vec!["GHSA-abcd-efgh-ijkl"]);
        assert_eq!(
            image.subcomponents,
            vec!["pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64"]
        );
        assert_eq!(
            image.status,
            VexStatus::NotAffected {
                justification: Some("vulnerable_code_not_in_execute_path".to_owned()),
                impact: Some("git is only used at build time".to_owned()),
            }
        );
        assert_eq!(
            image.source,
            "Wolfi J Inkinson (https://openvex.dev/docs/example/vex-9fb3463de1b57)"
        );
        assert_eq!(image.timestamp_ms, Some(1_673_222_523_647), "inherited");

        let fixed = &statements[1];
        assert_eq!(fixed.status, VexStatus::Fixed);
        assert_eq!(fixed.timestamp_ms, Some(1_675_209_600_000));
        assert_eq!(
            fixed.products,
            vec![
                Product::Purl("pkg:npm/lodash@4.17.20".to_owned()),
                Product::Digest(IMAGE.to_owned()),
            ]
        );

        assert_eq!(statements[2].vulnerability, "CVE-2023-3333");
        assert_eq!(statements[2].status, VexStatus::UnderInvestigation);
    }

    #[test]
    fn the_image_statement_applies_to_the_listed_package_in_that_image() {
        let statements = parse_vex(document().as_bytes()).unwrap();
        let git = finding("GHSA-abcd-efgh-ijkl", "pkg:apk/wolfi/git@2.39.0-r1");
        let curl = finding("CVE-2023-12345", "pkg:apk/wolfi/curl@8.0.0-r0");
        assert!(statements[0].applies_to(&facts(), &git));
        assert!(!statements[0].applies_to(&facts(), &curl));
        let elsewhere = crate::facts::ArtifactFacts {
            digest: format!("sha256:{}", "e".repeat(64)),
            ..facts()
        };
        assert!(!statements[0].applies_to(&elsewhere, &git));
    }

    #[test]
    fn refuses_unknown_statuses_and_nameless_vulnerabilities() {
        let bad_status = r#"{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [
            {"vulnerability": {"name": "CVE-1"}, "products": ["pkg:npm/a"], "status": "maybe"}]}"#;
        let error = parse_vex(bad_status.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("maybe"), "{error}");
        let nameless = r#"{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [
            {"vulnerability": {"aliases": ["CVE-1"]}, "products": ["pkg:npm/a"], "status": "fixed"}]}"#;
        assert!(parse_vex(nameless.as_bytes()).is_err());
        let bad_time = r#"{"@context": "https://openvex.dev/ns/v0.2.0", "timestamp": "soon",
            "statements": []}"#;
        assert!(parse_vex(bad_time.as_bytes()).is_err());
    }
}
