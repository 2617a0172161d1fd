//! A resident Marathon app on a local persistent volume, end to end: `drover marathon` (with
//! `--mesos_role`), `drover master` and a real agent. The app's command appends a line to a
//! file in its volume and prints the file; a killed task is relaunched on the same agent and
//! sees the earlier line; deleting the app destroys the volume and unreserves its resources.

use crate::support;

use std::path::Path;

use serde_json::{Value, json};
use support::{Cluster, Options};

pub(crate) const ROLE: &str = "resident-role";

/// The content of every sandbox `stdout` under `dir`.
pub(crate) fn stdouts(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && !kind.is_symlink() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "stdout") {
                out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    out
}

/// The ids of `app`'s running tasks (`app` without its leading `/`).
pub(crate) fn running_ids(cluster: &Cluster, app: &str) -> Vec<String> {
    cluster.marathon_json(&format!("/v2/apps/{app}/tasks"))["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect()
}

/// The running task of `/resident`, if there is exactly one: (task id, agent id, task JSON).
fn running_task(cluster: &Cluster) -> Option<(String, String, Value)> {
    let tasks = cluster.marathon_json("/v2/apps/resident/tasks")["tasks"].clone();
    let running: Vec<Value> = tasks
        .as_array()?
        .iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .cloned()
        .collect();
    let [task] = running.as_slice() else {
        return None;
    };
    Some((
        task["id"].as_str()?.to_owned(),
        task["slaveId"].as_str()?.to_owned(),
        task.clone(),
    ))
}

/// What the master holds reserved for the role, in `/master/state`'s two forms.
pub(crate) fn reserved_for_role(cluster: &Cluster) -> Vec<Value> {
    let state = cluster.master_json("/master/state");
    let mut out = Vec::new();
    for slave in state["slaves"].as_array().cloned().unwrap_or_default() {
        if let Some(list) = slave["reserved_resources_full"][ROLE].as_array() {
            out.extend(list.iter().cloned());
        }
        if let Some(summary) = slave["reserved_resources"][ROLE].as_object() {
            for (name, value) in summary {
                if value.as_f64().is_some_and(|v| v > 0.0)
                    || value.as_str().is_some_and(|s| !s.is_empty())
                {
                    out.push(json!({name: value}));
                }
            }
        }
    }
    out
}

#[test]
fn a_resident_app_keeps_its_volume_across_relaunches_and_releases_it_when_deleted() {
    let mut cluster = Cluster::start_with(Options {
        agents: 1,
        marathon: true,
        marathon_flags: vec![format!("--mesos_role={ROLE}")],
        ..Options::default()
    });
    let app = json!({
        "id": "/resident",
        "cmd": "echo \"run $MESOS_TASK_ID\" >> data/log && echo BEGIN && cat data/log \
                && echo END && exec sleep 600",
        "cpus": 0.1, "mem": 32, "disk": 1, "instances": 1,
        "role": ROLE,
        "container": {
            "type": "MESOS",
            "volumes": [{"containerPath": "data", "mode": "RW",
                         "persistent": {"type": "root", "size": 8}}]
        }
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["residency"]["taskLostBehavior"], "WAIT_FOREVER",
        "{body}"
    );

    let mut first = None;
    cluster.wait_for("the resident task running on its reservation", || {
        first = running_task(&cluster);
        first.is_some()
    });
    let (first_id, agent_id, task) = first.unwrap();
    let volumes = task["localVolumes"].as_array().cloned().unwrap_or_default();
    assert_eq!(volumes.len(), 1, "{task}");
    assert_eq!(volumes[0]["containerPath"], "data", "{task}");
    let persistence_id = volumes[0]["persistenceId"].as_str().unwrap().to_owned();
    assert!(persistence_id.starts_with("resident#data#"), "{task}");
    assert!(
        !reserved_for_role(&cluster).is_empty(),
        "the master shows the reservation for {ROLE}"
    );
    let agent_dir = cluster.dir.path().join("agent");
    cluster.wait_for("the first task wrote its line", || {
        stdouts(&agent_dir).contains(&format!("run {first_id}"))
    });

    // A kill without wipe: the same instance is relaunched on its reservation.
    let (status, body) = cluster.marathon_request(
        "DELETE",
        &format!("/v2/apps/resident/tasks/{first_id}"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let mut second = None;
    cluster.wait_for("a new task of the resident instance running", || {
        second = running_task(&cluster).filter(|(id, _, _)| *id != first_id);
        second.is_some()
    });
    let (second_id, second_agent, task) = second.unwrap();
    assert_eq!(second_agent, agent_id, "relaunched on the same agent");
    assert_eq!(
        task["localVolumes"][0]["persistenceId"], persistence_id,
        "on the same volume"
    );
    let first_instance = first_id.rsplit_once("._app.").unwrap().0;
    assert!(
        second_id.starts_with(first_instance),
        "the same instance: {second_id}"
    );
    // The second run printed the file after appending: the first run's line is there.
    cluster.wait_for("the relaunched task saw the earlier data", || {
        let out = stdouts(&agent_dir);
        out.split("BEGIN").any(|run| {
            run.contains(&format!("run {first_id}")) && run.contains(&format!("run {second_id}"))
        })
    });

    // Deleting the app destroys the volume and unreserves everything of the role.
    // The agent process dies and comes back: its volume is still there, and the instance's
    // next task, on the same reservation, finds every earlier line.
    cluster.agent.kill();
    cluster.start_agent_again(0);
    cluster.wait_for("the agent back with the reservation", || {
        support::get_json(cluster.master_port, "/master/slaves")
            .is_some_and(|s| s["slaves"][0]["active"] == true)
            && !reserved_for_role(&cluster).is_empty()
    });
    let (status, body) = cluster.marathon_request(
        "DELETE",
        &format!("/v2/apps/resident/tasks/{second_id}"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let mut third = None;
    cluster.wait_for("the instance's task after the agent restart", || {
        third = running_task(&cluster).filter(|(id, _, _)| *id != first_id && *id != second_id);
        third.is_some()
    });
    let (third_id, third_agent, _) = third.unwrap();
    assert_eq!(third_agent, agent_id);
    cluster.wait_for("the task after the restart saw all the data", || {
        stdouts(&agent_dir).split("BEGIN").any(|run| {
            [&first_id, &second_id, &third_id]
                .iter()
                .all(|id| run.contains(&format!("run {id}")))
        })
    });

    let (status, body) = cluster.marathon_request("DELETE", "/v2/apps/resident", None);
    assert_eq!(status, 200, "{body}");
    cluster.wait_for("no reserved resources left for the role", || {
        reserved_for_role(&cluster).is_empty()
            && cluster.marathon_json("/v2/apps")["apps"]
                .as_array()
                .is_some_and(Vec::is_empty)
    });
}
