//! A client for the Mesos Scheduler HTTP API v1 that any Rust framework can use.
//!
//! [`spawn`] starts a task that subscribes to the master (`POST /api/v1/scheduler`, protobuf),
//! keeps the subscription alive (resubscribing with exponential backoff and the framework id it
//! was given, detecting a silent master by missed heartbeats), sends calls with the
//! `Mesos-Stream-Id` header, and hands every event to the framework over a channel.
//!
//! While the master is unreachable, an `ACCEPT` cannot be delivered; like Mesos' own driver,
//! the client then answers each task of the launch locally with `TASK_DROPPED` (partition-aware
//! frameworks) or `TASK_LOST`, source `SOURCE_MASTER`, reason `REASON_MASTER_DISCONNECTED`
//! (`drover_core::task::emission`, trigger `AcceptWhileMasterDisconnected`), so the framework
//! can relaunch instead of waiting forever.

use std::time::Duration;

use bytes::Bytes;
use drover_core::task::TaskState;
use drover_core::task::emission::{Trigger, emission};
use drover_wire::v1;
use drover_wire::v1::scheduler::{Call, Event, call, event};
use prost::Message;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Calls queued for the client.
pub const CALLS_MAX: usize = 4096;
/// Events queued for the framework.
pub const EVENTS_MAX: usize = 4096;
/// Largest accepted event record.
pub const RECORD_BYTES_MAX: usize = 64 * 1024 * 1024;

/// How the client connects.
#[derive(Debug, Clone)]
pub struct Config {
    /// `host:port` of the master.
    pub master: String,
    /// The framework's info; its `id` is filled in after the first subscription.
    pub framework_info: v1::FrameworkInfo,
    /// Heartbeats that may be missed before the connection counts as dead.
    pub missed_heartbeats_max: u32,
    /// First reconnect delay.
    pub backoff_min: Duration,
    /// Largest reconnect delay.
    pub backoff_max: Duration,
}

impl Config {
    /// A config with Mesos' customary timings.
    pub fn new(master: impl Into<String>, framework_info: v1::FrameworkInfo) -> Self {
        Config {
            master: master.into(),
            framework_info,
            missed_heartbeats_max: 5,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }

    fn partition_aware(&self) -> bool {
        self.framework_info
            .capabilities
            .iter()
            .any(|c| c.r#type == Some(v1::framework_info::capability::Type::PartitionAware as i32))
    }
}

/// What the client tells the framework.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// Subscribed (or resubscribed) with this framework id.
    Subscribed {
        /// The framework id.
        framework_id: String,
    },
    /// An event from the master (never `SUBSCRIBED` or `HEARTBEAT`), or a local update.
    Event(Box<Event>),
    /// The subscription ended; the client is reconnecting.
    Disconnected {
        /// Why.
        reason: String,
    },
}

/// Starts the client; returns where to send calls (their `framework_id` is filled in) and where
/// events arrive. The client stops when the call sender is dropped.
pub fn spawn(config: Config) -> (mpsc::Sender<Call>, mpsc::Receiver<ClientEvent>) {
    let (call_tx, call_rx) = mpsc::channel(CALLS_MAX);
    let (event_tx, event_rx) = mpsc::channel(EVENTS_MAX);
    tokio::spawn(run(config, call_rx, event_tx));
    (call_tx, event_rx)
}

fn endpoint(master: &str) -> String {
    format!("http://{master}/api/v1/scheduler")
}

const PROTOBUF: &str = "application/x-protobuf";

async fn run(
    mut config: Config,
    mut calls: mpsc::Receiver<Call>,
    events: mpsc::Sender<ClientEvent>,
) {
    let client = drover_http::Client::new().with_timeout(Duration::from_secs(20));
    let mut backoff = config.backoff_min;
    loop {
        match session(&client, &mut config, &mut calls, &events).await {
            Session::Stop => return,
            Session::Lost(reason) => {
                tracing::warn!(reason = %reason, "disconnected from master");
                if events
                    .send(ClientEvent::Disconnected { reason })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        // Wait out the backoff, answering launches locally meanwhile.
        let until = Instant::now() + backoff;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                call = calls.recv() => match call {
                    None => return,
                    Some(call) => {
                        if !drop_while_disconnected(&config, &call, &events).await {
                            return;
                        }
                    }
                }
            }
        }
        backoff = (backoff * 2).min(config.backoff_max);
        if backoff == config.backoff_max {
            backoff = config.backoff_max;
        }
    }
}

enum Session {
    Stop,
    Lost(String),
}

async fn session(
    client: &drover_http::Client,
    config: &mut Config,
    calls: &mut mpsc::Receiver<Call>,
    events: &mpsc::Sender<ClientEvent>,
) -> Session {
    let subscribe = Call {
        framework_id: config.framework_info.id.clone(),
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: config.framework_info.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let url = endpoint(&config.master);
    let headers = [("Content-Type", PROTOBUF), ("Accept", PROTOBUF)];
    let mut stream = match client
        .post_stream(
            &url,
            &headers,
            Bytes::from(subscribe.encode_to_vec()),
            RECORD_BYTES_MAX,
        )
        .await
    {
        Ok(s) => s,
        Err(e) => return Session::Lost(e.to_string()),
    };
    let stream_id = stream.header("Mesos-Stream-Id").unwrap_or_default();
    let mut heartbeat = Duration::from_secs(15);
    let mut deadline = Instant::now() + heartbeat * config.missed_heartbeats_max;
    loop {
        tokio::select! {
            record = stream.records.next() => {
                let bytes = match record {
                    None => return Session::Lost("event stream ended".into()),
                    Some(Err(e)) => return Session::Lost(e.to_string()),
                    Some(Ok(b)) => b,
                };
                deadline = Instant::now() + heartbeat * config.missed_heartbeats_max;
                let Ok(event) = Event::decode(bytes) else {
                    return Session::Lost("undecodable event".into());
                };
                match event.r#type.and_then(|t| event::Type::try_from(t).ok()) {
                    Some(event::Type::Subscribed) => {
                        let Some(subscribed) = event.subscribed else { continue };
                        if let Some(seconds) = subscribed.heartbeat_interval_seconds
                            && seconds.is_finite() && seconds > 0.0
                        {
                            heartbeat = Duration::from_secs_f64(seconds.min(3600.0));
                            deadline = Instant::now() + heartbeat * config.missed_heartbeats_max;
                        }
                        config.framework_info.id = Some(subscribed.framework_id.clone());
                        let id = subscribed.framework_id.value;
                        if events.send(ClientEvent::Subscribed { framework_id: id }).await.is_err() {
                            return Session::Stop;
                        }
                    }
                    Some(event::Type::Heartbeat) => {}
                    Some(event::Type::Error) => {
                        let message = event.error.map(|e| e.message).unwrap_or_default();
                        return Session::Lost(format!("master error: {message}"));
                    }
                    _ => {
                        if events.send(ClientEvent::Event(Box::new(event))).await.is_err() {
                            return Session::Stop;
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Session::Lost("missed heartbeats".into());
            }
            call = calls.recv() => {
                let Some(mut call) = call else { return Session::Stop };
                call.framework_id = config.framework_info.id.clone();
                let headers = [
                    ("Content-Type", PROTOBUF),
                    ("Accept", PROTOBUF),
                    ("Mesos-Stream-Id", stream_id.as_str()),
                ];
                let sent = client.post(&url, &headers, Bytes::from(call.encode_to_vec())).await;
                match sent {
                    Ok(r) if r.status.is_success() => {}
                    Ok(r) => tracing::warn!(status = %r.status, body = %r.text(), "call refused"),
                    Err(e) => {
                        drop_while_disconnected(config, &call, events).await;
                        return Session::Lost(e.to_string());
                    }
                }
            }
        }
    }
}

/// Answers the tasks of an `ACCEPT` that cannot reach the master with local updates; other
/// calls are dropped (the framework reconciles after resubscribing). Returns false when the
/// framework is gone.
async fn drop_while_disconnected(
    config: &Config,
    call: &Call,
    events: &mpsc::Sender<ClientEvent>,
) -> bool {
    for status in undeliverable_launch_updates(call, config.partition_aware()) {
        let event = Event {
            r#type: Some(event::Type::Update as i32),
            update: Some(event::Update { status }),
            ..Default::default()
        };
        if events
            .send(ClientEvent::Event(Box::new(event)))
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}

/// The local updates for the tasks of an `ACCEPT` that could not reach the master
/// (`REASON_MASTER_DISCONNECTED`).
pub fn undeliverable_launch_updates(call: &Call, partition_aware: bool) -> Vec<v1::TaskStatus> {
    let row = emission(Trigger::AcceptWhileMasterDisconnected);
    let Some(accept) = &call.accept else {
        return Vec::new();
    };
    accept
        .operations
        .iter()
        .flat_map(|op| {
            let launch = op.launch.iter().flat_map(|l| l.task_infos.iter());
            let group = op
                .launch_group
                .iter()
                .flat_map(|g| g.task_group.tasks.iter());
            launch.chain(group)
        })
        .map(|task| {
            let mut status = row.status(
                &task.task_id.value,
                partition_aware,
                TaskState::TaskStaging,
                None,
            );
            status.agent_id = Some(task.agent_id.clone());
            status
        })
        .collect()
}

/// Builders for the calls a framework makes.
pub mod calls {
    use super::*;

    fn base(kind: call::Type) -> Call {
        Call {
            r#type: Some(kind as i32),
            ..Default::default()
        }
    }

    /// `ACCEPT` an offer, launching `tasks`.
    pub fn launch(offer_id: &str, tasks: Vec<v1::TaskInfo>) -> Call {
        let mut c = base(call::Type::Accept);
        c.accept = Some(call::Accept {
            offer_ids: vec![v1::OfferId {
                value: offer_id.to_owned(),
            }],
            operations: vec![v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::Launch as i32),
                launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
                ..Default::default()
            }],
            filters: None,
        });
        c
    }

    /// `DECLINE` offers.
    pub fn decline(offer_ids: &[String], refuse_seconds: f64) -> Call {
        let mut c = base(call::Type::Decline);
        c.decline = Some(call::Decline {
            offer_ids: offer_ids
                .iter()
                .map(|id| v1::OfferId { value: id.clone() })
                .collect(),
            filters: Some(v1::Filters {
                refuse_seconds: Some(refuse_seconds),
            }),
        });
        c
    }

    /// `KILL` a task.
    pub fn kill(task_id: &str, agent_id: Option<&str>) -> Call {
        let mut c = base(call::Type::Kill);
        c.kill = Some(call::Kill {
            task_id: v1::TaskId {
                value: task_id.to_owned(),
            },
            agent_id: agent_id.map(|a| v1::AgentId {
                value: a.to_owned(),
            }),
            kill_policy: None,
        });
        c
    }

    /// `ACKNOWLEDGE` an update.
    pub fn acknowledge(agent_id: &str, task_id: &str, uuid: Vec<u8>) -> Call {
        let mut c = base(call::Type::Acknowledge);
        c.acknowledge = Some(call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent_id.to_owned(),
            },
            task_id: v1::TaskId {
                value: task_id.to_owned(),
            },
            uuid,
        });
        c
    }

    /// `RECONCILE` these tasks (empty: implicit reconciliation of all).
    pub fn reconcile(tasks: &[(String, Option<String>)]) -> Call {
        let mut c = base(call::Type::Reconcile);
        c.reconcile = Some(call::Reconcile {
            tasks: tasks
                .iter()
                .map(|(task, agent)| call::reconcile::Task {
                    task_id: v1::TaskId {
                        value: task.clone(),
                    },
                    agent_id: agent.as_ref().map(|a| v1::AgentId { value: a.clone() }),
                })
                .collect(),
        });
        c
    }

    /// `REVIVE` offers.
    pub fn revive() -> Call {
        base(call::Type::Revive)
    }

    /// `SUPPRESS` offers.
    pub fn suppress() -> Call {
        base(call::Type::Suppress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_while_disconnected_drops_each_task() {
        let task = v1::TaskInfo {
            task_id: v1::TaskId { value: "t1".into() },
            agent_id: v1::AgentId { value: "a1".into() },
            ..Default::default()
        };
        let call = calls::launch("o1", vec![task]);
        let updates = undeliverable_launch_updates(&call, true);
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].state, TaskState::TaskDropped as i32);
        assert_eq!(
            updates[0].source,
            Some(v1::task_status::Source::Master as i32)
        );
        assert_eq!(
            updates[0].reason,
            Some(v1::task_status::Reason::MasterDisconnected as i32)
        );
        let updates = undeliverable_launch_updates(&call, false);
        assert_eq!(updates[0].state, TaskState::TaskLost as i32);
    }
}
