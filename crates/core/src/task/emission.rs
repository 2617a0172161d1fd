//! The table of who emits which (state, reason, source), and when: every status update that
//! Mesos' master, agent, scheduler client or built-in executor generates on its own, as data.
//! The master and agent look their updates up here instead of spelling states and reasons at
//! each call site, and the simulator checks every emitted update against the same table.
//!
//! Each row carries the identifier the seed document (`shared/seeds/mesos-task-state-reasons.txt`)
//! uses for it, in the seed's v0 spelling, so a reader can put the two side by side.

use drover_wire::v1;

use super::state::for_framework;
use super::{Reason, Source, TaskState};

/// Which component generates an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emitter {
    /// The master: best effort, no uuid, never retried.
    Master,
    /// The agent: reliable, with a uuid, retried until acknowledged.
    Agent,
    /// An executor (the built-in ones follow the rows marked `Executor`).
    Executor,
    /// The scheduler's own client library, speaking for a master it cannot reach.
    SchedulerClient,
}

impl Emitter {
    /// The `TaskStatus.source` an update from this emitter carries. The scheduler client's
    /// local updates say `SOURCE_MASTER`, as Mesos' driver does.
    pub fn source(self) -> Source {
        match self {
            Emitter::Master | Emitter::SchedulerClient => Source::Master,
            Emitter::Agent => Source::Agent,
            Emitter::Executor => Source::Executor,
        }
    }

    /// Whether updates from this emitter carry a uuid and must be acknowledged.
    pub fn is_reliable(self) -> bool {
        matches!(self, Emitter::Agent | Emitter::Executor)
    }
}

/// The state an emitted update carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateRule {
    /// A fixed state, which a framework without `PARTITION_AWARE` may see differently.
    Fixed {
        partition_aware: TaskState,
        other: TaskState,
    },
    /// The task's latest known state, re-sent (reconciliation, agent reregistration, health).
    Current,
}

/// Every situation in which Mesos generates a task status update itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    // Master.
    LaunchInvalid,
    LaunchGroupInvalid,
    LaunchUnauthorized,
    LaunchGroupUnauthorized,
    LaunchWithInvalidOffers,
    LaunchOnRemovedAgent,
    LaunchOnDisconnectedAgent,
    LaunchWithUnknownResources,
    AgentDisconnected,
    AgentMarkedUnreachable,
    AgentRemoved,
    AgentMarkedGone,
    AgentReregistered,
    FrameworkRemoved,
    KilledBeforeAgent,
    ReconcileKnownTask,
    ReconcileUnknownTaskOnAgent,
    ReconcileTaskOnUnreachableAgent,
    ReconcileTaskOnGoneAgent,
    ReconcileTaskOnUnknownAgent,
    // Scheduler client.
    AcceptWhileMasterDisconnected,
    // Agent.
    KilledBeforeExecutor,
    KillWithoutExecutor,
    ExecutorAlreadyTerminated,
    DuplicateTaskId,
    GcUnscheduleFailed,
    AgentInvalidOffers,
    AgentResourcesUnknown,
    AgentDraining,
    AgentUnauthorized,
    AgentGroupUnauthorized,
    AgentGroupInvalid,
    ContainerLaunchFailed,
    ContainerLimitationMemory,
    ContainerLimitationDisk,
    IoSwitchboardExited,
    ExecutorRegistrationTimeout,
    ExecutorReregistrationTimeout,
    ExecutorTerminated,
    LaunchedDuringAgentRestart,
    ContainerUpdateFailed,
    ContainerPreempted,
    TaskUnknownToAgent,
    // Built-in executors.
    HealthCheckStatusChanged,
    CheckStatusChanged,
    MaxCompletionTimeReached,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emission {
    pub trigger: Trigger,
    pub emitter: Emitter,
    pub state: StateRule,
    /// The reason a partition-aware framework gets.
    pub reason: Reason,
    /// The reason any other framework gets (differs only for MARK_AGENT_GONE).
    pub reason_other: Reason,
    /// The message that explains the update (callers may append detail).
    pub message: &'static str,
    /// The reason's name as the seed writes it (v0 spelling), for cross-reading.
    pub seed: &'static str,
}

const fn fixed(partition_aware: TaskState, other: TaskState) -> StateRule {
    StateRule::Fixed {
        partition_aware,
        other,
    }
}

const fn same(state: TaskState) -> StateRule {
    fixed(state, state)
}

const fn row(
    trigger: Trigger,
    emitter: Emitter,
    state: StateRule,
    reason: Reason,
    message: &'static str,
    seed: &'static str,
) -> Emission {
    Emission {
        trigger,
        emitter,
        state,
        reason,
        reason_other: reason,
        message,
        seed,
    }
}

use Emitter::{Agent, Executor, Master, SchedulerClient};
use TaskState::{
    TaskDropped as DROPPED, TaskError as ERROR, TaskFailed as FAILED, TaskGone as GONE,
    TaskGoneByOperator as GONE_BY_OPERATOR, TaskKilled as KILLED, TaskLost as LOST,
    TaskUnknown as UNKNOWN, TaskUnreachable as UNREACHABLE,
};

/// The table. Where Mesos' code refines the seed (it is more specific than the prose), the row
/// follows the code and says so in its comment.
#[rustfmt::skip]
pub const EMISSIONS: &[Emission] = &[
    // --- TASK_ERROR, generated on the master -------------------------------------------
    row(Trigger::LaunchInvalid, Master, same(ERROR), Reason::TaskInvalid,
        "Task failed validation", "REASON_TASK_INVALID"),
    row(Trigger::LaunchGroupInvalid, Master, same(ERROR), Reason::TaskGroupInvalid,
        "Task group failed validation", "REASON_TASK_GROUP_INVALID"),
    row(Trigger::LaunchUnauthorized, Master, same(ERROR), Reason::TaskUnauthorized,
        "Task is not authorized to launch", "REASON_TASK_UNAUTHORIZED"),
    row(Trigger::LaunchGroupUnauthorized, Master, same(ERROR), Reason::TaskGroupUnauthorized,
        "Task group is not authorized to launch", "REASON_TASK_GROUP_UNAUTHORIZED"),
    // --- TASK_LOST / TASK_DROPPED, generated on the master -----------------------------
    row(Trigger::LaunchWithInvalidOffers, Master, fixed(DROPPED, LOST), Reason::InvalidOffers,
        "Task launched with invalid offers", "REASON_INVALID_OFFERS"),
    row(Trigger::LaunchOnRemovedAgent, Master, fixed(DROPPED, LOST), Reason::AgentRemoved,
        "Task launched on an agent that was removed", "REASON_SLAVE_REMOVED"),
    row(Trigger::LaunchOnDisconnectedAgent, Master, fixed(DROPPED, LOST), Reason::AgentDisconnected,
        "Task launched on an agent that is disconnected", "REASON_SLAVE_DISCONNECTED"),
    row(Trigger::LaunchWithUnknownResources, Master, fixed(DROPPED, LOST), Reason::ResourcesUnknown,
        "Task launched with checkpointed resources unknown to the master", "REASON_RESOURCES_UNKNOWN"),
    // A running task whose agent disconnected and did not come back in time. Mesos' code sends
    // TASK_LOST here to every framework (the seed's DROPPED note belongs to the launch row).
    row(Trigger::AgentDisconnected, Master, same(LOST), Reason::AgentDisconnected,
        "Agent disconnected and did not reconnect in time", "REASON_SLAVE_DISCONNECTED"),
    row(Trigger::AgentMarkedUnreachable, Master, fixed(UNREACHABLE, LOST), Reason::AgentRemoved,
        "Agent was marked unreachable", "REASON_SLAVE_REMOVED"),
    // An agent removed outright (it unregistered, or a new agent took its address).
    row(Trigger::AgentRemoved, Master, same(LOST), Reason::AgentRemoved,
        "Agent was removed", "REASON_SLAVE_REMOVED"),
    Emission {
        trigger: Trigger::AgentMarkedGone,
        emitter: Master,
        state: fixed(GONE_BY_OPERATOR, LOST),
        reason: Reason::AgentRemovedByOperator,
        reason_other: Reason::AgentRemoved,
        message: "Agent was marked gone by the operator",
        seed: "TASK_GONE_BY_OPERATOR",
    },
    // --- TASK_KILLED, generated on the master ------------------------------------------
    row(Trigger::FrameworkRemoved, Master, same(KILLED), Reason::FrameworkRemoved,
        "Framework was removed", "REASON_FRAMEWORK_REMOVED"),
    row(Trigger::KilledBeforeAgent, Master, same(KILLED), Reason::TaskKilledDuringLaunch,
        "Killed before delivery to the agent", "REASON_TASK_KILLED_DURING_LAUNCH"),
    // --- Non-terminal, generated on the master -----------------------------------------
    row(Trigger::AgentReregistered, Master, StateRule::Current, Reason::AgentReregistered,
        "Unreachable agent re-reregistered", "REASON_SLAVE_REREGISTERED"),
    row(Trigger::ReconcileKnownTask, Master, StateRule::Current, Reason::Reconciliation,
        "Reconciliation: Latest task state", "REASON_RECONCILIATION"),
    row(Trigger::ReconcileUnknownTaskOnAgent, Master, fixed(GONE, LOST), Reason::Reconciliation,
        "Reconciliation: Task is unknown to the agent", "REASON_RECONCILIATION"),
    row(Trigger::ReconcileTaskOnUnreachableAgent, Master, fixed(UNREACHABLE, LOST),
        Reason::Reconciliation, "Reconciliation: Task is unreachable", "REASON_RECONCILIATION"),
    row(Trigger::ReconcileTaskOnGoneAgent, Master, fixed(GONE_BY_OPERATOR, LOST),
        Reason::Reconciliation, "Reconciliation: Task is gone", "REASON_RECONCILIATION"),
    row(Trigger::ReconcileTaskOnUnknownAgent, Master, fixed(UNKNOWN, LOST), Reason::Reconciliation,
        "Reconciliation: Task is unknown", "REASON_RECONCILIATION"),
    // --- Generated by the scheduler's client library, source MASTER --------------------
    row(Trigger::AcceptWhileMasterDisconnected, SchedulerClient, fixed(DROPPED, LOST),
        Reason::MasterDisconnected, "Master disconnected", "REASON_MASTER_DISCONNECTED"),
    // --- TASK_KILLED, generated on the agent -------------------------------------------
    row(Trigger::KilledBeforeExecutor, Agent, same(KILLED), Reason::TaskKilledDuringLaunch,
        "Killed before delivery to the executor", "REASON_TASK_KILLED_DURING_LAUNCH"),
    // --- TASK_ERROR, generated on the agent --------------------------------------------
    row(Trigger::AgentUnauthorized, Agent, same(ERROR), Reason::TaskUnauthorized,
        "Task is not authorized to launch on this agent", "REASON_TASK_UNAUTHORIZED"),
    row(Trigger::AgentGroupUnauthorized, Agent, same(ERROR), Reason::TaskGroupUnauthorized,
        "Task group is not authorized to launch on this agent", "REASON_TASK_GROUP_UNAUTHORIZED"),
    // The agent checks a task group again before it launches the default executor (the
    // master's check, and what only the agent can judge: task ids already running there,
    // task users that differ). Mesos' agent answers these with TASK_ERROR too.
    row(Trigger::AgentGroupInvalid, Agent, same(ERROR), Reason::TaskGroupInvalid,
        "Task group failed validation on the agent", "REASON_TASK_GROUP_INVALID"),
    // --- TASK_LOST / TASK_DROPPED / TASK_GONE, generated on the agent ------------------
    row(Trigger::KillWithoutExecutor, Agent, fixed(DROPPED, LOST), Reason::ExecutorTerminated,
        "Cannot find executor", "REASON_EXECUTOR_TERMINATED"),
    row(Trigger::ExecutorAlreadyTerminated, Agent, fixed(DROPPED, LOST), Reason::ExecutorTerminated,
        "Executor terminated before the task was delivered", "REASON_EXECUTOR_TERMINATED"),
    row(Trigger::DuplicateTaskId, Agent, fixed(DROPPED, LOST), Reason::TaskInvalid,
        "A task with this id is already running", "REASON_TASK_INVALID"),
    row(Trigger::GcUnscheduleFailed, Agent, fixed(DROPPED, LOST), Reason::GcError,
        "Could not unschedule a directory from garbage collection", "REASON_GC_ERROR"),
    row(Trigger::AgentInvalidOffers, Agent, fixed(DROPPED, LOST), Reason::InvalidOffers,
        "Task's offer failed the agent's checks", "REASON_INVALID_OFFERS"),
    row(Trigger::AgentResourcesUnknown, Agent, fixed(DROPPED, LOST), Reason::ResourcesUnknown,
        "Task uses resources unknown to the agent", "REASON_RESOURCES_UNKNOWN"),
    row(Trigger::AgentDraining, Agent, fixed(DROPPED, LOST), Reason::AgentDraining,
        "Agent is draining", "REASON_SLAVE_DRAINING"),
    row(Trigger::LaunchedDuringAgentRestart, Agent, fixed(DROPPED, LOST), Reason::AgentRestarted,
        "Task was launched during an agent restart and never reached its executor",
        "REASON_SLAVE_RESTARTED"),
    row(Trigger::ContainerUpdateFailed, Agent, fixed(GONE, LOST), Reason::ContainerUpdateFailed,
        "Container resource update failed", "REASON_CONTAINER_UPDATE_FAILED"),
    row(Trigger::ContainerPreempted, Agent, fixed(GONE, LOST), Reason::ContainerPreempted,
        "Container was preempted", "REASON_CONTAINER_PREEMPTED"),
    row(Trigger::TaskUnknownToAgent, Agent, fixed(DROPPED, LOST), Reason::Reconciliation,
        "Reconciliation: task unknown to the agent", "REASON_RECONCILIATION"),
    // --- TASK_FAILED, generated on the agent -------------------------------------------
    row(Trigger::ContainerLaunchFailed, Agent, same(FAILED), Reason::ContainerLaunchFailed,
        "Container failed to launch", "REASON_CONTAINER_LAUNCH_FAILED"),
    row(Trigger::ContainerLimitationMemory, Agent, same(FAILED), Reason::ContainerLimitationMemory,
        "Memory limit exceeded", "REASON_CONTAINER_LIMITATION_MEMORY"),
    row(Trigger::ContainerLimitationDisk, Agent, same(FAILED), Reason::ContainerLimitationDisk,
        "Disk quota exceeded", "REASON_CONTAINER_LIMITATION_DISK"),
    row(Trigger::IoSwitchboardExited, Agent, same(FAILED), Reason::IoSwitchboardExited,
        "I/O switchboard server terminated unexpectedly", "REASON_IO_SWITCHBOARD_EXITED"),
    row(Trigger::ExecutorRegistrationTimeout, Agent, same(FAILED), Reason::ExecutorRegistrationTimeout,
        "Executor did not register in time", "REASON_EXECUTOR_REGISTRATION_TIMEOUT"),
    // The seed lists this under TASK_FAILED; Mesos' code sends TASK_GONE (TASK_LOST to other
    // frameworks), and Drover follows the code, as the agent issue asks.
    row(Trigger::ExecutorReregistrationTimeout, Agent, fixed(GONE, LOST),
        Reason::ExecutorReregistrationTimeout, "Executor did not reregister in time",
        "REASON_EXECUTOR_REREGISTRATION_TIMEOUT"),
    row(Trigger::ExecutorTerminated, Agent, same(FAILED), Reason::ExecutorTerminated,
        "Executor terminated", "REASON_EXECUTOR_TERMINATED"),
    // --- Built-in executors --------------------------------------------------------------
    row(Trigger::HealthCheckStatusChanged, Executor, StateRule::Current,
        Reason::TaskHealthCheckStatusUpdated, "Health check status changed",
        "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"),
    row(Trigger::CheckStatusChanged, Executor, StateRule::Current, Reason::TaskCheckStatusUpdated,
        "Check status changed", "REASON_TASK_CHECK_STATUS_UPDATED"),
    row(Trigger::MaxCompletionTimeReached, Executor, same(FAILED), Reason::MaxCompletionTimeReached,
        "Task reached its maximum completion time", "REASON_MAX_COMPLETION_TIME_REACHED"),
];

/// Reasons Mesos documents as deprecated or unused: Drover never emits them.
pub const NEVER_EMITTED: &[Reason] = &[
    Reason::CommandExecutorFailed,
    Reason::ContainerLimitation,
    Reason::InvalidFrameworkid,
    Reason::AgentUnknown,
    Reason::TaskUnknown,
    Reason::ExecutorUnregistered,
];

/// The subset of reasons Mesos recommends to authors of custom executors.
pub const EXECUTOR_RECOMMENDED_REASONS: &[Reason] = &[
    Reason::TaskCheckStatusUpdated,
    Reason::TaskHealthCheckStatusUpdated,
    Reason::TaskInvalid,
    Reason::TaskUnauthorized,
];

/// The row for a trigger.
pub fn emission(trigger: Trigger) -> &'static Emission {
    EMISSIONS
        .iter()
        .find(|row| row.trigger == trigger)
        .expect("every trigger has exactly one row (checked by a test)")
}

impl Emission {
    /// The state a framework gets, given its capability and (for [`StateRule::Current`]) the
    /// task's latest state.
    pub fn state_for(&self, partition_aware: bool, current: TaskState) -> TaskState {
        match self.state {
            StateRule::Fixed {
                partition_aware: pa,
                other,
            } => {
                if partition_aware {
                    pa
                } else {
                    other
                }
            }
            StateRule::Current => for_framework(current, partition_aware),
        }
    }

    /// The reason a framework gets, given its capability.
    pub fn reason_for(&self, partition_aware: bool) -> Reason {
        if partition_aware {
            self.reason
        } else {
            self.reason_other
        }
    }

    /// The `TaskStatus` for this row. The caller fills in what only it knows: `uuid` (for
    /// reliable updates), `timestamp`, `agent_id`, `executor_id`, `unreachable_time`.
    pub fn status(
        &self,
        task_id: &str,
        partition_aware: bool,
        current: TaskState,
        detail: Option<&str>,
    ) -> v1::TaskStatus {
        let message = match detail {
            Some(detail) if !detail.is_empty() => format!("{}: {detail}", self.message),
            _ => self.message.to_owned(),
        };
        v1::TaskStatus {
            task_id: v1::TaskId {
                value: task_id.to_owned(),
            },
            state: self.state_for(partition_aware, current) as i32,
            message: Some(message),
            source: Some(self.emitter.source() as i32),
            reason: Some(self.reason_for(partition_aware) as i32),
            ..Default::default()
        }
    }
}

/// Whether an update with this (state, reason, source) is one the table allows for a framework
/// of this kind. Updates without a reason are the executor's own news (STARTING, RUNNING,
/// KILLING, FINISHED, FAILED, KILLED) and are allowed from an executor; the `Current` rows
/// allow any state a framework of that kind may see.
pub fn is_allowed(
    state: TaskState,
    reason: Option<Reason>,
    source: Source,
    partition_aware: bool,
) -> bool {
    if !partition_aware && super::state::is_partition_aware_only(state) {
        return false;
    }
    let Some(reason) = reason else {
        return source == Source::Executor
            && matches!(
                state,
                TaskState::TaskStarting
                    | TaskState::TaskRunning
                    | TaskState::TaskKilling
                    | TaskState::TaskFinished
                    | TaskState::TaskFailed
                    | TaskState::TaskKilled
            );
    };
    if source == Source::Executor && EXECUTOR_RECOMMENDED_REASONS.contains(&reason) {
        return state != TaskState::TaskStaging;
    }
    EMISSIONS.iter().any(|row| {
        row.emitter.source() == source
            && row.reason_for(partition_aware) == reason
            && match row.state {
                // Reconciliation reports a task the master just accepted as TASK_STAGING
                // (spec §1.1: STAGING is visible through reconciliation), and the announcement
                // of an unreachable agent's return re-sends each task's latest state, which is
                // TASK_STAGING for one the agent still holds for an executor that has not
                // started it (Mesos' `__reregisterSlave` sends `task->state()`; found by a
                // 30-minute soak). No other row re-sends it.
                StateRule::Current => {
                    state != TaskState::TaskStaging
                        || matches!(
                            row.trigger,
                            Trigger::ReconcileKnownTask | Trigger::AgentReregistered
                        )
                }
                StateRule::Fixed { .. } => row.state_for(partition_aware, state) == state,
            }
    })
}
