//! Plain HTTP helpers for the harness: GETs with no body limit (a `/master/state` with
//! 100,000 tasks is far larger than the daemons' client limit) and JSON POSTs, on one
//! keep-alive connection pool.

use std::time::{Duration, Instant};

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

impl Http {
    /// A new client.
    pub fn new() -> Http {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Http {
            inner: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// Sends a request; returns the status and the whole body.
    pub async fn request(
        &self,
        method: hyper::Method,
        url: &str,
        body: Option<String>,
    ) -> anyhow::Result<(u16, Bytes)> {
        let mut builder = hyper::Request::builder().method(method).uri(url);
        if body.is_some() {
            builder = builder.header("Content-Type", "application/json");
        }
        let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let response = tokio::time::timeout(Duration::from_secs(300), async {
            let response = self.inner.request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        })
        .await
        .with_context(|| format!("{url} timed out"))??;
        Ok(response)
    }

    /// Sends a request with these headers and body; returns the status, the answer's headers
    /// and its body (the image pushes of the UCR scenario).
    pub async fn send(
        &self,
        method: hyper::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> anyhow::Result<(u16, hyper::HeaderMap, Bytes)> {
        let mut builder = hyper::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body))?;
        tokio::time::timeout(Duration::from_secs(300), async {
            let response = self.inner.request(request).await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, headers, body))
        })
        .await
        .with_context(|| format!("{url} timed out"))?
    }

    /// GET.
    pub async fn get(&self, url: &str) -> anyhow::Result<(u16, Bytes)> {
        self.request(hyper::Method::GET, url, None).await
    }

    /// POST a JSON body.
    pub async fn post_json(&self, url: &str, body: String) -> anyhow::Result<(u16, Bytes)> {
        self.request(hyper::Method::POST, url, Some(body)).await
    }

    /// `n` sequential GETs of `url` (after one warm-up); returns (p50, p99, body bytes).
    pub async fn latency(
        &self,
        url: &str,
        n: usize,
    ) -> anyhow::Result<(Duration, Duration, usize)> {
        let (status, body) = self.get(url).await?;
        anyhow::ensure!(status == 200, "GET {url} answered {status}");
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t0 = Instant::now();
            let (status, _) = self.get(url).await?;
            samples.push(t0.elapsed());
            anyhow::ensure!(status == 200, "GET {url} answered {status}");
        }
        samples.sort();
        Ok((
            percentile(&samples, 0.50),
            percentile(&samples, 0.99),
            body.len(),
        ))
    }
}

/// The `p` quantile of sorted samples (nearest rank).
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
