//! Issue 7 / issue 4: an agent SIGKILLed with running tasks and restarted on the same work dir
//! recovers them: they keep running, and an update produced while it was down is delivered.

use crate::support;

use support::{Cluster, Framework};

/// Agent SIGKILL with running tasks: after the restart the long task still runs (reconciled
/// RUNNING, and killable through the recovered executor) and the task that finished while the
/// agent was down has its TASK_FINISHED delivered reliably.
#[test]
fn agent_sigkill_and_restart_keeps_tasks_running_and_delivers_their_updates() {
    let mut cluster = Cluster::start(false);
    let agent_id = cluster.agent_id(0);
    let go = cluster.dir.path().join("go");
    let mut framework = Framework::start(&cluster, "pa", &["--partition-aware", "--checkpoint"]);
    framework.wait_registered();
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

    cluster.agent.kill();
    std::fs::write(&go, b"go").expect("release the waiter");
    cluster.start_agent_again(0);

    let finished = framework.wait_update("waiter", "TASK_FINISHED", None);
    assert_eq!(finished["source"], "SOURCE_EXECUTOR", "{finished}");
    assert_eq!(finished["uuid"], true, "{finished}");
    let master = cluster.master_port;
    let agent_port = cluster.agent_port;
    support::wait_until("the agent to reregister", support::READY_TIMEOUT, || {
        support::agent_id_on(master, agent_port).as_deref() == Some(agent_id.as_str())
    });
    assert_eq!(
        cluster.agent_id(0),
        agent_id,
        "same agent id after recovery"
    );

    framework.send(&format!("reconcile keeper {agent_id}"));
    framework.wait_update("keeper", "TASK_RUNNING", Some("REASON_RECONCILIATION"));
    let keeper: Vec<_> = framework.updates_of("keeper");
    assert!(
        keeper
            .iter()
            .all(|u| u["state"] == "TASK_RUNNING" || u["state"] == "TASK_STARTING"),
        "the keeper never stopped: {keeper:?}"
    );
    // The recovered executor still obeys: a kill ends the task.
    framework.send("kill keeper");
    framework.wait_update("keeper", "TASK_KILLED", None);
}

/// Host reboot (simulated by a new `--boot_id`): the restarted agent re-adopts nothing, kills
/// what the old run left, and reports the old tasks TASK_GONE (PA) / TASK_LOST (non-PA) with
/// REASON_EXECUTOR_REREGISTRATION_TIMEOUT, reliably; it keeps its agent id.
#[test]
fn agent_restart_after_host_reboot_reports_old_tasks_gone() {
    let mut cluster = Cluster::start(false);
    let agent_id = cluster.agent_id(0);
    let mut pa = Framework::start(&cluster, "pa", &["--partition-aware", "--checkpoint"]);
    let mut plain = Framework::start(&cluster, "plain", &["--checkpoint"]);
    pa.wait_registered();
    plain.wait_registered();
    pa.launch("pa-task", &agent_id, "sleep 300");
    plain.launch("plain-task", &agent_id, "sleep 300");
    pa.wait_update("pa-task", "TASK_RUNNING", None);
    plain.wait_update("plain-task", "TASK_RUNNING", None);

    cluster.agent.kill();
    cluster.start_agent_again_with(0, &["--boot_id=simulated-reboot"]);

    let gone = pa.wait_update(
        "pa-task",
        "TASK_GONE",
        Some("REASON_EXECUTOR_REREGISTRATION_TIMEOUT"),
    );
    let lost = plain.wait_update(
        "plain-task",
        "TASK_LOST",
        Some("REASON_EXECUTOR_REREGISTRATION_TIMEOUT"),
    );
    for update in [&gone, &lost] {
        assert_eq!(update["source"], "SOURCE_AGENT", "{update}");
        assert_eq!(update["uuid"], true, "{update}");
    }
    let master = cluster.master_port;
    let agent_port = cluster.agent_port;
    support::wait_until("the agent to reregister", support::READY_TIMEOUT, || {
        support::agent_id_on(master, agent_port).is_some()
    });
    // Nothing of the old run survives: no process works in a sandbox any more.
    let sandboxes = cluster.dir.path().join("agent");
    support::wait_until(
        "the old run's processes to be gone",
        support::READY_TIMEOUT,
        || support::processes_under(&sandboxes).is_empty(),
    );
}
