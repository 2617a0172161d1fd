//! The HTTP surface: the Scheduler API (`/api/v1/scheduler`), the agent protocol
//! (`/drover/internal/agent`), the Operator API (`/api/v1` and any path below it), and the
//! legacy GET endpoints. Handlers check what HTTP decides (method, media types, body, stream
//! headers) in Mesos' order, then hand the call to the driver and turn its reply into a
//! response.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use drover_core::master::validation::{CALL_INVALID_PREFIX, validate_call};
use drover_core::master::{Conn, Input, Reply};
use drover_http::auth::Principal;
use drover_http::{
    HttpError, MAX_BODY_BYTES, STREAM_ID_HEADER, decode_body, header_text, read_body,
    request_encoding, response_encoding, stream_channel,
};
use drover_wire::codec::Encoding;
use drover_wire::internal::AgentCall;
use drover_wire::internal::agent_call::Type as AgentCallType;
use drover_wire::v1::scheduler;

use crate::Flags;
use crate::driver::{Handle, SCHEDULER_STREAM_CAPACITY, STREAM_CAPACITY, StreamHandle, StreamKind};
use crate::{legacy, legacy_extra, operator, stream_body};

/// The path of Drover's internal agent protocol.
pub const AGENT_PATH: &str = "/drover/internal/agent";

/// What every handler can reach. axum clones the state into every request, so it is one
/// `Arc` (a clone and a drop of the parts was ~1.5 % of the master's CPU in G4's profile).
#[derive(Debug, Clone)]
pub struct AppState(Arc<AppStateParts>);

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct AppStateParts {
    /// The driver.
    pub handle: Handle,
    /// The flags the master runs with.
    pub flags: Arc<Flags>,
    /// The port it listens on.
    pub port: u16,
}

impl AppState {
    /// The state of a master's handlers.
    pub fn new(handle: Handle, flags: Arc<Flags>, port: u16) -> AppState {
        AppState(Arc::new(AppStateParts {
            handle,
            flags,
            port,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateParts;

    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

/// The master's router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/scheduler", any(scheduler_api))
        .route("/api/v1/scheduler/{*rest}", any(scheduler_api))
        .route("/master/api/v1/scheduler", any(scheduler_api))
        .route("/master/api/v1/scheduler/{*rest}", any(scheduler_api))
        .route(AGENT_PATH, any(agent_api))
        .route("/api/v1", any(operator::operator_api))
        .route("/api/v1/{*rest}", any(operator::operator_api))
        .route("/master/api/v1", any(operator::operator_api))
        .route("/master/api/v1/{*rest}", any(operator::operator_api))
        .route("/master/roles", get(operator::roles_json::roles))
        .route("/master/roles.json", get(operator::roles_json::roles))
        .route("/roles", get(operator::roles_json::roles))
        .route("/roles.json", get(operator::roles_json::roles))
        .route(
            "/maintenance/schedule",
            any(operator::maintenance::legacy_schedule),
        )
        .route(
            "/master/maintenance/schedule",
            any(operator::maintenance::legacy_schedule),
        )
        .route(
            "/maintenance/status",
            any(operator::maintenance::legacy_status),
        )
        .route(
            "/master/maintenance/status",
            any(operator::maintenance::legacy_status),
        )
        .route("/machine/down", any(operator::maintenance::legacy_down))
        .route(
            "/master/machine/down",
            any(operator::maintenance::legacy_down),
        )
        .route("/machine/up", any(operator::maintenance::legacy_up))
        .route("/master/machine/up", any(operator::maintenance::legacy_up))
        .route("/quota", any(operator::quota::legacy))
        .route("/quota/{*role}", any(operator::quota::legacy))
        .route("/master/quota", any(operator::quota::legacy))
        .route("/master/quota/{*role}", any(operator::quota::legacy))
        .merge(legacy::routes())
        .merge(legacy_extra::routes())
        .route("/master/masters", get(crate::ha::masters_endpoint))
        .merge(drover_ui::cluster_routes())
        .fallback(|| async { HttpError::new(StatusCode::NOT_FOUND, "Not found") })
        .with_state(state)
}

/// Turns a core reply for a non-stream request into a response.
pub fn reply_response(reply: Option<Reply>, encoding: Encoding) -> Response {
    match reply {
        None => driver_gone(),
        Some(Reply::Accepted) => StatusCode::ACCEPTED.into_response(),
        Some(Reply::Ok) | Some(Reply::Stream) => StatusCode::OK.into_response(),
        Some(Reply::Response(message)) => drover_http::message_response(&*message, encoding),
        Some(Reply::Error { status, message }) => HttpError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message,
        )
        .into_response(),
    }
}

/// 503 while the driver is not running (stopping, or failed).
pub fn driver_gone() -> Response {
    HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "Master is not running").into_response()
}

/// A streamed answer: registers `kind` stream `conn`, runs `input`, and returns either the
/// RecordIO stream (with `Mesos-Stream-Id`) or the refusal.
async fn open_stream(
    state: &AppState,
    conn: Conn,
    kind: StreamKind,
    stream_id: String,
    encoding: Encoding,
    input: Input,
) -> Response {
    let capacity = match kind {
        StreamKind::Scheduler => SCHEDULER_STREAM_CAPACITY,
        StreamKind::Agent | StreamKind::Operator => STREAM_CAPACITY,
    };
    let (tx, rx) = stream_channel(capacity);
    let reply = state
        .handle
        .call(input, Some((conn, kind, StreamHandle { tx, encoding })))
        .await;
    match reply {
        Some(Reply::Stream) => {
            let guard = state.handle.close_guard(conn, kind);
            let header = (
                HeaderName::from_static("mesos-stream-id"),
                HeaderValue::from_str(&stream_id).unwrap_or(HeaderValue::from_static("")),
            );
            // The guard lives as long as the body: when the client goes, the driver hears.
            stream_body::response(encoding, rx, guard, &[header])
        }
        other => reply_response(other, encoding),
    }
}

async fn decode_request<M: prost_reflect::ReflectMessage + Default>(
    request: Request,
) -> Result<(M, axum::http::HeaderMap), HttpError> {
    if request.method() != Method::POST {
        return Err(HttpError::method_not_allowed(
            &Method::POST,
            request.method(),
        ));
    }
    let (parts, body) = request.into_parts();
    let encoding = request_encoding(&parts.headers)?;
    let bytes = read_body(body, MAX_BODY_BYTES).await?;
    let message = decode_body::<M>(&bytes, encoding)?;
    Ok((message, parts.headers))
}

/// `POST /api/v1/scheduler`.
pub async fn scheduler_api(State(state): State<AppState>, request: Request) -> Response {
    let principal = request.extensions().get::<Principal>().cloned();
    let acls = request
        .extensions()
        .get::<Arc<crate::acls::Acls>>()
        .cloned();
    let (mut call, headers) = match decode_request::<scheduler::Call>(request).await {
        Ok(decoded) => decoded,
        Err(e) => return e.into_response(),
    };
    let kind = match validate_call(&call) {
        Ok(kind) => kind,
        Err(e) => {
            return HttpError::bad_request(format!("{CALL_INVALID_PREFIX}{e}")).into_response();
        }
    };
    let stream_id = header_text(&headers, STREAM_ID_HEADER);
    if kind == scheduler::call::Type::Subscribe {
        if stream_id.is_some() {
            return HttpError::bad_request(
                "Subscribe calls should not include the 'Mesos-Stream-Id' header",
            )
            .into_response();
        }
        let encoding = match response_encoding(&headers) {
            Ok(encoding) => encoding,
            Err(e) => return e.into_response(),
        };
        if let Some(principal) = &principal
            && let Err(refused) = crate::auth::check_subscribe(&state, principal, &mut call).await
        {
            return refused.into_response();
        }
        if let (Some(acls), Some(subscribe)) = (&acls, &call.subscribe)
            && let Err(refused) = crate::acls::authorize_subscribe(
                acls,
                principal.as_ref(),
                &subscribe.framework_info,
            )
        {
            return refused.into_response();
        }
        let conn = state.handle.next_conn();
        let stream_id = uuid::Uuid::new_v4().to_string();
        let input = Input::Subscribe {
            conn,
            stream_id: stream_id.clone(),
            call,
        };
        return open_stream(
            &state,
            conn,
            StreamKind::Scheduler,
            stream_id,
            encoding,
            input,
        )
        .await;
    }
    let req = state.handle.next_conn();
    let reply = state
        .handle
        .call(
            Input::SchedulerCall {
                req,
                stream_id,
                call,
            },
            None,
        )
        .await;
    reply_response(reply, Encoding::Json)
}

/// `POST /drover/internal/agent`.
pub async fn agent_api(State(state): State<AppState>, request: Request<Body>) -> Response {
    let principal = request.extensions().get::<Principal>().cloned();
    let principals = request
        .extensions()
        .get::<Arc<crate::auth::AgentPrincipals>>()
        .cloned();
    let (call, headers) = match decode_request::<AgentCall>(request).await {
        Ok(decoded) => decoded,
        Err(e) => return e.into_response(),
    };
    if let (Some(principal), Some(principals)) = (&principal, &principals)
        && let Err(refused) = crate::auth::check_agent(principals, principal, &call)
    {
        return refused.into_response();
    }
    let kind = call.r#type.and_then(|t| AgentCallType::try_from(t).ok());
    if matches!(
        kind,
        Some(AgentCallType::Register | AgentCallType::Reregister)
    ) {
        let encoding = match response_encoding(&headers) {
            Ok(encoding) => encoding,
            Err(e) => return e.into_response(),
        };
        let conn = state.handle.next_conn();
        let stream_id = uuid::Uuid::new_v4().to_string();
        let registering = call.register.as_ref().map(|r| r.agent_info.clone());
        let input = Input::AgentSubscribe {
            conn,
            stream_id: stream_id.clone(),
            call,
        };
        let response =
            open_stream(&state, conn, StreamKind::Agent, stream_id, encoding, input).await;
        if let (Some(principal), Some(principals), Some(info)) =
            (principal, principals, registering)
        {
            crate::auth::bind_registered(&state, &principals, &principal, &info).await;
        }
        return response;
    }
    let stream_id = header_text(&headers, STREAM_ID_HEADER);
    if kind == Some(AgentCallType::StatusUpdates) {
        return status_updates(&state, stream_id, call).await;
    }
    let req = state.handle.next_conn();
    let reply = state
        .handle
        .call(
            Input::AgentCall {
                req,
                stream_id,
                call,
            },
            None,
        )
        .await;
    reply_response(reply, Encoding::Json)
}

/// `STATUS_UPDATES`: each update becomes the `STATUS_UPDATE` call the agent could have sent on
/// its own, so the core checks and applies every one exactly as before, in the batch's order,
/// and they are queued together so they share driver batches (issue 8, G4: one POST per
/// update was most of the pipeline's cost). The answer is `202` when the core accepted them
/// all, otherwise its first refusal; updates that were accepted stay applied, and the agent's
/// update manager resends whatever is not acknowledged, as for a lost call.
async fn status_updates(state: &AppState, stream_id: Option<String>, call: AgentCall) -> Response {
    if call.status_updates.is_empty() {
        return HttpError::bad_request("Expecting 'status_updates' to be present").into_response();
    }
    let mut replies = Vec::with_capacity(call.status_updates.len());
    for update in call.status_updates {
        let single = AgentCall {
            r#type: Some(AgentCallType::StatusUpdate as i32),
            agent_id: call.agent_id.clone(),
            status_update: Some(update),
            ..Default::default()
        };
        let input = Input::AgentCall {
            req: state.handle.next_conn(),
            stream_id: stream_id.clone(),
            call: single,
        };
        match state.handle.submit(input).await {
            Some(reply) => replies.push(reply),
            None => return driver_gone(),
        }
    }
    for reply in replies {
        match reply.await {
            Ok(Reply::Accepted | Reply::Ok) => {}
            Ok(refused) => return reply_response(Some(refused), Encoding::Json),
            Err(_) => return driver_gone(),
        }
    }
    StatusCode::ACCEPTED.into_response()
}
