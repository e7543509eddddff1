//! Webhooks end to end: receivers started here get CloudEvents for a push (by skopeo), the
//! scan that follows, a critical finding that new advisory data makes appear, a pull the
//! policy refuses and a deletion, each signed as Standard Webhooks signs (checked here
//! with an HMAC of the test's own); a receiver that fails twice gets its delivery on the
//! third attempt, with every attempt in the delivery log; a redelivery sends the same
//! event signed anew. Made with the CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use common::*;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

/// One request a receiver took.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn event(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook receiver on a loopback port: answers 500 to the first `failures` attempts at
/// each delivery (by `webhook-id`), then 204, keeping what it took.
struct Receiver {
    url: String,
    taken: Arc<Mutex<Vec<Received>>>,
    refused: Arc<AtomicU32>,
}

async fn receiver(failures: u32) -> Receiver {
    let taken: Arc<Mutex<Vec<Received>>> = Arc::default();
    let refused = Arc::new(AtomicU32::new(0));
    let attempts: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let (kept, counted) = (taken.clone(), refused.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (kept, counted, attempts) = (kept.clone(), counted.clone(), attempts.clone());
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let seen = {
                    let mut attempts = attempts.lock().unwrap();
                    let seen = attempts.entry(id).or_default();
                    *seen += 1;
                    *seen
                };
                if seen <= failures {
                    counted.fetch_add(1, Ordering::SeqCst);
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                kept.lock().unwrap().push(Received { headers, body });
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver {
        url,
        taken,
        refused,
    }
}

impl Receiver {
    fn taken(&self) -> Vec<Received> {
        self.taken.lock().unwrap().clone()
    }

    /// Waits until a delivery of CloudEvent type `dev.bulwark.{kind}` about `digest`
    /// arrives (the scanner's own SBOM attachments are pushes too).
    async fn wait_for(&self, kind: &str, digest: &str) -> Received {
        let wanted = format!("dev.bulwark.{kind}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(found) = self
                .taken()
                .into_iter()
                .find(|r| r.event()["type"] == wanted && r.event()["data"]["digest"] == digest)
            {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no {kind} delivery; got {:?}",
                self.taken()
                    .iter()
                    .map(|r| r.event()["type"].clone())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Checks a delivery as a receiver must: the signature is HMAC-SHA256, keyed by the
/// secret's bytes, over `{webhook-id}.{webhook-timestamp}.{body}`, and the timestamp is
/// recent. Computed here, independently of the server's code.
fn assert_signed(received: &Received, secret: &str) {
    let header = |name: &str| received.headers[name].to_str().unwrap().to_owned();
    let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&received.body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(header("webhook-signature"), expected);
    let sent: i64 = timestamp.parse().unwrap();
    let now = bulwark_metadata::now_millis() / 1000;
    assert!(
        (now - sent).abs() < 300,
        "timestamp {sent} is not recent ({now})"
    );
    assert!(
        header("content-type").starts_with("application/cloudevents+json"),
        "{:?}",
        received.headers
    );
    // A body changed on the way no longer matches.
    let mut forged = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    forged.update(format!("{id}.{timestamp}.").as_bytes());
    forged.update(b"{}");
    assert_ne!(
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(forged.finalize().into_bytes())
        ),
        expected
    );
}

fn cli_json(server: &TestServer, args: &[&str]) -> Value {
    let output = server.command().args(args).arg("--json").output().unwrap();
    assert!(
        output.status.success(),
        "bulwark {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

const MUSL_APK: &[u8] = b"P:musl\nV:1.2.4-r2\no:musl\n";
const CVE: &str = "CVE-2099-0002";

/// A critical advisory for the image's musl, imported into the server's database.
fn import_critical_advisory(server: &TestServer) {
    let record = json!({
        "schema_version": "1.6.0", "id": CVE, "modified": "2024-01-01T00:00:00Z",
        "affected": [{
            "package": { "ecosystem": "Alpine:v3.19", "name": "musl" },
            "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": "1.2.4-r3" }] }],
        }],
        "database_specific": { "severity": "CRITICAL" },
    });
    import_advisories(server, &[record]);
}

async fn webhooks_deliver_signed_events(backend: Backend) {
    // The receivers are on loopback: reachable only when private targets are allowed,
    // which they are not by default.
    let server = TestServer::start_with(
        backend,
        &[
            ("BULWARK_WEBHOOK_RETRY_BASE_SECS", "1"),
            ("BULWARK_WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
            // Encrypted at rest: the signing secrets are kept sealed, and deliveries are
            // still signed with the secret given out.
            (
                "BULWARK_ENCRYPTION_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
        ],
    )
    .await;
    server.login_as_admin();
    let project_receiver = receiver(0).await;
    let flaky = receiver(2).await;
    let project_hook = cli_json(
        &server,
        &[
            "webhook",
            "create",
            "--project",
            "proj",
            "--url",
            &project_receiver.url,
        ],
    );
    let project_secret = project_hook["secret"].as_str().unwrap().to_owned();
    assert!(project_secret.starts_with("whsec_"));
    let system_hook = cli_json(
        &server,
        &[
            "webhook",
            "create",
            "--system",
            "--url",
            &flaky.url,
            "--event",
            "artifact.pushed",
        ],
    );
    let system_secret = system_hook["secret"].as_str().unwrap().to_owned();
    // Listings never show a secret again.
    let listed = cli_json(&server, &["webhook", "list", "--project", "proj"]);
    assert_eq!(listed[0]["url"], project_receiver.url.as_str());
    assert!(listed[0].get("secret").is_none(), "{listed}");
    let stored = server
        .metadata()
        .await
        .webhook(project_hook["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.secret.starts_with("sealed:"), "kept in the clear");

    // A push by skopeo.
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("image");
    let image = tar_of(&[
        ("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"),
        ("lib/apk/db/installed", MUSL_APK),
    ]);
    let digest = write_oci_image(&layout, "1.0", &[image]).to_string();
    push_layout(&server, &layout, "proj/app:1.0");
    let pushed = project_receiver.wait_for("artifact.pushed", &digest).await;
    assert_signed(&pushed, &project_secret);
    let event = pushed.event();
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["source"], "/projects/proj");
    assert_eq!(event["subject"], format!("proj/app@{digest}"));
    assert_eq!(event["data"]["repository"], "proj/app");
    assert_eq!(event["data"]["digest"], digest.as_str());
    assert_eq!(event["data"]["tag"], "1.0");
    assert_eq!(event["data"]["actor"], "admin");
    assert_eq!(event["data"]["media_type"], OCI_MANIFEST);
    assert_eq!(
        event["data"]["subject"],
        Value::Null,
        "an image, not an attachment"
    );
    assert!(event["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(event["time"].as_str().unwrap().ends_with('Z'));

    // Its scan, with no advisory yet.
    let scanned = project_receiver.wait_for("scan.completed", &digest).await;
    assert_signed(&scanned, &project_secret);
    assert_eq!(scanned.event()["data"]["status"], "done");
    assert_eq!(scanned.event()["data"]["findings"], json!({}));

    // The flaky receiver refused twice, then took the push (and only the push: it
    // subscribed to nothing else); the delivery log shows all three attempts.
    let flaky_push = flaky.wait_for("artifact.pushed", &digest).await;
    assert_signed(&flaky_push, &system_secret);
    assert!(flaky.refused.load(Ordering::SeqCst) >= 2);
    let system_id = system_hook["id"].to_string();
    let deliveries = cli_json(&server, &["webhook", "deliveries", "--system", &system_id]);
    let delivery = deliveries
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_id"] == event["id"])
        .unwrap();
    assert_eq!(delivery["state"], "delivered", "{deliveries:#}");
    assert_eq!(delivery["attempts"], 3);
    let statuses: Vec<i64> = delivery["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 500, 204]);
    // The same delivery id on every attempt, so a receiver can drop repeats.
    assert_eq!(
        flaky_push.headers["webhook-id"],
        format!("delivery_{}", delivery["id"]).as_str()
    );

    // New advisory data makes a critical finding appear on the stored image.
    import_critical_advisory(&server);
    api(
        &server,
        reqwest::Method::POST,
        "/api/v1/advisories/rematch",
        json!({}),
    )
    .await;
    let critical = project_receiver.wait_for("finding.critical", &digest).await;
    assert_signed(&critical, &project_secret);
    let data = critical.event()["data"].clone();
    assert_eq!(data["vulnerability"], CVE);
    assert_eq!(data["digest"], digest.as_str());
    assert_eq!(data["package"]["name"], "musl");

    // A pull the policy refuses.
    api(
        &server,
        reqwest::Method::PUT,
        "/api/v1/projects/proj/policy",
        json!({ "document": "block_severity = \"high\"\n" }),
    )
    .await;
    let refused = server
        .client()
        .get(server.url("/v2/proj/app/manifests/1.0"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let denied = project_receiver.wait_for("policy.denied", &digest).await;
    assert_signed(&denied, &project_secret);
    let data = denied.event()["data"].clone();
    assert!(data["message"].as_str().unwrap().contains(CVE), "{data}");
    assert_eq!(data["tag"], "1.0");

    // A deletion.
    let deleted = server
        .client()
        .delete(server.url(&format!("/v2/proj/app/manifests/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 202);
    let removal = project_receiver.wait_for("artifact.deleted", &digest).await;
    assert_signed(&removal, &project_secret);
    assert_eq!(removal.event()["data"]["digest"], digest.as_str());
    // The scanner's SBOMs are pushes too, told apart by their subject (each delivered on
    // its third attempt).
    let deadline = Instant::now() + Duration::from_secs(60);
    let attachments: Vec<Value> = loop {
        let attachments: Vec<Value> = flaky
            .taken()
            .iter()
            .map(Received::event)
            .filter(|e| e["data"]["subject"] == digest.as_str())
            .collect();
        if !attachments.is_empty() {
            break attachments;
        }
        assert!(
            Instant::now() < deadline,
            "the SBOM attachments were not told"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        attachments
            .iter()
            .all(|e| e["data"]["artifact_type"].is_string())
    );
    // The system webhook took only its one type (the image and the SBOM the scanner
    // attached to it).
    assert!(
        flaky
            .taken()
            .iter()
            .all(|r| r.event()["type"] == "dev.bulwark.artifact.pushed")
    );

    // Redelivered: the same CloudEvent, signed anew.
    let project_id = project_hook["id"].to_string();
    let log = cli_json(
        &server,
        &["webhook", "deliveries", "--project", "proj", &project_id],
    );
    let first = log
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_id"] == event["id"])
        .unwrap();
    let before = project_receiver.taken().len();
    cli_json(
        &server,
        &[
            "webhook",
            "redeliver",
            "--project",
            "proj",
            &project_id,
            &first["id"].to_string(),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while project_receiver.taken().len() == before {
        assert!(Instant::now() < deadline, "the redelivery never came");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = project_receiver.taken()[before].clone();
    assert_signed(&again, &project_secret);
    assert_eq!(again.event()["id"], event["id"]);
    assert_eq!(again.body, pushed.body);

    // Deleted, a webhook gets nothing more.
    let output = server
        .command()
        .args(["webhook", "delete", "--project", "proj", &project_id])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(
        cli_json(&server, &["webhook", "list", "--project", "proj"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

on_both_backends!(webhooks_deliver_signed_events);
