//! Where the driver meets the Docker containerizer: which containerizer takes a launch
//! (`--containerizers`), re-attaching a checkpointed Docker task after a restart, and the
//! orphan sweep (`--docker_kill_orphans`).

use std::collections::BTreeSet;
use std::sync::Arc;

use drover_core::agent::{LaunchSpec, Recovered};
use drover_wire::v1;
use tokio::sync::mpsc;

use super::DockerSettings;
use crate::containerizer::seam::{DockerRecord, Kind, Running};
use crate::driver::{Msg, Settings};

/// Which containerizer takes a launch: `Some` the Docker one, `None` the Mesos one, or why
/// none of `--containerizers` can (the launch-failed message).
pub fn pick(settings: &Settings, spec: &LaunchSpec) -> Result<Option<Arc<DockerSettings>>, String> {
    let docker_type = spec
        .executor_info
        .container
        .as_ref()
        .is_some_and(|c| c.r#type == v1::container_info::Type::Docker as i32);
    let listed = |kind| settings.containerizers.contains(&kind);
    if docker_type {
        return match (&settings.docker, listed(Kind::Docker)) {
            (Some(docker), true) => Ok(Some(docker.clone())),
            _ => Err(
                "Unsupported container.docker: the Docker containerizer is not enabled \
                      on this agent (--containerizers does not list docker)"
                    .to_owned(),
            ),
        };
    }
    // The Docker containerizer takes only containers with an image: whatever else is the
    // Mesos containerizer's, wherever it stands in the list (as in Mesos' composing
    // containerizer, where Docker declines what is not its own).
    if listed(Kind::Mesos) {
        Ok(None)
    } else {
        Err(
            "this task needs the Mesos containerizer, which --containerizers does not list \
             (the Docker containerizer runs only type DOCKER containers)"
                .to_owned(),
        )
    }
}

/// Re-attaches a checkpointed Docker task, its task found among the checkpointed ones. `None`
/// when its executor was not checkpointed, the container is gone or the daemon does not answer.
pub async fn recover_record(
    docker: Option<Arc<DockerSettings>>,
    record: DockerRecord,
    recovered: &Recovered,
    tx: mpsc::Sender<Msg>,
) -> Option<Arc<dyn Running>> {
    let docker = docker?;
    let executor = recovered
        .executors
        .iter()
        .find(|e| e.container_id.as_str() == record.container_id.as_str())?;
    let executor_id = &executor.info.executor_id.value;
    let task = recovered
        .tasks
        .iter()
        .rev()
        .find(|t| {
            t.framework_id.value == executor.framework_id.0
                && t.executor_id
                    .as_ref()
                    .map_or(&t.task_id.value == executor_id, |e| &e.value == executor_id)
        })
        .cloned();
    super::recover(
        docker,
        record,
        &executor.framework_id.0,
        executor_id,
        task,
        tx,
    )
    .await
}

/// Removes this agent's Docker containers other than `adopted` (the re-attached ones).
pub async fn sweep_orphans(docker: &DockerSettings, adopted: &BTreeSet<String>) {
    let removed = match docker.client() {
        Ok(client) => {
            crate::containerizer::docker::supervise::remove_orphans(&client, &docker.owner, adopted)
                .await
        }
        Err(error) => Err(error),
    };
    match removed {
        Ok(removed) => {
            for name in removed {
                tracing::info!(container = %name, "removed orphan Docker container");
            }
        }
        Err(error) => tracing::warn!(%error, "listing orphan Docker containers"),
    }
}
