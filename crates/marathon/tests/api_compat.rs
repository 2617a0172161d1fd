//! Differences real Marathon clients hit (issue 12): collection paths with a trailing slash,
//! 415 for a body that is not JSON, Marathon's `{"message": …}` body on framework-level errors
//! (413, 405), and `DELETE /v2/apps/{id}` during a deployment (409 with `force=false`; Marathon's
//! default for this one endpoint is `force=true`).

use crate::common;

use std::time::Duration;

use common::{Resp, call, call_as, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const APP: &str = r#"{"id":"web","cmd":"sleep 3600","mem":16,"cpus":0.1,"instances":2}"#;

fn message(r: &Resp) -> &str {
    r.body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {:?}", r.body))
}

#[tokio::test]
async fn collection_paths_answer_with_a_trailing_slash() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();

    let r = call(&a, "POST", "/v2/apps/", Some(APP)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["id"], "/web");

    let r = call(&a, "GET", "/v2/apps/", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["apps"][0]["id"], "/web");

    // A deploy tool's bulk update.
    let r = call(
        &a,
        "PUT",
        "/v2/apps/?force=true",
        Some(r#"[{"id":"/web","instances":3}]"#),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["deploymentId"].is_string(), "{:?}", r.body);
    let r = call(&a, "GET", "/v2/apps/web", None).await;
    assert_eq!(r.body["app"]["instances"], 3);

    for path in [
        "/v2/deployments/",
        "/v2/tasks/",
        "/v2/queue/",
        "/v2/groups/",
        "/v2/info/",
    ] {
        let r = call(&a, "GET", path, None).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        assert!(
            r.body.is_object() || r.body.is_array(),
            "{path}: {:?}",
            r.body
        );
    }
    let r = call(&a, "GET", "/v2/deployments/", None).await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1), "{:?}", r.body);
    server.shutdown().await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_415_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();

    // `curl -d` without `-H Content-Type: application/json`.
    let r = call_as(
        &a,
        "POST",
        "/v2/apps",
        Some("application/x-www-form-urlencoded"),
        Some(APP),
    )
    .await;
    assert_eq!(r.status, 415, "{:?}", r.body);
    assert_eq!(message(&r), "Unsupported Media Type");
    assert!(
        r.headers
            .to_ascii_lowercase()
            .contains("content-type: application/json")
    );
    let r = call(&a, "GET", "/v2/apps", None).await;
    assert_eq!(r.body["apps"].as_array().map(Vec::len), Some(0));

    let r = call_as(&a, "PUT", "/v2/apps/web", Some("text/plain"), Some(APP)).await;
    assert_eq!(r.status, 415, "{:?}", r.body);

    // Parameters of the media type are fine.
    let r = call_as(
        &a,
        "POST",
        "/v2/apps",
        Some("application/json; charset=utf-8"),
        Some(APP),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    server.shutdown().await;
}

/// Sends a body larger than the limit, tolerating the server closing early.
async fn oversized(addr: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = format!(r#"{{"id":"big","cmd":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let head = format!(
        "POST /v2/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn framework_level_errors_have_marathons_message_body() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();

    let (status, text) = oversized(&a).await;
    assert_eq!(status, 413, "{text}");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    assert!(body.contains(r#""message":"#), "{body}");
    assert!(body.contains("Request Entity Too Large"), "{body}");

    let r = call(&a, "DELETE", "/v2/apps", None).await;
    assert_eq!(r.status, 405);
    assert_eq!(message(&r), "Method Not Allowed");
    server.shutdown().await;
}

#[tokio::test]
async fn deleting_an_app_during_its_deployment_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();

    // Without a master nothing launches: the deployment stays in progress.
    let r = call(&a, "POST", "/v2/apps", Some(APP)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let deployment = r.body["deployments"][0]["id"].as_str().unwrap().to_owned();

    let r = call(&a, "DELETE", "/v2/apps/web?force=false", None).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(message(&r).contains("locked by one or more deployments"));
    assert_eq!(r.body["deployments"][0]["id"], deployment.as_str());
    let r = call(&a, "GET", "/v2/apps/web", None).await;
    assert_eq!(r.status, 200, "the app must still exist");

    // Marathon defaults `force` to true on this endpoint only: the deletion goes ahead.
    let r = call(&a, "DELETE", "/v2/apps/web", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = call(&a, "GET", "/v2/apps/web", None).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    server.shutdown().await;
}

/// `port: 0` becomes a service port from 10000 up, shown in the app, unique across apps, and
/// still the app's after a restart of the scheduler.
#[tokio::test]
async fn service_ports_are_assigned_shown_and_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let r = call(&a, "POST", "/v2/apps", Some(APP)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["portDefinitions"][0]["port"], 10_000, "{:?}", r.body);
    server.shutdown().await;

    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let r = call(&a, "GET", "/v2/apps/web", None).await;
    assert_eq!(r.body["app"]["portDefinitions"][0]["port"], 10_000);
    let r = call(
        &a,
        "POST",
        "/v2/apps",
        Some(r#"{"id":"api","cmd":"sleep 3600","portDefinitions":[{"port":0},{"port":0}]}"#),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let ports: Vec<&serde_json::Value> = r.body["portDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["port"])
        .collect();
    assert_eq!(
        ports,
        [&serde_json::json!(10_001), &serde_json::json!(10_002)]
    );
    server.shutdown().await;
}
