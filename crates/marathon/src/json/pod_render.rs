//! Pods as Marathon 1.10 writes them: the definition (`Pod`), its status (`PodStatus` with
//! `PodInstanceStatus` and `ContainerStatus`, from `podStatus.raml` and Marathon's
//! `PodStatusConversion`), and the `Instance` a kill answers with.

use drover_core::marathon::app::AppSpec;
use drover_core::marathon::condition::{Condition, Goal};
use drover_core::marathon::instance::Instance;
use drover_core::marathon::pod::state::PodTask;
use drover_core::marathon::pod::{PodCommand, PodContainer, PodProbe, PodSpec};
use drover_core::marathon::scheduler::Scheduler;
use drover_core::marathon::timestamp;
use drover_core::marathon::unreachable::UnreachableStrategy;
use drover_core::task::names::state_name;
use serde_json::{Map, Value, json};

fn command_json(c: &PodCommand) -> Value {
    match c {
        PodCommand::Shell(s) => json!({"shell": s}),
        PodCommand::Argv(a) => json!({"argv": a}),
    }
}

fn unreachable_json(u: &UnreachableStrategy) -> Value {
    match u {
        UnreachableStrategy::Disabled => json!("disabled"),
        UnreachableStrategy::Enabled {
            inactive_after_seconds,
            expunge_after_seconds,
        } => json!({
            "inactiveAfterSeconds": inactive_after_seconds,
            "expungeAfterSeconds": expunge_after_seconds,
        }),
    }
}

fn container_json(c: &PodContainer) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(c.name));
    if let Some(exec) = &c.exec {
        let mut e = json!({"command": command_json(&exec.command)});
        if let Some(o) = exec.override_entrypoint {
            e["overrideEntrypoint"] = json!(o);
        }
        m.insert("exec".into(), e);
    }
    if let Some(image) = &c.image {
        let mut i = json!({"kind": "DOCKER", "id": image.id});
        if let Some(force) = image.force_pull {
            i["forcePull"] = json!(force);
        }
        if let Some(secret) = &image.pull_config {
            i["pullConfig"] = json!({"secret": secret});
        }
        m.insert("image".into(), i);
    }
    let r = c.resources;
    m.insert(
        "resources".into(),
        json!({"cpus": r.cpus, "mem": r.mem, "disk": r.disk, "gpus": r.gpus}),
    );
    if !c.endpoints.is_empty() {
        let endpoints: Vec<Value> = c
            .endpoints
            .iter()
            .map(|e| {
                let mut v = json!({"name": e.name});
                if let Some(p) = e.container_port {
                    v["containerPort"] = json!(p);
                }
                if let Some(p) = e.host_port {
                    v["hostPort"] = json!(p);
                }
                if !e.protocol.is_empty() {
                    v["protocol"] = json!(e.protocol);
                }
                if !e.labels.is_empty() {
                    v["labels"] = json!(e.labels);
                }
                v
            })
            .collect();
        m.insert("endpoints".into(), json!(endpoints));
    }
    if !c.environment.is_empty() || !c.env_secrets.is_empty() {
        m.insert(
            "environment".into(),
            env_json(&c.environment, &c.env_secrets),
        );
    }
    if let Some(user) = &c.user {
        m.insert("user".into(), json!(user));
    }
    if let Some(h) = &c.health_check {
        let mut v = match &h.probe {
            PodProbe::Http {
                endpoint,
                path,
                scheme,
            } => {
                let mut http = json!({"endpoint": endpoint, "scheme": scheme});
                if let Some(p) = path {
                    http["path"] = json!(p);
                }
                json!({"http": http})
            }
            PodProbe::Tcp { endpoint } => json!({"tcp": {"endpoint": endpoint}}),
            PodProbe::Exec(c) => json!({"exec": {"command": command_json(c)}}),
        };
        v["gracePeriodSeconds"] = json!(h.grace_period_seconds);
        v["intervalSeconds"] = json!(h.interval_seconds);
        v["maxConsecutiveFailures"] = json!(h.max_consecutive_failures);
        v["timeoutSeconds"] = json!(h.timeout_seconds);
        v["delaySeconds"] = json!(h.delay_seconds);
        m.insert("healthCheck".into(), v);
    }
    if !c.volume_mounts.is_empty() {
        let mounts: Vec<Value> = c
            .volume_mounts
            .iter()
            .map(|v| json!({"name": v.name, "mountPath": v.mount_path, "readOnly": v.read_only}))
            .collect();
        m.insert("volumeMounts".into(), json!(mounts));
    }
    if !c.artifacts.is_empty() {
        let artifacts: Vec<Value> = c
            .artifacts
            .iter()
            .map(|a| {
                let mut v = json!({"uri": a.uri, "extract": a.extract,
                                   "executable": a.executable, "cache": a.cache});
                if let Some(d) = &a.dest_path {
                    v["destPath"] = json!(d);
                }
                v
            })
            .collect();
        m.insert("artifacts".into(), json!(artifacts));
    }
    if !c.labels.is_empty() {
        m.insert("labels".into(), json!(c.labels));
    }
    if let Some(grace) = c.kill_grace_period_seconds {
        m.insert("lifecycle".into(), json!({"killGracePeriodSeconds": grace}));
    }
    if c.tty {
        m.insert("tty".into(), json!(true));
    }
    Value::Object(m)
}

/// An environment as Marathon shows it: plain values, and secret references as
/// `{"secret": "<id>"}`.
fn env_json(
    plain: &std::collections::BTreeMap<String, String>,
    secrets: &std::collections::BTreeMap<String, String>,
) -> Value {
    let mut env: Map<String, Value> = plain.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    for (k, id) in secrets {
        env.insert(k.clone(), json!({"secret": id}));
    }
    Value::Object(env)
}

/// The pod a carrier holds, as `GET /v2/pods/{id}` shows it; `stored` adds the version
/// bookkeeping the scheduler needs after a restart (`versionInfo`, never shown).
pub fn pod_json(app: &AppSpec, stored: bool) -> Map<String, Value> {
    let empty = PodSpec {
        containers: Vec::new(),
        volumes: Vec::new(),
        networks: Vec::new(),
        executor_resources: drover_core::marathon::pod::PodResources::EXECUTOR_DEFAULT,
        legacy_shared_cgroups: false,
    };
    let pod = app.pod.as_deref().unwrap_or(&empty);
    let mut m = Map::new();
    m.insert("id".into(), json!(app.id.as_str()));
    if pod.legacy_shared_cgroups {
        m.insert("legacySharedCgroups".into(), json!(true));
    }
    m.insert("version".into(), json!(timestamp(app.version_ms)));
    if let Some(user) = &app.user {
        m.insert("user".into(), json!(user));
    }
    let containers: Vec<Value> = pod.containers.iter().map(container_json).collect();
    m.insert("containers".into(), json!(containers));
    if !app.env.is_empty() || !app.env_secrets.is_empty() {
        m.insert("environment".into(), env_json(&app.env, &app.env_secrets));
    }
    if !app.secrets.is_empty() {
        let secrets: Map<String, Value> = app
            .secrets
            .iter()
            .map(|(id, source)| (id.clone(), json!({"source": source})))
            .collect();
        m.insert("secrets".into(), Value::Object(secrets));
    }
    if !app.labels.is_empty() {
        m.insert("labels".into(), json!(app.labels));
    }
    m.insert(
        "scaling".into(),
        json!({"kind": "fixed", "instances": app.instances}),
    );
    let mut placement = Map::new();
    if !app.constraints.is_empty() {
        let constraints: Vec<Value> = app
            .constraints
            .iter()
            .map(|c| {
                let mut v = json!({"fieldName": c.field, "operator": c.operator.name()});
                if let Some(value) = &c.value {
                    v["value"] = json!(value);
                }
                v
            })
            .collect();
        placement.insert("constraints".into(), json!(constraints));
    }
    if let Some(roles) = &app.accepted_resource_roles {
        placement.insert("acceptedResourceRoles".into(), json!(roles));
    }
    let mut scheduling = json!({
        "backoff": {
            "backoff": app.backoff_seconds,
            "backoffFactor": app.backoff_factor,
            "maxLaunchDelay": app.max_launch_delay_seconds,
        },
        "upgrade": {
            "minimumHealthCapacity": app.upgrade_strategy.minimum_health_capacity,
            "maximumOverCapacity": app.upgrade_strategy.maximum_over_capacity,
        },
    });
    if !placement.is_empty() {
        scheduling["placement"] = Value::Object(placement);
    }
    scheduling["killSelection"] = json!(app.kill_selection.name());
    scheduling["unreachableStrategy"] = unreachable_json(&app.unreachable_strategy);
    m.insert("scheduling".into(), scheduling);
    if !pod.volumes.is_empty() {
        let volumes: Vec<Value> = pod
            .volumes
            .iter()
            .map(|v| match (&v.host, v.persistent_size_mb) {
                (_, Some(size)) => json!({
                    "name": v.name,
                    "persistent": {"type": "root", "size": size, "constraints": []},
                }),
                (Some(host), None) => json!({"name": v.name, "host": host}),
                (None, None) => json!({"name": v.name}),
            })
            .collect();
        m.insert("volumes".into(), json!(volumes));
    }
    let networks: Vec<Value> = if pod.networks.is_empty() {
        vec![json!({"mode": "host"})]
    } else {
        pod.networks
            .iter()
            .map(|n| {
                let mut v = json!({"mode": n.mode.name()});
                if let Some(name) = &n.name {
                    v["name"] = json!(name);
                }
                if !n.labels.is_empty() {
                    v["labels"] = json!(n.labels);
                }
                v
            })
            .collect()
    };
    m.insert("networks".into(), json!(networks));
    let e = pod.executor_resources;
    m.insert(
        "executorResources".into(),
        json!({"cpus": e.cpus, "mem": e.mem, "disk": e.disk}),
    );
    m.insert("role".into(), json!(app.role));
    if stored {
        m.insert(
            "versionInfo".into(),
            json!({
                "lastScalingAt": timestamp(app.last_scaling_at_ms),
                "lastConfigChangeAt": timestamp(app.last_config_change_at_ms),
            }),
        );
    }
    m
}

/// A stored run spec: a pod's JSON or an app's.
pub fn run_spec_json(app: &AppSpec) -> Map<String, Value> {
    if app.pod.is_some() {
        pod_json(app, true)
    } else {
        super::app::app_json(app)
    }
}

/// Reads what [`run_spec_json`] wrote: pods have `containers`, apps never do.
pub fn parse_run_spec(v: &Value) -> Result<AppSpec, Vec<drover_core::marathon::app::Violation>> {
    if v.get("containers").is_some() {
        super::pod::parse_pod(v, None, super::pod::PodMode::Stored)
    } else {
        super::app::parse_app(v, None, super::app::Mode::Stored)
    }
}

/// A task's state as a container status shows it (`TASK_STAGING` before any status).
fn container_state(t: &PodTask) -> &'static str {
    match t.state {
        Some(s) => state_name(s),
        None => "TASK_STAGING",
    }
}

fn active(c: Condition) -> bool {
    matches!(
        c,
        Condition::Staging
            | Condition::Starting
            | Condition::Running
            | Condition::Unreachable
            | Condition::Killing
    )
}

/// One container of an instance (`ContainerStatus`).
fn container_status(
    pod: &PodSpec,
    instance: &Instance,
    task: &PodTask,
    allocated: &[(String, u32)],
) -> (Value, bool) {
    let since = timestamp(task.started_at_ms.unwrap_or(task.since_ms));
    let spec = pod.container(&task.container);
    let task_id = drover_core::marathon::pod::launch::task_id(
        &instance.id,
        &task.container,
        instance.incarnation,
    );
    let check_endpoint = spec.and_then(|c| match &c.health_check {
        Some(h) => match &h.probe {
            PodProbe::Http { endpoint, .. } | PodProbe::Tcp { endpoint } => Some(endpoint.as_str()),
            PodProbe::Exec(_) => None,
        },
        None => None,
    });
    let mut endpoints = Vec::new();
    // Endpoints of a task that holds its ports (Marathon's `isActive`, Provisioned included).
    if let Some(c) = spec.filter(|_| task.condition.is_active()) {
        for e in &c.endpoints {
            let mut v = json!({"name": e.name});
            if let Some((_, port)) = allocated.iter().find(|(n, _)| n == &e.name) {
                v["allocatedHostPort"] = json!(port);
            }
            if check_endpoint == Some(e.name.as_str())
                && let Some(h) = task.healthy
            {
                v["healthy"] = json!(h);
            }
            endpoints.push(v);
        }
    }
    let mut unhealthy = false;
    let mut conditions = Vec::new();
    let reports_health = !matches!(
        task.condition,
        Condition::Scheduled | Condition::Provisioned | Condition::Staging | Condition::Starting
    );
    if reports_health && spec.is_some_and(|c| c.health_check.is_some()) {
        let (value, reason) = match task.healthy {
            Some(h) => (h, "health-reported-by-mesos"),
            None => (false, "health-unreported-by-mesos"),
        };
        unhealthy = !value;
        conditions.push(json!({
            "name": "healthy",
            "lastChanged": since,
            "lastUpdated": since,
            "value": value.to_string(),
            "reason": reason,
        }));
    }
    let mut v = json!({
        "name": task.container,
        "status": container_state(task),
        "statusSince": since,
        "containerId": task_id,
        "endpoints": endpoints,
        "conditions": conditions,
        "lastUpdated": since,
        "lastChanged": since,
    });
    if let Some(c) = spec.filter(|_| active(task.condition)) {
        let r = c.resources;
        v["resources"] = json!({"cpus": r.cpus, "mem": r.mem, "disk": r.disk, "gpus": r.gpus});
    }
    if let Some(m) = &task.message {
        v["message"] = json!(m);
    }
    (v, unhealthy)
}

/// One instance (`PodInstanceStatus`), and whether it is STABLE.
pub fn instance_status(app: &AppSpec, instance: &Instance) -> (Value, bool) {
    let Some(pod) = app.pod.as_deref() else {
        return (Value::Null, false);
    };
    // The instance's host ports belong to its endpoints with a host port, in pod order.
    let mut ports = instance
        .placement
        .as_ref()
        .map(|p| p.host_ports.clone())
        .unwrap_or_default()
        .into_iter();
    let allocated: Vec<(String, u32)> = pod
        .endpoints()
        .filter(|(_, e)| e.host_port.is_some())
        .filter_map(|(_, e)| ports.next().map(|p| (e.name.clone(), p)))
        .collect();
    let mut any_unhealthy = false;
    let mut containers = Vec::new();
    let mut resources = pod.executor_resources;
    for task in &instance.tasks {
        let (v, unhealthy) = container_status(pod, instance, task, &allocated);
        any_unhealthy |= unhealthy;
        if active(task.condition)
            && let Some(c) = pod.container(&task.container)
        {
            resources.cpus += c.resources.cpus;
            resources.mem += c.resources.mem;
            resources.disk += c.resources.disk;
            resources.gpus += c.resources.gpus;
        }
        containers.push(v);
    }
    let (status, message) = match instance.condition {
        Condition::Scheduled | Condition::Provisioned => ("PENDING", None),
        Condition::Staging | Condition::Starting => ("STAGING", None),
        Condition::Unreachable | Condition::UnreachableInactive => {
            ("DEGRADED", Some("pod instance has become unreachable"))
        }
        Condition::Running if any_unhealthy => {
            ("DEGRADED", Some("at least one container is not healthy"))
        }
        Condition::Running => ("STABLE", None),
        _ => ("TERMINAL", None),
    };
    let since = timestamp(instance.since_ms);
    let mut v = json!({
        "id": instance.id,
        "status": status,
        "statusSince": since,
        "conditions": [],
        "resources": {
            "cpus": resources.cpus, "mem": resources.mem,
            "disk": resources.disk, "gpus": resources.gpus,
        },
        "networks": [],
        "containers": containers,
        "specReference": format!(
            "/v2/pods{}::versions/{}", app.id, timestamp(instance.app_version_ms)
        ),
        "lastUpdated": since,
        "lastChanged": since,
        "role": app.role,
    });
    if let Some(p) = &instance.placement {
        v["agentHostname"] = json!(p.agent.hostname);
        v["agentId"] = json!(p.agent_id);
        if let Some(region) = &p.agent.region {
            v["agentRegion"] = json!(region);
        }
        if let Some(zone) = &p.agent.zone {
            v["agentZone"] = json!(zone);
        }
    }
    if !instance.ip_addresses.is_empty() {
        v["networks"] = json!([{"addresses": instance.ip_addresses}]);
    }
    if let Some(m) = message {
        v["message"] = json!(m);
    }
    (v, status == "STABLE")
}

/// `GET /v2/pods/{id}::status`.
pub fn pod_status(s: &Scheduler, app: &AppSpec, now_ms: u64) -> Value {
    let mut instances = Vec::new();
    let mut stable = 0usize;
    let mut since: Option<u64> = None;
    // Freshly scheduled instances (never placed) are not shown, as in Marathon.
    for i in s
        .instances_of(&app.id)
        .filter(|i| !(i.condition == Condition::Scheduled && i.placement.is_none()))
    {
        let (v, is_stable) = instance_status(app, i);
        stable += usize::from(is_stable);
        since = Some(since.map_or(i.since_ms, |t| t.max(i.since_ms)));
        instances.push(v);
    }
    let status = if stable >= app.instances as usize {
        "STABLE"
    } else {
        "DEGRADED"
    };
    let since = timestamp(since.unwrap_or(now_ms));
    let history: Vec<Value> = s
        .last_failure(&app.id)
        .map(|f| {
            json!({
                "instanceID": f.instance_id,
                "startedAt": timestamp(f.timestamp_ms),
                "terminatedAt": timestamp(f.timestamp_ms),
                "message": f.message,
                "containers": [{
                    "containerId": f.task_id,
                    "lastKnownState": state_name(f.state),
                }],
            })
        })
        .into_iter()
        .collect();
    json!({
        "id": app.id.as_str(),
        "spec": Value::Object(pod_json(app, false)),
        "status": status,
        "statusSince": since,
        "instances": instances,
        "terminationHistory": history,
        "lastUpdated": timestamp(now_ms),
        "lastChanged": since,
    })
}

/// An instance as `DELETE /v2/pods/{id}::instances/{instance}` answers (`Instance`).
pub fn instance_json(app: Option<&AppSpec>, i: &Instance) -> Value {
    let mut v = json!({
        "instanceId": i.id,
        "state": {
            "condition": i.condition.name(),
            "since": timestamp(i.since_ms),
            "goal": match i.goal {
                Goal::Running => "Running",
                Goal::Decommissioned => "Decommissioned",
                Goal::Stopped => "Stopped",
            },
        },
        "runSpecVersion": timestamp(i.app_version_ms),
        "unreachableStrategy": unreachable_json(
            &app.map(|a| a.unreachable_strategy).unwrap_or_default()
        ),
    });
    if let Some(t) = i.tasks.iter().filter_map(|t| t.started_at_ms).min() {
        v["state"]["activeSince"] = json!(timestamp(t));
    }
    if let Some(h) = i.mesos_healthy {
        v["state"]["healthy"] = json!(h);
    }
    if let Some(p) = &i.placement {
        let mut agent = json!({"host": p.agent.hostname, "agentId": p.agent_id, "attributes": []});
        if let Some(region) = &p.agent.region {
            agent["region"] = json!(region);
        }
        if let Some(zone) = &p.agent.zone {
            agent["zone"] = json!(zone);
        }
        v["agentInfo"] = agent;
    }
    v
}

#[cfg(test)]
mod tests {
    use drover_core::marathon::constraint::AgentView;
    use drover_core::marathon::instance::Placement;
    use drover_core::task::TaskState;

    use super::*;
    use crate::json::pod::{PodMode, parse_pod};

    /// `PodInstanceStatus` of a running instance whose checked container is healthy, in
    /// Marathon 1.10's shape (`podStatus.raml`, `PodStatusConversion`).
    #[test]
    fn a_running_instance_status_has_marathons_shape() {
        let mut app = parse_pod(
            &json!({
                "id": "/web/pod",
                "containers": [
                    {"name": "web", "exec": {"command": {"shell": "serve"}},
                     "resources": {"cpus": 0.5, "mem": 64},
                     "endpoints": [{"name": "http", "hostPort": 0}],
                     "healthCheck": {"http": {"endpoint": "http"}}},
                    {"name": "side", "exec": {"command": {"shell": "sleep 9"}},
                     "resources": {"cpus": 0.25, "mem": 32}}
                ]
            }),
            None,
            PodMode::Request,
        )
        .expect("valid pod");
        app.version_ms = 1_000;
        let mut i = Instance::scheduled(&app.id, "u1", 1_000, 1_000, 2_000);
        i.condition = Condition::Running;
        i.since_ms = 3_000;
        i.placement = Some(Placement {
            agent_id: "a1".into(),
            agent: AgentView {
                hostname: "h1".into(),
                region: None,
                zone: None,
                attributes: Default::default(),
            }
            .into(),
            host_ports: vec![31005],
        });
        i.tasks = ["web", "side"]
            .iter()
            .map(|c| PodTask {
                container: (*c).into(),
                condition: Condition::Running,
                state: Some(TaskState::TaskRunning),
                healthy: (*c == "web").then_some(true),
                message: None,
                since_ms: 2_500,
                started_at_ms: Some(2_600),
            })
            .collect();
        let (v, stable) = instance_status(&app, &i);
        assert!(stable);
        let t = timestamp;
        assert_eq!(
            v,
            json!({
                "id": "web_pod.instance-u1",
                "status": "STABLE",
                "statusSince": t(3_000),
                "conditions": [],
                "resources": {"cpus": 0.85, "mem": 128.0, "disk": 10.0, "gpus": 0},
                "networks": [],
                "containers": [
                    {
                        "name": "web", "status": "TASK_RUNNING", "statusSince": t(2_600),
                        "containerId": "web_pod.instance-u1.web.1",
                        "endpoints": [{"name": "http", "allocatedHostPort": 31005, "healthy": true}],
                        "conditions": [{"name": "healthy", "lastChanged": t(2_600),
                                        "lastUpdated": t(2_600), "value": "true",
                                        "reason": "health-reported-by-mesos"}],
                        "lastUpdated": t(2_600), "lastChanged": t(2_600),
                        "resources": {"cpus": 0.5, "mem": 64.0, "disk": 0.0, "gpus": 0}
                    },
                    {
                        "name": "side", "status": "TASK_RUNNING", "statusSince": t(2_600),
                        "containerId": "web_pod.instance-u1.side.1",
                        "endpoints": [], "conditions": [],
                        "lastUpdated": t(2_600), "lastChanged": t(2_600),
                        "resources": {"cpus": 0.25, "mem": 32.0, "disk": 0.0, "gpus": 0}
                    }
                ],
                "specReference": format!("/v2/pods/web/pod::versions/{}", t(1_000)),
                "lastUpdated": t(3_000),
                "lastChanged": t(3_000),
                "role": "*",
                "agentHostname": "h1",
                "agentId": "a1"
            })
        );
        // An unhealthy checked container degrades the instance, saying why.
        i.tasks[0].healthy = Some(false);
        let (v, stable) = instance_status(&app, &i);
        assert!(!stable);
        assert_eq!(v["status"], "DEGRADED");
        assert_eq!(v["message"], "at least one container is not healthy");
    }

    /// A container's `image` (DOCKER) is read, shown as given, and read back from the store;
    /// without `exec` the image's entrypoint runs.
    #[test]
    fn a_container_image_round_trips() {
        let body = json!({
            "id": "/ucr",
            "secrets": {"registry": {"source": "prod/docker-config"}},
            "containers": [
                {"name": "entry", "resources": {"cpus": 0.1, "mem": 16},
                 "image": {"kind": "DOCKER", "id": "busybox:1", "forcePull": true,
                           "pullConfig": {"secret": "registry"}}},
                {"name": "argv", "resources": {"cpus": 0.1, "mem": 16},
                 "exec": {"command": {"argv": ["echo", "hi"]}, "overrideEntrypoint": true},
                 "image": {"kind": "DOCKER", "id": "alpine"}}
            ]
        });
        let mut app = parse_pod(&body, None, PodMode::Request).expect("valid pod");
        let pod = app.pod.as_deref().unwrap();
        let image = pod.containers[0].image.as_ref().expect("an image");
        assert_eq!(
            (
                image.id.as_str(),
                image.force_pull,
                image.pull_config.as_deref()
            ),
            ("busybox:1", Some(true), Some("registry"))
        );
        assert!(pod.containers[0].exec.is_none());
        let shown = pod_json(&app, false);
        assert_eq!(
            shown["containers"][0]["image"],
            body["containers"][0]["image"]
        );
        // `forcePull` is shown only when given, as Marathon keeps the RAML object.
        assert_eq!(
            shown["containers"][1]["image"],
            body["containers"][1]["image"]
        );
        assert!(shown["containers"][0].get("exec").is_none());
        app.version_ms = 5_000;
        app.last_scaling_at_ms = 5_000;
        app.last_config_change_at_ms = 5_000;
        let stored = Value::Object(run_spec_json(&app));
        assert_eq!(parse_run_spec(&stored).expect("reads back"), app);
        // What GET shows is a valid request too.
        parse_pod(&Value::Object(shown), None, PodMode::Request).expect("shown is valid");
    }

    #[test]
    fn what_a_container_image_cannot_be_is_refused_by_name() {
        let with_image = |image: Value| {
            json!({
                "id": "/ucr",
                "secrets": {"s": {"source": "x"}},
                "containers": [{"name": "c", "resources": {"cpus": 0.1, "mem": 16},
                                "image": image}]
            })
        };
        for (image, path, words) in [
            (
                json!({"kind": "APPC", "id": "coreos.com/etcd:v3"}),
                "/containers(0)/image/kind",
                "APPC images are not supported",
            ),
            (
                json!({"kind": "OCI", "id": "busybox"}),
                "/containers(0)/image/kind",
                "not one of DOCKER, APPC",
            ),
            (
                json!({"id": "busybox"}),
                "/containers(0)/image/kind",
                "missing",
            ),
            (
                json!({"kind": "DOCKER"}),
                "/containers(0)/image/id",
                "missing",
            ),
            (
                json!({"kind": "DOCKER", "id": "Not An Image"}),
                "/containers(0)/image/id",
                "invalid image reference",
            ),
            (
                json!({"kind": "DOCKER", "id": "busybox", "labels": {"os": "linux"}}),
                "/containers(0)/image/labels",
                "APPC",
            ),
            (
                json!({"kind": "DOCKER", "id": "busybox", "pullConfig": {"secret": "nope"}}),
                "/containers(0)/image/pullConfig/secret",
                "undefined secret named 'nope'",
            ),
            (
                json!({"kind": "DOCKER", "id": "busybox", "pullConfig": {}}),
                "/containers(0)/image/pullConfig/secret",
                "missing",
            ),
            (
                json!({"kind": "DOCKER", "id": "busybox", "frobnicate": 1}),
                "/containers(0)/image/frobnicate",
                "unknown field",
            ),
        ] {
            let problems =
                parse_pod(&with_image(image.clone()), None, PodMode::Request).expect_err("refused");
            assert!(
                problems
                    .iter()
                    .any(|v| v.path == path && v.message.contains(words)),
                "{image}: {path} / {words:?} not in {problems:?}"
            );
        }
        // Without an image a container still needs a command.
        let problems = parse_pod(&with_image(Value::Null), None, PodMode::Request)
            .expect_err("nothing to run");
        assert_eq!(problems[0].path, "/containers(0)/exec");
    }

    #[test]
    fn a_stored_pod_reads_back_the_same() {
        let mut app = parse_pod(
            &json!({
                "id": "/p", "labels": {"a": "b"}, "user": "nobody",
                "containers": [{"name": "c", "exec": {"command": {"argv": ["sleep", "9"]}},
                                "resources": {"cpus": 0.1, "mem": 16},
                                "volumeMounts": [{"name": "v", "mountPath": "data"}]}],
                "volumes": [{"name": "v"}],
                "scheduling": {"unreachableStrategy": "disabled"}
            }),
            None,
            PodMode::Request,
        )
        .expect("valid pod");
        app.version_ms = 5_000;
        app.last_scaling_at_ms = 5_000;
        app.last_config_change_at_ms = 4_000;
        let stored = Value::Object(run_spec_json(&app));
        assert_eq!(parse_run_spec(&stored).expect("reads back"), app);
    }
}
