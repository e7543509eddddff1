//! The handlers of the management API's webhook rows, a project's (its owners) and the
//! system's (administrators); the rows are in `management_api::table`. Each authorizes
//! through the one decision point, then calls `bulwark-webhooks`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use bulwark_auth::Action;
use bulwark_webhooks::WebhookRequest;

use crate::AppState;
use crate::access::Caller;
use crate::error::ManagementError;
use crate::governance_api::{on_project, system};
use crate::management_api::{ApiResult, Listing, Paging, created, json_body, ok, page};

/// A webhook or delivery id from the path: one that is not a number names nothing.
fn id(text: &str) -> Result<i64, ManagementError> {
    text.parse().map_err(|_| {
        ManagementError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "not found")
    })
}

fn cursor(after: &str) -> Result<Option<i64>, ManagementError> {
    if after.is_empty() {
        return Ok(None);
    }
    after
        .parse()
        .map(Some)
        .map_err(|_| ManagementError::bad_request("after must be a delivery id"))
}

async fn list(state: &AppState, project: Option<&str>) -> ApiResult {
    ok(Listing {
        items: state.webhooks.list(project).await?,
        next: None,
    })
}

async fn create(
    state: &AppState,
    project: Option<&str>,
    caller: &bulwark_auth::Caller,
    body: &Bytes,
) -> ApiResult {
    let request: WebhookRequest = json_body(body)?;
    created(
        state
            .webhooks
            .create(project, &request, &caller.context.actor)
            .await?,
    )
}

async fn deliveries(
    state: &AppState,
    project: Option<&str>,
    id: i64,
    paging: &Paging,
) -> ApiResult {
    let Paging(p) = paging;
    let limit = p.limit.unwrap_or(100).clamp(1, 100);
    let items = state
        .webhooks
        .deliveries(project, id, cursor(&p.after)?, limit)
        .await?;
    page(items, Some(limit), |d| d.id.to_string())
}

pub(crate) async fn list_project(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ManageProject).await?;
    list(&state, Some(&project)).await
}

pub(crate) async fn create_project(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
    body: Bytes,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ManageProject).await?;
    create(&state, Some(&project), &caller, &body).await
}

pub(crate) async fn delete_project(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((project, webhook)): Path<(String, String)>,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ManageProject).await?;
    ok(state.webhooks.delete(Some(&project), id(&webhook)?).await?)
}

pub(crate) async fn project_deliveries(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((project, webhook)): Path<(String, String)>,
    paging: Paging,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ManageProject).await?;
    deliveries(&state, Some(&project), id(&webhook)?, &paging).await
}

pub(crate) async fn project_redeliver(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((project, webhook, delivery)): Path<(String, String, String)>,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ManageProject).await?;
    ok(state
        .webhooks
        .redeliver(Some(&project), id(&webhook)?, id(&delivery)?)
        .await?)
}

pub(crate) async fn list_system(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult {
    system(&state, &caller).await?;
    list(&state, None).await
}

pub(crate) async fn create_system(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> ApiResult {
    system(&state, &caller).await?;
    create(&state, None, &caller, &body).await
}

pub(crate) async fn delete_system(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(webhook): Path<String>,
) -> ApiResult {
    system(&state, &caller).await?;
    ok(state.webhooks.delete(None, id(&webhook)?).await?)
}

pub(crate) async fn system_deliveries(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(webhook): Path<String>,
    paging: Paging,
) -> ApiResult {
    system(&state, &caller).await?;
    deliveries(&state, None, id(&webhook)?, &paging).await
}

pub(crate) async fn system_redeliver(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((webhook, delivery)): Path<(String, String)>,
) -> ApiResult {
    system(&state, &caller).await?;
    ok(state
        .webhooks
        .redeliver(None, id(&webhook)?, id(&delivery)?)
        .await?)
}
