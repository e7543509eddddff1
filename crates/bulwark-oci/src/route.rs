//! The registry's URL space, parsed from the right.
//!
//! Repository names contain slashes, so a router cannot match `/v2/{name}/manifests/{ref}`
//! directly. Every `/v2/…` path is parsed here into one [`RegistryRoute`]; the server dispatches
//! on it and the authorization layer reads the repository and action from it, so both always
//! agree on what a request is about.

use crate::name::{NameError, RepositoryName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryRoute {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags { name: RepositoryName },
    /// `/v2/<name>/manifests/<reference>`; the reference is parsed by the handler so that a bad
    /// one gets the error code of its operation.
    Manifest {
        name: RepositoryName,
        reference: String,
    },
    /// `/v2/<name>/blobs/<digest>`
    Blob {
        name: RepositoryName,
        digest: String,
    },
    /// `/v2/<name>/blobs/uploads/`
    UploadStart { name: RepositoryName },
    /// `/v2/<name>/blobs/uploads/<session>`
    Upload {
        name: RepositoryName,
        session: String,
    },
    /// `/v2/<name>/referrers/<digest>`
    Referrers {
        name: RepositoryName,
        digest: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouteError {
    #[error("no registry endpoint at this path")]
    NotFound,
    #[error(transparent)]
    Name(#[from] NameError),
}

impl RegistryRoute {
    /// Parses a request path (which must start with `/v2/`; the query is not part of it).
    pub fn parse(path: &str) -> Result<Self, RouteError> {
        let rest = path.strip_prefix("/v2").ok_or(RouteError::NotFound)?;
        if rest.is_empty() || rest == "/" {
            return Ok(RegistryRoute::Base);
        }
        let rest = rest.strip_prefix('/').ok_or(RouteError::NotFound)?;
        if rest == "_catalog" {
            return Ok(RegistryRoute::Catalog);
        }
        let segments: Vec<&str> = rest.split('/').collect();
        let name_of = |len: usize| -> Result<RepositoryName, RouteError> {
            if len == 0 {
                return Err(RouteError::NotFound);
            }
            Ok(segments[..len].join("/").parse()?)
        };
        let n = segments.len();
        let last = |k: usize| -> Option<&str> { n.checked_sub(k).map(|i| segments[i]) };
        match (last(3), last(2), last(1)) {
            (Some("blobs"), Some("uploads"), Some("")) => Ok(RegistryRoute::UploadStart {
                name: name_of(n - 3)?,
            }),
            (Some("blobs"), Some("uploads"), Some(session)) if !session.is_empty() => {
                Ok(RegistryRoute::Upload {
                    name: name_of(n - 3)?,
                    session: session.to_owned(),
                })
            }
            (_, Some("blobs"), Some("uploads")) => Ok(RegistryRoute::UploadStart {
                name: name_of(n - 2)?,
            }),
            (_, Some("tags"), Some("list")) => Ok(RegistryRoute::Tags {
                name: name_of(n - 2)?,
            }),
            (_, Some("manifests"), Some(reference)) if !reference.is_empty() => {
                Ok(RegistryRoute::Manifest {
                    name: name_of(n - 2)?,
                    reference: reference.to_owned(),
                })
            }
            (_, Some("blobs"), Some(digest)) if !digest.is_empty() => Ok(RegistryRoute::Blob {
                name: name_of(n - 2)?,
                digest: digest.to_owned(),
            }),
            (_, Some("referrers"), Some(digest)) if !digest.is_empty() => {
                Ok(RegistryRoute::Referrers {
                    name: name_of(n - 2)?,
                    digest: digest.to_owned(),
                })
            }
            _ => Err(RouteError::NotFound),
        }
    }

    /// The path template of this route, as the front end's route table and the endpoint
    /// list name it.
    pub fn template(&self) -> &'static str {
        match self {
            RegistryRoute::Base => "/v2/",
            RegistryRoute::Catalog => "/v2/_catalog",
            RegistryRoute::Tags { .. } => "/v2/{name}/tags/list",
            RegistryRoute::Manifest { .. } => "/v2/{name}/manifests/{reference}",
            RegistryRoute::Blob { .. } => "/v2/{name}/blobs/{digest}",
            RegistryRoute::UploadStart { .. } => "/v2/{name}/blobs/uploads/",
            RegistryRoute::Upload { .. } => "/v2/{name}/blobs/uploads/{session}",
            RegistryRoute::Referrers { .. } => "/v2/{name}/referrers/{digest}",
        }
    }

    /// The route's last path parameter: the manifest reference, the blob or subject digest,
    /// or the upload session (unparsed, so each operation answers a bad one with its own
    /// error code); empty for routes without one.
    pub fn parameter(&self) -> &str {
        match self {
            RegistryRoute::Base
            | RegistryRoute::Catalog
            | RegistryRoute::Tags { .. }
            | RegistryRoute::UploadStart { .. } => "",
            RegistryRoute::Manifest { reference, .. } => reference,
            RegistryRoute::Blob { digest, .. } | RegistryRoute::Referrers { digest, .. } => digest,
            RegistryRoute::Upload { session, .. } => session,
        }
    }

    /// The repository the request is about, if any.
    pub fn repository(&self) -> Option<&RepositoryName> {
        match self {
            RegistryRoute::Base | RegistryRoute::Catalog => None,
            RegistryRoute::Tags { name }
            | RegistryRoute::Manifest { name, .. }
            | RegistryRoute::Blob { name, .. }
            | RegistryRoute::UploadStart { name }
            | RegistryRoute::Upload { name, .. }
            | RegistryRoute::Referrers { name, .. } => Some(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(s: &str) -> RepositoryName {
        s.parse().unwrap()
    }

    #[test]
    fn parses_every_endpoint() {
        let cases = [
            ("/v2/", RegistryRoute::Base),
            ("/v2", RegistryRoute::Base),
            ("/v2/_catalog", RegistryRoute::Catalog),
            (
                "/v2/a/b/tags/list",
                RegistryRoute::Tags { name: name("a/b") },
            ),
            (
                "/v2/a/b/manifests/latest",
                RegistryRoute::Manifest {
                    name: name("a/b"),
                    reference: "latest".into(),
                },
            ),
            (
                "/v2/a/blobs/sha256:x",
                RegistryRoute::Blob {
                    name: name("a"),
                    digest: "sha256:x".into(),
                },
            ),
            (
                "/v2/a/b/blobs/uploads/",
                RegistryRoute::UploadStart { name: name("a/b") },
            ),
            (
                "/v2/a/b/blobs/uploads",
                RegistryRoute::UploadStart { name: name("a/b") },
            ),
            (
                "/v2/a/blobs/uploads/123",
                RegistryRoute::Upload {
                    name: name("a"),
                    session: "123".into(),
                },
            ),
            (
                "/v2/a/referrers/sha256:x",
                RegistryRoute::Referrers {
                    name: name("a"),
                    digest: "sha256:x".into(),
                },
            ),
            // Names whose components look like endpoint words are parsed from the right.
            (
                "/v2/blobs/manifests/manifests/v1",
                RegistryRoute::Manifest {
                    name: name("blobs/manifests"),
                    reference: "v1".into(),
                },
            ),
            (
                "/v2/tags/list/tags/list",
                RegistryRoute::Tags {
                    name: name("tags/list"),
                },
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(RegistryRoute::parse(path), Ok(expected), "{path}");
        }
    }

    /// A template filled with sample values parses to a route with that template, carrying
    /// the sample as its parameter: the route table can key on templates.
    #[test]
    fn every_template_names_its_route() {
        let samples = [
            ("/v2/", "/v2/", ""),
            ("/v2/_catalog", "/v2/_catalog", ""),
            ("/v2/p/r/tags/list", "/v2/{name}/tags/list", ""),
            (
                "/v2/p/r/manifests/v1",
                "/v2/{name}/manifests/{reference}",
                "v1",
            ),
            (
                "/v2/p/r/blobs/sha256:x",
                "/v2/{name}/blobs/{digest}",
                "sha256:x",
            ),
            ("/v2/p/r/blobs/uploads/", "/v2/{name}/blobs/uploads/", ""),
            (
                "/v2/p/r/blobs/uploads/s1",
                "/v2/{name}/blobs/uploads/{session}",
                "s1",
            ),
            (
                "/v2/p/r/referrers/sha256:x",
                "/v2/{name}/referrers/{digest}",
                "sha256:x",
            ),
        ];
        for (path, template, parameter) in samples {
            let route = RegistryRoute::parse(path).unwrap();
            assert_eq!(route.template(), template, "{path}");
            assert_eq!(route.parameter(), parameter, "{path}");
            let with_name = template.contains("{name}");
            assert_eq!(route.repository().is_some(), with_name, "{path}");
        }
    }

    #[test]
    fn rejects_unknown_and_invalid() {
        for path in [
            "/v3/",
            "/v2/a",
            "/v2/a/b",
            "/v2/tags/list",
            "/v2/a/manifests/",
            "/v2x",
        ] {
            assert_eq!(
                RegistryRoute::parse(path),
                Err(RouteError::NotFound),
                "{path}"
            );
        }
        assert!(matches!(
            RegistryRoute::parse("/v2/Upper/manifests/x"),
            Err(RouteError::Name(_))
        ));
    }

    proptest! {
        #[test]
        fn never_panics(path in "/v2(/[a-z:_.-]{0,6}){0,6}") {
            let _ = RegistryRoute::parse(&path);
        }
    }
}
