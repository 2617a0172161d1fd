//! Issue 13's Docker test in one cluster: a bridged Docker app posted to `drover marathon` runs
//! in a real (private) dockerd through the agent's Docker containerizer, and its port mapping's
//! offered host port answers HTTP from inside the container (curl it), with a MESOS_HTTP
//! health check through the same mapping; scaling to zero removes the container. Then a
//! resident Docker app keeps what it wrote on its persistent volume across a relaunch.

use crate::support;

use crate::dockerd;

use std::process::Command;
use std::time::Duration;

use dockerd::{Daemon, IMAGE};
use serde_json::json;
use support::Cluster;

/// A bridge for dockerd's default network (removed on drop), on a range of its own (the
/// agent's Docker suite uses 198.18.77.0/24 and may run at the same time).
struct Bridge(String);

impl Bridge {
    fn create() -> Bridge {
        let name = format!("drm{}", &std::process::id().to_string());
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().expect("ip");
            assert!(out.status.success(), "ip {args:?}: {out:?}");
        };
        let _ = Command::new("ip").args(["link", "del", &name]).status();
        ip(&["link", "add", &name, "type", "bridge"]);
        let bridge = Bridge(name.clone());
        ip(&["addr", "add", "198.18.78.1/24", "dev", &name]);
        ip(&["link", "set", &name, "up"]);
        bridge
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

/// Marathon's role, which the resident app reserves for.
const ROLE: &str = "docker-resident";

#[test]
fn a_bridged_marathon_docker_app_serves_on_its_offered_host_port() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!(
            "\n\n*** SKIPPED: the Docker suite needs root to run dockerd and a bridge ***\n\n"
        );
        return;
    }
    let bridge = Bridge::create();
    let daemon = Daemon::start_with(&[&format!("--bridge={}", bridge.0)]);
    daemon.import_busybox();
    let cluster = Cluster::start_with(support::Options {
        agents: 1,
        marathon: true,
        agent_flags: vec![
            "--containerizers=mesos,docker".into(),
            format!("--docker_socket={}", daemon.socket().display()),
        ],
        marathon_flags: vec![format!("--mesos_role={ROLE}")],
        ..Default::default()
    });
    let app = json!({
        "id": "/docker/served",
        "cpus": 0.1, "mem": 32, "instances": 1,
        "cmd": "mkdir -p /srv && echo hello-from-docker > /srv/index.html && exec httpd -f -p 8080 -h /srv",
        "networks": [{"mode": "container/bridge"}],
        "container": {
            "type": "DOCKER",
            "docker": {"image": IMAGE},
            "portMappings": [{"containerPort": 8080, "hostPort": 0, "name": "http"}]
        },
        "healthChecks": [{"protocol": "MESOS_HTTP", "portIndex": 0, "path": "/index.html",
                          "gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 2}]
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "{body}");
    let mut port = 0u16;
    support::wait_until(
        "the container answers on its offered host port",
        Duration::from_secs(120),
        || {
            let tasks = cluster.marathon_json("/v2/apps/docker/served/tasks");
            let Some(p) = tasks["tasks"][0]["ports"][0].as_u64() else {
                return false;
            };
            port = p as u16;
            support::http_get(port, "/index.html")
                .is_some_and(|(code, body)| code == 200 && body.contains("hello-from-docker"))
        },
    );
    support::wait_until("Marathon sees it healthy", Duration::from_secs(60), || {
        let tasks = cluster.marathon_json("/v2/apps/docker/served/tasks");
        tasks["tasks"][0]["healthCheckResults"][0]["alive"] == true
    });
    let named = |daemon: &Daemon| {
        let out = daemon.cli(&["ps", "-q", "--filter", "name=mesos-"]);
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert_eq!(named(&daemon), 1, "one mesos-<container id> container");

    // Scaling to zero kills it; the agent removes the container after its delay (the default
    // keeps it 6 hours, as Mesos), so only its state is checked: not running.
    let (status, body) = cluster.marathon_request(
        "PUT",
        "/v2/apps/docker/served",
        Some(&json!({"instances": 0})),
    );
    assert!(status == 200 || status == 201, "{body}");
    support::wait_until("the container stopped", Duration::from_secs(60), || {
        named(&daemon) == 0
    });
    assert!(support::http_get(port, "/index.html").is_none_or(|(code, _)| code != 200));

    // A resident Docker app: its persistent volume is bound under the container's sandbox
    // mount, and a killed task's relaunch on the same reservation finds what the first wrote.
    let app = json!({
        "id": "/docker/store", "cpus": 0.1, "mem": 32, "disk": 1, "instances": 1,
        "role": ROLE,
        "cmd": "cd \"$MESOS_SANDBOX\" && echo \"run $MESOS_TASK_ID\" >> data/log \
                && if grep -q \" $MESOS_SANDBOX/data \" /proc/self/mounts; then echo MOUNTED; fi \
                && echo BEGIN && cat data/log && echo END && exec sleep 600",
        "container": {
            "type": "DOCKER",
            "docker": {"image": IMAGE},
            "volumes": [{"containerPath": "data", "mode": "RW",
                         "persistent": {"type": "root", "size": 8}}]
        }
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "{body}");
    let running =
        |cluster: &Cluster| crate::marathon_resident::running_ids(cluster, "docker/store");
    let mut first = String::new();
    support::wait_until(
        "the resident Docker task running",
        Duration::from_secs(120),
        || {
            first = running(&cluster).pop().unwrap_or_default();
            !first.is_empty()
        },
    );
    let agent_dir = cluster.dir.path().join("agent");
    support::wait_until(
        "the first run wrote its line on a mounted volume",
        Duration::from_secs(60),
        || {
            let seen = crate::marathon_resident::stdouts(&agent_dir);
            seen.contains("MOUNTED") && seen.contains(&format!("run {first}"))
        },
    );
    let (status, body) = cluster.marathon_request(
        "DELETE",
        &format!("/v2/apps/docker/store/tasks/{first}"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let mut second = String::new();
    support::wait_until(
        "the instance relaunched on its reservation",
        Duration::from_secs(120),
        || {
            second = running(&cluster)
                .into_iter()
                .find(|id| *id != first)
                .unwrap_or_default();
            !second.is_empty()
        },
    );
    support::wait_until(
        "the relaunch saw the first run's line",
        Duration::from_secs(60),
        || {
            crate::marathon_resident::stdouts(&agent_dir)
                .split("BEGIN")
                .any(|run| {
                    run.contains(&format!("run {first}")) && run.contains(&format!("run {second}"))
                })
        },
    );
    let (status, body) = cluster.marathon_request("DELETE", "/v2/apps/docker/store", None);
    assert_eq!(status, 200, "{body}");
    support::wait_until(
        "the resident container stopped",
        Duration::from_secs(60),
        || named(&daemon) == 0,
    );
}
