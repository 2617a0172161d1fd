//! A TCP listener whose connections speak TLS. Handshakes run off the accept loop, each in its
//! own task bounded by a deadline, and at most [`MAX_PENDING_HANDSHAKES`] at once, so a client
//! that connects and never finishes its handshake (or sends garbage) holds nothing for long and
//! never delays anyone else's accept. With downgrade support (`LIBPROCESS_SSL_SUPPORT_DOWNGRADE`)
//! the first byte tells the two apart: a TLS handshake starts with a handshake record (0x16),
//! anything else is served as plain HTTP on the same port, as libprocess did.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::tls::ServerTls;

/// Handshakes in progress at once; connections beyond it are closed on accept.
pub const MAX_PENDING_HANDSHAKES: usize = 1_024;

/// The first byte of a TLS record carrying a handshake message (a ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// A connection accepted by a [`TlsListener`]: TLS, or plain text when downgrade is allowed.
pub enum MaybeTls {
    /// A plain-text client (only with downgrade support).
    Plain(TcpStream),
    /// A TLS client.
    Tls(Box<TlsStream<TcpStream>>),
}

impl std::fmt::Debug for MaybeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_tls() {
            "MaybeTls::Tls"
        } else {
            "MaybeTls::Plain"
        })
    }
}

impl MaybeTls {
    /// Whether this connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTls::Tls(_))
    }
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_read(cx, buf),
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_write(cx, buf),
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_flush(cx),
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_shutdown(cx),
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(io) => io.is_write_vectored(),
            MaybeTls::Tls(io) => io.is_write_vectored(),
        }
    }
}

/// Aborts the accepting task when the listener is dropped (the server stopped).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A listener handing out connections whose TLS handshake has completed.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(MaybeTls, SocketAddr)>,
    _acceptor: AbortOnDrop,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("local", &self.local)
            .finish()
    }
}

impl TlsListener {
    /// Starts accepting on `listener`; each handshake must finish within `handshake_timeout`.
    /// Must be called inside a tokio runtime.
    pub fn new(
        listener: TcpListener,
        tls: ServerTls,
        handshake_timeout: Duration,
    ) -> io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(tls.config.clone());
        let pending = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
        let task = tokio::spawn(async move {
            loop {
                let (tcp, remote) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors or a transient error: back off a little rather
                        // than spin, as axum's own accept loop does.
                        tracing::debug!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = pending.clone().try_acquire_owned() else {
                    tracing::debug!(
                        max = MAX_PENDING_HANDSHAKES,
                        "connection refused: too many TLS handshakes in progress"
                    );
                    continue;
                };
                // Streams write one small record after another; without this each waits for
                // the peer's delayed ACK of the one before.
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                let downgrade = tls.downgrade;
                tokio::spawn(async move {
                    let outcome = tokio::time::timeout(
                        handshake_timeout,
                        handshake(tcp, acceptor, downgrade),
                    )
                    .await;
                    drop(permit);
                    match outcome {
                        Ok(Ok(io)) => {
                            let _ = tx.send((io, remote)).await;
                        }
                        // Garbage, a plain-text client without downgrade, a refused client
                        // certificate: the peer sees the connection closed. Debug only, so a
                        // scanner cannot flood the log.
                        Ok(Err(error)) => {
                            tracing::debug!(%remote, %error, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            local,
            ready,
            _acceptor: AbortOnDrop(task),
        })
    }
}

async fn handshake(tcp: TcpStream, acceptor: TlsAcceptor, downgrade: bool) -> io::Result<MaybeTls> {
    if downgrade {
        let mut first = [0u8; 1];
        if tcp.peek(&mut first).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before sending anything",
            ));
        }
        if first[0] != TLS_HANDSHAKE_RECORD {
            return Ok(MaybeTls::Plain(tcp));
        }
    }
    Ok(MaybeTls::Tls(Box::new(acceptor.accept(tcp).await?)))
}

impl axum::serve::Listener for TlsListener {
    type Io = MaybeTls;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
