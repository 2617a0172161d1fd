//! The operator API's nested-container calls on the agent (`/api/v1`):
//! `LAUNCH_NESTED_CONTAINER_SESSION` (the command's output streamed back on the same
//! connection), `LAUNCH_NESTED_CONTAINER`, `WAIT_`/`KILL_`/`REMOVE_NESTED_CONTAINER` (and their
//! Mesos 1.5 names `LAUNCH_`/`WAIT_`/`KILL_`/`REMOVE_CONTAINER` for nested ids),
//! `ATTACH_CONTAINER_OUTPUT` (a stream) and `ATTACH_CONTAINER_INPUT` (a streamed request).
//! The containers themselves are [`crate::nested`]'s.
//!
//! Streams are RecordIO: with `Accept: application/recordio` each record is encoded as
//! `Message-Accept` says (JSON by default) and the answer carries `Message-Content-Type`; an
//! `Accept` of JSON or protobuf gets RecordIO records of that encoding, as Mesos' first
//! versions of these calls answered.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use drover_http::auth::Principal;
use drover_http::server::{self as hs, HttpError};
use drover_wire::codec::Encoding;
use drover_wire::v1;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::AppState;
use crate::nested::{Ended, Launch, NestedError};
use crate::switchboard;

/// `application/recordio`.
pub const APPLICATION_RECORDIO: &str = "application/recordio";

/// How often an idle output stream carries a heartbeat (Mesos' `--http_heartbeat_interval`).
const HEARTBEAT: Duration = Duration::from_secs(30);

/// An input stream that sends nothing (not even a heartbeat) this long is closed.
const INPUT_IDLE: Duration = Duration::from_secs(30 * 60);

/// The default terminal of a TTY without a window size.
const DEFAULT_WINDOW: (u16, u16) = (24, 80);

/// The seven ACL kinds of Mesos' agent for these calls (principal → the nested container's
/// user).
pub const ACL_KINDS: [&str; 7] = [
    "launch_nested_container_sessions",
    "launch_nested_containers",
    "attach_container_input",
    "attach_container_output",
    "kill_nested_containers",
    "wait_nested_containers",
    "remove_nested_containers",
];

fn refusal(error: NestedError) -> HttpError {
    let status = match &error {
        NestedError::BadRequest(_) => StatusCode::BAD_REQUEST,
        NestedError::NotFound(_) => StatusCode::NOT_FOUND,
        NestedError::Conflict(_) => StatusCode::CONFLICT,
        NestedError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        NestedError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    HttpError::new(status, error.message().to_owned())
}

fn missing(field: &str) -> HttpError {
    HttpError::bad_request(format!(
        "Failed to validate agent::Call: Expecting '{field}' to be present"
    ))
}

/// The nested id of a call: it must name a parent (top-level containers are the agent's). Two
/// levels at most: a default executor's task, and a session (`task exec`) inside it.
fn nested_id(id: &v1::ContainerId) -> Result<(String, String), HttpError> {
    let Some(parent) = id.parent.as_deref() else {
        return Err(HttpError::bad_request(format!(
            "Container {} has no parent: only nested containers (with 'container_id.parent') \
             can be managed through this call; standalone containers are not supported",
            id.value
        )));
    };
    if parent.parent.as_deref().is_some_and(|p| p.parent.is_some()) {
        return Err(HttpError::bad_request(
            "Containers nested more than two levels deep are not supported",
        ));
    }
    crate::containerizer::ContainerId::new(id.value.clone())
        .map_err(|_| HttpError::bad_request(format!("Invalid container id {:?}", id.value)))?;
    Ok((id.value.clone(), parent.value.clone()))
}

/// Who makes a nested-container call.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// An operator, authenticated as this principal (or not at all).
    Operator(Option<&'a Principal>),
    /// An executor, by its token (`--authenticate_http_executors`): it may act on nested
    /// containers of its own container only, which [`own_container`] checks first, and the
    /// ACLs do not apply (Mesos' authorizer allowed an executor its own container).
    Executor(&'a crate::executor_auth::Claims),
}

/// Whether `id` is nested (at any depth) in the container `claims` name.
pub fn own_container(claims: &crate::executor_auth::Claims, id: &v1::ContainerId) -> bool {
    let mut root = id;
    while let Some(parent) = root.parent.as_deref() {
        root = parent;
    }
    id.parent.is_some() && root.value == claims.cid
}

/// `caller` may do `kind` on a nested container running as `user`, or 403.
fn authorize(
    state: &AppState,
    caller: Caller<'_>,
    kind: &str,
    user: &str,
) -> Result<(), HttpError> {
    let principal = match caller {
        Caller::Operator(principal) => principal,
        Caller::Executor(_) => return Ok(()),
    };
    let Some(acls) = &state.nested_acls else {
        return Ok(());
    };
    let name = principal.map(|p| p.0.as_str());
    if acls.get(kind).is_none_or(|rules| rules.allows(name, user)) {
        return Ok(());
    }
    Err(HttpError::new(
        StatusCode::FORBIDDEN,
        format!(
            "Not authorized ({kind}) as principal '{}' for containers of user '{user}'",
            name.unwrap_or("ANY")
        ),
    ))
}

/// The encodings of a streamed answer: the `Content-Type`, and how each record is encoded.
fn stream_encoding(headers: &HeaderMap) -> Result<(&'static str, Encoding), HttpError> {
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    if drover_wire::codec::accepts_media_type(accept, APPLICATION_RECORDIO)
        && accept.is_some_and(|a| a.contains(APPLICATION_RECORDIO))
    {
        let message = headers.get("message-accept").and_then(|v| v.to_str().ok());
        let encoding = Encoding::from_accept(message)?;
        return Ok((APPLICATION_RECORDIO, encoding));
    }
    let encoding = Encoding::from_accept(accept)?;
    Ok((encoding.media_type(), encoding))
}

/// Whether the request is a stream of records (`ATTACH_CONTAINER_INPUT`).
pub fn is_stream(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().starts_with(APPLICATION_RECORDIO))
}

/// The user a nested container runs as: the command's, else the owner of the parent's
/// sandbox (who the parent's tasks run as). `None` when the agent cannot switch users.
async fn nested_user(
    command_user: Option<String>,
    sandbox: std::path::PathBuf,
) -> Result<(String, Option<crate::containerizer::UserInfo>), HttpError> {
    tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::MetadataExt;
        let name = match command_user.filter(|u| !u.is_empty()) {
            Some(user) => user,
            None => {
                let uid = std::fs::metadata(&sandbox).map(|m| m.uid()).map_err(|e| {
                    HttpError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("the parent's sandbox: {e}"),
                    )
                })?;
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
                    .unwrap_or_else(|| uid.to_string())
            }
        };
        if !nix::unistd::geteuid().is_root() {
            return Ok((name, None));
        }
        let info = crate::containerizer::lookup_user(&name)
            .map_err(|e| HttpError::bad_request(format!("Cannot run as user '{name}': {e}")))?;
        Ok((name, Some(info)))
    })
    .await
    .map_err(|e| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// The image a nested container's `ContainerInfo` names (Mesos' `mesos.image`).
fn image_of(container: Option<&v1::ContainerInfo>) -> Option<&v1::Image> {
    container?.mesos.as_ref()?.image.as_ref()
}

/// What a command in an image runs, as `drover rootfs-launch` takes it: `shell VALUE`,
/// `exec VALUE ARGV…` or, without a value, `image ARGS…` (the image's entrypoint).
fn image_form(command: &v1::CommandInfo) -> Vec<String> {
    let value = command.value.clone().unwrap_or_default();
    if command.shell.unwrap_or(true) {
        vec!["shell".into(), value]
    } else if value.is_empty() {
        std::iter::once("image".to_owned())
            .chain(command.arguments.iter().cloned())
            .collect()
    } else {
        ["exec".to_owned(), value]
            .into_iter()
            .chain(command.arguments.iter().cloned())
            .collect()
    }
}

/// What the command runs: argv from `CommandInfo` (Mesos' rules for `shell`).
fn argv_of(command: &v1::CommandInfo) -> Result<Vec<String>, HttpError> {
    if !command.uris.is_empty() {
        return Err(HttpError::bad_request(
            "'command.uris' are not supported for nested containers (nothing is fetched into \
             the parent's sandbox)",
        ));
    }
    let value = command.value.clone().unwrap_or_default();
    if command.shell.unwrap_or(true) {
        if value.is_empty() {
            return Err(missing("command.value"));
        }
        return Ok(vec!["/bin/sh".into(), "-c".into(), value]);
    }
    if value.is_empty() {
        return Err(missing("command.value"));
    }
    let mut argv = vec![value];
    argv.extend(command.arguments.iter().skip(1).cloned());
    Ok(argv)
}

/// The terminal a `ContainerInfo` asks for; anything else it asks for is refused by name.
fn tty_of(container: Option<&v1::ContainerInfo>) -> Result<Option<(u16, u16)>, HttpError> {
    let Some(c) = container else { return Ok(None) };
    let refuse = |field: &str, why: &str| {
        Err(HttpError::bad_request(format!(
            "'container.{field}' is not supported for nested containers: {why}"
        )))
    };
    if c.r#type != v1::container_info::Type::Mesos as i32 {
        return refuse(
            "type",
            "only MESOS (a nested container shares its parent's)",
        );
    }
    if !c.volumes.is_empty() {
        return refuse("volumes", "nested containers see their parent's sandbox");
    }
    if !c.network_infos.is_empty() || c.hostname.is_some() {
        return refuse(
            "network_infos",
            "nested containers share their parent's network",
        );
    }
    if c.linux_info.is_some() || c.rlimit_info.is_some() || c.docker.is_some() {
        return refuse(
            "linux_info/rlimit_info/docker",
            "only 'type: MESOS', 'mesos.image' and 'tty_info' are honoured",
        );
    }
    Ok(c.tty_info.as_ref().map(|t| {
        t.window_size
            .as_ref()
            .map(|w| {
                (
                    w.rows.clamp(1, u16::MAX as u32) as u16,
                    w.columns.clamp(1, u16::MAX as u32) as u16,
                )
            })
            .unwrap_or(DEFAULT_WINDOW)
    }))
}

/// The environment of a nested command: a base, then the call's variables; `SECRET` ones are
/// resolved from the agent's secret store (`--secrets_dir`) as for any container (a default
/// executor's task's secrets reach only that task's container).
fn env_of(
    command: &v1::CommandInfo,
    sandbox: &std::path::Path,
    user: Option<&crate::containerizer::UserInfo>,
    tty: bool,
    secrets_dir: Option<&std::path::Path>,
) -> Result<Vec<(String, String)>, HttpError> {
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("MESOS_SANDBOX".into(), sandbox.display().to_string()),
    ];
    if let Some(user) = user {
        env.push(("HOME".into(), user.home.display().to_string()));
        env.push(("USER".into(), user.name.clone()));
    }
    if tty {
        env.push(("TERM".into(), "xterm".into()));
    }
    for variable in command.environment.iter().flat_map(|e| &e.variables) {
        let value = if variable.r#type == Some(v1::environment::variable::Type::Secret as i32) {
            let secret = variable.secret.clone().unwrap_or_default();
            crate::secrets::resolve(secrets_dir, &variable.name, &secret)
                .map_err(HttpError::bad_request)?
        } else {
            variable.value.clone().unwrap_or_default()
        };
        env.retain(|(name, _)| *name != variable.name);
        env.push((variable.name.clone(), value));
    }
    Ok(env)
}

/// The limits `LAUNCH_CONTAINER`'s `resources` give a nested container's own cgroup: `cpus`
/// (shares, and a CFS quota with `--cgroups_enable_cfs`) and `mem`. `disk` is accepted as
/// part of its parent's (the nested sandbox lies inside the parent's, whose quota counts it)
/// and `ports` as its parent's (it shares the parent's network); anything else is refused by
/// name. `None` for no resources.
pub fn limits_of(
    resources: &[v1::Resource],
) -> Result<Option<crate::containerizer::Limits>, HttpError> {
    if resources.is_empty() {
        return Ok(None);
    }
    let mut limits = crate::containerizer::Limits::default();
    for resource in resources {
        let scalar = resource.scalar.as_ref().map(|s| s.value);
        match (resource.name.as_str(), scalar) {
            ("cpus", Some(v)) if v.is_finite() && v > 0.0 => limits.cpus += v,
            ("mem", Some(v)) if v.is_finite() && v > 0.0 => limits.mem_mb += v.ceil() as u64,
            ("disk", Some(v)) if v.is_finite() && v >= 0.0 => {}
            ("ports", _) if resource.ranges.is_some() => {}
            (name @ ("cpus" | "mem" | "disk"), _) => {
                return Err(HttpError::bad_request(format!(
                    "Invalid resource '{name}' in 'launch_container.resources': expecting a \
                     positive scalar"
                )));
            }
            (name, _) => {
                return Err(HttpError::bad_request(format!(
                    "Resource '{name}' in 'launch_container.resources' is not supported for \
                     nested containers (only cpus, mem, disk and ports)"
                )));
            }
        }
    }
    Ok(Some(limits))
}

/// LAUNCH_NESTED_CONTAINER[_SESSION] and LAUNCH_CONTAINER with a parent.
#[allow(clippy::too_many_arguments)]
pub async fn launch(
    state: &AppState,
    caller: Caller<'_>,
    headers: &HeaderMap,
    container_id: &v1::ContainerId,
    command: Option<&v1::CommandInfo>,
    container: Option<&v1::ContainerInfo>,
    session: bool,
    limits: Option<crate::containerizer::Limits>,
) -> Result<Response, HttpError> {
    let (id, parent_id) = nested_id(container_id)?;
    let command = command.ok_or_else(|| missing("command"))?;
    let stream = if session {
        Some(stream_encoding(headers)?)
    } else {
        None
    };
    let image = image_of(container);
    let mut argv = if image.is_some() {
        if !command.uris.is_empty() {
            return Err(HttpError::bad_request(
                "'command.uris' are not supported for nested containers (nothing is fetched \
                 into the parent's sandbox)",
            ));
        }
        Vec::new()
    } else {
        argv_of(command)?
    };
    let tty = tty_of(container)?;
    let provisioner = match (image, &state.provisioner) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(HttpError::bad_request(
                "'container.mesos.image': container images are not enabled on this agent \
                 (start it with --image_providers=docker)",
            ));
        }
        (Some(_), Some(_))
            if session
                || container_id
                    .parent
                    .as_ref()
                    .and_then(|p| p.parent.as_ref())
                    .is_some() =>
        {
            return Err(HttpError::bad_request(
                "'container.mesos.image' is supported for nested containers of an executor's \
                 container (not for sessions or deeper nesting)",
            ));
        }
        (Some(_), Some(p)) => Some(p.clone()),
    };
    // A container nested in a nested one (a session in a default executor's task) shares the
    // top-level container's namespaces and sits in the middle one's cgroups and sandbox.
    let grandparent = container_id
        .parent
        .as_deref()
        .and_then(|p| p.parent.as_deref())
        .map(|g| g.value.clone());
    let nested_parent = match &grandparent {
        Some(top) => Some(
            state
                .nested
                .get(&parent_id)
                .filter(|e| &e.parent == top && e.ended().is_none())
                .ok_or_else(|| {
                    HttpError::new(
                        StatusCode::NOT_FOUND,
                        format!("Parent container {parent_id} cannot be found or has ended"),
                    )
                })?,
        ),
        None => None,
    };
    let top_id = grandparent.unwrap_or_else(|| parent_id.clone());
    let parent = state
        .driver
        .containers
        .borrow()
        .iter()
        .find(|(cid, _)| cid.as_str() == top_id)
        .map(|(_, c)| c.clone())
        .ok_or_else(|| {
            HttpError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "Parent container {top_id} cannot be found (nested containers run only \
                     in a running executor's MESOS container; Docker containers have none)"
                ),
            )
        })?;
    let parent_sandbox = match &nested_parent {
        Some(entry) => entry.sandbox.clone(),
        None => parent.checkpoint().sandbox_dir.clone(),
    };
    let (user_name, user) = nested_user(command.user.clone(), parent_sandbox.clone()).await?;
    let kind = if session {
        "launch_nested_container_sessions"
    } else {
        "launch_nested_containers"
    };
    authorize(state, caller, kind, &user_name)?;
    // A session works in its parent's sandbox (what `task exec` means); any other nested
    // container gets its own, `containers/<id>` in it, with its `stdout` and `stderr`, readable
    // through `/files` like the parent's.
    let sandbox = if session {
        parent_sandbox.clone()
    } else {
        let dir = parent_sandbox.join("containers").join(&id);
        // A default executor links `containers/<id>` to its task's sandbox; whatever it is, it
        // must stay inside the parent's sandbox (the switchboard writes the logs there).
        if dir.exists() {
            let inside = std::fs::canonicalize(&dir)
                .ok()
                .zip(std::fs::canonicalize(&parent_sandbox).ok())
                .is_some_and(|(dir, sandbox)| dir.starts_with(&sandbox) && dir.is_dir());
            if !inside {
                return Err(HttpError::bad_request(format!(
                    "The nested container's sandbox {} is not a directory inside its parent's \
                     sandbox",
                    dir.display()
                )));
            }
        }
        if state.nested.get(&id).is_none() && !dir.exists() {
            let owner = user.as_ref().map(|u| (u.uid, u.gid));
            let made = std::fs::create_dir_all(&dir).and_then(|()| match owner {
                Some((uid, gid)) => std::os::unix::fs::chown(&dir, Some(uid), Some(gid)),
                None => Ok(()),
            });
            made.map_err(|e| {
                HttpError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "creating the nested container's sandbox {}: {e}",
                        dir.display()
                    ),
                )
            })?;
        }
        dir
    };
    let mut env = env_of(
        command,
        &sandbox,
        user.as_ref(),
        tty.is_some(),
        state.secrets_dir.as_deref(),
    )?;
    // A container image (a pod's container): the agent provisions its root filesystem, and
    // the switchboard starts `drover rootfs-launch`, which enters it and becomes the task's
    // user (so the switchboard's child stays root until then).
    let mut user = user;
    if let (Some(provisioner), Some(image)) = (&provisioner, image) {
        let container = container.cloned().unwrap_or_default();
        let config = crate::provisioner::launch::prepare(
            provisioner,
            crate::provisioner::launch::Request {
                id: &id,
                sandbox: &sandbox,
                user: user.as_ref().map(|u| u.name.as_str()),
                container: &container,
                image,
                secrets_dir: state.secrets_dir.as_deref(),
                nested: true,
            },
            &mut env,
        )
        .await;
        let config = match config {
            Ok(config) => config,
            Err(message) => {
                provisioner.destroy(&id).await;
                return Err(HttpError::bad_request(message));
            }
        };
        argv = [
            state.nested.launcher().display().to_string(),
            "rootfs-launch".to_owned(),
            config.display().to_string(),
            "--".to_owned(),
        ]
        .into_iter()
        .chain(image_form(command))
        .collect();
        user = None;
    }
    let entry = state
        .nested
        .launch(Launch {
            id: id.clone(),
            parent,
            user,
            user_name,
            argv,
            env,
            tty,
            session,
            log_dir: (!session).then(|| sandbox.clone()),
            sandbox,
            limits,
            nested_parent,
        })
        .await
        .map_err(refusal)?;
    let Some((content_type, encoding)) = stream else {
        return Ok(StatusCode::OK.into_response());
    };
    // The session's output, on this connection; closing it ends the command.
    let socket = match state.nested.attach(&entry.id, false).await {
        Ok(socket) => socket,
        Err(error) => {
            let _ = state.nested.kill(&entry.id, None);
            return Err(refusal(error));
        }
    };
    Ok(output_response(socket, content_type, encoding))
}

/// The container an attach names, and the user it runs as: a nested container, or a
/// top-level one launched with a TTY (whose terminal has a switchboard).
fn attach_target(state: &AppState, id: &v1::ContainerId) -> Result<(String, String), HttpError> {
    if id.parent.is_none() {
        let snapshot = state.driver.snapshot.borrow().clone();
        let user = snapshot.frameworks.iter().find_map(|f| {
            f.executors
                .iter()
                .find(|e| e.container_id == id.value)
                .map(|e| f.executor_user(e).to_owned())
        });
        if state.nested.has_terminal(&id.value) {
            return Ok((id.value.clone(), user.unwrap_or_default()));
        }
        return Err(match user {
            Some(_) => HttpError::bad_request(format!(
                "Container {} has no terminal to attach to: only containers launched with a \
                 TTY ('container.tty_info') and nested containers have an I/O switchboard",
                id.value
            )),
            None => not_found(&id.value),
        });
    }
    let (nested, _) = nested_id(id)?;
    let entry = state
        .nested
        .get(&nested)
        .ok_or_else(|| not_found(&nested))?;
    Ok((nested, entry.user.clone()))
}

/// ATTACH_CONTAINER_OUTPUT.
pub async fn attach_output(
    state: &AppState,
    caller: Caller<'_>,
    headers: &HeaderMap,
    container_id: &v1::ContainerId,
) -> Result<Response, HttpError> {
    let (content_type, encoding) = stream_encoding(headers)?;
    let (id, user) = attach_target(state, container_id)?;
    authorize(state, caller, "attach_container_output", &user)?;
    let socket = state.nested.attach(&id, false).await.map_err(refusal)?;
    Ok(output_response(socket, content_type, encoding))
}

fn not_found(id: &str) -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        format!("Container {id} cannot be found"),
    )
}

/// Relays the switchboard's records (protobuf) to the client in its encoding, with
/// heartbeats while the command is quiet.
fn output_response(
    mut socket: tokio::net::UnixStream,
    content_type: &'static str,
    encoding: Encoding,
) -> Response {
    let (tx, rx) = hs::stream_channel(64);
    tokio::spawn(async move {
        let mut decoder = drover_wire::recordio::Decoder::new(switchboard::MAX_RECORD_BYTES);
        let mut buf = vec![0u8; 32 * 1024];
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.reset();
        loop {
            tokio::select! {
                read = socket.read(&mut buf) => {
                    let n = match read {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let Ok(records) = decoder.feed(&buf[..n]) else { return };
                    for record in records {
                        let Ok(message) =
                            <v1::agent::ProcessIo as prost::Message>::decode(record)
                        else {
                            return;
                        };
                        if tx.send(hs::encode_message(&message, encoding)).await.is_err() {
                            return;
                        }
                    }
                    heartbeat.reset();
                }
                _ = heartbeat.tick() => {
                    let beat = v1::agent::ProcessIo {
                        r#type: Some(v1::agent::process_io::Type::Control as i32),
                        data: None,
                        control: Some(v1::agent::process_io::Control {
                            r#type: Some(v1::agent::process_io::control::Type::Heartbeat as i32),
                            tty_info: None,
                            heartbeat: Some(v1::agent::process_io::control::Heartbeat {
                                interval: Some(v1::DurationInfo {
                                    nanoseconds: HEARTBEAT.as_nanos() as i64,
                                }),
                            }),
                        }),
                    };
                    if tx.send(hs::encode_message(&beat, encoding)).await.is_err() {
                        return;
                    }
                }
                () = tx.closed() => return,
            }
        }
    });
    let mut response = hs::recordio_response(encoding, rx, &[]);
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if content_type == APPLICATION_RECORDIO {
        response.headers_mut().insert(
            HeaderName::from_static("message-content-type"),
            HeaderValue::from_static(encoding.media_type()),
        );
    }
    response
}

/// ATTACH_CONTAINER_INPUT: a RecordIO request of `agent::Call`s, the first naming the
/// container, the others carrying `process_io`. Answers once the input ended.
pub async fn attach_input(
    state: &AppState,
    caller: Caller<'_>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let message_type = headers
        .get("message-content-type")
        .and_then(|v| v.to_str().ok());
    let encoding = Encoding::from_content_type(Some(
        message_type.unwrap_or(drover_wire::codec::APPLICATION_JSON),
    ))?;
    let mut decoder = drover_wire::recordio::Decoder::new(switchboard::MAX_RECORD_BYTES);
    let mut body = body.into_data_stream();
    let mut pending: std::collections::VecDeque<Bytes> = Default::default();
    let mut next = async || -> Result<Option<v1::agent::Call>, HttpError> {
        loop {
            if let Some(record) = pending.pop_front() {
                return hs::decode_body(&record, encoding).map(Some);
            }
            let chunk = match tokio::time::timeout(INPUT_IDLE, body.next()).await {
                Err(_) => {
                    return Err(HttpError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "The input stream was idle too long",
                    ));
                }
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => return Err(HttpError::bad_request(e.to_string())),
                Ok(Some(Ok(chunk))) => chunk,
            };
            pending.extend(
                decoder
                    .feed(&chunk)
                    .map_err(|e| HttpError::bad_request(format!("RecordIO: {e}")))?,
            );
        }
    };
    let first = next()
        .await?
        .ok_or_else(|| missing("attach_container_input"))?;
    let attach = first
        .attach_container_input
        .filter(|_| first.r#type == Some(v1::agent::call::Type::AttachContainerInput as i32))
        .ok_or_else(|| {
            HttpError::bad_request(
                "The first record of a RecordIO request must be ATTACH_CONTAINER_INPUT",
            )
        })?;
    let container_id = attach
        .container_id
        .filter(|_| {
            attach.r#type == Some(v1::agent::call::attach_container_input::Type::ContainerId as i32)
        })
        .ok_or_else(|| {
            HttpError::bad_request(
                "The first ATTACH_CONTAINER_INPUT record must be of type CONTAINER_ID",
            )
        })?;
    let (id, user) = attach_target(state, &container_id)?;
    authorize(state, caller, "attach_container_input", &user)?;
    let mut socket = state.nested.attach(&id, true).await.map_err(refusal)?;
    while let Some(call) = next().await? {
        let Some(process_io) = call
            .attach_container_input
            .filter(|a| {
                a.r#type == Some(v1::agent::call::attach_container_input::Type::ProcessIo as i32)
            })
            .and_then(|a| a.process_io)
        else {
            return Err(HttpError::bad_request(
                "Records after the first must be ATTACH_CONTAINER_INPUT of type PROCESS_IO",
            ));
        };
        if socket
            .write_all(&switchboard::encode(&process_io))
            .await
            .is_err()
        {
            // The command ended (its switchboard closed the connection): input is moot.
            break;
        }
    }
    Ok(StatusCode::OK.into_response())
}

#[allow(deprecated)]
fn wait_response(ended: &Ended, legacy: bool) -> v1::agent::Response {
    let mut response = v1::agent::Response::default();
    if legacy {
        response.r#type = Some(v1::agent::response::Type::WaitNestedContainer as i32);
        response.wait_nested_container = Some(v1::agent::response::WaitNestedContainer {
            exit_status: ended.exit_status,
            state: ended.state.map(|s| s as i32),
            reason: ended.reason.map(|r| r as i32),
            limitation: None,
            message: ended.message.clone(),
        });
    } else {
        response.r#type = Some(v1::agent::response::Type::WaitContainer as i32);
        response.wait_container = Some(v1::agent::response::WaitContainer {
            exit_status: ended.exit_status,
            state: ended.state.map(|s| s as i32),
            reason: ended.reason.map(|r| r as i32),
            limitation: None,
            message: ended.message.clone(),
        });
    }
    response
}

/// WAIT_NESTED_CONTAINER / WAIT_CONTAINER.
pub async fn wait(
    state: &AppState,
    caller: Caller<'_>,
    container_id: &v1::ContainerId,
    legacy: bool,
    accept: Encoding,
) -> Result<Response, HttpError> {
    let (id, _) = nested_id(container_id)?;
    let entry = state.nested.get(&id).ok_or_else(|| not_found(&id))?;
    authorize(state, caller, "wait_nested_containers", &entry.user)?;
    let ended = state.nested.wait(&id).await.map_err(refusal)?;
    Ok(hs::message_response(&wait_response(&ended, legacy), accept))
}

/// KILL_NESTED_CONTAINER / KILL_CONTAINER.
pub fn kill(
    state: &AppState,
    caller: Caller<'_>,
    container_id: &v1::ContainerId,
    signal: Option<i32>,
) -> Result<Response, HttpError> {
    let (id, _) = nested_id(container_id)?;
    let entry = state.nested.get(&id).ok_or_else(|| not_found(&id))?;
    authorize(state, caller, "kill_nested_containers", &entry.user)?;
    state.nested.kill(&id, signal).map_err(refusal)?;
    Ok(StatusCode::OK.into_response())
}

/// REMOVE_NESTED_CONTAINER / REMOVE_CONTAINER.
pub fn remove(
    state: &AppState,
    caller: Caller<'_>,
    container_id: &v1::ContainerId,
) -> Result<Response, HttpError> {
    let (id, _) = nested_id(container_id)?;
    let entry = state.nested.get(&id).ok_or_else(|| not_found(&id))?;
    authorize(state, caller, "remove_nested_containers", &entry.user)?;
    state.nested.remove(&id).map_err(refusal)?;
    if let Some(provisioner) = state.provisioner.clone() {
        // Its image's root filesystem goes with it.
        tokio::spawn(async move { provisioner.destroy(&id).await });
    }
    Ok(StatusCode::OK.into_response())
}

/// The ACLs of these calls, from `--acls` (kind → rules).
pub type NestedAcls = std::collections::BTreeMap<String, drover_core::acl::Rules>;

/// Whether `kind` is one of these calls' ACL kinds.
pub fn is_acl_kind(kind: &str) -> bool {
    ACL_KINDS.contains(&kind)
}
