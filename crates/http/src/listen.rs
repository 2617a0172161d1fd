//! Listening sockets with a backlog sized for reconnect storms.

/// Listen backlog of the daemons' ports. After a restart every peer reconnects at once: all of
/// a cluster's agents to the master, every executor to its agent (1,000 executors in the G7
/// benchmark). With tokio's default of 128 pending connections the rest of the SYNs are
/// dropped, and each costs its peer a 1 s (then 3 s) retransmission. The kernel caps the
/// value at `net.core.somaxconn` (4,096 by default).
pub const LISTEN_BACKLOG: i32 = 16_384;

/// Raises the backlog of a listening socket: `listen(2)` on a socket that already listens
/// only changes its backlog (Linux), so listeners bound elsewhere (tests, `drover dev`, the
/// benchmarks) get it too. Best effort: the default backlog still works.
pub fn raise_backlog(listener: &tokio::net::TcpListener) {
    if let Err(error) = socket2::SockRef::from(listener).listen(LISTEN_BACKLOG) {
        tracing::debug!(%error, "cannot raise the listen backlog");
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_raised_backlog_holds_more_than_tokios_default_of_pending_connections() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        super::raise_backlog(&listener);
        let address = listener.local_addr().expect("address");
        // Nobody accepts: every connection waits in the backlog. With 128 the kernel would
        // drop the SYNs beyond it and these connects would stall for a second or more.
        let mut pending = Vec::new();
        for _ in 0..300 {
            let connect = tokio::net::TcpStream::connect(address);
            let stream = tokio::time::timeout(std::time::Duration::from_millis(500), connect)
                .await
                .expect("connected without a SYN retransmission")
                .expect("connect");
            pending.push(stream);
        }
        assert_eq!(pending.len(), 300);
    }
}
