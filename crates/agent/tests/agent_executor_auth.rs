//! Executor authentication (issue 14 item 2) against the built `drover agent`: with
//! `--authenticate_http_executors` each executor gets its own token and its calls pass, while a
//! forged executor update — no token, a token signed with another key, a token of another
//! executor or of another container — is refused (401/403) and never reaches the master. The
//! task itself does not see its executor's token. And `access_sandboxes`: who may read a
//! sandbox through `/files` and READ_FILE.

use crate::support;

use drover_agent::executor_auth::{Claims, Keys};
use drover_wire::v1::TaskState;
use support::*;

async fn forge(endpoint: &str, authorization: Option<String>) -> (u16, Option<String>) {
    let body = serde_json::json!({
        "type": "UPDATE",
        "framework_id": {"value": "fw"},
        "executor_id": {"value": "victim"},
        "update": {"status": {
            "task_id": {"value": "victim"},
            "state": "TASK_FAILED",
            "source": "SOURCE_EXECUTOR",
            "uuid": "AAAAAAAAAAAAAAAAAAAAAA==",
            "message": "forged"
        }}
    });
    let mut request = reqwest::Client::new()
        .post(format!("http://{endpoint}/api/v1/executor"))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.expect("the agent answers");
    let challenge = response
        .headers()
        .get("WWW-Authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (response.status().as_u16(), challenge)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_executors_own_token_speaks_for_it() {
    let keys_dir = tempfile::tempdir().unwrap();
    let key_file = keys_dir.path().join("executor.key");
    std::fs::write(&key_file, "s3cret\n").unwrap();
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(
        &master,
        &[
            "--authenticate_http_executors",
            &format!("--executor_secret_key={}", key_file.display()),
        ],
    );
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    master
        .run_task(
            &framework("fw", false, false),
            shell_task(
                "victim",
                "echo \"token=${MESOS_EXECUTOR_AUTHENTICATION_TOKEN:-none}\"; exec sleep 600",
                32.0,
            ),
        )
        .await;
    master
        .wait_state("victim", TaskState::TaskRunning, LONG)
        .await;
    let stdout = agent.sandbox("victim").unwrap().join("stdout");
    master
        .wait_for("the task's output", LONG, |_| {
            std::fs::read_to_string(&stdout).is_ok_and(|s| s.contains("token="))
        })
        .await;
    assert_eq!(
        std::fs::read_to_string(&stdout).unwrap().trim(),
        "token=none",
        "the task does not get its executor's token"
    );

    let endpoint = agent.endpoint();
    let (status, challenge) = forge(&endpoint, None).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.as_deref(),
        Some("Bearer realm=\"mesos-agent-executor\"")
    );
    let claims = |eid: &str, cid: &str| Claims {
        fid: "fw".into(),
        eid: eid.into(),
        cid: cid.into(),
    };
    let wrong_key = Keys::new(b"guess").mint(&claims("victim", "any"));
    assert_eq!(
        forge(&endpoint, Some(format!("Bearer {wrong_key}")))
            .await
            .0,
        401
    );
    let keys = Keys::new(b"s3cret");
    let other_executor = keys.mint(&claims("someone-else", "any"));
    assert_eq!(
        forge(&endpoint, Some(format!("Bearer {other_executor}")))
            .await
            .0,
        403
    );
    let other_container = keys.mint(&claims("victim", "not-its-container"));
    assert_eq!(
        forge(&endpoint, Some(format!("Bearer {other_container}")))
            .await
            .0,
        403
    );
    assert!(
        !master
            .updates()
            .iter()
            .any(|u| u.task_id.value == "victim" && u.state == TaskState::TaskFailed as i32),
        "no forged update reached the master"
    );

    // The executor's own calls still pass: the kill is reported by it.
    master.kill_task("fw", "victim", None).await;
    let killed = master
        .wait_state("victim", TaskState::TaskKilled, LONG)
        .await;
    assert_eq!(
        killed.source,
        Some(drover_wire::v1::task_status::Source::Executor as i32)
    );
}

#[test]
fn authenticating_executors_without_a_key_stops_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(drover_bin())
        .args([
            "agent",
            "--master=127.0.0.1:1",
            &format!("--work_dir={}", dir.path().display()),
            "--authenticate_http_executors",
        ])
        .output()
        .expect("run drover agent");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--authenticate_http_executors needs --executor_secret_key"),
        "{stderr}"
    );
}

/// `--acls` `access_sandboxes` on the agent (issue 14 item 3): `/files` and READ_FILE serve a
/// sandbox only to principals the ACLs let read the sandboxes of its executor's user; others
/// get 403 naming what was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_sandboxes_decides_who_reads_a_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials.json");
    std::fs::write(
        &credentials,
        r#"{"credentials": [{"principal": "ops", "secret": "ops-secret"},
                            {"principal": "dev", "secret": "dev-secret"}]}"#,
    )
    .unwrap();
    let acls = r#"{"permissive": false,
        "run_tasks": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}],
        "access_sandboxes": [{"principals": {"values": ["ops"]}, "users": {"values": ["root"]}}],
        "get_endpoints": [{"principals": {"values": ["ops"]},
                           "paths": {"values": ["/metrics/snapshot", "/monitor/statistics"]}}]}"#;
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(
        &master,
        &[
            "--authenticate_http_readonly",
            "--authenticate_http_readwrite",
            &format!("--credentials={}", credentials.display()),
            &format!("--acls={acls}"),
        ],
    );
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    master
        .run_task(
            &framework("fw", false, false),
            shell_task("sb", "echo sandbox-secret; exec sleep 600", 32.0),
        )
        .await;
    master.wait_state("sb", TaskState::TaskRunning, LONG).await;
    let stdout = agent.sandbox("sb").unwrap().join("stdout");
    master
        .wait_for("the task's output", LONG, |_| {
            std::fs::read_to_string(&stdout).is_ok_and(|s| s.contains("sandbox-secret"))
        })
        .await;
    let http = reqwest::Client::new();
    let endpoint = agent.endpoint();
    let read = |user: &'static str, secret: &'static str| {
        let request = http
            .get(format!("http://{endpoint}/files/read"))
            .query(&[
                ("path", stdout.display().to_string()),
                ("offset", "0".to_owned()),
            ])
            .basic_auth(user, Some(secret));
        async move {
            let response = request.send().await.expect("the agent answers");
            (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            )
        }
    };
    let (status, body) = read("ops", "ops-secret").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("sandbox-secret"), "{body}");
    let (status, body) = read("dev", "dev-secret").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("Principal 'dev'") && body.contains("user 'root'"),
        "{body}"
    );
    // READ_FILE of the operator API follows the same rule.
    let call = |user: &'static str, secret: &'static str| {
        let request = http
            .post(format!("http://{endpoint}/api/v1"))
            .header("Content-Type", "application/json")
            .basic_auth(user, Some(secret))
            .body(
                serde_json::json!({"type": "READ_FILE", "read_file": {
                    "path": stdout.display().to_string(), "offset": 0}})
                .to_string(),
            );
        async move {
            request
                .send()
                .await
                .expect("the agent answers")
                .status()
                .as_u16()
        }
    };
    assert_eq!(call("ops", "ops-secret").await, 200);
    assert_eq!(call("dev", "dev-secret").await, 403);
    // get_endpoints: ops may read the metrics and the statistics, not the containers (no ACL
    // names that path for it, and the ACLs are not permissive); dev none of them.
    let get = |path: &'static str, user: &'static str, secret: &'static str| {
        let request = http
            .get(format!("http://{endpoint}{path}"))
            .basic_auth(user, Some(secret));
        async move {
            let response = request.send().await.expect("the agent answers");
            (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            )
        }
    };
    assert_eq!(get("/metrics/snapshot", "ops", "ops-secret").await.0, 200);
    assert_eq!(get("/monitor/statistics", "ops", "ops-secret").await.0, 200);
    let (status, body) = get("/containers", "ops", "ops-secret").await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = get("/metrics/snapshot", "dev", "dev-secret").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("get_endpoints") && body.contains("'dev'"),
        "{body}"
    );
}

/// The agent's read ACLs (issue 14), as Mesos' agent applied them: `view_frameworks`,
/// `view_executors` and `view_tasks` filter `/state` and GET_STATE, `view_containers` filters
/// `/containers` and GET_CONTAINERS, `view_flags` guards `/flags` and GET_FLAGS and
/// `set_log_level` SET_LOGGING_LEVEL. ops sees everything; dev only what runs as `nobody`, so
/// nothing of a task that runs as root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_acls_filter_what_each_principal_reads_from_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials.json");
    std::fs::write(
        &credentials,
        r#"{"credentials": [{"principal": "ops", "secret": "ops-secret"},
                            {"principal": "dev", "secret": "dev-secret"}]}"#,
    )
    .unwrap();
    let users = r#"[{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
                    {"principals": {"values": ["dev"]}, "users": {"values": ["nobody"]}}]"#;
    let acls = format!(
        r#"{{"permissive": false,
        "run_tasks": [{{"principals": {{"type": "ANY"}}, "users": {{"type": "ANY"}}}}],
        "get_endpoints": [{{"principals": {{"type": "ANY"}}, "paths": {{"values": ["/containers"]}}}}],
        "view_frameworks": {users}, "view_executors": {users}, "view_tasks": {users},
        "view_containers": {users},
        "view_flags": [{{"principals": {{"values": ["ops"]}}, "flags": {{"type": "ANY"}}}}],
        "set_log_level": [{{"principals": {{"values": ["ops"]}}, "level": {{"type": "ANY"}}}}]}}"#
    );
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(
        &master,
        &[
            "--authenticate_http_readonly",
            "--authenticate_http_readwrite",
            &format!("--credentials={}", credentials.display()),
            &format!("--acls={acls}"),
        ],
    );
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    master
        .run_task(
            &framework("fw", false, false),
            shell_task("seen", "exec sleep 600", 32.0),
        )
        .await;
    master
        .wait_state("seen", TaskState::TaskRunning, LONG)
        .await;
    let http = reqwest::Client::new();
    let endpoint = agent.endpoint();
    let get = |path: &'static str, user: &'static str| {
        let request = http
            .get(format!("http://{endpoint}{path}"))
            .basic_auth(user, Some(format!("{user}-secret")));
        async move {
            let response = request.send().await.expect("the agent answers");
            (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            )
        }
    };
    let call = |body: serde_json::Value, user: &'static str| {
        let request = http
            .post(format!("http://{endpoint}/api/v1"))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .basic_auth(user, Some(format!("{user}-secret")))
            .body(body.to_string());
        async move {
            let response = request.send().await.expect("the agent answers");
            (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            )
        }
    };
    let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).expect("JSON");

    let (status, body) = get("/state", "ops").await;
    assert_eq!(status, 200, "{body}");
    let state = json(&body);
    assert_eq!(
        state["frameworks"][0]["executors"][0]["tasks"][0]["id"],
        "seen"
    );
    let (status, body) = get("/state", "dev").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["frameworks"], serde_json::json!([]), "{body}");

    let get_state = serde_json::json!({"type": "GET_STATE"});
    let (_, body) = call(get_state.clone(), "ops").await;
    assert!(body.contains("\"seen\""), "{body}");
    let (status, body) = call(get_state, "dev").await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("\"seen\""), "dev saw the task: {body}");

    let (_, body) = get("/containers", "ops").await;
    assert_eq!(json(&body).as_array().map(Vec::len), Some(1), "{body}");
    let (status, body) = get("/containers", "dev").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body), serde_json::json!([]), "{body}");
    let get_containers = serde_json::json!({"type": "GET_CONTAINERS"});
    let (_, body) = call(get_containers.clone(), "ops").await;
    assert_eq!(
        json(&body)["get_containers"]["containers"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{body}"
    );
    let (_, body) = call(get_containers, "dev").await;
    assert_eq!(
        json(&body)["get_containers"]["containers"]
            .as_array()
            .map_or(0, Vec::len),
        0,
        "{body}"
    );

    assert_eq!(get("/flags", "ops").await.0, 200);
    let (status, body) = get("/flags", "dev").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("view_flags") && body.contains("'dev'"),
        "{body}"
    );
    let (status, _) = call(serde_json::json!({"type": "GET_FLAGS"}), "dev").await;
    assert_eq!(status, 403);
    let set_level = serde_json::json!({"type": "SET_LOGGING_LEVEL",
        "set_logging_level": {"level": 1, "duration": {"nanoseconds": 1_000_000_000}}});
    let (status, body) = call(set_level, "dev").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("set_log_level"), "{body}");
}

/// A default executor launches its tasks as nested containers through the operator API with
/// its own token (as Mesos' did): with operator authentication and restrictive ACLs on, its
/// calls pass; the same token is refused for anything but nested containers of its own
/// container, and a bad token is refused outright.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_executors_token_launches_its_tasks_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("executor.key");
    std::fs::write(&key_file, "s3cret\n").unwrap();
    let credentials = dir.path().join("credentials.json");
    std::fs::write(
        &credentials,
        r#"{"credentials": [{"principal": "ops", "secret": "ops-secret"}]}"#,
    )
    .unwrap();
    let acls = r#"{"permissive": false,
        "run_tasks": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}]}"#;
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(
        &master,
        &[
            "--authenticate_http_readwrite",
            &format!("--credentials={}", credentials.display()),
            "--authenticate_http_executors",
            &format!("--executor_secret_key={}", key_file.display()),
            &format!("--acls={acls}"),
        ],
    );
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    launch_group(
        &master,
        &framework("fw", false, false),
        group_executor("pod-t"),
        vec![shell_task("nested", "exec sleep 600", 32.0)],
    )
    .await;
    master
        .wait_state("nested", TaskState::TaskRunning, LONG)
        .await;

    let sandbox = agent.sandbox("pod-t").expect("the executor's sandbox");
    let cid = sandbox.file_name().unwrap().to_string_lossy().into_owned();
    let token = Keys::new(b"s3cret").mint(&Claims {
        fid: "fw".into(),
        eid: "pod-t".into(),
        cid: cid.clone(),
    });
    let call = |body: serde_json::Value, authorization: &str| {
        reqwest::Client::new()
            .post(format!("http://{}/api/v1", agent.endpoint()))
            .header("Content-Type", "application/json")
            .header("Authorization", authorization.to_owned())
            .body(body.to_string())
            .send()
    };
    let bearer = format!("Bearer {token}");
    let state = serde_json::json!({"type": "GET_STATE"});
    let refused = call(state.clone(), &bearer).await.unwrap();
    assert_eq!(
        refused.status(),
        403,
        "an executor's token is not an operator's"
    );
    let launch_elsewhere = serde_json::json!({
        "type": "LAUNCH_CONTAINER",
        "launch_container": {
            "container_id": {"value": "intruder", "parent": {"value": "someone-elses"}},
            "command": {"value": "true"}
        }
    });
    let refused = call(launch_elsewhere, &bearer).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused.text().await.unwrap().contains("not nested in it"),
        "the refusal says why"
    );
    let forged = Keys::new(b"guess").mint(&Claims {
        fid: "fw".into(),
        eid: "pod-t".into(),
        cid,
    });
    let refused = call(state, &format!("Bearer {forged}")).await.unwrap();
    assert_eq!(refused.status(), 401);

    // The executor's own KILL_CONTAINER passes too.
    master.kill_task("fw", "nested", None).await;
    let killed = master
        .wait_state("nested", TaskState::TaskKilled, LONG)
        .await;
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
}
