//! The master over real HTTP on a free port: a JSON framework client (RecordIO SUBSCRIBE
//! stream, stream ids, Mesos' status codes) and a scripted agent speaking the internal
//! protocol; launches, updates and acknowledgements end to end; master-side updates for both
//! framework kinds; and a master stopped and restarted from the same work dir.

use crate::support;

use std::time::Duration;

use anyhow::Result;
use drover_http::Client;
use serde_json::{Value, json};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_status_codes_follow_mesos() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let client = Client::new();
    let url = format!("{}/api/v1/scheduler", master.url);
    let subscribe =
        json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}})
            .to_string();
    // 405: GET.
    assert_eq!(client.get(&url, &[]).await?.status, 405);
    // 400: no Content-Type.
    let r = client.post(&url, &[], subscribe.clone().into()).await?;
    assert_eq!(
        (r.status.as_u16(), r.text()),
        (400, "Expecting 'Content-Type' to be present".to_owned())
    );
    // 415: wrong Content-Type.
    assert_eq!(
        client
            .post(
                &url,
                &[("Content-Type", "text/plain")],
                subscribe.clone().into()
            )
            .await?
            .status,
        415
    );
    // 400: malformed JSON, and JSON that is not a Call.
    let r = client.post(&url, JSON, "{".into()).await?;
    assert_eq!(r.status, 400);
    assert!(
        r.text().starts_with("Failed to parse body into JSON"),
        "{}",
        r.text()
    );
    let r = client
        .post(
            &url,
            JSON,
            r#"{"type":"SUBSCRIBE","framework_id":"abc"}"#.into(),
        )
        .await?;
    assert_eq!(r.status, 400);
    assert!(
        r.text()
            .contains("Not expecting a JSON string for field 'framework_id'"),
        "{}",
        r.text()
    );
    // 406: SUBSCRIBE accepting neither encoding.
    let r = client
        .post(
            &url,
            &[
                ("Content-Type", "application/json"),
                ("Accept", "text/html"),
            ],
            subscribe.clone().into(),
        )
        .await?;
    assert_eq!(r.status, 406);
    // 400: SUBSCRIBE with a stream id.
    let r = client
        .post(
            &url,
            &[
                ("Content-Type", "application/json"),
                ("Mesos-Stream-Id", "x"),
            ],
            subscribe.clone().into(),
        )
        .await?;
    assert_eq!(r.status, 400);
    // 400: unknown framework; 403 after the framework disconnects.
    let r = client
        .post(
            &url,
            JSON,
            json!({"type": "REVIVE", "framework_id": {"value": "nope"}})
                .to_string()
                .into(),
        )
        .await?;
    assert_eq!(
        (r.status.as_u16(), r.text()),
        (400, "Framework cannot be found".to_owned())
    );
    let fw = Framework::subscribe(
        &master.url,
        json!({"user": "u", "name": "n", "failover_timeout": 600.0}),
    )
    .await?;
    assert_eq!(fw.call(json!({"type": "REVIVE"})).await?.0, 202);
    // 400: missing or wrong stream id.
    let r = client
        .post(
            &url,
            JSON,
            json!({"type": "REVIVE", "framework_id": {"value": fw.id}})
                .to_string()
                .into(),
        )
        .await?;
    assert_eq!(r.status, 400);
    let r = client
        .post(
            &url,
            &[
                ("Content-Type", "application/json"),
                ("Mesos-Stream-Id", "00000000-0000-0000-0000-000000000000"),
            ],
            json!({"type": "REVIVE", "framework_id": {"value": fw.id}})
                .to_string()
                .into(),
        )
        .await?;
    assert_eq!(r.status, 400);
    let Framework {
        id,
        stream_id,
        events,
        ..
    } = fw;
    drop(events);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let r = client
            .post(
                &url,
                &[
                    ("Content-Type", "application/json"),
                    ("Mesos-Stream-Id", &stream_id),
                ],
                json!({"type": "REVIVE", "framework_id": {"value": id}})
                    .to_string()
                    .into(),
            )
            .await?;
        if r.status == 403 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "framework never seen as disconnected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Legacy endpoints.
    let v: Value = serde_json::from_slice(
        &client
            .get(&format!("{}/version", master.url), &[])
            .await?
            .body,
    )?;
    assert_eq!(v["version"], "1.11.0");
    let r = client
        .get(&format!("{}/master/redirect", master.url), &[])
        .await?;
    assert_eq!(r.status, 307);
    assert!(r.headers["location"].to_str()?.starts_with("//"));
    let m: Value = serde_json::from_slice(
        &client
            .get(&format!("{}/metrics/snapshot", master.url), &[])
            .await?
            .body,
    )?;
    assert_eq!(m["master/elected"], 1.0);
    // Operator API through pymesos' path.
    let r = client
        .post(
            &format!("{}/api/v1/operator", master.url),
            JSON,
            r#"{"type":"GET_HEALTH"}"#.into(),
        )
        .await?;
    let v: Value = serde_json::from_slice(&r.body)?;
    assert_eq!(
        v,
        json!({"type": "GET_HEALTH", "get_health": {"healthy": true}})
    );
    master.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_side_updates_end_to_end_for_both_kinds() -> Result<()> {
    for pa in [true, false] {
        let dir = tempfile::tempdir()?;
        let master = Master::start(dir.path(), &[]).await?;
        let (mut fw, mut agent) = running(&master, pa, "web").await?;
        // REASON_TASK_INVALID: more cpus than offered.
        let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
        assert_eq!(fw.call(launch(&offer, "huge", 99.0)).await?.0, 202);
        let status = fw.next("UPDATE").await?["update"]["status"].clone();
        assert_eq!(
            (status["state"].as_str(), status["reason"].as_str()),
            (Some("TASK_ERROR"), Some("REASON_TASK_INVALID"))
        );
        assert_eq!(status["source"], "SOURCE_MASTER");
        assert!(status.get("uuid").is_none(), "master updates carry no uuid");
        // REASON_INVALID_OFFERS: the same offer again.
        assert_eq!(fw.call(launch(&offer, "again", 1.0)).await?.0, 202);
        let status = fw.next("UPDATE").await?["update"]["status"].clone();
        assert_eq!(
            status["state"],
            if pa { "TASK_DROPPED" } else { "TASK_LOST" }
        );
        assert_eq!(status["reason"], "REASON_INVALID_OFFERS");
        // REASON_RECONCILIATION (explicit) and TASK_UNKNOWN for an unknown agent.
        let call = json!({"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": {"value": "web"}}, {"task_id": {"value": "ghost"}, "agent_id": {"value": "nope-S1"}}]}});
        assert_eq!(fw.call(call).await?.0, 202);
        let a = fw.next("UPDATE").await?["update"]["status"].clone();
        assert_eq!(
            (a["state"].as_str(), a["reason"].as_str()),
            (Some("TASK_RUNNING"), Some("REASON_RECONCILIATION"))
        );
        let b = fw.next("UPDATE").await?["update"]["status"].clone();
        assert_eq!(b["state"], if pa { "TASK_UNKNOWN" } else { "TASK_LOST" });
        // TASK_GONE_BY_OPERATOR via the operator API; the agent is told to shut down.
        let client = Client::new();
        let gone = json!({"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": agent.id}}}).to_string();
        let r = client
            .post(&format!("{}/api/v1", master.url), JSON, gone.clone().into())
            .await?;
        assert_eq!(r.status, 200);
        let status = fw.next("UPDATE").await?["update"]["status"].clone();
        if pa {
            assert_eq!(
                (status["state"].as_str(), status["reason"].as_str()),
                (
                    Some("TASK_GONE_BY_OPERATOR"),
                    Some("REASON_AGENT_REMOVED_BY_OPERATOR")
                )
            );
        } else {
            assert_eq!(
                (status["state"].as_str(), status["reason"].as_str()),
                (Some("TASK_LOST"), Some("REASON_AGENT_REMOVED"))
            );
        }
        agent.next("SHUTDOWN").await?;
        assert_eq!(
            client
                .post(&format!("{}/api/v1", master.url), JSON, gone.into())
                .await?
                .status,
            200,
            "idempotent"
        );
        // The history shows why the task ended.
        let state: Value = serde_json::from_slice(
            &client
                .get(&format!("{}/master/state", master.url), &[])
                .await?
                .body,
        )?;
        let done = &state["frameworks"][0]["completed_tasks"];
        let web = done
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == "web")
            .expect("web completed");
        let history: Vec<&str> = web["status_history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["state"].as_str().unwrap())
            .collect();
        assert_eq!(history.first(), Some(&"TASK_RUNNING"));
        assert_eq!(web["resources"]["cpus"], 1.0);
        master.stop().await?;
    }
    Ok(())
}

/// STATUS_UPDATES (issue 8): the updates of one call reach the framework in order and change
/// the master's task exactly as that many STATUS_UPDATE calls would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_status_updates_are_handled_in_order_as_single_ones() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let (mut fw, agent) = running(&master, true, "web").await?;
    let framework_id = fw.id.clone();
    let update = |state: &str, uuid: &str| {
        json!({
            "framework_id": {"value": framework_id},
            "status": {"task_id": {"value": "web"}, "state": state, "source": "SOURCE_EXECUTOR", "uuid": uuid},
            "latest_state": "TASK_FINISHED"
        })
    };
    let call = json!({"type": "STATUS_UPDATES", "status_updates": [
        update("TASK_RUNNING", "AQAAAAAAAAAAAAAAAAAAAA=="),
        update("TASK_FINISHED", "AgAAAAAAAAAAAAAAAAAAAA==")
    ]});
    assert_eq!(agent.call(call).await?, 202);
    let first = fw.next("UPDATE").await?["update"]["status"].clone();
    let second = fw.next("UPDATE").await?["update"]["status"].clone();
    assert_eq!(
        (first["state"].as_str(), first["uuid"].as_str()),
        (Some("TASK_RUNNING"), Some("AQAAAAAAAAAAAAAAAAAAAA=="))
    );
    assert_eq!(
        (second["state"].as_str(), second["uuid"].as_str()),
        (Some("TASK_FINISHED"), Some("AgAAAAAAAAAAAAAAAAAAAA=="))
    );
    assert_eq!(second["agent_id"]["value"], agent.id.as_str());
    let state: Value = serde_json::from_slice(
        &Client::new()
            .get(&format!("{}/master/state", master.url), &[])
            .await?
            .body,
    )?;
    // Terminal but not yet acknowledged: still listed, in its new state (as in Mesos).
    let web = &state["frameworks"][0]["tasks"][0];
    assert_eq!(
        (web["id"].as_str(), web["state"].as_str()),
        (Some("web"), Some("TASK_FINISHED"))
    );
    // A batch refused as a whole answers like the single call would.
    assert_eq!(agent.call(json!({"type": "STATUS_UPDATES"})).await?, 400);
    let mut stale = json!({"type": "STATUS_UPDATES", "status_updates": [update("TASK_RUNNING", "AwAAAAAAAAAAAAAAAAAAAA==")]});
    stale["agent_id"] = json!({"value": "nope-S9"});
    let r = agent
        .client
        .post(
            &agent.url,
            &[
                ("Content-Type", "application/json"),
                ("Mesos-Stream-Id", &agent.stream_id),
            ],
            stale.to_string().into(),
        )
        .await?;
    assert_eq!(
        (r.status.as_u16(), r.text().as_str()),
        (403, "Agent is not registered")
    );
    master.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_link_break_loses_tasks_of_frameworks_that_do_not_checkpoint() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let agent = Agent::register(&master.url).await?;
    let mut info = framework_info(false);
    info["checkpoint"] = json!(false);
    let mut fw = Framework::subscribe(&master.url, info).await?;
    let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
    fw.call(launch(&offer, "t", 1.0)).await?;
    drop(agent);
    let status = fw.next("UPDATE").await?["update"]["status"].clone();
    assert_eq!(
        (status["state"].as_str(), status["reason"].as_str()),
        (Some("TASK_LOST"), Some("REASON_AGENT_DISCONNECTED"))
    );
    master.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_master_keeps_agents_and_frameworks() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let (fw, agent) = running(&master, true, "db").await?;
    let (fw_id, agent_id) = (fw.id.clone(), agent.id.clone());
    drop((fw, agent));
    master.stop().await?;

    let master = Master::start(dir.path(), &[]).await?;
    let client = Client::new();
    let agents: Value = serde_json::from_slice(
        &client
            .post(
                &format!("{}/api/v1", master.url),
                JSON,
                r#"{"type":"GET_AGENTS"}"#.into(),
            )
            .await?
            .body,
    )?;
    assert_eq!(
        agents["get_agents"]["recovered_agents"][0]["id"]["value"],
        agent_id.as_str()
    );
    // The framework resubscribes with its id; reconciliation is silent until the agent is back.
    let mut info = framework_info(true);
    info["id"] = json!({"value": fw_id});
    let mut fw = Framework::subscribe(&master.url, info.clone()).await?;
    assert_eq!(fw.id, fw_id);
    let reconcile =
        json!({"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": {"value": "db"}}]}});
    assert_eq!(fw.call(reconcile.clone()).await?.0, 202);
    let task = json!([{"name": "db", "task_id": {"value": "db"}, "framework_id": {"value": fw_id}, "agent_id": {"value": agent_id}, "state": "TASK_RUNNING",
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}}]}]);
    let (_agent, first) = Agent::reregister(&master.url, &agent_id, task).await?;
    assert_eq!(first["type"], "REREGISTERED", "{first}");
    assert_eq!(fw.call(reconcile).await?.0, 202);
    let status = fw.next("UPDATE").await?["update"]["status"].clone();
    assert_eq!(
        status["task_id"]["value"], "db",
        "the first answer is the one after reregistration"
    );
    assert_eq!(
        (status["state"].as_str(), status["reason"].as_str()),
        (Some("TASK_RUNNING"), Some("REASON_RECONCILIATION"))
    );
    // A second framework gets a fresh id.
    let other = Framework::subscribe(&master.url, framework_info(false)).await?;
    assert!(other.id.ends_with("-0001"), "{}", other.id);
    master.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_work_dir_is_one_clear_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let flags = parse_flags(&["test", "--work_dir", file.to_str().unwrap()]);
    let err = drover_master::run_on(listener, flags, std::future::pending())
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("cannot open the registry"), "{text}");
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port().to_string();
    let flags = parse_flags(&[
        "test",
        "--work_dir",
        dir.path().to_str().unwrap(),
        "--port",
        &port,
    ]);
    let err = drover_master::run(flags, std::future::pending())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("cannot listen on"), "{err:#}");
    Ok(())
}

/// `--max_connections` and `--http_header_read_timeout` reach the listener's bounds (issue 14
/// item 1): over the cap a new connection is closed at once while the first is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_flag_bounds_the_listener() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let flags = parse_flags(&[
        "test",
        "--max_connections",
        "1",
        "--http_header_read_timeout",
        "2secs",
    ]);
    let limits = flags.http_limits();
    assert_eq!(limits.max_connections, 1);
    assert_eq!(limits.header_read_timeout, Duration::from_secs(2));
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &["--max_connections", "1"]).await?;
    let addr = master.url.trim_start_matches("http://").to_owned();
    // The start-up probe's connection may linger a moment as keep-alive and hold the one slot:
    // retry until a connection is served, then hold it open...
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 64];
    let held = loop {
        let mut conn = tokio::net::TcpStream::connect(&addr).await?;
        let _ = conn
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let n = tokio::time::timeout(Duration::from_secs(60), conn.read(&mut buf))
            .await?
            .unwrap_or(0);
        if buf[..n].starts_with(b"HTTP/1.1 200") {
            break conn;
        }
        assert!(tokio::time::Instant::now() < deadline, "never served");
        tokio::task::yield_now().await;
    };
    // ...and a second, closed without an answer while the first is open.
    let mut second = tokio::net::TcpStream::connect(&addr).await?;
    let _ = second
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let n = tokio::time::timeout(Duration::from_secs(60), second.read(&mut buf))
        .await?
        .unwrap_or(0);
    assert_eq!(n, 0, "over the cap: closed, not served");
    drop((held, second));
    master.stop().await
}
