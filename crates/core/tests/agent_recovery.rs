//! Recovery decisions (spec §9): re-attach, reregistration timeout, tasks launched during
//! the restart, dead executors, and a host reboot.

use crate::agent_support;

use agent_support::*;
use drover_core::agent::sum::Pending;
use drover_core::agent::{CheckpointOp, ContainerId, Effect, FrameworkId, Input, TaskId};
use drover_core::task::{Reason, Source, TaskState};
use drover_wire::v1;

fn start_session(effects: &[Effect]) -> bool {
    effects
        .iter()
        .any(|e| matches!(e, Effect::StartMasterSession))
}

#[test]
fn live_executor_resubscribes_and_agent_then_registers() {
    let mut h = Harness::recovered_with(recovered_command_task(
        true,
        false,
        TaskState::TaskRunning,
        false,
    ));
    assert!(!h.agent.is_recovered());
    let effects = h.subscribe("fw", "t1", 1);
    assert!(
        start_session(&effects),
        "recovery completes once every executor is back"
    );
    assert!(sent(&effects).is_empty());
    let call = h.agent.registration_call("1.11.0");
    assert_eq!(call.reregister.unwrap().tasks.len(), 1);
}

#[test]
fn executor_not_back_in_time_is_reregistration_timeout() {
    for (pa, expected) in [(true, TaskState::TaskGone), (false, TaskState::TaskLost)] {
        let mut h = Harness::recovered_with(recovered_command_task(
            true,
            false,
            TaskState::TaskRunning,
            pa,
        ));
        let effects = h.advance(REREG_TIMEOUT);
        assert!(start_session(&effects));
        assert_eq!(kills(&effects), vec![ContainerId("c1".into())]);
        // Sending waits for registration; the update is queued.
        let effects = h.step(Input::Registered {
            agent_id: "agent-1".into(),
        });
        expect_one(
            &effects,
            expected,
            Some(Reason::ExecutorReregistrationTimeout),
            Source::Agent,
        );
    }
}

#[test]
fn staging_task_the_executor_never_got_is_agent_restarted() {
    let mut h = Harness::recovered_with(recovered_command_task(
        true,
        false,
        TaskState::TaskStaging,
        true,
    ));
    h.subscribe("fw", "t1", 1);
    let effects = h.step(Input::Registered {
        agent_id: "agent-1".into(),
    });
    expect_one(
        &effects,
        TaskState::TaskDropped,
        Some(Reason::AgentRestarted),
        Source::Agent,
    );
}

#[test]
fn staging_task_listed_by_executor_is_kept() {
    let mut h = Harness::recovered_with(recovered_command_task(
        true,
        false,
        TaskState::TaskStaging,
        true,
    ));
    let (_, effects) = h.call(
        Some(drover_core::agent::ConnId(1)),
        v1::executor::Call {
            executor_id: v1::ExecutorId { value: "t1".into() },
            framework_id: v1::FrameworkId { value: "fw".into() },
            r#type: Some(v1::executor::call::Type::Subscribe as i32),
            subscribe: Some(v1::executor::call::Subscribe {
                unacknowledged_tasks: vec![command_task("t1")],
                unacknowledged_updates: vec![],
            }),
            ..Default::default()
        },
    );
    assert!(start_session(&effects));
    assert!(
        sent(&h.step(Input::Registered {
            agent_id: "agent-1".into()
        }))
        .is_empty()
    );
}

#[test]
fn dead_executor_is_executor_terminated() {
    let mut h = Harness::recovered_with(recovered_command_task(
        false,
        false,
        TaskState::TaskRunning,
        false,
    ));
    let effects = h.step(Input::Registered {
        agent_id: "agent-1".into(),
    });
    expect_one(
        &effects,
        TaskState::TaskFailed,
        Some(Reason::ExecutorTerminated),
        Source::Agent,
    );
}

#[test]
fn reboot_adopts_nothing_and_reports_tasks_gone() {
    let mut h = Harness::recovered_with(recovered_command_task(
        true,
        true,
        TaskState::TaskRunning,
        true,
    ));
    assert!(h.agent.is_recovered(), "nothing to wait for after a reboot");
    let effects = h.step(Input::Registered {
        agent_id: "agent-1".into(),
    });
    let status = expect_one(
        &effects,
        TaskState::TaskGone,
        Some(Reason::ExecutorReregistrationTimeout),
        Source::Agent,
    );
    assert!(status.message.unwrap().contains("rebooted"));
}

#[test]
fn unacknowledged_updates_survive_and_are_resent_in_order() {
    let mut s = recovered_command_task(true, false, TaskState::TaskFinished, false);
    let status = |st: TaskState, u: u8| v1::TaskStatus {
        task_id: v1::TaskId { value: "t1".into() },
        state: st as i32,
        source: Some(Source::Executor as i32),
        uuid: Some(vec![u; 16]),
        ..Default::default()
    };
    s.updates = vec![
        (
            FrameworkId("fw".into()),
            TaskId("t1".into()),
            Pending {
                seq: 4,
                status: status(TaskState::TaskFinished, 5),
            },
        ),
        (
            FrameworkId("fw".into()),
            TaskId("t1".into()),
            Pending {
                seq: 3,
                status: status(TaskState::TaskRunning, 4),
            },
        ),
    ];
    s.acks = vec![(FrameworkId("fw".into()), TaskId("t1".into()), vec![3; 16])];
    let mut h = Harness::recovered_with(s);
    h.subscribe("fw", "t1", 1);
    let effects = h.step(Input::Registered {
        agent_id: "agent-1".into(),
    });
    expect_one(&effects, TaskState::TaskRunning, None, Source::Executor);
    // The executor resending an old, acknowledged update is only acknowledged.
    assert!(sent(&h.update("fw", "t1", "t1", TaskState::TaskRunning, 3)).is_empty());
    let effects = h.ack("fw", "t1", vec![4; 16]);
    expect_one(&effects, TaskState::TaskFinished, None, Source::Executor);
    let effects = h.ack("fw", "t1", vec![5; 16]);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Checkpoint(CheckpointOp::RemoveTask { .. })))
    );
}
