//! [`MemoryStore`]: the in-memory [`Store`] for tests and the deterministic simulator. Ordered
//! maps only, so iteration order never depends on hashing; no I/O, no clock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::{
    CommitInfo, Entry, Epoch, Meta, SCHEMA_VERSION, Store, StoreError, WriteBatch, WriteOp,
    check_fence, validate_key, validate_namespace,
};

/// An in-memory [`Store`] with the same semantics as [`RedbStore`](crate::RedbStore).
///
/// Clones share the same data, so a simulated process can "restart" by building a new driver
/// around a clone of its store: what was committed survives, as on disk.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    tables: BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>,
    revision: u64,
    epoch: Epoch,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic cannot leave a half-applied batch (validation runs before any mutation and
        // applying cannot fail), so the data behind a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        validate_namespace(namespace)?;
        validate_key(namespace, key)?;
        let state = self.lock();
        Ok(state
            .tables
            .get(namespace)
            .and_then(|table| table.get(key))
            .cloned())
    }

    fn scan(&self, namespace: &str, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        validate_namespace(namespace)?;
        validate_key(namespace, prefix)?;
        let state = self.lock();
        let Some(table) = state.tables.get(namespace) else {
            return Ok(Vec::new());
        };
        Ok(table
            .range(prefix.to_vec()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }

    fn commit(&self, batch: WriteBatch) -> Result<CommitInfo, StoreError> {
        batch.validate()?;
        let mut state = self.lock();
        let epoch = check_fence(batch.fence, state.epoch)?;
        for op in batch.ops {
            match op {
                WriteOp::Put {
                    namespace,
                    key,
                    value,
                } => {
                    state
                        .tables
                        .entry(namespace)
                        .or_default()
                        .insert(key, value);
                }
                WriteOp::Delete { namespace, key } => {
                    if let Some(table) = state.tables.get_mut(&namespace) {
                        table.remove(&key);
                    }
                }
            }
        }
        state.revision += 1;
        state.epoch = epoch;
        Ok(CommitInfo {
            revision: state.revision,
            epoch,
        })
    }

    fn meta(&self) -> Result<Meta, StoreError> {
        let state = self.lock();
        Ok(Meta {
            schema_version: SCHEMA_VERSION,
            revision: state.revision,
            epoch: state.epoch,
        })
    }
}
