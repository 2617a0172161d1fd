//! The event bus behind `/v2/events`: every event gets an increasing id, is broadcast to the
//! connected streams, and is kept in a bounded ring so a client reconnecting with
//! `Last-Event-ID` receives what it missed. Framing is Marathon's (CRLF, `event:`/`data:`) plus
//! an `id:` line.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::broadcast;

/// Events kept for replay.
pub const REPLAY_MAX: usize = 1024;
/// Events a slow stream may fall behind before it is closed (Marathon's
/// `--event_stream_max_outstanding_messages`).
pub const OUTSTANDING_MAX: usize = 1024;

/// One published event, framed once for all streams.
#[derive(Debug, Clone)]
pub struct Framed {
    /// Event id.
    pub id: u64,
    /// `eventType`.
    pub event_type: String,
    /// The SSE frame.
    pub frame: Bytes,
}

#[derive(Debug)]
struct Ring {
    next_id: u64,
    events: VecDeque<Framed>,
}

/// The bus; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    ring: Arc<Mutex<Ring>>,
    sender: broadcast::Sender<Framed>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

impl EventBus {
    /// An empty bus.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(OUTSTANDING_MAX);
        EventBus {
            ring: Arc::new(Mutex::new(Ring {
                next_id: 1,
                events: VecDeque::new(),
            })),
            sender,
        }
    }

    /// Publishes an event (its JSON must carry `eventType`).
    pub fn publish(&self, event_type: &str, data: &serde_json::Value) {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let id = ring.next_id;
        ring.next_id += 1;
        let frame = Bytes::from(format!(
            "id: {id}\r\nevent: {event_type}\r\ndata: {data}\r\n\r\n"
        ));
        let framed = Framed {
            id,
            event_type: event_type.to_owned(),
            frame,
        };
        if ring.events.len() == REPLAY_MAX {
            ring.events.pop_front();
        }
        ring.events.push_back(framed.clone());
        // Sent under the lock so that subscribe-then-replay sees no gap or duplicate.
        let _ = self.sender.send(framed);
    }

    /// Subscribes; returns the events after `last_id` still in the ring and the live receiver.
    pub fn subscribe(&self, last_id: Option<u64>) -> (Vec<Framed>, broadcast::Receiver<Framed>) {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let receiver = self.sender.subscribe();
        let missed = match last_id {
            Some(last) => ring
                .events
                .iter()
                .filter(|e| e.id > last)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        (missed, receiver)
    }
}
