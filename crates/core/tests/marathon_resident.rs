//! Resident apps on local persistent volumes through `Scheduler::handle`: RESERVE and CREATE on
//! a fresh offer, the launch on exactly the reserved resources, relaunches on the same
//! reservation (never elsewhere, waiting while unreachable), Stopped on scale-down, DESTROY
//! and UNRESERVE on delete, wipe and for reservations nobody knows, and the reservation kept
//! across a restart. A small ledger plays the master: it applies the operations of each
//! ACCEPT to what the agent offers next.

use crate::marathon_support;

use drover_core::marathon::app::AppSpec;
use drover_core::marathon::condition::{Condition, Goal};
use drover_core::marathon::container::AppContainer;
use drover_core::marathon::path::PathId;
use drover_core::marathon::reservation::{self, PersistentVolume, ReservationState};
use drover_core::marathon::scheduler::{
    Command, Config, Effect, Input, KillTarget, Restored, Scheduler, SequentialIds,
};
use drover_core::task::TaskState;
use drover_wire::v1;
use marathon_support::*;

fn resident(id: &str, instances: u32) -> AppSpec {
    let mut app = app(id, instances);
    app.role = "pg".into();
    app.disk = 5.0;
    app.container = Some(AppContainer::Mesos);
    app.persistent_volumes = vec![PersistentVolume {
        container_path: "data".into(),
        size_mb: 10,
    }];
    app.upgrade_strategy.minimum_health_capacity = 0.5;
    app.upgrade_strategy.maximum_over_capacity = 0.0;
    app.unreachable_strategy = drover_core::marathon::unreachable::UnreachableStrategy::Disabled;
    app
}

/// The scheduler registers with the role the resident apps reserve for.
pub(crate) fn config() -> Config {
    Config {
        mesos_role: "pg".into(),
        ..Config::default()
    }
}

pub(crate) fn harness() -> Harness {
    let mut h = Harness::new();
    h.s = Scheduler::new(config(), Box::new(SequentialIds::default()));
    h.step(Input::Subscribed {
        framework_id: "fw-1".into(),
    });
    h
}

/// What one agent holds reserved, as the master would offer it back.
#[derive(Default)]
pub(crate) struct Ledger {
    pub(crate) reserved: Vec<v1::Resource>,
}

fn same_reservation(a: &v1::Resource, b: &v1::Resource) -> bool {
    a.reservations == b.reservations
}

impl Ledger {
    /// Applies RESERVE, CREATE, DESTROY and UNRESERVE as Mesos does, in order.
    pub(crate) fn apply(&mut self, operations: &[v1::offer::Operation]) {
        for op in operations {
            if let Some(reserve) = &op.reserve {
                self.reserved.extend(reserve.resources.iter().cloned());
            }
            if let Some(create) = &op.create {
                for volume in &create.volumes {
                    let size = volume.scalar.as_ref().unwrap().value;
                    let disk = self
                        .reserved
                        .iter_mut()
                        .find(|r| {
                            r.name == "disk" && r.disk.is_none() && same_reservation(r, volume)
                        })
                        .expect("CREATE takes reserved disk of its reservation");
                    let left = disk.scalar.as_ref().unwrap().value - size;
                    assert!(left > -1e-9, "enough reserved disk for the volume");
                    disk.scalar = Some(v1::value::Scalar { value: left });
                    self.reserved.push(volume.clone());
                }
            }
            if let Some(destroy) = &op.destroy {
                for volume in &destroy.volumes {
                    let at = self
                        .reserved
                        .iter()
                        .position(|r| r == volume)
                        .expect("DESTROY names a volume that exists");
                    let mut plain = self.reserved.remove(at);
                    plain.disk = None;
                    self.reserved.push(plain);
                }
            }
            if let Some(unreserve) = &op.unreserve {
                for r in &unreserve.resources {
                    assert!(r.disk.is_none(), "volumes are destroyed before UNRESERVE");
                    self.reserved
                        .retain(|held| !(held.name == r.name && same_reservation(held, r)));
                }
            }
        }
        self.reserved
            .retain(|r| r.scalar.as_ref().is_none_or(|s| s.value > 1e-9));
    }

    /// An offer of `agent`: plenty of unreserved resources and everything reserved.
    pub(crate) fn offer(&self, id: &str, agent: &str) -> v1::Offer {
        let mut offer = offer(id, agent, 8.0, 4096.0);
        offer.resources.extend(self.reserved.iter().cloned());
        offer
    }
}

struct Accept {
    operations: Vec<v1::offer::Operation>,
    tasks: Vec<v1::TaskInfo>,
}

fn accepts(effects: &[Effect]) -> Vec<Accept> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Launch {
                operations, tasks, ..
            } => Some(Accept {
                operations: operations.clone(),
                tasks: tasks.clone(),
            }),
            _ => None,
        })
        .collect()
}

pub(crate) fn kinds(operations: &[v1::offer::Operation]) -> Vec<v1::offer::operation::Type> {
    operations
        .iter()
        .map(|o| v1::offer::operation::Type::try_from(o.r#type.unwrap()).unwrap())
        .collect()
}

pub(crate) fn label(r: &v1::Resource, key: &str) -> Option<String> {
    r.reservations
        .last()?
        .labels
        .as_ref()?
        .labels
        .iter()
        .find(|l| l.key == key)?
        .value
        .clone()
}

pub(crate) fn declined(effects: &[Effect]) -> bool {
    effects.iter().any(|e| matches!(e, Effect::Decline { .. }))
}

/// A harness with one resident app reserved on agent-1; returns its instance id.
fn reserved(h: &mut Harness, ledger: &mut Ledger) -> String {
    h.create(resident("/db", 1));
    let effects = h.step(Input::Offers(vec![ledger.offer("o-r", "agent-1")]));
    let accept = accepts(&effects).pop().expect("an ACCEPT");
    ledger.apply(&accept.operations);
    h.instances("/db")[0].id.clone()
}

#[test]
fn a_fresh_offer_is_answered_with_reserve_then_create_persisted_first() {
    let mut h = harness();
    h.create(resident("/db", 1));
    let effects = h.step(Input::Offers(vec![offer("o-1", "agent-1", 8.0, 4096.0)]));
    let instance = h.instances("/db").pop().unwrap();
    let launch_at = effects
        .iter()
        .position(|e| matches!(e, Effect::Launch { .. }))
        .expect("the offer is accepted");
    let persisted_at = effects
        .iter()
        .position(|e| matches!(e, Effect::Persist(drover_core::marathon::scheduler::Change::Instance(id)) if *id == instance.id))
        .expect("the reservation is persisted");
    assert!(persisted_at < launch_at, "persisted before the ACCEPT");
    let accept = accepts(&effects).pop().unwrap();
    assert!(
        accept.tasks.is_empty(),
        "the launch waits for the reservation"
    );
    use v1::offer::operation::Type;
    assert_eq!(kinds(&accept.operations), [Type::Reserve, Type::Create]);
    let reserve = &accept.operations[0].reserve.as_ref().unwrap().resources;
    let names: Vec<&str> = reserve.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["cpus", "mem", "disk", "ports"]);
    let disk: f64 = reserve
        .iter()
        .filter(|r| r.name == "disk")
        .map(|r| r.scalar.as_ref().unwrap().value)
        .sum();
    assert_eq!(disk, 15.0, "the sandbox disk and the volume's");
    for r in reserve {
        let info = &r.reservations[0];
        assert_eq!(r.reservations.len(), 1);
        assert_eq!(
            info.r#type,
            Some(v1::resource::reservation_info::Type::Dynamic as i32)
        );
        assert_eq!(info.role.as_deref(), Some("pg"));
        assert_eq!(label(r, "marathon_framework_id").as_deref(), Some("fw-1"));
        assert_eq!(
            label(r, "marathon_task_id").as_deref(),
            Some(instance.id.as_str())
        );
    }
    let volumes = &accept.operations[1].create.as_ref().unwrap().volumes;
    assert_eq!(volumes.len(), 1);
    let disk = volumes[0].disk.as_ref().unwrap();
    let id = &disk.persistence.as_ref().unwrap().id;
    assert!(id.starts_with("db#data#"), "{id}");
    assert_eq!(disk.volume.as_ref().unwrap().container_path, "data");
    assert_eq!(
        disk.volume.as_ref().unwrap().mode,
        v1::volume::Mode::Rw as i32
    );
    assert_eq!(volumes[0].reservations, reserve[0].reservations);
    let r = instance.reservation.expect("reserved");
    assert_eq!(r.agent_id, "agent-1");
    assert_eq!(r.state, ReservationState::New);
    assert_eq!(r.volumes[0].persistence_id, *id);
    assert_eq!(instance.condition, Condition::Scheduled);
}

#[test]
fn the_reserved_offer_launches_on_exactly_those_resources_and_nothing_elsewhere() {
    let mut h = harness();
    let mut ledger = Ledger::default();
    let id = reserved(&mut h, &mut ledger);
    // Another agent with plenty: the instance is pinned to agent-1.
    let effects = h.step(Input::Offers(vec![offer("o-2", "agent-2", 8.0, 4096.0)]));
    assert!(accepts(&effects).is_empty() && declined(&effects));
    let effects = h.step(Input::Offers(vec![ledger.offer("o-3", "agent-1")]));
    let accept = accepts(&effects).pop().expect("launched");
    assert!(accept.operations.is_empty());
    let task = &accept.tasks[0];
    assert_eq!(task.task_id.value, format!("{id}._app.1"));
    let mut used = task.resources.clone();
    let mut held = ledger.reserved.clone();
    let key = |r: &v1::Resource| format!("{r:?}");
    used.sort_by_key(key);
    held.sort_by_key(key);
    assert_eq!(used, held, "exactly the reserved resources and the volume");
    let i = &h.instances("/db")[0];
    assert_eq!(i.condition, Condition::Provisioned);
    assert_eq!(
        i.reservation.as_ref().unwrap().state,
        ReservationState::Launched
    );
    let port = ledger
        .reserved
        .iter()
        .find(|r| r.name == "ports")
        .and_then(|r| r.ranges.as_ref())
        .map(|r| r.range[0].begin as u32);
    assert_eq!(
        i.placement.as_ref().unwrap().host_ports,
        port.into_iter().collect::<Vec<_>>()
    );
}

#[test]
fn a_failed_task_is_relaunched_on_the_same_reservation_after_its_backoff() {
    let mut h = harness();
    let mut ledger = Ledger::default();
    let id = reserved(&mut h, &mut ledger);
    let tasks = accepts(&h.step(Input::Offers(vec![ledger.offer("o-1", "agent-1")])))
        .pop()
        .unwrap()
        .tasks;
    let volume = reservation::owner(&tasks[0].resources[0], "fw-1").map(str::to_owned);
    assert_eq!(volume.as_deref(), Some(id.as_str()));
    h.update(&tasks[0].task_id.value, TaskState::TaskRunning);
    h.update(&tasks[0].task_id.value, TaskState::TaskFailed);
    let instances = h.instances("/db");
    assert_eq!(instances.len(), 1, "no new instance: the same one waits");
    let i = &instances[0];
    assert_eq!(i.id, id);
    assert_eq!(i.condition, Condition::Scheduled);
    assert_eq!(i.incarnation, 2);
    assert_eq!(
        i.reservation.as_ref().unwrap().state,
        ReservationState::Suspended
    );
    // Inside the backoff nothing launches; elsewhere nothing ever does.
    let effects = h.step(Input::Offers(vec![ledger.offer("o-2", "agent-1")]));
    assert!(accepts(&effects).is_empty());
    h.advance(5_000);
    let effects = h.step(Input::Offers(vec![offer("o-3", "agent-2", 8.0, 4096.0)]));
    assert!(accepts(&effects).is_empty(), "never placed elsewhere");
    let accept = accepts(&h.step(Input::Offers(vec![ledger.offer("o-4", "agent-1")])))
        .pop()
        .expect("relaunched");
    assert_eq!(accept.tasks[0].task_id.value, format!("{id}._app.2"));
    let persistence = |t: &v1::TaskInfo| {
        t.resources
            .iter()
            .filter_map(|r| r.disk.as_ref()?.persistence.as_ref().map(|p| p.id.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(persistence(&accept.tasks[0]), persistence(&tasks[0]));
    assert_eq!(persistence(&tasks[0]).len(), 1);
}

#[test]
fn a_kill_without_wipe_relaunches_there_and_a_wipe_destroys_the_reservation() {
    let mut h = harness();
    let mut ledger = Ledger::default();
    let id = reserved(&mut h, &mut ledger);
    let task = accepts(&h.step(Input::Offers(vec![ledger.offer("o-1", "agent-1")])))
        .pop()
        .unwrap()
        .tasks
        .remove(0);
    h.update(&task.task_id.value, TaskState::TaskRunning);
    let app_id = PathId::parse_app_id("/db").unwrap();
    h.command(Command::KillTasks {
        target: KillTarget::Task {
            app_id: app_id.clone(),
            task_id: task.task_id.value.clone(),
        },
        scale: false,
        wipe: false,
        force: false,
    });
    h.update(&task.task_id.value, TaskState::TaskKilled);
    let accept = accepts(&h.step(Input::Offers(vec![ledger.offer("o-2", "agent-1")])))
        .pop()
        .expect("a kill does not grow the backoff: relaunched at once");
    assert_eq!(accept.tasks[0].task_id.value, format!("{id}._app.2"));
    let second = accept.tasks[0].task_id.value.clone();
    h.update(&second, TaskState::TaskRunning);
    h.command(Command::KillTasks {
        target: KillTarget::Task {
            app_id,
            task_id: second.clone(),
        },
        scale: false,
        wipe: true,
        force: false,
    });
    assert!(h.instances("/db").iter().all(|i| i.id != id), "wiped");
    h.update(&second, TaskState::TaskKilled);
    // A new instance takes its place; the old reservation goes when offered.
    let effects = h.step(Input::Offers(vec![ledger.offer("o-3", "agent-1")]));
    let accept = accepts(&effects).pop().unwrap();
    use v1::offer::operation::Type;
    assert_eq!(
        kinds(&accept.operations),
        [Type::Destroy, Type::Unreserve, Type::Reserve, Type::Create]
    );
    let destroyed = &accept.operations[0].destroy.as_ref().unwrap().volumes[0];
    assert_eq!(
        label(destroyed, "marathon_task_id").as_deref(),
        Some(id.as_str())
    );
    let unreserved = &accept.operations[1].unreserve.as_ref().unwrap().resources;
    assert!(
        unreserved
            .iter()
            .all(|r| label(r, "marathon_task_id").as_deref() == Some(id.as_str()))
    );
    ledger.apply(&accept.operations);
    assert!(
        ledger
            .reserved
            .iter()
            .all(|r| label(r, "marathon_task_id").as_deref() != Some(id.as_str())),
        "nothing of the wiped instance is left"
    );
}

#[test]
fn deleting_the_app_destroys_its_volumes_and_unreserves_its_resources() {
    let mut h = harness();
    let mut ledger = Ledger::default();
    reserved(&mut h, &mut ledger);
    let task = accepts(&h.step(Input::Offers(vec![ledger.offer("o-1", "agent-1")])))
        .pop()
        .unwrap()
        .tasks
        .remove(0);
    h.update(&task.task_id.value, TaskState::TaskRunning);
    let effects = h.step(Input::Command(Command::DeleteApp {
        app_id: PathId::parse_app_id("/db").unwrap(),
        force: false,
    }));
    assert_eq!(kills(&effects), std::slice::from_ref(&task.task_id.value));
    let effects = h.update(&task.task_id.value, TaskState::TaskKilled);
    assert!(h.instances("/db").is_empty());
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Suppress)),
        "offers stay wanted while a reservation is to be released"
    );
    // An offer of that agent made before the task ended holds no reservation yet: offers
    // are still wanted.
    let effects = h.step(Input::Offers(vec![offer("o-x", "agent-1", 1.0, 64.0)]));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Suppress)));
    let effects = h.step(Input::Offers(vec![ledger.offer("o-2", "agent-1")]));
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Suppress)),
        "and not once it is"
    );
    let accept = accepts(&effects)
        .pop()
        .expect("the reservation is released");
    use v1::offer::operation::Type;
    assert_eq!(kinds(&accept.operations), [Type::Destroy, Type::Unreserve]);
    assert!(accept.tasks.is_empty());
    ledger.apply(&accept.operations);
    assert!(ledger.reserved.is_empty(), "{:?}", ledger.reserved);
    // Nothing left to release: the next offer is declined.
    let effects = h.step(Input::Offers(vec![ledger.offer("o-3", "agent-1")]));
    assert!(accepts(&effects).is_empty() && declined(&effects));
}

#[test]
fn unknown_reservations_are_released_and_others_reserved_resources_never_used() {
    let mut h = harness();
    let labelled = |framework: &str, instance: &str| v1::Resource {
        name: "cpus".into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value: 4.0 }),
        reservations: vec![reservation::reservation_info(
            "pg", None, framework, instance,
        )],
        ..Default::default()
    };
    let mut volume = labelled("fw-1", "gone.instance-x");
    volume.name = "disk".into();
    volume.disk = Some(Box::new(v1::resource::DiskInfo {
        persistence: Some(v1::resource::disk_info::Persistence {
            id: "gone#data#x".into(),
            principal: None,
        }),
        volume: Some(v1::Volume {
            container_path: "data".into(),
            mode: v1::volume::Mode::Rw as i32,
            ..Default::default()
        }),
        source: None,
    }));
    // Only reserved resources: ours of an unknown instance, and another framework's.
    let mut o = offer("o-1", "agent-1", 0.0, 0.0);
    o.resources = vec![
        labelled("fw-1", "gone.instance-x"),
        volume,
        labelled("fw-other", "theirs.instance-y"),
    ];
    o.resources.push(v1::Resource {
        name: "mem".into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value: 4096.0 }),
        reservations: vec![reservation::reservation_info("pg", None, "fw-other", "t")],
        ..Default::default()
    });
    h.create(app("/plain", 1));
    let effects = h.step(Input::Offers(vec![o]));
    let accept = accepts(&effects)
        .pop()
        .expect("the unknown reservation is released");
    assert!(
        accept.tasks.is_empty(),
        "an ordinary app never takes reserved resources"
    );
    use v1::offer::operation::Type;
    assert_eq!(kinds(&accept.operations), [Type::Destroy, Type::Unreserve]);
    let touched: Vec<String> = accept
        .operations
        .iter()
        .flat_map(|op| {
            let d = op.destroy.iter().flat_map(|d| d.volumes.iter());
            let u = op.unreserve.iter().flat_map(|u| u.resources.iter());
            d.chain(u).collect::<Vec<_>>()
        })
        .filter_map(|r| label(r, "marathon_task_id"))
        .collect();
    assert!(!touched.is_empty());
    assert!(
        touched.iter().all(|t| t == "gone.instance-x"),
        "{touched:?}"
    );
}

#[test]
fn scale_down_stops_the_instance_and_keeps_its_reservation_for_the_scale_up() {
    let mut h = harness();
    let mut ledger = Ledger::default();
    let id = reserved(&mut h, &mut ledger);
    let task = accepts(&h.step(Input::Offers(vec![ledger.offer("o-1", "agent-1")])))
        .pop()
        .unwrap()
        .tasks
        .remove(0);
    h.update(&task.task_id.value, TaskState::TaskRunning);
    let mut down =
        h.s.app(&PathId::parse_app_id("/db").unwrap())
            .unwrap()
            .clone();
    down.instances = 0;
    let effects = h.step(Input::Command(Command::PutApp {
        app: down.clone(),
        force: false,
    }));
    assert_eq!(kills(&effects), std::slice::from_ref(&task.task_id.value));
    let effects = h.update(&task.task_id.value, TaskState::TaskKilled);
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Publish(ev) if format!("{ev:?}").contains("deployment_success") || format!("{ev:?}").contains("DeploymentSuccess"))),
        "the scale-down finishes with the instance kept"
    );
    let kept = h.instances("/db");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].goal, Goal::Stopped);
    assert!(kept[0].reservation.is_some());
    // Its reservation is offered: kept, not released, not launched.
    let effects = h.step(Input::Offers(vec![ledger.offer("o-2", "agent-1")]));
    assert!(accepts(&effects).is_empty() && declined(&effects));
    let mut up = down;
    up.instances = 1;
    h.command(Command::PutApp {
        app: up,
        force: false,
    });
    let instances = h.instances("/db");
    assert_eq!(instances.len(), 1, "the stopped instance is taken back");
    assert_eq!(instances[0].id, id);
    let accept = accepts(&h.step(Input::Offers(vec![ledger.offer("o-3", "agent-1")])))
        .pop()
        .expect("launched on its reservation");
    assert!(accept.operations.is_empty());
    assert_eq!(accept.tasks[0].task_id.value, format!("{id}._app.2"));
}

#[test]
fn an_unreachable_resident_instance_is_waited_for() {
    let mut h = harness();
    let mut ledger = Ledger::default();
    let id = reserved(&mut h, &mut ledger);
    let task = accepts(&h.step(Input::Offers(vec![ledger.offer("o-1", "agent-1")])))
        .pop()
        .unwrap()
        .tasks
        .remove(0);
    h.update(&task.task_id.value, TaskState::TaskRunning);
    h.update(&task.task_id.value, TaskState::TaskUnreachable);
    h.advance(24 * 3600 * 1000);
    let instances = h.instances("/db");
    assert_eq!(instances.len(), 1, "no replacement elsewhere");
    assert_eq!(instances[0].id, id);
    assert_eq!(instances[0].condition, Condition::Unreachable);
    let effects = h.step(Input::Offers(vec![offer("o-2", "agent-2", 8.0, 4096.0)]));
    assert!(accepts(&effects).is_empty());
}

#[test]
fn a_reservation_that_never_comes_back_is_made_again() {
    let mut h = harness();
    h.create(resident("/db", 1));
    // The first ACCEPT is lost: the master never reserved anything.
    let effects = h.step(Input::Offers(vec![offer("o-1", "agent-1", 8.0, 4096.0)]));
    assert_eq!(accepts(&effects).len(), 1);
    let effects = h.step(Input::Offers(vec![offer("o-2", "agent-2", 8.0, 4096.0)]));
    assert!(
        accepts(&effects).is_empty(),
        "within the reservation timeout it waits"
    );
    h.advance(reservation::RESERVATION_TIMEOUT_MS);
    let effects = h.step(Input::Offers(vec![offer("o-3", "agent-2", 8.0, 4096.0)]));
    let accept = accepts(&effects).pop().expect("reserved again");
    use v1::offer::operation::Type;
    assert_eq!(kinds(&accept.operations), [Type::Reserve, Type::Create]);
    let r = h.instances("/db")[0].reservation.clone().unwrap();
    assert_eq!(r.agent_id, "agent-2");
}

#[test]
fn the_reservation_outlives_a_scheduler_restart() {
    let mut h = harness();
    let mut ledger = Ledger::default();
    let id = reserved(&mut h, &mut ledger);
    let app_id = PathId::parse_app_id("/db").unwrap();
    let restored = Restored {
        framework_id: h.s.framework_id().map(str::to_owned),
        apps: vec![h.s.app(&app_id).unwrap().clone()],
        versions: h.s.versions(&app_id).cloned().collect(),
        instances: h.s.instances().values().cloned().collect(),
        ..Default::default()
    };
    let mut s = Scheduler::restore(config(), Box::new(SequentialIds(100)), restored);
    s.handle(
        h.now,
        Input::Subscribed {
            framework_id: "fw-1".into(),
        },
    );
    s.check_invariants();
    let effects = s.handle(h.now, Input::Offers(vec![ledger.offer("o-9", "agent-1")]));
    s.check_invariants();
    let accept = accepts(&effects)
        .pop()
        .expect("launched on the restored reservation");
    assert!(
        accept.operations.is_empty(),
        "no second reservation, nothing released"
    );
    assert_eq!(accept.tasks[0].task_id.value, format!("{id}._app.1"));
}

#[test]
fn resident_apps_are_validated_when_created_and_updated() {
    let mut h = harness();
    let mut bad = resident("/db", 1);
    bad.role = "*".into();
    let effects = h.step(Input::Command(Command::CreateApp {
        app: bad,
        force: false,
    }));
    let refused = effects.iter().any(|e| {
        matches!(e, Effect::Reply(Err(drover_core::marathon::scheduler::CommandError::Invalid(v))) if v.iter().any(|v| v.path == "/role"))
    });
    assert!(refused, "role * is refused by name");
    let mut other = resident("/db", 1);
    other.role = "other".into();
    let effects = h.step(Input::Command(Command::CreateApp {
        app: other,
        force: false,
    }));
    let refused = effects.iter().any(|e| {
        matches!(e, Effect::Reply(Err(drover_core::marathon::scheduler::CommandError::Invalid(v))) if v.iter().any(|v| v.path == "/role" && v.message.contains("--mesos_role 'pg'")))
    });
    assert!(
        refused,
        "a role other than the framework's is refused by name"
    );
    assert!(h.s.app(&PathId::parse_app_id("/db").unwrap()).is_none());
    h.create(resident("/db", 1));
    let mut more = resident("/db", 1);
    more.cpus = 1.0;
    let effects = h.step(Input::Command(Command::PutApp {
        app: more,
        force: false,
    }));
    let refused = effects.iter().any(|e| {
        matches!(e, Effect::Reply(Err(drover_core::marathon::scheduler::CommandError::Invalid(v))) if v.iter().any(|v| v.path == "/cpus"))
    });
    assert!(refused, "a resident app's resources do not change");
}

#[test]
fn a_restart_kills_first_and_relaunches_the_same_instance_on_its_reservation() {
    let mut h = harness();
    let mut ledger = Ledger::default();
    let id = reserved(&mut h, &mut ledger);
    let task = accepts(&h.step(Input::Offers(vec![ledger.offer("o-1", "agent-1")])))
        .pop()
        .unwrap()
        .tasks
        .remove(0);
    h.update(&task.task_id.value, TaskState::TaskRunning);
    assert!(h.s.deployments().is_empty());
    let effects = h.step(Input::Command(Command::RestartApp {
        app_id: PathId::parse_app_id("/db").unwrap(),
        force: false,
    }));
    // No instance over capacity (that would need a second set of volumes): the old one is
    // killed first.
    assert_eq!(kills(&effects), std::slice::from_ref(&task.task_id.value));
    assert_eq!(h.instances("/db").len(), 1);
    h.update(&task.task_id.value, TaskState::TaskKilled);
    let instances = h.instances("/db");
    assert_eq!(instances.len(), 1);
    assert_eq!(
        instances[0].id, id,
        "the new version takes over the reservation"
    );
    assert_eq!(instances[0].goal, Goal::Running);
    let accept = accepts(&h.step(Input::Offers(vec![ledger.offer("o-2", "agent-1")])))
        .pop()
        .expect("relaunched on the reservation");
    assert!(accept.operations.is_empty(), "no new reservation");
    let relaunched = &accept.tasks[0].task_id.value;
    assert_eq!(*relaunched, format!("{id}._app.2"));
    let effects = h.update(relaunched, TaskState::TaskRunning);
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Publish(ev) if format!("{ev:?}").contains("DeploymentSuccess") || format!("{ev:?}").contains("deployment_success"))),
        "the restart finishes"
    );
    assert!(h.s.deployments().is_empty());
}
