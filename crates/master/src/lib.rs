//! `drover master`: the Mesos-compatible master daemon. Being built (issue 3).

/// Flags of `drover master`.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {}

/// Runs the master until `shutdown` resolves.
pub async fn run(
    _flags: Flags,
    _shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    anyhow::bail!("drover master is not built yet")
}
