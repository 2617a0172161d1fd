//! Resident pods (pods with persistent volumes) through `Scheduler::handle`: validated as
//! Marathon 1.10 validates them, RESERVE and CREATE on a fresh offer, one LAUNCH_GROUP on
//! exactly the reservation with the volume on the DEFAULT executor where every container's
//! mount finds it, a relaunch of the same instance on the same volume, and DESTROY then
//! UNRESERVE on delete. The resident apps' ledger plays the master.

use crate::marathon_resident::{Ledger, declined, harness, kinds, label};
use crate::marathon_support;

use std::collections::BTreeMap;

use drover_core::marathon::app::AppSpec;
use drover_core::marathon::condition::Condition;
use drover_core::marathon::path::PathId;
use drover_core::marathon::pod::{
    self, PodCommand, PodContainer, PodExec, PodResources, PodSpec, PodVolume, VolumeMount,
};
use drover_core::marathon::reservation::{self, ReservationState};
use drover_core::marathon::scheduler::{Command, CommandError, Effect, Input};
use drover_core::marathon::unreachable::UnreachableStrategy;
use drover_core::task::TaskState;
use drover_wire::v1;
use marathon_support::*;

fn container(name: &str, mounts: &[(&str, &str, bool)]) -> PodContainer {
    PodContainer {
        name: name.into(),
        resources: PodResources {
            cpus: 0.1,
            mem: 32.0,
            disk: 1.0,
            gpus: 0,
        },
        exec: Some(PodExec {
            command: PodCommand::Shell("sleep 1000".into()),
            override_entrypoint: None,
        }),
        image: None,
        endpoints: Vec::new(),
        health_check: None,
        artifacts: Vec::new(),
        volume_mounts: mounts
            .iter()
            .map(|(volume, path, read_only)| VolumeMount {
                name: (*volume).into(),
                mount_path: (*path).into(),
                read_only: *read_only,
            })
            .collect(),
        environment: BTreeMap::new(),
        env_secrets: BTreeMap::new(),
        labels: BTreeMap::new(),
        user: None,
        kill_grace_period_seconds: None,
        tty: false,
    }
}

/// A pod of two containers sharing one 64 MiB persistent volume `data` (the reader mounts it
/// read-only), with the settings Marathon requires of a resident pod.
fn resident_pod(id: &str, instances: u32) -> AppSpec {
    resident_pod_sized(id, instances, 64)
}

fn resident_pod_sized(id: &str, instances: u32, size_mb: u64) -> AppSpec {
    let spec = PodSpec {
        containers: vec![
            container("db", &[("data", "pgdata", false)]),
            container("backup", &[("data", "in", true)]),
        ],
        volumes: vec![PodVolume {
            name: "data".into(),
            host: None,
            persistent_size_mb: Some(size_mb),
        }],
        networks: Vec::new(),
        executor_resources: PodResources::EXECUTOR_DEFAULT,
        legacy_shared_cgroups: false,
    };
    let mut app = pod::carrier(PathId::parse_app_id(id).unwrap(), spec);
    app.instances = instances;
    app.role = "pg".into();
    app.upgrade_strategy.minimum_health_capacity = 0.5;
    app.upgrade_strategy.maximum_over_capacity = 0.0;
    app.unreachable_strategy = UnreachableStrategy::Disabled;
    app
}

struct Accept {
    operations: Vec<v1::offer::Operation>,
    groups: Vec<v1::offer::operation::LaunchGroup>,
}

fn accepts(effects: &[Effect]) -> Vec<Accept> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Launch {
                operations,
                tasks,
                groups,
                ..
            } => {
                assert!(tasks.is_empty(), "a pod launches groups only");
                Some(Accept {
                    operations: operations.clone(),
                    groups: groups.clone(),
                })
            }
            _ => None,
        })
        .collect()
}

fn persistence_ids(resources: &[v1::Resource]) -> Vec<String> {
    resources
        .iter()
        .filter_map(|r| Some(r.disk.as_ref()?.persistence.as_ref()?.id.clone()))
        .collect()
}

/// Reserves for `/rpod`'s one instance on agent-1; returns the instance id.
fn reserved(h: &mut Harness, ledger: &mut Ledger) -> String {
    h.create(resident_pod("/rpod", 1));
    let effects = h.step(Input::Offers(vec![ledger.offer("o-r", "agent-1")]));
    let accept = accepts(&effects).pop().expect("an ACCEPT");
    ledger.apply(&accept.operations);
    h.instances("/rpod")[0].id.clone()
}

/// Every container of a launched group reports TASK_RUNNING; returns their task ids in order.
fn run_all(h: &mut Harness, group: &v1::offer::operation::LaunchGroup) -> Vec<String> {
    let ids: Vec<String> = group
        .task_group
        .tasks
        .iter()
        .map(|t| t.task_id.value.clone())
        .collect();
    for t in &ids {
        h.update(t, TaskState::TaskRunning);
    }
    ids
}

fn launched(h: &mut Harness, ledger: &Ledger, offer_id: &str) -> v1::offer::operation::LaunchGroup {
    let mut accept = accepts(&h.step(Input::Offers(vec![ledger.offer(offer_id, "agent-1")])))
        .pop()
        .expect("an ACCEPT");
    assert!(
        accept.operations.is_empty(),
        "{:?}",
        kinds(&accept.operations)
    );
    assert_eq!(accept.groups.len(), 1);
    accept.groups.remove(0)
}

/// `/rpod`'s one instance reserved, launched and running, then the pod deleted and every
/// container killed (each kill checked): the instance is forgotten. Returns its id.
fn deleted_after_running(h: &mut Harness, ledger: &mut Ledger) -> String {
    let id = reserved(h, ledger);
    let group = launched(h, ledger, "o-1");
    let ids = run_all(h, &group);
    let effects = h.step(Input::Command(Command::DeleteApp {
        app_id: PathId::parse_app_id("/rpod").unwrap(),
        force: false,
    }));
    assert_kills(&effects, &ids);
    for t in &ids {
        h.update(t, TaskState::TaskKilled);
    }
    assert!(h.instances("/rpod").is_empty());
    id
}

/// The instance each volume of the ACCEPT's first operation (a DESTROY) was reserved for.
fn destroyed_owners(accept: &Accept) -> Vec<Option<String>> {
    accept.operations[0]
        .destroy
        .as_ref()
        .expect("a DESTROY first")
        .volumes
        .iter()
        .map(|v| label(v, reservation::LABEL_TASK_ID))
        .collect()
}

#[test]
fn a_fresh_offer_reserves_and_creates_the_pods_volume_in_its_executor_sandbox() {
    let mut h = harness();
    h.create(resident_pod("/rpod", 1));
    let effects = h.step(Input::Offers(vec![offer("o-1", "agent-1", 8.0, 4096.0)]));
    let accept = accepts(&effects).pop().expect("the offer is accepted");
    assert!(
        accept.groups.is_empty(),
        "the launch waits for the reservation"
    );
    use v1::offer::operation::Type;
    assert_eq!(kinds(&accept.operations), [Type::Reserve, Type::Create]);
    let instance = h.instances("/rpod").pop().unwrap();
    let reserve = &accept.operations[0].reserve.as_ref().unwrap().resources;
    // The executor's and both containers' resources, and the volume's disk with them.
    let scalar = |name: &str| -> f64 {
        reserve
            .iter()
            .filter(|r| r.name == name)
            .map(|r| r.scalar.as_ref().unwrap().value)
            .sum()
    };
    let e = PodResources::EXECUTOR_DEFAULT;
    assert!((scalar("cpus") - (e.cpus + 0.2)).abs() < 1e-9);
    assert!((scalar("disk") - (e.disk + 2.0 + 64.0)).abs() < 1e-9);
    assert!(reserve.iter().all(|r| {
        label(r, reservation::LABEL_TASK_ID).as_deref() == Some(instance.id.as_str())
            && label(r, reservation::LABEL_FRAMEWORK_ID).as_deref() == Some("fw-1")
            && r.reservations[0].role.as_deref() == Some("pg")
    }));
    let volumes = &accept.operations[1].create.as_ref().unwrap().volumes;
    assert_eq!(volumes.len(), 1);
    let disk = volumes[0].disk.as_ref().unwrap();
    assert_eq!(
        disk.volume.as_ref().unwrap().container_path,
        "volumes/data",
        "where the pod's volumes live in the executor's sandbox"
    );
    let id = &disk.persistence.as_ref().unwrap().id;
    assert!(id.starts_with("rpod#data#"), "{id}");
    assert_eq!(volumes[0].scalar.as_ref().unwrap().value, 64.0);
    let r = instance.reservation.expect("recorded on the instance");
    assert_eq!(r.state, ReservationState::New);
    assert_eq!(r.volumes[0].persistence_id, *id);
    assert_eq!(instance.condition, Condition::Scheduled);
}

#[test]
fn the_group_launches_on_its_reservation_with_the_volume_on_the_executor() {
    let mut h = harness();
    let mut ledger = Ledger::default();
    let id = reserved(&mut h, &mut ledger);
    // Another agent's offer never gets the instance.
    let effects = h.step(Input::Offers(vec![offer("o-x", "agent-2", 8.0, 4096.0)]));
    assert!(accepts(&effects).is_empty() && declined(&effects));
    let group = launched(&mut h, &ledger, "o-1");
    let created = persistence_ids(&ledger.reserved);
    assert_eq!(created.len(), 1);
    assert_eq!(persistence_ids(&group.executor.resources), created);
    for task in &group.task_group.tasks {
        assert!(
            persistence_ids(&task.resources).is_empty(),
            "the agent takes a group's volume on its executor only"
        );
    }
    // Everything launched is the instance's reservation.
    let all = group
        .executor
        .resources
        .iter()
        .chain(group.task_group.tasks.iter().flat_map(|t| &t.resources));
    for r in all {
        assert_eq!(
            reservation::owner(r, "fw-1"),
            Some(id.as_str()),
            "{r:?} is reserved for the instance"
        );
    }
    // Each container's mount is the executor's `volumes/data`, read-only where asked.
    let mounts: Vec<(String, String, i32)> = group
        .task_group
        .tasks
        .iter()
        .flat_map(|t| t.container.as_ref().unwrap().volumes.iter())
        .map(|v| {
            let source = v.source.as_ref().unwrap().sandbox_path.as_ref().unwrap();
            (source.path.clone(), v.container_path.clone(), v.mode)
        })
        .collect();
    assert_eq!(
        mounts,
        [
            (
                "volumes/data".into(),
                "pgdata".into(),
                v1::volume::Mode::Rw as i32
            ),
            (
                "volumes/data".into(),
                "in".into(),
                v1::volume::Mode::Ro as i32
            ),
        ]
    );
    let instance = &h.instances("/rpod")[0];
    assert_eq!(instance.condition, Condition::Provisioned);
    assert_eq!(
        instance.reservation.as_ref().unwrap().state,
        ReservationState::Launched
    );
}

#[test]
fn a_failed_container_relaunches_the_same_instance_on_the_same_volume() {
    let mut h = harness();
    let mut ledger = Ledger::default();
    let id = reserved(&mut h, &mut ledger);
    let first = launched(&mut h, &ledger, "o-1");
    let ids = run_all(&mut h, &first);
    assert_eq!(h.conditions("/rpod"), [Condition::Running]);
    let effects = h.update(&ids[0], TaskState::TaskFailed);
    assert_eq!(
        kills(&effects),
        [ids[1].clone()],
        "the other container is killed so the executor gives the reservation back"
    );
    h.update(&ids[1], TaskState::TaskKilled);
    let instances = h.instances("/rpod");
    assert_eq!(
        instances.len(),
        1,
        "the same instance waits: no replacement"
    );
    assert_eq!(instances[0].id, id);
    assert_eq!(instances[0].condition, Condition::Scheduled);
    assert_eq!(
        instances[0].reservation.as_ref().unwrap().state,
        ReservationState::Suspended
    );
    h.advance(5_000);
    let effects = h.step(Input::Offers(vec![offer("o-x", "agent-2", 8.0, 4096.0)]));
    assert!(accepts(&effects).is_empty(), "never placed elsewhere");
    let second = launched(&mut h, &ledger, "o-2");
    assert_eq!(
        second.task_group.tasks[0].task_id.value,
        format!("{id}.db.2"),
        "a new incarnation of the same instance"
    );
    assert_eq!(
        persistence_ids(&second.executor.resources),
        persistence_ids(&first.executor.resources),
        "the volume the first launch wrote to"
    );
}

#[test]
fn deleting_the_pod_destroys_its_volume_then_unreserves() {
    let mut h = harness();
    let mut ledger = Ledger::default();
    let id = deleted_after_running(&mut h, &mut ledger);
    let accept = accepts(&h.step(Input::Offers(vec![ledger.offer("o-2", "agent-1")])))
        .pop()
        .expect("the reservation is released");
    use v1::offer::operation::Type;
    assert_eq!(kinds(&accept.operations), [Type::Destroy, Type::Unreserve]);
    assert!(accept.groups.is_empty());
    assert_eq!(destroyed_owners(&accept), [Some(id)]);
    ledger.apply(&accept.operations);
    assert!(ledger.reserved.is_empty(), "{:?}", ledger.reserved);
}

#[test]
fn a_pods_reservation_offered_in_two_parts_is_released_in_full() {
    // The master offers a killed task's resources at once but its executor's (which hold the
    // pod's volume) only once the executor has ended: the first offer after the delete may
    // hold only part of the reservation. Offers must stay wanted until the volume comes too.
    let mut h = harness();
    let mut ledger = Ledger::default();
    let id = deleted_after_running(&mut h, &mut ledger);
    let (with_volume, without): (Vec<v1::Resource>, Vec<v1::Resource>) = ledger
        .reserved
        .iter()
        .cloned()
        .partition(|r| r.disk.as_ref().is_some_and(|d| d.persistence.is_some()));
    assert!(!with_volume.is_empty() && !without.is_empty());
    let mut part = offer("o-2", "agent-1", 8.0, 4096.0);
    part.resources.extend(without.iter().cloned());
    let effects = h.step(Input::Offers(vec![part]));
    let accept = accepts(&effects)
        .pop()
        .expect("the offered part is released");
    use v1::offer::operation::Type;
    assert_eq!(kinds(&accept.operations), [Type::Unreserve]);
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Suppress)),
        "offers stay wanted while the volume is still held"
    );
    // The executor has ended: its resources, with the volume, are offered.
    let mut rest = offer("o-3", "agent-1", 8.0, 4096.0);
    rest.resources.extend(with_volume.iter().cloned());
    let effects = h.step(Input::Offers(vec![rest]));
    let accept = accepts(&effects).pop().expect("the volume is released");
    assert_eq!(kinds(&accept.operations), [Type::Destroy, Type::Unreserve]);
    assert_eq!(destroyed_owners(&accept), [Some(id)]);
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Suppress)),
        "nothing left to release: offers are no longer wanted"
    );
}

fn refused_at(h: &mut Harness, command: Command) -> Vec<(String, String)> {
    h.step(Input::Command(command))
        .into_iter()
        .find_map(|e| match e {
            Effect::Reply(Err(CommandError::Invalid(v))) => Some(
                v.into_iter()
                    .map(|v| (v.path.clone(), v.message.clone()))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn resident_pods_are_validated_as_marathon_does() {
    let mut h = harness();
    let create = |app: AppSpec| Command::CreateApp { app, force: false };
    let paths = |v: Vec<(String, String)>| v.into_iter().map(|(p, _)| p).collect::<Vec<_>>();

    let mut bad = resident_pod("/rpod", 1);
    bad.role = "*".into();
    assert_eq!(paths(refused_at(&mut h, create(bad))), ["/role"]);

    let mut bad = resident_pod("/rpod", 1);
    bad.role = "other".into();
    let refused = refused_at(&mut h, create(bad));
    assert!(
        refused
            .iter()
            .any(|(p, m)| p == "/role" && m.contains("--mesos_role 'pg'")),
        "{refused:?}"
    );

    let mut bad = resident_pod("/rpod", 1);
    bad.upgrade_strategy.maximum_over_capacity = 0.5;
    assert_eq!(
        refused_at(&mut h, create(bad)),
        [(
            "/scheduling/upgrade/maximumOverCapacity".to_owned(),
            "got 0.5, expected 0.0".to_owned()
        )]
    );

    let mut bad = resident_pod("/rpod", 1);
    bad.unreachable_strategy = UnreachableStrategy::default();
    assert_ne!(bad.unreachable_strategy, UnreachableStrategy::Disabled);
    assert_eq!(
        paths(refused_at(&mut h, create(bad))),
        ["/scheduling/unreachableStrategy"]
    );

    let mut bad = resident_pod("/rpod", 1);
    bad.accepted_resource_roles = Some(vec!["pg".into()]);
    assert_eq!(
        paths(refused_at(&mut h, create(bad))),
        ["/scheduling/placement/acceptedResourceRoles"]
    );

    let bad = resident_pod_sized("/rpod", 1, 0);
    assert_eq!(
        paths(refused_at(&mut h, create(bad))),
        ["/volumes(0)/persistent/size"]
    );
    assert!(h.s.app(&PathId::parse_app_id("/rpod").unwrap()).is_none());

    // Once created, its volumes and resources stay as they are.
    h.create(resident_pod("/rpod", 1));
    let more = resident_pod_sized("/rpod", 1, 128);
    let refused = refused_at(
        &mut h,
        Command::PutApp {
            app: more,
            force: false,
        },
    );
    assert_eq!(
        refused,
        [(
            "/volumes".to_owned(),
            "persistent volumes cannot be updated".to_owned()
        )]
    );
    let mut bigger = resident_pod("/rpod", 1);
    bigger.cpus += 1.0;
    assert_eq!(
        paths(refused_at(
            &mut h,
            Command::PutApp {
                app: bigger,
                force: false,
            }
        )),
        ["/"]
    );
    // Same definition, more instances: a scale, accepted (forced past the first deployment).
    h.command(Command::PutApp {
        app: resident_pod("/rpod", 2),
        force: true,
    });
    assert_eq!(h.instances("/rpod").len(), 2);
}
