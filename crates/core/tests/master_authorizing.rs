//! Accepts waiting for their authorization (`drover_core::master::authorizing`): with ACLs, an
//! ACCEPT's launches run in a later step, and what happened in between (the agent
//! disconnected or was removed, the task was killed, the framework left) is answered as Mesos'
//! `Master::_accept` answered it. Seed 1's L90, L96, L122 and L123 come from here.
#![allow(non_snake_case)]

use crate::master_common;

use drover_core::acl::RunTasks;
use drover_core::master::{Config, Effect, Input, Registry, Reply};
use drover_wire::internal::agent_event::Type as AgentEventType;
use drover_wire::internal::{AgentCall, agent_call};
use drover_wire::v1;
use drover_wire::v1::TaskState::*;
use drover_wire::v1::scheduler;
use drover_wire::v1::task_status::Reason;
use master_common::*;

const AGENT: &str = "cpus:4;mem:4096;disk:1000;ports:[31000-31010]";

/// Permissive `run_tasks` ACLs: every launch is authorized, but through the authorization step.
fn with_acls() -> Config {
    Config {
        run_tasks: Some(RunTasks {
            acls: Vec::new(),
            permissive: true,
        }),
        ..Config::default()
    }
}

/// A framework holding an offer of one agent, its accepts kept waiting: (sim, framework,
/// agent id, offer id).
fn offered(pa: bool) -> (Sim, Fw, String, String) {
    let mut sim = Sim::with(with_acls(), Registry::new("M"));
    sim.hold_authorizations = true;
    let (agent, _) = sim.register_agent(AGENT);
    let (fw, effects) = sim.subscribe(pa, true, 3600.0);
    let offer = offers(&effects, fw.conn).pop().expect("an offer");
    (sim, fw, agent, offer.id.value)
}

fn run_tasks(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| {
            matches!(e, Effect::ToAgent { event, .. }
                if event.r#type == Some(AgentEventType::RunTask as i32))
        })
        .count()
}

fn kill(sim: &mut Sim, fw: &Fw, task_id: &str) -> Vec<Effect> {
    let (reply, effects) = sim.call(
        fw,
        scheduler::Call {
            r#type: Some(scheduler::call::Type::Kill as i32),
            kill: Some(scheduler::call::Kill {
                task_id: v1::TaskId {
                    value: task_id.into(),
                },
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    assert_eq!(reply, Reply::Accepted);
    effects
}

fn reconcile(sim: &mut Sim, fw: &Fw, task_ids: &[&str]) -> Vec<v1::TaskStatus> {
    let call = scheduler::Call {
        r#type: Some(scheduler::call::Type::Reconcile as i32),
        reconcile: Some(scheduler::call::Reconcile {
            tasks: task_ids
                .iter()
                .map(|t| scheduler::call::reconcile::Task {
                    task_id: v1::TaskId { value: (*t).into() },
                    agent_id: None,
                })
                .collect(),
        }),
        ..Default::default()
    };
    let (reply, effects) = sim.call(fw, call);
    assert_eq!(reply, Reply::Accepted);
    updates(&effects, fw.conn)
}

#[test]
fn an_accept_waits_for_its_authorization_holding_its_resources() {
    let (mut sim, fw, agent, offer) = offered(true);
    let effects = sim.accept(&fw, &[&offer], vec![task("t1", &agent, "cpus:1;mem:64")]);
    assert_eq!(run_tasks(&effects), 0, "nothing launched before the answer");
    assert_eq!(sim.held.len(), 1);
    // The resources stay held for the framework: a second framework is offered nothing.
    let (other, effects) = sim.subscribe(true, true, 3600.0);
    assert!(offers(&effects, other.conn).is_empty(), "{effects:?}");
    assert!(!sim.m.ledger().offered(&agent).is_empty());
    let effects = sim.release_authorization();
    assert_eq!(run_tasks(&effects), 1);
    assert!(sim.m.frameworks()[&fw.id].tasks.contains_key("t1"));
    assert!(sim.m.authorizing().pending().next().is_none());
}

#[test]
fn without_acls_an_accept_launches_in_its_own_step() {
    let mut sim = Sim::new();
    sim.hold_authorizations = true;
    let (agent, _) = sim.register_agent(AGENT);
    let (fw, effects) = sim.subscribe(true, true, 3600.0);
    let offer = offers(&effects, fw.conn).pop().unwrap();
    let effects = sim.accept(
        &fw,
        &[&offer.id.value],
        vec![task("t1", &agent, "cpus:1;mem:64")],
    );
    assert_eq!(run_tasks(&effects), 1);
    assert!(sim.held.is_empty());
}

/// L90 (TASK_LOST, non-PA) and L122 (TASK_DROPPED, PA): the agent disconnected while the
/// accept waited.
fn check_agent_disconnected_meanwhile(pa: bool) {
    let (mut sim, fw, agent, offer) = offered(pa);
    sim.accept(&fw, &[&offer], vec![task("t1", &agent, "cpus:1;mem:64")]);
    sim.close_agent(&agent);
    let effects = sim.release_authorization();
    assert_eq!(run_tasks(&effects), 0);
    let ups = updates(&effects, fw.conn);
    assert_eq!(ups.len(), 1, "{ups:?}");
    let state = if pa { TaskDropped } else { TaskLost };
    assert_master_update(&ups[0], state, Reason::AgentDisconnected);
    assert!(ups[0].message.as_deref().unwrap().contains("disconnected"));
    assert!(!sim.m.frameworks()[&fw.id].tasks.contains_key("t1"));
    // Nothing stays held: the agent back offers all it has.
    assert!(sim.m.ledger().offered(&agent).is_empty());
    assert!(sim.m.ledger().held_by(&fw.id).is_empty());
}

#[test]
fn L122_TASK_DROPPED_REASON_SLAVE_DISCONNECTED_for_a_partition_aware_framework() {
    check_agent_disconnected_meanwhile(true);
}

#[test]
fn L90_TASK_LOST_REASON_SLAVE_DISCONNECTED_for_other_frameworks() {
    check_agent_disconnected_meanwhile(false);
}

/// L96 (TASK_LOST, non-PA) and L123 (TASK_DROPPED, PA): the agent was removed while the
/// accept waited (here it unregistered; a group's every task is answered).
fn check_agent_removed_meanwhile(pa: bool) {
    let (mut sim, fw, agent, offer) = offered(pa);
    let call = scheduler::Call {
        r#type: Some(scheduler::call::Type::Accept as i32),
        accept: Some(scheduler::call::Accept {
            offer_ids: vec![v1::OfferId {
                value: offer.clone(),
            }],
            operations: vec![
                launch(vec![task("t1", &agent, "cpus:1;mem:64")]),
                group(&agent, v1::executor_info::Type::Default),
            ],
            filters: None,
        }),
        ..Default::default()
    };
    let (reply, _) = sim.call(&fw, call);
    assert_eq!(reply, Reply::Accepted);
    let (reply, _) = sim.agent_call(
        &agent,
        AgentCall {
            r#type: Some(agent_call::Type::Unregister as i32),
            ..Default::default()
        },
    );
    assert_eq!(reply, Reply::Accepted);
    assert!(!sim.m.agents().contains_key(&agent));
    let effects = sim.release_authorization();
    let ups = updates(&effects, fw.conn);
    let mut ids: Vec<&str> = ups.iter().map(|u| u.task_id.value.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["g1", "g2", "t1"]);
    let state = if pa { TaskDropped } else { TaskLost };
    for status in &ups {
        assert_master_update(status, state, Reason::AgentRemoved);
    }
    assert!(sim.m.ledger().held_by(&fw.id).is_empty());
}

#[test]
fn L123_TASK_DROPPED_REASON_SLAVE_REMOVED_for_a_partition_aware_framework() {
    check_agent_removed_meanwhile(true);
}

#[test]
fn L96_TASK_LOST_REASON_SLAVE_REMOVED_for_other_frameworks() {
    check_agent_removed_meanwhile(false);
}

#[test]
fn an_agent_that_came_back_in_time_gets_the_launch() {
    let (mut sim, fw, agent, offer) = offered(true);
    sim.accept(&fw, &[&offer], vec![task("t1", &agent, "cpus:1;mem:64")]);
    sim.close_agent(&agent);
    sim.reregister_agent(&agent, AGENT, vec![], vec![]);
    let effects = sim.release_authorization();
    assert_eq!(run_tasks(&effects), 1);
    assert!(updates(&effects, fw.conn).is_empty());
}

#[test]
fn a_task_killed_while_authorized_is_killed_during_launch_and_never_launched() {
    let (mut sim, fw, agent, offer) = offered(false);
    sim.accept(
        &fw,
        &[&offer],
        vec![
            task("t1", &agent, "cpus:1;mem:64"),
            task("t2", &agent, "cpus:1;mem:64"),
        ],
    );
    let effects = kill(&mut sim, &fw, "t1");
    let ups = updates(&effects, fw.conn);
    assert_eq!(ups.len(), 1);
    assert_master_update(&ups[0], TaskKilled, Reason::TaskKilledDuringLaunch);
    assert_eq!(
        ups[0].message.as_deref(),
        Some("Killed before delivery to the agent")
    );
    let effects = sim.release_authorization();
    assert_eq!(run_tasks(&effects), 1);
    let tasks = &sim.m.frameworks()[&fw.id].tasks;
    assert!(!tasks.contains_key("t1"));
    assert!(tasks.contains_key("t2"));
}

#[test]
fn a_kill_of_one_task_of_a_waiting_group_kills_the_whole_group() {
    let (mut sim, fw, agent, offer) = offered(true);
    let call = scheduler::Call {
        r#type: Some(scheduler::call::Type::Accept as i32),
        accept: Some(scheduler::call::Accept {
            offer_ids: vec![v1::OfferId { value: offer }],
            operations: vec![group(&agent, v1::executor_info::Type::Default)],
            filters: None,
        }),
        ..Default::default()
    };
    sim.call(&fw, call);
    let effects = kill(&mut sim, &fw, "g2");
    assert_master_update(
        &updates(&effects, fw.conn)[0],
        TaskKilled,
        Reason::TaskKilledDuringLaunch,
    );
    let effects = sim.release_authorization();
    assert_eq!(run_tasks(&effects), 0);
    let ups = updates(&effects, fw.conn);
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].task_id.value, "g1");
    assert_master_update(&ups[0], TaskKilled, Reason::TaskKilledDuringLaunch);
    assert!(sim.m.frameworks()[&fw.id].tasks.is_empty());
    assert!(sim.m.ledger().held_by(&fw.id).is_empty());
}

#[test]
fn reconciliation_answers_staging_for_a_task_being_authorized() {
    let (mut sim, fw, agent, offer) = offered(true);
    sim.accept(&fw, &[&offer], vec![task("t1", &agent, "cpus:1;mem:64")]);
    for answers in [
        reconcile(&mut sim, &fw, &["t1"]),
        reconcile(&mut sim, &fw, &[]),
    ] {
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert_eq!(answers[0].task_id.value, "t1");
        assert_master_update(&answers[0], TaskStaging, Reason::Reconciliation);
        assert_eq!(answers[0].agent_id.as_ref().unwrap().value, agent);
    }
}

#[test]
fn a_framework_torn_down_while_authorized_launches_nothing_and_holds_nothing() {
    let (mut sim, fw, agent, offer) = offered(true);
    sim.accept(&fw, &[&offer], vec![task("t1", &agent, "cpus:1;mem:64")]);
    let req = sim.conn();
    sim.step(Input::Teardown {
        req,
        framework_id: fw.id.clone(),
    });
    let effects = sim.release_authorization();
    assert_eq!(run_tasks(&effects), 0);
    assert!(sim.m.ledger().held_by(&fw.id).is_empty());
    assert!(sim.m.ledger().offered(&agent).is_empty());
}

#[test]
fn an_unauthorized_launch_is_still_refused_after_the_step() {
    let mut config = with_acls();
    config.run_tasks = Some(RunTasks {
        acls: Vec::new(),
        permissive: false,
    });
    let mut sim = Sim::with(config, Registry::new("M"));
    let (agent, _) = sim.register_agent(AGENT);
    let (fw, effects) = sim.subscribe(false, true, 3600.0);
    let offer = offers(&effects, fw.conn).pop().unwrap();
    let effects = sim.accept(
        &fw,
        &[&offer.id.value],
        vec![task("t1", &agent, "cpus:1;mem:64")],
    );
    assert_master_update(
        &updates(&effects, fw.conn)[0],
        TaskError,
        Reason::TaskUnauthorized,
    );
}
