//! `/metrics`: what this node has served, in the Prometheus text format (OpenMetrics when
//! the scraper asks for it). Requests are counted by route *template*, method and status,
//! never by the path a client sent, so the number of series stays bounded whatever
//! clients request. The scan service and the policy decision point own their metrics;
//! this registry adds them next to the HTTP ones.

use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bulwark_auth::{Action, AuthError, Resource};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::AppState;
use crate::access::Caller;
use crate::management_api::ApiResult;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    method: &'static str,
    route: Cow<'static, str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Answered {
    method: &'static str,
    route: Cow<'static, str>,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthFailure {
    reason: &'static str,
}

type Latency = Family<Route, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms (a cached manifest) to ~65 s (a head held up by a slow store).
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The node's metrics; built once, shared by every request.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<Answered, Counter>,
    latency: Latency,
    received: Family<Route, Counter>,
    sent: Family<Route, Counter>,
    in_flight: Gauge,
    uploads: Gauge,
    auth_failures: Family<AuthFailure, Counter>,
    scan_queue: Gauge,
    audit_backlog: Gauge,
}

impl Metrics {
    /// The HTTP metrics, with the scan service's and the policy decision point's.
    pub fn new(
        scanner: &bulwark_scan::service::Scanner,
        governance: &bulwark_governance::Governance,
    ) -> Metrics {
        let metrics = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            received: Family::default(),
            sent: Family::default(),
            in_flight: Gauge::default(),
            uploads: Gauge::default(),
            auth_failures: Family::default(),
            scan_queue: Gauge::default(),
            audit_backlog: Gauge::default(),
        };
        let mut registry = Registry::default();
        registry.register(
            "bulwark_http_requests",
            "Requests answered, by method, route template and status (499: the client went away first)",
            metrics.requests.clone(),
        );
        registry.register_with_unit(
            "bulwark_http_request_duration",
            "Time from a request's arrival to its response's head (a blob's bytes stream after it)",
            Unit::Seconds,
            metrics.latency.clone(),
        );
        registry.register_with_unit(
            "bulwark_http_received",
            "Request body bytes read, by route template",
            Unit::Bytes,
            metrics.received.clone(),
        );
        registry.register_with_unit(
            "bulwark_http_sent",
            "Response body bytes written, by route template",
            Unit::Bytes,
            metrics.sent.clone(),
        );
        registry.register(
            "bulwark_http_requests_in_flight",
            "Requests being handled now",
            metrics.in_flight.clone(),
        );
        registry.register(
            "bulwark_blob_uploads_in_flight",
            "Requests streaming blob data into the registry now",
            metrics.uploads.clone(),
        );
        registry.register(
            "bulwark_auth_failures",
            "Credentials refused, by why (invalid_credentials, invalid_token, rate_limited, malformed, error)",
            metrics.auth_failures.clone(),
        );
        registry.register(
            "bulwark_scan_queue_depth",
            "Scans waiting or running, on every node (read from the database at each scrape)",
            metrics.scan_queue.clone(),
        );
        registry.register(
            "bulwark_audit_backlog",
            "Audit records this node has accepted and not yet written",
            metrics.audit_backlog.clone(),
        );
        scanner.metrics().register(&mut registry);
        governance.metrics().register(&mut registry);
        // The families above share their values with their registered clones.
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Starts the count of one request; what the returned guard is told at the end, or its
    /// drop (a cancelled request), finishes it.
    pub(crate) fn begin(
        &self,
        method: &Method,
        route: Cow<'static, str>,
        uploads_blob: bool,
    ) -> InFlight<'_> {
        self.in_flight.inc();
        if uploads_blob {
            self.uploads.inc();
        }
        InFlight {
            metrics: self,
            route: Route {
                method: method_label(method),
                route,
            },
            uploads_blob,
            started: Instant::now(),
            done: false,
        }
    }

    /// Counts one refused credential.
    pub(crate) fn auth_failed(&self, error: &AuthError) {
        let reason = match error {
            AuthError::InvalidCredentials => "invalid_credentials",
            AuthError::InvalidToken => "invalid_token",
            AuthError::RateLimited { .. } => "rate_limited",
            AuthError::Unauthenticated | AuthError::Invalid(_) => "malformed",
            _ => "error",
        };
        self.auth_failures
            .get_or_create(&AuthFailure { reason })
            .inc();
    }

    fn encode(&self, open_metrics: bool) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        if open_metrics {
            prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        } else {
            // The classic text format has no end marker.
            prometheus_client::encoding::text::encode_registry(&mut text, &self.registry)?;
        }
        Ok(text)
    }
}

/// A method as a label: the known ones by name, anything else as one value.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// One request being counted.
pub(crate) struct InFlight<'a> {
    metrics: &'a Metrics,
    route: Route,
    uploads_blob: bool,
    started: Instant,
    done: bool,
}

impl InFlight<'_> {
    /// A request body that counts what is read of it.
    pub(crate) fn count_received(&self, body: Body) -> Body {
        if http_body::Body::is_end_stream(&body) {
            return body;
        }
        let counter = self.metrics.received.get_or_create_owned(&self.route);
        Body::new(Counted {
            inner: body,
            counter,
        })
    }

    /// Records the answer; its body counts the bytes sent as they go.
    pub(crate) fn answered(mut self, response: Response) -> Response {
        self.finish(response.status().as_u16());
        if http_body::Body::is_end_stream(response.body()) {
            return response;
        }
        let counter = self.metrics.sent.get_or_create_owned(&self.route);
        response.map(|inner| Body::new(Counted { inner, counter }))
    }

    fn finish(&mut self, status: u16) {
        self.done = true;
        let metrics = self.metrics;
        metrics.in_flight.dec();
        if self.uploads_blob {
            metrics.uploads.dec();
        }
        metrics
            .latency
            .get_or_create(&self.route)
            .observe(self.started.elapsed().as_secs_f64());
        metrics
            .requests
            .get_or_create(&Answered {
                method: self.route.method,
                route: self.route.route.clone(),
                status,
            })
            .inc();
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.finish(499);
        }
    }
}

/// A body that adds the length of each data frame to a counter as it passes.
struct Counted {
    inner: Body,
    counter: Counter,
}

impl http_body::Body for Counted {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.counter.inc_by(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// `GET /metrics`: administrators and system robots holding `*:metrics`.
pub(crate) async fn scrape(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
) -> ApiResult {
    state
        .auth
        .authorize(&caller.subject, Action::ReadMetrics, Resource::System)
        .await?;
    let metrics = &state.metrics;
    match state.scanner.queue_depth().await {
        Ok(depth) => {
            metrics
                .scan_queue
                .set(i64::try_from(depth).unwrap_or(i64::MAX));
        }
        Err(error) => tracing::warn!(%error, "metrics: reading the scan queue's depth failed"),
    }
    metrics
        .audit_backlog
        .set(i64::try_from(state.audit.backlog()).unwrap_or(i64::MAX));
    let open_metrics = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    let text = metrics
        .encode(open_metrics)
        .map_err(|_| crate::error::ManagementError::internal(&"encoding the metrics failed"))?;
    let content_type = if open_metrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    Ok((
        StatusCode::OK,
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        text,
    )
        .into_response())
}
