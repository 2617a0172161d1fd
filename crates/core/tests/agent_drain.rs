//! DRAIN on the agent core (Mesos' `Slave::drain`): the config is checkpointed, live tasks are
//! killed with the capped grace period, KILLED updates say REASON_SLAVE_DRAINING (and are
//! TASK_GONE_BY_OPERATOR for a partition-aware framework when the drain marks the agent
//! gone), a task sent while draining is dropped (the seed's REASON_SLAVE_DRAINING row), the
//! drain ends once no framework is left, and a restarted agent replays it.

use crate::agent_support;

use agent_support::*;
use drover_core::agent::{CheckpointOp, Effect, Input, Recovered};
use drover_core::task::{Reason, Source, TaskState};
use drover_wire::v1;

fn config(grace_s: Option<i64>, mark_gone: bool) -> v1::DrainConfig {
    v1::DrainConfig {
        max_grace_period: grace_s.map(|s| v1::DurationInfo {
            nanoseconds: s * 1_000_000_000,
        }),
        mark_gone: Some(mark_gone),
    }
}

/// A running command task `t1` (executor `t1`, stream 1).
fn running(pa: bool) -> Harness {
    let mut h = Harness::registered();
    h.step(run(&framework("fw", true, pa), command_task("t1")));
    h.subscribe("fw", "t1", 1);
    h.update("fw", "t1", "t1", TaskState::TaskRunning, 1);
    h.ack("fw", "t1", vec![1; 16]);
    h
}

/// The kill policies of the KILL events sent to executor stream `conn`.
fn kill_events(effects: &[Effect], conn: u64) -> Vec<Option<v1::KillPolicy>> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToExecutor { conn: c, event } if c.0 == conn => {
                event.kill.as_ref().map(|k| k.kill_policy)
            }
            _ => None,
        })
        .collect()
}

fn drain_checkpoints(effects: &[Effect]) -> Vec<Option<v1::DrainConfig>> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Checkpoint(CheckpointOp::Drain(c)) => Some(*c),
            _ => None,
        })
        .collect()
}

#[test]
fn a_drain_kills_each_task_with_the_capped_grace_and_the_kill_says_why() {
    let mut h = running(true);
    let effects = h.step(Input::Drain(config(Some(1), false)));
    assert_eq!(
        drain_checkpoints(&effects),
        vec![Some(config(Some(1), false))],
        "persisted before anything is killed"
    );
    let kills = kill_events(&effects, 1);
    assert_eq!(kills.len(), 1, "{effects:#?}");
    assert_eq!(
        kills[0].and_then(|p| p.grace_period).map(|g| g.nanoseconds),
        Some(1_000_000_000),
        "a task with no grace period of its own gets the drain's"
    );
    assert!(h.agent.snapshot().drain.is_some());

    let effects = h.update("fw", "t1", "t1", TaskState::TaskKilled, 2);
    expect_one(
        &effects,
        TaskState::TaskKilled,
        Some(Reason::AgentDraining),
        Source::Executor,
    );
}

#[test]
fn a_task_sent_while_draining_is_dropped_or_lost() {
    for (pa, expected) in [(true, TaskState::TaskDropped), (false, TaskState::TaskLost)] {
        let mut h = running(pa);
        h.step(Input::Drain(config(None, false)));
        let effects = h.step(run(&framework("fw", true, pa), command_task("t2")));
        let status = expect_one(
            &effects,
            expected,
            Some(Reason::AgentDraining),
            Source::Agent,
        );
        assert!(
            status
                .message
                .as_deref()
                .unwrap_or_default()
                .contains("Task was received while agent was already draining"),
            "{status:#?}"
        );
        assert!(!effects.iter().any(|e| matches!(e, Effect::Launch(_))));
    }
}

#[test]
fn a_task_group_sent_while_draining_is_dropped() {
    let mut h = running(true);
    h.step(Input::Drain(config(None, false)));
    let mut task = command_task("g1");
    task.agent_id.value = "agent-1".into();
    let effects = h.step(Input::RunTask(
        drover_wire::internal::agent_event::RunTask {
            framework_info: framework("fw", true, true),
            task: None,
            executor: Some(v1::ExecutorInfo {
                executor_id: v1::ExecutorId {
                    value: "default".into(),
                },
                r#type: Some(v1::executor_info::Type::Default as i32),
                ..Default::default()
            }),
            task_group: Some(v1::TaskGroupInfo { tasks: vec![task] }),
        },
    ));
    expect_one(
        &effects,
        TaskState::TaskDropped,
        Some(Reason::AgentDraining),
        Source::Agent,
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::Launch(_))));
}

#[test]
fn with_mark_gone_a_partition_aware_framework_sees_gone_by_operator() {
    for (pa, expected) in [
        (true, TaskState::TaskGoneByOperator),
        (false, TaskState::TaskKilled),
    ] {
        let mut h = running(pa);
        h.step(Input::Drain(config(None, true)));
        let effects = h.update("fw", "t1", "t1", TaskState::TaskKilled, 2);
        expect_one(
            &effects,
            expected,
            Some(Reason::AgentDraining),
            Source::Executor,
        );
    }
}

#[test]
fn a_drain_ends_once_no_framework_is_left_and_then_tasks_run_again() {
    let mut h = running(true);
    h.step(Input::Drain(config(Some(0), false)));
    h.update("fw", "t1", "t1", TaskState::TaskKilled, 2);
    h.ack("fw", "t1", vec![2; 16]);
    let effects = h.step(Input::ContainerTerminated {
        container_id: h.container_of("fw", "t1"),
        message: "Command terminated with signal Terminated".into(),
        oom_killed: false,
    });
    assert!(
        h.agent.frameworks().is_empty(),
        "{:#?}",
        h.agent.frameworks()
    );
    assert_eq!(
        drain_checkpoints(&effects),
        vec![None],
        "the drain is forgotten"
    );
    assert!(h.agent.snapshot().drain.is_none());
    // Not draining any more: a new task launches.
    let effects = h.step(run(&framework("fw", true, true), command_task("t3")));
    assert!(effects.iter().any(|e| matches!(e, Effect::Launch(_))));
}

#[test]
fn a_drain_of_an_agent_with_nothing_on_it_is_already_complete() {
    let mut h = Harness::registered();
    let effects = h.step(Input::Drain(config(Some(1), true)));
    assert!(
        effects.is_empty(),
        "nothing stored, nothing killed: {effects:#?}"
    );
    let effects = h.step(run(&framework("fw", true, true), command_task("t1")));
    assert!(effects.iter().any(|e| matches!(e, Effect::Launch(_))));
}

#[test]
fn a_restarted_agent_replays_its_drain_once_its_executors_are_back() {
    let state = Recovered {
        drain: Some(config(Some(2), false)),
        ..recovered_command_task(true, false, TaskState::TaskRunning, true)
    };
    let mut h = Harness::recovered_with(state);
    let effects = h.subscribe("fw", "t1", 1);
    let kills = kill_events(&effects, 1);
    assert_eq!(kills.len(), 1, "the drain goes on: {effects:#?}");
    assert_eq!(
        kills[0].and_then(|p| p.grace_period).map(|g| g.nanoseconds),
        Some(2_000_000_000)
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::StartMasterSession))
    );
    // Still draining: a new task is dropped.
    h.step(Input::Registered {
        agent_id: "agent-1".into(),
    });
    let effects = h.step(run(&framework("fw", true, true), command_task("t2")));
    expect_one(
        &effects,
        TaskState::TaskDropped,
        Some(Reason::AgentDraining),
        Source::Agent,
    );
}
