//! Drover's coordination seam: leader election with sessions, observing the leader, fenced
//! transactional writes and reads, behind one trait ([`Coordinator`]) so the master and the
//! scheduler do not care which engine runs it. [`ZkCoordinator`] runs on ZooKeeper (the engine
//! production clusters already have: Drover never implements consensus itself);
//! [`MemoryCoordinator`] runs on an in-process [`MemoryEnsemble`] for tests and the simulator.
//!
//! # The model (ZooKeeper's, which an etcd backend can map onto)
//!
//! - A **session** is this process's liveness in the ensemble. Everything it owns (its group
//!   membership) disappears when the session ends. The session is *lost* when the ensemble says
//!   so (expired, closed) or, locally, when no request has been answered for the session
//!   timeout: a partitioned or paused process must stop acting within that time without
//!   hearing anything. [`Coordinator::session`] reports it; lost is terminal.
//! - An **election group** is a path whose children are the candidates, named
//!   `<label><10-digit sequence>` (ephemeral sequential znodes). The lowest sequence leads.
//!   Nothing else may live directly under the path (Mesos' detectors take the lowest child).
//! - A **fenced write** is one transaction whose first step checks that the writer's own
//!   membership node still exists: once deposed (session expired, node gone), every write fails
//!   with [`CoordError::Fenced`], even if the process has not noticed yet.
//!
//! An etcd backend would map a session to a lease, a member to a key under the group prefix
//! with that lease (its create revision as the sequence), and a fenced write to a `Txn` whose
//! compare is the member key's create revision.
#![warn(clippy::unwrap_used, clippy::print_stdout)]

pub mod detector;
mod memory;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod url;
mod zk;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

pub use memory::{MemoryCoordinator, MemoryEnsemble};
pub use store::{CoordStore, Standby, StandbyPacing, WarmCopy};
pub use url::ZkUrl;
pub use zk::ZkCoordinator;

/// A boxed future, so [`Coordinator`] can be used as `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The label of Mesos masters' group members (`json.info_0000000003`).
pub const MESOS_MASTER_LABEL: &str = "json.info_";

/// Errors of the coordination engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordError {
    /// The writer is no longer a member of its group: a newer leader may exist.
    #[error("fenced: this process is no longer a member of its election group ({0})")]
    Fenced(String),
    /// The session ended (expired, closed, or locally timed out); nothing more can be done
    /// with this coordinator.
    #[error("coordination session lost: {0}")]
    SessionLost(String),
    /// A path does not exist, or a write's precondition failed.
    #[error("{0}")]
    Conflict(String),
    /// Bad input (a path or URL that does not parse).
    #[error("{0}")]
    Invalid(String),
    /// Anything else the engine reported (unreachable, timed out).
    #[error("coordination engine error: {0}")]
    Engine(String),
}

/// One candidate of an election group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its node's name under the group (`json.info_0000000003`).
    pub name: String,
    /// The sequence number the engine assigned (lowest leads).
    pub sequence: u64,
    /// The data it joined with (a master's MasterInfo JSON).
    pub data: Vec<u8>,
}

/// This process's membership in a group, as [`Coordinator::join`] returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The group path.
    pub group: String,
    /// The full path of this process's node.
    pub path: String,
    /// Its sequence number.
    pub sequence: u64,
    /// A number that grows with every membership ever created in the ensemble (ZooKeeper's
    /// `czxid`): a leader's epoch, to stamp records with.
    pub epoch: u64,
}

/// What an observer of a group currently knows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Observed {
    /// Not known yet (first read pending, or the engine is unreachable).
    #[default]
    Unknown,
    /// The group has no candidate.
    NoLeader,
    /// The lowest candidate.
    Leader(Member),
}

impl Observed {
    /// The leader, if one is known.
    pub fn leader(&self) -> Option<&Member> {
        match self {
            Observed::Leader(member) => Some(member),
            _ => None,
        }
    }
}

/// The session's state as [`Coordinator::session`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// The ensemble answered within the session timeout.
    Alive,
    /// Terminal: the session is gone, with why.
    Lost(String),
}

/// One write of a fenced transaction (ZooKeeper's multi-ops).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Creates a persistent node (its parent must exist).
    Create {
        /// Absolute path.
        path: String,
        /// Its data.
        data: Vec<u8>,
    },
    /// Replaces an existing node's data.
    Set {
        /// Absolute path.
        path: String,
        /// Its new data.
        data: Vec<u8>,
    },
    /// Deletes a node (without children).
    Delete {
        /// Absolute path.
        path: String,
    },
}

/// Election with sessions, observing the leader, fenced transactional writes and reads.
///
/// One value is one session: [`join`](Coordinator::join) creates the membership in it, and when
/// [`session`](Coordinator::session) turns [`Session::Lost`] every membership of it is gone.
pub trait Coordinator: Send + Sync + fmt::Debug {
    /// Joins the election group at `group` (created if missing) as `<label><sequence>` with
    /// `data`. The caller leads while its member is the group's lowest.
    fn join<'a>(
        &'a self,
        group: &'a str,
        label: &'a str,
        data: Vec<u8>,
    ) -> BoxFuture<'a, Result<Membership, CoordError>>;

    /// Follows the group's leader: the receiver changes whenever the lowest member does.
    /// Only children named `<label><sequence>` count; others are reported in the log.
    fn observe(&self, group: &str, label: &str) -> tokio::sync::watch::Receiver<Observed>;

    /// The session's state; once [`Session::Lost`], it stays so.
    fn session(&self) -> tokio::sync::watch::Receiver<Session>;

    /// Whether the session is vouched for right now: computed at the call, not reported by a
    /// background task, so a process resuming from a pause past its lease sees `false` before
    /// any task of it has run.
    fn is_live(&self) -> bool {
        matches!(*self.session().borrow(), Session::Alive)
    }

    /// Applies `ops` in one transaction whose first step checks that `membership`'s node still
    /// exists. Fails with [`CoordError::Fenced`] (nothing applied) once it does not.
    fn fenced_write<'a>(
        &'a self,
        membership: &'a Membership,
        ops: Vec<WriteOp>,
    ) -> BoxFuture<'a, Result<(), CoordError>>;

    /// Leaves the group: removes `membership`'s node at once (a fenced delete), so the next
    /// member leads without waiting for this session to expire.
    fn leave<'a>(&'a self, membership: &'a Membership) -> BoxFuture<'a, Result<(), CoordError>> {
        self.fenced_write(
            membership,
            vec![WriteOp::Delete {
                path: membership.path.clone(),
            }],
        )
    }

    /// The data of the node at `path`, if it exists.
    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CoordError>>;

    /// The names of the children of `path` (empty if it does not exist), sorted.
    fn children<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Vec<String>, CoordError>>;
}

/// The label of Marathon's leader latch members (Curator's `LeaderLatch`), whose nodes are
/// named `_c_<uuid>-latch-<sequence>` (Curator's "protected" prefix, then the label).
pub const CURATOR_LATCH_LABEL: &str = "latch-";

/// Parses a member's name `<label><digits>` into its sequence number. A name with Curator's
/// protected prefix, `_c_<id>-<label><digits>`, counts too: Curator orders latch members by
/// the sequence alone.
pub fn member_sequence(name: &str, label: &str) -> Option<u64> {
    let digits = match name.strip_prefix(label) {
        Some(digits) => digits,
        None => {
            let protected = name.strip_prefix("_c_")?;
            let (_, digits) = protected.rsplit_once(&format!("-{label}"))?;
            digits
        }
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The lowest member among `children` (names) with `label`, by sequence.
pub fn lowest_member<'a>(children: &'a [String], label: &str) -> Option<(&'a str, u64)> {
    children
        .iter()
        .filter_map(|name| member_sequence(name, label).map(|seq| (name.as_str(), seq)))
        .min_by_key(|(_, seq)| *seq)
}

/// Joins `parent` and `name` into a path.
pub(crate) fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_member_takes_the_smallest_sequence_of_the_label_only() {
        let children = vec![
            "json.info_0000000012".to_owned(),
            "json.info_0000000003".to_owned(),
            "log_replicas".to_owned(),
            "json.info_x".to_owned(),
            "info_0000000001".to_owned(),
        ];
        assert_eq!(
            lowest_member(&children, MESOS_MASTER_LABEL),
            Some(("json.info_0000000003", 3))
        );
        assert_eq!(lowest_member(&[], MESOS_MASTER_LABEL), None);
    }

    #[test]
    fn curator_latch_members_order_by_sequence_whatever_their_protected_prefix() {
        let children = vec![
            "_c_f0e1d2c3-b4a5-4697-8899-aabbccddeeff-latch-0000000007".to_owned(),
            "_c_01234567-89ab-4cde-8f01-23456789abcd-latch-0000000004".to_owned(),
            "latch-x".to_owned(),
            "_c_nolabel-0000000001".to_owned(),
        ];
        assert_eq!(
            lowest_member(&children, CURATOR_LATCH_LABEL),
            Some((
                "_c_01234567-89ab-4cde-8f01-23456789abcd-latch-0000000004",
                4
            ))
        );
        assert_eq!(
            member_sequence("latch-0000000002", CURATOR_LATCH_LABEL),
            Some(2)
        );
    }
}
