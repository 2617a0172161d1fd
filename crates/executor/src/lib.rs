//! `drover executor`: Drover's built-in command executor (spec §4.5). The agent starts it
//! inside the task's container with the environment of spec §4.4; it subscribes at the
//! agent's `/api/v1/executor`, runs the one command task it is given as its child, reports
//! STARTING, RUNNING and the terminal state, runs health checks and checks, honours kill
//! policies and `max_completion_time`, and keeps every update until the agent acknowledges
//! it (resubscribing after an agent restart for checkpointing frameworks).
//!
//! With `--default` it is Mesos' default executor instead ([`group`]): it runs task groups.
//!
//! It owns no decisions of the agent and never depends on `drover-core`.

mod client;
mod env;
mod group;
pub mod health;
mod nested;
mod outbox;
mod run;
pub mod task;

/// Flags of `drover executor`. Everything else comes from the `MESOS_*` environment the
/// agent sets, as for any Mesos executor.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Run as Mesos' default executor, which runs task groups (LAUNCH_GROUP), instead of the
    /// command executor. The agent starts it so for an `ExecutorInfo` of type DEFAULT.
    #[arg(long)]
    pub default: bool,
    /// Internal, set by the agent: the task runs in a container image, entered through
    /// `drover rootfs-launch` with this launch configuration (the executor itself stays in
    /// the host's filesystem, as Mesos' command executor did).
    #[arg(long = "task_rootfs_config", value_name = "FILE", hide = true)]
    pub task_rootfs_config: Option<std::path::PathBuf>,
}

/// Runs the executor `flags` select until its work is done or `shutdown` resolves.
pub async fn run(
    flags: Flags,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    if let Some(config) = flags.task_rootfs_config {
        task::run_in_rootfs(config);
    }
    if flags.default {
        group::run(shutdown).await
    } else {
        run::run(shutdown).await
    }
}
