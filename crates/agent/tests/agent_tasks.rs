//! End-to-end runs of the built `drover agent` and `drover executor` against a scripted
//! master: real processes, and real cgroups when run as root.

use crate::support;

use std::time::{Duration, Instant};

use drover_wire::v1;
use drover_wire::v1::TaskState;
use support::*;

fn reason(status: &v1::TaskStatus) -> Option<v1::task_status::Reason> {
    status
        .reason
        .and_then(|r| v1::task_status::Reason::try_from(r).ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_task_runs_to_finished() {
    // A shell task reports STARTING, RUNNING and FINISHED, and its output lands in the sandbox.
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    master
        .run_task(
            &framework("fw", false, false),
            shell_task("ok", "echo hello-drover", 64.0),
        )
        .await;
    master.wait_state("ok", TaskState::TaskStarting, LONG).await;
    master.wait_state("ok", TaskState::TaskRunning, LONG).await;
    let finished = master.wait_state("ok", TaskState::TaskFinished, LONG).await;
    assert_eq!(
        finished.message.as_deref(),
        Some("Command exited with status 0")
    );
    assert_eq!(
        finished.source,
        Some(v1::task_status::Source::Executor as i32)
    );
    let stdout = std::fs::read_to_string(agent.sandbox("ok").unwrap().join("stdout")).unwrap();
    assert!(stdout.contains("hello-drover"), "stdout: {stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_command_is_failed_with_status() {
    // A non-zero exit is TASK_FAILED with "Command exited with status N".
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    master
        .run_task(
            &framework("fw", false, false),
            shell_task("bad", "exit 3", 64.0),
        )
        .await;
    let failed = master.wait_state("bad", TaskState::TaskFailed, LONG).await;
    assert_eq!(
        failed.message.as_deref(),
        Some("Command exited with status 3")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_waits_for_the_grace_period_then_sigkills() {
    // A task ignoring SIGTERM is SIGKILLed after the kill policy's grace; TASK_KILLING first
    // because the framework has TASK_KILLING_STATE.
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let task = shell_task(
        "stubborn",
        "trap '' TERM; while true; do sleep 0.1; done",
        64.0,
    );
    master.run_task(&framework("fw", false, true), task).await;
    master
        .wait_state("stubborn", TaskState::TaskRunning, LONG)
        .await;
    let started = Instant::now();
    master
        .kill_task("fw", "stubborn", Some(Duration::from_millis(1500)))
        .await;
    master
        .wait_state("stubborn", TaskState::TaskKilling, LONG)
        .await;
    master
        .wait_state("stubborn", TaskState::TaskKilled, LONG)
        .await;
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "killed before the grace ran out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_before_the_executor_subscribed_is_killed_during_launch() {
    // A custom executor that never subscribes: a kill finds the task undelivered.
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let mut task = shell_task("early", "", 64.0);
    task.command = None;
    task.executor = Some(v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: "silent".into(),
        },
        command: Some(v1::CommandInfo {
            value: Some("sleep 600".into()),
            ..Default::default()
        }),
        resources: vec![scalar("cpus", 0.1), scalar("mem", 32.0)],
        ..Default::default()
    });
    master.run_task(&framework("fw", false, false), task).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    master.kill_task("fw", "early", None).await;
    let killed = master
        .wait_state("early", TaskState::TaskKilled, LONG)
        .await;
    assert_eq!(
        reason(&killed),
        Some(v1::task_status::Reason::TaskKilledDuringLaunch)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_that_never_subscribes_times_out() {
    // --executor_registration_timeout → TASK_FAILED / REASON_EXECUTOR_REGISTRATION_TIMEOUT.
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(&master, &["--executor_registration_timeout=1secs"]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let mut task = shell_task("lonely", "", 64.0);
    task.command = None;
    task.executor = Some(v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: "mute".into(),
        },
        command: Some(v1::CommandInfo {
            value: Some("sleep 600".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    master.run_task(&framework("fw", false, false), task).await;
    let failed = master
        .wait_state("lonely", TaskState::TaskFailed, LONG)
        .await;
    assert_eq!(
        reason(&failed),
        Some(v1::task_status::Reason::ExecutorRegistrationTimeout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_executor_is_executor_terminated() {
    // SIGKILL of the command executor with its task alive → REASON_EXECUTOR_TERMINATED.
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    master
        .run_task(
            &framework("fw", false, false),
            shell_task("orphaned", "sleep 600", 64.0),
        )
        .await;
    master
        .wait_state("orphaned", TaskState::TaskRunning, LONG)
        .await;
    let executors: Vec<i32> =
        pids_with_env(&format!("MESOS_DIRECTORY={}", agent.work_dir.display()))
            .into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.contains("executor"))
            })
            .collect();
    assert!(!executors.is_empty(), "executor process not found");
    for pid in executors {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let failed = master
        .wait_state("orphaned", TaskState::TaskFailed, LONG)
        .await;
    assert_eq!(
        reason(&failed),
        Some(v1::task_status::Reason::ExecutorTerminated)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_hog_is_container_limitation_memory() {
    // A task allocating past its `mem` is OOM-killed in its memory cgroup (root only).
    if !is_root() {
        eprintln!("skipped: needs root for cgroups");
        return;
    }
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let task = shell_task("hog", "dd if=/dev/zero of=/dev/null bs=400M count=1", 32.0);
    master.run_task(&framework("fw", false, false), task).await;
    let failed = master.wait_state("hog", TaskState::TaskFailed, LONG).await;
    assert_eq!(
        reason(&failed),
        Some(v1::task_status::Reason::ContainerLimitationMemory),
        "{failed:#?}"
    );
    assert!(failed.message.unwrap().contains("Memory limit exceeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_hog_is_container_limitation_disk() {
    // A sandbox outgrowing its disk quota is killed when quotas are enforced.
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(
        &master,
        &[
            "--enforce_container_disk_quota=true",
            "--container_disk_watch_interval=200ms",
        ],
    );
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let mut task = shell_task(
        "filler",
        "dd if=/dev/zero of=big bs=1M count=20; sleep 600",
        64.0,
    );
    task.resources = vec![
        scalar("cpus", 0.1),
        scalar("mem", 64.0),
        scalar("disk", 4.0),
    ];
    master.run_task(&framework("fw", false, false), task).await;
    let failed = master
        .wait_state("filler", TaskState::TaskFailed, LONG)
        .await;
    assert_eq!(
        reason(&failed),
        Some(v1::task_status::Reason::ContainerLimitationDisk),
        "{failed:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_restart_keeps_tasks_and_delivers_their_updates() {
    // SIGKILL the agent under a running task of a checkpointing framework; the restarted
    // agent re-attaches, the executor resubscribes, and the task's FINISHED arrives.
    let master = FakeMaster::start(true).await;
    let mut agent = AgentProcess::start(&master, &["--executor_reregistration_timeout=10secs"]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let task = shell_task(
        "survivor",
        "while [ ! -f go ]; do sleep 0.1; done; echo done",
        64.0,
    );
    master.run_task(&framework("fw", true, false), task).await;
    master
        .wait_state("survivor", TaskState::TaskRunning, LONG)
        .await;
    agent.sigkill();
    let sandbox = agent.sandbox("survivor").unwrap();
    agent.spawn(&[]);
    master
        .wait_for("reregistration", LONG, |m| m.registrations().len() >= 2)
        .await;
    let rereg = master.registrations().last().unwrap().clone();
    assert!(
        rereg.reregister.is_some(),
        "the restarted agent reregisters"
    );
    assert_eq!(rereg.reregister.unwrap().tasks.len(), 1);
    std::fs::write(sandbox.join("go"), b"").unwrap();
    let finished = master
        .wait_state("survivor", TaskState::TaskFinished, LONG)
        .await;
    assert_eq!(
        finished.message.as_deref(),
        Some("Command exited with status 0")
    );
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap();
    assert_eq!(stdout.matches("done").count(), 1, "the task ran once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_adopts_nothing_and_reports_tasks_gone() {
    // A restart with a new boot id re-adopts nothing; the old task is reported lost.
    let master = FakeMaster::start(true).await;
    let mut agent = AgentProcess::start(&master, &["--boot_id=boot-a"]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    master
        .run_task(
            &framework("fw", true, false),
            shell_task("old", "sleep 600", 64.0),
        )
        .await;
    master.wait_state("old", TaskState::TaskRunning, LONG).await;
    agent.sigkill();
    // What a reboot would have done to the processes.
    kill_executors_of(&agent.work_dir);
    agent.extra.retain(|f| !f.starts_with("--boot_id"));
    agent.spawn(&["--boot_id=boot-b"]);
    let lost = master.wait_state("old", TaskState::TaskLost, LONG).await;
    assert_eq!(
        reason(&lost),
        Some(v1::task_status::Reason::ExecutorReregistrationTimeout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_updates_are_retried_until_acknowledged() {
    // Without acknowledgements only the first update is sent; the stream waits.
    let master = FakeMaster::start(false).await;
    let _agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    master
        .run_task(
            &framework("fw", false, false),
            shell_task("quick", "true", 64.0),
        )
        .await;
    master
        .wait_state("quick", TaskState::TaskStarting, LONG)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let states: Vec<i32> = master.updates().iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        vec![TaskState::TaskStarting as i32],
        "one update in flight"
    );
}
