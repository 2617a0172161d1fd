//! Property tests of the task-state rules: no sequence of updates takes a task out of a
//! terminal state except the documented resurrection (`REASON_AGENT_REREGISTERED` after
//! `TASK_LOST`, the seed's `REASON_SLAVE_REREGISTERED`), and frameworks without
//! `PARTITION_AWARE` never see a partition-aware-only state.

use drover_core::task::emission::{EMISSIONS, is_allowed};
use drover_core::task::state::{ALL_STATES, for_framework, is_partition_aware_only, is_terminal};
use drover_core::task::transition::{Tracked, check, is_resurrection};
use drover_core::task::{Reason, TaskState};
use proptest::prelude::*;

fn any_state() -> impl Strategy<Value = TaskState> {
    prop::sample::select(ALL_STATES.to_vec())
}

fn any_reason() -> impl Strategy<Value = Option<Reason>> {
    let reasons: Vec<Reason> = (0..=34).filter_map(|n| Reason::try_from(n).ok()).collect();
    prop::option::of(prop::sample::select(reasons))
}

proptest! {
    #[test]
    fn a_terminal_task_only_leaves_by_agent_reregistration(
        updates in prop::collection::vec((any_state(), any_reason()), 0..40)
    ) {
        let mut task = Tracked::staging();
        for (to, reason) in updates {
            let from = task.state();
            let applied = task.apply(to, reason).is_ok();
            if is_terminal(from) && applied && task.state() != from {
                prop_assert!(is_resurrection(from, reason),
                    "left terminal {from:?} for {to:?} with {reason:?}");
                prop_assert_eq!(from, TaskState::TaskLost);
                prop_assert_eq!(reason, Some(Reason::AgentReregistered));
            }
            if !applied {
                prop_assert_eq!(task.state(), from, "a refused update changes nothing");
            }
            prop_assert_ne!(task.state(), TaskState::TaskUnknown, "TASK_UNKNOWN is never stored");
        }
    }

    #[test]
    fn staging_is_never_reentered(from in any_state(), reason in any_reason()) {
        prop_assert!(check(from, TaskState::TaskStaging, reason).is_err());
    }

    #[test]
    fn non_partition_aware_frameworks_see_only_classic_states(state in any_state()) {
        let seen = for_framework(state, false);
        prop_assert!(!is_partition_aware_only(seen));
        if !is_partition_aware_only(state) {
            prop_assert_eq!(seen, state);
        }
        prop_assert_eq!(for_framework(state, true), state);
    }

    #[test]
    fn every_row_is_allowed_for_both_framework_kinds(index in 0..EMISSIONS.len(), current in any_state()) {
        let row = &EMISSIONS[index];
        prop_assume!(current != TaskState::TaskStaging);
        for pa in [true, false] {
            let state = row.state_for(pa, current);
            if pa || !is_partition_aware_only(state) {
                prop_assert!(is_allowed(state, Some(row.reason_for(pa)), row.emitter.source(), pa),
                    "{:?} pa={pa}", row.trigger);
            }
        }
    }
}

#[test]
fn the_normal_life_of_a_task_is_legal() {
    let mut task = Tracked::staging();
    for state in [
        TaskState::TaskStarting,
        TaskState::TaskRunning,
        TaskState::TaskRunning,
        TaskState::TaskKilling,
        TaskState::TaskKilled,
    ] {
        task.apply(state, None).unwrap();
    }
    assert_eq!(task.state(), TaskState::TaskKilled);
    assert!(
        task.apply(TaskState::TaskKilled, None).is_ok(),
        "a retransmission is harmless"
    );
    assert!(
        task.apply(TaskState::TaskFinished, None).is_err(),
        "no second terminal state"
    );
}

#[test]
fn live_tasks_do_not_move_backwards() {
    assert!(check(TaskState::TaskRunning, TaskState::TaskStarting, None).is_err());
    assert!(check(TaskState::TaskKilling, TaskState::TaskRunning, None).is_err());
    assert!(check(TaskState::TaskStarting, TaskState::TaskRunning, None).is_ok());
}

#[test]
fn unreachable_tasks_follow_the_agent_back_or_are_declared_gone() {
    for to in [
        TaskState::TaskRunning,
        TaskState::TaskFinished,
        TaskState::TaskGoneByOperator,
    ] {
        assert!(
            check(
                TaskState::TaskUnreachable,
                to,
                Some(Reason::AgentReregistered)
            )
            .is_ok()
        );
    }
    assert!(check(TaskState::TaskUnreachable, TaskState::TaskUnknown, None).is_err());
}
