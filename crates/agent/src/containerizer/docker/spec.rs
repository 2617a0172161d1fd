//! From a task's `ContainerInfo{type: DOCKER}`, command, resources and environment to the
//! container the daemon creates ([`RunSpec`]), as Mesos' Docker containerizer built its
//! `docker run`: named `mesos-<container id>`, the sandbox at `/mnt/mesos/sandbox`, cpu shares
//! (and CFS quota) and a memory limit from the task's resources, the network, published ports,
//! host-path and persistent volumes, and the `parameters` the API can express — any other is refused by name.

use std::collections::HashMap;
use std::path::Path;

use drover_core::agent::VolumeUse;
use drover_core::agent::docker::request_problem;
use drover_wire::v1;
use v1::container_info::docker_info::Network;

use super::client::{PublishedPort, RunOptions, RunSpec};

/// Where the sandbox appears inside the container (Mesos' `--sandbox_directory`).
pub const SANDBOX_MOUNT: &str = "/mnt/mesos/sandbox";
/// The label carrying the owning agent's identity: orphan removal only touches its own.
pub const OWNER_LABEL: &str = "drover.agent.owner";
/// Docker's prefix for the containers Mesos (and so Drover) launches.
pub const NAME_PREFIX: &str = "mesos-";
/// Mesos' floor for cpu shares and memory of a Docker container.
const MIN_CPU_SHARES: i64 = 2;
const MIN_MEMORY_BYTES: i64 = 32 * 1024 * 1024;

/// What the agent knows about one Docker task when it launches it.
#[derive(Debug, Clone)]
pub struct DockerTask<'a> {
    /// The Mesos container id.
    pub container_id: &'a str,
    /// The task's container.
    pub container: &'a v1::ContainerInfo,
    /// The task's command.
    pub command: &'a v1::CommandInfo,
    /// The environment (MESOS_*, PORT*, HOST, the task's own), as for command tasks.
    pub env: Vec<(String, String)>,
    /// The sandbox directory on the host.
    pub sandbox: &'a Path,
    /// Resources of the task (and executor).
    pub cpus: f64,
    /// Memory in MB.
    pub mem_mb: f64,
    /// `--cgroups_enable_cfs`: a hard CPU quota besides the shares.
    pub cfs_quota: bool,
    /// The value of [`OWNER_LABEL`].
    pub owner: &'a str,
    /// Whether options that leave the container are allowed.
    pub allow_escaping: bool,
    /// The persistent volumes the task's resources hold, bound at their paths under the
    /// sandbox's mount point (where Mesos' Docker containerizer made them appear).
    pub persistent_volumes: &'a [VolumeUse],
}

/// The container to create, or why the task cannot be launched (for the launch-failed update).
pub fn run_spec(task: &DockerTask<'_>) -> Result<RunSpec, String> {
    if let Some(why) = request_problem(task.container, task.allow_escaping) {
        return Err(why);
    }
    let docker = task
        .container
        .docker
        .as_ref()
        .ok_or("container.docker is missing")?;
    let network = docker
        .network
        .and_then(|n| Network::try_from(n).ok())
        .unwrap_or(Network::Host);
    let network_mode = match network {
        Network::Host => "host".to_string(),
        Network::Bridge => "bridge".to_string(),
        Network::None => "none".to_string(),
        Network::User => match task.container.network_infos.as_slice() {
            [info] if info.name.as_deref().is_some_and(|n| !n.is_empty()) => {
                info.name.clone().unwrap_or_default()
            }
            _ => {
                return Err(
                    "container.network_infos: network USER needs exactly one named \
                            network"
                        .into(),
                );
            }
        },
    };
    let mut ports: Vec<PublishedPort> = docker
        .port_mappings
        .iter()
        .map(|m| PublishedPort {
            host_port: m.host_port,
            container_port: m.container_port,
            protocol: m.protocol.clone().unwrap_or_else(|| "tcp".into()),
        })
        .collect();
    if network == Network::User {
        ports.extend(task.container.network_infos.iter().flat_map(|info| {
            info.port_mappings.iter().map(|m| PublishedPort {
                host_port: m.host_port,
                container_port: m.container_port,
                protocol: m.protocol.clone().unwrap_or_else(|| "tcp".into()),
            })
        }));
    }
    for port in &ports {
        if !matches!(port.protocol.as_str(), "tcp" | "udp") {
            return Err(format!(
                "container.docker.port_mappings: protocol '{}' is not tcp or udp",
                port.protocol
            ));
        }
    }

    let mut binds = vec![format!("{}:{SANDBOX_MOUNT}", task.sandbox.display())];
    for volume in &task.container.volumes {
        let host = volume.host_path.as_deref().unwrap_or_default();
        if !Path::new(host).exists() {
            return Err(format!(
                "container.volumes: host path '{host}' does not exist on this agent"
            ));
        }
        let read_only = volume.mode == v1::volume::Mode::Ro as i32;
        binds.push(format!(
            "{host}:{}{}",
            volume.container_path,
            if read_only { ":ro" } else { "" }
        ));
    }

    // A persistent volume appears at its relative `container_path` under the sandbox, as it
    // does for a command task; the agent made its mount point in the sandbox beforehand. The
    // bind is below the sandbox's, so the daemon mounts it after (on top of) the sandbox.
    for volume in task.persistent_volumes {
        drover_core::operations::validate_container_path(&volume.container_path).map_err(|e| {
            format!(
                "persistent volume container_path '{}' {e}",
                volume.container_path
            )
        })?;
        // The daemon's bind syntax separates its parts with ':'.
        if volume.dir.contains(':') || volume.container_path.contains(':') {
            return Err(format!(
                "persistent volume {} at '{}': a Docker container cannot bind a path with ':'",
                volume.dir, volume.container_path
            ));
        }
        binds.push(format!(
            "{}:{SANDBOX_MOUNT}/{}{}",
            volume.dir,
            volume.container_path,
            if volume.read_only { ":ro" } else { "" }
        ));
    }

    let mut env: Vec<String> = task.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.push(format!("MESOS_SANDBOX={SANDBOX_MOUNT}"));
    let mut labels = HashMap::from([(OWNER_LABEL.to_string(), task.owner.to_string())]);
    let mut options = RunOptions::default();
    for parameter in &docker.parameters {
        apply_parameter(
            parameter.key.trim_start_matches('-'),
            &parameter.value,
            &mut options,
            &mut env,
            &mut labels,
        )?;
    }
    // The agent's label wins over a parameter spelling the same key.
    labels.insert(OWNER_LABEL.to_string(), task.owner.to_string());

    // Mesos: a shell command runs as `/bin/sh -c <value>` (overriding the image's entrypoint);
    // otherwise value and arguments follow the image's entrypoint, and neither set means the
    // image's own CMD.
    let (entrypoint, cmd) = if task.command.shell.unwrap_or(true) {
        let value = task
            .command
            .value
            .clone()
            .ok_or("command.value: a shell command needs a value")?;
        (Some(vec!["/bin/sh".into(), "-c".into()]), Some(vec![value]))
    } else {
        let mut argv: Vec<String> = task.command.value.iter().cloned().collect();
        argv.extend(task.command.arguments.iter().cloned());
        (None, (!argv.is_empty()).then_some(argv))
    };
    if options.user.is_none() {
        options.user = task.command.user.clone();
    }

    let shares = ((task.cpus * 1024.0) as i64).max(MIN_CPU_SHARES);
    let memory = ((task.mem_mb * 1024.0 * 1024.0) as i64).max(MIN_MEMORY_BYTES);
    Ok(RunSpec {
        name: format!("{NAME_PREFIX}{}", task.container_id),
        image: docker.image.clone(),
        entrypoint,
        cmd,
        env,
        labels,
        binds,
        working_dir: None,
        memory_bytes: Some(memory),
        cpu_shares: Some(shares),
        cpu_quota_us: task
            .cfs_quota
            .then(|| ((task.cpus * super::client::CFS_PERIOD_US as f64) as i64).max(1000)),
        network_mode,
        ports,
        privileged: docker.privileged.unwrap_or(false),
        options,
    })
}

/// Applies one `docker run` option the daemon's API can express; refuses the rest by name so
/// nothing is accepted and ignored. (Escaping options were already checked against the
/// agent's permission.)
fn apply_parameter(
    key: &str,
    value: &str,
    options: &mut RunOptions,
    env: &mut Vec<String>,
    labels: &mut HashMap<String, String>,
) -> Result<(), String> {
    let flag = |value: &str| match value {
        "" | "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!(
            "container.docker.parameters: '{key}' takes true or false, not '{other}'"
        )),
    };
    match key {
        "env" | "e" => env.push(value.to_string()),
        "label" | "l" => {
            let (k, v) = value.split_once('=').unwrap_or((value, ""));
            labels.insert(k.to_string(), v.to_string());
        }
        "user" | "u" => options.user = Some(value.to_string()),
        "hostname" | "h" => options.hostname = Some(value.to_string()),
        "add-host" => options.extra_hosts.push(value.to_string()),
        "dns" => options.dns.push(value.to_string()),
        "cap-add" => options.cap_add.push(value.to_string()),
        "cap-drop" => options.cap_drop.push(value.to_string()),
        "read-only" => options.read_only = flag(value)?,
        "init" => options.init = flag(value)?,
        "pid" => options.pid_mode = Some(value.to_string()),
        "ipc" => options.ipc_mode = Some(value.to_string()),
        other => {
            return Err(format!(
                "container.docker.parameters: docker option '{other}' is not supported by \
                 Drover's Docker containerizer (supported: env, label, user, hostname, \
                 add-host, dns, cap-add, cap-drop, read-only, init, pid, ipc)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
