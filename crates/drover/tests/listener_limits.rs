//! Issue 14 item 1: thousands of half-open connections (each sent half a request header) do
//! not stop a scheduler from subscribing and launching a task; the master closes them after
//! its header read timeout; its RSS stays bounded meanwhile.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{Cluster, Framework};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

#[test]
fn half_open_connections_do_not_block_a_scheduler_and_are_closed() {
    let cluster = Cluster::start(false);
    let pid = cluster.master.pid();
    let before = rss_kib(pid);
    let mut idle = Vec::new();
    for _ in 0..5000 {
        let mut stream = TcpStream::connect(("127.0.0.1", cluster.master_port)).expect("connect");
        stream
            .write_all(b"GET /master/state HTTP/1.1\r\nHost: loc")
            .expect("half a header");
        idle.push(stream);
    }
    let agent_id = cluster.agent_id(0);
    let mut framework = Framework::start(&cluster, "through-the-crowd", &[]);
    framework.wait_registered();
    framework.launch("crowded", &agent_id, "sleep 300");
    framework.wait_update("crowded", "TASK_RUNNING", None);
    let grown = rss_kib(pid).saturating_sub(before);
    eprintln!("master RSS grew by {grown} KiB with 5000 half-open connections");
    assert!(
        grown < 256 * 1024,
        "master RSS grew by {grown} KiB with 5000 idle connections"
    );
    // Each half-open connection is closed by the master (EOF or reset) once its header
    // deadline passes; the generous read timeout only guards against a hang.
    for mut stream in idle {
        stream
            .set_read_timeout(Some(Duration::from_secs(180)))
            .expect("read timeout");
        let mut buf = [0u8; 256];
        match stream.read(&mut buf) {
            Ok(n) => assert!(
                n == 0
                    || buf[..n].starts_with(b"HTTP/1.1 408")
                    || buf[..n].starts_with(b"HTTP/1.1 400"),
                "unexpected answer {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "a half-open connection was never closed: {e}"
            ),
        }
    }
    cluster.master_json("/master/state");
}

/// Reads from `stream` until EOF (or a reset); panics if the peer keeps it open past `limit`.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    stream.set_read_timeout(Some(limit)).expect("read timeout");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("the connection was not closed: {e}"),
        }
    }
}

/// 5,000 keep-alive connections that each finished a request and then went quiet do not stop
/// a client from getting answers; the master closes them after `--http_idle_timeout` (the
/// header timeout is far away, so only the idle timeout can), while a scheduler subscription
/// on the same listener, quiet for just as long, stays open and keeps delivering events.
#[test]
fn idle_keep_alive_connections_are_closed_but_a_subscription_is_not() {
    let cluster = Cluster::start_with(support::Options {
        agents: 1,
        master_flags: vec![
            "--http_idle_timeout=3secs".to_owned(),
            "--http_header_read_timeout=10mins".to_owned(),
        ],
        ..support::Options::default()
    });
    let port = cluster.master_port;
    let mut subscription = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let body =
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"idle-test"}}}"#;
    let request = format!(
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    subscription
        .write_all(request.as_bytes())
        .expect("subscribe");
    let mut idle = Vec::new();
    for _ in 0..5000 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("request");
        idle.push(stream);
    }
    // Answers go through meanwhile.
    let (status, _) = support::http_get(port, "/master/state").expect("state answered");
    assert_eq!(status, 200);
    // Every quiet connection got its answer, then was closed by the idle timeout.
    for stream in &mut idle {
        let answer = read_until_closed(stream, Duration::from_secs(120));
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    // The subscription was as quiet as they were (heartbeats come every 15 s), yet it is open:
    // the next heartbeat still arrives on it.
    subscription
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // Everything buffered so far (SUBSCRIBED, the first heartbeat, offers) is drained first.
    subscription.set_nonblocking(true).expect("nonblocking");
    loop {
        match subscription.read(&mut buf) {
            Ok(0) => panic!("the subscription was closed"),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("subscription: {e}"),
        }
    }
    assert!(
        String::from_utf8_lossy(&seen).contains("SUBSCRIBED"),
        "{:?}",
        String::from_utf8_lossy(&seen)
    );
    subscription.set_nonblocking(false).expect("blocking");
    let mut after = Vec::new();
    while !String::from_utf8_lossy(&after).contains("HEARTBEAT") {
        match subscription.read(&mut buf) {
            Ok(0) => panic!("the subscription was closed by the idle timeout"),
            Ok(n) => after.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no heartbeat on the subscription: {e}"),
        }
    }
}
