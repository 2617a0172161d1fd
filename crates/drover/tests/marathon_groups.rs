//! Marathon groups end to end, against a real master, agent and scheduler: a group tree with a
//! dependency chain deploys as ONE deployment whose steps start each app only once what it
//! depends on is running and healthy (shown by the processes' own clocks); cycles, dangling
//! dependencies and ids escaping their group are 422s that change nothing; groups survive a
//! scheduler restart; `scaleBy`, `dryRun` and recursive delete; marathon-python's group calls.
//!
//! The tree is the three-tier example of Marathon's `docs/docs/application-groups.md`
//! (mesosphere/marathon, Apache-2.0): a database, a service depending on it, a frontend
//! depending on the service.

use crate::support;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Cluster, run_python, wait_until};

fn stamp(path: &Path) -> Option<u128> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn running(cluster: &Cluster, app: &str) -> u64 {
    let (status, body) = cluster.marathon_request("GET", &format!("/v2/apps{app}"), None);
    if status != 200 {
        return 0;
    }
    body["app"]["tasksRunning"].as_u64().unwrap_or(0)
}

fn deployments(cluster: &Cluster) -> Vec<Value> {
    cluster
        .marathon_json("/v2/deployments")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn product(marks: &Path) -> Value {
    let m = marks.display();
    json!({
        "id": "/product",
        "groups": [
            {
                "id": "database",
                "apps": [{
                    "id": "mysql",
                    // Healthy only after a few seconds: the service must wait for that.
                    "cmd": format!("sleep 4; date +%s%N > {m}/mysql-ready; exec sleep 600"),
                    "cpus": 0.05, "mem": 16,
                    "healthChecks": [{
                        "protocol": "COMMAND",
                        "command": {"value": format!("test -f {m}/mysql-ready")},
                        "gracePeriodSeconds": 60, "intervalSeconds": 1,
                        "timeoutSeconds": 5, "maxConsecutiveFailures": 100
                    }]
                }]
            },
            {
                "id": "service",
                "dependencies": ["/product/database"],
                "apps": [{
                    "id": "api",
                    "cmd": format!("date +%s%N > {m}/api-started; exec sleep 600"),
                    "cpus": 0.05, "mem": 16
                }]
            },
            {
                "id": "frontend",
                "apps": [{
                    "id": "web",
                    "cmd": format!("date +%s%N > {m}/web-started; exec sleep 600"),
                    "cpus": 0.05, "mem": 16,
                    // Relative to its group, as Marathon resolves it.
                    "dependencies": ["../service/api"]
                }]
            }
        ]
    })
}

#[test]
fn a_group_deploys_in_dependency_order_as_one_deployment() {
    let mut cluster = Cluster::start(true);
    let marks = cluster.dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();

    let (status, body) = cluster.marathon_request("POST", "/v2/groups", Some(&product(&marks)));
    assert_eq!(status, 201, "{body}");
    let deployment = body["deploymentId"]
        .as_str()
        .expect("deploymentId")
        .to_owned();
    assert!(body["version"].is_string(), "{body}");

    // One deployment: the new apps' start, then one step per depth of the chain.
    let list = deployments(&cluster);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], deployment.as_str());
    assert_eq!(list[0]["totalSteps"], 4, "{list:?}");

    // Until the database is healthy, nothing of the service or the frontend runs.
    while !marks.join("mysql-ready").exists() {
        assert_eq!(running(&cluster, "/product/service/api"), 0);
        assert_eq!(running(&cluster, "/product/frontend/web"), 0);
        assert!(!marks.join("api-started").exists());
        std::thread::sleep(Duration::from_millis(100));
        if deployments(&cluster).is_empty() {
            break;
        }
    }
    cluster.wait_for("every app of the group running", || {
        [
            "/product/database/mysql",
            "/product/service/api",
            "/product/frontend/web",
        ]
        .iter()
        .all(|a| running(&cluster, a) == 1)
            && deployments(&cluster).is_empty()
    });
    let ready = stamp(&marks.join("mysql-ready")).expect("mysql-ready");
    let api = stamp(&marks.join("api-started")).expect("api-started");
    let web = stamp(&marks.join("web-started")).expect("web-started");
    assert!(
        api > ready,
        "the service started before the database was healthy"
    );
    assert!(web > api, "the frontend started before the service");

    // The tree as Marathon shows it.
    let tree = cluster.marathon_json("/v2/groups/product");
    let ids: Vec<&str> = tree["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["/product/database", "/product/frontend", "/product/service"]
    );
    assert_eq!(
        tree["groups"][2]["dependencies"],
        json!(["/product/database"])
    );
    assert_eq!(
        tree["groups"][1]["apps"][0]["dependencies"],
        json!(["/product/service/api"])
    );
    let only_groups = cluster.marathon_json("/v2/groups/product?embed=group.groups");
    assert_eq!(only_groups["apps"], json!([]));
    assert_eq!(only_groups["groups"].as_array().unwrap().len(), 3);

    // Bad input: a 422 naming the problem, and nothing changes.
    let before = cluster.marathon_json("/v2/groups");
    let mut cyclic = product(&marks);
    cyclic["groups"][0]["dependencies"] = json!(["/product/frontend"]);
    let bad: [(&str, &str, Value, &str); 3] = [
        ("PUT", "/v2/groups/product", cyclic, "cyclic"),
        (
            "POST",
            "/v2/groups",
            json!({"id": "/dangling", "apps": [{"id": "a", "cmd": "sleep 1", "dependencies": ["/nothing/here"]}]}),
            "/nothing/here",
        ),
        (
            "POST",
            "/v2/groups",
            json!({"id": "/escape", "apps": [{"id": "../outside", "cmd": "sleep 1"}]}),
            "not a direct child",
        ),
    ];
    for (method, path, body, expected) in bad {
        let (status, answer) = cluster.marathon_request(method, path, Some(&body));
        assert_eq!(status, 422, "{method} {path}: {answer}");
        assert!(
            answer.to_string().contains(expected),
            "{method} {path}: {answer} should name {expected}"
        );
        assert!(deployments(&cluster).is_empty());
        assert_eq!(cluster.marathon_json("/v2/groups"), before);
    }
    let (status, _) = cluster.marathon_request("POST", "/v2/groups", Some(&product(&marks)));
    assert_eq!(status, 409, "creating an existing group");

    // A dry run answers the plan and changes nothing.
    let mut changed = product(&marks);
    changed["groups"][2]["apps"][0]["cmd"] = json!("exec sleep 601");
    let (status, plan) =
        cluster.marathon_request("PUT", "/v2/groups/product?dryRun=true", Some(&changed));
    assert_eq!(status, 200, "{plan}");
    assert_eq!(
        plan,
        json!({"steps": [{"actions": [{"action": "RestartApplication", "app": "/product/frontend/web"}]}]})
    );
    assert!(deployments(&cluster).is_empty());

    // Groups and their versions are persisted: a restarted scheduler still has them.
    cluster.marathon.as_mut().expect("marathon").kill();
    cluster.start_marathon();
    let tree = cluster.marathon_json("/v2/groups/product/service");
    assert_eq!(tree["dependencies"], json!(["/product/database"]));
    let versions = cluster.marathon_json("/v2/groups/product/versions");
    assert_eq!(versions.as_array().map(Vec::len), Some(1), "{versions}");
    let old = cluster.marathon_json(&format!(
        "/v2/groups/product/versions/{}",
        versions[0].as_str().unwrap()
    ));
    assert_eq!(old["groups"].as_array().map(Vec::len), Some(3), "{old}");

    // scaleBy: every app of the group, one deployment.
    let (status, body) =
        cluster.marathon_request("PUT", "/v2/groups/product", Some(&json!({"scaleBy": 2})));
    assert_eq!(status, 200, "{body}");
    cluster.wait_for("every app scaled to 2", || {
        [
            "/product/database/mysql",
            "/product/service/api",
            "/product/frontend/web",
        ]
        .iter()
        .all(|a| running(&cluster, a) == 2)
            && deployments(&cluster).is_empty()
    });

    // Rollback to the first version: one instance each again.
    let (status, body) = cluster.marathon_request(
        "PUT",
        "/v2/groups/product",
        Some(&json!({"version": versions[0]})),
    );
    assert_eq!(status, 200, "{body}");
    cluster.wait_for("the rollback to one instance each", || {
        [
            "/product/database/mysql",
            "/product/service/api",
            "/product/frontend/web",
        ]
        .iter()
        .all(|a| running(&cluster, a) == 1)
            && deployments(&cluster).is_empty()
    });

    // Recursive delete.
    let (status, body) = cluster.marathon_request("DELETE", "/v2/groups/product", None);
    assert_eq!(status, 200, "{body}");
    assert!(body["deploymentId"].is_string(), "{body}");
    cluster.wait_for("the group gone", || {
        cluster.marathon_json("/v2/apps")["apps"] == json!([]) && deployments(&cluster).is_empty()
    });
    let (status, _) = cluster.marathon_request("GET", "/v2/groups/product", None);
    assert_eq!(status, 404);
    wait_until(
        "the group's processes ended",
        Duration::from_secs(60),
        || {
            cluster.master_json("/master/state")["frameworks"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|f| f["tasks"].as_array().is_none_or(Vec::is_empty))
        },
    );
}

#[test]
fn marathon_python_group_calls() {
    let cluster = Cluster::start(true);
    run_python(
        &cluster,
        "marathon_groups.py",
        &[format!("http://127.0.0.1:{}", cluster.marathon_port)],
    );
}
