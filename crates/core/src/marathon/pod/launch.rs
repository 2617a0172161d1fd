//! The LAUNCH_GROUP of a pod instance, built as Marathon 1.10's `TaskGroupBuilder` built it:
//! a DEFAULT executor (`instance-<pod>.<uuid>`) holding the executor's resources and the
//! instance's host ports, and one task per container (`<instance>.<container>.<incarnation>`)
//! with its own resources, image (a MESOS container's `mesos.image`), command (the image's
//! entrypoint when the container has no `exec`), environment (the pod's and the container's,
//! `HOST`, `MESOS_TASK_ID`, `MESOS_EXECUTOR_ID`, `MARATHON_APP_ID`, `MARATHON_CONTAINER_ID`, the
//! `MARATHON_CONTAINER_RESOURCE_*`, label and `ENDPOINT_*` variables), fetch URIs, volumes,
//! health check, kill policy and DiscoveryInfo.

use std::collections::BTreeMap;

use drover_wire::v1;

use super::{PodCommand, PodContainer, PodExec, PodProbe, PodSpec};
use crate::marathon::app::AppSpec;
use crate::marathon::container::docker_image;
use crate::marathon::instance::Instance;

/// The executor id of a pod instance: `instance-<safe id>.<uuid>` for `<safe id>.instance-<uuid>`.
pub fn executor_id(instance_id: &str) -> String {
    match instance_id.split_once(".instance-") {
        Some((safe, uuid)) => format!("instance-{safe}.{uuid}"),
        None => format!("instance-{instance_id}"),
    }
}

/// The Mesos task id of one container of an instance.
pub fn task_id(instance_id: &str, container: &str, incarnation: u32) -> String {
    format!("{instance_id}.{container}.{incarnation}")
}

/// Takes `amount` of the scalar resource `name` out of `pieces`, splitting a piece when it
/// holds more; returns what was taken (several pieces when it spans roles).
fn carve(pieces: &mut [v1::Resource], name: &str, amount: f64) -> Vec<v1::Resource> {
    const EPSILON: f64 = 1e-9;
    let mut taken = Vec::new();
    let mut left = amount;
    for piece in pieces.iter_mut().filter(|p| p.name == name) {
        if left <= EPSILON {
            break;
        }
        let have = piece.scalar.as_ref().map_or(0.0, |s| s.value);
        let take = have.min(left);
        if take <= EPSILON {
            continue;
        }
        let mut part = piece.clone();
        part.scalar = Some(v1::value::Scalar { value: take });
        taken.push(part);
        piece.scalar = Some(v1::value::Scalar { value: have - take });
        left -= take;
    }
    taken
}

/// Takes every scalar of `r` out of `pieces` ([`carve`] for each).
pub(crate) fn carve_all(pieces: &mut [v1::Resource], r: super::PodResources) -> Vec<v1::Resource> {
    let mut out = Vec::new();
    for (name, amount) in [
        ("cpus", r.cpus),
        ("mem", r.mem),
        ("disk", r.disk),
        ("gpus", f64::from(r.gpus)),
    ] {
        if amount > 0.0 {
            out.extend(carve(pieces, name, amount));
        }
    }
    out
}

fn labels(map: &BTreeMap<String, String>) -> Option<v1::Labels> {
    (!map.is_empty()).then(|| v1::Labels {
        labels: map
            .iter()
            .map(|(k, v)| v1::Label {
                key: k.clone(),
                value: Some(v.clone()),
            })
            .collect(),
    })
}

fn variable(name: &str, value: &str) -> v1::environment::Variable {
    v1::environment::Variable {
        name: name.to_owned(),
        r#type: None,
        value: Some(value.to_owned()),
        secret: None,
    }
}

/// `ENDPOINT_<NAME>` (the port the process listens on: the host port on the host network),
/// `EP_HOST_<NAME>` and `EP_CONTAINER_<NAME>` for every endpoint of the pod.
fn endpoint_env(pod: &PodSpec, host_ports: &[Option<u32>]) -> BTreeMap<String, String> {
    let escape = |name: &str| {
        name.to_ascii_uppercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    };
    let mut env = BTreeMap::new();
    for ((_, e), host) in pod.endpoints().zip(host_ports) {
        let name = escape(&e.name);
        let port = if pod.host_network() {
            *host
        } else {
            e.container_port
        };
        if let Some(p) = port {
            env.insert(format!("ENDPOINT_{name}"), p.to_string());
        }
        if let Some(p) = host {
            env.insert(format!("EP_HOST_{name}"), p.to_string());
        }
        if let Some(p) = e.container_port {
            env.insert(format!("EP_CONTAINER_{name}"), p.to_string());
        }
    }
    env
}

fn command_info(command: &PodCommand) -> v1::CommandInfo {
    match command {
        PodCommand::Shell(shell) => v1::CommandInfo {
            shell: Some(true),
            value: Some(shell.clone()),
            ..Default::default()
        },
        // Without an image there is no entrypoint: argv[0] is what runs.
        PodCommand::Argv(argv) => v1::CommandInfo {
            shell: Some(false),
            value: argv.first().cloned(),
            arguments: argv.clone(),
            ..Default::default()
        },
    }
}

/// What a container's task runs. Without an image as [`command_info`]. With one, as Marathon's
/// `TaskGroupBuilder`: no `exec` runs the image's entrypoint (shell false, no value); `argv`
/// is appended to the entrypoint unless `overrideEntrypoint` makes `argv[0]` the program; a
/// `shell` command replaces the entrypoint.
fn task_command(container: &PodContainer) -> v1::CommandInfo {
    match (&container.exec, &container.image) {
        (Some(exec), None) => command_info(&exec.command),
        (
            Some(PodExec {
                command: PodCommand::Argv(argv),
                override_entrypoint,
            }),
            Some(_),
        ) => v1::CommandInfo {
            shell: Some(false),
            value: argv
                .first()
                .filter(|_| *override_entrypoint == Some(true))
                .cloned(),
            arguments: argv.clone(),
            ..Default::default()
        },
        (Some(exec), Some(_)) => command_info(&exec.command),
        (None, _) => v1::CommandInfo {
            shell: Some(false),
            ..Default::default()
        },
    }
}

/// The inputs of one instance's launch.
#[derive(Debug)]
pub struct LaunchContext<'a> {
    /// The carrier of the pod (id, version, user, environment, labels).
    pub app: &'a AppSpec,
    /// The instance, already holding its placement.
    pub instance: &'a Instance,
    /// The offer's agent.
    pub agent_id: &'a str,
    /// The agent's hostname (`HOST`).
    pub hostname: &'a str,
    /// The framework id, when subscribed.
    pub framework_id: Option<&'a str>,
}

/// Builds the LAUNCH_GROUP of `ctx.instance` from what the offer gave it: `resources` (the
/// executor's and every container's, as the offer matching took them) and `host_ports` (one per
/// endpoint with a host port, in endpoint order).
pub fn launch_group(
    ctx: &LaunchContext<'_>,
    pod: &PodSpec,
    resources: Vec<v1::Resource>,
    host_ports: &[u32],
) -> v1::offer::operation::LaunchGroup {
    let app = ctx.app;
    // A resident instance's persistent volumes are its executor's (the agent takes a volume
    // only there in a task group): each appears at `volumes/<name>` of the executor's sandbox,
    // where the containers' mounts of that pod volume point.
    let (volumes, resources): (Vec<v1::Resource>, Vec<v1::Resource>) = resources
        .into_iter()
        .partition(crate::resources::is_persistent_volume);
    let (mut scalars, ports): (Vec<v1::Resource>, Vec<v1::Resource>) =
        resources.into_iter().partition(|r| r.scalar.is_some());
    // Each endpoint's host port, `None` for endpoints without one.
    let mut given = host_ports.iter().copied();
    let per_endpoint: Vec<Option<u32>> = pod
        .endpoints()
        .map(|(_, e)| e.host_port.and_then(|_| given.next()))
        .collect();
    let endpoint_vars = endpoint_env(pod, &per_endpoint);
    let executor_id = executor_id(&ctx.instance.id);
    let mut executor_resources = carve_all(&mut scalars, pod.executor_resources);
    // The ports are the executor's: every container shares its network namespace.
    executor_resources.extend(ports);
    executor_resources.extend(volumes);
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId {
            value: executor_id.clone(),
        },
        framework_id: ctx.framework_id.map(|f| v1::FrameworkId {
            value: f.to_owned(),
        }),
        resources: executor_resources,
        container: Some(Box::new(v1::ContainerInfo {
            r#type: v1::container_info::Type::Mesos as i32,
            ..Default::default()
        })),
        labels: labels(&app.labels),
        ..Default::default()
    };
    let mut endpoint_index = 0;
    let mut tasks = Vec::new();
    for container in &pod.containers {
        let count = container.endpoints.len();
        let mine = &per_endpoint[endpoint_index..endpoint_index + count];
        endpoint_index += count;
        let id = task_id(&ctx.instance.id, &container.name, ctx.instance.incarnation);
        tasks.push(task_info(
            ctx,
            pod,
            container,
            &id,
            &executor_id,
            carve_all(&mut scalars, container.resources),
            mine,
            &endpoint_vars,
        ));
    }
    v1::offer::operation::LaunchGroup {
        executor,
        task_group: v1::TaskGroupInfo { tasks },
    }
}

#[allow(clippy::too_many_arguments)]
fn task_info(
    ctx: &LaunchContext<'_>,
    pod: &PodSpec,
    container: &PodContainer,
    task_id: &str,
    executor_id: &str,
    resources: Vec<v1::Resource>,
    host_ports: &[Option<u32>],
    endpoint_vars: &BTreeMap<String, String>,
) -> v1::TaskInfo {
    let app = ctx.app;
    // Later entries win: the container over the pod, Marathon's own over both.
    let mut env: BTreeMap<String, String> = app.env.clone();
    env.extend(container.environment.clone());
    let r = container.resources;
    for (k, v) in [
        ("HOST", ctx.hostname.to_owned()),
        ("MESOS_TASK_ID", task_id.to_owned()),
        ("MESOS_EXECUTOR_ID", executor_id.to_owned()),
        ("MARATHON_APP_ID", app.id.to_string()),
        (
            "MARATHON_APP_VERSION",
            crate::marathon::timestamp(app.version_ms),
        ),
        ("MARATHON_CONTAINER_ID", container.name.clone()),
        ("MARATHON_CONTAINER_RESOURCE_CPUS", r.cpus.to_string()),
        ("MARATHON_CONTAINER_RESOURCE_MEM", r.mem.to_string()),
        ("MARATHON_CONTAINER_RESOURCE_DISK", r.disk.to_string()),
        ("MARATHON_CONTAINER_RESOURCE_GPUS", r.gpus.to_string()),
    ] {
        env.insert(k.to_owned(), v);
    }
    let mut all_labels = app.labels.clone();
    all_labels.extend(container.labels.clone());
    if !all_labels.is_empty() {
        env.insert(
            "MARATHON_APP_LABELS".into(),
            all_labels.keys().cloned().collect::<Vec<_>>().join(" "),
        );
        for (k, v) in &all_labels {
            let key: String = k
                .to_ascii_uppercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            env.insert(format!("MARATHON_APP_LABEL_{key}"), v.clone());
        }
    }
    env.extend(endpoint_vars.clone());
    let mut command = task_command(container);
    command.user = container.user.clone().or_else(|| app.user.clone());
    command.uris = container
        .artifacts
        .iter()
        .map(|f| v1::command_info::Uri {
            value: f.uri.clone(),
            executable: Some(f.executable),
            extract: Some(f.extract),
            cache: Some(f.cache),
            output_file: f.dest_path.clone(),
        })
        .collect();
    // Secret variables (the container's over the pod's, a plain value over neither): the
    // agent resolves each into this task's own nested container.
    let mut secrets = app.env_secrets.clone();
    secrets.extend(container.env_secrets.clone());
    secrets.retain(|name, _| !container.environment.contains_key(name));
    env.retain(|name, _| !container.env_secrets.contains_key(name));
    command.environment = Some(v1::Environment {
        variables: env
            .iter()
            .filter(|(name, _)| !secrets.contains_key(*name))
            .map(|(k, v)| variable(k, v))
            .chain(secrets.iter().filter_map(|(name, id)| {
                // Validated when the pod was accepted: every id names a secret.
                app.secrets
                    .get(id)
                    .map(|source| crate::marathon::offer::secret_variable(name, source))
            }))
            .collect(),
    });
    let volumes: Vec<v1::Volume> = container
        .volume_mounts
        .iter()
        .map(|m| {
            let mode = if m.read_only {
                v1::volume::Mode::Ro
            } else {
                v1::volume::Mode::Rw
            };
            // Ephemeral and persistent pod volumes alike are a directory of the executor's
            // sandbox (a persistent one is the agent's volume there), shared.
            v1::Volume {
                mode: mode as i32,
                container_path: m.mount_path.clone(),
                source: Some(v1::volume::Source {
                    r#type: Some(v1::volume::source::Type::SandboxPath as i32),
                    sandbox_path: Some(v1::volume::source::SandboxPath {
                        r#type: Some(v1::volume::source::sandbox_path::Type::Parent as i32),
                        path: super::volume_sandbox_path(&m.name),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect();
    let shared = pod.legacy_shared_cgroups;
    let image = container.image.as_ref().map(|image| {
        // Validated when the pod was accepted: a pull secret names one of the pod's secrets.
        let config = image
            .pull_config
            .as_ref()
            .and_then(|id| app.secrets.get(id))
            .map(|source| crate::marathon::offer::reference_secret(source));
        docker_image(&image.id, image.force_pull.unwrap_or(false), config)
    });
    let wanted = !volumes.is_empty() || container.tty || shared || image.is_some();
    let container_info = wanted.then(|| {
        Box::new(v1::ContainerInfo {
            r#type: v1::container_info::Type::Mesos as i32,
            mesos: image.map(|image| v1::container_info::MesosInfo { image: Some(image) }),
            volumes,
            tty_info: container.tty.then(v1::TtyInfo::default),
            linux_info: shared.then(|| v1::LinuxInfo {
                share_cgroups: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        })
    });
    v1::TaskInfo {
        name: container.name.clone(),
        task_id: v1::TaskId {
            value: task_id.to_owned(),
        },
        agent_id: v1::AgentId {
            value: ctx.agent_id.to_owned(),
        },
        resources,
        command: Some(command),
        container: container_info,
        health_check: health_check(pod, container, host_ports),
        kill_policy: container.kill_grace_period_seconds.map(|s| v1::KillPolicy {
            grace_period: Some(v1::DurationInfo {
                nanoseconds: (s * 1e9).min(i64::MAX as f64) as i64,
            }),
        }),
        labels: labels(&container.labels),
        discovery: Some(discovery(app, pod, container, host_ports)),
        ..Default::default()
    }
}

/// `pod.id.toHostname`: the id's segments, last first, joined by dots.
fn hostname_of(app: &AppSpec) -> String {
    let mut segments: Vec<&str> = app.id.segments().collect();
    segments.reverse();
    segments.join(".")
}

fn discovery(
    app: &AppSpec,
    pod: &PodSpec,
    container: &PodContainer,
    host_ports: &[Option<u32>],
) -> v1::DiscoveryInfo {
    let mut ports = Vec::new();
    for (e, host) in container.endpoints.iter().zip(host_ports) {
        let number = if pod.host_network() {
            *host
        } else {
            e.container_port
        };
        let Some(number) = number else {
            continue;
        };
        let protocols: Vec<String> = if e.protocol.is_empty() {
            vec!["tcp".to_owned()]
        } else {
            e.protocol.clone()
        };
        let mut port_labels = e.labels.clone();
        port_labels.insert(
            "network-scope".into(),
            if pod.host_network() {
                "host"
            } else {
                "container"
            }
            .into(),
        );
        for protocol in protocols {
            ports.push(v1::Port {
                number,
                name: Some(e.name.clone()),
                protocol: Some(protocol),
                visibility: None,
                labels: labels(&port_labels),
            });
        }
    }
    v1::DiscoveryInfo {
        visibility: v1::discovery_info::Visibility::Framework as i32,
        name: Some(hostname_of(app)),
        ports: Some(v1::Ports { ports }),
        ..Default::default()
    }
}

/// The container's health check as Mesos runs it: HTTP/TCP on the endpoint's port (the host
/// port on the host network), or a command.
fn health_check(
    pod: &PodSpec,
    container: &PodContainer,
    host_ports: &[Option<u32>],
) -> Option<v1::HealthCheck> {
    use v1::health_check::Type;
    let h = container.health_check.as_ref()?;
    let port_of = |name: &str| {
        let i = container.endpoints.iter().position(|e| e.name == name)?;
        if pod.host_network() {
            host_ports.get(i).copied().flatten()
        } else {
            container.endpoints[i].container_port
        }
    };
    let mut check = v1::HealthCheck {
        delay_seconds: Some(f64::from(h.delay_seconds)),
        interval_seconds: Some(f64::from(h.interval_seconds)),
        timeout_seconds: Some(f64::from(h.timeout_seconds)),
        consecutive_failures: Some(h.max_consecutive_failures),
        grace_period_seconds: Some(f64::from(h.grace_period_seconds)),
        ..Default::default()
    };
    match &h.probe {
        PodProbe::Http {
            endpoint,
            path,
            scheme,
        } => {
            check.r#type = Some(Type::Http as i32);
            check.http = Some(v1::health_check::HttpCheckInfo {
                protocol: Some(v1::network_info::Protocol::IPv4 as i32),
                scheme: Some(scheme.to_ascii_lowercase()),
                port: port_of(endpoint)?,
                path: path.clone(),
                statuses: Vec::new(),
            });
        }
        PodProbe::Tcp { endpoint } => {
            check.r#type = Some(Type::Tcp as i32);
            check.tcp = Some(v1::health_check::TcpCheckInfo {
                protocol: Some(v1::network_info::Protocol::IPv4 as i32),
                port: port_of(endpoint)?,
            });
        }
        PodProbe::Exec(command) => {
            check.r#type = Some(Type::Command as i32);
            check.command = Some(command_info(command));
        }
    }
    Some(check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marathon::condition::Condition;
    use crate::marathon::path::PathId;
    use crate::marathon::pod::tests::{container, pod};
    use crate::marathon::pod::{PodEndpoint, PodHealthCheck, VolumeMount};

    fn scalar(name: &str, value: f64) -> v1::Resource {
        v1::Resource {
            name: name.into(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value }),
            ..Default::default()
        }
    }

    fn sum(resources: &[v1::Resource], name: &str) -> f64 {
        resources
            .iter()
            .filter(|r| r.name == name)
            .filter_map(|r| r.scalar.as_ref())
            .map(|s| s.value)
            .sum()
    }

    fn launch(app: &AppSpec) -> v1::offer::operation::LaunchGroup {
        let pod = app.pod.clone().unwrap();
        let mut instance = Instance::scheduled(&app.id, "u-1", 1, 1, 0);
        instance.condition = Condition::Provisioned;
        let ctx = LaunchContext {
            app,
            instance: &instance,
            agent_id: "agent-1",
            hostname: "h1",
            framework_id: Some("fw"),
        };
        let resources = vec![scalar("cpus", 10.0), scalar("mem", 1024.0)];
        launch_group(&ctx, &pod, resources, &[])
    }

    /// Each container with an image is a MESOS container with `mesos.image` (cached unless
    /// `forcePull`, its pull secret as `docker.config`); what it runs follows Marathon's
    /// `TaskGroupBuilder`: the entrypoint without `exec`, `argv` appended to the entrypoint
    /// unless `overrideEntrypoint`, a shell command instead of it.
    #[test]
    fn a_container_image_becomes_its_tasks_mesos_image() {
        use crate::marathon::pod::{PodExec, PodImage};
        let image = |force_pull: Option<bool>, pull_config: Option<&str>| PodImage {
            id: "busybox:1".into(),
            force_pull,
            pull_config: pull_config.map(str::to_owned),
        };
        let argv = |override_entrypoint| PodExec {
            command: PodCommand::Argv(vec!["sh".into(), "-c".into(), "true".into()]),
            override_entrypoint,
        };
        let mut entrypoint = container("entrypoint");
        entrypoint.exec = None;
        entrypoint.image = Some(image(None, Some("registry")));
        let mut appended = container("appended");
        appended.exec = Some(argv(None));
        appended.image = Some(image(Some(true), None));
        let mut overridden = container("overridden");
        overridden.exec = Some(argv(Some(true)));
        overridden.image = Some(image(Some(false), None));
        let mut shell = container("shell");
        shell.image = Some(image(None, None));
        let plain = container("plain");
        let id = PathId::parse_app_id("/ucr").unwrap();
        let mut app = crate::marathon::pod::carrier(
            id,
            pod(vec![entrypoint, appended, overridden, shell, plain]),
        );
        app.secrets
            .insert("registry".into(), "prod/docker-config".into());
        assert_eq!(
            crate::marathon::pod::validate(&app, app.pod.as_ref().unwrap()),
            Vec::new()
        );
        let group = launch(&app);
        let tasks = &group.task_group.tasks;
        let image_of = |i: usize| {
            let container = tasks[i].container.as_ref().expect("container");
            assert_eq!(container.r#type, v1::container_info::Type::Mesos as i32);
            container.mesos.as_ref().and_then(|m| m.image.clone())
        };
        let cached: Vec<Option<bool>> = (0..4).map(|i| image_of(i).unwrap().cached).collect();
        assert_eq!(cached, [Some(true), Some(false), Some(true), Some(true)]);
        for i in 0..4 {
            let image = image_of(i).unwrap();
            assert_eq!(image.r#type, v1::image::Type::Docker as i32);
            assert_eq!(image.docker.as_ref().unwrap().name, "busybox:1");
        }
        let config = image_of(0).unwrap().docker.unwrap().config.expect("secret");
        assert_eq!(config.r#type, Some(v1::secret::Type::Reference as i32));
        assert_eq!(config.reference.unwrap().name, "prod/docker-config");
        assert_eq!(image_of(1).unwrap().docker.unwrap().config, None);
        // Without an image (and nothing else to set) no ContainerInfo at all, as before.
        assert!(tasks[4].container.is_none());

        let commands: Vec<(Option<bool>, Option<String>, Vec<String>)> = tasks
            .iter()
            .map(|t| {
                let c = t.command.clone().unwrap();
                (c.shell, c.value, c.arguments)
            })
            .collect();
        let argv: Vec<String> = ["sh", "-c", "true"].map(String::from).to_vec();
        assert_eq!(
            commands,
            [
                (Some(false), None, Vec::new()),
                (Some(false), None, argv.clone()),
                (Some(false), Some("sh".into()), argv),
                (Some(true), Some("sleep 100".into()), Vec::new()),
                (Some(true), Some("sleep 100".into()), Vec::new()),
            ]
        );
    }

    #[test]
    fn a_container_needs_a_command_or_an_image_and_a_valid_image_reference() {
        use crate::marathon::pod::PodImage;
        let mut bare = container("bare");
        bare.exec = None;
        let mut bad = container("bad");
        bad.image = Some(PodImage {
            id: "Not An Image".into(),
            force_pull: None,
            pull_config: None,
        });
        let app = crate::marathon::pod::carrier(
            PathId::parse_app_id("/ucr").unwrap(),
            pod(vec![bare, bad]),
        );
        let paths: Vec<String> = crate::marathon::pod::validate(&app, app.pod.as_ref().unwrap())
            .into_iter()
            .map(|v| v.path)
            .collect();
        assert_eq!(paths, ["/containers(0)/exec", "/containers(1)/image/id"]);
    }

    #[test]
    fn a_group_has_one_task_per_container_and_a_default_executor() {
        let mut web = container("web");
        web.endpoints.push(PodEndpoint {
            name: "http-ep".into(),
            container_port: None,
            host_port: Some(0),
            protocol: vec!["http".into()],
            labels: BTreeMap::new(),
        });
        web.health_check = Some(PodHealthCheck {
            probe: PodProbe::Http {
                endpoint: "http-ep".into(),
                path: Some("/ping".into()),
                scheme: "HTTP".into(),
            },
            grace_period_seconds: 10,
            interval_seconds: 2,
            max_consecutive_failures: 3,
            timeout_seconds: 1,
            delay_seconds: 0,
        });
        let mut side = container("side");
        side.volume_mounts.push(VolumeMount {
            name: "shared".into(),
            mount_path: "data".into(),
            read_only: false,
        });
        let id = PathId::parse_app_id("/prod/web").unwrap();
        let mut app = crate::marathon::pod::carrier(id.clone(), pod(vec![web, side]));
        app.env.insert("FROM_POD".into(), "1".into());
        let pod = app.pod.clone().unwrap();
        let mut instance = Instance::scheduled(&id, "u-1", 1, 1, 0);
        instance.condition = Condition::Provisioned;
        let ports = v1::Resource {
            name: "ports".into(),
            r#type: v1::value::Type::Ranges as i32,
            ranges: Some(v1::value::Ranges {
                range: vec![v1::value::Range {
                    begin: 31001,
                    end: 31001,
                }],
            }),
            ..Default::default()
        };
        let resources = vec![
            scalar("cpus", 0.3),
            scalar("mem", 96.0),
            scalar("disk", 10.0),
            ports,
        ];
        let ctx = LaunchContext {
            app: &app,
            instance: &instance,
            agent_id: "agent-1",
            hostname: "h1",
            framework_id: Some("fw"),
        };
        let group = launch_group(&ctx, &pod, resources, &[31001]);
        assert_eq!(
            group.executor.r#type,
            Some(v1::executor_info::Type::Default as i32)
        );
        assert_eq!(group.executor.executor_id.value, "instance-prod_web.u-1");
        assert!((sum(&group.executor.resources, "cpus") - 0.1).abs() < 1e-9);
        assert_eq!(sum(&group.executor.resources, "mem"), 32.0);
        assert_eq!(sum(&group.executor.resources, "disk"), 10.0);
        assert!(group.executor.resources.iter().any(|r| r.name == "ports"));
        let tasks = &group.task_group.tasks;
        let ids: Vec<&str> = tasks.iter().map(|t| t.task_id.value.as_str()).collect();
        assert_eq!(
            ids,
            [
                "prod_web.instance-u-1.web.1",
                "prod_web.instance-u-1.side.1"
            ]
        );
        for t in tasks {
            assert!(t.executor.is_none());
            assert!((sum(&t.resources, "cpus") - 0.1).abs() < 1e-9);
            assert_eq!(sum(&t.resources, "mem"), 32.0);
        }
        let env: BTreeMap<String, String> = tasks[0]
            .command
            .as_ref()
            .unwrap()
            .environment
            .as_ref()
            .unwrap()
            .variables
            .iter()
            .map(|v| (v.name.clone(), v.value.clone().unwrap_or_default()))
            .collect();
        assert_eq!(env["ENDPOINT_HTTP_EP"], "31001");
        assert_eq!(env["EP_HOST_HTTP_EP"], "31001");
        assert_eq!(env["MARATHON_APP_ID"], "/prod/web");
        assert_eq!(env["MARATHON_CONTAINER_ID"], "web");
        assert_eq!(env["MESOS_EXECUTOR_ID"], "instance-prod_web.u-1");
        assert_eq!(env["FROM_POD"], "1");
        let check = tasks[0].health_check.as_ref().expect("health check");
        let http = check.http.as_ref().unwrap();
        assert_eq!((http.port, http.path.as_deref()), (31001, Some("/ping")));
        let volume = &tasks[1].container.as_ref().unwrap().volumes[0];
        let source = volume.source.as_ref().unwrap();
        assert_eq!(source.sandbox_path.as_ref().unwrap().path, "volumes/shared");
        assert_eq!(
            tasks[0].discovery.as_ref().unwrap().name.as_deref(),
            Some("web.prod")
        );
    }
}
