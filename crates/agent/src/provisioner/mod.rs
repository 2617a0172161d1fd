//! The image provisioner of the Mesos containerizer (UCR, `--image_providers=docker`): a
//! container whose `ContainerInfo.mesos.image` names a Docker image gets that image's root
//! filesystem, pulled from a registry without any Docker daemon ([`registry`]), kept in the
//! store ([`store`]: layers unpacked once and shared) and stacked per container ([`backend`]).
//! The container's directory is `<work_dir>/provisioner/containers/<id>/` (Mesos' layout);
//! destroying the container removes it, and a restarted agent removes those of containers it
//! no longer knows.

pub mod backend;
pub mod launch;
pub mod layer;
pub mod reference;
pub mod registry;
pub mod store;

use std::path::{Path, PathBuf};

use drover_wire::v1;

pub use backend::Backend;
pub use reference::{DOCKER_HUB, ImageRef};
pub use store::{ImageConfig, Store};

/// How the agent provisions images.
#[derive(Debug, Clone)]
pub struct ProvisionerConfig {
    /// `--docker_registry`: where names without a registry host are pulled from.
    pub default_registry: String,
    /// `--docker_store_dir`.
    pub store_dir: PathBuf,
    /// `--image_provisioner_backend`; `None` picks overlay where the kernel has it, else copy.
    pub backend: Option<Backend>,
    /// The text of `--docker_config`, for registry credentials.
    pub docker_config: Option<String>,
}

/// A container's image, ready.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The root filesystem.
    pub rootfs: PathBuf,
    /// The container's provisioner directory (its launch configuration goes there too).
    pub dir: PathBuf,
    /// An overlay left for `drover rootfs-launch` to mount (see [`Backend::provision`]).
    pub overlay: Option<String>,
    /// How the image runs.
    pub config: ImageConfig,
}

/// The provisioner.
#[derive(Debug)]
pub struct Provisioner {
    config: ProvisionerConfig,
    store: Store,
    containers: PathBuf,
}

impl Provisioner {
    /// A provisioner keeping containers' root filesystems under `work_dir/provisioner`.
    pub fn new(work_dir: &Path, config: ProvisionerConfig) -> std::io::Result<Self> {
        let store = Store::open(&config.store_dir, config.docker_config.clone())?;
        let containers = work_dir.join("provisioner").join("containers");
        std::fs::create_dir_all(&containers)?;
        Ok(Self {
            config,
            store,
            containers,
        })
    }

    /// The provisioner directory of container `id`.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers.join(id)
    }

    /// Pulls (or finds) `image` and makes container `id`'s root filesystem from it;
    /// `docker_config` (the image's own resolved `docker.config` secret, Marathon's
    /// `pullConfig`) gives the registry credentials instead of `--docker_config`.
    pub async fn provision(
        &self,
        id: &str,
        image: &v1::Image,
        docker_config: Option<&str>,
        mount: bool,
    ) -> Result<Provisioned, String> {
        let name = match (v1::image::Type::try_from(image.r#type), &image.docker) {
            (Ok(v1::image::Type::Docker), Some(docker)) => docker.name.clone(),
            _ => return Err("only Docker images are supported (image.type DOCKER)".into()),
        };
        let reference = ImageRef::parse(&name, &self.config.default_registry)?;
        let stored = self
            .store
            .get(&reference, image.cached.unwrap_or(true), docker_config)
            .await
            .map_err(|why| format!("Failed to provision image '{name}': {why}"))?;
        let layers: Vec<PathBuf> = stored
            .layers
            .iter()
            .map(|l| self.store.layer_rootfs(l))
            .collect();
        let dir = self.container_dir(id);
        let backend = self.config.backend;
        let dir_c = dir.clone();
        let (rootfs, overlay) = tokio::task::spawn_blocking(move || {
            let _ = backend::destroy(&dir_c);
            let backend_dir = dir_c.join("backend");
            match backend {
                Some(chosen) => chosen.provision(&layers, &backend_dir, mount),
                // The default falls back to copying where overlayfs cannot be mounted (e.g. a
                // work dir on overlayfs itself).
                None => Backend::detect()
                    .provision(&layers, &backend_dir, mount)
                    .or_else(|why| {
                        tracing::warn!(%why, "overlay rootfs failed; copying the layers instead");
                        let _ = backend::destroy(&backend_dir);
                        Backend::Copy.provision(&layers, &backend_dir, mount)
                    }),
            }
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|why| format!("Failed to provision image '{name}': {why}"))?;
        Ok(Provisioned {
            rootfs,
            dir,
            overlay,
            config: stored.config,
        })
    }

    /// Removes container `id`'s root filesystem, if it has one.
    pub async fn destroy(&self, id: &str) {
        let dir = self.container_dir(id);
        if !dir.exists() {
            return;
        }
        let result = tokio::task::spawn_blocking(move || {
            backend::destroy(&dir.join("backend"))?;
            std::fs::remove_dir_all(&dir)
        })
        .await;
        if let Ok(Err(error)) = result {
            tracing::warn!(container_id = id, %error, "removing the container's rootfs");
        }
    }

    /// After a restart: removes the root filesystems of containers not in `alive`.
    pub async fn recover(&self, alive: &[String]) {
        let Ok(entries) = std::fs::read_dir(&self.containers) else {
            return;
        };
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if !alive.contains(&id) {
                tracing::info!(container_id = %id, "removing an unknown container's rootfs");
                self.destroy(&id).await;
            }
        }
    }
}
