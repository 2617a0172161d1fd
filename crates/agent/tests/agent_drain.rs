//! DRAIN (Mesos' DrainSlaveMessage) against the built `drover agent` and a scripted master:
//! the agent kills its task itself with the drain's capped grace period and the KILLED says
//! REASON_SLAVE_DRAINING (v1: REASON_AGENT_DRAINING); a task sent while it drains is
//! TASK_DROPPED (TASK_LOST for a framework that is not partition-aware) with that reason,
//! which is seed 1's agent-side REASON_SLAVE_DRAINING row from its real cause; the drain is
//! checkpointed, so a restarted agent still drains; and once nothing is left it ends and
//! tasks run again.

use crate::support;

use std::time::{Duration, Instant};

use drover_http::Client;
use drover_wire::internal::{self, agent_event::Type as EventType};
use drover_wire::v1;
use drover_wire::v1::TaskState;
use drover_wire::v1::task_status::{Reason, Source};
use support::*;

fn drain(grace_secs: i64) -> internal::AgentEvent {
    internal::AgentEvent {
        r#type: Some(EventType::Drain as i32),
        drain: Some(internal::agent_event::Drain {
            config: v1::DrainConfig {
                max_grace_period: Some(v1::DurationInfo {
                    nanoseconds: grace_secs * 1_000_000_000,
                }),
                mark_gone: Some(false),
            },
        }),
        ..Default::default()
    }
}

/// The agent's `/state`, or `Null` while it does not answer.
async fn state(agent: &AgentProcess) -> serde_json::Value {
    let url = format!("http://{}/state", agent.endpoint());
    match Client::new().get(&url, &[]).await {
        Ok(response) => serde_json::from_str(&response.text()).unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    }
}

fn assert_draining(status: &v1::TaskStatus, state: TaskState, source: Source) {
    assert_eq!(
        (status.state, status.reason, status.source),
        (
            state as i32,
            Some(Reason::AgentDraining as i32),
            Some(source as i32)
        ),
        "{status:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_agent_kills_its_task_drops_new_ones_and_still_drains_after_a_restart() {
    let master = FakeMaster::start(true).await;
    let mut agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let fw = checkpointing("fw", true);
    // The task ignores SIGTERM, so it (and the drain) lasts the drain's whole grace period,
    // across the agent restart below.
    master
        .run_task(
            &fw,
            shell_task(
                "stubborn",
                "trap '' TERM; while true; do sleep 1; done",
                32.0,
            ),
        )
        .await;
    master
        .wait_state("stubborn", TaskState::TaskRunning, LONG)
        .await;

    master.send(drain(8)).await;
    master
        .run_task(&fw, shell_task("late", "sleep 600", 32.0))
        .await;
    master
        .run_task(
            &checkpointing("plain", false),
            shell_task("late-plain", "sleep 600", 32.0),
        )
        .await;
    let dropped = master
        .wait_state("late", TaskState::TaskDropped, LONG)
        .await;
    assert_draining(&dropped, TaskState::TaskDropped, Source::Agent);
    assert!(
        dropped
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("Task was received while agent was already draining"),
        "{dropped:#?}"
    );
    let lost = master
        .wait_state("late-plain", TaskState::TaskLost, LONG)
        .await;
    assert_draining(&lost, TaskState::TaskLost, Source::Agent);
    let shown = state(&agent).await;
    assert_eq!(
        shown["drain_config"]["max_grace_period"]["nanoseconds"], 8_000_000_000i64,
        "{shown}"
    );
    assert!(
        shown["estimated_drain_start_time_seconds"]
            .as_f64()
            .is_some()
    );

    // The drain is checkpointed: a restarted agent goes on draining.
    agent.sigkill();
    let registrations = master.registrations().len();
    agent.spawn(&[]);
    master
        .wait_for("reregistration", LONG, |m| {
            m.registrations().len() > registrations && m.has_session()
        })
        .await;
    master
        .run_task(&fw, shell_task("late-2", "sleep 600", 32.0))
        .await;
    let dropped = master
        .wait_state("late-2", TaskState::TaskDropped, LONG)
        .await;
    assert_draining(&dropped, TaskState::TaskDropped, Source::Agent);

    // The grace runs out: the task is killed, and its KILLED says why.
    let killed = master
        .wait_state("stubborn", TaskState::TaskKilled, LONG)
        .await;
    assert_draining(&killed, TaskState::TaskKilled, Source::Executor);

    // Nothing left: the drain ends, and tasks run again.
    let deadline = Instant::now() + LONG;
    loop {
        let shown = state(&agent).await;
        if shown.is_object() && shown.get("drain_config").is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "still draining: {shown}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    master
        .run_task(&fw, shell_task("after", "sleep 600", 32.0))
        .await;
    master
        .wait_state("after", TaskState::TaskRunning, LONG)
        .await;
}
