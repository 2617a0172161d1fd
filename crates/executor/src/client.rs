//! A minimal Executor HTTP API client: protobuf calls to `POST /api/v1/executor` and the
//! SUBSCRIBE response read as a RecordIO stream of events; and the agent operator API's
//! calls the default executor launches its tasks with (`POST /api/v1`, nested containers).

use std::time::Duration;

use bytes::Bytes;
use drover_wire::recordio;
use drover_wire::v1::executor::{Call, Event};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use prost::Message;

const PROTOBUF: &str = "application/x-protobuf";

/// Why a call did not reach the agent or was refused.
#[derive(Debug)]
pub enum SendError {
    /// No answer: the agent is down or restarting, or the connection broke.
    Unreachable(anyhow::Error),
    /// The agent answered with an error status.
    Refused {
        status: hyper::StatusCode,
        body: String,
    },
}

impl SendError {
    /// Whether sending the same call later may succeed: the agent was unreachable, or it is
    /// still recovering after a restart (Mesos answers 503 to every call but SUBSCRIBE then).
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Unreachable(_) => true,
            SendError::Refused { status, .. } => *status == hyper::StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Unreachable(error) => write!(f, "agent unreachable: {error:#}"),
            SendError::Refused { status, body } => write!(f, "agent answered {status}: {body}"),
        }
    }
}

impl std::error::Error for SendError {}

/// Talks to one agent.
#[derive(Debug, Clone)]
pub struct Client {
    http: HyperClient<drover_http::Connector, Full<Bytes>>,
    url: String,
    /// The agent's operator API.
    operator_url: String,
    /// `Authorization` for every call: the token the agent gave this executor
    /// (`MESOS_EXECUTOR_AUTHENTICATION_TOKEN`, when it authenticates executors).
    authorization: Option<String>,
}

impl Client {
    /// A client for the agent at `endpoint` (`host:port`, as in `MESOS_AGENT_ENDPOINT`).
    pub fn new(endpoint: &str) -> Self {
        // `https` when the agent passed its LIBPROCESS_SSL_* variables on (issue 14).
        let http = HyperClient::builder(TokioExecutor::new())
            .build(drover_http::Connector::from_process());
        Self {
            http,
            url: format!(
                "{}://{endpoint}/api/v1/executor",
                drover_http::tls::scheme()
            ),
            operator_url: format!("{}://{endpoint}/api/v1", drover_http::tls::scheme()),
            authorization: std::env::var("MESOS_EXECUTOR_AUTHENTICATION_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
                .map(|t| format!("Bearer {t}")),
        }
    }

    async fn post(&self, call: &Call) -> anyhow::Result<hyper::Response<Incoming>> {
        self.post_to(&self.url, call.encode_to_vec()).await
    }

    async fn post_to(&self, url: &str, body: Vec<u8>) -> anyhow::Result<hyper::Response<Incoming>> {
        let mut request = hyper::Request::post(url)
            .header(hyper::header::CONTENT_TYPE, PROTOBUF)
            .header(hyper::header::ACCEPT, PROTOBUF);
        if let Some(authorization) = &self.authorization {
            request = request.header(hyper::header::AUTHORIZATION, authorization);
        }
        let request = request.body(Full::new(Bytes::from(body)))?;
        Ok(self.http.request(request).await?)
    }

    /// Sends a non-streaming call; fails unless the agent answers 2xx.
    pub async fn send(&self, call: &Call) -> Result<(), SendError> {
        self.answer(self.post(call).await).await.map(|_| ())
    }

    /// An operator API call (the nested-container calls); the answer's body, unless the agent
    /// answers other than 2xx.
    pub async fn operator(&self, call: &drover_wire::v1::agent::Call) -> Result<Bytes, SendError> {
        let posted = self.post_to(&self.operator_url, call.encode_to_vec()).await;
        self.answer(posted).await
    }

    async fn answer(
        &self,
        posted: anyhow::Result<hyper::Response<Incoming>>,
    ) -> Result<Bytes, SendError> {
        let response = posted.map_err(SendError::Unreachable)?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| SendError::Unreachable(e.into()))?
            .to_bytes();
        if !status.is_success() {
            return Err(SendError::Refused {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        Ok(body)
    }

    /// Sends SUBSCRIBE and returns the event stream.
    pub async fn subscribe(&self, call: &Call) -> anyhow::Result<EventStream> {
        let response = self.post(call).await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::bail!(
                "SUBSCRIBE refused with {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(EventStream {
            body: response.into_body(),
            decoder: recordio::Decoder::default(),
            ready: std::collections::VecDeque::new(),
        })
    }
}

impl Client {
    /// SUBSCRIBE, retried with backoff up to the recovery timeout. The agent is local and a
    /// refused connection costs next to nothing, so retries stay frequent (25 ms doubling to
    /// at most 250 ms, or `MESOS_SUBSCRIPTION_BACKOFF_MAX` if lower): a restarted agent waits
    /// for every recovered executor before it re-registers, so the slowest retry sets its
    /// recovery time. Each executor offsets its retries by a share of the delay derived from
    /// its pid, so a thousand of them do not arrive in one burst.
    pub async fn subscribe_retrying(
        &self,
        call: &Call,
        env: &crate::env::Env,
    ) -> anyhow::Result<EventStream> {
        let started = tokio::time::Instant::now();
        let cap = env
            .backoff_max
            .clamp(Duration::from_millis(25), Duration::from_millis(250));
        let mut backoff = Duration::from_millis(25);
        let phase = f64::from(std::process::id() % 97) / 97.0 / 2.0;
        loop {
            match self.subscribe(call).await {
                Ok(stream) => return Ok(stream),
                Err(error) => {
                    if started.elapsed() > env.recovery_timeout {
                        anyhow::bail!("could not subscribe within the recovery timeout: {error:#}");
                    }
                    tracing::debug!(error = %format!("{error:#}"), "subscribe failed; retrying");
                    tokio::time::sleep(backoff.mul_f64(1.0 + phase)).await;
                    backoff = (backoff * 2).min(cap);
                }
            }
        }
    }
}

/// The events of one SUBSCRIBE response.
#[derive(Debug)]
pub struct EventStream {
    body: Incoming,
    decoder: recordio::Decoder,
    ready: std::collections::VecDeque<Bytes>,
}

impl EventStream {
    /// The next event; `None` when the agent closed the stream.
    pub async fn next(&mut self) -> anyhow::Result<Option<Event>> {
        loop {
            if let Some(record) = self.ready.pop_front() {
                return Ok(Some(Event::decode(record)?));
            }
            let Some(frame) = self.body.frame().await else {
                return Ok(None);
            };
            if let Ok(data) = frame?.into_data() {
                self.ready.extend(self.decoder.feed(&data)?);
            }
        }
    }
}
