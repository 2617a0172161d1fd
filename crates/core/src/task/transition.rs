//! Which task-state changes are legal. Mesos runs no formal state machine; it enforces a few
//! rules and otherwise relays what executors send. Drover writes those rules down once, here,
//! and every component that stores a task's state goes through [`check`].

use super::state::{is_terminal, progress_rank};
use super::{Reason, TaskState};

/// Why a proposed state change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Illegal {
    /// `TASK_STAGING` is set by the master when it accepts a launch; nobody may send it.
    StagingIsNotAnUpdate,
    /// `TASK_UNKNOWN` is only ever a reconciliation answer; no task is stored in it.
    UnknownIsNeverStored,
    /// The task is terminal and the update is not the agent-reregistration resurrection.
    AlreadyTerminal { from: TaskState, to: TaskState },
    /// The update would move a live task backwards (for example RUNNING after KILLING).
    Backwards { from: TaskState, to: TaskState },
}

impl std::fmt::Display for Illegal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Illegal::StagingIsNotAnUpdate => write!(f, "TASK_STAGING cannot be sent as an update"),
            Illegal::UnknownIsNeverStored => {
                write!(f, "TASK_UNKNOWN is only a reconciliation answer")
            }
            Illegal::AlreadyTerminal { from, to } => write!(
                f,
                "task already terminated as {}; refusing {}",
                from.as_str_name(),
                to.as_str_name()
            ),
            Illegal::Backwards { from, to } => write!(
                f,
                "task is {}; {} would move it backwards",
                from.as_str_name(),
                to.as_str_name()
            ),
        }
    }
}

impl std::error::Error for Illegal {}

/// The only path out of a terminal state: a non-partition-aware framework saw `TASK_LOST` when
/// the agent was marked unreachable, and the agent came back. The master then reports the
/// agent's view of the task with `REASON_AGENT_REREGISTERED` (seed: `REASON_SLAVE_REREGISTERED`).
pub fn is_resurrection(from: TaskState, reason: Option<Reason>) -> bool {
    from == TaskState::TaskLost && reason == Some(Reason::AgentReregistered)
}

/// Checks whether a stored task in state `from` may take an update to `to` with `reason`.
///
/// Same-state repeats of a live state are legal (health and check results arrive as RUNNING
/// after RUNNING). A repeat of the same terminal state is legal too: it is the retransmission
/// of one update, and callers deduplicate it by uuid.
pub fn check(from: TaskState, to: TaskState, reason: Option<Reason>) -> Result<(), Illegal> {
    if to == TaskState::TaskStaging {
        return Err(Illegal::StagingIsNotAnUpdate);
    }
    if to == TaskState::TaskUnknown {
        return Err(Illegal::UnknownIsNeverStored);
    }
    if is_terminal(from) {
        if from == to || is_resurrection(from, reason) {
            return Ok(());
        }
        return Err(Illegal::AlreadyTerminal { from, to });
    }
    if from == TaskState::TaskUnreachable {
        // The agent is cut off: the next news is either its own account on reregistration
        // (which may be anything), or the operator declaring it gone, or a repeat.
        return Ok(());
    }
    if is_terminal(to) || to == TaskState::TaskUnreachable {
        return Ok(());
    }
    match (progress_rank(from), progress_rank(to)) {
        (Some(old), Some(new)) if new >= old => Ok(()),
        _ => Err(Illegal::Backwards { from, to }),
    }
}

/// A task's state as one component holds it, changing only through [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    state: TaskState,
}

impl Tracked {
    /// A task the master has just accepted for launch.
    pub fn staging() -> Tracked {
        Tracked {
            state: TaskState::TaskStaging,
        }
    }

    /// The current state.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// Applies an update if it is legal; leaves the state unchanged otherwise.
    pub fn apply(&mut self, to: TaskState, reason: Option<Reason>) -> Result<(), Illegal> {
        check(self.state, to, reason)?;
        self.state = to;
        Ok(())
    }
}
