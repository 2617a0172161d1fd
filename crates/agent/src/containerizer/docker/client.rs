//! The agent's connection to dockerd (through `bollard`, over its unix socket): every call but
//! the long waits is bounded by a timeout, and every failure is one line naming the socket, so a
//! dead or stuck daemon refuses launches instead of hanging them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

/// A failed daemon call, as one line for a task's status message or the agent's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DockerError(pub String);

/// One host → container port publication (`-p host:container/protocol`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    /// Port on the host.
    pub host_port: u32,
    /// Port inside the container.
    pub container_port: u32,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// Everything the agent decides about one container before the daemon creates it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSpec {
    /// `mesos-<container id>`: what recovery finds the container by.
    pub name: String,
    /// The image reference.
    pub image: String,
    /// Overrides the image's entrypoint when set (a shell command runs as `/bin/sh -c`).
    pub entrypoint: Option<Vec<String>>,
    /// Arguments (the image's `CMD` when `None`).
    pub cmd: Option<Vec<String>>,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    /// Labels; the agent's ownership label among them.
    pub labels: HashMap<String, String>,
    /// `host:container[:ro]` bind mounts (the sandbox among them).
    pub binds: Vec<String>,
    /// Working directory inside the container.
    pub working_dir: Option<String>,
    /// Memory limit in bytes (`None`: unlimited).
    pub memory_bytes: Option<i64>,
    /// Relative CPU weight.
    pub cpu_shares: Option<i64>,
    /// CFS quota per 100 ms period, in µs (`--cgroups_enable_cfs`).
    pub cpu_quota_us: Option<i64>,
    /// `host`, `bridge`, `none` or a network's name.
    pub network_mode: String,
    /// Publications (bridge / named networks).
    pub ports: Vec<PublishedPort>,
    /// `--privileged`.
    pub privileged: bool,
    /// Docker options given as task `parameters` that the API takes as fields.
    pub options: RunOptions,
}

/// The `docker run` options a task may pass as `parameters` (see the `spec` module).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// `--user`.
    pub user: Option<String>,
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `--add-host`.
    pub extra_hosts: Vec<String>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--cap-add` (only where the agent allows escaping options).
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--init`.
    pub init: bool,
    /// `--pid` (only where the agent allows escaping options).
    pub pid_mode: Option<String>,
    /// `--ipc` (only where the agent allows escaping options).
    pub ipc_mode: Option<String>,
}

/// How a container ended, from the daemon's inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The main process's exit code (128+n after signal n, as docker reports).
    pub code: i64,
    /// Whether the kernel's OOM killer acted in the container.
    pub oom_killed: bool,
    /// The daemon's error for a container that could not run, if any.
    pub error: Option<String>,
}

/// A client of one daemon.
#[derive(Clone, Debug)]
pub struct DockerClient {
    docker: Docker,
    socket: PathBuf,
    timeout: Duration,
}

fn non_empty(values: &[String]) -> Option<Vec<String>> {
    (!values.is_empty()).then(|| values.to_vec())
}

/// The CFS period the quota is expressed against (Mesos used the kernel's default, 100 ms).
pub const CFS_PERIOD_US: i64 = 100_000;

impl DockerClient {
    /// A client of the daemon at `socket` whose calls each give up after `timeout`; the
    /// daemon is asked for nothing yet (see [`Self::ping`]).
    pub fn new(socket: &Path, timeout: Duration) -> Result<Self, DockerError> {
        // bollard's own timeout bounds a whole request, which would cut the long `wait`
        // short; it is set far out and each short call carries `timeout` instead.
        let docker = Docker::connect_with_unix(
            &socket.to_string_lossy(),
            u32::MAX as u64,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|e| DockerError(format!("docker socket {}: {e}", socket.display())))?;
        Ok(DockerClient {
            docker,
            socket: socket.to_path_buf(),
            timeout,
        })
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    async fn bounded<T, E: std::fmt::Display>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, DockerError> {
        self.bounded_for(what, self.timeout, call).await
    }

    async fn bounded_for<T, E: std::fmt::Display>(
        &self,
        what: &str,
        limit: Duration,
        call: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, DockerError> {
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(DockerError(format!(
                "docker daemon at {}: {what}: {e}",
                self.socket.display()
            ))),
            Err(_) => Err(DockerError(format!(
                "docker daemon at {}: {what}: no answer within {:?}",
                self.socket.display(),
                limit
            ))),
        }
    }

    /// Whether the daemon answers.
    pub async fn ping(&self) -> Result<(), DockerError> {
        self.bounded("ping", self.docker.ping()).await.map(|_| ())
    }

    /// Makes `image` present: pulled when missing or when `force_pull`. The daemon's message
    /// (e.g. "manifest unknown", "pull access denied") ends up in the error.
    pub async fn ensure_image(
        &self,
        image: &str,
        force_pull: bool,
        credentials: Option<DockerCredentials>,
        pull_timeout: Duration,
    ) -> Result<(), DockerError> {
        if !force_pull
            && self
                .bounded("inspect image", self.docker.inspect_image(image))
                .await
                .is_ok()
        {
            return Ok(());
        }
        let options = CreateImageOptions {
            from_image: Some(image.to_string()),
            ..Default::default()
        };
        let pull = async {
            let mut progress = self.docker.create_image(Some(options), None, credentials);
            while let Some(step) = progress.next().await {
                step?;
            }
            Ok::<(), bollard::errors::Error>(())
        };
        self.bounded_for(&format!("pull {image}"), pull_timeout, pull)
            .await
    }

    /// Creates and starts the container; its id.
    pub async fn run(&self, spec: &RunSpec) -> Result<String, DockerError> {
        let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for port in &spec.ports {
            port_bindings
                .entry(format!("{}/{}", port.container_port, port.protocol))
                .or_default()
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: None,
                    host_port: Some(port.host_port.to_string()),
                });
        }
        let exposed: Vec<String> = port_bindings.keys().cloned().collect();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.cmd.clone(),
            env: Some(spec.env.clone()),
            labels: Some(spec.labels.clone()),
            working_dir: spec.working_dir.clone(),
            user: spec.options.user.clone(),
            hostname: spec.options.hostname.clone(),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            host_config: Some(HostConfig {
                binds: Some(spec.binds.clone()),
                memory: spec.memory_bytes,
                // Without swap the memory limit is what the OOM killer enforces.
                memory_swap: spec.memory_bytes,
                cpu_shares: spec.cpu_shares,
                cpu_quota: spec.cpu_quota_us,
                cpu_period: spec.cpu_quota_us.map(|_| CFS_PERIOD_US),
                network_mode: Some(spec.network_mode.clone()),
                port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
                privileged: Some(spec.privileged),
                extra_hosts: non_empty(&spec.options.extra_hosts),
                dns: non_empty(&spec.options.dns),
                cap_add: non_empty(&spec.options.cap_add),
                cap_drop: non_empty(&spec.options.cap_drop),
                readonly_rootfs: Some(spec.options.read_only),
                init: spec.options.init.then_some(true),
                pid_mode: spec.options.pid_mode.clone(),
                ipc_mode: spec.options.ipc_mode.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..Default::default()
        };
        let created = self
            .bounded(
                &format!("create {}", spec.name),
                self.docker.create_container(Some(options), body),
            )
            .await?;
        if let Err(e) = self
            .bounded(
                &format!("start {}", spec.name),
                self.docker.start_container(&spec.name, None),
            )
            .await
        {
            // A container that never started is not left behind under the task's name.
            let _ = self.remove(&spec.name).await;
            return Err(e);
        }
        Ok(created.id)
    }

    /// Waits, without a time limit, until the container stops; then its exit as inspected.
    pub async fn wait(&self, name: &str) -> Result<Exit, DockerError> {
        let mut waiting = self
            .docker
            .wait_container(name, None::<WaitContainerOptions>);
        // bollard reports a non-zero exit as an error item; either way the container stopped
        // (or the daemon went away, which the inspection below tells apart).
        let _ = waiting.next().await;
        self.exit(name).await
    }

    /// The container's exit as the daemon reports it; an error if it is still running.
    pub async fn exit(&self, name: &str) -> Result<Exit, DockerError> {
        let inspected = self
            .bounded(
                &format!("inspect {name}"),
                self.docker.inspect_container(name, None),
            )
            .await?;
        let state = inspected.state.unwrap_or_default();
        if state.running == Some(true) {
            return Err(DockerError(format!("container {name} is still running")));
        }
        Ok(Exit {
            code: state.exit_code.unwrap_or(-1),
            oom_killed: state.oom_killed.unwrap_or(false),
            error: state.error.filter(|e| !e.is_empty()),
        })
    }

    /// Whether the container exists and runs.
    pub async fn running(&self, name: &str) -> Result<bool, DockerError> {
        match self.docker.inspect_container(name, None).await {
            Ok(inspected) => Ok(inspected.state.and_then(|s| s.running).unwrap_or(false)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(DockerError(format!(
                "docker daemon at {}: inspect {name}: {e}",
                self.socket.display()
            ))),
        }
    }

    /// Runs `argv` inside the running container (`docker exec`) with `env`: its exit code, or
    /// `None` when it could not run or did not end within `limit`.
    pub async fn exec(
        &self,
        name: &str,
        argv: Vec<String>,
        env: Vec<String>,
        limit: Duration,
    ) -> Option<i64> {
        let run = async {
            let config = bollard::models::ExecConfig {
                cmd: Some(argv),
                env: Some(env),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            };
            let created = self.docker.create_exec(name, config).await.ok()?;
            match self.docker.start_exec(&created.id, None).await.ok()? {
                bollard::exec::StartExecResults::Attached { mut output, .. } => {
                    // The output is not kept; its end is the command's.
                    while let Some(Ok(_)) = output.next().await {}
                }
                bollard::exec::StartExecResults::Detached => return None,
            }
            self.docker.inspect_exec(&created.id).await.ok()?.exit_code
        };
        tokio::time::timeout(limit, run).await.ok().flatten()
    }

    /// Where probes reach the container: the host's loopback on the host network, else the
    /// address of its (first) network.
    pub async fn probe_address(&self, name: &str) -> Result<String, DockerError> {
        let inspected = self
            .bounded(
                &format!("inspect {name}"),
                self.docker.inspect_container(name, None),
            )
            .await?;
        let mode = inspected
            .host_config
            .and_then(|h| h.network_mode)
            .unwrap_or_default();
        if mode == "host" {
            return Ok("127.0.0.1".to_owned());
        }
        inspected
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|networks| {
                networks
                    .into_values()
                    .filter_map(|n| n.ip_address)
                    .find(|ip| !ip.is_empty())
            })
            .ok_or_else(|| DockerError(format!("container {name} has no IP address")))
    }

    /// `docker stop -t <grace>`: SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(&self, name: &str, grace: Duration) -> Result<(), DockerError> {
        let options = StopContainerOptions {
            t: Some(i32::try_from(grace.as_secs()).unwrap_or(i32::MAX)),
            ..Default::default()
        };
        self.bounded_for(
            &format!("stop {name}"),
            grace + self.timeout,
            self.docker.stop_container(name, Some(options)),
        )
        .await
    }

    /// Removes the container (killing it if it still runs) and its anonymous volumes.
    pub async fn remove(&self, name: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        self.bounded(
            &format!("remove {name}"),
            self.docker.remove_container(name, Some(options)),
        )
        .await
    }

    /// Names (without the leading `/`) of every container, running or not, carrying
    /// `label=value`.
    pub async fn names_labelled(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<String>, DockerError> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![format!("{label}={value}")],
            )])),
            ..Default::default()
        };
        let listed = self
            .bounded(
                "list containers",
                self.docker.list_containers(Some(options)),
            )
            .await?;
        Ok(listed
            .into_iter()
            .filter_map(|c| c.names?.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_string())
            .collect())
    }

    /// Copies the container's stdout and stderr, following, onto the ends of the two files
    /// until the container stops (as Mesos' Docker executor did with the sandbox's files).
    pub async fn copy_logs(
        &self,
        name: &str,
        stdout: &Path,
        stderr: &Path,
    ) -> Result<(), DockerError> {
        self.copy_logs_since(name, stdout, stderr, 0).await
    }

    /// [`Self::copy_logs`] of what the container wrote from `since` (Unix seconds; 0: from
    /// its start) on: after an agent restart the copy resumes where the files end.
    pub async fn copy_logs_since(
        &self,
        name: &str,
        stdout: &Path,
        stderr: &Path,
        since: i32,
    ) -> Result<(), DockerError> {
        let open = |path: &Path| {
            let path = path.to_path_buf();
            async move {
                tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .await
                    .map_err(|e| DockerError(format!("{}: {e}", path.display())))
            }
        };
        let mut out = open(stdout).await?;
        let mut err = open(stderr).await?;
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            since,
            ..Default::default()
        };
        let mut logs = self.docker.logs(name, Some(options));
        while let Some(chunk) = logs.next().await {
            let chunk = chunk.map_err(|e| DockerError(format!("logs of {name}: {e}")))?;
            let (file, bytes) = match chunk {
                LogOutput::StdErr { message } => (&mut err, message),
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    (&mut out, message)
                }
                LogOutput::StdIn { .. } => continue,
            };
            file.write_all(&bytes)
                .await
                .map_err(|e| DockerError(format!("sandbox log file: {e}")))?;
        }
        out.flush().await.ok();
        err.flush().await.ok();
        Ok(())
    }
}
