//! The default executor's side of the agent's nested-container API (`POST /api/v1`): each task
//! of a group is launched as a nested container of the executor's own container
//! (`LAUNCH_CONTAINER` with the task's resources, so it gets its own child cgroup with the
//! task's limits), waited for (`WAIT_CONTAINER`, retried across an agent restart, which keeps
//! nested containers), signalled (`KILL_CONTAINER`) and removed once ended
//! (`REMOVE_CONTAINER`), as Mesos' default executor did.

use std::time::Duration;

use drover_wire::v1;
use drover_wire::v1::agent::call::Type;
use prost::Message;

use crate::client::{Client, SendError};

/// How a nested container ended, as `WAIT_CONTAINER` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waited {
    /// The command's raw wait status, when it ended by itself.
    pub exit_status: Option<i32>,
    /// The agent's own verdict, when it ended the container (its I/O switchboard died, its
    /// parent ended).
    pub state: Option<v1::TaskState>,
    /// Why, then.
    pub reason: Option<v1::task_status::Reason>,
    /// In words.
    pub message: Option<String>,
}

/// What a task's nested container runs: its command (with the complete environment, its URIs
/// already fetched by the agent, its secrets for the agent to resolve), as `user` (the
/// command's), with a terminal if it asks.
pub fn launch_call(
    id: v1::ContainerId,
    task: &v1::TaskInfo,
    command: &v1::CommandInfo,
    env: &[(String, String)],
) -> v1::agent::Call {
    use v1::environment::variable::Type as VarType;
    // The task's SECRET variables go as they are: the agent resolves them into this container
    // only (never into the executor's, which every task of the group shares).
    let secrets = command
        .environment
        .iter()
        .flat_map(|e| e.variables.iter())
        .filter(|v| v.r#type == Some(VarType::Secret as i32))
        .cloned();
    let command = v1::CommandInfo {
        uris: Vec::new(),
        environment: Some(v1::Environment {
            variables: env
                .iter()
                .filter(|(name, _)| {
                    !command
                        .environment
                        .iter()
                        .flat_map(|e| e.variables.iter())
                        .any(|v| v.r#type == Some(VarType::Secret as i32) && &v.name == name)
                })
                .map(|(name, value)| v1::environment::Variable {
                    name: name.clone(),
                    r#type: Some(VarType::Value as i32),
                    value: Some(value.clone()),
                    secret: None,
                })
                .chain(secrets)
                .collect(),
        }),
        ..command.clone()
    };
    // The sandbox volumes are the executor's business (it links or mounts them into the task's
    // sandbox first); of the rest a terminal and a container image (which the agent provisions
    // for the nested container, as Mesos' did for a pod's container) apply to it.
    let container = task
        .container
        .as_ref()
        .filter(|c| c.tty_info.is_some() || c.mesos.as_ref().is_some_and(|m| m.image.is_some()))
        .map(|c| v1::ContainerInfo {
            r#type: v1::container_info::Type::Mesos as i32,
            tty_info: c.tty_info,
            mesos: c.mesos.clone(),
            ..Default::default()
        });
    // `linux_info.share_cgroups: true` (Mesos' default) keeps the task in the executor's
    // limits only; otherwise (false, or unset) its own cgroup gets its resources as limits.
    let shared = task
        .container
        .as_ref()
        .and_then(|c| c.linux_info.as_ref())
        .and_then(|l| l.share_cgroups)
        == Some(true);
    v1::agent::Call {
        r#type: Some(Type::LaunchContainer as i32),
        launch_container: Some(v1::agent::call::LaunchContainer {
            container_id: id,
            command: Some(command),
            resources: if shared {
                Vec::new()
            } else {
                task.resources.clone()
            },
            container,
            limits: Default::default(),
        }),
        ..Default::default()
    }
}

/// Launches it; returns once its command runs.
pub async fn launch(client: &Client, call: &v1::agent::Call) -> Result<(), SendError> {
    client.operator(call).await.map(|_| ())
}

/// Waits until container `id` has ended. An agent that is down or restarting is waited for
/// (it keeps nested containers across a restart); a refusal (the container is unknown) is
/// the error.
pub async fn wait(client: &Client, id: &v1::ContainerId) -> Result<Waited, String> {
    let call = v1::agent::Call {
        r#type: Some(Type::WaitContainer as i32),
        wait_container: Some(v1::agent::call::WaitContainer {
            container_id: id.clone(),
        }),
        ..Default::default()
    };
    let mut backoff = Duration::from_millis(50);
    loop {
        match client.operator(&call).await {
            Ok(body) => {
                let response = v1::agent::Response::decode(body)
                    .map_err(|e| format!("Undecodable WAIT_CONTAINER answer: {e}"))?;
                let waited = response
                    .wait_container
                    .ok_or("WAIT_CONTAINER answered without 'wait_container'")?;
                return Ok(Waited {
                    exit_status: waited.exit_status,
                    state: waited.state.and_then(|s| v1::TaskState::try_from(s).ok()),
                    reason: waited
                        .reason
                        .and_then(|r| v1::task_status::Reason::try_from(r).ok()),
                    message: waited.message,
                });
            }
            Err(error) if error.is_transient() => {
                tracing::debug!(%error, container = %id.value, "waiting for the agent");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            Err(error) => return Err(format!("Failed to wait for the task's container: {error}")),
        }
    }
}

/// Sends `signal` to container `id`'s command (retried briefly while the agent restarts).
pub async fn kill(client: &Client, id: &v1::ContainerId, signal: i32) {
    let call = v1::agent::Call {
        r#type: Some(Type::KillContainer as i32),
        kill_container: Some(v1::agent::call::KillContainer {
            container_id: id.clone(),
            signal: Some(signal),
        }),
        ..Default::default()
    };
    for _ in 0..20 {
        match client.operator(&call).await {
            Err(error) if error.is_transient() => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(error) => {
                tracing::warn!(%error, container = %id.value, signal, "KILL_CONTAINER refused");
                return;
            }
            Ok(_) => return,
        }
    }
}

/// Forgets an ended container on the agent (its sandbox stays).
pub async fn remove(client: &Client, id: &v1::ContainerId) {
    let call = v1::agent::Call {
        r#type: Some(Type::RemoveContainer as i32),
        remove_container: Some(v1::agent::call::RemoveContainer {
            container_id: id.clone(),
        }),
        ..Default::default()
    };
    if let Err(error) = client.operator(&call).await {
        tracing::debug!(%error, container = %id.value, "REMOVE_CONTAINER failed");
    }
}
