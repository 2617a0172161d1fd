//! Seed 2's TASK_LOST inference from its real cause (issue 18 item 3): "Marathon may receive a
//! TASK_LOST message if a Mesos agent is removed because a new Mesos agent registers with the
//! same IP address", and infers from its reason what it means. Here the agent's machine is
//! wiped: the agent process is SIGKILLed, its work dir removed, and a new agent starts at the
//! same address; the master removes the old one (TASK_LOST / REASON_AGENT_REMOVED even for
//! partition-aware Marathon), and Marathon reads that as Unreachable and starts a replacement.
//! And from the other real cause, an executor's own TASK_LOST with a reason (L24–L26).
//! `SEEDS.md` names these tests.

use crate::support;

use serde_json::json;
use support::{Cluster, EventStream};

#[test]
fn task_lost_because_a_new_agent_took_the_address_is_inferred_unreachable_and_replaced() {
    let mut cluster = Cluster::start(true);
    let events = EventStream::open(cluster.marathon_port);
    let app = json!({"id": "/wiped", "cmd": "sleep 300", "cpus": 0.1, "mem": 32,
        "instances": 1,
        "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 300}});
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "POST /v2/apps: {body}");
    let first = events.wait_status("/wiped", "TASK_RUNNING", &[]);
    let first_id = first["taskId"].as_str().expect("task id").to_owned();
    let old_agent = first["slaveId"].as_str().expect("agent id").to_owned();

    cluster.agent.kill();
    std::fs::remove_dir_all(cluster.dir.path().join("agent")).expect("wipe the agent");
    cluster.start_agent_again(0);

    let lost = events.wait("the task's TASK_LOST", |e| {
        e["eventType"] == "status_update_event"
            && e["taskId"] == first_id.as_str()
            && e["taskStatus"] == "TASK_LOST"
    });
    assert_eq!(lost["slaveId"], old_agent.as_str(), "{lost}");
    let instance = first_id
        .split("._app.")
        .next()
        .expect("instance part")
        .to_owned();
    events.wait("the instance inferred Unreachable", |e| {
        e["eventType"] == "instance_changed_event"
            && e["instanceId"] == instance.as_str()
            && e["condition"] == "Unreachable"
    });
    let replacement = events.wait_status("/wiped", "TASK_RUNNING", &[&first_id]);
    assert_ne!(
        replacement["slaveId"], old_agent,
        "the replacement runs on the new agent"
    );
    let log = cluster.marathon.as_ref().expect("marathon").log();
    assert!(
        log.lines().any(|l| l.contains(&first_id)
            && l.contains("TASK_LOST")
            && l.contains("REASON_AGENT_REMOVED")),
        "Marathon logs the TASK_LOST with its reason:\n{log}"
    );
}

/// Seed 2's other TASK_LOST inferences (L24–L26) from a real TASK_LOST: Mesos no longer sends
/// TASK_LOST to a partition-aware framework, but an executor may, and Marathon 1.10 reads its
/// reason. Each app runs under a custom executor (Marathon's `executor` path: a real pymesos
/// executor, `tests/python/reason_executor.py`) that answers its first task with TASK_LOST and
/// the app's reason: REASON_CONTAINER_PREEMPTED is inferred Gone, REASON_AGENT_DISCONNECTED
/// Unreachable, REASON_TASK_UNKNOWN Unknown; Gone and Unknown instances are expunged.
#[test]
fn task_lost_from_an_executor_is_inferred_from_its_reason() {
    let cluster = Cluster::start(true);
    let events = EventStream::open(cluster.marathon_port);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/reason_executor.py");
    let markers = cluster.dir.path().join("first-launches");
    std::fs::create_dir_all(&markers).expect("markers dir");
    // The first launch of each app reports; later ones (the replacements) stay quiet, so the
    // apps do not churn while the test reads the events.
    let executor = cluster.dir.path().join("lost-executor.sh");
    std::fs::write(
        &executor,
        format!(
            "#!/bin/sh\nif mkdir '{markers}/'\"$3\" 2>/dev/null; then exec '{python}' '{script}' \"$1\" \"$2\"; fi\nexec sleep 600\n",
            markers = markers.display(),
            python = support::python().display(),
            script = script.display(),
        ),
    )
    .expect("write the executor");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&executor, std::fs::Permissions::from_mode(0o755))
        .expect("make the executor executable");
    let cases = [
        ("preempted", "REASON_CONTAINER_PREEMPTED", "Gone", true),
        (
            "disconnected",
            "REASON_AGENT_DISCONNECTED",
            "Unreachable",
            false,
        ),
        ("unknown", "REASON_TASK_UNKNOWN", "Unknown", true),
    ];
    for (name, reason, _, _) in cases {
        let app = json!({"id": format!("/{name}"), "cmd": format!("TASK_LOST {reason} {name}"),
            "executor": executor.display().to_string(), "cpus": 0.1, "mem": 32,
            "instances": 1, "backoffSeconds": 600,
            "unreachableStrategy": {"inactiveAfterSeconds": 600, "expungeAfterSeconds": 1200}});
        let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
        assert_eq!(status, 201, "POST /v2/apps: {body}");
    }
    // `executorResources` reach the custom executor's ExecutorInfo: the master lists the
    // executor with them. This one's marker exists, so it only sleeps (never subscribes) and
    // stays listed until its registration times out.
    std::fs::create_dir_all(markers.join("resourced")).expect("marker");
    let app = json!({"id": "/resourced", "cmd": "TASK_LOST REASON_TASK_UNKNOWN resourced",
        "executor": executor.display().to_string(), "cpus": 0.1, "mem": 32, "instances": 1,
        "executorResources": {"cpus": 0.2, "mem": 48, "disk": 12}});
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "POST /v2/apps: {body}");
    let port = cluster.master_port;
    cluster.wait_for(
        "the custom executor listed with its executorResources",
        || {
            support::get_json(port, "/master/state").is_some_and(|state| {
                state["frameworks"].as_array().is_some_and(|fws| {
                    fws.iter()
                        .flat_map(|f| f["executors"].as_array().cloned().unwrap_or_default())
                        .any(|e| {
                            e["executor_id"]
                                .as_str()
                                .is_some_and(|id| id.starts_with("marathon-resourced"))
                                && e["resources"]["cpus"] == json!(0.2)
                                && e["resources"]["mem"] == json!(48.0)
                                && e["resources"]["disk"] == json!(12.0)
                        })
                })
            })
        },
    );
    for (name, reason, condition, expunged) in cases {
        let app_id = format!("/{name}");
        let lost = events.wait_status(&app_id, "TASK_LOST", &[]);
        let task_id = lost["taskId"].as_str().expect("task id").to_owned();
        assert!(
            lost["message"].as_str().is_some_and(|m| m.contains(reason)),
            "{lost}"
        );
        let instance = task_id
            .split("._app.")
            .next()
            .expect("instance part")
            .to_owned();
        events.wait(&format!("{app_id} inferred {condition}"), |e| {
            e["eventType"] == "instance_changed_event"
                && e["instanceId"] == instance.as_str()
                && e["condition"] == condition
        });
        if expunged {
            let port = cluster.marathon_port;
            cluster.wait_for(&format!("{task_id} expunged"), || {
                support::get_json(port, &format!("/v2/apps{app_id}/tasks")).is_some_and(|t| {
                    t["tasks"]
                        .as_array()
                        .is_some_and(|l| l.iter().all(|t| t["id"] != task_id.as_str()))
                })
            });
        }
        let log = cluster.marathon.as_ref().expect("marathon").log();
        assert!(
            log.lines()
                .any(|l| l.contains(&task_id) && l.contains("TASK_LOST") && l.contains(reason)),
            "Marathon logs the TASK_LOST with its reason:\n{log}"
        );
    }
}
