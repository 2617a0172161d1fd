//! Maintenance and draining through `Master::handle` with a virtual clock: schedule
//! validation with Mesos' messages, START/STOP (DOWN shuts agents down and refuses them),
//! unavailability in offers, inverse offers and the answers shown in the status, DRAIN_AGENT
//! (the agent told, DRAINING → DRAINED, mark_gone, REACTIVATE ends it), and a restart keeping it
//! all. Every step checks the invariants.

use crate::master_common;

use drover_core::master::maintenance::MaintenanceCall;
use drover_core::master::{Effect, Input, Reply};
use drover_wire::internal::agent_event;
use drover_wire::v1;
use drover_wire::v1::maintenance::{Schedule, Window};
use master_common::*;

fn host(name: &str) -> v1::MachineId {
    v1::MachineId {
        hostname: Some(name.into()),
        ip: None,
    }
}

fn window(ids: Vec<v1::MachineId>, start_s: i64, duration_s: i64) -> Window {
    Window {
        machine_ids: ids,
        unavailability: v1::Unavailability {
            start: v1::TimeInfo {
                nanoseconds: start_s * 1_000_000_000,
            },
            duration: Some(v1::DurationInfo {
                nanoseconds: duration_s * 1_000_000_000,
            }),
        },
    }
}

fn maint(sim: &mut Sim, call: MaintenanceCall) -> (Reply, Vec<Effect>) {
    let req = sim.conn();
    let effects = sim.step(Input::Maintenance { req, call });
    (reply_of(&effects, req), effects)
}

fn schedule(sim: &mut Sim, windows: Vec<Window>) -> Reply {
    maint(sim, MaintenanceCall::UpdateSchedule(Schedule { windows })).0
}

fn expect_error(reply: Reply, status: u16, needle: &str) {
    match reply {
        Reply::Error { status: s, message } => {
            assert_eq!(s, status, "{message}");
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        other => panic!("expected {status}, got {other:?}"),
    }
}

#[test]
fn schedule_validation_refuses_bad_schedules_and_changes_nothing() {
    let mut sim = Sim::new();
    expect_error(
        schedule(&mut sim, vec![window(vec![], 1, 1)]),
        400,
        "List of machines in the maintenance window is empty",
    );
    expect_error(
        schedule(&mut sim, vec![window(vec![host("a")], 1, -1)]),
        400,
        "Unavailability 'duration' is negative",
    );
    expect_error(
        schedule(&mut sim, vec![window(vec![v1::MachineId::default()], 1, 1)]),
        400,
        "Both 'hostname' and 'ip' for a machine are empty",
    );
    let bad_ip = v1::MachineId {
        hostname: None,
        ip: Some("not-an-ip".into()),
    };
    expect_error(
        schedule(&mut sim, vec![window(vec![bad_ip], 1, 1)]),
        400,
        "not-an-ip",
    );
    expect_error(
        schedule(
            &mut sim,
            vec![window(vec![host("a")], 1, 1), window(vec![host("A")], 5, 1)],
        ),
        400,
        "appears more than once in the schedule",
    );
    assert_eq!(sim.m.maintenance_schedule(), Schedule::default());
    let good = vec![window(vec![host("a"), host("b")], 1, 10)];
    assert_eq!(schedule(&mut sim, good.clone()), Reply::Ok);
    assert_eq!(sim.m.maintenance_schedule().windows, good);
    let status = sim.m.maintenance_status();
    assert_eq!(status.draining_machines.len(), 2);
    assert!(status.down_machines.is_empty());
}

#[test]
fn start_and_stop_maintenance_follow_mesos_rules() {
    let mut sim = Sim::new();
    let (fw, agent, _task) = sim.running_task(true, true);
    let (agent_conn, _) = sim.agent_sessions[&agent].clone();
    // START only for scheduled machines.
    let (reply, _) = maint(&mut sim, MaintenanceCall::Start(vec![host("agent1")]));
    expect_error(reply, 400, "is not part of a maintenance schedule");
    let (reply, _) = maint(&mut sim, MaintenanceCall::Start(vec![]));
    expect_error(reply, 400, "List of machines is empty");
    assert_eq!(
        schedule(&mut sim, vec![window(vec![host("agent1")], 1, 60)]),
        Reply::Ok
    );
    // STOP only for DOWN machines.
    let (reply, _) = maint(&mut sim, MaintenanceCall::Stop(vec![host("agent1")]));
    expect_error(reply, 400, "is not in DOWN mode");
    let (reply, effects) = maint(&mut sim, MaintenanceCall::Start(vec![host("AGENT1")]));
    assert_eq!(reply, Reply::Ok);
    assert!(
        agent_event_types(&effects, agent_conn).contains(&agent_event::Type::Shutdown),
        "the DOWN machine's agent is shut down"
    );
    let lost = updates(&effects, fw.conn);
    assert_eq!(lost.len(), 1);
    assert_master_update(
        &lost[0],
        v1::TaskState::TaskGoneByOperator,
        v1::task_status::Reason::AgentRemovedByOperator,
    );
    assert!(sim.m.get_agents().agents.is_empty(), "the agent is removed");
    assert_eq!(
        sim.m.maintenance_status().down_machines,
        vec![host("agent1")]
    );
    // A DOWN machine may not leave the schedule.
    expect_error(
        schedule(&mut sim, vec![window(vec![host("other")], 1, 60)]),
        400,
        "is deactivated and cannot be removed from the schedule",
    );
    // Its agents are refused.
    let conn = sim.conn();
    let effects = sim.step(Input::AgentSubscribe {
        conn,
        stream_id: "s".into(),
        call: register_call("agent1"),
    });
    assert_eq!(
        agent_event_types(&effects, conn),
        vec![agent_event::Type::Shutdown]
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::CloseAgent { conn: c } if *c == conn))
    );
    // The schedule survives a restart.
    let mut sim = sim.restart(1000);
    assert_eq!(
        sim.m.maintenance_status().down_machines,
        vec![host("agent1")]
    );
    let (reply, _) = maint(&mut sim, MaintenanceCall::Stop(vec![host("agent1")]));
    assert_eq!(reply, Reply::Ok);
    assert_eq!(sim.m.maintenance_schedule(), Schedule::default());
    let (id, _) = sim.register_agent("cpus:1;mem:64");
    assert!(
        sim.m.get_agents().agents.iter().any(|a| a
            .agent_info
            .id
            .as_ref()
            .is_some_and(|i| i.value == id))
    );
}

fn register_call(hostname: &str) -> drover_wire::internal::AgentCall {
    use drover_wire::internal::{AgentCall, agent_call};
    AgentCall {
        r#type: Some(agent_call::Type::Register as i32),
        register: Some(agent_call::Register {
            agent_info: v1::AgentInfo {
                hostname: hostname.into(),
                port: Some(5051),
                resources: drover_core::resources::parse("cpus:1;mem:64").unwrap(),
                ..Default::default()
            },
            version: Some("1.11.0".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn answer(sim: &mut Sim, fw: &Fw, id: &v1::OfferId, accept: bool) {
    use drover_wire::v1::scheduler;
    let mut call = scheduler::Call::default();
    if accept {
        call.r#type = Some(scheduler::call::Type::AcceptInverseOffers as i32);
        call.accept_inverse_offers = Some(scheduler::call::AcceptInverseOffers {
            inverse_offer_ids: vec![id.clone()],
            filters: None,
        });
    } else {
        call.r#type = Some(scheduler::call::Type::DeclineInverseOffers as i32);
        call.decline_inverse_offers = Some(scheduler::call::DeclineInverseOffers {
            inverse_offer_ids: vec![id.clone()],
            filters: None,
        });
    }
    let (reply, _) = sim.call(fw, call);
    assert_eq!(reply, Reply::Accepted);
}

#[test]
fn draining_machine_sends_inverse_offers_and_records_answers() {
    let mut sim = Sim::new();
    let (fw, agent, _task) = sim.running_task(false, true);
    let (_, effects) = maint(
        &mut sim,
        MaintenanceCall::UpdateSchedule(Schedule {
            windows: vec![window(vec![host("agent1")], 2_000_000_000, 3600)],
        }),
    );
    let inverse: Vec<v1::InverseOffer> = events(&effects, fw.conn)
        .into_iter()
        .filter_map(|e| e.inverse_offers)
        .flat_map(|i| i.inverse_offers)
        .collect();
    assert_eq!(
        inverse.len(),
        1,
        "one inverse offer for the framework's agent"
    );
    assert_eq!(inverse[0].agent_id.as_ref().unwrap().value, agent);
    assert_eq!(
        inverse[0].unavailability.start.nanoseconds,
        2_000_000_000i64 * 1_000_000_000
    );
    // Offers from the draining agent carry its unavailability.
    let offer = offers(&effects, fw.conn)
        .into_iter()
        .chain(offers(&sim.advance(5_000), fw.conn))
        .next()
        .expect("the rest of the agent is offered again");
    assert!(offer.unavailability.is_some(), "{offer:?}");
    let statuses = &sim.m.maintenance_status().draining_machines[0].statuses;
    assert_eq!(statuses.len(), 1);
    assert_eq!(
        statuses[0].status,
        v1::inverse_offer_status::Status::Unknown as i32
    );
    let listed = sim.m.get_frameworks().frameworks[0].inverse_offers.clone();
    assert_eq!(listed, inverse);
    answer(&mut sim, &fw, &inverse[0].id, false);
    let statuses = &sim.m.maintenance_status().draining_machines[0].statuses;
    assert_eq!(
        statuses[0].status,
        v1::inverse_offer_status::Status::Decline as i32
    );
    assert!(
        sim.m.get_frameworks().frameworks[0]
            .inverse_offers
            .is_empty()
    );
    // A new window re-asks; this time the framework accepts.
    let (_, effects) = maint(
        &mut sim,
        MaintenanceCall::UpdateSchedule(Schedule::default()),
    );
    assert!(sim.m.maintenance_status().draining_machines.is_empty());
    let _ = effects;
    let (_, effects) = maint(
        &mut sim,
        MaintenanceCall::UpdateSchedule(Schedule {
            windows: vec![window(vec![host("agent1")], 1, 60)],
        }),
    );
    let again: Vec<v1::InverseOffer> = events(&effects, fw.conn)
        .into_iter()
        .filter_map(|e| e.inverse_offers)
        .flat_map(|i| i.inverse_offers)
        .collect();
    assert_eq!(again.len(), 1);
    answer(&mut sim, &fw, &again[0].id, true);
    let statuses = &sim.m.maintenance_status().draining_machines[0].statuses;
    assert_eq!(
        statuses[0].status,
        v1::inverse_offer_status::Status::Accept as i32
    );
    // An outstanding inverse offer is rescinded when its machine leaves the schedule.
    let (_, effects) = maint(
        &mut sim,
        MaintenanceCall::UpdateSchedule(Schedule {
            windows: vec![window(vec![host("agent1")], 7, 60)],
        }),
    );
    let third: Vec<v1::InverseOffer> = events(&effects, fw.conn)
        .into_iter()
        .filter_map(|e| e.inverse_offers)
        .flat_map(|i| i.inverse_offers)
        .collect();
    assert!(third.is_empty(), "an answered framework is not asked again");
}

#[test]
fn unanswered_inverse_offer_is_rescinded_when_the_window_goes() {
    let mut sim = Sim::new();
    let (fw, _agent, _task) = sim.running_task(false, true);
    maint(
        &mut sim,
        MaintenanceCall::UpdateSchedule(Schedule {
            windows: vec![window(vec![host("agent1")], 1, 60)],
        }),
    );
    let (_, effects) = maint(
        &mut sim,
        MaintenanceCall::UpdateSchedule(Schedule::default()),
    );
    assert!(
        event_types(&effects, fw.conn).contains(&v1::scheduler::event::Type::RescindInverseOffer)
    );
    assert!(
        sim.m.get_frameworks().frameworks[0]
            .inverse_offers
            .is_empty()
    );
}

fn drain(
    sim: &mut Sim,
    agent: &str,
    grace_s: Option<i64>,
    mark_gone: bool,
) -> (Reply, Vec<Effect>) {
    let req = sim.conn();
    let effects = sim.step(Input::DrainAgent {
        req,
        agent_id: agent.into(),
        config: v1::DrainConfig {
            max_grace_period: grace_s.map(|s| v1::DurationInfo {
                nanoseconds: s * 1_000_000_000,
            }),
            mark_gone: Some(mark_gone),
        },
    });
    (reply_of(&effects, req), effects)
}

#[test]
fn drain_kills_with_capped_grace_then_drained_and_gone() {
    let mut sim = Sim::new();
    let (fw, agent, task) = sim.running_task(true, true);
    let (agent_conn, _) = sim.agent_sessions[&agent].clone();
    let (reply, _) = drain(&mut sim, "nope", None, false);
    expect_error(reply, 400, "Unknown agent");
    let (reply, effects) = drain(&mut sim, &agent, Some(1), true);
    assert_eq!(reply, Reply::Ok);
    // The agent is told, and kills its tasks itself (as Mesos' DrainSlaveMessage).
    let events = agent_events(&effects, agent_conn);
    let told = events
        .iter()
        .find_map(|e| e.drain.as_ref())
        .expect("the agent is told it drains");
    assert_eq!(
        told.config.max_grace_period.unwrap().nanoseconds,
        1_000_000_000
    );
    assert_eq!(told.config.mark_gone, Some(true));
    assert!(
        events.iter().all(|e| e.kill_task.is_none()),
        "the master kills nothing itself: {events:#?}"
    );
    let view = sim.m.agent_view(&agent).unwrap();
    assert_eq!(
        view.drain_info.unwrap().state,
        v1::DrainState::Draining as i32
    );
    assert!(!view.active, "a draining agent is deactivated");
    assert!(sim.m.agent_deactivated(&agent));
    // No offers from a draining agent.
    assert!(offers(&sim.advance(5_000), fw.conn).is_empty());
    sim.agent_update(&agent, &fw.id, &task, v1::TaskState::TaskKilled, 2);
    // As in Mesos, the agent is drained once its terminal updates are acknowledged.
    assert_eq!(
        sim.m.agent_drain(&agent).unwrap().state,
        v1::DrainState::Draining as i32
    );
    let ack = v1::scheduler::Call {
        r#type: Some(v1::scheduler::call::Type::Acknowledge as i32),
        acknowledge: Some(v1::scheduler::call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent.clone(),
            },
            task_id: v1::TaskId {
                value: task.clone(),
            },
            uuid: vec![2; 16],
        }),
        ..Default::default()
    };
    let (reply, _) = sim.call(&fw, ack);
    assert_eq!(reply, Reply::Accepted);
    assert!(
        sim.m.registry().gone.contains_key(&agent),
        "mark_gone after DRAINED"
    );
}

#[test]
fn drain_without_tasks_is_drained_and_reactivate_ends_it() {
    let mut sim = Sim::new();
    let (agent, _) = sim.register_agent("cpus:1;mem:64");
    let (reply, _) = drain(&mut sim, &agent, None, false);
    assert_eq!(reply, Reply::Ok);
    assert_eq!(
        sim.m.agent_drain(&agent).unwrap().state,
        v1::DrainState::Drained as i32
    );
    // Persisted: a restarted master still knows.
    let mut sim = sim.restart(10);
    assert_eq!(
        sim.m.agent_drain(&agent).unwrap().state,
        v1::DrainState::Drained as i32
    );
    let req = sim.conn();
    let effects = sim.step(Input::ReactivateAgent {
        req,
        agent_id: agent.clone(),
    });
    assert_eq!(reply_of(&effects, req), Reply::Ok);
    assert!(sim.m.agent_drain(&agent).is_none());
    assert!(!sim.m.agent_deactivated(&agent));
}

#[test]
fn a_drain_survives_a_restart_and_the_agent_is_told_again() {
    let mut sim = Sim::new();
    let (fw, agent, task) = sim.running_task(true, true);
    let (reply, _) = drain(&mut sim, &agent, Some(2), false);
    assert_eq!(reply, Reply::Ok);
    let mut sim = sim.restart(1000);
    assert_eq!(
        sim.m.agent_drain(&agent).unwrap().state,
        v1::DrainState::Draining as i32
    );
    let reported = reported_running(&fw.id, &agent, &task);
    let (conn, effects) = sim.reregister_agent(
        &agent,
        "cpus:4;mem:4096;ports:[31000-31010]",
        vec![reported],
        vec![framework_info(true)],
    );
    let told = agent_events(&effects, conn)
        .into_iter()
        .find_map(|e| e.drain)
        .expect("the reregistered agent is told again that it drains");
    assert_eq!(
        told.config.max_grace_period.unwrap().nanoseconds,
        2_000_000_000
    );
    assert_eq!(
        sim.m.agent_drain(&agent).unwrap().state,
        v1::DrainState::Draining as i32,
        "still draining while the agent reports {task}"
    );
}
