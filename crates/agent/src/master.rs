//! The session with the master (Drover's internal protocol, `drover.internal`): REGISTER or
//! REREGISTER as a streaming POST, events from the stream into the driver, later calls as
//! separate POSTs with the session's `Mesos-Stream-Id`; reconnect after any break with
//! Mesos' random backoff `[0, factor·2^n]` capped at one minute. A session on which nothing
//! (not even a PING) arrives for the master's advertised ping window (its
//! `ping_timeout × max_ping_timeouts`; Mesos' 75 s until the master has answered) is dropped
//! and registration starts again, as Mesos' agent re-detects the master after its ping
//! timeout: without it, an agent
//! whose master went silent (a partition that ate the stream's end) stayed on a dead session
//! forever, its status updates unacknowledged.
//!
//! Calls go out one at a time; status updates that queue up meanwhile travel together in one
//! `STATUS_UPDATES` call (issue 8, G4: a POST per update was most of the pipeline's cost). A
//! master that refuses the batched call (one older than it) gets them one by one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use drover_core::agent::{ExecutorId, FrameworkId, Input, TaskId, session};
use drover_http::client::Client;
use drover_wire::codec::APPLICATION_PROTOBUF;
use drover_wire::internal;
use drover_wire::internal::agent_call::Type as CallType;
use drover_wire::internal::agent_event::Type as EventType;
use prost::Message;
use tokio::sync::{mpsc, oneshot, watch};

use crate::driver::Msg;

/// Where the master serves Drover's agent protocol.
pub const AGENT_PATH: &str = "/drover/internal/agent";
/// Status updates in one call at most.
const MAX_UPDATES_PER_CALL: usize = 1000;
const HEADERS: &[(&str, &str)] = &[
    ("Content-Type", APPLICATION_PROTOBUF),
    ("Accept", APPLICATION_PROTOBUF),
];

/// Runs the session: registration, the event stream, and the calls the driver sends, until
/// the master shuts this agent down (it was marked gone): then returns the master's message,
/// since registering again can never succeed.
pub async fn run(
    mut master: watch::Receiver<Option<String>>,
    backoff_factor: Duration,
    credential: Option<drover_http::auth::Credential>,
    driver: mpsc::Sender<Msg>,
    mut calls: mpsc::Receiver<internal::AgentCall>,
) -> Option<String> {
    let client = Client::new();
    // Every call carries the agent's credential when it has one (`--authenticate_agents`).
    let authorization = credential.map(|c| c.header_value());
    let mut session_headers = HEADERS.to_vec();
    if let Some(value) = &authorization {
        session_headers.push(("Authorization", value.as_str()));
    }
    let session_headers: Arc<Vec<(&'static str, String)>> = Arc::new(
        session_headers
            .into_iter()
            .map(|(k, v)| (k, v.to_owned()))
            .collect(),
    );
    // The session's stream id and the master's URL it belongs to: calls go where the
    // session is.
    let stream_id: Arc<Mutex<Option<(String, String)>>> = Arc::new(Mutex::new(None));
    {
        // Calls go out concurrently with the event stream; without a session they are
        // dropped (the status update manager resends after reregistration).
        let (client, stream_id) = (client.clone(), stream_id.clone());
        let session_headers = session_headers.clone();
        tokio::spawn(async move {
            while let Some(call) = calls.recv().await {
                let mut queued = vec![call];
                while queued.len() < MAX_UPDATES_PER_CALL {
                    match calls.try_recv() {
                        Ok(call) => queued.push(call),
                        Err(_) => break,
                    }
                }
                let session = stream_id.lock().expect("not poisoned").clone();
                let Some((url, id)) = session else { continue };
                let mut headers: Vec<(&str, &str)> = session_headers
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .collect();
                headers.push(("Mesos-Stream-Id", id.as_str()));
                for call in coalesce(queued) {
                    let refused = send(&client, &url, &headers, &call).await;
                    if refused && call.r#type == Some(CallType::StatusUpdates as i32) {
                        for single in split(call) {
                            send(&client, &url, &headers, &single).await;
                        }
                    }
                }
            }
        });
    }
    let mut attempt: u32 = 0;
    loop {
        // Wait for a leader (always there with a fixed --master).
        let leader = match master.wait_for(Option::is_some).await {
            Ok(leader) => leader.clone().unwrap_or_default(),
            Err(_) => return None,
        };
        let url = format!("{}://{leader}{AGENT_PATH}", drover_http::tls::scheme());
        let (reply_tx, reply_rx) = oneshot::channel();
        if driver.send(Msg::RegistrationCall(reply_tx)).await.is_err() {
            return None;
        }
        let Ok(call) = reply_rx.await else {
            return None;
        };
        let body = Bytes::from(call.encode_to_vec());
        let stream_headers: Vec<(&str, &str)> = session_headers
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        match client
            .post_stream(&url, &stream_headers, body, 64 * 1024 * 1024)
            .await
        {
            Ok(mut response) => {
                *stream_id.lock().expect("not poisoned") = response
                    .header("Mesos-Stream-Id")
                    .map(|id| (url.clone(), id));
                // The id this session registered under: the master refuses calls without it,
                // a PONG included (without it every agent was marked unreachable after
                // ping timeout × max pings, however healthy).
                let mut agent_id: Option<drover_wire::v1::AgentId> = None;
                let mut silence = Duration::from_millis(session::master_ping_timeout_ms(None));
                loop {
                    let next = tokio::select! {
                        next = tokio::time::timeout(silence, response.records.next()) => next,
                        // Another master leads: register with it.
                        () = leader_changed(&mut master) => {
                            if master.borrow().as_deref() != Some(leader.as_str()) {
                                tracing::info!(old = %leader, "the leading master changed");
                                break;
                            }
                            continue;
                        }
                    };
                    let Ok(Some(record)) = next else {
                        if next.is_err() {
                            tracing::warn!(
                                        timeout = ?silence,
                                "no PING from the master; re-detecting"
                            );
                        }
                        break;
                    };
                    let Ok(record) = record else { break };
                    let Ok(event) = internal::AgentEvent::decode(record) else {
                        tracing::warn!("undecodable event from the master");
                        continue;
                    };
                    if let Some(registered) =
                        event.registered.as_ref().or(event.reregistered.as_ref())
                    {
                        agent_id = Some(registered.agent_id.clone());
                        silence = Duration::from_millis(session::master_ping_timeout_ms(Some(
                            registered,
                        )));
                    }
                    if event.r#type == Some(EventType::Ping as i32) {
                        let pong = internal::AgentCall {
                            r#type: Some(internal::agent_call::Type::Pong as i32),
                            agent_id: agent_id.clone(),
                            pong: Some(internal::agent_call::Pong {
                                sequence: event.ping.and_then(|p| p.sequence),
                            }),
                            ..Default::default()
                        };
                        let (client, url, id) = (
                            client.clone(),
                            url.clone(),
                            response.header("Mesos-Stream-Id"),
                        );
                        // With the credential, like every other call of the session.
                        let session_headers = session_headers.clone();
                        tokio::spawn(async move {
                            let mut headers: Vec<(&str, &str)> = session_headers
                                .iter()
                                .map(|(k, v)| (*k, v.as_str()))
                                .collect();
                            if let Some(id) = id.as_deref() {
                                headers.push(("Mesos-Stream-Id", id));
                            }
                            let _ = client
                                .post(&url, &headers, Bytes::from(pong.encode_to_vec()))
                                .await;
                        });
                        continue;
                    }
                    if event.r#type == Some(EventType::Shutdown as i32) {
                        *stream_id.lock().expect("not poisoned") = None;
                        let message = event.shutdown.and_then(|s| s.message).unwrap_or_default();
                        return Some(message);
                    }
                    if let Some(input) = to_input(event, &mut attempt)
                        && driver.send(Msg::Input(input)).await.is_err()
                    {
                        return None;
                    }
                }
                *stream_id.lock().expect("not poisoned") = None;
                tracing::info!("session with the master ended");
                if driver.send(Msg::Input(Input::Disconnected)).await.is_err() {
                    return None;
                }
            }
            Err(error) => {
                tracing::info!(error = %error, "registering with the master failed");
            }
        }
        // Jitter from a fresh v4 uuid: the driver's only randomness source.
        let cap =
            (backoff_factor * 2u32.saturating_pow(attempt.min(16))).min(Duration::from_secs(60));
        let random = u64::from_le_bytes(
            uuid::Uuid::new_v4().as_bytes()[..8]
                .try_into()
                .expect("8 bytes"),
        );
        let wait = Duration::from_nanos(random % (cap.as_nanos() as u64).max(1));
        attempt = attempt.saturating_add(1);
        // A newly detected master is tried at once, as Mesos' agent does.
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            () = leader_changed(&mut master) => {}
        }
    }
}

/// Resolves when the detected leader changes. A fixed `--master` never changes: its watch's
/// sender is gone, which must not read as a change (it would end every session at once).
async fn leader_changed(master: &mut watch::Receiver<Option<String>>) {
    if master.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// POSTs one call; true if the master answered it with 400 (a call it does not understand).
async fn send(
    client: &Client,
    url: &str,
    headers: &[(&str, &str)],
    call: &internal::AgentCall,
) -> bool {
    let body = Bytes::from(call.encode_to_vec());
    match client.post(url, headers, body).await {
        Ok(r) if r.status.is_success() => false,
        Ok(r) => {
            tracing::debug!(status = %r.status, body = %r.text(), "master refused a call");
            r.status.as_u16() == 400
        }
        Err(error) => {
            tracing::debug!(error = %error, "sending a call to the master");
            false
        }
    }
}

/// Joins each run of consecutive `STATUS_UPDATE` calls into one `STATUS_UPDATES` call; every
/// other call keeps its place, and a lone update stays a `STATUS_UPDATE`.
fn coalesce(calls: Vec<internal::AgentCall>) -> Vec<internal::AgentCall> {
    let mut out: Vec<internal::AgentCall> = Vec::with_capacity(calls.len());
    let mut run: Vec<internal::agent_call::StatusUpdate> = Vec::new();
    let mut run_agent: Option<drover_wire::v1::AgentId> = None;
    let flush = |out: &mut Vec<internal::AgentCall>,
                 run: &mut Vec<internal::agent_call::StatusUpdate>,
                 agent_id: Option<drover_wire::v1::AgentId>| {
        let mut updates = std::mem::take(run);
        let call = match updates.len() {
            0 => return,
            1 => internal::AgentCall {
                r#type: Some(CallType::StatusUpdate as i32),
                agent_id,
                status_update: updates.pop(),
                ..Default::default()
            },
            _ => internal::AgentCall {
                r#type: Some(CallType::StatusUpdates as i32),
                agent_id,
                status_updates: updates,
                ..Default::default()
            },
        };
        out.push(call);
    };
    for call in calls {
        let is_update = call.r#type == Some(CallType::StatusUpdate as i32);
        if is_update && (run.is_empty() || run_agent == call.agent_id) {
            run_agent = call.agent_id.clone();
            run.extend(call.status_update);
            continue;
        }
        flush(&mut out, &mut run, run_agent.take());
        if is_update {
            run_agent = call.agent_id.clone();
            run.extend(call.status_update);
        } else {
            out.push(call);
        }
    }
    flush(&mut out, &mut run, run_agent);
    out
}

/// A `STATUS_UPDATES` call as the `STATUS_UPDATE` calls it joined.
fn split(call: internal::AgentCall) -> Vec<internal::AgentCall> {
    call.status_updates
        .into_iter()
        .map(|update| internal::AgentCall {
            r#type: Some(CallType::StatusUpdate as i32),
            agent_id: call.agent_id.clone(),
            status_update: Some(update),
            ..Default::default()
        })
        .collect()
}

fn to_input(event: internal::AgentEvent, attempt: &mut u32) -> Option<Input> {
    let kind = event.r#type.and_then(|t| EventType::try_from(t).ok())?;
    Some(match kind {
        EventType::Registered | EventType::Reregistered => {
            *attempt = 0;
            let registered = event.registered.or(event.reregistered)?;
            tracing::info!(agent_id = %registered.agent_id.value, "registered with the master");
            Input::Registered {
                agent_id: registered.agent_id.value,
            }
        }
        EventType::RunTask => Input::RunTask(event.run_task?),
        EventType::KillTask => {
            let k = event.kill_task?;
            Input::KillTask {
                framework_id: FrameworkId(k.framework_id.value),
                task_id: TaskId(k.task_id.value),
                kill_policy: k.kill_policy,
            }
        }
        EventType::Acknowledge => {
            let a = event.acknowledge?;
            Input::Acknowledge {
                framework_id: FrameworkId(a.framework_id.value),
                task_id: TaskId(a.task_id.value),
                uuid: a.uuid,
            }
        }
        EventType::UpdateFramework => {
            Input::UpdateFramework(event.update_framework?.framework_info)
        }
        EventType::ShutdownFramework => {
            Input::ShutdownFramework(FrameworkId(event.shutdown_framework?.framework_id.value))
        }
        EventType::ShutdownExecutor => {
            let s = event.shutdown_executor?;
            Input::ShutdownExecutor {
                framework_id: FrameworkId(s.framework_id.value),
                executor_id: ExecutorId(s.executor_id.value),
            }
        }
        EventType::ReconcileTasks => Input::ReconcileTasks(
            event
                .reconcile_tasks?
                .tasks
                .into_iter()
                .map(|e| {
                    let partition_aware = e.partition_aware.unwrap_or(false);
                    (
                        FrameworkId(e.framework_id.value),
                        TaskId(e.task_id.value),
                        partition_aware,
                    )
                })
                .collect(),
        ),
        EventType::FrameworkMessage => {
            let m = event.framework_message?;
            Input::FrameworkMessage {
                framework_id: FrameworkId(m.framework_id.value),
                executor_id: ExecutorId(m.executor_id.value),
                data: m.data,
            }
        }
        EventType::CheckpointResources => {
            Input::CheckpointResources(event.checkpoint_resources?.resources)
        }
        EventType::Drain => Input::Drain(event.drain?.config),
        EventType::Ping => return None,
        // Handled by the session loop, which ends the session for good.
        EventType::Shutdown => return None,
        EventType::Error => {
            tracing::warn!(message = ?event.error.map(|e| e.message), "the master refused the session");
            return None;
        }
        EventType::Unknown => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_wire::v1;

    fn update(task: &str) -> internal::AgentCall {
        internal::AgentCall {
            r#type: Some(CallType::StatusUpdate as i32),
            agent_id: Some(v1::AgentId { value: "a1".into() }),
            status_update: Some(internal::agent_call::StatusUpdate {
                framework_id: v1::FrameworkId { value: "f".into() },
                status: v1::TaskStatus {
                    task_id: v1::TaskId { value: task.into() },
                    ..Default::default()
                },
                latest_state: None,
            }),
            ..Default::default()
        }
    }

    fn pong() -> internal::AgentCall {
        internal::AgentCall {
            r#type: Some(CallType::Pong as i32),
            agent_id: Some(v1::AgentId { value: "a1".into() }),
            ..Default::default()
        }
    }

    /// (type, task ids) of each call.
    fn shape(calls: &[internal::AgentCall]) -> Vec<(i32, Vec<String>)> {
        calls
            .iter()
            .map(|c| {
                let tasks = c
                    .status_update
                    .iter()
                    .chain(&c.status_updates)
                    .map(|u| u.status.task_id.value.clone())
                    .collect();
                (c.r#type.unwrap_or_default(), tasks)
            })
            .collect()
    }

    #[test]
    fn runs_of_updates_are_joined_and_other_calls_keep_their_place() {
        let calls = vec![
            update("a"),
            update("b"),
            pong(),
            update("c"),
            pong(),
            update("d"),
            update("e"),
            update("f"),
        ];
        let (one, many, pong) = (
            CallType::StatusUpdate as i32,
            CallType::StatusUpdates as i32,
            CallType::Pong as i32,
        );
        let s = |ids: &[&str]| ids.iter().map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(
            shape(&coalesce(calls)),
            vec![
                (many, s(&["a", "b"])),
                (pong, vec![]),
                (one, s(&["c"])),
                (pong, vec![]),
                (many, s(&["d", "e", "f"])),
            ]
        );
    }

    #[test]
    fn a_batch_splits_back_into_the_calls_it_joined() {
        let calls = vec![update("a"), update("b"), update("c")];
        let joined = coalesce(calls.clone());
        assert_eq!(joined.len(), 1);
        assert_eq!(split(joined.into_iter().next().expect("one call")), calls);
    }
}
