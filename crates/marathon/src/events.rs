//! The event bus behind `/v2/events`: every event gets an increasing id, is broadcast to the
//! connected streams, and is kept in a bounded ring so a client reconnecting with
//! `Last-Event-ID` receives what it missed. Framing is Marathon's (CRLF, `event:`/`data:`) plus
//! an `id:` line.
//!
//! A frame is rendered lazily, once, by the first stream that sends it (or a replay that
//! needs it): with no one listening, publishing a scheduler event costs a move into the ring,
//! not its JSON. The bytes are those an eager rendering would have produced, since the
//! event and the time it is rendered for are fixed at publication.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use drover_core::marathon::event::Event;
use tokio::sync::broadcast;

use crate::json::render::event_json;

/// Events kept for replay.
pub const REPLAY_MAX: usize = 1024;
/// Events a slow stream may fall behind before it is closed (Marathon's
/// `--event_stream_max_outstanding_messages`).
pub const OUTSTANDING_MAX: usize = 1024;

/// What an event is rendered from.
#[derive(Debug)]
enum Source {
    /// Already JSON (API and stream events).
    Json(serde_json::Value),
    /// A scheduler event and the time it was published at (`event_json`'s `now_ms`).
    Scheduler(Event, u64),
}

#[derive(Debug)]
struct Lazy {
    source: Source,
    frame: OnceLock<Bytes>,
}

/// One published event, framed once (on first use) for all streams.
#[derive(Debug, Clone)]
pub struct Framed {
    /// Event id.
    pub id: u64,
    /// `eventType`.
    pub event_type: &'static str,
    lazy: Arc<Lazy>,
}

impl Framed {
    /// The SSE frame, rendered on the first call.
    pub fn frame(&self) -> Bytes {
        self.lazy
            .frame
            .get_or_init(|| {
                let id = self.id;
                let event_type = self.event_type;
                let text = match &self.lazy.source {
                    Source::Json(data) => {
                        format!("id: {id}\r\nevent: {event_type}\r\ndata: {data}\r\n\r\n")
                    }
                    Source::Scheduler(event, now) => {
                        let data = event_json(event, *now);
                        format!("id: {id}\r\nevent: {event_type}\r\ndata: {data}\r\n\r\n")
                    }
                };
                Bytes::from(text)
            })
            .clone()
    }
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
    pub fn publish(&self, event_type: &'static str, data: serde_json::Value) {
        self.publish_source(event_type, Source::Json(data));
    }

    /// Publishes a scheduler event, rendered with `event_json(&event, now_ms)` when a stream
    /// first needs it.
    pub fn publish_event(&self, event: Event, now_ms: u64) {
        self.publish_source(event.event_type(), Source::Scheduler(event, now_ms));
    }

    fn publish_source(&self, event_type: &'static str, source: Source) {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let id = ring.next_id;
        ring.next_id += 1;
        let framed = Framed {
            id,
            event_type,
            lazy: Arc::new(Lazy {
                source,
                frame: OnceLock::new(),
            }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use drover_core::marathon::condition::Condition;
    use drover_core::marathon::path::PathId;
    use drover_core::task::TaskState;

    #[test]
    fn lazy_frames_are_the_eager_rendering_in_order() {
        let bus = EventBus::new();
        let update = Event::StatusUpdate {
            slave_id: "agent-1".into(),
            task_id: "web.instance-1._app.1".into(),
            task_status: TaskState::TaskRunning,
            message: "\"ok\"".into(),
            app_id: PathId::parse_app_id("/web").unwrap(),
            host: "h1".into(),
            ip_addresses: vec!["10.0.0.1".into()],
            ports: vec![31000],
            version_ms: 5,
        };
        let changed = Event::InstanceChanged {
            instance_id: "web.instance-1".into(),
            condition: Condition::Running,
            run_spec_id: PathId::parse_app_id("/web").unwrap(),
            agent_id: Some("agent-1".into()),
            host: None,
            run_spec_version_ms: 5,
        };
        let api = serde_json::json!({"eventType": "api_post_event", "x": 1});
        bus.publish_event(update.clone(), 1_000);
        let (_, mut live) = bus.subscribe(None);
        bus.publish("api_post_event", api.clone());
        bus.publish_event(changed.clone(), 2_000);
        let frame = |id: u64, t: &str, data: &serde_json::Value| {
            Bytes::from(format!("id: {id}\r\nevent: {t}\r\ndata: {data}\r\n\r\n"))
        };
        let expected = [
            frame(1, "status_update_event", &event_json(&update, 1_000)),
            frame(2, "api_post_event", &api),
            frame(3, "instance_changed_event", &event_json(&changed, 2_000)),
        ];
        let (missed, _) = bus.subscribe(Some(0));
        let replayed: Vec<Bytes> = missed.iter().map(Framed::frame).collect();
        assert_eq!(replayed, expected);
        let first = live.try_recv().unwrap();
        assert_eq!((first.id, first.event_type), (2, "api_post_event"));
        assert_eq!(first.frame(), expected[1]);
        assert_eq!(live.try_recv().unwrap().frame(), expected[2]);
        let (missed, _) = bus.subscribe(Some(2));
        assert_eq!(missed.len(), 1);
        assert_eq!(missed[0].frame(), expected[2]);
    }
}
