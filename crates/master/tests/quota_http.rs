//! Quota over real HTTP against an in-process master: GET/SET/REMOVE/UPDATE_QUOTA on the
//! Operator API and the legacy `/quota` endpoint (with Mesos' status codes for bad input),
//! the quota in `/roles`, the table surviving a restart, and the allocator keeping a role
//! under its limit and holding resources back for a guarantee.

use crate::support;

use anyhow::{Context, Result, bail};
use drover_http::Client;
use serde_json::{Value, json};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn operator(master: &Master, call: Value) -> Result<(u16, String)> {
    let r = Client::new()
        .post(
            &format!("{}/api/v1", master.url),
            &[
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            call.to_string().into(),
        )
        .await?;
    Ok((r.status.as_u16(), r.text()))
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

/// One raw HTTP/1.1 request (the shared client only speaks GET and POST): (status, headers
/// and body as text).
async fn raw(master: &Master, method: &str, path: &str, body: &str) -> Result<(u16, String)> {
    let address = master.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut answer))
        .await
        .context("no answer")??;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .context("status line")?
        .parse()?;
    Ok((status, text))
}

fn assert_refused(answer: (u16, String), status: u16, needle: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert!(answer.1.contains(needle), "{:?} lacks {needle:?}", answer.1);
}

fn configs(status: &Value) -> Vec<Value> {
    status["configs"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn quota_calls_validate_persist_and_survive_a_restart() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let _agent = Agent::register(&master.url).await?;

    let empty = operator_ok(&master, json!({"type": "GET_QUOTA"})).await?;
    assert_eq!(empty["type"], "GET_QUOTA");
    assert!(configs(&empty["get_quota"]["status"]).is_empty(), "{empty}");

    // Bad input: missing fields, guarantee above limit, nested role, beyond capacity.
    for (call, needle) in [
        (json!({"type": "UPDATE_QUOTA"}), "'update_quota'"),
        (json!({"type": "SET_QUOTA"}), "'set_quota'"),
        (json!({"type": "REMOVE_QUOTA"}), "'remove_quota'"),
        (
            json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [{"limits": {}}]}}),
            "role",
        ),
        (
            json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
                {"role": "dev", "limits": {"cpus": {"value": -1}}}]}}),
            "Negative values not supported",
        ),
        (
            json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
                {"role": "dev", "guarantees": {"cpus": {"value": 2}}, "limits": {"cpus": {"value": 1}}}]}}),
            "is not contained within the 'QuotaConfig.limits'",
        ),
        (
            json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
                {"role": "dev/x", "limits": {"cpus": {"value": 1}}}]}}),
            "nested role 'dev/x'",
        ),
        (
            json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
                {"role": "dev", "guarantees": {"cpus": {"value": 64}}}]}}),
            "exceed cluster capacity",
        ),
    ] {
        assert_refused(operator(&master, call).await?, 400, needle);
    }

    operator_ok(
        &master,
        json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
            {"role": "dev", "limits": {"cpus": {"value": 1}, "mem": {"value": 1024}}},
            {"role": "ops", "guarantees": {"cpus": {"value": 1}}}]}}),
    )
    .await?;
    // SET_QUOTA: an existing quota is 400, overcommit 409 (Mesos' codes).
    let set = |role: &str, cpus: f64, force: bool| {
        json!({"type": "SET_QUOTA", "set_quota": {"quota_request": {"role": role, "force": force,
            "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}}]}}})
    };
    assert_refused(
        operator(&master, set("ops", 1.0, false)).await?,
        400,
        "which already has quota",
    );
    assert_refused(
        operator(&master, set("web", 16.0, false)).await?,
        409,
        "Quota guarantees overcommit the cluster",
    );
    operator_ok(&master, set("web", 16.0, true)).await?;
    assert_refused(
        operator(
            &master,
            json!({"type": "REMOVE_QUOTA", "remove_quota": {"role": "nobody"}}),
        )
        .await?,
        400,
        "Role 'nobody' has no quota set",
    );
    operator_ok(
        &master,
        json!({"type": "REMOVE_QUOTA", "remove_quota": {"role": "web"}}),
    )
    .await?;

    let status = operator_ok(&master, json!({"type": "GET_QUOTA"})).await?;
    let status = &status["get_quota"]["status"];
    let roles: Vec<String> = configs(status)
        .iter()
        .map(|c| c["role"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(roles, ["dev", "ops"], "{status}");
    assert_eq!(status["configs"][0]["limits"]["mem"]["value"], 1024.0);
    assert_eq!(status["infos"][1]["role"], "ops");
    assert_eq!(status["infos"][1]["guarantee"][0]["name"], "cpus");

    // `/roles` lists the quota roles with their quota, as Mesos 1.9+ did.
    let roles = Client::new()
        .get(&format!("{}/roles", master.url), &[])
        .await?;
    let roles: Value = serde_json::from_str(&roles.text())?;
    let dev = roles["roles"]
        .as_array()
        .context("roles")?
        .iter()
        .find(|r| r["name"] == "dev")
        .context("dev listed")?
        .clone();
    assert_eq!(dev["quota"]["role"], "dev");
    assert_eq!(dev["quota"]["limit"]["cpus"], 1.0);
    assert_eq!(dev["quota"]["guarantee"], json!({}));
    assert_eq!(dev["quota"]["consumed"], json!({}));

    // The table is in the registry: a restarted master has it.
    master.stop().await?;
    let master = Master::start(dir.path(), &[]).await?;
    let status = operator_ok(&master, json!({"type": "GET_QUOTA"})).await?;
    assert_eq!(configs(&status["get_quota"]["status"]).len(), 2, "{status}");
    master.stop().await
}

#[tokio::test]
async fn legacy_quota_endpoint_gets_sets_and_removes() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let _agent = Agent::register(&master.url).await?;
    let body = json!({"role": "dev", "guarantee": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 512}}]})
    .to_string();
    let (status, _) = raw(&master, "POST", "/quota", &body).await?;
    assert_eq!(status, 200);
    assert_refused(
        raw(&master, "POST", "/master/quota", &body).await?,
        400,
        "which already has quota",
    );
    assert_refused(
        raw(&master, "POST", "/quota", "{not json").await?,
        400,
        "Failed to parse set quota request JSON",
    );
    assert_refused(
        raw(
            &master,
            "POST",
            "/quota",
            &json!({"role": "x", "guarantee": [{"name": "ports", "type": "RANGES",
                "ranges": {"range": [{"begin": 1, "end": 2}]}}]})
            .to_string(),
        )
        .await?,
        400,
        "QuotaInfo must not include non-scalar resources",
    );
    let (status, text) = raw(&master, "GET", "/quota", "").await?;
    assert_eq!(status, 200);
    let json_body = &text[text.find("\r\n\r\n").context("body")? + 4..];
    let json_body = json_body
        .find('{')
        .map(|i| &json_body[i..json_body.rfind('}').unwrap_or(json_body.len() - 1) + 1])
        .context("a JSON object")?;
    let status_json: Value = serde_json::from_str(json_body)?;
    assert_eq!(status_json["configs"][0]["role"], "dev", "{status_json}");
    assert_eq!(
        status_json["configs"][0]["guarantees"]["cpus"]["value"],
        1.0
    );
    assert_eq!(status_json["configs"][0]["limits"]["mem"]["value"], 512.0);

    let answer = raw(&master, "PUT", "/quota", "").await?;
    assert_refused(
        answer.clone(),
        405,
        "Expecting one of { 'GET', 'POST', 'DELETE' }",
    );
    assert!(
        answer
            .1
            .to_ascii_lowercase()
            .contains("allow: get, post, delete")
    );
    assert_refused(
        raw(&master, "DELETE", "/quota", "").await?,
        400,
        "Failed to parse remove quota request",
    );
    let (status, _) = raw(&master, "DELETE", "/master/quota/dev", "").await?;
    assert_eq!(status, 200);
    assert_refused(
        raw(&master, "DELETE", "/quota/dev", "").await?,
        400,
        "Role 'dev' has no quota set",
    );
    let empty = operator_ok(&master, json!({"type": "GET_QUOTA"})).await?;
    assert!(configs(&empty["get_quota"]["status"]).is_empty());
    master.stop().await
}

fn role_info(role: &str) -> Value {
    json!({"user": "root", "name": "quota-test", "failover_timeout": 3600.0, "roles": [role],
        "capabilities": [{"type": "MULTI_ROLE"}]})
}

fn offered(offers: &Value, name: &str) -> f64 {
    offers["offers"]["offers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|o| o["resources"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["name"] == name)
        .map(|r| r["scalar"]["value"].as_f64().unwrap_or(0.0))
        .sum()
}

#[tokio::test]
async fn a_limit_stops_offers_beyond_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &["--allocation_interval", "50ms"]).await?;
    let _agent = Agent::register(&master.url).await?;
    operator_ok(
        &master,
        json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
            {"role": "dev", "limits": {"cpus": {"value": 1}, "mem": {"value": 1024}}}]}}),
    )
    .await?;
    let mut dev = Framework::subscribe(&master.url, role_info("dev")).await?;
    let offers = dev.next("OFFERS").await?;
    assert_eq!(offered(&offers, "cpus"), 1.0, "{offers}");
    assert_eq!(offered(&offers, "mem"), 1024.0, "{offers}");
    let mut other = Framework::subscribe(&master.url, role_info("*")).await?;
    let offers = other.next("OFFERS").await?;
    assert_eq!(
        offered(&offers, "cpus"),
        3.0,
        "the rest goes to another role: {offers}"
    );
    master.stop().await
}

#[tokio::test]
async fn a_guarantee_holds_resources_back_for_its_role() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &["--allocation_interval", "50ms"]).await?;
    let _agent = Agent::register(&master.url).await?;
    operator_ok(
        &master,
        json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
            {"role": "gold", "guarantees": {"cpus": {"value": 3}, "mem": {"value": 3072}}}]}}),
    )
    .await?;
    let mut other = Framework::subscribe(&master.url, role_info("*")).await?;
    let offers = other.next("OFFERS").await?;
    assert_eq!(offered(&offers, "cpus"), 1.0, "3 cpus held back: {offers}");
    assert_eq!(offered(&offers, "mem"), 1024.0, "{offers}");
    let mut gold = Framework::subscribe(&master.url, role_info("gold")).await?;
    let offers = gold.next("OFFERS").await?;
    assert_eq!(offered(&offers, "cpus"), 3.0, "{offers}");
    assert_eq!(offered(&offers, "mem"), 3072.0, "{offers}");
    master.stop().await
}

#[tokio::test]
async fn quota_calls_speak_protobuf_too() -> Result<()> {
    use drover_wire::v1::master::call::Type as CallType;
    use drover_wire::v1::master::{Call, Response, call};
    use drover_wire::v1::quota::QuotaConfig;
    use prost::Message;
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let _agent = Agent::register(&master.url).await?;
    let post = |call: Call| {
        let url = format!("{}/api/v1", master.url);
        async move {
            Client::new()
                .post(
                    &url,
                    &[
                        ("Content-Type", "application/x-protobuf"),
                        ("Accept", "application/x-protobuf"),
                    ],
                    call.encode_to_vec().into(),
                )
                .await
        }
    };
    let mut limits = std::collections::BTreeMap::new();
    limits.insert(
        "cpus".to_owned(),
        drover_wire::v1::value::Scalar { value: 2.0 },
    );
    let update = Call {
        r#type: Some(CallType::UpdateQuota as i32),
        update_quota: Some(call::UpdateQuota {
            force: None,
            quota_configs: vec![QuotaConfig {
                role: "dev".into(),
                guarantees: Default::default(),
                limits,
            }],
        }),
        ..Default::default()
    };
    let answer = post(update).await?;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text());
    let answer = post(Call {
        r#type: Some(CallType::GetQuota as i32),
        ..Default::default()
    })
    .await?;
    assert_eq!(answer.status.as_u16(), 200);
    let response = Response::decode(answer.body.clone())?;
    let status = response.get_quota.context("get_quota")?.status;
    assert_eq!(status.configs.len(), 1);
    assert_eq!(status.configs[0].role, "dev");
    assert_eq!(status.configs[0].limits["cpus"].value, 2.0);
    master.stop().await
}
