//! Shared by the API tests: a server on a free port with its store in a temp dir (no master),
//! and one raw HTTP/1.1 request at a time.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Server {
    pub addr: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// The flags of a test server in `dir` (no master, loopback, no features).
pub fn flags(dir: &std::path::Path) -> drover_marathon::Flags {
    drover_marathon::Flags {
        master: None,
        http_port: 0,
        http_address: std::net::Ipv4Addr::LOCALHOST.into(),
        hostname: "127.0.0.1".into(),
        framework_name: "marathon".into(),
        mesos_role: "*".into(),
        task_launch_timeout: 300_000,
        reconciliation_interval: 600_000,
        enable_features: Vec::new(),
        work_dir: dir.to_path_buf(),
        local_port_min: 10_000,
        local_port_max: 20_000,
        ha: Default::default(),
        listener: Default::default(),
    }
}

pub async fn start(dir: &std::path::Path) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let flags = flags(dir);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(drover_marathon::serve(flags, listener, async move {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

impl Server {
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

pub struct Resp {
    pub status: u16,
    pub headers: String,
    pub body: Value,
}

/// One HTTP/1.1 request with `Connection: close`.
pub async fn call(addr: &str, method: &str, path: &str, body: Option<&str>) -> Resp {
    call_as(addr, method, path, Some("application/json"), body).await
}

/// One HTTP/1.1 request with `Connection: close` and the given `Content-Type` (or none).
pub async fn call_as(
    addr: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<&str>,
) -> Resp {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let content_type = content_type
        .map(|t| format!("Content-Type: {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let rest = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Resp {
        status,
        headers: head.to_owned(),
        body: serde_json::from_str(&rest).unwrap_or(Value::String(rest)),
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}
