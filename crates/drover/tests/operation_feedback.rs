//! Operation feedback end to end against a real `drover master` and `drover agent`: a plain
//! Scheduler HTTP API client (`python/operation_feedback.py`) RESERVEs with an operation id
//! and gets OPERATION_FINISHED with a uuid; the operator's GET_OPERATIONS lists the operation
//! until the framework acknowledges it and not after; RECONCILE_OPERATIONS answers known and
//! unknown operations.

use crate::support;

use serde_json::{Value, json};
use support::{Cluster, Framework};

fn operations(cluster: &Cluster) -> Vec<Value> {
    let (status, body) = cluster.operator(&json!({"type": "GET_OPERATIONS"}));
    assert_eq!(status, 200, "{body}");
    let parsed: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(parsed["type"], "GET_OPERATIONS", "{parsed}");
    parsed["get_operations"]["operations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits for the `n`th (from 0) printed `operation` status with (reliable: the master's
/// FINISHED and its resends) or without a uuid (reconciliation's answers), and parses it.
fn status_line(framework: &mut Framework, n: usize, with_uuid: bool) -> Value {
    let deadline = std::time::Instant::now() + support::READY_TIMEOUT;
    loop {
        let statuses: Vec<Value> = framework
            .lines()
            .into_iter()
            .filter_map(|l| l.strip_prefix("operation ").map(str::to_owned))
            .map(|l| serde_json::from_str::<Value>(&l).expect("status JSON"))
            .filter(|s| s.get("uuid").is_some() == with_uuid)
            .collect();
        if let Some(status) = statuses.get(n) {
            return status.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for operation status #{n}\n{}",
            framework.output()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Sends a command and returns the status code of its `answer` line (the `n`th answer).
fn command(framework: &mut Framework, n: usize, text: &str) -> u16 {
    framework.send(text);
    let deadline = std::time::Instant::now() + support::READY_TIMEOUT;
    loop {
        let answers: Vec<String> = framework
            .lines()
            .into_iter()
            .filter(|l| l.starts_with("answer "))
            .collect();
        if let Some(line) = answers.get(n) {
            return line
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("{line}"));
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for the answer to {text:?}\n{}",
            framework.output()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_reserve_with_an_id_is_finished_listed_until_acknowledged_and_reconciled() {
    let cluster = Cluster::start(false);
    let agent_id = cluster.agent_id(0);
    let mut framework = Framework::start_script(&cluster, "operation_feedback.py", "opf", &[]);
    let framework_id = framework.wait_registered();
    framework.wait_line("an offer", |l| l.starts_with("offer "));

    assert_eq!(command(&mut framework, 0, "reserve op-1"), 202);
    let finished = status_line(&mut framework, 0, true);
    assert_eq!(finished["state"], "OPERATION_FINISHED", "{finished}");
    assert_eq!(finished["operation_id"]["value"], "op-1");
    assert_eq!(finished["agent_id"]["value"], agent_id);
    let uuid = finished["uuid"]["value"]
        .as_str()
        .expect("a uuid")
        .to_owned();

    // The reservation is on the agent, as the master shows it.
    let slaves = cluster.master_json("/master/slaves");
    assert!(
        slaves["slaves"][0]["reserved_resources_full"]["db"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["name"] == "cpus")),
        "{slaves}"
    );

    // Listed until acknowledged, as Mesos' `Operation`.
    let listed = operations(&cluster);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let op = &listed[0];
    assert_eq!(op["framework_id"]["value"], framework_id);
    assert_eq!(op["agent_id"]["value"], agent_id);
    assert_eq!(op["info"]["type"], "RESERVE");
    assert_eq!(op["info"]["id"]["value"], "op-1");
    assert_eq!(op["latest_status"]["state"], "OPERATION_FINISHED");
    assert_eq!(op["latest_status"]["uuid"]["value"], uuid.as_str());
    assert_eq!(op["statuses"].as_array().map(Vec::len), Some(1));
    assert!(op["uuid"]["value"].is_string(), "{op}");

    // Reconciliation: the known one without uuid, an unknown one UNKNOWN, one on an agent
    // the master never knew UNKNOWN too.
    assert_eq!(
        command(
            &mut framework,
            1,
            &format!("reconcile op-1:{agent_id} op-2:{agent_id} op-3:-")
        ),
        202
    );
    let known = status_line(&mut framework, 0, false);
    assert_eq!(known["state"], "OPERATION_FINISHED", "{known}");
    assert_eq!(known["operation_id"]["value"], "op-1");
    let unknown = status_line(&mut framework, 1, false);
    assert_eq!(unknown["operation_id"]["value"], "op-2");
    assert_eq!(unknown["state"], "OPERATION_UNKNOWN", "{unknown}");
    let no_agent = status_line(&mut framework, 2, false);
    assert_eq!(no_agent["state"], "OPERATION_UNKNOWN", "{no_agent}");
    assert!(no_agent.get("agent_id").is_none(), "{no_agent}");

    // An acknowledgement of a uuid the master never sent changes nothing.
    assert_eq!(command(&mut framework, 2, "ack_bogus op-1"), 202);
    assert_eq!(operations(&cluster).len(), 1);

    // The acknowledgement ends it: GET_OPERATIONS no longer lists it.
    assert_eq!(command(&mut framework, 3, "ack op-1"), 202);
    cluster.wait_for("the acknowledged operation to leave GET_OPERATIONS", || {
        operations(&cluster).is_empty()
    });
    // Reconciled now, it is unknown: the master forgot it with the acknowledgement.
    assert_eq!(
        command(&mut framework, 4, &format!("reconcile op-1:{agent_id}")),
        202
    );
    let after = status_line(&mut framework, 3, false);
    assert_eq!(after["state"], "OPERATION_UNKNOWN", "{after}");
    framework.send("exit");
}
