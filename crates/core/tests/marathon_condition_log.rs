//! Seed 2's first line, "you can consult the Marathon logs for these messages": every status
//! the scheduler handles yields one log record naming the instance, what Mesos said (state,
//! reason, source, message) and the reaction taken, whatever the instance's fate.

use crate::marathon_support;

use drover_core::marathon::condition::Condition;
use drover_core::marathon::scheduler::{ConditionLog, Effect};
use drover_core::task::{Reason, TaskState};
use marathon_support::*;

fn logs(effects: &[Effect]) -> Vec<ConditionLog> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Log(line) => Some(line.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_update_of_an_instance_is_logged_with_its_reaction() {
    let mut h = Harness::new();
    h.create(app("/web", 1));
    let tasks = h.offer("agent-1");
    assert_eq!(tasks.len(), 1);
    let task = tasks[0].task_id.value.clone();

    let running = logs(&h.update(&task, TaskState::TaskRunning));
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0].task_id, task);
    assert_eq!(running[0].app_id.as_ref().unwrap().as_str(), "/web");
    assert!(running[0].instance_id.is_some());
    assert_eq!(running[0].state, TaskState::TaskRunning);
    assert_eq!(running[0].previous, Some(Condition::Provisioned));
    assert_eq!(running[0].condition, Condition::Running);
    assert_eq!(running[0].reaction, "recorded");

    let failed = logs(&h.update_with(
        &task,
        TaskState::TaskFailed,
        Some(Reason::CommandExecutorFailed),
        Some("exit status 3"),
    ));
    assert_eq!(failed.len(), 1, "{failed:?}");
    let line = &failed[0];
    assert_eq!(line.condition, Condition::Failed);
    assert_eq!(line.previous, Some(Condition::Running));
    assert_eq!(line.reason, Some(Reason::CommandExecutorFailed));
    assert_eq!(line.message.as_deref(), Some("exit status 3"));
    assert!(
        line.reaction
            .starts_with("expunged; a replacement is launched after"),
        "{}",
        line.reaction
    );
}

#[test]
fn updates_nobody_owns_are_logged_with_what_was_done() {
    let mut h = Harness::new();
    h.create(app("/web", 1));
    // A running task of an instance this scheduler never launched: killed, and logged so.
    let stray = "web.instance-00000000-0000-0000-0000-000000000000._app.1";
    let effects = h.update(stray, TaskState::TaskRunning);
    let lines = logs(&effects);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].reaction, "unknown instance: killed");
    assert_eq!(lines[0].previous, None);
    assert_eq!(kills(&effects), [stray.to_owned()]);
    let lines = logs(&h.update(stray, TaskState::TaskKilled));
    assert_eq!(lines[0].reaction, "unknown instance: forgotten");
}

#[test]
fn a_retried_terminal_update_is_logged_with_what_was_done() {
    let mut h = Harness::new();
    h.create(app("/job", 1));
    let task = h.offer("agent-1")[0].task_id.value.clone();
    h.update(&task, TaskState::TaskRunning);
    let lines = logs(&h.update(&task, TaskState::TaskFinished));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].condition, Condition::Finished);
    assert!(
        lines[0]
            .reaction
            .starts_with("expunged; a replacement is launched"),
        "{}",
        lines[0].reaction
    );
    // The same update again (Mesos retries until acknowledged): the instance is gone, so
    // the scheduler forgets it, and says so.
    let again = logs(&h.update(&task, TaskState::TaskFinished));
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].reaction, "unknown instance: forgotten");
    assert_eq!(again[0].app_id.as_ref().map(|a| a.as_str()), Some("/job"));
}
