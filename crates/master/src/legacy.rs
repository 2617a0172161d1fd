//! Legacy GET endpoints tools still read: `/master/state` (also `/state`, `/state.json`,
//! `/master/state.json`) in Mesos' hand-rendered shape (spec §7.3) plus each task's
//! `status_history` (beyond Mesos), `/master/health`, `/health`, `/version`,
//! `/master/redirect`, `/metrics/snapshot`, `/master/slaves`, `/master/frameworks`,
//! `/master/tasks`, `/master/flags`.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use drover_core::master::{AgentStatus, Framework, Master, TaskEntry, seconds};
use drover_core::resources::{self, SummaryValue};
use drover_core::task::names::{reason_name, source_name, state_name};
use drover_wire::json::to_json_value;
use drover_wire::v1;
use serde_json::{Map, Value, json};

use crate::operator::version_info;
use crate::routes::{AppState, driver_gone};

/// The legacy routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/master/state", get(state))
        .route("/state", get(state))
        .route("/state.json", get(state))
        .route("/master/state.json", get(state))
        .route("/master/health", get(health))
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/master/redirect", get(redirect))
        .route("/redirect", get(redirect))
        .route("/metrics/snapshot", get(metrics))
        .route("/master/slaves", get(slaves))
        .route("/slaves", get(slaves))
        .route("/master/frameworks", get(frameworks))
        .route("/frameworks", get(frameworks))
        .route("/master/tasks", get(tasks))
        .route("/tasks", get(tasks))
        .route("/master/flags", get(flags))
        .route("/flags", get(flags))
}

/// Encodes a read's answer off the async threads (and off the driver task: the read only
/// built the tree). A `/master/state` of 10,000 tasks is megabytes of JSON.
async fn encode_json(value: Option<Value>) -> Response {
    let Some(value) = value else {
        return driver_gone();
    };
    render_json(move || value).await
}

/// Builds a tree and encodes it on the blocking pool, off the driver and the async threads.
async fn render_json(build: impl FnOnce() -> Value + Send + 'static) -> Response {
    tokio::task::spawn_blocking(move || json_response(&build()))
        .await
        .unwrap_or_else(|_| driver_gone())
}

fn json_response(value: &Value) -> Response {
    let text = drover_http::ascii_json(value.to_string());
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn health() -> StatusCode {
    StatusCode::OK
}

async fn version() -> Response {
    let v = version_info();
    json_response(&json!({
        "version": v.version,
        "build_date": v.build_date,
        "build_time": v.build_time,
        "build_user": v.build_user,
    }))
}

async fn redirect(State(state): State<AppState>) -> Response {
    let location = format!("//{}:{}", state.flags.advertised_hostname(), state.port);
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

async fn metrics(State(state): State<AppState>) -> Response {
    state
        .handle
        .read(|master, now| {
            let mut map = Map::new();
            for (name, value) in master.metrics(now) {
                map.insert(name, json!(value));
            }
            json_response(&Value::Object(map))
        })
        .await
        .unwrap_or_else(driver_gone)
}

async fn flags(State(state): State<AppState>) -> Response {
    json_response(&json!({ "flags": flags_object(&state) }))
}

fn flags_object(state: &AppState) -> Value {
    let mut map = Map::new();
    for (name, value) in state.flags.as_pairs(state.port) {
        map.insert(name, Value::String(value));
    }
    Value::Object(map)
}

async fn state(State(state): State<AppState>) -> Response {
    let flags = flags_object(&state);
    // The driver only clones its state (a fraction of the cost of building the tree); the
    // tree is built and encoded off the master loop (issue 8, G10).
    let Some(snapshot) = state.handle.read(|master, _| master.clone()).await else {
        return driver_gone();
    };
    render_json(move || state_json(&snapshot, flags)).await
}

async fn slaves(State(state): State<AppState>) -> Response {
    let value = state
        .handle
        .read(|master, _| {
            json!({
                "slaves": slaves_json(master, false),
                "recovered_slaves": slaves_json(master, true),
            })
        })
        .await;
    encode_json(value).await
}

async fn frameworks(State(state): State<AppState>) -> Response {
    let Some(master) = state.handle.read(|master, _| master.clone()).await else {
        return driver_gone();
    };
    render_json(move || {
        json!({
            "frameworks": master.frameworks().values().map(|f| framework_json(&master, f)).collect::<Vec<_>>(),
            "completed_frameworks": master.completed_frameworks().iter().map(|f| framework_json(&master, f)).collect::<Vec<_>>(),
            "unregistered_frameworks": [],
        })
    })
    .await
}

/// Query of `/master/tasks`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct TasksQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    order: Option<String>,
    framework_id: Option<String>,
    task_id: Option<String>,
}

async fn tasks(State(state): State<AppState>, Query(query): Query<TasksQuery>) -> Response {
    let value = state
        .handle
        .read(move |master, _| {
            let mut tasks: Vec<(&str, &TaskEntry)> = master
                .task_entries()
                .into_iter()
                .filter(|(fw, e, _)| {
                    query.framework_id.as_deref().is_none_or(|f| f == *fw)
                        && query
                            .task_id
                            .as_deref()
                            .is_none_or(|t| t == e.task.task_id.value)
                })
                .map(|(fw, e, _)| (fw, e))
                .collect();
            tasks.sort_by(|a, b| first_time(a.1).total_cmp(&first_time(b.1)));
            if query.order.as_deref() == Some("desc") {
                tasks.reverse();
            }
            let offset = query.offset.unwrap_or(0);
            let limit = query.limit.unwrap_or(100);
            let list: Vec<Value> = tasks
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(|(_, e)| task_json(e))
                .collect();
            json!({ "tasks": list })
        })
        .await;
    encode_json(value).await
}

fn first_time(entry: &TaskEntry) -> f64 {
    entry
        .history
        .front()
        .map(|h| seconds(h.timestamp_ms))
        .unwrap_or(0.0)
}

/// A flattened resource summary (`{"cpus":0.5,"gpus":0.0,"mem":256.0,...}`).
pub fn summary_json(list: &[v1::Resource]) -> Value {
    let mut map = Map::new();
    for (name, value) in resources::summary(list) {
        let value = match value {
            SummaryValue::Number(n) => json!(n),
            SummaryValue::Text(t) => Value::String(t),
        };
        map.insert(name, value);
    }
    Value::Object(map)
}

fn state_json(master: &Master, flags: Value) -> Value {
    let info = master.master_info();
    let agents = master.agents();
    let activated = agents
        .values()
        .filter(|a| a.status == AgentStatus::Connected)
        .count();
    let deactivated = agents
        .values()
        .filter(|a| a.status == AgentStatus::Disconnected)
        .count();
    let v = version_info();
    json!({
        "version": v.version,
        "build_date": v.build_date,
        "build_time": v.build_time,
        "build_user": v.build_user,
        "start_time": seconds(master.start_ms()),
        "elected_time": seconds(master.start_ms()),
        "id": info.id,
        "pid": info.pid,
        "hostname": info.hostname,
        "capabilities": [],
        "activated_slaves": activated,
        "deactivated_slaves": deactivated,
        "unreachable_slaves": master.registry().unreachable.len(),
        "leader": info.pid,
        "leader_info": to_json_value(info),
        "flags": flags,
        "slaves": slaves_json(master, false),
        "recovered_slaves": slaves_json(master, true),
        "frameworks": master.frameworks().values().map(|f| framework_json(master, f)).collect::<Vec<_>>(),
        "completed_frameworks": master.completed_frameworks().iter().map(|f| framework_json(master, f)).collect::<Vec<_>>(),
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    })
}

fn slaves_json(master: &Master, recovered: bool) -> Vec<Value> {
    master
        .agents()
        .iter()
        .filter(|(_, a)| (a.status == AgentStatus::Recovered) == recovered)
        .map(|(id, a)| {
            let mut attributes = Map::new();
            for attr in &a.info.attributes {
                let value = match (&attr.text, &attr.scalar) {
                    (Some(text), _) => Value::String(text.value.clone()),
                    (_, Some(scalar)) => json!(scalar.value),
                    _ => Value::Null,
                };
                attributes.insert(attr.name.clone(), value);
            }
            // Both O(tasks or offers on this agent), through the core's per-agent indexes
            // (issue 8: they were scans of every task and offer, per agent).
            let used = master.agent_used(id);
            let offered = master.agent_offered(id);
            let unreserved: Vec<v1::Resource> = a
                .info
                .resources
                .iter()
                .filter(|r| !resources::is_reserved(r))
                .cloned()
                .collect();
            let mut object = json!({
                "id": id,
                "hostname": a.info.hostname,
                "port": a.info.port.unwrap_or(5051),
                "attributes": attributes,
                "pid": format!("slave(1)@{}:{}", a.info.hostname, a.info.port.unwrap_or(5051)),
                "registered_time": seconds(a.registered_time_ms),
                "resources": summary_json(&a.info.resources),
                "used_resources": summary_json(&used),
                "offered_resources": summary_json(&offered),
                "reserved_resources": {},
                "unreserved_resources": summary_json(&unreserved),
                "active": a.status == AgentStatus::Connected,
                "deactivated": a.status != AgentStatus::Connected,
                "version": a.version,
                "capabilities": a.capabilities.iter().filter_map(|c| c.r#type.and_then(|t| v1::agent_info::capability::Type::try_from(t).ok())).map(|t| t.as_str_name()).collect::<Vec<_>>(),
            });
            if let (Some(t), Some(map)) = (a.reregistered_time_ms, object.as_object_mut()) {
                map.insert("reregistered_time".into(), json!(seconds(t)));
            }
            object
        })
        .collect()
}

fn framework_json(master: &Master, fw: &Framework) -> Value {
    let id = fw.id();
    let used: Vec<v1::Resource> = fw
        .tasks
        .values()
        .filter(|e| !drover_core::task::state::releases_resources(e.state()))
        .flat_map(|e| e.task.resources.clone())
        .collect();
    let offers: Vec<&drover_core::master::Offer> = master
        .offers()
        .values()
        .filter(|o| o.offer.framework_id.value == id)
        .collect();
    let offered: Vec<v1::Resource> = offers
        .iter()
        .flat_map(|o| o.offer.resources.clone())
        .collect();
    let capabilities: Vec<&str> = fw
        .info
        .capabilities
        .iter()
        .filter_map(|c| {
            c.r#type
                .and_then(|t| v1::framework_info::capability::Type::try_from(t).ok())
        })
        .map(|t| t.as_str_name())
        .collect();
    let executors: Vec<Value> = master
        .agents()
        .iter()
        .flat_map(|(agent_id, a)| {
            a.executors
                .iter()
                .filter(|((f, _), _)| f == id)
                .map(move |(_, e)| {
                    let mut v = to_json_value(e);
                    if let Some(map) = v.as_object_mut() {
                        map.insert("slave_id".into(), json!(agent_id));
                    }
                    v
                })
        })
        .collect();
    let mut object = json!({
        "id": id,
        "name": fw.info.name,
        "used_resources": summary_json(&used),
        "offered_resources": summary_json(&offered),
        "capabilities": capabilities,
        "hostname": fw.info.hostname.clone().unwrap_or_default(),
        "webui_url": fw.info.webui_url.clone().unwrap_or_default(),
        "active": fw.connected(),
        "connected": fw.connected(),
        "recovered": fw.recovered,
        "user": fw.info.user,
        "failover_timeout": fw.info.failover_timeout.unwrap_or(0.0),
        "checkpoint": fw.info.checkpoint.unwrap_or(false),
        "registered_time": fw.registered_time_ms.map(seconds).unwrap_or(0.0),
        "unregistered_time": fw.unregistered_time_ms.map(seconds).unwrap_or(0.0),
        "resources": summary_json(&used),
        "tasks": fw.tasks.values().map(task_json).collect::<Vec<_>>(),
        "unreachable_tasks": fw.unreachable_tasks.values().map(task_json).collect::<Vec<_>>(),
        "completed_tasks": fw.completed_tasks.iter().map(task_json).collect::<Vec<_>>(),
        "offers": offers.iter().map(|o| {
            json!({
                "id": o.offer.id.value,
                "framework_id": o.offer.framework_id.value,
                "slave_id": o.offer.agent_id.value,
                "resources": summary_json(&o.offer.resources),
            })
        }).collect::<Vec<_>>(),
        "executors": executors,
    });
    if let Some(map) = object.as_object_mut() {
        if let Some(p) = &fw.info.principal {
            map.insert("principal".into(), json!(p));
        }
        if let Some(t) = fw.reregistered_time_ms {
            map.insert("reregistered_time".into(), json!(seconds(t)));
        }
        if fw.has_capability(v1::framework_info::capability::Type::MultiRole) {
            map.insert("roles".into(), json!(fw.info.roles));
        } else {
            map.insert(
                "role".into(),
                json!(fw.roles().first().cloned().unwrap_or_else(|| "*".into())),
            );
        }
        if let Some(labels) = &fw.info.labels {
            map.insert("labels".into(), to_json_value(labels)["labels"].clone());
        }
    }
    object
}

/// A task in the legacy shape, with Drover's `status_history`.
pub fn task_json(entry: &TaskEntry) -> Value {
    let task = &entry.task;
    let statuses: Vec<Value> = task
        .statuses
        .iter()
        .map(|s| {
            let mut v = json!({
                "state": v1::TaskState::try_from(s.state).map(state_name).unwrap_or("TASK_STAGING"),
                "timestamp": s.timestamp.unwrap_or(0.0),
            });
            if let Some(map) = v.as_object_mut() {
                if let Some(h) = s.healthy {
                    map.insert("healthy".into(), json!(h));
                }
                if let Some(c) = &s.container_status {
                    map.insert("container_status".into(), to_json_value(c));
                }
                if let Some(l) = &s.labels {
                    map.insert("labels".into(), to_json_value(l)["labels"].clone());
                }
            }
            v
        })
        .collect();
    let history: Vec<Value> = entry
        .history
        .iter()
        .map(|h| {
            let mut v = json!({
                "state": state_name(h.state),
                "timestamp": seconds(h.timestamp_ms),
            });
            if let Some(map) = v.as_object_mut() {
                if let Some(r) = h.reason {
                    map.insert("reason".into(), json!(reason_name(r)));
                }
                if let Some(s) = h.source {
                    map.insert("source".into(), json!(source_name(s)));
                }
                if let Some(m) = &h.message {
                    map.insert("message".into(), json!(m));
                }
                if let Some(healthy) = h.healthy {
                    map.insert("healthy".into(), json!(healthy));
                }
            }
            v
        })
        .collect();
    let mut object = json!({
        "id": task.task_id.value,
        "name": task.name,
        "framework_id": task.framework_id.value,
        "executor_id": task.executor_id.as_ref().map(|e| e.value.clone()).unwrap_or_default(),
        "slave_id": task.agent_id.value,
        "state": v1::TaskState::try_from(task.state).map(state_name).unwrap_or("TASK_STAGING"),
        "resources": summary_json(&task.resources),
        "role": entry.role,
        "statuses": statuses,
        "status_history": history,
    });
    if let Some(map) = object.as_object_mut() {
        if let Some(u) = &task.user {
            map.insert("user".into(), json!(u));
        }
        if let Some(l) = &task.labels {
            map.insert("labels".into(), to_json_value(l)["labels"].clone());
        }
        if let Some(h) = &task.health_check {
            map.insert("health_check".into(), to_json_value(h));
        }
        if let Some(d) = &task.discovery {
            map.insert("discovery".into(), to_json_value(d));
        }
        if let Some(c) = &task.container {
            map.insert("container".into(), to_json_value(c));
        }
        if let Some(t) = entry.unreachable_time_ms {
            map.insert(
                "unreachable_time".into(),
                json!({"nanoseconds": t.saturating_mul(1_000_000)}),
            );
        }
    }
    object
}
