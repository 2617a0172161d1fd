//! Operation feedback for RESERVE / UNRESERVE / CREATE / DESTROY with an `id`: OPERATION_FINISHED
//! with a uuid once applied, resent with backoff and after a resubscription until
//! acknowledged, RECONCILE_OPERATIONS by Mesos' rules, OPERATION_ERROR for refused ones, and
//! the unacknowledged record kept across a master restart.

use crate::master_common;

use drover_core::master::operations_feedback::{RETRY_MAX_MS, RETRY_MIN_MS};
use drover_core::master::{Effect, Input, RegistryOp, Reply};
use drover_core::resources;
use drover_wire::v1;
use drover_wire::v1::scheduler;
use master_common::*;

const STATIC: &str = "cpus:4;mem:4096;disk:1000";

fn reserved_cpus(value: f64, role: &str) -> v1::Resource {
    let mut r = resources::scalar_resource("cpus", value);
    r.reservations.push(v1::resource::ReservationInfo {
        r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
        role: Some(role.into()),
        principal: Some("p".into()),
        labels: None,
    });
    r
}

fn reserve(id: Option<&str>, role: &str) -> v1::offer::Operation {
    v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::Reserve as i32),
        id: id.map(|v| v1::OperationId { value: v.into() }),
        reserve: Some(v1::offer::operation::Reserve {
            resources: vec![reserved_cpus(1.0, role)],
            source: vec![],
        }),
        ..Default::default()
    }
}

fn db_info() -> v1::FrameworkInfo {
    let mut info = framework_info(false);
    #[allow(deprecated)]
    {
        info.role = Some("db".into());
    }
    info.principal = Some("p".into());
    info.failover_timeout = Some(3600.0);
    info
}

/// An agent and a `db` framework holding one offer of it.
fn setup(sim: &mut Sim) -> (String, Fw, String) {
    let (agent, _) = sim.register_agent(STATIC);
    let (fw, effects) = sim.subscribe_with(db_info());
    let offer = offers(&effects, fw.conn).pop().expect("an offer");
    (agent, fw, offer.id.value)
}

fn accept_ops(sim: &mut Sim, fw: &Fw, offer: &str, ops: Vec<v1::offer::Operation>) -> Vec<Effect> {
    let call = scheduler::Call {
        r#type: Some(scheduler::call::Type::Accept as i32),
        accept: Some(scheduler::call::Accept {
            offer_ids: vec![v1::OfferId {
                value: offer.into(),
            }],
            operations: ops,
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

fn op_statuses(effects: &[Effect], fw: &Fw) -> Vec<v1::OperationStatus> {
    events(effects, fw.conn)
        .into_iter()
        .filter_map(|e| e.update_operation_status.map(|u| u.status))
        .collect()
}

fn ack(sim: &mut Sim, fw: &Fw, agent: &str, op: &str, uuid: Vec<u8>) -> (Reply, Vec<Effect>) {
    sim.call(
        fw,
        scheduler::Call {
            r#type: Some(scheduler::call::Type::AcknowledgeOperationStatus as i32),
            acknowledge_operation_status: Some(scheduler::call::AcknowledgeOperationStatus {
                agent_id: Some(v1::AgentId {
                    value: agent.into(),
                }),
                resource_provider_id: None,
                uuid,
                operation_id: v1::OperationId { value: op.into() },
            }),
            ..Default::default()
        },
    )
}

fn reconcile(sim: &mut Sim, fw: &Fw, ops: &[(&str, Option<&str>)]) -> Vec<v1::OperationStatus> {
    let call = scheduler::Call {
        r#type: Some(scheduler::call::Type::ReconcileOperations as i32),
        reconcile_operations: Some(scheduler::call::ReconcileOperations {
            operations: ops
                .iter()
                .map(
                    |(id, agent)| scheduler::call::reconcile_operations::Operation {
                        operation_id: v1::OperationId {
                            value: (*id).into(),
                        },
                        agent_id: agent.map(|a| v1::AgentId { value: a.into() }),
                        resource_provider_id: None,
                    },
                )
                .collect(),
        }),
        ..Default::default()
    };
    let (reply, effects) = sim.call(fw, call);
    assert_eq!(reply, Reply::Accepted);
    op_statuses(&effects, fw)
}

/// A RESERVE with id `op-1` applied; returns its OPERATION_FINISHED.
fn finished(sim: &mut Sim) -> (String, Fw, v1::OperationStatus, Vec<Effect>) {
    let (agent, fw, offer) = setup(sim);
    let effects = accept_ops(sim, &fw, &offer, vec![reserve(Some("op-1"), "db")]);
    let mut statuses = op_statuses(&effects, &fw);
    assert_eq!(statuses.len(), 1, "{effects:#?}");
    let status = statuses.pop().unwrap();
    (agent, fw, status, effects)
}

fn state(s: &v1::OperationStatus) -> v1::OperationState {
    v1::OperationState::try_from(s.state).unwrap()
}

#[test]
fn an_applied_operation_with_an_id_is_finished_with_a_uuid_after_it_is_persisted() {
    let mut sim = Sim::new();
    let (agent, fw, status, effects) = finished(&mut sim);
    assert_eq!(state(&status), v1::OperationState::OperationFinished);
    assert_eq!(status.operation_id.as_ref().unwrap().value, "op-1");
    assert_eq!(status.agent_id.as_ref().unwrap().value, agent);
    assert_eq!(status.uuid.as_ref().map(|u| u.value.len()), Some(16));
    // Mesos' speculative operations on default resources carry no converted resources.
    assert!(status.converted_resources.is_empty());
    // Applied: the agent's total holds the reservation.
    assert!(resources::contains(
        &sim.m.agents()[&agent].info.resources,
        &[reserved_cpus(1.0, "db")]
    ));
    // The agent's total and the operation are persisted before the status is sent.
    let put_op = effects
        .iter()
        .position(|e| matches!(e, Effect::Persist(RegistryOp::PutOperation(_))))
        .expect("the operation is persisted");
    let admit = effects
        .iter()
        .position(|e| matches!(e, Effect::Persist(RegistryOp::AdmitAgent(_))))
        .expect("the agent's total is persisted");
    let sent = effects
        .iter()
        .position(|e| {
            matches!(e, Effect::ToScheduler { event, .. } if event.update_operation_status.is_some())
        })
        .unwrap();
    assert!(admit < sent && put_op < sent);
    // GET_OPERATIONS lists it, as Mesos' `Operation`.
    let listed = sim.m.get_operations().operations;
    assert_eq!(listed.len(), 1);
    let op = &listed[0];
    assert_eq!(op.framework_id.as_ref().unwrap().value, fw.id);
    assert_eq!(op.agent_id.as_ref().unwrap().value, agent);
    assert_eq!(op.info.id.as_ref().unwrap().value, "op-1");
    assert_eq!(op.latest_status, status);
    assert_eq!(op.statuses, vec![status.clone()]);
    assert_eq!(op.uuid.value.len(), 16);
    assert_ne!(op.uuid.value, status.uuid.as_ref().unwrap().value);
    assert_eq!(sim.m.registry().operations.len(), 1);
}

#[test]
fn an_acknowledgement_ends_the_retries_and_forgets_the_operation() {
    let mut sim = Sim::new();
    let (agent, fw, status, _) = finished(&mut sim);
    let uuid = status.uuid.unwrap().value;
    let (reply, effects) = ack(&mut sim, &fw, &agent, "op-1", uuid);
    assert_eq!(reply, Reply::Accepted);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Persist(RegistryOp::RemoveOperation { .. }))),
        "{effects:#?}"
    );
    assert!(sim.m.get_operations().operations.is_empty());
    assert!(sim.m.registry().operations.is_empty());
    let later = sim.advance(10 * RETRY_MAX_MS);
    assert!(
        op_statuses(&later, &fw).is_empty(),
        "no resend after the ack"
    );
}

#[test]
fn an_unacknowledged_status_is_resent_with_a_doubling_backoff() {
    let mut sim = Sim::new();
    let (agent, fw, status, _) = finished(&mut sim);
    let early = sim.advance(RETRY_MIN_MS - 1);
    assert!(op_statuses(&early, &fw).is_empty(), "not before 10 s");
    let first = op_statuses(&sim.advance(1), &fw);
    assert_eq!(first, vec![status.clone()], "the same status, same uuid");
    // The next one 20 s later, not 10.
    let none = sim.advance(2 * RETRY_MIN_MS - 1);
    assert!(op_statuses(&none, &fw).is_empty());
    assert_eq!(op_statuses(&sim.advance(1), &fw), vec![status.clone()]);
    // Capped: over a long time the resends come at most every RETRY_MAX_MS.
    let mut times = Vec::new();
    for _ in 0..200 {
        // The agent answers its pings (an unreachable agent's operations leave with it).
        sim.pong(&agent);
        let effects = sim.advance(RETRY_MIN_MS);
        if !op_statuses(&effects, &fw).is_empty() {
            times.push(sim.now);
        }
    }
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| *g <= RETRY_MAX_MS), "{gaps:?}");
    assert_eq!(*gaps.last().unwrap(), RETRY_MAX_MS, "{gaps:?}");
}

#[test]
fn an_unacknowledged_status_is_resent_when_the_framework_resubscribes() {
    let mut sim = Sim::new();
    let (_agent, fw, status, _) = finished(&mut sim);
    sim.step(Input::SchedulerClosed { conn: fw.conn });
    let quiet = sim.advance(5 * RETRY_MIN_MS);
    assert!(
        !quiet
            .iter()
            .any(|e| matches!(e, Effect::ToScheduler { .. })),
        "nothing is sent while disconnected"
    );
    let mut info = db_info();
    info.id = Some(v1::FrameworkId {
        value: fw.id.clone(),
    });
    let (fw2, effects) = sim.subscribe_with(info);
    let evs = events(&effects, fw2.conn);
    let subscribed = evs.iter().position(|e| e.subscribed.is_some()).unwrap();
    let update = evs
        .iter()
        .position(|e| e.update_operation_status.is_some())
        .expect("resent on resubscription");
    assert!(subscribed < update);
    assert_eq!(op_statuses(&effects, &fw2), vec![status.clone()]);
    // And retried again on the new stream.
    assert_eq!(op_statuses(&sim.advance(RETRY_MIN_MS), &fw2), vec![status]);
}

#[test]
fn reconciliation_answers_known_operations_and_unknown_ones_by_their_agent() {
    let mut sim = Sim::new();
    let (agent, fw, status, _) = finished(&mut sim);
    // Implicit: every tracked operation, without uuid.
    let implicit = reconcile(&mut sim, &fw, &[]);
    assert_eq!(implicit.len(), 1);
    assert_eq!(state(&implicit[0]), v1::OperationState::OperationFinished);
    assert!(implicit[0].uuid.is_none());
    assert_eq!(implicit[0].operation_id, status.operation_id);
    // Explicit: known, unknown on a registered agent, unknown agent, no agent.
    let answers = reconcile(
        &mut sim,
        &fw,
        &[
            ("op-1", Some(&agent)),
            ("op-x", Some(&agent)),
            ("op-y", Some("no-such-agent")),
            ("op-z", None),
        ],
    );
    let states: Vec<_> = answers.iter().map(state).collect();
    use v1::OperationState as S;
    assert_eq!(
        states,
        vec![
            S::OperationFinished,
            S::OperationUnknown,
            S::OperationUnknown,
            S::OperationUnknown
        ]
    );
    assert!(answers.iter().all(|a| a.uuid.is_none()));
    assert_eq!(answers[1].agent_id.as_ref().unwrap().value, agent);
    assert!(answers[3].agent_id.is_none());
    // Reconciliation does not acknowledge anything.
    assert_eq!(sim.m.get_operations().operations.len(), 1);

    // Gone: the framework is told, the operation leaves with the agent, and reconciliation
    // answers OPERATION_GONE_BY_OPERATOR.
    let req = sim.conn();
    let effects = sim.step(Input::MarkAgentGone {
        req,
        agent_id: agent.clone(),
    });
    let told = op_statuses(&effects, &fw);
    assert_eq!(told.len(), 1);
    assert_eq!(state(&told[0]), S::OperationGoneByOperator);
    assert!(told[0].uuid.is_none());
    assert!(sim.m.get_operations().operations.is_empty());
    assert!(sim.m.registry().operations.is_empty());
    let answers = reconcile(&mut sim, &fw, &[("op-1", Some(&agent))]);
    assert_eq!(state(&answers[0]), S::OperationGoneByOperator);
}

#[test]
fn reconciliation_of_an_unknown_operation_on_an_unreachable_or_recovered_agent() {
    use v1::OperationState as S;
    let mut sim = Sim::new();
    let (agent, fw, _offer) = setup(&mut sim);
    // A master restarted: the agent is recovered until it reregisters.
    let mut restarted = sim.restart(1000);
    let mut info = db_info();
    info.id = Some(v1::FrameworkId {
        value: fw.id.clone(),
    });
    let (fw2, _) = restarted.subscribe_with(info);
    let answers = reconcile(&mut restarted, &fw2, &[("op-9", Some(&agent))]);
    assert_eq!(state(&answers[0]), S::OperationRecovering);
    // Unreachable: after the reregistration timeout.
    restarted.advance(restarted.m.config().agent_reregister_timeout_ms + 1000);
    assert!(restarted.m.registry().unreachable.contains_key(&agent));
    let answers = reconcile(&mut restarted, &fw2, &[("op-9", Some(&agent))]);
    assert_eq!(state(&answers[0]), S::OperationUnreachable);
}

#[test]
fn a_refused_operation_with_an_id_is_an_error_without_uuid() {
    let mut sim = Sim::new();
    let (agent, fw, offer) = setup(&mut sim);
    // Another role than the offer's: refused by validation.
    let effects = accept_ops(&mut sim, &fw, &offer, vec![reserve(Some("bad"), "other")]);
    let statuses = op_statuses(&effects, &fw);
    assert_eq!(statuses.len(), 1);
    assert_eq!(state(&statuses[0]), v1::OperationState::OperationError);
    assert!(statuses[0].uuid.is_none());
    assert!(sim.m.get_operations().operations.is_empty());
    assert!(sim.m.registry().operations.is_empty());
    assert!(
        sim.m.agents()[&agent]
            .info
            .resources
            .iter()
            .all(|r| r.reservations.is_empty())
    );
    // Invalid offers: an error too, as in Mesos.
    let effects = accept_ops(
        &mut sim,
        &fw,
        "no-such-offer",
        vec![reserve(Some("late"), "db")],
    );
    let statuses = op_statuses(&effects, &fw);
    assert_eq!(statuses.len(), 1, "{effects:#?}");
    assert_eq!(state(&statuses[0]), v1::OperationState::OperationError);
    assert!(
        statuses[0]
            .message
            .as_deref()
            .unwrap()
            .contains("invalid offers")
    );
}

#[test]
fn a_second_operation_with_a_pending_id_is_refused() {
    let mut sim = Sim::new();
    let (_agent, fw, _status, mut effects) = finished(&mut sim);
    effects.extend(sim.advance(2000));
    let offer = offers(&effects, fw.conn)
        .pop()
        .map(|o| o.id.value)
        .expect("a new offer");
    let effects = accept_ops(&mut sim, &fw, &offer, vec![reserve(Some("op-1"), "db")]);
    let statuses = op_statuses(&effects, &fw);
    assert_eq!(statuses.len(), 1);
    assert_eq!(state(&statuses[0]), v1::OperationState::OperationError);
    assert!(
        statuses[0]
            .message
            .as_deref()
            .unwrap()
            .contains("already pending")
    );
    assert_eq!(sim.m.get_operations().operations.len(), 1);
}

#[test]
fn acknowledgements_that_match_nothing_are_ignored_and_malformed_ones_refused() {
    let mut sim = Sim::new();
    let (agent, fw, status, _) = finished(&mut sim);
    // A well-formed acknowledgement of an unknown status or operation: 202, logged, nothing
    // forgotten (as Mesos).
    let (reply, effects) = ack(&mut sim, &fw, &agent, "op-1", vec![7; 16]);
    assert_eq!(reply, Reply::Accepted);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Warn(w) if w.contains("no status")))
    );
    let (reply, effects) = ack(&mut sim, &fw, &agent, "op-unknown", vec![7; 16]);
    assert_eq!(reply, Reply::Accepted);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Warn(w) if w.contains("unknown")))
    );
    let uuid = status.uuid.clone().unwrap().value;
    let (reply, _) = ack(&mut sim, &fw, "other-agent", "op-1", uuid);
    assert_eq!(reply, Reply::Accepted);
    assert_eq!(sim.m.get_operations().operations.len(), 1);
    // A uuid that is not 16 bytes: 400.
    let (reply, _) = ack(&mut sim, &fw, &agent, "op-1", vec![1, 2, 3]);
    match reply {
        Reply::Error { status, message } => {
            assert_eq!(status, 400);
            assert!(
                message.contains("acknowledge_operation_status.uuid"),
                "{message}"
            );
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    assert_eq!(sim.m.get_operations().operations.len(), 1);
}

#[test]
fn an_unacknowledged_status_survives_a_master_restart() {
    let mut sim = Sim::new();
    let (agent, fw, status, _) = finished(&mut sim);
    let mut restarted = sim.restart(5000);
    assert_eq!(restarted.m.registry().operations.len(), 1);
    assert_eq!(restarted.m.get_operations().operations.len(), 1);
    let mut info = db_info();
    info.id = Some(v1::FrameworkId {
        value: fw.id.clone(),
    });
    let (fw2, effects) = restarted.subscribe_with(info);
    assert_eq!(
        op_statuses(&effects, &fw2),
        vec![status.clone()],
        "resent, same uuid, after the restart"
    );
    let answers = reconcile(&mut restarted, &fw2, &[("op-1", Some(&agent))]);
    assert_eq!(state(&answers[0]), v1::OperationState::OperationFinished);
    let (reply, _) = ack(
        &mut restarted,
        &fw2,
        &agent,
        "op-1",
        status.uuid.unwrap().value,
    );
    assert_eq!(reply, Reply::Accepted);
    assert!(restarted.m.get_operations().operations.is_empty());
    assert!(restarted.m.registry().operations.is_empty());
}

#[test]
fn a_removed_framework_takes_its_operations_with_it() {
    let mut sim = Sim::new();
    let (_agent, fw, _status, _) = finished(&mut sim);
    let req = sim.conn();
    sim.step(Input::Teardown {
        req,
        framework_id: fw.id.clone(),
    });
    assert!(sim.m.get_operations().operations.is_empty());
    assert!(sim.m.registry().operations.is_empty());
}

#[test]
fn an_agent_marked_unreachable_takes_its_operations_and_the_framework_is_told() {
    use v1::OperationState as S;
    let mut sim = Sim::new();
    let (agent, fw, status, _) = finished(&mut sim);
    // The agent stops answering pings: after the ping timeouts it is unreachable.
    let effects = sim.advance(10 * 60_000);
    assert!(sim.m.registry().unreachable.contains_key(&agent));
    let statuses = op_statuses(&effects, &fw);
    let told: Vec<_> = statuses
        .iter()
        .filter(|s| state(s) == S::OperationUnreachable)
        .collect();
    assert_eq!(told.len(), 1, "{statuses:#?}");
    assert!(told[0].uuid.is_none());
    assert_eq!(told[0].operation_id, status.operation_id);
    // Before that, only resends of the FINISHED status.
    assert!(
        statuses
            .iter()
            .all(|s| state(s) == S::OperationUnreachable || *s == status)
    );
    assert!(sim.m.get_operations().operations.is_empty());
    assert!(sim.m.registry().operations.is_empty());
    let answers = reconcile(&mut sim, &fw, &[("op-1", Some(&agent))]);
    assert_eq!(state(&answers[0]), S::OperationUnreachable);
}

#[test]
fn a_launch_with_an_id_is_not_performed_and_its_tasks_are_errors() {
    use drover_core::task::Reason;
    let mut sim = Sim::new();
    let (agent, fw, offer) = setup(&mut sim);
    let mut op = launch(vec![task("t1", &agent, "cpus:1;mem:128")]);
    op.id = Some(v1::OperationId {
        value: "launch-1".into(),
    });
    let mut group_task = task("g1", &agent, "cpus:1;mem:128");
    group_task.command = None;
    let group = v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::LaunchGroup as i32),
        id: Some(v1::OperationId {
            value: "group-1".into(),
        }),
        launch_group: Some(v1::offer::operation::LaunchGroup {
            executor: v1::ExecutorInfo {
                executor_id: v1::ExecutorId { value: "e1".into() },
                r#type: Some(v1::executor_info::Type::Default as i32),
                resources: resources::parse("cpus:0.1;mem:32").unwrap(),
                ..Default::default()
            },
            task_group: v1::TaskGroupInfo {
                tasks: vec![group_task],
            },
        }),
        ..Default::default()
    };
    let mut effects = accept_ops(&mut sim, &fw, &offer, vec![op, group]);
    let statuses = updates(&effects, fw.conn);
    let summary: Vec<_> = statuses
        .iter()
        .map(|s| {
            (
                s.task_id.value.as_str(),
                v1::TaskState::try_from(s.state).unwrap(),
                s.reason,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "t1",
                v1::TaskState::TaskError,
                Some(Reason::TaskInvalid as i32)
            ),
            (
                "g1",
                v1::TaskState::TaskError,
                Some(Reason::TaskGroupInvalid as i32)
            ),
        ],
        "{effects:#?}"
    );
    assert!(
        statuses[0]
            .message
            .as_deref()
            .unwrap()
            .ends_with("The `id` field cannot be set on LAUNCH operations"),
        "{:?}",
        statuses[0].message
    );
    assert!(
        statuses[1]
            .message
            .as_deref()
            .unwrap()
            .ends_with("The `id` field cannot be set on LAUNCH_GROUP operations"),
        "{:?}",
        statuses[1].message
    );
    // Nothing reached the agent, no operation is tracked, and the offer's resources are
    // free to be offered again.
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::ToAgent { .. })),
        "{effects:#?}"
    );
    assert!(op_statuses(&effects, &fw).is_empty());
    assert!(sim.m.get_operations().operations.is_empty());
    effects.extend(sim.advance(2_000));
    let again = offers(&effects, fw.conn);
    assert_eq!(again.len(), 1, "{effects:#?}");
    assert_eq!(
        resources::scalar(&again[0].resources, "cpus"),
        4.0,
        "the whole agent is offered again"
    );
}

#[test]
fn a_framework_cannot_hold_more_than_the_bound_of_unacknowledged_operations() {
    use drover_core::master::operations_feedback::MAX_PENDING_PER_FRAMEWORK;
    let mut sim = Sim::new();
    let (agent, fw, offer) = setup(&mut sim);
    let unreserve = |id: String| v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::Unreserve as i32),
        id: Some(v1::OperationId { value: id }),
        unreserve: Some(v1::offer::operation::Unreserve {
            resources: vec![reserved_cpus(1.0, "db")],
        }),
        ..Default::default()
    };
    // Reserve and unreserve the same cpu with fresh ids, one past the bound.
    let mut ops = Vec::new();
    for i in 0..=MAX_PENDING_PER_FRAMEWORK / 2 {
        ops.push(reserve(Some(&format!("r-{i}")), "db"));
        ops.push(unreserve(format!("u-{i}")));
    }
    let mut effects = accept_ops(&mut sim, &fw, &offer, ops);
    let statuses = op_statuses(&effects, &fw);
    let finished: Vec<_> = statuses
        .iter()
        .filter(|s| state(s) == v1::OperationState::OperationFinished)
        .collect();
    let errors: Vec<_> = statuses
        .iter()
        .filter(|s| state(s) == v1::OperationState::OperationError)
        .collect();
    assert_eq!(finished.len(), MAX_PENDING_PER_FRAMEWORK);
    assert_eq!(errors.len(), 2, "the two past the bound");
    assert!(
        errors[0]
            .message
            .as_deref()
            .unwrap()
            .contains("not acknowledged"),
        "{:?}",
        errors[0]
    );
    assert_eq!(
        sim.m.get_operations().operations.len(),
        MAX_PENDING_PER_FRAMEWORK
    );
    // Acknowledging one makes room for one more.
    let first = finished[0];
    let (reply, acked) = ack(
        &mut sim,
        &fw,
        &agent,
        &first.operation_id.as_ref().unwrap().value,
        first.uuid.as_ref().unwrap().value.clone(),
    );
    assert_eq!(reply, Reply::Accepted);
    effects.extend(acked);
    effects.extend(sim.advance(2_000));
    let offer = offers(&effects, fw.conn).pop().expect("an offer").id.value;
    let effects = accept_ops(&mut sim, &fw, &offer, vec![reserve(Some("one-more"), "db")]);
    let statuses = op_statuses(&effects, &fw);
    assert_eq!(statuses.len(), 1, "{effects:#?}");
    assert_eq!(state(&statuses[0]), v1::OperationState::OperationFinished);
}
