//! Readiness checks gate deployments: a new instance counts only once Marathon's own probe of
//! its endpoint answered with a ready status, so a rolling upgrade kills no old instance
//! before its replacement is ready.

use crate::marathon_support;

use drover_core::marathon::readiness::{Probe, ProbeOutcome, ReadinessCheck};
use drover_core::marathon::scheduler::{Command, Effect, Input};
use drover_core::task::TaskState;
use marathon_support::*;

fn probes(effects: &[Effect]) -> Vec<Probe> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ReadinessProbe(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn answer(status: u16) -> ProbeOutcome {
    ProbeOutcome::Response {
        status,
        content_type: Some("text/plain".into()),
        body: format!("status {status}"),
    }
}

fn web() -> drover_core::marathon::app::AppSpec {
    let mut spec = app("/web", 1);
    spec.port_definitions[0].name = Some("http".into());
    spec.readiness_checks = vec![ReadinessCheck {
        port_name: "http".into(),
        path: "/ready".into(),
        interval_seconds: 2,
        timeout_seconds: 1,
        preserve_last_response: true,
        ..ReadinessCheck::default()
    }];
    spec
}

#[test]
fn a_rolling_upgrade_waits_for_the_new_task_to_be_ready() {
    let mut h = Harness::new();
    h.create(web());
    let tasks = h.offer("agent-1");
    assert_eq!(tasks.len(), 1);
    let effects = h.update(&tasks[0].task_id.value, TaskState::TaskRunning);
    let first = probes(&effects);
    assert_eq!(first.len(), 1, "a running task is probed at once");
    let port = tasks[0]
        .discovery
        .as_ref()
        .unwrap()
        .ports
        .as_ref()
        .unwrap()
        .ports[0]
        .number;
    assert_eq!(first[0].url, format!("http://agent-1.example:{port}/ready"));
    assert_eq!(first[0].timeout_ms, 1000);
    // Not ready yet: the start deployment waits, and says why.
    h.step(Input::ReadinessResult {
        probe: first[0].clone(),
        outcome: answer(503),
    });
    assert_eq!(h.s.deployments().len(), 1);
    let why: Vec<String> = h.s.deployments()[0].waiting.values().cloned().collect();
    assert!(why[0].contains("ready"), "{why:?}");
    let results = h.s.readiness_results(&first[0].instance_id);
    assert!(!results[0].ready);
    assert_eq!(results[0].last_response.as_ref().unwrap().status, 503);
    // The next probe comes after the interval.
    assert!(probes(&h.advance(1000)).is_empty());
    let again = probes(&h.advance(1000));
    assert_eq!(again.len(), 1);
    h.step(Input::ReadinessResult {
        probe: again[0].clone(),
        outcome: answer(200),
    });
    assert!(
        h.s.deployments().is_empty(),
        "ready: the deployment is done"
    );
    assert!(
        probes(&h.advance(10_000)).is_empty(),
        "a ready task is not probed"
    );

    // Upgrade: the old task stays until the new one is ready.
    let mut v2 = web();
    v2.cmd = Some("sleep 2000".into());
    h.command(Command::PutApp {
        app: v2,
        force: false,
    });
    let new = h.offer("agent-1");
    assert_eq!(new.len(), 1);
    let effects = h.update(&new[0].task_id.value, TaskState::TaskRunning);
    assert!(kills(&effects).is_empty(), "running but not ready: no kill");
    let p = probes(&effects);
    let effects = h.step(Input::ReadinessResult {
        probe: p[0].clone(),
        outcome: ProbeOutcome::Failed("connection refused".into()),
    });
    assert!(kills(&effects).is_empty(), "failed probe: no kill");
    let p = probes(&h.advance(2000));
    let effects = h.step(Input::ReadinessResult {
        probe: p[0].clone(),
        outcome: answer(200),
    });
    assert_eq!(kills(&effects), vec![tasks[0].task_id.value.clone()]);
}

#[test]
fn a_task_that_stops_is_no_longer_probed_and_its_stale_results_are_ignored() {
    let mut h = Harness::new();
    h.create(web());
    let tasks = h.offer("agent-1");
    let effects = h.update(&tasks[0].task_id.value, TaskState::TaskRunning);
    let p = probes(&effects);
    h.update(&tasks[0].task_id.value, TaskState::TaskFailed);
    let effects = h.step(Input::ReadinessResult {
        probe: p[0].clone(),
        outcome: answer(200),
    });
    assert!(probes(&effects).is_empty());
    assert!(h.s.readiness_results(&p[0].instance_id).is_empty());
    assert!(
        h.instances("/web").iter().all(|i| i.readiness_pending),
        "a result for a stopped task makes nothing ready"
    );
}
