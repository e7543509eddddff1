//! The authorization matrix: every endpoint (registry and management, from the server's own
//! lists) × every kind of caller × public and private project, each cell asserting the exact
//! outcome. The expectations are an independent table here; an endpoint missing from it fails
//! the test, so a new route cannot be forgotten.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bulwark_metadata::{TokenOwner, TokenRecord, now_millis};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Reader,
    Developer,
    Maintainer,
    Owner,
    Auditor,
    /// A robot of the project with `pull,push` on it.
    RobotWithScope,
    /// A robot of another project, with every right there and none here.
    RobotWithoutScope,
    /// The owner of another project.
    OtherMember,
    Admin,
    ExpiredToken,
    RevokedToken,
    RotatedOutToken,
}

const CALLERS: [Caller; 13] = [
    Caller::Anonymous,
    Caller::Reader,
    Caller::Developer,
    Caller::Maintainer,
    Caller::Owner,
    Caller::Auditor,
    Caller::RobotWithScope,
    Caller::RobotWithoutScope,
    Caller::OtherMember,
    Caller::Admin,
    Caller::ExpiredToken,
    Caller::RevokedToken,
    Caller::RotatedOutToken,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allow,
    /// 401: no or invalid credentials.
    Unauthenticated,
    /// 403: signed in, not allowed.
    Denied,
    /// 404: not allowed, answered as if absent.
    Hidden,
}

/// The expected outcome of each cell, written from the issue's role definitions.
fn expected(endpoint: (&str, &str), who: Caller, public: bool) -> Expect {
    use Caller::*;
    if matches!(who, ExpiredToken | RevokedToken | RotatedOutToken) {
        return Expect::Unauthenticated;
    }
    let signed_in = who != Anonymous;
    let pull = public
        || matches!(
            who,
            Reader | Developer | Maintainer | Owner | RobotWithScope | Admin
        );
    let push = matches!(who, Developer | Maintainer | Owner | RobotWithScope | Admin);
    let delete = matches!(who, Maintainer | Owner | Admin);
    let manage = matches!(who, Owner | Admin);
    let system = who == Admin;
    let view = public
        || matches!(
            who,
            Reader | Developer | Maintainer | Owner | Auditor | RobotWithScope | Admin
        );
    // Members of the project (robots with a right on it, auditors included), whatever its
    // visibility: who may read its governance.
    let member = matches!(
        who,
        Reader | Developer | Maintainer | Owner | Auditor | RobotWithScope | Admin
    );
    let user_account = matches!(
        who,
        Reader | Developer | Maintainer | Owner | Auditor | OtherMember | Admin
    );
    let allow_if = |ok: bool| match (ok, signed_in) {
        (true, _) => Expect::Allow,
        (false, true) => Expect::Denied,
        (false, false) => Expect::Unauthenticated,
    };
    let hide_unless = |ok: bool| match (ok, signed_in) {
        (true, _) => Expect::Allow,
        (false, true) => Expect::Hidden,
        (false, false) => Expect::Unauthenticated,
    };
    match endpoint {
        ("GET" | "HEAD", "/v2/") | ("GET", "/v2/_catalog") => allow_if(signed_in),
        ("GET", "/v2/{name}/tags/list")
        | ("GET" | "HEAD", "/v2/{name}/manifests/{reference}")
        | ("GET" | "HEAD", "/v2/{name}/blobs/{digest}")
        | ("GET", "/v2/{name}/referrers/{digest}") => allow_if(pull),
        ("PUT", "/v2/{name}/manifests/{reference}")
        | ("POST", "/v2/{name}/blobs/uploads/")
        | (_, "/v2/{name}/blobs/uploads/{session}") => allow_if(push),
        ("DELETE", "/v2/{name}/manifests/{reference}")
        | ("DELETE", "/v2/{name}/blobs/{digest}") => allow_if(delete),
        // A registry token for whatever the credentials allow; anonymous callers get one too.
        (_, "/auth/token") => Expect::Allow,
        ("GET", "/api/v1/openapi.json") => Expect::Allow,
        ("GET", "/api/v1/me") => allow_if(signed_in),
        ("PUT", "/api/v1/me/password") => allow_if(user_account),
        (_, "/api/v1/users") | (_, "/api/v1/users/{user}") => allow_if(system),
        // The target user is the developer: its own tokens, or an administrator's business.
        (_, "/api/v1/users/{user}/tokens") => allow_if(system || who == Developer),
        ("GET", "/api/v1/projects") => Expect::Allow,
        ("POST", "/api/v1/projects") => allow_if(system),
        ("GET", "/api/v1/projects/{project}") => allow_if(view),
        (_, "/api/v1/projects/{project}")
        | (_, "/api/v1/projects/{project}/members")
        | (_, "/api/v1/projects/{project}/members/{user}")
        | (_, "/api/v1/projects/{project}/robots") => allow_if(manage),
        (_, "/api/v1/robots") => allow_if(system),
        (_, "/api/v1/robots/{robot}") | (_, "/api/v1/robots/{robot}/tokens") => hide_unless(manage),
        (_, "/api/v1/tokens") => allow_if(user_account),
        // The token belongs to the developer.
        (_, "/api/v1/tokens/{id}") | (_, "/api/v1/tokens/{id}/rotate") => {
            hide_unless(system || who == Developer)
        }
        // Reports follow pulls, and auditors read them; whoever can read neither is told
        // the artifact does not exist.
        ("GET", "/api/v1/repositories/{repository}/artifacts/{reference}/scan") => {
            hide_unless(pull || who == Auditor)
        }
        ("POST", "/api/v1/repositories/{repository}/artifacts/{reference}/scan") => {
            if push {
                Expect::Allow
            } else if pull || who == Auditor {
                allow_if(false)
            } else {
                hide_unless(false)
            }
        }
        // Anyone signed in may ask; the answer lists only what the caller may read.
        ("GET", "/api/v1/vulnerabilities/{id}/impact")
        | ("GET", "/api/v1/packages/{purl}/impact") => allow_if(signed_in),
        ("GET", "/api/v1/advisories") => allow_if(signed_in),
        ("GET", "/healthz") | ("GET", "/readyz") => Expect::Allow,
        // A project's robot cannot read them: only system robots may hold `*:metrics`.
        ("GET", "/metrics") => allow_if(system),
        ("POST", "/api/v1/advisories/import")
        | ("POST", "/api/v1/advisories/update")
        | ("POST", "/api/v1/advisories/rematch") => allow_if(system),
        // Governance: reading follows the project's reports; changing is the owners'.
        ("GET", "/api/v1/policy") | ("GET", "/api/v1/exceptions") => allow_if(signed_in),
        // The audit log: owners and auditors read their projects' records (the outsider
        // owns `other`, so reads its records), administrators all; audit_log.rs checks
        // that each sees only its own projects'.
        ("GET", "/api/v1/audit") => allow_if(manage || matches!(who, Auditor | OtherMember)),
        ("PUT", "/api/v1/policy") => allow_if(system),
        (_, "/api/v1/webhooks")
        | (_, "/api/v1/webhooks/{webhook}")
        | (_, "/api/v1/webhooks/{webhook}/deliveries")
        | (_, "/api/v1/webhooks/{webhook}/deliveries/{delivery}/redeliver") => allow_if(system),
        ("GET", "/api/v1/projects/{project}/policy")
        | ("GET", "/api/v1/projects/{project}/policy/history")
        | ("GET", "/api/v1/projects/{project}/trusted-keys")
        | ("GET", "/api/v1/projects/{project}/vex") => hide_unless(member),
        ("GET", "/api/v1/repositories/{repository}/artifacts/{reference}/policy") => {
            hide_unless(pull || who == Auditor)
        }
        ("PUT", "/api/v1/projects/{project}/policy")
        | ("POST", "/api/v1/projects/{project}/trusted-keys")
        | ("DELETE", "/api/v1/projects/{project}/trusted-keys/{fingerprint}")
        | ("POST", "/api/v1/projects/{project}/vex")
        | ("DELETE", "/api/v1/projects/{project}/vex/{digest}")
        | ("POST", "/api/v1/exceptions")
        | ("DELETE", "/api/v1/exceptions/{id}")
        // Webhooks are the owners' (their deliveries carry what the project holds).
        | (_, "/api/v1/projects/{project}/webhooks")
        | (_, "/api/v1/projects/{project}/webhooks/{webhook}")
        | (_, "/api/v1/projects/{project}/webhooks/{webhook}/deliveries")
        | (_, "/api/v1/projects/{project}/webhooks/{webhook}/deliveries/{delivery}/redeliver") => {
            if manage {
                Expect::Allow
            } else if member {
                allow_if(false)
            } else {
                hide_unless(false)
            }
        }
        // Pulling the source, pushing the destination (here both in the project).
        ("POST", "/api/v1/promotions") => {
            if push {
                Expect::Allow
            } else if pull || who == Auditor {
                allow_if(false)
            } else {
                hide_unless(false)
            }
        }
        other => panic!("no expectation for {other:?}: add the new endpoint to this table"),
    }
}

struct Fixture {
    server: TestServer,
    /// (username, secret) per caller; `None` = anonymous.
    credentials: Vec<(Caller, Option<(String, String)>)>,
    manifest: Vec<u8>,
    manifest_digest: String,
    layer_digest: String,
}

async fn token_for(server: &TestServer, user: &str) -> Value {
    api(
        server,
        Method::POST,
        &format!("/api/v1/users/{user}/tokens"),
        json!({ "name": "matrix" }),
    )
    .await
}

async fn fixture(backend: Backend) -> Fixture {
    let server = TestServer::start_with(
        backend,
        // The matrix presents dead tokens hundreds of times from one address.
        &[("BULWARK_AUTH_FAILURES_BEFORE_BACKOFF", "1000000")],
    )
    .await;
    server.create_project("other", false).await;
    for user in [
        "reader",
        "dev",
        "maintainer",
        "owner",
        "auditor",
        "outsider",
        "target",
    ] {
        api(
            &server,
            Method::POST,
            "/api/v1/users",
            json!({ "name": user }),
        )
        .await;
    }
    for (user, role) in [
        ("reader", "reader"),
        ("dev", "developer"),
        ("maintainer", "maintainer"),
        ("owner", "owner"),
        ("auditor", "auditor"),
    ] {
        api(
            &server,
            Method::PUT,
            &format!("/api/v1/projects/proj/members/{user}"),
            json!({ "role": role }),
        )
        .await;
    }
    api(
        &server,
        Method::PUT,
        "/api/v1/projects/other/members/outsider",
        json!({ "role": "owner" }),
    )
    .await;
    let robot_in = api(
        &server,
        Method::POST,
        "/api/v1/projects/proj/robots",
        json!({ "name": "ci", "permissions": ["proj:pull,push"] }),
    )
    .await;
    let robot_out = api(
        &server,
        Method::POST,
        "/api/v1/projects/other/robots",
        json!({ "name": "ci", "permissions": ["other:pull,push,delete"] }),
    )
    .await;
    api(
        &server,
        Method::POST,
        "/api/v1/projects/proj/robots",
        json!({ "name": "target", "permissions": ["proj:pull"] }),
    )
    .await;

    let mut credentials = vec![(Caller::Anonymous, None)];
    for (caller, user) in [
        (Caller::Reader, "reader"),
        (Caller::Developer, "dev"),
        (Caller::Maintainer, "maintainer"),
        (Caller::Owner, "owner"),
        (Caller::Auditor, "auditor"),
        (Caller::OtherMember, "outsider"),
    ] {
        let token = token_for(&server, user).await;
        credentials.push((
            caller,
            Some((user.to_owned(), token["token"].as_str().unwrap().to_owned())),
        ));
    }
    for (caller, robot) in [
        (Caller::RobotWithScope, &robot_in),
        (Caller::RobotWithoutScope, &robot_out),
    ] {
        credentials.push((
            caller,
            Some((
                robot["robot"]["name"].as_str().unwrap().to_owned(),
                robot["token"]["token"].as_str().unwrap().to_owned(),
            )),
        ));
    }
    credentials.push((
        Caller::Admin,
        Some(("admin".to_owned(), server.admin_token.clone())),
    ));

    // Dead credentials of the developer: expired, revoked, rotated out.
    let expired = bulwark_auth::secret::generate_token().unwrap();
    let store = server.metadata().await;
    let dev_id = store.user_by_name("dev").await.unwrap().unwrap().id;
    store
        .insert_token(&TokenRecord {
            id: expired.id.clone(),
            owner: TokenOwner::User(dev_id),
            name: "expired".into(),
            secret_hash: expired.secret_hash.clone(),
            previous_secret_hash: None,
            previous_valid_until: None,
            scopes: "[]".into(),
            created_at: now_millis() - 2000,
            expires_at: now_millis() - 1000,
            revoked_at: None,
            last_used_at: None,
            last_used_addr: None,
        })
        .await
        .unwrap();
    store.close().await;
    credentials.push((
        Caller::ExpiredToken,
        Some(("dev".to_owned(), expired.token)),
    ));
    let revoked = token_for(&server, "dev").await;
    api(
        &server,
        Method::DELETE,
        &format!("/api/v1/tokens/{}", revoked["id"].as_str().unwrap()),
        Value::Null,
    )
    .await;
    credentials.push((
        Caller::RevokedToken,
        Some((
            "dev".to_owned(),
            revoked["token"].as_str().unwrap().to_owned(),
        )),
    ));
    let rotated = token_for(&server, "dev").await;
    api(
        &server,
        Method::POST,
        &format!("/api/v1/tokens/{}/rotate", rotated["id"].as_str().unwrap()),
        json!({ "grace_seconds": 0 }),
    )
    .await;
    credentials.push((
        Caller::RotatedOutToken,
        Some((
            "dev".to_owned(),
            rotated["token"].as_str().unwrap().to_owned(),
        )),
    ));
    assert_eq!(credentials.len(), CALLERS.len());

    // Content: proj/app:v1 with a layer, and an attached artifact for referrers.
    let manifest = push_image(&server, "proj/app", "matrix").await;
    let response = put_manifest(&server, "proj/app", "v1", OCI_MANIFEST, &manifest).await;
    assert_eq!(response.status(), 201);
    let parsed: Value = serde_json::from_slice(&manifest).unwrap();
    Fixture {
        manifest_digest: sha256(&manifest).to_string(),
        layer_digest: parsed["layers"][0]["digest"].as_str().unwrap().to_owned(),
        manifest,
        server,
        credentials,
    }
}

/// A request for one cell, after any set-up it needs (done as the administrator) so that an
/// allowed request succeeds without disturbing the fixture.
struct CellRequest {
    method: Method,
    path: String,
    body: Option<(String, Vec<u8>)>,
}

/// A P-256 public key (made with openssl for this table).
const MATRIX_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7EAbzHxPuWcMNk42HrbLPj4o5F26
nGo70vOLu9Zgt/j2F0e90NMCOAeG+FTTP83/ws1Q6jOD+/ezWI0V1LfDPg==
-----END PUBLIC KEY-----
";

fn matrix_exception() -> Value {
    json!({
        "project": "proj",
        "vulnerability": "CVE-2021-3177",
        "reason": "the authorization matrix",
        "expires_at": "2999-01-01",
    })
}

fn matrix_vex() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/matrix",
        "author": "matrix",
        "timestamp": "2024-01-01T00:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": "CVE-2021-3177"},
            "products": [{"@id": "pkg:pypi/django@3.2.0"}],
            "status": "not_affected",
            "justification": "component_not_present",
        }],
    }))
    .unwrap()
}

/// A webhook of `proj` (or a system one) with one delivery, made once and shared by the
/// cells that read or redeliver it.
async fn matrix_delivery(server: &TestServer, of_project: bool) -> (i64, i64) {
    let hooks = if of_project {
        "/api/v1/projects/proj/webhooks"
    } else {
        "/api/v1/webhooks"
    };
    let listed = api(server, Method::GET, hooks, json!({})).await;
    let shared = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|hook| hook["description"] == "matrix");
    let hook = match shared {
        Some(hook) => hook["id"].as_i64().unwrap(),
        None => {
            let hook = api(
                server,
                Method::POST,
                hooks,
                json!({ "url": "https://hooks.example.com/shared", "description": "matrix" }),
            )
            .await;
            hook["id"].as_i64().unwrap()
        }
    };
    let metadata = server.metadata().await;
    metadata
        .add_deliveries(
            &[bulwark_metadata::NewDelivery {
                webhook_id: hook,
                delivery_key: "matrix".into(),
                event_id: 0,
                event_type: "artifact.pushed".into(),
                payload: "{}".into(),
            }],
            now_millis(),
        )
        .await
        .unwrap();
    let delivery = metadata.deliveries_of(hook, None, 1).await.unwrap()[0].id;
    (hook, delivery)
}

fn json_body(value: Value) -> Option<(String, Vec<u8>)> {
    Some((
        "application/json".to_owned(),
        serde_json::to_vec(&value).unwrap(),
    ))
}

async fn request_for(
    fixture: &Fixture,
    endpoint: (&str, &str),
    cell: usize,
    public: bool,
) -> CellRequest {
    let server = &fixture.server;
    let method: Method = endpoint.0.parse().unwrap();
    let upload_session = || async {
        let response = server
            .client()
            .post(server.url("/v2/proj/app/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        response.headers()["location"].to_str().unwrap().to_owned()
    };
    let (path, body) = match endpoint.1 {
        "/v2/" => ("/v2/".to_owned(), None),
        "/v2/_catalog" => ("/v2/_catalog".to_owned(), None),
        "/v2/{name}/tags/list" => ("/v2/proj/app/tags/list".to_owned(), None),
        "/v2/{name}/manifests/{reference}" => match endpoint.0 {
            "PUT" => (
                format!("/v2/proj/app/manifests/cell-{cell}"),
                Some((OCI_MANIFEST.to_owned(), fixture.manifest.clone())),
            ),
            "DELETE" => {
                let bytes = push_image(server, "proj/app", &format!("doomed-{cell}")).await;
                let digest = sha256(&bytes).to_string();
                let response =
                    put_manifest(server, "proj/app", &digest, OCI_MANIFEST, &bytes).await;
                assert_eq!(response.status(), 201);
                (format!("/v2/proj/app/manifests/{digest}"), None)
            }
            _ => ("/v2/proj/app/manifests/v1".to_owned(), None),
        },
        "/v2/{name}/blobs/{digest}" => match endpoint.0 {
            "DELETE" => {
                let digest =
                    push_blob(server, "proj/app", format!("doomed blob {cell}").as_bytes()).await;
                (format!("/v2/proj/app/blobs/{digest}"), None)
            }
            _ => (format!("/v2/proj/app/blobs/{}", fixture.layer_digest), None),
        },
        "/v2/{name}/blobs/uploads/" => ("/v2/proj/app/blobs/uploads/".to_owned(), None),
        "/v2/{name}/blobs/uploads/{session}" => {
            let location = upload_session().await;
            match endpoint.0 {
                "PATCH" => (
                    location,
                    Some(("application/octet-stream".to_owned(), b"abc".to_vec())),
                ),
                "PUT" => (
                    format!("{location}?digest={}", sha256(b"")),
                    Some(("application/octet-stream".to_owned(), Vec::new())),
                ),
                _ => (location, None),
            }
        }
        "/v2/{name}/referrers/{digest}" => (
            format!("/v2/proj/app/referrers/{}", fixture.manifest_digest),
            None,
        ),
        "/auth/token" => (
            "/auth/token".to_owned(),
            Some((
                "application/x-www-form-urlencoded".to_owned(),
                b"scope=repository:proj/app:pull".to_vec(),
            )),
        ),
        "/api/v1/openapi.json" => ("/api/v1/openapi.json".to_owned(), None),
        "/api/v1/me" => ("/api/v1/me".to_owned(), None),
        // The same password every time, so the second round's current password is right.
        "/api/v1/me/password" => (
            "/api/v1/me/password".to_owned(),
            json_body(json!({
                "current_password": "matrix-password-1",
                "new_password": "matrix-password-1"
            })),
        ),
        "/api/v1/users" => (
            "/api/v1/users".to_owned(),
            json_body(json!({ "name": format!("new-{cell}") })),
        ),
        "/api/v1/users/{user}" => ("/api/v1/users/target".to_owned(), json_body(json!({}))),
        "/api/v1/users/{user}/tokens" => (
            "/api/v1/users/dev/tokens".to_owned(),
            json_body(json!({ "name": format!("t{cell}") })),
        ),
        "/api/v1/projects" => (
            "/api/v1/projects".to_owned(),
            json_body(json!({ "name": format!("new-{cell}") })),
        ),
        // Deleting a project that holds repositories is refused (409) even when allowed.
        "/api/v1/projects/{project}" => (
            "/api/v1/projects/proj".to_owned(),
            json_body(json!({ "public": public })),
        ),
        "/api/v1/projects/{project}/members" => ("/api/v1/projects/proj/members".to_owned(), None),
        "/api/v1/projects/{project}/members/{user}" => {
            if endpoint.0 == "DELETE" {
                api(
                    server,
                    Method::PUT,
                    "/api/v1/projects/proj/members/target",
                    json!({ "role": "reader" }),
                )
                .await;
            }
            (
                "/api/v1/projects/proj/members/target".to_owned(),
                json_body(json!({ "role": "reader" })),
            )
        }
        "/api/v1/projects/{project}/robots" => (
            "/api/v1/projects/proj/robots".to_owned(),
            json_body(json!({ "name": format!("r{cell}"), "permissions": ["proj:pull"] })),
        ),
        "/api/v1/robots" => (
            "/api/v1/robots".to_owned(),
            json_body(json!({ "name": format!("s{cell}"), "permissions": ["*:pull"] })),
        ),
        "/api/v1/robots/{robot}" => {
            if endpoint.0 == "DELETE" {
                api(
                    server,
                    Method::POST,
                    "/api/v1/projects/proj/robots",
                    json!({ "name": format!("doomed-{cell}"), "permissions": ["proj:pull"] }),
                )
                .await;
                (format!("/api/v1/robots/robot+proj+doomed-{cell}"), None)
            } else {
                (
                    "/api/v1/robots/robot+proj+target".to_owned(),
                    json_body(json!({ "disabled": false })),
                )
            }
        }
        "/api/v1/robots/{robot}/tokens" => (
            "/api/v1/robots/robot+proj+target/tokens".to_owned(),
            json_body(json!({ "name": format!("t{cell}") })),
        ),
        "/api/v1/tokens" => (
            "/api/v1/tokens".to_owned(),
            json_body(json!({ "name": format!("t{cell}") })),
        ),
        "/api/v1/tokens/{id}" | "/api/v1/tokens/{id}/rotate" => {
            let token = token_for(server, "dev").await;
            let id = token["id"].as_str().unwrap();
            let path = endpoint.1.replace("{id}", id);
            (path, json_body(json!({})))
        }
        "/api/v1/repositories/{repository}/artifacts/{reference}/scan" => (
            "/api/v1/repositories/proj%2Fapp/artifacts/v1/scan".to_owned(),
            json_body(json!({})),
        ),
        "/api/v1/vulnerabilities/{id}/impact" => (
            "/api/v1/vulnerabilities/CVE-2021-3177/impact".to_owned(),
            None,
        ),
        "/api/v1/packages/{purl}/impact" => (
            "/api/v1/packages/pkg%3Apypi%2Fdjango/impact".to_owned(),
            None,
        ),
        "/api/v1/advisories" | "/api/v1/audit" => (endpoint.1.to_owned(), None),
        "/healthz" | "/readyz" | "/metrics" => (endpoint.1.to_owned(), None),
        "/api/v1/advisories/import" => (
            "/api/v1/advisories/import".to_owned(),
            Some((
                "application/x-ndjson".to_owned(),
                br#"{"id":"MATRIX-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"matrix"},"versions":["1.0"]}]}"#.to_vec(),
            )),
        ),
        "/api/v1/advisories/update" | "/api/v1/advisories/rematch" => {
            (endpoint.1.to_owned(), json_body(json!({})))
        }
        "/api/v1/policy" => (
            "/api/v1/policy".to_owned(),
            json_body(json!({ "document": "block_malicious = true\n" })),
        ),
        "/api/v1/projects/{project}/policy" => (
            "/api/v1/projects/proj/policy".to_owned(),
            json_body(json!({ "document": "immutable_tags = [\"never-*\"]\n" })),
        ),
        "/api/v1/projects/{project}/policy/history" => {
            ("/api/v1/projects/proj/policy/history".to_owned(), None)
        }
        "/api/v1/projects/{project}/trusted-keys" => (
            "/api/v1/projects/proj/trusted-keys".to_owned(),
            json_body(json!({ "pem": MATRIX_KEY })),
        ),
        "/api/v1/projects/{project}/trusted-keys/{fingerprint}" => {
            let key = api(
                server,
                Method::POST,
                "/api/v1/projects/proj/trusted-keys",
                json!({ "pem": MATRIX_KEY }),
            )
            .await;
            let fingerprint = key["fingerprint"].as_str().unwrap();
            (format!("/api/v1/projects/proj/trusted-keys/{fingerprint}"), None)
        }
        "/api/v1/exceptions" => (
            "/api/v1/exceptions".to_owned(),
            json_body(matrix_exception()),
        ),
        "/api/v1/exceptions/{id}" => {
            let exception = api(server, Method::POST, "/api/v1/exceptions", matrix_exception()).await;
            let id = exception["id"].as_str().unwrap();
            (format!("/api/v1/exceptions/{id}"), None)
        }
        "/api/v1/projects/{project}/vex" => (
            "/api/v1/projects/proj/vex".to_owned(),
            Some(("application/json".to_owned(), matrix_vex())),
        ),
        "/api/v1/projects/{project}/vex/{digest}" => {
            let response = server
                .client()
                .post(server.url("/api/v1/projects/proj/vex"))
                .header("content-type", "application/json")
                .body(matrix_vex())
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            (
                format!("/api/v1/projects/proj/vex/{}", sha256(&matrix_vex())),
                None,
            )
        }
        "/api/v1/repositories/{repository}/artifacts/{reference}/policy" => (
            "/api/v1/repositories/proj%2Fapp/artifacts/v1/policy".to_owned(),
            None,
        ),
        "/api/v1/promotions" => (
            "/api/v1/promotions".to_owned(),
            json_body(json!({ "source": "proj/app:v1", "destination": format!("proj/promoted:c{cell}") })),
        ),
        "/api/v1/projects/{project}/webhooks" | "/api/v1/webhooks" => (
            endpoint.1.replace("{project}", "proj"),
            json_body(json!({ "url": "https://hooks.example.com/matrix" })),
        ),
        "/api/v1/projects/{project}/webhooks/{webhook}" | "/api/v1/webhooks/{webhook}" => {
            // Its own webhook, since an allowed call deletes it.
            let hooks = endpoint.1.replace("{project}", "proj").replace("/{webhook}", "");
            let hook = api(
                server,
                Method::POST,
                &hooks,
                json!({ "url": format!("https://hooks.example.com/doomed-{cell}") }),
            )
            .await;
            (format!("{hooks}/{}", hook["id"]), None)
        }
        "/api/v1/projects/{project}/webhooks/{webhook}/deliveries"
        | "/api/v1/webhooks/{webhook}/deliveries"
        | "/api/v1/projects/{project}/webhooks/{webhook}/deliveries/{delivery}/redeliver"
        | "/api/v1/webhooks/{webhook}/deliveries/{delivery}/redeliver" => {
            let (hook, delivery) = matrix_delivery(server, endpoint.1.contains("{project}")).await;
            let path = endpoint
                .1
                .replace("{project}", "proj")
                .replace("{webhook}", &hook.to_string())
                .replace("{delivery}", &delivery.to_string());
            (path, json_body(json!({})))
        }
        other => panic!("no request for {other}: add the new endpoint to this test"),
    };
    let body = match method {
        Method::GET | Method::HEAD | Method::DELETE => None,
        _ => body,
    };
    CellRequest { method, path, body }
}

fn outcome(status: StatusCode) -> Expect {
    match status.as_u16() {
        401 => Expect::Unauthenticated,
        403 => Expect::Denied,
        404 => Expect::Hidden,
        _ => Expect::Allow,
    }
}

async fn matrix(backend: Backend) {
    let fixture = fixture(backend).await;
    let server = &fixture.server;
    let endpoints = bulwark_server::endpoints();
    let mut failures = Vec::new();
    let mut cell = 0;
    for public in [false, true] {
        api(
            server,
            Method::PATCH,
            "/api/v1/projects/proj",
            json!({ "public": public }),
        )
        .await;
        for &endpoint in &endpoints {
            for (caller, credentials) in &fixture.credentials {
                cell += 1;
                let want = expected(endpoint, *caller, public);
                let request = request_for(&fixture, endpoint, cell, public).await;
                let client = match credentials {
                    Some((user, secret)) => client_as(user, secret),
                    None => anonymous_client(),
                };
                let mut builder = client.request(request.method.clone(), server.url(&request.path));
                if let Some((content_type, bytes)) = request.body {
                    builder = builder.header("content-type", content_type).body(bytes);
                }
                let response = builder.send().await.unwrap();
                let status = response.status();
                let got = outcome(status);
                if got != want || (got == Expect::Allow && !(status.is_success() || status == 409))
                {
                    failures.push(format!(
                        "{} {} as {caller:?} (public: {public}): expected {want:?}, got {status} {}",
                        endpoint.0,
                        endpoint.1,
                        response.text().await.unwrap_or_default()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cell} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A caller without pull rights gets the same answer, status and body, for a private
/// repository that exists, one that does not, and a project that does not exist.
async fn private_and_absent_look_alike(backend: Backend) {
    let server = TestServer::start(backend).await;
    let manifest = push_image(&server, "proj/app", "secret").await;
    assert_eq!(
        put_manifest(&server, "proj/app", "v1", OCI_MANIFEST, &manifest)
            .await
            .status(),
        201
    );
    api(
        &server,
        Method::POST,
        "/api/v1/users",
        json!({ "name": "stranger" }),
    )
    .await;
    let token = token_for(&server, "stranger").await;
    let stranger = client_as("stranger", token["token"].as_str().unwrap());
    let digest = sha256(&manifest);
    for client in [anonymous_client(), stranger] {
        for path_of in [
            |repo: &str, _: &str| format!("/v2/{repo}/manifests/v1"),
            |repo: &str, _: &str| format!("/v2/{repo}/tags/list"),
            |repo: &str, digest: &str| format!("/v2/{repo}/blobs/{digest}"),
        ] {
            let mut answers = Vec::new();
            for repo in ["proj/app", "proj/nothing", "noproject/app"] {
                let response = client
                    .get(server.url(&path_of(repo, &digest.to_string())))
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let challenge = response
                    .headers()
                    .get("www-authenticate")
                    .map(|v| v.to_str().unwrap().replace(repo, "REPO"));
                answers.push((status, challenge, response.text().await.unwrap()));
            }
            assert!(answers[0].0 == 401 || answers[0].0 == 403, "{answers:?}");
            assert_eq!(answers[0], answers[1], "existing vs absent repository");
            assert_eq!(answers[0], answers[2], "existing vs absent project");
        }
    }
}

on_both_backends!(matrix, private_and_absent_look_alike);
