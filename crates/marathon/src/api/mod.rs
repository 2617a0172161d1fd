//! REST API v2 (axum): Marathon's routes, query parameters, status codes and headers. Handlers
//! read through the actor and send it commands; they never touch state themselves.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Command, Reply, Scheduler};
use drover_core::marathon::timestamp;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::driver::Msg;
use crate::error::ApiError;
use crate::events::EventBus;
use crate::json::render::Embed;

mod apps;
mod deployments;
mod groups;
mod pods;
mod tasks;

use apps::{apps_path, apps_root};
use deployments::{deployment_delete, deployments_list, queue_delay, queue_list};
use groups::{groups_path, groups_root};
use pods::{pods_path, pods_root};
use tasks::{tasks_delete, tasks_list};

/// Largest accepted request body.
pub const BODY_MAX: usize = 1024 * 1024;
/// Marathon version reported by `/v2/info`.
pub const MARATHON_VERSION: &str = "1.10.17";

/// What `/v2/info` and `/v2/leader` report.
#[derive(Debug, Clone)]
pub struct Info {
    /// `host:port` of this server.
    pub leader: String,
    /// `--hostname`.
    pub hostname: String,
    /// `--http_port`.
    pub http_port: u16,
    /// `--https_port`.
    pub https_port: u16,
    /// `--framework_name`.
    pub framework_name: String,
    /// `--mesos_role`.
    pub mesos_role: String,
    /// `--master`.
    pub master: String,
    /// `--task_launch_timeout`, ms.
    pub task_launch_timeout_ms: u64,
    /// `--reconciliation_interval`, ms.
    pub reconciliation_interval_ms: u64,
}

/// Shared handler state.
#[derive(Debug, Clone)]
pub struct Api {
    /// The actor's inbox.
    pub tx: mpsc::Sender<Msg>,
    /// The event bus.
    pub events: EventBus,
    /// Static info.
    pub info: Arc<Info>,
    /// The leading master's web UI URL, from its SUBSCRIBED event (`mesos_leader_ui_url`).
    pub mesos_leader: crate::mesos::LeaderUrl,
    /// How this leader steps down (`DELETE /v2/leader`); `None` when it runs alone.
    pub abdication: Option<crate::ha::Abdication>,
}

pub(super) type ApiResult = Result<Response, ApiError>;

impl Api {
    pub(super) async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Scheduler, u64) -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        let (tx, rx) = oneshot::channel();
        let msg = Msg::Read(Box::new(move |s, now| {
            let _ = tx.send(f(s, now));
        }));
        self.tx
            .send(msg)
            .await
            .map_err(|_| ApiError::Unavailable("scheduler stopped".into()))?;
        rx.await
            .map_err(|_| ApiError::Unavailable("scheduler stopped".into()))
    }

    pub(super) async fn command(&self, command: Command) -> Result<Reply, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Command(command, tx))
            .await
            .map_err(|_| ApiError::Unavailable("scheduler stopped".into()))?;
        Ok(rx
            .await
            .map_err(|_| ApiError::Unavailable("scheduler stopped".into()))??)
    }
}

/// The router with every route.
pub fn router(api: Api) -> Router {
    let leader = api.info.leader.clone();
    let mut router = Router::new();
    // Each collection path also answers with a trailing slash, as Marathon's (Jersey's) did:
    // deploy tools send `PUT /v2/apps/` for bulk updates.
    for (path, route) in [
        ("/ping", get(ping)),
        ("/metrics", get(metrics)),
        ("/v2/info", get(info)),
        ("/v2/leader", get(leader_get).delete(leader_delete)),
        ("/v2/apps", any(apps_root)),
        ("/v2/tasks", get(tasks_list)),
        ("/v2/tasks/delete", post(tasks_delete)),
        ("/v2/groups", any(groups_root)),
        ("/v2/pods", any(pods_root)),
        ("/v2/deployments", get(deployments_list)),
        ("/v2/queue", get(queue_list)),
        ("/v2/events", get(crate::sse::events)),
    ] {
        router = router
            .route(path, route.clone())
            .route(&format!("{path}/"), route);
    }
    router
        .route("/v2/apps/{*rest}", any(apps_path))
        .route("/v2/groups/{*id}", any(groups_path))
        .route("/v2/pods/{*rest}", any(pods_path))
        .route("/v2/deployments/{id}", delete(deployment_delete))
        .route("/v2/queue/{*rest}", delete(queue_delay))
        .merge(drover_ui::services_routes())
        .fallback(|uri: axum::http::Uri| async move { unknown_path(uri.path()) })
        .layer(axum::middleware::from_fn(crate::framing::require_json))
        .layer(axum::middleware::from_fn(crate::framing::json_errors))
        .layer(axum::middleware::map_response(move |mut r: Response| {
            let leader = leader.clone();
            async move {
                let h = r.headers_mut();
                h.insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache, no-store, must-revalidate"),
                );
                h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
                h.insert(header::EXPIRES, HeaderValue::from_static("0"));
                if let Ok(v) = HeaderValue::from_str(&format!("http://{leader}")) {
                    h.insert("X-Marathon-Leader", v);
                }
                r
            }
        }))
        .with_state(api)
}

/// Marathon 1.10 endpoints Drover does not serve, by path prefix, with what to say.
const UNSUPPORTED: [(&str, &str); 4] = [
    (
        "/v2/eventSubscriptions",
        "HTTP callback event subscriptions (/v2/eventSubscriptions) are not supported; \
         use the event stream at /v2/events",
    ),
    (
        "/v2/artifacts",
        "the artifact store (/v2/artifacts) is not supported; use fetch URIs",
    ),
    (
        "/v2/plugins",
        "Marathon plugins (/v2/plugins) are not supported",
    ),
    ("/v2/schema", "the JSON schemas (/v2/schema) are not served"),
];

/// The answer for a path no route takes: 501 naming the feature for a Marathon endpoint Drover
/// does not serve, else 404 naming the path.
fn unknown_path(path: &str) -> (StatusCode, axum::Json<Value>) {
    let feature = UNSUPPORTED.iter().find(|(prefix, _)| {
        path == *prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    });
    match feature {
        Some((_, message)) => (
            StatusCode::NOT_IMPLEMENTED,
            axum::Json(json!({ "message": message })),
        ),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({
                "message": format!("URI not found: {path} is not part of Marathon's REST API")
            })),
        ),
    }
}

/// Query parameters, repeated keys kept.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .take(256)
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect();
        Query(pairs)
    }

    /// All values of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.all(key).into_iter().next()
    }

    /// Java `Boolean.valueOf`: case-insensitive "true", anything else false.
    pub fn flag(&self, key: &str, default: bool) -> bool {
        self.get(key)
            .map_or(default, |v| v.eq_ignore_ascii_case("true"))
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// What `GET /v2/apps/{id}` and `/v2/apps/{group}/*` embed.
pub(super) const EMBED_ALL: Embed = Embed {
    tasks: true,
    last_task_failure: true,
    task_stats: false,
    readiness: false,
    now_ms: 0,
};

/// A guess of one app's share of a listing (an app without tasks is ~650 bytes), to size the
/// buffer once.
pub(super) const LISTING_BYTES_PER_APP: usize = 1024;

/// A JSON body written by [`to_bytes`], sent as `axum::Json` sends its own.
pub(super) fn bytes_response(status: StatusCode, body: serde_json::Result<Vec<u8>>) -> ApiResult {
    let body = body.map_err(|e| ApiError::Unavailable(format!("cannot render: {e}")))?;
    Ok((
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

pub(super) fn deployment_result(status: StatusCode, id: &str, version_ms: u64) -> Response {
    let mut r = json_response(
        status,
        json!({"deploymentId": id, "version": timestamp(version_ms)}),
    );
    if let Ok(v) = HeaderValue::from_str(id) {
        r.headers_mut().insert("Marathon-Deployment-Id", v);
    }
    r
}

pub(super) fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::NoData);
    }
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

pub(super) fn app_id(raw: &str) -> Result<PathId, ApiError> {
    PathId::parse_app_id(raw).map_err(|_| {
        ApiError::NotFound(format!(
            "App '/{}' does not exist",
            raw.trim_start_matches('/')
        ))
    })
}

async fn ping(headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*/*");
    if accept.contains("text/") || accept.contains("*/*") {
        ([(header::CONTENT_TYPE, "text/plain")], "pong").into_response()
    } else if accept.contains("application/json") {
        json_response(StatusCode::OK, json!("pong"))
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

async fn metrics(State(api): State<Api>) -> ApiResult {
    let (apps, instances, deployments) = api
        .read(|s, _| {
            let apps = s.apps().values().filter(|a| a.pod.is_none()).count();
            (apps, s.instances().len(), s.deployments().len())
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        json!({
            "version": "4.0.0",
            "counters": {},
            "gauges": {
                "marathon.apps.active.gauge": {"value": apps},
                "marathon.instances.active.gauge": {"value": instances},
                "marathon.deployments.active.gauge": {"value": deployments},
            },
            "histograms": {}, "meters": {}, "timers": {},
        }),
    ))
}

async fn info(State(api): State<Api>) -> ApiResult {
    let framework_id = api.read(|s, _| s.framework_id().map(str::to_owned)).await?;
    let i = &api.info;
    Ok(json_response(
        StatusCode::OK,
        json!({
            "name": "marathon",
            "version": MARATHON_VERSION,
            "buildref": "drover",
            "elected": true,
            "leader": i.leader,
            "frameworkId": framework_id,
            "marathon_config": {
                "access_control_allow_origin": null, "checkpoint": true,
                "decline_offer_duration": 120000, "default_network_name": null,
                "env_vars_prefix": null, "executor": "//cmd", "failover_timeout": 604800,
                "features": [], "framework_name": i.framework_name, "ha": false,
                "hostname": i.hostname, "launch_token": 100,
                "launch_token_refresh_interval": 30000,
                "leader_proxy_connection_timeout_ms": 5000, "leader_proxy_read_timeout_ms": 10000,
                "local_port_max": 20000, "local_port_min": 10000, "master": i.master,
                "max_instances_per_offer": 100, "mesos_bridge_name": "mesos-bridge",
                "mesos_heartbeat_failure_threshold": 5, "mesos_heartbeat_interval": 15000,
                "mesos_leader_ui_url": api.mesos_leader.get(), "mesos_role": api.info.mesos_role, "mesos_user": "root",
                "new_group_enforce_role": "Off", "min_revive_offers_interval": 5000,
                "offer_matching_timeout": 3000, "on_elected_prepare_timeout": 180000,
                "reconciliation_initial_delay": 15000,
                "reconciliation_interval": i.reconciliation_interval_ms,
                "scale_apps_initial_delay": 15000, "scale_apps_interval": 300000,
                "store_cache": true, "task_launch_confirm_timeout": 300000,
                "task_launch_timeout": i.task_launch_timeout_ms,
                "task_lost_expunge_initial_delay": 300000, "task_lost_expunge_interval": 30000,
                "task_reservation_timeout": 20000, "webui_url": null, "maintenance_mode": false,
            },
            "zookeeper_config": {
                "zk": null, "zk_compression": true, "zk_compression_threshold": 65536,
                "zk_connection_timeout": 10000, "zk_max_node_size": 1024000,
                "zk_max_versions": 50, "zk_session_timeout": 10000, "zk_timeout": 10000,
            },
            "http_config": {"http_port": i.http_port, "https_port": i.https_port},
        }),
    ))
}

async fn leader_get(State(api): State<Api>) -> Response {
    json_response(StatusCode::OK, json!({"leader": api.info.leader}))
}

async fn leader_delete(State(api): State<Api>, uri: axum::http::Uri) -> Response {
    let Some(abdication) = api.abdication.clone() else {
        // Standalone (no --zk): there is nobody to hand leadership to.
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"message": "There is no leader"}),
        );
    };
    if let Some(query) = uri.query()
        && query
            .split('&')
            .any(|p| p.starts_with("backup") || p.starts_with("restore"))
    {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"message": "DELETE /v2/leader: the backup and restore parameters (Marathon's state backups) are not supported by Drover"}),
        );
    }
    // The leader steps down (and exits) only once this answer has been handed to the
    // connection: the stream's second item, which yields nothing, runs after the first.
    let body = json!({"message": "Leadership abdicated"}).to_string();
    let stream = futures::stream::iter([Ok::<_, Infallible>(Bytes::from(body))]).chain(
        futures::stream::once(async move {
            abdication.request();
        })
        .filter_map(|()| async { None }),
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        stream_body(stream),
    )
        .into_response()
}

pub(crate) fn stream_body(
    stream: impl futures::Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
) -> Body {
    Body::from_stream(stream)
}

/// How often the SSE stream writes a heartbeat.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(10);
