//! Master-side rows of seed 1 (spec mesos.md §1.4, §2.7, §6) with a real agent: what PA and
//! non-PA frameworks are told when an operator marks their agent gone, and how the master
//! answers explicit reconciliation of tasks it does not know.

use crate::support;

use serde_json::json;
use support::{Cluster, Framework};

/// MARK_AGENT_GONE: PA frameworks get TASK_GONE_BY_OPERATOR / REASON_AGENT_REMOVED_BY_OPERATOR,
/// others TASK_LOST / REASON_AGENT_REMOVED, both from the master with FAILURE for the agent;
/// later reconciliation answers the same states; repeating the call is idempotent.
#[test]
fn mark_agent_gone_reports_gone_by_operator_to_pa_and_lost_to_others() {
    let cluster = Cluster::start(false);
    let agent_id = cluster.agent_id(0);
    let mut pa = Framework::start(&cluster, "pa", &["--partition-aware", "--checkpoint"]);
    let mut plain = Framework::start(&cluster, "plain", &["--checkpoint"]);
    pa.wait_registered();
    plain.wait_registered();
    pa.launch("pa-task", &agent_id, "sleep 300");
    plain.launch("plain-task", &agent_id, "sleep 300");
    pa.wait_update("pa-task", "TASK_RUNNING", None);
    plain.wait_update("plain-task", "TASK_RUNNING", None);

    let call = json!({"type": "MARK_AGENT_GONE",
                      "mark_agent_gone": {"agent_id": {"value": agent_id}}});
    let (status, body) = cluster.operator(&call);
    assert_eq!(status, 200, "MARK_AGENT_GONE: {body}\n{}", cluster.logs());

    let gone = pa.wait_update(
        "pa-task",
        "TASK_GONE_BY_OPERATOR",
        Some("REASON_AGENT_REMOVED_BY_OPERATOR"),
    );
    let lost = plain.wait_update("plain-task", "TASK_LOST", Some("REASON_AGENT_REMOVED"));
    for update in [&gone, &lost] {
        assert_eq!(update["source"], "SOURCE_MASTER", "{update}");
        assert_eq!(update["uuid"], false, "{update}");
    }
    pa.wait_line("FAILURE for the agent", |l| {
        l == format!("failure {agent_id}")
    });
    plain.wait_line("FAILURE for the agent", |l| {
        l == format!("failure {agent_id}")
    });

    let (status, body) = cluster.operator(&call);
    assert_eq!(status, 200, "MARK_AGENT_GONE is idempotent: {body}");

    pa.send(&format!("reconcile pa-task {agent_id}"));
    plain.send(&format!("reconcile plain-task {agent_id}"));
    pa.wait_update(
        "pa-task",
        "TASK_GONE_BY_OPERATOR",
        Some("REASON_RECONCILIATION"),
    );
    plain.wait_update("plain-task", "TASK_LOST", Some("REASON_RECONCILIATION"));
}

/// Explicit reconciliation of a task the master does not know: on a registered agent PA gets
/// TASK_GONE and non-PA TASK_LOST; with no agent given (none recovering) PA gets TASK_UNKNOWN.
#[test]
fn reconciling_a_task_unknown_on_a_registered_agent_answers_gone_or_lost() {
    let cluster = Cluster::start(false);
    let agent_id = cluster.agent_id(0);
    let mut pa = Framework::start(&cluster, "pa", &["--partition-aware"]);
    let mut plain = Framework::start(&cluster, "plain", &[]);
    pa.wait_registered();
    plain.wait_registered();

    pa.send(&format!("reconcile ghost {agent_id}"));
    plain.send(&format!("reconcile ghost {agent_id}"));
    let gone = pa.wait_update("ghost", "TASK_GONE", Some("REASON_RECONCILIATION"));
    let lost = plain.wait_update("ghost", "TASK_LOST", Some("REASON_RECONCILIATION"));
    for update in [&gone, &lost] {
        assert_eq!(update["source"], "SOURCE_MASTER", "{update}");
        assert_eq!(update["uuid"], false, "{update}");
    }

    pa.send("reconcile phantom");
    plain.send("reconcile phantom");
    pa.wait_update("phantom", "TASK_UNKNOWN", Some("REASON_RECONCILIATION"));
    plain.wait_update("phantom", "TASK_LOST", Some("REASON_RECONCILIATION"));
}

/// `--registry_gc_interval` / `--registry_max_agent_age`: a gone agent is remembered (its id
/// refused) until its entry is older than the age limit, then the registry forgets it, and a
/// restarted master reads the pruned registry. The flags show in `/master/flags`.
#[test]
fn the_registry_forgets_gone_agents_after_the_age_limit() {
    let mut cluster = Cluster::start_with(support::Options {
        agents: 2,
        master_flags: vec![
            "--registry_gc_interval=1secs".into(),
            "--registry_max_agent_age=3secs".into(),
        ],
        ..support::Options::default()
    });
    let flags = cluster.master_json("/master/flags");
    assert_eq!(flags["flags"]["registry_gc_interval"], "1secs", "{flags}");
    assert_eq!(flags["flags"]["registry_max_agent_age"], "3secs", "{flags}");
    assert_eq!(
        flags["flags"]["registry_max_agent_count"], "102400",
        "{flags}"
    );

    let gone = cluster.agent_id(1);
    let call = json!({"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": gone}}});
    let (status, body) = cluster.operator(&call);
    assert_eq!(status, 200, "MARK_AGENT_GONE: {body}");
    let listed = |cluster: &Cluster| {
        cluster.master_json("/master/slaves")["gone_agents"]
            .as_array()
            .map(|a| a.iter().any(|g| g["id"] == gone.as_str()))
    };
    assert_eq!(listed(&cluster), Some(true), "listed once marked");
    cluster.wait_for("the gone agent pruned from the registry", || {
        listed(&cluster) == Some(false)
    });
    assert!(
        cluster
            .master
            .log()
            .contains("Pruning 0 unreachable and 1 gone agents"),
        "the master says what it pruned:\n{}",
        cluster.master.log()
    );
    // Persisted: a restarted master does not list it either.
    cluster.master.kill();
    cluster.start_master_again();
    cluster.wait_for_agents(1);
    assert_eq!(listed(&cluster), Some(false));
}
