//! Root filesystems from an image's layers (`--image_provisioner_backend`, as Mesos'):
//! `overlay` stacks the store's layers read-only under a writable directory of the container's
//! own (nothing copied; the default where the kernel has overlayfs), `copy` copies them into a
//! directory of the container's own, applying whiteouts (works on any filesystem).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

use super::layer::{is_opaque, is_whiteout};

/// How a rootfs is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// overlayfs over the store's layers.
    Overlay,
    /// A private copy.
    Copy,
}

impl Backend {
    /// Mesos' names; `bind` and `aufs` are refused with why.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "overlay" => Ok(Self::Overlay),
            "copy" => Ok(Self::Copy),
            "bind" | "aufs" => Err(format!(
                "--image_provisioner_backend={name} is not supported (use overlay or copy)"
            )),
            other => Err(format!(
                "--image_provisioner_backend: unknown backend '{other}' (overlay or copy)"
            )),
        }
    }

    /// overlay when the kernel has overlayfs, else copy.
    pub fn detect() -> Self {
        let listed = std::fs::read_to_string("/proc/filesystems")
            .map(|text| text.lines().any(|l| l.trim_end().ends_with("\toverlay")))
            .unwrap_or(false);
        if listed { Self::Overlay } else { Self::Copy }
    }

    /// The name, as in the flag.
    pub fn name(self) -> &'static str {
        match self {
            Self::Overlay => "overlay",
            Self::Copy => "copy",
        }
    }

    /// Makes a rootfs in `dir` (the container's, empty) from `layers` (base first). Returns
    /// its path and, for an overlay that `mount` said not to mount here, the overlay's mount
    /// options: a nested container's namespace was made before this mount and would not see
    /// it, so `drover rootfs-launch` mounts it there itself.
    pub fn provision(
        self,
        layers: &[PathBuf],
        dir: &Path,
        mount: bool,
    ) -> Result<(PathBuf, Option<String>), String> {
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(&rootfs).map_err(|e| format!("{}: {e}", rootfs.display()))?;
        match self {
            Self::Overlay => {
                let options = overlay_options(layers, dir)?;
                if !mount {
                    return Ok((rootfs, Some(options)));
                }
                mount_overlay(&rootfs, &options)?;
            }
            Self::Copy => {
                for layer in layers {
                    copy_layer(layer, &rootfs)?;
                }
            }
        }
        Ok((rootfs, None))
    }
}

/// Undoes [`Backend::provision`] in `dir`, whichever backend made it.
pub fn destroy(dir: &Path) -> std::io::Result<()> {
    let rootfs = dir.join("rootfs");
    match umount2(&rootfs, MntFlags::MNT_DETACH) {
        // EINVAL: not a mount point (copy, or already unmounted); ENOENT: nothing there.
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(errno) => return Err(errno.into()),
    }
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The overlay's mount options for `layers` over the container's own upper and work
/// directories in `dir`.
fn overlay_options(layers: &[PathBuf], dir: &Path) -> Result<String, String> {
    // Short links to the layers keep the mount options under a page however long the store's
    // path and however many layers (Mesos did the same).
    let links = dir.join("links");
    std::fs::create_dir_all(&links).map_err(|e| format!("{}: {e}", links.display()))?;
    let mut lower = Vec::new();
    for (i, layer) in layers.iter().enumerate().rev() {
        let link = links.join(i.to_string());
        std::os::unix::fs::symlink(layer, &link).map_err(|e| format!("{}: {e}", link.display()))?;
        lower.push(link.display().to_string());
    }
    let (upper, work) = (dir.join("upper"), dir.join("work"));
    for d in [&upper, &work] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    );
    if options.len() >= 4096 {
        return Err(format!(
            "the image has too many layers ({}) for one overlay mount",
            layers.len()
        ));
    }
    Ok(options)
}

/// Mounts an overlay of `options` at `rootfs` (in the caller's mount namespace).
pub fn mount_overlay(rootfs: &Path, options: &str) -> Result<(), String> {
    mount(
        Some("overlay"),
        rootfs,
        Some("overlay"),
        MsFlags::empty(),
        Some(options),
    )
    .map_err(|e| {
        format!(
            "mounting the overlay rootfs at {}: {e} (the work dir's filesystem may not take \
             overlayfs; --image_provisioner_backend=copy works on any)",
            rootfs.display()
        )
    })
}

/// Copies `layer` onto `rootfs`: whiteouts delete what lower layers put there, an opaque
/// directory replaces theirs; owners, modes and symlinks are kept.
fn copy_layer(layer: &Path, rootfs: &Path) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("copying {}: {e}", p.display());
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let from_dir = layer.join(&rel);
        let entries = std::fs::read_dir(&from_dir).map_err(|e| err(&from_dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| err(&from_dir, e))?;
            let rel = rel.join(entry.file_name());
            let (from, to) = (layer.join(&rel), rootfs.join(&rel));
            let meta = std::fs::symlink_metadata(&from).map_err(|e| err(&from, e))?;
            let existing = std::fs::symlink_metadata(&to).ok();
            if is_whiteout(&meta) {
                remove(&to, existing.as_ref()).map_err(|e| err(&to, e))?;
                continue;
            }
            let kind = meta.file_type();
            if kind.is_dir() {
                let opaque = is_opaque(&from);
                if existing.as_ref().is_some_and(|m| !m.is_dir() || opaque) {
                    remove(&to, existing.as_ref()).map_err(|e| err(&to, e))?;
                }
                if !to.is_dir() {
                    std::fs::create_dir(&to).map_err(|e| err(&to, e))?;
                }
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(meta.mode()))
                    .map_err(|e| err(&to, e))?;
                std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()))
                    .map_err(|e| err(&to, e))?;
                stack.push(rel);
                continue;
            }
            remove(&to, existing.as_ref()).map_err(|e| err(&to, e))?;
            if kind.is_symlink() {
                let target = std::fs::read_link(&from).map_err(|e| err(&from, e))?;
                std::os::unix::fs::symlink(&target, &to).map_err(|e| err(&to, e))?;
            } else if kind.is_file() {
                std::fs::copy(&from, &to).map_err(|e| err(&to, e))?;
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(meta.mode()))
                    .map_err(|e| err(&to, e))?;
            } else {
                // FIFOs and sockets are not worth carrying into a fresh container.
                continue;
            }
            std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()))
                .map_err(|e| err(&to, e))?;
        }
    }
    Ok(())
}

fn remove(path: &Path, meta: Option<&std::fs::Metadata>) -> std::io::Result<()> {
    match meta {
        None => Ok(()),
        Some(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Some(_) => std::fs::remove_file(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_named_as_mesos_names_them() {
        assert_eq!(Backend::parse("overlay").unwrap(), Backend::Overlay);
        assert_eq!(Backend::parse("copy").unwrap(), Backend::Copy);
        assert!(
            Backend::parse("aufs")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(Backend::parse("zfs").unwrap_err().contains("unknown"));
    }

    #[test]
    fn both_backends_stack_layers_with_whiteouts() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: provisioning needs root (mknod, mount)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (base, top) = (dir.path().join("base"), dir.path().join("top"));
        std::fs::create_dir_all(base.join("etc")).unwrap();
        std::fs::create_dir_all(base.join("var/cache")).unwrap();
        std::fs::write(base.join("etc/keep"), "base").unwrap();
        std::fs::write(base.join("etc/gone"), "base").unwrap();
        std::fs::write(base.join("var/cache/old"), "base").unwrap();
        std::fs::create_dir_all(top.join("etc")).unwrap();
        std::fs::write(top.join("etc/new"), "top").unwrap();
        nix::sys::stat::mknod(
            &top.join("etc/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        std::fs::create_dir_all(top.join("var/cache")).unwrap();
        super::super::layer::set_opaque(&top.join("var/cache")).unwrap();
        for backend in [Backend::Copy, Backend::Overlay] {
            let container = dir.path().join(backend.name());
            let (rootfs, _) = backend
                .provision(&[base.clone(), top.clone()], &container, true)
                .unwrap();
            assert_eq!(
                std::fs::read_to_string(rootfs.join("etc/keep")).unwrap(),
                "base"
            );
            assert_eq!(
                std::fs::read_to_string(rootfs.join("etc/new")).unwrap(),
                "top"
            );
            assert!(!rootfs.join("etc/gone").exists(), "{backend:?}");
            assert!(!rootfs.join("var/cache/old").exists(), "{backend:?}");
            assert!(rootfs.join("var/cache").is_dir());
            // Writes stay the container's.
            std::fs::write(rootfs.join("etc/keep"), "mine").unwrap();
            assert_eq!(
                std::fs::read_to_string(base.join("etc/keep")).unwrap(),
                "base"
            );
            destroy(&container).unwrap();
            assert!(!container.exists());
        }
    }
}
