//! The work-dir lock: a second process on the same store is refused with a clear error.
//!
//! In a binary of its own because the lock is inherited by a child between fork and exec: a
//! test here that spawns a process would make a concurrent drop-and-reopen in another test of the
//! same binary see "in use" for that instant.

use std::process::Command;

use drover_store::{RedbStore, StoreError};

/// The helper binary that opens the store once and prints the outcome.
const CHILD: &str = env!("CARGO_BIN_EXE_drover-store-test-child");

/// While one process has the store open, a second process (and a second handle in the same
/// process) is refused with the "in use" error instead of sharing the file.
#[test]
fn second_process_gets_in_use_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path()).unwrap();

    let same_process = RedbStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(same_process, StoreError::InUse { .. }),
        "{same_process:?}"
    );

    let output = Command::new(CHILD)
        .arg("open")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "in use by another process; another Drover process probably uses this work dir"
        ),
        "{stdout}"
    );

    // Once the holder is gone, the store opens again.
    drop(store);
    RedbStore::open(dir.path()).unwrap();
}
