//! Mesos master detection on ZooKeeper, for every client of the masters' group (the agent,
//! the scheduler client): the leader is the `json.info_` member with the lowest sequence, and
//! its MasterInfo JSON says where it serves. A lost session is replaced by a new one: a client
//! never gives up looking for its master.

use std::time::Duration;

use tokio::sync::watch;

use crate::{Coordinator, MESOS_MASTER_LABEL, Observed, Session, ZkCoordinator, ZkUrl};

/// ZooKeeper session timeout of a detector (Mesos' default `--zk_session_timeout`).
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// `ip:port` of a MasterInfo JSON (where Mesos' `pid` points), else `hostname:port`.
pub fn master_address(data: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(data).ok()?;
    let address = json.get("address")?;
    let host = address
        .get("ip")
        .or_else(|| address.get("hostname"))?
        .as_str()?;
    let port = address.get("port")?.as_u64()?;
    Some(format!("{host}:{port}"))
}

/// Follows the leading master of the group at `url`; the receiver holds its `host:port`,
/// None while none is known. Must be called inside a tokio runtime.
pub fn leading_master(url: ZkUrl) -> watch::Receiver<Option<String>> {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(follow(url, tx));
    rx
}

async fn follow(url: ZkUrl, tx: watch::Sender<Option<String>>) {
    loop {
        let coordinator =
            match ZkCoordinator::connect(&url, SESSION_TIMEOUT, Duration::from_secs(10)).await {
                Ok(coordinator) => coordinator,
                Err(error) => {
                    tracing::warn!(%error, "cannot detect the master; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = tx.closed() => return,
                    }
                }
            };
        let mut observed = coordinator.observe(&url.path, MESOS_MASTER_LABEL);
        let mut session = coordinator.session();
        loop {
            let leader = match &*observed.borrow() {
                Observed::Leader(member) => Some(master_address(&member.data)),
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
        assert_eq!(master_address(info).as_deref(), Some("127.0.0.1:5051"));
        assert_eq!(master_address(b"{}"), None);
    }
}
