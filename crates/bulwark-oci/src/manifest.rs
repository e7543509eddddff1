//! Manifest parsing and validation: the four manifest formats a registry serves, what each
//! references, and the fields the referrers API needs.
//!
//! Parsing never changes the bytes: the registry stores and serves exactly what was pushed,
//! this module only reads it to validate and to index references.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::digest::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    OciManifest,
    OciIndex,
    DockerManifest,
    DockerManifestList,
}

impl ManifestKind {
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            OCI_MANIFEST => Some(ManifestKind::OciManifest),
            OCI_INDEX => Some(ManifestKind::OciIndex),
            DOCKER_MANIFEST => Some(ManifestKind::DockerManifest),
            DOCKER_MANIFEST_LIST => Some(ManifestKind::DockerManifestList),
            _ => None,
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            ManifestKind::OciManifest => OCI_MANIFEST,
            ManifestKind::OciIndex => OCI_INDEX,
            ManifestKind::DockerManifest => DOCKER_MANIFEST,
            ManifestKind::DockerManifestList => DOCKER_MANIFEST_LIST,
        }
    }

    pub fn is_index(self) -> bool {
        matches!(
            self,
            ManifestKind::OciIndex | ManifestKind::DockerManifestList
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("Content-Type {content_type:?} does not match the manifest's mediaType {media_type:?}")]
    MediaTypeMismatch {
        content_type: String,
        media_type: String,
    },
    #[error("schemaVersion must be 2")]
    SchemaVersion,
    #[error("the manifest has no mediaType and the request no manifest Content-Type")]
    UnknownKind,
    #[error("{0}")]
    Invalid(String),
}

/// A content descriptor as it appears in manifests and in the referrers index.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

/// What a content reference points at, and so which table must already hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReferenceKind {
    Blob,
    Manifest,
}

/// A manifest read for validation and indexing.
#[derive(Debug, Clone)]
pub struct ParsedManifest {
    pub kind: ManifestKind,
    pub config: Option<Descriptor>,
    pub layers: Vec<Descriptor>,
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    /// `artifactType`, or for an image manifest without one the config's media type, as the
    /// referrers API reports it.
    pub artifact_type: Option<String>,
    pub annotations: Option<BTreeMap<String, String>>,
}

fn media_type_essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

fn valid_media_type(media_type: &str) -> bool {
    // RFC 6838: type "/" subtype, restricted-name characters.
    let ok_part = |part: &str| {
        !part.is_empty()
            && part.len() <= 127
            && part.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'!' | b'#' | b'$' | b'&' | b'-' | b'^' | b'_' | b'.' | b'+'
                    )
            })
    };
    match media_type.split_once('/') {
        Some((kind, subtype)) => ok_part(kind) && ok_part(subtype),
        None => false,
    }
}

fn check_descriptor(field: &str, descriptor: &Descriptor) -> Result<(), ManifestError> {
    if !valid_media_type(&descriptor.media_type) {
        return Err(ManifestError::Invalid(format!(
            "{field}: mediaType {:?} is not a valid media type",
            descriptor.media_type
        )));
    }
    if descriptor.size < 0 {
        return Err(ManifestError::Invalid(format!(
            "{field}: size must not be negative"
        )));
    }
    if let Some(artifact_type) = &descriptor.artifact_type
        && !valid_media_type(artifact_type)
    {
        return Err(ManifestError::Invalid(format!(
            "{field}: artifactType {artifact_type:?} is not a valid media type"
        )));
    }
    Ok(())
}

impl ParsedManifest {
    /// Parses `bytes` pushed with `content_type` (the request's `Content-Type`, if any).
    pub fn parse(content_type: Option<&str>, bytes: &[u8]) -> Result<Self, ManifestError> {
        let raw: RawManifest = serde_json::from_slice(bytes)?;
        let declared = content_type
            .map(media_type_essence)
            .filter(|essence| !essence.is_empty());
        let kind = match (declared, raw.media_type.as_deref()) {
            (Some(declared), Some(body)) if declared != body => {
                return Err(ManifestError::MediaTypeMismatch {
                    content_type: declared.to_owned(),
                    media_type: body.to_owned(),
                });
            }
            (_, Some(body)) => ManifestKind::from_media_type(body)
                .ok_or_else(|| ManifestError::UnsupportedMediaType(body.to_owned()))?,
            (Some(declared), None) => ManifestKind::from_media_type(declared)
                .ok_or_else(|| ManifestError::UnsupportedMediaType(declared.to_owned()))?,
            (None, None) => return Err(ManifestError::UnknownKind),
        };
        if raw.schema_version != Some(2) {
            return Err(ManifestError::SchemaVersion);
        }
        let parsed = match kind {
            ManifestKind::OciManifest | ManifestKind::DockerManifest => {
                let config = raw.config.ok_or_else(|| {
                    ManifestError::Invalid("an image manifest needs a config".into())
                })?;
                let layers = raw.layers.ok_or_else(|| {
                    ManifestError::Invalid("an image manifest needs a layers array".into())
                })?;
                if raw.manifests.is_some() {
                    return Err(ManifestError::Invalid(
                        "an image manifest has no manifests array".into(),
                    ));
                }
                check_descriptor("config", &config)?;
                for (i, layer) in layers.iter().enumerate() {
                    check_descriptor(&format!("layers[{i}]"), layer)?;
                }
                let artifact_type = raw
                    .artifact_type
                    .clone()
                    .or_else(|| Some(config.media_type.clone()));
                ParsedManifest {
                    kind,
                    config: Some(config),
                    layers,
                    manifests: Vec::new(),
                    subject: raw.subject,
                    artifact_type,
                    annotations: raw.annotations,
                }
            }
            ManifestKind::OciIndex | ManifestKind::DockerManifestList => {
                let manifests = raw.manifests.ok_or_else(|| {
                    ManifestError::Invalid("an index needs a manifests array".into())
                })?;
                if raw.config.is_some() || raw.layers.is_some() {
                    return Err(ManifestError::Invalid(
                        "an index has no config or layers".into(),
                    ));
                }
                for (i, child) in manifests.iter().enumerate() {
                    check_descriptor(&format!("manifests[{i}]"), child)?;
                }
                ParsedManifest {
                    kind,
                    config: None,
                    layers: Vec::new(),
                    manifests,
                    subject: raw.subject,
                    artifact_type: raw.artifact_type,
                    annotations: raw.annotations,
                }
            }
        };
        if let Some(subject) = &parsed.subject {
            check_descriptor("subject", subject)?;
        }
        if let Some(artifact_type) = &parsed.artifact_type
            && !valid_media_type(artifact_type)
        {
            return Err(ManifestError::Invalid(format!(
                "artifactType {artifact_type:?} is not a valid media type"
            )));
        }
        Ok(parsed)
    }

    /// The content this manifest needs the repository to hold before it can be stored.
    /// Layers with `urls` (non-distributable, fetched from elsewhere) are not required.
    pub fn required_content(&self) -> Vec<(ReferenceKind, &Descriptor)> {
        let blobs = self
            .config
            .iter()
            .chain(self.layers.iter().filter(|layer| layer.urls.is_empty()))
            .map(|d| (ReferenceKind::Blob, d));
        let children = self.manifests.iter().map(|d| (ReferenceKind::Manifest, d));
        blobs.chain(children).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn image(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}",
            "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},
            "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":10}}]{extra}}}"#,
            digest('a'),
            digest('b')
        )
    }

    #[test]
    fn parses_image_manifest() {
        let parsed = ParsedManifest::parse(Some(OCI_MANIFEST), image("").as_bytes()).unwrap();
        assert_eq!(parsed.kind, ManifestKind::OciManifest);
        assert_eq!(
            parsed.artifact_type.as_deref(),
            Some("application/vnd.oci.image.config.v1+json")
        );
        assert_eq!(parsed.required_content().len(), 2);
    }

    #[test]
    fn subject_and_artifact_type() {
        let extra = format!(
            r#","artifactType":"application/spdx+json","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":5}}"#,
            digest('c')
        );
        let parsed = ParsedManifest::parse(None, image(&extra).as_bytes()).unwrap();
        assert_eq!(
            parsed.artifact_type.as_deref(),
            Some("application/spdx+json")
        );
        assert_eq!(parsed.subject.unwrap().digest.to_string(), digest('c'));
    }

    #[test]
    fn content_type_must_match_body() {
        let err = ParsedManifest::parse(Some(OCI_INDEX), image("").as_bytes()).unwrap_err();
        assert!(matches!(err, ManifestError::MediaTypeMismatch { .. }));
    }

    #[test]
    fn parameters_on_content_type_are_ignored() {
        let ct = format!("{OCI_MANIFEST}; charset=utf-8");
        assert!(ParsedManifest::parse(Some(&ct), image("").as_bytes()).is_ok());
    }

    #[test]
    fn rejects_bad_manifests() {
        for body in [
            "not json",
            r#"{"schemaVersion":1,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#,
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}"#,
            r#"{"schemaVersion":2,"mediaType":"text/plain"}"#,
            r#"{"schemaVersion":2}"#,
        ] {
            assert!(
                ParsedManifest::parse(None, body.as_bytes()).is_err(),
                "{body}"
            );
        }
        let bad_digest = image("").replace(&digest('a'), "sha256:1234");
        assert!(ParsedManifest::parse(None, bad_digest.as_bytes()).is_err());
        let negative = image("").replace("\"size\":2", "\"size\":-2");
        assert!(ParsedManifest::parse(None, negative.as_bytes()).is_err());
    }

    #[test]
    fn foreign_layers_are_not_required() {
        let foreign = image("").replace(
            "\"size\":10}",
            "\"size\":10,\"urls\":[\"https://example.invalid/layer\"]}",
        );
        let parsed = ParsedManifest::parse(None, foreign.as_bytes()).unwrap();
        assert_eq!(parsed.required_content().len(), 1);
    }

    #[test]
    fn index_children_are_manifests() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":7,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
            digest('d')
        );
        let parsed = ParsedManifest::parse(Some(OCI_INDEX), body.as_bytes()).unwrap();
        assert_eq!(parsed.artifact_type, None);
        let required = parsed.required_content();
        assert_eq!(required.len(), 1);
        assert_eq!(required[0].0, ReferenceKind::Manifest);
    }
}
