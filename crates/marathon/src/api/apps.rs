//! `/v2/apps`: listing with embeds and label selectors, create/update/delete, restart, and
//! per-app task kills.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::IntoResponse;
use drover_core::marathon::app::AppSpec;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Command, KillTarget, Reply};
use drover_core::marathon::{parse_timestamp, timestamp};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::json::app::{Mode, app_json, parse_app};
use crate::json::render::{Embed, app_info, task_json, task_json_in};
use crate::json::view::{AppInfo, Context, One, to_bytes};

use super::{
    Api, ApiResult, EMBED_ALL, LISTING_BYTES_PER_APP, Query, app_id, bytes_response,
    deployment_result, json_response, parse_body,
};

pub(super) fn embed_of(q: &Query) -> (Embed, BTreeSet<String>) {
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
        task_stats: values.contains("taskStats"),
        readiness: values.contains("readiness"),
        now_ms: 0,
    };
    (embed, values)
}

/// A single app's (or a group's apps') embeds: tasks and the last failure always, plus what
/// the query asks for.
fn with_query(q: &Query) -> Embed {
    let (asked, _) = embed_of(q);
    Embed {
        task_stats: asked.task_stats,
        readiness: asked.readiness,
        ..EMBED_ALL
    }
}

/// Marathon's label selector: `k`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, comma = AND.
pub(super) fn label_matches(
    selector: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
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

pub(super) async fn apps_root(
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
            let (mut embed, _) = embed_of(&q);
            let cmd = q.get("cmd").map(str::to_lowercase);
            let id = q.get("id").map(str::to_lowercase);
            let label = q.get("label").map(str::to_owned);
            // Written to text on the scheduler's loop, straight from its state: the views
            // borrow it, and cloning 10,000 definitions to write them elsewhere costs more.
            let body = api
                .read(move |s, now| {
                    embed.now_ms = now;
                    let context = Context::all(s);
                    let apps: Vec<AppInfo> = s
                        .apps()
                        .values()
                        .filter(|a| a.pod.is_none())
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
            // A pod's id is no app's (and a PUT to it is refused as one).
            (
                s.app(&lookup).filter(|a| a.pod.is_none()).cloned(),
                s.versions(&lookup)
                    .filter(|a| a.pod.is_none())
                    .cloned()
                    .collect::<Vec<_>>(),
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
pub(super) async fn apps_path(
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
                let embed = with_query(&q);
                let body = api
                    .read(move |s, now| {
                        let embed = Embed {
                            now_ms: now,
                            ..embed
                        };
                        let context = Context::all(s);
                        let apps: Vec<AppInfo> = s
                            .apps()
                            .values()
                            .filter(|a| a.id.is_within(&group) && a.pod.is_none())
                            .map(|a| AppInfo::new(&context, a, embed))
                            .collect();
                        to_bytes(&One("*", &apps), LISTING_BYTES_PER_APP * apps.len())
                    })
                    .await?;
                return bytes_response(StatusCode::OK, body);
            }
            let id = app_id(&raw)?;
            let lookup = id.clone();
            let embed = with_query(&q);
            let body = api
                .read(move |s, now| {
                    let embed = Embed {
                        now_ms: now,
                        ..embed
                    };
                    let context = Context::of_app(s, &lookup);
                    s.app(&lookup).filter(|a| a.pod.is_none()).map(|a| {
                        // An app with readiness checks shows their results unasked.
                        let embed = Embed {
                            readiness: embed.readiness || !a.readiness_checks.is_empty(),
                            ..embed
                        };
                        let info = AppInfo::new(&context, a, embed);
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
                    app_id: not_a_pod(&api, app_id(&raw)?).await?,
                    force: q.flag("force", true),
                })
                .await?;
            deployment_reply(reply)
        }
        (AppPath::Restart(raw), Method::POST) => {
            let reply = api
                .command(Command::RestartApp {
                    app_id: not_a_pod(&api, app_id(&raw)?).await?,
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
                    s.app(&lookup).filter(|a| a.pod.is_none())?;
                    Some(
                        s.instances_of(&lookup)
                            .filter(|i| i.has_task())
                            .map(|i| task_json_in(s, i, None))
                            .collect::<Vec<_>>(),
                    )
                })
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("App '{id}' does not exist")))?;
            Ok(json_response(StatusCode::OK, json!({"tasks": tasks})))
        }
        (AppPath::Tasks(raw), Method::DELETE) => {
            let target = KillTarget::App {
                app_id: not_a_pod(&api, app_id(&raw)?).await?,
                host: q.get("host").map(str::to_owned),
            };
            kill(&api, target, &q, false).await
        }
        (AppPath::Task(raw, task), Method::DELETE) => {
            let target = KillTarget::Task {
                app_id: not_a_pod(&api, app_id(&raw)?).await?,
                task_id: task,
            };
            kill(&api, target, &q, true).await
        }
        (AppPath::Versions(raw), Method::GET) => {
            let id = app_id(&raw)?;
            let lookup = id.clone();
            let versions = api
                .read(move |s, _| {
                    s.app(&lookup).filter(|a| a.pod.is_none())?;
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
                        .filter(|a| a.pod.is_none())
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

/// `id`, or 404 when it names a pod: `/v2/apps` does not see pods.
async fn not_a_pod(api: &Api, id: PathId) -> Result<PathId, ApiError> {
    let lookup = id.clone();
    let pod = api
        .read(move |s, _| s.app(&lookup).is_some_and(|a| a.pod.is_some()))
        .await?;
    if pod {
        return Err(ApiError::NotFound(format!("App '{id}' does not exist")));
    }
    Ok(id)
}

fn deployment_reply(reply: Reply) -> ApiResult {
    match reply {
        Reply::Deployment { id, version_ms, .. } => {
            Ok(deployment_result(StatusCode::OK, &id, version_ms))
        }
        _ => Err(ApiError::Unavailable("unexpected reply".into())),
    }
}

pub(super) async fn kill(api: &Api, target: KillTarget, q: &Query, single: bool) -> ApiResult {
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
        Reply::Done | Reply::Plan(_) => Ok(StatusCode::OK.into_response()),
    }
}
