//! `/v2/deployments` and `/v2/queue`: running plans, cancellation, launch queue and delays.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Command, Reply};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::json::render::{deployment_json, queue_json};

use super::{Api, ApiResult, Query, deployment_result, json_response};

pub(super) async fn deployments_list(State(api): State<Api>, RawQuery(raw): RawQuery) -> ApiResult {
    let explain = Query::parse(raw.as_deref()).flag("explain", false);
    let list = api
        .read(move |s, _| {
            s.deployments()
                .into_iter()
                .map(|d| deployment_json(s, d, explain))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(json_response(StatusCode::OK, Value::Array(list)))
}

pub(super) async fn deployment_delete(
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

pub(super) async fn queue_list(State(api): State<Api>, RawQuery(raw): RawQuery) -> ApiResult {
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

pub(super) async fn queue_delay(State(api): State<Api>, Path(rest): Path<String>) -> ApiResult {
    let Some(raw) = rest.strip_suffix("/delay") else {
        return Err(ApiError::NotFound("URI not found".into()));
    };
    let app_id = PathId::parse_app_id(raw)
        .map_err(|_| ApiError::NotFound(format!("Application /{raw} not found in tasks queue.")))?;
    api.command(Command::ResetDelay { app_id }).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
