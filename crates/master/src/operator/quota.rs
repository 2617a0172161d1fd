//! Quota over HTTP: the Operator API's GET_QUOTA, SET_QUOTA, REMOVE_QUOTA and UPDATE_QUOTA, and
//! the legacy `/quota` endpoint (`GET` → the status JSON, `POST` → set, `DELETE /quota/<role>`
//! → remove), with Mesos' status codes. The decisions are the core's
//! (`drover_core::master::quota`); this module decodes, hands them to the driver and answers.

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use drover_core::master::Input;
use drover_core::master::quota::QuotaCall;
use drover_http::{HttpError, MAX_BODY_BYTES, message_response, read_body};
use drover_wire::codec::Encoding;
use drover_wire::v1::master::call::Type as CallType;
use drover_wire::v1::master::response::Type as ResponseType;
use drover_wire::v1::master::{self as operator, response};
use drover_wire::v1::quota::QuotaRequest;

use crate::acls::Caller;
use crate::routes::{AppState, driver_gone, reply_response};

/// The quota status as `caller` may see it (`get_quotas`: roles it may not see are left out,
/// as Mesos filtered them).
#[allow(deprecated)] // `infos`: Mesos still fills it for older tools.
async fn visible_status(
    state: &AppState,
    caller: &Caller,
) -> Option<drover_wire::v1::quota::QuotaStatus> {
    let mut status = state.handle.read(|m, _| m.quota_status()).await?;
    status
        .infos
        .retain(|info| caller.may_get_quota(info.role.as_deref().unwrap_or_default()));
    status
        .configs
        .retain(|config| caller.may_get_quota(&config.role));
    Some(status)
}

fn missing(field: &str) -> Response {
    HttpError::bad_request(format!(
        "Failed to validate master::Call: Expecting '{field}' to be present"
    ))
    .into_response()
}

async fn submit(state: &AppState, call: QuotaCall, accept: Encoding) -> Response {
    let req = state.handle.next_conn();
    let reply = state.handle.call(Input::Quota { req, call }, None).await;
    reply_response(reply, accept)
}

/// The Operator API's quota calls (`kind` is one of them).
#[allow(deprecated)] // SET_QUOTA and REMOVE_QUOTA are deprecated in Mesos, and still served.
pub async fn call(
    state: &AppState,
    caller: &Caller,
    kind: CallType,
    call: operator::Call,
    accept: Encoding,
) -> Response {
    match kind {
        CallType::GetQuota => {
            let Some(status) = visible_status(state, caller).await else {
                return driver_gone();
            };
            let r = operator::Response {
                r#type: Some(ResponseType::GetQuota as i32),
                get_quota: Some(response::GetQuota { status }),
                ..Default::default()
            };
            message_response(&r, accept)
        }
        CallType::UpdateQuota => {
            let Some(update) = call.update_quota else {
                return missing("update_quota");
            };
            if let Err(refused) =
                caller.update_quota(update.quota_configs.iter().map(|c| c.role.as_str()))
            {
                return refused.into_response();
            }
            let call = QuotaCall::Update {
                force: update.force.unwrap_or(false),
                configs: update.quota_configs,
            };
            submit(state, call, accept).await
        }
        CallType::SetQuota => {
            let Some(set) = call.set_quota else {
                return missing("set_quota");
            };
            let role = set.quota_request.role.clone().unwrap_or_default();
            if let Err(refused) = caller.update_quota([role.as_str()]) {
                return refused.into_response();
            }
            submit(state, QuotaCall::Set(set.quota_request), accept).await
        }
        CallType::RemoveQuota => {
            let Some(remove) = call.remove_quota else {
                return missing("remove_quota");
            };
            if let Err(refused) = caller.update_quota([remove.role.as_str()]) {
                return refused.into_response();
            }
            let call = QuotaCall::Remove {
                role: remove.role,
                path: None,
            };
            submit(state, call, accept).await
        }
        other => HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{} is not a quota call", other.as_str_name()),
        )
        .into_response(),
    }
}

/// The legacy `/quota` and `/master/quota` (and any path below them).
pub async fn legacy(State(state): State<AppState>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let caller = Caller::of(request.extensions());
    if method == Method::GET {
        return match visible_status(&state, &caller).await {
            Some(status) => Json(drover_wire::json::to_json_value(&status)).into_response(),
            None => driver_gone(),
        };
    }
    if method == Method::POST {
        let bytes = match read_body(request.into_body(), MAX_BODY_BYTES).await {
            Ok(b) => b,
            Err(e) => return e.into_response(),
        };
        let body = String::from_utf8_lossy(&bytes);
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&body) {
            return HttpError::bad_request(format!(
                "Failed to parse set quota request JSON '{body}': {e}"
            ))
            .into_response();
        }
        let request: QuotaRequest = match drover_wire::json::from_json_str(&body) {
            Ok(r) => r,
            Err(e) => {
                return HttpError::bad_request(format!(
                    "Failed to validate set quota request JSON '{body}': {e}"
                ))
                .into_response();
            }
        };
        if let Err(refused) = caller.update_quota([request.role.as_deref().unwrap_or_default()]) {
            return refused.into_response();
        }
        return submit(&state, QuotaCall::Set(request), Encoding::Json).await;
    }
    if method == Method::DELETE {
        // Mesos takes the role as everything after `/master/quota/` (roles may hold slashes).
        let rest = path
            .strip_prefix("/master/quota")
            .or_else(|| path.strip_prefix("/quota"))
            .unwrap_or("");
        let role = rest.trim_start_matches('/').trim_end_matches('/');
        if role.is_empty() {
            let found = path.split('/').filter(|p| !p.is_empty()).count();
            return HttpError::bad_request(format!(
                "Failed to parse remove quota request for path '{path}': expected 3 tokens, \
                 found {found} tokens"
            ))
            .into_response();
        }
        if let Err(refused) = caller.update_quota([role]) {
            return refused.into_response();
        }
        let call = QuotaCall::Remove {
            role: role.to_owned(),
            path: Some(path.clone()),
        };
        return submit(&state, call, Encoding::Json).await;
    }
    let mut response = Response::new(Body::from(format!(
        "Expecting one of {{ 'GET', 'POST', 'DELETE' }}, but received '{method}'"
    )));
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
    response
}
