//! Scenario support: a real `bulwark serve` process on an ephemeral port, on either metadata
//! back end, and small images made on the fly.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bulwark_oci::Digest;
pub use bulwark_test_support::Backend;
use bulwark_test_support::TestDatabase;
use tempfile::TempDir;

/// Generates one `#[tokio::test]` per metadata back end for an `async fn(Backend)` scenario.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::common::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::common::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// A running registry process; killed when dropped.
pub struct TestServer {
    child: Option<Child>,
    pub base: String,
    pub address: String,
    pub data_dir: PathBuf,
    /// The system administrator `admin` made by `bulwark admin init`, and its access token.
    pub admin_token: String,
    env: Vec<(String, String)>,
    /// Every line the server has logged.
    logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _database: TestDatabase,
    _dir: TempDir,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, &[]).await
    }

    /// Starts a server with extra `BULWARK_*` settings.
    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let database = TestDatabase::new(backend).await;
        let data_dir = dir.path().join("data");
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // An advisory update asked of a test server never leaves the machine: a closed
        // loopback port refuses it at once.
        if !env.iter().any(|(k, _)| k == "BULWARK_ADVISORY_BASE_URL") {
            env.push((
                "BULWARK_ADVISORY_BASE_URL".into(),
                "http://127.0.0.1:9".into(),
            ));
        }
        if backend == Backend::Postgres {
            env.push(("BULWARK_DATABASE_URL".into(), database.url().to_owned()));
            // Every scenario runs twice, once per back end; the second run also covers
            // uploads written through the page cache.
            if !env.iter().any(|(k, _)| k == "BULWARK_DIRECT_IO") {
                env.push(("BULWARK_DIRECT_IO".into(), "false".into()));
            }
        }
        let mut server = TestServer {
            child: None,
            base: String::new(),
            address: String::new(),
            data_dir,
            admin_token: String::new(),
            env,
            logs: Default::default(),
            _database: database,
            _dir: dir,
        };
        server.admin_token = server.admin_init();
        server.spawn();
        server.create_project("proj", false).await;
        server
    }

    /// Runs `bulwark admin init` on the data directory; returns the token it prints last.
    fn admin_init(&self) -> String {
        let mut command = self.command();
        command.args(["admin", "init", "--username", "admin", "--data-dir"]);
        command.arg(&self.data_dir);
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "admin init failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        stdout.lines().last().unwrap().to_owned()
    }

    /// The `bulwark` binary with this server's environment.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bulwark"));
        command.env_remove("BULWARK_CONFIG").env(
            "BULWARK_CREDENTIALS",
            self.data_dir.with_extension("credentials.toml"),
        );
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// `bulwark login` as the administrator, so CLI commands from [`TestServer::command`]
    /// use the stored login.
    pub fn login_as_admin(&self) {
        let mut login = self.command();
        login
            .args([
                "login",
                &self.base,
                "--username",
                "admin",
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        let mut child = login.spawn().unwrap();
        std::io::Write::write_all(
            child.stdin.as_mut().unwrap(),
            format!("{}\n", self.admin_token).as_bytes(),
        )
        .unwrap();
        assert!(child.wait().unwrap().success());
    }

    /// Creates a project as the administrator.
    pub async fn create_project(&self, name: &str, public: bool) {
        let response = self
            .client()
            .post(self.url("/api/v1/projects"))
            .json(&serde_json::json!({ "name": name, "public": public }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
    }

    /// An HTTP client that sends the administrator's credentials (Basic, which the registry
    /// accepts directly) with every request.
    pub fn client(&self) -> reqwest::Client {
        client_trusting("admin", &self.admin_token, self.ca_file().as_deref())
    }

    /// The CA a TLS server's certificate chains to (`BULWARK_CA_FILE`, which the CLI reads
    /// too).
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.env
            .iter()
            .find(|(k, _)| k == "BULWARK_CA_FILE")
            .map(|(_, v)| PathBuf::from(v))
    }

    /// The administrator's `Authorization: Basic` value, for raw requests.
    pub fn basic_credentials(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.creds())
    }

    /// The server's metadata store, opened beside it (for set-ups the API refuses, such as an
    /// already expired token).
    pub async fn metadata(&self) -> bulwark_metadata::MetadataStore {
        match self.env.iter().find(|(k, _)| k == "BULWARK_DATABASE_URL") {
            Some((_, url)) => bulwark_metadata::MetadataStore::connect(url, 2)
                .await
                .unwrap(),
            None => bulwark_metadata::MetadataStore::open_sqlite_in(&self.data_dir)
                .await
                .unwrap(),
        }
    }

    /// `--creds` for skopeo as the administrator.
    pub fn creds(&self) -> String {
        format!("admin:{}", self.admin_token)
    }

    fn spawn(&mut self) {
        let mut command = self.command();
        if !self.env.iter().any(|(k, _)| k == "BULWARK_LOG") {
            command.env("BULWARK_LOG", "info");
        }
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let logs = self.logs.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent
                    && let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(address) = event["fields"]["address"].as_str()
                {
                    sender.send(address.to_owned()).ok();
                    sent = true;
                }
                if std::env::var_os("BULWARK_TEST_SERVER_LOG").is_some() {
                    eprintln!("server: {line}");
                }
                logs.lock().unwrap().push(line);
            }
        });
        let address = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("the server did not report its address");
        let scheme = if self.env.iter().any(|(k, _)| k == "BULWARK_TLS_CERT_FILE") {
            "https"
        } else {
            "http"
        };
        self.base = format!("{scheme}://{address}");
        self.address = address;
        self.child = Some(child);
    }

    /// The server's log lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// SIGKILLs the process: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// SIGTERMs the process and waits for it to exit: its shutdown code runs.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            let exit = child.wait().unwrap();
            assert!(exit.success(), "the server ended with {exit}");
        }
    }

    /// The metadata database's URL, for a test that must reach past the store's API.
    pub fn database_url(&self) -> String {
        match self.env.iter().find(|(k, _)| k == "BULWARK_DATABASE_URL") {
            Some((_, url)) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("metadata.db").display()),
        }
    }

    /// Sets a `BULWARK_*` variable for the next (re)start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Removes a variable set with [`TestServer::set_env`], for the next (re)start.
    pub fn unset_env(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    /// Starts the process again on the same data (a new port).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Peak resident memory of the server process so far, in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A failing scenario shows what the server said about it: its warnings and errors,
        // and how it ended if it died on its own.
        if std::thread::panicking() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                eprintln!("the server had exited: {status}");
            }
            let logs = self.logs();
            let notable: Vec<&String> = logs
                .iter()
                .filter(|line| line.contains("\"WARN\"") || line.contains("\"ERROR\""))
                .collect();
            eprintln!(
                "server warnings and errors ({} of {} lines):",
                notable.len(),
                logs.len()
            );
            for line in notable.iter().rev().take(50).rev() {
                eprintln!("  {line}");
            }
        }
        self.kill();
    }
}

/// A management API call as the administrator; panics unless it succeeds. The JSON answer,
/// or `Null` for an empty one.
pub async fn api(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let response = server
        .client()
        .request(method.clone(), server.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// A client that sends no credentials.
pub fn anonymous_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A client that sends `username:secret` as Basic credentials with every request.
pub fn client_as(username: &str, secret: &str) -> reqwest::Client {
    client_trusting(username, secret, None)
}

/// [`client_as`], trusting the CA certificates in `ca_file` too.
pub fn client_trusting(username: &str, secret: &str, ca_file: Option<&Path>) -> reqwest::Client {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{secret}"));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Basic {basic}").parse().unwrap(),
    );
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers);
    if let Some(ca_file) = ca_file {
        for certificate in
            reqwest::Certificate::from_pem_bundle(&std::fs::read(ca_file).unwrap()).unwrap()
        {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().unwrap()
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

pub fn sha256(bytes: &[u8]) -> Digest {
    Digest::sha256_of(bytes)
}

/// Pushes a blob monolithically; panics unless the registry answers 201.
pub async fn push_blob(server: &TestServer, repo: &str, bytes: &[u8]) -> Digest {
    let digest = sha256(bytes);
    let response = server
        .client()
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")))
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    digest
}

/// An image manifest over a config and one layer, both pushed first; returns its bytes.
pub async fn push_image(server: &TestServer, repo: &str, seed: &str) -> Vec<u8> {
    let config = format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"seed\":\"{seed}\"}}");
    let layer = format!("layer of {seed}");
    let config_digest = push_blob(server, repo, config.as_bytes()).await;
    let layer_digest = push_blob(server, repo, layer.as_bytes()).await;
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest.to_string(), "size": layer.len()}],
    }))
    .unwrap()
}

pub async fn put_manifest(
    server: &TestServer,
    repo: &str,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> reqwest::Response {
    server
        .client()
        .put(server.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("content-type", media_type)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}

/// Writes an OCI image layout with one tagged single-layer image to `dir` and returns the
/// manifest digest.
pub fn write_oci_layout(dir: &Path, tag: &str, payload: &[u8]) -> Digest {
    write_oci_image(dir, tag, &[tar_of(&[("payload.bin", payload)])])
}

/// Writes an OCI image layout with one tagged image of these layers (tar archives, bottom
/// first, gzipped here) to `dir` and returns the manifest digest.
pub fn write_oci_image(dir: &Path, tag: &str, layers: &[Vec<u8>]) -> Digest {
    write_oci_image_compressed(dir, tag, layers, flate2::Compression::fast())
}

/// `bytes` gzipped at `level`; `Compression::none()` keeps them readable inside the
/// gzip stream (deflate's stored blocks).
pub fn gzip(bytes: &[u8], level: flate2::Compression) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
    std::io::Write::write_all(&mut encoder, bytes).unwrap();
    encoder.finish().unwrap()
}

/// [`write_oci_image`] with the layers gzipped at `level` (each layer blob is
/// [`gzip`]`(tar, level)`).
pub fn write_oci_image_compressed(
    dir: &Path,
    tag: &str,
    layers: &[Vec<u8>],
    level: flate2::Compression,
) -> Digest {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = sha256(bytes);
        std::fs::write(blobs.join(digest.encoded()), bytes).unwrap();
        digest
    };
    let mut diff_ids = Vec::new();
    let mut descriptors = Vec::new();
    for tar in layers {
        diff_ids.push(sha256(tar).to_string());
        // Gzipped, as registries expect: skopeo compresses uncompressed layers on push, which
        // would change the manifest and defeat the byte-exact round trip.
        let layer = gzip(tar, level);
        let digest = put(&layer);
        descriptors.push(serde_json::json!(
            {"mediaType": OCI_LAYER, "digest": digest.to_string(), "size": layer.len()}
        ));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {}
    }))
    .unwrap();
    let config_digest = put(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest.to_string(), "size": config.len()},
        "layers": descriptors,
    }))
    .unwrap();
    let manifest_digest = put(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": manifest_digest.to_string(), "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": tag}}]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    manifest_digest
}

/// A tar archive of regular files (path, content); an empty content under a `.wh.` name
/// is a whiteout, as image layers write them.
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *content).unwrap();
    }
    builder.into_inner().unwrap()
}

/// Runs a command, returning stdout; panics with its output on failure.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} could not be started ({e}); run the README's test command, which installs it"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `skopeo copy` of the image tagged `1.0` in the OCI layout `layout` to `reference` on the
/// server, as the administrator.
pub fn push_layout(server: &TestServer, layout: &Path, reference: &str) {
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &server.creds(),
            &format!("oci:{}:1.0", layout.display()),
            &format!("docker://{}/{reference}", server.address),
        ],
    );
}

/// Imports OSV `records` with `bulwark db import` into the server's own database, as an
/// operator does while it runs.
pub fn import_advisories(server: &TestServer, records: &[serde_json::Value]) {
    let dir = tempfile::tempdir().unwrap();
    for record in records {
        let id = record["id"].as_str().unwrap();
        std::fs::write(dir.path().join(format!("{id}.json")), record.to_string()).unwrap();
    }
    let output = server
        .command()
        .args(["db", "import"])
        .arg(dir.path())
        .arg("--data-dir")
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "db import: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
