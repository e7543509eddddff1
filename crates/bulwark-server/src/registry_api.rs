//! The OCI Distribution API (`/v2/…`): one dispatcher over [`RegistryRoute`], one function per
//! operation.

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
use bulwark_auth::{Action, AuthError, PullCandidates, Resource, Subject};
use bulwark_oci::{Digest, ErrorCode, Reference, RegistryRoute, RepositoryName, Tag};
use bulwark_registry::RegistryError;
use bytes::Bytes;
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

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2", any(dispatch))
        .route("/v2/", any(dispatch))
        .route("/v2/{*rest}", any(dispatch))
}

/// A response builder that never fails on our own, always-valid header values.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
}

impl Reply {
    fn new(status: StatusCode) -> Self {
        Reply {
            status,
            headers: HeaderMap::new(),
        }
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
        let route = RegistryRoute::parse(uri.path())?;
        let needed = permission(&route, &method)?;
        let scope = challenge_scope(needed, &route, &query);
        let subject = authorized(&state, &headers, &extensions, needed, scope).await?;
        let asked = Asked {
            method: &method,
            query: &query,
            raw_query: uri.query(),
            headers: &headers,
        };
        handle(&state, &subject, route, asked, body).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// What a registry request needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needed<'a> {
    /// `GET /v2/`: any authenticated caller (the client's probe for how to authenticate).
    SignedIn,
    /// The catalog: signed in; the listing is filtered per repository.
    Catalog,
    Repository(Action, &'a RepositoryName),
}

/// The access each registry endpoint needs, and the methods each route accepts. Methods are
/// checked before credentials: a 405 reveals nothing about content.
pub(crate) fn permission<'a>(
    route: &'a RegistryRoute,
    method: &Method,
) -> Result<Needed<'a>, ApiError> {
    let is = |methods: &[Method]| methods.contains(method);
    match route {
        RegistryRoute::Base if is(&[Method::GET, Method::HEAD]) => Ok(Needed::SignedIn),
        RegistryRoute::Base => Err(method_not_allowed("GET, HEAD")),
        RegistryRoute::Catalog if is(&[Method::GET]) => Ok(Needed::Catalog),
        RegistryRoute::Catalog => Err(method_not_allowed("GET")),
        RegistryRoute::Tags { name } | RegistryRoute::Referrers { name, .. }
            if is(&[Method::GET]) =>
        {
            Ok(Needed::Repository(Action::Pull, name))
        }
        RegistryRoute::Tags { .. } | RegistryRoute::Referrers { .. } => {
            Err(method_not_allowed("GET"))
        }
        RegistryRoute::Manifest { name, .. } => match *method {
            Method::GET | Method::HEAD => Ok(Needed::Repository(Action::Pull, name)),
            Method::PUT => Ok(Needed::Repository(Action::Push, name)),
            Method::DELETE => Ok(Needed::Repository(Action::Delete, name)),
            _ => Err(method_not_allowed("GET, HEAD, PUT, DELETE")),
        },
        RegistryRoute::Blob { name, .. } => match *method {
            Method::GET | Method::HEAD => Ok(Needed::Repository(Action::Pull, name)),
            Method::DELETE => Ok(Needed::Repository(Action::Delete, name)),
            _ => Err(method_not_allowed("GET, HEAD, DELETE")),
        },
        RegistryRoute::UploadStart { name } if is(&[Method::POST]) => {
            Ok(Needed::Repository(Action::Push, name))
        }
        RegistryRoute::UploadStart { .. } => Err(method_not_allowed("POST")),
        RegistryRoute::Upload { name, .. }
            if is(&[Method::GET, Method::PATCH, Method::PUT, Method::DELETE]) =>
        {
            Ok(Needed::Repository(Action::Push, name))
        }
        RegistryRoute::Upload { .. } => Err(method_not_allowed("GET, PATCH, PUT, DELETE")),
    }
}

/// Authenticates the caller and asks the one decision point for what the request needs.
/// The scope a 401 challenge names: what the client should ask a token for to make this
/// request. A cross-repository mount also needs pull on its source, or a token-using client
/// would never get a real mount (its token could not read the source).
fn challenge_scope(
    needed: Needed<'_>,
    route: &RegistryRoute,
    query: &HashMap<String, String>,
) -> Option<String> {
    let mut scope = match needed {
        Needed::SignedIn => return None,
        Needed::Catalog => return Some("registry:catalog:*".to_owned()),
        Needed::Repository(action, name) => format!(
            "repository:{name}:{}",
            match action {
                Action::Push => "pull,push",
                Action::Delete => "delete",
                _ => "pull",
            }
        ),
    };
    if let RegistryRoute::UploadStart { name } = route
        && query.contains_key("mount")
        && let Some(Ok(from)) = query.get("from").map(|from| from.parse::<RepositoryName>())
        && &from != name
    {
        scope.push_str(&format!(" repository:{from}:pull"));
    }
    Some(scope)
}

async fn authorized(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
    needed: Needed<'_>,
    scope: Option<String>,
) -> Result<Subject, ApiError> {
    let challenge = |error: Option<&str>| {
        crate::access::bearer_challenge(state, headers, scope.as_deref(), error)
    };
    let subject = match crate::access::authenticate(state, headers, extensions).await {
        Ok(subject) => subject,
        Err(error) => return Err(registry_auth_error(error, challenge)),
    };
    let decision = match needed {
        Needed::SignedIn if subject.is_authenticated() => Ok(()),
        Needed::SignedIn => Err(AuthError::Unauthenticated),
        Needed::Catalog => {
            state
                .auth
                .authorize(&subject, Action::Catalog, Resource::System)
                .await
        }
        Needed::Repository(action, name) => {
            state
                .auth
                .authorize(&subject, action, Resource::Repository(name.as_str()))
                .await
        }
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

fn method_not_allowed(allow: &str) -> ApiError {
    ApiError::code(ErrorCode::MethodNotAllowed)
        .with_header(axum::http::header::ALLOW, allow.to_owned())
}

/// What a request asks, besides its route and body.
struct Asked<'a> {
    method: &'a Method,
    query: &'a HashMap<String, String>,
    /// The query as sent, for parameters that may repeat (`tag`).
    raw_query: Option<&'a str>,
    headers: &'a HeaderMap,
}

async fn handle(
    state: &AppState,
    subject: &Subject,
    route: RegistryRoute,
    asked: Asked<'_>,
    body: Body,
) -> ApiResult {
    let Asked {
        method,
        query,
        raw_query,
        headers,
    } = asked;
    let registry = &state.registry;
    match route {
        RegistryRoute::Base => match *method {
            Method::GET | Method::HEAD => {
                Ok(Reply::new(StatusCode::OK).json(&serde_json::json!({})))
            }
            _ => Err(method_not_allowed("GET, HEAD")),
        },
        RegistryRoute::Catalog => match *method {
            Method::GET => catalog(state, subject, query).await,
            _ => Err(method_not_allowed("GET")),
        },
        RegistryRoute::Tags { name } => match *method {
            Method::GET => tags(state, &name, query).await,
            _ => Err(method_not_allowed("GET")),
        },
        RegistryRoute::Manifest { name, reference } => match *method {
            Method::GET | Method::HEAD => {
                let reference = parse_lookup_reference(&reference)?;
                get_manifest(state, &name, &reference, *method == Method::HEAD).await
            }
            Method::PUT => {
                let reference: Reference = reference.parse()?;
                let also_tag = tag_parameters(raw_query)?;
                put_manifest(state, &name, &reference, &also_tag, headers, body).await
            }
            Method::DELETE => {
                let reference = parse_lookup_reference(&reference)?;
                registry.delete_manifest(&name, &reference).await?;
                Ok(Reply::new(StatusCode::ACCEPTED).empty())
            }
            _ => Err(method_not_allowed("GET, HEAD, PUT, DELETE")),
        },
        RegistryRoute::Blob { name, digest } => {
            let digest: Digest = digest.parse()?;
            match *method {
                Method::GET => get_blob(state, &name, &digest, headers).await,
                Method::HEAD => {
                    let size = registry.blob_size(&name, &digest).await?;
                    Ok(blob_reply(StatusCode::OK, &digest)
                        .header(CONTENT_LENGTH, size.to_string())
                        .body(Body::empty()))
                }
                Method::DELETE => {
                    registry.delete_blob(&name, &digest).await?;
                    Ok(Reply::new(StatusCode::ACCEPTED).empty())
                }
                _ => Err(method_not_allowed("GET, HEAD, DELETE")),
            }
        }
        RegistryRoute::UploadStart { name } => match *method {
            Method::POST => start_upload(state, subject, &name, query, headers, body).await,
            _ => Err(method_not_allowed("POST")),
        },
        RegistryRoute::Upload { name, session } => match *method {
            Method::GET => {
                let status = registry.upload_status(&name, &session).await?;
                Ok(upload_reply(
                    StatusCode::NO_CONTENT,
                    &name,
                    &status.session,
                    status.offset,
                )
                .empty())
            }
            Method::PATCH => {
                let (start, length) = chunk_bounds(headers)?;
                let status = registry
                    .append(&name, &session, start, length, body_stream(body))
                    .await?;
                Ok(
                    upload_reply(StatusCode::ACCEPTED, &name, &status.session, status.offset)
                        .empty(),
                )
            }
            Method::PUT => {
                let digest = required_digest(query)?;
                let (start, length) = chunk_bounds(headers)?;
                registry
                    .complete(&name, &session, &digest, start, length, body_stream(body))
                    .await?;
                Ok(blob_created(&name, &digest))
            }
            Method::DELETE => {
                registry.cancel_upload(&name, &session).await?;
                Ok(Reply::new(StatusCode::NO_CONTENT).empty())
            }
            _ => Err(method_not_allowed("GET, PATCH, PUT, DELETE")),
        },
        RegistryRoute::Referrers { name, digest } => match *method {
            Method::GET => {
                let digest: Digest = digest.parse()?;
                referrers(state, &name, &digest, query).await
            }
            _ => Err(method_not_allowed("GET")),
        },
    }
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

async fn get_blob(
    state: &AppState,
    name: &RepositoryName,
    digest: &Digest,
    headers: &HeaderMap,
) -> ApiResult {
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

async fn start_upload(
    state: &AppState,
    subject: &Subject,
    name: &RepositoryName,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult {
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

async fn get_manifest(
    state: &AppState,
    name: &RepositoryName,
    reference: &Reference,
    head_only: bool,
) -> ApiResult {
    let manifest = state.registry.manifest(name, reference).await?;
    let reply = Reply::new(StatusCode::OK)
        .header(CONTENT_TYPE, &manifest.media_type)
        .header(CONTENT_LENGTH, manifest.content.len().to_string())
        .header(DOCKER_CONTENT_DIGEST, manifest.digest.to_string())
        .header(ETAG, format!("\"{}\"", manifest.digest));
    Ok(if head_only {
        reply.body(Body::empty())
    } else {
        reply.body(Body::from(manifest.content))
    })
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

async fn put_manifest(
    state: &AppState,
    name: &RepositoryName,
    reference: &Reference,
    also_tag: &[Tag],
    headers: &HeaderMap,
    body: Body,
) -> ApiResult {
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
    let outcome = state
        .registry
        .put_manifest(name, reference, also_tag, content_type, content)
        .await?;
    let mut reply = Reply::new(StatusCode::CREATED)
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
async fn catalog(
    state: &AppState,
    subject: &Subject,
    query: &HashMap<String, String>,
) -> ApiResult {
    let (n, last) = page_query(query)?;
    let page_size = state.registry.limits().max_page_size;
    let wanted = n.unwrap_or(page_size).min(page_size) as usize;
    // Only where the caller may pull is read: the store narrows the listing to those
    // projects (and public ones), and the decision point judges each name it returns.
    let candidates = state
        .auth
        .pull_candidates(subject)
        .await
        .map_err(|e| registry_auth_error(e, |_| String::new()))?;
    let projects = match candidates {
        PullCandidates::Any => None,
        PullCandidates::Only(mut projects) => {
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

async fn tags(
    state: &AppState,
    name: &RepositoryName,
    query: &HashMap<String, String>,
) -> ApiResult {
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

async fn referrers(
    state: &AppState,
    name: &RepositoryName,
    subject: &Digest,
    query: &HashMap<String, String>,
) -> ApiResult {
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

/// Every registry endpoint, as (method, path template). [`permission`] accepts exactly these
/// (a unit test holds the two together) and the authorization matrix test walks this list.
pub const ENDPOINTS: &[(&str, &str)] = &[
    ("GET", "/v2/"),
    ("HEAD", "/v2/"),
    ("GET", "/v2/_catalog"),
    ("GET", "/v2/{name}/tags/list"),
    ("GET", "/v2/{name}/manifests/{reference}"),
    ("HEAD", "/v2/{name}/manifests/{reference}"),
    ("PUT", "/v2/{name}/manifests/{reference}"),
    ("DELETE", "/v2/{name}/manifests/{reference}"),
    ("GET", "/v2/{name}/blobs/{digest}"),
    ("HEAD", "/v2/{name}/blobs/{digest}"),
    ("DELETE", "/v2/{name}/blobs/{digest}"),
    ("POST", "/v2/{name}/blobs/uploads/"),
    ("GET", "/v2/{name}/blobs/uploads/{session}"),
    ("PATCH", "/v2/{name}/blobs/uploads/{session}"),
    ("PUT", "/v2/{name}/blobs/uploads/{session}"),
    ("DELETE", "/v2/{name}/blobs/uploads/{session}"),
    ("GET", "/v2/{name}/referrers/{digest}"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_accepts_exactly_the_listed_endpoints() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let templates = [
            ("/v2/", "/v2/".to_owned()),
            ("/v2/_catalog", "/v2/_catalog".to_owned()),
            ("/v2/{name}/tags/list", "/v2/p/r/tags/list".to_owned()),
            (
                "/v2/{name}/manifests/{reference}",
                "/v2/p/r/manifests/latest".to_owned(),
            ),
            (
                "/v2/{name}/blobs/{digest}",
                format!("/v2/p/r/blobs/{digest}"),
            ),
            (
                "/v2/{name}/blobs/uploads/",
                "/v2/p/r/blobs/uploads/".to_owned(),
            ),
            (
                "/v2/{name}/blobs/uploads/{session}",
                "/v2/p/r/blobs/uploads/abc".to_owned(),
            ),
            (
                "/v2/{name}/referrers/{digest}",
                format!("/v2/p/r/referrers/{digest}"),
            ),
        ];
        for (template, path) in templates {
            let route = RegistryRoute::parse(&path).unwrap();
            for method in ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"] {
                let listed = ENDPOINTS.contains(&(method, template));
                let accepted = permission(&route, &method.parse().unwrap()).is_ok();
                assert_eq!(listed, accepted, "{method} {template}");
            }
        }
    }
}
