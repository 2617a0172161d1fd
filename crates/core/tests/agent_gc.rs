//! Sandbox garbage collection in the agent core: what an ended executor and framework leave
//! is deleted `--gc_delay` later or sooner when the disk fills, a new task takes its
//! directories back off the schedule, and a launch into a directory being deleted ends
//! TASK_DROPPED / TASK_LOST with REASON_GC_ERROR (seed 1's L113 and L129).

use crate::agent_support;

use agent_support::*;
use drover_core::agent::gc::GcConfig;
use drover_core::agent::{Agent, Effect, Input};
use drover_core::task::{Reason, Source, TaskState};

const DELAY: u64 = 3_600_000;

fn harness() -> Harness {
    Harness::registered_agent(Agent::new(config(), [7; 16]).with_gc_config(GcConfig {
        delay_ms: DELAY,
        disk_headroom: 0.1,
    }))
}

fn removed(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::RemoveDirectories(paths) => Some(paths.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

const FW_DIR: &str = "/work/slaves/agent-1/frameworks/fw";
const EXEC_DIR: &str = "/work/slaves/agent-1/frameworks/fw/executors/t1";

/// Runs task `t1` of framework `fw` (partition-aware as asked) to TASK_FINISHED, its
/// executor's end and the acknowledgement: the executor and the framework are gone.
fn finished(h: &mut Harness, partition_aware: bool) -> String {
    h.step(run(
        &framework("fw", false, partition_aware),
        command_task("t1"),
    ));
    h.subscribe("fw", "t1", 1);
    h.update("fw", "t1", "t1", TaskState::TaskFinished, 1);
    let container_id = h.container_of("fw", "t1");
    let sandbox = format!("{EXEC_DIR}/runs/{container_id}");
    h.step(Input::ContainerTerminated {
        container_id,
        message: "Command exited with status 0".into(),
        oom_killed: false,
    });
    let effects = h.ack("fw", "t1", vec![1; 16]);
    assert!(removed(&effects).is_empty(), "nothing is deleted at once");
    sandbox
}

#[test]
fn an_ended_executors_directories_are_deleted_after_the_delay() {
    let mut h = harness();
    let sandbox = finished(&mut h, false);
    assert_eq!(h.agent.next_deadline(), Some(h.now + DELAY));
    assert!(removed(&h.advance(DELAY - 1)).is_empty());
    let mut gone = removed(&h.advance(1));
    gone.sort();
    assert_eq!(gone, vec![FW_DIR.to_owned(), EXEC_DIR.to_owned(), sandbox]);
    for path in gone {
        h.step(Input::DirectoryRemoved(path));
    }
    assert_eq!(h.agent.next_deadline(), None);
}

#[test]
fn a_full_disk_deletes_sooner() {
    let mut h = harness();
    finished(&mut h, false);
    h.now += DELAY / 2;
    // Half full: directories may be 40 % of the delay old; these are 50 %: they go now.
    let gone = removed(&h.step(Input::DiskUsage(0.5)));
    assert_eq!(gone.len(), 3, "{gone:?}");
}

#[test]
fn an_empty_disk_keeps_them() {
    let mut h = harness();
    finished(&mut h, false);
    h.now += DELAY / 2;
    assert!(removed(&h.step(Input::DiskUsage(0.2))).is_empty());
}

#[test]
fn a_new_task_of_the_same_executor_takes_its_directories_back() {
    let mut h = harness();
    finished(&mut h, false);
    h.now += 10;
    h.step(run(&framework("fw", false, false), command_task("t1")));
    // Only the old run's sandbox is still due; the framework's and executor's directories
    // were unscheduled by the launch.
    let gone = removed(&h.advance(DELAY));
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert!(gone[0].starts_with(&format!("{EXEC_DIR}/runs/")));
}

fn launch_into_deleted_directory(partition_aware: bool) -> (TaskState, Option<String>) {
    let mut h = harness();
    finished(&mut h, partition_aware);
    let gone = removed(&h.advance(DELAY));
    assert!(gone.contains(&EXEC_DIR.to_owned()));
    // The deletion is under way when the next task for the same executor arrives.
    let effects = h.step(run(
        &framework("fw", false, partition_aware),
        command_task("t1"),
    ));
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Launch(_))),
        "nothing is launched into a directory being deleted"
    );
    let state = if partition_aware {
        TaskState::TaskDropped
    } else {
        TaskState::TaskLost
    };
    let status = expect_one(&effects, state, Some(Reason::GcError), Source::Agent);
    (state, status.message)
}

#[test]
fn a_launch_into_a_directory_being_deleted_is_gc_error() {
    let (state, message) = launch_into_deleted_directory(true);
    assert_eq!(state, TaskState::TaskDropped);
    let message = message.expect("a message");
    assert!(message.contains("garbage collection"), "{message}");
    let (state, _) = launch_into_deleted_directory(false);
    assert_eq!(state, TaskState::TaskLost);
}

#[test]
fn once_deleted_the_directories_are_used_again() {
    let mut h = harness();
    finished(&mut h, false);
    for path in removed(&h.advance(DELAY)) {
        h.step(Input::DirectoryRemoved(path));
    }
    let effects = h.step(run(&framework("fw", false, false), command_task("t1")));
    assert!(effects.iter().any(|e| matches!(e, Effect::Launch(_))));
}

#[test]
fn stale_directories_are_scheduled_by_age_and_live_ones_are_not() {
    let mut h = harness();
    h.step(run(&framework("live", false, false), command_task("t9")));
    let live = h.container_of("live", "t9");
    let live_dir = format!("/work/slaves/agent-1/frameworks/live/executors/t9/runs/{live}");
    h.step(Input::StaleDirectories(vec![
        (
            "/work/slaves/old/frameworks/f/executors/e/runs/c".into(),
            DELAY - 5,
        ),
        ("/work/slaves/old/frameworks/f".into(), DELAY + 5),
        ("/work/slaves/agent-1/frameworks/live".into(), DELAY),
        (live_dir, DELAY),
    ]));
    assert_eq!(h.agent.next_deadline(), Some(h.now));
    let mut gone = removed(&h.advance(0));
    assert_eq!(gone, vec!["/work/slaves/old/frameworks/f".to_owned()]);
    gone = removed(&h.advance(5));
    assert_eq!(
        gone,
        vec!["/work/slaves/old/frameworks/f/executors/e/runs/c".to_owned()]
    );
    assert!(
        removed(&h.advance(DELAY * 2)).is_empty(),
        "live directories stay"
    );
}
