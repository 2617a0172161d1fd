//! A small HTTP/1.1 client for daemons on hyper-util: [`Client::post`] for calls answered with
//! one body, [`Client::post_stream`] for subscriptions answered with a RecordIO stream
//! (`SUBSCRIBE` to a master, an agent's session), and [`Client::get`].
//!
//! `https://` URLs use the process' TLS ([`crate::tls::client_config`]); with
//! `LIBPROCESS_SSL_SUPPORT_DOWNGRADE` a failed handshake is retried in plain text, as libprocess'
//! client did.
//!
//! Every response body is bounded: whole bodies by [`Client::max_body_bytes`], stream records
//! by the `max_record_bytes` given to `post_stream`. Connections are pooled per host.
//!
//! ```no_run
//! # async fn demo() -> Result<(), drover_http::ClientError> {
//! use drover_http::Client;
//! let client = Client::new();
//! let mut stream = client
//!     .post_stream(
//!         "http://127.0.0.1:5050/api/v1/scheduler",
//!         &[("Content-Type", "application/json")],
//!         br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}"#
//!             .to_vec()
//!             .into(),
//!         1 << 20,
//!     )
//!     .await?;
//! let stream_id = stream.header("Mesos-Stream-Id");
//! while let Some(record) = stream.records.next().await {
//!     let _event_json = record?;
//! }
//! # let _ = stream_id;
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use drover_wire::recordio::Decoder;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL or a header could not be used.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Connecting or sending failed.
    #[error("request to {url} failed: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// No answer in time.
    #[error("request to {url} timed out after {timeout:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
    /// A stream was refused with a non-2xx status.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
        /// The body text (truncated).
        body: String,
    },
    /// The response body was larger than allowed.
    #[error("response body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// Reading the body failed, or its RecordIO framing was broken.
    #[error("reading the response failed: {0}")]
    Body(String),
}

/// A whole response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A streamed (RecordIO) response.
#[derive(Debug)]
pub struct StreamResponse {
    /// The status (always 2xx).
    pub status: StatusCode,
    /// The headers (e.g. `Mesos-Stream-Id`).
    pub headers: HeaderMap,
    /// The records, in order.
    pub records: RecordStream,
}

impl StreamResponse {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// The records of a RecordIO response body.
#[derive(Debug)]
pub struct RecordStream {
    body: Incoming,
    decoder: Decoder,
    ready: VecDeque<Bytes>,
    done: bool,
}

impl RecordStream {
    /// The next record; `None` when the stream ended cleanly. A truncated or misframed stream
    /// ends with an error.
    pub async fn next(&mut self) -> Option<Result<Bytes, ClientError>> {
        loop {
            if let Some(record) = self.ready.pop_front() {
                return Some(Ok(record));
            }
            if self.done {
                return None;
            }
            match self.body.frame().await {
                None => {
                    self.done = true;
                    return match self.decoder.finish() {
                        Ok(()) => None,
                        Err(e) => Some(Err(ClientError::Body(e.to_string()))),
                    };
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(ClientError::Body(e.to_string())));
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    match self.decoder.feed(&data) {
                        Ok(records) => self.ready.extend(records),
                        Err(e) => {
                            self.done = true;
                            return Some(Err(ClientError::Body(e.to_string())));
                        }
                    }
                }
            }
        }
    }
}

/// Connects `http://` in plain text and `https://` with the process' TLS, retrying a failed
/// handshake in plain text when downgrade is allowed. For callers that drive hyper-util's
/// client themselves (the CLI, the executor).
#[derive(Clone)]
pub struct Connector {
    https: HttpsConnector<HttpConnector>,
    plain: HttpConnector,
    downgrade: bool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Connection = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;

impl Connector {
    /// With the process' TLS ([`crate::tls::client_config`]).
    pub fn from_process() -> Connector {
        Connector::new(crate::tls::client_config(), crate::tls::client_downgrade())
    }

    /// With `config`, retrying in plain text on a failed handshake if `downgrade`.
    pub fn new(config: std::sync::Arc<rustls::ClientConfig>, downgrade: bool) -> Connector {
        let mut plain = HttpConnector::new();
        plain.set_nodelay(true);
        plain.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*config).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(plain.clone());
        Connector {
            https,
            plain,
            downgrade,
        }
    }
}

impl tower::Service<hyper::Uri> for Connector {
    type Response = Connection;
    type Error = BoxError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Connection, BoxError>> + Send>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        // Both connectors are always ready (hyper-util's HttpConnector never waits here).
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        let mut https = self.https.clone();
        let mut plain = self.plain.clone();
        let downgrade = self.downgrade && uri.scheme_str() == Some("https");
        Box::pin(async move {
            match https.call(uri.clone()).await {
                Ok(connection) => Ok(connection),
                Err(error) if downgrade => {
                    tracing::debug!(%uri, %error, "TLS failed; retrying in plain text (LIBPROCESS_SSL_SUPPORT_DOWNGRADE)");
                    let tcp = plain.call(uri).await?;
                    Ok(MaybeHttpsStream::Http(tcp))
                }
                Err(error) => Err(error),
            }
        })
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("downgrade", &self.downgrade)
            .finish()
    }
}

/// A pooled HTTP/1.1 client.
#[derive(Debug, Clone)]
pub struct Client {
    inner: HyperClient<Connector, Full<Bytes>>,
    connector: Connector,
    timeout: Duration,
    max_body_bytes: usize,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

/// How long an idle pooled connection is kept: half the servers' default idle timeout.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    /// A client with a 30 s timeout for non-streaming requests and a 16 MiB body limit.
    pub fn new() -> Client {
        Client::with_tls(crate::tls::client_config(), crate::tls::client_downgrade())
    }

    /// A client whose `https://` connections use `config` (tests, and callers with their own
    /// trust), retrying in plain text on a failed handshake if `downgrade`.
    pub fn with_tls(config: std::sync::Arc<rustls::ClientConfig>, downgrade: bool) -> Client {
        let connector = Connector::new(config, downgrade);
        Client {
            connector: connector.clone(),
            // Pooled connections are dropped before the daemons' idle timeout
            // (`guard::DEFAULT_IDLE_TIMEOUT`) can close them under a new request.
            inner: HyperClient::builder(TokioExecutor::new())
                .pool_idle_timeout(POOL_IDLE_TIMEOUT)
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .build(connector),
            timeout: Duration::from_secs(30),
            max_body_bytes: crate::MAX_BODY_BYTES,
        }
    }

    /// Sets the timeout of [`Client::post`] and [`Client::get`] (streams have none: they last
    /// as long as the peer keeps them open).
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// The largest whole body accepted.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    fn request(
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let request = Request::builder()
            .method(method)
            .uri(url)
            .body(Full::new(body))
            .map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
        with_headers(request, headers)
    }

    async fn send(
        &self,
        url: &str,
        request: Request<Full<Bytes>>,
    ) -> Result<hyper::Response<Incoming>, ClientError> {
        self.inner
            .request(request)
            .await
            .map_err(|e| ClientError::Transport {
                url: url.to_owned(),
                reason: error_chain(&e),
            })
    }

    async fn whole(
        &self,
        url: &str,
        request: Request<Full<Bytes>>,
    ) -> Result<Response, ClientError> {
        let limit = self.max_body_bytes;
        let work = async {
            let response = self.send(url, request).await?;
            let (parts, body) = response.into_parts();
            let body = http_body_util::Limited::new(body, limit)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        ClientError::BodyTooLarge { limit }
                    } else {
                        ClientError::Body(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(Response {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| ClientError::Timeout {
                url: url.to_owned(),
                timeout: self.timeout,
            })?
    }

    /// POSTs `body` and returns the whole response, whatever its status.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response, ClientError> {
        let request = Self::request(Method::POST, url, headers, body)?;
        self.whole(url, request).await
    }

    /// GETs `url` and returns the whole response, whatever its status.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Response, ClientError> {
        let request = Self::request(Method::GET, url, headers, Bytes::new())?;
        self.whole(url, request).await
    }

    /// POSTs `body` and, on a 2xx answer, returns its headers and its RecordIO records;
    /// otherwise [`ClientError::Status`] with the body text. Connecting and receiving the
    /// headers are bounded by the client's timeout; the stream itself is not.
    pub async fn post_stream(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        max_record_bytes: usize,
    ) -> Result<StreamResponse, ClientError> {
        let request = Self::request(Method::POST, url, headers, body)?;
        let response = tokio::time::timeout(self.timeout, self.send(url, request))
            .await
            .map_err(|_| ClientError::Timeout {
                url: url.to_owned(),
                timeout: self.timeout,
            })??;
        let (parts, body) = response.into_parts();
        if !parts.status.is_success() {
            let text = http_body_util::Limited::new(body, 64 * 1024)
                .collect()
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                .unwrap_or_default();
            return Err(ClientError::Status {
                url: url.to_owned(),
                status: parts.status,
                body: text,
            });
        }
        Ok(StreamResponse {
            status: parts.status,
            headers: parts.headers,
            records: RecordStream {
                body,
                decoder: Decoder::new(max_record_bytes),
                ready: VecDeque::new(),
                done: false,
            },
        })
    }
}

impl Client {
    /// POSTs a body streamed from `body` (each chunk is sent as it arrives; the body ends when
    /// every sender is dropped) and returns the whole response once the server answers: what
    /// the agent's `ATTACH_CONTAINER_INPUT` takes. Neither the body nor the wait for the
    /// answer is timed (the answer comes when the input ends); the response body is bounded.
    pub async fn post_streaming_body(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: tokio::sync::mpsc::Receiver<Bytes>,
    ) -> Result<Response, ClientError> {
        use futures::StreamExt;
        let frames = tokio_stream::wrappers::ReceiverStream::new(body)
            .map(|chunk| Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(chunk)));
        let body = BodyExt::boxed(http_body_util::StreamBody::new(frames));
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .body(body)
            .map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
        let request = with_headers(request, headers)?;
        // A connection of its own: the request holds it for as long as the input lasts.
        let client: HyperClient<
            Connector,
            http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>,
        > = HyperClient::builder(TokioExecutor::new()).build(self.connector.clone());
        let response = client
            .request(request)
            .await
            .map_err(|e| ClientError::Transport {
                url: url.to_owned(),
                reason: error_chain(&e),
            })?;
        let (parts, body) = response.into_parts();
        let limit = self.max_body_bytes;
        let body = http_body_util::Limited::new(body, limit)
            .collect()
            .await
            .map_err(|e| ClientError::Body(e.to_string()))?
            .to_bytes();
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// `request` with `headers` appended.
fn with_headers<B>(
    mut request: Request<B>,
    headers: &[(&str, &str)],
) -> Result<Request<B>, ClientError> {
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
        let value =
            HeaderValue::from_str(value).map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
        request.headers_mut().append(name, value);
    }
    Ok(request)
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
