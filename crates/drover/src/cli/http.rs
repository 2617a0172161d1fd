//! The CLI's HTTP plumbing on hyper-util: whole JSON requests with every method Marathon needs
//! (drover-http's client only POSTs and GETs), and the two kinds of event streams: Marathon's
//! server-sent events and the master's RecordIO operator stream.
//!
//! Every failure to connect becomes [`CliError::Unreachable`] with a line that says what to
//! do; every error answer becomes [`CliError::Failed`] with the daemon's own message.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::{CliError, CliResult};

/// Whole responses larger than this are refused (a `/master/state` of a big cluster fits).
const MAX_BODY: usize = 64 << 20;
/// How long a whole request may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How long a `zk://` master address may take to name its leader.
const ZK_LEADER_TIMEOUT: Duration = Duration::from_secs(15);

/// One daemon's HTTP API.
#[derive(Debug, Clone)]
pub struct Service {
    /// What to call it in messages ("master", "scheduler", "agent").
    pub name: &'static str,
    /// `http://host:port` (or a `zk://` master group), without a trailing slash; see
    /// [`Service::base`].
    base: String,
    /// How the user wrote the address.
    pub shown: String,
    /// How to point the CLI elsewhere ("--master or DROVER_MASTER").
    hint: String,
    /// The `Authorization` header value sent with every request, when credentials are given.
    authorization: Option<String>,
    client: Client<drover_http::Connector, Full<Bytes>>,
}

impl Service {
    /// A daemon at `address` (`host:port`, `http://host:port` or `https://host:port`); a bare
    /// `host:port` is reached over `https` when `LIBPROCESS_SSL_ENABLED` is set, as Mesos'
    /// tools did.
    pub fn new(name: &'static str, address: &str, flag: &str, env: &str) -> Service {
        let address = address.trim().trim_end_matches('/');
        let base = if address.contains("://") {
            address.to_owned()
        } else {
            format!("{}://{address}", drover_http::tls::scheme())
        };
        let hint = if flag.is_empty() {
            String::new()
        } else {
            format!(" (or point the CLI elsewhere with {flag} or {env})")
        };
        Service {
            name,
            shown: address.to_owned(),
            base,
            hint,
            authorization: None,
            client: Client::builder(TokioExecutor::new())
                .build(drover_http::Connector::from_process()),
        }
    }

    /// The same service, sending `credential` as HTTP Basic credentials.
    pub fn with_credential(
        mut self,
        credential: Option<&drover_http::auth::Credential>,
    ) -> Service {
        self.authorization = credential.map(|c| c.header_value());
        self
    }

    fn unreachable(&self, reason: &str) -> CliError {
        let hint = match self.name {
            "agent" => ": is the agent running?".to_owned(),
            _ => format!(": is `drover dev` running?{}", self.hint),
        };
        CliError::Unreachable(format!(
            "cannot reach the {} at {} ({reason}){hint}",
            self.name, self.shown
        ))
    }

    /// `http(s)://host:port` of the daemon: the address as given, or for a `zk://` master (as
    /// Mesos' tools take it) the leader elected in that ZooKeeper group right now.
    pub async fn base(&self) -> CliResult<String> {
        if !self.base.starts_with("zk://") {
            return Ok(self.base.clone());
        }
        let url = drover_coord::ZkUrl::parse(&self.base)
            .map_err(|e| CliError::Usage(format!("invalid address {}: {e}", self.shown)))?;
        let mut leader = drover_coord::detector::leading_master(url);
        let found = tokio::time::timeout(ZK_LEADER_TIMEOUT, async {
            loop {
                if let Some(address) = leader.borrow_and_update().clone() {
                    return Some(address);
                }
                if leader.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        match found {
            Ok(Some(address)) => Ok(format!("{}://{address}", drover_http::tls::scheme())),
            _ => Err(self.unreachable(&format!(
                "no leading master in ZooKeeper within {}s",
                ZK_LEADER_TIMEOUT.as_secs()
            ))),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> CliResult<hyper::Response<Incoming>> {
        let url = format!("{}{path}", self.base().await?);
        let mut builder = Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Some(value) = &self.authorization {
            builder = builder.header("Authorization", value.as_str());
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| CliError::Usage(format!("invalid address {}: {e}", self.shown)))?;
        match tokio::time::timeout(TIMEOUT, self.client.request(request)).await {
            Err(_) => Err(self.unreachable(&format!("no answer in {}s", TIMEOUT.as_secs()))),
            Ok(Err(error)) => Err(self.unreachable(&root_cause(&error))),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// Sends a request and returns the status and the whole body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> CliResult<(StatusCode, Bytes)> {
        let (headers, bytes): (&[(&str, &str)], Bytes) = match body {
            Some(body) => (
                &[
                    ("Content-Type", "application/json"),
                    ("Accept", "application/json"),
                ],
                Bytes::from(body.to_string()),
            ),
            None => (&[("Accept", "application/json")], Bytes::new()),
        };
        let response = self.send(method, path, headers, bytes).await?;
        let status = response.status();
        let body = tokio::time::timeout(
            TIMEOUT,
            Limited::new(response.into_body(), MAX_BODY).collect(),
        )
        .await
        .map_err(|_| self.unreachable("the answer stalled"))?
        .map_err(|e| self.unreachable(&format!("reading the answer failed: {e}")))?
        .to_bytes();
        Ok((status, body))
    }

    /// Sends a request; a 2xx answer's JSON body is returned, anything else is an error
    /// carrying the daemon's message.
    pub async fn json(&self, method: Method, path: &str, body: Option<&Value>) -> CliResult<Value> {
        let (status, bytes) = self.call(method, path, body).await?;
        if !status.is_success() {
            return Err(CliError::Failed(self.error_text(status, &bytes)));
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            CliError::Failed(format!(
                "the {} at {} answered something that is not JSON ({e}): is it really a Drover {}?",
                self.name, self.shown, self.name
            ))
        })
    }

    /// GETs JSON.
    pub async fn get(&self, path: &str) -> CliResult<Value> {
        self.json(Method::GET, path, None).await
    }

    /// The daemon's error message: Marathon's `message` (and `details`), else the body text.
    pub fn error_text(&self, status: StatusCode, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let mut message = match serde_json::from_slice::<Value>(body) {
            Ok(value) => {
                let mut m = value
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or(text.trim())
                    .to_owned();
                for detail in super::array(&value, "details") {
                    let path = super::text(detail, "path");
                    let errors: Vec<&str> = super::array(detail, "errors")
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    m.push_str(&format!("; {path}: {}", errors.join(", ")));
                }
                m
            }
            Err(_) => text.trim().to_owned(),
        };
        if message.is_empty() {
            message = status.canonical_reason().unwrap_or("no message").to_owned();
        }
        format!("the {} answered {}: {message}", self.name, status.as_u16())
    }

    /// Opens Marathon's `/v2/events` (server-sent events).
    pub async fn sse(&self, path: &str) -> CliResult<SseStream> {
        let response = self
            .send(
                Method::GET,
                path,
                &[("Accept", "text/event-stream")],
                Bytes::new(),
            )
            .await?;
        if !response.status().is_success() {
            let status = response.status();
            let body = Limited::new(response.into_body(), 64 << 10)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Err(CliError::Failed(self.error_text(status, &body)));
        }
        Ok(SseStream {
            body: response.into_body(),
            buffer: BytesMut::new(),
        })
    }

    /// POSTs a call answered with a RecordIO stream (the operator API's SUBSCRIBE).
    pub async fn recordio(&self, path: &str, body: &Value) -> CliResult<RecordStream> {
        let headers = [
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ];
        self.recordio_as(path, &headers, body).await
    }

    /// As [`Service::recordio`], with the caller's headers (`Accept: application/recordio`
    /// and a `Message-Accept` for the agent's container sessions).
    pub async fn recordio_as(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> CliResult<RecordStream> {
        let response = self
            .send(Method::POST, path, headers, Bytes::from(body.to_string()))
            .await?;
        if !response.status().is_success() {
            let status = response.status();
            let body = Limited::new(response.into_body(), 64 << 10)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Err(CliError::Failed(self.error_text(status, &body)));
        }
        Ok(RecordStream {
            body: response.into_body(),
            decoder: drover_wire::recordio::Decoder::new(MAX_BODY),
            ready: Vec::new(),
        })
    }
}

impl Service {
    /// POSTs a request whose body is streamed from `body` (the agent's
    /// `ATTACH_CONTAINER_INPUT`); the answer comes once the body ended.
    pub async fn post_streaming(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: tokio::sync::mpsc::Receiver<Bytes>,
    ) -> CliResult<()> {
        let url = format!("{}{path}", self.base().await?);
        let mut all = headers.to_vec();
        if let Some(value) = &self.authorization {
            all.push(("Authorization", value.as_str()));
        }
        let response = drover_http::Client::new()
            .post_streaming_body(&url, &all, body)
            .await
            .map_err(|e| self.unreachable(&e.to_string()))?;
        if !response.status.is_success() {
            return Err(CliError::Failed(
                self.error_text(response.status, &response.body),
            ));
        }
        Ok(())
    }
}

/// The innermost cause of a connection error ("Connection refused (os error 111)").
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let text = cause.to_string();
    text.split(" (os error")
        .next()
        .unwrap_or(&text)
        .to_lowercase()
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// The `event:` line (Marathon's `eventType`).
    pub event: String,
    /// The `data:` lines, joined.
    pub data: String,
}

/// A stream of server-sent events.
#[derive(Debug)]
pub struct SseStream {
    body: Incoming,
    buffer: BytesMut,
}

impl SseStream {
    /// The next event; `None` when the server closed the stream.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(event) = self.take_event() {
                if event.data.is_empty() && event.event.is_empty() {
                    // A heartbeat (a bare line break).
                    continue;
                }
                return Some(event);
            }
            match self.body.frame().await {
                None | Some(Err(_)) => return None,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// Splits one event (up to a blank line) off the buffer.
    fn take_event(&mut self) -> Option<SseEvent> {
        let text = std::str::from_utf8(&self.buffer).ok()?;
        let normalized_end = ["\r\n\r\n", "\n\n"]
            .iter()
            .filter_map(|sep| text.find(sep).map(|i| (i, sep.len())))
            .min();
        // A heartbeat arrives as a lone CRLF at the start of the buffer.
        let (end, skip) = match normalized_end {
            Some(found) => found,
            None if text.starts_with("\r\n") => (0, 2),
            None => return None,
        };
        let block = text[..end].to_owned();
        let _ = self.buffer.split_to(end + skip);
        let mut event = SseEvent {
            event: String::new(),
            data: String::new(),
        };
        for line in block.lines() {
            if let Some(value) = line.strip_prefix("event:") {
                event.event = value.trim().to_owned();
            } else if let Some(value) = line.strip_prefix("data:") {
                if !event.data.is_empty() {
                    event.data.push('\n');
                }
                event.data.push_str(value.trim_start());
            }
        }
        Some(event)
    }
}

/// A stream of RecordIO records (JSON documents).
#[derive(Debug)]
pub struct RecordStream {
    body: Incoming,
    decoder: drover_wire::recordio::Decoder,
    ready: Vec<Bytes>,
}

impl RecordStream {
    /// The next record; `None` when the stream ended or broke.
    pub async fn next(&mut self) -> Option<Bytes> {
        loop {
            if !self.ready.is_empty() {
                return Some(self.ready.remove(0));
            }
            match self.body.frame().await {
                None | Some(Err(_)) => return None,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        match self.decoder.feed(&data) {
                            Ok(records) => self.ready.extend(records),
                            Err(_) => return None,
                        }
                    }
                }
            }
        }
    }
}

/// Percent-encodes a query value.
pub fn encode_query(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// An app id as a URL path (`/web` → `/web`, `web` → `/web`).
pub fn app_path(id: &str) -> String {
    format!("/{}", id.trim_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(encode_query("/a b/stdout"), "/a%20b/stdout");
        assert_eq!(encode_query("x&y=z"), "x%26y%3Dz");
    }
}
