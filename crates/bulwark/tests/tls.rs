//! TLS and mTLS with real clients: skopeo and podman against a CA made here, client
//! certificates that authenticate as a user or a robot, certificates renewed without a
//! restart, and the refusal to serve plain HTTP off loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};

/// A certificate authority made for one test.
struct Pki {
    issuer: Issuer<'static, KeyPair>,
    ca_pem: String,
}

/// A certificate and its key, as PEM.
struct Issued {
    cert: String,
    key: String,
    der: Vec<u8>,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Pki {
            issuer: Issuer::new(params, key),
            ca_pem,
        }
    }

    fn issue(&self, common_name: &str, usage: ExtendedKeyUsagePurpose) -> Issued {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        params.subject_alt_names = vec![
            SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
            SanType::DnsName("localhost".try_into().unwrap()),
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    fn server(&self, name: &str) -> Issued {
        self.issue(name, ExtendedKeyUsagePurpose::ServerAuth)
    }

    fn client(&self, account: &str) -> Issued {
        self.issue(account, ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// Writes `contents` to `path` the way a certificate renewal should: a new file renamed
/// over the old.
fn replace(path: &Path, contents: &str) {
    let temporary = path.with_extension("new");
    std::fs::write(&temporary, contents).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// The files a TLS server is started with.
struct ServerFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn server_files(dir: &Path, pki: &Pki, certificate: &Issued) -> ServerFiles {
    let files = ServerFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server-key.pem"),
    };
    std::fs::write(&files.ca, &pki.ca_pem).unwrap();
    std::fs::write(&files.cert, &certificate.cert).unwrap();
    std::fs::write(&files.key, &certificate.key).unwrap();
    files
}

/// A containers-style certificate directory (`--cert-dir`): the CA, and a client
/// certificate when one is given.
fn cert_dir(dir: &Path, pki: &Pki, client: Option<&Issued>) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("ca.crt"), &pki.ca_pem).unwrap();
    if let Some(client) = client {
        std::fs::write(dir.join("client.cert"), &client.cert).unwrap();
        std::fs::write(dir.join("client.key"), &client.key).unwrap();
    }
    dir.to_str().unwrap().to_owned()
}

/// A client with no credentials of its own that trusts `pki`, presenting `identity`.
fn tls_client(pki: &Pki, identity: Option<&Issued>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .tls_info(true);
    if let Some(identity) = identity {
        let pem = format!("{}{}", identity.cert, identity.key);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// What `openssl s_client` negotiates with the server at `address`, forced to `version`.
fn negotiated(address: &str, ca: &Path, version: &str) -> String {
    let output = std::process::Command::new("openssl")
        .args(["s_client", "-brief", "-verify_return_error", version])
        .args(["-connect", address, "-CAfile"])
        .arg(ca)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl runs");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_client_certificates_with_real_clients() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::new("Bulwark test CA");
    let files = server_files(work.path(), &pki, &pki.server("registry"));
    let server = TestServer::start_with(
        Backend::Sqlite,
        &[
            ("BULWARK_TLS_CERT_FILE", files.cert.to_str().unwrap()),
            ("BULWARK_TLS_KEY_FILE", files.key.to_str().unwrap()),
            ("BULWARK_TLS_CLIENT_CA_FILE", files.ca.to_str().unwrap()),
            ("BULWARK_CA_FILE", files.ca.to_str().unwrap()),
        ],
    )
    .await;
    assert!(server.base.starts_with("https://"), "{}", server.base);

    // The token realm a client is sent to is on https too.
    let challenge = tls_client(&pki, None)
        .get(server.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(challenge.status(), 401);
    let realm = challenge.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        realm.contains(&format!("realm=\"https://{}/auth/token\"", server.address)),
        "{realm}"
    );
    // Plain HTTP to the TLS port gets no HTTP answer; a client that does not trust the CA
    // is refused in the handshake.
    assert!(
        anonymous_client()
            .get(format!("http://{}/v2/", server.address))
            .send()
            .await
            .is_err()
    );
    assert!(
        anonymous_client()
            .get(server.url("/v2/"))
            .send()
            .await
            .is_err()
    );
    // TLS 1.3 and 1.2 both, with modern suites only.
    let tls13 = negotiated(&server.address, &files.ca, "-tls1_3");
    assert!(tls13.contains("Protocol version: TLSv1.3"), "{tls13}");
    let tls12 = negotiated(&server.address, &files.ca, "-tls1_2");
    assert!(tls12.contains("Protocol version: TLSv1.2"), "{tls12}");
    let suite = tls12
        .lines()
        .find_map(|line| line.strip_prefix("Ciphersuite: "))
        .unwrap();
    assert!(
        suite.starts_with("ECDHE-")
            && (suite.ends_with("GCM-SHA256")
                || suite.ends_with("GCM-SHA384")
                || suite.contains("CHACHA20")),
        "{suite}"
    );

    // skopeo pushes and reads back verifying the server against the CA (no
    // --tls-verify=false anywhere), and fails without it.
    let ca_only = cert_dir(&work.path().join("certs-ca"), &pki, None);
    let source = work.path().join("source");
    let digest = write_oci_layout(&source, "v1", b"over tls");
    let image = |path: &str| format!("docker://{}/{path}", server.address);
    run(
        "skopeo",
        &[
            "copy",
            "--dest-cert-dir",
            &ca_only,
            "--dest-creds",
            &server.creds(),
            &format!("oci:{}:v1", source.display()),
            &image("proj/app:v1"),
        ],
    );
    let untrusting = std::process::Command::new("skopeo")
        .args(["inspect", "--creds", &server.creds(), &image("proj/app:v1")])
        .output()
        .unwrap();
    assert!(!untrusting.status.success());
    assert!(
        String::from_utf8_lossy(&untrusting.stderr).contains("certificate"),
        "{}",
        String::from_utf8_lossy(&untrusting.stderr)
    );

    // mTLS: a certificate naming the administrator is its credential, with nothing else
    // sent: skopeo gets its registry token with it.
    let admin_certificate = pki.client("admin");
    let as_admin = cert_dir(
        &work.path().join("certs-admin"),
        &pki,
        Some(&admin_certificate),
    );
    let inspected: serde_json::Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", "--cert-dir", &as_admin, &image("proj/app:v1")],
    ))
    .unwrap();
    assert_eq!(inspected["Digest"], digest.to_string());
    // Without a certificate the same request is anonymous, and the project is private.
    let anonymous = std::process::Command::new("skopeo")
        .args(["inspect", "--cert-dir", &ca_only, &image("proj/app:v1")])
        .output()
        .unwrap();
    assert!(!anonymous.status.success());
    let me: serde_json::Value = tls_client(&pki, Some(&admin_certificate))
        .get(server.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "admin");
    assert_eq!(me["admin"], true);

    // A robot named in a certificate has the robot's rights: it may pull, not push.
    api(
        &server,
        reqwest::Method::POST,
        "/api/v1/projects/proj/robots",
        serde_json::json!({ "name": "reader", "permissions": ["proj:pull"] }),
    )
    .await;
    let robot = pki.client("robot+proj+reader");
    let as_robot = cert_dir(&work.path().join("certs-robot"), &pki, Some(&robot));
    run(
        "skopeo",
        &["inspect", "--cert-dir", &as_robot, &image("proj/app:v1")],
    );
    let push = std::process::Command::new("skopeo")
        .args(["copy", "--dest-cert-dir", &as_robot])
        .arg(format!("oci:{}:v1", source.display()))
        .arg(image("proj/robot-push:v1"))
        .output()
        .unwrap();
    assert!(!push.status.success(), "a pull-only robot pushed");
    let me: serde_json::Value = tls_client(&pki, Some(&robot))
        .get(server.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["kind"], "robot");

    // A certificate naming no account is a failed sign-in, not an anonymous request.
    let nobody = tls_client(&pki, Some(&pki.client("nobody")))
        .get(server.url("/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(nobody.status(), 401);
    // A certificate from another CA fails the handshake.
    let stranger = Pki::new("Someone else's CA");
    let foreign = tls_client(&pki, Some(&stranger.client("admin")));
    assert!(foreign.get(server.url("/v2/")).send().await.is_err());

    // podman pulls and pushes over mTLS with no login at all.
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
    let pushed = format!("{}/proj/by-podman:v2", server.address);
    podman(&["pull", "--cert-dir", &as_admin, &pulled]);
    podman(&["tag", &pulled, &pushed]);
    podman(&["push", "--cert-dir", &as_admin, &pushed]);
    let copied: serde_json::Value = serde_json::from_str(&run(
        "skopeo",
        &[
            "inspect",
            "--cert-dir",
            &as_admin,
            &image("proj/by-podman:v2"),
        ],
    ))
    .unwrap();
    assert_eq!(copied["Layers"], inspected["Layers"]);

    // The CLI reaches it through BULWARK_CA_FILE.
    server.login_as_admin();
    let output = server
        .command()
        .args(["whoami", "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The certificate a new connection to `url` is served.
async fn served_certificate(pki: &Pki, url: &str) -> Vec<u8> {
    let response = tls_client(pki, None).get(url).send().await.unwrap();
    let info = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .unwrap();
    info.peer_certificate().unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::new("Bulwark test CA");
    let first = pki.server("first");
    let files = server_files(work.path(), &pki, &first);
    let server = TestServer::start_with(
        Backend::Sqlite,
        &[
            ("BULWARK_TLS_CERT_FILE", files.cert.to_str().unwrap()),
            ("BULWARK_TLS_KEY_FILE", files.key.to_str().unwrap()),
            ("BULWARK_TLS_RELOAD_SECS", "1"),
            ("BULWARK_CA_FILE", files.ca.to_str().unwrap()),
        ],
    )
    .await;
    let url = server.url("/v2/");
    assert_eq!(served_certificate(&pki, &url).await, first.der);

    // Half a renewal (the new key beside the old certificate) is refused, and the old
    // certificate goes on being served.
    let second = pki.server("second");
    replace(&files.key, &second.key);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server
        .logs()
        .iter()
        .any(|line| line.contains("tls-reload") && line.contains("background job failed"))
    {
        assert!(
            Instant::now() < deadline,
            "the mismatched key was not noticed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served_certificate(&pki, &url).await, first.der);

    // The whole renewal is served to new connections, by the same process.
    let pid = server.pid();
    replace(&files.cert, &second.cert);
    let deadline = Instant::now() + Duration::from_secs(30);
    while served_certificate(&pki, &url).await != second.der {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(server.pid(), pid);
}

#[test]
fn plain_http_is_refused_off_loopback_unless_insecure_http_is_given() {
    let work = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .env_remove("BULWARK_CONFIG")
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(work.path().join("data"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to serve plain HTTP") && stderr.contains("--insecure-http"),
        "{stderr}"
    );

    // Told a TLS-terminating proxy is in front, it listens.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .env_remove("BULWARK_CONFIG")
        .args([
            "serve",
            "--insecure-http",
            "--listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(work.path().join("data"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let listening = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .map_while(Result::ok)
        .any(|line| line.contains("listening"));
    child.kill().ok();
    child.wait().ok();
    assert!(listening);
}
