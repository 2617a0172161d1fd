//! More real third-party clients against a real Drover cluster, beyond pymesos and
//! marathon-python (compat_clients.rs): mesoshttp 0.4.2 (PyPI) as a Mesos framework, and from
//! npm mesos-framework 0.5.3 (a JavaScript framework library that reads the Scheduler API's
//! RecordIO stream one HTTP chunk at a time), marathon-node 1.1.0 (a client of Marathon's REST
//! API) and marathon-event-bus-client 0.1.7 (a listener of `/v2/events`). Each client is
//! installed by name and pinned version by `scripts/setup`; each script asserts what it sees
//! and prints `OK` only when every expectation held.

use crate::support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Cluster, run_python};

/// How long one client script may run: each waits on its own conditions for at most 90 s.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(240);

/// The npm project `scripts/setup` installs the JavaScript clients into.
fn node_clients() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    assert!(
        dir.join("node_modules/.drover-installed").exists(),
        "{}/node_modules is not installed: run scripts/setup (the README's test command does)",
        dir.display()
    );
    dir
}

/// Runs `node SCRIPT ARGS…` from tests/clients with a deadline, returning its output; panics
/// with that output and the cluster's logs unless it exits 0 after printing `OK`.
fn run_node(cluster: &Cluster, script: &str, args: &[String]) -> String {
    let dir = node_clients();
    let log_path = cluster.dir.path().join(format!("{script}.log"));
    let log = File::create(&log_path).expect("create the client's log");
    // In the cluster's temp dir: mesos-framework writes a log file into its working directory.
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(cluster.dir.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log"))
        .stderr(log)
        .spawn()
        .expect("start node (scripts/setup installs it)");
    let deadline = Instant::now() + SCRIPT_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let passed =
        status.is_some_and(|status| status.success()) && output.lines().any(|line| line == "OK");
    assert!(
        passed,
        "{script} failed ({}):\n{output}\n{}",
        status.map_or("timed out".to_owned(), |status| status.to_string()),
        cluster.logs()
    );
    output
}

/// mesoshttp subscribes, launches two tasks from an offer, acknowledges their updates,
/// reconciles, kills one and tears its framework down; the master's state agrees at each step.
#[test]
fn mesoshttp_scheduler_launches_reconciles_kills_and_tears_down() {
    let cluster = Cluster::start(false);
    let output = run_python(
        &cluster,
        "mesoshttp_scheduler.py",
        &[format!("http://127.0.0.1:{}", cluster.master_port)],
    );
    assert!(
        output.contains("update echo-task TASK_FINISHED"),
        "{output}"
    );
    assert!(output.contains("update sleep-task TASK_KILLED"), "{output}");
}

/// mesos-framework launches its configured tasks (two long-running with a port each, one that
/// finishes), relaunches a killed one, reconciles and tears down. It splits the stream into
/// events one HTTP chunk at a time, so a chunk holding several records breaks it.
#[test]
fn mesos_framework_js_scheduler_launches_relaunches_and_tears_down() {
    let cluster = Cluster::start(false);
    let output = run_node(
        &cluster,
        "mesos_framework_scheduler.js",
        &["127.0.0.1".to_owned(), cluster.master_port.to_string()],
    );
    assert!(
        output.contains("replaced mesos-framework-compat.sleeper-"),
        "{output}"
    );
}

/// marathon-node drives an app through its whole life and reads every list it has.
#[test]
fn marathon_node_client_drives_an_app_through_its_life() {
    let cluster = Cluster::start(true);
    let output = run_node(
        &cluster,
        "marathon_node_client.js",
        &[format!("http://127.0.0.1:{}", cluster.marathon_port)],
    );
    assert!(output.contains("scaled to 3"), "{output}");
    assert!(output.contains("restarted"), "{output}");
}

/// marathon-event-bus-client sees a deployment, its task and the app's removal on /v2/events.
#[test]
fn marathon_event_bus_client_follows_a_deployment_and_a_removal() {
    let cluster = Cluster::start(true);
    let output = run_node(
        &cluster,
        "marathon_event_bus.js",
        &["127.0.0.1".to_owned(), cluster.marathon_port.to_string()],
    );
    assert!(output.contains("event app_terminated_event"), "{output}");
}
