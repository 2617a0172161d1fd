//! Recovery after an agent restart (spec §9): rebuild frameworks, executors, tasks and update
//! streams from checkpoints, wait for live executors to resubscribe, and decide what a dead
//! executor or a host reboot means for its tasks.

use std::collections::{BTreeMap, BTreeSet};

use drover_wire::v1;

use super::model::{ExecutorState, Framework, Task};
use super::sum::Pending;
use super::{Agent, ContainerId, Effect, Executor, ExecutorId, FrameworkId, TaskId};
use crate::resources;
use crate::task::emission::Trigger;

/// A checkpointed executor run (also what [`super::CheckpointOp::PutExecutor`] stores).
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveredExecutor {
    /// Its framework.
    pub framework_id: FrameworkId,
    /// Its info.
    pub info: v1::ExecutorInfo,
    /// Its container.
    pub container_id: ContainerId,
    /// Its sandbox.
    pub directory: String,
    /// Whether it is the built-in command executor.
    pub command_executor: bool,
    /// Whether the driver found its container still running.
    pub alive: bool,
}

/// Everything the driver found in the checkpoint store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovered {
    /// The agent id of the previous run, if it had registered.
    pub agent_id: Option<String>,
    /// The checkpointed boot id differs from this boot's: the host rebooted, nothing of the
    /// previous run is alive.
    pub rebooted: bool,
    /// Checkpointed frameworks.
    pub frameworks: Vec<v1::FrameworkInfo>,
    /// Checkpointed executor runs.
    pub executors: Vec<RecoveredExecutor>,
    /// Checkpointed tasks (latest state included).
    pub tasks: Vec<v1::Task>,
    /// Unacknowledged updates per task, in stream order.
    pub updates: Vec<(FrameworkId, TaskId, Pending)>,
    /// Acknowledged uuids per task.
    pub acks: Vec<(FrameworkId, TaskId, Vec<u8>)>,
    /// The checkpointed resources (dynamic reservations, persistent volumes).
    pub checkpointed_resources: Vec<v1::Resource>,
    /// The drain the previous run was carrying out: replayed once recovery is complete.
    pub drain: Option<v1::DrainConfig>,
}

impl Agent {
    pub(super) fn recover(&mut self, now_ms: u64, state: Recovered, out: &mut Vec<Effect>) {
        assert!(
            !self.recovered,
            "recover must be the first input, and only once"
        );
        self.recovered = true;
        self.agent_id = state.agent_id;
        self.checkpointed = resources::normalize(&state.checkpointed_resources);
        self.drain = state.drain;
        for info in state.frameworks {
            let id = FrameworkId(
                info.id
                    .as_ref()
                    .map(|i| i.value.clone())
                    .unwrap_or_default(),
            );
            self.frameworks.insert(
                id,
                Framework {
                    info,
                    executors: BTreeMap::new(),
                    terminating: false,
                    completed_executors: Default::default(),
                },
            );
        }
        let deadline = now_ms + self.config.executor_reregistration_timeout_ms;
        for record in state.executors {
            let Some(framework) = self.frameworks.get_mut(&record.framework_id) else {
                continue;
            };
            let executor_id = ExecutorId(record.info.executor_id.value.clone());
            let alive = record.alive && !state.rebooted;
            let executor = Executor {
                info: record.info,
                container_id: record.container_id.clone(),
                directory: record.directory,
                command_executor: record.command_executor,
                state: if alive {
                    ExecutorState::Registering {
                        deadline_ms: deadline,
                        recovered: true,
                    }
                } else {
                    ExecutorState::Terminating { kill_at_ms: None }
                },
                conn: None,
                queued: Vec::new(),
                tasks: BTreeMap::new(),
                completed: Vec::new(),
                limitation: None,
            };
            framework.executors.insert(executor_id.clone(), executor);
            self.containers
                .insert(record.container_id, (record.framework_id, executor_id));
        }
        for task in state.tasks {
            let framework_id = FrameworkId(task.framework_id.value.clone());
            let executor_id = ExecutorId(
                task.executor_id
                    .as_ref()
                    .map(|e| e.value.clone())
                    .unwrap_or_else(|| task.task_id.value.clone()),
            );
            if let Some(executor) = self
                .frameworks
                .get_mut(&framework_id)
                .and_then(|f| f.executors.get_mut(&executor_id))
            {
                executor
                    .tasks
                    .insert(TaskId(task.task_id.value.clone()), Task::from_v1(&task));
            }
        }
        let mut pending: BTreeMap<(FrameworkId, TaskId), Vec<Pending>> = BTreeMap::new();
        for (framework_id, task_id, p) in state.updates {
            pending.entry((framework_id, task_id)).or_default().push(p);
        }
        let mut acks: BTreeMap<(FrameworkId, TaskId), BTreeSet<Vec<u8>>> = BTreeMap::new();
        for (framework_id, task_id, uuid) in state.acks {
            acks.entry((framework_id, task_id))
                .or_default()
                .insert(uuid);
        }
        let keys: BTreeSet<(FrameworkId, TaskId)> =
            pending.keys().chain(acks.keys()).cloned().collect();
        for key in keys {
            let mut p = pending.remove(&key).unwrap_or_default();
            p.sort_by_key(|p| p.seq);
            self.sum
                .restore(&key.0, &key.1, p, acks.remove(&key).unwrap_or_default());
        }

        // Executors whose containers are gone: their tasks end now (a reboot reports them
        // gone, as executors that can never reregister; otherwise the executor terminated).
        let dead: Vec<(FrameworkId, ExecutorId, ContainerId)> = self
            .frameworks
            .iter()
            .flat_map(|(fid, f)| {
                f.executors
                    .iter()
                    .filter(|(_, e)| matches!(e.state, ExecutorState::Terminating { .. }))
                    .map(|(eid, e)| (fid.clone(), eid.clone(), e.container_id.clone()))
            })
            .collect();
        for (framework_id, executor_id, container_id) in dead {
            if state.rebooted {
                let live: Vec<TaskId> = self.frameworks[&framework_id].executors[&executor_id]
                    .live_tasks()
                    .map(|t| TaskId(t.info.task_id.value.clone()))
                    .collect();
                for task_id in live {
                    self.generate(
                        now_ms,
                        &framework_id,
                        &task_id,
                        Trigger::ExecutorReregistrationTimeout,
                        Some("the host rebooted, so the executor is gone"),
                        out,
                    );
                }
            }
            self.container_terminated(
                now_ms,
                &container_id,
                "Executor terminated while the agent was down",
                false,
                out,
            );
            // Whatever is left of its cgroups goes.
            out.push(Effect::Kill {
                container_id,
                grace_ms: 0,
            });
        }
        // Tasks whose terminal update was already acknowledged before the restart.
        let all: Vec<(FrameworkId, TaskId)> = self
            .frameworks
            .iter()
            .flat_map(|(fid, f)| {
                f.executors
                    .values()
                    .flat_map(|e| e.tasks.keys().map(|t| (fid.clone(), t.clone())))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (framework_id, task_id) in all {
            self.complete_task_if_done(&framework_id, &task_id, out);
        }
        let framework_ids: Vec<FrameworkId> = self.frameworks.keys().cloned().collect();
        for framework_id in framework_ids {
            self.cleanup_framework(&framework_id, out);
        }
        if !self.checkpointed.is_empty() {
            // Volumes survive restarts and reboots; a missing directory is made again (empty)
            // rather than failing every task that uses it. After the executors, so the volumes
            // their containers use are kept whatever happened.
            out.push(Effect::SyncVolumes(self.volume_dirs()));
        }
        self.recovering = Some(deadline);
        self.check_recovery_done(now_ms, out);
    }
}
