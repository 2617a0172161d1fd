//! Seed 1's REASON_SLAVE_RESTARTED (L105 and L128) from its real cause against the built
//! `drover agent` and a scripted master: a task is launched for an executor that has not
//! subscribed yet, the agent is SIGKILLed and restarted, and the executor then subscribes to the
//! new agent process without the task (it never received it). The agent cannot deliver what its
//! previous process was holding for the executor: TASK_LOST (TASK_DROPPED for a
//! partition-aware framework) with REASON_SLAVE_RESTARTED (v1: REASON_AGENT_RESTARTED).

use crate::support;

use std::time::{Duration, Instant};

use drover_http::Client;
use drover_wire::v1;
use drover_wire::v1::TaskState;
use drover_wire::v1::task_status::{Reason, Source};
use support::*;

/// A task for a custom executor that subscribes only after `delay_secs` (Drover's own
/// executor, started late by a shell).
fn late_executor_task(id: &str, delay_secs: u32) -> v1::TaskInfo {
    let mut task = shell_task(id, "sleep 600", 32.0);
    task.command = None;
    task.executor = Some(v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: format!("late-{id}"),
        },
        command: Some(v1::CommandInfo {
            value: Some(format!(
                "sleep {delay_secs} && exec {} executor",
                drover_bin().display()
            )),
            shell: Some(true),
            ..Default::default()
        }),
        resources: vec![scalar("cpus", 0.1), scalar("mem", 32.0)],
        ..Default::default()
    });
    task
}

/// The executors the agent runs a container for (its checkpoint records the container first,
/// so a restart re-attaches to it), from Mesos' `/containers`.
async fn executors_with_containers(agent: &AgentProcess) -> Vec<String> {
    let url = format!("http://{}/containers", agent.endpoint());
    let Ok(response) = Client::new().get(&url, &[]).await else {
        return Vec::new();
    };
    let list: serde_json::Value = serde_json::from_str(&response.text()).unwrap_or_default();
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["executor_id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_held_for_an_executor_across_an_agent_restart_is_slave_restarted() {
    let master = FakeMaster::start(true).await;
    // The executors subscribe 8 s after their launch, well after the restart below; the
    // restarted agent waits up to 15 s for them (the longest it allows).
    let mut agent = AgentProcess::start(&master, &["--executor_reregistration_timeout=15secs"]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    master
        .run_task(
            &checkpointing("plain", false),
            late_executor_task("t-plain", 8),
        )
        .await;
    master
        .run_task(&checkpointing("pa", true), late_executor_task("t-pa", 8))
        .await;
    // Both executors' containers run (and are checkpointed): the tasks wait for them.
    let deadline = Instant::now() + LONG;
    loop {
        let running = executors_with_containers(&agent).await;
        if ["late-t-plain", "late-t-pa"]
            .iter()
            .all(|e| running.iter().any(|r| r == e))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the executors were never launched"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = master.registrations().len();
    agent.sigkill();
    agent.spawn(&[]);
    master
        .wait_for("reregistration", LONG, |m| m.registrations().len() > before)
        .await;
    let lost = master
        .wait_state("t-plain", TaskState::TaskLost, LONG)
        .await;
    let dropped = master
        .wait_state("t-pa", TaskState::TaskDropped, LONG)
        .await;
    for status in [&lost, &dropped] {
        assert_eq!(
            status.reason,
            Some(Reason::AgentRestarted as i32),
            "{status:?}"
        );
        assert_eq!(status.source, Some(Source::Agent as i32), "{status:?}");
    }
    // Neither task ever ran.
    for task in ["t-plain", "t-pa"] {
        assert!(
            !master
                .updates()
                .iter()
                .any(|s| s.task_id.value == task && s.state == TaskState::TaskRunning as i32),
            "{task} ran"
        );
    }
}
