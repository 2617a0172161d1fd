//! Master detection: `--master` is either a fixed `host:port` or `zk://…/path`, the masters'
//! ZooKeeper group, where the leader is the member with the lowest sequence (Mesos' detector).
//! Either way the session (`master.rs`) reads the leader from a watch and re-registers when it
//! changes. A lost ZooKeeper session is replaced by a new one: an agent never gives up
//! looking for its master.

use std::time::Duration;

use drover_coord::{Coordinator, MESOS_MASTER_LABEL, Observed, Session, ZkCoordinator, ZkUrl};
use tokio::sync::watch;

/// ZooKeeper session timeout of the detector (Mesos' agent default `--zk_session_timeout`).
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts detecting the master named by `--master`; the receiver holds the leader's
/// `host:port` (None while none is known). A `zk://` URL that does not parse is an error.
pub fn start(master: &str) -> anyhow::Result<watch::Receiver<Option<String>>> {
    if !master.starts_with("zk://") {
        return Ok(watch::channel(Some(master.to_owned())).1);
    }
    let url = ZkUrl::parse(master).map_err(|e| anyhow::anyhow!("--master: {e}"))?;
    let (tx, rx) = watch::channel(None);
    tokio::spawn(follow(url, tx));
    Ok(rx)
}

/// `ip:port` of a member's MasterInfo (the address agents connect to, as in Mesos' `pid`).
fn address_of(data: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(data).ok()?;
    let address = json.get("address")?;
    let host = address
        .get("ip")
        .or_else(|| address.get("hostname"))?
        .as_str()?;
    let port = address.get("port")?.as_u64()?;
    Some(format!("{host}:{port}"))
}

async fn follow(url: ZkUrl, tx: watch::Sender<Option<String>>) {
    loop {
        let coordinator =
            match ZkCoordinator::connect(&url, SESSION_TIMEOUT, Duration::from_secs(10)).await {
                Ok(coordinator) => coordinator,
                Err(error) => {
                    tracing::warn!(%error, "cannot detect the master; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
        let mut observed = coordinator.observe(&url.path, MESOS_MASTER_LABEL);
        let mut session = coordinator.session();
        loop {
            let leader = match &*observed.borrow() {
                Observed::Leader(member) => Some(address_of(&member.data)),
                Observed::NoLeader => Some(None),
                // Unreachable for now: keep the last answer until the session says more.
                Observed::Unknown => None,
            };
            if let Some(leader) = leader {
                tx.send_if_modified(|current| {
                    let changed = *current != leader;
                    if changed {
                        tracing::info!(leader = ?leader, "detected a new leading master");
                    }
                    *current = leader;
                    changed
                });
            }
            tokio::select! {
                changed = observed.changed() => if changed.is_err() { break },
                _ = session.wait_for(|s| matches!(s, Session::Lost(_))) => break,
                _ = tx.closed() => return,
            }
        }
        tracing::warn!("lost the ZooKeeper session of the master detector; reconnecting");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ip_and_port_of_master_info() {
        let info = br#"{"id":"x","ip":16777343,"port":5051,"pid":"master@127.0.0.1:5051","hostname":"m1","address":{"hostname":"m1","ip":"127.0.0.1","port":5051}}"#;
        assert_eq!(address_of(info).as_deref(), Some("127.0.0.1:5051"));
        assert_eq!(address_of(b"{}"), None);
    }
}
