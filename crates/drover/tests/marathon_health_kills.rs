//! Issue 15 item 3 against real processes: a task killed for failing its health check says why
//! — in `/v2/apps/{id}` (`lastTaskFailure`, the tasks' `healthCheckResults`), on `/v2/events`
//! (`failed_health_check_event`, `unhealthy_instance_kill_event` with the check's output) and in
//! the master's status history (REASON_TASK_HEALTH_CHECK_STATUS_UPDATED with the message).

use crate::support;

use serde_json::json;
use support::{Cluster, EventStream, READY_TIMEOUT, wait_until};

#[test]
fn a_health_check_kill_is_visible_in_the_app_the_events_and_the_master() {
    let cluster = Cluster::start(true);
    let events = EventStream::open(cluster.marathon_port);
    // Nothing listens on the port: every TCP check is refused.
    let app = json!({
        "id": "/sick", "cmd": "sleep 300", "cpus": 0.1, "mem": 16, "instances": 1,
        "portDefinitions": [{"port": 0}],
        "healthChecks": [{
            "protocol": "MESOS_TCP", "portIndex": 0, "gracePeriodSeconds": 0,
            "intervalSeconds": 1, "timeoutSeconds": 1, "delaySeconds": 0,
            "maxConsecutiveFailures": 2
        }],
        "backoffSeconds": 3600
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "{body}");

    let failed = events.wait("failed_health_check_event", |e| {
        e["eventType"] == "failed_health_check_event" && e["appId"] == "/sick"
    });
    assert!(failed["taskId"].is_string(), "{failed}");
    let kill = events.wait("unhealthy_instance_kill_event", |e| {
        e["eventType"] == "unhealthy_instance_kill_event" && e["appId"] == "/sick"
    });
    let reason = kill["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("TCP connection refused"), "{kill}");
    let task_id = kill["taskId"].as_str().expect("taskId").to_owned();

    let port = cluster.marathon_port;
    wait_until(
        "lastTaskFailure names the health check",
        READY_TIMEOUT,
        || {
            support::get_json(port, "/v2/apps/sick").is_some_and(|a| {
                a["app"]["lastTaskFailure"]["taskId"] == task_id.as_str()
                    && a["app"]["lastTaskFailure"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("failing health checks"))
            })
        },
    );

    // The master kept the executor's word for it.
    let (code, text) = cluster.operator(&json!({"type": "GET_TASKS"}));
    assert_eq!(code, 200, "{text}");
    let tasks: serde_json::Value = serde_json::from_str(&text).unwrap();
    let all: Vec<&serde_json::Value> = ["tasks", "completed_tasks"]
        .iter()
        .flat_map(|k| tasks["get_tasks"][k].as_array().into_iter().flatten())
        .collect();
    let killed = all
        .iter()
        .find(|t| t["task_id"]["value"] == task_id.as_str())
        .unwrap_or_else(|| panic!("{task_id} in GET_TASKS: {text}"));
    let statuses = killed["statuses"].as_array().expect("statuses");
    assert!(
        statuses
            .iter()
            .any(|s| s["reason"] == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
                && s["healthy"] == false
                && s["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("TCP connection refused"))),
        "{killed}"
    );

    // A check that fails without reaching its limit: the task's healthCheckResults count the
    // failures and say why.
    let flaky = json!({
        "id": "/flaky", "cmd": "sleep 300", "cpus": 0.1, "mem": 16, "instances": 1,
        "portDefinitions": [{"port": 0}],
        "healthChecks": [{
            "protocol": "MESOS_TCP", "portIndex": 0, "gracePeriodSeconds": 0,
            "intervalSeconds": 1, "timeoutSeconds": 1, "delaySeconds": 0,
            "maxConsecutiveFailures": 1000
        }]
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&flaky));
    assert_eq!(status, 201, "{body}");
    wait_until(
        "healthCheckResults with failures and their cause",
        READY_TIMEOUT,
        || {
            support::get_json(port, "/v2/apps/flaky/tasks").is_some_and(|t| {
                let r = &t["tasks"][0]["healthCheckResults"][0];
                r["alive"] == false
                    && r["consecutiveFailures"].as_u64().is_some_and(|n| n >= 2)
                    && r["lastFailureCause"]
                        .as_str()
                        .is_some_and(|c| c.contains("TCP connection refused"))
            })
        },
    );
}
