//! Issue 12: the master's `frameworks[].executors[]` lists a custom executor until the agent
//! reports it gone, so the agent reports every custom executor's end, including one the
//! framework or the master asked to shut down (Mesos' agent sends `ExitedExecutorMessage` for
//! every executor that is not a generated command executor).

use crate::agent_support;

use agent_support::*;
use drover_core::agent::{Effect, ExecutorId, FrameworkId, Input};
use drover_wire::internal;
use drover_wire::v1;

fn custom_executor_task(id: &str, executor: &str) -> v1::TaskInfo {
    let mut task = command_task(id);
    task.command = None;
    task.executor = Some(v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: executor.into(),
        },
        framework_id: Some(v1::FrameworkId { value: "fw".into() }),
        command: Some(v1::CommandInfo {
            value: Some("./my-executor".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    task
}

fn exited_reports(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToMaster(call)
                if call.r#type == Some(internal::agent_call::Type::ExecutorExited as i32) =>
            {
                call.executor_exited
                    .as_ref()
                    .map(|x| x.executor_id.value.clone())
            }
            _ => None,
        })
        .collect()
}

fn started(executor: &str) -> (Harness, drover_core::agent::ContainerId) {
    let mut h = Harness::registered();
    h.step(run(
        &framework("fw", false, false),
        custom_executor_task("t1", executor),
    ));
    let container = h.container_of("fw", executor);
    h.step(Input::ContainerLaunched(container.clone()));
    h.subscribe("fw", executor, 1);
    (h, container)
}

#[test]
fn an_executor_shut_down_on_request_is_reported_exited() {
    let (mut h, container) = started("ex");
    h.step(Input::ShutdownExecutor {
        framework_id: FrameworkId("fw".into()),
        executor_id: ExecutorId("ex".into()),
    });
    let effects = h.step(Input::ContainerTerminated {
        container_id: container.clone(),
        message: "Executor terminated".into(),
        oom_killed: false,
    });
    assert_eq!(exited_reports(&effects), ["ex"]);
    // Once: a second report of the same end changes nothing.
    let again = h.step(Input::ContainerTerminated {
        container_id: container,
        message: "Executor terminated".into(),
        oom_killed: false,
    });
    assert!(exited_reports(&again).is_empty());
}

#[test]
fn an_executor_that_ends_on_its_own_is_reported_exited() {
    let (mut h, container) = started("ex2");
    let effects = h.step(Input::ContainerTerminated {
        container_id: container,
        message: "Command exited with status 1".into(),
        oom_killed: false,
    });
    assert_eq!(exited_reports(&effects), ["ex2"]);
}
