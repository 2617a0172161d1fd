//! The master's lifecycle rules through `Master::handle` with a virtual clock: subscription and
//! failover, call checks, reconciliation (spec §2.7, including silence after a failover),
//! offers, DRF, filters, rescinds, health checking, the removal rate limit, failover timeouts,
//! acknowledgements and restarts from the registry.

use crate::master_common;

use drover_core::master::{Config, Input, RateLimit, Registry, Reply};
use drover_wire::v1;
use drover_wire::v1::TaskState::*;
use drover_wire::v1::scheduler;
use drover_wire::v1::scheduler::event::Type as Ev;
use drover_wire::v1::task_status::Reason;
use master_common::*;

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
    updates(&sim.call(fw, call).1, fw.conn)
}

fn simple(kind: scheduler::call::Type) -> scheduler::Call {
    scheduler::Call {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

#[test]
fn subscribe_sends_subscribed_then_heartbeat_and_heartbeats_every_15s() {
    let mut sim = Sim::new();
    let (fw, effects) = sim.subscribe(true, false, 0.0);
    assert_eq!(fw.id, "M-0000");
    assert_eq!(
        &event_types(&effects, fw.conn)[..2],
        &[Ev::Subscribed, Ev::Heartbeat]
    );
    let subscribed = events(&effects, fw.conn)[0].subscribed.clone().unwrap();
    assert_eq!(subscribed.heartbeat_interval_seconds, Some(15.0));
    assert_eq!(subscribed.master_info.unwrap().id, "M");
    assert!(persisted(&effects) >= 2, "counter and framework persisted");
    let later = sim.advance(15_000);
    assert_eq!(event_types(&later, fw.conn), vec![Ev::Heartbeat]);
    let (second, _) = sim.subscribe(true, false, 0.0);
    assert_eq!(second.id, "M-0001");
}

#[test]
fn resubscribing_fails_over_the_old_stream() {
    let mut sim = Sim::new();
    let (fw, _) = sim.subscribe(true, false, 60.0);
    let mut info = framework_info(true);
    info.id = Some(v1::FrameworkId {
        value: fw.id.clone(),
    });
    let (again, effects) = sim.subscribe_with(info);
    assert_eq!(again.id, fw.id);
    let old = events(&effects, fw.conn);
    assert_eq!(
        old[0].error.as_ref().unwrap().message,
        "Framework failed over"
    );
    assert!(effects.iter().any(
        |e| matches!(e, drover_core::master::Effect::CloseScheduler { conn } if *conn == fw.conn)
    ));
    // The old stream id no longer works; the new one does.
    let (reply, _) = sim.call(&fw, simple(scheduler::call::Type::Revive));
    assert!(matches!(reply, Reply::Error { status: 400, .. }));
    let (reply, _) = sim.call(&again, simple(scheduler::call::Type::Revive));
    assert_eq!(reply, Reply::Accepted);
}

#[test]
fn calls_are_checked_in_mesos_order() {
    let mut sim = Sim::new();
    let (fw, _) = sim.subscribe(true, false, 60.0);
    let req = sim.conn();
    let unknown = sim.step(Input::SchedulerCall {
        req,
        stream_id: Some("x".into()),
        call: scheduler::Call {
            framework_id: Some(v1::FrameworkId {
                value: "nope".into(),
            }),
            ..simple(scheduler::call::Type::Revive)
        },
    });
    assert_eq!(
        reply_of(&unknown, req),
        Reply::Error {
            status: 400,
            message: "Framework cannot be found".into()
        }
    );
    let req = sim.conn();
    let missing = sim.step(Input::SchedulerCall {
        req,
        stream_id: None,
        call: scheduler::Call {
            framework_id: Some(v1::FrameworkId {
                value: fw.id.clone(),
            }),
            ..simple(scheduler::call::Type::Revive)
        },
    });
    assert!(matches!(
        reply_of(&missing, req),
        Reply::Error { status: 400, .. }
    ));
    let req = sim.conn();
    let no_type = sim.step(Input::SchedulerCall {
        req,
        stream_id: None,
        call: scheduler::Call::default(),
    });
    assert_eq!(
        reply_of(&no_type, req),
        Reply::Error {
            status: 400,
            message: "Failed to validate scheduler::Call: Expecting 'type' to be present".into()
        }
    );
    // Disconnected framework: 403.
    sim.step(Input::SchedulerClosed { conn: fw.conn });
    let (reply, _) = sim.call(&fw, simple(scheduler::call::Type::Revive));
    assert_eq!(
        reply,
        Reply::Error {
            status: 403,
            message: "Framework is not subscribed".into()
        }
    );
}

#[test]
fn invalid_framework_info_is_an_error_event_on_the_stream() {
    let mut sim = Sim::new();
    let mut info = framework_info(false);
    info.failover_timeout = Some(-1.0);
    let (fw, effects) = sim.subscribe_with(info);
    assert_eq!(reply_of(&effects, fw.conn), Reply::Stream);
    assert_eq!(event_types(&effects, fw.conn), vec![Ev::Error]);
    assert!(sim.m.frameworks().is_empty());
}

#[test]
fn reconciliation_table_for_each_agent_kind() {
    for pa in [true, false] {
        let mut sim = Sim::new();
        let (fw, agent, _) = sim.running_task(pa, true);
        let lost = if pa { None } else { Some(TaskLost) };
        let expect = |s: &v1::TaskStatus, state: v1::TaskState| {
            assert_eq!(
                v1::TaskState::try_from(s.state).unwrap(),
                lost.unwrap_or(state),
                "pa={pa}"
            );
            assert_eq!(s.reason, Some(Reason::Reconciliation as i32));
        };
        // Known task: its state.
        let a = reconcile(&mut sim, &fw, &[("t1", None)]);
        assert_eq!(a[0].state, TaskRunning as i32);
        // Unknown task on a registered agent: GONE / LOST.
        expect(
            &reconcile(&mut sim, &fw, &[("x", Some(&agent))])[0],
            TaskGone,
        );
        // Unknown agent: UNKNOWN / LOST; no agent: UNKNOWN / LOST.
        expect(
            &reconcile(&mut sim, &fw, &[("x", Some("M-S9"))])[0],
            TaskUnknown,
        );
        expect(&reconcile(&mut sim, &fw, &[("x", None)])[0], TaskUnknown);
        // Unreachable agent: UNREACHABLE (+unreachable_time) / LOST.
        sim.advance(80_000);
        let a = reconcile(&mut sim, &fw, &[("x", Some(&agent)), ("t1", Some(&agent))]);
        expect(&a[0], TaskUnreachable);
        assert!(a[0].unreachable_time.is_some());
        expect(&a[1], TaskUnreachable);
        // Gone agent: GONE_BY_OPERATOR / LOST.
        let req = sim.conn();
        sim.step(Input::MarkAgentGone {
            req,
            agent_id: agent.clone(),
        });
        expect(
            &reconcile(&mut sim, &fw, &[("x", Some(&agent))])[0],
            TaskGoneByOperator,
        );
    }
}

#[test]
fn reconciliation_is_silent_for_recovered_agents_after_a_restart() {
    let mut sim = Sim::new();
    let (fw, agent, _) = sim.running_task(true, true);
    let mut sim = sim.restart(1_000);
    assert_eq!(
        sim.m.agents()[&agent].status,
        drover_core::master::AgentStatus::Recovered
    );
    let mut info = framework_info(true);
    info.id = Some(v1::FrameworkId {
        value: fw.id.clone(),
    });
    let (fw, _) = sim.subscribe_with(info);
    assert!(
        reconcile(&mut sim, &fw, &[("t1", Some(&agent))]).is_empty(),
        "agent recovered: silence"
    );
    assert!(
        reconcile(&mut sim, &fw, &[("t1", None)]).is_empty(),
        "any agent recovered: silence"
    );
    assert!(
        reconcile(&mut sim, &fw, &[]).is_empty(),
        "implicit: no tasks known yet"
    );
    // Unknown agent ids still get an answer.
    assert_eq!(reconcile(&mut sim, &fw, &[("t1", Some("M-S9"))]).len(), 1);
    // The agent reregisters with its task: the master knows it again, no AGENT_REREGISTERED.
    let reported = reported_running(&fw.id, &agent, "t1");
    let (_, effects) = sim.reregister_agent(
        &agent,
        "cpus:4;mem:4096;ports:[31000-31010]",
        vec![reported],
        vec![],
    );
    assert!(updates(&effects, fw.conn).is_empty());
    let a = reconcile(&mut sim, &fw, &[("t1", None)]);
    assert_eq!(a[0].state, TaskRunning as i32);
}

#[test]
fn recovered_agents_that_never_return_become_unreachable() {
    let mut sim = Sim::new();
    let (_fw, agent, _) = sim.running_task(true, true);
    let mut sim = sim.restart(0);
    sim.advance(599_000);
    assert!(sim.m.agents().contains_key(&agent));
    sim.advance(2_000);
    assert!(sim.m.registry().unreachable.contains_key(&agent));
}

#[test]
fn restart_keeps_ids_unique_and_frameworks_known() {
    let mut sim = Sim::new();
    let (fw, agent, _) = sim.running_task(true, true);
    let mut sim = sim.restart(1_000);
    assert!(sim.m.frameworks()[&fw.id].recovered);
    let (other, _) = sim.subscribe(true, false, 0.0);
    assert_eq!(other.id, "M-0001");
    let (agent2, _) = sim.register_agent_at("agent2", 5052, "cpus:1;mem:512");
    assert_ne!(agent2, agent);
    assert_eq!(agent2, "M-S1");
}

#[test]
fn offers_carry_the_address_the_agent_reported() {
    let mut sim = Sim::new();
    sim.register_agent_at("a1", 5051, "cpus:4;mem:4096");
    let (fw, effects) = sim.subscribe(true, false, 60.0);
    let offer = offers(&effects, fw.conn).pop().unwrap();
    let url = offer.url.expect("an offer has the agent's URL");
    assert_eq!(url.address.hostname.as_deref(), Some("a1"));
    assert_eq!(url.address.ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(url.address.port, 5051);
}

#[test]
fn drf_offers_the_next_agent_to_the_lowest_dominant_share() {
    let mut sim = Sim::new();
    let (a1, _) = sim.register_agent_at("a1", 1, "cpus:4;mem:4096");
    let (fw1, effects) = sim.subscribe(true, false, 60.0);
    let offer = offers(&effects, fw1.conn).pop().unwrap();
    let (fw2, effects) = sim.subscribe(true, false, 60.0);
    assert!(
        offers(&effects, fw2.conn).is_empty(),
        "a1 is offered to fw1"
    );
    let effects = sim.accept(
        &fw1,
        &[&offer.id.value],
        vec![task("big", &a1, "cpus:2;mem:2048")],
    );
    // What is left of a1 goes to fw2, whose share (0) is lower than fw1's (0.5).
    let o2 = offers(&effects, fw2.conn);
    assert_eq!(o2.len(), 1);
    assert_eq!(
        drover_core::resources::scalar(&o2[0].resources, "cpus"),
        2.0
    );
    assert!(offers(&effects, fw1.conn).is_empty());
    // A new agent: both hold a quarter of the cluster now; ties go to the lower id.
    let (_a2, effects) = sim.register_agent_at("a2", 2, "cpus:4;mem:4096");
    assert_eq!(offers(&effects, fw1.conn).len(), 1);
    assert!(offers(&effects, fw2.conn).is_empty());
}

/// DECLINE of one offer with a `refuse_seconds` filter.
fn decline(offer_id: &v1::OfferId, refuse_seconds: f64) -> scheduler::Call {
    scheduler::Call {
        r#type: Some(scheduler::call::Type::Decline as i32),
        decline: Some(scheduler::call::Decline {
            offer_ids: vec![offer_id.clone()],
            filters: Some(v1::Filters {
                refuse_seconds: Some(refuse_seconds),
            }),
        }),
        ..Default::default()
    }
}

#[test]
fn decline_filters_then_expire_and_revive_clears_them() {
    let mut sim = Sim::new();
    sim.register_agent("cpus:4;mem:4096");
    let (fw, effects) = sim.subscribe(true, false, 60.0);
    let offer = offers(&effects, fw.conn).pop().unwrap();
    let (_, effects) = sim.call(&fw, decline(&offer.id, 10.0));
    assert!(offers(&effects, fw.conn).is_empty(), "filtered");
    assert!(offers(&sim.advance(9_000), fw.conn).is_empty());
    assert_eq!(
        offers(&sim.advance(2_000), fw.conn).len(),
        1,
        "filter expired"
    );
    let offer = sim.m.offers().values().next().unwrap().offer.id.clone();
    sim.call(&fw, decline(&offer, 3600.0));
    let (_, effects) = sim.call(&fw, simple(scheduler::call::Type::Revive));
    assert_eq!(offers(&effects, fw.conn).len(), 1, "revive clears filters");
}

#[test]
fn a_filter_holds_back_only_its_own_agent() {
    let mut sim = Sim::new();
    let (a1, _) = sim.register_agent_at("a1", 1, "cpus:4;mem:4096");
    let (fw, effects) = sim.subscribe(true, false, 60.0);
    let offer = offers(&effects, fw.conn).pop().unwrap();
    assert_eq!(offer.agent_id.value, a1);
    sim.call(&fw, decline(&offer.id, 3600.0));
    // A second agent is offered at once; the first stays filtered.
    let (a2, effects) = sim.register_agent_at("a2", 2, "cpus:4;mem:4096");
    let offered = offers(&effects, fw.conn);
    assert_eq!(offered.len(), 1, "{offered:?}");
    assert_eq!(offered[0].agent_id.value, a2);
    sim.call(&fw, decline(&offered[0].id, 10.0));
    assert_eq!(sim.m.filters().count(), 2);
    // The second agent's filter ends first: only its resources come back.
    let offered = offers(&sim.advance(11_000), fw.conn);
    assert_eq!(offered.len(), 1, "{offered:?}");
    assert_eq!(offered[0].agent_id.value, a2);
    assert_eq!(sim.m.filters().count(), 1, "the expired filter is dropped");
}

#[test]
fn suppress_stops_offers_until_revive() {
    let mut sim = Sim::new();
    let (fw, effects) = sim.subscribe(true, false, 60.0);
    assert!(offers(&effects, fw.conn).is_empty());
    sim.call(&fw, simple(scheduler::call::Type::Suppress));
    let (_, effects) = sim.register_agent("cpus:4;mem:4096");
    assert!(offers(&effects, fw.conn).is_empty());
    let (_, effects) = sim.call(&fw, simple(scheduler::call::Type::Revive));
    assert_eq!(offers(&effects, fw.conn).len(), 1);
}

#[test]
fn offer_timeout_rescinds() {
    let config = Config {
        offer_timeout_ms: Some(30_000),
        ..Config::default()
    };
    let mut sim = Sim::with(config, Registry::new("M"));
    sim.register_agent("cpus:4;mem:4096");
    let (fw, _) = sim.subscribe(true, false, 60.0);
    let effects = sim.advance(30_000);
    assert!(event_types(&effects, fw.conn).contains(&Ev::Rescind));
}

#[test]
fn agent_disconnect_rescinds_its_offers() {
    let mut sim = Sim::new();
    let (agent, _) = sim.register_agent("cpus:4;mem:4096");
    let (fw, _) = sim.subscribe(true, true, 60.0);
    let effects = sim.close_agent(&agent);
    assert_eq!(event_types(&effects, fw.conn), vec![Ev::Rescind]);
    assert!(sim.m.offers().is_empty());
}

#[test]
fn pongs_keep_an_agent_registered() {
    let mut sim = Sim::new();
    let (agent, _) = sim.register_agent("cpus:1;mem:512");
    for _ in 0..20 {
        sim.advance(15_000);
        sim.pong(&agent);
    }
    assert!(sim.m.agents().contains_key(&agent));
    assert!(sim.m.registry().unreachable.is_empty());
}

#[test]
fn removal_rate_limit_spaces_out_unreachable_markings() {
    let config = Config {
        agent_removal_rate_limit: Some(RateLimit {
            permits: 1,
            per_ms: 600_000,
        }),
        ..Config::default()
    };
    let mut sim = Sim::with(config, Registry::new("M"));
    let (a1, _) = sim.register_agent_at("a1", 1, "cpus:1;mem:512");
    let (a2, _) = sim.register_agent_at("a2", 2, "cpus:1;mem:512");
    sim.advance(80_000);
    let unreachable = sim.m.registry().unreachable.len();
    assert_eq!(unreachable, 1, "one marking per 10 minutes");
    assert_eq!(sim.m.counters().agent_unreachable_scheduled, 2);
    // The second agent answers in time: its marking is cancelled.
    let pending = if sim.m.agents().contains_key(&a1) {
        a1
    } else {
        a2
    };
    sim.pong(&pending);
    assert_eq!(sim.m.counters().agent_unreachable_canceled, 1);
    for _ in 0..50 {
        sim.advance(15_000);
        sim.pong(&pending);
    }
    assert_eq!(sim.m.registry().unreachable.len(), 1);
    assert!(sim.m.agents().contains_key(&pending));
}

#[test]
fn disconnected_agent_has_the_reregister_timeout_to_come_back() {
    let mut sim = Sim::new();
    let (fw, agent, _) = sim.running_task(true, true);
    sim.close_agent(&agent);
    sim.advance(599_000);
    assert!(sim.m.agents().contains_key(&agent));
    let effects = sim.advance(2_000);
    assert_master_update(
        &updates(&effects, fw.conn)[0],
        TaskUnreachable,
        Reason::AgentRemoved,
    );
}

#[test]
fn failover_timeout_removes_the_framework_and_kills_its_tasks() {
    let mut sim = Sim::new();
    let (agent, _) = sim.register_agent("cpus:4;mem:4096");
    let (fw, effects) = sim.subscribe(true, true, 30.0);
    let offer = offers(&effects, fw.conn).pop().unwrap();
    sim.accept(
        &fw,
        &[&offer.id.value],
        vec![task("t1", &agent, "cpus:1;mem:64")],
    );
    sim.step(Input::SchedulerClosed { conn: fw.conn });
    sim.advance(29_000);
    assert!(sim.m.frameworks().contains_key(&fw.id));
    let effects = sim.advance(2_000);
    assert!(!sim.m.frameworks().contains_key(&fw.id));
    let (agent_conn, _) = sim.agent_sessions[&agent].clone();
    assert!(
        agent_event_types(&effects, agent_conn)
            .contains(&drover_wire::internal::agent_event::Type::ShutdownFramework)
    );
    // Its id can never subscribe again.
    let mut info = framework_info(true);
    info.id = Some(v1::FrameworkId {
        value: fw.id.clone(),
    });
    let (again, effects) = sim.subscribe_with(info);
    assert_eq!(
        events(&effects, again.conn)[0]
            .error
            .as_ref()
            .unwrap()
            .message,
        "Framework has been removed"
    );
}

#[test]
fn acknowledging_a_terminal_update_completes_the_task() {
    let mut sim = Sim::new();
    let (fw, agent, _) = sim.running_task(true, true);
    let effects = sim.agent_update(&agent, &fw.id, "t1", TaskFinished, 2);
    let forwarded = &updates(&effects, fw.conn)[0];
    assert_eq!(
        forwarded.uuid,
        Some(vec![2; 16]),
        "reliable updates keep their uuid"
    );
    assert_eq!(forwarded.agent_id.as_ref().unwrap().value, agent);
    assert_eq!(
        sim.m.agent_used(&agent),
        vec![],
        "terminal releases resources at once"
    );
    let ack = scheduler::Call {
        r#type: Some(scheduler::call::Type::Acknowledge as i32),
        acknowledge: Some(scheduler::call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent.clone(),
            },
            task_id: v1::TaskId { value: "t1".into() },
            uuid: vec![2; 16],
        }),
        ..Default::default()
    };
    let (reply, effects) = sim.call(&fw, ack);
    assert_eq!(reply, Reply::Accepted);
    let (agent_conn, _) = sim.agent_sessions[&agent].clone();
    assert!(
        agent_event_types(&effects, agent_conn)
            .contains(&drover_wire::internal::agent_event::Type::Acknowledge)
    );
    let fw_state = &sim.m.frameworks()[&fw.id];
    assert!(fw_state.tasks.is_empty());
    let done = &fw_state.completed_tasks[0];
    let history: Vec<_> = done.history.iter().map(|h| h.state).collect();
    assert_eq!(history, vec![TaskRunning, TaskFinished]);
}

/// Found by the simulator (random seed 1000848): each agent call is its own request, so a
/// retry of an update the framework already acknowledged can reach the master after the
/// next update; forwarding it showed the framework RUNNING, then STARTING.
#[test]
fn a_late_copy_of_an_acknowledged_update_is_acknowledged_again_not_forwarded() {
    let mut sim = Sim::new();
    let (fw, agent, _) = sim.running_task(true, true);
    let ack = |uuid: u8| scheduler::Call {
        r#type: Some(scheduler::call::Type::Acknowledge as i32),
        acknowledge: Some(scheduler::call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent.clone(),
            },
            task_id: v1::TaskId { value: "t1".into() },
            uuid: vec![uuid; 16],
        }),
        ..Default::default()
    };
    let (reply, _) = sim.call(&fw, ack(1));
    assert_eq!(reply, Reply::Accepted);
    // The next update, then a late copy of the acknowledged RUNNING (uuid 1).
    let effects = sim.agent_update(&agent, &fw.id, "t1", TaskFinished, 2);
    assert_eq!(updates(&effects, fw.conn).len(), 1);
    let effects = sim.agent_update(&agent, &fw.id, "t1", TaskRunning, 1);
    assert!(
        updates(&effects, fw.conn).is_empty(),
        "the stale copy is not forwarded"
    );
    let (agent_conn, _) = sim.agent_sessions[&agent].clone();
    let acks: Vec<_> = agent_events(&effects, agent_conn)
        .into_iter()
        .filter_map(|e| e.acknowledge)
        .collect();
    assert_eq!(acks.len(), 1, "the agent hears the acknowledgement again");
    assert_eq!(acks[0].uuid, vec![1; 16]);
    let entry = &sim.m.frameworks()[&fw.id].tasks["t1"];
    assert_eq!(
        entry.state(),
        TaskFinished,
        "the task's state did not go back"
    );
    // A copy of the update still being delivered (not yet acknowledged) is forwarded.
    let effects = sim.agent_update(&agent, &fw.id, "t1", TaskFinished, 2);
    assert_eq!(updates(&effects, fw.conn).len(), 1);
}

#[test]
fn kill_of_an_unknown_task_is_answered_like_reconciliation() {
    let mut sim = Sim::new();
    let (fw, _) = sim.subscribe(true, false, 60.0);
    let kill = scheduler::Call {
        r#type: Some(scheduler::call::Type::Kill as i32),
        kill: Some(scheduler::call::Kill {
            task_id: v1::TaskId {
                value: "ghost".into(),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let (_, effects) = sim.call(&fw, kill);
    let a = updates(&effects, fw.conn);
    assert_eq!(a[0].state, TaskUnknown as i32);
    assert_eq!(a[0].reason, Some(Reason::Reconciliation as i32));
}

#[test]
fn known_agent_reregistering_gets_reconcile_tasks_for_what_it_lacks() {
    let mut sim = Sim::new();
    let (_fw, agent, _) = sim.running_task(true, true);
    sim.close_agent(&agent);
    let (conn, effects) = sim.reregister_agent(
        &agent,
        "cpus:4;mem:4096;ports:[31000-31010]",
        vec![],
        vec![],
    );
    let events = agent_events(&effects, conn);
    let reconcile = events
        .iter()
        .find_map(|e| e.reconcile_tasks.clone())
        .expect("RECONCILE_TASKS");
    assert_eq!(reconcile.tasks[0].task_id.value, "t1");
}

#[test]
fn a_new_agent_at_the_same_address_replaces_the_old_one() {
    let mut sim = Sim::new();
    let (fw, agent, _) = sim.running_task(false, true);
    let (new_agent, effects) = sim.register_agent("cpus:4;mem:4096");
    assert_ne!(new_agent, agent);
    assert_master_update(
        &updates(&effects, fw.conn)[0],
        TaskLost,
        Reason::AgentRemoved,
    );
}

/// The AGENT_REMOVED events to the operator API's subscribers in `effects`, by agent id.
fn agents_removed(effects: &[drover_core::master::Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            drover_core::master::Effect::ToOperators(event) => event
                .agent_removed
                .as_ref()
                .map(|r| r.agent_id.value.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn operator_subscribers_hear_of_every_agent_leaving_the_registered_list() {
    let mut sim = Sim::new();
    let (first, _) = sim.register_agent("cpus:1;mem:64");
    let (second, _) = sim.register_agent_at("h2", 5052, "cpus:1;mem:64");
    // Unreachable (the ping window passes with no pong from the first agent).
    let mut effects = Vec::new();
    for _ in 0..80 {
        sim.pong(&second);
        effects.extend(sim.advance(1_000));
    }
    assert!(sim.m.registry().unreachable.contains_key(&first));
    assert_eq!(agents_removed(&effects), vec![first.clone()]);
    // Gone while registered.
    let req = sim.conn();
    let effects = sim.step(Input::MarkAgentGone {
        req,
        agent_id: second.clone(),
    });
    assert_eq!(reply_of(&effects, req), Reply::Ok);
    assert_eq!(agents_removed(&effects), vec![second.clone()]);
    // Gone from unreachable: said again, so a subscriber's list of removed agents can change.
    let req = sim.conn();
    let effects = sim.step(Input::MarkAgentGone {
        req,
        agent_id: first.clone(),
    });
    assert_eq!(agents_removed(&effects), vec![first.clone()]);
    assert!(sim.m.registry().gone.contains_key(&first));
    assert!(sim.m.registry().unreachable.is_empty());
    // Marking it again changes nothing and says nothing.
    let req = sim.conn();
    assert!(
        agents_removed(&sim.step(Input::MarkAgentGone {
            req,
            agent_id: first
        }))
        .is_empty()
    );
}

/// Without operator subscribers (the driver says so), a master restarted from the registry
/// readmits a reregistering agent exactly as with them, only without building AGENT_ADDED and
/// TASK_ADDED (issue 20, G6: a copy of each of 100,000 reported tasks for nobody).
#[test]
fn reregistration_without_operator_subscribers_decides_the_same() {
    let mut sim = Sim::new();
    let (fw, agent, task_id) = sim.running_task(false, true);
    let reported = reported_running(&fw.id, &agent, &task_id);
    let run = |listening: bool| {
        let mut restarted = sim.restart(1_000);
        restarted.m.set_operator_subscribers(listening);
        let (_, effects) = restarted.reregister_agent(
            &agent,
            "cpus:4;mem:4096;ports:[31000-31010]",
            vec![reported.clone()],
            vec![framework_info(false)],
        );
        let (to_operators, rest): (
            Vec<drover_core::master::Effect>,
            Vec<drover_core::master::Effect>,
        ) = effects
            .into_iter()
            .partition(|e| matches!(e, drover_core::master::Effect::ToOperators(_)));
        (to_operators, format!("{rest:?}"), restarted)
    };
    let (heard, decided, with) = run(true);
    let (unheard, decided_alone, without) = run(false);
    assert!(heard.iter().any(
        |e| matches!(e, drover_core::master::Effect::ToOperators(ev) if ev.task_added.is_some())
    ));
    assert!(heard.iter().any(
        |e| matches!(e, drover_core::master::Effect::ToOperators(ev) if ev.agent_added.is_some())
    ));
    assert!(unheard.is_empty(), "{unheard:?}");
    assert_eq!(decided, decided_alone);
    assert_eq!(
        format!("{:?}", with.m.get_state()),
        format!("{:?}", without.m.get_state())
    );
}
