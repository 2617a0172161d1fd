//! Seed rows the agent emits on its own, produced by their real causes against the built
//! `drover agent` and a scripted master (issue 18 item 3): a task bigger than the agent
//! (REASON_INVALID_OFFERS), a second task with a live task's id (REASON_TASK_INVALID), a kill
//! for a task the agent never got and a task for an executor being shut down
//! (REASON_EXECUTOR_TERMINATED), an unknown user and a missing
//! executor program (REASON_CONTAINER_LAUNCH_FAILED) and agent-side reconciliation of a task
//! the agent does not know (REASON_RECONCILIATION), a task on a persistent volume the agent
//! does not have (REASON_RESOURCES_UNKNOWN); and, as seed 1 says, that a plain task's
//! own updates carry no reason at all. Each row's partition-aware variant is checked where it
//! differs. `SEEDS.md` names these tests.

use crate::support;

use drover_wire::internal::{self, agent_event::Type as EventType};
use drover_wire::v1;
use drover_wire::v1::TaskState;
use drover_wire::v1::task_status::{Reason, Source};
use support::*;

fn partition_aware(id: &str) -> v1::FrameworkInfo {
    let mut info = framework(id, false, false);
    info.capabilities.push(v1::framework_info::Capability {
        r#type: Some(v1::framework_info::capability::Type::PartitionAware as i32),
    });
    info
}

/// Asserts the (state, reason, source) of an update and returns its message.
fn assert_update(
    status: &v1::TaskStatus,
    state: TaskState,
    reason: Reason,
    source: Source,
) -> String {
    assert_eq!(
        (status.state, status.reason, status.source),
        (state as i32, Some(reason as i32), Some(source as i32)),
        "{status:#?}"
    );
    status.message.clone().unwrap_or_default()
}

async fn started() -> (FakeMaster, AgentProcess) {
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    (master, agent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_bigger_than_the_agent_is_invalid_offers_dropped_or_lost() {
    // The master checks offers, so only a launch that slipped past it reaches this check: the
    // agent refuses what it cannot hold instead of over-committing the machine.
    let (master, agent) = started().await;
    master
        .run_task(
            &framework("plain", false, false),
            shell_task("huge", "true", 1e9),
        )
        .await;
    master
        .run_task(&partition_aware("pa"), shell_task("huge-pa", "true", 1e9))
        .await;
    let lost = master.wait_state("huge", TaskState::TaskLost, LONG).await;
    let message = assert_update(
        &lost,
        TaskState::TaskLost,
        Reason::InvalidOffers,
        Source::Agent,
    );
    assert!(
        message.contains("more resources than the agent has"),
        "{message}"
    );
    let dropped = master
        .wait_state("huge-pa", TaskState::TaskDropped, LONG)
        .await;
    assert_update(
        &dropped,
        TaskState::TaskDropped,
        Reason::InvalidOffers,
        Source::Agent,
    );
    assert!(lost.uuid.is_some(), "agent updates are reliable");
    for id in ["huge", "huge-pa"] {
        assert!(agent.sandbox(id).is_none(), "{id} got a sandbox");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_task_with_a_live_tasks_id_is_task_invalid_and_the_first_runs_on() {
    let (master, _agent) = started().await;
    let fw = partition_aware("fw");
    master
        .run_task(&fw, shell_task("twin", "sleep 600", 32.0))
        .await;
    master
        .wait_state("twin", TaskState::TaskRunning, LONG)
        .await;
    master.run_task(&fw, shell_task("twin", "true", 32.0)).await;
    let dropped = master
        .wait_state("twin", TaskState::TaskDropped, LONG)
        .await;
    let message = assert_update(
        &dropped,
        TaskState::TaskDropped,
        Reason::TaskInvalid,
        Source::Agent,
    );
    assert!(message.contains("already running"), "{message}");
    // The live task is untouched: a kill still reaches it and ends it KILLED.
    master.kill_task("fw", "twin", None).await;
    master.wait_state("twin", TaskState::TaskKilled, LONG).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_for_a_task_the_agent_never_got_is_executor_terminated() {
    let (master, _agent) = started().await;
    // The agent learns both frameworks (and whether they are partition-aware) from a live task
    // each; a framework with nothing left on the agent is forgotten there.
    master
        .run_task(
            &framework("plain", false, false),
            shell_task("known", "sleep 600", 32.0),
        )
        .await;
    master
        .run_task(
            &partition_aware("pa"),
            shell_task("known-pa", "sleep 600", 32.0),
        )
        .await;
    master
        .wait_state("known", TaskState::TaskRunning, LONG)
        .await;
    master
        .wait_state("known-pa", TaskState::TaskRunning, LONG)
        .await;
    master.kill_task("plain", "never-sent", None).await;
    master.kill_task("pa", "never-sent-pa", None).await;
    let lost = master
        .wait_state("never-sent", TaskState::TaskLost, LONG)
        .await;
    assert_update(
        &lost,
        TaskState::TaskLost,
        Reason::ExecutorTerminated,
        Source::Agent,
    );
    let dropped = master
        .wait_state("never-sent-pa", TaskState::TaskDropped, LONG)
        .await;
    assert_update(
        &dropped,
        TaskState::TaskDropped,
        Reason::ExecutorTerminated,
        Source::Agent,
    );
}

/// A task run by a custom executor whose command is `argv[0]` with no shell.
fn custom_executor_task(id: &str, program: &str, user: Option<&str>) -> v1::TaskInfo {
    let mut task = shell_task(id, "", 32.0);
    task.command = None;
    task.executor = Some(v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: format!("executor-{id}"),
        },
        command: Some(v1::CommandInfo {
            value: Some(program.into()),
            shell: Some(false),
            user: user.map(str::to_owned),
            ..Default::default()
        }),
        resources: vec![scalar("cpus", 0.1), scalar("mem", 32.0)],
        ..Default::default()
    });
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_or_a_missing_executor_program_is_container_launch_failed() {
    let (master, agent) = started().await;
    let fw = framework("fw", false, false);
    let mut task = shell_task("nobody-here", "true", 32.0);
    task.command.as_mut().expect("command").user = Some("no-such-user-drover".into());
    master.run_task(&fw, task).await;
    master
        .run_task(
            &fw,
            custom_executor_task("no-program", "/no/such/program-drover", None),
        )
        .await;
    for (id, needle) in [
        ("nobody-here", "no-such-user-drover"),
        ("no-program", "/no/such/program-drover"),
    ] {
        let failed = master.wait_state(id, TaskState::TaskFailed, LONG).await;
        let message = assert_update(
            &failed,
            TaskState::TaskFailed,
            Reason::ContainerLaunchFailed,
            Source::Agent,
        );
        assert!(message.contains(needle), "{id}: {message}");
        assert!(
            !master
                .updates()
                .iter()
                .any(|s| s.task_id.value == id && s.state == TaskState::TaskRunning as i32),
            "{id} ran"
        );
    }
    // The agent is fine afterwards.
    master
        .run_task(&fw, shell_task("after", "true", 32.0))
        .await;
    master
        .wait_state("after", TaskState::TaskFinished, LONG)
        .await;
    drop(agent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciling_a_task_the_agent_does_not_know_is_dropped_or_lost() {
    let (master, _agent) = started().await;
    master
        .run_task(
            &framework("fw", false, false),
            shell_task("real", "sleep 600", 32.0),
        )
        .await;
    master
        .wait_state("real", TaskState::TaskRunning, LONG)
        .await;
    let entry = |framework: &str, task: &str, partition_aware: bool| {
        internal::agent_event::reconcile_tasks::Entry {
            framework_id: v1::FrameworkId {
                value: framework.into(),
            },
            task_id: v1::TaskId { value: task.into() },
            partition_aware: Some(partition_aware),
        }
    };
    master
        .send(internal::AgentEvent {
            r#type: Some(EventType::ReconcileTasks as i32),
            reconcile_tasks: Some(internal::agent_event::ReconcileTasks {
                tasks: vec![
                    entry("fw", "real", false),
                    entry("fw", "phantom", false),
                    entry("other-pa", "phantom-pa", true),
                ],
            }),
            ..Default::default()
        })
        .await;
    let lost = master
        .wait_state("phantom", TaskState::TaskLost, LONG)
        .await;
    assert_update(
        &lost,
        TaskState::TaskLost,
        Reason::Reconciliation,
        Source::Agent,
    );
    let dropped = master
        .wait_state("phantom-pa", TaskState::TaskDropped, LONG)
        .await;
    assert_update(
        &dropped,
        TaskState::TaskDropped,
        Reason::Reconciliation,
        Source::Agent,
    );
    // A task the agent runs is left alone: no update about it beyond its own.
    assert!(
        !master
            .updates()
            .iter()
            .any(|s| s.task_id.value == "real" && s.reason == Some(Reason::Reconciliation as i32)),
        "{:#?}",
        master.updates()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_for_an_executor_being_shut_down_is_executor_terminated() {
    // A custom executor that never subscribes: killing its only task shuts it down; a task for
    // the same executor that arrives right behind the kill finds it terminating.
    let (master, agent) = started().await;
    for (fw, first, second, state) in [
        (
            framework("plain", false, false),
            "first",
            "second",
            TaskState::TaskLost,
        ),
        (
            partition_aware("pa"),
            "first-pa",
            "second-pa",
            TaskState::TaskDropped,
        ),
    ] {
        let framework_id = fw.id.clone().expect("id").value;
        master
            .run_task(&fw, silent_executor_task(first, first))
            .await;
        let executor = format!("executor-{first}");
        master
            .wait_for("the executor's sandbox", LONG, |_| {
                has_run_dir(&agent.work_dir, &executor)
            })
            .await;
        let again = silent_executor_task(second, first);
        master.kill_task(&framework_id, first, None).await;
        master.run_task(&fw, again).await;
        let killed = master.wait_state(first, TaskState::TaskKilled, LONG).await;
        assert_update(
            &killed,
            TaskState::TaskKilled,
            Reason::TaskKilledDuringLaunch,
            Source::Agent,
        );
        let refused = master.wait_state(second, state, LONG).await;
        assert_update(&refused, state, Reason::ExecutorTerminated, Source::Agent);
    }
}

/// A task whose custom executor (`executor-<executor>`) runs `sleep 600` and never subscribes.
fn silent_executor_task(id: &str, executor: &str) -> v1::TaskInfo {
    let mut task = custom_executor_task(id, "", None);
    let info = task.executor.as_mut().expect("executor");
    info.executor_id.value = format!("executor-{executor}");
    info.command = Some(v1::CommandInfo {
        value: Some("sleep 600".into()),
        shell: Some(true),
        ..Default::default()
    });
    task
}

/// Whether any framework on the agent has a run directory for `executor` (the agent created
/// its sandbox, so the launch is under way).
fn has_run_dir(work_dir: &std::path::Path, executor: &str) -> bool {
    let entries = |dir: std::path::PathBuf| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
    };
    entries(work_dir.join("slaves")).any(|agent| {
        entries(agent.join("frameworks")).any(|fw| {
            entries(fw.join("executors").join(executor).join("runs"))
                .next()
                .is_some()
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_tasks_own_updates_carry_no_reason() {
    // Seed 1: "Not all status updates will contain a reason." The executor's news about a
    // task that runs and ends normally has none; only the agent's and master's own do.
    let (master, _agent) = started().await;
    master
        .run_task(
            &framework("fw", false, false),
            shell_task("plain", "true", 32.0),
        )
        .await;
    master
        .wait_state("plain", TaskState::TaskFinished, LONG)
        .await;
    let updates: Vec<_> = master
        .updates()
        .into_iter()
        .filter(|s| s.task_id.value == "plain")
        .collect();
    let mut states: Vec<i32> = updates.iter().map(|s| s.state).collect();
    // A retried update (an acknowledgement that came late) is the same news.
    states.dedup();
    assert_eq!(
        states,
        [
            TaskState::TaskStarting as i32,
            TaskState::TaskRunning as i32,
            TaskState::TaskFinished as i32
        ],
        "{updates:#?}"
    );
    for status in &updates {
        assert_eq!(status.reason, None, "{status:#?}");
        assert_eq!(status.source, Some(Source::Executor as i32), "{status:#?}");
    }
}

/// A persistent volume of `disk_mb` on a dynamic reservation for role `db`.
fn reserved_volume(id: &str, disk_mb: f64) -> v1::Resource {
    let mut volume = scalar("disk", disk_mb);
    volume.reservations = vec![v1::resource::ReservationInfo {
        r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
        role: Some("db".into()),
        principal: Some("ops".into()),
        labels: None,
    }];
    volume.disk = Some(Box::new(v1::resource::DiskInfo {
        persistence: Some(v1::resource::disk_info::Persistence {
            id: id.into(),
            principal: Some("ops".into()),
        }),
        volume: Some(v1::Volume {
            container_path: "data".into(),
            mode: v1::volume::Mode::Rw as i32,
            ..Default::default()
        }),
        source: None,
    }));
    volume
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_on_a_volume_the_agent_does_not_have_is_resources_unknown() {
    // Mesos reached REASON_RESOURCES_UNKNOWN when the master's checkpoint of reservations and
    // volumes never reached the agent, or the agent could not take it. Both here: the
    // non-PA framework's volume was checkpointed bigger than the agent's disk (refused by the
    // agent), the PA framework's was never checkpointed at all. Each launch is refused rather
    // than run without its data.
    let (master, agent) = started().await;
    master
        .send(internal::AgentEvent {
            r#type: Some(EventType::CheckpointResources as i32),
            checkpoint_resources: Some(internal::agent_event::CheckpointResources {
                resources: vec![reserved_volume("too-big", 1e6)],
            }),
            ..Default::default()
        })
        .await;
    let cases = [
        (
            framework("plain", true, false),
            "on-volume",
            "too-big",
            TaskState::TaskLost,
        ),
        (
            partition_aware("pa"),
            "on-volume-pa",
            "never-sent",
            TaskState::TaskDropped,
        ),
    ];
    for (fw, task_id, volume_id, state) in cases {
        let mut task = shell_task(task_id, "sleep 600", 32.0);
        task.resources.push(reserved_volume(volume_id, 1e6));
        master.run_task(&fw, task).await;
        let status = master.wait_state(task_id, state, LONG).await;
        let message = assert_update(&status, state, Reason::ResourcesUnknown, Source::Agent);
        assert!(message.contains("unknown to the agent"), "{message}");
        assert!(agent.sandbox(task_id).is_none(), "{task_id} got a sandbox");
    }
}
