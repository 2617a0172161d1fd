//! Pods (Marathon 1.10's `/v2/pods`): the pod definition as the scheduler reasons about it,
//! its semantic validation (every problem, at Marathon's JSON paths), and how a pod rides the
//! app machinery. A pod is carried by an [`AppSpec`] whose `pod` field holds the containers:
//! instances, deployments, scaling, rolling restarts, backoff, constraints and the unreachable
//! strategy are the same code for both (Marathon's `RunSpec`), while what differs — one
//! LAUNCH_GROUP per instance ([`launch`]) and an instance condition derived from its tasks
//! ([`state`]) — lives here.

pub mod launch;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};

use super::app::{AppSpec, FetchUri, HealthCheck, HealthProtocol, INSTANCES_MAX, Violation};
use super::path::PathId;

/// What one container (or the executor) asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodResources {
    /// CPUs.
    pub cpus: f64,
    /// Memory, MiB.
    pub mem: f64,
    /// Disk, MiB.
    pub disk: f64,
    /// GPUs.
    pub gpus: u32,
}

impl PodResources {
    /// Marathon's default for the default executor of every pod instance
    /// (`executorResources`: 0.1 CPUs, 32 MiB, 10 MiB disk).
    pub const EXECUTOR_DEFAULT: PodResources = PodResources {
        cpus: 0.1,
        mem: 32.0,
        disk: 10.0,
        gpus: 0,
    };
}

/// A command: `shell` (run by `/bin/sh -c`) or `argv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodCommand {
    /// `{"shell": "…"}`.
    Shell(String),
    /// `{"argv": […]}`.
    Argv(Vec<String>),
}

/// A container's `exec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodExec {
    /// What to run.
    pub command: PodCommand,
    /// `overrideEntrypoint` as given (it only matters for an image's entrypoint).
    pub override_entrypoint: Option<bool>,
}

/// An endpoint: a named port of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEndpoint {
    /// Name, unique across the pod.
    pub name: String,
    /// The port the process listens on (container networks only).
    pub container_port: Option<u32>,
    /// The host port: 0 = any offered port, else exactly that one; `None`: no host port.
    pub host_port: Option<u32>,
    /// Protocols advertised in the task's DiscoveryInfo (`tcp` when empty).
    pub protocol: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// What a pod health check probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodProbe {
    /// HTTP GET on an endpoint of the container.
    Http {
        /// Endpoint name.
        endpoint: String,
        /// Path (Mesos probes `/` without one).
        path: Option<String>,
        /// `HTTP` or `HTTPS`.
        scheme: String,
    },
    /// A TCP connect to an endpoint of the container.
    Tcp {
        /// Endpoint name.
        endpoint: String,
    },
    /// A command in the container.
    Exec(PodCommand),
}

/// A container's `healthCheck` (run by the executor, as every pod check is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodHealthCheck {
    /// What it probes.
    pub probe: PodProbe,
    /// Failures are ignored this long after the start, until the first success.
    pub grace_period_seconds: u32,
    /// Seconds between probes.
    pub interval_seconds: u32,
    /// Failures in a row that kill the container (0: never).
    pub max_consecutive_failures: u32,
    /// Seconds before a probe counts as failed.
    pub timeout_seconds: u32,
    /// Seconds before the first probe.
    pub delay_seconds: u32,
}

/// A container's `volumeMounts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// The pod volume mounted.
    pub name: String,
    /// Where, inside the container's sandbox (relative) or filesystem.
    pub mount_path: String,
    /// Read-only.
    pub read_only: bool,
}

/// A container's `image` (`kind: DOCKER`; APPC images are refused when the pod is read): the
/// agent's Mesos containerizer pulls it from its registry and runs the container in its root
/// filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodImage {
    /// `id`: the Docker image reference.
    pub id: String,
    /// `forcePull` as given: pull even when the agent has the image (Mesos' `cached: false`).
    pub force_pull: Option<bool>,
    /// `pullConfig.secret`: the id of one of the pod's `secrets`, whose value is a Docker
    /// `config.json` with the registry's credentials.
    pub pull_config: Option<String>,
}

/// One container of a pod: one Mesos task of each instance.
#[derive(Debug, Clone, PartialEq)]
pub struct PodContainer {
    /// Name, unique in the pod; the last part of its task ids.
    pub name: String,
    /// What it asks for.
    pub resources: PodResources,
    /// What it runs (without one, the image's entrypoint).
    pub exec: Option<PodExec>,
    /// The filesystem image it runs in; `None`: the agent's filesystem.
    pub image: Option<PodImage>,
    /// Its ports.
    pub endpoints: Vec<PodEndpoint>,
    /// Its health check.
    pub health_check: Option<PodHealthCheck>,
    /// URIs fetched into its sandbox.
    pub artifacts: Vec<FetchUri>,
    /// Pod volumes it mounts.
    pub volume_mounts: Vec<VolumeMount>,
    /// Its environment (over the pod's).
    pub environment: BTreeMap<String, String>,
    /// Its variables whose value is a secret (`{"secret": "<id>"}`): variable → the id of one
    /// of the pod's `secrets` (over the pod's `env_secrets`).
    pub env_secrets: BTreeMap<String, String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Unix user (over the pod's).
    pub user: Option<String>,
    /// `lifecycle.killGracePeriodSeconds`.
    pub kill_grace_period_seconds: Option<f64>,
    /// `tty`: the container gets a terminal (its nested container's, behind the agent's I/O
    /// switchboard), which `drover task attach` reaches.
    pub tty: bool,
}

/// A pod-level volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodVolume {
    /// Name the containers mount it by.
    pub name: String,
    /// A host path (`host`); `None`: an ephemeral volume in the executor's sandbox, shared by
    /// the containers that mount it.
    pub host: Option<String>,
    /// `persistent.size` in MiB (type `root`): a local persistent volume, reserved and created
    /// for each instance on its agent and held by the instance's executor, which makes the pod
    /// resident.
    pub persistent_size_mb: Option<u64>,
}

/// Where a pod volume appears in the executor's sandbox (Marathon's `volumes/<name>`): every
/// container that mounts it links that directory, ephemeral or persistent alike.
pub fn volume_sandbox_path(name: &str) -> String {
    format!("volumes/{name}")
}

/// A pod network's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    /// The agent's network namespace.
    Host,
    /// A named container network.
    Container,
    /// The `container/bridge` network.
    Bridge,
}

impl NetworkMode {
    /// Marathon's spelling.
    pub fn name(self) -> &'static str {
        match self {
            NetworkMode::Host => "host",
            NetworkMode::Container => "container",
            NetworkMode::Bridge => "container/bridge",
        }
    }
}

/// One of the pod's `networks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodNetwork {
    /// Mode.
    pub mode: NetworkMode,
    /// Name (container networks).
    pub name: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// What a pod has beyond what every run spec has (id, user, environment, labels, instances and
/// the scheduling policy live on the carrying [`AppSpec`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PodSpec {
    /// The containers, in order.
    pub containers: Vec<PodContainer>,
    /// Pod volumes.
    pub volumes: Vec<PodVolume>,
    /// Networks (empty: the host's).
    pub networks: Vec<PodNetwork>,
    /// What the default executor of each instance gets.
    pub executor_resources: PodResources,
    /// `legacySharedCgroups`: the containers share the executor's cgroups (Mesos'
    /// `share_cgroups`), bounded only by the instance's total, instead of each its own with its
    /// resources as limits.
    pub legacy_shared_cgroups: bool,
}

impl PodSpec {
    /// Every endpoint, container by container, in order: the order of the instance's host
    /// ports.
    pub fn endpoints(&self) -> impl Iterator<Item = (&PodContainer, &PodEndpoint)> {
        self.containers
            .iter()
            .flat_map(|c| c.endpoints.iter().map(move |e| (c, e)))
    }

    /// The host ports an instance needs, in endpoint order: 0 = any offered port.
    pub fn host_port_requests(&self) -> Vec<u32> {
        self.endpoints().filter_map(|(_, e)| e.host_port).collect()
    }

    /// Whether the containers share the agent's network (no network, or `host`).
    pub fn host_network(&self) -> bool {
        self.networks.iter().all(|n| n.mode == NetworkMode::Host)
    }

    /// One container by name.
    pub fn container(&self, name: &str) -> Option<&PodContainer> {
        self.containers.iter().find(|c| c.name == name)
    }
}

/// The [`AppSpec`] that carries `pod` through the scheduler: Marathon's defaults for the
/// scheduling policy (the caller sets what the definition gives), the summed resources of the
/// executor and every container (what an offer must hold), no port definitions (pods have no
/// service ports), and one executor-run check per container health check so that deployments
/// wait for healthy instances as they do for apps.
pub fn carrier(id: PathId, pod: PodSpec) -> AppSpec {
    let mut app = AppSpec::new(id);
    let e = pod.executor_resources;
    app.cpus = e.cpus + pod.containers.iter().map(|c| c.resources.cpus).sum::<f64>();
    app.mem = e.mem + pod.containers.iter().map(|c| c.resources.mem).sum::<f64>();
    app.disk = e.disk + pod.containers.iter().map(|c| c.resources.disk).sum::<f64>();
    app.gpus = e.gpus + pod.containers.iter().map(|c| c.resources.gpus).sum::<u32>();
    app.port_definitions = Vec::new();
    app.health_checks = pod
        .containers
        .iter()
        .filter_map(|c| c.health_check.as_ref())
        .map(|h| {
            let protocol = match h.probe {
                PodProbe::Http { .. } => HealthProtocol::MesosHttp,
                PodProbe::Tcp { .. } => HealthProtocol::MesosTcp,
                PodProbe::Exec(_) => HealthProtocol::Command,
            };
            HealthCheck {
                grace_period_seconds: h.grace_period_seconds,
                interval_seconds: h.interval_seconds,
                timeout_seconds: h.timeout_seconds,
                max_consecutive_failures: h.max_consecutive_failures,
                delay_seconds: h.delay_seconds,
                ..HealthCheck::new(protocol)
            }
        })
        .collect();
    // The persistent volumes make the carrier resident, so reservations, relaunches and their
    // release are the resident apps' code path.
    app.persistent_volumes = pod
        .volumes
        .iter()
        .filter_map(|v| {
            v.persistent_size_mb
                .map(|size_mb| crate::marathon::reservation::PersistentVolume {
                    container_path: volume_sandbox_path(&v.name),
                    size_mb,
                })
        })
        .collect();
    app.pod = Some(Box::new(pod));
    app
}

/// A container name: Marathon's `strings.Name` (lowercase letters, digits and inner dashes).
fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

const NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// Checks the semantic rules of a pod carried by `app`; returns every problem, at the paths
/// of the pod JSON. What Drover cannot honour is refused here by name.
pub fn validate(app: &AppSpec, pod: &PodSpec) -> Vec<Violation> {
    let mut problems = Vec::new();
    let mut push = |path: String, message: &str| problems.push(Violation::new(path, message));
    if pod.containers.is_empty() {
        push("/containers".into(), "must not be empty");
    }
    let mut names = BTreeSet::new();
    let mut endpoint_names = BTreeSet::new();
    let mut host_ports = BTreeSet::new();
    let volumes: BTreeSet<&str> = pod.volumes.iter().map(|v| v.name.as_str()).collect();
    let host_network = pod.host_network();
    for (i, c) in pod.containers.iter().enumerate() {
        let at = |rest: &str| format!("/containers({i}){rest}");
        if !valid_name(&c.name) {
            push(
                at("/name"),
                &format!(
                    "'{}' must fully match regular expression '{NAME_PATTERN}'",
                    c.name
                ),
            );
        }
        if !names.insert(c.name.as_str()) {
            push("/containers".into(), "container names must be unique");
        }
        resource_problems(
            &c.resources,
            &at("/resources"),
            0.001,
            0.001,
            0.0,
            &mut push,
        );
        if c.exec.is_none() && c.image.is_none() {
            push(
                at("/exec"),
                "a command is required: a pod container without an image has no entrypoint to \
                 run",
            );
        }
        if let Some(image) = &c.image
            && let Some(why) = crate::agent::docker::image_problem(&image.id)
        {
            // The agent fetches the image from a Docker registry: the same grammar as Docker's.
            push(at("/image/id"), &why);
        }
        if let Some(PodExec {
            command: PodCommand::Shell(s),
            ..
        }) = &c.exec
            && s.is_empty()
        {
            push(at("/exec/command/shell"), "must not be empty");
        }
        if let Some(PodExec {
            command: PodCommand::Argv(argv),
            ..
        }) = &c.exec
            && argv.is_empty()
        {
            push(at("/exec/command/argv"), "must not be empty");
        }
        for (j, e) in c.endpoints.iter().enumerate() {
            let ep = |rest: &str| at(&format!("/endpoints({j}){rest}"));
            if !valid_name(&e.name) {
                push(
                    ep("/name"),
                    &format!(
                        "'{}' must fully match regular expression '{NAME_PATTERN}'",
                        e.name
                    ),
                );
            }
            if !endpoint_names.insert(e.name.as_str()) {
                push(
                    "/".into(),
                    "endpoint names nust be unique across all containers",
                );
            }
            if host_network && e.container_port.is_some() {
                push(
                    ep("/containerPort"),
                    "is not allowed when using host-mode networking",
                );
            }
            for (path, port) in [
                ("/hostPort", e.host_port),
                ("/containerPort", e.container_port),
            ] {
                if port.is_some_and(|p| p > 65535) {
                    push(ep(path), "got a port above 65535");
                }
            }
            if let Some(p) = e.host_port.filter(|p| *p != 0)
                && !host_ports.insert(p)
            {
                push(
                    "/".into(),
                    "host ports must be unique across all containers",
                );
            }
            let distinct: BTreeSet<&String> = e.protocol.iter().collect();
            if distinct.len() != e.protocol.len() {
                push(
                    ep("/protocol"),
                    "Duplicate protocols within the same endpoint are not allowed",
                );
            }
            for (k, p) in e.protocol.iter().enumerate() {
                if !matches!(
                    p.as_str(),
                    "tcp" | "udp" | "http" | "https" | "grpc" | "http2"
                ) {
                    push(
                        ep(&format!("/protocol({k})")),
                        "protocol must be one of tcp, udp, http, https, grpc or http2",
                    );
                }
            }
        }
        if let Some(h) = &c.health_check {
            let endpoint = match &h.probe {
                PodProbe::Http { endpoint, .. } => Some(("/http/endpoint", endpoint)),
                PodProbe::Tcp { endpoint } => Some(("/tcp/endpoint", endpoint)),
                PodProbe::Exec(_) => None,
            };
            if let Some((path, name)) = endpoint {
                match c.endpoints.iter().find(|e| &e.name == name) {
                    None => push(
                        at(&format!("/healthCheck{path}")),
                        "contained in the container endpoints",
                    ),
                    Some(e) if host_network && e.host_port.is_none() => push(
                        at(&format!("/healthCheck{path}")),
                        "the endpoint needs a hostPort: on the host network the check probes it",
                    ),
                    Some(_) => {}
                }
            }
            if let PodProbe::Http { scheme, .. } = &h.probe
                && !matches!(scheme.as_str(), "HTTP" | "HTTPS")
            {
                push(
                    at("/healthCheck/http/scheme"),
                    "scheme must be one of HTTP or HTTPS",
                );
            }
            if h.interval_seconds == 0 {
                push(
                    at("/healthCheck/intervalSeconds"),
                    "got 0, expected 1 or more",
                );
            }
        }
        for (j, m) in c.volume_mounts.iter().enumerate() {
            if !volumes.contains(m.name.as_str()) {
                push(
                    at(&format!("/volumeMounts({j})/name")),
                    "Referenced Volume in VolumeMount should exist",
                );
            }
            if m.mount_path.is_empty() {
                push(
                    at(&format!("/volumeMounts({j})/mountPath")),
                    "must not be empty",
                );
            }
        }
        if c.kill_grace_period_seconds
            .is_some_and(|s| !s.is_finite() || s < 0.0)
        {
            push(
                at("/lifecycle/killGracePeriodSeconds"),
                "expected 0.0 or more",
            );
        }
    }
    let mut volume_names = BTreeSet::new();
    for (i, v) in pod.volumes.iter().enumerate() {
        if !volume_names.insert(v.name.as_str()) {
            push("/volumes".into(), "volume names must be unique");
        }
        if v.persistent_size_mb == Some(0) {
            push(
                format!("/volumes({i})/persistent/size"),
                "got 0, expected 1 or more",
            );
        }
        if v.persistent_size_mb.is_some() && !valid_name(&v.name) {
            // The name is a directory of the sandbox and a part of the persistence id.
            push(
                format!("/volumes({i})/name"),
                &format!(
                    "'{}' must fully match regular expression '{NAME_PATTERN}'",
                    v.name
                ),
            );
        }
        if v.host.is_some() {
            push(
                format!("/volumes({i})/host"),
                "host volumes are not supported: Drover's agent does not mount host paths into \
                 containers; use an ephemeral volume (a name only) to share files between \
                 containers",
            );
        }
        let used = pod
            .containers
            .iter()
            .any(|c| c.volume_mounts.iter().any(|m| m.name == v.name));
        if !used {
            push(
                format!("/volumes({i})"),
                "volume must be referenced by at least one container",
            );
        }
    }
    for (i, n) in pod.networks.iter().enumerate() {
        if n.mode != NetworkMode::Host {
            push(
                format!("/networks({i})/mode"),
                &format!(
                    "'{}' networks are not supported: Drover's agent runs containers on the \
                     host's network; use mode 'host'",
                    n.mode.name()
                ),
            );
        }
    }
    if pod.networks.len() > 1 {
        push("/networks".into(), "at most one network is supported");
    }
    resource_problems(
        &pod.executor_resources,
        "/executorResources",
        0.1,
        32.0,
        10.0,
        &mut push,
    );
    if app.instances > INSTANCES_MAX {
        push(
            "/scaling/instances".into(),
            &format!("got {}, expected {INSTANCES_MAX} or less", app.instances),
        );
    }
    if !app.backoff_factor.is_finite() || app.backoff_factor < 1.0 {
        push(
            "/scheduling/backoff/backoffFactor".into(),
            &format!("got {}, expected 1.0 or more", app.backoff_factor),
        );
    }
    let us = app.upgrade_strategy;
    for (path, value) in [
        ("minimumHealthCapacity", us.minimum_health_capacity),
        ("maximumOverCapacity", us.maximum_over_capacity),
    ] {
        if !(0.0..=1.0).contains(&value) {
            push(
                format!("/scheduling/upgrade/{path}"),
                &format!("got {value}, expected between 0.0 and 1.0"),
            );
        }
    }
    for (path, message) in app.unreachable_strategy.validate() {
        push(format!("/scheduling{path}"), &message);
    }
    if app.is_resident() {
        resident_problems(app, &mut push);
    }
    problems.sort();
    problems.dedup();
    problems
}

/// Marathon 1.10's rules for a pod with persistent volumes: reservations are made for the
/// pod's own role out of unreserved resources, a restart never needs a second set of volumes,
/// and an unreachable instance is waited for (its data is on that agent).
fn resident_problems(app: &AppSpec, push: &mut impl FnMut(String, &str)) {
    if app.role == "*" {
        push(
            "/role".into(),
            "Resident pods cannot have the role *: reservations are made for the pod's role, \
             which must be the scheduler's --mesos_role",
        );
    }
    if let Some(roles) = &app.accepted_resource_roles
        && roles.as_slice() != ["*"]
    {
        push(
            "/scheduling/placement/acceptedResourceRoles".into(),
            "A resident pod must have `acceptedResourceRoles = [\"*\"]`.",
        );
    }
    let over = app.upgrade_strategy.maximum_over_capacity;
    if over != 0.0 {
        push(
            "/scheduling/upgrade/maximumOverCapacity".into(),
            &format!("got {over}, expected 0.0"),
        );
    }
    if app.unreachable_strategy != crate::marathon::unreachable::UnreachableStrategy::Disabled {
        push(
            "/scheduling/unreachableStrategy".into(),
            "unreachableStrategy must be disabled for pods with persistent volumes",
        );
    }
}

fn resource_problems(
    r: &PodResources,
    at: &str,
    min_cpus: f64,
    min_mem: f64,
    min_disk: f64,
    push: &mut impl FnMut(String, &str),
) {
    for (name, value, min) in [
        ("cpus", r.cpus, min_cpus),
        ("mem", r.mem, min_mem),
        ("disk", r.disk, min_disk),
    ] {
        if !value.is_finite() || value < min {
            push(
                format!("{at}/{name}"),
                &format!("got {value}, expected {min} or more"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn container(name: &str) -> PodContainer {
        PodContainer {
            name: name.into(),
            resources: PodResources {
                cpus: 0.1,
                mem: 32.0,
                disk: 0.0,
                gpus: 0,
            },
            exec: Some(PodExec {
                command: PodCommand::Shell("sleep 100".into()),
                override_entrypoint: None,
            }),
            image: None,
            endpoints: Vec::new(),
            health_check: None,
            artifacts: Vec::new(),
            volume_mounts: Vec::new(),
            environment: BTreeMap::new(),
            env_secrets: BTreeMap::new(),
            labels: BTreeMap::new(),
            user: None,
            kill_grace_period_seconds: None,
            tty: false,
        }
    }

    pub(crate) fn pod(containers: Vec<PodContainer>) -> PodSpec {
        PodSpec {
            containers,
            volumes: Vec::new(),
            networks: Vec::new(),
            executor_resources: PodResources::EXECUTOR_DEFAULT,
            legacy_shared_cgroups: false,
        }
    }

    fn id() -> PathId {
        PathId::parse_app_id("/pod").unwrap()
    }

    #[test]
    fn the_carrier_sums_resources_and_keeps_no_service_ports() {
        let mut web = container("web");
        web.endpoints.push(PodEndpoint {
            name: "http".into(),
            container_port: None,
            host_port: Some(0),
            protocol: vec!["http".into()],
            labels: BTreeMap::new(),
        });
        web.health_check = Some(PodHealthCheck {
            probe: PodProbe::Http {
                endpoint: "http".into(),
                path: Some("/".into()),
                scheme: "HTTP".into(),
            },
            grace_period_seconds: 30,
            interval_seconds: 2,
            max_consecutive_failures: 3,
            timeout_seconds: 1,
            delay_seconds: 1,
        });
        let app = carrier(id(), pod(vec![web, container("side")]));
        assert!((app.cpus - 0.3).abs() < 1e-9);
        assert_eq!((app.mem, app.disk), (96.0, 10.0));
        assert!(app.port_definitions.is_empty());
        assert!(app.service_ports().is_empty());
        assert_eq!(app.host_port_requests(), vec![0]);
        assert_eq!(app.health_checks.len(), 1);
        assert_eq!(app.health_checks[0].interval_seconds, 2);
        assert_eq!(validate(&app, app.pod.as_ref().unwrap()), Vec::new());
    }

    #[test]
    fn every_problem_is_named_at_its_path() {
        let mut a = container("a");
        a.resources.cpus = 0.0;
        a.volume_mounts.push(VolumeMount {
            name: "nope".into(),
            mount_path: "x".into(),
            read_only: false,
        });
        a.health_check = Some(PodHealthCheck {
            probe: PodProbe::Tcp {
                endpoint: "missing".into(),
            },
            grace_period_seconds: 1,
            interval_seconds: 1,
            max_consecutive_failures: 1,
            timeout_seconds: 1,
            delay_seconds: 1,
        });
        let mut p = pod(vec![a, container("a")]);
        p.networks.push(PodNetwork {
            mode: NetworkMode::Container,
            name: Some("n".into()),
            labels: BTreeMap::new(),
        });
        p.volumes.push(PodVolume {
            persistent_size_mb: None,
            name: "h".into(),
            host: Some("/etc".into()),
        });
        let app = carrier(id(), p);
        let paths: Vec<String> = validate(&app, app.pod.as_ref().unwrap())
            .into_iter()
            .map(|v| v.path)
            .collect();
        assert_eq!(
            paths,
            [
                "/containers",
                "/containers(0)/healthCheck/tcp/endpoint",
                "/containers(0)/resources/cpus",
                "/containers(0)/volumeMounts(0)/name",
                "/networks(0)/mode",
                "/volumes(0)",
                "/volumes(0)/host",
            ]
        );
    }
}
