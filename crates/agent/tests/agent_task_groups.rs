//! Task groups end to end (issue 16): the built `drover agent` starts `drover executor
//! --default` for a LAUNCH_GROUP, which runs every task in its own sandbox under the one
//! executor, shares the group's sandbox volumes, kills the rest of a group when one task
//! fails, and reports each task with its executor id. An invalid group is refused per task.

use crate::support;

use std::time::Duration;

use drover_wire::v1;
use drover_wire::v1::TaskState;
use support::*;

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

/// The memory cgroup a task wrote (`cat /proc/self/cgroup > cgroups`) into its sandbox.
fn task_memory_cgroup(sandbox: &std::path::Path, task: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(sandbox.join("tasks").join(task).join("cgroups"))
        .expect("the task's /proc/self/cgroup");
    let path = text
        .lines()
        .find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == "memory")
                .then(|| path.to_owned())
        })
        .expect("a memory cgroup line");
    std::path::Path::new("/sys/fs/cgroup/memory").join(path.trim_start_matches('/'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_task_is_a_nested_container_with_its_own_limits_and_outlives_an_agent_restart() {
    assert!(is_root(), "nested cgroups need root (CI runs as root)");
    let master = FakeMaster::start(true).await;
    let mut agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let record = "cat /proc/self/cgroup > cgroups";
    launch_group(
        &master,
        &framework("fw", true, false),
        group_executor("pod-n"),
        vec![
            shell_task("small", &format!("{record}; exec sleep 600"), 40.0),
            shell_task(
                "large",
                &format!("{record}; while [ ! -e release ]; do sleep 0.05; done; exit 0"),
                56.0,
            ),
        ],
    )
    .await;
    for id in ["small", "large"] {
        master.wait_state(id, TaskState::TaskRunning, LONG).await;
    }
    let sandbox = agent.sandbox("pod-n").expect("the executor's sandbox");
    master
        .wait_for("both tasks to record their cgroups", LONG, |_| {
            ["small", "large"]
                .iter()
                .all(|t| sandbox.join("tasks").join(t).join("cgroups").exists())
        })
        .await;
    // Each task in its own child cgroup of the executor's, limited to its own memory.
    let small = task_memory_cgroup(&sandbox, "small");
    let large = task_memory_cgroup(&sandbox, "large");
    assert_ne!(small, large);
    assert_eq!(
        small.parent(),
        large.parent(),
        "siblings under the executor's"
    );
    assert!(
        small
            .parent()
            .and_then(|p| p.parent())
            .is_some_and(|root| root.ends_with(&agent.cgroups_root)),
        "{small:?} is not nested in an executor's cgroup under {}",
        agent.cgroups_root
    );
    let limit = |dir: &std::path::Path| {
        std::fs::read_to_string(dir.join("memory.limit_in_bytes"))
            .expect("memory.limit_in_bytes")
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(limit(&small), 40 << 20);
    assert_eq!(limit(&large), 56 << 20);
    // The task's container sandbox (Mesos' `containers/<id>`) is its `tasks/<id>`.
    let linked: Vec<_> = std::fs::read_dir(sandbox.join("containers"))
        .expect("containers/")
        .flatten()
        .filter_map(|e| std::fs::canonicalize(e.path()).ok())
        .collect();
    assert!(
        linked.contains(&std::fs::canonicalize(sandbox.join("tasks/small")).unwrap()),
        "{linked:?}"
    );

    // The agent dies and comes back: both tasks ran on, and are still the executor's to end.
    let before = master.registrations().len();
    agent.sigkill();
    agent.spawn(&[]);
    master
        .wait_for("re-registration", LONG, |m| {
            m.registrations().len() > before && m.has_session()
        })
        .await;
    std::fs::write(sandbox.join("tasks/large/release"), "").unwrap();
    let finished = master
        .wait_state("large", TaskState::TaskFinished, LONG)
        .await;
    assert_eq!(
        finished.message.as_deref(),
        Some("Command exited with status 0")
    );
    master
        .kill_task("fw", "small", Some(Duration::from_secs(1)))
        .await;
    let killed = master
        .wait_state("small", TaskState::TaskKilled, LONG)
        .await;
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
    assert!(
        !master
            .updates()
            .iter()
            .any(|u| u.state() == TaskState::TaskFailed || u.state() == TaskState::TaskLost),
        "{:?}",
        master.updates()
    );
    // Ended containers are removed, their cgroups with them.
    master
        .wait_for("the tasks' cgroups to go", LONG, |_| {
            !small.exists() && !large.exists()
        })
        .await;
}

/// A group task's SECRET variable is resolved into that task's own nested container only:
/// its sibling and the executor never see it, and no file of the agent keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_tasks_secret_reaches_only_that_task() {
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("db-password"), "hunter2").unwrap();
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(
        &master,
        &[&format!("--secrets_dir={}", secrets.path().display())],
    );
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let print = "echo \"pw=${PW:-none}\"; exec sleep 600";
    let mut holder = shell_task("holder", print, 32.0);
    holder.command.as_mut().unwrap().environment = Some(v1::Environment {
        variables: vec![v1::environment::Variable {
            name: "PW".into(),
            r#type: Some(v1::environment::variable::Type::Secret as i32),
            value: None,
            secret: Some(v1::Secret {
                r#type: Some(v1::secret::Type::Reference as i32),
                reference: Some(v1::secret::Reference {
                    name: "db-password".into(),
                    key: None,
                }),
                value: None,
            }),
        }],
    });
    let sibling = shell_task("sibling", print, 32.0);
    launch_group(
        &master,
        &framework("fw", false, false),
        group_executor("pod-s"),
        vec![holder, sibling],
    )
    .await;
    for id in ["holder", "sibling"] {
        master.wait_state(id, TaskState::TaskRunning, LONG).await;
    }
    let sandbox = agent.sandbox("pod-s").expect("the executor's sandbox");
    let stdout = |task: &str| {
        std::fs::read_to_string(sandbox.join("tasks").join(task).join("stdout")).unwrap_or_default()
    };
    master
        .wait_for("both tasks' output", LONG, |_| {
            stdout("holder").contains("pw=") && stdout("sibling").contains("pw=")
        })
        .await;
    assert_eq!(stdout("holder").trim(), "pw=hunter2");
    assert_eq!(stdout("sibling").trim(), "pw=none");
    // The executor's own environment does not hold it.
    for pid in pids_with_env("MESOS_EXECUTOR_ID=pod-s") {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("executor") {
            assert!(
                !String::from_utf8_lossy(&environ).contains("hunter2"),
                "the executor holds the secret"
            );
        }
    }
    // Nothing under the agent's work dir but the task's own output holds it.
    let mut holders = Vec::new();
    let mut stack = vec![agent.work_dir.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && std::fs::read(&path).is_ok_and(|b| b.windows(7).any(|w| w == b"hunter2"))
            {
                holders.push(path);
            }
        }
    }
    assert_eq!(
        holders,
        vec![sandbox.join("tasks/holder/stdout")],
        "files holding the secret"
    );
}
