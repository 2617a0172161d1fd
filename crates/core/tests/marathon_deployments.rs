//! Deployments through `Scheduler::handle`: create, scale, rolling restart under
//! `upgradeStrategy`, delete, conflicts and cancellation; plus placement constraints and ports.

use crate::marathon_support;

use drover_core::marathon::condition::Condition;
use drover_core::marathon::constraint::Constraint;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Command, CommandError, Effect, Input, Reply};
use drover_core::task::TaskState;
use marathon_support::*;

fn id(s: &str) -> PathId {
    PathId::parse_app_id(s).unwrap()
}

#[test]
fn create_emits_deployment_events_and_finishes_when_running() {
    let mut h = Harness::new();
    let effects = h.step(Input::Command(Command::CreateApp {
        app: app("/web", 2),
        force: false,
    }));
    assert!(event_types(&effects).contains(&"deployment_info"));
    assert!(effects.iter().any(|e| matches!(e, Effect::Revive)));
    let plan = h.s.deployments()[0].clone();
    assert_eq!(
        plan.steps.len(),
        2,
        "StartApplication then ScaleApplication"
    );
    let tasks = h.offer("agent-1");
    assert_eq!(tasks.len(), 2);
    let env: Vec<String> = tasks[0]
        .command
        .as_ref()
        .unwrap()
        .environment
        .as_ref()
        .unwrap()
        .variables
        .iter()
        .map(|v| v.name.clone())
        .collect();
    for name in ["PORT0", "PORTS", "HOST", "MARATHON_APP_ID", "PORT"] {
        assert!(env.contains(&name.to_owned()), "{name} in {env:?}");
    }
    h.update(&tasks[0].task_id.value, TaskState::TaskRunning);
    assert_eq!(h.s.deployments().len(), 1);
    let effects = h.update(&tasks[1].task_id.value, TaskState::TaskRunning);
    assert!(event_types(&effects).contains(&"deployment_success"));
    assert!(h.s.deployments().is_empty());
}

#[test]
fn conflicting_deployment_is_refused_unless_forced() {
    let mut h = Harness::new();
    h.create(app("/web", 2));
    let effects = h.step(Input::Command(Command::CreateApp {
        app: app("/web", 1),
        force: false,
    }));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Reply(Err(CommandError::AlreadyExists(_)))))
    );
    let mut update = app("/web", 3);
    update.cmd = Some("sleep 5".into());
    let effects = h.step(Input::Command(Command::PutApp {
        app: update.clone(),
        force: false,
    }));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Reply(Err(CommandError::Locked(_)))))
    );
    let effects = h.step(Input::Command(Command::PutApp {
        app: update,
        force: true,
    }));
    assert!(event_types(&effects).contains(&"deployment_failed"));
    assert_eq!(h.s.deployments().len(), 1);
}

#[test]
fn rolling_restart_keeps_minimum_health_capacity() {
    let mut h = Harness::new();
    let mut spec = app("/web", 3);
    spec.upgrade_strategy.minimum_health_capacity = 1.0;
    spec.upgrade_strategy.maximum_over_capacity = 0.0;
    h.create(spec);
    let old = h.run_all("agent-1");
    assert_eq!(old.len(), 3);
    h.command(Command::RestartApp {
        app_id: id("/web"),
        force: false,
    });
    // min healthy 3 = max capacity 3 → one extra instance at a time.
    let mut rounds = 0;
    while !h.s.deployments().is_empty() {
        rounds += 1;
        assert!(rounds < 10, "restart converges");
        let running = h
            .instances("/web")
            .iter()
            .filter(|i| {
                i.condition == Condition::Running
                    && i.goal == drover_core::marathon::condition::Goal::Running
            })
            .count();
        assert!(running >= 3, "never below minimum health capacity");
        let launched = h.offer("agent-1");
        assert!(launched.len() <= 1, "at most one over capacity");
        for t in &launched {
            let effects = h.update(&t.task_id.value, TaskState::TaskRunning);
            for k in kills(&effects) {
                h.update(&k, TaskState::TaskKilled);
            }
        }
    }
    let ids: Vec<String> = h.instances("/web").iter().map(|i| i.task_id()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|i| !old.contains(i)), "all replaced");
}

#[test]
fn delete_kills_everything_and_terminates_the_app() {
    let mut h = Harness::new();
    h.create(app("/web", 2));
    let tasks = h.run_all("agent-1");
    let effects = h.step(Input::Command(Command::DeleteApp {
        app_id: id("/web"),
        force: false,
    }));
    assert_kills(&effects, &tasks);
    assert!(h.s.app(&id("/web")).is_none());
    h.update(&tasks[0], TaskState::TaskKilled);
    let effects = h.update(&tasks[1], TaskState::TaskKilled);
    assert!(event_types(&effects).contains(&"app_terminated_event"));
    assert!(h.s.deployments().is_empty());
}

#[test]
fn kill_with_scale_lowers_instances_and_without_scale_replaces() {
    let mut h = Harness::new();
    h.create(app("/web", 3));
    let tasks = h.run_all("agent-1");
    let reply = h.command(Command::KillTasks {
        target: drover_core::marathon::scheduler::commands_target(&tasks[0]),
        scale: true,
        wipe: false,
        force: false,
    });
    assert!(matches!(reply, Reply::Deployment { .. }));
    assert_eq!(h.s.app(&id("/web")).unwrap().instances, 2);
    h.update(&tasks[0], TaskState::TaskKilled);
    assert_eq!(h.instances("/web").len(), 2);
    let reply = h.command(Command::KillTasks {
        target: drover_core::marathon::scheduler::commands_target(&tasks[1]),
        scale: false,
        wipe: false,
        force: false,
    });
    assert!(matches!(reply, Reply::Killed(ref k) if k.len() == 1));
    h.update(&tasks[1], TaskState::TaskKilled);
    assert_eq!(
        h.conditions("/web"),
        [Condition::Scheduled, Condition::Running]
    );
}

#[test]
fn cancel_reverts_and_force_cancel_just_stops() {
    let mut h = Harness::new();
    h.create(app("/web", 2));
    let plan = h.s.deployments()[0].id.clone();
    let reply = h.command(Command::CancelDeployment {
        id: plan,
        force: false,
    });
    assert!(matches!(reply, Reply::Deployment { .. }));
    assert!(
        h.s.app(&id("/web")).is_none(),
        "revert of a create removes the app"
    );
    h.create(app("/other", 1));
    let plan = h.s.deployments().last().unwrap().id.clone();
    assert!(matches!(
        h.command(Command::CancelDeployment {
            id: plan,
            force: true
        }),
        Reply::Done
    ));
    assert!(h.s.app(&id("/other")).is_some());
}

#[test]
fn unique_hostname_constraint_spreads_instances() {
    let mut h = Harness::new();
    let mut spec = app("/web", 2);
    spec.constraints = vec![Constraint::parse(&["hostname".into(), "UNIQUE".into()]).unwrap()];
    h.create(spec);
    assert_eq!(h.offer("agent-1").len(), 1);
    assert_eq!(h.offer("agent-1").len(), 0);
    assert_eq!(h.offer("agent-2").len(), 1);
    let queue = h.s.queue(h.now);
    assert!(queue.is_empty());
}

#[test]
fn insufficient_resources_are_explained_in_the_queue() {
    let mut h = Harness::new();
    let mut spec = app("/big", 1);
    spec.mem = 1_000_000.0;
    h.create(spec);
    assert!(h.offer_sized("agent-1", 1.0, 100.0).is_empty());
    let queue = h.s.queue(h.now);
    assert_eq!(queue.len(), 1);
    assert!(
        queue[0].reason.contains("InsufficientMemory"),
        "{}",
        queue[0].reason
    );
    let waiting = &h.s.deployments()[0].waiting;
    assert!(
        waiting.values().any(|w| w.contains("InsufficientMemory")),
        "{waiting:?}"
    );
}
