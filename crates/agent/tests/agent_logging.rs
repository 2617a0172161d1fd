//! The agent's GET_LOGGING_LEVEL / SET_LOGGING_LEVEL (Operator API v1): a real `drover agent`
//! raises its own log filter for the duration, then reverts to the configured level; bad input
//! is refused with 400 and changes nothing. Runs the built `drover agent` with `--log_dir`, so
//! the filter's effect is read from the log file.

use crate::support;

use std::time::Duration;

use drover_http::Client;
use serde_json::{Value, json};
use support::*;

async fn operator(agent: &AgentProcess, call: Value) -> (u16, String) {
    let url = format!("http://{}/api/v1", agent.endpoint());
    let response = Client::new()
        .post(
            &url,
            &[
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            call.to_string().into(),
        )
        .await
        .expect("the agent answers");
    (response.status.as_u16(), response.text())
}

async fn level(agent: &AgentProcess) -> u64 {
    let (status, body) = operator(agent, json!({"type": "GET_LOGGING_LEVEL"})).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(answer["type"], "GET_LOGGING_LEVEL", "{answer}");
    answer["get_logging_level"]["level"]
        .as_u64()
        .expect("a level")
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + LONG;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_logging_level_changes_the_agent_filter_for_the_duration() {
    let logs = tempfile::tempdir().expect("temp dir");
    let log_flag = format!("--log_dir={}", logs.path().display());
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &[&log_flag]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let file = logs.path().join("drover.log");
    let debug_lines = || {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .matches("DEBUG")
            .count()
    };
    assert_eq!(level(&agent).await, 0);
    assert_eq!(
        debug_lines(),
        0,
        "the configured filter (info) shows no DEBUG"
    );

    // Bad input: 400, and the level stays.
    let (status, body) = operator(&agent, json!({"type": "SET_LOGGING_LEVEL"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("'set_logging_level'"), "{body}");
    let (status, body) = operator(
        &agent,
        json!({"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 1, "duration": {"nanoseconds": -5}}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("must not be negative"), "{body}");
    assert_eq!(level(&agent).await, 0);

    let (status, body) = operator(
        &agent,
        json!({"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 1, "duration": {"nanoseconds": 3_000_000_000u64}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(level(&agent).await, 1);
    eventually("DEBUG lines in the agent's log", async || {
        let _ = operator(&agent, json!({"type": "GET_HEALTH"})).await;
        debug_lines() > 0
    })
    .await;
    eventually("the level reverts", async || level(&agent).await == 0).await;
    // Lines already in flight when the filter changed back may still land: settle first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = debug_lines();
    for _ in 0..5 {
        let _ = operator(&agent, json!({"type": "GET_HEALTH"})).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(debug_lines(), after, "no DEBUG lines after the revert");
}
