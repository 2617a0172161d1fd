//! Task groups end to end (issue 16): the built `drover agent` starts `drover executor
//! --default` for a LAUNCH_GROUP, which runs every task in its own sandbox under the one
//! executor, shares the group's sandbox volumes, kills the rest of a group when one task
//! fails, and reports each task with its executor id. An invalid group is refused per task.

mod support;

use std::time::Duration;

use drover_wire::v1::TaskState;
use drover_wire::{internal, v1};
use support::*;

fn group_executor(id: &str) -> v1::ExecutorInfo {
    v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId { value: id.into() },
        resources: vec![scalar("cpus", 0.1), scalar("mem", 32.0)],
        ..Default::default()
    }
}

async fn launch_group(
    master: &FakeMaster,
    framework: &v1::FrameworkInfo,
    executor: v1::ExecutorInfo,
    tasks: Vec<v1::TaskInfo>,
) {
    master
        .send(internal::AgentEvent {
            r#type: Some(internal::agent_event::Type::RunTask as i32),
            run_task: Some(internal::agent_event::RunTask {
                framework_info: framework.clone(),
                task: None,
                executor: Some(executor),
                task_group: Some(v1::TaskGroupInfo { tasks }),
            }),
            ..Default::default()
        })
        .await;
}

fn sandbox_volume(container_path: &str, path: &str) -> Box<v1::ContainerInfo> {
    Box::new(v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        volumes: vec![v1::Volume {
            mode: v1::volume::Mode::Rw as i32,
            container_path: container_path.into(),
            source: Some(v1::volume::Source {
                r#type: Some(v1::volume::source::Type::SandboxPath as i32),
                sandbox_path: Some(v1::volume::source::SandboxPath {
                    r#type: Some(v1::volume::source::sandbox_path::Type::Parent as i32),
                    path: path.into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_runs_under_one_default_executor_and_a_failure_kills_the_rest() {
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    // `writer` writes into the shared volume and its own sandbox, then fails once `reader`
    // has seen the file through its own mount of the same volume; `sleeper` would run for
    // ever and is killed with the group.
    let mut writer = shell_task(
        "writer",
        "echo from-writer > shared/note && echo \"sandbox=$MESOS_SANDBOX\" && \
         while [ ! -e shared/seen ]; do sleep 0.05; done; exit 7",
        32.0,
    );
    writer.container = Some(sandbox_volume("shared", "volumes/data"));
    let mut reader = shell_task(
        "reader",
        "while [ ! -e data/note ]; do sleep 0.05; done; cat data/note; touch data/seen; \
         exec sleep 600",
        32.0,
    );
    reader.container = Some(sandbox_volume("data", "volumes/data"));
    let sleeper = shell_task("sleeper", "exec sleep 600", 32.0);
    launch_group(
        &master,
        &framework("fw", false, false),
        group_executor("pod-1"),
        vec![writer, reader, sleeper],
    )
    .await;

    let failed = master
        .wait_state("writer", TaskState::TaskFailed, LONG)
        .await;
    assert_eq!(
        failed.message.as_deref(),
        Some("Command exited with status 7")
    );
    for id in ["reader", "sleeper"] {
        let killed = master.wait_state(id, TaskState::TaskKilled, LONG).await;
        let message = killed.message.unwrap_or_default();
        assert!(
            message.contains("killed with its group: task 'writer' failed"),
            "{id}: {message}"
        );
    }
    // Every update of the group came from the one executor and names it.
    for update in master.updates() {
        assert_eq!(
            update.executor_id.as_ref().map(|e| e.value.as_str()),
            Some("pod-1"),
            "{update:?}"
        );
    }
    for id in ["writer", "reader", "sleeper"] {
        master.wait_state(id, TaskState::TaskRunning, LONG).await;
    }

    // Mesos' layout: each task in `tasks/<id>` of the executor's sandbox, the volume in the
    // executor's sandbox, shared.
    let sandbox = agent.sandbox("pod-1").expect("the executor's sandbox");
    let writer_out =
        std::fs::read_to_string(sandbox.join("tasks/writer/stdout")).expect("writer's stdout");
    assert!(
        writer_out.contains(&format!(
            "sandbox={}",
            sandbox.join("tasks/writer").display()
        )),
        "{writer_out}"
    );
    let reader_out =
        std::fs::read_to_string(sandbox.join("tasks/reader/stdout")).expect("reader's stdout");
    assert!(reader_out.contains("from-writer"), "{reader_out}");
    assert_eq!(
        std::fs::read_to_string(sandbox.join("volumes/data/note")).unwrap(),
        "from-writer\n"
    );
    // The executor ends once its tasks are over and acknowledged.
    master
        .wait_for("the executor to exit", LONG, |_| {
            pids_with_env("MESOS_EXECUTOR_ID=pod-1").is_empty()
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_finishes_ends_its_executor_and_a_kill_reaches_one_task() {
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    launch_group(
        &master,
        &framework("fw", false, true),
        group_executor("pod-2"),
        vec![
            shell_task("quick", "true", 32.0),
            shell_task("long", "exec sleep 600", 32.0),
        ],
    )
    .await;
    let finished = master
        .wait_state("quick", TaskState::TaskFinished, LONG)
        .await;
    assert_eq!(
        finished.message.as_deref(),
        Some("Command exited with status 0")
    );
    // A task that finished does not end its group: `long` runs on until it is killed, and
    // then by its own kill, not its group's.
    master
        .wait_state("long", TaskState::TaskRunning, LONG)
        .await;
    master
        .kill_task("fw", "long", Some(Duration::from_secs(1)))
        .await;
    master
        .wait_state("long", TaskState::TaskKilling, LONG)
        .await;
    let killed = master.wait_state("long", TaskState::TaskKilled, LONG).await;
    assert!(
        !killed
            .message
            .as_deref()
            .is_some_and(|m| m.contains("with its group")),
        "{killed:?}"
    );
    master
        .wait_for("the executor to exit", LONG, |_| {
            pids_with_env("MESOS_EXECUTOR_ID=pod-2").is_empty()
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_group_is_task_group_invalid_for_every_task() {
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let mut a = shell_task("ga", "true", 32.0);
    let mut b = shell_task("gb", "true", 32.0);
    a.command.as_mut().unwrap().user = Some("root".into());
    b.command.as_mut().unwrap().user = Some("nobody".into());
    launch_group(
        &master,
        &framework("fw", false, false),
        group_executor("pod-3"),
        vec![a, b],
    )
    .await;
    for id in ["ga", "gb"] {
        let error = master.wait_state(id, TaskState::TaskError, LONG).await;
        assert_eq!(
            error.reason,
            Some(v1::task_status::Reason::TaskGroupInvalid as i32)
        );
        assert_eq!(error.source, Some(v1::task_status::Source::Agent as i32));
        assert!(
            error
                .message
                .as_deref()
                .is_some_and(|m| m.contains("nobody, root")),
            "{error:?}"
        );
    }
    assert!(pids_with_env("MESOS_EXECUTOR_ID=pod-3").is_empty());
}

/// The agent's own `--acls` (`run_tasks`), stricter than the master's: a task whose
/// framework's principal may not run it as its user is TASK_ERROR /
/// REASON_TASK_UNAUTHORIZED from the agent, and every task of such a group
/// REASON_TASK_GROUP_UNAUTHORIZED; nothing is launched. Another user still runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_run_tasks_acls_refuse_tasks_and_groups() {
    let master = FakeMaster::start(true).await;
    let acls = r#"{"run_tasks": [{"principals": {"values": ["ci"]}, "users": {"values": ["root"]}}], "permissive": false}"#;
    let _agent = AgentProcess::start(&master, &[&format!("--acls={acls}")]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let mut fw = framework("fw", false, false);
    fw.principal = Some("ops".into());
    master
        .run_task(&fw, shell_task("single", "exec sleep 600", 32.0))
        .await;
    let error = master
        .wait_state("single", TaskState::TaskError, LONG)
        .await;
    assert_eq!(
        error.reason,
        Some(v1::task_status::Reason::TaskUnauthorized as i32)
    );
    assert_eq!(error.source, Some(v1::task_status::Source::Agent as i32));
    assert!(
        error
            .message
            .as_deref()
            .is_some_and(|m| m.contains("Principal 'ops'") && m.contains("user 'root'")),
        "{error:?}"
    );
    launch_group(
        &master,
        &fw,
        group_executor("pod-4"),
        vec![
            shell_task("m1", "exec sleep 600", 32.0),
            shell_task("m2", "exec sleep 600", 32.0),
        ],
    )
    .await;
    for id in ["m1", "m2"] {
        let error = master.wait_state(id, TaskState::TaskError, LONG).await;
        assert_eq!(
            error.reason,
            Some(v1::task_status::Reason::TaskGroupUnauthorized as i32),
            "{error:?}"
        );
        assert_eq!(error.source, Some(v1::task_status::Source::Agent as i32));
    }
    assert!(pids_with_env("MESOS_EXECUTOR_ID=pod-4").is_empty());
    // The principal the ACLs allow runs as root.
    let mut ci = framework("fw-ci", false, false);
    ci.principal = Some("ci".into());
    master
        .run_task(&ci, shell_task("allowed", "true", 32.0))
        .await;
    master
        .wait_state("allowed", TaskState::TaskFinished, LONG)
        .await;
}
