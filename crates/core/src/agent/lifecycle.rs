//! Container endings and timers: launch failures, isolator limitations, executor exits,
//! (re)registration timeouts, shutdown grace, and removing what is finished.

use drover_wire::internal;
use drover_wire::v1;

use super::model::{ExecutorState, Limitation};
use super::{
    Agent, CheckpointOp, ContainerId, Effect, ExecutorId, FrameworkId,
    MAX_COMPLETED_TASKS_PER_EXECUTOR, TaskId,
};
use crate::task::emission::Trigger;

impl Agent {
    pub(super) fn container_launch_failed(
        &mut self,
        now_ms: u64,
        container_id: &ContainerId,
        message: &str,
        out: &mut Vec<Effect>,
    ) {
        let Some((framework_id, executor_id)) = self.containers.get(container_id).cloned() else {
            return;
        };
        self.end_executor(
            now_ms,
            &framework_id,
            &executor_id,
            Trigger::ContainerLaunchFailed,
            message,
            out,
        );
    }

    pub(super) fn container_limited(
        &mut self,
        container_id: &ContainerId,
        trigger: Trigger,
        message: String,
        out: &mut Vec<Effect>,
    ) {
        let Some((framework_id, executor_id)) = self.containers.get(container_id).cloned() else {
            return;
        };
        let Some(executor) = self
            .frameworks
            .get_mut(&framework_id)
            .and_then(|f| f.executors.get_mut(&executor_id))
        else {
            return;
        };
        if executor.limitation.is_some() || executor.state == ExecutorState::Terminated {
            return;
        }
        // Mesos destroys the whole container; its tasks are reported when it is gone.
        executor.limitation = Some(Limitation { trigger, message });
        executor.state = ExecutorState::Terminating { kill_at_ms: None };
        out.push(Effect::Kill {
            container_id: container_id.clone(),
            grace_ms: 0,
        });
    }

    pub(super) fn container_terminated(
        &mut self,
        now_ms: u64,
        container_id: &ContainerId,
        message: &str,
        oom_killed: bool,
        out: &mut Vec<Effect>,
    ) {
        let Some((framework_id, executor_id)) = self.containers.get(container_id).cloned() else {
            return;
        };
        let Some(executor) = self
            .frameworks
            .get_mut(&framework_id)
            .and_then(|f| f.executors.get_mut(&executor_id))
        else {
            return;
        };
        if oom_killed && executor.limitation.is_none() {
            executor.limitation = Some(Limitation {
                trigger: Trigger::ContainerLimitationMemory,
                message: message.to_owned(),
            });
        }
        let (trigger, detail) = match &executor.limitation {
            Some(l) => (l.trigger, l.message.clone()),
            None => (Trigger::ExecutorTerminated, message.to_owned()),
        };
        // Every custom executor's end is reported, a requested shutdown's too: the master lists
        // an executor until it hears it is gone (Mesos' agent sends `ExitedExecutorMessage`
        // for every executor but a generated command executor).
        if !executor.command_executor && executor.state != ExecutorState::Terminated {
            out.push(Effect::ToMaster(internal::AgentCall {
                r#type: Some(internal::agent_call::Type::ExecutorExited as i32),
                agent_id: self.agent_id.clone().map(|value| v1::AgentId { value }),
                executor_exited: Some(internal::agent_call::ExecutorExited {
                    framework_id: v1::FrameworkId {
                        value: framework_id.0.clone(),
                    },
                    executor_id: v1::ExecutorId {
                        value: executor_id.0.clone(),
                    },
                    status: Some(-1),
                }),
                ..Default::default()
            }));
        }
        self.end_executor(now_ms, &framework_id, &executor_id, trigger, &detail, out);
    }

    /// Marks the executor terminated and reports every task of it that is not terminal yet.
    fn end_executor(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        executor_id: &ExecutorId,
        trigger: Trigger,
        detail: &str,
        out: &mut Vec<Effect>,
    ) {
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return;
        };
        executor.state = ExecutorState::Terminated;
        executor.queued.clear();
        if let Some(conn) = executor.conn.take() {
            out.push(Effect::CloseExecutor(conn));
        }
        let live: Vec<TaskId> = executor
            .live_tasks()
            .map(|t| TaskId(t.info.task_id.value.clone()))
            .collect();
        for task_id in live {
            self.generate(now_ms, framework_id, &task_id, trigger, Some(detail), out);
        }
        if self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.terminating)
        {
            // No updates for a framework being torn down: its tasks just go.
            if let Some(executor) = self
                .frameworks
                .get_mut(framework_id)
                .and_then(|f| f.executors.get_mut(executor_id))
            {
                let ids: Vec<TaskId> = executor.tasks.keys().cloned().collect();
                for task_id in ids {
                    let seqs = self.sum.remove(framework_id, &task_id);
                    executor.tasks.remove(&task_id);
                    out.push(Effect::Checkpoint(CheckpointOp::RemoveTask {
                        framework_id: framework_id.clone(),
                        task_id,
                        update_seqs: seqs,
                        acks: Vec::new(),
                    }));
                }
            }
        }
        let task_ids: Vec<TaskId> = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .map(|e| e.tasks.keys().cloned().collect())
            .unwrap_or_default();
        for task_id in task_ids {
            self.complete_task_if_done(framework_id, &task_id, out);
        }
        self.cleanup_executor(framework_id, executor_id, out);
    }

    pub(super) fn tick(&mut self, now_ms: u64, out: &mut Vec<Effect>) {
        self.gc_due(now_ms, out);
        for (framework_id, status) in self.sum.due(now_ms) {
            self.send_update(&framework_id, status, out);
        }
        let mut timed_out = Vec::new();
        let mut kill_now = Vec::new();
        for (framework_id, framework) in &self.frameworks {
            for (executor_id, executor) in &framework.executors {
                match executor.state {
                    ExecutorState::Registering {
                        deadline_ms,
                        recovered,
                    } if deadline_ms <= now_ms => {
                        timed_out.push((framework_id.clone(), executor_id.clone(), recovered));
                    }
                    ExecutorState::Terminating {
                        kill_at_ms: Some(t),
                    } if t <= now_ms => {
                        kill_now.push((framework_id.clone(), executor_id.clone()));
                    }
                    _ => {}
                }
            }
        }
        for (framework_id, executor_id, recovered) in timed_out {
            let trigger = if recovered {
                Trigger::ExecutorReregistrationTimeout
            } else {
                Trigger::ExecutorRegistrationTimeout
            };
            let executor = self
                .frameworks
                .get_mut(&framework_id)
                .and_then(|f| f.executors.get_mut(&executor_id))
                .expect("collected above");
            executor.state = ExecutorState::Terminating { kill_at_ms: None };
            executor.queued.clear();
            out.push(Effect::Kill {
                container_id: executor.container_id.clone(),
                grace_ms: 0,
            });
            let live: Vec<TaskId> = executor
                .live_tasks()
                .map(|t| TaskId(t.info.task_id.value.clone()))
                .collect();
            for task_id in live {
                self.generate(now_ms, &framework_id, &task_id, trigger, None, out);
            }
        }
        for (framework_id, executor_id) in kill_now {
            let executor = self
                .frameworks
                .get_mut(&framework_id)
                .and_then(|f| f.executors.get_mut(&executor_id))
                .expect("collected above");
            executor.state = ExecutorState::Terminating { kill_at_ms: None };
            out.push(Effect::Kill {
                container_id: executor.container_id.clone(),
                grace_ms: 0,
            });
        }
        if self.recovering.is_some_and(|t| t <= now_ms) {
            self.finish_recovery(now_ms, out);
        }
    }

    /// A terminal task whose updates are all acknowledged leaves the agent (its stream and
    /// checkpoints go); the executor and framework follow when empty and ended.
    pub(super) fn complete_task_if_done(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        out: &mut Vec<Effect>,
    ) {
        if self.sum.has_pending(framework_id, task_id) {
            return;
        }
        let agent_id = self.agent_id_or_empty();
        let checkpoint = self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.checkpoint());
        let mut home = None;
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            for (executor_id, executor) in framework.executors.iter_mut() {
                let Some(task) = executor.tasks.get(task_id) else {
                    continue;
                };
                if !task.is_terminal() {
                    return;
                }
                let task = executor.tasks.remove(task_id).expect("checked");
                executor.completed.push(task.to_v1(
                    framework_id.as_str(),
                    Some(executor_id.as_str()),
                    &agent_id,
                ));
                if executor.completed.len() > MAX_COMPLETED_TASKS_PER_EXECUTOR {
                    executor.completed.remove(0);
                }
                home = Some(executor_id.clone());
                break;
            }
        }
        let acks: Vec<Vec<u8>> = self
            .sum
            .stream(framework_id, task_id)
            .map(|s| s.acknowledged().iter().cloned().collect())
            .unwrap_or_default();
        let stream_existed = self.sum.stream(framework_id, task_id).is_some();
        let seqs = self.sum.remove(framework_id, task_id);
        if checkpoint && (home.is_some() || stream_existed) {
            out.push(Effect::Checkpoint(CheckpointOp::RemoveTask {
                framework_id: framework_id.clone(),
                task_id: task_id.clone(),
                update_seqs: seqs,
                acks,
            }));
        }
        if let Some(executor_id) = home {
            self.cleanup_executor(framework_id, &executor_id, out);
        } else {
            self.cleanup_framework(framework_id, out);
        }
    }

    /// Removes an ended executor that has no tasks left; its sandbox goes to GC.
    pub(super) fn cleanup_executor(
        &mut self,
        framework_id: &FrameworkId,
        executor_id: &ExecutorId,
        out: &mut Vec<Effect>,
    ) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let done = framework
            .executors
            .get(executor_id)
            .is_some_and(|e| e.state == ExecutorState::Terminated && e.tasks.is_empty());
        if !done {
            return;
        }
        let checkpoint = framework.checkpoint();
        let executor = framework
            .executors
            .remove(executor_id)
            .expect("checked above");
        let agent_id = self.agent_id.clone().unwrap_or_default();
        framework.completed_executors.push_back(executor.view(
            framework_id,
            executor_id,
            &agent_id,
        ));
        while framework.completed_executors.len() > super::MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK {
            framework.completed_executors.pop_front();
        }
        self.containers.remove(&executor.container_id);
        if checkpoint {
            out.push(Effect::Checkpoint(CheckpointOp::RemoveExecutor {
                framework_id: framework_id.clone(),
                executor_id: executor_id.clone(),
                container_id: executor.container_id.clone(),
            }));
        }
        self.gc_ended_executor(&executor.directory);
        self.cleanup_framework(framework_id, out);
    }

    /// Removes a framework with no executors and no update streams left.
    pub(super) fn cleanup_framework(&mut self, framework_id: &FrameworkId, out: &mut Vec<Effect>) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let streams_left = self.sum.streams().any(|((f, _), _)| f == framework_id);
        if !framework.executors.is_empty() || streams_left {
            return;
        }
        let framework = self.frameworks.remove(framework_id).expect("checked");
        self.completed_frameworks.push_back(super::FrameworkView {
            info: framework.info.clone(),
            executors: Vec::new(),
            completed_executors: framework.completed_executors.iter().cloned().collect(),
        });
        while self.completed_frameworks.len() > super::MAX_COMPLETED_FRAMEWORKS {
            self.completed_frameworks.pop_front();
        }
        if framework.checkpoint() {
            out.push(Effect::Checkpoint(CheckpointOp::RemoveFramework(
                framework_id.clone(),
            )));
        }
        self.gc_ended_framework(framework_id);
    }

    pub(super) fn check_recovery_done(&mut self, now_ms: u64, out: &mut Vec<Effect>) {
        if self.recovering.is_none() {
            return;
        }
        let waiting = self.frameworks.values().any(|f| {
            f.executors.values().any(|e| {
                matches!(
                    e.state,
                    ExecutorState::Registering {
                        recovered: true,
                        ..
                    }
                )
            })
        });
        if !waiting {
            self.finish_recovery(now_ms, out);
        }
    }

    /// Recovery is complete: a drain the previous run was carrying out goes on (its tasks
    /// that came back are killed again, as Mesos' agent replayed it), then the agent
    /// (re)registers.
    fn finish_recovery(&mut self, now_ms: u64, out: &mut Vec<Effect>) {
        self.recovering = None;
        if self.drain.is_some() {
            self.drain_started_ms = Some(now_ms);
            self.kill_for_drain(now_ms, out);
        }
        out.push(Effect::StartMasterSession);
    }
}
