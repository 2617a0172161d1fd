//! The agent's legacy endpoints that monitoring tools read besides `/state`: `/flags`,
//! `/version`, `/containers` and `/monitor/statistics` (per-container usage from the cgroups,
//! in Mesos' `ResourceStatistics` JSON), each also under `/slave(1)/` and with Mesos' `.json`
//! aliases where Mesos had them.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use drover_core::agent::model::scalar;
use serde_json::{Map, Value, json};

use crate::http::AppState;

/// The legacy routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/flags", get(flags))
        .route("/slave(1)/flags", get(flags))
        .route("/version", get(version))
        .route("/containers", get(containers))
        .route("/slave(1)/containers", get(containers))
        .route("/monitor/statistics", get(statistics))
        .route("/monitor/statistics.json", get(statistics))
        .route("/slave(1)/monitor/statistics", get(statistics))
        .route("/slave(1)/monitor/statistics.json", get(statistics))
}

async fn flags(
    State(state): State<AppState>,
    principal: Option<axum::Extension<drover_http::auth::Principal>>,
) -> Response {
    let principal = principal.map(|axum::Extension(p)| p);
    if let Err(refused) = state.authorize_switch(principal.as_ref(), "view_flags", "view the flags")
    {
        return refused.into_response();
    }
    let flags: Map<String, Value> = state
        .flags
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    axum::Json(json!({ "flags": flags })).into_response()
}

async fn version() -> Response {
    axum::Json(json!({
        "version": crate::http::MESOS_VERSION,
        "build_date": "",
        "build_time": 0,
        "build_user": "",
    }))
    .into_response()
}

/// One entry per running executor's container `viewer` may see: ids, then its usage as Mesos'
/// `ResourceStatistics` (only the fields the cgroups give; absent ones are left out, as
/// Mesos leaves out what its isolators do not report).
fn usage(
    state: &AppState,
    with_status: bool,
    viewer: Option<&drover_http::auth::Principal>,
) -> Vec<Value> {
    let snapshot = state.driver.snapshot.borrow().clone();
    let containers = state.driver.containers.borrow().clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let mut out = Vec::new();
    for framework in &snapshot.frameworks {
        let framework_id = framework
            .info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        for executor in &framework.executors {
            // `view_containers` (`--acls`): by the executor's user.
            if !state.may_view_container(viewer, framework, executor) {
                continue;
            }
            let Some(container) = containers
                .iter()
                .find(|(id, _)| id.0 == executor.container_id)
                .map(|(_, c)| c)
            else {
                continue;
            };
            let s = container.stats();
            // The limits are what the executor and its tasks were given (Mesos' cgroups
            // isolator reports the same sums as cpus_limit and mem_limit_bytes).
            let resources: Vec<_> = executor
                .info
                .resources
                .iter()
                .chain(executor.tasks.iter().flat_map(|t| t.resources.iter()))
                .cloned()
                .collect();
            let mut stats = Map::new();
            stats.insert("timestamp".into(), json!(now));
            stats.insert("cpus_limit".into(), json!(scalar(&resources, "cpus")));
            let mem_limit = s
                .mem_limit_bytes
                .unwrap_or((scalar(&resources, "mem") * 1024.0 * 1024.0) as u64);
            stats.insert("mem_limit_bytes".into(), json!(mem_limit));
            let optional = [
                ("cpus_user_time_secs", s.cpu_user_secs.map(|v| json!(v))),
                ("cpus_system_time_secs", s.cpu_system_secs.map(|v| json!(v))),
                ("mem_rss_bytes", s.mem_rss_bytes.map(|v| json!(v))),
                ("mem_total_bytes", s.mem_usage_bytes.map(|v| json!(v))),
                ("mem_cache_bytes", s.mem_cache_bytes.map(|v| json!(v))),
                (
                    "mem_max_usage_bytes",
                    s.mem_max_usage_bytes.map(|v| json!(v)),
                ),
            ];
            for (name, value) in optional {
                if let Some(value) = value {
                    stats.insert(name.into(), value);
                }
            }
            let mut entry = Map::new();
            entry.insert("executor_id".into(), json!(executor.info.executor_id.value));
            entry.insert(
                "executor_name".into(),
                json!(executor.info.name.clone().unwrap_or_default()),
            );
            entry.insert("framework_id".into(), json!(framework_id));
            // Mesos still reports the deprecated `source` here; tools group by it.
            #[allow(deprecated)]
            let source = executor.info.source.clone().unwrap_or_default();
            entry.insert("source".into(), json!(source));
            if with_status {
                entry.insert("container_id".into(), json!(executor.container_id));
                entry.insert(
                    "status".into(),
                    json!({"container_id": {"value": executor.container_id}}),
                );
            }
            entry.insert("statistics".into(), Value::Object(stats));
            out.push(Value::Object(entry));
        }
    }
    out
}

async fn statistics(
    State(state): State<AppState>,
    principal: Option<axum::Extension<drover_http::auth::Principal>>,
) -> Response {
    if let Err(refused) =
        crate::http::endpoint_allowed(&state, principal.as_ref(), "/monitor/statistics")
    {
        return refused.into_response();
    }
    (
        StatusCode::OK,
        axum::Json(Value::Array(usage(
            &state,
            false,
            principal.as_ref().map(|axum::Extension(p)| p),
        ))),
    )
        .into_response()
}

async fn containers(
    State(state): State<AppState>,
    principal: Option<axum::Extension<drover_http::auth::Principal>>,
) -> Response {
    if let Err(refused) = crate::http::endpoint_allowed(&state, principal.as_ref(), "/containers") {
        return refused.into_response();
    }
    (
        StatusCode::OK,
        // `view_containers`: only the containers whose executor's user the principal may see.
        axum::Json(Value::Array(usage(
            &state,
            true,
            principal.as_ref().map(|axum::Extension(p)| p),
        ))),
    )
        .into_response()
}
