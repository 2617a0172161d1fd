//! The master's side of dynamic reservations and persistent volumes: RESERVE, CREATE,
//! DESTROY and UNRESERVE in a framework's ACCEPT and from the operator, the agent's total and
//! its checkpoint, what offers carry back, and the master's set winning at reregistration.

use crate::master_common;

use drover_core::master::{Effect, Input, Reply};
use drover_core::operations::Operation;
use drover_core::resources;
use drover_wire::internal::agent_event;
use drover_wire::v1;
use drover_wire::v1::scheduler;
use master_common::*;

const STATIC: &str = "cpus:4;mem:4096;disk:1000";

fn dynamic(name: &str, value: f64, role: &str) -> v1::Resource {
    let mut r = resources::scalar_resource(name, value);
    r.reservations.push(v1::resource::ReservationInfo {
        r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
        role: Some(role.into()),
        principal: Some("p".into()),
        labels: None,
    });
    r
}

fn volume(id: &str) -> v1::Resource {
    let mut r = dynamic("disk", 100.0, "db");
    r.disk = Some(Box::new(v1::resource::DiskInfo {
        persistence: Some(v1::resource::disk_info::Persistence {
            id: id.into(),
            principal: Some("p".into()),
        }),
        volume: Some(v1::Volume {
            container_path: "data".into(),
            mode: v1::volume::Mode::Rw as i32,
            ..Default::default()
        }),
        source: None,
    }));
    r
}

fn op(kind: v1::offer::operation::Type, list: Vec<v1::Resource>) -> v1::offer::Operation {
    use v1::offer::operation::{self as o, Type};
    let mut op = v1::offer::Operation {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    match kind {
        Type::Reserve => {
            op.reserve = Some(o::Reserve {
                resources: list,
                source: vec![],
            })
        }
        Type::Unreserve => op.unreserve = Some(o::Unreserve { resources: list }),
        Type::Create => op.create = Some(o::Create { volumes: list }),
        Type::Destroy => op.destroy = Some(o::Destroy { volumes: list }),
        _ => unreachable!(),
    }
    op
}

fn db_framework(sim: &mut Sim) -> (Fw, Vec<Effect>) {
    let mut info = framework_info(false);
    #[allow(deprecated)]
    {
        info.role = Some("db".into());
    }
    info.principal = Some("p".into());
    sim.subscribe_with(info)
}

fn accept(
    sim: &mut Sim,
    fw: &Fw,
    offer: &str,
    operations: Vec<v1::offer::Operation>,
) -> Vec<Effect> {
    let call = scheduler::Call {
        r#type: Some(scheduler::call::Type::Accept as i32),
        accept: Some(scheduler::call::Accept {
            offer_ids: vec![v1::OfferId {
                value: offer.into(),
            }],
            operations,
            filters: Some(v1::Filters {
                refuse_seconds: Some(0.0),
            }),
        }),
        ..Default::default()
    };
    let (reply, effects) = sim.call(fw, call);
    assert_eq!(reply, Reply::Accepted);
    effects
}

fn checkpoints(sim: &Sim, agent: &str, effects: &[Effect]) -> Vec<Vec<v1::Resource>> {
    let conn = sim.agent_sessions[agent].0;
    agent_events(effects, conn)
        .into_iter()
        .filter_map(|e| e.checkpoint_resources.map(|c| c.resources))
        .collect()
}

fn total(sim: &Sim, agent: &str) -> Vec<v1::Resource> {
    sim.m.agents()[agent].info.resources.clone()
}

/// RESERVE + CREATE + LAUNCH in one ACCEPT; the volume comes back in the next offer.
fn reserve_create_launch(sim: &mut Sim) -> (Fw, String) {
    let (agent, _) = sim.register_agent(STATIC);
    let (fw, effects) = db_framework(sim);
    let offer = offers(&effects, fw.conn).pop().expect("an offer");
    let mut t = task("t1", &agent, "cpus:1");
    t.resources = vec![dynamic("cpus", 1.0, "db"), volume("v1")];
    let effects = accept(
        sim,
        &fw,
        &offer.id.value,
        vec![
            op(
                v1::offer::operation::Type::Reserve,
                vec![dynamic("cpus", 1.0, "db"), dynamic("disk", 100.0, "db")],
            ),
            op(v1::offer::operation::Type::Create, vec![volume("v1")]),
            launch(vec![t]),
        ],
    );
    assert!(
        updates(&effects, fw.conn).is_empty(),
        "launched: {effects:#?}"
    );
    let sent = checkpoints(sim, &agent, &effects);
    assert_eq!(sent.len(), 2, "one checkpoint per operation");
    let last = sent.last().unwrap();
    assert!(resources::contains(
        last,
        &[volume("v1"), dynamic("cpus", 1.0, "db")]
    ));
    assert!(persisted(&effects) > 0);
    // The checkpoint reaches the agent before the task does.
    let conn = sim.agent_sessions[&agent].0;
    let kinds = agent_event_types(&effects, conn);
    let checkpoint_at = kinds
        .iter()
        .rposition(|k| *k == agent_event::Type::CheckpointResources)
        .unwrap();
    let run_at = kinds
        .iter()
        .position(|k| *k == agent_event::Type::RunTask)
        .unwrap();
    assert!(checkpoint_at < run_at, "{kinds:?}");
    (fw, agent)
}

#[test]
fn an_accept_reserves_creates_and_launches_on_the_volume() {
    let mut sim = Sim::new();
    let (fw, agent) = reserve_create_launch(&mut sim);
    let t = total(&sim, &agent);
    assert!(resources::contains(&t, &[volume("v1")]));
    assert_eq!(resources::scalar(&t, "disk"), 1000.0);
    // The task ends: the reservation and volume are offered back to the role, in the
    // pre-refinement format too for a framework without RESERVATION_REFINEMENT.
    let effects = sim.agent_update(&agent, &fw.id, "t1", v1::TaskState::TaskFinished, 1);
    let mut all = effects;
    all.extend(sim.advance(2_000));
    let offer = offers(&all, fw.conn)
        .pop()
        .expect("an offer after the task ended");
    let vol = offer
        .resources
        .iter()
        .find(|r| r.disk.as_ref().is_some_and(|d| d.persistence.is_some()))
        .expect("the volume is offered");
    #[allow(deprecated)]
    let role = vol.role.clone();
    assert_eq!(role.as_deref(), Some("db"));
    assert_eq!(
        vol.reservation
            .as_ref()
            .and_then(|r| r.principal.as_deref()),
        Some("p")
    );
    // The volume survives a master restart (the agent's record holds it).
    let restarted = sim.restart(1_000);
    assert!(resources::contains(
        &restarted.m.registry().agents[&agent].resources,
        &[volume("v1")]
    ));
}

#[test]
fn a_volume_in_use_cannot_be_destroyed_and_the_operator_can_once_it_is_not() {
    let mut sim = Sim::new();
    let (fw, agent) = reserve_create_launch(&mut sim);
    let req = sim.conn();
    let destroy = Input::AgentOperation {
        req,
        agent_id: agent.clone(),
        operation: Operation::Destroy(vec![volume("v1")]),
        principal: None,
    };
    let effects = sim.step(destroy.clone());
    match reply_of(&effects, req) {
        Reply::Error {
            status: 409,
            message,
        } => assert!(message.contains("in use"), "{message}"),
        other => panic!("{other:?}"),
    }
    sim.agent_update(&agent, &fw.id, "t1", v1::TaskState::TaskFinished, 1);
    // Offers that hold the volume are rescinded to make room.
    sim.advance(2_000);
    let req = sim.conn();
    let effects = sim.step(Input::AgentOperation {
        req,
        agent_id: agent.clone(),
        operation: Operation::Destroy(vec![volume("v1")]),
        principal: None,
    });
    assert_eq!(reply_of(&effects, req), Reply::Accepted, "{effects:#?}");
    let sent = checkpoints(&sim, &agent, &effects);
    assert!(
        sent.last().unwrap().iter().all(|r| r.disk.is_none()),
        "{sent:?}"
    );
    let req = sim.conn();
    let effects = sim.step(Input::AgentOperation {
        req,
        agent_id: agent.clone(),
        operation: Operation::Unreserve(vec![
            dynamic("cpus", 1.0, "db"),
            dynamic("disk", 100.0, "db"),
        ]),
        principal: None,
    });
    assert_eq!(reply_of(&effects, req), Reply::Accepted, "{effects:#?}");
    assert!(
        total(&sim, &agent)
            .iter()
            .all(|r| r.reservations.is_empty())
    );
    // Nothing left to unreserve: 409, no change.
    let req = sim.conn();
    let effects = sim.step(Input::AgentOperation {
        req,
        agent_id: agent,
        operation: Operation::Unreserve(vec![dynamic("cpus", 1.0, "db")]),
        principal: None,
    });
    assert!(matches!(
        reply_of(&effects, req),
        Reply::Error { status: 409, .. }
    ));
    assert_eq!(persisted(&effects), 0);
}

#[test]
fn the_masters_set_wins_at_reregistration() {
    let mut sim = Sim::new();
    let (_fw, agent) = reserve_create_launch(&mut sim);
    sim.close_agent(&agent);
    // The agent comes back reporting only its static resources (it missed the checkpoint).
    let (conn, effects) = sim.reregister_agent(&agent, STATIC, vec![], vec![]);
    let sent: Vec<Vec<v1::Resource>> = agent_events(&effects, conn)
        .into_iter()
        .filter_map(|e| e.checkpoint_resources.map(|c| c.resources))
        .collect();
    assert_eq!(sent.len(), 1, "the master's set is sent: {effects:#?}");
    assert!(resources::contains(&sent[0], &[volume("v1")]));
    assert!(resources::contains(&total(&sim, &agent), &[volume("v1")]));
}

#[test]
fn refused_operations_are_dropped_by_name_and_a_launch_on_them_is_resources_unknown() {
    let mut sim = Sim::new();
    let (agent, _) = sim.register_agent(STATIC);
    let (fw, effects) = db_framework(&mut sim);
    let offer = offers(&effects, fw.conn).pop().unwrap();
    // Another role than the offer's: dropped, with why in the log. One with an id refused
    // alike: dropped, and OPERATION_ERROR (no uuid) to the framework.
    let other_role = op(
        v1::offer::operation::Type::Reserve,
        vec![dynamic("cpus", 1.0, "other")],
    );
    let mut with_id = op(
        v1::offer::operation::Type::Reserve,
        vec![dynamic("cpus", 1.0, "elsewhere")],
    );
    with_id.id = Some(v1::OperationId {
        value: "op-1".into(),
    });
    let mut t = task("t1", &agent, "cpus:1");
    t.resources = vec![dynamic("cpus", 1.0, "other")];
    let effects = accept(
        &mut sim,
        &fw,
        &offer.id.value,
        vec![other_role, with_id, launch(vec![t])],
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Warn(w) if w.contains("role 'other'")))
    );
    let status = events(&effects, fw.conn)
        .into_iter()
        .find_map(|e| e.update_operation_status.map(|u| u.status))
        .expect("OPERATION_ERROR");
    assert_eq!(status.state, v1::OperationState::OperationError as i32);
    assert_eq!(status.operation_id.as_ref().unwrap().value, "op-1");
    assert!(
        status.uuid.is_none(),
        "OPERATION_ERROR is not sent reliably"
    );
    assert!(
        status
            .message
            .as_deref()
            .unwrap_or("")
            .contains("elsewhere"),
        "{status:?}"
    );
    assert!(sim.m.get_operations().operations.is_empty());
    // The launch names a reservation that was never made.
    let update = updates(&effects, fw.conn)
        .pop()
        .expect("the task is refused");
    assert_eq!(update.state, v1::TaskState::TaskLost as i32);
    assert_eq!(
        update.reason,
        Some(v1::task_status::Reason::ResourcesUnknown as i32)
    );
    assert!(
        total(&sim, &agent)
            .iter()
            .all(|r| r.reservations.is_empty())
    );
}

#[test]
fn a_launch_on_a_volume_the_master_does_not_know_is_resources_unknown() {
    for pa in [false, true] {
        let mut sim = Sim::new();
        let (agent, _) = sim.register_agent(STATIC);
        let mut info = framework_info(pa);
        #[allow(deprecated)]
        {
            info.role = Some("db".into());
        }
        let (fw, effects) = sim.subscribe_with(info);
        let offer = offers(&effects, fw.conn).pop().unwrap();
        let mut t = task("t1", &agent, "cpus:1");
        t.resources = vec![resources::scalar_resource("cpus", 1.0), volume("gone")];
        let effects = accept(&mut sim, &fw, &offer.id.value, vec![launch(vec![t])]);
        let update = updates(&effects, fw.conn).pop().expect("refused");
        let expected = if pa {
            v1::TaskState::TaskDropped
        } else {
            v1::TaskState::TaskLost
        };
        assert_eq!(update.state, expected as i32);
        assert_eq!(
            update.reason,
            Some(v1::task_status::Reason::ResourcesUnknown as i32)
        );
        assert_eq!(update.source, Some(v1::task_status::Source::Master as i32));
    }
}

fn sized(mut r: v1::Resource, mb: f64) -> v1::Resource {
    r.scalar = Some(v1::value::Scalar { value: mb });
    r
}

fn operator(sim: &mut Sim, agent: &str, operation: Operation) -> Reply {
    let req = sim.conn();
    let effects = sim.step(Input::AgentOperation {
        req,
        agent_id: agent.into(),
        operation,
        principal: None,
    });
    reply_of(&effects, req)
}

fn volume_size(resources: &[v1::Resource], id: &str) -> Option<f64> {
    resources
        .iter()
        .find(|r| drover_core::operations::persistence_id(r) == Some(id))
        .and_then(|r| r.scalar.as_ref().map(|s| s.value))
}

fn plain_reserved_disk(resources: &[v1::Resource]) -> f64 {
    resources
        .iter()
        .filter(|r| r.name == "disk" && r.disk.is_none() && !r.reservations.is_empty())
        .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
        .sum()
}

#[test]
fn the_operator_grows_and_shrinks_a_volume_within_its_reservation() {
    let mut sim = Sim::new();
    let (fw, agent) = reserve_create_launch(&mut sim);
    sim.agent_update(&agent, &fw.id, "t1", v1::TaskState::TaskFinished, 1);
    sim.advance(2_000);
    let reply = operator(
        &mut sim,
        &agent,
        Operation::Reserve(vec![dynamic("disk", 50.0, "db")]),
    );
    assert_eq!(reply, Reply::Accepted);

    // GROW_VOLUME takes in disk of the volume's own reservation.
    let req = sim.conn();
    let effects = sim.step(Input::AgentOperation {
        req,
        agent_id: agent.clone(),
        operation: Operation::Grow(vec![volume("v1"), dynamic("disk", 50.0, "db")]),
        principal: None,
    });
    assert_eq!(reply_of(&effects, req), Reply::Accepted, "{effects:#?}");
    assert_eq!(volume_size(&total(&sim, &agent), "v1"), Some(150.0));
    assert_eq!(plain_reserved_disk(&total(&sim, &agent)), 0.0);
    let sent = checkpoints(&sim, &agent, &effects);
    assert_eq!(
        volume_size(sent.last().unwrap(), "v1"),
        Some(150.0),
        "{sent:?}"
    );
    assert!(persisted(&effects) > 0, "the new total is persisted");

    // SHRINK_VOLUME gives disk back to the reservation.
    let reply = operator(
        &mut sim,
        &agent,
        Operation::Shrink(vec![sized(volume("v1"), 150.0)], 30.0),
    );
    assert_eq!(reply, Reply::Accepted);
    assert_eq!(volume_size(&total(&sim, &agent), "v1"), Some(120.0));
    assert_eq!(plain_reserved_disk(&total(&sim, &agent)), 30.0);

    // What Mesos refused is refused, naming why, and nothing changes.
    let before = total(&sim, &agent);
    for (operation, status, words) in [
        (
            Operation::Shrink(vec![sized(volume("v1"), 120.0)], 120.0),
            400,
            "smaller than the size",
        ),
        (
            Operation::Shrink(vec![sized(volume("v1"), 120.0)], 0.0),
            400,
            "greater than zero",
        ),
        (
            Operation::Grow(vec![
                sized(volume("v1"), 120.0),
                dynamic("disk", 10.0, "web"),
            ]),
            400,
            "reservation of the volume",
        ),
        (
            Operation::Grow(vec![
                dynamic("disk", 10.0, "db"),
                dynamic("disk", 10.0, "db"),
            ]),
            400,
            "not a persistent volume",
        ),
        (
            Operation::Grow(vec![
                sized(volume("v1"), 120.0),
                dynamic("disk", 31.0, "db"),
            ]),
            409,
            "does not contain",
        ),
        (
            Operation::Shrink(vec![sized(volume("v1"), 99.0)], 10.0),
            409,
            "does not contain",
        ),
    ] {
        match operator(&mut sim, &agent, operation.clone()) {
            Reply::Error { status: s, message } => {
                assert_eq!(s, status, "{operation:?}: {message}");
                assert!(message.contains(words), "{operation:?}: {message}");
            }
            other => panic!("{operation:?}: {other:?}"),
        }
        assert_eq!(total(&sim, &agent), before);
    }
}

#[test]
fn a_framework_grows_its_volume_and_launches_on_it_in_one_accept() {
    use v1::offer::operation as o;
    let mut sim = Sim::new();
    let (fw, agent) = reserve_create_launch(&mut sim);
    let mut effects = sim.agent_update(&agent, &fw.id, "t1", v1::TaskState::TaskFinished, 1);
    let req = sim.conn();
    effects.extend(sim.step(Input::AgentOperation {
        req,
        agent_id: agent.clone(),
        operation: Operation::Reserve(vec![dynamic("disk", 50.0, "db")]),
        principal: None,
    }));
    assert_eq!(reply_of(&effects, req), Reply::Accepted);
    effects.extend(sim.advance(5_000));
    let offer = offers(&effects, fw.conn)
        .into_iter()
        .rev()
        .find(|o| {
            volume_size(&o.resources, "v1").is_some() && plain_reserved_disk(&o.resources) > 0.0
        })
        .expect("an offer with the volume and the reserved disk");
    let grow = v1::offer::Operation {
        r#type: Some(o::Type::GrowVolume as i32),
        grow_volume: Some(o::GrowVolume {
            volume: volume("v1"),
            addition: dynamic("disk", 50.0, "db"),
        }),
        ..Default::default()
    };
    let mut t = task("t2", &agent, "cpus:1");
    t.resources = vec![dynamic("cpus", 1.0, "db"), sized(volume("v1"), 150.0)];
    let effects = accept(&mut sim, &fw, &offer.id.value, vec![grow, launch(vec![t])]);
    assert!(
        updates(&effects, fw.conn).is_empty(),
        "t2 launched: {effects:#?}"
    );
    assert_eq!(volume_size(&total(&sim, &agent), "v1"), Some(150.0));
}
