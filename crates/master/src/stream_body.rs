//! The body of the master's event streams (scheduler subscriptions, agent sessions, operator
//! subscriptions): RecordIO records read straight from the driver's bounded channel, every
//! record already queued joined into one chunk, and a [`CloseGuard`] that lives exactly as
//! long as the body, so the driver hears when the reader goes.
//!
//! Issue 8 (G4): the body used to be fed by a forwarding task through a channel of one, so
//! hyper saw one record at a time and wrote (and chunk-framed) each on its own; at 10,000
//! updates a second that was a task wake-up and a `writev` per event on both the framework's
//! and the agents' streams.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::header::{HeaderName, HeaderValue};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use drover_wire::codec::Encoding;
use drover_wire::recordio;
use tokio::sync::mpsc;

use crate::driver::CloseGuard;

/// Records joined into one chunk at most (a burst beyond it goes out in several).
const MAX_CHUNK_BYTES: usize = 256 * 1024;

/// A `200 OK` streaming each payload from `events` as one RecordIO record, with
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
        let first = match self.events.poll_recv(cx) {
            Poll::Ready(Some(first)) => first,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        let mut chunk = BytesMut::with_capacity(first.len() + 16);
        recordio::encode_into(&first, &mut chunk);
        // Whatever else is queued now goes in the same chunk; the end of the channel, if it
        // comes, is seen on the next poll (a closed, drained receiver keeps answering None).
        while chunk.len() < MAX_CHUNK_BYTES {
            match self.events.try_recv() {
                Ok(next) => recordio::encode_into(&next, &mut chunk),
                Err(_) => break,
            }
        }
        Poll::Ready(Some(Ok(chunk.freeze())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn queued_records_share_a_chunk_and_keep_their_framing_and_order() {
        let (handle, mut commands) = crate::driver::channel();
        let guard = handle.close_guard(
            drover_core::master::Conn(7),
            crate::driver::StreamKind::Agent,
        );
        let (tx, rx) = mpsc::channel(16);
        for payload in ["a", "bc", "def"] {
            tx.send(Bytes::from(payload)).await.expect("open");
        }
        let mut records = Records {
            events: rx,
            _guard: guard,
        };
        let chunk = records.next().await.expect("a chunk").expect("infallible");
        assert_eq!(&chunk[..], b"1\na2\nbc3\ndef");
        tx.send(Bytes::from("g")).await.expect("open");
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
