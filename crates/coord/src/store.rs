//! [`CoordStore`]: a leader's [`drover_store::Store`] kept in the coordination engine
//! (ZooKeeper), so that whichever process is elected next finds the same state. The master's
//! registry and the Marathon scheduler's state live here when they run with `--zk`.
//!
//! # Layout under the store's root
//!
//! - `<root>/<namespace>/<bucket>/<key>`: one znode per key. Keys are percent-encoded into a
//!   node name; `<bucket>` is two hex digits of a stable hash of the key, so no node has more
//!   than a few hundred children even at 100,000 keys (a `getChildren` answer must fit in
//!   ZooKeeper's 1 MiB packet limit).
//! - `<root>/_meta`: `{"schema_version":…,"revision":…}`, set by every commit.
//! - `<root>/_txn/…`: a batch too large for one ZooKeeper transaction (which is limited to
//!   about 1 MiB), written as chunks, then committed by one small marker node, then applied
//!   and removed (below).
//!
//! # Guarantees (the [`Store`] contract)
//!
//! Every write is a fenced transaction ([`Coordinator::fenced_write`]): once this process's
//! election node is gone, nothing it writes applies. A batch that fits in one transaction
//! (the usual case) is that one transaction. A larger one is made atomic by a small log: its
//! ops go into `_txn/<revision>-<n>` chunks, then `_txn/<revision>-commit` is created in one
//! transaction — the commit point — and only then are the data nodes written and the chunks
//! removed. Whoever opens the store next re-applies a committed batch whose application was cut
//! short (writes are idempotent against the tree as loaded) and drops chunks without a marker
//! (a batch that never committed and so was never acknowledged).
//!
//! Reads are served from a mirror loaded when the store is opened: only the leader uses its
//! store, and every change to the tree goes through it. A commit whose outcome is unknown (the
//! engine did not answer) poisons the store: every later commit fails, so the caller stops
//! acting on a mirror that may differ from the tree.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use drover_store::{CommitInfo, Entry, Epoch, Meta, SCHEMA_VERSION, Store, StoreError, WriteBatch};
use futures::StreamExt;

use crate::{CoordError, Coordinator, Membership, WriteOp, child_path};

/// Largest value one key may hold here: a znode's data must stay below ZooKeeper's 1 MiB
/// packet limit with its path and the transaction around it.
pub const VALUE_BYTES_MAX: usize = 480 * 1024;

/// Budget of one transaction (paths and data); ZooKeeper refuses requests over 1 MiB.
const TXN_BYTES_MAX: usize = 768 * 1024;

/// Budget of one chunk of a large batch.
const CHUNK_BYTES_MAX: usize = 512 * 1024;

/// Reads in flight at once while loading.
const LOAD_CONCURRENCY: usize = 1024;

const META: &str = "_meta";
const TXN: &str = "_txn";

/// A [`Store`] in the coordination engine, written only while `membership` holds.
pub struct CoordStore {
    coordinator: Arc<dyn Coordinator>,
    membership: Membership,
    root: String,
    runtime: tokio::runtime::Handle,
    mirror: Mutex<Mirror>,
    /// Commits run one at a time: each plans against the mirror the previous one left.
    commits: Mutex<()>,
    /// How long one transaction may go unanswered before the commit fails (its outcome is then
    /// unknown, which poisons the store).
    op_timeout: std::time::Duration,
}

impl std::fmt::Debug for CoordStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoordStore")
            .field("root", &self.root)
            .field("membership", &self.membership.path)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Mirror {
    entries: BTreeMap<(String, Vec<u8>), Vec<u8>>,
    /// Nodes known to exist that hold children (namespaces and buckets).
    dirs: BTreeSet<String>,
    revision: u64,
    /// Why the mirror can no longer be trusted, if a commit's outcome is unknown.
    poisoned: Option<String>,
}

fn engine(action: &'static str, error: &CoordError) -> StoreError {
    StoreError::Engine {
        action,
        detail: error.to_string(),
    }
}

/// FNV-1a: stable across builds and platforms, unlike the standard library's hasher.
fn bucket(key: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:02x}", hash % 256)
}

/// A key as a znode name: unreserved bytes stay, everything else (and `%`) becomes `%XX`; a
/// name of dots only is escaped too (`.` and `..` are not valid node names).
pub(crate) fn encode_key(key: &[u8]) -> String {
    let dots_only = key.iter().all(|b| *b == b'.');
    let mut out = String::with_capacity(key.len());
    for byte in key {
        let keep = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'@');
        if keep && !(dots_only && *byte == b'.') {
            out.push(char::from(*byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(crate) fn decode_key(name: &str) -> Option<Vec<u8>> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// One op of a large batch, as a chunk stores it: a kind byte, then length-prefixed
/// namespace, key and (for a put) value.
fn encode_op(op: &drover_store::WriteOp, out: &mut Vec<u8>) {
    let field = |bytes: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    match op {
        drover_store::WriteOp::Put {
            namespace,
            key,
            value,
        } => {
            out.push(b'P');
            field(namespace.as_bytes(), out);
            field(key, out);
            field(value, out);
        }
        drover_store::WriteOp::Delete { namespace, key } => {
            out.push(b'D');
            field(namespace.as_bytes(), out);
            field(key, out);
        }
    }
}

fn decode_ops(mut bytes: &[u8]) -> Option<Vec<drover_store::WriteOp>> {
    fn field<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let value = bytes.get(4..4 + len)?;
        *bytes = &bytes[4 + len..];
        Some(value)
    }
    let mut ops = Vec::new();
    while let Some((&kind, rest)) = bytes.split_first() {
        bytes = rest;
        let namespace = String::from_utf8(field(&mut bytes)?.to_vec()).ok()?;
        let key = field(&mut bytes)?.to_vec();
        ops.push(match kind {
            b'P' => drover_store::WriteOp::Put {
                namespace,
                key,
                value: field(&mut bytes)?.to_vec(),
            },
            b'D' => drover_store::WriteOp::Delete { namespace, key },
            _ => return None,
        });
    }
    Some(ops)
}

fn op_slot(op: &drover_store::WriteOp) -> (&str, &[u8]) {
    match op {
        drover_store::WriteOp::Put { namespace, key, .. }
        | drover_store::WriteOp::Delete { namespace, key } => (namespace, key),
    }
}

fn op_bytes(op: &WriteOp) -> usize {
    // Paths, data and a generous per-op header.
    64 + match op {
        WriteOp::Create { path, data } | WriteOp::Set { path, data } => path.len() + data.len(),
        WriteOp::Delete { path } => path.len(),
    }
}

impl CoordStore {
    /// Opens the store at `root` for the leader holding `membership`: creates the layout if
    /// missing, finishes or drops a large batch a previous leader left half-written, and loads
    /// every key into memory.
    pub async fn open(
        coordinator: Arc<dyn Coordinator>,
        membership: Membership,
        root: &str,
    ) -> Result<CoordStore, StoreError> {
        let store = CoordStore {
            coordinator,
            membership,
            root: root.trim_end_matches('/').to_owned(),
            runtime: tokio::runtime::Handle::current(),
            mirror: Mutex::new(Mirror::default()),
            commits: Mutex::new(()),
            op_timeout: std::time::Duration::from_secs(10),
        };
        if store.root.is_empty() || !store.root.starts_with('/') {
            return Err(StoreError::Engine {
                action: "open",
                detail: format!("the store's root {root:?} is not an absolute znode path"),
            });
        }
        store.create_layout().await?;
        let mirror = store.load().await?;
        *store.lock() = mirror;
        store.recover_large_batches().await?;
        Ok(store)
    }

    /// Sets how long one transaction may go unanswered (Marathon's `--zk_timeout`; 10 s
    /// unless set).
    pub fn set_op_timeout(&mut self, timeout: std::time::Duration) {
        self.op_timeout = timeout;
    }

    fn lock(&self) -> MutexGuard<'_, Mirror> {
        // A panic while holding it cannot leave a half-applied mirror (updates are plain
        // inserts after the write succeeded), so a poisoned lock is still usable.
        self.mirror
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn create_if_missing(&self, path: &str) -> Result<(), StoreError> {
        if self
            .coordinator
            .read(path)
            .await
            .map_err(|e| engine("open", &e))?
            .is_some()
        {
            return Ok(());
        }
        let create = WriteOp::Create {
            path: path.to_owned(),
            data: Vec::new(),
        };
        match self
            .coordinator
            .fenced_write(&self.membership, vec![create])
            .await
        {
            // Someone created it between the read and the write: it exists either way.
            Ok(()) | Err(CoordError::Conflict(_)) => Ok(()),
            Err(error) => Err(self.write_error("open", &error)),
        }
    }

    async fn create_layout(&self) -> Result<(), StoreError> {
        let mut path = String::new();
        for part in self.root.split('/').filter(|p| !p.is_empty()) {
            path.push('/');
            path.push_str(part);
            self.create_if_missing(&path).await?;
        }
        self.create_if_missing(&child_path(&self.root, TXN)).await
    }

    async fn load(&self) -> Result<Mirror, StoreError> {
        let load = |e: CoordError| engine("load", &e);
        let mut mirror = Mirror::default();
        if let Some(meta) = self
            .coordinator
            .read(&child_path(&self.root, META))
            .await
            .map_err(load)?
        {
            let meta: serde_json::Value =
                serde_json::from_slice(&meta).map_err(|e| StoreError::Engine {
                    action: "load",
                    detail: format!("{}/{META} is not the store's metadata: {e}", self.root),
                })?;
            let schema = meta["schema_version"].as_u64().unwrap_or(0);
            if schema > u64::from(SCHEMA_VERSION) {
                return Err(StoreError::Engine {
                    action: "load",
                    detail: format!(
                        "{} was written with schema version {schema}, newer than this Drover's {SCHEMA_VERSION}; run the newer release",
                        self.root
                    ),
                });
            }
            mirror.revision = meta["revision"].as_u64().unwrap_or(0);
        }
        let mut leaves = Vec::new();
        for namespace in self.coordinator.children(&self.root).await.map_err(load)? {
            if namespace.starts_with('_') {
                continue;
            }
            let ns_path = child_path(&self.root, &namespace);
            // The buckets are listed concurrently: one round trip each, hundreds of them.
            let coordinator = &self.coordinator;
            let buckets = coordinator.children(&ns_path).await.map_err(load)?;
            let mut listings = futures::stream::iter(buckets.into_iter().map(|bucket| {
                let bucket_path = child_path(&ns_path, &bucket);
                async move {
                    let names = coordinator.children(&bucket_path).await;
                    (bucket_path, names)
                }
            }))
            .buffer_unordered(LOAD_CONCURRENCY);
            while let Some((bucket_path, names)) = listings.next().await {
                for name in names.map_err(load)? {
                    let key = decode_key(&name).ok_or_else(|| StoreError::Engine {
                        action: "load",
                        detail: format!("{bucket_path}/{name} is not a key this store wrote"),
                    })?;
                    leaves.push((namespace.clone(), key, child_path(&bucket_path, &name)));
                }
                mirror.dirs.insert(bucket_path);
            }
            drop(listings);
            mirror.dirs.insert(ns_path);
        }
        let coordinator = &self.coordinator;
        let mut reads =
            futures::stream::iter(leaves.into_iter().map(|(ns, key, path)| async move {
                let value = coordinator.read(&path).await;
                (ns, key, value)
            }))
            .buffer_unordered(LOAD_CONCURRENCY);
        while let Some((namespace, key, value)) = reads.next().await {
            // A node gone between the listing and the read cannot happen while we lead (only
            // the leader writes); treat it as absent all the same.
            if let Some(value) = value.map_err(load)? {
                mirror.entries.insert((namespace, key), value);
            }
        }
        Ok(mirror)
    }

    /// Finishes committed large batches and drops uncommitted chunks.
    async fn recover_large_batches(&self) -> Result<(), StoreError> {
        let load = |e: CoordError| engine("load", &e);
        let txn = child_path(&self.root, TXN);
        let names = self.coordinator.children(&txn).await.map_err(load)?;
        let committed: BTreeSet<&str> = names
            .iter()
            .filter_map(|n| n.strip_suffix("-commit"))
            .collect();
        let mut drop_paths = Vec::new();
        for name in &names {
            let revision = name.split('-').next().unwrap_or_default();
            if !committed.contains(revision) {
                drop_paths.push(WriteOp::Delete {
                    path: child_path(&txn, name),
                });
            }
        }
        if !drop_paths.is_empty() {
            tracing::warn!(
                chunks = drop_paths.len(),
                "dropping the chunks of a large batch that never committed"
            );
            self.write_all("load", drop_paths).await?;
        }
        for revision in committed {
            let mut ops = Vec::new();
            let mut chunks = Vec::new();
            for name in names
                .iter()
                .filter(|n| n.starts_with(&format!("{revision}-")) && !n.ends_with("-commit"))
            {
                let path = child_path(&txn, name);
                let bytes = self
                    .coordinator
                    .read(&path)
                    .await
                    .map_err(load)?
                    .unwrap_or_default();
                ops.extend(decode_ops(&bytes).ok_or_else(|| StoreError::Engine {
                    action: "load",
                    detail: format!("{path} is not a chunk this store wrote"),
                })?);
                chunks.push(path);
            }
            let revision: u64 = revision.parse().map_err(|_| StoreError::Engine {
                action: "load",
                detail: format!("{txn}/{revision}-commit is not a marker this store wrote"),
            })?;
            tracing::info!(
                revision,
                ops = ops.len(),
                "finishing a committed large batch"
            );
            chunks.push(child_path(&txn, &format!("{revision:020}-commit")));
            self.apply_large(revision, &ops, chunks).await?;
        }
        Ok(())
    }

    /// The error a failed write gives, poisoning the mirror when the outcome is unknown.
    fn write_error(&self, action: &'static str, error: &CoordError) -> StoreError {
        match error {
            CoordError::Fenced(why) => {
                tracing::error!(%why, "a write was fenced: this process no longer leads");
                self.lock().poisoned = Some(error.to_string());
                StoreError::Fenced {
                    batch: Epoch(self.membership.epoch),
                    // The successor's term is unknown here; any later one makes the point.
                    store: Epoch(self.membership.epoch.saturating_add(1)),
                }
            }
            // The engine refused the transaction: nothing applied.
            CoordError::Conflict(_) | CoordError::Invalid(_) => engine(action, error),
            CoordError::SessionLost(_) | CoordError::Engine(_) => {
                self.lock().poisoned = Some(error.to_string());
                engine(action, error)
            }
        }
    }

    /// Writes `ops` in as few transactions as the size budget allows (callers use it only
    /// where a split is safe: idempotent application and cleanup).
    async fn write_all(&self, action: &'static str, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let mut txn = Vec::new();
        let mut size = 0;
        for op in ops {
            let bytes = op_bytes(&op);
            if !txn.is_empty() && size + bytes > TXN_BYTES_MAX {
                self.fenced(action, std::mem::take(&mut txn)).await?;
                size = 0;
            }
            size += bytes;
            txn.push(op);
        }
        if !txn.is_empty() {
            self.fenced(action, txn).await?;
        }
        Ok(())
    }

    async fn fenced(&self, action: &'static str, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let write = self.coordinator.fenced_write(&self.membership, ops);
        match tokio::time::timeout(self.op_timeout, write).await {
            Ok(result) => result.map_err(|e| self.write_error(action, &e)),
            Err(_) => Err(self.write_error(
                action,
                &CoordError::Engine(format!(
                    "no answer to a transaction within {:?}",
                    self.op_timeout
                )),
            )),
        }
    }

    fn meta_op(&self, revision: u64) -> WriteOp {
        WriteOp::Set {
            path: child_path(&self.root, META),
            data: serde_json::json!({"schema_version": SCHEMA_VERSION, "revision": revision})
                .to_string()
                .into_bytes(),
        }
    }

    fn paths(&self, namespace: &str, key: &[u8]) -> (String, String, String) {
        let ns_path = child_path(&self.root, namespace);
        let bucket_path = child_path(&ns_path, &bucket(key));
        let path = child_path(&bucket_path, &encode_key(key));
        (ns_path, bucket_path, path)
    }

    /// The engine writes that take the tree from `mirror` to `mirror` after `ops`, the meta
    /// node's last (created if it does not exist yet). `mirror` itself is changed only once
    /// they applied ([`CoordStore::apply`]).
    fn plan(&self, mirror: &Mirror, ops: &[drover_store::WriteOp], revision: u64) -> Vec<WriteOp> {
        let mut out = Vec::new();
        // Existence as earlier ops of this batch left it, over the mirror.
        let mut exists: BTreeMap<(&str, &[u8]), bool> = BTreeMap::new();
        let mut new_dirs: BTreeSet<String> = BTreeSet::new();
        for op in ops {
            let (namespace, key) = op_slot(op);
            let (ns_path, bucket_path, path) = self.paths(namespace, key);
            let present = exists.get(&(namespace, key)).copied().unwrap_or_else(|| {
                mirror
                    .entries
                    .contains_key(&(namespace.to_owned(), key.to_vec()))
            });
            match op {
                drover_store::WriteOp::Put { value, .. } => {
                    for dir in [ns_path, bucket_path] {
                        if !mirror.dirs.contains(&dir) && new_dirs.insert(dir.clone()) {
                            out.push(WriteOp::Create {
                                path: dir,
                                data: Vec::new(),
                            });
                        }
                    }
                    let data = value.clone();
                    out.push(if present {
                        WriteOp::Set { path, data }
                    } else {
                        WriteOp::Create { path, data }
                    });
                    exists.insert((namespace, key), true);
                }
                drover_store::WriteOp::Delete { .. } => {
                    if present {
                        out.push(WriteOp::Delete { path });
                    }
                    exists.insert((namespace, key), false);
                }
            }
        }
        out.push(if mirror.revision > 0 {
            self.meta_op(revision)
        } else {
            let WriteOp::Set { path, data } = self.meta_op(revision) else {
                unreachable!("meta_op is a set")
            };
            WriteOp::Create { path, data }
        });
        out
    }

    /// Applies `ops` to the mirror, once they applied in the engine.
    fn apply(&self, mirror: &mut Mirror, ops: &[drover_store::WriteOp], revision: u64) {
        for op in ops {
            let (namespace, key) = op_slot(op);
            match op {
                drover_store::WriteOp::Put { value, .. } => {
                    let (ns_path, bucket_path, _) = self.paths(namespace, key);
                    mirror.dirs.insert(ns_path);
                    mirror.dirs.insert(bucket_path);
                    mirror
                        .entries
                        .insert((namespace.to_owned(), key.to_vec()), value.clone());
                }
                drover_store::WriteOp::Delete { .. } => {
                    mirror.entries.remove(&(namespace.to_owned(), key.to_vec()));
                }
            }
        }
        mirror.revision = revision;
    }

    /// Applies a committed large batch to the data nodes, then removes its log nodes.
    async fn apply_large(
        &self,
        revision: u64,
        ops: &[drover_store::WriteOp],
        log: Vec<String>,
    ) -> Result<(), StoreError> {
        let mut writes = {
            let mirror = self.lock();
            self.plan(&mirror, ops, revision)
        };
        // The meta write goes last, with the log's removal, in the final transaction.
        let meta = writes.pop();
        self.write_all("commit", writes).await?;
        let mut last: Vec<WriteOp> = log
            .into_iter()
            .map(|path| WriteOp::Delete { path })
            .collect();
        last.extend(meta);
        self.write_all("commit", last).await?;
        let mut mirror = self.lock();
        self.apply(&mut mirror, ops, revision);
        Ok(())
    }

    async fn commit_async(&self, batch: WriteBatch) -> Result<CommitInfo, StoreError> {
        if let Some(why) = self.lock().poisoned.clone() {
            return Err(StoreError::Engine {
                action: "commit",
                detail: format!(
                    "an earlier write failed ({why}); the store refuses writes until reopened"
                ),
            });
        }
        for op in batch.ops() {
            if let drover_store::WriteOp::Put {
                namespace, value, ..
            } = op
                && value.len() > VALUE_BYTES_MAX
            {
                return Err(StoreError::ValueTooLarge {
                    namespace: namespace.clone(),
                    len: value.len(),
                    max: VALUE_BYTES_MAX,
                });
            }
        }
        let epoch = Epoch(self.membership.epoch);
        let (revision, writes) = {
            let mirror = self.lock();
            let revision = mirror.revision + 1;
            (revision, self.plan(&mirror, batch.ops(), revision))
        };
        let size: usize = writes.iter().map(op_bytes).sum();
        if size <= TXN_BYTES_MAX {
            self.fenced("commit", writes).await?;
            let mut mirror = self.lock();
            self.apply(&mut mirror, batch.ops(), revision);
            return Ok(CommitInfo { revision, epoch });
        }
        // Too large for one transaction: log it in chunks, commit with a marker, apply.
        let txn = child_path(&self.root, TXN);
        let mut chunks: Vec<Vec<u8>> = vec![Vec::new()];
        for op in batch.ops() {
            let mut encoded = Vec::new();
            encode_op(op, &mut encoded);
            if chunks
                .last()
                .is_some_and(|c| !c.is_empty() && c.len() + encoded.len() > CHUNK_BYTES_MAX)
            {
                chunks.push(Vec::new());
            }
            if let Some(chunk) = chunks.last_mut() {
                chunk.extend_from_slice(&encoded);
            }
        }
        let mut log = Vec::new();
        for (n, chunk) in chunks.into_iter().enumerate() {
            let path = child_path(&txn, &format!("{revision:020}-{n:06}"));
            self.fenced(
                "commit",
                vec![WriteOp::Create {
                    path: path.clone(),
                    data: chunk,
                }],
            )
            .await?;
            log.push(path);
        }
        let marker = child_path(&txn, &format!("{revision:020}-commit"));
        self.fenced(
            "commit",
            vec![WriteOp::Create {
                path: marker.clone(),
                data: Vec::new(),
            }],
        )
        .await?;
        log.push(marker);
        // Committed: from here a failure is finished by whoever opens the store next.
        self.apply_large(revision, batch.ops(), log).await?;
        Ok(CommitInfo { revision, epoch })
    }

    /// Runs an engine call from the store's synchronous interface.
    fn block<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::runtime::Handle::try_current() {
            Err(_) => self.runtime.block_on(future),
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.runtime.block_on(future))
            }
            Ok(_) => Err(StoreError::Engine {
                action: "commit",
                detail: "a store on the coordination engine must be committed to from a \
                         multi-threaded runtime or a blocking thread"
                    .to_owned(),
            }),
        }
    }
}

impl Store for CoordStore {
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .lock()
            .entries
            .get(&(namespace.to_owned(), key.to_vec()))
            .cloned())
    }

    fn scan(&self, namespace: &str, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        let mirror = self.lock();
        let start = (namespace.to_owned(), prefix.to_vec());
        Ok(mirror
            .entries
            .range(start..)
            .take_while(|((ns, key), _)| ns == namespace && key.starts_with(prefix))
            .map(|((_, key), value)| (key.clone(), value.clone()))
            .collect())
    }

    fn commit(&self, batch: WriteBatch) -> Result<CommitInfo, StoreError> {
        batch.validate()?;
        let _one_at_a_time = self
            .commits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.block(self.commit_async(batch))
    }

    fn meta(&self) -> Result<Meta, StoreError> {
        Ok(Meta {
            schema_version: SCHEMA_VERSION,
            revision: self.lock().revision,
            epoch: Epoch(self.membership.epoch),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryEnsemble;

    async fn leader(ensemble: &MemoryEnsemble) -> (Arc<dyn Coordinator>, Membership) {
        let coordinator: Arc<dyn Coordinator> = Arc::new(ensemble.session());
        let membership = coordinator
            .join("/test/leader", "member_", b"me".to_vec())
            .await
            .expect("join");
        (coordinator, membership)
    }

    fn put(batch: &mut WriteBatch, ns: &str, key: &str, value: &[u8]) {
        batch.put(ns, key, value.to_vec());
    }

    #[test]
    fn keys_round_trip_through_node_names() {
        for key in [
            &b"app//web@00001"[..],
            b"..",
            b".",
            b"a%b",
            b"\x00\xff",
            b"instance/x.y-z_1",
        ] {
            let name = encode_key(key);
            assert!(!name.contains('/') && name != "." && name != "..", "{name}");
            assert_eq!(decode_key(&name).as_deref(), Some(key));
        }
        assert_eq!(encode_key(b"app/web"), "app%2Fweb");
    }

    #[test]
    fn chunk_encoding_round_trips() {
        let ops = vec![
            drover_store::WriteOp::Put {
                namespace: "marathon".into(),
                key: b"app/x".to_vec(),
                value: vec![1, 2, 3],
            },
            drover_store::WriteOp::Delete {
                namespace: "m".into(),
                key: b"k".to_vec(),
            },
        ];
        let mut bytes = Vec::new();
        for op in &ops {
            encode_op(op, &mut bytes);
        }
        assert_eq!(decode_ops(&bytes), Some(ops));
        assert_eq!(decode_ops(&bytes[..bytes.len() - 1]), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_survive_into_the_next_leaders_store() {
        let ensemble = MemoryEnsemble::new();
        let (coordinator, membership) = leader(&ensemble).await;
        let store = CoordStore::open(coordinator.clone(), membership, "/test/state")
            .await
            .expect("open");
        let mut batch = WriteBatch::new();
        put(&mut batch, "marathon", "app/web", b"{\"id\":\"/web\"}");
        put(&mut batch, "marathon", "app/api", b"{}");
        put(&mut batch, "registry", "agent/a1", b"a1");
        let info = store.commit(batch).expect("commit");
        assert_eq!(info.revision, 1);
        let mut batch = WriteBatch::new();
        batch.delete("marathon", "app/api");
        batch.delete("marathon", "app/never-there");
        put(&mut batch, "marathon", "app/web", b"v2");
        assert_eq!(store.commit(batch).expect("commit").revision, 2);
        assert_eq!(
            store.scan("marathon", b"app/").expect("scan"),
            vec![(b"app/web".to_vec(), b"v2".to_vec())]
        );
        drop(store);
        drop(coordinator);
        // The old leader's session ended with it; the next one loads what it committed.
        let (coordinator, membership) = leader(&ensemble).await;
        let store = CoordStore::open(coordinator, membership, "/test/state")
            .await
            .expect("reopen");
        assert_eq!(store.meta().expect("meta").revision, 2);
        assert_eq!(
            store.scan("marathon", b"").expect("scan"),
            vec![(b"app/web".to_vec(), b"v2".to_vec())]
        );
        assert_eq!(
            store.get("registry", b"agent/a1").expect("get"),
            Some(b"a1".to_vec())
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_deposed_leader_cannot_commit_and_stays_refused() {
        let ensemble = MemoryEnsemble::new();
        let session = ensemble.session();
        let id = session.id();
        let coordinator: Arc<dyn Coordinator> = Arc::new(session);
        let membership = coordinator
            .join("/test/leader", "member_", Vec::new())
            .await
            .expect("join");
        let store = CoordStore::open(coordinator, membership, "/test/state")
            .await
            .expect("open");
        ensemble.expire(id);
        let mut batch = WriteBatch::new();
        put(&mut batch, "marathon", "app/web", b"x");
        let error = store.commit(batch).expect_err("fenced");
        assert!(matches!(error, StoreError::Fenced { .. }), "{error:?}");
        assert_eq!(store.get("marathon", b"app/web").expect("get"), None);
        let (coordinator, membership) = leader(&ensemble).await;
        let next = CoordStore::open(coordinator, membership, "/test/state")
            .await
            .expect("open");
        assert_eq!(next.get("marathon", b"app/web").expect("get"), None);
        let error = store.commit(WriteBatch::new()).expect_err("still refused");
        assert!(matches!(error, StoreError::Engine { .. }), "{error:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_larger_than_one_transaction_applies_whole() {
        let ensemble = MemoryEnsemble::new();
        let (coordinator, membership) = leader(&ensemble).await;
        let store = CoordStore::open(coordinator.clone(), membership, "/test/state")
            .await
            .expect("open");
        let value = vec![b'x'; 100 * 1024];
        let mut batch = WriteBatch::new();
        for n in 0..30 {
            put(&mut batch, "marathon", &format!("instance/{n:03}"), &value);
        }
        store.commit(batch).expect("large commit");
        assert!(
            coordinator
                .children("/test/state/_txn")
                .await
                .expect("children")
                .is_empty(),
            "the log of a finished batch is removed"
        );
        let (next, membership) = leader(&ensemble).await;
        drop(store);
        drop(coordinator);
        let store = CoordStore::open(next, membership, "/test/state")
            .await
            .expect("reopen");
        assert_eq!(
            store.scan("marathon", b"instance/").expect("scan").len(),
            30
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_committed_large_batch_cut_short_is_finished_and_an_uncommitted_one_dropped() {
        let ensemble = MemoryEnsemble::new();
        let (coordinator, membership) = leader(&ensemble).await;
        let store = CoordStore::open(coordinator.clone(), membership.clone(), "/test/state")
            .await
            .expect("open");
        // A leader that died after the commit marker (revision 1) and one that died before
        // its marker (revision 2), written by hand as the log would be.
        let mut committed = Vec::new();
        encode_op(
            &drover_store::WriteOp::Put {
                namespace: "marathon".into(),
                key: b"app/kept".to_vec(),
                value: b"1".to_vec(),
            },
            &mut committed,
        );
        let mut uncommitted = Vec::new();
        encode_op(
            &drover_store::WriteOp::Put {
                namespace: "marathon".into(),
                key: b"app/lost".to_vec(),
                value: b"2".to_vec(),
            },
            &mut uncommitted,
        );
        let txn = "/test/state/_txn";
        coordinator
            .fenced_write(
                &membership,
                vec![
                    WriteOp::Create {
                        path: format!("{txn}/{:020}-000000", 1),
                        data: committed,
                    },
                    WriteOp::Create {
                        path: format!("{txn}/{:020}-commit", 1),
                        data: Vec::new(),
                    },
                    WriteOp::Create {
                        path: format!("{txn}/{:020}-000000", 2),
                        data: uncommitted,
                    },
                ],
            )
            .await
            .expect("write the log");
        drop(store);
        let reopened = CoordStore::open(coordinator.clone(), membership, "/test/state")
            .await
            .expect("reopen");
        assert_eq!(
            reopened.get("marathon", b"app/kept").expect("get"),
            Some(b"1".to_vec())
        );
        assert_eq!(reopened.get("marathon", b"app/lost").expect("get"), None);
        assert!(
            coordinator
                .children(txn)
                .await
                .expect("children")
                .is_empty()
        );
        assert_eq!(reopened.meta().expect("meta").revision, 1);
    }
}
