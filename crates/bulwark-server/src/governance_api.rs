//! The handlers of the management API's governance rows (policies, trusted keys,
//! exceptions, VEX, dry runs, promotion); the rows themselves are in the one route table,
//! `management_api::table`. Each handler authorizes through the one decision point, then
//! calls `bulwark-governance`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bulwark_auth::{Action, AuthError, Candidates, Resource};
use bulwark_governance::NewException;
use bulwark_oci::{Reference, RepositoryName, Tag};
use serde::Deserialize;

use crate::AppState;
use crate::access::Caller;
use crate::error::ManagementError;
use crate::management_api::{
    ApiResult, Listing, artifact, created, json_body, no_content, no_such_artifact, ok,
};

/// Largest VEX document accepted (what `bulwark-policy` reads at most).
pub(crate) const VEX_UPLOAD_BYTES: u64 = bulwark_governance::MAX_VEX_BYTES as u64;

fn not_found() -> ManagementError {
    ManagementError::new(StatusCode::NOT_FOUND, "not_found", "not found")
}

/// Allows `action` on `project`, or refuses: 403 when the caller may read the project's
/// reports (its members and auditors), 404 (as for a project that does not exist) when it
/// may not. A project's policy, keys, exceptions and VEX are its members' business, public
/// project or not (a public project's artifacts' dry runs are readable through their
/// repository, like their reports).
pub(crate) async fn on_project(
    state: &AppState,
    caller: &bulwark_auth::Caller,
    project: &str,
    action: Action,
) -> Result<(), ManagementError> {
    match state
        .auth
        .authorize(caller, action, Resource::Project(project))
        .await
    {
        Ok(()) => Ok(()),
        Err(AuthError::Denied | AuthError::InsufficientScope) => {
            let sees = state
                .auth
                .authorize(caller, Action::ReadScans, Resource::Project(project))
                .await
                .is_ok();
            Err(if sees {
                AuthError::Denied.into()
            } else {
                not_found()
            })
        }
        Err(AuthError::NotFound(_)) => Err(not_found()),
        Err(other) => Err(other.into()),
    }
}

pub(crate) async fn system(
    state: &AppState,
    caller: &bulwark_auth::Caller,
) -> Result<(), ManagementError> {
    state
        .auth
        .authorize(caller, Action::ManageSystem, Resource::System)
        .await
        .map_err(Into::into)
}

fn author(caller: &bulwark_auth::Caller) -> &str {
    &caller.context.actor
}

/// A policy document sent to be stored.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyDocument {
    /// The document's text, comments and all.
    pub document: String,
    /// `toml` (the default) or `yaml`.
    #[serde(default)]
    pub format: Option<String>,
}

fn is_yaml(format: Option<&str>) -> Result<bool, ManagementError> {
    match format.unwrap_or("toml") {
        "toml" => Ok(false),
        "yaml" | "yml" => Ok(true),
        other => Err(ManagementError::bad_request(format!(
            "format {other:?}: use toml or yaml"
        ))),
    }
}

fn signed_in(caller: &bulwark_auth::Caller) -> Result<(), ManagementError> {
    if caller.is_authenticated() {
        Ok(())
    } else {
        Err(AuthError::Unauthenticated.into())
    }
}

pub(crate) async fn get_system_policy(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult {
    // Every project lives under it: any signed-in caller may read it.
    signed_in(&caller)?;
    ok(state.governance.policy(None).await?)
}

pub(crate) async fn set_system_policy(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> ApiResult {
    system(&state, &caller).await?;
    let sent: PolicyDocument = json_body(&body)?;
    let yaml = is_yaml(sent.format.as_deref())?;
    ok(state
        .governance
        .set_policy(None, &sent.document, yaml, author(&caller))
        .await?)
}

pub(crate) async fn get_policy(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ReadScans).await?;
    ok(state.governance.policy(Some(&project)).await?)
}

pub(crate) async fn policy_history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ReadScans).await?;
    ok(Listing {
        items: state.governance.policy_history(Some(&project)).await?,
        next: None,
    })
}

pub(crate) async fn set_policy(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
    body: Bytes,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ManageProject).await?;
    let sent: PolicyDocument = json_body(&body)?;
    let yaml = is_yaml(sent.format.as_deref())?;
    ok(state
        .governance
        .set_policy(Some(&project), &sent.document, yaml, author(&caller))
        .await?)
}

/// A public key to trust.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    /// A PEM public key, as `cosign generate-key-pair` writes `cosign.pub` (ECDSA P-256 or
    /// Ed25519).
    pub pem: String,
    /// A name for people.
    #[serde(default)]
    pub name: Option<String>,
}

pub(crate) async fn list_keys(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ReadScans).await?;
    ok(Listing {
        items: state.governance.keys(&project).await?,
        next: None,
    })
}

pub(crate) async fn add_key(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
    body: Bytes,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ManageProject).await?;
    let new: NewKey = json_body(&body)?;
    created(
        state
            .governance
            .add_key(&project, &new.pem, new.name.as_deref(), author(&caller))
            .await?,
    )
}

pub(crate) async fn remove_key(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((project, fingerprint)): Path<(String, String)>,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ManageProject).await?;
    state
        .governance
        .remove_key(&project, &fingerprint, author(&caller))
        .await?;
    no_content()
}

#[derive(Debug, Deserialize)]
pub(crate) struct ExceptionFilter {
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    stale: Option<bool>,
}

pub(crate) async fn list_exceptions(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(filter): Query<ExceptionFilter>,
) -> ApiResult {
    signed_in(&caller)?;
    let stale = filter.stale.unwrap_or(false);
    let projects: Option<Vec<String>> = match &filter.project {
        Some(project) => {
            on_project(&state, &caller, project, Action::ReadScans).await?;
            Some(vec![project.clone()])
        }
        None => match state
            .auth
            .candidates(&caller.subject, Action::ReadScans)
            .await?
        {
            Candidates::Any => None,
            Candidates::Only(candidates) => {
                let mut readable = Vec::new();
                for project in candidates {
                    if state
                        .auth
                        .authorize(&caller, Action::ReadScans, Resource::Project(&project))
                        .await
                        .is_ok()
                    {
                        readable.push(project);
                    }
                }
                Some(readable)
            }
        },
    };
    let mut items = state
        .governance
        .exceptions(projects.as_deref(), true, stale)
        .await?;
    if stale {
        items.retain(|e| e.stale == Some(true));
    }
    ok(Listing { items, next: None })
}

pub(crate) async fn add_exception(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> ApiResult {
    let new: NewException = json_body(&body)?;
    match &new.project {
        Some(project) => on_project(&state, &caller, project, Action::ManageProject).await?,
        None => system(&state, &caller).await?,
    }
    created(
        state
            .governance
            .add_exception(&new, author(&caller))
            .await?,
    )
}

pub(crate) async fn remove_exception(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let record = match state.governance.exception(&id).await {
        Ok(record) => record,
        Err(bulwark_governance::GovernanceError::NotFound) => return Err(not_found()),
        Err(other) => return Err(other.into()),
    };
    match &record.project {
        Some(project) => on_project(&state, &caller, project, Action::ManageProject).await?,
        None => {
            // Who cannot manage the system learns nothing about its exceptions' ids.
            if system(&state, &caller).await.is_err() {
                return Err(not_found());
            }
        }
    }
    state
        .governance
        .remove_exception(&id, author(&caller))
        .await?;
    no_content()
}

pub(crate) async fn list_vex(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ReadScans).await?;
    ok(Listing {
        items: state.governance.vex(&project).await?,
        next: None,
    })
}

pub(crate) async fn upload_vex(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(project): Path<String>,
    request: axum::extract::Request,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ManageProject).await?;
    let mut body = request.into_body().into_data_stream();
    let mut document = Vec::new();
    while let Some(chunk) = futures::StreamExt::next(&mut body).await {
        let chunk =
            chunk.map_err(|e| ManagementError::bad_request(format!("reading the body: {e}")))?;
        if (document.len() + chunk.len()) as u64 > VEX_UPLOAD_BYTES {
            return Err(ManagementError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("VEX documents are limited to {VEX_UPLOAD_BYTES} bytes"),
            ));
        }
        document.extend_from_slice(&chunk);
    }
    created(
        state
            .governance
            .upload_vex(&project, &document, author(&caller))
            .await?,
    )
}

pub(crate) async fn remove_vex(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((project, digest)): Path<(String, String)>,
) -> ApiResult {
    on_project(&state, &caller, &project, Action::ManageProject).await?;
    state
        .governance
        .remove_vex(&project, &digest, author(&caller))
        .await?;
    no_content()
}

#[derive(Debug, Deserialize)]
pub(crate) struct CheckQuery {
    /// Judge under this project's policy instead (a promotion's dry run).
    #[serde(default)]
    project: Option<String>,
}

pub(crate) async fn check_policy(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((repository, reference)): Path<(String, String)>,
    Query(query): Query<CheckQuery>,
) -> ApiResult {
    let digest = artifact(&state, &caller, &repository, &reference, Action::ReadScans).await?;
    if let Some(project) = &query.project {
        on_project(&state, &caller, project, Action::ReadScans).await?;
    }
    let name: RepositoryName = repository.parse().map_err(|_| no_such_artifact())?;
    ok(state
        .governance
        .evaluate(&name, &digest, query.project.as_deref())
        .await?)
}

/// A promotion asked for.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PromotionRequest {
    /// `project/repository:tag` or `project/repository@sha256:…`.
    pub source: String,
    /// `PROJECT[/REPOSITORY][:TAG]`: the repository defaults to the source's path under
    /// the new project, the tag to the source's tag (none when the source is a digest).
    pub destination: String,
}

/// `project/repo:tag` or `project/repo@digest`.
fn split_source(raw: &str) -> Result<(RepositoryName, Reference), ManagementError> {
    let invalid = || {
        ManagementError::bad_request(format!(
            "source {raw:?}: use project/repository:tag or @digest"
        ))
    };
    let (name, reference) = match raw.split_once('@') {
        Some((name, digest)) => (
            name,
            Reference::Digest(digest.parse().map_err(|_| invalid())?),
        ),
        None => {
            let slash = raw.rfind('/').ok_or_else(invalid)?;
            match raw[slash..].rfind(':') {
                Some(colon) => (
                    &raw[..slash + colon],
                    Reference::Tag(raw[slash + colon + 1..].parse().map_err(|_| invalid())?),
                ),
                None => (
                    raw,
                    Reference::Tag("latest".parse().map_err(|_| invalid())?),
                ),
            }
        }
    };
    Ok((name.parse().map_err(|_| invalid())?, reference))
}

fn split_destination(
    raw: &str,
    source: &RepositoryName,
    reference: &Reference,
) -> Result<(RepositoryName, Option<Tag>), ManagementError> {
    let invalid = || {
        ManagementError::bad_request(format!(
            "destination {raw:?}: use PROJECT[/REPOSITORY][:TAG]"
        ))
    };
    let (path, tag) = match raw.rfind(':') {
        Some(colon) if !raw[colon..].contains('/') => (
            &raw[..colon],
            Some(raw[colon + 1..].parse::<Tag>().map_err(|_| invalid())?),
        ),
        _ => (raw, None),
    };
    let path = if path.contains('/') {
        path.to_owned()
    } else {
        let rest = source
            .as_str()
            .split_once('/')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        format!("{path}/{rest}")
    };
    let tag = tag.or_else(|| match reference {
        Reference::Tag(tag) => Some(tag.clone()),
        Reference::Digest(_) => None,
    });
    Ok((path.parse().map_err(|_| invalid())?, tag))
}

pub(crate) async fn promote(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> ApiResult {
    let request: PromotionRequest = json_body(&body)?;
    let (source, reference) = split_source(&request.source)?;
    let (destination, tag) = split_destination(&request.destination, &source, &reference)?;
    // Pulling the source: who may not even read it is told it does not exist.
    let source_reference = match &reference {
        Reference::Tag(tag) => tag.to_string(),
        Reference::Digest(digest) => digest.to_string(),
    };
    artifact(
        &state,
        &caller,
        source.as_str(),
        &source_reference,
        Action::Pull,
    )
    .await?;
    state
        .auth
        .authorize(
            &caller,
            Action::Push,
            Resource::Repository(destination.as_str()),
        )
        .await?;
    created(
        state
            .governance
            .promote(
                &caller.context,
                &source,
                &reference,
                &destination,
                tag.as_ref(),
            )
            .await?,
    )
}
