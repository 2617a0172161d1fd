//! Offer matching: whether an offer can hold one more instance of an app (resources, roles,
//! host ports, constraints), what it consumes, and the Mesos `TaskInfo` that launches it.
//!
//! Resource arithmetic is kept private and minimal here (scalars and port ranges); it will move
//! to `drover_core::resources` once that exists.

use std::collections::BTreeMap;

use drover_wire::v1;

use super::app::{AppSpec, HealthProtocol};
use super::constraint::{AgentView, format_scalar};
use super::container::AppContainer;

/// Why an offer could not take an instance, named as Marathon's `/v2/queue` reject summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RejectReason {
    /// No resource of an accepted role.
    UnfulfilledRole,
    /// A constraint said no.
    UnfulfilledConstraint,
    /// Not enough CPUs.
    InsufficientCpus,
    /// Not enough memory.
    InsufficientMemory,
    /// Not enough disk.
    InsufficientDisk,
    /// Not enough GPUs.
    InsufficientGpus,
    /// The ports asked for are not offered.
    InsufficientPorts,
}

impl RejectReason {
    /// Every reason, in the order `/v2/queue` lists them.
    pub const ALL: [RejectReason; 7] = [
        RejectReason::UnfulfilledRole,
        RejectReason::UnfulfilledConstraint,
        RejectReason::InsufficientCpus,
        RejectReason::InsufficientMemory,
        RejectReason::InsufficientDisk,
        RejectReason::InsufficientGpus,
        RejectReason::InsufficientPorts,
    ];

    /// Marathon's name.
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::UnfulfilledRole => "UnfulfilledRole",
            RejectReason::UnfulfilledConstraint => "UnfulfilledConstraint",
            RejectReason::InsufficientCpus => "InsufficientCpus",
            RejectReason::InsufficientMemory => "InsufficientMemory",
            RejectReason::InsufficientDisk => "InsufficientDisk",
            RejectReason::InsufficientGpus => "InsufficientGpus",
            RejectReason::InsufficientPorts => "InsufficientPorts",
        }
    }
}

/// The role a resource is allocated or reserved to, for `acceptedResourceRoles`. The
/// deprecated `role` field is still read: pre-reservation-refinement agents set only it.
#[allow(deprecated)]
fn resource_role(resource: &v1::Resource) -> String {
    resource
        .reservations
        .last()
        .and_then(|r| r.role.clone())
        .or_else(|| resource.role.clone())
        .unwrap_or_else(|| "*".to_owned())
}

/// What is left of an offer while instances are placed on it.
#[derive(Debug, Clone)]
pub struct OfferPool {
    resources: Vec<v1::Resource>,
    /// The agent as constraints see it (shared with the placements made from this offer).
    pub agent: std::sync::Arc<AgentView>,
}

impl OfferPool {
    /// Starts from everything the offer holds.
    pub fn new(offer: &v1::Offer) -> Self {
        OfferPool {
            resources: offer.resources.clone(),
            agent: std::sync::Arc::new(agent_view(offer)),
        }
    }

    fn accepted<'a>(&'a self, app: &'a AppSpec, name: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.resources.iter().enumerate().filter_map(move |(i, r)| {
            // Resources reserved with labels are an instance's (ours or another framework's):
            // only a launch on that reservation uses them (`marathon::reservation`).
            let ok = r.name == name
                && r.disk.is_none()
                && r.revocable.is_none()
                && !super::reservation::is_labelled(r)
                && app
                    .accepted_resource_roles
                    .as_ref()
                    .is_none_or(|roles| roles.contains(&resource_role(r)));
            ok.then_some(i)
        })
    }

    fn scalar_available(&self, app: &AppSpec, name: &str) -> f64 {
        self.accepted(app, name)
            .map(|i| self.resources[i].scalar.as_ref().map_or(0.0, |s| s.value))
            .sum()
    }

    fn ports_available(&self, app: &AppSpec) -> Vec<(usize, u64)> {
        let mut ports = Vec::new();
        for i in self.accepted(app, "ports") {
            for range in self.resources[i].ranges.iter().flat_map(|r| r.range.iter()) {
                // Bound the walk: a range like 0-2^64 must not make us enumerate it.
                let end = range.end.min(range.begin.saturating_add(65_536));
                for port in range.begin..=end {
                    ports.push((i, port));
                }
            }
        }
        ports
    }

    /// Removes and returns every resource `pick` selects (the resources reserved for one
    /// instance).
    pub fn take_where(&mut self, pick: impl Fn(&v1::Resource) -> bool) -> Vec<v1::Resource> {
        let (taken, left) = std::mem::take(&mut self.resources)
            .into_iter()
            .partition(|r| pick(r));
        self.resources = left;
        taken
    }

    /// The resources still in the pool.
    pub fn resources(&self) -> &[v1::Resource] {
        &self.resources
    }

    /// Tries to take one instance of `app`; on success returns the resources to launch it with
    /// and the host ports, and removes them from the pool.
    pub fn take(&mut self, app: &AppSpec) -> Result<(Vec<v1::Resource>, Vec<u32>), RejectReason> {
        const EPSILON: f64 = 1e-9;
        let any_role = ["cpus", "mem"]
            .iter()
            .any(|name| self.accepted(app, name).next().is_some());
        if !any_role {
            return Err(RejectReason::UnfulfilledRole);
        }
        // A custom executor's `executorResources` are taken with the task's (and split off
        // for its `ExecutorInfo` by [`task_info`]).
        let extra = executor_resources(app).unwrap_or(crate::marathon::pod::PodResources {
            cpus: 0.0,
            mem: 0.0,
            disk: 0.0,
            gpus: 0,
        });
        let (cpus, mem, disk) = (
            app.cpus + extra.cpus,
            app.mem + extra.mem,
            app.disk + extra.disk,
        );
        for (name, wanted, reason) in [
            ("cpus", cpus, RejectReason::InsufficientCpus),
            ("mem", mem, RejectReason::InsufficientMemory),
            ("disk", disk, RejectReason::InsufficientDisk),
            ("gpus", f64::from(app.gpus), RejectReason::InsufficientGpus),
        ] {
            if wanted > 0.0 && self.scalar_available(app, name) + EPSILON < wanted {
                return Err(reason);
            }
        }
        let available = self.ports_available(app);
        let mut chosen: Vec<(usize, u64)> = Vec::new();
        for asked in app.host_port_requests() {
            let pick = if asked != 0 {
                available
                    .iter()
                    .find(|(_, p)| *p == u64::from(asked))
                    .copied()
            } else {
                // Any port no earlier request of this task took (and none a later fixed request
                // names, so a fixed port after a dynamic one is not taken from under it).
                let fixed: Vec<u64> = app
                    .host_port_requests()
                    .into_iter()
                    .filter(|p| *p != 0)
                    .map(u64::from)
                    .collect();
                available
                    .iter()
                    .find(|(_, p)| !chosen.iter().any(|(_, c)| c == p) && !fixed.contains(p))
                    .copied()
            };
            match pick {
                Some(port) if !chosen.contains(&port) => chosen.push(port),
                _ => return Err(RejectReason::InsufficientPorts),
            }
        }
        let mut consumed = Vec::new();
        for (name, wanted) in [
            ("cpus", cpus),
            ("mem", mem),
            ("disk", disk),
            ("gpus", f64::from(app.gpus)),
        ] {
            let mut left = wanted;
            let indices: Vec<usize> = self.accepted(app, name).collect();
            for i in indices {
                if left <= EPSILON {
                    break;
                }
                let resource = &mut self.resources[i];
                let have = resource.scalar.as_ref().map_or(0.0, |s| s.value);
                let take = have.min(left);
                if take <= 0.0 {
                    continue;
                }
                let mut piece = resource.clone();
                piece.scalar = Some(v1::value::Scalar { value: take });
                consumed.push(piece);
                resource.scalar = Some(v1::value::Scalar { value: have - take });
                left -= take;
            }
        }
        for (i, port) in &chosen {
            let mut piece = self.resources[*i].clone();
            piece.ranges = Some(v1::value::Ranges {
                range: vec![v1::value::Range {
                    begin: *port,
                    end: *port,
                }],
            });
            consumed.push(piece);
            remove_port(&mut self.resources[*i], *port);
        }
        // The pieces go into the task's `TaskInfo`, which waits in the launch queue until the
        // master has taken the ACCEPT: without the slack a vector grown by pushing keeps (two
        // empty 280-byte slots for the usual cpus and mem).
        consumed.shrink_to_fit();
        Ok((consumed, chosen.iter().map(|(_, p)| *p as u32).collect()))
    }
}

fn remove_port(resource: &mut v1::Resource, port: u64) {
    let Some(ranges) = resource.ranges.as_mut() else {
        return;
    };
    let mut next = Vec::new();
    for range in ranges.range.drain(..) {
        if port < range.begin || port > range.end {
            next.push(range);
            continue;
        }
        if range.begin < port {
            next.push(v1::value::Range {
                begin: range.begin,
                end: port - 1,
            });
        }
        if port < range.end {
            next.push(v1::value::Range {
                begin: port + 1,
                end: range.end,
            });
        }
    }
    ranges.range = next;
}

/// What constraints see of an offer's agent.
pub fn agent_view(offer: &v1::Offer) -> AgentView {
    let fault = offer.domain.as_ref().and_then(|d| d.fault_domain.as_ref());
    let mut attributes = BTreeMap::new();
    for attribute in &offer.attributes {
        let value = if let Some(text) = &attribute.text {
            text.value.clone()
        } else if let Some(scalar) = &attribute.scalar {
            format_scalar(scalar.value)
        } else if let Some(ranges) = &attribute.ranges {
            let mut parts: Vec<_> = ranges.range.iter().map(|r| (r.begin, r.end)).collect();
            parts.sort();
            let parts: Vec<_> = parts.iter().map(|(b, e)| format!("{b}-{e}")).collect();
            format!("[{}]", parts.join(","))
        } else if let Some(set) = &attribute.set {
            let mut items = set.item.clone();
            items.sort();
            format!("{{{}}}", items.join(","))
        } else {
            continue;
        };
        attributes.insert(attribute.name.clone(), value);
    }
    AgentView {
        hostname: offer.hostname.clone(),
        region: fault.map(|f| f.region.name.clone()),
        zone: fault.map(|f| f.zone.name.clone()),
        attributes,
    }
}

/// A MESOS container's secret volumes (`secret_volumes`) added to its `ContainerInfo`: each a
/// `SECRET` volume source referring to the secret's `source`, at the sandbox-relative path.
fn with_secret_volumes(
    app: &AppSpec,
    container: Option<v1::ContainerInfo>,
) -> Option<v1::ContainerInfo> {
    let mut container = container?;
    for (path, id) in &app.secret_volumes {
        // Validated when the app was accepted: every id names a secret.
        let Some(source) = app.secrets.get(id) else {
            continue;
        };
        container.volumes.push(v1::Volume {
            mode: v1::volume::Mode::Ro as i32,
            container_path: path.clone(),
            source: Some(v1::volume::Source {
                r#type: Some(v1::volume::source::Type::Secret as i32),
                secret: Some(reference_secret(source)),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    Some(container)
}

/// A MESOS container's `docker.pullConfig`: the image's `docker.config`, a `REFERENCE` secret
/// named by the secret's `source`, which the agent resolves from its secret store.
fn with_pull_config(
    app: &AppSpec,
    container: Option<v1::ContainerInfo>,
) -> Option<v1::ContainerInfo> {
    let mut container = container?;
    let Some(AppContainer::MesosDocker(mesos)) = &app.container else {
        return Some(container);
    };
    // Validated when the app was accepted: the id names a secret.
    let source = mesos
        .pull_config
        .as_ref()
        .and_then(|id| app.secrets.get(id));
    if let Some(source) = source
        && let Some(docker) = container
            .mesos
            .as_mut()
            .and_then(|m| m.image.as_mut())
            .and_then(|i| i.docker.as_mut())
    {
        docker.config = Some(reference_secret(source));
    }
    Some(container)
}

/// `tty: true`: the task's MESOS container (a plain one when the app has none) asks for a
/// terminal. Docker containers with `tty` are refused when the app is accepted.
fn with_tty(app: &AppSpec, container: Option<v1::ContainerInfo>) -> Option<v1::ContainerInfo> {
    if !app.tty {
        return container;
    }
    let mut container = container.unwrap_or_else(|| v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        ..Default::default()
    });
    container.tty_info = Some(v1::TtyInfo { window_size: None });
    Some(container)
}

/// A `REFERENCE` secret the agent resolves from its secret store by `source`.
pub(crate) fn reference_secret(source: &str) -> v1::Secret {
    v1::Secret {
        r#type: Some(v1::secret::Type::Reference as i32),
        reference: Some(v1::secret::Reference {
            name: source.to_owned(),
            key: None,
        }),
        value: None,
    }
}

/// An environment variable whose value the agent resolves from its secret store: Mesos'
/// `SECRET` variable with a `REFERENCE` secret named by the app's `source`.
pub(crate) fn secret_variable(name: &str, source: &str) -> v1::environment::Variable {
    v1::environment::Variable {
        name: name.to_owned(),
        r#type: Some(v1::environment::variable::Type::Secret as i32),
        value: None,
        secret: Some(reference_secret(source)),
    }
}

fn variable(name: &str, value: &str) -> v1::environment::Variable {
    v1::environment::Variable {
        name: name.to_owned(),
        r#type: None,
        value: Some(value.to_owned()),
        secret: None,
    }
}

/// Builds the `TaskInfo` for an instance's task: command or arguments, environment (the app's
/// plus `PORT0…`, `PORTS`, `HOST`, `MARATHON_APP_ID`, …), fetch URIs, labels, kill policy and
/// the executor-side health check.
pub fn task_info(
    app: &AppSpec,
    task_id: &str,
    agent_id: &str,
    host: &str,
    resources: Vec<v1::Resource>,
    host_ports: &[u32],
) -> v1::TaskInfo {
    let mut env: BTreeMap<String, String> = app.env.clone();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_owned(), v);
    };
    set("MARATHON_APP_ID", app.id.to_string());
    set("MARATHON_APP_VERSION", super::timestamp(app.version_ms));
    set("MARATHON_APP_RESOURCE_CPUS", app.cpus.to_string());
    set("MARATHON_APP_RESOURCE_MEM", app.mem.to_string());
    set("MARATHON_APP_RESOURCE_DISK", app.disk.to_string());
    set("MARATHON_APP_RESOURCE_GPUS", app.gpus.to_string());
    set(
        "MARATHON_APP_LABELS",
        app.labels.keys().cloned().collect::<Vec<_>>().join(" "),
    );
    set("MESOS_TASK_ID", task_id.to_owned());
    set("HOST", host.to_owned());
    if let Some(user) = &app.user {
        set("MARATHON_APP_USER", user.clone());
    }
    let ports: Vec<String> = host_ports.iter().map(u32::to_string).collect();
    let declared = declared_ports(app);
    for (i, port) in ports.iter().enumerate() {
        set(&format!("PORT{i}"), port.clone());
        let Some((requested, name)) = declared.get(i) else {
            continue;
        };
        if let Some(name) = name {
            set(
                &format!("PORT_{}", name.to_ascii_uppercase().replace('-', "_")),
                port.clone(),
            );
        }
        if *requested != 0 {
            set(&format!("PORT_{requested}"), port.clone());
        }
    }
    if let Some(first) = ports.first() {
        set("PORT", first.clone());
    }
    set("PORTS", ports.join(","));
    let (shell, value, arguments) = match &app.cmd {
        Some(cmd) => (true, Some(cmd.clone()), Vec::new()),
        // A task with an image (DOCKER, or MESOS with `docker.image`) and without `cmd` runs
        // the image's entrypoint with `args` (as Marathon sent it: no value, shell false).
        None if app.runs_image() => (false, None, app.args.clone()),
        None => (
            false,
            Some(app.args.first().cloned().unwrap_or_default()),
            app.args.clone(),
        ),
    };
    let command = v1::CommandInfo {
        uris: app
            .fetch
            .iter()
            .map(|f| v1::command_info::Uri {
                value: f.uri.clone(),
                executable: Some(f.executable),
                extract: Some(f.extract),
                cache: Some(f.cache),
                output_file: f.dest_path.clone(),
            })
            .collect(),
        environment: Some(v1::Environment {
            variables: env
                .iter()
                .map(|(k, v)| variable(k, v))
                .chain(app.env_secrets.iter().filter_map(|(name, id)| {
                    // Validated when the app was accepted: every id names a secret.
                    app.secrets
                        .get(id)
                        .map(|source| secret_variable(name, source))
                }))
                .collect(),
        }),
        shell: Some(shell),
        value,
        arguments,
        user: app.user.clone(),
    };
    let labels = (!app.labels.is_empty()).then(|| v1::Labels {
        labels: app
            .labels
            .iter()
            .map(|(k, v)| v1::Label {
                key: k.clone(),
                value: Some(v.clone()),
            })
            .collect(),
    });
    let task = v1::TaskInfo {
        name: app.id.safe(),
        task_id: v1::TaskId {
            value: task_id.to_owned(),
        },
        agent_id: v1::AgentId {
            value: agent_id.to_owned(),
        },
        resources,
        command: Some(command),
        health_check: mesos_health_check(app, host_ports),
        check: super::check::check_info(app, host_ports),
        container: with_tty(
            app,
            with_secret_volumes(
                app,
                with_pull_config(
                    app,
                    app.container
                        .as_ref()
                        .and_then(|c| c.container_info(host_ports)),
                ),
            ),
        )
        .map(Box::new),
        discovery: Some(discovery_info(app, host_ports)),
        kill_policy: app.task_kill_grace_period_seconds.map(|s| v1::KillPolicy {
            grace_period: Some(v1::DurationInfo {
                nanoseconds: i64::try_from(s.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX),
            }),
        }),
        labels,
        ..Default::default()
    };
    match custom_executor(app) {
        Some(path) => under_custom_executor(app, path, task),
        None => task,
    }
}

/// The `executorResources` of an app run by a custom executor (a pod's executor resources are
/// its carrier's own).
fn executor_resources(app: &AppSpec) -> Option<crate::marathon::pod::PodResources> {
    if app.pod.is_some() || custom_executor(app).is_none() {
        return None;
    }
    app.executor_resources
}

/// The path of the app's custom executor, if it has one. Marathon's `executor`: empty (the
/// scheduler's default) and `//cmd` are the command executor; anything else is a path.
pub fn custom_executor(app: &AppSpec) -> Option<&str> {
    match app.executor.as_str() {
        "" | "//cmd" => None,
        path => Some(path),
    }
}

/// Moves the task under a custom executor, as Marathon 1.10 did: the executor
/// (`marathon-<task id>`) is the path made executable and run through the shell with the app's
/// command (or its arguments) after it, with the task's environment, fetched URIs and user;
/// the task's container becomes the executor's. The task then has no command of its own, so
/// the custom executor decides what runs and which updates the task gets.
fn under_custom_executor(app: &AppSpec, path: &str, mut task: v1::TaskInfo) -> v1::TaskInfo {
    let cmd = app.cmd.clone().unwrap_or_else(|| app.args.join(" "));
    // Marathon quoted the path without escaping it; a quote inside is escaped here.
    let quoted = format!("'{}'", path.replace('\'', "'\\''"));
    let mut command = task.command.take().unwrap_or_default();
    command.value = Some(format!("chmod ug+rx {quoted} && exec {quoted} {cmd}"));
    command.shell = Some(true);
    command.arguments = Vec::new();
    // The executor's own resources were matched with the task's: split them off.
    let resources = match executor_resources(app) {
        Some(r) => {
            let carved = crate::marathon::pod::launch::carve_all(&mut task.resources, r);
            task.resources
                .retain(|p| p.scalar.as_ref().is_none_or(|s| s.value > 1e-9));
            carved
        }
        None => Vec::new(),
    };
    task.executor = Some(v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: format!("marathon-{}", task.task_id.value),
        },
        command: Some(command),
        container: task.container.take(),
        resources,
        ..Default::default()
    });
    task
}

/// For each of a task's ports (in order), the port the app declared for it (a port definition's
/// `port`, or a mapping's `containerPort`; 0 = none) and its name: Marathon's `PORT_<port>` and
/// `PORT_<NAME>` variables.
fn declared_ports(app: &AppSpec) -> Vec<(u32, Option<String>)> {
    match app.docker() {
        Some(docker) if app.uses_port_mappings() => docker
            .port_mappings
            .iter()
            .filter(|m| m.host_port.is_some())
            .map(|m| (m.container_port, m.name.clone()))
            .collect(),
        _ => app
            .port_definitions
            .iter()
            .map(|d| (d.port, d.name.clone()))
            .collect(),
    }
}

/// The task's `DiscoveryInfo`, as Marathon sets it: visible to the framework, named after the
/// app, one port per host port (and protocol) with the declared name and labels, which is what
/// Mesos-DNS and service-discovery tools read from the master's state.
fn discovery_info(app: &AppSpec, host_ports: &[u32]) -> v1::DiscoveryInfo {
    let declared: Vec<(Option<String>, String, BTreeMap<String, String>)> = match app.docker() {
        Some(docker) if app.uses_port_mappings() => docker
            .port_mappings
            .iter()
            .filter(|m| m.host_port.is_some())
            .map(|m| (m.name.clone(), m.protocol.clone(), m.labels.clone()))
            .collect(),
        _ => app
            .port_definitions
            .iter()
            .map(|d| (d.name.clone(), d.protocol.clone(), d.labels.clone()))
            .collect(),
    };
    let mut ports = Vec::new();
    for (port, (name, protocols, labels)) in host_ports.iter().zip(&declared) {
        for protocol in protocols.split(',') {
            ports.push(v1::Port {
                number: *port,
                name: name.clone(),
                protocol: Some(protocol.to_owned()),
                visibility: None,
                labels: (!labels.is_empty()).then(|| v1::Labels {
                    labels: labels
                        .iter()
                        .map(|(k, v)| v1::Label {
                            key: k.clone(),
                            value: Some(v.clone()),
                        })
                        .collect(),
                }),
            });
        }
    }
    v1::DiscoveryInfo {
        visibility: v1::discovery_info::Visibility::Framework as i32,
        name: Some(app.id.safe()),
        ports: Some(v1::Ports { ports }),
        ..Default::default()
    }
}

/// Marathon's `HealthCheck.DefaultFirstHealthCheckAfter`: the first probe of its own checks.
const MARATHON_FIRST_CHECK_AFTER_SECONDS: u32 = 5;

/// The executor-side health check of an app, if it has one, built as Marathon 1.10's
/// `MesosHealthCheck.toMesos` builds it.
fn mesos_health_check(app: &AppSpec, host_ports: &[u32]) -> Option<v1::HealthCheck> {
    use v1::health_check::Type;
    let check = app
        .health_checks
        .iter()
        .find(|c| c.protocol.runs_on_executor())?;
    let index = check.port_index.unwrap_or(0) as usize;
    // On a container network `portIndex` addresses the port mappings (published or not).
    // Mesos runs its own checks (MESOS_*) inside the container's network namespace, so
    // Marathon gives them the container port; its HTTP/TCP checks probe the published host
    // port, whose place among the task's ports counts published mappings only.
    let (container_port, host_index) = match app.docker().filter(|_| app.uses_port_mappings()) {
        Some(docker) => {
            let mapping = docker.port_mappings.get(index);
            let host_index = mapping.filter(|m| m.host_port.is_some()).map(|_| {
                docker.port_mappings[..index]
                    .iter()
                    .filter(|m| m.host_port.is_some())
                    .count()
            });
            let container_port = mapping
                .map(|m| m.container_port)
                .filter(|p| *p != 0 && (check.protocol.is_mesos() || host_index.is_none()));
            (container_port, host_index)
        }
        None => (None, Some(index)),
    };
    let port = check
        .port
        .or(container_port)
        .or_else(|| host_index.and_then(|i| host_ports.get(i).copied()));
    // Marathon 1.10 passes `delaySeconds` only for the checks Mesos runs (MESOS_*, COMMAND).
    // Its own HTTP/HTTPS/TCP checks start probing after min(interval, 5 s) and ignore
    // `delaySeconds`; Drover hands those to the executor too, so they get that first delay.
    let delay = if !check.protocol.is_mesos() {
        check
            .interval_seconds
            .min(MARATHON_FIRST_CHECK_AFTER_SECONDS)
    } else {
        check.delay_seconds
    };
    // Without a port (no host port at that index) Marathon builds no HTTP/TCP check at all.
    if port.is_none() && check.protocol != HealthProtocol::Command {
        return None;
    }
    let port = port.unwrap_or(0);
    let mut health = v1::HealthCheck {
        delay_seconds: Some(f64::from(delay)),
        interval_seconds: Some(f64::from(check.interval_seconds)),
        timeout_seconds: Some(f64::from(check.timeout_seconds)),
        consecutive_failures: Some(check.max_consecutive_failures),
        grace_period_seconds: Some(f64::from(check.grace_period_seconds)),
        ..Default::default()
    };
    match check.protocol {
        HealthProtocol::Command => {
            health.r#type = Some(Type::Command as i32);
            health.command = Some(v1::CommandInfo {
                shell: Some(true),
                value: check.command.clone(),
                ..Default::default()
            });
        }
        HealthProtocol::MesosTcp | HealthProtocol::Tcp => {
            health.r#type = Some(Type::Tcp as i32);
            health.tcp = Some(v1::health_check::TcpCheckInfo {
                protocol: Some(v1::network_info::Protocol::IPv4 as i32),
                port,
            });
        }
        _ => {
            health.r#type = Some(Type::Http as i32);
            health.http = Some(v1::health_check::HttpCheckInfo {
                protocol: Some(v1::network_info::Protocol::IPv4 as i32),
                scheme: Some(
                    if matches!(
                        check.protocol,
                        HealthProtocol::MesosHttps | HealthProtocol::Https
                    ) {
                        "https"
                    } else {
                        "http"
                    }
                    .to_owned(),
                ),
                port,
                // Marathon sets the path only when the app gives one (Mesos then probes `/`).
                path: check.path.clone(),
                statuses: Vec::new(),
            });
        }
    }
    Some(health)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marathon::app::{HealthCheck, HealthProtocol};
    use crate::marathon::path::PathId;

    fn image_app(cmd: Option<&str>, args: &[&str]) -> AppSpec {
        use crate::marathon::container::MesosDockerContainer;
        let mut app = AppSpec::new(PathId::parse("/ucr", &PathId::root()).expect("valid id"));
        app.cmd = cmd.map(str::to_owned);
        app.args = args.iter().map(|a| (*a).to_owned()).collect();
        let mut image = MesosDockerContainer::new("busybox:1");
        image.force_pull_image = true;
        image.pull_config = Some("registry".into());
        app.container = Some(AppContainer::MesosDocker(Box::new(image)));
        app.secrets
            .insert("registry".into(), "prod/docker-config".into());
        app
    }

    /// A MESOS container with an image runs its entrypoint unless the app gives `cmd`, as a
    /// Docker container does; its pull secret becomes the image's `docker.config`.
    #[test]
    fn a_mesos_image_runs_its_entrypoint_its_args_or_the_cmd() {
        for (cmd, args, shell, value, arguments) in [
            (None, &[][..], false, None, &[][..]),
            (
                None,
                &["-c", "echo hi"][..],
                false,
                None,
                &["-c", "echo hi"][..],
            ),
            (Some("echo hi"), &[][..], true, Some("echo hi"), &[][..]),
        ] {
            let app = image_app(cmd, args);
            assert_eq!(crate::marathon::app::validate(&app), Vec::new());
            let task = task_info(&app, "t", "a", "h", Vec::new(), &[31005]);
            let command = task.command.expect("command");
            assert_eq!(command.shell, Some(shell), "{cmd:?} {args:?}");
            assert_eq!(command.value.as_deref(), value, "{cmd:?} {args:?}");
            assert_eq!(command.arguments, arguments, "{cmd:?} {args:?}");
            let container = task.container.expect("container");
            assert_eq!(container.r#type, v1::container_info::Type::Mesos as i32);
            let image = container.mesos.unwrap().image.unwrap();
            assert_eq!(image.cached, Some(false), "forcePullImage");
            let config = image.docker.unwrap().config.expect("pull secret");
            assert_eq!(config.r#type, Some(v1::secret::Type::Reference as i32));
            assert_eq!(config.reference.unwrap().name, "prod/docker-config");
        }
    }

    /// Marathon's `executor`: empty and `//cmd` are the command executor; a path is a custom
    /// executor started with the app's command after it, holding the task's container, and the
    /// task has no command of its own.
    #[test]
    fn a_custom_executor_path_runs_the_app_under_that_executor() {
        for default in ["", "//cmd"] {
            let mut app = image_app(Some("echo hi"), &[]);
            app.executor = default.into();
            let task = task_info(&app, "t", "a", "h", Vec::new(), &[]);
            assert!(
                task.executor.is_none() && task.command.is_some(),
                "{default:?}"
            );
        }
        let mut app = image_app(Some("serve --port $PORT0"), &[]);
        app.executor = "/opt/it's/executor".into();
        let task = task_info(&app, "web.1", "a", "h", Vec::new(), &[31000]);
        assert!(task.command.is_none() && task.container.is_none());
        let executor = task.executor.expect("a custom executor");
        assert_eq!(executor.executor_id.value, "marathon-web.1");
        let command = executor.command.expect("the executor's command");
        assert_eq!(
            command.value.as_deref(),
            Some(
                "chmod ug+rx '/opt/it'\\''s/executor' && exec '/opt/it'\\''s/executor' \
                 serve --port $PORT0"
            )
        );
        assert_eq!(command.shell, Some(true));
        let env = command.environment.expect("the task's environment");
        assert!(
            env.variables
                .iter()
                .any(|v| v.name == "PORT0" && v.value.as_deref() == Some("31000"))
        );
        assert!(executor.container.is_some(), "the task's container moves");
        // Arguments instead of a command follow the path, space-separated.
        let mut app = image_app(None, &["a", "b"]);
        app.executor = "/bin/ex".into();
        let task = task_info(&app, "t", "a", "h", Vec::new(), &[]);
        let value = task.executor.unwrap().command.unwrap().value.unwrap();
        assert_eq!(value, "chmod ug+rx '/bin/ex' && exec '/bin/ex' a b");
    }

    /// Marathon's `executorResources`: matched with the task's, then held by the custom
    /// executor's `ExecutorInfo`, not the task; refused for the command executor.
    #[test]
    fn a_custom_executors_resources_are_matched_and_given_to_the_executor() {
        use crate::marathon::pod::PodResources;
        let offer = v1::Offer {
            resources: crate::resources::parse("cpus:1.2;mem:200;disk:100").unwrap(),
            ..Default::default()
        };
        let mut app = AppSpec::new(PathId::parse("/e", &PathId::root()).expect("valid id"));
        app.cmd = Some("serve".into());
        app.port_definitions.clear();
        (app.cpus, app.mem, app.disk) = (1.0, 128.0, 0.0);
        app.executor = "/opt/executor".into();
        app.executor_resources = Some(PodResources {
            cpus: 0.2,
            mem: 64.0,
            disk: 10.0,
            gpus: 0,
        });
        assert_eq!(crate::marathon::app::validate(&app), Vec::new());
        let (resources, ports) = OfferPool::new(&offer).take(&app).expect("fits");
        let task = task_info(&app, "t", "a", "h", resources, &ports);
        let sum = |list: &[v1::Resource], name: &str| -> f64 {
            list.iter()
                .filter(|r| r.name == name)
                .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
                .sum()
        };
        let executor = task.executor.as_ref().expect("custom executor");
        for (name, task_wants, executor_wants) in [
            ("cpus", 1.0, 0.2),
            ("mem", 128.0, 64.0),
            ("disk", 0.0, 10.0),
        ] {
            assert!(
                (sum(&task.resources, name) - task_wants).abs() < 1e-9,
                "{name}"
            );
            assert!(
                (sum(&executor.resources, name) - executor_wants).abs() < 1e-9,
                "{name}"
            );
        }
        assert!(
            task.resources.iter().all(|r| r.name != "disk"),
            "no zero-sized piece is left on the task"
        );
        // The executor's share counts when matching: 0.2 more cpus do not fit 1.1.
        let small = v1::Offer {
            resources: crate::resources::parse("cpus:1.1;mem:200;disk:100").unwrap(),
            ..Default::default()
        };
        assert_eq!(
            OfferPool::new(&small).take(&app).err(),
            Some(RejectReason::InsufficientCpus)
        );
        // Below Marathon's minimums, or with the command executor: refused by field.
        app.executor_resources = Some(PodResources {
            mem: 8.0,
            ..PodResources::EXECUTOR_DEFAULT
        });
        let problems = crate::marathon::app::validate(&app);
        assert!(
            problems.iter().any(|v| v.path == "/executorResources/mem"),
            "{problems:?}"
        );
        app.executor = String::new();
        app.executor_resources = Some(PodResources::EXECUTOR_DEFAULT);
        let problems = crate::marathon::app::validate(&app);
        assert!(
            problems
                .iter()
                .any(|v| v.path == "/executorResources" && v.message.contains("custom executor")),
            "{problems:?}"
        );
    }

    /// A custom executor in a DOCKER container would fail every launch (the agent's Docker
    /// containerizer runs command tasks only): refused when the app is posted, by field.
    #[test]
    fn a_custom_executor_in_a_docker_container_is_refused() {
        use crate::marathon::container::DockerContainer;
        let mut app = AppSpec::new(PathId::parse("/d", &PathId::root()).expect("valid id"));
        app.cmd = Some("serve".into());
        app.port_definitions.clear();
        app.container = Some(AppContainer::Docker(Box::new(DockerContainer::new(
            "busybox:1",
        ))));
        assert_eq!(crate::marathon::app::validate(&app), Vec::new());
        app.executor = "/opt/executor".into();
        let problems = crate::marathon::app::validate(&app);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "/executor");
        assert!(problems[0].message.contains("DOCKER"), "{problems:?}");
        app.executor = "//cmd".into();
        assert_eq!(crate::marathon::app::validate(&app), Vec::new());
    }

    /// The rest of a MESOS container (secret volumes, a terminal) applies with an image too.
    #[test]
    fn a_mesos_image_keeps_secret_volumes_and_tty() {
        let mut app = image_app(None, &[]);
        app.secret_volumes = vec![("conf/pw".into(), "registry".into())];
        app.tty = true;
        let task = task_info(&app, "t", "a", "h", Vec::new(), &[]);
        let container = task.container.expect("container");
        assert!(container.mesos.is_some() && container.tty_info.is_some());
        assert_eq!(container.volumes.len(), 1);
        assert_eq!(container.volumes[0].container_path, "conf/pw");
    }

    /// Marathon's scheduler-side `HTTP` and `TCP` checks reach the task as executor-run checks
    /// on the task's host port, so they are probed and their failures kill the task.
    #[test]
    fn http_and_tcp_checks_are_run_by_the_executor_on_the_host_port() {
        for (protocol, kind) in [
            (HealthProtocol::Http, v1::health_check::Type::Http),
            (HealthProtocol::Tcp, v1::health_check::Type::Tcp),
            (HealthProtocol::MesosHttp, v1::health_check::Type::Http),
        ] {
            let mut app = AppSpec::new(PathId::parse("/web", &PathId::root()).expect("valid id"));
            app.health_checks = vec![HealthCheck::new(protocol)];
            let task = task_info(&app, "t", "a", "h", Vec::new(), &[31005]);
            let check = task.health_check.expect("the executor runs the check");
            assert_eq!(check.r#type, Some(kind as i32), "{protocol:?}");
            let port = check
                .http
                .map(|http| http.port)
                .or(check.tcp.map(|tcp| tcp.port));
            assert_eq!(port, Some(31005), "{protocol:?}");
        }
    }
}
