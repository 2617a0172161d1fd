//! The checker's HTTP: JSON requests with a deadline (any method: Marathon's PUT and DELETE
//! included), and a Server-Sent Events reader for Marathon's `/v2/events`.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A pooled client.
#[derive(Debug, Clone)]
pub struct Http {
    inner: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

/// Largest SSE event kept (Marathon's events are small; a broken stream must not grow us).
const SSE_EVENT_BYTES_MAX: usize = 1024 * 1024;

impl Http {
    /// A new client.
    pub fn new() -> Http {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(3)));
        Http {
            inner: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(5))
                .build(connector),
        }
    }

    /// Sends a request; returns the status and the body text. Fails on transport errors and
    /// after `timeout`.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<String>,
        timeout: Duration,
    ) -> anyhow::Result<(u16, String)> {
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(url)
            .header("Accept", "application/json");
        if body.is_some() {
            builder = builder.header("Content-Type", "application/json");
        }
        let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let work = async {
            let response = self.inner.request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, String::from_utf8_lossy(&body).into_owned()))
        };
        tokio::time::timeout(timeout, work)
            .await
            .with_context(|| format!("{method} {url} timed out after {timeout:?}"))?
    }

    /// GETs JSON (200 only).
    pub async fn get_json(&self, url: &str) -> anyhow::Result<serde_json::Value> {
        let (status, body) = self.send("GET", url, None, Duration::from_secs(10)).await?;
        anyhow::ensure!(status == 200, "GET {url} answered {status}: {body}");
        Ok(serde_json::from_str(&body)?)
    }

    /// Follows an SSE stream, calling `on_event(event_type, data)` for each event until the
    /// stream ends or fails. One redirect is followed (a Marathon follower sends its event
    /// stream's clients to the leader).
    pub async fn sse(&self, url: &str, mut on_event: impl FnMut(&str, &str)) -> anyhow::Result<()> {
        let mut url = url.to_owned();
        let mut response = self.open_stream(&url).await?;
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .with_context(|| format!("{url} redirected without a Location"))?;
            url = location.to_owned();
            response = self.open_stream(&url).await?;
        }
        anyhow::ensure!(
            response.status().is_success(),
            "{url} answered {}",
            response.status()
        );
        let mut body = response.into_body();
        let mut buffer = String::new();
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            buffer.push_str(&String::from_utf8_lossy(&data));
            buffer = buffer.replace("\r\n", "\n");
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                let mut kind = "message";
                let mut payload = String::new();
                for line in event.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        payload.push_str(v.trim_start());
                    }
                }
                on_event(kind, &payload);
            }
            anyhow::ensure!(
                buffer.len() <= SSE_EVENT_BYTES_MAX,
                "an event of more than {SSE_EVENT_BYTES_MAX} bytes"
            );
        }
        Ok(())
    }

    async fn open_stream(
        &self,
        url: &str,
    ) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
        let request = hyper::Request::builder()
            .uri(url)
            .header("Accept", "text/event-stream")
            .body(Full::new(Bytes::new()))?;
        tokio::time::timeout(Duration::from_secs(10), self.inner.request(request))
            .await
            .context("connecting to the event stream")?
            .with_context(|| format!("GET {url}"))
    }
}
