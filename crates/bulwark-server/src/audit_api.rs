//! `GET /api/v1/audit`: the audit log, newest first, filtered; each caller sees only the
//! records of the projects the one decision point lets it audit.

use axum::extract::{Query, State};
use bulwark_audit::{AuditFilter, RecordView};
use bulwark_auth::policy::Candidates;
use bulwark_auth::{Action, AuthError};
use serde::Deserialize;

use crate::AppState;
use crate::access::Caller;
use crate::error::ManagementError;
use crate::management_api::{ApiResult, Listing, ok};

/// The most records one page holds.
pub(crate) const MAX_AUDIT_PAGE: u32 = 1000;

/// The filters of an audit listing; every one optional.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Records at or after this time (RFC 3339 or a date, UTC).
    since: Option<String>,
    /// Records before this time.
    until: Option<String>,
    /// Only this actor's records (a user or robot name; failed sign-ins read `name (failed)`).
    actor: Option<String>,
    /// Only records about this project.
    project: Option<String>,
    /// A category (`auth`, `pull`, `push`, `delete`, `read`, `change`, `admin`) or a part
    /// of the operation (`/members`).
    action: Option<String>,
    /// `success`, `denied`, `failure` or `cancelled`.
    outcome: Option<String>,
    /// Records per page, 1 to 1000 (default 100).
    limit: Option<u32>,
    /// The `next` of the previous page.
    after: Option<String>,
}

pub(crate) async fn list_audit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ManagementError::bad_request(e.body_text()))?;
    let visible_projects = match state
        .auth
        .candidates(&caller.subject, Action::Audit)
        .await?
    {
        Candidates::Any => None,
        Candidates::Only(projects) if projects.is_empty() => {
            return Err(if caller.subject.is_authenticated() {
                AuthError::Denied
            } else {
                AuthError::Unauthenticated
            }
            .into());
        }
        Candidates::Only(projects) => Some(projects.into_iter().collect()),
    };
    let time = |text: &Option<String>| {
        text.as_deref()
            .map(bulwark_audit::parse_time)
            .transpose()
            .map_err(ManagementError::from)
    };
    let before_seq = query
        .after
        .as_deref()
        .map(|after| {
            after
                .parse::<i64>()
                .map_err(|_| ManagementError::bad_request("after must be the next of a page"))
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_AUDIT_PAGE);
    let filter = AuditFilter {
        since_millis: time(&query.since)?,
        until_millis: time(&query.until)?,
        actor: query.actor,
        project: query.project,
        visible_projects,
        action: query.action,
        outcome: query.outcome,
        before_seq,
        limit,
    };
    let items: Vec<RecordView> = state.audit.list(&filter).await?;
    let next = (items.len() as u32 >= limit)
        .then(|| items.last().map(|record| record.seq.to_string()))
        .flatten();
    ok(Listing { items, next })
}
