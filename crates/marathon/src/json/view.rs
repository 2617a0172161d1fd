//! Marathon's app and task shapes as borrowed `Serialize` views over the scheduler's state, so a
//! large listing (`GET /v2/apps` at 10,000 apps) is written straight to JSON text instead of
//! building a `serde_json::Value` tree per app. Key order and number formatting are exactly
//! those of the `Value` renderer these views replaced; `equivalence_tests` checks them byte for
//! byte against a copy of it.

use std::collections::HashMap;

use drover_core::marathon::app::{AppSpec, FetchUri, HealthCheck, HealthProtocol, PortDefinition};
use drover_core::marathon::condition::Condition;
use drover_core::marathon::constraint::Constraint;
use drover_core::marathon::instance::{HealthResult, Instance};
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Scheduler, TaskFailure};
use drover_core::marathon::unreachable::UnreachableStrategy;
use drover_core::task::names::state_name;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::render::Embed;
use super::stamp::Stamp;

/// A sequence serialized from an iterator made on demand (`serialize` only gets `&self`, so the
/// iterator cannot be stored).
struct SeqOf<F>(F);

impl<F, I> Serialize for SeqOf<F>
where
    F: Fn() -> I,
    I: IntoIterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

/// A one-key object `{key: value}` (`{"apps": [...]}`, `{"app": {...}}`, `{"id": ...}`).
#[derive(Debug)]
pub struct One<'a, T: ?Sized>(pub &'static str, pub &'a T);

impl<T: Serialize + ?Sized> Serialize for One<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, self.1)?;
        m.end()
    }
}

/// An app definition as Marathon renders it (`GET /v2/apps/{id}/versions/{v}`, the store, and
/// the base of AppInfo): defaults materialized, empty collections omitted.
#[derive(Debug)]
pub struct AppDef<'a>(pub &'a AppSpec);

impl Serialize for AppDef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        definition_entries(&mut m, self.0)?;
        m.end()
    }
}

/// The definition's keys, in Marathon's order; AppInfo continues the same object after them.
fn definition_entries<M: SerializeMap>(m: &mut M, app: &AppSpec) -> Result<(), M::Error> {
    // Opaque fields are kept as the client's JSON text; a text that no longer parses is left
    // out rather than echoed broken.
    let opaque = |key: &str| {
        app.opaque
            .get(key)
            .and_then(|v| serde_json::from_str::<Value>(v).ok())
    };
    m.serialize_entry("id", app.id.as_str())?;
    m.serialize_entry("backoffFactor", &app.backoff_factor)?;
    m.serialize_entry("backoffSeconds", &app.backoff_seconds)?;
    if let Some(cmd) = &app.cmd {
        m.serialize_entry("cmd", cmd)?;
    }
    if !app.args.is_empty() {
        m.serialize_entry("args", &app.args)?;
    }
    if !app.constraints.is_empty() {
        let parts = SeqOf(|| app.constraints.iter().map(Constraint::to_parts));
        m.serialize_entry("constraints", &parts)?;
    }
    if let Some(container) = super::container::container_json(app) {
        m.serialize_entry("container", &container)?;
    }
    m.serialize_entry("cpus", &app.cpus)?;
    if !app.dependencies.is_empty() {
        m.serialize_entry(
            "dependencies",
            &SeqOf(|| app.dependencies.iter().map(PathId::as_str)),
        )?;
    }
    m.serialize_entry("disk", &app.disk)?;
    if !app.env.is_empty() || !app.env_secrets.is_empty() {
        m.serialize_entry("env", &env_json(app))?;
    }
    m.serialize_entry("executor", &app.executor)?;
    if let Some(r) = &app.executor_resources {
        m.serialize_entry(
            "executorResources",
            &serde_json::json!({"cpus": r.cpus, "mem": r.mem, "disk": r.disk}),
        )?;
    }
    if !app.fetch.is_empty() {
        m.serialize_entry("fetch", &SeqOf(|| app.fetch.iter().map(Fetch)))?;
    }
    if !app.health_checks.is_empty() {
        let checks = SeqOf(|| app.health_checks.iter().map(|c| Check(c, app)));
        m.serialize_entry("healthChecks", &checks)?;
    }
    m.serialize_entry("instances", &app.instances)?;
    m.serialize_entry("labels", &app.labels)?;
    m.serialize_entry("maxLaunchDelaySeconds", &app.max_launch_delay_seconds)?;
    m.serialize_entry("mem", &app.mem)?;
    m.serialize_entry("gpus", &app.gpus)?;
    m.serialize_entry("networks", &super::container::networks_json(app))?;
    // Marathon 1.10 leaves portDefinitions out when the ports are container port mappings.
    if !app.uses_port_mappings() {
        m.serialize_entry(
            "portDefinitions",
            &SeqOf(|| app.port_definitions.iter().map(Port)),
        )?;
    }
    m.serialize_entry("requirePorts", &app.require_ports)?;
    if app.tty {
        m.serialize_entry("tty", &true)?;
    }
    m.serialize_entry("upgradeStrategy", &Upgrade(app))?;
    if let Some(user) = &app.user {
        m.serialize_entry("user", user)?;
    }
    m.serialize_entry("version", &Stamp(app.version_ms))?;
    m.serialize_entry("versionInfo", &VersionInfo(app))?;
    m.serialize_entry("killSelection", app.kill_selection.name())?;
    m.serialize_entry(
        "unreachableStrategy",
        &Unreachable(&app.unreachable_strategy),
    )?;
    m.serialize_entry("role", &app.role)?;
    if let Some(roles) = &app.accepted_resource_roles {
        m.serialize_entry("acceptedResourceRoles", roles)?;
    }
    if let Some(grace) = app.task_kill_grace_period_seconds {
        m.serialize_entry("taskKillGracePeriodSeconds", &grace)?;
    }
    if let Some(checks) = super::readiness::checks_json(app) {
        m.serialize_entry("readinessChecks", &checks)?;
    }
    if let Some(check) = super::check::check_json(app) {
        m.serialize_entry("check", &check)?;
    }
    for key in ["secrets", "residency", "ipAddress"] {
        if key == "residency" {
            if let Some(v) = super::container::residency_json(app) {
                m.serialize_entry(key, &v)?;
            }
        } else if let Some(v) = opaque(key) {
            m.serialize_entry(key, &v)?;
        }
    }
    Ok(())
}

struct Fetch<'a>(&'a FetchUri);

impl Serialize for Fetch<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("uri", &f.uri)?;
        m.serialize_entry("extract", &f.extract)?;
        m.serialize_entry("executable", &f.executable)?;
        m.serialize_entry("cache", &f.cache)?;
        if let Some(dest) = &f.dest_path {
            m.serialize_entry("destPath", dest)?;
        }
        m.end()
    }
}

/// A health check; the app decides whether a missing port becomes `portIndex: 0`.
struct Check<'a>(&'a HealthCheck, &'a AppSpec);

impl Serialize for Check<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Check(check, app) = *self;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("gracePeriodSeconds", &check.grace_period_seconds)?;
        m.serialize_entry("intervalSeconds", &check.interval_seconds)?;
        m.serialize_entry("maxConsecutiveFailures", &check.max_consecutive_failures)?;
        if let Some(port) = check.port {
            m.serialize_entry("port", &port)?;
        } else if check.protocol != HealthProtocol::Command {
            // Marathon normalizes a missing port to portIndex 0 when the app has ports.
            let index = check
                .port_index
                .or((!app.service_ports().is_empty()).then_some(0));
            if let Some(index) = index {
                m.serialize_entry("portIndex", &index)?;
            }
        }
        m.serialize_entry("timeoutSeconds", &check.timeout_seconds)?;
        if check.protocol.is_mesos() {
            m.serialize_entry("delaySeconds", &check.delay_seconds)?;
        }
        m.serialize_entry("protocol", check.protocol.name())?;
        if let Some(path) = &check.path {
            m.serialize_entry("path", path)?;
        } else if matches!(
            check.protocol,
            HealthProtocol::Http
                | HealthProtocol::Https
                | HealthProtocol::MesosHttp
                | HealthProtocol::MesosHttps
        ) {
            m.serialize_entry("path", "/")?;
        }
        if let Some(command) = &check.command {
            m.serialize_entry("command", &One("value", command))?;
        }
        if matches!(check.protocol, HealthProtocol::Http | HealthProtocol::Https) {
            m.serialize_entry("ignoreHttp1xx", &check.ignore_http1xx)?;
        }
        m.end()
    }
}

struct Port<'a>(&'a PortDefinition);

impl Serialize for Port<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("port", &p.port)?;
        m.serialize_entry("protocol", &p.protocol)?;
        if let Some(name) = &p.name {
            m.serialize_entry("name", name)?;
        }
        if !p.labels.is_empty() {
            m.serialize_entry("labels", &p.labels)?;
        }
        m.end()
    }
}

struct Upgrade<'a>(&'a AppSpec);

impl Serialize for Upgrade<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = &self.0.upgrade_strategy;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("maximumOverCapacity", &u.maximum_over_capacity)?;
        m.serialize_entry("minimumHealthCapacity", &u.minimum_health_capacity)?;
        m.end()
    }
}

struct VersionInfo<'a>(&'a AppSpec);

impl Serialize for VersionInfo<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let app = self.0;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("lastScalingAt", &Stamp(app.last_scaling_at_ms))?;
        m.serialize_entry("lastConfigChangeAt", &Stamp(app.last_config_change_at_ms))?;
        m.end()
    }
}

struct Unreachable<'a>(&'a UnreachableStrategy);

impl Serialize for Unreachable<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self.0 {
            UnreachableStrategy::Disabled => s.serialize_str("disabled"),
            UnreachableStrategy::Enabled {
                inactive_after_seconds,
                expunge_after_seconds,
            } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("inactiveAfterSeconds", &inactive_after_seconds)?;
                m.serialize_entry("expungeAfterSeconds", &expunge_after_seconds)?;
                m.end()
            }
        }
    }
}

/// What AppInfo shows of the scheduler beyond the definition, gathered in one pass per
/// response: asking the scheduler per app would sort every deployment once per app and look
/// every instance up again through the per-app index.
#[derive(Debug)]
pub struct Context<'a> {
    scheduler: &'a Scheduler,
    /// Running deployments by affected app, oldest first.
    deployments: HashMap<&'a PathId, Vec<&'a str>>,
    /// Instances with a task, by app, in instance id order (that of `instances_of`).
    tasks: HashMap<&'a PathId, Vec<&'a Instance>>,
}

impl<'a> Context<'a> {
    /// For rendering any app: one pass over every instance.
    pub fn all(scheduler: &'a Scheduler) -> Self {
        Context::gather(scheduler, scheduler.instances().values())
    }

    /// For rendering only `app`: its own instances.
    pub fn of_app(scheduler: &'a Scheduler, app: &'a PathId) -> Self {
        Context::gather(scheduler, scheduler.instances_of(app))
    }

    fn gather(scheduler: &'a Scheduler, instances: impl Iterator<Item = &'a Instance>) -> Self {
        let mut deployments: HashMap<&PathId, Vec<&str>> = HashMap::new();
        for d in scheduler.deployments() {
            for app in &d.affected_apps {
                let ids = deployments.entry(app).or_default();
                // An app listed twice in one deployment still names it once.
                if ids.last() != Some(&d.id.as_str()) {
                    ids.push(&d.id);
                }
            }
        }
        let mut tasks: HashMap<&PathId, Vec<&Instance>> = HashMap::new();
        for i in instances.filter(|i| i.has_task()) {
            tasks.entry(&i.app_id).or_default().push(i);
        }
        Context {
            scheduler,
            deployments,
            tasks,
        }
    }

    /// The scheduler read.
    pub fn scheduler(&self) -> &'a Scheduler {
        self.scheduler
    }

    fn deployments_of(&self, app: &PathId) -> &[&'a str] {
        self.deployments.get(app).map_or(&[], Vec::as_slice)
    }

    fn tasks_of(&self, app: &PathId) -> &[&'a Instance] {
        self.tasks.get(app).map_or(&[], Vec::as_slice)
    }
}

/// AppInfo: the definition plus task counts, deployments and the requested embeds.
#[derive(Debug)]
pub struct AppInfo<'a> {
    context: &'a Context<'a>,
    app: &'a AppSpec,
    embed: Embed,
}

impl<'a> AppInfo<'a> {
    /// The AppInfo of `app`, whose instances `context` gathered.
    pub fn new(context: &'a Context<'a>, app: &'a AppSpec, embed: Embed) -> Self {
        AppInfo {
            context,
            app,
            embed,
        }
    }
}

impl Serialize for AppInfo<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (context, app) = (self.context, self.app);
        let tasks = context.tasks_of(&app.id);
        let (mut staged, mut running, mut healthy, mut unhealthy) = (0u64, 0u64, 0u64, 0u64);
        for i in tasks {
            match i.condition {
                Condition::Provisioned | Condition::Staging | Condition::Starting => staged += 1,
                Condition::Running => running += 1,
                _ => {}
            }
            match i.healthy() {
                Some(true) => healthy += 1,
                Some(false) => unhealthy += 1,
                None => {}
            }
        }
        let mut m = s.serialize_map(None)?;
        definition_entries(&mut m, app)?;
        m.serialize_entry("tasksStaged", &staged)?;
        m.serialize_entry("tasksRunning", &running)?;
        m.serialize_entry("tasksHealthy", &healthy)?;
        m.serialize_entry("tasksUnhealthy", &unhealthy)?;
        let deployments = context.deployments_of(&app.id);
        m.serialize_entry(
            "deployments",
            &SeqOf(|| deployments.iter().map(|id| One("id", id))),
        )?;
        if self.embed.tasks {
            let scheduler = context.scheduler;
            m.serialize_entry(
                "tasks",
                &SeqOf(|| {
                    tasks
                        .iter()
                        .map(|i| Task::new(i, None).in_scheduler(scheduler))
                }),
            )?;
        }
        if self.embed.last_task_failure
            && let Some(failure) = context.scheduler.last_failure(&app.id)
        {
            m.serialize_entry("lastTaskFailure", &Failure(failure))?;
        }
        if self.embed.task_stats {
            let stats = super::stats::TaskStats {
                app,
                tasks,
                now_ms: self.embed.now_ms,
            };
            m.serialize_entry("taskStats", &stats)?;
        }
        if self.embed.readiness {
            let results: Vec<serde_json::Value> = tasks
                .iter()
                .flat_map(|i| context.scheduler.readiness_results(&i.id))
                .map(|r| super::readiness::result_json(&r))
                .collect();
            m.serialize_entry("readinessCheckResults", &results)?;
        }
        m.end()
    }
}

struct Failure<'a>(&'a TaskFailure);

impl Serialize for Failure<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        let mut m = s.serialize_map(Some(9))?;
        m.serialize_entry("appId", f.app_id.as_str())?;
        m.serialize_entry("host", &f.host)?;
        m.serialize_entry("message", &f.message)?;
        m.serialize_entry("state", state_name(f.state))?;
        m.serialize_entry("taskId", &f.task_id)?;
        m.serialize_entry("instanceId", &f.instance_id)?;
        m.serialize_entry("timestamp", &Stamp(f.timestamp_ms))?;
        m.serialize_entry("version", &Stamp(f.version_ms))?;
        m.serialize_entry("slaveId", &f.slave_id)?;
        m.end()
    }
}

/// A task (`/v2/apps/{id}/tasks`, `/v2/tasks`, AppInfo's `tasks`); the app is given only on
/// `/v2/tasks`, which shows its service ports and role.
#[derive(Debug)]
pub struct Task<'a> {
    instance: &'a Instance,
    app: Option<&'a AppSpec>,
    executor_health: Option<&'a HealthResult>,
    check_result: Option<&'a drover_wire::v1::CheckStatusInfo>,
}

impl<'a> Task<'a> {
    /// The task of `instance`.
    pub fn new(instance: &'a Instance, app: Option<&'a AppSpec>) -> Self {
        Task {
            instance,
            app,
            executor_health: None,
            check_result: None,
        }
    }

    /// With what the scheduler knows of it beyond the instance: the executor's health
    /// history and its check's latest result (`checkResult`).
    pub fn in_scheduler(self, s: &'a Scheduler) -> Self {
        let id = &self.instance.id;
        Task {
            executor_health: s.executor_health_of(id),
            check_result: s.check_result_of(id),
            ..self
        }
    }
}

impl Serialize for Task<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (i, app) = (self.instance, self.app);
        let placement = i.placement.as_ref();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &i.task_id())?;
        m.serialize_entry("appId", i.app_id.as_str())?;
        m.serialize_entry("host", placement.map_or("", |p| p.agent.hostname.as_str()))?;
        m.serialize_entry("slaveId", placement.map_or("", |p| p.agent_id.as_str()))?;
        m.serialize_entry("state", i.state_name())?;
        if i.condition.is_active() {
            if let Some(staged) = i.staged_at_ms {
                m.serialize_entry("stagedAt", &Stamp(staged))?;
            }
            if let Some(started) = i.started_at_ms {
                m.serialize_entry("startedAt", &Stamp(started))?;
            }
            m.serialize_entry("version", &Stamp(i.app_version_ms))?;
            m.serialize_entry("ports", placement.map_or(&[][..], |p| &p.host_ports))?;
        }
        m.serialize_entry(
            "servicePorts",
            &SeqOf(|| app.into_iter().flat_map(AppSpec::service_ports)),
        )?;
        m.serialize_entry("ipAddresses", &SeqOf(|| i.ip_addresses.iter().map(Ip)))?;
        let checks = i.health.iter().map(|h| CheckResult::Scheduler(i, h));
        let history = self.executor_health;
        let mesos = i
            .mesos_healthy
            .map(|alive| CheckResult::Mesos(i, alive, history))
            .into_iter();
        m.serialize_entry(
            "healthCheckResults",
            &SeqOf(|| checks.clone().chain(mesos.clone())),
        )?;
        if let Some(result) = self.check_result.and_then(super::check::result_json) {
            m.serialize_entry("checkResult", &result)?;
        }
        m.serialize_entry("localVolumes", &super::container::local_volumes_json(i))?;
        m.serialize_entry("role", app.map_or("*", |a| a.role.as_str()))?;
        m.end()
    }
}

struct Ip<'a>(&'a String);

impl Serialize for Ip<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let protocol = if self.0.contains(':') { "IPv6" } else { "IPv4" };
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("ipAddress", self.0)?;
        m.serialize_entry("protocol", protocol)?;
        m.end()
    }
}

/// One entry of `healthCheckResults`: a scheduler-run check, or the executor's (Mesos-level)
/// verdict, which has no history.
#[derive(Clone, Copy)]
enum CheckResult<'a> {
    Scheduler(&'a Instance, &'a HealthResult),
    Mesos(&'a Instance, bool, Option<&'a HealthResult>),
}

impl Serialize for CheckResult<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match *self {
            CheckResult::Scheduler(i, h) | CheckResult::Mesos(i, _, Some(h)) => {
                let alive = match *self {
                    CheckResult::Mesos(_, alive, _) => alive,
                    _ => h.alive(),
                };
                m.serialize_entry("alive", &alive)?;
                m.serialize_entry("consecutiveFailures", &h.consecutive_failures)?;
                m.serialize_entry("instanceId", &i.id)?;
                for (key, at) in [
                    ("firstSuccess", h.first_success_ms),
                    ("lastSuccess", h.last_success_ms),
                    ("lastFailure", h.last_failure_ms),
                ] {
                    if let Some(at) = at {
                        m.serialize_entry(key, &Stamp(at))?;
                    }
                }
                if let Some(cause) = &h.last_failure_cause {
                    m.serialize_entry("lastFailureCause", cause)?;
                }
            }
            CheckResult::Mesos(i, alive, None) => {
                m.serialize_entry("alive", &alive)?;
                m.serialize_entry("consecutiveFailures", &0)?;
                m.serialize_entry("instanceId", &i.id)?;
            }
        }
        m.end()
    }
}

/// Writes `value` as compact JSON text. `capacity` is a guess of the size, so a 6 MiB listing
/// is not copied through a dozen buffer doublings.
pub fn to_bytes(value: &impl Serialize, capacity: usize) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut out, value)?;
    Ok(out)
}

/// `env` as Marathon renders it: values, and `{"secret": id}` for secret references (never
/// a secret's value, which only the agents' store holds).
pub(crate) fn env_json(app: &AppSpec) -> serde_json::Value {
    let mut env: serde_json::Map<String, serde_json::Value> = app
        .env
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    for (name, id) in &app.env_secrets {
        env.insert(name.clone(), serde_json::json!({"secret": id}));
    }
    serde_json::Value::Object(env)
}
