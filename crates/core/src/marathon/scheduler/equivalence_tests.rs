//! Property test of the incremental scheduler: converging only the touched apps and running
//! only the due timers gives the same effects and state, step for step, as converging every
//! app and checking every instance's timers on each input (the scheduler before the indexes).

use proptest::prelude::*;

use drover_wire::v1;

use super::{Command, Config, Input, KillTarget, Scheduler, SequentialIds};
use crate::marathon::app::{AppSpec, HealthCheck, HealthProtocol, KillSelection, UpgradeStrategy};
use crate::marathon::constraint::Constraint;
use crate::marathon::path::PathId;
use crate::marathon::unreachable::UnreachableStrategy;
use crate::task::{Reason, TaskState};

const T0: u64 = 1_600_000_000_000;
const APPS: [&str; 5] = ["/a", "/b", "/g/c", "/a.x", "/z"];

#[derive(Debug, Clone)]
enum Op {
    Put {
        app: usize,
        instances: u32,
        variant: u8,
    },
    Delete {
        app: usize,
        force: bool,
    },
    Restart {
        app: usize,
        force: bool,
    },
    KillTask {
        pick: usize,
        scale: bool,
        wipe: bool,
    },
    KillApp {
        app: usize,
        scale: bool,
    },
    ResetDelay {
        app: usize,
    },
    Cancel {
        pick: usize,
        force: bool,
    },
    Offer {
        agents: Vec<u8>,
        cpus: u8,
    },
    Update {
        pick: usize,
        state: u8,
        healthy: u8,
        stale: bool,
    },
    Health {
        pick: usize,
        alive: bool,
    },
    Advance {
        ms: u64,
    },
    Subscribe,
    Disconnect,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..APPS.len(), 0u32..5, any::<u8>())
            .prop_map(|(app, instances, variant)| Op::Put { app, instances, variant }),
        1 => (0..APPS.len(), any::<bool>()).prop_map(|(app, force)| Op::Delete { app, force }),
        1 => (0..APPS.len(), any::<bool>()).prop_map(|(app, force)| Op::Restart { app, force }),
        1 => (any::<usize>(), any::<bool>(), any::<bool>())
            .prop_map(|(pick, scale, wipe)| Op::KillTask { pick, scale, wipe }),
        1 => (0..APPS.len(), any::<bool>()).prop_map(|(app, scale)| Op::KillApp { app, scale }),
        1 => (0..APPS.len()).prop_map(|app| Op::ResetDelay { app }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, force)| Op::Cancel { pick, force }),
        4 => (proptest::collection::vec(0u8..4, 1..3), 0u8..6)
            .prop_map(|(agents, cpus)| Op::Offer { agents, cpus }),
        8 => (any::<usize>(), 0u8..16, 0u8..3, proptest::bool::weighted(0.1))
            .prop_map(|(pick, state, healthy, stale)| Op::Update { pick, state, healthy, stale }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, alive)| Op::Health { pick, alive }),
        3 => prop_oneof![
            Just(1u64), Just(1_000), Just(5_000), Just(31_000), Just(61_000), Just(301_000),
            Just(901_000), 1u64..70_000
        ]
        .prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Subscribe),
        1 => Just(Op::Disconnect),
    ]
}

fn app(index: usize, instances: u32, variant: u8) -> AppSpec {
    let mut app = AppSpec::new(PathId::parse_app_id(APPS[index]).unwrap());
    app.cmd = Some(format!("sleep {}", 1000 + u32::from(variant >> 4 & 1)));
    app.cpus = 1.0;
    app.mem = 16.0;
    app.instances = instances;
    if variant & 1 != 0 {
        let mut check = HealthCheck::new(HealthProtocol::Http);
        check.grace_period_seconds = 0;
        check.max_consecutive_failures = 1;
        app.health_checks.push(check);
    }
    if variant & 2 != 0 {
        app.constraints
            .push(Constraint::parse(&["hostname".into(), "UNIQUE".into()]).unwrap());
    }
    app.unreachable_strategy = match variant >> 2 & 3 {
        0 => UnreachableStrategy::default(),
        1 => UnreachableStrategy::Enabled {
            inactive_after_seconds: 0,
            expunge_after_seconds: 5,
        },
        2 => UnreachableStrategy::Enabled {
            inactive_after_seconds: 10,
            expunge_after_seconds: 60,
        },
        _ => UnreachableStrategy::Disabled,
    };
    if variant & 32 != 0 {
        app.upgrade_strategy = UpgradeStrategy {
            minimum_health_capacity: 0.5,
            maximum_over_capacity: 0.0,
        };
    }
    if variant & 64 != 0 {
        app.kill_selection = KillSelection::OldestFirst;
    }
    app
}

fn offer(seq: u64, agent: u8, cpus: u8) -> v1::Offer {
    v1::Offer {
        id: v1::OfferId {
            value: format!("o-{seq}"),
        },
        framework_id: v1::FrameworkId {
            value: "fw-1".into(),
        },
        agent_id: v1::AgentId {
            value: format!("agent-{agent}"),
        },
        hostname: format!("agent-{agent}.example"),
        resources: crate::resources::parse(&format!(
            "cpus:{cpus};mem:4096;disk:1000;ports:[31000-32000]"
        ))
        .expect("valid resources"),
        ..Default::default()
    }
}

fn status(task_id: String, state: u8, healthy: u8) -> v1::TaskStatus {
    let (state, reason) = match state {
        0 => (TaskState::TaskStaging, None),
        1 => (TaskState::TaskStarting, None),
        2..=4 => (TaskState::TaskRunning, None),
        5 => (TaskState::TaskFinished, None),
        6 => (TaskState::TaskFailed, None),
        7 => (TaskState::TaskKilled, None),
        8 => (TaskState::TaskLost, Some(Reason::AgentDisconnected)),
        9 => (TaskState::TaskUnreachable, None),
        10 => (TaskState::TaskGone, None),
        11 => (TaskState::TaskError, None),
        12 => (TaskState::TaskDropped, None),
        13 => (TaskState::TaskKilling, None),
        14 => (TaskState::TaskUnknown, None),
        _ => (TaskState::TaskLost, None),
    };
    v1::TaskStatus {
        task_id: v1::TaskId { value: task_id },
        state: state as i32,
        reason: reason.map(|r| r as i32),
        agent_id: Some(v1::AgentId {
            value: "agent-0".into(),
        }),
        uuid: Some(vec![1]),
        healthy: match healthy {
            0 => None,
            1 => Some(true),
            _ => Some(false),
        },
        ..Default::default()
    }
}

/// The input an op stands for, given the current state.
fn input(s: &Scheduler, op: &Op, seq: u64) -> Input {
    // Statuses and health results only for launched tasks, as Mesos sends them (a status for
    // a task never launched would break the core's own invariants, in both modes).
    let ids: Vec<&str> = s
        .instances()
        .values()
        .filter(|i| i.placement.is_some())
        .map(|i| i.id.as_str())
        .collect();
    let pick = |n: usize| (!ids.is_empty()).then(|| ids[n % ids.len()]);
    let path = |i: usize| PathId::parse_app_id(APPS[i]).unwrap();
    match op.clone() {
        Op::Put {
            app: i,
            instances,
            variant,
        } => Input::Command(Command::PutApp {
            app: app(i, instances, variant),
            force: variant & 128 != 0,
        }),
        Op::Delete { app, force } => Input::Command(Command::DeleteApp {
            app_id: path(app),
            force,
        }),
        Op::Restart { app, force } => Input::Command(Command::RestartApp {
            app_id: path(app),
            force,
        }),
        Op::KillTask {
            pick: n,
            scale,
            wipe,
        } => {
            let task = pick(n).map_or("nope.instance-x._app.1".to_owned(), |id| {
                s.instances()[id].task_id()
            });
            Input::Command(Command::KillTasks {
                target: KillTarget::Tasks(vec![task]),
                scale,
                wipe,
                force: true,
            })
        }
        Op::KillApp { app, scale } => Input::Command(Command::KillTasks {
            target: KillTarget::App {
                app_id: path(app),
                host: None,
            },
            scale,
            wipe: false,
            force: false,
        }),
        Op::ResetDelay { app } => Input::Command(Command::ResetDelay { app_id: path(app) }),
        Op::Cancel { pick, force } => {
            let deployments = s.deployments();
            let id = if deployments.is_empty() {
                "none".to_owned()
            } else {
                deployments[pick % deployments.len()].id.clone()
            };
            Input::Command(Command::CancelDeployment { id, force })
        }
        Op::Offer { agents, cpus } => Input::Offers(
            agents
                .iter()
                .enumerate()
                .map(|(k, a)| offer(seq * 10 + k as u64, *a, cpus))
                .collect(),
        ),
        Op::Update {
            pick: n,
            state,
            healthy,
            stale,
        } => {
            let task = pick(n).map_or("nope.instance-x._app.1".to_owned(), |id| {
                let i = &s.instances()[id];
                if stale {
                    format!("{}._app.{}", i.id, i.incarnation + 1)
                } else {
                    i.task_id()
                }
            });
            Input::Update(status(task, state, healthy))
        }
        Op::Health { pick: n, alive } => Input::HealthResult {
            instance_id: pick(n).unwrap_or("nope").to_owned(),
            check_index: 0,
            alive,
            cause: (!alive).then(|| "down".to_owned()),
        },
        Op::Advance { .. } => Input::Tick,
        Op::Subscribe => Input::Subscribed {
            framework_id: "fw-1".into(),
        },
        Op::Disconnect => Input::Disconnected,
    }
}

fn scheduler(full_scan: bool) -> Scheduler {
    let mut s = Scheduler::new(Config::default(), Box::new(SequentialIds::default()));
    s.set_full_scan(full_scan);
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn incremental_convergence_matches_full_scan(ops in proptest::collection::vec(op(), 1..120)) {
        let mut incremental = scheduler(false);
        let mut reference = scheduler(true);
        let mut now = T0;
        let subscribe = Input::Subscribed { framework_id: "fw-1".into() };
        incremental.handle(now, subscribe.clone());
        reference.handle(now, subscribe);
        for (seq, op) in ops.iter().enumerate() {
            if let Op::Advance { ms } = op {
                now += ms;
            }
            let input = input(&reference, op, seq as u64);
            let got = incremental.handle(now, input.clone());
            let want = reference.handle(now, input);
            prop_assert_eq!(format!("{got:?}"), format!("{want:?}"), "effects of {:?}", op);
            incremental.check_invariants();
            reference.check_invariants();
            prop_assert_eq!(incremental.instances(), reference.instances());
            prop_assert_eq!(incremental.deployments(), reference.deployments());
            prop_assert_eq!(incremental.queue(now), reference.queue(now));
            prop_assert_eq!(incremental.next_deadline(), reference.next_deadline());
        }
    }
}
