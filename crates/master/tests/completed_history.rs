//! Completed tasks survive a master restart (issue 12 item 19): a task that finished, and the
//! tasks of a framework torn down, are shown with their status history by `/master/tasks` and
//! `/master/state` of a master restarted from the same work dir, within
//! `--max_completed_tasks_per_framework`.

use crate::support;

use anyhow::Result;
use drover_http::Client;
use serde_json::{Value, json};
use support::*;

async fn get(master: &Master, path: &str) -> Result<Value> {
    let r = Client::new()
        .get(&format!("{}{path}", master.url), &[])
        .await?;
    assert_eq!(r.status, 200, "{path}");
    Ok(serde_json::from_slice(&r.body)?)
}

/// The tasks of `/master/tasks?limit=-1` by id, with their state and status-history states.
async fn tasks(master: &Master) -> Result<Vec<(String, String, Vec<String>)>> {
    let doc = get(master, "/master/tasks?limit=-1").await?;
    let mut out: Vec<(String, String, Vec<String>)> = doc["tasks"]
        .as_array()
        .expect("tasks array")
        .iter()
        .map(|t| {
            let history = t["status_history"]
                .as_array()
                .map(|h| {
                    h.iter()
                        .map(|s| s["state"].as_str().unwrap_or("").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            (
                t["id"].as_str().unwrap_or("").to_owned(),
                t["state"].as_str().unwrap_or("").to_owned(),
                history,
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Finishes `task_id` on the scripted agent and acknowledges the update.
async fn finish(fw: &mut Framework, agent: &mut Agent, task_id: &str, uuid: &str) -> Result<()> {
    assert_eq!(
        agent.update(&fw.id, task_id, "TASK_FINISHED", uuid).await?,
        202
    );
    let status = fw.next("UPDATE").await?["update"]["status"].clone();
    assert_eq!(status["state"], "TASK_FINISHED");
    let ack = json!({"type": "ACKNOWLEDGE", "acknowledge": {"agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]}});
    assert_eq!(fw.call(ack).await?.0, 202);
    agent.next("ACKNOWLEDGE").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_down_frameworks_completed_tasks_survive_a_restart() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let (mut fw, mut agent) = running(&master, true, "web").await?;
    finish(&mut fw, &mut agent, "web", "AQAAAAAAAAAAAAAAAAAAAA==").await?;
    // Then a task still running when an operator tears the framework down.
    let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
    assert_eq!(fw.call(launch(&offer, "batch", 1.0)).await?.0, 202);
    agent.next("RUN_TASK").await?;
    let teardown = json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": fw.id}}});
    let r = Client::new()
        .post(
            &format!("{}/api/v1", master.url),
            JSON,
            teardown.to_string().into(),
        )
        .await?;
    assert_eq!(r.status, 200);
    let before = tasks(&master).await?;
    assert!(
        before
            .iter()
            .any(|(id, state, h)| id == "web" && state == "TASK_FINISHED" && h.len() == 2),
        "{before:?}"
    );
    assert!(before.iter().any(|(id, _, _)| id == "batch"), "{before:?}");
    drop((fw, agent));
    master.stop().await?;

    let master = Master::start(dir.path(), &[]).await?;
    let after = tasks(&master).await?;
    assert_eq!(
        after, before,
        "the same completed tasks with the same histories"
    );
    let web = after.iter().find(|(id, _, _)| id == "web").expect("web");
    assert_eq!(web.2, ["TASK_RUNNING", "TASK_FINISHED"]);
    let state = get(&master, "/master/state").await?;
    let completed = state["completed_frameworks"]
        .as_array()
        .expect("completed_frameworks");
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0]["name"], "http-test", "shown by name");
    let ids: Vec<&str> = completed[0]["completed_tasks"]
        .as_array()
        .expect("completed_tasks")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, ["web", "batch"], "oldest first, as before the restart");
    master.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_newest_completed_tasks_are_kept_across_a_restart() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bound = ["--max_completed_tasks_per_framework", "2"];
    let master = Master::start(dir.path(), &bound).await?;
    let (mut fw, mut agent) = running(&master, true, "t0").await?;
    finish(&mut fw, &mut agent, "t0", "AQAAAAAAAAAAAAAAAAAAAA==").await?;
    for (i, uuid) in ["AgAAAAAAAAAAAAAAAAAAAA==", "AwAAAAAAAAAAAAAAAAAAAA=="]
        .into_iter()
        .enumerate()
    {
        let id = format!("t{}", i + 1);
        let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
        assert_eq!(fw.call(launch(&offer, &id, 1.0)).await?.0, 202);
        agent.next("RUN_TASK").await?;
        finish(&mut fw, &mut agent, &id, uuid).await?;
    }
    let ids = |t: Vec<(String, String, Vec<String>)>| -> Vec<String> {
        t.into_iter().map(|(id, _, _)| id).collect()
    };
    assert_eq!(ids(tasks(&master).await?), ["t1", "t2"]);
    let fw_id = fw.id.clone();
    drop((fw, agent));
    master.stop().await?;

    // Restarted with a smaller bound: the newest one only.
    let master = Master::start(dir.path(), &["--max_completed_tasks_per_framework", "1"]).await?;
    assert_eq!(ids(tasks(&master).await?), ["t2"]);
    let state = get(&master, "/master/state").await?;
    let fw = state["frameworks"]
        .as_array()
        .expect("frameworks")
        .iter()
        .find(|f| f["id"] == fw_id.as_str())
        .expect("the recovered framework");
    assert_eq!(fw["completed_tasks"][0]["id"], "t2");
    assert_eq!(
        fw["completed_tasks"][0]["statuses"][0]["state"],
        "TASK_FINISHED"
    );
    master.stop().await?;
    let master = Master::start(dir.path(), &bound).await?;
    assert_eq!(
        ids(tasks(&master).await?),
        ["t1", "t2"],
        "a smaller bound at one start hides the older records; it does not lose them until a newer task evicts them"
    );
    master.stop().await
}
