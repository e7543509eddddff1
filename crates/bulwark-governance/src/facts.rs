//! What a decision is about, gathered from the other services: the scan report as the
//! repository sees it, the signatures that verify against the project's keys, and the VEX
//! statements attached to the artifact.
//!
//! Everything read here is bounded per evaluation, whatever a pusher attached: at most
//! [`MAX_PARENT_INDEXES`] parent indexes, [`MAX_SIGNATURE_MANIFESTS`] signature manifests
//! and [`MAX_SIGNATURES`] signatures in all, [`MAX_READ_BYTES`] of signature and VEX blobs
//! in all, each blob only up to its format's cap (its size is checked before a byte is
//! read).

use bulwark_oci::{Digest, Reference, RepositoryName};
use bulwark_policy::{ArtifactFacts, Finding, ScanState, SecretFact, Severity, VerifiedSignature};
use bulwark_scan::service::ScanReport;
use bulwark_signature::TrustedKey;
use futures::TryStreamExt;

use crate::{Governance, Result, SignatureView};

/// At most this many signature manifests (a `.sig` tag, bundle referrers) are read per
/// artifact and parent index.
pub const MAX_SIGNATURE_MANIFESTS: usize = 32;
/// At most this many signatures (layers) are tried per artifact.
pub const MAX_SIGNATURES: usize = 64;
/// At most this many VEX referrers are read per evaluation.
pub const MAX_VEX_REFERRERS: usize = 16;
/// At most this many indexes listing the artifact are looked at for signatures and VEX.
pub const MAX_PARENT_INDEXES: usize = 4;
/// At most this many bytes of signature payloads, bundles and VEX documents are read per
/// evaluation.
pub const MAX_READ_BYTES: u64 = 32 << 20;

/// What one evaluation may still read and verify.
struct Budget {
    signatures: usize,
    signature_manifests: usize,
    vex_referrers: usize,
    bytes: u64,
}

impl Budget {
    fn new() -> Budget {
        Budget {
            signatures: MAX_SIGNATURES,
            signature_manifests: MAX_SIGNATURE_MANIFESTS,
            vex_referrers: MAX_VEX_REFERRERS,
            bytes: MAX_READ_BYTES,
        }
    }
}

/// Artifact types of VEX documents attached as referrers.
pub const VEX_ARTIFACT_TYPES: [&str; 4] = [
    "application/openvex+json",
    "application/vnd.openvex+json",
    "application/csaf+json",
    "application/vnd.cyclonedx.vex+json",
];

/// The facts of one artifact and what else a report of the decision shows.
#[derive(Debug, Clone)]
pub struct Gathered {
    pub facts: ArtifactFacts,
    pub report: ScanReport,
    pub signatures: Vec<SignatureView>,
    /// Statements of VEX documents attached to the artifact in its repository.
    pub attached_vex: Vec<bulwark_policy::VexStatement>,
}

pub(crate) async fn gather(
    governance: &Governance,
    repository: &RepositoryName,
    digest: &Digest,
    project: &str,
    keys: &[TrustedKey],
    now: i64,
) -> Result<Gathered> {
    let report = governance
        .inner
        .scanner
        .report(digest, Some(repository))
        .await?;
    // A signed index covers its platforms: a client pulls the index, then each child
    // by digest, and cosign signs the index.
    let mut subjects = vec![digest.clone()];
    for parent in governance
        .metadata()
        .parent_indexes(repository.as_str(), &digest.to_string())
        .await?
        .into_iter()
        .take(MAX_PARENT_INDEXES)
    {
        if let Ok(parent) = parent.parse::<Digest>() {
            subjects.push(parent);
        }
    }
    let mut budget = Budget::new();
    let mut signatures = Vec::new();
    if !keys.is_empty() {
        for subject in &subjects {
            signatures
                .extend(signatures_of(governance, repository, subject, keys, &mut budget).await?);
        }
    }
    let mut attached_vex = Vec::new();
    for subject in &subjects {
        attached_vex.extend(attached_vex_of(governance, repository, subject, &mut budget).await?);
    }
    let facts = ArtifactFacts {
        project: project.to_owned(),
        repository: repository.to_string(),
        digest: digest.to_string(),
        scan: scan_state(&report),
        findings: report.findings.iter().map(finding_of).collect(),
        secrets: report
            .secrets
            .iter()
            .map(|secret| SecretFact {
                rule: secret.rule.clone(),
                path: secret.path.clone(),
                severity: Severity::from_rating(&secret.severity),
            })
            .collect(),
        signatures: signatures
            .iter()
            .map(|s| VerifiedSignature {
                key: s.key.clone(),
                format: s.format.clone(),
                at_ms: None,
            })
            .collect(),
        // The findings are as fresh as the advisory data they were last matched with:
        // every import is re-matched against every stored inventory.
        matched_at_ms: report.advisories_age_seconds.map(|age| {
            now.saturating_sub(i64::try_from(age).unwrap_or(i64::MAX).saturating_mul(1000))
        }),
    };
    Ok(Gathered {
        facts,
        report,
        signatures,
        attached_vex,
    })
}

fn scan_state(report: &ScanReport) -> ScanState {
    match report.status.as_str() {
        "done" => ScanState::Done,
        "pending" => ScanState::Pending,
        "running" => ScanState::Running,
        "failed" => ScanState::Failed {
            reason: report.reason.clone().unwrap_or_else(|| "unknown".into()),
        },
        _ => ScanState::NotScanned,
    }
}

fn finding_of(finding: &bulwark_scan::service::FindingReport) -> Finding {
    Finding {
        id: finding.id.clone(),
        aliases: finding.aliases.clone(),
        ecosystem: finding.ecosystem.clone(),
        package: finding.package.clone(),
        version: finding.installed.clone(),
        purl: finding.component.purl.clone(),
        severity: finding
            .severity
            .as_deref()
            .map_or(Severity::Unknown, Severity::from_rating),
        fixed: finding.fixed.clone(),
        // Unknown (no record says when it was published) counts as old enough.
        fix_published_ms: finding
            .fix_published
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_millisecond()),
        malicious: finding.kind == "malicious",
    }
}

/// The referrers of `subject` in `repository` of each of `types`, asked for by type: other
/// referrers, however many a pusher attached, cannot push these off the page read.
async fn referrers_of_types(
    governance: &Governance,
    repository: &RepositoryName,
    subject: &Digest,
    types: &[&str],
) -> Result<Vec<bulwark_metadata::ManifestSummary>> {
    let mut found = Vec::new();
    for artifact_type in types {
        let (page, _) = governance
            .registry()
            .referrers(repository, subject, Some(artifact_type), None)
            .await?;
        found.extend(page);
    }
    Ok(found)
}

/// Reads blob `digest` of `repository` whole, if it is at most `max` bytes and the budget
/// still allows it.
async fn small_blob(
    governance: &Governance,
    repository: &RepositoryName,
    digest: &str,
    max: usize,
    budget: &mut Budget,
) -> Result<Option<Vec<u8>>> {
    let Ok(digest) = digest.parse::<Digest>() else {
        return Ok(None);
    };
    let size = match governance.registry().blob_size(repository, &digest).await {
        Ok(size) => size,
        Err(bulwark_registry::RegistryError::BlobUnknown) => return Ok(None),
        Err(other) => return Err(other.into()),
    };
    if size > max as u64 || size > budget.bytes {
        return Ok(None);
    }
    budget.bytes -= size;
    let content = governance
        .registry()
        .read_blob(repository, &digest, None)
        .await?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut stream = content.stream;
    while let Some(piece) = stream
        .try_next()
        .await
        .map_err(|e| bulwark_registry::RegistryError::StorageInconsistent(e.to_string()))?
    {
        if bytes.len() + piece.len() > max {
            return Ok(None);
        }
        bytes.extend_from_slice(&piece);
    }
    Ok(Some(bytes))
}

/// The signatures of `subject` in `repository` that verify against one of `keys`: cosign's
/// simple signing (`sha256-<hex>.sig`, bound to this digest and this repository) and
/// Sigstore bundles attached as referrers (bound to this digest; only cosign's signing
/// predicate or a message signature counts, not any attestation a key holder made).
async fn signatures_of(
    governance: &Governance,
    repository: &RepositoryName,
    subject: &Digest,
    keys: &[TrustedKey],
    budget: &mut Budget,
) -> Result<Vec<SignatureView>> {
    let mut found = Vec::new();
    let subject_text = subject.to_string();
    // Simple signing.
    let signed = match bulwark_signature::simple_signing_tag(&subject_text)
        .ok()
        .and_then(|tag| tag.parse::<bulwark_oci::Tag>().ok())
    {
        Some(tag) => {
            governance
                .stored_manifest(repository, &Reference::Tag(tag))
                .await?
        }
        None => None,
    };
    let small = signed.filter(|m| m.content.len() <= bulwark_signature::MAX_MANIFEST_BYTES);
    if let Some(manifest) = small {
        let layers =
            bulwark_signature::simple_signing_layers(&manifest.content).unwrap_or_default();
        for layer in &layers {
            if budget.signatures == 0 {
                break;
            }
            budget.signatures -= 1;
            let Some(payload) = small_blob(
                governance,
                repository,
                &layer.digest,
                bulwark_signature::MAX_PAYLOAD_BYTES,
                budget,
            )
            .await?
            else {
                continue;
            };
            for key in keys {
                if let Ok(verified) = bulwark_signature::verify_simple_signing(
                    &payload,
                    &layer.signature,
                    key,
                    &subject_text,
                    repository.as_str(),
                ) {
                    found.push(SignatureView::of(&verified));
                    break;
                }
            }
        }
    }
    // Sigstore bundles.
    let referrers = referrers_of_types(
        governance,
        repository,
        subject,
        &bulwark_signature::BUNDLE_MEDIA_TYPES,
    )
    .await?;
    for referrer in &referrers {
        if budget.signature_manifests == 0 {
            break;
        }
        budget.signature_manifests -= 1;
        let Some(manifest) = governance
            .stored_manifest(repository, &Reference::Digest(referrer.digest.clone()))
            .await?
        else {
            continue;
        };
        if manifest.content.len() > bulwark_signature::MAX_MANIFEST_BYTES {
            continue;
        }
        for layer in bulwark_signature::bundle_layers(&manifest.content).unwrap_or_default() {
            if budget.signatures == 0 {
                break;
            }
            budget.signatures -= 1;
            let Some(bundle) = small_blob(
                governance,
                repository,
                &layer.digest,
                bulwark_signature::MAX_BUNDLE_BYTES,
                budget,
            )
            .await?
            else {
                continue;
            };
            for key in keys {
                if let Ok(verified) = bulwark_signature::verify_bundle(&bundle, key, &subject_text)
                {
                    let signs = verified.predicate_type.as_deref().is_none_or(|predicate| {
                        predicate == bulwark_signature::COSIGN_SIGN_PREDICATE_TYPE
                    });
                    if signs {
                        found.push(SignatureView::of(&verified));
                        break;
                    }
                }
            }
        }
    }
    Ok(found)
}

/// The statements of VEX documents attached to `subject` in `repository` as referrers.
/// Whoever may push to the repository may attach one, as they may push the image itself.
async fn attached_vex_of(
    governance: &Governance,
    repository: &RepositoryName,
    subject: &Digest,
    budget: &mut Budget,
) -> Result<Vec<bulwark_policy::VexStatement>> {
    let referrers =
        referrers_of_types(governance, repository, subject, &VEX_ARTIFACT_TYPES).await?;
    let mut statements = Vec::new();
    for referrer in &referrers {
        if budget.vex_referrers == 0 {
            break;
        }
        budget.vex_referrers -= 1;
        let Some(manifest) = governance
            .stored_manifest(repository, &Reference::Digest(referrer.digest.clone()))
            .await?
        else {
            continue;
        };
        let Ok(parsed) =
            bulwark_oci::ParsedManifest::parse(Some(&manifest.media_type), &manifest.content)
        else {
            continue;
        };
        for layer in parsed.layers.iter().take(4) {
            let Some(document) = small_blob(
                governance,
                repository,
                &layer.digest.to_string(),
                bulwark_policy::MAX_VEX_BYTES,
                budget,
            )
            .await?
            else {
                continue;
            };
            match bulwark_policy::parse_vex(&document) {
                Ok(found) => statements.extend(found),
                Err(error) => {
                    tracing::debug!(%repository, vex = %referrer.digest, %error, "an attached VEX document does not parse")
                }
            }
        }
    }
    Ok(statements)
}
