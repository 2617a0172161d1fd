//! Docker apps over the REST API (no master): a Marathon 1.4 definition is stored and shown as
//! Marathon 1.10 shows it (golden), survives a restart, an image change is a new version with a
//! deployment, and what cannot run is a 422 naming each field with nothing stored; the same
//! round trip for a MESOS container with a Docker image.

use crate::common;

use common::{call, start};
use serde_json::{Value, json};

fn detail_paths(body: &Value) -> Vec<String> {
    body["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|d| d["path"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn docker_apps_round_trip_as_marathon_1_10_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();

    let bad = json!({
        "id": "/bad", "cpus": 0.1, "mem": 16,
        "container": {"type": "DOCKER",
            "docker": {"image": "Bad Image", "network": "BRIDGE",
                       "parameters": [{"key": "pid", "value": "host"}],
                       "pullConfig": {"secret": "s"}},
            "volumes": [{"containerPath": "/d", "hostPath": "rel/path", "mode": "RW"},
                        {"containerPath": "p", "mode": "RO", "persistent": {"size": 1}}]}
    });
    let r = call(&a, "POST", "/v2/apps", Some(&bad.to_string())).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let paths = detail_paths(&r.body);
    for path in [
        "/container/docker/image",
        "/container/docker/parameters/0/key",
        "/container/docker/pullConfig",
        "/container/volumes/0/hostPath",
        "/container/volumes/1/mode",
    ] {
        assert!(paths.iter().any(|p| p == path), "{path} in {:?}", r.body);
    }
    let r = call(&a, "GET", "/v2/apps", None).await;
    assert_eq!(r.body["apps"], json!([]), "nothing stored");

    // Marathon 1.4's spelling, as older clients send it.
    let legacy = json!({
        "id": "/web", "cmd": "nginx -g 'daemon off;'", "cpus": 0.1, "mem": 16, "instances": 1,
        "container": {"type": "DOCKER",
            "docker": {"image": "nginx:1.25", "network": "BRIDGE", "privileged": false,
                       "portMappings": [{"containerPort": 80, "protocol": "tcp", "name": "http"}]},
            "volumes": [{"containerPath": "/etc/nginx/conf.d", "hostPath": "/srv/conf",
                         "mode": "RO"}]}
    });
    let r = call(&a, "POST", "/v2/apps", Some(&legacy.to_string())).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let golden = json!({
        "type": "DOCKER",
        "docker": {"forcePullImage": false, "image": "nginx:1.25", "parameters": [],
                   "privileged": false},
        "volumes": [{"containerPath": "/etc/nginx/conf.d", "hostPath": "/srv/conf",
                     "mode": "RO"}],
        "portMappings": [{"containerPort": 80, "hostPort": 0, "labels": {}, "name": "http",
                          "protocol": "tcp", "servicePort": 10000}]
    });
    let shown = call(&a, "GET", "/v2/apps/web", None).await.body;
    assert_eq!(shown["app"]["container"], golden);
    assert_eq!(
        shown["app"]["networks"],
        json!([{"mode": "container/bridge"}])
    );
    assert!(shown["app"].get("portDefinitions").is_none());
    let first_version = shown["app"]["version"].clone();

    // An image change: a new version and a deployment (which restarts running tasks).
    let update = json!({"container": {"type": "DOCKER", "docker": {"image": "nginx:1.26"},
        "portMappings": [{"containerPort": 80, "hostPort": 0, "servicePort": 10000,
                          "name": "http"}],
        "volumes": [{"containerPath": "/etc/nginx/conf.d", "hostPath": "/srv/conf",
                     "mode": "RO"}]}});
    let r = call(
        &a,
        "PUT",
        "/v2/apps/web?force=true",
        Some(&update.to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["deploymentId"].is_string(), "{:?}", r.body);
    let shown = call(&a, "GET", "/v2/apps/web", None).await.body;
    assert_eq!(shown["app"]["container"]["docker"]["image"], "nginx:1.26");
    assert_ne!(shown["app"]["version"], first_version);
    assert_eq!(
        shown["app"]["versionInfo"]["lastConfigChangeAt"], shown["app"]["version"],
        "an image change is a configuration change"
    );
    // A bad update changes nothing.
    let r = call(
        &a,
        "PUT",
        "/v2/apps/web?force=true",
        Some(r#"{"container": {"type": "MESOS", "docker": {"image": "nginx"}}}"#),
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    // A MESOS container (image or not) runs on the host network, not the app's bridge.
    assert_eq!(detail_paths(&r.body), vec!["/networks".to_owned()]);
    let again = call(&a, "GET", "/v2/apps/web", None).await.body;
    assert_eq!(again["app"], shown["app"]);

    // The store keeps the typed container across a restart.
    server.shutdown().await;
    let server = start(dir.path()).await;
    let restored = call(&server.addr, "GET", "/v2/apps/web", None).await.body;
    assert_eq!(restored["app"]["container"], shown["app"]["container"]);
    assert_eq!(restored["app"]["networks"], shown["app"]["networks"]);
    server.shutdown().await;
}

/// A MESOS container with a Docker image (UCR) over the REST API: stored, shown as Marathon
/// 1.10 shows it, the shown JSON accepted back unchanged, and kept across a restart.
#[tokio::test]
async fn mesos_image_apps_round_trip_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let app = json!({
        "id": "/ucr", "cpus": 0.1, "mem": 16, "instances": 0,
        "secrets": {"registry": {"source": "prod/docker-config"}},
        "container": {"type": "MESOS",
            "docker": {"image": "busybox:1", "forcePullImage": true,
                       "pullConfig": {"secret": "registry"}},
            "volumes": [{"containerPath": "/etc/app", "hostPath": "/srv/app", "mode": "RO"}]}
    });
    let r = call(&a, "POST", "/v2/apps", Some(&app.to_string())).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let golden = json!({
        "type": "MESOS",
        "docker": {"forcePullImage": true, "image": "busybox:1", "parameters": [],
                   "privileged": false, "pullConfig": {"secret": "registry"}},
        "volumes": [{"containerPath": "/etc/app", "hostPath": "/srv/app", "mode": "RO"}]
    });
    let shown = call(&a, "GET", "/v2/apps/ucr", None).await.body;
    assert_eq!(shown["app"]["container"], golden);
    assert_eq!(shown["app"]["networks"], json!([{"mode": "host"}]));
    // The container as shown is accepted back and changes nothing.
    let again = json!({"container": shown["app"]["container"].clone()});
    let r = call(&a, "PUT", "/v2/apps/ucr", Some(&again.to_string())).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        call(&a, "GET", "/v2/apps/ucr", None).await.body["app"]["container"],
        golden
    );
    // Docker-only settings are refused by name, nothing changes.
    let bad = json!({"container": {"type": "MESOS",
        "docker": {"image": "busybox:1", "privileged": true}}});
    let r = call(&a, "PUT", "/v2/apps/ucr", Some(&bad.to_string())).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(
        detail_paths(&r.body),
        vec!["/container/docker/privileged".to_owned()]
    );

    server.shutdown().await;
    let server = start(dir.path()).await;
    let restored = call(&server.addr, "GET", "/v2/apps/ucr", None).await.body;
    assert_eq!(restored["app"]["container"], golden);
    server.shutdown().await;
}
