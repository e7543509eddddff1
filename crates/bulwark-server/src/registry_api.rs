//! The registry front end: the OCI Distribution API (`/v2/…`) and its token endpoint, in one
//! route table ([`TABLE`]). Each request is parsed into a [`RegistryRoute`], found in the
//! table by (method, template), authorized for what its row needs, and handed to the row's
//! handler with the caller's request context.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, LOCATION, RANGE,
};
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bulwark_auth::{Action, AuthError, Caller, Candidates, Resource, Subject};
use bulwark_oci::{Digest, ErrorCode, Reference, RegistryRoute, RepositoryName, Tag};
use bulwark_registry::RegistryError;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{Stream, StreamExt, TryStreamExt};

use crate::AppState;
use crate::error::{ApiError, registry_auth_error};
use crate::headers::{blob_range, content_length, upload_content_range, upload_range};

type ApiResult = Result<Response, ApiError>;

const DOCKER_CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");
const DOCKER_UPLOAD_UUID: HeaderName = HeaderName::from_static("docker-upload-uuid");
const OCI_SUBJECT: HeaderName = HeaderName::from_static("oci-subject");
const OCI_FILTERS_APPLIED: HeaderName = HeaderName::from_static("oci-filters-applied");
const OCI_TAG: HeaderName = HeaderName::from_static("oci-tag");
const LINK: HeaderName = HeaderName::from_static("link");
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Batches of names one catalog request reads at most.
const MAX_CATALOG_BATCHES: usize = 10;
/// Longest pause allowed between two pieces of a request body.
const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The token endpoint of the Docker token protocol, served beside `/v2/`.
pub(crate) const TOKEN_PATH: &str = "/auth/token";

/// What a request needs from its caller before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Nothing checked before the handler: the token endpoint reads the credentials of its
    /// own form and grants only what they allow.
    OwnCredentials,
    /// Any authenticated caller (`GET /v2/`, the client's probe for how to authenticate).
    SignedIn,
    /// Signed in; the listing is filtered repository by repository.
    Catalog,
    /// The action on the route's repository.
    Repository(Action),
}

type Handler = fn(Call) -> BoxFuture<'static, ApiResult>;

/// One row of the route table: the single source of the dispatch, the `Allow` header of a
/// 405, the endpoint list and the authorization that runs before the handler.
pub struct Row {
    pub method: Method,
    pub template: &'static str,
    pub needs: Needs,
    handler: Handler,
}

/// Makes an `async fn(Call) -> ApiResult` a table entry.
macro_rules! handler {
    ($operation:expr) => {{
        fn boxed(call: Call) -> BoxFuture<'static, ApiResult> {
            Box::pin($operation(call))
        }
        boxed as Handler
    }};
}

macro_rules! row {
    ($method:ident $template:literal, $needs:expr, $operation:expr) => {
        Row {
            method: Method::$method,
            template: $template,
            needs: $needs,
            handler: handler!($operation),
        }
    };
}

const PULL: Needs = Needs::Repository(Action::Pull);
const PUSH: Needs = Needs::Repository(Action::Push);
const DELETE: Needs = Needs::Repository(Action::Delete);

/// Every endpoint of the registry front end (the OCI distribution API and its token
/// endpoint). Methods are checked before credentials: a 405 reveals nothing about content.
pub static TABLE: [Row; 19] = [
    row!(GET "/v2/", Needs::SignedIn, base),
    row!(HEAD "/v2/", Needs::SignedIn, base),
    row!(GET "/v2/_catalog", Needs::Catalog, catalog),
    row!(GET "/v2/{name}/tags/list", PULL, tags),
    row!(GET "/v2/{name}/manifests/{reference}", PULL, get_manifest),
    row!(HEAD "/v2/{name}/manifests/{reference}", PULL, get_manifest),
    row!(PUT "/v2/{name}/manifests/{reference}", PUSH, put_manifest),
    row!(DELETE "/v2/{name}/manifests/{reference}", DELETE, delete_manifest),
    row!(GET "/v2/{name}/blobs/{digest}", PULL, get_blob),
    row!(HEAD "/v2/{name}/blobs/{digest}", PULL, head_blob),
    row!(DELETE "/v2/{name}/blobs/{digest}", DELETE, delete_blob),
    row!(POST "/v2/{name}/blobs/uploads/", PUSH, start_upload),
    row!(GET "/v2/{name}/blobs/uploads/{session}", PUSH, upload_status),
    row!(PATCH "/v2/{name}/blobs/uploads/{session}", PUSH, append),
    row!(PUT "/v2/{name}/blobs/uploads/{session}", PUSH, complete),
    row!(DELETE "/v2/{name}/blobs/uploads/{session}", PUSH, cancel_upload),
    row!(GET "/v2/{name}/referrers/{digest}", PULL, referrers),
    row!(GET "/auth/token", Needs::OwnCredentials, token),
    row!(POST "/auth/token", Needs::OwnCredentials, token),
];

/// Where the table is mounted: every path under `/v2` is parsed into a [`RegistryRoute`]
/// and looked up in [`TABLE`] by its template.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2", any(dispatch))
        .route("/v2/", any(dispatch))
        .route("/v2/{*rest}", any(dispatch))
        .route(TOKEN_PATH, any(dispatch))
}

/// One request, as its handler receives it: the caller (authorized for the row already, with
/// the request's context), the parsed route and what else the request carries.
pub struct Call {
    state: AppState,
    caller: Caller,
    /// `None` for the token endpoint.
    route: Option<RegistryRoute>,
    method: Method,
    query: HashMap<String, String>,
    /// The query as sent, for parameters that may repeat (`tag`, `scope`).
    raw_query: Option<String>,
    headers: HeaderMap,
    /// The request's extensions: where authentication tells the audit record who called.
    extensions: Extensions,
    body: Body,
}

impl Call {
    /// The route's repository; every row whose template has `{name}` has one.
    fn repository(&self) -> Result<RepositoryName, ApiError> {
        self.route
            .as_ref()
            .and_then(RegistryRoute::repository)
            .cloned()
            .ok_or_else(|| crate::error::internal(&"a repository route without a repository"))
    }

    /// The route's last parameter (reference, digest or session), unparsed.
    fn parameter(&self) -> &str {
        self.route.as_ref().map_or("", RegistryRoute::parameter)
    }

    fn state(&self) -> &AppState {
        &self.state
    }
}

async fn dispatch(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    let result = async {
        let route = match uri.path() {
            TOKEN_PATH => None,
            path => Some(RegistryRoute::parse(path)?),
        };
        let template = route.as_ref().map_or(TOKEN_PATH, RegistryRoute::template);
        let row = TABLE
            .iter()
            .find(|row| row.template == template && row.method == method)
            .ok_or_else(|| method_not_allowed(template))?;
        let client = crate::access::client_address(&state.trusted_proxies, &headers, &extensions);
        let request_id = crate::access::request_id(&headers);
        let caller = match row.needs {
            Needs::OwnCredentials => Caller::new(Subject::Anonymous, client, request_id),
            needs => {
                let subject = authorized(
                    &state,
                    &headers,
                    &extensions,
                    &client,
                    needs,
                    route.as_ref(),
                    &query,
                )
                .await?;
                Caller::new(subject, client, request_id)
            }
        };
        let call = Call {
            state,
            caller,
            route,
            method,
            query,
            raw_query: uri.query().map(str::to_owned),
            headers,
            extensions,
            body,
        };
        (row.handler)(call).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A 405 whose `Allow` lists the methods the table has for `template`.
fn method_not_allowed(template: &str) -> ApiError {
    let allow: Vec<&str> = TABLE
        .iter()
        .filter(|row| row.template == template)
        .map(|row| row.method.as_str())
        .collect();
    ApiError::code(ErrorCode::MethodNotAllowed)
        .with_header(axum::http::header::ALLOW, allow.join(", "))
}

/// The scope a 401 challenge names: what the client should ask a token for to make this
/// request. A cross-repository mount also needs pull on its source, or a token-using client
/// would never get a real mount (its token could not read the source).
fn challenge_scope(
    needs: Needs,
    route: Option<&RegistryRoute>,
    query: &HashMap<String, String>,
) -> Option<String> {
    let name = match needs {
        Needs::OwnCredentials | Needs::SignedIn => return None,
        Needs::Catalog => return Some("registry:catalog:*".to_owned()),
        Needs::Repository(_) => route.and_then(RegistryRoute::repository)?,
    };
    let mut scope = match needs {
        Needs::OwnCredentials | Needs::SignedIn | Needs::Catalog => return None,
        Needs::Repository(action) => format!(
            "repository:{name}:{}",
            match action {
                Action::Push => "pull,push",
                Action::Delete => "delete",
                _ => "pull",
            }
        ),
    };
    if let Some(RegistryRoute::UploadStart { .. }) = route
        && query.contains_key("mount")
        && let Some(Ok(from)) = query.get("from").map(|from| from.parse::<RepositoryName>())
        && &from != name
    {
        scope.push_str(&format!(" repository:{from}:pull"));
    }
    Some(scope)
}

/// Authenticates the caller and asks the one decision point for what the row needs.
async fn authorized(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
    client: &str,
    needs: Needs,
    route: Option<&RegistryRoute>,
    query: &HashMap<String, String>,
) -> Result<Subject, ApiError> {
    let scope = challenge_scope(needs, route, query);
    let challenge = |error: Option<&str>| {
        crate::access::bearer_challenge(state, headers, scope.as_deref(), error)
    };
    let subject = match crate::access::authenticate(state, headers, extensions, client).await {
        Ok(subject) => subject,
        Err(error) => return Err(registry_auth_error(error, challenge)),
    };
    let decision = match (needs, route.and_then(RegistryRoute::repository)) {
        (Needs::OwnCredentials, _) => Ok(()),
        (Needs::SignedIn, _) if subject.is_authenticated() => Ok(()),
        (Needs::SignedIn, _) => Err(AuthError::Unauthenticated),
        (Needs::Catalog, _) => {
            state
                .auth
                .authorize(&subject, Action::Catalog, Resource::System)
                .await
        }
        (Needs::Repository(action), Some(name)) => {
            state
                .auth
                .authorize(&subject, action, Resource::Repository(name.as_str()))
                .await
        }
        (Needs::Repository(_), None) => Err(AuthError::Internal(
            "a repository action on a route without a repository".into(),
        )),
    };
    if let Err(error) = decision {
        return Err(registry_auth_error(error, challenge));
    }
    Ok(subject)
}

/// A request body as a byte stream that fails when the client goes quiet for
/// [`BODY_IDLE_TIMEOUT`]: an upload that stalls must not hold its session and connection
/// forever.
fn body_stream(body: Body) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    let data = TryStreamExt::map_err(body.into_data_stream(), std::io::Error::other);
    futures::stream::unfold(Box::pin(data), |mut data| async move {
        match tokio::time::timeout(BODY_IDLE_TIMEOUT, data.next()).await {
            Ok(Some(item)) => Some((item, data)),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no request body data for too long",
                )),
                data,
            )),
        }
    })
}

/// A response builder that never fails on our own, always-valid header values.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    /// What the request's audit record should say beyond what it did (an override used).
    notes: Vec<String>,
}

impl Reply {
    fn new(status: StatusCode) -> Self {
        Reply {
            status,
            headers: HeaderMap::new(),
            notes: Vec::new(),
        }
    }

    fn noting(mut self, notes: Vec<String>) -> Self {
        self.notes.extend(notes);
        self
    }

    fn header(mut self, name: HeaderName, value: impl AsRef<str>) -> Self {
        if let Ok(value) = HeaderValue::from_str(value.as_ref()) {
            self.headers.insert(name, value);
        }
        self
    }

    fn body(self, body: Body) -> Response {
        let mut response = (self.status, body).into_response();
        response.headers_mut().extend(self.headers);
        if !self.notes.is_empty() {
            response
                .extensions_mut()
                .insert(crate::observe::AuditNote(self.notes.join("; ")));
        }
        response
    }

    fn empty(self) -> Response {
        self.header(CONTENT_LENGTH, "0").body(Body::empty())
    }

    fn json(self, value: &serde_json::Value) -> Response {
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        self.header(CONTENT_TYPE, "application/json")
            .header(CONTENT_LENGTH, bytes.len().to_string())
            .body(Body::from(bytes))
    }
}

/// `GET`/`POST /auth/token`: answers in the token protocol's own JSON, errors included.
async fn token(call: Call) -> ApiResult {
    Ok(crate::access::token_endpoint(
        &call.state,
        &call.method,
        call.raw_query.as_deref(),
        &call.headers,
        &call.extensions,
        &call.caller.context.client_address,
        call.body,
    )
    .await)
}

async fn base(_: Call) -> ApiResult {
    Ok(Reply::new(StatusCode::OK).json(&serde_json::json!({})))
}

async fn get_manifest(call: Call) -> ApiResult {
    let name = call.repository()?;
    let reference = parse_lookup_reference(call.parameter())?;
    let manifest = call.state().registry.manifest(&name, &reference).await?;
    // The one place pulls are judged (an index's platforms are pulled by digest, and
    // judged each on its own).
    let verdict = call
        .state()
        .governance
        .check_pull(
            &name,
            &manifest.digest,
            (&manifest.content, &manifest.media_type),
            match &reference {
                Reference::Tag(tag) => Some(tag.as_str()),
                Reference::Digest(_) => None,
            },
        )
        .await?;
    if let bulwark_governance::PullVerdict::Denied(message) = verdict {
        tracing::info!(repository = %name, digest = %manifest.digest, actor = %call.caller.context.actor, %message, "pull refused by policy");
        return Err(ApiError::new(ErrorCode::Denied, message));
    }
    let reply = Reply::new(StatusCode::OK)
        .header(CONTENT_TYPE, &manifest.media_type)
        .header(CONTENT_LENGTH, manifest.content.len().to_string())
        .header(DOCKER_CONTENT_DIGEST, manifest.digest.to_string())
        .header(ETAG, format!("\"{}\"", manifest.digest));
    Ok(if call.method == Method::HEAD {
        reply.body(Body::empty())
    } else {
        reply.body(Body::from(manifest.content))
    })
}

async fn delete_manifest(call: Call) -> ApiResult {
    let name = call.repository()?;
    let reference = parse_lookup_reference(call.parameter())?;
    // Deleting a manifest deletes its tags: each must be allowed to go.
    let tags = match &reference {
        Reference::Tag(tag) => vec![tag.clone()],
        Reference::Digest(digest) => call.state().registry.tags_of(&name, digest).await?,
    };
    let mut notes = Vec::new();
    for tag in &tags {
        notes.extend(
            check_tag_change(&call.state, &call.caller, &call.headers, &name, tag, None).await?,
        );
    }
    call.state()
        .registry
        .delete_manifest(&call.caller.context, &name, &reference)
        .await?;
    call.state().governance.changed();
    Ok(Reply::new(StatusCode::ACCEPTED).noting(notes).empty())
}

/// Header with which a system administrator explicitly moves or deletes an immutable tag.
const OVERRIDE_IMMUTABLE: HeaderName = HeaderName::from_static("bulwark-override-immutable");

/// Refuses moving `tag` of `name` to `next` (`None`: deleting it) when an immutable-tag
/// pattern of the project's policy covers it, unless a system administrator asked to
/// override; an override used is returned, for the request's audit record.
async fn check_tag_change(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    name: &RepositoryName,
    tag: &Tag,
    next: Option<&Digest>,
) -> Result<Option<String>, ApiError> {
    let current = match state
        .registry
        .manifest(name, &Reference::Tag(tag.clone()))
        .await
    {
        Ok(found) => Some(found.digest),
        Err(RegistryError::ManifestUnknown) => None,
        Err(other) => return Err(other.into()),
    };
    if current.is_none() || current.as_ref() == next {
        return Ok(None);
    }
    let override_requested = headers
        .get(&OVERRIDE_IMMUTABLE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    let system_admin = override_requested
        && state
            .auth
            .authorize(caller, Action::ManageSystem, Resource::System)
            .await
            .is_ok();
    let change = state
        .governance
        .tag_change(
            name,
            tag.as_str(),
            current.as_ref(),
            next,
            system_admin,
            override_requested,
        )
        .await?;
    match change {
        bulwark_governance::TagChange::Denied { pattern } => Err(ApiError::new(
            ErrorCode::Denied,
            format!(
                "tag {tag} is immutable (policy pattern {pattern:?}): it can be neither moved nor deleted; push a new tag"
            ),
        )),
        bulwark_governance::TagChange::AllowedByOverride { pattern } => {
            tracing::warn!(target: "audit", repository = %name, %tag, pattern, actor = %caller.context.actor, request = %caller.context.request_id, "immutable tag override");
            Ok(Some(format!(
                "immutable tag {tag} (pattern {pattern:?}) {} by a system administrator's override",
                if next.is_some() { "moved" } else { "deleted" }
            )))
        }
        bulwark_governance::TagChange::Allowed => Ok(None),
    }
}

async fn head_blob(call: Call) -> ApiResult {
    let name = call.repository()?;
    let digest: Digest = call.parameter().parse()?;
    let size = call.state().registry.blob_size(&name, &digest).await?;
    Ok(blob_reply(StatusCode::OK, &digest)
        .header(CONTENT_LENGTH, size.to_string())
        .body(Body::empty()))
}

async fn delete_blob(call: Call) -> ApiResult {
    let name = call.repository()?;
    let digest: Digest = call.parameter().parse()?;
    call.state().registry.delete_blob(&name, &digest).await?;
    Ok(Reply::new(StatusCode::ACCEPTED).empty())
}

async fn upload_status(call: Call) -> ApiResult {
    let name = call.repository()?;
    let status = call
        .state()
        .registry
        .upload_status(&name, call.parameter())
        .await?;
    Ok(upload_reply(
        StatusCode::NO_CONTENT,
        &name,
        &status.session,
        status.offset,
    )
    .empty())
}

async fn append(call: Call) -> ApiResult {
    let name = call.repository()?;
    let session = call.parameter().to_owned();
    let (start, length) = chunk_bounds(&call.headers)?;
    let registry = call.state.registry.clone();
    let status = registry
        .append(&name, &session, start, length, body_stream(call.body))
        .await?;
    Ok(upload_reply(StatusCode::ACCEPTED, &name, &status.session, status.offset).empty())
}

async fn complete(call: Call) -> ApiResult {
    let name = call.repository()?;
    let session = call.parameter().to_owned();
    let digest = required_digest(&call.query)?;
    let (start, length) = chunk_bounds(&call.headers)?;
    let registry = call.state.registry.clone();
    registry
        .complete(
            &name,
            &session,
            &digest,
            start,
            length,
            body_stream(call.body),
        )
        .await?;
    Ok(blob_created(&name, &digest))
}

async fn cancel_upload(call: Call) -> ApiResult {
    let name = call.repository()?;
    call.state()
        .registry
        .cancel_upload(&name, call.parameter())
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT).empty())
}

/// For reads and deletes an unparseable tag cannot name anything: it is unknown, not invalid.
fn parse_lookup_reference(raw: &str) -> Result<Reference, ApiError> {
    match raw.parse::<Reference>() {
        Ok(reference) => Ok(reference),
        Err(bulwark_oci::NameError::InvalidTag(_)) => {
            Err(ApiError::code(ErrorCode::ManifestUnknown))
        }
        Err(error) => Err(error.into()),
    }
}

fn required_digest(query: &HashMap<String, String>) -> Result<Digest, ApiError> {
    let raw = query.get("digest").ok_or_else(|| {
        ApiError::new(
            ErrorCode::DigestInvalid,
            "the digest query parameter is required",
        )
    })?;
    Ok(raw.parse()?)
}

/// The chunk's start offset (from `Content-Range`) and length, cross-checked.
fn chunk_bounds(headers: &HeaderMap) -> Result<(Option<u64>, Option<u64>), ApiError> {
    let length = content_length(headers)?;
    match upload_content_range(headers)? {
        Some((start, end)) => {
            let range_length = end - start + 1;
            if length.is_some_and(|l| l != range_length) {
                return Err(ApiError::new(
                    ErrorCode::SizeInvalid,
                    "Content-Length does not match Content-Range",
                ));
            }
            Ok((Some(start), Some(range_length)))
        }
        None => Ok((None, length)),
    }
}

fn blob_reply(status: StatusCode, digest: &Digest) -> Reply {
    Reply::new(status)
        .header(DOCKER_CONTENT_DIGEST, digest.to_string())
        .header(CONTENT_TYPE, "application/octet-stream")
        .header(ACCEPT_RANGES, "bytes")
        .header(ETAG, format!("\"{digest}\""))
}

fn upload_reply(status: StatusCode, name: &RepositoryName, session: &str, offset: u64) -> Reply {
    Reply::new(status)
        .header(LOCATION, format!("/v2/{name}/blobs/uploads/{session}"))
        .header(RANGE, upload_range(offset))
        .header(DOCKER_UPLOAD_UUID, session)
}

fn blob_created(name: &RepositoryName, digest: &Digest) -> Response {
    Reply::new(StatusCode::CREATED)
        .header(LOCATION, format!("/v2/{name}/blobs/{digest}"))
        .header(DOCKER_CONTENT_DIGEST, digest.to_string())
        .empty()
}

async fn get_blob(call: Call) -> ApiResult {
    let name = call.repository()?;
    let digest: Digest = call.parameter().parse()?;
    let (name, digest, headers, state) = (&name, &digest, &call.headers, &call.state);
    let content = state
        .registry
        .read_blob(name, digest, blob_range(headers))
        .await?;
    let size = content.size;
    let reply = match &content.range {
        Some(range) => blob_reply(StatusCode::PARTIAL_CONTENT, digest)
            .header(CONTENT_LENGTH, (range.end - range.start).to_string())
            .header(
                CONTENT_RANGE,
                format!("bytes {}-{}/{}", range.start, range.end - 1, size),
            ),
        None => blob_reply(StatusCode::OK, digest).header(CONTENT_LENGTH, size.to_string()),
    };
    Ok(reply.body(Body::from_stream(content.stream)))
}

async fn start_upload(call: Call) -> ApiResult {
    let name = call.repository()?;
    let Call {
        state,
        caller,
        query,
        headers,
        body,
        ..
    } = call;
    let (name, subject, query, headers) = (&name, &caller.subject, &query, &headers);
    let registry = &state.registry;
    if let Some(mount) = query.get("mount") {
        // A mount that cannot be served (bad digest, unknown source, a source the caller may
        // not pull) falls back to a plain upload session, as the spec asks, so a refused
        // mount looks like an absent blob. Without `from`, the registry looks for the blob
        // in the repository's own project.
        if let Ok(digest) = mount.parse::<Digest>() {
            // Already there (mounted before, or pushed): nothing to do.
            let may_see_target = state
                .auth
                .authorize(subject, Action::Pull, Resource::Repository(name.as_str()))
                .await
                .is_ok();
            if may_see_target {
                match registry.blob_size(name, &digest).await {
                    Ok(_) => return Ok(blob_created(name, &digest)),
                    Err(RegistryError::BlobUnknown) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let source = match query.get("from").map(|from| from.parse::<RepositoryName>()) {
                Some(Ok(from)) => Some(from),
                Some(Err(_)) => None,
                None => registry.mount_source_in_project(name, &digest).await?,
            };
            let mounted = match source {
                Some(source)
                    if state
                        .auth
                        .authorize(subject, Action::Pull, Resource::Repository(source.as_str()))
                        .await
                        .is_ok() =>
                {
                    registry.mount_blob(name, &source, &digest).await?
                }
                _ => false,
            };
            if mounted {
                return Ok(blob_created(name, &digest));
            }
        }
    } else if query.contains_key("digest") {
        let digest = required_digest(query)?;
        let length = content_length(headers)?;
        registry
            .put_blob(name, &digest, length, body_stream(body))
            .await?;
        return Ok(blob_created(name, &digest));
    }
    let status = registry.start_upload(name).await?;
    Ok(upload_reply(StatusCode::ACCEPTED, name, &status.session, 0).empty())
}

/// The `tag` parameters of a manifest `PUT` (`?tag=a&tag=b`), each a valid tag. A map of the
/// query keeps one value per key, so they are read from the raw query.
fn tag_parameters(raw_query: Option<&str>) -> Result<Vec<Tag>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw_query.unwrap_or(""))
        .map_err(|e| ApiError::new(ErrorCode::ManifestInvalid, format!("query string: {e}")))?;
    pairs
        .into_iter()
        .filter(|(key, _)| key == "tag")
        .map(|(_, value)| {
            value
                .parse::<Tag>()
                .map_err(|e| ApiError::new(ErrorCode::ManifestInvalid, e.to_string()))
        })
        .collect()
}

async fn put_manifest(call: Call) -> ApiResult {
    let name = call.repository()?;
    let reference: Reference = call.parameter().parse()?;
    let also_tag = tag_parameters(call.raw_query.as_deref())?;
    let Call {
        state,
        caller,
        headers,
        body,
        ..
    } = call;
    let (name, reference, also_tag, headers) = (&name, &reference, &also_tag, &headers);
    let limit = state.registry.limits().max_manifest_size;
    let too_large = || {
        ApiError::new(
            ErrorCode::ManifestTooLarge,
            format!("manifest larger than {limit} bytes"),
        )
    };
    if content_length(headers)?.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    // Read like a blob body (an idle client times out), but held whole: it is parsed.
    let mut content = bytes::BytesMut::new();
    let mut chunks = std::pin::pin!(body_stream(body));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                ErrorCode::ManifestInvalid,
                format!("reading the manifest failed: {e}"),
            )
        })?;
        if content.len() + chunk.len() > limit {
            return Err(too_large());
        }
        content.extend_from_slice(&chunk);
    }
    let content = content.freeze();
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    // The digest the tags would point at (what the registry will verify and store).
    let next = match reference {
        Reference::Digest(digest) => digest.clone(),
        Reference::Tag(_) => Digest::sha256_of(&content),
    };
    let tags = match reference {
        Reference::Tag(tag) => std::iter::once(tag)
            .chain(also_tag.iter())
            .collect::<Vec<_>>(),
        Reference::Digest(_) => also_tag.iter().collect(),
    };
    let mut notes = Vec::new();
    for tag in tags {
        notes.extend(check_tag_change(&state, &caller, headers, name, tag, Some(&next)).await?);
    }
    let outcome = state
        .registry
        .put_manifest(
            &caller.context,
            name,
            reference,
            also_tag,
            content_type,
            content,
        )
        .await?;
    let mut reply = Reply::new(StatusCode::CREATED)
        .noting(notes)
        .header(LOCATION, format!("/v2/{name}/manifests/{}", outcome.digest))
        .header(DOCKER_CONTENT_DIGEST, outcome.digest.to_string());
    if !also_tag.is_empty() {
        // Tells the client the registry applied the `tag` parameters (distribution-spec).
        for tag in &outcome.tags {
            if let Ok(value) = HeaderValue::from_str(tag.as_str()) {
                reply.headers.append(OCI_TAG, value);
            }
        }
    }
    if let Some(subject) = outcome.subject {
        reply = reply.header(OCI_SUBJECT, subject.to_string());
    }
    state.governance.changed();
    Ok(reply.empty())
}

fn page_query(query: &HashMap<String, String>) -> Result<(Option<u32>, Option<&str>), ApiError> {
    let n = query
        .get("n")
        .map(|n| {
            n.parse::<u32>().map_err(|_| {
                ApiError::new(ErrorCode::SizeInvalid, "n must be a non-negative integer")
            })
        })
        .transpose()?;
    Ok((n, query.get("last").map(String::as_str)))
}

fn next_link(path: &str, items: &[String], n: u32) -> Option<String> {
    items.last().map(|last| {
        let last: String = url_encode(last);
        format!("<{path}?n={n}&last={last}>; rel=\"next\"")
    })
}

/// Tags and repository names are restricted to URL-safe characters except `/`.
fn url_encode(value: &str) -> String {
    value.replace('/', "%2F")
}

/// The repositories the caller may pull, `n` at a time. Names are read in pages of the
/// registry's page size and filtered by the caller's rights until one more visible name than
/// the page holds is found, or the names run out: hidden repositories neither show nor
/// shorten a page, a `Link` to the next page appears only when a visible name follows, and
/// it continues from the last name shown. So the catalog never reveals a name, or that
/// anything follows, that the caller may not see. The price is reading past the names the
/// caller cannot see, as a registry that lists its storage for the catalog does.
async fn catalog(call: Call) -> ApiResult {
    let (state, subject, query) = (&call.state, &call.caller.subject, &call.query);
    let (n, last) = page_query(query)?;
    let page_size = state.registry.limits().max_page_size;
    let wanted = n.unwrap_or(page_size).min(page_size) as usize;
    // Only where the caller may pull is read: the store narrows the listing to those
    // projects (and public ones), and the decision point judges each name it returns.
    let candidates = state
        .auth
        .candidates(subject, Action::Pull)
        .await
        .map_err(|e| registry_auth_error(e, |_| String::new()))?;
    let projects = match candidates {
        Candidates::Any => None,
        Candidates::Only(mut projects) => {
            projects.extend(state.registry.public_projects().await?);
            Some(projects)
        }
    };
    let projects = projects.as_ref();
    let mut cursor = last.map(str::to_owned);
    let mut visible: Vec<String> = Vec::new();
    // A backstop: candidates are nearly exact, so names are rarely refused; should many be
    // (a scoped token inside a large project), the page ends short rather than reading on.
    for _ in 0..MAX_CATALOG_BATCHES {
        if visible.len() > wanted {
            break;
        }
        let (names, more) = state
            .registry
            .catalog(projects, Some(page_size), cursor.as_deref())
            .await?;
        let Some(page_last) = names.last().cloned() else {
            break;
        };
        let allowed = state
            .auth
            .pullable(subject, names)
            .await
            .map_err(|e| registry_auth_error(e, |_| String::new()))?;
        let room = wanted + 1 - visible.len();
        visible.extend(allowed.into_iter().take(room));
        if !more {
            break;
        }
        cursor = Some(page_last);
    }
    let followed = visible.len() > wanted;
    visible.truncate(wanted);
    let mut reply = Reply::new(StatusCode::OK);
    if followed && let Some(after) = visible.last() {
        let link = format!(
            "</v2/_catalog?n={wanted}&last={}>; rel=\"next\"",
            url_encode(after)
        );
        reply = reply.header(LINK, link);
    }
    Ok(reply.json(&serde_json::json!({ "repositories": visible })))
}

async fn tags(call: Call) -> ApiResult {
    let name = call.repository()?;
    let (state, name, query) = (&call.state, &name, &call.query);
    let (n, last) = page_query(query)?;
    let (tags, more) = state.registry.tags(name, n, last).await?;
    let mut reply = Reply::new(StatusCode::OK);
    if more
        && let Some(link) = next_link(&format!("/v2/{name}/tags/list"), &tags, tags.len() as u32)
    {
        reply = reply.header(LINK, link);
    }
    Ok(reply.json(&serde_json::json!({ "name": name.as_str(), "tags": tags })))
}

async fn referrers(call: Call) -> ApiResult {
    let name = call.repository()?;
    let subject: Digest = call.parameter().parse()?;
    let (state, name, subject, query) = (&call.state, &name, &subject, &call.query);
    let artifact_type = query
        .get("artifactType")
        .map(String::as_str)
        .filter(|t| !t.is_empty());
    let last = query.get("last").map(String::as_str);
    let (found, more) = state
        .registry
        .referrers(name, subject, artifact_type, last)
        .await?;
    let next = more
        .then(|| found.last().map(|m| m.digest.to_string()))
        .flatten();
    let manifests: Vec<serde_json::Value> = found
        .into_iter()
        .map(|m| {
            let mut descriptor = serde_json::json!({
                "mediaType": m.media_type,
                "digest": m.digest.to_string(),
                "size": m.size,
            });
            if let Some(artifact_type) = m.artifact_type {
                descriptor["artifactType"] = artifact_type.into();
            }
            if let Some(annotations) = m
                .annotations
                .and_then(|a| serde_json::from_str::<serde_json::Value>(&a).ok())
            {
                descriptor["annotations"] = annotations;
            }
            descriptor
        })
        .collect();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": manifests,
    });
    let mut reply = Reply::new(StatusCode::OK);
    if let Some(artifact_type) = artifact_type {
        reply = reply.header(OCI_FILTERS_APPLIED, "artifactType");
        if let Some(next) = &next {
            // Any byte that could end the value or the URL (`&`, `#`, space…) is encoded.
            let artifact_type = percent_encoding::utf8_percent_encode(
                artifact_type,
                percent_encoding::NON_ALPHANUMERIC,
            );
            reply = reply.header(
                LINK,
                format!("</v2/{name}/referrers/{subject}?artifactType={artifact_type}&last={next}>; rel=\"next\""),
            );
        }
    } else if let Some(next) = &next {
        reply = reply.header(
            LINK,
            format!("</v2/{name}/referrers/{subject}?last={next}>; rel=\"next\""),
        );
    }
    let bytes = serde_json::to_vec(&index).unwrap_or_default();
    Ok(reply
        .header(CONTENT_TYPE, OCI_INDEX)
        .header(CONTENT_LENGTH, bytes.len().to_string())
        .body(Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each (method, template) has one row, and a sample path of every template parses to a
    /// route with that template: every row is reachable, and none shadows another.
    #[test]
    fn every_row_is_reachable_and_unique() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let mut seen = std::collections::HashSet::new();
        for row in &TABLE {
            assert!(
                seen.insert((row.method.clone(), row.template)),
                "{} {}",
                row.method,
                row.template
            );
            if row.template == TOKEN_PATH {
                continue;
            }
            let path = row
                .template
                .replace("{name}", "p/r")
                .replace("{reference}", "latest")
                .replace("{digest}", &digest)
                .replace("{session}", "abc");
            let route = RegistryRoute::parse(&path).unwrap();
            assert_eq!(route.template(), row.template, "{path}");
            assert_eq!(
                route.repository().is_some(),
                matches!(row.needs, Needs::Repository(_)),
                "{path}: a repository action needs a repository and only it does"
            );
        }
    }
}
