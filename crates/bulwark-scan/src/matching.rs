//! An inventory × the vulnerability database → findings. Each distinct (ecosystem, package,
//! version) is looked up once, with the ecosystem's exact version semantics.

use std::collections::BTreeMap;

use bulwark_vulndb::{VulnDb, VulnerabilityMatch};
use serde::Serialize;

use crate::{Inventory, ScanError};

/// One vulnerability affecting one component.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The component's index in [`Inventory::components`].
    pub component: usize,
    pub ecosystem: String,
    /// The package the advisory names (the source package, for distributions).
    pub package: String,
    pub version: String,
    pub vulnerability: VulnerabilityMatch,
}

/// Every finding of `inventory`, most severe first.
pub async fn find(db: &VulnDb, inventory: &Inventory) -> Result<Vec<Finding>, ScanError> {
    let mut asked: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
    for (index, located) in inventory.components.iter().enumerate() {
        if let Some(key) = located
            .component
            .component
            .osv_package(inventory.os.as_ref())
        {
            asked.entry(key).or_default().push(index);
        }
    }
    let mut findings = Vec::new();
    for ((ecosystem, package, version), components) in asked {
        let report = db.query(&ecosystem, &package, &version).await?;
        for vulnerability in report.vulnerabilities {
            for &component in &components {
                findings.push(Finding {
                    component,
                    ecosystem: ecosystem.clone(),
                    package: package.clone(),
                    version: version.clone(),
                    vulnerability: vulnerability.clone(),
                });
            }
        }
    }
    findings.sort_by(|a, b| {
        rank(&b.vulnerability)
            .cmp(&rank(&a.vulnerability))
            .then_with(|| a.vulnerability.id.cmp(&b.vulnerability.id))
    });
    Ok(findings)
}

/// Severity as an order: critical above high above medium above low above unrated.
pub fn rank(vulnerability: &VulnerabilityMatch) -> u8 {
    severity_rank(vulnerability.severity.rating.as_deref())
}

pub fn severity_rank(rating: Option<&str>) -> u8 {
    match rating {
        Some("critical") => 5,
        Some("high") => 4,
        Some("medium") => 3,
        Some("low") => 2,
        Some("none") => 1,
        _ => 0,
    }
}
