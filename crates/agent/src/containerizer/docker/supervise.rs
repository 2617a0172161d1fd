//! One Docker task's life through the daemon, in the terms the agent driver already uses for
//! command tasks: launch (image present or pulled, container created and started, its output
//! copied into the sandbox's `stdout`/`stderr`), then a [`Termination`] from the daemon's
//! inspection (exit code, `OOMKilled`), so the core's emission rows apply unchanged.

use std::path::Path;
use std::time::Duration;

use bollard::auth::DockerCredentials;

use super::client::{DockerClient, Exit, RunSpec};
use crate::containerizer::{ExitStatus, Termination};

/// Why a Docker task could not start: the text of its TASK_FAILED /
/// REASON_CONTAINER_LAUNCH_FAILED update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchFailure(pub String);

/// Pulls (as needed) and starts the container, and starts copying its output into the
/// sandbox; the copy ends by itself when the container stops.
pub async fn launch(
    docker: &DockerClient,
    spec: &RunSpec,
    force_pull: bool,
    credentials: Option<DockerCredentials>,
    pull_timeout: Duration,
    sandbox: &Path,
) -> Result<(), LaunchFailure> {
    docker
        .ensure_image(&spec.image, force_pull, credentials, pull_timeout)
        .await
        .map_err(|e| {
            LaunchFailure(format!(
                "Failed to launch container: Failed to pull image '{}': {e}",
                spec.image
            ))
        })?;
    docker
        .run(spec)
        .await
        .map_err(|e| LaunchFailure(format!("Failed to launch container: {e}")))?;
    let copier = docker.clone();
    let name = spec.name.clone();
    let (stdout, stderr) = (sandbox.join("stdout"), sandbox.join("stderr"));
    tokio::spawn(async move {
        if let Err(e) = copier.copy_logs(&name, &stdout, &stderr).await {
            tracing::warn!(container = %name, "copying the container's output stopped: {e}");
        }
    });
    Ok(())
}

/// After an agent restart: removes this agent's `mesos-*` containers whose names are not in
/// `known` (the checkpointed ones), as `--docker_kill_orphans` did. Only containers carrying
/// this agent's owner label are considered, so another agent's are never touched. The names
/// removed, or the first daemon error.
pub async fn remove_orphans(
    docker: &DockerClient,
    owner: &str,
    known: &std::collections::BTreeSet<String>,
) -> Result<Vec<String>, super::client::DockerError> {
    let mut removed = Vec::new();
    for name in docker
        .names_labelled(super::spec::OWNER_LABEL, owner)
        .await?
    {
        if name.starts_with(super::spec::NAME_PREFIX) && !known.contains(&name) {
            docker.remove(&name).await?;
            removed.push(name);
        }
    }
    removed.sort();
    Ok(removed)
}

/// The daemon's account of a stopped container as the agent's [`Termination`]. Docker folds a
/// signal into the exit code (128 + n); Mesos' Docker containerizer reported the code as an
/// exit status, and so does this.
pub fn termination(exit: &Exit, memory_limit_bytes: Option<i64>) -> Termination {
    let message = if exit.oom_killed {
        let limit = memory_limit_bytes.map_or_else(
            || "unknown".to_owned(),
            |b| format!("{}MB", b / (1024 * 1024)),
        );
        format!("Memory limit exceeded: Requested: {limit} Maximum Used: {limit}")
    } else if let Some(error) = &exit.error {
        format!("Container exited with status {}: {error}", exit.code)
    } else {
        format!("Container exited with status {}", exit.code)
    };
    Termination {
        status: match i32::try_from(exit.code) {
            Ok(code) if code >= 0 => ExitStatus::Exited(code),
            _ => ExitStatus::Unknown,
        },
        oom_killed: exit.oom_killed,
        message,
        // The kernel killed the container at its limit: its peak use is the limit.
        mem_max_usage_bytes: if exit.oom_killed {
            memory_limit_bytes.and_then(|b| u64::try_from(b).ok())
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_become_terminations_the_core_already_understands() {
        let ok = termination(
            &Exit {
                code: 0,
                oom_killed: false,
                error: None,
            },
            Some(64 << 20),
        );
        assert_eq!(ok.status, ExitStatus::Exited(0));
        assert!(!ok.oom_killed);
        assert_eq!(ok.message, "Container exited with status 0");

        let oom = termination(
            &Exit {
                code: 137,
                oom_killed: true,
                error: None,
            },
            Some(64 << 20),
        );
        assert!(oom.oom_killed);
        assert_eq!(
            oom.message,
            "Memory limit exceeded: Requested: 64MB Maximum Used: 64MB"
        );
        assert_eq!(oom.mem_max_usage_bytes, Some(64 << 20));

        let broken = termination(
            &Exit {
                code: 127,
                oom_killed: false,
                error: Some("exec: \"nope\": not found".into()),
            },
            None,
        );
        assert_eq!(broken.status, ExitStatus::Exited(127));
        assert!(broken.message.contains("not found"), "{}", broken.message);

        let unknown = termination(
            &Exit {
                code: -1,
                oom_killed: false,
                error: None,
            },
            None,
        );
        assert_eq!(unknown.status, ExitStatus::Unknown);
    }
}
