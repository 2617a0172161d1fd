//! The agent's garbage collection I/O (the decisions are `drover_core::agent::gc`'s): deleting
//! directories the core says are due, measuring the work directory's disk for
//! `--gc_disk_headroom`, and listing, at start, the directories a previous agent process left.
//!
//! Deleting never follows a link (a sandbox's volume link is removed, not what it points to)
//! and never descends into a mount point: a persistent volume is bound into a sandbox only
//! inside its container's mount namespace, which is gone with the container, so on the host
//! its mount point is an empty directory; a mount that is there anyway (someone else's) is
//! left in place with its parents, and the rest deleted.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Deletes `paths` (each only if it lies strictly below `work_dir`), removing what can be
/// removed even when some file cannot be (as Mesos' GC does: the disk was re-offered
/// already). Blocking: run it on a blocking thread.
pub fn remove_directories(work_dir: &Path, paths: &[String]) {
    for path in paths {
        let target = PathBuf::from(path);
        if !target.starts_with(work_dir) || target == work_dir {
            tracing::warn!(path, "not deleting a directory outside the work directory");
            continue;
        }
        tracing::info!(path, "deleting (garbage collection)");
        match remove_tree(&target) {
            Ok(()) => tracing::info!(path, "deleted"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::info!(path, "already gone")
            }
            Err(error) => tracing::warn!(path, %error, "could not delete everything"),
        }
    }
}

/// Deletes `path` and everything below it, like `remove_dir_all` (a link is removed, never
/// followed), except that it never deletes through a mount point: one at or below `path` (in
/// this process's mount namespace) is kept, with its parents, and the rest is deleted; the
/// result is then an error naming it. Blocking.
pub fn remove_tree(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return std::fs::remove_file(path);
    }
    let real = std::fs::canonicalize(path)?;
    let mounts: Vec<PathBuf> = mount_points()
        .into_iter()
        .filter(|m| m.starts_with(&real))
        .collect();
    if mounts.is_empty() {
        return std::fs::remove_dir_all(path);
    }
    remove_around_mounts(&real, &mounts);
    Err(std::io::Error::other(format!(
        "kept mount point(s) {}",
        mounts
            .iter()
            .map(|m| m.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// Deletes what is below the real directory `dir` except the `mounts` (each at or below it)
/// and the directories leading to them.
fn remove_around_mounts(dir: &Path, mounts: &[PathBuf]) {
    if mounts.iter().any(|m| m == dir) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && mounts.iter().any(|m| m.starts_with(&path)) {
            remove_around_mounts(&path, mounts);
        } else if is_dir {
            let _ = std::fs::remove_dir_all(&path);
        } else {
            let _ = std::fs::remove_file(&path);
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The mount points of this process's mount namespace (`/proc/self/mountinfo`'s fifth field,
/// its octal escapes decoded).
pub fn mount_points() -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let Ok(table) = std::fs::read("/proc/self/mountinfo") else {
        return Vec::new();
    };
    table
        .split(|b| *b == b'\n')
        .filter_map(|line| line.split(|b| *b == b' ').nth(4))
        .map(|field| {
            let mut out = Vec::with_capacity(field.len());
            let mut i = 0;
            while i < field.len() {
                let octal = field
                    .get(i + 1..i + 4)
                    .filter(|d| field[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
                match octal {
                    Some(d) => {
                        let value = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                        out.push(value as u8);
                        i += 4;
                    }
                    None => {
                        out.push(field[i]);
                        i += 1;
                    }
                }
            }
            PathBuf::from(std::ffi::OsString::from_vec(out))
        })
        .collect()
}

/// The share of the disk holding `dir` that is in use (0.0–1.0), as Mesos computes it
/// (`1 − available / total`, blocks available to unprivileged users).
pub fn disk_usage(dir: &Path) -> std::io::Result<f64> {
    let stat = nix::sys::statvfs::statvfs(dir).map_err(std::io::Error::from)?;
    let total = stat.blocks() as f64;
    if total <= 0.0 {
        return Ok(0.0);
    }
    Ok((1.0 - stat.blocks_available() as f64 / total).clamp(0.0, 1.0))
}

/// Every framework, executor and run directory under `<work_dir>/slaves`, with its age in ms
/// (since its last modification). The core keeps those a live executor uses off the
/// schedule. Bounded: at most `limit` entries. Blocking.
pub fn stale_directories(work_dir: &Path, limit: usize) -> Vec<(String, u64)> {
    let now = SystemTime::now();
    let mut found = Vec::new();
    let age = |path: &Path| -> u64 {
        std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .map_or(0, |d| d.as_millis() as u64)
    };
    let dirs = |path: &Path| -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(path) else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = entries
            .flatten()
            // Symlinks (Mesos' `runs/latest`) are not directories of their own.
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        out.sort();
        out
    };
    'agents: for agent in dirs(&work_dir.join("slaves")) {
        for framework in dirs(&agent.join("frameworks")) {
            for executor in dirs(&framework.join("executors")) {
                for run in dirs(&executor.join("runs")) {
                    found.push(run);
                }
                found.push(executor);
            }
            found.push(framework);
            if found.len() >= limit {
                break 'agents;
            }
        }
    }
    found.truncate(limit);
    found
        .into_iter()
        .map(|p| {
            let a = age(&p);
            (p.display().to_string(), a)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_level_and_skips_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("slaves/S1/frameworks/F/executors/E/runs");
        std::fs::create_dir_all(runs.join("C1")).unwrap();
        std::os::unix::fs::symlink(runs.join("C1"), runs.join("latest")).unwrap();
        let found: Vec<String> = stale_directories(dir.path(), 100)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let root = dir.path().display().to_string();
        assert_eq!(
            found,
            vec![
                format!("{root}/slaves/S1/frameworks/F/executors/E/runs/C1"),
                format!("{root}/slaves/S1/frameworks/F/executors/E"),
                format!("{root}/slaves/S1/frameworks/F"),
            ]
        );
    }

    #[test]
    fn deletes_only_below_the_work_directory() {
        let work = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let inside = work.path().join("slaves/S1/frameworks/F");
        std::fs::create_dir_all(inside.join("executors/E")).unwrap();
        remove_directories(
            work.path(),
            &[
                inside.display().to_string(),
                outside.path().display().to_string(),
                work.path().display().to_string(),
            ],
        );
        assert!(!inside.exists());
        assert!(outside.path().exists());
        assert!(work.path().exists());
    }

    #[test]
    fn mount_points_are_read_and_decoded() {
        let mounts = mount_points();
        assert!(mounts.iter().any(|m| m == Path::new("/")), "{mounts:?}");
        assert!(mounts.iter().any(|m| m == Path::new("/proc")), "{mounts:?}");
    }

    #[test]
    fn removing_a_tree_never_follows_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let volume = dir.path().join("volume");
        std::fs::create_dir(&volume).unwrap();
        std::fs::write(volume.join("data"), b"kept").unwrap();
        let sandbox = dir.path().join("sandbox");
        std::fs::create_dir_all(sandbox.join("empty_mount_point")).unwrap();
        std::os::unix::fs::symlink(&volume, sandbox.join("data")).unwrap();
        remove_tree(&sandbox).unwrap();
        assert!(!sandbox.exists());
        assert_eq!(std::fs::read(volume.join("data")).unwrap(), b"kept");
    }

    #[test]
    fn disk_usage_is_a_fraction() {
        let dir = tempfile::tempdir().unwrap();
        let usage = disk_usage(dir.path()).unwrap();
        assert!((0.0..=1.0).contains(&usage), "{usage}");
    }
}
