//! Issue 15 item 2 against real processes: a readiness-gated rolling upgrade. Marathon polls
//! each new task's HTTP endpoint (a busybox httpd serving a directory; `/ready` answers 404
//! until the test creates the file) and keeps the old task running until the new one is ready.

use crate::support;

use std::path::Path;

use serde_json::{Value, json};
use support::{Cluster, READY_TIMEOUT, wait_until};

fn app(dir: &Path) -> Value {
    json!({
        "id": "/ready-web",
        "cmd": format!("exec /usr/bin/busybox httpd -f -p $PORT0 -h {}", dir.display()),
        "cpus": 0.1, "mem": 32, "instances": 1,
        "portDefinitions": [{"port": 0, "name": "http"}],
        "readinessChecks": [{
            "name": "web-ready", "portName": "http", "path": "/ready",
            "intervalSeconds": 2, "timeoutSeconds": 1,
            "preserveLastResponse": true
        }],
        "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1}
    })
}

fn tasks(cluster: &Cluster) -> Vec<Value> {
    cluster.marathon_json("/v2/apps/ready-web/tasks")["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn current_results(cluster: &Cluster) -> Vec<Value> {
    let deployments = cluster.marathon_json("/v2/deployments");
    deployments
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["currentActions"].as_array().cloned().unwrap_or_default())
        .flat_map(|a| {
            a["readinessCheckResults"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn a_rolling_upgrade_waits_for_the_new_task_to_be_ready() {
    let cluster = Cluster::start(true);
    let dirs = tempfile::tempdir().expect("temp dir");
    let (v1, v2) = (dirs.path().join("v1"), dirs.path().join("v2"));
    std::fs::create_dir_all(&v1).unwrap();
    std::fs::create_dir_all(&v2).unwrap();

    // A readiness check on a port the app does not have: a 422 naming it.
    let mut bad = app(&v1);
    bad["readinessChecks"][0]["portName"] = json!("nope");
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&bad));
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("portName"), "{body}");

    let first = app(&v1);
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&first));
    assert_eq!(status, 201, "{body}");
    // Running but not ready: the deployment stays, showing the 404 it got.
    wait_until(
        "a not-ready result for the first task",
        READY_TIMEOUT,
        || {
            current_results(&cluster)
                .iter()
                .any(|r| r["ready"] == false && r["lastResponse"]["status"] == 404)
        },
    );
    let results = current_results(&cluster);
    assert_eq!(results[0]["name"], "web-ready", "{results:?}");
    assert_eq!(tasks(&cluster)[0]["state"], "TASK_RUNNING");
    std::fs::write(v1.join("ready"), "ok\n").unwrap();
    wait_until("the start deployment is done", READY_TIMEOUT, || {
        cluster.marathon_json("/v2/deployments") == json!([])
    });
    let app_view = cluster.marathon_json("/v2/apps/ready-web");
    let shown = &app_view["app"]["readinessCheckResults"][0];
    assert_eq!(shown["ready"], true, "{app_view}");
    assert_eq!(shown["lastResponse"]["body"], "ok\n", "{app_view}");
    let old_task = tasks(&cluster)[0]["id"].as_str().unwrap().to_owned();

    // Upgrade: the new task runs but is not ready, so the old one is not killed.
    let second = app(&v2);
    let (status, body) = cluster.marathon_request("PUT", "/v2/apps/ready-web", Some(&second));
    assert!(status == 200 || status == 201, "{status} {body}");
    wait_until("a not-ready probe of the new task", READY_TIMEOUT, || {
        current_results(&cluster)
            .iter()
            .any(|r| r["ready"] == false && r["taskId"] != old_task.as_str())
    });
    let now: Vec<Value> = tasks(&cluster);
    assert_eq!(now.len(), 2, "old and new both run: {now:?}");
    assert!(
        now.iter()
            .any(|t| t["id"] == old_task.as_str() && t["state"] == "TASK_RUNNING"),
        "the old task still runs while the new one is not ready: {now:?}"
    );
    std::fs::write(v2.join("ready"), "ok\n").unwrap();
    wait_until(
        "the upgrade finishes and the old task is gone",
        READY_TIMEOUT,
        || {
            let t = tasks(&cluster);
            cluster.marathon_json("/v2/deployments") == json!([])
                && t.len() == 1
                && t[0]["id"] != old_task.as_str()
        },
    );
}
