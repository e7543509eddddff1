//! `/metrics` through the real binary, read by a real parser (the Python
//! `prometheus_client` package's classic text-format parser and its OpenMetrics one): what a
//! push, pulls, a policy refusal and a failed sign-in leave in the counters, and who may
//! scrape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    Backend, OCI_MANIFEST, TestServer, anonymous_client, api, client_as, push_image, put_manifest,
};
use reqwest::Method;
use serde_json::{Value, json};

/// Parses `text` with `prometheus_client` (`openmetrics` picks its OpenMetrics parser) and
/// returns each sample as `{"name", "labels", "value"}`.
fn parse(text: &str, openmetrics: bool) -> Vec<Value> {
    let parser = if openmetrics {
        "prometheus_client.openmetrics.parser"
    } else {
        "prometheus_client.parser"
    };
    let script = format!(
        "import json, sys, importlib\n\
         parser = importlib.import_module('{parser}')\n\
         samples = [{{'name': s.name, 'labels': s.labels, 'value': s.value}}\n\
                    for family in parser.text_string_to_metric_families(sys.stdin.read())\n\
                    for s in family.samples]\n\
         print(json.dumps(samples))\n"
    );
    let mut child = std::process::Command::new("python3")
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/test.sh installs prometheus-client)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the {parser} parser refused the metrics: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The value of the sample named `name` whose labels include every pair of `labels`.
fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s["name"] == name
                && labels
                    .iter()
                    .all(|(key, wanted)| s["labels"][key].as_str() == Some(wanted))
        })
        .map(|s| s["value"].as_f64().unwrap())
}

const MANIFEST_ROUTE: &str = "/v2/{name}/manifests/{reference}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_was_served_and_only_a_metrics_credential_reads_them() {
    let server = TestServer::start(Backend::Sqlite).await;
    // The credential a Prometheus scraper is given: a system robot holding only metrics.
    let created = api(
        &server,
        Method::POST,
        "/api/v1/robots",
        json!({"name": "prometheus", "permissions": ["*:metrics"]}),
    )
    .await;
    let scraper_token = created["token"]["token"].as_str().unwrap().to_owned();
    // A project robot may not hold it (the server starts with project `proj`).
    let refused = server
        .client()
        .post(server.url("/api/v1/projects/proj/robots"))
        .json(&json!({"name": "ci", "permissions": ["proj:metrics"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "{:?}", refused.text().await);

    // Served: a push, two pulls, a pull refused by the policy's signature rule, a failed
    // sign-in, a request for a path no route has.
    let manifest = push_image(&server, "proj/app", "metered").await;
    assert_eq!(
        put_manifest(&server, "proj/app", "v1", OCI_MANIFEST, &manifest)
            .await
            .status(),
        201
    );
    for _ in 0..2 {
        let pulled = server
            .client()
            .get(server.url("/v2/proj/app/manifests/v1"))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(pulled.status(), 200);
        pulled.bytes().await.unwrap();
    }
    api(
        &server,
        Method::PUT,
        "/api/v1/projects/proj/policy",
        json!({"document": "require_signature = true\n"}),
    )
    .await;
    let blocked = server
        .client()
        .get(server.url("/v2/proj/app/manifests/v1"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 403, "{:?}", blocked.text().await);
    let wrong = client_as("mallory", "not-a-password")
        .get(server.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    anonymous_client()
        .get(server.url("/no/such/path/42"))
        .send()
        .await
        .unwrap();

    // Who may scrape: the metrics robot and administrators; nobody anonymous, and not
    // a user without the right.
    let scraper = reqwest::Client::new();
    let scrape = |accept: &'static str| {
        scraper
            .get(server.url("/metrics"))
            .bearer_auth(&scraper_token)
            .header("accept", accept)
            .send()
    };
    assert_eq!(
        anonymous_client()
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    api(
        &server,
        Method::POST,
        "/api/v1/users",
        json!({"name": "dev", "password": "a-long-password-1"}),
    )
    .await;
    assert_eq!(
        client_as("dev", "a-long-password-1")
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    // Scans run in the background: scraped until the pushed image's has finished.
    let mut scraped = None;
    for _ in 0..200 {
        let classic = scrape("text/plain").await.unwrap();
        assert_eq!(classic.status(), 200);
        assert!(
            classic.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4"),
        );
        let text = classic.text().await.unwrap();
        let samples = parse(&text, false);
        if value(&samples, "bulwark_scans_total", &[]).is_some() {
            scraped = Some((text, samples));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (text, samples) = scraped.expect("the pushed image's scan is counted");
    // Its layer is no tar: the scan ends as failed, and is counted so.
    assert_eq!(
        value(&samples, "bulwark_scans_total", &[("outcome", "failed")]),
        Some(1.0),
        "{text}"
    );

    let count = |method: &str, route: &str, status: &str| {
        value(
            &samples,
            "bulwark_http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(count("PUT", MANIFEST_ROUTE, "201"), 1.0, "{text}");
    assert_eq!(count("GET", MANIFEST_ROUTE, "200"), 2.0, "{text}");
    assert_eq!(count("GET", MANIFEST_ROUTE, "403"), 1.0, "{text}");
    assert!(count("POST", "/v2/{name}/blobs/uploads/", "201") >= 2.0);
    assert!(count("GET", "(unmatched)", "404") >= 1.0, "{text}");
    // Never the path a client sent.
    assert!(!text.contains("proj/app") && !text.contains("/no/such/path"));
    // The latency histogram of the pulls, in seconds, with its count and buckets.
    let pulls = &[("method", "GET"), ("route", MANIFEST_ROUTE)];
    assert_eq!(
        value(
            &samples,
            "bulwark_http_request_duration_seconds_count",
            pulls
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &samples,
            "bulwark_http_request_duration_seconds_bucket",
            &[("method", "GET"), ("route", MANIFEST_ROUTE), ("le", "+Inf")]
        ),
        Some(3.0)
    );
    // Bytes: two manifests sent; the pushed blobs' bodies received.
    let sent = value(
        &samples,
        "bulwark_http_sent_bytes_total",
        &[("route", MANIFEST_ROUTE), ("method", "GET")],
    )
    .unwrap();
    assert!(sent >= 2.0 * manifest.len() as f64, "{sent}");
    let received = value(
        &samples,
        "bulwark_http_received_bytes_total",
        &[("route", MANIFEST_ROUTE), ("method", "PUT")],
    )
    .unwrap();
    assert_eq!(received, manifest.len() as f64);
    assert_eq!(
        value(
            &samples,
            "bulwark_auth_failures_total",
            &[("reason", "invalid_credentials")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "bulwark_policy_denials_total",
            &[("action", "pull"), ("rule", "signature")]
        ),
        Some(1.0),
        "{text}"
    );
    // Gauges: this scrape is the one request in flight; no upload is.
    assert_eq!(
        value(&samples, "bulwark_http_requests_in_flight", &[]),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "bulwark_blob_uploads_in_flight", &[]),
        Some(0.0)
    );
    for gauge in ["bulwark_scan_queue_depth", "bulwark_audit_backlog"] {
        assert!(value(&samples, gauge, &[]).is_some(), "{gauge}: {text}");
    }
    assert!(value(&samples, "bulwark_scan_duration_seconds_count", &[]).unwrap() >= 1.0);

    // OpenMetrics when asked for, which its stricter parser accepts too.
    let open = scrape("application/openmetrics-text; version=1.0.0")
        .await
        .unwrap();
    assert!(
        open.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = open.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"));
    let samples = parse(&text, true);
    assert_eq!(
        value(
            &samples,
            "bulwark_http_requests",
            &[
                ("method", "PUT"),
                ("route", MANIFEST_ROUTE),
                ("status", "201")
            ]
        )
        .or_else(|| value(
            &samples,
            "bulwark_http_requests_total",
            &[
                ("method", "PUT"),
                ("route", MANIFEST_ROUTE),
                ("status", "201")
            ]
        )),
        Some(1.0)
    );
}
