//! `/v2/pods`: create, list, show, replace and delete pods, their status (one or all), their
//! stored versions, and kills of their instances — Marathon 1.10's `PodsResource`, with its
//! status codes, the `Marathon-Deployment-Id` header and the `pod_*_event`s.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use drover_core::marathon::app::Violation;
use drover_core::marathon::instance::Instance;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Command, KillTarget, Reply};
use drover_core::marathon::{parse_timestamp, timestamp};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::json::pod::{PodMode, parse_pod};
use crate::json::pod_render::{instance_json, pod_json, pod_status};

use super::{Api, ApiResult, Query, json_response, parse_body};

fn not_found(id: &PathId) -> ApiError {
    ApiError::NotFound(format!("Pod '{id}' does not exist"))
}

fn pod_id(raw: &str) -> Result<PathId, ApiError> {
    PathId::parse_app_id(raw)
        .map_err(|e| ApiError::Invalid(e.into_iter().map(|m| Violation::new("/id", m)).collect()))
}

/// Publishes `pod_created_event` / `pod_updated_event` / `pod_deleted_event`.
fn publish(api: &Api, kind: &'static str, addr: &std::net::SocketAddr, uri: &Uri) {
    api.events.publish(
        kind,
        json!({
            "eventType": kind,
            "clientIp": addr.ip().to_string(),
            "uri": uri.path(),
            "timestamp": timestamp(crate::driver::now_ms()),
        }),
    );
}

fn with_deployment(mut r: Response, deployment: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(deployment) {
        r.headers_mut().insert("Marathon-Deployment-Id", v);
    }
    r
}

/// The pod's JSON as stored now, or 404.
async fn current(api: &Api, id: &PathId) -> Result<Value, ApiError> {
    let lookup = id.clone();
    api.read(move |s, _| {
        s.app(&lookup)
            .filter(|a| a.pod.is_some())
            .map(|a| Value::Object(pod_json(a, false)))
    })
    .await?
    .ok_or_else(|| not_found(id))
}

pub(super) async fn pods_root(
    State(api): State<Api>,
    method: Method,
    RawQuery(raw): RawQuery,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    uri: Uri,
    body: Bytes,
) -> ApiResult {
    let q = Query::parse(raw.as_deref());
    match method {
        // Marathon's capability probe: pods are supported.
        Method::HEAD => Ok(StatusCode::OK.into_response()),
        Method::GET => {
            let pods = api
                .read(|s, _| {
                    s.apps()
                        .values()
                        .filter(|a| a.pod.is_some())
                        .map(|a| Value::Object(pod_json(a, false)))
                        .collect::<Vec<_>>()
                })
                .await?;
            Ok(json_response(StatusCode::OK, Value::Array(pods)))
        }
        Method::POST => {
            let value = parse_body(&body)?;
            let pod = parse_pod(&value, None, PodMode::Request).map_err(ApiError::Invalid)?;
            let id = pod.id.clone();
            let lookup = id.clone();
            let existing = api
                .read(move |s, _| s.app(&lookup).map(|a| a.pod.is_some()))
                .await?;
            match existing {
                Some(true) => {
                    return Err(ApiError::Exists(format!(
                        "A pod with id [{id}] already exists."
                    )));
                }
                Some(false) => {
                    return Err(ApiError::Exists(format!(
                        "An app with id [{id}] already exists."
                    )));
                }
                None => {}
            }
            let force = q.flag("force", false);
            let reply = api.command(Command::CreateApp { app: pod, force }).await?;
            let Reply::Deployment { id: deployment, .. } = reply else {
                return Err(ApiError::Unavailable("unexpected reply".into()));
            };
            let body = current(&api, &id).await?;
            publish(&api, "pod_created_event", &addr, &uri);
            let mut r = json_response(StatusCode::CREATED, body);
            if let Ok(v) = HeaderValue::from_str(&format!("/v2/pods{id}")) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            Ok(with_deployment(r, &deployment))
        }
        _ => Ok(StatusCode::METHOD_NOT_ALLOWED.into_response()),
    }
}

/// The parts of `/v2/pods/{rest}`.
enum PodPath {
    AllStatus,
    Pod(String),
    Status(String),
    Versions(String),
    Version(String, String),
    Instances(String),
    Instance(String, String),
}

fn split(rest: &str) -> PodPath {
    let rest = rest.trim_end_matches('/');
    if rest == "::status" {
        return PodPath::AllStatus;
    }
    if let Some(id) = rest.strip_suffix("::status") {
        return PodPath::Status(id.into());
    }
    if let Some(id) = rest.strip_suffix("::versions") {
        return PodPath::Versions(id.into());
    }
    if let Some((id, version)) = rest.split_once("::versions/") {
        return PodPath::Version(id.into(), version.into());
    }
    if let Some(id) = rest.strip_suffix("::instances") {
        return PodPath::Instances(id.into());
    }
    if let Some((id, instance)) = rest.split_once("::instances/") {
        return PodPath::Instance(id.into(), instance.into());
    }
    PodPath::Pod(rest.into())
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn pods_path(
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
    match (split(&rest), method) {
        (PodPath::AllStatus, Method::GET) => {
            let all = api
                .read(|s, now| {
                    s.apps()
                        .values()
                        .filter(|a| a.pod.is_some())
                        .map(|a| pod_status(s, a, now))
                        .collect::<Vec<_>>()
                })
                .await?;
            Ok(json_response(StatusCode::OK, Value::Array(all)))
        }
        (PodPath::Pod(raw), Method::GET) => {
            let id = pod_id(&raw)?;
            Ok(json_response(StatusCode::OK, current(&api, &id).await?))
        }
        (PodPath::Pod(raw), Method::PUT) => {
            let id = pod_id(&raw)?;
            let value = parse_body(&body)?;
            let pod = parse_pod(&value, None, PodMode::Request).map_err(ApiError::Invalid)?;
            if pod.id != id {
                return Err(ApiError::BadRequest(format!(
                    "'{id}' does not match definition's id ('{}')",
                    pod.id
                )));
            }
            let reply = api.command(Command::PutApp { app: pod, force }).await?;
            let Reply::Deployment { id: deployment, .. } = reply else {
                return Err(ApiError::Unavailable("unexpected reply".into()));
            };
            let body = current(&api, &id).await?;
            publish(&api, "pod_updated_event", &addr, &uri);
            let mut r = json_response(StatusCode::OK, body);
            if let Ok(v) = HeaderValue::from_str(&format!("/v2/pods{id}")) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            Ok(with_deployment(r, &deployment))
        }
        (PodPath::Pod(raw), Method::DELETE) => {
            let id = pod_id(&raw)?;
            current(&api, &id).await?;
            let reply = api
                .command(Command::DeleteApp { app_id: id, force })
                .await?;
            let Reply::Deployment { id: deployment, .. } = reply else {
                return Err(ApiError::Unavailable("unexpected reply".into()));
            };
            publish(&api, "pod_deleted_event", &addr, &uri);
            let mut r = StatusCode::ACCEPTED.into_response();
            if let Ok(v) = HeaderValue::from_str(&deployment) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            Ok(with_deployment(r, &deployment))
        }
        (PodPath::Status(raw), Method::GET) => {
            let id = pod_id(&raw)?;
            let lookup = id.clone();
            let status = api
                .read(move |s, now| {
                    s.app(&lookup)
                        .filter(|a| a.pod.is_some())
                        .map(|a| pod_status(s, a, now))
                })
                .await?
                .ok_or_else(|| not_found(&id))?;
            Ok(json_response(StatusCode::OK, status))
        }
        (PodPath::Versions(raw), Method::GET) => {
            let id = pod_id(&raw)?;
            let lookup = id.clone();
            let versions = api
                .read(move |s, _| {
                    s.app(&lookup).filter(|a| a.pod.is_some())?;
                    let mut v: Vec<String> = s
                        .versions(&lookup)
                        .map(|a| timestamp(a.version_ms))
                        .collect();
                    v.reverse();
                    Some(v)
                })
                .await?
                .ok_or_else(|| not_found(&id))?;
            Ok(json_response(StatusCode::OK, json!(versions)))
        }
        (PodPath::Version(raw, version), Method::GET) => {
            let id = pod_id(&raw)?;
            let ms = parse_timestamp(&version);
            let lookup = id.clone();
            let pod = api
                .read(move |s, _| {
                    s.versions(&lookup)
                        .filter(|a| a.pod.is_some())
                        .find(|a| Some(a.version_ms) == ms)
                        .map(|a| Value::Object(pod_json(a, false)))
                })
                .await?
                .ok_or_else(|| {
                    ApiError::NotFound(format!("Pod '{id}' does not exist in version {version}"))
                })?;
            Ok(json_response(StatusCode::OK, pod))
        }
        (PodPath::Instance(raw, instance), Method::DELETE) => {
            let id = pod_id(&raw)?;
            let killed = kill(&api, &id, vec![instance.clone()], &q).await?;
            match killed.into_iter().next() {
                Some(v) => Ok(json_response(StatusCode::OK, v)),
                None => Err(ApiError::NotFound(format!(
                    "Task '{instance}' does not exist"
                ))),
            }
        }
        (PodPath::Instances(raw), Method::DELETE) => {
            let id = pod_id(&raw)?;
            let value = parse_body(&body)?;
            let ids: Vec<String> = value
                .as_array()
                .ok_or_else(|| {
                    ApiError::Invalid(vec![Violation::new("/", "error.expected.jsarray")])
                })?
                .iter()
                .take(10_000)
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    ApiError::Invalid(vec![Violation::new("/", "error.expected.jsstring")])
                })?;
            let killed = kill(&api, &id, ids, &q).await?;
            Ok(json_response(StatusCode::OK, Value::Array(killed)))
        }
        _ => Ok(StatusCode::METHOD_NOT_ALLOWED.into_response()),
    }
}

/// Kills the named instances of pod `id` (`wipe`: forget them at once). Unknown ids are
/// skipped; an id that is not an instance id is a 400, as Marathon's validation.
async fn kill(
    api: &Api,
    id: &PathId,
    instances: Vec<String>,
    q: &Query,
) -> Result<Vec<Value>, ApiError> {
    current(api, id).await?;
    for i in &instances {
        let valid = i
            .rsplit_once(".instance-")
            .is_some_and(|(_, uuid)| !uuid.is_empty() && !uuid.contains('.'));
        if !valid {
            return Err(ApiError::Invalid(vec![Violation::new(
                "/",
                format!("'{i}' is not a pod instance id (<pod>.instance-<uuid>)"),
            )]));
        }
    }
    let lookup = id.clone();
    let tasks: Vec<String> = api
        .read(move |s, _| {
            instances
                .iter()
                .filter_map(|i| s.instances().get(i))
                .filter(|i| i.app_id == lookup)
                .map(|i| i.deciding_task_id())
                .collect()
        })
        .await?;
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let reply = api
        .command(Command::KillTasks {
            target: KillTarget::Tasks(tasks),
            scale: false,
            wipe: q.flag("wipe", false),
            force: false,
        })
        .await?;
    let killed: Vec<Instance> = match reply {
        Reply::Killed(instances) => instances,
        _ => Vec::new(),
    };
    let lookup = id.clone();
    let app = api.read(move |s, _| s.app(&lookup).cloned()).await?;
    Ok(killed
        .iter()
        .map(|i| instance_json(app.as_ref(), i))
        .collect())
}
