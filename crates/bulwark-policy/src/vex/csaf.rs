//! CSAF 2.0 VEX (docs.oasis-open.org/csaf/csaf/v2.0): products are declared once in the
//! `product_tree` and referred to by `product_id` from each vulnerability's
//! `product_status` lists.
//!
//! Products are identified through `product_identification_helper`: its `purl` (and the
//! `purls` list of CSAF 2.1) and SHA-256 `hashes`. Products are collected from
//! `full_product_names`, from `branches` at any depth, and from `relationships`: a
//! relationship's product "component X in product P" becomes a statement about P with X
//! as a subcomponent when P is identifiable, and a statement about package X otherwise
//! (a distribution's VEX names its products by CPE, and its packages by purl; the caller
//! chose to apply that document to this artifact). A relationship whose component has
//! no purl identifies nothing. Relationships are resolved one level deep.
//!
//! Status lists: `known_not_affected` is not affected, with the justification from the
//! `flags[].label` and the impact from `threats[category=impact].details` naming the
//! product (directly or through `product_groups`); `fixed` and `first_fixed` are fixed;
//! `known_affected`, `first_affected` and `last_affected` affected; `under_investigation`
//! under investigation. `recommended` says nothing about being affected and is skipped.
//! The vulnerability is its `cve`, else its first `ids[].text`; the other ids are aliases.
//! The statement time is `tracking.current_release_date`.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use super::{
    Product, Statements, VexError, VexFormat, VexStatement, VexStatus, product_from_identifier,
    sha256_product, source_label, timestamp,
};

const FORMAT: VexFormat = VexFormat::Csaf;

#[derive(Deserialize)]
struct Csaf {
    document: Document,
    #[serde(default)]
    product_tree: Option<ProductTree>,
    #[serde(default)]
    vulnerabilities: Vec<Vulnerability>,
}

#[derive(Deserialize)]
struct Document {
    csaf_version: String,
    publisher: Publisher,
    tracking: Tracking,
}

#[derive(Deserialize)]
struct Publisher {
    name: String,
}

#[derive(Deserialize)]
struct Tracking {
    id: String,
    #[serde(default)]
    current_release_date: Option<String>,
}

#[derive(Deserialize, Default)]
struct ProductTree {
    #[serde(default)]
    branches: Vec<Branch>,
    #[serde(default)]
    full_product_names: Vec<FullProductName>,
    #[serde(default)]
    relationships: Vec<Relationship>,
    #[serde(default)]
    product_groups: Vec<ProductGroup>,
}

#[derive(Deserialize)]
struct Branch {
    #[serde(default)]
    branches: Vec<Branch>,
    #[serde(default)]
    product: Option<FullProductName>,
}

#[derive(Deserialize)]
struct FullProductName {
    product_id: String,
    #[serde(default)]
    product_identification_helper: Option<Helper>,
}

#[derive(Deserialize)]
struct Helper {
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    purls: Vec<String>,
    #[serde(default)]
    hashes: Vec<HashGroup>,
}

#[derive(Deserialize)]
struct HashGroup {
    #[serde(default)]
    file_hashes: Vec<FileHash>,
}

#[derive(Deserialize)]
struct FileHash {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
struct Relationship {
    full_product_name: FullProductName,
    product_reference: String,
    relates_to_product_reference: String,
}

#[derive(Deserialize)]
struct ProductGroup {
    group_id: String,
    #[serde(default)]
    product_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Vulnerability {
    #[serde(default)]
    cve: Option<String>,
    #[serde(default)]
    ids: Vec<Id>,
    #[serde(default)]
    product_status: Option<ProductStatus>,
    #[serde(default)]
    flags: Vec<Flag>,
    #[serde(default)]
    threats: Vec<Threat>,
}

#[derive(Deserialize)]
struct Id {
    text: String,
}

#[derive(Deserialize)]
struct ProductStatus {
    #[serde(default)]
    known_not_affected: Vec<String>,
    #[serde(default)]
    fixed: Vec<String>,
    #[serde(default)]
    first_fixed: Vec<String>,
    #[serde(default)]
    known_affected: Vec<String>,
    #[serde(default)]
    first_affected: Vec<String>,
    #[serde(default)]
    last_affected: Vec<String>,
    #[serde(default)]
    under_investigation: Vec<String>,
}

#[derive(Deserialize)]
struct Flag {
    label: String,
    #[serde(default)]
    product_ids: Vec<String>,
    #[serde(default)]
    group_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Threat {
    category: String,
    details: String,
    #[serde(default)]
    product_ids: Vec<String>,
    #[serde(default)]
    group_ids: Vec<String>,
}

impl FullProductName {
    fn products(&self) -> Vec<Product> {
        let Some(helper) = &self.product_identification_helper else {
            return Vec::new();
        };
        let mut products: Vec<Product> = helper
            .purl
            .iter()
            .chain(&helper.purls)
            .filter_map(|purl| product_from_identifier(purl.as_str()))
            .chain(
                helper
                    .hashes
                    .iter()
                    .flat_map(|set| &set.file_hashes)
                    .filter(|hash| {
                        hash.algorithm.eq_ignore_ascii_case("sha256")
                            || hash.algorithm.eq_ignore_ascii_case("sha-256")
                    })
                    .filter_map(|hash| sha256_product(&hash.value)),
            )
            .collect();
        products.sort();
        products.dedup();
        products
    }
}

/// What a product id stands for.
#[derive(Clone, Default)]
struct Resolved {
    products: Vec<Product>,
    subcomponents: Vec<String>,
}

fn collect_branches<'a>(branches: &'a [Branch], names: &mut Vec<&'a FullProductName>) {
    for branch in branches {
        if let Some(product) = &branch.product {
            names.push(product);
        }
        collect_branches(&branch.branches, names);
    }
}

fn resolve_products(tree: &ProductTree) -> HashMap<&str, Resolved> {
    let mut names = Vec::new();
    collect_branches(&tree.branches, &mut names);
    names.extend(&tree.full_product_names);
    let mut base: HashMap<&str, Vec<Product>> = HashMap::new();
    for name in names {
        base.entry(name.product_id.as_str())
            .or_default()
            .extend(name.products());
    }
    let mut resolved: HashMap<&str, Resolved> = base
        .iter()
        .map(|(id, products)| {
            (
                *id,
                Resolved {
                    products: products.clone(),
                    subcomponents: Vec::new(),
                },
            )
        })
        .collect();
    for relationship in &tree.relationships {
        let component: Vec<String> = base
            .get(relationship.product_reference.as_str())
            .into_iter()
            .flatten()
            .filter_map(|product| match product {
                Product::Purl(purl) => Some(purl.clone()),
                Product::Digest(_) => None,
            })
            .collect();
        let parent = base
            .get(relationship.relates_to_product_reference.as_str())
            .cloned()
            .unwrap_or_default();
        let resolution = if component.is_empty() {
            Resolved::default()
        } else if parent.is_empty() {
            Resolved {
                products: component.into_iter().map(Product::Purl).collect(),
                subcomponents: Vec::new(),
            }
        } else {
            Resolved {
                products: parent,
                subcomponents: component,
            }
        };
        resolved.insert(
            relationship.full_product_name.product_id.as_str(),
            resolution,
        );
    }
    resolved
}

/// Which of the four statuses a `product_status` list means, in the order statements are
/// emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    NotAffected,
    Fixed,
    Affected,
    UnderInvestigation,
}

/// Statements of one vulnerability are grouped by what they say, so a document listing a
/// thousand products under one status yields one statement, not a thousand.
type GroupKey = (Kind, Option<String>, Option<String>, Vec<String>);

pub(super) fn parse(value: Value, out: &mut Statements) -> Result<(), VexError> {
    let csaf: Csaf = serde_json::from_value(value)?;
    if !csaf.document.csaf_version.starts_with("2.") {
        return Err(invalid(format!(
            "csaf_version {:?} is not supported (2.0 expected)",
            csaf.document.csaf_version
        )));
    }
    if csaf.vulnerabilities.len() > super::MAX_VEX_STATEMENTS {
        return Err(VexError::TooManyStatements {
            max: super::MAX_VEX_STATEMENTS,
        });
    }
    let source = source_label(
        Some(csaf.document.publisher.name.as_str()),
        Some(csaf.document.tracking.id.as_str()),
        FORMAT,
    );
    let timestamp_ms = timestamp(
        FORMAT,
        "tracking.current_release_date",
        csaf.document.tracking.current_release_date.as_deref(),
    )?;
    let tree = csaf.product_tree.unwrap_or_default();
    let resolved = resolve_products(&tree);
    let groups: HashMap<&str, &[String]> = tree
        .product_groups
        .iter()
        .map(|group| (group.group_id.as_str(), group.product_ids.as_slice()))
        .collect();
    let names_product = |product_ids: &[String], group_ids: &[String], product: &str| {
        product_ids.iter().any(|id| id == product)
            || group_ids.iter().any(|group| {
                groups
                    .get(group.as_str())
                    .is_some_and(|ids| ids.iter().any(|id| id == product))
            })
    };

    for vulnerability in &csaf.vulnerabilities {
        let mut ids = vulnerability
            .cve
            .iter()
            .chain(vulnerability.ids.iter().map(|id| &id.text))
            .map(|id| id.trim())
            .filter(|id| !id.is_empty());
        let Some(primary) = ids.next() else {
            continue;
        };
        let mut aliases: Vec<String> = ids.filter(|id| *id != primary).map(str::to_owned).collect();
        aliases.sort();
        aliases.dedup();
        let Some(status) = &vulnerability.product_status else {
            continue;
        };
        let lists: [(&[String], Kind); 7] = [
            (status.known_not_affected.as_slice(), Kind::NotAffected),
            (status.fixed.as_slice(), Kind::Fixed),
            (status.first_fixed.as_slice(), Kind::Fixed),
            (status.known_affected.as_slice(), Kind::Affected),
            (status.first_affected.as_slice(), Kind::Affected),
            (status.last_affected.as_slice(), Kind::Affected),
            (
                status.under_investigation.as_slice(),
                Kind::UnderInvestigation,
            ),
        ];
        let mut grouped: BTreeMap<GroupKey, Vec<Product>> = BTreeMap::new();
        for (product_ids, kind) in lists {
            for product_id in product_ids {
                let Some(resolution) = resolved.get(product_id.as_str()) else {
                    continue;
                };
                if resolution.products.is_empty() {
                    continue;
                }
                let (justification, impact) = if kind == Kind::NotAffected {
                    (
                        vulnerability
                            .flags
                            .iter()
                            .find(|flag| {
                                names_product(
                                    flag.product_ids.as_slice(),
                                    flag.group_ids.as_slice(),
                                    product_id.as_str(),
                                )
                            })
                            .map(|flag| flag.label.clone()),
                        vulnerability
                            .threats
                            .iter()
                            .filter(|threat| threat.category == "impact")
                            .find(|threat| {
                                names_product(
                                    threat.product_ids.as_slice(),
                                    threat.group_ids.as_slice(),
                                    product_id.as_str(),
                                )
                            })
                            .map(|threat| threat.details.clone()),
                    )
                } else {
                    (None, None)
                };
                grouped
                    .entry((
                        kind,
                        justification,
                        impact,
                        resolution.subcomponents.clone(),
                    ))
                    .or_default()
                    .extend(resolution.products.iter().cloned());
            }
        }
        for ((kind, justification, impact, subcomponents), mut products) in grouped {
            products.sort();
            products.dedup();
            let status = match kind {
                Kind::NotAffected => VexStatus::NotAffected {
                    justification,
                    impact,
                },
                Kind::Fixed => VexStatus::Fixed,
                Kind::Affected => VexStatus::Affected,
                Kind::UnderInvestigation => VexStatus::UnderInvestigation,
            };
            out.push(VexStatement {
                vulnerability: primary.to_owned(),
                aliases: aliases.clone(),
                products,
                subcomponents,
                status,
                source: source.clone(),
                timestamp_ms,
            })?;
        }
    }
    Ok(())
}

fn invalid(reason: String) -> VexError {
    VexError::Invalid {
        format: FORMAT,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use crate::vex::tests::{IMAGE, facts, finding};
    use crate::vex::{Product, VexStatus, parse_vex};

    /// Modelled on the OASIS csaf_vex examples (2022-evd-uc-01-na-001 and uc-03), with
    /// purls added, a relationship and a product group.
    fn document() -> String {
        let image = IMAGE.replace(':', "%3A");
        format!(
            r#"{{
  "document": {{
    "category": "csaf_vex",
    "csaf_version": "2.0",
    "publisher": {{
      "category": "vendor",
      "name": "Example Company ProductCERT",
      "namespace": "https://psirt.example.com"
    }},
    "title": "Example VEX Document Use Case 3 - Multiple statuses",
    "tracking": {{
      "current_release_date": "2022-03-03T11:00:00.000Z",
      "id": "2022-EVD-UC-03-MS-001",
      "initial_release_date": "2022-03-03T11:00:00.000Z",
      "revision_history": [{{ "date": "2022-03-03T11:00:00.000Z", "number": "1", "summary": "Initial version." }}],
      "status": "final",
      "version": "1"
    }}
  }},
  "product_tree": {{
    "branches": [
      {{
        "category": "vendor",
        "name": "Example Company",
        "branches": [
          {{
            "category": "product_name",
            "name": "GHI",
            "branches": [
              {{
                "category": "product_version",
                "name": "17.4",
                "product": {{
                  "name": "Example Company GHI 17.4",
                  "product_id": "CSAFPID-0001",
                  "product_identification_helper": {{ "purl": "pkg:oci/ghi@{image}" }}
                }}
              }}
            ]
          }}
        ]
      }}
    ],
    "full_product_names": [
      {{
        "name": "openssl 3.0.7",
        "product_id": "CSAFPID-0002",
        "product_identification_helper": {{ "purl": "pkg:rpm/redhat/openssl@3.0.7" }}
      }},
      {{ "name": "RHEL 9", "product_id": "CSAFPID-0004" }}
    ],
    "relationships": [
      {{
        "category": "default_component_of",
        "full_product_name": {{ "name": "openssl in GHI", "product_id": "CSAFPID-0003" }},
        "product_reference": "CSAFPID-0002",
        "relates_to_product_reference": "CSAFPID-0001"
      }},
      {{
        "category": "default_component_of",
        "full_product_name": {{ "name": "openssl in RHEL 9", "product_id": "CSAFPID-0005" }},
        "product_reference": "CSAFPID-0002",
        "relates_to_product_reference": "CSAFPID-0004"
      }}
    ],
    "product_groups": [{{ "group_id": "CSAFGID-1", "product_ids": ["CSAFPID-0003"] }}]
  }},
  "vulnerabilities": [
    {{
      "cve": "CVE-2020-11897",
      "ids": [{{ "system_name": "Example Tracker", "text": "EX-2020-001" }}],
      "product_status": {{ "known_not_affected": ["CSAFPID-0001", "CSAFPID-0003"] }},
      "flags": [{{ "label": "vulnerable_code_not_present", "group_ids": ["CSAFGID-1"] }}],
      "threats": [
        {{ "category": "impact", "details": "IPv6 is not supported and code is not present.", "product_ids": ["CSAFPID-0001"] }}
      ]
    }},
    {{
      "cve": "CVE-2020-11898",
      "product_status": {{ "known_affected": ["CSAFPID-0001"], "fixed": ["CSAFPID-0005"], "under_investigation": ["CSAFPID-0004"] }}
    }},
    {{
      "notes": [{{ "category": "description", "text": "no identifier" }}],
      "product_status": {{ "fixed": ["CSAFPID-0001"] }}
    }}
  ]
}}"#
        )
    }

    #[test]
    fn reads_product_tree_statuses_flags_and_threats() {
        let statements = parse_vex(document().as_bytes()).unwrap();
        let image = Product::Purl(format!("pkg:oci/ghi@{}", IMAGE.replace(':', "%3A")));
        assert_eq!(statements.len(), 4, "{statements:#?}");

        // CVE-2020-11897, not affected: the image as a whole (impact from the threat) …
        let whole = &statements[0];
        assert_eq!(whole.vulnerability, "CVE-2020-11897");
        assert_eq!(whole.aliases, vec!["EX-2020-001"]);
        assert_eq!(whole.products, vec![image.clone()]);
        assert!(whole.subcomponents.is_empty());
        assert_eq!(
            whole.status,
            VexStatus::NotAffected {
                justification: None,
                impact: Some("IPv6 is not supported and code is not present.".to_owned()),
            }
        );
        assert_eq!(
            whole.source,
            "Example Company ProductCERT (2022-EVD-UC-03-MS-001)"
        );
        assert_eq!(whole.timestamp_ms, Some(1_646_305_200_000));

        // … and openssl inside it (justification from the group's flag).
        let inside = &statements[1];
        assert_eq!(inside.products, vec![image.clone()]);
        assert_eq!(inside.subcomponents, vec!["pkg:rpm/redhat/openssl@3.0.7"]);
        assert_eq!(
            inside.status,
            VexStatus::NotAffected {
                justification: Some("vulnerable_code_not_present".to_owned()),
                impact: None,
            }
        );

        // CVE-2020-11898: fixed for the openssl package (its parent has no purl), affected
        // for the image; the unidentifiable RHEL product is dropped.
        assert_eq!(statements[2].status, VexStatus::Fixed);
        assert_eq!(
            statements[2].products,
            vec![Product::Purl("pkg:rpm/redhat/openssl@3.0.7".to_owned())]
        );
        assert_eq!(statements[3].status, VexStatus::Affected);
        assert_eq!(statements[3].products, vec![image]);
    }

    #[test]
    fn a_relationship_statement_applies_to_the_component_in_the_product() {
        let statements = parse_vex(document().as_bytes()).unwrap();
        let openssl = finding("CVE-2020-11897", "pkg:rpm/redhat/openssl@3.0.7");
        let zlib = finding("CVE-2020-11897", "pkg:rpm/redhat/zlib@1.2.11");
        assert!(statements[1].applies_to(&facts(), &openssl));
        assert!(!statements[1].applies_to(&facts(), &zlib));
        assert!(statements[0].applies_to(&facts(), &zlib), "whole image");
    }

    #[test]
    fn refuses_other_csaf_versions() {
        let old = r#"{"document": {"csaf_version": "1.2", "publisher": {"name": "x"},
            "tracking": {"id": "y"}}}"#;
        let error = parse_vex(old.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("1.2"), "{error}");
    }
}
