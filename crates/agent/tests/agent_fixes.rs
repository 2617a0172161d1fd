//! Issue 12's agent items against the built `drover agent` and a scripted master: statuses
//! carry Unix time, container settings the agent cannot honour are refused by name, and a
//! task's namespace init does not pass for the agent in `ps`.

use crate::support;

use std::time::{SystemTime, UNIX_EPOCH};

use drover_wire::v1;
use drover_wire::v1::TaskState;
use support::*;

fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_are_stamped_with_unix_time() {
    // Both the executor's updates and the agent's own (a refusal) carry wall-clock seconds
    // since the epoch, not seconds since the agent started.
    let before = epoch_seconds();
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let fw = framework("fw", false, false);
    master.run_task(&fw, shell_task("ok", "true", 64.0)).await;
    master.run_task(&fw, shell_task("huge", "true", 1e6)).await;
    master.wait_state("ok", TaskState::TaskFinished, LONG).await;
    // Refused by the agent itself (more than it has): TASK_LOST for this framework.
    master.wait_state("huge", TaskState::TaskLost, LONG).await;
    let after = epoch_seconds();
    let updates = master.updates();
    assert!(updates.len() >= 4, "updates: {updates:?}");
    for status in updates {
        let stamp = status.timestamp.expect("every status is stamped");
        assert!(
            stamp >= before - 1.0 && stamp <= after + 1.0,
            "{} {:?} stamped {stamp}, not Unix time in [{before}, {after}]",
            status.task_id.value,
            TaskState::try_from(status.state)
        );
    }
}

fn with_container(id: &str, container: v1::ContainerInfo) -> v1::TaskInfo {
    let mut task = shell_task(id, "touch ran-on-the-host; sleep 60", 64.0);
    task.container = Some(Box::new(container));
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_settings_the_agent_cannot_honour_are_refused_by_name() {
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let fw = framework("fw", false, false);
    let image = v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        mesos: Some(v1::container_info::MesosInfo {
            image: Some(v1::Image {
                r#type: v1::image::Type::Docker as i32,
                docker: Some(v1::image::Docker {
                    name: "alpine:3".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    };
    let docker = v1::ContainerInfo {
        r#type: v1::container_info::Type::Docker as i32,
        docker: Some(v1::container_info::DockerInfo {
            image: "alpine:3".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let volumes = v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        volumes: vec![v1::Volume {
            container_path: "/data".into(),
            host_path: Some("/tmp".into()),
            mode: v1::volume::Mode::Rw as i32,
            ..Default::default()
        }],
        ..Default::default()
    };
    let plain = v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        ..Default::default()
    };
    for (id, container, field) in [
        ("image", image, "container.mesos.image"),
        ("docker", docker, "container.docker"),
        ("volumes", volumes, "container.volumes"),
    ] {
        master.run_task(&fw, with_container(id, container)).await;
        let failed = master.wait_state(id, TaskState::TaskFailed, LONG).await;
        assert_eq!(
            failed.reason,
            Some(v1::task_status::Reason::ContainerLaunchFailed as i32),
            "{id}: {failed:?}"
        );
        assert_eq!(
            failed.source,
            Some(v1::task_status::Source::Agent as i32),
            "{id}"
        );
        let message = failed.message.unwrap_or_default();
        assert!(message.contains(field), "{id}: message {message:?}");
    }
    // A plain MESOS container is what the agent gives every task: it runs.
    master.run_task(&fw, with_container("plain", plain)).await;
    master
        .wait_state("plain", TaskState::TaskRunning, LONG)
        .await;
    // Nothing of the refused tasks ran: no sandbox, no RUNNING.
    for id in ["image", "docker", "volumes"] {
        assert!(agent.sandbox(id).is_none(), "{id} got a sandbox");
        assert!(
            !master
                .updates()
                .iter()
                .any(|s| s.task_id.value == id && s.state == TaskState::TaskRunning as i32),
            "{id} ran"
        );
    }
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            String::from_utf8_lossy(&raw)
                .replace('\0', " ")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

fn pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tasks_namespace_init_has_its_own_name() {
    // `pgrep -f 'drover agent …'` must find the daemon only, not one more per running task.
    assert!(is_root(), "pid namespaces need root (CI runs as root)");
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &["--isolation=namespaces/pid"]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let fw = framework("fw", false, false);
    master
        .run_task(&fw, shell_task("sleeper", "sleep 600", 64.0))
        .await;
    master
        .wait_state("sleeper", TaskState::TaskRunning, LONG)
        .await;
    let daemon = agent.child.as_ref().unwrap().id() as i32;
    let agent_line = cmdline(daemon);
    assert!(agent_line.contains(" agent "), "{agent_line}");
    let lookalikes: Vec<(i32, String)> = pids()
        .into_iter()
        .map(|pid| (pid, cmdline(pid)))
        .filter(|(pid, line)| *pid != daemon && *line == agent_line)
        .collect();
    assert!(
        lookalikes.is_empty(),
        "processes with the agent's command line: {lookalikes:?}"
    );
    // The init names the container it runs, and `comm` says what it is.
    let sandbox = agent.sandbox("sleeper").expect("sandbox");
    let container_id = sandbox.file_name().unwrap().to_string_lossy().into_owned();
    let inits: Vec<i32> = pids()
        .into_iter()
        .filter(|pid| cmdline(*pid) == format!("drover-init {container_id}"))
        .collect();
    assert_eq!(inits.len(), 1, "inits of {container_id}: {inits:?}");
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", inits[0])).unwrap();
    assert_eq!(comm.trim(), "drover-init");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_marked_gone_stops_its_tasks_and_exits() {
    // The master's SHUTDOWN says the agent's id is gone for good: Mesos' agent kills its
    // executors and exits rather than registering again forever.
    let master = FakeMaster::start(true).await;
    let mut agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let fw = framework("fw", true, false);
    master
        .run_task(&fw, shell_task("doomed", "sleep 600", 64.0))
        .await;
    master
        .wait_state("doomed", TaskState::TaskRunning, LONG)
        .await;
    let needle = format!("MESOS_DIRECTORY={}", agent.work_dir.display());
    assert!(!pids_with_env(&needle).is_empty(), "the executor runs");
    master
        .send(drover_wire::internal::AgentEvent {
            r#type: Some(drover_wire::internal::agent_event::Type::Shutdown as i32),
            shutdown: Some(drover_wire::internal::agent_event::Shutdown {
                message: Some("Agent has been marked gone".into()),
            }),
            ..Default::default()
        })
        .await;
    let child = agent.child.as_mut().unwrap();
    let deadline = std::time::Instant::now() + LONG;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent still runs after SHUTDOWN"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        !status.success(),
        "a shut-down agent exits non-zero: {status}"
    );
    let registrations = master.registrations().len();
    assert_eq!(registrations, 1, "it registered again");
    // Its executor and task are gone with it.
    let deadline = std::time::Instant::now() + LONG;
    while !pids_with_env(&needle).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "processes of the agent's containers outlive it: {:?}",
            pids_with_env(&needle)
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_leaves_another_agents_containers_alone() {
    // Two agents on one machine with the same --cgroups_root: the second one's recovery must
    // not take the first one's containers for its own orphans and destroy them.
    assert!(is_root(), "cgroups need root (CI runs as root)");
    let master_a = FakeMaster::start(true).await;
    let a = AgentProcess::start(&master_a, &[]);
    master_a
        .wait_for("registration of A", LONG, |m| m.has_session())
        .await;
    master_a
        .run_task(
            &framework("fw", false, false),
            shell_task("kept", "sleep 600", 64.0),
        )
        .await;
    master_a
        .wait_state("kept", TaskState::TaskRunning, LONG)
        .await;
    let container = a
        .sandbox("kept")
        .expect("sandbox")
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let cgroup = ["memory", "unified", ""]
        .iter()
        .map(|c| {
            std::path::Path::new("/sys/fs/cgroup")
                .join(c)
                .join(&a.cgroups_root)
                .join(&container)
        })
        .find(|p| p.exists())
        .expect("the task's cgroup");

    // B starts once on its own root, then again on A's: that start's recovery scans A's root.
    let master_b = FakeMaster::start(true).await;
    let mut b = AgentProcess::start(&master_b, &[]);
    master_b
        .wait_for("registration of B", LONG, |m| m.has_session())
        .await;
    b.sigkill();
    let own_root = std::mem::replace(&mut b.cgroups_root, a.cgroups_root.clone());
    b.spawn(&[]);
    // Orphans are destroyed during recovery, before the agent registers again.
    master_b
        .wait_for("B to register again", LONG, |m| {
            m.registrations().len() >= 2
        })
        .await;
    assert!(cgroup.exists(), "B destroyed A's container {container}");
    let needle = format!("MESOS_DIRECTORY={}", a.work_dir.display());
    assert!(!pids_with_env(&needle).is_empty(), "A's task was killed");
    assert!(
        !master_a.updates().iter().any(|s| s.task_id.value == "kept"
            && s.state != TaskState::TaskRunning as i32
            && s.state != TaskState::TaskStarting as i32),
        "A's task ended: {:?}",
        master_a.updates()
    );
    // B's drop must not sweep A's root either.
    b.sigkill();
    b.cgroups_root = own_root;
}
