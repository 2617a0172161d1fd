//! The body of the master's event streams (scheduler subscriptions, agent sessions, operator
//! subscriptions): RecordIO records read straight from the driver's bounded channel, each record
//! its own HTTP chunk, and a [`CloseGuard`] that lives exactly as long as the body, so the
//! driver hears when the reader goes.
//!
//! One record per chunk is what Mesos writes, and clients that parse chunk by chunk depend on it
//! (issue 12: a JavaScript framework library lost SUBSCRIBED and OFFERS when several records
//! shared a chunk). Throughput is kept by hyper, not by joining records: while the body answers
//! `Ready`, hyper keeps polling it and copies each chunk into its write buffer (our connection
//! wrapper reports no vectored writes, so hyper flattens, up to ~400 KB per write), so a burst
//! of records still leaves in one socket write (issue 8, G4: that was the cost of a forwarding
//! task that let hyper see one record at a time).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::header::{HeaderName, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use drover_wire::codec::Encoding;
use tokio::sync::mpsc;

use crate::driver::CloseGuard;

/// A `200 OK` streaming each RecordIO record from `events` (already framed, see
/// `drover_http::encode_record`) as its own chunk, with
/// `Content-Type` = `encoding` and the extra `headers`; `guard` is dropped with the body.
pub fn response(
    encoding: Encoding,
    events: mpsc::Receiver<Bytes>,
    guard: CloseGuard,
    headers: &[(HeaderName, HeaderValue)],
) -> Response {
    let stream = Records {
        events,
        _guard: guard,
    };
    drover_http::streaming_response(encoding, Body::from_stream(stream), headers)
}

struct Records {
    events: mpsc::Receiver<Bytes>,
    _guard: CloseGuard,
}

impl futures::Stream for Records {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.events.poll_recv(cx) {
            // Framed by the sender (`drover_http::encode_record`): one buffer per record.
            Poll::Ready(Some(record)) => Poll::Ready(Some(Ok(record))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_wire::recordio;
    use futures::StreamExt;

    #[tokio::test]
    async fn each_queued_record_is_its_own_chunk_in_order() {
        let (handle, mut commands) = crate::driver::channel();
        let guard = handle.close_guard(
            drover_core::master::Conn(7),
            crate::driver::StreamKind::Agent,
        );
        let (tx, rx) = mpsc::channel(16);
        for payload in ["a", "bc", "def"] {
            tx.send(recordio::encode(payload.as_bytes()))
                .await
                .expect("open");
        }
        let mut records = Records {
            events: rx,
            _guard: guard,
        };
        for framed in [&b"1\na"[..], b"2\nbc", b"3\ndef"] {
            let chunk = records.next().await.expect("a chunk").expect("infallible");
            assert_eq!(&chunk[..], framed);
        }
        tx.send(recordio::encode(b"g")).await.expect("open");
        drop(tx);
        let chunk = records.next().await.expect("a chunk").expect("infallible");
        assert_eq!(&chunk[..], b"1\ng");
        assert!(records.next().await.is_none());
        drop(records);
        // Dropping the body tells the driver the stream closed.
        match commands.recv().await {
            Some(crate::driver::Command::Closed { conn, .. }) => assert_eq!(conn.0, 7),
            other => panic!("expected Closed, got {other:?}"),
        }
    }
}
