//! The `serde_json::Value` renderer of app definitions, AppInfo and tasks that `view` replaced,
//! kept verbatim as the reference `equivalence_tests` compares the views' bytes against.

use drover_core::marathon::app::{AppSpec, HealthCheck, HealthProtocol};
use drover_core::marathon::condition::Condition;
use drover_core::marathon::constraint::Constraint;
use drover_core::marathon::instance::Instance;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Scheduler, TaskFailure};
use drover_core::marathon::timestamp;
use drover_core::marathon::unreachable::UnreachableStrategy;
use drover_core::task::names::state_name;
use serde_json::{Map, Value, json};

use super::render::Embed;

fn health_check_json(check: &HealthCheck, app: &AppSpec) -> Value {
    let mut obj = Map::new();
    obj.insert(
        "gracePeriodSeconds".into(),
        json!(check.grace_period_seconds),
    );
    obj.insert("intervalSeconds".into(), json!(check.interval_seconds));
    obj.insert(
        "maxConsecutiveFailures".into(),
        json!(check.max_consecutive_failures),
    );
    if let Some(port) = check.port {
        obj.insert("port".into(), json!(port));
    } else if check.protocol != HealthProtocol::Command {
        // Marathon normalizes a missing port to portIndex 0 when the app has ports.
        let index = check
            .port_index
            .or((!app.service_ports().is_empty()).then_some(0));
        if let Some(index) = index {
            obj.insert("portIndex".into(), json!(index));
        }
    }
    obj.insert("timeoutSeconds".into(), json!(check.timeout_seconds));
    if check.protocol.is_mesos() {
        obj.insert("delaySeconds".into(), json!(check.delay_seconds));
    }
    obj.insert("protocol".into(), json!(check.protocol.name()));
    if let Some(path) = &check.path {
        obj.insert("path".into(), json!(path));
    } else if matches!(
        check.protocol,
        HealthProtocol::Http
            | HealthProtocol::Https
            | HealthProtocol::MesosHttp
            | HealthProtocol::MesosHttps
    ) {
        obj.insert("path".into(), json!("/"));
    }
    if let Some(command) = &check.command {
        obj.insert("command".into(), json!({ "value": command }));
    }
    if matches!(check.protocol, HealthProtocol::Http | HealthProtocol::Https) {
        obj.insert("ignoreHttp1xx".into(), json!(check.ignore_http1xx));
    }
    Value::Object(obj)
}

pub fn app_json(app: &AppSpec) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("id".into(), json!(app.id.as_str()));
    o.insert("backoffFactor".into(), json!(app.backoff_factor));
    o.insert("backoffSeconds".into(), json!(app.backoff_seconds));
    if let Some(cmd) = &app.cmd {
        o.insert("cmd".into(), json!(cmd));
    }
    if !app.args.is_empty() {
        o.insert("args".into(), json!(app.args));
    }
    if !app.constraints.is_empty() {
        let parts: Vec<Vec<String>> = app.constraints.iter().map(Constraint::to_parts).collect();
        o.insert("constraints".into(), json!(parts));
    }
    let opaque = |key: &str| {
        app.opaque
            .get(key)
            .and_then(|v| serde_json::from_str::<Value>(v).ok())
    };
    if let Some(container) = super::container::container_json(app) {
        o.insert("container".into(), container);
    }
    o.insert("cpus".into(), json!(app.cpus));
    if !app.dependencies.is_empty() {
        let deps: Vec<&str> = app.dependencies.iter().map(PathId::as_str).collect();
        o.insert("dependencies".into(), json!(deps));
    }
    o.insert("disk".into(), json!(app.disk));
    if !app.env.is_empty() || !app.env_secrets.is_empty() {
        o.insert("env".into(), super::view::env_json(app));
    }
    o.insert("executor".into(), json!(app.executor));
    if let Some(r) = &app.executor_resources {
        o.insert(
            "executorResources".into(),
            json!({"cpus": r.cpus, "mem": r.mem, "disk": r.disk}),
        );
    }
    if !app.fetch.is_empty() {
        let fetch: Vec<Value> = app
            .fetch
            .iter()
            .map(|f| {
                let mut v = json!({"uri": f.uri, "extract": f.extract, "executable": f.executable, "cache": f.cache});
                if let Some(dest) = &f.dest_path {
                    v["destPath"] = json!(dest);
                }
                v
            })
            .collect();
        o.insert("fetch".into(), json!(fetch));
    }
    if !app.health_checks.is_empty() {
        let checks: Vec<Value> = app
            .health_checks
            .iter()
            .map(|c| health_check_json(c, app))
            .collect();
        o.insert("healthChecks".into(), json!(checks));
    }
    o.insert("instances".into(), json!(app.instances));
    o.insert("labels".into(), json!(app.labels));
    o.insert(
        "maxLaunchDelaySeconds".into(),
        json!(app.max_launch_delay_seconds),
    );
    o.insert("mem".into(), json!(app.mem));
    o.insert("gpus".into(), json!(app.gpus));
    o.insert("networks".into(), super::container::networks_json(app));
    let ports: Vec<Value> = app
        .port_definitions
        .iter()
        .map(|p| {
            let mut v = json!({"port": p.port, "protocol": p.protocol});
            if let Some(name) = &p.name {
                v["name"] = json!(name);
            }
            if !p.labels.is_empty() {
                v["labels"] = json!(p.labels);
            }
            v
        })
        .collect();
    if !app.uses_port_mappings() {
        o.insert("portDefinitions".into(), json!(ports));
    }
    o.insert("requirePorts".into(), json!(app.require_ports));
    if app.tty {
        o.insert("tty".into(), json!(true));
    }
    o.insert(
        "upgradeStrategy".into(),
        json!({
            "maximumOverCapacity": app.upgrade_strategy.maximum_over_capacity,
            "minimumHealthCapacity": app.upgrade_strategy.minimum_health_capacity,
        }),
    );
    if let Some(user) = &app.user {
        o.insert("user".into(), json!(user));
    }
    o.insert("version".into(), json!(timestamp(app.version_ms)));
    o.insert(
        "versionInfo".into(),
        json!({
            "lastScalingAt": timestamp(app.last_scaling_at_ms),
            "lastConfigChangeAt": timestamp(app.last_config_change_at_ms),
        }),
    );
    o.insert("killSelection".into(), json!(app.kill_selection.name()));
    o.insert(
        "unreachableStrategy".into(),
        match app.unreachable_strategy {
            UnreachableStrategy::Disabled => json!("disabled"),
            UnreachableStrategy::Enabled {
                inactive_after_seconds,
                expunge_after_seconds,
            } => json!({
                "inactiveAfterSeconds": inactive_after_seconds,
                "expungeAfterSeconds": expunge_after_seconds,
            }),
        },
    );
    o.insert("role".into(), json!(app.role));
    if let Some(roles) = &app.accepted_resource_roles {
        o.insert("acceptedResourceRoles".into(), json!(roles));
    }
    if let Some(grace) = app.task_kill_grace_period_seconds {
        o.insert("taskKillGracePeriodSeconds".into(), json!(grace));
    }
    if let Some(checks) = super::readiness::checks_json(app) {
        o.insert("readinessChecks".into(), checks);
    }
    if let Some(check) = super::check::check_json(app) {
        o.insert("check".into(), check);
    }
    for key in ["secrets", "residency", "ipAddress"] {
        if key == "residency" {
            if let Some(v) = super::container::residency_json(app) {
                o.insert(key.into(), v);
            }
        } else if let Some(v) = opaque(key) {
            o.insert(key.into(), v);
        }
    }
    o
}

pub fn app_info(s: &Scheduler, app: &AppSpec, embed: Embed) -> Value {
    let mut o = app_json(app);
    let instances: Vec<&Instance> = s.instances_of(&app.id).collect();
    let launched: Vec<&&Instance> = instances.iter().filter(|i| i.has_task()).collect();
    let staged = launched
        .iter()
        .filter(|i| {
            matches!(
                i.condition,
                Condition::Provisioned | Condition::Staging | Condition::Starting
            )
        })
        .count();
    let running = launched
        .iter()
        .filter(|i| i.condition == Condition::Running)
        .count();
    let healthy = launched
        .iter()
        .filter(|i| i.healthy() == Some(true))
        .count();
    let unhealthy = launched
        .iter()
        .filter(|i| i.healthy() == Some(false))
        .count();
    o.insert("tasksStaged".into(), json!(staged));
    o.insert("tasksRunning".into(), json!(running));
    o.insert("tasksHealthy".into(), json!(healthy));
    o.insert("tasksUnhealthy".into(), json!(unhealthy));
    let deployments: Vec<Value> = s
        .deployments_of(&app.id)
        .into_iter()
        .map(|id| json!({ "id": id }))
        .collect();
    o.insert("deployments".into(), json!(deployments));
    if embed.tasks {
        let tasks: Vec<Value> = instances
            .iter()
            .filter(|i| i.has_task())
            .map(|i| task_json(i, None))
            .collect();
        o.insert("tasks".into(), json!(tasks));
    }
    if embed.last_task_failure
        && let Some(failure) = s.last_failure(&app.id)
    {
        o.insert("lastTaskFailure".into(), failure_json(failure));
    }
    Value::Object(o)
}

fn failure_json(f: &TaskFailure) -> Value {
    json!({
        "appId": f.app_id.as_str(),
        "host": f.host,
        "message": f.message,
        "state": state_name(f.state),
        "taskId": f.task_id,
        "instanceId": f.instance_id,
        "timestamp": timestamp(f.timestamp_ms),
        "version": timestamp(f.version_ms),
        "slaveId": f.slave_id,
    })
}

/// A task (`/v2/apps/{id}/tasks`, `/v2/tasks`); `service_ports` only on `/v2/tasks`.
pub fn task_json(i: &Instance, app: Option<&AppSpec>) -> Value {
    let placement = i.placement.as_ref();
    let mut o = Map::new();
    o.insert("id".into(), json!(i.task_id()));
    o.insert("appId".into(), json!(i.app_id.as_str()));
    o.insert(
        "host".into(),
        json!(placement.map(|p| p.agent.hostname.as_str()).unwrap_or("")),
    );
    o.insert(
        "slaveId".into(),
        json!(placement.map(|p| p.agent_id.as_str()).unwrap_or("")),
    );
    o.insert("state".into(), json!(i.state_name()));
    if i.condition.is_active() {
        if let Some(staged) = i.staged_at_ms {
            o.insert("stagedAt".into(), json!(timestamp(staged)));
        }
        if let Some(started) = i.started_at_ms {
            o.insert("startedAt".into(), json!(timestamp(started)));
        }
        o.insert("version".into(), json!(timestamp(i.app_version_ms)));
        o.insert(
            "ports".into(),
            json!(placement.map(|p| p.host_ports.clone()).unwrap_or_default()),
        );
    }
    let service_ports: Vec<u32> = app.map(AppSpec::service_ports).unwrap_or_default();
    o.insert("servicePorts".into(), json!(service_ports));
    let ips: Vec<Value> = i
        .ip_addresses
        .iter()
        .map(|ip| {
            let protocol = if ip.contains(':') { "IPv6" } else { "IPv4" };
            json!({"ipAddress": ip, "protocol": protocol})
        })
        .collect();
    o.insert("ipAddresses".into(), json!(ips));
    let mut results: Vec<Value> = i
        .health
        .iter()
        .map(|h| {
            let mut r = json!({
                "alive": h.alive(),
                "consecutiveFailures": h.consecutive_failures,
                "instanceId": i.id,
            });
            if let Some(t) = h.first_success_ms {
                r["firstSuccess"] = json!(timestamp(t));
            }
            if let Some(t) = h.last_success_ms {
                r["lastSuccess"] = json!(timestamp(t));
            }
            if let Some(t) = h.last_failure_ms {
                r["lastFailure"] = json!(timestamp(t));
            }
            if let Some(c) = &h.last_failure_cause {
                r["lastFailureCause"] = json!(c);
            }
            r
        })
        .collect();
    if let Some(alive) = i.mesos_healthy {
        results.push(json!({"alive": alive, "consecutiveFailures": 0, "instanceId": i.id}));
    }
    o.insert("healthCheckResults".into(), json!(results));
    o.insert(
        "localVolumes".into(),
        super::container::local_volumes_json(i),
    );
    o.insert("role".into(), json!(app.map_or("*", |a| a.role.as_str())));
    Value::Object(o)
}
