//! Seed 2's TASK_LOST inference from its real cause (issue 18 item 3): "Marathon may receive a
//! TASK_LOST message if a Mesos agent is removed because a new Mesos agent registers with the
//! same IP address", and infers from its reason what it means. Here the agent's machine is
//! wiped: the agent process is SIGKILLed, its work dir removed, and a new agent starts at the
//! same address; the master removes the old one (TASK_LOST / REASON_AGENT_REMOVED even for
//! partition-aware Marathon), and Marathon reads that as Unreachable and starts a replacement.
//! `SEEDS.md` names this test.

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
