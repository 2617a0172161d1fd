//! The scheduler's state in drover-store (namespace `marathon`): apps and their versions as
//! app JSON, instances with goal and condition, deployments, the framework id. Written before
//! the API answers or anything is sent; read back on start.

use std::sync::Arc;

use anyhow::Context;
use drover_core::marathon::condition::{Condition, Goal};
use drover_core::marathon::constraint::AgentView;
use drover_core::marathon::deployment::{Action, ActionKind, Deployment};
use drover_core::marathon::group::{GroupSnapshot, GroupSpec};
use drover_core::marathon::instance::{Instance, Placement};
use drover_core::marathon::path::PathId;
use drover_core::marathon::pod::state::PodTask;
use drover_core::marathon::reservation::{LocalVolume, Reservation, ReservationState};
use drover_core::marathon::scheduler::{Change, Restored, Scheduler};
use drover_core::task::names::{parse_state, state_name};
use drover_store::{Store, WriteBatch};
use serde_json::{Value, json};

use crate::json::pod_render::{parse_run_spec, pod_json, run_spec_json};
use crate::json::view::{AppDef, to_bytes};

/// The store namespace of everything Marathon keeps.
pub const NAMESPACE: &str = "marathon";

fn app_key(id: &PathId) -> String {
    format!("app/{id}")
}

// `@` cannot occur in an app id, so `version/<id>@` never prefixes another app's versions.
fn version_prefix(id: &PathId) -> String {
    format!("version/{id}@")
}

fn version_key(id: &PathId, version_ms: u64) -> String {
    format!("{}{version_ms:020}", version_prefix(id))
}

fn group_key(id: &PathId) -> String {
    format!("group/{id}")
}

fn group_version_key(id: &PathId, version_ms: u64) -> String {
    format!("groupversion/{id}@{version_ms:020}")
}

fn group_spec_json(g: &GroupSpec) -> Value {
    let deps: Vec<&str> = g.dependencies.iter().map(PathId::as_str).collect();
    json!({"id": g.id.as_str(), "dependencies": deps, "version": g.version_ms})
}

fn parse_group_spec(v: &Value) -> Option<GroupSpec> {
    let id = PathId::parse(v["id"].as_str()?, &PathId::root()).ok()?;
    let mut dependencies = Vec::new();
    for d in v["dependencies"].as_array()? {
        dependencies.push(PathId::parse(d.as_str()?, &PathId::root()).ok()?);
    }
    Some(GroupSpec {
        id,
        dependencies,
        version_ms: v["version"].as_u64()?,
    })
}

fn snapshot_json(g: &GroupSnapshot) -> Value {
    let groups: Vec<Value> = g.groups.iter().map(group_spec_json).collect();
    let apps: Vec<Value> = g
        .apps
        .iter()
        .map(|a| Value::Object(run_spec_json(a)))
        .collect();
    json!({"id": g.id.as_str(), "version": g.version_ms, "groups": groups, "apps": apps})
}

/// A stored group version without its apps (the caller parses those as stored apps).
fn parse_snapshot(v: &Value) -> Option<GroupSnapshot> {
    let mut groups = Vec::new();
    for g in v["groups"].as_array()? {
        groups.push(parse_group_spec(g)?);
    }
    Some(GroupSnapshot {
        id: PathId::parse(v["id"].as_str()?, &PathId::root()).ok()?,
        version_ms: v["version"].as_u64()?,
        groups,
        apps: Vec::new(),
    })
}

/// A run spec's stored bytes: an app's JSON, or a pod's (with its version bookkeeping).
fn spec_bytes(app: &drover_core::marathon::app::AppSpec) -> anyhow::Result<Vec<u8>> {
    Ok(if app.pod.is_some() {
        serde_json::to_vec(&pod_json(app, true))?
    } else {
        to_bytes(&AppDef(app), 1024)?
    })
}

/// Adds the writes for `changes` (reading current values from `s`) to `batch`.
///
/// An instance, deployment or the framework id named more than once is written once: each
/// write stores the current value, so later copies would put the same bytes under the same
/// key (app and version changes, whose deletes and puts can touch each other's keys, are
/// written as listed).
pub fn write(
    store: &dyn Store,
    s: &Scheduler,
    changes: &[&Change],
    batch: &mut WriteBatch,
) -> anyhow::Result<()> {
    let mut seen: std::collections::BTreeSet<&Change> = std::collections::BTreeSet::new();
    let mut buf = Vec::with_capacity(512);
    for &change in changes {
        if matches!(
            change,
            Change::Instance(_) | Change::Deployment(_) | Change::FrameworkId
        ) && !seen.insert(change)
        {
            continue;
        }
        match change {
            Change::App(id) => match s.app(id) {
                Some(app) => {
                    batch.put(NAMESPACE, app_key(id), spec_bytes(app)?);
                }
                None => {
                    batch.delete(NAMESPACE, app_key(id));
                    for (key, _) in store.scan(NAMESPACE, version_prefix(id).as_bytes())? {
                        batch.delete(NAMESPACE, key);
                    }
                }
            },
            Change::AppVersion(id, version) => {
                match s.versions(id).find(|a| a.version_ms == *version) {
                    Some(app) => {
                        batch.put(NAMESPACE, version_key(id, *version), spec_bytes(app)?);
                    }
                    None => {
                        batch.delete(NAMESPACE, version_key(id, *version));
                    }
                }
            }
            Change::Instance(id) => match s.instances().get(id) {
                Some(i) => {
                    buf.clear();
                    serde_json::to_writer(&mut buf, &InstanceRecord::of(i))?;
                    batch.put(NAMESPACE, format!("instance/{id}"), buf.clone());
                }
                None => {
                    batch.delete(NAMESPACE, format!("instance/{id}"));
                }
            },
            Change::Deployment(id) => match s.deployment(id) {
                Some(d) => {
                    batch.put(
                        NAMESPACE,
                        format!("deployment/{id}"),
                        deployment_json(d).to_string(),
                    );
                }
                None => {
                    batch.delete(NAMESPACE, format!("deployment/{id}"));
                }
            },
            Change::Group(id) => match s.groups().get(id) {
                Some(g) => {
                    batch.put(NAMESPACE, group_key(id), group_spec_json(g).to_string());
                }
                None => {
                    batch.delete(NAMESPACE, group_key(id));
                }
            },
            Change::GroupVersion(id, version) => {
                match s.group_versions(id).find(|g| g.version_ms == *version) {
                    Some(snapshot) => {
                        batch.put(
                            NAMESPACE,
                            group_version_key(id, *version),
                            snapshot_json(snapshot).to_string(),
                        );
                    }
                    None => {
                        batch.delete(NAMESPACE, group_version_key(id, *version));
                    }
                }
            }
            Change::FrameworkId => {
                match s.framework_id() {
                    Some(id) => {
                        batch.put(NAMESPACE, "framework-id", id.as_bytes().to_vec());
                    }
                    // Removed by the master: the next subscription must not name it.
                    None => {
                        batch.delete(NAMESPACE, "framework-id");
                    }
                }
            }
        }
    }
    Ok(())
}

/// Reads everything back.
pub fn load(store: &Arc<dyn Store>) -> anyhow::Result<Restored> {
    let mut restored = Restored {
        framework_id: store
            .get(NAMESPACE, b"framework-id")?
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        ..Restored::default()
    };
    let parse = |bytes: &[u8]| -> anyhow::Result<Value> {
        serde_json::from_slice(bytes).context("decode stored marathon record")
    };
    let app = |v: &Value| {
        parse_run_spec(v).map_err(|e| anyhow::anyhow!("stored app does not validate: {e:?}"))
    };
    for (_, bytes) in store.scan(NAMESPACE, b"app/")? {
        restored.apps.push(app(&parse(&bytes)?)?);
    }
    for (_, bytes) in store.scan(NAMESPACE, b"version/")? {
        restored.versions.push(app(&parse(&bytes)?)?);
    }
    // The instances placed on one agent share one view of it, as when they were placed.
    let mut agents: std::collections::BTreeMap<String, Arc<AgentView>> = Default::default();
    for (_, bytes) in store.scan(NAMESPACE, b"instance/")? {
        let mut instance = parse_instance(&parse(&bytes)?).context("decode instance")?;
        if let Some(p) = instance.placement.as_mut() {
            match agents.get(&p.agent_id) {
                Some(shared) if **shared == *p.agent => p.agent = shared.clone(),
                _ => {
                    agents.insert(p.agent_id.clone(), p.agent.clone());
                }
            }
        }
        restored.instances.push(instance);
    }
    for (_, bytes) in store.scan(NAMESPACE, b"group/")? {
        restored
            .groups
            .push(parse_group_spec(&parse(&bytes)?).context("decode group")?);
    }
    for (_, bytes) in store.scan(NAMESPACE, b"groupversion/")? {
        let v = parse(&bytes)?;
        let snapshot = parse_snapshot(&v).context("decode group version")?;
        let mut apps = Vec::new();
        for a in v["apps"].as_array().into_iter().flatten() {
            apps.push(app(a)?);
        }
        restored
            .group_versions
            .push(GroupSnapshot { apps, ..snapshot });
    }
    for (_, bytes) in store.scan(NAMESPACE, b"deployment/")? {
        restored
            .deployments
            .push(parse_deployment(&parse(&bytes)?).context("decode deployment")?);
    }
    Ok(restored)
}

fn condition_from(name: &str) -> Condition {
    use Condition::*;
    [
        Scheduled,
        Provisioned,
        Staging,
        Starting,
        Running,
        Killing,
        Finished,
        Failed,
        Error,
        Killed,
        Dropped,
        Gone,
        Unreachable,
        UnreachableInactive,
        Unknown,
    ]
    .into_iter()
    .find(|c| c.name() == name)
    .unwrap_or(Unknown)
}

/// An instance as stored: the same bytes as [`instance_json`]'s rendering (same keys in the
/// same order), written without building a `serde_json::Value`.
#[derive(serde::Serialize)]
struct InstanceRecord<'a> {
    id: &'a str,
    #[serde(rename = "appId")]
    app_id: &'a str,
    incarnation: u32,
    goal: &'static str,
    condition: &'static str,
    since: u64,
    #[serde(rename = "appVersion")]
    app_version: u64,
    config: u64,
    placement: Option<PlacementRecord<'a>>,
    #[serde(rename = "stagedAt")]
    staged_at: Option<u64>,
    #[serde(rename = "startedAt")]
    started_at: Option<u64>,
    #[serde(rename = "mesosState")]
    mesos_state: Option<&'static str>,
    message: Option<&'a str>,
    #[serde(rename = "unreachableSince")]
    unreachable_since: Option<u64>,
    #[serde(rename = "mesosHealthy")]
    mesos_healthy: Option<bool>,
    #[serde(rename = "killSent")]
    kill_sent: Option<u64>,
    #[serde(rename = "ipAddresses")]
    ip_addresses: &'a [String],
    #[serde(rename = "readinessPending")]
    readiness_pending: bool,
    /// A pod instance's tasks (absent for apps, so app records keep their bytes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tasks: Vec<PodTaskRecord<'a>>,
    /// A resident instance's reservation (absent otherwise, so other records keep their
    /// bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    reservation: Option<Value>,
}

#[derive(serde::Serialize)]
struct PodTaskRecord<'a> {
    container: &'a str,
    condition: &'static str,
    #[serde(rename = "mesosState")]
    mesos_state: Option<&'static str>,
    healthy: Option<bool>,
    message: Option<&'a str>,
    since: u64,
    #[serde(rename = "startedAt")]
    started_at: Option<u64>,
}

#[derive(serde::Serialize)]
struct PlacementRecord<'a> {
    #[serde(rename = "agentId")]
    agent_id: &'a str,
    hostname: &'a str,
    region: Option<&'a str>,
    zone: Option<&'a str>,
    attributes: &'a std::collections::BTreeMap<String, String>,
    #[serde(rename = "hostPorts")]
    host_ports: &'a [u32],
}

impl<'a> InstanceRecord<'a> {
    fn of(i: &'a Instance) -> Self {
        InstanceRecord {
            id: &i.id,
            app_id: i.app_id.as_str(),
            incarnation: i.incarnation,
            goal: goal_name(i.goal),
            condition: i.condition.name(),
            since: i.since_ms,
            app_version: i.app_version_ms,
            config: i.config_ms,
            placement: i.placement.as_ref().map(|p| PlacementRecord {
                agent_id: &p.agent_id,
                hostname: &p.agent.hostname,
                region: p.agent.region.as_deref(),
                zone: p.agent.zone.as_deref(),
                attributes: &p.agent.attributes,
                host_ports: &p.host_ports,
            }),
            staged_at: i.staged_at_ms,
            started_at: i.started_at_ms,
            mesos_state: i.mesos_state.map(state_name),
            message: i.message.as_deref(),
            unreachable_since: i.unreachable_since_ms,
            mesos_healthy: i.mesos_healthy,
            kill_sent: i.kill_sent_ms,
            ip_addresses: &i.ip_addresses,
            readiness_pending: i.readiness_pending,
            tasks: i
                .tasks
                .iter()
                .map(|t| PodTaskRecord {
                    container: &t.container,
                    condition: t.condition.name(),
                    mesos_state: t.state.map(state_name),
                    healthy: t.healthy,
                    message: t.message.as_deref(),
                    since: t.since_ms,
                    started_at: t.started_at_ms,
                })
                .collect(),
            reservation: i.reservation.as_deref().map(reservation_json),
        }
    }
}

fn goal_name(goal: Goal) -> &'static str {
    match goal {
        Goal::Running => "Running",
        Goal::Decommissioned => "Decommissioned",
        Goal::Stopped => "Stopped",
    }
}

/// A reservation as stored: the agent, the volumes' persistence ids and its state.
fn reservation_json(r: &Reservation) -> Value {
    json!({
        "agentId": r.agent_id,
        "hostname": r.agent.hostname,
        "region": r.agent.region,
        "zone": r.agent.zone,
        "attributes": r.agent.attributes,
        "volumes": r.volumes.iter().map(|v| json!({
            "containerPath": v.container_path,
            "persistenceId": v.persistence_id,
        })).collect::<Vec<_>>(),
        "state": r.state.name(),
        "reservedAt": r.reserved_at_ms,
    })
}

fn parse_reservation(v: &Value) -> Option<Reservation> {
    Some(Reservation {
        agent_id: v["agentId"].as_str()?.to_owned(),
        agent: AgentView {
            hostname: v["hostname"].as_str().unwrap_or_default().to_owned(),
            region: v["region"].as_str().map(str::to_owned),
            zone: v["zone"].as_str().map(str::to_owned),
            attributes: serde_json::from_value(v["attributes"].clone()).unwrap_or_default(),
        },
        volumes: v["volumes"]
            .as_array()?
            .iter()
            .map(|v| {
                Some(LocalVolume {
                    container_path: v["containerPath"].as_str()?.to_owned(),
                    persistence_id: v["persistenceId"].as_str()?.to_owned(),
                })
            })
            .collect::<Option<Vec<_>>>()?,
        state: ReservationState::from_name(v["state"].as_str()?)?,
        reserved_at_ms: v["reservedAt"].as_u64().unwrap_or(0),
    })
}

/// The stored instance as a JSON value (the reference [`InstanceRecord`] is checked against).
#[cfg(test)]
fn instance_json(i: &Instance) -> Value {
    let mut v = json!({
        "id": i.id,
        "appId": i.app_id.as_str(),
        "incarnation": i.incarnation,
        "goal": goal_name(i.goal),
        "condition": i.condition.name(),
        "since": i.since_ms,
        "appVersion": i.app_version_ms,
        "config": i.config_ms,
        "placement": i.placement.as_ref().map(|p| json!({
            "agentId": p.agent_id,
            "hostname": p.agent.hostname,
            "region": p.agent.region,
            "zone": p.agent.zone,
            "attributes": p.agent.attributes,
            "hostPorts": p.host_ports,
        })),
        "stagedAt": i.staged_at_ms,
        "startedAt": i.started_at_ms,
        "mesosState": i.mesos_state.map(state_name),
        "message": i.message,
        "unreachableSince": i.unreachable_since_ms,
        "mesosHealthy": i.mesos_healthy,
        "killSent": i.kill_sent_ms,
        "ipAddresses": i.ip_addresses,
        "readinessPending": i.readiness_pending,
    });
    if !i.tasks.is_empty() {
        v["tasks"] = i
            .tasks
            .iter()
            .map(|t| {
                json!({
                    "container": t.container,
                    "condition": t.condition.name(),
                    "mesosState": t.state.map(state_name),
                    "healthy": t.healthy,
                    "message": t.message,
                    "since": t.since_ms,
                    "startedAt": t.started_at_ms,
                })
            })
            .collect();
    }
    if let Some(r) = &i.reservation {
        v["reservation"] = reservation_json(r);
    }
    v
}

fn parse_instance(v: &Value) -> Option<Instance> {
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let n = |k: &str| v.get(k).and_then(Value::as_u64);
    let placement = v
        .get("placement")
        .filter(|p| !p.is_null())
        .map(|p| Placement {
            agent_id: p["agentId"].as_str().unwrap_or_default().to_owned(),
            agent: Arc::new(AgentView {
                hostname: p["hostname"].as_str().unwrap_or_default().to_owned(),
                region: p["region"].as_str().map(str::to_owned),
                zone: p["zone"].as_str().map(str::to_owned),
                attributes: serde_json::from_value(p["attributes"].clone()).unwrap_or_default(),
            }),
            host_ports: serde_json::from_value(p["hostPorts"].clone()).unwrap_or_default(),
        });
    Some(Instance {
        id: s("id")?.to_owned(),
        app_id: PathId::parse_app_id(s("appId")?).ok()?,
        incarnation: n("incarnation")? as u32,
        goal: match s("goal")? {
            "Running" => Goal::Running,
            "Stopped" => Goal::Stopped,
            _ => Goal::Decommissioned,
        },
        condition: condition_from(s("condition")?),
        since_ms: n("since")?,
        app_version_ms: n("appVersion")?,
        config_ms: n("config")?,
        placement,
        staged_at_ms: n("stagedAt"),
        started_at_ms: n("startedAt"),
        mesos_state: s("mesosState").and_then(parse_state),
        message: s("message").map(str::to_owned),
        unreachable_since_ms: n("unreachableSince"),
        mesos_healthy: v.get("mesosHealthy").and_then(Value::as_bool),
        health: Vec::new(),
        kill_sent_ms: n("killSent"),
        ip_addresses: serde_json::from_value(v["ipAddresses"].clone()).unwrap_or_default(),
        readiness_pending: v
            .get("readinessPending")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        tasks: match v.get("tasks").and_then(Value::as_array) {
            Some(tasks) => tasks
                .iter()
                .map(parse_pod_task)
                .collect::<Option<Vec<_>>>()?,
            None => Vec::new(),
        },
        reservation: match v.get("reservation").filter(|r| !r.is_null()) {
            Some(r) => Some(Box::new(parse_reservation(r)?)),
            None => None,
        },
    })
}

fn parse_pod_task(v: &Value) -> Option<PodTask> {
    Some(PodTask {
        container: v["container"].as_str()?.to_owned(),
        condition: condition_from(v["condition"].as_str()?),
        state: v["mesosState"].as_str().and_then(parse_state),
        healthy: v["healthy"].as_bool(),
        message: v["message"].as_str().map(str::to_owned),
        since_ms: v["since"].as_u64()?,
        started_at_ms: v["startedAt"].as_u64(),
    })
}

fn deployment_json(d: &Deployment) -> Value {
    let steps: Vec<Vec<Value>> = d
        .steps
        .iter()
        .map(|s| {
            s.iter()
                .map(|a| json!({"action": a.kind.name(), "app": a.app.as_str()}))
                .collect()
        })
        .collect();
    let originals: serde_json::Map<String, Value> = d
        .originals
        .iter()
        .map(|(id, app)| {
            (
                id.to_string(),
                app.as_ref()
                    .map_or(Value::Null, |a| Value::Object(run_spec_json(a))),
            )
        })
        .collect();
    json!({
        "id": d.id,
        "version": d.version_ms,
        "affectedApps": d.affected_apps.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "steps": steps,
        "currentStep": d.current_step,
        "originals": originals,
    })
}

fn parse_deployment(v: &Value) -> Option<Deployment> {
    let steps = v["steps"]
        .as_array()?
        .iter()
        .map(|s| {
            s.as_array()?
                .iter()
                .map(|a| {
                    Some(Action {
                        kind: ActionKind::parse(a["action"].as_str()?)?,
                        app: PathId::parse_app_id(a["app"].as_str()?).ok()?,
                    })
                })
                .collect::<Option<Vec<_>>>()
        })
        .collect::<Option<Vec<_>>>()?;
    let mut originals = std::collections::BTreeMap::new();
    for (id, app) in v["originals"].as_object()? {
        let id = PathId::parse_app_id(id).ok()?;
        let app = if app.is_null() {
            None
        } else {
            parse_run_spec(app).ok()
        };
        originals.insert(id, app);
    }
    Some(Deployment {
        id: v["id"].as_str()?.to_owned(),
        version_ms: v["version"].as_u64()?,
        affected_apps: v["affectedApps"]
            .as_array()?
            .iter()
            .filter_map(|a| PathId::parse_app_id(a.as_str()?).ok())
            .collect(),
        current_step: (v["currentStep"].as_u64()? as usize).min(steps.len().saturating_sub(1)),
        steps,
        originals,
        waiting: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_core::task::TaskState;

    fn record(i: &Instance) -> String {
        serde_json::to_string(&InstanceRecord::of(i)).unwrap()
    }

    #[test]
    fn instance_record_is_byte_identical_to_the_value_rendering() {
        let app = PathId::parse_app_id("/prod/web").unwrap();
        let mut i = Instance::scheduled(&app, "0f6c-\"q\"", 7, 5, 1_000);
        assert_eq!(record(&i), instance_json(&i).to_string());
        i.placement = Some(Placement {
            agent_id: "agent-1".into(),
            agent: AgentView {
                hostname: "host\\1".into(),
                region: Some("eu".into()),
                zone: None,
                attributes: [
                    ("rack".to_owned(), "r1".to_owned()),
                    ("a".to_owned(), "é\n".to_owned()),
                ]
                .into_iter()
                .collect(),
            }
            .into(),
            host_ports: vec![31000, 31001],
        });
        i.goal = Goal::Decommissioned;
        i.condition = Condition::Running;
        i.staged_at_ms = Some(1_001);
        i.started_at_ms = Some(1_002);
        i.mesos_state = Some(TaskState::TaskRunning);
        i.message = Some("started \u{1}".into());
        i.unreachable_since_ms = Some(3);
        i.mesos_healthy = Some(false);
        i.kill_sent_ms = Some(u64::MAX);
        i.ip_addresses = vec!["10.0.0.1".into(), "::1".into()];
        assert_eq!(record(&i), instance_json(&i).to_string());
        i.tasks = vec![PodTask {
            container: "web".into(),
            condition: Condition::Running,
            state: Some(TaskState::TaskRunning),
            healthy: Some(true),
            message: Some("up".into()),
            since_ms: 7,
            started_at_ms: Some(8),
        }];
        assert_eq!(record(&i), instance_json(&i).to_string());
        let parsed = parse_instance(&serde_json::from_str(&record(&i)).unwrap()).unwrap();
        assert_eq!(parsed, i);
    }

    #[test]
    fn a_resident_instance_keeps_its_reservation_in_the_store() {
        let app = PathId::parse_app_id("/db").unwrap();
        let mut i = Instance::scheduled(&app, "u-1", 7, 5, 1_000);
        i.goal = Goal::Stopped;
        i.reservation = Some(Box::new(Reservation {
            agent_id: "agent-1".into(),
            agent: AgentView {
                hostname: "h1".into(),
                region: None,
                zone: Some("z".into()),
                attributes: Default::default(),
            },
            volumes: vec![LocalVolume {
                container_path: "data".into(),
                persistence_id: "db#data#u-2".into(),
            }],
            state: ReservationState::Suspended,
            reserved_at_ms: 999,
        }));
        assert_eq!(record(&i), instance_json(&i).to_string());
        let parsed = parse_instance(&serde_json::from_str(&record(&i)).unwrap()).unwrap();
        assert_eq!(parsed, i);
    }
}
