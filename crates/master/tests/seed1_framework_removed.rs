//! Seed 1's TASK_KILLED / REASON_FRAMEWORK_REMOVED from its real cause (issue 18 item 3): an
//! operator's TEARDOWN of a framework with a running task, over real HTTP to the master
//! daemon with a scripted agent. The framework is gone, so the update is seen where Mesos
//! showed it: on the operator API's SUBSCRIBE stream (TASK_UPDATED), and in the task's
//! history in `/master/state`. `SEEDS.md` names this test.

use crate::support;

use anyhow::{Context, Result};
use drover_http::Client;
use serde_json::{Value, json};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_kills_the_tasks_with_framework_removed_seen_by_operators() -> Result<()> {
    for pa in [true, false] {
        let dir = tempfile::tempdir()?;
        let master = Master::start(dir.path(), &[]).await?;
        let (fw, mut agent) = running(&master, pa, "web").await?;
        let client = Client::new();
        let mut operator = client
            .post_stream(
                &format!("{}/api/v1", master.url),
                &[
                    ("Content-Type", "application/json"),
                    ("Accept", "application/json"),
                ],
                json!({"type": "SUBSCRIBE"}).to_string().into(),
                64 << 20,
            )
            .await?;
        let mut seen = Vec::new();
        next_of(&mut operator.records, &mut seen, "SUBSCRIBED").await?;

        let teardown = json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": fw.id}}});
        let answer = client
            .post(
                &format!("{}/api/v1", master.url),
                JSON,
                teardown.to_string().into(),
            )
            .await?;
        assert_eq!(answer.status, 200, "{}", answer.text());

        let updated = next_of(&mut operator.records, &mut seen, "TASK_UPDATED").await?;
        let status = &updated["task_updated"]["status"];
        assert_eq!(status["task_id"]["value"], "web", "{updated}");
        assert_eq!(
            (
                status["state"].as_str(),
                status["reason"].as_str(),
                status["source"].as_str()
            ),
            (
                Some("TASK_KILLED"),
                Some("REASON_FRAMEWORK_REMOVED"),
                Some("SOURCE_MASTER")
            ),
            "pa={pa}: {updated}"
        );
        assert!(status.get("uuid").is_none(), "master updates carry no uuid");
        assert_eq!(
            updated["task_updated"]["framework_id"]["value"],
            fw.id.as_str()
        );
        // The agent is told to stop the framework's executors.
        agent.next("SHUTDOWN_FRAMEWORK").await?;

        // The task's history keeps why it ended.
        let state: Value = serde_json::from_slice(
            &client
                .get(&format!("{}/master/state", master.url), &[])
                .await?
                .body,
        )?;
        let task = state["completed_frameworks"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|f| f["completed_tasks"].as_array().into_iter().flatten())
            .find(|t| t["id"] == "web")
            .with_context(|| format!("web among completed tasks: {state}"))?;
        assert_eq!(task["state"], "TASK_KILLED", "{task}");
        let last = task["statuses"]
            .as_array()
            .and_then(|s| s.last())
            .with_context(|| format!("statuses: {task}"))?;
        assert_eq!(last["state"], "TASK_KILLED", "{task}");
        master.stop().await?;
    }
    Ok(())
}
