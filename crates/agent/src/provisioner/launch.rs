//! Preparing a command task's container for its image: the rootfs provisioned, the sandbox
//! given to the task's user, and the launch configuration `drover rootfs-launch` reads
//! (root-owned, beside the rootfs, never in the sandbox where the task could change it).

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use drover_wire::v1;

use super::Provisioner;
use crate::rootfs_launch::{BindMount, LaunchConfig};

/// A container to prepare for its image.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The container's id.
    pub id: &'a str,
    /// Its sandbox on the host.
    pub sandbox: &'a Path,
    /// The task's user (`None`: root).
    pub user: Option<&'a str>,
    /// Its `ContainerInfo` (for host-path volumes).
    pub container: &'a v1::ContainerInfo,
    /// The image.
    pub image: &'a v1::Image,
    /// `--secrets_dir`, for the image's docker config secret.
    pub secrets_dir: Option<&'a Path>,
    /// A nested container, whose namespace `drover rootfs-launch` mounts an overlay in
    /// itself (the parent's namespace predates any mount the agent makes now).
    pub nested: bool,
}

/// Provisions the request's image and writes its launch configuration; the image's `Env` goes
/// into `env` (the executor's, which the task inherits) under the agent's own `MESOS_*` and
/// `LIBPROCESS_*` variables. Returns the configuration's path.
pub async fn prepare(
    provisioner: &Provisioner,
    request: Request<'_>,
    env: &mut Vec<(String, String)>,
) -> Result<PathBuf, String> {
    let Request {
        id,
        sandbox,
        user,
        container,
        image,
        secrets_dir,
        nested,
    } = request;
    let volumes = bind_mounts(container)?;
    let pull_config = match image.docker.as_ref().and_then(|d| d.config.as_ref()) {
        Some(secret) => Some(
            crate::secrets::resolve_bytes(secrets_dir, "the image's docker config", secret)
                .and_then(|bytes| {
                    String::from_utf8(bytes)
                        .map_err(|_| "the image's docker config is not UTF-8 text".to_owned())
                })?,
        ),
        None => None,
    };
    let provisioned = provisioner
        .provision(id, image, pull_config.as_deref(), !nested)
        .await?;
    let (sandbox_c, user_c) = (sandbox.to_path_buf(), user.map(str::to_owned));
    let ids = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let ids = match user_c {
            Some(name) => {
                let info = crate::containerizer::lookup_user(&name)
                    .map_err(|e| format!("{:#}", anyhow::Error::new(e)))?;
                Some((info.uid, info.gid, info.groups))
            }
            None => None,
        };
        // The executor stays root (it must mount and pivot); the sandbox is the task's.
        std::fs::create_dir_all(&sandbox_c).map_err(|e| format!("{}: {e}", sandbox_c.display()))?;
        if let Some((uid, gid, _)) = &ids {
            for name in ["", "stdout", "stderr"] {
                let path = sandbox_c.join(name);
                if !name.is_empty() {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .mode(0o644)
                        .open(&path)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                }
                std::os::unix::fs::chown(&path, Some(*uid), Some(*gid))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        Ok(ids)
    })
    .await
    .map_err(|e| e.to_string())??;
    let config = LaunchConfig {
        rootfs: provisioned.rootfs.clone(),
        overlay: provisioned.overlay.clone(),
        sandbox: sandbox.to_path_buf(),
        working_dir: provisioned.config.working_dir.clone(),
        user: ids,
        entrypoint: provisioned.config.entrypoint.clone(),
        cmd: provisioned.config.cmd.clone(),
        volumes,
    };
    let path = provisioned.dir.join("launch.json");
    let text = serde_json::to_vec(&config).map_err(|e| e.to_string())?;
    let path_c = path.clone();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&path_c)?;
        file.write_all(&text)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("{}: {e}", path.display()))?;
    for pair in &provisioned.config.env {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        if name.is_empty() || name.starts_with("MESOS_") || name.starts_with("LIBPROCESS_") {
            continue;
        }
        env.retain(|(k, _)| k != name);
        env.push((name.to_owned(), value.to_owned()));
    }
    Ok(path)
}

/// The container's host-path volumes as bind mounts (secret volumes are written into the
/// sandbox by the agent, not mounted). A host path must be absolute and exist.
fn bind_mounts(container: &v1::ContainerInfo) -> Result<Vec<BindMount>, String> {
    let mut out = Vec::new();
    for volume in &container.volumes {
        if volume.source.is_some() {
            continue;
        }
        let Some(host) = volume.host_path.as_deref() else {
            continue;
        };
        if !host.starts_with('/') || !Path::new(host).exists() {
            return Err(format!(
                "volume host path '{host}' is not an absolute path that exists on the agent"
            ));
        }
        if volume.container_path.is_empty()
            || volume.container_path.split('/').any(|part| part == "..")
        {
            return Err(format!(
                "volume container path '{}' is empty or leaves the container",
                volume.container_path
            ));
        }
        out.push(BindMount {
            host: PathBuf::from(host),
            target: volume.container_path.clone(),
            read_only: volume.mode == v1::volume::Mode::Ro as i32,
        });
    }
    Ok(out)
}
