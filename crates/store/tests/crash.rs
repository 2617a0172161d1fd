//! Crash safety of RedbStore with a real SIGKILL: a child process commits numbered batches and
//! reports each one after `commit` returns; the parent kills it at varying moments, reopens the
//! store and checks that every reported batch is there and no batch is half applied.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use drover_store::{RedbStore, Store};

/// The helper binary that commits numbered batches until it is killed.
const CHILD: &str = env!("CARGO_BIN_EXE_drover-store-test-child");

fn key(seq: u64) -> String {
    format!("{seq:010}")
}

/// The bytes the child writes to `b/seq` (the same function as in the child binary).
fn filler(seq: u64) -> Vec<u8> {
    let len = 1_000 + (seq % 7) as usize * 1_000;
    (0..len).map(|i| (seq as usize + i) as u8).collect()
}

/// Kills the child if the parent's assertions panic, so no writer outlives the test.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs one child, SIGKILLs it after it reported `kill_after` commits, and returns every
/// sequence number it reported (including ones printed between the kill and its death).
fn run_child_and_kill(dir: &Path, kill_after: usize) -> Vec<u64> {
    let child = Command::new(CHILD)
        .arg("commit")
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut reported = Vec::new();
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(seq) = line.strip_prefix("committed ") {
            reported.push(seq.parse().unwrap());
        }
        if !killed && reported.len() >= kill_after {
            // `Child::kill` is SIGKILL on Unix: no destructors, no flush, mid-commit or not.
            child.0.kill().unwrap();
            killed = true;
        }
    }
    assert!(killed, "the child exited after {} commits", reported.len());
    let status = child.0.wait().unwrap();
    assert!(!status.success(), "the child was not killed: {status}");
    reported
}

/// Checks the store after a crash: the batches present are exactly `0..=last` (or none), each
/// complete, and they include every reported one.
fn check_store(dir: &Path, reported: &BTreeSet<u64>) {
    let store = RedbStore::open(dir).unwrap();
    let c = store.scan("c", b"").unwrap();
    assert!(c.len() <= 1, "c must hold only the last batch's key: {c:?}");
    let last: Option<u64> = c
        .first()
        .map(|(key, _)| std::str::from_utf8(key).unwrap().parse().unwrap());
    let committed = last.map_or(0, |last| last + 1);

    let a = store.scan("a", b"").unwrap();
    let b = store.scan("b", b"").unwrap();
    let expected_keys: Vec<Vec<u8>> = (0..committed).map(|seq| key(seq).into_bytes()).collect();
    assert_eq!(
        a.iter().map(|e| e.0.clone()).collect::<Vec<_>>(),
        expected_keys
    );
    assert_eq!(
        b.iter().map(|e| e.0.clone()).collect::<Vec<_>>(),
        expected_keys
    );
    for (seq, (a, b)) in (0..committed).zip(a.iter().zip(&b)) {
        assert_eq!(a.1, seq.to_be_bytes());
        assert_eq!(b.1, filler(seq), "b/{seq} is torn");
    }
    // One commit per batch, none lost or doubled.
    assert_eq!(store.meta().unwrap().revision, committed);

    let lost: Vec<u64> = reported.range(committed..).copied().collect();
    assert!(lost.is_empty(), "acknowledged batches lost: {lost:?}");
}

/// Several SIGKILLs at different moments on the same store, each followed by recovery; every
/// acknowledged batch survives and every batch is all-or-nothing.
#[test]
fn sigkill_loses_no_acknowledged_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut reported = BTreeSet::new();
    // 0 kills on the child's first output line, before or while it opens (and, the first time,
    // creates) the store.
    for kill_after in [0, 1, 7, 30, 0, 2, 64, 13] {
        let run = run_child_and_kill(dir.path(), kill_after);
        assert!(run.len() >= kill_after);
        // Each child continues where the recovered store left off.
        if let (Some(first), Some(previous)) = (run.first(), reported.last()) {
            assert!(
                first > previous,
                "child restarted at {first} after {previous}"
            );
        }
        reported.extend(run);
        check_store(dir.path(), &reported);
    }
}
