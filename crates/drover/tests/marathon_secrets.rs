//! Issue 15 item 6, real processes: Marathon's `secrets`, `{"secret": id}` environment values
//! and a MESOS container's secret volumes reach a task through the agent's secret store
//! (`--secrets_dir`): the task sees the value in its environment and in a file of its sandbox
//! (mode 0400), the API shows only the reference, a secret the store does not hold fails the launch
//! (REASON_CONTAINER_LAUNCH_FAILED) naming it, and a reference to an undefined secret is a 422.

use crate::support;

use std::path::Path;

use serde_json::json;
use support::{Cluster, Options};

/// The content of every sandbox `stdout` under `dir`.
fn stdouts(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => stack.push(path),
                Ok(_) if path.file_name().is_some_and(|n| n == "stdout") => {
                    out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
                }
                _ => {}
            }
        }
    }
    out
}

#[test]
fn secrets_from_the_agents_store_reach_the_task_and_never_the_api() {
    let store = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(store.path().join("prod")).unwrap();
    std::fs::write(store.path().join("prod/db-password"), "s3cret-value").unwrap();
    let cluster = Cluster::start_with(Options {
        agents: 1,
        marathon: true,
        agent_flags: vec![format!("--secrets_dir={}", store.path().display())],
        ..Options::default()
    });

    // A reference to a secret the app does not define: 422 naming the variable, nothing stored.
    let (status, body) = cluster.marathon_request(
        "POST",
        "/v2/apps",
        Some(&json!({"id": "/undefined", "cmd": "sleep 60", "env": {"PW": {"secret": "nope"}}})),
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("/env/PW"), "{body}");
    assert!(body.to_string().contains("undefined secret"), "{body}");

    let app = json!({
        "id": "/with-secret", "cpus": 0.1, "mem": 32, "instances": 1,
        "cmd": "echo \"password=$DB_PASSWORD plain=$PLAIN file=$(cat conf/db) mode=$(stat -c %a conf/db)\"; exec sleep 600",
        "env": {"PLAIN": "visible", "DB_PASSWORD": {"secret": "db"}},
        "secrets": {"db": {"source": "/prod/db-password"}},
        "container": {"type": "MESOS", "volumes": [{"containerPath": "conf/db", "secret": "db"}]}
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "{body}");
    assert!(!body.to_string().contains("s3cret-value"), "{body}");
    let agent_dir = cluster.dir.path().join("agent");
    cluster.wait_for("the task saw its secret", || {
        stdouts(&agent_dir)
            .contains("password=s3cret-value plain=visible file=s3cret-value mode=400")
    });
    let shown = cluster.marathon_json("/v2/apps/with-secret");
    assert_eq!(
        shown["app"]["env"]["DB_PASSWORD"],
        json!({"secret": "db"}),
        "{shown}"
    );
    assert_eq!(
        shown["app"]["secrets"],
        json!({"db": {"source": "/prod/db-password"}})
    );
    assert!(!shown.to_string().contains("s3cret-value"), "{shown}");
    // Nor do the master's or the agent's state documents carry it.
    assert!(
        !cluster
            .master_json("/master/state")
            .to_string()
            .contains("s3cret-value")
    );

    // A secret the store does not hold: the launch fails, naming the variable and the secret.
    let missing = json!({
        "id": "/missing-secret", "cpus": 0.1, "mem": 32, "instances": 1,
        "cmd": "exec sleep 600",
        "env": {"TOKEN": {"secret": "tok"}},
        "secrets": {"tok": {"source": "prod/api-token"}}
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&missing));
    assert_eq!(status, 201, "{body}");
    cluster.wait_for("the launch failed on the missing secret", || {
        let app = cluster.marathon_json("/v2/apps/missing-secret");
        let failure = &app["app"]["lastTaskFailure"];
        failure["message"]
            .as_str()
            .is_some_and(|m| m.contains("'TOKEN'") && m.contains("'prod/api-token'"))
    });
    let tasks = cluster.master_json("/master/tasks");
    let failed = tasks["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| {
            t["state"] == "TASK_FAILED"
                && t["id"]
                    .as_str()
                    .is_some_and(|i| i.starts_with("missing-secret."))
        })
        .cloned()
        .unwrap_or_default();
    let reason = &failed["status_history"]
        .as_array()
        .and_then(|s| s.last().cloned())
        .unwrap_or_default()["reason"];
    assert_eq!(reason, "REASON_CONTAINER_LAUNCH_FAILED", "{tasks}");
}

/// A pod's secrets: a container's `{"secret": id}` variable reaches that container's task only
/// (its own nested container), the pod shows only the reference, and an undefined reference is
/// a 422 at the variable.
#[test]
fn a_pods_secret_reaches_only_the_container_that_asks() {
    let store = tempfile::tempdir().unwrap();
    std::fs::write(store.path().join("pod-token"), "pod-s3cret").unwrap();
    let cluster = Cluster::start_with(Options {
        agents: 1,
        marathon: true,
        agent_flags: vec![format!("--secrets_dir={}", store.path().display())],
        ..Options::default()
    });
    let print = "echo \"token=${TOKEN:-none}\"; exec sleep 600";
    let container = |name: &str, env: serde_json::Value| {
        json!({"name": name, "exec": {"command": {"shell": print}},
               "resources": {"cpus": 0.1, "mem": 24}, "environment": env})
    };
    let undefined = json!({
        "id": "/pod-undefined", "scaling": {"kind": "fixed", "instances": 1},
        "containers": [container("a", json!({"TOKEN": {"secret": "nope"}}))]
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/pods", Some(&undefined));
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string()
            .contains("/containers(0)/environment/TOKEN"),
        "{body}"
    );

    let pod = json!({
        "id": "/pod-secret", "scaling": {"kind": "fixed", "instances": 1},
        "secrets": {"tok": {"source": "pod-token"}},
        "containers": [
            container("holder", json!({"TOKEN": {"secret": "tok"}})),
            container("other", json!({}))
        ]
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/pods", Some(&pod));
    assert_eq!(status, 201, "{body}");
    let agent_dir = cluster.dir.path().join("agent");
    cluster.wait_for("both containers printed", || {
        let out = stdouts(&agent_dir);
        out.contains("token=pod-s3cret") && out.contains("token=none")
    });
    assert_eq!(stdouts(&agent_dir).matches("token=pod-s3cret").count(), 1);
    let shown = cluster.marathon_json("/v2/pods/pod-secret");
    assert_eq!(
        shown["containers"][0]["environment"]["TOKEN"],
        json!({"secret": "tok"}),
        "{shown}"
    );
    assert_eq!(shown["secrets"], json!({"tok": {"source": "pod-token"}}));
    assert!(
        !cluster
            .master_json("/master/state")
            .to_string()
            .contains("pod-s3cret")
    );
}
