//! The app definition as the scheduler reasons about it, its defaults, semantic validation
//! (every problem, with Marathon's paths and messages), and the scale-versus-upgrade rule.

use std::collections::BTreeMap;

use super::constraint::Constraint;
use super::container::{AppContainer, DockerContainer, Network};
use super::path::PathId;
use super::unreachable::UnreachableStrategy;

/// Which instances a scale-down kills first when they are otherwise equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KillSelection {
    /// The most recently started first (Marathon's default).
    #[default]
    YoungestFirst,
    /// The longest running first.
    OldestFirst,
}

impl KillSelection {
    /// Marathon's spelling.
    pub fn name(self) -> &'static str {
        match self {
            KillSelection::YoungestFirst => "YOUNGEST_FIRST",
            KillSelection::OldestFirst => "OLDEST_FIRST",
        }
    }
}

/// Rolling-upgrade bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpgradeStrategy {
    /// Fraction of `instances` that must stay healthy during an upgrade.
    pub minimum_health_capacity: f64,
    /// Fraction of `instances` that may run in addition during an upgrade.
    pub maximum_over_capacity: f64,
}

impl Default for UpgradeStrategy {
    fn default() -> Self {
        UpgradeStrategy {
            minimum_health_capacity: 1.0,
            maximum_over_capacity: 1.0,
        }
    }
}

/// A port the app asks for on the host network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDefinition {
    /// Requested port; 0 = any. With `requirePorts` it is the host port itself.
    pub port: u32,
    /// `tcp`, `udp` or `udp,tcp`.
    pub protocol: String,
    /// Optional name.
    pub name: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// Who runs a health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthProtocol {
    /// Marathon-level HTTP (run by the scheduler).
    Http,
    /// Marathon-level HTTPS (run by the scheduler, no certificate verification).
    Https,
    /// Marathon-level TCP connect (run by the scheduler).
    Tcp,
    /// Executor-side HTTP.
    MesosHttp,
    /// Executor-side HTTPS.
    MesosHttps,
    /// Executor-side TCP.
    MesosTcp,
    /// Executor-side command.
    Command,
}

impl HealthProtocol {
    /// Marathon's spelling.
    pub fn name(self) -> &'static str {
        match self {
            HealthProtocol::Http => "HTTP",
            HealthProtocol::Https => "HTTPS",
            HealthProtocol::Tcp => "TCP",
            HealthProtocol::MesosHttp => "MESOS_HTTP",
            HealthProtocol::MesosHttps => "MESOS_HTTPS",
            HealthProtocol::MesosTcp => "MESOS_TCP",
            HealthProtocol::Command => "COMMAND",
        }
    }

    /// Parses Marathon's spelling.
    pub fn parse(name: &str) -> Option<HealthProtocol> {
        Some(match name {
            "HTTP" => HealthProtocol::Http,
            "HTTPS" => HealthProtocol::Https,
            "TCP" => HealthProtocol::Tcp,
            "MESOS_HTTP" => HealthProtocol::MesosHttp,
            "MESOS_HTTPS" => HealthProtocol::MesosHttps,
            "MESOS_TCP" => HealthProtocol::MesosTcp,
            "COMMAND" => HealthProtocol::Command,
            _ => return None,
        })
    }

    /// Whether the executor on the agent runs it. Marathon ran `HTTP`, `HTTPS` and `TCP` checks
    /// from the scheduler; Drover has no scheduler-side prober, so the executor runs those too,
    /// against the task's host port with the same timing rules, and the result arrives in
    /// status updates like a `MESOS_*` check's. Without this an app's HTTP check would never
    /// be probed and unhealthy tasks never replaced.
    pub fn runs_on_executor(self) -> bool {
        true
    }

    /// Whether Marathon calls it a Mesos check (`MESOS_*`, `COMMAND`): this decides the JSON
    /// shape and the one-Mesos-check validation rule, not who runs it.
    pub fn is_mesos(self) -> bool {
        matches!(
            self,
            HealthProtocol::MesosHttp
                | HealthProtocol::MesosHttps
                | HealthProtocol::MesosTcp
                | HealthProtocol::Command
        )
    }
}

/// One health check.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    /// Protocol.
    pub protocol: HealthProtocol,
    /// HTTP path.
    pub path: Option<String>,
    /// Index into the task's host ports.
    pub port_index: Option<u32>,
    /// A fixed port instead.
    pub port: Option<u32>,
    /// Shell command for COMMAND checks.
    pub command: Option<String>,
    /// Failures are ignored for this long after the task first runs, until the first success.
    pub grace_period_seconds: u32,
    /// Seconds between checks.
    pub interval_seconds: u32,
    /// Seconds before a check counts as failed.
    pub timeout_seconds: u32,
    /// Consecutive failures tolerated; the next one kills (0: never kill).
    pub max_consecutive_failures: u32,
    /// Executor-side initial delay.
    pub delay_seconds: u32,
    /// Ignore 1xx answers.
    pub ignore_http1xx: bool,
}

impl HealthCheck {
    /// A check with Marathon's defaults.
    pub fn new(protocol: HealthProtocol) -> Self {
        HealthCheck {
            protocol,
            path: None,
            port_index: None,
            port: None,
            command: None,
            grace_period_seconds: 300,
            interval_seconds: 60,
            timeout_seconds: 20,
            max_consecutive_failures: 3,
            delay_seconds: 15,
            ignore_http1xx: false,
        }
    }
}

/// A URI fetched into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchUri {
    /// Local path or http(s) URL.
    pub uri: String,
    /// Extract archives.
    pub extract: bool,
    /// Mark executable.
    pub executable: bool,
    /// Cache in the fetcher cache.
    pub cache: bool,
    /// Destination file name in the sandbox.
    pub dest_path: Option<String>,
}

/// An app definition (one version of it).
#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    /// Absolute id.
    pub id: PathId,
    /// Shell command.
    pub cmd: Option<String>,
    /// Arguments (run without a shell).
    pub args: Vec<String>,
    /// Unix user.
    pub user: Option<String>,
    /// CPUs per instance.
    pub cpus: f64,
    /// Memory per instance, MiB.
    pub mem: f64,
    /// Disk per instance, MiB.
    pub disk: f64,
    /// GPUs per instance.
    pub gpus: u32,
    /// Wanted number of instances.
    pub instances: u32,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Environment variables whose value is a secret (`"env": {"X": {"secret": "id"}}`):
    /// variable → secret id (a key of `secrets`).
    pub env_secrets: BTreeMap<String, String>,
    /// `secrets`: secret id → its name in the agents' secret store (`source`).
    pub secrets: BTreeMap<String, String>,
    /// A MESOS container's secret volumes (`{"containerPath", "secret"}`): the file's path
    /// relative to the sandbox and the secret id.
    pub secret_volumes: Vec<(String, String)>,
    /// A MESOS container's local persistent volumes (`{"containerPath", "mode": "RW",
    /// "persistent": {"type": "root", "size"}}`): an app with any is resident
    /// (`marathon::reservation`).
    pub persistent_volumes: Vec<super::reservation::PersistentVolume>,
    /// `tty`: the task gets a terminal (its MESOS container's `tty_info`), which the agent's
    /// I/O switchboard owns: its output lands in `stdout`, and `drover task attach` (or
    /// ATTACH_CONTAINER_INPUT/OUTPUT) reaches it.
    pub tty: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Placement constraints.
    pub constraints: Vec<Constraint>,
    /// Host ports.
    pub port_definitions: Vec<PortDefinition>,
    /// Use the declared ports as host ports.
    pub require_ports: bool,
    /// Health checks.
    pub health_checks: Vec<HealthCheck>,
    /// Mesos' generalized check (`check`), run by the executor and reported, never killing.
    pub check: Option<Box<super::check::AppCheck>>,
    /// Readiness checks Marathon runs against new tasks before a deployment counts them.
    pub readiness_checks: Vec<super::readiness::ReadinessCheck>,
    /// URIs to fetch.
    pub fetch: Vec<FetchUri>,
    /// Rolling upgrade bounds.
    pub upgrade_strategy: UpgradeStrategy,
    /// First launch delay after a failure.
    pub backoff_seconds: u64,
    /// Growth of the launch delay per failure.
    pub backoff_factor: f64,
    /// Upper bound of the launch delay.
    pub max_launch_delay_seconds: u64,
    /// What happens to unreachable instances.
    pub unreachable_strategy: UnreachableStrategy,
    /// Scale-down tie breaker.
    pub kill_selection: KillSelection,
    /// Grace between SIGTERM and SIGKILL, if set.
    pub task_kill_grace_period_seconds: Option<u64>,
    /// Roles whose resources may be used; `None`: any.
    pub accepted_resource_roles: Option<Vec<String>>,
    /// Role the app launches under.
    pub role: String,
    /// Executor (`""` = command executor).
    pub executor: String,
    /// Marathon's `executorResources`: what a custom executor (`executor` a path) holds
    /// beside the task, matched against the offer with it and set on its `ExecutorInfo`.
    /// Refused for the command executor, whose resources are Mesos' own.
    pub executor_resources: Option<super::pod::PodResources>,
    /// Apps to deploy first.
    pub dependencies: Vec<PathId>,
    /// The `container` (with the app's `networks`); `None`: a command on the host network.
    pub container: Option<AppContainer>,
    /// Fields the scheduler does not interpret, kept as the client's JSON text by key so the API
    /// can echo them (`readinessChecks`, …).
    pub opaque: BTreeMap<String, String>,
    /// The containers of a pod (`/v2/pods`): this definition then carries a pod, not an app
    /// (see `marathon::pod`).
    pub pod: Option<Box<super::pod::PodSpec>>,
    /// Version timestamp (ms since the epoch).
    pub version_ms: u64,
    /// Last scale-only change.
    pub last_scaling_at_ms: u64,
    /// Last change that needs a restart.
    pub last_config_change_at_ms: u64,
}

impl AppSpec {
    /// A definition with Marathon's defaults and the given id.
    pub fn new(id: PathId) -> Self {
        AppSpec {
            id,
            cmd: None,
            args: Vec::new(),
            user: None,
            cpus: 1.0,
            mem: 128.0,
            disk: 0.0,
            gpus: 0,
            instances: 1,
            env: BTreeMap::new(),
            labels: BTreeMap::new(),
            constraints: Vec::new(),
            port_definitions: vec![PortDefinition {
                port: 0,
                protocol: "tcp".into(),
                name: Some("default".into()),
                labels: BTreeMap::new(),
            }],
            require_ports: false,
            health_checks: Vec::new(),
            check: None,
            readiness_checks: Vec::new(),
            fetch: Vec::new(),
            upgrade_strategy: UpgradeStrategy::default(),
            backoff_seconds: 1,
            backoff_factor: 1.15,
            max_launch_delay_seconds: 300,
            unreachable_strategy: UnreachableStrategy::default(),
            kill_selection: KillSelection::default(),
            task_kill_grace_period_seconds: None,
            accepted_resource_roles: None,
            role: "*".into(),
            executor: String::new(),
            executor_resources: None,
            dependencies: Vec::new(),
            container: None,
            opaque: BTreeMap::new(),
            env_secrets: BTreeMap::new(),
            secrets: BTreeMap::new(),
            secret_volumes: Vec::new(),
            persistent_volumes: Vec::new(),
            tty: false,
            pod: None,
            version_ms: 0,
            last_scaling_at_ms: 0,
            last_config_change_at_ms: 0,
        }
    }

    /// Whether going from `self` to `target` needs new tasks (anything but `instances` and the
    /// version fields differs). Scaling to zero never does.
    pub fn is_upgrade_to(&self, target: &AppSpec) -> bool {
        if target.instances == 0 {
            return false;
        }
        let strip = |app: &AppSpec| {
            let mut app = app.clone();
            app.instances = 0;
            app.version_ms = 0;
            app.last_scaling_at_ms = 0;
            app.last_config_change_at_ms = 0;
            app
        };
        strip(self) != strip(target)
    }

    /// The Docker container, if the app runs one.
    pub fn docker(&self) -> Option<&DockerContainer> {
        match &self.container {
            Some(AppContainer::Docker(docker)) => Some(docker),
            _ => None,
        }
    }

    /// Whether the app is resident: it has local persistent volumes, so each instance holds a
    /// reservation on one agent and is relaunched there (`marathon::reservation`).
    pub fn is_resident(&self) -> bool {
        !self.persistent_volumes.is_empty()
    }

    /// Whether the task runs an image (DOCKER, or MESOS with `docker.image`): without `cmd`
    /// the image's entrypoint runs.
    pub fn runs_image(&self) -> bool {
        self.container
            .as_ref()
            .is_some_and(AppContainer::runs_image)
    }

    /// Whether the app's ports are `container.portMappings` (a Docker container off the host
    /// network) rather than `portDefinitions`.
    pub fn uses_port_mappings(&self) -> bool {
        self.docker().is_some_and(|d| d.network != Network::Host)
    }

    /// The app's service ports, in order: one per port definition, or per port mapping.
    pub fn service_ports(&self) -> Vec<u32> {
        if self.pod.is_some() {
            // Marathon tracks no service ports for pods.
            return Vec::new();
        }
        match self.docker() {
            Some(docker) if self.uses_port_mappings() => docker
                .port_mappings
                .iter()
                .map(|m| m.service_port)
                .collect(),
            _ => self.port_definitions.iter().map(|d| d.port).collect(),
        }
    }

    /// The host ports a task needs, in the order of its `ports`: 0 = any port from the offer,
    /// else exactly that port (`requirePorts`, or a fixed `hostPort`).
    pub fn host_port_requests(&self) -> Vec<u32> {
        if let Some(pod) = &self.pod {
            return pod.host_port_requests();
        }
        match self.docker() {
            Some(docker) if self.uses_port_mappings() => docker
                .port_mappings
                .iter()
                .filter_map(|m| m.host_port)
                .collect(),
            _ => self
                .port_definitions
                .iter()
                .map(|d| if self.require_ports { d.port } else { 0 })
                .collect(),
        }
    }
}

/// One validation problem: a JSON path (`/healthChecks(0)/portIndex`) and a message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// Path of the offending field; `/` for the whole object.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Violation {
    /// A violation at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Violation {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Most instances one app may ask for; bounds the scheduler's memory.
pub const INSTANCES_MAX: u32 = 100_000;

/// Checks the semantic rules of an app definition; returns every problem.
pub fn validate(app: &AppSpec) -> Vec<Violation> {
    if let Some(pod) = &app.pod {
        return super::pod::validate(app, pod);
    }
    let mut problems = Vec::new();
    let mut push = |path: &str, message: String| problems.push(Violation::new(path, message));
    match (&app.cmd, app.args.is_empty()) {
        (None, true) if !app.runs_image() => push(
            "/",
            "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
                .into(),
        ),
        (Some(_), false) => push(
            "/",
            "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
                .into(),
        ),
        _ => {}
    }
    if app.cmd.as_deref() == Some("") {
        push("/cmd", "must not be empty".into());
    }
    if let Some(container) = &app.container {
        for violation in container.validate() {
            push(&violation.path, violation.message);
        }
    }
    // Marathon put a DOCKER container on the custom executor (Mesos' Docker containerizer
    // then ran the executor in it); Drover's agents run Docker containers for command tasks
    // only, so every launch would fail: refused here instead.
    if super::offer::custom_executor(app).is_some() && app.docker().is_some() {
        push(
            "/executor",
            "a custom executor cannot run in a DOCKER container: Drover's Docker \
             containerizer runs command tasks only (use a MESOS container, or the command \
             executor)"
                .into(),
        );
    }
    // Marathon read `executorResources` only for a custom executor and ignored it otherwise.
    if let Some(r) = &app.executor_resources {
        if super::offer::custom_executor(app).is_none() {
            push(
                "/executorResources",
                "executorResources applies only to a custom executor (`executor` a path); the \
                 command executor's resources are Mesos' own"
                    .into(),
            );
        }
        for (field, value, min) in [
            ("cpus", r.cpus, 0.1),
            ("mem", r.mem, 32.0),
            ("disk", r.disk, 10.0),
        ] {
            if !value.is_finite() || value < min {
                push(
                    &format!("/executorResources/{field}"),
                    format!("got {value}, expected {min} or more"),
                );
            }
        }
    }
    if app.uses_port_mappings() && !app.port_definitions.is_empty() {
        push(
            "/portDefinitions",
            "portDefinitions are only used with host networking; with container networking \
             the ports are container.portMappings"
                .into(),
        );
    }
    for (path, value) in [("/cpus", app.cpus), ("/mem", app.mem), ("/disk", app.disk)] {
        if !value.is_finite() || value < 0.0 {
            push(path, format!("got {value}, expected 0.0 or more"));
        }
    }
    if app.instances > INSTANCES_MAX {
        push(
            "/instances",
            format!("got {}, expected {INSTANCES_MAX} or less", app.instances),
        );
    }
    if !app.backoff_factor.is_finite() || app.backoff_factor < 1.0 {
        push(
            "/backoffFactor",
            format!("got {}, expected 1.0 or more", app.backoff_factor),
        );
    }
    let us = app.upgrade_strategy;
    for (path, value) in [
        (
            "/upgradeStrategy/minimumHealthCapacity",
            us.minimum_health_capacity,
        ),
        (
            "/upgradeStrategy/maximumOverCapacity",
            us.maximum_over_capacity,
        ),
    ] {
        if !(0.0..=1.0).contains(&value) {
            push(path, format!("got {value}, expected between 0.0 and 1.0"));
        }
    }
    for (path, message) in app.unreachable_strategy.validate() {
        push(path, message);
    }
    let mut names = BTreeMap::new();
    let mut ports = BTreeMap::new();
    for (i, port) in app.port_definitions.iter().enumerate() {
        if port.port > 65535 {
            push(
                &format!("/portDefinitions({i})/port"),
                format!("got {}, expected 65535 or less", port.port),
            );
        }
        if !matches!(
            port.protocol.as_str(),
            "tcp" | "udp" | "udp,tcp" | "tcp,udp"
        ) {
            push(
                &format!("/portDefinitions({i})/protocol"),
                "protocol must be one of tcp, udp or udp,tcp".into(),
            );
        }
        if let Some(name) = &port.name
            && names.insert(name.clone(), i).is_some()
        {
            push("/portDefinitions", "Port names must be unique.".into());
        }
        if port.port != 0 && ports.insert(port.port, i).is_some() {
            push("/portDefinitions", "Ports must be unique.".into());
        }
    }
    let mesos_checks = app
        .health_checks
        .iter()
        .filter(|c| c.protocol.is_mesos())
        .count();
    if mesos_checks > 1 {
        push(
            "/healthChecks",
            "AppDefinition can contain at most one Mesos health check.".into(),
        );
    }
    for (i, check) in app.health_checks.iter().enumerate() {
        let needs_port = !matches!(check.protocol, HealthProtocol::Command);
        if needs_port && check.port.is_none() {
            let index = check.port_index.unwrap_or(0) as usize;
            let ports = match app.docker() {
                Some(docker) if app.uses_port_mappings() => docker.port_mappings.len(),
                _ => app.port_definitions.len(),
            };
            if index >= ports {
                push(
                    &format!("/healthChecks({i})"),
                    "Health check port indices must address an element of the ports array or \
                     container port mappings."
                        .into(),
                );
            }
        }
        if check.protocol == HealthProtocol::Command && check.command.is_none() {
            push(
                &format!("/healthChecks({i})/command"),
                "command is required for COMMAND health checks".into(),
            );
        }
        if check.interval_seconds == 0 {
            push(
                &format!("/healthChecks({i})/intervalSeconds"),
                "got 0, expected 1 or more".into(),
            );
        }
    }
    for violation in super::check::validate(app) {
        push(&violation.path, violation.message);
    }
    for violation in super::readiness::validate(app) {
        push(&violation.path, violation.message);
    }
    for violation in super::reservation::validate(app) {
        push(&violation.path, violation.message);
    }
    for (i, dependency) in app.dependencies.iter().enumerate() {
        if dependency == &app.id {
            push(
                &format!("/dependencies({i})"),
                "an app cannot depend on itself".into(),
            );
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppSpec {
        let mut app = AppSpec::new(PathId::parse_app_id("/web").unwrap());
        app.cmd = Some("sleep 100".into());
        app
    }

    #[test]
    fn default_app_is_valid() {
        assert_eq!(validate(&app()), Vec::<Violation>::new());
    }

    #[test]
    fn every_problem_is_reported() {
        let mut bad = app();
        bad.cpus = -1.0;
        bad.mem = f64::NAN;
        bad.backoff_factor = 0.5;
        bad.args = vec!["x".into()];
        bad.upgrade_strategy.minimum_health_capacity = 2.0;
        let problems = validate(&bad);
        let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/",
                "/backoffFactor",
                "/cpus",
                "/mem",
                "/upgradeStrategy/minimumHealthCapacity"
            ]
        );
    }

    #[test]
    fn scale_is_not_upgrade() {
        let a = app();
        let mut b = a.clone();
        b.instances = 5;
        b.version_ms = 9;
        assert!(!a.is_upgrade_to(&b));
        b.cmd = Some("sleep 5".into());
        assert!(a.is_upgrade_to(&b));
    }
}
