//! The management REST API under `/api/v1`: users, projects, members, robots and access
//! tokens, JSON in and out. Handlers only translate: every operation authorizes itself inside
//! `bulwark_auth::manage` through the one decision point.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use bulwark_auth::manage::{
    MemberView, NewProject, NewRobot, NewUser, PasswordChange, ProjectChanges, ProjectView,
    RobotView, TokenOwnerRef, TokenRequest, TokenView, UserChanges, UserView, Whoami,
};
use bulwark_auth::{Action, AuthError, NewToken, Resource, Role};
use bulwark_oci::{Digest, Reference, RepositoryName};
use bulwark_scan::service::{ImpactQuery, ImpactReport, ScanReport};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use bulwark_governance::promote::Promotion;
use bulwark_governance::{Evaluation, ExceptionView, KeyView, NewException, PolicyView, VexView};

use crate::AppState;
use crate::access::Caller;
use crate::error::ManagementError;
use crate::governance_api;
use crate::webhooks_api;
use bulwark_webhooks::{CreatedWebhook, DeliveryView, WebhookRequest, WebhookView};

pub(crate) type ApiResult = Result<Response, ManagementError>;

/// Management requests are small JSON documents.
const BODY_LIMIT: usize = 64 * 1024;

/// How a row's request body and answer are described in the OpenAPI document.
type SchemaOf = fn(&mut SchemaGenerator) -> Schema;

fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// What a successful call answers.
#[derive(Clone, Copy)]
enum Answer {
    /// `200` with this JSON document.
    Ok(SchemaOf),
    /// `201` with this JSON document.
    Created(SchemaOf),
    /// `202` with this JSON document: the work is queued.
    Accepted(SchemaOf),
    /// `204`, no body.
    NoContent,
    /// `200` with a document of this media type (not JSON).
    Text(&'static str),
}

/// One row of the management route table: the router, the endpoint list and the OpenAPI
/// document are all built from these.
struct Endpoint {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    /// Who may call it; the operation asks the one decision point, this says what it decides.
    access: &'static str,
    /// Whether `?limit=&after=` pages the answer.
    paged: bool,
    request: Option<SchemaOf>,
    /// A row whose body is a file rather than JSON: the media types it takes (never one a
    /// browser may send cross-site without asking) and the most bytes it reads.
    upload: Option<Upload>,
    answer: Answer,
    handler: MethodRouter<AppState>,
}

#[derive(Clone, Copy)]
struct Upload {
    media_types: &'static [&'static str],
    max_bytes: u64,
}

impl Endpoint {
    fn upload(self, upload: Upload) -> Endpoint {
        Endpoint {
            upload: Some(upload),
            ..self
        }
    }
}

/// Advisory files: a zip of OSV records, JSON lines, or one record.
const ADVISORY_UPLOAD: Upload = Upload {
    media_types: &[
        "application/zip",
        "application/x-ndjson",
        "application/json",
    ],
    max_bytes: 4 << 30,
};

/// VEX documents: JSON, at most what the policy crate reads.
const VEX_UPLOAD: Upload = Upload {
    media_types: &["application/json"],
    max_bytes: governance_api::VEX_UPLOAD_BYTES,
};

/// A page of a listing: the items and the cursor of the next page (`null` on the last).
#[derive(Serialize, JsonSchema)]
pub(crate) struct Listing<T> {
    pub(crate) items: Vec<T>,
    pub(crate) next: Option<String>,
}

/// An artifact's scan and what its project's policy makes of it: which findings are
/// suppressed (by which exception or VEX statement), which signatures verified, whether a
/// pull is allowed. Suppressed findings stay listed in `findings`.
#[derive(Serialize, JsonSchema)]
struct ArtifactReport {
    #[serde(flatten)]
    scan: ScanReport,
    policy: Evaluation,
}

/// A scan asked for.
#[derive(Serialize, JsonSchema)]
struct ScanRequested {
    digest: String,
    /// False when a scan of it was already waiting or running.
    queued: bool,
}

/// The artifacts an impact query found.
#[derive(Serialize, JsonSchema)]
struct Impact {
    items: Vec<ImpactReport>,
    /// Whether more were found than listed (at most 1,000).
    truncated: bool,
}

/// At most this many artifacts in one impact answer.
const MAX_IMPACT: u32 = 1_000;

/// A robot just created, with its first token (whose secret is shown only now).
#[derive(Serialize, JsonSchema)]
struct RobotCreated {
    robot: RobotView,
    token: NewToken,
}

macro_rules! endpoint {
    ($method:ident $path:literal, $summary:literal, $access:expr, paged: $paged:literal,
     request: $request:expr, answer: $answer:expr, $handler:expr) => {
        Endpoint {
            method: stringify!($method),
            path: $path,
            summary: $summary,
            access: $access,
            paged: $paged,
            request: $request,
            upload: None,
            answer: $answer,
            handler: $handler,
        }
    };
}

const ANYONE: &str = "anyone, without credentials (wrong ones are refused)";
const ANYONE_SIGNED_IN: &str = "any signed-in caller";
const ADMIN: &str = "system administrators";
const SELF_OR_ADMIN: &str = "the user itself (with a full credential) or an administrator";
const PROJECT_OWNER: &str = "the project's owners and administrators";
const PROJECT_READERS: &str = "whoever may read the project's scan reports (members, auditors), administrators; others see 404";
const SCAN_READERS: &str =
    "whoever may pull the artifact, the project's auditors, administrators; others see 404";

fn table() -> Vec<Endpoint> {
    vec![
        endpoint!(GET "/api/v1/openapi.json", "This document", "anyone; invalid credentials are refused",
            paged: false, request: None, answer: Answer::Ok(schema::<serde_json::Value>), get(openapi)),
        endpoint!(GET "/healthz", "Liveness: the process answers requests", ANYONE,
            paged: false, request: None, answer: Answer::Ok(schema::<Health>), get(healthz)),
        endpoint!(GET "/readyz",
            "Readiness: the metadata database and the blob storage answer (503 when not); the advisory data's age, with a warning past advisory_max_age_hours",
            ANYONE, paged: false, request: None, answer: Answer::Ok(schema::<Readiness>), get(readyz)),
        endpoint!(GET "/metrics",
            "This node's metrics in the Prometheus text format (OpenMetrics when asked for in Accept): requests by route template and status, latencies, bytes, uploads in flight, authentication failures, policy denials by rule, scan queue and durations, audit backlog",
            "system administrators, and system robots holding *:metrics",
            paged: false, request: None, answer: Answer::Text("text/plain"), get(crate::metrics::scrape)),
        endpoint!(GET "/api/v1/me", "Who the caller is", ANYONE_SIGNED_IN,
            paged: false, request: None, answer: Answer::Ok(schema::<Whoami>), get(me)),
        endpoint!(PUT "/api/v1/me/password", "Change one's own password (the current one is required once set)",
            "users with a full credential", paged: false, request: Some(schema::<PasswordChange>),
            answer: Answer::NoContent, put(change_password)),
        endpoint!(GET "/api/v1/users", "List users", ADMIN,
            paged: true, request: None, answer: Answer::Ok(schema::<Listing<UserView>>), get(list_users)),
        endpoint!(POST "/api/v1/users", "Create a user", ADMIN,
            paged: false, request: Some(schema::<NewUser>), answer: Answer::Created(schema::<UserView>), post(create_user)),
        endpoint!(GET "/api/v1/users/{user}", "Read a user", SELF_OR_ADMIN,
            paged: false, request: None, answer: Answer::Ok(schema::<UserView>), get(get_user)),
        endpoint!(PATCH "/api/v1/users/{user}", "Change a user (password, administrator, disabled)", ADMIN,
            paged: false, request: Some(schema::<UserChanges>), answer: Answer::Ok(schema::<UserView>), patch(update_user)),
        endpoint!(GET "/api/v1/users/{user}/tokens", "List a user's access tokens", SELF_OR_ADMIN,
            paged: true, request: None, answer: Answer::Ok(schema::<Listing<TokenView>>), get(list_user_tokens)),
        endpoint!(POST "/api/v1/users/{user}/tokens", "Create an access token for a user", SELF_OR_ADMIN,
            paged: false, request: Some(schema::<TokenRequest>), answer: Answer::Created(schema::<NewToken>), post(create_user_token)),
        endpoint!(GET "/api/v1/projects", "List the projects the caller can see",
            "anyone; each project is shown only to who may view it",
            paged: true, request: None, answer: Answer::Ok(schema::<Listing<ProjectView>>), get(list_projects)),
        endpoint!(POST "/api/v1/projects", "Create a project", ADMIN,
            paged: false, request: Some(schema::<NewProject>), answer: Answer::Created(schema::<ProjectView>), post(create_project)),
        endpoint!(GET "/api/v1/projects/{project}", "Read a project",
            "its members and robots, administrators, anyone when public",
            paged: false, request: None, answer: Answer::Ok(schema::<ProjectView>), get(get_project)),
        endpoint!(PATCH "/api/v1/projects/{project}", "Change a project's settings: visibility, scan at push", PROJECT_OWNER,
            paged: false, request: Some(schema::<ProjectChanges>), answer: Answer::Ok(schema::<ProjectView>), patch(update_project)),
        endpoint!(DELETE "/api/v1/projects/{project}", "Delete an empty project", PROJECT_OWNER,
            paged: false, request: None, answer: Answer::NoContent, delete(delete_project)),
        endpoint!(GET "/api/v1/projects/{project}/members", "List a project's members", PROJECT_OWNER,
            paged: true, request: None, answer: Answer::Ok(schema::<Listing<MemberView>>), get(list_members)),
        endpoint!(PUT "/api/v1/projects/{project}/members/{user}", "Give a user a role in a project", PROJECT_OWNER,
            paged: false, request: Some(schema::<Membership>), answer: Answer::Ok(schema::<MemberView>), put(set_member)),
        endpoint!(DELETE "/api/v1/projects/{project}/members/{user}", "Remove a member", PROJECT_OWNER,
            paged: false, request: None, answer: Answer::NoContent, delete(remove_member)),
        endpoint!(GET "/api/v1/projects/{project}/robots", "List a project's robots", PROJECT_OWNER,
            paged: true, request: None, answer: Answer::Ok(schema::<Listing<RobotView>>), get(list_project_robots)),
        endpoint!(POST "/api/v1/projects/{project}/robots", "Create a robot of the project, with its first token", PROJECT_OWNER,
            paged: false, request: Some(schema::<NewRobot>), answer: Answer::Created(schema::<RobotCreated>), post(create_project_robot)),
        endpoint!(GET "/api/v1/robots", "List system robots", ADMIN,
            paged: true, request: None, answer: Answer::Ok(schema::<Listing<RobotView>>), get(list_system_robots)),
        endpoint!(POST "/api/v1/robots", "Create a system robot, with its first token", ADMIN,
            paged: false, request: Some(schema::<NewRobot>), answer: Answer::Created(schema::<RobotCreated>), post(create_system_robot)),
        endpoint!(PATCH "/api/v1/robots/{robot}", "Disable or enable a robot",
            "who manages the robot's project (administrators for system robots); others see 404",
            paged: false, request: Some(schema::<RobotChanges>), answer: Answer::Ok(schema::<RobotView>), patch(update_robot)),
        endpoint!(DELETE "/api/v1/robots/{robot}", "Delete a robot and its tokens",
            "who manages the robot's project (administrators for system robots); others see 404",
            paged: false, request: None, answer: Answer::NoContent, delete(delete_robot)),
        endpoint!(GET "/api/v1/robots/{robot}/tokens", "List a robot's tokens",
            "who manages the robot's project (administrators for system robots); others see 404",
            paged: true, request: None, answer: Answer::Ok(schema::<Listing<TokenView>>), get(list_robot_tokens)),
        endpoint!(POST "/api/v1/robots/{robot}/tokens", "Create a token for a robot",
            "who manages the robot's project (administrators for system robots); others see 404",
            paged: false, request: Some(schema::<TokenRequest>), answer: Answer::Created(schema::<NewToken>), post(create_robot_token)),
        endpoint!(GET "/api/v1/tokens", "List one's own access tokens", "users with a full credential",
            paged: true, request: None, answer: Answer::Ok(schema::<Listing<TokenView>>), get(list_own_tokens)),
        endpoint!(POST "/api/v1/tokens", "Create an access token for oneself", "users with a full credential",
            paged: false, request: Some(schema::<TokenRequest>), answer: Answer::Created(schema::<NewToken>), post(create_own_token)),
        endpoint!(DELETE "/api/v1/tokens/{id}", "Revoke a token",
            "its owner, who manages its robot, administrators; others see 404",
            paged: false, request: None, answer: Answer::NoContent, delete(revoke_token)),
        endpoint!(POST "/api/v1/tokens/{id}/rotate", "Give a token a new secret; the old one may keep working for a grace period",
            "its owner, who manages its robot, administrators; others see 404",
            paged: false, request: Some(schema::<Rotation>), answer: Answer::Ok(schema::<NewToken>), post(rotate_token)),
        endpoint!(GET "/api/v1/repositories/{repository}/artifacts/{reference}/scan",
            "An artifact's scan: status, components and findings, with the age of the advisory data (repository URL-encoded: team%2Fapp; reference a tag or digest)",
            SCAN_READERS, paged: false, request: None, answer: Answer::Ok(schema::<ArtifactReport>), get(scan_report)),
        endpoint!(POST "/api/v1/repositories/{repository}/artifacts/{reference}/scan",
            "Scan an artifact again (queued; its layers already read are not read again)",
            "whoever may push to the repository, administrators", paged: false, request: None,
            answer: Answer::Accepted(schema::<ScanRequested>), post(request_scan)),
        endpoint!(GET "/api/v1/vulnerabilities/{id}/impact",
            "The stored artifacts holding a package version that vulnerability `id` (any of its ids) affects",
            "any signed-in caller; only artifacts whose reports the caller may read are listed",
            paged: false, request: None, answer: Answer::Ok(schema::<Impact>), get(vulnerability_impact)),
        endpoint!(GET "/api/v1/packages/{purl}/impact",
            "The stored artifacts holding a package (a URL-encoded package URL, with a version or without)",
            "any signed-in caller; only artifacts whose reports the caller may read are listed",
            paged: false, request: None, answer: Answer::Ok(schema::<Impact>), get(package_impact)),
        endpoint!(GET "/api/v1/advisories", "The advisory data: records per ecosystem, the last import and its age",
            ANYONE_SIGNED_IN, paged: false, request: None,
            answer: Answer::Ok(schema::<bulwark_vulndb::Status>), get(advisory_status)),
        endpoint!(POST "/api/v1/advisories/import",
            "Import advisory data (the body: a zip of OSV records, JSON lines, or one OSV record); stored inventories are re-matched within 5 s",
            ADMIN, paged: false, request: None,
            answer: Answer::Ok(schema::<Vec<bulwark_vulndb::ImportReport>>), post(import_advisories))
            .upload(ADVISORY_UPLOAD),
        endpoint!(POST "/api/v1/advisories/update",
            "Download and import the configured ecosystems' archives, in the background (see GET /api/v1/advisories)",
            ADMIN, paged: false, request: Some(schema::<serde_json::Value>),
            answer: Answer::Accepted(schema::<UpdateStarted>), post(update_advisories)),
        endpoint!(POST "/api/v1/advisories/rematch",
            "Match every stored package version against the advisory data again, now (after an engine upgrade or alias changes)",
            ADMIN, paged: false, request: Some(schema::<serde_json::Value>),
            answer: Answer::Ok(schema::<bulwark_scan::service::Rematch>), post(rematch_advisories)),
        endpoint!(GET "/api/v1/policy", "The system-wide policy: every project's policy may tighten it, never loosen it",
            ANYONE_SIGNED_IN, paged: false, request: None, answer: Answer::Ok(schema::<PolicyView>), get(governance_api::get_system_policy)),
        endpoint!(PUT "/api/v1/policy", "Set the system-wide policy (TOML or YAML, versioned; each version kept with author and time)",
            ADMIN, paged: false, request: Some(schema::<governance_api::PolicyDocument>), answer: Answer::Ok(schema::<PolicyView>), put(governance_api::set_system_policy)),
        endpoint!(GET "/api/v1/projects/{project}/policy", "A project's policy document and the policy in force (the system's tightened by it)",
            PROJECT_READERS, paged: false, request: None, answer: Answer::Ok(schema::<PolicyView>), get(governance_api::get_policy)),
        endpoint!(PUT "/api/v1/projects/{project}/policy", "Set a project's policy (TOML or YAML, versioned; each version kept with author and time)",
            PROJECT_OWNER, paged: false, request: Some(schema::<governance_api::PolicyDocument>), answer: Answer::Ok(schema::<PolicyView>), put(governance_api::set_policy)),
        endpoint!(GET "/api/v1/projects/{project}/policy/history", "Every version of a project's policy, newest first",
            PROJECT_READERS, paged: false, request: None, answer: Answer::Ok(schema::<Listing<PolicyView>>), get(governance_api::policy_history)),
        endpoint!(GET "/api/v1/projects/{project}/trusted-keys", "The public keys whose signatures the project accepts",
            PROJECT_READERS, paged: false, request: None, answer: Answer::Ok(schema::<Listing<KeyView>>), get(governance_api::list_keys)),
        endpoint!(POST "/api/v1/projects/{project}/trusted-keys", "Trust a public key (PEM, ECDSA P-256 or Ed25519, as cosign.pub) for the project's signatures",
            PROJECT_OWNER, paged: false, request: Some(schema::<governance_api::NewKey>), answer: Answer::Created(schema::<KeyView>), post(governance_api::add_key)),
        endpoint!(DELETE "/api/v1/projects/{project}/trusted-keys/{fingerprint}", "Stop trusting a key",
            PROJECT_OWNER, paged: false, request: None, answer: Answer::NoContent, delete(governance_api::remove_key)),
        endpoint!(GET "/api/v1/projects/{project}/webhooks", "The project's webhooks (never their secrets)",
            PROJECT_OWNER, paged: false, request: None, answer: Answer::Ok(schema::<Listing<WebhookView>>), get(webhooks_api::list_project)),
        endpoint!(POST "/api/v1/projects/{project}/webhooks",
            "Send the project's events (artifact.pushed, artifact.deleted, scan.completed, finding.critical, policy.denied) to a URL as signed CloudEvents; the answer shows the signing secret once",
            PROJECT_OWNER, paged: false, request: Some(schema::<WebhookRequest>), answer: Answer::Created(schema::<CreatedWebhook>), post(webhooks_api::create_project)),
        endpoint!(DELETE "/api/v1/projects/{project}/webhooks/{webhook}", "Delete a webhook and its delivery log",
            PROJECT_OWNER, paged: false, request: None, answer: Answer::Ok(schema::<WebhookView>), delete(webhooks_api::delete_project)),
        endpoint!(GET "/api/v1/projects/{project}/webhooks/{webhook}/deliveries", "A webhook's deliveries, newest first, each with every attempt (status, error, time)",
            PROJECT_OWNER, paged: true, request: None, answer: Answer::Ok(schema::<Listing<DeliveryView>>), get(webhooks_api::project_deliveries)),
        endpoint!(POST "/api/v1/projects/{project}/webhooks/{webhook}/deliveries/{delivery}/redeliver", "Send a delivery again (the same event, signed anew)",
            PROJECT_OWNER, paged: false, request: None, answer: Answer::Ok(schema::<DeliveryView>), post(webhooks_api::project_redeliver)),
        endpoint!(GET "/api/v1/webhooks", "The system-wide webhooks, which receive every project's events", ADMIN,
            paged: false, request: None, answer: Answer::Ok(schema::<Listing<WebhookView>>), get(webhooks_api::list_system)),
        endpoint!(POST "/api/v1/webhooks", "Send every project's events to a URL as signed CloudEvents; the answer shows the signing secret once", ADMIN,
            paged: false, request: Some(schema::<WebhookRequest>), answer: Answer::Created(schema::<CreatedWebhook>), post(webhooks_api::create_system)),
        endpoint!(DELETE "/api/v1/webhooks/{webhook}", "Delete a system-wide webhook and its delivery log", ADMIN,
            paged: false, request: None, answer: Answer::Ok(schema::<WebhookView>), delete(webhooks_api::delete_system)),
        endpoint!(GET "/api/v1/webhooks/{webhook}/deliveries", "A system-wide webhook's deliveries, newest first, each with every attempt", ADMIN,
            paged: true, request: None, answer: Answer::Ok(schema::<Listing<DeliveryView>>), get(webhooks_api::system_deliveries)),
        endpoint!(POST "/api/v1/webhooks/{webhook}/deliveries/{delivery}/redeliver", "Send a system-wide webhook's delivery again", ADMIN,
            paged: false, request: None, answer: Answer::Ok(schema::<DeliveryView>), post(webhooks_api::system_redeliver)),
        endpoint!(GET "/api/v1/exceptions", "Exceptions (?project=P: that project's and the system's; ?stale=true: only those that match no current finding), with whether each expired",
            "any signed-in caller; only exceptions of projects whose reports the caller may read, and the system's",
            paged: false, request: None, answer: Answer::Ok(schema::<Listing<ExceptionView>>), get(governance_api::list_exceptions)),
        endpoint!(POST "/api/v1/exceptions", "Waive one vulnerability (optionally for one package, repository or artifact) until a mandatory expiry, with a reason",
            "the project's owners (administrators for system-wide exceptions)", paged: false,
            request: Some(schema::<NewException>), answer: Answer::Created(schema::<ExceptionView>), post(governance_api::add_exception)),
        endpoint!(DELETE "/api/v1/exceptions/{id}", "Remove an exception",
            "the project's owners (administrators for system-wide exceptions); others see 404", paged: false,
            request: None, answer: Answer::NoContent, delete(governance_api::remove_exception)),
        endpoint!(GET "/api/v1/projects/{project}/vex", "The VEX documents uploaded to a project",
            PROJECT_READERS, paged: false, request: None, answer: Answer::Ok(schema::<Listing<VexView>>), get(governance_api::list_vex)),
        endpoint!(POST "/api/v1/projects/{project}/vex", "Upload a VEX document (OpenVEX, CycloneDX VEX or CSAF VEX): its not_affected and fixed statements suppress the findings they name, shown as suppressed",
            PROJECT_OWNER, paged: false, request: None, answer: Answer::Created(schema::<VexView>), post(governance_api::upload_vex))
            .upload(VEX_UPLOAD),
        endpoint!(DELETE "/api/v1/projects/{project}/vex/{digest}", "Remove an uploaded VEX document",
            PROJECT_OWNER, paged: false, request: None, answer: Answer::NoContent, delete(governance_api::remove_vex)),
        endpoint!(GET "/api/v1/repositories/{repository}/artifacts/{reference}/policy",
            "Dry run: whether the artifact may be pulled, rule by rule, with the exceptions and VEX statements that applied (?project=P: under P's policy, as a promotion would be judged)",
            SCAN_READERS, paged: false, request: None, answer: Answer::Ok(schema::<Evaluation>), get(governance_api::check_policy)),
        endpoint!(GET "/api/v1/audit",
            "The audit log, newest first: who did what, on what, with what result, when (filters: since, until, actor, project, action, outcome; each record carries its chain hashes)",
            "administrators (every record), project owners and auditors (their projects' records)",
            paged: true, request: None, answer: Answer::Ok(schema::<Listing<bulwark_audit::RecordView>>), get(crate::audit_api::list_audit)),
        endpoint!(POST "/api/v1/promotions", "Promote an artifact into another project by reference (blobs linked, referrers with it), if the destination's policy passes",
            "whoever may pull the source and push the destination", paged: false,
            request: Some(schema::<governance_api::PromotionRequest>), answer: Answer::Created(schema::<Promotion>), post(governance_api::promote)),
    ]
}

/// Every management endpoint, as (method, path template), from [`table`].
pub fn endpoints() -> Vec<(&'static str, &'static str)> {
    table()
        .into_iter()
        .map(|endpoint| (endpoint.method, endpoint.path))
        .collect()
}

pub fn routes() -> Router<AppState> {
    let mut json_rows = Router::new();
    let mut uploads = Router::new();
    for endpoint in table() {
        match endpoint.upload {
            None => json_rows = json_rows.route(endpoint.path, endpoint.handler),
            Some(upload) => {
                // The handler streams the body and stops at `max_bytes` itself.
                let row = Router::new()
                    .route(endpoint.path, endpoint.handler)
                    .layer(DefaultBodyLimit::disable())
                    .layer(axum::middleware::from_fn_with_state(
                        upload.media_types,
                        require_media_type,
                    ));
                uploads = uploads.merge(row);
            }
        }
    }
    json_rows
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async {
                ManagementError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
            }),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(require_json))
        .merge(uploads)
}

/// The OpenAPI 3.1 document of this API, built from [`table`]: paths, parameters, bodies
/// and answers, with the schemas of the types the handlers (de)serialize.
pub fn openapi_document() -> serde_json::Value {
    let settings = SchemaSettings::draft2020_12().with(|settings| {
        settings.definitions_path = "/components/schemas".into();
        settings.meta_schema = None;
    });
    let mut generator = settings.into_generator();
    let error = schema::<crate::error::ManagementErrorBody>(&mut generator);
    let mut paths = serde_json::Map::new();
    for endpoint in table() {
        let mut parameters: Vec<serde_json::Value> = endpoint
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
            })
            .collect();
        if endpoint.paged {
            parameters.push(json!({
                "name": "limit", "in": "query", "required": false,
                "description": format!("items per page, 1 to {}", bulwark_auth::manage::MAX_PAGE),
                "schema": { "type": "integer", "minimum": 1 }
            }));
            parameters.push(json!({
                "name": "after", "in": "query", "required": false,
                "description": "the `next` cursor of the previous page",
                "schema": { "type": "string" }
            }));
        }
        let success = match endpoint.answer {
            Answer::Ok(of) => ("200", Some(("application/json", of(&mut generator)))),
            Answer::Created(of) => ("201", Some(("application/json", of(&mut generator)))),
            Answer::Accepted(of) => ("202", Some(("application/json", of(&mut generator)))),
            Answer::NoContent => ("204", None),
            Answer::Text(media_type) => (
                "200",
                Some((
                    media_type,
                    schemars::json_schema!({ "type": "string", "contentMediaType": media_type }),
                )),
            ),
        };
        let mut responses = serde_json::Map::new();
        responses.insert(
            success.0.to_owned(),
            match success.1 {
                Some((media_type, body)) => json!({
                    "description": "success",
                    "content": { media_type: { "schema": body } }
                }),
                None => json!({ "description": "success, no body" }),
            },
        );
        responses.insert(
            "default".to_owned(),
            json!({
                "description": "an error (401 no or bad credentials, 403 not allowed, 404 not found or not visible, 409 conflict, 422 invalid)",
                "content": { "application/json": { "schema": error.clone() } }
            }),
        );
        let method = endpoint.method.to_ascii_lowercase();
        let mut operation = json!({
            "operationId": operation_id(endpoint.method, endpoint.path),
            "summary": endpoint.summary,
            "description": format!("Allowed for: {}.", endpoint.access),
            "tags": [endpoint.path.split('/').nth(3).unwrap_or("api")],
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(upload) = endpoint.upload {
            let content: serde_json::Map<String, serde_json::Value> = upload
                .media_types
                .iter()
                .map(|media_type| {
                    (
                        (*media_type).to_owned(),
                        json!({ "schema": { "type": "string", "contentMediaType": media_type } }),
                    )
                })
                .collect();
            operation["requestBody"] = json!({
                "required": true,
                "description": format!("at most {} bytes", upload.max_bytes),
                "content": content,
            });
        }
        if let Some(request) = endpoint.request {
            operation["requestBody"] = json!({
                "required": !endpoint.path.ends_with("/rotate"),
                "content": { "application/json": { "schema": request(&mut generator) } }
            });
        }
        if let Some(item) = paths
            .entry(endpoint.path.to_owned())
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            item.insert(method, operation);
        }
    }
    let schemas: serde_json::Map<String, serde_json::Value> =
        generator.take_definitions(true).into_iter().collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Bulwark management API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Users, projects, members, robots and access tokens. Every call is authenticated (HTTP Basic with a password or an access token, or Bearer with an access token) and authorized by the registry's one decision point.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "basic": [] }, { "bearer": [] }, {}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "basic": { "type": "http", "scheme": "basic", "description": "user name and password, or user name and access token" },
                "bearer": { "type": "http", "scheme": "bearer", "description": "an access token (bwk_…)" },
            },
        },
    })
}

/// `get_api_v1_projects_project_members`: unique per (method, path).
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.extend(
            segment
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase()),
        );
    }
    id
}

async fn openapi(Caller(_): Caller) -> ApiResult {
    ok(openapi_document())
}

/// Changes must say they are JSON. A browser cannot send that cross-site without a CORS
/// preflight (which this API never grants), so a page elsewhere cannot forge a change with
/// credentials the browser remembers.
async fn require_json(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let changes = matches!(
        *request.method(),
        axum::http::Method::POST | axum::http::Method::PUT | axum::http::Method::PATCH
    );
    let is_json = media_type(&request).is_some_and(|t| t == "application/json");
    if changes && !is_json {
        return ManagementError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the request body as application/json",
        )
        .into_response();
    }
    next.run(request).await
}

/// The media type a request body says it is, without parameters, in lower case.
fn media_type(request: &axum::extract::Request) -> Option<String> {
    request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
}

/// An upload row's body must be one of its media types: none of them is one a browser
/// sends cross-site without a preflight, so the rule of [`require_json`] holds here too.
async fn require_media_type(
    State(allowed): State<&'static [&'static str]>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let changes = matches!(
        *request.method(),
        axum::http::Method::POST | axum::http::Method::PUT | axum::http::Method::PATCH
    );
    if changes && !media_type(&request).is_some_and(|t| allowed.contains(&t.as_str())) {
        return ManagementError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send the request body as one of: {}", allowed.join(", ")),
        )
        .into_response();
    }
    next.run(request).await
}

pub(crate) fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ManagementError> {
    serde_json::from_slice(body)
        .map_err(|e| ManagementError::bad_request(format!("invalid JSON body: {e}")))
}

pub(crate) fn ok(value: impl serde::Serialize) -> ApiResult {
    Ok(axum::Json(value).into_response())
}

pub(crate) fn created(value: impl serde::Serialize) -> ApiResult {
    Ok((StatusCode::CREATED, axum::Json(value)).into_response())
}

pub(crate) fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    pub(crate) limit: Option<u32>,
    #[serde(default)]
    pub(crate) after: String,
}

/// `?limit=&after=`, with a JSON error when malformed.
pub(crate) struct Paging(pub(crate) Page);

impl FromRequestParts<AppState> for Paging {
    type Rejection = ManagementError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Query::<Page>::from_request_parts(parts, state)
            .await
            .map(|Query(page)| Paging(page))
            .map_err(|_| ManagementError::bad_request("limit must be a number; after a name or id"))
    }
}

/// A page of items and the cursor of the next page (`null` on the last one).
pub(crate) fn page<T: serde::Serialize>(
    items: Vec<T>,
    limit: Option<u32>,
    key: impl Fn(&T) -> String,
) -> ApiResult {
    let full = items.len() as u32
        >= limit
            .unwrap_or(100)
            .clamp(1, bulwark_auth::manage::MAX_PAGE);
    let next = if full { items.last().map(&key) } else { None };
    ok(Listing { items, next })
}

async fn me(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult {
    ok(state.auth.whoami(&caller).await?)
}

async fn change_password(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> ApiResult {
    let change: PasswordChange = json_body(&body)?;
    state.auth.change_own_password(&caller, change).await?;
    no_content()
}

// ---- users ----

async fn list_users(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Paging(p): Paging,
) -> ApiResult {
    let users = state.auth.list_users(&caller, &p.after, p.limit).await?;
    page(users, p.limit, |u| u.name.clone())
}

async fn create_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> ApiResult {
    let new: NewUser = json_body(&body)?;
    created(state.auth.create_user(&caller, new).await?)
}

async fn get_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(user): Path<String>,
) -> ApiResult {
    ok(state.auth.get_user(&caller, &user).await?)
}

async fn update_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(user): Path<String>,
    body: Bytes,
) -> ApiResult {
    let changes: UserChanges = json_body(&body)?;
    ok(state.auth.update_user(&caller, &user, changes).await?)
}

async fn list_user_tokens(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(user): Path<String>,
    Paging(p): Paging,
) -> ApiResult {
    let owner = TokenOwnerRef::User(user);
    let tokens = state
        .auth
        .list_tokens(&caller, &owner, &p.after, p.limit)
        .await?;
    page(tokens, p.limit, |t| t.id.clone())
}

async fn create_user_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(user): Path<String>,
    body: Bytes,
) -> ApiResult {
    let request: TokenRequest = json_body(&body)?;
    created(
        state
            .auth
            .create_token(&caller, &TokenOwnerRef::User(user), request)
            .await?,
    )
}

// ---- projects ----

async fn list_projects(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Paging(p): Paging,
) -> ApiResult {
    let (items, next) = state.auth.list_projects(&caller, &p.after, p.limit).await?;
    ok(Listing { items, next })
}

async fn create_project(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> ApiResult {
    let new: NewProject = json_body(&body)?;
    created(state.auth.create_project(&caller, new).await?)
}

async fn get_project(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> ApiResult {
    ok(state.auth.get_project(&caller, &project).await?)
}

async fn update_project(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
    body: Bytes,
) -> ApiResult {
    let changes: ProjectChanges = json_body(&body)?;
    ok(state
        .auth
        .update_project(&caller, &project, changes)
        .await?)
}

async fn delete_project(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> ApiResult {
    state.auth.delete_project(&caller, &project).await?;
    no_content()
}

// ---- members ----

async fn list_members(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
    Paging(p): Paging,
) -> ApiResult {
    let members = state
        .auth
        .list_members(&caller, &project, &p.after, p.limit)
        .await?;
    page(members, p.limit, |m| m.user.clone())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Membership {
    role: Role,
}

async fn set_member(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((project, user)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let membership: Membership = json_body(&body)?;
    ok(state
        .auth
        .set_member(&caller, &project, &user, membership.role)
        .await?)
}

async fn remove_member(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((project, user)): Path<(String, String)>,
) -> ApiResult {
    state.auth.remove_member(&caller, &project, &user).await?;
    no_content()
}

// ---- robots ----

fn robot_created(robot: RobotView, token: NewToken) -> ApiResult {
    created(RobotCreated { robot, token })
}

async fn list_project_robots(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
    Paging(p): Paging,
) -> ApiResult {
    let robots = state
        .auth
        .list_robots(&caller, Some(&project), &p.after, p.limit)
        .await?;
    page(robots, p.limit, |r| r.name.clone())
}

async fn create_project_robot(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
    body: Bytes,
) -> ApiResult {
    let new: NewRobot = json_body(&body)?;
    let (robot, token) = state
        .auth
        .create_robot(&caller, Some(&project), new)
        .await?;
    robot_created(robot, token)
}

async fn list_system_robots(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Paging(p): Paging,
) -> ApiResult {
    let robots = state
        .auth
        .list_robots(&caller, None, &p.after, p.limit)
        .await?;
    page(robots, p.limit, |r| r.name.clone())
}

async fn create_system_robot(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> ApiResult {
    let new: NewRobot = json_body(&body)?;
    let (robot, token) = state.auth.create_robot(&caller, None, new).await?;
    robot_created(robot, token)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RobotChanges {
    disabled: bool,
}

async fn update_robot(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(robot): Path<String>,
    body: Bytes,
) -> ApiResult {
    let changes: RobotChanges = json_body(&body)?;
    ok(state
        .auth
        .set_robot_disabled(&caller, &robot, changes.disabled)
        .await?)
}

async fn delete_robot(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(robot): Path<String>,
) -> ApiResult {
    state.auth.delete_robot(&caller, &robot).await?;
    no_content()
}

async fn list_robot_tokens(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(robot): Path<String>,
    Paging(p): Paging,
) -> ApiResult {
    let owner = TokenOwnerRef::Robot(robot);
    let tokens = state
        .auth
        .list_tokens(&caller, &owner, &p.after, p.limit)
        .await?;
    page(tokens, p.limit, |t| t.id.clone())
}

async fn create_robot_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(robot): Path<String>,
    body: Bytes,
) -> ApiResult {
    let request: TokenRequest = json_body(&body)?;
    created(
        state
            .auth
            .create_token(&caller, &TokenOwnerRef::Robot(robot), request)
            .await?,
    )
}

// ---- own tokens ----

async fn list_own_tokens(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Paging(p): Paging,
) -> ApiResult {
    let tokens = state
        .auth
        .list_tokens(&caller, &TokenOwnerRef::Me, &p.after, p.limit)
        .await?;
    page(tokens, p.limit, |t| t.id.clone())
}

async fn create_own_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> ApiResult {
    let request: TokenRequest = json_body(&body)?;
    created(
        state
            .auth
            .create_token(&caller, &TokenOwnerRef::Me, request)
            .await?,
    )
}

async fn revoke_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult {
    state.auth.revoke_token(&caller, &id).await?;
    no_content()
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Rotation {
    #[serde(default)]
    grace_seconds: u64,
}

async fn rotate_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let rotation: Rotation = if body.is_empty() {
        Rotation::default()
    } else {
        json_body(&body)?
    };
    ok(state
        .auth
        .rotate_token(&caller, &id, rotation.grace_seconds)
        .await?)
}

// ---- scans ----

pub(crate) fn no_such_artifact() -> ManagementError {
    ManagementError::new(StatusCode::NOT_FOUND, "not_found", "artifact not found")
}

/// The digest of the artifact `reference` names in `repository`, once the caller is allowed
/// `action` on it. A caller who may not even read its reports is told it does not exist,
/// exactly as for an artifact that does not.
pub(crate) async fn artifact(
    state: &AppState,
    caller: &bulwark_auth::Caller,
    repository: &str,
    reference: &str,
    action: Action,
) -> Result<Digest, ManagementError> {
    let name: RepositoryName = repository.parse().map_err(|_| no_such_artifact())?;
    let resource = Resource::Repository(name.as_str());
    match state.auth.authorize(caller, action, resource).await {
        Ok(()) => {}
        Err(AuthError::Denied | AuthError::InsufficientScope) => {
            let reads = action != Action::ReadScans
                && state
                    .auth
                    .authorize(caller, Action::ReadScans, resource)
                    .await
                    .is_ok();
            return Err(if reads {
                AuthError::Denied.into()
            } else {
                no_such_artifact()
            });
        }
        Err(other) => return Err(other.into()),
    }
    let reference: Reference = reference.parse().map_err(|_| no_such_artifact())?;
    match state.registry.manifest(&name, &reference).await {
        Ok(manifest) => Ok(manifest.digest),
        Err(bulwark_registry::RegistryError::ManifestUnknown) => Err(no_such_artifact()),
        Err(other) => Err(other.into()),
    }
}

async fn scan_report(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((repository, reference)): Path<(String, String)>,
) -> ApiResult {
    let digest = artifact(&state, &caller, &repository, &reference, Action::ReadScans).await?;
    let name: RepositoryName = repository.parse().map_err(|_| no_such_artifact())?;
    ok(ArtifactReport {
        scan: state.scanner.report(&digest, Some(&name)).await?,
        policy: state.governance.evaluate(&name, &digest, None).await?,
    })
}

async fn request_scan(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((repository, reference)): Path<(String, String)>,
) -> ApiResult {
    let digest = artifact(&state, &caller, &repository, &reference, Action::Push).await?;
    let queued = state.scanner.request(&digest).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ScanRequested {
            digest: digest.to_string(),
            queued,
        }),
    )
        .into_response())
}

/// Answers an impact query with what the caller may read: narrowed in the store to the
/// projects where it might (its candidates and the public ones), then judged one
/// repository at a time.
async fn impact(state: &AppState, caller: &bulwark_auth::Caller, query: ImpactQuery) -> ApiResult {
    if !caller.is_authenticated() {
        return Err(AuthError::Unauthenticated.into());
    }
    let projects = match state.auth.candidates(caller, Action::ReadScans).await? {
        bulwark_auth::policy::Candidates::Any => None,
        bulwark_auth::policy::Candidates::Only(mut projects) => {
            projects.extend(state.registry.public_projects().await?);
            Some(projects.into_iter().collect::<Vec<_>>())
        }
    };
    let mut found = state
        .scanner
        .impact(&query, projects.as_deref(), MAX_IMPACT + 1)
        .await?;
    let truncated = found.len() > MAX_IMPACT as usize;
    found.truncate(MAX_IMPACT as usize);
    let mut repositories: Vec<String> = found.iter().map(|a| a.repository.clone()).collect();
    repositories.dedup();
    let readable = state
        .auth
        .allowed_repositories(caller, Action::ReadScans, repositories)
        .await?;
    found.retain(|a| readable.contains(&a.repository));
    ok(Impact {
        items: found,
        truncated,
    })
}

async fn vulnerability_impact(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult {
    impact(&state, &caller, ImpactQuery::Vulnerability(id)).await
}

async fn package_impact(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(purl): Path<String>,
) -> ApiResult {
    impact(&state, &caller, ImpactQuery::Purl(purl)).await
}

// ---- health ----

#[derive(Serialize, JsonSchema)]
struct Health {
    status: &'static str,
}

/// What a load balancer or orchestrator asks before sending traffic.
#[derive(Serialize, JsonSchema)]
struct Readiness {
    ready: bool,
    /// `ok`, or `unreachable` (the reason is in the server's log).
    database: &'static str,
    storage: &'static str,
    advisories: AdvisoryFreshness,
    /// What an operator should act on without the node being unready (stale advisories).
    warnings: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
struct AdvisoryFreshness {
    /// Seconds since the last import; absent when nothing was ever imported.
    age_seconds: Option<u64>,
    max_age_seconds: u64,
    stale: bool,
}

// Credentials are not needed, but wrong ones are refused, as everywhere.
async fn healthz(Caller(_): Caller) -> ApiResult {
    ok(Health { status: "ok" })
}

/// Unready only when a store does not answer: stale advisory data is a warning, since taking
/// every node out of service over it would stop pulls, not make them safer.
async fn readyz(State(state): State<AppState>, Caller(_): Caller) -> ApiResult {
    let mut readiness = Readiness {
        ready: true,
        database: "ok",
        storage: "ok",
        advisories: AdvisoryFreshness {
            age_seconds: None,
            max_age_seconds: state.scanner.settings().advisory_max_age.as_secs(),
            stale: true,
        },
        warnings: Vec::new(),
    };
    if let Err((store, error)) = state.registry.ready().await {
        tracing::error!(store, %error, "readiness: a store does not answer");
        readiness.ready = false;
        match store {
            "database" => readiness.database = "unreachable",
            _ => readiness.storage = "unreachable",
        }
    }
    if readiness.database == "ok" {
        match state.scanner.advisory_status().await {
            Ok(status) => {
                let age = status.last_import.map(|i| i.age_seconds);
                readiness.advisories.age_seconds = age;
                readiness.advisories.stale =
                    age.is_none_or(|age| age > readiness.advisories.max_age_seconds);
            }
            Err(error) => tracing::warn!(%error, "readiness: reading the advisory status failed"),
        }
    }
    if readiness.advisories.stale {
        readiness.warnings.push(match readiness.advisories.age_seconds {
            Some(age) => format!(
                "the advisory data is {age} s old, older than advisory_max_age_hours allows: run `bulwark db update` or POST /api/v1/advisories/update"
            ),
            None => "no advisory data was ever imported: scans find no vulnerabilities until `bulwark db update` runs".to_owned(),
        });
    }
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok((status, axum::Json(readiness)).into_response())
}

// ---- advisory data ----

/// An update asked for.
#[derive(Serialize, JsonSchema)]
struct UpdateStarted {
    /// False when this node was already running one (the answer then is that one's).
    started: bool,
    ecosystems: Vec<String>,
}

async fn advisory_status(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult {
    if !caller.is_authenticated() {
        return Err(AuthError::Unauthenticated.into());
    }
    ok(state.scanner.advisory_status().await?)
}

/// Streams the body into a file of the kind its media type names, refusing it past
/// `ADVISORY_UPLOAD.max_bytes`; imports it; answers what the import did.
async fn import_advisories(
    State(state): State<AppState>,
    Caller(caller): Caller,
    request: axum::extract::Request,
) -> ApiResult {
    state
        .auth
        .authorize(&caller, Action::ManageSystem, Resource::System)
        .await?;
    let suffix = match media_type(&request).as_deref() {
        Some("application/zip") => ".zip",
        Some("application/x-ndjson") => ".jsonl",
        _ => ".json",
    };
    let file = tempfile::Builder::new()
        .prefix("advisory-upload-")
        .suffix(suffix)
        .tempfile()
        .map_err(|e| ManagementError::internal(&format!("staging the upload: {e}")))?;
    let mut out = tokio::fs::File::from_std(
        file.reopen()
            .map_err(|e| ManagementError::internal(&format!("staging the upload: {e}")))?,
    );
    let mut body = request.into_body().into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = futures::StreamExt::next(&mut body).await {
        let chunk =
            chunk.map_err(|e| ManagementError::bad_request(format!("reading the body: {e}")))?;
        written += chunk.len() as u64;
        if written > ADVISORY_UPLOAD.max_bytes {
            return Err(ManagementError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "advisory uploads are limited to {} bytes",
                    ADVISORY_UPLOAD.max_bytes
                ),
            ));
        }
        tokio::io::AsyncWriteExt::write_all(&mut out, &chunk)
            .await
            .map_err(|e| ManagementError::internal(&format!("staging the upload: {e}")))?;
    }
    tokio::io::AsyncWriteExt::flush(&mut out)
        .await
        .map_err(|e| ManagementError::internal(&format!("staging the upload: {e}")))?;
    let mut reports = state
        .scanner
        .import_advisories(&[file.path().to_path_buf()])
        .await;
    for report in &mut reports {
        // The staging file's name means nothing to the caller.
        report.source = "upload".into();
    }
    ok(reports)
}

async fn update_advisories(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult {
    state
        .auth
        .authorize(&caller, Action::ManageSystem, Resource::System)
        .await?;
    let started = state.scanner.start_advisory_update();
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(UpdateStarted {
            started,
            ecosystems: state.scanner.settings().advisory_ecosystems.clone(),
        }),
    )
        .into_response())
}

async fn rematch_advisories(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult {
    state
        .auth
        .authorize(&caller, Action::ManageSystem, Resource::System)
        .await?;
    ok(state.scanner.rematch_all().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_has_every_row_once_and_every_reference_resolves() {
        let document = openapi_document();
        let mut operations = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                operations += 1;
                assert!(
                    endpoints().contains(&(method.to_ascii_uppercase().as_str(), path.as_str())),
                    "{method} {path}"
                );
            }
        }
        assert_eq!(operations, endpoints().len());
        // Every `$ref` names a schema the document defines.
        let text = document.to_string();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let name = target.strip_prefix("#/components/schemas/").unwrap();
            assert!(schemas.contains_key(name), "{target} is not defined");
        }
    }
}
