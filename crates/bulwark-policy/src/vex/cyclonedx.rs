//! CycloneDX VEX (JSON, specVersion 1.4 and later): each `vulnerabilities[]` entry with an
//! `analysis.state` is one statement about the components its `affects[].ref` name.
//!
//! A ref is resolved, in order: a BOM-Link (`urn:cdx:<serial>/<version>#<bom-ref>`) is
//! reduced to its `bom-ref`; a `bom-ref` of a component in this document (`components`,
//! nested `components`, `metadata.component`) is that component's purl and SHA-256
//! hashes; otherwise a ref that is itself a purl or a `sha256:` digest is used as is.
//! BOM-Links usually point into the SBOM the VEX accompanies, whose `bom-ref`s are purls
//! in practice, which is why the last step exists.
//!
//! States: `not_affected` and `false_positive` are not affected (the `justification` and
//! `detail` are kept); `resolved` and `resolved_with_pedigree` are fixed; `exploitable` is
//! affected; `in_triage` under investigation. An entry without an analysis is an SBOM
//! finding, not a VEX statement, and is skipped. `affects[].versions` is not read: the
//! ref names the component version already.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::{
    Product, Statements, VexError, VexFormat, VexStatement, VexStatus, product_from_identifier,
    sha256_product, source_label, timestamp,
};

const FORMAT: VexFormat = VexFormat::CycloneDx;

#[derive(Deserialize)]
struct Bom {
    #[serde(rename = "specVersion", default)]
    spec_version: Option<String>,
    #[serde(rename = "serialNumber", default)]
    serial_number: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    components: Vec<Component>,
    #[serde(default)]
    vulnerabilities: Vec<Vulnerability>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    component: Option<Component>,
    #[serde(default)]
    supplier: Option<Organization>,
}

#[derive(Deserialize)]
struct Organization {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Component {
    #[serde(rename = "bom-ref", default)]
    bom_ref: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    hashes: Vec<Hash>,
    #[serde(default)]
    components: Vec<Component>,
}

#[derive(Deserialize)]
struct Hash {
    alg: String,
    content: String,
}

#[derive(Deserialize)]
struct Vulnerability {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    references: Vec<Reference>,
    #[serde(default)]
    analysis: Option<Analysis>,
    #[serde(default)]
    affects: Vec<Affect>,
    #[serde(default)]
    updated: Option<String>,
}

#[derive(Deserialize)]
struct Reference {
    id: String,
}

#[derive(Deserialize)]
struct Analysis {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(rename = "firstIssued", default)]
    first_issued: Option<String>,
    #[serde(rename = "lastUpdated", default)]
    last_updated: Option<String>,
}

#[derive(Deserialize)]
struct Affect {
    #[serde(rename = "ref")]
    reference: String,
}

impl Component {
    fn products(&self) -> Vec<Product> {
        let mut products: Vec<Product> = self
            .purl
            .as_deref()
            .and_then(product_from_identifier)
            .into_iter()
            .chain(
                self.hashes
                    .iter()
                    .filter(|hash| hash.alg.eq_ignore_ascii_case("SHA-256"))
                    .filter_map(|hash| sha256_product(&hash.content)),
            )
            .collect();
        products.sort();
        products.dedup();
        products
    }
}

fn index_components<'a>(components: &'a [Component], index: &mut HashMap<&'a str, &'a Component>) {
    for component in components {
        if let Some(bom_ref) = component.bom_ref.as_deref() {
            index.insert(bom_ref, component);
        }
        index_components(&component.components, index);
    }
}

fn resolve(reference: &str, index: &HashMap<&str, &Component>) -> Vec<Product> {
    let reference = reference.trim();
    let bom_ref = match reference.strip_prefix("urn:cdx:") {
        // A BOM-Link without a fragment names a whole BOM, not a component.
        Some(link) => match link.split_once('#') {
            Some((_, bom_ref)) => bom_ref,
            None => return Vec::new(),
        },
        None => reference,
    };
    match index.get(bom_ref) {
        Some(component) => component.products(),
        None => product_from_identifier(bom_ref).into_iter().collect(),
    }
}

pub(super) fn parse(value: Value, out: &mut Statements) -> Result<(), VexError> {
    let bom: Bom = serde_json::from_value(value)?;
    let spec_version = bom.spec_version.as_deref().unwrap_or_default();
    let minor = spec_version
        .strip_prefix("1.")
        .and_then(|minor| minor.parse::<u32>().ok());
    match minor {
        Some(minor) if minor >= 4 => {}
        _ => {
            return Err(invalid(format!(
                "specVersion {spec_version:?} has no vulnerabilities (1.4 or later expected)"
            )));
        }
    }
    if bom.vulnerabilities.len() > super::MAX_VEX_STATEMENTS {
        return Err(VexError::TooManyStatements {
            max: super::MAX_VEX_STATEMENTS,
        });
    }
    let mut index = HashMap::new();
    if let Some(component) = bom.metadata.as_ref().and_then(|m| m.component.as_ref()) {
        index_components(std::slice::from_ref(component), &mut index);
    }
    index_components(&bom.components, &mut index);
    let supplier = bom
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.supplier.as_ref())
        .and_then(|supplier| supplier.name.as_deref());
    let source = source_label(supplier, bom.serial_number.as_deref(), FORMAT);
    let document_time = timestamp(
        FORMAT,
        "metadata.timestamp",
        bom.metadata
            .as_ref()
            .and_then(|metadata| metadata.timestamp.as_deref()),
    )?;

    for vulnerability in &bom.vulnerabilities {
        let Some(analysis) = &vulnerability.analysis else {
            continue;
        };
        let Some(state) = analysis.state.as_deref() else {
            continue;
        };
        let id = vulnerability
            .id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| invalid("a vulnerability with an analysis has no id".to_owned()))?;
        let status = match state {
            "not_affected" => VexStatus::NotAffected {
                justification: analysis.justification.clone(),
                impact: analysis.detail.clone(),
            },
            "false_positive" => VexStatus::NotAffected {
                justification: Some(
                    analysis
                        .justification
                        .clone()
                        .unwrap_or_else(|| "false_positive".to_owned()),
                ),
                impact: analysis.detail.clone(),
            },
            "resolved" | "resolved_with_pedigree" => VexStatus::Fixed,
            "exploitable" => VexStatus::Affected,
            "in_triage" => VexStatus::UnderInvestigation,
            other => {
                return Err(invalid(format!(
                    "vulnerability {id}: unknown analysis state {other:?}"
                )));
            }
        };
        let mut products: Vec<Product> = vulnerability
            .affects
            .iter()
            .flat_map(|affect| resolve(&affect.reference, &index))
            .collect();
        products.sort();
        products.dedup();
        if products.is_empty() {
            continue;
        }
        let mut aliases: Vec<String> = vulnerability
            .references
            .iter()
            .map(|reference| reference.id.trim().to_owned())
            .filter(|alias| !alias.is_empty() && alias != id)
            .collect();
        aliases.sort();
        aliases.dedup();
        let mut timestamp_ms = None;
        for (field, text) in [
            ("analysis.lastUpdated", analysis.last_updated.as_deref()),
            ("analysis.firstIssued", analysis.first_issued.as_deref()),
            ("updated", vulnerability.updated.as_deref()),
        ] {
            if let Some(time) = timestamp(FORMAT, field, text)? {
                timestamp_ms = Some(time);
                break;
            }
        }
        out.push(VexStatement {
            vulnerability: id.to_owned(),
            aliases,
            products,
            subcomponents: Vec::new(),
            status,
            source: source.clone(),
            timestamp_ms: timestamp_ms.or(document_time),
        })?;
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

    /// Modelled on CycloneDX's bom-examples VEX documents: a BOM-Link into the SBOM, a
    /// local bom-ref, the container itself, and a vulnerability still in triage.
    fn document() -> String {
        let hex = &IMAGE[7..];
        format!(
            r#"{{
  "bomFormat": "CycloneDX",
  "specVersion": "1.5",
  "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
  "version": 1,
  "metadata": {{
    "timestamp": "2024-01-01T00:00:00Z",
    "supplier": {{ "name": "Acme Inc" }},
    "component": {{
      "type": "container",
      "name": "app",
      "bom-ref": "image",
      "hashes": [{{ "alg": "SHA-256", "content": "{hex}" }}]
    }}
  }},
  "components": [
    {{
      "type": "library",
      "bom-ref": "lib-jackson",
      "name": "jackson-databind",
      "purl": "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=jar",
      "components": [
        {{ "type": "library", "bom-ref": "nested", "purl": "pkg:maven/org.yaml/snakeyaml@1.26" }}
      ]
    }}
  ],
  "vulnerabilities": [
    {{
      "id": "CVE-2020-25649",
      "source": {{ "name": "NVD", "url": "https://nvd.nist.gov/vuln/detail/CVE-2020-25649" }},
      "references": [{{ "id": "GHSA-288c-cq4h-88gq", "source": {{ "name": "GitHub" }} }}],
      "ratings": [{{ "score": 7.5, "severity": "high", "method": "CVSSv31" }}],
      "analysis": {{
        "state": "not_affected",
        "justification": "code_not_reachable",
        "response": ["will_not_fix", "update"],
        "detail": "Automated dataflow analysis and manual code review indicates that the vulnerable code is not reachable, either directly or indirectly.",
        "lastUpdated": "2024-02-01T00:00:00Z"
      }},
      "affects": [
        {{ "ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=jar" }}
      ]
    }},
    {{
      "id": "CVE-2022-1471",
      "analysis": {{ "state": "resolved" }},
      "affects": [{{ "ref": "nested" }}, {{ "ref": "image" }}]
    }},
    {{
      "id": "CVE-2021-44228",
      "analysis": {{ "state": "in_triage" }},
      "affects": [{{ "ref": "lib-jackson" }}]
    }},
    {{
      "id": "CVE-2021-45046",
      "analysis": {{ "state": "false_positive" }},
      "affects": [{{ "ref": "unknown-ref" }}]
    }},
    {{
      "id": "CVE-2023-0001",
      "ratings": [{{ "severity": "low" }}],
      "affects": [{{ "ref": "lib-jackson" }}]
    }}
  ]
}}"#
        )
    }

    #[test]
    fn reads_analysis_states_and_resolves_refs() {
        let statements = parse_vex(document().as_bytes()).unwrap();
        assert_eq!(
            statements.len(),
            3,
            "unresolvable and analysis-less entries are skipped"
        );

        let jackson = &statements[0];
        assert_eq!(jackson.vulnerability, "CVE-2020-25649");
        assert_eq!(jackson.aliases, vec!["GHSA-288c-cq4h-88gq"]);
        assert_eq!(
            jackson.products,
            vec![Product::Purl(
                "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=jar".to_owned()
            )]
        );
        assert!(matches!(
            &jackson.status,
            VexStatus::NotAffected { justification: Some(j), impact: Some(_) } if j == "code_not_reachable"
        ));
        assert_eq!(
            jackson.source,
            "Acme Inc (urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79)"
        );
        assert_eq!(jackson.timestamp_ms, Some(1_706_745_600_000));

        let resolved = &statements[1];
        assert_eq!(resolved.status, VexStatus::Fixed);
        assert_eq!(
            resolved.products,
            vec![
                Product::Purl("pkg:maven/org.yaml/snakeyaml@1.26".to_owned()),
                Product::Digest(IMAGE.to_owned()),
            ]
        );
        assert_eq!(
            resolved.timestamp_ms,
            Some(1_704_067_200_000),
            "from metadata"
        );

        assert_eq!(statements[2].status, VexStatus::UnderInvestigation);
    }

    #[test]
    fn a_bom_link_statement_applies_to_the_named_package() {
        let statements = parse_vex(document().as_bytes()).unwrap();
        let jackson = finding(
            "CVE-2020-25649",
            "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0",
        );
        assert!(statements[0].applies_to(&facts(), &jackson));
        let newer = finding(
            "CVE-2020-25649",
            "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.12.0",
        );
        assert!(!statements[0].applies_to(&facts(), &newer));
    }

    #[test]
    fn refuses_old_spec_versions_and_unknown_states() {
        let old = r#"{"bomFormat": "CycloneDX", "specVersion": "1.3", "components": []}"#;
        let error = parse_vex(old.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("1.4"), "{error}");
        let unknown = r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "vulnerabilities": [
            {"id": "CVE-1", "analysis": {"state": "wontfix"}, "affects": [{"ref": "pkg:npm/a"}]}]}"#;
        let error = parse_vex(unknown.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("wontfix"), "{error}");
    }
}
