//! [`RedbStore`]: the on-disk [`Store`], one redb file per work dir. Owns the file layout (one
//! redb table per namespace, plus the reserved `_meta` table) and the mapping of redb's errors
//! onto [`StoreError`].

use std::collections::BTreeMap;
use std::fs::{self, File, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use redb::{Database, DatabaseError, Durability, ReadableDatabase, StorageError, TableDefinition};
use redb::{ReadableTable, TableError};

use crate::{
    CommitInfo, Entry, Epoch, Meta, SCHEMA_VERSION, Store, StoreError, WriteBatch, WriteOp,
    check_fence, validate_key, validate_namespace,
};

/// The store's own bookkeeping. User namespaces cannot start with `_`, so it cannot collide.
const META: TableDefinition<&str, u64> = TableDefinition::new("_meta");
const META_SCHEMA_VERSION: &str = "schema_version";
const META_REVISION: &str = "revision";
const META_EPOCH: &str = "epoch";

type Namespace<'a> = TableDefinition<'a, &'static [u8], &'static [u8]>;

/// A [`Store`] in a single redb file, `drover.redb`, in a directory of its own.
///
/// Every commit uses [`Durability::Immediate`]: redb writes the new commit slot, flips the
/// header's primary bit and fsyncs before `commit` returns, so an acknowledged batch survives any
/// crash, and a crash mid-commit leaves the previous slot, whose checksum still verifies, in
/// force. `drover.lock` in the same directory is locked while the store is open, so a second
/// process on the same dir gets [`StoreError::InUse`] rather than sharing the file. The lock
/// belongs to the open file, so a child forked by another thread holds it until it execs: a
/// process that reopens its store while spawning children may see `InUse` for that instant.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    /// Held, never read: the lock lasts as long as this handle (or the process).
    _lock: File,
}

impl RedbStore {
    /// Name of the store's file inside the directory given to [`RedbStore::open`].
    pub const FILE_NAME: &str = "drover.redb";

    /// Name of the lock file next to it.
    pub const LOCK_FILE_NAME: &str = "drover.lock";

    /// Name under which a new file is prepared before it becomes [`Self::FILE_NAME`].
    const NEW_FILE_NAME: &str = "drover.redb.new";

    /// Opens the store in `dir`, creating the directory and the file if missing. A file left by a
    /// crash is repaired here (redb walks and verifies it), so this may take a moment.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        let open_failed = |source| StoreError::Open {
            path: dir.to_owned(),
            source,
        };
        fs::create_dir_all(dir).map_err(open_failed)?;
        // Our own lock, taken before touching any file, so that preparing a new file below never
        // races another process. The kernel drops it when the process dies, however it dies.
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(Self::LOCK_FILE_NAME))
            .map_err(open_failed)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::InUse {
                    path: dir.to_owned(),
                });
            }
            Err(TryLockError::Error(source)) => return Err(open_failed(source)),
        }

        let path = dir.join(Self::FILE_NAME);
        if !path.try_exists().map_err(open_failed)? {
            create_file(dir, &path)?;
        }
        let db = Database::builder()
            .open(&path)
            .map_err(|error| open_error(&path, error))?;
        let store = Self {
            db,
            path,
            _lock: lock,
        };
        store.check_schema()?;
        Ok(store)
    }

    /// The redb file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Turns a redb error met while doing `action` into a [`StoreError`] naming the file.
    fn fail<E: Into<redb::Error>>(&self, action: &'static str) -> impl FnOnce(E) -> StoreError {
        let path = self.path.clone();
        move |error| StoreError::Redb {
            path,
            action,
            source: Box::new(error.into()),
        }
    }

    /// Refuses a file from a newer release, or one that was never stamped.
    fn check_schema(&self) -> Result<(), StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            path: self.path.clone(),
            detail,
        };
        let txn = self.db.begin_read().map_err(self.fail("open"))?;
        let meta = match txn.open_table(META) {
            Ok(meta) => meta,
            Err(TableError::TableDoesNotExist(_)) => {
                return Err(corrupt("it has no metadata table".to_owned()));
            }
            Err(error) => return Err(self.fail("open")(error)),
        };
        let found = meta
            .get(META_SCHEMA_VERSION)
            .map_err(self.fail("open"))?
            .map(|guard| guard.value());
        match found {
            Some(found) if found == u64::from(SCHEMA_VERSION) => Ok(()),
            Some(found) if found > u64::from(SCHEMA_VERSION) => Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
                supported: SCHEMA_VERSION,
            }),
            // Version 1 is the first; migrations from older versions go here when they exist.
            Some(found) => Err(corrupt(format!(
                "schema version {found} was never written by Drover"
            ))),
            None => Err(corrupt("it has no schema version".to_owned())),
        }
    }

    fn commit_ops(&self, batch: &WriteBatch) -> Result<CommitInfo, StoreError> {
        let mut txn = self.db.begin_write().map_err(self.fail("commit"))?;
        txn.set_durability(Durability::Immediate)
            .map_err(self.fail("commit"))?;
        let info = {
            // Reading the epoch inside the write transaction makes check-and-raise atomic with
            // respect to any other writer. Returning early drops `txn`, which aborts it.
            let mut meta = txn.open_table(META).map_err(self.fail("commit"))?;
            let read = |key| -> Result<u64, StoreError> {
                let value = meta.get(key).map_err(self.fail("commit"))?;
                Ok(value.map_or(0, |guard| guard.value()))
            };
            let epoch = check_fence(batch.fence, Epoch(read(META_EPOCH)?))?;
            let revision = read(META_REVISION)? + 1;
            meta.insert(META_REVISION, revision)
                .map_err(self.fail("commit"))?;
            meta.insert(META_EPOCH, epoch.0)
                .map_err(self.fail("commit"))?;
            CommitInfo { revision, epoch }
        };
        {
            // Several tables may be open at once in one transaction; keep each open for the batch.
            let mut tables = BTreeMap::new();
            for op in &batch.ops {
                let (WriteOp::Put { namespace, .. } | WriteOp::Delete { namespace, .. }) = op;
                if !tables.contains_key(namespace.as_str()) {
                    let table = txn
                        .open_table(Namespace::new(namespace))
                        .map_err(self.fail("commit"))?;
                    tables.insert(namespace.as_str(), table);
                }
                let table = tables
                    .get_mut(namespace.as_str())
                    .expect("the table was opened just above");
                match op {
                    WriteOp::Put { key, value, .. } => {
                        table
                            .insert(key.as_slice(), value.as_slice())
                            .map_err(self.fail("commit"))?;
                    }
                    WriteOp::Delete { key, .. } => {
                        table.remove(key.as_slice()).map_err(self.fail("commit"))?;
                    }
                }
            }
        }
        txn.commit().map_err(self.fail("commit"))?;
        Ok(info)
    }
}

impl Store for RedbStore {
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        validate_namespace(namespace)?;
        validate_key(namespace, key)?;
        let txn = self.db.begin_read().map_err(self.fail("read"))?;
        let table = match txn.open_table(Namespace::new(namespace)) {
            Ok(table) => table,
            // Tables appear on first write; an unwritten namespace reads as empty.
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(self.fail("read")(error)),
        };
        let value = table.get(key).map_err(self.fail("read"))?;
        Ok(value.map(|guard| guard.value().to_vec()))
    }

    fn scan(&self, namespace: &str, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        validate_namespace(namespace)?;
        validate_key(namespace, prefix)?;
        let txn = self.db.begin_read().map_err(self.fail("scan"))?;
        let table = match txn.open_table(Namespace::new(namespace)) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(self.fail("scan")(error)),
        };
        let mut entries = Vec::new();
        for entry in table.range(prefix..).map_err(self.fail("scan"))? {
            let (key, value) = entry.map_err(self.fail("scan"))?;
            if !key.value().starts_with(prefix) {
                break;
            }
            entries.push((key.value().to_vec(), value.value().to_vec()));
        }
        Ok(entries)
    }

    fn commit(&self, batch: WriteBatch) -> Result<CommitInfo, StoreError> {
        batch.validate()?;
        self.commit_ops(&batch)
    }

    fn meta(&self) -> Result<Meta, StoreError> {
        let txn = self.db.begin_read().map_err(self.fail("read"))?;
        let meta = txn.open_table(META).map_err(self.fail("read"))?;
        let read = |key| -> Result<u64, StoreError> {
            let value = meta.get(key).map_err(self.fail("read"))?;
            Ok(value.map_or(0, |guard| guard.value()))
        };
        Ok(Meta {
            // `open` checked it, so it fits.
            schema_version: u32::try_from(read(META_SCHEMA_VERSION)?).unwrap_or(u32::MAX),
            revision: read(META_REVISION)?,
            epoch: Epoch(read(META_EPOCH)?),
        })
    }
}

/// Creates the store file at `path`, stamped with [`SCHEMA_VERSION`], such that a crash at any
/// point leaves either no file at `path` or a complete one. redb writes its header in place, so a
/// crash while creating the file directly at `path` would leave a file that is not a database
/// and that no later open could tell from a corrupted one. The caller holds the dir lock.
fn create_file(dir: &Path, path: &Path) -> Result<(), StoreError> {
    let new_path = dir.join(RedbStore::NEW_FILE_NAME);
    let open_failed = |source| StoreError::Open {
        path: new_path.clone(),
        source,
    };
    let fail = |error: redb::Error| StoreError::Redb {
        path: new_path.clone(),
        action: "create",
        source: Box::new(error),
    };
    // Left over by a crash during an earlier create; nothing in it was ever acknowledged.
    match fs::remove_file(&new_path) {
        Err(error) if error.kind() != ErrorKind::NotFound => return Err(open_failed(error)),
        _ => {}
    }
    let db = Database::builder()
        .create(&new_path)
        .map_err(|error| open_error(&new_path, error))?;
    let txn = db.begin_write().map_err(|error| fail(error.into()))?;
    {
        let mut meta = txn.open_table(META).map_err(|error| fail(error.into()))?;
        meta.insert(META_SCHEMA_VERSION, u64::from(SCHEMA_VERSION))
            .map_err(|error| fail(error.into()))?;
    }
    // A durable commit: the file is complete on disk before it gets its final name.
    txn.commit().map_err(|error| fail(error.into()))?;
    db.close().map_err(|error| fail(error.into()))?;
    fs::rename(&new_path, path).map_err(open_failed)?;
    // The rename is durable only once the directory is synced.
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(open_failed)
}

/// Maps a failed `Database::create` onto the errors an operator can act on.
fn open_error(path: &Path, error: DatabaseError) -> StoreError {
    match error {
        // LockProtocolMismatch: another process with a different redb version holds the file.
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            StoreError::InUse {
                path: path.to_owned(),
            }
        }
        // redb's word for "this file is not a redb database" (e.g. magic number mismatch).
        DatabaseError::Storage(StorageError::Io(source))
            if source.kind() == ErrorKind::InvalidData =>
        {
            StoreError::Corrupt {
                path: path.to_owned(),
                detail: source.to_string(),
            }
        }
        DatabaseError::Storage(StorageError::Io(source)) => StoreError::Open {
            path: path.to_owned(),
            source,
        },
        error => StoreError::Redb {
            path: path.to_owned(),
            action: "open",
            source: Box::new(error.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file stamped by a newer release is refused with a message that says so.
    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(RedbStore::open(dir.path()).unwrap());
        let db = Database::create(dir.path().join(RedbStore::FILE_NAME)).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert(META_SCHEMA_VERSION, u64::from(SCHEMA_VERSION) + 1)
            .unwrap();
        txn.commit().unwrap();
        drop(db);

        let error = RedbStore::open(dir.path()).unwrap_err();
        assert!(
            matches!(error, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1)
        );
        assert!(
            error.to_string().contains("newer than version 1"),
            "{error}"
        );
    }
}
