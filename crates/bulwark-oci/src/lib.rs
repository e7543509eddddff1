//! The vocabulary of the OCI Distribution Specification v1.1, with no I/O and no HTTP.
//!
//! Everything that arrives from a client (digests, repository names, tags, manifests, request
//! paths) is parsed here once into a validated type; the rest of Bulwark never handles the
//! raw strings. This crate must never depend on storage, on a runtime or on an HTTP stack:
//! it is the layer every front end and service can share.

pub mod context;
pub mod digest;
pub mod error_code;
pub mod manifest;
pub mod name;
pub mod route;

pub use context::RequestContext;
pub use digest::{Digest, DigestAlgorithm, DigestError, DigestHasher};
pub use error_code::ErrorCode;
pub use manifest::{Descriptor, ManifestError, ManifestKind, ParsedManifest, ReferenceKind};
pub use name::{NameError, Reference, RepositoryName, Tag};
pub use route::{RegistryRoute, RouteError};
