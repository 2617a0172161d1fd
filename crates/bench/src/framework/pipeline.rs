//! A lean HTTP/1.1 client for the bench framework's calls: keep-alive connections ("lanes"),
//! each owned by one task that writes every call queued for it in one write (HTTP/1.1
//! pipelining, which hyper, like libprocess, answers in order) and then reads the answers in
//! order. Each call is still its own request, answered on its own, exactly as the Scheduler API
//! has it.
//!
//! Why not the shared hyper client (issue 8, G4): the framework sends one ACKNOWLEDGE per status
//! update, and with a pooled hyper client each cost a spawned task, a pool checkout, a hop to
//! the connection's task, a timer and its own `writev`: over half of the bench process's CPU,
//! on the same two cores as the master it measures. Here nothing is spawned per call, and calls
//! that queue up on a lane share one write (and the master reads them with one read). The
//! master still answers a connection's calls one at a time, so the number of lanes, not the
//! pipelining, sets how many calls it can take per pass of its driver.
//!
//! Answers must carry `Content-Length` (the master's always do); a chunked answer, a broken
//! connection or a timeout fails the calls in flight on that lane, and the next call reconnects.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// Calls written in one go on a lane at most.
const MAX_PIPELINED: usize = 64;
/// Longest wait for a lane's answers.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Longest response head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// One answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What to do with a call's answer (runs on the lane's task: keep it short).
pub type Done = Box<dyn FnOnce(anyhow::Result<Answer>) + Send>;

struct Job {
    body: Bytes,
    done: Done,
}

/// POSTs to one path of one server over `lanes` pipelined connections. Dropping it ends the
/// lanes once their queued calls are answered.
pub struct Pipeline {
    lanes: Vec<mpsc::UnboundedSender<Job>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("lanes", &self.lanes.len())
            .finish()
    }
}

impl Pipeline {
    /// Lanes to `addr` (`host:port`) POSTing to `path` with these headers on every call.
    pub fn new(addr: &str, path: &str, headers: &[(&str, &str)], lanes: usize) -> Pipeline {
        let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("Content-Length: ");
        let head = Bytes::from(head);
        let lanes = (0..lanes.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(lane(addr.to_owned(), head.clone(), rx));
                tx
            })
            .collect();
        Pipeline {
            lanes,
            next: AtomicUsize::new(0),
        }
    }

    /// Queues a call; `done` gets its answer.
    pub fn call(&self, body: Bytes, done: Done) {
        let lane = self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len();
        if let Err(mpsc::error::SendError(job)) = self.lanes[lane].send(Job { body, done }) {
            (job.done)(Err(anyhow::anyhow!("the lane has stopped")));
        }
    }

    /// Sends a call and waits for its answer.
    pub async fn request(&self, body: Bytes) -> anyhow::Result<Answer> {
        let (tx, rx) = oneshot::channel();
        self.call(
            body,
            Box::new(move |answer| {
                let _ = tx.send(answer);
            }),
        );
        rx.await.context("the lane has stopped")?
    }
}

/// One connection's task: takes every queued call, writes them, reads their answers.
async fn lane(addr: String, head: Bytes, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut conn: Option<TcpStream> = None;
    let mut input = BytesMut::with_capacity(16 * 1024);
    let mut output = BytesMut::with_capacity(16 * 1024);
    let mut batch = VecDeque::new();
    while let Some(job) = jobs.recv().await {
        batch.push_back(job);
        while batch.len() < MAX_PIPELINED {
            match jobs.try_recv() {
                Ok(job) => batch.push_back(job),
                Err(_) => break,
            }
        }
        let exchange = exchange(&addr, &mut conn, &head, &mut output, &mut input, &mut batch);
        let result = match tokio::time::timeout(TIMEOUT, exchange).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!("no answer from {addr} in {TIMEOUT:?}")),
        };
        if let Err(error) = result {
            // The connection's state is unknown: start afresh, and fail what was not answered.
            conn = None;
            input.clear();
            for job in batch.drain(..) {
                (job.done)(Err(anyhow::anyhow!("{error:#}")));
            }
        }
    }
}

/// Writes every call of `batch` and answers them in order, taking each off the batch.
async fn exchange(
    addr: &str,
    conn: &mut Option<TcpStream>,
    head: &[u8],
    output: &mut BytesMut,
    input: &mut BytesMut,
    batch: &mut VecDeque<Job>,
) -> anyhow::Result<()> {
    if conn.is_none() {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        *conn = Some(stream);
    }
    let stream = conn.as_mut().expect("connected above");
    output.clear();
    for job in batch.iter() {
        output.extend_from_slice(head);
        output.extend_from_slice(job.body.len().to_string().as_bytes());
        output.extend_from_slice(b"\r\n\r\n");
        output.extend_from_slice(&job.body);
    }
    stream.write_all(output).await?;
    while let Some(job) = batch.pop_front() {
        let (answer, close) = loop {
            match parse_answer(input) {
                Ok(Some(parsed)) => break parsed,
                Ok(None) => {}
                Err(error) => {
                    batch.push_front(job);
                    return Err(error);
                }
            }
            match stream.read_buf(input).await {
                Ok(0) => {
                    batch.push_front(job);
                    bail!("{addr} closed the connection");
                }
                Ok(_) => {}
                Err(error) => {
                    batch.push_front(job);
                    return Err(error.into());
                }
            }
        };
        (job.done)(Ok(answer));
        if close {
            // The caller drops the connection on any error; an empty batch ends cleanly here.
            if batch.is_empty() {
                *conn = None;
                input.clear();
                return Ok(());
            }
            bail!("{addr} closed the connection with calls unanswered");
        }
    }
    Ok(())
}

/// Takes one whole answer off the front of `input`, with whether the server closes the
/// connection after it; `None` while it is incomplete.
fn parse_answer(input: &mut BytesMut) -> anyhow::Result<Option<(Answer, bool)>> {
    let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") else {
        if input.len() > MAX_HEAD_BYTES {
            bail!("response head longer than {MAX_HEAD_BYTES} bytes");
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&input[..end]).context("response head is not text")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or_default();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut length = 0usize;
    let mut close = version != "HTTP/1.1";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            bail!("bad header line {line:?}");
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            length = value
                .parse()
                .with_context(|| format!("bad Content-Length {value:?}"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("answers with Transfer-Encoding ({value}) are not supported");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let body_start = end + 4;
    if input.len() < body_start + length {
        return Ok(None);
    }
    let mut message = input.split_to(body_start + length);
    let body = message.split_off(body_start).freeze();
    Ok(Some((Answer { status, body }, close)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_taken_whole_and_in_order() {
        let mut input = BytesMut::from(
            &b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\ndate: x\r\n\r\n\
               HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nerr"[..],
        );
        let (first, close) = parse_answer(&mut input).expect("valid").expect("complete");
        assert_eq!((first.status, first.body.len(), close), (202, 0, false));
        assert!(parse_answer(&mut input).expect("valid").is_none());
        input.extend_from_slice(b"or");
        let (second, _) = parse_answer(&mut input).expect("valid").expect("complete");
        assert_eq!((second.status, second.text().as_str()), (400, "error"));
        assert!(input.is_empty());
    }

    #[test]
    fn chunked_answers_are_refused_and_close_is_seen() {
        let mut chunked =
            BytesMut::from(&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..]);
        assert!(parse_answer(&mut chunked).is_err());
        let mut closing = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"[..],
        );
        let (_, close) = parse_answer(&mut closing)
            .expect("valid")
            .expect("complete");
        assert!(close);
    }

    #[tokio::test]
    async fn pipelined_calls_are_answered_in_order_by_a_hyper_server() {
        // hyper's HTTP/1.1 server, as the master runs it, echoing each body back.
        use http_body_util::{BodyExt, Full};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address").to_string();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let echo = hyper::service::service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let body = request.into_body().collect().await?.to_bytes();
                        Ok::<_, hyper::Error>(hyper::Response::new(Full::new(body)))
                    },
                );
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), echo),
                );
            }
        });
        let pipeline = Pipeline::new(&addr, "/echo", &[("Content-Type", "text/plain")], 2);
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..100 {
            let tx = tx.clone();
            pipeline.call(
                Bytes::from(format!("call {i}")),
                Box::new(move |answer| {
                    let _ = tx.send((i, answer.map(|a| a.text())));
                }),
            );
        }
        drop(tx);
        let mut seen = Vec::new();
        while let Some((i, text)) = rx.recv().await {
            assert_eq!(text.expect("answered"), format!("call {i}"));
            seen.push(i);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        let answer = pipeline
            .request(Bytes::from("last"))
            .await
            .expect("answered");
        assert_eq!((answer.status, answer.text().as_str()), (200, "last"));
    }
}
