//! The management REST API under `/api/v1`: users, projects, members, robots and access
//! tokens, JSON in and out. Handlers only translate: every operation authorizes itself inside
//! `bulwark_auth::manage` through the one decision point.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use bulwark_auth::Role;
use bulwark_auth::manage::{
    NewProject, NewRobot, NewUser, PasswordChange, TokenOwnerRef, TokenRequest, UserChanges,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::access::Caller;
use crate::error::ManagementError;

type ApiResult = Result<Response, ManagementError>;

/// Management requests are small JSON documents.
const BODY_LIMIT: usize = 64 * 1024;

/// Every management endpoint, as (method, path template). The router is built from
/// [`table`], which yields exactly these; the authorization matrix test walks this list.
pub const ENDPOINTS: &[(&str, &str)] = &[
    ("GET", "/api/v1/me"),
    ("PUT", "/api/v1/me/password"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users/{user}"),
    ("PATCH", "/api/v1/users/{user}"),
    ("GET", "/api/v1/users/{user}/tokens"),
    ("POST", "/api/v1/users/{user}/tokens"),
    ("GET", "/api/v1/projects"),
    ("POST", "/api/v1/projects"),
    ("GET", "/api/v1/projects/{project}"),
    ("PATCH", "/api/v1/projects/{project}"),
    ("DELETE", "/api/v1/projects/{project}"),
    ("GET", "/api/v1/projects/{project}/members"),
    ("PUT", "/api/v1/projects/{project}/members/{user}"),
    ("DELETE", "/api/v1/projects/{project}/members/{user}"),
    ("GET", "/api/v1/projects/{project}/robots"),
    ("POST", "/api/v1/projects/{project}/robots"),
    ("GET", "/api/v1/robots"),
    ("POST", "/api/v1/robots"),
    ("PATCH", "/api/v1/robots/{robot}"),
    ("DELETE", "/api/v1/robots/{robot}"),
    ("GET", "/api/v1/robots/{robot}/tokens"),
    ("POST", "/api/v1/robots/{robot}/tokens"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{id}"),
    ("POST", "/api/v1/tokens/{id}/rotate"),
];

fn table() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("GET", "/api/v1/me", get(me)),
        ("PUT", "/api/v1/me/password", put(change_password)),
        ("GET", "/api/v1/users", get(list_users)),
        ("POST", "/api/v1/users", post(create_user)),
        ("GET", "/api/v1/users/{user}", get(get_user)),
        ("PATCH", "/api/v1/users/{user}", patch(update_user)),
        ("GET", "/api/v1/users/{user}/tokens", get(list_user_tokens)),
        (
            "POST",
            "/api/v1/users/{user}/tokens",
            post(create_user_token),
        ),
        ("GET", "/api/v1/projects", get(list_projects)),
        ("POST", "/api/v1/projects", post(create_project)),
        ("GET", "/api/v1/projects/{project}", get(get_project)),
        ("PATCH", "/api/v1/projects/{project}", patch(update_project)),
        (
            "DELETE",
            "/api/v1/projects/{project}",
            delete(delete_project),
        ),
        (
            "GET",
            "/api/v1/projects/{project}/members",
            get(list_members),
        ),
        (
            "PUT",
            "/api/v1/projects/{project}/members/{user}",
            put(set_member),
        ),
        (
            "DELETE",
            "/api/v1/projects/{project}/members/{user}",
            delete(remove_member),
        ),
        (
            "GET",
            "/api/v1/projects/{project}/robots",
            get(list_project_robots),
        ),
        (
            "POST",
            "/api/v1/projects/{project}/robots",
            post(create_project_robot),
        ),
        ("GET", "/api/v1/robots", get(list_system_robots)),
        ("POST", "/api/v1/robots", post(create_system_robot)),
        ("PATCH", "/api/v1/robots/{robot}", patch(update_robot)),
        ("DELETE", "/api/v1/robots/{robot}", delete(delete_robot)),
        (
            "GET",
            "/api/v1/robots/{robot}/tokens",
            get(list_robot_tokens),
        ),
        (
            "POST",
            "/api/v1/robots/{robot}/tokens",
            post(create_robot_token),
        ),
        ("GET", "/api/v1/tokens", get(list_own_tokens)),
        ("POST", "/api/v1/tokens", post(create_own_token)),
        ("DELETE", "/api/v1/tokens/{id}", delete(revoke_token)),
        ("POST", "/api/v1/tokens/{id}/rotate", post(rotate_token)),
    ]
}

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for (_, path, handler) in table() {
        router = router.route(path, handler);
    }
    router
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async {
                ManagementError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
            }),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(require_json))
}

/// Changes must say they are JSON. A browser cannot send that cross-site without a CORS
/// preflight (which this API never grants), so a page elsewhere cannot forge a change with
/// credentials the browser remembers.
async fn require_json(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let changes = matches!(
        *request.method(),
        axum::http::Method::POST | axum::http::Method::PUT | axum::http::Method::PATCH
    );
    let is_json = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
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

fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ManagementError> {
    serde_json::from_slice(body)
        .map_err(|e| ManagementError::bad_request(format!("invalid JSON body: {e}")))
}

fn ok(value: impl serde::Serialize) -> ApiResult {
    Ok(axum::Json(value).into_response())
}

fn created(value: impl serde::Serialize) -> ApiResult {
    Ok((StatusCode::CREATED, axum::Json(value)).into_response())
}

fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
struct Page {
    limit: Option<u32>,
    #[serde(default)]
    after: String,
}

/// `?limit=&after=`, with a JSON error when malformed.
struct Paging(Page);

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
fn page<T: serde::Serialize>(
    items: Vec<T>,
    limit: Option<u32>,
    key: impl Fn(&T) -> String,
) -> ApiResult {
    let full = items.len() as u32
        >= limit
            .unwrap_or(100)
            .clamp(1, bulwark_auth::manage::MAX_PAGE);
    let next = if full { items.last().map(&key) } else { None };
    ok(serde_json::json!({ "items": items, "next": next }))
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
    let (projects, next) = state.auth.list_projects(&caller, &p.after, p.limit).await?;
    ok(serde_json::json!({ "items": projects, "next": next }))
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectChanges {
    public: bool,
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
        .set_project_public(&caller, &project, changes.public)
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

#[derive(Debug, Deserialize)]
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

fn robot_created(
    robot: bulwark_auth::manage::RobotView,
    token: bulwark_auth::NewToken,
) -> ApiResult {
    created(serde_json::json!({ "robot": robot, "token": token }))
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

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Default, Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_router_table_and_the_endpoint_list_agree() {
        let built: Vec<(&str, &str)> = table().into_iter().map(|(m, p, _)| (m, p)).collect();
        assert_eq!(built, ENDPOINTS);
    }
}
