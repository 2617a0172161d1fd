//! Serving a router on a [`Guarded`] listener with per-connection request tracking: each
//! request holds an [`InFlight`] token of its connection until its response body ends, so the
//! guard's idle timeout closes only keep-alive connections between requests, never one that
//! carries a subscription, an SSE stream or an agent session.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tower::Service;

use crate::guard::{Activity, Guarded, GuardedIo, InFlight, Limits};

/// Serves `app` on `listener` bounded by `limits` until `shutdown` resolves. Requests carry
/// `ConnectInfo<L::Addr>` as `into_make_service_with_connect_info` would add it.
pub async fn serve<L, S, F>(listener: L, limits: Limits, app: S, shutdown: F) -> std::io::Result<()>
where
    L: Listener,
    L::Addr: Clone + Send + Sync + std::fmt::Debug + 'static,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
    F: Future<Output = ()> + Send + 'static,
{
    let listener = Guarded::new(listener, limits);
    axum::serve(listener, Tracking { app })
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves `app` on a TCP listener: in TLS when `tls` is given (the handshake bounded by the
/// header read timeout, see [`crate::tls_listener`]), else in plain text; `TCP_NODELAY` either
/// way. What every daemon's listener goes through.
pub async fn serve_tcp<S, F>(
    listener: tokio::net::TcpListener,
    tls: Option<crate::tls::ServerTls>,
    limits: Limits,
    app: S,
    shutdown: F,
) -> std::io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
    F: Future<Output = ()> + Send + 'static,
{
    match tls {
        Some(tls) => {
            let listener =
                crate::tls_listener::TlsListener::new(listener, tls, limits.header_read_timeout)?;
            serve(listener, limits, app, shutdown).await
        }
        None => {
            // Streams write one small record after another; with Nagle's algorithm each
            // record behind an unacknowledged one waits for the peer's (delayed) ACK.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY");
                }
            });
            serve(listener, limits, app, shutdown).await
        }
    }
}

/// The make-service: one [`Tracked`] service per connection.
#[derive(Clone)]
struct Tracking<S> {
    app: S,
}

impl<'a, L, S> Service<IncomingStream<'a, Guarded<L>>> for Tracking<S>
where
    L: Listener,
    L::Addr: Clone + Send + Sync + 'static,
    S: Clone + Send + 'static,
{
    type Response = Tracked<S, L::Addr>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: IncomingStream<'a, Guarded<L>>) -> Self::Future {
        let io: &GuardedIo<L::Io> = stream.io();
        std::future::ready(Ok(Tracked {
            app: self.app.clone(),
            activity: io.activity(),
            remote: stream.remote_addr().clone(),
        }))
    }
}

/// One connection's service: marks each request in flight until its response body ends.
#[derive(Clone)]
struct Tracked<S, A> {
    app: S,
    activity: Arc<Activity>,
    remote: A,
}

impl<S, A> Service<Request> for Tracked<S, A>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
    A: Clone + Send + Sync + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.app.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        request
            .extensions_mut()
            .insert(ConnectInfo(self.remote.clone()));
        // Taken before the handler runs, so a handler that waits (a long poll) is not idle.
        let token = self.activity.start();
        let response = self.app.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| {
                Body::new(TrackedBody {
                    body,
                    _token: token,
                })
            }))
        })
    }
}

/// A response body that ends its request's [`InFlight`] when it is dropped (written or
/// abandoned).
struct TrackedBody {
    body: Body,
    _token: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
