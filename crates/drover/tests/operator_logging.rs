//! A real `drover master` process: SET_LOGGING_LEVEL changes the daemon's own log filter for
//! the duration and then restores it, and with `--log_dir` the master writes its log to a
//! file that READ_FILE serves as `/master/log`.

mod support;

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
