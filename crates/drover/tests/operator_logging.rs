//! A real `drover master` process: SET_LOGGING_LEVEL changes the daemon's own log filter for
//! the duration and then restores it, and with `--log_dir` the master writes its log to a
//! file that READ_FILE serves as `/master/log`.

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

fn operator(port: u16, call: &Value) -> (u16, Value) {
    let (status, body) = http_request(
        port,
        "POST",
        "/api/v1",
        Some(&call.to_string()),
        "application/json",
    )
    .expect("the master answers");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn set_logging_level_changes_the_daemon_filter_and_read_file_serves_its_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let log_dir = dir.path().join("logs");
    let mut args = master_args(dir.path(), port);
    args.push(format!("--log_dir={}", log_dir.display()));
    let mut master = Daemon::start("master", dir.path(), &args);
    wait_until("the master is healthy", READY_TIMEOUT, || {
        http_get(port, "/health").is_some_and(|(status, _)| status == 200)
    });
    let file = log_dir.join("drover.log");
    let traces = || {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .matches("DEBUG")
            .count()
    };
    let _ = operator(port, &json!({"type": "GET_HEALTH"}));
    assert_eq!(traces(), 0, "the configured filter (info) shows no DEBUG");

    let (status, _) = operator(
        port,
        &json!({"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 1, "duration": {"nanoseconds": 3_000_000_000u64}}}),
    );
    assert_eq!(status, 200);
    let (_, level) = operator(port, &json!({"type": "GET_LOGGING_LEVEL"}));
    assert_eq!(level["get_logging_level"]["level"], 1, "{level}");
    wait_until("DEBUG lines in the log file", READY_TIMEOUT, || {
        let _ = operator(port, &json!({"type": "GET_HEALTH"}));
        traces() > 0
    });
    wait_until("the level reverts", READY_TIMEOUT, || {
        operator(port, &json!({"type": "GET_LOGGING_LEVEL"})).1["get_logging_level"]["level"] == 0
    });
    std::thread::sleep(Duration::from_millis(200));
    let _ = http_get(port, "/master/state");
    let after = traces();
    for _ in 0..5 {
        let _ = operator(port, &json!({"type": "GET_HEALTH"}));
    }
    assert_eq!(traces(), after, "no DEBUG lines after the revert");

    let (status, read) = operator(
        port,
        &json!({"type": "READ_FILE", "read_file": {"path": "/master/log", "offset": 0}}),
    );
    assert_eq!(status, 200, "{read}");
    let size = read["read_file"]["size"].as_u64().expect("size");
    assert!(size > 0, "{read}");
    assert!(
        read["read_file"]["data"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{read}"
    );
    master.kill();
}

/// With `--log_dir`, the master's `/files` serves its log at `/master/log` and the agent's at
/// `/slave/log` (as Mesos attached them); `access_mesos_logs` decides who may read them, on
/// each daemon, and a path that is not attached is a 404 that says what is.
#[test]
fn files_serve_each_daemons_log_behind_access_mesos_logs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (master_port, agent_port) = (free_port(), free_port());
    let log_dir = dir.path().join("logs");
    let mut args = master_args(dir.path(), master_port);
    args.push(format!("--log_dir={}", log_dir.join("master").display()));
    let _master = Daemon::start("master", dir.path(), &args);
    let mut args = agent_args(dir.path(), master_port, agent_port);
    args.push(format!("--log_dir={}", log_dir.join("agent").display()));
    let _agent = Daemon::start("agent", dir.path(), &args);
    wait_until("the agent to register", READY_TIMEOUT, || {
        agent_id_on(master_port, agent_port).is_some()
    });
    for (port, path) in [(master_port, "/master/log"), (agent_port, "/slave/log")] {
        let (status, body) = http_get(
            port,
            &format!("/files/read?path={path}&offset=0&length=100000"),
        )
        .unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        let read: Value = serde_json::from_str(&body).unwrap();
        assert!(
            read["data"].as_str().is_some_and(|d| d.contains("INFO")),
            "{path}: {read}"
        );
        let (status, body) = http_get(port, &format!("/files/read?path={path}")).unwrap();
        assert_eq!(status, 200, "{body}");
        let size: Value = serde_json::from_str(&body).unwrap();
        assert!(size["offset"].as_u64().is_some_and(|s| s > 0), "{size}");
    }
    let (status, body) = http_get(master_port, "/files/read?path=/etc/passwd&offset=0").unwrap();
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("/master/log"), "{body}");
    let (_, debug) = http_get(master_port, "/files/debug").unwrap();
    assert!(debug.contains("/master/log"), "{debug}");

    // Both daemons again, now with an ACL that lets nobody read the logs.
    let deny = r#"--acls={"access_mesos_logs": [{"principals": {"type": "ANY"}, "logs": {"type": "NONE"}}]}"#;
    let dir = tempfile::tempdir().expect("temp dir");
    let (master_port, agent_port) = (free_port(), free_port());
    let mut args = master_args(dir.path(), master_port);
    args.push(format!("--log_dir={}", dir.path().join("m").display()));
    args.push(deny.to_owned());
    let _master = Daemon::start("master", dir.path(), &args);
    let mut args = agent_args(dir.path(), master_port, agent_port);
    args.push(format!("--log_dir={}", dir.path().join("a").display()));
    args.push(deny.to_owned());
    let _agent = Daemon::start("agent", dir.path(), &args);
    wait_until("the agent to register", READY_TIMEOUT, || {
        agent_id_on(master_port, agent_port).is_some()
    });
    for (port, path) in [(master_port, "/master/log"), (agent_port, "/slave/log")] {
        let (status, body) = http_get(port, &format!("/files/read?path={path}&offset=0")).unwrap();
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("access_mesos_logs"), "{path}: {body}");
    }
    let (status, _) = operator(
        master_port,
        &json!({"type": "READ_FILE", "read_file": {"path": "/master/log", "offset": 0}}),
    );
    assert_eq!(status, 403);
}
