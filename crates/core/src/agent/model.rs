//! The agent's bookkeeping: frameworks, their executors (one container each), and tasks.

use std::collections::BTreeMap;

use drover_wire::v1;

use super::ids::{ConnId, ContainerId, ExecutorId, TaskId};
use crate::task::TaskState;
use crate::task::emission::Trigger;
use crate::task::state::is_terminal;

/// A framework with executors on this agent.
#[derive(Debug, Clone)]
pub struct Framework {
    /// Latest `FrameworkInfo` (from RUN_TASK or UPDATE_FRAMEWORK).
    pub info: v1::FrameworkInfo,
    /// Its executors.
    pub executors: BTreeMap<ExecutorId, Executor>,
    /// SHUTDOWN_FRAMEWORK arrived: executors are being shut down and no update is generated.
    pub terminating: bool,
    /// Executors that ended, as the state endpoints show them (with their sandboxes), newest
    /// last, at most [`super::MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK`].
    pub completed_executors: std::collections::VecDeque<super::views::ExecutorView>,
}

impl Framework {
    /// Whether the framework asked for checkpointing (then everything of it survives restarts).
    pub fn checkpoint(&self) -> bool {
        self.info.checkpoint.unwrap_or(false)
    }

    /// Whether the framework has the `PARTITION_AWARE` capability.
    pub fn partition_aware(&self) -> bool {
        has_capability(
            &self.info,
            v1::framework_info::capability::Type::PartitionAware,
        )
    }
}

/// Whether `info` lists capability `kind`.
pub fn has_capability(
    info: &v1::FrameworkInfo,
    kind: v1::framework_info::capability::Type,
) -> bool {
    info.capabilities
        .iter()
        .any(|c| c.r#type == Some(kind as i32))
}

/// Where an executor is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorState {
    /// The container is launched (or launching) and the executor has not subscribed yet;
    /// `recovered` means it ran before the agent restarted and must *re*subscribe.
    Registering { deadline_ms: u64, recovered: bool },
    /// Subscribed.
    Running,
    /// Being shut down; the container is killed at `kill_at_ms` if it has not ended by then.
    Terminating { kill_at_ms: Option<u64> },
    /// The container has ended.
    Terminated,
}

/// Why the agent ended (or is ending) a container: a resource limitation, or its terminal's
/// I/O switchboard died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limitation {
    /// `ContainerLimitationMemory`, `ContainerLimitationDisk` or `IoSwitchboardExited`.
    pub trigger: Trigger,
    /// What was exceeded, Mesos' wording.
    pub message: String,
}

/// One executor run: one container.
#[derive(Debug, Clone)]
pub struct Executor {
    /// The executor's `ExecutorInfo` (synthesised for command tasks).
    pub info: v1::ExecutorInfo,
    /// Its container.
    pub container_id: ContainerId,
    /// Host sandbox path.
    pub directory: String,
    /// Whether this is Drover's built-in command executor.
    pub command_executor: bool,
    /// Life-cycle state.
    pub state: ExecutorState,
    /// Its current SUBSCRIBE connection.
    pub conn: Option<ConnId>,
    /// Tasks not yet delivered, in arrival order.
    pub queued: Vec<TaskId>,
    /// Live tasks (queued, delivered, and terminal ones whose terminal update is not yet
    /// acknowledged).
    pub tasks: BTreeMap<TaskId, Task>,
    /// Tasks whose terminal update was acknowledged (bounded).
    pub completed: Vec<v1::Task>,
    /// Set when an isolator limited the container; its tasks then end with this reason.
    pub limitation: Option<Limitation>,
}

impl Executor {
    /// Whether the executor is on its way out (or gone).
    pub fn is_ending(&self) -> bool {
        matches!(
            self.state,
            ExecutorState::Terminating { .. } | ExecutorState::Terminated
        )
    }

    /// Whether this is Mesos' default executor, which runs task groups: its queued tasks are
    /// delivered together as one LAUNCH_GROUP, and it takes no single task.
    pub fn runs_task_groups(&self) -> bool {
        !self.command_executor && self.info.r#type == Some(v1::executor_info::Type::Default as i32)
    }

    /// Tasks that are not terminal.
    pub fn live_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values().filter(|t| !t.is_terminal())
    }

    /// The container's limits now: the executor's own resources and its live tasks', as the
    /// agent resizes a container when tasks join or leave it.
    pub fn container_update(&self) -> super::Effect {
        let sum = |name: &str| {
            scalar(&self.info.resources, name)
                + self
                    .live_tasks()
                    .map(|t| scalar(&t.info.resources, name))
                    .sum::<f64>()
        };
        super::Effect::UpdateContainer {
            container_id: self.container_id.clone(),
            cpus: sum("cpus"),
            mem_mb: sum("mem"),
        }
    }
}

/// A task on this agent.
#[derive(Debug, Clone)]
pub struct Task {
    /// The task as launched.
    pub info: v1::TaskInfo,
    /// Latest state the agent knows (from the executor or generated).
    pub state: TaskState,
    /// Handed to the executor (a LAUNCH event was sent, or it was recovered).
    pub delivered: bool,
    /// The latest status, for the state endpoints.
    pub last_status: Option<v1::TaskStatus>,
}

impl Task {
    /// Whether the task's state is terminal.
    pub fn is_terminal(&self) -> bool {
        is_terminal(self.state)
    }

    /// The task as Mesos' `Task` message (state endpoints, reregistration, checkpoints).
    pub fn to_v1(&self, framework_id: &str, executor_id: Option<&str>, agent_id: &str) -> v1::Task {
        v1::Task {
            name: self.info.name.clone(),
            task_id: self.info.task_id.clone(),
            framework_id: v1::FrameworkId {
                value: framework_id.to_owned(),
            },
            executor_id: executor_id.map(|e| v1::ExecutorId {
                value: e.to_owned(),
            }),
            agent_id: v1::AgentId {
                value: agent_id.to_owned(),
            },
            state: self.state as i32,
            resources: self.info.resources.clone(),
            statuses: self.last_status.iter().cloned().collect(),
            status_update_state: None,
            status_update_uuid: None,
            labels: self.info.labels.clone(),
            discovery: self.info.discovery.clone().map(Box::new),
            container: self.info.container.clone(),
            health_check: self.info.health_check.clone().map(Box::new),
            kill_policy: self.info.kill_policy,
            user: self.info.command.as_ref().and_then(|c| c.user.clone()),
            ..Default::default()
        }
    }

    /// Rebuilds a task from its checkpointed `Task` message after an agent restart.
    pub fn from_v1(task: &v1::Task) -> Self {
        let state = TaskState::try_from(task.state).unwrap_or(TaskState::TaskStaging);
        Task {
            info: v1::TaskInfo {
                name: task.name.clone(),
                task_id: task.task_id.clone(),
                agent_id: task.agent_id.clone(),
                resources: task.resources.clone(),
                container: task.container.clone(),
                health_check: task.health_check.as_deref().cloned(),
                kill_policy: task.kill_policy,
                labels: task.labels.clone(),
                discovery: task.discovery.as_deref().cloned(),
                ..Default::default()
            },
            state,
            delivered: true,
            last_status: task.statuses.last().cloned(),
        }
    }
}

/// Sum of the scalar resource `name` (unreserved and reserved alike).
pub fn scalar(resources: &[v1::Resource], name: &str) -> f64 {
    resources
        .iter()
        .filter(|r| r.name == name)
        .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
        .sum()
}
