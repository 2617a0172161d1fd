//! One test per line of the seed `shared/seeds/marathon-task-handling.txt`: the Mesos state a
//! task reports, the condition the scheduler gives it, and what the scheduler does. Tests are
//! named after the seed's identifiers (`TASK_ERROR`, `Error`, …) as the seed writes them.
//! Where the seed and Marathon 1.10 disagree, the seed wins; where the seed is silent (which
//! failures grow the launch backoff), Marathon 1.10 decides.
#![allow(non_snake_case)]

use drover_core::marathon::condition::{
    Condition, Goal, Reaction, condition_of, infer_lost, reaction,
};
use drover_core::marathon::unreachable::{
    DEFAULT_EXPUNGE_AFTER_SECONDS, DEFAULT_INACTIVE_AFTER_SECONDS, UnreachablePhase,
    UnreachableStrategy,
};
use drover_core::task::{Reason, TaskState};

fn expunged_and_replaced(state: TaskState, expected: Condition) -> Reaction {
    let condition = condition_of(state, None, None);
    assert_eq!(condition, expected);
    assert!(condition.is_terminal(), "{expected:?} is terminal");
    let reaction = reaction(condition, Goal::Running);
    assert!(
        matches!(reaction, Reaction::ExpungeAndReplace { .. }),
        "{state:?}: expunge the task and start a new one, got {reaction:?}"
    );
    reaction
}

#[test]
fn TASK_ERROR__Error__expunges_the_task_and_starts_a_new_one() {
    let reaction = expunged_and_replaced(TaskState::TaskError, Condition::Error);
    assert_eq!(reaction, Reaction::ExpungeAndReplace { backoff: true });
}

#[test]
fn TASK_FAILED__Failed__expunges_the_task_and_starts_a_new_one() {
    let reaction = expunged_and_replaced(TaskState::TaskFailed, Condition::Failed);
    assert_eq!(reaction, Reaction::ExpungeAndReplace { backoff: true });
}

/// "Unlike TASK_ERROR, the task description is valid – attempting to launch the task again may
/// be successful."
#[test]
fn TASK_DROPPED__Dropped__launching_again_may_succeed() {
    expunged_and_replaced(TaskState::TaskDropped, Condition::Dropped);
    assert!(Condition::Dropped.is_lost());
}

#[test]
fn TASK_GONE__Gone__expunges_the_task_and_starts_a_new_one() {
    expunged_and_replaced(TaskState::TaskGone, Condition::Gone);
}

/// "After Marathon marks the task as failed, it expunges the task and starts a new one."
#[test]
fn TASK_GONE_BY_OPERATOR__Gone__expunges_the_task_and_starts_a_new_one() {
    let reaction = expunged_and_replaced(TaskState::TaskGoneByOperator, Condition::Gone);
    assert_eq!(
        reaction,
        Reaction::ExpungeAndReplace { backoff: true },
        "counted as a failure"
    );
}

/// "The task finished successfully." A service that exits is restarted, and the restart counts
/// toward the backoff so a crash-looping command does not spin.
#[test]
fn TASK_FINISHED__Finished__the_task_finished_successfully() {
    let reaction = expunged_and_replaced(TaskState::TaskFinished, Condition::Finished);
    assert_eq!(reaction, Reaction::ExpungeAndReplace { backoff: true });
}

/// "When Marathon receives the Unknown message, it expunges the task and starts a new one."
#[test]
fn TASK_UNKNOWN__Unknown__expunges_the_task_and_starts_a_new_one() {
    let reaction = expunged_and_replaced(TaskState::TaskUnknown, Condition::Unknown);
    assert_eq!(reaction, Reaction::ExpungeAndReplace { backoff: false });
}

/// "The task was killed by the executor." A kill the user asked for without scaling keeps the
/// instance's goal, so it is replaced without backoff; a decommissioned one is forgotten.
#[test]
fn TASK_KILLED__Killed__the_task_was_killed_by_the_executor() {
    assert_eq!(
        condition_of(TaskState::TaskKilled, None, None),
        Condition::Killed
    );
    assert_eq!(
        reaction(Condition::Killed, Goal::Running),
        Reaction::ExpungeAndReplace { backoff: false }
    );
    assert_eq!(
        reaction(Condition::Killed, Goal::Decommissioned),
        Reaction::Expunge
    );
}

#[test]
fn TASK_LOST__inferred_as_TASK_GONE_from_its_reason() {
    assert_eq!(
        infer_lost(Some(Reason::ExecutorTerminated), None),
        Condition::Gone
    );
    assert_eq!(
        infer_lost(Some(Reason::AgentRestarted), None),
        Condition::Gone
    );
    assert_eq!(
        infer_lost(None, None),
        Condition::Gone,
        "no reason reads as the first value"
    );
    assert_eq!(
        condition_of(TaskState::TaskLost, Some(Reason::GcError), None),
        Condition::Gone
    );
}

#[test]
fn TASK_LOST__inferred_as_TASK_UNREACHABLE_from_its_reason() {
    for reason in [
        Reason::Reconciliation,
        Reason::AgentDisconnected,
        Reason::AgentRemoved,
    ] {
        assert_eq!(
            infer_lost(Some(reason), Some("Agent was marked unreachable")),
            Condition::Unreachable,
            "{reason:?}"
        );
    }
}

#[test]
fn TASK_LOST__inferred_as_TASK_UNKNOWN_from_its_reason_or_message() {
    assert_eq!(
        infer_lost(Some(Reason::TaskUnknown), None),
        Condition::Unknown
    );
    assert_eq!(
        infer_lost(
            Some(Reason::Reconciliation),
            Some("Reconciliation: Task is unknown to the agent")
        ),
        Condition::Unknown
    );
}

/// "Marathon may receive a TASK_LOST message if a Mesos agent is removed because a new Mesos
/// agent registers with the same IP address": REASON_SLAVE_REMOVED reads as Unreachable.
#[test]
fn TASK_LOST__agent_removed_because_a_new_agent_registered_at_its_address() {
    assert_eq!(
        condition_of(
            TaskState::TaskLost,
            Some(Reason::AgentRemoved),
            Some("Agent was removed")
        ),
        Condition::Unreachable
    );
}

#[test]
fn TASK_STAGING__Staging__initial_state() {
    assert_eq!(
        condition_of(TaskState::TaskStaging, None, None),
        Condition::Staging
    );
    assert_eq!(
        reaction(Condition::Staging, Goal::Running),
        Reaction::Record
    );
    assert!(Condition::Staging.is_active());
}

#[test]
fn TASK_STARTING__Starting__being_launched_by_the_executor() {
    assert_eq!(
        condition_of(TaskState::TaskStarting, None, None),
        Condition::Starting
    );
    assert_eq!(
        reaction(Condition::Starting, Goal::Running),
        Reaction::Record
    );
}

#[test]
fn TASK_RUNNING__Running__task_is_running() {
    assert_eq!(
        condition_of(TaskState::TaskRunning, None, None),
        Condition::Running
    );
    assert_eq!(
        reaction(Condition::Running, Goal::Running),
        Reaction::Record
    );
    assert!(!Condition::Running.is_terminal());
}

#[test]
fn TASK_KILLING__Killing__being_killed_by_the_executor() {
    assert_eq!(
        condition_of(TaskState::TaskKilling, None, None),
        Condition::Killing
    );
    assert_eq!(
        reaction(Condition::Killing, Goal::Decommissioned),
        Reaction::Record
    );
}

/// "When Marathon receives a task unreachable message, it starts a replacement task."
#[test]
fn TASK_UNREACHABLE__Unreachable__starts_a_replacement_task() {
    assert_eq!(
        condition_of(TaskState::TaskUnreachable, None, None),
        Condition::Unreachable
    );
    assert_eq!(
        reaction(Condition::Unreachable, Goal::Running),
        Reaction::StartReplacement
    );
    assert!(
        Condition::Unreachable.is_active(),
        "it may still be running"
    );
    let default = UnreachableStrategy::default();
    assert_eq!(DEFAULT_INACTIVE_AFTER_SECONDS, 0);
    assert_eq!(
        default.phase(1_000, 1_000),
        UnreachablePhase::Inactive,
        "replaced at once"
    );
}

/// "If the time unreachable exceeds 15 minutes, Marathon marks the task as Unknown and then
/// expunges the task."
#[test]
fn TASK_UNREACHABLE__Unreachable__marked_Unknown_and_expunged_after_15_minutes() {
    assert_eq!(DEFAULT_EXPUNGE_AFTER_SECONDS, 15 * 60);
    let strategy = UnreachableStrategy::default();
    let since = 5_000;
    assert_eq!(
        strategy.phase(since, since + 15 * 60 * 1000 - 1),
        UnreachablePhase::Inactive
    );
    assert_eq!(
        strategy.phase(since, since + 15 * 60 * 1000),
        UnreachablePhase::Expunge
    );
    assert_eq!(
        strategy.next_deadline_ms(since, since + 1),
        Some(since + 15 * 60 * 1000)
    );
    assert_eq!(
        strategy.next_deadline_ms(since, since + 15 * 60 * 1000),
        None
    );
}

/// "You can configure Marathon's behavior when a task is unreachable."
#[test]
fn unreachable_behaviour_is_configurable_per_app() {
    let strategy = UnreachableStrategy::Enabled {
        inactive_after_seconds: 60,
        expunge_after_seconds: 120,
    };
    assert_eq!(strategy.phase(0, 59_999), UnreachablePhase::Unreachable);
    assert_eq!(strategy.phase(0, 60_000), UnreachablePhase::Inactive);
    assert_eq!(strategy.phase(0, 120_000), UnreachablePhase::Expunge);
    assert_eq!(strategy.next_deadline_ms(0, 0), Some(60_000));
    assert_eq!(
        UnreachableStrategy::Disabled.phase(0, u64::MAX),
        UnreachablePhase::Unreachable
    );
    assert_eq!(UnreachableStrategy::Disabled.next_deadline_ms(0, 0), None);
    let bad = UnreachableStrategy::Enabled {
        inactive_after_seconds: 10,
        expunge_after_seconds: 5,
    };
    let problems = bad.validate();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].0, "/unreachableStrategy/inactiveAfterSeconds");
}

#[test]
fn every_mesos_state_has_a_condition_and_conditions_have_marathon_names() {
    for state in drover_core::task::state::ALL_STATES {
        let condition = condition_of(state, None, None);
        assert!(!condition.name().is_empty());
    }
    assert_eq!(Condition::UnreachableInactive.name(), "UnreachableInactive");
}
