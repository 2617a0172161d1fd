//! Maintenance and DRAIN_AGENT with a real agent and a pymesos framework: scheduling the
//! agent's machine sends the framework an inverse offer, which it accepts (shown in the
//! maintenance status); draining the agent makes the agent kill the framework's real task with
//! the capped grace period (its TASK_KILLED says REASON_AGENT_DRAINING) and leaves the agent
//! DRAINED and deactivated.

use crate::support;

use serde_json::json;
use support::{Cluster, Framework};

#[test]
fn inverse_offer_reaches_pymesos_and_drain_kills_the_real_task() {
    let cluster = Cluster::start(false);
    let agent_id = cluster.agent_id(0);
    let mut fw = Framework::start(&cluster, "maint", &["--partition-aware", "--checkpoint"]);
    fw.wait_registered();
    fw.launch("drained-task", &agent_id, "sleep 300");
    fw.wait_update("drained-task", "TASK_RUNNING", None);

    let agents = cluster.master_json("/master/slaves");
    let hostname = agents["slaves"][0]["hostname"]
        .as_str()
        .expect("the agent's hostname")
        .to_owned();
    let schedule = json!({"type": "UPDATE_MAINTENANCE_SCHEDULE",
        "update_maintenance_schedule": {"schedule": {"windows": [{
            "machine_ids": [{"hostname": hostname}],
            "unavailability": {"start": {"nanoseconds": 4_000_000_000_000_000_000i64}}}]}}});
    let (status, body) = cluster.operator(&schedule);
    assert_eq!(status, 200, "UPDATE_MAINTENANCE_SCHEDULE: {body}");
    let line = fw.wait_line("an inverse offer", |l| l.starts_with("inverse "));
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.get(2), Some(&agent_id.as_str()), "{line}");
    fw.send(&format!("accept_inverse {}", words[1]));
    cluster.wait_for("the accept in the maintenance status", || {
        let status = cluster.master_json("/master/maintenance/status");
        status["draining_machines"][0]["statuses"][0]["status"] == "ACCEPT"
    });

    let drain = json!({"type": "DRAIN_AGENT", "drain_agent": {
        "agent_id": {"value": agent_id}, "max_grace_period": {"seconds": 1}}});
    let (status, body) = cluster.operator(&drain);
    assert_eq!(status, 200, "DRAIN_AGENT: {body}");
    // The agent kills it and says why (Mesos' agent overwrote the reason while draining).
    fw.wait_update("drained-task", "TASK_KILLED", Some("REASON_AGENT_DRAINING"));
    cluster.wait_for("the agent DRAINED", || {
        let slaves = cluster.master_json("/master/slaves");
        slaves["slaves"][0]["drain_info"]["state"] == "DRAINED"
    });
    let slaves = cluster.master_json("/master/slaves");
    assert_eq!(slaves["slaves"][0]["deactivated"], true, "{slaves}");
    let (status, body) = cluster.operator(&json!({"type": "GET_AGENTS"}));
    assert_eq!(status, 200);
    let agents: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        agents["get_agents"]["agents"][0]["drain_info"]["config"]["max_grace_period"]["nanoseconds"],
        1_000_000_000i64,
        "{agents}"
    );
}

/// The CLI's `drover agent drain | deactivate | reactivate`, shown by `drover agent list`.
#[test]
fn the_cli_drains_deactivates_and_reactivates_an_agent() {
    let cluster = Cluster::start(false);
    let agent_id = cluster.agent_id(0);
    let master = format!("--master=127.0.0.1:{}", cluster.master_port);
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push(&master);
        support::drover_cli(&cluster, &all)
    };
    let status = |json: &str| -> String {
        let agents: serde_json::Value = serde_json::from_str(json).expect("JSON");
        agents[0]["drain_info"]["state"]
            .as_str()
            .unwrap_or("none")
            .to_owned()
    };

    let (code, out) = cli(&[
        "agent",
        "drain",
        &agent_id[..8],
        "--max-grace-period=banana",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("banana"), "{out}");

    let (code, out) = cli(&["agent", "drain", &agent_id[..8], "--max-grace-period=2secs"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("agent {agent_id} is draining")),
        "{out}"
    );
    // Nothing runs there, so it is drained at once; the table says so.
    let (code, out) = cli(&["agent", "list"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("drained"), "{out}");
    let (_, json) = cli(&["agent", "list", "--json"]);
    assert_eq!(status(&json), "DRAINED", "{json}");
    let (code, out) = cluster.operator(&json!({"type": "GET_AGENTS"}));
    assert_eq!(code, 200);
    let agents: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        agents["get_agents"]["agents"][0]["drain_info"]["config"]["max_grace_period"]["nanoseconds"],
        2_000_000_000i64,
        "{agents}"
    );

    let (code, out) = cli(&["agent", "reactivate", &agent_id]);
    assert_eq!(code, 0, "{out}");
    let (_, out) = cli(&["agent", "list"]);
    assert!(out.contains("active") && !out.contains("drained"), "{out}");

    let (code, out) = cli(&["agent", "deactivate", &agent_id]);
    assert_eq!(code, 0, "{out}");
    let (_, out) = cli(&["agent", "list"]);
    assert!(out.contains("deactivated"), "{out}");
}
