//! The Operator API v1 (`POST /api/v1`, and any path below it, as libprocess routes it, so
//! pymesos' `/api/v1/operator` works). `Accept` chooses the response encoding for every call.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use drover_core::master::{Input, MESOS_VERSION};
use drover_core::operations::Operation;
use drover_http::{
    HttpError, MAX_BODY_BYTES, decode_body, message_response, read_body, request_encoding,
    response_encoding, stream_channel,
};
use drover_wire::v1;
use drover_wire::v1::master::call::Type as CallType;
use drover_wire::v1::master::response::Type as ResponseType;
use drover_wire::v1::master::{self as operator, response};

pub mod files;
pub mod logging;
pub mod maintenance;
pub mod quota;
pub mod roles_json;

use crate::driver::{Command, STREAM_CAPACITY, StreamHandle, StreamKind};
use crate::routes::{AppState, driver_gone, reply_response};

fn respond(kind: ResponseType) -> operator::Response {
    operator::Response {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

/// The version info Drover reports (Mesos' API version, so clients gate features right).
pub fn version_info() -> v1::VersionInfo {
    v1::VersionInfo {
        version: MESOS_VERSION.into(),
        build_date: Some("2024-01-01 00:00:00".into()),
        build_time: Some(1_704_067_200.0),
        build_user: Some("drover".into()),
        git_sha: None,
        git_branch: None,
        git_tag: None,
    }
}

/// `POST /api/v1`.
pub async fn operator_api(State(state): State<AppState>, request: Request) -> Response {
    if request.method() != Method::POST {
        return HttpError::method_not_allowed(&Method::POST, request.method()).into_response();
    }
    let principal = request
        .extensions()
        .get::<drover_http::auth::Principal>()
        .cloned();
    let acls = request
        .extensions()
        .get::<std::sync::Arc<crate::acls::Acls>>()
        .cloned();
    let viewer = crate::view::Viewer::of(acls.as_ref(), principal.as_ref());
    let (parts, body) = request.into_parts();
    let encoding = match request_encoding(&parts.headers) {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    let bytes = match read_body(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let call: operator::Call = match decode_body(&bytes, encoding) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(kind) = call.r#type.and_then(|t| CallType::try_from(t).ok()) else {
        return HttpError::bad_request(
            "Failed to validate master::Call: Expecting 'type' to be present",
        )
        .into_response();
    };
    // At debug, so SET_LOGGING_LEVEL has something to show for an operator's own calls.
    tracing::debug!(call = kind.as_str_name(), "operator call");
    let accept = match response_encoding(&parts.headers) {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    let read = |f: fn(&drover_core::master::Master, u64) -> operator::Response| {
        let handle = state.handle.clone();
        async move {
            // The driver builds the message; encoding it (megabytes for GET_STATE at scale)
            // happens here, off the master loop.
            match handle.read(f).await {
                Some(response) => message_response(&response, accept),
                None => driver_gone(),
            }
        }
    };
    // A principal whose views are restricted gets the GET calls filtered (`crate::view`).
    let filtered =
        |f: Box<dyn FnOnce(&drover_core::master::Master) -> operator::Response + Send>| {
            let handle = state.handle.clone();
            async move {
                match handle.read(move |m, _| f(m)).await {
                    Some(response) => message_response(&response, accept),
                    None => driver_gone(),
                }
            }
        };
    if let Some(viewer) = viewer.clone() {
        match kind {
            CallType::GetState => {
                return filtered(Box::new(move |m| {
                    let mut r = respond(ResponseType::GetState);
                    let mut s = m.get_state();
                    viewer.filter_state(&mut s, &crate::view::users(m));
                    r.get_state = Some(s);
                    r
                }))
                .await;
            }
            CallType::GetFrameworks => {
                return filtered(Box::new(move |m| {
                    let mut r = respond(ResponseType::GetFrameworks);
                    let mut f = m.get_frameworks();
                    viewer.filter_frameworks(&mut f);
                    r.get_frameworks = Some(f);
                    r
                }))
                .await;
            }
            CallType::GetTasks => {
                return filtered(Box::new(move |m| {
                    let mut r = respond(ResponseType::GetTasks);
                    let mut t = m.get_tasks();
                    viewer.filter_tasks(&mut t, &crate::view::users(m));
                    r.get_tasks = Some(t);
                    r
                }))
                .await;
            }
            CallType::GetExecutors => {
                return filtered(Box::new(move |m| {
                    let mut r = respond(ResponseType::GetExecutors);
                    let mut e = m.get_executors();
                    viewer.filter_executors(&mut e, &crate::view::users(m));
                    r.get_executors = Some(e);
                    r
                }))
                .await;
            }
            CallType::GetOperations => {
                return filtered(Box::new(move |m| {
                    let mut r = respond(ResponseType::GetOperations);
                    let mut o = m.get_operations();
                    viewer.filter_operations(&mut o, &crate::view::users(m));
                    r.get_operations = Some(o);
                    r
                }))
                .await;
            }
            _ => {}
        }
    }
    match kind {
        CallType::GetHealth => {
            let mut r = respond(ResponseType::GetHealth);
            r.get_health = Some(response::GetHealth { healthy: true });
            message_response(&r, accept)
        }
        CallType::GetVersion => {
            let mut r = respond(ResponseType::GetVersion);
            r.get_version = Some(response::GetVersion {
                version_info: version_info(),
            });
            message_response(&r, accept)
        }
        CallType::GetFlags => {
            if let Err(refused) =
                crate::acls::authorize_view_flags(acls.as_ref(), principal.as_ref())
            {
                return refused.into_response();
            }
            let mut r = respond(ResponseType::GetFlags);
            r.get_flags = Some(response::GetFlags {
                flags: state
                    .flags
                    .as_pairs(state.port)
                    .into_iter()
                    .map(|(name, value)| v1::Flag {
                        name,
                        value: Some(value),
                    })
                    .collect(),
            });
            message_response(&r, accept)
        }
        CallType::GetMetrics => {
            // Mesos authorized GET_METRICS as a GET of `/metrics/snapshot`.
            if let Err(refused) = crate::acls::authorize_get_endpoint(
                acls.as_ref(),
                principal.as_ref(),
                "/metrics/snapshot",
            ) {
                return refused.into_response();
            }
            read(|m, now| {
                let mut r = respond(ResponseType::GetMetrics);
                r.get_metrics = Some(response::GetMetrics {
                    metrics: m
                        .metrics(now)
                        .into_iter()
                        .map(|(name, value)| v1::Metric {
                            name,
                            value: Some(value),
                        })
                        .collect(),
                });
                r
            })
            .await
        }
        CallType::GetState => {
            read(|m, _| {
                let mut r = respond(ResponseType::GetState);
                r.get_state = Some(m.get_state());
                r
            })
            .await
        }
        CallType::GetAgents => {
            read(|m, _| {
                let mut r = respond(ResponseType::GetAgents);
                r.get_agents = Some(m.get_agents());
                r
            })
            .await
        }
        CallType::GetFrameworks => {
            read(|m, _| {
                let mut r = respond(ResponseType::GetFrameworks);
                r.get_frameworks = Some(m.get_frameworks());
                r
            })
            .await
        }
        CallType::GetTasks => {
            read(|m, _| {
                let mut r = respond(ResponseType::GetTasks);
                r.get_tasks = Some(m.get_tasks());
                r
            })
            .await
        }
        CallType::GetExecutors => {
            read(|m, _| {
                let mut r = respond(ResponseType::GetExecutors);
                r.get_executors = Some(m.get_executors());
                r
            })
            .await
        }
        CallType::GetMaster => {
            read(|m, _| {
                let mut r = respond(ResponseType::GetMaster);
                r.get_master = Some(m.get_master());
                r
            })
            .await
        }
        CallType::GetLoggingLevel => {
            let mut r = respond(ResponseType::GetLoggingLevel);
            r.get_logging_level = Some(response::GetLoggingLevel {
                level: logging::level(),
            });
            message_response(&r, accept)
        }
        CallType::SetLoggingLevel => {
            let Some(set) = call.set_logging_level else {
                return HttpError::bad_request(
                    "Failed to validate master::Call: Expecting 'set_logging_level' to be present",
                )
                .into_response();
            };
            if let Err(refused) = crate::acls::authorize_switch(
                acls.as_ref(),
                principal.as_ref(),
                "set_log_level",
                "set the logging level",
            ) {
                return refused.into_response();
            }
            match logging::set_for("master::Call", set.level, set.duration.nanoseconds) {
                Ok(()) => StatusCode::OK.into_response(),
                Err(error) => error.into_response(),
            }
        }
        CallType::GetRoles => {
            // `view_roles`: the roles this principal may not see are left out, as in Mesos.
            let caller = crate::acls::Caller {
                acls: acls.clone(),
                principal: principal.clone(),
            };
            let Some(mut roles) = state.handle.read(|m, _| m.get_roles()).await else {
                return driver_gone();
            };
            roles.retain(|role| caller.may_view_role(&role.name));
            let mut r = respond(ResponseType::GetRoles);
            r.get_roles = Some(response::GetRoles { roles });
            message_response(&r, accept)
        }
        CallType::GetOperations => {
            // The operations frameworks asked feedback for, until their terminal status is
            // acknowledged (`drover_core::master::operations_feedback`); Drover has no
            // resource providers, so there are no others.
            read(|m, _| {
                let mut r = respond(ResponseType::GetOperations);
                r.get_operations = Some(m.get_operations());
                r
            })
            .await
        }
        CallType::ReadFile => {
            let Some(read) = call.read_file else {
                return HttpError::bad_request(
                    "Failed to validate master::Call: Expecting 'read_file' to be present",
                )
                .into_response();
            };
            if let Err(refused) = crate::acls::authorize_switch(
                acls.as_ref(),
                principal.as_ref(),
                "access_mesos_logs",
                "read the master's log",
            ) {
                return refused.into_response();
            }
            let answer = tokio::task::spawn_blocking(move || {
                files::read_file(&read.path, read.offset, read.length)
            })
            .await;
            match answer {
                Ok(Ok((size, data))) => {
                    let mut r = respond(ResponseType::ReadFile);
                    r.read_file = Some(response::ReadFile { size, data });
                    message_response(&r, accept)
                }
                Ok(Err(error)) => error.into_response(),
                Err(error) => HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
                    .into_response(),
            }
        }
        CallType::Subscribe => {
            let conn = state.handle.next_conn();
            let (tx, rx) = stream_channel(STREAM_CAPACITY);
            let stream = StreamHandle {
                tx,
                encoding: accept,
            };
            if state
                .handle
                .send(Command::OperatorSubscribe {
                    conn,
                    stream,
                    viewer,
                })
                .await
                .is_err()
            {
                return driver_gone();
            }
            let guard = state.handle.close_guard(conn, StreamKind::Operator);
            let none: [(HeaderName, HeaderValue); 0] = [];
            crate::stream_body::response(accept, rx, guard, &none)
        }
        CallType::MarkAgentGone => {
            let Some(gone) = call.mark_agent_gone else {
                return HttpError::bad_request(
                    "Failed to validate master::Call: Expecting 'mark_agent_gone' to be present",
                )
                .into_response();
            };
            if let Err(refused) =
                crate::acls::authorize_mark_agent_gone(acls.as_ref(), principal.as_ref())
            {
                return refused.into_response();
            }
            let req = state.handle.next_conn();
            let reply = state
                .handle
                .call(
                    Input::MarkAgentGone {
                        req,
                        agent_id: gone.agent_id.value,
                    },
                    None,
                )
                .await;
            reply_response(reply, accept)
        }
        CallType::DeactivateAgent | CallType::ReactivateAgent => {
            let (agent_id, field) = if kind == CallType::DeactivateAgent {
                (
                    call.deactivate_agent.map(|d| d.agent_id.value),
                    "deactivate_agent",
                )
            } else {
                (
                    call.reactivate_agent.map(|r| r.agent_id.value),
                    "reactivate_agent",
                )
            };
            let Some(agent_id) = agent_id else {
                return HttpError::bad_request(format!(
                    "Failed to validate master::Call: Expecting '{field}' to be present"
                ))
                .into_response();
            };
            let (kind_acl, action) = if kind == CallType::DeactivateAgent {
                ("deactivate_agents", "deactivate agents")
            } else {
                ("reactivate_agents", "reactivate agents")
            };
            if let Err(refused) =
                crate::acls::authorize_switch(acls.as_ref(), principal.as_ref(), kind_acl, action)
            {
                return refused.into_response();
            }
            let req = state.handle.next_conn();
            let input = if kind == CallType::DeactivateAgent {
                Input::DeactivateAgent { req, agent_id }
            } else {
                Input::ReactivateAgent { req, agent_id }
            };
            let reply = state.handle.call(input, None).await;
            reply_response(reply, accept)
        }
        // SET_QUOTA and REMOVE_QUOTA are deprecated in Mesos, and still served.
        #[allow(deprecated)]
        CallType::GetQuota | CallType::UpdateQuota | CallType::SetQuota | CallType::RemoveQuota => {
            let caller = crate::acls::Caller {
                acls: acls.clone(),
                principal: principal.clone(),
            };
            quota::call(&state, &caller, kind, call, accept).await
        }
        CallType::GetMaintenanceSchedule
        | CallType::GetMaintenanceStatus
        | CallType::UpdateMaintenanceSchedule
        | CallType::StartMaintenance
        | CallType::StopMaintenance
        | CallType::DrainAgent => {
            let caller = crate::acls::Caller {
                acls: acls.clone(),
                principal: principal.clone(),
            };
            maintenance::call(&state, &caller, kind, call, accept).await
        }
        CallType::Teardown => {
            let Some(teardown) = call.teardown else {
                return HttpError::bad_request(
                    "Failed to validate master::Call: Expecting 'teardown' to be present",
                )
                .into_response();
            };
            if let Some(acls) = &acls
                && let Err(refused) = crate::acls::authorize_teardown(
                    &state,
                    acls,
                    principal.as_ref(),
                    &teardown.framework_id.value,
                )
                .await
            {
                return refused.into_response();
            }
            let req = state.handle.next_conn();
            let reply = state
                .handle
                .call(
                    Input::Teardown {
                        req,
                        framework_id: teardown.framework_id.value,
                    },
                    None,
                )
                .await;
            reply_response(reply, accept)
        }
        CallType::ReserveResources
        | CallType::UnreserveResources
        | CallType::CreateVolumes
        | CallType::DestroyVolumes
        | CallType::GrowVolume
        | CallType::ShrinkVolume => {
            let missing = |field: &str| {
                HttpError::bad_request(format!(
                    "Failed to validate master::Call: Expecting '{field}' to be present"
                ))
                .into_response()
            };
            let (agent_id, operation) = match kind {
                CallType::ReserveResources => {
                    let Some(c) = call.reserve_resources else {
                        return missing("reserve_resources");
                    };
                    if !c.source.is_empty() {
                        return HttpError::bad_request(
                            "RESERVE_RESOURCES with 'source' (reservation updates) is not \
                             supported: unreserve first",
                        )
                        .into_response();
                    }
                    (c.agent_id.value, Operation::Reserve(c.resources))
                }
                CallType::UnreserveResources => {
                    let Some(c) = call.unreserve_resources else {
                        return missing("unreserve_resources");
                    };
                    (c.agent_id.value, Operation::Unreserve(c.resources))
                }
                CallType::CreateVolumes => {
                    let Some(c) = call.create_volumes else {
                        return missing("create_volumes");
                    };
                    (c.agent_id.value, Operation::Create(c.volumes))
                }
                // Drover has no resource providers: the agent is always named.
                CallType::GrowVolume => {
                    let Some(c) = call.grow_volume else {
                        return missing("grow_volume");
                    };
                    let Some(agent_id) = c.agent_id else {
                        return missing("grow_volume.agent_id");
                    };
                    (agent_id.value, Operation::Grow(vec![c.volume, c.addition]))
                }
                CallType::ShrinkVolume => {
                    let Some(c) = call.shrink_volume else {
                        return missing("shrink_volume");
                    };
                    let Some(agent_id) = c.agent_id else {
                        return missing("shrink_volume.agent_id");
                    };
                    (
                        agent_id.value,
                        Operation::Shrink(vec![c.volume], c.subtract.value),
                    )
                }
                _ => {
                    let Some(c) = call.destroy_volumes else {
                        return missing("destroy_volumes");
                    };
                    (c.agent_id.value, Operation::Destroy(c.volumes))
                }
            };
            let req = state.handle.next_conn();
            let reply = state
                .handle
                .call(
                    Input::AgentOperation {
                        req,
                        agent_id,
                        operation,
                        principal: principal.as_ref().map(|p| p.0.clone()),
                    },
                    None,
                )
                .await;
            reply_response(reply, accept)
        }
        other => HttpError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "Operator call {} is not implemented by Drover",
                other.as_str_name()
            ),
        )
        .into_response(),
    }
}
