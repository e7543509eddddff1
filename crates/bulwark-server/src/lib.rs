//! Bulwark's HTTP front end. Only this crate knows HTTP: it parses requests into
//! [`bulwark_oci::RegistryRoute`]s, calls the [`bulwark_registry::Registry`], and renders
//! results and errors (the latter in one place, [`error`]).

mod access;
mod audit_api;
pub mod error;
mod governance_api;
mod headers;
mod management_api;
mod metrics;
mod observe;
mod registry_api;
mod serve;
mod tls;
mod webhooks_api;

pub use metrics::Metrics;
pub use registry_api::Needs as RegistryNeeds;
pub use serve::{ConnectionLimits, serve};
pub use tls::{PeerIdentity, Tls, TlsError, TlsFiles};

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request};
use bulwark_auth::Auth;
use bulwark_registry::Registry;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub registry: Registry,
    pub auth: Auth,
    pub scanner: bulwark_scan::service::Scanner,
    /// Policies, trusted keys, exceptions, VEX: what pulls, tag changes and promotions obey.
    pub governance: bulwark_governance::Governance,
    /// The URL clients reach this registry at (scheme, host, port), used in token realms;
    /// `None` = the `Host` the client addressed, over https when [`AppState::serves_tls`].
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed when they are the peer.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where every request's record goes.
    pub audit: bulwark_audit::AuditLog,
    /// Whether successful reads (pulls, API reads) are recorded too; refusals always are.
    pub audit_reads: bool,
    /// What `/metrics` reports.
    pub metrics: std::sync::Arc<Metrics>,
    /// Webhook subscriptions and their delivery logs.
    pub webhooks: bulwark_webhooks::Webhooks,
    /// Whether this server speaks TLS itself: token realms it names are `https://` then.
    pub serves_tls: bool,
}

/// Every endpoint of every front end, as (method, path template), from their route tables:
/// the list the authorization matrix walks.
pub fn endpoints() -> Vec<(&'static str, &'static str)> {
    registry_api::TABLE
        .iter()
        .map(|row| (row.method.as_str(), row.template))
        .chain(management_api::endpoints())
        .collect()
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP surface, with its cross-cutting layers; `request_timeout` bounds every
/// request that moves no blob data.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        let request_id = request
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        // The path, never the query: query strings can carry credentials in other APIs.
        tracing::info_span!(
            "request",
            id = %request_id,
            method = %request.method(),
            path = %request.uri().path(),
        )
    });
    registry_api::routes()
        .merge(management_api::routes())
        // After routing, so that the record names the route's template.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            request_timeout,
            serve::deadline,
        ))
        .layer(axum::middleware::from_fn(serve::drain_refused_bodies))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("docker-distribution-api-version"),
            HeaderValue::from_static("registry/2.0"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
