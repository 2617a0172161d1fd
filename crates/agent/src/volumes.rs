//! Persistent volumes on disk: their directories under `<work_dir>/volumes/roles/` kept equal
//! to the agent's checkpointed volumes (made when created, deleted when destroyed), and
//! their appearance in a container's sandbox at the volume's `container_path` — a link
//! (Mesos' `filesystem/posix` isolator) for a container in the host's filesystem; a container
//! with an image gets a bind mount from `rootfs-launch` instead.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Creates every wanted volume directory and returns the directories under `root` that are
/// no longer wanted (destroyed volumes), for [`remove`].
pub fn sync(root: &Path, wanted: &[String]) -> Vec<PathBuf> {
    for dir in wanted {
        let dir = Path::new(dir);
        if dir.is_dir() {
            continue;
        }
        match std::fs::create_dir_all(dir) {
            Ok(()) => {
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
                tracing::info!(volume = %dir.display(), "created a persistent volume");
            }
            Err(e) => {
                tracing::warn!(volume = %dir.display(), error = %e, "cannot create a persistent volume")
            }
        }
    }
    let mut stale = Vec::new();
    let Ok(roles) = std::fs::read_dir(root) else {
        return stale;
    };
    for role in roles.flatten() {
        let Ok(volumes) = std::fs::read_dir(role.path()) else {
            continue;
        };
        for volume in volumes.flatten() {
            let path = volume.path();
            if !wanted.iter().any(|w| Path::new(w) == path) {
                stale.push(path);
            }
        }
    }
    stale
}

/// Deletes destroyed volumes (and a role's directory once it holds none).
pub fn remove(paths: &[PathBuf]) {
    for path in paths {
        // A link is removed, never followed: a volume directory is never a link unless
        // someone planted one, and what it points at is not ours.
        let result = match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
            Ok(_) => std::fs::remove_file(path),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                tracing::info!(volume = %path.display(), "deleted a destroyed persistent volume")
            }
            Err(e) => {
                tracing::warn!(volume = %path.display(), error = %e, "cannot delete a destroyed persistent volume")
            }
        }
        if let Some(role) = path.parent() {
            let _ = std::fs::remove_dir(role);
        }
    }
}

/// Makes the volume `dir` appear at `container_path` of `sandbox` as a link, owned (the
/// volume's top directory) by `owner` when the container runs as a user and the volume is
/// still root's (as Mesos gave a volume to its first user).
pub fn link(
    sandbox: &Path,
    container_path: &str,
    dir: &str,
    owner: Option<(u32, u32)>,
) -> Result<(), String> {
    drover_core::operations::validate_container_path(container_path)
        .map_err(|e| format!("persistent volume container_path '{container_path}' {e}"))?;
    let volume = Path::new(dir);
    let meta = std::fs::symlink_metadata(volume)
        .map_err(|e| format!("persistent volume {dir} is missing on the agent: {e}"))?;
    if !meta.is_dir() {
        return Err(format!("persistent volume {dir} is not a directory"));
    }
    // The volumes come before anything else in the sandbox, which may not exist yet (the
    // containerizer makes it its user's afterwards).
    std::fs::create_dir_all(sandbox).map_err(|e| format!("{}: {e}", sandbox.display()))?;
    let target = sandbox.join(container_path);
    // Every parent below the sandbox must be a real directory (never a link out of it).
    let mut at = sandbox.to_path_buf();
    let parts: Vec<&str> = container_path
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "persistent volume container_path '{container_path}': {} is not a directory",
                    at.display()
                ));
            }
            Err(_) => std::fs::create_dir(&at).map_err(|e| format!("{}: {e}", at.display()))?,
        }
    }
    match std::fs::symlink_metadata(&target) {
        Ok(m)
            if m.file_type().is_symlink()
                && std::fs::read_link(&target).ok().as_deref() == Some(volume) => {}
        Ok(_) => {
            return Err(format!(
                "persistent volume container_path '{container_path}' already exists in the sandbox"
            ));
        }
        Err(_) => std::os::unix::fs::symlink(volume, &target)
            .map_err(|e| format!("{}: {e}", target.display()))?,
    }
    if let Some((uid, gid)) = owner {
        use std::os::unix::fs::MetadataExt;
        if meta.uid() == 0 && uid != 0 {
            std::os::unix::fs::chown(volume, Some(uid), Some(gid))
                .map_err(|e| format!("cannot give persistent volume {dir} to uid {uid}: {e}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_creates_wanted_and_reports_destroyed_volumes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("volumes/roles");
        let keep = root.join("db/a").display().to_string();
        let gone = root.join("db/b");
        std::fs::create_dir_all(&gone).unwrap();
        std::fs::write(gone.join("data"), b"x").unwrap();
        let stale = sync(&root, std::slice::from_ref(&keep));
        assert!(Path::new(&keep).is_dir());
        assert_eq!(stale, vec![gone.clone()]);
        remove(&stale);
        assert!(!gone.exists());
        assert!(Path::new(&keep).is_dir());
    }

    #[test]
    fn link_puts_the_volume_in_the_sandbox_and_refuses_escapes() {
        let tmp = tempfile::tempdir().unwrap();
        let volume = tmp.path().join("vol");
        std::fs::create_dir(&volume).unwrap();
        let sandbox = tmp.path().join("sandbox");
        std::fs::create_dir(&sandbox).unwrap();
        let dir = volume.display().to_string();
        link(&sandbox, "data/pg", &dir, None).unwrap();
        std::fs::write(sandbox.join("data/pg/file"), b"kept").unwrap();
        assert_eq!(std::fs::read(volume.join("file")).unwrap(), b"kept");
        // Again (a relaunch into the same sandbox) is fine.
        link(&sandbox, "data/pg", &dir, None).unwrap();
        assert!(link(&sandbox, "../out", &dir, None).is_err());
        assert!(link(&sandbox, "/abs", &dir, None).is_err());
        // A parent that is a link is not followed.
        std::os::unix::fs::symlink(tmp.path(), sandbox.join("escape")).unwrap();
        assert!(link(&sandbox, "escape/x", &dir, None).is_err());
    }
}
