//! Issue 12 item 8, against real processes: the fields Marathon 1.10 clients read from tasks and
//! app embeds (`ipAddresses` from the agent's status updates, `taskStats`, `readiness`).

use crate::support;

use serde_json::json;
use support::{Cluster, READY_TIMEOUT, wait_until};

#[test]
fn host_networked_tasks_show_the_agent_ip_and_apps_embed_task_stats() {
    let cluster = Cluster::start(true);
    let app = json!({"id": "/fields", "cmd": "sleep 300", "cpus": 0.1, "mem": 16, "instances": 2});
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
    assert_eq!(status, 201, "{body}");
    let port = cluster.marathon_port;
    wait_until("2 tasks running", READY_TIMEOUT, || {
        support::get_json(port, "/v2/apps/fields").is_some_and(|a| a["app"]["tasksRunning"] == 2)
    });
    let tasks = cluster.marathon_json("/v2/apps/fields/tasks");
    for task in tasks["tasks"].as_array().expect("tasks") {
        assert_eq!(
            task["ipAddresses"],
            json!([{"ipAddress": "127.0.0.1", "protocol": "IPv4"}]),
            "{task}"
        );
    }
    // The master saw the same network info in the updates.
    let master = cluster.master_json("/master/tasks");
    let statuses = &master["tasks"][0]["statuses"];
    assert!(
        statuses.to_string().contains("127.0.0.1"),
        "network_infos in the master's statuses: {statuses}"
    );

    let app = cluster.marathon_json("/v2/apps/fields?embed=app.taskStats&embed=app.readiness");
    let stats = &app["app"]["taskStats"];
    for key in [
        "startedAfterLastScaling",
        "withLatestConfig",
        "totalSummary",
    ] {
        assert_eq!(
            stats[key]["stats"]["counts"]["running"], 2,
            "{key}: {stats}"
        );
        assert_eq!(stats[key]["stats"]["counts"]["staged"], 0, "{key}: {stats}");
        let life = &stats[key]["stats"]["lifeTime"];
        assert!(life["averageSeconds"].as_f64().is_some(), "{key}: {stats}");
        assert!(life["medianSeconds"].as_f64().is_some(), "{key}: {stats}");
    }
    assert!(
        stats.get("withOutdatedConfig").is_none(),
        "no outdated tasks: {stats}"
    );
    assert_eq!(app["app"]["readinessCheckResults"], json!([]), "{app}");

    let listing = cluster.marathon_json("/v2/apps?embed=apps.taskStats&embed=apps.readiness");
    let listed = &listing["apps"][0];
    assert_eq!(
        listed["taskStats"]["totalSummary"]["stats"]["counts"]["running"], 2,
        "{listed}"
    );
    assert_eq!(listed["readinessCheckResults"], json!([]), "{listed}");
    let plain = cluster.marathon_json("/v2/apps/fields");
    assert!(
        plain["app"].get("taskStats").is_none(),
        "only when embedded: {plain}"
    );
}
