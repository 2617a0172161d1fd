//! Every master-side row of the seed `shared/seeds/mesos-task-state-reasons.txt`, driven
//! through `Master::handle` with a virtual clock, for partition-aware (`_pa`) and other
//! (`_non_pa`) frameworks. Tests are named after the seed's identifiers.
#![allow(non_snake_case)]

use crate::master_common;

use drover_core::master::{Config, Registry, Reply};
use drover_core::resources;
use drover_wire::internal::{AgentCall, agent_call};
use drover_wire::v1;
use drover_wire::v1::TaskState::*;
use drover_wire::v1::scheduler;
use drover_wire::v1::task_status::Reason;
use master_common::*;

macro_rules! both_kinds {
    ($check:ident, $pa:ident, $non_pa:ident) => {
        #[test]
        fn $pa() {
            $check(true);
        }
        #[test]
        fn $non_pa() {
            $check(false);
        }
    };
}

/// Offers one agent to a fresh framework: (sim, framework, agent id, offer id).
fn offered(pa: bool, config: Config) -> (Sim, Fw, String, String) {
    let mut sim = Sim::with(config, Registry::new("M"));
    let (agent, _) = sim.register_agent("cpus:4;mem:4096;disk:1000;ports:[31000-31010]");
    let mut info = framework_info(pa);
    info.principal = Some("ops".into());
    let (fw, effects) = sim.subscribe_with(info);
    let offer = offers(&effects, fw.conn).pop().expect("an offer");
    (sim, fw, agent, offer.id.value)
}

fn check_task_invalid(pa: bool) {
    let (mut sim, fw, agent, offer) = offered(pa, Config::default());
    let mut both = task("t1", &agent, "cpus:1;mem:128");
    both.executor = Some(v1::ExecutorInfo {
        executor_id: v1::ExecutorId { value: "e".into() },
        ..Default::default()
    });
    let effects = sim.accept(&fw, &[&offer], vec![both]);
    let status = &updates(&effects, fw.conn)[0];
    assert_master_update(status, TaskError, Reason::TaskInvalid);
    assert!(
        status
            .message
            .as_deref()
            .unwrap()
            .contains("CommandInfo or ExecutorInfo")
    );
    assert!(
        sim.m.frameworks()[&fw.id].tasks.is_empty(),
        "nothing launched"
    );
}
both_kinds!(
    check_task_invalid,
    REASON_TASK_INVALID_pa,
    REASON_TASK_INVALID_non_pa
);

#[test]
fn REASON_TASK_INVALID_for_resources_beyond_the_offer_says_what_was_missing() {
    let (mut sim, fw, agent, offer) = offered(true, Config::default());
    let effects = sim.accept(&fw, &[&offer], vec![task("big", &agent, "cpus:64;mem:128")]);
    let status = &updates(&effects, fw.conn)[0];
    assert_master_update(status, TaskError, Reason::TaskInvalid);
    let message = status.message.as_deref().unwrap();
    assert!(message.contains("more resources"), "{message}");
    assert!(message.contains("cpus(*):64"), "{message}");
}

#[test]
fn REASON_TASK_INVALID_for_a_duplicate_task_id() {
    let (mut sim, fw, agent, offer) = offered(false, Config::default());
    let effects = sim.accept(
        &fw,
        &[&offer],
        vec![
            task("t1", &agent, "cpus:1;mem:64"),
            task("t1", &agent, "cpus:1;mem:64"),
        ],
    );
    let ups = updates(&effects, fw.conn);
    assert_eq!(ups.len(), 1);
    assert_master_update(&ups[0], TaskError, Reason::TaskInvalid);
    assert!(ups[0].message.as_deref().unwrap().contains("duplicate ID"));
    assert_eq!(
        sim.m.frameworks()[&fw.id].tasks.len(),
        1,
        "the first one launched"
    );
}

#[test]
fn REASON_TASK_INVALID_for_a_port_outside_the_offer() {
    let (mut sim, fw, agent, offer) = offered(true, Config::default());
    let effects = sim.accept(
        &fw,
        &[&offer],
        vec![task("p", &agent, "cpus:1;mem:64;ports:[40000-40000]")],
    );
    let status = &updates(&effects, fw.conn)[0];
    assert_master_update(status, TaskError, Reason::TaskInvalid);
    assert!(
        status
            .message
            .as_deref()
            .unwrap()
            .contains("ports(*):[40000-40000]")
    );
}

fn accept_ops(
    sim: &mut Sim,
    fw: &Fw,
    offer: &str,
    operations: Vec<v1::offer::Operation>,
) -> Vec<drover_core::master::Effect> {
    let call = scheduler::Call {
        r#type: Some(scheduler::call::Type::Accept as i32),
        accept: Some(scheduler::call::Accept {
            offer_ids: vec![v1::OfferId {
                value: offer.into(),
            }],
            operations,
            filters: None,
        }),
        ..Default::default()
    };
    let (reply, effects) = sim.call(fw, call);
    assert_eq!(reply, Reply::Accepted);
    effects
}

fn check_task_group_invalid(pa: bool) {
    let (mut sim, fw, agent, offer) = offered(pa, Config::default());
    let effects = accept_ops(
        &mut sim,
        &fw,
        &offer,
        vec![group(&agent, v1::executor_info::Type::Custom)],
    );
    let ups = updates(&effects, fw.conn);
    assert_eq!(ups.len(), 2, "every task of the group is refused");
    for status in &ups {
        assert_master_update(status, TaskError, Reason::TaskGroupInvalid);
    }
}
both_kinds!(
    check_task_group_invalid,
    REASON_TASK_GROUP_INVALID_pa,
    REASON_TASK_GROUP_INVALID_non_pa
);

#[test]
fn a_valid_task_group_launches_all_members_under_one_executor() {
    let (mut sim, fw, agent, offer) = offered(true, Config::default());
    let effects = accept_ops(
        &mut sim,
        &fw,
        &offer,
        vec![group(&agent, v1::executor_info::Type::Default)],
    );
    assert!(updates(&effects, fw.conn).is_empty());
    assert_eq!(sim.m.frameworks()[&fw.id].tasks.len(), 2);
    let used = sim.m.agent_used(&agent);
    assert_eq!(
        resources::scalar(&used, "cpus"),
        2.1,
        "executor counted once"
    );
}

/// "This task, or a task within this task group, was killed before delivery to the agent":
/// a kill of one task of a group whose agent went away before confirming the launch kills
/// every task of the group.
#[test]
fn killing_one_task_of_an_undelivered_group_kills_the_group_at_the_master() {
    let mut sim = Sim::new();
    let (agent, _) = sim.register_agent("cpus:4;mem:4096");
    let (fw, effects) = sim.subscribe(false, true, 3600.0);
    let offer = offers(&effects, fw.conn).pop().unwrap();
    accept_ops(
        &mut sim,
        &fw,
        &offer.id.value,
        vec![group(&agent, v1::executor_info::Type::Default)],
    );
    sim.close_agent(&agent);
    let (_, effects) = sim.call(
        &fw,
        scheduler::Call {
            r#type: Some(scheduler::call::Type::Kill as i32),
            kill: Some(scheduler::call::Kill {
                task_id: v1::TaskId { value: "g2".into() },
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let ups = updates(&effects, fw.conn);
    let mut ids: Vec<&str> = ups.iter().map(|u| u.task_id.value.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["g1", "g2"], "{ups:?}");
    for status in &ups {
        assert_master_update(status, TaskKilled, Reason::TaskKilledDuringLaunch);
    }
}

/// `run_tasks`: principal `ops` may run tasks as no user.
fn denying() -> Config {
    use drover_core::acl::{Acl, Entity, RunTasks};
    Config {
        run_tasks: Some(RunTasks {
            acls: vec![Acl {
                subject: Entity::Some(vec!["ops".to_owned()]),
                object: Entity::None,
            }],
            permissive: true,
        }),
        ..Config::default()
    }
}

fn check_task_unauthorized(pa: bool) {
    let (mut sim, fw, agent, offer) = offered(pa, denying());
    let effects = sim.accept(&fw, &[&offer], vec![task("t1", &agent, "cpus:1;mem:64")]);
    assert_master_update(
        &updates(&effects, fw.conn)[0],
        TaskError,
        Reason::TaskUnauthorized,
    );
}
both_kinds!(
    check_task_unauthorized,
    REASON_TASK_UNAUTHORIZED_pa,
    REASON_TASK_UNAUTHORIZED_non_pa
);

fn check_task_group_unauthorized(pa: bool) {
    let (mut sim, fw, agent, offer) = offered(pa, denying());
    let effects = accept_ops(
        &mut sim,
        &fw,
        &offer,
        vec![group(&agent, v1::executor_info::Type::Default)],
    );
    let ups = updates(&effects, fw.conn);
    assert_eq!(ups.len(), 2);
    for status in &ups {
        assert_master_update(status, TaskError, Reason::TaskGroupUnauthorized);
    }
}
both_kinds!(
    check_task_group_unauthorized,
    REASON_TASK_GROUP_UNAUTHORIZED_pa,
    REASON_TASK_GROUP_UNAUTHORIZED_non_pa
);

fn check_invalid_offers(pa: bool) {
    let (mut sim, fw, agent, offer) = offered(pa, Config::default());
    let effects = sim.accept(
        &fw,
        &[&offer, "M-O999"],
        vec![task("t1", &agent, "cpus:1;mem:64")],
    );
    let status = &updates(&effects, fw.conn)[0];
    let state = if pa { TaskDropped } else { TaskLost };
    assert_master_update(status, state, Reason::InvalidOffers);
    assert!(status.message.as_deref().unwrap().contains("M-O999"));
    assert!(
        sim.m.offers().is_empty() || !sim.m.offers().contains_key(&offer),
        "used up"
    );
    // The same offer cannot be used twice.
    let effects = sim.accept(&fw, &[&offer], vec![task("t2", &agent, "cpus:1;mem:64")]);
    assert_master_update(&updates(&effects, fw.conn)[0], state, Reason::InvalidOffers);
}
both_kinds!(
    check_invalid_offers,
    REASON_INVALID_OFFERS_pa,
    REASON_INVALID_OFFERS_non_pa
);

fn check_slave_disconnected(pa: bool) {
    let mut sim = Sim::new();
    // A framework that does not checkpoint loses its tasks when the agent's link breaks.
    let (fw, agent, task_id) = sim.running_task(pa, false);
    let effects = sim.close_agent(&agent);
    let status = &updates(&effects, fw.conn)[0];
    assert_eq!(status.task_id.value, task_id);
    // Mesos' code sends TASK_LOST here to every framework (no PA distinction).
    assert_master_update(status, TaskLost, Reason::AgentDisconnected);
    assert!(sim.m.frameworks()[&fw.id].tasks.is_empty());
}
both_kinds!(
    check_slave_disconnected,
    REASON_SLAVE_DISCONNECTED_pa,
    REASON_SLAVE_DISCONNECTED_non_pa
);

#[test]
fn REASON_SLAVE_DISCONNECTED_spares_checkpointing_frameworks() {
    let mut sim = Sim::new();
    let (fw, agent, _) = sim.running_task(true, true);
    let effects = sim.close_agent(&agent);
    assert!(updates(&effects, fw.conn).is_empty());
    assert_eq!(sim.m.frameworks()[&fw.id].tasks.len(), 1);
}

fn check_slave_removed_by_ping_timeouts(pa: bool) {
    let mut sim = Sim::new();
    let (fw, agent, _) = sim.running_task(pa, true);
    // 5 pings of 15 s go unanswered: at 75 s the agent is unreachable, not before.
    let early = sim.advance(74_000);
    assert!(updates(&early, fw.conn).is_empty());
    let effects = sim.advance(2_000);
    let status = &updates(&effects, fw.conn)[0];
    let state = if pa { TaskUnreachable } else { TaskLost };
    assert_master_update(status, state, Reason::AgentRemoved);
    assert!(status.unreachable_time.is_some(), "unreachable_time is set");
    assert!(event_types(&effects, fw.conn).contains(&scheduler::event::Type::Failure));
    assert!(sim.m.registry().unreachable.contains_key(&agent));
    assert_eq!(sim.m.frameworks()[&fw.id].unreachable_tasks.len(), 1);
}
both_kinds!(
    check_slave_removed_by_ping_timeouts,
    REASON_SLAVE_REMOVED_unreachable_pa,
    REASON_SLAVE_REMOVED_unreachable_non_pa
);

fn check_slave_removed_explicitly(pa: bool) {
    let mut sim = Sim::new();
    let (fw, agent, _) = sim.running_task(pa, true);
    let (reply, effects) = sim.agent_call(
        &agent,
        AgentCall {
            r#type: Some(agent_call::Type::Unregister as i32),
            ..Default::default()
        },
    );
    assert_eq!(reply, Reply::Accepted);
    // Explicit removal: TASK_LOST for every framework.
    assert_master_update(
        &updates(&effects, fw.conn)[0],
        TaskLost,
        Reason::AgentRemoved,
    );
    assert!(!sim.m.agents().contains_key(&agent));
}
both_kinds!(
    check_slave_removed_explicitly,
    REASON_SLAVE_REMOVED_unregistered_pa,
    REASON_SLAVE_REMOVED_unregistered_non_pa
);

fn check_resources_unknown(pa: bool) {
    let (mut sim, fw, agent, offer) = offered(pa, Config::default());
    let mut t = task("vol", &agent, "cpus:1;mem:64");
    let mut volume = resources::scalar_resource("disk", 10.0);
    volume.disk = Some(Box::new(v1::resource::DiskInfo {
        persistence: Some(v1::resource::disk_info::Persistence {
            id: "v1".into(),
            principal: None,
        }),
        ..Default::default()
    }));
    t.resources.push(volume);
    let effects = sim.accept(&fw, &[&offer], vec![t]);
    let state = if pa { TaskDropped } else { TaskLost };
    assert_master_update(
        &updates(&effects, fw.conn)[0],
        state,
        Reason::ResourcesUnknown,
    );
}
both_kinds!(
    check_resources_unknown,
    REASON_RESOURCES_UNKNOWN_pa,
    REASON_RESOURCES_UNKNOWN_non_pa
);

fn check_framework_removed(pa: bool) {
    let mut sim = Sim::new();
    let (fw, agent, _) = sim.running_task(pa, true);
    let (reply, effects) = sim.call(
        &fw,
        scheduler::Call {
            r#type: Some(scheduler::call::Type::Teardown as i32),
            ..Default::default()
        },
    );
    assert_eq!(reply, Reply::Accepted);
    assert!(
        updates(&effects, fw.conn).is_empty(),
        "recorded in memory only"
    );
    let (agent_conn, _) = sim.agent_sessions[&agent].clone();
    assert!(
        agent_event_types(&effects, agent_conn)
            .contains(&drover_wire::internal::agent_event::Type::ShutdownFramework)
    );
    let tasks = sim.m.get_tasks();
    let done = &tasks.completed_tasks[0];
    assert_eq!(done.state, TaskKilled as i32);
    assert_eq!(
        done.statuses.last().unwrap().reason,
        Some(Reason::FrameworkRemoved as i32)
    );
    assert!(sim.m.registry().removed_frameworks.contains(&fw.id));
}
both_kinds!(
    check_framework_removed,
    REASON_FRAMEWORK_REMOVED_pa,
    REASON_FRAMEWORK_REMOVED_non_pa
);

fn check_killed_during_launch(pa: bool) {
    let mut sim = Sim::new();
    let (agent, _) = sim.register_agent("cpus:4;mem:4096");
    let (fw, effects) = sim.subscribe(pa, true, 3600.0);
    let offer = offers(&effects, fw.conn).pop().unwrap();
    sim.accept(
        &fw,
        &[&offer.id.value],
        vec![task("t1", &agent, "cpus:1;mem:64")],
    );
    // The agent's link breaks before it confirms the launch; the kill cannot reach it.
    sim.close_agent(&agent);
    let (_, effects) = sim.call(
        &fw,
        scheduler::Call {
            r#type: Some(scheduler::call::Type::Kill as i32),
            kill: Some(scheduler::call::Kill {
                task_id: v1::TaskId { value: "t1".into() },
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    assert_master_update(
        &updates(&effects, fw.conn)[0],
        TaskKilled,
        Reason::TaskKilledDuringLaunch,
    );
    // The agent comes back without the task (the launch never reached it): no kill, which
    // it would answer with a second terminal update (`master_terminal.rs` has the agent that
    // did get the task).
    let (conn, effects) = sim.reregister_agent(&agent, "cpus:4;mem:4096", vec![], vec![]);
    assert!(
        !agent_event_types(&effects, conn)
            .contains(&drover_wire::internal::agent_event::Type::KillTask)
    );
}
both_kinds!(
    check_killed_during_launch,
    REASON_TASK_KILLED_DURING_LAUNCH_pa,
    REASON_TASK_KILLED_DURING_LAUNCH_non_pa
);

fn reconcile(sim: &mut Sim, fw: &Fw, tasks: &[(&str, Option<&str>)]) -> Vec<v1::TaskStatus> {
    let call = scheduler::Call {
        r#type: Some(scheduler::call::Type::Reconcile as i32),
        reconcile: Some(scheduler::call::Reconcile {
            tasks: tasks
                .iter()
                .map(|(t, a)| scheduler::call::reconcile::Task {
                    task_id: v1::TaskId { value: (*t).into() },
                    agent_id: a.map(|a| v1::AgentId { value: a.into() }),
                })
                .collect(),
        }),
        ..Default::default()
    };
    let (reply, effects) = sim.call(fw, call);
    assert_eq!(reply, Reply::Accepted);
    updates(&effects, fw.conn)
}

fn check_reconciliation(pa: bool) {
    let mut sim = Sim::new();
    let (fw, _, _) = sim.running_task(pa, true);
    let answers = reconcile(&mut sim, &fw, &[]);
    assert_eq!(answers.len(), 1);
    assert_master_update(&answers[0], TaskRunning, Reason::Reconciliation);
    assert_eq!(
        answers[0].message.as_deref(),
        Some("Reconciliation: Latest task state")
    );
}
both_kinds!(
    check_reconciliation,
    REASON_RECONCILIATION_pa,
    REASON_RECONCILIATION_non_pa
);

fn check_slave_reregistered(pa: bool) {
    let mut sim = Sim::new();
    let (fw, agent, task_id) = sim.running_task(pa, true);
    sim.advance(80_000);
    assert!(sim.m.registry().unreachable.contains_key(&agent));
    let reported = reported_running(&fw.id, &agent, &task_id);
    let (_, effects) = sim.reregister_agent(
        &agent,
        "cpus:4;mem:4096;ports:[31000-31010]",
        vec![reported],
        vec![],
    );
    let status = &updates(&effects, fw.conn)[0];
    // Non-PA frameworks thus see LOST → RUNNING.
    assert_master_update(status, TaskRunning, Reason::AgentReregistered);
    assert!(
        status
            .message
            .as_deref()
            .unwrap()
            .starts_with("Unreachable agent re-reregistered")
    );
    assert_eq!(sim.m.frameworks()[&fw.id].tasks.len(), 1);
    assert!(sim.m.frameworks()[&fw.id].unreachable_tasks.is_empty());
    assert!(!sim.m.registry().unreachable.contains_key(&agent));
}
both_kinds!(
    check_slave_reregistered,
    REASON_SLAVE_REREGISTERED_pa,
    REASON_SLAVE_REREGISTERED_non_pa
);

fn check_gone_by_operator(pa: bool) {
    let mut sim = Sim::new();
    let (fw, agent, _) = sim.running_task(pa, true);
    let req = sim.conn();
    let effects = sim.step(drover_core::master::Input::MarkAgentGone {
        req,
        agent_id: agent.clone(),
    });
    assert_eq!(reply_of(&effects, req), Reply::Ok);
    let status = &updates(&effects, fw.conn)[0];
    if pa {
        assert_master_update(status, TaskGoneByOperator, Reason::AgentRemovedByOperator);
    } else {
        assert_master_update(status, TaskLost, Reason::AgentRemoved);
    }
    let (agent_conn, _) = sim.agent_sessions[&agent].clone();
    assert!(
        agent_event_types(&effects, agent_conn)
            .contains(&drover_wire::internal::agent_event::Type::Shutdown)
    );
    // Idempotent.
    let req = sim.conn();
    let effects = sim.step(drover_core::master::Input::MarkAgentGone {
        req,
        agent_id: agent.clone(),
    });
    assert_eq!(reply_of(&effects, req), Reply::Ok);
    assert!(updates(&effects, fw.conn).is_empty());
    // A gone agent that tries to come back is told to shut down.
    let (conn, effects) = sim.reregister_agent(&agent, "cpus:4;mem:4096", vec![], vec![]);
    assert_eq!(
        agent_event_types(&effects, conn),
        vec![drover_wire::internal::agent_event::Type::Shutdown]
    );
}
both_kinds!(
    check_gone_by_operator,
    TASK_GONE_BY_OPERATOR_pa,
    TASK_GONE_BY_OPERATOR_non_pa
);

fn check_task_unknown(pa: bool) {
    let mut sim = Sim::new();
    let (fw, _) = sim.subscribe(pa, false, 0.0);
    let answers = reconcile(&mut sim, &fw, &[("nope", Some("M-S77"))]);
    let state = if pa { TaskUnknown } else { TaskLost };
    assert_eq!(answers.len(), 1);
    let status = &answers[0];
    assert_eq!(v1::TaskState::try_from(status.state).unwrap(), state);
    assert_eq!(status.reason, Some(Reason::Reconciliation as i32));
    assert_eq!(
        status.message.as_deref(),
        Some("Reconciliation: Task is unknown")
    );
}
both_kinds!(check_task_unknown, TASK_UNKNOWN_pa, TASK_UNKNOWN_non_pa);

#[test]
fn MARK_AGENT_GONE_on_an_unknown_agent_is_404() {
    let mut sim = Sim::new();
    let req = sim.conn();
    let effects = sim.step(drover_core::master::Input::MarkAgentGone {
        req,
        agent_id: "x".into(),
    });
    assert!(matches!(
        reply_of(&effects, req),
        Reply::Error { status: 404, .. }
    ));
}

#[test]
fn MARK_AGENT_GONE_on_an_unreachable_agent_turns_its_tasks_gone() {
    let mut sim = Sim::new();
    let (fw, agent, _) = sim.running_task(true, true);
    sim.advance(80_000);
    let req = sim.conn();
    let effects = sim.step(drover_core::master::Input::MarkAgentGone {
        req,
        agent_id: agent,
    });
    assert_master_update(
        &updates(&effects, fw.conn)[0],
        TaskGoneByOperator,
        Reason::AgentRemovedByOperator,
    );
    assert!(sim.m.frameworks()[&fw.id].unreachable_tasks.is_empty());
}
