//! The metadata suite, run on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulwark_metadata::{
    AccessStoreError, BlobUnlink, ManifestDelete, MetadataError, MetadataStore, MissingContent,
    NewManifest, PutManifestError, UploadPart,
};
use bulwark_oci::{Digest, ReferenceKind, RepositoryName, RequestContext, Tag};
use bulwark_test_support::{Backend, TestDatabase};

fn ctx() -> RequestContext {
    RequestContext {
        actor: "alice".into(),
        token_id: Some("tok1".into()),
        client_address: "192.0.2.7".into(),
        request_id: "req-1".into(),
        at_millis: 1_700_000_000_000,
    }
}

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

    // Repositories live in projects: no content enters one whose project is missing.
    let orphan = name("nowhere/app");
    assert!(matches!(
        store.link_blob(&orphan, &Digest::sha256_of(b"x"), 1).await,
        Err(MetadataError::ProjectMissing(project)) if project == "nowhere"
    ));
    assert!(matches!(
        store
            .put_manifest(&orphan, &manifest("{}", vec![], None), &[], &ctx())
            .await,
        Err(PutManifestError::Metadata(MetadataError::ProjectMissing(_)))
    ));
    assert!(store.repositories(None, 10).await.unwrap().is_empty());
    store.create_project("proj", false).await.unwrap();

    // Upload sessions: appends are ordered and race-checked.
    let session = "5f0e8d1c-0000-4000-8000-000000000001";
    store.create_upload(session, &repo).await.unwrap();
    assert!(store.upload(session, &other).await.unwrap().is_none());
    assert_eq!(
        store
            .upload(session, &repo)
            .await
            .unwrap()
            .unwrap()
            .hasher_state,
        None
    );
    let part = UploadPart {
        name: "p1".into(),
        size: 5,
    };
    assert!(
        store
            .append_upload_part(session, 0, &part, "state after 5")
            .await
            .unwrap()
    );
    assert!(
        !store
            .append_upload_part(session, 0, &part, "a lost race")
            .await
            .unwrap()
    );
    let record = store.upload(session, &repo).await.unwrap().unwrap();
    assert_eq!((record.size, record.part_count), (5, 1));
    assert_eq!(store.upload_parts(session).await.unwrap(), vec![part]);
    assert_eq!(record.hasher_state.as_deref(), Some("state after 5"));
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
        store.put_manifest(&repo, &missing, &[], &ctx()).await,
        Err(PutManifestError::Missing(MissingContent::Absent { .. }))
    ));
    let wrong_size = manifest("m0", vec![(ReferenceKind::Blob, layer.clone(), 6)], None);
    assert!(matches!(
        store.put_manifest(&repo, &wrong_size, &[], &ctx()).await,
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
        .put_manifest(&repo, &image, &[tag("v1")], &ctx())
        .await
        .unwrap();
    store
        .put_manifest(&repo, &image, &[tag("latest")], &ctx())
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
            .put_manifest(&repo, &image, &[tag(t)], &ctx())
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

    // Listings narrowed to some projects and the public ones read only their ranges, in
    // byte order across projects (`proj-x/…` sorts before `proj/…`), and page like the rest.
    store.create_project("proj-x", false).await.unwrap();
    store.create_project("pub", true).await.unwrap();
    store.create_project("hidden", false).await.unwrap();
    store.create_project("projx", false).await.unwrap();
    for name in ["proj-x/a", "pub/z", "hidden/a", "projx/no"] {
        store.link_blob(&self::name(name), &layer, 5).await.unwrap();
    }
    assert_eq!(store.public_projects().await.unwrap(), ["pub"]);
    let mut mine: std::collections::BTreeSet<String> =
        ["proj".to_owned(), "proj-x".to_owned()].into();
    mine.extend(store.public_projects().await.unwrap());
    assert_eq!(
        store.repositories_of(&mine, None, 10).await.unwrap(),
        ["proj-x/a", "proj/app", "proj/other", "pub/z"]
    );
    assert_eq!(
        store
            .repositories_of(&mine, Some("proj-x/a"), 2)
            .await
            .unwrap(),
        ["proj/app", "proj/other"]
    );
    assert_eq!(
        store
            .repositories_of(&["pub".to_owned()].into(), None, 10)
            .await
            .unwrap(),
        ["pub/z"]
    );

    // Referrers by subject and artifact type.
    let sbom = manifest(
        "sbom",
        vec![(ReferenceKind::Blob, config.clone(), 6)],
        Some(image.digest.clone()),
    );
    store.put_manifest(&repo, &sbom, &[], &ctx()).await.unwrap();
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
    store
        .put_manifest(&repo, &index, &[], &ctx())
        .await
        .unwrap();
    assert!(matches!(
        store
            .delete_manifest(&repo, &image.digest, &ctx())
            .await
            .unwrap(),
        ManifestDelete::ReferencedBy(_)
    ));
    assert!(matches!(
        store.unlink_blob(&repo, &layer).await.unwrap(),
        BlobUnlink::ReferencedBy(_)
    ));
    assert_eq!(
        store
            .delete_manifest(&repo, &index.digest, &ctx())
            .await
            .unwrap(),
        ManifestDelete::Deleted
    );
    assert!(store.delete_tag(&repo, &tag("A"), &ctx()).await.unwrap());
    assert!(!store.delete_tag(&repo, &tag("A"), &ctx()).await.unwrap());
    assert_eq!(
        store
            .delete_manifest(&repo, &image.digest, &ctx())
            .await
            .unwrap(),
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
        store
            .delete_manifest(&repo, &image.digest, &ctx())
            .await
            .unwrap(),
        ManifestDelete::NotFound
    );
    assert_eq!(
        store
            .delete_manifest(&sbom_repo_absent(), &image.digest, &ctx())
            .await
            .unwrap(),
        ManifestDelete::NotFound
    );
    assert_eq!(
        store
            .delete_manifest(&repo, &sbom.digest, &ctx())
            .await
            .unwrap(),
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

/// A first push into a project racing the project's deletion: whichever wins, no repository
/// is left in a project that no longer exists.
async fn project_deletion_races_first_push(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = MetadataStore::connect(db.url(), 8).await.unwrap();
    let blob = Digest::sha256_of(b"layer");
    let (mut pushed, mut deleted) = (0, 0);
    for round in 0..40 {
        let project = format!("race{round}");
        store.create_project(&project, false).await.unwrap();
        let repo = name(&format!("{project}/app"));
        let (push, delete) = tokio::join!(
            store.link_blob(&repo, &blob, 5),
            store.delete_project(&project)
        );
        match (push, delete) {
            (Ok(()), Err(AccessStoreError::ProjectNotEmpty)) => pushed += 1,
            (Err(MetadataError::ProjectMissing(_)), Ok(true)) => deleted += 1,
            other => panic!("round {round}: {other:?}"),
        }
        let project_exists = store.project_by_name(&project).await.unwrap().is_some();
        let repository_exists = store
            .repositories(None, 1000)
            .await
            .unwrap()
            .contains(&repo.as_str().to_owned());
        assert_eq!(project_exists, repository_exists, "round {round}");
    }
    eprintln!("{backend:?}: the push won {pushed} times, the delete {deleted} times");
    store.close().await;
}

#[tokio::test]
async fn sqlite_project_deletion_races_first_push() {
    project_deletion_races_first_push(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_project_deletion_races_first_push() {
    project_deletion_races_first_push(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite() {
    suite(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres() {
    suite(Backend::Postgres).await;
}
