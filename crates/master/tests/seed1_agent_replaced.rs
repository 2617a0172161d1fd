//! Seed 1's TASK_LOST / REASON_SLAVE_REMOVED for an agent removed outright, from its real
//! cause (issue 18 item 3): a new agent registers at the address of an admitted one (the old
//! one's machine was wiped and restarted), over real HTTP to the master daemon with scripted
//! agents. Mesos removes the old agent; its tasks are TASK_LOST for every framework, PA or not
//! (this is the TASK_LOST Marathon infers from, seed 2). `SEEDS.md` names this test.

use crate::support;

use anyhow::Result;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_agent_at_the_same_address_removes_the_old_one_and_loses_its_tasks() -> Result<()> {
    for pa in [true, false] {
        let dir = tempfile::tempdir()?;
        let master = Master::start(dir.path(), &[]).await?;
        let (mut fw, old) = running(&master, pa, "web").await?;
        // Same hostname and port as the first (`agent_info`), no agent id: a new agent.
        let new = Agent::register(&master.url).await?;
        assert_ne!(new.id, old.id, "a new agent gets a new id");

        let status = fw.next("UPDATE").await?["update"]["status"].clone();
        assert_eq!(status["task_id"]["value"], "web", "{status}");
        assert_eq!(
            (
                status["state"].as_str(),
                status["reason"].as_str(),
                status["source"].as_str()
            ),
            (
                Some("TASK_LOST"),
                Some("REASON_AGENT_REMOVED"),
                Some("SOURCE_MASTER")
            ),
            "pa={pa}: {status}"
        );
        assert!(status.get("uuid").is_none(), "master updates carry no uuid");
        let message = status["message"].as_str().unwrap_or_default();
        assert!(message.contains("same address"), "{message}");
        // The scheduler is told the old agent is gone.
        let failure = fw.next("FAILURE").await?;
        assert_eq!(failure["failure"]["agent_id"]["value"], old.id.as_str());
        master.stop().await?;
    }
    Ok(())
}
