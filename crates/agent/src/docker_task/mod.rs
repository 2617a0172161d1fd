//! Docker tasks, supervised by the agent itself: no executor process. A DOCKER command task's
//! "executor" is an in-process supervisor that speaks the Executor API to the agent core over
//! the driver's channel, exactly as `drover executor` does over HTTP (SUBSCRIBE, LAUNCH,
//! UPDATE, ACKNOWLEDGED, KILL, SHUTDOWN), so the core's rules, checkpoints and emission rows
//! apply unchanged. The image is made present before the "container" counts as launched (a
//! missing image is the agent's TASK_FAILED / REASON_CONTAINER_LAUNCH_FAILED); the daemon's
//! container is created on LAUNCH and watched until it stops. After an agent restart the
//! supervisor resubscribes and re-attaches to the container by name.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use drover_core::agent::LaunchSpec;
use drover_wire::v1;
use tokio::sync::{mpsc, watch};

use crate::containerizer::docker::client::{DockerClient, DockerError};
use crate::containerizer::docker::spec::NAME_PREFIX;
use crate::containerizer::seam::{BoxFuture, DockerRecord, Record, Running};
use crate::containerizer::{Container, ContainerId, ContainerStats, ExitStatus, Termination};
use crate::driver::Msg;

mod supervisor;
pub mod wiring;

use supervisor::Supervisor;

/// The Docker containerizer's settings (`--docker_*` flags) and its daemon client.
#[derive(Debug)]
pub struct DockerSettings {
    /// The daemon's socket.
    pub socket: PathBuf,
    /// Each daemon call's bound.
    pub call_timeout: Duration,
    /// The client, made once the socket exists (the daemon may start after the agent).
    pub client: std::sync::OnceLock<DockerClient>,
    /// `--docker_stop_timeout`: the grace of a kill without a kill policy.
    pub stop_timeout: Duration,
    /// `--docker_remove_delay`: how long a stopped container is kept (for `docker logs`).
    pub remove_delay: Duration,
    /// `--docker_kill_orphans`.
    pub kill_orphans: bool,
    /// The docker client config (`--docker_config`), for registry credentials.
    pub config_json: Option<String>,
    /// How long a pull may take.
    pub pull_timeout: Duration,
    /// The value of the owner label: this agent's work dir.
    pub owner: String,
    /// `--cgroups_enable_cfs`.
    pub cfs_quota: bool,
}

impl DockerSettings {
    /// The daemon's client; an error naming the socket while there is none there.
    pub fn client(&self) -> Result<DockerClient, DockerError> {
        if let Some(client) = self.client.get() {
            return Ok(client.clone());
        }
        let client = DockerClient::new(&self.socket, self.call_timeout)?;
        Ok(self.client.get_or_init(|| client).clone())
    }
}

/// What a supervisor needs to know of its task beyond the LAUNCH event.
#[derive(Debug, Clone)]
struct Plan {
    framework_id: String,
    executor_id: String,
    container_id: String,
    sandbox: PathBuf,
    cpus: f64,
    mem_mb: f64,
    env: Vec<(String, String)>,
    force_pull: bool,
    /// The persistent volumes bound into the container under its sandbox.
    volumes: Vec<drover_core::agent::VolumeUse>,
}

/// One Docker task's run: the driver's handle on its supervisor.
#[derive(Debug)]
pub struct DockerRun {
    record: DockerRecord,
    settings: Arc<DockerSettings>,
    client: DockerClient,
    kill_tx: mpsc::UnboundedSender<Duration>,
    done: watch::Receiver<Option<Termination>>,
}

impl Running for DockerRun {
    fn wait(&self) -> BoxFuture<'_, Termination> {
        let mut done = self.done.clone();
        Box::pin(async move {
            match done.wait_for(Option::is_some).await {
                Ok(t) => t.clone().unwrap_or_else(unknown_end),
                Err(_) => unknown_end(),
            }
        })
    }

    fn kill(&self, grace: Duration) -> BoxFuture<'_, std::io::Result<()>> {
        // The supervisor stops the container and then ends; a supervisor already gone has
        // nothing left to stop.
        let _ = self.kill_tx.send(grace);
        Box::pin(async { Ok(()) })
    }

    fn destroy(&self) -> BoxFuture<'_, std::io::Result<()>> {
        let client = self.client.clone();
        let delay = self.settings.remove_delay;
        let name = self.record.name.clone();
        // Kept for `--docker_remove_delay` (its logs stay readable), then removed; an agent
        // restart meanwhile leaves it to the orphan sweep.
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Err(error) = client.remove(&name).await {
                tracing::debug!(container = %name, %error, "removing a stopped container");
            }
        });
        Box::pin(async { Ok(()) })
    }

    fn stats(&self) -> ContainerStats {
        ContainerStats {
            mem_limit_bytes: self
                .record
                .mem_limit_bytes
                .and_then(|b| u64::try_from(b).ok()),
            ..Default::default()
        }
    }

    fn sandbox_usage_bytes(&self) -> BoxFuture<'_, std::io::Result<u64>> {
        let dir = self.record.sandbox_dir.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || crate::containerizer::dir_usage_bytes(&dir))
                .await
                .map_err(std::io::Error::other)?
        })
    }

    fn record(&self) -> Record {
        Record::Docker(self.record.clone())
    }

    fn mesos(&self) -> Option<Arc<Container>> {
        None
    }
}

fn unknown_end() -> Termination {
    Termination {
        status: ExitStatus::Unknown,
        oom_killed: false,
        message: "the Docker task's supervision ended".into(),
        mem_max_usage_bytes: None,
    }
}

/// The image of a DOCKER executor container, and whether to pull it anyway.
fn image_of(spec: &LaunchSpec) -> Option<(String, bool)> {
    let docker = spec.executor_info.container.as_ref()?.docker.as_ref()?;
    Some((
        docker.image.clone(),
        docker.force_pull_image.unwrap_or(false),
    ))
}

/// Prepares a Docker task's launch: the sandbox, the daemon reachable, the image present. On
/// success the run is handed to the driver as launched and its supervisor starts; the error is
/// the launch-failed message (naming the image or the socket).
pub async fn launch(
    settings: Arc<DockerSettings>,
    spec: &LaunchSpec,
    env: Vec<(String, String)>,
    tx: mpsc::Sender<Msg>,
) -> Result<(), String> {
    if !spec.command_executor {
        return Err(
            "Unsupported container.docker for a custom executor: Drover's Docker \
                    containerizer runs command tasks only"
                .into(),
        );
    }
    let (image, force_pull) = image_of(spec).ok_or("container.docker.image is missing")?;
    if let Some(why) = drover_core::agent::docker::image_problem(&image) {
        return Err(format!("Failed to launch container: {why}"));
    }
    let id = ContainerId::new(spec.container_id.0.clone()).map_err(|e| e.to_string())?;
    let sandbox = PathBuf::from(&spec.directory);
    for file in ["stdout", "stderr"] {
        let path = sandbox.join(file);
        tokio::fs::create_dir_all(&sandbox)
            .await
            .and(
                tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .await
                    .map(|_| ()),
            )
            .map_err(|e| format!("Failed to prepare sandbox {}: {e}", path.display()))?;
    }
    let client = settings
        .client()
        .map_err(|e| format!("Failed to launch container: {e}"))?;
    client
        .ping()
        .await
        .map_err(|e| format!("Failed to launch container: {e}"))?;
    let credentials = match &settings.config_json {
        Some(config) => crate::containerizer::docker::auth::credentials_for(&image, config)
            .map_err(|e| format!("Failed to launch container: {e}"))?,
        None => None,
    };
    client
        .ensure_image(&image, force_pull, credentials, settings.pull_timeout)
        .await
        .map_err(|e| format!("Failed to launch container: Failed to pull image '{image}': {e}"))?;
    let plan = Plan {
        framework_id: spec.framework_id.0.clone(),
        executor_id: spec.executor_info.executor_id.value.clone(),
        container_id: spec.container_id.0.clone(),
        sandbox: sandbox.clone(),
        cpus: spec.cpus,
        mem_mb: spec.mem_mb,
        env,
        // Pulled above already.
        force_pull: false,
        volumes: spec.persistent_volumes.clone(),
    };
    let record = DockerRecord {
        container_id: id,
        name: format!("{NAME_PREFIX}{}", spec.container_id.0),
        sandbox_dir: sandbox,
        // What the run spec applies (Mesos' 32 MB floor included), for the OOM message.
        mem_limit_bytes: Some(((spec.mem_mb * 1024.0 * 1024.0) as i64).max(32 << 20)),
    };
    let run = start(settings, client, record, plan, None, tx.clone());
    let _ = tx
        .send(Msg::Launched {
            container_id: spec.container_id.clone(),
            run,
            disk_quota_bytes: (spec.disk_mb * 1024.0 * 1024.0) as u64,
        })
        .await;
    Ok(())
}

/// Re-attaches to a checkpointed Docker task after an agent restart: its supervisor
/// resubscribes (naming `task` as unacknowledged while it was never reported running) and
/// follows the container to its end. `None` when the container is gone (or the daemon does not
/// answer): the core then reports the task's end.
pub async fn recover(
    settings: Arc<DockerSettings>,
    record: DockerRecord,
    framework_id: &str,
    executor_id: &str,
    task: Option<v1::Task>,
    tx: mpsc::Sender<Msg>,
) -> Option<Arc<dyn Running>> {
    let client = match settings.client() {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(container = %record.name, %error, "re-attaching a Docker task");
            return None;
        }
    };
    match client.exit(&record.name).await {
        // Still running ("still running" is the error of an inspection of a live one).
        Err(DockerError(text)) if text.contains("still running") => {}
        // Ended while the agent was away: the supervisor reports how.
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(container = %record.name, %error, "re-attaching a Docker task");
            return None;
        }
    }
    // The output copy resumes from when the sandbox files were last written (a line of that
    // second may show twice; none is lost).
    let since = ["stdout", "stderr"]
        .iter()
        .filter_map(|f| {
            std::fs::metadata(record.sandbox_dir.join(f))
                .ok()?
                .modified()
                .ok()
        })
        .max()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i32::try_from(d.as_secs()).unwrap_or(0));
    let (copier, name) = (client.clone(), record.name.clone());
    let (stdout, stderr) = (
        record.sandbox_dir.join("stdout"),
        record.sandbox_dir.join("stderr"),
    );
    tokio::spawn(async move {
        if let Err(e) = copier.copy_logs_since(&name, &stdout, &stderr, since).await {
            tracing::warn!(container = %name, "copying the container's output stopped: {e}");
        }
    });
    let plan = Plan {
        framework_id: framework_id.to_owned(),
        executor_id: executor_id.to_owned(),
        container_id: record.container_id.as_str().to_owned(),
        sandbox: record.sandbox_dir.clone(),
        cpus: 0.0,
        mem_mb: 0.0,
        env: Vec::new(),
        force_pull: false,
        // A recovered container is followed, never run again: its binds are its own.
        volumes: Vec::new(),
    };
    Some(start(settings, client, record, plan, Some(task), tx))
}

fn start(
    settings: Arc<DockerSettings>,
    client: DockerClient,
    record: DockerRecord,
    plan: Plan,
    recovered: Option<Option<v1::Task>>,
    tx: mpsc::Sender<Msg>,
) -> Arc<dyn Running> {
    let (kill_tx, kill_rx) = mpsc::unbounded_channel();
    let (done_tx, done) = watch::channel(None);
    let supervisor = Supervisor {
        settings: settings.clone(),
        client: client.clone(),
        record: record.clone(),
        plan,
        tx,
        task: None,
        container_started: false,
        killing: false,
        agent_killed: false,
        ended: None,
        healthy: None,
        health: None,
        prober: None,
        new_probes: None,
        unacked: BTreeMap::new(),
        terminal_sent: false,
    };
    tokio::spawn(supervisor.run(recovered, kill_rx, done_tx));
    Arc::new(DockerRun {
        record,
        settings,
        client,
        kill_tx,
        done,
    })
}
