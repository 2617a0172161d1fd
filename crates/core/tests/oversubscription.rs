//! Oversubscription in the cores: the agent forwards its estimate (with what revocable tasks
//! hold) after registering and on every change; the master offers revocable resources only to
//! frameworks with REVOCABLE_RESOURCES and takes back revocable offers on a new estimate; a QoS
//! correction evicts exactly the containers on revocable resources, their tasks TASK_LOST or,
//! partition-aware, TASK_GONE with REASON_CONTAINER_PREEMPTED.

use crate::agent_support;
use crate::master_common;

use drover_core::agent::{Effect as AgentEffect, Input as AgentInput};
use drover_core::resources;
use drover_core::task::{Reason, Source, TaskState};
use drover_wire::internal::{AgentCall, agent_call};
use drover_wire::v1;

fn revocable_cpus(value: f64) -> v1::Resource {
    let mut r = resources::scalar_resource("cpus", value);
    r.revocable = Some(v1::resource::RevocableInfo {});
    r
}

fn sent_estimates(effects: &[AgentEffect]) -> Vec<Vec<v1::Resource>> {
    effects
        .iter()
        .filter_map(|e| match e {
            AgentEffect::ToMaster(call) => call
                .update_oversubscribed
                .as_ref()
                .map(|u| u.resources.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_agent_forwards_its_estimate_with_what_revocable_tasks_hold() {
    let mut h = agent_support::Harness::registered();
    let effects = h.step(AgentInput::Oversubscribed {
        estimate: vec![resources::scalar_resource("cpus", 2.0)],
        total: true,
    });
    let sent = sent_estimates(&effects);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0], vec![revocable_cpus(2.0)]);
    // Unchanged: nothing new is sent.
    let effects = h.step(AgentInput::Oversubscribed {
        estimate: vec![resources::scalar_resource("cpus", 2.0)],
        total: true,
    });
    assert!(sent_estimates(&effects).is_empty());
    // A revocable task holds 0.5; a measured estimate of 1 more makes 1.5 in all.
    let mut task = agent_support::command_task("t1");
    task.resources = vec![revocable_cpus(0.5)];
    h.step(agent_support::run(
        &agent_support::framework("fw", false, false),
        task,
    ));
    let effects = h.step(AgentInput::Oversubscribed {
        estimate: vec![resources::scalar_resource("cpus", 1.0)],
        total: false,
    });
    assert_eq!(sent_estimates(&effects), vec![vec![revocable_cpus(1.5)]]);
}

#[test]
fn a_qos_correction_evicts_only_revocable_containers() {
    for partition_aware in [false, true] {
        let mut h = agent_support::Harness::registered();
        let framework = agent_support::framework("fw", false, partition_aware);
        let mut on_revocable = agent_support::command_task("revocable");
        on_revocable.resources = vec![revocable_cpus(0.5)];
        h.step(agent_support::run(&framework, on_revocable));
        h.step(agent_support::run(
            &framework,
            agent_support::command_task("plain"),
        ));
        let evicted_container = h.container_of("fw", "revocable");
        let effects = h.step(AgentInput::QosCorrection("overloaded".into()));
        let kills = agent_support::kills(&effects);
        assert_eq!(kills, vec![evicted_container.clone()]);
        let effects = h.step(AgentInput::ContainerTerminated {
            container_id: evicted_container,
            message: "killed".into(),
            oom_killed: false,
        });
        let state = if partition_aware {
            TaskState::TaskGone
        } else {
            TaskState::TaskLost
        };
        let status = agent_support::expect_one(
            &effects,
            state,
            Some(Reason::ContainerPreempted),
            Source::Agent,
        );
        assert!(
            status
                .message
                .as_deref()
                .is_some_and(|m| m.contains("overloaded")),
            "{status:#?}"
        );
    }
}

#[test]
fn the_master_offers_revocable_resources_only_to_frameworks_that_ask() {
    use master_common::*;
    let mut sim = Sim::new();
    let (agent, _) = sim.register_agent("cpus:4;mem:4096");
    let (plain, effects) = sim.subscribe(false, false, 0.0);
    let offer = offers(&effects, plain.conn).pop().unwrap();
    assert!(offer.resources.iter().all(|r| r.revocable.is_none()));
    let mut info = framework_info(false);
    info.capabilities.push(v1::framework_info::Capability {
        r#type: Some(v1::framework_info::capability::Type::RevocableResources as i32),
    });
    let (wants, _) = sim.subscribe_with(info);
    let (reply, effects) = sim.agent_call(
        &agent,
        AgentCall {
            r#type: Some(agent_call::Type::UpdateOversubscribed as i32),
            update_oversubscribed: Some(agent_call::UpdateOversubscribed {
                resources: vec![resources::scalar_resource("cpus", 2.0)],
            }),
            ..Default::default()
        },
    );
    assert_eq!(reply, drover_core::master::Reply::Accepted);
    let mut all = effects;
    all.extend(sim.advance(2_000));
    let got: Vec<v1::Offer> = offers(&all, wants.conn);
    let revocable: f64 = got
        .iter()
        .flat_map(|o| o.resources.iter())
        .filter(|r| r.revocable.is_some())
        .map(|r| r.scalar.map(|s| s.value).unwrap_or(0.0))
        .sum();
    assert_eq!(revocable, 2.0, "{got:#?}");
    assert!(
        offers(&all, plain.conn)
            .iter()
            .flat_map(|o| o.resources.iter())
            .all(|r| r.revocable.is_none())
    );
    // A new estimate takes the revocable offer back.
    let (_, effects) = sim.agent_call(
        &agent,
        AgentCall {
            r#type: Some(agent_call::Type::UpdateOversubscribed as i32),
            update_oversubscribed: Some(agent_call::UpdateOversubscribed {
                resources: vec![resources::scalar_resource("cpus", 1.0)],
            }),
            ..Default::default()
        },
    );
    assert!(
        event_types(&effects, wants.conn).contains(&v1::scheduler::event::Type::Rescind),
        "{effects:#?}"
    );
    let total = sim.m.agent_total(&sim.m.agents()[&agent]).into_owned();
    assert_eq!(resources::scalar(&total, "cpus"), 5.0);
}
