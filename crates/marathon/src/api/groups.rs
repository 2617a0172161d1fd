//! `/v2/groups`: group trees (explicit groups and those app ids imply) with `embed`, create,
//! update (`force`, `dryRun`, `scaleBy`, rollback by `version`), recursive delete, and the
//! stored versions of a group.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use drover_core::marathon::app::AppSpec;
use drover_core::marathon::deployment::Action;
use drover_core::marathon::group::apps_within;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Command, Reply};
use drover_core::marathon::{parse_timestamp, timestamp};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::json::group::{GroupRequest, parse_group, snapshot_tree};
use crate::json::render::{Embed, to_value};
use crate::json::view::{AppInfo, Context};

use super::{Api, ApiResult, Query, deployment_result, json_response, parse_body};

/// What a group read embeds (`embed=group.groups`, `group.apps`, `group.apps.tasks`, …;
/// without any: groups and apps, as Marathon).
#[derive(Debug, Clone, Copy)]
pub(super) struct GroupEmbed {
    groups: bool,
    apps: bool,
    pods: bool,
    app: Embed,
}

impl GroupEmbed {
    fn of(q: &Query) -> Self {
        let asked: BTreeSet<&str> = q.all("embed").into_iter().collect();
        if asked.is_empty() {
            return GroupEmbed {
                groups: true,
                apps: true,
                pods: true,
                app: Embed::default(),
            };
        }
        let has = |k: &str| asked.contains(k);
        GroupEmbed {
            groups: has("group.groups"),
            apps: asked.iter().any(|k| k.starts_with("group.apps")),
            pods: has("group.pods"),
            app: Embed {
                tasks: has("group.apps.tasks"),
                last_task_failure: has("group.apps.lastTaskFailure"),
                task_stats: has("group.apps.taskStats"),
                readiness: has("group.apps.readiness"),
                now_ms: 0,
            },
        }
    }
}

pub(super) async fn groups_root(
    State(api): State<Api>,
    method: Method,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult {
    handle(api, method, String::new(), raw, body).await
}

pub(super) async fn groups_path(
    State(api): State<Api>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult {
    handle(api, method, rest, raw, body).await
}

/// Splits `{id}/versions[/{version}]` off a group path.
fn versions_of(rest: &str) -> Option<(&str, Option<&str>)> {
    let rest = rest.trim_end_matches('/');
    if rest == "versions" {
        return Some(("", None));
    }
    if let Some(id) = rest.strip_suffix("/versions") {
        return Some((id, None));
    }
    let (head, version) = rest.rsplit_once('/')?;
    if head == "versions" {
        return Some(("", Some(version)));
    }
    head.strip_suffix("/versions").map(|id| (id, Some(version)))
}

fn group_id(raw: &str) -> Result<PathId, ApiError> {
    PathId::parse(raw, &PathId::root()).map_err(|_| {
        ApiError::NotFound(format!(
            "Group '/{}' does not exist",
            raw.trim_start_matches('/')
        ))
    })
}

async fn handle(
    api: Api,
    method: Method,
    rest: String,
    raw: Option<String>,
    body: Bytes,
) -> ApiResult {
    let q = Query::parse(raw.as_deref());
    if method == Method::GET
        && let Some((id, version)) = versions_of(&rest)
    {
        return versions(&api, group_id(id)?, version.map(str::to_owned)).await;
    }
    let id = group_id(&rest)?;
    let force = q.flag("force", false);
    match method {
        Method::GET => show(&api, id, GroupEmbed::of(&q)).await,
        Method::POST => {
            let value = parse_body(&body)?;
            let request = parse_group(&value, &id, true).map_err(ApiError::Invalid)?;
            let GroupRequest::Update(update) = request else {
                return Err(ApiError::BadRequest(
                    "scaleBy and version apply to an existing group: use PUT".into(),
                ));
            };
            let created = update.id.clone();
            let reply = api
                .command(Command::PutGroup {
                    update,
                    create: true,
                    force,
                    dry_run: false,
                })
                .await?;
            let mut r = reply_response(reply, StatusCode::CREATED)?;
            if let Ok(v) = HeaderValue::from_str(&format!("/v2/groups{created}")) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            Ok(r)
        }
        Method::PUT => {
            let value = parse_body(&body)?;
            let dry_run = q.flag("dryRun", false);
            let command = match parse_group(&value, &id, false).map_err(ApiError::Invalid)? {
                GroupRequest::Update(update) => Command::PutGroup {
                    update,
                    create: false,
                    force,
                    dry_run,
                },
                GroupRequest::Scale(factor) => Command::ScaleGroup {
                    id,
                    factor,
                    force,
                    dry_run,
                },
                GroupRequest::Rollback(version_ms) => Command::RollbackGroup {
                    id,
                    version_ms,
                    force,
                    dry_run,
                },
            };
            reply_response(api.command(command).await?, StatusCode::OK)
        }
        Method::DELETE => {
            let reply = api.command(Command::DeleteGroup { id, force }).await?;
            reply_response(reply, StatusCode::OK)
        }
        other => Ok(json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"message": format!("{other} is not supported on /v2/groups: use GET, POST, PUT or DELETE")}),
        )),
    }
}

fn reply_response(reply: Reply, status: StatusCode) -> ApiResult {
    match reply {
        Reply::Deployment { id, version_ms, .. } => Ok(deployment_result(status, &id, version_ms)),
        Reply::Plan(steps) => Ok(json_response(StatusCode::OK, plan_json(&steps))),
        _ => Err(ApiError::Unavailable("unexpected reply".into())),
    }
}

/// A dry run's answer: the steps, each with its actions.
fn plan_json(steps: &[Vec<Action>]) -> Value {
    let steps: Vec<Value> = steps
        .iter()
        .map(|step| {
            let actions: Vec<Value> = step
                .iter()
                .map(|a| json!({"action": a.kind.name(), "app": a.app.as_str()}))
                .collect();
            json!({"actions": actions})
        })
        .collect();
    json!({"steps": steps})
}

async fn show(api: &Api, id: PathId, embed: GroupEmbed) -> ApiResult {
    let lookup = id.clone();
    let value = api
        .read(move |s, now| {
            let mut embed = embed;
            embed.app.now_ms = now;
            s.group_exists(&lookup)
                .then(|| group_json(&Context::all(s), &lookup, embed))
        })
        .await?;
    match value {
        Some(v) => Ok(json_response(StatusCode::OK, v)),
        None => Err(ApiError::NotFound(format!("Group '{id}' does not exist"))),
    }
}

async fn versions(api: &Api, id: PathId, version: Option<String>) -> ApiResult {
    let lookup = id.clone();
    let (exists, stored) = api
        .read(move |s, _| {
            (
                s.group_exists(&lookup),
                s.group_versions(&lookup).cloned().collect::<Vec<_>>(),
            )
        })
        .await?;
    if !exists && stored.is_empty() {
        return Err(ApiError::NotFound(format!("Group '{id}' does not exist")));
    }
    match version {
        None => {
            // Newest first, as Marathon lists versions.
            let list: Vec<String> = stored
                .iter()
                .rev()
                .map(|g| timestamp(g.version_ms))
                .collect();
            Ok(json_response(StatusCode::OK, json!(list)))
        }
        Some(text) => {
            let found =
                parse_timestamp(&text).and_then(|ms| stored.iter().find(|g| g.version_ms == ms));
            match found {
                Some(snapshot) => Ok(json_response(StatusCode::OK, snapshot_tree(snapshot, &id))),
                None => Err(ApiError::NotFound(format!(
                    "Group '{id}' in version '{text}' does not exist"
                ))),
            }
        }
    }
}

/// A group and (per `embed`) its apps and subgroups: explicit groups and those app ids imply.
pub(super) fn group_json(context: &Context<'_>, group: &PathId, embed: GroupEmbed) -> Value {
    let s = context.scheduler();
    let members: Vec<&AppSpec> = apps_within(s.apps(), group).collect();
    let spec = s.groups().get(group);
    let mut children: BTreeSet<PathId> = BTreeSet::new();
    let explicit = s
        .groups()
        .keys()
        .filter(|g| g.is_within(group) && *g != group);
    for id in members.iter().map(|a| &a.id).chain(explicit) {
        let mut p = id.clone();
        while &p != group && !p.is_root() {
            if &p.parent() == group {
                children.insert(p.clone());
                break;
            }
            p = p.parent();
        }
    }
    // A child id that is also an app is the app, not a group.
    children.retain(|c| !s.apps().contains_key(c));
    let version = members
        .iter()
        .map(|a| a.version_ms)
        .chain(spec.map(|g| g.version_ms))
        .max()
        .unwrap_or(0);
    let apps: Vec<Value> = if embed.apps {
        members
            .iter()
            .filter(|a| &a.id.parent() == group && a.pod.is_none())
            .map(|a| to_value(&AppInfo::new(context, a, embed.app)))
            .collect()
    } else {
        Vec::new()
    };
    // GroupInfo lists a group's pods by their status (Marathon's `PodStatus`).
    let pods: Vec<Value> = if embed.pods {
        members
            .iter()
            .filter(|a| &a.id.parent() == group && a.pod.is_some())
            .map(|a| crate::json::pod_render::pod_status(s, a, embed.app.now_ms))
            .collect()
    } else {
        Vec::new()
    };
    let groups: Vec<Value> = if embed.groups {
        children
            .iter()
            .map(|c| group_json(context, c, embed))
            .collect()
    } else {
        Vec::new()
    };
    let dependencies: Vec<&str> = spec
        .map(|g| g.dependencies.iter().map(PathId::as_str).collect())
        .unwrap_or_default();
    json!({
        "id": group.as_str(), "apps": apps, "groups": groups, "pods": pods,
        "dependencies": dependencies, "version": timestamp(version), "enforceRole": false,
    })
}
