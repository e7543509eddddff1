//! Simple signing: cosign's original format (SIGNATURE_SPEC.md), a detached signature over a
//! small JSON payload in the containers/image format (containers-signature(5)):
//!
//! ```json
//! {"critical":{"identity":{"docker-reference":"registry.example/team/app"},
//!              "image":{"docker-manifest-digest":"sha256:…"},
//!              "type":"cosign container image signature"},
//!  "optional":{…}}
//! ```
//!
//! The payload is read as strictly as containers-signature(5) asks: the top level has only
//! `critical` and `optional`; `critical` and its sub-objects have only the members above (an
//! unknown member there is refused, for forward compatibility); a member given twice is
//! ambiguous and refused. `optional` may be an object, `null` (what cosign writes without
//! annotations) or absent; its content is not interpreted.

use crate::digest::ManifestDigest;
use crate::encoding::decode_annotation;
use crate::json::{self, JsonNode, KeyMatch, Members, members};
use crate::{
    COSIGN_SIGNATURE_TYPE, MAX_PAYLOAD_BYTES, MAX_SIGNATURE_BASE64_BYTES, SignatureError,
    SignatureFormat, TrustedKey, Verified, check_size, excerpt,
};

/// Verifies one simple-signing layer: `payload` is the layer blob's bytes, `signature_b64`
/// its `dev.cosignproject.cosign/signature` annotation.
///
/// In order, and stopping at the first failure:
///
/// 1. sizes: payload at most [`MAX_PAYLOAD_BYTES`], annotation at most
///    [`MAX_SIGNATURE_BASE64_BYTES`];
/// 2. the signature over the payload's exact bytes, with `key` (nothing of the payload is
///    parsed before this succeeds);
/// 3. the payload's format and `critical.type` (`cosign container image signature`);
/// 4. `critical.image.docker-manifest-digest` equals `expected_digest` (`sha256:<hex>`);
/// 5. `critical.identity.docker-reference` names `expected_repository`.
///
/// **The repository rule.** The reference is `[host[:port]/]path[:tag][@digest]` (docker's
/// grammar). The tag is ignored: tags move, and the signature binds the digest. A digest, if
/// present, must be `expected_digest`. The host is ignored too, because one registry is
/// reached under many names (load balancers, mirrors, `localhost` in CI) and the digest is
/// what binds the signature to content; the first component counts as a host when it
/// contains `.` or `:` or is `localhost`, as in docker. What remains must equal
/// `expected_repository` exactly (`team/app`), or the reference without tag and digest must
/// (`my.team/app`, whose first component looks like a host). So `registry.example:5000/team/app`,
/// `team/app` and `team/app:v1` all name `team/app`; `team/app2`, `other/team/app` and an empty
/// reference (written by some early cosign releases) do not. The check is what stops a
/// signature made for one repository being copied next to the same image in another.
pub fn verify_simple_signing(
    payload: &[u8],
    signature_b64: &str,
    key: &TrustedKey,
    expected_digest: &str,
    expected_repository: &str,
) -> Result<Verified, SignatureError> {
    let expected = ManifestDigest::parse(expected_digest)?;
    check_repository(expected_repository)?;
    check_size(
        "simple-signing payload",
        "bytes",
        payload.len(),
        MAX_PAYLOAD_BYTES,
    )?;
    let signature = decode_annotation(
        signature_b64,
        "signature annotation",
        MAX_SIGNATURE_BASE64_BYTES,
    )?;
    key.verify_message(payload, &signature)?;

    let claims = Claims::parse(payload)?;
    if claims.kind != COSIGN_SIGNATURE_TYPE {
        return Err(SignatureError::WrongType {
            expected: COSIGN_SIGNATURE_TYPE,
            found: excerpt(&claims.kind),
        });
    }
    if claims.digest != expected.text() {
        return Err(SignatureError::DigestMismatch {
            expected: expected.text(),
            found: excerpt(&claims.digest),
        });
    }
    check_reference(&claims.docker_reference, expected_repository, &expected)?;
    Ok(Verified {
        key_fingerprint: key.fingerprint().to_owned(),
        format: SignatureFormat::SimpleSigning,
        digest: expected.text(),
        docker_reference: Some(claims.docker_reference),
        tlog_entries: 0,
        predicate_type: None,
    })
}

/// The members of `critical` verification reads.
#[derive(Debug)]
struct Claims {
    kind: String,
    digest: String,
    docker_reference: String,
}

fn malformed(reason: impl Into<String>) -> SignatureError {
    SignatureError::MalformedPayload {
        reason: reason.into(),
    }
}

fn duplicate(name: String) -> SignatureError {
    malformed(format!(
        "member {:?} appears more than once (names are compared case-insensitively)",
        excerpt(&name)
    ))
}

fn refuse_unknown(place: &str, unknown: &[&str]) -> Result<(), SignatureError> {
    match unknown.first() {
        Some(name) => Err(malformed(format!(
            "unexpected member {:?} in {place}",
            excerpt(name)
        ))),
        None => Ok(()),
    }
}

fn object<'a>(
    node: Option<&'a JsonNode>,
    place: &str,
) -> Result<&'a [(String, JsonNode)], SignatureError> {
    let node = node.ok_or_else(|| malformed(format!("{place} is missing")))?;
    node.as_object()
        .ok_or_else(|| malformed(format!("{place} is a {}, not an object", node.kind())))
}

fn string(node: Option<&JsonNode>, place: &str) -> Result<String, SignatureError> {
    let node = node.ok_or_else(|| malformed(format!("{place} is missing")))?;
    node.as_str()
        .map(str::to_owned)
        .ok_or_else(|| malformed(format!("{place} is a {}, not a string", node.kind())))
}

impl Claims {
    fn parse(payload: &[u8]) -> Result<Claims, SignatureError> {
        let root = json::parse(payload).map_err(|error| malformed(format!("not JSON: {error}")))?;
        let top = root
            .as_object()
            .ok_or_else(|| malformed(format!("the payload is a {}, not an object", root.kind())))?;

        let Members {
            found: [critical, optional],
            unknown,
        } = members(top, ["critical", "optional"], KeyMatch::IgnoreAsciiCase).map_err(duplicate)?;
        refuse_unknown("the payload", &unknown)?;
        match optional {
            None | Some(JsonNode::Null) | Some(JsonNode::Object(_)) => {}
            Some(other) => {
                return Err(malformed(format!(
                    "optional is a {}, not an object",
                    other.kind()
                )));
            }
        }

        let critical = object(critical, "critical")?;
        let Members {
            found: [kind, image, identity],
            unknown,
        } = members(
            critical,
            ["type", "image", "identity"],
            KeyMatch::IgnoreAsciiCase,
        )
        .map_err(duplicate)?;
        refuse_unknown("critical", &unknown)?;
        let kind = string(kind, "critical.type")?;

        let image = object(image, "critical.image")?;
        let Members {
            found: [digest],
            unknown,
        } = members(image, ["docker-manifest-digest"], KeyMatch::IgnoreAsciiCase)
            .map_err(duplicate)?;
        refuse_unknown("critical.image", &unknown)?;
        let digest = string(digest, "critical.image.docker-manifest-digest")?;

        let identity = object(identity, "critical.identity")?;
        let Members {
            found: [reference],
            unknown,
        } = members(identity, ["docker-reference"], KeyMatch::IgnoreAsciiCase)
            .map_err(duplicate)?;
        refuse_unknown("critical.identity", &unknown)?;
        let docker_reference = string(reference, "critical.identity.docker-reference")?;

        Ok(Claims {
            kind,
            digest,
            docker_reference,
        })
    }
}

/// The caller's repository must itself be a repository path, or an empty expectation would
/// match an empty reference.
fn check_repository(repository: &str) -> Result<(), SignatureError> {
    let valid = !repository.is_empty()
        && repository.split('/').all(|component| {
            !component.is_empty()
                && component
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if valid {
        Ok(())
    } else {
        Err(SignatureError::InvalidRepository {
            found: excerpt(repository),
        })
    }
}

/// A docker reference split as the repository rule reads it.
#[derive(Debug, PartialEq, Eq)]
struct ReferenceParts<'a> {
    /// Host and path, without tag and digest.
    name: &'a str,
    /// The path without a leading host component.
    path: &'a str,
    digest: Option<&'a str>,
}

fn reference_parts(reference: &str) -> ReferenceParts<'_> {
    let (named, digest) = match reference.split_once('@') {
        Some((named, digest)) => (named, Some(digest)),
        None => (reference, None),
    };
    // A `:` after the last `/` starts the tag; one before it is a host's port.
    let name = match named.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => named,
    };
    let path = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => rest,
        _ => name,
    };
    ReferenceParts { name, path, digest }
}

fn check_reference(
    reference: &str,
    expected_repository: &str,
    expected_digest: &ManifestDigest,
) -> Result<(), SignatureError> {
    let parts = reference_parts(reference);
    if let Some(digest) = parts
        .digest
        .filter(|&digest| digest != expected_digest.text())
    {
        return Err(SignatureError::DigestMismatch {
            expected: expected_digest.text(),
            found: excerpt(digest),
        });
    }
    if parts.path == expected_repository || parts.name == expected_repository {
        Ok(())
    } else {
        Err(SignatureError::RepositoryMismatch {
            expected: expected_repository.to_owned(),
            found: excerpt(reference),
        })
    }
}

#[cfg(test)]
mod reference_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const DIGEST: &str = "sha256:bafebd36189ad3688b7b3915ea55d461e0bfcfbdde11e54b0a123999fb6be50f";
    const OTHER_DIGEST: &str =
        "sha256:0000000000000000000000000000000000000000000000000000000000000001";

    fn check(reference: &str, repository: &str) -> Result<(), SignatureError> {
        check_reference(
            reference,
            repository,
            &ManifestDigest::parse(DIGEST).unwrap(),
        )
    }

    #[test]
    fn the_repository_path_matches_with_or_without_host_and_tag() {
        let with_digest = format!("registry.example/team/app@{DIGEST}");
        let with_tag_and_digest = format!("registry.example/team/app:v1@{DIGEST}");
        for reference in [
            "team/app",
            "team/app:v1",
            "registry.example/team/app",
            "registry.example:5000/team/app",
            "registry.example:5000/team/app:v1.2.3",
            "localhost/team/app",
            "localhost:5000/team/app:latest",
            "[::1]:5000/team/app",
            with_digest.as_str(),
            with_tag_and_digest.as_str(),
        ] {
            assert_eq!(check(reference, "team/app"), Ok(()), "{reference}");
        }
    }

    #[test]
    fn another_repository_does_not_match() {
        for reference in [
            "",
            "team",
            "app",
            "team/app2",
            "team/app/sub",
            "other/team/app",
            "registry.example/other/app",
            "registry.example:5000/team",
            "Team/App",
            "team/app/",
        ] {
            assert!(
                matches!(
                    check(reference, "team/app"),
                    Err(SignatureError::RepositoryMismatch { .. })
                ),
                "{reference:?}"
            );
        }
    }

    #[test]
    fn a_first_component_with_a_dot_is_a_host_unless_the_repository_has_it() {
        assert_eq!(check("my.team/app", "my.team/app"), Ok(()));
        assert_eq!(check("registry.example/my.team/app", "my.team/app"), Ok(()));
        assert_eq!(check("my.team/app", "app"), Ok(()));
    }

    #[test]
    fn a_digest_in_the_reference_must_be_the_expected_one() {
        let reference = format!("registry.example/team/app@{OTHER_DIGEST}");
        assert!(matches!(
            check(&reference, "team/app"),
            Err(SignatureError::DigestMismatch { .. })
        ));
    }

    #[test]
    fn reference_parts_split_tag_port_and_digest() {
        assert_eq!(
            reference_parts("registry.example:5000/team/app:v1@sha256:ab"),
            ReferenceParts {
                name: "registry.example:5000/team/app",
                path: "team/app",
                digest: Some("sha256:ab"),
            }
        );
        assert_eq!(
            reference_parts("team/app"),
            ReferenceParts {
                name: "team/app",
                path: "team/app",
                digest: None,
            }
        );
    }

    #[test]
    fn the_expected_repository_is_validated() {
        assert_eq!(check_repository("team/app"), Ok(()));
        assert_eq!(check_repository("a"), Ok(()));
        for bad in [
            "",
            "/",
            "team//app",
            "team/app:v1",
            "team/app@x",
            " team/app",
            "team/",
        ] {
            assert!(
                matches!(
                    check_repository(bad),
                    Err(SignatureError::InvalidRepository { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
