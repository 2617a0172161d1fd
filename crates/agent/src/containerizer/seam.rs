//! The containerizer seam: what the agent driver needs of one running container, whichever
//! containerizer launched it — its end ([`Running::wait`]), a kill with grace, the clean-up
//! after it, usage, and the record checkpointed to re-attach after an agent restart. The Mesos
//! containerizer's [`Container`] and the Docker containerizer's run
//! (`crate::docker_task::DockerRun`) both implement it.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::{Checkpoint, Container, ContainerId, ContainerStats, Termination};

/// A boxed future, so the trait can be used as `dyn Running`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which containerizer runs a container (the values of `--containerizers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The agent's own process isolation.
    Mesos,
    /// dockerd, through its API.
    Docker,
}

impl Kind {
    /// Parses `--containerizers` (`mesos,docker`): at least one, each once, in order.
    pub fn parse_list(text: &str) -> Result<Vec<Kind>, String> {
        let mut kinds = Vec::new();
        for name in text.split(',').map(str::trim) {
            let kind = match name {
                "mesos" => Kind::Mesos,
                "docker" => Kind::Docker,
                other => {
                    return Err(format!(
                        "--containerizers: unknown containerizer '{other}' (mesos, docker)"
                    ));
                }
            };
            if kinds.contains(&kind) {
                return Err(format!("--containerizers: '{name}' is listed twice"));
            }
            kinds.push(kind);
        }
        Ok(kinds)
    }
}

/// What the driver checkpoints at launch to find a container again after a restart.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A Mesos-containerizer container: its process and cgroups.
    Mesos(Checkpoint),
    /// A Docker container: found again by name.
    Docker(DockerRecord),
}

impl Record {
    /// The container's id.
    pub fn container_id(&self) -> &ContainerId {
        match self {
            Record::Mesos(c) => &c.container_id,
            Record::Docker(d) => &d.container_id,
        }
    }
}

/// The checkpoint of a Docker task.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerRecord {
    /// The Mesos container id.
    pub container_id: ContainerId,
    /// The daemon's container name (`mesos-<container id>`).
    pub name: String,
    /// The sandbox on the host.
    pub sandbox_dir: PathBuf,
    /// The memory limit applied, for the OOM message.
    pub mem_limit_bytes: Option<i64>,
}

/// One running (or ended) container, as the driver sees it.
pub trait Running: Send + Sync + std::fmt::Debug {
    /// Resolves once the container has ended (for a Docker task: once its supervision has
    /// reported the end), with how.
    fn wait(&self) -> BoxFuture<'_, Termination>;
    /// Asks it to stop: SIGTERM (or `docker stop`), SIGKILL after `grace`.
    fn kill(&self, grace: Duration) -> BoxFuture<'_, io::Result<()>>;
    /// Removes what is left once it ended (cgroups; a Docker container after
    /// `--docker_remove_delay`).
    fn destroy(&self) -> BoxFuture<'_, io::Result<()>>;
    /// Resource usage, for statistics and the OOM check (all `None` where unknown).
    fn stats(&self) -> ContainerStats;
    /// Bytes the sandbox holds, for the disk quota.
    fn sandbox_usage_bytes(&self) -> BoxFuture<'_, io::Result<u64>>;
    /// What to checkpoint.
    fn record(&self) -> Record;
    /// The Mesos-containerizer handle, for the endpoints that show process containers.
    fn mesos(&self) -> Option<Arc<Container>>;
}

/// The Mesos containerizer's container behind the seam.
#[derive(Debug)]
pub struct MesosRun(pub Arc<Container>);

impl Running for MesosRun {
    fn wait(&self) -> BoxFuture<'_, Termination> {
        Box::pin(self.0.wait())
    }

    fn kill(&self, grace: Duration) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move { self.0.kill(grace).await.map(|_| ()) })
    }

    fn destroy(&self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(self.0.destroy())
    }

    fn stats(&self) -> ContainerStats {
        self.0.stats()
    }

    fn sandbox_usage_bytes(&self) -> BoxFuture<'_, io::Result<u64>> {
        Box::pin(self.0.sandbox_usage_bytes())
    }

    fn record(&self) -> Record {
        Record::Mesos(self.0.checkpoint().clone())
    }

    fn mesos(&self) -> Option<Arc<Container>> {
        Some(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containerizer_lists() {
        assert_eq!(Kind::parse_list("mesos").unwrap(), vec![Kind::Mesos]);
        assert_eq!(
            Kind::parse_list("docker,mesos").unwrap(),
            vec![Kind::Docker, Kind::Mesos]
        );
        assert!(
            Kind::parse_list("mesos,mesos")
                .unwrap_err()
                .contains("twice")
        );
        assert!(Kind::parse_list("lxc").unwrap_err().contains("'lxc'"));
        assert!(Kind::parse_list("").is_err());
    }
}
