//! Master-side seed rows produced by their real cause in a real cluster (issue 18 item 3):
//! TASK_KILLED / REASON_TASK_KILLED_DURING_LAUNCH from the master, for a task that is still
//! STAGING when its agent's process dies and the framework kills it. `SEEDS.md` names it.

use crate::support;

use support::{Cluster, Framework, READY_TIMEOUT, wait_until};

/// The master's state of a task, from `/master/tasks`.
fn master_state(cluster: &Cluster, task_id: &str) -> Option<String> {
    let tasks = support::get_json(cluster.master_port, "/master/tasks")?;
    tasks["tasks"]
        .as_array()?
        .iter()
        .find(|t| t["id"] == task_id)
        .and_then(|t| t["state"].as_str().map(str::to_owned))
}

/// A custom executor that never subscribes keeps its task STAGING; the agent's process is then
/// SIGKILLed, so the master holds the agent disconnected (the frameworks checkpoint, so their
/// tasks wait for it) and cannot know whether the launch ever reached it. A kill then is
/// answered at once by the master: TASK_KILLED / REASON_TASK_KILLED_DURING_LAUNCH, source
/// MASTER, no uuid, for partition-aware and other frameworks alike.
#[test]
fn killing_a_staging_task_whose_agent_is_gone_is_killed_during_launch_by_the_master() {
    let mut cluster = Cluster::start(false);
    let agent_id = cluster.agent_id(0);
    let mut pa = Framework::start(&cluster, "pa", &["--partition-aware", "--checkpoint"]);
    let mut plain = Framework::start(&cluster, "plain", &["--checkpoint"]);
    pa.wait_registered();
    plain.wait_registered();
    pa.send(&format!("launch_executor pa-task {agent_id} sleep 600"));
    plain.send(&format!("launch_executor plain-task {agent_id} sleep 600"));
    wait_until("both tasks STAGING at the master", READY_TIMEOUT, || {
        ["pa-task", "plain-task"]
            .iter()
            .all(|t| master_state(&cluster, t).as_deref() == Some("TASK_STAGING"))
    });

    cluster.agent.kill();
    let master = cluster.master_port;
    wait_until("the master to see the agent go", READY_TIMEOUT, || {
        support::get_json(master, "/master/slaves").is_some_and(|s| {
            s["slaves"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["id"] == agent_id.as_str() && a["active"] == false)
        })
    });

    for (framework, task) in [(&mut pa, "pa-task"), (&mut plain, "plain-task")] {
        framework.send(&format!("kill {task}"));
        let killed = framework.wait_update(
            task,
            "TASK_KILLED",
            Some("REASON_TASK_KILLED_DURING_LAUNCH"),
        );
        assert_eq!(killed["source"], "SOURCE_MASTER", "{killed}");
        assert_eq!(
            killed["uuid"], false,
            "master updates carry no uuid: {killed}"
        );
        let states: Vec<_> = framework
            .updates_of(task)
            .iter()
            .map(|u| u["state"].clone())
            .collect();
        assert_eq!(
            states,
            ["TASK_KILLED"],
            "nothing before the kill: {states:?}"
        );
    }
    // The master forgot both tasks: they are completed, not waiting for the agent.
    for task in ["pa-task", "plain-task"] {
        assert_eq!(
            master_state(&cluster, task).as_deref(),
            Some("TASK_KILLED"),
            "{task}"
        );
    }
}
