//! Persistent volumes on disk: their directories under `<work_dir>/volumes/roles/` kept equal
//! to the agent's checkpointed volumes (made when created, deleted when destroyed, never
//! through a link or into a mount), and their appearance in a container's sandbox at the
//! volume's `container_path`:
//!
//! * a container with its own mount namespace (the agent's `namespaces/pid` isolation, the
//!   default) gets a bind mount, made by its namespace init inside that namespace (Mesos'
//!   `filesystem/linux`; read-only for a `RO` volume): here only the empty mount point is
//!   prepared. The host's mount table never shows it, and once the container's processes are
//!   gone the namespace and the mount go with them, leaving an empty directory in the sandbox;
//! * a container without one (`--isolation=posix`/`none`, a Docker task) gets a link (Mesos'
//!   `filesystem/posix`; the mode cannot be enforced on a link);
//! * a container with an image gets a bind mount from `rootfs-launch` instead.

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
        // someone planted one, and what it points at is not ours. Nor is a mount below it
        // deleted through.
        match crate::gc::remove_tree(path) {
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

/// How a volume appears in a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appearance {
    /// A link to the volume (Mesos' `filesystem/posix`): the container has no mount namespace.
    Link,
    /// An empty directory the container's namespace init binds the volume onto (Mesos'
    /// `filesystem/linux`; see the containerizer's `ContainerSpec::volumes`).
    MountPoint,
}

/// Makes the volume `dir` appear at `container_path` of `sandbox` — as a link, or as the
/// mount point the container binds it onto — and gives the volume (its top directory) to
/// `owner` when the container runs as a user and the volume is still root's (as Mesos gave a
/// volume to its first user). Done before the fetcher runs, so nothing fetched can stand where
/// a volume goes. No component below the sandbox may be a link (it would lead out of it).
pub fn prepare(
    sandbox: &Path,
    container_path: &str,
    dir: &str,
    owner: Option<(u32, u32)>,
    appearance: Appearance,
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
    let existing = std::fs::symlink_metadata(&target);
    match (appearance, existing) {
        (Appearance::Link, Ok(m))
            if m.file_type().is_symlink()
                && std::fs::read_link(&target).ok().as_deref() == Some(volume) => {}
        // A relaunch into the same sandbox finds its mount point (empty on the host: the
        // bind mount lived in the previous container's namespace only).
        (Appearance::MountPoint, Ok(m)) if m.is_dir() => {}
        (_, Ok(_)) => {
            return Err(format!(
                "persistent volume container_path '{container_path}' already exists in the sandbox"
            ));
        }
        (Appearance::Link, Err(_)) => std::os::unix::fs::symlink(volume, &target)
            .map_err(|e| format!("{}: {e}", target.display()))?,
        (Appearance::MountPoint, Err(_)) => {
            std::fs::create_dir(&target).map_err(|e| format!("{}: {e}", target.display()))?
        }
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
        let link = |path: &str| prepare(&sandbox, path, &dir, None, Appearance::Link);
        link("data/pg").unwrap();
        std::fs::write(sandbox.join("data/pg/file"), b"kept").unwrap();
        assert_eq!(std::fs::read(volume.join("file")).unwrap(), b"kept");
        // Again (a relaunch into the same sandbox) is fine.
        link("data/pg").unwrap();
        assert!(link("../out").is_err());
        assert!(link("/abs").is_err());
        // A parent that is a link is not followed.
        std::os::unix::fs::symlink(tmp.path(), sandbox.join("escape")).unwrap();
        assert!(link("escape/x").is_err());
    }

    #[test]
    fn a_mount_point_is_an_empty_directory_never_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let volume = tmp.path().join("vol");
        std::fs::create_dir(&volume).unwrap();
        let sandbox = tmp.path().join("sandbox");
        let dir = volume.display().to_string();
        let mount_point = |path: &str| prepare(&sandbox, path, &dir, None, Appearance::MountPoint);
        mount_point("data/pg").unwrap();
        let meta = std::fs::symlink_metadata(sandbox.join("data/pg")).unwrap();
        assert!(meta.is_dir() && !meta.file_type().is_symlink());
        assert_eq!(
            std::fs::read_dir(sandbox.join("data/pg")).unwrap().count(),
            0
        );
        // Again (a relaunch into the same sandbox) is fine.
        mount_point("data/pg").unwrap();
        // A link or a file where the mount point goes is refused, as is a linked parent.
        std::os::unix::fs::symlink(&volume, sandbox.join("linked")).unwrap();
        assert!(mount_point("linked").is_err());
        std::fs::write(sandbox.join("file"), b"x").unwrap();
        assert!(mount_point("file").is_err());
        std::os::unix::fs::symlink(tmp.path(), sandbox.join("escape")).unwrap();
        assert!(mount_point("escape/x").is_err());
        assert!(mount_point("../out").is_err());
    }
}
