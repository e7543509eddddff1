//! Policy enforced on real clients: `skopeo copy` refused with the reason visible to the
//! user (a finding at or above the severity, a failed scan, a missing or invalid
//! signature), allowed again after an exception, an uploaded VEX document or one attached
//! as a referrer, or a cosign signature made here with openssl as cosign makes it; a pull
//! of a just-pushed image waits for its scan; immutable tags; promotion between projects;
//! the CLI's `policy`, `exception`, `vex`, `trust` and `promote` commands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use bulwark_test_support::Backend;
use common::*;
use serde_json::{Value, json};

const VULNERABLE_APK: &[u8] =
    b"P:musl-utils\nV:1.2.4-r2\no:musl\n\nP:busybox\nV:1.36.1-r15\no:busybox\n";
const CLEAN_APK: &[u8] = b"P:busybox\nV:1.36.1-r15\no:busybox\n";
const CVE: &str = "CVE-2099-0001";

fn alpine(installed: &[u8]) -> Vec<u8> {
    tar_of(&[
        ("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"),
        ("lib/apk/db/installed", installed),
    ])
}

/// The critical advisory for the image's musl, imported into the server's database.
fn import(server: &TestServer) {
    let record = json!({
        "schema_version": "1.6.0",
        "id": CVE,
        "modified": "2024-01-01T00:00:00Z",
        "summary": "musl is vulnerable",
        "affected": [{
            "package": { "ecosystem": "Alpine:v3.19", "name": "musl" },
            "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": "1.2.4-r3" }] }],
        }],
        "database_specific": { "severity": "CRITICAL" },
    });
    import_advisories(server, &[record]);
}

fn output_of(command: &mut Command) -> Output {
    command.output().expect("the command could not be started")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `skopeo copy` from the registry into a fresh layout: what a user's pull does.
fn pull(server: &TestServer, reference: &str) -> Output {
    let out = tempfile::tempdir().unwrap();
    output_of(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &server.creds(),
        &format!("docker://{}/{reference}", server.address),
        &format!("oci:{}:pulled", out.path().join("layout").display()),
    ]))
}

fn assert_pulls(server: &TestServer, reference: &str) {
    let output = pull(server, reference);
    assert!(
        output.status.success(),
        "{reference} must pull: {}",
        text(&output)
    );
}

fn assert_refused(server: &TestServer, reference: &str, expected: &[&str]) -> String {
    let output = pull(server, reference);
    let said = text(&output);
    assert!(!output.status.success(), "{reference} must be refused");
    for part in expected {
        assert!(
            said.contains(part),
            "{part:?} missing from what skopeo said: {said}"
        );
    }
    said
}

/// Reads the artifact's report until its scan is done.
async fn scanned(server: &TestServer, repository: &str, reference: &str) -> Value {
    let path = format!(
        "/api/v1/repositories/{}/artifacts/{reference}/scan",
        repository.replace('/', "%2F")
    );
    for _ in 0..600 {
        let report: Value = server
            .client()
            .get(server.url(&path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if report["status"] == "done" || report["status"] == "failed" {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{repository}:{reference} was never scanned");
}

fn cli(server: &TestServer, args: &[&str]) -> Output {
    output_of(server.command().args(args))
}

fn cli_ok(server: &TestServer, args: &[&str]) -> String {
    let output = cli(server, args);
    assert!(
        output.status.success(),
        "bulwark {args:?}: {}",
        text(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A P-256 key pair made with openssl, as `cosign generate-key-pair` makes one; returns
/// (private key path, public key PEM).
fn key_pair(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    run(
        "openssl",
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            private.to_str().unwrap(),
        ],
    );
    run(
        "openssl",
        &[
            "ec",
            "-in",
            private.to_str().unwrap(),
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ],
    );
    (private, std::fs::read_to_string(public).unwrap())
}

/// An ECDSA P-256 SHA-256 signature (ASN.1 DER, as Go writes it) of `payload`, base64.
fn sign(key: &Path, payload: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("payload");
    let output = dir.path().join("signature");
    std::fs::write(&input, payload).unwrap();
    run(
        "openssl",
        &[
            "dgst",
            "-sha256",
            "-sign",
            key.to_str().unwrap(),
            "-out",
            output.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
    );
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(output).unwrap())
}

/// cosign's simple-signing payload for `digest` in `repository`.
fn simple_signing_payload(server: &TestServer, repository: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": { "docker-reference": format!("{}/{repository}", server.address) },
            "image": { "docker-manifest-digest": digest },
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .unwrap()
}

/// Stores a `sha256-<hex>.sig` manifest for `digest` in `repository` whose one layer is
/// `payload` with `signature`, as `cosign sign --new-bundle-format=false` writes it.
async fn put_signature(
    server: &TestServer,
    repository: &str,
    digest: &str,
    payload: &[u8],
    signature: &str,
) {
    let payload_digest = push_blob(server, repository, payload).await;
    let config = br#"{"architecture":"","config":{},"created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = push_blob(server, repository, config).await;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": payload_digest.to_string(), "size": payload.len(),
            "annotations": {"dev.cosignproject.cosign/signature": signature},
        }],
    }))
    .unwrap();
    let tag = digest.replace(':', "-") + ".sig";
    let response = put_manifest(
        server,
        repository,
        &tag,
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    )
    .await;
    assert_eq!(response.status(), 201);
}

/// Attaches `document` to `digest` (a manifest of `subject_size` bytes) in `repository` as
/// a referrer of `artifact_type`.
async fn attach(
    server: &TestServer,
    repository: &str,
    (digest, subject_size): (&str, u64),
    artifact_type: &str,
    document: &[u8],
) {
    let empty = push_blob(server, repository, b"{}").await;
    let layer = push_blob(server, repository, document).await;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": artifact_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [{"mediaType": artifact_type, "digest": layer.to_string(), "size": document.len()}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": subject_size},
    }))
    .unwrap();
    let manifest_digest = sha256(&manifest).to_string();
    let response = put_manifest(
        server,
        repository,
        &manifest_digest,
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    )
    .await;
    assert_eq!(response.status(), 201);
}

/// The size of manifest `digest` in the OCI layout at `layout`.
fn manifest_size(layout: &Path, digest: &str) -> u64 {
    let hex = digest.trim_start_matches("sha256:");
    std::fs::metadata(layout.join("blobs/sha256").join(hex))
        .unwrap()
        .len()
}

/// A Sigstore bundle (v0.3) as `cosign sign --new-bundle-format` writes one for a key: a
/// DSSE envelope of an in-toto statement about `digest`, signed over DSSE's
/// pre-authentication encoding.
fn bundle(key: &Path, digest: &str, predicate_type: &str) -> Vec<u8> {
    let statement = serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "team/app", "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicateType": predicate_type,
        "predicate": {},
    }))
    .unwrap();
    let payload_type = "application/vnd.in-toto+json";
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        statement.len()
    )
    .into_bytes();
    pae.extend_from_slice(&statement);
    let b64 = base64::engine::general_purpose::STANDARD;
    serde_json::to_vec(&json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": b64.encode(&statement),
            "payloadType": payload_type,
            "signatures": [{"sig": sign(key, &pae), "keyid": ""}],
        },
    }))
    .unwrap()
}

fn openvex(digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/1",
        "author": "security@example.com",
        "timestamp": "2024-06-01T00:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": CVE},
            "products": [{"@id": format!("pkg:oci/app@{}", digest.replace(':', "%3A"))}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
        }],
    }))
    .unwrap()
}

async fn pull_policy(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_project("team", false).await;
    server.create_project("prod", false).await;
    import(&server);
    server.login_as_admin();
    let work = tempfile::tempdir().unwrap();

    // A vulnerable image, pushed and scanned; with no policy of its own the project only
    // blocks malicious packages, so it pulls.
    let vulnerable = work.path().join("vulnerable");
    let digest = write_oci_image(&vulnerable, "1.0", &[alpine(VULNERABLE_APK)]).to_string();
    push_layout(&server, &vulnerable, "team/app:1.0");
    let report = scanned(&server, "team/app", "1.0").await;
    assert_eq!(report["findings"][0]["id"], CVE, "{report:#}");
    assert_pulls(&server, "team/app:1.0");

    // The policy file of the issue, set with the CLI (signatures come later).
    let policy = work.path().join("policy.toml");
    std::fs::write(
        &policy,
        "block_severity = \"high\"        # findings at or above this block a pull\n\
         block_only_fixable = false\nquarantine_unscanned = true\nblock_secrets = true\n\
         require_signature = false\nimmutable_tags = [\"v*\", \"release-*\"]\n",
    )
    .unwrap();
    let set = cli_ok(
        &server,
        &["policy", "set", "team", policy.to_str().unwrap()],
    );
    assert!(set.contains("version 1"), "{set}");
    let shown = cli_ok(&server, &["policy", "show", "team"]);
    assert!(
        shown.contains("block_severity = \"high\"") && shown.contains("# findings"),
        "{shown}"
    );

    // Refused, by tag and by digest, with the rule and the finding in what skopeo prints.
    let by_tag = assert_refused(
        &server,
        "team/app:1.0",
        &[
            "denied",
            "policy \\\"team\\\"",
            CVE,
            "critical",
            "musl",
            "fixed in 1.2.4-r3",
            &format!("bulwark report team/app@{digest}"),
        ],
    );
    assert!(!by_tag.contains('\u{1b}'));
    assert_refused(&server, &format!("team/app@{digest}"), &[CVE]);
    // An index is the union of its platforms; each platform pulled by digest is judged on
    // its own.
    let platform = work.path().join("platform");
    let platform_digest = write_oci_image(&platform, "1.0", &[alpine(CLEAN_APK)]).to_string();
    push_layout(&server, &platform, "team/app:clean");
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": digest, "size": manifest_size(&vulnerable, &digest),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": OCI_MANIFEST, "digest": platform_digest, "size": manifest_size(&platform, &platform_digest),
             "platform": {"os": "linux", "architecture": "arm64"}},
        ],
    }))
    .unwrap();
    assert_eq!(
        put_manifest(&server, "team/app", "multi", OCI_INDEX, &index)
            .await
            .status(),
        201
    );
    let get = |reference: String| {
        let (client, url) = (
            server.client(),
            server.url(&format!("/v2/team/app/manifests/{reference}")),
        );
        async move {
            client
                .get(url)
                .header("accept", format!("{OCI_INDEX}, {OCI_MANIFEST}"))
                .send()
                .await
                .unwrap()
        }
    };
    let refused = get("multi".into()).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains(CVE));
    assert_eq!(get(platform_digest.clone()).await.status(), 200);
    assert_eq!(get(digest.clone()).await.status(), 403);
    // An image that claims a subject is still an image: judged like any other.
    let mut disguised: Value = serde_json::from_slice(
        &std::fs::read(
            vulnerable
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    disguised["subject"] = json!({"mediaType": OCI_MANIFEST, "digest": platform_digest,
                                  "size": manifest_size(&platform, &platform_digest)});
    disguised["artifactType"] = json!("application/vnd.dev.sigstore.bundle.v0.3+json");
    let disguised = serde_json::to_vec(&disguised).unwrap();
    assert_eq!(
        put_manifest(&server, "team/app", "disguised", OCI_MANIFEST, &disguised)
            .await
            .status(),
        201
    );
    let refused = get("disguised".into()).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains(CVE));
    let head = server
        .client()
        .head(server.url("/v2/team/app/manifests/1.0"))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 403, "HEAD is judged as GET");
    // The dry run explains it rule by rule, and exits 3.
    let check = cli(&server, &["policy", "check", "team/app:1.0", "--json"]);
    assert_eq!(check.status.code(), Some(3), "{}", text(&check));
    let evaluation: Value = serde_json::from_slice(&check.stdout).unwrap();
    let severity = evaluation["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "severity")
        .unwrap();
    assert_eq!(severity["outcome"], "block");
    assert_eq!(evaluation["allowed"], false);

    // An exception lets it through, shows in the dry run with who, why and until when, and
    // stops applying once removed.
    let added = cli_ok(
        &server,
        &[
            "exception",
            "add",
            "--project",
            "team",
            "--id",
            CVE,
            "--reason",
            "not reachable: musl's affected function is unused",
            "--expires",
            "2999-01-01",
            "--json",
        ],
    );
    let exception: Value = serde_json::from_str(&added).unwrap();
    let id = exception["id"].as_str().unwrap().to_owned();
    assert_pulls(&server, "team/app:1.0");
    // The report keeps the finding, marked with what suppressed it.
    let shown = cli_ok(&server, &["report", "team/app:1.0"]);
    assert!(shown.contains(CVE), "{shown}");
    assert!(
        shown.contains(&format!("exception {id} by admin until 2999-01-01")),
        "{shown}"
    );
    assert!(shown.contains("policy: a pull is allowed"), "{shown}");
    let evaluation = api(
        &server,
        reqwest::Method::GET,
        "/api/v1/repositories/team%2Fapp/artifacts/1.0/policy",
        Value::Null,
    )
    .await;
    assert_eq!(evaluation["allowed"], true);
    assert_eq!(evaluation["suppressed"][0]["finding"], CVE);
    assert_eq!(evaluation["suppressed"][0]["by"]["kind"], "exception");
    assert_eq!(evaluation["suppressed"][0]["by"]["id"], id);
    assert_eq!(evaluation["suppressed"][0]["by"]["author"], "admin");
    let listed = cli_ok(
        &server,
        &["exception", "list", "--project", "team", "--json"],
    );
    assert!(listed.contains(&id), "{listed}");
    let stale = cli_ok(&server, &["exception", "list", "--stale", "--json"]);
    assert!(
        !stale.contains(&id),
        "it matches a finding: not stale: {stale}"
    );
    let response = server
        .client()
        .delete(server.url(&format!("/api/v1/exceptions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_refused(&server, "team/app:1.0", &[CVE]);

    // An uploaded OpenVEX statement that the image is not affected does the same.
    let vex = work.path().join("vex.json");
    std::fs::write(&vex, openvex(&digest)).unwrap();
    let uploaded = cli_ok(
        &server,
        &[
            "vex",
            "upload",
            vex.to_str().unwrap(),
            "--project",
            "team",
            "--json",
        ],
    );
    let uploaded: Value = serde_json::from_str(&uploaded).unwrap();
    assert_eq!(
        uploaded["digest"],
        sha256(&openvex(&digest)).to_string(),
        "its own bytes"
    );
    assert_pulls(&server, "team/app:1.0");
    let evaluation = api(
        &server,
        reqwest::Method::GET,
        "/api/v1/repositories/team%2Fapp/artifacts/1.0/policy",
        Value::Null,
    )
    .await;
    assert_eq!(evaluation["suppressed"][0]["by"]["kind"], "vex");
    assert_eq!(
        evaluation["suppressed"][0]["by"]["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    cli_ok(
        &server,
        &[
            "vex",
            "remove",
            "--project",
            "team",
            uploaded["digest"].as_str().unwrap(),
        ],
    );
    assert_refused(&server, "team/app:1.0", &[CVE]);
    // … and so does the same document attached to the image as a referrer, once the
    // project trusts what its pushers attach (by default only owners' uploads count).
    std::fs::write(
        &policy,
        "block_severity = \"high\"\nquarantine_unscanned = true\nblock_secrets = true\n\
         immutable_tags = [\"v*\", \"release-*\"]\ntrust_attached_vex = true\n",
    )
    .unwrap();
    let subject = (digest.as_str(), manifest_size(&vulnerable, &digest));
    attach(
        &server,
        "team/app",
        subject,
        "application/openvex+json",
        &openvex(&digest),
    )
    .await;
    assert_refused(&server, "team/app:1.0", &[CVE]);
    cli_ok(
        &server,
        &["policy", "set", "team", policy.to_str().unwrap()],
    );
    assert_pulls(&server, "team/app:1.0");

    // A clean image pulled right after its push waits for its scan and passes; one whose
    // layer is no archive fails its scan and is refused with the reason.
    let clean = work.path().join("clean");
    write_oci_image(&clean, "1.0", &[alpine(CLEAN_APK)]);
    push_layout(&server, &clean, "team/clean:1.0");
    assert_pulls(&server, "team/clean:1.0");
    let broken_layer = b"this is not a tar archive".to_vec();
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let config_digest = push_blob(&server, "team/broken", config).await;
    let layer_digest = push_blob(&server, "team/broken", &broken_layer).await;
    let broken = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest.to_string(), "size": broken_layer.len()}],
    }))
    .unwrap();
    put_manifest(
        &server,
        "team/broken",
        "1.0",
        "application/vnd.oci.image.manifest.v1+json",
        &broken,
    )
    .await;
    scanned(&server, "team/broken", "1.0").await;
    assert_refused(&server, "team/broken:1.0", &["the scan failed"]);

    // Signatures: required, by a key the project trusts.
    let keys = work.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (trusted_key, trusted_pem) = key_pair(&keys, "cosign");
    let (other_key, _) = key_pair(&keys, "other");
    let trusted = cli_ok(
        &server,
        &[
            "trust",
            "add",
            "team",
            keys.join("cosign.pub").to_str().unwrap(),
            "--json",
        ],
    );
    let trusted: Value = serde_json::from_str(&trusted).unwrap();
    assert!(
        trusted["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        cli_ok(&server, &["trust", "list", "team"])
            .contains(trusted["fingerprint"].as_str().unwrap())
    );
    assert!(trusted_pem.contains("PUBLIC KEY"));
    std::fs::write(
        &policy,
        "block_severity = \"high\"\nrequire_signature = true\nimmutable_tags = [\"v*\"]\n",
    )
    .unwrap();
    cli_ok(
        &server,
        &["policy", "set", "team", policy.to_str().unwrap()],
    );
    assert_refused(&server, "team/app:1.0", &["signature"]);

    let clean_digest = scanned(&server, "team/clean", "1.0").await["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_refused(&server, "team/clean:1.0", &["signature"]);
    // Each of these is refused: another key, a tampered payload, a payload for another
    // digest, one for another repository, and a signature manifest whose layer has none.
    let payload = simple_signing_payload(&server, "team/clean", &clean_digest);
    put_signature(
        &server,
        "team/clean",
        &clean_digest,
        &payload,
        &sign(&other_key, &payload),
    )
    .await;
    assert_refused(&server, "team/clean:1.0", &["signature"]);
    let mut tampered = payload.clone();
    let at = tampered.len() - 2;
    tampered.insert(at, b' ');
    put_signature(
        &server,
        "team/clean",
        &clean_digest,
        &tampered,
        &sign(&trusted_key, &payload),
    )
    .await;
    assert_refused(&server, "team/clean:1.0", &["signature"]);
    let elsewhere = simple_signing_payload(&server, "team/clean", &digest);
    put_signature(
        &server,
        "team/clean",
        &clean_digest,
        &elsewhere,
        &sign(&trusted_key, &elsewhere),
    )
    .await;
    assert_refused(&server, "team/clean:1.0", &["signature"]);
    let other_repository = simple_signing_payload(&server, "team/other", &clean_digest);
    put_signature(
        &server,
        "team/clean",
        &clean_digest,
        &other_repository,
        &sign(&trusted_key, &other_repository),
    )
    .await;
    assert_refused(&server, "team/clean:1.0", &["signature"]);
    put_signature(
        &server,
        "team/clean",
        &clean_digest,
        &payload,
        "bm90IGEgc2lnbmF0dXJl",
    )
    .await;
    assert_refused(&server, "team/clean:1.0", &["signature"]);
    // The real one passes, and the dry run names the key.
    put_signature(
        &server,
        "team/clean",
        &clean_digest,
        &payload,
        &sign(&trusted_key, &payload),
    )
    .await;
    assert_pulls(&server, "team/clean:1.0");
    let evaluation = api(
        &server,
        reqwest::Method::GET,
        "/api/v1/repositories/team%2Fclean/artifacts/1.0/policy",
        Value::Null,
    )
    .await;
    assert_eq!(evaluation["signatures"][0]["key"], trusted["fingerprint"]);
    assert_eq!(evaluation["signatures"][0]["format"], "simple-signing");
    let shown = cli_ok(&server, &["report", "team/clean:1.0"]);
    assert!(
        shown.contains(&format!(
            "signed: key {} (simple-signing",
            trusted["fingerprint"].as_str().unwrap()
        )),
        "{shown}"
    );

    // A Sigstore bundle attached as a referrer counts too (it names no repository, so the
    // same image elsewhere in the project can carry its own): refused for another digest,
    // another key, or an attestation that is not cosign's signing predicate.
    push_layout(&server, &clean, "team/bundled:1.0");
    assert_refused(&server, "team/bundled:1.0", &["signature"]);
    let subject = (clean_digest.as_str(), manifest_size(&clean, &clean_digest));
    const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
    const SIGN: &str = "https://sigstore.dev/cosign/sign/v1";
    for wrong in [
        bundle(&trusted_key, &digest, SIGN),
        bundle(&other_key, &clean_digest, SIGN),
        bundle(
            &trusted_key,
            &clean_digest,
            "https://slsa.dev/provenance/v1",
        ),
    ] {
        attach(&server, "team/bundled", subject, BUNDLE, &wrong).await;
        assert_refused(&server, "team/bundled:1.0", &["signature"]);
    }
    attach(
        &server,
        "team/bundled",
        subject,
        BUNDLE,
        &bundle(&trusted_key, &clean_digest, SIGN),
    )
    .await;
    assert_pulls(&server, "team/bundled:1.0");
    let evaluation = api(
        &server,
        reqwest::Method::GET,
        "/api/v1/repositories/team%2Fbundled/artifacts/1.0/policy",
        Value::Null,
    )
    .await;
    assert_eq!(evaluation["signatures"][0]["format"], "sigstore-bundle");

    // Immutable tags: `v1` can be neither moved nor deleted, except by an administrator's
    // explicit override.
    push_layout(&server, &clean, "team/clean:v1");
    let moved = output_of(Command::new("skopeo").args([
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &server.creds(),
        &format!("oci:{}:1.0", vulnerable.display()),
        &format!("docker://{}/team/clean:v1", server.address),
    ]));
    assert!(!moved.status.success());
    assert!(text(&moved).contains("immutable"), "{}", text(&moved));
    let delete = server
        .client()
        .delete(server.url("/v2/team/clean/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 403);
    let by_digest = server
        .client()
        .delete(server.url(&format!("/v2/team/clean/manifests/{clean_digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_digest.status(),
        403,
        "deleting the manifest would delete the tag"
    );
    let overridden = server
        .client()
        .delete(server.url("/v2/team/clean/manifests/v1"))
        .header("bulwark-override-immutable", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(overridden.status(), 202);
    // The audit log keeps both: the refusal with its reason, the override with what it did.
    let mut deletes = Vec::new();
    for _ in 0..200 {
        let listed = cli_ok(&server, &["audit", "list", "--action", "delete", "--json"]);
        deletes = serde_json::from_str::<Vec<Value>>(&listed).unwrap();
        // Written in batches off the request path: wait for the override's record.
        if deletes
            .iter()
            .any(|r| r["outcome"] == "success" && r["target"] == "team/clean:v1")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let detail_of = |outcome: &str| {
        deletes
            .iter()
            .find(|r| r["outcome"] == outcome && r["target"] == "team/clean:v1")
            .map(|r| r["detail"].as_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert!(detail_of("denied").contains("is immutable"), "{deletes:#?}");
    assert!(
        detail_of("success").contains("deleted by a system administrator's override"),
        "{deletes:#?}"
    );

    // Promotion: linked into prod with its signature, judged by prod's policy.
    let promoted = cli_ok(&server, &["promote", "team/clean:1.0", "prod", "--json"]);
    let promoted: Value = serde_json::from_str(&promoted).unwrap();
    assert_eq!(promoted["digest"], clean_digest);
    assert_eq!(promoted["destination"], "prod/clean");
    assert!(promoted["referrers"].as_u64().unwrap() >= 1, "{promoted:#}");
    assert_pulls(&server, "prod/clean:1.0");
    let sig_tag = format!("{}.sig", clean_digest.replace(':', "-"));
    let signature = server
        .client()
        .get(server.url(&format!("/v2/prod/clean/manifests/{sig_tag}")))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(signature.status(), 200, "the signature travels");
    std::fs::write(&policy, "block_severity = \"high\"\n").unwrap();
    cli_ok(
        &server,
        &["policy", "set", "prod", policy.to_str().unwrap()],
    );
    // (The same image as team/app, without the VEX statement attached there.)
    push_layout(&server, &vulnerable, "team/vuln:1.0");
    let refused = cli(&server, &["promote", "team/vuln:1.0", "prod/app:1.0"]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains(CVE), "{}", text(&refused));
    let absent = server
        .client()
        .get(server.url("/v2/prod/app/manifests/1.0"))
        .send()
        .await
        .unwrap();
    assert_eq!(absent.status(), 404, "nothing was copied");
}

on_both_backends!(pull_policy);
