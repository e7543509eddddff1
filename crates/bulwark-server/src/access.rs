//! Who is calling: credentials from the `Authorization` header (or the token endpoint's
//! form, or a verified client certificate), resolved by [`bulwark_auth::Auth`], and the
//! registry token endpoint itself.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bulwark_auth::{AuthError, Credentials, Subject};

use crate::AppState;
use crate::error::ManagementError;
use crate::tls::PeerIdentity;

/// The client's address as the rate limiter and token records see it: the peer, or, when
/// the peer is a trusted proxy, the nearest `X-Forwarded-For` hop that is not one.
/// An IPv6 client is keyed by its /64, the block one subscriber usually holds: otherwise
/// rotating through its 2^64 addresses would dodge every per-address limit.
pub fn client_address(
    trusted_proxies: &[IpAddr],
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> String {
    // Compared in canonical form: on a dual-stack listener an IPv4 peer arrives as
    // `::ffff:a.b.c.d`, and must still match a proxy configured as `a.b.c.d`.
    let trusted = |address: &IpAddr| {
        trusted_proxies
            .iter()
            .any(|proxy| proxy.to_canonical() == address.to_canonical())
    };
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_canonical());
    let client = match peer {
        Some(peer) if trusted(&peer) => headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .map(|hop| hop.to_canonical())
            .rev()
            .find(|hop| !trusted(hop))
            .or(Some(peer)),
        other => other,
    };
    match client {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => "unknown".to_owned(),
    }
}

/// The credentials in an `Authorization` header. A header we cannot read is an invalid
/// credential, not an anonymous request: a client that meant to authenticate must learn it
/// failed.
pub fn credentials_from(headers: &HeaderMap) -> Result<Option<(String, String)>, AuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AuthError::InvalidCredentials)?;
    let (scheme, rest) = value.split_once(' ').ok_or(AuthError::InvalidCredentials)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| AuthError::InvalidCredentials)?;
        let decoded = String::from_utf8(decoded).map_err(|_| AuthError::InvalidCredentials)?;
        let (user, secret) = decoded
            .split_once(':')
            .ok_or(AuthError::InvalidCredentials)?;
        Ok(Some((user.to_owned(), secret.to_owned())))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        // An empty user marks a bearer credential.
        Ok(Some((String::new(), rest.to_owned())))
    } else {
        Err(AuthError::InvalidCredentials)
    }
}

/// The request id [`crate::router`] gave the request (or the one the client sent).
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(crate::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Resolves the caller of a request from `client`, and tells the request's audit record
/// who it is (or whom it claimed to be).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    client: &str,
) -> Result<Subject, AuthError> {
    let resolved = resolve(state, headers, extensions, client).await;
    match &resolved {
        Ok(subject) => crate::observe::note_subject(extensions, subject),
        Err(error) => refused_sign_in(state, extensions, &claimed_name(headers, extensions), error),
    }
    resolved
}

/// A refused credential: counted in the metrics, and named in the request's audit record.
fn refused_sign_in(
    state: &AppState,
    extensions: &axum::http::Extensions,
    claimed: &str,
    error: &AuthError,
) {
    state.metrics.auth_failed(error);
    crate::observe::note_claimed(extensions, claimed);
}

/// The account (or token id) a request's credentials name, read without checking them.
fn claimed_name(headers: &HeaderMap, extensions: &axum::http::Extensions) -> String {
    match credentials_from(headers) {
        Ok(None) => extensions
            .get::<PeerIdentity>()
            .map(|identity| identity.0.clone())
            .unwrap_or_default(),
        Ok(Some((user, secret))) if user.is_empty() => bulwark_auth::secret::parse_token(&secret)
            .map(|(id, _)| format!("token {id}"))
            .unwrap_or_default(),
        Ok(Some((user, _))) => user,
        _ => String::new(),
    }
}

/// An `Authorization` header wins over a client certificate: a client that sends one means
/// that account.
async fn resolve(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    client: &str,
) -> Result<Subject, AuthError> {
    match credentials_from(headers)? {
        None => match extensions.get::<PeerIdentity>() {
            Some(identity) => {
                state
                    .auth
                    .authenticate(Credentials::ClientCertificate(&identity.0), client)
                    .await
            }
            None => Ok(Subject::Anonymous),
        },
        Some((user, secret)) if user.is_empty() => {
            state
                .auth
                .authenticate(Credentials::Bearer(&secret), client)
                .await
        }
        Some((user, secret)) => {
            state
                .auth
                .authenticate(
                    Credentials::Basic {
                        username: &user,
                        secret: &secret,
                    },
                    client,
                )
                .await
        }
    }
}

/// The authenticated caller of a management API request, with the request's context.
pub struct Caller(pub bulwark_auth::Caller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ManagementError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client = client_address(&state.trusted_proxies, &parts.headers, &parts.extensions);
        let subject = authenticate(state, &parts.headers, &parts.extensions, &client).await?;
        Ok(Caller(bulwark_auth::Caller::new(
            subject,
            client,
            request_id(&parts.headers),
        )))
    }
}

/// Where clients fetch registry tokens: the configured public URL, or else the host the
/// client addressed.
pub fn token_realm(state: &AppState, headers: &HeaderMap) -> String {
    match &state.public_url {
        Some(url) => format!("{}/auth/token", url.trim_end_matches('/')),
        None => {
            let host = headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| h.bytes().all(|b| b.is_ascii_graphic() && b != b'"'))
                .unwrap_or("localhost");
            let scheme = if state.serves_tls { "https" } else { "http" };
            format!("{scheme}://{host}/auth/token")
        }
    }
}

/// A `WWW-Authenticate: Bearer …` challenge.
pub fn bearer_challenge(
    state: &AppState,
    headers: &HeaderMap,
    scope: Option<&str>,
    error: Option<&str>,
) -> String {
    let mut challenge = format!(
        "Bearer realm=\"{}\",service=\"{}\"",
        token_realm(state, headers),
        state.auth.config().service
    );
    if let Some(scope) = scope {
        challenge.push_str(&format!(",scope=\"{scope}\""));
    }
    if let Some(error) = error {
        challenge.push_str(&format!(",error=\"{error}\""));
    }
    challenge
}

#[derive(serde::Serialize)]
struct TokenResponse {
    token: String,
    access_token: String,
    expires_in: u64,
}

/// Largest token request form we read.
const TOKEN_FORM_LIMIT: usize = 64 * 1024;

/// `GET /auth/token` (Docker token protocol) and `POST /auth/token` (its OAuth2 form).
pub async fn token_endpoint(
    state: &AppState,
    method: &Method,
    raw_query: Option<&str>,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    client: &str,
    body: Body,
) -> Response {
    let result = async {
        let mut params: Vec<(String, String)> = serde_urlencoded::from_str(raw_query.unwrap_or(""))
            .map_err(|_| ManagementError::bad_request("malformed query string"))?;
        if *method == Method::POST {
            let is_form = headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            if !is_form {
                return Err(ManagementError::bad_request(
                    "POST a application/x-www-form-urlencoded form",
                ));
            }
            let body = axum::body::to_bytes(body, TOKEN_FORM_LIMIT)
                .await
                .map_err(|_| ManagementError::bad_request("the form is too large"))?;
            let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|_| ManagementError::bad_request("malformed form"))?;
            params.extend(form);
        }
        let param = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        if let Some(service) = param("service")
            && service != state.auth.config().service
        {
            return Err(ManagementError::bad_request(format!(
                "this registry's service is {:?}",
                state.auth.config().service
            )));
        }
        let subject = match param("grant_type") {
            Some("password") => {
                let (Some(username), Some(password)) = (param("username"), param("password"))
                else {
                    return Err(ManagementError::bad_request(
                        "the password grant needs username and password",
                    ));
                };
                let resolved = state
                    .auth
                    .authenticate(
                        Credentials::Basic {
                            username,
                            secret: password,
                        },
                        client,
                    )
                    .await;
                match &resolved {
                    Ok(subject) => crate::observe::note_subject(extensions, subject),
                    Err(error) => refused_sign_in(state, extensions, username, error),
                }
                resolved?
            }
            Some(other) => {
                return Err(ManagementError::bad_request(format!(
                    "unsupported grant_type {other:?}: use password, or GET with Basic credentials"
                )));
            }
            None => authenticate(state, headers, extensions, client).await?,
        };
        let scopes: Vec<&str> = params
            .iter()
            .filter(|(k, _)| k == "scope")
            .flat_map(|(_, v)| v.split(' '))
            .filter(|s| !s.is_empty())
            .collect();
        let issued = state.auth.registry_token(&subject, &scopes).await?;
        Ok(axum::Json(TokenResponse {
            access_token: issued.token.clone(),
            token: issued.token,
            expires_in: issued.expires_in,
        }))
    }
    .await;
    match result {
        Ok(json) => json.into_response(),
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn basic_and_bearer_credentials_parse() {
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:pa:ss");
        assert_eq!(
            credentials_from(&with_auth(&format!("Basic {basic}"))).unwrap(),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(
            credentials_from(&with_auth("Bearer abc")).unwrap(),
            Some((String::new(), "abc".into()))
        );
        assert!(credentials_from(&HeaderMap::new()).unwrap().is_none());
    }

    fn peer(ip: &str) -> axum::http::Extensions {
        let mut extensions = axum::http::Extensions::new();
        extensions.insert(ConnectInfo(SocketAddr::new(ip.parse().unwrap(), 1)));
        extensions
    }

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 198.51.100.9, 10.0.0.2"),
        );
        let trusted: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        // From a trusted proxy: the nearest untrusted hop (what the client could not forge).
        assert_eq!(
            client_address(&trusted, &headers, &peer("10.0.0.1")),
            "198.51.100.9"
        );
        // From anyone else the header is the client's own claim and is ignored.
        assert_eq!(
            client_address(&trusted, &headers, &peer("203.0.113.5")),
            "203.0.113.5"
        );
        assert_eq!(client_address(&[], &headers, &peer("10.0.0.1")), "10.0.0.1");
        // A dual-stack listener sees an IPv4 proxy as an IPv4-mapped IPv6 peer.
        assert_eq!(
            client_address(&trusted, &headers, &peer("::ffff:10.0.0.1")),
            "198.51.100.9"
        );
        let mapped: Vec<IpAddr> = vec!["::ffff:10.0.0.1".parse().unwrap()];
        assert_eq!(
            client_address(&mapped, &headers, &peer("10.0.0.1")),
            "10.0.0.2"
        );
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let key = |ip: &str| client_address(&[], &HeaderMap::new(), &peer(ip));
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
    }

    #[test]
    fn unreadable_credentials_are_invalid_not_anonymous() {
        for bad in ["Basic !!!", "Basic", "Digest x", "Basic bm9jb2xvbg=="] {
            assert!(credentials_from(&with_auth(bad)).is_err(), "{bad}");
        }
    }
}
