//! Marathon apps and pods whose MESOS container names a Docker image run end to end on the
//! Mesos containerizer (UCR), pulled from a private registry with no Docker daemon: an app's
//! `cmd` runs in the image and serves on its offered host port, a pod's container runs the
//! image, and a `forcePullImage` app pulls its manifest again.

use crate::support;

use crate::registry;

use std::time::Duration;

use registry::{Registry, busybox_layer, layer};
use serde_json::{Value, json};
use support::Cluster;

const LONG: Duration = Duration::from_secs(90);

fn push_web(runtime: &tokio::runtime::Runtime, registry: &Registry) -> Vec<String> {
    let base = busybox_layer(&[("www/index.html", 0o644, b"from-the-image\n".to_vec())]);
    let top = layer(&[("etc/motd", 0o644, b"ucr\n".to_vec())], &[]);
    runtime.block_on(registry.push(
        "web",
        "1",
        &[base, top],
        json!({"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/www"}),
    ))
}

fn get(port: u16) -> Option<String> {
    support::http_get(port, "/index.html").map(|(_, body)| body)
}

#[test]
fn marathon_apps_and_pods_run_docker_images_on_the_mesos_containerizer() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("\n\n*** SKIPPED: UCR needs root (mounts, namespaces, cgroups) ***\n\n");
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let registry = runtime.block_on(Registry::start());
    let layers = push_web(&runtime, &registry);
    let cluster = Cluster::start_with(support::Options {
        agents: 1,
        marathon: true,
        agent_flags: vec![
            "--image_providers=docker".into(),
            format!("--docker_registry={}", registry.url()),
        ],
        ..Default::default()
    });

    // An app: the image's files, served by busybox from the image on the offered port.
    let app = json!({
        "id": "/ucr/web", "cpus": 0.1, "mem": 32, "instances": 1,
        "cmd": "exec httpd -f -p $PORT0 -h /www",
        "container": {"type": "MESOS", "docker": {"image": "web:1", "forcePullImage": true}},
        "portDefinitions": [{"port": 0}]
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "{body}");
    let mut port = 0u16;
    support::wait_until("the app's task serves the image's page", LONG, || {
        let tasks = cluster.marathon_json("/v2/apps/ucr/web/tasks");
        let Some(p) = tasks["tasks"][0]["ports"][0].as_u64() else {
            return false;
        };
        port = p as u16;
        get(port).is_some_and(|b| b.contains("from-the-image"))
    });
    let shown = cluster.marathon_json("/v2/apps/ucr/web");
    assert_eq!(shown["app"]["container"]["type"], "MESOS", "{shown}");
    assert_eq!(shown["app"]["container"]["docker"]["image"], "web:1");
    assert_eq!(shown["app"]["container"]["docker"]["forcePullImage"], true);
    let tasks = cluster.master_json("/master/tasks");
    let task = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["framework_id"].is_string() && t["state"] == "TASK_RUNNING")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        task["container"]["mesos"]["image"]["docker"]["name"], "web:1",
        "{task}"
    );
    assert_eq!(
        task["container"]["mesos"]["image"]["cached"], false,
        "{task}"
    );

    // A pod: its container runs the image (its own nested container).
    let pod = json!({
        "id": "/ucr/pod",
        "scaling": {"kind": "fixed", "instances": 1},
        "containers": [{
            "name": "web",
            "image": {"kind": "DOCKER", "id": "web:1"},
            "exec": {"command": {"shell": "exec httpd -f -p $ENDPOINT_HTTP -h /www"}},
            "resources": {"cpus": 0.1, "mem": 32},
            "endpoints": [{"name": "http", "hostPort": 0}]
        }],
        "networks": [{"mode": "host"}]
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/pods", Some(&pod));
    assert_eq!(status, 201, "{body}");
    let mut pod_port = 0u16;
    support::wait_until("the pod's container serves the image's page", LONG, || {
        let s = cluster.marathon_json("/v2/pods/ucr/pod::status");
        let Some(p) =
            s["instances"][0]["containers"][0]["endpoints"][0]["allocatedHostPort"].as_u64()
        else {
            return false;
        };
        pod_port = p as u16;
        get(pod_port).is_some_and(|b| b.contains("from-the-image"))
    });
    let spec = cluster.marathon_json("/v2/pods/ucr/pod");
    assert_eq!(spec["containers"][0]["image"]["id"], "web:1", "{spec}");
    // The app (forcePullImage: its manifest again) and the pod shared the agent's layers.
    for digest in &layers {
        assert_eq!(
            registry.blob_gets(digest),
            1,
            "layer {digest} downloaded once"
        );
    }

    // An image the registry does not have: the task fails naming it, and Marathon says so.
    let missing = json!({
        "id": "/ucr/missing", "cpus": 0.1, "mem": 32, "instances": 1, "cmd": "true",
        "container": {"type": "MESOS", "docker": {"image": "nothere:1"}},
        "backoffSeconds": 60
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&missing));
    assert_eq!(status, 201, "{body}");
    support::wait_until("the launch failure reaches Marathon", LONG, || {
        let app = cluster.marathon_json("/v2/apps/ucr/missing");
        app["app"]["lastTaskFailure"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothere:1") && m.contains("not found"))
    });
}

/// A resident app whose MESOS container names a Docker image: its persistent volume is
/// bind-mounted in the image's root filesystem, under the sandbox's mount point, and a killed
/// task's relaunch on the same reservation finds what the first one wrote.
#[test]
fn a_resident_app_in_an_image_keeps_its_volume_across_relaunches() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("\n\n*** SKIPPED: UCR needs root (mounts, namespaces, cgroups) ***\n\n");
        return;
    }
    const ROLE: &str = "ucr-resident";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let registry = runtime.block_on(Registry::start());
    let base = busybox_layer(&[]);
    runtime.block_on(registry.push(
        "store",
        "1",
        &[base],
        json!({"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]}),
    ));
    let cluster = Cluster::start_with(support::Options {
        agents: 1,
        marathon: true,
        agent_flags: vec![
            "--image_providers=docker".into(),
            format!("--docker_registry={}", registry.url()),
        ],
        marathon_flags: vec![format!("--mesos_role={ROLE}")],
        ..Default::default()
    });
    let app = json!({
        "id": "/ucr/store", "cpus": 0.1, "mem": 32, "disk": 1, "instances": 1, "role": ROLE,
        "cmd": "cd \"$MESOS_SANDBOX\" && echo \"run $MESOS_TASK_ID\" >> data/log \
                && if grep -q \" $MESOS_SANDBOX/data \" /proc/self/mounts; then echo MOUNTED; fi \
                && echo BEGIN && cat data/log && echo END && exec sleep 600",
        "container": {
            "type": "MESOS",
            "docker": {"image": "store:1"},
            "volumes": [{"containerPath": "data", "mode": "RW",
                         "persistent": {"type": "root", "size": 8}}]
        }
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "{body}");
    let running = |cluster: &Cluster| crate::marathon_resident::running_ids(cluster, "ucr/store");
    let mut first = String::new();
    support::wait_until("the resident task running in its image", LONG, || {
        first = running(&cluster).pop().unwrap_or_default();
        !first.is_empty()
    });
    // Every sandbox's stdout (the runs' outputs, each between BEGIN and END).
    let agent_dir = cluster.dir.path().join("agent");
    let stdout = |_task: &str| crate::marathon_resident::stdouts(&agent_dir);
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + LONG;
    while !(seen.contains("MOUNTED") && seen.contains(&format!("run {first}"))) {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run did not write its line on a mounted volume; stdout:\n{seen}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
        seen = stdout(&first);
    }
    let (status, body) =
        cluster.marathon_request("DELETE", &format!("/v2/apps/ucr/store/tasks/{first}"), None);
    assert_eq!(status, 200, "{body}");
    let mut second = String::new();
    support::wait_until("the instance relaunched on its reservation", LONG, || {
        second = running(&cluster)
            .into_iter()
            .find(|id| *id != first)
            .unwrap_or_default();
        !second.is_empty()
    });
    support::wait_until("the relaunch saw the first run's line", LONG, || {
        stdout(&second).split("BEGIN").any(|run| {
            run.contains(&format!("run {first}")) && run.contains(&format!("run {second}"))
        })
    });
    let (status, body) = cluster.marathon_request("DELETE", "/v2/apps/ucr/store", None);
    assert_eq!(status, 200, "{body}");
}
