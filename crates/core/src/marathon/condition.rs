//! Mesos task state → Marathon condition, and Marathon's reaction to each condition, exactly as
//! the seed document (`shared/seeds/marathon-task-handling.txt`) describes; where it is silent,
//! as Marathon 1.10 does.

use crate::task::{Reason, TaskState};

/// An instance's condition, named as Marathon's JSON and events name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Condition {
    /// Waiting for an offer; no task launched yet.
    Scheduled,
    /// An offer was accepted and the launch sent; no status received yet.
    Provisioned,
    Staging,
    Starting,
    Running,
    Killing,
    Finished,
    Failed,
    Error,
    Killed,
    Dropped,
    Gone,
    Unreachable,
    /// Unreachable for longer than the app's `inactiveAfterSeconds`.
    UnreachableInactive,
    Unknown,
}

impl Condition {
    /// The name Marathon uses in JSON and events (`Running`, `UnreachableInactive`, …).
    pub fn name(self) -> &'static str {
        match self {
            Condition::Scheduled => "Scheduled",
            Condition::Provisioned => "Provisioned",
            Condition::Staging => "Staging",
            Condition::Starting => "Starting",
            Condition::Running => "Running",
            Condition::Killing => "Killing",
            Condition::Finished => "Finished",
            Condition::Failed => "Failed",
            Condition::Error => "Error",
            Condition::Killed => "Killed",
            Condition::Dropped => "Dropped",
            Condition::Gone => "Gone",
            Condition::Unreachable => "Unreachable",
            Condition::UnreachableInactive => "UnreachableInactive",
            Condition::Unknown => "Unknown",
        }
    }

    /// Terminal conditions: the task is over.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Condition::Error
                | Condition::Failed
                | Condition::Finished
                | Condition::Killed
                | Condition::Gone
                | Condition::Dropped
                | Condition::Unknown
        )
    }

    /// Active conditions: the task holds (or may hold) resources and counts as an instance.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Condition::Provisioned
                | Condition::Staging
                | Condition::Starting
                | Condition::Running
                | Condition::Killing
                | Condition::Unreachable
        )
    }

    /// Marathon's `isLost`: the task may be running somewhere we cannot see.
    pub fn is_lost(self) -> bool {
        matches!(
            self,
            Condition::Gone | Condition::Unreachable | Condition::Unknown | Condition::Dropped
        )
    }
}

/// The prefix of the message the master writes when it reconciles a task its agent does not
/// know. A `TASK_LOST` carrying it means the task is certainly not running: Unknown.
const UNKNOWN_TO_AGENT_PREFIX: &str = "Reconciliation: Task is unknown to the";

/// Infers what a deprecated `TASK_LOST` really means from its reason and message (seed 2: "use
/// it to infer TASK_GONE, TASK_UNREACHABLE, or TASK_UNKNOWN").
///
/// A status without a reason reads, as protobuf's default, as the first reason value
/// (`REASON_COMMAND_EXECUTOR_FAILED`), so an un-reasoned `TASK_LOST` is Gone, as in Marathon.
pub fn infer_lost(reason: Option<Reason>, message: Option<&str>) -> Condition {
    if message.is_some_and(|text| text.starts_with(UNKNOWN_TO_AGENT_PREFIX)) {
        return Condition::Unknown;
    }
    match reason.unwrap_or(Reason::CommandExecutorFailed) {
        Reason::TaskUnknown => Condition::Unknown,
        Reason::Reconciliation | Reason::AgentDisconnected | Reason::AgentRemoved => {
            Condition::Unreachable
        }
        _ => Condition::Gone,
    }
}

/// The condition a Mesos status puts a task in.
pub fn condition_of(state: TaskState, reason: Option<Reason>, message: Option<&str>) -> Condition {
    match state {
        TaskState::TaskError => Condition::Error,
        TaskState::TaskFailed => Condition::Failed,
        TaskState::TaskDropped => Condition::Dropped,
        TaskState::TaskGone | TaskState::TaskGoneByOperator => Condition::Gone,
        TaskState::TaskFinished => Condition::Finished,
        TaskState::TaskUnknown => Condition::Unknown,
        TaskState::TaskKilled => Condition::Killed,
        TaskState::TaskLost => infer_lost(reason, message),
        TaskState::TaskStaging => Condition::Staging,
        TaskState::TaskStarting => Condition::Starting,
        TaskState::TaskRunning => Condition::Running,
        TaskState::TaskKilling => Condition::Killing,
        TaskState::TaskUnreachable => Condition::Unreachable,
    }
}

/// What an instance is meant to be doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Keep it running.
    Running,
    /// Kill it and forget it (scale down, app removal, kill with `wipe` or `scale`).
    Decommissioned,
    /// Kill it but keep it and its reservation (a resident app's scale-down or restart): a
    /// later scale-up launches on the reservation again.
    Stopped,
}

/// What the scheduler does when a task reaches a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// Record the new condition; nothing else.
    Record,
    /// Forget the instance and start a new one in its place. `backoff` says whether the
    /// app's launch delay grows (it does for failures, not for kills or unknown tasks).
    ExpungeAndReplace { backoff: bool },
    /// Forget the instance; nothing replaces it (its goal was to be decommissioned).
    Expunge,
    /// Keep the instance with its terminal condition (its goal was to be stopped: a resident
    /// instance keeps its reservation).
    Keep,
    /// Keep the instance (it may come back) and start a replacement now; the unreachable
    /// strategy's timers decide when it becomes inactive and when it is expunged.
    StartReplacement,
}

/// Marathon's reaction to a task reaching `condition`, for an instance with `goal`.
pub fn reaction(condition: Condition, goal: Goal) -> Reaction {
    if condition.is_terminal() {
        return match goal {
            Goal::Decommissioned => Reaction::Expunge,
            Goal::Stopped => Reaction::Keep,
            Goal::Running => Reaction::ExpungeAndReplace {
                backoff: increases_backoff(condition),
            },
        };
    }
    match (condition, goal) {
        (Condition::Unreachable | Condition::UnreachableInactive, Goal::Running) => {
            Reaction::StartReplacement
        }
        _ => Reaction::Record,
    }
}

/// Whether a terminal condition counts toward the app's launch backoff: failures do; a kill or
/// a task the master does not know do not (Marathon's rate-limit set).
pub fn increases_backoff(condition: Condition) -> bool {
    matches!(
        condition,
        Condition::Finished
            | Condition::Failed
            | Condition::Error
            | Condition::Dropped
            | Condition::Gone
    )
}
