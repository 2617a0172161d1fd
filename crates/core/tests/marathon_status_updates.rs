//! Seed 2 (`shared/seeds/marathon-task-handling.txt`), every line, driven through
//! `Scheduler::handle` by real status updates: what each Mesos state does to an instance of a
//! running app, the launch backoff, TASK_LOST inference, unreachable timers and the surplus
//! kill when an unreachable task returns.

use crate::marathon_support;

use drover_core::marathon::app::KillSelection;
use drover_core::marathon::condition::Condition;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Command, Effect, Input};
use drover_core::marathon::unreachable::UnreachableStrategy;
use drover_core::task::{Reason, TaskState};
use marathon_support::*;

/// One app with one RUNNING instance; returns the harness and its task id.
fn running_app() -> (Harness, String) {
    let mut h = Harness::new();
    h.create(app("/web", 1));
    let ids = h.run_all("agent-1");
    assert_eq!(ids.len(), 1);
    assert_eq!(h.conditions("/web"), [Condition::Running]);
    assert!(h.s.deployments().is_empty(), "deployment finished");
    (h, ids[0].clone())
}

fn delay_left(h: &Harness) -> u64 {
    h.s.queue(h.now)
        .into_iter()
        .find(|e| e.app_id.as_str() == "/web")
        .map_or(0, |e| e.delay_left_ms)
}

/// Asserts that `task` was expunged and a new instance (new id) is waiting for an offer, and
/// whether the launch backoff grew.
fn assert_replaced(h: &Harness, task: &str, backoff: bool) {
    let instances = h.instances("/web");
    assert_eq!(instances.len(), 1, "exactly one replacement: {instances:?}");
    assert_ne!(instances[0].task_id(), task, "old instance expunged");
    assert_eq!(instances[0].condition, Condition::Scheduled);
    assert_eq!(delay_left(h) > 0, backoff, "backoff grew: {backoff}");
}

#[test]
fn task_error_expunges_and_starts_a_new_one_with_backoff() {
    let (mut h, task) = running_app();
    let effects = h.update(&task, TaskState::TaskError);
    assert_replaced(&h, &task, true);
    assert!(event_types(&effects).contains(&"status_update_event"));
    assert!(event_types(&effects).contains(&"instance_changed_event"));
    let failure =
        h.s.last_failure(&PathId::parse_app_id("/web").unwrap())
            .unwrap();
    assert_eq!(failure.state, TaskState::TaskError);
}

#[test]
fn task_failed_expunges_and_starts_a_new_one_with_backoff() {
    let (mut h, task) = running_app();
    h.update(&task, TaskState::TaskFailed);
    assert_replaced(&h, &task, true);
}

#[test]
fn task_dropped_is_relaunched_as_transient() {
    let (mut h, task) = running_app();
    h.update(&task, TaskState::TaskDropped);
    assert_replaced(&h, &task, true);
}

#[test]
fn task_gone_expunges_and_starts_a_new_one() {
    let (mut h, task) = running_app();
    h.update(&task, TaskState::TaskGone);
    assert_replaced(&h, &task, true);
}

#[test]
fn task_gone_by_operator_expunges_and_starts_a_new_one() {
    let (mut h, task) = running_app();
    h.update(&task, TaskState::TaskGoneByOperator);
    assert_replaced(&h, &task, true);
}

#[test]
fn task_finished_is_restarted() {
    let (mut h, task) = running_app();
    h.update(&task, TaskState::TaskFinished);
    assert_replaced(&h, &task, true);
}

#[test]
fn task_unknown_expunges_and_starts_a_new_one_without_backoff() {
    let (mut h, task) = running_app();
    h.update(&task, TaskState::TaskUnknown);
    assert_replaced(&h, &task, false);
}

#[test]
fn task_killed_is_replaced_without_backoff() {
    let (mut h, task) = running_app();
    h.update(&task, TaskState::TaskKilled);
    assert_replaced(&h, &task, false);
}

#[test]
fn task_lost_is_inferred_from_its_reason() {
    // Reason says the agent was removed: Unreachable (a replacement starts, the old one stays).
    let (mut h, task) = running_app();
    h.update_with(&task, TaskState::TaskLost, Some(Reason::AgentRemoved), None);
    assert_eq!(
        h.conditions("/web"),
        [Condition::Scheduled, Condition::UnreachableInactive]
    );
    // No reason: Gone (expunge and replace, with backoff).
    let (mut h, task) = running_app();
    h.update(&task, TaskState::TaskLost);
    assert_replaced(&h, &task, true);
    // Reason TASK_UNKNOWN or the reconciliation message: Unknown (no backoff).
    let (mut h, task) = running_app();
    h.update_with(&task, TaskState::TaskLost, Some(Reason::TaskUnknown), None);
    assert_replaced(&h, &task, false);
    let (mut h, task) = running_app();
    h.update_with(
        &task,
        TaskState::TaskLost,
        Some(Reason::Reconciliation),
        Some("Reconciliation: Task is unknown to the agent"),
    );
    assert_replaced(&h, &task, false);
}

#[test]
fn staging_starting_running_killing_are_recorded() {
    let mut h = Harness::new();
    h.create(app("/web", 1));
    let tasks = h.offer("agent-1");
    let task = tasks[0].task_id.value.clone();
    assert_eq!(h.conditions("/web"), [Condition::Provisioned]);
    for (state, condition) in [
        (TaskState::TaskStaging, Condition::Staging),
        (TaskState::TaskStarting, Condition::Starting),
        (TaskState::TaskRunning, Condition::Running),
        (TaskState::TaskKilling, Condition::Killing),
    ] {
        h.update(&task, state);
        assert_eq!(h.conditions("/web"), [condition], "{state:?}");
    }
    let instance = &h.instances("/web")[0];
    assert!(
        instance.started_at_ms.is_some(),
        "first RUNNING sets startedAt"
    );
}

#[test]
fn task_unreachable_starts_a_replacement_and_expunges_after_fifteen_minutes_on_a_timer() {
    let (mut h, task) = running_app();
    h.update(&task, TaskState::TaskUnreachable);
    // Default strategy: a replacement at once.
    assert_eq!(
        h.conditions("/web"),
        [Condition::Scheduled, Condition::UnreachableInactive]
    );
    let replacement = h.offer("agent-2");
    assert_eq!(replacement.len(), 1);
    h.update(&replacement[0].task_id.value, TaskState::TaskRunning);
    // Without any further update, the timer marks it Unknown and expunges it after 15 min.
    let deadline = h.s.next_deadline().unwrap();
    assert!(
        deadline <= T0 + 15 * 60 * 1000 + 1,
        "deadline armed at 15 min"
    );
    h.advance(15 * 60 * 1000 - 1000);
    assert_eq!(h.instances("/web").len(), 2, "still kept before the limit");
    let effects = h.advance(1000);
    assert_eq!(h.conditions("/web"), [Condition::Running]);
    assert!(h.instances("/web")[0].task_id() != task);
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::Publish(drover_core::marathon::event::Event::InstanceChanged {
                condition: Condition::Unknown,
                ..
            })
        )),
        "marked Unknown before expunge"
    );
}

#[test]
fn returning_unreachable_task_is_killed_as_surplus_by_kill_selection() {
    // OLDEST_FIRST: the returning (older) task is the surplus.
    let mut h = Harness::new();
    let mut spec = app("/web", 1);
    spec.kill_selection = KillSelection::OldestFirst;
    h.create(spec);
    let old = h.run_all("agent-1")[0].clone();
    h.advance(1000);
    h.update(&old, TaskState::TaskUnreachable);
    let new = h.run_all("agent-2")[0].clone();
    h.advance(1000);
    let effects = h.update(&old, TaskState::TaskRunning);
    assert_eq!(kills(&effects), std::slice::from_ref(&old));
    h.update(&old, TaskState::TaskKilled);
    assert_eq!(h.instances("/web").len(), 1);
    assert_eq!(h.instances("/web")[0].task_id(), new);

    // YOUNGEST_FIRST (default): the replacement is the surplus.
    let (mut h, old) = running_app();
    h.advance(1000);
    h.update(&old, TaskState::TaskUnreachable);
    let new = h.run_all("agent-2")[0].clone();
    h.advance(1000);
    let effects = h.update(&old, TaskState::TaskRunning);
    assert_eq!(kills(&effects), [new]);
}

#[test]
fn unreachable_with_inactive_after_waits_for_the_timer_before_replacing() {
    let mut h = Harness::new();
    let mut spec = app("/web", 1);
    spec.unreachable_strategy = UnreachableStrategy::Enabled {
        inactive_after_seconds: 60,
        expunge_after_seconds: 120,
    };
    h.create(spec);
    let task = h.run_all("agent-1")[0].clone();
    h.update(&task, TaskState::TaskUnreachable);
    assert_eq!(h.conditions("/web"), [Condition::Unreachable]);
    assert_eq!(h.s.next_deadline(), Some(h.now + 60_000));
    h.advance(60_000);
    assert_eq!(
        h.conditions("/web"),
        [Condition::Scheduled, Condition::UnreachableInactive]
    );
    h.advance(60_000);
    assert_eq!(h.conditions("/web"), [Condition::Scheduled]);
}

#[test]
fn unreachable_strategy_disabled_keeps_waiting() {
    let mut h = Harness::new();
    let mut spec = app("/web", 1);
    spec.unreachable_strategy = UnreachableStrategy::Disabled;
    h.create(spec);
    let task = h.run_all("agent-1")[0].clone();
    h.update(&task, TaskState::TaskUnreachable);
    h.advance(24 * 3600 * 1000);
    assert_eq!(h.conditions("/web"), [Condition::Unreachable]);
}

#[test]
fn unknown_running_task_is_killed_and_unknown_terminal_is_reported() {
    let mut h = Harness::new();
    let effects = h.update("ghost.instance-x._app.1", TaskState::TaskRunning);
    assert_eq!(kills(&effects), ["ghost.instance-x._app.1"]);
    let effects = h.update("ghost.instance-x._app.1", TaskState::TaskFailed);
    assert!(event_types(&effects).contains(&"unknown_instance_terminated_event"));
}

#[test]
fn every_update_with_a_uuid_is_acknowledged_after_persisting() {
    let (mut h, task) = running_app();
    let effects = h.update(&task, TaskState::TaskFailed);
    let ack = effects
        .iter()
        .position(|e| matches!(e, Effect::Acknowledge { .. }))
        .expect("acknowledged");
    let last_persist = effects
        .iter()
        .rposition(|e| matches!(e, Effect::Persist(_)))
        .expect("persisted");
    assert!(last_persist < ack, "persist before acknowledging");
}

#[test]
fn terminal_updates_after_terminal_are_ignored() {
    let mut h = Harness::new();
    let mut spec = app("/web", 1);
    spec.instances = 1;
    h.create(spec);
    let task = h.run_all("agent-1")[0].clone();
    // Scale to zero: decommissioned, killed, then expunged on TASK_KILLED.
    let mut spec =
        h.s.app(&PathId::parse_app_id("/web").unwrap())
            .unwrap()
            .clone();
    spec.instances = 0;
    let effects = h.step(Input::Command(Command::PutApp {
        app: spec,
        force: false,
    }));
    assert_eq!(kills(&effects), std::slice::from_ref(&task));
    h.update(&task, TaskState::TaskKilled);
    assert!(
        h.instances("/web").is_empty(),
        "decommissioned instance expunged, not replaced"
    );
    h.update(&task, TaskState::TaskLost);
    assert!(h.instances("/web").is_empty());
    assert!(h.s.deployments().is_empty());
}

#[test]
fn backoff_blocks_offers_until_it_expires_and_reset_clears_it() {
    let (mut h, task) = running_app();
    h.update(&task, TaskState::TaskFailed);
    assert!(h.offer("agent-1").is_empty(), "in backoff");
    h.advance(1000);
    let relaunched = h.offer("agent-1");
    assert_eq!(relaunched.len(), 1);
    h.update(&relaunched[0].task_id.value, TaskState::TaskFailed);
    assert_eq!(delay_left(&h), 1150, "second failure multiplies by 1.15");
    h.command(Command::ResetDelay {
        app_id: PathId::parse_app_id("/web").unwrap(),
    });
    assert_eq!(h.offer("agent-1").len(), 1, "reset delay launches at once");
}

#[test]
fn staging_too_long_is_killed() {
    let mut h = Harness::new();
    h.create(app("/web", 1));
    let task = h.offer("agent-1")[0].task_id.value.clone();
    h.update(&task, TaskState::TaskStaging);
    let effects = h.advance(300_000);
    assert_eq!(kills(&effects), [task]);
}

/// A kill decided while the connection to the master was down is dropped by the client
/// (only launches wait for a connection): on resubscribing the scheduler sends it again at
/// once, not a retry period later (the soak saw a scaled-down app's surplus run 30 s more).
#[test]
fn kills_pending_across_a_disconnection_are_sent_again_on_resubscribe() {
    let mut h = Harness::new();
    h.create(app("/web", 1));
    let task = h.run_all("agent-1")[0].clone();
    h.step(Input::Disconnected);
    let mut spec =
        h.s.app(&PathId::parse_app_id("/web").unwrap())
            .unwrap()
            .clone();
    spec.instances = 0;
    let effects = h.step(Input::Command(Command::PutApp {
        app: spec,
        force: false,
    }));
    assert_eq!(kills(&effects), std::slice::from_ref(&task), "first kill");
    let effects = h.step(Input::Subscribed {
        framework_id: "fw-1".into(),
    });
    assert_eq!(
        kills(&effects),
        std::slice::from_ref(&task),
        "the kill is sent again with the new subscription"
    );
    // Once the task is gone, a later subscription has nothing to kill.
    h.update(&task, TaskState::TaskKilled);
    let effects = h.step(Input::Subscribed {
        framework_id: "fw-1".into(),
    });
    assert!(kills(&effects).is_empty(), "{effects:?}");
}
