//! A resident pod (a pod with a persistent volume), end to end: `drover marathon` (with
//! `--mesos_role`), `drover master` and a real agent with its default executor. The pod's
//! container appends a line to a file in the volume (mounted at `pgdata`) and prints the file;
//! when its process is killed, the same instance is relaunched on its reservation and the new
//! task sees the earlier line; deleting the pod destroys the volume and unreserves everything.

use crate::marathon_pod_lifecycle::pid_of_task;
use crate::marathon_resident::{ROLE, reserved_for_role, stdouts};
use crate::support;

use serde_json::{Value, json};
use support::{Cluster, Options};

/// The running tasks of `/respod`, from the master: (task id, agent id).
fn running(cluster: &Cluster) -> Vec<(String, String)> {
    cluster.master_json("/master/tasks")["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .filter(|t| t["id"].as_str().is_some_and(|id| id.starts_with("respod.")))
        .filter_map(|t| {
            Some((
                t["id"].as_str()?.to_owned(),
                t["slave_id"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The instance part of a pod task id (`<instance>.<container>.<incarnation>`).
fn instance_of(task_id: &str) -> &str {
    task_id.rsplitn(3, '.').nth(2).unwrap_or(task_id)
}

#[test]
fn a_resident_pod_keeps_its_volume_across_relaunches_and_releases_it_when_deleted() {
    let cluster = Cluster::start_with(Options {
        agents: 1,
        marathon: true,
        marathon_flags: vec![format!("--mesos_role={ROLE}")],
        ..Options::default()
    });
    let pod = json!({
        "id": "/respod",
        "role": ROLE,
        "containers": [{
            "name": "db",
            "exec": {"command": {"shell":
                "echo \"run $MESOS_TASK_ID\" >> pgdata/log && echo BEGIN && cat pgdata/log \
                 && echo END && exec sleep 600"}},
            "resources": {"cpus": 0.1, "mem": 32, "disk": 1},
            "volumeMounts": [{"name": "data", "mountPath": "pgdata"}]
        }],
        "volumes": [{"name": "data", "persistent": {"type": "root", "size": 8}}],
        "scheduling": {"backoff": {"backoff": 1, "backoffFactor": 1.0, "maxLaunchDelay": 5}}
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/pods", Some(&pod));
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["volumes"],
        json!([{"name": "data", "persistent": {"type": "root", "size": 8, "constraints": []}}])
    );
    assert_eq!(
        body["scheduling"]["unreachableStrategy"], "disabled",
        "{body}"
    );

    let mut first = Vec::new();
    cluster.wait_for("the resident pod's task running on its reservation", || {
        first = running(&cluster);
        first.len() == 1
    });
    let (first_id, agent_id) = first.remove(0);
    // The volume is the executor's: the master shows it among the role's reservations.
    let reserved = reserved_for_role(&cluster);
    let volume_ids: Vec<String> = reserved
        .iter()
        .filter_map(|r| r["disk"]["persistence"]["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(volume_ids.len(), 1, "{reserved:?}");
    assert!(volume_ids[0].starts_with("respod#data#"), "{volume_ids:?}");
    let agent_dir = cluster.dir.path().join("agent");
    cluster.wait_for("the first task wrote its line", || {
        stdouts(&agent_dir).contains(&format!("run {first_id}"))
    });

    // The container's process dies: the same instance is relaunched on its reservation.
    let pid = pid_of_task(&first_id).expect("the container's process");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut second = Vec::new();
    cluster.wait_for("a new task of the resident instance running", || {
        second = running(&cluster)
            .into_iter()
            .filter(|(id, _)| *id != first_id)
            .collect();
        second.len() == 1
    });
    let (second_id, second_agent) = second.remove(0);
    assert_eq!(second_agent, agent_id, "relaunched on the same agent");
    assert_eq!(
        instance_of(&second_id),
        instance_of(&first_id),
        "the same instance: {second_id}"
    );
    // The second run printed the file after appending: the first run's line is there.
    cluster.wait_for("the relaunched task saw the earlier data", || {
        stdouts(&agent_dir).split("BEGIN").any(|run| {
            run.contains(&format!("run {first_id}")) && run.contains(&format!("run {second_id}"))
        })
    });
    let still: Vec<Value> = reserved_for_role(&cluster)
        .into_iter()
        .filter(|r| r["disk"]["persistence"]["id"].as_str() == Some(volume_ids[0].as_str()))
        .collect();
    assert_eq!(still.len(), 1, "the same volume");

    // Deleting the pod destroys the volume and unreserves everything of the role.
    let (status, body) = cluster.marathon_request("DELETE", "/v2/pods/respod", None);
    assert_eq!(status, 202, "{body}");
    cluster.wait_for("no reserved resources left for the role", || {
        reserved_for_role(&cluster).is_empty() && running(&cluster).is_empty()
    });
}
