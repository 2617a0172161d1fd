//! One test per agent-side row of the seed (`mesos-task-state-reasons.txt`) that the agent
//! core decides: each drives the agent into the situation and checks (state, reason, source).

use crate::agent_support;

use agent_support::*;
use drover_core::agent::{ContainerId, Effect, FrameworkId, Input, TaskId};
use drover_core::task::emission::Trigger;
use drover_core::task::{Reason, Source, TaskState};

/// A launched command task whose executor subscribed: returns the harness.
fn running(checkpoint: bool, pa: bool) -> Harness {
    let mut h = Harness::registered();
    let fw = framework("fw", checkpoint, pa);
    let effects = h.step(run(&fw, command_task("t1")));
    assert!(effects.iter().any(|e| matches!(e, Effect::Launch(_))));
    let effects = h.subscribe("fw", "t1", 1);
    assert_eq!(
        executor_events(&effects, 1),
        vec![
            drover_wire::v1::executor::event::Type::Subscribed,
            drover_wire::v1::executor::event::Type::Launch
        ]
    );
    h
}

#[test]
fn kill_before_delivery_is_killed_during_launch() {
    // REASON_TASK_KILLED_DURING_LAUNCH: the executor has not subscribed yet.
    let mut h = Harness::registered();
    h.step(run(&framework("fw", false, false), command_task("t1")));
    let effects = h.step(Input::KillTask {
        framework_id: FrameworkId("fw".into()),
        task_id: TaskId("t1".into()),
        kill_policy: None,
    });
    expect_one(
        &effects,
        TaskState::TaskKilled,
        Some(Reason::TaskKilledDuringLaunch),
        Source::Agent,
    );
    // The executor has nothing left to run: it is killed.
    assert_eq!(kills(&effects).len(), 1);
}

#[test]
fn kill_of_unknown_task_is_dropped_or_lost() {
    // REASON_EXECUTOR_TERMINATED ("Cannot find executor"): DROPPED for PA, LOST otherwise.
    for (pa, state) in [(true, TaskState::TaskDropped), (false, TaskState::TaskLost)] {
        let mut h = Harness::registered();
        h.step(run(&framework("fw", false, pa), command_task("other")));
        let effects = h.step(Input::KillTask {
            framework_id: FrameworkId("fw".into()),
            task_id: TaskId("ghost".into()),
            kill_policy: None,
        });
        let status = expect_one(
            &effects,
            state,
            Some(Reason::ExecutorTerminated),
            Source::Agent,
        );
        assert!(status.message.unwrap().contains("Cannot find executor"));
    }
}

#[test]
fn registration_timeout_fails_queued_tasks() {
    // REASON_EXECUTOR_REGISTRATION_TIMEOUT.
    let mut h = Harness::registered();
    h.step(run(&framework("fw", false, false), command_task("t1")));
    assert_eq!(h.agent.next_deadline(), Some(h.now + REG_TIMEOUT));
    assert!(sent(&h.advance(REG_TIMEOUT - 1)).is_empty());
    let effects = h.advance(1);
    expect_one(
        &effects,
        TaskState::TaskFailed,
        Some(Reason::ExecutorRegistrationTimeout),
        Source::Agent,
    );
    assert_eq!(kills(&effects).len(), 1);
}

#[test]
fn launch_failure_is_container_launch_failed() {
    // REASON_CONTAINER_LAUNCH_FAILED.
    let mut h = Harness::registered();
    h.step(run(&framework("fw", false, false), command_task("t1")));
    let container_id = h.container_of("fw", "t1");
    let effects = h.step(Input::ContainerLaunchFailed {
        container_id,
        message: "user 'nobody2' does not exist".into(),
    });
    let status = expect_one(
        &effects,
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        Source::Agent,
    );
    assert!(status.message.unwrap().contains("nobody2"));
}

#[test]
fn executor_exit_with_live_task_is_executor_terminated() {
    // REASON_EXECUTOR_TERMINATED (TASK_FAILED).
    let mut h = running(false, false);
    h.update("fw", "t1", "t1", TaskState::TaskRunning, 1);
    let container_id = h.container_of("fw", "t1");
    let effects = h.step(Input::ContainerTerminated {
        container_id,
        message: "Command terminated with signal Killed".into(),
        oom_killed: false,
    });
    // The RUNNING update is still unacknowledged, so the FAILED one waits behind it.
    assert!(sent(&effects).is_empty());
    let head = h
        .agent
        .status_updates()
        .stream(&FrameworkId("fw".into()), &TaskId("t1".into()))
        .unwrap()
        .pending()
        .count();
    assert_eq!(head, 2);
    let effects = h.ack("fw", "t1", vec![1; 16]);
    expect_one(
        &effects,
        TaskState::TaskFailed,
        Some(Reason::ExecutorTerminated),
        Source::Agent,
    );
}

#[test]
fn oom_is_container_limitation_memory() {
    // REASON_CONTAINER_LIMITATION_MEMORY, with `limitation.resources` naming mem.
    let mut h = running(false, false);
    let container_id = h.container_of("fw", "t1");
    let effects = h.step(Input::ContainerLimited {
        container_id: container_id.clone(),
        trigger: Trigger::ContainerLimitationMemory,
        message: "Memory limit exceeded: Requested: 64MB Maximum Used: 64MB".into(),
    });
    assert_eq!(kills(&effects), vec![container_id.clone()]);
    // The executor's own FAILED arrives first: acknowledged, not forwarded.
    let effects = h.update("fw", "t1", "t1", TaskState::TaskFailed, 9);
    assert!(sent(&effects).is_empty());
    assert_eq!(
        executor_events(&effects, 1),
        vec![drover_wire::v1::executor::event::Type::Acknowledged]
    );
    let effects = h.step(Input::ContainerTerminated {
        container_id,
        message: "Command terminated with signal Killed".into(),
        oom_killed: true,
    });
    let status = expect_one(
        &effects,
        TaskState::TaskFailed,
        Some(Reason::ContainerLimitationMemory),
        Source::Agent,
    );
    assert!(status.limitation.is_some());
    assert!(status.message.unwrap().contains("Memory limit exceeded"));
}

#[test]
fn oom_seen_only_at_exit_is_still_memory_limitation() {
    let mut h = running(false, false);
    let container_id = h.container_of("fw", "t1");
    let effects = h.step(Input::ContainerTerminated {
        container_id,
        message: "Memory limit exceeded: Requested: 64MB Maximum Used: 64MB".into(),
        oom_killed: true,
    });
    expect_one(
        &effects,
        TaskState::TaskFailed,
        Some(Reason::ContainerLimitationMemory),
        Source::Agent,
    );
}

#[test]
fn disk_quota_is_container_limitation_disk() {
    // REASON_CONTAINER_LIMITATION_DISK.
    let mut h = running(false, false);
    let container_id = h.container_of("fw", "t1");
    h.step(Input::ContainerLimited {
        container_id: container_id.clone(),
        trigger: Trigger::ContainerLimitationDisk,
        message: "Disk usage (20MB) exceeds quota (10MB)".into(),
    });
    let effects = h.step(Input::ContainerTerminated {
        container_id,
        message: "Command terminated with signal Killed".into(),
        oom_killed: false,
    });
    expect_one(
        &effects,
        TaskState::TaskFailed,
        Some(Reason::ContainerLimitationDisk),
        Source::Agent,
    );
}

#[test]
fn task_for_terminated_executor_is_dropped_or_lost() {
    // REASON_EXECUTOR_TERMINATED on launch: the executor is already going away.
    let mut h = Harness::registered();
    let fw = framework("fw", false, true);
    let mut task = command_task("t1");
    let executor = drover_wire::v1::ExecutorInfo {
        executor_id: drover_wire::v1::ExecutorId { value: "ex".into() },
        command: Some(drover_wire::v1::CommandInfo {
            value: Some("my-executor".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    task.executor = Some(executor.clone());
    task.command = None;
    h.step(run(&fw, task));
    h.subscribe("fw", "ex", 1);
    h.step(Input::ShutdownExecutor {
        framework_id: FrameworkId("fw".into()),
        executor_id: drover_core::agent::ExecutorId("ex".into()),
    });
    let mut task2 = command_task("t2");
    task2.executor = Some(executor);
    task2.command = None;
    let effects = h.step(run(&fw, task2));
    expect_one(
        &effects,
        TaskState::TaskDropped,
        Some(Reason::ExecutorTerminated),
        Source::Agent,
    );
}

#[test]
fn duplicate_task_id_is_task_invalid() {
    // MESOS-9657: REASON_TASK_INVALID, DROPPED for PA.
    let mut h = running(false, true);
    let effects = h.step(run(&framework("fw", false, true), command_task("t1")));
    expect_one(
        &effects,
        TaskState::TaskDropped,
        Some(Reason::TaskInvalid),
        Source::Agent,
    );
    // The live task is untouched.
    let t = &h.agent.frameworks()[&FrameworkId("fw".into())].executors
        [&drover_core::agent::ExecutorId("t1".into())]
        .tasks[&TaskId("t1".into())];
    assert_eq!(t.state, TaskState::TaskStaging);
}

#[test]
fn oversized_task_is_invalid_offers() {
    // REASON_INVALID_OFFERS: the agent does not have the resources.
    let mut h = Harness::registered();
    let mut task = command_task("big");
    task.resources[0].scalar.as_mut().unwrap().value = 64.0;
    let effects = h.step(run(&framework("fw", false, false), task));
    expect_one(
        &effects,
        TaskState::TaskLost,
        Some(Reason::InvalidOffers),
        Source::Agent,
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::Launch(_))));
}

#[test]
fn master_task_unknown_to_agent_is_reconciliation() {
    // REASON_RECONCILIATION from the agent on reregistration.
    let mut h = Harness::registered();
    let effects = h.step(Input::ReconcileTasks(vec![(
        FrameworkId("fw".into()),
        TaskId("nope".into()),
        false,
    )]));
    expect_one(
        &effects,
        TaskState::TaskLost,
        Some(Reason::Reconciliation),
        Source::Agent,
    );
}

#[test]
fn executor_updates_are_forwarded_with_executor_source() {
    let mut h = running(false, false);
    let effects = h.update("fw", "t1", "t1", TaskState::TaskRunning, 1);
    expect_one(&effects, TaskState::TaskRunning, None, Source::Executor);
}

#[test]
fn executor_may_not_send_staging_or_unsourced_updates() {
    let mut h = running(false, false);
    let (request, effects) = h.call(
        None,
        update_call("fw", "t1", "t1", TaskState::TaskStaging, 1),
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Reply { request: r, result: Err(_) } if *r == request))
    );
    let mut call = update_call("fw", "t1", "t1", TaskState::TaskRunning, 2);
    call.update.as_mut().unwrap().status.source = None;
    let (_, effects) = h.call(None, call);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Reply { result: Err(_), .. }))
    );
    let mut call = update_call("fw", "t1", "t1", TaskState::TaskRunning, 3);
    call.update.as_mut().unwrap().status.uuid = Some(vec![1, 2, 3]);
    let (_, effects) = h.call(None, call);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Reply { result: Err(_), .. }))
    );
    assert!(sent(&effects).is_empty());
}

#[test]
fn unknown_executor_and_unsubscribed_calls_are_refused() {
    use drover_core::agent::CallError;
    let mut h = Harness::registered();
    h.step(run(&framework("fw", false, false), command_task("t1")));
    let (_, effects) = h.call(
        None,
        update_call("nofw", "t1", "t1", TaskState::TaskRunning, 1),
    );
    assert!(effects.contains(&Effect::Reply {
        request: drover_core::agent::RequestId(1),
        result: Err(CallError::FrameworkNotFound)
    }));
    let (r, effects) = h.call(
        None,
        update_call("fw", "nope", "t1", TaskState::TaskRunning, 1),
    );
    assert!(effects.contains(&Effect::Reply {
        request: r,
        result: Err(CallError::ExecutorNotFound)
    }));
    let (r, effects) = h.call(
        None,
        update_call("fw", "t1", "t1", TaskState::TaskRunning, 1),
    );
    assert!(effects.contains(&Effect::Reply {
        request: r,
        result: Err(CallError::NotSubscribed)
    }));
}

#[test]
fn terminal_then_different_terminal_is_refused() {
    let mut h = running(false, false);
    h.update("fw", "t1", "t1", TaskState::TaskFinished, 1);
    let (_, effects) = h.call(
        None,
        update_call("fw", "t1", "t1", TaskState::TaskFailed, 2),
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Reply { result: Err(_), .. }))
    );
}

#[test]
fn framework_shutdown_sends_no_updates() {
    let mut h = running(false, false);
    let effects = h.step(Input::ShutdownFramework(FrameworkId("fw".into())));
    assert_eq!(
        executor_events(&effects, 1),
        vec![drover_wire::v1::executor::event::Type::Shutdown]
    );
    let container_id: ContainerId = h.container_of("fw", "t1");
    let effects = h.step(Input::ContainerTerminated {
        container_id,
        message: "x".into(),
        oom_killed: false,
    });
    assert!(sent(&effects).is_empty());
    assert!(h.agent.frameworks().is_empty());
}

#[test]
fn shutdown_grace_then_kill() {
    let mut h = running(false, false);
    h.step(Input::ShutdownExecutor {
        framework_id: FrameworkId("fw".into()),
        executor_id: drover_core::agent::ExecutorId("t1".into()),
    });
    assert!(kills(&h.advance(4_999)).is_empty());
    assert_eq!(kills(&h.advance(1)).len(), 1);
}
