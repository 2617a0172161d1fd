//! A helper process for drover-store's own tests, which need a second process: `commit DIR`
//! commits numbered batches until it is killed (the crash test), `open DIR` opens the store once
//! and prints the outcome (the lock test). Not part of Drover's interface.

use std::io::Write;

use drover_store::{RedbStore, Store, WriteBatch};

/// Upper bound on the writer's loop, so an orphaned child cannot run forever.
const COMMITS_MAX: u64 = 200_000;

fn key(seq: u64) -> String {
    format!("{seq:010}")
}

/// A few KiB per batch, so a commit spans several pages and a kill can land mid-write.
fn filler(seq: u64) -> Vec<u8> {
    let len = 1_000 + (seq % 7) as usize * 1_000;
    (0..len).map(|i| (seq as usize + i) as u8).collect()
}

/// Batch `seq` writes `a/seq` and `b/seq`, and moves the single `c` key from `seq-1` to `seq`,
/// so any partial application is visible in at least one namespace.
fn batch(seq: u64) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch
        .put("a", key(seq), seq.to_be_bytes())
        .put("b", key(seq), filler(seq));
    if seq > 0 {
        batch.delete("c", key(seq - 1));
    }
    batch.put("c", key(seq), "");
    batch
}

fn commit_until_killed(dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    let store = RedbStore::open(dir)?;
    let next = match store.scan("c", b"")?.as_slice() {
        [] => 0,
        [(last, _)] => std::str::from_utf8(last)?.parse::<u64>()? + 1,
        more => return Err(format!("c holds {} keys", more.len()).into()),
    };
    let mut stdout = std::io::stdout().lock();
    for seq in next..next + COMMITS_MAX {
        store.commit(batch(seq))?;
        // Reported only after commit returned: from here on the batch is acknowledged.
        writeln!(stdout, "committed {seq}")?;
        stdout.flush()?;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, dir] if mode == "commit" => match commit_until_killed(dir) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("{error}");
                std::process::ExitCode::FAILURE
            }
        },
        [mode, dir] if mode == "open" => {
            match RedbStore::open(dir) {
                Ok(_) => println!("child: opened"),
                Err(error) => println!("child: {error}"),
            }
            std::process::ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: drover-store-test-child (commit|open) DIR");
            std::process::ExitCode::FAILURE
        }
    }
}
