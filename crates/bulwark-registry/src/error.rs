use bulwark_oci::Digest;

/// Everything a registry operation can refuse or fail with. The server maps each variant to
/// an OCI error code and HTTP status in one place.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("blob unknown to the repository")]
    BlobUnknown,
    #[error("upload session unknown")]
    BlobUploadUnknown,
    #[error("chunk does not start at the end of the upload (received so far: {offset} bytes)")]
    RangeInvalid { offset: u64 },
    #[error("range not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("content digest {actual} does not match {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("{0}")]
    ManifestBlobUnknown(String),
    #[error("{0}")]
    ManifestInvalid(String),
    #[error("manifest unknown")]
    ManifestUnknown,
    #[error("manifest larger than {limit} bytes")]
    ManifestTooLarge { limit: usize },
    #[error("repository unknown")]
    NameUnknown,
    /// Content was to enter a repository of a project that does not exist.
    #[error("project {0} does not exist")]
    ProjectUnknown(String),
    #[error("{0}")]
    SizeInvalid(String),
    #[error("blob larger than the limit of {limit} bytes")]
    BlobTooLarge { limit: u64 },
    #[error("{0}")]
    Referenced(String),
    #[error("the upload was interrupted: {0}")]
    UploadInterrupted(String),
    #[error(
        "the upload holds {limit} chunks, the most one may have: complete it, or start again in larger chunks"
    )]
    TooManyChunks { limit: u64 },
    #[error("storage is inconsistent: {0}")]
    StorageInconsistent(String),
    /// A test's injected fault (see the `failpoints` feature).
    #[error("injected fault at {0}")]
    Injected(&'static str),
    #[error(transparent)]
    Blobs(#[from] bulwark_blobstore::BlobStoreError),
    #[error(transparent)]
    Metadata(bulwark_metadata::MetadataError),
}

impl From<bulwark_metadata::MetadataError> for RegistryError {
    fn from(error: bulwark_metadata::MetadataError) -> Self {
        match error {
            bulwark_metadata::MetadataError::ProjectMissing(project) => {
                RegistryError::ProjectUnknown(project)
            }
            other => RegistryError::Metadata(other),
        }
    }
}
