//! Issue 14 item 1: thousands of half-open connections (each sent half a request header) do
//! not stop a scheduler from subscribing and launching a task; the master closes them after
//! its header read timeout; its RSS stays bounded meanwhile.

mod support;

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
    for _ in 0..3000 {
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
    assert!(
        grown < 256 * 1024,
        "master RSS grew by {grown} KiB with 3000 idle connections"
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
