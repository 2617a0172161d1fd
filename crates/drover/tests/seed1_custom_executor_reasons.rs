//! Seed 1's guidelines for executor authors, with a real custom executor (pymesos'
//! `MesosExecutorDriver`, `tests/python/reason_executor.py`) under a real agent and master:
//! an executor that validates or authorizes tasks itself may set REASON_TASK_INVALID or
//! REASON_TASK_UNAUTHORIZED, and the scheduler receives the update as the executor wrote it
//! (state, reason, message, SOURCE_EXECUTOR, reliably). `SEEDS.md` names this test.

use crate::support;

use support::{Cluster, Framework, python};

#[test]
fn a_custom_executors_own_reasons_reach_the_scheduler_unchanged() {
    let cluster = Cluster::start(false);
    let mut framework = Framework::start(&cluster, "reasons-fw", &[]);
    framework.wait_registered();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/reason_executor.py");
    let cases = [
        ("invalid-task", "TASK_FAILED", "REASON_TASK_INVALID"),
        (
            "unauthorized-task",
            "TASK_ERROR",
            "REASON_TASK_UNAUTHORIZED",
        ),
    ];
    for (task, state, reason) in cases {
        let command = format!(
            "{} {} {state} {reason}",
            python().display(),
            script.display()
        );
        framework.send(&format!("launch_executor {task} * {command}"));
    }
    for (task, state, reason) in cases {
        let update = framework.wait_update(task, state, Some(reason));
        assert_eq!(update["source"], "SOURCE_EXECUTOR", "{update}");
        assert_eq!(update["uuid"], true, "reliable update: {update}");
        assert_eq!(
            update["message"],
            format!("refused by the executor: {reason}"),
            "{update}"
        );
        let states: Vec<_> = framework
            .updates_of(task)
            .iter()
            .map(|u| u["state"].clone())
            .collect();
        assert_eq!(states, [state], "{task}: {states:?}");
    }
}
