//! The built-in executor's own reasons, from a real `drover agent` and a real `drover executor`
//! (seed 1): REASON_TASK_HEALTH_CHECK_STATUS_UPDATED on every health change and on every
//! unhealthy result, then the kill after `consecutive_failures`;
//! REASON_TASK_CHECK_STATUS_UPDATED when a check's result changes, with the result in
//! `check_status`; REASON_MAX_COMPLETION_TIME_REACHED when a task outlives its
//! `max_completion_time`. All of them RUNNING except the terminal ones, from SOURCE_EXECUTOR.

use crate::support;

use drover_wire::v1::{self, TaskState, task_status::Reason, task_status::Source};
use support::*;

fn command(value: &str) -> v1::CommandInfo {
    v1::CommandInfo {
        value: Some(value.into()),
        shell: Some(true),
        ..Default::default()
    }
}

/// Updates of `task` so far, in arrival order.
fn updates_of(master: &FakeMaster, task: &str) -> Vec<v1::TaskStatus> {
    master
        .updates()
        .into_iter()
        .filter(|s| s.task_id.value == task)
        .collect()
}

async fn wait_until(master: &FakeMaster, what: &str, cond: impl Fn(&[v1::TaskStatus]) -> bool) {
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let all = master.updates();
        if cond(&all) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; updates: {all:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_failures_are_reported_each_time() {
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    // Healthy while `ok` exists in the sandbox; the test removes it once the task was
    // reported healthy, and the check fails from then on. Failures before the first success
    // fall in the grace period and do not count.
    let mut task = shell_task("hc", "touch ok; sleep 600", 64.0);
    task.health_check = Some(v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Command as i32),
        command: Some(command("test -e ok")),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.2),
        timeout_seconds: Some(5.0),
        grace_period_seconds: Some(600.0),
        consecutive_failures: Some(3),
        ..Default::default()
    });
    master.run_task(&framework("fw", false, false), task).await;
    wait_until(&master, "a healthy report", |all| {
        all.iter()
            .any(|s| s.task_id.value == "hc" && s.healthy == Some(true))
    })
    .await;
    let sandbox = agent.sandbox("hc").expect("the task's sandbox");
    std::fs::remove_file(sandbox.join("ok")).expect("remove the health flag");
    let killed = master.wait_state("hc", TaskState::TaskKilled, LONG).await;
    assert_eq!(killed.healthy, Some(false), "{killed:?}");

    let health: Vec<_> = updates_of(&master, "hc")
        .into_iter()
        .filter(|s| s.reason == Some(Reason::TaskHealthCheckStatusUpdated as i32))
        .collect();
    for s in &health {
        assert_eq!(s.state, TaskState::TaskRunning as i32, "{s:?}");
        assert_eq!(s.source, Some(Source::Executor as i32), "{s:?}");
        assert!(s.message.as_deref().is_some_and(|m| !m.is_empty()), "{s:?}");
    }
    let verdicts: Vec<_> = health.iter().map(|s| s.healthy).collect();
    assert_eq!(
        verdicts.first(),
        Some(&Some(true)),
        "healthy first: {verdicts:?}"
    );
    // Seed 1: the built-in executors send an update every time a check is unhealthy, not
    // only when health changes: the failures before the kill are each reported.
    let unhealthy = verdicts.iter().filter(|v| **v == Some(false)).count();
    assert!(
        unhealthy >= 2,
        "each unhealthy result reported: {verdicts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_status_changes_are_reported() {
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    // The check fails until the test creates `flag` in the sandbox, then passes.
    let mut task = shell_task("chk", "sleep 600", 64.0);
    task.check = Some(v1::CheckInfo {
        r#type: Some(v1::check_info::Type::Command as i32),
        command: Some(v1::check_info::Command {
            command: command("test -e flag"),
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.2),
        timeout_seconds: Some(5.0),
        ..Default::default()
    });
    master.run_task(&framework("fw", false, false), task).await;
    wait_until(&master, "a failing check", |all| {
        all.iter().any(|s| {
            s.task_id.value == "chk"
                && s.check_status
                    .as_ref()
                    .and_then(|c| c.command.as_ref()?.exit_code)
                    .is_some_and(|c| c != 0)
        })
    })
    .await;
    let sandbox = agent.sandbox("chk").expect("the task's sandbox");
    std::fs::write(sandbox.join("flag"), b"").expect("create the check's flag");
    let exit_codes = |all: &[v1::TaskStatus]| -> Vec<i32> {
        all.iter()
            .filter(|s| s.task_id.value == "chk")
            .filter(|s| s.reason == Some(Reason::TaskCheckStatusUpdated as i32))
            .filter_map(|s| s.check_status.as_ref()?.command.as_ref()?.exit_code)
            .collect()
    };
    wait_until(&master, "the check to fail then pass", |all| {
        let codes = exit_codes(all);
        codes.iter().position(|c| *c == 0) > codes.iter().position(|c| *c != 0)
    })
    .await;
    let checks: Vec<_> = updates_of(&master, "chk")
        .into_iter()
        .filter(|s| s.reason == Some(Reason::TaskCheckStatusUpdated as i32))
        .collect();
    for s in &checks {
        assert_eq!(s.state, TaskState::TaskRunning as i32, "{s:?}");
        assert_eq!(s.source, Some(Source::Executor as i32), "{s:?}");
    }
    // Only changes are reported: no two consecutive updates carry the same result.
    let codes = exit_codes(&master.updates());
    assert!(
        codes.windows(2).all(|w| w[0] != w[1]),
        "an update per change only: {codes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_completion_time_fails_the_task() {
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let mut task = shell_task("slow", "sleep 600", 64.0);
    task.max_completion_time = Some(v1::DurationInfo {
        nanoseconds: 1_000_000_000,
    });
    master.run_task(&framework("fw", false, false), task).await;
    let failed = master.wait_state("slow", TaskState::TaskFailed, LONG).await;
    assert_eq!(
        failed.reason,
        Some(Reason::MaxCompletionTimeReached as i32),
        "{failed:?}"
    );
    assert_eq!(failed.source, Some(Source::Executor as i32), "{failed:?}");
}
