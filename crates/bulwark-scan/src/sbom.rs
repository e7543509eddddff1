//! Software bills of materials of a scanned artifact: CycloneDX 1.6 JSON (with the
//! findings as its `vulnerabilities`) and SPDX 2.3 JSON, built from the scan service's
//! report types ([`ComponentReport`], [`FindingReport`]) so that the registry, which stores
//! and serves them, and `bulwark scan`, which has an [`Inventory`] (see
//! [`component_reports`] and [`finding_reports`]), write the same documents.
//!
//! A document is a function of its inputs alone: the serial number and the creation time
//! come from the caller, components are sorted by name, version and path, and every map
//! is written with its keys in order.
//!
//! Reports of the same package URL in the same file are one component (an index's
//! platforms hold the same files), listing every layer and platform it was found in;
//! components without a package URL are told apart by kind, name, version and path, and
//! are written without a `purl`. A finding's component is always among the components,
//! even when the caller's list lacks it, so every reference resolves.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use serde_json::{Map, Value, json};

use crate::matching::Finding;
use crate::service::{ComponentReport, FindingReport};
use crate::{Inventory, Located};

/// The media type of a CycloneDX JSON document.
pub const CYCLONEDX_MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";
/// The media type of an SPDX JSON document.
pub const SPDX_MEDIA_TYPE: &str = "application/spdx+json";

const TOOL_NAME: &str = "bulwark";
const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
/// SPDX document namespaces are URIs that need not resolve; `.invalid` never does.
const NAMESPACE_BASE: &str = "https://bulwark.invalid/spdx/";
const OSV_URL: &str = "https://osv.dev/vulnerability/";
const CYCLONEDX_SCHEMA: &str = "http://cyclonedx.org/schema/bom-1.6.schema.json";
const SPDX_DOCUMENT: &str = "SPDXRef-DOCUMENT";
/// The SPDX package of what was scanned.
const SPDX_ROOT: &str = "SPDXRef-Root";
/// The SPDX package of the distribution, when one is known.
const SPDX_OS: &str = "SPDXRef-OperatingSystem";
const NOASSERTION: &str = "NOASSERTION";

/// What a bill of materials describes.
#[derive(Debug, Clone, Copy)]
pub struct SbomSubject<'a> {
    /// The repository (`team/app`) or the scan target.
    pub name: &'a str,
    /// The manifest digest, for an image; it is the root component's version.
    pub digest: Option<&'a str>,
    /// The distribution as reports write it: `ID VERSION_ID` (`debian 12`), or `ID`.
    pub os: Option<&'a str>,
    /// When the document is made, in milliseconds since the Unix epoch (written to the
    /// second).
    pub created_millis: i64,
    /// The CycloneDX serial number, and the last segment of the SPDX document namespace:
    /// a new one for every document made.
    pub serial: uuid::Uuid,
}

/// A CycloneDX 1.6 document of `components`, with `findings` as its vulnerabilities (none
/// written when there are none).
pub fn cyclonedx(
    subject: &SbomSubject<'_>,
    components: &[ComponentReport],
    findings: &[FindingReport],
) -> Value {
    let mut used = BTreeSet::new();
    let name = subject_name(subject);
    let digest = subject_digest(subject);
    let root_ref = unique(
        &mut used,
        match digest {
            Some(digest) => format!("{name}@{digest}"),
            None => name.to_owned(),
        },
    );
    let os = subject_os(subject).map(|(id, version)| {
        let candidate = match version {
            Some(version) => format!("os:{id}@{version}"),
            None => format!("os:{id}"),
        };
        (id, version, unique(&mut used, candidate))
    });
    let entries = collect_entries(components, findings, &mut used);

    let mut root = Map::new();
    put(
        &mut root,
        "type",
        if digest.is_some() {
            "container"
        } else {
            "application"
        },
    );
    put(&mut root, "bom-ref", root_ref.clone());
    put(&mut root, "name", name);
    if let Some(digest) = digest {
        put(&mut root, "version", digest);
    }

    let mut list = Vec::new();
    let mut depends_on = Vec::new();
    if let Some((id, version, os_ref)) = &os {
        let mut component = Map::new();
        put(&mut component, "type", "operating-system");
        put(&mut component, "bom-ref", os_ref.clone());
        put(&mut component, "name", *id);
        if let Some(version) = version {
            put(&mut component, "version", *version);
        }
        list.push(Value::Object(component));
        depends_on.push(Value::from(os_ref.clone()));
    }
    list.extend(entries.list.iter().map(cyclonedx_component));
    depends_on.extend(
        entries
            .list
            .iter()
            .map(|entry| Value::from(entry.bom_ref.clone())),
    );
    let vulnerabilities = cyclonedx_vulnerabilities(findings, &entries, &mut used);

    let mut bom = Map::new();
    put(&mut bom, "$schema", CYCLONEDX_SCHEMA);
    put(&mut bom, "bomFormat", "CycloneDX");
    put(&mut bom, "specVersion", "1.6");
    put(
        &mut bom,
        "serialNumber",
        format!("urn:uuid:{}", subject.serial),
    );
    put(&mut bom, "version", 1);
    put(
        &mut bom,
        "metadata",
        json!({
            "timestamp": rfc3339_seconds(subject.created_millis),
            "tools": {
                "components": [{
                    "type": "application",
                    "name": TOOL_NAME,
                    "version": TOOL_VERSION
                }]
            },
            "component": Value::Object(root)
        }),
    );
    put(&mut bom, "components", list);
    put(
        &mut bom,
        "dependencies",
        json!([{ "ref": root_ref, "dependsOn": depends_on }]),
    );
    if !vulnerabilities.is_empty() {
        put(&mut bom, "vulnerabilities", vulnerabilities);
    }
    Value::Object(bom)
}

/// An SPDX 2.3 document of `components`: the scanned artifact is the package the document
/// describes, and it contains the distribution and every component.
pub fn spdx(subject: &SbomSubject<'_>, components: &[ComponentReport]) -> Value {
    let name = subject_name(subject);
    let digest = subject_digest(subject);
    let mut used = BTreeSet::new();
    let entries = collect_entries(components, &[], &mut used);

    let mut root = Map::new();
    put(&mut root, "SPDXID", SPDX_ROOT);
    put(&mut root, "name", name);
    if let Some(digest) = digest {
        put(&mut root, "versionInfo", digest);
    }
    put(
        &mut root,
        "primaryPackagePurpose",
        if digest.is_some() {
            "CONTAINER"
        } else {
            "APPLICATION"
        },
    );
    no_assertions(&mut root);
    let mut packages = vec![Value::Object(root)];
    let mut relationships = vec![relationship(SPDX_DOCUMENT, "DESCRIBES", SPDX_ROOT)];

    if let Some((id, version)) = subject_os(subject) {
        let mut package = Map::new();
        put(&mut package, "SPDXID", SPDX_OS);
        put(&mut package, "name", id);
        if let Some(version) = version {
            put(&mut package, "versionInfo", version);
        }
        // The JSON schema's spelling; the specification's text writes `OPERATING-SYSTEM`.
        put(&mut package, "primaryPackagePurpose", "OPERATING_SYSTEM");
        no_assertions(&mut package);
        packages.push(Value::Object(package));
        relationships.push(relationship(SPDX_ROOT, "CONTAINS", SPDX_OS));
    }
    for (index, entry) in entries.list.iter().enumerate() {
        let id = format!("SPDXRef-Package-{}", index + 1);
        let mut package = Map::new();
        put(&mut package, "SPDXID", id.clone());
        put(&mut package, "name", non_empty(entry.name));
        if !entry.version.is_empty() {
            put(&mut package, "versionInfo", entry.version);
        }
        put(&mut package, "primaryPackagePurpose", "LIBRARY");
        no_assertions(&mut package);
        if let Some(purl) = entry.purl {
            put(
                &mut package,
                "externalRefs",
                json!([{
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": purl
                }]),
            );
        }
        put(&mut package, "sourceInfo", source_info(entry));
        packages.push(Value::Object(package));
        relationships.push(relationship(SPDX_ROOT, "CONTAINS", &id));
    }

    let namespace = [
        NAMESPACE_BASE,
        encode_segment(digest.unwrap_or(name)).as_str(),
        "/",
        subject.serial.to_string().as_str(),
    ]
    .concat();
    let creator = ["Tool: ", TOOL_NAME, "-", TOOL_VERSION].concat();
    let mut document = Map::new();
    put(&mut document, "spdxVersion", "SPDX-2.3");
    put(&mut document, "dataLicense", "CC0-1.0");
    put(&mut document, "SPDXID", SPDX_DOCUMENT);
    put(
        &mut document,
        "name",
        match digest {
            Some(digest) => format!("{name}@{digest}"),
            None => name.to_owned(),
        },
    );
    put(&mut document, "documentNamespace", namespace);
    put(
        &mut document,
        "creationInfo",
        json!({
            "created": rfc3339_seconds(subject.created_millis),
            "creators": [creator]
        }),
    );
    put(&mut document, "packages", packages);
    put(&mut document, "relationships", relationships);
    Value::Object(document)
}

/// An inventory's components as the server reports them, for [`cyclonedx`] and [`spdx`];
/// `layers` are the image's layer digests, bottom first (empty outside images).
pub fn component_reports<D: Display>(inventory: &Inventory, layers: &[D]) -> Vec<ComponentReport> {
    inventory
        .components
        .iter()
        .map(|located| located_report(located, layers))
        .collect()
}

/// Findings of `inventory` ([`crate::matching::find`]) as the server reports them, all
/// first seen at `first_seen` (RFC 3339); `layers` as in [`component_reports`].
pub fn finding_reports<D: Display>(
    inventory: &Inventory,
    findings: &[Finding],
    layers: &[D],
    first_seen: &str,
) -> Vec<FindingReport> {
    findings
        .iter()
        .filter_map(|finding| {
            let located = inventory.components.get(finding.component)?;
            let vulnerability = &finding.vulnerability;
            let severity = &vulnerability.severity;
            let malicious = crate::service::is_malicious(vulnerability);
            Some(FindingReport {
                kind: if malicious {
                    "malicious".into()
                } else {
                    "vulnerability".into()
                },
                id: vulnerability.id.clone(),
                aliases: vulnerability.aliases.clone(),
                severity: severity.rating.clone(),
                score: severity.score,
                severity_source: crate::service::severity_source(severity),
                summary: vulnerability.summary.clone(),
                ecosystem: finding.ecosystem.clone(),
                package: finding.package.clone(),
                installed: finding.version.clone(),
                fixed: vulnerability.fixed.clone(),
                fix_published: vulnerability.fix_published.clone(),
                component: located_report(located, layers),
                first_seen: first_seen.to_owned(),
            })
        })
        .collect()
}

fn located_report<D: Display>(located: &Located, layers: &[D]) -> ComponentReport {
    let view = &located.component;
    ComponentReport {
        kind: view.component.kind.as_str().to_owned(),
        name: view.name.clone(),
        version: view.version.clone(),
        purl: view.purl.clone(),
        path: view.path.clone(),
        layer: located
            .layer
            .and_then(|index| layers.get(index))
            .map(ToString::to_string),
        platform: None,
    }
}

/// One component of a document: every report of the same package in the same file.
struct Entry<'a> {
    kind: &'a str,
    name: &'a str,
    version: &'a str,
    purl: Option<&'a str>,
    path: &'a str,
    layers: BTreeSet<&'a str>,
    platforms: BTreeSet<&'a str>,
    /// The CycloneDX `bom-ref`, unique in the document.
    bom_ref: String,
}

/// What makes reports one component: package URL and path, or, without a package URL,
/// kind, name, version and path.
type Key<'a> = (Option<&'a str>, &'a str, &'a str, &'a str, &'a str);

fn key_of(component: &ComponentReport) -> Key<'_> {
    match component.purl.as_deref().filter(|purl| !purl.is_empty()) {
        Some(purl) => (Some(purl), component.path.as_str(), "", "", ""),
        None => (
            None,
            component.path.as_str(),
            component.kind.as_str(),
            component.name.as_str(),
            component.version.as_str(),
        ),
    }
}

impl<'a> Entry<'a> {
    fn key(&self) -> Key<'a> {
        match self.purl {
            Some(purl) => (Some(purl), self.path, "", "", ""),
            None => (None, self.path, self.kind, self.name, self.version),
        }
    }
}

/// The components of a document, sorted, and where each key is among them.
struct Entries<'a> {
    list: Vec<Entry<'a>>,
    index: BTreeMap<Key<'a>, usize>,
}

/// `components` and the findings' components, merged by [`Key`], sorted by name, version
/// and path, each with a `bom-ref` not in `used` (which then holds it).
fn collect_entries<'a>(
    components: &'a [ComponentReport],
    findings: &'a [FindingReport],
    used: &mut BTreeSet<String>,
) -> Entries<'a> {
    let mut merged: BTreeMap<Key<'a>, Entry<'a>> = BTreeMap::new();
    for component in components
        .iter()
        .chain(findings.iter().map(|finding| &finding.component))
    {
        let entry = merged.entry(key_of(component)).or_insert_with(|| Entry {
            kind: &component.kind,
            name: &component.name,
            version: &component.version,
            purl: component.purl.as_deref().filter(|purl| !purl.is_empty()),
            path: &component.path,
            layers: BTreeSet::new(),
            platforms: BTreeSet::new(),
            bom_ref: String::new(),
        });
        // Reports of one package URL that disagree on its name: the same one whichever
        // came first.
        let candidate = (
            component.name.as_str(),
            component.version.as_str(),
            component.kind.as_str(),
        );
        if candidate < (entry.name, entry.version, entry.kind) {
            (entry.name, entry.version, entry.kind) = candidate;
        }
        entry.layers.extend(component.layer.as_deref());
        entry.platforms.extend(component.platform.as_deref());
    }
    let mut list: Vec<Entry<'a>> = merged.into_values().collect();
    list.sort_by(|a, b| {
        (a.name, a.version, a.path, a.purl, a.kind)
            .cmp(&(b.name, b.version, b.path, b.purl, b.kind))
    });
    for entry in &mut list {
        let candidate = match entry.purl {
            Some(purl) => format!("{purl}|{}", entry.path),
            None => format!(
                "{}:{}@{}|{}",
                entry.kind, entry.name, entry.version, entry.path
            ),
        };
        entry.bom_ref = unique(used, candidate);
    }
    let index = list
        .iter()
        .enumerate()
        .map(|(position, entry)| (entry.key(), position))
        .collect();
    Entries { list, index }
}

/// `candidate`, or it with the first free `#N` appended when another element has it.
fn unique(used: &mut BTreeSet<String>, candidate: String) -> String {
    let candidate = if candidate.is_empty() {
        "ref".to_owned()
    } else {
        candidate
    };
    let mut chosen = candidate.clone();
    let mut suffix: u64 = 2;
    while used.contains(&chosen) {
        chosen = format!("{candidate}#{suffix}");
        suffix += 1;
    }
    used.insert(chosen.clone());
    chosen
}

fn cyclonedx_component(entry: &Entry<'_>) -> Value {
    let mut component = Map::new();
    put(&mut component, "type", "library");
    put(&mut component, "bom-ref", entry.bom_ref.clone());
    let (group, name) = group_and_name(entry.kind, entry.name);
    if let Some(group) = group {
        put(&mut component, "group", group);
    }
    put(&mut component, "name", name);
    if !entry.version.is_empty() {
        put(&mut component, "version", entry.version);
    }
    if let Some(purl) = entry.purl {
        put(&mut component, "purl", purl);
    }
    if !entry.path.is_empty() {
        put(
            &mut component,
            "evidence",
            json!({ "occurrences": [{ "location": entry.path }] }),
        );
    }
    let mut properties = vec![
        property("bulwark:kind", entry.kind),
        property("bulwark:path", entry.path),
    ];
    properties.extend(
        entry
            .layers
            .iter()
            .map(|layer| property("bulwark:layer", layer)),
    );
    properties.extend(
        entry
            .platforms
            .iter()
            .map(|platform| property("bulwark:platform", platform)),
    );
    put(&mut component, "properties", properties);
    Value::Object(component)
}

/// CycloneDX's `group` and `name` of a package: a Maven group, a Composer vendor, an npm
/// scope go in `group`.
fn group_and_name<'a>(kind: &str, name: &'a str) -> (Option<&'a str>, &'a str) {
    let split = match kind {
        "maven" => name.split_once(':'),
        "composer" => name.split_once('/'),
        "npm" if name.starts_with('@') => name.split_once('/'),
        _ => None,
    };
    match split {
        Some((group, rest)) if !group.is_empty() && !rest.is_empty() => (Some(group), rest),
        _ => (None, name),
    }
}

/// Findings of one vulnerability in one package version (the advisory's ecosystem, package
/// and version) are one CycloneDX vulnerability affecting each component that has it.
type Group<'a> = (&'a str, &'a str, &'a str, &'a str);

fn cyclonedx_vulnerabilities(
    findings: &[FindingReport],
    entries: &Entries<'_>,
    used: &mut BTreeSet<String>,
) -> Vec<Value> {
    let mut groups: BTreeMap<Group<'_>, Vec<&FindingReport>> = BTreeMap::new();
    for finding in findings {
        groups
            .entry((
                finding.id.as_str(),
                finding.ecosystem.as_str(),
                finding.package.as_str(),
                finding.installed.as_str(),
            ))
            .or_default()
            .push(finding);
    }
    let mut out = Vec::new();
    for ((id, ecosystem, package, installed), mut group) in groups {
        group.sort_by(finding_order);
        let Some(first) = group.first().copied() else {
            continue;
        };
        let malicious = group.iter().any(|finding| finding.kind == "malicious");
        let mut vulnerability = Map::new();
        put(
            &mut vulnerability,
            "bom-ref",
            unique(used, format!("{id}|{ecosystem}/{package}@{installed}")),
        );
        put(&mut vulnerability, "id", id);
        put(&mut vulnerability, "source", osv_source(id));
        let aliases: BTreeSet<&str> = group
            .iter()
            .flat_map(|finding| &finding.aliases)
            .map(String::as_str)
            .filter(|alias| !alias.is_empty() && *alias != id)
            .collect();
        if !aliases.is_empty() {
            let references: Vec<Value> = aliases
                .into_iter()
                .map(|alias| json!({ "id": alias, "source": osv_source(alias) }))
                .collect();
            put(&mut vulnerability, "references", references);
        }
        put(&mut vulnerability, "ratings", vec![rating(first)]);
        if let Some(summary) = first.summary.as_deref().filter(|s| !s.trim().is_empty()) {
            put(&mut vulnerability, "description", summary);
        }
        if !first.fixed.is_empty() {
            let versions = first.fixed.join(", ");
            let text = if package.is_empty() {
                format!("Fixed in {versions}.")
            } else {
                format!("Fixed in {package} {versions}.")
            };
            put(&mut vulnerability, "recommendation", text);
        } else if malicious {
            put(
                &mut vulnerability,
                "recommendation",
                "Known to be malicious: remove the package.",
            );
        }
        let affected: BTreeSet<usize> = group
            .iter()
            .filter_map(|finding| entries.index.get(&key_of(&finding.component)).copied())
            .collect();
        let affects: Vec<Value> = affected
            .iter()
            .filter_map(|&position| entries.list.get(position))
            .map(|entry| {
                let mut affect = Map::new();
                put(&mut affect, "ref", entry.bom_ref.clone());
                if !entry.version.is_empty() {
                    put(
                        &mut affect,
                        "versions",
                        json!([{ "version": entry.version, "status": "affected" }]),
                    );
                }
                Value::Object(affect)
            })
            .collect();
        put(&mut vulnerability, "affects", affects);
        let mut properties = vec![property(
            "bulwark:kind",
            if malicious {
                "malicious"
            } else {
                "vulnerability"
            },
        )];
        for (name, value) in [
            ("bulwark:ecosystem", ecosystem),
            ("bulwark:package", package),
            ("bulwark:installed", installed),
        ] {
            if !value.is_empty() {
                properties.push(property(name, value));
            }
        }
        properties.extend(
            first
                .fixed
                .iter()
                .map(|version| property("bulwark:fixed", version)),
        );
        if let Some(first_seen) = group
            .iter()
            .map(|finding| finding.first_seen.as_str())
            .filter(|at| !at.is_empty())
            .min()
        {
            properties.push(property("bulwark:first_seen", first_seen));
        }
        put(&mut vulnerability, "properties", properties);
        out.push(Value::Object(vulnerability));
    }
    out
}

/// Everything a finding says, in an order: which of a group's findings speaks for it does
/// not depend on the order they came in.
type Order<'a> = (
    &'a str,
    Option<&'a str>,
    Option<u64>,
    Option<&'a str>,
    Option<&'a str>,
    &'a [String],
    &'a str,
    Key<'a>,
);

fn order(finding: &FindingReport) -> Order<'_> {
    (
        finding.kind.as_str(),
        finding.severity.as_deref(),
        finding.score.map(f64::to_bits),
        finding.severity_source.as_deref(),
        finding.summary.as_deref(),
        finding.fixed.as_slice(),
        finding.first_seen.as_str(),
        key_of(&finding.component),
    )
}

fn finding_order(a: &&FindingReport, b: &&FindingReport) -> Ordering {
    order(a).cmp(&order(b))
}

/// A CycloneDX rating of a finding: its severity, the CVSS vector and score it came from,
/// or, for a database's own rating word, where that was read (`method: other`).
fn rating(finding: &FindingReport) -> Value {
    let mut rating = Map::new();
    let (basis, record) = match finding
        .severity_source
        .as_deref()
        .map(str::trim)
        .filter(|source| !source.is_empty())
    {
        Some(source) => split_record(source),
        None => ("", None),
    };
    if let Some(record) = record {
        put(&mut rating, "source", osv_source(record));
    }
    if let Some(score) = finding.score.filter(|score| score.is_finite()) {
        put(&mut rating, "score", score);
    }
    put(
        &mut rating,
        "severity",
        severity_word(finding.severity.as_deref()),
    );
    match cvss_vector(basis) {
        Some((method, vector)) => {
            put(&mut rating, "method", method);
            put(&mut rating, "vector", vector);
        }
        None if !basis.is_empty() => {
            put(&mut rating, "method", "other");
            put(&mut rating, "justification", basis);
        }
        None => {}
    }
    Value::Object(rating)
}

/// `CVSS 3.1 CVSS:3.1/AV:N/… (GHSA-…)` → the source and the record that gave it.
fn split_record(source: &str) -> (&str, Option<&str>) {
    if let Some(rest) = source.strip_suffix(')')
        && let Some((basis, record)) = rest.rsplit_once(" (")
        && !record.is_empty()
        && !record.contains(char::is_whitespace)
    {
        return (basis.trim(), Some(record));
    }
    (source, None)
}

/// The CVSS vector in a severity source, and CycloneDX's method for its version.
fn cvss_vector(basis: &str) -> Option<(&'static str, &str)> {
    basis
        .split_whitespace()
        .map(|token| token.trim_matches(['(', ')', ',', ';']))
        .find_map(|token| {
            let method = if let Some(version) = token.strip_prefix("CVSS:") {
                if version.starts_with('4') {
                    "CVSSv4"
                } else if version.starts_with("3.1") {
                    "CVSSv31"
                } else if version.starts_with('3') {
                    "CVSSv3"
                } else if version.starts_with('2') {
                    "CVSSv2"
                } else {
                    return None;
                }
            } else if token.starts_with("AV:") && token.contains('/') {
                // CVSS v2 vectors carry no prefix.
                "CVSSv2"
            } else {
                return None;
            };
            Some((method, token))
        })
}

/// CycloneDX's severity words; `unknown` for none or another word.
fn severity_word(severity: Option<&str>) -> &'static str {
    let Some(word) = severity else {
        return "unknown";
    };
    match word.trim().to_ascii_lowercase().as_str() {
        "critical" => "critical",
        "high" | "important" => "high",
        "medium" | "moderate" => "medium",
        "low" => "low",
        "info" | "informational" => "info",
        "none" => "none",
        _ => "unknown",
    }
}

fn osv_source(id: &str) -> Value {
    let url = [OSV_URL, encode_segment(id).as_str()].concat();
    json!({ "name": "OSV", "url": url })
}

fn property(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({
        "spdxElementId": from,
        "relationshipType": kind,
        "relatedSpdxElement": to
    })
}

/// The fields SPDX wants of a package that Bulwark has nothing to say about.
fn no_assertions(package: &mut Map<String, Value>) {
    put(package, "downloadLocation", NOASSERTION);
    put(package, "filesAnalyzed", false);
    put(package, "licenseConcluded", NOASSERTION);
    put(package, "licenseDeclared", NOASSERTION);
    put(package, "copyrightText", NOASSERTION);
}

/// `found in PATH (layer DIGEST)`, with every layer and platform.
fn source_info(entry: &Entry<'_>) -> String {
    let joined = |set: &BTreeSet<&str>| set.iter().copied().collect::<Vec<_>>().join(", ");
    let layers = match entry.layers.len() {
        0 => String::new(),
        1 => format!(" (layer {})", joined(&entry.layers)),
        _ => format!(" (layers {})", joined(&entry.layers)),
    };
    let platforms = match entry.platforms.len() {
        0 => String::new(),
        1 => format!(" on platform {}", joined(&entry.platforms)),
        _ => format!(" on platforms {}", joined(&entry.platforms)),
    };
    format!("found in {}{layers}{platforms}", entry.path)
}

fn put(map: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    map.insert(key.to_owned(), value.into());
}

fn non_empty(text: &str) -> &str {
    if text.trim().is_empty() {
        "unnamed"
    } else {
        text
    }
}

fn subject_name<'a>(subject: &SbomSubject<'a>) -> &'a str {
    non_empty(subject.name)
}

fn subject_digest<'a>(subject: &SbomSubject<'a>) -> Option<&'a str> {
    subject.digest.filter(|digest| !digest.trim().is_empty())
}

/// `debian 12` → (`debian`, `12`).
fn subject_os<'a>(subject: &SbomSubject<'a>) -> Option<(&'a str, Option<&'a str>)> {
    let os = subject.os?.trim();
    if os.is_empty() {
        return None;
    }
    Some(match os.split_once(char::is_whitespace) {
        Some((id, version)) if !version.trim().is_empty() => (id, Some(version.trim())),
        _ => (os, None),
    })
}

/// RFC 3339 in UTC to the second (`2024-05-01T12:00:00Z`), as SPDX requires.
fn rfc3339_seconds(millis: i64) -> String {
    let at = jiff::Timestamp::from_millisecond(millis).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{at:.0}")
}

/// `text` as one URI path segment: unreserved characters, `:` and `@` kept, the rest
/// percent-encoded.
fn encode_segment(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':' | b'@') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const BASE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const APP: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    const ARM: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
    const REQUESTS: &str = "pkg:pypi/requests@2.31.0";
    const SERIAL: u128 = 0x6f1c2d3e4b5a4c6d8e7f001122334455;
    const REQUESTS_PATH: &str = "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA";

    fn subject(serial: u128) -> SbomSubject<'static> {
        SbomSubject {
            name: "team/app",
            digest: Some(DIGEST),
            os: Some("debian 12"),
            created_millis: 1_714_564_800_123,
            serial: uuid::Uuid::from_u128(serial),
        }
    }

    fn component(
        kind: &str,
        name: &str,
        version: &str,
        purl: Option<&str>,
        path: &str,
        layer: Option<&str>,
    ) -> ComponentReport {
        ComponentReport {
            kind: kind.into(),
            name: name.into(),
            version: version.into(),
            purl: purl.map(Into::into),
            path: path.into(),
            layer: layer.map(Into::into),
            platform: None,
        }
    }

    fn components() -> Vec<ComponentReport> {
        vec![
            component(
                "dpkg",
                "libssl3",
                "3.0.11-1~deb12u2",
                Some("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12&upstream=openssl"),
                "var/lib/dpkg/status",
                Some(BASE),
            ),
            component(
                "python",
                "requests",
                "2.31.0",
                Some(REQUESTS),
                REQUESTS_PATH,
                Some(APP),
            ),
            // The same file in another platform of an index: the same component.
            ComponentReport {
                platform: Some(ARM.into()),
                ..component(
                    "python",
                    "requests",
                    "2.31.0",
                    Some(REQUESTS),
                    REQUESTS_PATH,
                    Some(BASE),
                )
            },
            // The same package in another file: another component.
            component(
                "python",
                "requests",
                "2.31.0",
                Some(REQUESTS),
                "app/venv/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
                Some(APP),
            ),
            component(
                "npm",
                "@babel/core",
                "7.0.0",
                Some("pkg:npm/%40babel/core@7.0.0"),
                "app/package-lock.json",
                Some(APP),
            ),
            component(
                "maven",
                "commons-io",
                "2.6",
                None,
                "app/lib/commons-io-2.6.jar",
                Some(APP),
            ),
            component(
                "composer",
                "monolog/monolog",
                "2.0.0",
                Some("pkg:composer/monolog/monolog@2.0.0"),
                "app/composer.lock",
                Some(APP),
            ),
        ]
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        id: &str,
        component: &ComponentReport,
        severity: Option<&str>,
        score: Option<f64>,
        source: Option<&str>,
        ecosystem: &str,
        package: &str,
        fixed: &[&str],
    ) -> FindingReport {
        FindingReport {
            kind: if id.starts_with("MAL-") {
                "malicious".into()
            } else {
                "vulnerability".into()
            },
            id: id.into(),
            aliases: vec![format!("ALIAS-{id}")],
            severity: severity.map(Into::into),
            score,
            severity_source: source.map(Into::into),
            summary: Some(format!("summary of {id}")),
            ecosystem: ecosystem.into(),
            package: package.into(),
            installed: component.version.clone(),
            fixed: fixed.iter().map(|v| (*v).to_owned()).collect(),
            fix_published: None,
            component: component.clone(),
            first_seen: "2024-04-01T00:00:00Z".into(),
        }
    }

    fn findings(components: &[ComponentReport]) -> Vec<FindingReport> {
        let busybox = component(
            "apk",
            "busybox",
            "1.36.1-r2",
            Some("pkg:apk/alpine/busybox@1.36.1-r2"),
            "lib/apk/db/installed",
            Some(BASE),
        );
        vec![
            finding(
                "CVE-2023-0001",
                &components[0],
                Some("high"),
                Some(7.5),
                Some("CVSS 3.1 CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H (DSA-5555-1)"),
                "Debian:12",
                "openssl",
                &["3.0.13-1~deb12u1"],
            ),
            finding(
                "GHSA-aaaa-bbbb-cccc",
                &components[1],
                Some("medium"),
                None,
                Some("database_specific.severity = MODERATE (GHSA-aaaa-bbbb-cccc)"),
                "PyPI",
                "requests",
                &["2.32.0"],
            ),
            // The duplicate report of the first requests, and the second one.
            finding(
                "GHSA-aaaa-bbbb-cccc",
                &components[2],
                Some("medium"),
                None,
                Some("database_specific.severity = MODERATE (GHSA-aaaa-bbbb-cccc)"),
                "PyPI",
                "requests",
                &["2.32.0"],
            ),
            finding(
                "GHSA-aaaa-bbbb-cccc",
                &components[3],
                Some("medium"),
                None,
                Some("database_specific.severity = MODERATE (GHSA-aaaa-bbbb-cccc)"),
                "PyPI",
                "requests",
                &["2.32.0"],
            ),
            finding(
                "MAL-2024-1",
                &components[4],
                None,
                None,
                None,
                "npm",
                "@babel/core",
                &[],
            ),
            finding(
                "CVE-2024-0004",
                &components[6],
                Some("critical"),
                Some(9.3),
                Some(
                    "CVSS 4.0 CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N (GHSA-v4)",
                ),
                "Packagist",
                "monolog/monolog",
                &["2.1.0", "3.0.1"],
            ),
            finding(
                "CVE-2010-0002",
                &busybox,
                Some("high"),
                Some(7.5),
                Some("CVSS 2.0 AV:N/AC:L/Au:N/C:P/I:P/A:P (CVE-2010-0002)"),
                "Alpine:v3.19",
                "busybox",
                &[],
            ),
            finding(
                "CVE-2019-0003",
                &components[0],
                Some("LOW"),
                Some(3.7),
                Some("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L"),
                "Debian:12",
                "openssl",
                &[],
            ),
        ]
    }

    fn strings<'a>(values: impl IntoIterator<Item = &'a Value>, key: &str) -> Vec<&'a str> {
        values
            .into_iter()
            .map(|value| value[key].as_str().unwrap())
            .collect()
    }

    fn vulnerability<'a>(bom: &'a Value, id: &str) -> &'a Value {
        bom["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == id)
            .unwrap()
    }

    fn properties<'a>(value: &'a Value, name: &str) -> Vec<&'a str> {
        value["properties"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == name)
            .map(|p| p["value"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn cyclonedx_has_the_spec_s_structure() {
        let components = components();
        let findings = findings(&components);
        let bom = cyclonedx(&subject(SERIAL), &components, &findings);
        assert_eq!(bom["bomFormat"], "CycloneDX");
        assert_eq!(bom["specVersion"], "1.6");
        assert_eq!(
            bom["serialNumber"],
            "urn:uuid:6f1c2d3e-4b5a-4c6d-8e7f-001122334455"
        );
        assert_eq!(bom["version"], 1);
        let metadata = &bom["metadata"];
        assert_eq!(metadata["timestamp"], "2024-05-01T12:00:00Z");
        assert_eq!(metadata["tools"]["components"][0]["name"], "bulwark");
        assert_eq!(
            metadata["tools"]["components"][0]["version"],
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(metadata["component"]["type"], "container");
        assert_eq!(metadata["component"]["name"], "team/app");
        assert_eq!(metadata["component"]["version"], DIGEST);

        let list = bom["components"].as_array().unwrap();
        // The OS, six components (the index's two reports of one file are one), and the
        // finding's component the list lacked (busybox).
        assert_eq!(list.len(), 8);
        assert_eq!(list[0]["type"], "operating-system");
        assert_eq!(list[0]["name"], "debian");
        assert_eq!(list[0]["version"], "12");
        assert!(list[1..].iter().all(|c| c["type"] == "library"));

        // Every bom-ref in the document is unique, and every reference resolves.
        let component_refs = strings(list, "bom-ref");
        let vulnerabilities = bom["vulnerabilities"].as_array().unwrap();
        let mut all: Vec<&str> = component_refs.clone();
        all.push(metadata["component"]["bom-ref"].as_str().unwrap());
        all.extend(strings(vulnerabilities, "bom-ref"));
        let distinct: BTreeSet<&str> = all.iter().copied().collect();
        assert_eq!(distinct.len(), all.len(), "{all:?}");
        for v in vulnerabilities {
            let affects = v["affects"].as_array().unwrap();
            assert!(!affects.is_empty());
            for reference in strings(affects, "ref") {
                assert!(component_refs.contains(&reference), "{reference}");
            }
        }
        let dependencies = bom["dependencies"].as_array().unwrap();
        assert_eq!(dependencies.len(), 1);
        assert_eq!(dependencies[0]["ref"], metadata["component"]["bom-ref"]);
        let depends_on: Vec<&str> = dependencies[0]["dependsOn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(depends_on, component_refs);

        // Sorted by name, version, path (after the OS).
        let names = strings(&list[1..], "name");
        assert_eq!(
            names,
            [
                "core",
                "busybox",
                "commons-io",
                "libssl3",
                "monolog",
                "requests",
                "requests"
            ]
        );
        let requests: Vec<&Value> = list.iter().filter(|c| c["purl"] == REQUESTS).collect();
        assert_eq!(requests.len(), 2);
        let merged = requests
            .iter()
            .find(|c| properties(c, "bulwark:path") == [REQUESTS_PATH])
            .unwrap();
        assert_eq!(properties(merged, "bulwark:layer"), [BASE, APP]);
        assert_eq!(properties(merged, "bulwark:platform"), [ARM]);
        assert_eq!(
            merged["evidence"]["occurrences"][0]["location"],
            REQUESTS_PATH
        );

        let commons = list.iter().find(|c| c["name"] == "commons-io").unwrap();
        assert!(commons.get("purl").is_none());
        assert!(commons.get("group").is_none());
        assert_eq!(commons["version"], "2.6");
        let babel = list.iter().find(|c| c["name"] == "core").unwrap();
        assert_eq!(babel["group"], "@babel");
        let monolog = list.iter().find(|c| c["name"] == "monolog").unwrap();
        assert_eq!(monolog["group"], "monolog");
        assert_eq!(properties(monolog, "bulwark:kind"), ["composer"]);
    }

    #[test]
    fn cyclonedx_ratings_follow_the_severity_source() {
        let components = components();
        let findings = findings(&components);
        let bom = cyclonedx(&subject(1), &components, &findings);

        let v3 = vulnerability(&bom, "CVE-2023-0001");
        let rating = &v3["ratings"][0];
        assert_eq!(rating["severity"], "high");
        assert_eq!(rating["score"], 7.5);
        assert_eq!(rating["method"], "CVSSv31");
        assert_eq!(
            rating["vector"],
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
        );
        assert_eq!(
            rating["source"]["url"],
            "https://osv.dev/vulnerability/DSA-5555-1"
        );
        assert_eq!(v3["source"]["name"], "OSV");
        assert_eq!(
            v3["source"]["url"],
            "https://osv.dev/vulnerability/CVE-2023-0001"
        );
        assert_eq!(v3["description"], "summary of CVE-2023-0001");
        assert_eq!(v3["recommendation"], "Fixed in openssl 3.0.13-1~deb12u1.");
        assert_eq!(v3["references"][0]["id"], "ALIAS-CVE-2023-0001");
        assert_eq!(
            v3["affects"][0]["versions"][0]["version"],
            "3.0.11-1~deb12u2"
        );
        assert_eq!(v3["affects"][0]["versions"][0]["status"], "affected");
        assert_eq!(
            properties(v3, "bulwark:first_seen"),
            ["2024-04-01T00:00:00Z"]
        );
        assert_eq!(properties(v3, "bulwark:kind"), ["vulnerability"]);

        let v30 = &vulnerability(&bom, "CVE-2019-0003")["ratings"][0];
        assert_eq!(v30["method"], "CVSSv3");
        assert_eq!(v30["severity"], "low");
        assert!(v30.get("source").is_none());

        let v4 = &vulnerability(&bom, "CVE-2024-0004")["ratings"][0];
        assert_eq!(v4["method"], "CVSSv4");
        assert_eq!(v4["severity"], "critical");
        assert_eq!(v4["score"], 9.3);

        let v2 = &vulnerability(&bom, "CVE-2010-0002")["ratings"][0];
        assert_eq!(v2["method"], "CVSSv2");
        assert_eq!(v2["vector"], "AV:N/AC:L/Au:N/C:P/I:P/A:P");

        // A database's word: no vector, where it was read as the justification; the one
        // package version found in two files (three reports) affects two components.
        let ghsa = vulnerability(&bom, "GHSA-aaaa-bbbb-cccc");
        let word = &ghsa["ratings"][0];
        assert_eq!(word["severity"], "medium");
        assert_eq!(word["method"], "other");
        assert_eq!(
            word["justification"],
            "database_specific.severity = MODERATE"
        );
        assert!(word.get("vector").is_none() && word.get("score").is_none());
        assert_eq!(ghsa["affects"].as_array().unwrap().len(), 2);

        let malicious = vulnerability(&bom, "MAL-2024-1");
        assert_eq!(malicious["ratings"][0]["severity"], "unknown");
        assert!(malicious["ratings"][0].get("method").is_none());
        assert_eq!(properties(malicious, "bulwark:kind"), ["malicious"]);
        assert_eq!(
            malicious["recommendation"],
            "Known to be malicious: remove the package."
        );
    }

    #[test]
    fn documents_do_not_depend_on_the_order_of_their_inputs() {
        let components = components();
        let findings = findings(&components);
        let mut reversed_components = components.clone();
        reversed_components.reverse();
        let mut reversed_findings = findings.clone();
        reversed_findings.reverse();
        let subject = subject(7);
        assert_eq!(
            cyclonedx(&subject, &components, &findings),
            cyclonedx(&subject, &reversed_components, &reversed_findings)
        );
        assert_eq!(
            spdx(&subject, &components),
            spdx(&subject, &reversed_components)
        );
        // And neither writes a value JSON cannot hold.
        serde_json::to_string(&cyclonedx(&subject, &components, &findings)).unwrap();
    }

    #[test]
    fn cyclonedx_without_findings_or_image() {
        let components = components();
        let subject = SbomSubject {
            name: "Cargo.lock",
            digest: None,
            os: None,
            ..subject(2)
        };
        let bom = cyclonedx(&subject, &components, &[]);
        assert!(bom.get("vulnerabilities").is_none());
        assert_eq!(bom["metadata"]["component"]["type"], "application");
        assert!(bom["metadata"]["component"].get("version").is_none());
        let list = bom["components"].as_array().unwrap();
        assert_eq!(list.len(), 6);
        assert!(list.iter().all(|c| c["type"] == "library"));
    }

    fn is_spdx_id(id: &str) -> bool {
        id.strip_prefix("SPDXRef-").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
    }

    #[test]
    fn spdx_has_the_spec_s_structure() {
        let components = components();
        let document = spdx(&subject(SERIAL), &components);
        assert_eq!(document["spdxVersion"], "SPDX-2.3");
        assert_eq!(document["dataLicense"], "CC0-1.0");
        assert_eq!(document["SPDXID"], "SPDXRef-DOCUMENT");
        assert_eq!(document["name"], format!("team/app@{DIGEST}"));
        assert_eq!(
            document["documentNamespace"],
            format!("https://bulwark.invalid/spdx/{DIGEST}/6f1c2d3e-4b5a-4c6d-8e7f-001122334455")
        );
        assert_eq!(document["creationInfo"]["created"], "2024-05-01T12:00:00Z");
        assert_eq!(
            document["creationInfo"]["creators"][0],
            format!("Tool: bulwark-{}", env!("CARGO_PKG_VERSION"))
        );

        let packages = document["packages"].as_array().unwrap();
        // The image, the OS and six components.
        assert_eq!(packages.len(), 8);
        let ids = strings(packages, "SPDXID");
        assert!(ids.iter().copied().all(is_spdx_id), "{ids:?}");
        let distinct: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), ids.len());
        assert_eq!(packages[0]["primaryPackagePurpose"], "CONTAINER");
        assert_eq!(packages[0]["versionInfo"], DIGEST);
        assert_eq!(packages[1]["primaryPackagePurpose"], "OPERATING_SYSTEM");

        let relationships = document["relationships"].as_array().unwrap();
        let triples: Vec<(&str, &str, &str)> = relationships
            .iter()
            .map(|r| {
                (
                    r["spdxElementId"].as_str().unwrap(),
                    r["relationshipType"].as_str().unwrap(),
                    r["relatedSpdxElement"].as_str().unwrap(),
                )
            })
            .collect();
        let root = ids[0];
        assert!(triples.contains(&("SPDXRef-DOCUMENT", "DESCRIBES", root)));
        for &id in &ids[1..] {
            assert!(triples.contains(&(root, "CONTAINS", id)), "{id}");
        }
        assert_eq!(triples.len(), ids.len());

        for package in packages {
            assert_eq!(package["downloadLocation"], "NOASSERTION");
            assert_eq!(package["filesAnalyzed"], false);
        }
        let ssl = packages.iter().find(|p| p["name"] == "libssl3").unwrap();
        assert_eq!(ssl["versionInfo"], "3.0.11-1~deb12u2");
        assert_eq!(
            ssl["externalRefs"][0]["referenceCategory"],
            "PACKAGE-MANAGER"
        );
        assert_eq!(ssl["externalRefs"][0]["referenceType"], "purl");
        assert_eq!(
            ssl["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12&upstream=openssl"
        );
        assert_eq!(
            ssl["sourceInfo"],
            format!("found in var/lib/dpkg/status (layer {BASE})")
        );
        let merged = packages
            .iter()
            .find(|p| {
                p["sourceInfo"]
                    .as_str()
                    .is_some_and(|info| info.contains(REQUESTS_PATH))
            })
            .unwrap();
        assert_eq!(
            merged["sourceInfo"],
            format!("found in {REQUESTS_PATH} (layers {BASE}, {APP}) on platform {ARM}")
        );
        let commons = packages.iter().find(|p| p["name"] == "commons-io").unwrap();
        assert!(commons.get("externalRefs").is_none());
    }

    #[test]
    fn spdx_namespaces_differ_per_serial() {
        let components = components();
        let one = spdx(&subject(1), &components);
        let two = spdx(&subject(2), &components);
        assert_ne!(one["documentNamespace"], two["documentNamespace"]);
        let without_digest = SbomSubject {
            name: "./my project/Cargo.lock",
            digest: None,
            ..subject(1)
        };
        let namespace = spdx(&without_digest, &components)["documentNamespace"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            namespace,
            "https://bulwark.invalid/spdx/.%2Fmy%20project%2FCargo.lock/00000000-0000-0000-0000-000000000001"
        );
        assert!(!namespace.contains('#'));
    }

    #[test]
    fn severity_sources_are_read() {
        assert_eq!(
            cvss_vector("CVSS 3.1 CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(("CVSSv31", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"))
        );
        assert_eq!(
            cvss_vector("(AV:N/AC:L/Au:N/C:C/I:C/A:C)"),
            Some(("CVSSv2", "AV:N/AC:L/Au:N/C:C/I:C/A:C"))
        );
        assert_eq!(cvss_vector("database_specific.severity = HIGH"), None);
        assert_eq!(
            split_record("severity[Ubuntu] = medium (UBUNTU-CVE-2024-1)"),
            ("severity[Ubuntu] = medium", Some("UBUNTU-CVE-2024-1"))
        );
        assert_eq!(split_record("CVSS:3.1/AV:N"), ("CVSS:3.1/AV:N", None));
        assert_eq!(severity_word(Some("MODERATE")), "medium");
        assert_eq!(severity_word(Some("none")), "none");
        assert_eq!(severity_word(Some("whatever")), "unknown");
        assert_eq!(severity_word(None), "unknown");
    }

    #[test]
    fn inventories_become_reports() {
        use bulwark_inventory::Component;
        use bulwark_vulndb::{SeverityReport, VulnerabilityMatch};

        // As stored inventories hold it: the fields a component gains later default.
        let component: Component = serde_json::from_value(json!({
            "kind": "python",
            "name": "requests",
            "version": "2.31.0",
            "source": null,
            "path": REQUESTS_PATH
        }))
        .unwrap();
        let located = Located {
            component: crate::ComponentView {
                name: "requests".into(),
                version: "2.31.0".into(),
                purl: Some(REQUESTS.into()),
                path: REQUESTS_PATH.into(),
                component,
            },
            layer: Some(1),
        };
        let inventory = Inventory {
            os: None,
            components: vec![located],
            warnings: Vec::new(),
            secrets: Vec::new(),
        };
        let layers = [BASE, APP];
        let reports = component_reports(&inventory, &layers);
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].kind, "python");
        assert_eq!(reports[0].layer.as_deref(), Some(APP));
        assert_eq!(reports[0].purl.as_deref(), Some(REQUESTS));

        let vulnerability = VulnerabilityMatch {
            id: "CVE-2024-35195".into(),
            records: vec!["GHSA-9wx4-h78v-vm56".into(), "MAL-2024-9".into()],
            aliases: vec!["GHSA-9wx4-h78v-vm56".into()],
            related: Vec::new(),
            summary: Some("cert verification".into()),
            fixed: vec!["2.32.0".into()],
            fix_published: None,
            severity: SeverityReport {
                rating: Some("medium".into()),
                score: Some(5.6),
                source: Some("CVSS 3.1 CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N".into()),
                record: Some("GHSA-9wx4-h78v-vm56".into()),
            },
        };
        let found = [
            Finding {
                component: 0,
                ecosystem: "PyPI".into(),
                package: "requests".into(),
                version: "2.31.0".into(),
                vulnerability: vulnerability.clone(),
            },
            // An index past the inventory is skipped, not a panic.
            Finding {
                component: 5,
                ecosystem: "PyPI".into(),
                package: "requests".into(),
                version: "2.31.0".into(),
                vulnerability,
            },
        ];
        let findings = finding_reports(&inventory, &found, &layers, "2024-05-01T12:00:00Z");
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].kind, "malicious");
        assert_eq!(
            findings[0].severity_source.as_deref(),
            Some("CVSS 3.1 CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N (GHSA-9wx4-h78v-vm56)")
        );
        assert_eq!(findings[0].component.layer.as_deref(), Some(APP));

        let bom = cyclonedx(&subject(3), &reports, &findings);
        let rating = &vulnerability_of(&bom)["ratings"][0];
        assert_eq!(rating["method"], "CVSSv31");
        assert_eq!(rating["score"], 5.6);
        assert_eq!(
            rating["source"]["url"],
            "https://osv.dev/vulnerability/GHSA-9wx4-h78v-vm56"
        );
    }

    fn vulnerability_of(bom: &Value) -> &Value {
        &bom["vulnerabilities"][0]
    }

    /// With `BULWARK_SBOM_SAMPLES=DIR`, writes this module's sample documents there for
    /// `scripts/sbom/validate.py` to check against the specifications' validators.
    #[test]
    fn writes_samples_when_asked() {
        let Some(dir) = std::env::var_os("BULWARK_SBOM_SAMPLES") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let components = components();
        let findings = findings(&components);
        let subject = subject(SERIAL);
        let write = |name: &str, document: &Value| {
            std::fs::write(dir.join(name), serde_json::to_vec_pretty(document).unwrap()).unwrap();
        };
        write(
            "cyclonedx.json",
            &cyclonedx(&subject, &components, &findings),
        );
        write("spdx.json", &spdx(&subject, &components));
    }
}
