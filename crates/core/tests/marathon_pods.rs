//! Pods in the scheduler: one LAUNCH_GROUP per instance, the instance's condition from its
//! tasks, and seed 2's reactions for pod instances (expunge and replace, unreachable →
//! replacement, 15 min → Unknown → expunge), deployments (start, scale, restart) and kills.

use crate::marathon_support;

use std::collections::BTreeMap;

use drover_core::marathon::app::AppSpec;
use drover_core::marathon::condition::Condition;
use drover_core::marathon::path::PathId;
use drover_core::marathon::pod::{
    self, PodCommand, PodContainer, PodEndpoint, PodExec, PodHealthCheck, PodProbe, PodResources,
    PodSpec,
};
use drover_core::marathon::scheduler::{Command, Effect, Input};
use drover_core::task::{Reason, TaskState};
use drover_wire::v1;
use marathon_support::*;

fn container(name: &str) -> PodContainer {
    PodContainer {
        name: name.into(),
        resources: PodResources {
            cpus: 0.1,
            mem: 32.0,
            disk: 0.0,
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
        volume_mounts: Vec::new(),
        environment: BTreeMap::new(),
        env_secrets: BTreeMap::new(),
        labels: BTreeMap::new(),
        user: None,
        kill_grace_period_seconds: None,
        tty: false,
    }
}

/// Two containers; `web` has an endpoint with a dynamic host port and, if asked, an HTTP
/// health check on it.
fn web_pod(id: &str, instances: u32, checked: bool) -> AppSpec {
    let mut web = container("web");
    web.endpoints.push(PodEndpoint {
        name: "http".into(),
        container_port: None,
        host_port: Some(0),
        protocol: vec!["http".into()],
        labels: BTreeMap::new(),
    });
    if checked {
        web.health_check = Some(PodHealthCheck {
            probe: PodProbe::Http {
                endpoint: "http".into(),
                path: Some("/".into()),
                scheme: "HTTP".into(),
            },
            grace_period_seconds: 30,
            interval_seconds: 2,
            max_consecutive_failures: 3,
            timeout_seconds: 1,
            delay_seconds: 0,
        });
    }
    let spec = PodSpec {
        containers: vec![web, container("sidecar")],
        volumes: Vec::new(),
        networks: Vec::new(),
        executor_resources: PodResources::EXECUTOR_DEFAULT,
        legacy_shared_cgroups: false,
    };
    let mut app = pod::carrier(PathId::parse_app_id(id).unwrap(), spec);
    app.instances = instances;
    app
}

/// Offers one agent; returns the task groups launched.
fn offer_groups(h: &mut Harness, agent: &str) -> Vec<v1::offer::operation::LaunchGroup> {
    let offer = offer(&format!("o-{}-{}", agent, h.now), agent, 64.0, 65536.0);
    h.step(Input::Offers(vec![offer]))
        .into_iter()
        .filter_map(|e| match e {
            Effect::Launch { tasks, groups, .. } => {
                assert!(tasks.is_empty(), "pods launch only groups");
                Some(groups)
            }
            _ => None,
        })
        .flatten()
        .collect()
}

fn task_ids(group: &v1::offer::operation::LaunchGroup) -> Vec<String> {
    group
        .task_group
        .tasks
        .iter()
        .map(|t| t.task_id.value.clone())
        .collect()
}

fn healthy_update(task_id: &str, healthy: bool) -> Input {
    let mut s = status(task_id, TaskState::TaskRunning, None, None);
    s.healthy = Some(healthy);
    s.reason = Some(Reason::TaskHealthCheckStatusUpdated as i32);
    Input::Update(s)
}

#[test]
fn an_instance_is_one_launch_group_and_runs_when_every_container_runs() {
    let mut h = Harness::new();
    h.create(web_pod("/pod", 1, false));
    let groups = offer_groups(&mut h, "agent-1");
    assert_eq!(groups.len(), 1);
    let group = &groups[0];
    assert_eq!(
        group.executor.r#type,
        Some(v1::executor_info::Type::Default as i32)
    );
    let instance = h.instances("/pod")[0].id.clone();
    let ids = task_ids(group);
    assert_eq!(
        ids,
        [format!("{instance}.web.1"), format!("{instance}.sidecar.1")]
    );
    assert_eq!(
        group
            .executor
            .framework_id
            .as_ref()
            .map(|f| f.value.as_str()),
        Some("fw-1")
    );
    assert_eq!(h.conditions("/pod"), [Condition::Provisioned]);
    h.update(&ids[0], TaskState::TaskRunning);
    assert_eq!(
        h.conditions("/pod"),
        [Condition::Provisioned],
        "one container still has no status"
    );
    h.update(&ids[1], TaskState::TaskStarting);
    assert_eq!(h.conditions("/pod"), [Condition::Starting]);
    h.update(&ids[1], TaskState::TaskRunning);
    assert_eq!(h.conditions("/pod"), [Condition::Running]);
    assert!(
        h.s.deployments().is_empty(),
        "the start deployment finished"
    );
    // A reconciliation names both tasks.
    h.step(Input::Disconnected);
    let effects = h.step(Input::Subscribed {
        framework_id: "fw-1".into(),
    });
    let named: Vec<String> = effects
        .iter()
        .find_map(|e| match e {
            Effect::Reconcile { tasks } => Some(tasks.iter().map(|(t, _)| t.clone()).collect()),
            _ => None,
        })
        .expect("a reconciliation");
    assert_eq!(named, ids);
}

#[test]
fn a_failed_container_fails_the_instance_which_is_expunged_and_replaced() {
    let mut h = Harness::new();
    h.create(web_pod("/pod", 1, false));
    let ids = task_ids(&offer_groups(&mut h, "agent-1")[0]);
    for id in &ids {
        h.update(id, TaskState::TaskRunning);
    }
    let old = h.instances("/pod")[0].id.clone();
    let effects = h.update(&ids[1], TaskState::TaskFailed);
    // The instance is gone, its other container is killed, a new instance waits for an offer.
    assert_eq!(kills(&effects), [ids[0].clone()]);
    let now: Vec<_> = h.instances("/pod");
    assert_eq!(now.len(), 1);
    assert_ne!(now[0].id, old);
    assert_eq!(now[0].condition, Condition::Scheduled);
    let failure =
        h.s.last_failure(&PathId::parse_app_id("/pod").unwrap())
            .expect("lastTaskFailure");
    assert_eq!(failure.task_id, ids[1]);
    // The killed container's late update is of an unknown instance: forgotten.
    let effects = h.update(&ids[0], TaskState::TaskKilled);
    assert!(kills(&effects).is_empty());
    // After the backoff the replacement launches as a new group.
    h.advance(1_500);
    let groups = offer_groups(&mut h, "agent-1");
    assert_eq!(groups.len(), 1);
    assert!(task_ids(&groups[0])[0].starts_with(&now[0].id));
}

#[test]
fn an_unreachable_container_starts_a_replacement_and_expires_after_15_minutes() {
    let mut h = Harness::new();
    h.create(web_pod("/pod", 1, false));
    let ids = task_ids(&offer_groups(&mut h, "agent-1")[0]);
    for id in &ids {
        h.update(id, TaskState::TaskRunning);
    }
    h.update(&ids[0], TaskState::TaskUnreachable);
    let mut conditions = h.conditions("/pod");
    conditions.sort();
    assert_eq!(
        conditions,
        [Condition::Scheduled, Condition::UnreachableInactive],
        "the unreachable instance stops counting at once: a replacement is scheduled"
    );
    h.advance(15 * 60 * 1000);
    assert_eq!(
        h.conditions("/pod"),
        [Condition::Scheduled],
        "15 minutes later the unreachable instance is Unknown and expunged"
    );
}

#[test]
fn deployments_wait_for_health_and_a_new_version_restarts_every_instance() {
    let mut h = Harness::new();
    h.create(web_pod("/pod", 2, true));
    let groups = offer_groups(&mut h, "agent-1");
    assert_eq!(groups.len(), 2);
    let all: Vec<String> = groups.iter().flat_map(task_ids).collect();
    for id in &all {
        h.update(id, TaskState::TaskRunning);
    }
    assert_eq!(h.s.deployments().len(), 1, "not healthy yet");
    for id in all.iter().filter(|id| id.contains(".web.")) {
        h.step(healthy_update(id, true));
    }
    assert!(h.s.deployments().is_empty(), "every instance healthy");
    // Scale to 3: one more group.
    let mut scaled = web_pod("/pod", 3, true);
    scaled.version_ms = 0;
    h.command(Command::PutApp {
        app: scaled,
        force: false,
    });
    let more = offer_groups(&mut h, "agent-1");
    assert_eq!(more.len(), 1);
    for id in task_ids(&more[0]) {
        h.update(&id, TaskState::TaskRunning);
        h.step(healthy_update(&id, true));
    }
    assert!(h.s.deployments().is_empty());
    // A new version (another command) replaces all three, rolling.
    let mut changed = web_pod("/pod", 3, true);
    changed.pod.as_mut().unwrap().containers[1].exec = Some(PodExec {
        command: PodCommand::Shell("sleep 2000".into()),
        override_entrypoint: None,
    });
    let old: Vec<String> = h.instances("/pod").iter().map(|i| i.id.clone()).collect();
    h.command(Command::PutApp {
        app: changed,
        force: false,
    });
    for _ in 0..10 {
        for group in offer_groups(&mut h, "agent-1") {
            for id in task_ids(&group) {
                h.update(&id, TaskState::TaskRunning);
                h.step(healthy_update(&id, true));
            }
        }
        // Old instances killed by the restart report their tasks killed.
        for effect in h.log.clone() {
            if let Effect::Kill { task_id, .. } = effect {
                h.update(&task_id, TaskState::TaskKilled);
            }
        }
        h.log.clear();
        if h.s.deployments().is_empty() {
            break;
        }
    }
    assert!(h.s.deployments().is_empty(), "the restart finished");
    let now = h.instances("/pod");
    assert_eq!(now.len(), 3);
    assert!(now.iter().all(|i| !old.contains(&i.id)));
    assert!(now.iter().all(|i| i.condition == Condition::Running));
}

#[test]
fn scaling_down_kills_every_task_of_the_instance() {
    let mut h = Harness::new();
    h.create(web_pod("/pod", 1, false));
    let ids = task_ids(&offer_groups(&mut h, "agent-1")[0]);
    for id in &ids {
        h.update(id, TaskState::TaskRunning);
    }
    let effects = h.step(Input::Command(Command::PutApp {
        app: web_pod("/pod", 0, false),
        force: false,
    }));
    assert_kills(&effects, &ids);
    h.update(&ids[0], TaskState::TaskKilled);
    assert_eq!(h.conditions("/pod"), [Condition::Running], "one still runs");
    h.update(&ids[1], TaskState::TaskKilled);
    assert!(h.instances("/pod").is_empty());
    assert!(h.s.deployments().is_empty());
}

/// Seed 2, line by line, for a pod instance: every terminal state of one container ends the
/// instance (its other container is killed) and a new instance replaces it; the app's launch
/// delay grows for failures only. TASK_KILLED of one container leaves the instance to its
/// other container (Marathon's order: a killed task defers to the others).
#[test]
fn every_terminal_state_of_a_container_replaces_the_pod_instance() {
    use TaskState::*;
    let cases: [(TaskState, Option<Reason>, Condition, bool); 9] = [
        (TaskError, None, Condition::Error, true),
        (TaskFailed, None, Condition::Failed, true),
        (TaskDropped, None, Condition::Dropped, true),
        (TaskGone, None, Condition::Gone, true),
        (TaskGoneByOperator, None, Condition::Gone, true),
        (TaskFinished, None, Condition::Finished, false),
        (TaskUnknown, None, Condition::Unknown, true),
        (
            TaskLost,
            Some(Reason::ContainerLimitationMemory),
            Condition::Gone,
            true,
        ),
        (TaskKilled, None, Condition::Killed, false),
    ];
    for (state, reason, condition, ends) in cases {
        let mut h = Harness::new();
        h.create(web_pod("/pod", 1, false));
        let ids = task_ids(&offer_groups(&mut h, "agent-1")[0]);
        for id in &ids {
            h.update(id, TaskState::TaskRunning);
        }
        let old = h.instances("/pod")[0].id.clone();
        let effects = h.update_with(&ids[0], state, reason, Some("gone"));
        let now = h.instances("/pod");
        let logged: Vec<Condition> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Log(l) => Some(l.condition),
                _ => None,
            })
            .collect();
        assert_eq!(logged, [condition], "{state:?}: seed 2's condition");
        if ends {
            assert_eq!(
                kills(&effects),
                [ids[1].clone()],
                "{state:?}: the other killed"
            );
            assert_eq!(now.len(), 1, "{state:?}");
            assert_ne!(now[0].id, old, "{state:?}: a new instance");
            assert_eq!(now[0].condition, Condition::Scheduled, "{state:?}");
        } else if state == TaskFinished {
            // A finished container leaves the instance running on its other one.
            assert_eq!(now[0].id, old, "{state:?}");
            assert_eq!(now[0].condition, Condition::Running, "{state:?}");
        } else {
            assert_eq!(now[0].id, old, "{state:?}");
            assert_eq!(now[0].condition, Condition::Running, "{state:?}");
            // The default executor kills the rest of the group: then the instance is over.
            let effects = h.update(&ids[1], TaskState::TaskKilled);
            assert!(kills(&effects).is_empty());
            let now = h.instances("/pod");
            assert_eq!(now.len(), 1);
            assert_ne!(now[0].id, old, "all killed: replaced");
        }
    }
}
