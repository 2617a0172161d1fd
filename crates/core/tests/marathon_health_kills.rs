//! Issue 15 item 3: a task the executor kills for failing its health checks is visible — each
//! failed check is a `failed_health_check_event` with its cause kept for `healthCheckResults`,
//! and the kill is an `unhealthy_instance_kill_event` and the app's `lastTaskFailure`.

use crate::marathon_support;

use drover_core::marathon::app::{HealthCheck, HealthProtocol};
use drover_core::marathon::event::Event;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Effect, Input};
use drover_core::task::{Reason, TaskState};
use marathon_support::*;

fn healthy_update(task: &str, state: TaskState, healthy: bool, message: &str) -> Input {
    let mut s = status(
        task,
        state,
        (state == TaskState::TaskRunning).then_some(Reason::TaskHealthCheckStatusUpdated),
        Some(message),
    );
    s.healthy = Some(healthy);
    Input::Update(s)
}

fn events(effects: &[Effect]) -> Vec<Event> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn an_executor_health_kill_shows_its_cause_in_events_results_and_last_failure() {
    let mut h = Harness::new();
    let mut spec = app("/sick", 1);
    let mut check = HealthCheck::new(HealthProtocol::MesosHttp);
    check.max_consecutive_failures = 2;
    spec.health_checks = vec![check];
    h.create(spec);
    let task = h.run_all("agent-1").remove(0);
    let instance = h.instances("/sick")[0].id.clone();

    h.step(healthy_update(
        &task,
        TaskState::TaskRunning,
        true,
        "Task is healthy",
    ));
    let effects = h.step(healthy_update(
        &task,
        TaskState::TaskRunning,
        false,
        "Health check failed: HTTP status 503",
    ));
    assert!(
        events(&effects)
            .iter()
            .any(|e| matches!(e, Event::FailedHealthCheck { instance_id, .. } if *instance_id == instance)),
        "{effects:?}"
    );
    let result = h.s.executor_health_of(&instance).expect("a result");
    assert_eq!(result.consecutive_failures, 1);
    assert_eq!(
        result.last_failure_cause.as_deref(),
        Some("Health check failed: HTTP status 503")
    );
    h.step(healthy_update(
        &task,
        TaskState::TaskRunning,
        false,
        "Health check failed 2 times in a row (HTTP status 503); killing the task",
    ));
    assert_eq!(
        h.s.executor_health_of(&instance)
            .unwrap()
            .consecutive_failures,
        2
    );

    let effects = h.step(healthy_update(
        &task,
        TaskState::TaskKilled,
        false,
        "Command terminated with signal Terminated",
    ));
    let kill = events(&effects)
        .into_iter()
        .find_map(|e| match e {
            Event::UnhealthyInstanceKill {
                reason, task_id, ..
            } => Some((reason, task_id)),
            _ => None,
        })
        .expect("an unhealthy_instance_kill_event");
    assert_eq!(kill.1, task);
    assert!(kill.0.contains("HTTP status 503"), "{}", kill.0);
    let failure =
        h.s.last_failure(&PathId::parse_app_id("/sick").unwrap())
            .expect("lastTaskFailure");
    assert_eq!(failure.state, TaskState::TaskKilled);
    assert!(
        failure.message.contains("failing health checks"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("HTTP status 503"),
        "{}",
        failure.message
    );
}

#[test]
fn a_kill_the_scheduler_asked_for_is_not_a_health_kill() {
    let mut h = Harness::new();
    let mut spec = app("/fine", 1);
    spec.health_checks = vec![HealthCheck::new(HealthProtocol::MesosTcp)];
    h.create(spec);
    let task = h.run_all("agent-1").remove(0);
    h.command(drover_core::marathon::scheduler::Command::KillTasks {
        target: drover_core::marathon::scheduler::commands_target(&task),
        scale: false,
        wipe: false,
        force: false,
    });
    let effects = h.step(healthy_update(
        &task,
        TaskState::TaskKilled,
        false,
        "killed",
    ));
    assert!(
        !events(&effects)
            .iter()
            .any(|e| matches!(e, Event::UnhealthyInstanceKill { .. })),
        "{effects:?}"
    );
}
