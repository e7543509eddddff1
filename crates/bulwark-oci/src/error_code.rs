//! The error codes of the distribution specification, each registered once with its HTTP status.

/// One registered error code. The server renders these as
/// `{"errors":[{"code":…,"message":…,"detail":…}]}` with [`ErrorCode::http_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    /// A `Range`/`Content-Range` that does not fit the upload or blob (416).
    RangeInvalid,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    /// A manifest larger than the registry accepts (413).
    ManifestTooLarge,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    /// A blob larger than the configured maximum (413).
    BlobTooLarge,
    Unauthorized,
    Denied,
    Unsupported,
    /// The content is still referenced and so cannot be deleted (405, the status the spec
    /// allows a registry that refuses a delete).
    Referenced,
    TooManyRequests,
    /// No route matches the path (404).
    NotFound,
    /// The route exists, the method does not (405).
    MethodNotAllowed,
    /// The registry's storage has no room left (507): the operator must act, the client may
    /// retry later.
    StorageFull,
    /// A failure of Bulwark or its storage, never the client's fault (500).
    Internal,
    /// The request took longer than the server allows one to (503; distribution's
    /// `UNAVAILABLE`): the client may retry.
    TimedOut,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "BLOB_UNKNOWN",
            ErrorCode::BlobUploadInvalid | ErrorCode::RangeInvalid => "BLOB_UPLOAD_INVALID",
            ErrorCode::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            ErrorCode::DigestInvalid => "DIGEST_INVALID",
            ErrorCode::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ErrorCode::ManifestInvalid => "MANIFEST_INVALID",
            ErrorCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::NameUnknown | ErrorCode::NotFound => "NAME_UNKNOWN",
            ErrorCode::SizeInvalid | ErrorCode::BlobTooLarge | ErrorCode::ManifestTooLarge => {
                "SIZE_INVALID"
            }
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Denied => "DENIED",
            ErrorCode::Unsupported | ErrorCode::MethodNotAllowed | ErrorCode::Referenced => {
                "UNSUPPORTED"
            }
            ErrorCode::TooManyRequests => "TOOMANYREQUESTS",
            // distribution's generic code; the spec defines none for server faults.
            ErrorCode::StorageFull | ErrorCode::Internal => "UNKNOWN",
            ErrorCode::TimedOut => "UNAVAILABLE",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BlobUnknown
            | ErrorCode::BlobUploadUnknown
            | ErrorCode::ManifestUnknown
            | ErrorCode::NameUnknown
            | ErrorCode::NotFound => 404,
            ErrorCode::BlobUploadInvalid
            | ErrorCode::DigestInvalid
            | ErrorCode::ManifestBlobUnknown
            | ErrorCode::ManifestInvalid
            | ErrorCode::NameInvalid
            | ErrorCode::SizeInvalid => 400,
            ErrorCode::RangeInvalid => 416,
            ErrorCode::ManifestTooLarge | ErrorCode::BlobTooLarge => 413,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Denied => 403,
            ErrorCode::Unsupported | ErrorCode::MethodNotAllowed | ErrorCode::Referenced => 405,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::StorageFull => 507,
            ErrorCode::Internal => 500,
            ErrorCode::TimedOut => 503,
        }
    }

    /// The short human message the spec gives for the code.
    pub fn default_message(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "blob unknown to registry",
            ErrorCode::BlobUploadInvalid => "blob upload invalid",
            ErrorCode::RangeInvalid => "requested range not satisfiable",
            ErrorCode::BlobUploadUnknown => "blob upload unknown to registry",
            ErrorCode::DigestInvalid => "provided digest did not match uploaded content",
            ErrorCode::ManifestBlobUnknown => {
                "manifest references a blob unknown to the repository"
            }
            ErrorCode::ManifestInvalid => "manifest invalid",
            ErrorCode::ManifestUnknown => "manifest unknown",
            ErrorCode::ManifestTooLarge => "manifest too large",
            ErrorCode::NameInvalid => "invalid repository name",
            ErrorCode::NameUnknown => "repository name not known to registry",
            ErrorCode::NotFound => "no such endpoint",
            ErrorCode::SizeInvalid => "provided length did not match content length",
            ErrorCode::BlobTooLarge => "blob larger than this registry accepts",
            ErrorCode::Unauthorized => "authentication required",
            ErrorCode::Denied => "requested access to the resource is denied",
            ErrorCode::Referenced => "content is still referenced",
            ErrorCode::Unsupported => "the operation is unsupported",
            ErrorCode::MethodNotAllowed => "method not allowed on this endpoint",
            ErrorCode::TooManyRequests => "too many requests",
            ErrorCode::StorageFull => {
                "the registry's storage is full; retry after its operator frees space"
            }
            ErrorCode::Internal => "internal error",
            ErrorCode::TimedOut => "the request took too long; try again",
        }
    }
}
