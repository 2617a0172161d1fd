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
//!
//! A process standing by to lead next keeps a copy of the tree current ([`Standby`], reading
//! only); once elected, its store starts from that copy instead of reading every key again,
//! but only if `_meta` and `_txn` prove that nothing was committed since the copy's load
//! began ([`CoordStore::open_warm`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
    /// Whether the mirror came from a standby's [`WarmCopy`].
    used_warm_copy: bool,
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
        Self::open_warm(coordinator, membership, root, None).await
    }

    /// Like [`CoordStore::open`], starting from `warm` (what a standby loaded while it
    /// followed) instead of reading every key, when that copy is provably the tree as it is
    /// now: `_meta` holds exactly what it held when the copy's load began (every commit sets
    /// it in the same transaction, so no commit happened since) and `_txn` is empty (no large
    /// batch is half-applied: its data writes are the only ones that precede their `_meta`
    /// write). Otherwise, or when anything of that check fails, every key is read as `open`
    /// does. Called once elected: from then on nothing but this process writes the tree.
    pub async fn open_warm(
        coordinator: Arc<dyn Coordinator>,
        membership: Membership,
        root: &str,
        warm: Option<WarmCopy>,
    ) -> Result<CoordStore, StoreError> {
        let mut store = CoordStore {
            coordinator,
            membership,
            root: root.trim_end_matches('/').to_owned(),
            runtime: tokio::runtime::Handle::current(),
            mirror: Mutex::new(Mirror::default()),
            commits: Mutex::new(()),
            op_timeout: std::time::Duration::from_secs(10),
            used_warm_copy: false,
        };
        if store.root.is_empty() || !store.root.starts_with('/') {
            return Err(StoreError::Engine {
                action: "open",
                detail: format!("the store's root {root:?} is not an absolute znode path"),
            });
        }
        store.create_layout().await?;
        let mirror = match warm {
            Some(copy) => match store.check_warm(&copy).await {
                Ok(()) => {
                    tracing::info!(
                        revision = copy.mirror.revision,
                        keys = copy.mirror.entries.len(),
                        "the standby's copy of the store is current: using it"
                    );
                    store.used_warm_copy = true;
                    copy.mirror
                }
                Err(why) => {
                    tracing::info!(%why, "not using the standby's copy of the store: loading it");
                    store.load().await?
                }
            },
            None => store.load().await?,
        };
        *store.lock() = mirror;
        store.recover_large_batches().await?;
        Ok(store)
    }

    /// Why `copy` may not stand for the tree now, if it may not.
    async fn check_warm(&self, copy: &WarmCopy) -> Result<(), String> {
        if copy.root != self.root {
            return Err(format!("it is of {}, not {}", copy.root, self.root));
        }
        let pending = self
            .coordinator
            .children(&child_path(&self.root, TXN))
            .await
            .map_err(|e| format!("cannot list {TXN}: {e}"))?;
        if !pending.is_empty() {
            return Err(format!(
                "{TXN} holds a large batch ({} nodes)",
                pending.len()
            ));
        }
        let meta = self
            .coordinator
            .read(&child_path(&self.root, META))
            .await
            .map_err(|e| format!("cannot read {META}: {e}"))?;
        if meta != copy.meta {
            return Err(format!(
                "a commit happened since its load began ({META}: {} then, {} now)",
                describe_meta(copy.meta.as_deref()),
                describe_meta(meta.as_deref())
            ));
        }
        Ok(())
    }

    /// Whether [`CoordStore::open_warm`] used the standby's copy rather than reading every
    /// key.
    pub fn used_warm_copy(&self) -> bool {
        self.used_warm_copy
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
        Ok(load_tree(self.coordinator.as_ref(), &self.root).await?.1)
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

/// `_meta`'s revision for a log line.
fn describe_meta(meta: Option<&[u8]>) -> String {
    match meta {
        None => "absent".to_owned(),
        Some(bytes) => serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|m| m["revision"].as_u64())
            .map_or_else(|| "unreadable".to_owned(), |r| format!("revision {r}")),
    }
}

/// Reads the whole tree under `root` into a mirror, without writing anything: `_meta` first
/// (returned as read, with the mirror), then every key. What `_meta` held before the first key
/// was read is what [`CoordStore::check_warm`] compares with.
async fn load_tree(
    coordinator: &dyn Coordinator,
    root: &str,
) -> Result<(Option<Vec<u8>>, Mirror), StoreError> {
    let load = |e: CoordError| engine("load", &e);
    let mut mirror = Mirror::default();
    let meta_raw = coordinator
        .read(&child_path(root, META))
        .await
        .map_err(load)?;
    if let Some(meta) = &meta_raw {
        let meta: serde_json::Value =
            serde_json::from_slice(meta).map_err(|e| StoreError::Engine {
                action: "load",
                detail: format!("{root}/{META} is not the store's metadata: {e}"),
            })?;
        let schema = meta["schema_version"].as_u64().unwrap_or(0);
        if schema > u64::from(SCHEMA_VERSION) {
            return Err(StoreError::Engine {
                action: "load",
                detail: format!(
                    "{root} was written with schema version {schema}, newer than this Drover's {SCHEMA_VERSION}; run the newer release"
                ),
            });
        }
        mirror.revision = meta["revision"].as_u64().unwrap_or(0);
    }
    let mut leaves = Vec::new();
    for namespace in coordinator.children(root).await.map_err(load)? {
        if namespace.starts_with('_') {
            continue;
        }
        let ns_path = child_path(root, &namespace);
        // The buckets are listed concurrently: one round trip each, hundreds of them.
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
    let mut reads = futures::stream::iter(leaves.into_iter().map(|(ns, key, path)| async move {
        let value = coordinator.read(&path).await;
        (ns, key, value)
    }))
    .buffer_unordered(LOAD_CONCURRENCY);
    while let Some((namespace, key, value)) = reads.next().await {
        // A node gone between the listing and the read: absent. (While a leader writes, a
        // standby's load may see that; its copy is then used only if `_meta` proves that no
        // commit happened since the load began, which rules it out.)
        if let Some(value) = value.map_err(load)? {
            mirror.entries.insert((namespace, key), value);
        }
    }
    Ok((meta_raw, mirror))
}

/// A copy of a store's tree that a process which does not lead loaded (reading only), with
/// what `_meta` held when the load began. [`CoordStore::open_warm`] uses it only while `_meta`
/// still holds exactly that.
#[derive(Debug)]
pub struct WarmCopy {
    root: String,
    meta: Option<Vec<u8>>,
    mirror: Mirror,
}

impl WarmCopy {
    /// Reads the store at `root` (no write: a follower may call it while another process
    /// leads).
    pub async fn load(coordinator: &dyn Coordinator, root: &str) -> Result<WarmCopy, StoreError> {
        let root = root.trim_end_matches('/').to_owned();
        let (meta, mirror) = load_tree(coordinator, &root).await?;
        Ok(WarmCopy { root, meta, mirror })
    }

    /// The revision `_meta` held when the load began (0 for a store never committed to).
    pub fn revision(&self) -> u64 {
        self.mirror.revision
    }
}

/// How a [`Standby`] paces its reads of the tree.
#[derive(Debug, Clone, Copy)]
pub struct StandbyPacing {
    /// How often `_meta` (one small node) is read to see whether the copy is still current.
    pub poll: Duration,
    /// The least time between the end of one load and the start of the next; the next also
    /// waits twice as long as the last load took, so loading takes at most a third of the
    /// time however often the leader commits.
    pub gap: Duration,
    /// A change is loaded once `_meta` has stayed the same for one poll (the leader paused),
    /// or, under constant commits, once the copy is this old.
    pub stale_max: Duration,
}

impl Default for StandbyPacing {
    fn default() -> Self {
        StandbyPacing {
            poll: Duration::from_millis(500),
            gap: Duration::from_secs(1),
            stale_max: Duration::from_secs(10),
        }
    }
}

/// Keeps a [`WarmCopy`] of the store at a root current while this process stands by (follows
/// another leader), so that once elected it need not read every key again. A background task
/// polls `_meta` and re-loads the tree when it changed, one load at a time and paced by
/// [`StandbyPacing`]; it only reads. [`Standby::take`] stops it and hands over the copy.
#[derive(Debug)]
pub struct Standby {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Option<WarmCopy>>,
    revision: tokio::sync::watch::Receiver<Option<u64>>,
    loads: Arc<AtomicU64>,
}

impl Standby {
    /// Starts keeping a copy of the store at `root` (on the current runtime).
    pub fn start(coordinator: Arc<dyn Coordinator>, root: &str, pacing: StandbyPacing) -> Standby {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let (revision_tx, revision) = tokio::sync::watch::channel(None);
        let loads = Arc::new(AtomicU64::new(0));
        let counted = loads.clone();
        let root = root.trim_end_matches('/').to_owned();
        let task = tokio::spawn(async move {
            let meta_path = child_path(&root, META);
            let mut copy: Option<WarmCopy> = None;
            // `_meta` at the previous poll, and when the copy's load and the last load ended.
            let mut previous: Option<Option<Vec<u8>>> = None;
            let mut loaded_at: Option<Instant> = None;
            let mut next_load = Instant::now();
            loop {
                if *stopped.borrow() || !coordinator.is_live() {
                    break;
                }
                let meta = match coordinator.read(&meta_path).await {
                    Ok(meta) => Some(meta),
                    Err(error) => {
                        tracing::debug!(%error, "standby: cannot read the store's revision");
                        None
                    }
                };
                if let Some(meta) = meta {
                    let current = copy.as_ref().is_some_and(|c| c.meta == meta);
                    let quiet = previous.as_ref() == Some(&meta);
                    let stale = loaded_at.is_none_or(|at| at.elapsed() >= pacing.stale_max);
                    if !current
                        && (quiet || stale)
                        && Instant::now() >= next_load
                        && !*stopped.borrow()
                    {
                        let started = Instant::now();
                        match WarmCopy::load(coordinator.as_ref(), &root).await {
                            Ok(loaded) => {
                                tracing::debug!(
                                    revision = loaded.revision(),
                                    keys = loaded.mirror.entries.len(),
                                    took_ms = started.elapsed().as_millis() as u64,
                                    "standby: loaded a copy of the store"
                                );
                                revision_tx.send_replace(Some(loaded.revision()));
                                copy = Some(loaded);
                                loaded_at = Some(started);
                            }
                            Err(error) => {
                                tracing::warn!(%error, "standby: cannot load a copy of the store");
                            }
                        }
                        counted.fetch_add(1, Ordering::Relaxed);
                        next_load = Instant::now() + pacing.gap.max(started.elapsed() * 2);
                    }
                    previous = Some(meta);
                }
                tokio::select! {
                    _ = tokio::time::sleep(pacing.poll) => {}
                    // Told to stop (the loop's check), or the handle is gone: stop either way.
                    changed = stopped.changed() => if changed.is_err() {
                        break;
                    },
                }
            }
            copy
        });
        Standby {
            stop,
            task,
            revision,
            loads,
        }
    }

    /// The revision of the copy held now (`None` before the first load), as it changes.
    pub fn revision(&self) -> tokio::sync::watch::Receiver<Option<u64>> {
        self.revision.clone()
    }

    /// How many loads of the tree were started so far.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// Stops keeping the copy and returns it, once a load in flight (if any) has finished.
    /// Whether it is current is for [`CoordStore::open_warm`] to check.
    pub async fn take(self) -> Option<WarmCopy> {
        self.stop.send_replace(true);
        self.task.await.ok().flatten()
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

    /// The log of a large batch of one put at `revision`, as a leader writes it under `txn`
    /// (one data chunk), with its commit marker when `committed`.
    fn large_batch(
        txn: &str,
        revision: u64,
        namespace: &str,
        key: &[u8],
        value: &[u8],
        committed: bool,
    ) -> Vec<WriteOp> {
        let mut chunk = Vec::new();
        encode_op(
            &drover_store::WriteOp::Put {
                namespace: namespace.into(),
                key: key.to_vec(),
                value: value.to_vec(),
            },
            &mut chunk,
        );
        let mut ops = vec![WriteOp::Create {
            path: format!("{txn}/{revision:020}-000000"),
            data: chunk,
        }];
        if committed {
            ops.push(WriteOp::Create {
                path: format!("{txn}/{revision:020}-commit"),
                data: Vec::new(),
            });
        }
        ops
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
        let txn = "/test/state/_txn";
        let mut log = large_batch(txn, 1, "marathon", b"app/kept", b"1", true);
        log.extend(large_batch(txn, 2, "marathon", b"app/lost", b"2", false));
        coordinator
            .fenced_write(&membership, log)
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

    /// A standby's copy stands for the tree only while `_meta` is what it was when the load
    /// began and no large batch is pending; the store opened from it reads what was committed
    /// either way.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_warm_copy_is_used_only_while_nothing_was_committed_since_its_load() {
        let ensemble = MemoryEnsemble::new();
        let (coordinator, membership) = leader(&ensemble).await;
        let store = CoordStore::open(coordinator.clone(), membership.clone(), "/test/state")
            .await
            .expect("open");
        let mut batch = WriteBatch::new();
        put(&mut batch, "registry", "agent/a1", b"v1");
        store.commit(batch).expect("commit");
        let (standby, _) = leader(&ensemble).await;
        let copy = WarmCopy::load(standby.as_ref(), "/test/state")
            .await
            .expect("load");
        assert_eq!(copy.revision(), 1);
        // Nothing committed since: the copy is used.
        let (next, next_membership) = leader(&ensemble).await;
        let opened = CoordStore::open_warm(
            next.clone(),
            next_membership.clone(),
            "/test/state",
            Some(copy),
        )
        .await
        .expect("open warm");
        assert!(opened.used_warm_copy());
        assert_eq!(
            opened.get("registry", b"agent/a1").expect("get"),
            Some(b"v1".to_vec())
        );
        drop(opened);
        // A commit after the load: the copy is stale and not used; the write is there.
        let copy = WarmCopy::load(standby.as_ref(), "/test/state")
            .await
            .expect("load");
        let mut batch = WriteBatch::new();
        put(&mut batch, "registry", "agent/a1", b"v2");
        put(&mut batch, "registry", "agent/a2", b"new");
        store.commit(batch).expect("commit");
        let opened = CoordStore::open_warm(
            next.clone(),
            next_membership.clone(),
            "/test/state",
            Some(copy),
        )
        .await
        .expect("open");
        assert!(!opened.used_warm_copy());
        assert_eq!(
            opened.get("registry", b"agent/a1").expect("get"),
            Some(b"v2".to_vec())
        );
        assert_eq!(opened.meta().expect("meta").revision, 2);
        drop(opened);
        // A large batch cut short after its commit marker (its data written, `_meta` not yet):
        // the copy is not used, and the batch is finished.
        let copy = WarmCopy::load(standby.as_ref(), "/test/state")
            .await
            .expect("load");
        let txn = "/test/state/_txn";
        coordinator
            .fenced_write(
                &membership,
                large_batch(txn, 3, "registry", b"agent/a3", b"large", true),
            )
            .await
            .expect("write the log");
        let opened = CoordStore::open_warm(next, next_membership, "/test/state", Some(copy))
            .await
            .expect("open");
        assert!(!opened.used_warm_copy());
        assert_eq!(
            opened.get("registry", b"agent/a3").expect("get"),
            Some(b"large".to_vec())
        );
        assert_eq!(opened.meta().expect("meta").revision, 3);
    }

    /// A standby re-loads when `_meta` changes, and hands over its copy.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_standby_follows_the_leaders_commits() {
        let ensemble = MemoryEnsemble::new();
        let (coordinator, membership) = leader(&ensemble).await;
        let store = CoordStore::open(coordinator, membership, "/test/state")
            .await
            .expect("open");
        let (follower, _) = leader(&ensemble).await;
        let pacing = StandbyPacing {
            poll: Duration::from_millis(10),
            gap: Duration::from_millis(10),
            stale_max: Duration::from_millis(50),
        };
        let standby = Standby::start(follower, "/test/state", pacing);
        let mut revision = standby.revision();
        for n in 1..=3u64 {
            let mut batch = WriteBatch::new();
            put(&mut batch, "registry", &format!("agent/{n}"), b"x");
            store.commit(batch).expect("commit");
            tokio::time::timeout(
                Duration::from_secs(20),
                revision.wait_for(|r| *r == Some(n)),
            )
            .await
            .expect("the copy follows within 20 s")
            .expect("standby alive");
        }
        let copy = standby.take().await.expect("a copy");
        assert_eq!(copy.revision(), 3);
        assert_eq!(copy.mirror.entries.len(), 3);
    }
}
