//! The one place where failures become HTTP responses: an OCI error code, its status, a
//! message, and for some codes extra headers.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bulwark_auth::AuthError;
use bulwark_governance::GovernanceError;
use bulwark_oci::{DigestError, ErrorCode, NameError, RouteError};
use bulwark_registry::RegistryError;
use bulwark_scan::service::ServiceError;

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Headers some codes carry (`Range` on an out-of-order chunk, `Content-Range` on 416).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn code(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }

    pub fn with_header(mut self, name: HeaderName, value: String) -> Self {
        if let Ok(value) = HeaderValue::from_str(&value) {
            self.headers.push((name, value));
        }
        self
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        let message = error.to_string();
        match error {
            RegistryError::BlobUnknown => ApiError::code(ErrorCode::BlobUnknown),
            RegistryError::BlobUploadUnknown => ApiError::code(ErrorCode::BlobUploadUnknown),
            RegistryError::RangeInvalid { offset } => {
                ApiError::new(ErrorCode::RangeInvalid, message).with_header(
                    HeaderName::from_static("range"),
                    crate::headers::upload_range(offset),
                )
            }
            RegistryError::RangeNotSatisfiable { size } => {
                ApiError::new(ErrorCode::RangeInvalid, message).with_header(
                    HeaderName::from_static("content-range"),
                    format!("bytes */{size}"),
                )
            }
            RegistryError::DigestMismatch { .. } => {
                ApiError::new(ErrorCode::DigestInvalid, message)
            }
            RegistryError::ManifestBlobUnknown(_) => {
                ApiError::new(ErrorCode::ManifestBlobUnknown, message)
            }
            RegistryError::ManifestInvalid(_) => ApiError::new(ErrorCode::ManifestInvalid, message),
            RegistryError::ManifestUnknown => ApiError::code(ErrorCode::ManifestUnknown),
            RegistryError::ManifestTooLarge { .. } => {
                ApiError::new(ErrorCode::ManifestTooLarge, message)
            }
            RegistryError::NameUnknown => ApiError::code(ErrorCode::NameUnknown),
            RegistryError::SizeInvalid(_) => ApiError::new(ErrorCode::SizeInvalid, message),
            RegistryError::BlobTooLarge { .. } => ApiError::new(ErrorCode::BlobTooLarge, message),
            RegistryError::Referenced(_) => ApiError::new(ErrorCode::Referenced, message),
            RegistryError::UploadInterrupted(_) | RegistryError::TooManyChunks { .. } => {
                ApiError::new(ErrorCode::BlobUploadInvalid, message)
            }
            RegistryError::Blobs(blob_error) if blob_error.is_storage_full() => {
                storage_full(&blob_error)
            }
            RegistryError::Blobs(blob_error) => internal(&blob_error),
            RegistryError::ProjectUnknown(project) => ApiError::new(
                ErrorCode::NameUnknown,
                format!(
                    "project {project} does not exist; create it first (bulwark project create)"
                ),
            ),
            RegistryError::Metadata(metadata_error) if metadata_error.is_storage_full() => {
                storage_full(&metadata_error)
            }
            RegistryError::Metadata(metadata_error) => internal(&metadata_error),
            RegistryError::StorageInconsistent(_) | RegistryError::Injected(_) => {
                internal(&message)
            }
        }
    }
}

/// Server-side failures are logged in full and answered without detail: the client cannot
/// act on them and they may describe the deployment.
pub(crate) fn internal(error: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(%error, "request failed on the server side");
    ApiError::code(ErrorCode::Internal)
}

/// Out of space: logged as the operator's call to act, answered with 507 so that clients
/// report it as such instead of as a registry bug. A staged part that could not be written
/// whole is discarded, so a chunk can be sent again once there is room.
fn storage_full(error: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(%error, "storage is full: free space or grow the volume");
    ApiError::code(ErrorCode::StorageFull)
}

impl From<RouteError> for ApiError {
    fn from(error: RouteError) -> Self {
        match error {
            RouteError::NotFound => ApiError::code(ErrorCode::NotFound),
            RouteError::Name(name_error) => name_error.into(),
        }
    }
}

impl From<NameError> for ApiError {
    fn from(error: NameError) -> Self {
        match error {
            NameError::Digest(digest_error) => digest_error.into(),
            NameError::InvalidTag(_) => {
                ApiError::new(ErrorCode::ManifestInvalid, error.to_string())
            }
            NameError::InvalidName(_) | NameError::NameTooLong => {
                ApiError::new(ErrorCode::NameInvalid, error.to_string())
            }
        }
    }
}

impl From<DigestError> for ApiError {
    fn from(error: DigestError) -> Self {
        ApiError::new(ErrorCode::DigestInvalid, error.to_string())
    }
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    errors: [ErrorEntry<'a>; 1],
}

#[derive(serde::Serialize)]
struct ErrorEntry<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            errors: [ErrorEntry {
                code: self.code.as_str(),
                message: &self.message,
            }],
        };
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        response
            .extensions_mut()
            .insert(crate::observe::AuditNote(format!(
                "{}: {}",
                self.code.as_str(),
                self.message
            )));
        response
    }
}

/// A request that ran past the server's deadline, in the error format of the API it was
/// made to.
pub fn timed_out(path: &str) -> Response {
    if path.starts_with("/v2") {
        ApiError::code(ErrorCode::TimedOut).into_response()
    } else {
        ManagementError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timed_out",
            ErrorCode::TimedOut.default_message(),
        )
        .into_response()
    }
}

/// An access-control failure on a registry route. `challenge` is the `WWW-Authenticate`
/// value that tells the client where to get a token for what it attempted.
pub fn registry_auth_error(
    error: AuthError,
    challenge: impl FnOnce(Option<&str>) -> String,
) -> ApiError {
    let www_authenticate = HeaderName::from_static("www-authenticate");
    match error {
        AuthError::Unauthenticated | AuthError::InvalidCredentials => {
            ApiError::code(ErrorCode::Unauthorized).with_header(www_authenticate, challenge(None))
        }
        AuthError::InvalidToken => ApiError::code(ErrorCode::Unauthorized)
            .with_header(www_authenticate, challenge(Some("invalid_token"))),
        AuthError::InsufficientScope => ApiError::code(ErrorCode::Unauthorized)
            .with_header(www_authenticate, challenge(Some("insufficient_scope"))),
        AuthError::Denied => ApiError::code(ErrorCode::Denied),
        AuthError::RateLimited { retry_after } => ApiError::code(ErrorCode::TooManyRequests)
            .with_header(
                HeaderName::from_static("retry-after"),
                retry_after.as_secs().max(1).to_string(),
            ),
        AuthError::Invalid(message) => ApiError::new(ErrorCode::Unsupported, message),
        AuthError::NotFound(_) => ApiError::code(ErrorCode::NameUnknown),
        AuthError::AlreadyExists(_) | AuthError::Conflict(_) => {
            ApiError::code(ErrorCode::Unsupported)
        }
        AuthError::Internal(message) => internal(&message),
        AuthError::Metadata(error) => internal(&error),
    }
}

/// An error of the management API and the token endpoint:
/// `{"error": {"code": "…", "message": "…"}}` with a fitting status.
#[derive(Debug)]
pub struct ManagementError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ManagementError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ManagementError {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((HeaderName::from_static(name), value));
        }
        self
    }
}

impl From<AuthError> for ManagementError {
    fn from(error: AuthError) -> Self {
        let message = error.to_string();
        match error {
            AuthError::Unauthenticated
            | AuthError::InvalidCredentials
            | AuthError::InvalidToken => {
                ManagementError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).with_header(
                    "www-authenticate",
                    "Basic realm=\"bulwark\", charset=\"UTF-8\"",
                )
            }
            AuthError::Denied | AuthError::InsufficientScope => {
                ManagementError::new(StatusCode::FORBIDDEN, "denied", message)
            }
            AuthError::RateLimited { retry_after } => {
                ManagementError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message)
                    .with_header("retry-after", &retry_after.as_secs().max(1).to_string())
            }
            AuthError::Invalid(_) => {
                ManagementError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
            }
            AuthError::NotFound(_) => {
                ManagementError::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            AuthError::AlreadyExists(_) => {
                ManagementError::new(StatusCode::CONFLICT, "already_exists", message)
            }
            AuthError::Conflict(_) => {
                ManagementError::new(StatusCode::CONFLICT, "conflict", message)
            }
            AuthError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed on the server side");
                ManagementError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
            AuthError::Metadata(detail) => {
                tracing::error!(error = %detail, "request failed on the server side");
                ManagementError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

impl ManagementError {
    /// A failure on the server's side: logged in full, described to the client not at all.
    pub(crate) fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "request failed on the server side");
        ManagementError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl From<RegistryError> for ManagementError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::ManifestUnknown => {
                ManagementError::new(StatusCode::NOT_FOUND, "not_found", "artifact not found")
            }
            other => ManagementError::internal(&other),
        }
    }
}

impl From<ServiceError> for ManagementError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(message) => ManagementError::bad_request(message),
            other => ManagementError::internal(&other),
        }
    }
}

impl From<bulwark_audit::AuditError> for ManagementError {
    fn from(error: bulwark_audit::AuditError) -> Self {
        match error {
            bulwark_audit::AuditError::InvalidFilter(message) => {
                ManagementError::bad_request(message)
            }
            other => ManagementError::internal(&other),
        }
    }
}

impl From<GovernanceError> for ManagementError {
    fn from(error: GovernanceError) -> Self {
        let message = error.to_string();
        match error {
            GovernanceError::Invalid(_) => ManagementError::bad_request(message),
            GovernanceError::NotFound => {
                ManagementError::new(StatusCode::NOT_FOUND, "not_found", "not found")
            }
            GovernanceError::Refused { .. } | GovernanceError::Immutable { .. } => {
                ManagementError::new(StatusCode::FORBIDDEN, "denied", message)
            }
            GovernanceError::Registry(error) => error.into(),
            GovernanceError::Scan(error) => error.into(),
            GovernanceError::Metadata(error) => ManagementError::internal(&error),
        }
    }
}

impl From<bulwark_webhooks::WebhookError> for ManagementError {
    fn from(error: bulwark_webhooks::WebhookError) -> Self {
        use bulwark_webhooks::WebhookError;
        match error {
            WebhookError::Invalid(message) => ManagementError::bad_request(message),
            WebhookError::NotFound => {
                ManagementError::new(StatusCode::NOT_FOUND, "not_found", "not found")
            }
            WebhookError::Metadata(error) => ManagementError::internal(&error),
            error @ WebhookError::Random(_) => ManagementError::internal(&error),
        }
    }
}

impl From<GovernanceError> for ApiError {
    fn from(error: GovernanceError) -> Self {
        let message = error.to_string();
        match error {
            GovernanceError::Refused { .. } | GovernanceError::Immutable { .. } => {
                ApiError::new(ErrorCode::Denied, message)
            }
            GovernanceError::Registry(error) => error.into(),
            GovernanceError::NotFound => ApiError::code(ErrorCode::ManifestUnknown),
            GovernanceError::Invalid(_)
            | GovernanceError::Scan(_)
            | GovernanceError::Metadata(_) => internal(&message),
        }
    }
}

/// The body of every management API error.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub struct ManagementErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code (`not_found`, `denied`, `invalid`…).
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl IntoResponse for ManagementError {
    fn into_response(self) -> Response {
        let note = crate::observe::AuditNote(format!("{}: {}", self.code, self.message));
        let body = ManagementErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        response.extensions_mut().insert(note);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_blobstore::BlobStoreError;

    #[test]
    fn a_full_disk_is_507_and_other_storage_faults_are_500() {
        let full = RegistryError::Blobs(BlobStoreError::Io(std::io::Error::from_raw_os_error(28)));
        let error = ApiError::from(full);
        assert_eq!(error.code.http_status(), 507);
        assert!(error.message.contains("storage is full"));
        let denied = RegistryError::Blobs(BlobStoreError::Io(
            std::io::ErrorKind::PermissionDenied.into(),
        ));
        assert_eq!(ApiError::from(denied).code.http_status(), 500);
    }
}
