//! Docker images on the Mesos containerizer (UCR), end to end on a real agent: images pulled
//! from a private registry (no Docker daemon runs), layers shared and cached, the task in the
//! image's root filesystem as its user, the image's entrypoint serving HTTP, COMMAND health
//! checks inside the image, a missing image failing the launch by name, and the rootfs removed
//! with its container.
//!
//! Needs root (mounts, namespaces, cgroups) and Debian's `docker-registry` (scripts/setup).

use crate::support;

use crate::registry;

use std::time::{Duration, Instant};

use drover_wire::v1;
use drover_wire::v1::TaskState;
use registry::{Registry, busybox_layer, layer};
use support::*;

fn image_task(id: &str, image: &str, command: v1::CommandInfo) -> v1::TaskInfo {
    let mut task = shell_task(id, "", 64.0);
    task.command = Some(command);
    task.container = Some(Box::new(v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        mesos: Some(v1::container_info::MesosInfo {
            image: Some(v1::Image {
                r#type: v1::image::Type::Docker as i32,
                docker: Some(v1::image::Docker {
                    name: image.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }));
    task
}

fn shell(value: &str) -> v1::CommandInfo {
    v1::CommandInfo {
        value: Some(value.into()),
        shell: Some(true),
        ..Default::default()
    }
}

fn wait_until(what: &str, within: Duration, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http_get(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}

/// Pushes `web:1`: busybox with `/etc/motd` and a page, then a layer deleting the motd (a
/// whiteout) and replacing the page; httpd as the entrypoint. Returns the layer digests.
async fn push_web(registry: &Registry) -> Vec<String> {
    let base = busybox_layer(&[
        ("etc/motd", 0o644, b"from the base layer\n".to_vec()),
        ("www/index.html", 0o644, b"old page\n".to_vec()),
        (
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n".to_vec(),
        ),
    ]);
    let top = layer(
        &[
            ("etc/.wh.motd", 0o644, Vec::new()),
            ("www/index.html", 0o644, b"hello-ucr\n".to_vec()),
        ],
        &[],
    );
    registry
        .push(
            "web",
            "1",
            &[base, top],
            serde_json::json!({
                "Env": ["PATH=/bin", "IMAGE_VAR=from-image", "TASK_VAR=from-image"],
                "Entrypoint": ["/bin/httpd", "-f"],
                "Cmd": ["-p", "1"],
                "WorkingDir": "/www"
            }),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_images_run_on_the_mesos_containerizer_without_a_daemon() {
    if !is_root() {
        eprintln!(
            "\n\n*** SKIPPED: the UCR suite needs root (mounts, namespaces, cgroups) ***\n\n"
        );
        return;
    }
    let registry = Registry::start().await;
    let digests = push_web(&registry).await;

    let master = FakeMaster::start(true).await;
    let registry_flag = format!("--docker_registry={}", registry.url());
    let mut agent = AgentProcess::start(&master, &["--image_providers=docker", &registry_flag]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    // Checkpointing: its executors outlive an agent restart.
    let fw = framework("fw", true, false);

    // A shell command in the image, as `nobody`: the image's files (the whiteout applied),
    // its environment under the task's, its working directory, the sandbox at
    // /mnt/mesos/sandbox, and none of the host's files.
    let mut probe = image_task(
        "probe",
        "web:1",
        shell(
            "{ cat /www/index.html; echo \"var=$IMAGE_VAR task=$TASK_VAR sandbox=$MESOS_SANDBOX\"; \
             pwd; id -u; test -e /etc/motd && echo motd-present || echo motd-gone; \
             test -e /usr/bin/docker-registry && echo host-visible || echo host-hidden; \
             ls /proc | grep -c '^[0-9]'; } > $MESOS_SANDBOX/report",
        ),
    );
    if let Some(c) = probe.command.as_mut() {
        c.user = Some("nobody".into());
        c.environment = Some(v1::Environment {
            variables: vec![v1::environment::Variable {
                name: "TASK_VAR".into(),
                value: Some("from-task".into()),
                ..Default::default()
            }],
        });
    }
    master.run_task(&fw, probe).await;
    let sandbox = wait_ended(&master, "probe", || agent.sandbox("probe")).await;
    assert_finished(&master, "probe", &sandbox.join("stderr"));
    let report = std::fs::read_to_string(sandbox.join("report")).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "hello-ucr", "{report}");
    assert_eq!(
        lines[1], "var=from-image task=from-task sandbox=/mnt/mesos/sandbox",
        "{report}"
    );
    assert_eq!(lines[2], "/www", "{report}");
    assert_eq!(lines[3], "65534", "{report}");
    assert_eq!(lines[4], "motd-gone", "{report}");
    assert_eq!(lines[5], "host-hidden", "{report}");
    let processes: usize = lines[6].parse().unwrap();
    assert!(
        processes < 10,
        "the task sees its own pid namespace: {report}"
    );

    // The image's entrypoint with the task's arguments instead of its cmd: httpd serves the
    // image's page on a host port; a COMMAND health check runs inside the image.
    let port = free_port();
    let mut web = image_task(
        "web",
        "web:1",
        v1::CommandInfo {
            shell: Some(false),
            arguments: vec!["-p".into(), port.to_string()],
            ..Default::default()
        },
    );
    web.health_check = Some(v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Command as i32),
        command: Some(shell("test -e /www/index.html && test ! -e /etc/motd")),
        interval_seconds: Some(0.5),
        delay_seconds: Some(0.0),
        grace_period_seconds: Some(10.0),
        ..Default::default()
    });
    master.run_task(&fw, web).await;
    master.wait_state("web", TaskState::TaskRunning, LONG).await;
    wait_until("httpd in the image answers", LONG, || {
        http_get(port).is_some_and(|body| body.contains("hello-ucr"))
    });
    master
        .wait_for("a healthy update", LONG, |m| {
            m.updates()
                .iter()
                .any(|s| s.task_id.value == "web" && s.healthy == Some(true))
        })
        .await;

    // Both launches shared the store: each layer was downloaded once.
    for digest in &digests {
        assert_eq!(registry.blob_gets(digest), 1, "layer {digest}");
    }
    let store = agent.work_dir.join("store/docker/layers");
    assert_eq!(std::fs::read_dir(&store).unwrap().count(), 2);

    // The rootfs is the container's and goes with it.
    let containers = agent.work_dir.join("provisioner/containers");
    let web_dir = std::fs::read_dir(&containers)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            std::fs::read_to_string(p.join("launch.json"))
                .is_ok_and(|t| t.contains(&sandbox_of(&agent, "web")))
        })
        .expect("the web task's provisioner directory");
    let rootfs = web_dir.join("backend/rootfs");
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        mounts.contains(&rootfs.display().to_string()),
        "overlay rootfs mounted"
    );
    // An agent restart keeps the running task, its rootfs and its mount.
    let before = master.registrations().len();
    agent.sigkill();
    agent.spawn(&[]);
    master
        .wait_for("reregistration", LONG, |m| m.registrations().len() > before)
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(web_dir.join("launch.json").exists(), "the rootfs survives");
    assert!(
        http_get(port).is_some_and(|body| body.contains("hello-ucr")),
        "still serving after the agent's restart"
    );
    master.kill_task("fw", "web", None).await;
    master.wait_state("web", TaskState::TaskKilled, LONG).await;
    wait_until("the web rootfs removed", LONG, || !web_dir.exists());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(&rootfs.display().to_string()), "{mounts}");

    // An image the registry does not have: the launch fails, naming it.
    master
        .run_task(&fw, image_task("missing", "nothere:1", shell("true")))
        .await;
    let failed = master
        .wait_state("missing", TaskState::TaskFailed, LONG)
        .await;
    assert_eq!(
        failed.reason,
        Some(v1::task_status::Reason::ContainerLaunchFailed as i32)
    );
    let message = failed.message.unwrap_or_default();
    assert!(
        message.contains("nothere:1") && message.contains("not found"),
        "{message}"
    );

    // An image pointing its /dev at the host's /root: nothing is mounted or created through
    // the link, and the task fails saying why.
    let marker = format!("/root/.drover-ucr-test-{}", std::process::id());
    registry
        .push(
            "evil",
            "1",
            &[layer(
                &[("etc/motd", 0o644, b"x".to_vec())],
                &[("dev", &marker)],
            )],
            serde_json::json!({"Cmd": ["/bin/sh"]}),
        )
        .await;
    std::fs::create_dir_all(&marker).unwrap();
    master
        .run_task(&fw, image_task("evil", "evil:1", shell("true")))
        .await;
    master.wait_state("evil", TaskState::TaskFailed, LONG).await;
    let stderr = std::fs::read_to_string(agent.sandbox("evil").unwrap().join("stderr")).unwrap();
    let created: Vec<_> = std::fs::read_dir(&marker).unwrap().flatten().collect();
    std::fs::remove_dir_all(&marker).unwrap();
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert!(created.is_empty(), "created through the link: {created:?}");
}

/// Waits until `task` finished or failed; returns the sandbox `sandbox` finds then.
async fn wait_ended(
    master: &FakeMaster,
    task: &str,
    sandbox: impl Fn() -> Option<std::path::PathBuf>,
) -> std::path::PathBuf {
    master
        .wait_for(&format!("{task} to end"), LONG, |m| {
            m.updates().iter().any(|s| {
                s.task_id.value == task
                    && [TaskState::TaskFinished, TaskState::TaskFailed]
                        .iter()
                        .any(|t| s.state == *t as i32)
            })
        })
        .await;
    sandbox().unwrap_or_else(|| panic!("{task}'s sandbox"))
}

/// Asserts that `task` finished, showing its `stderr` file when it did not.
fn assert_finished(master: &FakeMaster, task: &str, stderr: &std::path::Path) {
    let finished = master
        .updates()
        .iter()
        .any(|s| s.task_id.value == task && s.state == TaskState::TaskFinished as i32);
    let text = std::fs::read_to_string(stderr).unwrap_or_default();
    assert!(finished, "{task} did not finish; its stderr: {text}");
}

/// The host sandbox path of `task`'s executor, as text.
fn sandbox_of(agent: &AgentProcess, task: &str) -> String {
    agent
        .sandbox(task)
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_without_the_docker_image_provider_refuses_images_by_name() {
    if !is_root() {
        eprintln!("\n\n*** SKIPPED: needs root to run an agent with cgroups ***\n\n");
        return;
    }
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let fw = framework("fw", false, false);
    master
        .run_task(&fw, image_task("img", "busybox", shell("true")))
        .await;
    let failed = master.wait_state("img", TaskState::TaskFailed, LONG).await;
    assert_eq!(
        failed.reason,
        Some(v1::task_status::Reason::ContainerLaunchFailed as i32)
    );
    let message = failed.message.unwrap_or_default();
    assert!(message.contains("--image_providers=docker"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_groups_tasks_run_in_their_own_images() {
    if !is_root() {
        eprintln!(
            "\n\n*** SKIPPED: the UCR suite needs root (mounts, namespaces, cgroups) ***\n\n"
        );
        return;
    }
    let registry = Registry::start().await;
    push_web(&registry).await;
    let master = FakeMaster::start(true).await;
    let registry_flag = format!("--docker_registry={}", registry.url());
    let agent = AgentProcess::start(&master, &["--image_providers=docker", &registry_flag]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let fw = framework("fw", false, false);
    // A pod's containers: one reads the image and ends, one serves it with the entrypoint.
    let page = image_task(
        "page",
        "web:1",
        shell(
            "{ cat /www/index.html; test -e /etc/motd && echo motd || echo no-motd; \
             echo \"$IMAGE_VAR $MESOS_SANDBOX\"; } > $MESOS_SANDBOX/page",
        ),
    );
    let port = free_port();
    let web = image_task(
        "web",
        "web:1",
        v1::CommandInfo {
            shell: Some(false),
            arguments: vec!["-p".into(), port.to_string()],
            ..Default::default()
        },
    );
    launch_group(&master, &fw, group_executor("pod-1"), vec![page, web]).await;
    let sandbox = wait_ended(&master, "page", || agent.sandbox("pod-1")).await;
    assert_finished(&master, "page", &sandbox.join("tasks/page/stderr"));
    master.wait_state("web", TaskState::TaskRunning, LONG).await;
    let report = std::fs::read_to_string(sandbox.join("tasks/page/page")).unwrap();
    assert_eq!(
        report, "hello-ucr\nno-motd\nfrom-image /mnt/mesos/sandbox\n",
        "the task ran in its image"
    );
    wait_until("httpd of the pod's image answers", LONG, || {
        http_get(port).is_some_and(|body| body.contains("hello-ucr"))
    });
    // Each task's rootfs is its nested container's, removed with it.
    let containers = agent.work_dir.join("provisioner/containers");
    assert!(std::fs::read_dir(&containers).unwrap().count() >= 1);
    master.kill_task("fw", "web", None).await;
    master.wait_state("web", TaskState::TaskKilled, LONG).await;
    wait_until("the pod's rootfs directories removed", LONG, || {
        std::fs::read_dir(&containers).map_or(true, |d| d.count() == 0)
    });
}
