//! The rest of the master's legacy endpoints that monitoring tools and old CLIs read:
//! `/master/state-summary` (Mesos' per-agent and per-framework task counts), the form-encoded
//! `POST /master/teardown`, and `/files/*` — which on the master serves nothing: Drover's master
//! writes its log to stderr, never to a file, so no path is attached and every file answers
//! 404 with a message saying so (Mesos' master, too, attaches `/master/log` only with
//! `--log_dir`). Also the executors of `/master/state` in Mesos' `json(ExecutorInfo)` shape.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use drover_core::master::{AgentStatus, Input, Master, seconds};
use drover_core::operations::Operation;
use drover_core::task::names::state_name;
use drover_http::{HttpError, read_body};
use drover_wire::v1;
use serde_json::{Map, Value, json};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use drover_wire::json::to_json_value;

use crate::legacy::{RawQuery, Summary, summary_json};
use crate::routes::{AppState, driver_gone, reply_response};

/// The task states `/master/state-summary` counts, in Mesos' order.
const COUNTED_STATES: [v1::TaskState; 10] = [
    v1::TaskState::TaskStaging,
    v1::TaskState::TaskStarting,
    v1::TaskState::TaskRunning,
    v1::TaskState::TaskKilling,
    v1::TaskState::TaskFinished,
    v1::TaskState::TaskKilled,
    v1::TaskState::TaskFailed,
    v1::TaskState::TaskLost,
    v1::TaskState::TaskError,
    v1::TaskState::TaskUnreachable,
];

/// Largest `/master/teardown` form body: it holds one framework id.
const TEARDOWN_BODY_LIMIT: usize = 64 * 1024;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/master/state-summary", get(state_summary))
        .route("/state-summary", get(state_summary))
        .route("/master/teardown", any(teardown))
        .route("/teardown", any(teardown))
        .route(
            "/master/reserve",
            operation_route("resources", Operation::Reserve),
        )
        .route("/reserve", operation_route("resources", Operation::Reserve))
        .route(
            "/master/unreserve",
            operation_route("resources", Operation::Unreserve),
        )
        .route(
            "/unreserve",
            operation_route("resources", Operation::Unreserve),
        )
        .route(
            "/master/create-volumes",
            operation_route("volumes", Operation::Create),
        )
        .route(
            "/create-volumes",
            operation_route("volumes", Operation::Create),
        )
        .route(
            "/master/destroy-volumes",
            operation_route("volumes", Operation::Destroy),
        )
        .route(
            "/destroy-volumes",
            operation_route("volumes", Operation::Destroy),
        )
        .route("/files/debug", get(files_debug))
        .route("/files/debug.json", get(files_debug))
        .route("/files/browse", get(files_none))
        .route("/files/browse.json", get(files_none))
        .route("/files/read", get(files_none))
        .route("/files/read.json", get(files_none))
        .route("/files/download", get(files_none))
        .route("/files/download.json", get(files_none))
}

async fn state_summary(
    State(state): State<AppState>,
    acls: Option<axum::Extension<std::sync::Arc<crate::acls::Acls>>>,
    principal: Option<axum::Extension<drover_http::auth::Principal>>,
) -> Response {
    let viewer = crate::view::Viewer::of(
        acls.as_ref().map(|a| &a.0),
        principal.as_ref().map(|p| &p.0),
    );
    let response = state_summary_unfiltered(&state).await;
    crate::view::filter_response(viewer, &state, response).await
}

async fn state_summary_unfiltered(state: &AppState) -> Response {
    let flags = state.flags.clone();
    let summary = state
        .handle
        .read(move |master, _| {
            let cluster = flags
                .as_pairs(0)
                .into_iter()
                .find(|(name, _)| name == "cluster")
                .map(|(_, value)| value);
            serde_json::to_vec(&summary(master, cluster)).unwrap_or_default()
        })
        .await;
    match summary {
        Some(bytes) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let mut response = (StatusCode::OK, drover_http::ascii_json(text)).into_response();
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
            response
        }
        None => driver_gone(),
    }
}

/// Per-state counts plus the other side's ids, keyed by agent or framework id.
#[derive(Default)]
struct Counts {
    states: BTreeMap<&'static str, u64>,
    peers: std::collections::BTreeSet<String>,
}

impl Counts {
    fn write(&self, map: &mut Map<String, Value>, peers_key: &str) {
        for state in COUNTED_STATES {
            let name = state_name(state);
            map.insert(
                name.into(),
                json!(self.states.get(name).copied().unwrap_or(0)),
            );
        }
        map.insert(peers_key.into(), json!(self.peers));
    }
}

/// `/master/state-summary` for `master`: Mesos counts every task it still knows (active,
/// unreachable and completed) by state, per agent and per framework.
pub fn summary(master: &Master, cluster: Option<String>) -> Value {
    let mut by_agent: BTreeMap<String, Counts> = BTreeMap::new();
    let mut by_framework: BTreeMap<String, Counts> = BTreeMap::new();
    for (framework_id, entry, _) in master.task_entries() {
        let agent_id = entry.task.agent_id.value.clone();
        let name = v1::TaskState::try_from(entry.task.state)
            .map(state_name)
            .unwrap_or("TASK_STAGING");
        let agent = by_agent.entry(agent_id.clone()).or_default();
        *agent.states.entry(name).or_default() += 1;
        agent.peers.insert(framework_id.to_owned());
        let framework = by_framework.entry(framework_id.to_owned()).or_default();
        *framework.states.entry(name).or_default() += 1;
        framework.peers.insert(agent_id);
    }
    let empty = Counts::default();
    let slaves: Vec<Value> = master
        .agents()
        .iter()
        .filter(|(_, a)| a.status != AgentStatus::Recovered)
        .map(|(id, a)| {
            let port = a.info.port.unwrap_or(5051);
            let mut map = Map::new();
            map.insert("id".into(), json!(id));
            map.insert(
                "pid".into(),
                json!(format!("slave(1)@{}:{}", a.info.hostname, port)),
            );
            map.insert("hostname".into(), json!(a.info.hostname));
            map.insert(
                "registered_time".into(),
                json!(seconds(a.registered_time_ms)),
            );
            map.insert("resources".into(), summary_json(&master.agent_total(a)));
            map.insert(
                "used_resources".into(),
                summary_json(&master.agent_used(id)),
            );
            map.insert(
                "offered_resources".into(),
                summary_json(&master.agent_offered(id)),
            );
            let reserved: Map<String, Value> = crate::legacy::reserved_by_role(&a.info.resources)
                .iter()
                .map(|(role, list)| (role.clone(), summary_json(list)))
                .collect();
            map.insert("reserved_resources".into(), Value::Object(reserved));
            let unreserved: Vec<v1::Resource> = a
                .info
                .resources
                .iter()
                .filter(|r| !drover_core::resources::is_reserved(r))
                .cloned()
                .collect();
            map.insert("unreserved_resources".into(), summary_json(&unreserved));
            let mut attributes = Map::new();
            for attr in &a.info.attributes {
                let value = match (&attr.text, &attr.scalar) {
                    (Some(text), _) => Value::String(text.value.clone()),
                    (_, Some(scalar)) => json!(scalar.value),
                    _ => Value::Null,
                };
                attributes.insert(attr.name.clone(), value);
            }
            map.insert("attributes".into(), Value::Object(attributes));
            map.insert("active".into(), json!(a.status == AgentStatus::Connected));
            map.insert("version".into(), json!(a.version));
            by_agent
                .get(id)
                .unwrap_or(&empty)
                .write(&mut map, "framework_ids");
            Value::Object(map)
        })
        .collect();
    let frameworks: Vec<Value> = master
        .frameworks()
        .values()
        .map(|fw| {
            let id = fw.id();
            let used: Vec<v1::Resource> = fw
                .tasks
                .values()
                .filter(|e| !drover_core::task::state::releases_resources(e.state()))
                .flat_map(|e| e.task.resources.iter().cloned())
                .collect();
            let offered: Vec<v1::Resource> = master
                .offers()
                .values()
                .filter(|o| o.offer.framework_id.value == id)
                .flat_map(|o| o.offer.resources.iter().cloned())
                .collect();
            let mut map = Map::new();
            map.insert("id".into(), json!(id));
            map.insert("name".into(), json!(fw.info.name));
            map.insert("used_resources".into(), summary_json(&used));
            map.insert("offered_resources".into(), summary_json(&offered));
            map.insert(
                "hostname".into(),
                json!(fw.info.hostname.as_deref().unwrap_or_default()),
            );
            map.insert(
                "webui_url".into(),
                json!(fw.info.webui_url.as_deref().unwrap_or_default()),
            );
            map.insert("active".into(), json!(fw.connected()));
            map.insert("connected".into(), json!(fw.connected()));
            map.insert("recovered".into(), json!(fw.recovered));
            by_framework
                .get(id)
                .unwrap_or(&empty)
                .write(&mut map, "slave_ids");
            Value::Object(map)
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("hostname".into(), json!(master.master_info().hostname));
    if let Some(cluster) = cluster.filter(|c| !c.is_empty()) {
        doc.insert("cluster".into(), json!(cluster));
    }
    doc.insert("slaves".into(), Value::Array(slaves));
    doc.insert("frameworks".into(), Value::Array(frameworks));
    Value::Object(doc)
}

/// `POST /master/teardown` with a form body `frameworkId=<id>`, as Mesos' old endpoint took it
/// (the id is also read from the query string, which some scripts use).
async fn teardown(
    State(state): State<AppState>,
    method: axum::http::Method,
    Query(query): Query<RawQuery>,
    principal: Option<axum::Extension<drover_http::auth::Principal>>,
    acls: Option<axum::Extension<std::sync::Arc<crate::acls::Acls>>>,
    body: Body,
) -> Response {
    if method != axum::http::Method::POST {
        return HttpError::method_not_allowed(&axum::http::Method::POST, &method).into_response();
    }
    let body = match read_body(body, TEARDOWN_BODY_LIMIT).await {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let framework_id = form
        .into_iter()
        .find(|(name, _)| name == "frameworkId")
        .map(|(_, value)| value)
        .or_else(|| query.get("frameworkId").cloned());
    let Some(framework_id) = framework_id else {
        return HttpError::bad_request("Missing 'frameworkId' query parameter in the request body")
            .into_response();
    };
    if let Some(axum::Extension(acls)) = &acls
        && let Err(refused) = crate::acls::authorize_teardown(
            &state,
            acls,
            principal.as_ref().map(|p| &p.0),
            &framework_id,
        )
        .await
    {
        return refused.into_response();
    }
    let req = state.handle.next_conn();
    let reply = state
        .handle
        .call(Input::Teardown { req, framework_id }, None)
        .await;
    reply_response(reply, drover_wire::codec::Encoding::Json)
}

/// Largest form body of the reservation and volume endpoints (a JSON array of resources).
const OPERATION_BODY_LIMIT: usize = 1024 * 1024;

/// One of the four legacy operation endpoints: the form field holding the resources and the
/// operation they make (`/master/reserve`: `resources` → RESERVE, …).
fn operation_route(
    field: &'static str,
    make: fn(Vec<drover_wire::v1::Resource>) -> Operation,
) -> axum::routing::MethodRouter<AppState> {
    any(
        move |state: State<AppState>,
              method: axum::http::Method,
              principal: Option<axum::Extension<drover_http::auth::Principal>>,
              body: Body| legacy_operation(state, method, principal, body, field, make),
    )
}

/// The four legacy operation endpoints: the form read, the resources parsed from Mesos' JSON,
/// and the operation handed to the core as the Operator API's call would be (202 when
/// applied, 409 when the agent does not have the resources).
async fn legacy_operation(
    State(state): State<AppState>,
    method: axum::http::Method,
    principal: Option<axum::Extension<drover_http::auth::Principal>>,
    body: Body,
    field: &str,
    make: fn(Vec<drover_wire::v1::Resource>) -> Operation,
) -> Response {
    if method != axum::http::Method::POST {
        return HttpError::method_not_allowed(&axum::http::Method::POST, &method).into_response();
    }
    let body = match read_body(body, OPERATION_BODY_LIMIT).await {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let form: Vec<(String, String)> = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(e) => {
            return HttpError::bad_request(format!("Unable to decode the form body: {e}"))
                .into_response();
        }
    };
    let value = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let Some(agent_id) = value("slaveId") else {
        return HttpError::bad_request("Missing 'slaveId' query parameter in the request body")
            .into_response();
    };
    let Some(json) = value(field) else {
        return HttpError::bad_request(format!(
            "Missing '{field}' query parameter in the request body"
        ))
        .into_response();
    };
    let list: Vec<serde_json::Value> = match serde_json::from_str(&json) {
        Ok(serde_json::Value::Array(list)) => list,
        Ok(_) => {
            return HttpError::bad_request(format!("'{field}' must be a JSON array of resources"))
                .into_response();
        }
        Err(e) => {
            return HttpError::bad_request(format!("Error parsing '{field}' as JSON: {e}"))
                .into_response();
        }
    };
    let mut resources = Vec::with_capacity(list.len());
    for item in list {
        match drover_wire::json::from_json_value::<drover_wire::v1::Resource>(&item) {
            Ok(r) => resources.push(r),
            Err(e) => {
                return HttpError::bad_request(format!("Invalid resource in '{field}': {e}"))
                    .into_response();
            }
        }
    }
    let req = state.handle.next_conn();
    let reply = state
        .handle
        .call(
            Input::AgentOperation {
                req,
                agent_id,
                operation: make(resources),
                principal: principal.map(|p| p.0.0.clone()),
            },
            None,
        )
        .await;
    reply_response(reply, drover_wire::codec::Encoding::Json)
}

/// `/files/debug`: the attached paths: the master's log when it runs with `--log_dir`.
async fn files_debug() -> Response {
    let attached = match drover_http::logging::log_file() {
        Some(file) => json!({ crate::operator::files::LOG_PATH: file.display().to_string() }),
        None => json!({}),
    };
    axum::Json(attached).into_response()
}

/// `/files/{browse,read,download}` on the master: its log, `/master/log`, is the one file it
/// attaches (with `--log_dir`), behind the `access_mesos_logs` ACL; anything else is a 404
/// naming what is served.
async fn files_none(
    uri: axum::http::Uri,
    Query(query): Query<RawQuery>,
    principal: Option<axum::Extension<drover_http::auth::Principal>>,
    acls: Option<axum::Extension<std::sync::Arc<crate::acls::Acls>>>,
) -> Response {
    let Some(path) = query.get("path") else {
        return HttpError::bad_request("Expecting 'path=value' in query.").into_response();
    };
    if path.trim_end_matches('/') != crate::operator::files::LOG_PATH {
        return HttpError::new(
            StatusCode::NOT_FOUND,
            format!(
                "No file is attached at '{path}': the master's /files serves only its log, \
                 '{}' (with --log_dir); the agents' /files serve the sandboxes",
                crate::operator::files::LOG_PATH
            ),
        )
        .into_response();
    }
    if let Err(refused) = crate::acls::authorize_switch(
        acls.as_ref().map(|a| &a.0),
        principal.as_ref().map(|p| &p.0),
        "access_mesos_logs",
        "read the master's log",
    ) {
        return refused.into_response();
    }
    let endpoint = uri.path().trim_end_matches(".json").to_owned();
    let offset: Option<i64> = query.get("offset").and_then(|o| o.parse().ok());
    let length: Option<i64> = query.get("length").and_then(|l| l.parse().ok());
    let path = path.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let whole = endpoint.ends_with("/download") || endpoint.ends_with("/browse");
        let (offset, length) = if whole {
            (0, None)
        } else {
            (
                offset.filter(|o| *o >= 0).unwrap_or(0) as u64,
                length.filter(|l| *l >= 0).map(|l| l as u64),
            )
        };
        crate::operator::files::read_file(&path, offset, length).map(|r| (endpoint, r))
    })
    .await;
    let (endpoint, (size, data)) = match answer {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => return error.into_response(),
        Err(error) => {
            return HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
                .into_response();
        }
    };
    if endpoint.ends_with("/download") {
        return (
            [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
            data,
        )
            .into_response();
    }
    if endpoint.ends_with("/browse") {
        return axum::Json(json!([{
            "path": crate::operator::files::LOG_PATH,
            "size": size,
            "nlink": 1,
            "mode": "-rw-r--r--",
        }]))
        .into_response();
    }
    // Mesos: without an offset (or -1) the answer is the file's size and no data.
    match offset.filter(|o| *o >= 0) {
        None => axum::Json(json!({"data": "", "offset": size})).into_response(),
        Some(at) => axum::Json(json!({
            "data": String::from_utf8_lossy(&data),
            "offset": (at as u64).min(size),
        }))
        .into_response(),
    }
}

/// An executor in Mesos' `json(ExecutorInfo)` shape (plain-string ids, a resource summary,
/// the command with `argv` and `uris`), plus the agent it runs on.
pub(crate) struct ExecutorDoc<'a> {
    pub(crate) agent_id: &'a String,
    pub(crate) info: &'a v1::ExecutorInfo,
}

impl Serialize for ExecutorDoc<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let info = self.info;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("executor_id", &info.executor_id.value)?;
        map.serialize_entry("name", info.name.as_deref().unwrap_or_default())?;
        map.serialize_entry(
            "framework_id",
            info.framework_id
                .as_ref()
                .map(|f| f.value.as_str())
                .unwrap_or_default(),
        )?;
        map.serialize_entry("command", &CommandDoc(info.command.as_ref()))?;
        map.serialize_entry("resources", &Summary(&info.resources))?;
        if let Some(labels) = &info.labels {
            map.serialize_entry("labels", &to_json_value(labels)["labels"])?;
        }
        if let Some(kind) = info
            .r#type
            .and_then(|t| v1::executor_info::Type::try_from(t).ok())
        {
            map.serialize_entry("type", kind.as_str_name())?;
        }
        map.serialize_entry("slave_id", self.agent_id)?;
        map.end()
    }
}

/// Mesos' `json(CommandInfo)`: `shell` and `value` when set, `argv` and `uris` always.
struct CommandDoc<'a>(Option<&'a v1::CommandInfo>);

impl Serialize for CommandDoc<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let default = v1::CommandInfo::default();
        let command = self.0.unwrap_or(&default);
        let mut map = serializer.serialize_map(None)?;
        if let Some(shell) = command.shell {
            map.serialize_entry("shell", &shell)?;
        }
        if let Some(value) = &command.value {
            map.serialize_entry("value", value)?;
        }
        map.serialize_entry("argv", &command.arguments)?;
        if let Some(environment) = &command.environment {
            map.serialize_entry("environment", &to_json_value(environment))?;
        }
        let uris: Vec<Value> = command
            .uris
            .iter()
            .map(|u| json!({"value": u.value, "executable": u.executable.unwrap_or(false)}))
            .collect();
        map.serialize_entry("uris", &uris)?;
        map.end()
    }
}
