//! Issue 7: the master SIGKILLed with a status update in flight and restarted on the same work
//! dir: the agent reregisters, the framework resubscribes with its id, the update is
//! delivered, and reconciliation answers correctly.

use crate::support;

use support::{Cluster, Framework};

/// Master SIGKILL with updates in flight: nothing is lost, reconciliation answers RUNNING for
/// the live task and TASK_GONE (PA) for one the registered agent does not have.
#[test]
fn master_sigkill_with_updates_in_flight_loses_nothing() {
    let mut cluster = Cluster::start(false);
    let agent_id = cluster.agent_id(0);
    let go = cluster.dir.path().join("go");
    let mut framework = Framework::start(&cluster, "pa", &["--partition-aware", "--checkpoint"]);
    let framework_id = framework.wait_registered();
    framework.launch("keeper", &agent_id, "sleep 300");
    framework.launch(
        "waiter",
        &agent_id,
        &format!(
            "while [ ! -e {} ]; do sleep 0.1; done; echo released",
            go.display()
        ),
    );
    framework.wait_update("keeper", "TASK_RUNNING", None);
    framework.wait_update("waiter", "TASK_RUNNING", None);

    cluster.master.kill();
    // The waiter finishes while there is no master: its update waits on the agent.
    std::fs::write(&go, b"go").expect("release the waiter");
    cluster.start_master_again();

    let master = cluster.master_port;
    let agent_port = cluster.agent_port;
    support::wait_until("the agent to reregister", support::READY_TIMEOUT, || {
        support::agent_id_on(master, agent_port).as_deref() == Some(agent_id.as_str())
    });
    framework.wait_line("the framework to resubscribe", |l| {
        l == format!("reregistered {framework_id}")
    });
    let finished = framework.wait_update("waiter", "TASK_FINISHED", None);
    assert_eq!(finished["uuid"], true, "{finished}");

    framework.send(&format!("reconcile keeper {agent_id}"));
    framework.wait_update("keeper", "TASK_RUNNING", Some("REASON_RECONCILIATION"));
    framework.send(&format!("reconcile never-launched {agent_id}"));
    let gone = framework.wait_update("never-launched", "TASK_GONE", Some("REASON_RECONCILIATION"));
    assert_eq!(gone["source"], "SOURCE_MASTER", "{gone}");
    let frameworks = cluster.master_json("/master/frameworks");
    assert!(
        frameworks.to_string().contains(&framework_id),
        "same framework id after the failover: {frameworks}"
    );
    assert!(
        framework
            .updates_of("keeper")
            .iter()
            .all(|u| u["state"] == "TASK_RUNNING" || u["state"] == "TASK_STARTING"),
        "{:?}",
        framework.updates_of("keeper")
    );
}
