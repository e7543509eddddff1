//! The metadata suite, run on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulwark_metadata::{
    BlobUnlink, ManifestDelete, MetadataStore, MissingContent, NewManifest, PutManifestError,
    UploadPart,
};
use bulwark_oci::{Digest, ReferenceKind, RepositoryName, Tag};
use bulwark_test_support::{Backend, TestDatabase};

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

fn tag(s: &str) -> Tag {
    s.parse().unwrap()
}

fn manifest(
    content: &str,
    references: Vec<(ReferenceKind, Digest, i64)>,
    subject: Option<Digest>,
) -> NewManifest {
    NewManifest {
        digest: Digest::sha256_of(content.as_bytes()),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        content: content.as_bytes().to_vec(),
        artifact_type: Some("application/example".into()),
        subject,
        annotations: None,
        references,
    }
}

async fn suite(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = MetadataStore::connect(db.url(), 4).await.unwrap();
    let repo = name("proj/app");
    let other = name("proj/other");

    // Upload sessions: appends are ordered and race-checked.
    let session = "5f0e8d1c-0000-4000-8000-000000000001";
    store.create_upload(session, &repo).await.unwrap();
    assert!(store.upload(session, &other).await.unwrap().is_none());
    let part = UploadPart {
        name: "p1".into(),
        size: 5,
        sha256: Digest::sha256_of(b"hello"),
    };
    assert!(store.append_upload_part(session, 0, &part).await.unwrap());
    assert!(!store.append_upload_part(session, 0, &part).await.unwrap());
    let record = store.upload(session, &repo).await.unwrap().unwrap();
    assert_eq!(record.size, 5);
    assert_eq!(record.parts, vec![part]);
    assert!(
        store
            .stale_uploads(i64::MAX)
            .await
            .unwrap()
            .contains(&session.to_owned())
    );
    assert!(store.stale_uploads(0).await.unwrap().is_empty());
    store.delete_upload(session).await.unwrap();
    assert!(!store.upload_exists(session).await.unwrap());

    // Blobs are visible per repository.
    let config = Digest::sha256_of(b"config");
    let layer = Digest::sha256_of(b"layer");
    store.link_blob(&repo, &config, 6).await.unwrap();
    store.link_blob(&repo, &layer, 5).await.unwrap();
    store.link_blob(&repo, &layer, 5).await.unwrap();
    assert_eq!(store.repository_blob(&repo, &layer).await.unwrap(), Some(5));
    assert_eq!(store.repository_blob(&other, &layer).await.unwrap(), None);

    // A manifest needs its content, with the right sizes.
    let missing = manifest(
        "m0",
        vec![(ReferenceKind::Blob, Digest::sha256_of(b"nope"), 1)],
        None,
    );
    assert!(matches!(
        store.put_manifest(&repo, &missing, None).await,
        Err(PutManifestError::Missing(MissingContent::Absent { .. }))
    ));
    let wrong_size = manifest("m0", vec![(ReferenceKind::Blob, layer.clone(), 6)], None);
    assert!(matches!(
        store.put_manifest(&repo, &wrong_size, None).await,
        Err(PutManifestError::Missing(
            MissingContent::SizeMismatch { .. }
        ))
    ));
    let image = manifest(
        "image",
        vec![
            (ReferenceKind::Blob, config.clone(), 6),
            (ReferenceKind::Blob, layer.clone(), 5),
        ],
        None,
    );
    store
        .put_manifest(&repo, &image, Some(&tag("v1")))
        .await
        .unwrap();
    store
        .put_manifest(&repo, &image, Some(&tag("latest")))
        .await
        .unwrap();
    let tagged = store
        .manifest_by_tag(&repo, &tag("v1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (tagged.digest, tagged.content),
        (image.digest.clone(), b"image".to_vec())
    );
    let stored = store.manifest(&repo, &image.digest).await.unwrap().unwrap();
    assert_eq!(stored.content, b"image");
    assert!(
        store
            .manifest(&other, &image.digest)
            .await
            .unwrap()
            .is_none()
    );

    // Tags and catalog page in byte order.
    for t in ["B", "a", "c", "A"] {
        store
            .put_manifest(&repo, &image, Some(&tag(t)))
            .await
            .unwrap();
    }
    assert_eq!(
        store.tags(&repo, None, 100).await.unwrap(),
        ["A", "B", "a", "c", "latest", "v1"]
    );
    assert_eq!(store.tags(&repo, Some("B"), 2).await.unwrap(), ["a", "c"]);
    store.link_blob(&other, &layer, 5).await.unwrap();
    assert_eq!(
        store.repositories(None, 10).await.unwrap(),
        ["proj/app", "proj/other"]
    );
    assert_eq!(
        store.repositories(Some("proj/app"), 10).await.unwrap(),
        ["proj/other"]
    );

    // Referrers by subject and artifact type.
    let sbom = manifest(
        "sbom",
        vec![(ReferenceKind::Blob, config.clone(), 6)],
        Some(image.digest.clone()),
    );
    store.put_manifest(&repo, &sbom, None).await.unwrap();
    let referrers = store
        .referrers(&repo, &image.digest, None, None, 100)
        .await
        .unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0].digest, sbom.digest);
    assert!(
        store
            .referrers(&repo, &image.digest, Some("other/type"), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .referrers(&repo, &image.digest, Some("application/example"), None, 100)
            .await
            .unwrap()
            .len(),
        1
    );

    // An index keeps its children; blobs in use stay linked.
    let index = manifest(
        "index",
        vec![(ReferenceKind::Manifest, image.digest.clone(), 5)],
        None,
    );
    store.put_manifest(&repo, &index, None).await.unwrap();
    assert!(matches!(
        store.delete_manifest(&repo, &image.digest).await.unwrap(),
        ManifestDelete::ReferencedBy(_)
    ));
    assert!(matches!(
        store.unlink_blob(&repo, &layer).await.unwrap(),
        BlobUnlink::ReferencedBy(_)
    ));
    assert_eq!(
        store.delete_manifest(&repo, &index.digest).await.unwrap(),
        ManifestDelete::Deleted
    );
    assert!(store.delete_tag(&repo, &tag("A")).await.unwrap());
    assert!(!store.delete_tag(&repo, &tag("A")).await.unwrap());
    assert_eq!(
        store.delete_manifest(&repo, &image.digest).await.unwrap(),
        ManifestDelete::Deleted
    );
    assert!(
        store
            .manifest_by_tag(&repo, &tag("v1"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.tags(&repo, None, 100).await.unwrap().is_empty());
    assert_eq!(
        store.delete_manifest(&repo, &image.digest).await.unwrap(),
        ManifestDelete::NotFound
    );
    assert_eq!(
        store
            .delete_manifest(&sbom_repo_absent(), &image.digest)
            .await
            .unwrap(),
        ManifestDelete::NotFound
    );
    assert_eq!(
        store.delete_manifest(&repo, &sbom.digest).await.unwrap(),
        ManifestDelete::Deleted
    );
    assert_eq!(
        store.unlink_blob(&repo, &layer).await.unwrap(),
        BlobUnlink::Unlinked
    );
    assert_eq!(
        store.unlink_blob(&repo, &layer).await.unwrap(),
        BlobUnlink::NotFound
    );
    assert_eq!(store.repository_blob(&repo, &layer).await.unwrap(), None);
    store.close().await;
}

fn sbom_repo_absent() -> RepositoryName {
    name("never/pushed")
}

#[tokio::test]
async fn sqlite() {
    suite(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres() {
    suite(Backend::Postgres).await;
}
