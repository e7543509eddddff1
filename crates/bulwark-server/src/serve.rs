//! Accepting connections, with limits on what one client can hold: a cap on open
//! connections, a deadline for each request's head (which also ends keep-alive connections
//! left idle), a deadline for whole requests that carry no blob data, and a bounded drain of
//! request bodies the server refused before reading them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What one connection and one request may take.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections open at once; past this the listener stops accepting (the kernel's
    /// backlog holds the rest) instead of running out of file descriptors.
    pub max_connections: usize,
    /// Time a client has to send a request's head, counted from when the server is ready to
    /// read it: also how long an idle keep-alive connection stays open.
    pub header_read_timeout: Duration,
    /// Time a request that moves no blob data (everything but blob uploads and pulls) may
    /// take from head to response.
    pub request_timeout: Duration,
    /// Requests in flight when shutdown begins get this long to finish.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in flight
/// finish for up to [`ConnectionLimits::shutdown_grace`]. With `tls`, every connection is
/// TLS, its handshake bounded by [`ConnectionLimits::header_read_timeout`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<Arc<crate::tls::Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_read_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors or a connection reset before it was accepted: not the
                // listener's end. Back off a moment rather than spin.
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        stream.set_nodelay(true).ok();
        let connection = Connection {
            builder: builder.clone(),
            router: router.clone(),
            watcher: graceful.watcher(),
            peer,
        };
        // The handshake runs in the connection's task: a slow client holds its own
        // connection slot, never the accept loop.
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        let handshake_time = limits.header_read_timeout;
        tokio::spawn(async move {
            match acceptor {
                None => connection.run(stream, None).await,
                Some(acceptor) => {
                    match tokio::time::timeout(handshake_time, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let identity = crate::tls::peer_identity(stream.get_ref().1);
                            connection.run(stream, identity).await;
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still running at the end of the shutdown grace period were cut off"
        );
    }
    Ok(())
}

/// One accepted connection, ready to serve once its transport is.
struct Connection {
    builder: Arc<Builder<TokioExecutor>>,
    router: Router,
    watcher: hyper_util::server::graceful::Watcher,
    peer: std::net::SocketAddr,
}

impl Connection {
    async fn run<I>(self, io: I, identity: Option<crate::tls::PeerIdentity>)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let peer = self.peer;
        // The peer address feeds the authentication rate limiter and token last-use
        // records; a client certificate's identity, authentication.
        let service = self
            .router
            .map_request(move |request: Request<hyper::body::Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                if let Some(identity) = &identity {
                    request.extensions_mut().insert(identity.clone());
                }
                request
            });
        let connection = self
            .builder
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
            .into_owned();
        if let Err(error) = self.watcher.watch(connection).await {
            tracing::debug!(%peer, %error, "connection ended with an error");
        }
    }
}

/// The most of a refused request's body read and thrown away so that its client can read
/// the answer, and how long that may take.
const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Middleware: when a request is answered with an error before its body was read to the end
/// (too large, no credentials, denied), reads what is left of the body, up to
/// [`DRAIN_LIMIT`], before answering. Clients that write their whole body before reading
/// (Python's `http.client`, Go's) otherwise see the connection reset and never the error.
/// A body larger than that is cut off, and the connection closed after the answer.
pub(crate) async fn drain_refused_bodies(request: Request<Body>, next: Next) -> Response {
    // Nothing to drain without a body (pulls, the hot path): no wrapping.
    if http_body::Body::is_end_stream(request.body()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let (body, mut returned) = ReturnedBody::wrap(body);
    let response = next.run(Request::from_parts(parts, body)).await;
    if response.status().is_client_error() || response.status().is_server_error() {
        // The handler is done with the request; a body it left unfinished came back.
        if let Ok(unread) = returned.try_recv() {
            let mut data = unread.into_data_stream();
            let mut drained = 0u64;
            let drain = async {
                while let Some(Ok(chunk)) = data.next().await {
                    drained += chunk.len() as u64;
                    if drained > DRAIN_LIMIT {
                        break;
                    }
                }
            };
            tokio::time::timeout(DRAIN_TIME, drain).await.ok();
        }
    }
    response
}

/// A request body that, dropped before its end, hands the rest back through a channel.
struct ReturnedBody {
    inner: Option<Body>,
    back: Option<tokio::sync::oneshot::Sender<Body>>,
}

impl ReturnedBody {
    fn wrap(body: Body) -> (Body, tokio::sync::oneshot::Receiver<Body>) {
        let (back, returned) = tokio::sync::oneshot::channel();
        let wrapper = ReturnedBody {
            inner: Some(body),
            back: Some(back),
        };
        (Body::new(wrapper), returned)
    }
}

impl http_body::Body for ReturnedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return std::task::Poll::Ready(None);
        };
        let polled = std::pin::Pin::new(inner).poll_frame(cx);
        if let std::task::Poll::Ready(None) = polled {
            // Read to the end: nothing to hand back.
            self.inner = None;
            self.back = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.as_ref().map_or_else(
            || http_body::SizeHint::with_exact(0),
            http_body::Body::size_hint,
        )
    }
}

impl Drop for ReturnedBody {
    fn drop(&mut self) {
        if let (Some(inner), Some(back)) = (self.inner.take(), self.back.take())
            && !http_body::Body::is_end_stream(&inner)
        {
            back.send(inner).ok();
        }
    }
}

/// Middleware: a request that sends a body but no blob data gets
/// [`ConnectionLimits::request_timeout`] from head to response, so a client cannot hold a
/// handler by trickling a manifest or an API document. Blob uploads may rightly take hours;
/// they are bounded by the idle timeout on their bodies instead. `GET` and `HEAD` send no
/// body: the header-read deadline bounds the client's part, and they are left without a
/// timer of their own, which cost manifest pulls about 5% of their rate.
pub(crate) async fn deadline(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    ) {
        return next.run(request).await;
    }
    let streams_blob = bulwark_oci::RegistryRoute::parse(request.uri().path()).is_ok_and(|route| {
        matches!(
            route,
            bulwark_oci::RegistryRoute::Blob { .. }
                | bulwark_oci::RegistryRoute::Upload { .. }
                | bulwark_oci::RegistryRoute::UploadStart { .. }
        )
    });
    if streams_blob {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%path, "a request ran past its deadline");
            crate::error::timed_out(&path)
        }
    }
}
