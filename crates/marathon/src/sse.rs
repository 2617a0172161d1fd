//! `GET /v2/events`: Marathon's SSE stream (CRLF framing, `event:`/`data:` lines, heartbeats,
//! `event_type` filters, attached/detached events), plus `id:` lines and `Last-Event-ID`
//! replay from the bus's bounded ring. A stream that falls too far behind is closed, as
//! Marathon does with slow consumers.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use drover_core::marathon::timestamp;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::api::{Api, HEARTBEAT, Query, stream_body};
use crate::driver::now_ms;
use crate::events::EventBus;

/// Publishes `event_stream_detached` when a stream ends, however it ends.
struct Detach {
    events: EventBus,
    remote: String,
}

impl Drop for Detach {
    fn drop(&mut self) {
        self.events.publish(
            "event_stream_detached",
            json!({"remoteAddress": self.remote, "eventType": "event_stream_detached", "timestamp": timestamp(now_ms())}),
        );
    }
}

/// The handler.
pub async fn events(
    State(api): State<Api>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !accept
        .split(',')
        .any(|a| a.trim().starts_with("text/event-stream"))
    {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let q = Query::parse(raw.as_deref());
    let filter: BTreeSet<String> = q.all("event_type").into_iter().map(str::to_owned).collect();
    let last_id = headers
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (missed, mut live) = api.events.subscribe(last_id);
    let remote = addr.ip().to_string();
    api.events.publish(
        "event_stream_attached",
        json!({"remoteAddress": remote, "eventType": "event_stream_attached", "timestamp": timestamp(now_ms())}),
    );
    let guard = Detach {
        events: api.events.clone(),
        remote,
    };
    let wanted = move |t: &str| filter.is_empty() || filter.contains(t);
    let stream = async_stream(move |tx| async move {
        let _guard = guard;
        let mut sent_up_to = 0;
        for e in missed {
            sent_up_to = e.id;
            if wanted(e.event_type) && tx.send(e.frame()).await.is_err() {
                return;
            }
        }
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        loop {
            tokio::select! {
                received = live.recv() => match received {
                    Ok(e) if e.id <= sent_up_to => {}
                    Ok(e) => {
                        if wanted(e.event_type) && tx.send(e.frame()).await.is_err() {
                            return;
                        }
                    }
                    // Too slow: close rather than silently drop events; the client resumes
                    // with Last-Event-ID.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
                },
                _ = heartbeat.tick() => {
                    if tx.send(Bytes::from_static(b"\r\n")).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut response = stream_body(stream).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream;charset=utf-8"),
    );
    response
}

/// A body stream fed by a task through a small bounded channel; the task ends when the client
/// goes away (sends fail).
fn async_stream<F, Fut>(f: F) -> impl futures::Stream<Item = Result<Bytes, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Bytes>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    futures::StreamExt::map(
        tokio_stream::wrappers::ReceiverStream::new(rx),
        Ok::<Bytes, Infallible>,
    )
}
