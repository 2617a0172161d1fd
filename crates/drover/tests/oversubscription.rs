//! Oversubscription and QoS end to end (issue 18 item 1): an agent with a fixed resource
//! estimator offers revocable cpus to frameworks with REVOCABLE_RESOURCES; its load QoS
//! controller, with a threshold the machine's load is above, evicts the containers on
//! revocable resources: TASK_LOST / REASON_CONTAINER_PREEMPTED for a framework without
//! PARTITION_AWARE, TASK_GONE for one with it (seed 1, L107 and L143), from the agent.

use crate::support;

use support::{Cluster, Framework, Options};

#[test]
fn revocable_tasks_are_offered_to_those_who_ask_and_preempted_when_the_machine_is_loaded() {
    let cluster = Cluster::start_with(Options {
        agents: 1,
        agent_flags: vec![
            "--resource_estimator=fixed".to_owned(),
            "--oversubscribed_resources=cpus:2".to_owned(),
            "--oversubscribed_resources_interval=1secs".to_owned(),
            "--qos_controller=load".to_owned(),
            // Strictly above zero: the busy tasks below raise the 5-minute average past it
            // within one kernel load sample (5 s), whatever else the machine does.
            "--load_threshold_5min=0".to_owned(),
            "--qos_correction_interval_min=1secs".to_owned(),
        ],
        ..Default::default()
    });
    let agent_id = cluster.agent_id(0);
    cluster.wait_for("the master to show the agent's revocable cpus", || {
        support::get_json(cluster.master_port, "/master/slaves")
            .is_some_and(|s| s["slaves"][0]["resources"]["cpus_revocable"] == 2.0)
    });
    let state = cluster.operator(&serde_json::json!({"type": "GET_AGENTS"}));
    assert!(
        state.1.contains("\"revocable\""),
        "the operator API shows the revocable resources: {}",
        state.1
    );

    // A framework that did not ask for revocable resources never sees them.
    let mut plain = Framework::start(&cluster, "plain", &[]);
    plain.wait_registered();
    plain.launch("plain-task", &agent_id, "sleep 600");
    plain.wait_update("plain-task", "TASK_RUNNING", None);

    let mut lost = Framework::start(&cluster, "lost", &["--revocable"]);
    let mut gone = Framework::start(&cluster, "gone", &["--revocable", "--partition-aware"]);
    lost.wait_registered();
    gone.wait_registered();
    lost.wait_line("an offer with revocable cpus", |l| {
        l.starts_with("offer_revocable ")
    });
    let busy = "while :; do :; done";
    lost.send(&format!("launch_revocable lost-task {agent_id} {busy}"));
    gone.send(&format!("launch_revocable gone-task {agent_id} {busy}"));
    let preempted = lost.wait_update("lost-task", "TASK_LOST", Some("REASON_CONTAINER_PREEMPTED"));
    assert_eq!(preempted["source"], "SOURCE_AGENT", "{preempted}");
    assert!(
        preempted["message"]
            .as_str()
            .is_some_and(|m| m.contains("load average")),
        "{preempted}"
    );
    let preempted = gone.wait_update("gone-task", "TASK_GONE", Some("REASON_CONTAINER_PREEMPTED"));
    assert_eq!(preempted["source"], "SOURCE_AGENT", "{preempted}");

    // The task on ordinary resources is left alone, and no revocable offer reached its
    // framework.
    assert!(
        !plain
            .lines()
            .iter()
            .any(|l| l.starts_with("offer_revocable ")),
        "{:?}",
        plain.lines()
    );
    assert!(
        plain
            .updates_of("plain-task")
            .iter()
            .all(|u| u["state"] != "TASK_LOST" && u["state"] != "TASK_KILLED"),
        "{:?}",
        plain.updates_of("plain-task")
    );
    for framework in [&mut plain, &mut lost, &mut gone] {
        framework.send("exit");
    }
}
