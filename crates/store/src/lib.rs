//! Drover's durable key/value store: the [`Store`] trait that the master (registry), the agent
//! (checkpoints) and the Marathon scheduler (apps, instances, deployments) persist through, and its
//! implementations, [`RedbStore`] on disk and [`MemoryStore`] for tests and the simulator.
//!
//! The project rule is "persist before you reply or act": a driver collects the `Persist` effects
//! of one step into a [`WriteBatch`], commits it (one durable transaction, one fsync), and only then
//! replies or sends. Values are opaque bytes; callers encode protobuf. This crate never depends on
//! `drover-core` or any wire types, so every daemon can use it.
#![warn(clippy::unwrap_used, clippy::print_stdout)]

mod error;
mod memory;
mod redb_store;

use std::fmt;

pub use error::StoreError;
pub use memory::MemoryStore;
pub use redb_store::RedbStore;

/// The schema version this build writes and understands. Bump it, and add a migration on open,
/// whenever the meaning of stored bytes changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

/// Largest accepted key. Keys are IDs and short paths; a longer one is a caller bug.
pub const KEY_BYTES_MAX: usize = 4 * 1024;

/// Largest accepted value. Bounds the memory one record can take on recovery.
pub const VALUE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Longest accepted namespace name.
pub const NAMESPACE_BYTES_MAX: usize = 64;

/// A fencing token: the leadership term of the process that writes.
///
/// Tokens only grow. A store remembers the highest token any commit carried and refuses a batch
/// with an older one, so a deposed leader that still runs cannot overwrite its successor's state.
/// `Epoch(0)` means "never fenced".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(pub u64);

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A key and its value, as [`Store::scan`] returns them.
pub type Entry = (Vec<u8>, Vec<u8>);

/// One write in a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Insert or overwrite `key` in `namespace`.
    Put {
        /// Table the key lives in.
        namespace: String,
        /// Key; compared bytewise.
        key: Vec<u8>,
        /// Value; opaque bytes.
        value: Vec<u8>,
    },
    /// Remove `key` from `namespace`; removing an absent key is not an error.
    Delete {
        /// Table the key lives in.
        namespace: String,
        /// Key; compared bytewise.
        key: Vec<u8>,
    },
}

/// An ordered list of writes across namespaces, applied atomically in one durable transaction.
///
/// Ops apply in order, so a later op on the same key wins. An empty batch is valid: committing one
/// with a fence just raises the store's epoch (a new leader does that on election).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
    fence: Option<Epoch>,
}

impl WriteBatch {
    /// An empty, unfenced batch (standalone mode, tests).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch that will only commit if `epoch` is not older than any epoch the store has
    /// seen; committing it raises the store's epoch to `epoch`.
    pub fn fenced(epoch: Epoch) -> Self {
        Self {
            ops: Vec::new(),
            fence: Some(epoch),
        }
    }

    /// Appends a put of `value` under `key` in `namespace`.
    pub fn put(
        &mut self,
        namespace: &str,
        key: impl AsRef<[u8]>,
        value: impl Into<Vec<u8>>,
    ) -> &mut Self {
        self.ops.push(WriteOp::Put {
            namespace: namespace.to_owned(),
            key: key.as_ref().to_vec(),
            value: value.into(),
        });
        self
    }

    /// Appends a delete of `key` in `namespace`.
    pub fn delete(&mut self, namespace: &str, key: impl AsRef<[u8]>) -> &mut Self {
        self.ops.push(WriteOp::Delete {
            namespace: namespace.to_owned(),
            key: key.as_ref().to_vec(),
        });
        self
    }

    /// The ops in the order they will apply.
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// The fencing token this batch carries, if any.
    pub fn fence(&self) -> Option<Epoch> {
        self.fence
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no ops (it may still carry a fence).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Checks every op before anything is written, so that an invalid batch applies nothing.
    /// Checks every op's namespace, key and value against the store's limits (every
    /// implementation does this before committing).
    pub fn validate(&self) -> Result<(), StoreError> {
        for op in &self.ops {
            match op {
                WriteOp::Put {
                    namespace,
                    key,
                    value,
                } => {
                    validate_namespace(namespace)?;
                    validate_key(namespace, key)?;
                    if value.len() > VALUE_BYTES_MAX {
                        return Err(StoreError::ValueTooLarge {
                            namespace: namespace.clone(),
                            len: value.len(),
                            max: VALUE_BYTES_MAX,
                        });
                    }
                }
                WriteOp::Delete { namespace, key } => {
                    validate_namespace(namespace)?;
                    validate_key(namespace, key)?;
                }
            }
        }
        Ok(())
    }
}

/// What a successful commit reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitInfo {
    /// Number of commits applied to this store so far, this one included. Strictly increasing;
    /// an etcd backend reports the transaction's revision here instead.
    pub revision: u64,
    /// The store's epoch after this commit (the highest fencing token seen).
    pub epoch: Epoch,
}

/// The store's own bookkeeping, kept in a reserved table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Schema version the store was written with (see [`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Revision of the last commit; 0 if nothing was ever committed.
    pub revision: u64,
    /// Highest fencing token seen; `Epoch(0)` if no batch was ever fenced.
    pub epoch: Epoch,
}

/// Namespaced key/value tables with atomic, durable, optionally fenced batch commits.
///
/// Keys order bytewise within a namespace (for UTF-8 strings that is also code-point order).
/// Namespaces are `[a-z0-9][a-z0-9_.-]*`, at most [`NAMESPACE_BYTES_MAX`] bytes; names starting
/// with `_` are reserved for the store's own tables. Reads see the last committed state.
///
/// # Contract
///
/// - When [`commit`](Store::commit) returns `Ok`, the whole batch is durable: no crash at any
///   later instant loses it. When it returns `Err`, or the process dies before it returns, either
///   the whole batch applied or none of it did; never a part.
/// - A batch with [`fence`](WriteBatch::fence) `Some(e)` is refused with
///   [`StoreError::Fenced`] if the store has seen an epoch newer than `e`; otherwise it applies
///   and the store's epoch becomes `max(old, e)`, in the same transaction. Unfenced batches are
///   never refused for fencing; a driver running with leader election must fence every batch.
///
/// # Mapping onto etcd (a later backend)
///
/// A leader wins etcd's election API (`campaign`) on a lease; the returned leader key has a
/// create revision, which is globally increasing across elections and so serves as the
/// [`Epoch`]. Each commit is one etcd `Txn`: `If(create_revision(election_key) == epoch)
/// Then(put/delete for every op) Else(get election_key)`. A failed compare means a newer leader
/// exists (or our lease expired), which is [`StoreError::Fenced`]. etcd compares the live leader
/// key instead of keeping "highest seen" in a meta key, which is the same guarantee: only the
/// current term can write. A namespace maps to a key prefix (`/drover/<namespace>/<key>`), `scan`
/// to a range read over a prefix, and [`CommitInfo::revision`] to the txn header's revision. etcd
/// limits a request to about 1.5 MiB by default, so that backend must refuse or split larger
/// batches.
pub trait Store: Send + Sync + fmt::Debug {
    /// The value under `key` in `namespace`, if any.
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Every entry of `namespace` whose key starts with `prefix`, in key order. Loads them all
    /// into memory; it is meant for recovery and for tables that fit in memory anyway.
    fn scan(&self, namespace: &str, prefix: &[u8]) -> Result<Vec<Entry>, StoreError>;

    /// Applies `batch` atomically and durably; see the trait docs for the guarantees.
    fn commit(&self, batch: WriteBatch) -> Result<CommitInfo, StoreError>;

    /// Schema version, last revision and epoch.
    fn meta(&self) -> Result<Meta, StoreError>;
}

fn validate_namespace(namespace: &str) -> Result<(), StoreError> {
    let bytes = namespace.as_bytes();
    let valid_char = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(b);
    let valid = !bytes.is_empty()
        && bytes.len() <= NAMESPACE_BYTES_MAX
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(valid_char);
    if valid {
        Ok(())
    } else {
        Err(StoreError::InvalidNamespace {
            namespace: namespace.to_owned(),
        })
    }
}

fn validate_key(namespace: &str, key: &[u8]) -> Result<(), StoreError> {
    if key.len() > KEY_BYTES_MAX {
        return Err(StoreError::KeyTooLarge {
            namespace: namespace.to_owned(),
            len: key.len(),
            max: KEY_BYTES_MAX,
        });
    }
    Ok(())
}

/// The new epoch after a batch fenced with `fence` meets a store at `current`, or the refusal.
/// Shared by both implementations so they cannot disagree.
fn check_fence(fence: Option<Epoch>, current: Epoch) -> Result<Epoch, StoreError> {
    match fence {
        Some(batch) if batch < current => Err(StoreError::Fenced {
            batch,
            store: current,
        }),
        Some(batch) => Ok(batch.max(current)),
        None => Ok(current),
    }
}
