//! `/v2/pods` against a real server (no master: instances stay queued): create, list, show,
//! replace, versions, status, delete, the deployment header and plans, the pod events, pods in
//! `/v2/groups` and not in `/v2/apps`, 422s naming every bad or unsupported field, and a pod
//! that survives a restart.

use crate::common;

use std::time::Duration;

use common::{call, start};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Marathon 1.10's documented pod shape: two containers, an endpoint, a health check.
fn pod(instances: u32) -> Value {
    json!({
        "id": "/web/pod",
        "labels": {"owner": "zeus"},
        "environment": {"XPS1": "Test"},
        "scaling": {"kind": "fixed", "instances": instances},
        "containers": [
            {
                "name": "web",
                "exec": {"command": {"shell": "python3 -m http.server $ENDPOINT_HTTP"}},
                "resources": {"cpus": 0.1, "mem": 32},
                "endpoints": [{"name": "http", "hostPort": 0, "protocol": ["http"]}],
                "healthCheck": {"http": {"endpoint": "http", "path": "/"},
                                "gracePeriodSeconds": 30, "intervalSeconds": 2},
                "lifecycle": {"killGracePeriodSeconds": 5}
            },
            {
                "name": "sidecar",
                "exec": {"command": {"argv": ["sleep", "1000"]}},
                "resources": {"cpus": 0.1, "mem": 16, "disk": 1},
                "artifacts": [{"uri": "http://example.com/a.tgz"}]
            }
        ],
        "networks": [{"mode": "host"}],
        "scheduling": {
            "backoff": {"backoff": 2, "backoffFactor": 1.5, "maxLaunchDelay": 60},
            "upgrade": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
            "placement": {"constraints": [{"fieldName": "hostname", "operator": "UNIQUE"}]},
            "killSelection": "OLDEST_FIRST",
            "unreachableStrategy": {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120}
        }
    })
}

fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn pods_are_created_shown_replaced_versioned_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let body = pod(1).to_string();

    let r = call(&a, "POST", "/v2/pods", Some(&body)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(header(&r.headers, "Location"), Some("/v2/pods/web/pod"));
    let deployment = header(&r.headers, "Marathon-Deployment-Id")
        .expect("deployment header")
        .to_owned();
    let p = &r.body;
    assert_eq!(p["id"], "/web/pod");
    assert_eq!(p["scaling"], json!({"kind": "fixed", "instances": 1}));
    assert_eq!(
        p["executorResources"],
        json!({"cpus": 0.1, "mem": 32.0, "disk": 10.0})
    );
    assert_eq!(p["networks"], json!([{"mode": "host"}]));
    assert_eq!(p["containers"][0]["endpoints"][0]["hostPort"], 0);
    assert_eq!(
        p["containers"][0]["healthCheck"]["http"]["endpoint"],
        "http"
    );
    assert_eq!(
        p["containers"][0]["healthCheck"]["maxConsecutiveFailures"],
        3
    );
    assert_eq!(
        p["containers"][1]["exec"]["command"]["argv"],
        json!(["sleep", "1000"])
    );
    assert_eq!(p["containers"][1]["artifacts"][0]["extract"], true);
    assert_eq!(p["scheduling"]["backoff"]["backoff"], 2);
    assert_eq!(p["scheduling"]["killSelection"], "OLDEST_FIRST");
    assert_eq!(
        p["scheduling"]["placement"]["constraints"],
        json!([{"fieldName": "hostname", "operator": "UNIQUE"}])
    );
    assert_eq!(
        p["scheduling"]["unreachableStrategy"],
        json!({"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120})
    );
    assert!(p["version"].is_string());

    // The same id again: 409.
    let again = call(&a, "POST", "/v2/pods", Some(&body)).await;
    assert_eq!(again.status, 409);
    assert_eq!(
        again.body["message"],
        "A pod with id [/web/pod] already exists."
    );

    // Listed by /v2/pods, shown by /v2/pods/{id}; not an app.
    let list = call(&a, "GET", "/v2/pods", None).await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1));
    let shown = call(&a, "GET", "/v2/pods/web/pod", None).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body, r.body);
    let apps = call(&a, "GET", "/v2/apps", None).await;
    assert_eq!(apps.body["apps"], json!([]));
    let as_app = call(&a, "GET", "/v2/apps/web/pod", None).await;
    assert_eq!(as_app.status, 404);
    let delete_as_app = call(&a, "DELETE", "/v2/apps/web/pod", None).await;
    assert_eq!(delete_as_app.status, 404, "/v2/apps does not see pods");

    // The deployment names the pod.
    let deployments = call(&a, "GET", "/v2/deployments", None).await;
    let d = &deployments.body[0];
    assert_eq!(d["id"], deployment.as_str());
    assert_eq!(d["affectedPods"], json!(["/web/pod"]));
    assert_eq!(d["affectedApps"], json!([]));
    assert_eq!(
        d["steps"][0]["actions"][0],
        json!({"action": "StartPod", "pod": "/web/pod"})
    );
    assert_eq!(d["currentActions"][0]["action"], "ScalePod");

    // Its status: nothing placed yet (no master), so DEGRADED with no instances.
    let status = call(&a, "GET", "/v2/pods/web/pod::status", None).await;
    assert_eq!(status.status, 200);
    let s = &status.body;
    assert_eq!(s["id"], "/web/pod");
    assert_eq!(s["status"], "DEGRADED");
    assert_eq!(s["spec"], r.body);
    assert_eq!(s["instances"], json!([]));
    assert_eq!(s["terminationHistory"], json!([]));
    for key in ["statusSince", "lastUpdated", "lastChanged"] {
        assert!(s[key].is_string(), "{key}");
    }
    let all = call(&a, "GET", "/v2/pods/::status", None).await;
    assert_eq!(all.body.as_array().map(Vec::len), Some(1));
    assert_eq!(all.body[0]["id"], "/web/pod");

    // The group tree shows it among the pods, by status.
    let root = call(&a, "GET", "/v2/groups", None).await;
    let web = &root.body["groups"][0];
    assert_eq!(web["id"], "/web");
    assert_eq!(web["apps"], json!([]));
    assert_eq!(web["pods"][0]["id"], "/web/pod");
    assert_eq!(web["pods"][0]["status"], "DEGRADED");

    // Replace it (scale to 3): 200 with the new definition and a deployment.
    let put = call(
        &a,
        "PUT",
        "/v2/pods/web/pod?force=true",
        Some(&pod(3).to_string()),
    )
    .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert!(header(&put.headers, "Marathon-Deployment-Id").is_some());
    assert_eq!(put.body["scaling"]["instances"], 3);
    let mismatched = call(&a, "PUT", "/v2/pods/other", Some(&pod(3).to_string())).await;
    assert_eq!(mismatched.status, 400);
    assert_eq!(
        mismatched.body["message"],
        "'/other' does not match definition's id ('/web/pod')"
    );

    // Two versions, newest first; each readable.
    let versions = call(&a, "GET", "/v2/pods/web/pod::versions", None).await;
    let versions: Vec<String> = serde_json::from_value(versions.body).unwrap();
    assert_eq!(versions.len(), 2);
    let old = call(
        &a,
        "GET",
        &format!("/v2/pods/web/pod::versions/{}", versions[1]),
        None,
    )
    .await;
    assert_eq!(old.status, 200);
    assert_eq!(old.body["scaling"]["instances"], 1);

    // Delete: 202 with the deployment; then gone.
    let del = call(&a, "DELETE", "/v2/pods/web/pod?force=true", None).await;
    assert_eq!(del.status, 202);
    assert!(header(&del.headers, "Marathon-Deployment-Id").is_some());
    let gone = call(&a, "GET", "/v2/pods/web/pod", None).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body["message"], "Pod '/web/pod' does not exist");
    let status = call(&a, "GET", "/v2/pods/web/pod::status", None).await;
    assert_eq!(status.status, 404);
    let del = call(&a, "DELETE", "/v2/pods/web/pod", None).await;
    assert_eq!(del.status, 404);

    // The pod events, in order, replayed from the start.
    let mut stream = TcpStream::connect(&a).await.unwrap();
    stream
        .write_all(
            b"GET /v2/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nLast-Event-ID: 0\r\n\r\n",
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    let mut buf = [0u8; 8192];
    while !seen.contains("event: pod_deleted_event") {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .expect("pod events arrive")
            .unwrap();
        assert!(n > 0);
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let created = seen.find("event: pod_created_event").expect("created");
    let updated = seen.find("event: pod_updated_event").expect("updated");
    let deleted = seen.find("event: pod_deleted_event").expect("deleted");
    assert!(created < updated && updated < deleted);
    assert!(seen.contains(r#""uri":"/v2/pods/web/pod""#));
    drop(stream);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_pods_are_refused_naming_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let mut bad = pod(1);
    bad["frobnicate"] = json!(1);
    bad["secrets"] = json!({"s": {"src": "/x"}});
    bad["containers"][0]["resources"]["cpus"] = json!(-1);
    bad["containers"][0]["image"] = json!({"kind": "APPC", "id": "coreos.com/etcd:v3"});
    bad["containers"][0]["wat"] = json!(true);
    bad["containers"][1]["name"] = json!("web");
    bad["containers"][1]["healthCheck"] = json!({"tcp": {"endpoint": "nope"}});
    bad["networks"] = json!([{"mode": "container", "name": "dcos"}]);
    bad["volumes"] = json!([{"name": "v", "host": "/etc"}]);
    let r = call(&a, "POST", "/v2/pods", Some(&bad.to_string())).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let paths: Vec<&str> = r.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["path"].as_str())
        .collect();
    for expected in [
        "/frobnicate",
        "/secrets/s",
        "/containers(0)/image/kind",
        "/containers(0)/wat",
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:?}");
    }
    // Semantic problems come once the shape is right.
    let mut bad = pod(1);
    bad["containers"][0]["resources"]["cpus"] = json!(0);
    bad["containers"][1]["name"] = json!("web");
    bad["containers"][1]["healthCheck"] = json!({"tcp": {"endpoint": "nope"}});
    bad["networks"] = json!([{"mode": "container", "name": "dcos"}]);
    bad["volumes"] = json!([{"name": "v", "host": "/etc"}]);
    let r = call(&a, "POST", "/v2/pods", Some(&bad.to_string())).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(r.body["message"], "Object is not valid");
    let paths: Vec<&str> = r.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["path"].as_str())
        .collect();
    for expected in [
        "/containers",
        "/containers(0)/resources/cpus",
        "/containers(1)/healthCheck/tcp/endpoint",
        "/networks(0)/mode",
        "/volumes(0)",
        "/volumes(0)/host",
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:?}");
    }
    // Nothing was stored.
    let list = call(&a, "GET", "/v2/pods", None).await;
    assert_eq!(list.body, json!([]));
    assert_eq!(
        call(&a, "GET", "/v2/deployments", None).await.body,
        json!([])
    );
    // An app id is no pod's, and a pod id no app's.
    let app = call(
        &a,
        "POST",
        "/v2/apps",
        Some(r#"{"id":"/web/pod","cmd":"sleep 1"}"#),
    )
    .await;
    assert_eq!(app.status, 201);
    let r = call(&a, "POST", "/v2/pods", Some(&pod(1).to_string())).await;
    assert_eq!(r.status, 409);
    let r = call(&a, "PUT", "/v2/pods/web/pod", Some(&pod(1).to_string())).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    server.shutdown().await;
}

#[tokio::test]
async fn a_pod_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let r = call(&a, "POST", "/v2/pods", Some(&pod(2).to_string())).await;
    assert_eq!(r.status, 201);
    let before = r.body.clone();
    server.shutdown().await;
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let shown = call(&a, "GET", "/v2/pods/web/pod", None).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body, before);
    let deployments = call(&a, "GET", "/v2/deployments", None).await;
    assert_eq!(deployments.body[0]["affectedPods"], json!(["/web/pod"]));
    let queue = call(&a, "GET", "/v2/queue", None).await;
    assert_eq!(queue.body["queue"][0]["count"], 2);
    assert_eq!(queue.body["queue"][0]["pod"]["id"], "/web/pod");
    server.shutdown().await;
}

/// Pods are read-only at `/v2/groups` (Marathon): a group's new list of apps, or its
/// `scaleBy`, leaves them as they are; deleting the group deletes them with it.
#[tokio::test]
async fn groups_leave_pods_alone_until_the_group_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let r = call(&a, "POST", "/v2/pods", Some(&pod(2).to_string())).await;
    assert_eq!(r.status, 201);
    let group = json!({"id": "/web", "apps": [{"id": "/web/app", "cmd": "sleep 1"}]});
    let r = call(
        &a,
        "PUT",
        "/v2/groups/web?force=true",
        Some(&group.to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = call(
        &a,
        "PUT",
        "/v2/groups/web?force=true",
        Some(r#"{"scaleBy": 2}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let p = call(&a, "GET", "/v2/pods/web/pod", None).await;
    assert_eq!(
        p.status, 200,
        "the group's apps list did not remove the pod"
    );
    assert_eq!(
        p.body["scaling"]["instances"], 2,
        "scaleBy scales apps only"
    );
    let app = call(&a, "GET", "/v2/apps/web/app", None).await;
    assert_eq!(app.body["app"]["instances"], 2);
    let r = call(&a, "DELETE", "/v2/groups/web?force=true", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let p = call(&a, "GET", "/v2/pods/web/pod", None).await;
    assert_eq!(p.status, 404, "deleting the group deletes its pods");
    server.shutdown().await;
}
