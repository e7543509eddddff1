//! Real OCI clients against a real server: skopeo copy/inspect/list-tags/delete, byte-exact
//! round trips, docker-archive input, and an SBOM artifact found through the referrers API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

fn registry_ref(server: &TestServer, path: &str) -> String {
    format!("docker://{}/{path}", server.address)
}

/// Every file under `blobs/` of two OCI layouts, with contents.
fn blobs_of(layout: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read(entry.path()).unwrap(),
            )
        })
        .collect()
}

async fn skopeo_round_trip(backend: Backend) {
    let server = TestServer::start(backend).await;
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    let payload: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let manifest_digest = write_oci_layout(&source, "v1", &payload);
    let src = format!("oci:{}:v1", source.display());
    // `skopeo login` keeps the credentials in an auth file the later commands read.
    let authfile = work.path().join("auth.json").display().to_string();
    run(
        "skopeo",
        &[
            "login",
            "--tls-verify=false",
            "--authfile",
            &authfile,
            "--username",
            "admin",
            "--password",
            &server.admin_token,
            &server.address,
        ],
    );

    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--authfile",
            &authfile,
            &src,
            &registry_ref(&server, "proj/app:v1"),
        ],
    );
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--authfile",
            &authfile,
            &src,
            &registry_ref(&server, "proj/app:latest"),
        ],
    );

    let inspect: serde_json::Value = serde_json::from_str(&run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--authfile",
            &authfile,
            &registry_ref(&server, "proj/app:v1"),
        ],
    ))
    .unwrap();
    assert_eq!(
        inspect["Digest"],
        manifest_digest.to_string(),
        "the digest survives the round trip"
    );
    assert_eq!(inspect["Architecture"], "amd64");

    let tags: serde_json::Value = serde_json::from_str(&run(
        "skopeo",
        &[
            "list-tags",
            "--tls-verify=false",
            "--authfile",
            &authfile,
            &registry_ref(&server, "proj/app"),
        ],
    ))
    .unwrap();
    assert_eq!(tags["Tags"], serde_json::json!(["latest", "v1"]));

    let pulled = work.path().join("pulled");
    run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            "--authfile",
            &authfile,
            &registry_ref(&server, "proj/app:v1"),
            &format!("oci:{}:v1", pulled.display()),
        ],
    );
    assert_eq!(
        blobs_of(&source),
        blobs_of(&pulled),
        "byte-identical blobs and manifest"
    );

    // Deleting by tag through skopeo deletes the manifest, and with it every tag on it.
    run(
        "skopeo",
        &[
            "delete",
            "--tls-verify=false",
            "--authfile",
            &authfile,
            &registry_ref(&server, "proj/app:v1"),
        ],
    );
    let tags: serde_json::Value = serde_json::from_str(&run(
        "skopeo",
        &[
            "list-tags",
            "--tls-verify=false",
            "--authfile",
            &authfile,
            &registry_ref(&server, "proj/app"),
        ],
    ))
    .unwrap();
    assert_eq!(tags["Tags"], serde_json::json!([]));
}

async fn skopeo_docker_archive(backend: Backend) {
    let server = TestServer::start(backend).await;
    let creds = server.creds();
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    write_oci_layout(&source, "v1", b"docker archive payload");
    let archive = work.path().join("image.tar");
    run(
        "skopeo",
        &[
            "copy",
            &format!("oci:{}:v1", source.display()),
            &format!("docker-archive:{}:proj/legacy:v1", archive.display()),
        ],
    );
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
            &format!("docker-archive:{}", archive.display()),
            &registry_ref(&server, "proj/legacy:v1"),
        ],
    );
    let raw = run(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &creds,
            &registry_ref(&server, "proj/legacy:v1"),
        ],
    );
    let manifest: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let back = work.path().join("back.tar");
    run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            &creds,
            &registry_ref(&server, "proj/legacy:v1"),
            &format!("docker-archive:{}", back.display()),
        ],
    );
    assert!(back.metadata().unwrap().len() > 0);
}

async fn sbom_attached_and_discovered(backend: Backend) {
    let server = TestServer::start(backend).await;
    let creds = server.creds();
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    let image_digest = write_oci_layout(&source, "v1", b"image with an sbom");
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
            &format!("oci:{}:v1", source.display()),
            &registry_ref(&server, "proj/app:v1"),
        ],
    );
    let image_size = run(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &creds,
            &registry_ref(&server, "proj/app:v1"),
        ],
    )
    .len();

    // An SBOM artifact whose subject is the image, pushed as its own OCI layout by skopeo.
    let sbom_dir = work.path().join("sbom");
    let blobs = sbom_dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = sha256(bytes);
        std::fs::write(blobs.join(digest.encoded()), bytes).unwrap();
        digest
    };
    let sbom = br#"{"spdxVersion":"SPDX-2.3","name":"app"}"#;
    let sbom_digest = put(sbom);
    let empty_digest = put(b"{}");
    let artifact = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest.to_string(), "size": 2},
        "layers": [{"mediaType": "application/spdx+json", "digest": sbom_digest.to_string(), "size": sbom.len()}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": image_digest.to_string(), "size": image_size},
    }))
    .unwrap();
    let artifact_digest = put(&artifact);
    std::fs::write(
        sbom_dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": artifact_digest.to_string(), "size": artifact.len(),
             "annotations": {"org.opencontainers.image.ref.name": "sbom"}}]}))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(
        sbom_dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
            &format!("oci:{}:sbom", sbom_dir.display()),
            &registry_ref(&server, &format!("proj/app@{artifact_digest}")),
        ],
    );

    let index: serde_json::Value = server
        .client()
        .get(server.url(&format!(
            "/v2/proj/app/referrers/{image_digest}?artifactType=application/spdx%2Bjson"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1);
    assert_eq!(manifests[0]["digest"], artifact_digest.to_string());
    assert_eq!(manifests[0]["artifactType"], "application/spdx+json");
}

async fn podman_pull_and_push(backend: Backend) {
    let server = TestServer::start(backend).await;
    let creds = server.creds();
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    let digest = write_oci_layout(&source, "v1", b"for podman");
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
            &format!("oci:{}:v1", source.display()),
            &registry_ref(&server, "proj/app:v1"),
        ],
    );
    // Private storage per test (vfs works as root without fuse-overlayfs).
    let root = work.path().join("podman-root");
    let runroot = work.path().join("podman-runroot");
    let podman = |args: &[&str]| {
        let mut all = vec![
            "--storage-driver",
            "vfs",
            "--root",
            root.to_str().unwrap(),
            "--runroot",
            runroot.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        run("podman", &all)
    };
    let pulled = format!("{}/proj/app:v1", server.address);
    let pushed = format!("{}/proj/copy:v2", server.address);
    let authfile = work.path().join("podman-auth.json");
    let authfile = authfile.to_str().unwrap();
    podman(&[
        "login",
        "--tls-verify=false",
        "--authfile",
        authfile,
        "--username",
        "admin",
        "--password",
        &server.admin_token,
        &server.address,
    ]);
    podman(&[
        "pull",
        "--tls-verify=false",
        "--authfile",
        authfile,
        &pulled,
    ]);
    podman(&["tag", &pulled, &pushed]);
    podman(&[
        "push",
        "--tls-verify=false",
        "--authfile",
        authfile,
        &pushed,
    ]);
    let inspect: serde_json::Value = serde_json::from_str(&run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--creds",
            &creds,
            &registry_ref(&server, "proj/copy:v2"),
        ],
    ))
    .unwrap();
    assert_eq!(inspect["RepoTags"], serde_json::json!(["v2"]));
    let original: serde_json::Value = serde_json::from_str(&run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--creds",
            &creds,
            &registry_ref(&server, "proj/app:v1"),
        ],
    ))
    .unwrap();
    assert_eq!(original["Digest"], digest.to_string());
    assert_eq!(
        inspect["Layers"], original["Layers"],
        "the layers podman pushed are the ones it pulled"
    );
}

on_both_backends!(
    skopeo_round_trip,
    skopeo_docker_archive,
    sbom_attached_and_discovered,
    podman_pull_and_push
);
