//! Master detection: `--master` is either a fixed `host:port` or `zk://…/path`, the masters'
//! ZooKeeper group, followed by `drover_coord::detector` (Mesos' detector: the lowest
//! `json.info_` member leads). Either way the session (`master.rs`) reads the leader from a
//! watch and re-registers when it changes.

use drover_coord::ZkUrl;
use tokio::sync::watch;

/// Starts detecting the master named by `--master`; the receiver holds the leader's
/// `host:port` (None while none is known). A `zk://` URL that does not parse is an error.
pub fn start(master: &str) -> anyhow::Result<watch::Receiver<Option<String>>> {
    if !master.starts_with("zk://") {
        return Ok(watch::channel(Some(master.to_owned())).1);
    }
    let url = ZkUrl::parse(master).map_err(|e| anyhow::anyhow!("--master: {e}"))?;
    Ok(drover_coord::detector::leading_master(url))
}
