//! The status update manager's rules (spec §5): order, one update in flight, retry schedule,
//! deduplication, resend on (re)registration and UPDATE_FRAMEWORK, checkpoint before send.

use crate::agent_support;

use agent_support::*;
use drover_core::agent::sum::{RETRY_MAX_MS, RETRY_MIN_MS};
use drover_core::agent::{CheckpointOp, Effect, FrameworkId, Input};
use drover_core::task::{Source, TaskState};

fn running(checkpoint: bool) -> Harness {
    let mut h = Harness::registered();
    h.step(run(&framework("fw", checkpoint, false), command_task("t1")));
    h.subscribe("fw", "t1", 1);
    h
}

#[test]
fn one_in_flight_and_in_order() {
    let mut h = running(false);
    let first = h.update("fw", "t1", "t1", TaskState::TaskStarting, 1);
    expect_one(&first, TaskState::TaskStarting, None, Source::Executor);
    // The next two wait for the first's acknowledgement.
    assert!(sent(&h.update("fw", "t1", "t1", TaskState::TaskRunning, 2)).is_empty());
    assert!(sent(&h.update("fw", "t1", "t1", TaskState::TaskFinished, 3)).is_empty());
    let next = h.ack("fw", "t1", vec![1; 16]);
    expect_one(&next, TaskState::TaskRunning, None, Source::Executor);
    // A wrong or repeated ACK changes nothing.
    assert!(sent(&h.ack("fw", "t1", vec![1; 16])).is_empty());
    assert!(sent(&h.ack("fw", "t1", vec![3; 16])).is_empty());
    let last = h.ack("fw", "t1", vec![2; 16]);
    expect_one(&last, TaskState::TaskFinished, None, Source::Executor);
}

#[test]
fn retries_double_up_to_ten_minutes() {
    let mut h = running(false);
    h.update("fw", "t1", "t1", TaskState::TaskRunning, 1);
    let mut interval = RETRY_MIN_MS;
    let mut seen = Vec::new();
    for _ in 0..10 {
        assert!(
            sent(&h.advance(interval - 1)).is_empty(),
            "resent early at {interval}"
        );
        let effects = h.advance(1);
        assert_eq!(sent(&effects).len(), 1);
        assert_eq!(sent(&effects)[0].uuid, Some(vec![1; 16]));
        seen.push(interval);
        interval = (interval * 2).min(RETRY_MAX_MS);
    }
    assert_eq!(&seen[..4], &[10_000, 20_000, 40_000, 80_000]);
    assert_eq!(*seen.last().unwrap(), RETRY_MAX_MS);
}

#[test]
fn duplicates_are_acknowledged_but_not_resent() {
    let mut h = running(false);
    h.update("fw", "t1", "t1", TaskState::TaskRunning, 1);
    let effects = h.update("fw", "t1", "t1", TaskState::TaskRunning, 1);
    assert!(sent(&effects).is_empty());
    assert_eq!(
        executor_events(&effects, 1),
        vec![drover_wire::v1::executor::event::Type::Acknowledged]
    );
    h.ack("fw", "t1", vec![1; 16]);
    // Also after its acknowledgement.
    assert!(sent(&h.update("fw", "t1", "t1", TaskState::TaskRunning, 1)).is_empty());
}

#[test]
fn paused_while_disconnected_and_resent_on_reregistration() {
    let mut h = running(false);
    h.step(Input::Disconnected);
    assert!(sent(&h.update("fw", "t1", "t1", TaskState::TaskRunning, 1)).is_empty());
    assert!(sent(&h.advance(RETRY_MIN_MS * 5)).is_empty());
    let effects = h.step(Input::Registered {
        agent_id: "agent-1".into(),
    });
    expect_one(&effects, TaskState::TaskRunning, None, Source::Executor);
}

#[test]
fn update_framework_resends_heads_at_once() {
    let mut h = running(false);
    h.update("fw", "t1", "t1", TaskState::TaskRunning, 1);
    let effects = h.step(Input::UpdateFramework(framework("fw", false, false)));
    expect_one(&effects, TaskState::TaskRunning, None, Source::Executor);
}

#[test]
fn checkpoint_precedes_send_and_executor_ack() {
    let mut h = running(true);
    let effects = h.update("fw", "t1", "t1", TaskState::TaskRunning, 1);
    let put = effects
        .iter()
        .position(|e| matches!(e, Effect::Checkpoint(CheckpointOp::PutUpdate { .. })))
        .expect("checkpointed");
    let send = effects
        .iter()
        .position(|e| matches!(e, Effect::ToMaster(_)))
        .expect("sent");
    let ack = effects
        .iter()
        .position(|e| matches!(e, Effect::ToExecutor { .. }))
        .expect("acked");
    assert!(put < send && put < ack);
    let effects = h.ack("fw", "t1", vec![1; 16]);
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Checkpoint(CheckpointOp::AckUpdate { seq: 0, .. })
    )));
}

#[test]
fn non_checkpointing_frameworks_write_nothing() {
    let mut h = running(false);
    let effects = h.update("fw", "t1", "t1", TaskState::TaskRunning, 1);
    assert!(!effects.iter().any(|e| matches!(e, Effect::Checkpoint(_))));
}

#[test]
fn terminal_ack_removes_task_and_executor() {
    let mut h = running(true);
    h.update("fw", "t1", "t1", TaskState::TaskFinished, 1);
    let container_id = h.container_of("fw", "t1");
    h.step(Input::ContainerTerminated {
        container_id,
        message: "Command exited with status 0".into(),
        oom_killed: false,
    });
    let effects = h.ack("fw", "t1", vec![1; 16]);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Checkpoint(CheckpointOp::RemoveTask { .. })))
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Checkpoint(CheckpointOp::RemoveExecutor { .. })))
    );
    // The sandbox is deleted `--gc_delay` later (agent_gc.rs), not now.
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::RemoveDirectories(_)))
    );
    assert_eq!(
        h.agent.next_deadline(),
        Some(h.now + drover_core::agent::gc::DEFAULT_GC_DELAY_MS)
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Checkpoint(CheckpointOp::RemoveFramework(_))))
    );
    assert!(
        h.agent
            .frameworks()
            .get(&FrameworkId("fw".into()))
            .is_none()
    );
}
