//! The agent's HTTP endpoints: the Executor API (`/api/v1/executor`), the operator API
//! (`/api/v1`: GET_HEALTH, GET_STATE, GET_CONTAINERS, GET_FLAGS, GET/SET_LOGGING_LEVEL through
//! the process-wide control in `drover_http::logging`, READ_FILE), `/state`, `/health`,
//! `/metrics/snapshot`, and Mesos' `/files/{browse,read,download}` over the sandboxes (each also
//! under Mesos' `.json` and `/slave(1)/` aliases); the other legacy endpoints are in
//! `http_legacy`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use drover_core::agent::{CallError, Snapshot};
use drover_http::auth::Principal;
use drover_http::server::{self as hs, HttpError, MAX_BODY_BYTES};
use drover_wire::v1;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::driver::{CallRefusal, Handle, Msg};

/// The Mesos version the agent's documents report (the protocol version Drover speaks).
pub const MESOS_VERSION: &str = "1.11.0";

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The driver.
    pub driver: Handle,
    /// Flags as text.
    pub flags: Arc<Vec<(String, String)>>,
    /// The work dir; `/files` serves only the executor sandboxes under it.
    pub work_dir: PathBuf,
    /// `ip:port`.
    pub endpoint: String,
    /// `--acls` `access_sandboxes`: who may read which user's sandboxes.
    pub access_sandboxes: Option<Arc<drover_core::acl::AccessSandboxes>>,
    /// `--acls` `get_endpoints`: who may GET `/metrics/snapshot`, `/monitor/statistics` and
    /// `/containers`.
    pub get_endpoints: Option<Arc<drover_core::acl::Rules>>,
    /// `--acls` view kinds: what each principal may read; `None` when reads are open.
    pub views: Option<Arc<Views>>,
    /// `--authenticate_http_executors`: the keys executors' tokens are checked with.
    pub executor_auth: Option<Arc<crate::executor_auth::Keys>>,
    /// Nested containers (the operator API's nested-container calls).
    pub nested: Arc<crate::nested::Nested>,
    /// `--acls` for the nested-container calls; `None` when they are open.
    pub nested_acls: Option<Arc<crate::http_nested::NestedAcls>>,
    /// `--secrets_dir`: `SECRET` variables of nested containers are resolved from it.
    pub secrets_dir: Option<PathBuf>,
    /// Container images (`--image_providers=docker`), for nested containers with one.
    pub provisioner: Option<Arc<crate::provisioner::Provisioner>>,
    /// When the agent started.
    pub started: Instant,
    /// Wall-clock start, seconds since the epoch.
    pub start_time: f64,
}

/// The agent's read ACLs, as Mesos' agent applied them.
#[derive(Debug, Clone)]
pub struct Views {
    /// `view_frameworks`, `view_executors`, `view_tasks`: `/state` and GET_STATE.
    pub read: drover_core::acl::ViewRules,
    /// `view_containers` (principal → the executor's user): `/containers`, GET_CONTAINERS.
    pub containers: drover_core::acl::Rules,
    /// `view_flags` (ANY or NONE): `/flags`, GET_FLAGS.
    pub flags: drover_core::acl::Rules,
    /// `set_log_level` (ANY or NONE): SET_LOGGING_LEVEL.
    pub log_level: drover_core::acl::Rules,
    /// `access_mesos_logs` (ANY or NONE): the agent's own log, `/slave/log`.
    pub logs: drover_core::acl::Rules,
}

impl AppState {
    /// The snapshot as `principal` may see it.
    pub(crate) fn visible_snapshot(&self, principal: Option<&Principal>) -> Arc<Snapshot> {
        let snapshot = self.driver.snapshot.borrow().clone();
        match &self.views {
            Some(views) => {
                Arc::new(snapshot.visible_to(&views.read, principal.map(|p| p.0.as_str())))
            }
            None => snapshot,
        }
    }

    /// Whether `principal` may see the container of `executor` (run by `framework`).
    pub(crate) fn may_view_container(
        &self,
        principal: Option<&Principal>,
        framework: &drover_core::agent::FrameworkView,
        executor: &drover_core::agent::ExecutorView,
    ) -> bool {
        self.views.as_ref().is_none_or(|views| {
            views.containers.allows(
                principal.map(|p| p.0.as_str()),
                framework.executor_user(executor),
            )
        })
    }

    /// `view_flags` / `set_log_level` for `principal`: Ok, or 403 naming it and the ACL.
    pub(crate) fn authorize_switch(
        &self,
        principal: Option<&Principal>,
        kind: &str,
        action: &str,
    ) -> Result<(), HttpError> {
        let Some(views) = &self.views else {
            return Ok(());
        };
        let rules = match kind {
            "view_flags" => &views.flags,
            "access_mesos_logs" => &views.logs,
            _ => &views.log_level,
        };
        let name = principal.map(|p| p.0.as_str());
        if rules.allows_object(name, None) {
            return Ok(());
        }
        Err(HttpError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Not authorized to {action} as principal '{}' ({kind})",
                name.unwrap_or("ANY")
            ),
        ))
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/executor", post(executor_api))
        .route("/api/v1", post(operator_api))
        .route("/state", get(state_json))
        .route("/state.json", get(state_json))
        .route("/slave(1)/state", get(state_json))
        .route("/slave(1)/state.json", get(state_json))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/slave(1)/health", get(|| async { StatusCode::OK }))
        .route("/metrics/snapshot", get(metrics))
        .route("/files/browse", get(files_browse))
        .route("/files/browse.json", get(files_browse))
        .route("/files/read", get(files_read))
        .route("/files/read.json", get(files_read))
        .route("/files/download", get(files_download))
        .route("/files/download.json", get(files_download))
        .merge(crate::http_legacy::routes())
        .with_state(state)
}

async fn executor_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let encoding = hs::request_encoding(&headers)?;
    let body = hs::read_body(body, MAX_BODY_BYTES).await?;
    let call: v1::executor::Call = hs::decode_body(&body, encoding)?;
    let container = match &state.executor_auth {
        Some(keys) => match authenticate_executor(keys, &headers, &call) {
            Ok(container) => Some(container),
            Err(refused) => return Ok(*refused),
        },
        None => None,
    };
    let kind = call
        .r#type
        .and_then(|t| v1::executor::call::Type::try_from(t).ok());
    if kind == Some(v1::executor::call::Type::Heartbeat) {
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let subscribe = kind == Some(v1::executor::call::Type::Subscribe);
    let (stream, events) = if subscribe {
        let accept = hs::response_encoding(&headers)?;
        let (tx, rx) = hs::stream_channel(1024);
        (Some((tx, accept)), Some((rx, accept)))
    } else {
        (None, None)
    };
    let (reply, answer) = oneshot::channel();
    state
        .driver
        .tx
        .send(Msg::ExecutorCall {
            call,
            container,
            stream,
            reply,
        })
        .await
        .map_err(|_| HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "Agent is shutting down"))?;
    let result = answer
        .await
        .map_err(|_| HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "Agent is shutting down"))?;
    match result {
        Ok(()) => match events {
            Some((rx, accept)) => Ok(hs::recordio_response(accept, rx, &[])),
            None => Ok(StatusCode::ACCEPTED.into_response()),
        },
        Err(CallRefusal::Recovering) => Err(HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Agent has not finished recovery",
        )),
        Err(CallRefusal::Forbidden(message)) => Err(HttpError::new(StatusCode::FORBIDDEN, message)),
        Err(CallRefusal::Call(error)) => {
            let status = match error {
                CallError::NotSubscribed => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            Err(HttpError::new(status, error.to_string()))
        }
    }
}

/// `--authenticate_http_executors`: the call's token must be valid (else 401, with Mesos'
/// `WWW-Authenticate`) and name the call's framework and executor (else 403). Returns the
/// container the token names, which the driver checks is the executor's current one.
fn authenticate_executor(
    keys: &crate::executor_auth::Keys,
    headers: &HeaderMap,
    call: &v1::executor::Call,
) -> Result<String, Box<Response>> {
    use crate::executor_auth::TokenError;
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let claims = keys.verify(authorization).map_err(|e| {
        let message = match e {
            TokenError::Missing => "Executor calls need 'Authorization: Bearer <token>'".to_owned(),
            TokenError::Invalid(why) => format!("Invalid executor token: {why}"),
        };
        let mut response = HttpError::new(StatusCode::UNAUTHORIZED, message).into_response();
        response.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer realm=\"mesos-agent-executor\""),
        );
        Box::new(response)
    })?;
    if claims.fid != call.framework_id.value || claims.eid != call.executor_id.value {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            format!(
                "The token is for executor '{}' of framework '{}', not this call's",
                claims.eid, claims.fid
            ),
        )
        .into_response()
        .into());
    }
    Ok(claims.cid)
}

/// An operator-API request made with a valid executor token ([`executor_token`]).
#[derive(Debug, Clone)]
pub struct ExecutorCaller(pub crate::executor_auth::Claims);

/// With `--authenticate_http_executors`, a default executor launches its tasks as nested
/// containers through the operator API with its own token (`Authorization: Bearer`), as Mesos'
/// did: a valid token marks the request as the executor's (it then needs no operator
/// credentials and may act on its own container's nested containers only); an invalid one is
/// refused with 401. Runs before the Basic authentication.
pub async fn executor_token(
    State(keys): State<Arc<crate::executor_auth::Keys>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let bearer = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("Bearer "))
        .map(str::to_owned);
    if let Some(bearer) = bearer
        && request.uri().path() == "/api/v1"
    {
        match keys.verify(Some(&bearer)) {
            Ok(claims) => {
                request.extensions_mut().insert(ExecutorCaller(claims));
                request
                    .extensions_mut()
                    .insert(drover_http::auth::AuthenticatedOtherwise);
            }
            Err(error) => {
                let why = match error {
                    crate::executor_auth::TokenError::Missing => "missing",
                    crate::executor_auth::TokenError::Invalid(why) => why,
                };
                return HttpError::new(
                    StatusCode::UNAUTHORIZED,
                    format!("Invalid executor token: {why}"),
                )
                .into_response();
            }
        }
    }
    next.run(request).await
}

async fn operator_api(
    State(state): State<AppState>,
    principal: Option<axum::Extension<Principal>>,
    executor: Option<axum::Extension<ExecutorCaller>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let principal = principal.map(|axum::Extension(p)| p);
    let executor = executor.map(|axum::Extension(e)| e);
    let caller = match &executor {
        Some(ExecutorCaller(claims)) => crate::http_nested::Caller::Executor(claims),
        None => crate::http_nested::Caller::Operator(principal.as_ref()),
    };
    let executor_refused = || {
        HttpError::new(
            StatusCode::FORBIDDEN,
            "An executor's token is good only for the nested-container calls on its own \
             container",
        )
    };
    use v1::agent::call::Type as C;
    use v1::agent::response::Type as R;
    if crate::http_nested::is_stream(&headers) {
        if executor.is_some() {
            return Err(executor_refused());
        }
        return crate::http_nested::attach_input(&state, caller, &headers, body).await;
    }
    let encoding = hs::request_encoding(&headers)?;
    let body = hs::read_body(body, MAX_BODY_BYTES).await?;
    let call: v1::agent::Call = hs::decode_body(&body, encoding)?;
    if let Some(response) = nested_call(&state, caller, &headers, &call).await? {
        return Ok(response);
    }
    if executor.is_some() {
        return Err(executor_refused());
    }
    let accept = hs::response_encoding(&headers)?;
    // At debug, so SET_LOGGING_LEVEL has something to show for an operator's own calls.
    tracing::debug!(call = ?call.r#type.and_then(|t| C::try_from(t).ok()), "operator call");
    let snapshot = state.visible_snapshot(principal.as_ref());
    let mut response = v1::agent::Response::default();
    match call.r#type.and_then(|t| C::try_from(t).ok()) {
        Some(C::GetHealth) => {
            response.r#type = Some(R::GetHealth as i32);
            response.get_health = Some(v1::agent::response::GetHealth { healthy: true });
        }
        Some(C::GetFlags) => {
            state.authorize_switch(principal.as_ref(), "view_flags", "view the flags")?;
            response.r#type = Some(R::GetFlags as i32);
            response.get_flags = Some(v1::agent::response::GetFlags {
                flags: state
                    .flags
                    .iter()
                    .map(|(name, value)| v1::Flag {
                        name: name.clone(),
                        value: Some(value.clone()),
                    })
                    .collect(),
            });
        }
        Some(C::GetState) => {
            response.r#type = Some(R::GetState as i32);
            response.get_state = Some(get_state(&snapshot));
        }
        Some(C::GetContainers) => {
            response.r#type = Some(R::GetContainers as i32);
            let containers = state.driver.containers.borrow().clone();
            let mut list = Vec::new();
            for framework in &snapshot.frameworks {
                for executor in &framework.executors {
                    if !state.may_view_container(principal.as_ref(), framework, executor) {
                        continue;
                    }
                    let stats = containers
                        .iter()
                        .find(|(id, _)| id.0 == executor.container_id)
                        .map(|(_, c)| c.stats());
                    list.push(v1::agent::response::get_containers::Container {
                        framework_id: framework.info.id.clone(),
                        executor_id: Some(executor.info.executor_id.clone()),
                        executor_name: executor.info.name.clone(),
                        container_id: v1::ContainerId {
                            value: executor.container_id.clone(),
                            parent: None,
                        },
                        container_status: None,
                        resource_statistics: stats.map(|s| v1::ResourceStatistics {
                            timestamp: 0.0,
                            cpus_user_time_secs: s.cpu_user_secs,
                            cpus_system_time_secs: s.cpu_system_secs,
                            mem_rss_bytes: s.mem_rss_bytes,
                            mem_total_bytes: s.mem_usage_bytes,
                            mem_limit_bytes: s.mem_limit_bytes,
                            ..Default::default()
                        }),
                    });
                }
            }
            // `show_nested`: nested containers too, under their parent's framework and
            // executor (Mesos' default is without them).
            if call.get_containers.as_ref().and_then(|g| g.show_nested) == Some(true) {
                for entry in state
                    .nested
                    .list()
                    .into_iter()
                    .filter(|e| e.ended().is_none())
                {
                    let Some(parent) = list
                        .iter()
                        .find(|c| {
                            c.container_id.value == entry.parent && c.container_id.parent.is_none()
                        })
                        .cloned()
                    else {
                        continue;
                    };
                    list.push(v1::agent::response::get_containers::Container {
                        container_id: v1::ContainerId {
                            value: entry.id.clone(),
                            parent: Some(Box::new(parent.container_id.clone())),
                        },
                        resource_statistics: None,
                        ..parent
                    });
                }
            }
            response.get_containers = Some(v1::agent::response::GetContainers { containers: list });
        }
        Some(C::GetLoggingLevel) => {
            response.r#type = Some(R::GetLoggingLevel as i32);
            response.get_logging_level = Some(v1::agent::response::GetLoggingLevel {
                level: drover_http::logging::level(),
            });
        }
        Some(C::SetLoggingLevel) => {
            let Some(set) = call.set_logging_level else {
                return Err(HttpError::bad_request(
                    "Failed to validate agent::Call: Expecting 'set_logging_level' to be present",
                ));
            };
            state.authorize_switch(principal.as_ref(), "set_log_level", "set the logging level")?;
            drover_http::logging::set_for("agent::Call", set.level, set.duration.nanoseconds)?;
            return Ok(StatusCode::OK.into_response());
        }
        Some(C::ReadFile) => {
            let Some(read) = call.read_file else {
                return Err(HttpError::bad_request(
                    "Failed to validate agent::Call: Expecting 'read_file' to be present",
                ));
            };
            authorized_path(&state, principal.as_ref(), &read.path)?;
            let work_dir = state.work_dir.clone();
            let permit = crate::files_api::read_permit()?;
            let (size, data) = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                crate::files_api::read_file(&work_dir, &read.path, read.offset, read.length)
            })
            .await
            .map_err(|e| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
            response.r#type = Some(R::ReadFile as i32);
            response.read_file = Some(v1::agent::response::ReadFile { size, data });
        }
        _ => {
            return Err(HttpError::new(
                StatusCode::NOT_IMPLEMENTED,
                "Only GET_HEALTH, GET_FLAGS, GET_STATE, GET_CONTAINERS, GET_LOGGING_LEVEL, \
                 SET_LOGGING_LEVEL, READ_FILE and the nested-container calls \
                 (LAUNCH_NESTED_CONTAINER[_SESSION], WAIT_/KILL_/REMOVE_NESTED_CONTAINER, \
                 ATTACH_CONTAINER_INPUT/OUTPUT, and LAUNCH_/WAIT_/KILL_/REMOVE_CONTAINER for \
                 nested ids) are implemented",
            ));
        }
    }
    Ok(hs::message_response(&response, accept))
}

/// The nested-container calls; `None` for any other call. Mesos deprecated the `*_NESTED_*`
/// names in 1.5 for the `*_CONTAINER` ones; clients still send both.
#[allow(deprecated)]
async fn nested_call(
    state: &AppState,
    caller: crate::http_nested::Caller<'_>,
    headers: &HeaderMap,
    call: &v1::agent::Call,
) -> Result<Option<Response>, HttpError> {
    use crate::http_nested as n;
    use v1::agent::call::Type as C;
    // An executor acts on nested containers of its own container only.
    let own = |id: &v1::ContainerId| match caller {
        n::Caller::Executor(claims) if !n::own_container(claims, id) => Err(HttpError::new(
            StatusCode::FORBIDDEN,
            format!(
                "The executor's token is for container {}; {} is not nested in it",
                claims.cid, id.value
            ),
        )),
        _ => Ok(()),
    };
    let missing = |field: &str| {
        HttpError::bad_request(format!(
            "Failed to validate agent::Call: Expecting '{field}' to be present"
        ))
    };
    let kind = call.r#type.and_then(|t| C::try_from(t).ok());
    let mut limits = None;
    // The three launches: (container id, command, container, session).
    let launch = match kind {
        Some(C::LaunchNestedContainerSession) => {
            let c = call
                .launch_nested_container_session
                .as_ref()
                .ok_or_else(|| missing("launch_nested_container_session"))?;
            Some((&c.container_id, &c.command, &c.container, true))
        }
        Some(C::LaunchNestedContainer) => {
            let c = call
                .launch_nested_container
                .as_ref()
                .ok_or_else(|| missing("launch_nested_container"))?;
            Some((&c.container_id, &c.command, &c.container, false))
        }
        Some(C::LaunchContainer) => {
            let c = call
                .launch_container
                .as_ref()
                .ok_or_else(|| missing("launch_container"))?;
            if !c.limits.is_empty() {
                return Err(HttpError::bad_request(
                    "'launch_container.limits' is not supported: a nested container's limits \
                     are its 'resources'",
                ));
            }
            limits = crate::http_nested::limits_of(&c.resources)?;
            Some((&c.container_id, &c.command, &c.container, false))
        }
        _ => None,
    };
    if let Some((id, command, container, session)) = launch {
        let (command, container) = (command.as_ref(), container.as_ref());
        own(id)?;
        return n::launch(
            state, caller, headers, id, command, container, session, limits,
        )
        .await
        .map(Some);
    }
    let response = match kind {
        Some(C::AttachContainerOutput) => {
            let c = call
                .attach_container_output
                .as_ref()
                .ok_or_else(|| missing("attach_container_output"))?;
            own(&c.container_id)?;
            n::attach_output(state, caller, headers, &c.container_id).await?
        }
        Some(C::AttachContainerInput) => {
            return Err(HttpError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "ATTACH_CONTAINER_INPUT is a stream: send it with 'Content-Type: \
                 application/recordio' and 'Message-Content-Type'",
            ));
        }
        Some(kind @ (C::WaitNestedContainer | C::WaitContainer)) => {
            let accept = hs::response_encoding(headers)?;
            let id = match kind {
                C::WaitNestedContainer => {
                    call.wait_nested_container.as_ref().map(|c| &c.container_id)
                }
                _ => call.wait_container.as_ref().map(|c| &c.container_id),
            };
            let id = id.ok_or_else(|| missing("container_id"))?;
            own(id)?;
            n::wait(state, caller, id, kind == C::WaitNestedContainer, accept).await?
        }
        Some(kind @ (C::KillNestedContainer | C::KillContainer)) => {
            let (id, signal) = match kind {
                C::KillNestedContainer => call
                    .kill_nested_container
                    .as_ref()
                    .map(|c| (&c.container_id, c.signal)),
                _ => call
                    .kill_container
                    .as_ref()
                    .map(|c| (&c.container_id, c.signal)),
            }
            .ok_or_else(|| missing("container_id"))?;
            own(id)?;
            n::kill(state, caller, id, signal)?
        }
        Some(kind @ (C::RemoveNestedContainer | C::RemoveContainer)) => {
            let id = match kind {
                C::RemoveNestedContainer => call
                    .remove_nested_container
                    .as_ref()
                    .map(|c| &c.container_id),
                _ => call.remove_container.as_ref().map(|c| &c.container_id),
            }
            .ok_or_else(|| missing("container_id"))?;
            own(id)?;
            n::remove(state, caller, id)?
        }
        _ => return Ok(None),
    };
    Ok(Some(response))
}

fn get_state(snapshot: &Snapshot) -> v1::agent::response::GetState {
    use v1::agent::response::{
        GetExecutors, GetFrameworks, GetTasks, get_executors, get_frameworks,
    };
    let mut tasks = GetTasks::default();
    let mut executors = GetExecutors::default();
    let mut frameworks = GetFrameworks::default();
    for framework in &snapshot.frameworks {
        frameworks.frameworks.push(get_frameworks::Framework {
            framework_info: framework.info.clone(),
        });
        for executor in &framework.executors {
            executors.executors.push(get_executors::Executor {
                executor_info: executor.info.clone(),
            });
            for task in &executor.tasks {
                if drover_core::task::TaskState::try_from(task.state)
                    .is_ok_and(drover_core::task::state::is_terminal)
                {
                    tasks.terminated_tasks.push(task.clone());
                } else {
                    tasks.launched_tasks.push(task.clone());
                }
            }
            tasks
                .queued_tasks
                .extend(executor.queued_tasks.iter().cloned());
            tasks
                .completed_tasks
                .extend(executor.completed_tasks.iter().cloned());
        }
    }
    v1::agent::response::GetState {
        get_tasks: Some(tasks),
        get_executors: Some(executors),
        get_frameworks: Some(frameworks),
    }
}

fn to_json<M: prost_reflect::ReflectMessage>(m: &M) -> Value {
    drover_wire::json::to_json_value(m)
}

async fn state_json(
    State(state): State<AppState>,
    principal: Option<axum::Extension<Principal>>,
) -> Response {
    // `view_frameworks`, `view_executors`, `view_tasks` (`--acls`): filtered as Mesos did.
    let s = state.visible_snapshot(principal.as_ref().map(|axum::Extension(p)| p));
    let info = &s.agent_info;
    let frameworks: Vec<Value> = s.frameworks.iter().map(framework_json).collect();
    let completed_frameworks: Vec<Value> =
        s.completed_frameworks.iter().map(framework_json).collect();
    let attributes: serde_json::Map<String, Value> = info
        .attributes
        .iter()
        .map(|a| {
            (
                a.name.clone(),
                to_json(a)
                    .get("text")
                    .and_then(|t| t.get("value"))
                    .cloned()
                    .or_else(|| {
                        to_json(a)
                            .get("scalar")
                            .and_then(|t| t.get("value"))
                            .cloned()
                    })
                    .unwrap_or(Value::Null),
            )
        })
        .collect();
    // Mesos' agent showed its reservations (static and dynamic, volumes included) by role.
    let mut reserved: std::collections::BTreeMap<String, Vec<v1::Resource>> = Default::default();
    let mut unreserved = Vec::new();
    for r in &info.resources {
        if drover_core::resources::is_reserved(r) {
            reserved
                .entry(drover_core::resources::reservation_role(r).to_owned())
                .or_default()
                .push(r.clone());
        } else {
            unreserved.push(r.clone());
        }
    }
    let mut body = json!({
        "version": MESOS_VERSION,
        "build_date": "",
        "build_time": 0,
        "build_user": "",
        "start_time": state.start_time,
        "id": info.id.as_ref().map(|i| i.value.clone()).unwrap_or_default(),
        "pid": format!("slave(1)@{}", state.endpoint),
        "hostname": info.hostname,
        "resources": summary(&info.resources),
        "reserved_resources": reserved.iter().map(|(role, list)| (role.clone(), summary(list))).collect::<serde_json::Map<String, Value>>(),
        "reserved_resources_full": reserved.iter().map(|(role, list)| (role.clone(), Value::Array(list.iter().map(to_json).collect()))).collect::<serde_json::Map<String, Value>>(),
        "unreserved_resources": summary(&unreserved),
        "unreserved_resources_full": unreserved.iter().map(to_json).collect::<Vec<Value>>(),
        "attributes": attributes,
        "master_hostname": "",
        "flags": state.flags.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<String, Value>>(),
        "frameworks": frameworks,
        "completed_frameworks": completed_frameworks,
    });
    // Only while the agent drains, as Mesos' agent showed them.
    if let Some((config, started_ms)) = &s.drain {
        body["drain_config"] = to_json(config);
        body["estimated_drain_start_time_seconds"] = json!(*started_ms as f64 / 1000.0);
    }
    axum::Json(body).into_response()
}

/// A framework in `/state`: its live executors and the ended ones Mesos keeps showing
/// (with their sandbox directories), both bounded by the core.
fn framework_json(f: &drover_core::agent::FrameworkView) -> Value {
    json!({
        "id": f.info.id.as_ref().map(|i| i.value.clone()).unwrap_or_default(),
        "name": f.info.name,
        "user": f.info.user,
        "checkpoint": f.info.checkpoint.unwrap_or(false),
        "executors": f.executors.iter().map(executor_json).collect::<Vec<_>>(),
        "completed_executors": f.completed_executors.iter().map(executor_json).collect::<Vec<_>>(),
    })
}

fn executor_json(e: &drover_core::agent::ExecutorView) -> Value {
    json!({
        "id": e.info.executor_id.value,
        "name": e.info.name.clone().unwrap_or_default(),
        "container": e.container_id,
        "directory": e.directory,
        "resources": summary(&e.info.resources),
        "tasks": e.tasks.iter().map(task_json).collect::<Vec<_>>(),
        "queued_tasks": e.queued_tasks.iter().map(task_json).collect::<Vec<_>>(),
        "completed_tasks": e.completed_tasks.iter().map(task_json).collect::<Vec<_>>(),
    })
}

fn task_json(t: &v1::Task) -> Value {
    json!({
        "id": t.task_id.value,
        "name": t.name,
        "framework_id": t.framework_id.value,
        "executor_id": t.executor_id.as_ref().map(|e| e.value.clone()).unwrap_or_default(),
        "slave_id": t.agent_id.value,
        "state": v1::TaskState::try_from(t.state).map(|s| s.as_str_name()).unwrap_or("TASK_STAGING"),
        "resources": summary(&t.resources),
        "statuses": t.statuses.iter().map(to_json).collect::<Vec<_>>(),
    })
}

fn summary(resources: &[v1::Resource]) -> Value {
    let mut out = serde_json::Map::new();
    for name in ["cpus", "gpus", "mem", "disk"] {
        out.insert(
            name.into(),
            json!(drover_core::agent::model::scalar(resources, name)),
        );
    }
    for r in resources {
        if let Some(ranges) = &r.ranges {
            let text = ranges
                .range
                .iter()
                .map(|x| format!("{}-{}", x.begin, x.end))
                .collect::<Vec<_>>()
                .join(", ");
            out.insert(r.name.clone(), json!(format!("[{text}]")));
        }
    }
    Value::Object(out)
}

async fn metrics(
    State(state): State<AppState>,
    principal: Option<axum::Extension<Principal>>,
) -> Response {
    if let Err(refused) = endpoint_allowed(&state, principal.as_ref(), "/metrics/snapshot") {
        return refused.into_response();
    }
    let s = state.driver.snapshot.borrow().clone();
    let mut counts: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    let mut executors = 0u64;
    for f in &s.frameworks {
        for e in &f.executors {
            executors += 1;
            for t in e.tasks.iter().chain(e.queued_tasks.iter()) {
                let name = v1::TaskState::try_from(t.state)
                    .map(|s| s.as_str_name())
                    .unwrap_or("TASK_STAGING");
                *counts.entry(name).or_default() += 1;
            }
        }
    }
    let mut body = serde_json::Map::new();
    for state_name in [
        "staging", "starting", "running", "killing", "finished", "failed", "killed", "lost",
    ] {
        let key = format!("TASK_{}", state_name.to_uppercase());
        body.insert(
            format!("slave/tasks_{state_name}"),
            json!(counts.get(key.as_str()).copied().unwrap_or(0) as f64),
        );
    }
    body.insert(
        "slave/registered".into(),
        json!(if s.registered { 1.0 } else { 0.0 }),
    );
    body.insert(
        "slave/uptime_secs".into(),
        json!(state.started.elapsed().as_secs_f64()),
    );
    body.insert("slave/executors_running".into(), json!(executors as f64));
    body.insert(
        "slave/frameworks_active".into(),
        json!(s.frameworks.len() as f64),
    );
    body.insert(
        "slave/status_updates_pending".into(),
        json!(s.pending_updates as f64),
    );
    axum::Json(Value::Object(body)).into_response()
}

#[derive(Debug, serde::Deserialize)]
struct FileQuery {
    path: String,
    offset: Option<i64>,
    length: Option<i64>,
}

/// The virtual path of the agent's own log.
pub const LOG_PATH: &str = "/slave/log";

/// Resolves a `/files` path to a file inside an executor sandbox (see
/// `files_api::resolve_in_sandbox`); anything else is a 404, as Mesos answers for a path it
/// has not attached.
pub(crate) fn resolve(work_dir: &Path, path: &str) -> Result<PathBuf, HttpError> {
    crate::files_api::resolve_in_sandbox(work_dir, path)
}

/// `get_endpoints` for a GET of `path`: Ok, or 403 naming the principal and the path.
pub(crate) fn endpoint_allowed(
    state: &AppState,
    principal: Option<&axum::Extension<Principal>>,
    path: &str,
) -> Result<(), HttpError> {
    let Some(rules) = &state.get_endpoints else {
        return Ok(());
    };
    let name = principal.map(|p| p.0.0.as_str());
    if rules.allows(name, path) {
        return Ok(());
    }
    Err(HttpError::new(
        StatusCode::FORBIDDEN,
        format!(
            "Not authorized to GET {path} as principal '{}' (get_endpoints)",
            name.unwrap_or("ANY")
        ),
    ))
}

/// Resolves a `/files` or READ_FILE path as [`resolve`] does and checks `access_sandboxes`:
/// may `principal` read the sandbox of this executor, whose user is its command's or its
/// framework's? 403 naming both when not.
pub(crate) fn authorized_path(
    state: &AppState,
    principal: Option<&Principal>,
    path: &str,
) -> Result<PathBuf, HttpError> {
    // The agent's own log (`--log_dir`), attached as Mesos' agent attached it.
    if path.trim_end_matches('/') == LOG_PATH {
        let Some(log) = drover_http::logging::log_file() else {
            return Err(HttpError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "No file or directory '{path}': the agent runs without --log_dir, so it keeps \
                     no log file"
                ),
            ));
        };
        state.authorize_switch(principal, "access_mesos_logs", "read the agent's log")?;
        return Ok(log.to_path_buf());
    }
    let resolved = resolve(&state.work_dir, path)?;
    let Some(rules) = &state.access_sandboxes else {
        return Ok(resolved);
    };
    let owner = crate::files_api::sandbox_owner(&state.work_dir, &resolved);
    let user = owner.as_ref().and_then(|(fid, eid)| {
        let snapshot = state.driver.snapshot.borrow();
        snapshot
            .frameworks
            .iter()
            .chain(&snapshot.completed_frameworks)
            .filter(|f| f.info.id.as_ref().is_some_and(|id| &id.value == fid))
            .find_map(|f| {
                f.executors
                    .iter()
                    .chain(&f.completed_executors)
                    .find(|e| &e.info.executor_id.value == eid)
                    .map(|e| {
                        e.info
                            .command
                            .as_ref()
                            .and_then(|c| c.user.clone())
                            .unwrap_or_else(|| f.info.user.clone())
                    })
            })
    });
    let name = principal.map(|p| p.0.as_str());
    if rules.allows_object(name, user.as_deref()) {
        return Ok(resolved);
    }
    Err(HttpError::new(
        StatusCode::FORBIDDEN,
        format!(
            "Principal '{}' is not authorized to access the sandbox of executor '{}' (user '{}')",
            name.unwrap_or("ANY"),
            owner.map(|(_, e)| e).unwrap_or_default(),
            user.unwrap_or_default()
        ),
    ))
}

async fn files_browse(
    State(state): State<AppState>,
    principal: Option<axum::Extension<Principal>>,
    Query(q): Query<FileQuery>,
) -> Result<Response, HttpError> {
    let principal = principal.map(|axum::Extension(p)| p);
    use std::os::unix::fs::MetadataExt;
    let dir = authorized_path(&state, principal.as_ref(), &q.path)?;
    let mut out = Vec::new();
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        HttpError::new(
            StatusCode::NOT_FOUND,
            format!("Cannot browse '{}': {e}", q.path),
        )
    })?;
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        out.push(json!({
            "path": entry.path().display().to_string(),
            "nlink": meta.nlink(),
            "size": meta.len(),
            "mtime": meta.mtime(),
            "mode": format!("{:o}", meta.mode()),
            "uid": meta.uid().to_string(),
            "gid": meta.gid().to_string(),
        }));
    }
    Ok(axum::Json(Value::Array(out)).into_response())
}

async fn files_read(
    State(state): State<AppState>,
    principal: Option<axum::Extension<Principal>>,
    Query(q): Query<FileQuery>,
) -> Result<Response, HttpError> {
    let principal = principal.map(|axum::Extension(p)| p);
    use std::io::{Read, Seek, SeekFrom};
    let _permit = crate::files_api::read_permit()?;
    let path = authorized_path(&state, principal.as_ref(), &q.path)?;
    if path.is_dir() {
        // Mesos answers 400 here; reading a directory's bytes is an error of the request.
        return Err(HttpError::bad_request(format!(
            "Cannot read '{}': it is a directory (browse it with /files/browse)",
            q.path
        )));
    }
    let mut file = std::fs::File::open(&path).map_err(|e| {
        HttpError::new(
            StatusCode::NOT_FOUND,
            format!("Cannot read '{}': {e}", q.path),
        )
    })?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let offset = q.offset.unwrap_or(-1);
    if offset < 0 {
        // Mesos: without an offset (or -1) the answer is the file's size and no data.
        return Ok(axum::Json(json!({"data": "", "offset": size})).into_response());
    }
    let offset = (offset as u64).min(size);
    let length = q
        .length
        .filter(|l| *l >= 0)
        .map_or(size - offset, |l| (l as u64).min(size - offset));
    let length = length.min(16 * 1024 * 1024);
    let mut data = vec![0; length as usize];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut data))
        .map_err(|e| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(
        axum::Json(json!({"data": String::from_utf8_lossy(&data), "offset": offset}))
            .into_response(),
    )
}

async fn files_download(
    State(state): State<AppState>,
    principal: Option<axum::Extension<Principal>>,
    Query(q): Query<FileQuery>,
) -> Result<Response, HttpError> {
    let principal = principal.map(|axum::Extension(p)| p);
    let _permit = crate::files_api::read_permit()?;
    let path = authorized_path(&state, principal.as_ref(), &q.path)?;
    if path.is_dir() {
        return Err(HttpError::bad_request(format!(
            "Cannot download '{}': it is a directory",
            q.path
        )));
    }
    let data = tokio::fs::read(&path).await.map_err(|e| {
        HttpError::new(
            StatusCode::NOT_FOUND,
            format!("Cannot download '{}': {e}", q.path),
        )
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut response = (StatusCode::OK, data).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("attachment; filename={name}")) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
