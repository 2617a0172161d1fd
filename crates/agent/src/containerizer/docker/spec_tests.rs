//! Unit tests of the Docker run spec (kept apart so `spec.rs` stays the translation alone).

use super::*;

fn bridged() -> v1::ContainerInfo {
    v1::ContainerInfo {
        r#type: v1::container_info::Type::Docker as i32,
        docker: Some(v1::container_info::DockerInfo {
            image: "localhost:5000/web:1".into(),
            network: Some(Network::Bridge as i32),
            port_mappings: vec![v1::container_info::docker_info::PortMapping {
                host_port: 31_001,
                container_port: 80,
                protocol: None,
            }],
            parameters: vec![
                v1::Parameter {
                    key: "env".into(),
                    value: "EXTRA=1".into(),
                },
                v1::Parameter {
                    key: "--label".into(),
                    value: "team=a".into(),
                },
                v1::Parameter {
                    key: "label".into(),
                    value: format!("{OWNER_LABEL}=forged"),
                },
            ],
            ..Default::default()
        }),
        volumes: vec![v1::Volume {
            mode: v1::volume::Mode::Ro as i32,
            container_path: "/etc/host-tmp".into(),
            host_path: Some("/tmp".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn shell(value: &str) -> v1::CommandInfo {
    v1::CommandInfo {
        value: Some(value.into()),
        ..Default::default()
    }
}

fn task<'a>(container: &'a v1::ContainerInfo, command: &'a v1::CommandInfo) -> DockerTask<'a> {
    DockerTask {
        container_id: "c-1",
        container,
        command,
        env: vec![("PORT0".into(), "31001".into())],
        sandbox: Path::new("/var/sandbox/c-1"),
        cpus: 0.5,
        mem_mb: 64.0,
        cfs_quota: true,
        owner: "agent-a",
        allow_escaping: false,
        persistent_volumes: &[],
    }
}

#[test]
fn a_bridged_shell_task_becomes_the_container_mesos_would_run() {
    let container = bridged();
    let command = shell("httpd -f -p 80");
    let spec = run_spec(&task(&container, &command)).unwrap();
    assert_eq!(spec.name, "mesos-c-1");
    assert_eq!(spec.image, "localhost:5000/web:1");
    assert_eq!(
        spec.entrypoint,
        Some(vec!["/bin/sh".to_string(), "-c".to_string()])
    );
    assert_eq!(spec.cmd, Some(vec!["httpd -f -p 80".to_string()]));
    assert_eq!(spec.network_mode, "bridge");
    assert_eq!(
        spec.ports,
        vec![PublishedPort {
            host_port: 31_001,
            container_port: 80,
            protocol: "tcp".into()
        }]
    );
    assert_eq!(
        spec.binds,
        vec![
            format!("/var/sandbox/c-1:{SANDBOX_MOUNT}"),
            "/tmp:/etc/host-tmp:ro".to_string()
        ]
    );
    assert!(spec.env.contains(&"PORT0=31001".to_string()));
    assert!(spec.env.contains(&"EXTRA=1".to_string()));
    assert!(spec.env.contains(&format!("MESOS_SANDBOX={SANDBOX_MOUNT}")));
    assert_eq!(spec.labels.get("team").map(String::as_str), Some("a"));
    // A parameter cannot claim another agent's ownership label.
    assert_eq!(
        spec.labels.get(OWNER_LABEL).map(String::as_str),
        Some("agent-a")
    );
    assert_eq!(spec.cpu_shares, Some(512));
    assert_eq!(spec.cpu_quota_us, Some(50_000));
    // Mesos' 32 MB floor does not raise a 64 MB task.
    assert_eq!(spec.memory_bytes, Some(64 * 1024 * 1024));
}

#[test]
fn without_shell_the_arguments_follow_the_images_entrypoint() {
    let mut container = bridged();
    container.volumes.clear();
    let command = v1::CommandInfo {
        shell: Some(false),
        arguments: vec!["-f".into(), "-p".into(), "80".into()],
        ..Default::default()
    };
    let spec = run_spec(&task(&container, &command)).unwrap();
    assert_eq!(spec.entrypoint, None);
    assert_eq!(spec.cmd, Some(vec!["-f".into(), "-p".into(), "80".into()]));
    let bare = v1::CommandInfo {
        shell: Some(false),
        ..Default::default()
    };
    assert_eq!(run_spec(&task(&container, &bare)).unwrap().cmd, None);
}

#[test]
fn what_cannot_take_effect_is_refused_by_name() {
    let command = shell("true");

    let mut missing_volume = bridged();
    missing_volume.volumes[0].host_path = Some("/no/such/dir/anywhere".into());
    let why = run_spec(&task(&missing_volume, &command)).unwrap_err();
    assert!(why.contains("/no/such/dir/anywhere"), "{why}");

    let mut unknown = bridged();
    unknown
        .docker
        .as_mut()
        .unwrap()
        .parameters
        .push(v1::Parameter {
            key: "log-driver".into(),
            value: "syslog".into(),
        });
    let why = run_spec(&task(&unknown, &command)).unwrap_err();
    assert!(why.contains("log-driver"), "{why}");

    let mut escape = bridged();
    escape
        .docker
        .as_mut()
        .unwrap()
        .parameters
        .push(v1::Parameter {
            key: "pid".into(),
            value: "host".into(),
        });
    let why = run_spec(&task(&escape, &command)).unwrap_err();
    assert!(why.contains("pid=host"), "{why}");
    let mut allowed = task(&escape, &command);
    allowed.allow_escaping = true;
    assert_eq!(
        run_spec(&allowed).unwrap().options.pid_mode.as_deref(),
        Some("host")
    );

    let mut unnamed = bridged();
    unnamed.docker.as_mut().unwrap().network = Some(Network::User as i32);
    unnamed.docker.as_mut().unwrap().port_mappings.clear();
    let why = run_spec(&task(&unnamed, &command)).unwrap_err();
    assert!(why.contains("network_infos"), "{why}");

    let no_value = v1::CommandInfo::default();
    let why = run_spec(&task(&bridged(), &no_value)).unwrap_err();
    assert!(why.contains("command.value"), "{why}");
}

#[test]
fn persistent_volumes_are_bound_under_the_sandboxs_mount_point() {
    let mut container = bridged();
    container.volumes.clear();
    let command = shell("true");
    let volumes = [
        VolumeUse {
            container_path: "data".into(),
            dir: "/var/agent/volumes/roles/db/v1".into(),
            read_only: false,
        },
        VolumeUse {
            container_path: "conf/ro".into(),
            dir: "/var/agent/volumes/roles/db/v2".into(),
            read_only: true,
        },
    ];
    let mut docker_task = task(&container, &command);
    docker_task.persistent_volumes = &volumes;
    let spec = run_spec(&docker_task).unwrap();
    assert_eq!(
        spec.binds,
        vec![
            format!("/var/sandbox/c-1:{SANDBOX_MOUNT}"),
            format!("/var/agent/volumes/roles/db/v1:{SANDBOX_MOUNT}/data"),
            format!("/var/agent/volumes/roles/db/v2:{SANDBOX_MOUNT}/conf/ro:ro"),
        ]
    );
    // A path that would leave the sandbox, or break the daemon's bind syntax, is refused.
    for (path, dir, why) in [
        ("/abs", "/v", "relative"),
        ("../up", "/v", "'..'"),
        ("a:b", "/v", "':'"),
        ("ok", "/v:x", "':'"),
    ] {
        let bad = [VolumeUse {
            container_path: path.into(),
            dir: dir.into(),
            read_only: false,
        }];
        let mut bad_task = task(&container, &command);
        bad_task.persistent_volumes = &bad;
        let err = run_spec(&bad_task).unwrap_err();
        assert!(err.contains(why), "{path} {dir}: {err}");
    }
}
