//! Issue 16 item 5 against real processes: a pod posted to `drover marathon` reaches the
//! master as one LAUNCH_GROUP per instance — a DEFAULT executor `instance-<pod>.<uuid>` with
//! the executor's resources and the host ports, one task per container
//! (`<instance>.<container>.1`) with its own resources, health check and DiscoveryInfo — and
//! `drover pod` lists, shows, scales and removes it. `marathon_pod_lifecycle.rs` runs the pod
//! through its whole life.

use crate::support;

use serde_json::{Value, json};
use support::drover_cli as drover;
use support::{Cluster, Options};

/// Marathon 1.10's documented pod shape: two containers, an endpoint, a health check.
pub fn docs_pod(instances: u32) -> Value {
    json!({
        "id": "/web/pod",
        "scaling": {"kind": "fixed", "instances": instances},
        "containers": [
            {
                "name": "web",
                "exec": {"command": {"shell": "exec python3 -m http.server $ENDPOINT_HTTP"}},
                "resources": {"cpus": 0.1, "mem": 32},
                "endpoints": [{"name": "http", "hostPort": 0, "protocol": ["http"]}],
                "healthCheck": {"http": {"endpoint": "http", "path": "/"},
                                "gracePeriodSeconds": 30, "intervalSeconds": 1,
                                "timeoutSeconds": 1, "delaySeconds": 0}
            },
            {
                "name": "sidecar",
                "exec": {"command": {"shell": "sleep 1000"}},
                "resources": {"cpus": 0.1, "mem": 16}
            }
        ],
        "networks": [{"mode": "host"}]
    })
}

fn scalar(resources: &Value, name: &str) -> f64 {
    resources[name].as_f64().unwrap_or(0.0)
}

/// `drover <args>` against the cluster's scheduler: (exit code, stdout).

#[test]
fn a_pod_instance_reaches_the_master_as_one_launch_group() {
    let cluster = Cluster::start_with(Options {
        agents: 1,
        marathon: true,
        ..Options::default()
    });
    let file = cluster.dir.path().join("pod.json");
    std::fs::write(&file, docs_pod(2).to_string()).unwrap();
    let (code, out) = drover(
        &cluster,
        &["pod", "add", file.to_str().unwrap(), "--detach"],
    );
    assert_eq!(code, 0, "{out}");

    // Four tasks (two instances of two containers) known to the master, all running (looked
    // for among the live and the completed tasks alike, so that a replaced instance would
    // show).
    let port = cluster.master_port;
    let tasks = || -> Vec<Value> {
        support::get_json(port, "/master/state")
            .map(|s| {
                s["frameworks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|f| {
                        let mut all = f["tasks"].as_array().cloned().unwrap_or_default();
                        all.extend(f["completed_tasks"].as_array().cloned().unwrap_or_default());
                        all
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let first_two = |tasks: &[Value]| -> Vec<Value> {
        let mut executors: Vec<String> = Vec::new();
        for t in tasks {
            let executor = t["executor_id"].as_str().unwrap_or_default().to_owned();
            if !executors.contains(&executor) {
                executors.push(executor);
            }
        }
        executors.truncate(2);
        tasks
            .iter()
            .filter(|t| executors.iter().any(|e| t["executor_id"] == e.as_str()))
            .cloned()
            .collect()
    };
    cluster.wait_for("the pod's four tasks at the master", || {
        first_two(&tasks()).len() == 4
    });
    let first = first_two(&tasks());
    cluster.wait_for("the pod's four tasks running", || {
        tasks()
            .iter()
            .filter(|t| t["state"] == "TASK_RUNNING")
            .count()
            == 4
    });
    let tasks = first;
    let mut instances = std::collections::BTreeMap::<String, Vec<&Value>>::new();
    for t in &tasks {
        let id = t["id"].as_str().unwrap();
        let (instance, rest) = id.split_once(".instance-").unwrap();
        assert_eq!(instance, "web_pod", "{id}");
        let (uuid, container) = rest.split_once('.').unwrap();
        assert!(
            container == "web.1" || container == "sidecar.1",
            "task id {id}: <instance>.<container>.<incarnation>"
        );
        assert_eq!(
            t["executor_id"],
            format!("instance-web_pod.{uuid}"),
            "every task of an instance runs under its instance's executor"
        );
        instances
            .entry(t["executor_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(t);
    }
    assert_eq!(instances.len(), 2, "one group (executor) per instance");
    for group in instances.values() {
        let web = group.iter().find(|t| t["name"] == "web").expect("web task");
        let sidecar = group
            .iter()
            .find(|t| t["name"] == "sidecar")
            .expect("sidecar");
        assert!(
            (scalar(&web["resources"], "cpus") - 0.1).abs() < 1e-9,
            "{web}"
        );
        assert_eq!(scalar(&web["resources"], "mem"), 32.0, "{web}");
        assert_eq!(scalar(&sidecar["resources"], "mem"), 16.0, "{sidecar}");
        let check = &web["health_check"];
        assert_eq!(check["type"], "HTTP", "{web}");
        let port = check["http"]["port"].as_u64().expect("health check port");
        assert!(port > 0);
        let discovery = &web["discovery"];
        assert_eq!(discovery["name"], "pod.web");
        assert_eq!(discovery["ports"]["ports"][0]["number"], port);
        assert_eq!(discovery["ports"]["ports"][0]["name"], "http");
    }

    // The executors: DEFAULT, with the executor's resources and the instance's host port.
    let (code, text) = cluster.operator(&json!({"type": "GET_EXECUTORS"}));
    assert_eq!(code, 200, "{text}");
    let executors: Value = serde_json::from_str(&text).unwrap();
    let infos: Vec<&Value> = executors["get_executors"]["executors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["executor_info"])
        .filter(|e| instances.contains_key(e["executor_id"]["value"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(infos.len(), 2, "{text}");
    for info in infos {
        assert_eq!(info["type"], "DEFAULT", "{info}");
        let resources = info["resources"].as_array().expect("resources");
        let amount = |name: &str| -> f64 {
            resources
                .iter()
                .filter(|r| r["name"] == name)
                .filter_map(|r| r["scalar"]["value"].as_f64())
                .sum()
        };
        assert!((amount("cpus") - 0.1).abs() < 1e-9, "{info}");
        assert_eq!(amount("mem"), 32.0, "{info}");
        assert_eq!(amount("disk"), 10.0, "{info}");
        assert!(resources.iter().any(|r| r["name"] == "ports"), "{info}");
    }

    // The CLI lists and shows it, scales it and removes it.
    let (code, out) = drover(&cluster, &["pod", "list"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("/web/pod") && out.contains("web,sidecar"),
        "{out}"
    );
    let (code, out) = drover(&cluster, &["pod", "show", "/web/pod"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("TASK_RUNNING"), "{out}");
    let (code, out) = drover(
        &cluster,
        &["pod", "scale", "web/pod", "1", "--detach", "--force"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        cluster.marathon_json("/v2/pods/web/pod")["scaling"]["instances"],
        1
    );
    let (code, out) = drover(
        &cluster,
        &["pod", "remove", "/web/pod", "--detach", "--force"],
    );
    assert_eq!(code, 0, "{out}");
    let (status, _) = cluster.marathon_request("GET", "/v2/pods/web/pod", None);
    assert_eq!(status, 404);
    let (code, out) = drover(&cluster, &["pod", "show", "/web/pod"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Pod '/web/pod' does not exist"), "{out}");
}
