//! `bulwark db import|update|status|query` as a person runs them, on SQLite and PostgreSQL,
//! including an import into the store of a running server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bulwark_test_support::TestDatabase;
use bulwark_test_support::archives::{ArchiveServer, zip_entries};
use common::{Backend, TestServer};
use serde_json::Value;

fn fixtures() -> PathBuf {
    package_dir().join("../bulwark-vulndb/tests/fixtures")
}

/// A data directory (and, for PostgreSQL, a database) for `bulwark db …`.
struct Store {
    dir: tempfile::TempDir,
    database: TestDatabase,
    backend: Backend,
}

impl Store {
    async fn new(backend: Backend) -> Store {
        Store {
            dir: tempfile::tempdir().unwrap(),
            database: TestDatabase::new(backend).await,
            backend,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bulwark"));
        command
            .env_remove("BULWARK_CONFIG")
            .env_remove("BULWARK_DATABASE_URL")
            .args(args)
            .arg("--data-dir")
            .arg(self.dir.path());
        if self.backend == Backend::Postgres {
            command.env("BULWARK_DATABASE_URL", self.database.url());
        }
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }

    async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(&args).await).unwrap()
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn import_query_update_status(backend: Backend) {
    let store = Store::new(backend).await;
    assert!(store.ok(&["db", "status"]).await.contains("empty"));

    let osv = fixtures().join("osv");
    let output = store.run(&["db", "import", path(&osv)]).await;
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stdout.contains("ok"), "{stdout}");
    assert!(
        stderr.contains("warning: skipped record BAD-2024-0001 (")
            && stderr.contains("bad/BAD-2024-0001.json): modified \"last tuesday\""),
        "{stderr}"
    );

    // A known affected version reports its fix; the fixed version reports nothing.
    let table = store
        .ok(&["db", "query", "--purl", "pkg:pypi/django@2.2.0"])
        .await;
    for expected in [
        "1 known vulnerability affects PyPI django 2.2.0",
        "CVE-2019-12781",
        "2.2.3",
        "PYSEC-2019-10",
        "GHSA-6c7v-2f49-8h26",
        "medium",
    ] {
        assert!(table.contains(expected), "{expected} in\n{table}");
    }
    assert!(
        store
            .ok(&["db", "query", "--purl", "pkg:pypi/django@2.2.3"])
            .await
            .contains("no known vulnerability affects PyPI django 2.2.3")
    );
    let time = store
        .json(&[
            "db",
            "query",
            "-e",
            "crates.io",
            "-n",
            "time",
            "-v",
            "0.2.10",
        ])
        .await;
    assert_eq!(
        time["vulnerabilities"][0]["records"][0],
        "RUSTSEC-2020-0071"
    );
    assert_eq!(
        time["vulnerabilities"][0]["fixed"],
        serde_json::json!(["0.2.23"])
    );
    assert_eq!(time["vulnerabilities"][0]["severity"]["score"], 6.2);
    let refused = store
        .run(&["db", "query", "--purl", "pkg:pypi/django"])
        .await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no version"));

    // Re-import: newer replaces, withdrawn retracts, malformed reported, nothing lost.
    let reports = store
        .json(&["db", "import", path(&fixtures().join("newer.jsonl"))])
        .await;
    let report = &reports[0];
    assert_eq!(
        (report["replaced"].as_u64(), report["withdrawn"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(report["malformed"].as_array().unwrap().len(), 2);
    assert_eq!(report["malformed"][0]["id"], "BAD-2024-0002");
    let time = store
        .json(&["db", "query", "--purl", "pkg:cargo/time@0.2.10"])
        .await;
    assert_eq!(time["vulnerabilities"], serde_json::json!([]));
    let django = store
        .json(&["db", "query", "--purl", "pkg:pypi/django@2.2.0"])
        .await;
    assert_eq!(django["vulnerabilities"][0]["severity"]["score"], 5.9);

    // Update from a local archive server; one ecosystem missing fails alone.
    let extra = br#"{"id":"PYSEC-TEST-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"Requests"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.31.0"}]}]}]}"#;
    let server = ArchiveServer::start(HashMap::from([(
        "PyPI".to_owned(),
        zip_entries(&[("PYSEC-TEST-1.json".into(), extra.to_vec())]),
    )]));
    let output = store
        .run(&[
            "db",
            "update",
            "--base-url",
            &server.base_url,
            "--ecosystem",
            "PyPI",
            "--ecosystem",
            "Missing",
        ])
        .await;
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("downloading {}/PyPI/all.zip", server.base_url)),
        "{stderr}"
    );
    assert!(stderr.contains("404"), "{stderr}");
    assert!(stderr.contains("1 of 2 sources failed"), "{stderr}");
    let requests = store
        .json(&["db", "query", "--purl", "pkg:pypi/requests@2.30.0"])
        .await;
    assert_eq!(
        requests["vulnerabilities"][0]["fixed"],
        serde_json::json!(["2.31.0"])
    );

    // Again: the archive has not changed, so it is not downloaded.
    let output = store
        .run(&["db", "update", "--base-url", &server.base_url, "-e", "PyPI"])
        .await;
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("not modified"));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not modified since the last update"));

    let status = store.json(&["db", "status"]).await;
    assert_eq!(
        (status["records"].as_u64(), status["withdrawn"].as_u64()),
        (Some(5), Some(1))
    );
    let pypi = status["ecosystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["ecosystem"] == "PyPI")
        .unwrap();
    assert_eq!(pypi["records"], 3);
    assert_eq!(
        pypi["last_source"],
        format!("{}/PyPI/all.zip", server.base_url)
    );
    let text = store.ok(&["db", "status"]).await;
    assert!(text.contains("5 records (1 withdrawn)"), "{text}");
    assert!(text.contains("crates.io"), "{text}");
    assert_eq!(status["stale"], false, "just updated");
    // A bound of zero hours makes any data stale: the warning names the setting.
    let output = store
        .command(&["db", "status", "--json"])
        .env("BULWARK_ADVISORY_MAX_AGE_HOURS", "0")
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["stale"], true);
    let output = store
        .command(&["db", "status"])
        .env("BULWARK_ADVISORY_MAX_AGE_HOURS", "0")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("advisory_max_age_hours"),
        "{output:?}"
    );
}

/// `count` records made from the fixture JSON records with new ids, as JSON lines.
fn many_records(count: usize, out: &Path) {
    let osv = fixtures().join("osv");
    let templates: Vec<Value> = ["crates/RUSTSEC-2020-0071.json", "go/GO-2020-0001.json"]
        .iter()
        .map(|f| serde_json::from_slice(&std::fs::read(osv.join(f)).unwrap()).unwrap())
        .collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    for n in 0..count {
        let mut record = templates[n % templates.len()].clone();
        record["id"] = format!("{}-{n}", record["id"].as_str().unwrap()).into();
        serde_json::to_writer(&mut file, &record).unwrap();
        file.write_all(b"\n").unwrap();
    }
    file.flush().unwrap();
}

async fn import_while_serving(backend: Backend) {
    let server = TestServer::start(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("many.jsonl");
    many_records(20_000, &records);
    let mut import = server.command();
    import
        .args(["db", "import", path(&records), "--json", "--data-dir"])
        .arg(&server.data_dir);
    let import = tokio::task::spawn_blocking(move || import.output().unwrap());
    // Writes through the server meanwhile: none may fail or wait past its timeout.
    let mut created = 0;
    while !import.is_finished() {
        server.create_project(&format!("p{created}"), false).await;
        created += 1;
    }
    let output = import.await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reports: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reports[0]["added"], 20_000);
    assert!(created > 0);
    let response = server
        .client()
        .get(server.url("/api/v1/projects"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut query = server.command();
    query
        .args([
            "db",
            "query",
            "--purl",
            "pkg:cargo/time@0.1.0",
            "--json",
            "--data-dir",
        ])
        .arg(&server.data_dir);
    let output = query.output().unwrap();
    let found: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        found["vulnerabilities"][0]["records"]
            .as_array()
            .unwrap()
            .len(),
        10_000
    );
}

/// The advisory data through the management API of a running server: status, an upload,
/// an update from the configured source in the background, a full re-match; only
/// administrators change it, and an upload must say what it is.
async fn advisories_through_the_api(backend: Backend) {
    let extra = br#"{"id":"PYSEC-TEST-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"Requests"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.31.0"}]}]}]}"#;
    let archives = ArchiveServer::start(HashMap::from([(
        "PyPI".to_owned(),
        zip_entries(&[("PYSEC-TEST-1.json".into(), extra.to_vec())]),
    )]));
    let server = TestServer::start_with(
        backend,
        &[
            ("BULWARK_ADVISORY_BASE_URL", &archives.base_url),
            ("BULWARK_ADVISORY_ECOSYSTEMS", r#"["PyPI"]"#),
        ],
    )
    .await;
    let status = common::api(
        &server,
        reqwest::Method::GET,
        "/api/v1/advisories",
        Value::Null,
    )
    .await;
    assert_eq!(status["records"], 0);
    // Ready (both stores answer), with a warning: no advisory data yet.
    let readiness = |server: &TestServer| {
        let url = server.url("/readyz");
        async move {
            let response = common::anonymous_client().get(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let ready = readiness(&server).await;
    assert_eq!(
        (&ready["ready"], &ready["database"], &ready["storage"]),
        (&Value::Bool(true), &Value::from("ok"), &Value::from("ok"))
    );
    assert_eq!(ready["advisories"]["stale"], true);
    assert!(
        ready["warnings"][0]
            .as_str()
            .unwrap()
            .contains("no advisory data"),
        "{ready:#}"
    );
    let alive = common::anonymous_client()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200);

    let record = std::fs::read(fixtures().join("osv/crates/RUSTSEC-2020-0071.json")).unwrap();
    let upload = |client: reqwest::Client, media_type: &'static str| {
        let url = server.url("/api/v1/advisories/import");
        let body = record.clone();
        async move {
            client
                .post(url)
                .header("content-type", media_type)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let refused = upload(server.client(), "text/plain").await;
    assert_eq!(refused.status(), 415);
    let anonymous = upload(common::anonymous_client(), "application/json").await;
    assert_eq!(anonymous.status(), 401);
    let imported = upload(server.client(), "application/json").await;
    assert_eq!(imported.status(), 200);
    let reports: Value = imported.json().await.unwrap();
    assert_eq!(
        (reports[0]["added"].as_u64(), reports[0]["source"].as_str()),
        (Some(1), Some("upload")),
        "{reports:#}"
    );

    let ready = readiness(&server).await;
    assert_eq!(ready["advisories"]["stale"], false, "{ready:#}");
    assert_eq!(ready["warnings"], serde_json::json!([]));

    // A signed-in user who is not an administrator may read the status, not change it.
    common::api(
        &server,
        reqwest::Method::POST,
        "/api/v1/users",
        serde_json::json!({"name": "dev", "password": "a long enough password"}),
    )
    .await;
    let dev = common::client_as("dev", "a long enough password");
    let read = dev
        .get(server.url("/api/v1/advisories"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let changed = dev
        .post(server.url("/api/v1/advisories/rematch"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 403);

    let started = common::api(
        &server,
        reqwest::Method::POST,
        "/api/v1/advisories/update",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(started["ecosystems"], serde_json::json!(["PyPI"]));
    let mut records = 0;
    for _ in 0..300 {
        let status = common::api(
            &server,
            reqwest::Method::GET,
            "/api/v1/advisories",
            Value::Null,
        )
        .await;
        records = status["records"].as_u64().unwrap();
        if records == 2 {
            assert!(
                status["last_import"]["source"]
                    .as_str()
                    .unwrap()
                    .ends_with("/PyPI/all.zip"),
                "{status:#}"
            );
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(records, 2, "the update imported the archive");

    let rematched = common::api(
        &server,
        reqwest::Method::POST,
        "/api/v1/advisories/rematch",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(rematched["packages"], 0, "nothing is stored to re-match");
}

on_both_backends!(
    import_query_update_status,
    import_while_serving,
    advisories_through_the_api
);

/// This package's directory, as cargo gives it when the test runs: a binary built from a clone at another
/// path (a build directory shared with CI, say) must not read that clone's files.
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
