//! Seed 1's TASK_ERROR / REASON_TASK_GROUP_INVALID from its real cause (issue 18 item 3): a
//! framework's LAUNCH_GROUP that fails the master's task-group validation, over real HTTP to
//! the master daemon with a scripted agent. Every task of the group is refused, from the
//! master, for partition-aware and other frameworks alike, and nothing reaches the agent.
//! `SEEDS.md` names this test.

use crate::support;

use anyhow::Result;
use serde_json::{Value, json};
use support::*;

fn member(offer: &Value, task_id: &str) -> Value {
    json!({
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}, "allocation_info": {"role": "*"}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 64.0}, "allocation_info": {"role": "*"}}
        ],
        "command": {"value": "sleep 100"}
    })
}

/// A LAUNCH_GROUP whose executor is `executor_type` and whose members are `members`.
fn launch_group(offer: &Value, executor_type: &str, members: Vec<Value>) -> Value {
    json!({
        "type": "ACCEPT",
        "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH_GROUP", "launch_group": {
                "executor": {
                    "type": executor_type,
                    "executor_id": {"value": "default"},
                    "framework_id": offer["framework_id"],
                    "resources": [
                        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}, "allocation_info": {"role": "*"}},
                        {"name": "mem", "type": "SCALAR", "scalar": {"value": 32.0}, "allocation_info": {"role": "*"}}
                    ]
                },
                "task_group": {"tasks": members}
            }}],
            "filters": {"refuse_seconds": 0.0}
        }
    })
}

/// Asserts a master-side TASK_ERROR / REASON_TASK_GROUP_INVALID and returns its message.
fn assert_group_invalid(status: &Value) -> String {
    assert_eq!(
        (
            status["state"].as_str(),
            status["reason"].as_str(),
            status["source"].as_str()
        ),
        (
            Some("TASK_ERROR"),
            Some("REASON_TASK_GROUP_INVALID"),
            Some("SOURCE_MASTER")
        ),
        "{status}"
    );
    assert!(status.get("uuid").is_none(), "master updates carry no uuid");
    status["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_task_group_is_task_group_invalid_for_every_member() -> Result<()> {
    for pa in [true, false] {
        let dir = tempfile::tempdir()?;
        let master = Master::start(dir.path(), &[]).await?;
        let mut agent = Agent::register(&master.url).await?;
        let mut fw = Framework::subscribe(&master.url, framework_info(pa)).await?;

        // A CUSTOM executor: a task group needs the DEFAULT one.
        let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
        let call = launch_group(
            &offer,
            "CUSTOM",
            vec![member(&offer, "g1"), member(&offer, "g2")],
        );
        assert_eq!(fw.call(call).await?.0, 202);
        let mut refused = Vec::new();
        for _ in 0..2 {
            let status = fw.next("UPDATE").await?["update"]["status"].clone();
            let message = assert_group_invalid(&status);
            assert!(message.contains("DEFAULT"), "{message}");
            refused.push(
                status["task_id"]["value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        refused.sort();
        assert_eq!(refused, ["g1", "g2"], "pa={pa}");

        // Two members with one id, under the right executor: refused too, naming the id.
        let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
        let call = launch_group(
            &offer,
            "DEFAULT",
            vec![member(&offer, "twin"), member(&offer, "twin")],
        );
        assert_eq!(fw.call(call).await?.0, 202);
        let status = fw.next("UPDATE").await?["update"]["status"].clone();
        let message = assert_group_invalid(&status);
        assert!(message.contains("duplicate task ID: twin"), "{message}");

        // A valid group reaches the agent: it is the first RUN_TASK the agent sees, so none of
        // the refused groups got there.
        let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
        let call = launch_group(&offer, "DEFAULT", vec![member(&offer, "ok")]);
        assert_eq!(fw.call(call).await?.0, 202);
        let run = agent.next("RUN_TASK").await?;
        let tasks = &run["run_task"]["task_group"]["tasks"];
        assert_eq!(tasks[0]["task_id"]["value"], "ok", "{run}");
        master.stop().await?;
    }
    Ok(())
}

/// Seed 1's TASK_ERROR / REASON_TASK_UNAUTHORIZED and REASON_TASK_GROUP_UNAUTHORIZED from the
/// master (L77, L78), from their real cause: `--acls` whose `run_tasks` lets principal `ops`
/// run tasks as `nobody` only. Its task as `root` is refused, every task of its group as
/// `root` too, and nothing reaches the agent; its task as `nobody` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_tasks_acls_refuse_a_task_and_a_group_as_an_unauthorized_user() -> Result<()> {
    let acls = r#"--acls={"run_tasks": [{"principals": {"values": ["ops"]}, "users": {"values": ["nobody"]}}],
        "register_frameworks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}],
        "permissive": false}"#;
    for pa in [true, false] {
        let dir = tempfile::tempdir()?;
        let master = Master::start(dir.path(), &[acls]).await?;
        let mut agent = Agent::register(&master.url).await?;
        let mut info = framework_info(pa);
        info["principal"] = json!("ops");
        let mut fw = Framework::subscribe(&master.url, info).await?;

        let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
        assert_eq!(fw.call(launch(&offer, "as-root", 0.5)).await?.0, 202);
        let status = fw.next("UPDATE").await?["update"]["status"].clone();
        assert_eq!(
            (
                status["state"].as_str(),
                status["reason"].as_str(),
                status["source"].as_str()
            ),
            (
                Some("TASK_ERROR"),
                Some("REASON_TASK_UNAUTHORIZED"),
                Some("SOURCE_MASTER")
            ),
            "{status}"
        );
        assert!(
            status["message"]
                .as_str()
                .is_some_and(|m| m.contains("Principal 'ops'") && m.contains("user 'root'")),
            "{status}"
        );

        let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
        let call = launch_group(
            &offer,
            "DEFAULT",
            vec![member(&offer, "g1"), member(&offer, "g2")],
        );
        assert_eq!(fw.call(call).await?.0, 202);
        let mut refused = Vec::new();
        for _ in 0..2 {
            let status = fw.next("UPDATE").await?["update"]["status"].clone();
            assert_eq!(
                (status["state"].as_str(), status["reason"].as_str()),
                (Some("TASK_ERROR"), Some("REASON_TASK_GROUP_UNAUTHORIZED")),
                "{status}"
            );
            refused.push(status["task_id"]["value"].as_str().unwrap_or("").to_owned());
        }
        refused.sort();
        assert_eq!(refused, ["g1", "g2"]);

        // As `nobody` it runs: the first RUN_TASK the agent sees is this one.
        let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
        let mut call = launch(&offer, "as-nobody", 0.5);
        call["accept"]["operations"][0]["launch"]["task_infos"][0]["command"]["user"] =
            json!("nobody");
        assert_eq!(fw.call(call).await?.0, 202);
        let run = agent.next("RUN_TASK").await?;
        assert_eq!(run["run_task"]["task"]["task_id"]["value"], "as-nobody");
        master.stop().await?;
    }
    Ok(())
}
