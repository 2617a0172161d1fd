//! Maintenance and draining over real HTTP against an in-process master: the schedule round
//! trip and Mesos' validation errors on the Operator API and the legacy endpoints, persistence
//! across a restart, an inverse offer reaching a subscribed framework with its answer in the
//! status, `/machine/down` shutting the agent down and refusing it until `/machine/up`, and
//! DRAIN_AGENT telling the agent its drain config (DRAINING → DRAINED once its task ended, then
//! gone with `mark_gone`).

use crate::support;

use anyhow::{Context, Result, bail};
use drover_http::Client;
use serde_json::{Value, json};
use support::*;

async fn post(master: &Master, path: &str, body: &Value) -> Result<(u16, String)> {
    let r = Client::new()
        .post(
            &format!("{}{path}", master.url),
            &[
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            body.to_string().into(),
        )
        .await?;
    Ok((r.status.as_u16(), r.text()))
}

async fn operator(master: &Master, call: Value) -> Result<(u16, String)> {
    post(master, "/api/v1", &call).await
}

async fn operator_ok(master: &Master, call: Value) -> Result<Value> {
    let (status, body) = operator(master, call.clone()).await?;
    if status != 200 {
        bail!("{call} answered {status}: {body}");
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_str(&body)?)
}

async fn get_json(master: &Master, path: &str) -> Result<Value> {
    let r = Client::new()
        .get(&format!("{}{path}", master.url), &[])
        .await?;
    if r.status != 200 {
        bail!("GET {path}: {}", r.status);
    }
    Ok(serde_json::from_str(&r.text())?)
}

fn assert_refused(answer: (u16, String), status: u16, needle: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert!(answer.1.contains(needle), "{:?} lacks {needle:?}", answer.1);
}

fn schedule(hosts: &[&str]) -> Value {
    let ids: Vec<Value> = hosts.iter().map(|h| json!({"hostname": h})).collect();
    json!({"windows": [{
        "machine_ids": ids,
        "unavailability": {"start": {"nanoseconds": 2_000_000_000_000_000_000i64},
                           "duration": {"nanoseconds": 3_600_000_000_000i64}}
    }]})
}

#[tokio::test]
async fn schedule_round_trip_validation_and_restart() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;

    let empty = operator_ok(&master, json!({"type": "GET_MAINTENANCE_SCHEDULE"})).await?;
    assert_eq!(empty["type"], "GET_MAINTENANCE_SCHEDULE");
    assert_eq!(empty["get_maintenance_schedule"]["schedule"], json!({}));

    // Mesos' validation, 400 and no change.
    let duplicate = json!({"windows": [
        {"machine_ids": [{"hostname": "a"}], "unavailability": {"start": {"nanoseconds": 1}}},
        {"machine_ids": [{"hostname": "a"}], "unavailability": {"start": {"nanoseconds": 2}}}
    ]});
    assert_refused(
        operator(
            &master,
            json!({"type": "UPDATE_MAINTENANCE_SCHEDULE",
                   "update_maintenance_schedule": {"schedule": duplicate}}),
        )
        .await?,
        400,
        "appears more than once in the schedule",
    );
    assert_refused(
        post(
            &master,
            "/master/maintenance/schedule",
            &json!({"windows": [
            {"machine_ids": [], "unavailability": {"start": {"nanoseconds": 1}}}]}),
        )
        .await?,
        400,
        "List of machines in the maintenance window is empty",
    );
    assert_refused(
        post(&master, "/master/maintenance/schedule", &json!({"windows": [
            {"machine_ids": [{"ip": "300.1.1.1"}], "unavailability": {"start": {"nanoseconds": 1}}}]}))
        .await?,
        400,
        "300.1.1.1",
    );
    assert_refused(
        post(&master, "/master/maintenance/schedule", &json!([1, 2])).await?,
        400,
        "Schedule",
    );
    assert_refused(
        operator(&master, json!({"type": "UPDATE_MAINTENANCE_SCHEDULE"})).await?,
        400,
        "update_maintenance_schedule",
    );
    assert_eq!(
        get_json(&master, "/master/maintenance/schedule").await?,
        json!({})
    );

    // START only for scheduled machines; STOP only for DOWN ones.
    assert_refused(
        post(&master, "/master/machine/down", &json!([{"hostname": "a"}])).await?,
        400,
        "is not part of a maintenance schedule",
    );
    let (status, body) = post(
        &master,
        "/master/maintenance/schedule",
        &schedule(&["a", "b"]),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let legacy = get_json(&master, "/maintenance/schedule").await?;
    assert_eq!(legacy, schedule(&["a", "b"]));
    assert_refused(
        operator(
            &master,
            json!({"type": "STOP_MAINTENANCE", "stop_maintenance": {"machines": [{"hostname": "a"}]}}),
        )
        .await?,
        400,
        "is not in DOWN mode",
    );
    operator_ok(
        &master,
        json!({"type": "START_MAINTENANCE", "start_maintenance": {"machines": [{"hostname": "a"}]}}),
    )
    .await?;
    let status = get_json(&master, "/master/maintenance/status").await?;
    assert_eq!(
        status["down_machines"],
        json!([{"hostname": "a"}]),
        "{status}"
    );
    assert_eq!(
        status["draining_machines"][0]["id"],
        json!({"hostname": "b"})
    );
    assert_refused(
        post(&master, "/master/maintenance/schedule", &schedule(&["b"])).await?,
        400,
        "cannot be removed from the schedule",
    );

    // The registry keeps it all.
    master.stop().await?;
    let master = Master::start(dir.path(), &[]).await?;
    let got = operator_ok(&master, json!({"type": "GET_MAINTENANCE_STATUS"})).await?;
    assert_eq!(
        got["get_maintenance_status"]["status"]["down_machines"],
        json!([{"hostname": "a"}]),
        "{got}"
    );
    let (status, body) = post(&master, "/machine/up", &json!([{"hostname": "a"}])).await?;
    assert_eq!(status, 200, "{body}");
    let got = operator_ok(&master, json!({"type": "GET_MAINTENANCE_SCHEDULE"})).await?;
    assert_eq!(
        got["get_maintenance_schedule"]["schedule"],
        schedule(&["b"]),
        "a machine brought up leaves the schedule"
    );
    master.stop().await
}

#[tokio::test]
async fn inverse_offer_answer_then_machine_down_and_up() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let (mut fw, mut agent) = running(&master, true, "t1").await?;

    let (status, body) = post(
        &master,
        "/master/maintenance/schedule",
        &schedule(&["localhost"]),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let inverse = fw.next("INVERSE_OFFERS").await?;
    let offer = inverse["inverse_offers"]["inverse_offers"][0].clone();
    assert_eq!(offer["agent_id"]["value"], agent.id.as_str(), "{inverse}");
    assert_eq!(
        offer["unavailability"]["start"]["nanoseconds"],
        2_000_000_000_000_000_000i64
    );
    let frameworks = operator_ok(&master, json!({"type": "GET_FRAMEWORKS"})).await?;
    assert_eq!(
        frameworks["get_frameworks"]["frameworks"][0]["inverse_offers"][0]["id"],
        offer["id"]
    );
    let (code, body) = fw
        .call(json!({"type": "DECLINE_INVERSE_OFFERS",
                     "decline_inverse_offers": {"inverse_offer_ids": [offer["id"]]}}))
        .await?;
    assert_eq!(code, 202, "{body}");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let status = get_json(&master, "/master/maintenance/status").await?;
        let answer = &status["draining_machines"][0]["statuses"][0];
        if answer["status"] == "DECLINE" {
            assert_eq!(answer["framework_id"]["value"], fw.id.as_str());
            break;
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the decline never showed: {status}");
        }
        tokio::task::yield_now().await;
    }

    // DOWN: the agent is shut down, its task gone by operator, and it is refused.
    let (status, body) = post(
        &master,
        "/master/machine/down",
        &json!([{"hostname": "localhost"}]),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    agent.next("SHUTDOWN").await?;
    let update = fw.next("UPDATE").await?;
    assert_eq!(
        update["update"]["status"]["state"], "TASK_GONE_BY_OPERATOR",
        "{update}"
    );
    let agents = operator_ok(&master, json!({"type": "GET_AGENTS"})).await?;
    assert!(
        agents["get_agents"]["agents"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{agents}"
    );
    let call = json!({"type": "REGISTER", "register": {"agent_info": agent_info(None), "version": "1.11.0"}});
    let (_refused, first) = Agent::open(&master.url, call.clone()).await?;
    assert_eq!(first["type"], "SHUTDOWN", "{first}");

    // UP: it may register again.
    let (status, body) = post(
        &master,
        "/master/machine/up",
        &json!([{"hostname": "localhost"}]),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let (_back, first) = Agent::open(&master.url, call).await?;
    assert_eq!(first["type"], "REGISTERED", "{first}");
    master.stop().await
}

async fn agent_entry(master: &Master, id: &str) -> Result<Value> {
    let agents = operator_ok(master, json!({"type": "GET_AGENTS"})).await?;
    agents["get_agents"]["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["agent_info"]["id"]["value"] == id)
        .cloned()
        .context("agent listed")
}

#[tokio::test]
async fn drain_agent_tells_the_agent_and_marks_gone_once_drained() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let (mut fw, mut agent) = running(&master, true, "t1").await?;

    assert_refused(
        operator(
            &master,
            json!({"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": "nope"}}}),
        )
        .await?,
        400,
        "Unknown agent",
    );
    operator_ok(
        &master,
        json!({"type": "DRAIN_AGENT", "drain_agent": {
            "agent_id": {"value": agent.id}, "max_grace_period": {"seconds": 1}, "mark_gone": true}}),
    )
    .await?;
    // The agent is told it drains (Mesos' DrainSlaveMessage) and kills its tasks itself.
    let drain = agent.next("DRAIN").await?;
    assert_eq!(
        drain["drain"]["config"]["max_grace_period"]["nanoseconds"], 1_000_000_000i64,
        "{drain}"
    );
    assert_eq!(drain["drain"]["config"]["mark_gone"], true, "{drain}");
    let entry = agent_entry(&master, &agent.id).await?;
    assert_eq!(entry["drain_info"]["state"], "DRAINING", "{entry}");
    assert_eq!(entry["deactivated"], true);
    let slaves = get_json(&master, "/master/slaves").await?;
    assert_eq!(
        slaves["slaves"][0]["drain_info"]["state"], "DRAINING",
        "{slaves}"
    );
    assert_eq!(slaves["slaves"][0]["deactivated"], true);

    assert_eq!(
        agent
            .update(&fw.id, "t1", "TASK_KILLED", "AQEBAQEBAQEBAQEBAQEBAQ==")
            .await?,
        202
    );
    let update = fw.next("UPDATE").await?;
    assert_eq!(update["update"]["status"]["state"], "TASK_KILLED");
    let (code, body) = fw
        .call(json!({"type": "ACKNOWLEDGE", "acknowledge": {
            "agent_id": {"value": agent.id}, "task_id": {"value": "t1"},
            "uuid": "AQEBAQEBAQEBAQEBAQEBAQ=="}}))
        .await?;
    assert_eq!(code, 202, "{body}");
    // Drained, then gone: the agent is shut down and no longer listed.
    agent.next("SHUTDOWN").await?;
    let agents = operator_ok(&master, json!({"type": "GET_AGENTS"})).await?;
    assert!(
        agents["get_agents"]["agents"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{agents}"
    );
    master.stop().await
}

#[tokio::test]
async fn drain_without_mark_gone_ends_drained_and_reactivate_clears_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let agent = Agent::register(&master.url).await?;
    operator_ok(
        &master,
        json!({"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": agent.id}}}),
    )
    .await?;
    let entry = agent_entry(&master, &agent.id).await?;
    assert_eq!(entry["drain_info"]["state"], "DRAINED", "{entry}");
    master.stop().await?;
    let master = Master::start(dir.path(), &[]).await?;
    let (_agent, first) = Agent::reregister(&master.url, &agent.id, json!([])).await?;
    assert_eq!(first["type"], "REREGISTERED", "{first}");
    let entry = agent_entry(&master, &agent.id).await?;
    assert_eq!(
        entry["drain_info"]["state"], "DRAINED",
        "kept across a restart: {entry}"
    );
    operator_ok(
        &master,
        json!({"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": agent.id}}}),
    )
    .await?;
    let entry = agent_entry(&master, &agent.id).await?;
    assert!(entry.get("drain_info").is_none(), "{entry}");
    assert_eq!(entry["active"], true);
    master.stop().await
}
