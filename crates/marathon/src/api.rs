//! REST API v2 (axum): Marathon's routes, query parameters, status codes and headers. Handlers
//! read through the actor and send it commands; they never touch state themselves.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use drover_core::marathon::app::AppSpec;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Command, KillTarget, Reply, Scheduler};
use drover_core::marathon::{parse_timestamp, timestamp};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::driver::Msg;
use crate::error::ApiError;
use crate::events::EventBus;
use crate::json::app::{Mode, app_json, parse_app};
use crate::json::render::{Embed, app_info, deployment_json, queue_json, task_json, to_value};
use crate::json::view::{AppInfo, Context, One, to_bytes};

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
    /// `--framework_name`.
    pub framework_name: String,
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
}

type ApiResult = Result<Response, ApiError>;

impl Api {
    async fn read<R: Send + 'static>(
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

    async fn command(&self, command: Command) -> Result<Reply, ApiError> {
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
        ("/v2/groups", get(groups)),
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
        .route("/v2/groups/{*id}", get(groups))
        .route("/v2/deployments/{id}", delete(deployment_delete))
        .route("/v2/queue/{*rest}", delete(queue_delay))
        .merge(drover_ui::services_routes())
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"message": "URI not found"})),
            )
        })
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

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// What `GET /v2/apps/{id}` and `/v2/apps/{group}/*` embed.
const EMBED_ALL: Embed = Embed {
    tasks: true,
    last_task_failure: true,
};

/// A guess of one app's share of a listing (an app without tasks is ~650 bytes), to size the
/// buffer once.
const LISTING_BYTES_PER_APP: usize = 1024;

/// A JSON body written by [`to_bytes`], sent as `axum::Json` sends its own.
fn bytes_response(status: StatusCode, body: serde_json::Result<Vec<u8>>) -> ApiResult {
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

fn deployment_result(status: StatusCode, id: &str, version_ms: u64) -> Response {
    let mut r = json_response(
        status,
        json!({"deploymentId": id, "version": timestamp(version_ms)}),
    );
    if let Ok(v) = HeaderValue::from_str(id) {
        r.headers_mut().insert("Marathon-Deployment-Id", v);
    }
    r
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::NoData);
    }
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

fn app_id(raw: &str) -> Result<PathId, ApiError> {
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
        .read(|s, _| (s.apps().len(), s.instances().len(), s.deployments().len()))
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
                "mesos_leader_ui_url": null, "mesos_role": "*", "mesos_user": "root",
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
            "http_config": {"http_port": i.http_port, "https_port": 8443},
        }),
    ))
}

async fn leader_get(State(api): State<Api>) -> Response {
    json_response(StatusCode::OK, json!({"leader": api.info.leader}))
}

async fn leader_delete() -> Response {
    // Standalone: there is nobody to hand leadership to.
    json_response(
        StatusCode::NOT_FOUND,
        json!({"message": "There is no leader"}),
    )
}

fn embed_of(q: &Query) -> (Embed, BTreeSet<String>) {
    let values: BTreeSet<String> = q
        .all("embed")
        .into_iter()
        .map(|v| {
            v.trim_start_matches("group.")
                .trim_start_matches("apps.")
                .trim_start_matches("app.")
                .to_owned()
        })
        .collect();
    let embed = Embed {
        tasks: values.contains("tasks") || values.contains("failures"),
        last_task_failure: values.contains("lastTaskFailure") || values.contains("failures"),
    };
    (embed, values)
}

/// Marathon's label selector: `k`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, comma = AND.
fn label_matches(selector: &str, labels: &std::collections::BTreeMap<String, String>) -> bool {
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in selector.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    terms.push(current);
    terms.iter().all(|term| {
        let term = term.trim();
        let set = |rest: &str| -> Vec<String> {
            rest.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect()
        };
        if let Some((k, v)) = term.split_once("==") {
            labels.get(k.trim()) == Some(&v.trim().to_owned())
        } else if let Some((k, v)) = term.split_once("!=") {
            labels.get(k.trim()) != Some(&v.trim().to_owned())
        } else if let Some((k, rest)) = term.split_once(" notin ") {
            labels.get(k.trim()).is_none_or(|v| !set(rest).contains(v))
        } else if let Some((k, rest)) = term.split_once(" in ") {
            labels.get(k.trim()).is_some_and(|v| set(rest).contains(v))
        } else {
            labels.contains_key(term)
        }
    })
}

async fn apps_root(
    State(api): State<Api>,
    method: Method,
    RawQuery(raw): RawQuery,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    uri: Uri,
    body: Bytes,
) -> ApiResult {
    let q = Query::parse(raw.as_deref());
    match method {
        Method::GET => {
            let (embed, _) = embed_of(&q);
            let cmd = q.get("cmd").map(str::to_lowercase);
            let id = q.get("id").map(str::to_lowercase);
            let label = q.get("label").map(str::to_owned);
            // Written to text on the scheduler's loop, straight from its state: the views
            // borrow it, and cloning 10,000 definitions to write them elsewhere costs more.
            let body = api
                .read(move |s, _| {
                    let context = Context::all(s);
                    let apps: Vec<AppInfo> = s
                        .apps()
                        .values()
                        .filter(|a| {
                            cmd.as_ref().is_none_or(|c| {
                                a.cmd.as_deref().unwrap_or("").to_lowercase().contains(c)
                            })
                        })
                        .filter(|a| {
                            id.as_ref()
                                .is_none_or(|i| a.id.as_str().to_lowercase().contains(i))
                        })
                        .filter(|a| label.as_ref().is_none_or(|l| label_matches(l, &a.labels)))
                        .map(|a| AppInfo::new(&context, a, embed))
                        .collect();
                    to_bytes(&One("apps", &apps), LISTING_BYTES_PER_APP * apps.len())
                })
                .await?;
            bytes_response(StatusCode::OK, body)
        }
        Method::POST => {
            let value = parse_body(&body)?;
            let app = parse_app(&value, None, Mode::Full).map_err(ApiError::Invalid)?;
            let force = q.flag("force", false);
            let created = app.id.clone();
            let reply = api.command(Command::CreateApp { app, force }).await?;
            let Reply::Deployment { id, .. } = reply else {
                return Err(ApiError::Unavailable("unexpected reply".into()));
            };
            // Looked up by id: finding the app whose deployments include this one asked every
            // app for its deployments, O(apps × deployments) on the loop for each POST.
            let (info, app_value) = api
                .read(move |s, _| {
                    s.app(&created)
                        .map(|a| (app_info(s, a, Embed::default()), Value::Object(app_json(a))))
                })
                .await?
                .ok_or_else(|| ApiError::Unavailable("app vanished".into()))?;
            api.events
                .publish("api_post_event", api_post_event(&addr, &uri, app_value));
            let location = format!("/v2/apps{}", info["id"].as_str().unwrap_or(""));
            let mut r = json_response(StatusCode::CREATED, info);
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&id) {
                r.headers_mut().insert("Marathon-Deployment-Id", v);
            }
            Ok(r)
        }
        Method::PUT | Method::PATCH => {
            // Bulk update: each element needs an id; applied one by one (one deployment each).
            let value = parse_body(&body)?;
            let Value::Array(items) = value else {
                return Err(ApiError::Invalid(vec![
                    drover_core::marathon::app::Violation::new("/", "error.expected.jsarray"),
                ]));
            };
            let force = q.flag("force", false);
            let partial = method == Method::PATCH || q.flag("partialUpdate", true);
            let mut last = None;
            for item in items.iter().take(1000) {
                let raw = item.get("id").and_then(Value::as_str).unwrap_or("");
                let id = PathId::parse_app_id(raw).map_err(|e| {
                    ApiError::Invalid(
                        e.into_iter()
                            .map(|m| drover_core::marathon::app::Violation::new("/id", m))
                            .collect(),
                    )
                })?;
                let app = merged(&api, &id, item, partial, method == Method::PATCH).await?;
                last = Some(api.command(Command::PutApp { app, force }).await?);
            }
            match last {
                Some(Reply::Deployment { id, version_ms, .. }) => {
                    Ok(deployment_result(StatusCode::OK, &id, version_ms))
                }
                _ => Err(ApiError::BadRequest("no apps given".into())),
            }
        }
        _ => Ok(StatusCode::METHOD_NOT_ALLOWED.into_response()),
    }
}

/// Builds the new definition of `id` from a PUT/PATCH body: merged onto the current one when
/// partial, a rollback when the body names a version.
async fn merged(
    api: &Api,
    id: &PathId,
    body: &Value,
    partial: bool,
    must_exist: bool,
) -> Result<AppSpec, ApiError> {
    let lookup = id.clone();
    let (current, versions) = api
        .read(move |s, _| {
            (
                s.app(&lookup).cloned(),
                s.versions(&lookup).cloned().collect::<Vec<_>>(),
            )
        })
        .await?;
    if current.is_none() && must_exist {
        return Err(ApiError::NotFound(format!("App '{id}' does not exist")));
    }
    if let Some(version) = body.get("version").and_then(Value::as_str) {
        let others = body
            .as_object()
            .is_some_and(|o| o.keys().any(|k| k != "id" && k != "version"));
        if others {
            return Err(ApiError::BadRequest(
                "The 'version' field may only be combined with the 'id' field.".into(),
            ));
        }
        let ms = parse_timestamp(version).ok_or_else(|| {
            ApiError::NotFound(format!("Version {version} of app {id} does not exist"))
        })?;
        return versions
            .into_iter()
            .find(|v| v.version_ms == ms)
            .ok_or_else(|| {
                ApiError::NotFound(format!("App '{id}' does not exist in version {version}"))
            });
    }
    let mode = match (&current, partial) {
        (Some(base), true) => Mode::Merge(base),
        _ => Mode::Full,
    };
    parse_app(body, Some(id), mode).map_err(ApiError::Invalid)
}

fn api_post_event(addr: &std::net::SocketAddr, uri: &Uri, app: Value) -> Value {
    json!({
        "eventType": "api_post_event",
        "clientIp": addr.ip().to_string(),
        "uri": uri.path(),
        "appDefinition": app,
        "timestamp": timestamp(crate::driver::now_ms()),
    })
}

/// The parts of `/v2/apps/{rest}`.
enum AppPath {
    App(String),
    Restart(String),
    Tasks(String),
    Task(String, String),
    Versions(String),
    Version(String, String),
}

fn split_app_path(rest: &str) -> AppPath {
    let rest = rest.trim_end_matches('/');
    if let Some(app) = rest.strip_suffix("/restart") {
        return AppPath::Restart(app.into());
    }
    if let Some(app) = rest.strip_suffix("/tasks") {
        return AppPath::Tasks(app.into());
    }
    if let Some(app) = rest.strip_suffix("/versions") {
        return AppPath::Versions(app.into());
    }
    if let Some((app, task)) = rest.rsplit_once("/tasks/") {
        return AppPath::Task(app.into(), task.into());
    }
    if let Some((app, version)) = rest.rsplit_once("/versions/") {
        return AppPath::Version(app.into(), version.into());
    }
    AppPath::App(rest.into())
}

#[allow(clippy::too_many_arguments)]
async fn apps_path(
    State(api): State<Api>,
    Path(rest): Path<String>,
    method: Method,
    RawQuery(raw): RawQuery,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    uri: Uri,
    body: Bytes,
) -> ApiResult {
    let q = Query::parse(raw.as_deref());
    let force = q.flag("force", false);
    match (split_app_path(&rest), method) {
        (AppPath::App(raw), Method::GET) => {
            if let Some(group) = raw.strip_suffix("/*") {
                let group = PathId::parse(group, &PathId::root())
                    .map_err(|_| ApiError::NotFound("Group does not exist".into()))?;
                let body = api
                    .read(move |s, _| {
                        let context = Context::all(s);
                        let apps: Vec<AppInfo> = s
                            .apps()
                            .values()
                            .filter(|a| a.id.is_within(&group))
                            .map(|a| AppInfo::new(&context, a, EMBED_ALL))
                            .collect();
                        to_bytes(&One("*", &apps), LISTING_BYTES_PER_APP * apps.len())
                    })
                    .await?;
                return bytes_response(StatusCode::OK, body);
            }
            let id = app_id(&raw)?;
            let lookup = id.clone();
            let body = api
                .read(move |s, _| {
                    let context = Context::of_app(s, &lookup);
                    s.app(&lookup).map(|a| {
                        let info = AppInfo::new(&context, a, EMBED_ALL);
                        to_bytes(&One("app", &info), LISTING_BYTES_PER_APP)
                    })
                })
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("App '{id}' does not exist")))?;
            bytes_response(StatusCode::OK, body)
        }
        (AppPath::App(raw), m @ (Method::PUT | Method::PATCH)) => {
            let id = PathId::parse_app_id(&raw).map_err(|e| {
                ApiError::Invalid(
                    e.into_iter()
                        .map(|m| drover_core::marathon::app::Violation::new("/id", m))
                        .collect(),
                )
            })?;
            let value = parse_body(&body)?;
            let partial = m == Method::PATCH || q.flag("partialUpdate", true);
            let app = merged(&api, &id, &value, partial, m == Method::PATCH).await?;
            let app_value = Value::Object(app_json(&app));
            let reply = api.command(Command::PutApp { app, force }).await?;
            let Reply::Deployment {
                id,
                version_ms,
                created,
            } = reply
            else {
                return Err(ApiError::Unavailable("unexpected reply".into()));
            };
            api.events
                .publish("api_post_event", api_post_event(&addr, &uri, app_value));
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(deployment_result(status, &id, version_ms))
        }
        (AppPath::App(raw), Method::DELETE) => {
            let reply = api
                .command(Command::DeleteApp {
                    app_id: app_id(&raw)?,
                    force: q.flag("force", true),
                })
                .await?;
            deployment_reply(reply)
        }
        (AppPath::Restart(raw), Method::POST) => {
            let reply = api
                .command(Command::RestartApp {
                    app_id: app_id(&raw)?,
                    force,
                })
                .await?;
            deployment_reply(reply)
        }
        (AppPath::Tasks(raw), Method::GET) => {
            let id = app_id(&raw)?;
            let lookup = id.clone();
            let tasks = api
                .read(move |s, _| {
                    s.app(&lookup)?;
                    Some(
                        s.instances_of(&lookup)
                            .filter(|i| i.has_task())
                            .map(|i| task_json(i, None))
                            .collect::<Vec<_>>(),
                    )
                })
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("App '{id}' does not exist")))?;
            Ok(json_response(StatusCode::OK, json!({"tasks": tasks})))
        }
        (AppPath::Tasks(raw), Method::DELETE) => {
            let target = KillTarget::App {
                app_id: app_id(&raw)?,
                host: q.get("host").map(str::to_owned),
            };
            kill(&api, target, &q, false).await
        }
        (AppPath::Task(raw, task), Method::DELETE) => {
            let target = KillTarget::Task {
                app_id: app_id(&raw)?,
                task_id: task,
            };
            kill(&api, target, &q, true).await
        }
        (AppPath::Versions(raw), Method::GET) => {
            let id = app_id(&raw)?;
            let lookup = id.clone();
            let versions = api
                .read(move |s, _| {
                    s.app(&lookup)?;
                    let mut v: Vec<String> = s
                        .versions(&lookup)
                        .map(|a| timestamp(a.version_ms))
                        .collect();
                    v.reverse();
                    Some(v)
                })
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("App '{id}' does not exist")))?;
            Ok(json_response(StatusCode::OK, json!({"versions": versions})))
        }
        (AppPath::Version(raw, version), Method::GET) => {
            let id = app_id(&raw)?;
            let ms = parse_timestamp(&version);
            let lookup = id.clone();
            let app = api
                .read(move |s, _| {
                    s.versions(&lookup)
                        .find(|a| Some(a.version_ms) == ms)
                        .map(|a| Value::Object(app_json(a)))
                })
                .await?
                .ok_or_else(|| {
                    ApiError::NotFound(format!("App '{id}' does not exist in version {version}"))
                })?;
            Ok(json_response(StatusCode::OK, app))
        }
        _ => Ok(StatusCode::METHOD_NOT_ALLOWED.into_response()),
    }
}

fn deployment_reply(reply: Reply) -> ApiResult {
    match reply {
        Reply::Deployment { id, version_ms, .. } => {
            Ok(deployment_result(StatusCode::OK, &id, version_ms))
        }
        _ => Err(ApiError::Unavailable("unexpected reply".into())),
    }
}

async fn kill(api: &Api, target: KillTarget, q: &Query, single: bool) -> ApiResult {
    let scale = q.flag("scale", false);
    let wipe = q.flag("wipe", false);
    let force = q.flag("force", false);
    let reply = api
        .command(Command::KillTasks {
            target,
            scale,
            wipe,
            force,
        })
        .await?;
    match reply {
        Reply::Deployment { id, version_ms, .. } => {
            Ok(deployment_result(StatusCode::OK, &id, version_ms))
        }
        Reply::Killed(instances) => {
            let tasks: Vec<Value> = instances
                .iter()
                .filter(|i| i.has_task())
                .map(|i| task_json(i, None))
                .collect();
            if single {
                let task = tasks.into_iter().next().unwrap_or(Value::Null);
                Ok(json_response(StatusCode::OK, json!({"task": task})))
            } else {
                Ok(json_response(StatusCode::OK, json!({"tasks": tasks})))
            }
        }
        Reply::Done => Ok(StatusCode::OK.into_response()),
    }
}

async fn tasks_list(State(api): State<Api>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref());
    let statuses: Vec<String> = q
        .all("status")
        .into_iter()
        .chain(q.all("status[]"))
        .map(str::to_lowercase)
        .filter(|s| s == "running" || s == "staging")
        .collect();
    let tasks = api
        .read(move |s, _| {
            s.instances()
                .values()
                .filter(|i| i.has_task())
                .filter(|i| {
                    statuses.is_empty()
                        || statuses.iter().any(|st| match st.as_str() {
                            "running" => {
                                i.condition == drover_core::marathon::condition::Condition::Running
                            }
                            _ => i.state_name() == "TASK_STAGING",
                        })
                })
                .map(|i| task_json(i, s.app(&i.app_id)))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(json_response(StatusCode::OK, json!({"tasks": tasks})))
}

async fn tasks_delete(State(api): State<Api>, RawQuery(raw): RawQuery, body: Bytes) -> ApiResult {
    let q = Query::parse(raw.as_deref());
    let value = parse_body(&body)?;
    let ids: Vec<String> = value
        .get("ids")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ApiError::Invalid(vec![drover_core::marathon::app::Violation::new(
                "/ids",
                "error.path.missing",
            )])
        })?
        .iter()
        .take(10_000)
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| ApiError::BadRequest("Invalid task id".into()))
        })
        .collect::<Result<_, _>>()?;
    if let Some(bad) = ids
        .iter()
        .find(|id| drover_core::marathon::instance::parse_task_id(id).is_none())
    {
        return Err(ApiError::BadRequest(format!(
            "Invalid task id '{bad}'. [{bad}]"
        )));
    }
    kill(&api, KillTarget::Tasks(ids), &q, false).await
}

async fn groups(State(api): State<Api>, id: Option<Path<String>>) -> ApiResult {
    let raw = id.map(|Path(p)| p).unwrap_or_default();
    let group = PathId::parse(&raw, &PathId::root())
        .map_err(|_| ApiError::NotFound(format!("Group '/{raw}' does not exist")))?;
    let lookup = group.clone();
    let value = api
        .read(move |s, _| group_json(&Context::all(s), &lookup))
        .await?;
    match value {
        Some(v) => Ok(json_response(StatusCode::OK, v)),
        None if group.is_root() => Ok(json_response(
            StatusCode::OK,
            json!({"id": "/", "apps": [], "groups": [], "pods": [], "dependencies": [], "version": timestamp(0), "enforceRole": false}),
        )),
        None => Err(ApiError::NotFound(format!(
            "Group '{group}' does not exist"
        ))),
    }
}

/// A group and its subgroups, derived from app ids.
fn group_json(context: &Context<'_>, group: &PathId) -> Option<Value> {
    let s = context.scheduler();
    let members: Vec<&AppSpec> = s
        .apps()
        .values()
        .filter(|a| a.id.is_within(group) && &a.id != group)
        .collect();
    if members.is_empty() && !group.is_root() {
        return None;
    }
    let apps: Vec<Value> = members
        .iter()
        .filter(|a| &a.id.parent() == group)
        .map(|a| to_value(&AppInfo::new(context, a, Embed::default())))
        .collect();
    let mut children: BTreeSet<PathId> = BTreeSet::new();
    for a in &members {
        let mut p = a.id.parent();
        while &p != group && !p.is_root() {
            if &p.parent() == group {
                children.insert(p.clone());
                break;
            }
            p = p.parent();
        }
    }
    let groups: Vec<Value> = children
        .iter()
        .filter_map(|c| group_json(context, c))
        .collect();
    let version = members.iter().map(|a| a.version_ms).max().unwrap_or(0);
    Some(json!({
        "id": group.as_str(), "apps": apps, "groups": groups, "pods": [], "dependencies": [],
        "version": timestamp(version), "enforceRole": false,
    }))
}

async fn deployments_list(State(api): State<Api>, RawQuery(raw): RawQuery) -> ApiResult {
    let explain = Query::parse(raw.as_deref()).flag("explain", false);
    let list = api
        .read(move |s, _| {
            s.deployments()
                .into_iter()
                .map(|d| deployment_json(d, explain))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(json_response(StatusCode::OK, Value::Array(list)))
}

async fn deployment_delete(
    State(api): State<Api>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let force = Query::parse(raw.as_deref()).flag("force", false);
    match api.command(Command::CancelDeployment { id, force }).await? {
        Reply::Deployment { id, version_ms, .. } => {
            Ok(deployment_result(StatusCode::OK, &id, version_ms))
        }
        _ => Ok(StatusCode::ACCEPTED.into_response()),
    }
}

async fn queue_list(State(api): State<Api>, RawQuery(raw): RawQuery) -> ApiResult {
    let explain = Query::parse(raw.as_deref()).flag("explain", false);
    let queue = api
        .read(move |s, now| {
            s.queue(now)
                .iter()
                .map(|e| queue_json(s, e, explain))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(json_response(StatusCode::OK, json!({"queue": queue})))
}

async fn queue_delay(State(api): State<Api>, Path(rest): Path<String>) -> ApiResult {
    let Some(raw) = rest.strip_suffix("/delay") else {
        return Err(ApiError::NotFound("URI not found".into()));
    };
    let app_id = PathId::parse_app_id(raw)
        .map_err(|_| ApiError::NotFound(format!("Application /{raw} not found in tasks queue.")))?;
    api.command(Command::ResetDelay { app_id }).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Unused body type guard (keeps the SSE module's imports in one place).
pub(crate) fn stream_body(
    stream: impl futures::Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
) -> Body {
    Body::from_stream(stream)
}

/// How often the SSE stream writes a heartbeat.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(10);
