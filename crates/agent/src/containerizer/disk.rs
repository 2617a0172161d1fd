//! Disk usage of a sandbox, measured like `du` (Mesos' `disk/du` isolator) for the driver's
//! periodic disk-quota watcher.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Bytes allocated on disk under `root` (`st_blocks * 512`, like `du`), recursively, without
/// following symlinks and counting hard-linked files once. Files that vanish while walking (the
/// task is running) are skipped. Blocking: call it off the async runtime.
pub fn dir_usage_bytes(root: &Path) -> io::Result<u64> {
    let mut seen_links = HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound && path != root => continue,
            Err(e) => return Err(e),
        };
        if meta.nlink() > 1 && !meta.is_dir() && !seen_links.insert((meta.dev(), meta.ino())) {
            continue;
        }
        total = total.saturating_add(meta.blocks().saturating_mul(512));
        if meta.is_dir() {
            let entries = match std::fs::read_dir(&path) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                match entry {
                    Ok(entry) => stack.push(entry.path()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(total)
}
