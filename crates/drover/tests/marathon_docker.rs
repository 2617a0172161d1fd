//! Issue 13 item 4 against real processes: a bridged Docker app posted to `drover marathon`
//! reaches the master as a TaskInfo with the Docker `ContainerInfo` (image, network, the port
//! mapping with a host port from the offer, volumes) and a `DiscoveryInfo`, and the task's
//! `ports` in `/v2/apps/{id}/tasks` and `/v2/apps?embed=apps.tasks` are those host ports (what
//! marathon-lb reads). marathon-python's model classes create one too.
//!
//! Running the container is the agent's business (its Docker containerizer, tested there); the
//! agent is paused here so the task stays staged and the test reads what Marathon sent from the
//! master's view, whatever the agent does with it afterwards.

use crate::support;

use serde_json::{Value, json};
use support::{Cluster, run_python};

/// The master's task (active or completed) with this id.
fn master_task(cluster: &Cluster, task_id: &str) -> Option<Value> {
    let state = cluster.master_json("/master/state");
    state["frameworks"]
        .as_array()?
        .iter()
        .flat_map(|f| {
            let active = f["tasks"].as_array().cloned().unwrap_or_default();
            let done = f["completed_tasks"].as_array().cloned().unwrap_or_default();
            active.into_iter().chain(done)
        })
        .find(|t| t["id"] == task_id)
}

#[test]
fn a_bridged_docker_app_reaches_the_master_with_its_image_and_offered_host_port() {
    let mut cluster = Cluster::start(true);
    cluster.agent_at(0).pause();

    let app = json!({
        "id": "/docker/web",
        "cpus": 0.1, "mem": 16, "instances": 1,
        "networks": [{"mode": "container/bridge"}],
        "container": {
            "type": "DOCKER",
            "docker": {"image": "localhost:5000/web:1", "forcePullImage": true},
            "volumes": [{"containerPath": "/data", "hostPath": "/tmp", "mode": "RO"}],
            "portMappings": [{"containerPort": 80, "hostPort": 0, "name": "http",
                              "labels": {"VIP_0": "/web:80"}}]
        }
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "{body}");
    let service_port = body["container"]["portMappings"][0]["servicePort"]
        .as_u64()
        .expect("a service port");
    assert!((10_000..20_000).contains(&service_port), "{service_port}");
    assert!(body.get("portDefinitions").is_none(), "{body}");

    let mut task = Value::Null;
    cluster.wait_for("the task to be staged with a host port", || {
        task = cluster.marathon_json("/v2/apps/docker/web/tasks")["tasks"][0].clone();
        task["ports"].as_array().is_some_and(|p| !p.is_empty())
    });
    let host_port = task["ports"][0].as_u64().expect("port");
    assert!((31_000..=31_999).contains(&host_port), "{task}");
    let task_id = task["id"].as_str().expect("task id").to_owned();

    // What the master was given.
    let mut seen = Value::Null;
    cluster.wait_for("the master to know the task", || {
        seen = master_task(&cluster, &task_id).unwrap_or(Value::Null);
        !seen.is_null()
    });
    let container = &seen["container"];
    assert_eq!(container["type"], "DOCKER", "{seen}");
    assert_eq!(container["docker"]["image"], "localhost:5000/web:1");
    assert_eq!(container["docker"]["network"], "BRIDGE");
    assert_eq!(container["docker"]["force_pull_image"], true);
    assert_eq!(
        container["docker"]["port_mappings"],
        json!([{"host_port": host_port, "container_port": 80, "protocol": "tcp"}])
    );
    assert_eq!(container["volumes"][0]["container_path"], "/data");
    assert_eq!(container["volumes"][0]["host_path"], "/tmp");
    assert_eq!(container["volumes"][0]["mode"], "RO");
    let ports = &seen["discovery"]["ports"]["ports"];
    assert_eq!(ports[0]["number"], host_port, "{seen}");
    assert_eq!(ports[0]["name"], "http");

    // The app embed marathon-lb reads: host ports per task, service ports per app.
    let apps = cluster.marathon_json("/v2/apps?embed=apps.tasks");
    let embedded = &apps["apps"][0];
    assert_eq!(embedded["tasks"][0]["ports"], json!([host_port]), "{apps}");
    assert_eq!(
        embedded["container"]["portMappings"][0]["servicePort"],
        service_port
    );
    let tasks = cluster.marathon_json("/v2/tasks");
    assert_eq!(tasks["tasks"][0]["servicePorts"], json!([service_port]));

    // marathon-python's model classes: a Docker app in both API generations, read back, and a
    // refused field.
    run_python(
        &cluster,
        "marathon_docker.py",
        &[
            format!("http://127.0.0.1:{}", cluster.marathon_port),
            format!("http://127.0.0.1:{}", cluster.master_port),
        ],
    );
    cluster.agent_at(0).resume();
}
