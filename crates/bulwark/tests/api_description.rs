//! The OpenAPI document at `/api/v1/openapi.json` against the router that serves the API:
//! every operation it lists is routed (never the "no such endpoint" fallback, never 405),
//! every method it omits on a listed path is refused, and the document is valid OpenAPI 3.1
//! by an independent validator (`openapi-spec-validator`, which scripts/test.sh installs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;
use reqwest::Method;
use serde_json::Value;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn document_matches_the_router(backend: Backend) {
    let server = TestServer::start(backend).await;
    let response = anonymous_client()
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    assert_eq!(
        paths
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum::<usize>(),
        bulwark_server::endpoints()
            .iter()
            .filter(|(_, path)| !path.starts_with("/v2") && !path.starts_with("/auth/"))
            .count(),
        "the document lists every management endpoint"
    );
    let client = client_as("admin", &server.admin_token);
    for (template, item) in paths {
        let path = template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "nobody"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS {
            let listed = item.get(method.to_ascii_lowercase()).is_some();
            let mut request = client.request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                server.url(&path),
            );
            if method != "GET" && method != "DELETE" {
                request = request
                    .header("content-type", "application/json")
                    .body("{}");
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            if listed {
                assert!(
                    status != 405 && !body.contains("no such endpoint"),
                    "{method} {template} is documented but not routed: {status} {body}"
                );
            } else {
                assert!(
                    status == 405 || status == 404,
                    "{method} {template} is not documented, yet answers {status} {body}"
                );
            }
        }
    }

    // An independent check that this is OpenAPI 3.1.
    let file = server.data_dir.join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&document).unwrap()).unwrap();
    let installed = Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .status()
        .is_ok_and(|status| status.success());
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "openapi-spec-validator is missing under CI: scripts/test.sh installs it"
        );
        println!("note: openapi-spec-validator is not installed; the document was not validated");
        return;
    }
    let out = Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The document does not depend on the metadata back end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_matches_the_router_and_validates() {
    document_matches_the_router(Backend::Sqlite).await;
}
