//! Issue 12 item 12: an operator tears down `drover marathon`'s framework. The scheduler must
//! notice that the master refuses its id for good, say so loudly, forget the id, drop the
//! instances whose tasks died with the framework, and come back as a new framework running the
//! apps at their instance counts — never showing tasks that no longer exist.

use crate::support;

use serde_json::{Value, json};
use support::{Cluster, READY_TIMEOUT, wait_until};

fn task_ids(tasks: &Value) -> Vec<String> {
    let mut ids: Vec<String> = tasks["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

fn running_ids(cluster: &Cluster, path: &str) -> Vec<String> {
    let tasks = cluster.marathon_json(path);
    let mut ids: Vec<String> = tasks["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[test]
fn teardown_of_the_framework_relaunches_under_a_new_framework() {
    let cluster = Cluster::start(true);
    let app = json!({"id": "/torn", "cmd": "sleep 300", "cpus": 0.1, "mem": 16, "instances": 2});
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "{body}");
    let port = cluster.marathon_port;
    wait_until("2 tasks running", READY_TIMEOUT, || {
        support::get_json(port, "/v2/apps/torn").is_some_and(|a| a["app"]["tasksRunning"] == 2)
    });
    let old_tasks = running_ids(&cluster, "/v2/apps/torn/tasks");
    assert_eq!(old_tasks.len(), 2);
    // `mesos_leader_ui_url` names the master that accepted the subscription.
    let leader_ui =
        cluster.marathon_json("/v2/info")["marathon_config"]["mesos_leader_ui_url"].clone();
    let leader_ui = leader_ui.as_str().unwrap_or_default();
    assert!(
        leader_ui.starts_with("http://")
            && leader_ui.ends_with(&format!(":{}/", cluster.master_port)),
        "mesos_leader_ui_url {leader_ui:?} does not name the master on port {}",
        cluster.master_port
    );
    let old_id = cluster.marathon_json("/v2/info")["frameworkId"]
        .as_str()
        .expect("a framework id once subscribed")
        .to_owned();

    let (status, body) = cluster
        .operator(&json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": old_id}}}));
    assert_eq!(status, 200, "TEARDOWN: {body}");

    // Meanwhile /ping and /v2/info keep answering, and /v2/info never names a third id.
    let mut new_id = String::new();
    wait_until("a new framework id", READY_TIMEOUT, || {
        let (ping, _) = support::http_get(port, "/ping").expect("/ping answers");
        assert_eq!(ping, 200);
        let info = support::get_json(port, "/v2/info").expect("/v2/info answers");
        match info["frameworkId"].as_str() {
            Some(id) if id != old_id => {
                new_id = id.to_owned();
                true
            }
            _ => false,
        }
    });
    let log = cluster.marathon.as_ref().expect("marathon").log();
    let line = log
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("removed framework"))
        .unwrap_or_else(|| panic!("an error line about the removal:\n{log}"));
    assert!(line.contains(&old_id), "{line}");

    wait_until("2 new tasks running", READY_TIMEOUT, || {
        let running = running_ids(&cluster, "/v2/apps/torn/tasks");
        running.len() == 2 && running.iter().all(|t| !old_tasks.contains(t))
    });
    let apps_tasks = task_ids(&cluster.marathon_json("/v2/apps/torn/tasks"));
    let all_tasks = task_ids(&cluster.marathon_json("/v2/tasks"));
    let embedded = task_ids(&cluster.marathon_json("/v2/apps?embed=apps.tasks")["apps"][0]);
    for old in &old_tasks {
        assert!(!apps_tasks.contains(old), "{old} in {apps_tasks:?}");
        assert!(!all_tasks.contains(old), "{old} in {all_tasks:?}");
        assert!(!embedded.contains(old), "{old} in {embedded:?}");
    }
    // The master runs the new tasks under the new framework id.
    let master = cluster.master_json("/master/frameworks");
    let framework = master["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["id"] == new_id.as_str())
        .unwrap_or_else(|| panic!("{new_id} at the master: {master}"));
    let running = framework["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .count();
    assert_eq!(running, 2, "{framework}");
}
