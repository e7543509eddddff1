//! A page of referrers is bounded by its size, not only by its count: referrers with large
//! annotations come in several pages, each under the bound, together exactly once each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulwark_blobstore::BlobStore;
use bulwark_metadata::MetadataStore;
use bulwark_oci::{Digest, Reference, RepositoryName};
use bulwark_registry::{Registry, RegistryLimits};
use bulwark_test_support::{Backend, TestDatabase};
use bytes::Bytes;

const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

#[tokio::test]
async fn large_referrers_come_in_pages_bounded_by_size() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let metadata = MetadataStore::connect(db.url(), 4).await.unwrap();
    metadata.create_project("proj", false).await.unwrap();
    let registry = Registry::new(BlobStore::in_memory(), metadata, RegistryLimits::default());
    let repo: RepositoryName = "proj/app".parse().unwrap();
    let config = Digest::sha256_of(b"{}");
    registry
        .put_blob(
            &repo,
            &config,
            None,
            futures::stream::iter([Ok(Bytes::from_static(b"{}"))]),
        )
        .await
        .unwrap();
    let manifest = |annotation: Option<String>| {
        let mut value = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/example",
            "config": { "mediaType": EMPTY_CONFIG, "digest": config.to_string(), "size": 2 },
            "layers": [],
        });
        if let Some(annotation) = annotation {
            value["annotations"] = serde_json::json!({ "note": annotation });
        }
        Bytes::from(serde_json::to_vec(&value).unwrap())
    };
    let context = bulwark_oci::RequestContext::internal("test", 0);
    let subject_bytes = manifest(None);
    let subject = Digest::sha256_of(&subject_bytes);
    registry
        .put_manifest(
            &context,
            &repo,
            &Reference::Tag("v1".parse().unwrap()),
            &[],
            None,
            subject_bytes,
        )
        .await
        .unwrap();
    // Ten referrers of about 1 MiB each.
    let mut pushed = Vec::new();
    for n in 0..10 {
        let mut value: serde_json::Value =
            serde_json::from_slice(&manifest(Some(format!("{n}{}", "x".repeat(1 << 20))))).unwrap();
        value["subject"] = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": subject.to_string(),
            "size": 0,
        });
        let bytes = Bytes::from(serde_json::to_vec(&value).unwrap());
        let digest = Digest::sha256_of(&bytes);
        registry
            .put_manifest(
                &context,
                &repo,
                &Reference::Digest(digest.clone()),
                &[],
                None,
                bytes,
            )
            .await
            .unwrap();
        pushed.push(digest.to_string());
    }
    pushed.sort();
    let mut seen = Vec::new();
    let mut last: Option<String> = None;
    let mut pages = 0;
    loop {
        let (page, more) = registry
            .referrers(&repo, &subject, None, last.as_deref())
            .await
            .unwrap();
        pages += 1;
        let bytes: usize = page
            .iter()
            .map(|m| m.annotations.as_ref().map_or(0, String::len))
            .sum();
        assert!(!page.is_empty());
        assert!(
            bytes <= 4 * 1024 * 1024 + 64 * 1024,
            "a page of {bytes} bytes"
        );
        seen.extend(page.iter().map(|m| m.digest.to_string()));
        last = page.last().map(|m| m.digest.to_string());
        if !more {
            break;
        }
    }
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(seen, pushed);
}
