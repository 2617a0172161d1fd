//! Task groups on an agent that cannot run them yet (issue 16): every task of a LAUNCH_GROUP
//! ends TASK_FAILED with REASON_CONTAINER_LAUNCH_FAILED naming what is missing, nothing is
//! launched, and nothing stays TASK_STAGING.

mod agent_support;

use agent_support::*;
use drover_core::agent::{Effect, Input};
use drover_core::task::{Reason, Source, TaskState};
use drover_wire::{internal, v1};

#[test]
fn every_task_of_a_group_is_refused_by_name() {
    let mut h = Harness::registered();
    let fw = framework("fw", true, false);
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId {
            value: "instance-1".into(),
        },
        ..Default::default()
    };
    let mut a = command_task("a");
    let mut b = command_task("b");
    a.command = None;
    b.command = None;
    let effects = h.step(Input::RunTask(internal::agent_event::RunTask {
        framework_info: fw,
        task: None,
        executor: Some(executor),
        task_group: Some(v1::TaskGroupInfo { tasks: vec![a, b] }),
    }));
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Launch(_))),
        "nothing is launched: {effects:?}"
    );
    let updates = sent(&effects);
    let ids: Vec<&str> = updates.iter().map(|u| u.task_id.value.as_str()).collect();
    assert_eq!(ids, ["a", "b"], "{updates:?}");
    for update in &updates {
        assert_eq!(update.state, TaskState::TaskFailed as i32);
        assert_eq!(update.reason, Some(Reason::ContainerLaunchFailed as i32));
        assert_eq!(update.source, Some(Source::Agent as i32));
        assert!(
            update
                .message
                .as_deref()
                .is_some_and(|m| m.contains("task groups")),
            "{update:?}"
        );
    }
    // Once both are acknowledged the agent holds nothing of the framework.
    for update in updates {
        h.ack(
            "fw",
            &update.task_id.value,
            update.uuid.clone().expect("a uuid"),
        );
    }
    assert!(h.agent.frameworks().is_empty());
}
