//! The [`Coordinator`] on ZooKeeper (`zookeeper-client`, tokio): members are ephemeral
//! sequential znodes, fenced writes are `multi`s whose first op checks the member's znode, and
//! the session is watched two ways: the client's state (expired, closed) and a lease kept by
//! this module, which counts the session lost once no request has been answered for two thirds
//! of the negotiated timeout. The lease is what stops a partitioned or paused (SIGSTOP) process:
//! the server expires it after the full timeout at the earliest, so it stops acting first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use zookeeper_client as zk;

use crate::{
    BoxFuture, CoordError, Coordinator, Member, Membership, Observed, Session, WriteOp, ZkUrl,
    child_path, lowest_member,
};

/// A ZooKeeper session.
#[derive(Debug)]
pub struct ZkCoordinator {
    client: zk::Client,
    url: ZkUrl,
    lease: Arc<Lease>,
    session: watch::Sender<Session>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// When the ensemble last answered, as milliseconds since `base`, and how long that vouches for
/// the session.
#[derive(Debug)]
struct Lease {
    base: Instant,
    last_ok_ms: AtomicU64,
    valid_for: Duration,
}

impl Lease {
    fn renew(&self, sent: Instant) {
        let ms = u64::try_from(sent.duration_since(self.base).as_millis()).unwrap_or(u64::MAX);
        self.last_ok_ms.fetch_max(ms, Ordering::SeqCst);
    }

    fn valid(&self) -> bool {
        let last = self.base + Duration::from_millis(self.last_ok_ms.load(Ordering::SeqCst));
        last.elapsed() < self.valid_for
    }
}

fn engine(error: zk::Error) -> CoordError {
    match error {
        zk::Error::SessionExpired | zk::Error::ClientClosed => {
            CoordError::SessionLost(error.to_string())
        }
        zk::Error::NoNode | zk::Error::NodeExists | zk::Error::BadVersion | zk::Error::NotEmpty => {
            CoordError::Conflict(error.to_string())
        }
        other => CoordError::Engine(other.to_string()),
    }
}

const fn open_acl() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

impl ZkCoordinator {
    /// Opens a session with the ensemble of `url`, waiting at most `connect_timeout`.
    pub async fn connect(
        url: &ZkUrl,
        session_timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<ZkCoordinator, CoordError> {
        let mut connector = zk::Client::connector()
            .with_session_timeout(session_timeout)
            .with_connection_timeout(connect_timeout);
        if let Some((user, pass)) = &url.credentials {
            connector = connector.with_auth("digest", format!("{user}:{pass}").as_bytes());
        }
        let servers = url.connect_string();
        let connect = connector.connect(&servers);
        let client = match tokio::time::timeout(connect_timeout, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => {
                return Err(CoordError::Engine(format!(
                    "cannot open a ZooKeeper session with {url}: {error}"
                )));
            }
            Err(_) => {
                return Err(CoordError::Engine(format!(
                    "cannot reach ZooKeeper at {url} within {connect_timeout:?}"
                )));
            }
        };
        let negotiated = client.session_timeout();
        let lease = Arc::new(Lease {
            base: Instant::now(),
            last_ok_ms: AtomicU64::new(0),
            valid_for: negotiated * 2 / 3,
        });
        let (session, _) = watch::channel(Session::Alive);
        let coordinator = ZkCoordinator {
            client,
            url: url.clone(),
            lease,
            session,
            tasks: std::sync::Mutex::new(Vec::new()),
        };
        coordinator.spawn_session_monitor(negotiated);
        tracing::info!(zk = %url, session_timeout = ?negotiated, "opened a ZooKeeper session");
        Ok(coordinator)
    }

    /// The URL this session was opened with.
    pub fn url(&self) -> &ZkUrl {
        &self.url
    }

    fn keep(&self, task: tokio::task::JoinHandle<()>) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.push(task);
        }
    }

    fn spawn_session_monitor(&self, negotiated: Duration) {
        let client = self.client.clone();
        let lease = self.lease.clone();
        let session = self.session.clone();
        let mut states = self.client.state_watcher();
        // A ping (a cheap read) every sixth of the timeout: the lease lasts two thirds of it,
        // so several pings may be lost before it runs out.
        let period = (negotiated / 6).max(Duration::from_millis(100));
        self.keep(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let reason = loop {
                tokio::select! {
                    state = states.changed() => match state {
                        zk::SessionState::Expired => break "the ZooKeeper session expired".to_owned(),
                        zk::SessionState::Closed => break "the ZooKeeper session was closed".to_owned(),
                        zk::SessionState::AuthFailed => break "ZooKeeper refused the credentials".to_owned(),
                        _ => {}
                    },
                    _ = tick.tick() => {
                        if !lease.valid() {
                            break format!(
                                "no answer from ZooKeeper for {:?} (two thirds of the session timeout)",
                                lease.valid_for
                            );
                        }
                        let sent = Instant::now();
                        if let Ok(Ok(_)) = tokio::time::timeout(period, client.check_stat("/")).await {
                            lease.renew(sent);
                        }
                    }
                }
            };
            tracing::warn!(%reason, "coordination session lost");
            session.send_replace(Session::Lost(reason));
        }));
    }

    /// True while the session is alive and vouched for by a recent answer.
    fn live(&self) -> Result<(), CoordError> {
        if let Session::Lost(reason) = &*self.session.borrow() {
            return Err(CoordError::SessionLost(reason.clone()));
        }
        if !self.lease.valid() {
            return Err(CoordError::SessionLost(format!(
                "no answer from ZooKeeper for {:?}",
                self.lease.valid_for
            )));
        }
        Ok(())
    }

    async fn ensure_path(&self, path: &str) -> Result<(), CoordError> {
        match self.client.mkdir(path, &open_acl()).await {
            Ok(()) | Err(zk::Error::NodeExists) => Ok(()),
            Err(error) => Err(engine(error)),
        }
    }
}

impl Drop for ZkCoordinator {
    fn drop(&mut self) {
        // The tasks hold clients; the session closes when the last one goes.
        if let Ok(tasks) = self.tasks.lock() {
            for task in tasks.iter() {
                task.abort();
            }
        }
    }
}

async fn observe_loop(
    client: zk::Client,
    group: String,
    label: String,
    out: watch::Sender<Observed>,
) {
    let mut warned_foreign = false;
    loop {
        match client.mkdir(&group, &open_acl()).await {
            Ok(()) | Err(zk::Error::NodeExists) => {}
            Err(zk::Error::SessionExpired | zk::Error::ClientClosed) => break,
            Err(error) => {
                tracing::warn!(%error, group, "cannot create the election group");
                out.send_replace(Observed::Unknown);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        let (children, _, watcher) = match client.get_and_watch_children(&group).await {
            Ok(answer) => answer,
            Err(zk::Error::NoNode) => continue,
            Err(zk::Error::SessionExpired | zk::Error::ClientClosed) => break,
            Err(error) => {
                tracing::warn!(%error, group, "cannot list the election group");
                out.send_replace(Observed::Unknown);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let foreign: Vec<&String> = children
            .iter()
            .filter(|name| crate::member_sequence(name, &label).is_none())
            .collect();
        if !foreign.is_empty() && !warned_foreign {
            warned_foreign = true;
            tracing::warn!(
                group,
                ?foreign,
                "foreign znodes under the election group: Mesos detectors take the lowest child, so nothing but members may live there"
            );
        }
        let observed = match lowest_member(&children, &label) {
            None => Observed::NoLeader,
            Some((name, sequence)) => match client.get_data(&child_path(&group, name)).await {
                Ok((data, _)) => Observed::Leader(Member {
                    name: name.to_owned(),
                    sequence,
                    data,
                }),
                // Gone between the listing and the read: list again.
                Err(zk::Error::NoNode) => continue,
                Err(zk::Error::SessionExpired | zk::Error::ClientClosed) => break,
                Err(error) => {
                    tracing::warn!(%error, group, "cannot read the leader's znode");
                    out.send_replace(Observed::Unknown);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        out.send_if_modified(|current| {
            let changed = *current != observed;
            *current = observed.clone();
            changed
        });
        let _ = watcher.changed().await;
    }
    out.send_replace(Observed::Unknown);
}

impl Coordinator for ZkCoordinator {
    fn join<'a>(
        &'a self,
        group: &'a str,
        label: &'a str,
        data: Vec<u8>,
    ) -> BoxFuture<'a, Result<Membership, CoordError>> {
        Box::pin(async move {
            self.live()?;
            self.ensure_path(group).await?;
            let options = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
            let prefix = child_path(group, label);
            let (stat, sequence) = self
                .client
                .create(&prefix, &data, &options)
                .await
                .map_err(engine)?;
            let sequence = sequence.into_i64();
            let path = format!("{prefix}{}", zk_sequence(sequence));
            Ok(Membership {
                group: group.to_owned(),
                path,
                sequence: u64::try_from(sequence).unwrap_or(0),
                epoch: u64::try_from(stat.czxid).unwrap_or(0),
            })
        })
    }

    fn observe(&self, group: &str, label: &str) -> watch::Receiver<Observed> {
        let (out, receiver) = watch::channel(Observed::Unknown);
        self.keep(tokio::spawn(observe_loop(
            self.client.clone(),
            group.to_owned(),
            label.to_owned(),
            out,
        )));
        receiver
    }

    fn session(&self) -> watch::Receiver<Session> {
        self.session.subscribe()
    }

    fn is_live(&self) -> bool {
        self.live().is_ok()
    }

    fn fenced_write<'a>(
        &'a self,
        membership: &'a Membership,
        ops: Vec<WriteOp>,
    ) -> BoxFuture<'a, Result<(), CoordError>> {
        Box::pin(async move {
            self.live()
                .map_err(|e| CoordError::Fenced(format!("{e}; refusing to write")))?;
            let mut writer = self
                .client
                .new_check_writer(&membership.path, None)
                .map_err(engine)?;
            for op in &ops {
                match op {
                    WriteOp::Create { path, data } => writer.add_create(path, data, &open_acl()),
                    WriteOp::Set { path, data } => writer.add_set_data(path, data, None),
                    WriteOp::Delete { path } => writer.add_delete(path, None),
                }
                .map_err(engine)?;
            }
            match writer.commit().await {
                Ok(_) => Ok(()),
                Err(zk::CheckWriteError::CheckFailed { source }) => Err(CoordError::Fenced(
                    format!("{} is gone ({source})", membership.path),
                )),
                Err(zk::CheckWriteError::RequestFailed { source }) => Err(match source {
                    zk::Error::SessionExpired | zk::Error::ClientClosed => {
                        CoordError::Fenced(format!("the session is gone ({source})"))
                    }
                    other => engine(other),
                }),
                Err(zk::CheckWriteError::OperationFailed { index, source }) => Err(
                    CoordError::Conflict(format!("write {index} of the transaction: {source}")),
                ),
            }
        })
    }

    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CoordError>> {
        Box::pin(async move {
            match self.client.get_data(path).await {
                Ok((data, _)) => Ok(Some(data)),
                Err(zk::Error::NoNode) => Ok(None),
                Err(error) => Err(engine(error)),
            }
        })
    }

    fn children<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Vec<String>, CoordError>> {
        Box::pin(async move {
            match self.client.list_children(path).await {
                Ok(mut names) => {
                    names.sort();
                    Ok(names)
                }
                Err(zk::Error::NoNode) => Ok(Vec::new()),
                Err(error) => Err(engine(error)),
            }
        })
    }
}

/// ZooKeeper's rendering of a sequence number in a node name (10 digits, 19 past `i32`).
fn zk_sequence(sequence: i64) -> String {
    if sequence <= i64::from(i32::MAX) {
        format!("{sequence:010}")
    } else {
        format!("{sequence:019}")
    }
}
