//! Issue 7: the scheduler (`drover marathon`) SIGKILLed in the middle of a deployment and
//! restarted on its work dir: nothing it acknowledged is lost, nothing running is killed, and
//! the deployment completes.

use crate::support;

use serde_json::json;
use support::{Cluster, EventStream, READY_TIMEOUT, wait_until};

fn running_ids(cluster: &Cluster, app: &str) -> Vec<String> {
    let mut ids: Vec<String> = cluster.marathon_json(&format!("/v2/apps{app}/tasks"))["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// Scheduler SIGKILL mid-deployment: the app, its deployment and its two running tasks survive
/// the restart unchanged (no task killed or relaunched), and once capacity appears (a second
/// agent) the deployment finishes with all three instances.
#[test]
fn scheduler_sigkill_mid_deployment_loses_nothing_and_kills_nothing() {
    let mut cluster = Cluster::start(true);
    // Two of three instances fit on the first agent (cpus 2): the deployment waits for more.
    let app = json!({"id": "/deploying", "cmd": "sleep 300", "cpus": 0.8, "mem": 32,
                     "instances": 3});
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "{body}");
    let deployment_id = body["deployments"][0]["id"]
        .as_str()
        .expect("deployment id")
        .to_owned();
    let port = cluster.marathon_port;
    wait_until("2 of 3 instances running", READY_TIMEOUT, || {
        support::get_json(port, "/v2/apps/deploying").is_some_and(|a| a["app"]["tasksRunning"] == 2)
    });
    let before = running_ids(&cluster, "/deploying");
    assert_eq!(before.len(), 2);
    let deployments = cluster.marathon_json("/v2/deployments");
    assert_eq!(
        deployments[0]["id"],
        deployment_id.as_str(),
        "{deployments}"
    );

    cluster.marathon.as_mut().expect("marathon").kill();
    cluster.start_marathon();
    let events = EventStream::open(cluster.marathon_port);

    let app = cluster.marathon_json("/v2/apps/deploying")["app"].clone();
    assert_eq!(app["instances"], 3, "the acknowledged app survives: {app}");
    let deployments = cluster.marathon_json("/v2/deployments");
    assert_eq!(
        deployments[0]["id"],
        deployment_id.as_str(),
        "the deployment survives: {deployments}"
    );
    wait_until("the running tasks reconciled", READY_TIMEOUT, || {
        support::get_json(port, "/v2/apps/deploying/tasks").is_some_and(|t| {
            t["tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["state"] == "TASK_RUNNING")
                .count()
                == 2
        })
    });
    assert_eq!(
        running_ids(&cluster, "/deploying"),
        before,
        "same tasks, none relaunched"
    );

    cluster.add_agent();
    wait_until("the deployment to finish", READY_TIMEOUT, || {
        support::get_json(port, "/v2/deployments").is_some_and(|d| d == json!([]))
    });
    let after = running_ids(&cluster, "/deploying");
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(
        before.iter().all(|id| after.contains(id)),
        "{before:?} ⊂ {after:?}\nevents: {:?}\n/master/tasks: {}\n{}",
        events.all(),
        cluster.master_json("/master/tasks"),
        cluster.logs()
    );
    let killed = events.matching(|e| {
        e["eventType"] == "status_update_event"
            && e["taskStatus"] != "TASK_RUNNING"
            && e["taskStatus"] != "TASK_STAGING"
            && e["taskStatus"] != "TASK_STARTING"
    });
    assert!(killed.is_empty(), "nothing killed: {killed:?}");
    let master_tasks = cluster.master_json("/master/tasks");
    let not_running: Vec<_> = master_tasks["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["state"] != "TASK_RUNNING")
        .collect();
    assert!(not_running.is_empty(), "{not_running:?}");
}
