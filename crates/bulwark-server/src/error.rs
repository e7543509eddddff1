//! The one place where failures become HTTP responses: an OCI error code, its status, a
//! message, and for some codes extra headers.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bulwark_oci::{DigestError, ErrorCode, NameError, RouteError};
use bulwark_registry::RegistryError;

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
            RegistryError::UploadInterrupted(_) => {
                ApiError::new(ErrorCode::BlobUploadInvalid, message)
            }
            RegistryError::Blobs(blob_error) => internal(&blob_error),
            RegistryError::Metadata(metadata_error) => internal(&metadata_error),
            RegistryError::StorageInconsistent(_) => internal(&message),
        }
    }
}

/// Server-side failures are logged in full and answered without detail: the client cannot
/// act on them and they may describe the deployment.
fn internal(error: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(%error, "request failed on the server side");
    ApiError::code(ErrorCode::Internal)
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
    }
}
