//! Measures durable commits per second of small batches on RedbStore.
//!
//! Run: `cargo run --release -p drover-store --example commit_rate [DIR]`. DIR defaults to a
//! temporary directory under the current one; avoid tmpfs, where fsync costs nothing.

use std::time::Instant;

use drover_store::{RedbStore, Store, WriteBatch};

const COMMITS: u64 = 2_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args().nth(1).unwrap_or_else(|| ".".to_owned());
    let dir = tempfile::tempdir_in(base)?;
    let store = RedbStore::open(dir.path())?;
    for ops_per_batch in [1_u64, 10, 100] {
        let started = Instant::now();
        for commit in 0..COMMITS {
            let mut batch = WriteBatch::new();
            for op in 0..ops_per_batch {
                // About the size of a task status record.
                batch.put(
                    "tasks",
                    format!("{ops_per_batch}/{commit:08}/{op}"),
                    [7_u8; 200],
                );
            }
            store.commit(batch)?;
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{ops_per_batch:>3} x 200-byte puts per batch: {:.0} commits/s ({COMMITS} commits in {seconds:.2}s)",
            COMMITS as f64 / seconds
        );
    }
    Ok(())
}
