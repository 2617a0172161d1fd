//! `/v2/tasks`: the task listing with status filters and bulk kills.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use drover_core::marathon::scheduler::KillTarget;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::json::render::task_json_in;

use super::apps::kill;
use super::{Api, ApiResult, Query, json_response, parse_body};

pub(super) async fn tasks_list(State(api): State<Api>, RawQuery(raw): RawQuery) -> ApiResult {
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
                // Marathon lists apps' tasks only.
                .filter(|i| s.app(&i.app_id).is_none_or(|a| a.pod.is_none()) && !i.is_pod())
                .filter(|i| {
                    statuses.is_empty()
                        || statuses.iter().any(|st| match st.as_str() {
                            "running" => {
                                i.condition == drover_core::marathon::condition::Condition::Running
                            }
                            _ => i.state_name() == "TASK_STAGING",
                        })
                })
                .map(|i| task_json_in(s, i, s.app(&i.app_id)))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(json_response(StatusCode::OK, json!({"tasks": tasks})))
}

pub(super) async fn tasks_delete(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult {
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
