//! The API's one error type and its mapping to Marathon's status codes and bodies (spec §2.0).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use drover_core::marathon::app::Violation;
use drover_core::marathon::scheduler::CommandError;
use serde_json::{Value, json};

/// Every way an API request can fail.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is not JSON.
    InvalidJson(String),
    /// 400: no body where one is needed.
    NoData,
    /// 422: shape or semantic problems, each with its path.
    Invalid(Vec<Violation>),
    /// 404.
    NotFound(String),
    /// 409: the app exists.
    Exists(String),
    /// 409: locked by deployments.
    Locked(Vec<String>),
    /// 400 with a message.
    BadRequest(String),
    /// 403 with a message.
    Forbidden(String),
    /// 503: the scheduler is not answering.
    Unavailable(String),
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::NotFound(m) => ApiError::NotFound(m),
            CommandError::AlreadyExists(id) => {
                ApiError::Exists(format!("An app with id [{id}] already exists."))
            }
            CommandError::GroupExists(id) => ApiError::Exists(format!(
                "Group {id} is already created. Use PUT to change this group."
            )),
            CommandError::Locked(ids) => ApiError::Locked(ids),
            CommandError::Invalid(v) => ApiError::Invalid(v),
            CommandError::BadRequest(m) => ApiError::BadRequest(m),
            CommandError::TooManyDeployments(n) => ApiError::Forbidden(format!(
                "Max number ({n}) of running deployments is achieved. Wait for existing \
                 deployments to complete or cancel them."
            )),
        }
    }
}

/// Groups violations by path, as Marathon's `details` does.
pub fn details(violations: &[Violation]) -> Value {
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for v in violations {
        match grouped.iter_mut().find(|(p, _)| *p == v.path) {
            Some((_, errors)) => errors.push(v.message.clone()),
            None => grouped.push((v.path.clone(), vec![v.message.clone()])),
        }
    }
    Value::Array(
        grouped
            .into_iter()
            .map(|(path, errors)| json!({"path": path, "errors": errors}))
            .collect(),
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::InvalidJson(d) => (
                StatusCode::BAD_REQUEST,
                json!({"message": "Invalid JSON", "details": d}),
            ),
            ApiError::NoData => (
                StatusCode::BAD_REQUEST,
                json!({"message": "Please specify data in JSON format", "details": "Request body is empty"}),
            ),
            ApiError::Invalid(v) => {
                let type_error = v.iter().any(|v| v.message.starts_with("error."));
                let message = if type_error {
                    "Invalid JSON"
                } else {
                    "Object is not valid"
                };
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"message": message, "details": details(&v)}),
                )
            }
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, json!({"message": m})),
            ApiError::Exists(m) => (StatusCode::CONFLICT, json!({"message": m})),
            ApiError::Locked(ids) => {
                let first = ids.first().cloned().unwrap_or_default();
                (
                    StatusCode::CONFLICT,
                    json!({
                        "message": format!("App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/{first}'."),
                        "deployments": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
                    }),
                )
            }
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!({"message": m})),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, json!({"message": m})),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, json!({"message": m})),
        };
        (status, axum::Json(body)).into_response()
    }
}
