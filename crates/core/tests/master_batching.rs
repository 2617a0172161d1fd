//! Issue 8's scaling changes keep the master's answers: allocation batched per driver batch
//! (`handle_deferred` + `allocate_pending`) offers what one pass per input offers, and the
//! timer index gives the same deadlines (and ticks) as a scan of every agent and framework.

use crate::master_common;

use std::collections::BTreeSet;

use drover_core::master::{Config, Conn, Effect, Input, Master, Registry};
use drover_core::resources;
use drover_wire::internal::{AgentCall, agent_call};
use drover_wire::v1;
use drover_wire::v1::scheduler;
use master_common::*;

fn register(conn: u64, host: &str, res: &str) -> Input {
    Input::AgentSubscribe {
        conn: Conn(conn),
        stream_id: format!("a{conn}"),
        call: AgentCall {
            r#type: Some(agent_call::Type::Register as i32),
            register: Some(agent_call::Register {
                agent_info: v1::AgentInfo {
                    hostname: host.into(),
                    port: Some(5051),
                    resources: resources::parse(res).unwrap(),
                    ..Default::default()
                },
                version: Some("1.11.0".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

fn subscribe(conn: u64, name: &str) -> Input {
    Input::Subscribe {
        conn: Conn(conn),
        stream_id: format!("f{conn}"),
        call: scheduler::Call {
            r#type: Some(scheduler::call::Type::Subscribe as i32),
            subscribe: Some(scheduler::call::Subscribe {
                framework_info: v1::FrameworkInfo {
                    user: "root".into(),
                    name: name.into(),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

/// Every offer sent, as (framework stream, agent id, resources), order-free.
fn offer_set(effects: &[Effect]) -> BTreeSet<(u64, String, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToScheduler { conn, event } => Some((conn.0, event.offers.clone()?)),
            _ => None,
        })
        .flat_map(|(conn, offers)| {
            offers.offers.into_iter().map(move |o| {
                (
                    conn,
                    o.agent_id.value.clone(),
                    resources::display(&o.resources),
                )
            })
        })
        .collect()
}

fn inputs() -> Vec<Input> {
    vec![
        subscribe(1, "fw-a"),
        subscribe(2, "fw-b"),
        register(10, "h1", "cpus:4;mem:1024"),
        register(11, "h2", "cpus:2;mem:2048"),
        register(12, "h3", "cpus:8;mem:512"),
        register(13, "h4", "cpus:1;mem:256"),
    ]
}

#[test]
fn one_pass_per_batch_offers_what_one_pass_per_input_offers() {
    let now = START_MS;
    let mut per_input = Master::new(Config::default(), Registry::new("M"), now);
    let mut per_input_effects = Vec::new();
    for input in inputs() {
        per_input_effects.extend(per_input.handle(now, input));
        per_input.check_invariants().unwrap();
    }
    let mut batched = Master::new(Config::default(), Registry::new("M"), now);
    let mut batched_effects = Vec::new();
    for input in inputs() {
        batched_effects.extend(batched.handle_deferred(now, input));
        batched.check_invariants().unwrap();
    }
    assert!(
        offer_set(&batched_effects).is_empty(),
        "nothing offered yet"
    );
    assert!(batched.allocation_pending());
    batched_effects.extend(batched.allocate_pending(now));
    assert!(!batched.allocation_pending());
    assert!(batched.allocate_pending(now).is_empty(), "one pass only");
    batched.check_invariants().unwrap();
    let expected = offer_set(&per_input_effects);
    assert_eq!(expected.len(), 4, "every agent offered: {expected:?}");
    assert_eq!(offer_set(&batched_effects), expected);
    assert_eq!(batched.offers().len(), per_input.offers().len());
}

#[test]
fn batched_accepts_launch_the_same_tasks_and_reoffer_the_rest() {
    let mut sim = Sim::new();
    let (a1, _) = sim.register_agent_at("h1", 5051, "cpus:4;mem:1024");
    let (a2, _) = sim.register_agent_at("h2", 5051, "cpus:4;mem:1024");
    let (fw, effects) = sim.subscribe(false, true, 3600.0);
    let offers = offers(&effects, fw.conn);
    assert_eq!(offers.len(), 2);
    // Two ACCEPTs in one batch: one pass afterwards re-offers both agents' remainders.
    let mut all = Vec::new();
    for (offer, task_id) in offers.iter().zip(["t1", "t2"]) {
        let agent = &offer.agent_id.value;
        all.extend(sim.m.handle_deferred(
            sim.now,
            Input::SchedulerCall {
                req: Conn(900 + all.len() as u64),
                stream_id: Some(fw.stream_id.clone()),
                call: scheduler::Call {
                    framework_id: Some(v1::FrameworkId {
                        value: fw.id.clone(),
                    }),
                    r#type: Some(scheduler::call::Type::Accept as i32),
                    accept: Some(scheduler::call::Accept {
                        offer_ids: vec![offer.id.clone()],
                        operations: vec![launch(vec![task(task_id, agent, "cpus:1;mem:128")])],
                        filters: Some(v1::Filters {
                            refuse_seconds: Some(0.0),
                        }),
                    }),
                    ..Default::default()
                },
            },
        ));
        sim.m.check_invariants().unwrap();
    }
    assert!(offer_set(&all).is_empty());
    all.extend(sim.m.allocate_pending(sim.now));
    sim.m.check_invariants().unwrap();
    let reoffered = offer_set(&all);
    let agents: BTreeSet<&str> = reoffered.iter().map(|(_, a, _)| a.as_str()).collect();
    assert_eq!(agents, BTreeSet::from([a1.as_str(), a2.as_str()]));
    for (_, _, res) in &reoffered {
        assert_eq!(res, "cpus(*):3; mem(*):896", "the remainder of each agent");
    }
    assert_eq!(sim.m.agent_tasks().on_agent(&a1).count(), 1);
    assert_eq!(sim.m.agent_tasks().on_agent(&a2).count(), 1);
}

#[test]
fn timer_index_agrees_with_a_scan_and_stays_small() {
    let config = Config {
        agent_ping_timeout_ms: 1_000,
        offer_timeout_ms: Some(2_500),
        heartbeat_interval_ms: 700,
        ..Config::default()
    };
    let mut sim = Sim::with(config, Registry::new("M"));
    let mut agents = Vec::new();
    for i in 0..5 {
        sim.now += 137;
        let (id, _) = sim.register_agent_at(&format!("h{i}"), 5051, "cpus:1;mem:64");
        agents.push(id);
    }
    let (_fw, _) = sim.subscribe(false, true, 5.0);
    for round in 0..200 {
        // Pongs keep the agents alive; ticks (inside `advance`) check the index against a scan
        // after every step through the invariants.
        for id in &agents {
            sim.pong(id);
        }
        sim.advance(97);
        assert_eq!(sim.m.next_deadline(), sim.m.next_deadline_by_scan());
        if round == 100 {
            sim.close_agent(&agents[0]);
        }
    }
    // Stale entries are dropped as they reach the front: the index holds about one entry per
    // live deadline (5 pings or reregistration, 1 heartbeat, a few offers), not one per ping.
    assert!(
        sim.m.timers().len() <= 2 * sim.m.deadlines_by_scan().len() + 8,
        "{} entries for {} deadlines",
        sim.m.timers().len(),
        sim.m.deadlines_by_scan().len()
    );
}
