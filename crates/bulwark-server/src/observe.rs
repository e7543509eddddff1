//! What every request leaves behind: one audit record (who, what, on what, the result,
//! when). One middleware sees every request of every front end after routing, so no
//! handler can forget; handlers only add what the middleware cannot see — who the caller
//! turned out to be ([`note_subject`], [`note_claimed`], from authentication) and a line
//! of detail ([`AuditNote`], from the error mapping and a few handlers).

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{Extensions, Method, Request};
use axum::middleware::Next;
use axum::response::Response;
use bulwark_audit::{AuditEvent, Category, Outcome};
use bulwark_auth::Subject;
use bulwark_oci::{RegistryRoute, RequestContext};

use crate::AppState;

/// Who the caller is, once authentication has run (set through the request's extensions).
#[derive(Default)]
pub(crate) struct Identity(Mutex<Option<(String, Option<String>)>>);

/// A line a handler or the error mapping adds to a request's record: why it was refused,
/// what an override did. Client-facing text only: never a server fault's details.
#[derive(Clone)]
pub(crate) struct AuditNote(pub String);

/// Records that authentication resolved the caller to `subject`.
pub(crate) fn note_subject(extensions: &Extensions, subject: &Subject) {
    let token_id = match subject {
        Subject::Account(account) => account.token_id.clone(),
        Subject::Anonymous | Subject::RegistryToken { .. } => None,
    };
    note(extensions, subject.display_name().to_owned(), token_id);
}

/// Records the name a caller claimed when its credentials were refused: failed sign-ins
/// are listed under the account they tried.
pub(crate) fn note_claimed(extensions: &Extensions, claimed: &str) {
    let claimed = if claimed.is_empty() {
        "unknown"
    } else {
        claimed
    };
    note(extensions, format!("{claimed} (failed)"), None);
}

fn note(extensions: &Extensions, actor: String, token_id: Option<String>) {
    if let Some(identity) = extensions.get::<Arc<Identity>>() {
        *identity.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((actor, token_id));
    }
}

/// What a request is, as a record names it.
struct Described {
    category: Category,
    operation: String,
    target: String,
    project: Option<String>,
}

/// Paths that are not actions on anything: probes of liveness and the API's description.
fn unrecorded(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/readyz" | "/metrics" | "/api/v1/openapi.json"
    )
}

fn describe(method: &Method, path: &str, matched: Option<&str>) -> Described {
    if path == crate::registry_api::TOKEN_PATH {
        return Described {
            category: Category::Auth,
            operation: format!("{method} {path}"),
            target: "registry token".into(),
            project: None,
        };
    }
    if path == "/v2" || path.starts_with("/v2/") {
        return describe_registry(method, path);
    }
    let template = matched.unwrap_or(path);
    let project = template
        .split('/')
        .zip(path.split('/'))
        .find_map(|(param, value)| match param {
            "{project}" => Some(value.to_owned()),
            "{repository}" => percent_decode(value).split('/').next().map(str::to_owned),
            _ => None,
        });
    Described {
        category: if matches!(*method, Method::GET | Method::HEAD) {
            Category::Read
        } else {
            Category::Change
        },
        operation: format!("{method} {template}"),
        target: path.to_owned(),
        project,
    }
}

fn describe_registry(method: &Method, path: &str) -> Described {
    let category = match *method {
        Method::GET | Method::HEAD => Category::Pull,
        Method::DELETE => Category::Delete,
        _ => Category::Push,
    };
    let Ok(route) = RegistryRoute::parse(path) else {
        return Described {
            category,
            operation: format!("{method} /v2/(not a registry path)"),
            target: path.to_owned(),
            project: None,
        };
    };
    let at = |name: &bulwark_oci::RepositoryName, reference: &str| {
        if reference.contains(':') {
            format!("{name}@{reference}")
        } else {
            format!("{name}:{reference}")
        }
    };
    let target = match &route {
        RegistryRoute::Base => "registry".to_owned(),
        RegistryRoute::Catalog => "catalog".to_owned(),
        RegistryRoute::Tags { name } | RegistryRoute::UploadStart { name } => name.to_string(),
        RegistryRoute::Manifest { name, reference } => at(name, reference),
        RegistryRoute::Blob { name, digest } | RegistryRoute::Referrers { name, digest } => {
            format!("{name}@{digest}")
        }
        RegistryRoute::Upload { name, session } => format!("{name} (upload {session})"),
    };
    let category = match route {
        // The client's probe of how to authenticate.
        RegistryRoute::Base => Category::Auth,
        _ => category,
    };
    Described {
        category,
        operation: format!("{method} {}", route.template()),
        target,
        project: route.repository().map(|name| {
            name.as_str()
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        }),
    }
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// A request's record in the making: written when the answer is ready, or — if the
/// request is dropped first (the client went away) — as cancelled.
struct Pending {
    audit: bulwark_audit::AuditLog,
    identity: Arc<Identity>,
    event: Option<AuditEvent>,
}

impl Pending {
    /// The event, with the caller authentication found (if it ran).
    fn take(&mut self) -> Option<AuditEvent> {
        let mut event = self.event.take()?;
        if let Some((actor, token_id)) = self
            .identity
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            event.context.actor = actor;
            event.context.token_id = token_id;
        }
        Some(event)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut event) = self.take() {
            event.outcome = Outcome::Cancelled;
            event.status = 499;
            self.audit.record_now(event);
        }
    }
}

/// Middleware: every request counted in the metrics, and its audit record.
pub(crate) async fn observe(
    State(state): State<AppState>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let has_body = !http_body::Body::is_end_stream(request.body());
    let (route, uploads_blob) = metric_route(
        request.uri().path(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let metrics = state.metrics.clone();
    let counting = metrics.begin(request.method(), route, uploads_blob && has_body);
    let request = request.map(|body| counting.count_received(body));
    let response = audited(state, request, next).await;
    counting.answered(response)
}

/// A request's route as metrics name it — the template, never the path a client sent, so
/// that scanners probing random paths cannot grow the series without bound — and whether
/// it carries blob data into the registry.
fn metric_route(path: &str, matched: Option<&str>) -> (Cow<'static, str>, bool) {
    if path == "/v2" || path.starts_with("/v2/") {
        return match RegistryRoute::parse(path) {
            Ok(route) => (
                Cow::Borrowed(route.template()),
                matches!(
                    route,
                    RegistryRoute::Upload { .. } | RegistryRoute::UploadStart { .. }
                ),
            ),
            Err(_) => (Cow::Borrowed("/v2/(not a registry path)"), false),
        };
    }
    match matched {
        Some(template) => (Cow::Owned(template.to_owned()), false),
        None => (Cow::Borrowed("(unmatched)"), false),
    }
}

/// The audit record of a request.
async fn audited(state: AppState, mut request: Request<Body>, next: Next) -> Response {
    let path = request.uri().path();
    if unrecorded(path) {
        return next.run(request).await;
    }
    let described = describe(
        request.method(),
        path,
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let context = RequestContext {
        actor: "anonymous".into(),
        token_id: None,
        client_address: crate::access::client_address(
            &state.trusted_proxies,
            request.headers(),
            request.extensions(),
        ),
        request_id: crate::access::request_id(request.headers()),
        at_millis: bulwark_audit::now_millis(),
    };
    let identity = Arc::new(Identity::default());
    request.extensions_mut().insert(identity.clone());
    let mut pending = Pending {
        audit: state.audit.clone(),
        identity,
        event: Some(AuditEvent {
            context,
            category: described.category,
            operation: described.operation,
            target: described.target,
            project: described.project,
            outcome: Outcome::Cancelled,
            status: 499,
            detail: String::new(),
        }),
    };
    let response = next.run(request).await;
    let Some(mut event) = pending.take() else {
        return response;
    };
    let status = response.status().as_u16();
    event.status = status;
    event.outcome = Outcome::of_status(status);
    let reads = matches!(event.category, Category::Pull | Category::Read);
    if reads && event.outcome == Outcome::Success && !state.audit_reads {
        return response;
    }
    let mut detail = Vec::new();
    if let Some(digest) = response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
    {
        detail.push(format!("digest {digest}"));
    }
    if let Some(AuditNote(note)) = response.extensions().get::<AuditNote>() {
        detail.push(note.clone());
    }
    event.detail = detail.join("; ");
    state.audit.record(event).await;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_named_by_their_templates() {
        let d = describe(&Method::GET, "/v2/team/app/manifests/latest", None);
        assert_eq!(d.category, Category::Pull);
        assert_eq!(d.operation, "GET /v2/{name}/manifests/{reference}");
        assert_eq!(d.target, "team/app:latest");
        assert_eq!(d.project.as_deref(), Some("team"));
        let digest = "sha256:".to_owned() + &"a".repeat(64);
        let d = describe(
            &Method::DELETE,
            &format!("/v2/team/app/manifests/{digest}"),
            None,
        );
        assert_eq!(
            (d.category, d.target),
            (Category::Delete, format!("team/app@{digest}"))
        );
        let d = describe(
            &Method::PUT,
            "/api/v1/projects/team/members/bob",
            Some("/api/v1/projects/{project}/members/{user}"),
        );
        assert_eq!(d.category, Category::Change);
        assert_eq!(d.operation, "PUT /api/v1/projects/{project}/members/{user}");
        assert_eq!(d.project.as_deref(), Some("team"));
        let d = describe(
            &Method::GET,
            "/api/v1/repositories/team%2Fapp/artifacts/latest/scan",
            Some("/api/v1/repositories/{repository}/artifacts/{reference}/scan"),
        );
        assert_eq!(d.project.as_deref(), Some("team"));
        assert_eq!(
            describe(&Method::GET, "/auth/token", None).category,
            Category::Auth
        );
        assert_eq!(
            describe(&Method::GET, "/v2/", None).category,
            Category::Auth
        );
        assert!(unrecorded("/healthz"));
    }

    #[test]
    fn metrics_name_routes_by_template_only() {
        assert_eq!(
            metric_route("/v2/team/app/manifests/latest", None),
            (Cow::Borrowed("/v2/{name}/manifests/{reference}"), false)
        );
        assert_eq!(
            metric_route("/v2/team/app/blobs/uploads/abc", None),
            (Cow::Borrowed("/v2/{name}/blobs/uploads/{session}"), true)
        );
        assert_eq!(
            metric_route("/v2/../etc/passwd", None).0,
            "/v2/(not a registry path)"
        );
        assert_eq!(
            metric_route("/api/v1/projects/team", Some("/api/v1/projects/{project}")).0,
            "/api/v1/projects/{project}"
        );
        assert_eq!(metric_route("/wp-login.php", None).0, "(unmatched)");
    }
}
