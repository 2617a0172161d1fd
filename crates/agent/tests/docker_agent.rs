//! DOCKER tasks end to end: a real `drover agent --containerizers=mesos,docker` against a
//! scripted master and a private dockerd (one for the suite, with a bridge of the test's own so
//! BRIDGE networking and port mappings work; no iptables changes). HOST and BRIDGE networking
//! serving HTTP, a volume, the environment, exit codes, OOM, a missing image, kill with grace,
//! agent SIGKILL + restart re-attaching, and an orphan container removed. Needs root (as CI
//! runs); says so loudly otherwise. Refusals that need no daemon are a second test.

use crate::support;

use crate::dockerd;

use std::io::{Read as _, Write as _};
use std::process::Command;
use std::time::{Duration, Instant};

use dockerd::{Daemon, IMAGE};
use drover_wire::v1;
use drover_wire::v1::TaskState;
use support::*;
use v1::container_info::docker_info::{Network, PortMapping};

fn reason(status: &v1::TaskStatus) -> Option<v1::task_status::Reason> {
    status
        .reason
        .and_then(|r| v1::task_status::Reason::try_from(r).ok())
}

fn docker_task(id: &str, command: &str, mem_mb: f64, network: Network) -> v1::TaskInfo {
    let mut task = shell_task(id, command, mem_mb);
    task.container = Some(Box::new(v1::ContainerInfo {
        r#type: v1::container_info::Type::Docker as i32,
        docker: Some(v1::container_info::DockerInfo {
            image: IMAGE.into(),
            network: Some(network as i32),
            ..Default::default()
        }),
        ..Default::default()
    }));
    task
}

fn with_env(mut task: v1::TaskInfo, name: &str, value: &str) -> v1::TaskInfo {
    let command = task.command.as_mut().unwrap();
    command
        .environment
        .get_or_insert_with(Default::default)
        .variables
        .push(v1::environment::Variable {
            name: name.into(),
            value: Some(value.into()),
            ..Default::default()
        });
    task
}

/// GET `path` from 127.0.0.1:`port`, retried until it answers 200 or `within` passes.
fn http_get(port: u16, path: &str, within: Duration, sandbox: &std::path::Path) -> String {
    let deadline = Instant::now() + within;
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            write!(
                stream,
                "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )?;
            let mut body = String::new();
            stream.read_to_string(&mut body)?;
            Ok(body)
        })();
        match attempt {
            Ok(body) if body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200") => {
                return body;
            }
            other => assert!(
                Instant::now() < deadline,
                "GET 127.0.0.1:{port}{path} did not answer 200 within {within:?}: {other:?}; \
                 stdout: {:?}, stderr: {:?}",
                std::fs::read_to_string(sandbox.join("stdout")),
                std::fs::read_to_string(sandbox.join("stderr")),
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_until(what: &str, within: Duration, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A bridge of the suite's own for dockerd's default network (removed on drop), on an
/// address range no one else here uses.
struct Bridge(String);

impl Bridge {
    fn create() -> Bridge {
        let name = format!("drv{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().expect("ip");
            assert!(out.status.success(), "ip {args:?}: {out:?}");
        };
        ip(&["link", "add", &name, "type", "bridge"]);
        let bridge = Bridge(name.clone());
        ip(&["addr", "add", "198.18.77.1/24", "dev", &name]);
        ip(&["link", "set", &name, "up"]);
        bridge
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

fn inspect(daemon: &Daemon, name: &str, format: &str) -> Option<String> {
    let out = daemon.cli(&["inspect", "--format", format, name]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_tasks_run_end_to_end_under_a_real_agent() {
    if !is_root() {
        eprintln!(
            "\n\n*** SKIPPED: the Docker agent suite needs root to run dockerd and a bridge ***\n\n"
        );
        return;
    }
    let bridge = Bridge::create();
    let daemon = Daemon::start_with(&[&format!("--bridge={}", bridge.0)]);
    daemon.import_busybox();
    let socket = format!("--docker_socket={}", daemon.socket().display());
    let master = FakeMaster::start(true).await;
    let mut agent = AgentProcess::start(
        &master,
        &[
            "--containerizers=mesos,docker",
            &socket,
            "--docker_remove_delay=1hrs",
        ],
    );
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let plain = framework("fw", false, false);

    // HOST network: busybox httpd serves a file from the sandbox (mounted at
    // /mnt/mesos/sandbox); the task's environment reaches the container.
    let host_port = free_port();
    let web = with_env(
        docker_task(
            "web",
            "env > $MESOS_SANDBOX/env; echo hello-docker > $MESOS_SANDBOX/index.html; \
             echo serving; exec httpd -f -p $PORT0 -h $MESOS_SANDBOX",
            64.0,
            Network::Host,
        ),
        "PORT0",
        &host_port.to_string(),
    );
    master.run_task(&plain, web).await;
    let starting = master
        .wait_state("web", TaskState::TaskStarting, LONG)
        .await;
    assert_eq!(
        starting.source,
        Some(v1::task_status::Source::Executor as i32)
    );
    master.wait_state("web", TaskState::TaskRunning, LONG).await;
    let sandbox = agent.sandbox("web").expect("web sandbox");
    let body = http_get(host_port, "/index.html", LONG, &sandbox);
    assert!(body.contains("hello-docker"), "{body}");
    let env = std::fs::read_to_string(sandbox.join("env")).unwrap();
    for expected in [
        "MESOS_SANDBOX=/mnt/mesos/sandbox",
        "MESOS_FRAMEWORK_ID=fw",
        "MESOS_EXECUTOR_ID=web",
        &format!("PORT0={host_port}"),
    ] {
        assert!(env.lines().any(|l| l == expected), "{expected} in {env}");
    }
    // Named after the Mesos container id, on the host's network.
    let web_name = daemon_name_of_task(&daemon, "web");
    assert_eq!(
        inspect(&daemon, &web_name, "{{.HostConfig.NetworkMode}}").as_deref(),
        Some("host")
    );
    wait_until("the container's stdout in the sandbox", LONG, || {
        std::fs::read_to_string(sandbox.join("stdout")).is_ok_and(|s| s.contains("serving"))
    });

    // BRIDGE with a port mapping: the host port reaches the container's port 80.
    let mapped = free_port();
    let mut bridged = docker_task(
        "bridged",
        "mkdir -p /www; echo bridged-hello > /www/index.html; exec httpd -f -p 80 -h /www",
        64.0,
        Network::Bridge,
    );
    bridged
        .container
        .as_mut()
        .unwrap()
        .docker
        .as_mut()
        .unwrap()
        .port_mappings
        .push(PortMapping {
            host_port: u32::from(mapped),
            container_port: 80,
            protocol: Some("tcp".into()),
        });
    // A MESOS_HTTP health check reaches the container's own port 80 in its network namespace.
    bridged.health_check = Some(v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Http as i32),
        http: Some(v1::health_check::HttpCheckInfo {
            port: 80,
            path: Some("/index.html".into()),
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.5),
        grace_period_seconds: Some(10.0),
        ..Default::default()
    });
    master.run_task(&plain, bridged).await;
    master
        .wait_state("bridged", TaskState::TaskRunning, LONG)
        .await;
    master
        .wait_for("the bridged task reported healthy", LONG, |m| {
            m.updates()
                .iter()
                .any(|s| s.task_id.value == "bridged" && s.healthy == Some(true))
        })
        .await;
    let body = http_get(
        mapped,
        "/index.html",
        LONG,
        &agent.sandbox("bridged").unwrap(),
    );
    assert!(body.contains("bridged-hello"), "{body}");

    // A read-write volume from the host, and a non-zero exit.
    let volume = tempfile::tempdir().unwrap();
    std::fs::write(volume.path().join("data"), "from-host\n").unwrap();
    let mut writer = docker_task(
        "volume",
        "cat /data/data; echo from-container >> /data/data; exit 3",
        64.0,
        Network::None,
    );
    writer.container.as_mut().unwrap().volumes.push(v1::Volume {
        mode: v1::volume::Mode::Rw as i32,
        container_path: "/data".into(),
        host_path: Some(volume.path().display().to_string()),
        ..Default::default()
    });
    master.run_task(&plain, writer).await;
    let failed = master
        .wait_state("volume", TaskState::TaskFailed, LONG)
        .await;
    assert_eq!(
        failed.message.as_deref(),
        Some("Container exited with status 3")
    );
    assert_eq!(
        std::fs::read_to_string(volume.path().join("data")).unwrap(),
        "from-host\nfrom-container\n"
    );
    let volume_sandbox = agent.sandbox("volume").unwrap();
    wait_until("the volume task's stdout", LONG, || {
        std::fs::read_to_string(volume_sandbox.join("stdout"))
            .is_ok_and(|s| s.contains("from-host"))
    });

    // OOM: the container's memory limit is the task's; the kill is the memory limitation.
    master
        .run_task(
            &plain,
            docker_task(
                "hog",
                "x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo survived",
                40.0,
                Network::None,
            ),
        )
        .await;
    let oom = master.wait_state("hog", TaskState::TaskFailed, LONG).await;
    assert_eq!(
        reason(&oom),
        Some(v1::task_status::Reason::ContainerLimitationMemory),
        "{oom:?}"
    );
    assert_eq!(oom.source, Some(v1::task_status::Source::Agent as i32));

    // A missing image: TASK_FAILED / REASON_CONTAINER_LAUNCH_FAILED naming it.
    let mut absent = docker_task("absent", "true", 32.0, Network::Host);
    absent
        .container
        .as_mut()
        .unwrap()
        .docker
        .as_mut()
        .unwrap()
        .image = "localhost:1/nope/missing:3".into();
    master.run_task(&plain, absent).await;
    let missing = master
        .wait_state("absent", TaskState::TaskFailed, LONG)
        .await;
    assert_eq!(
        reason(&missing),
        Some(v1::task_status::Reason::ContainerLaunchFailed)
    );
    assert!(
        missing
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("localhost:1/nope/missing:3"),
        "{missing:?}"
    );

    // A COMMAND health check runs inside the container; failing it kills the task.
    let mut sick = docker_task(
        "sick",
        "touch /healthy; while true; do sleep 0.1; done",
        32.0,
        Network::None,
    );
    sick.health_check = Some(v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Command as i32),
        command: Some(v1::CommandInfo {
            value: Some("test -e /healthy && test -e /also-this".into()),
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.3),
        grace_period_seconds: Some(0.0),
        consecutive_failures: Some(2),
        ..Default::default()
    });
    master.run_task(&plain, sick).await;
    let killed = master.wait_state("sick", TaskState::TaskKilled, LONG).await;
    assert_eq!(killed.healthy, Some(false), "{killed:?}");
    // The kill's update says what the probe saw, as the command executor's does (`test`
    // exits 1 inside the container).
    assert!(
        master.updates().iter().any(|s| s.task_id.value == "sick"
            && s.state == TaskState::TaskRunning as i32
            && reason(s) == Some(v1::task_status::Reason::TaskHealthCheckStatusUpdated)
            && s.message.as_deref()
                == Some(
                    "Health check failed 2 times in a row (command exited with status 1); \
                     killing the task"
                )),
        "{:?}",
        master.updates()
    );

    // Kill with the kill policy's grace: a container ignoring SIGTERM is killed after it.
    master
        .run_task(
            &plain,
            docker_task(
                "stubborn",
                "trap '' TERM; echo up; while true; do sleep 0.1; done",
                32.0,
                Network::None,
            ),
        )
        .await;
    master
        .wait_state("stubborn", TaskState::TaskRunning, LONG)
        .await;
    let asked = Instant::now();
    master
        .kill_task("fw", "stubborn", Some(Duration::from_secs(2)))
        .await;
    master
        .wait_state("stubborn", TaskState::TaskKilled, LONG)
        .await;
    let took = asked.elapsed();
    assert!(took >= Duration::from_secs(2), "killed after {took:?}");
    // The web task too (its httpd as pid 1 ignores SIGTERM): killed within its grace.
    master
        .kill_task("fw", "web", Some(Duration::from_secs(1)))
        .await;
    master.wait_state("web", TaskState::TaskKilled, LONG).await;

    // Recovery: a checkpointing framework's task survives an agent SIGKILL; the restarted
    // agent re-attaches to it, removes an orphan of its own, and leaves another agent's alone.
    let durable = framework("durable", true, false);
    let marker = tempfile::tempdir().unwrap();
    let mut long = docker_task(
        "long",
        "trap 'echo bye; exit 0' TERM; while [ ! -e /marker/stop ]; do sleep 0.1; done; \
         echo stopping",
        32.0,
        Network::None,
    );
    long.container.as_mut().unwrap().volumes.push(v1::Volume {
        mode: v1::volume::Mode::Rw as i32,
        container_path: "/marker".into(),
        host_path: Some(marker.path().display().to_string()),
        ..Default::default()
    });
    master.run_task(&durable, long).await;
    master
        .wait_state("long", TaskState::TaskRunning, LONG)
        .await;
    let long_name = daemon_name_of_task(&daemon, "long");
    let long_id = inspect(&daemon, &long_name, "{{.Id}}").unwrap();
    agent.sigkill();
    let owner = std::fs::canonicalize(&agent.work_dir).unwrap();
    let ours = format!("drover.agent.owner={}", owner.display());
    for (name, label) in [
        ("mesos-orphan-1", ours.as_str()),
        ("mesos-foreign-1", "drover.agent.owner=/some/other/agent"),
    ] {
        let out = daemon.cli(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            name,
            "--label",
            label,
            IMAGE,
            "sleep",
            "1000",
        ]);
        assert!(out.status.success(), "{out:?}");
    }
    let before = master.updates().len();
    agent.spawn(&[]);
    wait_until("the orphan's removal", LONG, || {
        inspect(&daemon, "mesos-orphan-1", "{{.Id}}").is_none()
    });
    assert_eq!(
        inspect(&daemon, "mesos-foreign-1", "{{.State.Running}}").as_deref(),
        Some("true")
    );
    assert_eq!(
        inspect(&daemon, &long_name, "{{.Id}}").as_deref(),
        Some(long_id.as_str())
    );
    assert_eq!(
        inspect(&daemon, &long_name, "{{.State.Running}}").as_deref(),
        Some("true")
    );
    master
        .wait_for("re-registration", LONG, |m| m.has_session())
        .await;
    // The re-attached supervisor reports the container's own end.
    std::fs::write(marker.path().join("stop"), "").unwrap();
    let finished = master
        .wait_state("long", TaskState::TaskFinished, LONG)
        .await;
    assert_eq!(
        finished.message.as_deref(),
        Some("Container exited with status 0")
    );
    assert!(
        master.updates()[before..]
            .iter()
            .all(|s| s.task_id.value != "long" || s.state != TaskState::TaskLost as i32),
        "{:?}",
        master.updates()
    );
    let _ = daemon.cli(&["rm", "-f", "mesos-foreign-1"]);
    drop(agent);
}

/// The daemon's name of the container running `task` (`mesos-<container id>`).
fn daemon_name_of_task(daemon: &Daemon, task: &str) -> String {
    // Each container mounts its sandbox, whose path names the executor (the task's id).
    let out = daemon.cli(&["ps", "-a", "--format", "{{.Names}}"]);
    let names = String::from_utf8_lossy(&out.stdout).into_owned();
    let needle = format!("/executors/{task}/");
    names
        .lines()
        .find(|name| {
            name.starts_with("mesos-")
                && inspect(daemon, name, "{{range .Mounts}}{{.Source}} {{end}}")
                    .is_some_and(|sources| sources.contains(&needle))
        })
        .unwrap_or_else(|| panic!("no container of {task} among {names}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_tasks_are_refused_by_name_without_the_containerizer_or_its_daemon() {
    // Without `docker` in --containerizers: TASK_FAILED naming the flag.
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    master
        .run_task(
            &framework("fw", false, false),
            docker_task("refused", "true", 32.0, Network::Host),
        )
        .await;
    let refused = master
        .wait_state("refused", TaskState::TaskFailed, LONG)
        .await;
    assert_eq!(
        reason(&refused),
        Some(v1::task_status::Reason::ContainerLaunchFailed)
    );
    assert!(
        refused
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("--containerizers"),
        "{refused:?}"
    );

    // With it, but no daemon at the socket: the agent starts, and the task fails at once
    // naming the socket.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("no-daemon.sock");
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(
        &master,
        &[
            "--containerizers=mesos,docker",
            &format!("--docker_socket={}", socket.display()),
        ],
    );
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let asked = Instant::now();
    master
        .run_task(
            &framework("fw", false, false),
            docker_task("nodaemon", "true", 32.0, Network::Host),
        )
        .await;
    let failed = master
        .wait_state("nodaemon", TaskState::TaskFailed, LONG)
        .await;
    assert!(asked.elapsed() < Duration::from_secs(20));
    assert_eq!(
        reason(&failed),
        Some(v1::task_status::Reason::ContainerLaunchFailed)
    );
    assert!(
        failed
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("no-daemon.sock"),
        "{failed:?}"
    );
    // Command tasks still run there.
    master
        .run_task(
            &framework("fw", false, false),
            shell_task("plain", "true", 32.0),
        )
        .await;
    master
        .wait_state("plain", TaskState::TaskFinished, LONG)
        .await;
}
