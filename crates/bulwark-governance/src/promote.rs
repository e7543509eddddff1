//! Promotion: an artifact copied from one project's repository to another's by reference
//! (every blob linked, never copied), only when the destination project's policy passes on
//! it; its referrers (signatures, SBOMs, VEX, attestations) and cosign's `.sig`/`.att`/
//! `.sbom` tags travel with it. The copy is a sequence of ordinary manifest pushes, children
//! before parents and subjects before referrers, so a promotion interrupted at any step
//! leaves only complete manifests behind, and running it again finishes it.

use bulwark_oci::{
    Digest, ManifestKind, ParsedManifest, Reference, RepositoryName, RequestContext, Tag,
};
use bulwark_policy::TagChange;

use crate::{Evaluation, Governance, GovernanceError, Result};

/// At most this many referrers of one manifest travel with it.
pub const MAX_REFERRERS: usize = 256;

/// What a promotion did.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Promotion {
    pub digest: String,
    pub source: String,
    pub destination: String,
    pub tag: Option<String>,
    /// Manifests stored in the destination (the artifact, its platforms, its referrers).
    pub manifests: usize,
    pub referrers: usize,
    pub decision: Evaluation,
}

impl Governance {
    /// Promotes `reference` of `source` into `destination` (tagged `tag` there, if given).
    /// The caller has checked that it may pull the source and push the destination.
    pub async fn promote(
        &self,
        context: &RequestContext,
        source: &RepositoryName,
        reference: &Reference,
        destination: &RepositoryName,
        tag: Option<&Tag>,
    ) -> Result<Promotion> {
        let manifest = self.registry().manifest(source, reference).await?;
        let digest = manifest.digest.clone();
        // Who may not pull it where it is may not launder it through a laxer project.
        let pulled_as = match reference {
            Reference::Tag(tag) => Some(tag.as_str()),
            Reference::Digest(_) => None,
        };
        if let Some(decision) = self
            .judge_pull(
                source,
                &digest,
                (&manifest.content, &manifest.media_type),
                pulled_as,
            )
            .await?
        {
            self.metrics().denied("promote", &decision);
            let message = decision.denial_message(&format!("{source}@{digest}"));
            return Err(GovernanceError::Refused {
                message: format!("promotion refused: {source} itself refuses it: {message}"),
                decision: Box::new((*decision).clone()),
            });
        }
        let evaluation = self
            .evaluate(source, &digest, Some(destination.project()))
            .await?;
        if !evaluation.allowed {
            self.metrics().denied("promote", &evaluation.decision);
            let message = evaluation
                .decision
                .denial_message(&format!("{source}@{digest}"));
            return Err(GovernanceError::Refused {
                message: format!("promotion to {destination} refused: {message}"),
                decision: Box::new(evaluation.decision),
            });
        }
        if let Some(tag) = tag {
            let current = self
                .stored_manifest(destination, &Reference::Tag(tag.clone()))
                .await?
                .map(|found| found.digest);
            if let TagChange::Denied { pattern } = self
                .tag_change(
                    destination,
                    tag.as_str(),
                    current.as_ref(),
                    Some(&digest),
                    false,
                    false,
                )
                .await?
            {
                return Err(GovernanceError::Immutable {
                    tag: tag.to_string(),
                    pattern,
                });
            }
        }
        let mut copy = Copy {
            governance: self,
            context,
            source,
            destination,
            manifests: 0,
            referrers: 0,
        };
        let children = copy
            .manifest(&digest, &manifest.media_type, &manifest.content, 0)
            .await?;
        let mut subjects = vec![digest.clone()];
        subjects.extend(children);
        for subject in &subjects {
            copy.attachments(subject).await?;
        }
        // The tag last: whoever pulls it finds the signatures and SBOMs already there.
        if let Some(tag) = tag {
            copy.put(
                &Reference::Tag(tag.clone()),
                &manifest.media_type,
                &manifest.content,
            )
            .await?;
        }
        self.changed();
        tracing::info!(target: "audit", actor = %context.actor, %source, %destination, %digest, "promoted");
        Ok(Promotion {
            digest: digest.to_string(),
            source: source.to_string(),
            destination: destination.to_string(),
            tag: tag.map(|t| t.to_string()),
            manifests: copy.manifests,
            referrers: copy.referrers,
            decision: evaluation,
        })
    }
}

struct Copy<'a> {
    governance: &'a Governance,
    context: &'a RequestContext,
    source: &'a RepositoryName,
    destination: &'a RepositoryName,
    manifests: usize,
    referrers: usize,
}

impl Copy<'_> {
    /// Links what `content` references into the destination and stores it there by digest;
    /// returns the digests of an index's children.
    async fn manifest(
        &mut self,
        digest: &Digest,
        media_type: &str,
        content: &[u8],
        depth: usize,
    ) -> Result<Vec<Digest>> {
        let parsed = ParsedManifest::parse(Some(media_type), content)
            .map_err(|e| GovernanceError::Invalid(format!("the source manifest: {e}")))?;
        let mut children = Vec::new();
        if parsed.kind.is_index() {
            if depth > 0 {
                return Err(GovernanceError::Invalid(
                    "an index inside an index is not promoted".into(),
                ));
            }
            for child in &parsed.manifests {
                if ManifestKind::from_media_type(&child.media_type).is_none() {
                    continue;
                }
                let stored = self
                    .governance
                    .registry()
                    .manifest(self.source, &Reference::Digest(child.digest.clone()))
                    .await?;
                Box::pin(self.manifest(
                    &child.digest,
                    &stored.media_type,
                    &stored.content,
                    depth + 1,
                ))
                .await?;
                children.push(child.digest.clone());
            }
        }
        // Foreign layers (with `urls`) are not stored here: nothing to link.
        for blob in parsed
            .config
            .iter()
            .chain(&parsed.layers)
            .filter(|blob| blob.urls.is_empty())
        {
            let linked = self
                .governance
                .registry()
                .mount_blob(self.destination, self.source, &blob.digest)
                .await?;
            if !linked {
                return Err(GovernanceError::Registry(
                    bulwark_registry::RegistryError::StorageInconsistent(format!(
                        "blob {} of the source is not stored",
                        blob.digest
                    )),
                ));
            }
        }
        self.put(&Reference::Digest(digest.clone()), media_type, content)
            .await?;
        Ok(children)
    }

    async fn put(&mut self, reference: &Reference, media_type: &str, content: &[u8]) -> Result<()> {
        self.governance
            .registry()
            .put_manifest(
                self.context,
                self.destination,
                reference,
                &[],
                Some(media_type),
                bytes::Bytes::copy_from_slice(content),
            )
            .await?;
        self.manifests += 1;
        Ok(())
    }

    /// The referrers of `subject` and cosign's tags for it.
    async fn attachments(&mut self, subject: &Digest) -> Result<()> {
        let mut last: Option<String> = None;
        let mut seen = 0usize;
        loop {
            let (page, more) = self
                .governance
                .registry()
                .referrers(self.source, subject, None, last.as_deref())
                .await?;
            for referrer in &page {
                if seen >= MAX_REFERRERS {
                    return Ok(());
                }
                seen += 1;
                let stored = self
                    .governance
                    .registry()
                    .manifest(self.source, &Reference::Digest(referrer.digest.clone()))
                    .await?;
                if ManifestKind::from_media_type(&stored.media_type).is_some_and(|k| k.is_index()) {
                    tracing::warn!(referrer = %referrer.digest, "an index attached as a referrer is not promoted");
                    continue;
                }
                self.manifest(&referrer.digest, &stored.media_type, &stored.content, 1)
                    .await?;
                self.referrers += 1;
            }
            last = page.last().map(|r| r.digest.to_string());
            if !more || last.is_none() {
                break;
            }
        }
        // cosign's tag-based attachments: `sha256-<hex>.sig|.att|.sbom`.
        let Ok(sig) = bulwark_signature::simple_signing_tag(&subject.to_string()) else {
            return Ok(());
        };
        let stem = sig.trim_end_matches(".sig").to_owned();
        for suffix in ["sig", "att", "sbom"] {
            let Ok(tag) = format!("{stem}.{suffix}").parse::<Tag>() else {
                continue;
            };
            let Some(stored) = self
                .governance
                .stored_manifest(self.source, &Reference::Tag(tag.clone()))
                .await?
            else {
                continue;
            };
            // The destination's own signatures under that tag are not overwritten.
            let theirs = self
                .governance
                .stored_manifest(self.destination, &Reference::Tag(tag.clone()))
                .await?;
            if theirs.is_some_and(|theirs| theirs.digest != stored.digest) {
                tracing::warn!(destination = %self.destination, %tag, "the destination has its own; not replaced");
                continue;
            }
            self.manifest(&stored.digest, &stored.media_type, &stored.content, 1)
                .await?;
            self.put(&Reference::Tag(tag), &stored.media_type, &stored.content)
                .await?;
            self.referrers += 1;
        }
        Ok(())
    }
}
