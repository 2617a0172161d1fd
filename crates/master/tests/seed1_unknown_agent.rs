//! Seed 1's REASON_SLAVE_REREGISTERED in its "agent unknown to the master" variant, from its
//! real cause (issue 18 item 3): an agent the master has no record of (its registry entry was
//! garbage-collected, or the master's work dir was replaced) reregisters with a running task,
//! over real HTTP to the master daemon with a scripted agent. The master readmits it and tells
//! the framework of the task: its state as the agent reports it, REASON_AGENT_REREGISTERED,
//! from the master. `SEEDS.md` names this test.

use crate::support;

use anyhow::Result;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_unknown_to_the_master_reregisters_and_its_tasks_are_announced() -> Result<()> {
    for pa in [true, false] {
        let dir = tempfile::tempdir()?;
        let master = Master::start(dir.path(), &[]).await?;
        let mut fw = Framework::subscribe(&master.url, framework_info(pa)).await?;
        let agent_id = "forgotten-S7";
        let tasks = json!([{"name": "db", "task_id": {"value": "db"},
            "framework_id": {"value": fw.id}, "agent_id": {"value": agent_id},
            "state": "TASK_RUNNING",
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}}]}]);
        let (_agent, first) = Agent::reregister(&master.url, agent_id, tasks).await?;
        assert_eq!(first["type"], "REREGISTERED", "{first}");

        let status = fw.next("UPDATE").await?["update"]["status"].clone();
        assert_eq!(status["task_id"]["value"], "db", "{status}");
        assert_eq!(
            (
                status["state"].as_str(),
                status["reason"].as_str(),
                status["source"].as_str()
            ),
            (
                Some("TASK_RUNNING"),
                Some("REASON_AGENT_REREGISTERED"),
                Some("SOURCE_MASTER")
            ),
            "pa={pa}: {status}"
        );
        let message = status["message"].as_str().unwrap_or_default();
        assert!(message.contains("unknown to the master"), "{message}");
        // The master now holds the task on the readmitted agent.
        let reconcile =
            json!({"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": {"value": "db"}}]}});
        assert_eq!(fw.call(reconcile).await?.0, 202);
        let status = fw.next("UPDATE").await?["update"]["status"].clone();
        assert_eq!(
            (status["state"].as_str(), status["reason"].as_str()),
            (Some("TASK_RUNNING"), Some("REASON_RECONCILIATION"))
        );
        assert_eq!(status["agent_id"]["value"], agent_id);
        master.stop().await?;
    }
    Ok(())
}
