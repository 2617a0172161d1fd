//! Issue 16 item 5 end to end: the pod of Marathon 1.10's documentation (two containers, an
//! endpoint, a health check) run by real processes — Marathon's LAUNCH_GROUP, the agent's
//! default executor — deploys, scales to 3, is restarted by a new version, has the instance of
//! a failed container replaced, and shows Marathon's `::status` shape; `drover pod` drives it.

use crate::support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::drover_cli as drover;
use support::{Cluster, READY_TIMEOUT, wait_until};

/// The documented pod: `web` serves HTTP on its endpoint and is health checked there;
/// `sidecar` runs beside it.
fn docs_pod(instances: u32, sidecar: &str) -> Value {
    json!({
        "id": "/web/pod",
        "scaling": {"kind": "fixed", "instances": instances},
        "containers": [
            {
                "name": "web",
                "exec": {"command": {"shell":
                    "mkdir -p www && echo ok > www/index.html && \
                     exec /usr/bin/busybox httpd -f -p $ENDPOINT_HTTP -h www"}},
                "resources": {"cpus": 0.1, "mem": 32},
                "endpoints": [{"name": "http", "hostPort": 0, "protocol": ["http"]}],
                "healthCheck": {"http": {"endpoint": "http", "path": "/index.html"},
                                "gracePeriodSeconds": 30, "intervalSeconds": 1,
                                "timeoutSeconds": 1, "delaySeconds": 0}
            },
            {
                "name": "sidecar",
                "exec": {"command": {"shell": sidecar}},
                "resources": {"cpus": 0.1, "mem": 16}
            }
        ],
        "networks": [{"mode": "host"}],
        "scheduling": {"backoff": {"backoff": 1, "backoffFactor": 1.0, "maxLaunchDelay": 5}}
    })
}

fn status(cluster: &Cluster) -> Value {
    cluster.marathon_json("/v2/pods/web/pod::status")
}

/// Ids of the STABLE instances.
fn stable(status: &Value) -> BTreeSet<String> {
    status["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["status"] == "STABLE")
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect()
}

/// The pid of the process whose environment names this Mesos task.
pub(crate) fn pid_of_task(task_id: &str) -> Option<u32> {
    let wanted = format!("MESOS_TASK_ID={task_id}");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let has = environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes());
            (has && cmdline.starts_with(b"sleep")).then_some(pid)
        })
}

#[test]
fn the_documented_pod_deploys_scales_restarts_and_replaces_a_failed_instance() {
    let cluster = Cluster::start(true);
    let file = cluster.dir.path().join("pod.json");
    std::fs::write(&file, docs_pod(1, "exec sleep 1000").to_string()).unwrap();

    // Deploys: the CLI waits until the instance runs and is healthy.
    let (code, out) = drover(
        &cluster,
        &["pod", "add", file.to_str().unwrap(), "--timeout", "120"],
    );
    assert_eq!(code, 0, "{out}\n{}", cluster.logs());
    let s = status(&cluster);
    assert_eq!(s["status"], "STABLE", "{s}");
    let instance = &s["instances"][0];
    assert_eq!(instance["status"], "STABLE", "{s}");
    let web = &instance["containers"][0];
    assert_eq!(web["name"], "web");
    assert_eq!(web["status"], "TASK_RUNNING");
    assert_eq!(web["conditions"][0]["name"], "healthy");
    assert_eq!(web["conditions"][0]["value"], "true");
    let port = web["endpoints"][0]["allocatedHostPort"]
        .as_u64()
        .expect("an allocated host port") as u16;
    let (code, body) = support::http_get(port, "/index.html").expect("the web container answers");
    assert_eq!((code, body.trim()), (200, "ok"));
    assert_eq!(instance["containers"][1]["status"], "TASK_RUNNING");
    for key in [
        "id",
        "spec",
        "status",
        "statusSince",
        "instances",
        "terminationHistory",
        "lastUpdated",
        "lastChanged",
    ] {
        assert!(s.get(key).is_some(), "::status has {key}: {s}");
    }

    // Scales to 3 (no restart of the first).
    let first = stable(&s);
    let (code, out) = drover(
        &cluster,
        &["pod", "scale", "/web/pod", "3", "--timeout", "120"],
    );
    assert_eq!(code, 0, "{out}\n{}", cluster.logs());
    let scaled = stable(&status(&cluster));
    assert_eq!(scaled.len(), 3);
    assert!(
        first.is_subset(&scaled),
        "scaling keeps the running instance"
    );

    // A new version (the sidecar changes) restarts every instance.
    std::fs::write(&file, docs_pod(3, "exec sleep 1001").to_string()).unwrap();
    let (code, out) = drover(
        &cluster,
        &[
            "pod",
            "update",
            "/web/pod",
            file.to_str().unwrap(),
            "--timeout",
            "180",
        ],
    );
    assert_eq!(code, 0, "{out}\n{}", cluster.logs());
    let port = cluster.marathon_port;
    wait_until("three new STABLE instances", READY_TIMEOUT, || {
        support::get_json(port, "/v2/pods/web/pod::status").is_some_and(|s| {
            let now = stable(&s);
            now.len() == 3
                && now.is_disjoint(&scaled)
                && s["instances"].as_array().unwrap().len() == 3
        })
    });
    let restarted = stable(&status(&cluster));

    // A failed container fails its instance: it is replaced, and its web container killed.
    let victim = restarted.iter().next().unwrap().clone();
    let sidecar_task = format!("{victim}.sidecar.1");
    let pid = pid_of_task(&sidecar_task).expect("the sidecar's process");
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    wait_until("the failed instance replaced", READY_TIMEOUT, || {
        support::get_json(port, "/v2/pods/web/pod::status").is_some_and(|s| {
            let now = stable(&s);
            now.len() == 3 && !now.contains(&victim)
        })
    });
    let s = status(&cluster);
    assert_eq!(
        s["terminationHistory"][0]["instanceID"],
        victim.as_str(),
        "{s}"
    );
    assert_eq!(
        s["terminationHistory"][0]["containers"][0]["containerId"],
        sidecar_task.as_str()
    );
    let web_task = format!("{victim}.web.1");
    let tasks = cluster.master_json("/master/tasks");
    let web_state = tasks["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["id"] == web_task.as_str())
        .map(|t| t["state"].clone());
    assert!(
        web_state.is_none_or(|s| s == "TASK_KILLED"),
        "the failed instance's web container is killed"
    );

    // Killing an instance through the API replaces it too.
    let some = stable(&s).into_iter().next().unwrap();
    let (code, body) = cluster.marathon_request(
        "DELETE",
        &format!("/v2/pods/web/pod::instances/{some}"),
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["instanceId"], some.as_str());
    wait_until("the killed instance replaced", READY_TIMEOUT, || {
        support::get_json(port, "/v2/pods/web/pod::status").is_some_and(|s| {
            let now = stable(&s);
            now.len() == 3 && !now.contains(&some)
        })
    });

    // Removal kills everything.
    let (code, out) = drover(&cluster, &["pod", "remove", "/web/pod", "--timeout", "120"]);
    assert_eq!(code, 0, "{out}");
    let master = cluster.master_port;
    wait_until("no pod task left", READY_TIMEOUT, || {
        support::get_json(master, "/master/tasks").is_some_and(|t| {
            t["tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|t| t["state"] != "TASK_RUNNING")
        })
    });
}
