//! The REST API over real HTTP on a free port with the store in a temp dir, without a master:
//! Marathon's shapes and status codes for create/list/get/update/delete, validation errors,
//! conflicts, deployments, queue, info, leader, ping, the SSE stream with Last-Event-ID replay,
//! and state surviving a restart.

use crate::common;

use std::time::Duration;

use common::{call, start};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MARATHON_PYTHON_APP_KEYS: &[&str] = &[
    "acceptedResourceRoles",
    "args",
    "backoffFactor",
    "backoffSeconds",
    "cmd",
    "constraints",
    "container",
    "cpus",
    "dependencies",
    "deployments",
    "disk",
    "env",
    "executor",
    "healthChecks",
    "id",
    "role",
    "instances",
    "killSelection",
    "labels",
    "lastTaskFailure",
    "maxLaunchDelaySeconds",
    "mem",
    "ports",
    "requirePorts",
    "storeUrls",
    "taskRateLimit",
    "tasks",
    "tasksRunning",
    "tasksStaged",
    "tasksHealthy",
    "taskKillGracePeriodSeconds",
    "tasksUnhealthy",
    "upgradeStrategy",
    "unreachableStrategy",
    "uris",
    "user",
    "version",
    "versionInfo",
    "ipAddress",
    "fetch",
    "taskStats",
    "readinessChecks",
    "readinessCheckResults",
    "secrets",
    "portDefinitions",
    "residency",
    "gpus",
    "networks",
];

fn assert_app_keys(app: &Value) {
    for key in app.as_object().unwrap().keys() {
        assert!(
            MARATHON_PYTHON_APP_KEYS.contains(&key.as_str()),
            "marathon-python rejects key {key}"
        );
    }
}

#[tokio::test]
async fn apps_lifecycle_shapes_errors_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();

    let r = call(&a, "GET", "/ping", None).await;
    assert_eq!(r.status, 200);

    let r = call(
        &a,
        "POST",
        "/v2/apps",
        Some(r#"{"id":"test-app","cmd":"sleep 3600","mem":16,"cpus":0.1,"instances":5}"#),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(
        r.headers.contains("Marathon-Deployment-Id")
            || r.headers.contains("marathon-deployment-id")
    );
    assert_eq!(r.body["id"], "/test-app");
    assert_eq!(r.body["tasksRunning"], 0);
    assert_eq!(r.body["deployments"].as_array().unwrap().len(), 1);
    assert_app_keys(&r.body);

    let r = call(
        &a,
        "POST",
        "/v2/apps",
        Some(r#"{"id":"test-app","cmd":"x"}"#),
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.body["message"],
        "An app with id [/test-app] already exists."
    );

    let r = call(
        &a,
        "POST",
        "/v2/apps",
        Some(r#"{"id":"/Bad_Id","cmd":5,"instances":-1,"constraints":[["hostname","FOO"]]}"#),
    )
    .await;
    assert_eq!(r.status, 422);
    let paths: Vec<&str> = r.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    for p in ["/id", "/cmd", "/instances", "/constraints(0)"] {
        assert!(paths.contains(&p), "{p} in {paths:?}");
    }
    let r = call(&a, "POST", "/v2/apps", Some("{not json")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["message"], "Invalid JSON");
    let r = call(
        &a,
        "POST",
        "/v2/apps",
        Some(&format!(
            r#"{{"id":"big","cmd":"{}"}}"#,
            "x".repeat(2 * 1024 * 1024)
        )),
    )
    .await;
    assert!(
        (400..500).contains(&r.status),
        "huge body refused: {}",
        r.status
    );

    let r = call(&a, "GET", "/v2/apps?embed=apps.tasks", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["apps"].as_array().unwrap().len(), 1);
    assert_app_keys(&r.body["apps"][0]);
    let r = call(&a, "GET", "/v2/apps/test-app", None).await;
    assert_eq!(r.body["app"]["instances"], 5);
    assert_eq!(r.body["app"]["tasks"], json!([]));
    let r = call(&a, "GET", "/v2/apps/nope", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["message"], "App '/nope' does not exist");

    let r = call(&a, "GET", "/v2/deployments", None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let d = &r.body[0];
    for key in [
        "id",
        "version",
        "affectedApps",
        "affectedPods",
        "steps",
        "currentActions",
        "currentStep",
        "totalSteps",
    ] {
        assert!(d.get(key).is_some(), "deployment has {key}");
    }

    // Locked by the create deployment: 409 unless forced.
    let r = call(&a, "PUT", "/v2/apps/test-app", Some(r#"{"instances":2}"#)).await;
    assert_eq!(r.status, 409);
    assert!(r.body["deployments"].is_array());
    let r = call(
        &a,
        "PUT",
        "/v2/apps/test-app?force=True",
        Some(r#"{"instances":2}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["deploymentId"].is_string());
    let r = call(&a, "GET", "/v2/apps/test-app/versions", None).await;
    assert_eq!(r.body["versions"].as_array().unwrap().len(), 2);

    let r = call(&a, "GET", "/v2/queue", None).await;
    assert_eq!(r.body["queue"][0]["count"], 2);
    assert!(r.body["queue"][0].get("role").is_none());
    let r = call(&a, "DELETE", "/v2/queue/test-app/delay", None).await;
    assert_eq!(r.status, 204);

    let r = call(&a, "GET", "/v2/info", None).await;
    assert_eq!(r.body["name"], "marathon");
    assert_eq!(r.body["http_config"]["https_port"], 8443);
    let r = call(&a, "GET", "/v2/leader", None).await;
    assert!(r.body["leader"].is_string());
    let r = call(&a, "GET", "/v2/groups", None).await;
    assert_eq!(r.body["apps"].as_array().unwrap().len(), 1);

    // Restart: nothing acknowledged is lost.
    server.shutdown().await;
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let r = call(&a, "GET", "/v2/apps/test-app", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["app"]["instances"], 2);
    let r = call(&a, "GET", "/v2/deployments", None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "deployment resumed");

    let r = call(&a, "DELETE", "/v2/apps/test-app", None).await;
    assert_eq!(r.status, 200);
    let r = call(&a, "GET", "/v2/apps", None).await;
    assert_eq!(r.body["apps"], json!([]));
    server.shutdown().await;
}

#[tokio::test]
async fn event_stream_frames_filters_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let r = call(&a, "GET", "/v2/events", None).await;
    assert_eq!(r.status, 405, "plain GET without text/event-stream");

    let mut stream = TcpStream::connect(&a).await.unwrap();
    stream
        .write_all(b"GET /v2/events?event_type=api_post_event&event_type=deployment_info HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let mut seen = String::new();
    let wait_for = |needle: &'static str| needle;
    let _ = wait_for;
    call(
        &a,
        "POST",
        "/v2/apps",
        Some(r#"{"id":"sse","cmd":"sleep 1"}"#),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 4096];
    while !(seen.contains("event: api_post_event\r\n")
        && seen.contains("event: deployment_info\r\n"))
    {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("data: {"));
    assert!(
        !seen.contains("event: instance_changed_event"),
        "filtered out"
    );
    let first_id: u64 = seen
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    drop(stream);

    // Reconnect with Last-Event-ID: the missed events are replayed.
    let mut stream = TcpStream::connect(&a).await.unwrap();
    let request = format!(
        "GET /v2/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nLast-Event-ID: {first_id}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut replay = String::new();
    while !replay.contains("event: instance_changed_event") {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        replay.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    drop(stream);
    server.shutdown().await;
}
