//! `--registry_gc_interval`, `--registry_max_agent_age` and `--registry_max_agent_count`: the
//! registry's lists of unreachable and gone agents are pruned as Mesos' master pruned them,
//! and an unreachable agent's tasks are forgotten with it.

use crate::master_common;

use drover_core::master::registry::RegistryOp;
use drover_core::master::{Config, Effect, Input, Registry};
use drover_wire::v1;
use drover_wire::v1::TaskState::*;
use master_common::*;

fn config(interval_ms: u64, max_age_ms: u64, max_count: usize) -> Config {
    Config {
        registry_gc_interval_ms: interval_ms,
        registry_max_agent_age_ms: max_age_ms,
        registry_max_agent_count: max_count,
        ..Config::default()
    }
}

fn pruned(effects: &[Effect]) -> Vec<(Vec<String>, Vec<String>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Persist(RegistryOp::PruneAgents { unreachable, gone }) => {
                Some((unreachable.clone(), gone.clone()))
            }
            _ => None,
        })
        .collect()
}

fn mark_gone(sim: &mut Sim, agent_id: &str) {
    let req = sim.conn();
    sim.step(Input::MarkAgentGone {
        req,
        agent_id: agent_id.into(),
    });
}

#[test]
fn entries_older_than_the_age_limit_are_pruned_with_their_unreachable_tasks() {
    // Pruned every minute; kept for 10 minutes.
    let mut sim = Sim::with(config(60_000, 600_000, 100), Registry::new("M"));
    let (fw, agent, _) = sim.running_task(true, true);
    // The agent goes silent: unreachable after the ping window (75 s), its task with it.
    sim.advance(80_000);
    assert!(sim.m.registry().unreachable.contains_key(&agent));
    assert_eq!(sim.m.frameworks()[&fw.id].unreachable_tasks.len(), 1);
    let (other, _) = sim.register_agent_at("h2", 5052, "cpus:1;mem:64");
    mark_gone(&mut sim, &other);

    // Not yet ten minutes: nothing is pruned.
    let effects = sim.advance(400_000);
    assert!(pruned(&effects).is_empty());
    assert_eq!(sim.m.registry().unreachable.len(), 1);

    // Past ten minutes: both go, at the next pass.
    let effects = sim.advance(300_000);
    assert_eq!(
        pruned(&effects),
        vec![(vec![agent.clone()], vec![other.clone()])]
    );
    assert!(sim.m.registry().unreachable.is_empty());
    assert!(sim.m.registry().gone.is_empty());
    assert!(
        sim.m.frameworks()[&fw.id].unreachable_tasks.is_empty(),
        "the unreachable task is forgotten with its agent"
    );
    // Reconciling it now: the master knows neither the task nor its agent.
    let statuses = reconcile(&mut sim, &fw, "t1", &agent);
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].state, TaskUnknown as i32, "{statuses:?}");
    // And the next pass finds nothing more to do.
    assert!(pruned(&sim.advance(120_000)).is_empty());
    // A restart reads the pruned registry.
    let restarted = sim.restart(1_000);
    assert!(restarted.m.registry().unreachable.is_empty());
    assert!(restarted.m.registry().gone.is_empty());
}

#[test]
fn beyond_the_count_limit_the_oldest_are_pruned_each_list_on_its_own() {
    let mut sim = Sim::with(config(60_000, 14 * 86_400_000, 2), Registry::new("M"));
    let mut gone = Vec::new();
    for i in 0..4 {
        let (id, _) = sim.register_agent_at(&format!("g{i}"), 5051, "cpus:1;mem:64");
        sim.advance(1_000);
        mark_gone(&mut sim, &id);
        gone.push(id);
    }
    let effects = sim.advance(60_000);
    // The two marked first go; the two newest stay.
    assert_eq!(
        pruned(&effects),
        vec![(Vec::new(), vec![gone[0].clone(), gone[1].clone()])]
    );
    let kept: Vec<&String> = sim.m.registry().gone.keys().collect();
    assert_eq!(kept, vec![&gone[2], &gone[3]]);
}

fn reconcile(sim: &mut Sim, fw: &Fw, task: &str, agent: &str) -> Vec<v1::TaskStatus> {
    use drover_wire::v1::scheduler;
    let call = scheduler::Call {
        r#type: Some(scheduler::call::Type::Reconcile as i32),
        reconcile: Some(scheduler::call::Reconcile {
            tasks: vec![scheduler::call::reconcile::Task {
                task_id: v1::TaskId { value: task.into() },
                agent_id: Some(v1::AgentId {
                    value: agent.into(),
                }),
            }],
        }),
        ..Default::default()
    };
    let (_, effects) = sim.call(fw, call);
    updates(&effects, fw.conn)
}
