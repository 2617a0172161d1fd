//! Issue 12, item 10: a real update's `timestamp` is Unix time (seconds since the epoch)
//! both where `/master/state` shows it and in the scheduler's UPDATE event; the agent used
//! to stamp seconds since its own start.

use crate::support;

use std::time::{SystemTime, UNIX_EPOCH};

use support::{Cluster, Framework};

fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs_f64()
}

#[test]
fn a_real_updates_timestamp_is_unix_time() {
    let cluster = Cluster::start(false);
    let before = epoch_seconds();
    let agent_id = cluster.agent_id(0);
    let mut framework = Framework::start(&cluster, "stamps", &[]);
    framework.wait_registered();
    framework.launch("stamped", &agent_id, "sleep 300");
    let running = framework.wait_update("stamped", "TASK_RUNNING", None);
    let after = epoch_seconds();
    let in_range = |t: f64| t >= before - 1.0 && t <= after + 1.0;

    let stamp = running["timestamp"]
        .as_f64()
        .expect("UPDATE carries a timestamp");
    assert!(
        in_range(stamp),
        "UPDATE stamped {stamp}, not in [{before}, {after}]: {running}"
    );

    let state = cluster.master_json("/master/state");
    let task = state["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["tasks"].as_array().into_iter().flatten())
        .find(|t| t["id"] == "stamped")
        .unwrap_or_else(|| panic!("no task in /master/state: {state}"))
        .clone();
    let statuses = task["statuses"].as_array().expect("statuses");
    assert!(!statuses.is_empty(), "{task}");
    for status in statuses {
        let stamp = status["timestamp"].as_f64().expect("timestamp");
        assert!(
            in_range(stamp),
            "/master/state status stamped {stamp}, not in [{before}, {after}]: {task}"
        );
    }
    // An update the agent generates itself (its executor died under it): the one main
    // stamped with seconds since the agent's start.
    support::kill_processes_under(cluster.dir.path());
    let failed = framework.wait_update("stamped", "TASK_FAILED", None);
    assert_eq!(failed["source"], "SOURCE_AGENT", "{failed}");
    let after = epoch_seconds();
    let stamp = failed["timestamp"]
        .as_f64()
        .expect("UPDATE carries a timestamp");
    assert!(
        stamp >= before - 1.0 && stamp <= after + 1.0,
        "the agent's UPDATE stamped {stamp}, not in [{before}, {after}]: {failed}"
    );
    // The task moves to `completed_tasks` once the framework's acknowledgement of the terminal
    // update reaches the master, which may be just after the update reached the framework.
    let completed = |state: &serde_json::Value| {
        state["frameworks"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|f| f["completed_tasks"].as_array().into_iter().flatten())
            .find(|t| t["id"] == "stamped")
            .cloned()
    };
    cluster.wait_for("the acknowledged task among the completed ones", || {
        completed(&cluster.master_json("/master/state")).is_some()
    });
    let state = cluster.master_json("/master/state");
    let task =
        completed(&state).unwrap_or_else(|| panic!("no completed task in /master/state: {state}"));
    let last = task["statuses"]
        .as_array()
        .and_then(|s| s.last())
        .unwrap_or_else(|| panic!("statuses: {task}"));
    let stamp = last["timestamp"].as_f64().expect("timestamp");
    assert!(
        stamp >= before - 1.0 && stamp <= after + 1.0,
        "/master/state: the agent's status stamped {stamp}: {task}"
    );
}
