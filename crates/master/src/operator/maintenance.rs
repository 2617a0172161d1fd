//! Maintenance and draining over HTTP: the Operator API's GET_MAINTENANCE_SCHEDULE,
//! GET_MAINTENANCE_STATUS, UPDATE_MAINTENANCE_SCHEDULE, START_MAINTENANCE, STOP_MAINTENANCE and
//! DRAIN_AGENT, and the legacy `/maintenance/schedule` (GET/POST), `/maintenance/status`,
//! `/machine/down` and `/machine/up` (POST a JSON list of machine ids), with Mesos' codes. The
//! decisions are the core's (`drover_core::master::{maintenance, drain}`).

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use drover_core::master::Input;
use drover_core::master::maintenance::MaintenanceCall;
use drover_http::{HttpError, MAX_BODY_BYTES, message_response, read_body};
use drover_wire::codec::Encoding;
use drover_wire::v1;
use drover_wire::v1::master::call::Type as CallType;
use drover_wire::v1::master::response::Type as ResponseType;
use drover_wire::v1::master::{self as operator, response};

use crate::acls::Caller;
use crate::routes::{AppState, driver_gone, reply_response};

/// The schedule as `caller` may see it: all of it, or (`get_maintenance_schedules` NONE)
/// nothing, as Mesos filtered out every machine the principal may not see.
async fn visible_schedule(state: &AppState, caller: &Caller) -> Option<v1::maintenance::Schedule> {
    let schedule = state.handle.read(|m, _| m.maintenance_schedule()).await?;
    Some(if caller.may("get_maintenance_schedules") {
        schedule
    } else {
        v1::maintenance::Schedule::default()
    })
}

/// The machines' status as `caller` may see it (`get_maintenance_statuses`, as the schedule).
async fn visible_status(
    state: &AppState,
    caller: &Caller,
) -> Option<v1::maintenance::ClusterStatus> {
    let status = state.handle.read(|m, _| m.maintenance_status()).await?;
    Some(if caller.may("get_maintenance_statuses") {
        status
    } else {
        v1::maintenance::ClusterStatus::default()
    })
}

fn missing(field: &str) -> Response {
    HttpError::bad_request(format!(
        "Failed to validate master::Call: Expecting '{field}' to be present"
    ))
    .into_response()
}

async fn submit(state: &AppState, call: MaintenanceCall, accept: Encoding) -> Response {
    let req = state.handle.next_conn();
    let reply = state
        .handle
        .call(Input::Maintenance { req, call }, None)
        .await;
    reply_response(reply, accept)
}

/// The Operator API's maintenance calls and DRAIN_AGENT (`kind` is one of them).
pub async fn call(
    state: &AppState,
    caller: &Caller,
    kind: CallType,
    call: operator::Call,
    accept: Encoding,
) -> Response {
    let decided = match kind {
        CallType::UpdateMaintenanceSchedule => caller.switch(
            "update_maintenance_schedules",
            "update the maintenance schedule",
        ),
        CallType::StartMaintenance => caller.switch("start_maintenances", "start maintenance"),
        CallType::StopMaintenance => caller.switch("stop_maintenances", "stop maintenance"),
        CallType::DrainAgent => caller.switch("drain_agents", "drain agents"),
        _ => Ok(()),
    };
    if let Err(refused) = decided {
        return refused.into_response();
    }
    match kind {
        CallType::GetMaintenanceSchedule => {
            let Some(schedule) = visible_schedule(state, caller).await else {
                return driver_gone();
            };
            let r = operator::Response {
                r#type: Some(ResponseType::GetMaintenanceSchedule as i32),
                get_maintenance_schedule: Some(response::GetMaintenanceSchedule { schedule }),
                ..Default::default()
            };
            message_response(&r, accept)
        }
        CallType::GetMaintenanceStatus => {
            let Some(status) = visible_status(state, caller).await else {
                return driver_gone();
            };
            let r = operator::Response {
                r#type: Some(ResponseType::GetMaintenanceStatus as i32),
                get_maintenance_status: Some(response::GetMaintenanceStatus { status }),
                ..Default::default()
            };
            message_response(&r, accept)
        }
        CallType::UpdateMaintenanceSchedule => {
            let Some(update) = call.update_maintenance_schedule else {
                return missing("update_maintenance_schedule");
            };
            submit(
                state,
                MaintenanceCall::UpdateSchedule(update.schedule),
                accept,
            )
            .await
        }
        CallType::StartMaintenance => {
            let Some(start) = call.start_maintenance else {
                return missing("start_maintenance");
            };
            submit(state, MaintenanceCall::Start(start.machines), accept).await
        }
        CallType::StopMaintenance => {
            let Some(stop) = call.stop_maintenance else {
                return missing("stop_maintenance");
            };
            submit(state, MaintenanceCall::Stop(stop.machines), accept).await
        }
        CallType::DrainAgent => {
            let Some(drain) = call.drain_agent else {
                return missing("drain_agent");
            };
            let max_grace_period = match drain.max_grace_period {
                None => None,
                Some(d) => {
                    let ns = i128::from(d.seconds) * 1_000_000_000 + i128::from(d.nanos);
                    match i64::try_from(ns) {
                        Ok(nanoseconds) => Some(v1::DurationInfo { nanoseconds }),
                        Err(_) => {
                            return HttpError::bad_request(
                                "'drain_agent.max_grace_period' is out of range",
                            )
                            .into_response();
                        }
                    }
                }
            };
            let req = state.handle.next_conn();
            let input = Input::DrainAgent {
                req,
                agent_id: drain.agent_id.value,
                config: v1::DrainConfig {
                    max_grace_period,
                    mark_gone: drain.mark_gone,
                },
            };
            let reply = state.handle.call(input, None).await;
            reply_response(reply, accept)
        }
        other => HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{} is not a maintenance call", other.as_str_name()),
        )
        .into_response(),
    }
}

fn method_not_allowed(method: &Method, allowed: &'static str) -> Response {
    let mut response = Response::new(Body::from(format!(
        "Expecting one of {{ {} }}, but received '{method}'",
        allowed
            .split(", ")
            .map(|m| format!("'{m}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )));
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    response
}

async fn body_text(request: Request) -> Result<String, Response> {
    let bytes = read_body(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `/maintenance/schedule` and `/master/maintenance/schedule`.
pub async fn legacy_schedule(State(state): State<AppState>, request: Request) -> Response {
    let method = request.method().clone();
    let caller = Caller::of(request.extensions());
    if method == Method::GET {
        return match visible_schedule(&state, &caller).await {
            Some(s) => Json(drover_wire::json::to_json_value(&s)).into_response(),
            None => driver_gone(),
        };
    }
    if method != Method::POST {
        return method_not_allowed(&method, "GET, POST");
    }
    if let Err(refused) = caller.switch(
        "update_maintenance_schedules",
        "update the maintenance schedule",
    ) {
        return refused.into_response();
    }
    let body = match body_text(request).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let schedule: v1::maintenance::Schedule = match drover_wire::json::from_json_str(&body) {
        Ok(s) => s,
        Err(e) => {
            return HttpError::bad_request(format!(
                "Failed to convert JSON into a Schedule protobuf: {e}"
            ))
            .into_response();
        }
    };
    submit(
        &state,
        MaintenanceCall::UpdateSchedule(schedule),
        Encoding::Json,
    )
    .await
}

/// `/maintenance/status` and `/master/maintenance/status`.
pub async fn legacy_status(State(state): State<AppState>, request: Request) -> Response {
    if request.method() != Method::GET {
        return method_not_allowed(request.method(), "GET");
    }
    let caller = Caller::of(request.extensions());
    match visible_status(&state, &caller).await {
        Some(s) => Json(drover_wire::json::to_json_value(&s)).into_response(),
        None => driver_gone(),
    }
}

async fn machines(state: AppState, request: Request, down: bool) -> Response {
    if request.method() != Method::POST {
        return method_not_allowed(request.method(), "POST");
    }
    let decided = if down {
        Caller::of(request.extensions()).switch("start_maintenances", "start maintenance")
    } else {
        Caller::of(request.extensions()).switch("stop_maintenances", "stop maintenance")
    };
    if let Err(refused) = decided {
        return refused.into_response();
    }
    let body = match body_text(request).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    // Mesos takes a bare JSON array of machine ids here.
    let wrapped = format!("{{\"values\":{body}}}");
    let ids: v1::MachineIDs = match drover_wire::json::from_json_str(&wrapped) {
        Ok(ids) => ids,
        Err(e) => {
            return HttpError::bad_request(format!(
                "Failed to convert JSON into a MachineIDs protobuf: {e}"
            ))
            .into_response();
        }
    };
    let call = if down {
        MaintenanceCall::Start(ids.values)
    } else {
        MaintenanceCall::Stop(ids.values)
    };
    submit(&state, call, Encoding::Json).await
}

/// `/machine/down` and `/master/machine/down`.
pub async fn legacy_down(State(state): State<AppState>, request: Request) -> Response {
    machines(state, request, true).await
}

/// `/machine/up` and `/master/machine/up`.
pub async fn legacy_up(State(state): State<AppState>, request: Request) -> Response {
    machines(state, request, false).await
}
