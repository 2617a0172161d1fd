//! The Docker containerizer's daemon client against a real, private dockerd (its own data root,
//! exec root, socket and pid file; no bridge or iptables changes, so nothing of the machine's
//! network is touched), with a busybox image made by `docker import` of busybox-static. One test
//! function so the suite starts one daemon; it runs as root (CI) and says loudly when it can't.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use drover_agent::containerizer::ExitStatus;
use drover_agent::containerizer::docker::client::{DockerClient, RunSpec};
use drover_agent::containerizer::docker::spec::{DockerTask, OWNER_LABEL, run_spec};
use drover_agent::containerizer::docker::supervise::{
    LaunchFailure, launch, remove_orphans, termination,
};
use drover_wire::v1;

use crate::dockerd;
use dockerd::{Daemon, IMAGE, wait_for_text};

fn spec(name: &str, script: &str) -> RunSpec {
    RunSpec {
        name: name.into(),
        image: IMAGE.into(),
        entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
        cmd: Some(vec![script.into()]),
        network_mode: "host".into(),
        labels: HashMap::from([(OWNER_LABEL.to_string(), "owner-a".to_string())]),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_runs_waits_stops_and_lists_containers_on_a_real_daemon() {
    if !nix_is_root() {
        eprintln!("\n\n*** SKIPPED: the Docker client suite needs root to run dockerd ***\n\n");
        return;
    }
    let daemon = Daemon::start();
    daemon.import_busybox();
    let timeout = Duration::from_secs(30);

    // No socket at all: refused at once, naming the path.
    let nowhere = daemon.dir.path().join("nowhere.sock");
    let err = DockerClient::new(&nowhere, Duration::from_secs(5)).unwrap_err();
    assert!(err.0.contains("nowhere.sock"), "{err}");
    // A socket whose listener never answers (a stuck daemon): the call gives up after its
    // timeout with a message naming the socket, never a hang.
    let stuck = daemon.dir.path().join("stuck.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&stuck).unwrap();
    let dead = DockerClient::new(&stuck, Duration::from_secs(2)).unwrap();
    let started = Instant::now();
    let err = dead.ping().await.unwrap_err();
    assert!(
        err.0.contains("stuck.sock") && err.0.contains("no answer"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let docker = DockerClient::new(&daemon.socket(), timeout).unwrap();
    docker.ping().await.unwrap();
    docker
        .ensure_image(IMAGE, false, None, timeout)
        .await
        .unwrap();
    // No registry listens on port 1: the pull fails with a message naming the image.
    let missing = docker
        .ensure_image("localhost:1/nope/missing:1", false, None, timeout)
        .await
        .unwrap_err();
    assert!(
        missing.0.contains("localhost:1/nope/missing:1"),
        "{missing}"
    );

    // Exit code, environment, the sandbox bind mount, stdout/stderr copied into files.
    let sandbox = daemon.dir.path().join("sandbox");
    std::fs::create_dir_all(&sandbox).unwrap();
    let mut run = spec(
        "mesos-exit",
        "echo out $FOO; echo err >&2; echo mounted > /mnt/mesos/sandbox/marker; exit 3",
    );
    run.env = vec!["FOO=bar".into()];
    run.binds = vec![format!("{}:/mnt/mesos/sandbox", sandbox.display())];
    docker.run(&run).await.unwrap();
    let logs = {
        let docker = docker.clone();
        let (out, err) = (sandbox.join("stdout"), sandbox.join("stderr"));
        tokio::spawn(async move { docker.copy_logs("mesos-exit", &out, &err).await })
    };
    let exit = docker.wait("mesos-exit").await.unwrap();
    assert_eq!(exit.code, 3);
    assert!(!exit.oom_killed);
    logs.await.unwrap().unwrap();
    assert!(wait_for_text(&sandbox.join("stdout"), "out bar").contains("out bar"));
    assert!(wait_for_text(&sandbox.join("stderr"), "err").contains("err"));
    assert_eq!(
        std::fs::read_to_string(sandbox.join("marker")).unwrap(),
        "mounted\n"
    );

    // A task's ContainerInfo through the run spec: the sandbox at MESOS_SANDBOX, a read-only
    // volume, an `env` parameter, the agent's environment, the owner label.
    let volume = daemon.dir.path().join("volume");
    std::fs::create_dir_all(&volume).unwrap();
    std::fs::write(volume.join("data"), "from the host\n").unwrap();
    let task_sandbox = daemon.dir.path().join("task-sandbox");
    std::fs::create_dir_all(&task_sandbox).unwrap();
    let container = v1::ContainerInfo {
        r#type: v1::container_info::Type::Docker as i32,
        docker: Some(v1::container_info::DockerInfo {
            image: IMAGE.into(),
            network: Some(v1::container_info::docker_info::Network::Host as i32),
            parameters: vec![v1::Parameter {
                key: "env".into(),
                value: "FROM_PARAMETER=yes".into(),
            }],
            ..Default::default()
        }),
        volumes: vec![v1::Volume {
            mode: v1::volume::Mode::Ro as i32,
            container_path: "/volume".into(),
            host_path: Some(volume.display().to_string()),
            ..Default::default()
        }],
        ..Default::default()
    };
    // A persistent volume: its mount point made in the sandbox beforehand (as the agent's
    // driver does), the volume bound onto it below the sandbox's mount.
    let persistent = daemon.dir.path().join("persistent");
    std::fs::create_dir_all(&persistent).unwrap();
    std::fs::create_dir_all(task_sandbox.join("state")).unwrap();
    let volumes = [drover_core::agent::VolumeUse {
        container_path: "state".into(),
        dir: persistent.display().to_string(),
        read_only: false,
    }];
    let command = v1::CommandInfo {
        value: Some(
            "cat /volume/data; echo $FROM_PARAMETER $PORT0 > $MESOS_SANDBOX/seen; \
             echo kept > $MESOS_SANDBOX/state/file; \
             echo x > /volume/data || exit 7"
                .into(),
        ),
        ..Default::default()
    };
    let run = run_spec(&DockerTask {
        container_id: "spec-1",
        container: &container,
        command: &command,
        env: vec![("PORT0".into(), "31000".into())],
        sandbox: &task_sandbox,
        cpus: 0.1,
        mem_mb: 64.0,
        cfs_quota: true,
        owner: "owner-a",
        allow_escaping: false,
        persistent_volumes: &volumes,
    })
    .unwrap();
    launch(&docker, &run, false, None, timeout, &task_sandbox)
        .await
        .unwrap();
    // The read-only volume refused the write.
    let ended = termination(
        &docker.wait("mesos-spec-1").await.unwrap(),
        run.memory_bytes,
    );
    assert_eq!(ended.status, ExitStatus::Exited(7));
    assert_eq!(ended.message, "Container exited with status 7");
    assert!(wait_for_text(&task_sandbox.join("stdout"), "from the host").contains("from the host"));
    assert_eq!(
        std::fs::read_to_string(task_sandbox.join("seen")).unwrap(),
        "yes 31000\n"
    );
    assert_eq!(
        std::fs::read_to_string(volume.join("data")).unwrap(),
        "from the host\n"
    );
    // What the task wrote on its persistent volume is in the volume on the host, not in the
    // sandbox's mount point.
    assert_eq!(
        std::fs::read_to_string(persistent.join("file")).unwrap(),
        "kept\n"
    );
    assert!(!task_sandbox.join("state/file").exists());

    // The memory limit is enforced and an OOM kill is reported as such.
    let mut hog = spec(
        "mesos-oom",
        "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
    );
    hog.memory_bytes = Some(16 * 1024 * 1024);
    docker.run(&hog).await.unwrap();
    let exit = docker.wait("mesos-oom").await.unwrap();
    assert!(exit.oom_killed, "{exit:?}");
    let ended = termination(&exit, hog.memory_bytes);
    assert!(ended.oom_killed);
    assert!(
        ended
            .message
            .starts_with("Memory limit exceeded: Requested: 16MB"),
        "{}",
        ended.message
    );

    // A missing image fails the launch with a message naming it (REASON_CONTAINER_LAUNCH_FAILED).
    let mut absent = spec("mesos-absent", "true");
    absent.image = "localhost:1/absent/image:2".into();
    let LaunchFailure(why) = launch(&docker, &absent, false, None, timeout, &sandbox)
        .await
        .unwrap_err();
    assert!(
        why.contains("Failed to pull image 'localhost:1/absent/image:2'"),
        "{why}"
    );
    assert!(!docker.running("mesos-absent").await.unwrap());

    // Stop: a task that exits on SIGTERM stops at once; one ignoring it is killed after the
    // grace period.
    docker
        .run(&spec(
            "mesos-polite",
            "trap 'echo term; exit 0' TERM; while true; do sleep 0.1; done",
        ))
        .await
        .unwrap();
    assert!(docker.running("mesos-polite").await.unwrap());
    let started = Instant::now();
    docker
        .stop("mesos-polite", Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(docker.exit("mesos-polite").await.unwrap().code, 0);

    docker
        .run(&spec(
            "mesos-stubborn",
            "trap '' TERM; while true; do sleep 0.1; done",
        ))
        .await
        .unwrap();
    let started = Instant::now();
    docker
        .stop("mesos-stubborn", Duration::from_secs(2))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(docker.exit("mesos-stubborn").await.unwrap().code, 137);

    // Ownership by label: another agent's container is not listed as ours.
    let mut foreign = spec("mesos-foreign", "sleep 1000");
    foreign.labels = HashMap::from([(OWNER_LABEL.to_string(), "owner-b".to_string())]);
    docker.run(&foreign).await.unwrap();
    let mut ours = docker.names_labelled(OWNER_LABEL, "owner-a").await.unwrap();
    ours.sort();
    assert_eq!(
        ours,
        [
            "mesos-exit",
            "mesos-oom",
            "mesos-polite",
            "mesos-spec-1",
            "mesos-stubborn"
        ]
    );

    // Orphans: after a restart only this agent's unknown `mesos-*` containers go; a known one
    // (re-attached by name) and another agent's stay.
    let known = std::collections::BTreeSet::from([
        "mesos-exit".to_string(),
        "mesos-oom".to_string(),
        "mesos-polite".to_string(),
        "mesos-spec-1".to_string(),
    ]);
    assert_eq!(
        remove_orphans(&docker, "owner-a", &known).await.unwrap(),
        ["mesos-stubborn"]
    );
    assert!(docker.running("mesos-foreign").await.unwrap());
    assert_eq!(docker.exit("mesos-exit").await.unwrap().code, 3);
    assert!(
        remove_orphans(&docker, "owner-a", &known)
            .await
            .unwrap()
            .is_empty()
    );

    // A second container under a taken name is refused with the daemon's message.
    let dup = docker
        .run(&spec("mesos-foreign", "true"))
        .await
        .unwrap_err();
    assert!(dup.0.contains("mesos-foreign"), "{dup}");

    for name in [
        "mesos-exit",
        "mesos-oom",
        "mesos-polite",
        "mesos-foreign",
        "mesos-spec-1",
    ] {
        docker.remove(name).await.unwrap();
        assert!(!docker.running(name).await.unwrap());
    }
    assert!(
        docker
            .names_labelled(OWNER_LABEL, "owner-a")
            .await
            .unwrap()
            .is_empty()
    );
}

fn nix_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
