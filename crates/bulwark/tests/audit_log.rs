//! The audit log end to end, through the real binary: pushes, pulls and refusals leave
//! records that `audit list` shows and scopes to who may read them; a clean shutdown leaves
//! a log `audit verify` finds intact, and an edit to a stored record is found.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{
    OCI_MANIFEST, TestServer, anonymous_client, api, client_as, push_image, put_manifest,
};
use reqwest::Method;
use serde_json::{Value, json};

/// Records are written off the request path, in batches of at most 50 ms: waits until
/// `wanted` holds for the listing at `path`, or fails after 10 s.
async fn records_until(
    server: &TestServer,
    path: &str,
    wanted: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..200 {
        let page = api(server, Method::GET, path, json!(null)).await;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if wanted(&items) {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the audit log never showed what was expected at {path}");
}

/// `bulwark audit verify` on the server's store: its exit status and its report.
fn verify(server: &TestServer) -> (Option<i32>, Value) {
    let output = server
        .command()
        .args(["audit", "verify", "--json", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    (output.status.code(), report)
}

fn has(items: &[Value], operation: &str, outcome: &str, actor: &str) -> bool {
    items.iter().any(|record| {
        record["operation"] == operation
            && record["outcome"] == outcome
            && record["actor"].as_str().unwrap().starts_with(actor)
    })
}

async fn actions_are_recorded_scoped_and_verifiable(backend: common::Backend) {
    let mut server = TestServer::start(backend).await;
    let manifest = push_image(&server, "proj/app", "audited").await;
    let pushed = put_manifest(&server, "proj/app", "v1", OCI_MANIFEST, &manifest).await;
    assert_eq!(pushed.status(), 201);
    let digest = pushed.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_owned();
    // A pull by the administrator, one refused to an anonymous caller, a failed sign-in.
    let pulled = server
        .client()
        .get(server.url("/v2/proj/app/manifests/v1"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(pulled.status(), 200);
    let refused = anonymous_client()
        .get(server.url("/v2/proj/app/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let wrong = client_as("mallory", "not-a-password")
        .get(server.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let items = records_until(&server, "/api/v1/audit?limit=1000", |items| {
        has(
            items,
            "PUT /v2/{name}/manifests/{reference}",
            "success",
            "admin",
        ) && has(
            items,
            "GET /v2/{name}/manifests/{reference}",
            "success",
            "admin",
        ) && has(
            items,
            "GET /v2/{name}/manifests/{reference}",
            "denied",
            "anonymous",
        ) && has(items, "GET /v2/", "denied", "mallory (failed)")
    })
    .await;
    // Commands run on the store leave records too, under the operating system's user.
    assert!(
        items.iter().any(|r| r["operation"] == "bulwark admin init"
            && r["actor"].as_str().unwrap().starts_with("local:")),
        "{items:#?}"
    );
    let push = items
        .iter()
        .find(|r| r["operation"] == "PUT /v2/{name}/manifests/{reference}")
        .unwrap();
    assert_eq!(push["target"], "proj/app:v1");
    assert_eq!(push["project"], "proj");
    assert_eq!(push["category"], "push");
    assert_eq!(push["status"], 201);
    assert!(push["detail"].as_str().unwrap().contains(&digest), "{push}");
    assert!(!push["request_id"].as_str().unwrap().is_empty());
    // Newest first, each linked to the one before it.
    let seqs: Vec<i64> = items.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");

    // Filters: by category, by outcome, by actor; and a cursor that pages.
    let denied = api(
        &server,
        Method::GET,
        "/api/v1/audit?outcome=denied",
        json!(null),
    )
    .await;
    assert!(
        denied["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome"] == "denied")
    );
    let first = api(&server, Method::GET, "/api/v1/audit?limit=1", json!(null)).await;
    let next = first["next"].as_str().unwrap();
    let second = api(
        &server,
        Method::GET,
        &format!("/api/v1/audit?limit=1&after={next}"),
        json!(null),
    )
    .await;
    assert!(second["items"][0]["seq"].as_i64() < first["items"][0]["seq"].as_i64());
    let bad = server
        .client()
        .get(server.url("/api/v1/audit?since=yesterday-ish"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // An auditor of another project sees none of proj's records; one of proj sees them,
    // and no system-wide record (users, sign-ins without a project).
    for (project, user) in [("other", "outsider"), ("proj", "inspector")] {
        if project == "other" {
            server.create_project("other", false).await;
        }
        api(
            &server,
            Method::POST,
            "/api/v1/users",
            json!({ "name": user, "password": "correct horse battery" }),
        )
        .await;
        api(
            &server,
            Method::PUT,
            &format!("/api/v1/projects/{project}/members/{user}"),
            json!({ "role": "auditor" }),
        )
        .await;
    }
    let seen_by = |user: &'static str| {
        let server = &server;
        async move {
            let response = client_as(user, "correct horse battery")
                .get(server.url("/api/v1/audit?limit=1000"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let page: Value = response.json().await.unwrap();
            page["items"].as_array().unwrap().clone()
        }
    };
    assert!(
        seen_by("outsider")
            .await
            .iter()
            .all(|r| r["project"] == "other")
    );
    let inspected = seen_by("inspector").await;
    assert!(has(
        &inspected,
        "PUT /v2/{name}/manifests/{reference}",
        "success",
        "admin"
    ));
    assert!(inspected.iter().all(|r| r["project"] == "proj"));

    // The CLI lists the same records, as JSON for scripts.
    server.login_as_admin();
    let listed = server
        .command()
        .args(["audit", "list", "--action", "push", "--json"])
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(!listed.is_empty());
    assert!(listed.iter().all(|r| r["category"] == "push"));

    // A clean shutdown writes and signs every queued record: the log verifies whole.
    server.stop();
    let (status, report) = verify(&server);
    assert_eq!(status, Some(0), "{report}");
    assert_eq!(report["problems"], json!([]));
    assert_eq!(report["unsigned_records"], 0, "{report}");
    assert!(report["records"].as_u64().unwrap() >= 8, "{report}");

    // Someone with write access to the database makes the refused pull look allowed.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server.database_url())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_records SET outcome = 'success' WHERE outcome = 'denied'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (status, report) = verify(&server);
    assert_eq!(status, Some(3), "{report}");
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "altered"),
        "{report}"
    );
}

/// A crash (SIGKILL: no shutdown code runs) loses at most what was queued and not yet
/// written; what was written still verifies, as a chain whose tail past the last signed
/// checkpoint is reported unsigned, and the restarted server goes on with the same chain.
async fn a_crash_leaves_a_log_that_verifies(backend: common::Backend) {
    let mut server = TestServer::start(backend).await;
    for n in 0..10 {
        put_manifest(
            &server,
            "proj/crash",
            &format!("t{n}"),
            OCI_MANIFEST,
            &push_image(&server, "proj/crash", &format!("crash-{n}")).await,
        )
        .await;
    }
    // Written (a batch is at most 50 ms behind its requests), then the process is killed.
    records_until(&server, "/api/v1/audit?action=push&limit=1000", |items| {
        (0..10).all(|n| {
            items.iter().any(|r| {
                r["target"]
                    .as_str()
                    .unwrap_or_default()
                    .ends_with(&format!(":t{n}"))
            })
        })
    })
    .await;
    server.kill();
    let (status, report) = verify(&server);
    assert_eq!(status, Some(0), "{report}");
    assert_eq!(report["problems"], json!([]), "{report}");
    let after_crash = report["records"].as_u64().unwrap();
    assert!(after_crash >= 20, "{report}");

    // Restarted, the chain goes on from the last written record; a clean stop signs it all.
    server.restart();
    api(&server, Method::GET, "/api/v1/projects", json!(null)).await;
    server.stop();
    let (status, report) = verify(&server);
    assert_eq!(status, Some(0), "{report}");
    assert_eq!(report["problems"], json!([]), "{report}");
    assert_eq!(report["unsigned_records"], 0, "{report}");
    assert!(
        report["records"].as_u64().unwrap() > after_crash,
        "{report}"
    );
}

on_both_backends!(
    actions_are_recorded_scoped_and_verifiable,
    a_crash_leaves_a_log_that_verifies
);
