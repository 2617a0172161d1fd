//! Issue 7's partition scenarios with real processes: an agent paused (SIGSTOP) past the
//! master's ping window is marked unreachable and comes back with REASON_AGENT_REREGISTERED;
//! paused within the window, nothing happens. Observed by pymesos frameworks, partition-aware
//! (PA) and not.

use crate::support;

use std::time::{Duration, Instant};

use support::{Cluster, Framework, Options};

/// Partition past the timeout: PA sees TASK_UNREACHABLE, non-PA TASK_LOST (both
/// REASON_AGENT_REMOVED with `unreachable_time`, from the master), reconciliation agrees, and
/// after SIGCONT both see their still-running task come back RUNNING / REASON_AGENT_REREGISTERED.
#[test]
fn agent_partitioned_past_the_unreachable_timeout_returns_with_agent_reregistered() {
    let cluster = Cluster::start_with(Options {
        agents: 1,
        master_flags: vec![
            "--agent_ping_timeout=1secs".to_owned(),
            "--max_agent_ping_timeouts=2".to_owned(),
        ],
        ..Options::default()
    });
    let agent_id = cluster.agent_id(0);
    let mut pa = Framework::start(&cluster, "pa", &["--partition-aware", "--checkpoint"]);
    let mut plain = Framework::start(&cluster, "plain", &["--checkpoint"]);
    pa.wait_registered();
    plain.wait_registered();
    pa.launch("pa-task", &agent_id, "sleep 300");
    plain.launch("plain-task", &agent_id, "sleep 300");
    pa.wait_update("pa-task", "TASK_RUNNING", None);
    plain.wait_update("plain-task", "TASK_RUNNING", None);

    cluster.agent.pause();
    let unreachable = pa.wait_update("pa-task", "TASK_UNREACHABLE", Some("REASON_AGENT_REMOVED"));
    let lost = plain.wait_update("plain-task", "TASK_LOST", Some("REASON_AGENT_REMOVED"));
    for update in [&unreachable, &lost] {
        assert_eq!(update["source"], "SOURCE_MASTER", "{update}");
        assert_eq!(update["unreachable_time"], true, "{update}");
        assert_eq!(
            update["uuid"], false,
            "master updates are not reliable: {update}"
        );
    }
    pa.wait_line("FAILURE for the agent", |l| {
        l == format!("failure {agent_id}")
    });
    plain.wait_line("FAILURE for the agent", |l| {
        l == format!("failure {agent_id}")
    });

    // Reconciliation while partitioned answers the same.
    pa.send(&format!("reconcile pa-task {agent_id}"));
    plain.send(&format!("reconcile plain-task {agent_id}"));
    pa.wait_update("pa-task", "TASK_UNREACHABLE", Some("REASON_RECONCILIATION"));
    plain.wait_update("plain-task", "TASK_LOST", Some("REASON_RECONCILIATION"));

    cluster.agent.resume();
    let back = pa.wait_update("pa-task", "TASK_RUNNING", Some("REASON_AGENT_REREGISTERED"));
    assert_eq!(back["source"], "SOURCE_MASTER", "{back}");
    plain.wait_update(
        "plain-task",
        "TASK_RUNNING",
        Some("REASON_AGENT_REREGISTERED"),
    );
    // And the task is known to be running again.
    pa.send(&format!("reconcile pa-task {agent_id}"));
    pa.wait_line("RUNNING reconciliation after the return", |l| {
        l.starts_with("update ")
            && l.contains("\"pa-task\"")
            && l.contains("TASK_RUNNING")
            && l.contains("REASON_RECONCILIATION")
    });
}

/// Partition within the timeout: a pause shorter than ping timeout × count (one missed ping)
/// changes nothing: no update, no FAILURE, the agent stays active and the task RUNNING.
#[test]
fn agent_paused_within_the_unreachable_timeout_changes_nothing() {
    let ping = Duration::from_secs(2);
    let pings = 4;
    let cluster = Cluster::start_with(Options {
        agents: 1,
        master_flags: vec![
            "--agent_ping_timeout=2secs".to_owned(),
            format!("--max_agent_ping_timeouts={pings}"),
        ],
        ..Options::default()
    });
    let agent_id = cluster.agent_id(0);
    let mut pa = Framework::start(&cluster, "pa", &["--partition-aware", "--checkpoint"]);
    pa.wait_registered();
    pa.launch("steady", &agent_id, "sleep 300");
    pa.wait_update("steady", "TASK_RUNNING", None);
    let updates_before = pa.updates().len();

    let paused_at = Instant::now();
    cluster.agent.pause();
    // The fault itself: the agent stays paused for more than one ping timeout.
    std::thread::sleep(ping + Duration::from_millis(500));
    cluster.agent.resume();

    // Watch until well past the moment the agent would have been marked unreachable.
    let window_end = paused_at + ping * pings + Duration::from_secs(3);
    while Instant::now() < window_end {
        let new: Vec<_> = pa.updates().into_iter().skip(updates_before).collect();
        assert!(
            new.is_empty(),
            "no update expected: {new:?}\n{}",
            cluster.logs()
        );
        assert!(
            !pa.lines().iter().any(|l| l.starts_with("failure")),
            "no FAILURE expected\n{}",
            pa.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        support::agent_id_on(cluster.master_port, cluster.agent_port).as_deref()
            == Some(agent_id.as_str()),
        "the agent is still registered and active"
    );
    pa.send(&format!("reconcile steady {agent_id}"));
    pa.wait_update("steady", "TASK_RUNNING", Some("REASON_RECONCILIATION"));
}
