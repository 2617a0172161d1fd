//! `/v2/groups` against the scheduler alone (no master, so nothing launches and a deployment
//! stays at the step that waits for instances): the tree of Marathon's `application-groups.md`
//! example as GET shows it (golden), the step order dependencies give one deployment, apps of
//! later steps held out of the launch queue, 422s that change nothing, persistence across a
//! restart, versions and recursive delete.

use crate::common;

use common::{call, start};
use serde_json::{Value, json};

/// The example of Marathon's docs/docs/application-groups.md (mesosphere/marathon,
/// Apache-2.0), with commands so the apps validate.
fn product() -> Value {
    let app = |id: &str| json!({"id": id, "cmd": "sleep 600", "cpus": 0.1, "mem": 16});
    json!({
        "id": "/product",
        "groups": [
            {"id": "/product/database", "apps": [app("/product/database/mongo"), app("/product/database/mysql")]},
            {"id": "/product/service", "dependencies": ["/product/database"], "apps": [app("/product/service/rails-app"), app("/product/service/play-app")]},
            {"id": "/product/frontend", "dependencies": ["/product/service"], "apps": [app("/product/frontend/apache")]}
        ]
    })
}

/// The group tree with only what the golden file fixes: ids, dependencies and the keys.
fn shape(group: &Value) -> Value {
    let mut keys: Vec<&str> = group
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert!(group["version"].as_str().is_some_and(|v| v.ends_with('Z')));
    json!({
        "keys": keys,
        "id": group["id"],
        "dependencies": group["dependencies"],
        "apps": group["apps"].as_array().unwrap().iter().map(|a| a["id"].clone()).collect::<Vec<_>>(),
        "groups": group["groups"].as_array().unwrap().iter().map(shape).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn a_group_tree_deploys_in_dependency_order_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();

    let r = call(&a, "POST", "/v2/groups", Some(&product().to_string())).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.body["deploymentId"].is_string() && r.body["version"].is_string());
    assert!(r.headers.contains("/v2/groups/product"), "{}", r.headers);

    // GET as Marathon 1.10 answers it (the keys of its GroupInfo; apps in id order).
    let keys = json!([
        "apps",
        "dependencies",
        "enforceRole",
        "groups",
        "id",
        "pods",
        "version"
    ]);
    let golden = json!({
        "keys": keys, "id": "/product", "dependencies": [], "apps": [],
        "groups": [
            {"keys": keys, "id": "/product/database", "dependencies": [],
             "apps": ["/product/database/mongo", "/product/database/mysql"], "groups": []},
            {"keys": keys, "id": "/product/frontend", "dependencies": ["/product/service"],
             "apps": ["/product/frontend/apache"], "groups": []},
            {"keys": keys, "id": "/product/service", "dependencies": ["/product/database"],
             "apps": ["/product/service/play-app", "/product/service/rails-app"], "groups": []}
        ]
    });
    let r = call(&a, "GET", "/v2/groups/product", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(shape(&r.body), golden);
    let root = call(&a, "GET", "/v2/groups", None).await;
    assert_eq!(root.body["groups"][0]["id"], "/product");

    // One deployment: the starts, then the database, the service, the frontend.
    let r = call(&a, "GET", "/v2/deployments", None).await;
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let steps: Vec<Vec<(String, String)>> = list[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    let app = x["app"].as_str().unwrap().to_owned();
                    (x["action"].as_str().unwrap().to_owned(), app)
                })
                .collect()
        })
        .collect();
    let names = |step: &Vec<(String, String)>| -> Vec<String> {
        step.iter().map(|(k, a)| format!("{k} {a}")).collect()
    };
    assert_eq!(steps.len(), 4, "{steps:?}");
    assert!(steps[0].iter().all(|(k, _)| k == "StartApplication"));
    assert_eq!(
        names(&steps[1]),
        [
            "ScaleApplication /product/database/mongo",
            "ScaleApplication /product/database/mysql"
        ]
    );
    assert_eq!(
        names(&steps[2]),
        [
            "ScaleApplication /product/service/play-app",
            "ScaleApplication /product/service/rails-app"
        ]
    );
    assert_eq!(
        names(&steps[3]),
        ["ScaleApplication /product/frontend/apache"]
    );
    assert_eq!(list[0]["currentStep"], 2, "waiting for the database");
    // Only the database waits for offers; the others are held until their step.
    let queue = call(&a, "GET", "/v2/queue", None).await;
    let queued: Vec<&str> = queue.body["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["app"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        queued,
        ["/product/database/mongo", "/product/database/mysql"]
    );

    // Bad input: 422 naming the problem; nothing changes.
    let before = call(&a, "GET", "/v2/groups", None).await.body;
    let deployments = call(&a, "GET", "/v2/deployments", None).await.body;
    let mut cyclic = product();
    cyclic["groups"][0]["dependencies"] = json!(["/product/frontend"]);
    let cases = [
        (
            "PUT",
            "/v2/groups/product?force=true",
            cyclic,
            "cyclic dependencies",
        ),
        (
            "POST",
            "/v2/groups",
            json!({"id": "/d", "apps": [{"id": "x", "cmd": "sleep 1", "dependencies": ["/missing"]}]}),
            "depends on /missing, which is neither an app nor a group",
        ),
        (
            "POST",
            "/v2/groups",
            json!({"id": "/d", "dependencies": ["/missing"], "apps": []}),
            "Group /d depends on /missing",
        ),
        (
            "POST",
            "/v2/groups",
            json!({"id": "/e", "apps": [{"id": "../../out", "cmd": "sleep 1"}]}),
            "App id /out is not a direct child of its group /e",
        ),
        (
            "POST",
            "/v2/groups",
            json!({"id": "/e", "groups": [{"id": "/elsewhere", "apps": []}]}),
            "Group id /elsewhere is not a direct child of its group /e",
        ),
        (
            "POST",
            "/v2/groups",
            json!({"id": "/p", "pods": [{"id": "x"}]}),
            "pods are read-only at /v2/groups",
        ),
    ];
    for (method, path, body, expected) in cases {
        let r = call(&a, method, path, Some(&body.to_string())).await;
        assert_eq!(r.status, 422, "{method} {path}: {:?}", r.body);
        assert!(
            r.body.to_string().contains(expected),
            "{method} {path}: {} should say {expected}",
            r.body
        );
        assert_eq!(call(&a, "GET", "/v2/groups", None).await.body, before);
        assert_eq!(
            call(&a, "GET", "/v2/deployments", None).await.body,
            deployments
        );
    }
    // An app posted alone with a dependency on nothing is refused too.
    let r = call(
        &a,
        "POST",
        "/v2/apps",
        Some(r#"{"id": "/lonely", "cmd": "sleep 1", "dependencies": ["/nobody"]}"#),
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(r.body.to_string().contains("/nobody"), "{:?}", r.body);
    let r = call(&a, "POST", "/v2/groups", Some(&product().to_string())).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let r = call(&a, "PUT", "/v2/groups/product", Some(r#"{"scaleBy": 2}"#)).await;
    assert_eq!(
        r.status, 409,
        "locked by the running deployment: {:?}",
        r.body
    );

    // Persisted before the reply: a restarted scheduler has the groups, their dependencies,
    // versions and the deployment at its step.
    server.shutdown().await;
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let r = call(&a, "GET", "/v2/groups/product", None).await;
    assert_eq!(shape(&r.body), golden);
    let r = call(&a, "GET", "/v2/deployments", None).await;
    assert_eq!(r.body[0]["currentStep"], 2, "{:?}", r.body);
    let versions = call(&a, "GET", "/v2/groups/product/versions", None)
        .await
        .body;
    assert_eq!(versions.as_array().map(Vec::len), Some(1), "{versions:?}");

    // scaleBy with force replaces the deployment; dry runs change nothing.
    let r = call(
        &a,
        "PUT",
        "/v2/groups/product?dryRun=true",
        Some(r#"{"scaleBy": 3}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["steps"].as_array().map(Vec::len),
        Some(3),
        "{:?}",
        r.body
    );
    let r = call(&a, "GET", "/v2/apps/product/database/mongo", None).await;
    assert_eq!(r.body["app"]["instances"], 1);
    let r = call(
        &a,
        "PUT",
        "/v2/groups/product?force=true",
        Some(r#"{"scaleBy": 3}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = call(&a, "GET", "/v2/apps/product/frontend/apache", None).await;
    assert_eq!(r.body["app"]["instances"], 3);
    let versions = call(&a, "GET", "/v2/groups/product/versions", None)
        .await
        .body;
    assert_eq!(versions.as_array().map(Vec::len), Some(2));
    let old = versions[1].as_str().unwrap();
    let r = call(
        &a,
        "GET",
        &format!("/v2/groups/product/versions/{old}"),
        None,
    )
    .await;
    assert_eq!(
        r.body["groups"][0]["apps"][0]["instances"], 1,
        "{:?}",
        r.body
    );

    // Recursive delete.
    let r = call(&a, "DELETE", "/v2/groups/product?force=true", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = call(&a, "GET", "/v2/apps", None).await;
    assert_eq!(r.body["apps"], json!([]));
    let r = call(&a, "GET", "/v2/groups/product", None).await;
    assert_eq!(r.status, 404);
    let r = call(&a, "GET", "/v2/groups", None).await;
    assert_eq!(r.body["groups"], json!([]));
    server.shutdown().await;
}
