//! Classification of Mesos task states: terminal, partition-aware only, and how a state is
//! translated for a framework that did not opt into `PARTITION_AWARE`.

use super::TaskState;

/// Every Mesos task state, in the order the v1 protocol declares them.
pub const ALL_STATES: [TaskState; 14] = [
    TaskState::TaskStaging,
    TaskState::TaskStarting,
    TaskState::TaskRunning,
    TaskState::TaskKilling,
    TaskState::TaskFinished,
    TaskState::TaskFailed,
    TaskState::TaskKilled,
    TaskState::TaskError,
    TaskState::TaskLost,
    TaskState::TaskDropped,
    TaskState::TaskUnreachable,
    TaskState::TaskGone,
    TaskState::TaskGoneByOperator,
    TaskState::TaskUnknown,
];

/// Whether a state is terminal, as Mesos' master and agent count it: the task's resources are
/// released and (apart from the documented `TASK_LOST` resurrection) the state never changes.
pub fn is_terminal(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::TaskFinished
            | TaskState::TaskFailed
            | TaskState::TaskKilled
            | TaskState::TaskError
            | TaskState::TaskLost
            | TaskState::TaskDropped
            | TaskState::TaskGone
            | TaskState::TaskGoneByOperator
    )
}

/// Whether the master releases the task's resources on this state: every terminal state and
/// also `TASK_UNREACHABLE`, whose agent the master no longer counts.
pub fn releases_resources(state: TaskState) -> bool {
    is_terminal(state) || state == TaskState::TaskUnreachable
}

/// States only a framework with the `PARTITION_AWARE` capability may ever receive.
pub fn is_partition_aware_only(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::TaskDropped
            | TaskState::TaskUnreachable
            | TaskState::TaskGone
            | TaskState::TaskGoneByOperator
            | TaskState::TaskUnknown
    )
}

/// The state a framework receives: a framework without `PARTITION_AWARE` sees `TASK_LOST` in
/// place of each of the finer partition states; a partition-aware one sees the state itself.
pub fn for_framework(state: TaskState, partition_aware: bool) -> TaskState {
    if !partition_aware && is_partition_aware_only(state) {
        TaskState::TaskLost
    } else {
        state
    }
}

/// Position of a non-terminal state on the normal path of a task's life, used to refuse
/// updates that would move a task backwards (RUNNING after KILLING, STARTING after RUNNING).
pub(crate) fn progress_rank(state: TaskState) -> Option<u8> {
    match state {
        TaskState::TaskStaging => Some(0),
        TaskState::TaskStarting => Some(1),
        TaskState::TaskRunning => Some(2),
        TaskState::TaskKilling => Some(3),
        _ => None,
    }
}
