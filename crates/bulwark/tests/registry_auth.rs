//! The registry token flow against a real server: challenges, the token endpoint (GET and the
//! OAuth2 form), granted subsets, forged tokens, uploads that outlive their token, backoff on
//! failed sign-ins, immediate revocation, logs free of secrets, and the CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// One dot-separated part of a JWT (0 = header, 1 = claims), decoded.
fn jwt_part(jwt: &str, part: usize) -> Value {
    let encoded = jwt.split('.').nth(part).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap()
}

fn claims_of(jwt: &str) -> Value {
    jwt_part(jwt, 1)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A user with a password and a role in `proj`.
async fn member(server: &TestServer, name: &str, role: &str) -> String {
    let password = format!("{name}-password-123");
    api(
        server,
        reqwest::Method::POST,
        "/api/v1/users",
        json!({ "name": name, "password": password }),
    )
    .await;
    api(
        server,
        reqwest::Method::PUT,
        &format!("/api/v1/projects/proj/members/{name}"),
        json!({ "role": role }),
    )
    .await;
    password
}

async fn registry_token(server: &TestServer, user: &str, secret: &str, scopes: &[&str]) -> Value {
    let mut query = vec![("service", "bulwark")];
    query.extend(scopes.iter().map(|s| ("scope", *s)));
    let response = anonymous_client()
        .get(server.url("/auth/token"))
        .basic_auth(user, Some(secret))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn bearer(jwt: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {jwt}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

fn challenge(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn token_flow(backend: Backend) {
    let server = TestServer::start(backend).await;
    let realm = format!(
        "Bearer realm=\"http://{}/auth/token\",service=\"bulwark\"",
        server.address
    );

    let response = anonymous_client()
        .get(server.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(challenge(&response), realm);
    let response = anonymous_client()
        .get(server.url("/v2/proj/app/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        challenge(&response),
        format!("{realm},scope=\"repository:proj/app:pull\"")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");

    // A developer asks for pull, push and delete; gets pull and push.
    let password = member(&server, "dev", "developer").await;
    let issued = registry_token(
        &server,
        "dev",
        &password,
        &[
            "repository:proj/app:pull,push",
            "repository:proj/app:delete",
            "repository:other/x:pull",
        ],
    )
    .await;
    assert_eq!(issued["expires_in"], 300);
    assert_eq!(issued["token"], issued["access_token"]);
    let jwt = issued["token"].as_str().unwrap();
    let header = jwt_part(jwt, 0);
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].is_string());
    let claims = claims_of(jwt);
    assert_eq!(
        claims["access"],
        json!([{"type": "repository", "name": "proj/app", "actions": ["pull", "push"]}])
    );
    assert_eq!(claims["aud"], "bulwark");
    assert_eq!(claims["sub"], "dev");

    // The token works for what it grants, and a wider need gets insufficient_scope.
    let client = bearer(jwt);
    let blob = b"pushed with a registry token";
    let response = client
        .post(server.url(&format!(
            "/v2/proj/app/blobs/uploads/?digest={}",
            sha256(blob)
        )))
        .body(blob.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let response = client
        .delete(server.url(&format!("/v2/proj/app/blobs/{}", sha256(blob))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        challenge(&response)
            .ends_with(",scope=\"repository:proj/app:delete\",error=\"insufficient_scope\"")
    );

    // The OAuth2 form (POST) with the password grant.
    let response = anonymous_client()
        .post(server.url("/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "dev"),
            ("password", password.as_str()),
            ("service", "bulwark"),
            ("scope", "repository:proj/app:pull"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let form_token: Value = response.json().await.unwrap();
    assert_eq!(
        claims_of(form_token["access_token"].as_str().unwrap())["access"][0]["actions"],
        json!(["pull"])
    );

    // Wrong credentials and a foreign service are refused.
    let response = anonymous_client()
        .get(server.url("/auth/token?service=bulwark"))
        .basic_auth("dev", Some("wrong-password-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = anonymous_client()
        .get(server.url("/auth/token?service=elsewhere"))
        .basic_auth("dev", Some(&password))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // Anonymous tokens carry public pulls only.
    let anonymous: Value = anonymous_client()
        .get(server.url("/auth/token?service=bulwark&scope=repository:proj/app:pull,push"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims_of(anonymous["token"].as_str().unwrap())["access"],
        json!([])
    );
    api(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/projects/proj",
        json!({ "public": true }),
    )
    .await;
    let anonymous: Value = anonymous_client()
        .get(server.url("/auth/token?service=bulwark&scope=repository:proj/app:pull,push"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = anonymous["token"].as_str().unwrap();
    assert_eq!(claims_of(jwt)["access"][0]["actions"], json!(["pull"]));
    let response = bearer(jwt)
        .get(server.url("/v2/proj/app/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn forged_tokens_are_refused(backend: Backend) {
    bulwark_auth::install_crypto_provider();
    let server = TestServer::start(backend).await;
    let manifest = push_image(&server, "proj/app", "forgery").await;
    put_manifest(&server, "proj/app", "v1", OCI_MANIFEST, &manifest).await;
    let store = server.metadata().await;
    let key = store
        .signing_keys(0)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.retired_at.is_none())
        .unwrap();
    store.close().await;
    let claims = |changes: &dyn Fn(&mut Value)| {
        let mut claims = json!({
            "iss": "bulwark", "sub": "admin", "aud": "bulwark",
            "exp": now() + 300, "nbf": now() - 1, "iat": now(), "jti": "forged",
            "access": [{"type": "repository", "name": "proj/app", "actions": ["pull"]}],
            "acct": {"kind": "user", "id": 1}
        });
        changes(&mut claims);
        claims
    };
    let ed_header = |kid: &str| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        header
    };
    let real_key = EncodingKey::from_ed_der(&key.private_key);
    let sign =
        |claims: &Value| jsonwebtoken::encode(&ed_header(&key.kid), claims, &real_key).unwrap();
    let status_with = |jwt: String| {
        let server = &server;
        async move {
            let response = bearer(&jwt)
                .get(server.url("/v2/proj/app/tags/list"))
                .send()
                .await
                .unwrap();
            let status = response.status();
            if status == 401 {
                assert!(challenge(&response).contains("error=\"invalid_token\""));
            }
            status
        }
    };

    // The forging machinery is sound: the real key with honest claims is accepted.
    assert_eq!(status_with(sign(&claims(&|_| {}))).await, StatusCode::OK);

    let other = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let other_der = {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        other.to_pkcs8_der().unwrap().as_bytes().to_vec()
    };
    let other_key = EncodingKey::from_ed_der(&other_der);
    let forgeries: Vec<(&str, String)> = vec![
        (
            "another key",
            jsonwebtoken::encode(&ed_header("unknown"), &claims(&|_| {}), &other_key).unwrap(),
        ),
        (
            "another key under our kid",
            jsonwebtoken::encode(&ed_header(&key.kid), &claims(&|_| {}), &other_key).unwrap(),
        ),
        ("alg none", {
            let header =
                b64url(format!(r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#, key.kid).as_bytes());
            format!(
                "{header}.{}.",
                b64url(&serde_json::to_vec(&claims(&|_| {})).unwrap())
            )
        }),
        ("HS256 keyed with the public key", {
            use hmac::{KeyInit, Mac};
            let header =
                b64url(format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, key.kid).as_bytes());
            let input = format!(
                "{header}.{}",
                b64url(&serde_json::to_vec(&claims(&|_| {})).unwrap())
            );
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key.public_key).unwrap();
            mac.update(input.as_bytes());
            format!("{input}.{}", b64url(&mac.finalize().into_bytes()))
        }),
        ("altered scope", {
            let honest = sign(&claims(&|_| {}));
            let parts: Vec<&str> = honest.split('.').collect();
            let wider = claims(&|c| c["access"][0]["actions"] = json!(["pull", "push", "delete"]));
            format!(
                "{}.{}.{}",
                parts[0],
                b64url(&serde_json::to_vec(&wider).unwrap()),
                parts[2]
            )
        }),
        (
            "expired",
            sign(&claims(&|c| {
                c["exp"] = json!(now() - 60);
                c["iat"] = json!(now() - 400);
                c["nbf"] = json!(now() - 400);
            })),
        ),
        (
            "not yet valid",
            sign(&claims(&|c| c["nbf"] = json!(now() + 600))),
        ),
        (
            "wrong audience",
            sign(&claims(&|c| c["aud"] = json!("another-registry"))),
        ),
        (
            "wrong issuer",
            sign(&claims(&|c| c["iss"] = json!("someone-else"))),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (name, jwt) in forgeries {
        assert_eq!(status_with(jwt).await, StatusCode::UNAUTHORIZED, "{name}");
    }
}

async fn chunked_upload_outlives_its_token(backend: Backend) {
    let mut server =
        TestServer::start_with(backend, &[("BULWARK_REGISTRY_TOKEN_TTL_SECS", "5")]).await;
    let scope = ["repository:proj/app:pull,push"];
    let first = registry_token(&server, "admin", &server.admin_token, &scope).await;
    let client = bearer(first["token"].as_str().unwrap());
    let response = client
        .post(server.url("/v2/proj/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (one, two) = (vec![1u8; 1000], vec![2u8; 500]);
    let response = client
        .patch(server.url(&location))
        .header("content-range", "0-999")
        .body(one.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);

    // The token expires (5 s lifetime plus the verifier's 2 s leeway): the server's clock
    // is moved 8 s on, not waited for.
    server.set_env("FAILPOINTS", "clock::offset_ms=return(8000)");
    server.restart();
    let response = client
        .patch(server.url(&location))
        .header("content-range", "1000-1499")
        .body(two.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "an expired token is refused");

    // After re-authenticating, the same session continues where it stopped.
    let second = registry_token(&server, "admin", &server.admin_token, &scope).await;
    let client = bearer(second["token"].as_str().unwrap());
    let status: reqwest::Response = client.get(server.url(&location)).send().await.unwrap();
    assert_eq!(status.headers()["range"], "0-999");
    let response = client
        .patch(server.url(&location))
        .header("content-range", "1000-1499")
        .body(two.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let whole: Vec<u8> = one.iter().chain(&two).copied().collect();
    let response = client
        .put(server.url(&format!("{location}?digest={}", sha256(&whole))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let pulled = client
        .get(server.url(&format!("/v2/proj/app/blobs/{}", sha256(&whole))))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(pulled.as_ref(), whole.as_slice());
}

async fn failed_sign_ins_back_off(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let response = client_as("admin", "not-the-password")
            .get(server.url("/v2/"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=900).contains(&retry));
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["errors"][0]["code"], "TOOMANYREQUESTS");
        }
    }
    assert_eq!(
        &statuses[..6],
        &[401, 401, 401, 401, 401, 401],
        "five free failures, then backoff"
    );
    assert_eq!(statuses[6], 429);
    // The account's password is blocked, from anywhere, including the token endpoint...
    let response = anonymous_client()
        .get(server.url("/auth/token?service=bulwark"))
        .basic_auth("admin", Some("still-not-the-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    // ...but guessing the account's password does not lock out its valid tokens.
    let response = server
        .client()
        .get(server.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // An address that keeps failing (here across many account names) is blocked as a whole,
    // ten times later than one account, since many users may share an address.
    let mut blocked_after = None;
    for attempt in 0..60 {
        let response = client_as(&format!("user{attempt}"), "not-the-password")
            .get(server.url("/v2/"))
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            blocked_after = Some(attempt);
            break;
        }
    }
    // 6 failures counted above (the 429s were not attempts), then 45 more pass the 50 free
    // ones of the address; the good request in between did not reset the count.
    assert_eq!(blocked_after, Some(45));
    let response = server
        .client()
        .get(server.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        429,
        "while the address waits, even good credentials wait"
    );
}

async fn revocation_and_disabling_are_immediate(backend: Backend) {
    let server = TestServer::start(backend).await;
    member(&server, "dev", "developer").await;
    let manifest = push_image(&server, "proj/app", "revoke").await;
    put_manifest(&server, "proj/app", "v1", OCI_MANIFEST, &manifest).await;
    let tags = |client: reqwest::Client| {
        let url = server.url("/v2/proj/app/tags/list");
        async move { client.get(url).send().await.unwrap().status() }
    };
    let token = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/users/dev/tokens",
        json!({ "name": "laptop" }),
    )
    .await;
    let secret = token["token"].as_str().unwrap();
    assert_eq!(tags(client_as("dev", secret)).await, 200);
    api(
        &server,
        reqwest::Method::DELETE,
        &format!("/api/v1/tokens/{}", token["id"].as_str().unwrap()),
        Value::Null,
    )
    .await;
    assert_eq!(
        tags(client_as("dev", secret)).await,
        401,
        "revoked: refused at once"
    );

    let token = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/users/dev/tokens",
        json!({ "name": "desktop" }),
    )
    .await;
    let secret = token["token"].as_str().unwrap();
    let jwt = registry_token(&server, "dev", secret, &["repository:proj/app:pull"]).await;
    api(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/users/dev",
        json!({ "disabled": true }),
    )
    .await;
    assert_eq!(
        tags(client_as("dev", secret)).await,
        401,
        "disabled: its tokens stop"
    );
    // A registry token already issued lives out its lifetime (the documented bound), and
    // no new one can be had.
    assert_eq!(tags(bearer(jwt["token"].as_str().unwrap())).await, 200);
    let response = anonymous_client()
        .get(server.url("/auth/token?service=bulwark"))
        .basic_auth("dev", Some(secret))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

async fn no_secret_reaches_the_logs(backend: Backend) {
    let server = TestServer::start_with(backend, &[("BULWARK_LOG", "debug")]).await;
    let password = member(&server, "dev", "developer").await;
    let token = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/tokens",
        json!({ "name": "x" }),
    )
    .await;
    let secret = token["token"].as_str().unwrap().to_owned();
    let jwt = registry_token(
        &server,
        "dev",
        &password,
        &["repository:proj/app:pull,push"],
    )
    .await;
    let jwt = jwt["token"].as_str().unwrap().to_owned();
    push_image(&server, "proj/app", "logs").await;
    bearer(&jwt)
        .get(server.url("/v2/proj/app/tags/list"))
        .send()
        .await
        .unwrap();
    client_as("dev", "wrong-password-456")
        .get(server.url("/v2/"))
        .send()
        .await
        .unwrap();
    client_as("admin", &secret)
        .get(server.url("/v2/"))
        .send()
        .await
        .unwrap();
    // A query string is not logged either (some clients put credentials there).
    anonymous_client()
        .get(server.url(&format!("/auth/token?service=bulwark&password={password}")))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = server.logs();
    assert!(logs.len() > 10, "debug logging produced lines");
    for line in &logs {
        for secret in [
            &password,
            &secret,
            &jwt,
            &server.admin_token,
            &"wrong-password-456".to_owned(),
        ] {
            assert!(
                !line.contains(secret.as_str()),
                "a secret in the log: {line}"
            );
        }
        let jwt_signature = jwt.rsplit('.').next().unwrap();
        assert!(!line.contains(jwt_signature), "a token in the log: {line}");
    }
}

/// Runs the CLI with `input` on stdin; returns stdout.
fn cli(server: &TestServer, credentials: &std::path::Path, args: &[&str], input: &str) -> String {
    let mut command = server.command();
    command
        .env("BULWARK_CREDENTIALS", credentials)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "bulwark {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn last_line(output: &str) -> String {
    output.lines().last().unwrap().to_owned()
}

async fn cli_manages_access(backend: Backend) {
    let server = TestServer::start(backend).await;
    let work = tempfile::tempdir().unwrap();
    let admin_login = work.path().join("admin.toml");
    let url = server.base.clone();
    let admin_token = format!("{}\n", server.admin_token);
    let run = |args: &[&str]| cli(&server, &admin_login, args, "");

    cli(
        &server,
        &admin_login,
        &["login", &url, "--username", "admin", "--password-stdin"],
        &admin_token,
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&admin_login)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the stored login is private");
    }
    let me: Value = serde_json::from_str(&run(&["whoami", "--json"])).unwrap();
    assert_eq!(me["name"], "admin");
    assert_eq!(me["admin"], true);

    cli(
        &server,
        &admin_login,
        &["user", "create", "alice", "--password-stdin"],
        "alice-password-123\n",
    );
    run(&["project", "create", "team", "--owner", "alice"]);
    run(&["user", "create", "bob"]);
    run(&["member", "set", "team", "bob", "--role", "reader"]);
    let members: Value = serde_json::from_str(&run(&["member", "list", "team", "--json"])).unwrap();
    assert_eq!(
        members,
        json!([{"user": "alice", "role": "owner", "created_at": members[0]["created_at"]},
               {"user": "bob", "role": "reader", "created_at": members[1]["created_at"]}])
    );
    let table = run(&["project", "list"]);
    assert!(table.contains("team") && table.contains("proj"), "{table}");

    // A robot's token, printed alone on the last line, works with a real client.
    let robot = run(&[
        "robot",
        "create",
        "ci",
        "--project",
        "team",
        "--permission",
        "team:pull,push",
        "--expires-in-days",
        "7",
    ]);
    let robot_token = last_line(&robot);
    assert!(robot_token.starts_with("bwk_"), "{robot}");
    let layout = work.path().join("layout");
    write_oci_layout(&layout, "v1", b"robot payload");
    common::run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &format!("robot+team+ci:{robot_token}"),
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{}/team/app:v1", server.address),
        ],
    );

    // Alice signs in with her password; the CLI stores a token, never the password.
    let alice_login = work.path().join("alice.toml");
    cli(
        &server,
        &alice_login,
        &["login", &url, "--username", "alice", "--password-stdin"],
        "alice-password-123\n",
    );
    let stored = std::fs::read_to_string(&alice_login).unwrap();
    assert!(!stored.contains("alice-password-123") && stored.contains("bwk_"));
    let me: Value =
        serde_json::from_str(&cli(&server, &alice_login, &["whoami", "--json"], "")).unwrap();
    assert_eq!(me["name"], "alice");
    assert!(me["token"].is_string());
    let scoped = cli(
        &server,
        &alice_login,
        &[
            "token",
            "create",
            "pull-only",
            "--scope",
            "team:pull",
            "--expires-in-days",
            "30",
        ],
        "",
    );
    let scoped = last_line(&scoped);
    let listed: Value = serde_json::from_str(&cli(
        &server,
        &alice_login,
        &["token", "list", "--json"],
        "",
    ))
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let response = client_as("alice", &scoped)
        .get(server.url("/v2/team/app/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = client_as("alice", &scoped)
        .delete(server.url("/v2/team/app/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "the scope holds");

    // Logging out revokes the login's token.
    let login_token = toml::from_str::<Value>(&stored).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    cli(&server, &alice_login, &["logout"], "");
    assert!(!alice_login.exists());
    let response = client_as("alice", &login_token)
        .get(server.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Alice changes her own password: the current one is required.
    let admin_client = server.client();
    let response = admin_client
        .put(server.url("/api/v1/me/password"))
        .json(&json!({ "new_password": "admin-password-123" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        204,
        "no password yet: the token may set one"
    );
    let response = admin_client
        .put(server.url("/api/v1/me/password"))
        .json(&json!({ "new_password": "another-password-1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        400,
        "now the current password is required"
    );
    cli(
        &server,
        &admin_login,
        &["user", "passwd", "--stdin"],
        "admin-password-123\nanother-password-1\n",
    );
    let response = client_as("admin", "another-password-1")
        .get(server.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Errors read well and fail the command.
    let mut command = server.command();
    let output = command
        .env("BULWARK_CREDENTIALS", &admin_login)
        .args(["member", "set", "team", "nobody", "--role", "reader"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("404") && stderr.contains("user not found"),
        "{stderr}"
    );
}

async fn pushes_need_an_existing_project(backend: Backend) {
    let server = TestServer::start(backend).await;
    let blob = b"nowhere to go";
    let response = server
        .client()
        .post(server.url(&format!(
            "/v2/ghost/app/blobs/uploads/?digest={}",
            sha256(blob)
        )))
        .body(blob.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        404,
        "even an administrator pushes only into projects"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "NAME_UNKNOWN");
    server.create_project("ghost", false).await;
    push_blob(&server, "ghost/app", blob).await;
}

async fn admin_init_runs_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut command = server.command();
    let output = command
        .args(["admin", "init", "--username", "second", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));
}

async fn catalog_shows_only_what_the_caller_may_pull(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_project("other", false).await;
    server.create_project("open", true).await;
    for repo in ["proj/a", "proj/b", "other/c", "open/d"] {
        let manifest = push_image(&server, repo, repo).await;
        put_manifest(&server, repo, "v1", OCI_MANIFEST, &manifest).await;
    }
    let password = member(&server, "reader", "reader").await;
    let catalog = |client: reqwest::Client, query: &'static str| {
        let url = server.url(&format!("/v2/_catalog{query}"));
        async move {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let link = response
                .headers()
                .get("link")
                .map(|l| l.to_str().unwrap().to_owned());
            let body: Value = response.json().await.unwrap();
            (body["repositories"].clone(), link)
        }
    };
    let (all, _) = catalog(server.client(), "").await;
    assert_eq!(all, json!(["open/d", "other/c", "proj/a", "proj/b"]));
    let reader = client_as("reader", &password);
    let (seen, _) = catalog(reader.clone(), "").await;
    assert_eq!(seen, json!(["open/d", "proj/a", "proj/b"]));
    // Pages fill up with visible names only, and the link leads on from the last one shown.
    let (page, link) = catalog(reader.clone(), "?n=2").await;
    assert_eq!(page, json!(["open/d", "proj/a"]));
    assert_eq!(
        link.unwrap(),
        "</v2/_catalog?n=2&last=proj%2Fa>; rel=\"next\""
    );
    let (rest, link) = catalog(reader.clone(), "?n=2&last=proj%2Fa").await;
    assert_eq!(rest, json!(["proj/b"]));
    assert!(link.is_none());
    // Through a registry token the account's own rights apply.
    let jwt = registry_token(&server, "reader", &password, &["registry:catalog:*"]).await;
    let (seen, _) = catalog(bearer(jwt["token"].as_str().unwrap()), "").await;
    assert_eq!(seen, json!(["open/d", "proj/a", "proj/b"]));

    // Many hidden names between visible ones, and after the last: walking the links one
    // name at a time gives each visible name once, and no link names a hidden one or
    // leads to an empty page.
    server.create_project("zeta", false).await;
    for repo in (0..12)
        .map(|i| format!("other/h{i:02}"))
        .chain(["zeta/x".to_owned()])
    {
        push_blob(&server, &repo, repo.as_bytes()).await;
    }
    let mut walked = Vec::new();
    let mut query = "?n=1".to_owned();
    loop {
        let response = reader
            .get(server.url(&format!("/v2/_catalog{query}")))
            .send()
            .await
            .unwrap();
        let link = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        let page = body["repositories"].as_array().unwrap().clone();
        assert_eq!(page.len(), 1, "{query}: {page:?}");
        walked.extend(page);
        let Some(link) = link else { break };
        assert!(!link.contains("other") && !link.contains("zeta"), "{link}");
        query = link
            .trim_start_matches("</v2/_catalog")
            .split('>')
            .next()
            .unwrap()
            .to_owned();
    }
    assert_eq!(json!(walked), json!(["open/d", "proj/a", "proj/b"]));
}

async fn signing_keys_rotate_without_logging_anyone_out(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    let scope = ["repository:proj/app:pull"];
    let before = registry_token(&server, "admin", &server.admin_token, &scope).await;
    let before = before["token"].as_str().unwrap().to_owned();
    let kid_of = |jwt: &str| jwt_part(jwt, 0)["kid"].as_str().unwrap().to_owned();
    let mut command = server.command();
    let output = command
        .args(["admin", "rotate-signing-key", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let new_kid = String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(new_kid, kid_of(&before));
    // Tokens of the retired key keep working until they expire...
    let status = bearer(&before)
        .get(server.url("/v2/"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    // ...and new tokens are signed with the new key (at once after a restart; within
    // 30 seconds on a running server).
    server.restart();
    let after = registry_token(&server, "admin", &server.admin_token, &scope).await;
    assert_eq!(kid_of(after["token"].as_str().unwrap()), new_kid);
    let status = bearer(&before)
        .get(server.url("/v2/"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

/// A token-using client learns from the challenge to ask for pull on a mount's source, and
/// with that token the mount really happens; with a token for the target alone it falls back
/// to an upload, as the spec asks.
async fn mounts_through_the_token_flow(backend: Backend) {
    let server = TestServer::start(backend).await;
    let digest = push_blob(&server, "proj/source", b"shared layer").await;
    let password = member(&server, "dev", "developer").await;
    let mount = format!("/v2/proj/target/blobs/uploads/?mount={digest}&from=proj/source");

    let response = anonymous_client()
        .post(server.url(&mount))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        challenge(&response)
            .ends_with(",scope=\"repository:proj/target:pull,push repository:proj/source:pull\""),
        "{}",
        challenge(&response)
    );

    let target_only = registry_token(
        &server,
        "dev",
        &password,
        &["repository:proj/target:pull,push"],
    )
    .await;
    let response = bearer(target_only["token"].as_str().unwrap())
        .post(server.url(&mount))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);

    // The challenge's scope, space-separated as docker and containerd send it back.
    let both = registry_token(
        &server,
        "dev",
        &password,
        &["repository:proj/target:pull,push repository:proj/source:pull"],
    )
    .await;
    let client = bearer(both["token"].as_str().unwrap());
    let response = client.post(server.url(&mount)).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let response = client
        .head(server.url(&format!("/v2/proj/target/blobs/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Mounting what the target already holds needs no source at all.
    let response = bearer(target_only["token"].as_str().unwrap())
        .post(server.url(&format!("/v2/proj/target/blobs/uploads/?mount={digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

on_both_backends!(
    mounts_through_the_token_flow,
    catalog_shows_only_what_the_caller_may_pull,
    signing_keys_rotate_without_logging_anyone_out,
    token_flow,
    forged_tokens_are_refused,
    chunked_upload_outlives_its_token,
    failed_sign_ins_back_off,
    revocation_and_disabling_are_immediate,
    no_secret_reaches_the_logs,
    cli_manages_access,
    pushes_need_an_existing_project,
    admin_init_runs_once
);
