//! Issue 12 on the agent: the legacy endpoints monitoring tools read (`/state.json`,
//! `/slave(1)/state(.json)`, `/files/*.json`, `/monitor/statistics(.json)`, `/flags`,
//! `/version`, `/containers`), trailing slashes ignored, and `/files/read` of a directory
//! answered 400 with a message rather than 500. Runs the built `drover agent`.

use crate::support;

use drover_http::Client;
use drover_wire::v1::TaskState;
use serde_json::Value;
use support::*;

async fn get(agent: &AgentProcess, path: &str) -> (u16, String) {
    let url = format!("http://{}{path}", agent.endpoint());
    let response = Client::new().get(&url, &[]).await.expect("agent answers");
    (response.status.as_u16(), response.text())
}

async fn get_json(agent: &AgentProcess, path: &str) -> Value {
    let (status, body) = get(agent, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_endpoints_answer_as_mesos_agents_did() {
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    master
        .run_task(
            &framework("fw", false, false),
            shell_task("busy", "echo out; sleep 600", 64.0),
        )
        .await;
    master
        .wait_state("busy", TaskState::TaskRunning, LONG)
        .await;

    for path in [
        "/state",
        "/state.json",
        "/slave(1)/state",
        "/slave(1)/state.json",
        "/state/",
        "/slave(1)/state.json/",
    ] {
        let state = get_json(&agent, path).await;
        assert_eq!(
            state["frameworks"][0]["executors"][0]["tasks"][0]["id"], "busy",
            "{path}: {state}"
        );
    }
    for path in ["/flags", "/slave(1)/flags", "/flags/"] {
        let flags = get_json(&agent, path).await;
        assert!(flags["flags"]["work_dir"].is_string(), "{path}: {flags}");
    }
    let version = get_json(&agent, "/version").await;
    assert!(version["version"].is_string(), "{version}");

    for path in [
        "/monitor/statistics",
        "/monitor/statistics.json",
        "/slave(1)/monitor/statistics",
        "/containers",
    ] {
        let list = get_json(&agent, path).await;
        let entry = &list[0];
        assert_eq!(entry["executor_id"], "busy", "{path}: {list}");
        assert_eq!(entry["framework_id"], "fw");
        let stats = &entry["statistics"];
        assert!(
            stats["timestamp"].as_f64().unwrap_or_default() > 1e9,
            "wall-clock seconds: {stats}"
        );
        // The task's 0.1 cpus plus what the command executor was given.
        let cpus = stats["cpus_limit"].as_f64().unwrap_or_default();
        assert!(cpus >= 0.1, "{path}: {stats}");
        assert!(stats["mem_limit_bytes"].as_u64().unwrap_or_default() >= 64 << 20);
        if is_root() {
            assert!(stats["cpus_user_time_secs"].is_number(), "{stats}");
            assert!(stats["cpus_system_time_secs"].is_number(), "{stats}");
            assert!(stats["mem_rss_bytes"].is_number(), "{stats}");
        }
        if path == "/containers" {
            assert!(entry["container_id"].is_string(), "{entry}");
        }
    }

    let sandbox = agent
        .sandbox("busy")
        .expect("sandbox")
        .display()
        .to_string();
    let entries = get_json(&agent, &format!("/files/browse.json?path={sandbox}")).await;
    assert!(
        entries.as_array().is_some_and(|l| l
            .iter()
            .any(|e| e["path"].as_str().unwrap_or_default().ends_with("/stdout"))),
        "{entries}"
    );
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let read = get_json(
            &agent,
            &format!("/files/read.json?path={sandbox}/stdout&offset=0"),
        )
        .await;
        if read["data"].as_str().unwrap_or_default().contains("out") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{read}");
        tokio::task::yield_now().await;
    }
    // Ended executors and frameworks stay in /state, with their sandboxes, as in Mesos.
    master
        .run_task(
            &framework("fw", false, false),
            shell_task("quick", "true", 64.0),
        )
        .await;
    master
        .run_task(
            &framework("fw2", false, false),
            shell_task("once", "true", 64.0),
        )
        .await;
    master
        .wait_state("quick", TaskState::TaskFinished, LONG)
        .await;
    master
        .wait_state("once", TaskState::TaskFinished, LONG)
        .await;
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let state = get_json(&agent, "/state").await;
        let quick = state["frameworks"]
            .as_array()
            .and_then(|l| l.iter().find(|f| f["id"] == "fw"))
            .and_then(|f| f["completed_executors"].as_array())
            .and_then(|l| l.iter().find(|e| e["id"] == "quick"))
            .cloned();
        let fw2 = state["completed_frameworks"]
            .as_array()
            .and_then(|l| l.iter().find(|f| f["id"] == "fw2"))
            .cloned();
        if let (Some(quick), Some(fw2)) = (quick, fw2) {
            assert!(
                quick["directory"]
                    .as_str()
                    .is_some_and(|d| d.contains("/executors/quick/")),
                "{quick}"
            );
            assert_eq!(
                quick["completed_tasks"][0]["state"], "TASK_FINISHED",
                "{quick}"
            );
            let once = &fw2["completed_executors"][0];
            assert_eq!(once["id"], "once", "{fw2}");
            assert!(once["directory"].as_str().is_some_and(|d| !d.is_empty()));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{state}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A directory is the request's mistake: 400 with a message, never 500.
    for path in ["/files/read", "/files/read.json", "/files/download"] {
        let (status, body) = get(&agent, &format!("{path}?path={sandbox}&offset=0")).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("directory"), "{path}: {body}");
    }
    // Only sandboxes are attached: the agent's own store under meta/ (and the work dir
    // itself) are 404s on every file endpoint, as Mesos answered for a path it never attached.
    let store = std::fs::read_dir(agent.work_dir.join("meta"))
        .expect("the agent's meta dir")
        .flatten()
        .find(|e| e.path().is_file())
        .expect("a store file under meta/")
        .path();
    for target in [store, agent.work_dir.join("meta"), agent.work_dir.clone()] {
        for path in [
            "/files/read",
            "/files/read.json",
            "/files/download",
            "/files/browse",
            "/files/browse.json",
        ] {
            let (status, body) = get(
                &agent,
                &format!("{path}?path={}&offset=0", target.display()),
            )
            .await;
            assert_eq!(status, 404, "{path} {}: {body}", target.display());
        }
    }
}
