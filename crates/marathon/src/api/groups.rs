//! `/v2/groups`: group trees derived from app ids.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use drover_core::marathon::app::AppSpec;
use drover_core::marathon::path::PathId;
use drover_core::marathon::timestamp;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::json::render::{Embed, to_value};
use crate::json::view::{AppInfo, Context};

use super::{Api, ApiResult, json_response};

pub(super) async fn groups(State(api): State<Api>, id: Option<Path<String>>) -> ApiResult {
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
pub(super) fn group_json(context: &Context<'_>, group: &PathId) -> Option<Value> {
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
