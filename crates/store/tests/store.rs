//! Behaviour of both stores on real redb files: reads, batches, limits, fencing, reopen, and a
//! property test that RedbStore and MemoryStore agree.

use drover_store::{
    Epoch, KEY_BYTES_MAX, MemoryStore, RedbStore, SCHEMA_VERSION, Store, StoreError,
    VALUE_BYTES_MAX, WriteBatch,
};
use proptest::prelude::*;

fn entries(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs
        .iter()
        .map(|(key, value)| (key.as_bytes().to_vec(), value.as_bytes().to_vec()))
        .collect()
}

/// The same checks for any implementation, so both are held to one contract.
fn check_reads_and_writes(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    batch
        .put("tasks", "t/2", "two")
        .put("tasks", "t/1", "one")
        .put("tasks", "u/1", "other prefix")
        .put("agents", "t/1", "agent")
        .put("tasks", "t/3", "three")
        .delete("tasks", "t/3")
        .delete("tasks", "never-written");
    let info = store.commit(batch).unwrap();
    assert_eq!(info.revision, 1);

    assert_eq!(store.get("tasks", b"t/1").unwrap(), Some(b"one".to_vec()));
    assert_eq!(
        store.get("agents", b"t/1").unwrap(),
        Some(b"agent".to_vec())
    );
    assert_eq!(store.get("tasks", b"t/3").unwrap(), None);
    assert_eq!(store.get("unwritten", b"t/1").unwrap(), None);
    assert_eq!(
        store.scan("tasks", b"t/").unwrap(),
        entries(&[("t/1", "one"), ("t/2", "two")])
    );
    assert_eq!(
        store.scan("tasks", b"").unwrap(),
        entries(&[("t/1", "one"), ("t/2", "two"), ("u/1", "other prefix")])
    );
    assert_eq!(store.scan("unwritten", b"").unwrap(), Vec::new());

    // Overwrite and delete in a second batch; a later op on the same key wins.
    let mut batch = WriteBatch::new();
    batch
        .put("tasks", "t/1", "first")
        .put("tasks", "t/1", "second")
        .delete("tasks", "t/2");
    assert_eq!(store.commit(batch).unwrap().revision, 2);
    assert_eq!(
        store.scan("tasks", b"t/").unwrap(),
        entries(&[("t/1", "second")])
    );
    assert_eq!(store.meta().unwrap().revision, 2);
    assert_eq!(store.meta().unwrap().schema_version, SCHEMA_VERSION);
}

/// A batch with one invalid op must apply none of its ops, and must not count as a commit.
fn check_invalid_batch_applies_nothing(store: &dyn Store) {
    let oversized_key = vec![b'k'; KEY_BYTES_MAX + 1];
    let oversized_value = vec![0_u8; VALUE_BYTES_MAX + 1];
    let mut cases: Vec<(WriteBatch, &str)> = Vec::new();
    let mut batch = WriteBatch::new();
    batch
        .put("tasks", "a", "1")
        .put("tasks", &oversized_key, "2");
    cases.push((batch, "exceeds the 4096-byte limit"));
    let mut batch = WriteBatch::new();
    batch
        .put("tasks", "a", "1")
        .put("tasks", "b", oversized_value);
    cases.push((batch, "exceeds the 67108864-byte limit"));
    let mut batch = WriteBatch::new();
    batch.put("tasks", "a", "1").delete("_meta", "epoch");
    cases.push((batch, "invalid namespace \"_meta\""));

    let revision = store.meta().unwrap().revision;
    for (batch, message) in cases {
        let error = store.commit(batch).unwrap_err();
        assert!(error.to_string().contains(message), "{error}");
        assert_eq!(store.get("tasks", b"a").unwrap(), None);
        assert_eq!(store.meta().unwrap().revision, revision);
    }
    // The largest allowed key is fine.
    let mut batch = WriteBatch::new();
    batch.put("tasks", vec![b'k'; KEY_BYTES_MAX], "ok");
    store.commit(batch).unwrap();
}

/// Fencing: an older token is refused without applying, equal and newer ones apply.
fn check_fencing(store: &dyn Store) {
    let mut batch = WriteBatch::fenced(Epoch(5));
    batch.put("apps", "a", "by leader 5");
    assert_eq!(store.commit(batch).unwrap().epoch, Epoch(5));

    let mut batch = WriteBatch::fenced(Epoch(4));
    batch.put("apps", "a", "by deposed leader 4");
    let error = store.commit(batch).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Fenced {
                batch: Epoch(4),
                store: Epoch(5)
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("a newer leader exists"),
        "{error}"
    );
    assert_eq!(
        store.get("apps", b"a").unwrap(),
        Some(b"by leader 5".to_vec())
    );

    let mut batch = WriteBatch::fenced(Epoch(5));
    batch.put("apps", "b", "same term");
    store.commit(batch).unwrap();
    // An unfenced batch neither checks nor lowers the epoch.
    assert_eq!(store.commit(WriteBatch::new()).unwrap().epoch, Epoch(5));
    // A new leader raises the epoch with an empty fenced batch.
    assert_eq!(
        store.commit(WriteBatch::fenced(Epoch(7))).unwrap().epoch,
        Epoch(7)
    );
    assert!(matches!(
        store.commit(WriteBatch::fenced(Epoch(6))),
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(store.meta().unwrap().epoch, Epoch(7));
}

#[test]
fn memory_store_reads_and_writes() {
    check_reads_and_writes(&MemoryStore::new());
}

#[test]
fn redb_store_reads_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    check_reads_and_writes(&RedbStore::open(dir.path()).unwrap());
}

#[test]
fn memory_store_invalid_batch_applies_nothing() {
    check_invalid_batch_applies_nothing(&MemoryStore::new());
}

#[test]
fn redb_store_invalid_batch_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    check_invalid_batch_applies_nothing(&RedbStore::open(dir.path()).unwrap());
}

#[test]
fn memory_store_fencing() {
    check_fencing(&MemoryStore::new());
}

/// Fencing on disk, and the epoch survives a reopen (a restarted deposed leader stays fenced).
#[test]
fn redb_store_fencing_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    check_fencing(&RedbStore::open(dir.path()).unwrap());

    let store = RedbStore::open(dir.path()).unwrap();
    assert_eq!(store.meta().unwrap().epoch, Epoch(7));
    let mut batch = WriteBatch::fenced(Epoch(6));
    batch.put("apps", "a", "stale");
    assert!(matches!(
        store.commit(batch),
        Err(StoreError::Fenced { .. })
    ));
    store.commit(WriteBatch::fenced(Epoch(7))).unwrap();
}

/// What was committed is there after the store is dropped and reopened, in a nested new dir.
#[test]
fn redb_store_durable_across_reopen() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("work").join("store");
    {
        let store = RedbStore::open(&dir).unwrap();
        let mut batch = WriteBatch::new();
        batch
            .put("frameworks", "f1", "framework one")
            .put("agents", "a1", vec![7_u8; 100_000]);
        store.commit(batch).unwrap();
    }
    let store = RedbStore::open(&dir).unwrap();
    assert_eq!(
        store.get("frameworks", b"f1").unwrap(),
        Some(b"framework one".to_vec())
    );
    assert_eq!(
        store.get("agents", b"a1").unwrap(),
        Some(vec![7_u8; 100_000])
    );
    assert_eq!(store.meta().unwrap().revision, 1);
    assert!(store.path().starts_with(&dir));
}

/// A half-created file left by a crash during the first open is discarded, while a damaged
/// store file is reported as corrupt rather than overwritten.
#[test]
fn redb_store_creation_leftovers_and_damaged_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("drover.redb.new"), "torn header").unwrap();
    drop(RedbStore::open(dir.path()).unwrap());
    assert!(!dir.path().join("drover.redb.new").exists());

    std::fs::write(dir.path().join(RedbStore::FILE_NAME), "not a database").unwrap();
    let error = RedbStore::open(dir.path()).unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("restore the work dir from a backup"),
        "{error}"
    );
}

/// A path that cannot be a directory yields the "cannot open the store at <path>" error.
#[test]
fn redb_store_unusable_dir_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    let error = RedbStore::open(file.join("store")).unwrap_err();
    assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("cannot open the store at "),
        "{message}"
    );
    assert!(message.contains("plain-file"), "{message}");
}

/// Namespace, key, and `Some(value)` for a put or `None` for a delete.
type ModelOp = (&'static str, Vec<u8>, Option<Vec<u8>>);

/// One step of the model comparison.
#[derive(Debug, Clone)]
enum Action {
    Commit {
        ops: Vec<ModelOp>,
        fence: Option<u64>,
    },
    Get(&'static str, Vec<u8>),
    Scan(&'static str, Vec<u8>),
    Reopen,
}

fn action() -> impl Strategy<Value = Action> {
    // Few namespaces and a tiny key alphabet, so ops collide and prefixes overlap; one invalid
    // namespace and the odd oversized key exercise the all-or-nothing validation.
    let namespace = prop::sample::select(vec!["apps", "tasks", "Bad"]);
    let key = prop_oneof![
        20 => prop::collection::vec(prop::sample::select(b"ab/".to_vec()), 0..4),
        1 => Just(vec![b'k'; KEY_BYTES_MAX + 1]),
    ];
    let value = prop::option::of(prop::collection::vec(any::<u8>(), 0..8));
    let op = (namespace.clone(), key.clone(), value);
    prop_oneof![
        4 => (prop::collection::vec(op, 0..5), prop::option::of(0_u64..4))
            .prop_map(|(ops, fence)| Action::Commit { ops, fence }),
        2 => (namespace.clone(), key.clone()).prop_map(|(ns, key)| Action::Get(ns, key)),
        2 => (namespace, key).prop_map(|(ns, key)| Action::Scan(ns, key)),
        1 => Just(Action::Reopen),
    ]
}

/// Errors compare by message; the validation and fencing messages name no path.
fn outcome<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Ok(value) => format!("ok {value:?}"),
        Err(error) => format!("error {error}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// RedbStore and MemoryStore give the same answers to the same random sequence of commits,
    /// reads, scans and reopens (reopen only affects the redb store, which must not notice).
    #[test]
    fn redb_store_matches_memory_store(actions in prop::collection::vec(action(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut redb = Some(RedbStore::open(dir.path()).unwrap());
        let memory = MemoryStore::new();
        for action in actions {
            let disk = redb.as_ref().unwrap();
            let (expected, actual) = match action {
                Action::Commit { ops, fence } => {
                    let mut batch = match fence {
                        Some(epoch) => WriteBatch::fenced(Epoch(epoch)),
                        None => WriteBatch::new(),
                    };
                    for (namespace, key, value) in ops {
                        match value {
                            Some(value) => batch.put(namespace, key, value),
                            None => batch.delete(namespace, key),
                        };
                    }
                    (outcome(memory.commit(batch.clone())), outcome(disk.commit(batch)))
                }
                Action::Get(namespace, key) => {
                    (outcome(memory.get(namespace, &key)), outcome(disk.get(namespace, &key)))
                }
                Action::Scan(namespace, prefix) => {
                    (outcome(memory.scan(namespace, &prefix)), outcome(disk.scan(namespace, &prefix)))
                }
                Action::Reopen => {
                    // The old handle must release the file lock before the new one opens.
                    drop(redb.take());
                    redb = Some(RedbStore::open(dir.path()).unwrap());
                    continue;
                }
            };
            prop_assert_eq!(expected, actual);
            prop_assert_eq!(memory.meta().unwrap(), redb.as_ref().unwrap().meta().unwrap());
        }
    }
}
