//! Issue 15 item 2 against real processes: an app's `check` (Mesos' non-health checks) is run
//! by the executor, reported with REASON_TASK_CHECK_STATUS_UPDATED and `check_status`, and
//! shown as the task's `checkResult`; a failing check does not kill the task.

use crate::support;

use serde_json::json;
use support::{Cluster, READY_TIMEOUT, wait_until};

#[test]
fn a_command_check_result_reaches_the_task_and_the_master() {
    let cluster = Cluster::start(true);
    let app = json!({
        "id": "/checked", "cmd": "sleep 300", "cpus": 0.1, "mem": 16, "instances": 1,
        "check": {
            "exec": {"command": {"shell": "exit 3"}},
            "intervalSeconds": 1, "timeoutSeconds": 1, "delaySeconds": 0
        }
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "{body}");
    let got = cluster.marathon_json("/v2/apps/checked");
    assert_eq!(
        got["app"]["check"]["exec"]["command"]["shell"], "exit 3",
        "{got}"
    );

    let port = cluster.marathon_port;
    wait_until("the task's checkResult", READY_TIMEOUT, || {
        support::get_json(port, "/v2/apps/checked/tasks")
            .is_some_and(|t| t["tasks"][0]["checkResult"] == json!({"exec": {"exitCode": 3}}))
    });
    let tasks = cluster.marathon_json("/v2/apps/checked/tasks");
    assert_eq!(
        tasks["tasks"][0]["state"], "TASK_RUNNING",
        "a check never kills"
    );
    let task_id = tasks["tasks"][0]["id"].as_str().unwrap().to_owned();

    let (code, text) = cluster.operator(&json!({"type": "GET_TASKS"}));
    assert_eq!(code, 200, "{text}");
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    let task = all["get_tasks"]["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["task_id"]["value"] == task_id.as_str())
        .unwrap_or_else(|| panic!("{task_id} in {text}"))
        .clone();
    let statuses = task["statuses"].as_array().expect("statuses");
    assert!(
        statuses
            .iter()
            .any(|s| s["reason"] == "REASON_TASK_CHECK_STATUS_UPDATED"
                && s["check_status"]["command"]["exit_code"] == 3),
        "{task}"
    );
}
