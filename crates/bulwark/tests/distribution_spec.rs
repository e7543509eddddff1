//! The OCI Distribution Specification v1.1, endpoint by endpoint, against a real server
//! process on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bulwark_oci::{Digest, DigestAlgorithm};
use common::*;
use reqwest::StatusCode;

async fn error_code(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.unwrap();
    body["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn raw_request(address: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = vec![0u8; 4096];
    let n = stream.read(&mut buffer).await.unwrap();
    String::from_utf8_lossy(&buffer[..n]).into_owned()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

async fn base_and_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let c = server.client();
    let response = c.get(server.url("/v2/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "docker-distribution-api-version"),
        "registry/2.0"
    );
    assert!(!header(&response, "x-request-id").is_empty());

    let response = c
        .get(server.url("/v2/Bad_Name/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "NAME_INVALID");

    let response = c
        .get(server.url("/v2/nope/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "NAME_UNKNOWN");

    let response = c
        .get(server.url("/v2/p/a/blobs/sha256:abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "DIGEST_INVALID");

    let response = c
        .get(server.url(&format!("/v2/p/a/blobs/{}", sha256(b"x"))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "BLOB_UNKNOWN");

    let response = c
        .get(server.url("/v2/p/a/manifests/latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "MANIFEST_UNKNOWN");

    let response = c.put(server.url("/v2/p/a/tags/list")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&response, "allow"), "GET");
}

async fn blob_uploads(backend: Backend) {
    let server = TestServer::start(backend).await;
    let c = server.client();
    let repo = "proj/uploads";

    // Monolithic POST ?digest=.
    let digest = push_blob(&server, repo, b"monolithic").await;
    let response = c
        .head(server.url(&format!("/v2/{repo}/blobs/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-length"), "10");
    assert_eq!(
        header(&response, "docker-content-digest"),
        digest.to_string()
    );

    // POST then PUT with the body.
    let response = c
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = header(&response, "location");
    assert!(location.starts_with(&format!("/v2/{repo}/blobs/uploads/")));
    assert_eq!(header(&response, "range"), "0-0");
    let body = b"post then put";
    let response = c
        .put(server.url(&format!("{location}?digest={}", sha256(body))))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        header(&response, "location"),
        format!("/v2/{repo}/blobs/{}", sha256(body))
    );

    // Chunked: PATCH, PATCH, status, out-of-order chunk, PUT.
    let response = c
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/")))
        .send()
        .await
        .unwrap();
    let location = header(&response, "location");
    let response = c
        .patch(server.url(&location))
        .header("content-range", "0-4")
        .header("content-length", "5")
        .body("chunk")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&response, "range"), "0-4");
    let location = header(&response, "location");
    let response = c
        .patch(server.url(&location))
        .header("content-range", "0-4")
        .body("again")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&response, "range"), "0-4");
    // A PATCH without Content-Range streams on (what skopeo sends).
    let response = c
        .patch(server.url(&location))
        .body("ed-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = c.get(server.url(&location)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&response, "range"), "0-7");
    let whole = b"chunked-upload";
    let response = c
        .put(server.url(&format!("{location}?digest={}", sha256(whole))))
        .header("content-range", "8-13")
        .body("upload")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{:?}",
        response.text().await
    );
    let response = c
        .get(server.url(&format!("/v2/{repo}/blobs/{}", sha256(whole))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.bytes().await.unwrap().as_ref(), whole);
    // The finished session is gone.
    let response = c.get(server.url(&location)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "BLOB_UPLOAD_UNKNOWN");

    // While one chunk is arriving, another for the same session is refused with the
    // offset as it stands; the first goes on undisturbed and the session continues.
    let response = c
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/")))
        .send()
        .await
        .unwrap();
    let location = header(&response, "location");
    let (sender, receiver) = futures::channel::mpsc::channel::<std::io::Result<Vec<u8>>>(0);
    let first = tokio::spawn({
        let request = c
            .patch(server.url(&location))
            .body(reqwest::Body::wrap_stream(receiver));
        async move { request.send().await.unwrap() }
    });
    // More than loopback's socket buffers can hold: once all is taken, the server is
    // reading the chunk, and holds the session.
    let mut sender = sender;
    let mut first_chunk = Vec::new();
    for i in 0..32u8 {
        let piece = vec![i; 1024 * 1024];
        first_chunk.extend_from_slice(&piece);
        futures::SinkExt::send(&mut sender, Ok(piece))
            .await
            .unwrap();
    }
    let response = c
        .patch(server.url(&location))
        .header("content-range", "0-4")
        .body("other")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&response, "range"), "0-0");
    drop(sender);
    let response = first.await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let end = first_chunk.len() - 1;
    assert_eq!(header(&response, "range"), format!("0-{end}"));
    first_chunk.extend_from_slice(b"tail");
    let response = c
        .put(server.url(&format!("{location}?digest={}", sha256(&first_chunk))))
        .header("content-range", format!("{}-{}", end + 1, end + 4))
        .body("tail")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = c
        .get(server.url(&format!("/v2/{repo}/blobs/{}", sha256(&first_chunk))))
        .send()
        .await
        .unwrap();
    assert!(response.bytes().await.unwrap() == first_chunk);

    // A wrong digest stores nothing and ends the session.
    let response = c
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/")))
        .send()
        .await
        .unwrap();
    let location = header(&response, "location");
    let claimed = sha256(b"something else");
    let response = c
        .put(server.url(&format!("{location}?digest={claimed}")))
        .body("actual content")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "DIGEST_INVALID");
    let response = c
        .head(server.url(&format!("/v2/{repo}/blobs/{claimed}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = c
        .head(server.url(&format!("/v2/{repo}/blobs/{}", sha256(b"actual content"))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // sha512 digests are verified too.
    let digest512 = Digest::compute(DigestAlgorithm::Sha512, b"sha512 blob");
    let response = c
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest512}")))
        .body("sha512 blob")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = c
        .get(server.url(&format!("/v2/{repo}/blobs/{digest512}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"sha512 blob");

    // Cancel.
    let response = c
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/")))
        .send()
        .await
        .unwrap();
    let location = header(&response, "location");
    let response = c.delete(server.url(&location)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = c.get(server.url(&location)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // A session belongs to its repository.
    let response = c
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/")))
        .send()
        .await
        .unwrap();
    let location = header(&response, "location");
    let foreign = location.replace(repo, "proj/other");
    let response = c.get(server.url(&foreign)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = c
        .get(server.url(&format!("/v2/{repo}/blobs/uploads/not-a-uuid")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // A Content-Range that disagrees with the body's length.
    let response = c
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/")))
        .send()
        .await
        .unwrap();
    let location = header(&response, "location");
    let response = c
        .patch(server.url(&location))
        .header("content-range", "0-9")
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "SIZE_INVALID");
}

async fn mounts(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_project("elsewhere", false).await;
    let c = server.client();
    let digest = push_blob(&server, "proj/source", b"shared layer").await;
    let response = c
        .post(server.url(&format!(
            "/v2/proj/target/blobs/uploads/?mount={digest}&from=proj/source"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        header(&response, "location"),
        format!("/v2/proj/target/blobs/{digest}")
    );
    let response = c
        .head(server.url(&format!("/v2/proj/target/blobs/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Source without the blob: an upload session instead.
    let absent = sha256(b"absent");
    let response = c
        .post(server.url(&format!(
            "/v2/proj/target/blobs/uploads/?mount={absent}&from=proj/source"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(header(&response, "location").contains("/blobs/uploads/"));
    // Without `from`: found in another repository of the same project...
    let response = c
        .post(server.url(&format!("/v2/proj/third/blobs/uploads/?mount={digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    // ...but never taken from another project.
    let response = c
        .post(server.url(&format!("/v2/elsewhere/app/blobs/uploads/?mount={digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

async fn blob_ranges(backend: Backend) {
    let server = TestServer::start(backend).await;
    let c = server.client();
    let digest = push_blob(&server, "proj/ranges", b"0123456789").await;
    let url = server.url(&format!("/v2/proj/ranges/blobs/{digest}"));
    let response = c
        .get(&url)
        .header("range", "bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&response, "content-range"), "bytes 2-5/10");
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"2345");
    let response = c
        .get(&url)
        .header("range", "bytes=-3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"789");
    let response = c
        .get(&url)
        .header("range", "bytes=10-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&response, "content-range"), "bytes */10");
    let response = c.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-length"), "10");
    // Another repository cannot read it.
    let response = c
        .get(server.url(&format!("/v2/proj/elsewhere/blobs/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn manifests(backend: Backend) {
    let server = TestServer::start(backend).await;
    let c = server.client();
    let repo = "proj/manifests";
    let image = push_image(&server, repo, "one").await;
    let digest = sha256(&image);

    let response = put_manifest(&server, repo, "v1", OCI_MANIFEST, &image).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        header(&response, "docker-content-digest"),
        digest.to_string()
    );

    // References are bounded: a layer repeated 20,000 times is one reference; 10,001
    // distinct ones are refused before any is looked up.
    let parsed: serde_json::Value = serde_json::from_slice(&image).unwrap();
    let layer = parsed["layers"][0].clone();
    let with_layers = |layers: Vec<serde_json::Value>| {
        let mut manifest = parsed.clone();
        manifest["layers"] = serde_json::Value::Array(layers);
        serde_json::to_vec(&manifest).unwrap()
    };
    let repeated = with_layers(vec![layer.clone(); 20_000]);
    let accepted = put_manifest(&server, repo, "repeated", OCI_MANIFEST, &repeated).await;
    assert_eq!(accepted.status(), StatusCode::CREATED);
    let distinct = with_layers(
        (0..10_001u32)
            .map(|i| {
                let mut descriptor = layer.clone();
                descriptor["digest"] = sha256(&i.to_le_bytes()).to_string().into();
                descriptor
            })
            .collect(),
    );
    let refused = put_manifest(&server, repo, "distinct", OCI_MANIFEST, &distinct).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(refused).await, "MANIFEST_INVALID");
    assert_eq!(
        header(&response, "location"),
        format!("/v2/{repo}/manifests/{digest}")
    );

    for reference in ["v1".to_owned(), digest.to_string()] {
        let response = c
            .get(server.url(&format!("/v2/{repo}/manifests/{reference}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-type"), OCI_MANIFEST);
        assert_eq!(
            header(&response, "docker-content-digest"),
            digest.to_string()
        );
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            image.as_slice(),
            "byte-exact"
        );
        let response = c
            .head(server.url(&format!("/v2/{repo}/manifests/{reference}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-length"), image.len().to_string());
    }

    // Media type parameters are not kept.
    let response = put_manifest(
        &server,
        repo,
        "v2",
        &format!("{OCI_MANIFEST}; charset=utf-8"),
        &image,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = c
        .head(server.url(&format!("/v2/{repo}/manifests/v2")))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "content-type"), OCI_MANIFEST);

    // By digest, with a digest that does not match the body.
    let response = put_manifest(
        &server,
        repo,
        &sha256(b"other").to_string(),
        OCI_MANIFEST,
        &image,
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "DIGEST_INVALID");

    // Missing blob.
    let dangling = String::from_utf8(image.clone()).unwrap().replace(
        &push_blob(&server, "proj/elsewhere", b"layer of one")
            .await
            .to_string(),
        &sha256(b"never pushed").to_string(),
    );
    let response = put_manifest(&server, repo, "dangling", OCI_MANIFEST, dangling.as_bytes()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "MANIFEST_BLOB_UNKNOWN");

    // Invalid manifests.
    for (content_type, body) in [
        (OCI_MANIFEST, b"{not json".to_vec()),
        (OCI_INDEX, image.clone()),
        (
            OCI_MANIFEST,
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#
                .to_vec(),
        ),
    ] {
        let response = put_manifest(&server, repo, "bad", content_type, &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(response).await, "MANIFEST_INVALID");
    }
    // Refused on its announced length, before a byte of it is read. (Raw TCP: an HTTP client
    // would still be writing the body when the refusal closes the connection.)
    let reply = raw_request(
        &server.address,
        &format!(
            "PUT /v2/{repo}/manifests/huge HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\nContent-Type: {OCI_MANIFEST}\r\nContent-Length: 4194305\r\n\r\n",
            server.basic_credentials()
        ),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");

    // Docker schema 2 and manifest list, returned with the pushed Content-Type.
    let docker = String::from_utf8(push_image(&server, repo, "docker").await)
        .unwrap()
        .replace(
            OCI_MANIFEST,
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .replace(OCI_CONFIG, "application/vnd.docker.container.image.v1+json")
        .replace(
            OCI_LAYER,
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        );
    let docker_type = "application/vnd.docker.distribution.manifest.v2+json";
    let response = put_manifest(&server, repo, "docker", docker_type, docker.as_bytes()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let list_type = "application/vnd.docker.distribution.manifest.list.v2+json";
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": list_type,
        "manifests": [{"mediaType": docker_type, "digest": sha256(docker.as_bytes()).to_string(), "size": docker.len(),
                       "platform": {"architecture": "amd64", "os": "linux"}}]
    }))
    .unwrap();
    let response = put_manifest(&server, repo, "list", list_type, &list).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = c
        .get(server.url(&format!("/v2/{repo}/manifests/list")))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "content-type"), list_type);

    // An index whose child is missing.
    let orphan_index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": sha256(b"no such manifest").to_string(), "size": 3}]
    }))
    .unwrap();
    let response = put_manifest(&server, repo, "orphan", OCI_INDEX, &orphan_index).await;
    assert_eq!(error_code(response).await, "MANIFEST_BLOB_UNKNOWN");
}

async fn tags_and_catalog(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_project("alpha", false).await;
    let c = server.client();
    let image = push_image(&server, "proj/tags", "t").await;
    for tag in ["c", "a", "b", "B", "d"] {
        assert_eq!(
            put_manifest(&server, "proj/tags", tag, OCI_MANIFEST, &image)
                .await
                .status(),
            201
        );
    }
    let response = c
        .get(server.url("/v2/proj/tags/tags/list"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["name"], "proj/tags");
    assert_eq!(body["tags"], serde_json::json!(["B", "a", "b", "c", "d"]));
    let response = c
        .get(server.url("/v2/proj/tags/tags/list?n=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "link"),
        "</v2/proj/tags/tags/list?n=2&last=a>; rel=\"next\""
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["tags"], serde_json::json!(["B", "a"]));
    let response = c
        .get(server.url("/v2/proj/tags/tags/list?n=2&last=c"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "link"), "");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["tags"], serde_json::json!(["d"]));

    push_blob(&server, "proj/zeta", b"z").await;
    push_blob(&server, "alpha", b"a").await;
    let response = c.get(server.url("/v2/_catalog?n=2")).send().await.unwrap();
    assert_eq!(
        header(&response, "link"),
        "</v2/_catalog?n=2&last=proj%2Ftags>; rel=\"next\""
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["repositories"],
        serde_json::json!(["alpha", "proj/tags"])
    );
    let response = c
        .get(server.url("/v2/_catalog?n=2&last=proj/tags"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["repositories"], serde_json::json!(["proj/zeta"]));
}

async fn referrers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let c = server.client();
    let repo = "proj/referrers";
    let image = push_image(&server, repo, "subject").await;
    let subject = sha256(&image);
    // The subject does not need to exist first (spec 1.1).
    let empty = push_blob(&server, repo, b"{}").await;
    let sbom_layer = push_blob(&server, repo, b"{\"spdxVersion\":\"SPDX-2.3\"}").await;
    let artifact = |artifact_type: &str, annotation: &str| {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
            "layers": [{"mediaType": "application/spdx+json", "digest": sbom_layer.to_string(), "size": 26}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject.to_string(), "size": image.len()},
            "annotations": {"org.example.kind": annotation}
        }))
        .unwrap()
    };
    let sbom = artifact("application/spdx+json", "sbom");
    let signature = artifact("application/vnd.dev.cosign.artifact.sig.v1+json", "sig");
    for body in [&sbom, &signature] {
        let response =
            put_manifest(&server, repo, &sha256(body).to_string(), OCI_MANIFEST, body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(header(&response, "oci-subject"), subject.to_string());
    }
    assert_eq!(
        put_manifest(&server, repo, "v1", OCI_MANIFEST, &image)
            .await
            .status(),
        201
    );

    let response = c
        .get(server.url(&format!("/v2/{repo}/referrers/{subject}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), OCI_INDEX);
    assert_eq!(header(&response, "oci-filters-applied"), "");
    let index: serde_json::Value = response.json().await.unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], OCI_INDEX);
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2);
    let sbom_entry = manifests
        .iter()
        .find(|m| m["digest"] == sha256(&sbom).to_string())
        .unwrap();
    assert_eq!(sbom_entry["artifactType"], "application/spdx+json");
    assert_eq!(sbom_entry["size"], sbom.len());
    assert_eq!(sbom_entry["annotations"]["org.example.kind"], "sbom");

    let response = c
        .get(server.url(&format!(
            "/v2/{repo}/referrers/{subject}?artifactType=application/spdx%2Bjson"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "oci-filters-applied"), "artifactType");
    let index: serde_json::Value = response.json().await.unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);

    let response = c
        .get(server.url(&format!("/v2/{repo}/referrers/{}", sha256(b"nothing"))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let index: serde_json::Value = response.json().await.unwrap();
    assert_eq!(index["manifests"], serde_json::json!([]));
    let response = c
        .get(server.url(&format!("/v2/{repo}/referrers/sha256:bad")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

async fn deletion(backend: Backend) {
    let server = TestServer::start(backend).await;
    let c = server.client();
    let repo = "proj/delete";
    let image = push_image(&server, repo, "del").await;
    let digest = sha256(&image);
    for tag in ["v1", "latest"] {
        put_manifest(&server, repo, tag, OCI_MANIFEST, &image).await;
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest.to_string(), "size": image.len()}]
    }))
    .unwrap();
    assert_eq!(
        put_manifest(&server, repo, "multi", OCI_INDEX, &index)
            .await
            .status(),
        201
    );

    // Layers in use and manifests listed by an index are kept.
    let layer = sha256(b"layer of del");
    let response = c
        .delete(server.url(&format!("/v2/{repo}/blobs/{layer}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let response = c
        .delete(server.url(&format!("/v2/{repo}/manifests/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

    // Tag deletion leaves the manifest.
    let response = c
        .delete(server.url(&format!("/v2/{repo}/manifests/latest")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = c
        .get(server.url(&format!("/v2/{repo}/manifests/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Deleting by digest removes the tags that point at it.
    let response = c
        .delete(server.url(&format!("/v2/{repo}/manifests/{}", sha256(&index))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = c
        .delete(server.url(&format!("/v2/{repo}/manifests/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = c
        .get(server.url(&format!("/v2/{repo}/manifests/v1")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = c
        .get(server.url(&format!("/v2/{repo}/tags/list")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["tags"], serde_json::json!([]));
    let response = c
        .delete(server.url(&format!("/v2/{repo}/manifests/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Now the blob is free to go from the repository.
    let response = c
        .delete(server.url(&format!("/v2/{repo}/blobs/{layer}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = c
        .head(server.url(&format!("/v2/{repo}/blobs/{layer}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn blob_size_limit(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            ("BULWARK_MAX_BLOB_SIZE", "1000"),
            ("BULWARK_MAX_UPLOAD_CHUNKS", "3"),
        ],
    )
    .await;
    let c = server.client();
    let big = vec![7u8; 1001];
    let response = c
        .post(server.url(&format!(
            "/v2/proj/limits/blobs/uploads/?digest={}",
            sha256(&big)
        )))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(response).await, "SIZE_INVALID");
    // Chunks add up: the limit holds across a session too, and nothing is stored.
    let response = c
        .post(server.url("/v2/proj/limits/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let location = header(&response, "location");
    let response = c
        .patch(server.url(&location))
        .body(big[..600].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = c
        .put(server.url(&format!("{location}?digest={}", sha256(&big))))
        .body(big[600..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let response = c
        .head(server.url(&format!("/v2/proj/limits/blobs/{}", sha256(&big))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let exact = vec![1u8; 1000];
    push_blob(&server, "proj/limits", &exact).await;

    // A session takes at most three chunks; an empty PUT still completes it.
    let response = c
        .post(server.url("/v2/proj/limits/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let mut location = header(&response, "location");
    for chunk in ["a", "b", "c"] {
        let response = c
            .patch(server.url(&location))
            .body(chunk)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        location = header(&response, "location");
    }
    let response = c
        .patch(server.url(&location))
        .body("d")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "BLOB_UPLOAD_INVALID");
    let response = c
        .put(server.url(&format!("{location}?digest={}", sha256(b"abc"))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// `PUT /v2/<name>/manifests/<digest>?tag=a&tag=b` stores the manifest and points every
/// tag at it in one step, and says so with one `OCI-Tag` header per tag; a bad tag stores
/// nothing.
async fn put_by_digest_with_tags(backend: Backend) {
    let server = TestServer::start(backend).await;
    let c = server.client();
    let image = push_image(&server, "proj/tagged", "tagged").await;
    let digest = sha256(&image);
    let bad = c
        .put(server.url(&format!(
            "/v2/proj/tagged/manifests/{digest}?tag=ok&tag=-bad"
        )))
        .header("content-type", OCI_MANIFEST)
        .body(image.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let missing = c
        .get(server.url(&format!("/v2/proj/tagged/manifests/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.status(),
        StatusCode::NOT_FOUND,
        "nothing was stored"
    );

    let response = c
        .put(server.url(&format!(
            "/v2/proj/tagged/manifests/{digest}?tag=v1&tag=latest&tag=v1"
        )))
        .header("content-type", OCI_MANIFEST)
        .body(image.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let mut applied: Vec<&str> = response
        .headers()
        .get_all("oci-tag")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    applied.sort();
    assert_eq!(applied, ["latest", "v1"]);
    for tag in ["v1", "latest"] {
        let pulled = c
            .get(server.url(&format!("/v2/proj/tagged/manifests/{tag}")))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(pulled.status(), StatusCode::OK);
        assert_eq!(header(&pulled, "docker-content-digest"), digest.to_string());
    }
    // Without `tag` parameters there is no `OCI-Tag`.
    let plain = c
        .put(server.url(&format!("/v2/proj/tagged/manifests/{digest}")))
        .header("content-type", OCI_MANIFEST)
        .body(image)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::CREATED);
    assert!(plain.headers().get("oci-tag").is_none());
}

/// Each change a request makes is recorded in the outbox with that request: who (and with
/// which token), from where, and the request id the response carried.
async fn changes_carry_their_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let image = push_image(&server, "proj/audited", "audited").await;
    let pushed = put_manifest(&server, "proj/audited", "v1", OCI_MANIFEST, &image).await;
    assert_eq!(pushed.status(), StatusCode::CREATED);
    let push_request = header(&pushed, "x-request-id");
    let deleted = server
        .client()
        .delete(server.url("/v2/proj/audited/manifests/v1"))
        .header("x-request-id", "client-chosen-id")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    let metadata = server.metadata().await;
    let events = metadata.events_after(0, 100).await.unwrap();
    let mine: Vec<_> = events
        .iter()
        .filter(|e| e.repository == "proj/audited")
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    let token_id = server
        .admin_token
        .strip_prefix("bwk_")
        .map(|rest| &rest[..12]);
    for (event, request_id) in mine.iter().zip([push_request.as_str(), "client-chosen-id"]) {
        let context = event.context.as_ref().expect("recorded with its request");
        assert_eq!(context.actor, "admin");
        assert_eq!(context.token_id.as_deref(), token_id);
        assert_eq!(context.client_address, "127.0.0.1");
        assert_eq!(context.request_id, request_id);
    }
}

on_both_backends!(
    changes_carry_their_request,
    put_by_digest_with_tags,
    base_and_errors,
    blob_uploads,
    mounts,
    blob_ranges,
    manifests,
    tags_and_catalog,
    referrers,
    deletion,
    blob_size_limit,
);
