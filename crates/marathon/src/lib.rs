//! `drover marathon`: the Marathon-compatible scheduler. Being built (issue 5).

/// Flags of `drover marathon`.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {}

/// Runs the scheduler until `shutdown` resolves.
pub async fn run(
    _flags: Flags,
    _shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    anyhow::bail!("drover marathon is not built yet")
}
