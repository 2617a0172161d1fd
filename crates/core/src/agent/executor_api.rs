//! The agent side of the Executor HTTP API v1 (spec §4): SUBSCRIBE, UPDATE, MESSAGE,
//! HEARTBEAT, with Mesos' validation and subscription semantics.

use std::collections::BTreeSet;

use drover_wire::internal;
use drover_wire::v1;
use drover_wire::v1::executor::call::Type as CallType;

use super::launch::{launch_event, launch_group_event};
use super::model::ExecutorState;
use super::{Agent, CallError, ConnId, Effect, ExecutorId, FrameworkId, RequestId, TaskId};
use crate::task::emission::Trigger;
use crate::task::state::is_terminal;
use crate::task::{Source, TaskState};

impl Agent {
    pub(super) fn executor_call(
        &mut self,
        now_ms: u64,
        request: RequestId,
        conn: Option<ConnId>,
        call: v1::executor::Call,
        out: &mut Vec<Effect>,
    ) {
        let framework_id = FrameworkId(call.framework_id.value.clone());
        let executor_id = ExecutorId(call.executor_id.value.clone());
        let reply = |result| Effect::Reply { request, result };
        let kind = call.r#type.and_then(|t| CallType::try_from(t).ok());
        if kind == Some(CallType::Heartbeat) {
            out.push(reply(Ok(())));
            return;
        }
        if framework_id.0.is_empty() || executor_id.0.is_empty() {
            out.push(reply(Err(CallError::Invalid(
                "Expecting 'executor_id' and 'framework_id' to be present".to_owned(),
            ))));
            return;
        }
        let Some(framework) = self.frameworks.get(&framework_id) else {
            out.push(reply(Err(CallError::FrameworkNotFound)));
            return;
        };
        let Some(executor) = framework.executors.get(&executor_id) else {
            out.push(reply(Err(CallError::ExecutorNotFound)));
            return;
        };
        let subscribed = executor.conn.is_some() && executor.state != ExecutorState::Terminated;
        match kind {
            Some(CallType::Subscribe) => {
                let Some(conn) = conn else {
                    out.push(reply(Err(CallError::Invalid(
                        "SUBSCRIBE needs a streaming connection".to_owned(),
                    ))));
                    return;
                };
                out.push(reply(Ok(())));
                let subscribe = call.subscribe.unwrap_or_default();
                self.subscribe(now_ms, &framework_id, &executor_id, conn, subscribe, out);
            }
            Some(CallType::Update) => {
                if !subscribed {
                    out.push(reply(Err(CallError::NotSubscribed)));
                    return;
                }
                let Some(update) = call.update else {
                    out.push(reply(Err(CallError::Invalid(
                        "Expecting 'update' to be present".to_owned(),
                    ))));
                    return;
                };
                match self.executor_update(now_ms, &framework_id, &executor_id, update.status, out)
                {
                    Ok(()) => out.push(reply(Ok(()))),
                    Err(error) => out.push(reply(Err(error))),
                }
            }
            Some(CallType::Message) => {
                if !subscribed {
                    out.push(reply(Err(CallError::NotSubscribed)));
                    return;
                }
                let Some(message) = call.message else {
                    out.push(reply(Err(CallError::Invalid(
                        "Expecting 'message' to be present".to_owned(),
                    ))));
                    return;
                };
                out.push(Effect::ToMaster(internal::AgentCall {
                    r#type: Some(internal::agent_call::Type::FrameworkMessage as i32),
                    agent_id: self.agent_id.clone().map(|value| v1::AgentId { value }),
                    framework_message: Some(internal::agent_call::FrameworkMessage {
                        framework_id: call.framework_id,
                        executor_id: call.executor_id,
                        data: message.data,
                    }),
                    ..Default::default()
                }));
                out.push(reply(Ok(())));
            }
            _ => out.push(reply(Err(CallError::Invalid(
                "Expecting 'type' to be present".to_owned(),
            )))),
        }
    }

    fn subscribe(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        executor_id: &ExecutorId,
        conn: ConnId,
        subscribe: v1::executor::call::Subscribe,
        out: &mut Vec<Effect>,
    ) {
        let agent_info = self.agent_info();
        let framework = self.frameworks.get_mut(framework_id).expect("checked");
        let terminating = framework.terminating;
        let framework_info = framework.info.clone();
        let executor = framework.executors.get_mut(executor_id).expect("checked");
        if terminating || executor.is_ending() {
            out.push(Effect::ToExecutor {
                conn,
                event: shutdown_event(),
            });
            out.push(Effect::CloseExecutor(conn));
            return;
        }
        if let Some(old) = executor.conn.replace(conn)
            && old != conn
        {
            out.push(Effect::CloseExecutor(old));
        }
        let recovered = matches!(
            executor.state,
            ExecutorState::Registering {
                recovered: true,
                ..
            }
        );
        executor.state = ExecutorState::Running;
        out.push(Effect::ToExecutor {
            conn,
            event: v1::executor::Event {
                r#type: Some(v1::executor::event::Type::Subscribed as i32),
                subscribed: Some(v1::executor::event::Subscribed {
                    executor_info: executor.info.clone(),
                    framework_info,
                    agent_info,
                    container_id: Some(v1::ContainerId {
                        value: executor.container_id.0.clone(),
                        parent: None,
                    }),
                }),
                ..Default::default()
            },
        });
        let queued = std::mem::take(&mut executor.queued);
        let group = executor.runs_task_groups();
        let mut members = Vec::new();
        for task_id in &queued {
            if let Some(task) = executor.tasks.get_mut(task_id) {
                task.delivered = true;
                if group {
                    members.push(task.info.clone());
                } else {
                    out.push(Effect::ToExecutor {
                        conn,
                        event: launch_event(&task.info),
                    });
                }
            }
        }
        if !members.is_empty() {
            // The group arrives whole: every task of it in one event, or none.
            out.push(Effect::ToExecutor {
                conn,
                event: launch_group_event(members),
            });
        }
        // Tasks that were STAGING when the agent went down and that the executor never
        // received (spec §4.3).
        let unacknowledged: BTreeSet<String> = subscribe
            .unacknowledged_tasks
            .iter()
            .map(|t| t.task_id.value.clone())
            .collect();
        let lost: Vec<TaskId> = if recovered {
            executor
                .tasks
                .iter()
                .filter(|(id, t)| {
                    t.state == TaskState::TaskStaging
                        && !queued.contains(id)
                        && !unacknowledged.contains(&id.0)
                })
                .map(|(id, _)| id.clone())
                .collect()
        } else {
            Vec::new()
        };
        let idle = executor.tasks.is_empty()
            && subscribe.unacknowledged_updates.is_empty()
            && subscribe.unacknowledged_tasks.is_empty();
        for update in subscribe.unacknowledged_updates {
            // Each goes through the normal path; duplicates are only acknowledged again.
            let _ = self.executor_update(now_ms, framework_id, executor_id, update.status, out);
        }
        for task_id in lost {
            self.generate(
                now_ms,
                framework_id,
                &task_id,
                Trigger::LaunchedDuringAgentRestart,
                None,
                out,
            );
        }
        if idle {
            self.shutdown_executor(now_ms, framework_id, executor_id, out);
        }
        self.check_recovery_done(now_ms, out);
    }

    /// Validates an UPDATE (spec §4.1) and feeds it to the status update manager; the
    /// executor gets ACKNOWLEDGED once it is accepted (after the checkpoint commits).
    fn executor_update(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        executor_id: &ExecutorId,
        mut status: v1::TaskStatus,
        out: &mut Vec<Effect>,
    ) -> Result<(), CallError> {
        let invalid = |m: &str| Err(CallError::Invalid(m.to_owned()));
        match status.uuid.as_deref() {
            Some(uuid) if uuid.len() == 16 => {}
            _ => return invalid("'status.uuid' must be a valid UUID"),
        }
        if status.source != Some(Source::Executor as i32) {
            return invalid("Received Call from executor with invalid 'status.source'");
        }
        let Ok(state) = TaskState::try_from(status.state) else {
            return invalid("'status.state' is not a known task state");
        };
        if state == TaskState::TaskStaging {
            return invalid("Received TASK_STAGING from executor");
        }
        if state == TaskState::TaskUnknown {
            return invalid("Received TASK_UNKNOWN from executor");
        }
        if let Some(id) = &status.executor_id
            && id.value != executor_id.0
        {
            return invalid("ExecutorID in Call and 'status.executor_id' do not match");
        }
        let task_id = TaskId(status.task_id.value.clone());
        let uuid = status.uuid.clone().unwrap_or_default();
        let framework = self.frameworks.get(framework_id).expect("checked");
        let executor = framework.executors.get(executor_id).expect("checked");
        let conn = executor.conn;
        let ack = |out: &mut Vec<Effect>| {
            if let Some(conn) = conn {
                out.push(Effect::ToExecutor {
                    conn,
                    event: v1::executor::Event {
                        r#type: Some(v1::executor::event::Type::Acknowledged as i32),
                        acknowledged: Some(v1::executor::event::Acknowledged {
                            task_id: v1::TaskId {
                                value: task_id.0.clone(),
                            },
                            uuid: uuid.clone(),
                        }),
                        ..Default::default()
                    },
                });
            }
        };
        let duplicate = self.sum.stream(framework_id, &task_id).is_some_and(|s| {
            s.acknowledged().contains(&uuid)
                || s.pending().any(|p| p.status.uuid.as_ref() == Some(&uuid))
        });
        let task = executor.tasks.get(&task_id);
        if duplicate || task.is_none() || executor.limitation.is_some() || framework.terminating {
            // A retransmission, an update for a task already completed, or news from a
            // container an isolator has limited (the agent reports the limitation itself):
            // acknowledged so the executor stops resending, and not forwarded.
            ack(out);
            return Ok(());
        }
        let task = task.expect("checked");
        if is_terminal(task.state) && task.state != state {
            return Err(CallError::Invalid(format!(
                "Task {task_id} already terminated as {}; refusing {}",
                task.state.as_str_name(),
                state.as_str_name()
            )));
        }
        status.source = Some(Source::Executor as i32);
        status.executor_id = Some(v1::ExecutorId {
            value: executor_id.0.clone(),
        });
        status.agent_id = self.agent_id.clone().map(|value| v1::AgentId { value });
        if status.timestamp.is_none() {
            status.timestamp = Some(now_ms as f64 / 1000.0);
        }
        self.accept_update(now_ms, framework_id, status, out);
        ack(out);
        Ok(())
    }

    pub(super) fn executor_disconnected(&mut self, conn: ConnId) {
        for framework in self.frameworks.values_mut() {
            for executor in framework.executors.values_mut() {
                if executor.conn == Some(conn) {
                    // A checkpointing framework's executor resubscribes by itself; any
                    // other exits. Either way the container's end is what counts.
                    executor.conn = None;
                }
            }
        }
    }

    /// `AgentInfo` with the id, for SUBSCRIBED.
    pub(super) fn agent_info(&self) -> v1::AgentInfo {
        let mut info = self.config.agent_info.clone();
        info.id = self.agent_id.clone().map(|value| v1::AgentId { value });
        info.resources = self.total_resources();
        info
    }
}

fn shutdown_event() -> v1::executor::Event {
    v1::executor::Event {
        r#type: Some(v1::executor::event::Type::Shutdown as i32),
        ..Default::default()
    }
}
