//! A custom executor written with pymesos' `MesosExecutorDriver` runs a task through the
//! custom-executor path of a real `drover agent` (issue 4), launched by a pymesos scheduler.

use crate::support;

use support::{Cluster, Framework, python};

/// The executor subscribes to the agent, its RUNNING and FINISHED updates reach the scheduler
/// reliably (with uuid and agent id, from SOURCE_EXECUTOR), and the agent reports the task done.
#[test]
fn pymesos_executor_runs_a_task_and_its_updates_reach_the_scheduler() {
    let cluster = Cluster::start(false);
    let mut framework = Framework::start(&cluster, "executor-fw", &[]);
    framework.wait_registered();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/pymesos_executor.py");
    let command = format!("{} {}", python().display(), script.display());
    framework.send(&format!("launch_executor custom-task * {command}"));

    let running = framework.wait_update("custom-task", "TASK_RUNNING", None);
    let finished = framework.wait_update("custom-task", "TASK_FINISHED", None);
    for update in [&running, &finished] {
        assert_eq!(update["source"], "SOURCE_EXECUTOR", "{update}");
        assert_eq!(update["uuid"], true, "reliable update: {update}");
        assert!(update["agent_id"].is_string(), "{update}");
    }
    assert_eq!(finished["message"], "pymesos executor finished");
    let states: Vec<_> = framework
        .updates_of("custom-task")
        .iter()
        .map(|u| u["state"].as_str().unwrap_or_default().to_owned())
        .collect();
    let running_at = states.iter().position(|s| s == "TASK_RUNNING");
    let finished_at = states.iter().position(|s| s == "TASK_FINISHED");
    assert!(running_at < finished_at, "in order: {states:?}");

    // The master agrees once the terminal update is acknowledged.
    let port = cluster.master_port;
    support::wait_until(
        "the master to record the task finished",
        support::READY_TIMEOUT,
        || {
            support::get_json(port, "/master/state").is_some_and(|state| {
                state.to_string().contains("custom-task")
                    && state["frameworks"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|f| {
                            f["completed_tasks"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|t| t["id"] == "custom-task" && t["state"] == "TASK_FINISHED")
                        })
            })
        },
    );
}
