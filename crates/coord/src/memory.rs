//! The [`Coordinator`] in memory: a [`MemoryEnsemble`] is a tiny ZooKeeper (a tree of nodes,
//! ephemeral ones owned by a session, a global creation counter as `czxid`) that tests and the
//! simulator share between several [`MemoryCoordinator`] sessions, and whose sessions they can
//! expire at will to model crashes, partitions and pauses.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::{
    BoxFuture, CoordError, Coordinator, Member, Membership, Observed, Session, WriteOp, child_path,
    lowest_member,
};

#[derive(Debug, Clone)]
struct Node {
    data: Vec<u8>,
    owner: Option<u64>,
}

#[derive(Debug, Default)]
struct Tree {
    nodes: BTreeMap<String, Node>,
    zxid: u64,
    next_session: u64,
    sequences: BTreeMap<String, u64>,
    sessions: BTreeMap<u64, watch::Sender<Session>>,
}

/// A shared in-memory ensemble.
#[derive(Debug, Clone)]
pub struct MemoryEnsemble {
    tree: Arc<Mutex<Tree>>,
    // Bumped on every change; observers recompute on it.
    changes: watch::Sender<u64>,
}

impl Default for MemoryEnsemble {
    fn default() -> Self {
        MemoryEnsemble::new()
    }
}

impl MemoryEnsemble {
    /// An empty ensemble.
    pub fn new() -> MemoryEnsemble {
        MemoryEnsemble {
            tree: Arc::new(Mutex::new(Tree::default())),
            changes: watch::channel(0).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        // A panic while holding the lock leaves a consistent tree (every change is one insert
        // or remove), so poisoning is ignored.
        self.tree.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Opens a new session.
    pub fn session(&self) -> MemoryCoordinator {
        let (tx, _) = watch::channel(Session::Alive);
        let id = {
            let mut tree = self.lock();
            tree.next_session += 1;
            let id = tree.next_session;
            tree.sessions.insert(id, tx.clone());
            id
        };
        MemoryCoordinator {
            ensemble: self.clone(),
            id,
            session: tx,
        }
    }

    /// Expires session `id` as the server would: its ephemeral nodes go, it is told it is lost.
    pub fn expire(&self, id: u64) {
        let sender = {
            let mut tree = self.lock();
            tree.nodes.retain(|_, node| node.owner != Some(id));
            tree.sessions.remove(&id)
        };
        if let Some(sender) = sender {
            sender.send_replace(Session::Lost("the session expired".to_owned()));
        }
        self.changed();
    }

    /// Expires the session on the server side only: its nodes go, but the process is not told
    /// (a paused or partitioned process, which must then be stopped by fencing).
    pub fn expire_silently(&self, id: u64) {
        {
            let mut tree = self.lock();
            tree.nodes.retain(|_, node| node.owner != Some(id));
            tree.sessions.remove(&id);
        }
        self.changed();
    }

    fn observed(&self, group: &str, label: &str) -> Observed {
        let tree = self.lock();
        let children = children_of(&tree, group);
        match lowest_member(&children, label) {
            None => Observed::NoLeader,
            Some((name, sequence)) => {
                let data = tree
                    .nodes
                    .get(&child_path(group, name))
                    .map(|n| n.data.clone())
                    .unwrap_or_default();
                Observed::Leader(Member {
                    name: name.to_owned(),
                    sequence,
                    data,
                })
            }
        }
    }
}

fn children_of(tree: &Tree, parent: &str) -> Vec<String> {
    let prefix = if parent == "/" {
        "/".to_owned()
    } else {
        format!("{parent}/")
    };
    tree.nodes
        .range(prefix.clone()..)
        .take_while(|(path, _)| path.starts_with(&prefix))
        .filter_map(|(path, _)| {
            let rest = &path[prefix.len()..];
            (!rest.contains('/')).then(|| rest.to_owned())
        })
        .collect()
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(at) => &path[..at],
    }
}

fn exists(tree: &Tree, path: &str) -> bool {
    path == "/" || tree.nodes.contains_key(path)
}

fn mkdirs(tree: &mut Tree, path: &str) {
    let mut at = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        at.push('/');
        at.push_str(part);
        if !tree.nodes.contains_key(&at) {
            tree.nodes.insert(
                at.clone(),
                Node {
                    data: Vec::new(),
                    owner: None,
                },
            );
        }
    }
}

/// One session on a [`MemoryEnsemble`].
#[derive(Debug)]
pub struct MemoryCoordinator {
    ensemble: MemoryEnsemble,
    id: u64,
    session: watch::Sender<Session>,
}

impl MemoryCoordinator {
    /// This session's id (for [`MemoryEnsemble::expire`]).
    pub fn id(&self) -> u64 {
        self.id
    }

    fn alive(&self) -> Result<(), CoordError> {
        match &*self.session.borrow() {
            Session::Alive => Ok(()),
            Session::Lost(reason) => Err(CoordError::SessionLost(reason.clone())),
        }
    }
}

impl Drop for MemoryCoordinator {
    fn drop(&mut self) {
        // Closing a session removes its ephemeral nodes, as ZooKeeper does.
        self.ensemble.expire(self.id);
    }
}

impl Coordinator for MemoryCoordinator {
    fn join<'a>(
        &'a self,
        group: &'a str,
        label: &'a str,
        data: Vec<u8>,
    ) -> BoxFuture<'a, Result<Membership, CoordError>> {
        Box::pin(async move {
            self.alive()?;
            let membership = {
                let mut tree = self.ensemble.lock();
                mkdirs(&mut tree, group);
                let counter = tree.sequences.entry(group.to_owned()).or_insert(0);
                let sequence = *counter;
                *counter += 1;
                tree.zxid += 1;
                let czxid = tree.zxid;
                let path = child_path(group, &format!("{label}{sequence:010}"));
                tree.nodes.insert(
                    path.clone(),
                    Node {
                        data,
                        owner: Some(self.id),
                    },
                );
                Membership {
                    group: group.to_owned(),
                    path,
                    sequence,
                    epoch: czxid,
                }
            };
            self.ensemble.changed();
            Ok(membership)
        })
    }

    fn observe(&self, group: &str, label: &str) -> watch::Receiver<Observed> {
        let (out, receiver) = watch::channel(self.ensemble.observed(group, label));
        let ensemble = self.ensemble.clone();
        let mut changes = self.ensemble.changes.subscribe();
        let mut session = self.session.subscribe();
        let (group, label) = (group.to_owned(), label.to_owned());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { break },
                    _ = out.closed() => return,
                    lost = session.wait_for(|s| matches!(s, Session::Lost(_))) => {
                        let _ = lost;
                        break;
                    }
                }
                let observed = ensemble.observed(&group, &label);
                out.send_if_modified(|current| {
                    let changed = *current != observed;
                    *current = observed;
                    changed
                });
            }
            out.send_replace(Observed::Unknown);
        });
        receiver
    }

    fn session(&self) -> watch::Receiver<Session> {
        self.session.subscribe()
    }

    fn fenced_write<'a>(
        &'a self,
        membership: &'a Membership,
        ops: Vec<WriteOp>,
    ) -> BoxFuture<'a, Result<(), CoordError>> {
        Box::pin(async move {
            {
                let mut tree = self.ensemble.lock();
                match tree.nodes.get(&membership.path) {
                    Some(node) if node.owner == Some(self.id) => {}
                    _ => {
                        return Err(CoordError::Fenced(format!("{} is gone", membership.path)));
                    }
                }
                // Check every op against a scratch copy first: all or nothing.
                let mut scratch: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
                let present = |scratch: &BTreeMap<String, Option<Vec<u8>>>, path: &str| {
                    scratch
                        .get(path)
                        .map(Option::is_some)
                        .unwrap_or_else(|| exists(&tree, path))
                };
                for (index, op) in ops.iter().enumerate() {
                    let fail = |why: &str| {
                        Err(CoordError::Conflict(format!(
                            "write {index} of the transaction: {why}"
                        )))
                    };
                    match op {
                        WriteOp::Create { path, data } => {
                            if present(&scratch, path) {
                                return fail("node already exists");
                            }
                            if !present(&scratch, parent_of(path)) {
                                return fail("node not exists");
                            }
                            scratch.insert(path.clone(), Some(data.clone()));
                        }
                        WriteOp::Set { path, data } => {
                            if !present(&scratch, path) {
                                return fail("node not exists");
                            }
                            scratch.insert(path.clone(), Some(data.clone()));
                        }
                        WriteOp::Delete { path } => {
                            if !present(&scratch, path) {
                                return fail("node not exists");
                            }
                            scratch.insert(path.clone(), None);
                        }
                    }
                }
                for (path, value) in scratch {
                    match value {
                        Some(data) => {
                            let node = tree.nodes.entry(path).or_insert(Node {
                                data: Vec::new(),
                                owner: None,
                            });
                            node.data = data;
                        }
                        None => {
                            tree.nodes.remove(&path);
                        }
                    }
                }
            }
            self.ensemble.changed();
            Ok(())
        })
    }

    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CoordError>> {
        Box::pin(async move {
            self.alive()?;
            Ok(self.ensemble.lock().nodes.get(path).map(|n| n.data.clone()))
        })
    }

    fn children<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Vec<String>, CoordError>> {
        Box::pin(async move {
            self.alive()?;
            Ok(children_of(&self.ensemble.lock(), path))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MESOS_MASTER_LABEL;

    #[tokio::test]
    async fn lowest_leads_and_a_deposed_member_cannot_write() {
        let ensemble = MemoryEnsemble::new();
        let a = ensemble.session();
        let b = ensemble.session();
        let ma = a
            .join("/mesos", MESOS_MASTER_LABEL, b"a".to_vec())
            .await
            .expect("a joins");
        let mb = b
            .join("/mesos", MESOS_MASTER_LABEL, b"b".to_vec())
            .await
            .expect("b joins");
        assert!(ma.sequence < mb.sequence && ma.epoch < mb.epoch);
        let mut seen = b.observe("/mesos", MESOS_MASTER_LABEL);
        assert_eq!(
            seen.borrow().leader().map(|m| m.data.clone()),
            Some(b"a".to_vec())
        );
        a.fenced_write(
            &ma,
            vec![WriteOp::Create {
                path: "/mesos-x".into(),
                data: vec![1],
            }],
        )
        .await
        .expect("the leader writes");
        // The leader is paused past its session: the server drops its node, it is not told.
        ensemble.expire_silently(a.id());
        let write = a
            .fenced_write(
                &ma,
                vec![WriteOp::Set {
                    path: "/mesos-x".into(),
                    data: vec![2],
                }],
            )
            .await;
        assert!(matches!(write, Err(CoordError::Fenced(_))), "{write:?}");
        assert_eq!(b.read("/mesos-x").await.expect("reads"), Some(vec![1]));
        seen.wait_for(|o| o.leader().map(|m| m.data.clone()) == Some(b"b".to_vec()))
            .await
            .expect("b leads");
        assert_eq!(
            b.children("/mesos").await.expect("lists"),
            vec!["json.info_0000000001"]
        );
        // A failing op applies nothing, the check included.
        let write = b
            .fenced_write(
                &mb,
                vec![
                    WriteOp::Set {
                        path: "/mesos-x".into(),
                        data: vec![3],
                    },
                    WriteOp::Delete {
                        path: "/missing".into(),
                    },
                ],
            )
            .await;
        assert!(matches!(write, Err(CoordError::Conflict(_))), "{write:?}");
        assert_eq!(b.read("/mesos-x").await.expect("reads"), Some(vec![1]));
    }
}
