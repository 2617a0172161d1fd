//! The one layer in front of every route of the master: the CORS answers for cross-origin reads
//! (`drover_ui`'s rules), the HA gate (a non-leader's redirect, a deposed master's refusal:
//! [`Leadership::gate`]) and the request extensions the handlers read (the leadership, the
//! agents' principals, the ACLs).
//!
//! It used to be five layers (two `axum::middleware::from_fn` and three `Extension`s). Each
//! `from_fn` clones and boxes its inner service and boxes its future on every request; with
//! thousands of agent and scheduler calls a second that plumbing was about a tenth of the
//! master's CPU in G4's profile. This layer decides synchronously and wraps the route's
//! future without boxing.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::acls::Acls;
use crate::auth::AgentPrincipals;
use crate::ha::Leadership;

/// What the front layer holds: shared by every route's copy of it.
#[derive(Debug)]
struct Shared {
    leadership: Leadership,
    principals: Arc<AgentPrincipals>,
    acls: Option<Arc<Acls>>,
}

/// The layer, applied once to the master's router (outermost, so it runs first).
#[derive(Debug, Clone)]
pub struct FrontLayer {
    shared: Arc<Shared>,
}

impl FrontLayer {
    /// The front of a master with this leadership, agents' principals and ACLs.
    pub fn new(
        leadership: Leadership,
        principals: Arc<AgentPrincipals>,
        acls: Option<Arc<Acls>>,
    ) -> FrontLayer {
        FrontLayer {
            shared: Arc::new(Shared {
                leadership,
                principals,
                acls,
            }),
        }
    }
}

impl<S> Layer<S> for FrontLayer {
    type Service = Front<S>;

    fn layer(&self, inner: S) -> Front<S> {
        Front {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// A route behind the front layer.
#[derive(Debug, Clone)]
pub struct Front<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Service<Request> for Front<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = FrontFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // CORS first: a preflight is answered before authentication or the HA gate look at it.
        if let Some(preflight) = drover_ui::read_preflight(&request) {
            return FrontFuture::answered(preflight);
        }
        let read = drover_ui::is_read(&request);
        if let Some(mut answer) = self.shared.leadership.gate(&request) {
            if read {
                drover_ui::allow_read(&mut answer);
            }
            return FrontFuture::answered(answer);
        }
        let extensions = request.extensions_mut();
        extensions.insert(self.shared.leadership.clone());
        extensions.insert(self.shared.principals.clone());
        if let Some(acls) = &self.shared.acls {
            extensions.insert(acls.clone());
        }
        FrontFuture {
            state: State::Route {
                future: self.inner.call(request),
                read,
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The route's answer, marked readable across origins for a GET or HEAD; or the front's
    /// own answer.
    pub struct FrontFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Answered { response: Option<Response> },
        Route { #[pin] future: F, read: bool },
    }
}

impl<F> FrontFuture<F> {
    fn answered(response: Response) -> FrontFuture<F> {
        FrontFuture {
            state: State::Answered {
                response: Some(response),
            },
        }
    }
}

impl<F> Future for FrontFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Answered { response } => {
                // Taken once; hyper never polls a finished future, but a second poll must
                // not panic.
                let response = response
                    .take()
                    .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response());
                Poll::Ready(Ok(response))
            }
            StateProj::Route { future, read } => {
                let Ok(mut response) = std::task::ready!(future.poll(cx));
                if *read {
                    drover_ui::allow_read(&mut response);
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Method, header};
    use axum::routing::any;
    use tower::ServiceExt as _;

    use super::*;
    use crate::ha::LeaderAddress;

    /// A router whose one route says which extensions it was given.
    fn app(acls: Option<Arc<Acls>>) -> Router {
        let own = LeaderAddress {
            host: "m0".into(),
            port: 5050,
        };
        Router::new()
            .route(
                "/seen",
                any(|request: Request| async move {
                    let e = request.extensions();
                    format!(
                        "leadership={} principals={} acls={}",
                        e.get::<Leadership>().is_some(),
                        e.get::<Arc<AgentPrincipals>>().is_some(),
                        e.get::<Arc<Acls>>().is_some()
                    )
                }),
            )
            .layer(FrontLayer::new(
                Leadership::standalone(own, b"{}".to_vec()),
                Arc::default(),
                acls,
            ))
    }

    async fn send(app: Router, method: Method, headers: &[(&str, &str)]) -> (Response, String) {
        let mut request = Request::builder().method(method).uri("/seen");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = app
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (Response::from_parts(parts, Body::empty()), text)
    }

    fn allowed_origin(response: &Response) -> Option<&str> {
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn handlers_get_the_extensions_and_reads_their_cors_header() {
        let (response, seen) = send(app(None), Method::GET, &[]).await;
        assert_eq!(seen, "leadership=true principals=true acls=false");
        assert_eq!(allowed_origin(&response), Some("*"));
        let (response, seen) = send(app(Some(Arc::default())), Method::POST, &[]).await;
        assert_eq!(seen, "leadership=true principals=true acls=true");
        assert_eq!(allowed_origin(&response), None, "writes are never opened");
    }

    #[tokio::test]
    async fn a_reads_preflight_is_answered_before_the_route() {
        let (response, seen) = send(
            app(None),
            Method::OPTIONS,
            &[
                ("Origin", "http://ui.example"),
                ("Access-Control-Request-Method", "GET"),
                ("Access-Control-Request-Headers", "authorization"),
            ],
        )
        .await;
        assert!(response.status().is_success(), "{}", response.status());
        assert_eq!(seen, "", "the route did not run");
        assert_eq!(allowed_origin(&response), Some("*"));
        // A write's preflight goes on to the route, which does not grant it.
        let (response, seen) = send(
            app(None),
            Method::OPTIONS,
            &[
                ("Origin", "http://ui.example"),
                ("Access-Control-Request-Method", "POST"),
            ],
        )
        .await;
        assert_eq!(seen, "leadership=true principals=true acls=false");
        assert_eq!(allowed_origin(&response), None);
    }
}
