//! The simulated network: every message between two processes is an [`Envelope`] on a
//! directed link. A link is FIFO, because Drover's clients send their calls one after another
//! and streams are TCP (nothing inside one connection overtakes or repeats); different links
//! race, which is where reordering comes from. A partition drops what crosses it, and a stream
//! that lost a message is broken for good, as a TCP connection that timed out would be.

use std::collections::{BTreeMap, BTreeSet};

use drover_core::master::Conn;
use drover_wire::internal::{AgentCall, AgentEvent};
use drover_wire::v1::scheduler;

/// A process slot in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeId {
    /// A master slot (0 or 1).
    Master(usize),
    /// An agent host.
    Agent(usize),
    /// The Marathon scheduler.
    Marathon,
    /// The plain scripted framework.
    Plain,
}

/// Which framework a scheduler-side message concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fw {
    /// Marathon (partition-aware).
    Marathon,
    /// The plain framework (not partition-aware).
    Plain,
}

impl Fw {
    /// The node running this framework.
    pub fn node(self) -> NodeId {
        match self {
            Fw::Marathon => NodeId::Marathon,
            Fw::Plain => NodeId::Plain,
        }
    }
}

/// What travels.
#[derive(Debug, Clone)]
pub enum Payload {
    /// Scheduler SUBSCRIBE (opens stream `conn`).
    Subscribe { conn: Conn, call: scheduler::Call },
    /// Any other scheduler call on the stream `stream_id`.
    SchedCall {
        stream_id: String,
        call: scheduler::Call,
    },
    /// Agent REGISTER/REREGISTER (opens session `conn`).
    AgentSubscribe { conn: Conn, call: AgentCall },
    /// Any other agent call on the session `stream_id`.
    AgentCall { stream_id: String, call: AgentCall },
    /// The answer to a SUBSCRIBE or REGISTER: `true` when the stream opened.
    StreamReply { conn: Conn, ok: bool },
    /// An event on a scheduler stream.
    SchedEvent {
        conn: Conn,
        event: Box<scheduler::Event>,
    },
    /// An event on an agent session.
    AgentEvent { conn: Conn, event: Box<AgentEvent> },
    /// The master closed the stream (or its process died and the kernel closed it).
    StreamEnd { conn: Conn },
    /// The client's process died and the kernel reset its stream.
    ClientGone { conn: Conn, agent: bool },
}

/// The tasks a scheduler call names, for traces.
fn sched_call_detail(call: &scheduler::Call) -> String {
    let mut ids: Vec<String> = Vec::new();
    if let Some(k) = &call.kill {
        ids.push(k.task_id.value.clone());
    }
    if let Some(a) = &call.acknowledge {
        ids.push(a.task_id.value.clone());
    }
    if let Some(a) = &call.accept {
        for op in &a.operations {
            if let Some(l) = &op.launch {
                ids.extend(l.task_infos.iter().map(|t| t.task_id.value.clone()));
            }
        }
    }
    if let Some(r) = &call.reconcile {
        ids.extend(r.tasks.iter().map(|t| t.task_id.value.clone()));
    }
    if ids.is_empty() {
        String::new()
    } else {
        format!(" [{}]", ids.join(" "))
    }
}

/// The tasks and states an agent call carries, for traces.
fn agent_call_detail(call: &AgentCall) -> String {
    let mut parts: Vec<String> = Vec::new();
    for u in call.status_update.iter().chain(call.status_updates.iter()) {
        parts.push(format!("{} {:?}", u.status.task_id.value, u.status.state()));
    }
    if let Some(r) = &call.reregister {
        parts.extend(
            r.tasks
                .iter()
                .map(|t| format!("{} {:?}", t.task_id.value, t.state())),
        );
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" [{}]", parts.join(", "))
    }
}

/// The task an agent event names, for traces.
fn agent_event_detail(event: &AgentEvent) -> String {
    let id = event
        .run_task
        .as_ref()
        .and_then(|r| r.task.as_ref())
        .map(|t| t.task_id.value.clone())
        .or_else(|| event.kill_task.as_ref().map(|k| k.task_id.value.clone()))
        .or_else(|| event.acknowledge.as_ref().map(|a| a.task_id.value.clone()));
    id.map(|id| format!(" [{id}]")).unwrap_or_default()
}

impl Payload {
    /// A short name for traces.
    pub fn name(&self) -> String {
        match self {
            Payload::Subscribe { conn, .. } => format!("SUBSCRIBE c{}", conn.0),
            Payload::SchedCall { call, .. } => {
                format!("call {:?}{}", call.r#type(), sched_call_detail(call))
            }
            Payload::AgentSubscribe { conn, .. } => format!("REGISTER c{}", conn.0),
            Payload::AgentCall { call, .. } => {
                format!("agent-call {:?}{}", call.r#type(), agent_call_detail(call))
            }
            Payload::StreamReply { conn, ok } => format!("stream-reply c{} ok={ok}", conn.0),
            Payload::SchedEvent { conn, event } => {
                format!("event c{} {:?}", conn.0, event.r#type())
            }
            Payload::AgentEvent { conn, event } => {
                format!(
                    "agent-event c{} {:?}{}",
                    conn.0,
                    event.r#type(),
                    agent_event_detail(event)
                )
            }
            Payload::StreamEnd { conn } => format!("stream-end c{}", conn.0),
            Payload::ClientGone { conn, .. } => format!("client-gone c{}", conn.0),
        }
    }

    /// The stream this message belongs to, if it is part of one (loss breaks the stream).
    pub fn stream(&self) -> Option<Conn> {
        match self {
            Payload::StreamReply { conn, .. }
            | Payload::SchedEvent { conn, .. }
            | Payload::AgentEvent { conn, .. } => Some(*conn),
            _ => None,
        }
    }
}

/// A message in flight.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// The receiver's process incarnation the sender was talking to (a restarted process
    /// never receives what was sent to its predecessor).
    pub to_inc: u64,
    /// The message.
    pub payload: Payload,
}

/// Partitions, broken streams and per-link FIFO times.
#[derive(Debug, Default)]
pub struct Net {
    /// Directed pairs that drop everything: (from, to).
    pub blocked: BTreeSet<(NodeId, NodeId)>,
    /// Streams that lost a message.
    pub broken: BTreeSet<Conn>,
    /// Latest delivery time per link, so a link never reorders.
    pub link_last: BTreeMap<(NodeId, NodeId), u64>,
    /// Probability that a request (not a stream message) is lost.
    pub drop_p: f64,
    /// Probability that an idempotent call is delivered twice.
    pub dup_p: f64,
}

impl Net {
    /// Whether `from` can reach `to` now.
    pub fn reachable(&self, from: NodeId, to: NodeId) -> bool {
        !self.blocked.contains(&(from, to))
    }

    /// Cuts `a → b`, and `b → a` unless `one_way`.
    pub fn partition(&mut self, a: NodeId, b: NodeId, one_way: bool) {
        self.blocked.insert((a, b));
        if !one_way {
            self.blocked.insert((b, a));
        }
    }

    /// Heals every partition and stops random loss.
    pub fn heal_all(&mut self) {
        self.blocked.clear();
        self.drop_p = 0.0;
        self.dup_p = 0.0;
    }

    /// When a message sent now with `delay` arrives, keeping the link FIFO.
    pub fn arrival(&mut self, from: NodeId, to: NodeId, now: u64, delay: u64) -> u64 {
        let last = self.link_last.entry((from, to)).or_insert(0);
        let at = (now + delay).max(*last);
        *last = at;
        at
    }
}
